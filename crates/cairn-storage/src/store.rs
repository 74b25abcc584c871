//! The store: a thin facade at the top of the crate's module graph over
//! parts that own their state —
//!
//! - the shared core (`shared.rs`): the catalog (`catalog.rs`), the commit
//!   log (`log.rs`: memory or WAL), the commit clock and the open
//!   snapshots; transactions (`txn.rs`) hold it;
//! - the verifiable state (`merkle.rs`): tries, roots, history, proofs;
//! - the build pool (`jobs.rs`);
//! - on disk, the files (`durable.rs`) and the checkpointer
//!   (`checkpoint.rs`).
//!
//! The facade assembles them ([`Store::new`], [`Store::open`]), hands out
//! transactions ([`Store::begin`], [`Store::begin_at`]), runs the commit
//! pipeline (`commit.rs`) and then the checkpointer, closes cleanly
//! ([`Store::close`], also on drop: waits for background index builds and
//! checkpoints, so the next open rebuilds nothing), and does what needs a
//! transaction and the verifiable state together ([`Store::read_proven`],
//! [`Store::prove_rows`]). No module of the crate imports this one; each
//! part takes what it needs, never the store.
//!
//! A commit the log holds may be published ahead of its committer by a
//! checkpoint or a proven read, never one it does not hold.
//!
//! Lock order (`lock.rs`): commit lock → merkle lock → catalog lock →
//! table locks.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cairn_core::{Error, Result, Value};
use cairn_merkle::{CommitHead, Hash, HistoryProof, RowProof};

use crate::commit::{Committer, Logged};
use crate::durable::{Durable, OpenOptions, Recovery, Writer};
use crate::jobs::Jobs;
use crate::merkle::{
    prove_keys, proven_snapshot_ts, typed_keys, Merkle, ProvenRead, StateLockHeld,
};
use crate::progress::StopCheck;
use crate::schema::{ColumnDef, IndexDef, TableSchema, TriggerDef, ViewDef};
use crate::shared::Shared;
use crate::table::Table;
use crate::txn::Transaction;
use crate::vector::VectorIndexDef;
use crate::wal::{Record, Synchronous};
use crate::Ts;

pub struct Store {
    /// Catalog, log, commit clock, open snapshots (shared with every open
    /// transaction).
    shared: Arc<Shared>,
    /// Threads for index builds.
    jobs: Jobs,
    /// Files and WAL of an on-disk database; `None` in memory.
    durable: Option<Durable>,
    /// Tries, catalog root and history, and their fold thread.
    merkle: Merkle,
    /// A [`Store::close`] failed and its caller got the error (a drop
    /// then retries without reporting the failure again).
    close_failed: AtomicBool,
}

/// The longest a close waits for background index builds to finish
/// before it checkpoints without them (their vectors are then built again,
/// in the background, after the next open).
pub const CLOSE_JOBS_WAIT_MAX: Duration = Duration::from_secs(60);

impl Drop for Store {
    /// A clean close ([`Store::close`]) when the last handle goes away.
    /// Never panics and never loses a commit: an error is reported on
    /// stderr and the log, which holds every acknowledged commit, stays as
    /// it is (the next open replays it).
    fn drop(&mut self) {
        if !std::thread::panicking() {
            // Read before the retry below sets it again.
            let reported = self.close_failed.load(Ordering::Acquire);
            let closed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.close()));
            let error = match closed {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some("internal error (panic) while checkpointing".to_string()),
            };
            if let (Some(e), Some(dir), false) = (error, self.path(), reported) {
                eprintln!(
                    "cairn: closing {}: {e}; every acknowledged commit is still in the \
                     write-ahead log and is replayed at the next open",
                    dir.display()
                );
            }
        }
        self.merkle.stop_worker();
    }
}

impl Store {
    /// A new, empty store in memory.
    pub fn new() -> Arc<Store> {
        Store::assemble(Shared::new(), Merkle::new(true), Jobs::default(), None)
    }

    /// Opens the database in directory `path`, creating it if needed:
    /// takes its lock (waiting up to [`OpenOptions::busy_timeout`], then
    /// [`Error::Locked`]; a [`OpenOptions::read_only`] open takes none and
    /// changes no file),
    /// reads the manifest and replays the WAL. A torn record at the log's
    /// tail (a crash mid-write) is cut off; damage anywhere else is
    /// [`Error::Corrupt`] naming the file and offset, unless
    /// [`OpenOptions::salvage`].
    pub fn open(path: &Path, opts: OpenOptions) -> Result<Arc<Store>> {
        let parts = crate::durable::open(path, &opts)?;
        Ok(Store::assemble(
            parts.shared,
            parts.merkle,
            parts.jobs,
            Some(parts.durable),
        ))
    }

    /// The store over its parts, with the fold thread started.
    fn assemble(
        shared: Shared,
        merkle: Merkle,
        jobs: Jobs,
        durable: Option<Durable>,
    ) -> Arc<Store> {
        let good = durable
            .as_ref()
            .and_then(|d| d.writer.as_ref())
            .map(|w| w.wal.good_lsn_handle());
        let store = Arc::new(Store {
            shared: Arc::new(shared),
            jobs,
            durable,
            merkle,
            close_failed: AtomicBool::new(false),
        });
        store.merkle.start_worker(good);
        store
    }

    /// The commit pipeline over this store's parts.
    fn committer(&self) -> Committer<'_> {
        Committer {
            shared: &self.shared,
            merkle: &self.merkle,
            jobs: &self.jobs,
        }
    }

    /// A transaction at the snapshot `ts`, registered with the core.
    fn transaction(self: &Arc<Self>, ts: Ts) -> Transaction {
        Transaction::new(self.shared.clone(), Box::new(self.clone()), ts)
    }

    /// Starts a transaction reading the newest committed snapshot.
    pub fn begin(self: &Arc<Self>) -> Transaction {
        let ts = self.shared.snapshot();
        self.transaction(ts)
    }

    /// Starts a transaction reading the snapshot at exactly commit
    /// timestamp `ts`, registered like [`Store::begin`]'s (versions it sees
    /// are kept until it is dropped). Valid iff (1) `ts` is at most the
    /// newest published commit and (2) no version a snapshot at `ts` sees
    /// may have been collected: `ts` is at least the oldest open snapshot,
    /// or the newest published commit when none is open. Otherwise a
    /// [`Error::Transaction`] says which.
    pub fn begin_at(self: &Arc<Self>, ts: Ts) -> Result<Transaction> {
        let ts = self.shared.snapshot_at(ts)?;
        Ok(self.transaction(ts))
    }

    pub fn last_committed(&self) -> Ts {
        self.shared.last_committed()
    }

    /// Commits `tx`: fails with [`Error::Conflict`] if another transaction
    /// committed a write to a row this one wrote since its snapshot, or now
    /// holds (since that snapshot) a unique key this one writes; otherwise
    /// makes all its writes visible atomically. Then runs an automatic
    /// checkpoint if one is due (see `checkpoint.rs`).
    pub fn commit(&self, mut tx: Transaction) -> Result<Ts> {
        if tx.has_ddl() {
            self.check_writable()?;
            let (commit_ts, logged) = self.committer().commit_ddl(&mut tx)?;
            drop(tx);
            if logged == Logged::RebuildsAtReplay {
                let _ = self.checkpoint();
            } else {
                self.checkpoint_if_due();
            }
            return Ok(commit_ts);
        }
        if !tx.has_writes() {
            return Ok(tx.start_ts);
        }
        self.check_writable()?;
        let commit_ts = self.committer().commit(&tx)?;
        self.checkpoint_if_due();
        Ok(commit_ts)
    }

    /// Checks the in-memory invariants of the whole store: the commit
    /// clock (published ≤ handed out), the catalog, and every table's
    /// versions, chains and index coverage (see `table.rs`). Returns what
    /// is broken; empty when all holds. Part of `integrity_check`; the
    /// model-based tests run it after every step.
    pub fn check_invariants(&self) -> Vec<String> {
        self.shared.check_invariants()
    }

    // ---- catalog -------------------------------------------------------

    pub fn catalog_version(&self) -> u64 {
        self.shared.catalog_version()
    }

    pub fn table(&self, name: &str) -> Option<Arc<Table>> {
        self.shared.catalog.table(name)
    }

    pub fn view(&self, name: &str) -> Option<ViewDef> {
        self.shared.catalog.view(name)
    }

    pub fn table_names(&self) -> Vec<String> {
        let tables = self.shared.catalog.tables();
        tables.iter().map(|t| t.name()).collect()
    }

    pub fn view_names(&self) -> Vec<String> {
        let views = self.shared.catalog.views();
        views.into_iter().map(|v| v.name).collect()
    }

    /// Runs a DDL statement, on its own (`tx` is `None`: logged and
    /// visible at once) or inside the open transaction `tx` (visible to
    /// it now, logged when it commits, taken back if it rolls back). One
    /// whose replay would rebuild an index (a graph too large for the log)
    /// is followed by a checkpoint, so a reopen loads the graph instead; if
    /// that checkpoint fails, the statement stands (the log holds it) and
    /// only the next open is slower.
    fn run_ddl(
        &self,
        tx: Option<&mut Transaction>,
        record: Record,
        stop: Option<&StopCheck<'_>>,
    ) -> Result<()> {
        self.check_writable()?;
        match tx {
            Some(tx) => self.committer().run_ddl_in(tx, record, stop),
            None => {
                if self.committer().run_ddl(record, stop)? == Logged::RebuildsAtReplay {
                    let _ = self.checkpoint();
                }
                Ok(())
            }
        }
    }

    /// DDL statements that run inside `tx` when it is given (see
    /// [`SchemaChange`]); the methods below run each on its own.
    pub fn ddl<'a>(&'a self, tx: Option<&'a mut Transaction>) -> SchemaChange<'a> {
        SchemaChange {
            store: self,
            tx,
            stop: None,
        }
    }

    pub fn create_table(&self, schema: TableSchema) -> Result<Arc<Table>> {
        self.ddl(None).create_table(schema)
    }

    pub fn drop_table(&self, name: &str) -> Result<()> {
        self.ddl(None).drop_table(name)
    }

    pub fn create_view(&self, view: ViewDef) -> Result<()> {
        self.ddl(None).create_view(view)
    }

    pub fn drop_view(&self, name: &str) -> Result<()> {
        self.ddl(None).drop_view(name)
    }

    /// Adds a trigger to the table or view `trigger.table`.
    pub fn create_trigger(&self, trigger: TriggerDef) -> Result<()> {
        self.ddl(None).create_trigger(trigger)
    }

    pub fn drop_trigger(&self, name: &str) -> Result<()> {
        self.ddl(None).drop_trigger(name)
    }

    /// Every trigger, in name order (lower-case).
    pub fn triggers(&self) -> Vec<TriggerDef> {
        self.shared.catalog.triggers()
    }

    /// Whether any trigger exists: writes test this before they look for
    /// their table's triggers.
    pub fn has_triggers(&self) -> bool {
        self.shared.catalog.has_triggers()
    }

    pub fn create_index(&self, table: &str, def: IndexDef) -> Result<()> {
        self.ddl(None).create_index(table, def)
    }

    /// ANALYZE: takes the planner's statistics of every table (`None`) or
    /// of one, from a sample of the rows at a snapshot (see
    /// [`crate::stats`]); commits go on meanwhile. They are kept in memory
    /// and written by the next checkpoint, not logged. Returns how many
    /// tables.
    pub fn analyze(self: &Arc<Self>, target: Option<&str>) -> Result<usize> {
        let tables = match target {
            None => self.shared.catalog.tables(),
            Some(name) => vec![self
                .table(name)
                .ok_or_else(|| Error::no_such("table", name))?],
        };
        let txn = self.begin();
        for table in &tables {
            let writes_before = table.writes_so_far();
            let schema = table.schema();
            let vectors = (schema.columns.iter())
                .map(|c| c.data_type.is_vector())
                .collect();
            let mut sampler = crate::stats::Sampler::new(table.id, vectors);
            txn.table_scan(table).walk(&mut |_, row| {
                sampler.offer(row);
                Ok(true)
            })?;
            let stats = Arc::new(sampler.finish(schema.columns.len()));
            table.set_stats(Some(stats), writes_before);
        }
        // Prepared statements plan again with them.
        self.shared.catalog.bump();
        Ok(tables.len())
    }

    /// Takes the statistics of every table whose statistics are stale
    /// again ([`Table::stats_stale`]): called before statements plan, so
    /// statistics follow large changes. Tables never analyzed stay so.
    /// Returns how many tables.
    pub fn refresh_stale_stats(self: &Arc<Self>) -> Result<usize> {
        // One atomic read when nothing went stale.
        if !self
            .shared
            .catalog
            .stats_stale
            .swap(false, Ordering::AcqRel)
        {
            return Ok(0);
        }
        let mut n = 0;
        for table in self.shared.catalog.tables() {
            if table.stats_stale() {
                n += self.analyze(Some(&table.name()))?;
            }
        }
        Ok(n)
    }

    /// REINDEX: builds every index again (`None`), every index of a table
    /// (`target` names one), or the index `target` names. An ordered index
    /// is rebuilt from the rows and replaces the old one; a vector index is
    /// compacted into one graph without tombstones. Commits wait meanwhile.
    /// Nothing is logged: what an index holds follows from the rows, and
    /// recovery rebuilds or reloads it. Returns how many indexes.
    pub fn reindex(&self, target: Option<&str>) -> Result<usize> {
        self.check_writable()?;
        self.committer().reindex(target)
    }

    /// Compacts every vector index of every table now, on this thread:
    /// merges each index's graphs into one, without the tombstones no
    /// snapshot needs. (Vectors committed since the last background build
    /// stay in their pending chunk until its own build.)
    pub fn compact_vector_indexes(&self) -> Result<()> {
        let tables = self.shared.catalog.tables();
        let pool = self.jobs.pool();
        let oldest = self.shared.oldest_snapshot();
        for t in tables {
            t.compact_indexes(oldest, pool.as_deref());
        }
        Ok(())
    }

    /// Sets (or clears, with `None`) the hook told the progress of vector
    /// index builds that DDL runs ([`crate::Progress::BuildingIndex`]); an
    /// open sets it to [`crate::OpenOptions::progress`].
    pub fn set_progress(&self, hook: Option<crate::ProgressHook>) {
        self.jobs.set_progress(hook);
    }

    /// Sets how many threads build vector indexes.
    pub fn set_build_threads(&self, threads: usize) {
        self.jobs.set_threads(threads);
    }

    /// Builds an HNSW index over a vector column (in parallel) and adds it.
    /// Commits wait while it builds.
    pub fn create_vector_index(&self, table: &str, def: VectorIndexDef) -> Result<()> {
        self.ddl(None).create_vector_index(table, def)
    }

    /// A table's name as the catalog spells it (index records carry it).
    fn table_name_as_stored(&self, table: &str) -> Result<String> {
        self.table(table)
            .map(|t| t.name())
            .ok_or_else(|| Error::no_such("table", table))
    }

    /// The table that owns index `name`.
    pub fn index_table(&self, name: &str) -> Option<Arc<Table>> {
        self.shared.catalog.index_table(name)
    }

    pub fn drop_index(&self, name: &str) -> Result<()> {
        self.ddl(None).drop_index(name)
    }

    /// ALTER TABLE ADD COLUMN: existing rows read the column as
    /// `column.added_default`.
    pub fn add_column(&self, table: &str, column: ColumnDef, create_sql: String) -> Result<()> {
        self.ddl(None).add_column(table, column, create_sql)
    }

    // ---- on disk -------------------------------------------------------

    /// Writes a checkpoint now: every committed row into segment files, a
    /// manifest naming them, and deletes the WAL files they cover. Commits
    /// wait while it runs. Returns the checkpoint's commit timestamp
    /// (`None` in memory).
    pub fn checkpoint(&self) -> Result<Option<Ts>> {
        match &self.durable {
            Some(d) => self
                .writer(d)?
                .checkpointer
                .write(&self.shared, &self.merkle)
                .map(Some),
            None => Ok(None),
        }
    }

    /// Brings the files up to date so that the next open replays and
    /// rebuilds nothing: waits for the background index builds in flight
    /// (at most [`CLOSE_JOBS_WAIT_MAX`]), then writes a checkpoint if the
    /// log holds anything since the last one (unless
    /// [`OpenOptions::checkpoint_on_close`] is off). Dropping the last
    /// handle does this too, reporting an error on stderr; call it to get
    /// the error instead. The store stays usable (later commits are logged
    /// as usual). A no-op in memory.
    pub fn close(&self) -> Result<()> {
        let Some(w) = self.durable.as_ref().and_then(|d| d.writer.as_ref()) else {
            return Ok(());
        };
        if !w.checkpoint_on_close {
            return Ok(());
        }
        self.jobs.wait_idle(CLOSE_JOBS_WAIT_MAX);
        if w.checkpointer.has_work() {
            let written = w.checkpointer.write(&self.shared, &self.merkle);
            self.close_failed.store(written.is_err(), Ordering::Release);
            written?;
        }
        Ok(())
    }

    /// After a commit: runs an automatic checkpoint when one is due and
    /// none is running (this committer pays for it; its commit is done
    /// either way). Nothing in memory.
    fn checkpoint_if_due(&self) {
        if let Some(w) = self.durable.as_ref().and_then(|d| d.writer.as_ref()) {
            w.checkpointer.if_due(&self.shared, &self.merkle);
        }
    }

    /// Whether the store was opened read-only ([`OpenOptions::read_only`]):
    /// commits, DDL and checkpoints fail.
    pub fn is_read_only(&self) -> bool {
        self.durable.as_ref().is_some_and(|d| d.writer.is_none())
    }

    /// The writing side of an on-disk store, or the error a write to a
    /// read-only one gets.
    fn writer<'d>(&self, d: &'d Durable) -> Result<&'d Writer> {
        d.writer.as_ref().ok_or_else(|| Error::Unsupported {
            feature: format!(
                "writing to {}: the database was opened read-only",
                d.dir.display()
            ),
        })
    }

    /// Fails as a write to a read-only store does; `Ok` otherwise.
    fn check_writable(&self) -> Result<()> {
        match &self.durable {
            Some(d) => self.writer(d).map(|_| ()),
            None => Ok(()),
        }
    }

    /// The directory of an on-disk database (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.durable.as_ref().map(|d| d.dir.as_path())
    }

    /// What opening found (`None` in memory).
    pub fn recovery(&self) -> Option<&Recovery> {
        self.durable.as_ref().map(|d| &d.recovery)
    }

    /// The `synchronous` setting (`None` in memory).
    pub fn synchronous(&self) -> Option<Synchronous> {
        self.durable
            .as_ref()
            .and_then(|d| d.writer.as_ref())
            .map(|w| w.wal.mode())
    }

    /// Changes when commits are acknowledged (no effect in memory).
    pub fn set_synchronous(&self, mode: Synchronous) {
        if let Some(w) = self.durable.as_ref().and_then(|d| d.writer.as_ref()) {
            w.wal.set_mode(mode);
        }
    }

    /// Makes every acknowledged commit durable now, whatever `synchronous`
    /// says (a no-op in memory).
    pub fn sync(&self) -> Result<()> {
        match self.durable.as_ref().and_then(|d| d.writer.as_ref()) {
            Some(w) => w.wal.sync_now(),
            None => Ok(()),
        }
    }

    /// Verifies every checksum of the database's files and cross-checks
    /// them: the manifest, every WAL batch and record (the log must hold at
    /// least what was replayed at open), and every table's indexes against
    /// its rows. Returns the problems found (empty when all is well).
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        let mut problems = match &self.durable {
            Some(d) => d.check_files(),
            None => Vec::new(),
        };
        let ts = self.last_committed();
        let tables = self.shared.catalog.tables();
        for t in tables {
            problems.extend(t.check_indexes(ts));
        }
        problems.extend(self.merkle.check(&self.shared));
        problems.extend(self.check_invariants());
        Ok(problems)
    }

    // ---- verifiable state ----------------------------------------------

    /// The newest version (commit record) a snapshot at `ts` sees.
    pub fn head_at_ts(&self, ts: Ts) -> CommitHead {
        self.merkle.head_at_ts(&self.shared, ts)
    }

    /// The head of the newest published version: its number, commit
    /// timestamp, state root and history root.
    pub fn head(&self) -> CommitHead {
        self.head_at_ts(self.shared.last_committed())
    }

    /// The head after `version` commit records (None past the newest).
    pub fn head_at_version(&self, version: u64) -> Option<CommitHead> {
        self.merkle.head_at_version(&self.shared, version)
    }

    /// The state root a snapshot at `ts` sees.
    pub fn state_root_at(&self, ts: Ts) -> Hash {
        self.head_at_ts(ts).state_root
    }

    /// Whether this store keeps state roots (`OpenOptions::state_roots`).
    pub fn state_roots_enabled(&self) -> bool {
        self.merkle.enabled()
    }

    /// Proof that version `old` is in the history of version `new`.
    pub fn prove_history(&self, old: u64, new: u64) -> Result<HistoryProof> {
        self.merkle.prove_history(&self.shared, old, new)
    }

    /// Proof that `table` holds (or does not hold) the row with primary key
    /// `key` (every column's value, for a table without a primary key), in
    /// the newest acknowledged version, with that version's head.
    pub fn prove_row(
        self: &Arc<Self>,
        table: &str,
        key: &[Value],
    ) -> Result<(RowProof, CommitHead)> {
        let (mut proofs, head) = self.prove_rows(table, std::slice::from_ref(&key.to_vec()))?;
        let proof = proofs
            .pop()
            .ok_or_else(|| Error::internal("no proof for the one key asked"))?;
        Ok((proof, head))
    }

    /// [`Store::prove_row`] for several keys of one table, all against the
    /// same version.
    pub fn prove_rows(
        self: &Arc<Self>,
        table: &str,
        keys: &[Vec<Value>],
    ) -> Result<(Vec<RowProof>, CommitHead)> {
        self.merkle.roots_on()?;
        let t = self
            .table(table)
            .ok_or_else(|| Error::no_such("table", table))?;
        let typed_keys = typed_keys(&t.schema(), keys)?;
        // A snapshot no older than what the drain below folds in keeps
        // every row version visible there from being collected meanwhile.
        let snapshot = self.begin();
        let result = self.merkle.with(&self.shared, |m| {
            let ts = m.applied();
            // The folded commits are ones the log holds; publish any whose
            // committer has not yet, so the head returned is never ahead
            // of what `head()` and a new snapshot see (as `read_proven`).
            self.shared.publish(ts);
            prove_keys(m, &t, &typed_keys, ts)
        });
        drop(snapshot);
        result
    }

    /// Runs `read` on a snapshot at exactly the version the state tries
    /// are at, then proves the rows of `table` under the keys `read`
    /// returns (as for [`Store::prove_rows`]) against that same version,
    /// with the merkle lock held from before the snapshot is taken until
    /// the proofs are made: the rows `read` saw and their proofs come from
    /// one version by construction, however many commits land meanwhile.
    /// That version is published (commits the log holds whose committers
    /// have not returned yet are published first), so every later snapshot
    /// sees it and [`Store::head`] is at least it.
    ///
    /// `read` gets the snapshot ([`Transaction::reads_under_state_lock`]
    /// is true) and the table as the tries know it. It must only read: a
    /// commit, DDL, or a state root, head or proof asked of this store
    /// from inside it would wait for the lock it runs under (debug builds
    /// assert so).
    ///
    /// `within`: the caller's open transaction, if any. One with
    /// uncommitted writes is refused (no version holds them, so no proof
    /// can cover them); a read-only one is read at its own snapshot, which
    /// must then be the version the tries are at (no commit since it
    /// began), else a [`Error::Transaction`] says so. A schema change of
    /// `table` that lands during the read fails with [`Error::Conflict`].
    ///
    /// Cost of the lock (held for as long as `read` runs): the fold worker
    /// pauses; committers do not wait unless `WORKER_BACKLOG_MAX` (4,096)
    /// commits pile up meanwhile (then each waits, before it is published
    /// on disk); DDL and checkpoints wait, holding the commit lock, so
    /// every commit waits behind them; readers of roots, heads and proofs
    /// wait, so proven reads of one database run one at a time.
    pub fn read_proven<R>(
        self: &Arc<Self>,
        table: &str,
        within: Option<&Transaction>,
        read: impl FnOnce(&Transaction, &Arc<Table>) -> Result<(R, Vec<Vec<Value>>)>,
    ) -> Result<ProvenRead<R>> {
        self.merkle.roots_on()?;
        if within.is_some_and(Transaction::has_writes) {
            return Err(Error::Transaction {
                message: "a proof cannot cover the transaction's uncommitted writes: \
                          commit or roll back first"
                    .into(),
            });
        }
        let t = self
            .table(table)
            .ok_or_else(|| Error::no_such("table", table))?;
        let schema = t.schema();
        // A snapshot at the newest published commit, taken before the
        // fold: every commit published by then is queued, so the fold takes
        // it in (one published after may not be), and no version a
        // snapshot at or after it sees is collected while it is open.
        let floor = self.begin();
        let mut m = self.merkle.lock_folded(&self.shared);
        let conflict = || Error::Conflict {
            table: schema.name.clone(),
        };
        // A DDL statement installs its change before it reconciles the
        // tries (under this lock): between the two, the tries are not the
        // table's yet.
        if !m.holds_table(&t, &schema) {
            return Err(conflict());
        }
        let ts = proven_snapshot_ts(&m, within.map(Transaction::start_ts), floor.start_ts())?;
        let mut tx = if ts == floor.start_ts() {
            floor
        } else {
            // Commits folded in whose committers have not published them
            // yet (between the log's acknowledgement and their return):
            // the proof is at a version every later snapshot sees.
            self.shared.publish(m.applied());
            self.begin_at(ts)?
        };
        tx.under_state_lock = true;
        let (value, keys) = {
            let _held = StateLockHeld::enter();
            read(&tx, &t)?
        };
        // The pair of the check above: the table read is still the one the
        // tries hold (an ALTER TABLE changes the schema in place).
        let same = self.table(table).is_some_and(|now| Arc::ptr_eq(&now, &t))
            && t.schema().create_sql == schema.create_sql;
        if !same {
            return Err(conflict());
        }
        let typed = typed_keys(&schema, &keys)?;
        let (proofs, head) = prove_keys(&mut m, &t, &typed, ts)?;
        debug_assert!(
            head.commit_ts <= ts,
            "proofs at a version the snapshot does not see"
        );
        drop(m);
        drop(tx);
        Ok(ProvenRead {
            value,
            proofs,
            head,
        })
    }
}

impl Transaction {
    /// The store this transaction reads.
    pub fn store(&self) -> &Arc<Store> {
        // Every transaction is made by `Store::transaction`, whose owner
        // is the `Arc<Store>` that began it.
        match self.owner.downcast_ref::<Arc<Store>>() {
            Some(store) => store,
            None => unreachable!("a transaction's owner is the store that began it"),
        }
    }
}

/// DDL statements, each run on its own or inside an open transaction
/// ([`Store::ddl`]). Inside one, a statement is visible to the transaction
/// at once, logged with its rows when it commits (one WAL record: all or
/// nothing after a crash) and taken back if it rolls back or is dropped.
/// Until it ends, other transactions see its catalog changes but cannot
/// commit writes to the tables it changed, run DDL or checkpoint (they get
/// a transaction error and may retry).
pub struct SchemaChange<'a> {
    store: &'a Store,
    tx: Option<&'a mut Transaction>,
    stop: Option<&'a StopCheck<'a>>,
}

impl<'a> SchemaChange<'a> {
    /// Long work (a vector index build) asks `stop` now and then and
    /// fails with its error (an interrupt, a statement timeout).
    pub fn stop_when(mut self, stop: &'a StopCheck<'a>) -> Self {
        self.stop = Some(stop);
        self
    }

    fn run(&mut self, record: Record) -> Result<()> {
        self.store
            .run_ddl(self.tx.as_deref_mut(), record, self.stop)
    }

    pub fn create_table(&mut self, schema: TableSchema) -> Result<Arc<Table>> {
        let name = schema.name.clone();
        let id = self.store.shared.catalog.next_table_id();
        self.run(Record::CreateTable { id, schema })?;
        (self.store.table(&name))
            .ok_or_else(|| Error::internal(format!("table {name} vanished after CREATE")))
    }

    pub fn drop_table(&mut self, name: &str) -> Result<()> {
        self.run(Record::DropTable { name: name.into() })
    }

    pub fn create_view(&mut self, view: ViewDef) -> Result<()> {
        self.run(Record::CreateView(view))
    }

    pub fn drop_view(&mut self, name: &str) -> Result<()> {
        self.run(Record::DropView { name: name.into() })
    }

    /// Adds a trigger to the table or view `trigger.table`.
    pub fn create_trigger(&mut self, trigger: TriggerDef) -> Result<()> {
        self.run(Record::CreateTrigger(trigger))
    }

    pub fn drop_trigger(&mut self, name: &str) -> Result<()> {
        self.run(Record::DropTrigger { name: name.into() })
    }

    pub fn create_index(&mut self, table: &str, def: IndexDef) -> Result<()> {
        let table = self.store.table_name_as_stored(table)?;
        self.run(Record::CreateIndex { table, def })
    }

    /// Builds an HNSW index over a vector column (in parallel) and adds it.
    /// Commits wait while it builds.
    pub fn create_vector_index(&mut self, table: &str, def: VectorIndexDef) -> Result<()> {
        let table = self.store.table_name_as_stored(table)?;
        self.run(Record::CreateVectorIndex {
            table,
            def,
            built: None,
        })
    }

    pub fn drop_index(&mut self, name: &str) -> Result<()> {
        self.run(Record::DropIndex { name: name.into() })
    }

    /// ALTER TABLE ADD COLUMN: existing rows read the column as
    /// `column.added_default`.
    pub fn add_column(&mut self, table: &str, column: ColumnDef, create_sql: String) -> Result<()> {
        let table = self.store.table_name_as_stored(table)?;
        self.run(Record::AddColumn {
            table,
            column,
            create_sql,
        })
    }
}
