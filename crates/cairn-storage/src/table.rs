//! One table: a mutable live segment plus immutable sealed segments of row
//! versions, the version chains that link a row's versions, and the table's
//! ordered indexes.
//!
//! Invariants:
//! - a version is visible at snapshot `ts` iff `begin <= ts < end`;
//! - `heads[row]` is the row's newest committed version; `prev` links lead to
//!   older versions, always in the same or an older segment;
//! - index entries cover every version still stored (stale entries are allowed
//!   and are filtered by readers, which re-check the key of the visible version);
//! - only the committer (holding the store's commit lock and this table's write
//!   lock) changes anything here; sealed segments change only their `end` stamps.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn_core::{Error, Result, Value};
use parking_lot::RwLock;

use crate::live::{Live, LiveChunk, LiveView};
use crate::lock::{Rank, Ranked};
use crate::schema::{IndexDef, TableSchema};
use crate::vector::{
    build_graph, same_vector, GraphMeta, VectorIndex, VectorIndexDef, VectorIndexStats, VectorJob,
};
use crate::{RowId, Ts};

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

/// Row ids listed under one index key: almost always exactly one, kept
/// inline.
#[derive(Debug, Clone)]
enum Ids {
    One(RowId),
    Many(Vec<RowId>),
}

impl Ids {
    fn as_slice(&self) -> &[RowId] {
        match self {
            Ids::One(r) => std::slice::from_ref(r),
            Ids::Many(v) => v,
        }
    }

    fn add(&mut self, row: RowId) {
        match self {
            Ids::One(r) if *r == row => {}
            Ids::One(r) => {
                *self = Ids::Many(if *r < row {
                    vec![*r, row]
                } else {
                    vec![row, *r]
                })
            }
            // Kept sorted: a lookup is a binary search, and a new largest id
            // (the usual case) is appended without shifting, so a key shared
            // by many rows stays cheap to add to.
            Ids::Many(v) => {
                if let Err(at) = v.binary_search(&row) {
                    v.insert(at, row);
                }
            }
        }
    }
}

/// Keys of a one-column index are stored as the value itself (no heap
/// vector to chase on every comparison); wider keys as vectors.
enum KeyMap {
    Single(BTreeMap<Value, Ids>),
    Multi(BTreeMap<Vec<Value>, Ids>),
}

/// An ordered index: key columns → row ids that have (or had) that key.
pub(crate) struct Index {
    pub(crate) def: IndexDef,
    map: KeyMap,
}

impl Index {
    pub(crate) fn new(def: IndexDef) -> Index {
        let map = if def.columns.len() == 1 {
            KeyMap::Single(BTreeMap::new())
        } else {
            KeyMap::Multi(BTreeMap::new())
        };
        Index { def, map }
    }

    fn add(&mut self, key: Vec<Value>, row: RowId) {
        match &mut self.map {
            KeyMap::Single(m) => {
                let Some(k) = key.into_iter().next() else {
                    return;
                };
                match m.entry(k) {
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(Ids::One(row));
                    }
                    std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().add(row),
                }
            }
            KeyMap::Multi(m) => match m.entry(key) {
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(Ids::One(row));
                }
                std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().add(row),
            },
        }
    }

    /// An index filled from entries in ascending key order (loaded from a
    /// checkpoint). `Err(i)` if entry `i` is out of order, has no row ids,
    /// or a key of the wrong width.
    pub(crate) fn from_sorted(
        def: IndexDef,
        entries: Vec<(Vec<Value>, Vec<RowId>)>,
    ) -> std::result::Result<Index, usize> {
        let mut index = Index::new(def);
        let width = index.def.columns.len();
        let mut last: Option<Vec<Value>> = None;
        for (i, (key, mut ids)) in entries.into_iter().enumerate() {
            if key.len() != width || ids.is_empty() || last.as_ref().is_some_and(|l| *l >= key) {
                return Err(i);
            }
            ids.sort_unstable();
            ids.dedup();
            let entry = if ids.len() == 1 {
                Ids::One(ids[0])
            } else {
                Ids::Many(ids)
            };
            last = Some(key.clone());
            match &mut index.map {
                KeyMap::Single(m) => {
                    if let Some(k) = key.into_iter().next() {
                        m.insert(k, entry);
                    }
                }
                KeyMap::Multi(m) => {
                    m.insert(key, entry);
                }
            }
        }
        Ok(index)
    }

    /// Row ids listed under exactly `key`.
    pub(crate) fn get(&self, key: &[Value]) -> &[RowId] {
        let ids = match &self.map {
            KeyMap::Single(m) => match key {
                [k] => m.get(k),
                _ => None,
            },
            KeyMap::Multi(m) => m.get(key),
        };
        ids.map_or(&[], Ids::as_slice)
    }

    /// Visits (key, row ids) entries whose key, on its first
    /// `lo.len()`/`hi.len()` columns, lies within the bounds, in key order
    /// (descending when `reverse`). `f` returns `false` to stop.
    pub(crate) fn each_in_range(
        &self,
        lo: Bound<&[Value]>,
        hi: Bound<&[Value]>,
        reverse: bool,
        f: &mut dyn FnMut(&[Value], &[RowId]) -> Result<bool>,
    ) -> Result<bool> {
        // An equality on the whole key is one lookup, not a range walk.
        if let (Bound::Included(a), Bound::Included(b)) = (lo, hi) {
            if a.len() == self.def.columns.len() && a == b {
                let ids = self.get(a);
                return if ids.is_empty() { Ok(true) } else { f(a, ids) };
            }
        }
        match &self.map {
            KeyMap::Single(m) => {
                let start = match lo {
                    Bound::Included(k) | Bound::Excluded(k) => match k.first() {
                        Some(v) => Bound::Included(v),
                        None => Bound::Unbounded,
                    },
                    Bound::Unbounded => Bound::Unbounded,
                };
                // The upper end bounds the range too, so a descending walk
                // (or one resumed below a key) starts at its place.
                let end = match hi {
                    Bound::Included(k) | Bound::Excluded(k) => match k.first() {
                        Some(v) => Bound::Included(v),
                        None => Bound::Unbounded,
                    },
                    Bound::Unbounded => Bound::Unbounded,
                };
                if let (Bound::Included(a), Bound::Included(b)) = (start, end) {
                    if a > b {
                        return Ok(true);
                    }
                }
                let range = m
                    .range::<Value, _>((start, end))
                    .map(|(k, ids)| (std::slice::from_ref(k), ids.as_slice()));
                walk(range, lo, hi, reverse, f)
            }
            KeyMap::Multi(m) => {
                let start: Bound<&[Value]> = match lo {
                    Bound::Included(k) | Bound::Excluded(k) => Bound::Included(k),
                    Bound::Unbounded => Bound::Unbounded,
                };
                // A bound on the whole key bounds the range; a prefix
                // bound does not (longer keys sort after their prefix).
                let width = self.def.columns.len();
                let end: Bound<&[Value]> = match hi {
                    Bound::Included(k) if k.len() == width => Bound::Included(k),
                    Bound::Excluded(k) if k.len() == width => Bound::Excluded(k),
                    _ => Bound::Unbounded,
                };
                let empty = match (start, end) {
                    (Bound::Included(a), Bound::Included(b)) => a > b,
                    (Bound::Included(a), Bound::Excluded(b)) => a >= b,
                    _ => false,
                };
                if empty {
                    return Ok(true);
                }
                let range = m
                    .range::<[Value], _>((start, end))
                    .map(|(k, ids)| (&k[..], ids.as_slice()));
                walk(range, lo, hi, reverse, f)
            }
        }
    }
}

/// Walks index entries from the lower bound's start, in either direction,
/// keeping those within both bounds.
fn walk<'a>(
    range: impl DoubleEndedIterator<Item = (&'a [Value], &'a [RowId])>,
    lo: Bound<&[Value]>,
    hi: Bound<&[Value]>,
    reverse: bool,
    f: &mut dyn FnMut(&[Value], &[RowId]) -> Result<bool>,
) -> Result<bool> {
    use std::cmp::Ordering::*;
    let in_lo = |key: &[Value]| match lo {
        Bound::Included(k) => prefix_cmp(key, k) != Less,
        Bound::Excluded(k) => prefix_cmp(key, k) == Greater,
        Bound::Unbounded => true,
    };
    let in_hi = |key: &[Value]| match hi {
        Bound::Included(k) => prefix_cmp(key, k) != Greater,
        Bound::Excluded(k) => prefix_cmp(key, k) == Less,
        Bound::Unbounded => true,
    };
    if reverse {
        for (key, ids) in range.rev() {
            if !in_hi(key) {
                continue;
            }
            if !in_lo(key) {
                break;
            }
            if !f(key, ids)? {
                return Ok(false);
            }
        }
    } else {
        for (key, ids) in range {
            if !in_lo(key) {
                continue;
            }
            if !in_hi(key) {
                break;
            }
            if !f(key, ids)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Compares the first `bound.len()` columns of `key` with `bound`.
fn prefix_cmp(key: &[Value], bound: &[Value]) -> std::cmp::Ordering {
    let n = bound.len().min(key.len());
    key[..n].cmp(&bound[..n])
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

pub(crate) fn index_key(def: &IndexDef, row: &[Value]) -> Vec<Value> {
    def.columns
        .iter()
        .map(|&c| row.get(c).cloned().unwrap_or(Value::Null))
        .collect()
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
    pub(crate) indexes: Vec<Index>,
    pub(crate) vectors: Vec<VectorIndex>,
    /// Rows visible to the newest snapshot (an estimate for the planner).
    pub(crate) row_count: u64,
}

/// A table: schema, versions in segments, indexes.
pub struct Table {
    pub id: u64,
    pub(crate) inner: Ranked<RwLock<TableInner>>,
    next_row_id: AtomicU64,
    /// Largest key ever used in the auto-increment column.
    auto_max: std::sync::atomic::AtomicI64,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Table({} {})", self.id, self.name())
    }
}

impl Table {
    /// The next key for an auto-increment column (one past the largest used).
    pub fn next_auto_key(&self) -> i64 {
        self.auto_max
            .fetch_add(1, Ordering::AcqRel)
            .saturating_add(1)
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

    pub(crate) fn new(id: u64, schema: TableSchema) -> Table {
        let mut indexes = Vec::new();
        if let Some(pk) = &schema.primary_key {
            indexes.push(Index::new(IndexDef {
                name: format!("{}_pkey", schema.name),
                columns: pk.clone(),
                unique: true,
                primary: true,
                create_sql: None,
            }));
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
                    vectors: Vec::new(),
                    row_count: 0,
                },
            ),
            next_row_id: AtomicU64::new(1),
            auto_max: std::sync::atomic::AtomicI64::new(0),
        }
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
            .iter()
            .map(|i| i.def.clone())
            .collect()
    }

    /// Rows visible to the newest snapshot, for cost estimates.
    pub fn row_count(&self) -> u64 {
        self.inner.read().row_count
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

    /// Builds an index over every stored version (the caller holds the
    /// commit lock, so no version is added before it is installed); a
    /// unique index fails on two current rows with one key.
    pub(crate) fn build_index(&self, def: IndexDef) -> Result<Index> {
        let inner = self.inner.read();
        let mut index = Index::new(def);
        let mut seen_live_keys: HashMap<Vec<Value>, RowId> = HashMap::new();
        {
            for v in inner.versions() {
                let key = index_key(&index.def, &inner.full_row(&v.values));
                if index.def.unique
                    && v.end.load(Ordering::Acquire) == TS_OPEN
                    && !key.iter().any(Value::is_null)
                {
                    if let Some(other) = seen_live_keys.insert(key.clone(), v.row_id) {
                        if other != v.row_id {
                            return Err(Error::Constraint {
                                kind: cairn_core::ConstraintKind::Unique,
                                detail: format!(
                                    "cannot create unique index {}: duplicate key",
                                    index.def.name
                                ),
                            });
                        }
                    }
                }
                index.add(key, v.row_id);
            }
        }
        Ok(index)
    }

    /// Adds an index [`Table::build_index`] built.
    pub(crate) fn install_index(&self, index: Index) {
        let mut inner = self.inner.write();
        debug_assert!(!self.has_index_named_in(&inner, &index.def.name));
        inner.indexes.push(index);
    }

    pub(crate) fn drop_index(&self, name: &str) -> bool {
        let mut inner = self.inner.write();
        let before = inner.indexes.len() + inner.vectors.len();
        inner
            .indexes
            .retain(|i| i.def.primary || !i.def.name.eq_ignore_ascii_case(name));
        inner
            .vectors
            .retain(|v| !v.def.name.eq_ignore_ascii_case(name));
        inner.indexes.len() + inner.vectors.len() != before
    }

    /// Definitions of the table's vector indexes.
    /// Whether index `index_no` is unique and `columns` key columns cover
    /// its whole key (so a lookup finds at most one current row).
    pub fn is_unique_key(&self, index_no: usize, columns: usize) -> bool {
        let inner = self.inner.read();
        inner
            .indexes
            .get(index_no)
            .is_some_and(|i| i.def.unique && i.def.columns.len() == columns)
    }

    pub fn vector_indexes(&self) -> Vec<VectorIndexDef> {
        self.inner
            .read()
            .vectors
            .iter()
            .map(|v| v.def.clone())
            .collect()
    }

    /// Position of vector index `name` among the table's vector indexes.
    pub fn vector_index_no(&self, name: &str) -> Option<usize> {
        self.inner
            .read()
            .vectors
            .iter()
            .position(|v| v.def.name.eq_ignore_ascii_case(name))
    }

    /// Size and state of vector index `index_no`.
    pub fn vector_index_stats(&self, index_no: usize) -> Option<VectorIndexStats> {
        let inner = self.inner.read();
        let v = inner.vectors.get(index_no)?;
        Some(VectorIndexStats {
            graphs: v.graphs.len(),
            nodes: v.node_count(),
            pending: v.pending.iter().map(|p| p.rows.len()).sum(),
            tombstones: v.dead,
            bytes: v.memory_bytes(),
            compactions: v.compactions,
            compacting: v.compacting,
        })
    }

    /// Installs a vector index from graphs loaded from a checkpoint at
    /// `ts` (no rebuild). A node is live if `alive` says so and its row's
    /// vector is still the node's (first such node per row); other nodes
    /// are tombstones. Row vectors no live node covers go to a pending
    /// chunk, built in the background like fresh commits.
    pub(crate) fn restore_vector_index(
        &self,
        def: VectorIndexDef,
        graphs: Vec<(cairn_vector::hnsw::Graph, Vec<bool>)>,
        ts: Ts,
    ) -> Result<Vec<VectorJob>> {
        let mut inner = self.inner.write();
        if self.has_index_named_in(&inner, &def.name) {
            return Err(Error::AlreadyExists {
                kind: "index",
                name: def.name,
            });
        }
        let col = def.column;
        let mut covered: std::collections::HashSet<RowId> = std::collections::HashSet::new();
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
                    .then(|| inner.visible(row, ts))
                    .flatten()
                    .and_then(|v| inner.full_row(&v.values).get(col).cloned())
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
            restored.push(Arc::new(crate::vector::VectorGraph {
                graph,
                origin,
                meta: GraphMeta {
                    clean,
                    max_begin: ts,
                    dead_events: 0,
                },
            }));
        }
        let mut vi = VectorIndex::restored(def, restored, dead);
        let _ = inner.for_each_visible(ts, &mut |rid, values| {
            if !covered.contains(&rid) {
                if let Some(v) = values.get(col).filter(|v| v.is_vector()) {
                    vi.append(rid, v, ts);
                }
            }
            Ok(true)
        });
        inner.vectors.push(vi);
        Ok(inner.vector_jobs_due(ts))
    }

    /// Cross-checks the indexes against the rows visible at `ts`: every
    /// row must be listed under its key in every ordered index, and every
    /// vector index must cover every row's vector. Returns the problems.
    pub(crate) fn check_indexes(&self, ts: Ts) -> Vec<String> {
        let inner = self.inner.read();
        let mut problems = Vec::new();
        let name = &inner.schema.name;
        let _ = inner.for_each_visible(ts, &mut |rid, values| {
            let full = inner.full_row(values);
            for index in &inner.indexes {
                let key = index_key(&index.def, &full);
                if !index.get(&key).contains(&rid) {
                    problems.push(format!(
                        "table {name}: row {rid} is missing from index {}",
                        index.def.name
                    ));
                }
            }
            Ok(problems.len() < 100)
        });
        for vi in &inner.vectors {
            let col = vi.def.column;
            let mut covered: std::collections::HashSet<RowId> = std::collections::HashSet::new();
            for g in &vi.graphs {
                for node in 0..g.origin.len() {
                    covered.insert(g.graph.key(node as u32));
                }
            }
            for p in &vi.pending {
                covered.extend(p.rows.iter().copied());
            }
            let _ = inner.for_each_visible(ts, &mut |rid, values| {
                let full = inner.full_row(values);
                if full.get(col).is_some_and(Value::is_vector) && !covered.contains(&rid) {
                    problems.push(format!(
                        "table {name}: row {rid} is missing from vector index {}",
                        vi.def.name
                    ));
                }
                Ok(problems.len() < 100)
            });
        }
        problems
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
        problems.extend(inner.check_index_coverage());
        let name = &inner.schema.name;
        problems
            .into_iter()
            .take(100)
            .map(|p| format!("table {name}: {p}"))
            .collect()
    }

    pub(crate) fn has_index_named(&self, name: &str) -> bool {
        self.has_index_named_in(&self.inner.read(), name)
    }

    /// Builds an HNSW index over every stored version's vector (in
    /// parallel on `pool`). Holds the table's read lock while collecting
    /// the vectors (readers go on; the caller holds the commit lock, so no
    /// version is added before the index is installed).
    pub(crate) fn build_vector_index(
        &self,
        def: VectorIndexDef,
        pool: Option<&rayon::ThreadPool>,
    ) -> Result<VectorIndex> {
        let inner = self.inner.read();
        // One entry per distinct vector of each row's version chain, oldest
        // first (a row keeps one node while an UPDATE leaves its vector).
        let mut entries: Vec<(RowId, Value)> = Vec::new();
        let mut last: HashMap<RowId, usize> = HashMap::new();
        let mut meta = GraphMeta {
            clean: true,
            max_begin: 0,
            dead_events: 0,
        };
        {
            for v in inner.versions() {
                let full = inner.full_row(&v.values);
                let Some(value) = full.get(def.column) else {
                    continue;
                };
                if !value.is_vector() {
                    continue;
                }
                meta.max_begin = meta.max_begin.max(v.begin);
                if let Some(&i) = last.get(&v.row_id) {
                    if same_vector(&entries[i].1, value) {
                        continue;
                    }
                }
                // A version that ended leaves a node no current snapshot
                // may return: the graph needs per-node checks.
                meta.clean &= v.end.load(Ordering::Acquire) == TS_OPEN;
                last.insert(v.row_id, entries.len());
                entries.push((v.row_id, value.clone()));
            }
        }
        drop(inner);
        VectorIndex::build(def, entries, meta, pool)
    }

    /// Adds a vector index [`Table::build_vector_index`] built.
    pub(crate) fn install_vector_index(&self, index: VectorIndex) {
        let mut inner = self.inner.write();
        debug_assert!(!self.has_index_named_in(&inner, &index.def.name));
        inner.vectors.push(index);
    }

    /// Runs one background job of a vector index: builds a pending chunk's
    /// graph, or merges a range of graphs into one without the tombstones no
    /// snapshot needs. The table is read while collecting and write-locked
    /// only to install the result; searches never wait for the build.
    pub(crate) fn run_vector_job(&self, job: VectorJob, pool: Option<&rayon::ThreadPool>) {
        match job {
            VectorJob::Build {
                index,
                chunk,
                entries,
                meta,
            } => {
                let Some(def) = self.vector_index_def(&index) else {
                    return;
                };
                let built = build_graph(&def, entries, meta, pool);
                let mut inner = self.inner.write();
                if let Some(vi) = inner.vector_index_mut(&index) {
                    vi.finish_build(chunk, built);
                }
            }
            VectorJob::Merge {
                index,
                start,
                end,
                oldest,
            } => {
                let collected = {
                    let inner = self.inner.read();
                    inner.vector_index(&index).map(|vi| {
                        let col = vi.def.column;
                        let mut entries = Vec::new();
                        let mut meta = GraphMeta {
                            clean: true,
                            max_begin: 0,
                            dead_events: vi.dead_events,
                        };
                        for g in vi.graphs.get(start..end).unwrap_or(&[]) {
                            for (node, origin) in g.origin.iter().enumerate() {
                                let row = g.graph.key(node as u32);
                                if inner.vector_needed(row, col, origin, oldest) {
                                    match inner.head(row) {
                                        Some(h) => {
                                            meta.max_begin = meta.max_begin.max(h.begin);
                                            let current = h.end.load(Ordering::Acquire) == TS_OPEN
                                                && inner
                                                    .full_row(&h.values)
                                                    .get(col)
                                                    .is_some_and(|c| same_vector(c, origin));
                                            meta.clean &= current;
                                        }
                                        None => meta.clean = false,
                                    }
                                    entries.push((row, origin.clone()));
                                }
                            }
                        }
                        (vi.def.clone(), entries, vi.dead, meta)
                    })
                };
                let Some((def, entries, dead_at_start, meta)) = collected else {
                    return;
                };
                let full = start == 0;
                let built = build_graph(&def, entries, meta, pool);
                let mut inner = self.inner.write();
                let Some(vi) = inner.vector_index_mut(&index) else {
                    return;
                };
                vi.compacting = false;
                match built {
                    Ok(g) if end <= vi.graphs.len() => {
                        vi.graphs.splice(start..end, [Arc::new(g)]);
                        if full {
                            // Tombstones made while rebuilding are in the new
                            // graph; the older ones are gone.
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

    fn vector_index_def(&self, name: &str) -> Option<VectorIndexDef> {
        self.inner.read().vector_index(name).map(|v| v.def.clone())
    }

    /// Merges every graph of every vector index of this table into one,
    /// now (waiting for a background merge in progress to finish first).
    pub(crate) fn compact_vector_indexes(&self, oldest: Ts, pool: Option<&rayon::ThreadPool>) {
        let names: Vec<String> = self
            .inner
            .read()
            .vectors
            .iter()
            .map(|v| v.def.name.clone())
            .collect();
        for name in names {
            let job = loop {
                let mut inner = self.inner.write();
                let Some(vi) = inner.vector_index_mut(&name) else {
                    break None;
                };
                if !vi.compacting {
                    vi.compacting = true;
                    break Some(VectorJob::Merge {
                        index: name.clone(),
                        start: 0,
                        end: vi.graphs.len(),
                        oldest,
                    });
                }
                drop(inner);
                std::thread::sleep(std::time::Duration::from_millis(5));
            };
            if let Some(job) = job {
                self.run_vector_job(job, pool);
            }
        }
    }

    fn has_index_named_in(&self, inner: &TableInner, name: &str) -> bool {
        inner
            .indexes
            .iter()
            .any(|i| i.def.name.eq_ignore_ascii_case(name))
            || inner
                .vectors
                .iter()
                .any(|v| v.def.name.eq_ignore_ascii_case(name))
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

    pub(crate) fn index(&self, index_no: usize) -> Result<&Index> {
        self.indexes
            .get(index_no)
            .ok_or_else(|| Error::internal(format!("index {index_no} out of range")))
    }

    /// Row ids the index lists under exactly `key`.
    pub(crate) fn index_lookup(&self, index_no: usize, key: &[Value]) -> &[RowId] {
        self.indexes.get(index_no).map_or(&[], |i| i.get(key))
    }

    /// Ends the current head version of `row` at `ts` (delete, or update to
    /// `replaced_by`). A vector that goes away becomes a tombstone in its
    /// vector indexes.
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
        if !self.vectors.is_empty() {
            let old = v.values.clone();
            for vi in &mut self.vectors {
                let col = vi.def.column;
                let Some(before) = old.get(col).filter(|x| x.is_vector()) else {
                    continue;
                };
                let kept = replaced_by
                    .and_then(|r| r.get(col))
                    .is_some_and(|after| same_vector(before, after));
                if !kept {
                    vi.dead += 1;
                    vi.dead_events += 1;
                }
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
        let Some(index) = self.indexes.get(index_no) else {
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

    /// Every stored version is listed in every ordered index under its key.
    fn check_index_coverage(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (_, v) in self.versions_with_loc() {
            let full = self.full_row(&v.values);
            for index in &self.indexes {
                if !index.get(&index_key(&index.def, &full)).contains(&v.row_id) {
                    problems.push(format!(
                        "row {} has a version missing from index {}",
                        v.row_id, index.def.name
                    ));
                }
            }
            if problems.len() >= 100 {
                break;
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
    pub(crate) fn set_indexes(&mut self, indexes: Vec<Index>) {
        self.indexes = indexes;
    }

    /// Appends a new version of `row` beginning at `ts` to the live segment.
    pub(crate) fn push_version(&mut self, row: RowId, values: Arc<[Value]>, ts: Ts) {
        let prev = self.heads.get(&row).copied();
        // An index whose key this version shares with the previous one
        // already lists the row (entries are kept for every stored version).
        let prev_version = prev.and_then(|l| self.version(l));
        debug_assert!(
            prev_version.is_none_or(|v| v.end.load(Ordering::Acquire) == ts),
            "row {row}: a new version at {ts} must follow a version ended at {ts}"
        );
        let prev_values = prev_version.map(|v| v.values.clone());
        let keys: Vec<Option<Vec<Value>>> = {
            let full = self.full_row(&values);
            let prev_full = prev_values.as_deref().map(|p| self.full_row(p));
            self.indexes
                .iter()
                .map(|ix| {
                    let unchanged = prev_full
                        .as_deref()
                        .is_some_and(|p| ix.def.columns.iter().all(|&c| p.get(c) == full.get(c)));
                    (!unchanged).then(|| index_key(&ix.def, &full))
                })
                .collect()
        };
        for (index, key) in self.indexes.iter_mut().zip(keys) {
            if let Some(key) = key {
                index.add(key, row);
            }
        }
        if !self.vectors.is_empty() {
            self.index_vectors(row, &values, prev_values.as_deref(), ts);
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
        for vi in &mut self.vectors {
            vi.dead_events += 1;
        }
    }

    /// Background work the table's vector indexes need after a commit.
    pub(crate) fn vector_jobs_due(&mut self, oldest: Ts) -> Vec<VectorJob> {
        self.vectors
            .iter_mut()
            .flat_map(|vi| vi.jobs_due(oldest))
            .collect()
    }

    pub(crate) fn vector_index(&self, name: &str) -> Option<&VectorIndex> {
        self.vectors
            .iter()
            .find(|v| v.def.name.eq_ignore_ascii_case(name))
    }

    fn vector_index_mut(&mut self, name: &str) -> Option<&mut VectorIndex> {
        self.vectors
            .iter_mut()
            .find(|v| v.def.name.eq_ignore_ascii_case(name))
    }

    /// Whether some version of `row` that a snapshot at or after `oldest`
    /// can see holds the vector `origin` in column `col`.
    pub(crate) fn vector_needed(&self, row: RowId, col: usize, origin: &Value, oldest: Ts) -> bool {
        let Some(mut loc) = self.heads.get(&row).copied() else {
            return false;
        };
        loop {
            let Some(v) = self.version(loc) else {
                return false;
            };
            let end = v.end.load(Ordering::Acquire);
            if end != TS_OPEN && end <= oldest {
                // This and every older version ended before any snapshot.
                return false;
            }
            if self
                .full_row(&v.values)
                .get(col)
                .is_some_and(|c| same_vector(c, origin))
            {
                return true;
            }
            match v.prev {
                Some(p) => loc = p,
                None => return false,
            }
        }
    }

    /// Adds the vectors of a new version to the vector indexes (unless the
    /// previous version holds the same vector).
    fn index_vectors(&mut self, row: RowId, values: &[Value], prev: Option<&[Value]>, ts: Ts) {
        let n = self.schema.columns.len();
        for vi in &mut self.vectors {
            let col = vi.def.column;
            let get = |vals: &[Value]| -> Value {
                match vals.get(col) {
                    Some(v) => v.clone(),
                    None if col < n => self.schema.columns[col].added_default.clone(),
                    None => Value::Null,
                }
            };
            let new = get(values);
            if !new.is_vector() {
                continue;
            }
            if prev.is_some_and(|p| same_vector(&get(p), &new)) {
                continue;
            }
            vi.append(row, &new, ts);
        }
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
        inner.indexes[0] = Index::new(inner.indexes[0].def.clone());
        drop(inner);
        let broken = t.check_invariants(2);
        assert!(
            broken.iter().any(|p| p.contains("missing from index")),
            "{broken:?}"
        );
    }
}
