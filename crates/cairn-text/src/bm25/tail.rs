//! The tail: an index's newest documents, kept as plain term lists and
//! scored one document at a time, so a document is searchable the moment
//! it is added (no sealing, no refresh). When the tail grows past a few
//! hundred documents the caller seals it into a [`Part`](super::Part)
//! (`TailPart::seal`) and starts a new one.
//!
//! Scores are computed with the same formula, the same norms and the same
//! clause-order sums as the block scorers, so a document scores the same
//! bits in the tail as after sealing.

use super::norm;
use super::part::{PartTooLarge, PartWriter, TooManyDocs, PART_DOCS_MAX};
use super::score::Bm25;
use super::{Hit, Liveness, Query};

/// Documents not sealed yet.
#[derive(Clone, Debug, Default)]
pub struct TailPart {
    docs: Vec<TailDoc>,
    total_len: u64,
}

#[derive(Clone, Debug)]
struct TailDoc {
    len: u32,
    /// `(term, positions)` sorted by term.
    terms: Vec<(Box<str>, Vec<u32>)>,
}

impl TailDoc {
    fn positions(&self, term: &str) -> Option<&[u32]> {
        let i = self.terms.binary_search_by(|(t, _)| (**t).cmp(term)).ok()?;
        Some(&self.terms[i].1)
    }
}

impl TailPart {
    pub fn new() -> TailPart {
        TailPart::default()
    }

    /// Adds a document given as `(term, position)` pairs in position order
    /// and returns its id (`0..`, in the tail).
    pub fn add_document<'t>(
        &mut self,
        terms: impl IntoIterator<Item = (&'t str, u32)>,
    ) -> Result<u32, TooManyDocs> {
        let doc = self.docs.len() as u32;
        if doc >= PART_DOCS_MAX {
            return Err(TooManyDocs);
        }
        let mut pairs: Vec<(&str, u32)> = terms.into_iter().collect();
        let len = u32::try_from(pairs.len()).unwrap_or(u32::MAX);
        pairs.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
        let mut terms: Vec<(Box<str>, Vec<u32>)> = Vec::new();
        for (term, position) in pairs {
            match terms.last_mut() {
                Some((t, positions)) if **t == *term => positions.push(position),
                _ => terms.push((term.into(), vec![position])),
            }
        }
        self.docs.push(TailDoc { len, terms });
        self.total_len += u64::from(len);
        Ok(doc)
    }

    pub fn n_docs(&self) -> u32 {
        self.docs.len() as u32
    }

    pub fn total_len(&self) -> u64 {
        self.total_len
    }

    /// Exact length of every document, in id order.
    pub fn lengths(&self) -> impl Iterator<Item = u32> + '_ {
        self.docs.iter().map(|d| d.len)
    }

    /// Documents that contain `term` and that `live` lets the snapshot see.
    pub fn doc_freq(&self, term: &str, live: Liveness) -> u64 {
        let mut df = 0;
        for (i, d) in self.docs.iter().enumerate() {
            df += u64::from(live.is_live(i as u32) && d.positions(term).is_some());
        }
        df
    }

    /// The terms that start with `prefix`, sorted, without repeats.
    pub fn terms_with_prefix(&self, prefix: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .docs
            .iter()
            .flat_map(|d| d.terms.iter())
            .filter(|(t, _)| t.starts_with(prefix))
            .map(|(t, _)| t.to_string())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Calls `f(term)` for each distinct term of document `doc`.
    pub(crate) fn each_term_of(&self, doc: u32, mut f: impl FnMut(&str)) {
        if let Some(d) = self.docs.get(doc as usize) {
            d.terms.iter().for_each(|(t, _)| f(t));
        }
    }

    /// The tail as a sealed part (same ids, same scores).
    pub fn seal(&self) -> Result<Vec<u8>, PartTooLarge> {
        let mut writer = PartWriter::new();
        for d in &self.docs {
            let mut pairs: Vec<(&str, u32)> = d
                .terms
                .iter()
                .flat_map(|(t, ps)| ps.iter().map(move |&p| (&**t, p)))
                .collect();
            pairs.sort_by_key(|&(_, p)| p);
            // The tail holds fewer documents than a part may.
            let _ = writer.add_document(pairs);
        }
        writer.finish()
    }

    /// Scores every visible document for a prefix-free, checked query;
    /// `idf` gives each term's idf at the snapshot.
    pub(crate) fn collect(
        &self,
        query: &Query,
        bm25: &Bm25,
        idf: &dyn Fn(&str) -> f32,
        part: usize,
        live: Liveness,
        top: &mut super::topk::TopK,
    ) {
        for (i, doc) in self.docs.iter().enumerate() {
            let id = i as u32;
            if !live.is_live(id) {
                continue;
            }
            let scorer = DocScorer {
                doc,
                bm25,
                idf,
                norm: norm::encode(doc.len),
            };
            if let Some(score) = scorer.score(query) {
                top.push(Hit {
                    part,
                    doc: id,
                    score,
                });
            }
        }
    }
}

/// One tail document against a query.
struct DocScorer<'a> {
    doc: &'a TailDoc,
    bm25: &'a Bm25,
    idf: &'a dyn Fn(&str) -> f32,
    norm: u8,
}

impl DocScorer<'_> {
    /// The score if the document matches (the block scorers' semantics).
    fn score(&self, q: &Query) -> Option<f32> {
        match q {
            Query::Term(t) => {
                let tf = self.doc.positions(t)?.len() as u32;
                Some(
                    self.bm25
                        .score(self.bm25.weight((self.idf)(t)), tf, self.norm),
                )
            }
            Query::Phrase(terms) => {
                // (offset, positions) of each word; placeholders are skipped.
                let words: Vec<(usize, &String)> = terms
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| !t.is_empty())
                    .collect();
                match words.as_slice() {
                    [] => return None,
                    [(_, one)] => return self.score(&Query::Term((*one).clone())),
                    _ => {}
                }
                let mut lists = Vec::with_capacity(words.len());
                let mut idf_sum = 0.0f32;
                for &(offset, t) in &words {
                    lists.push((offset as u32, self.doc.positions(t)?));
                    idf_sum += (self.idf)(t);
                }
                let (first_offset, first) = lists[0];
                let phrase_freq = first
                    .iter()
                    .filter_map(|&p| p.checked_sub(first_offset))
                    .filter(|&start| {
                        lists[1..].iter().all(|&(offset, ps)| {
                            start
                                .checked_add(offset)
                                .is_some_and(|want| ps.binary_search(&want).is_ok())
                        })
                    })
                    .count() as u32;
                (phrase_freq > 0).then(|| {
                    self.bm25
                        .score(self.bm25.weight(idf_sum), phrase_freq, self.norm)
                })
            }
            Query::Or(children) => {
                let mut score = 0.0f32;
                let mut any = false;
                for c in children {
                    if let Some(s) = self.score(c) {
                        score += s;
                        any = true;
                    }
                }
                any.then_some(score)
            }
            Query::And(children) => {
                let mut score = 0.0f32;
                for c in children {
                    match c {
                        Query::Not(inner) => {
                            if self.score(inner).is_some() {
                                return None;
                            }
                        }
                        positive => score += self.score(positive)?,
                    }
                }
                Some(score)
            }
            // Expanded and checked before scoring.
            Query::Prefix(_) | Query::Not(_) => None,
        }
    }
}
