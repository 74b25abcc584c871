//! The commit pipeline, one path for memory and disk, over the parts it
//! needs ([`Committer`]: the shared core, the verifiable state, the build
//! pool); the store facade runs it and then the checkpointer.
//!
//! Commit: under the commit lock, validate (first committer wins), apply
//! through `apply.rs` (stamped but invisible), append to the log, queue the
//! state-trie changes; release the lock; wait for the log to acknowledge
//! the record; publish the commit timestamp. If the wait fails, the commits
//! the log does not hold are undone in memory before the next commit runs
//! ([`ready`]). DDL runs prepare → log → install (`catalog.rs`) under the
//! same lock and is not transactional (see docs/sql.md). A vector index is
//! logged with the graph its build produced (WAL record kind 10), so
//! replay installs the graph instead of building it again.
//!
//! A commit the log holds may be published ahead of its committer by a
//! checkpoint or a proven read, never one it does not hold.
//!
//! Lock order: commit lock → merkle lock → catalog lock → table locks.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use cairn_core::{ConstraintKind, Error, Result};
use cairn_vector::hnsw::GraphParts;

use crate::apply::{after_table_writes, apply_table_writes, CommitRow, RowChange, RowUndo};
use crate::catalog::PreparedDdl;
use crate::index::IndexJob;
use crate::jobs::Jobs;
use crate::merkle::{Merkle, Pending};
use crate::progress::StopCheck;
use crate::shared::{CommitState, Inflight, SchemaOwner, Shared};
use crate::table::{index_key, Table, TS_OPEN};
use crate::txn::Transaction;
use crate::wal::Record;
use crate::Ts;

/// A commit's row changes per table id, for the state tries.
type CommitChanges = Vec<(u64, Vec<RowChange>)>;

/// The parts a commit or a DDL statement goes through.
pub(crate) struct Committer<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) merkle: &'a Merkle,
    pub(crate) jobs: &'a Jobs,
}

impl Committer<'_> {
    /// Commits `tx`'s writes (the caller checked it has some): fails with
    /// [`Error::Conflict`] if another transaction committed a write to a
    /// row this one wrote since its snapshot, or now holds (since that
    /// snapshot) a unique key this one writes; otherwise makes all its
    /// writes visible atomically and returns the commit timestamp.
    pub(crate) fn commit(&self, tx: &Transaction) -> Result<Ts> {
        let shared = self.shared;
        let mut cs = shared.commit_lock.lock();
        self.ready(&mut cs)?;
        check_not_owned(&cs, tx)?;
        let last = cs.last_assigned;
        let commit_ts = last + 1;
        // If nothing committed (and no DDL ran) since this transaction's
        // snapshot, nothing can conflict with it: its statements already
        // checked every constraint against exactly this state.
        if last != tx.start_ts || shared.catalog_version() != tx.catalog_version {
            validate(tx)?;
        }
        let may_fail = shared.log.may_fail();
        let mut undo = Vec::new();
        let (changes, jobs) = self.apply_writes(tx, commit_ts, may_fail.then_some(&mut undo))?;
        cs.last_assigned = commit_ts;
        let lsn = shared
            .log
            .append(&mut |buf| crate::wal::encode_commit(buf, commit_ts, commit_rows(tx)));
        self.merkle.queue(Pending {
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
        self.jobs.spawn_index_jobs(jobs);
        if let Err(e) = shared.log.wait(lsn) {
            // Undo what the log does not hold now, if the disk lets us;
            // otherwise the next commit does.
            let mut cs = shared.commit_lock.lock();
            let _ = self.ready(&mut cs);
            return Err(e);
        }
        self.merkle.committed(shared);
        // Apply before publish: the versions were stamped under the commit
        // lock; only now may a snapshot see commit_ts (a later commit may
        // have published already: it waited for this one's record too).
        shared.publish(commit_ts);
        Ok(commit_ts)
    }

    /// Commits a transaction that ran DDL (its catalog changes are
    /// installed already): validates and stamps its rows like
    /// [`Committer::commit`], then logs its DDL records and its rows as one
    /// WAL record and waits for it under the commit lock, reconciles the
    /// state tries with the catalog, and publishes. On an error nothing of
    /// it took effect (dropping `tx` takes its DDL back). Returns the
    /// commit timestamp (the snapshot's when it wrote no rows) and what the
    /// log holds of its index builds.
    pub(crate) fn commit_ddl(&self, tx: &mut Transaction) -> Result<(Ts, Logged)> {
        let shared = self.shared;
        let mut cs = shared.commit_lock.lock();
        self.ready(&mut cs)?;
        let last = cs.last_assigned;
        validate(tx)?;
        let (ddl, logged) = self.encode_ddl(tx, last);
        let rows = tx.has_writes();
        let commit_ts = last + 1;
        let may_fail = shared.log.may_fail();
        let mut undo = Vec::new();
        let (changes, jobs) = match rows {
            true => self.apply_writes(tx, commit_ts, may_fail.then_some(&mut undo))?,
            false => Default::default(),
        };
        let commit = rows.then(|| {
            let mut buf = Vec::new();
            crate::wal::encode_commit(&mut buf, commit_ts, commit_rows(tx));
            buf
        });
        let lsn = shared
            .log
            .append(&mut |buf| crate::wal::encode_transaction(buf, &ddl, commit.as_deref()));
        if rows {
            cs.last_assigned = commit_ts;
            if may_fail {
                cs.inflight.push_back(Inflight {
                    lsn,
                    ts: commit_ts,
                    rows: undo,
                });
            }
        }
        if let Err(e) = shared.log.wait(lsn) {
            let _ = self.ready(&mut cs);
            return Err(e);
        }
        // The log holds it: from here on it stands (dropping `tx` must
        // not take its DDL back), whatever the state tries say.
        tx.ddl.clear();
        cs.schema_owner = None;
        // The catalog as of `last`, then the rows: replay runs the same.
        let reconciled = self.merkle.after_ddl(shared, last);
        if rows && reconciled.is_ok() {
            self.merkle.queue(Pending {
                lsn,
                ts: commit_ts,
                tables: changes,
            });
        }
        drop(cs);
        self.jobs.spawn_index_jobs(jobs);
        if rows {
            self.merkle.committed(shared);
            shared.publish(commit_ts);
        }
        // A state-trie failure is reported (as `run_ddl` does) though the
        // commit stands.
        reconciled?;
        Ok((if rows { commit_ts } else { tx.start_ts }, logged))
    }

    /// `tx`'s DDL records, framed for the log (see
    /// [`Committer::encode_ddl_record`]), and what the log holds of them.
    fn encode_ddl(&self, tx: &Transaction, ts: Ts) -> (Vec<Vec<u8>>, Logged) {
        let mut logged = Logged::Whole;
        let mut out = Vec::with_capacity(tx.ddl.len());
        for (record, _) in &tx.ddl {
            let mut buf = Vec::new();
            let image = |table: &str, index: &str| {
                let t = self.shared.catalog.table(table)?;
                let inner = t.inner.read();
                inner
                    .indexes
                    .named(index)?
                    .as_hnsw()?
                    .log_image(&*inner, ts)
            };
            if self.encode_ddl_record(record, image, &mut buf) == Logged::RebuildsAtReplay {
                logged = Logged::RebuildsAtReplay;
            }
            out.push(buf);
        }
        (out, logged)
    }

    /// Appends a DDL record, framed, to `buf`: a vector index with the
    /// graph its build produced (kind 10, from `image(table, index)`) when
    /// the log is replayed and the graph fits
    /// [`crate::vector::GRAPH_RECORD_BYTES_MAX`], else the record as it is.
    /// Returns what the log then holds of it.
    fn encode_ddl_record(
        &self,
        record: &Record,
        image: impl FnOnce(&str, &str) -> Option<(GraphParts, Vec<bool>)>,
        buf: &mut Vec<u8>,
    ) -> Logged {
        if let Record::CreateVectorIndex { table, def, .. } = record {
            if self.shared.log.replayed() {
                let Some((parts, live)) = image(table, &def.name) else {
                    record.encode(buf);
                    return Logged::RebuildsAtReplay;
                };
                crate::wal::encode_vector_index_built(buf, table, def, &parts, &live);
                return Logged::Whole;
            }
        }
        record.encode(buf);
        Logged::Whole
    }

    /// Runs one DDL statement inside `tx`: prepare (every check, any index
    /// build) → install, not logged; `tx` becomes the schema's owner until
    /// it ends (see [`crate::shared::SchemaOwner`]) and keeps the record
    /// for its commit and what undoing it needs for its rollback.
    pub(crate) fn run_ddl_in(
        &self,
        tx: &mut Transaction,
        record: Record,
        stop: Option<&StopCheck<'_>>,
    ) -> Result<()> {
        let shared = self.shared;
        let mut cs = shared.commit_lock.lock();
        self.ready(&mut cs)?;
        if tx.id == 0 {
            tx.id = shared.new_tx_id();
        }
        cs.check_schema_free(Some(tx.id))?;
        let mut record = record;
        new_table_id(shared, &mut record);
        let pool = self.jobs.pool();
        let prepared = shared.catalog.prepare(
            &record,
            cs.last_assigned,
            pool.as_deref(),
            self.jobs.progress().as_ref(),
            stop,
        )?;
        let (table, dropped) = touched_table(&shared.catalog, &prepared);
        let created = match &prepared {
            PreparedDdl::CreateTable { id, .. } => Some(*id),
            _ => None,
        };
        let undo = shared.catalog.install(prepared);
        if let Some(table) = &table {
            if let Err(e) = tx.schema_changed(table, dropped) {
                shared.catalog.undo(undo);
                return Err(e);
            }
        }
        let owner = cs.schema_owner.get_or_insert_with(|| SchemaOwner {
            tx: tx.id,
            tables: Vec::new(),
        });
        owner
            .tables
            .extend(table.map(|t| t.id).into_iter().chain(created));
        tx.ddl.push((record, undo));
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
    ) -> Result<(CommitChanges, Vec<(Arc<Table>, IndexJob)>)> {
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
                self.merkle.enabled(),
                undo.as_deref_mut(),
            )?;
            jobs.extend(after_table_writes(&tw.table, &mut inner, || {
                self.shared.oldest_snapshot()
            }));
            changes.push((tw.table.id, table_changes));
        }
        Ok((changes, jobs))
    }

    /// See [`ready`].
    pub(crate) fn ready(&self, cs: &mut CommitState) -> Result<()> {
        ready(self.shared, self.merkle, cs)
    }

    /// REINDEX: rebuilds every index (`None`), a table's (`target` names
    /// a table) or one index (see [`Table::reindex`]), holding the commit
    /// lock so no commit lands meanwhile. Returns how many were rebuilt.
    pub(crate) fn reindex(&self, target: Option<&str>) -> Result<usize> {
        let shared = self.shared;
        let mut cs = shared.commit_lock.lock();
        self.ready(&mut cs)?;
        cs.check_schema_free(None)?;
        let tables: Vec<(Arc<Table>, Vec<String>)> = match target {
            None => (shared.catalog.tables().into_iter())
                .map(|t| {
                    let names = t.index_names();
                    (t, names)
                })
                .collect(),
            Some(name) => match shared.catalog.table(name) {
                Some(t) => {
                    let names = t.index_names();
                    vec![(t, names)]
                }
                None => match shared.catalog.index_table(name) {
                    Some(t) => vec![(t, vec![name.to_string()])],
                    None => return Err(Error::no_such("table or index", name)),
                },
            },
        };
        let pool = self.jobs.pool();
        let oldest = shared.oldest_snapshot();
        let mut rebuilt = 0;
        for (table, names) in tables {
            for name in names {
                if table.reindex(&name, oldest, pool.as_deref())? {
                    rebuilt += 1;
                }
            }
        }
        Ok(rebuilt)
    }

    /// Runs one DDL statement: prepare (every check, any index build) →
    /// log (durable stores; waits like a commit) → install → reconcile the
    /// state tries. WAL replay runs the same prepare and install.
    pub(crate) fn run_ddl(
        &self,
        mut record: Record,
        stop: Option<&StopCheck<'_>>,
    ) -> Result<Logged> {
        let shared = self.shared;
        let mut cs = shared.commit_lock.lock();
        self.ready(&mut cs)?;
        cs.check_schema_free(None)?;
        new_table_id(shared, &mut record);
        let pool = self.jobs.pool();
        let ts = cs.last_assigned;
        let progress = self.jobs.progress();
        let prepared =
            shared
                .catalog
                .prepare(&record, ts, pool.as_deref(), progress.as_ref(), stop)?;
        let logged = self.log_ddl(&mut cs, &record, &prepared, ts)?;
        shared.catalog.install(prepared);
        self.merkle.after_ddl(shared, cs.last_assigned)?;
        Ok(logged)
    }

    /// Logs a prepared DDL record, waiting for it like a commit. A vector
    /// index goes to the log with the graph its build produced (so replay
    /// installs it rather than building it again) when it fits
    /// [`crate::vector::GRAPH_RECORD_BYTES_MAX`]. On failure nothing was
    /// installed; the log is cut back.
    fn log_ddl(
        &self,
        cs: &mut CommitState,
        record: &Record,
        prepared: &PreparedDdl,
        ts: Ts,
    ) -> Result<Logged> {
        let log = &self.shared.log;
        let mut logged = Logged::Whole;
        // The log encodes a record once; the graph's copy is made inside
        // and freed as soon as it is encoded (it can be hundreds of MB).
        let lsn = log.append(&mut |buf| {
            let image = |_: &str, _: &str| match prepared {
                PreparedDdl::CreateIndex { table, index } => {
                    index.as_hnsw()?.log_image(&*table.inner.read(), ts)
                }
                _ => None,
            };
            logged = self.encode_ddl_record(record, image, buf);
        });
        if let Err(e) = log.wait(lsn) {
            let _ = self.ready(cs);
            return Err(e);
        }
        Ok(logged)
    }
}

/// Gives a CREATE TABLE record the next table id, under the commit lock
/// (two statements racing for one id would otherwise both take it).
fn new_table_id(shared: &Shared, record: &mut Record) {
    if let Record::CreateTable { id, .. } = record {
        *id = shared.catalog.next_table_id();
    }
}

/// `tx`'s row writes as the log holds them: per table (id), in first-write
/// order, without rows it inserted and deleted again.
fn commit_rows(
    tx: &Transaction,
) -> impl Iterator<Item = (u64, Vec<(crate::RowId, Option<&[cairn_core::Value]>)>)> {
    tx.writes.values().map(|tw| {
        let rows = (tw.order.iter())
            .filter_map(|rid| tw.rows.get(rid).map(|w| (*rid, w)))
            .filter(|(_, w)| w.existed || w.row.is_some())
            .map(|(rid, w)| (rid, w.row.as_deref()))
            .collect();
        (tw.table.id, rows)
    })
}

/// Fails if another transaction holds uncommitted DDL on a table `tx`
/// wrote (see [`SchemaOwner`]).
fn check_not_owned(cs: &CommitState, tx: &Transaction) -> Result<()> {
    let Some(owner) = &cs.schema_owner else {
        return Ok(());
    };
    if owner.tx == tx.id {
        return Ok(());
    }
    match (tx.writes.values()).find(|tw| !tw.rows.is_empty() && owner.tables.contains(&tw.table.id)) {
        Some(tw) => Err(Error::Transaction {
            message: format!(
                "table {} has uncommitted schema changes in another transaction; retry once it ends",
                tw.table.name()
            ),
        }),
        None => Ok(()),
    }
}

/// The existing table a prepared record changes, and whether it drops it
/// (CREATE TABLE, views and triggers on a view change none).
fn touched_table(
    catalog: &crate::catalog::Catalog,
    ddl: &PreparedDdl,
) -> (Option<Arc<Table>>, bool) {
    match ddl {
        PreparedDdl::CreateTable { .. } => (None, false),
        PreparedDdl::DropTable { name } => (catalog.table(name), true),
        PreparedDdl::CreateIndex { table, .. }
        | PreparedDdl::DropIndex { table, .. }
        | PreparedDdl::AddColumn { table, .. } => (Some(table.clone()), false),
        PreparedDdl::CreateTrigger(t) => (catalog.table(&t.table), false),
        PreparedDdl::DropTrigger { name } => {
            let on = (catalog.triggers().into_iter()).find(|t| t.name.eq_ignore_ascii_case(name));
            (on.and_then(|t| catalog.table(&t.table)), false)
        }
        PreparedDdl::CreateView(_) | PreparedDdl::DropView { .. } => (None, false),
    }
}

/// What the log holds of a DDL statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Logged {
    /// All that replay needs to redo it without rebuilding anything.
    Whole,
    /// An index build replay has to redo (a graph too large to log).
    RebuildsAtReplay,
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
                        if h.begin <= tx.start_ts && h.end.load(Ordering::Acquire) == TS_OPEN => {}
                    _ => return Err(conflict()),
                }
            }
            let Some(row) = &w.row else { continue };
            for (index_no, index) in inner.indexes.btrees().enumerate() {
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

/// Under the commit lock (`cs`), before changing anything: forgets
/// in-flight commits the log now holds, and after a WAL failure undoes in
/// memory every commit the log does not hold (and drops their queued
/// state-trie changes) and cuts the log back (failing while the disk
/// still does). Checkpoints run it too, before they read the state.
pub(crate) fn ready(shared: &Shared, merkle: &Merkle, cs: &mut CommitState) -> Result<()> {
    debug_assert!(shared.commit_lock.is_locked());
    let (good, failed) = shared.log.good_lsn();
    if !failed {
        while cs.inflight.front().is_some_and(|f| f.lsn <= good) {
            cs.inflight.pop_front();
        }
        return Ok(());
    }
    merkle.unqueue_after(good);
    while cs.inflight.back().is_some_and(|f| f.lsn > good) {
        if let Some(f) = cs.inflight.pop_back() {
            for (table, row, existed, wrote) in f.rows.iter().rev() {
                table.inner.write().undo_write(*row, f.ts, *existed, *wrote);
            }
        }
    }
    shared.log.reset()?;
    cs.inflight.clear();
    // The undone commits' timestamps are skipped: nothing holds them.
    shared.publish(cs.last_assigned);
    Ok(())
}
