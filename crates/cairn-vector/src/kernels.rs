//! Distance kernels: a scalar reference and SIMD variants, one of which is
//! chosen once per process from the CPU's features ([`best`]).
//!
//! Every kernel processes `min(a.len(), b.len())` elements (callers pass
//! equal lengths; a mismatch is never undefined behaviour). Results of SIMD
//! variants differ from the scalar reference only by float rounding; the
//! exact, machine-independent distances used for final ordering live in
//! `cairn_core::vector` (f64, summed in a fixed order of lanes that does
//! not depend on the CPU).

use half::f16;
use std::sync::OnceLock;

/// One instruction-set variant of every kernel.
pub struct Kernels {
    /// `"scalar"`, `"avx2-fma"`, `"avx512"`, `"avx512-vpopcntdq"`, `"neon"`.
    pub name: &'static str,
    /// Inner product.
    pub dot: fn(&[f32], &[f32]) -> f32,
    /// Squared Euclidean distance.
    pub l2_squared: fn(&[f32], &[f32]) -> f32,
    pub dot_f16: fn(&[f16], &[f16]) -> f32,
    pub l2_squared_f16: fn(&[f16], &[f16]) -> f32,
    /// A query in f32 against a stored f16 vector.
    pub dot_f32_f16: fn(&[f32], &[f16]) -> f32,
    pub l2_squared_f32_f16: fn(&[f32], &[f16]) -> f32,
    /// An f32 vector against bytes (each byte widened to f32): the inner
    /// loop of SQ8 scoring (`hnsw::Sq8`).
    pub dot_f32_u8: fn(&[f32], &[u8]) -> f32,
    /// `Σ_j Σ_k 2^(j+k) · popcount(code_j & query_k)` over the bit planes
    /// (`words` u64 each) of a code and of a query: the inner product of
    /// their integer forms, the inner loop of RaBitQ scoring
    /// (`quant::RabitqCodes`). Planes past the shorter input are ignored.
    pub bitplane_dot: fn(&[u64], &[u64], usize) -> u32,
}

pub static SCALAR: Kernels = Kernels {
    name: "scalar",
    dot: scalar::dot,
    l2_squared: scalar::l2_squared,
    dot_f16: scalar::dot_f16,
    l2_squared_f16: scalar::l2_squared_f16,
    dot_f32_f16: scalar::dot_f32_f16,
    l2_squared_f32_f16: scalar::l2_squared_f32_f16,
    dot_f32_u8: scalar::dot_f32_u8,
    bitplane_dot: scalar::bitplane_dot,
};

mod prefetch;
pub use prefetch::prefetch;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;

/// Every variant this CPU can run, the scalar reference first, then in
/// increasing order of preference (x86_64: `"avx2-fma"`, `"avx512"`,
/// `"avx512-vpopcntdq"` — the same with AVX-512 popcounts for RaBitQ;
/// aarch64: `"neon"`).
///
/// The SIMD variants are not reachable any other way: a `Kernels` holding
/// them exists for callers only once the CPU has been checked.
pub fn available() -> Vec<&'static Kernels> {
    let mut variants: Vec<&'static Kernels> = vec![&SCALAR];
    #[cfg(target_arch = "x86_64")]
    variants.extend(avx2::kernels());
    #[cfg(target_arch = "x86_64")]
    variants.extend(avx512::kernels());
    #[cfg(target_arch = "aarch64")]
    variants.extend(neon::kernels());
    variants
}

/// The fastest variant this CPU can run (chosen once).
pub fn best() -> &'static Kernels {
    static BEST: OnceLock<&'static Kernels> = OnceLock::new();
    BEST.get_or_init(|| available().last().copied().unwrap_or(&SCALAR))
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    (best().dot)(a, b)
}

pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    (best().l2_squared)(a, b)
}

pub fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

/// `1 - cos(a, b)`; NaN when either vector has norm zero.
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    let k = best();
    let ab = (k.dot)(a, b);
    let aa = (k.dot)(a, a);
    let bb = (k.dot)(b, b);
    let denom = (aa * bb).sqrt();
    if denom == 0.0 {
        return f32::NAN;
    }
    (1.0 - ab / denom).clamp(0.0, 2.0)
}

/// Scalar reference kernels: the definition every SIMD variant is tested
/// against.
pub mod scalar {
    use half::f16;

    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| {
                let d = x - y;
                d * d
            })
            .sum()
    }

    pub fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x.to_f32() * y.to_f32()).sum()
    }

    pub fn l2_squared_f16(a: &[f16], b: &[f16]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| {
                let d = x.to_f32() - y.to_f32();
                d * d
            })
            .sum()
    }

    pub fn dot_f32_f16(a: &[f32], b: &[f16]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y.to_f32()).sum()
    }

    pub fn l2_squared_f32_f16(a: &[f32], b: &[f16]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| {
                let d = x - y.to_f32();
                d * d
            })
            .sum()
    }

    pub fn dot_f32_u8(a: &[f32], b: &[u8]) -> f32 {
        a.iter().zip(b).map(|(x, &y)| x * f32::from(y)).sum()
    }

    #[inline(always)]
    pub fn bitplane_dot(code: &[u64], query: &[u64], words: usize) -> u32 {
        if words == 0 {
            return 0;
        }
        let mut total = 0u32;
        for (j, c) in code.chunks_exact(words).enumerate() {
            for (k, q) in query.chunks_exact(words).enumerate() {
                let ones: u32 = c.iter().zip(q).map(|(a, b)| (a & b).count_ones()).sum();
                total = total.wrapping_add(ones << (j + k));
            }
        }
        total
    }
}
