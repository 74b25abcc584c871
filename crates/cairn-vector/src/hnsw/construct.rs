//! The HNSW algorithms over borrowed adjacency: greedy descent, the
//! ef-bounded best-first search of one level, hnswlib's neighbour-selection
//! heuristic, and the insertion of one node (used by the parallel build and
//! the sequential insert alike).
//!
//! Invariants kept: a node never links to itself; a list never holds the
//! same neighbour twice; a writer holds at most one node lock at a time (so
//! the parallel build cannot deadlock); nothing here allocates per visited
//! node or panics on any graph content.

use super::links::{Links, NodeLocks, Slot, SlotMut};
use super::params::M_MAX;
use super::scratch::SearchScratch;
use super::space::{key, key_distance, key_node, Space};
use crate::kernels::prefetch;

/// The stored vector of `node`, or an empty slice outside the arena.
#[inline(always)]
pub(crate) fn vector_of(vectors: &[f32], dims: usize, node: u32) -> &[f32] {
    let start = node as usize * dims;
    vectors.get(start..start + dims).unwrap_or(&[])
}

/// Everything a search or an insertion reads.
pub(crate) struct Walk<'a, S> {
    pub(crate) links: Links<'a, S>,
    pub(crate) vectors: &'a [f32],
    pub(crate) dims: usize,
    pub(crate) space: Space,
    /// Number of nodes (sizes the visited marks).
    pub(crate) nodes: usize,
}

/// What a walk measures: the distance from one query to a node (exact on
/// the f32 vectors, or estimated on codes), and a prefetch of the nodes
/// about to be measured.
pub(crate) trait Scorer {
    fn distance(&self, node: u32) -> f32;

    /// Starts loading what [`Scorer::distance`] will read for `nodes`.
    fn touch(&self, nodes: &[u32]);

    #[inline(always)]
    fn key(&self, node: u32) -> u64 {
        key(self.distance(node), node)
    }
}

/// Exact distances from a query (in stored form) to the f32 vectors.
pub(crate) struct Exact<'a> {
    pub(crate) vectors: &'a [f32],
    pub(crate) dims: usize,
    pub(crate) space: Space,
    pub(crate) query: &'a [f32],
}

impl Scorer for Exact<'_> {
    #[inline(always)]
    fn distance(&self, node: u32) -> f32 {
        self.space
            .distance(self.query, vector_of(self.vectors, self.dims, node))
    }

    #[inline(always)]
    fn touch(&self, nodes: &[u32]) {
        touch_vectors(self.vectors, self.dims, nodes);
    }
}

impl<S: Slot> Walk<'_, S> {
    /// Exact distances from `query` over this walk's vectors.
    #[inline(always)]
    pub(crate) fn exact<'q>(&'q self, query: &'q [f32]) -> Exact<'q> {
        Exact {
            vectors: self.vectors,
            dims: self.dims,
            space: self.space,
            query,
        }
    }

    #[inline(always)]
    pub(crate) fn key_to(&self, query: &[f32], node: u32) -> u64 {
        self.exact(query).key(node)
    }

    /// Greedy descent on one level from `entry` (a key): moves to a nearer
    /// neighbour until none is nearer. Returns the key of the local minimum.
    pub(crate) fn greedy<Q: Scorer>(&self, query: &Q, mut entry: u64, level: usize) -> u64 {
        loop {
            let mut changed = false;
            for slot in self.links.neighbours(key_node(entry), level) {
                let k = query.key(slot.load());
                if k < entry {
                    entry = k;
                    changed = true;
                }
            }
            if !changed {
                return entry;
            }
        }
    }

    /// Best-first search of one level from `entry` (a key), keeping the `ef`
    /// nearest accepted nodes; rejected nodes are still expanded. Stops when
    /// the nearest unexpanded candidate is farther than the farthest of a
    /// full result set. Leaves the results in `scratch.sorted`, nearest
    /// first.
    pub(crate) fn search_level<Q, F>(
        &self,
        query: &Q,
        entry: u64,
        level: usize,
        ef: usize,
        accept: &mut F,
        scratch: &mut SearchScratch,
    ) where
        Q: Scorer,
        F: FnMut(u32) -> bool + ?Sized,
    {
        let ef = ef.max(1);
        let SearchScratch {
            visited,
            candidates,
            results,
            sorted,
            ..
        } = scratch;
        // Unvisited neighbours of the node being expanded (a list holds at
        // most 2 * M_MAX).
        let mut ids = [0u32; 2 * M_MAX];
        visited.start(self.nodes);
        candidates.clear();
        results.clear();

        visited.insert(key_node(entry));
        candidates.push(!entry);
        if accept(key_node(entry)) {
            results.push(entry);
        }
        // The farthest result once the set is full; u64::MAX (no bound)
        // before. No key equals u64::MAX: node ids stay below u32::MAX.
        let mut bound = match results.peek() {
            Some(&worst) if results.len() >= ef => worst,
            _ => u64::MAX,
        };

        while let Some(candidate) = candidates.pop() {
            let candidate = !candidate;
            if candidate > bound {
                break;
            }
            // Prefetches: the next candidate's list and the vectors about
            // to be compared start missing cache together, instead of one
            // after another when the code needs them.
            if let Some(&next) = candidates.peek() {
                touch_slots(self.links.block(key_node(!next), level));
            }
            let mut fresh = 0usize;
            for slot in self.links.neighbours(key_node(candidate), level) {
                let node = slot.load();
                if visited.insert(node) {
                    if let Some(x) = ids.get_mut(fresh) {
                        *x = node;
                        fresh += 1;
                    }
                }
            }
            let fresh_ids = ids.get(..fresh).unwrap_or(&[]);
            query.touch(fresh_ids);
            for &node in fresh_ids {
                let k = query.key(node);
                if k < bound {
                    candidates.push(!k);
                    if accept(node) {
                        results.push(k);
                        if results.len() > ef {
                            results.pop();
                        }
                        if results.len() >= ef {
                            if let Some(&worst) = results.peek() {
                                bound = worst;
                            }
                        }
                    }
                }
            }
        }

        sorted.clear();
        sorted.extend(results.drain());
        sorted.sort_unstable();
    }

    /// hnswlib's neighbour-selection heuristic. `candidates` are keys by
    /// distance to the base node, nearest first. A candidate is kept only
    /// if it is nearer to the base than to every neighbour kept before it;
    /// at most `max` are kept. Fewer than `max` candidates are kept as is.
    pub(crate) fn select(&self, candidates: &[u64], max: usize, out: &mut Vec<u64>) {
        out.clear();
        if candidates.len() < max {
            out.extend_from_slice(candidates);
            return;
        }
        for &candidate in candidates {
            if out.len() >= max {
                break;
            }
            let v = vector_of(self.vectors, self.dims, key_node(candidate));
            let to_base = candidate >> 32;
            let good = out.iter().all(|&kept| {
                let d = self
                    .space
                    .distance(v, vector_of(self.vectors, self.dims, key_node(kept)));
                u64::from(super::space::ord_bits(d)) >= to_base
            });
            if good {
                out.push(candidate);
            }
        }
    }
}

/// Starts loading every cache line of `block` (a prefetch: nothing waits
/// for it), so the misses overlap other work instead of stalling the code
/// that needs the data.
#[inline(always)]
fn touch_slots<S: Slot>(block: &[S]) {
    for slot in block.iter().step_by(16) {
        prefetch(slot);
    }
    if let Some(slot) = block.last() {
        prefetch(slot);
    }
}

/// Starts loading every cache line of the vectors of `nodes`, so their
/// misses are in flight together before the distances need them.
#[inline(always)]
fn touch_vectors(vectors: &[f32], dims: usize, nodes: &[u32]) {
    for &node in nodes {
        let v = vector_of(vectors, dims, node);
        for x in v.iter().step_by(16) {
            prefetch(x);
        }
        if let Some(x) = v.last() {
            prefetch(x);
        }
    }
}

/// Buffers of one inserting thread.
#[derive(Clone, Default)]
pub(crate) struct BuildScratch {
    pub(crate) search: SearchScratch,
    selected: Vec<u64>,
    merged: Vec<u64>,
    pruned: Vec<u64>,
    existing: Vec<u32>,
    ids: Vec<u32>,
}

impl BuildScratch {
    pub(crate) fn memory_bytes(&self) -> usize {
        self.search.memory_bytes()
            + (self.selected.capacity() + self.merged.capacity() + self.pruned.capacity()) * 8
            + (self.existing.capacity() + self.ids.capacity()) * 4
    }
}

/// An insertion context: a walk over writable slots plus writer locks.
pub(crate) struct Insert<'a, S, L> {
    pub(crate) walk: Walk<'a, S>,
    pub(crate) locks: &'a L,
    pub(crate) m: usize,
    pub(crate) ef_construction: usize,
}

impl<S: SlotMut, L: NodeLocks> Insert<'_, S, L> {
    /// Links `node` (whose vector and level are already in the arena) into
    /// the graph whose entry point is `entry` at level `max_level`. `node`
    /// must not be `entry`.
    pub(crate) fn insert(
        &self,
        node: u32,
        level: usize,
        entry: u32,
        max_level: usize,
        scratch: &mut BuildScratch,
    ) {
        let walk = &self.walk;
        let query = walk.exact(vector_of(walk.vectors, walk.dims, node));
        let mut entry = query.key(entry);
        for l in (level + 1..=max_level).rev() {
            entry = walk.greedy(&query, entry, l);
        }
        for l in (0..=level.min(max_level)).rev() {
            walk.search_level(
                &query,
                entry,
                l,
                self.ef_construction,
                &mut |n| n != node,
                &mut scratch.search,
            );
            walk.select(&scratch.search.sorted, self.m, &mut scratch.selected);
            if let Some(&nearest) = scratch.selected.first() {
                entry = nearest;
            }
            self.connect(node, l, scratch);
        }
    }

    /// Gives `node` the neighbours in `scratch.selected` on `level` and adds
    /// `node` to each of theirs, pruning a full list with the heuristic.
    fn connect(&self, node: u32, level: usize, scratch: &mut BuildScratch) {
        let walk = &self.walk;
        let links = &walk.links;
        let capacity = links.capacity(level);
        let BuildScratch {
            selected,
            merged,
            pruned,
            existing,
            ids,
            ..
        } = scratch;

        // The node's own list. It is normally empty here; under the
        // parallel build another thread may already have linked to it on
        // this level, so merge rather than overwrite.
        {
            let _guard = self.locks.lock(node);
            links.read_into(node, level, existing);
            if existing.is_empty() {
                write_keys(links, node, level, selected, ids);
            } else {
                let query = vector_of(walk.vectors, walk.dims, node);
                merged.clear();
                merged.extend_from_slice(selected);
                for &e in existing.iter() {
                    if e != node && !selected.iter().any(|&k| key_node(k) == e) {
                        merged.push(walk.key_to(query, e));
                    }
                }
                merged.sort_unstable();
                merged.dedup_by_key(|k| key_node(*k));
                if merged.len() > capacity {
                    walk.select(merged, capacity, pruned);
                } else {
                    pruned.clear();
                    pruned.extend_from_slice(merged);
                }
                write_keys(links, node, level, pruned, ids);
            }
        }

        // Reverse links. Start the misses on every list first.
        for &k in selected.iter() {
            touch_slots(links.block(key_node(k), level));
        }
        for &k in selected.iter() {
            let neighbour = key_node(k);
            if neighbour == node {
                continue;
            }
            let _guard = self.locks.lock(neighbour);
            links.read_into(neighbour, level, existing);
            if existing.contains(&node) || links.push(neighbour, level, node) {
                continue;
            }
            let base = vector_of(walk.vectors, walk.dims, neighbour);
            touch_vectors(walk.vectors, walk.dims, existing);
            merged.clear();
            merged.extend(
                existing
                    .iter()
                    .filter(|&&e| e != neighbour)
                    .map(|&e| walk.key_to(base, e)),
            );
            // Distances are symmetric, so node's distance to the neighbour
            // is the one already computed.
            merged.push(key(key_distance(k), node));
            merged.sort_unstable();
            walk.select(merged, capacity, pruned);
            write_keys(links, neighbour, level, pruned, ids);
        }
    }
}

/// Writes the nodes of `keys` as the list of `node` on `level`.
fn write_keys<S: SlotMut>(
    links: &Links<'_, S>,
    node: u32,
    level: usize,
    keys: &[u64],
    ids: &mut Vec<u32>,
) {
    ids.clear();
    ids.extend(keys.iter().map(|&k| key_node(k)));
    links.write(node, level, ids);
}
