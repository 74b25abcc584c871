//! The planner's statistics (`ANALYZE`) across a reopen: written by a
//! checkpoint and loaded with the table (RFC 0001 §4.7), so the plans they
//! lead to survive; a prepared statement plans again after `ANALYZE`.

use cairn::Database;

fn text_rows(db: &Database, sql: &str) -> Vec<String> {
    let rows = db
        .query(sql, &[])
        .expect("query")
        .fetch_all()
        .expect("rows");
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.get_value(i).map(|v| v.to_string()).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

fn explain(db: &Database, sql: &str) -> String {
    text_rows(db, &format!("EXPLAIN {sql}")).join("\n")
}

/// 3,000 rows, 99 % 'done' and 1 % 'open', indexed.
fn fill(db: &Database) {
    db.execute_batch(
        "CREATE TABLE tasks (id INTEGER PRIMARY KEY, status TEXT, owner INTEGER);
         CREATE INDEX tasks_status ON tasks (status);
         INSERT INTO tasks WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 3000)
           SELECT x, CASE WHEN x % 100 = 0 THEN 'open' ELSE 'done' END, x % 7 FROM r;",
    )
    .expect("fill");
}

const SKEWED: &str = "SELECT id FROM tasks WHERE status = 'done'";

#[test]
fn statistics_survive_a_checkpoint_and_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let (stats, plan) = {
        let db = Database::open(&path).expect("open");
        fill(&db);
        assert!(
            explain(&db, SKEWED).contains("IndexScan"),
            "no statistics yet"
        );
        db.execute_batch("ANALYZE; CHECKPOINT").expect("analyze");
        let plan = explain(&db, SKEWED);
        assert!(plan.contains("SeqScan"), "{plan}");
        (
            text_rows(&db, "SELECT * FROM cairn_stats ORDER BY column_name"),
            plan,
        )
    };
    assert_eq!(stats.len(), 3, "{stats:?}");
    let db = Database::open(&path).expect("reopen");
    assert_eq!(
        text_rows(&db, "SELECT * FROM cairn_stats ORDER BY column_name"),
        stats
    );
    assert_eq!(explain(&db, SKEWED), plan);
}

#[test]
fn a_prepared_statement_plans_again_after_analyze() {
    let db = Database::open_in_memory().expect("open");
    fill(&db);
    let mut st = db.prepare(&format!("EXPLAIN {SKEWED}")).expect("prepare");
    let before = st.query(&[]).expect("run").fetch_all().expect("rows");
    db.execute_batch("ANALYZE tasks").expect("analyze");
    let after = st.query(&[]).expect("run").fetch_all().expect("rows");
    let text = |rows: &cairn::RowSet| {
        rows.iter()
            .map(|r| r.get_value(0).map(|v| v.to_string()).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(text(&before).contains("IndexScan"), "{}", text(&before));
    assert!(text(&after).contains("SeqScan"), "{}", text(&after));
}
