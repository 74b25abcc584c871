//! The vocabulary of vector indexes and of the MVCC-correct
//! nearest-neighbour search a transaction runs through them: definitions,
//! statistics, queries, hits, the top-k keeper. The index itself (graphs,
//! pending chunks, background builds and merges) is `index/hnsw.rs`.
//!
//! A graph node is keyed by row id and remembers the
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
use cairn_core::Value;
use cairn_vector::hnsw::{Graph, HnswParams, Metric, SearchScratch};
use cairn_vector::quant::Quantization;

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
    /// How each graph's vectors are coded for traversal (trained per
    /// graph when it is built).
    pub quantization: Quantization,
    /// Candidates re-ranked exactly per result asked for, on quantized
    /// graphs (`1..=RERANK_MAX`); a session's `vector.rerank` overrides it.
    pub rerank: usize,
    /// Compact when tombstones exceed this share of the nodes.
    pub compact_ratio: f64,
    pub create_sql: String,
}

/// Most bytes of a built graph the WAL takes in one record (RFC 0001
/// §3.3, kind 10): 256 MiB. A larger graph is logged as a plain
/// CreateVectorIndex (rebuilt by replay), and a checkpoint right after
/// the build makes it durable instead.
pub const GRAPH_RECORD_BYTES_MAX: usize = 256 << 20;

/// A built HNSW graph as a WAL record carries it (RFC 0001 §3.9): the
/// graph, and per node whether its row's version visible when the record
/// was written held the node's vector (the live flags a checkpoint writes
/// too). Replay installs it instead of building the graph again.
#[derive(Debug, Clone)]
pub(crate) struct BuiltGraph {
    pub(crate) graph: Graph,
    pub(crate) live: Vec<bool>,
}

/// Bytes [`put_codes`](crate::codec::put_codes) writes for `n` nodes of `dims` dimensions coded
/// with `quantization`; `None` on overflow or for `Quantization::None`.
pub(crate) fn codes_len(quantization: Quantization, n: usize, dims: usize) -> Option<usize> {
    match quantization {
        Quantization::None => None,
        Quantization::Sq8 => n.checked_mul(dims)?.checked_add(dims.checked_mul(8)?),
        Quantization::RaBitQ { bits } => {
            // `dims` is a checked definition's (≤ VECTOR_DIMS_MAX).
            let stride = cairn_vector::quant::RaBitQ::record_words(dims, bits);
            n.checked_mul(stride)?
                .checked_mul(8)?
                .checked_add(dims.checked_mul(4)?.checked_add(8)?)
        }
    }
}

/// Bytes RFC 0001 §3.9 takes for a graph of `nodes` nodes (`upper` upper
/// slots) of index `def`, `None` on overflow.
pub(crate) fn built_graph_bytes(def: &VectorIndexDef, nodes: usize, upper: usize) -> Option<usize> {
    let per_node = (1 + 2 * def.params.m)
        .checked_add(def.dims)?
        .checked_add(1)?
        .checked_mul(4)?
        .checked_add(8 + 1 + 1)?;
    // Codes: parameters, then a code per node.
    let codes = match def.quantization {
        Quantization::None => 0,
        q => codes_len(q, nodes, def.dims)?,
    };
    nodes
        .checked_mul(per_node)?
        .checked_add(upper.checked_mul(4)?)?
        .checked_add(codes)?
        .checked_add(8 + 8 + 4 + 1)
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
    /// Of the graphs' bytes: adjacency, levels and row ids.
    pub link_bytes: usize,
    /// Of the graphs' bytes: quantized codes (0 when not quantized).
    pub code_bytes: usize,
    /// Of the graphs' bytes: their f32 vector copies on the heap (walked on
    /// when not quantized; read only to re-rank candidates when quantized).
    pub vector_bytes: usize,
    /// The f32 vectors a quantized graph loaded from a checkpoint reads in
    /// place from its memory-mapped segment file (not in `bytes`: the page
    /// cache holds them, and only the re-rank touches them).
    pub mapped_bytes: usize,
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

/// Whether two vector values are the same vector (pointer first, then
/// content).
pub(crate) fn same_vector(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Vector(x), Value::Vector(y)) => Arc::ptr_eq(x, y) || x[..] == y[..],
        (Value::HalfVec(x), Value::HalfVec(y)) => Arc::ptr_eq(x, y) || x[..] == y[..],
        _ => false,
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
    /// Candidates re-ranked per result on quantized graphs; `None`: the
    /// index's own `rerank`.
    pub rerank: Option<usize>,
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
