//! Where commits and catalog records go before they are published: one
//! [`CommitLog`] trait, so an in-memory store and an on-disk store run the
//! same commit path. [`MemoryLog`] keeps nothing and acknowledges at once;
//! the WAL (`wal.rs`) writes, syncs per `synchronous`, and can fail.
//!
//! Protocol (the store's commit pipeline, `commit.rs`): under the commit
//! lock a commit is validated, applied to the tables (invisible), then
//! appended here; the commit lock is released; the committer waits for
//! its LSN and only then publishes its timestamp. When a wait fails, the
//! commits the log does not hold are undone before the next commit runs
//! (`commit::ready`), which is why a log that [`CommitLog::may_fail`]
//! makes the store keep undo information.

use std::sync::atomic::{AtomicU64, Ordering};

use cairn_core::Result;

/// A log of commit and catalog records, in LSN order.
pub(crate) trait CommitLog: Send + Sync {
    /// Appends one record; `encode` writes its framed bytes into the
    /// buffer it is given (a log that keeps no bytes never calls it).
    /// Returns the record's LSN (increasing).
    fn append(&self, encode: &mut dyn FnMut(&mut Vec<u8>)) -> u64;

    /// Blocks until record `lsn` is acknowledged, or returns the error
    /// that stopped it (the record, and every later one, is then lost).
    fn wait(&self, lsn: u64) -> Result<()>;

    /// The newest LSN that counts as committed, and whether a failure
    /// has not been recovered from yet.
    fn good_lsn(&self) -> (u64, bool);

    /// After a failure: drops what was not written and makes the log
    /// usable again (fails while the disk still does).
    fn reset(&self) -> Result<()>;

    /// Whether an appended record can still be lost (the store then keeps
    /// what undoing its commit needs until it is acknowledged).
    fn may_fail(&self) -> bool;

    /// Whether records are kept to be replayed at the next open (so a
    /// record worth making cheaper to replay, such as an index build's
    /// graph, is worth encoding).
    fn replayed(&self) -> bool;
}

/// The log of an in-memory store: numbers records and forgets them.
#[derive(Default)]
pub(crate) struct MemoryLog {
    last_lsn: AtomicU64,
}

impl CommitLog for MemoryLog {
    fn append(&self, _encode: &mut dyn FnMut(&mut Vec<u8>)) -> u64 {
        self.last_lsn.fetch_add(1, Ordering::AcqRel) + 1
    }

    fn wait(&self, _lsn: u64) -> Result<()> {
        Ok(())
    }

    fn good_lsn(&self) -> (u64, bool) {
        (u64::MAX, false)
    }

    fn reset(&self) -> Result<()> {
        Ok(())
    }

    fn may_fail(&self) -> bool {
        false
    }

    fn replayed(&self) -> bool {
        false
    }
}
