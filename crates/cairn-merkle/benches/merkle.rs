//! Benchmarks: verifying an inclusion proof in a 1,000,000-leaf tree, and the
//! proof's encoded size. Never part of the test suite.

use cairn_merkle::{inclusion_proof, leaf_hash, root, Hash};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

const LEAVES_COUNT: usize = 1_000_000;

fn bench_verify(c: &mut Criterion) {
    let leaves: Vec<Hash> = (0..LEAVES_COUNT)
        .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
        .collect();
    let tree_root = root(&leaves);
    let index = 765_432usize;
    let proof = match inclusion_proof(&leaves, index as u64) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot build proof: {e}");
            return;
        }
    };
    let bytes_len = proof.to_bytes().map(|b| b.len()).unwrap_or_default();
    eprintln!(
        "inclusion proof in a {LEAVES_COUNT}-leaf tree: {} hashes, {bytes_len} bytes encoded",
        proof.path.len()
    );
    let leaf = leaves[index];
    c.bench_function("verify_inclusion_1m", |b| {
        b.iter(|| black_box(&proof).verify(black_box(&leaf), black_box(&tree_root)))
    });
    c.bench_function("decode_and_verify_inclusion_1m", |b| {
        let encoded = proof.to_bytes().unwrap_or_default();
        b.iter(|| {
            cairn_merkle::InclusionProof::from_bytes(black_box(&encoded))
                .map(|p| p.verify(&leaf, &tree_root))
        })
    });
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
