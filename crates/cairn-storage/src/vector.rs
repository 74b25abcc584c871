//! HNSW vector indexes over a table's VECTOR/HALFVEC column, and the
//! MVCC-correct nearest-neighbour search a transaction runs through them.
//!
//! An index is a list of immutable graphs plus pending chunks: every commit
//! appends its new or changed vectors to a pending chunk, which searches scan
//! exactly (so a row is found by the very next query) until the chunk's graph,
//! built in the background, replaces it. Background merges keep the graph
//! count small and drop tombstones. A graph node is keyed by row id and remembers the
//! vector value it was built from (`origin`). A node answers a snapshot only
//! if the row's version visible at that snapshot still holds that very
//! vector: deleted rows, rows inserted after the snapshot and superseded
//! vectors are tombstones the search walks through but never returns. An
//! UPDATE that leaves the vector alone keeps the same value (same `Arc`), so
//! it never touches a graph.
//!
//! Final order is by exact distance (f64, `cairn_core::vector::distance`),
//! ties by row id, so the same data gives the same answer every time.

use std::cmp::Ordering;
use std::sync::Arc;

use cairn_core::vector::DistanceKind;
use cairn_core::{Error, Result, Value};
use cairn_vector::hnsw::{Graph, HnswParams, Metric, SearchScratch};

use crate::RowId;

/// Committed vectors kept in a pending chunk (searched exactly) before its
/// graph is built in the background.
pub const PENDING_ROWS_MAX: usize = 1024;

/// Graphs an index keeps before the newest ones are merged.
pub const GRAPHS_MAX: usize = 8;

/// An index with fewer nodes is never compacted (rebuilding it would cost
/// more than its tombstones do).
pub const COMPACT_NODES_MIN: usize = 1_000;

/// Default share of tombstones that triggers a compaction.
pub const COMPACT_RATIO_DEFAULT: f64 = 0.15;

/// Default `ef_search` when a session sets none.
pub const EF_SEARCH_DEFAULT: usize = 40;

/// Most `ef_search` a query may ask for.
pub const EF_SEARCH_MAX: usize = 10_000;

/// A vector index as the catalog keeps it.
#[derive(Debug, Clone)]
pub struct VectorIndexDef {
    pub name: String,
    /// Position of the indexed column.
    pub column: usize,
    /// Dimensions of the column's type.
    pub dims: usize,
    pub params: HnswParams,
    /// Compact when tombstones exceed this share of the nodes.
    pub compact_ratio: f64,
    pub create_sql: String,
}

/// Size and state of a vector index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VectorIndexStats {
    pub graphs: usize,
    /// Graph nodes and pending vectors, tombstones included.
    pub nodes: usize,
    /// Committed vectors not in a graph yet (searched exactly).
    pub pending: usize,
    /// Nodes whose vector was deleted or replaced (approximate).
    pub tombstones: usize,
    pub bytes: usize,
    /// Compactions finished so far.
    pub compactions: usize,
    /// A compaction is running.
    pub compacting: bool,
}

impl VectorIndexDef {
    /// The SQL distance this index orders by.
    pub fn distance_kind(&self) -> DistanceKind {
        metric_distance(self.params.metric)
    }
}

/// The SQL distance that orders like a graph metric.
pub fn metric_distance(m: Metric) -> DistanceKind {
    match m {
        Metric::L2 => DistanceKind::L2,
        Metric::Cosine => DistanceKind::Cosine,
        Metric::InnerProduct => DistanceKind::NegativeDot,
    }
}

/// An immutable graph and the vector value each node was built from.
pub(crate) struct VectorGraph {
    pub(crate) graph: Graph,
    /// The value each node was built from (node order).
    pub(crate) origin: Vec<Value>,
    pub(crate) meta: GraphMeta,
}

/// What a search needs to know to skip per-node visibility checks.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GraphMeta {
    /// Every node's version was the row's open, newest version when the
    /// graph was built.
    pub(crate) clean: bool,
    /// Newest commit timestamp among the nodes' versions.
    pub(crate) max_begin: crate::Ts,
    /// The index's `dead_events` when the graph's nodes were collected.
    pub(crate) dead_events: u64,
}

/// Committed vectors not yet in a graph: searched exactly until the
/// background build of their graph lands.
pub(crate) struct Pending {
    pub(crate) id: u64,
    /// The chunk's vectors were all current when appended, up to this
    /// commit timestamp, and the index's `dead_events` when it opened.
    pub(crate) meta: GraphMeta,
    pub(crate) rows: Vec<RowId>,
    pub(crate) origin: Vec<Value>,
    /// A build of this chunk's graph is queued or running.
    pub(crate) building: bool,
}

/// Work a vector index needs done in the background.
pub(crate) enum VectorJob {
    /// Build the graph of pending chunk `chunk`.
    Build {
        index: String,
        chunk: u64,
        entries: Vec<(RowId, Value)>,
        meta: GraphMeta,
    },
    /// Rebuild graphs `start..end` from their nodes some snapshot at or
    /// after `oldest` can still see, as one graph.
    Merge {
        index: String,
        start: usize,
        end: usize,
        oldest: crate::Ts,
    },
}

pub(crate) struct VectorIndex {
    pub(crate) def: VectorIndexDef,
    /// Immutable graphs, oldest first; merges replace a range of them.
    pub(crate) graphs: Vec<Arc<VectorGraph>>,
    /// Chunks of committed vectors not yet in a graph; the last one takes
    /// new vectors unless it is already building.
    pub(crate) pending: Vec<Pending>,
    next_chunk: u64,
    /// Set when a graph build failed: searches then return this error
    /// rather than answers that might miss rows.
    pub(crate) broken: Option<String>,
    /// Tombstones: nodes whose vector was deleted or replaced since built.
    pub(crate) dead: usize,
    /// Tombstones ever made (never reset): a graph whose `meta.dead_events`
    /// still equals it has none.
    pub(crate) dead_events: u64,
    /// A merge or compaction is queued or running.
    pub(crate) compacting: bool,
    pub(crate) compactions: usize,
}

/// A vector value's elements as f32, or `None` for NULL / non-vectors.
pub(crate) fn elements(v: &Value) -> Option<std::borrow::Cow<'_, [f32]>> {
    v.vector_f32()
}

/// Whether two vector values are the same vector (pointer first, then
/// content).
pub(crate) fn same_vector(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Vector(x), Value::Vector(y)) => Arc::ptr_eq(x, y) || x[..] == y[..],
        (Value::HalfVec(x), Value::HalfVec(y)) => Arc::ptr_eq(x, y) || x[..] == y[..],
        _ => false,
    }
}

fn graph_err(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("vector index: {e}"))
}

/// Builds one graph over `entries` (row id, vector value), in parallel on
/// `pool`.
pub(crate) fn build_graph(
    def: &VectorIndexDef,
    entries: Vec<(RowId, Value)>,
    meta: GraphMeta,
    pool: Option<&rayon::ThreadPool>,
) -> Result<VectorGraph> {
    let mut keys = Vec::with_capacity(entries.len());
    let mut flat = Vec::with_capacity(entries.len() * def.dims);
    let mut origin = Vec::with_capacity(entries.len());
    for (row, value) in entries {
        let Some(elems) = elements(&value) else {
            continue;
        };
        if elems.len() != def.dims {
            return Err(Error::internal(format!(
                "vector index {}: row {row} has {} dimensions, expected {}",
                def.name,
                elems.len(),
                def.dims
            )));
        }
        keys.push(row);
        flat.extend_from_slice(&elems);
        origin.push(value);
    }
    let graph = Graph::build(def.params, def.dims, keys, flat, pool).map_err(graph_err)?;
    Ok(VectorGraph {
        graph,
        origin,
        meta,
    })
}

impl VectorIndex {
    /// An index whose first graph is built over `entries`.
    pub(crate) fn build(
        def: VectorIndexDef,
        entries: Vec<(RowId, Value)>,
        meta: GraphMeta,
        pool: Option<&rayon::ThreadPool>,
    ) -> Result<VectorIndex> {
        let graph = build_graph(&def, entries, meta, pool)?;
        Ok(VectorIndex {
            def,
            graphs: vec![Arc::new(graph)],
            pending: Vec::new(),
            next_chunk: 0,
            broken: None,
            dead: 0,
            dead_events: 0,
            compacting: false,
            compactions: 0,
        })
    }

    /// An index with the given graphs (loaded from a checkpoint) and no
    /// pending vectors.
    pub(crate) fn restored(
        def: VectorIndexDef,
        graphs: Vec<Arc<VectorGraph>>,
        dead: usize,
    ) -> Self {
        VectorIndex {
            def,
            graphs,
            pending: Vec::new(),
            next_chunk: 0,
            broken: None,
            dead,
            dead_events: 0,
            compacting: false,
            compactions: 0,
        }
    }

    /// Adds a committed vector (a new row, or a changed vector) to the
    /// open pending chunk.
    pub(crate) fn append(&mut self, row: RowId, value: &Value, ts: crate::Ts) {
        let open = self.pending.last().is_some_and(|p| !p.building);
        if !open {
            self.next_chunk += 1;
            self.pending.push(Pending {
                id: self.next_chunk,
                meta: GraphMeta {
                    clean: true,
                    max_begin: ts,
                    dead_events: self.dead_events,
                },
                rows: Vec::new(),
                origin: Vec::new(),
                building: false,
            });
        }
        if let Some(p) = self.pending.last_mut() {
            p.meta.max_begin = p.meta.max_begin.max(ts);
            p.rows.push(row);
            p.origin.push(value.clone());
        }
    }

    /// Background work this index needs now: a graph for a full pending
    /// chunk; a merge when it has too many graphs; a full rebuild when its
    /// tombstones pass `compact_ratio`.
    pub(crate) fn jobs_due(&mut self, oldest: crate::Ts) -> Vec<VectorJob> {
        let mut jobs = Vec::new();
        if self.broken.is_some() {
            return jobs;
        }
        if let Some(p) = self.pending.last_mut() {
            if !p.building && p.rows.len() >= PENDING_ROWS_MAX {
                p.building = true;
                jobs.push(VectorJob::Build {
                    index: self.def.name.clone(),
                    chunk: p.id,
                    entries: p
                        .rows
                        .iter()
                        .copied()
                        .zip(p.origin.iter().cloned())
                        .collect(),
                    meta: p.meta,
                });
            }
        }
        if self.compacting {
            return jobs;
        }
        let nodes = self.node_count();
        let end = self.graphs.len();
        if nodes >= COMPACT_NODES_MIN && (self.dead as f64) >= self.def.compact_ratio * nodes as f64
        {
            self.compacting = true;
            jobs.push(VectorJob::Merge {
                index: self.def.name.clone(),
                start: 0,
                end,
                oldest,
            });
        } else if end > GRAPHS_MAX {
            // Merge the newest graphs whose sizes sum to less than the graph
            // before them (a log-structured tier), at least two.
            let mut start = end - 2;
            let mut tail: usize = self.graphs[start..].iter().map(|g| g.graph.len()).sum();
            while start > 0 && self.graphs[start - 1].graph.len() <= tail {
                start -= 1;
                tail += self.graphs[start].graph.len();
            }
            self.compacting = true;
            jobs.push(VectorJob::Merge {
                index: self.def.name.clone(),
                start,
                end,
                oldest,
            });
        }
        jobs
    }

    /// Installs the graph built for pending chunk `chunk`.
    pub(crate) fn finish_build(&mut self, chunk: u64, built: Result<VectorGraph>) {
        match built {
            Ok(g) => {
                self.pending.retain(|p| p.id != chunk);
                self.graphs.push(Arc::new(g));
            }
            Err(e) => self.broken = Some(e.to_string()),
        }
    }

    pub(crate) fn node_count(&self) -> usize {
        self.graphs.iter().map(|g| g.graph.len()).sum::<usize>()
            + self.pending.iter().map(|p| p.rows.len()).sum::<usize>()
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        let value = std::mem::size_of::<Value>();
        self.graphs
            .iter()
            .map(|g| g.graph.memory_bytes() + g.origin.len() * value)
            .sum::<usize>()
            + self
                .pending
                .iter()
                .map(|p| p.rows.len() * (value + 8 + 4 * self.def.dims))
                .sum::<usize>()
    }
}

impl VectorGraph {
    /// Whether every node is valid at snapshot `ts`, so a search needs no
    /// per-node check: the graph was clean when built, no tombstone was made
    /// in the index since, and the snapshot sees every node's commit.
    pub(crate) fn all_valid_at(&self, ts: crate::Ts, dead_events: u64) -> bool {
        self.meta.clean && self.meta.dead_events == dead_events && ts >= self.meta.max_begin
    }
}

/// How a k-NN search finds its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorStrategy {
    /// Walk the graphs; `accept` filters during the walk. Falls back to an
    /// exact scan when fewer than k rows come back.
    Index,
    /// Compute the distance of every visible row that passes the filter.
    Exact,
}

/// One k-NN request.
#[derive(Debug, Clone)]
pub struct VectorQuery<'a> {
    pub index_no: usize,
    pub query: &'a [f32],
    pub k: usize,
    pub ef: usize,
    pub strategy: VectorStrategy,
    /// The caller passes a filter that may reject rows (false: every row
    /// passes, so clean graphs need no per-node checks).
    pub filtered: bool,
}

/// One row of a k-NN answer.
#[derive(Debug, Clone)]
pub struct VectorHit {
    pub row_id: RowId,
    pub values: Vec<Value>,
    /// Exact distance; `None` when the row's vector is NULL (exact scans
    /// only, after every row that has one).
    pub distance: Option<f64>,
}

/// What a search did (for EXPLAIN ANALYZE-like reporting and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VectorSearchStats {
    pub graphs_searched: usize,
    pub fell_back_to_exact: bool,
}

/// Orders hits by distance (NULL last), then row id: the order of every
/// k-NN answer.
pub fn hit_order(a: &VectorHit, b: &VectorHit) -> Ordering {
    match (a.distance, b.distance) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
    .then(a.row_id.cmp(&b.row_id))
}

/// Keeps the `k` best hits seen so far.
pub(crate) struct TopK {
    k: usize,
    hits: Vec<VectorHit>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> TopK {
        TopK {
            k,
            hits: Vec::with_capacity(k.min(1024) + 1),
        }
    }

    /// Whether a hit at `distance` could still enter.
    pub(crate) fn wants(&self, distance: Option<f64>, row: RowId) -> bool {
        if self.hits.len() < self.k {
            return true;
        }
        let probe = VectorHit {
            row_id: row,
            values: Vec::new(),
            distance,
        };
        self.hits
            .last()
            .is_some_and(|w| hit_order(&probe, w) == Ordering::Less)
    }

    pub(crate) fn push(&mut self, hit: VectorHit) {
        // A row found twice (in two graphs) counts once.
        if self.k == 0 || self.hits.iter().any(|h| h.row_id == hit.row_id) {
            return;
        }
        let at = self
            .hits
            .binary_search_by(|h| hit_order(h, &hit))
            .unwrap_or_else(|i| i);
        if at >= self.k {
            return;
        }
        self.hits.insert(at, hit);
        self.hits.truncate(self.k);
    }

    pub(crate) fn into_hits(self) -> Vec<VectorHit> {
        self.hits
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<SearchScratch> = std::cell::RefCell::new(SearchScratch::new());
}

/// Runs `f` with this thread's reusable search scratch space.
pub(crate) fn with_scratch<T>(f: impl FnOnce(&mut SearchScratch) -> T) -> T {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        // Re-entrant use (a filter that runs a nested vector search).
        Err(_) => f(&mut SearchScratch::new()),
    })
}
