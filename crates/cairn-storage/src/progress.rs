//! Progress of long work — an open replaying the log or rebuilding an
//! index, a `CREATE INDEX` building a graph — as a hook is told it. A leaf:
//! the parts that report (`durable.rs`, `table.rs`, the index builds) all
//! import it.

use std::sync::Arc;
use std::time::Duration;

/// A callback for [`crate::OpenOptions::progress`].
pub type ProgressHook = Arc<dyn Fn(&Progress) + Send + Sync>;

/// A step of something long — an open, an index build — as a progress
/// hook ([`crate::OpenOptions::progress`]) is told it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// Replaying the write-ahead log: `done` of `total` records applied
    /// (told every [`crate::REPLAY_PROGRESS_RECORDS`] records and at the end).
    ReplayingLog { done: usize, total: usize },
    /// Building vector index `index` of table `table` from its rows:
    /// `done` of `total` rows (told when the build starts, `done = 0`, and
    /// when it ends, `done = total`).
    RebuildingIndex {
        table: String,
        index: String,
        done: u64,
        total: u64,
    },
    /// A `CREATE INDEX … USING hnsw` building vector index `index` of
    /// table `table`: `done` of `total` vectors in its graph (told when the
    /// build starts, `done = 0`, about every [`BUILD_PROGRESS_INTERVAL`]
    /// while it runs, and when it ends, `done = total`), on a thread of the
    /// build.
    BuildingIndex {
        table: String,
        index: String,
        done: u64,
        total: u64,
    },
}

/// The least time between two [`Progress::BuildingIndex`] reports.
pub const BUILD_PROGRESS_INTERVAL: Duration = Duration::from_millis(500);

/// Asked now and then during long work a statement runs (a vector index
/// build): an error (the connection was interrupted, its statement timed
/// out) stops the work, which fails with it.
pub type StopCheck<'a> = dyn Fn() -> cairn_core::Result<()> + Sync + 'a;
