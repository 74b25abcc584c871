//! A query's result as a pull cursor: column names and declared types
//! before the first row, then rows as the consumer asks for them.
//!
//! A query whose plan is a pipeline — a table scan or one index range scan
//! under any stack of filters, projections and `LIMIT`/`OFFSET` (their
//! expressions may hold subqueries) — streams:
//! each pull scans just far enough to fill a small batch (8 rows at
//! first, then up to 32), so `LIMIT 1` over a million rows reads a
//! handful of them and a full scan keeps one batch in memory. The cursor
//! owns a transaction at the statement's snapshot (its own, or a read-only
//! one at the open transaction's snapshot), so the connection stays usable
//! while it is open and later writes do not show through. Every other
//! query runs to completion when the cursor is opened and hands out the
//! buffered rows; moving more operators to pull is an executor change, not
//! an API one. An error met while scanning is returned after the rows
//! before it.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::Arc;

use cairn_core::{DataType, Error, Result, Row, Value};
use cairn_storage::{IndexScan, Table, TableScan, Transaction};

use crate::exec::{push_kept, ExecState, Executor, Settings};
use crate::expr::Expr;
use crate::plan::{Access, Plan, Subqueries};

/// A result column: its name and, where known, its declared type.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub data_type: Option<DataType>,
}

/// Rows pulled per batch: the first batch is small (a `LIMIT 1` or a
/// consumer that stops early reads little), later ones grow a little. The
/// queue of ready rows stays a small allocation (glibc consolidates its
/// free lists, which is slow, before serving a large one); the cost of a
/// batch is one executor and a walk of the plan.
const FIRST_BATCH: usize = 8;
const MAX_BATCH: usize = 32;

/// A query's result, read one row at a time.
pub struct Cursor {
    columns: Arc<[Column]>,
    source: Source,
}

enum Source {
    Buffered(std::vec::IntoIter<Row>),
    Stream(Box<Stream>),
}

impl Cursor {
    /// A cursor over rows already computed.
    pub fn buffered(columns: Arc<[Column]>, rows: Vec<Row>) -> Cursor {
        Cursor {
            columns,
            source: Source::Buffered(rows.into_iter()),
        }
    }

    /// A streaming cursor for `plan` if it is a pipeline this cursor can
    /// pull (see the module docs), reading at `tx`'s snapshot; `None`
    /// otherwise.
    pub(crate) fn stream(
        columns: Arc<[Column]>,
        plan: Arc<Plan>,
        subqueries: Arc<Subqueries>,
        tx: Transaction,
        params: Vec<Value>,
        settings: Settings,
    ) -> Result<Option<Cursor>> {
        let Some((table, access)) = pipeline_scan(&plan) else {
            return Ok(None);
        };
        let mut state = ExecState::default();
        let source = match access {
            Access::Full => Some(RowSource::Table(tx.table_scan(&table))),
            Access::IndexInSet { index_no, sub } => {
                let ex = Executor::new(&tx, &params, settings.clone(), &subqueries);
                let keys = ex.in_set_keys(&table, *index_no, *sub, &[], &[])?;
                // The subquery's result stays for the IN the scan tests.
                state = ex.into_state();
                Some(match keys {
                    Some(keys) => RowSource::Keys(KeyLookups {
                        table: table.clone(),
                        index_no: *index_no,
                        keys: keys.into(),
                        current: None,
                    }),
                    None => RowSource::Table(tx.table_scan(&table)),
                })
            }
            _ => {
                let ex = Executor::new(&tx, &params, settings.clone(), &subqueries);
                match ex.index_bounds(access, &[], &[])? {
                    Some(b) => Some(RowSource::Index(tx.index_range_scan(
                        &table,
                        b.index_no,
                        b.lo.map(Cow::Owned),
                        b.hi.map(Cow::Owned),
                        b.reverse,
                    )?)),
                    // A NULL key: no row matches.
                    None => None,
                }
            }
        };
        let done = source.is_none();
        let scan = source.unwrap_or(RowSource::Table(tx.table_scan(&table)));
        let mut stream = Stream {
            plan,
            subqueries,
            state,
            scan,
            params,
            settings,
            limits: Vec::new(),
            ready: Ready::default(),
            batch: FIRST_BATCH,
            done,
            scanned: 0,
            error: None,
            tx,
        };
        stream.limits = stream.evaluate_limits()?;
        Ok(Some(Cursor {
            columns,
            source: Source::Stream(Box::new(stream)),
        }))
    }

    /// The result's columns (known before the first row).
    pub fn columns(&self) -> &Arc<[Column]> {
        &self.columns
    }

    /// Whether rows are produced as they are pulled (as opposed to computed
    /// in full when the cursor opened).
    pub fn is_streaming(&self) -> bool {
        matches!(self.source, Source::Stream(_))
    }

    /// For a streaming cursor, the table rows it has read so far (rows its
    /// snapshot sees, before filters); `None` for a buffered result.
    pub fn rows_scanned(&self) -> Option<u64> {
        match &self.source {
            Source::Buffered(_) => None,
            Source::Stream(s) => Some(s.scanned),
        }
    }

    /// The next row, or `None` after the last.
    pub fn next_row(&mut self) -> Result<Option<Row>> {
        let mut row = Vec::new();
        Ok(self.next_row_into(&mut row)?.then_some(row))
    }

    /// The next row into `row` (its old values dropped, its allocation
    /// reused); `false` after the last.
    pub fn next_row_into(&mut self, row: &mut Vec<Value>) -> Result<bool> {
        match &mut self.source {
            Source::Buffered(rows) => Ok(rows.next().map(|r| *row = r).is_some()),
            Source::Stream(s) => s.next_row_into(row),
        }
    }

    /// Every remaining row.
    pub fn collect_rows(mut self) -> Result<Vec<Row>> {
        let mut out = Vec::new();
        if let Source::Buffered(rows) = &mut self.source {
            out.extend(rows);
            return Ok(out);
        }
        let mut row = Vec::new();
        while self.next_row_into(&mut row)? {
            out.push(std::mem::take(&mut row));
        }
        Ok(out)
    }
}

impl std::fmt::Debug for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("columns", &self.columns)
            .field("streaming", &self.is_streaming())
            .finish()
    }
}

/// The table a pipeline plan scans and how, if `plan` is one: `Limit`,
/// `Project` and `Filter` nodes over a full scan or a scan of one index
/// range.
pub(crate) fn pipeline_scan(plan: &Plan) -> Option<(Arc<Table>, &Access)> {
    let mut p = plan;
    loop {
        match p {
            Plan::Limit { input, .. }
            | Plan::Project { input, .. }
            | Plan::Filter { input, .. } => p = input,
            // Row ids are for DML, which never reads through a cursor.
            Plan::Scan {
                with_rowid: true, ..
            } => return None,
            Plan::Scan { table, access, .. } => {
                return match access {
                    Access::Full
                    | Access::IndexRange { .. }
                    | Access::IndexOrder { .. }
                    | Access::IndexInSet { .. } => Some((table.clone(), access)),
                    // One key of a unique index: at most one row, which is
                    // cheaper to compute than to stream.
                    Access::IndexEq { index_no, key, .. } => (!table
                        .is_unique_key(*index_no, key.len()))
                    .then(|| (table.clone(), access)),
                    Access::IndexIn { .. } | Access::Vector { .. } => None,
                };
            }
            _ => return None,
        }
    }
}

/// One step of a pipeline above its scan, bottom first.
enum Stage<'p> {
    Filter(&'p Expr),
    Project(&'p [Expr]),
    /// `slot`: which of the stream's limit counters is this stage's.
    Limit {
        slot: usize,
        limit: Option<&'p Expr>,
        offset: Option<&'p Expr>,
    },
}

/// The scan node of a pipeline and the stages above it, bottom first.
struct Pipeline<'p> {
    filter: Option<&'p Expr>,
    keep: Option<&'p [bool]>,
    stages: Vec<Stage<'p>>,
}

impl<'p> Pipeline<'p> {
    fn of(plan: &'p Plan) -> Result<Pipeline<'p>> {
        let mut stages = Vec::new();
        let mut limits = 0;
        let mut p = plan;
        loop {
            match p {
                Plan::Limit {
                    input,
                    limit,
                    offset,
                } => {
                    stages.push(Stage::Limit {
                        slot: limits,
                        limit: limit.as_ref(),
                        offset: offset.as_ref(),
                    });
                    limits += 1;
                    p = input;
                }
                Plan::Project { input, exprs } => {
                    stages.push(Stage::Project(exprs));
                    p = input;
                }
                Plan::Filter { input, predicate } => {
                    stages.push(Stage::Filter(predicate));
                    p = input;
                }
                Plan::Scan { filter, keep, .. } => {
                    stages.reverse();
                    // A projection keeps every row, so a limit right above
                    // one may count (and skip OFFSET rows) before it: the
                    // rows it skips are never projected.
                    for i in 1..stages.len() {
                        let mut j = i;
                        while j > 0
                            && matches!(stages[j], Stage::Limit { .. })
                            && matches!(stages[j - 1], Stage::Project(_))
                        {
                            stages.swap(j - 1, j);
                            j -= 1;
                        }
                    }
                    return Ok(Pipeline {
                        filter: filter.as_ref(),
                        keep: keep.as_deref(),
                        stages,
                    });
                }
                _ => return Err(Error::internal("cursor plan is not a pipeline")),
            }
        }
    }
}

/// `LIMIT`/`OFFSET` of one stage and what passed it so far.
struct LimitState {
    limit: Option<usize>,
    offset: usize,
    seen: usize,
    emitted: usize,
}

/// Where a pipeline's rows come from.
enum RowSource {
    Table(TableScan),
    Index(IndexScan<'static>),
    /// `col IN (SELECT ...)`: one index range per key, in key order.
    Keys(KeyLookups),
}

/// The resumable lookups of an `IndexInSet` access.
struct KeyLookups {
    table: Arc<Table>,
    index_no: usize,
    keys: VecDeque<Value>,
    /// The lookup of the key being read.
    current: Option<IndexScan<'static>>,
}

impl KeyLookups {
    /// [`IndexScan::walk`] over the keys' lookups in turn.
    fn walk(
        &mut self,
        tx: &Transaction,
        f: &mut dyn FnMut(u64, &[Value]) -> Result<bool>,
    ) -> Result<bool> {
        loop {
            if self.current.is_none() {
                let Some(k) = self.keys.pop_front() else {
                    return Ok(true);
                };
                let key = vec![k];
                self.current = Some(tx.index_range_scan(
                    &self.table,
                    self.index_no,
                    Bound::Included(Cow::Owned(key.clone())),
                    Bound::Included(Cow::Owned(key)),
                    false,
                )?);
            }
            if let Some(scan) = &mut self.current {
                if !scan.walk(tx, f)? {
                    return Ok(false);
                }
            }
            self.current = None;
        }
    }
}

/// Which row the next stage reads: the stored one, in place, or one of
/// the two projection buffers.
#[derive(Clone, Copy)]
enum Cur {
    Stored,
    A,
    B,
}

/// Projection buffers reused from row to row: a row is copied only when
/// it is handed out.
#[derive(Default)]
struct Scratch {
    a: Vec<Value>,
    b: Vec<Value>,
}

impl Scratch {
    /// Runs one scanned row through the stages above the scan and queues
    /// it in `ready`, unless a stage dropped it. Sets `reached` when a
    /// limit has let its last row through.
    fn run(
        &mut self,
        pipeline: &Pipeline<'_>,
        values: &[Value],
        ex: &Executor<'_>,
        limits: &mut [LimitState],
        reached: &mut bool,
        ready: &mut Ready,
    ) -> Result<()> {
        let mut cur = Cur::Stored;
        for stage in &pipeline.stages {
            match stage {
                Stage::Filter(p) => {
                    let row = match cur {
                        Cur::Stored => values,
                        Cur::A => &self.a[..],
                        Cur::B => &self.b[..],
                    };
                    if !p.test(row, ex, &[])? {
                        return Ok(());
                    }
                }
                Stage::Project(exprs) => {
                    let (from, to): (&[Value], &mut Vec<Value>) = match cur {
                        Cur::Stored => (values, &mut self.a),
                        Cur::A => (&self.a[..], &mut self.b),
                        Cur::B => (&self.b[..], &mut self.a),
                    };
                    to.clear();
                    for e in exprs.iter() {
                        to.push(e.value(from, ex, &[])?);
                    }
                    cur = match cur {
                        Cur::A => Cur::B,
                        _ => Cur::A,
                    };
                }
                Stage::Limit { slot, .. } => {
                    let Some(l) = limits.get_mut(*slot) else {
                        return Err(Error::internal("cursor limit out of range"));
                    };
                    l.seen += 1;
                    if l.seen <= l.offset {
                        return Ok(());
                    }
                    l.emitted += 1;
                    if l.limit.is_some_and(|n| l.emitted >= n) {
                        // Nothing below may pass this stage again.
                        *reached = true;
                    }
                }
            }
        }
        match cur {
            Cur::Stored => ready.push_kept(values, pipeline.keep),
            Cur::A => ready.push(&mut self.a),
            Cur::B => ready.push(&mut self.b),
        }
        Ok(())
    }
}

/// Rows ready to hand out: their values in one vector and each row's
/// length in another, so a row costs no allocation of its own. Filled
/// only when empty (a batch at a time), read from the front.
#[derive(Default)]
struct Ready {
    values: Vec<Value>,
    lens: Vec<usize>,
    /// The first row not handed out yet, and where its values start.
    next_row: usize,
    next_value: usize,
}

impl Ready {
    /// Rows not handed out yet.
    fn rows(&self) -> usize {
        self.lens.len() - self.next_row
    }

    /// Queues the values of `row`, leaving it empty.
    fn push(&mut self, row: &mut Vec<Value>) {
        self.lens.push(row.len());
        self.values.append(row);
    }

    /// Queues a stored row, unread columns (`keep`) as NULL.
    fn push_kept(&mut self, vals: &[Value], keep: Option<&[bool]>) {
        self.lens.push(vals.len());
        push_kept(&mut self.values, vals, keep);
    }

    /// Moves the first queued row into `row`; `false` if there is none.
    fn pop_into(&mut self, row: &mut Vec<Value>) -> bool {
        let Some(&n) = self.lens.get(self.next_row) else {
            return false;
        };
        let end = (self.next_value + n).min(self.values.len());
        row.clear();
        let taken = self
            .values
            .get_mut(self.next_value..end)
            .unwrap_or_default();
        row.extend(taken.iter_mut().map(std::mem::take));
        self.next_row += 1;
        self.next_value = end;
        if self.next_row == self.lens.len() {
            self.values.clear();
            self.lens.clear();
            self.next_row = 0;
            self.next_value = 0;
        }
        true
    }
}

/// A pipeline being pulled.
struct Stream {
    plan: Arc<Plan>,
    scan: RowSource,
    params: Vec<Value>,
    settings: Settings,
    /// Bottom first, like the stages.
    limits: Vec<LimitState>,
    /// The statement's subquery plans, and what the execution remembers of
    /// them from one batch to the next.
    subqueries: Arc<Subqueries>,
    state: ExecState,
    ready: Ready,
    batch: usize,
    /// The scan is exhausted or a limit is reached.
    done: bool,
    /// Visible table rows read so far.
    scanned: u64,
    /// The error that stopped the scan, returned after the rows before it.
    error: Option<Error>,
    /// Declared last: the scan and plan go before the snapshot is released.
    tx: Transaction,
}

impl Stream {
    fn next_row_into(&mut self, row: &mut Vec<Value>) -> Result<bool> {
        if self.ready.rows() == 0 && !self.done {
            self.fill()?;
        }
        if self.ready.pop_into(row) {
            return Ok(true);
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(false),
        }
    }

    /// Each `Limit` stage's count and offset, by slot.
    fn evaluate_limits(&self) -> Result<Vec<LimitState>> {
        let ex = Executor::new(
            &self.tx,
            &self.params,
            self.settings.clone(),
            &self.subqueries,
        );
        let mut out = Vec::new();
        for stage in Pipeline::of(&self.plan)?.stages {
            if let Stage::Limit {
                slot,
                limit,
                offset,
            } = stage
            {
                let (limit, offset) = ex.limit_offset(limit, offset, &[])?;
                let state = LimitState {
                    limit,
                    offset,
                    seen: 0,
                    emitted: 0,
                };
                out.push((slot, state));
            }
        }
        out.sort_by_key(|(slot, _)| *slot);
        Ok(out.into_iter().map(|(_, state)| state).collect())
    }

    /// Scans until a batch of rows is ready, the scan ends or a limit is
    /// reached.
    fn fill(&mut self) -> Result<()> {
        if self.limits.iter().any(|l| l.limit == Some(0)) {
            self.done = true;
            return Ok(());
        }
        let state = std::mem::take(&mut self.state);
        let ex = Executor::new(
            &self.tx,
            &self.params,
            self.settings.clone(),
            &self.subqueries,
        )
        .with_state(state);
        let pipeline = Pipeline::of(&self.plan)?;
        skip_offset(&mut self.limits, &mut self.scan, &pipeline)?;
        let want = self.batch;
        self.batch = (self.batch * 2).min(MAX_BATCH);
        let (ready, limits) = (&mut self.ready, &mut self.limits);
        let mut reached = false;
        let mut scratch = Scratch::default();
        let scanned = &mut self.scanned;
        let mut each = |_rid: u64, values: &[Value]| -> Result<bool> {
            ex.check_interrupt()?;
            *scanned += 1;
            if let Some(f) = pipeline.filter {
                if !f.test(values, &ex, &[])? {
                    return Ok(true);
                }
            }
            scratch.run(&pipeline, values, &ex, limits, &mut reached, ready)?;
            // A limit may have been reached by a row a later stage dropped.
            Ok(!reached && ready.rows() < want)
        };
        let walked = match &mut self.scan {
            RowSource::Table(scan) => scan.walk(&mut each),
            RowSource::Index(scan) => scan.walk(&self.tx, &mut each),
            RowSource::Keys(keys) => keys.walk(&self.tx, &mut each),
        };
        self.state = ex.into_state();
        let finished = match walked {
            Ok(finished) => finished,
            Err(e) => {
                // Rows before the failing one are still handed out first.
                self.error = Some(e);
                true
            }
        };
        if finished || reached {
            self.done = true;
        }
        Ok(())
    }
}

/// An OFFSET right above an unfiltered scan: the scan passes over those
/// rows without building them.
fn skip_offset(
    limits: &mut [LimitState],
    scan: &mut RowSource,
    pipeline: &Pipeline<'_>,
) -> Result<()> {
    let (None, Some(Stage::Limit { slot, .. })) = (pipeline.filter, pipeline.stages.first()) else {
        return Ok(());
    };
    let Some(l) = limits.get_mut(*slot) else {
        return Ok(());
    };
    if l.seen < l.offset {
        let n = l.offset - l.seen;
        match scan {
            RowSource::Table(scan) => scan.skip(n)?,
            RowSource::Index(scan) => scan.skip(n),
            // Lookups keep the IN as their filter, so this is not reached;
            // if it were, the limit stage would count the rows itself.
            RowSource::Keys(_) => return Ok(()),
        }
        l.seen = l.offset;
    }
    Ok(())
}
