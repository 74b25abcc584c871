//! A text index over *versions* of keyed documents: what a storage index
//! needs from this crate, with no rows and no files. Each document is one
//! version of a key (a row id), visible from the commit that began it
//! (`insert`) until the commit that ended it (`end`), so a search at a
//! snapshot `ts` sees exactly the versions with `begin <= ts < end` —
//! and scores them with the statistics of exactly those versions.
//!
//! Layout: sealed parts (RFC 0003 bytes, immutable) plus a tail that takes
//! new versions and is sealed past [`TAIL_DOCS_MAX`] documents. `compact`
//! merges everything into one part and drops the versions no snapshot at
//! or after `oldest` can see: that is where deletes and superseded
//! versions leave the index physically.
//!
//! Statistics at a snapshot: the number of visible versions and their
//! total length come from a history of counts appended at each change
//! (binary search by `ts`); a term's document frequency is each part's
//! count, read from the dictionary when every document of the part is
//! visible at `ts`, counted from its postings otherwise. Versions must be
//! inserted and ended in nondecreasing `ts` order (commit order).

use std::cell::RefCell;
use std::collections::HashMap;

use super::cursor::{PostingsCursor, TERMINATED};
use super::part::{Part, PartTooLarge, PartWriter, TooManyDocs};
use super::tail::TailPart;
use super::{
    search_with_stats, Bm25Params, Bm25Stats, DocFreqs, Liveness, PartRef, Query, QueryError,
    SearchPart,
};

/// Documents in the tail before it is sealed into a part.
pub const TAIL_DOCS_MAX: usize = 256;

/// `end` of a version that has not ended.
const OPEN: u64 = u64::MAX;

/// A ranked version: its key and score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KeyHit {
    pub key: u64,
    pub score: f32,
}

/// What the index refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("key {0} already has an open version (end it first)")]
    AlreadyOpen(u64),
    #[error("key {0} has no open version")]
    NotOpen(u64),
    #[error("changes must come in commit order: ts {ts} after {last}")]
    OutOfOrder { ts: u64, last: u64 },
    #[error(transparent)]
    TooManyDocs(#[from] TooManyDocs),
    #[error(transparent)]
    PartTooLarge(#[from] PartTooLarge),
    /// A part this index wrote did not open: a bug, never the caller's.
    #[error("internal error: a part the text index wrote does not open: {0}")]
    Internal(String),
}

/// Per-document version data beside a part or the tail.
#[derive(Clone, Debug, Default)]
struct Versions {
    keys: Vec<u64>,
    begin: Vec<u64>,
    end: Vec<u64>,
    lens: Vec<u32>,
    /// The latest `begin` and the earliest `end`: every document is
    /// visible at `ts` iff `max_begin <= ts < min_end`.
    max_begin: u64,
    min_end: u64,
    /// Sealed parts only: for each term, the `end` of every ended document
    /// that contains it, in increasing order — so a term's frequency at
    /// `ts` is the dictionary's minus the ends `<= ts`, without reading
    /// its postings.
    dead: HashMap<Box<str>, Vec<u64>>,
}

impl Versions {
    fn push(&mut self, key: u64, begin: u64, end: u64, len: u32) {
        if self.keys.is_empty() {
            self.min_end = OPEN;
        }
        self.keys.push(key);
        self.begin.push(begin);
        self.end.push(end);
        self.lens.push(len);
        self.max_begin = self.max_begin.max(begin);
        self.min_end = self.min_end.min(end);
    }

    fn set_end(&mut self, doc: usize, ts: u64) {
        self.end[doc] = ts;
        self.min_end = self.min_end.min(ts);
    }

    /// Whether every document is visible at `ts`.
    fn all_visible(&self, ts: u64) -> bool {
        self.max_begin <= ts && ts < self.min_end
    }

    fn liveness(&self, ts: u64) -> Liveness<'_> {
        if self.all_visible(ts) {
            Liveness::All
        } else {
            Liveness::Versions {
                begin: &self.begin,
                end: &self.end,
                ts,
            }
        }
    }
}

struct Sealed {
    part: Part<Vec<u8>>,
    versions: Versions,
}

/// Where a key's open version lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Sealed(usize, u32),
    Tail(u32),
}

/// Sealed parts, a tail, and the history of visible counts.
#[derive(Default)]
pub struct TextIndex {
    sealed: Vec<Sealed>,
    tail: TailPart,
    tail_versions: Versions,
    open: HashMap<u64, Slot>,
    /// `(ts, visible versions, their total length)` after each change.
    history: Vec<(u64, u64, u64)>,
}

impl TextIndex {
    pub fn new() -> TextIndex {
        TextIndex::default()
    }

    fn check_order(&self, ts: u64) -> Result<(), IndexError> {
        match self.history.last() {
            Some(&(last, _, _)) if ts < last => Err(IndexError::OutOfOrder { ts, last }),
            _ => Ok(()),
        }
    }

    fn record(&mut self, ts: u64, dn: i64, dlen: i64) {
        let (n, len) = self.history.last().map_or((0, 0), |&(_, n, l)| (n, l));
        let n = n.saturating_add_signed(dn);
        let len = len.saturating_add_signed(dlen);
        match self.history.last_mut() {
            Some(last) if last.0 == ts => *last = (ts, n, len),
            _ => self.history.push((ts, n, len)),
        }
    }

    /// A new version of `key`, visible from `ts`, with its `(term,
    /// position)` pairs; seals the tail when it is full.
    pub fn insert<'t>(
        &mut self,
        key: u64,
        terms: impl IntoIterator<Item = (&'t str, u32)>,
        ts: u64,
    ) -> Result<(), IndexError> {
        self.check_order(ts)?;
        if self.open.contains_key(&key) {
            return Err(IndexError::AlreadyOpen(key));
        }
        let terms: Vec<(&str, u32)> = terms.into_iter().collect();
        let len = u32::try_from(terms.len()).unwrap_or(u32::MAX);
        let doc = self.tail.add_document(terms)?;
        self.tail_versions.push(key, ts, OPEN, len);
        self.open.insert(key, Slot::Tail(doc));
        self.record(ts, 1, i64::from(len));
        if self.tail.n_docs() as usize >= TAIL_DOCS_MAX {
            self.seal()?;
        }
        Ok(())
    }

    /// Ends `key`'s open version at `ts` (a delete, or the old side of an
    /// update). `terms` are the indexed terms of that version (repeats
    /// allowed): the caller re-tokenizes the old text, which it has at
    /// hand, so a part's term frequencies stay exact at every snapshot
    /// without a forward index. They must be the version's own terms.
    pub fn end<'t>(
        &mut self,
        key: u64,
        ts: u64,
        terms: impl IntoIterator<Item = &'t str>,
    ) -> Result<(), IndexError> {
        self.check_order(ts)?;
        let slot = self.open.remove(&key).ok_or(IndexError::NotOpen(key))?;
        let (versions, doc) = match slot {
            Slot::Sealed(p, doc) => {
                let versions = &mut self.sealed[p].versions;
                let mut distinct: Vec<&str> = terms.into_iter().collect();
                distinct.sort_unstable();
                distinct.dedup();
                for t in distinct {
                    versions.dead.entry(t.into()).or_default().push(ts);
                }
                (versions, doc)
            }
            // A tail document's terms are in the tail (used when sealed).
            Slot::Tail(doc) => (&mut self.tail_versions, doc),
        };
        let d = doc as usize;
        versions.set_end(d, ts);
        let len = i64::from(versions.lens[d]);
        self.record(ts, -1, -len);
        Ok(())
    }

    /// Seals the tail into a part (nothing if it is empty).
    pub fn seal(&mut self) -> Result<(), IndexError> {
        if self.tail.n_docs() == 0 {
            return Ok(());
        }
        let bytes = self.tail.seal()?;
        let part = Part::open(bytes).map_err(|e| IndexError::Internal(e.to_string()))?;
        let index = self.sealed.len();
        let mut versions = std::mem::take(&mut self.tail_versions);
        for (doc, &end) in versions.end.iter().enumerate() {
            if end != OPEN {
                let dead = &mut versions.dead;
                self.tail
                    .each_term_of(doc as u32, |t| dead.entry(t.into()).or_default().push(end));
            }
        }
        versions
            .dead
            .values_mut()
            .for_each(|ends| ends.sort_unstable());
        for (doc, (&key, &end)) in versions.keys.iter().zip(&versions.end).enumerate() {
            if end == OPEN {
                self.open.insert(key, Slot::Sealed(index, doc as u32));
            }
        }
        self.sealed.push(Sealed { part, versions });
        self.tail = TailPart::new();
        Ok(())
    }

    /// Merges every part and the tail into one part, dropping the
    /// versions that ended at or before `oldest` (no snapshot at or after
    /// it sees them). Searches at `ts >= oldest` answer as before.
    pub fn compact(&mut self, oldest: u64) -> Result<(), IndexError> {
        self.merge_from(0, oldest)
    }

    /// As [`TextIndex::compact`], for the parts from the `from`-th on (the
    /// newer, smaller ones; a tiered policy merges those often and the
    /// large old ones rarely). Merged parts keep their place in the order.
    pub fn merge_from(&mut self, from: usize, oldest: u64) -> Result<(), IndexError> {
        self.seal()?;
        let from = from.min(self.sealed.len());
        // New ids, in (part, document) order, for the versions kept.
        let mut kept = Versions::default();
        let mut remap: Vec<Vec<Option<u32>>> = Vec::with_capacity(self.sealed.len() - from);
        for s in &self.sealed[from..] {
            let mut map = Vec::with_capacity(s.versions.keys.len());
            for d in 0..s.versions.keys.len() {
                if s.versions.end[d] <= oldest {
                    map.push(None);
                } else {
                    map.push(Some(kept.keys.len() as u32));
                    let v = &s.versions;
                    kept.push(v.keys[d], v.begin[d], v.end[d], v.lens[d]);
                }
            }
            remap.push(map);
        }
        let mut writer = PartWriter::for_merge(kept.lens.clone());
        let mut positions = Vec::new();
        for (s, map) in self.sealed[from..].iter().zip(&remap) {
            let view = s.part.view();
            let norms = view.norms();
            view.each_term(|term, entry| {
                let Ok(term) = std::str::from_utf8(term) else {
                    return;
                };
                let Some(region) = view.region(entry) else {
                    return;
                };
                let mut cursor = PostingsCursor::new(region, entry.df, norms);
                while cursor.doc() != TERMINATED {
                    if let Some(Some(new)) = map.get(cursor.doc() as usize) {
                        cursor.positions(&mut positions);
                        writer.push_posting(term, *new, &positions);
                        let end = kept.end[*new as usize];
                        if end != OPEN {
                            kept.dead.entry(term.into()).or_default().push(end);
                        }
                    }
                    cursor.advance();
                }
            });
        }
        kept.dead.values_mut().for_each(|ends| ends.sort_unstable());
        let bytes = writer.finish()?;
        let part = Part::open(bytes).map_err(|e| IndexError::Internal(e.to_string()))?;
        self.sealed.truncate(from);
        self.open
            .retain(|_, slot| matches!(slot, Slot::Sealed(p, _) if *p < from));
        if !kept.keys.is_empty() {
            for (doc, (&key, &end)) in kept.keys.iter().zip(&kept.end).enumerate() {
                if end == OPEN {
                    self.open.insert(key, Slot::Sealed(from, doc as u32));
                }
            }
            self.sealed.push(Sealed {
                part,
                versions: kept,
            });
        }
        // History before `oldest` collapses into one entry.
        let base = self.history.iter().rposition(|&(t, _, _)| t <= oldest);
        if let Some(i) = base {
            self.history.drain(..i);
        }
        Ok(())
    }

    /// Versions stored (visible or not), parts and tail included.
    pub fn n_versions(&self) -> usize {
        self.sealed
            .iter()
            .map(|s| s.versions.keys.len())
            .sum::<usize>()
            + self.tail.n_docs() as usize
    }

    /// Sealed parts.
    pub fn n_parts(&self) -> usize {
        self.sealed.len()
    }

    /// Visible versions and their total length at `ts`.
    pub fn stats_at(&self, ts: u64) -> Bm25Stats {
        let i = self.history.partition_point(|&(t, _, _)| t <= ts);
        match i.checked_sub(1).and_then(|i| self.history.get(i)) {
            Some(&(_, n_docs, total_len)) => Bm25Stats { n_docs, total_len },
            None => Bm25Stats::default(),
        }
    }

    /// The best `k` versions visible at `ts` for `query` (a prefix-free or
    /// prefixed query; ties: the older part, then the earlier version).
    pub fn search(
        &self,
        query: &Query,
        params: Bm25Params,
        ts: u64,
        k: usize,
    ) -> Result<Vec<KeyHit>, QueryError> {
        let views: Vec<Part<&[u8]>> = self.sealed.iter().map(|s| s.part.view()).collect();
        let mut parts: Vec<SearchPart> = views
            .iter()
            .zip(&self.sealed)
            .map(|(view, s)| SearchPart {
                part: PartRef::Sealed(view),
                live: s.versions.liveness(ts),
            })
            .collect();
        parts.push(SearchPart {
            part: PartRef::Tail(&self.tail),
            live: self.tail_versions.liveness(ts),
        });
        let dfs = LazyDocFreqs {
            index: self,
            ts,
            cache: RefCell::new(HashMap::new()),
        };
        let hits = search_with_stats(&parts, query, params, self.stats_at(ts), &dfs, k)?;
        Ok(hits
            .iter()
            .filter_map(|h| {
                let versions = self
                    .sealed
                    .get(h.part)
                    .map_or(&self.tail_versions, |s| &s.versions);
                let key = *versions.keys.get(h.doc as usize)?;
                Some(KeyHit {
                    key,
                    score: h.score,
                })
            })
            .collect())
    }
}

/// Document frequencies at the search's snapshot, counted on first use.
struct LazyDocFreqs<'a> {
    index: &'a TextIndex,
    ts: u64,
    cache: RefCell<HashMap<String, u64>>,
}

impl DocFreqs for LazyDocFreqs<'_> {
    fn doc_freq(&self, term: &str) -> u64 {
        if let Some(&df) = self.cache.borrow().get(term) {
            return df;
        }
        let ts = self.ts;
        let mut df: u64 = self
            .index
            .sealed
            .iter()
            .map(|s| s.doc_freq_at(term, ts))
            .sum();
        df += self
            .index
            .tail
            .doc_freq(term, self.index.tail_versions.liveness(ts));
        self.cache.borrow_mut().insert(term.to_string(), df);
        df
    }
}

impl Sealed {
    /// Documents of this part that contain `term` and are visible at `ts`.
    fn doc_freq_at(&self, term: &str, ts: u64) -> u64 {
        let view = self.part.view();
        let Some(entry) = view.lookup(term) else {
            return 0;
        };
        let v = &self.versions;
        let mut df = u64::from(entry.df);
        if let Some(ends) = v.dead.get(term) {
            df = df.saturating_sub(ends.partition_point(|&e| e <= ts) as u64);
        }
        if ts < v.max_begin {
            // Begins never decrease along a part: the documents from
            // `first` on had not begun at `ts` (and are not among the dead
            // counted above, which ended at or before `ts`).
            let first = v.begin.partition_point(|&b| b <= ts) as u32;
            if let Some(region) = view.region(&entry) {
                let mut cursor = PostingsCursor::new(region, entry.df, view.norms());
                let mut doc = cursor.seek(first);
                while doc != TERMINATED {
                    df = df.saturating_sub(1);
                    doc = cursor.advance();
                }
            }
        }
        df
    }
}
