//! `Rows` is a pull cursor: columns before the first row; a pipeline query
//! (scan, filters, projections, LIMIT/OFFSET) reads only as far as it is
//! pulled; results equal the fully computed ones; the cursor reads one
//! snapshot however the connection and others write meanwhile; errors and
//! interrupts surface at the pull that meets them.

use cairn::{params, Database, ErrorKind, Value};

const ROWS: i64 = 20_000;

/// `big(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT)` with `ROWS` rows.
fn big() -> Database {
    let db = Database::open_in_memory().expect("open");
    db.execute(
        "CREATE TABLE big (id INTEGER PRIMARY KEY, grp INTEGER, name TEXT)",
        params![],
    )
    .expect("create");
    let tx = db.transaction().expect("begin");
    let mut st = db
        .prepare("INSERT INTO big VALUES (?, ?, ?)")
        .expect("prepare");
    for i in 0..ROWS {
        st.execute(params![i, i % 10, format!("n{i}")])
            .expect("insert");
    }
    drop(st);
    tx.commit().expect("commit");
    db
}

#[test]
fn limit_one_reads_a_handful_of_rows() {
    let db = big();
    let mut rows = db
        .query("SELECT * FROM big LIMIT 1", params![])
        .expect("query");
    assert!(rows.is_streaming());
    assert_eq!(rows.rows_scanned(), Some(0), "nothing read before a pull");
    let first = rows.next().expect("next").map(|r| r.values().to_vec());
    assert!(first.is_some());
    let scanned = rows.rows_scanned().expect("streaming");
    assert!(scanned <= 16, "LIMIT 1 read {scanned} rows");
    assert!(rows.next().expect("next").is_none());

    // A filter reads until it has a batch (or the limit), not the table.
    let mut rows = db
        .query(
            "SELECT id FROM big WHERE grp = 3 LIMIT 2 OFFSET 1",
            params![],
        )
        .expect("query");
    let ids: Vec<i64> = std::iter::from_fn(|| {
        rows.next()
            .expect("next")
            .map(|r| r.get::<i64>(0).expect("id"))
    })
    .collect();
    assert_eq!(ids, [13, 23]);
    assert!(rows.rows_scanned().expect("streaming") <= 24);
}

#[test]
fn columns_come_before_the_first_row() {
    let db = big();
    for sql in [
        "SELECT id, name AS label FROM big WHERE grp = 99",
        "SELECT id, name AS label FROM big ORDER BY id LIMIT 0",
    ] {
        let rows = db.query(sql, params![]).expect("query");
        assert_eq!(rows.column_names(), ["id", "label"], "{sql}");
        assert_eq!(
            rows.columns()[0].data_type,
            Some(cairn::DataType::Integer),
            "{sql}"
        );
    }
}

#[test]
fn streamed_results_equal_computed_ones() {
    let db = big();
    let queries: &[(&str, &[Value])] = &[
        ("SELECT * FROM big", &[]),
        (
            "SELECT name, id * 2 FROM big WHERE grp IN (1, 4) AND id > ?",
            &[Value::Integer(500)],
        ),
        (
            "SELECT id FROM big WHERE name LIKE 'n1%' LIMIT 50 OFFSET 7",
            &[],
        ),
        (
            "SELECT id FROM big LIMIT ? OFFSET ?",
            &[Value::Integer(3), Value::Integer(19_998)],
        ),
        ("SELECT id FROM big LIMIT 5 OFFSET 30000", &[]),
        (
            "SELECT * FROM (SELECT id, grp FROM big LIMIT 100) WHERE grp = 2",
            &[],
        ),
        ("SELECT id + 1 FROM big WHERE id % 1000 = 0", &[]),
        (
            "SELECT id, name FROM big ORDER BY id LIMIT 20 OFFSET ?",
            &[Value::Integer(19_990)],
        ),
        ("SELECT id FROM big ORDER BY id DESC LIMIT 5 OFFSET 3", &[]),
        (
            "SELECT name FROM big WHERE id >= 100 AND id < 300 LIMIT 10 OFFSET 150",
            &[],
        ),
        (
            "SELECT id FROM big WHERE grp = 1 AND id > ? ORDER BY id",
            &[Value::Null],
        ),
    ];
    for (sql, params) in queries {
        let streamed = db.query(sql, params).expect("query");
        assert!(streamed.is_streaming(), "{sql} streams");
        let streamed = streamed.into_values().expect("rows");
        let computed = db.run(sql, params).expect("run").rows;
        assert_eq!(streamed, computed, "{sql}");
    }
    // Not a pipeline: computed in full, same API.
    let rows = db
        .query("SELECT grp, count(*) FROM big GROUP BY grp", params![])
        .expect("query");
    assert!(!rows.is_streaming());
    assert_eq!(rows.rows_scanned(), None);
    assert_eq!(rows.into_values().expect("rows").len(), 10);
}

#[test]
fn a_cursor_reads_one_snapshot() {
    let db = big();
    let other = db.connect();
    let mut rows = db.query("SELECT id FROM big", params![]).expect("query");
    let mut seen = 0i64;
    let mut sum = 0i64;
    while let Some(r) = rows.next().expect("next") {
        let id: i64 = r.get(0).expect("id");
        sum += id;
        seen += 1;
        if seen % 5000 == 1 {
            // The same connection and another one write meanwhile.
            db.execute("DELETE FROM big WHERE id = ?", params![ROWS - seen])
                .expect("delete");
            other
                .execute(
                    "INSERT INTO big VALUES (?, 0, 'late')",
                    params![ROWS + seen],
                )
                .expect("insert");
        }
    }
    assert_eq!(seen, ROWS);
    assert_eq!(sum, ROWS * (ROWS - 1) / 2);
}

#[test]
fn inside_a_transaction_a_cursor_sees_its_writes() {
    let db = big();
    db.execute("CREATE TABLE other (x INTEGER)", params![])
        .expect("create");
    db.execute("INSERT INTO other VALUES (1)", params![])
        .expect("insert");
    let tx = db.transaction().expect("begin");
    db.execute("DELETE FROM big WHERE id < 100", params![])
        .expect("delete");
    // big has this transaction's writes: computed in the transaction.
    let rows = db.query("SELECT count(*) FROM big", params![]).expect("q");
    assert_eq!(
        rows.into_values().expect("rows"),
        [[Value::Integer(ROWS - 100)]]
    );
    let rows = db
        .query("SELECT id FROM big WHERE id < 200", params![])
        .expect("q");
    assert!(!rows.is_streaming());
    assert_eq!(rows.into_values().expect("rows").len(), 100);
    // other has none: streamed at the transaction's snapshot.
    let other = db.connect();
    other
        .execute("INSERT INTO other VALUES (2)", params![])
        .expect("insert");
    let rows = db.query("SELECT x FROM other", params![]).expect("q");
    assert!(rows.is_streaming());
    assert_eq!(rows.into_values().expect("rows"), [[Value::Integer(1)]]);
    tx.rollback().expect("rollback");
}

#[test]
fn errors_and_interrupts_surface_at_the_pull() {
    let db = big();
    db.execute("INSERT INTO big VALUES (?, 0, 'min')", params![i64::MIN])
        .expect("insert");
    // abs(i64::MIN) overflows: the row that does it is pulled late.
    let mut rows = db
        .query("SELECT abs(id) FROM big", params![])
        .expect("query opens");
    let mut ok = 0;
    let err = loop {
        match rows.next() {
            Ok(Some(_)) => ok += 1,
            Ok(None) => panic!("no error after {ok} rows"),
            Err(e) => break e,
        }
    };
    assert_eq!(ok, ROWS);
    assert_ne!(err.kind(), ErrorKind::Internal, "{err}");

    let mut rows = db.query("SELECT id FROM big", params![]).expect("query");
    assert!(rows.next().expect("first row").is_some());
    db.interrupt_handle().interrupt();
    let err = loop {
        match rows.next() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("interrupt ignored"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::Interrupted);
    // The next statement starts with the flag lowered.
    assert_eq!(
        db.query_row("SELECT count(*) FROM big", params![], |r| r.get::<i64>(0))
            .expect("count"),
        ROWS + 1
    );
}

#[test]
fn rows_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<cairn::Rows>();
    let db = big();
    let rows = db
        .query("SELECT id FROM big WHERE id < 10", params![])
        .expect("query");
    let n = std::thread::spawn(move || rows.into_values().expect("rows").len())
        .join()
        .expect("thread");
    assert_eq!(n, 10);
}

/// Subqueries inside a pipeline stream too: uncorrelated ones (IN, scalar,
/// EXISTS) and correlated ones, with the same results as computed in full;
/// `LIMIT 1` still reads a handful of rows.
#[test]
fn pipelines_with_subqueries_stream() {
    let db = big();
    db.execute_batch(
        "CREATE TABLE pick(id INTEGER PRIMARY KEY, w INTEGER);
         INSERT INTO pick VALUES (3, 30), (17, 170), (19999, 1), (5000, 50);",
    )
    .expect("pick");
    let queries = [
        "SELECT id, name FROM big WHERE id IN (SELECT id FROM pick)",
        "SELECT id FROM big WHERE grp = (SELECT max(w) % 10 FROM pick) AND id < 200",
        "SELECT id, (SELECT w FROM pick WHERE pick.id = big.id) FROM big WHERE id < 40",
        // Decorrelated (grouped) subquery, switching to its grouped form
        // after a threshold of rows: the count survives from batch to batch.
        "SELECT id, (SELECT count(*) FROM pick WHERE pick.id = big.id) FROM big WHERE id < 3000",
        "SELECT id FROM big WHERE EXISTS (SELECT 1 FROM pick WHERE pick.id = big.id + 1)",
        "SELECT id FROM big WHERE id NOT IN (SELECT id FROM pick) LIMIT 5 OFFSET 2",
    ];
    for sql in queries {
        let streamed = db.query(sql, params![]).expect("query");
        assert!(streamed.is_streaming(), "{sql} streams");
        let streamed = streamed.into_values().expect("rows");
        let computed = db.run(sql, params![]).expect("run").rows;
        assert_eq!(streamed, computed, "{sql}");
        assert!(!computed.is_empty(), "{sql} finds rows");
    }
    let mut rows = db
        .query(
            "SELECT id FROM big WHERE id NOT IN (SELECT id FROM pick) LIMIT 1",
            params![],
        )
        .expect("query");
    assert!(rows.next().expect("next").is_some());
    assert!(rows.rows_scanned().expect("streaming") <= 16);
}

/// Inside a transaction that has written, a query with subqueries sees
/// those writes (it is computed in the transaction, not streamed from a
/// snapshot that lacks them).
#[test]
fn subqueries_see_the_transactions_own_writes() {
    let db = big();
    db.execute("CREATE TABLE pick(id INTEGER PRIMARY KEY)", params![])
        .expect("pick");
    let tx = db.transaction().expect("begin");
    tx.execute("INSERT INTO pick VALUES (7), (8)", params![])
        .expect("insert");
    let rows = tx
        .query(
            "SELECT id FROM big WHERE id IN (SELECT id FROM pick)",
            params![],
        )
        .expect("query")
        .into_values()
        .expect("rows");
    assert_eq!(rows, [[Value::Integer(7)], [Value::Integer(8)]]);
    tx.rollback().expect("rollback");
}
