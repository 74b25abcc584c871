//! Sessions: one connection's state (open transaction, settings) over a shared
//! engine. Statements run here; a failed statement never leaves the session
//! unusable.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use cairn_core::{DataType, Error, Result, Row, Value};
use cairn_storage::{SchemaChange, Store, Table, Transaction};
use parking_lot::Mutex;
use sqlparser::ast;

use crate::cursor::{Column, Cursor};
use crate::dml::{self, DeletePlan, InsertPlan, UpdatePlan};
use crate::exec::{Executor, Interrupt, Settings};
use crate::plan::{Plan, Subqueries};
use crate::planner::Planner;
use crate::rules::Trace;
use crate::scope::OutCol;

/// The shared database: catalog and tables. Cheap to share between threads.
pub struct Engine {
    store: Arc<Store>,
    /// The triggers of the catalog version in force, parsed and planned.
    triggers: crate::fire::TriggerCache,
}

impl Engine {
    pub fn new() -> Arc<Engine> {
        Engine::with_store(Store::new())
    }

    /// An engine over an existing store (an on-disk one, say).
    pub fn with_store(store: Arc<Store>) -> Arc<Engine> {
        Arc::new(Engine {
            store,
            triggers: crate::fire::TriggerCache::default(),
        })
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }
}

/// What a statement produced: rows (for queries) and/or a count of rows
/// changed (for DML).
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// Shared with the prepared plan: executing never copies column names.
    pub columns: Arc<[Column]>,
    pub rows: Vec<Row>,
    pub rows_affected: u64,
    /// True when the statement returns rows (SELECT, VALUES, EXPLAIN ...).
    pub returns_rows: bool,
}

impl Output {
    pub(crate) fn rows(columns: Arc<[Column]>, rows: Vec<Row>) -> Output {
        Output {
            columns,
            rows,
            rows_affected: 0,
            returns_rows: true,
        }
    }

    fn affected(n: u64) -> Output {
        Output {
            rows_affected: n,
            ..Output::default()
        }
    }

    pub(crate) fn text_rows(name: &str, text: &str) -> Output {
        Output {
            columns: Arc::from(vec![Column {
                name: name.to_string(),
                data_type: Some(DataType::Text),
            }]),
            rows: text.lines().map(|l| vec![Value::text(l)]).collect(),
            rows_affected: 0,
            returns_rows: true,
        }
    }
}

/// A statement compiled against one catalog version: its plan, and the
/// plans of the subqueries its expressions name.
struct Compiled {
    plan: StatementPlan,
    subqueries: Arc<Subqueries>,
    /// For a query a cursor can stream (see [`Cursor`]): the table it scans.
    stream_table: Option<Arc<Table>>,
    /// The planner rules that fired (`EXPLAIN VERBOSE`).
    rules: Trace,
}

/// The plan of each kind of statement that has one.
enum StatementPlan {
    Query {
        plan: Arc<Plan>,
        cols: Arc<[Column]>,
    },
    Insert(InsertPlan),
    Update(UpdatePlan),
    Delete(DeletePlan),
    /// A write to a view, done by its INSTEAD OF triggers.
    ViewWrite(crate::fire::ViewWrite),
}

/// A parsed statement, re-planned automatically when the schema changes.
pub struct Prepared {
    pub sql: String,
    stmt: ast::Statement,
    param_count: usize,
    cache: Mutex<Option<(u64, Arc<Compiled>)>>,
}

/// The settings `SET` accepts.
const SETTINGS: &[&str] = &["hnsw.ef_search", "statement_timeout", "vector.rerank"];

/// `statement_timeout` as PostgreSQL reads it: a number of milliseconds, or
/// a number with a unit (`ms`, `s`, `min`, `h`, `d`); 0 turns it off.
fn parse_timeout(text: &str) -> Option<std::time::Duration> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let ms = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "ms" => 1.0,
        "s" => 1e3,
        "min" => 60e3,
        "h" => 3_600e3,
        "d" => 86_400e3,
        _ => return None,
    };
    let total = n * ms;
    // More than a year is a typo, not a timeout.
    (total.is_finite() && (0.0..=365.0 * 86_400e3).contains(&total))
        .then(|| std::time::Duration::from_secs_f64(total / 1e3))
}

/// `SET hnsw.ef_search = value`: a positive integer up to the maximum.
fn ef_search_setting(value: &str) -> Result<usize> {
    let ef: usize = value
        .trim()
        .parse()
        .ok()
        .filter(|&ef| ef > 0)
        .ok_or_else(|| {
            Error::plan(format!(
                "hnsw.ef_search must be a positive integer, got {value}"
            ))
        })?;
    if ef > cairn_storage::EF_SEARCH_MAX {
        return Err(Error::Limit {
            what: format!("hnsw.ef_search = {ef}"),
            max: cairn_storage::EF_SEARCH_MAX as u64,
        });
    }
    Ok(ef)
}

/// `SET vector.rerank = n | default`: candidates re-ranked per result on
/// quantized indexes (1..=RERANK_MAX), `None` for each index's own.
fn rerank_setting(value: &str) -> Result<Option<usize>> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("default") {
        return Ok(None);
    }
    v.parse::<usize>()
        .ok()
        .filter(|r| (1..=cairn_storage::RERANK_MAX).contains(r))
        .map(Some)
        .ok_or_else(|| {
            Error::plan(format!(
                "vector.rerank must be an integer in 1..={} or default, got {value}",
                cairn_storage::RERANK_MAX
            ))
        })
}

/// `SET statement_timeout = value`: the limit and its text, `None` for 0.
fn timeout_setting(value: &str) -> Result<Option<(std::time::Duration, Arc<str>)>> {
    let d = parse_timeout(value).ok_or_else(|| {
        Error::plan(format!(
            "statement_timeout must be milliseconds or a number with ms, s, min, h or d, got {value}"
        ))
    })?;
    Ok((!d.is_zero()).then(|| (d, Arc::from(value.trim()))))
}

pub struct Session {
    engine: Arc<Engine>,
    tx: Option<Transaction>,
    settings: HashMap<String, String>,
    /// `SET hnsw.ef_search`: candidate list size of vector index searches.
    ef_search: usize,
    /// `SET LOCAL hnsw.ef_search`: for the open transaction only.
    ef_local: Option<usize>,
    /// `SET vector.rerank`: `None` = each index's own.
    rerank: Option<usize>,
    /// `SET LOCAL vector.rerank`: for the open transaction only.
    rerank_local: Option<Option<usize>>,
    /// `SET statement_timeout`: how long one statement may run, as given.
    timeout: Option<(std::time::Duration, Arc<str>)>,
    /// `SET LOCAL statement_timeout`: for the open transaction only.
    timeout_local: Option<Option<(std::time::Duration, Arc<str>)>>,
    /// Raised by another thread to stop the running statement; lowered
    /// when a statement starts.
    interrupt: Interrupt,
}

/// Compiles `stmt`; with `trace`, recording the planner rules that fire.
fn compile(
    store: &Arc<Store>,
    stmt: &ast::Statement,
    trace: bool,
) -> Result<Option<(Compiled, usize)>> {
    let mut planner = Planner::new(store);
    if trace {
        planner.bind.trace = Trace::recording();
    }
    let plan = match stmt {
        ast::Statement::Query(q)
            if matches!(
                &*q.body,
                ast::SetExpr::Insert(_) | ast::SetExpr::Update(_) | ast::SetExpr::Delete(_)
            ) =>
        {
            match planner.plan_write_with(q)? {
                Some(dml::WritePlan::Insert(i)) => StatementPlan::Insert(i),
                Some(dml::WritePlan::Update(u)) => StatementPlan::Update(u),
                Some(dml::WritePlan::Delete(d)) => StatementPlan::Delete(d),
                None => return Err(Error::internal("write statement without a write")),
            }
        }
        ast::Statement::Query(q) => {
            let (plan, cols) = planner.plan_query(q)?;
            let cols = cols
                .into_iter()
                .map(|c: OutCol| Column {
                    name: c.name,
                    data_type: c.data_type,
                })
                .collect();
            StatementPlan::Query {
                plan: Arc::new(plan),
                cols,
            }
        }
        ast::Statement::Insert(_) | ast::Statement::Update(_) | ast::Statement::Delete(_)
            if store.view(&write_target(stmt)).is_some() =>
        {
            match crate::fire::plan_view_write(&mut planner, stmt)? {
                Some(v) => StatementPlan::ViewWrite(v),
                None => plan_table_write(&mut planner, stmt)?,
            }
        }
        ast::Statement::Insert(_) | ast::Statement::Update(_) | ast::Statement::Delete(_) => {
            plan_table_write(&mut planner, stmt)?
        }
        _ => return Ok(None),
    };
    let param_count = planner.bind.param_count;
    let subqueries = Arc::new(std::mem::take(&mut planner.bind.subqueries));
    let stream_table = match &plan {
        StatementPlan::Query { plan, .. } => crate::cursor::pipeline_scan(plan).map(|(t, _)| t),
        _ => None,
    };
    let compiled = Compiled {
        plan,
        subqueries,
        stream_table,
        rules: std::mem::take(&mut planner.bind.trace),
    };
    Ok(Some((compiled, param_count)))
}

/// The table or view an INSERT, UPDATE or DELETE names ("" for others).
fn write_target(stmt: &ast::Statement) -> String {
    use crate::ast_util::object_name;
    match stmt {
        ast::Statement::Insert(ast::Insert {
            table: ast::TableObject::TableName(n),
            ..
        }) => object_name(n),
        ast::Statement::Update(u) => match &u.table.relation {
            ast::TableFactor::Table { name, .. } => object_name(name),
            _ => String::new(),
        },
        ast::Statement::Delete(d) => match &d.from {
            ast::FromTable::WithFromKeyword(v) | ast::FromTable::WithoutKeyword(v) => {
                match v.first().map(|t| &t.relation) {
                    Some(ast::TableFactor::Table { name, .. }) => object_name(name),
                    _ => String::new(),
                }
            }
        },
        _ => String::new(),
    }
}

/// INSERT, UPDATE or DELETE on a table.
fn plan_table_write(planner: &mut Planner<'_>, stmt: &ast::Statement) -> Result<StatementPlan> {
    Ok(match stmt {
        ast::Statement::Insert(i) => StatementPlan::Insert(planner.plan_insert(i)?),
        ast::Statement::Update(u) => StatementPlan::Update(planner.plan_update(u)?),
        ast::Statement::Delete(d) => StatementPlan::Delete(planner.plan_delete(d)?),
        _ => return Err(Error::internal("not a write statement")),
    })
}

impl Session {
    pub fn new(engine: Arc<Engine>) -> Session {
        Session {
            engine,
            tx: None,
            settings: HashMap::new(),
            ef_search: cairn_storage::EF_SEARCH_DEFAULT,
            ef_local: None,
            rerank: None,
            rerank_local: None,
            timeout: None,
            timeout_local: None,
            interrupt: Interrupt::default(),
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.engine.store
    }

    /// Parses exactly one statement.
    pub fn prepare(&mut self, sql: &str) -> Result<Prepared> {
        let mut stmts = crate::parser::parse_statements(sql)?;
        if stmts.len() != 1 {
            return Err(Error::plan(format!(
                "expected exactly one statement, found {}; use execute_batch for several",
                stmts.len()
            )));
        }
        let stmt = stmts
            .pop()
            .ok_or_else(|| Error::internal("statement vanished"))?;
        self.prepare_ast(sql.to_string(), stmt)
    }

    fn prepare_ast(&mut self, sql: String, stmt: ast::Statement) -> Result<Prepared> {
        self.store().refresh_stale_stats()?;
        let version = self.store().catalog_version();
        // Plan now to report errors early and learn the parameter count;
        // statements on objects that do not exist yet plan at execution.
        let (cache, param_count) = match compile(self.store(), &stmt, false) {
            Ok(Some((c, n))) => (Some((version, Arc::new(c))), n),
            Ok(None) => (None, 0),
            Err(e) => return Err(e),
        };
        Ok(Prepared {
            sql,
            stmt,
            param_count,
            cache: Mutex::new(cache),
        })
    }

    /// Number of `$n`/`?` parameters the statement takes.
    pub fn parameter_count(&self, stmt: &Prepared) -> usize {
        stmt.param_count
    }

    /// Runs exactly one statement.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<Output> {
        let p = self.prepare(sql)?;
        self.execute_prepared(&p, params)
    }

    /// Runs exactly one statement and returns its rows as a cursor.
    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Cursor> {
        let p = self.prepare(sql)?;
        self.query_prepared(&p, params)
    }

    /// Runs `p` and returns its rows as a cursor: streaming for a query
    /// whose plan is a pipeline over a table scan (see [`Cursor`]),
    /// computed in full otherwise (and for statements that are not
    /// queries).
    pub fn query_prepared(&mut self, p: &Prepared, params: &[Value]) -> Result<Cursor> {
        let ast::Statement::Query(_) = &p.stmt else {
            let out = self.execute_prepared(p, params)?;
            return Ok(Cursor::buffered(out.columns, out.rows));
        };
        self.start_statement();
        let params = checked_params(params, p.param_count)?;
        let c = self.compiled(p)?;
        let settings = self.settings();
        if let (StatementPlan::Query { plan, cols }, Some(table)) = (&c.plan, &c.stream_table) {
            if let Some(tx) = self.cursor_transaction(table, &c.subqueries)? {
                let owned = params.to_vec();
                let cursor = Cursor::stream(
                    cols.clone(),
                    plan.clone(),
                    c.subqueries.clone(),
                    tx,
                    owned,
                    settings.clone(),
                )?;
                if let Some(cursor) = cursor {
                    return Ok(cursor);
                }
            }
        }
        let firing = self.firing(settings.clone())?;
        let out = self.in_tx(|tx| run_compiled(&c, tx, &params, settings, firing))?;
        Ok(Cursor::buffered(out.columns, out.rows))
    }

    /// A transaction of its own for a streaming cursor over `table`: a new
    /// one outside a transaction; inside one, a read-only transaction at
    /// its snapshot if it has not written `table` (its own writes would
    /// not show through); else `None`.
    ///
    /// With subqueries (which may read any table), the open transaction
    /// must not have written at all; otherwise only not to the scanned
    /// table. Else `None`: the query runs in the open transaction, buffered.
    fn cursor_transaction(
        &self,
        table: &Arc<Table>,
        subqueries: &Subqueries,
    ) -> Result<Option<Transaction>> {
        let store = self.store();
        match &self.tx {
            None => Ok(Some(store.begin())),
            Some(tx) if !subqueries.is_empty() && tx.has_writes() => Ok(None),
            Some(tx) if tx.has_writes_to(table) => Ok(None),
            Some(tx) => store.begin_at(tx.start_ts()).map(Some),
        }
    }

    /// Runs every statement in `sql`, in order, stopping at the first error.
    /// Returns the output of each.
    pub fn execute_batch(&mut self, sql: &str) -> Result<Vec<Output>> {
        let stmts = crate::parser::parse_statements(sql)?;
        let mut outs = Vec::with_capacity(stmts.len());
        for stmt in stmts {
            let p = self.prepare_ast(stmt.to_string(), stmt)?;
            outs.push(self.execute_prepared(&p, &[])?);
        }
        Ok(outs)
    }

    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }

    /// The open explicit transaction, if any.
    pub(crate) fn open_transaction(&self) -> Option<&Transaction> {
        self.tx.as_ref()
    }

    /// Opens an explicit transaction (what SQL `BEGIN` does): statements
    /// run in it until [`Session::commit`] or [`Session::rollback`].
    pub fn begin(&mut self) -> Result<()> {
        if self.tx.is_some() {
            return Err(Error::Transaction {
                message: "cannot start a transaction within a transaction".into(),
            });
        }
        self.tx = Some(self.store().begin());
        self.ef_local = None;
        self.rerank_local = None;
        self.timeout_local = None;
        Ok(())
    }

    /// Commits the open transaction (SQL `COMMIT`). It is closed whatever
    /// the outcome; on an error (a conflict, an I/O failure) nothing of it
    /// took effect.
    pub fn commit(&mut self) -> Result<()> {
        self.end_local_settings();
        match self.tx.take() {
            Some(tx) => self.store().commit(tx).map(|_| ()),
            None => Err(Error::Transaction {
                message: "cannot commit - no transaction is active".into(),
            }),
        }
    }

    /// Discards the open transaction (SQL `ROLLBACK`).
    pub fn rollback(&mut self) -> Result<()> {
        self.end_local_settings();
        match self.tx.take() {
            Some(_) => Ok(()),
            None => Err(Error::Transaction {
                message: "cannot rollback - no transaction is active".into(),
            }),
        }
    }

    /// `SET LOCAL` values last for their transaction only (a transaction a
    /// DDL statement opens for itself must not find them).
    fn end_local_settings(&mut self) {
        self.ef_local = None;
        self.rerank_local = None;
        self.timeout_local = None;
    }

    /// Names of all tables and views, sorted.
    pub fn table_names(&self) -> Vec<String> {
        let mut names = self.store().table_names();
        names.extend(self.store().view_names());
        names.sort();
        names
    }

    /// The CREATE statements of one table (and its indexes and triggers)
    /// or view (and its triggers), or of everything.
    pub fn schema_sql(&self, table: Option<&str>) -> Result<Vec<String>> {
        let store = self.store();
        let names = match table {
            Some(t) => vec![t.to_string()],
            None => self.table_names(),
        };
        let mut out = Vec::new();
        for n in names {
            if let Some(t) = store.table(&n) {
                out.push(t.schema().create_sql.clone());
                for idx in t.indexes() {
                    if let Some(sql) = idx.create_sql {
                        out.push(sql);
                    }
                }
                for v in t.vector_indexes() {
                    out.push(v.create_sql);
                }
            } else if let Some(v) = store.view(&n) {
                out.push(v.create_sql);
            } else if table.is_some() {
                return Err(Error::no_such("table", n));
            } else {
                continue;
            }
            let triggers = store.triggers();
            let on_this = triggers
                .into_iter()
                .filter(|t| t.table.eq_ignore_ascii_case(&n));
            out.extend(on_this.map(|t| t.create_sql));
        }
        Ok(out)
    }

    /// A session setting (`SET name = value`).
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.settings
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    fn compiled(&self, p: &Prepared) -> Result<Arc<Compiled>> {
        // Statistics follow large changes: taken again here, they move the
        // catalog version, and the statement plans again with them.
        self.store().refresh_stale_stats()?;
        let version = self.store().catalog_version();
        let mut cache = p.cache.lock();
        if let Some((v, c)) = &*cache {
            if *v == version {
                return Ok(c.clone());
            }
        }
        match compile(self.store(), &p.stmt, false)? {
            Some((c, _)) => {
                let c = Arc::new(c);
                *cache = Some((version, c.clone()));
                Ok(c)
            }
            None => Err(Error::internal("statement has no plan")),
        }
    }

    pub fn execute_prepared(&mut self, p: &Prepared, params: &[Value]) -> Result<Output> {
        self.start_statement();
        let params = &*checked_params(params, p.param_count)?;
        let store = self.store().clone();
        match &p.stmt {
            ast::Statement::Query(_)
            | ast::Statement::Insert(_)
            | ast::Statement::Update(_)
            | ast::Statement::Delete(_) => {
                let c = self.compiled(p)?;
                let settings = self.settings();
                let firing = self.firing(settings.clone())?;
                self.in_tx(|tx| run_compiled(&c, tx, params, settings, firing))
            }
            ast::Statement::StartTransaction { .. } => self.begin().map(|_| Output::default()),
            ast::Statement::Commit { .. } => self.commit().map(|_| Output::default()),
            ast::Statement::Rollback {
                savepoint: None, ..
            } => self.rollback().map(|_| Output::default()),
            ast::Statement::Explain {
                statement,
                analyze,
                verbose,
                ..
            } => {
                if *analyze {
                    let text = self.explain_analyze(&store, statement, *verbose)?;
                    return Ok(Output::text_rows("plan", &text));
                }
                let text = self.explain(&store, statement, *verbose)?;
                Ok(Output::text_rows("plan", &text))
            }
            ast::Statement::CreateTable(ct) if ct.query.is_some() => {
                self.in_ddl_tx(|s| s.create_table_as(ct))
            }
            ast::Statement::CreateTable(ct) => self.schema_change(|ddl| {
                crate::ddl::create_table(&store, ddl, ct, p.stmt.to_string()).map(drop)
            }),
            ast::Statement::CreateIndex(ci) => self.schema_change(|ddl| {
                crate::ddl::create_index(&store, ddl, ci, p.stmt.to_string()).map(drop)
            }),
            ast::Statement::CreateView(cv) => self
                .schema_change(|ddl| crate::ddl::create_view(&store, ddl, cv, p.stmt.to_string())),
            ast::Statement::Drop {
                object_type,
                if_exists,
                names,
                ..
            } => self.schema_change(|ddl| crate::ddl::drop(ddl, object_type, *if_exists, names)),
            ast::Statement::AlterTable(at) => {
                self.schema_change(|ddl| crate::ddl::alter_table(&store, ddl, at))
            }
            ast::Statement::CreateTrigger(ct) => {
                self.schema_change(|ddl| crate::fire::create_trigger(&store, ddl, ct))
            }
            ast::Statement::DropTrigger(dt) => {
                self.schema_change(|ddl| crate::fire::drop_trigger(ddl, dt))
            }
            ast::Statement::Set(set) => self.set(set),
            ast::Statement::ShowVariable { variable } => self.show(variable),
            ast::Statement::ShowTables { .. } => {
                let (columns, rows) = crate::system::show_tables(&store);
                Ok(Output::rows(columns, rows))
            }
            ast::Statement::ExplainTable { table_name, .. } => {
                let (columns, rows) = crate::system::describe(&store, table_name)?;
                Ok(Output::rows(columns, rows))
            }
            ast::Statement::Pragma { name, value, .. } => {
                let value = value.as_ref().map(|v| match &v.value {
                    ast::Value::SingleQuotedString(s) => s.clone(),
                    other => other.to_string(),
                });
                self.pragma(&name.to_string().to_ascii_lowercase(), value.as_deref())
            }
            other => Err(Error::unsupported(format!(
                "statement {}",
                statement_kind(other)
            ))),
        }
    }

    /// EXPLAIN's text for `statement`: its plan and, for a query, what a
    /// sample says now about each filtered vector search in it; with
    /// VERBOSE, the planner rules that fired.
    fn explain(
        &self,
        store: &Arc<Store>,
        statement: &ast::Statement,
        verbose: bool,
    ) -> Result<String> {
        let Some((c, _)) = compile(store, statement, verbose)? else {
            return Err(Error::unsupported("EXPLAIN of this statement"));
        };
        let mut text = self.explain_plan(store, &c, verbose);
        if verbose {
            text.push_str(&c.rules.explain());
            if let StatementPlan::Query { .. } = &c.plan {
                text.push_str(match &c.stream_table {
                    Some(_) => "Cursor: rows stream as they are pulled\n",
                    None => "Cursor: computed in full when opened\n",
                });
            }
        }
        Ok(text)
    }

    /// EXPLAIN ANALYZE of a query: runs it (its rows are dropped) and
    /// prints the plan with the rows each operator produced and how many
    /// times it ran, then the total time. Writes are refused: EXPLAIN
    /// ANALYZE never changes the database.
    fn explain_analyze(
        &mut self,
        store: &Arc<Store>,
        statement: &ast::Statement,
        verbose: bool,
    ) -> Result<String> {
        let Some((c, _)) = compile(store, statement, verbose)? else {
            return Err(Error::unsupported("EXPLAIN ANALYZE of this statement"));
        };
        let StatementPlan::Query { plan, .. } = &c.plan else {
            return Err(Error::unsupported(
                "EXPLAIN ANALYZE of INSERT, UPDATE or DELETE (it would run the write)",
            ));
        };
        let settings = self.settings();
        let started = std::time::Instant::now();
        let mut text = String::new();
        self.in_tx(|tx| {
            let ex = Executor::new(tx, &[], settings, &c.subqueries).profiled();
            let rows = ex.run(plan, &[])?;
            let elapsed = started.elapsed();
            text = plan.explain_noted(&|op| {
                let s = ex.stats_of(op)?;
                let est = crate::estimate::rows(op).round();
                let ms = s.time.as_secs_f64() * 1e3;
                Some(match s.loops {
                    1 => format!("actual rows={} time={ms:.3} ms, est rows={est}", s.rows),
                    n => format!(
                        "actual rows={} loops={n} time={ms:.3} ms, est rows={est} per loop",
                        s.rows
                    ),
                })
            });
            text.push_str(&format!(
                "Returned {} rows in {:.3} ms\n",
                rows.len(),
                elapsed.as_secs_f64() * 1e3
            ));
            Ok(Output::default())
        })?;
        if verbose {
            text.push_str(&c.rules.explain());
        }
        Ok(text)
    }

    /// EXPLAIN's text of a compiled statement; VERBOSE adds each query
    /// operator's estimated rows.
    fn explain_plan(&self, store: &Arc<Store>, c: &Compiled, verbose: bool) -> String {
        match &c.plan {
            StatementPlan::Query { plan, .. } => {
                let mut text = if verbose {
                    plan.explain_noted(&|op| {
                        Some(format!("est rows={}", crate::estimate::rows(op).round()))
                    })
                } else {
                    plan.explain()
                };
                let tx = store.begin();
                let tx = self.tx.as_ref().unwrap_or(&tx);
                let ex = Executor::new(tx, &[], self.settings(), &c.subqueries);
                let mut notes = Vec::new();
                ex.vector_notes(plan, &mut notes);
                for n in notes {
                    text.push_str(&n);
                    text.push('\n');
                }
                text
            }
            StatementPlan::Insert(i) => {
                format!("Insert {}\n{}", i.table.name(), indent(&i.source.explain()))
            }
            StatementPlan::Update(u) => {
                let scan = dml::explain_scan(&u.scan);
                format!("Update {}\n{}", u.table.name(), indent(&scan))
            }
            StatementPlan::Delete(d) => {
                let scan = dml::explain_scan(&d.scan);
                format!("Delete {}\n{}", d.table.name(), indent(&scan))
            }
            StatementPlan::ViewWrite(v) => v.explain(),
        }
    }

    /// The `k` rows nearest to `query` by vector index `index`, read in the
    /// open transaction or a fresh snapshot, nearest first (exact distance,
    /// then row id). `ef` overrides the session's `hnsw.ef_search`.
    pub fn nearest(
        &mut self,
        index: &str,
        query: &[f32],
        k: usize,
        ef: Option<usize>,
    ) -> Result<Vec<cairn_storage::VectorHit>> {
        let store = self.store().clone();
        let table = store
            .index_table(index)
            .ok_or_else(|| Error::no_such("index", index))?;
        let index_no = table
            .vector_index_no(index)
            .ok_or_else(|| Error::plan(format!("index {index} is not a vector index")))?;
        cairn_core::vector::validate(query)?;
        let ef = ef
            .unwrap_or(self.ef_search())
            .clamp(1, cairn_storage::EF_SEARCH_MAX);
        let req = cairn_storage::VectorQuery {
            index_no,
            query,
            k,
            ef: ef.max(k),
            rerank: self.rerank(),
            strategy: cairn_storage::VectorStrategy::Index,
            filtered: false,
        };
        let run = |tx: &Transaction| {
            tx.vector_search(&table, &req, &mut |_| Ok(true))
                .map(|(hits, _)| hits)
        };
        match &self.tx {
            Some(tx) => run(tx),
            None => run(&store.begin()),
        }
    }

    /// The `hnsw.ef_search` in force: the transaction's `SET LOCAL` value,
    /// else the session's.
    fn ef_search(&self) -> usize {
        match (&self.tx, self.ef_local) {
            (Some(_), Some(ef)) => ef,
            _ => self.ef_search,
        }
    }

    /// The `vector.rerank` in force: the transaction's `SET LOCAL` value,
    /// else the session's (`None`: each index's own).
    fn rerank(&self) -> Option<usize> {
        match (&self.tx, self.rerank_local) {
            (Some(_), Some(local)) => local,
            _ => self.rerank,
        }
    }

    /// The settings a statement started now runs with.
    pub(crate) fn settings(&self) -> Settings {
        Settings {
            ef_search: self.ef_search(),
            rerank: self.rerank(),
            interrupt: Some(self.interrupt.clone()),
            deadline: match (&self.tx, &self.timeout_local) {
                (Some(_), Some(local)) => local.as_ref(),
                _ => self.timeout.as_ref(),
            }
            .map(|(d, text)| (std::time::Instant::now() + *d, text.clone())),
        }
    }

    /// What fires the triggers of one statement's writes.
    fn firing(&self, settings: Settings) -> Result<crate::fire::Firing> {
        let set = self.engine.triggers.get(self.store())?;
        Ok(crate::fire::Firing::new(
            self.store().clone(),
            set,
            settings,
        ))
    }

    /// Called as a statement starts: an interrupt raised while nothing ran
    /// is not for it.
    pub(crate) fn start_statement(&self) {
        self.interrupt.clear();
    }

    /// A handle that stops this session's running statement from another
    /// thread (see [`Interrupt`]).
    pub fn interrupt_handle(&self) -> Interrupt {
        self.interrupt.clone()
    }

    /// Size and state of vector index `index`.
    pub fn vector_index_stats(&self, index: &str) -> Option<cairn_storage::VectorIndexStats> {
        let table = self.store().index_table(index)?;
        table.vector_index_stats(table.vector_index_no(index)?)
    }

    /// `PRAGMA synchronous [= off | normal | full]`, `PRAGMA integrity_check`.
    fn pragma(&mut self, name: &str, value: Option<&str>) -> Result<Output> {
        let store = self.engine.store.clone();
        let one_column = |col: &str, rows: Vec<Value>| {
            let columns: Arc<[Column]> = Arc::from(vec![Column {
                name: col.to_string(),
                data_type: Some(DataType::Text),
            }]);
            Output::rows(columns, rows.into_iter().map(|v| vec![v]).collect())
        };
        match (name, value) {
            ("synchronous", None) => {
                let mode = store.synchronous().map_or("off", |m| m.name());
                Ok(one_column("synchronous", vec![Value::text(mode)]))
            }
            ("synchronous", Some(v)) => {
                let mode = cairn_storage::Synchronous::parse(v).ok_or_else(|| {
                    Error::plan(format!(
                        "PRAGMA synchronous takes off, normal or full, not {v}"
                    ))
                })?;
                store.set_synchronous(mode);
                Ok(Output::default())
            }
            ("analyze", target) => {
                store.analyze(target)?;
                Ok(Output::default())
            }
            ("reindex", target) => {
                store.reindex(target)?;
                Ok(Output::default())
            }
            ("checkpoint" | "wal_checkpoint", _) => {
                store.checkpoint()?;
                Ok(Output::default())
            }
            ("table_info", Some(t)) => {
                let (columns, rows) = crate::system::table_info(&store, t)?;
                Ok(Output::rows(columns, rows))
            }
            ("integrity_check", _) => {
                let problems = store.integrity_check()?;
                let rows = if problems.is_empty() {
                    vec![Value::text("ok")]
                } else {
                    problems.iter().map(|p| Value::text(p)).collect()
                };
                Ok(one_column("integrity_check", rows))
            }
            _ => Err(Error::unsupported(format!("PRAGMA {name}"))),
        }
    }

    /// `CREATE TABLE t AS SELECT …`: a table with the query's column names
    /// and types (ANY where a column's type is not known), filled with its
    /// rows. The stored schema is the plain `CREATE TABLE` it amounts to.
    /// If filling it fails, the table is dropped again.
    /// Runs a DDL statement inside the open transaction (whose commit
    /// logs it and whose rollback takes it back), or else in a transaction
    /// of its own, so a statement that makes several catalog changes (a
    /// table and its UNIQUE indexes, CREATE OR REPLACE VIEW, CREATE TABLE
    /// … AS with its rows) is all or nothing.
    fn in_ddl_tx(&mut self, run: impl FnOnce(&mut Self) -> Result<Output>) -> Result<Output> {
        if self.tx.is_some() {
            return run(self);
        }
        self.tx = Some(self.store().begin());
        let out = run(self);
        let tx = self.tx.take();
        match (out, tx) {
            (Ok(out), Some(tx)) => self.store().commit(tx).map(|_| out),
            (Ok(_), None) => Err(Error::internal("a DDL statement ended its transaction")),
            (Err(e), _) => Err(e),
        }
    }

    /// Runs a DDL statement's catalog changes through a [`SchemaChange`]
    /// in the statement's transaction (see [`Session::in_ddl_tx`]); a
    /// vector index build among them stops on Ctrl-C or statement_timeout.
    fn schema_change(
        &mut self,
        run: impl FnOnce(&mut SchemaChange<'_>) -> Result<()>,
    ) -> Result<Output> {
        let store = self.store().clone();
        self.in_ddl_tx(|s| {
            let settings = s.settings();
            let stop = move || settings.stop_check();
            let mut ddl = store.ddl(s.tx.as_mut()).stop_when(&stop);
            run(&mut ddl).map(|()| Output::default())
        })
    }

    fn create_table_as(&mut self, ct: &ast::CreateTable) -> Result<Output> {
        let Some(query) = &ct.query else {
            return Err(Error::internal("CREATE TABLE AS without a query"));
        };
        if !ct.columns.is_empty() {
            return Err(Error::unsupported(
                "column definitions with CREATE TABLE ... AS",
            ));
        }
        let store = self.store().clone();
        let name = crate::ast_util::object_name(&ct.name);
        if store.table(&name).is_some() || store.view(&name).is_some() {
            if ct.if_not_exists {
                return Ok(Output::default());
            }
            return Err(Error::AlreadyExists {
                kind: "table",
                name,
            });
        }
        let (_, cols) = Planner::new(&store).plan_query(query)?;
        let defs: Vec<String> = cols
            .iter()
            .map(|c| {
                let ty = c.data_type.unwrap_or(DataType::Any);
                format!("{} {ty}", ast::Ident::with_quote('"', c.name.as_str()))
            })
            .collect();
        let quoted = ast::Ident::with_quote('"', name.as_str());
        let create = format!("CREATE TABLE {quoted} ({})", defs.join(", "));
        let stmt = crate::parser::parse_statements(&create)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal("CREATE TABLE AS produced no statement"))?;
        let ast::Statement::CreateTable(plain) = &stmt else {
            return Err(Error::internal(
                "CREATE TABLE AS produced another statement",
            ));
        };
        crate::ddl::create_table(
            &store,
            &mut store.ddl(self.tx.as_mut()),
            plain,
            create.clone(),
        )?;
        // In the statement's transaction: if filling fails, the table goes
        // with it (the caller undoes both, as one statement).
        let insert = format!("INSERT INTO {quoted} {query}");
        let filled = self
            .prepare(&insert)
            .and_then(|p| self.execute_prepared(&p, &[]));
        match filled {
            Ok(out) => Ok(Output::affected(out.rows_affected)),
            Err(e) => {
                let _ = store.ddl(self.tx.as_mut()).drop_table(&name);
                Err(e)
            }
        }
    }

    /// `SHOW name`: a setting's value in force now.
    fn show(&self, variable: &[ast::Ident]) -> Result<Output> {
        let name = variable
            .iter()
            .map(|i| i.value.to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(".");
        if name == "all" {
            return Ok(self.show_all());
        }
        match self.settings().value(&name) {
            Some(value) => Ok(Output::text_rows(&name, &value)),
            None => Err(Error::no_such("setting", &name)),
        }
    }

    /// `SHOW ALL`: every setting and its value.
    fn show_all(&self) -> Output {
        let settings = self.settings();
        let rows = SETTINGS
            .iter()
            .map(|name| {
                let value = settings
                    .value(name)
                    .map_or(Value::Null, |v| Value::text(&v));
                vec![Value::text(name), value]
            })
            .collect();
        let columns: Arc<[Column]> = Arc::from(vec![
            Column {
                name: "name".into(),
                data_type: Some(DataType::Text),
            },
            Column {
                name: "setting".into(),
                data_type: Some(DataType::Text),
            },
        ]);
        Output::rows(columns, rows)
    }

    fn set(&mut self, set: &ast::Set) -> Result<Output> {
        let ast::Set::SingleAssignment {
            variable,
            values,
            scope,
            ..
        } = set
        else {
            return Err(Error::unsupported(format!("SET form {set}")));
        };
        let local = matches!(scope, Some(ast::ContextModifier::Local));
        let name = variable.to_string().to_ascii_lowercase();
        let value = values
            .iter()
            .map(|v| match v {
                ast::Expr::Value(v) => match &v.value {
                    ast::Value::SingleQuotedString(s) => s.clone(),
                    other => other.to_string(),
                },
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ");
        // A misspelt setting must not be silently kept.
        if !SETTINGS.contains(&name.as_str()) {
            return Err(Error::no_such("setting", &name));
        }
        let local_needs_tx = || -> Result<()> {
            match self.tx {
                Some(_) => Ok(()),
                None => Err(Error::Transaction {
                    message: "SET LOCAL needs an open transaction".into(),
                }),
            }
        };
        if name == "hnsw.ef_search" {
            let ef = ef_search_setting(&value)?;
            if local {
                local_needs_tx()?;
                self.ef_local = Some(ef);
                return Ok(Output::default());
            }
            self.ef_search = ef;
        }
        if name == "vector.rerank" {
            let rerank = rerank_setting(&value)?;
            if local {
                local_needs_tx()?;
                self.rerank_local = Some(rerank);
                return Ok(Output::default());
            }
            self.rerank = rerank;
        }
        if name == "statement_timeout" {
            let timeout = timeout_setting(&value)?;
            if local {
                local_needs_tx()?;
                self.timeout_local = Some(timeout);
                return Ok(Output::default());
            }
            self.timeout = timeout;
        }
        self.settings.insert(name, value);
        Ok(Output::default())
    }

    /// Runs `f` in the open transaction (rolling back only this statement
    /// on error) or in a new one that commits on success.
    fn in_tx(&mut self, f: impl FnOnce(&mut Transaction) -> Result<Output>) -> Result<Output> {
        match self.tx.as_mut() {
            Some(tx) => {
                let sp = tx.savepoint();
                let r = f(tx);
                if r.is_err() {
                    tx.rollback_to(sp);
                }
                r
            }
            None => {
                let store = self.store().clone();
                let mut tx = store.begin();
                let out = f(&mut tx)?;
                store.commit(tx)?;
                Ok(out)
            }
        }
    }
}

/// A statement's parameters as every statement takes them: at least
/// `count` of them, each vector valid as a stored one, and a NaN turned
/// into NULL (as in SQLite), however the caller built it.
pub(crate) fn checked_params(params: &[Value], count: usize) -> Result<Cow<'_, [Value]>> {
    if params.len() < count {
        return Err(Error::Parameter {
            message: format!(
                "statement takes {count} parameters but {} were given",
                params.len()
            ),
        });
    }
    for (i, v) in params.iter().enumerate() {
        if let Value::Vector(_) | Value::HalfVec(_) = v {
            let elems = v.vector_f32().unwrap_or_default();
            cairn_core::vector::validate(&elems).map_err(|e| Error::Parameter {
                message: format!("parameter {}: {e}", i + 1),
            })?;
        }
    }
    let nan = |v: &Value| matches!(v, Value::Real(f) if f.is_nan());
    if !params.iter().any(nan) {
        return Ok(Cow::Borrowed(params));
    }
    Ok(Cow::Owned(
        params
            .iter()
            .map(|v| if nan(v) { Value::Null } else { v.clone() })
            .collect(),
    ))
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

fn statement_kind(s: &ast::Statement) -> String {
    let text = s.to_string();
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

fn run_compiled(
    c: &Compiled,
    tx: &mut Transaction,
    params: &[Value],
    settings: Settings,
    mut firing: crate::fire::Firing,
) -> Result<Output> {
    let subqueries = &c.subqueries;
    match &c.plan {
        StatementPlan::Query { plan, cols } => {
            let ex = Executor::new(tx, params, settings, subqueries);
            let rows = ex.run(plan, &[])?;
            Ok(Output::rows(cols.clone(), rows))
        }
        StatementPlan::Insert(i) => {
            let w = dml::run_insert(i, tx, params, settings.clone(), subqueries, &mut firing)?;
            write_output(w, i.returning.as_ref(), tx, params, settings, subqueries)
        }
        StatementPlan::Update(u) => {
            let w = dml::run_update(u, tx, params, settings.clone(), subqueries, &mut firing)?;
            write_output(w, u.returning.as_ref(), tx, params, settings, subqueries)
        }
        StatementPlan::Delete(d) => {
            let w = dml::run_delete(d, tx, params, settings.clone(), subqueries, &mut firing)?;
            write_output(w, d.returning.as_ref(), tx, params, settings, subqueries)
        }
        StatementPlan::ViewWrite(v) => {
            let n = v.run(tx, params, settings, subqueries, &mut firing)?;
            Ok(Output::affected(n))
        }
    }
}

/// A write's output: the count, and with RETURNING its rows.
fn write_output(
    w: dml::Written,
    returning: Option<&dml::Returning>,
    tx: &Transaction,
    params: &[Value],
    settings: Settings,
    subqueries: &Subqueries,
) -> Result<Output> {
    let Some(ret) = returning else {
        return Ok(Output::affected(w.count));
    };
    let rows = dml::returning_rows(ret, w.rows, tx, params, settings, subqueries)?;
    let columns: Arc<[Column]> = ret
        .cols
        .iter()
        .map(|c| Column {
            name: c.name.clone(),
            data_type: c.data_type,
        })
        .collect();
    Ok(Output {
        columns,
        rows,
        rows_affected: w.count,
        returns_rows: true,
    })
}
