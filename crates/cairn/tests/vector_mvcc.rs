//! Nearest-neighbour search under concurrent writes: writers insert, update
//! (the vector, or only another column) and delete rows while readers hold
//! snapshots and run k-NN queries through the HNSW index. Every answer must
//! equal brute force over exactly the rows that snapshot sees (computed in
//! the same transaction with a plain scan). The table is small and
//! `ef_search` exceeds its size, so the graph search is exhaustive and the
//! comparison can be exact.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cairn::{params, Database, ErrorKind, Value};
use rand::{Rng, SeedableRng};

const DIMS: usize = 4;
const K: usize = 5;

fn random_vec(rng: &mut impl Rng) -> Vec<f32> {
    (0..DIMS).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn exact_top_k(db: &Database, q: &[f32]) -> Vec<i64> {
    let rows = db
        .query(
            "SELECT id, v <-> ? FROM t WHERE v IS NOT NULL",
            &[Value::from(q.to_vec())],
        )
        .and_then(|r| r.fetch_all())
        .expect("scan");
    let mut scored: Vec<(f64, i64)> = rows
        .map(|r| Ok((r.get::<f64>(1usize)?, r.get::<i64>(0usize)?)))
        .expect("rows");
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(K).map(|(_, id)| id).collect()
}

fn knn(db: &Database, q: &[f32]) -> Vec<i64> {
    db.query(
        &format!("SELECT id FROM t ORDER BY v <-> ? LIMIT {K}"),
        &[Value::from(q.to_vec())],
    )
    .and_then(|r| r.fetch_all())
    .expect("knn")
    .map(|r| r.get::<i64>(0usize))
    .expect("ids")
}

fn setup() -> Database {
    setup_with("")
}

/// The table with its index; `quantization` adds `, quantization = …`.
fn setup_with(quantization: &str) -> Database {
    let db = Database::open_in_memory().expect("open");
    db.execute(
        &format!("CREATE TABLE t(id INTEGER PRIMARY KEY, tag INTEGER, v VECTOR({DIMS}))"),
        params![],
    )
    .expect("create");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for id in 0..150i64 {
        db.execute(
            "INSERT INTO t VALUES (?, ?, ?)",
            &[
                Value::Integer(id),
                Value::Integer(id % 3),
                Value::from(random_vec(&mut rng)),
            ],
        )
        .expect("insert");
    }
    db.execute(
        &format!("CREATE INDEX t_v ON t USING hnsw (v) WITH (m = 8, ef_construction = 64, metric = 'l2'{quantization})"),
        params![],
    )
    .expect("index");
    db
}

#[test]
fn knn_at_fixed_snapshots_equals_brute_force_under_concurrent_writes() {
    knn_under_concurrent_writes(setup());
}

/// The same with SQ8 codes: the walk scores codes, re-rank and MVCC keep
/// every answer exact.
#[test]
fn sq8_knn_at_fixed_snapshots_equals_brute_force_under_concurrent_writes() {
    let db = setup_with(", quantization = 'sq8'");
    let stats = db.vector_index_stats("t_v").expect("stats");
    assert!(stats.code_bytes > 0, "{stats:?}");
    knn_under_concurrent_writes(db);
}

/// The same with one-bit RaBitQ codes (rerank 10: one bit per dimension
/// estimates coarsely in 8 dimensions).
#[test]
fn rabitq_knn_at_fixed_snapshots_equals_brute_force_under_concurrent_writes() {
    let db = setup_with(", quantization = 'rabitq', rerank = 10");
    let stats = db.vector_index_stats("t_v").expect("stats");
    assert!(stats.code_bytes > 0, "{stats:?}");
    knn_under_concurrent_writes(db);
}

fn knn_under_concurrent_writes(db: Database) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..2u64 {
        let conn = db.connect();
        let stop = stop.clone();
        writers.push(std::thread::spawn(move || {
            let mut rng = rand::rngs::StdRng::seed_from_u64(100 + w);
            let mut next_id = 1_000 * (w as i64 + 1);
            let mut commits = 0;
            while !stop.load(Ordering::Relaxed) && commits < 400 {
                let tx = conn.transaction().expect("begin");
                let mut ok = true;
                for _ in 0..rng.random_range(1..4) {
                    let id = rng.random_range(0..150i64);
                    let r = match rng.random_range(0..5) {
                        0 => {
                            next_id += 1;
                            tx.execute(
                                "INSERT INTO t VALUES (?, 0, ?)",
                                &[Value::Integer(next_id), Value::from(random_vec(&mut rng))],
                            )
                        }
                        1 => tx.execute(
                            "UPDATE t SET v = ? WHERE id = ?",
                            &[Value::from(random_vec(&mut rng)), Value::Integer(id)],
                        ),
                        2 => tx.execute("UPDATE t SET tag = tag + 1 WHERE id = ?", params![id]),
                        3 => tx.execute("UPDATE t SET v = NULL WHERE id = ?", params![id]),
                        _ => tx.execute("DELETE FROM t WHERE id = ?", params![id]),
                    };
                    if let Err(e) = r {
                        assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
                        ok = false;
                        break;
                    }
                }
                if ok {
                    match tx.commit() {
                        Ok(()) => commits += 1,
                        Err(e) => assert_eq!(e.kind(), ErrorKind::Conflict, "{e}"),
                    }
                }
            }
        }));
    }
    let mut readers = Vec::new();
    for r in 0..2u64 {
        let conn = db.connect();
        readers.push(std::thread::spawn(move || {
            conn.execute("SET hnsw.ef_search = 5000", params![])
                .expect("ef");
            let mut rng = rand::rngs::StdRng::seed_from_u64(900 + r);
            let mut checked = 0;
            for _ in 0..60 {
                let tx = conn.transaction().expect("begin");
                // Several queries at one snapshot, while writers commit.
                for _ in 0..5 {
                    let q = random_vec(&mut rng);
                    let got = knn(&tx, &q);
                    let want = exact_top_k(&tx, &q);
                    assert_eq!(got, want, "k-NN differs from brute force at one snapshot");
                    checked += 1;
                    std::thread::yield_now();
                }
                tx.commit().expect("read-only commit");
            }
            checked
        }));
    }
    let checked: usize = readers.into_iter().map(|h| h.join().expect("reader")).sum();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer");
    }
    assert_eq!(checked, 600);
    // And after everything settled.
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    db.execute("SET hnsw.ef_search = 5000", params![])
        .expect("ef");
    for _ in 0..50 {
        let q = random_vec(&mut rng);
        assert_eq!(knn(&db, &q), exact_top_k(&db, &q));
    }
}

#[test]
fn own_writes_and_rollback() {
    let db = setup();
    let q = vec![10.0f32; DIMS];
    let tx = db.transaction().expect("begin");
    tx.execute(
        "INSERT INTO t VALUES (5000, 0, ?)",
        &[Value::from(q.clone())],
    )
    .expect("insert");
    assert_eq!(knn(&tx, &q)[0], 5000);
    let other = db.connect();
    assert_ne!(knn(&other, &q)[0], 5000, "uncommitted row leaked");
    tx.rollback().expect("rollback");
    assert_ne!(knn(&db, &q)[0], 5000);
}

#[test]
fn nearest_api_matches_sql() {
    let db = setup();
    db.execute("SET hnsw.ef_search = 5000", params![])
        .expect("ef");
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    for _ in 0..20 {
        let q = random_vec(&mut rng);
        let api: Vec<i64> = db
            .nearest("t_v", &q, K)
            .expect("nearest")
            .iter()
            .map(|n| n.values[0].as_i64().expect("id"))
            .collect();
        assert_eq!(api, knn(&db, &q));
    }
    let err = db.nearest("t_v", &[1.0, 2.0], K).expect_err("dims");
    assert_eq!(err.kind(), ErrorKind::Vector);
    let err = db.nearest("t_v", &[f32::NAN; DIMS], K).expect_err("nan");
    assert_eq!(err.kind(), ErrorKind::Vector);
    let err = db.nearest("no_such", &q_zero(), K).expect_err("no index");
    assert_eq!(err.kind(), ErrorKind::NoSuchObject);
}

fn q_zero() -> Vec<f32> {
    vec![0.0; DIMS]
}

#[test]
fn filtered_knn_returns_k_whenever_k_rows_qualify() {
    let db = setup();
    // tag = 0 holds 50 rows; a filter keeping 3 of them must return 3.
    for (filter, expect) in [
        ("tag = 0", K),
        ("id < 3", 3),
        ("id < 0", 0),
        ("tag >= 0", K),
    ] {
        let rows = db
            .query(
                &format!("SELECT id FROM t WHERE {filter} ORDER BY v <-> ? LIMIT {K}"),
                &[Value::from(vec![0.5f32; DIMS])],
            )
            .and_then(|r| r.fetch_all())
            .expect("query");
        assert_eq!(rows.len(), expect, "{filter}");
    }
}

#[test]
fn compaction_drops_tombstones_and_keeps_answers() {
    let db = Database::open_in_memory().expect("open");
    db.execute(
        &format!("CREATE TABLE c(id INTEGER PRIMARY KEY, v VECTOR({DIMS}))"),
        params![],
    )
    .expect("create");
    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    let tx = db.transaction().expect("begin");
    for id in 0..3_000i64 {
        tx.execute(
            "INSERT INTO c VALUES (?, ?)",
            &[Value::Integer(id), Value::from(random_vec(&mut rng))],
        )
        .expect("insert");
    }
    tx.commit().expect("commit");
    db.execute(
        "CREATE INDEX c_v ON c USING hnsw (v) WITH (m = 8, ef_construction = 64, metric = 'l2', compact_ratio = 0.2)",
        params![],
    )
    .expect("index");
    // A reader whose snapshot predates the deletes must keep its answers
    // through the compaction.
    let old = db.connect();
    old.execute("SET hnsw.ef_search = 5000", params![])
        .expect("ef");
    let old_tx = old.transaction().expect("begin");
    let q = vec![0.25f32; DIMS];
    // Delete a quarter of the rows, in small transactions: the threshold is
    // crossed during these commits and a background compaction starts.
    for chunk in (0..3_000i64)
        .filter(|i| i % 4 == 0)
        .collect::<Vec<_>>()
        .chunks(50)
    {
        let tx = db.transaction().expect("begin");
        for id in chunk {
            tx.execute("DELETE FROM c WHERE id = ?", params![*id])
                .expect("delete");
        }
        tx.commit().expect("commit");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let st = db.vector_index_stats("c_v").expect("stats");
        if st.compactions >= 1 && !st.compacting {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no background compaction: {st:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let exact = |conn: &Database, q: &[f32]| -> Vec<i64> {
        let rows = conn
            .query("SELECT id, v <-> ? FROM c", &[Value::from(q.to_vec())])
            .and_then(|r| r.fetch_all())
            .expect("scan");
        let mut s: Vec<(f64, i64)> = rows
            .map(|r| Ok((r.get::<f64>(1usize)?, r.get::<i64>(0usize)?)))
            .expect("rows");
        s.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        s.into_iter().take(K).map(|(_, id)| id).collect()
    };
    let knn_c = |conn: &Database, q: &[f32]| -> Vec<i64> {
        conn.query(
            &format!("SELECT id FROM c ORDER BY v <-> ? LIMIT {K}"),
            &[Value::from(q.to_vec())],
        )
        .and_then(|r| r.fetch_all())
        .expect("knn")
        .map(|r| r.get::<i64>(0usize))
        .expect("ids")
    };
    // The old snapshot still sees the deleted rows.
    assert_eq!(knn_c(&old_tx, &q), exact(&old_tx, &q));
    old_tx.commit().expect("end old snapshot");
    // Explicit compaction: no tombstones left, one graph.
    db.compact_vector_indexes().expect("compact");
    let st = db.vector_index_stats("c_v").expect("stats");
    assert_eq!(st.tombstones, 0, "{st:?}");
    assert_eq!(st.nodes, 2_250, "{st:?}");
    assert_eq!(st.graphs, 1, "one compacted graph: {st:?}");
    db.execute("SET hnsw.ef_search = 5000", params![])
        .expect("ef");
    for _ in 0..30 {
        let q = random_vec(&mut rng);
        assert_eq!(knn_c(&db, &q), exact(&db, &q));
    }
}

#[test]
fn new_rows_are_searched_exactly_until_their_graph_is_built_in_the_background() {
    let db = setup();
    db.execute("SET hnsw.ef_search = 5000", params![])
        .expect("ef");
    let mut rng = rand::rngs::StdRng::seed_from_u64(33);
    let mut next = 10_000i64;
    for round in 0..12 {
        let tx = db.transaction().expect("begin");
        for _ in 0..400 {
            next += 1;
            tx.execute(
                "INSERT INTO t VALUES (?, 1, ?)",
                &[Value::Integer(next), Value::from(random_vec(&mut rng))],
            )
            .expect("insert");
        }
        tx.commit().expect("commit");
        // Answers are exact whatever is built, pending or merging.
        for _ in 0..3 {
            let q = random_vec(&mut rng);
            assert_eq!(knn(&db, &q), exact_top_k(&db, &q), "round {round}");
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let st = db.vector_index_stats("t_v").expect("stats");
        if st.pending < 1024 && !st.compacting {
            assert!(st.graphs >= 2 && st.graphs <= 9, "{st:?}");
            assert_eq!(st.nodes, 150 + 12 * 400, "{st:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "background build stuck: {st:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for _ in 0..20 {
        let q = random_vec(&mut rng);
        assert_eq!(knn(&db, &q), exact_top_k(&db, &q));
    }
}

#[test]
fn btree_filter_is_honoured_by_graph_walk_and_by_exact_path() {
    let db = Database::open_in_memory().expect("open");
    db.execute(
        &format!("CREATE TABLE b(id INTEGER PRIMARY KEY, cat INTEGER, v VECTOR({DIMS}))"),
        params![],
    )
    .expect("create");
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let tx = db.transaction().expect("begin");
    for id in 0..24_000i64 {
        tx.execute(
            "INSERT INTO b VALUES (?, ?, ?)",
            &[
                Value::Integer(id),
                Value::Integer(id % 1000),
                Value::from(random_vec(&mut rng)),
            ],
        )
        .expect("insert");
    }
    tx.commit().expect("commit");
    db.execute("CREATE INDEX b_cat ON b(cat)", params![])
        .expect("btree");
    db.execute(
        "CREATE INDEX b_v ON b USING hnsw (v) WITH (m = 4, ef_construction = 16, metric = 'l2')",
        params![],
    )
    .expect("hnsw");
    // cat >= 300 keeps ~70 % of the rows: the graph is walked, and it must
    // apply the range the B-tree access stands for. cat = 7 keeps 24 rows:
    // they are read through the B-tree and scored exactly.
    for (filter, check) in [("cat >= 300", 300i64), ("cat = 7", 7)] {
        for _ in 0..5 {
            let q = random_vec(&mut rng);
            let rows = db
                .query(
                    &format!("SELECT id, cat FROM b WHERE {filter} ORDER BY v <-> ? LIMIT {K}"),
                    &[Value::from(q.clone())],
                )
                .and_then(|r| r.fetch_all())
                .expect("query");
            assert_eq!(rows.len(), K, "{filter}");
            for r in rows.iter() {
                let cat: i64 = r.get(1usize).expect("cat");
                if check == 7 {
                    assert_eq!(cat, 7, "{filter}");
                } else {
                    assert!(cat >= check, "{filter}: got cat {cat}");
                }
            }
            if check == 7 {
                // Exact: equals brute force over the 24 rows.
                let all = db
                    .query(
                        "SELECT id, v <-> ? FROM b WHERE cat = 7",
                        &[Value::from(q.clone())],
                    )
                    .and_then(|r| r.fetch_all())
                    .expect("all");
                let mut s: Vec<(f64, i64)> = all
                    .map(|r| Ok((r.get::<f64>(1usize)?, r.get::<i64>(0usize)?)))
                    .expect("rows");
                s.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let want: Vec<i64> = s.into_iter().take(K).map(|(_, id)| id).collect();
                let got: Vec<i64> = rows.map(|r| r.get::<i64>(0usize)).expect("ids");
                assert_eq!(got, want);
            }
        }
    }
    let plan = db
        .query(
            "EXPLAIN SELECT id FROM b WHERE cat >= 300 ORDER BY v <-> '[0,0,0,0]' LIMIT 10",
            params![],
        )
        .and_then(|r| r.fetch_all())
        .expect("explain");
    let text: Vec<String> = plan.map(|r| r.get::<String>(0usize)).expect("text");
    assert!(
        text.iter().any(|l| l.contains("VectorSearch b using b_v")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|l| l.contains("filter in graph")),
        "{text:?}"
    );
}
