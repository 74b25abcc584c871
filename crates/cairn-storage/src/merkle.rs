//! Verifiable state (RFC 0002 Part 2), a part of the store ([`Merkle`]):
//! one Merkle trie per table over its rows' key hashes, a catalog root, the
//! state root of every commit and the history log of commit records. It
//! reads the shared core (`shared.rs`: catalog, log) and never the store.
//!
//! Flow: a commit queues its row changes ([`Pending`]) under the commit
//! lock, in timestamp order; once its WAL record is acknowledged (at once in
//! memory), whoever holds the merkle lock next folds every acknowledged
//! change into the tries and appends one commit record per commit
//! ([`Merkle::drain`]; the worker thread does it after each commit, readers
//! before they read). Hashing so runs outside the commit lock. A commit
//! the WAL failed to hold is dropped from the queue before it is ever
//! applied. DDL runs under the commit lock, drains, and reconciles the
//! tries with the catalog ([`Merkle::after_ddl`]).
//!
//! Determinism: a trie's root depends only on its set of leaves (key hash,
//! row version, content hash); row versions count writes to a key (1 at
//! insert, +1 per update keeping the key); a table without a primary key is
//! a multiset keyed by the whole row, its "version" the multiplicity. So the
//! same logical data gives the same root however it was written, split into
//! segments, checkpointed or replayed.
//!
//! Proofs: [`prove_keys`] proves keys against the tries as they are (the
//! caller holds the lock). The store facade's `prove_rows` proves at the
//! newest folded version, and its `read_proven` runs a caller's read and
//! proves the rows it names at one version by construction: it takes the
//! merkle lock, folds in every acknowledged commit, opens a snapshot at
//! exactly the version the tries are at ([`proven_snapshot_ts`]), runs the
//! read, proves, and only then lets the tries move on. (The tries are
//! mutable arenas with no history, so a proof at an older snapshot's
//! version cannot be made after they moved on.) The lock is held for the
//! whole read: `Store::read_proven`'s doc says what waits meanwhile.
//!
//! Lock order: commit lock → merkle lock → table locks (read) → the list
//! of open snapshots (innermost). Nothing that holds a table lock waits for
//! the merkle lock, and nothing a `read_proven` reader runs takes the
//! merkle lock again (checked per thread in debug builds by
//! [`Merkle::lock`], with [`StateLockHeld`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use cairn_core::{Error, Result, Value};
use cairn_merkle::row::{put_len, put_tagged_bytes, real_bits, tag};
use cairn_merkle::state::{catalog_root, commit_record_hash, state_root, table_leaf_hash};
use cairn_merkle::trie::Change;
use cairn_merkle::{CommitHead, Domain, Hash, HistoryProof, MerkleLog, RowProof, Trie, TrieLeaf};
use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::apply::RowChange;
use crate::catalog::Catalog;
use crate::lock::{Rank, Ranked, RankedGuard};
use crate::schema::TableSchema;
use crate::shared::Shared;
use crate::table::Table;
use crate::wal::GoodLsn;
use crate::Ts;

/// Appends `v`'s canonical bytes (RFC 0002 §2.2).
pub fn encode_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.push(tag::NULL),
        Value::Integer(i) => {
            out.push(tag::INTEGER);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Real(f) => {
            out.push(tag::REAL);
            out.extend_from_slice(&real_bits(*f).to_le_bytes());
        }
        Value::Text(s) => put_tagged_bytes(out, tag::TEXT, s.as_bytes()),
        Value::Blob(b) => put_tagged_bytes(out, tag::BLOB, b),
        Value::Boolean(b) => {
            out.push(tag::BOOLEAN);
            out.push(u8::from(*b));
        }
        Value::Timestamp(t) => {
            out.push(tag::TIMESTAMP);
            out.extend_from_slice(&t.to_le_bytes());
        }
        Value::Json(s) => put_tagged_bytes(out, tag::JSON, s.as_bytes()),
        Value::Vector(x) => {
            out.push(tag::VECTOR);
            put_len(out, x.len());
            for f in x.iter() {
                out.extend_from_slice(&f.to_bits().to_le_bytes());
            }
        }
        Value::HalfVec(x) => {
            out.push(tag::HALFVEC);
            put_len(out, x.len());
            for h in x.iter() {
                out.extend_from_slice(&h.to_bits().to_le_bytes());
            }
        }
    }
}

/// Canonical bytes of a list of values.
pub fn encode_values<'a>(values: impl ExactSizeIterator<Item = &'a Value>) -> Vec<u8> {
    let mut out = Vec::new();
    put_len(&mut out, values.len());
    for v in values {
        encode_value(&mut out, v);
    }
    out
}

/// How a table places its rows in its trie.
#[derive(Clone)]
struct Shape {
    /// Primary key columns (None: the whole row is the key, multiset).
    pk: Option<Vec<usize>>,
    /// Column count and defaults of columns added after a row was written.
    defaults: Vec<Value>,
}

impl Shape {
    fn of(schema: &TableSchema) -> Shape {
        Shape {
            pk: schema.primary_key.clone(),
            defaults: schema
                .columns
                .iter()
                .map(|c| c.added_default.clone())
                .collect(),
        }
    }

    /// Canonical bytes of the full row (missing trailing columns read as
    /// their added defaults).
    fn row_bytes(&self, values: &[Value]) -> Vec<u8> {
        self.columns_bytes(values, 0..self.defaults.len().max(values.len()))
    }

    /// Canonical key bytes of a row.
    fn key_bytes(&self, values: &[Value]) -> Vec<u8> {
        match &self.pk {
            Some(cols) => self.columns_bytes(values, cols.iter().copied()),
            None => self.row_bytes(values),
        }
    }

    /// Canonical bytes of the row's values at `cols`.
    fn columns_bytes(
        &self,
        values: &[Value],
        cols: impl ExactSizeIterator<Item = usize>,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 16 * cols.len());
        self.put_columns(&mut out, values, cols);
        out
    }

    /// Appends the canonical bytes of the row's values at `cols` to `out`;
    /// returns where they are.
    fn put_columns(
        &self,
        out: &mut Vec<u8>,
        values: &[Value],
        cols: impl ExactSizeIterator<Item = usize>,
    ) -> std::ops::Range<usize> {
        let start = out.len();
        put_len(out, cols.len());
        for c in cols {
            let v = values.get(c).or(self.defaults.get(c));
            encode_value(out, v.unwrap_or(&Value::Null));
        }
        start..out.len()
    }

    /// [`Shape::row_bytes`] appended to `out`.
    fn put_row(&self, out: &mut Vec<u8>, values: &[Value]) -> std::ops::Range<usize> {
        self.put_columns(out, values, 0..self.defaults.len().max(values.len()))
    }

    /// [`Shape::key_bytes`] appended to `out`.
    fn put_key(&self, out: &mut Vec<u8>, values: &[Value]) -> std::ops::Range<usize> {
        match &self.pk {
            Some(cols) => self.put_columns(out, values, cols.iter().copied()),
            None => self.put_row(out, values),
        }
    }
}

/// One table's trie and what its leaf in the state needs.
struct TableState {
    id: u64,
    /// Lowercase name.
    name: String,
    create_sql: String,
    shape: Shape,
    trie: Trie,
    /// Rows (for a multiset table, the sum of multiplicities).
    rows: u64,
    /// This table's leaf in the state, until the table changes: a commit
    /// re-hashes only the leaves of the tables it wrote.
    leaf: Option<Hash>,
}

impl TableState {
    fn new(table: &Table, schema: &TableSchema) -> TableState {
        TableState {
            id: table.id,
            name: schema.name.to_ascii_lowercase(),
            create_sql: schema.create_sql.clone(),
            shape: Shape::of(schema),
            trie: Trie::new(),
            rows: 0,
            leaf: None,
        }
    }

    /// Applies one commit's changes to this table: removals of keys that go
    /// away first, then writes, so a commit that moves keys around (UPDATE
    /// t SET id = id + 1) never sees a key twice.
    fn apply(&mut self, changes: &[RowChange], pool: Option<&rayon::ThreadPool>) {
        self.leaf = None;
        if self.shape.pk.is_none() {
            for c in changes {
                if let Some(old) = &c.old {
                    self.multiset_add(old, false);
                }
                if let Some(new) = &c.new {
                    self.multiset_add(new, true);
                }
            }
            return;
        }
        // Hashes first, then the trie in key order: neighbouring keys share
        // the upper levels of their paths (and their cache lines). Removals
        // go first, so a commit that swaps two rows' keys loses neither. A
        // large batch runs on two threads, one per half of the trie.
        let (mut removed, mut written) = hash_changes(&self.shape, changes);
        removed.sort_unstable();
        written.sort_unstable_by_key(|w| w.0);
        // One batch: the removals, then the writes (each half of the trie
        // takes its keys in this order).
        let keys: Vec<Hash> = removed
            .iter()
            .copied()
            .chain(written.iter().map(|w| w.0))
            .collect();
        // A full trie (2^31 - 1 rows) refuses new keys; see RFC 0002.
        let decide = |i: usize, existing: Option<&TrieLeaf>| {
            let Some(w) = i.checked_sub(removed.len()) else {
                return Change::Remove;
            };
            let Some(&(key, content, same)) = written.get(w) else {
                return Change::Keep;
            };
            let version = match existing {
                Some(l) if same => l.version.saturating_add(1),
                _ => 1,
            };
            Change::Put(TrieLeaf {
                key,
                version,
                content,
            })
        };
        let _refused = match pool {
            Some(pool) => self.trie.update_batch_with(&keys, decide, |a, b| {
                // Each of the pool's two threads is woken for its own half
                // (`join` would leave the second half to be stolen, and
                // the sleeping thread was seen not to steal it in time).
                let (a, b) = (Mutex::new(a), Mutex::new(b));
                pool.broadcast(|ctx| match (ctx.index(), ctx.num_threads()) {
                    (0, 1) => {
                        (a.lock())();
                        (b.lock())();
                    }
                    (0, _) => (a.lock())(),
                    (1, _) => (b.lock())(),
                    _ => {}
                });
            }),
            None => self.trie.update_batch(&keys, decide),
        };
        self.rows = self.trie.len() as u64;
    }

    fn multiset_add(&mut self, values: &[Value], add: bool) {
        let bytes = self.shape.row_bytes(values);
        let key = cairn_merkle::key_hash(&bytes);
        let content = cairn_merkle::content_hash(&bytes);
        let mut changed = false;
        let _ = self.trie.update(&key, |existing| {
            let count = existing.map_or(0, |l| l.version);
            let count = if add {
                count.saturating_add(1)
            } else {
                count.saturating_sub(1)
            };
            changed = add || existing.is_some();
            if count == 0 {
                Change::Remove
            } else {
                Change::Put(TrieLeaf {
                    key,
                    version: count,
                    content,
                })
            }
        });
        if add {
            self.rows += 1;
        } else if changed {
            self.rows = self.rows.saturating_sub(1);
        }
    }

    /// Rebuilds the trie from the rows of `table` visible at `ts`, taking
    /// row versions from `versions` (key hash → version; absent = 1).
    fn rebuild(&mut self, table: &Table, ts: Ts, versions: &HashMap<Hash, u64>) -> Result<()> {
        self.leaf = None;
        let inner = table.inner.read();
        let mut leaves: HashMap<Hash, TrieLeaf> = HashMap::new();
        let mut rows = 0u64;
        let multiset = self.shape.pk.is_none();
        inner.for_each_visible(ts, &mut |_, values| {
            rows += 1;
            let key = cairn_merkle::key_hash(&self.shape.key_bytes(values));
            let content = cairn_merkle::content_hash(&self.shape.row_bytes(values));
            leaves
                .entry(key)
                .and_modify(|l| l.version += 1)
                .or_insert(TrieLeaf {
                    key,
                    version: if multiset {
                        1
                    } else {
                        versions.get(&key).copied().unwrap_or(1)
                    },
                    content,
                });
            Ok(true)
        })?;
        self.trie = Trie::from_leaves(leaves.into_values().collect());
        self.rows = rows;
        Ok(())
    }

    /// Key hash → version of every leaf whose version is not 1 (what
    /// [`TableState::rebuild`] needs: an absent key reads as version 1).
    fn versions_not_1(&self) -> HashMap<Hash, u64> {
        self.versions_in_key_order().into_iter().collect()
    }

    /// (key hash, version) of every leaf whose version is not 1, in key
    /// order, without collecting every leaf.
    fn versions_in_key_order(&self) -> Vec<(Hash, u64)> {
        let mut out = Vec::new();
        self.trie.for_each_leaf(|l| {
            if l.version != 1 {
                out.push((l.key, l.version));
            }
        });
        out
    }

    fn leaf_hash(&mut self) -> Hash {
        if let Some(h) = self.leaf {
            return h;
        }
        let h = table_leaf_hash(&self.name, self.rows, &self.trie.root());
        self.leaf = Some(h);
        h
    }
}

/// Per change: the key hash that goes away (a delete, or an update that
/// moves the row to another key), and (new key hash, content hash, the
/// key stayed) for the row written.
type HashedChanges = (Vec<Hash>, Vec<(Hash, Hash, bool)>);

fn hash_changes(shape: &Shape, changes: &[RowChange]) -> HashedChanges {
    // Every canonical key and row into one buffer first, then the hashes in
    // batches (sixteen at a time with the SIMD kernels).
    let mut bytes = Vec::with_capacity(changes.len() * 64);
    let mut removed_at = Vec::new();
    let mut written_at = Vec::with_capacity(changes.len());
    for c in changes {
        let old = c.old.as_deref().map(|v| shape.put_key(&mut bytes, v));
        let new = c.new.as_deref().map(|v| shape.put_key(&mut bytes, v));
        let same = match (&old, &new) {
            (Some(o), Some(n)) => bytes.get(o.clone()) == bytes.get(n.clone()),
            _ => false,
        };
        if let Some(old) = old.filter(|_| !same) {
            removed_at.push(old);
        }
        if let (Some(new), Some(values)) = (new, c.new.as_deref()) {
            written_at.push((new, shape.put_row(&mut bytes, values), same));
        }
    }
    let slice = |r: &std::ops::Range<usize>| bytes.get(r.clone()).unwrap_or_default();
    let mut removed = Vec::with_capacity(removed_at.len());
    let key_msgs: Vec<&[u8]> = removed_at.iter().map(slice).collect();
    cairn_merkle::batch::keyed_hashes(Domain::Key.key(), &key_msgs, &mut removed);
    let key_msgs: Vec<&[u8]> = written_at.iter().map(|(k, _, _)| slice(k)).collect();
    let row_msgs: Vec<&[u8]> = written_at.iter().map(|(_, r, _)| slice(r)).collect();
    let (mut keys, mut contents) = (Vec::new(), Vec::new());
    cairn_merkle::batch::keyed_hashes(Domain::Key.key(), &key_msgs, &mut keys);
    cairn_merkle::batch::keyed_hashes(Domain::Row.key(), &row_msgs, &mut contents);
    let written = keys
        .into_iter()
        .zip(contents)
        .zip(&written_at)
        .map(|((k, c), (_, _, same))| (k, c, *same))
        .collect();
    (removed, written)
}

/// A commit's changes waiting to be folded into the tries.
pub(crate) struct Pending {
    /// WAL position of the commit's record (0 in memory: always good).
    pub(crate) lsn: u64,
    pub(crate) ts: Ts,
    /// (table id, changes in the order the commit wrote them).
    pub(crate) tables: Vec<(u64, Vec<RowChange>)>,
}

/// The tries, the catalog root and the history; behind the merkle lock.
pub(crate) struct MerkleState {
    tables: BTreeMap<String, TableState>,
    catalog: Hash,
    /// Commit records: (commit ts, state root), one per history leaf.
    records: Vec<(Ts, Hash)>,
    history: MerkleLog,
    /// History roots of the newest versions (the last is the current one):
    /// a snapshot a little behind the newest version reads its head
    /// without recomputing the log.
    recent_roots: VecDeque<Hash>,
    /// Timestamp of the newest commit folded in.
    applied: Ts,
}

/// The threads that update the two halves of a table's trie in parallel
/// for a large commit: two per process, shared by every database, made at
/// the first large commit and asleep otherwise (None on a one-core
/// machine). They are woken (not spawned) per commit: the kernel puts a
/// woken thread on an idle core, while a freshly spawned one was seen to
/// queue behind its parent for the whole fold.
///
/// Never used from a thread of any rayon pool: a thread waiting in
/// `broadcast` there could be handed another job of its pool that wants
/// the merkle lock it holds.
fn fold_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    if rayon::current_thread_index().is_some() {
        return None;
    }
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cores < 2 {
            return None;
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .thread_name(|i| format!("cairn-merkle-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

/// Canonical catalog bytes: tables then views, each in name order, as
/// (lowercase name, CREATE statement); then, only when there is at least
/// one, the triggers the same way (so a catalog without triggers has the
/// bytes, and the roots, it had before triggers existed; RFC 0002 §2.4.2).
fn catalog_bytes(catalog: &Catalog) -> Vec<u8> {
    let tables: Vec<(String, String)> = catalog
        .tables_by_key()
        .into_iter()
        .map(|(k, t)| (k, t.schema().create_sql.clone()))
        .collect();
    let views: Vec<(String, String)> = catalog
        .views_by_key()
        .into_iter()
        .map(|(k, v)| (k, v.create_sql))
        .collect();
    let triggers: Vec<(String, String)> = catalog
        .triggers_by_key()
        .into_iter()
        .map(|(k, t)| (k, t.create_sql))
        .collect();
    let mut parts = vec![(tables.iter(), tables.len()), (views.iter(), views.len())];
    if !triggers.is_empty() {
        parts.push((triggers.iter(), triggers.len()));
    }
    let mut out = Vec::new();
    for (list, n) in parts {
        put_len(&mut out, n);
        for (name, sql) in list {
            put_len(&mut out, name.len());
            out.extend_from_slice(name.as_bytes());
            put_len(&mut out, sql.len());
            out.extend_from_slice(sql.as_bytes());
        }
    }
    out
}

impl MerkleState {
    /// The state of an empty database, with its genesis record at ts 0.
    pub(crate) fn genesis() -> MerkleState {
        let mut m = MerkleState {
            tables: BTreeMap::new(),
            catalog: catalog_root(&[0, 0, 0, 0, 0, 0, 0, 0]),
            records: Vec::new(),
            history: MerkleLog::new(),
            recent_roots: VecDeque::new(),
            applied: 0,
        };
        let root = m.root();
        m.push_record(0, root);
        m
    }

    fn push_record(&mut self, ts: Ts, root: Hash) {
        self.records.push((ts, root));
        let version = self.records.len() as u64;
        self.history.append(commit_record_hash(version, ts, &root));
        if self.recent_roots.len() == RECENT_HISTORY_ROOTS {
            self.recent_roots.pop_front();
        }
        self.recent_roots.push_back(self.history.root());
    }

    /// The current state root.
    fn root(&mut self) -> Hash {
        let leaves: Vec<Hash> = self
            .tables
            .values_mut()
            .map(TableState::leaf_hash)
            .collect();
        state_root(
            &self.catalog,
            leaves.len() as u64,
            &cairn_merkle::root(&leaves),
        )
    }

    fn apply(&mut self, p: &Pending) {
        for (id, changes) in &p.tables {
            let pool = if changes.len() >= cairn_merkle::trie::PARALLEL_BATCH_CHANGES {
                fold_pool()
            } else {
                None
            };
            if let Some(t) = self.tables.values_mut().find(|t| t.id == *id) {
                t.apply(changes, pool);
            }
        }
        self.applied = self.applied.max(p.ts);
        let root = self.root();
        self.push_record(p.ts, root);
    }

    fn head_at(&self, version: u64) -> Option<CommitHead> {
        let i = usize::try_from(version.checked_sub(1)?).ok()?;
        let (ts, root) = *self.records.get(i)?;
        Some(CommitHead {
            version,
            commit_ts: ts,
            state_root: root,
            // Recent roots are kept; older ones are recomputed (O(n)).
            history_root: match usize::try_from(self.history.len().saturating_sub(version))
                .ok()
                .and_then(|back| self.recent_roots.len().checked_sub(back.checked_add(1)?))
            {
                Some(i) => *self.recent_roots.get(i)?,
                None => self.history.root_at(version).ok()?,
            },
        })
    }

    fn head(&self) -> CommitHead {
        let version = self.records.len() as u64;
        self.head_at(version).unwrap_or(CommitHead {
            version: 0,
            commit_ts: 0,
            state_root: Hash::default(),
            history_root: cairn_merkle::empty_root(),
        })
    }

    /// (key hash, version) of every leaf with a version other than 1 in a
    /// keyed table: what a checkpoint stores (multiplicities of multiset
    /// tables follow from the rows).
    pub(crate) fn versions_of(&self, table_id: u64) -> Vec<(Hash, u64)> {
        self.tables
            .values()
            .find(|t| t.id == table_id && t.shape.pk.is_some())
            .map(TableState::versions_in_key_order)
            .unwrap_or_default()
    }

    /// The commit records (a checkpoint stores them).
    pub(crate) fn records(&self) -> &[(Ts, Hash)] {
        &self.records
    }

    /// Timestamp of the newest commit folded in.
    pub(crate) fn applied(&self) -> Ts {
        self.applied
    }

    /// Whether the tries hold `t` as `schema` describes it. A DDL
    /// statement installs its change before it reconciles the tries (under
    /// the merkle lock): between the two, they hold the table as it was.
    pub(crate) fn holds_table(&self, t: &Table, schema: &TableSchema) -> bool {
        let name = schema.name.to_ascii_lowercase();
        self.tables
            .get(&name)
            .is_some_and(|s| s.id == t.id && s.create_sql == schema.create_sql)
    }
}

/// History roots kept for the newest versions.
const RECENT_HISTORY_ROOTS: usize = 4096;

/// Queued commits past which committers fold in themselves.
const WORKER_BACKLOG_MAX: usize = 4096;

/// Queued commits a committer folds in when the backlog is past
/// [`WORKER_BACKLOG_MAX`] (more than its own, so the backlog shrinks).
const BACKLOG_FOLDS_PER_COMMIT: usize = 8;

/// How long a busy worker lets commits gather between folds.
const WORKER_BATCH_WAIT: std::time::Duration = std::time::Duration::from_millis(1);

/// The background thread that folds acknowledged commits into the tries,
/// so committers never hash (nor wait for the merkle lock) before `COMMIT`
/// returns. Readers of roots and proofs fold in what is left themselves.
#[derive(Default)]
struct Worker {
    state: Mutex<WorkerState>,
    cv: Condvar,
}

#[derive(Default)]
struct WorkerState {
    /// Commits were acknowledged since the worker last looked.
    pending: bool,
    /// The worker waits for `pending` (so a wake-up needs a notify).
    idle: bool,
    stop: bool,
    /// A thread runs (otherwise committers fold in themselves).
    running: bool,
}

impl Worker {
    /// Tells the worker to stop (the store is going away).
    fn stop(&self) {
        let mut st = self.state.lock();
        st.stop = true;
        self.cv.notify_all();
    }
}

/// Folds the oldest queued commit into `m` if its LSN is at most `good`
/// and returns it (None when there is none), for the caller to drop —
/// after releasing the lock, where it can. The caller holds the merkle
/// lock (`m`):
/// commits leave the queue only under it, so they are folded in exactly in
/// queue order, and whoever holds the lock has folded in everything taken.
fn fold_next(
    pending: &Mutex<VecDeque<Pending>>,
    m: &mut MerkleState,
    good: u64,
) -> Option<Pending> {
    let next = {
        let mut q = pending.lock();
        if q.front().is_some_and(|p| p.lsn <= good) {
            q.pop_front()
        } else {
            None
        }
    };
    next.inspect(|p| m.apply(p))
}

/// The verifiable state of one store, a part of it: the tries behind the
/// merkle lock, the queue of commits waiting to be folded in, and the
/// thread that folds them. Off (`enabled` false, see
/// `OpenOptions::state_roots`), it queues nothing and refuses proofs.
pub(crate) struct Merkle {
    /// Whether state roots are kept.
    enabled: bool,
    /// Tries, catalog root and history.
    state: Arc<Ranked<Mutex<MerkleState>>>,
    /// Commits waiting to be folded into `state`, in timestamp order.
    pending: Arc<Mutex<VecDeque<Pending>>>,
    /// The thread that folds them in.
    worker: Arc<Worker>,
}

impl Merkle {
    /// The verifiable state of an empty database (genesis record only).
    pub(crate) fn new(enabled: bool) -> Merkle {
        Merkle {
            enabled,
            state: Arc::new(Ranked::mutex(Rank::Merkle, MerkleState::genesis())),
            pending: Arc::new(Mutex::new(VecDeque::new())),
            worker: Arc::default(),
        }
    }

    /// Whether this store keeps state roots (`OpenOptions::state_roots`).
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Starts the worker thread (once the store is shared). `good` reads
    /// the WAL's newest good LSN (`None` in memory: every commit is good).
    /// The thread holds the tries, the queue and that handle, never the
    /// store: dropping the last handle to a database closes it (and frees
    /// its directory lock) at once.
    pub(crate) fn start_worker(&self, good: Option<GoodLsn>) {
        if !self.enabled {
            return;
        }
        let worker = self.worker.clone();
        let merkle = self.state.clone();
        let pending = self.pending.clone();
        let spawned = std::thread::Builder::new()
            .name("cairn-merkle".into())
            .spawn(move || loop {
                {
                    let mut st = worker.state.lock();
                    if st.stop {
                        return;
                    }
                    if st.pending {
                        // Busy: commits arrived during the last fold. Let
                        // more gather (committers do not wake a busy
                        // worker: no system call per commit).
                        st.pending = false;
                        worker.cv.wait_for(&mut st, WORKER_BATCH_WAIT);
                    } else {
                        // Idle until a committer (or the store's drop) wakes us.
                        st.idle = true;
                        worker.cv.wait(&mut st);
                        st.idle = false;
                        st.pending = false;
                    }
                    if st.stop {
                        return;
                    }
                }
                let good = good.as_ref().map_or(u64::MAX, |g| g.get());
                // One commit at a time, yielding between them: on a busy
                // machine the committers and the WAL writer come first.
                // The folded commit's rows are freed after the lock is
                // released: a reader waiting for the root is not kept
                // waiting for that.
                while let Some(done) = {
                    let mut m = merkle.lock();
                    fold_next(&pending, &mut m, good)
                } {
                    drop(done);
                    std::thread::yield_now();
                }
            });
        if spawned.is_ok() {
            self.worker.state.lock().running = true;
        }
    }

    /// Tells the worker to stop (the store is going away).
    pub(crate) fn stop_worker(&self) {
        self.worker.stop();
    }

    /// After a commit is acknowledged: has it folded in by the worker
    /// (woken only if it sleeps). Without a worker, or past a backlog of
    /// [`WORKER_BACKLOG_MAX`], the committer folds in up to
    /// [`BACKLOG_FOLDS_PER_COMMIT`] queued commits itself; whatever is
    /// still queued, readers fold in before they read.
    pub(crate) fn committed(&self, shared: &Shared) {
        if !self.enabled {
            return;
        }
        // Backpressure: a worker that falls far behind (a machine with no
        // core to spare) is helped by the committers.
        let backlog = self.pending.lock().len();
        let mut st = self.worker.state.lock();
        if st.running && backlog <= WORKER_BACKLOG_MAX {
            st.pending = true;
            if st.idle {
                st.idle = false;
                self.worker.cv.notify_one();
            }
            return;
        }
        drop(st);
        // A few commits each, not the whole backlog: one committer that
        // folded all 4,096 queued commits was seen to take 77 ms (and to
        // keep the next one waiting as long), while a few per commit hold
        // the backlog down all the same.
        let good = good_lsn(shared);
        let done: Vec<Pending> = {
            let mut m = self.lock();
            std::iter::from_fn(|| fold_next(&self.pending, &mut m, good))
                .take(BACKLOG_FOLDS_PER_COMMIT)
                .collect()
        };
        drop(done);
    }

    /// Queues a commit's row changes (under the commit lock, in ts order).
    pub(crate) fn queue(&self, p: Pending) {
        if !self.enabled {
            return;
        }
        self.pending.lock().push_back(p);
    }

    /// Drops queued commits the WAL does not hold (under the commit lock,
    /// after a WAL failure).
    pub(crate) fn unqueue_after(&self, good_lsn: u64) {
        let mut q = self.pending.lock();
        while q.back().is_some_and(|p| p.lsn > good_lsn) {
            q.pop_back();
        }
    }

    /// Folds every queued commit the WAL holds into the tries, in order.
    pub(crate) fn drain(&self, shared: &Shared, m: &mut MerkleState) {
        let good = good_lsn(shared);
        while fold_next(&self.pending, m, good).is_some() {}
    }

    /// The merkle lock with every acknowledged commit folded in.
    pub(crate) fn lock_folded(&self, shared: &Shared) -> MerkleGuard<'_> {
        let mut m = self.lock();
        self.drain(shared, &mut m);
        m
    }

    /// After a DDL statement took effect (under the commit lock): folds in
    /// every queued commit, then brings the tries in line with the catalog
    /// (new, dropped, recreated or altered tables, the catalog root) and
    /// appends a commit record if the state root moved.
    pub(crate) fn after_ddl(&self, shared: &Shared, ts: Ts) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        let mut m = self.lock_folded(shared);
        let before = m.root();
        let tables = shared.catalog.tables();
        let mut next = BTreeMap::new();
        for t in tables {
            let schema = t.schema();
            let name = schema.name.to_ascii_lowercase();
            let state = match m.tables.remove(&name) {
                Some(s) if s.id == t.id && s.create_sql == schema.create_sql => s,
                old => {
                    let versions: HashMap<Hash, u64> = old
                        .filter(|s| s.id == t.id)
                        .map(|s| s.versions_not_1())
                        .unwrap_or_default();
                    let mut s = TableState::new(&t, &schema);
                    s.rebuild(&t, ts, &versions)?;
                    s
                }
            };
            next.insert(name, state);
        }
        m.tables = next;
        m.catalog = catalog_root(&catalog_bytes(&shared.catalog));
        let after = m.root();
        if after != before {
            // The record carries the newest acknowledged commit's
            // timestamp: the same when the WAL is replayed (`ts` may be a
            // commit's that the WAL failed to hold, skipped since).
            let record_ts = m.applied;
            m.push_record(record_ts, after);
        }
        Ok(())
    }

    /// Rebuilds the tries from the tables of `catalog` as loaded from a
    /// checkpoint at `ts`, with the checkpoint's row versions and history,
    /// and checks the result against the last stored record.
    pub(crate) fn load(
        &self,
        catalog: &Catalog,
        ts: Ts,
        versions: &HashMap<u64, HashMap<Hash, u64>>,
        records: Option<Vec<(Ts, Hash)>>,
        file: &str,
    ) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        let mut m = MerkleState::genesis();
        let tables = catalog.tables();
        for t in tables {
            let schema = t.schema();
            let mut s = TableState::new(&t, &schema);
            let none = HashMap::new();
            s.rebuild(&t, ts, versions.get(&t.id).unwrap_or(&none))?;
            m.tables.insert(s.name.clone(), s);
        }
        m.catalog = catalog_root(&catalog_bytes(catalog));
        m.applied = ts;
        let root = m.root();
        match records {
            Some(records) if !records.is_empty() => {
                if records.last().map(|r| r.1) != Some(root) {
                    return Err(Error::corrupt(
                        file,
                        0,
                        "the checkpoint's rows do not hash to its last state root",
                    ));
                }
                m.records.clear();
                m.history = MerkleLog::new();
                m.recent_roots.clear();
                for (rts, r) in records {
                    m.push_record(rts, r);
                }
            }
            // A checkpoint written before roots were kept: history starts here.
            _ => m.push_record(ts, root),
        }
        *self.lock() = m;
        Ok(())
    }

    /// `PRAGMA integrity_check`'s part: rebuilds every table's trie from
    /// its rows (keeping the recorded row versions) and compares roots and
    /// row counts, and the newest commit record with the state. Holds the
    /// commit lock while it runs.
    pub(crate) fn check(&self, shared: &Shared) -> Vec<String> {
        if !self.enabled {
            return Vec::new();
        }
        let cs = shared.commit_lock.lock();
        if cs.schema_owner.is_some() {
            // The catalog holds uncommitted DDL the tries do not follow
            // yet: nothing consistent to compare now (the next check will).
            return Vec::new();
        }
        let mut m = self.lock_folded(shared);
        let ts = m.applied;
        let mut problems = Vec::new();
        let tables = shared.catalog.tables();
        for t in &tables {
            let schema = t.schema();
            let name = schema.name.to_ascii_lowercase();
            let Some(s) = m.tables.get_mut(&name) else {
                problems.push(format!("state root: table {name} has no trie"));
                continue;
            };
            let versions = s.versions_not_1();
            let mut fresh = TableState::new(t, &schema);
            if let Err(e) = fresh.rebuild(t, ts, &versions) {
                problems.push(format!("state root: table {name}: {e}"));
                continue;
            }
            if fresh.trie.root() != s.trie.root() || fresh.rows != s.rows {
                problems.push(format!(
                    "state root: the rows of {name} do not hash to its trie ({} rows, trie has {})",
                    fresh.rows, s.rows
                ));
            }
        }
        if m.tables.len() != tables.len() {
            problems.push("state root: the tries and the catalog list different tables".into());
        }
        let root = m.root();
        if m.records.last().map(|r| r.1) != Some(root) {
            problems.push("state root: the newest commit record is not the current state".into());
        }
        problems
    }

    /// Runs `f` on the merkle state with every acknowledged commit folded in.
    pub(crate) fn with<R>(&self, shared: &Shared, f: impl FnOnce(&mut MerkleState) -> R) -> R {
        f(&mut self.lock_folded(shared))
    }

    /// The newest version (commit record) a snapshot at `ts` sees.
    pub(crate) fn head_at_ts(&self, shared: &Shared, ts: Ts) -> CommitHead {
        self.with(shared, |m| {
            let n = m.records.partition_point(|r| r.0 <= ts) as u64;
            m.head_at(n.max(1)).unwrap_or_else(|| m.head())
        })
    }

    /// The head after `version` commit records (None past the newest).
    pub(crate) fn head_at_version(&self, shared: &Shared, version: u64) -> Option<CommitHead> {
        self.with(shared, |m| m.head_at(version))
    }

    pub(crate) fn roots_on(&self) -> Result<()> {
        if self.enabled {
            Ok(())
        } else {
            Err(Error::plan(
                "this database was opened without state roots (OpenOptions::state_roots)",
            ))
        }
    }

    /// Proof that version `old` is in the history of version `new`.
    pub(crate) fn prove_history(
        &self,
        shared: &Shared,
        old: u64,
        new: u64,
    ) -> Result<HistoryProof> {
        self.roots_on()?;
        self.with(shared, |m| {
            let n = m.records.len() as u64;
            let bad = || {
                Error::plan(format!(
                    "no history proof from version {old} to {new} (versions are 1..={n})"
                ))
            };
            if old == 0 || old > new {
                return Err(bad());
            }
            let (Some(oh), Some(nh)) = (m.head_at(old), m.head_at(new)) else {
                return Err(bad());
            };
            let c = m.history.consistency_proof(old, new).map_err(|_| bad())?;
            let o = m.history.inclusion_proof(old - 1, new).map_err(|_| bad())?;
            let r = m.history.inclusion_proof(new - 1, new).map_err(|_| bad())?;
            Ok(HistoryProof::assemble(oh, nh, c.path, o.path, r.path))
        })
    }

    /// The merkle lock, for this thread's first hold of it.
    pub(crate) fn lock(&self) -> MerkleGuard<'_> {
        debug_assert!(
            !STATE_LOCK_HELD.get(),
            "lock order: the merkle lock taken again from inside read_proven's reader"
        );
        self.state.lock()
    }
}

/// The merkle lock held (see [`Merkle::lock`]).
pub(crate) type MerkleGuard<'a> = RankedGuard<MutexGuard<'a, MerkleState>>;

/// The newest WAL position whose commits may be folded in.
fn good_lsn(shared: &Shared) -> u64 {
    shared.log.good_lsn().0
}

/// What [`Store::read_proven`](crate::Store::read_proven) returns.
pub struct ProvenRead<R> {
    /// What the reader returned.
    pub value: R,
    /// One proof per key the reader named, in its order.
    pub proofs: Vec<RowProof>,
    /// The version the proofs verify against (`head.state_root`), the one
    /// the reader's snapshot saw.
    pub head: CommitHead,
}

/// The commit timestamp `Store::read_proven` reads at, given the tries
/// with every acknowledged commit folded in (`m`, locked), `published`,
/// the newest published commit when that fold began, and `within`, the
/// snapshot of the caller's read-only transaction if any.
///
/// Every commit the tries hold is applied and in the log, and every one
/// published by `published` is in the tries, so a snapshot at `m.applied`
/// — or at `published` when that is later (timestamps skipped after a
/// failed WAL write hold nothing) — sees exactly the rows the tries hash.
/// (A commit published after `published` may not be folded in: the newest
/// published commit read after the fold is not safe.) A read-only
/// transaction's own snapshot qualifies iff no commit the tries hold is
/// newer.
pub(crate) fn proven_snapshot_ts(m: &MerkleState, within: Option<Ts>, published: Ts) -> Result<Ts> {
    match within {
        None => Ok(m.applied.max(published)),
        Some(start_ts) if m.applied <= start_ts => Ok(start_ts),
        Some(start_ts) => Err(Error::Transaction {
            message: format!(
                "proofs are made at the newest version (commit {}), and this transaction \
                 reads commit {}: run the query outside the transaction or in a new one",
                m.applied, start_ts
            ),
        }),
    }
}

thread_local! {
    /// This thread runs a `Store::read_proven` reader, under the merkle
    /// lock (checked by [`Merkle::lock`] in debug builds).
    static STATE_LOCK_HELD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks this thread as running a reader under the merkle lock until
/// dropped (also when the reader panics).
pub(crate) struct StateLockHeld;

impl StateLockHeld {
    pub(crate) fn enter() -> StateLockHeld {
        STATE_LOCK_HELD.set(true);
        StateLockHeld
    }
}

impl Drop for StateLockHeld {
    fn drop(&mut self) {
        STATE_LOCK_HELD.set(false);
    }
}

/// `keys` converted to the types of `schema`'s key columns (its primary
/// key, or every column of a table without one), each checked for length.
pub(crate) fn typed_keys(schema: &TableSchema, keys: &[Vec<Value>]) -> Result<Vec<Vec<Value>>> {
    let cols: Vec<usize> = match &schema.primary_key {
        Some(pk) => pk.clone(),
        None => (0..schema.columns.len()).collect(),
    };
    let mut typed_keys = Vec::with_capacity(keys.len());
    for key in keys {
        if key.len() != cols.len() {
            return Err(Error::plan(format!(
                "{} needs {} key value(s) ({}), got {}",
                schema.name,
                cols.len(),
                cols.iter()
                    .filter_map(|&c| schema.columns.get(c).map(|c| c.name.as_str()))
                    .collect::<Vec<_>>()
                    .join(", "),
                key.len()
            )));
        }
        let mut typed = Vec::with_capacity(key.len());
        for (&c, v) in cols.iter().zip(key) {
            let col = schema
                .columns
                .get(c)
                .ok_or_else(|| Error::internal("key column out of range"))?;
            typed.push(v.clone().coerce_to_column(col.data_type, &col.name)?);
        }
        typed_keys.push(typed);
    }
    Ok(typed_keys)
}

/// Proves `typed_keys` of table `t` against the current state `m` (the
/// caller holds the merkle lock), reading present rows at `ts`, a snapshot
/// that sees exactly what `m` hashes and that the caller keeps open.
pub(crate) fn prove_keys(
    m: &mut MerkleState,
    t: &Table,
    typed_keys: &[Vec<Value>],
    ts: Ts,
) -> Result<(Vec<RowProof>, CommitHead)> {
    let schema = t.schema();
    let table = schema.name.as_str();
    let head = m.head();
    let name = table.to_ascii_lowercase();
    let mut leaves = Vec::with_capacity(m.tables.len());
    let mut index = None;
    for (i, s) in m.tables.values_mut().enumerate() {
        if s.name == name {
            index = Some(i);
        }
        leaves.push(s.leaf_hash());
    }
    let index = index.ok_or_else(|| Error::no_such("table", table))?;
    let table_proof = cairn_merkle::inclusion_proof(&leaves, index as u64)
        .map_err(|e| Error::internal(e.to_string()))?;
    let catalog = m.catalog;
    let s = m
        .tables
        .get_mut(&name)
        .ok_or_else(|| Error::no_such("table", table))?;
    let inner = t.inner.read();
    let pk_index = inner.indexes.btrees().position(|i| i.def.primary);
    let mut proofs = Vec::with_capacity(typed_keys.len());
    for typed in typed_keys {
        let key_bytes = encode_values(typed.iter());
        let k = cairn_merkle::key_hash(&key_bytes);
        let trie = s.trie.prove(&k);
        let present = trie.leaf.is_some_and(|l| l.key == k);
        let row = match (present, pk_index) {
            (false, _) => None,
            (true, None) => Some(key_bytes.clone()),
            (true, Some(pk_index)) => {
                let found = inner
                    .index_lookup(pk_index, typed)
                    .iter()
                    .filter_map(|rid| inner.visible(*rid, ts))
                    .map(|v| v.values.clone())
                    .find(|v| s.shape.key_bytes(v) == key_bytes);
                let values = found.ok_or_else(|| {
                    Error::internal("a key in the table's trie has no visible row")
                })?;
                Some(s.shape.row_bytes(&values))
            }
        };
        proofs.push(RowProof {
            table: name.clone(),
            key: key_bytes,
            row,
            trie,
            table_rows: s.rows,
            table_index: index as u64,
            table_count: leaves.len() as u64,
            table_path: table_proof.path.clone(),
            catalog_root: catalog,
            claimed_root: None,
            claimed_version: None,
        });
    }
    Ok((proofs, head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_merkle::CanonValue;

    /// Heads of recent versions (kept roots) and older ones (recomputed)
    /// agree with the log.
    #[test]
    fn heads_of_old_and_recent_versions() {
        let mut m = MerkleState::genesis();
        for ts in 1..(RECENT_HISTORY_ROOTS as u64 + 600) {
            m.push_record(ts, cairn_merkle::Hash([(ts % 251) as u8; 32]));
        }
        let n = m.records.len() as u64;
        for v in [1, 2, 300, 599, 600, 601, n / 2, n - 4096, n - 1, n] {
            let head = m.head_at(v).expect("a version");
            assert_eq!(Ok(head.history_root), m.history.root_at(v), "version {v}");
            assert_eq!(head.version, v);
        }
        assert!(m.head_at(n + 1).is_none());
        assert!(m.head_at(0).is_none());
    }

    /// The engine's encoder and the verifier's decoder agree on every type.
    #[test]
    fn engine_encoding_is_what_the_verifier_reads() {
        let values = [
            Value::Null,
            Value::Boolean(true),
            Value::Integer(-7),
            Value::Real(-0.0),
            Value::Real(2.5),
            Value::text("héllo"),
            Value::Blob(Arc::from(&[0u8, 255][..])),
            Value::Timestamp(1_700_000_000_000_000),
            Value::Json(Arc::from("{\"a\":1}")),
            Value::Vector(Arc::from(&[0.5f32, -1.0][..])),
            Value::HalfVec(Arc::from(&[half::f16::from_f32(1.0)][..])),
        ];
        let bytes = encode_values(values.iter());
        let decoded = cairn_merkle::decode_values(&bytes).expect("the verifier reads it");
        assert_eq!(
            decoded,
            vec![
                CanonValue::Null,
                CanonValue::Boolean(true),
                CanonValue::Integer(-7),
                CanonValue::Real(0.0),
                CanonValue::Real(2.5),
                CanonValue::Text("héllo".into()),
                CanonValue::Blob(vec![0, 255]),
                CanonValue::Timestamp(1_700_000_000_000_000),
                CanonValue::Json("{\"a\":1}".into()),
                CanonValue::Vector(vec![0.5, -1.0]),
                CanonValue::HalfVec(vec![0x3c00]),
            ]
        );
        assert_eq!(cairn_merkle::encode_values(&decoded), bytes);
    }
}
