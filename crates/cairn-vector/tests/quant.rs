//! Quantized graphs (SQ8): recall against brute force with exact re-rank,
//! every metric, filters, inserts after training, determinism of codes, the
//! parts round trip, and a property test of the estimate's error bound.

use cairn_vector::hnsw::{Graph, GraphParts, HnswError, HnswParams, Metric, SearchScratch};
use cairn_vector::quant::{Quantization, Sq8, Sq8Codes, Sq8Query};
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

fn build(metric: Metric, n: usize, dims: usize) -> Graph {
    let data = random_vectors(7, n, dims);
    let keys = (0..n as u64).collect();
    Graph::build(params(metric), dims, keys, data, None).expect("build")
}

/// Mean recall@k; every result is accepted and carries its exact distance.
fn recall(
    graph: &Graph,
    queries: &[f32],
    ef: usize,
    rerank: usize,
    accept: impl Fn(u32) -> bool + Copy,
) -> f64 {
    let k = 10;
    let mut scratch = SearchScratch::new();
    let (mut hits, mut wanted) = (0, 0);
    for q in queries.chunks_exact(graph.dims()) {
        let found = graph.search_reranked(q, k, ef, rerank, &mut |n| accept(n), &mut scratch);
        let prepared = graph.prepare_query(q);
        for w in found.windows(2) {
            assert!(
                (w[0].distance, w[0].node) < (w[1].distance, w[1].node),
                "unsorted: {w:?}"
            );
        }
        for nb in &found {
            assert!(accept(nb.node));
            assert_eq!(
                nb.distance.to_bits(),
                graph.distance(&prepared, nb.node).to_bits()
            );
        }
        let exact = brute_force(graph, q, k, accept);
        wanted += exact.len();
        hits += found.iter().filter(|nb| exact.contains(&nb.node)).count();
    }
    hits as f64 / wanted.max(1) as f64
}

#[test]
fn sq8_recall_every_metric_with_rerank() {
    for metric in METRICS {
        let mut graph = build(metric, 2000, 32);
        let queries = random_vectors(99, 100, 32);
        let f32_recall = recall(&graph, &queries, 64, 4, |_| true);
        graph.quantize(Quantization::Sq8);
        assert_eq!(graph.quantization(), Quantization::Sq8);
        let sq8_recall = recall(&graph, &queries, 64, 4, |_| true);
        assert!(sq8_recall >= 0.95, "{metric:?}: sq8 recall@10 {sq8_recall}");
        assert!(
            sq8_recall >= f32_recall - 0.02,
            "{metric:?}: sq8 {sq8_recall} vs f32 {f32_recall}"
        );
        // A filter: only even nodes come back.
        let even = recall(&graph, &queries, 64, 4, |n| n % 2 == 0);
        assert!(even >= 0.93, "{metric:?}: even nodes recall@10 {even}");
        let memory = graph.memory();
        assert!(memory.codes >= 2000 * 32, "{memory:?}");
    }
}

#[test]
fn inserts_after_training_are_coded_with_the_same_parameters() {
    let dims = 16;
    let data = random_vectors(3, 1500, dims);
    let mut graph = Graph::new(params(Metric::L2), dims).expect("new");
    for (i, v) in data.chunks_exact(dims).take(500).enumerate() {
        graph.insert(i as u64, v).expect("insert");
    }
    graph.quantize(Quantization::Sq8);
    let trained = graph.codes().expect("codes").sq8().clone();
    for (i, v) in data.chunks_exact(dims).enumerate().skip(500) {
        graph.insert(i as u64, v).expect("insert");
    }
    let codes = graph.codes().expect("codes");
    assert_eq!(codes.sq8(), &trained, "never retrained");
    assert_eq!(codes.len(), 1500);
    let mut expected = Vec::new();
    trained.encode(graph.vector(1200), &mut expected);
    assert_eq!(codes.code(1200), &expected[..]);
    let queries = random_vectors(5, 50, dims);
    let r = recall(&graph, &queries, 64, 4, |_| true);
    assert!(r >= 0.9, "recall@10 {r}");
}

#[test]
fn codes_are_deterministic_and_survive_the_parts_round_trip() {
    let a = build(Metric::Cosine, 800, 24);
    let b = build(Metric::Cosine, 800, 24);
    let (mut a, mut b) = (a, b);
    a.quantize(Quantization::Sq8);
    b.quantize(Quantization::Sq8);
    assert_eq!(a.codes(), b.codes(), "same vectors, same bytes");

    let parts = a.to_parts();
    let back = Graph::from_parts(parts.clone()).expect("from_parts");
    assert_eq!(back.codes(), a.codes());
    let queries = random_vectors(11, 20, 24);
    let mut s1 = SearchScratch::new();
    let mut s2 = SearchScratch::new();
    for q in queries.chunks_exact(24) {
        assert_eq!(
            a.search_reranked(q, 5, 32, 3, &mut |_| true, &mut s1),
            back.search_reranked(q, 5, 32, 3, &mut |_| true, &mut s2)
        );
    }

    // Codes of the wrong size are refused.
    let mut short = parts.clone();
    let codes = short.codes.take().expect("codes");
    let truncated = codes.codes()[..codes.codes().len() - 24].to_vec();
    short.codes = Some(Sq8Codes::from_codes(codes.sq8().clone(), truncated));
    assert!(matches!(
        Graph::from_parts(short),
        Err(HnswError::Malformed { .. })
    ));
    let mut wrong_dims: GraphParts = parts;
    wrong_dims.codes = Some(Sq8Codes::build(&[0.0; 10], 5));
    assert!(Graph::from_parts(wrong_dims).is_err());
}

#[test]
fn unquantized_rerank_changes_nothing() {
    let graph = build(Metric::L2, 500, 8);
    let queries = random_vectors(2, 10, 8);
    let mut s = SearchScratch::new();
    for q in queries.chunks_exact(8) {
        let plain = graph.search(q, 10, 40, &mut |_| true, &mut s);
        let reranked = graph.search_reranked(q, 10, 40, 50, &mut |_| true, &mut s);
        assert_eq!(plain, reranked);
    }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Inside the trained range the estimated inner product is off by at
    /// most `Σ |q[i]| · step[i] / 2` (plus f32 rounding), and the L2 and
    /// cosine estimates follow from it.
    #[test]
    fn prop_estimate_is_within_the_bound(
        dims in 1usize..80,
        n in 1usize..20,
        seed in any::<u64>(),
    ) {
        let vectors = random_vectors(seed, n, dims);
        let query = random_vectors(seed ^ 1, 1, dims);
        let codes = Sq8Codes::build(&vectors, dims);
        let sq = codes.sq8();
        let mut q = Sq8Query::new();
        sq.prepare(&query, &mut q);
        let bound: f64 = query
            .iter()
            .zip(sq.step())
            .map(|(x, s)| f64::from(x.abs()) * f64::from(*s) / 2.0)
            .sum::<f64>();
        let terms: f64 = query.iter().map(|x| f64::from(x.abs()) * 4.0).sum::<f64>();
        let slack = 1e-4 * (terms + 1.0);
        for (node, v) in vectors.chunks_exact(dims).enumerate() {
            let exact_dot = dot(&query, v);
            let est_dot = f64::from(codes.estimate_dot(&q, node as u32));
            prop_assert!((est_dot - exact_dot).abs() <= bound + slack, "dot {} vs {}", est_dot, exact_dot);
            // L2 as the graph computes it, |q|² - 2 q·x̂ + |x̂|², against
            // |q - x̂|² from the decoded vector.
            let mut decoded = Vec::new();
            sq.decode(codes.code(node as u32), &mut decoded);
            let l2: f64 = query.iter().zip(&decoded).map(|(a, b)| f64::from(a - b).powi(2)).sum();
            let est = f64::from(q.squared_norm()) - 2.0 * est_dot
                + f64::from(codes.squared_norm(node as u32));
            let scale: f64 = dot(&query, &query) + dot(&decoded, &decoded) + 1.0;
            prop_assert!((est - l2).abs() <= 1e-4 * scale, "l2 {} vs {}", est, l2);
        }
        // Codes are a pure function of the vectors.
        prop_assert_eq!(Sq8Codes::build(&vectors, dims), codes.clone());
        let again = Sq8::from_parts(sq.lower().to_vec(), sq.step().to_vec()).expect("parts");
        prop_assert_eq!(&again, sq);
    }
}
