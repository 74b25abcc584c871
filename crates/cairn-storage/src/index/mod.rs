//! A table's secondary indexes behind one trait, [`TableIndex`]: what
//! every kind does at commit (a version appended, a version ended, a
//! write undone), its background jobs, its integrity checks and its
//! statistics. Each kind lives in its own file and implements the trait:
//! [`btree`] (ordered keys → row ids) and [`hnsw`] (HNSW graphs of a
//! vector column). A table holds them as [`IndexSlot`]s in [`Indexes`].
//!
//! Search stays kind-specific and is reached without a downcast or a
//! virtual call: [`IndexSlot::as_btree`] (range walks in `scan.rs`,
//! unique checks), [`IndexSlot::as_hnsw`] (`Transaction::vector_search`).
//!
//! An index sees its table only through [`TableView`] (implemented by
//! `TableInner`), so no file here imports `table.rs`. Nothing here takes
//! a lock: the table's lock covers its indexes; a job's phases run under
//! the read lock, no lock, and the write lock (`Table::run_index_job`).
//!
//! Not routed through the trait yet: persistence. A table file keeps one
//! section per kind (all ordered indexes in INDEXES, all graphs in GRAPHS
//! and its arrays), written and read by `checkpoint.rs`; see
//! `missions/seams.md`.
//!
//! To add a kind: a file here implementing [`TableIndex`] (and
//! [`JobWork`] if it has background work), a variant of [`IndexSlot`]
//! with its arms in `index`/`index_mut` and an accessor, and a variant of
//! [`IndexStats`]. Commit, jobs and checks reach it through the trait.

pub(crate) mod btree;
pub(crate) mod hnsw;

use std::borrow::Cow;

use cairn_core::Value;

pub(crate) use btree::BTreeIndex;
pub(crate) use hnsw::HnswIndex;

use crate::vector::VectorIndexStats;
use crate::{RowId, Ts};

/// Most problems one check reports.
pub(crate) const PROBLEMS_MAX: usize = 100;

/// One stored version as an index sees it.
pub(crate) struct VersionRef<'a> {
    pub(crate) row: RowId,
    pub(crate) begin: Ts,
    pub(crate) end: Ts,
    /// No later version or delete ended it.
    pub(crate) open: bool,
    /// The full row (with the defaults of columns added after it).
    pub(crate) values: Cow<'a, [Value]>,
}

/// What an index may read of its table (under the table's lock). Rows
/// are always full rows of the current schema.
pub(crate) trait TableView {
    /// Every stored version, oldest segment first, until `f` returns false.
    fn each_version(&self, f: &mut dyn FnMut(VersionRef<'_>) -> bool);
    /// Every row visible at `ts`, until `f` returns false.
    fn each_visible(&self, ts: Ts, f: &mut dyn FnMut(RowId, &[Value]) -> bool);
    /// The row `row` as a snapshot at `ts` sees it.
    fn visible_row(&self, row: RowId, ts: Ts) -> Option<Cow<'_, [Value]>>;
    /// The versions of `row`, newest (its head) first, until `f` returns
    /// false.
    fn chain(&self, row: RowId, f: &mut dyn FnMut(VersionRef<'_>) -> bool);
}

/// Size of an index, for the planner and the system views.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IndexStats {
    /// An ordered index: distinct keys and row ids listed (stale entries
    /// included).
    Ordered { keys: usize, row_ids: usize },
    /// An HNSW index.
    Vector(VectorIndexStats),
}

/// One secondary index of a table, whatever its kind. The committer
/// calls the `on_*` methods under the commit lock and the table's write
/// lock, with full rows of the current schema.
pub(crate) trait TableIndex: Send + Sync {
    /// The index's name (unique in the database, compared ignoring case).
    fn name(&self) -> &str;

    /// A new version of `row` beginning at `ts` is being appended;
    /// `prev` is the row's previous version (ended at `ts`), if any.
    fn on_version(&mut self, row: RowId, values: &[Value], prev: Option<&[Value]>, ts: Ts);

    /// The version `old` of `row` ended at `ts`: deleted (`new` is None)
    /// or replaced by `new`.
    fn on_end(&mut self, row: RowId, old: &[Value], new: Option<&[Value]>, ts: Ts);

    /// A write of `row` at `ts` was undone after the WAL failed to hold
    /// it (entries the index made for it may now be stale).
    fn on_undo(&mut self, _row: RowId, _ts: Ts) {}

    /// Whether this index ever has background work (asking which is due
    /// needs the oldest snapshot, which takes a lock).
    fn has_jobs(&self) -> bool {
        false
    }

    /// Background work due now, given the oldest open snapshot.
    fn jobs_due(&mut self, _oldest: Ts) -> Vec<IndexJob> {
        Vec::new()
    }

    /// A job that compacts the whole index now (`Store::compact_vector_indexes`).
    fn compaction(&mut self, _oldest: Ts) -> Compaction {
        Compaction::Nothing
    }

    /// Checks the index against the rows visible at `ts`; pushes what is
    /// wrong (without the table's name).
    fn check_visible(&self, table: &dyn TableView, ts: Ts, problems: &mut Vec<String>);

    /// Checks the index's invariants against every stored version.
    fn check_stored(&self, _table: &dyn TableView, _problems: &mut Vec<String>) {}

    fn stats(&self) -> IndexStats;
}

/// Background work of one index, run in three phases by
/// `Table::run_index_job`: [`JobWork::collect`] under the table's read
/// lock, [`JobWork::build`] with no lock (readers and writers go on),
/// [`JobWork::install`] under the table's write lock. Each phase finds
/// the index again by name; a phase whose index is gone drops the job.
pub(crate) trait JobWork: Send {
    /// Reads what the build needs; false drops the job.
    fn collect(&mut self, index: &IndexSlot, table: &dyn TableView) -> bool;
    /// The expensive part (on `pool` when given).
    fn build(&mut self, pool: Option<&rayon::ThreadPool>);
    /// Puts the result in place.
    fn install(self: Box<Self>, index: &mut IndexSlot);
}

/// A job for the index named `index`.
pub(crate) struct IndexJob {
    pub(crate) index: String,
    pub(crate) work: Box<dyn JobWork>,
}

impl IndexJob {
    pub(crate) fn new(index: &str, work: impl JobWork + 'static) -> IndexJob {
        IndexJob {
            index: index.to_string(),
            work: Box::new(work),
        }
    }
}

/// What asking an index to compact now gives.
pub(crate) enum Compaction {
    /// The kind has nothing to compact.
    Nothing,
    /// A compaction is already running; ask again later.
    Busy,
    Job(IndexJob),
}

/// One index of a table, by kind. The registration point of a kind.
pub(crate) enum IndexSlot {
    BTree(BTreeIndex),
    Hnsw(HnswIndex),
}

impl IndexSlot {
    /// The index behind the trait (maintenance, jobs, checks, stats).
    pub(crate) fn index(&self) -> &dyn TableIndex {
        match self {
            IndexSlot::BTree(i) => i,
            IndexSlot::Hnsw(i) => i,
        }
    }

    pub(crate) fn index_mut(&mut self) -> &mut dyn TableIndex {
        match self {
            IndexSlot::BTree(i) => i,
            IndexSlot::Hnsw(i) => i,
        }
    }

    #[inline]
    pub(crate) fn as_btree(&self) -> Option<&BTreeIndex> {
        match self {
            IndexSlot::BTree(i) => Some(i),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn as_hnsw(&self) -> Option<&HnswIndex> {
        match self {
            IndexSlot::Hnsw(i) => Some(i),
            _ => None,
        }
    }

    pub(crate) fn as_hnsw_mut(&mut self) -> Option<&mut HnswIndex> {
        match self {
            IndexSlot::Hnsw(i) => Some(i),
            _ => None,
        }
    }

    fn named(&self, name: &str) -> bool {
        self.index().name().eq_ignore_ascii_case(name)
    }
}

/// A table's indexes in creation order (the primary key's first). Each
/// kind numbers its own indexes by their order here: `Table::indexes`
/// and the planner's `index_no` count ordered indexes, vector queries'
/// `index_no` count HNSW indexes.
#[derive(Default)]
pub(crate) struct Indexes {
    slots: Vec<IndexSlot>,
}

impl Indexes {
    pub(crate) fn push(&mut self, slot: IndexSlot) {
        self.slots.push(slot);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &IndexSlot> {
        self.slots.iter()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut IndexSlot> {
        self.slots.iter_mut()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The index named `name` (ignoring case).
    pub(crate) fn named(&self, name: &str) -> Option<&IndexSlot> {
        self.slots.iter().find(|s| s.named(name))
    }

    pub(crate) fn named_mut(&mut self, name: &str) -> Option<&mut IndexSlot> {
        self.slots.iter_mut().find(|s| s.named(name))
    }

    /// Removes the first index for which `f` is true; returns its place
    /// and the index.
    pub(crate) fn remove_where(
        &mut self,
        f: impl Fn(&IndexSlot) -> bool,
    ) -> Option<(usize, IndexSlot)> {
        let at = self.slots.iter().position(f)?;
        Some((at, self.slots.remove(at)))
    }

    /// Inserts an index at place `at` (clamped to the end).
    pub(crate) fn insert(&mut self, at: usize, slot: IndexSlot) {
        self.slots.insert(at.min(self.slots.len()), slot);
    }

    /// Ordered index number `no`.
    #[inline]
    pub(crate) fn btree(&self, no: usize) -> Option<&BTreeIndex> {
        self.btrees().nth(no)
    }

    /// The ordered indexes, in their numbering.
    pub(crate) fn btrees(&self) -> impl Iterator<Item = &BTreeIndex> {
        self.slots.iter().filter_map(IndexSlot::as_btree)
    }

    /// Replaces the ordered indexes (checkpoint load), keeping the others.
    pub(crate) fn set_btrees(&mut self, btrees: Vec<BTreeIndex>) {
        self.slots.retain(|s| s.as_btree().is_none());
        let rest = std::mem::take(&mut self.slots);
        self.slots = btrees.into_iter().map(IndexSlot::BTree).collect();
        self.slots.extend(rest);
    }

    /// HNSW index number `no`.
    pub(crate) fn hnsw(&self, no: usize) -> Option<&HnswIndex> {
        self.hnsws().nth(no)
    }

    /// The HNSW indexes, in their numbering.
    pub(crate) fn hnsws(&self) -> impl Iterator<Item = &HnswIndex> {
        self.slots.iter().filter_map(IndexSlot::as_hnsw)
    }

    /// Whether some index has background work (see [`TableIndex::has_jobs`]).
    pub(crate) fn have_jobs(&self) -> bool {
        self.slots.iter().any(|s| s.index().has_jobs())
    }

    /// Background work every index needs now.
    pub(crate) fn jobs_due(&mut self, oldest: Ts) -> Vec<IndexJob> {
        self.slots
            .iter_mut()
            .flat_map(|s| s.index_mut().jobs_due(oldest))
            .collect()
    }
}
