//! The `"avx512"` kernels (x86_64): AVX-512F for f32, `vcvtph2ps` (zmm form,
//! part of AVX-512F) to widen f16.
//!
//! Reachable only through [`kernels`], which hands out [`KERNELS`] after the
//! CPU (and OS) report avx512f (plus avx2, fma, f16c, which every AVX-512 CPU
//! has); the safe wrappers below rely on that and must never be exported on
//! their own. Every kernel reads exactly the first `min(a.len(), b.len())`
//! elements of each input, and no load can pass the end of a slice: whole
//! chunks are loaded in place from `&[T; 16]` arrays; a partial last chunk
//! is the last 16 elements reloaded with the lanes already counted zeroed
//! (when there are at least 16), else a zero-masked load (f32; masked-off
//! lanes are never accessed) or a copy into a zero-padded buffer (f16).
//!
//! Four independent accumulators (4 × 16 lanes = 64 elements per iteration)
//! hide the FMA latency; they are summed only at the end.

#![allow(unsafe_code)]

use super::Kernels;
use half::f16;
use std::arch::x86_64::{
    __m128i, __m256i, __m512, __mmask16, _mm256_loadu_si256, _mm512_add_ps, _mm512_cvtepi32_ps,
    _mm512_cvtepu8_epi32, _mm512_cvtph_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_maskz_loadu_ps,
    _mm512_maskz_mov_ps, _mm512_reduce_add_ps, _mm512_setzero_ps, _mm512_sub_ps, _mm_loadu_si128,
};
use std::arch::x86_64::{
    __mmask8, _mm512_add_epi64, _mm512_and_si512, _mm512_maskz_loadu_epi64, _mm512_popcnt_epi64,
    _mm512_reduce_add_epi64, _mm512_set1_epi64, _mm512_setzero_si512, _mm512_sllv_epi64,
};

/// f32 lanes in one `__m512`.
const LANES: usize = 16;
/// Independent accumulators in the main loop.
const ACCUMULATORS: usize = 4;

static KERNELS: Kernels = Kernels {
    name: "avx512",
    dot,
    l2_squared,
    dot_f16,
    l2_squared_f16,
    dot_f32_f16,
    l2_squared_f32_f16,
    dot_f32_u8,
    bitplane_dot: super::avx2::bitplane_dot,
};

/// The same kernels with `bitplane_dot` on AVX-512 VPOPCNTDQ (8 words per
/// instruction instead of one).
static KERNELS_VPOPCNT: Kernels = Kernels {
    name: "avx512-vpopcntdq",
    bitplane_dot: bitplane_dot_vpopcnt,
    ..KERNELS
};

/// These kernels, if this CPU can run them: `"avx512"`, then
/// `"avx512-vpopcntdq"` where the CPU also has VPOPCNTDQ.
pub(super) fn kernels() -> Vec<&'static Kernels> {
    let supported = is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
        && is_x86_feature_detected!("popcnt");
    let vpopcnt = supported && is_x86_feature_detected!("avx512vpopcntdq");
    let mut out = Vec::new();
    if supported {
        out.push(&KERNELS);
    }
    if vpopcnt {
        out.push(&KERNELS_VPOPCNT);
    }
    out
}

fn bitplane_dot_vpopcnt(code: &[u64], query: &[u64], words: usize) -> u32 {
    // SAFETY: reachable only via `KERNELS_VPOPCNT`, handed out by
    // `kernels()` after avx512f and avx512vpopcntdq were detected.
    unsafe { imp_bitplane_dot_vpopcnt(code, query, words) }
}

/// `Σ_j Σ_k 2^(j+k) · popcount(code_j & query_k)` (see
/// `Kernels::bitplane_dot`), 8 words at a time: each plane's chunk is one
/// masked load (masked-off lanes are never read), every product's
/// popcounts are shifted by `j + k` and summed in one accumulator, reduced
/// once at the end. Exact integer arithmetic: equal to the scalar loop.
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn imp_bitplane_dot_vpopcnt(code: &[u64], query: &[u64], words: usize) -> u32 {
    if words == 0 {
        return 0;
    }
    let code_planes = code.len() / words;
    let query_planes = query.len() / words;
    let mut acc = _mm512_setzero_si512();
    let mut start = 0;
    while start < words {
        let n = (words - start).min(8);
        let mask: __mmask8 = ((1u16 << n) - 1) as __mmask8;
        for j in 0..code_planes {
            let c = &code[j * words + start..j * words + start + n];
            // SAFETY: `c` holds `n` readable u64; the mask enables exactly
            // the first `n` lanes, and masked-off lanes are not accessed.
            let cv = unsafe { _mm512_maskz_loadu_epi64(mask, c.as_ptr().cast::<i64>()) };
            for k in 0..query_planes {
                let q = &query[k * words + start..k * words + start + n];
                // SAFETY: as for `c`.
                let qv = unsafe { _mm512_maskz_loadu_epi64(mask, q.as_ptr().cast::<i64>()) };
                let ones = _mm512_popcnt_epi64(_mm512_and_si512(cv, qv));
                let shift = _mm512_set1_epi64((j + k) as i64);
                acc = _mm512_add_epi64(acc, _mm512_sllv_epi64(ones, shift));
            }
        }
        start += n;
    }
    _mm512_reduce_add_epi64(acc) as u32
}

// Safe wrappers: the only way to reach them is through `KERNELS`, which
// `kernels()` returns only after detecting every feature the `imp` functions
// enable.

fn dot(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // avx512f, avx2, fma and f16c were detected on this CPU.
    unsafe { imp_dot(a, b) }
}

fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // avx512f, avx2, fma and f16c were detected on this CPU.
    unsafe { imp_l2_squared(a, b) }
}

fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // avx512f, avx2, fma and f16c were detected on this CPU.
    unsafe { imp_dot_f16(a, b) }
}

fn l2_squared_f16(a: &[f16], b: &[f16]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // avx512f, avx2, fma and f16c were detected on this CPU.
    unsafe { imp_l2_squared_f16(a, b) }
}

fn dot_f32_f16(a: &[f32], b: &[f16]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // avx512f, avx2, fma and f16c were detected on this CPU.
    unsafe { imp_dot_f32_f16(a, b) }
}

fn l2_squared_f32_f16(a: &[f32], b: &[f16]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // avx512f, avx2, fma and f16c were detected on this CPU.
    unsafe { imp_l2_squared_f32_f16(a, b) }
}

fn dot_f32_u8(a: &[f32], b: &[u8]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // avx512f, avx2, fma and f16c were detected on this CPU.
    unsafe { imp_dot_f32_u8(a, b) }
}

#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
fn load_f32(x: &[f32; LANES]) -> __m512 {
    // SAFETY: `x` is 16 initialised f32 (64 readable bytes); `loadu` has no
    // alignment requirement.
    unsafe { _mm512_loadu_ps(x.as_ptr()) }
}

#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
fn load_f16(x: &[f16; LANES]) -> __m512 {
    // SAFETY: `x` is 16 initialised f16 (32 readable bytes; `half::f16` is
    // `repr(transparent)` over its IEEE binary16 bits, the layout `vcvtph2ps`
    // reads); `loadu` has no alignment requirement.
    let bits = unsafe { _mm256_loadu_si256(x.as_ptr().cast::<__m256i>()) };
    _mm512_cvtph_ps(bits)
}

#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
fn load_u8(x: &[u8; LANES]) -> __m512 {
    // SAFETY: `x` is 16 initialised bytes; `loadu` has no alignment
    // requirement.
    let bytes = unsafe { _mm_loadu_si128(x.as_ptr().cast::<__m128i>()) };
    _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes))
}

/// Mask of the top `tail_len` lanes (`0 < tail_len < LANES`).
#[inline]
fn top_lanes_mask(tail_len: usize) -> __mmask16 {
    debug_assert!(0 < tail_len && tail_len < LANES);
    (((1u32 << tail_len) - 1) << (LANES - tail_len)) as __mmask16
}

/// The last `tail_len` elements of `prefix` (`0 < tail_len < LANES`), every
/// other lane zero: in the top lanes when `prefix` has at least `LANES`
/// elements, else (then `tail_len == prefix.len()`) in the bottom lanes.
/// The choice depends only on `prefix.len()`, so two inputs of one kernel
/// always line up.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
fn tail_f32(prefix: &[f32], tail_len: usize) -> __m512 {
    match prefix.last_chunk::<LANES>() {
        Some(last) => _mm512_maskz_mov_ps(top_lanes_mask(tail_len), load_f32(last)),
        None => {
            // `prefix.len() < LANES`, so the mask has a bit per element.
            let mask = ((1u32 << prefix.len()) - 1) as __mmask16;
            // SAFETY: lane i is read only if mask bit i is set, i.e. i <
            // prefix.len(); AVX-512 masked loads never access masked-off
            // lanes (no read, no fault); `loadu` has no alignment requirement.
            unsafe { _mm512_maskz_loadu_ps(mask, prefix.as_ptr()) }
        }
    }
}

/// As [`tail_f32`], for f16 elements.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
fn tail_f16(prefix: &[f16], tail_len: usize) -> __m512 {
    match prefix.last_chunk::<LANES>() {
        Some(last) => _mm512_maskz_mov_ps(top_lanes_mask(tail_len), load_f16(last)),
        None => {
            let mut padded = [f16::ZERO; LANES];
            padded[..prefix.len()].copy_from_slice(prefix);
            load_f16(&padded)
        }
    }
}

/// As [`tail_f32`], for bytes.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
fn tail_u8(prefix: &[u8], tail_len: usize) -> __m512 {
    match prefix.last_chunk::<LANES>() {
        Some(last) => _mm512_maskz_mov_ps(top_lanes_mask(tail_len), load_u8(last)),
        None => {
            let mut padded = [0u8; LANES];
            padded[..prefix.len()].copy_from_slice(prefix);
            load_u8(&padded)
        }
    }
}

#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
fn step_dot(acc: __m512, x: __m512, y: __m512) -> __m512 {
    _mm512_fmadd_ps(x, y, acc)
}

#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
fn step_l2(acc: __m512, x: __m512, y: __m512) -> __m512 {
    let d = _mm512_sub_ps(x, y);
    _mm512_fmadd_ps(d, d, acc)
}

/// One kernel: `$step` folds lane-wise pairs loaded by `$load_a`/`$load_b`
/// (`$tail_a`/`$tail_b` for a partial last chunk) into the accumulators.
macro_rules! kernel {
    (
        $name:ident, $a:ty, $b:ty,
        $load_a:ident, $load_b:ident, $tail_a:ident, $tail_b:ident, $step:ident
    ) => {
        #[target_feature(enable = "avx512f,avx2,fma,f16c")]
        fn $name(a: &[$a], b: &[$b]) -> f32 {
            let n = a.len().min(b.len());
            let (a, b) = (&a[..n], &b[..n]);
            let (a_chunks, tail) = a.as_chunks::<LANES>();
            let (b_chunks, _) = b.as_chunks::<LANES>();
            let (a_blocks, a_rest) = a_chunks.as_chunks::<ACCUMULATORS>();
            let (b_blocks, b_rest) = b_chunks.as_chunks::<ACCUMULATORS>();

            let mut acc = [_mm512_setzero_ps(); ACCUMULATORS];
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
            _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)))
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
