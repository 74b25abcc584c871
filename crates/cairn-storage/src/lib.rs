//! cairn-storage — MVCC tables kept as one mutable live segment plus immutable
//! sealed segments, ordered secondary indexes, and snapshot-isolated
//! transactions (first committer wins). Entry point: [`Store`]; a
//! [`Transaction`] reads a snapshot and buffers its writes until commit.
//!
//! In memory for now: the durability work will write sealed segments to files
//! and log commits to a WAL, without changing this API. Depends on cairn-core
//! only; never on SQL.
#![forbid(unsafe_code)]

mod schema;
mod store;
mod table;
mod txn;
mod vector;

pub use cairn_vector::hnsw::{HnswParams, Metric};
pub use schema::{ColumnDef, IndexDef, TableSchema, ViewDef};
pub use store::Store;
pub use table::{Table, SEGMENT_ROWS_TARGET};
pub use txn::{Savepoint, Transaction};
pub use vector::{
    hit_order, metric_distance, VectorHit, VectorIndexDef, VectorIndexStats, VectorQuery,
    VectorSearchStats, VectorStrategy, COMPACT_NODES_MIN, COMPACT_RATIO_DEFAULT, EF_SEARCH_DEFAULT,
    EF_SEARCH_MAX,
};

/// A row's identity inside its table; stable across updates of the row.
pub type RowId = u64;
/// A commit timestamp. Snapshots are taken at a commit timestamp.
pub type Ts = u64;
