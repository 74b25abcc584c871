//! Reads of many rows at a snapshot — full scans, index range scans, loose
//! index scans — that hold the table's lock only for short steps, never
//! while the caller's callback runs.
//!
//! A callback may run SQL that takes other locks (a correlated subquery
//! reads another table; `cairn_prove` or `cairn_state_root` takes the
//! merkle and catalog locks, which rank *before* a table lock), and a pull
//! cursor hands rows out between calls. Neither may sit on a table lock.
//!
//! - A full scan ([`TableScan`]) walks sealed segments with no lock at all:
//!   a sealed segment is an `Arc`, immutable but for its atomic `end`
//!   stamps, and segments are only ever appended to a table's list, so a
//!   position in that list stays valid. After the last sealed segment it
//!   takes, under the lock, a view of the live segment (its chunk `Arc`s
//!   and length, `live.rs`) and walks that without the lock. A version
//!   visible at the snapshot is in exactly one of (sealed segments, live
//!   segment) at any moment, and the view decides the boundary in the
//!   same lock acquisition as "no more sealed segments", so no row is
//!   missed or seen twice; a seal afterwards does not disturb the view.
//! - An index scan collects up to a batch of rows under the lock — for
//!   each, a handle on the segment or live chunk that stores its visible
//!   version and its slot there, not a copy — releases it, hands the batch
//!   out, and resumes after the last (key, row id) it collected. Row ids
//!   under one key are kept sorted and entries are never removed, so a
//!   batch may end inside a key: the next resumes there, after that id. A
//!   row is emitted once, under the key its visible version has.

use std::borrow::Cow;
use std::collections::{BTreeSet, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

use cairn_core::{Error, Result, Value};

use crate::live::LiveView;
use crate::schema::TableSchema;
use crate::table::{full_row, index_key, Holder, Place, Segment, Table, Version};
use crate::txn::{Transaction, Write};
use crate::{RowId, Ts};

/// Rows an index scan collects per lock acquisition: its first batch, and
/// the most a later one (each twice the one before) collects.
const INDEX_BATCH_FIRST_ROWS: usize = 32;
const INDEX_BATCH_ROWS: usize = 256;
/// Distinct values a loose index scan collects per lock acquisition: few
/// enough that the batch is a small allocation (glibc consolidates its
/// free lists, which is slow, before serving a large one).
const DISTINCT_BATCH_VALUES: usize = 32;

/// A resumable full scan of one table at one snapshot (the table's
/// committed rows only; [`Transaction::scan`] adds the transaction's own
/// writes). Holds no lock between calls.
pub struct TableScan {
    table: Arc<Table>,
    ts: Ts,
    /// The schema when the scan began: rows are padded to it.
    schema: Arc<TableSchema>,
    /// The sealed segment being walked (position `seg_no`), and the next
    /// version's offset in it or, once `live` is taken, in the live view.
    segment: Option<Arc<Segment>>,
    seg_no: usize,
    off: usize,
    /// The live segment as it was after the last sealed segment.
    live: Option<LiveView<Version>>,
}

impl TableScan {
    pub(crate) fn new(table: &Arc<Table>, ts: Ts) -> TableScan {
        let schema = table.inner.read().schema.clone();
        TableScan {
            table: table.clone(),
            ts,
            schema,
            segment: None,
            seg_no: 0,
            off: 0,
            live: None,
        }
    }

    /// The schema rows are padded to (the table's when the scan began).
    pub fn schema(&self) -> &Arc<TableSchema> {
        &self.schema
    }

    /// Passes over the next `n` rows (an OFFSET) without building them.
    pub fn skip(&mut self, n: usize) -> Result<()> {
        let mut left = n;
        if left > 0 {
            self.walk(&mut |_, _| {
                left -= 1;
                Ok(left > 0)
            })?;
        }
        Ok(())
    }

    /// Feeds visible rows to `f` until it returns `false` — then returns
    /// `Ok(false)`, and the next call resumes after the row `f` refused —
    /// or until every row was fed (`Ok(true)`; later calls feed nothing).
    pub fn walk(&mut self, f: &mut dyn FnMut(RowId, &[Value]) -> Result<bool>) -> Result<bool> {
        loop {
            if let Some(live) = &self.live {
                while let Some(v) = live.get(self.off) {
                    self.off += 1;
                    if v.visible_at(self.ts) && !f(v.row_id, &full_row(&self.schema, &v.values))? {
                        return Ok(false);
                    }
                }
                return Ok(true);
            }
            if let Some(seg) = self.segment.clone() {
                let versions = seg.versions();
                while let Some(v) = versions.get(self.off) {
                    self.off += 1;
                    if v.visible_at(self.ts) && !f(v.row_id, &full_row(&self.schema, &v.values))? {
                        return Ok(false);
                    }
                }
                self.segment = None;
                self.seg_no += 1;
                self.off = 0;
            }
            // The next sealed segment or, when there is none, the live
            // segment, decided under one acquisition of the lock.
            let inner = self.table.inner.read();
            match inner.sealed_segment(self.seg_no) {
                Some(seg) => self.segment = Some(seg),
                None => self.live = Some(inner.live_view()),
            }
        }
    }
}

/// A resumable index range scan at one snapshot, with the transaction's
/// own writes (as of when it began) merged in at their keys' places.
/// Holds no lock between batches.
pub struct IndexScan<'k> {
    table: Arc<Table>,
    ts: Ts,
    index_no: usize,
    lo: Bound<Cow<'k, [Value]>>,
    hi: Bound<Cow<'k, [Value]>>,
    reverse: bool,
    /// Rows are padded to the table's schema when the first batch was
    /// collected.
    schema: Option<Arc<TableSchema>>,
    /// The transaction's own rows in range, in scan order, not yet fed.
    mine: VecDeque<(Vec<Value>, RowId, Arc<[Value]>)>,
    /// Rows collected under the lock, not yet fed.
    batch: VecDeque<Collected>,
    /// The segments and live chunks the batch's rows are stored in.
    holders: Vec<(Place, Holder)>,
    /// Where the next batch starts.
    resume: Option<Resume>,
    /// Rows the next batch collects: few at first (a LIMIT or a first-rows
    /// join often stops early), growing to [`INDEX_BATCH_ROWS`].
    batch_rows: usize,
    /// The index walk reached the end of the range.
    walked: bool,
    /// Rows still to pass over without collecting them (an OFFSET).
    skip: usize,
}

impl<'k> IndexScan<'k> {
    fn new(
        tx: &Transaction,
        table: &Arc<Table>,
        index_no: usize,
        lo: Bound<Cow<'k, [Value]>>,
        hi: Bound<Cow<'k, [Value]>>,
        reverse: bool,
    ) -> Result<IndexScan<'k>> {
        // Most index scans are lookups of a transaction with no writes to
        // the table: they take the lock once.
        let (schema, mine) = if tx.has_writes_to(table) {
            let (schema, mine) =
                tx.own_rows_in_range(table, index_no, bound(&lo), bound(&hi), reverse)?;
            (Some(schema), mine.into())
        } else {
            (None, VecDeque::new())
        };
        let spare = SPARE.with(|s| s.borrow_mut().pop()).unwrap_or_default();
        Ok(IndexScan {
            table: table.clone(),
            ts: tx.start_ts,
            index_no,
            lo,
            hi,
            reverse,
            schema,
            mine,
            batch: spare.batch,
            holders: spare.holders,
            resume: None,
            batch_rows: INDEX_BATCH_FIRST_ROWS,
            walked: false,
            skip: 0,
        })
    }

    /// Passes over the next `n` rows without reading them (an OFFSET):
    /// they are counted under the lock, never copied.
    pub fn skip(&mut self, n: usize) {
        self.skip = self.skip.saturating_add(n);
    }

    /// Feeds rows to `f` until it returns `false` — then returns
    /// `Ok(false)`, and the next call resumes after the row `f` refused —
    /// or until every row was fed (`Ok(true)`). `tx` is the transaction
    /// the scan was made by.
    pub fn walk(
        &mut self,
        tx: &Transaction,
        f: &mut dyn FnMut(RowId, &[Value]) -> Result<bool>,
    ) -> Result<bool> {
        loop {
            if let Some(schema) = &self.schema {
                while let Some(row) = self.batch.pop_front() {
                    let (rid, values) = match &row {
                        Collected::Own(rid, values) => (*rid, &values[..]),
                        Collected::Stored { row, holder, slot } => {
                            let v = self
                                .holders
                                .get(*holder as usize)
                                .and_then(|(_, h)| h.get(*slot as usize))
                                .ok_or_else(|| Error::internal("index scan lost a version"))?;
                            (*row, &v.values[..])
                        }
                    };
                    if !f(rid, &full_row(schema, values))? {
                        return Ok(false);
                    }
                }
                if self.walked {
                    while self.skip > 0 && self.mine.pop_front().is_some() {
                        self.skip -= 1;
                    }
                    while let Some((_, rid, r)) = self.mine.pop_front() {
                        if !f(rid, &full_row(schema, &r))? {
                            return Ok(false);
                        }
                    }
                    return Ok(true);
                }
            }
            self.collect(tx)?;
        }
    }

    /// Collects the next batch under the table's lock: row ids in key order
    /// (ascending under each key) until the batch is full or the range
    /// ends. A full batch may stop inside a key; the next one resumes there
    /// after the last row id collected.
    fn collect(&mut self, tx: &Transaction) -> Result<()> {
        let inner = self.table.inner.read();
        let schema = self.schema.get_or_insert_with(|| inner.schema.clone());
        let index = inner.index(self.index_no)?;
        let def = &index.def;
        let reverse = self.reverse;
        let (lo, hi) = match (&self.resume, reverse) {
            (None, _) => (bound(&self.lo), bound(&self.hi)),
            (Some(r), false) => (r.bound(), bound(&self.hi)),
            (Some(r), true) => (bound(&self.lo), r.bound()),
        };
        let after = self
            .resume
            .as_ref()
            .and_then(|r| Some((r.key.as_slice(), r.after?)));
        let own = tx.writes.get(&self.table.id);
        let (mine, batch, ts) = (&mut self.mine, &mut self.batch, self.ts);
        let holders = &mut self.holders;
        holders.clear();
        let skip = &mut self.skip;
        let want = self.batch_rows;
        let mut stopped_at = None;
        let walked = index.each_in_range(lo, hi, reverse, &mut |key, ids| {
            merge_own_before(mine, batch, skip, key, reverse);
            let ids = match after {
                Some((k, last)) if k == key => &ids[ids.partition_point(|r| *r <= last)..],
                _ => ids,
            };
            for &rid in ids {
                if own.is_some_and(|w| w.rows.contains_key(&rid)) {
                    continue;
                }
                let Some((v, place, slot, ever_updated)) = inner.visible_place(rid, ts) else {
                    continue;
                };
                // Emit a row only under the entry of its visible key: stale
                // entries (older keys of the row) are skipped, so each row
                // comes out once. A row with one version ever has no stale
                // entries, so its key needs no check.
                if ever_updated && !has_key(schema, &def.columns, &v.values, key) {
                    continue;
                }
                if *skip > 0 {
                    *skip -= 1;
                    continue;
                }
                let holder = match holders.iter().position(|(p, _)| *p == place) {
                    Some(h) => h,
                    None => {
                        let Some(h) = inner.holder(place) else {
                            continue;
                        };
                        holders.push((place, h));
                        holders.len() - 1
                    }
                };
                batch.push_back(Collected::Stored {
                    row: rid,
                    holder: holder as u32,
                    slot: slot as u32,
                });
                if batch.len() >= want {
                    stopped_at = Some(Resume {
                        key: key.to_vec(),
                        after: Some(rid),
                    });
                    return Ok(false);
                }
            }
            if batch.len() >= want {
                stopped_at = Some(Resume {
                    key: key.to_vec(),
                    after: None,
                });
                return Ok(false);
            }
            Ok(true)
        })?;
        self.resume = stopped_at;
        self.walked = walked;
        self.batch_rows = (want * 2).min(INDEX_BATCH_ROWS);
        Ok(())
    }
}

/// Moves the transaction's own rows whose keys come before `key` (in scan
/// order) into the batch, or past an OFFSET.
fn merge_own_before(
    mine: &mut VecDeque<(Vec<Value>, RowId, Arc<[Value]>)>,
    batch: &mut VecDeque<Collected>,
    skip: &mut usize,
    key: &[Value],
    reverse: bool,
) {
    while let Some((k, _, _)) = mine.front() {
        let before = if reverse {
            k.as_slice() > key
        } else {
            k.as_slice() < key
        };
        if !before {
            break;
        }
        match mine.pop_front() {
            Some(_) if *skip > 0 => *skip -= 1,
            Some((_, rid, r)) => batch.push_back(Collected::Own(rid, r)),
            None => break,
        }
    }
}

/// Where an index scan's next batch starts.
struct Resume {
    /// The last key the previous batch collected rows under.
    key: Vec<Value>,
    /// When that batch filled up inside `key`: the last row id it took
    /// there (ids under a key are visited in ascending order), and the
    /// next batch starts at `key` again, after it. `None`: `key` is done.
    after: Option<RowId>,
}

impl Resume {
    /// The bound on the scan's starting side for the next batch.
    fn bound(&self) -> Bound<&[Value]> {
        match self.after {
            Some(_) => Bound::Included(self.key.as_slice()),
            None => Bound::Excluded(self.key.as_slice()),
        }
    }
}

impl Drop for IndexScan<'_> {
    fn drop(&mut self) {
        let mut batch = std::mem::take(&mut self.batch);
        let mut holders = std::mem::take(&mut self.holders);
        if batch.capacity() > SPARE_CAPACITY_MAX || holders.capacity() > SPARE_CAPACITY_MAX {
            return;
        }
        batch.clear();
        holders.clear();
        SPARE.with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < SPARE_BUFFERS_MAX {
                s.push(Buffers { batch, holders });
            }
        });
    }
}

/// An index scan's batch buffers.
#[derive(Default)]
struct Buffers {
    batch: VecDeque<Collected>,
    holders: Vec<(Place, Holder)>,
}

thread_local! {
    /// Buffers of finished index scans, for the next ones on this thread:
    /// an index lookup per outer row (a join, a correlated subquery) would
    /// otherwise allocate two per row.
    static SPARE: std::cell::RefCell<Vec<Buffers>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Buffers kept per thread, and the largest one kept.
const SPARE_BUFFERS_MAX: usize = 8;
const SPARE_CAPACITY_MAX: usize = 4 * INDEX_BATCH_ROWS;

/// A row an index scan collected: where its committed version is stored,
/// or the transaction's own version.
enum Collected {
    Stored { row: RowId, holder: u32, slot: u32 },
    Own(RowId, Arc<[Value]>),
}

/// Whether the stored row `values` (padded to `schema`) has `key` in the
/// index columns `columns`: an index entry may be stale (an older key of a
/// row that was updated), and readers check the version they see.
fn has_key(schema: &TableSchema, columns: &[usize], values: &[Value], key: &[Value]) -> bool {
    let values = full_row(schema, values);
    columns
        .iter()
        .zip(key)
        .all(|(&c, k)| values.get(c).is_some_and(|x| x == k))
}

fn bound<'a>(b: &'a Bound<Cow<'_, [Value]>>) -> Bound<&'a [Value]> {
    b.as_ref().map(|c| &**c)
}

impl Transaction {
    /// A resumable scan of `table`'s committed rows at this transaction's
    /// snapshot (without this transaction's own writes; see
    /// [`Transaction::has_writes_to`]).
    pub fn table_scan(&self, table: &Arc<Table>) -> TableScan {
        TableScan::new(table, self.start_ts)
    }

    /// Whether this transaction has written rows of `table`.
    pub fn has_writes_to(&self, table: &Arc<Table>) -> bool {
        self.writes
            .get(&table.id)
            .is_some_and(|w| !w.rows.is_empty())
    }

    /// Visits every row of `table` visible to this transaction: committed
    /// rows first, then its own writes in first-write order. `f` returns
    /// `false` to stop early.
    pub fn scan(
        &self,
        table: &Arc<Table>,
        f: &mut dyn FnMut(RowId, &[Value]) -> Result<bool>,
    ) -> Result<()> {
        let own = self.writes.get(&table.id).filter(|w| !w.rows.is_empty());
        let mut scan = self.table_scan(table);
        let finished = match own {
            None => scan.walk(f)?,
            Some(w) => scan.walk(&mut |rid, values| {
                if w.rows.contains_key(&rid) {
                    return Ok(true);
                }
                f(rid, values)
            })?,
        };
        if !finished {
            return Ok(());
        }
        if let Some(w) = own {
            for rid in &w.order {
                if let Some(Write { row: Some(r), .. }) = w.rows.get(rid) {
                    if !f(*rid, &full_row(scan.schema(), r))? {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    /// Visits the visible rows whose key in index `index_no` lies within the
    /// bounds (compared on the bounds' column count), in key order —
    /// descending when `reverse` — with this transaction's own writes merged
    /// in at their key's place. `f` returns `false` to stop.
    pub fn index_scan_ordered(
        &self,
        table: &Arc<Table>,
        index_no: usize,
        lo: Bound<&[Value]>,
        hi: Bound<&[Value]>,
        reverse: bool,
        f: &mut dyn FnMut(RowId, &[Value]) -> Result<bool>,
    ) -> Result<()> {
        if let (Bound::Included(a), Bound::Included(b)) = (lo, hi) {
            if a == b && !self.has_writes_to(table) {
                if let Some(found) = self.lookup_one(table, index_no, a)? {
                    if let Some((rid, holder, slot, schema)) = found {
                        let v = holder
                            .get(slot)
                            .ok_or_else(|| Error::internal("index lookup lost a version"))?;
                        match schema {
                            Some(schema) => f(rid, &full_row(&schema, &v.values))?,
                            None => f(rid, &v.values)?,
                        };
                    }
                    return Ok(());
                }
            }
        }
        let lo = lo.map(Cow::Borrowed);
        let hi = hi.map(Cow::Borrowed);
        let mut scan = IndexScan::new(self, table, index_no, lo, hi, reverse)?;
        scan.walk(self, f)?;
        Ok(())
    }

    /// A lookup of one whole key that lists at most one row (the usual
    /// primary-key or unique-key lookup), without a batch: `None` when the
    /// key lists more rows or is not a whole key (use a scan); else the
    /// visible row under that key, if any, with a handle on where it is
    /// stored and the schema to pad it to (when it needs padding).
    #[allow(clippy::type_complexity)]
    fn lookup_one(
        &self,
        table: &Arc<Table>,
        index_no: usize,
        key: &[Value],
    ) -> Result<Option<Option<(RowId, Holder, usize, Option<Arc<TableSchema>>)>>> {
        let inner = table.inner.read();
        let index = inner.index(index_no)?;
        let def = &index.def;
        if key.len() != def.columns.len() {
            return Ok(None);
        }
        let rid = match index.get(key) {
            [] => return Ok(Some(None)),
            [rid] => *rid,
            _ => return Ok(None),
        };
        let Some((v, place, slot, ever_updated)) = inner.visible_place(rid, self.start_ts) else {
            return Ok(Some(None));
        };
        let padded = v.values.len() < inner.schema.columns.len();
        // A row with an earlier version may be listed under a key it no
        // longer has (see `IndexScan::collect`).
        if ever_updated && !has_key(&inner.schema, &def.columns, &v.values, key) {
            return Ok(Some(None));
        }
        let Some(holder) = inner.holder(place) else {
            return Ok(Some(None));
        };
        let schema = padded.then(|| inner.schema.clone());
        Ok(Some(Some((rid, holder, slot, schema))))
    }

    /// A resumable [`Transaction::index_scan_ordered`]: the same rows, fed
    /// by [`IndexScan::walk`] as far as the caller wants at a time.
    pub fn index_range_scan<'k>(
        &self,
        table: &Arc<Table>,
        index_no: usize,
        lo: Bound<Cow<'k, [Value]>>,
        hi: Bound<Cow<'k, [Value]>>,
        reverse: bool,
    ) -> Result<IndexScan<'k>> {
        IndexScan::new(self, table, index_no, lo, hi, reverse)
    }

    /// This transaction's own rows whose key in index `index_no` lies within
    /// the bounds, in the scan's key order, and the table's schema.
    #[allow(clippy::type_complexity)]
    fn own_rows_in_range(
        &self,
        table: &Arc<Table>,
        index_no: usize,
        lo: Bound<&[Value]>,
        hi: Bound<&[Value]>,
        reverse: bool,
    ) -> Result<(Arc<TableSchema>, Vec<(Vec<Value>, RowId, Arc<[Value]>)>)> {
        let inner = table.inner.read();
        let schema = inner.schema.clone();
        let def = inner.index(index_no)?.def.clone();
        drop(inner);
        let mut mine = Vec::new();
        if let Some(w) = self.writes.get(&table.id) {
            for rid in &w.order {
                if let Some(Write { row: Some(r), .. }) = w.rows.get(rid) {
                    let key = index_key(&def, &full_row(&schema, r));
                    if key_in_bounds(&key, lo, hi) {
                        mine.push((key, *rid, r.clone()));
                    }
                }
            }
            mine.sort_by(|a, b| {
                if reverse {
                    b.0.cmp(&a.0)
                } else {
                    a.0.cmp(&b.0)
                }
            });
        }
        Ok((schema, mine))
    }

    /// Visits each distinct value of index `index_no`'s first column that
    /// some visible row has, in ascending order, without visiting the other
    /// rows under that value (a loose index scan, for `SELECT DISTINCT`).
    pub fn index_distinct_first(
        &self,
        table: &Arc<Table>,
        index_no: usize,
        f: &mut dyn FnMut(&Value) -> Result<bool>,
    ) -> Result<()> {
        let (schema, columns) = {
            let inner = table.inner.read();
            (
                inner.schema.clone(),
                inner.index(index_no)?.def.columns.clone(),
            )
        };
        let Some(&col) = columns.first() else {
            return Ok(());
        };
        let own = self.writes.get(&table.id);
        // Values this transaction's own rows have, merged in order.
        let mut mine: BTreeSet<Value> = BTreeSet::new();
        if let Some(w) = own {
            for rid in &w.order {
                if let Some(Write { row: Some(r), .. }) = w.rows.get(rid) {
                    mine.insert(full_row(&schema, r).get(col).cloned().unwrap_or_default());
                }
            }
        }
        let mut mine = mine.into_iter().peekable();
        let mut batch: Vec<Value> = Vec::with_capacity(DISTINCT_BATCH_VALUES);
        let mut last: Option<Value> = None;
        loop {
            let finished = {
                let inner = table.inner.read();
                let index = inner.index(index_no)?;
                let resume = last.as_ref().map(std::slice::from_ref);
                let lo = resume.map_or(Bound::Unbounded, Bound::Excluded);
                index.each_in_range(lo, Bound::Unbounded, false, &mut |key, ids| {
                    let Some(first) = key.first() else {
                        return Ok(true);
                    };
                    if batch.last() == Some(first) {
                        return Ok(true);
                    }
                    let seen = ids.iter().any(|&rid| {
                        !own.is_some_and(|w| w.rows.contains_key(&rid))
                            && inner
                                .visible(rid, self.start_ts)
                                .is_some_and(|v| has_key(&schema, &columns, &v.values, key))
                    });
                    if !seen {
                        return Ok(true);
                    }
                    while let Some(m) = mine.next_if(|m| m < first) {
                        batch.push(m);
                    }
                    mine.next_if(|m| m == first);
                    batch.push(first.clone());
                    Ok(batch.len() < DISTINCT_BATCH_VALUES)
                })?
            };
            last = batch.last().cloned();
            for v in batch.drain(..) {
                if !f(&v)? {
                    return Ok(());
                }
            }
            if finished || last.is_none() {
                break;
            }
        }
        for m in mine {
            if !f(&m)? {
                break;
            }
        }
        Ok(())
    }

    /// [`Transaction::index_scan_ordered`] in ascending key order.
    pub fn index_scan(
        &self,
        table: &Arc<Table>,
        index_no: usize,
        lo: Bound<&[Value]>,
        hi: Bound<&[Value]>,
        f: &mut dyn FnMut(RowId, &[Value]) -> Result<bool>,
    ) -> Result<()> {
        self.index_scan_ordered(table, index_no, lo, hi, false, f)
    }
}

fn key_in_bounds(key: &[Value], lo: Bound<&[Value]>, hi: Bound<&[Value]>) -> bool {
    let cmp = |b: &[Value]| {
        let n = b.len().min(key.len());
        key[..n].cmp(&b[..n])
    };
    use std::cmp::Ordering::*;
    let lo_ok = match lo {
        Bound::Included(b) => cmp(b) != Less,
        Bound::Excluded(b) => cmp(b) == Greater,
        Bound::Unbounded => true,
    };
    let hi_ok = match hi {
        Bound::Included(b) => cmp(b) != Greater,
        Bound::Excluded(b) => cmp(b) == Less,
        Bound::Unbounded => true,
    };
    lo_ok && hi_ok
}
