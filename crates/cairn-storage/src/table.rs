//! One table: a mutable live segment plus immutable sealed segments of row
//! versions, the version chains that link a row's versions, and the table's
//! indexes (any kind, as slots of `index/`: this file tells them of every
//! version appended or ended and runs their jobs; it knows no kind's
//! internals).
//!
//! Invariants:
//! - a version is visible at snapshot `ts` iff `begin <= ts < end`;
//! - `heads[row]` is the row's newest committed version; `prev` links lead to
//!   older versions, always in the same or an older segment;
//! - index entries cover every version still stored (stale entries are allowed
//!   and are filtered by readers, which re-check the key of the visible version);
//! - only the committer (holding the store's commit lock and this table's write
//!   lock) changes anything here; sealed segments change only their `end` stamps.

use std::borrow::Cow;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn_core::{Error, Result, Value};
use parking_lot::RwLock;

use crate::index::hnsw::collect_build;
use crate::index::{
    BTreeIndex, Compaction, HnswIndex, IndexJob, IndexSlot, IndexStats, Indexes, TableView,
    VersionRef, PROBLEMS_MAX,
};
use crate::live::{Live, LiveChunk, LiveView};
use crate::lock::{Rank, Ranked};
use crate::schema::{IndexDef, TableSchema};
use crate::stats::TableStats;
use crate::vector::{BuiltGraph, VectorIndexDef, VectorIndexStats};
use crate::{RowId, Ts};

pub(crate) use crate::index::btree::index_key;

/// Rows in the live segment before it is sealed into an immutable segment.
pub const SEGMENT_ROWS_TARGET: usize = 16 * 1024;

pub(crate) const TS_OPEN: Ts = u64::MAX;
const LIVE: u32 = u32::MAX;

/// Where a version lives: a sealed segment (by position) or the live segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    seg: u32,
    off: u32,
}

pub(crate) struct Version {
    pub(crate) row_id: RowId,
    pub(crate) begin: Ts,
    pub(crate) end: AtomicU64,
    prev: Option<Loc>,
    /// The row had an earlier version. A row whose newest version has no
    /// earlier one has had one key in every index (indexes are built from
    /// every stored version), so an index entry for it is never stale.
    pub(crate) updated: bool,
    pub(crate) values: Arc<[Value]>,
}

impl Clone for Version {
    fn clone(&self) -> Version {
        Version {
            row_id: self.row_id,
            begin: self.begin,
            end: AtomicU64::new(self.end.load(Ordering::Acquire)),
            prev: self.prev,
            updated: self.updated,
            values: self.values.clone(),
        }
    }
}

impl Version {
    pub(crate) fn visible_at(&self, ts: Ts) -> bool {
        self.begin <= ts && self.end.load(Ordering::Acquire) > ts
    }
}

/// An immutable run of row versions (only `end` stamps change).
pub(crate) struct Segment {
    versions: Vec<Version>,
}

impl Segment {
    pub(crate) fn versions(&self) -> &[Version] {
        &self.versions
    }
}

/// Which segment (by number) or live chunk (by number) stores a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    Sealed(usize),
    Live(usize),
}

/// A sealed segment or a live chunk, held to read its versions without
/// the table's lock.
pub(crate) enum Holder {
    Sealed(Arc<Segment>),
    Live(Arc<LiveChunk<Version>>),
}

impl Holder {
    /// The version in `slot`.
    pub(crate) fn get(&self, slot: usize) -> Option<&Version> {
        match self {
            Holder::Sealed(s) => s.versions.get(slot),
            Holder::Live(c) => c.get(slot),
        }
    }
}

/// A stored row with values for the columns `schema` added after it was
/// written.
pub(crate) fn full_row<'a>(
    schema: &TableSchema,
    values: &'a [Value],
) -> std::borrow::Cow<'a, [Value]> {
    let n = schema.columns.len();
    if values.len() >= n {
        return std::borrow::Cow::Borrowed(values);
    }
    let mut v = values.to_vec();
    for c in &schema.columns[values.len()..] {
        v.push(c.added_default.clone());
    }
    std::borrow::Cow::Owned(v)
}

/// The newest version of each row, indexed by row id: ids are allocated
/// densely per table, so a vector beats a hash map (no hashing, and
/// neighbouring rows share cache lines).
#[derive(Default)]
struct Heads(Vec<Loc>);

/// Marks a row id with no stored version.
const NO_LOC: Loc = Loc {
    seg: u32::MAX - 1,
    off: u32::MAX,
};

impl Heads {
    fn get(&self, row: &RowId) -> Option<&Loc> {
        self.0
            .get(usize::try_from(*row).ok()?)
            .filter(|l| **l != NO_LOC)
    }

    fn insert(&mut self, row: RowId, loc: Loc) {
        let Ok(i) = usize::try_from(row) else { return };
        if i >= self.0.len() {
            self.0.resize(i + 1, NO_LOC);
        }
        self.0[i] = loc;
    }

    fn remove(&mut self, row: RowId) {
        if let Some(l) = usize::try_from(row).ok().and_then(|i| self.0.get_mut(i)) {
            *l = NO_LOC;
        }
    }

    /// Keeps the entries for which `f` returns true (it may update them).
    fn retain(&mut self, mut f: impl FnMut(&RowId, &mut Loc) -> bool) {
        for (i, l) in self.0.iter_mut().enumerate() {
            if *l != NO_LOC && !f(&(i as RowId), l) {
                *l = NO_LOC;
            }
        }
    }
}

pub(crate) struct TableInner {
    pub(crate) schema: Arc<TableSchema>,
    sealed: Vec<Arc<Segment>>,
    live: Live<Version>,
    heads: Heads,
    /// Every secondary index, any kind, in creation order.
    pub(crate) indexes: Indexes,
    /// Rows visible to the newest snapshot (an estimate for the planner).
    pub(crate) row_count: u64,
}

/// One segment of a table, as [`Table::segments`] describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The live segment (else a sealed one).
    pub live: bool,
    /// Row versions it holds.
    pub versions: u64,
    /// Of them, versions no update or delete has ended.
    pub current: u64,
}

/// A table: schema, versions in segments, indexes.
pub struct Table {
    pub id: u64,
    pub(crate) inner: Ranked<RwLock<TableInner>>,
    next_row_id: AtomicU64,
    /// Largest key ever used in the auto-increment column.
    auto_max: std::sync::atomic::AtomicI64,
    /// The planner's statistics (`ANALYZE`), if taken. A leaf lock: held
    /// only to clone or replace the pointer.
    stats: parking_lot::Mutex<Option<Arc<TableStats>>>,
    /// Rows written since the table was created or loaded, and that count
    /// when its statistics were taken: how stale they are.
    writes: AtomicU64,
    writes_at_stats: AtomicU64,
    /// Rows the statistics saw (`u64::MAX`: none), readable without the
    /// statistics' lock on the commit path.
    stats_rows: AtomicU64,
    /// The catalog's flag that some table's statistics went stale.
    stale_flag: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Table({} {})", self.id, self.name())
    }
}

/// Statistics are taken again once this many rows plus
/// [`STATS_STALE_FRACTION`] of the table were written since (PostgreSQL's
/// autovacuum uses 50 + 10 %).
pub const STATS_STALE_ROWS: f64 = 50.0;
/// See [`STATS_STALE_ROWS`].
pub const STATS_STALE_FRACTION: f64 = 0.1;

impl Table {
    /// A new auto-increment key above every key used so far and above
    /// `floor` (the largest key the inserting statement gives explicitly).
    pub fn next_auto_key_above(&self, floor: i64) -> i64 {
        let prev = self
            .auto_max
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                Some(cur.max(floor).saturating_add(1))
            })
            .unwrap_or_else(|cur| cur);
        prev.max(floor).saturating_add(1)
    }

    /// The largest auto-increment key used so far.
    pub(crate) fn auto_max(&self) -> i64 {
        self.auto_max.load(Ordering::Acquire)
    }

    /// Records an explicitly given auto-increment key so later generated
    /// keys do not collide with it.
    pub fn observe_auto_key(&self, key: i64) {
        self.auto_max.fetch_max(key, Ordering::AcqRel);
    }

    pub(crate) fn new(
        id: u64,
        schema: TableSchema,
        stale_flag: Arc<std::sync::atomic::AtomicBool>,
    ) -> Table {
        let mut indexes = Indexes::default();
        if let Some(pk) = &schema.primary_key {
            indexes.push(IndexSlot::BTree(BTreeIndex::new(IndexDef {
                name: format!("{}_pkey", schema.name),
                columns: pk.clone(),
                unique: true,
                primary: true,
                create_sql: None,
            })));
        }
        Table {
            id,
            inner: Ranked::rw(
                Rank::Table,
                TableInner {
                    schema: Arc::new(schema),
                    sealed: Vec::new(),
                    live: Live::default(),
                    heads: Heads::default(),
                    indexes,
                    row_count: 0,
                },
            ),
            next_row_id: AtomicU64::new(1),
            auto_max: std::sync::atomic::AtomicI64::new(0),
            stats: parking_lot::Mutex::new(None),
            writes: AtomicU64::new(0),
            writes_at_stats: AtomicU64::new(0),
            stats_rows: AtomicU64::new(u64::MAX),
            stale_flag,
        }
    }

    /// Counts `n` rows written by a commit (or replayed), and raises the
    /// catalog's flag when that makes the statistics stale.
    pub(crate) fn note_writes(&self, n: u64) {
        self.writes.fetch_add(n, Ordering::Relaxed);
        if self.stats_stale() {
            self.stale_flag.store(true, Ordering::Release);
        }
    }

    /// Whether the table has statistics and enough rows were written since
    /// they were taken to take them again: [`STATS_STALE_ROWS`] plus
    /// [`STATS_STALE_FRACTION`] of the rows they saw.
    pub fn stats_stale(&self) -> bool {
        let rows = self.stats_rows.load(Ordering::Relaxed);
        if rows == u64::MAX {
            return false;
        }
        let since = (self.writes.load(Ordering::Relaxed))
            .saturating_sub(self.writes_at_stats.load(Ordering::Relaxed));
        since as f64 >= STATS_STALE_ROWS + STATS_STALE_FRACTION * rows as f64
    }

    /// The statistics `ANALYZE` took (or a checkpoint kept), if any.
    pub fn stats(&self) -> Option<Arc<TableStats>> {
        self.stats.lock().clone()
    }

    /// Installs statistics taken when `writes_before` rows had been
    /// written (see [`Table::writes_so_far`]).
    pub(crate) fn set_stats(&self, stats: Option<Arc<TableStats>>, writes_before: u64) {
        let rows = stats
            .as_ref()
            .map_or(u64::MAX, |s| s.rows.min(u64::MAX - 1));
        *self.stats.lock() = stats;
        self.writes_at_stats.store(writes_before, Ordering::Relaxed);
        self.stats_rows.store(rows, Ordering::Relaxed);
    }

    /// Rows written so far (read before statistics are taken, so writes
    /// during the sampling count as after it).
    pub(crate) fn writes_so_far(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    pub fn schema(&self) -> Arc<TableSchema> {
        self.inner.read().schema.clone()
    }

    pub fn name(&self) -> String {
        self.inner.read().schema.name.clone()
    }

    pub fn indexes(&self) -> Vec<IndexDef> {
        self.inner
            .read()
            .indexes
            .btrees()
            .map(|i| i.def.clone())
            .collect()
    }

    /// Rows visible to the newest snapshot, for cost estimates.
    pub fn row_count(&self) -> u64 {
        self.inner.read().row_count
    }

    /// The table's segments, sealed ones oldest first and then the live
    /// one: versions each holds and how many of them are current.
    pub fn segments(&self) -> Vec<SegmentInfo> {
        let inner = self.inner.read();
        let count = |vs: &mut dyn Iterator<Item = &Version>| {
            vs.fold((0u64, 0u64), |(all, cur), v| {
                let open = v.end.load(Ordering::Acquire) == TS_OPEN;
                (all + 1, cur + u64::from(open))
            })
        };
        let mut out: Vec<SegmentInfo> = (inner.sealed.iter())
            .map(|s| {
                let (versions, current) = count(&mut s.versions.iter());
                SegmentInfo {
                    live: false,
                    versions,
                    current,
                }
            })
            .collect();
        let (versions, current) = count(&mut inner.live.iter());
        out.push(SegmentInfo {
            live: true,
            versions,
            current,
        });
        out
    }

    /// Number of sealed segments and versions in the live segment.
    pub fn segment_stats(&self) -> (usize, usize) {
        let inner = self.inner.read();
        (inner.sealed.len(), inner.live.len())
    }

    /// The largest row id handed out so far (0 when none).
    pub(crate) fn max_row_id(&self) -> RowId {
        self.next_row_id.load(Ordering::Relaxed).saturating_sub(1)
    }

    /// Makes later row ids larger than `row` (WAL replay).
    pub(crate) fn observe_row_id(&self, row: RowId) {
        self.next_row_id
            .fetch_max(row.saturating_add(1), Ordering::Relaxed);
    }

    pub(crate) fn allocate_row_id(&self) -> RowId {
        self.next_row_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn set_schema(&self, schema: TableSchema) {
        self.inner.write().schema = Arc::new(schema);
    }

    /// Builds an ordered index over every stored version (the caller holds
    /// the commit lock, so no version is added before it is installed); a
    /// unique index fails on two current rows with one key.
    pub(crate) fn build_index(&self, def: IndexDef) -> Result<IndexSlot> {
        let inner = self.inner.read();
        BTreeIndex::build(def, &*inner).map(IndexSlot::BTree)
    }

    /// Adds an index [`Table::build_index`] or
    /// [`Table::build_vector_index`] built.
    pub(crate) fn install_index(&self, index: IndexSlot) {
        let mut inner = self.inner.write();
        debug_assert!(inner.indexes.named(index.index().name()).is_none());
        inner.indexes.push(index);
    }

    /// Removes the secondary index `name` (never the primary key's);
    /// returns its place in the list and the index.
    pub(crate) fn drop_index(&self, name: &str) -> Option<(usize, IndexSlot)> {
        let mut inner = self.inner.write();
        inner.indexes.remove_where(|s| {
            !s.as_btree().is_some_and(|b| b.def.primary)
                && s.index().name().eq_ignore_ascii_case(name)
        })
    }

    /// Puts an index [`Table::drop_index`] removed back at its place (a
    /// rolled-back DROP INDEX). No commit to this table ran meanwhile, so
    /// the index still covers every version.
    pub(crate) fn restore_index(&self, at: usize, index: IndexSlot) {
        let mut inner = self.inner.write();
        debug_assert!(inner.indexes.named(index.index().name()).is_none());
        inner.indexes.insert(at, index);
    }

    /// Whether index `index_no` is unique and `columns` key columns cover
    /// its whole key (so a lookup finds at most one current row).
    pub fn is_unique_key(&self, index_no: usize, columns: usize) -> bool {
        let inner = self.inner.read();
        inner
            .indexes
            .btree(index_no)
            .is_some_and(|i| i.def.unique && i.def.columns.len() == columns)
    }

    /// Definitions of the table's vector indexes.
    pub fn vector_indexes(&self) -> Vec<VectorIndexDef> {
        self.inner
            .read()
            .indexes
            .hnsws()
            .map(|v| v.def.clone())
            .collect()
    }

    /// Position of vector index `name` among the table's vector indexes.
    pub fn vector_index_no(&self, name: &str) -> Option<usize> {
        self.inner
            .read()
            .indexes
            .hnsws()
            .position(|v| v.def.name.eq_ignore_ascii_case(name))
    }

    /// Size and state of vector index `index_no`.
    pub fn vector_index_stats(&self, index_no: usize) -> Option<VectorIndexStats> {
        let inner = self.inner.read();
        inner.indexes.hnsw(index_no).map(HnswIndex::vector_stats)
    }

    /// Size of every index of the table (any kind), by name, in creation
    /// order.
    pub fn index_stats(&self) -> Vec<(String, IndexStats)> {
        self.inner
            .read()
            .indexes
            .iter()
            .map(|s| (s.index().name().to_string(), s.index().stats()))
            .collect()
    }

    /// Installs a vector index from graphs loaded from a checkpoint at
    /// `ts` (no rebuild; see [`HnswIndex::restore`]). Returns the jobs
    /// now due.
    pub(crate) fn restore_vector_index(
        &self,
        def: VectorIndexDef,
        graphs: Vec<(cairn_vector::hnsw::Graph, Vec<bool>)>,
        ts: Ts,
    ) -> Result<Vec<IndexJob>> {
        let mut inner = self.inner.write();
        if inner.indexes.named(&def.name).is_some() {
            return Err(Error::AlreadyExists {
                kind: "index",
                name: def.name,
            });
        }
        let index = HnswIndex::restore(def, graphs, ts, &*inner)?;
        inner.indexes.push(IndexSlot::Hnsw(index));
        Ok(inner.indexes.jobs_due(ts))
    }

    /// Cross-checks the indexes against the rows visible at `ts`: every
    /// row must be listed under its key in every ordered index, and every
    /// vector index must cover every row's vector. Returns the problems.
    pub(crate) fn check_indexes(&self, ts: Ts) -> Vec<String> {
        let inner = self.inner.read();
        let mut problems = Vec::new();
        for slot in inner.indexes.iter() {
            slot.index().check_visible(&*inner, ts, &mut problems);
        }
        let name = &inner.schema.name;
        problems
            .into_iter()
            .map(|p| format!("table {name}: {p}"))
            .collect()
    }

    /// Checks the invariants in this file's header against the table's
    /// whole state (every stored version, not one snapshot), given the
    /// newest commit timestamp handed out. Returns what is broken (empty
    /// when all holds). Model-based tests run it after every step;
    /// `integrity_check` runs it too.
    pub fn check_invariants(&self, last_assigned: Ts) -> Vec<String> {
        let inner = self.inner.read();
        let mut problems = inner.check_versions(last_assigned);
        problems.extend(inner.check_chains());
        for slot in inner.indexes.iter() {
            slot.index().check_stored(&*inner, &mut problems);
        }
        let name = &inner.schema.name;
        problems
            .into_iter()
            .take(PROBLEMS_MAX)
            .map(|p| format!("table {name}: {p}"))
            .collect()
    }

    pub(crate) fn has_index_named(&self, name: &str) -> bool {
        self.inner.read().indexes.named(name).is_some()
    }

    /// Builds an HNSW index over every stored version's vector (in
    /// parallel on `pool`). Holds the table's read lock while collecting
    /// the vectors (readers go on; the caller holds the commit lock, so no
    /// version is added before the index is installed).
    pub(crate) fn build_vector_index(
        &self,
        def: VectorIndexDef,
        pool: Option<&rayon::ThreadPool>,
        progress: Option<&crate::progress::ProgressHook>,
        stop: Option<&crate::progress::StopCheck<'_>>,
    ) -> Result<IndexSlot> {
        let (entries, meta) = collect_build(&def, &*self.inner.read());
        let (table, index) = (self.name(), def.name.clone());
        let tell = progress.map(|hook| {
            move |done, total| {
                hook(&crate::progress::Progress::BuildingIndex {
                    table: table.clone(),
                    index: index.clone(),
                    done,
                    total,
                })
            }
        });
        let tell = tell
            .as_ref()
            .map(|t| t as &crate::index::hnsw::BuildProgress<'_>);
        HnswIndex::build(def, entries, meta, pool, tell, stop).map(IndexSlot::Hnsw)
    }

    /// A vector index from the graph an earlier build of it produced (a
    /// replayed WAL record of kind 10), over the rows as of the newest
    /// commit `ts`: nothing is rebuilt (see [`HnswIndex::restore`]).
    pub(crate) fn restore_built_index(
        &self,
        def: VectorIndexDef,
        built: &BuiltGraph,
        ts: Ts,
    ) -> Result<IndexSlot> {
        let graphs = vec![(built.graph.clone(), built.live.clone())];
        HnswIndex::restore(def, graphs, ts, &*self.inner.read()).map(IndexSlot::Hnsw)
    }

    /// Runs one background job of an index (see
    /// [`crate::index::JobWork`]): collects under the read lock, builds
    /// with no lock, installs under the write lock; searches never wait
    /// for the build.
    pub(crate) fn run_index_job(&self, job: IndexJob, pool: Option<&rayon::ThreadPool>) {
        let IndexJob { index, mut work } = job;
        {
            let inner = self.inner.read();
            let Some(slot) = inner.indexes.named(&index) else {
                return;
            };
            if !work.collect(slot, &*inner) {
                return;
            }
        }
        work.build(pool);
        let mut inner = self.inner.write();
        if let Some(slot) = inner.indexes.named_mut(&index) {
            work.install(slot);
        }
    }

    /// Compacts every index of this table that can be, now (waiting for a
    /// background compaction in progress to finish first).
    pub(crate) fn compact_indexes(&self, oldest: Ts, pool: Option<&rayon::ThreadPool>) {
        for name in self.index_names() {
            self.compact_index(&name, oldest, pool);
        }
    }

    /// The names of the table's indexes, the primary key's first.
    pub(crate) fn index_names(&self) -> Vec<String> {
        (self.inner.read().indexes.iter())
            .map(|s| s.index().name().to_string())
            .collect()
    }

    /// REINDEX of one index: an ordered index is built again from the
    /// stored versions and replaces the old one (the caller holds the
    /// commit lock, so no version arrives meanwhile; nothing is logged:
    /// its entries follow from the rows); a vector index is compacted into
    /// one graph without tombstones. A unique index that finds two current
    /// rows with one key fails and the old index stays. False if the table
    /// has no index `name`.
    pub(crate) fn reindex(
        &self,
        name: &str,
        oldest: Ts,
        pool: Option<&rayon::ThreadPool>,
    ) -> Result<bool> {
        let def = match self.inner.read().indexes.named(name) {
            None => return Ok(false),
            Some(slot) => slot.as_btree().map(|b| b.def.clone()),
        };
        let Some(def) = def else {
            self.compact_index(name, oldest, pool);
            return Ok(true);
        };
        let built = BTreeIndex::build(def, &*self.inner.read())?;
        if let Some(slot) = self.inner.write().indexes.named_mut(name) {
            *slot = IndexSlot::BTree(built);
        }
        Ok(true)
    }

    /// Compacts index `name` now (see [`Table::compact_indexes`]).
    fn compact_index(&self, name: &str, oldest: Ts, pool: Option<&rayon::ThreadPool>) {
        let job = loop {
            let mut inner = self.inner.write();
            let Some(slot) = inner.indexes.named_mut(name) else {
                break None;
            };
            match slot.index_mut().compaction(oldest) {
                Compaction::Nothing => break None,
                Compaction::Job(job) => break Some(job),
                Compaction::Busy => {}
            }
            drop(inner);
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        if let Some(job) = job {
            self.run_index_job(job, pool);
        }
    }
}

impl TableInner {
    /// A stored row with values for columns added after it was written.
    pub(crate) fn full_row<'a>(&self, values: &'a [Value]) -> std::borrow::Cow<'a, [Value]> {
        full_row(&self.schema, values)
    }

    fn version(&self, loc: Loc) -> Option<&Version> {
        if loc.seg == LIVE {
            self.live.get(loc.off as usize)
        } else {
            self.sealed
                .get(loc.seg as usize)?
                .versions
                .get(loc.off as usize)
        }
    }

    /// The version of `row` visible at `ts`, if any.
    pub(crate) fn visible(&self, row: RowId, ts: Ts) -> Option<&Version> {
        self.visible_loc(row, ts).map(|(_, v)| v)
    }

    /// [`TableInner::visible`] with the version's location.
    fn visible_loc(&self, row: RowId, ts: Ts) -> Option<(Loc, &Version)> {
        self.visible_from(*self.heads.get(&row)?, ts)
    }

    /// The version visible at `ts` in the chain that starts at `head`.
    /// Prefetches what reading the newest versions of `rows` touches —
    /// their heads, versions, values and vectors — a stage at a time, so
    /// the cache misses of all the rows overlap instead of following one
    /// another (the k rows a vector search returns are scattered over the
    /// table).
    pub(crate) fn prefetch_rows(&self, rows: impl Iterator<Item = RowId>) {
        use cairn_vector::kernels::prefetch;
        let rows: Vec<RowId> = rows.collect();
        let heads = || rows.iter().filter_map(|r| self.heads.get(r));
        for loc in heads() {
            prefetch(loc);
        }
        let versions = || heads().filter_map(|loc| self.version(*loc));
        for v in versions() {
            prefetch(v);
        }
        for v in versions() {
            if let Some(first) = v.values.first() {
                prefetch(first);
            }
        }
        for v in versions() {
            for value in v.values.iter() {
                if let Value::Vector(x) = value {
                    for line in x.iter().step_by(16) {
                        prefetch(line);
                    }
                }
            }
        }
    }

    fn visible_from(&self, head: Loc, ts: Ts) -> Option<(Loc, &Version)> {
        let mut loc = head;
        loop {
            let v = self.version(loc)?;
            if v.visible_at(ts) {
                return Some((loc, v));
            }
            if v.begin <= ts {
                // Older versions ended even earlier.
                return None;
            }
            loc = v.prev?;
        }
    }

    /// The version of `row` visible at `ts`, where it is stored (its holder
    /// and slot, for a reader that reads it after releasing the lock: see
    /// [`TableInner::holder`]), and whether the row ever had more than one
    /// version (if not, its index entries are never stale).
    pub(crate) fn visible_place(
        &self,
        row: RowId,
        ts: Ts,
    ) -> Option<(&Version, Place, usize, bool)> {
        let head_loc = *self.heads.get(&row)?;
        let head = self.version(head_loc)?;
        let (loc, v) = self.visible_from(head_loc, ts)?;
        let (place, slot) = if loc.seg == LIVE {
            let (chunk, slot) = crate::live::locate(loc.off as usize);
            (Place::Live(chunk), slot)
        } else {
            (Place::Sealed(loc.seg as usize), loc.off as usize)
        };
        Some((v, place, slot, head.updated))
    }

    /// A handle on the segment or live chunk `place` names, which keeps it
    /// readable after the lock is released.
    pub(crate) fn holder(&self, place: Place) -> Option<Holder> {
        match place {
            Place::Sealed(seg) => self.sealed.get(seg).cloned().map(Holder::Sealed),
            Place::Live(chunk) => self.live.chunk(chunk).map(Holder::Live),
        }
    }

    /// The newest committed version of `row` (possibly ended by a delete).
    pub(crate) fn head(&self, row: RowId) -> Option<&Version> {
        self.version(*self.heads.get(&row)?)
    }

    /// Visits every version visible at `ts`: sealed segments first, then live.
    pub(crate) fn for_each_visible(
        &self,
        ts: Ts,
        f: &mut dyn FnMut(RowId, &Arc<[Value]>) -> Result<bool>,
    ) -> Result<bool> {
        {
            for v in self.versions() {
                if v.visible_at(ts) && !f(v.row_id, &v.values)? {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Sealed segment `i` (sealed segments are only ever appended, so a
    /// position in this list stays valid while the table lives).
    pub(crate) fn sealed_segment(&self, i: usize) -> Option<Arc<Segment>> {
        self.sealed.get(i).cloned()
    }

    /// The live segment's chunks and length, to read without the lock.
    pub(crate) fn live_view(&self) -> LiveView<Version> {
        self.live.view()
    }

    /// Every stored version: sealed segments first, then live.
    fn versions(&self) -> impl Iterator<Item = &Version> {
        self.sealed
            .iter()
            .flat_map(|s| s.versions.iter())
            .chain(self.live.iter())
    }

    pub(crate) fn live_len(&self) -> usize {
        self.live.len()
    }

    /// Ordered index number `index_no`.
    pub(crate) fn index(&self, index_no: usize) -> Result<&BTreeIndex> {
        self.indexes
            .btree(index_no)
            .ok_or_else(|| Error::internal(format!("index {index_no} out of range")))
    }

    /// Row ids the index lists under exactly `key`.
    pub(crate) fn index_lookup(&self, index_no: usize, key: &[Value]) -> &[RowId] {
        self.indexes.btree(index_no).map_or(&[], |i| i.get(key))
    }

    /// Ends the current head version of `row` at `ts` (delete, or update to
    /// `replaced_by`), and tells every index.
    pub(crate) fn end_row(
        &mut self,
        row: RowId,
        ts: Ts,
        replaced_by: Option<&[Value]>,
    ) -> Result<()> {
        let v = self
            .head(row)
            .ok_or_else(|| Error::internal(format!("row {row} has no version to end")))?;
        v.end.store(ts, Ordering::Release);
        if !self.indexes.is_empty() {
            let old = v.values.clone();
            let schema = &self.schema;
            let old = full_row(schema, &old);
            let new = replaced_by.map(|r| full_row(schema, r));
            for slot in self.indexes.iter_mut() {
                slot.index_mut().on_end(row, &old, new.as_deref(), ts);
            }
        }
        self.row_count = self.row_count.saturating_sub(1);
        Ok(())
    }

    /// The entries of ordered index `index_no` for the rows visible at `ts`
    /// (each under its visible key), in key order: what a checkpoint
    /// stores.
    pub(crate) fn index_entries(&self, index_no: usize, ts: Ts) -> Vec<(Vec<Value>, Vec<RowId>)> {
        let mut out = Vec::new();
        let Some(index) = self.indexes.btree(index_no) else {
            return out;
        };
        let _ = index.each_in_range(
            Bound::Unbounded,
            Bound::Unbounded,
            false,
            &mut |key, ids| {
                let live: Vec<RowId> = ids
                    .iter()
                    .copied()
                    .filter(|&rid| {
                        self.visible(rid, ts).is_some_and(|v| {
                            index_key(&index.def, &self.full_row(&v.values)).as_slice() == key
                        })
                    })
                    .collect();
                if !live.is_empty() {
                    out.push((key.to_vec(), live));
                }
                Ok(true)
            },
        );
        out
    }

    /// Adds a version loaded from a checkpoint: like
    /// [`TableInner::push_version`] but without touching indexes (they
    /// are loaded from their own sections).
    pub(crate) fn load_version(&mut self, row: RowId, values: Arc<[Value]>, ts: Ts) {
        self.append_live(row, values, ts, None);
    }

    /// Every stored version with its location, oldest segment first.
    fn versions_with_loc(&self) -> impl Iterator<Item = (Loc, &Version)> {
        let sealed = self.sealed.iter().enumerate().flat_map(|(seg, s)| {
            s.versions.iter().enumerate().map(move |(off, v)| {
                (
                    Loc {
                        seg: seg as u32,
                        off: off as u32,
                    },
                    v,
                )
            })
        });
        let live = self.live.iter().enumerate().map(|(off, v)| {
            (
                Loc {
                    seg: LIVE,
                    off: off as u32,
                },
                v,
            )
        });
        sealed.chain(live)
    }

    /// Versions: `begin <= end` (equal only for a commit undone after a
    /// WAL failure), both at or before the newest timestamp handed out;
    /// a row has at most one open version, and it is the row's head; the
    /// row count is the number of open versions.
    fn check_versions(&self, last_assigned: Ts) -> Vec<String> {
        let mut problems = Vec::new();
        let mut open = 0u64;
        for (loc, v) in self.versions_with_loc() {
            let end = v.end.load(Ordering::Acquire);
            if v.begin > last_assigned || (end != TS_OPEN && end > last_assigned) {
                problems.push(format!(
                    "row {} has a version [{}, {end}) past the newest timestamp {last_assigned}",
                    v.row_id, v.begin
                ));
            }
            if end < v.begin {
                problems.push(format!(
                    "row {} has a version that ends ({end}) before it begins ({})",
                    v.row_id, v.begin
                ));
            }
            if end == TS_OPEN {
                open += 1;
                if self.heads.get(&v.row_id) != Some(&loc) {
                    problems.push(format!(
                        "row {} has an open version that is not its head",
                        v.row_id
                    ));
                }
            }
        }
        if open != self.row_count {
            problems.push(format!(
                "row count {} but {open} open versions",
                self.row_count
            ));
        }
        problems
    }

    /// Version chains: a head names a stored version of its row; each
    /// `prev` lies in the same segment earlier or in an older segment,
    /// belongs to the same row, and ended exactly when its successor began.
    fn check_chains(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let older = |a: Loc, b: Loc| {
            let seg = |l: Loc| {
                if l.seg == LIVE {
                    u64::MAX
                } else {
                    u64::from(l.seg)
                }
            };
            (seg(a), a.off) < (seg(b), b.off)
        };
        for (i, loc) in self.heads.0.iter().enumerate() {
            if *loc == NO_LOC {
                continue;
            }
            let row = i as RowId;
            let mut at = *loc;
            let Some(mut v) = self.version(at) else {
                problems.push(format!("row {row}: head points at no version"));
                continue;
            };
            loop {
                if v.row_id != row {
                    problems.push(format!(
                        "row {row}: chain holds a version of row {}",
                        v.row_id
                    ));
                    break;
                }
                let Some(p) = v.prev else { break };
                let Some(pv) = self.version(p).filter(|_| older(p, at)) else {
                    problems.push(format!("row {row}: prev link does not point back"));
                    break;
                };
                if pv.end.load(Ordering::Acquire) != v.begin {
                    problems.push(format!(
                        "row {row}: a version ended at {} but its successor began at {}",
                        pv.end.load(Ordering::Acquire),
                        v.begin
                    ));
                }
                (at, v) = (p, pv);
            }
        }
        problems
    }

    /// Appends a version to the live segment and makes it the row's head.
    fn append_live(&mut self, row: RowId, values: Arc<[Value]>, ts: Ts, prev: Option<Loc>) {
        let loc = Loc {
            seg: LIVE,
            off: self.live.len() as u32,
        };
        self.live.push(Version {
            row_id: row,
            begin: ts,
            end: AtomicU64::new(TS_OPEN),
            prev,
            updated: prev.is_some(),
            values,
        });
        self.heads.insert(row, loc);
        self.row_count += 1;
    }

    /// Replaces the ordered indexes (checkpoint load).
    pub(crate) fn set_indexes(&mut self, indexes: Vec<BTreeIndex>) {
        self.indexes.set_btrees(indexes);
    }

    /// Appends a new version of `row` beginning at `ts` to the live segment.
    pub(crate) fn push_version(&mut self, row: RowId, values: Arc<[Value]>, ts: Ts) {
        let prev = self.heads.get(&row).copied();
        // Every index hears of the new version with its predecessor's
        // values (an index may skip a row whose key did not change).
        let prev_version = prev.and_then(|l| self.version(l));
        debug_assert!(
            prev_version.is_none_or(|v| v.end.load(Ordering::Acquire) == ts),
            "row {row}: a new version at {ts} must follow a version ended at {ts}"
        );
        let prev_values = prev_version.map(|v| v.values.clone());
        if !self.indexes.is_empty() {
            let schema = &self.schema;
            let full = full_row(schema, &values);
            let prev_full = prev_values.as_deref().map(|p| full_row(schema, p));
            for slot in self.indexes.iter_mut() {
                slot.index_mut()
                    .on_version(row, &full, prev_full.as_deref(), ts);
            }
        }
        self.append_live(row, values, ts, prev);
    }

    /// Reverts one row of a commit at `ts` that the WAL failed to hold: the
    /// version it pushed (if `wrote`) becomes visible to no snapshot and
    /// leaves the chain; the version it ended (if `existed`) is open again.
    /// Index entries stay (readers filter stale ones); vector graphs stop
    /// trusting their nodes without a check.
    pub(crate) fn undo_write(&mut self, row: RowId, ts: Ts, existed: bool, wrote: bool) {
        if wrote {
            let head = self.heads.get(&row).copied();
            if let Some(v) = head.and_then(|l| self.version(l)).filter(|v| v.begin == ts) {
                v.end.store(v.begin, Ordering::Release);
                match v.prev {
                    Some(p) => self.heads.insert(row, p),
                    None => self.heads.remove(row),
                }
                self.row_count = self.row_count.saturating_sub(1);
            }
        }
        if existed {
            if let Some(h) = self.head(row) {
                if h.end.load(Ordering::Acquire) == ts {
                    h.end.store(TS_OPEN, Ordering::Release);
                    self.row_count += 1;
                }
            }
        }
        for slot in self.indexes.iter_mut() {
            slot.index_mut().on_undo(row, ts);
        }
    }

    /// Background work the table's indexes need after a commit.
    pub(crate) fn jobs_due(&mut self, oldest: Ts) -> Vec<IndexJob> {
        self.indexes.jobs_due(oldest)
    }

    /// Moves the live segment into a new sealed segment, dropping versions no
    /// snapshot at or after `oldest_ts` can see.
    pub(crate) fn seal(&mut self, oldest_ts: Ts) {
        let seg_no = self.sealed.len() as u32;
        let len = self.live.len();
        let mut remap: Vec<Option<u32>> = Vec::with_capacity(len);
        let mut kept = Vec::with_capacity(len);
        for v in self.live.drain() {
            let end = v.end.load(Ordering::Acquire);
            if end <= oldest_ts && end != TS_OPEN {
                remap.push(None);
                continue;
            }
            remap.push(Some(kept.len() as u32));
            kept.push(v);
        }
        let map_loc = |loc: Loc| -> Option<Loc> {
            if loc.seg == LIVE {
                remap
                    .get(loc.off as usize)
                    .copied()
                    .flatten()
                    .map(|off| Loc { seg: seg_no, off })
            } else {
                Some(loc)
            }
        };
        for v in &mut kept {
            v.prev = v.prev.and_then(map_loc);
        }
        self.heads.retain(|_, loc| match map_loc(*loc) {
            Some(new) => {
                *loc = new;
                true
            }
            None => false,
        });
        if !kept.is_empty() {
            self.sealed.push(Arc::new(Segment { versions: kept }));
        }
    }
}

impl Version {
    /// This version as an index sees it (full row of `schema`).
    fn seen_by_index<'a>(&'a self, schema: &TableSchema) -> VersionRef<'a> {
        let end = self.end.load(Ordering::Acquire);
        VersionRef {
            row: self.row_id,
            begin: self.begin,
            end,
            open: end == TS_OPEN,
            values: full_row(schema, &self.values),
        }
    }
}

impl TableView for TableInner {
    fn each_version(&self, f: &mut dyn FnMut(VersionRef<'_>) -> bool) {
        for v in self.versions() {
            if !f(v.seen_by_index(&self.schema)) {
                return;
            }
        }
    }

    fn each_visible(&self, ts: Ts, f: &mut dyn FnMut(RowId, &[Value]) -> bool) {
        let _ = self.for_each_visible(ts, &mut |rid, values| Ok(f(rid, &self.full_row(values))));
    }

    fn visible_row(&self, row: RowId, ts: Ts) -> Option<Cow<'_, [Value]>> {
        self.visible(row, ts).map(|v| self.full_row(&v.values))
    }

    fn chain(&self, row: RowId, f: &mut dyn FnMut(VersionRef<'_>) -> bool) {
        let mut loc = self.heads.get(&row).copied();
        while let Some(v) = loc.and_then(|l| self.version(l)) {
            if !f(v.seen_by_index(&self.schema)) {
                return;
            }
            loc = v.prev;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ColumnDef;
    use cairn_core::DataType;

    fn table() -> Table {
        let col = |name: &str| ColumnDef {
            name: name.into(),
            data_type: DataType::Integer,
            declared_type: "INTEGER".into(),
            nullable: true,
            default_sql: None,
            added_default: Value::Null,
        };
        Table::new(
            1,
            TableSchema {
                name: "t".into(),
                columns: vec![col("id"), col("v")],
                primary_key: Some(vec![0]),
                checks: Vec::new(),
                auto_increment: None,
                create_sql: "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER)".into(),
            },
            Arc::default(),
        )
    }

    fn row(id: i64, v: i64) -> Arc<[Value]> {
        Arc::from(vec![Value::Integer(id), Value::Integer(v)])
    }

    /// Inserts rows 1 and 2 at ts 1, updates row 1 at ts 2.
    fn filled() -> Table {
        let t = table();
        {
            let mut inner = t.inner.write();
            inner.push_version(1, row(1, 10), 1);
            inner.push_version(2, row(2, 20), 1);
            inner.end_row(1, 2, Some(&row(1, 11))).expect("end");
            inner.push_version(1, row(1, 11), 2);
        }
        t
    }

    #[test]
    fn invariants_hold_after_writes_and_a_seal() {
        let t = filled();
        assert_eq!(t.check_invariants(2), Vec::<String>::new());
        t.inner.write().seal(0);
        assert_eq!(t.check_invariants(2), Vec::<String>::new());
    }

    #[test]
    fn invariants_catch_a_version_past_the_clock() {
        let t = filled();
        let broken = t.check_invariants(1);
        assert!(
            broken.iter().any(|p| p.contains("past the newest")),
            "{broken:?}"
        );
    }

    #[test]
    fn invariants_catch_a_broken_chain_and_count() {
        let t = filled();
        {
            let inner = t.inner.read();
            // The old version of row 1 "ends" later than its successor began.
            let old = inner.version(Loc { seg: LIVE, off: 0 }).expect("v0");
            old.end.store(5, Ordering::Release);
        }
        let broken = t.check_invariants(5);
        assert!(
            broken.iter().any(|p| p.contains("successor began")),
            "{broken:?}"
        );
        t.inner.write().row_count = 7;
        let broken = t.check_invariants(5);
        assert!(
            broken.iter().any(|p| p.contains("row count 7")),
            "{broken:?}"
        );
    }

    #[test]
    fn invariants_catch_a_second_open_version_and_a_missing_index_entry() {
        let t = filled();
        {
            let inner = t.inner.read();
            let old = inner.version(Loc { seg: LIVE, off: 0 }).expect("v0");
            old.end.store(TS_OPEN, Ordering::Release);
        }
        let broken = t.check_invariants(2);
        assert!(
            broken.iter().any(|p| p.contains("not its head")),
            "{broken:?}"
        );
        let mut inner = t.inner.write();
        let pk = inner.index(0).expect("pk").def.clone();
        inner.set_indexes(vec![BTreeIndex::new(pk)]);
        drop(inner);
        let broken = t.check_invariants(2);
        assert!(
            broken.iter().any(|p| p.contains("missing from index")),
            "{broken:?}"
        );
    }
}
