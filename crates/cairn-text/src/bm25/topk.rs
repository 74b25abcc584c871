//! Top-k collection: a bounded heap ordered by score, ties broken by the
//! smaller (part, document) — and the loops that feed it while skipping
//! what cannot enter: MaxScore for a disjunction, a leader-window loop for
//! a conjunction of terms, a block-at-a-time loop for one term, and a
//! block-skipping loop for any other scorer.
//!
//! Parts are searched in order and documents in increasing id order, so
//! every candidate comes after every entry of the heap: it enters only
//! with a score strictly above the k-th, and a block whose bound is at most
//! the k-th score can be skipped without changing the answer.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::cursor::TERMINATED;
use super::scorer::Scorer;
use super::{Hit, Liveness};

#[derive(Clone, Copy, Debug)]
struct Entry(Hit);

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Greater = worse: lower score, then later (part, doc).
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .0
            .score
            .total_cmp(&self.0.score)
            .then((self.0.part, self.0.doc).cmp(&(other.0.part, other.0.doc)))
    }
}

pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Entry>,
}

impl TopK {
    pub fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.saturating_add(1).min(1 << 16)),
        }
    }

    /// The score a new candidate must beat (`-inf` while not full).
    #[inline]
    pub fn threshold(&self) -> f32 {
        match self.heap.peek() {
            Some(worst) if self.heap.len() >= self.k => worst.0.score,
            _ => f32::NEG_INFINITY,
        }
    }

    #[inline]
    pub fn is_full(&self) -> bool {
        self.heap.len() >= self.k
    }

    #[inline]
    pub fn push(&mut self, hit: Hit) {
        if self.k == 0 {
            return;
        }
        let entry = Entry(hit);
        if self.heap.len() < self.k {
            self.heap.push(entry);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if entry < *worst {
                *worst = entry;
            }
        }
    }

    /// Best first.
    pub fn into_sorted(self) -> Vec<Hit> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|e| e.0)
            .collect()
    }
}

/// Collects the matches of one scorer of part `part`, skipping blocks
/// whose bound cannot beat the heap.
pub(crate) fn collect<S: Scorer + ?Sized>(s: &mut S, part: usize, live: Liveness, top: &mut TopK) {
    let mut doc = s.doc();
    // The block bound last asked for, kept while `doc` stays inside it.
    let mut block: Option<(u32, f32)> = None;
    while doc != TERMINATED {
        if top.is_full() {
            let threshold = top.threshold();
            if s.max_score() <= threshold {
                return;
            }
            s.raise_floor(threshold);
            let (block_last, block_bound) = match block {
                Some((last, bound)) if doc <= last => (last, bound),
                _ => *block.insert(s.block_bound(doc)),
            };
            if block_bound <= threshold {
                if block_last >= TERMINATED - 1 {
                    return;
                }
                doc = s.seek(block_last + 1);
                continue;
            }
        }
        if live.is_live(doc) {
            top.push(Hit {
                part,
                doc,
                score: s.score(),
            });
        }
        doc = s.advance();
    }
}

/// Collects one term's matches a block at a time: a block whose bound
/// cannot beat the heap is skipped undecoded, the others are scored in
/// one loop before any of them touches the heap.
pub(crate) fn collect_blocks<S: Scorer>(s: &mut S, part: usize, live: Liveness, top: &mut TopK) {
    let mut docs = [0u32; 128];
    let mut scores = [0.0f32; 128];
    let mut doc = s.doc();
    while doc != TERMINATED {
        let (last, bound) = s.block_bound(doc);
        if top.is_full() {
            let threshold = top.threshold();
            if s.max_score() <= threshold {
                return;
            }
            if bound <= threshold {
                if last >= TERMINATED - 1 {
                    return;
                }
                doc = s.seek(last + 1);
                continue;
            }
        }
        let n = s.score_until(last, &mut docs, &mut scores);
        for (&d, &score) in docs[..n].iter().zip(&scores[..n]) {
            if score > top.threshold() && live.is_live(d) {
                top.push(Hit {
                    part,
                    doc: d,
                    score,
                });
            }
        }
        let next = s.doc();
        // Progress even if a scorer returned nothing for its own block.
        doc = if n == 0 && next == doc {
            s.advance()
        } else {
            next
        };
    }
}

/// Top-k of an AND of terms (with NOT terms): the rarest term leads; in
/// each window where every term's current block overlaps, a leader
/// document is a candidate only if its own score plus the other terms'
/// block bounds can beat the heap, and each other term is sought only
/// while the score so far plus the remaining bounds still can. The final
/// score sums the terms in clause order.
pub(crate) fn collect_and<S: Scorer>(
    musts: &mut [S],
    costs: &[u64],
    nots: &mut [S],
    part: usize,
    live: Liveness,
    top: &mut TopK,
) {
    let Some(lead) = (0..musts.len()).min_by_key(|&i| costs.get(i).copied().unwrap_or(u64::MAX))
    else {
        return;
    };
    let mut others: Vec<usize> = (0..musts.len()).filter(|&i| i != lead).collect();
    others.sort_by_key(|&i| costs.get(i).copied().unwrap_or(u64::MAX));
    let max_sum: f32 = musts.iter().map(Scorer::max_score).sum();
    let mut bounds = vec![0.0f32; musts.len()];
    // suffix[j] = sum of the block bounds of others[j + 1..].
    let mut suffix = vec![0.0f32; others.len()];
    let mut scores = vec![0.0f32; musts.len()];
    let mut window_docs = [0u32; 128];
    let mut window_scores = [0.0f32; 128];
    let mut doc = musts[lead].doc();
    while doc != TERMINATED {
        let threshold = top.threshold();
        if max_sum <= threshold {
            return;
        }
        let (lead_last, lead_bound) = musts[lead].block_bound(doc);
        let mut window_end = lead_last;
        let mut others_bound = 0.0f32;
        for &i in &others {
            let (last, bound) = musts[i].block_bound(doc);
            if last == TERMINATED && bound == 0.0 {
                return;
            }
            window_end = window_end.min(last);
            bounds[i] = bound;
            others_bound += bound;
        }
        if top.is_full() && lead_bound + others_bound <= threshold {
            if window_end >= TERMINATED - 1 {
                return;
            }
            doc = musts[lead].seek(window_end + 1);
            continue;
        }
        let mut running = 0.0f32;
        for (j, &i) in others.iter().enumerate().rev() {
            suffix[j] = running;
            running += bounds[i];
        }
        while doc <= window_end {
            // The leader's documents of the window, scored in one loop.
            let n = musts[lead].score_until(window_end, &mut window_docs, &mut window_scores);
            if n == 0 {
                break;
            }
            for (&doc, &lead_score) in window_docs[..n].iter().zip(&window_scores[..n]) {
                let threshold = top.threshold();
                if cannot_beat(lead_score + others_bound, threshold) || !live.is_live(doc) {
                    continue;
                }
                if let Some(score) = score_candidate(
                    musts,
                    lead,
                    lead_score,
                    &others,
                    &suffix,
                    &mut scores,
                    doc,
                    threshold,
                ) {
                    if !nots.iter_mut().any(|n| n.seek(doc) == doc) {
                        top.push(Hit { part, doc, score });
                    }
                }
            }
            doc = musts[lead].doc();
            if doc == TERMINATED {
                return;
            }
        }
    }
}

/// The clause-order score of `doc` if every other term has it and the
/// score can still beat `threshold`.
#[inline]
fn score_candidate<S: Scorer>(
    musts: &mut [S],
    lead: usize,
    lead_score: f32,
    others: &[usize],
    suffix: &[f32],
    scores: &mut [f32],
    doc: u32,
    threshold: f32,
) -> Option<f32> {
    scores[lead] = lead_score;
    let mut partial = lead_score;
    for (j, &i) in others.iter().enumerate() {
        if musts[i].seek(doc) != doc {
            return None;
        }
        let s = musts[i].score();
        scores[i] = s;
        partial += s;
        if cannot_beat(partial + suffix[j], threshold) {
            return None;
        }
    }
    let mut score = 0.0f32;
    for s in scores.iter() {
        score += *s;
    }
    (score > threshold).then_some(score)
}

/// Whether `x` — exact scores summed in some order plus bounds — cannot
/// beat `threshold`. Exact scores are summed in clause order only at the
/// end, so a partial sum may differ from that by a few ulps: the margin
/// (1e-5 of the threshold, far above f32 rounding of a few dozen terms)
/// keeps a pruning decision from dropping a document that enters.
#[inline]
fn cannot_beat(x: f32, threshold: f32) -> bool {
    x <= threshold - threshold.abs() * 1e-5
}

/// Top-k of a disjunction of terms by MaxScore with block bounds: the
/// terms are ordered by their list bounds; those whose bounds add up to
/// no more than the heap's threshold are *non-essential* (a document that
/// has only them cannot enter), so candidates come from the essential
/// lists only, and a non-essential term is sought only while the score
/// so far plus the bounds of the terms left can still beat the heap. The
/// final score sums the terms in clause order.
pub(crate) fn collect_maxscore<S: Scorer>(
    children: &mut [S],
    part: usize,
    live: Liveness,
    top: &mut TopK,
) {
    let n = children.len();
    let max: Vec<f32> = children.iter().map(Scorer::max_score).collect();
    let mut by_max: Vec<usize> = (0..n).collect();
    by_max.sort_by(|&a, &b| max[a].total_cmp(&max[b]));
    // prefix[j] = the bounds of the j terms with the smallest bounds.
    let mut prefix = vec![0.0f32; n + 1];
    for (j, &i) in by_max.iter().enumerate() {
        prefix[j + 1] = prefix[j] + max[i];
    }
    let mut clause_scores = vec![0.0f32; n];
    let mut matched = vec![false; n];
    loop {
        let threshold = top.threshold();
        let mut k = 0;
        while k < n && prefix[k + 1] <= threshold {
            k += 1;
        }
        if k == n {
            return;
        }
        let essential = &by_max[k..];
        let doc = essential
            .iter()
            .map(|&i| children[i].doc())
            .min()
            .unwrap_or(TERMINATED);
        if doc == TERMINATED {
            return;
        }
        if top.is_full() {
            // The essential lists' blocks at `doc`, plus every
            // non-essential bound, against the heap.
            let (mut bound, mut last) = (prefix[k], TERMINATED);
            for &i in essential {
                let (l, b) = children[i].block_bound(doc);
                bound += b;
                last = last.min(l);
            }
            if bound <= threshold {
                let next = last.saturating_add(1).max(doc + 1);
                for &i in essential {
                    if children[i].doc() < next {
                        children[i].seek(next);
                    }
                }
                continue;
            }
        }
        let mut partial = 0.0f32;
        for &i in essential {
            if children[i].doc() == doc {
                clause_scores[i] = children[i].score();
                matched[i] = true;
                partial += clause_scores[i];
            }
        }
        let mut hopeless = false;
        for j in (0..k).rev() {
            if cannot_beat(partial + prefix[j + 1], threshold) {
                hopeless = true;
                break;
            }
            let i = by_max[j];
            if children[i].seek(doc) == doc {
                clause_scores[i] = children[i].score();
                matched[i] = true;
                partial += clause_scores[i];
            }
        }
        if !hopeless && live.is_live(doc) {
            let mut score = 0.0f32;
            for i in 0..n {
                if matched[i] {
                    score += clause_scores[i];
                }
            }
            if score > threshold {
                top.push(Hit { part, doc, score });
            }
        }
        matched.fill(false);
        for &i in essential {
            if children[i].doc() == doc {
                children[i].advance();
            }
        }
    }
}
