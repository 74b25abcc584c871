//! The `"avx2-fma"` kernels (x86_64): AVX2 + FMA for f32, F16C to widen f16.
//!
//! Reachable only through [`kernels`], which hands out [`KERNELS`] after the
//! CPU reports avx2, fma and f16c; the safe wrappers below rely on that and
//! must never be exported on their own. Every kernel reads exactly the first
//! `min(a.len(), b.len())` elements of each input, and every load is of a
//! `&[T; 8]` array, so no load can pass the end of a slice: whole chunks are
//! loaded in place; a partial last chunk is either the last 8 elements
//! reloaded with the lanes already counted zeroed (when there are at least
//! 8) or a copy into a zero-padded buffer (when there are fewer).
//!
//! Four independent accumulators (4 × 8 lanes = 32 elements per iteration)
//! hide the FMA latency; they are summed only at the end.

#![allow(unsafe_code)]

use super::Kernels;
use half::f16;
use std::arch::x86_64::{
    __m128i, __m256, _mm256_add_ps, _mm256_and_ps, _mm256_castps256_ps128, _mm256_castsi256_ps,
    _mm256_cmpgt_epi32, _mm256_cvtepi32_ps, _mm256_cvtepu8_epi32, _mm256_cvtph_ps,
    _mm256_extractf128_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_epi32, _mm256_setr_epi32,
    _mm256_setzero_ps, _mm256_sub_ps, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_loadl_epi64,
    _mm_loadu_si128, _mm_movehl_ps, _mm_shuffle_ps,
};

/// f32 lanes in one `__m256`.
const LANES: usize = 8;
/// Independent accumulators in the main loop.
const ACCUMULATORS: usize = 4;

static KERNELS: Kernels = Kernels {
    name: "avx2-fma",
    dot,
    l2_squared,
    dot_f16,
    l2_squared_f16,
    dot_f32_f16,
    l2_squared_f32_f16,
    dot_f32_u8,
    bitplane_dot,
};

/// These kernels, if this CPU can run them.
pub(super) fn kernels() -> Option<&'static Kernels> {
    let supported = is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
        && is_x86_feature_detected!("popcnt");
    supported.then_some(&KERNELS)
}

/// The scalar loop compiled with the `popcnt` instruction (without it,
/// `count_ones` is a dozen shifts and masks). Also the `"avx512"` variant's.
pub(super) fn bitplane_dot(code: &[u64], query: &[u64], words: usize) -> u32 {
    // SAFETY: reachable only via the `KERNELS` of this module or of
    // `avx512`, handed out by their `kernels()` after popcnt was detected.
    unsafe { imp_bitplane_dot(code, query, words) }
}

#[target_feature(enable = "popcnt")]
fn imp_bitplane_dot(code: &[u64], query: &[u64], words: usize) -> u32 {
    super::scalar::bitplane_dot(code, query, words)
}

// Safe wrappers: the only way to reach them is through `KERNELS`, which
// `kernels()` returns only after detecting every feature the `imp` functions
// enable.

fn dot(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // avx2, fma and f16c were detected on this CPU.
    unsafe { imp_dot(a, b) }
}

fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // avx2, fma and f16c were detected on this CPU.
    unsafe { imp_l2_squared(a, b) }
}

fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // avx2, fma and f16c were detected on this CPU.
    unsafe { imp_dot_f16(a, b) }
}

fn l2_squared_f16(a: &[f16], b: &[f16]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // avx2, fma and f16c were detected on this CPU.
    unsafe { imp_l2_squared_f16(a, b) }
}

fn dot_f32_f16(a: &[f32], b: &[f16]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // avx2, fma and f16c were detected on this CPU.
    unsafe { imp_dot_f32_f16(a, b) }
}

fn l2_squared_f32_f16(a: &[f32], b: &[f16]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // avx2, fma and f16c were detected on this CPU.
    unsafe { imp_l2_squared_f32_f16(a, b) }
}

fn dot_f32_u8(a: &[f32], b: &[u8]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // avx2, fma and f16c were detected on this CPU.
    unsafe { imp_dot_f32_u8(a, b) }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn load_f32(x: &[f32; LANES]) -> __m256 {
    // SAFETY: `x` is 8 initialised f32 (32 readable bytes); `loadu` has no
    // alignment requirement.
    unsafe { _mm256_loadu_ps(x.as_ptr()) }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn load_f16(x: &[f16; LANES]) -> __m256 {
    // SAFETY: `x` is 8 initialised f16 (16 readable bytes; `half::f16` is
    // `repr(transparent)` over its IEEE binary16 bits, the layout `vcvtph2ps`
    // reads); `loadu` has no alignment requirement.
    let bits = unsafe { _mm_loadu_si128(x.as_ptr().cast::<__m128i>()) };
    _mm256_cvtph_ps(bits)
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn load_u8(x: &[u8; LANES]) -> __m256 {
    // SAFETY: `x` is 8 initialised bytes (8 readable bytes: `loadl_epi64`
    // reads exactly 8); no alignment requirement.
    let bytes = unsafe { _mm_loadl_epi64(x.as_ptr().cast::<__m128i>()) };
    _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes))
}

/// All-ones in the top `tail_len` lanes (`0 < tail_len < LANES`), zero in
/// the others.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn top_lanes_mask(tail_len: usize) -> __m256 {
    debug_assert!(0 < tail_len && tail_len < LANES);
    let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let last_counted = _mm256_set1_epi32(LANES as i32 - tail_len as i32 - 1);
    _mm256_castsi256_ps(_mm256_cmpgt_epi32(lane, last_counted))
}

/// The last `tail_len` elements of `prefix` (`0 < tail_len < LANES`), every
/// other lane zero: in the top lanes when `prefix` has at least `LANES`
/// elements, else (then `tail_len == prefix.len()`) in the bottom lanes.
/// The choice depends only on `prefix.len()`, so two inputs of one kernel
/// always line up.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn tail_f32(prefix: &[f32], tail_len: usize) -> __m256 {
    match prefix.last_chunk::<LANES>() {
        Some(last) => _mm256_and_ps(load_f32(last), top_lanes_mask(tail_len)),
        None => {
            let mut padded = [0.0; LANES];
            padded[..prefix.len()].copy_from_slice(prefix);
            load_f32(&padded)
        }
    }
}

/// As [`tail_f32`], for f16 elements.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn tail_f16(prefix: &[f16], tail_len: usize) -> __m256 {
    match prefix.last_chunk::<LANES>() {
        Some(last) => _mm256_and_ps(load_f16(last), top_lanes_mask(tail_len)),
        None => {
            let mut padded = [f16::ZERO; LANES];
            padded[..prefix.len()].copy_from_slice(prefix);
            load_f16(&padded)
        }
    }
}

/// As [`tail_f32`], for bytes.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn tail_u8(prefix: &[u8], tail_len: usize) -> __m256 {
    match prefix.last_chunk::<LANES>() {
        Some(last) => _mm256_and_ps(load_u8(last), top_lanes_mask(tail_len)),
        None => {
            let mut padded = [0u8; LANES];
            padded[..prefix.len()].copy_from_slice(prefix);
            load_u8(&padded)
        }
    }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn step_dot(acc: __m256, x: __m256, y: __m256) -> __m256 {
    _mm256_fmadd_ps(x, y, acc)
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn step_l2(acc: __m256, x: __m256, y: __m256) -> __m256 {
    let d = _mm256_sub_ps(x, y);
    _mm256_fmadd_ps(d, d, acc)
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn horizontal_sum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
    _mm_cvtss_f32(s)
}

/// One kernel: `$step` folds lane-wise pairs loaded by `$load_a`/`$load_b`
/// (`$tail_a`/`$tail_b` for a partial last chunk) into the accumulators.
macro_rules! kernel {
    (
        $name:ident, $a:ty, $b:ty,
        $load_a:ident, $load_b:ident, $tail_a:ident, $tail_b:ident, $step:ident
    ) => {
        #[target_feature(enable = "avx2,fma,f16c")]
        fn $name(a: &[$a], b: &[$b]) -> f32 {
            let n = a.len().min(b.len());
            let (a, b) = (&a[..n], &b[..n]);
            let (a_chunks, tail) = a.as_chunks::<LANES>();
            let (b_chunks, _) = b.as_chunks::<LANES>();
            let (a_blocks, a_rest) = a_chunks.as_chunks::<ACCUMULATORS>();
            let (b_blocks, b_rest) = b_chunks.as_chunks::<ACCUMULATORS>();

            let mut acc = [_mm256_setzero_ps(); ACCUMULATORS];
            for (block_a, block_b) in a_blocks.iter().zip(b_blocks) {
                for ((acc, x), y) in acc.iter_mut().zip(block_a).zip(block_b) {
                    *acc = $step(*acc, $load_a(x), $load_b(y));
                }
            }
            // Fewer than ACCUMULATORS whole chunks remain.
            for ((acc, x), y) in acc.iter_mut().zip(a_rest).zip(b_rest) {
                *acc = $step(*acc, $load_a(x), $load_b(y));
            }
            if !tail.is_empty() {
                // Zero lanes contribute 0·0 = 0 and (0 − 0)² = 0.
                let (x, y) = ($tail_a(a, tail.len()), $tail_b(b, tail.len()));
                acc[0] = $step(acc[0], x, y);
            }
            let [a0, a1, a2, a3] = acc;
            horizontal_sum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)))
        }
    };
}

kernel!(imp_dot, f32, f32, load_f32, load_f32, tail_f32, tail_f32, step_dot);
kernel!(
    imp_l2_squared,
    f32,
    f32,
    load_f32,
    load_f32,
    tail_f32,
    tail_f32,
    step_l2
);
kernel!(
    imp_dot_f16,
    f16,
    f16,
    load_f16,
    load_f16,
    tail_f16,
    tail_f16,
    step_dot
);
kernel!(
    imp_l2_squared_f16,
    f16,
    f16,
    load_f16,
    load_f16,
    tail_f16,
    tail_f16,
    step_l2
);
kernel!(
    imp_dot_f32_f16,
    f32,
    f16,
    load_f32,
    load_f16,
    tail_f32,
    tail_f16,
    step_dot
);
kernel!(
    imp_l2_squared_f32_f16,
    f32,
    f16,
    load_f32,
    load_f16,
    tail_f32,
    tail_f16,
    step_l2
);
kernel!(
    imp_dot_f32_u8,
    f32,
    u8,
    load_f32,
    load_u8,
    tail_f32,
    tail_u8,
    step_dot
);
