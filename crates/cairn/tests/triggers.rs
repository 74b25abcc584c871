//! Triggers as catalog objects and their limits (docs/sql.md "Triggers",
//! RFC 0001 §4.6): a trigger comes back from WAL replay after a crash
//! (no checkpoint at close) and from a checkpoint, with the same state
//! root, and still fires; DROP TABLE takes its triggers with it, also
//! across a reopen; `.schema` text lists a table's triggers; nesting stops
//! at `TRIGGER_DEPTH_MAX` (100) with a `Limit` error that undoes the
//! statement.

use cairn::{params, Database, ErrorKind, OpenOptions};

const SCHEMA: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER); \
    CREATE TABLE audit (id INTEGER, v INTEGER); \
    CREATE TRIGGER t_audit AFTER INSERT ON t WHEN NEW.v > 0 \
    BEGIN INSERT INTO audit VALUES (NEW.id, NEW.v); END; \
    CREATE VIEW tv AS SELECT id, v FROM t; \
    CREATE TRIGGER tv_del INSTEAD OF DELETE ON tv BEGIN DELETE FROM t WHERE id = OLD.id; END;";

fn count(db: &Database, sql: &str) -> i64 {
    db.query_row(sql, params![], |r| r.get(0)).expect("count")
}

fn no_checkpoint() -> OpenOptions {
    OpenOptions {
        checkpoint_on_close: false,
        ..OpenOptions::default()
    }
}

#[test]
fn triggers_survive_wal_replay_and_checkpoints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let root = {
        let db = Database::open_with(&path, no_checkpoint()).expect("open");
        db.execute_batch(SCHEMA).expect("schema");
        db.execute("INSERT INTO t VALUES (1, 5), (2, -1)", params![])
            .expect("insert");
        assert_eq!(count(&db, "SELECT count(*) FROM audit"), 1);
        db.state_root()
        // Dropped without a checkpoint: the next open replays the log.
    };
    let db = Database::open_with(&path, no_checkpoint()).expect("replay");
    assert!(db.recovery().expect("on disk").records > 0);
    assert_eq!(db.state_root(), root, "the catalog root covers triggers");
    assert_eq!(count(&db, "SELECT count(*) FROM cairn_triggers"), 2);
    db.execute("INSERT INTO t VALUES (3, 7)", params![])
        .expect("insert");
    assert_eq!(count(&db, "SELECT count(*) FROM audit"), 2);
    db.execute("DELETE FROM tv WHERE id = 2", params![])
        .expect("delete through the view");
    assert_eq!(count(&db, "SELECT count(*) FROM t"), 2);
    let schema = db.schema_sql(Some("t")).expect("schema");
    assert!(
        schema
            .iter()
            .any(|s| s.starts_with("CREATE TRIGGER t_audit")),
        "{schema:?}"
    );
    db.checkpoint().expect("checkpoint");
    let root = db.state_root();
    drop(db);

    let db = Database::open(&path).expect("load the checkpoint");
    assert_eq!(db.recovery().expect("on disk").records, 0);
    assert_eq!(db.state_root(), root);
    let check: String = db
        .query_row("PRAGMA integrity_check", params![], |r| r.get(0))
        .expect("check");
    assert_eq!(check, "ok");
    db.execute("INSERT INTO t VALUES (4, 9)", params![])
        .expect("insert");
    assert_eq!(count(&db, "SELECT count(*) FROM audit"), 3);
    // DROP TABLE drops its trigger (and DROP VIEW the view's), in the log
    // and in the next checkpoint alike.
    db.execute_batch("DROP VIEW tv; DROP TABLE t; CREATE TABLE t (id INTEGER, v INTEGER);")
        .expect("drop");
    assert_eq!(count(&db, "SELECT count(*) FROM cairn_triggers"), 0);
    db.close().expect("close");
    let db = Database::open(&path).expect("reopen");
    db.execute("INSERT INTO t VALUES (5, 5)", params![])
        .expect("insert");
    assert_eq!(count(&db, "SELECT count(*) FROM audit"), 3);
    assert_eq!(count(&db, "SELECT count(*) FROM cairn_triggers"), 0);
}

/// A chain of `n` tables, each with an AFTER INSERT trigger that inserts
/// into the next: one insert into `c0` nests `n` trigger programs.
fn chain(db: &Database, n: usize) {
    for i in 0..=n {
        db.execute(&format!("CREATE TABLE c{i} (x INTEGER)"), params![])
            .expect("table");
    }
    for i in 0..n {
        let next = i + 1;
        db.execute(
            &format!(
                "CREATE TRIGGER c{i}_next AFTER INSERT ON c{i} \
                 BEGIN INSERT INTO c{next} VALUES (NEW.x + 1); END"
            ),
            params![],
        )
        .expect("trigger");
    }
}

#[test]
fn nesting_stops_at_the_depth_limit() {
    // The stack of a typical main thread (debug builds need about 2 MB here).
    let run = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| {
            let db = Database::open_in_memory().expect("db");
            chain(&db, 100);
            db.execute("INSERT INTO c0 VALUES (0)", params![])
                .expect("100 nested programs are allowed");
            assert_eq!(count(&db, "SELECT x FROM c100"), 100);

            let db = Database::open_in_memory().expect("db");
            chain(&db, 101);
            let err = db
                .execute("INSERT INTO c0 VALUES (0)", params![])
                .expect_err("101 nested programs are too many");
            assert_eq!(err.kind(), ErrorKind::Limit, "{err}");
            // The statement is undone as a whole.
            assert_eq!(count(&db, "SELECT count(*) FROM c0"), 0);
            assert_eq!(count(&db, "SELECT count(*) FROM c50"), 0);
        })
        .expect("spawn");
    run.join().expect("no panic");
}
