//! Per-thread search state, reused across queries: visited marks with a
//! generation counter (a query never clears the array, it bumps the
//! generation; the array is cleared only when the counter wraps), and the
//! candidate and result heaps. Grows on demand when a graph is larger than
//! any seen before; never shrinks.

use std::collections::BinaryHeap;

use crate::quant::{RabitqQuery, Sq8Query};

/// Reusable state for [`Graph::search`](super::Graph::search); keep one per
/// thread. Any scratch works with any graph.
#[derive(Clone, Default)]
pub struct SearchScratch {
    pub(crate) visited: Visited,
    /// Candidates to expand, as `!key` so that the max-heap pops the nearest.
    pub(crate) candidates: BinaryHeap<u64>,
    /// Results so far, as keys: the farthest on top.
    pub(crate) results: BinaryHeap<u64>,
    /// Results drained and sorted nearest first.
    pub(crate) sorted: Vec<u64>,
    /// The prepared (normalised) query.
    pub(crate) query: Vec<f32>,
    /// The query prepared for a quantized graph's codes.
    pub(crate) sq8: Sq8Query,
    pub(crate) rabitq: RabitqQuery,
}

impl SearchScratch {
    pub fn new() -> SearchScratch {
        SearchScratch::default()
    }

    /// Bytes held by this scratch.
    pub fn memory_bytes(&self) -> usize {
        self.visited.marks.capacity() * 2
            + (self.candidates.capacity() + self.results.capacity() + self.sorted.capacity()) * 8
            + (self.query.capacity() + self.sq8.weights.capacity()) * 4
            + self.rabitq.memory_bytes()
    }
}

/// Visited marks: node `i` is visited in the current pass iff
/// `marks[i] == generation`; `generation` is never 0.
#[derive(Clone, Default)]
pub(crate) struct Visited {
    marks: Vec<u16>,
    generation: u16,
}

impl Visited {
    /// Starts a new pass over a graph of `nodes` nodes: nothing is visited.
    pub(crate) fn start(&mut self, nodes: usize) {
        if self.marks.len() < nodes {
            self.marks.resize(nodes, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.marks.fill(0);
            self.generation = 1;
        }
    }

    /// Marks `node`; true iff it was not yet visited in this pass. A node
    /// outside the graph counts as visited, so it is never expanded.
    #[inline(always)]
    pub(crate) fn insert(&mut self, node: u32) -> bool {
        match self.marks.get_mut(node as usize) {
            Some(mark) if *mark != self.generation => {
                *mark = self.generation;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_wrap_without_stale_marks() {
        let mut v = Visited::default();
        for pass in 0..70_000u32 {
            v.start(4);
            assert!(v.insert(pass % 4), "pass {pass}");
            assert!(!v.insert(pass % 4));
            assert!(!v.insert(9));
        }
    }
}
