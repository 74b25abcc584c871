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

/// Block-max WAND over a disjunction: the score of a document is the sum
/// of the children that match it, in clause order.
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
        // The pivot: the first child at which the bounds so far beat the heap.
        let mut acc = 0.0f32;
        let Some(mut p) = order.iter().position(|&i| {
            acc += max[i];
            acc > threshold
        }) else {
            return;
        };
        let pivot_doc = docs[order[p]];
        while p + 1 < order.len() && docs[order[p + 1]] == pivot_doc {
            p += 1;
        }
        let (bound, last) = if top.is_full() {
            block_bounds(children, &order[..=p], pivot_doc)
        } else {
            (f32::INFINITY, pivot_doc)
        };
        let moved = if bound <= threshold {
            // Nothing in the pivot's blocks can enter: jump past them.
            let mut next = last.saturating_add(1);
            if let Some(&i) = order.get(p + 1) {
                next = next.min(docs[i]);
            }
            let next = next.max(pivot_doc + 1);
            for &i in &order[..=p] {
                if docs[i] < next {
                    docs[i] = children[i].seek(next);
                }
            }
            p + 1
        } else if docs[order[0]] == pivot_doc {
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
            for &i in &order[..=p] {
                docs[i] = children[i].advance();
            }
            p + 1
        } else {
            for &i in &order[..p] {
                if docs[i] < pivot_doc {
                    docs[i] = children[i].seek(pivot_doc);
                }
            }
            p
        };
        reorder(&mut order, &docs, moved);
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
