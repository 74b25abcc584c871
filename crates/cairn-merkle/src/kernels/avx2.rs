//! The `avx2` kernel: sixteen lanes as two halves of eight, each half in
//! the eight 32-bit lanes of a `__m256i`. Rotations by 16 and 8 are byte
//! shuffles; by 12 and 7, two shifts and an or. Reachable only through
//! [`super::compress16`], after the CPU reports avx2.

#![allow(unsafe_code)]

use super::{Kernel, IV, LANES, SCHEDULE};
use std::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_i32gather_epi32, _mm256_loadu_si256, _mm256_or_si256,
    _mm256_set1_epi32, _mm256_setr_epi32, _mm256_setr_epi8, _mm256_setzero_si256,
    _mm256_shuffle_epi8, _mm256_slli_epi32, _mm256_srli_epi32, _mm256_storeu_si256,
    _mm256_xor_si256,
};

/// Lanes in one `__m256i`.
const HALF: usize = 8;

/// This kernel, if the CPU runs it.
pub(super) fn kernel() -> Option<Kernel> {
    is_x86_feature_detected!("avx2").then_some(Kernel {
        name: "avx2",
        compress,
    })
}

fn compress(
    cv: &mut [[u32; LANES]; 8],
    m: &[[u32; 16]; LANES],
    block_len: &[u32; LANES],
    flags: &[u32; LANES],
) {
    for half in 0..LANES / HALF {
        // SAFETY: reachable only through `kernel()`, which returns this
        // function only after detecting avx2 on this CPU.
        unsafe { imp(cv, m, block_len, flags, half * HALF) }
    }
}

/// The quarter-round `G` on state words `a, b, c, d` with message words
/// `x, y` (a macro, so it is compiled inside `imp` with avx2 enabled).
macro_rules! g {
    ($s:ident, $rot16:ident, $rot8:ident, $a:literal, $b:literal, $c:literal, $d:literal, $x:expr, $y:expr) => {
        $s[$a] = _mm256_add_epi32(_mm256_add_epi32($s[$a], $s[$b]), $x);
        $s[$d] = _mm256_shuffle_epi8(_mm256_xor_si256($s[$d], $s[$a]), $rot16);
        $s[$c] = _mm256_add_epi32($s[$c], $s[$d]);
        let t = _mm256_xor_si256($s[$b], $s[$c]);
        $s[$b] = _mm256_or_si256(_mm256_srli_epi32::<12>(t), _mm256_slli_epi32::<20>(t));
        $s[$a] = _mm256_add_epi32(_mm256_add_epi32($s[$a], $s[$b]), $y);
        $s[$d] = _mm256_shuffle_epi8(_mm256_xor_si256($s[$d], $s[$a]), $rot8);
        $s[$c] = _mm256_add_epi32($s[$c], $s[$d]);
        let t = _mm256_xor_si256($s[$b], $s[$c]);
        $s[$b] = _mm256_or_si256(_mm256_srli_epi32::<7>(t), _mm256_slli_epi32::<25>(t));
    };
}

/// Round `r`: the columns, then the diagonals.
macro_rules! round {
    ($s:ident, $m:ident, $rot16:ident, $rot8:ident, $r:literal) => {
        let z = &SCHEDULE[$r];
        g!($s, $rot16, $rot8, 0, 4, 8, 12, $m[z[0]], $m[z[1]]);
        g!($s, $rot16, $rot8, 1, 5, 9, 13, $m[z[2]], $m[z[3]]);
        g!($s, $rot16, $rot8, 2, 6, 10, 14, $m[z[4]], $m[z[5]]);
        g!($s, $rot16, $rot8, 3, 7, 11, 15, $m[z[6]], $m[z[7]]);
        g!($s, $rot16, $rot8, 0, 5, 10, 15, $m[z[8]], $m[z[9]]);
        g!($s, $rot16, $rot8, 1, 6, 11, 12, $m[z[10]], $m[z[11]]);
        g!($s, $rot16, $rot8, 2, 7, 8, 13, $m[z[12]], $m[z[13]]);
        g!($s, $rot16, $rot8, 3, 4, 9, 14, $m[z[14]], $m[z[15]]);
    };
}

/// Compresses lanes `from..from + 8`.
#[target_feature(enable = "avx2")]
fn imp(
    cv: &mut [[u32; LANES]; 8],
    m: &[[u32; 16]; LANES],
    block_len: &[u32; LANES],
    flags: &[u32; LANES],
    from: usize,
) {
    // Byte shuffles rotating each 32-bit lane right by 16 and by 8.
    let rot16 = _mm256_setr_epi8(
        2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9,
        14, 15, 12, 13,
    );
    let rot8 = _mm256_setr_epi8(
        1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12, 1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8,
        13, 14, 15, 12,
    );
    let mut s = [_mm256_setzero_si256(); 16];
    for (v, words) in s.iter_mut().zip(cv.iter()) {
        let half = &words[from..from + HALF];
        // SAFETY: `half` is 8 u32 = 32 readable bytes; loadu needs no alignment.
        *v = unsafe { _mm256_loadu_si256(half.as_ptr().cast()) };
    }
    for (v, iv) in s[8..12].iter_mut().zip(IV) {
        *v = _mm256_set1_epi32(iv as i32);
    }
    // s[12], s[13]: the counter, always 0 here (one-chunk messages).
    let (block_len, flags) = (&block_len[from..from + HALF], &flags[from..from + HALF]);
    // SAFETY: 8 u32 = 32 readable bytes each.
    s[14] = unsafe { _mm256_loadu_si256(block_len.as_ptr().cast()) };
    // SAFETY: as above.
    s[15] = unsafe { _mm256_loadu_si256(flags.as_ptr().cast()) };
    // Word `w` of lanes `from..from + 8`: lane `l`'s block starts at u32 `16 l`.
    let mut mv: [__m256i; 16] = [_mm256_setzero_si256(); 16];
    let base = (from * 16) as i32;
    let lanes = _mm256_setr_epi32(
        base,
        base + 16,
        base + 32,
        base + 48,
        base + 64,
        base + 80,
        base + 96,
        base + 112,
    );
    for (w, v) in mv.iter_mut().enumerate() {
        let at = _mm256_add_epi32(lanes, _mm256_set1_epi32(w as i32));
        // SAFETY: `m` is 16 × 16 u32, contiguous; every index `16 l + w`
        // (l, w < 16) is below 256, inside it.
        *v = unsafe { _mm256_i32gather_epi32::<4>(m.as_ptr().cast(), at) };
    }
    round!(s, mv, rot16, rot8, 0);
    round!(s, mv, rot16, rot8, 1);
    round!(s, mv, rot16, rot8, 2);
    round!(s, mv, rot16, rot8, 3);
    round!(s, mv, rot16, rot8, 4);
    round!(s, mv, rot16, rot8, 5);
    round!(s, mv, rot16, rot8, 6);
    for (i, words) in cv.iter_mut().enumerate() {
        let out = _mm256_xor_si256(s[i], s[i + 8]);
        let half = &mut words[from..from + HALF];
        // SAFETY: `half` is 32 writable bytes; storeu needs no alignment.
        unsafe { _mm256_storeu_si256(half.as_mut_ptr().cast(), out) };
    }
}
