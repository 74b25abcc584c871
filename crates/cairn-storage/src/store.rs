//! The store: a thin facade over its parts — the catalog (`catalog.rs`),
//! the commit log (`log.rs`: memory or WAL), the tables, the verifiable
//! state (`merkle.rs`) and the files of an on-disk database
//! (`durable.rs`, `checkpoint.rs`) — plus the commit clock and the commit
//! pipeline itself.
//!
//! Commit pipeline, one path for memory and disk: under the commit lock,
//! validate (first committer wins), apply through `apply.rs` (stamped but
//! invisible), append to the log, queue the state-trie changes; release the
//! lock; wait for the log to acknowledge the record; publish the commit
//! timestamp. If the wait fails, the commits the log does not hold are
//! undone in memory before the next commit runs (`ready`). DDL runs
//! prepare → log → install (`catalog.rs`) under the same lock and is not
//! transactional (see docs/sql.md).
//!
//! Snapshots are taken at the newest published commit ([`Store::begin`]) or
//! at a given one that is still kept ([`Store::begin_at`]); each open one is
//! counted in `active`, and no version it sees is collected until it
//! closes. A commit the log holds may be published ahead of its committer
//! by a checkpoint or a proven read, never one it does not hold.
//!
//! Lock order: commit lock → merkle lock → catalog lock → table locks.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn_core::{ConstraintKind, Error, Result};
use parking_lot::Mutex;

use crate::apply::{after_table_writes, apply_table_writes, CommitRow, RowChange, RowUndo};
use crate::catalog::Catalog;
use crate::lock::{Rank, Ranked};
use crate::log::{CommitLog, MemoryLog};
use crate::schema::{ColumnDef, IndexDef, TableSchema, ViewDef};
use crate::table::{index_key, Table, TS_OPEN};
use crate::txn::Transaction;
use crate::vector::{VectorIndexDef, VectorJob};
use crate::wal::Record;
use crate::Ts;

/// A commit applied in memory whose WAL record is not known good yet.
pub(crate) struct Inflight {
    lsn: u64,
    ts: Ts,
    /// What undoing each row write takes, in apply order.
    rows: Vec<RowUndo>,
}

/// What the commit lock guards.
pub(crate) struct CommitState {
    /// The newest commit timestamp handed out (≥ the published one).
    pub(crate) last_assigned: Ts,
    inflight: VecDeque<Inflight>,
}

/// A commit's row changes per table id, for the state tries.
type CommitChanges = Vec<(u64, Vec<RowChange>)>;

pub struct Store {
    /// Tables and views (see `catalog.rs`).
    pub(crate) catalog: Catalog,
    pub(crate) commit_lock: Ranked<Mutex<CommitState>>,
    /// The newest published commit: snapshots are taken here.
    pub(crate) last_committed: AtomicU64,
    /// Snapshot timestamps of open transactions (with multiplicity).
    /// (snapshot, count) in ascending snapshot order; short (open
    /// transactions mostly share the newest snapshot) and allocation-free
    /// once warm.
    active: Mutex<Vec<(Ts, usize)>>,
    /// Threads for index builds (created on first use; never the global
    /// rayon pool).
    pool: Mutex<Option<Arc<rayon::ThreadPool>>>,
    /// Where commits and DDL records go before they are published: a
    /// [`MemoryLog`] in memory, the WAL (shared with `durable`) on disk.
    pub(crate) log: Arc<dyn CommitLog>,
    /// Files and WAL of an on-disk database; `None` in memory.
    pub(crate) durable: Option<crate::durable::Durable>,
    /// Whether state roots are kept (see `OpenOptions::state_roots`).
    pub(crate) state_roots: bool,
    /// Tries, catalog root and history (see `merkle.rs`).
    pub(crate) merkle: Arc<Ranked<Mutex<crate::merkle::MerkleState>>>,
    /// Commits waiting to be folded into `merkle`, in timestamp order.
    pub(crate) merkle_pending: Arc<Mutex<VecDeque<crate::merkle::Pending>>>,
    /// The thread that folds them in.
    pub(crate) merkle_worker: Arc<crate::merkle::Worker>,
}

impl Drop for Store {
    fn drop(&mut self) {
        self.merkle_worker.stop();
    }
}

/// Counts one more open snapshot at `ts` in `active` (kept in ascending
/// snapshot order, one entry per timestamp).
fn register_snapshot(active: &mut Vec<(Ts, usize)>, ts: Ts) {
    match active.iter_mut().rev().find(|e| e.0 == ts) {
        Some(e) => e.1 += 1,
        None => {
            let at = active.partition_point(|e| e.0 < ts);
            active.insert(at, (ts, 1));
        }
    }
    debug_assert!(active.windows(2).all(|w| w[0].0 < w[1].0));
}

fn build_pool(threads: usize) -> Option<Arc<rayon::ThreadPool>> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("cairn-build-{i}"))
        .build()
        .ok()
        .map(Arc::new)
}

impl Store {
    /// A new, empty store in memory.
    pub fn new() -> Arc<Store> {
        let store = Arc::new(Store::empty());
        store.start_merkle_worker();
        store
    }

    pub(crate) fn empty() -> Store {
        Store {
            catalog: Catalog::new(),
            commit_lock: Ranked::mutex(
                Rank::Commit,
                CommitState {
                    last_assigned: 0,
                    inflight: VecDeque::new(),
                },
            ),
            last_committed: AtomicU64::new(0),
            active: Mutex::new(Vec::new()),
            pool: Mutex::new(None),
            log: Arc::new(MemoryLog::default()),
            durable: None,
            state_roots: true,
            merkle: Arc::new(Ranked::mutex(
                Rank::Merkle,
                crate::merkle::MerkleState::genesis(),
            )),
            merkle_pending: Arc::new(Mutex::new(VecDeque::new())),
            merkle_worker: Arc::default(),
        }
    }

    /// Starts a transaction reading the newest committed snapshot.
    pub fn begin(self: &Arc<Self>) -> Transaction {
        let mut active = self.active.lock();
        let ts = self.last_committed.load(Ordering::Acquire);
        register_snapshot(&mut active, ts);
        drop(active);
        Transaction::new(self.clone(), ts)
    }

    /// Starts a transaction reading the snapshot at exactly commit
    /// timestamp `ts`, registered like [`Store::begin`]'s (versions it sees
    /// are kept until it is dropped). Valid iff (1) `ts` is at most the
    /// newest published commit and (2) no version a snapshot at `ts` sees
    /// may have been collected: `ts` is at least the oldest open snapshot,
    /// or the newest published commit when none is open. Otherwise a
    /// [`Error::Transaction`] says which.
    pub fn begin_at(self: &Arc<Self>, ts: Ts) -> Result<Transaction> {
        let mut active = self.active.lock();
        let published = self.last_committed.load(Ordering::Acquire);
        let oldest = active.first().map_or(published, |e| e.0).min(published);
        if ts > published {
            return Err(Error::Transaction {
                message: format!(
                    "no snapshot at commit {ts}: the newest published commit is {published}"
                ),
            });
        }
        if ts < oldest {
            return Err(Error::Transaction {
                message: format!(
                    "no snapshot at commit {ts}: versions older than commit {oldest} may be gone"
                ),
            });
        }
        register_snapshot(&mut active, ts);
        drop(active);
        Ok(Transaction::new(self.clone(), ts))
    }

    /// Publishes every commit up to `ts` ahead of its committer, which
    /// would publish it next: the caller knows each is applied in memory
    /// and held by the log (the verifiable state folded it in, which takes
    /// both), so no snapshot can see a commit that is later undone or that
    /// reports a failure. [`Store::read_proven`] does this so the version
    /// it proves is one every later snapshot sees.
    pub(crate) fn publish_folded(&self, ts: Ts) {
        self.last_committed.fetch_max(ts, Ordering::AcqRel);
    }

    pub(crate) fn release_snapshot(&self, ts: Ts) {
        let mut active = self.active.lock();
        if let Some(i) = active.iter().rposition(|e| e.0 == ts) {
            active[i].1 -= 1;
            if active[i].1 == 0 {
                active.remove(i);
            }
        }
    }

    /// The oldest snapshot any open or future transaction may read.
    pub(crate) fn oldest_snapshot(&self) -> Ts {
        let active = self.active.lock();
        let newest = self.last_committed.load(Ordering::Acquire);
        active.first().map_or(newest, |e| e.0).min(newest)
    }

    pub fn last_committed(&self) -> Ts {
        self.last_committed.load(Ordering::Acquire)
    }

    /// Commits `tx`: fails with [`Error::Conflict`] if another transaction
    /// committed a write to a row this one wrote since its snapshot, or now
    /// holds (since that snapshot) a unique key this one writes; otherwise
    /// makes all its writes visible atomically.
    pub fn commit(&self, tx: Transaction) -> Result<Ts> {
        if !tx.has_writes() {
            return Ok(tx.start_ts);
        }
        let mut cs = self.commit_lock.lock();
        self.ready(&mut cs)?;
        let last = cs.last_assigned;
        let commit_ts = last + 1;
        // If nothing committed (and no DDL ran) since this transaction's
        // snapshot, nothing can conflict with it: its statements already
        // checked every constraint against exactly this state.
        if last != tx.start_ts || self.catalog_version() != tx.catalog_version {
            Self::validate(&tx)?;
        }
        let may_fail = self.log.may_fail();
        let mut undo = Vec::new();
        let (changes, jobs) = self.apply_writes(&tx, commit_ts, may_fail.then_some(&mut undo))?;
        cs.last_assigned = commit_ts;
        let lsn = self.log.append(&mut |buf| {
            crate::wal::encode_commit(
                buf,
                commit_ts,
                tx.writes.values().map(|tw| {
                    let rows = tw
                        .order
                        .iter()
                        .filter_map(|rid| tw.rows.get(rid).map(|w| (*rid, w)))
                        .filter(|(_, w)| w.existed || w.row.is_some())
                        .map(|(rid, w)| (rid, w.row.as_deref()))
                        .collect();
                    (tw.table.id, rows)
                }),
            )
        });
        self.queue_merkle(crate::merkle::Pending {
            lsn,
            ts: commit_ts,
            tables: changes,
        });
        if may_fail {
            cs.inflight.push_back(Inflight {
                lsn,
                ts: commit_ts,
                rows: undo,
            });
        }
        drop(cs);
        self.spawn_vector_jobs(jobs);
        if let Err(e) = self.log.wait(lsn) {
            // Undo what the log does not hold now, if the disk lets us;
            // otherwise the next commit does.
            let mut cs = self.commit_lock.lock();
            let _ = self.ready(&mut cs);
            return Err(e);
        }
        self.merkle_committed();
        // Apply before publish: the versions were stamped under the commit
        // lock; only now may a snapshot see commit_ts (a later commit may
        // have published already: it waited for this one's record too).
        self.last_committed.fetch_max(commit_ts, Ordering::AcqRel);
        self.checkpoint_if_due();
        Ok(commit_ts)
    }

    /// First committer wins: every row `tx` changed that its snapshot saw
    /// must still be current, and no other row may now hold a unique key
    /// `tx` writes (a conflict if it was committed after the snapshot,
    /// a constraint error if the snapshot already had it).
    fn validate(tx: &Transaction) -> Result<()> {
        for tw in tx.writes.values() {
            let inner = tw.table.inner.read();
            let conflict = || Error::Conflict {
                table: inner.schema.name.clone(),
            };
            for (rid, w) in &tw.rows {
                if w.existed {
                    match inner.head(*rid) {
                        Some(h)
                            if h.begin <= tx.start_ts
                                && h.end.load(Ordering::Acquire) == TS_OPEN => {}
                        _ => return Err(conflict()),
                    }
                }
                let Some(row) = &w.row else { continue };
                for (index_no, index) in inner.indexes.iter().enumerate() {
                    if !index.def.unique {
                        continue;
                    }
                    let k = index_key(&index.def, &inner.full_row(row));
                    if k.iter().any(|v| v.is_null()) {
                        continue;
                    }
                    for other in inner.index_lookup(index_no, &k) {
                        if *other == *rid || tw.rows.contains_key(other) {
                            continue;
                        }
                        if let Some(h) = inner.head(*other) {
                            if h.end.load(Ordering::Acquire) == TS_OPEN
                                && index_key(&index.def, &inner.full_row(&h.values)) == k
                            {
                                if h.begin > tx.start_ts {
                                    return Err(conflict());
                                }
                                return Err(Error::Constraint {
                                    kind: ConstraintKind::Unique,
                                    detail: format!("{} ({})", inner.schema.name, index.def.name),
                                });
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Stamps `tx`'s writes at `commit_ts` through the one apply path
    /// (not visible until published). Returns the row changes for the
    /// state tries and the vector jobs now due; fills `undo` (durable
    /// stores) with what taking them back needs.
    fn apply_writes(
        &self,
        tx: &Transaction,
        commit_ts: Ts,
        mut undo: Option<&mut Vec<RowUndo>>,
    ) -> Result<(CommitChanges, Vec<(Arc<Table>, VectorJob)>)> {
        let mut jobs = Vec::new();
        let mut changes = Vec::with_capacity(tx.writes.len());
        for tw in tx.writes.values() {
            // Rows inserted and deleted again by this transaction are
            // skipped: nothing to apply, log or hash.
            let writes = tw
                .order
                .iter()
                .filter_map(|rid| tw.rows.get(rid).map(|w| (*rid, w)))
                .filter(|(_, w)| w.existed || w.row.is_some())
                .map(|(row, w)| CommitRow {
                    row,
                    new: w.row.as_ref(),
                    existed: Some(w.existed),
                });
            let mut inner = tw.table.inner.write();
            let table_changes = apply_table_writes(
                &tw.table,
                &mut inner,
                commit_ts,
                writes,
                self.state_roots,
                undo.as_deref_mut(),
            )?;
            jobs.extend(after_table_writes(&tw.table, &mut inner, || {
                self.oldest_snapshot()
            }));
            changes.push((tw.table.id, table_changes));
        }
        Ok((changes, jobs))
    }

    /// Under the commit lock, before changing anything: forgets in-flight
    /// commits the log now holds, and after a WAL failure undoes in memory
    /// every commit the log does not hold and cuts the log back (failing
    /// while the disk still does).
    pub(crate) fn ready(&self, cs: &mut CommitState) -> Result<()> {
        debug_assert!(self.commit_lock.is_locked());
        let (good, failed) = self.log.good_lsn();
        if !failed {
            while cs.inflight.front().is_some_and(|f| f.lsn <= good) {
                cs.inflight.pop_front();
            }
            return Ok(());
        }
        self.unqueue_merkle_after(good);
        while cs.inflight.back().is_some_and(|f| f.lsn > good) {
            if let Some(f) = cs.inflight.pop_back() {
                for (table, row, existed, wrote) in f.rows.iter().rev() {
                    table.inner.write().undo_write(*row, f.ts, *existed, *wrote);
                }
            }
        }
        self.log.reset()?;
        cs.inflight.clear();
        // The undone commits' timestamps are skipped: nothing holds them.
        self.last_committed
            .fetch_max(cs.last_assigned, Ordering::AcqRel);
        Ok(())
    }

    /// Logs a prepared DDL record, waiting for it like a commit. On
    /// failure nothing was installed; the log is cut back.
    fn log_ddl(&self, cs: &mut CommitState, record: &Record) -> Result<()> {
        let lsn = self.log.append(&mut |buf| record.encode(buf));
        if let Err(e) = self.log.wait(lsn) {
            let _ = self.ready(cs);
            return Err(e);
        }
        Ok(())
    }

    /// Checks the in-memory invariants of the whole store: the commit
    /// clock (published ≤ handed out), the catalog, and every table's
    /// versions, chains and index coverage (see `table.rs`). Returns what
    /// is broken; empty when all holds. Part of `integrity_check`; the
    /// model-based tests run it after every step.
    pub fn check_invariants(&self) -> Vec<String> {
        let last_assigned = self.commit_lock.lock().last_assigned;
        let mut problems = Vec::new();
        let published = self.last_committed();
        if published > last_assigned {
            problems.push(format!(
                "published commit {published} is past the newest handed out ({last_assigned})"
            ));
        }
        problems.extend(self.catalog.check_invariants());
        for t in self.catalog.tables() {
            problems.extend(t.check_invariants(last_assigned));
        }
        problems
    }

    // ---- catalog -------------------------------------------------------

    pub fn catalog_version(&self) -> u64 {
        self.catalog.version()
    }

    pub fn table(&self, name: &str) -> Option<Arc<Table>> {
        self.catalog.table(name)
    }

    pub fn view(&self, name: &str) -> Option<ViewDef> {
        self.catalog.view(name)
    }

    pub fn table_names(&self) -> Vec<String> {
        self.catalog.tables().iter().map(|t| t.name()).collect()
    }

    pub fn view_names(&self) -> Vec<String> {
        self.catalog.views().into_iter().map(|v| v.name).collect()
    }

    /// Runs one DDL statement: prepare (every check, any index build) →
    /// log (durable stores; waits like a commit) → install → reconcile the
    /// state tries. WAL replay runs the same prepare and install.
    fn run_ddl(&self, record: Record) -> Result<()> {
        let mut cs = self.commit_lock.lock();
        self.ready(&mut cs)?;
        let pool = self.pool();
        let prepared = self.catalog.prepare(&record, pool.as_deref())?;
        self.log_ddl(&mut cs, &record)?;
        self.catalog.install(prepared);
        self.merkle_after_ddl(cs.last_assigned)
    }

    pub fn create_table(&self, schema: TableSchema) -> Result<Arc<Table>> {
        let name = schema.name.clone();
        let id = self.catalog.next_table_id();
        self.run_ddl(Record::CreateTable { id, schema })?;
        self.table(&name)
            .ok_or_else(|| Error::internal(format!("table {name} vanished after CREATE")))
    }

    pub fn drop_table(&self, name: &str) -> Result<()> {
        self.run_ddl(Record::DropTable { name: name.into() })
    }

    pub fn create_view(&self, view: ViewDef) -> Result<()> {
        self.run_ddl(Record::CreateView(view))
    }

    pub fn drop_view(&self, name: &str) -> Result<()> {
        self.run_ddl(Record::DropView { name: name.into() })
    }

    pub fn create_index(&self, table: &str, def: IndexDef) -> Result<()> {
        let table = self.table_name_as_stored(table)?;
        self.run_ddl(Record::CreateIndex { table, def })
    }

    /// The database's thread pool for index builds (one thread per core
    /// unless [`Store::set_build_threads`] said otherwise); `None` if no
    /// thread could be started (builds then run on the caller's thread).
    pub(crate) fn pool(&self) -> Option<Arc<rayon::ThreadPool>> {
        let mut pool = self.pool.lock();
        if pool.is_none() {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            *pool = build_pool(threads);
        }
        pool.clone()
    }

    /// Runs a vector index job on the build pool (or on this thread when
    /// there is none). Queries never wait for it.
    pub(crate) fn spawn_vector_jobs(&self, jobs: Vec<(Arc<Table>, crate::vector::VectorJob)>) {
        for (table, job) in jobs {
            self.spawn_vector_job(table, job);
        }
    }

    fn spawn_vector_job(&self, table: Arc<Table>, job: crate::vector::VectorJob) {
        match self.pool() {
            Some(p) => {
                let pool = p.clone();
                p.spawn(move || table.run_vector_job(job, Some(&pool)));
            }
            None => table.run_vector_job(job, None),
        }
    }

    /// Compacts every vector index of every table now, on this thread:
    /// merges each index's graphs into one, without the tombstones no
    /// snapshot needs. (Vectors committed since the last background build
    /// stay in their pending chunk until its own build.)
    pub fn compact_vector_indexes(&self) -> Result<()> {
        let tables = self.catalog.tables();
        let pool = self.pool();
        let oldest = self.oldest_snapshot();
        for t in tables {
            t.compact_vector_indexes(oldest, pool.as_deref());
        }
        Ok(())
    }

    /// Sets how many threads build vector indexes.
    pub fn set_build_threads(&self, threads: usize) {
        *self.pool.lock() = build_pool(threads.max(1));
    }

    /// Builds an HNSW index over a vector column (in parallel) and adds it.
    /// Commits wait while it builds.
    pub fn create_vector_index(&self, table: &str, def: VectorIndexDef) -> Result<()> {
        let table = self.table_name_as_stored(table)?;
        self.run_ddl(Record::CreateVectorIndex { table, def })
    }

    /// A table's name as the catalog spells it (index records carry it).
    fn table_name_as_stored(&self, table: &str) -> Result<String> {
        self.table(table)
            .map(|t| t.name())
            .ok_or_else(|| Error::no_such("table", table))
    }

    /// The table that owns index `name`.
    pub fn index_table(&self, name: &str) -> Option<Arc<Table>> {
        self.catalog.index_table(name)
    }

    pub fn drop_index(&self, name: &str) -> Result<()> {
        self.run_ddl(Record::DropIndex { name: name.into() })
    }

    /// ALTER TABLE ADD COLUMN: existing rows read the column as
    /// `column.added_default`.
    pub fn add_column(&self, table: &str, column: ColumnDef, create_sql: String) -> Result<()> {
        let table = self.table_name_as_stored(table)?;
        self.run_ddl(Record::AddColumn {
            table,
            column,
            create_sql,
        })
    }
}
