//! One suite for every kernel variant this CPU can run: each is compared with
//! the scalar reference (`kernels::SCALAR`) on every length 0..=70, on the
//! usual embedding sizes, on random vectors (seeded, and by proptest), on
//! mismatched lengths and unaligned starts, and on every f16 bit pattern.
//!
//! SIMD variants sum in a different order and fuse multiply-adds, so they
//! may differ from the scalar sum by rounding only: the allowed error is
//! relative to the sum of the absolute terms, `TOLERANCE_RELATIVE ·
//! Σ|term| + TOLERANCE_ABSOLUTE`.

use cairn_core::vector as exact;
use cairn_vector::f16;
use cairn_vector::kernels::{self, Kernels, SCALAR};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TOLERANCE_RELATIVE: f64 = 1e-5;
const TOLERANCE_ABSOLUTE: f64 = 1e-6;
/// Printed on failure so a failing case can be replayed.
const SEED: u64 = 0x00ca_1e55_d157;

/// Lengths that hit every tail size of 4-, 8- and 16-lane kernels, with and
/// without whole unrolled blocks, plus common embedding sizes.
fn lengths() -> Vec<usize> {
    let mut lengths: Vec<usize> = (0..=70).collect();
    lengths.extend([127, 128, 129, 255, 256, 384, 768, 1000, 1536, 4096, 16000]);
    lengths
}

fn variants() -> Vec<&'static Kernels> {
    let variants = kernels::available();
    let names: Vec<&str> = variants.iter().map(|k| k.name).collect();
    println!("kernel variants tested: {names:?}");
    variants
}

fn random_f32s(rng: &mut StdRng, len: usize, magnitude: f32) -> Vec<f32> {
    (0..len)
        .map(|_| rng.random_range(-magnitude..=magnitude))
        .collect()
}

fn random_f16s(rng: &mut StdRng, len: usize, magnitude: f32) -> Vec<f16> {
    random_f32s(rng, len, magnitude)
        .into_iter()
        .map(f16::from_f32)
        .collect()
}

/// Σ|x·y| over the common prefix, in f64.
fn dot_terms_abs(a: impl IntoIterator<Item = f32>, b: impl IntoIterator<Item = f32>) -> f64 {
    a.into_iter()
        .zip(b)
        .map(|(x, y)| (f64::from(x) * f64::from(y)).abs())
        .sum()
}

/// Σ(x−y)² over the common prefix, in f64.
fn l2_terms_abs(a: impl IntoIterator<Item = f32>, b: impl IntoIterator<Item = f32>) -> f64 {
    a.into_iter()
        .zip(b)
        .map(|(x, y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum()
}

fn widen(v: &[f16]) -> impl Iterator<Item = f32> + '_ {
    v.iter().map(|x| x.to_f32())
}

#[track_caller]
fn assert_close(variant: &str, kernel: &str, len: usize, simd: f32, scalar: f32, terms_abs: f64) {
    let error = (f64::from(simd) - f64::from(scalar)).abs();
    let allowed = TOLERANCE_RELATIVE * terms_abs + TOLERANCE_ABSOLUTE;
    assert!(
        error <= allowed,
        "{variant}.{kernel} len {len} (seed {SEED:#x}): simd {simd} vs scalar {scalar}, \
         error {error:e} > allowed {allowed:e}"
    );
}

/// Every kernel of `k` against `SCALAR` on one pair of inputs (any lengths).
fn check_all_kernels(k: &Kernels, a: &[f32], b: &[f32], a16: &[f16], b16: &[f16]) {
    let n = a.len().min(b.len());
    assert_close(
        k.name,
        "dot",
        n,
        (k.dot)(a, b),
        (SCALAR.dot)(a, b),
        dot_terms_abs(a.iter().copied(), b.iter().copied()),
    );
    assert_close(
        k.name,
        "l2_squared",
        n,
        (k.l2_squared)(a, b),
        (SCALAR.l2_squared)(a, b),
        l2_terms_abs(a.iter().copied(), b.iter().copied()),
    );

    let n16 = a16.len().min(b16.len());
    assert_close(
        k.name,
        "dot_f16",
        n16,
        (k.dot_f16)(a16, b16),
        (SCALAR.dot_f16)(a16, b16),
        dot_terms_abs(widen(a16), widen(b16)),
    );
    assert_close(
        k.name,
        "l2_squared_f16",
        n16,
        (k.l2_squared_f16)(a16, b16),
        (SCALAR.l2_squared_f16)(a16, b16),
        l2_terms_abs(widen(a16), widen(b16)),
    );

    let n_mixed = a.len().min(b16.len());
    assert_close(
        k.name,
        "dot_f32_f16",
        n_mixed,
        (k.dot_f32_f16)(a, b16),
        (SCALAR.dot_f32_f16)(a, b16),
        dot_terms_abs(a.iter().copied(), widen(b16)),
    );
    assert_close(
        k.name,
        "l2_squared_f32_f16",
        n_mixed,
        (k.l2_squared_f32_f16)(a, b16),
        (SCALAR.l2_squared_f32_f16)(a, b16),
        l2_terms_abs(a.iter().copied(), widen(b16)),
    );

    // Bytes (SQ8 codes) derived from `b`: every byte value turns up.
    let bytes = bytes_of(b);
    assert_close(
        k.name,
        "dot_f32_u8",
        n,
        (k.dot_f32_u8)(a, &bytes),
        (SCALAR.dot_f32_u8)(a, &bytes),
        dot_terms_abs(a.iter().copied(), bytes.iter().map(|&x| f32::from(x))),
    );
}

/// One byte per element of `v`, from its low mantissa bits.
fn bytes_of(v: &[f32]) -> Vec<u8> {
    v.iter().map(|x| x.to_bits() as u8).collect()
}

#[test]
fn every_variant_matches_scalar_on_every_length() {
    let mut rng = StdRng::seed_from_u64(SEED);
    for k in variants() {
        for len in lengths() {
            for magnitude in [1.0, 100.0] {
                let a = random_f32s(&mut rng, len, magnitude);
                let b = random_f32s(&mut rng, len, magnitude);
                let a16 = random_f16s(&mut rng, len, magnitude);
                let b16 = random_f16s(&mut rng, len, magnitude);
                check_all_kernels(k, &a, &b, &a16, &b16);
            }
        }
    }
}

#[test]
fn l2_of_a_vector_with_itself_is_zero_and_dot_is_its_squared_norm() {
    let mut rng = StdRng::seed_from_u64(SEED ^ 1);
    for k in variants() {
        for len in lengths() {
            let a = random_f32s(&mut rng, len, 1.0);
            let a16 = random_f16s(&mut rng, len, 1.0);
            assert_eq!((k.l2_squared)(&a, &a), 0.0, "{} len {len}", k.name);
            assert_eq!((k.l2_squared_f16)(&a16, &a16), 0.0, "{} len {len}", k.name);
            let squares = dot_terms_abs(a.iter().copied(), a.iter().copied());
            assert_close(
                k.name,
                "dot(a, a)",
                len,
                (k.dot)(&a, &a),
                squares as f32,
                squares,
            );
        }
    }
}

#[test]
fn mismatched_lengths_use_the_common_prefix() {
    let mut rng = StdRng::seed_from_u64(SEED ^ 2);
    let pairs = [
        (0, 5),
        (1, 0),
        (7, 100),
        (100, 7),
        (17, 16),
        (33, 64),
        (64, 33),
        (383, 384),
        (1536, 50),
    ];
    for k in variants() {
        for (len_a, len_b) in pairs {
            let n = len_a.min(len_b);
            let a = random_f32s(&mut rng, len_a, 1.0);
            let b = random_f32s(&mut rng, len_b, 1.0);
            let a16 = random_f16s(&mut rng, len_a, 1.0);
            let b16 = random_f16s(&mut rng, len_b, 1.0);
            check_all_kernels(k, &a, &b, &a16, &b16);

            // Bit-identical to calling with the prefix explicitly.
            let (ap, bp, a16p, b16p) = (&a[..n], &b[..n], &a16[..n], &b16[..n]);
            let msg = format!("{} lengths ({len_a}, {len_b})", k.name);
            assert_eq!(
                (k.dot)(&a, &b).to_bits(),
                (k.dot)(ap, bp).to_bits(),
                "{msg}"
            );
            assert_eq!(
                (k.l2_squared)(&a, &b).to_bits(),
                (k.l2_squared)(ap, bp).to_bits(),
                "{msg}"
            );
            assert_eq!(
                (k.dot_f16)(&a16, &b16).to_bits(),
                (k.dot_f16)(a16p, b16p).to_bits(),
                "{msg}"
            );
            assert_eq!(
                (k.l2_squared_f16)(&a16, &b16).to_bits(),
                (k.l2_squared_f16)(a16p, b16p).to_bits(),
                "{msg}"
            );
            assert_eq!(
                (k.dot_f32_f16)(&a, &b16).to_bits(),
                (k.dot_f32_f16)(ap, b16p).to_bits(),
                "{msg}"
            );
            assert_eq!(
                (k.l2_squared_f32_f16)(&a, &b16).to_bits(),
                (k.l2_squared_f32_f16)(ap, b16p).to_bits(),
                "{msg}"
            );
            assert_eq!(
                (k.dot_f32_u8)(&a, &bytes_of(&b)).to_bits(),
                (k.dot_f32_u8)(ap, &bytes_of(bp)).to_bits(),
                "{msg}"
            );
        }
    }
}

#[test]
fn unaligned_starts_match_scalar() {
    let mut rng = StdRng::seed_from_u64(SEED ^ 3);
    let a = random_f32s(&mut rng, 1600, 1.0);
    let b = random_f32s(&mut rng, 1600, 1.0);
    let a16 = random_f16s(&mut rng, 1600, 1.0);
    let b16 = random_f16s(&mut rng, 1600, 1.0);
    for k in variants() {
        for offset_a in 0..4 {
            for offset_b in 0..4 {
                for len in [1, 15, 50, 384, 1536] {
                    let (a, b) = (&a[offset_a..][..len], &b[offset_b..][..len]);
                    let (a16, b16) = (&a16[offset_a..][..len], &b16[offset_b..][..len]);
                    check_all_kernels(k, a, b, a16, b16);
                }
            }
        }
    }
}

#[test]
fn nan_anywhere_in_the_prefix_gives_nan() {
    let mut rng = StdRng::seed_from_u64(SEED ^ 4);
    for k in variants() {
        for len in [1, 7, 16, 17, 50, 64, 384] {
            for _ in 0..4 {
                let at = rng.random_range(0..len);
                let mut a = random_f32s(&mut rng, len, 1.0);
                let b = random_f32s(&mut rng, len, 1.0);
                let mut a16 = random_f16s(&mut rng, len, 1.0);
                let b16 = random_f16s(&mut rng, len, 1.0);
                a[at] = f32::NAN;
                a16[at] = f16::NAN;
                let msg = format!("{} len {len} NaN at {at}", k.name);
                assert!((k.dot)(&a, &b).is_nan(), "{msg}");
                assert!((k.l2_squared)(&a, &b).is_nan(), "{msg}");
                assert!((k.dot_f16)(&a16, &b16).is_nan(), "{msg}");
                assert!((k.l2_squared_f16)(&a16, &b16).is_nan(), "{msg}");
                assert!((k.dot_f32_f16)(&a, &b16).is_nan(), "{msg}");
                assert!((k.l2_squared_f32_f16)(&b, &a16).is_nan(), "{msg}");
            }
        }
    }
}

/// Every f16 bit pattern widens to exactly `f16::to_f32`, in the main loop
/// (position `bits % 64` of a 64-element vector) and in the tail (length 1).
#[test]
fn every_f16_value_widens_exactly() {
    const LEN: usize = 64;
    for k in variants() {
        for bits in 0..=u16::MAX {
            let h = f16::from_bits(bits);
            let expected = h.to_f32();
            let msg = format!("{} f16 bits {bits:#06x} ({expected})", k.name);

            let single = (k.dot_f32_f16)(&[1.0], &[h]);
            let single_f16 = (k.dot_f16)(&[f16::ONE], &[h]);
            if expected.is_nan() {
                assert!(single.is_nan() && single_f16.is_nan(), "{msg}");
            } else {
                assert_eq!(single, expected, "{msg}");
                assert_eq!(single_f16, expected, "{msg}");
            }

            if expected.is_finite() {
                // One-hot: the other 63 products are exact zeros.
                let at = usize::from(bits) % LEN;
                let mut one_hot = [0.0f32; LEN];
                one_hot[at] = 1.0;
                let mut one_hot16 = [f16::ZERO; LEN];
                one_hot16[at] = f16::ONE;
                let mut b = [f16::ZERO; LEN];
                b[at] = h;
                assert_eq!((k.dot_f32_f16)(&one_hot, &b), expected, "{msg}");
                assert_eq!((k.dot_f16)(&one_hot16, &b), expected, "{msg}");
            } else {
                let ones = [1.0f32; LEN];
                let b = [h; LEN];
                let got = (k.dot_f32_f16)(&ones, &b);
                if expected.is_nan() {
                    assert!(got.is_nan(), "{msg}");
                } else {
                    assert_eq!(got, expected, "{msg}");
                }
            }
        }
    }
}

#[test]
fn best_is_the_last_available_variant() {
    let available = kernels::available();
    let best = kernels::best();
    assert!(available.iter().any(|k| std::ptr::eq(*k, best)));
    assert!(available.last().is_some_and(|k| std::ptr::eq(*k, best)));
    assert_eq!(available[0].name, "scalar");
    println!("best kernel variant: {}", best.name);
}

#[test]
fn detected_features_have_their_variant() {
    let names: Vec<&str> = kernels::available().iter().map(|k| k.name).collect();
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c");
        assert_eq!(names.contains(&"avx2-fma"), avx2, "{names:?}");
        let avx512 = avx2 && is_x86_feature_detected!("avx512f");
        assert_eq!(names.contains(&"avx512"), avx512, "{names:?}");
        let vpopcnt = avx512 && is_x86_feature_detected!("avx512vpopcntdq");
        assert_eq!(names.contains(&"avx512-vpopcntdq"), vpopcnt, "{names:?}");
    }
    #[cfg(target_arch = "aarch64")]
    assert_eq!(
        names.contains(&"neon"),
        std::arch::is_aarch64_feature_detected!("neon"),
        "{names:?}"
    );
    println!("kernel variants available: {names:?}");
}

#[test]
fn convenience_functions_agree_with_exact() {
    let mut rng = StdRng::seed_from_u64(SEED ^ 5);
    for len in [1, 3, 50, 384, 1536] {
        let a = random_f32s(&mut rng, len, 1.0);
        let b = random_f32s(&mut rng, len, 1.0);
        let scale = dot_terms_abs(a.iter().copied(), b.iter().copied());
        let dot = f64::from(kernels::dot(&a, &b));
        assert!((dot - exact::dot(&a, &b)).abs() <= 1e-5 * scale + 1e-6);
        let l2 = f64::from(kernels::l2_squared(&a, &b));
        let l2_exact = exact::l2_squared(&a, &b);
        assert!((l2 - l2_exact).abs() <= 1e-5 * l2_exact + 1e-6);
        let norm = f64::from(kernels::norm(&a));
        assert!((norm - exact::norm(&a)).abs() <= 1e-5 * norm + 1e-6);
        let cosine = f64::from(kernels::cosine_distance(&a, &b));
        let cosine_exact = exact::distance(exact::DistanceKind::Cosine, &a, &b)
            .expect("same dims")
            .expect("nonzero norms");
        assert!(
            (cosine - cosine_exact).abs() <= 1e-4,
            "{cosine} vs {cosine_exact}"
        );
    }
    assert!(kernels::cosine_distance(&[0.0; 8], &[1.0; 8]).is_nan());
}

fn equal_length_f32_pair() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    (0usize..600).prop_flat_map(|len| {
        (
            prop::collection::vec(-1e3f32..1e3f32, len),
            prop::collection::vec(-1e3f32..1e3f32, len),
        )
    })
}

fn equal_length_f16_pair() -> impl Strategy<Value = (Vec<f16>, Vec<f16>)> {
    let value = (-6e4f32..6e4f32).prop_map(f16::from_f32);
    (0usize..600).prop_flat_map(move |len| {
        (
            prop::collection::vec(value.clone(), len),
            prop::collection::vec(value.clone(), len),
        )
    })
}

proptest! {
    // Failures print the case; CI pins PROPTEST_RNG_SEED to replay it.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn prop_every_variant_matches_scalar_f32((a, b) in equal_length_f32_pair()) {
        let a16: Vec<f16> = a.iter().map(|x| f16::from_f32(*x)).collect();
        let b16: Vec<f16> = b.iter().map(|x| f16::from_f32(*x)).collect();
        for k in kernels::available() {
            check_all_kernels(k, &a, &b, &a16, &b16);
        }
    }

    #[test]
    fn prop_every_variant_matches_scalar_f16((a16, b16) in equal_length_f16_pair()) {
        // f16 products up to 6e4² stay far below f32::MAX.
        let a: Vec<f32> = a16.iter().map(|x| x.to_f32()).collect();
        let b: Vec<f32> = b16.iter().map(|x| x.to_f32()).collect();
        for k in kernels::available() {
            check_all_kernels(k, &a, &b, &a16, &b16);
        }
    }

    #[test]
    fn prop_mismatched_lengths_match_scalar(
        a in prop::collection::vec(-10f32..10f32, 0..200),
        b in prop::collection::vec(-10f32..10f32, 0..200),
    ) {
        let a16: Vec<f16> = a.iter().map(|x| f16::from_f32(*x)).collect();
        let b16: Vec<f16> = b.iter().map(|x| f16::from_f32(*x)).collect();
        for k in kernels::available() {
            check_all_kernels(k, &a, &b, &a16, &b16);
        }
    }

    /// Every variant of `bitplane_dot` (exact integer arithmetic) equals the
    /// definition, for 1..4 code planes, 1..8 query planes and widths of 0
    /// to 19 words (several 8-word chunks and a partial one).
    #[test]
    fn prop_bitplane_dot_is_the_integer_inner_product(
        words in 0usize..20,
        code_planes in 1usize..5,
        query_planes in 1usize..9,
        seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let code: Vec<u64> = (0..words * code_planes).map(|_| rng.random()).collect();
        let query: Vec<u64> = (0..words * query_planes).map(|_| rng.random()).collect();
        let expected = bitplane_reference(&code, &query, words);
        for k in kernels::available() {
            prop_assert_eq!(u64::from((k.bitplane_dot)(&code, &query, words)), expected, "{}", k.name);
        }
    }
}

/// `bitplane_dot` by its definition: the integer forms unpacked and
/// multiplied coordinate by coordinate.
fn bitplane_reference(code: &[u64], query: &[u64], words: usize) -> u64 {
    if words == 0 {
        return 0;
    }
    let value = |planes: &[u64], i: usize| -> u64 {
        planes
            .chunks_exact(words)
            .enumerate()
            .map(|(j, p)| ((p[i / 64] >> (i % 64)) & 1) << j)
            .sum()
    };
    (0..64 * words)
        .map(|i| value(code, i) * value(query, i))
        .sum()
}

#[test]
fn bitplane_dot_all_ones_at_embedding_widths() {
    // 384 and 1536 dimensions, four code bits and eight query bits: the
    // largest sums a code can produce (15 · 255 per coordinate).
    for words in [6usize, 24] {
        let code = vec![u64::MAX; 4 * words];
        let query = vec![u64::MAX; 8 * words];
        for k in kernels::available() {
            assert_eq!(
                u64::from((k.bitplane_dot)(&code, &query, words)),
                15 * 255 * 64 * words as u64,
                "{}",
                k.name
            );
        }
    }
}
