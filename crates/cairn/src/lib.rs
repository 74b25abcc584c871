//! cairn — an embedded transactional database for rows, vectors and text.
//!
//! The API follows rusqlite's habits:
//!
//! ```
//! use cairn::{params, Database, OptionalExtension};
//!
//! let db = Database::open_in_memory()?;
//! db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)", params![])?;
//! db.execute("INSERT INTO users VALUES ($1, $2)", params![1, "ada"])?;
//! let name: String = db.query_row("SELECT name FROM users WHERE id = ?", params![1], |r| r.get(0))?;
//! assert_eq!(name, "ada");
//! let none: Option<String> = db
//!     .query_row("SELECT name FROM users WHERE id = 2", params![], |r| r.get(0))
//!     .optional()?;
//! assert!(none.is_none());
//! # Ok::<(), cairn::Error>(())
//! ```
//!
//! A [`Database`] is one connection (session) to a shared engine; call
//! [`Database::connect`] to get another connection to the same data for
//! another thread. Each connection holds at most one open transaction.
#![forbid(unsafe_code)]

mod row;

use std::sync::Arc;

use parking_lot::Mutex;

pub use cairn_core::{ConstraintKind, DataType, Error, ErrorKind, Result, Value};
/// The file-system seam ([`fs::StdFs`], and [`fs::SimFs`] for fault tests).
pub use cairn_merkle::{CommitHead, Hash, HistoryProof, QueryProof, RowFinding, RowProof};
pub use cairn_sql::Column;
pub use cairn_storage::fs;
pub use cairn_storage::{OpenOptions, Progress, ProgressHook, Recovery, Synchronous};
pub use row::{FromValue, Row, RowIndex, RowSet, Rows};

/// Turns a list of Rust values into statement parameters:
/// `params![1, "ada", 2.5, None::<i64>]`.
#[macro_export]
macro_rules! params {
    () => { &[] as &[$crate::Value] };
    ($($p:expr),+ $(,)?) => { &[$($crate::Value::from($p)),+] as &[$crate::Value] };
}

/// One connection to a Cairn database.
pub struct Database {
    engine: Arc<cairn_sql::Engine>,
    session: Mutex<cairn_sql::Session>,
    /// The session's interrupt flag, kept outside the session's lock (which
    /// a running statement holds).
    interrupt: InterruptHandle,
}

/// Stops the statement a connection is running, from another thread: it
/// fails with [`ErrorKind::Interrupted`] at its next row, and what it wrote
/// is rolled back (an open transaction stays open, as it was before the
/// statement). An interrupt while no statement runs is forgotten when the
/// next one starts. Like rusqlite's `InterruptHandle`.
#[derive(Clone)]
pub struct InterruptHandle(cairn_sql::Interrupt);

impl InterruptHandle {
    /// Interrupts the running statement, if any.
    pub fn interrupt(&self) {
        self.0.interrupt();
    }
}

impl Database {
    /// A new, empty database that lives in memory and vanishes when the last
    /// connection to it is dropped.
    pub fn open_in_memory() -> Result<Database> {
        let engine = cairn_sql::Engine::new();
        Ok(Database::with_engine(engine))
    }

    /// Opens (or creates) the database in directory `path`, with
    /// `synchronous = full`: every acknowledged commit survives a crash or
    /// power cut. Waits up to five seconds ([`OpenOptions::busy_timeout`])
    /// while another process has it open for writing, then fails with
    /// [`ErrorKind::Locked`]; fails with [`ErrorKind::Corrupt`] (naming file
    /// and offset) if its files are damaged beyond a torn tail.
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Database> {
        Database::open_with(path, OpenOptions::default())
    }

    /// [`Database::open`] with options (synchronous mode, salvage, file
    /// system, a progress callback for long opens, checkpoint on close).
    pub fn open_with(path: impl AsRef<std::path::Path>, options: OpenOptions) -> Result<Database> {
        let store = cairn_storage::Store::open(path.as_ref(), options)?;
        Ok(Database::with_engine(cairn_sql::Engine::with_store(store)))
    }

    /// Opens the database in directory `path` for reading only, even while
    /// another process has it open for writing: it reads the database as
    /// its files held it at this moment (the newest checkpoint and the
    /// write-ahead log's valid prefix), takes no lock and changes no file.
    /// Writes (INSERT, DDL, CHECKPOINT) fail with
    /// [`ErrorKind::Unsupported`]; reopen to see later commits. A directory
    /// without a database is [`ErrorKind::NoSuchObject`]. Same as
    /// [`Database::open_with`] with [`OpenOptions::read_only`].
    pub fn open_read_only(path: impl AsRef<std::path::Path>) -> Result<Database> {
        let options = OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        };
        Database::open_with(path, options)
    }

    /// Whether this database was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.engine.store().is_read_only()
    }

    /// What opening an on-disk database found (`None` in memory).
    pub fn recovery(&self) -> Option<Recovery> {
        self.engine.store().recovery().cloned()
    }

    /// Writes a checkpoint now (`CHECKPOINT` in SQL): every committed row
    /// into segment files, and the WAL they cover deleted, so reopening
    /// reads the segments instead of replaying the log. Runs automatically
    /// once the WAL passes 64 MiB. A no-op in memory.
    pub fn checkpoint(&self) -> Result<()> {
        self.engine.store().checkpoint().map(|_| ())
    }

    /// Closes this connection (rolling back its open transaction, if
    /// any) and brings the database's files up to date: waits for
    /// background index builds, then checkpoints if the log holds anything
    /// since the last checkpoint, so the next open loads every index
    /// instead of replaying the log and rebuilding them. Dropping the last
    /// connection does the same but can only report an error on stderr;
    /// `close` returns it. An error loses nothing: every acknowledged
    /// commit is in the write-ahead log, which the next open replays.
    /// Other connections to the same database stay open. A no-op in
    /// memory.
    pub fn close(self) -> Result<()> {
        let store = self.engine.store().clone();
        drop(self);
        store.close()
    }

    /// Makes every acknowledged commit durable now (useful under
    /// `synchronous = normal` or `off`).
    pub fn sync(&self) -> Result<()> {
        self.engine.store().sync()
    }

    fn with_engine(engine: Arc<cairn_sql::Engine>) -> Database {
        let session = cairn_sql::Session::new(engine.clone());
        let interrupt = InterruptHandle(session.interrupt_handle());
        Database {
            engine,
            session: Mutex::new(session),
            interrupt,
        }
    }

    /// A handle that interrupts this connection's running statement from
    /// another thread (see [`InterruptHandle`]).
    pub fn interrupt_handle(&self) -> InterruptHandle {
        self.interrupt.clone()
    }

    /// Another connection to the same database, with its own transaction
    /// state. Connections may be moved to other threads.
    pub fn connect(&self) -> Database {
        Database::with_engine(self.engine.clone())
    }

    /// Runs one statement and returns the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        Ok(self.session.lock().execute(sql, params)?.rows_affected)
    }

    /// Runs every statement in `sql` (separated by `;`), stopping at the first
    /// error.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        self.session.lock().execute_batch(sql).map(|_| ())
    }

    /// Runs one query and returns its rows as a cursor ([`Rows`]: pull
    /// them with `next()`, or `fetch_all()` them).
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        let cursor = self.session.lock().query(sql, params)?;
        Ok(Rows::new(cursor))
    }

    /// Runs a query and maps its first row; [`Error::NoRows`] when there is
    /// none (turn that into `None` with [`OptionalExtension::optional`]).
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: &[Value],
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<T> {
        let mut rows = self.query(sql, params)?;
        match rows.next()? {
            Some(row) => f(&row),
            None => Err(Error::NoRows),
        }
    }

    /// Parses a statement once for repeated execution.
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        let prepared = self.session.lock().prepare(sql)?;
        Ok(Statement { db: self, prepared })
    }

    /// Starts an explicit transaction. It commits with
    /// [`Transaction::commit`] and rolls back when dropped without one.
    pub fn transaction(&self) -> Result<Transaction<'_>> {
        self.session.lock().begin()?;
        Ok(Transaction {
            db: self,
            done: false,
        })
    }

    /// True while this connection has an open explicit transaction.
    pub fn in_transaction(&self) -> bool {
        self.session.lock().in_transaction()
    }

    /// Runs one statement and returns its full output (columns, rows, count):
    /// what a shell needs to print any statement's result.
    pub fn run(&self, sql: &str, params: &[Value]) -> Result<cairn_sql::Output> {
        self.session.lock().execute(sql, params)
    }

    /// Runs every statement in `sql` and returns each one's output.
    pub fn run_batch(&self, sql: &str) -> Result<Vec<cairn_sql::Output>> {
        self.session.lock().execute_batch(sql)
    }

    /// The `k` rows nearest to `query` through the HNSW index named `index`
    /// (the same search `ORDER BY col <-> $1 LIMIT k` runs, without SQL):
    /// whole rows with their exact distance, nearest first, ties by row id.
    /// Reads the open transaction, or the newest snapshot.
    pub fn nearest(&self, index: &str, query: &[f32], k: usize) -> Result<Vec<Neighbor>> {
        self.nearest_with_ef(index, query, k, None)
    }

    /// [`Database::nearest`] with an `ef_search` for this call only (`None`:
    /// the connection's `hnsw.ef_search`).
    pub fn nearest_with_ef(
        &self,
        index: &str,
        query: &[f32],
        k: usize,
        ef: Option<usize>,
    ) -> Result<Vec<Neighbor>> {
        let hits = self.session.lock().nearest(index, query, k, ef)?;
        Ok(hits
            .into_iter()
            .map(|h| Neighbor {
                values: h.values,
                distance: h.distance,
            })
            .collect())
    }

    /// Sets (or clears, with `None`) the hook told how far a vector index
    /// build has got (`CREATE INDEX … USING hnsw`: [`Progress::BuildingIndex`],
    /// at the start, about twice a second, and at the end), for every
    /// connection of this database. An open sets it to
    /// [`OpenOptions::progress`].
    pub fn set_progress(&self, hook: Option<ProgressHook>) {
        self.engine.store().set_progress(hook);
    }

    /// How many threads build vector indexes for this database (default:
    /// one per core).
    pub fn set_index_build_threads(&self, threads: usize) {
        self.engine.store().set_build_threads(threads);
    }

    /// Graphs, nodes and bytes in memory of a vector index.
    pub fn vector_index_stats(&self, index: &str) -> Option<VectorIndexStats> {
        self.session.lock().vector_index_stats(index)
    }

    /// Compacts every vector index now (on this thread): drops tombstones
    /// and merges each index's graphs into one. Indexes also compact on
    /// their own, in the background, when tombstones pass their
    /// `compact_ratio` (default 15 %).
    pub fn compact_vector_indexes(&self) -> Result<()> {
        self.engine.store().compact_vector_indexes()
    }

    /// The state root of the newest committed version: a blake3 Merkle
    /// root over the catalog and every table's rows (RFC 0002). Equal
    /// logical data gives equal roots, however it was written.
    pub fn state_root(&self) -> Hash {
        self.head().state_root
    }

    /// The newest committed version as a verifier trusts it: its number
    /// (commit records so far), commit timestamp, state root and the root
    /// of the history of every version.
    pub fn head(&self) -> CommitHead {
        self.engine.store().head()
    }

    /// The head of an earlier version (`None` past the newest).
    pub fn head_at_version(&self, version: u64) -> Option<CommitHead> {
        self.engine.store().head_at_version(version)
    }

    /// Proof that `table` holds the row with primary key `key` (all of the
    /// row's values for a table without one), or that it holds none, in
    /// the newest version; with that version's head, whose `state_root`
    /// the proof verifies against ([`RowProof::verify`]).
    pub fn prove_row(&self, table: &str, key: &[Value]) -> Result<(RowProof, CommitHead)> {
        self.engine.store().prove_row(table, key)
    }

    /// Proof that version `old` is in the history of version `new`: a
    /// verifier that trusts `old`'s head accepts `new`'s only with it
    /// ([`HistoryProof::verify`]).
    pub fn prove_history(&self, old: u64, new: u64) -> Result<HistoryProof> {
        self.engine.store().prove_history(old, new)
    }

    /// [`Database::prove_history`] under the issue's name: the proof that
    /// version `old`'s state root is in the history of version `new`.
    pub fn prove_consistency(&self, old: u64, new: u64) -> Result<HistoryProof> {
        self.prove_history(old, new)
    }

    /// Runs a SELECT over one table (any WHERE, ORDER BY, LIMIT; no joins,
    /// grouping or DISTINCT) and proves every row it returns against one
    /// version. For `ORDER BY <vector distance> LIMIT k` the proof also
    /// carries the query vector and each distance, which a verifier
    /// recomputes, with the order. It proves the returned rows exist at
    /// that version with those values and distances; it does not prove
    /// that no other row matches or that no closer vector exists.
    ///
    /// The query runs on a snapshot at the very version it is proven at,
    /// so concurrent commits never make it fail. In an open transaction it
    /// fails with [`ErrorKind::Transaction`] once the transaction has
    /// written, or when its snapshot is no longer the newest version. It
    /// holds the verifiable state while it runs (root reads, DDL and
    /// checkpoints wait): keep it short. See `docs/verification.md`.
    pub fn query_with_proof(&self, sql: &str, params: &[Value]) -> Result<ProvedRows> {
        let p = self.session.lock().query_with_proof(sql, params)?;
        Ok(ProvedRows {
            rows: RowSet::new(p.output.columns, p.output.rows),
            proof: p.proof,
            head: p.head,
        })
    }

    /// Names of all tables and views, sorted.
    pub fn table_names(&self) -> Vec<String> {
        self.session.lock().table_names()
    }

    /// CREATE statements for one table (with its indexes) or for everything.
    pub fn schema_sql(&self, table: Option<&str>) -> Result<Vec<String>> {
        self.session.lock().schema_sql(table)
    }
}

pub use cairn_sql::{is_complete_statement, split_statements, Output};

/// The README's Rust examples, compiled and run as doctests so that they
/// stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeExamples;

/// What [`Database::query_with_proof`] returns.
pub struct ProvedRows {
    /// The result, as the query asked for it.
    pub rows: RowSet,
    /// Each returned row's stored row with its inclusion proof, in result
    /// order (and the distance order of a nearest-neighbour query).
    pub proof: QueryProof,
    /// The version the proof verifies against: `proof.verify(&head.state_root)`.
    pub head: CommitHead,
}

/// One row found by [`Database::nearest`].
#[derive(Debug, Clone)]
pub struct Neighbor {
    /// The row's values, in column order.
    pub values: Vec<Value>,
    /// Exact distance in the index's metric (`None` only for a NULL vector,
    /// which an index search never returns).
    pub distance: Option<f64>,
}

pub use cairn_storage::VectorIndexStats;

/// A prepared statement, bound to its connection.
pub struct Statement<'db> {
    db: &'db Database,
    prepared: cairn_sql::Prepared,
}

impl Statement<'_> {
    /// Runs the statement and returns the number of rows changed.
    pub fn execute(&mut self, params: &[Value]) -> Result<u64> {
        let mut session = self.db.session.lock();
        Ok(session
            .execute_prepared(&self.prepared, params)?
            .rows_affected)
    }

    /// Runs the statement and returns its rows.
    pub fn query(&mut self, params: &[Value]) -> Result<Rows> {
        let cursor = self
            .db
            .session
            .lock()
            .query_prepared(&self.prepared, params)?;
        Ok(Rows::new(cursor))
    }

    /// Runs the statement and maps its first row ([`Error::NoRows`] if none).
    pub fn query_row<T>(
        &mut self,
        params: &[Value],
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<T> {
        let mut rows = self.query(params)?;
        match rows.next()? {
            Some(row) => f(&row),
            None => Err(Error::NoRows),
        }
    }

    /// Number of parameters (`$n` or `?`) the statement takes.
    pub fn parameter_count(&self) -> usize {
        self.db.session.lock().parameter_count(&self.prepared)
    }
}

/// An explicit transaction; rolls back on drop unless committed.
pub struct Transaction<'db> {
    db: &'db Database,
    done: bool,
}

impl Transaction<'_> {
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        self.db.session.lock().commit()
    }

    pub fn rollback(mut self) -> Result<()> {
        self.done = true;
        self.db.session.lock().rollback()
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Database;
    fn deref(&self) -> &Database {
        self.db
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Rolling back an open transaction cannot fail in a way the
            // caller could act on during drop.
            let _ = self.db.session.lock().rollback();
        }
    }
}

/// Turns "no rows" into `Ok(None)`, like rusqlite's `OptionalExtension`.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
