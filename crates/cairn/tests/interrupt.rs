//! `Database::interrupt_handle`: another thread stops a running statement.
//! The statement fails with `ErrorKind::Interrupted`, what it wrote is
//! rolled back, an open transaction stays open with its earlier writes, the
//! connection goes on working, and an interrupt raised while nothing runs
//! does not hit the next statement.

use std::sync::mpsc;
use std::time::Duration;

use cairn::{params, Database, ErrorKind};

/// Rows in `t`; a three-way cross join of it never finishes in a test.
const ROWS: i64 = 2_000;

fn setup() -> Database {
    let db = Database::open_in_memory().expect("open");
    db.execute(
        "CREATE TABLE t(x INTEGER PRIMARY KEY, y INTEGER)",
        params![],
    )
    .expect("create");
    let tx = db.transaction().expect("begin");
    for x in 0..ROWS {
        tx.execute("INSERT INTO t VALUES (?, 0)", params![x])
            .expect("insert");
    }
    tx.commit().expect("commit");
    db
}

/// Runs `sql` on `db` in another thread, interrupts it after `after`, and
/// returns its result (or fails the test if it does not stop in time).
fn run_interrupted(
    db: Database,
    sql: &'static str,
    after: Duration,
) -> (Database, cairn::Result<u64>) {
    let handle = db.interrupt_handle();
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let r = db.execute(sql, params![]);
        let _ = done.send((db, r));
    });
    std::thread::sleep(after);
    handle.interrupt();
    result
        .recv_timeout(Duration::from_secs(30))
        .expect("the interrupted statement did not stop within 30 s")
}

#[test]
fn a_long_query_stops_and_the_connection_goes_on() {
    let db = setup();
    let (db, r) = run_interrupted(
        db,
        "SELECT count(*) FROM t a, t b, t c WHERE a.y + b.y + c.y > 0",
        Duration::from_millis(200),
    );
    assert_eq!(r.map_err(|e| e.kind()), Err(ErrorKind::Interrupted));
    let n: i64 = db
        .query_row("SELECT count(*) FROM t", params![], |r| r.get(0))
        .expect("count");
    assert_eq!(n, ROWS);
}

#[test]
fn an_interrupted_update_is_rolled_back_inside_its_transaction() {
    let db = setup();
    db.execute("BEGIN", params![]).expect("begin");
    db.execute("INSERT INTO t VALUES (-1, 7)", params![])
        .expect("insert before");
    // The subquery is a cross join the interrupt stops; by then the UPDATE
    // may have written nothing or something: either way none of it stays.
    let (db, r) = run_interrupted(
        db,
        "UPDATE t SET y = y + 1 WHERE x >= 0 OR x IN (SELECT a.x FROM t a, t b, t c WHERE a.y + b.y + c.y = 99)",
        Duration::from_millis(200),
    );
    assert_eq!(r.map_err(|e| e.kind()), Err(ErrorKind::Interrupted));
    assert!(db.in_transaction(), "the transaction stays open");
    let changed: i64 = db
        .query_row(
            "SELECT count(*) FROM t WHERE x >= 0 AND y <> 0",
            params![],
            |r| r.get(0),
        )
        .expect("changed");
    assert_eq!(changed, 0, "the interrupted UPDATE left rows changed");
    let before: i64 = db
        .query_row("SELECT y FROM t WHERE x = -1", params![], |r| r.get(0))
        .expect("earlier insert");
    assert_eq!(before, 7);
    db.execute("COMMIT", params![]).expect("commit");
    let n: i64 = db
        .query_row("SELECT count(*) FROM t", params![], |r| r.get(0))
        .expect("count");
    assert_eq!(n, ROWS + 1);
}

#[test]
fn a_runaway_recursive_cte_stops() {
    let db = setup();
    let (_, r) = run_interrupted(
        db,
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT count(*) FROM c",
        Duration::from_millis(100),
    );
    assert_eq!(r.map_err(|e| e.kind()), Err(ErrorKind::Interrupted));
}

#[test]
fn an_interrupt_while_idle_is_forgotten() {
    let db = setup();
    db.interrupt_handle().interrupt();
    let n: i64 = db
        .query_row("SELECT count(*) FROM t", params![], |r| r.get(0))
        .expect("the next statement runs");
    assert_eq!(n, ROWS);
}
