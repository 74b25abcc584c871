//! EXPLAIN ANALYZE: runs the query and shows, per operator, the rows it
//! produced (and how many times it ran), then the total. It never writes.

use cairn::{params, Database};

fn setup() -> Database {
    let db = Database::open_in_memory().expect("open");
    db.execute_batch(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT);
         CREATE INDEX t_a ON t(a);
         INSERT INTO t WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 1000)
           SELECT x, x % 100, 'b' || x FROM r;
         CREATE TABLE u(id INTEGER PRIMARY KEY, t_id INTEGER);
         INSERT INTO u VALUES (1, 1), (2, 1), (3, 2), (4, 500);",
    )
    .expect("setup");
    db
}

fn explain_analyze(db: &Database, sql: &str) -> Vec<String> {
    let rows = db
        .query(&format!("EXPLAIN ANALYZE {sql}"), params![])
        .expect("explain analyze")
        .fetch_all()
        .expect("rows");
    rows.iter()
        .map(|r| r.get::<String>(0).expect("text"))
        .collect()
}

#[test]
fn every_operator_shows_its_actual_rows() {
    let db = setup();
    let lines = explain_analyze(
        &db,
        "SELECT a, count(*) FROM t WHERE b LIKE 'b1%' GROUP BY a ORDER BY 2 DESC LIMIT 3",
    );
    let text = lines.join("\n");
    let expect = [
        ("Limit 3", "actual rows=3"),
        ("Sort", "actual rows=3"),
        ("Aggregate", "actual rows=100"),
        // 1, 10-19, 100-199, 1000: 112 rows start with "b1".
        ("SeqScan t", "actual rows=112"),
    ];
    for (op, rows) in expect {
        let line = lines
            .iter()
            .find(|l| l.trim_start().starts_with(op))
            .unwrap_or_else(|| panic!("no {op} line in\n{text}"));
        assert!(line.contains(&format!("({rows} time=")), "{line}\n{text}");
        assert!(line.contains(" ms, est rows="), "{line}\n{text}");
    }
    let last = lines.last().expect("lines");
    assert!(last.starts_with("Returned 3 rows in "), "{text}");
}

#[test]
fn a_limit_shows_the_scan_stopping_early_and_joins_count_loops() {
    let db = setup();
    let lines = explain_analyze(&db, "SELECT * FROM t ORDER BY a LIMIT 2");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("IndexOrderScan t using t_a (actual rows=2 time=")),
        "{lines:?}"
    );
    let lines = explain_analyze(
        &db,
        "SELECT u.id, t.b FROM u JOIN t ON u.t_id = t.id WHERE u.id > 1",
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("IndexJoin") && l.contains("(actual rows=3 time=")),
        "{lines:?}"
    );
}

/// Each operator's time is its own (inputs and consumer excluded), so the
/// times add up to no more than the whole run.
#[test]
fn operator_times_add_up_to_at_most_the_total() {
    let db = setup();
    let lines = explain_analyze(
        &db,
        "SELECT a, count(*) FROM t WHERE b LIKE 'b1%' GROUP BY a ORDER BY 2 DESC LIMIT 3",
    );
    let ms = |l: &str, from: &str| -> f64 {
        let at = l.find(from).expect("field") + from.len();
        let rest = &l[at..];
        let end = rest.find(' ').unwrap_or(rest.len());
        rest[..end].parse().expect("number")
    };
    let ops: f64 = lines
        .iter()
        .filter(|l| l.contains(" time="))
        .map(|l| ms(l, " time="))
        .sum();
    let last = lines.last().expect("lines");
    let total = ms(last, " rows in ");
    assert!(
        ops > 0.0 && ops <= total + 0.01,
        "{ops} ms of {total} ms\n{lines:?}"
    );
}

#[test]
fn writes_are_refused_and_nothing_changes() {
    let db = setup();
    let e = db
        .execute("EXPLAIN ANALYZE DELETE FROM t", params![])
        .expect_err("write");
    assert!(
        e.to_string()
            .contains("EXPLAIN ANALYZE of INSERT, UPDATE or DELETE"),
        "{e}"
    );
    let n = db
        .query_row("SELECT count(*) FROM t", params![], |r| r.get::<i64>(0))
        .expect("count");
    assert_eq!(n, 1000);
}
