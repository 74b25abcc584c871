//! The executor: runs a [`Plan`] against one transaction's snapshot. It is
//! push-based: [`Executor::stream`] hands rows one at a time to a sink that
//! can stop the producer (so `LIMIT` stops a scan early); blocking
//! operators (sort, aggregate, hash-join build, window, set operations)
//! materialize their input. [`Executor::run`] collects a plan's rows.
//!
//! Expressions evaluate against the executor through `expr`'s
//! [`EvalContext`]: it holds the statement's parameters, its transaction
//! and its subquery plans ([`Subqueries`], looked up by the id an
//! expression names). Uncorrelated subqueries and CTEs are computed once
//! per execution.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::ops::Bound;
use std::rc::Rc;
use std::sync::Arc;

use cairn_core::{Error, Result, Row, Value};
use cairn_storage::Transaction;

use crate::cost::{self, VectorPath, SELECTIVITY_SAMPLE_ROWS};
use crate::expr::{EvalContext, Expr, SubqueryRef, ValueSet};
use crate::plan::{
    Access, AggCall, AggFunc, Frame, GroupedSubquery, JoinKind, Plan, SetOpKind, SortKey,
    Subqueries, SubqueryPlan, WinFunc, WindowCall, WindowStream,
};

/// Rows an intermediate result may hold before the statement fails with a
/// limit error instead of exhausting memory.
pub const INTERMEDIATE_ROWS_MAX: usize = 50_000_000;
/// Iterations of a recursive CTE before it is stopped.
pub const RECURSION_STEPS_MAX: usize = 1_000_000;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Receives rows one at a time; returns `false` to stop the producer.
pub type Sink<'a> = &'a mut dyn FnMut(&[Value]) -> Result<bool>;

enum Cached {
    Scalar(Value),
    Set(Arc<ValueSet>),
    Exists(bool),
    /// A grouped subquery's results by key, and the result for no group.
    Grouped(Arc<(FastMap<Vec<Value>, Value>, Value)>),
}

/// What an execution remembers between evaluations of its subqueries: the
/// results of uncorrelated ones, and how often each grouped (decorrelated)
/// one has been evaluated per row. A streaming cursor keeps it from one
/// batch to the next, so a subquery runs once per statement, not per batch.
#[derive(Default)]
pub struct ExecState {
    cache: HashMap<usize, Cached>,
    calls: HashMap<usize, usize>,
}

/// A flag another thread raises to stop a connection's running statement
/// (the shell's Ctrl-C, a server's cancel request). The statement fails
/// with [`Error::Interrupted`] at its next row; what it wrote is rolled back
/// like any failed statement's. Cheap to clone; all clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Interrupt {
    /// Asks the statement running now (if any) to stop.
    pub fn interrupt(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Forgets an interrupt nothing was running for (at statement start).
    pub(crate) fn clear(&self) {
        self.0.store(false, std::sync::atomic::Ordering::Release);
    }

    fn is_set(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The session settings a statement runs with, fixed when it starts and
/// given to its executor at construction (so every statement kind —
/// SELECT, the scans inside INSERT/UPDATE/DELETE, EXPLAIN — sees the same
/// values), and the connection's interrupt flag.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `hnsw.ef_search` in force (the transaction's `SET LOCAL` value, else
    /// the session's).
    pub ef_search: usize,
    /// `vector.rerank` in force: candidates re-ranked exactly per result on
    /// quantized indexes; `None` = each index's own `rerank`.
    pub rerank: Option<usize>,
    /// Checked once per row scanned and per recursive-CTE step.
    pub interrupt: Option<Interrupt>,
    /// `statement_timeout`: when the statement must stop, and the setting
    /// as the user wrote it (for the error). Checked with the interrupt.
    pub deadline: Option<(std::time::Instant, std::sync::Arc<str>)>,
}

impl Settings {
    /// [`Error::Interrupted`] once the connection's interrupt flag is up,
    /// [`Error::Timeout`] once the statement's deadline has passed: what
    /// long work outside the executor (a vector index build) asks now and
    /// then.
    pub fn stop_check(&self) -> Result<()> {
        if self.interrupt.as_ref().is_some_and(Interrupt::is_set) {
            return Err(Error::Interrupted);
        }
        match &self.deadline {
            Some((deadline, limit)) if std::time::Instant::now() >= *deadline => {
                Err(Error::Timeout {
                    limit: limit.to_string(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Setting `name`'s value as `SHOW` and `current_setting()` print it;
    /// `None` if there is no such setting.
    pub fn value(&self, name: &str) -> Option<String> {
        match name {
            "hnsw.ef_search" => Some(self.ef_search.to_string()),
            "vector.rerank" => Some(self.rerank.map_or("default".to_string(), |r| r.to_string())),
            "statement_timeout" => Some(
                self.deadline
                    .as_ref()
                    .map_or("0".to_string(), |(_, text)| text.to_string()),
            ),
            _ => None,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ef_search: cairn_storage::EF_SEARCH_DEFAULT,
            rerank: None,
            interrupt: None,
            deadline: None,
        }
    }
}

/// Rows between two reads of the clock for `statement_timeout`.
const DEADLINE_CHECK_ROWS: u32 = 64;

/// What an index access reads (see [`Executor::index_bounds`]).
pub(crate) struct IndexBounds {
    pub(crate) index_no: usize,
    pub(crate) lo: Bound<Vec<Value>>,
    pub(crate) hi: Bound<Vec<Value>>,
    pub(crate) reverse: bool,
}

pub struct Executor<'a> {
    tx: &'a Transaction,
    params: &'a [Value],
    settings: Settings,
    /// The statement's subquery plans, which its expressions name by id.
    subqueries: &'a Subqueries,
    cache: RefCell<HashMap<usize, Cached>>,
    ctes: RefCell<HashMap<usize, Rc<Vec<Row>>>>,
    /// Per-row evaluations so far of each adaptive (grouped) subquery.
    calls: RefCell<HashMap<usize, usize>>,
    /// Interrupt checks since the clock was last read (`statement_timeout`).
    ticks: std::cell::Cell<u32>,
    /// EXPLAIN ANALYZE: rows produced, runs and time, per operator (keyed
    /// by the operator's address in the plan, which outlives the executor).
    profile: Option<RefCell<HashMap<usize, OperatorStats>>>,
    /// EXPLAIN ANALYZE: the operator whose own code runs now, and since
    /// when (0: none yet).
    clock: RefCell<(usize, std::time::Instant)>,
}

/// Where a filtered nearest-neighbour search's selectivity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SelectivitySource {
    None,
    /// The table's statistics (`ANALYZE`).
    Statistics,
    /// A sample of rows, tested with the filter.
    Sample,
}

/// What one operator did in an EXPLAIN ANALYZE run.
#[derive(Debug, Clone, Copy, Default)]
pub struct OperatorStats {
    /// Rows it handed to its consumer, over all its runs.
    pub rows: u64,
    /// Times it was started (more than 1 inside a nested loop or a
    /// per-row subquery).
    pub loops: u64,
    /// Time spent in its own code, over all its runs: not in its inputs'
    /// (they are timed themselves), not in its consumer's (the time a row
    /// it hands over takes downstream).
    pub time: std::time::Duration,
}

/// What a join step produces for one left row at a time: each pair with a
/// right row that passes the join's condition, and for a LEFT join a left
/// row that has none, padded with NULLs.
struct Pairs {
    kind: JoinKind,
    right_width: usize,
    buf: Vec<Value>,
    /// Pairs produced so far (bounded by `INTERMEDIATE_ROWS_MAX`).
    produced: usize,
    /// The current left row has had a pair.
    matched: bool,
}

impl Pairs {
    fn new(kind: JoinKind, right_width: usize) -> Pairs {
        Pairs {
            kind,
            right_width,
            buf: Vec::new(),
            produced: 0,
            matched: false,
        }
    }

    /// A new left row.
    fn start(&mut self) {
        self.matched = false;
    }

    /// Sends `lr ++ rr` to `sink` if it passes `cond`; `false` once the
    /// consumer stops. Every pair counts as a row for interrupts and
    /// timeouts: a cross join may read few rows.
    fn pair(
        &mut self,
        ex: &Executor,
        lr: &[Value],
        rr: &[Value],
        cond: Option<&Expr>,
        outer: &[&[Value]],
        sink: Sink<'_>,
    ) -> Result<bool> {
        ex.check_interrupt()?;
        self.buf.clear();
        self.buf.extend_from_slice(lr);
        self.buf.extend_from_slice(rr);
        if let Some(c) = cond {
            if !c.test(&self.buf, ex, outer)? {
                return Ok(true);
            }
        }
        self.matched = true;
        self.produced += 1;
        if self.produced > INTERMEDIATE_ROWS_MAX {
            return Err(too_many());
        }
        sink(&self.buf)
    }

    /// After the left row's pairs: its NULL-padded row for a LEFT join
    /// that found none.
    fn end(&mut self, lr: &[Value], sink: Sink<'_>) -> Result<bool> {
        if self.matched || self.kind != JoinKind::Left {
            return Ok(true);
        }
        self.buf.clear();
        self.buf.extend_from_slice(lr);
        self.buf.resize(lr.len() + self.right_width, Value::Null);
        sink(&self.buf)
    }
}

fn too_many() -> Error {
    Error::Limit {
        what: "rows in an intermediate result".into(),
        max: INTERMEDIATE_ROWS_MAX as u64,
    }
}

/// Expressions evaluate against the executor: it holds the parameters and
/// the transaction, and runs (and caches) subqueries.
impl EvalContext for Executor<'_> {
    fn params(&self) -> &[Value] {
        self.params
    }

    fn setting(&self, name: &str) -> Option<String> {
        self.settings.value(name)
    }

    fn transaction(&self) -> &Transaction {
        self.tx
    }

    fn subquery_scalar(
        &self,
        sub: SubqueryRef,
        row: &[Value],
        outer: &[&[Value]],
    ) -> Result<Value> {
        if !sub.correlated {
            if let Some(Cached::Scalar(v)) = self.cache.borrow().get(&sub.id) {
                return Ok(v.clone());
            }
        }
        let mut v = Value::Null;
        self.stream_sub(sub, row, outer, &mut |r| {
            v = r.first().cloned().unwrap_or(Value::Null);
            Ok(false)
        })?;
        if !sub.correlated {
            self.cache
                .borrow_mut()
                .insert(sub.id, Cached::Scalar(v.clone()));
        }
        Ok(v)
    }

    fn subquery_exists(&self, sub: SubqueryRef, row: &[Value], outer: &[&[Value]]) -> Result<bool> {
        if !sub.correlated {
            if let Some(Cached::Exists(b)) = self.cache.borrow().get(&sub.id) {
                return Ok(*b);
            }
        }
        let mut found = false;
        self.stream_sub(sub, row, outer, &mut |_| {
            found = true;
            Ok(false)
        })?;
        if !sub.correlated {
            self.cache
                .borrow_mut()
                .insert(sub.id, Cached::Exists(found));
        }
        Ok(found)
    }

    fn subquery_set(
        &self,
        sub: SubqueryRef,
        row: &[Value],
        outer: &[&[Value]],
    ) -> Result<Arc<ValueSet>> {
        if !sub.correlated {
            if let Some(Cached::Set(s)) = self.cache.borrow().get(&sub.id) {
                return Ok(s.clone());
            }
        }
        let mut set = ValueSet::default();
        self.stream_sub(sub, row, outer, &mut |r| {
            match r.first() {
                Some(Value::Null) | None => set.has_null = true,
                Some(v) => {
                    if !set.values.contains(v) {
                        set.values.insert(v.clone());
                    }
                }
            }
            Ok(true)
        })?;
        let set = Arc::new(set);
        if !sub.correlated {
            self.cache
                .borrow_mut()
                .insert(sub.id, Cached::Set(set.clone()));
        }
        Ok(set)
    }

    /// The first `threshold()` rows of an execution run the subquery per
    /// row; after that the grouped aggregation runs once and each row is a
    /// hash lookup (a row with no group, or a NULL key, gets the aggregates
    /// of no rows: `count` 0, the others NULL).
    fn grouped_subquery(
        &self,
        sub: SubqueryRef,
        row: &[Value],
        outer: &[&[Value]],
    ) -> Result<Value> {
        let SubqueryPlan::Grouped(g) = self.subquery_plan(sub.id)? else {
            return Err(Error::internal(format!(
                "subquery {} is not grouped",
                sub.id
            )));
        };
        {
            let mut calls = self.calls.borrow_mut();
            let n = calls.entry(sub.id).or_insert(0);
            if *n < g.threshold() {
                *n += 1;
                drop(calls);
                return self.subquery_scalar(sub, row, outer);
            }
        }
        let table = self.grouped_table(sub.id, g)?;
        let mut key = Vec::with_capacity(g.keys.len());
        for k in &g.keys {
            let v = k.eval(row, self, outer)?;
            if v.is_null() {
                return Ok(table.1.clone());
            }
            key.push(v);
        }
        Ok(table
            .0
            .get(&key)
            .cloned()
            .unwrap_or_else(|| table.1.clone()))
    }
}

impl<'a> Executor<'a> {
    pub fn new(
        tx: &'a Transaction,
        params: &'a [Value],
        settings: Settings,
        subqueries: &'a Subqueries,
    ) -> Executor<'a> {
        Executor {
            tx,
            params,
            settings,
            subqueries,
            cache: RefCell::new(HashMap::new()),
            ctes: RefCell::new(HashMap::new()),
            calls: RefCell::new(HashMap::new()),
            ticks: std::cell::Cell::new(0),
            profile: None,
            clock: RefCell::new((0, std::time::Instant::now())),
        }
    }

    /// Continues an execution whose subquery results are in `state`.
    pub fn with_state(self, state: ExecState) -> Self {
        *self.cache.borrow_mut() = state.cache;
        *self.calls.borrow_mut() = state.calls;
        self
    }

    /// What this execution remembers, to continue it later.
    pub fn into_state(self) -> ExecState {
        ExecState {
            cache: self.cache.into_inner(),
            calls: self.calls.into_inner(),
        }
    }

    /// Counts rows and runs per operator (for EXPLAIN ANALYZE).
    pub fn profiled(mut self) -> Self {
        self.profile = Some(RefCell::new(HashMap::new()));
        self
    }

    /// What `plan` (an operator of a plan this executor ran) did, if
    /// profiled and run.
    pub fn stats_of(&self, plan: &Plan) -> Option<OperatorStats> {
        let key = plan as *const Plan as usize;
        self.profile.as_ref()?.borrow().get(&key).copied()
    }

    /// Records a run of `plan` that produced `rows` rows (for operators
    /// `run` computes without streaming).
    fn note_run(&self, plan: &Plan, rows: usize) {
        if let Some(profile) = &self.profile {
            let mut p = profile.borrow_mut();
            let s = p.entry(plan as *const Plan as usize).or_default();
            s.rows += rows as u64;
            s.loops += 1;
        }
    }

    /// EXPLAIN ANALYZE's clock: charges the time since the last switch to
    /// the operator that was running, and makes `key`'s the one running.
    /// Returns the previous one's key.
    fn switch_to(&self, key: usize) -> usize {
        let Some(profile) = &self.profile else {
            return 0;
        };
        let now = std::time::Instant::now();
        let mut clock = self.clock.borrow_mut();
        let (prev, since) = *clock;
        if prev != 0 {
            profile.borrow_mut().entry(prev).or_default().time += now - since;
        }
        *clock = (key, now);
        prev
    }

    /// Runs `f` with its time charged to `plan` (when profiling).
    fn timed<T>(&self, plan: &Plan, f: impl FnOnce() -> T) -> T {
        let prev = self.switch_to(plan as *const Plan as usize);
        let r = f();
        self.switch_to(prev);
        r
    }

    /// Runs one operator, counting its rows and timing its own code when
    /// profiling: the time a row spends in `sink` is its consumer's.
    fn counted(
        &self,
        plan: &Plan,
        sink: Sink<'_>,
        run: &mut dyn FnMut(Sink<'_>) -> Result<bool>,
    ) -> Result<bool> {
        if self.profile.is_none() {
            return run(sink);
        }
        let me = plan as *const Plan as usize;
        let mut rows = 0usize;
        let prev = self.switch_to(me);
        let r = run(&mut |row| {
            rows += 1;
            self.switch_to(prev);
            let r = sink(row);
            self.switch_to(me);
            r
        });
        self.switch_to(prev);
        self.note_run(plan, rows);
        r
    }

    // ---- subqueries ----------------------------------------------------

    /// Runs each `WITH` table's plan and keeps its rows for the plans that
    /// read it (`Plan::With`, and a write statement's WITH tables).
    pub(crate) fn materialize_ctes(
        &self,
        ctes: &[(usize, String, Plan)],
        outer: &[&[Value]],
    ) -> Result<()> {
        for (id, _, p) in ctes {
            let rows = self.run(p, outer)?;
            self.ctes.borrow_mut().insert(*id, Rc::new(rows));
        }
        Ok(())
    }

    /// The `WITH` tables materialized so far (shared, not copied).
    pub(crate) fn cte_rows(&self) -> HashMap<usize, Rc<Vec<Row>>> {
        self.ctes.borrow().clone()
    }

    /// Makes `ctes` (from [`Executor::cte_rows`]) readable here.
    pub(crate) fn adopt_ctes(&self, ctes: &HashMap<usize, Rc<Vec<Row>>>) {
        let mut mine = self.ctes.borrow_mut();
        for (id, rows) in ctes {
            mine.insert(*id, rows.clone());
        }
    }

    fn subquery_plan(&self, id: usize) -> Result<&'a SubqueryPlan> {
        self.subqueries
            .get(id)
            .ok_or_else(|| Error::internal(format!("subquery {id} has no plan")))
    }

    /// Streams a subquery's rows; a correlated one sees `row` as its
    /// nearest outer row.
    fn stream_sub(
        &self,
        sub: SubqueryRef,
        row: &[Value],
        outer: &[&[Value]],
        sink: Sink<'_>,
    ) -> Result<bool> {
        let plan = self.subquery_plan(sub.id)?.per_row();
        if sub.correlated {
            let mut stack: Vec<&[Value]> = Vec::with_capacity(outer.len() + 1);
            stack.push(row);
            stack.extend_from_slice(outer);
            self.stream(plan, &stack, sink)
        } else {
            self.stream(plan, &[], sink)
        }
    }

    /// A grouped subquery's results by key and its result for no group,
    /// computed on first use in this execution.
    fn grouped_table(
        &self,
        id: usize,
        g: &GroupedSubquery,
    ) -> Result<Arc<(FastMap<Vec<Value>, Value>, Value)>> {
        if let Some(Cached::Grouped(t)) = self.cache.borrow().get(&id) {
            return Ok(t.clone());
        }
        let n = g.keys.len();
        let mut map: FastMap<Vec<Value>, Value> = FastMap::default();
        for r in self.run(&g.plan, &[])? {
            if r[..n].iter().any(Value::is_null) {
                continue;
            }
            let v = g.project.eval(&r, self, &[])?;
            map.insert(r[..n].to_vec(), v);
        }
        let mut empty_row = vec![Value::Null; n];
        for a in &g.aggs {
            empty_row.push(Acc::new(a).finish(a)?);
        }
        let empty = g.project.eval(&empty_row, self, &[])?;
        let t = Arc::new((map, empty));
        self.cache
            .borrow_mut()
            .insert(id, Cached::Grouped(t.clone()));
        Ok(t)
    }

    // ---- operators -----------------------------------------------------

    /// Runs `plan` and collects its rows.
    pub fn run(&self, plan: &Plan, outer: &[&[Value]]) -> Result<Vec<Row>> {
        // Besides every scanned row: every (sub)plan run, so a recursive
        // CTE's steps, which scan no table, stop too.
        self.check_interrupt()?;
        if let Plan::Values { rows } = plan {
            let out: Vec<Row> = self.timed(plan, || {
                rows.iter()
                    .map(|r| r.iter().map(|e| e.eval(&[], self, outer)).collect())
                    .collect::<Result<_>>()
            })?;
            self.note_run(plan, out.len());
            return Ok(out);
        }
        let mut out = Vec::new();
        if let Plan::Project { input, exprs } = plan {
            // Build each projected row once, owned, instead of projecting
            // into a buffer and copying it.
            self.timed(plan, || {
                self.stream_in_place(input, outer, &mut |r| {
                    let mut row = Vec::with_capacity(exprs.len());
                    for e in exprs {
                        row.push(e.value(r, self, outer)?);
                    }
                    out.push(row);
                    Ok(true)
                })
            })?;
            self.note_run(plan, out.len());
            return Ok(out);
        }
        if let Plan::Scan {
            keep,
            with_rowid: false,
            ..
        } = plan
        {
            // Each stored row is copied once, unread columns as NULL
            // (not into a buffer and then out of it).
            self.stream_scan(plan, outer, 0, true, &mut |r| {
                let mut row = Vec::with_capacity(r.len());
                push_kept(&mut row, r, keep.as_deref());
                out.push(row);
                Ok(true)
            })?;
            return Ok(out);
        }
        self.stream(plan, outer, &mut |r| {
            out.push(r.to_vec());
            Ok(true)
        })?;
        Ok(out)
    }

    /// A nested-loop join: the right input is computed once, then every
    /// left row is paired with every right row that passes `on`.
    fn nested_loop(
        &self,
        left: &Plan,
        right: &Plan,
        kind: JoinKind,
        on: Option<&Expr>,
        outer: &[&[Value]],
        sink: Sink<'_>,
    ) -> Result<bool> {
        let r = self.run(right, outer)?;
        let mut pairs = Pairs::new(kind, right.width());
        self.stream(left, outer, &mut |lr| {
            pairs.start();
            for rr in &r {
                if !pairs.pair(self, lr, rr, on, outer, sink)? {
                    return Ok(false);
                }
            }
            pairs.end(lr, sink)
        })
    }

    /// A hash join building on the right input; `keys` are the left and
    /// right key expressions.
    #[allow(clippy::too_many_arguments)]
    fn hash_join(
        &self,
        left: &Plan,
        right: &Plan,
        kind: JoinKind,
        (left_keys, right_keys): (&[Expr], &[Expr]),
        residual: Option<&Expr>,
        outer: &[&[Value]],
        sink: Sink<'_>,
    ) -> Result<bool> {
        let r = self.run(right, outer)?;
        let table = JoinTable::build(self, right_keys, &r, outer)?;
        let mut pairs = Pairs::new(kind, right.width());
        self.stream(left, outer, &mut |lr| {
            pairs.start();
            if let Some(ids) = table.probe(self, left_keys, lr, outer)? {
                for &i in ids {
                    if !pairs.pair(self, lr, &r[i], residual, outer, sink)? {
                        return Ok(false);
                    }
                }
            }
            pairs.end(lr, sink)
        })
    }

    /// Pushes `plan`'s rows into `sink`, one borrowed row at a time, until
    /// the plan is exhausted (returns `true`) or `sink` returns `false`
    /// (returns `false`: the consumer has what it needs; producers stop).
    pub fn stream(&self, plan: &Plan, outer: &[&[Value]], sink: Sink<'_>) -> Result<bool> {
        match plan {
            // Counted in `stream_scan`, which other paths enter directly.
            Plan::Scan { .. } => self.stream_op(plan, outer, sink),
            _ => self.counted(plan, sink, &mut |sink| self.stream_op(plan, outer, sink)),
        }
    }

    /// LIMIT / OFFSET: a top-k sort when the input is a sort; otherwise
    /// the input streams until enough rows are out (a scan skips the
    /// OFFSET rows itself, unbuilt).
    fn limit(
        &self,
        input: &Plan,
        limit: Option<&Expr>,
        offset: Option<&Expr>,
        outer: &[&[Value]],
        sink: Sink<'_>,
    ) -> Result<bool> {
        let (limit, offset) = self.limit_offset(limit, offset, outer)?;
        if limit == Some(0) {
            return Ok(true);
        }
        // Row-by-row window functions over a sort: only the first
        // offset + limit rows of the sort are needed.
        let window_top = match (input, limit) {
            (
                Plan::Window {
                    input: sorted,
                    calls,
                    stream: WindowStream::Rows,
                },
                Some(l),
            ) => match &**sorted {
                Plan::Sort {
                    input: sort_input,
                    keys,
                } => {
                    let k = l.saturating_add(offset);
                    Some((self.sorted(sort_input, keys, outer, Some(k))?, calls))
                }
                _ => None,
            },
            _ => None,
        };
        if let (
            Plan::Sort {
                input: sort_input,
                keys,
            },
            Some(l),
        ) = (input, limit)
        {
            // A top-k sort: only the first offset + limit rows are kept.
            let k = l.saturating_add(offset);
            let rows = self.timed(input, || self.sorted(sort_input, keys, outer, Some(k)))?;
            self.note_run(input, rows.len());
            return emit_all(rows.get(offset.min(rows.len())..).unwrap_or(&[]), sink);
        }
        let mut seen = 0usize;
        let mut emitted = 0usize;
        let mut stopped = false;
        // A scan skips OFFSET rows itself, before building them.
        let (skip_here, skip_in_scan) = match input {
            Plan::Scan { .. } => (0, offset),
            _ => (offset, 0),
        };
        let mut limited = |r: &[Value]| -> Result<bool> {
            seen += 1;
            if seen <= skip_here {
                return Ok(true);
            }
            emitted += 1;
            if !sink(r)? {
                stopped = true;
                return Ok(false);
            }
            Ok(limit.is_none_or(|l| emitted < l))
        };
        if let Some((rows, calls)) = &window_top {
            self.window_rows(rows, calls, outer, &mut limited)?;
        } else if skip_in_scan > 0 {
            self.stream_scan(input, outer, skip_in_scan, false, &mut limited)?;
        } else {
            self.stream(input, outer, &mut limited)?;
        }
        Ok(!stopped)
    }

    /// An index nested-loop join: each left row looks its keys up in the
    /// right table's index.
    fn index_join(&self, plan: &Plan, outer: &[&[Value]], sink: Sink<'_>) -> Result<bool> {
        let Plan::IndexJoin {
            left,
            table,
            index_no,
            keys,
            filter,
            kind,
            residual,
            keep,
            ..
        } = plan
        else {
            return Err(Error::internal("index_join of another operator"));
        };
        let rw = table.schema().columns.len();
        let access = Access::IndexEq {
            index_no: *index_no,
            key: keys.clone(),
            reverse: false,
        };
        let mut buf = Vec::new();
        self.stream(left, outer, &mut |lr| {
            let mut matched = false;
            let mut more = true;
            self.access(table, &access, outer, lr, &mut |_rid, vals| {
                if let Some(f) = filter {
                    if !f.test(vals, self, outer)? {
                        return Ok(true);
                    }
                }
                buf.clear();
                buf.extend_from_slice(lr);
                push_kept(&mut buf, vals, keep.as_deref());
                if let Some(res) = residual {
                    if !res.test(&buf, self, outer)? {
                        return Ok(true);
                    }
                }
                matched = true;
                more = sink(&buf)?;
                Ok(more)
            })?;
            if !more {
                return Ok(false);
            }
            if !matched && *kind == JoinKind::Left {
                buf.clear();
                buf.extend_from_slice(lr);
                buf.resize(lr.len() + rw, Value::Null);
                return sink(&buf);
            }
            Ok(true)
        })
    }

    /// `WITH RECURSIVE`: the base rows, then the step over the previous
    /// step's rows until it adds none (UNION drops rows seen before).
    fn recursive_cte(
        &self,
        id: usize,
        base: &Plan,
        step: &Plan,
        all: bool,
        outer: &[&[Value]],
        sink: Sink<'_>,
    ) -> Result<bool> {
        let mut result = self.run(base, outer)?;
        let mut seen: HashSet<Vec<Value>> = HashSet::new();
        if !all {
            result.retain(|r| seen.insert(r.clone()));
        }
        let mut working = result.clone();
        let mut steps = 0;
        while !working.is_empty() {
            steps += 1;
            if steps > RECURSION_STEPS_MAX || result.len() > INTERMEDIATE_ROWS_MAX {
                return Err(Error::Limit {
                    what: "recursive CTE iterations".into(),
                    max: RECURSION_STEPS_MAX as u64,
                });
            }
            self.ctes.borrow_mut().insert(id, Rc::new(working));
            let mut new = self.run(step, outer)?;
            if !all {
                new.retain(|r| seen.insert(r.clone()));
            }
            result.extend(new.iter().cloned());
            working = new;
        }
        self.ctes.borrow_mut().remove(&id);
        emit_all(&result, sink)
    }

    // long: one match arm per operator; the long operators are methods of
    // their own (joins, limit, recursive CTEs, scans).
    fn stream_op(&self, plan: &Plan, outer: &[&[Value]], sink: Sink<'_>) -> Result<bool> {
        match plan {
            Plan::Single => sink(&[]),
            Plan::Values { rows } => {
                let mut buf = Vec::new();
                for r in rows {
                    buf.clear();
                    for e in r {
                        buf.push(e.eval(&[], self, outer)?);
                    }
                    if !sink(&buf)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Plan::System(s) => {
                for row in s.read(self.tx.store()) {
                    if !sink(&row)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Plan::Scan { .. } => self.stream_scan(plan, outer, 0, false, sink),
            Plan::Filter { input, predicate } => self.stream(input, outer, &mut |r| {
                if predicate.test(r, self, outer)? {
                    sink(r)
                } else {
                    Ok(true)
                }
            }),
            Plan::Project { input, exprs } => {
                let mut buf = Vec::with_capacity(exprs.len());
                self.stream_in_place(input, outer, &mut |r| {
                    buf.clear();
                    for e in exprs {
                        buf.push(e.value(r, self, outer)?);
                    }
                    sink(&buf)
                })
            }
            Plan::NestedLoop {
                left,
                right,
                kind,
                on,
            } => self.nested_loop(left, right, *kind, on.as_ref(), outer, sink),
            Plan::HashJoin {
                left,
                right,
                kind,
                left_keys,
                right_keys,
                residual,
            } => {
                let keys = (&left_keys[..], &right_keys[..]);
                self.hash_join(left, right, *kind, keys, residual.as_ref(), outer, sink)
            }
            Plan::IndexJoin { .. } => self.index_join(plan, outer, sink),
            Plan::Aggregate {
                input,
                group_by,
                aggs,
                ordered: false,
            } => {
                let groups = self.aggregate(input, group_by, aggs, outer)?;
                emit_all(&groups, sink)
            }
            Plan::Aggregate {
                input,
                group_by,
                aggs,
                ordered: true,
            } => self.stream_aggregate(input, group_by, aggs, outer, sink),
            Plan::Window {
                input,
                calls,
                stream: WindowStream::Partitions,
            } => self.window_by_partition(input, calls, outer, sink),
            Plan::Window {
                input,
                calls,
                stream: WindowStream::Rows,
            } => self.window_by_row(input, calls, outer, sink),
            Plan::Window { input, calls, .. } => {
                let rows = self.run(input, outer)?;
                self.window_emit(&rows, calls, outer, sink)
            }
            Plan::Sort { input, keys } => {
                let rows = self.sorted(input, keys, outer, None)?;
                emit_all(&rows, sink)
            }
            Plan::Limit {
                input,
                limit,
                offset,
            } => self.limit(input, limit.as_ref(), offset.as_ref(), outer, sink),
            Plan::IndexDistinct {
                table, index_no, ..
            } => {
                let mut more = true;
                let mut buf = vec![Value::Null];
                self.tx.index_distinct_first(table, *index_no, &mut |v| {
                    buf[0] = v.clone();
                    more = sink(&buf)?;
                    Ok(more)
                })?;
                Ok(more)
            }
            Plan::Distinct { input, width } => {
                let mut seen: HashSet<Vec<Value>, foldhash::fast::RandomState> = HashSet::default();
                self.stream(input, outer, &mut |r| {
                    let key = &r[..(*width).min(r.len())];
                    if seen.contains(key) {
                        return Ok(true);
                    }
                    seen.insert(key.to_vec());
                    sink(r)
                })
            }
            Plan::SetOp {
                kind,
                all,
                left,
                right,
            } => {
                if *kind == SetOpKind::Union && *all {
                    if !self.stream(left, outer, sink)? {
                        return Ok(false);
                    }
                    return self.stream(right, outer, sink);
                }
                let l = self.run(left, outer)?;
                let r = self.run(right, outer)?;
                emit_all(&set_op(*kind, *all, l, r), sink)
            }
            Plan::CteScan { id, name, .. } | Plan::WorkingSet { id, name, .. } => {
                let rows = self
                    .ctes
                    .borrow()
                    .get(id)
                    .cloned()
                    .ok_or_else(|| Error::internal(format!("CTE {name} not materialized")))?;
                emit_all(&rows, sink)
            }
            Plan::With { ctes, input } => {
                self.materialize_ctes(ctes, outer)?;
                self.stream(input, outer, sink)
            }
            Plan::Derived { input, .. } => self.stream(input, outer, sink),
            Plan::RecursiveCte {
                id,
                base,
                step,
                all,
                ..
            } => self.recursive_cte(*id, base, step, *all, outer, sink),
        }
    }

    /// Streams a table scan: rows pass `filter`, the first `skip` are
    /// dropped unbuilt, and the rest go out as stored (`in_place`, for
    /// consumers that only evaluate expressions) or with unread columns
    /// nulled out (for consumers that may copy rows).
    fn stream_scan(
        &self,
        plan: &Plan,
        outer: &[&[Value]],
        skip: usize,
        in_place: bool,
        sink: Sink<'_>,
    ) -> Result<bool> {
        match plan {
            Plan::Scan { .. } => self.counted(plan, sink, &mut |sink| {
                self.stream_scan_op(plan, outer, skip, in_place, sink)
            }),
            _ => self.stream_scan_op(plan, outer, skip, in_place, sink),
        }
    }

    fn stream_scan_op(
        &self,
        plan: &Plan,
        outer: &[&[Value]],
        mut skip: usize,
        in_place: bool,
        sink: Sink<'_>,
    ) -> Result<bool> {
        let Plan::Scan {
            table,
            access,
            filter,
            with_rowid,
            keep,
            ..
        } = plan
        else {
            return self.stream(plan, outer, sink);
        };
        let keep = if in_place { None } else { keep.as_deref() };
        let mut more = true;
        let mut buf = Vec::new();
        if let Access::Vector {
            index_no,
            query,
            k,
            exact,
        } = access
        {
            let exact = exact.as_deref();
            if let Some(hits) =
                self.nearest(table, *index_no, query, k, exact, filter.as_ref(), outer)?
            {
                for hit in hits {
                    if skip > 0 {
                        skip -= 1;
                        continue;
                    }
                    more = match (keep, with_rowid) {
                        (None, false) => sink(&hit.values)?,
                        _ => {
                            buf.clear();
                            push_kept(&mut buf, &hit.values, keep);
                            if *with_rowid {
                                buf.push(Value::Integer(hit.row_id as i64));
                            }
                            sink(&buf)?
                        }
                    };
                    if !more {
                        break;
                    }
                }
                return Ok(more);
            }
        }
        self.access(table, access, outer, &[], &mut |rid, vals| {
            self.check_interrupt()?;
            if let Some(f) = filter {
                if !f.test(vals, self, outer)? {
                    return Ok(true);
                }
            }
            if skip > 0 {
                skip -= 1;
                return Ok(true);
            }
            more = match (keep, with_rowid) {
                (None, false) => sink(vals)?,
                _ => {
                    buf.clear();
                    push_kept(&mut buf, vals, keep);
                    if *with_rowid {
                        buf.push(Value::Integer(rid as i64));
                    }
                    sink(&buf)?
                }
            };
            Ok(more)
        })?;
        Ok(more)
    }

    /// [`Error::Interrupted`] once the connection's interrupt flag is up;
    /// [`Error::Timeout`] once the statement's deadline has passed (the
    /// clock is read every [`DEADLINE_CHECK_ROWS`] calls).
    pub(crate) fn check_interrupt(&self) -> Result<()> {
        if self
            .settings
            .interrupt
            .as_ref()
            .is_some_and(Interrupt::is_set)
        {
            return Err(Error::Interrupted);
        }
        if self.settings.deadline.is_some() {
            let t = self.ticks.get() + 1;
            if t < DEADLINE_CHECK_ROWS {
                self.ticks.set(t);
            } else {
                self.ticks.set(0);
                return self.settings.stop_check();
            }
        }
        Ok(())
    }

    /// The sampled selectivity of a nearest-neighbour search's filter
    /// (`None` without a filter, or when the sample found no rows), and the
    /// path the cost model chooses with it.
    fn vector_path(
        &self,
        table: &std::sync::Arc<cairn_storage::Table>,
        filter: Option<&Expr>,
        has_btree_access: bool,
        ef: usize,
        test: &mut dyn FnMut(&[Value]) -> Result<bool>,
    ) -> Result<(VectorPath, Option<f64>, SelectivitySource)> {
        let (sel, source) = match filter {
            None => (None, SelectivitySource::None),
            Some(f) => match self.stats_selectivity(table, f) {
                Some(s) => (Some(s), SelectivitySource::Statistics),
                None => {
                    let s =
                        self.tx
                            .sample_selectivity(table, SELECTIVITY_SAMPLE_ROWS, 0x5eed, test)?;
                    (s, SelectivitySource::Sample)
                }
            },
        };
        let rows = table.row_count() as f64;
        let path = cost::vector_path(rows, ef, filter.is_some(), sel, has_btree_access);
        Ok((path, sel, source))
    }

    /// The share of `table`'s rows `filter` keeps by the table's statistics
    /// (`ANALYZE`), parameters read as their values; `None` when the table
    /// has none or a conjunct is not one they speak to.
    fn stats_selectivity(&self, table: &cairn_storage::Table, filter: &Expr) -> Option<f64> {
        let stats = table.stats()?;
        let s = crate::estimate::Stats::new(&stats);
        let mut f = filter.clone();
        let params = self.params;
        f.rewrite(&mut |e| {
            if let Expr::Param(i) = e {
                if let Some(v) = params.get(*i) {
                    *e = Expr::Literal(v.clone());
                }
            }
        });
        crate::estimate::known_selectivity(s, &f)
    }

    /// EXPLAIN's note on each filtered nearest-neighbour search in `plan`:
    /// the selectivity a sample of the filter finds now and the path the
    /// cost model would take with it (or that it is decided at execution
    /// when the filter needs parameters).
    pub fn vector_notes(&self, plan: &Plan, out: &mut Vec<String>) {
        if let Plan::Scan {
            table,
            access: Access::Vector { index_no, .. },
            ..
        } = plan
        {
            let defs = table.vector_indexes();
            if let Some(def) = defs
                .get(*index_no)
                .filter(|d| d.quantization != cairn_storage::Quantization::None)
            {
                let rerank = self.settings.rerank.unwrap_or(def.rerank);
                let from = match self.settings.rerank {
                    Some(_) => "vector.rerank",
                    None => "the index's rerank",
                };
                out.push(format!(
                    "VectorSearch {}: walks {} codes with ef_search {}, re-ranks the best {rerank} per result exactly ({from})",
                    table.name(),
                    def.quantization.label(),
                    self.settings.ef_search,
                ));
            }
        }
        if let Plan::Scan {
            table,
            access: Access::Vector { exact, .. },
            filter: Some(f),
            ..
        } = plan
        {
            let mut test = |row: &[Value]| f.test(row, self, &[]);
            let ef = self.settings.ef_search;
            let name = table.name();
            let note = match self.vector_path(table, Some(f), exact.is_some(), ef, &mut test) {
                Ok((path, sel, source)) => {
                    let sel = sel.map_or("unknown".to_string(), |s| format!("{s:.4}"));
                    let from = match source {
                        SelectivitySource::Statistics => "statistics".to_string(),
                        _ => format!("sample of {SELECTIVITY_SAMPLE_ROWS} rows"),
                    };
                    let head = format!("VectorSearch {name}: filter selectivity ~{sel} ({from})");
                    match path {
                        VectorPath::ExactViaIndex => {
                            format!("{head} -> exact through the B-tree index")
                        }
                        VectorPath::Graph => format!("{head}, ef_search {ef} -> filter in graph"),
                        VectorPath::ExactScan => {
                            format!("{head}, ef_search {ef} -> exact scan of qualifying rows")
                        }
                    }
                }
                Err(_) => format!(
                    "VectorSearch {name}: strategy chosen at execution (the filter needs parameters)"
                ),
            };
            out.push(note);
        }
        plan.for_each_child(&mut |c| self.vector_notes(c, out));
    }

    /// Runs a nearest-neighbour access: `None` when the query vector is NULL
    /// (every distance is NULL, so the caller scans every row instead).
    fn nearest(
        &self,
        table: &std::sync::Arc<cairn_storage::Table>,
        index_no: usize,
        query: &Expr,
        k: &Expr,
        exact: Option<&Access>,
        filter: Option<&Expr>,
        outer: &[&[Value]],
    ) -> Result<Option<Vec<cairn_storage::VectorHit>>> {
        use cairn_storage::{VectorQuery, VectorStrategy};
        let q = query.eval(&[], self, outer)?;
        let Some(q) = q.vector_arg()? else {
            return Ok(None);
        };
        let Some(k) = self.count_value(k, outer, "LIMIT")? else {
            return Ok(None);
        };
        let ef = self.settings.ef_search.max(k);
        let mut test = |row: &[Value]| -> Result<bool> {
            match filter {
                Some(f) => f.test(row, self, outer),
                None => Ok(true),
            }
        };
        let (path, _, _) = self.vector_path(table, filter, exact.is_some(), ef, &mut test)?;
        let strategy = match (path, exact) {
            (VectorPath::ExactViaIndex, Some(access)) => {
                return self
                    .exact_nearest(table, index_no, &q, k, access, filter, outer)
                    .map(Some);
            }
            (VectorPath::Graph, _) => VectorStrategy::Index,
            _ => VectorStrategy::Exact,
        };
        let req = VectorQuery {
            index_no,
            query: &q,
            k,
            ef,
            rerank: self.settings.rerank,
            strategy,
            filtered: filter.is_some(),
        };
        let (hits, _stats) = self.tx.vector_search(table, &req, &mut test)?;
        Ok(Some(hits))
    }

    /// The `k` rows nearest to `q` among those `access` reads that pass
    /// `filter`, by exact distance (NULL last), then row id.
    #[allow(clippy::too_many_arguments)]
    fn exact_nearest(
        &self,
        table: &std::sync::Arc<cairn_storage::Table>,
        index_no: usize,
        q: &[f32],
        k: usize,
        access: &Access,
        filter: Option<&Expr>,
        outer: &[&[Value]],
    ) -> Result<Vec<cairn_storage::VectorHit>> {
        let def = table
            .vector_indexes()
            .into_iter()
            .nth(index_no)
            .ok_or_else(|| Error::internal(format!("vector index {index_no} out of range")))?;
        let (kind, col) = (def.distance_kind(), def.column);
        let order = cairn_storage::hit_order;
        let mut hits: Vec<cairn_storage::VectorHit> = Vec::new();
        self.access(table, access, outer, &[], &mut |rid, vals| {
            if let Some(f) = filter {
                if !f.test(vals, self, outer)? {
                    return Ok(true);
                }
            }
            let distance = match vals.get(col).and_then(|v| v.vector_f32()) {
                Some(v) => cairn_core::vector::distance(kind, q, &v)?,
                None => None,
            };
            hits.push(cairn_storage::VectorHit {
                row_id: rid,
                values: vals.to_vec(),
                distance,
            });
            if hits.len() >= k.saturating_mul(4).max(1024) {
                hits.sort_by(order);
                hits.truncate(k);
            }
            Ok(true)
        })?;
        hits.sort_by(order);
        hits.truncate(k);
        Ok(hits)
    }

    /// Streams `input` for a consumer that evaluates expressions on each row
    /// and never keeps it: a table scan hands out its stored rows as they are.
    fn stream_in_place(&self, input: &Plan, outer: &[&[Value]], sink: Sink<'_>) -> Result<bool> {
        match input {
            Plan::Scan {
                with_rowid: false, ..
            } => self.stream_scan(input, outer, 0, true, sink),
            _ => self.stream(input, outer, sink),
        }
    }

    /// Evaluates key expressions; `None` if any is NULL (NULL never joins).
    fn keys(
        &self,
        exprs: &[Expr],
        row: &[Value],
        outer: &[&[Value]],
    ) -> Result<Option<Vec<Value>>> {
        let mut k = Vec::with_capacity(exprs.len());
        for e in exprs {
            let v = e.eval(row, self, outer)?;
            if v.is_null() {
                return Ok(None);
            }
            k.push(v);
        }
        Ok(Some(k))
    }

    /// Reads a table through `access`; key expressions are evaluated on
    /// `key_row` (the left row of an index join, or empty).
    fn access(
        &self,
        table: &std::sync::Arc<cairn_storage::Table>,
        access: &Access,
        outer: &[&[Value]],
        key_row: &[Value],
        emit: &mut dyn FnMut(u64, &[Value]) -> Result<bool>,
    ) -> Result<()> {
        match access {
            // Outside `stream_scan` a nearest-neighbour access reads every
            // row; the sort and limit above it still give the exact answer.
            Access::Full | Access::Vector { .. } => self.tx.scan(table, emit),
            Access::IndexEq {
                index_no,
                key,
                reverse,
            } => {
                // One key column (most lookups, every index join on one
                // column): the key stays on the stack.
                let one;
                let many;
                let k: &[Value] = match &key[..] {
                    [e] => {
                        one = [e.value(key_row, self, outer)?];
                        if one[0].is_null() {
                            return Ok(());
                        }
                        &one
                    }
                    _ => match self.keys(key, key_row, outer)? {
                        Some(k) => {
                            many = k;
                            &many
                        }
                        None => return Ok(()),
                    },
                };
                let b = Bound::Included(k);
                self.tx
                    .index_scan_ordered(table, *index_no, b, b, *reverse, emit)
            }
            Access::IndexIn { index_no, keys } => {
                let mut vals = Vec::with_capacity(keys.len());
                for e in keys {
                    let v = e.eval(key_row, self, outer)?;
                    if !v.is_null() {
                        vals.push(v);
                    }
                }
                self.lookup_each(table, *index_no, vals, emit)
            }
            Access::IndexInSet { index_no, sub } => {
                match self.in_set_keys(table, *index_no, *sub, key_row, outer)? {
                    Some(keys) => self.lookup_each(table, *index_no, keys, emit),
                    None => self.tx.scan(table, emit),
                }
            }
            Access::IndexRange { .. } | Access::IndexOrder { .. } => {
                let Some(r) = self.index_bounds(access, key_row, outer)? else {
                    return Ok(());
                };
                let lo = r.lo.as_ref().map(Vec::as_slice);
                let hi = r.hi.as_ref().map(Vec::as_slice);
                self.tx
                    .index_scan_ordered(table, r.index_no, lo, hi, r.reverse, emit)
            }
        }
    }

    /// The keys an `IndexInSet` access looks up: the subquery's values,
    /// sorted, or `None` when they are too many for lookups to pay and the
    /// table is scanned instead.
    pub(crate) fn in_set_keys(
        &self,
        table: &cairn_storage::Table,
        index_no: usize,
        sub: SubqueryRef,
        key_row: &[Value],
        outer: &[&[Value]],
    ) -> Result<Option<Vec<Value>>> {
        let set = self.subquery_set(sub, key_row, outer)?;
        let rows = table.row_count() as f64;
        let per = crate::estimate::index_lookup_rows(table, index_no, 1);
        if !cost::lookups_pay(set.values.len(), per, rows) {
            return Ok(None);
        }
        let mut keys: Vec<Value> = set.values.iter().cloned().collect();
        keys.sort();
        Ok(Some(keys))
    }

    /// The rows of `table` whose first key column of index `index_no` is
    /// one of `vals` (NULL-free), value by value in ascending order.
    fn lookup_each(
        &self,
        table: &std::sync::Arc<cairn_storage::Table>,
        index_no: usize,
        mut vals: Vec<Value>,
        emit: &mut dyn FnMut(u64, &[Value]) -> Result<bool>,
    ) -> Result<()> {
        vals.sort();
        vals.dedup();
        let mut more = true;
        for v in vals {
            let k = [v];
            self.tx.index_scan(
                table,
                index_no,
                Bound::Included(&k),
                Bound::Included(&k),
                &mut |rid, vals| {
                    more = emit(rid, vals)?;
                    Ok(more)
                },
            )?;
            if !more {
                break;
            }
        }
        Ok(())
    }

    /// The index, key bounds and direction an index access reads, or
    /// `None` when no row can match (a NULL key or bound). `IndexIn`, a
    /// union of ranges, and the non-index accesses have none.
    pub(crate) fn index_bounds(
        &self,
        access: &Access,
        key_row: &[Value],
        outer: &[&[Value]],
    ) -> Result<Option<IndexBounds>> {
        let bound = |b: &Option<(Expr, bool)>| -> Result<Option<Bound<Vec<Value>>>> {
            match b {
                Some((e, inc)) => {
                    let v = e.eval(key_row, self, outer)?;
                    if v.is_null() {
                        // A comparison with NULL is never true.
                        return Ok(None);
                    }
                    Ok(Some(if *inc {
                        Bound::Included(vec![v])
                    } else {
                        Bound::Excluded(vec![v])
                    }))
                }
                None => Ok(Some(Bound::Unbounded)),
            }
        };
        Ok(match access {
            Access::IndexEq {
                index_no,
                key,
                reverse,
            } => self.keys(key, key_row, outer)?.map(|k| IndexBounds {
                index_no: *index_no,
                lo: Bound::Included(k.clone()),
                hi: Bound::Included(k),
                reverse: *reverse,
            }),
            Access::IndexRange {
                index_no,
                low,
                high,
                reverse,
            } => {
                let (Some(lo), Some(hi)) = (bound(low)?, bound(high)?) else {
                    return Ok(None);
                };
                Some(IndexBounds {
                    index_no: *index_no,
                    // Skip NULL keys: a range predicate is never true for NULL.
                    lo: match lo {
                        Bound::Unbounded => Bound::Excluded(vec![Value::Null]),
                        b => b,
                    },
                    hi,
                    reverse: *reverse,
                })
            }
            Access::IndexOrder { index_no, reverse } => Some(IndexBounds {
                index_no: *index_no,
                lo: Bound::Unbounded,
                hi: Bound::Unbounded,
                reverse: *reverse,
            }),
            Access::Full
            | Access::IndexIn { .. }
            | Access::IndexInSet { .. }
            | Access::Vector { .. } => None,
        })
    }

    /// A `LIMIT` (`None`: no limit) and an `OFFSET` (0 when absent).
    pub(crate) fn limit_offset(
        &self,
        limit: Option<&Expr>,
        offset: Option<&Expr>,
        outer: &[&[Value]],
    ) -> Result<(Option<usize>, usize)> {
        let limit = match limit {
            Some(e) => self.count_value(e, outer, "LIMIT")?,
            None => None,
        };
        let offset = match offset {
            Some(e) => self.count_value(e, outer, "OFFSET")?.unwrap_or(0),
            None => 0,
        };
        Ok((limit, offset))
    }

    fn count_value(&self, e: &Expr, outer: &[&[Value]], what: &str) -> Result<Option<usize>> {
        let v = e.eval(&[], self, outer)?;
        match v {
            Value::Null => Ok(None),
            Value::Integer(i) => Ok(if i < 0 { None } else { Some(i as usize) }),
            Value::Real(f) if f.fract() == 0.0 => Ok(if f < 0.0 { None } else { Some(f as usize) }),
            other => Err(Error::type_err(format!(
                "{what} must be an integer, got {}",
                other.type_name()
            ))),
        }
    }

    /// Runs `input` and sorts its rows by `keys`; with `top`, only the first
    /// `top` rows are kept, in a bounded heap, so rows that cannot make the
    /// cut are never copied.
    fn sorted(
        &self,
        input: &Plan,
        keys: &[SortKey],
        outer: &[&[Value]],
        top: Option<usize>,
    ) -> Result<Vec<Row>> {
        if let Some(n) = top {
            if n == 0 {
                return Ok(Vec::new());
            }
            let mut heap: BinaryHeap<TopItem<'_>> = BinaryHeap::new();
            let mut key = Vec::with_capacity(keys.len());
            let mut seq = 0usize;
            self.stream(input, outer, &mut |r| {
                key.clear();
                for k in keys {
                    key.push(k.expr.eval(r, self, outer)?);
                }
                seq += 1;
                if heap.len() == n {
                    // Ties keep the earlier row, so a new row must be strictly
                    // better than the worst kept; it then takes the worst's
                    // place (and buffers), and the heap sifts it down.
                    if let Some(mut worst) = heap.peek_mut() {
                        if compare_keys(&key, &worst.key, keys) != Ordering::Less {
                            return Ok(true);
                        }
                        worst.key.clone_from(&key);
                        worst.row.clear();
                        worst.row.extend_from_slice(r);
                        worst.seq = seq;
                    }
                    return Ok(true);
                }
                heap.push(TopItem {
                    key: key.clone(),
                    seq,
                    row: r.to_vec(),
                    spec: keys,
                });
                Ok(true)
            })?;
            return Ok(heap.into_sorted_vec().into_iter().map(|t| t.row).collect());
        }
        let mut keyed: Vec<(Vec<Value>, Row)> = Vec::new();
        self.stream(input, outer, &mut |r| {
            let mut k = Vec::with_capacity(keys.len());
            for key in keys {
                k.push(key.expr.eval(r, self, outer)?);
            }
            keyed.push((k, r.to_vec()));
            Ok(true)
        })?;
        keyed.sort_by(|a, b| compare_keys(&a.0, &b.0, keys));
        Ok(keyed.into_iter().map(|(_, r)| r).collect())
    }

    // ---- aggregation ---------------------------------------------------

    fn aggregate(
        &self,
        input: &Plan,
        group_by: &[Expr],
        aggs: &[AggCall],
        outer: &[&[Value]],
    ) -> Result<Vec<Row>> {
        let mut groups: FastMap<Vec<Value>, usize> = FastMap::default();
        let mut states: Vec<(Vec<Value>, Vec<Acc>)> = Vec::new();
        if group_by.is_empty() {
            states.push((Vec::new(), aggs.iter().map(Acc::new).collect()));
        }
        let mut key = Vec::with_capacity(group_by.len());
        let mut args = Vec::new();
        let leader = bare_leader(aggs);
        self.stream_in_place(input, outer, &mut |r| {
            let gi = if group_by.is_empty() {
                0
            } else {
                key.clear();
                for e in group_by {
                    key.push(e.eval(r, self, outer)?);
                }
                match groups.get(&key) {
                    Some(&i) => i,
                    None => {
                        let i = states.len();
                        groups.insert(key.clone(), i);
                        states.push((key.clone(), aggs.iter().map(Acc::new).collect()));
                        i
                    }
                }
            };
            self.fold_row(&mut states[gi].1, aggs, leader, r, outer, &mut args)?;
            Ok(true)
        })?;
        let mut out = Vec::with_capacity(states.len());
        for (k, accs) in states {
            let mut row = k;
            for (acc, call) in accs.into_iter().zip(aggs) {
                row.push(acc.finish(call)?);
            }
            out.push(row);
        }
        Ok(out)
    }

    /// Adds row `r` to a group's states `accs` (one per call of `aggs`).
    fn fold_row(
        &self,
        accs: &mut [Acc],
        aggs: &[AggCall],
        leader: Option<usize>,
        r: &[Value],
        outer: &[&[Value]],
        args: &mut Vec<Value>,
    ) -> Result<()> {
        // Bare columns take this row unless they follow a min/max whose
        // extreme this row does not set.
        let mut bare_take = true;
        if let Some(m) = leader {
            bare_take = self.step_leader(&mut accs[m], &aggs[m], r, outer)?;
        }
        for (i, (acc, call)) in accs.iter_mut().zip(aggs).enumerate() {
            if Some(i) == leader || (call.func == AggFunc::Bare && !bare_take) {
                continue;
            }
            if call.func == AggFunc::Bare && leader.is_some() {
                *acc = Acc::Any(None);
            }
            if let Some(f) = &call.filter {
                if !f.test(r, self, outer)? {
                    continue;
                }
            }
            args.clear();
            for a in &call.args {
                args.push(a.eval(r, self, outer)?);
            }
            acc.add(call, args)?;
        }
        Ok(())
    }

    /// GROUP BY over an input that delivers each group's rows together:
    /// a group goes out when the next one starts, so a LIMIT above stops
    /// the input after the groups it needs.
    fn stream_aggregate(
        &self,
        input: &Plan,
        group_by: &[Expr],
        aggs: &[AggCall],
        outer: &[&[Value]],
        sink: Sink<'_>,
    ) -> Result<bool> {
        let finish = |key: Vec<Value>, accs: Vec<Acc>| -> Result<Row> {
            let mut row = key;
            for (acc, call) in accs.into_iter().zip(aggs) {
                row.push(acc.finish(call)?);
            }
            Ok(row)
        };
        let leader = bare_leader(aggs);
        let mut current: Option<(Vec<Value>, Vec<Acc>)> = None;
        let mut key = Vec::with_capacity(group_by.len());
        let mut args = Vec::new();
        let mut stopped = false;
        self.stream_in_place(input, outer, &mut |r| {
            key.clear();
            for e in group_by {
                key.push(e.eval(r, self, outer)?);
            }
            if current.as_ref().is_none_or(|(k, _)| *k != key) {
                let fresh = (key.clone(), aggs.iter().map(Acc::new).collect());
                if let Some((k, accs)) = current.replace(fresh) {
                    if !sink(&finish(k, accs)?)? {
                        stopped = true;
                        return Ok(false);
                    }
                }
            }
            if let Some((_, accs)) = current.as_mut() {
                self.fold_row(accs, aggs, leader, r, outer, &mut args)?;
            }
            Ok(true)
        })?;
        if stopped {
            return Ok(false);
        }
        match current {
            Some((k, accs)) => sink(&finish(k, accs)?),
            None => Ok(true),
        }
    }

    /// Adds row `r` to the `min`/`max` state `acc` that bare columns
    /// follow; whether they take this row: it set a new extreme, or none
    /// has been seen yet (all NULL so far: they keep the last row).
    fn step_leader(
        &self,
        acc: &mut Acc,
        call: &AggCall,
        r: &[Value],
        outer: &[&[Value]],
    ) -> Result<bool> {
        if let Some(f) = &call.filter {
            if !f.test(r, self, outer)? {
                return Ok(matches!(acc, Acc::Extreme(None)));
            }
        }
        let v = match call.args.first() {
            Some(a) => a.eval(r, self, outer)?,
            None => Value::Null,
        };
        let Acc::Extreme(cur) = acc else {
            return Ok(true);
        };
        if v.is_null() {
            return Ok(cur.is_none());
        }
        Ok(extreme_step(cur, v, call.func))
    }

    // ---- window functions ----------------------------------------------

    /// Window functions over an input that delivers each partition's rows
    /// together: a partition is computed and goes out when the next starts.
    fn window_by_partition(
        &self,
        input: &Plan,
        calls: &[WindowCall],
        outer: &[&[Value]],
        sink: Sink<'_>,
    ) -> Result<bool> {
        let keys = calls.first().map_or(&[][..], |c| &c.partition_by[..]);
        let mut part: Vec<Row> = Vec::new();
        let mut part_key: Vec<Value> = Vec::new();
        let mut key = Vec::with_capacity(keys.len());
        let mut stopped = false;
        self.stream(input, outer, &mut |r| {
            key.clear();
            for e in keys {
                key.push(e.eval(r, self, outer)?);
            }
            if !part.is_empty()
                && key != part_key
                && !self.window_flush(&mut part, calls, outer, sink)?
            {
                stopped = true;
                return Ok(false);
            }
            if part.is_empty() {
                part_key.clone_from(&key);
            }
            part.push(r.to_vec());
            Ok(true)
        })?;
        Ok(!stopped && self.window_flush(&mut part, calls, outer, sink)?)
    }

    /// Computes `calls` over one partition's rows and sends them out.
    fn window_flush(
        &self,
        part: &mut Vec<Row>,
        calls: &[WindowCall],
        outer: &[&[Value]],
        sink: Sink<'_>,
    ) -> Result<bool> {
        let more = self.window_emit(part, calls, outer, sink)?;
        part.clear();
        Ok(more)
    }

    /// Computes `calls` over `rows` (one partition, or all of them) and
    /// sends each row out with its window values appended; only the rows
    /// sent are copied.
    fn window_emit(
        &self,
        rows: &[Row],
        calls: &[WindowCall],
        outer: &[&[Value]],
        sink: Sink<'_>,
    ) -> Result<bool> {
        let vals = (calls.iter())
            .map(|call| self.window(rows, call, outer))
            .collect::<Result<Vec<_>>>()?;
        let mut buf = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            buf.clear();
            buf.extend_from_slice(r);
            for v in &vals {
                buf.push(v.get(i).cloned().unwrap_or(Value::Null));
            }
            if !sink(&buf)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// `row_number`, `rank`, `dense_rank` and `lag(x)` over one partition
    /// whose rows arrive in the ORDER BY order: each row goes out as it
    /// arrives.
    fn window_by_row(
        &self,
        input: &Plan,
        calls: &[WindowCall],
        outer: &[&[Value]],
        sink: Sink<'_>,
    ) -> Result<bool> {
        let mut state = RowWindow::new(calls);
        let mut buf = Vec::new();
        self.stream(input, outer, &mut |r| {
            state.next(self, r, outer, &mut buf)?;
            sink(&buf)
        })
    }

    /// [`window_by_row`](Self::window_by_row) over rows already in order.
    fn window_rows(
        &self,
        rows: &[Row],
        calls: &[WindowCall],
        outer: &[&[Value]],
        sink: Sink<'_>,
    ) -> Result<bool> {
        let mut state = RowWindow::new(calls);
        let mut buf = Vec::new();
        for r in rows {
            state.next(self, r, outer, &mut buf)?;
            if !sink(&buf)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn window(&self, rows: &[Row], call: &WindowCall, outer: &[&[Value]]) -> Result<Vec<Value>> {
        let n = rows.len();
        let keys = WindowKeys::of(self, rows, call, outer)?;
        // Ties broken by position: the order of a stable sort, from the
        // (faster) unstable one.
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_unstable_by(|&a, &b| {
            keys.part(a)
                .cmp(keys.part(b))
                .then_with(|| compare_keys(keys.ord(a), keys.ord(b), &call.order_by))
                .then(a.cmp(&b))
        });
        let mut out = vec![Value::Null; n];
        let mut start = 0;
        while start < n {
            let mut end = start + 1;
            while end < n && keys.part(idx[end]) == keys.part(idx[start]) {
                end += 1;
            }
            self.window_partition(rows, &idx[start..end], &keys, call, outer, &mut out)?;
            start = end;
        }
        Ok(out)
    }

    fn window_partition(
        &self,
        rows: &[Row],
        ids: &[usize],
        keys: &WindowKeys,
        call: &WindowCall,
        outer: &[&[Value]],
        out: &mut [Value],
    ) -> Result<()> {
        let n = ids.len();
        // peer_end[i]: one past the last row with the same ORDER BY key as row i.
        let mut peer_start = vec![0; n];
        let mut peer_end = vec![n; n];
        if !call.order_by.is_empty() {
            let mut s = 0;
            while s < n {
                let mut e = s + 1;
                while e < n && keys.ord(ids[e]) == keys.ord(ids[s]) {
                    e += 1;
                }
                for i in s..e {
                    peer_start[i] = s;
                    peer_end[i] = e;
                }
                s = e;
            }
        } else {
            peer_end.iter_mut().for_each(|p| *p = n);
        }
        let arg = |i: usize, a: usize| -> Result<Value> {
            match call.args.get(a) {
                Some(e) => e.eval(&rows[ids[i]], self, outer),
                None => Ok(Value::Null),
            }
        };
        match &call.func {
            WinFunc::RowNumber => {
                for i in 0..n {
                    out[ids[i]] = Value::Integer(i as i64 + 1);
                }
            }
            WinFunc::Rank => {
                for i in 0..n {
                    out[ids[i]] = Value::Integer(peer_start[i] as i64 + 1);
                }
            }
            WinFunc::DenseRank => {
                let mut rank = 0;
                for i in 0..n {
                    if i == 0 || peer_start[i] == i {
                        rank += 1;
                    }
                    out[ids[i]] = Value::Integer(rank);
                }
            }
            WinFunc::PercentRank => {
                for i in 0..n {
                    out[ids[i]] = Value::Real(if n <= 1 {
                        0.0
                    } else {
                        peer_start[i] as f64 / (n - 1) as f64
                    });
                }
            }
            WinFunc::CumeDist => {
                for i in 0..n {
                    out[ids[i]] = Value::Real(peer_end[i] as f64 / n as f64);
                }
            }
            WinFunc::Ntile => {
                for i in 0..n {
                    let buckets = arg(i, 0)?.as_i64().filter(|b| *b > 0).ok_or_else(|| {
                        Error::type_err("ntile argument must be a positive integer")
                    })? as usize;
                    let base = n / buckets;
                    let extra = n % buckets;
                    // The first `extra` buckets have base+1 rows.
                    let big = extra * (base + 1);
                    let b = if i < big {
                        i / (base + 1)
                    } else {
                        extra + (i - big) / base.max(1)
                    };
                    out[ids[i]] = Value::Integer(b as i64 + 1);
                }
            }
            WinFunc::Lag | WinFunc::Lead => {
                for i in 0..n {
                    let off = match call.args.get(1) {
                        Some(_) => arg(i, 1)?.as_i64().unwrap_or(1),
                        None => 1,
                    };
                    let j = if matches!(call.func, WinFunc::Lag) {
                        i as i64 - off
                    } else {
                        i as i64 + off
                    };
                    out[ids[i]] = if j >= 0 && (j as usize) < n {
                        arg(j as usize, 0)?
                    } else {
                        arg(i, 2)?
                    };
                }
            }
            WinFunc::FirstValue | WinFunc::LastValue | WinFunc::NthValue => {
                for i in 0..n {
                    let (fs, fe) = frame_bounds(call.frame, i, n, &peer_end);
                    let pick = match call.func {
                        WinFunc::FirstValue => Some(fs),
                        WinFunc::LastValue => fe.checked_sub(1),
                        _ => {
                            let k = arg(i, 1)?.as_i64().unwrap_or(1);
                            if k < 1 {
                                return Err(Error::type_err("nth_value position must be positive"));
                            }
                            Some(fs + k as usize - 1)
                        }
                    };
                    out[ids[i]] = match pick {
                        Some(p) if p >= fs && p < fe => arg(p, 0)?,
                        _ => Value::Null,
                    };
                }
            }
            WinFunc::Agg(func) => {
                self.window_agg(*func, rows, ids, &peer_end, call, outer, out)?;
            }
        }
        Ok(())
    }

    /// An aggregate over each row's frame in one partition (`ids`, in
    /// window order). Each row's arguments are evaluated once.
    #[allow(clippy::too_many_arguments)]
    fn window_agg(
        &self,
        func: AggFunc,
        rows: &[Row],
        ids: &[usize],
        peer_end: &[usize],
        call: &WindowCall,
        outer: &[&[Value]],
        out: &mut [Value],
    ) -> Result<()> {
        let n = ids.len();
        let agg = AggCall {
            func,
            args: call.args.clone(),
            distinct: call.distinct,
            filter: None,
        };
        let width = call.args.len();
        let mut args = Vec::with_capacity(n * width);
        for &id in ids {
            let row = rows.get(id).map_or(&[][..], |r| &r[..]);
            for e in &call.args {
                args.push(e.eval(row, self, outer)?);
            }
        }
        let args_of = |i: usize| args.get(i * width..(i + 1) * width).unwrap_or(&[]);
        match call.frame {
            Frame::Partition | Frame::RangeToCurrent | Frame::RowsToCurrent => {
                let mut acc = Acc::new(&agg);
                let mut i = 0;
                while i < n {
                    let end = match call.frame {
                        Frame::Partition => n,
                        Frame::RangeToCurrent => peer_end[i],
                        _ => i + 1,
                    };
                    for j in i..end {
                        acc.add(&agg, args_of(j))?;
                    }
                    let v = acc.peek(&agg)?;
                    if call.frame == Frame::Partition {
                        for &id in ids {
                            out[id] = v.clone();
                        }
                        break;
                    }
                    for k in i..end {
                        out[ids[k]] = v.clone();
                    }
                    i = end;
                }
            }
            Frame::Rows(_, _) => {
                for i in 0..n {
                    let (fs, fe) = frame_bounds(call.frame, i, n, peer_end);
                    let mut acc = Acc::new(&agg);
                    for j in fs..fe {
                        acc.add(&agg, args_of(j))?;
                    }
                    out[ids[i]] = acc.finish(&agg)?;
                }
            }
        }
        Ok(())
    }
}

/// Each row's PARTITION BY values then ORDER BY values, for one window
/// call, in one vector (not two vectors per row).
struct WindowKeys {
    keys: Vec<Value>,
    parts: usize,
    width: usize,
}

impl WindowKeys {
    fn of(ex: &Executor, rows: &[Row], call: &WindowCall, outer: &[&[Value]]) -> Result<Self> {
        let parts = call.partition_by.len();
        let width = parts + call.order_by.len();
        let mut keys = Vec::with_capacity(rows.len() * width);
        for r in rows {
            for e in &call.partition_by {
                keys.push(e.eval(r, ex, outer)?);
            }
            for k in &call.order_by {
                keys.push(k.expr.eval(r, ex, outer)?);
            }
        }
        Ok(WindowKeys { keys, parts, width })
    }

    /// Row `i`'s PARTITION BY values.
    fn part(&self, i: usize) -> &[Value] {
        let at = i * self.width;
        self.keys.get(at..at + self.parts).unwrap_or(&[])
    }

    /// Row `i`'s ORDER BY values.
    fn ord(&self, i: usize) -> &[Value] {
        let at = i * self.width;
        self.keys
            .get(at + self.parts..at + self.width)
            .unwrap_or(&[])
    }
}

/// The frame [start, end) of row `i` in a partition of `n` rows.
fn frame_bounds(frame: Frame, i: usize, n: usize, peer_end: &[usize]) -> (usize, usize) {
    match frame {
        Frame::Partition => (0, n),
        Frame::RangeToCurrent => (0, peer_end[i]),
        Frame::RowsToCurrent => (0, i + 1),
        Frame::Rows(lo, hi) => {
            let i = i as i64;
            let s = lo.map_or(0, |o| i.saturating_add(o).clamp(0, n as i64)) as usize;
            let e = hi.map_or(n as i64, |o| {
                i.saturating_add(o).saturating_add(1).clamp(0, n as i64)
            }) as usize;
            (s, e.max(s))
        }
    }
}

pub fn compare_keys(a: &[Value], b: &[Value], keys: &[SortKey]) -> Ordering {
    for ((x, y), k) in a.iter().zip(b).zip(keys) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if k.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if k.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            _ => {
                let o = x.total_cmp(y);
                if k.desc {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Appends `vals`, with NULL in place of the columns `keep` leaves out.
pub(crate) fn push_kept(buf: &mut Vec<Value>, vals: &[Value], keep: Option<&[bool]>) {
    match keep {
        None => buf.extend_from_slice(vals),
        Some(keep) => buf.extend(vals.iter().enumerate().map(|(i, v)| {
            if keep.get(i).copied().unwrap_or(true) {
                v.clone()
            } else {
                Value::Null
            }
        })),
    }
}

/// A hash join's build side: row positions by key. One key column (the
/// usual case) hashes the value itself, with no key vector per row.
enum JoinTable {
    One(FastMap<Value, Vec<usize>>),
    Many(FastMap<Vec<Value>, Vec<usize>>),
}

impl JoinTable {
    fn build(ex: &Executor, keys: &[Expr], rows: &[Row], outer: &[&[Value]]) -> Result<JoinTable> {
        if let [key] = keys {
            let mut map: FastMap<Value, Vec<usize>> = FastMap::default();
            for (i, r) in rows.iter().enumerate() {
                let v = key.eval(r, ex, outer)?;
                if !v.is_null() {
                    map.entry(v).or_default().push(i);
                }
            }
            return Ok(JoinTable::One(map));
        }
        let mut map: FastMap<Vec<Value>, Vec<usize>> = FastMap::default();
        for (i, r) in rows.iter().enumerate() {
            if let Some(k) = ex.keys(keys, r, outer)? {
                map.entry(k).or_default().push(i);
            }
        }
        Ok(JoinTable::Many(map))
    }

    /// Positions of the build rows whose key equals `row`'s (NULL matches
    /// nothing).
    fn probe(
        &self,
        ex: &Executor,
        keys: &[Expr],
        row: &[Value],
        outer: &[&[Value]],
    ) -> Result<Option<&[usize]>> {
        match (self, keys) {
            (JoinTable::One(map), [key]) => {
                let hit = match key {
                    Expr::Column(i) => row
                        .get(*i)
                        .filter(|v| !v.is_null())
                        .and_then(|v| map.get(v)),
                    other => {
                        let v = other.eval(row, ex, outer)?;
                        if v.is_null() {
                            None
                        } else {
                            map.get(&v)
                        }
                    }
                };
                Ok(hit.map(|ids| &ids[..]))
            }
            (JoinTable::Many(map), _) => Ok(match ex.keys(keys, row, outer)? {
                Some(k) => map.get(&k).map(|ids| &ids[..]),
                None => None,
            }),
            _ => Err(Error::internal("hash join key count mismatch")),
        }
    }
}

/// A row kept by a top-k sort; orders by sort key, then arrival.
struct TopItem<'a> {
    key: Vec<Value>,
    seq: usize,
    row: Row,
    spec: &'a [SortKey],
}

impl Ord for TopItem<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_keys(&self.key, &other.key, self.spec).then(self.seq.cmp(&other.seq))
    }
}
impl PartialOrd for TopItem<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for TopItem<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for TopItem<'_> {}

/// Pushes materialized rows into a sink.
fn emit_all(rows: &[Row], sink: Sink<'_>) -> Result<bool> {
    for r in rows {
        if !sink(r)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn set_op(kind: SetOpKind, all: bool, l: Vec<Row>, r: Vec<Row>) -> Vec<Row> {
    type Counts = HashMap<Row, usize, foldhash::fast::RandomState>;
    match (kind, all) {
        (SetOpKind::Union, true) => {
            let mut l = l;
            l.extend(r);
            l
        }
        (SetOpKind::Union, false) => {
            let mut seen: HashSet<Row, foldhash::fast::RandomState> = HashSet::default();
            l.into_iter()
                .chain(r)
                .filter(|x| seen.insert(x.clone()))
                .collect()
        }
        (SetOpKind::Intersect, _) | (SetOpKind::Except, _) => {
            let mut counts: Counts = Counts::default();
            for x in r {
                *counts.entry(x).or_insert(0) += 1;
            }
            let mut seen: HashSet<Row, foldhash::fast::RandomState> = HashSet::default();
            let mut out = Vec::new();
            for x in l {
                let c = counts.get_mut(&x);
                let keep = match (kind, all) {
                    (SetOpKind::Intersect, true) => match c {
                        Some(c) if *c > 0 => {
                            *c -= 1;
                            true
                        }
                        _ => false,
                    },
                    (SetOpKind::Intersect, false) => c.is_some() && seen.insert(x.clone()),
                    (SetOpKind::Except, true) => match c {
                        Some(c) if *c > 0 => {
                            *c -= 1;
                            false
                        }
                        _ => true,
                    },
                    _ => c.is_none() && seen.insert(x.clone()),
                };
                if keep {
                    out.push(x);
                }
            }
            out
        }
    }
}

/// An aggregate's running state.
/// An element-wise sum of vectors (in f64) and how many were added.
struct VecSum {
    sum: Vec<f64>,
    n: i64,
    /// Every input was a HALFVEC: so is the result.
    half: bool,
}

impl VecSum {
    /// The sum, or the mean with `mean`, as a vector of the inputs' type;
    /// an element out of the type's range is an error.
    fn value(&self, mean: bool) -> Result<Value> {
        let div = if mean { self.n.max(1) as f64 } else { 1.0 };
        let elems: Vec<f32> = self.sum.iter().map(|&s| (s / div) as f32).collect();
        if self.half {
            let h = cairn_core::vector::to_half(&elems)?;
            Ok(Value::HalfVec(std::sync::Arc::from(h)))
        } else {
            Ok(Value::vector(elems)?)
        }
    }
}

/// The SQL name of a summing aggregate, for messages.
fn sum_name(func: AggFunc) -> &'static str {
    match func {
        AggFunc::Avg => "avg",
        AggFunc::Total => "total",
        _ => "sum",
    }
}

/// The running state of window functions computed row by row over one
/// partition in ORDER BY order (`WindowStream::Rows`).
struct RowWindow<'c> {
    calls: &'c [WindowCall],
    n: i64,
    rank: i64,
    dense: i64,
    prev_key: Option<Vec<Value>>,
    key: Vec<Value>,
    /// Each call's argument on the previous row (for `lag`).
    prev_arg: Vec<Value>,
}

impl<'c> RowWindow<'c> {
    fn new(calls: &'c [WindowCall]) -> RowWindow<'c> {
        RowWindow {
            calls,
            n: 0,
            rank: 0,
            dense: 0,
            prev_key: None,
            key: Vec::new(),
            prev_arg: vec![Value::Null; calls.len()],
        }
    }

    /// `out` := row `r` followed by each call's value on it.
    fn next(
        &mut self,
        ex: &Executor,
        r: &[Value],
        outer: &[&[Value]],
        out: &mut Vec<Value>,
    ) -> Result<()> {
        let order = self.calls.first().map_or(&[][..], |c| &c.order_by[..]);
        self.key.clear();
        for k in order {
            self.key.push(k.expr.eval(r, ex, outer)?);
        }
        self.n += 1;
        if self.prev_key.as_ref() != Some(&self.key) {
            self.rank = self.n;
            self.dense += 1;
            self.prev_key = Some(self.key.clone());
        }
        out.clear();
        out.extend_from_slice(r);
        for (call, prev) in self.calls.iter().zip(self.prev_arg.iter_mut()) {
            out.push(match call.func {
                WinFunc::Rank => Value::Integer(self.rank),
                WinFunc::DenseRank => Value::Integer(self.dense),
                WinFunc::Lag => {
                    let v = match call.args.first() {
                        Some(a) => a.eval(r, ex, outer)?,
                        None => Value::Null,
                    };
                    std::mem::replace(prev, v)
                }
                _ => Value::Integer(self.n),
            });
        }
        Ok(())
    }
}

/// Folds `v` into a `min`/`max` state; whether it became the new extreme.
fn extreme_step(cur: &mut Option<Value>, v: Value, func: AggFunc) -> bool {
    let replace = match cur {
        None => true,
        Some(c) => {
            let o = v.total_cmp(c);
            if func == AggFunc::Min {
                o == Ordering::Less
            } else {
                o == Ordering::Greater
            }
        }
    };
    if replace {
        *cur = Some(v);
    }
    replace
}

/// The `min()`/`max()` call bare columns follow: SQLite 3.50 loads them
/// from a row where the last such call (in the order the query names
/// them) took a new extreme; with none, from the group's first row.
fn bare_leader(aggs: &[AggCall]) -> Option<usize> {
    if !aggs.iter().any(|a| a.func == AggFunc::Bare) {
        return None;
    }
    (aggs.iter()).rposition(|a| matches!(a.func, AggFunc::Min | AggFunc::Max) && !a.distinct)
}

/// The state of `sum`, `total` and `avg` (SQLite 3.50's): an exact
/// integer sum until a non-integer value arrives or the sum overflows, then
/// a compensated (Kahan-Babuska-Neumaier) floating-point sum. Text counts
/// as an integer only when all of it reads as one.
#[derive(Default)]
struct SumCtx {
    r_sum: f64,
    r_err: f64,
    i_sum: i64,
    cnt: i64,
    /// The sum is floating point.
    approx: bool,
    /// An integer sum overflowed and no REAL came after (sum() fails).
    overflow: bool,
}

/// Integers beyond ±2^52 are split so the compensated sum keeps them exact.
const KBN_SPLIT: i64 = 4_503_599_627_370_496;

impl SumCtx {
    fn add(&mut self, v: &Value) {
        use cairn_core::value::{parse_exact_number, Numeric};
        let int = match v {
            Value::Integer(i) | Value::Timestamp(i) => Some(*i),
            Value::Boolean(b) => Some(i64::from(*b)),
            Value::Text(s) => match parse_exact_number(s) {
                Some(Numeric::Int(i)) => Some(i),
                _ => None,
            },
            _ => None,
        };
        self.cnt += 1;
        match int {
            Some(i) if !self.approx => match self.i_sum.checked_add(i) {
                Some(s) => self.i_sum = s,
                None => {
                    self.overflow = true;
                    self.start_approx();
                    self.step_int(i);
                }
            },
            Some(i) => self.step_int(i),
            None => {
                if !self.approx {
                    self.start_approx();
                }
                self.overflow = false;
                self.step(v.as_f64().unwrap_or(0.0));
            }
        }
    }

    fn start_approx(&mut self) {
        self.approx = true;
        let i = self.i_sum;
        if i <= -KBN_SPLIT || i >= KBN_SPLIT {
            let small = i % 16384;
            self.r_sum = (i - small) as f64;
            self.r_err = small as f64;
        } else {
            self.r_sum = i as f64;
            self.r_err = 0.0;
        }
    }

    fn step(&mut self, r: f64) {
        let s = self.r_sum;
        let t = s + r;
        if s.abs() > r.abs() {
            self.r_err += (s - t) + r;
        } else {
            self.r_err += (r - t) + s;
        }
        self.r_sum = t;
    }

    fn step_int(&mut self, i: i64) {
        if i <= -KBN_SPLIT || i >= KBN_SPLIT {
            let big = i - i % 16384;
            self.step(big as f64);
            self.step((i - big) as f64);
        } else {
            self.step(i as f64);
        }
    }

    fn approx_value(&self) -> f64 {
        if self.r_err.is_finite() {
            self.r_sum + self.r_err
        } else {
            self.r_sum
        }
    }

    fn value(&self, func: AggFunc) -> Result<Value> {
        let exact = |s: &SumCtx| {
            if s.approx {
                s.approx_value()
            } else {
                s.i_sum as f64
            }
        };
        Ok(match func {
            AggFunc::Total => Value::real(exact(self)),
            _ if self.cnt == 0 => Value::Null,
            AggFunc::Avg => Value::real(exact(self) / self.cnt as f64),
            _ if !self.approx => Value::Integer(self.i_sum),
            _ if self.overflow => return Err(Error::type_err("integer overflow in SUM")),
            _ => Value::real(self.approx_value()),
        })
    }
}

enum Acc {
    Count(i64),
    /// `sum`, `total` and `avg` over numbers.
    Sum(SumCtx),
    /// `sum`/`avg` over vectors: element-wise, as pgvector does.
    VecSum(VecSum),
    Extreme(Option<Value>),
    Concat(Option<String>),
    Any(Option<Value>),
    Bool(Option<bool>),
    /// Wraps another state and skips values already seen.
    Distinct(HashSet<Value>, Box<Acc>),
}

impl Acc {
    fn new(call: &AggCall) -> Acc {
        let inner = match call.func {
            AggFunc::CountStar | AggFunc::Count => Acc::Count(0),
            AggFunc::Sum | AggFunc::Total | AggFunc::Avg => Acc::Sum(SumCtx::default()),
            AggFunc::Min | AggFunc::Max => Acc::Extreme(None),
            AggFunc::GroupConcat => Acc::Concat(None),
            AggFunc::AnyValue | AggFunc::Bare => Acc::Any(None),
            AggFunc::BoolAnd | AggFunc::BoolOr => Acc::Bool(None),
        };
        if call.distinct && call.func != AggFunc::CountStar {
            Acc::Distinct(HashSet::new(), Box::new(inner))
        } else {
            inner
        }
    }

    fn add(&mut self, call: &AggCall, args: &[Value]) -> Result<()> {
        if let Acc::Distinct(seen, inner) = self {
            let v = args.first().cloned().unwrap_or(Value::Null);
            if v.is_null() || !seen.insert(v) {
                return Ok(());
            }
            return inner.add(call, args);
        }
        let v = args.first().cloned().unwrap_or(Value::Null);
        if call.func == AggFunc::CountStar {
            if let Acc::Count(c) = self {
                *c += 1;
            }
            return Ok(());
        }
        if matches!(call.func, AggFunc::AnyValue | AggFunc::Bare) {
            if let Acc::Any(a) = self {
                // A bare column is the group's first row's (SQLite 3.50);
                // beside one min()/max() `fold_row` resets it at each new
                // extreme. any_value() keeps the last.
                if call.func == AggFunc::AnyValue || a.is_none() {
                    *a = Some(v);
                }
            }
            return Ok(());
        }
        if v.is_null() {
            return Ok(());
        }
        if v.is_vector() && matches!(self, Acc::Sum(_) | Acc::VecSum(_)) {
            return self.add_vector(call, &v);
        }
        match self {
            Acc::Count(c) => *c += 1,
            Acc::Sum(ctx) => ctx.add(&v),
            Acc::Extreme(cur) => {
                extreme_step(cur, v, call.func);
            }
            Acc::Concat(s) => {
                let sep = match args.get(1) {
                    Some(sep) => sep.to_text().unwrap_or_default(),
                    None => ",".to_string(),
                };
                let t = v.to_text().unwrap_or_default();
                match s {
                    None => *s = Some(t),
                    Some(s) => {
                        s.push_str(&sep);
                        s.push_str(&t);
                    }
                }
            }
            Acc::Bool(b) => {
                let t = v.truth().unwrap_or(false);
                *b = Some(match (call.func, *b) {
                    (AggFunc::BoolAnd, Some(x)) => x && t,
                    (AggFunc::BoolOr, Some(x)) => x || t,
                    (_, None) => t,
                    (_, Some(x)) => x,
                });
            }
            Acc::VecSum(_) => {
                return Err(Error::type_err(format!(
                    "{}() mixes vectors and {} values",
                    sum_name(call.func),
                    v.type_name()
                )))
            }
            Acc::Any(_) | Acc::Distinct(..) => {}
        }
        Ok(())
    }

    /// Adds a vector to a `sum`/`avg`: the first one turns the state into
    /// an element-wise vector sum (as pgvector's `sum` and `avg` do).
    fn add_vector(&mut self, call: &AggCall, v: &Value) -> Result<()> {
        if call.func == AggFunc::Total {
            return Err(Error::type_err(
                "total() takes numbers; use sum() for vectors",
            ));
        }
        let elems = v.vector_f32().unwrap_or_default();
        let half = matches!(v, Value::HalfVec(_));
        match self {
            Acc::Sum(SumCtx { cnt: 0, .. }) => {
                *self = Acc::VecSum(VecSum {
                    sum: elems.iter().map(|&x| f64::from(x)).collect(),
                    n: 1,
                    half,
                });
                Ok(())
            }
            Acc::VecSum(acc) => {
                if acc.sum.len() != elems.len() {
                    return Err(cairn_core::vector::VectorError::DimsMismatch {
                        expected: acc.sum.len(),
                        got: elems.len(),
                    }
                    .into());
                }
                for (s, &x) in acc.sum.iter_mut().zip(elems.iter()) {
                    *s += f64::from(x);
                }
                acc.n += 1;
                acc.half &= half;
                Ok(())
            }
            _ => Err(Error::type_err(format!(
                "{}() mixes numbers and vectors",
                sum_name(call.func)
            ))),
        }
    }

    fn peek(&self, call: &AggCall) -> Result<Value> {
        Ok(match self {
            Acc::Distinct(_, inner) => return inner.peek(call),
            Acc::Count(c) => Value::Integer(*c),
            Acc::Sum(ctx) => ctx.value(call.func)?,
            Acc::VecSum(acc) => acc.value(call.func == AggFunc::Avg)?,
            Acc::Extreme(v) | Acc::Any(v) => v.clone().unwrap_or(Value::Null),
            Acc::Concat(s) => s.as_ref().map_or(Value::Null, |s| Value::text(s)),
            Acc::Bool(b) => b.map_or(Value::Null, Value::Boolean),
        })
    }

    fn finish(self, call: &AggCall) -> Result<Value> {
        self.peek(call)
    }
}
