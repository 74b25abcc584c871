//! A cursor over one term's postings in a part: documents in increasing
//! order with their frequencies and positions, skipping whole blocks
//! through the skip table, and a *shallow* move that reads only skip
//! entries (for block-max bounds) without decoding a block.
//!
//! Targets passed to `seek` and `shallow` never decrease (every caller's
//! loop only moves forward); blocks behind the shallow pointer are never
//! visited again. The region was validated by `Part::open`; what it could
//! not check is checked as each block is decoded — a varint that does not
//! decode, or ids that do not strictly increase, reach the part's document
//! count or miss the skip entry's last document — and ends the list
//! rather than returning a bad id or panicking.

use super::bitpack::{self, BLOCK_LEN};
use super::bound::{Bound, BOUND_POINTS};
use super::norm;
use super::part::{le_u32, SKIP_LEN};

/// Past the last document of a list.
pub const TERMINATED: u32 = u32::MAX;

/// What a skip entry says about one block.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockInfo {
    pub last_doc: u32,
    pub bound: Bound,
}

pub(crate) struct PostingsCursor<'a> {
    region: &'a [u8],
    df: usize,
    n_blocks: usize,
    /// Documents in the part: every id must be below it.
    n_docs: u32,
    /// A list of one block has no skip table: its entry, computed from
    /// the decoded block.
    single: Option<BlockInfo>,
    /// The decoded block (`usize::MAX` before the first load).
    block: usize,
    /// The shallow pointer: `>= block` once a block is loaded.
    probe: usize,
    docs: [u32; BLOCK_LEN],
    tfs: [u32; BLOCK_LEN],
    /// Where the packed `tf − 1` of the decoded block start, and their
    /// width, while they are not decoded yet (`None` once they are):
    /// intersections skip most documents of a common term's block.
    pending_tfs: Option<(usize, u8)>,
    len: usize,
    idx: usize,
    doc: u32,
    /// Byte offset (in the region) of the positions of document `pos_idx`.
    pos_at: usize,
    pos_idx: usize,
}

impl<'a> PostingsCursor<'a> {
    /// A cursor on the first document of `region` (a validated region of
    /// `df` documents); `norms` are the part's.
    pub fn new(region: &'a [u8], df: u32, norms: &[u8]) -> PostingsCursor<'a> {
        let df = df as usize;
        let long = df > BLOCK_LEN;
        let mut cursor = PostingsCursor {
            region,
            df,
            n_blocks: df.div_ceil(BLOCK_LEN),
            n_docs: u32::try_from(norms.len()).unwrap_or(u32::MAX),
            single: (!long).then_some(BlockInfo {
                last_doc: TERMINATED,
                bound: Bound::default(),
            }),
            block: usize::MAX,
            probe: 0,
            docs: [0; BLOCK_LEN],
            tfs: [0; BLOCK_LEN],
            pending_tfs: None,
            len: 0,
            idx: 0,
            doc: TERMINATED,
            pos_at: 0,
            pos_idx: 0,
        };
        cursor.load(0);
        if !long {
            // The corner of the block's points: cheap, and good enough for
            // the few uses that are not a term's own bound (`TermScorer`
            // computes that one exactly from the block).
            let (mut max_tf, mut min_ratio) = (0u32, f32::INFINITY);
            for (&doc, &tf) in cursor.docs[..cursor.len].iter().zip(&cursor.tfs) {
                max_tf = max_tf.max(tf);
                let len = norm::decode(norms.get(doc as usize).copied().unwrap_or(0));
                min_ratio = min_ratio.min(len as f32 / tf as f32);
            }
            let last_doc = cursor.docs[..cursor.len]
                .last()
                .copied()
                .unwrap_or(TERMINATED);
            cursor.single = Some(BlockInfo {
                last_doc,
                bound: Bound::new(&[(max_tf, min_ratio)]),
            });
        }
        cursor
    }

    /// The documents and frequencies of a single-block list (`None` for a
    /// long one).
    pub fn single_block(&self) -> Option<(&[u32], &[u32])> {
        self.single
            .map(|_| (&self.docs[..self.len], &self.tfs[..self.len]))
    }

    /// The bound of a single-block list's only block (`None` for a long one).
    pub fn single_bound(&self) -> Option<Bound> {
        self.single.map(|b| b.bound)
    }

    #[inline]
    fn last_doc(&self, block: usize) -> u32 {
        match &self.single {
            Some(info) => info.last_doc,
            None => self.skip_u32(block, 0),
        }
    }

    pub fn df(&self) -> u32 {
        self.df as u32
    }

    #[inline]
    pub fn doc(&self) -> u32 {
        self.doc
    }

    #[inline]
    pub fn tf(&mut self) -> u32 {
        self.decode_tfs();
        self.tfs[self.idx]
    }

    fn skip_u32(&self, block: usize, field: usize) -> u32 {
        le_u32(self.region, block * SKIP_LEN + field).unwrap_or(0)
    }

    pub fn block_info(&self, block: usize) -> BlockInfo {
        if let Some(info) = self.single {
            return info;
        }
        let at = block * SKIP_LEN;
        let n = self
            .region
            .get(at + 14)
            .map_or(0, |&n| usize::from(n).min(BOUND_POINTS));
        let mut points = [(0u32, 0f32); BOUND_POINTS];
        for (i, p) in points.iter_mut().enumerate().take(n) {
            *p = (
                self.skip_u32(block, 16 + 8 * i),
                f32::from_bits(self.skip_u32(block, 20 + 8 * i)),
            );
        }
        BlockInfo {
            last_doc: self.skip_u32(block, 0),
            bound: Bound::new(&points[..n]),
        }
    }

    /// Decodes `block` and moves to its first document (or ends the list).
    fn load(&mut self, block: usize) {
        self.block = block;
        self.probe = self.probe.max(block);
        self.idx = 0;
        if block >= self.n_blocks || self.decode(block).is_none() {
            self.len = 0;
            self.doc = TERMINATED;
            self.block = self.n_blocks;
            return;
        }
        self.doc = self.docs[0];
    }

    /// Decodes `block` into `docs` (and `tfs`, now or on first use). The
    /// ids are checked as they are summed: every delta but a list's first
    /// is at least 1, the ids stay below the part's document count and, in
    /// a long list, the block ends at its skip entry's last document. A
    /// block that breaks this came from corrupt bytes (`None`: the list
    /// ends).
    fn decode(&mut self, block: usize) -> Option<()> {
        let first_list_block = block == 0;
        let last = if self.single.is_some() {
            // One block of varint pairs, then the positions.
            let len = self.df.min(BLOCK_LEN);
            let mut pos = 0;
            self.read_pairs(self.region, &mut pos, len)?;
            self.pending_tfs = None;
            self.pos_at = pos;
            self.len = len;
            prefix_sum(&mut self.docs[..len], 0, first_list_block)?
        } else {
            let at = block * SKIP_LEN;
            let doc_off = le_u32(self.region, at + 4)? as usize;
            let pos_off = le_u32(self.region, at + 8)? as usize;
            let doc_bits = *self.region.get(at + 12)?;
            let tf_bits = *self.region.get(at + 13)?;
            let base = if first_list_block {
                0
            } else {
                self.skip_u32(block - 1, 0)
            };
            let len = (self.df - block * BLOCK_LEN).min(BLOCK_LEN);
            let data = self.region.get(doc_off..)?;
            if len == BLOCK_LEN {
                bitpack::unpack(data, doc_bits, &mut self.docs)?;
                self.pending_tfs = Some((doc_off + bitpack::packed_len(doc_bits), tf_bits));
            } else {
                self.read_pairs(data, &mut 0, len)?;
                self.pending_tfs = None;
            }
            self.pos_at = pos_off;
            self.len = len;
            let last = prefix_sum(&mut self.docs[..len], base, first_list_block)?;
            if last != self.skip_u32(block, 0) {
                return None;
            }
            last
        };
        self.pos_idx = 0;
        (last < self.n_docs).then_some(())
    }

    /// Reads `len` varint pairs (document-id delta, `tf − 1`).
    fn read_pairs(&mut self, data: &[u8], pos: &mut usize, len: usize) -> Option<()> {
        for i in 0..len {
            self.docs[i] = bitpack::get_vint(data, pos)?;
            self.tfs[i] = bitpack::get_vint(data, pos)?.saturating_add(1);
        }
        Some(())
    }

    /// The current document and the rest of its block, with their
    /// frequencies (empty at the end of the list).
    pub fn rest_of_block(&mut self) -> (&[u32], &[u32]) {
        if self.doc == TERMINATED {
            return (&[], &[]);
        }
        self.decode_tfs();
        (
            &self.docs[self.idx..self.len],
            &self.tfs[self.idx..self.len],
        )
    }

    /// Moves `n` documents ahead inside the current block (to the next
    /// block's first when that passes its end).
    pub fn skip_in_block(&mut self, n: usize) {
        if n == 0 || self.doc == TERMINATED {
            return;
        }
        self.idx += n;
        if self.idx < self.len {
            self.doc = self.docs[self.idx];
        } else {
            self.load(self.block + 1);
        }
    }

    /// Moves to the next document.
    #[inline]
    pub fn advance(&mut self) -> u32 {
        self.idx += 1;
        if self.idx < self.len {
            self.doc = self.docs[self.idx];
        } else {
            self.load(self.block + 1);
        }
        self.doc
    }

    /// Moves to the first document `>= target`.
    pub fn seek(&mut self, target: u32) -> u32 {
        if self.doc >= target {
            return self.doc;
        }
        let mut block = self.block.max(self.probe);
        while block < self.n_blocks && self.last_doc(block) < target {
            block += 1;
        }
        let mut idx = self.idx;
        if block != self.block {
            self.load(block);
            if self.doc >= target {
                return self.doc;
            }
            // A fresh block: the first document >= target is at the count
            // of those below it (branch-free, vectorised).
            let docs = &self.docs[..self.len];
            idx = docs.iter().map(|&d| usize::from(d < target)).sum::<usize>();
        }
        loop {
            // Short moves inside the block: a scan in registers.
            while idx < self.len && self.docs[idx] < target {
                idx += 1;
            }
            if idx < self.len {
                self.idx = idx;
                self.doc = self.docs[idx];
                return self.doc;
            }
            // Only a corrupt skip entry gets here: go on block by block.
            self.load(self.block + 1);
            if self.doc >= target {
                return self.doc;
            }
            idx = 0;
        }
    }

    /// Moves the shallow pointer to the block that may hold `target` and
    /// returns its index, or `None` past the last block.
    #[inline]
    pub fn shallow(&mut self, target: u32) -> Option<usize> {
        let mut probe = self.probe.max(self.block.min(self.n_blocks));
        while probe < self.n_blocks && self.last_doc(probe) < target {
            probe += 1;
        }
        self.probe = probe;
        (probe < self.n_blocks).then_some(probe)
    }

    /// Decodes the block's frequencies if they are still packed (bad
    /// bytes give frequencies of 1: the region was validated to hold them).
    #[inline]
    fn decode_tfs(&mut self) {
        if let Some((off, bits)) = self.pending_tfs.take() {
            let packed = self.region.get(off..).unwrap_or(&[]);
            if bitpack::unpack(packed, bits, &mut self.tfs).is_none() {
                self.tfs.fill(0);
            }
            for tf in self.tfs.iter_mut() {
                *tf = tf.saturating_add(1);
            }
        }
    }

    /// Positions of the current document, into `out` (cleared first).
    pub fn positions(&mut self, out: &mut Vec<u32>) {
        self.decode_tfs();
        out.clear();
        if self.doc == TERMINATED {
            return;
        }
        if self.pos_idx < self.idx {
            let skip: u64 = self.tfs[self.pos_idx..self.idx]
                .iter()
                .map(|&t| u64::from(t))
                .sum();
            let skip = usize::try_from(skip).unwrap_or(usize::MAX);
            if bitpack::skip_vints(self.region, &mut self.pos_at, skip).is_none() {
                return;
            }
            self.pos_idx = self.idx;
        }
        let mut at = self.pos_at;
        let mut position = 0u32;
        for _ in 0..self.tfs[self.idx] {
            match bitpack::get_vint(self.region, &mut at) {
                Some(delta) => {
                    position = position.saturating_add(delta);
                    out.push(position);
                }
                None => return,
            }
        }
    }
}

/// Turns the deltas in `docs` into ids starting from `base` and returns
/// the last id; `None` if a delta that must be positive is 0 (only a
/// list's very first may be) or the ids pass `u32::MAX`.
#[inline]
fn prefix_sum(docs: &mut [u32], base: u32, first_may_be_zero: bool) -> Option<u32> {
    let (first, rest) = docs.split_first_mut()?;
    let mut bad = *first == 0 && !first_may_be_zero;
    let mut acc = u64::from(base) + u64::from(*first);
    *first = acc as u32;
    for d in rest {
        bad |= *d == 0;
        acc += u64::from(*d);
        *d = acc as u32;
    }
    (!bad && acc <= u64::from(u32::MAX)).then_some(acc as u32)
}
