//! The HNSW index of a VECTOR/HALFVEC column, as a table index: a list
//! of immutable graphs plus pending chunks. Every commit appends its new
//! or changed vectors to a pending chunk, which searches scan exactly (so
//! a row is found by the very next query) until the chunk's graph, built
//! in the background ([`HnswJob`]), replaces it; background merges keep
//! the graph count small and drop tombstones. A graph node is keyed by row
//! id and remembers the vector value it was built from (`origin`).
//!
//! Persistence: a checkpoint writes the graphs with their live flags
//! (`checkpoint.rs`), and a fresh build's one graph goes to the WAL with
//! its CREATE INDEX record ([`HnswIndex::log_image`]); both come back
//! through [`HnswIndex::restore`], never a rebuild.
//!
//! Maintained at commit through [`TableIndex`]; searched by
//! `Transaction::vector_search` (`txn.rs`) through
//! [`super::IndexSlot::as_hnsw`]; the search types and the MVCC rules of
//! a search are in `vector.rs`. Never takes a lock: its table's lock
//! covers it, and a job takes the table's lock through the runner.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use cairn_core::{Error, Result, Value};
use cairn_vector::hnsw::{Graph, GraphParts, HnswError};

use super::{Compaction, IndexJob, IndexSlot, IndexStats, JobWork, TableIndex, TableView};
use crate::progress::StopCheck;
use crate::vector::{
    built_graph_bytes, same_vector, VectorIndexDef, VectorIndexStats, COMPACT_NODES_MIN,
    GRAPHS_MAX, GRAPH_RECORD_BYTES_MAX, PENDING_ROWS_MAX,
};
use crate::{RowId, Ts};

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
    pub(crate) max_begin: Ts,
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

/// An HNSW index of one vector column. Search is
/// `Transaction::vector_search`, reached through
/// [`super::IndexSlot::as_hnsw`].
pub(crate) struct HnswIndex {
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

fn graph_err(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("vector index: {e}"))
}

/// Told `(done, total)` vectors while a graph builds.
pub(crate) type BuildProgress<'a> = dyn Fn(u64, u64) + Sync + 'a;

/// [`Graph::build`] telling `progress` at the start, at most once per
/// [`BUILD_PROGRESS_INTERVAL`] and at the end, and asking `stop` every
/// [`cairn_vector::hnsw::BUILD_PROGRESS_NODES`] nodes (from the build's
/// threads): its error ends the build.
///
/// [`BUILD_PROGRESS_INTERVAL`]: crate::progress::BUILD_PROGRESS_INTERVAL
fn build_watched(
    def: &VectorIndexDef,
    keys: Vec<u64>,
    flat: Vec<f32>,
    pool: Option<&rayon::ThreadPool>,
    progress: Option<&BuildProgress<'_>>,
    stop: Option<&StopCheck<'_>>,
) -> Result<Graph> {
    let total = keys.len() as u64;
    if let Some(tell) = progress {
        tell(0, total);
    }
    let last = parking_lot::Mutex::new(std::time::Instant::now());
    let stopped_by = parking_lot::Mutex::new(None);
    let every = |done: usize| -> bool {
        if let Some(Err(e)) = stop.map(|stop| stop()) {
            *stopped_by.lock() = Some(e);
            return false;
        }
        let Some(tell) = progress else { return true };
        let done = done as u64;
        if done < total {
            let Some(mut at) = last.try_lock() else {
                return true;
            };
            if at.elapsed() < crate::progress::BUILD_PROGRESS_INTERVAL {
                return true;
            }
            *at = std::time::Instant::now();
        }
        tell(done, total);
        true
    };
    match Graph::build_with_progress(def.params, def.dims, keys, flat, pool, Some(&every)) {
        Ok(graph) => Ok(graph),
        Err(HnswError::Stopped) => Err(stopped_by.into_inner().unwrap_or(Error::Interrupted)),
        Err(e) => Err(graph_err(e)),
    }
}

/// Builds one graph over `entries` (row id, vector value), in parallel on
/// `pool`.
pub(crate) fn build_graph(
    def: &VectorIndexDef,
    entries: Vec<(RowId, Value)>,
    meta: GraphMeta,
    pool: Option<&rayon::ThreadPool>,
    progress: Option<&BuildProgress<'_>>,
    stop: Option<&StopCheck<'_>>,
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
    let mut graph = match (progress, stop) {
        (None, None) => Graph::build(def.params, def.dims, keys, flat, pool).map_err(graph_err)?,
        _ => build_watched(def, keys, flat, pool, progress, stop)?,
    };
    // Codes are trained on this graph's vectors alone, once.
    graph.quantize(def.quantization);
    Ok(VectorGraph {
        graph,
        origin,
        meta,
    })
}

impl HnswIndex {
    /// An index whose first graph is built over `entries`.
    pub(crate) fn build(
        def: VectorIndexDef,
        entries: Vec<(RowId, Value)>,
        meta: GraphMeta,
        pool: Option<&rayon::ThreadPool>,
        progress: Option<&BuildProgress<'_>>,
        stop: Option<&StopCheck<'_>>,
    ) -> Result<HnswIndex> {
        let graph = build_graph(&def, entries, meta, pool, progress, stop)?;
        Ok(HnswIndex {
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
        HnswIndex {
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
    pub(crate) fn append(&mut self, row: RowId, value: &Value, ts: Ts) {
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
    fn due(&mut self, oldest: Ts) -> Vec<IndexJob> {
        let mut jobs = Vec::new();
        if self.broken.is_some() {
            return jobs;
        }
        if let Some(p) = self.pending.last_mut() {
            if !p.building && p.rows.len() >= PENDING_ROWS_MAX {
                p.building = true;
                let entries = p
                    .rows
                    .iter()
                    .copied()
                    .zip(p.origin.iter().cloned())
                    .collect();
                jobs.push(HnswJob::build(&self.def.name, p.id, entries, p.meta));
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
            jobs.push(HnswJob::merge(&self.def.name, 0, end, oldest));
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
            jobs.push(HnswJob::merge(&self.def.name, start, end, oldest));
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
    /// Per node: whether its row's version visible at `ts` holds the
    /// node's vector in column `col` (the live flags a checkpoint and a
    /// logged build write; RFC 0001 §4.3 and §3.9).
    pub(crate) fn live_at(&self, col: usize, table: &dyn TableView, ts: Ts) -> Vec<bool> {
        self.origin
            .iter()
            .enumerate()
            .map(|(node, origin)| {
                let row = self.graph.key(node as u32);
                table
                    .visible_row(row, ts)
                    .is_some_and(|v| v.get(col).is_some_and(|c| same_vector(c, origin)))
            })
            .collect()
    }

    /// Whether every node is valid at snapshot `ts`, so a search needs no
    /// per-node check: the graph was clean when built, no tombstone was made
    /// in the index since, and the snapshot sees every node's commit.
    pub(crate) fn all_valid_at(&self, ts: Ts, dead_events: u64) -> bool {
        self.meta.clean && self.meta.dead_events == dead_events && ts >= self.meta.max_begin
    }
}
/// What building an index over a table's stored versions needs: one entry
/// per distinct vector of each row's version chain, oldest first (a row
/// keeps one node while an UPDATE leaves its vector), and the graph's
/// meta. Collected under the table's read lock; the build runs without it.
pub(crate) fn collect_build(
    def: &VectorIndexDef,
    table: &dyn TableView,
) -> (Vec<(RowId, Value)>, GraphMeta) {
    let mut entries: Vec<(RowId, Value)> = Vec::new();
    let mut last: HashMap<RowId, usize> = HashMap::new();
    let mut meta = GraphMeta {
        clean: true,
        max_begin: 0,
        dead_events: 0,
    };
    table.each_version(&mut |v| {
        let Some(value) = v.values.get(def.column) else {
            return true;
        };
        if !value.is_vector() {
            return true;
        }
        meta.max_begin = meta.max_begin.max(v.begin);
        if let Some(&i) = last.get(&v.row) {
            if same_vector(&entries[i].1, value) {
                return true;
            }
        }
        // A version that ended leaves a node no current snapshot may
        // return: the graph needs per-node checks.
        meta.clean &= v.open;
        last.insert(v.row, entries.len());
        entries.push((v.row, value.clone()));
        true
    });
    (entries, meta)
}

impl HnswIndex {
    /// An index from graphs loaded from a checkpoint at `ts` (no
    /// rebuild). A node is live if `alive` says so and its row's vector
    /// is still the node's (first such node per row); other nodes are
    /// tombstones. Row vectors no live node covers go to a pending chunk,
    /// built in the background like fresh commits.
    pub(crate) fn restore(
        def: VectorIndexDef,
        graphs: Vec<(Graph, Vec<bool>)>,
        ts: Ts,
        table: &dyn TableView,
    ) -> Result<HnswIndex> {
        let col = def.column;
        let mut covered: HashSet<RowId> = HashSet::new();
        let mut restored = Vec::with_capacity(graphs.len());
        let mut dead = 0usize;
        for (graph, alive) in graphs {
            if graph.dims() != def.dims {
                return Err(Error::internal(format!(
                    "vector index {}: graph of {} dimensions, index of {}",
                    def.name,
                    graph.dims(),
                    def.dims
                )));
            }
            let mut origin = Vec::with_capacity(graph.len());
            for node in 0..graph.len() {
                let row = graph.key(node as u32);
                let current = alive
                    .get(node)
                    .copied()
                    .unwrap_or(false)
                    .then(|| table.visible_row(row, ts))
                    .flatten()
                    .and_then(|v| v.get(col).cloned())
                    .filter(|v| v.is_vector());
                match current {
                    Some(v) if covered.insert(row) => origin.push(v),
                    _ => {
                        dead += 1;
                        origin.push(Value::Null);
                    }
                }
            }
            let clean = origin.iter().all(Value::is_vector);
            restored.push(Arc::new(VectorGraph {
                graph,
                origin,
                meta: GraphMeta {
                    clean,
                    max_begin: ts,
                    dead_events: 0,
                },
            }));
        }
        let mut vi = HnswIndex::restored(def, restored, dead);
        table.each_visible(ts, &mut |rid, values| {
            if !covered.contains(&rid) {
                if let Some(v) = values.get(col).filter(|v| v.is_vector()) {
                    vi.append(rid, v, ts);
                }
            }
            true
        });
        Ok(vi)
    }

    /// What a WAL record of the index's build carries (RFC 0001 §3.9):
    /// the arrays of its one graph and their live flags at the newest
    /// commit `ts`. `None` when the index is not a fresh build's single
    /// graph, or the record would pass [`GRAPH_RECORD_BYTES_MAX`].
    pub(crate) fn log_image(
        &self,
        table: &dyn TableView,
        ts: Ts,
    ) -> Option<(GraphParts, Vec<bool>)> {
        let [g] = &self.graphs[..] else {
            return None;
        };
        if !self.pending.is_empty() {
            return None;
        }
        let p = g.graph.to_parts();
        let bytes = built_graph_bytes(&self.def, p.keys.len(), p.upper.len());
        if bytes.is_none_or(|b| b > GRAPH_RECORD_BYTES_MAX) {
            return None;
        }
        Some((p, g.live_at(self.def.column, table, ts)))
    }

    /// Size and state of this index.
    pub(crate) fn vector_stats(&self) -> VectorIndexStats {
        let mut parts = cairn_vector::hnsw::GraphMemory::default();
        for g in &self.graphs {
            let m = g.graph.memory();
            parts.links += m.links;
            parts.codes += m.codes;
            parts.vectors += m.vectors;
            parts.mapped += m.mapped;
        }
        VectorIndexStats {
            graphs: self.graphs.len(),
            nodes: self.node_count(),
            pending: self.pending.iter().map(|p| p.rows.len()).sum(),
            tombstones: self.dead,
            bytes: self.memory_bytes(),
            link_bytes: parts.links,
            code_bytes: parts.codes,
            vector_bytes: parts.vectors,
            mapped_bytes: parts.mapped,
            compactions: self.compactions,
            compacting: self.compacting,
        }
    }
}

impl TableIndex for HnswIndex {
    fn name(&self) -> &str {
        &self.def.name
    }

    /// Adds the new version's vector to the open pending chunk, unless the
    /// previous version holds the same vector.
    fn on_version(&mut self, row: RowId, values: &[Value], prev: Option<&[Value]>, ts: Ts) {
        let col = self.def.column;
        let Some(new) = values.get(col).filter(|v| v.is_vector()) else {
            return;
        };
        if prev.is_some_and(|p| p.get(col).is_some_and(|old| same_vector(old, new))) {
            return;
        }
        self.append(row, new, ts);
    }

    /// A vector that goes away (delete, or an update to another vector)
    /// leaves a tombstone.
    fn on_end(&mut self, _row: RowId, old: &[Value], new: Option<&[Value]>, _ts: Ts) {
        let col = self.def.column;
        let Some(before) = old.get(col).filter(|x| x.is_vector()) else {
            return;
        };
        let kept = new
            .and_then(|r| r.get(col))
            .is_some_and(|after| same_vector(before, after));
        if !kept {
            self.dead += 1;
            self.dead_events += 1;
        }
    }

    /// Graphs stop trusting their nodes without a check.
    fn on_undo(&mut self, _row: RowId, _ts: Ts) {
        self.dead_events += 1;
    }

    fn has_jobs(&self) -> bool {
        true
    }

    fn jobs_due(&mut self, oldest: Ts) -> Vec<IndexJob> {
        self.due(oldest)
    }

    fn compaction(&mut self, oldest: Ts) -> Compaction {
        if self.compacting {
            return Compaction::Busy;
        }
        self.compacting = true;
        Compaction::Job(HnswJob::merge(&self.def.name, 0, self.graphs.len(), oldest))
    }

    /// Every visible row's vector is in a graph or a pending chunk.
    fn check_visible(&self, table: &dyn TableView, ts: Ts, problems: &mut Vec<String>) {
        let col = self.def.column;
        let mut covered: HashSet<RowId> = HashSet::new();
        for g in &self.graphs {
            for node in 0..g.origin.len() {
                covered.insert(g.graph.key(node as u32));
            }
        }
        for p in &self.pending {
            covered.extend(p.rows.iter().copied());
        }
        table.each_visible(ts, &mut |rid, values| {
            if values.get(col).is_some_and(Value::is_vector) && !covered.contains(&rid) {
                problems.push(format!(
                    "row {rid} is missing from vector index {}",
                    self.def.name
                ));
            }
            problems.len() < super::PROBLEMS_MAX
        });
    }

    fn stats(&self) -> IndexStats {
        IndexStats::Vector(self.vector_stats())
    }
}

/// Whether some version of `row` that a snapshot at or after `oldest`
/// can see holds the vector `origin` in column `col`.
fn vector_needed(
    table: &dyn TableView,
    row: RowId,
    col: usize,
    origin: &Value,
    oldest: Ts,
) -> bool {
    let mut needed = false;
    table.chain(row, &mut |v| {
        if !v.open && v.end <= oldest {
            // This and every older version ended before any snapshot.
            return false;
        }
        if v.values.get(col).is_some_and(|c| same_vector(c, origin)) {
            needed = true;
            return false;
        }
        true
    });
    needed
}

/// What an HNSW job does.
enum Task {
    /// Build the graph of pending chunk `chunk`.
    Build { chunk: u64 },
    /// Rebuild graphs `start..end` from their nodes some snapshot at or
    /// after `oldest` can still see, as one graph.
    Merge {
        start: usize,
        end: usize,
        oldest: Ts,
        /// The index's tombstone count when the nodes were collected.
        dead_at_start: usize,
    },
}

/// Background work of an HNSW index: a pending chunk's graph, or a merge
/// of a range of graphs without the tombstones no snapshot needs.
pub(crate) struct HnswJob {
    task: Task,
    /// Set when collected (the index's definition at that time).
    def: Option<VectorIndexDef>,
    entries: Vec<(RowId, Value)>,
    meta: GraphMeta,
    built: Option<Result<VectorGraph>>,
}

impl HnswJob {
    fn build(index: &str, chunk: u64, entries: Vec<(RowId, Value)>, meta: GraphMeta) -> IndexJob {
        IndexJob::new(
            index,
            HnswJob {
                task: Task::Build { chunk },
                def: None,
                entries,
                meta,
                built: None,
            },
        )
    }

    fn merge(index: &str, start: usize, end: usize, oldest: Ts) -> IndexJob {
        IndexJob::new(
            index,
            HnswJob {
                task: Task::Merge {
                    start,
                    end,
                    oldest,
                    dead_at_start: 0,
                },
                def: None,
                entries: Vec::new(),
                meta: GraphMeta::default(),
                built: None,
            },
        )
    }

    /// A merge's entries: the nodes of graphs `start..end` some snapshot
    /// at or after `oldest` still needs, with the new graph's meta.
    fn collect_merge(
        &mut self,
        vi: &HnswIndex,
        table: &dyn TableView,
        start: usize,
        end: usize,
        oldest: Ts,
    ) {
        let col = vi.def.column;
        let mut meta = GraphMeta {
            clean: true,
            max_begin: 0,
            dead_events: vi.dead_events,
        };
        for g in vi.graphs.get(start..end).unwrap_or(&[]) {
            for (node, origin) in g.origin.iter().enumerate() {
                let row = g.graph.key(node as u32);
                if !vector_needed(table, row, col, origin, oldest) {
                    continue;
                }
                let mut head = None;
                table.chain(row, &mut |h| {
                    head = Some((
                        h.begin,
                        h.open && h.values.get(col).is_some_and(|c| same_vector(c, origin)),
                    ));
                    false
                });
                match head {
                    Some((begin, current)) => {
                        meta.max_begin = meta.max_begin.max(begin);
                        meta.clean &= current;
                    }
                    None => meta.clean = false,
                }
                self.entries.push((row, origin.clone()));
            }
        }
        self.meta = meta;
    }
}

impl JobWork for HnswJob {
    fn collect(&mut self, index: &IndexSlot, table: &dyn TableView) -> bool {
        let Some(vi) = index.as_hnsw() else {
            return false;
        };
        if let Task::Merge {
            start,
            end,
            oldest,
            ref mut dead_at_start,
        } = self.task
        {
            *dead_at_start = vi.dead;
            self.collect_merge(vi, table, start, end, oldest);
        }
        self.def = Some(vi.def.clone());
        true
    }

    fn build(&mut self, pool: Option<&rayon::ThreadPool>) {
        if let Some(def) = &self.def {
            let entries = std::mem::take(&mut self.entries);
            self.built = Some(build_graph(def, entries, self.meta, pool, None, None));
        }
    }

    fn install(self: Box<Self>, index: &mut IndexSlot) {
        let Some(vi) = index.as_hnsw_mut() else {
            return;
        };
        let Some(built) = self.built else {
            return;
        };
        match self.task {
            Task::Build { chunk } => vi.finish_build(chunk, built),
            Task::Merge {
                start,
                end,
                dead_at_start,
                ..
            } => {
                vi.compacting = false;
                match built {
                    Ok(g) if end <= vi.graphs.len() => {
                        vi.graphs.splice(start..end, [Arc::new(g)]);
                        if start == 0 {
                            // Tombstones made while rebuilding are in the
                            // new graph; the older ones are gone.
                            vi.dead = vi.dead.saturating_sub(dead_at_start);
                        }
                        vi.compactions += 1;
                    }
                    Ok(_) => {}
                    Err(e) => vi.broken = Some(e.to_string()),
                }
            }
        }
    }
}
