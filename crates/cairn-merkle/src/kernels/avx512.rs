//! The `avx512` kernel: sixteen lanes in the sixteen 32-bit lanes of a
//! `__m512i`, rotations with `vprord`. Reachable only through
//! [`super::compress16`], after the CPU reports avx512f.

#![allow(unsafe_code)]

use super::{Kernel, IV, LANES, SCHEDULE};
use std::arch::x86_64::{
    _mm512_add_epi32, _mm512_i32gather_epi32, _mm512_loadu_si512, _mm512_ror_epi32,
    _mm512_set1_epi32, _mm512_setr_epi32, _mm512_setzero_si512, _mm512_storeu_si512,
    _mm512_xor_si512,
};

/// This kernel, if the CPU runs it.
pub(super) fn kernel() -> Option<Kernel> {
    is_x86_feature_detected!("avx512f").then_some(Kernel {
        name: "avx512",
        compress,
    })
}

fn compress(
    cv: &mut [[u32; LANES]; 8],
    m: &[[u32; 16]; LANES],
    block_len: &[u32; LANES],
    flags: &[u32; LANES],
) {
    // SAFETY: reachable only through `kernel()`, which returns this
    // function only after detecting avx512f on this CPU.
    unsafe { imp(cv, m, block_len, flags) }
}

/// The quarter-round `G` on state words `a, b, c, d` with message words
/// `x, y` (a macro, so it is compiled inside `imp` with avx512f enabled).
macro_rules! g {
    ($s:ident, $a:literal, $b:literal, $c:literal, $d:literal, $x:expr, $y:expr) => {
        $s[$a] = _mm512_add_epi32(_mm512_add_epi32($s[$a], $s[$b]), $x);
        $s[$d] = _mm512_ror_epi32::<16>(_mm512_xor_si512($s[$d], $s[$a]));
        $s[$c] = _mm512_add_epi32($s[$c], $s[$d]);
        $s[$b] = _mm512_ror_epi32::<12>(_mm512_xor_si512($s[$b], $s[$c]));
        $s[$a] = _mm512_add_epi32(_mm512_add_epi32($s[$a], $s[$b]), $y);
        $s[$d] = _mm512_ror_epi32::<8>(_mm512_xor_si512($s[$d], $s[$a]));
        $s[$c] = _mm512_add_epi32($s[$c], $s[$d]);
        $s[$b] = _mm512_ror_epi32::<7>(_mm512_xor_si512($s[$b], $s[$c]));
    };
}

/// Round `r`: the columns, then the diagonals.
macro_rules! round {
    ($s:ident, $m:ident, $r:literal) => {
        let z = &SCHEDULE[$r];
        g!($s, 0, 4, 8, 12, $m[z[0]], $m[z[1]]);
        g!($s, 1, 5, 9, 13, $m[z[2]], $m[z[3]]);
        g!($s, 2, 6, 10, 14, $m[z[4]], $m[z[5]]);
        g!($s, 3, 7, 11, 15, $m[z[6]], $m[z[7]]);
        g!($s, 0, 5, 10, 15, $m[z[8]], $m[z[9]]);
        g!($s, 1, 6, 11, 12, $m[z[10]], $m[z[11]]);
        g!($s, 2, 7, 8, 13, $m[z[12]], $m[z[13]]);
        g!($s, 3, 4, 9, 14, $m[z[14]], $m[z[15]]);
    };
}

#[target_feature(enable = "avx512f")]
fn imp(
    cv: &mut [[u32; LANES]; 8],
    m: &[[u32; 16]; LANES],
    block_len: &[u32; LANES],
    flags: &[u32; LANES],
) {
    let mut s = [_mm512_setzero_si512(); 16];
    for (v, words) in s.iter_mut().zip(cv.iter()) {
        // SAFETY: `words` is 16 u32 = 64 readable bytes; loadu needs no alignment.
        *v = unsafe { _mm512_loadu_si512(words.as_ptr().cast()) };
    }
    for (v, iv) in s[8..12].iter_mut().zip(IV) {
        *v = _mm512_set1_epi32(iv as i32);
    }
    // s[12], s[13]: the counter, always 0 here (one-chunk messages).
    // SAFETY: 16 u32 = 64 readable bytes each.
    s[14] = unsafe { _mm512_loadu_si512(block_len.as_ptr().cast()) };
    // SAFETY: as above.
    s[15] = unsafe { _mm512_loadu_si512(flags.as_ptr().cast()) };
    // Word `w` of every lane's block: lane `l`'s block starts at u32 `16 l`.
    let mut mv = [_mm512_setzero_si512(); 16];
    let lanes = _mm512_setr_epi32(
        0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240,
    );
    for (w, v) in mv.iter_mut().enumerate() {
        let at = _mm512_add_epi32(lanes, _mm512_set1_epi32(w as i32));
        // SAFETY: `m` is 16 × 16 u32, contiguous; every index `16 l + w`
        // (l, w < 16) is below 256, inside it.
        *v = unsafe { _mm512_i32gather_epi32::<4>(at, m.as_ptr().cast()) };
    }
    round!(s, mv, 0);
    round!(s, mv, 1);
    round!(s, mv, 2);
    round!(s, mv, 3);
    round!(s, mv, 4);
    round!(s, mv, 5);
    round!(s, mv, 6);
    for (i, words) in cv.iter_mut().enumerate() {
        let out = _mm512_xor_si512(s[i], s[i + 8]);
        // SAFETY: `words` is 64 writable bytes; storeu needs no alignment.
        unsafe { _mm512_storeu_si512(words.as_mut_ptr().cast(), out) };
    }
}
