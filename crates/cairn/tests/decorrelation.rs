//! Differential test for decorrelated scalar subqueries: a query whose
//! subquery is linked by `inner.col = outer.col` (rewritten into one grouped
//! aggregation plus lookups) must return exactly what the same query returns
//! when the link is written `inner.col + 0 = outer.col` (which keeps the
//! per-row evaluation), on random data with NULLs and duplicates.

use cairn::{params, Database, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn rows(db: &Database, sql: &str) -> Vec<Vec<Value>> {
    let mut r = db
        .query(sql, params![])
        .and_then(|r| r.into_values())
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    r.sort();
    r
}

#[test]
fn grouped_subqueries_match_per_row_evaluation() {
    for seed in 0..20u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let db = Database::open_in_memory().expect("open");
        db.execute_batch(
            "CREATE TABLE u(id INTEGER PRIMARY KEY, k INTEGER, g TEXT);
             CREATE TABLE o(id INTEGER PRIMARY KEY, uid INTEGER, k INTEGER, amount REAL, tag TEXT);
             CREATE INDEX o_uid ON o(uid);",
        )
        .expect("schema");
        let maybe = |rng: &mut StdRng, v: i64| {
            if rng.random_bool(0.15) {
                Value::Null
            } else {
                Value::Integer(v)
            }
        };
        for id in 0..rng.random_range(0..40) {
            let kv = rng.random_range(0..5);
            let k = maybe(&mut rng, kv);
            let g = ["x", "y", "z"][rng.random_range(0..3)];
            db.execute(
                "INSERT INTO u VALUES ($1, $2, $3)",
                &[Value::Integer(id), k, Value::text(g)],
            )
            .expect("insert u");
        }
        for id in 0..rng.random_range(0..120) {
            let (uv, kv) = (rng.random_range(0..45), rng.random_range(0..5));
            let uid = maybe(&mut rng, uv);
            let k = maybe(&mut rng, kv);
            let amount = if rng.random_bool(0.1) {
                Value::Null
            } else {
                Value::Real(rng.random_range(0..1000) as f64 / 10.0)
            };
            let tag = ["a", "b"][rng.random_range(0..2)];
            db.execute(
                "INSERT INTO o VALUES ($1, $2, $3, $4, $5)",
                &[Value::Integer(id), uid, k, amount, Value::text(tag)],
            )
            .expect("insert o");
        }
        let shapes = [
            ("SELECT u.id, (SELECT count(*) FROM o WHERE {L} = u.id) FROM u", "o.uid"),
            ("SELECT u.id, (SELECT sum(amount) FROM o WHERE {L} = u.id) FROM u", "o.uid"),
            ("SELECT u.id, (SELECT avg(amount) FROM o WHERE {L} = u.k AND o.tag = 'a') FROM u", "o.k"),
            ("SELECT u.id, (SELECT count(DISTINCT o.k) + 1 FROM o WHERE {L} = u.id AND o.k = u.k) FROM u", "o.uid"),
            ("SELECT u.id, (SELECT max(amount) FROM o WHERE {L} = u.k) FROM u WHERE u.g <> 'z'", "o.k"),
            ("SELECT u.k, (SELECT count(*) FROM o WHERE {L} = u.k) FROM u GROUP BY u.k", "o.k"),
            ("SELECT u.id FROM u WHERE (SELECT count(*) FROM o WHERE {L} = u.id) > 1", "o.uid"),
        ];
        for (shape, col) in shapes {
            let grouped = shape.replace("{L}", col);
            let per_row = shape.replace("{L}", &format!("{col} + 0"));
            assert!(
                rows(&db, &format!("EXPLAIN {grouped}")).iter().any(|r| r
                    .iter()
                    .any(|v| v.to_text().is_some_and(|t| t.contains("grouped subquery")))),
                "seed {seed}: not rewritten: {grouped}"
            );
            assert_eq!(
                rows(&db, &grouped),
                rows(&db, &per_row),
                "seed {seed}: {grouped}"
            );
        }
    }
}
