//! A *part*: the BM25 index of one text field over a fixed set of
//! documents `0..n_docs`, as one byte buffer that is searched in place (it
//! may be a memory-mapped file section). [`PartWriter`] builds one;
//! [`Part`] opens and validates one and never writes.
//!
//! Layout (all integers little-endian; RFC 0003 is the specification):
//!
//! ```text
//! header      72 B  magic "CAIRNTX1", format version u32, n_docs u32, n_terms u32,
//!                   n_dict_blocks u32, total_len u64, then the byte offsets of the
//!                   norms, lengths, dictionary index, dictionary and postings sections
//! norms       n_docs × u8         one-byte field norm per document
//! lengths     varints             len − decode(norm), for each document (in id
//!                                 order) whose norm code is >= 24 (where the
//!                                 scale may start rounding)
//! dict index  n_dict_blocks × 16 B  per block of 32 terms: its byte offset in the
//!                                 dictionary u32, zero u32, its first region's offset u64
//! dictionary  per term, in byte order: shared-prefix length, suffix length (varints),
//!                                 suffix bytes, df, region length (varints) and, when
//!                                 df > 128, the list's bound points: a count u8
//!                                 (1..=3), then per point tf (varint), len/tf (f32)
//! postings    one region per term, in dictionary order, back to back
//! ```
//!
//! A region of at most 128 documents is one block of varint pairs
//! (document-id delta, `tf − 1`), then the positions. A longer region
//! starts with a skip table (40 B per block), then the blocks: each full
//! block is the 128 document-id deltas then the 128 `tf − 1`, each
//! bit-packed at its own width (`bitpack`), the last partial block varint
//! pairs; then the positions of every block. Deltas start from the
//! previous block's last document (from 0 for the first). Positions are
//! per document, `tf` varint deltas. A skip entry holds the block's last
//! document, the offsets of its data and positions (from the region's
//! start), the two bit widths, and 1–3 bound points `(tf u32, len/tf f32)`
//! (`len` the decoded norm; see `bound`: the BM25 block maximum for any
//! statistics is at most the best of them). Single-block terms — most of a
//! vocabulary — store no bound: it is computed from the decoded block.
//!
//! Valid iff (1) the header's magic and version are known, (2) the
//! sections lie in order inside the buffer with the sizes the counts
//! imply, (3) the dictionary decodes, its terms are strictly increasing
//! and each block starts where the index says, (4) the regions tile the
//! postings section, (5) a long region holds its skip table, its blocks'
//! data and positions start inside it, widths are <= 32 and every full
//! block's packed data fits. `Part::open` checks all of it; decoding past
//! what it checked (document ids, varints) is bounds-checked and ends the
//! list instead of panicking.

use std::collections::HashMap;
use std::fmt;

use super::bitpack::{self, BLOCK_LEN};
use super::bound::{bound_points, Bound, BOUND_POINTS};
use super::norm;

pub const PART_MAGIC: [u8; 8] = *b"CAIRNTX1";
pub const PART_FORMAT_VERSION: u32 = 1;
pub const PART_FORMAT_OLDEST_READABLE: u32 = 1;
/// Documents per part: ids are `u32` and `u32::MAX` marks the end of a list.
pub const PART_DOCS_MAX: u32 = u32::MAX - 1;

pub(crate) const HEADER_LEN: usize = 72;
pub(crate) const SKIP_LEN: usize = 40;
/// Terms per dictionary block (one binary-search step finds the block,
/// a scan of at most this many entries the term).
pub(crate) const DICT_BLOCK_TERMS: usize = 32;
const INDEX_ENTRY_LEN: usize = 16;
/// Documents whose norm code is at least this one carry a length residual:
/// from here on the norm scale may round (the first length it rounds is
/// 41; the residuals of the exact ones in between are 0).
const NORM_RESIDUAL_FROM: u8 = 24;

/// A part's bytes that break one of the validity rules.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("corrupt text index part at byte {offset}: {what}")]
pub struct CorruptPart {
    pub offset: usize,
    pub what: &'static str,
}

/// Builds a part: documents are added in id order, then `finish` writes
/// the buffer.
#[derive(Default)]
pub struct PartWriter {
    terms: HashMap<Box<str>, TermPostings, foldhash::fast::RandomState>,
    lengths: Vec<u32>,
    total_len: u64,
}

#[derive(Default)]
struct TermPostings {
    docs: Vec<u32>,
    tfs: Vec<u32>,
    positions: Vec<u32>,
}

impl PartWriter {
    pub fn new() -> PartWriter {
        PartWriter::default()
    }

    /// Documents added so far (the next document's id).
    pub fn n_docs(&self) -> u32 {
        self.lengths.len() as u32
    }

    /// Adds a document given as `(term, position)` pairs in position order
    /// and returns its id. Its length is the number of pairs.
    pub fn add_document<'t>(
        &mut self,
        terms: impl IntoIterator<Item = (&'t str, u32)>,
    ) -> Result<u32, TooManyDocs> {
        let doc = self.n_docs();
        if doc >= PART_DOCS_MAX {
            return Err(TooManyDocs);
        }
        let mut len: u32 = 0;
        for (term, position) in terms {
            len = len.saturating_add(1);
            let postings = match self.terms.get_mut(term) {
                Some(p) => p,
                None => self.terms.entry(term.into()).or_default(),
            };
            if postings.docs.last() == Some(&doc) {
                if let Some(tf) = postings.tfs.last_mut() {
                    *tf += 1;
                }
            } else {
                postings.docs.push(doc);
                postings.tfs.push(1);
            }
            postings.positions.push(position);
        }
        self.lengths.push(len);
        self.total_len += u64::from(len);
        Ok(doc)
    }

    /// A writer for merging parts: the documents' lengths are known up
    /// front and postings arrive term by term (`push_posting`).
    pub(crate) fn for_merge(lengths: Vec<u32>) -> PartWriter {
        let total_len = lengths.iter().map(|&l| u64::from(l)).sum();
        PartWriter {
            terms: HashMap::default(),
            lengths,
            total_len,
        }
    }

    /// Appends `doc` (ids increasing per term) with its positions to
    /// `term`'s list.
    pub(crate) fn push_posting(&mut self, term: &str, doc: u32, positions: &[u32]) {
        let postings = match self.terms.get_mut(term) {
            Some(p) => p,
            None => self.terms.entry(term.into()).or_default(),
        };
        postings.docs.push(doc);
        postings.tfs.push(positions.len() as u32);
        postings.positions.extend_from_slice(positions);
    }

    /// Writes the part (an error if a section or list outgrows the
    /// format's 32-bit offsets).
    pub fn finish(self) -> Result<Vec<u8>, PartTooLarge> {
        let norms: Vec<u8> = self.lengths.iter().map(|&l| norm::encode(l)).collect();
        let mut terms: Vec<(Box<str>, TermPostings)> = self.terms.into_iter().collect();
        terms.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));

        let mut lengths = Vec::new();
        for (&len, &code) in self.lengths.iter().zip(&norms) {
            if code >= NORM_RESIDUAL_FROM {
                bitpack::put_vint(&mut lengths, len - norm::decode(code).min(len));
            }
        }
        let mut index = Vec::new();
        let mut dict = Vec::new();
        let mut postings = Vec::new();
        let mut prev: &[u8] = &[];
        for (i, (term, p)) in terms.iter().enumerate() {
            let term = term.as_bytes();
            let shared = if i % DICT_BLOCK_TERMS == 0 {
                index.extend_from_slice(&u32_of(dict.len())?.to_le_bytes());
                index.extend_from_slice(&0u32.to_le_bytes());
                index.extend_from_slice(&(postings.len() as u64).to_le_bytes());
                0
            } else {
                prev.iter().zip(term).take_while(|(a, b)| a == b).count()
            };
            let region_start = postings.len();
            let summary = write_region(p, &norms, &mut postings)?;
            bitpack::put_vint(&mut dict, u32_of(shared)?);
            bitpack::put_vint(&mut dict, u32_of(term.len() - shared)?);
            dict.extend_from_slice(&term[shared..]);
            bitpack::put_vint(&mut dict, p.docs.len() as u32);
            bitpack::put_vint(&mut dict, u32_of(postings.len() - region_start)?);
            if p.docs.len() > BLOCK_LEN {
                dict.push(summary.len() as u8);
                for (tf, ratio) in summary {
                    bitpack::put_vint(&mut dict, tf);
                    dict.extend_from_slice(&ratio.to_le_bytes());
                }
            }
            prev = term;
        }

        let norms_off = HEADER_LEN;
        let lengths_off = norms_off + norms.len();
        let index_off = lengths_off + lengths.len();
        let dict_off = index_off + index.len();
        let postings_off = dict_off + dict.len();
        let mut out = Vec::with_capacity(postings_off + postings.len());
        out.extend_from_slice(&PART_MAGIC);
        out.extend_from_slice(&PART_FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(norms.len() as u32).to_le_bytes());
        out.extend_from_slice(&(terms.len() as u32).to_le_bytes());
        out.extend_from_slice(&((index.len() / INDEX_ENTRY_LEN) as u32).to_le_bytes());
        out.extend_from_slice(&self.total_len.to_le_bytes());
        for off in [norms_off, lengths_off, index_off, dict_off, postings_off] {
            out.extend_from_slice(&(off as u64).to_le_bytes());
        }
        debug_assert_eq!(out.len(), HEADER_LEN);
        out.extend_from_slice(&norms);
        out.extend_from_slice(&lengths);
        out.extend_from_slice(&index);
        out.extend_from_slice(&dict);
        out.extend_from_slice(&postings);
        Ok(out)
    }
}

/// A dictionary or one term's list past 4 GiB: the format's offsets are
/// 32-bit (split the documents over several parts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a text index part's dictionary or one of its lists would pass 4 GiB")]
pub struct PartTooLarge;

/// A part would hold more than [`PART_DOCS_MAX`] documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a text index part holds at most {PART_DOCS_MAX} documents")]
pub struct TooManyDocs;

/// Writes one term's region (skip table if long, blocks, positions) and
/// returns the list's bound points (for a long list: over its blocks').
fn write_region(
    p: &TermPostings,
    norms: &[u8],
    out: &mut Vec<u8>,
) -> Result<Vec<(u32, f32)>, PartTooLarge> {
    let n = p.docs.len();
    let n_blocks = n.div_ceil(BLOCK_LEN);
    let long = n > BLOCK_LEN;
    let mut skips = Vec::with_capacity(if long { n_blocks * SKIP_LEN } else { 0 });
    let mut data = Vec::new();
    let mut positions = Vec::new();
    let mut list_points = Vec::new();
    let mut prev_doc = 0u32;
    let mut pos_index = 0usize;
    for block in 0..n_blocks {
        let range = block * BLOCK_LEN..((block + 1) * BLOCK_LEN).min(n);
        let docs = &p.docs[range.clone()];
        let tfs = &p.tfs[range];
        let doc_off = data.len();
        let pos_off = positions.len();
        let mut deltas = [0u32; BLOCK_LEN];
        let mut tf_codes = [0u32; BLOCK_LEN];
        let mut doc_lens = [(0u32, 0u32); BLOCK_LEN];
        for (i, (&doc, &tf)) in docs.iter().zip(tfs).enumerate() {
            deltas[i] = doc - prev_doc;
            prev_doc = doc;
            tf_codes[i] = tf - 1;
            doc_lens[i] = (tf, norm::decode(norms[doc as usize]));
            let mut last = 0u32;
            for &position in &p.positions[pos_index..pos_index + tf as usize] {
                let position = position.max(last);
                bitpack::put_vint(&mut positions, position - last);
                last = position;
            }
            pos_index += tf as usize;
        }
        let (doc_bits, tf_bits) = if long && docs.len() == BLOCK_LEN {
            let (db, tb) = (bitpack::width_of(&deltas), bitpack::width_of(&tf_codes));
            bitpack::pack(&deltas, db, &mut data);
            bitpack::pack(&tf_codes, tb, &mut data);
            (db, tb)
        } else {
            for i in 0..docs.len() {
                bitpack::put_vint(&mut data, deltas[i]);
                bitpack::put_vint(&mut data, tf_codes[i]);
            }
            (0, 0)
        };
        if long {
            let points = bound_points(
                doc_lens[..docs.len()]
                    .iter()
                    .map(|&(tf, len)| (tf, len as f32 / tf as f32)),
            );
            list_points.extend_from_slice(&points);
            skips.extend_from_slice(&prev_doc.to_le_bytes());
            skips.extend_from_slice(&u32_of(doc_off)?.to_le_bytes());
            skips.extend_from_slice(&u32_of(pos_off)?.to_le_bytes());
            skips.extend_from_slice(&[doc_bits, tf_bits, points.len() as u8, 0]);
            for i in 0..BOUND_POINTS {
                let (tf, ratio) = points.get(i).copied().unwrap_or((0, 0.0));
                skips.extend_from_slice(&tf.to_le_bytes());
                skips.extend_from_slice(&ratio.to_le_bytes());
            }
        }
    }
    // Offsets are from the region's start: data follows the skip table,
    // positions follow the data.
    let data_base = u32_of(skips.len())?;
    let pos_base = u32_of(skips.len() + data.len())?;
    u32_of(skips.len() + data.len() + positions.len())?;
    for block in 0..skips.len() / SKIP_LEN {
        for (field, base) in [(4, data_base), (8, pos_base)] {
            let at = block * SKIP_LEN + field;
            let off = le_u32(&skips, at).unwrap_or(0) + base;
            skips[at..at + 4].copy_from_slice(&off.to_le_bytes());
        }
    }
    out.extend_from_slice(&skips);
    out.extend_from_slice(&data);
    out.extend_from_slice(&positions);
    Ok(bound_points(list_points.into_iter()))
}

/// A size or offset the format stores in 32 bits.
fn u32_of(n: usize) -> Result<u32, PartTooLarge> {
    u32::try_from(n).map_err(|_| PartTooLarge)
}

pub(crate) fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

pub(crate) fn le_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let b = bytes.get(at..at + 8)?;
    Some(u64::from_le_bytes([
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
    ]))
}

/// One term's dictionary entry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TermEntry {
    pub df: u32,
    /// Bound points of the whole list; stored for long lists only (a
    /// short one's bound comes from its decoded block).
    pub summary: Option<Bound>,
    pub region_off: usize,
    pub region_len: usize,
}

/// Walks the dictionary from the start of one block.
struct DictCursor<'p> {
    dict: &'p [u8],
    pos: usize,
    /// Entries left in the current block.
    left: usize,
    term: Vec<u8>,
    region_off: usize,
}

impl DictCursor<'_> {
    /// The next entry of the block, or `None` at its end or on bad bytes.
    fn next(&mut self) -> Option<TermEntry> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let shared = bitpack::get_vint(self.dict, &mut self.pos)? as usize;
        let suffix = bitpack::get_vint(self.dict, &mut self.pos)? as usize;
        let bytes = self.dict.get(self.pos..self.pos.checked_add(suffix)?)?;
        self.pos += suffix;
        if shared > self.term.len() {
            return None;
        }
        self.term.truncate(shared);
        self.term.extend_from_slice(bytes);
        let df = bitpack::get_vint(self.dict, &mut self.pos)?;
        let region_len = bitpack::get_vint(self.dict, &mut self.pos)? as usize;
        let summary = if df as usize > BLOCK_LEN {
            let n = usize::from(*self.dict.get(self.pos)?);
            self.pos += 1;
            if n == 0 || n > BOUND_POINTS {
                return None;
            }
            let mut points = [(0u32, 0f32); BOUND_POINTS];
            for p in points.iter_mut().take(n) {
                let tf = bitpack::get_vint(self.dict, &mut self.pos)?;
                let ratio = f32::from_bits(le_u32(self.dict, self.pos)?);
                self.pos += 4;
                *p = (tf, ratio);
            }
            Some(Bound::new(&points[..n]))
        } else {
            None
        };
        let entry = TermEntry {
            df,
            summary,
            region_off: self.region_off,
            region_len,
        };
        self.region_off = self.region_off.checked_add(region_len)?;
        Some(entry)
    }
}

/// A validated part over borrowed or owned bytes.
pub struct Part<B> {
    bytes: B,
    n_docs: u32,
    n_terms: usize,
    n_blocks: usize,
    total_len: u64,
    norms: (usize, usize),
    lengths: (usize, usize),
    index: (usize, usize),
    dict: (usize, usize),
    postings: (usize, usize),
}

impl<B: AsRef<[u8]>> fmt::Debug for Part<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Part")
            .field("n_docs", &self.n_docs)
            .field("n_terms", &self.n_terms)
            .field("total_len", &self.total_len)
            .field("bytes", &self.bytes.as_ref().len())
            .finish()
    }
}

fn corrupt(offset: usize, what: &'static str) -> CorruptPart {
    CorruptPart { offset, what }
}

impl<B: AsRef<[u8]>> Part<B> {
    /// Checks every validity rule of the module doc and opens the part.
    pub fn open(bytes: B) -> Result<Part<B>, CorruptPart> {
        let b = bytes.as_ref();
        if b.len() < HEADER_LEN || b[..8] != PART_MAGIC {
            return Err(corrupt(0, "not a text index part (bad magic)"));
        }
        let version = le_u32(b, 8).unwrap_or(0);
        if !(PART_FORMAT_OLDEST_READABLE..=PART_FORMAT_VERSION).contains(&version) {
            return Err(corrupt(8, "unknown text index part format version"));
        }
        let n_docs = le_u32(b, 12).unwrap_or(0);
        if n_docs > PART_DOCS_MAX {
            return Err(corrupt(12, "more documents than a part may hold"));
        }
        let n_terms = le_u32(b, 16).unwrap_or(0) as usize;
        let n_blocks = le_u32(b, 20).unwrap_or(0) as usize;
        let total_len = le_u64(b, 24).unwrap_or(0);
        let mut offs = [0usize; 6];
        for (i, off) in offs.iter_mut().take(5).enumerate() {
            *off = usize::try_from(le_u64(b, 32 + 8 * i).unwrap_or(u64::MAX))
                .map_err(|_| corrupt(32 + 8 * i, "section offset out of range"))?;
        }
        offs[5] = b.len();
        if offs[0] != HEADER_LEN || offs.windows(2).any(|w| w[0] > w[1]) {
            return Err(corrupt(32, "sections out of order or past the end"));
        }
        let [norms_off, lengths_off, index_off, dict_off, postings_off, end] = offs;
        if lengths_off - norms_off != n_docs as usize {
            return Err(corrupt(norms_off, "norms section size differs from n_docs"));
        }
        if n_blocks != n_terms.div_ceil(DICT_BLOCK_TERMS)
            || Some(dict_off - index_off) != n_blocks.checked_mul(INDEX_ENTRY_LEN)
        {
            return Err(corrupt(
                index_off,
                "dictionary index size differs from n_terms",
            ));
        }
        let part = Part {
            n_docs,
            n_terms,
            n_blocks,
            total_len,
            norms: (norms_off, lengths_off),
            lengths: (lengths_off, index_off),
            index: (index_off, dict_off),
            dict: (dict_off, postings_off),
            postings: (postings_off, end),
            bytes,
        };
        part.validate_lengths()?;
        part.validate_dictionary()?;
        Ok(part)
    }

    /// The lengths section holds exactly one residual per document whose
    /// norm needs one, and the lengths add up to the header's total.
    fn validate_lengths(&self) -> Result<(), CorruptPart> {
        let bytes = self.lengths_bytes();
        let mut pos = 0;
        let mut total: u64 = 0;
        for &code in self.norms() {
            let mut len = u64::from(norm::decode(code));
            if code >= NORM_RESIDUAL_FROM {
                let residual = bitpack::get_vint(bytes, &mut pos)
                    .ok_or(corrupt(self.lengths.0 + pos, "lengths section ends early"))?;
                len += u64::from(residual);
            }
            total += len;
        }
        if pos != bytes.len() {
            return Err(corrupt(
                self.lengths.0 + pos,
                "bytes after the last length residual",
            ));
        }
        if total != self.total_len {
            return Err(corrupt(24, "total_len differs from the sum of the lengths"));
        }
        Ok(())
    }

    /// Rules (3)–(5): decodes the whole dictionary and checks every region.
    fn validate_dictionary(&self) -> Result<(), CorruptPart> {
        let mut prev: Vec<u8> = Vec::new();
        let mut expected_region = 0usize;
        let mut expected_entry = 0usize;
        for block in 0..self.n_blocks {
            let at = self.index.0 + block * INDEX_ENTRY_LEN;
            let mut cursor = self
                .block_cursor(block)
                .ok_or(corrupt(at, "dictionary index entry out of bounds"))?;
            if cursor.region_off != expected_region {
                return Err(corrupt(
                    at,
                    "postings regions do not tile the postings section",
                ));
            }
            if cursor.pos != expected_entry || le_u32(self.bytes.as_ref(), at + 4) != Some(0) {
                return Err(corrupt(at, "dictionary blocks do not follow each other"));
            }
            for i in 0..cursor.left {
                let entry = cursor
                    .next()
                    .ok_or(corrupt(at, "dictionary entry does not decode"))?;
                if (block > 0 || i > 0) && prev.as_slice() >= cursor.term.as_slice() {
                    return Err(corrupt(at, "terms not strictly increasing"));
                }
                prev.clone_from(&cursor.term);
                let region = self
                    .region(&entry)
                    .ok_or(corrupt(at, "postings region out of bounds"))?;
                validate_region(region, entry.df).map_err(|what| corrupt(at, what))?;
            }
            expected_region = cursor.region_off;
            expected_entry = cursor.pos;
        }
        if expected_entry != self.dict.1 - self.dict.0 {
            return Err(corrupt(
                self.dict.0 + expected_entry,
                "bytes after the last dictionary entry",
            ));
        }
        if expected_region != self.postings.1 - self.postings.0 {
            return Err(corrupt(
                self.postings.0,
                "postings regions do not tile the postings section",
            ));
        }
        Ok(())
    }

    /// A cursor at the first entry of dictionary block `block`.
    fn block_cursor(&self, block: usize) -> Option<DictCursor<'_>> {
        let b = self.bytes.as_ref();
        let at = self.index.0 + block * INDEX_ENTRY_LEN;
        let dict = b.get(self.dict.0..self.dict.1)?;
        let pos = le_u32(b, at)? as usize;
        let region_off = usize::try_from(le_u64(b, at + 8)?).ok()?;
        let left = (self.n_terms - block * DICT_BLOCK_TERMS).min(DICT_BLOCK_TERMS);
        (pos <= dict.len()).then_some(DictCursor {
            dict,
            pos,
            left,
            term: Vec::new(),
            region_off,
        })
    }

    /// The first term of dictionary block `block` (stored whole: its
    /// shared-prefix length is 0), without decoding the entry.
    fn first_term(&self, block: usize) -> Option<&[u8]> {
        let b = self.bytes.as_ref();
        let dict = b.get(self.dict.0..self.dict.1)?;
        let mut pos = le_u32(b, self.index.0 + block * INDEX_ENTRY_LEN)? as usize;
        if bitpack::get_vint(dict, &mut pos)? != 0 {
            return None;
        }
        let len = bitpack::get_vint(dict, &mut pos)? as usize;
        dict.get(pos..pos.checked_add(len)?)
    }

    /// The last block whose first term is `<= key` (0 if none).
    fn find_block(&self, key: &[u8]) -> usize {
        let (mut lo, mut hi) = (0usize, self.n_blocks);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            match self.first_term(mid) {
                Some(t) if t <= key => lo = mid,
                _ => hi = mid,
            }
        }
        lo
    }

    pub(crate) fn region(&self, entry: &TermEntry) -> Option<&[u8]> {
        let postings = self.bytes.as_ref().get(self.postings.0..self.postings.1)?;
        postings.get(entry.region_off..entry.region_off.checked_add(entry.region_len)?)
    }

    /// The same part over a borrowed buffer (copies offsets only).
    pub fn view(&self) -> Part<&[u8]> {
        Part {
            bytes: self.bytes.as_ref(),
            n_docs: self.n_docs,
            n_terms: self.n_terms,
            n_blocks: self.n_blocks,
            total_len: self.total_len,
            norms: self.norms,
            lengths: self.lengths,
            index: self.index,
            dict: self.dict,
            postings: self.postings,
        }
    }

    pub fn n_docs(&self) -> u32 {
        self.n_docs
    }

    pub fn n_terms(&self) -> usize {
        self.n_terms
    }

    /// Indexed terms over all documents of the part.
    pub fn total_len(&self) -> u64 {
        self.total_len
    }

    /// Bytes per section: norms, lengths, dictionary (index included),
    /// postings.
    pub fn section_sizes(&self) -> [(&'static str, usize); 4] {
        [
            ("norms", self.norms.1 - self.norms.0),
            ("lengths", self.lengths.1 - self.lengths.0),
            ("dictionary", self.dict.1 - self.index.0),
            ("postings", self.postings.1 - self.postings.0),
        ]
    }

    /// The buffer's size in bytes.
    pub fn byte_len(&self) -> usize {
        self.bytes.as_ref().len()
    }

    pub(crate) fn norms(&self) -> &[u8] {
        self.bytes
            .as_ref()
            .get(self.norms.0..self.norms.1)
            .unwrap_or(&[])
    }

    /// The entry of `term`: a binary search over the blocks' first terms,
    /// then a scan of one block.
    pub(crate) fn lookup(&self, term: &str) -> Option<TermEntry> {
        if self.n_terms == 0 {
            return None;
        }
        let key = term.as_bytes();
        let mut cursor = self.block_cursor(self.find_block(key))?;
        while let Some(entry) = cursor.next() {
            match cursor.term.as_slice().cmp(key) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Some(entry),
                std::cmp::Ordering::Greater => return None,
            }
        }
        None
    }

    /// Calls `f(term, entry)` for every term, in byte order.
    pub(crate) fn each_term(&self, mut f: impl FnMut(&[u8], &TermEntry)) {
        for block in 0..self.n_blocks {
            let Some(mut cursor) = self.block_cursor(block) else {
                return;
            };
            while let Some(entry) = cursor.next() {
                f(&cursor.term, &entry);
            }
        }
    }

    /// Documents of the part that contain `term`.
    pub fn doc_freq(&self, term: &str) -> u32 {
        self.lookup(term).map_or(0, |e| e.df)
    }

    /// The terms that start with `prefix`, in byte order.
    pub fn terms_with_prefix(&self, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        if self.n_terms == 0 {
            return out;
        }
        let key = prefix.as_bytes();
        for block in self.find_block(key)..self.n_blocks {
            let Some(mut cursor) = self.block_cursor(block) else {
                break;
            };
            while cursor.next().is_some() {
                if cursor.term.starts_with(key) {
                    out.push(String::from_utf8_lossy(&cursor.term).into_owned());
                } else if cursor.term.as_slice() > key {
                    return out;
                }
            }
        }
        out
    }

    fn lengths_bytes(&self) -> &[u8] {
        self.bytes
            .as_ref()
            .get(self.lengths.0..self.lengths.1)
            .unwrap_or(&[])
    }

    /// Exact length (indexed terms) of every document, in id order.
    pub fn lengths(&self) -> impl Iterator<Item = u32> + '_ {
        let bytes = self.lengths_bytes();
        let mut pos = 0;
        self.norms().iter().map(move |&code| {
            let floor = norm::decode(code);
            if code >= NORM_RESIDUAL_FROM {
                floor.saturating_add(bitpack::get_vint(bytes, &mut pos).unwrap_or(0))
            } else {
                floor
            }
        })
    }
}

/// Rule (5) of the module doc for one region.
fn validate_region(region: &[u8], df: u32) -> Result<(), &'static str> {
    if df == 0 {
        return Err("term with no documents");
    }
    if df as usize <= BLOCK_LEN {
        return Ok(());
    }
    let n_blocks = (df as usize).div_ceil(BLOCK_LEN);
    let skips_len = n_blocks * SKIP_LEN;
    if region.len() < skips_len {
        return Err("postings region shorter than its skip table");
    }
    for block in 0..n_blocks {
        let at = block * SKIP_LEN;
        let doc_off = le_u32(region, at + 4).unwrap_or(u32::MAX) as usize;
        let pos_off = le_u32(region, at + 8).unwrap_or(u32::MAX) as usize;
        let (doc_bits, tf_bits, n_points) = (region[at + 12], region[at + 13], region[at + 14]);
        if doc_off < skips_len || doc_off > region.len() || pos_off > region.len() {
            return Err("block offset outside its postings region");
        }
        if n_points == 0 || usize::from(n_points) > BOUND_POINTS || region[at + 15] != 0 {
            return Err("block bound point count outside 1..=3, or a non-zero pad byte");
        }
        if doc_bits > 32 || tf_bits > 32 {
            return Err("block bit width above 32");
        }
        let full = (block + 1) * BLOCK_LEN <= df as usize;
        let packed = bitpack::packed_len(doc_bits) + bitpack::packed_len(tf_bits);
        if full && doc_off + packed > region.len() {
            return Err("packed block past the end of its region");
        }
    }
    Ok(())
}
