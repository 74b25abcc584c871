//! The `"neon"` kernels (aarch64): NEON FMA for f32; f16 is widened to f32
//! in NEON integer registers (stable Rust has no `float16x4_t` yet).
//!
//! Reachable only through [`kernels`], which hands out [`KERNELS`] after the
//! CPU reports neon (always true on aarch64 Linux, checked anyway); the safe
//! wrappers below rely on that and must never be exported on their own.
//! Every kernel reads exactly the first `min(a.len(), b.len())` elements of
//! each input, and every load is of a `&[T; 4]` array, so no load can pass
//! the end of a slice: whole chunks are loaded in place; a partial last
//! chunk is either the last 4 elements reloaded with the lanes already
//! counted zeroed (when there are at least 4) or a copy into a zero-padded
//! buffer (when there are fewer).
//!
//! Four independent accumulators (4 × 4 lanes = 16 elements per iteration)
//! hide the FMA latency; they are summed only at the end.

#![allow(unsafe_code)]

use super::Kernels;
use half::f16;
use std::arch::aarch64::{
    float32x4_t, uint32x4_t, vaddq_f32, vaddvq_f32, vandq_u32, vbslq_f32, vbslq_u32, vceqq_u32,
    vcgtq_u32, vdupq_n_f32, vdupq_n_u32, vfmaq_f32, vld1_u16, vld1q_f32, vld1q_u32, vmovl_u16,
    vmulq_f32, vorrq_u32, vreinterpretq_f32_u32, vreinterpretq_u32_f32, vshlq_n_u32, vsubq_f32,
};

/// f32 lanes in one `float32x4_t`.
const LANES: usize = 4;
/// Independent accumulators in the main loop.
const ACCUMULATORS: usize = 4;

static KERNELS: Kernels = Kernels {
    name: "neon",
    dot,
    l2_squared,
    dot_f16,
    l2_squared_f16,
    dot_f32_f16,
    l2_squared_f32_f16,
    dot_f32_u8,
    // `count_ones` is already `cnt` on aarch64.
    bitplane_dot: super::scalar::bitplane_dot,
};

/// These kernels, if this CPU can run them.
pub(super) fn kernels() -> Option<&'static Kernels> {
    std::arch::is_aarch64_feature_detected!("neon").then_some(&KERNELS)
}

// Safe wrappers: the only way to reach them is through `KERNELS`, which
// `kernels()` returns only after detecting neon.

fn dot(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // neon was detected on this CPU.
    unsafe { imp_dot(a, b) }
}

fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // neon was detected on this CPU.
    unsafe { imp_l2_squared(a, b) }
}

fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // neon was detected on this CPU.
    unsafe { imp_dot_f16(a, b) }
}

fn l2_squared_f16(a: &[f16], b: &[f16]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // neon was detected on this CPU.
    unsafe { imp_l2_squared_f16(a, b) }
}

fn dot_f32_f16(a: &[f32], b: &[f16]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // neon was detected on this CPU.
    unsafe { imp_dot_f32_f16(a, b) }
}

fn l2_squared_f32_f16(a: &[f32], b: &[f16]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // neon was detected on this CPU.
    unsafe { imp_l2_squared_f32_f16(a, b) }
}

fn dot_f32_u8(a: &[f32], b: &[u8]) -> f32 {
    // SAFETY: reachable only via `KERNELS`, handed out by `kernels()` after
    // neon was detected on this CPU.
    unsafe { imp_dot_f32_u8(a, b) }
}

#[inline]
#[target_feature(enable = "neon")]
fn load_f32(x: &[f32; LANES]) -> float32x4_t {
    // SAFETY: `x` is 4 initialised f32 (16 readable bytes); `vld1q_f32`
    // needs only f32 alignment, which `x` has.
    unsafe { vld1q_f32(x.as_ptr()) }
}

/// Widens 4 bytes to f32 (exactly: every byte is an f32).
#[inline]
#[target_feature(enable = "neon")]
fn load_u8(x: &[u8; LANES]) -> float32x4_t {
    let widened = x.map(f32::from);
    load_f32(&widened)
}

/// Widens 4 f16 to f32 exactly (the same values as `f16::to_f32`; NaNs stay
/// NaN, payloads may differ).
///
/// The magnitude bits shifted into f32 position read as `2^(e-127)·1.m` for
/// a normal half with exponent `e`, and `m·2^-136` for a subnormal one; both
/// times `2^112` are the half's value (`2^(e-15)·1.m`, `m·2^-24`). Exponent
/// 31 (inf/NaN) instead gets the all-ones f32 exponent. The sign is OR-ed
/// back last.
#[inline]
#[target_feature(enable = "neon")]
fn load_f16(x: &[f16; LANES]) -> float32x4_t {
    // SAFETY: `x` is 4 initialised f16 (8 readable bytes, u16-aligned;
    // `half::f16` is `repr(transparent)` over its IEEE binary16 bits).
    let half_bits = unsafe { vld1_u16(x.as_ptr().cast::<u16>()) };
    let h = vmovl_u16(half_bits);
    let sign = vshlq_n_u32::<16>(vandq_u32(h, vdupq_n_u32(0x8000)));
    let magnitude = vshlq_n_u32::<13>(vandq_u32(h, vdupq_n_u32(0x7fff)));
    let scaled = vreinterpretq_u32_f32(vmulq_f32(
        vreinterpretq_f32_u32(magnitude),
        vreinterpretq_f32_u32(vdupq_n_u32(0x7780_0000)), // 2^112
    ));
    let exponent_f32 = vdupq_n_u32(0x7c00 << 13);
    let is_inf_or_nan = vceqq_u32(vandq_u32(magnitude, exponent_f32), exponent_f32);
    let inf_or_nan = vorrq_u32(magnitude, vdupq_n_u32(0x7f80_0000));
    let bits = vbslq_u32(is_inf_or_nan, inf_or_nan, scaled);
    vreinterpretq_f32_u32(vorrq_u32(bits, sign))
}

/// All-ones in the top `tail_len` lanes (`0 < tail_len < LANES`), zero in
/// the others.
#[inline]
#[target_feature(enable = "neon")]
fn top_lanes_mask(tail_len: usize) -> uint32x4_t {
    debug_assert!(0 < tail_len && tail_len < LANES);
    const LANE_INDEX: [u32; LANES] = [0, 1, 2, 3];
    // SAFETY: `LANE_INDEX` is 4 initialised u32 (16 readable bytes, u32-aligned).
    let lane = unsafe { vld1q_u32(LANE_INDEX.as_ptr()) };
    let last_counted = (LANES - tail_len - 1) as u32;
    vcgtq_u32(lane, vdupq_n_u32(last_counted))
}

/// The last `tail_len` elements of `prefix` (`0 < tail_len < LANES`), every
/// other lane zero: in the top lanes when `prefix` has at least `LANES`
/// elements, else (then `tail_len == prefix.len()`) in the bottom lanes.
/// The choice depends only on `prefix.len()`, so two inputs of one kernel
/// always line up.
#[inline]
#[target_feature(enable = "neon")]
fn tail_f32(prefix: &[f32], tail_len: usize) -> float32x4_t {
    match prefix.last_chunk::<LANES>() {
        Some(last) => vbslq_f32(top_lanes_mask(tail_len), load_f32(last), vdupq_n_f32(0.0)),
        None => {
            let mut padded = [0.0; LANES];
            padded[..prefix.len()].copy_from_slice(prefix);
            load_f32(&padded)
        }
    }
}

/// As [`tail_f32`], for f16 elements.
#[inline]
#[target_feature(enable = "neon")]
fn tail_f16(prefix: &[f16], tail_len: usize) -> float32x4_t {
    match prefix.last_chunk::<LANES>() {
        Some(last) => vbslq_f32(top_lanes_mask(tail_len), load_f16(last), vdupq_n_f32(0.0)),
        None => {
            let mut padded = [f16::ZERO; LANES];
            padded[..prefix.len()].copy_from_slice(prefix);
            load_f16(&padded)
        }
    }
}

/// As [`tail_f32`], for bytes.
#[inline]
#[target_feature(enable = "neon")]
fn tail_u8(prefix: &[u8], tail_len: usize) -> float32x4_t {
    match prefix.last_chunk::<LANES>() {
        Some(last) => vbslq_f32(top_lanes_mask(tail_len), load_u8(last), vdupq_n_f32(0.0)),
        None => {
            let mut padded = [0u8; LANES];
            padded[..prefix.len()].copy_from_slice(prefix);
            load_u8(&padded)
        }
    }
}

#[inline]
#[target_feature(enable = "neon")]
fn step_dot(acc: float32x4_t, x: float32x4_t, y: float32x4_t) -> float32x4_t {
    vfmaq_f32(acc, x, y)
}

#[inline]
#[target_feature(enable = "neon")]
fn step_l2(acc: float32x4_t, x: float32x4_t, y: float32x4_t) -> float32x4_t {
    let d = vsubq_f32(x, y);
    vfmaq_f32(acc, d, d)
}

/// One kernel: `$step` folds lane-wise pairs loaded by `$load_a`/`$load_b`
/// (`$tail_a`/`$tail_b` for a partial last chunk) into the accumulators.
macro_rules! kernel {
    (
        $name:ident, $a:ty, $b:ty,
        $load_a:ident, $load_b:ident, $tail_a:ident, $tail_b:ident, $step:ident
    ) => {
        #[target_feature(enable = "neon")]
        fn $name(a: &[$a], b: &[$b]) -> f32 {
            let n = a.len().min(b.len());
            let (a, b) = (&a[..n], &b[..n]);
            let (a_chunks, tail) = a.as_chunks::<LANES>();
            let (b_chunks, _) = b.as_chunks::<LANES>();
            let (a_blocks, a_rest) = a_chunks.as_chunks::<ACCUMULATORS>();
            let (b_blocks, b_rest) = b_chunks.as_chunks::<ACCUMULATORS>();

            let mut acc = [vdupq_n_f32(0.0); ACCUMULATORS];
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
            vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)))
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
