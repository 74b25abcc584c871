//! Every kernel variant this CPU can run against the scalar reference, for
//! the f32 `dot` and `l2_squared` (and the f32-query/f16-stored
//! `l2_squared_f32_f16`) at d = 50, 384, 1536.
//!
//! `cargo bench -p cairn-vector --bench kernels`; criterion reports ns per
//! call under `<kernel>/d=<dims>/<variant>`.

use cairn_vector::f16;
use cairn_vector::kernels::{self, Kernels};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::time::Duration;

const DIMS: [usize; 3] = [50, 384, 1536];
const SEED: u64 = 7;

fn random_f32s(rng: &mut StdRng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn bench_f32(c: &mut Criterion, kernel: &str, pick: fn(&Kernels) -> fn(&[f32], &[f32]) -> f32) {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut group = c.benchmark_group(kernel);
    for dims in DIMS {
        let a = random_f32s(&mut rng, dims);
        let b = random_f32s(&mut rng, dims);
        for k in kernels::available() {
            let f = pick(k);
            group.bench_with_input(
                BenchmarkId::new(format!("d={dims}"), k.name),
                &dims,
                |bench, _| bench.iter(|| f(black_box(&a), black_box(&b))),
            );
        }
    }
    group.finish();
}

fn bench_f32_f16(c: &mut Criterion, kernel: &str, pick: fn(&Kernels) -> fn(&[f32], &[f16]) -> f32) {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut group = c.benchmark_group(kernel);
    for dims in DIMS {
        let a = random_f32s(&mut rng, dims);
        let b: Vec<f16> = random_f32s(&mut rng, dims)
            .into_iter()
            .map(f16::from_f32)
            .collect();
        for k in kernels::available() {
            let f = pick(k);
            group.bench_with_input(
                BenchmarkId::new(format!("d={dims}"), k.name),
                &dims,
                |bench, _| bench.iter(|| f(black_box(&a), black_box(&b))),
            );
        }
    }
    group.finish();
}

fn kernels_bench(c: &mut Criterion) {
    bench_f32(c, "dot", |k| k.dot);
    bench_f32(c, "l2_squared", |k| k.l2_squared);
    bench_f32_f16(c, "l2_squared_f32_f16", |k| k.l2_squared_f32_f16);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = kernels_bench
}
criterion_main!(benches);
