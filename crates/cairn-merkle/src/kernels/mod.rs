//! SIMD blake3 compression kernels for [`crate::batch`]: sixteen
//! independent one-block compressions at once, one per SIMD lane, so a
//! batch of trie nodes is re-hashed in a fraction of the time of sixteen
//! `blake3::keyed_hash` calls.
//!
//! Compiled only with the `simd` feature on x86_64; a verifier built
//! without it has no `unsafe` at all (`lib.rs` then forbids it). Each
//! kernel module is the only place its instructions are used, reachable
//! only through [`compress16`], which hands one out after the CPU reports
//! every feature it needs. The chaining values are transposed (`cv[w][l]` is
//! word `w` of lane `l`'s), the message blocks are not (`m[l][w]` is word
//! `w` of lane `l`'s block; the kernels gather them).
//!
//! The scalar reference is `blake3::keyed_hash` itself: `batch`'s tests run
//! every kernel this CPU supports against it.

mod avx2;
mod avx512;

use std::sync::OnceLock;

/// Lanes per kernel call.
pub const LANES: usize = 16;

/// One compression of sixteen lanes: lane `l` of `cv` becomes the first
/// eight output words (`v[i] ^ v[i + 8]`) of compressing `m[l]` (lane `l`'s
/// sixteen message words, in order) under it with counter 0,
/// `block_len[l]` and `flags[l]`.
pub type Compress16 = fn(&mut [[u32; LANES]; 8], &[[u32; 16]; LANES], &[u32; LANES], &[u32; LANES]);

/// A named kernel.
#[derive(Clone, Copy)]
pub struct Kernel {
    pub name: &'static str,
    pub compress: Compress16,
}

/// The fastest kernel this CPU runs, if any (detected once).
pub fn compress16() -> Option<Kernel> {
    static BEST: OnceLock<Option<Kernel>> = OnceLock::new();
    *BEST.get_or_init(|| available().first().copied())
}

/// Every kernel this CPU runs, fastest first (tests run them all).
pub fn available() -> Vec<Kernel> {
    [avx512::kernel(), avx2::kernel()]
        .into_iter()
        .flatten()
        .collect()
}

/// The blake3 IV (the first eight words of the state's third row).
pub(crate) const IV: [u32; 8] = [
    0x6A09_E667,
    0xBB67_AE85,
    0x3C6E_F372,
    0xA54F_F53A,
    0x510E_527F,
    0x9B05_688C,
    0x1F83_D9AB,
    0x5BE0_CD19,
];

/// blake3's message word permutation, applied between rounds.
const PERMUTATION: [usize; 16] = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];

/// Which message word each round reads in each position (round 0 reads
/// them in order; each later round permutes the previous one's order).
pub(crate) const SCHEDULE: [[usize; 16]; 7] = {
    let mut t = [[0usize; 16]; 7];
    let mut i = 0;
    while i < 16 {
        t[0][i] = i;
        i += 1;
    }
    let mut r = 1;
    while r < 7 {
        let mut i = 0;
        while i < 16 {
            t[r][i] = t[r - 1][PERMUTATION[i]];
            i += 1;
        }
        r += 1;
    }
    t
};
