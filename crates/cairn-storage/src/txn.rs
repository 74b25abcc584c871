//! Transactions: a snapshot to read from plus a private write set that becomes
//! visible to others only at commit. Reads see the snapshot overlaid with the
//! transaction's own writes. Statement-level rollback uses savepoints over an
//! undo log of the write set. DDL run inside a transaction is installed at
//! once (for its own statements), logged with its rows at commit, and taken
//! back if it rolls back (see [`crate::shared::SchemaOwner`]).

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use cairn_core::{ConstraintKind, Error, Result, Value};

use crate::catalog::DdlUndo;
use crate::shared::Shared;
use crate::table::{full_row, index_key, Table, TableInner};
use crate::vector::{
    same_vector, with_scratch, TopK, VectorHit, VectorQuery, VectorSearchStats, VectorStrategy,
};
use crate::wal::Record;
use crate::{RowId, Ts};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The transaction's latest state of one row it wrote.
#[derive(Clone)]
pub(crate) struct Write {
    /// The row was visible in the snapshot (so committing needs it unchanged).
    pub(crate) existed: bool,
    /// New values, or `None` when deleted.
    pub(crate) row: Option<Arc<[Value]>>,
}

pub(crate) struct TableWrites {
    pub(crate) table: Arc<Table>,
    pub(crate) rows: HashMap<RowId, Write, foldhash::fast::RandomState>,
    /// Row ids in first-write order (each once).
    pub(crate) order: Vec<RowId>,
    /// Per unique index name: keys of rows this transaction wrote.
    keys: FastMap<String, FastMap<Vec<Value>, RowId>>,
    /// The table's unique indexes (name, key columns) when the write set began.
    unique: Vec<(String, Vec<usize>)>,
}

struct Undo {
    table: u64,
    row: RowId,
    before: Option<Write>,
    first_write: bool,
}

/// A position in the write set to roll back to (statement-level atomicity).
#[derive(Debug, Clone, Copy)]
pub struct Savepoint(usize);

/// A snapshot-isolated transaction. Dropping it without
/// [`Store::commit`] discards its writes.
///
/// [`Store::commit`]: crate::Store::commit
pub struct Transaction {
    /// The store's shared core: the snapshot is registered there.
    pub(crate) shared: Arc<Shared>,
    /// The store that began it, kept alive while it is open; typed only
    /// by the facade (`Transaction::store` in `store.rs`), which sits above
    /// this module.
    pub(crate) owner: Box<dyn Any + Send + Sync>,
    pub(crate) start_ts: Ts,
    /// Catalog version when the transaction began (DDL since then forces
    /// full validation at commit).
    pub(crate) catalog_version: u64,
    pub(crate) writes: FastMap<u64, TableWrites>,
    undo: Vec<Undo>,
    /// Read by [`Store::read_proven`]'s reader while the verifiable state
    /// is locked: see [`Transaction::reads_under_state_lock`].
    ///
    /// [`Store::read_proven`]: crate::Store::read_proven
    pub(crate) under_state_lock: bool,
    /// Its id once it runs DDL (0 before): see [`crate::shared::SchemaOwner`].
    pub(crate) id: u64,
    /// Its DDL statements, in order: each record (logged at commit, before
    /// its rows, in one WAL record) with what taking it back needs.
    pub(crate) ddl: Vec<(Record, DdlUndo)>,
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.ddl.is_empty() {
            self.undo_ddl();
        }
        self.shared.release_snapshot(self.start_ts);
    }
}

/// Fills in values for columns added after the row was written.
fn padded<'a>(inner: &TableInner, values: &'a [Value]) -> std::borrow::Cow<'a, [Value]> {
    inner.full_row(values)
}

impl Transaction {
    /// A transaction reading the snapshot at `start_ts`, already
    /// registered with `shared` (released when it drops).
    pub(crate) fn new(
        shared: Arc<Shared>,
        owner: Box<dyn Any + Send + Sync>,
        start_ts: Ts,
    ) -> Transaction {
        let catalog_version = shared.catalog_version();
        Transaction {
            shared,
            owner,
            start_ts,
            catalog_version,
            writes: FastMap::default(),
            undo: Vec::new(),
            under_state_lock: false,
            id: 0,
            ddl: Vec::new(),
        }
    }

    /// True for the snapshot [`Store::read_proven`] hands its reader: the
    /// verifiable state is locked until the reader returns, so nothing
    /// reading through this transaction may ask the store for a state root,
    /// a head or a proof (that would wait for the lock it runs under).
    ///
    /// [`Store::read_proven`]: crate::Store::read_proven
    pub fn reads_under_state_lock(&self) -> bool {
        self.under_state_lock
    }

    /// The commit timestamp this transaction reads at.
    pub fn start_ts(&self) -> Ts {
        self.start_ts
    }

    pub fn has_writes(&self) -> bool {
        self.writes.values().any(|w| !w.rows.is_empty())
    }

    /// Whether it ran DDL (which it commits or takes back with its rows).
    pub fn has_ddl(&self) -> bool {
        !self.ddl.is_empty()
    }

    /// Takes back its DDL, newest first (a rollback: the transaction is
    /// dropped uncommitted, or its commit failed), and lets other
    /// transactions change the schema again.
    fn undo_ddl(&mut self) {
        let mut cs = self.shared.commit_lock.lock();
        for (_, undo) in self.ddl.drain(..).rev() {
            self.shared.catalog.undo(undo);
        }
        if cs.schema_owner.as_ref().is_some_and(|o| o.tx == self.id) {
            cs.schema_owner = None;
        }
    }

    /// After its DDL changed table `table` (a new or dropped index, a new
    /// column, or the table dropped): drops the write set of a dropped
    /// table; otherwise takes the table's unique indexes again and fails
    /// if two rows this transaction wrote now share a unique key.
    pub(crate) fn schema_changed(&mut self, table: &Arc<Table>, dropped: bool) -> Result<()> {
        if dropped {
            self.writes.remove(&table.id);
            return Ok(());
        }
        let Some(tw) = self.writes.get_mut(&table.id) else {
            return Ok(());
        };
        tw.unique = unique_indexes(table);
        tw.keys.clear();
        let rows: Vec<(RowId, Arc<[Value]>)> = (tw.order.iter())
            .filter_map(|rid| Some((*rid, tw.rows.get(rid)?.row.clone()?)))
            .collect();
        for (rid, row) in rows {
            let row = table.inner.read().full_row(&row).into_owned();
            if let Some(index) = tw.duplicate_key(&row) {
                return Err(Error::Constraint {
                    kind: ConstraintKind::Unique,
                    detail: format!("{} ({index})", table.name()),
                });
            }
            tw.remember_keys(rid, &row);
        }
        Ok(())
    }

    pub fn savepoint(&self) -> Savepoint {
        Savepoint(self.undo.len())
    }

    /// Undoes every write made after `sp`.
    pub fn rollback_to(&mut self, sp: Savepoint) {
        while self.undo.len() > sp.0 {
            let Some(u) = self.undo.pop() else { break };
            let Some(tw) = self.writes.get_mut(&u.table) else {
                continue;
            };
            let current = tw.rows.remove(&u.row);
            if let Some(Write { row: Some(r), .. }) = &current {
                tw.forget_keys(u.row, r);
            }
            if let Some(before) = u.before {
                if let Some(r) = &before.row {
                    tw.remember_keys(u.row, r);
                }
                tw.rows.insert(u.row, before);
            }
            if u.first_write {
                if let Some(pos) = tw.order.iter().rposition(|&r| r == u.row) {
                    tw.order.remove(pos);
                }
            }
        }
    }

    /// The row `rid` as this transaction sees it.
    pub fn get(&self, table: &Arc<Table>, rid: RowId) -> Option<Vec<Value>> {
        let inner = table.inner.read();
        if let Some(w) = self.writes.get(&table.id).and_then(|w| w.rows.get(&rid)) {
            return w.row.as_ref().map(|r| padded(&inner, r).into_owned());
        }
        inner
            .visible(rid, self.start_ts)
            .map(|v| padded(&inner, &v.values).into_owned())
    }

    pub fn insert(&mut self, table: &Arc<Table>, values: Vec<Value>) -> Result<RowId> {
        let rid = table.allocate_row_id();
        self.check_row(table, rid, &values)?;
        self.record(table, rid, Some(values.into()), false);
        Ok(rid)
    }

    pub fn update(&mut self, table: &Arc<Table>, rid: RowId, values: Vec<Value>) -> Result<()> {
        self.check_row(table, rid, &values)?;
        let existed = self.existed(table, rid)?;
        self.record(table, rid, Some(values.into()), existed);
        Ok(())
    }

    pub fn delete(&mut self, table: &Arc<Table>, rid: RowId) -> Result<()> {
        let existed = self.existed(table, rid)?;
        self.record(table, rid, None, existed);
        Ok(())
    }

    fn existed(&self, table: &Arc<Table>, rid: RowId) -> Result<bool> {
        if let Some(w) = self.writes.get(&table.id).and_then(|w| w.rows.get(&rid)) {
            if w.row.is_none() {
                return Err(Error::internal(format!("row {rid} already deleted")));
            }
            return Ok(w.existed);
        }
        if table.inner.read().visible(rid, self.start_ts).is_some() {
            Ok(true)
        } else {
            Err(Error::internal(format!("row {rid} is not visible")))
        }
    }

    fn record(&mut self, table: &Arc<Table>, rid: RowId, row: Option<Arc<[Value]>>, existed: bool) {
        let tw = self.writes.entry(table.id).or_insert_with(|| TableWrites {
            table: table.clone(),
            rows: HashMap::default(),
            order: Vec::new(),
            keys: FastMap::default(),
            unique: unique_indexes(table),
        });
        let before = tw.rows.get(&rid).cloned();
        let first_write = before.is_none();
        if let Some(Write { row: Some(r), .. }) = &before {
            tw.forget_keys(rid, r);
        }
        if let Some(r) = &row {
            tw.remember_keys(rid, r);
        }
        if first_write {
            tw.order.push(rid);
        }
        tw.rows.insert(rid, Write { existed, row });
        self.undo.push(Undo {
            table: table.id,
            row: rid,
            before,
            first_write,
        });
    }

    /// NOT NULL and UNIQUE/PRIMARY KEY checks of a row about to be written,
    /// against this transaction's view.
    fn check_row(&self, table: &Arc<Table>, rid: RowId, values: &[Value]) -> Result<()> {
        let inner = table.inner.read();
        let schema = &inner.schema;
        for (i, c) in schema.columns.iter().enumerate() {
            if !c.nullable && values.get(i).is_none_or(Value::is_null) {
                return Err(Error::Constraint {
                    kind: ConstraintKind::NotNull,
                    detail: format!("{}.{}", schema.name, c.name),
                });
            }
        }
        let own = self.writes.get(&table.id);
        // The row as this transaction sees it now (for an UPDATE): a unique
        // key it keeps unchanged cannot start colliding.
        let current: Option<std::borrow::Cow<'_, [Value]>> =
            match own.and_then(|w| w.rows.get(&rid)) {
                Some(w) => w.row.as_deref().map(|r| padded(&inner, r)),
                None => inner
                    .visible(rid, self.start_ts)
                    .map(|v| padded(&inner, &v.values)),
            };
        for (index_no, index) in inner.indexes.btrees().enumerate() {
            if !index.def.unique {
                continue;
            }
            if let Some(cur) = &current {
                if index
                    .def
                    .columns
                    .iter()
                    .all(|&c| cur.get(c) == values.get(c))
                {
                    continue;
                }
            }
            let key = index_key(&index.def, values);
            if key.iter().any(Value::is_null) {
                continue;
            }
            let violation = || Error::Constraint {
                kind: if index.def.primary {
                    ConstraintKind::PrimaryKey
                } else {
                    ConstraintKind::Unique
                },
                detail: index
                    .def
                    .columns
                    .iter()
                    .map(|&c| format!("{}.{}", schema.name, schema.columns[c].name))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            if let Some(w) = own {
                if w.unique.iter().any(|(name, _)| *name == index.def.name) {
                    if let Some(&other) = w.keys.get(&index.def.name).and_then(|m| m.get(&key)) {
                        if other != rid {
                            if let Some(Write { row: Some(r), .. }) = w.rows.get(&other) {
                                if index_key(&index.def, &padded(&inner, r)) == key {
                                    return Err(violation());
                                }
                            }
                        }
                    }
                } else {
                    // An index created after this transaction began writing
                    // the table has no key bookkeeping: check its rows.
                    for (&other, wr) in &w.rows {
                        if let Write { row: Some(r), .. } = wr {
                            if other != rid && index_key(&index.def, &padded(&inner, r)) == key {
                                return Err(violation());
                            }
                        }
                    }
                }
            }
            for &other in inner.index_lookup(index_no, &key) {
                if other == rid || own.is_some_and(|w| w.rows.contains_key(&other)) {
                    continue;
                }
                if let Some(v) = inner.visible(other, self.start_ts) {
                    if index_key(&index.def, &padded(&inner, &v.values)) == key {
                        return Err(violation());
                    }
                }
            }
        }
        Ok(())
    }
}

/// A table's unique indexes: (name, key columns).
fn unique_indexes(table: &Table) -> Vec<(String, Vec<usize>)> {
    (table.inner.read().indexes.btrees())
        .filter(|i| i.def.unique)
        .map(|i| (i.def.name.clone(), i.def.columns.clone()))
        .collect()
}

impl TableWrites {
    /// The unique index on which another row this transaction wrote has
    /// `row`'s key (a key with a NULL is never a duplicate).
    fn duplicate_key(&self, row: &[Value]) -> Option<&str> {
        self.unique.iter().find_map(|(name, cols)| {
            let key: Vec<Value> = cols
                .iter()
                .map(|&c| row.get(c).cloned().unwrap_or_default())
                .collect();
            let taken = !key.iter().any(Value::is_null)
                && self.keys.get(name).is_some_and(|m| m.contains_key(&key));
            taken.then_some(name.as_str())
        })
    }

    fn remember_keys(&mut self, rid: RowId, row: &[Value]) {
        for (name, cols) in &self.unique {
            let key: Vec<Value> = cols
                .iter()
                .map(|&c| row.get(c).cloned().unwrap_or_default())
                .collect();
            self.keys.entry(name.clone()).or_default().insert(key, rid);
        }
    }

    fn forget_keys(&mut self, rid: RowId, row: &[Value]) {
        for (name, cols) in &self.unique {
            let key: Vec<Value> = cols
                .iter()
                .map(|&c| row.get(c).cloned().unwrap_or_default())
                .collect();
            if let Some(m) = self.keys.get_mut(name) {
                if m.get(&key) == Some(&rid) {
                    m.remove(&key);
                }
            }
        }
    }
}

/// What a vector search reads rows with: the table, the transaction's own
/// writes to it, its snapshot and the vector column.
struct Scope<'a> {
    inner: &'a TableInner,
    own: Option<&'a TableWrites>,
    ts: Ts,
    column: usize,
}

impl Scope<'_> {
    /// Offers `top` this transaction's own inserted and updated rows that
    /// `filter` passes, with their exact distance.
    fn own_hits(
        &self,
        distance_of: &dyn Fn(&[Value]) -> Result<Option<f64>>,
        filter: &mut dyn FnMut(&[Value]) -> Result<bool>,
        top: &mut TopK,
    ) -> Result<()> {
        let Some(w) = self.own else {
            return Ok(());
        };
        for rid in &w.order {
            if let Some(Write { row: Some(r), .. }) = w.rows.get(rid) {
                let values = padded(self.inner, r);
                let distance = distance_of(&values)?;
                if distance.is_some() && top.wants(distance, *rid) && filter(&values)? {
                    top.push(VectorHit {
                        row_id: *rid,
                        values: values.into_owned(),
                        distance,
                    });
                }
            }
        }
        Ok(())
    }

    /// Offers `top` every committed vector of `pending` (not in a graph
    /// yet) that the snapshot sees, the transaction did not overwrite, and
    /// `filter` passes, with its exact distance.
    fn pending_hits(
        &self,
        pending: &[crate::index::hnsw::Pending],
        distance_of: &dyn Fn(&[Value]) -> Result<Option<f64>>,
        filter: &mut dyn FnMut(&[Value]) -> Result<bool>,
        top: &mut TopK,
    ) -> Result<()> {
        for chunk in pending {
            for (row, origin) in chunk.rows.iter().zip(&chunk.origin) {
                if self.own.is_some_and(|w| w.rows.contains_key(row)) {
                    continue;
                }
                let Some(v) = self.inner.visible(*row, self.ts) else {
                    continue;
                };
                let full = padded(self.inner, &v.values);
                if !full
                    .get(self.column)
                    .is_some_and(|c| same_vector(c, origin))
                {
                    continue;
                }
                let distance = distance_of(&full)?;
                if top.wants(distance, *row) && filter(&full)? {
                    top.push(VectorHit {
                        row_id: *row,
                        values: full.into_owned(),
                        distance,
                    });
                }
            }
        }
        Ok(())
    }
}

impl Transaction {
    /// The `q.k` rows nearest to `q.query` by vector index `q.index_no`
    /// among the rows visible to this transaction (its own writes included)
    /// that pass `filter`, ordered by exact distance then row id. With
    /// [`VectorStrategy::Index`] the graphs are searched with `filter`
    /// applied during the walk; if that finds fewer than `k` rows, an exact
    /// scan answers instead, so at least `min(k, qualifying rows)` come back.
    pub fn vector_search(
        &self,
        table: &Arc<Table>,
        q: &VectorQuery<'_>,
        filter: &mut dyn FnMut(&[Value]) -> Result<bool>,
    ) -> Result<(Vec<VectorHit>, VectorSearchStats)> {
        let mut stats = VectorSearchStats::default();
        let inner = table.inner.read();
        let vi = inner
            .indexes
            .hnsw(q.index_no)
            .ok_or_else(|| Error::internal(format!("vector index {} out of range", q.index_no)))?;
        if let Some(why) = &vi.broken {
            return Err(Error::internal(format!(
                "vector index {} is unusable: {why}",
                vi.def.name
            )));
        }
        if q.query.len() != vi.def.dims {
            return Err(cairn_core::vector::VectorError::DimsMismatch {
                expected: vi.def.dims,
                got: q.query.len(),
            }
            .into());
        }
        let kind = vi.def.distance_kind();
        let column = vi.def.column;
        let distance_of = |values: &[Value]| -> Result<Option<f64>> {
            match values.get(column).and_then(|v| v.vector_f32()) {
                Some(v) => Ok(cairn_core::vector::distance(kind, q.query, &v)?),
                None => Ok(None),
            }
        };
        if q.k == 0 {
            return Ok((Vec::new(), stats));
        }
        let own = self.writes.get(&table.id);
        if q.strategy == VectorStrategy::Index {
            let mut top = TopK::new(q.k);
            let mut failed: Option<Error> = None;
            let ts = self.start_ts;
            let own_rows = own.is_some_and(|w| !w.rows.is_empty());
            for g in &vi.graphs {
                stats.graphs_searched += 1;
                // A clean graph the snapshot fully sees, with no filter and
                // no own writes to hide: every node may be returned.
                let trusted = !q.filtered && !own_rows && g.all_valid_at(ts, vi.dead_events);
                let mut accept = |node: u32| -> bool {
                    if trusted {
                        return true;
                    }
                    if failed.is_some() {
                        return false;
                    }
                    let row = g.graph.key(node);
                    if own.is_some_and(|w| w.rows.contains_key(&row)) {
                        return false;
                    }
                    let Some(v) = inner.visible(row, ts) else {
                        return false;
                    };
                    let full = padded(&inner, &v.values);
                    let Some(origin) = g.origin.get(node as usize) else {
                        return false;
                    };
                    if !full.get(column).is_some_and(|c| same_vector(c, origin)) {
                        return false;
                    }
                    match filter(&full) {
                        Ok(pass) => pass,
                        Err(e) => {
                            failed = Some(e);
                            false
                        }
                    }
                };
                let rerank = q.rerank.unwrap_or(vi.def.rerank);
                let found = with_scratch(|s| {
                    g.graph
                        .search_reranked(q.query, q.k, q.ef, rerank, &mut accept, s)
                });
                if let Some(e) = failed.take() {
                    return Err(e);
                }
                inner.prefetch_rows(found.iter().map(|n| g.graph.key(n.node)));
                for n in found {
                    let row = g.graph.key(n.node);
                    let Some(v) = inner.visible(row, ts) else {
                        continue;
                    };
                    let values = padded(&inner, &v.values).into_owned();
                    let distance = distance_of(&values)?;
                    if top.wants(distance, row) {
                        top.push(VectorHit {
                            row_id: row,
                            values,
                            distance,
                        });
                    }
                }
            }
            // Committed vectors whose graph is not built yet, exactly.
            let scope = Scope {
                inner: &inner,
                own,
                ts,
                column,
            };
            scope.pending_hits(&vi.pending, &distance_of, filter, &mut top)?;
            scope.own_hits(&distance_of, filter, &mut top)?;
            let hits = top.into_hits();
            if hits.len() >= q.k {
                return Ok((hits, stats));
            }
            stats.fell_back_to_exact = true;
        }
        drop(inner);
        // Exact: every visible row that passes the filter.
        let mut top = TopK::new(q.k);
        self.scan(table, &mut |rid, values| {
            // The filter first: it is usually cheaper than a distance.
            if !filter(values)? {
                return Ok(true);
            }
            let distance = distance_of(values)?;
            if top.wants(distance, rid) {
                top.push(VectorHit {
                    row_id: rid,
                    values: values.to_vec(),
                    distance,
                });
            }
            Ok(true)
        })?;
        Ok((top.into_hits(), stats))
    }

    /// Estimates the fraction of `table`'s visible rows that pass `filter`
    /// from up to `samples` rows picked at random row ids (cheap: no scan).
    /// `None` when no sampled row id was visible.
    pub fn sample_selectivity(
        &self,
        table: &Arc<Table>,
        samples: usize,
        seed: u64,
        filter: &mut dyn FnMut(&[Value]) -> Result<bool>,
    ) -> Result<Option<f64>> {
        let max_row = table.max_row_id();
        if max_row == 0 {
            return Ok(None);
        }
        // The sample is picked under the table's lock and filtered after it
        // is released (the filter is SQL, which may take other locks).
        let mut sample: Vec<Arc<[Value]>> = Vec::with_capacity(samples);
        let schema = {
            let inner = table.inner.read();
            let mut state = seed | 1;
            for _ in 0..samples.saturating_mul(4) {
                if sample.len() >= samples {
                    break;
                }
                // xorshift64*: a cheap, reproducible stream of row ids.
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                let r = state.wrapping_mul(0x2545_F491_4F6C_DD1D) % max_row + 1;
                if let Some(v) = inner.visible(r, self.start_ts) {
                    sample.push(v.values.clone());
                }
            }
            inner.schema.clone()
        };
        let mut passed = 0usize;
        for values in &sample {
            if filter(&full_row(&schema, values))? {
                passed += 1;
            }
        }
        Ok((!sample.is_empty()).then(|| passed as f64 / sample.len() as f64))
    }
}
