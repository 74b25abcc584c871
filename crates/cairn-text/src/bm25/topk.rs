//! Top-k collection: a bounded heap ordered by score, ties broken by the
//! smaller (part, document) — and the two loops that feed it while
//! skipping what cannot enter: block-max WAND for a disjunction, and a
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
    let (mut block_last, mut block_bound) = (0u32, f32::INFINITY);
    let mut have_block = false;
    while doc != TERMINATED {
        if top.is_full() {
            let threshold = top.threshold();
            if s.max_score() <= threshold {
                return;
            }
            s.raise_floor(threshold);
            if !have_block || doc > block_last {
                (block_last, block_bound) = s.block_bound(doc);
                have_block = true;
            }
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

/// Block-max WAND over a disjunction: the score of a document is the sum
/// of the children that match it, in clause order.
///
/// Children are kept in order of their current document. The pivot is
/// the first child at which the children's list bounds, summed in that
/// order, beat the heap. If the block bounds at the pivot cannot, one
/// child — the one with the largest list bound — jumps past the blocks;
/// otherwise the children before the pivot are moved to it one at a time
/// (stopping at the first that overshoots), and only a document all of
/// them reach is scored.
pub(crate) fn collect_union<S: Scorer>(
    children: &mut [S],
    part: usize,
    live: Liveness,
    top: &mut TopK,
) {
    let max: Vec<f32> = children.iter().map(Scorer::max_score).collect();
    // `docs[i]` caches `children[i].doc()`; `order` lists the children
    // that are not exhausted, by current document.
    let mut docs: Vec<u32> = children.iter().map(Scorer::doc).collect();
    let mut order: Vec<usize> = (0..children.len())
        .filter(|&i| docs[i] != TERMINATED)
        .collect();
    order.sort_by_key(|&i| docs[i]);
    while !order.is_empty() {
        let threshold = top.threshold();
        let mut acc = 0.0f32;
        let Some(before) = order.iter().position(|&i| {
            acc += max[i];
            acc > threshold
        }) else {
            return;
        };
        let pivot_doc = docs[order[before]];
        let mut end = before + 1;
        while end < order.len() && docs[order[end]] == pivot_doc {
            end += 1;
        }
        if top.is_full() {
            let (bound, last) = block_bounds(children, &order[..end], pivot_doc);
            if bound <= threshold {
                // Nothing in these blocks can enter: the child with the
                // largest bound jumps past them (or to the next child's
                // document, whichever comes first).
                let mut next = last.saturating_add(1);
                if let Some(&i) = order.get(end) {
                    next = next.min(docs[i]);
                }
                let next = next.max(pivot_doc + 1);
                let k = (0..end)
                    .max_by(|&a, &b| max[order[a]].total_cmp(&max[order[b]]))
                    .unwrap_or(0);
                let i = order[k];
                docs[i] = children[i].seek(next);
                bubble(&mut order, &docs, k);
                continue;
            }
        }
        // Move the children before the pivot to it, nearest first.
        let mut aligned = true;
        for k in (0..before).rev() {
            let i = order[k];
            if docs[i] < pivot_doc {
                docs[i] = children[i].seek(pivot_doc);
                if docs[i] != pivot_doc {
                    bubble(&mut order, &docs, k);
                    aligned = false;
                    break;
                }
            }
        }
        if !aligned {
            continue;
        }
        if live.is_live(pivot_doc) {
            let mut score = 0.0f32;
            for (child, &doc) in children.iter_mut().zip(&docs) {
                if doc == pivot_doc {
                    score += child.score();
                }
            }
            top.push(Hit {
                part,
                doc: pivot_doc,
                score,
            });
        }
        for &i in &order[..end] {
            docs[i] = children[i].advance();
        }
        reorder(&mut order, &docs, end);
    }
}

/// Moves `order[k]`, whose document grew, right to its place; drops it
/// if exhausted.
#[inline]
fn bubble(order: &mut Vec<usize>, docs: &[u32], k: usize) {
    let x = order[k];
    let d = docs[x];
    let mut j = k;
    while j + 1 < order.len() && docs[order[j + 1]] < d {
        order[j] = order[j + 1];
        j += 1;
    }
    order[j] = x;
    if d == TERMINATED {
        while order.last().is_some_and(|&i| docs[i] == TERMINATED) {
            order.pop();
        }
    }
}

/// The summed block bounds at `pivot_doc` of the given children, and the
/// last document they all cover.
#[inline]
fn block_bounds<S: Scorer>(children: &mut [S], idx: &[usize], pivot_doc: u32) -> (f32, u32) {
    let (mut sum, mut last) = (0.0f32, TERMINATED);
    for &i in idx {
        let (l, b) = children[i].block_bound(pivot_doc);
        sum += b;
        last = last.min(l);
    }
    (sum, last)
}

/// Restores `order` (sorted by `docs`) after its first `moved` entries
/// moved forward, and drops exhausted children from its end.
#[inline]
fn reorder(order: &mut Vec<usize>, docs: &[u32], moved: usize) {
    for k in (0..moved.min(order.len())).rev() {
        let x = order[k];
        let d = docs[x];
        let mut j = k;
        while j + 1 < order.len() && docs[order[j + 1]] < d {
            order[j] = order[j + 1];
            j += 1;
        }
        order[j] = x;
    }
    while order.last().is_some_and(|&i| docs[i] == TERMINATED) {
        order.pop();
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
                if lead_score + others_bound <= threshold || !live.is_live(doc) {
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
        if partial + suffix[j] <= threshold {
            return None;
        }
    }
    let mut score = 0.0f32;
    for s in scores.iter() {
        score += *s;
    }
    (score > threshold).then_some(score)
}
