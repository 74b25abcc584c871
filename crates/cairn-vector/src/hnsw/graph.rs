//! The public HNSW graph: a flat struct-of-arrays arena, its parallel build,
//! its sequential insert and its filtered search.
//!
//! Valid iff (1) `vectors.len() == len * dims`, `keys`, `levels` and
//! `upper_offset` have `len` entries and `level0.len() == len * (1 + 2m)`;
//! (2) a node with level `L > 0` owns `L` blocks of `1 + m` slots at
//! `upper_offset`, a level-0 node has `upper_offset == u32::MAX`; (3) every
//! count is at most its block's capacity and every listed neighbour is a
//! node id below `len`, never the node itself; (4) when `len > 0`,
//! `entry_point < len` and `levels[entry_point] == max_level`, the highest
//! level. Searches stay memory-safe and panic-free even if (3) or (4) were
//! broken: they only get worse answers.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;

use super::construct::{vector_of, BuildScratch, Exact, Insert, Scorer, Walk};
use super::links::{Links, NoLocks, PerNodeLocks, Slot};
use super::params::{level_for_key, HnswError, HnswParams, DIMS_MAX, NODES_MAX};
use super::scratch::SearchScratch;
use super::space::{key_distance, key_node, Space};
use super::vectors::{SharedVectors, Vectors};
use super::Metric;
use crate::kernels::{prefetch, Kernels};
use crate::quant::{Codes, Quantization, RabitqCodes, RabitqQuery, Sq8Codes, Sq8Query};

/// `upper_offset` of a node without upper levels.
const NO_UPPER: u32 = u32::MAX;

/// Candidates a quantized search re-ranks, per result asked for, when the
/// caller does not say ([`Graph::search`]).
pub const RERANK_DEFAULT: usize = 4;

/// Most candidates per result a search may re-rank.
pub const RERANK_MAX: usize = 100;

/// One search result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Neighbor {
    pub node: u32,
    /// The internal distance (see [`Metric`](super::Metric)).
    pub distance: f32,
}

/// A graph's arrays, as [`Graph::to_parts`] gives them and
/// [`Graph::from_parts`] takes them back (the on-disk form: flat arrays).
#[derive(Clone, Debug, PartialEq)]
pub struct GraphParts {
    pub params: HnswParams,
    pub dims: usize,
    /// `len * dims`, in stored form (unit length for cosine).
    pub vectors: Vec<f32>,
    pub keys: Vec<u64>,
    pub levels: Vec<u8>,
    /// `len * (1 + 2m)`: per node a count, then neighbours.
    pub level0: Vec<u32>,
    /// Per node: offset of its upper-level blocks in `upper`, or
    /// `u32::MAX` for a level-0 node.
    pub upper_offset: Vec<u32>,
    /// Blocks of `1 + m` (count, neighbours), `level` blocks per node.
    pub upper: Vec<u32>,
    pub entry_point: u32,
    pub max_level: u8,
    /// The codes the graph walks on, if it is quantized (one code per
    /// node).
    pub codes: Option<Codes>,
}

/// Heap bytes of a graph, by part.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GraphMemory {
    /// Adjacency, levels, offsets and keys.
    pub links: usize,
    /// Quantized codes (and their per-node norms); 0 when not quantized.
    pub codes: usize,
    /// The f32 vectors on the heap: walked on when not quantized, read only
    /// to re-rank candidates when quantized.
    pub vectors: usize,
    /// The f32 vectors read in place from shared memory (a mapped segment
    /// file) instead; 0 when they are on the heap.
    pub mapped: usize,
}

/// An HNSW graph over `dims`-dimensional `f32` vectors; node `i` is the
/// `i`-th vector inserted (or given to [`Graph::build`]).
#[derive(Clone)]
pub struct Graph {
    params: HnswParams,
    dims: usize,
    space: Space,
    /// `len * dims`, in stored form (unit length for cosine).
    vectors: Vectors,
    keys: Vec<u64>,
    levels: Vec<u8>,
    /// `len * (1 + 2m)`: count, then neighbours.
    level0: Vec<u32>,
    upper_offset: Vec<u32>,
    /// Blocks of `1 + m` for nodes with levels above 0.
    upper: Vec<u32>,
    entry_point: u32,
    max_level: u8,
    /// Codes walked on instead of `vectors` when quantized.
    codes: Option<Codes>,
    /// Reused by [`Graph::insert`].
    insert_scratch: BuildScratch,
}

impl fmt::Debug for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph")
            .field("params", &self.params)
            .field("dims", &self.dims)
            .field("len", &self.len())
            .field("entry_point", &self.entry_point)
            .field("max_level", &self.max_level)
            .finish_non_exhaustive()
    }
}

/// Inserts nodes 1.. of a build into its graph (node 0 is the first entry
/// point), on `pool`'s threads when it has several, telling `progress`
/// every [`BUILD_PROGRESS_NODES`] nodes. Returns the entry point and the
/// top level, or `None` when `progress` said stop.
fn insert_all(
    insert: &Insert<'_, AtomicU32, PerNodeLocks>,
    levels: &[u8],
    pool: Option<&rayon::ThreadPool>,
    progress: Option<&(dyn Fn(usize) -> bool + Sync)>,
) -> Option<(u32, u8)> {
    let n = levels.len();
    let max_level = levels.first().copied().unwrap_or(0);
    // Node 0 is the first entry point. The entry point and top level
    // are packed as `node << 8 | level`; a node that raises the top
    // level holds `raise` for its whole insertion (as hnswlib does).
    let entry = AtomicU64::new(u64::from(max_level));
    let raise = Mutex::new(());
    let next = AtomicUsize::new(1);
    let stopped = AtomicBool::new(false);
    let work = |scratch: &mut BuildScratch| loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= n {
            break;
        }
        if let Some(tell) = progress.filter(|_| i.is_multiple_of(BUILD_PROGRESS_NODES)) {
            if !tell(i) {
                stopped.store(true, Ordering::Relaxed);
            }
        }
        if stopped.load(Ordering::Relaxed) {
            break;
        }
        let node = i as u32;
        let level = levels.get(i).copied().unwrap_or(0);
        let packed = entry.load(Ordering::Acquire);
        if level > packed as u8 {
            let _raise = raise.lock();
            let packed = entry.load(Ordering::Acquire);
            let top = packed as u8;
            insert.insert(
                node,
                level.into(),
                (packed >> 8) as u32,
                top.into(),
                scratch,
            );
            if level > top {
                entry.store(u64::from(node) << 8 | u64::from(level), Ordering::Release);
            }
        } else {
            insert.insert(
                node,
                level.into(),
                (packed >> 8) as u32,
                (packed as u8).into(),
                scratch,
            );
        }
    };
    match pool {
        Some(pool) if pool.current_num_threads() > 1 => {
            pool.broadcast(|_| work(&mut BuildScratch::default()));
        }
        _ => work(&mut BuildScratch::default()),
    }
    if stopped.into_inner() {
        return None;
    }
    let packed = entry.into_inner();
    Some(((packed >> 8) as u32, packed as u8))
}

/// Nodes between two calls of a build's progress callback
/// ([`Graph::build_with_progress`]).
pub const BUILD_PROGRESS_NODES: usize = 1024;

impl Graph {
    /// The graph's arrays (copied).
    pub fn to_parts(&self) -> GraphParts {
        GraphParts {
            params: self.params,
            dims: self.dims,
            vectors: self.vectors.as_slice().to_vec(),
            keys: self.keys.clone(),
            levels: self.levels.clone(),
            level0: self.level0.clone(),
            upper_offset: self.upper_offset.clone(),
            upper: self.upper.clone(),
            entry_point: self.entry_point,
            max_level: self.max_level,
            codes: self.codes.clone(),
        }
    }

    /// A graph from its arrays, after checking every invariant of the
    /// module docs (sizes, offsets, counts, neighbour ids, entry point,
    /// finite vectors); anything else is [`HnswError::Malformed`]. Costs
    /// one pass over the arrays; nothing is rebuilt.
    pub fn from_parts(mut p: GraphParts) -> Result<Graph, HnswError> {
        let vectors = Vectors::owned(std::mem::take(&mut p.vectors));
        Graph::assemble(p, vectors)
    }

    /// [`Graph::from_parts`] with the vectors read in place from `shared`
    /// (`p.vectors` must be empty), checked the same way; an insert copies
    /// them out first.
    pub fn from_parts_shared(p: GraphParts, shared: SharedVectors) -> Result<Graph, HnswError> {
        if !p.vectors.is_empty() {
            return Err(HnswError::Malformed {
                what: "vectors given both inline and shared".into(),
            });
        }
        Graph::assemble(p, Vectors::shared(shared))
    }

    fn assemble(p: GraphParts, vectors: Vectors) -> Result<Graph, HnswError> {
        fn bad<T>(what: String) -> Result<T, HnswError> {
            Err(HnswError::Malformed { what })
        }
        let mut graph = Graph::new(p.params, p.dims)?;
        let n = p.keys.len();
        if n > NODES_MAX {
            return Err(HnswError::TooManyNodes { max: NODES_MAX });
        }
        let stride0 = graph.stride0();
        let stride_upper = graph.stride_upper();
        if n.checked_mul(p.dims) != Some(vectors.as_slice().len())
            || p.levels.len() != n
            || p.upper_offset.len() != n
            || n.checked_mul(stride0) != Some(p.level0.len())
        {
            return bad(format!("array sizes do not match {n} nodes"));
        }
        if vectors.as_slice().iter().any(|x| !x.is_finite()) {
            return bad("a vector element is not finite".into());
        }
        let check_block = |block: &[u32], cap: usize, node: usize| -> Result<(), HnswError> {
            let count = block.first().copied().unwrap_or(0) as usize;
            if count > cap {
                return bad(format!(
                    "node {node} lists {count} neighbours, at most {cap} fit"
                ));
            }
            for &nb in &block[1..1 + count] {
                if nb as usize >= n || nb as usize == node {
                    return bad(format!("node {node} lists neighbour {nb}"));
                }
            }
            Ok(())
        };
        let mut top = 0u8;
        for i in 0..n {
            let level = p.levels[i];
            top = top.max(level);
            check_block(&p.level0[i * stride0..(i + 1) * stride0], stride0 - 1, i)?;
            let off = p.upper_offset[i];
            if level == 0 {
                if off != NO_UPPER {
                    return bad(format!("level-0 node {i} has upper blocks"));
                }
                continue;
            }
            let start = off as usize;
            let end = start.checked_add(usize::from(level) * stride_upper);
            if off == NO_UPPER || end.is_none_or(|e| e > p.upper.len()) {
                return bad(format!("node {i}'s upper blocks lie outside the array"));
            }
            for l in 0..usize::from(level) {
                let b = start + l * stride_upper;
                check_block(&p.upper[b..b + stride_upper], stride_upper - 1, i)?;
            }
        }
        if n > 0
            && (p.entry_point as usize >= n
                || p.levels[p.entry_point as usize] != p.max_level
                || p.max_level != top)
        {
            return bad("the entry point is not a node of the top level".into());
        }
        if let Some(c) = &p.codes {
            if c.dims() != p.dims || c.len() != n {
                return bad(format!(
                    "the codes do not match {n} nodes of {} dimensions",
                    p.dims
                ));
            }
        }
        graph.vectors = vectors;
        graph.keys = p.keys;
        graph.levels = p.levels;
        graph.level0 = p.level0;
        graph.upper_offset = p.upper_offset;
        graph.upper = p.upper;
        graph.entry_point = p.entry_point;
        graph.max_level = p.max_level;
        graph.codes = p.codes;
        Ok(graph)
    }

    /// An empty graph.
    pub fn new(params: HnswParams, dims: usize) -> Result<Graph, HnswError> {
        params.validate()?;
        if dims == 0 || dims > DIMS_MAX {
            return Err(HnswError::DimsOutOfRange {
                dims,
                max: DIMS_MAX,
            });
        }
        Ok(Graph {
            params,
            dims,
            space: Space::new(params.metric),
            vectors: Vectors::default(),
            keys: Vec::new(),
            levels: Vec::new(),
            level0: Vec::new(),
            upper_offset: Vec::new(),
            upper: Vec::new(),
            entry_point: 0,
            max_level: 0,
            codes: None,
            insert_scratch: BuildScratch::default(),
        })
    }

    /// Builds a graph over all `vectors` (`keys.len() * dims` values, row
    /// major); node `i` gets `keys[i]`. Levels come from the keys (see
    /// [`level_for_key`]). Insertion runs on every thread of `pool`, or on
    /// the current thread alone with `None`. With one thread the graph is a
    /// pure function of the input (nodes inserted in order); with more, its
    /// edges depend on thread timing.
    pub fn build(
        params: HnswParams,
        dims: usize,
        keys: Vec<u64>,
        vectors: Vec<f32>,
        pool: Option<&rayon::ThreadPool>,
    ) -> Result<Graph, HnswError> {
        Graph::build_with_progress(params, dims, keys, vectors, pool, None)
    }

    /// [`Graph::build`], calling `progress(done)` with the number of nodes
    /// inserted so far every [`BUILD_PROGRESS_NODES`] nodes (from the
    /// build's threads, so it must be cheap and `Sync`) and once with the
    /// total at the end. When it returns `false` the build stops (every
    /// thread at its next node) with [`HnswError::Stopped`].
    pub fn build_with_progress(
        params: HnswParams,
        dims: usize,
        keys: Vec<u64>,
        mut vectors: Vec<f32>,
        pool: Option<&rayon::ThreadPool>,
        progress: Option<&(dyn Fn(usize) -> bool + Sync)>,
    ) -> Result<Graph, HnswError> {
        let mut graph = Graph::new(params, dims)?;
        let n = keys.len();
        if n > NODES_MAX {
            return Err(HnswError::TooManyNodes { max: NODES_MAX });
        }
        if n.checked_mul(dims) != Some(vectors.len()) {
            return Err(HnswError::VectorsLenMismatch {
                keys: n,
                dims,
                floats: vectors.len(),
            });
        }
        for v in vectors.chunks_exact_mut(dims) {
            graph.space.prepare(v);
        }
        let levels: Vec<u8> = keys.iter().map(|&k| level_for_key(k, params.m)).collect();
        let stride0 = graph.stride0();
        let stride_upper = graph.stride_upper();
        let mut upper_offset = Vec::with_capacity(n);
        let mut upper_len = 0usize;
        for &level in &levels {
            if level == 0 {
                upper_offset.push(NO_UPPER);
            } else {
                upper_offset.push(
                    u32::try_from(upper_len)
                        .ok()
                        .filter(|&o| o != NO_UPPER)
                        .ok_or(HnswError::TooManyNodes { max: NODES_MAX })?,
                );
                upper_len += usize::from(level) * stride_upper;
            }
        }
        if upper_len > NO_UPPER as usize {
            return Err(HnswError::TooManyNodes { max: NODES_MAX });
        }

        let level0_len = n
            .checked_mul(stride0)
            .ok_or(HnswError::TooManyNodes { max: NODES_MAX })?;
        let level0: Vec<AtomicU32> = (0..level0_len).map(|_| AtomicU32::new(0)).collect();
        let upper: Vec<AtomicU32> = (0..upper_len).map(|_| AtomicU32::new(0)).collect();
        let locks = PerNodeLocks((0..n).map(|_| Mutex::new(())).collect());
        let mut entry_point = 0u32;
        let mut max_level = levels.first().copied().unwrap_or(0);

        if n > 1 {
            let insert = Insert {
                walk: Walk {
                    links: Links {
                        level0: &level0,
                        upper: &upper,
                        upper_offset: &upper_offset,
                        levels: &levels,
                        stride0,
                        stride_upper,
                    },
                    vectors: &vectors,
                    dims,
                    space: graph.space,
                    nodes: n,
                },
                locks: &locks,
                m: params.m,
                ef_construction: params.ef_construction,
            };
            (entry_point, max_level) =
                insert_all(&insert, &levels, pool, progress).ok_or(HnswError::Stopped)?;
        }

        if let Some(tell) = progress {
            tell(n);
        }
        graph.vectors = Vectors::owned(vectors);
        graph.keys = keys;
        graph.levels = levels;
        graph.level0 = level0.into_iter().map(AtomicU32::into_inner).collect();
        graph.upper_offset = upper_offset;
        graph.upper = upper.into_iter().map(AtomicU32::into_inner).collect();
        graph.entry_point = entry_point;
        graph.max_level = max_level;
        Ok(graph)
    }

    /// Inserts one vector and returns its node id (the previous `len()`).
    /// Sequential: the live segment's path. The caller rejects NaN first;
    /// a NaN vector is stored and never panics, but finds nothing useful.
    pub fn insert(&mut self, key: u64, vector: &[f32]) -> Result<u32, HnswError> {
        if vector.len() != self.dims {
            return Err(HnswError::DimsMismatch {
                expected: self.dims,
                actual: vector.len(),
            });
        }
        let n = self.len();
        if n >= NODES_MAX {
            return Err(HnswError::TooManyNodes { max: NODES_MAX });
        }
        let level = level_for_key(key, self.params.m);
        let stride_upper = self.stride_upper();
        let offset = if level == 0 {
            NO_UPPER
        } else {
            let end = self.upper.len() + usize::from(level) * stride_upper;
            if end > NO_UPPER as usize {
                return Err(HnswError::TooManyNodes { max: NODES_MAX });
            }
            self.upper.len() as u32
        };

        let vectors = self.vectors.to_mut();
        let start = vectors.len();
        vectors.extend_from_slice(vector);
        if let Some(v) = vectors.get_mut(start..) {
            self.space.prepare(v);
            if let Some(codes) = &mut self.codes {
                codes.push(v);
            }
        }
        self.keys.push(key);
        self.levels.push(level);
        self.upper_offset.push(offset);
        self.level0.resize(self.level0.len() + self.stride0(), 0);
        if level > 0 {
            self.upper
                .resize(self.upper.len() + usize::from(level) * stride_upper, 0);
        }
        let node = n as u32;
        if n == 0 {
            self.entry_point = node;
            self.max_level = level;
            return Ok(node);
        }

        let stride0 = self.stride0();
        let insert = Insert {
            walk: Walk {
                links: Links {
                    level0: Cell::from_mut(self.level0.as_mut_slice()).as_slice_of_cells(),
                    upper: Cell::from_mut(self.upper.as_mut_slice()).as_slice_of_cells(),
                    upper_offset: &self.upper_offset,
                    levels: &self.levels,
                    stride0,
                    stride_upper,
                },
                vectors: self.vectors.as_slice(),
                dims: self.dims,
                space: self.space,
                nodes: n + 1,
            },
            locks: &NoLocks,
            m: self.params.m,
            ef_construction: self.params.ef_construction,
        };
        insert.insert(
            node,
            level.into(),
            self.entry_point,
            self.max_level.into(),
            &mut self.insert_scratch,
        );
        if level > self.max_level {
            self.entry_point = node;
            self.max_level = level;
        }
        Ok(node)
    }

    /// The `k` nearest nodes that `accept` lets through, nearest first (by
    /// distance, then node id). `ef` (raised to `k`) bounds the result set
    /// kept while searching: larger is slower and more exact. Nodes that
    /// `accept` rejects are still walked through. Empty if `k == 0`, the
    /// graph is empty, or `query` has the wrong dimension. A quantized graph
    /// re-ranks its codec's
    /// [`default_rerank`](crate::quant::Quantization::default_rerank)
    /// candidates per result ([`Graph::search_reranked`]).
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        accept: &mut dyn FnMut(u32) -> bool,
        scratch: &mut SearchScratch,
    ) -> Vec<Neighbor> {
        let rerank = self.quantization().default_rerank();
        self.search_reranked(query, k, ef, rerank, accept, scratch)
    }

    /// [`Graph::search`]; on a quantized graph the walk scores codes and
    /// keeps `max(ef, rerank · k)` results, the best `rerank · k` of which
    /// (`rerank` clamped to `1..=RERANK_MAX`) are scored again exactly on
    /// the f32 vectors, so the distances returned are always exact. On an
    /// unquantized graph `rerank` changes nothing.
    pub fn search_reranked(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        rerank: usize,
        accept: &mut dyn FnMut(u32) -> bool,
        scratch: &mut SearchScratch,
    ) -> Vec<Neighbor> {
        if k == 0 || self.is_empty() || query.len() != self.dims {
            return Vec::new();
        }
        let mut prepared = std::mem::take(&mut scratch.query);
        prepared.clear();
        prepared.extend_from_slice(query);
        self.space.prepare(&mut prepared);

        let walk = self.walk();
        let exact = walk.exact(&prepared);
        match &self.codes {
            None => {
                let entry = self.descend(&walk, &exact);
                walk.search_level(&exact, entry, 0, ef.max(k), accept, scratch);
            }
            Some(Codes::Sq8(codes)) => {
                self.search_coded(codes, &walk, &exact, k, ef, rerank, accept, scratch)
            }
            Some(Codes::RaBitQ(codes)) => {
                self.search_coded(codes, &walk, &exact, k, ef, rerank, accept, scratch)
            }
        }
        scratch.query = prepared;
        scratch
            .sorted
            .iter()
            .take(k)
            .map(|&k| Neighbor {
                node: key_node(k),
                distance: key_distance(k),
            })
            .collect()
    }

    /// Prepares the query (in `exact`) for `codes` in the scratch's slot for
    /// it, then [`Graph::walk_coded`].
    #[allow(clippy::too_many_arguments)]
    fn search_coded<C: Codec>(
        &self,
        codes: &C,
        walk: &Walk<'_, u32>,
        exact: &Exact<'_>,
        k: usize,
        ef: usize,
        rerank: usize,
        accept: &mut dyn FnMut(u32) -> bool,
        scratch: &mut SearchScratch,
    ) {
        let mut q = std::mem::take(C::query_slot(scratch));
        codes.prepare(exact.query, &mut q);
        let coded = Coded {
            codes,
            metric: self.params.metric,
            kernels: self.space.kernels,
            query: &q,
        };
        self.walk_coded(walk, &coded, exact, k, ef, rerank, accept, scratch);
        *C::query_slot(scratch) = q;
    }

    /// The walk of a quantized graph: on codes, keeping
    /// `max(ef, rerank · k)` results, the best `rerank · k` of which are
    /// scored again exactly (left sorted in `scratch.sorted`).
    #[allow(clippy::too_many_arguments)]
    fn walk_coded<C: Scorer>(
        &self,
        walk: &Walk<'_, u32>,
        coded: &C,
        exact: &Exact<'_>,
        k: usize,
        ef: usize,
        rerank: usize,
        accept: &mut dyn FnMut(u32) -> bool,
        scratch: &mut SearchScratch,
    ) {
        let candidates = k.saturating_mul(rerank.clamp(1, RERANK_MAX));
        let entry = self.descend(walk, coded);
        walk.search_level(coded, entry, 0, ef.max(candidates), accept, scratch);
        // Exact scores for the best candidates: start every miss, then
        // score.
        let sorted = &mut scratch.sorted;
        sorted.truncate(candidates);
        for &key in sorted.iter() {
            exact.touch(std::slice::from_ref(&key_node(key)));
        }
        for key in sorted.iter_mut() {
            *key = exact.key(key_node(*key));
        }
        sorted.sort_unstable();
    }

    /// Greedy descent from the entry point through the upper levels: the
    /// key of the level-0 entry.
    fn descend<Q: Scorer>(&self, walk: &Walk<'_, u32>, q: &Q) -> u64 {
        let mut entry = q.key(self.entry_point);
        for level in (1..=usize::from(self.max_level)).rev() {
            entry = walk.greedy(q, entry, level);
        }
        entry
    }

    /// Trains codes on the graph's vectors and walks on them from now on
    /// (`Quantization::None` drops them). The f32 vectors stay: searches
    /// re-rank with them.
    pub fn quantize(&mut self, quantization: Quantization) {
        self.codes = Codes::build(quantization, self.vectors.as_slice(), self.dims);
    }

    /// How the graph's vectors are coded for traversal.
    pub fn quantization(&self) -> Quantization {
        self.codes
            .as_ref()
            .map_or(Quantization::None, Codes::quantization)
    }

    /// The codes, when quantized.
    pub fn codes(&self) -> Option<&Codes> {
        self.codes.as_ref()
    }

    /// A query in the form [`Graph::distance`] expects (normalised for
    /// cosine).
    pub fn prepare_query(&self, query: &[f32]) -> Vec<f32> {
        let mut q = query.to_vec();
        self.space.prepare(&mut q);
        q
    }

    /// Internal distance between a prepared query (see
    /// [`Graph::prepare_query`]) and a node; NaN if the node is outside the
    /// graph or the query has the wrong dimension.
    pub fn distance(&self, query_prepared: &[f32], node: u32) -> f32 {
        if query_prepared.len() != self.dims || node as usize >= self.len() {
            return f32::NAN;
        }
        self.space.distance(
            query_prepared,
            vector_of(self.vectors.as_slice(), self.dims, node),
        )
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    pub fn params(&self) -> HnswParams {
        self.params
    }

    /// The caller's key of `node`; `u64::MAX` outside the graph.
    pub fn key(&self, node: u32) -> u64 {
        self.keys.get(node as usize).copied().unwrap_or(u64::MAX)
    }

    /// All keys, by node.
    pub fn keys(&self) -> &[u64] {
        &self.keys
    }

    /// The stored vector of `node` (unit length for cosine); empty outside
    /// the graph.
    pub fn vector(&self, node: u32) -> &[f32] {
        vector_of(self.vectors.as_slice(), self.dims, node)
    }

    /// The level of `node` (0 outside the graph).
    pub fn level(&self, node: u32) -> u8 {
        self.levels.get(node as usize).copied().unwrap_or(0)
    }

    /// The highest level and its entry point, `None` when empty.
    pub fn entry_point(&self) -> Option<(u32, u8)> {
        (!self.is_empty()).then_some((self.entry_point, self.max_level))
    }

    /// The neighbours of `node` on `level` (empty if it has no such level).
    pub fn neighbours(&self, node: u32, level: usize) -> impl Iterator<Item = u32> + '_ {
        self.links().neighbours(node, level).iter().map(Slot::load)
    }

    /// Heap bytes held by the graph.
    pub fn memory_bytes(&self) -> usize {
        let m = self.memory();
        m.links + m.codes + m.vectors + self.insert_scratch.memory_bytes()
    }

    /// Heap bytes held by the graph, by part (insert scratch left out).
    pub fn memory(&self) -> GraphMemory {
        GraphMemory {
            links: self.keys.capacity() * 8
                + self.levels.capacity()
                + (self.level0.capacity() + self.upper_offset.capacity() + self.upper.capacity())
                    * 4,
            codes: self.codes.as_ref().map_or(0, Codes::memory_bytes),
            vectors: self.vectors.heap_bytes(),
            mapped: self.vectors.shared_bytes(),
        }
    }

    fn stride0(&self) -> usize {
        1 + self.params.m0()
    }

    fn stride_upper(&self) -> usize {
        1 + self.params.m
    }

    fn links(&self) -> Links<'_, u32> {
        Links {
            level0: &self.level0,
            upper: &self.upper,
            upper_offset: &self.upper_offset,
            levels: &self.levels,
            stride0: self.stride0(),
            stride_upper: self.stride_upper(),
        }
    }

    fn walk(&self) -> Walk<'_, u32> {
        Walk {
            links: self.links(),
            vectors: self.vectors.as_slice(),
            dims: self.dims,
            space: self.space,
            nodes: self.len(),
        }
    }
}

#[allow(dead_code)]
fn assert_send_sync<T: Send + Sync>() {}
const _: fn() = assert_send_sync::<Graph>;

/// Estimated distances from a query to a quantized graph's codes.
struct Coded<'a, C, Q> {
    codes: &'a C,
    metric: Metric,
    kernels: &'static Kernels,
    query: &'a Q,
}

/// Starts loading every cache line `items` spans.
#[inline(always)]
fn prefetch_lines<T>(items: &[T]) {
    let per_line = (64 / std::mem::size_of::<T>().max(1)).max(1);
    for x in items.iter().step_by(per_line) {
        prefetch(x);
    }
    if let Some(x) = items.last() {
        prefetch(x);
    }
}

/// What [`Coded`] needs of a codec.
trait Codec {
    type Query: Default;
    /// Where a search keeps this codec's prepared query between queries.
    fn query_slot(scratch: &mut SearchScratch) -> &mut Self::Query;
    /// `query` (in stored form) prepared for scoring.
    fn prepare(&self, query: &[f32], out: &mut Self::Query);
    /// The estimated `q · x`.
    fn dot(&self, kernels: &Kernels, query: &Self::Query, node: u32) -> f32;
    /// `|q|²`.
    fn query_norm(query: &Self::Query) -> f32;
    /// `|x|²` (or its coded form's).
    fn norm(&self, node: u32) -> f32;
    /// Starts loading what scoring `node` reads.
    fn touch(&self, node: u32);
}

impl Codec for Sq8Codes {
    type Query = Sq8Query;
    fn query_slot(scratch: &mut SearchScratch) -> &mut Sq8Query {
        &mut scratch.sq8
    }
    fn prepare(&self, query: &[f32], out: &mut Sq8Query) {
        self.sq8().prepare(query, out);
    }
    #[inline(always)]
    fn dot(&self, kernels: &Kernels, query: &Sq8Query, node: u32) -> f32 {
        Sq8Codes::dot(self, kernels, query, node)
    }
    #[inline(always)]
    fn query_norm(query: &Sq8Query) -> f32 {
        query.squared_norm()
    }
    #[inline(always)]
    fn norm(&self, node: u32) -> f32 {
        self.squared_norm(node)
    }
    #[inline(always)]
    fn touch(&self, node: u32) {
        prefetch_lines(self.code(node));
    }
}

impl Codec for RabitqCodes {
    type Query = RabitqQuery;
    fn query_slot(scratch: &mut SearchScratch) -> &mut RabitqQuery {
        &mut scratch.rabitq
    }
    fn prepare(&self, query: &[f32], out: &mut RabitqQuery) {
        self.rabitq().prepare(query, out);
    }
    #[inline(always)]
    fn dot(&self, kernels: &Kernels, query: &RabitqQuery, node: u32) -> f32 {
        RabitqCodes::dot(self, kernels, query, node)
    }
    #[inline(always)]
    fn query_norm(query: &RabitqQuery) -> f32 {
        query.squared_norm()
    }
    #[inline(always)]
    fn norm(&self, node: u32) -> f32 {
        self.squared_norm(node)
    }
    #[inline(always)]
    fn touch(&self, node: u32) {
        prefetch_lines(self.record(node));
    }
}

impl<C: Codec> Scorer for Coded<'_, C, C::Query> {
    #[inline(always)]
    fn distance(&self, node: u32) -> f32 {
        let dot = self.codes.dot(self.kernels, self.query, node);
        match self.metric {
            Metric::L2 => C::query_norm(self.query) - 2.0 * dot + self.codes.norm(node),
            Metric::Cosine => 1.0 - dot,
            Metric::InnerProduct => -dot,
        }
    }

    #[inline(always)]
    fn touch(&self, nodes: &[u32]) {
        for &node in nodes {
            self.codes.touch(node);
        }
    }
}
