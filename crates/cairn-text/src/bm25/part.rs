//! A *part*: the BM25 index of one text field over a fixed set of
//! documents `0..n_docs`, as one byte buffer that is searched in place (it
//! may be a memory-mapped file section). [`PartWriter`] builds one;
//! [`Part`] opens and validates one and never writes.
//!
//! Layout (all integers little-endian; RFC 0003 is the specification):
//!
//! ```text
//! header   72 B  magic "CAIRNTX1", format version u32, n_docs u32, n_terms u32,
//!                reserved u32, total_len u64, then the byte offsets of the
//!                norms, lengths, dictionary, term bytes and postings sections
//! norms    n_docs × u8            one-byte field norm per document
//! lengths  n_docs × varint         exact length (indexed terms) per document
//! dict     n_terms × 32 B          TermEntry, sorted by term bytes
//! terms    concatenated term bytes
//! postings one region per term:
//!            n_blocks × 24 B skip entries, then the blocks' documents and
//!            frequencies, then their positions
//! ```
//!
//! A region's blocks hold 128 documents each (the last one fewer). A full
//! block is the document-id deltas then `tf − 1`, each bit-packed at its
//! own width (`bitpack`); the last, partial block stores them as varints.
//! The first delta of a block is taken from the previous block's last
//! document (from 0 for the first block). Positions are per document,
//! `tf` varint deltas. A skip entry holds the block's last document, the
//! offsets of its data and positions (from the region's start), its
//! largest `tf`, the smallest `len / tf` over its documents (`len` the
//! decoded norm: the BM25 block bound, valid for any statistics) and the
//! two bit widths.
//!
//! Valid iff (1) the header's magic and version are known, (2) the
//! sections lie in order inside the buffer with the sizes the counts
//! imply, (3) terms are strictly increasing and their byte ranges lie in
//! the terms section, (4) each term's region lies in the postings section
//! and holds its skip table, (5) each block's data and positions start
//! inside its region, widths are ≤ 32 and a full block's packed data fits.
//! `Part::open` checks all of it; decoding past what it checked (document
//! ids, varints) is bounds-checked and ends the list instead of panicking.

use std::collections::HashMap;
use std::fmt;

use super::bitpack::{self, BLOCK_LEN};
use super::norm;

pub const PART_MAGIC: [u8; 8] = *b"CAIRNTX1";
pub const PART_FORMAT_VERSION: u32 = 1;
pub const PART_FORMAT_OLDEST_READABLE: u32 = 1;
/// Documents per part: ids are `u32` and `u32::MAX` marks the end of a list.
pub const PART_DOCS_MAX: u32 = u32::MAX - 1;

pub(crate) const HEADER_LEN: usize = 72;
pub(crate) const ENTRY_LEN: usize = 32;
pub(crate) const SKIP_LEN: usize = 24;

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

    /// Writes the part.
    pub fn finish(self) -> Vec<u8> {
        let norms: Vec<u8> = self.lengths.iter().map(|&l| norm::encode(l)).collect();
        let mut terms: Vec<(Box<str>, TermPostings)> = self.terms.into_iter().collect();
        terms.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));

        let mut lengths = Vec::with_capacity(self.lengths.len());
        for &l in &self.lengths {
            bitpack::put_vint(&mut lengths, l);
        }
        let mut dict = Vec::with_capacity(terms.len() * ENTRY_LEN);
        let mut term_bytes = Vec::new();
        let mut postings = Vec::new();
        for (term, p) in &terms {
            let region_start = postings.len();
            let summary = write_region(p, &norms, &mut postings);
            dict.extend_from_slice(&(term_bytes.len() as u32).to_le_bytes());
            dict.extend_from_slice(&(term.len() as u32).to_le_bytes());
            dict.extend_from_slice(&(p.docs.len() as u32).to_le_bytes());
            dict.extend_from_slice(&summary.max_tf.to_le_bytes());
            dict.extend_from_slice(&summary.min_len_per_tf.to_le_bytes());
            dict.extend_from_slice(&((postings.len() - region_start) as u32).to_le_bytes());
            dict.extend_from_slice(&(region_start as u64).to_le_bytes());
            term_bytes.extend_from_slice(term.as_bytes());
        }

        let norms_off = HEADER_LEN;
        let lengths_off = norms_off + norms.len();
        let dict_off = lengths_off + lengths.len();
        let terms_off = dict_off + dict.len();
        let postings_off = terms_off + term_bytes.len();
        let mut out = Vec::with_capacity(postings_off + postings.len());
        out.extend_from_slice(&PART_MAGIC);
        out.extend_from_slice(&PART_FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(norms.len() as u32).to_le_bytes());
        out.extend_from_slice(&(terms.len() as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&self.total_len.to_le_bytes());
        for off in [norms_off, lengths_off, dict_off, terms_off, postings_off] {
            out.extend_from_slice(&(off as u64).to_le_bytes());
        }
        debug_assert_eq!(out.len(), HEADER_LEN);
        out.extend_from_slice(&norms);
        out.extend_from_slice(&lengths);
        out.extend_from_slice(&dict);
        out.extend_from_slice(&term_bytes);
        out.extend_from_slice(&postings);
        out
    }
}

/// A part would hold more than [`PART_DOCS_MAX`] documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a text index part holds at most {PART_DOCS_MAX} documents")]
pub struct TooManyDocs;

struct RegionSummary {
    max_tf: u32,
    min_len_per_tf: f32,
}

/// Writes one term's region (skip table, blocks, positions).
fn write_region(p: &TermPostings, norms: &[u8], out: &mut Vec<u8>) -> RegionSummary {
    let n = p.docs.len();
    let n_blocks = n.div_ceil(BLOCK_LEN);
    let mut skips = Vec::with_capacity(n_blocks * SKIP_LEN);
    let mut data = Vec::new();
    let mut positions = Vec::new();
    let data_base = n_blocks * SKIP_LEN;
    let mut summary = RegionSummary {
        max_tf: 0,
        min_len_per_tf: f32::INFINITY,
    };
    let mut prev_doc = 0u32;
    let mut pos_index = 0usize;
    for block in 0..n_blocks {
        let range = block * BLOCK_LEN..((block + 1) * BLOCK_LEN).min(n);
        let docs = &p.docs[range.clone()];
        let tfs = &p.tfs[range];
        let doc_off = data_base + data.len();
        let pos_off = data_base + positions.len();
        let mut deltas = [0u32; BLOCK_LEN];
        let mut tf_codes = [0u32; BLOCK_LEN];
        let (mut max_tf, mut min_ratio) = (0u32, f32::INFINITY);
        for (i, (&doc, &tf)) in docs.iter().zip(tfs).enumerate() {
            deltas[i] = doc - prev_doc;
            prev_doc = doc;
            tf_codes[i] = tf - 1;
            max_tf = max_tf.max(tf);
            let len = norm::decode(norms[doc as usize]) as f32;
            min_ratio = min_ratio.min(len / tf as f32);
            let mut last = 0u32;
            for &position in &p.positions[pos_index..pos_index + tf as usize] {
                let position = position.max(last);
                bitpack::put_vint(&mut positions, position - last);
                last = position;
            }
            pos_index += tf as usize;
        }
        let (doc_bits, tf_bits) = if docs.len() == BLOCK_LEN {
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
        summary.max_tf = summary.max_tf.max(max_tf);
        summary.min_len_per_tf = summary.min_len_per_tf.min(min_ratio);
        skips.extend_from_slice(&prev_doc.to_le_bytes());
        skips.extend_from_slice(&(doc_off as u32).to_le_bytes());
        skips.extend_from_slice(&(pos_off as u32).to_le_bytes());
        skips.extend_from_slice(&max_tf.to_le_bytes());
        skips.extend_from_slice(&min_ratio.to_le_bytes());
        skips.extend_from_slice(&[doc_bits, tf_bits, 0, 0]);
    }
    // Positions follow the blocks: shift their offsets past the block data.
    let shift = data.len() as u32;
    for block in 0..n_blocks {
        let at = block * SKIP_LEN + 8;
        let pos_off = le_u32(&skips, at).unwrap_or(0) + shift;
        skips[at..at + 4].copy_from_slice(&pos_off.to_le_bytes());
    }
    out.extend_from_slice(&skips);
    out.extend_from_slice(&data);
    out.extend_from_slice(&positions);
    summary
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
    pub max_tf: u32,
    pub min_len_per_tf: f32,
    pub region_off: usize,
    pub region_len: usize,
    term_off: usize,
    term_len: usize,
}

/// A validated part over borrowed or owned bytes.
pub struct Part<B> {
    bytes: B,
    n_docs: u32,
    n_terms: usize,
    total_len: u64,
    norms: (usize, usize),
    lengths: (usize, usize),
    dict_off: usize,
    terms: (usize, usize),
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
        let n_terms = le_u32(b, 16).unwrap_or(0) as usize;
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
        let [norms_off, lengths_off, dict_off, terms_off, postings_off, end] = offs;
        if lengths_off - norms_off != n_docs as usize {
            return Err(corrupt(norms_off, "norms section size differs from n_docs"));
        }
        if Some(terms_off - dict_off) != n_terms.checked_mul(ENTRY_LEN) {
            return Err(corrupt(dict_off, "dictionary size differs from n_terms"));
        }
        let part = Part {
            n_docs,
            n_terms,
            total_len,
            norms: (norms_off, lengths_off),
            lengths: (lengths_off, dict_off),
            dict_off,
            terms: (terms_off, postings_off),
            postings: (postings_off, end),
            bytes,
        };
        part.validate_terms()?;
        Ok(part)
    }

    fn validate_terms(&self) -> Result<(), CorruptPart> {
        let mut prev: Option<&[u8]> = None;
        for i in 0..self.n_terms {
            let at = self.dict_off + i * ENTRY_LEN;
            let entry = self
                .entry(i)
                .ok_or(corrupt(at, "dictionary entry out of bounds"))?;
            let term = self
                .term_bytes(&entry)
                .ok_or(corrupt(at, "term bytes out of bounds"))?;
            if prev.is_some_and(|p| p >= term) {
                return Err(corrupt(at, "terms not strictly increasing"));
            }
            prev = Some(term);
            let region = self
                .region(&entry)
                .ok_or(corrupt(at, "postings region out of bounds"))?;
            validate_region(region, entry.df).map_err(|what| corrupt(at, what))?;
        }
        Ok(())
    }

    fn entry(&self, i: usize) -> Option<TermEntry> {
        let b = self.bytes.as_ref();
        let at = self.dict_off + i * ENTRY_LEN;
        Some(TermEntry {
            term_off: le_u32(b, at)? as usize,
            term_len: le_u32(b, at + 4)? as usize,
            df: le_u32(b, at + 8)?,
            max_tf: le_u32(b, at + 12)?,
            min_len_per_tf: f32::from_bits(le_u32(b, at + 16)?),
            region_len: le_u32(b, at + 20)? as usize,
            region_off: usize::try_from(le_u64(b, at + 24)?).ok()?,
        })
    }

    fn term_bytes(&self, entry: &TermEntry) -> Option<&[u8]> {
        let terms = self.bytes.as_ref().get(self.terms.0..self.terms.1)?;
        terms.get(entry.term_off..entry.term_off.checked_add(entry.term_len)?)
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
            total_len: self.total_len,
            norms: self.norms,
            lengths: self.lengths,
            dict_off: self.dict_off,
            terms: self.terms,
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

    /// The entry of `term`, by binary search over the dictionary.
    pub(crate) fn lookup(&self, term: &str) -> Option<TermEntry> {
        let (mut lo, mut hi) = (0usize, self.n_terms);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let entry = self.entry(mid)?;
            match self.term_bytes(&entry)?.cmp(term.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(entry),
            }
        }
        None
    }

    /// Documents of the part that contain `term`.
    pub fn doc_freq(&self, term: &str) -> u32 {
        self.lookup(term).map_or(0, |e| e.df)
    }

    /// The terms that start with `prefix`, in byte order.
    pub fn terms_with_prefix(&self, prefix: &str) -> Vec<String> {
        let (mut lo, mut hi) = (0usize, self.n_terms);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.entry(mid).and_then(|e| self.term_bytes(&e)) {
                Some(t) if t < prefix.as_bytes() => lo = mid + 1,
                _ => hi = mid,
            }
        }
        let mut out = Vec::new();
        for i in lo..self.n_terms {
            match self.entry(i).and_then(|e| self.term_bytes(&e)) {
                Some(t) if t.starts_with(prefix.as_bytes()) => {
                    out.push(String::from_utf8_lossy(t).into_owned())
                }
                _ => break,
            }
        }
        out
    }

    /// Exact length (indexed terms) of every document, in id order.
    pub fn lengths(&self) -> impl Iterator<Item = u32> + '_ {
        let bytes = self
            .bytes
            .as_ref()
            .get(self.lengths.0..self.lengths.1)
            .unwrap_or(&[]);
        let mut pos = 0;
        std::iter::from_fn(move || bitpack::get_vint(bytes, &mut pos)).take(self.n_docs as usize)
    }
}

/// Rule (4) and (5) of the module doc for one region.
fn validate_region(region: &[u8], df: u32) -> Result<(), &'static str> {
    let n_blocks = (df as usize).div_ceil(BLOCK_LEN);
    let skips_len = n_blocks * SKIP_LEN;
    if df == 0 || region.len() < skips_len {
        return Err("postings region shorter than its skip table");
    }
    for block in 0..n_blocks {
        let at = block * SKIP_LEN;
        let doc_off = le_u32(region, at + 4).unwrap_or(u32::MAX) as usize;
        let pos_off = le_u32(region, at + 8).unwrap_or(u32::MAX) as usize;
        let (doc_bits, tf_bits) = (region[at + 20], region[at + 21]);
        if doc_off < skips_len || doc_off > region.len() || pos_off > region.len() {
            return Err("block offset outside its postings region");
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
