//! The shared core of a store ([`Shared`]): what every other part reads —
//! the catalog (`catalog.rs`), the commit log (`log.rs`), the commit clock
//! (the commit lock with the newest timestamp handed out and the commits
//! in flight, and the newest published commit) and the registry of open
//! snapshots.
//!
//! A [`crate::Transaction`] holds an `Arc` of it (to release its snapshot
//! and read the catalog version); the commit pipeline (`commit.rs`), the
//! verifiable state (`merkle.rs`), the checkpointer (`checkpoint.rs`) and
//! WAL replay (`durable.rs`) take it by reference. It knows none of them.
//!
//! Snapshots are taken at the newest published commit
//! ([`Shared::snapshot`]) or at a given one that is still kept
//! ([`Shared::snapshot_at`]); each open one is counted, and no version it
//! sees is collected until it is released.
//!
//! Lock order: the commit lock is the first of the ranked locks
//! (`lock.rs`); the list of open snapshots is a leaf.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn_core::{Error, Result};
use parking_lot::Mutex;

use crate::apply::RowUndo;
use crate::catalog::Catalog;
use crate::lock::{Rank, Ranked};
use crate::log::{CommitLog, MemoryLog};
use crate::Ts;

/// A commit applied in memory whose WAL record is not known good yet.
pub(crate) struct Inflight {
    pub(crate) lsn: u64,
    pub(crate) ts: Ts,
    /// What undoing each row write takes, in apply order.
    pub(crate) rows: Vec<RowUndo>,
}

/// What the commit lock guards.
pub(crate) struct CommitState {
    /// The newest commit timestamp handed out (≥ the published one).
    pub(crate) last_assigned: Ts,
    /// Commits the log may still lose, oldest first (see `commit.rs`).
    pub(crate) inflight: VecDeque<Inflight>,
    /// The transaction whose DDL is installed but not committed, if any
    /// (see [`SchemaOwner`]).
    pub(crate) schema_owner: Option<SchemaOwner>,
}

/// A transaction that ran DDL and has not ended. Its catalog changes are
/// installed (its own statements plan with them) but not logged; until it
/// commits or rolls back, no other DDL runs, no checkpoint is written, and
/// no other transaction commits a write to a table it created, dropped or
/// altered (including adding or dropping an index or a trigger), so
/// undoing its changes never loses another transaction's work.
pub(crate) struct SchemaOwner {
    /// [`crate::Transaction`]'s id.
    pub(crate) tx: u64,
    /// Ids of the tables its DDL touched.
    pub(crate) tables: Vec<u64>,
}

impl CommitState {
    /// Fails unless the catalog may change for transaction `tx` (`None`:
    /// a DDL statement of its own, outside any transaction): no other
    /// transaction holds uncommitted DDL.
    pub(crate) fn check_schema_free(&self, tx: Option<u64>) -> Result<()> {
        match &self.schema_owner {
            Some(o) if Some(o.tx) != tx => Err(Error::Transaction {
                message: "another transaction has uncommitted schema changes; \
                          retry once it commits or rolls back"
                    .into(),
            }),
            _ => Ok(()),
        }
    }
}

pub(crate) struct Shared {
    /// Tables and views (see `catalog.rs`).
    pub(crate) catalog: Catalog,
    /// Commits and DDL, one at a time.
    pub(crate) commit_lock: Ranked<Mutex<CommitState>>,
    /// The newest published commit: snapshots are taken here.
    last_committed: AtomicU64,
    /// Snapshot timestamps of open transactions (with multiplicity).
    /// (snapshot, count) in ascending snapshot order; short (open
    /// transactions mostly share the newest snapshot) and allocation-free
    /// once warm.
    active: Mutex<Vec<(Ts, usize)>>,
    /// Where commits and DDL records go before they are published: a
    /// [`MemoryLog`] in memory, the WAL (shared with `durable.rs`) on disk
    /// (set once replay is done, before the core is shared).
    pub(crate) log: Arc<dyn CommitLog>,
    /// Hands out transaction ids (to those that run DDL).
    next_tx_id: AtomicU64,
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

impl Shared {
    /// The core of an empty store, with an in-memory log.
    pub(crate) fn new() -> Shared {
        Shared {
            catalog: Catalog::new(),
            commit_lock: Ranked::mutex(
                Rank::Commit,
                CommitState {
                    last_assigned: 0,
                    inflight: VecDeque::new(),
                    schema_owner: None,
                },
            ),
            last_committed: AtomicU64::new(0),
            active: Mutex::new(Vec::new()),
            log: Arc::new(MemoryLog::default()),
            next_tx_id: AtomicU64::new(1),
        }
    }

    /// Registers a snapshot at the newest published commit; returns its
    /// timestamp.
    pub(crate) fn snapshot(&self) -> Ts {
        let mut active = self.active.lock();
        let ts = self.last_committed.load(Ordering::Acquire);
        register_snapshot(&mut active, ts);
        ts
    }

    /// Registers a snapshot at exactly commit timestamp `ts`. Valid iff
    /// (1) `ts` is at most the newest published commit and (2) no version
    /// a snapshot at `ts` sees may have been collected: `ts` is at least
    /// the oldest open snapshot, or the newest published commit when none
    /// is open. Otherwise a [`Error::Transaction`] says which.
    pub(crate) fn snapshot_at(&self, ts: Ts) -> Result<Ts> {
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
        Ok(ts)
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

    /// A new transaction id.
    pub(crate) fn new_tx_id(&self) -> u64 {
        self.next_tx_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The newest published commit.
    pub(crate) fn last_committed(&self) -> Ts {
        self.last_committed.load(Ordering::Acquire)
    }

    /// Publishes every commit up to `ts` (never moves back). Callers know
    /// each is applied in memory and held by the log: the committer after
    /// its wait, a checkpoint, a proven read (which publishes what the
    /// verifiable state folded in, ahead of its committers), or the undo
    /// after a log failure (skipping the timestamps nothing holds).
    pub(crate) fn publish(&self, ts: Ts) {
        self.last_committed.fetch_max(ts, Ordering::AcqRel);
    }

    /// Sets the newest published commit while a store is opened (loading
    /// a checkpoint, replaying the WAL): nothing reads it concurrently.
    pub(crate) fn set_published(&self, ts: Ts) {
        self.last_committed.store(ts, Ordering::Release);
    }

    pub(crate) fn catalog_version(&self) -> u64 {
        self.catalog.version()
    }

    /// Checks the in-memory invariants: the commit clock (published ≤
    /// handed out), the catalog, and every table's versions, chains and
    /// index coverage (see `table.rs`). Returns what is broken.
    pub(crate) fn check_invariants(&self) -> Vec<String> {
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
}
