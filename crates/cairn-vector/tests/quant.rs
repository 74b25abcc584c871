//! Quantized graphs (SQ8, RaBitQ 1–4 bits): recall against brute force
//! with exact re-rank, every metric, filters, inserts after training,
//! determinism of codes, the parts round trip, and property tests of the
//! estimates.

use cairn_vector::hnsw::{Graph, GraphParts, HnswError, HnswParams, Metric, SearchScratch};
use cairn_vector::quant::{
    Codes, Quantization, RaBitQ, RabitqCodes, RabitqQuery, Sq8, Sq8Codes, Sq8Query, RABITQ_BITS_MAX,
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
    let Some(Codes::Sq8(codes)) = graph.codes() else {
        panic!("sq8 codes")
    };
    let trained = codes.sq8().clone();
    for (i, v) in data.chunks_exact(dims).enumerate().skip(500) {
        graph.insert(i as u64, v).expect("insert");
    }
    let Some(Codes::Sq8(codes)) = graph.codes() else {
        panic!("sq8 codes")
    };
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
    let Some(Codes::Sq8(codes)) = short.codes.take() else {
        panic!("sq8 codes")
    };
    let truncated = codes.codes()[..codes.codes().len() - 24].to_vec();
    short.codes = Some(Codes::Sq8(Sq8Codes::from_codes(
        codes.sq8().clone(),
        truncated,
    )));
    assert!(matches!(
        Graph::from_parts(short),
        Err(HnswError::Malformed { .. })
    ));
    let mut wrong_dims: GraphParts = parts;
    wrong_dims.codes = Some(Codes::Sq8(Sq8Codes::build(&[0.0; 10], 5)));
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

#[test]
fn rabitq_recall_every_metric_and_width_with_rerank() {
    // Uniform random 32-d data is the hard case for one bit per dimension
    // (no structure for the rotation to spread): one bit needs a wider
    // re-rank than four.
    for metric in METRICS {
        let base = build(metric, 2000, 32);
        let queries = random_vectors(99, 100, 32);
        for bits in 1..=RABITQ_BITS_MAX {
            let mut graph = base.clone();
            graph.quantize(Quantization::RaBitQ { bits });
            assert_eq!(graph.quantization(), Quantization::RaBitQ { bits });
            let rerank = [0, 10, 6, 4, 4][usize::from(bits)];
            let r = recall(&graph, &queries, 64, rerank, |_| true);
            assert!(r >= 0.95, "{metric:?} bits {bits}: recall@10 {r}");
            let even = recall(&graph, &queries, 64, rerank, |n| n % 2 == 0);
            assert!(even >= 0.93, "{metric:?} bits {bits}: even nodes {even}");
            // 32 dims pad to one 64-bit word per plane, plus two words of
            // factors.
            let memory = graph.memory();
            let record = 8 * (usize::from(bits) + 2);
            assert!(memory.codes >= 2000 * record, "{memory:?}");
            assert!(memory.codes < 2000 * record + 8192, "{memory:?}");
        }
    }
}

#[test]
fn rabitq_inserts_after_training_use_the_trained_parameters() {
    let dims = 40;
    let data = random_vectors(3, 1500, dims);
    let mut graph = Graph::new(params(Metric::InnerProduct), dims).expect("new");
    for (i, v) in data.chunks_exact(dims).take(500).enumerate() {
        graph.insert(i as u64, v).expect("insert");
    }
    graph.quantize(Quantization::RaBitQ { bits: 2 });
    let Some(Codes::RaBitQ(codes)) = graph.codes() else {
        panic!("rabitq codes")
    };
    let trained = codes.rabitq().clone();
    for (i, v) in data.chunks_exact(dims).enumerate().skip(500) {
        graph.insert(i as u64, v).expect("insert");
    }
    let Some(Codes::RaBitQ(codes)) = graph.codes() else {
        panic!("rabitq codes")
    };
    assert_eq!(codes.rabitq(), &trained, "never retrained");
    assert_eq!(codes.len(), 1500);
    let mut expected = Vec::new();
    trained.encode(graph.vector(1200), &mut expected);
    assert_eq!(codes.record(1200), &expected[..]);
    let queries = random_vectors(5, 50, dims);
    let r = recall(&graph, &queries, 64, 6, |_| true);
    assert!(r >= 0.9, "recall@10 {r}");
}

#[test]
fn rabitq_codes_are_deterministic_and_survive_the_parts_round_trip() {
    let mut a = build(Metric::L2, 800, 70);
    let mut b = build(Metric::L2, 800, 70);
    a.quantize(Quantization::RaBitQ { bits: 3 });
    b.quantize(Quantization::RaBitQ { bits: 3 });
    assert_eq!(a.codes(), b.codes(), "same vectors, same words");

    let parts = a.to_parts();
    let back = Graph::from_parts(parts.clone()).expect("from_parts");
    assert_eq!(back.codes(), a.codes());
    let queries = random_vectors(11, 20, 70);
    let (mut s1, mut s2) = (SearchScratch::new(), SearchScratch::new());
    for q in queries.chunks_exact(70) {
        assert_eq!(
            a.search_reranked(q, 5, 32, 3, &mut |_| true, &mut s1),
            back.search_reranked(q, 5, 32, 3, &mut |_| true, &mut s2)
        );
    }

    // Parameters and records read back: checked, then identical.
    let Some(Codes::RaBitQ(codes)) = parts.codes.clone() else {
        panic!("rabitq codes")
    };
    let rq = codes.rabitq();
    let again =
        RaBitQ::from_parts(rq.dims(), rq.bits(), rq.seed(), rq.centroid().to_vec()).expect("parts");
    assert_eq!(&again, rq);
    let records =
        RabitqCodes::from_records(again.clone(), codes.records().to_vec()).expect("records");
    assert_eq!(records, codes);
    assert!(RaBitQ::from_parts(70, 0, 1, vec![0.0; 70]).is_err());
    assert!(RaBitQ::from_parts(70, 5, 1, vec![0.0; 70]).is_err());
    assert!(RaBitQ::from_parts(70, 1, 1, vec![0.0; 69]).is_err());
    assert!(RaBitQ::from_parts(70, 1, 1, vec![f32::NAN; 70]).is_err());
    let stride = rq.stride();
    let mut torn = codes.records().to_vec();
    torn.pop();
    assert!(RabitqCodes::from_records(again.clone(), torn).is_err());
    let mut bad_factor = codes.records().to_vec();
    bad_factor[stride - 1] = u64::from(f32::NAN.to_bits());
    assert!(RabitqCodes::from_records(again, bad_factor).is_err());

    // Codes for the wrong number of nodes are refused by the graph.
    let mut short = parts.clone();
    let Some(Codes::RaBitQ(c)) = short.codes.take() else {
        panic!("rabitq codes")
    };
    let mut fewer = c.records().to_vec();
    fewer.truncate(fewer.len() - stride);
    short.codes = Some(Codes::RaBitQ(
        RabitqCodes::from_records(c.rabitq().clone(), fewer).expect("records"),
    ));
    assert!(matches!(
        Graph::from_parts(short),
        Err(HnswError::Malformed { .. })
    ));
    // Or a different seed: a different rotation, so different results.
    let reseeded = RaBitQ::from_parts(70, 3, rq.seed() ^ 1, rq.centroid().to_vec()).expect("parts");
    assert_ne!(reseeded, *rq);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// RaBitQ estimates are finite, deterministic and, for a single vector
    /// (which is its own centroid, so its residual is zero), exact; the
    /// norm kept per vector is the vector's own.
    #[test]
    fn prop_rabitq_estimates(
        dims in 1usize..150,
        n in 1usize..12,
        bits in 1u8..=RABITQ_BITS_MAX,
        seed in any::<u64>(),
    ) {
        let vectors = random_vectors(seed, n, dims);
        let query = random_vectors(seed ^ 1, 1, dims);
        let codes = RabitqCodes::build(&vectors, dims, bits);
        prop_assert_eq!(codes.len(), n);
        prop_assert_eq!(&RabitqCodes::build(&vectors, dims, bits), &codes);
        let mut q = RabitqQuery::new();
        codes.rabitq().prepare(&query, &mut q);
        for (node, v) in vectors.chunks_exact(dims).enumerate() {
            let est = codes.estimate_dot(&q, node as u32);
            prop_assert!(est.is_finite());
            let norm = dot(v, v);
            let stored = f64::from(codes.squared_norm(node as u32));
            prop_assert!((stored - norm).abs() <= 1e-5 * (norm + 1.0));
            if n == 1 {
                let exact = dot(&query, v);
                let scale = dot(&query, &query).sqrt() * norm.sqrt() + 1.0;
                prop_assert!((f64::from(est) - exact).abs() <= 1e-4 * scale, "{} vs {}", est, exact);
            }
        }
        prop_assert!(codes.estimate_dot(&q, n as u32).is_nan(), "outside the codes");
    }
}

#[test]
fn default_rerank_per_codec() {
    use cairn_vector::hnsw::RERANK_DEFAULT;
    assert_eq!(Quantization::Sq8.default_rerank(), RERANK_DEFAULT);
    assert_eq!(Quantization::None.default_rerank(), RERANK_DEFAULT);
    assert_eq!(Quantization::RaBitQ { bits: 1 }.default_rerank(), 6);
    assert_eq!(Quantization::RaBitQ { bits: 2 }.default_rerank(), 5);
    assert_eq!(
        Quantization::RaBitQ { bits: 4 }.default_rerank(),
        RERANK_DEFAULT
    );
}

#[test]
fn vectors_read_in_place_from_shared_memory() {
    use cairn_vector::hnsw::SharedVectors;
    use std::sync::Arc;
    let dims = 24;
    let mut graph = build(Metric::Cosine, 600, dims);
    graph.quantize(Quantization::RaBitQ { bits: 1 });
    let mut parts = graph.to_parts();
    let vectors = std::mem::take(&mut parts.vectors);
    let shared = SharedVectors::new(Arc::new(vectors.clone()));
    let mapped = Graph::from_parts_shared(parts.clone(), shared.clone()).expect("shared");
    let memory = mapped.memory();
    assert_eq!((memory.vectors, memory.mapped), (0, 600 * dims * 4));
    assert_eq!(mapped.vector(7), graph.vector(7));
    let queries = random_vectors(13, 20, dims);
    let (mut s1, mut s2) = (SearchScratch::new(), SearchScratch::new());
    for q in queries.chunks_exact(dims) {
        assert_eq!(
            graph.search(q, 10, 40, &mut |_| true, &mut s1),
            mapped.search(q, 10, 40, &mut |_| true, &mut s2)
        );
    }
    // An insert copies the vectors out first; the shared ones stay as
    // they were.
    let mut grown = mapped.clone();
    grown.insert(10_000, &queries[..dims]).expect("insert");
    let memory = grown.memory();
    assert_eq!(memory.mapped, 0);
    assert!(memory.vectors >= 601 * dims * 4);
    assert_eq!(shared.as_slice(), &vectors[..]);
    assert_eq!(grown.vector(600).len(), dims);
    // Checked like inline vectors: wrong length, non-finite values, or
    // vectors given twice are malformed.
    let short = SharedVectors::new(Arc::new(vectors[..vectors.len() - 1].to_vec()));
    assert!(Graph::from_parts_shared(parts.clone(), short).is_err());
    let mut bad = vectors.clone();
    bad[5] = f32::NAN;
    assert!(Graph::from_parts_shared(parts.clone(), SharedVectors::new(Arc::new(bad))).is_err());
    let mut twice = parts;
    twice.vectors = vectors;
    assert!(Graph::from_parts_shared(twice, shared).is_err());
}
