//! Scorers: a query compiled against one part, as a stream of matching
//! documents in increasing id order with their scores, a bound over the
//! whole stream (`max_score`) and a bound over the block that holds a
//! given document (`block_bound`), which lets top-k skip blocks that
//! cannot beat the k-th score.
//!
//! A score is always the sum of the matching clauses' scores in clause
//! order, so that every strategy (and the test's exhaustive reference)
//! computes the same `f32`.

use super::bound::Bound;
use super::cursor::{PostingsCursor, TERMINATED};
use super::score::Bm25;

pub(crate) trait Scorer {
    /// The current document (`TERMINATED` at the end).
    fn doc(&self) -> u32;
    /// Moves to the next matching document.
    fn advance(&mut self) -> u32;
    /// Moves to the first matching document `>= target`.
    fn seek(&mut self, target: u32) -> u32;
    /// The current document's score.
    fn score(&mut self) -> f32;
    /// A bound of every score of the stream.
    fn max_score(&self) -> f32;
    /// `(last, bound)`: every match in `target..=last` scores at most
    /// `bound`; `last >= target`.
    fn block_bound(&mut self, target: u32) -> (u32, f32);

    /// Scores the matches from the current one up to `end` (at most 128),
    /// into `docs` and `scores`, and moves past them; returns how many.
    /// A term scores a run of its block in one tight loop, so the norm
    /// loads of its documents overlap instead of waiting on each other.
    /// Promises that only matches scoring above `floor` are wanted from
    /// now on (`floor` never decreases): a scorer may skip the others.
    fn raise_floor(&mut self, _floor: f32) {}

    fn score_until(&mut self, end: u32, docs: &mut [u32; 128], scores: &mut [f32; 128]) -> usize {
        let mut n = 0;
        while n < 128 && self.doc() <= end {
            docs[n] = self.doc();
            scores[n] = self.score();
            n += 1;
            self.advance();
        }
        n
    }
}

impl<S: Scorer + ?Sized> Scorer for Box<S> {
    fn doc(&self) -> u32 {
        (**self).doc()
    }
    fn advance(&mut self) -> u32 {
        (**self).advance()
    }
    fn seek(&mut self, target: u32) -> u32 {
        (**self).seek(target)
    }
    fn score(&mut self) -> f32 {
        (**self).score()
    }
    fn max_score(&self) -> f32 {
        (**self).max_score()
    }
    fn block_bound(&mut self, target: u32) -> (u32, f32) {
        (**self).block_bound(target)
    }
    fn raise_floor(&mut self, floor: f32) {
        (**self).raise_floor(floor)
    }
    fn score_until(&mut self, end: u32, docs: &mut [u32; 128], scores: &mut [f32; 128]) -> usize {
        (**self).score_until(end, docs, scores)
    }
}

/// Matches nothing (a term absent from the part).
pub(crate) struct EmptyScorer;

impl Scorer for EmptyScorer {
    fn doc(&self) -> u32 {
        TERMINATED
    }
    fn advance(&mut self) -> u32 {
        TERMINATED
    }
    fn seek(&mut self, _: u32) -> u32 {
        TERMINATED
    }
    fn score(&mut self) -> f32 {
        0.0
    }
    fn max_score(&self) -> f32 {
        0.0
    }
    fn block_bound(&mut self, _: u32) -> (u32, f32) {
        (TERMINATED, 0.0)
    }
}

pub(crate) struct TermScorer<'a> {
    cursor: PostingsCursor<'a>,
    weight: f32,
    bm25: &'a Bm25,
    norms: &'a [u8],
    max: f32,
    /// The block whose bound was computed last, its last document and
    /// bound (computing a bound costs two divisions; WAND asks for the
    /// same block many times).
    bound_block: usize,
    bound: (u32, f32),
}

impl<'a> TermScorer<'a> {
    pub fn new(
        cursor: PostingsCursor<'a>,
        summary: Bound,
        weight: f32,
        bm25: &'a Bm25,
        norms: &'a [u8],
    ) -> TermScorer<'a> {
        // A single-block list's bound is its exact best score.
        let max = match cursor.single_block() {
            Some((docs, tfs)) => docs
                .iter()
                .zip(tfs)
                .map(|(&doc, &tf)| {
                    bm25.score(weight, tf, norms.get(doc as usize).copied().unwrap_or(0))
                })
                .fold(0.0, f32::max),
            None => summary.score(bm25, weight),
        };
        TermScorer {
            cursor,
            weight,
            bm25,
            norms,
            max,
            bound_block: usize::MAX,
            bound: (0, 0.0),
        }
    }

    pub fn df(&self) -> u32 {
        self.cursor.df()
    }
}

impl Scorer for TermScorer<'_> {
    #[inline]
    fn doc(&self) -> u32 {
        self.cursor.doc()
    }
    #[inline]
    fn advance(&mut self) -> u32 {
        self.cursor.advance()
    }
    #[inline]
    fn seek(&mut self, target: u32) -> u32 {
        self.cursor.seek(target)
    }
    #[inline]
    fn score(&mut self) -> f32 {
        let norm = self
            .norms
            .get(self.cursor.doc() as usize)
            .copied()
            .unwrap_or(0);
        self.bm25.score(self.weight, self.cursor.tf(), norm)
    }
    fn max_score(&self) -> f32 {
        self.max
    }
    fn score_until(&mut self, end: u32, docs: &mut [u32; 128], scores: &mut [f32; 128]) -> usize {
        let (weight, bm25, norms) = (self.weight, self.bm25, self.norms);
        let (block_docs, tfs) = self.cursor.rest_of_block();
        let n = block_docs.partition_point(|&d| d <= end).min(128);
        for i in 0..n {
            let doc = block_docs[i];
            docs[i] = doc;
            let norm = norms.get(doc as usize).copied().unwrap_or(0);
            scores[i] = bm25.score(weight, tfs[i], norm);
        }
        self.cursor.skip_in_block(n);
        n
    }
    #[inline]
    fn block_bound(&mut self, target: u32) -> (u32, f32) {
        match self.cursor.shallow(target) {
            Some(block) if block == self.bound_block => self.bound,
            Some(block) => {
                let b = self.cursor.block_info(block);
                let bound = match self.cursor.single_block() {
                    Some(_) => self.max,
                    None => b.bound.score(self.bm25, self.weight),
                };
                self.bound_block = block;
                self.bound = (b.last_doc, bound);
                self.bound
            }
            None => (TERMINATED, 0.0),
        }
    }
}

/// Documents where the terms occur at consecutive positions; scored as
/// one term whose frequency is the number of occurrences of the phrase and
/// whose idf is the sum of the terms' (as tantivy and Lucene do).
pub(crate) struct PhraseScorer<'a> {
    /// Cursors in decreasing rarity, each with its offset in the phrase.
    terms: Vec<(PostingsCursor<'a>, u32, Bound)>,
    weight: f32,
    bm25: &'a Bm25,
    norms: &'a [u8],
    doc: u32,
    phrase_freq: u32,
    /// Matches scoring at most this are not wanted (`raise_floor`).
    floor: f32,
    starts: Vec<u32>,
    scratch: Vec<u32>,
    kept: Vec<u32>,
}

impl<'a> PhraseScorer<'a> {
    pub fn new(
        mut terms: Vec<(PostingsCursor<'a>, u32, Bound)>,
        weight: f32,
        bm25: &'a Bm25,
        norms: &'a [u8],
    ) -> PhraseScorer<'a> {
        terms.sort_by_key(|(c, offset, _)| (c.df(), *offset));
        let mut scorer = PhraseScorer {
            terms,
            weight,
            bm25,
            norms,
            doc: 0,
            phrase_freq: 0,
            floor: f32::NEG_INFINITY,
            starts: Vec::new(),
            scratch: Vec::new(),
            kept: Vec::new(),
        };
        scorer.doc = scorer.settle(0);
        scorer
    }

    /// The first document `>= target` where all terms occur.
    fn align(&mut self, target: u32) -> u32 {
        let terms = &mut self.terms;
        leapfrog(terms.len(), target, |i, t| terms[i].0.seek(t))
    }

    /// The first document `>= target` where the phrase occurs.
    fn settle(&mut self, mut target: u32) -> u32 {
        loop {
            let doc = self.align(target);
            if doc == TERMINATED {
                return TERMINATED;
            }
            // The phrase occurs at most as often as its rarest-here term:
            // if even that frequency cannot clear the floor, skip the
            // positions.
            if self.floor > f32::NEG_INFINITY {
                let min_tf = self
                    .terms
                    .iter_mut()
                    .map(|(c, _, _)| c.tf())
                    .min()
                    .unwrap_or(0);
                let norm = self.norms.get(doc as usize).copied().unwrap_or(0);
                if self.bm25.score(self.weight, min_tf, norm) <= self.floor {
                    target = doc + 1;
                    continue;
                }
            }
            self.phrase_freq = self.count_phrases();
            if self.phrase_freq > 0 {
                return doc;
            }
            target = doc + 1;
        }
    }

    /// Occurrences of the phrase in the document all cursors are on.
    fn count_phrases(&mut self) -> u32 {
        let Some(((first, first_offset, _), rest)) = self.terms.split_first_mut() else {
            return 0;
        };
        first.positions(&mut self.scratch);
        self.starts.clear();
        self.starts.extend(
            self.scratch
                .iter()
                .filter_map(|&p| p.checked_sub(*first_offset)),
        );
        for (cursor, offset, _) in rest {
            if self.starts.is_empty() {
                break;
            }
            cursor.positions(&mut self.scratch);
            self.kept.clear();
            let mut j = 0;
            for &start in &self.starts {
                let want = start.saturating_add(*offset);
                while j < self.scratch.len() && self.scratch[j] < want {
                    j += 1;
                }
                if j < self.scratch.len() && self.scratch[j] == want {
                    self.kept.push(start);
                }
            }
            std::mem::swap(&mut self.starts, &mut self.kept);
        }
        self.starts.len() as u32
    }
}

impl Scorer for PhraseScorer<'_> {
    fn doc(&self) -> u32 {
        self.doc
    }
    fn advance(&mut self) -> u32 {
        if self.doc != TERMINATED {
            self.doc = self.settle(self.doc + 1);
        }
        self.doc
    }
    fn seek(&mut self, target: u32) -> u32 {
        if self.doc < target {
            self.doc = self.settle(target);
        }
        self.doc
    }
    fn raise_floor(&mut self, floor: f32) {
        self.floor = self.floor.max(floor);
    }
    fn score(&mut self) -> f32 {
        let norm = self.norms.get(self.doc as usize).copied().unwrap_or(0);
        self.bm25.score(self.weight, self.phrase_freq, norm)
    }
    fn max_score(&self) -> f32 {
        // The phrase frequency is at most each term's frequency.
        self.terms
            .iter()
            .map(|(_, _, s)| s.score(self.bm25, self.weight))
            .fold(f32::INFINITY, f32::min)
    }
    fn block_bound(&mut self, target: u32) -> (u32, f32) {
        let (mut last, mut bound) = (TERMINATED, f32::INFINITY);
        for (cursor, _, _) in self.terms.iter_mut() {
            match cursor.shallow(target).map(|block| cursor.block_info(block)) {
                Some(b) => {
                    last = last.min(b.last_doc);
                    bound = bound.min(b.bound.score(self.bm25, self.weight));
                }
                None => return (TERMINATED, 0.0),
            }
        }
        (last, bound)
    }
}

/// Documents matching any child; the score sums the matching children.
pub(crate) struct UnionScorer<S> {
    children: Vec<S>,
    doc: u32,
}

impl<S: Scorer> UnionScorer<S> {
    pub fn new(children: Vec<S>) -> UnionScorer<S> {
        let doc = children.iter().map(Scorer::doc).min().unwrap_or(TERMINATED);
        UnionScorer { children, doc }
    }
}

impl<S: Scorer> Scorer for UnionScorer<S> {
    fn doc(&self) -> u32 {
        self.doc
    }
    fn advance(&mut self) -> u32 {
        let current = self.doc;
        if current == TERMINATED {
            return current;
        }
        let mut next = TERMINATED;
        for child in self.children.iter_mut() {
            let doc = if child.doc() == current {
                child.advance()
            } else {
                child.doc()
            };
            next = next.min(doc);
        }
        self.doc = next;
        next
    }
    fn seek(&mut self, target: u32) -> u32 {
        if self.doc >= target {
            return self.doc;
        }
        let mut next = TERMINATED;
        for child in self.children.iter_mut() {
            let doc = if child.doc() < target {
                child.seek(target)
            } else {
                child.doc()
            };
            next = next.min(doc);
        }
        self.doc = next;
        next
    }
    fn score(&mut self) -> f32 {
        let doc = self.doc;
        let mut score = 0.0;
        for child in self.children.iter_mut() {
            if child.doc() == doc {
                score += child.score();
            }
        }
        score
    }
    fn max_score(&self) -> f32 {
        self.children.iter().map(Scorer::max_score).sum()
    }
    fn block_bound(&mut self, target: u32) -> (u32, f32) {
        let (mut last, mut bound) = (TERMINATED, 0.0);
        for child in self.children.iter_mut() {
            let (l, b) = child.block_bound(target);
            if l != TERMINATED || b > 0.0 {
                last = last.min(l);
                bound += b;
            }
        }
        (last.max(target), bound)
    }
}

/// Documents matching every `must` child and no `not` child; the score
/// sums the `must` children.
pub(crate) struct AndScorer<S> {
    /// Children in clause order (for the score's summation order).
    musts: Vec<S>,
    /// Indices into `musts`, cheapest (rarest) first, for the leapfrog.
    order: Vec<usize>,
    nots: Vec<S>,
    doc: u32,
}

impl<S: Scorer> AndScorer<S> {
    /// `costs[i]` orders the leapfrog (smaller first).
    pub fn new(musts: Vec<S>, costs: Vec<u64>, nots: Vec<S>) -> AndScorer<S> {
        let mut order: Vec<usize> = (0..musts.len()).collect();
        order.sort_by_key(|&i| costs.get(i).copied().unwrap_or(u64::MAX));
        let mut scorer = AndScorer {
            musts,
            order,
            nots,
            doc: 0,
        };
        scorer.doc = if scorer.musts.is_empty() {
            TERMINATED
        } else {
            scorer.settle(0)
        };
        scorer
    }

    fn align(&mut self, target: u32) -> u32 {
        let (order, musts) = (&self.order, &mut self.musts);
        leapfrog(order.len(), target, |k, t| musts[order[k]].seek(t))
    }

    fn settle(&mut self, mut target: u32) -> u32 {
        loop {
            let doc = self.align(target);
            if doc == TERMINATED {
                return TERMINATED;
            }
            if !self.nots.iter_mut().any(|n| n.seek(doc) == doc) {
                return doc;
            }
            target = doc + 1;
        }
    }
}

impl<S: Scorer> Scorer for AndScorer<S> {
    fn doc(&self) -> u32 {
        self.doc
    }
    fn advance(&mut self) -> u32 {
        if self.doc != TERMINATED {
            self.doc = self.settle(self.doc + 1);
        }
        self.doc
    }
    fn seek(&mut self, target: u32) -> u32 {
        if self.doc < target {
            self.doc = self.settle(target);
        }
        self.doc
    }
    fn score(&mut self) -> f32 {
        let mut score = 0.0;
        for child in self.musts.iter_mut() {
            score += child.score();
        }
        score
    }
    fn max_score(&self) -> f32 {
        self.musts.iter().map(Scorer::max_score).sum()
    }
    fn block_bound(&mut self, target: u32) -> (u32, f32) {
        let (mut last, mut bound) = (TERMINATED, 0.0);
        for child in self.musts.iter_mut() {
            let (l, b) = child.block_bound(target);
            if l == TERMINATED && b == 0.0 {
                return (TERMINATED, 0.0);
            }
            last = last.min(l);
            bound += b;
        }
        (last.max(target), bound)
    }
}

/// The first document `>= target` that all `n` lists hold: each list in
/// turn is sought to the candidate, and one that overshoots makes its
/// document the new candidate (the lists are tried cheapest first).
#[inline]
fn leapfrog(n: usize, mut target: u32, mut seek: impl FnMut(usize, u32) -> u32) -> u32 {
    'candidate: loop {
        for i in 0..n {
            let doc = seek(i, target);
            if doc == TERMINATED {
                return TERMINATED;
            }
            if doc > target {
                target = doc;
                continue 'candidate;
            }
        }
        return target;
    }
}
