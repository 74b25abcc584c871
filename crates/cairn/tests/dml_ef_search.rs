//! `SET hnsw.ef_search` applies to the vector searches inside DML, not only
//! to SELECT: `INSERT … SELECT … ORDER BY v <-> q LIMIT k`, and `UPDATE` /
//! `DELETE … WHERE id IN (SELECT … ORDER BY v <-> q LIMIT k)`.
//!
//! The table is large enough that the default `ef_search` misses some true
//! neighbours (the test checks that it does, or it could not tell the
//! difference), and `ef_search` above the table size makes the graph search
//! exhaustive, so with the setting honoured every statement must touch
//! exactly the brute-force top k.

use cairn::{params, Database, Value};
use rand::{Rng, SeedableRng};

const DIMS: usize = 16;
const ROWS: i64 = 3_000;
const K: usize = 40;
const QUERIES: usize = 8;

fn random_vec(rng: &mut impl Rng) -> Vec<f32> {
    (0..DIMS).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn setup() -> Database {
    let db = Database::open_in_memory().expect("open");
    db.execute(
        &format!("CREATE TABLE t(id INTEGER PRIMARY KEY, tag INTEGER, v VECTOR({DIMS}))"),
        params![],
    )
    .expect("create");
    db.execute("CREATE TABLE picked(id INTEGER)", params![])
        .expect("create picked");
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let tx = db.transaction().expect("begin");
    for id in 0..ROWS {
        tx.execute(
            "INSERT INTO t VALUES (?, 0, ?)",
            &[Value::Integer(id), Value::from(random_vec(&mut rng))],
        )
        .expect("insert");
    }
    tx.commit().expect("commit");
    db.execute(
        "CREATE INDEX t_v ON t USING hnsw (v) WITH (m = 8, ef_construction = 24, metric = 'l2')",
        params![],
    )
    .expect("index");
    db
}

/// The brute-force top k ids, sorted by id.
fn exact(db: &Database, q: &[f32]) -> Vec<i64> {
    let mut scored: Vec<(f64, i64)> = db
        .query("SELECT id, v <-> ? FROM t", &[Value::from(q.to_vec())])
        .expect("scan")
        .map(|r| Ok((r.get::<f64>(1usize)?, r.get::<i64>(0usize)?)))
        .expect("rows");
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut ids: Vec<i64> = scored.into_iter().take(K).map(|(_, id)| id).collect();
    ids.sort_unstable();
    ids
}

fn ids(db: &Database, sql: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = db
        .query(sql, params![])
        .expect("ids")
        .map(|r| r.get::<i64>(0usize))
        .expect("ids");
    ids.sort_unstable();
    ids
}

fn knn_select(db: &Database, q: &[f32]) -> Vec<i64> {
    let mut ids: Vec<i64> = db
        .query(
            &format!("SELECT id FROM t ORDER BY v <-> ? LIMIT {K}"),
            &[Value::from(q.to_vec())],
        )
        .expect("knn")
        .map(|r| r.get::<i64>(0usize))
        .expect("ids");
    ids.sort_unstable();
    ids
}

fn queries() -> Vec<Vec<f32>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    (0..QUERIES).map(|_| random_vec(&mut rng)).collect()
}

#[test]
fn default_ef_search_is_not_exhaustive_here() {
    // Without this the other tests could pass with the setting ignored.
    let db = setup();
    let misses = queries()
        .iter()
        .filter(|q| knn_select(&db, q) != exact(&db, q))
        .count();
    assert!(
        misses > 0,
        "the default ef_search found the exact top {K} for every query; \
         make the table harder (more rows, smaller m) so the DML tests can tell"
    );
}

#[test]
fn insert_select_honours_ef_search() {
    let db = setup();
    db.execute("SET hnsw.ef_search = 5000", params![])
        .expect("ef");
    for q in queries() {
        assert_eq!(knn_select(&db, &q), exact(&db, &q), "SELECT itself");
        db.execute("DELETE FROM picked", params![]).expect("clear");
        db.execute(
            &format!("INSERT INTO picked SELECT id FROM t ORDER BY v <-> ? LIMIT {K}"),
            &[Value::from(q.clone())],
        )
        .expect("insert select");
        assert_eq!(ids(&db, "SELECT id FROM picked"), exact(&db, &q));
    }
}

#[test]
fn update_and_delete_with_knn_subquery_honour_ef_search() {
    let db = setup();
    db.execute("SET hnsw.ef_search = 5000", params![])
        .expect("ef");
    for (n, q) in queries().into_iter().enumerate() {
        let want = exact(&db, &q);
        db.execute("UPDATE t SET tag = 0", params![])
            .expect("reset");
        db.execute(
            &format!(
                "UPDATE t SET tag = 1 WHERE id IN (SELECT id FROM t ORDER BY v <-> ? LIMIT {K})"
            ),
            &[Value::from(q.clone())],
        )
        .expect("update");
        assert_eq!(
            ids(&db, "SELECT id FROM t WHERE tag = 1"),
            want,
            "query {n}"
        );
    }
    // SET LOCAL inside a transaction, then a DELETE through the index.
    let q = queries().remove(0);
    let want = exact(&db, &q);
    db.execute("SET hnsw.ef_search = 40", params![])
        .expect("ef back");
    let tx = db.transaction().expect("begin");
    tx.execute("SET LOCAL hnsw.ef_search = 5000", params![])
        .expect("local ef");
    let deleted = tx
        .execute(
            &format!("DELETE FROM t WHERE id IN (SELECT id FROM t ORDER BY v <-> ? LIMIT {K})"),
            &[Value::from(q.clone())],
        )
        .expect("delete");
    assert_eq!(deleted, K as u64);
    let other = db.connect();
    assert_eq!(
        ids(&other, "SELECT id FROM t").len(),
        ROWS as usize,
        "other connection unchanged"
    );
    tx.commit().expect("commit");
    let left = ids(&db, "SELECT id FROM t");
    assert!(want.iter().all(|id| left.binary_search(id).is_err()));
    assert_eq!(left.len(), ROWS as usize - K);
}
