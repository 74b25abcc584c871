//! DDL inside a transaction (issue #13, "Transactional DDL"), through the
//! public API:
//!
//! - ROLLBACK takes back every kind of catalog change and leaves the state
//!   root exactly as it was; dropping the transaction does the same.
//! - While a transaction holds uncommitted DDL, other connections cannot
//!   commit writes to the tables it changed, run DDL or checkpoint (a
//!   `Transaction`-kind error they may retry); other tables go on.
//! - A committed DDL transaction is one WAL record: after a power cut it is
//!   all there (rows, schema, a vector index's logged graph, the same state
//!   root), and an uncommitted one left nothing.

use std::sync::Arc;

use cairn::fs::SimFs;
use cairn::{params, Database, ErrorKind, OpenOptions, Value};

fn rows(db: &Database, sql: &str) -> Vec<Vec<Value>> {
    let out = db.run(sql, params![]).expect(sql);
    out.rows.iter().map(|r| r.to_vec()).collect()
}

fn integrity_ok(db: &Database) {
    let ok: String = db
        .query_row("PRAGMA integrity_check", params![], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(ok, "ok");
}

fn base(db: &Database) {
    db.execute_batch(
        "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT, n INTEGER);
         CREATE INDEX a_n ON a (n);
         CREATE TABLE b (id INTEGER PRIMARY KEY, w INTEGER);
         INSERT INTO a VALUES (1, 'x', 10), (2, 'y', 20), (3, 'z', 30);
         INSERT INTO b VALUES (1, 100);",
    )
    .expect("base schema");
}

#[test]
fn rollback_leaves_the_state_root_as_it_was() {
    let db = Database::open_in_memory().expect("open");
    base(&db);
    let root = db.state_root();
    let dump = rows(&db, "SELECT * FROM a ORDER BY id");
    for end in ["ROLLBACK", "drop"] {
        let tx = db.transaction().expect("begin");
        tx.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, e VECTOR(2));
             INSERT INTO t VALUES (1, '[1,2]'), (2, '[3,4]');
             CREATE INDEX t_e ON t USING hnsw (e);
             ALTER TABLE a ADD COLUMN extra INTEGER DEFAULT 5;
             UPDATE a SET extra = 6 WHERE id = 1;
             CREATE UNIQUE INDEX a_v ON a (v);
             DROP INDEX a_n;
             CREATE VIEW big AS SELECT id FROM a WHERE n > 15;
             CREATE TRIGGER b_log AFTER UPDATE ON b BEGIN UPDATE a SET n = n + 1; END;
             UPDATE b SET w = 101;
             DROP TABLE b;",
        )
        .expect("ddl in a transaction");
        assert_eq!(
            rows(&tx, "SELECT count(*) FROM t"),
            vec![vec![Value::Integer(2)]]
        );
        match end {
            "ROLLBACK" => tx.rollback().expect("rollback"),
            _ => drop(tx),
        }
        assert_eq!(db.state_root(), root, "{end}: the state root moved");
        assert_eq!(rows(&db, "SELECT * FROM a ORDER BY id"), dump, "{end}");
        assert_eq!(
            rows(&db, "SELECT w FROM b"),
            vec![vec![Value::Integer(100)]]
        );
        assert_eq!(
            rows(&db, "SELECT id FROM a WHERE n = 20"),
            vec![vec![Value::Integer(2)]],
            "{end}: the dropped index is back and used"
        );
        for gone in ["SELECT * FROM t", "SELECT * FROM big"] {
            let e = db.run(gone, params![]).expect_err(gone);
            assert_eq!(e.kind(), ErrorKind::NoSuchObject, "{end}: {gone}");
        }
        integrity_ok(&db);
    }
}

#[test]
fn other_connections_wait_for_the_tables_an_open_transaction_changed() {
    let db = Database::open_in_memory().expect("open");
    base(&db);
    let other = db.connect();
    let tx = db.transaction().expect("begin");
    tx.execute("ALTER TABLE a ADD COLUMN extra INTEGER", params![])
        .expect("alter");
    tx.execute("CREATE TABLE fresh (id INTEGER PRIMARY KEY)", params![])
        .expect("create");
    for sql in [
        "INSERT INTO a (id, v, n) VALUES (9, 'q', 90)",
        "INSERT INTO fresh VALUES (1)",
        "CREATE TABLE c (id INTEGER)",
        "DROP TABLE b",
        "CREATE INDEX b_w ON b (w)",
    ] {
        let e = other.execute(sql, params![]).expect_err(sql);
        assert_eq!(e.kind(), ErrorKind::Transaction, "{sql}: {e}");
    }
    let e = db.checkpoint();
    assert!(e.is_ok(), "in memory a checkpoint is a no-op: {e:?}");
    // A table the transaction did not touch takes writes.
    other
        .execute("INSERT INTO b VALUES (2, 200)", params![])
        .expect("untouched table");
    // The other connection does not see the transaction's rows.
    tx.execute("INSERT INTO fresh VALUES (1)", params![])
        .expect("own insert");
    assert_eq!(
        rows(&other, "SELECT count(*) FROM fresh"),
        vec![vec![Value::Integer(0)]]
    );
    tx.commit().expect("commit");
    other
        .execute(
            "INSERT INTO a (id, v, n, extra) VALUES (9, 'q', 90, 1)",
            params![],
        )
        .expect("after the commit");
    assert_eq!(
        rows(&other, "SELECT count(*) FROM fresh"),
        vec![vec![Value::Integer(1)]]
    );
    integrity_ok(&db);
}

#[test]
fn a_committed_ddl_transaction_survives_a_power_cut_and_an_open_one_leaves_nothing() {
    let fs = SimFs::new();
    let options = |fs: SimFs| OpenOptions {
        fs: Arc::new(fs),
        ..OpenOptions::default()
    };
    let db = Database::open_with("/db", options(fs.clone())).expect("open");
    base(&db);
    let tx = db.transaction().expect("begin");
    tx.execute_batch(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, e VECTOR(3));
         INSERT INTO items VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0,0,1]');
         CREATE INDEX items_e ON items USING hnsw (e);
         ALTER TABLE a ADD COLUMN extra INTEGER DEFAULT 7;
         UPDATE a SET extra = 8 WHERE id = 3;
         DROP TABLE b;",
    )
    .expect("ddl");
    // A checkpoint must not write the uncommitted catalog.
    let e = db.checkpoint().expect_err("checkpoint during open DDL");
    assert_eq!(e.kind(), ErrorKind::Transaction, "{e}");
    tx.commit().expect("commit");
    let root = db.state_root();
    let a = rows(&db, "SELECT * FROM a ORDER BY id");
    let near = rows(
        &db,
        "SELECT id FROM items ORDER BY e <-> '[0.9,0.1,0]' LIMIT 2",
    );
    // Uncommitted when the power goes.
    let open = db.transaction().expect("begin");
    open.execute_batch(
        "CREATE TABLE gone (id INTEGER); INSERT INTO gone VALUES (1);
         DROP TABLE items;",
    )
    .expect("open ddl");
    for seed in 0..4 {
        let reopened = Database::open_with("/db", options(fs.crash_image(seed))).expect("reopen");
        let rec = reopened.recovery().expect("on disk");
        assert_eq!(rec.vector_indexes_rebuilt, 0, "seed {seed}: {rec:?}");
        assert_eq!(reopened.state_root(), root, "seed {seed}");
        assert_eq!(
            rows(&reopened, "SELECT * FROM a ORDER BY id"),
            a,
            "seed {seed}"
        );
        assert_eq!(
            rows(
                &reopened,
                "SELECT id FROM items ORDER BY e <-> '[0.9,0.1,0]' LIMIT 2"
            ),
            near
        );
        for gone in ["SELECT * FROM b", "SELECT * FROM gone"] {
            let e = reopened.run(gone, params![]).expect_err(gone);
            assert_eq!(e.kind(), ErrorKind::NoSuchObject, "seed {seed}: {gone}");
        }
        integrity_ok(&reopened);
    }
    drop(open);
    db.checkpoint().expect("checkpoint once it ended");
}
