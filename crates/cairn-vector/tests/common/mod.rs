//! Helpers shared by the graph test suites (`hnsw.rs`, `quant.rs`).

use cairn_vector::hnsw::Graph;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Gaussian-ish data: the sum of four uniforms, centred.
pub fn random_vectors(seed: u64, n: usize, dims: usize) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n * dims)
        .map(|_| (0..4).map(|_| rng.random::<f32>()).sum::<f32>() - 2.0)
        .collect()
}

/// The exact `k` nearest accepted nodes by the graph's own (exact)
/// distance, ties by node.
pub fn brute_force(
    graph: &Graph,
    query: &[f32],
    k: usize,
    accept: impl Fn(u32) -> bool,
) -> Vec<u32> {
    let q = graph.prepare_query(query);
    let mut all: Vec<(f32, u32)> = (0..graph.len() as u32)
        .filter(|&n| accept(n))
        .map(|n| (graph.distance(&q, n), n))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.into_iter().take(k).map(|(_, n)| n).collect()
}
