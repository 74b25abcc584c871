//! `SET statement_timeout`: a statement that runs longer is stopped with
//! `ErrorKind::Interrupted` (message "canceling statement due to statement
//! timeout"), what it wrote is rolled back, an open transaction keeps its
//! earlier writes, and statements within the limit are unaffected.

use std::time::{Duration, Instant};

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

fn assert_timed_out(r: cairn::Result<u64>, started: Instant) {
    let e = r.expect_err("the statement should have timed out");
    assert_eq!(e.kind(), ErrorKind::Interrupted, "{e}");
    assert!(e.to_string().contains("statement timeout (150ms)"), "{e}");
    // Stopped near the limit, not after finishing (which takes minutes).
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn long_statements_stop_and_their_writes_are_undone() {
    let db = setup();
    db.execute("SET statement_timeout = '150ms'", params![])
        .expect("set");
    // A join, a recursive CTE and an UPDATE driven by a join all stop.
    for sql in [
        "SELECT count(*) FROM t a, t b, t c WHERE a.y + b.y + c.y = 1",
        "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r",
        "UPDATE t SET y = 1 WHERE x IN (SELECT a.x FROM t a, t b, t c WHERE a.y + b.y + c.y = 1)",
    ] {
        let started = Instant::now();
        assert_timed_out(db.execute(sql, params![]), started);
    }
    let changed = db
        .query_row("SELECT count(*) FROM t WHERE y <> 0", params![], |r| {
            r.get::<i64>(0)
        })
        .expect("count");
    assert_eq!(changed, 0);
    // A statement within the limit runs.
    let n = db
        .query_row("SELECT count(*) FROM t", params![], |r| r.get::<i64>(0))
        .expect("count");
    assert_eq!(n, ROWS);
}

#[test]
fn an_open_transaction_keeps_its_earlier_writes() {
    let db = setup();
    db.execute("SET statement_timeout = '150ms'", params![])
        .expect("set");
    let tx = db.transaction().expect("begin");
    tx.execute("UPDATE t SET y = 7 WHERE x = 1", params![])
        .expect("update");
    let started = Instant::now();
    assert_timed_out(
        tx.execute(
            "UPDATE t SET y = 9 WHERE x IN (SELECT a.x FROM t a, t b, t c WHERE a.y + b.y + c.y = 1)",
            params![],
        ),
        started,
    );
    tx.commit().expect("commit");
    let y = db
        .query_row("SELECT y FROM t WHERE x = 1", params![], |r| {
            r.get::<i64>(0)
        })
        .expect("y");
    assert_eq!(y, 7);
}

#[test]
fn zero_turns_it_off_and_bad_values_are_refused() {
    let db = setup();
    db.execute("SET statement_timeout = 1", params![])
        .expect("set");
    db.execute("SET statement_timeout = 0", params![])
        .expect("set 0");
    // Takes far longer than 1 ms, and is not stopped.
    let n = db
        .query_row(
            "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 200000) SELECT count(*) FROM r",
            params![],
            |r| r.get::<i64>(0),
        )
        .expect("count");
    assert_eq!(n, 200_000);
    for bad in ["'soon'", "'5 parsecs'", "-1", "'1e30s'"] {
        let e = db
            .execute(&format!("SET statement_timeout = {bad}"), params![])
            .expect_err(bad);
        assert!(
            e.to_string().contains("statement_timeout must be"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn set_local_lasts_for_the_transaction() {
    let db = setup();
    let tx = db.transaction().expect("begin");
    tx.execute("SET LOCAL statement_timeout = '150ms'", params![])
        .expect("set local");
    let started = Instant::now();
    assert_timed_out(
        tx.execute(
            "SELECT count(*) FROM t a, t b, t c WHERE a.y + b.y + c.y = 1",
            params![],
        ),
        started,
    );
    tx.commit().expect("commit");
    // After the transaction the session has no timeout again.
    let n = db
        .query_row(
            "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 300000) SELECT count(*) FROM r",
            params![],
            |r| r.get::<i64>(0),
        )
        .expect("count");
    assert_eq!(n, 300_000);
    let e = db
        .execute("SET LOCAL statement_timeout = '1s'", params![])
        .expect_err("no transaction");
    assert_eq!(e.kind(), ErrorKind::Transaction, "{e}");
}

/// A table of `n` 8-d vectors.
fn vectors(n: u32) -> Database {
    let db = Database::open_in_memory().expect("open");
    db.execute(
        "CREATE TABLE v(id INTEGER PRIMARY KEY, e VECTOR(8))",
        params![],
    )
    .expect("create");
    let tx = db.transaction().expect("begin");
    {
        let mut ins = tx.prepare("INSERT INTO v VALUES (?, ?)").expect("prepare");
        for i in 0..n {
            let e: Vec<f32> = (0..8).map(|d| ((i * 8 + d) as f32 * 0.37).sin()).collect();
            ins.execute(params![i as i64, e]).expect("insert");
        }
    }
    tx.commit().expect("commit");
    db
}

fn no_index(db: &Database) {
    let n: i64 = db
        .query_row(
            "SELECT count(*) FROM cairn_indexes WHERE table_name = 'v' AND kind = 'hnsw'",
            params![],
            |r| r.get(0),
        )
        .expect("indexes");
    assert_eq!(n, 0, "a stopped build leaves no index");
}

#[test]
fn a_vector_index_build_stops_at_the_timeout() {
    let db = vectors(20_000);
    db.execute("SET statement_timeout = '150ms'", params![])
        .expect("set");
    let started = Instant::now();
    assert_timed_out(
        db.execute("CREATE INDEX v_e ON v USING hnsw (e)", params![]),
        started,
    );
    no_index(&db);
    // Without the limit it builds.
    db.execute("SET statement_timeout = 0", params![])
        .expect("set");
    db.execute("CREATE INDEX v_e ON v USING hnsw (e)", params![])
        .expect("build");
}

#[test]
fn an_interrupt_stops_a_vector_index_build() {
    let db = vectors(5_000);
    // Interrupt as soon as the build tells it started.
    let handle = db.interrupt_handle();
    db.set_progress(Some(std::sync::Arc::new(move |p: &cairn::Progress| {
        if let cairn::Progress::BuildingIndex { done: 0, .. } = p {
            handle.interrupt();
        }
    })));
    let e = db
        .execute("CREATE INDEX v_e ON v USING hnsw (e)", params![])
        .expect_err("interrupted");
    assert_eq!(e.kind(), ErrorKind::Interrupted, "{e}");
    no_index(&db);
    db.set_progress(None);
    db.execute("CREATE INDEX v_e ON v USING hnsw (e)", params![])
        .expect("build after the interrupt");
}

#[test]
fn a_set_local_timeout_does_not_outlive_its_transaction() {
    let db = vectors(3_000);
    db.execute_batch("BEGIN; SET LOCAL statement_timeout = '1ms'; COMMIT")
        .expect("set local");
    // The DDL statement runs in a transaction of its own: the ended
    // transaction's limit is not in force.
    db.execute("CREATE INDEX v_e ON v USING hnsw (e)", params![])
        .expect("no limit now");
}
