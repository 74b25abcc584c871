//! A query and its proof run on one snapshot (issue 12): with writers
//! updating, without pause, the very rows a query returns,
//! `query_with_proof` always succeeds and every proof verifies against
//! the head it returns (in memory and on disk). In an explicit transaction
//! it is refused once the transaction has written, and otherwise proves at
//! the transaction's snapshot while that is the newest version. The
//! database's own root functions cannot run inside it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use cairn::fs::SimFs;
use cairn::{params, Database, ErrorKind, OpenOptions};
use cairn_merkle::CanonValue;

const ITEMS: i64 = 40;
const WRITERS: i64 = 2;
/// Proven queries per database (half filtered scans, half nearest
/// neighbours).
const QUERIES: usize = 300;

fn setup(db: &Database) {
    db.execute_batch(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, n INTEGER, v VECTOR(3));
         CREATE INDEX items_v ON items USING hnsw (v);",
    )
    .expect("schema");
    for id in 0..ITEMS {
        db.execute(
            "INSERT INTO items VALUES ($1, 0, $2)",
            params![id, format!("[{id}, 1, 0]")],
        )
        .expect("insert");
    }
}

struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Checks one proven query: the proof verifies against the returned
/// head's state root, and each proven row is the row returned (its id and
/// counter).
fn check(db: &Database, sql: &str, knn: bool) -> u64 {
    let p = db
        .query_with_proof(sql, params!["[3, 1, 0]"])
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let proven = p
        .proof
        .verify(&p.head.state_root)
        .unwrap_or_else(|e| panic!("{sql} at {:?}: {e:?}", p.head));
    assert_eq!(proven.len(), p.rows.len());
    assert!(!proven.is_empty());
    for (r, stored) in p.rows.iter().zip(&proven) {
        let id: i64 = r.get(0).expect("id");
        assert_eq!(stored[0], CanonValue::Integer(id));
        if !knn {
            let n: i64 = r.get(1).expect("n");
            assert_eq!(stored[1], CanonValue::Integer(n));
        }
    }
    assert_eq!(p.proof.order.is_some(), knn);
    assert!(p.head.version <= db.head().version);
    p.head.version
}

/// `WRITERS` connections bump every row's counter and move its vector, in
/// one commit per writer per round and without pause, while this one runs
/// `QUERIES` proven queries over those rows.
fn proven_queries_under_updates(db: &Database) {
    setup(db);
    let stop = AtomicBool::new(false);
    let commits = AtomicU64::new(0);
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let (conn, stop, commits) = (db.connect(), &stop, &commits);
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    conn.execute(
                        "UPDATE items SET n = n + 1, v = '[' || (id + n % 3) || ', 1, 0]' \
                         WHERE id % $1 = $2",
                        params![WRITERS, w],
                    )
                    .expect("disjoint rows: no conflict");
                    commits.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let _stop = StopOnDrop(&stop);
        let mut versions = BTreeSet::new();
        for i in 0..QUERIES {
            let version = if i % 2 == 0 {
                check(
                    db,
                    "SELECT id, n FROM items WHERE n >= 0 ORDER BY id LIMIT 10",
                    false,
                )
            } else {
                check(db, "SELECT id FROM items ORDER BY v <-> $1 LIMIT 5", true)
            };
            versions.insert(version);
        }
        assert!(
            versions.len() > 1,
            "the writers committed between the queries ({} commits)",
            commits.load(Ordering::Relaxed)
        );
    });
}

/// A database on a simulated disk (WAL and checkpoints, no real files).
fn sim_disk_db() -> Database {
    Database::open_with(
        "/db",
        OpenOptions {
            fs: Arc::new(SimFs::new()),
            ..OpenOptions::default()
        },
    )
    .expect("open")
}

#[test]
fn proven_queries_always_verify_under_continuous_updates_in_memory() {
    proven_queries_under_updates(&Database::open_in_memory().expect("db"));
}

#[test]
fn proven_queries_always_verify_under_continuous_updates_on_disk() {
    proven_queries_under_updates(&sim_disk_db());
}

#[test]
fn in_a_transaction_proofs_need_no_writes_and_the_newest_snapshot() {
    let db = Database::open_in_memory().expect("db");
    setup(&db);
    let other = db.connect();
    let sql = "SELECT id, n FROM items WHERE id < 3";

    // Uncommitted writes: no version holds them.
    db.execute("BEGIN", params![]).expect("begin");
    db.execute("UPDATE items SET n = 7 WHERE id = 1", params![])
        .expect("update");
    let err = db.query_with_proof(sql, params![]).err().expect("writes");
    assert_eq!(err.kind(), ErrorKind::Transaction, "{err}");
    // The transaction is still open and still holds its write.
    let n: i64 = db
        .query_row("SELECT n FROM items WHERE id = 1", params![], |r| r.get(0))
        .expect("own write");
    assert_eq!(n, 7);
    db.execute("ROLLBACK", params![]).expect("rollback");

    // Read-only, at the newest version: proven at its snapshot.
    db.execute("BEGIN", params![]).expect("begin");
    let p = db.query_with_proof(sql, params![]).expect("read-only");
    assert_eq!(p.head, db.head());
    assert_eq!(p.proof.verify(&p.head.state_root).expect("valid").len(), 3);

    // Another connection commits: the snapshot is no longer the newest.
    other
        .execute("UPDATE items SET n = 1 WHERE id = 2", params![])
        .expect("other commit");
    let err = db.query_with_proof(sql, params![]).err().expect("stale");
    assert_eq!(err.kind(), ErrorKind::Transaction, "{err}");
    // The transaction still reads its snapshot.
    let n: i64 = db
        .query_row("SELECT n FROM items WHERE id = 2", params![], |r| r.get(0))
        .expect("snapshot read");
    assert_eq!(n, 0);
    db.execute("COMMIT", params![]).expect("commit");

    // Outside a transaction: the newest version again.
    let p = db.query_with_proof(sql, params![]).expect("outside");
    assert_eq!(p.head, db.head());
    p.proof.verify(&p.head.state_root).expect("valid");
}

#[test]
fn root_functions_cannot_run_inside_a_proven_query() {
    let db = Database::open_in_memory().expect("db");
    setup(&db);
    for sql in [
        "SELECT id, cairn_version() FROM items",
        "SELECT id FROM items WHERE cairn_state_root() IS NOT NULL",
        "SELECT id, cairn_prove('items', id) FROM items WHERE id = 1",
    ] {
        let err = db.query_with_proof(sql, params![]).err().expect(sql);
        assert_eq!(err.kind(), ErrorKind::Plan, "{sql}: {err}");
    }
    // Outside a proven query they work as before, and the database is
    // usable after the refusals.
    let v: i64 = db
        .query_row("SELECT cairn_version()", params![], |r| r.get(0))
        .expect("version");
    assert_eq!(v as u64, db.head().version);
    db.query_with_proof("SELECT id FROM items WHERE id = 1", params![])
        .expect("plain proven query");
}

/// A row proof's head is a published version: right after `prove_row`
/// returns, `head()` is at least it (the proof never runs ahead of what a
/// snapshot can see), and the proof verifies against its head's root.
fn row_proofs_under_updates(db: &Database) {
    setup(db);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let (conn, stop) = (db.connect(), &stop);
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    conn.execute(
                        "UPDATE items SET n = n + 1 WHERE id % $1 = $2",
                        params![WRITERS, w],
                    )
                    .expect("disjoint rows: no conflict");
                }
            });
        }
        let _stop = StopOnDrop(&stop);
        for i in 0..QUERIES {
            let key = [cairn::Value::Integer(i as i64 % ITEMS)];
            let (proof, head) = db.prove_row("items", &key).expect("prove_row");
            let now = db.head();
            assert!(
                head.version <= now.version,
                "prove_row's head {head:?} is ahead of the published head {now:?}"
            );
            proof.verify(&head.state_root).expect("row proof verifies");
        }
    });
}

#[test]
fn row_proofs_never_run_ahead_of_the_published_head_in_memory() {
    row_proofs_under_updates(&Database::open_in_memory().expect("db"));
}

#[test]
fn row_proofs_never_run_ahead_of_the_published_head_on_disk() {
    row_proofs_under_updates(&sim_disk_db());
}
