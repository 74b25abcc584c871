//! HNSW against a brute-force model: recall of `build` (2-thread pool) and
//! of sequential `insert` for every metric, filtered search, determinism,
//! edge cases, and a property test that nothing panics on small random
//! inputs (NaN and infinities included).

use cairn_vector::hnsw::{
    level_for_key, Graph, HnswError, HnswParams, Metric, Neighbor, SearchScratch, M_MAX,
};
use proptest::prelude::*;

mod common;
use common::{brute_force, random_vectors};

const METRICS: [Metric; 3] = [Metric::L2, Metric::Cosine, Metric::InnerProduct];

fn params(metric: Metric) -> HnswParams {
    HnswParams {
        m: 16,
        ef_construction: 64,
        metric,
    }
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

fn build(metric: Metric, n: usize, dims: usize, threads: usize) -> (Graph, Vec<f32>) {
    let data = random_vectors(7, n, dims);
    let keys = (0..n as u64).map(|i| i * 3 + 1).collect();
    let pool = pool(threads);
    let graph = Graph::build(params(metric), dims, keys, data.clone(), Some(&pool)).expect("build");
    (graph, data)
}

fn insert_all(metric: Metric, n: usize, dims: usize) -> (Graph, Vec<f32>) {
    let data = random_vectors(7, n, dims);
    let mut graph = Graph::new(params(metric), dims).expect("new");
    for (i, v) in data.chunks_exact(dims).enumerate() {
        let node = graph.insert(i as u64 * 3 + 1, v).expect("insert");
        assert_eq!(node as usize, i);
    }
    (graph, data)
}

/// Mean recall@k over `queries`, checking every result set on the way.
fn recall(
    graph: &Graph,
    queries: &[f32],
    k: usize,
    ef: usize,
    accept: impl Fn(u32) -> bool + Copy,
) -> f64 {
    let mut scratch = SearchScratch::new();
    let mut hits = 0usize;
    let mut wanted = 0usize;
    for q in queries.chunks_exact(graph.dims()) {
        let found = graph.search(q, k, ef, &mut |n| accept(n), &mut scratch);
        check_result(graph, q, k, &found, accept);
        let exact = brute_force(graph, q, k, accept);
        wanted += exact.len();
        hits += found.iter().filter(|nb| exact.contains(&nb.node)).count();
    }
    hits as f64 / wanted.max(1) as f64
}

/// Sorted by (distance, node), distinct, accepted, at most k, distances
/// right.
fn check_result(
    graph: &Graph,
    query: &[f32],
    k: usize,
    found: &[Neighbor],
    accept: impl Fn(u32) -> bool,
) {
    assert!(found.len() <= k);
    let q = graph.prepare_query(query);
    for w in found.windows(2) {
        assert!(
            w[0].distance
                .total_cmp(&w[1].distance)
                .then(w[0].node.cmp(&w[1].node))
                == std::cmp::Ordering::Less,
            "unsorted or duplicate: {w:?}"
        );
    }
    for nb in found {
        assert!(accept(nb.node), "rejected node {} returned", nb.node);
        assert_eq!(nb.distance.to_bits(), graph.distance(&q, nb.node).to_bits());
    }
}

#[test]
fn build_recall_every_metric() {
    for metric in METRICS {
        let (graph, _) = build(metric, 2000, 32, 2);
        assert_eq!(graph.len(), 2000);
        let queries = random_vectors(99, 100, 32);
        let r = recall(&graph, &queries, 10, 64, |_| true);
        assert!(r >= 0.95, "{metric:?}: recall@10 {r}");
    }
}

#[test]
fn insert_recall_every_metric() {
    for metric in METRICS {
        let (graph, _) = insert_all(metric, 2000, 16);
        let queries = random_vectors(98, 100, 16);
        let r = recall(&graph, &queries, 10, 64, |_| true);
        assert!(r >= 0.95, "{metric:?}: recall@10 {r}");
    }
}

#[test]
fn keys_vectors_and_distances() {
    let (graph, data) = build(Metric::Cosine, 500, 8, 2);
    for node in [0u32, 17, 499] {
        assert_eq!(graph.key(node), u64::from(node) * 3 + 1);
        let stored = graph.vector(node);
        let original = &data[node as usize * 8..node as usize * 8 + 8];
        let norm = original
            .iter()
            .map(|x| f64::from(*x).powi(2))
            .sum::<f64>()
            .sqrt();
        for (s, o) in stored.iter().zip(original) {
            assert!((f64::from(*s) - f64::from(*o) / norm).abs() < 1e-5);
        }
        // A stored vector is its own nearest neighbour at distance ~0.
        let q = graph.prepare_query(original);
        assert!(graph.distance(&q, node).abs() < 1e-5);
    }
    assert_eq!(graph.key(500), u64::MAX);
    assert!(graph.vector(500).is_empty());
    assert!(graph.distance(&[0.0; 8], 500).is_nan());
    assert!(graph.distance(&[0.0; 7], 0).is_nan());
    assert!(graph.memory_bytes() >= 500 * (8 * 4 + 8 + 33 * 4));
}

#[test]
fn level_is_a_function_of_the_key() {
    let mut counts = [0usize; 4];
    for key in 0..100_000u64 {
        let level = level_for_key(key, 16);
        assert_eq!(level, level_for_key(key, 16));
        counts[usize::from(level.min(3))] += 1;
    }
    // P(level >= 1) = 1/16.
    let above = 100_000 - counts[0];
    assert!((5_500..7_000).contains(&above), "{counts:?}");
}

#[test]
fn filtered_search_returns_only_accepted_nodes() {
    let (graph, _) = build(Metric::L2, 2000, 16, 2);
    let queries = random_vectors(97, 50, 16);
    let even = recall(&graph, &queries, 10, 64, |n| n % 2 == 0);
    assert!(even >= 0.95, "even nodes: recall@10 {even}");
    let one_percent = recall(&graph, &queries, 10, 64, |n| n % 100 == 7);
    assert!(one_percent >= 0.9, "1% filter: recall@10 {one_percent}");
    let none = recall(&graph, &queries, 10, 64, |_| false);
    assert_eq!(none, 0.0);
    let mut scratch = SearchScratch::new();
    assert!(graph
        .search(&queries[..16], 10, 64, &mut |_| false, &mut scratch)
        .is_empty());
}

#[test]
fn single_thread_build_equals_sequential_insert_and_is_repeatable() {
    let n = 800;
    let dims = 12;
    let data = random_vectors(5, n, dims);
    let keys: Vec<u64> = (0..n as u64).map(|i| i.wrapping_mul(0x9E37_79B9)).collect();
    let p = params(Metric::Cosine);
    let a = Graph::build(p, dims, keys.clone(), data.clone(), None).expect("build");
    let b = Graph::build(p, dims, keys.clone(), data.clone(), Some(&pool(1))).expect("build");
    let mut c = Graph::new(p, dims).expect("new");
    for (k, v) in keys.iter().zip(data.chunks_exact(dims)) {
        c.insert(*k, v).expect("insert");
    }
    assert_eq!(a.entry_point(), c.entry_point());
    for node in 0..n as u32 {
        for level in 0..=usize::from(a.level(node)) {
            let na: Vec<u32> = a.neighbours(node, level).collect();
            assert_eq!(na, b.neighbours(node, level).collect::<Vec<_>>());
            assert_eq!(na, c.neighbours(node, level).collect::<Vec<_>>());
        }
    }
    let queries = random_vectors(6, 20, dims);
    let mut s1 = SearchScratch::new();
    let mut s2 = SearchScratch::new();
    for q in queries.chunks_exact(dims) {
        let r1 = a.search(q, 10, 32, &mut |_| true, &mut s1);
        let r2 = c.search(q, 10, 32, &mut |_| true, &mut s2);
        let r3 = a.search(q, 10, 32, &mut |_| true, &mut s2);
        assert_eq!(r1, r2);
        assert_eq!(r1, r3);
    }
}

#[test]
fn parallel_build_is_well_formed() {
    let (graph, _) = build(Metric::L2, 2000, 8, 2);
    let m = graph.params().m;
    for node in 0..graph.len() as u32 {
        for level in 0..=usize::from(graph.level(node)) {
            let list: Vec<u32> = graph.neighbours(node, level).collect();
            let cap = if level == 0 { 2 * m } else { m };
            assert!(list.len() <= cap);
            assert!(!list.contains(&node), "self link at {node}");
            let mut sorted = list.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len(), "duplicate link at {node}");
            assert!(list.iter().all(|&x| (x as usize) < graph.len()));
            assert!(list.iter().all(|&x| graph.level(x) as usize >= level));
        }
        assert!(
            graph.neighbours(node, 0).next().is_some(),
            "isolated {node}"
        );
    }
    let (entry, top) = graph.entry_point().expect("entry");
    assert_eq!(graph.level(entry), top);
    assert!((0..graph.len() as u32).all(|n| graph.level(n) <= top));
}

#[test]
fn edge_cases() {
    let mut scratch = SearchScratch::new();
    let p = HnswParams::default();
    assert_eq!(p.m, 16);
    assert_eq!(p.ef_construction, 200);
    assert_eq!(p.metric, Metric::Cosine);

    let mut empty = Graph::new(p, 4).expect("new");
    assert!(empty.is_empty());
    assert_eq!(empty.entry_point(), None);
    assert!(empty
        .search(&[1.0; 4], 5, 10, &mut |_| true, &mut scratch)
        .is_empty());
    let built = Graph::build(p, 4, vec![], vec![], Some(&pool(2))).expect("empty build");
    assert!(built.is_empty());

    assert_eq!(empty.insert(9, &[1.0, 0.0, 0.0, 0.0]), Ok(0));
    let one = empty.search(&[1.0, 0.0, 0.0, 0.0], 5, 10, &mut |_| true, &mut scratch);
    assert_eq!(one.len(), 1);
    assert_eq!(empty.key(one[0].node), 9);

    let (graph, data) = build(Metric::L2, 30, 4, 2);
    let q = &data[..4];
    assert!(graph
        .search(q, 0, 10, &mut |_| true, &mut scratch)
        .is_empty());
    assert_eq!(
        graph.search(q, 100, 10, &mut |_| true, &mut scratch).len(),
        30
    );
    assert_eq!(graph.search(q, 5, 0, &mut |_| true, &mut scratch).len(), 5);
    assert!(graph
        .search(&[1.0; 3], 5, 10, &mut |_| true, &mut scratch)
        .is_empty());
    assert!(graph
        .search(&[1.0; 5], 5, 10, &mut |_| true, &mut scratch)
        .is_empty());
    assert!(graph
        .search(&[], 5, 10, &mut |_| true, &mut scratch)
        .is_empty());
    assert_eq!(
        graph.search(q, 1, 10, &mut |_| true, &mut scratch)[0].node,
        0,
        "a stored vector finds itself"
    );

    let mut g = Graph::new(p, 4).expect("new");
    assert_eq!(
        g.insert(1, &[1.0; 3]),
        Err(HnswError::DimsMismatch {
            expected: 4,
            actual: 3
        })
    );
    assert!(g.is_empty());
}

#[test]
fn invalid_parameters_are_typed_errors() {
    let bad_m = HnswParams {
        m: 1,
        ..HnswParams::default()
    };
    assert!(matches!(
        Graph::new(bad_m, 4),
        Err(HnswError::MOutOfRange { m: 1, .. })
    ));
    let big_m = HnswParams {
        m: M_MAX + 1,
        ..HnswParams::default()
    };
    assert!(matches!(
        Graph::new(big_m, 4),
        Err(HnswError::MOutOfRange { .. })
    ));
    let bad_ef = HnswParams {
        ef_construction: 0,
        ..HnswParams::default()
    };
    assert!(matches!(
        Graph::new(bad_ef, 4),
        Err(HnswError::EfConstructionOutOfRange { .. })
    ));
    assert!(matches!(
        Graph::new(HnswParams::default(), 0),
        Err(HnswError::DimsOutOfRange { dims: 0, .. })
    ));
    let err = Graph::build(HnswParams::default(), 4, vec![1, 2], vec![0.0; 7], None)
        .expect_err("length mismatch");
    assert_eq!(
        err,
        HnswError::VectorsLenMismatch {
            keys: 2,
            dims: 4,
            floats: 7
        }
    );
    assert!(!err.to_string().is_empty());
}

#[test]
fn nan_zero_and_duplicate_vectors_do_not_panic() {
    for metric in METRICS {
        let mut g = Graph::new(params(metric), 3).expect("new");
        let mut scratch = SearchScratch::new();
        let vectors = [
            [f32::NAN, 0.0, 1.0],
            [0.0, 0.0, 0.0],
            [1.0, 1.0, 1.0],
            [1.0, 1.0, 1.0],
            [f32::INFINITY, -1.0, 0.0],
            [1.0, 1.0, 1.0],
        ];
        for round in 0..20u64 {
            for (i, v) in vectors.iter().enumerate() {
                g.insert(round * 10 + i as u64, v).expect("insert");
            }
        }
        for q in [
            [f32::NAN; 3],
            [0.0; 3],
            [1.0, 1.0, 1.0],
            [-1.0, f32::INFINITY, 2.0],
        ] {
            let found = g.search(&q, 10, 20, &mut |_| true, &mut scratch);
            assert!(found.len() <= 10);
        }
        let keys = (0..120u64).collect();
        let data: Vec<f32> = vectors
            .iter()
            .flatten()
            .copied()
            .cycle()
            .take(360)
            .collect();
        let b = Graph::build(params(metric), 3, keys, data, Some(&pool(2))).expect("build");
        let found = b.search(&[1.0, 1.0, 1.0], 10, 20, &mut |_| true, &mut scratch);
        assert_eq!(found.len(), 10);
    }
}

fn metric_strategy() -> impl Strategy<Value = Metric> {
    prop_oneof![
        Just(Metric::L2),
        Just(Metric::Cosine),
        Just(Metric::InnerProduct)
    ]
}

fn value_strategy() -> impl Strategy<Value = f32> {
    prop_oneof![
        8 => -10.0f32..10.0,
        1 => Just(0.0f32),
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_small_inputs(
        metric in metric_strategy(),
        m in 2usize..8,
        ef_construction in 1usize..24,
        dims in 1usize..6,
        values in prop::collection::vec(value_strategy(), 0..240),
        query in prop::collection::vec(value_strategy(), 0..7),
        k in 0usize..12,
        ef in 0usize..24,
        modulus in 1u32..5,
        parallel in any::<bool>(),
    ) {
        let p = HnswParams { m, ef_construction, metric };
        let n = values.len() / dims;
        let data = values[..n * dims].to_vec();
        let keys: Vec<u64> = (0..n as u64).map(|i| i * 7919).collect();
        let threads = if parallel { 2 } else { 1 };
        let built = Graph::build(p, dims, keys.clone(), data.clone(), Some(&pool(threads)))
            .expect("build");
        let mut inserted = Graph::new(p, dims).expect("new");
        for (key, v) in keys.iter().zip(data.chunks_exact(dims)) {
            inserted.insert(*key, v).expect("insert");
        }
        let mut scratch = SearchScratch::new();
        for graph in [&built, &inserted] {
            prop_assert_eq!(graph.len(), n);
            let found = graph.search(&query, k, ef, &mut |x| x % modulus == 0, &mut scratch);
            if query.len() != dims {
                prop_assert!(found.is_empty());
            } else {
                check_result(graph, &query, k, &found, |x| x % modulus == 0);
                let accepted = (0..n as u32).filter(|x| x % modulus == 0).count();
                // Tiny graphs are searched exhaustively when nothing is
                // NaN; with NaN about, only the bound holds.
                prop_assert!(found.len() <= k.min(accepted));
            }
        }
    }
}
