//! cairn-storage — MVCC tables kept as one mutable live segment plus immutable
//! sealed segments, ordered secondary indexes, and snapshot-isolated
//! transactions (first committer wins). Entry point: [`Store`]; a
//! [`Transaction`] reads a snapshot and buffers its writes until commit.
//!
//! A store lives in memory ([`Store::new`]) or in a directory
//! ([`Store::open`]): then every commit is logged to a write-ahead log with
//! group commit before it is published, and opening replays the log.
//! Depends on cairn-core, cairn-vector (kernels, HNSW graphs) and
//! cairn-merkle (state roots, proofs); never on SQL.
#![deny(unsafe_code)]

mod apply;
mod catalog;
mod checkpoint;
mod codec;
mod commit;
mod durable;
pub mod fs;
#[doc(hidden)]
pub mod fuzzing;
mod index;
mod jobs;
mod live;
mod lock;
mod log;
mod manifest;
pub mod merkle;
mod progress;
mod scan;
mod schema;
mod shared;
pub mod stats;
mod store;
mod table;
mod txn;
mod vector;
mod wal;

pub use cairn_vector::hnsw::{HnswParams, Metric, RERANK_DEFAULT, RERANK_MAX};
pub use cairn_vector::quant::{Quantization, RABITQ_BITS_MAX};
pub use checkpoint::{
    CHECKPOINT_INTERVAL, CHECKPOINT_WAL_BYTES, CHECKPOINT_WAL_BYTES_MIN, SEGMENT_FORMAT_OLDEST,
    SEGMENT_FORMAT_VERSION,
};
pub use durable::{
    OpenOptions, Recovery, BUSY_TIMEOUT_DEFAULT, READ_ONLY_OPEN_ATTEMPTS, REPLAY_PROGRESS_RECORDS,
};
pub use index::IndexStats;
pub use manifest::{
    CheckpointRef, Manifest, WalPosition, MANIFEST_FORMAT_OLDEST, MANIFEST_FORMAT_VERSION,
};
pub use progress::{Progress, ProgressHook, StopCheck, BUILD_PROGRESS_INTERVAL};
pub use scan::{IndexScan, TableScan};
pub use schema::{ColumnDef, IndexDef, TableSchema, TriggerDef, ViewDef};
pub use store::{SchemaChange, Store, CLOSE_JOBS_WAIT_MAX};
pub use table::{SegmentInfo, Table, SEGMENT_ROWS_TARGET};
pub use txn::{Savepoint, Transaction};
pub use vector::{
    hit_order, metric_distance, VectorHit, VectorIndexDef, VectorIndexStats, VectorQuery,
    VectorSearchStats, VectorStrategy, COMPACT_NODES_MIN, COMPACT_RATIO_DEFAULT, EF_SEARCH_DEFAULT,
    EF_SEARCH_MAX, GRAPH_RECORD_BYTES_MAX,
};
pub use wal::{
    Synchronous, NORMAL_SYNC_INTERVAL, WAL_FILE_BYTES_MAX, WAL_FORMAT_OLDEST, WAL_FORMAT_VERSION,
};

/// A row's identity inside its table; stable across updates of the row.
pub type RowId = u64;
/// A commit timestamp. Snapshots are taken at a commit timestamp.
pub type Ts = u64;
