//! Many blake3 hashes at once: the trie re-hash of a batch of changes, and
//! the key and content hashes of a commit's rows.
//!
//! [`keyed_hashes`] returns exactly `blake3::keyed_hash(key, m)` for each
//! message `m`, in order; [`trie_node_hashes`] and [`trie_leaf_hashes`]
//! exactly what [`crate::hash::trie_node_hash`] and [`TrieLeaf::hash`] return. With the
//! `simd` feature on an x86_64 CPU with avx2 or avx512f, sixteen messages
//! are compressed at once, one per SIMD lane (module `kernels`);
//! otherwise, for calls with fewer than [`BATCH_MIN`] messages, and for
//! messages longer than one blake3 chunk (1 KiB), each message is hashed
//! on its own.
//!
//! A one-chunk message is a chain of 64-byte blocks with counter 0: the
//! first flagged `CHUNK_START`, the last `CHUNK_END | ROOT` and holding the
//! rest of the message (zero-padded; an empty message is one empty block).
//! Lanes of one kernel call may hold messages of different lengths, so each
//! lane has its own block length and flags; messages are taken in order of
//! block count so lanes finish together.

use crate::hash::{trie_node_key, Domain, Hash, HASH_BYTES};
use crate::hash::{TrieLeaf, TRIE_LEAF_BYTES};

/// Below this many messages they are hashed one at a time (a kernel call
/// costs about as much as sixteen lanes, used or not).
pub const BATCH_MIN: usize = 4;

/// `trie_node_hash(depth, l, r)` for every `[l, r]` of `children`,
/// appended to `out` in order.
pub fn trie_node_hashes(depth: u8, children: &[[Hash; 2]], out: &mut Vec<Hash>) {
    #[cfg(all(feature = "simd", target_arch = "x86_64"))]
    if children.len() >= BATCH_MIN {
        if let Some(k) = crate::kernels::compress16() {
            return lanes::node_hashes_with(k, trie_node_key(depth), children, out);
        }
    }
    let blocks: Vec<[u8; 2 * HASH_BYTES]> = children
        .iter()
        .map(|[l, r]| {
            let mut b = [0u8; 2 * HASH_BYTES];
            b[..HASH_BYTES].copy_from_slice(&l.0);
            b[HASH_BYTES..].copy_from_slice(&r.0);
            b
        })
        .collect();
    keyed_hashes(trie_node_key(depth), &blocks, out);
}

/// `leaf.hash()` for every leaf, appended to `out` in order.
pub fn trie_leaf_hashes(leaves: &[TrieLeaf], out: &mut Vec<Hash>) {
    let inputs: Vec<[u8; TRIE_LEAF_BYTES]> = leaves.iter().map(TrieLeaf::hash_input).collect();
    keyed_hashes(Domain::TrieLeaf.key(), &inputs, out);
}

/// `blake3::keyed_hash(key, m)` for every message, appended to `out` in
/// order.
pub fn keyed_hashes<M: AsRef<[u8]>>(key: &[u8; HASH_BYTES], messages: &[M], out: &mut Vec<Hash>) {
    #[cfg(all(feature = "simd", target_arch = "x86_64"))]
    if messages.len() >= BATCH_MIN {
        if let Some(k) = crate::kernels::compress16() {
            return lanes::keyed_hashes_with(k, key, messages, out);
        }
    }
    out.extend(
        messages
            .iter()
            .map(|m| Hash(*blake3::keyed_hash(key, m.as_ref()).as_bytes())),
    );
}

#[cfg(all(feature = "simd", target_arch = "x86_64"))]
pub(crate) mod lanes {
    use crate::hash::{Hash, HASH_BYTES};
    use crate::kernels::{Kernel, LANES};

    // blake3 flags (the blake3 spec, §2.1).
    const CHUNK_START: u32 = 1 << 0;
    const CHUNK_END: u32 = 1 << 1;
    const ROOT: u32 = 1 << 3;
    const KEYED_HASH: u32 = 1 << 4;

    const BLOCK: usize = 64;
    /// Longest message hashed in lanes: one blake3 chunk.
    const CHUNK: usize = 1024;

    /// [`super::trie_node_hashes`] with kernel `k` and the depth's `key`:
    /// every message is one 64-byte block, `left ‖ right`, taken straight
    /// from the pairs.
    pub(crate) fn node_hashes_with(
        k: Kernel,
        key: &[u8; HASH_BYTES],
        children: &[[Hash; 2]],
        out: &mut Vec<Hash>,
    ) {
        let start = key_cv(key);
        let block_len = [BLOCK as u32; LANES];
        let flags = [CHUNK_START | CHUNK_END | ROOT | KEYED_HASH; LANES];
        let mut m = [[0u32; 16]; LANES];
        for group in children.chunks(LANES) {
            for (block, [l, r]) in m.iter_mut().zip(group) {
                let (lo, hi) = block.split_at_mut(8);
                put_words(lo, &l.0);
                put_words(hi, &r.0);
            }
            let mut cv = start;
            (k.compress)(&mut cv, &m, &block_len, &flags);
            out.extend((0..group.len()).map(|lane| lane_hash(&cv, lane)));
        }
    }

    /// Blocks of a one-chunk message (an empty one is one empty block).
    fn blocks(len: usize) -> usize {
        len.div_ceil(BLOCK).max(1)
    }

    /// [`super::keyed_hashes`] with kernel `k`.
    pub(crate) fn keyed_hashes_with<M: AsRef<[u8]>>(
        k: Kernel,
        key: &[u8; HASH_BYTES],
        messages: &[M],
        out: &mut Vec<Hash>,
    ) {
        let base = out.len();
        out.resize(base + messages.len(), Hash::default());
        let Some(slots) = out.get_mut(base..) else {
            return;
        };
        let start = key_cv(key);
        // Longer messages go one at a time; the rest by block count.
        let mut order: Vec<(usize, usize)> = Vec::with_capacity(messages.len());
        for (i, m) in messages.iter().enumerate() {
            let m = m.as_ref();
            if m.len() > CHUNK {
                if let Some(s) = slots.get_mut(i) {
                    *s = Hash(*blake3::keyed_hash(key, m).as_bytes());
                }
            } else {
                order.push((blocks(m.len()), i));
            }
        }
        // Usually every message has the same length (trie nodes, leaves,
        // one table's keys): then the order is already right.
        if !order.is_sorted() {
            order.sort_unstable();
        }
        for group in order.chunks(LANES) {
            let rounds = group.iter().map(|&(b, _)| b).max().unwrap_or(1);
            let mut cv = start;
            for round in 0..rounds {
                let mut m = [[0u32; 16]; LANES];
                let (mut block_len, mut flags) = ([0u32; LANES], [KEYED_HASH; LANES]);
                for (lane, &(count, i)) in group.iter().enumerate() {
                    let Some(msg) = messages.get(i).map(AsRef::as_ref) else {
                        continue;
                    };
                    let from = (round * BLOCK).min(msg.len());
                    let bytes = &msg[from..(from + BLOCK).min(msg.len())];
                    // Words past the message stay zero (the padding).
                    if let Some(block) = m.get_mut(lane) {
                        put_words(block, bytes);
                        let rest = bytes.chunks_exact(4).remainder();
                        if !rest.is_empty() {
                            let mut w = [0u8; 4];
                            w[..rest.len()].copy_from_slice(rest);
                            if let Some(word) = block.get_mut(bytes.len() / 4) {
                                *word = u32::from_le_bytes(w);
                            }
                        }
                    }
                    block_len[lane] = bytes.len() as u32;
                    if round == 0 {
                        flags[lane] |= CHUNK_START;
                    }
                    if round + 1 == count {
                        flags[lane] |= CHUNK_END | ROOT;
                    }
                }
                (k.compress)(&mut cv, &m, &block_len, &flags);
                for (lane, &(count, i)) in group.iter().enumerate() {
                    if round + 1 == count {
                        if let Some(s) = slots.get_mut(i) {
                            *s = lane_hash(&cv, lane);
                        }
                    }
                }
            }
        }
    }

    /// The chaining value every lane starts from: the words of `key`.
    fn key_cv(key: &[u8; HASH_BYTES]) -> [[u32; LANES]; 8] {
        let mut words = [0u32; 8];
        put_words(&mut words, key);
        words.map(|w| [w; LANES])
    }

    /// The whole little-endian words of `bytes` into `words`, in order.
    #[inline]
    fn put_words(words: &mut [u32], bytes: &[u8]) {
        for (w, c) in words.iter_mut().zip(bytes.chunks_exact(4)) {
            *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
    }

    /// Lane `lane` of `cv` as a hash (the output's little-endian bytes).
    fn lane_hash(cv: &[[u32; LANES]; 8], lane: usize) -> Hash {
        let mut h = [0u8; HASH_BYTES];
        for (c, w) in h.chunks_exact_mut(4).zip(cv.iter()) {
            c.copy_from_slice(&w[lane].to_le_bytes());
        }
        Hash(h)
    }
}

#[cfg(all(test, feature = "simd", target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::hash::{hash, trie_node_hash};
    use crate::kernels::LANES;
    use proptest::prelude::*;

    fn h(seed: u64) -> Hash {
        hash(Domain::Leaf, &seed.to_le_bytes())
    }

    fn one_at_a_time(key: &[u8; HASH_BYTES], messages: &[Vec<u8>]) -> Vec<Hash> {
        messages
            .iter()
            .map(|m| Hash(*blake3::keyed_hash(key, m).as_bytes()))
            .collect()
    }

    /// Every kernel this CPU runs, against `blake3::keyed_hash`: every
    /// message length from 0 to past one chunk, in one call (mixed lengths
    /// share lanes) and one length per call.
    #[test]
    fn every_kernel_matches_blake3() {
        let kernels = crate::kernels::available();
        eprintln!(
            "kernels on this CPU: {:?}",
            kernels.iter().map(|k| k.name).collect::<Vec<_>>()
        );
        let key = Domain::Row.key();
        let messages: Vec<Vec<u8>> = (0..=1100usize)
            .map(|n| (0..n).map(|i| (i * 31 + n) as u8).collect())
            .collect();
        for k in kernels {
            for n in 0..=3 * LANES + 1 {
                let children: Vec<[Hash; 2]> =
                    (0..n as u64).map(|i| [h(2 * i), h(2 * i + 1)]).collect();
                for depth in [0u8, 77, 255] {
                    let mut got = Vec::new();
                    lanes::node_hashes_with(k, trie_node_key(depth), &children, &mut got);
                    let want: Vec<Hash> = children
                        .iter()
                        .map(|[l, r]| trie_node_hash(depth, l, r))
                        .collect();
                    assert_eq!(got, want, "kernel {} nodes n={n} depth={depth}", k.name);
                }
            }
            let mut got = Vec::new();
            lanes::keyed_hashes_with(k, key, &messages, &mut got);
            assert_eq!(got, one_at_a_time(key, &messages), "kernel {}", k.name);
            for n in [0usize, 1, 63, 64, 65, 72, 128, 1023, 1024, 1025] {
                for count in [1usize, 15, 16, 17, 33] {
                    let same: Vec<Vec<u8>> = (0..count)
                        .map(|c| (0..n).map(|i| (i + c) as u8).collect())
                        .collect();
                    let mut got = vec![h(9)];
                    lanes::keyed_hashes_with(k, key, &same, &mut got);
                    let mut want = vec![h(9)];
                    want.extend(one_at_a_time(key, &same));
                    assert_eq!(got, want, "kernel {} len {n} count {count}", k.name);
                }
            }
        }
    }

    /// Trie nodes and leaves in batches agree with one at a time.
    #[test]
    fn nodes_and_leaves_match_one_at_a_time() {
        for n in [0usize, 3, 4, 16, 40] {
            let children: Vec<[Hash; 2]> = (0..n as u64).map(|i| [h(i), h(i + 40)]).collect();
            for depth in [0u8, 19, 255] {
                let mut got = Vec::new();
                trie_node_hashes(depth, &children, &mut got);
                let want: Vec<Hash> = children
                    .iter()
                    .map(|[l, r]| trie_node_hash(depth, l, r))
                    .collect();
                assert_eq!(got, want, "nodes n={n} depth={depth}");
            }
            let leaves: Vec<TrieLeaf> = (0..n as u64)
                .map(|i| TrieLeaf {
                    key: h(i + 1000),
                    version: i.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    content: h(i + 5000),
                })
                .collect();
            let mut got = Vec::new();
            trie_leaf_hashes(&leaves, &mut got);
            let want: Vec<Hash> = leaves.iter().map(TrieLeaf::hash).collect();
            assert_eq!(got, want, "leaves n={n}");
        }
    }

    proptest! {
        /// Any mix of messages, with every kernel.
        #[test]
        fn random_batches_match(messages in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..1200), 0..40)) {
            let key = Domain::Key.key();
            for k in crate::kernels::available() {
                let mut got = Vec::new();
                lanes::keyed_hashes_with(k, key, &messages, &mut got);
                prop_assert_eq!(&got, &one_at_a_time(key, &messages));
            }
        }
    }
}
