//! Triggers at work: CREATE / DROP TRIGGER, the parsed and planned
//! triggers of one catalog version ([`TriggerSet`]), firing them around
//! each written row ([`Firing`], the [`RowTriggers`] of every write), and
//! writes to a view, which run its INSTEAD OF triggers ([`ViewWrite`]).
//!
//! Rules (SQLite's, see docs/sql.md "Triggers"): row-level; the triggers
//! of one event and timing fire in name order; a trigger program runs in
//! the statement's transaction and sees its writes; an error anywhere
//! fails the statement, whose writes (the programs' included) are undone;
//! RAISE(IGNORE) ends the current row of the write that fired the
//! trigger. Recursive triggers are off: a trigger already running does
//! not fire again; other triggers nest up to [`TRIGGER_DEPTH_MAX`].
//! A program is planned at its first firing after a catalog change, never
//! at CREATE (only its NEW/OLD references are checked then).

use std::collections::HashMap;
use std::sync::Arc;

use cairn_core::{Error, Result, Value};
use cairn_storage::{SchemaChange, Store, Table, Transaction, TriggerDef};
use parking_lot::Mutex;
use sqlparser::ast;

use crate::affinity::Affinity;
use crate::ast_util::object_name;
use crate::dml::{self, DeletePlan, InsertPlan, UpdatePlan};
use crate::exec::{Executor, Settings};
use crate::plan::{Plan, Subqueries};
use crate::planner::Planner;
use crate::trigger::{self, RowEvent, RowTriggers, Timing, TriggerSpec};

/// How deeply trigger programs may nest (a program's write firing other
/// triggers, whose writes fire more). Lower than SQLite's 1000: each
/// level is a few frames of planner and executor on the caller's stack.
pub const TRIGGER_DEPTH_MAX: usize = 100;

// ---- CREATE / DROP ---------------------------------------------------------

/// CREATE TRIGGER: checks the statement, the table or view it goes on
/// (BEFORE/AFTER on a table, INSTEAD OF on a view) and its NEW/OLD
/// references, then adds it to the catalog.
pub fn create_trigger(
    store: &Arc<Store>,
    ddl: &mut SchemaChange<'_>,
    ct: &ast::CreateTrigger,
) -> Result<()> {
    let spec = trigger::spec(ct)?;
    if spec.temporary {
        return Err(Error::unsupported(
            "TEMP triggers (Cairn has no temporary schema)",
        ));
    }
    let exists = store
        .triggers()
        .iter()
        .any(|t| t.name.eq_ignore_ascii_case(&spec.name));
    if exists {
        if spec.if_not_exists {
            return Ok(());
        }
        return Err(Error::AlreadyExists {
            kind: "trigger",
            name: spec.name,
        });
    }
    let table = target_name(store, &spec)?;
    let columns = target_columns(store, &table)?;
    let text = trigger::program_text(&spec.create_sql, spec.event, &columns)?;
    parse_program(&text)?;
    ddl.create_trigger(TriggerDef {
        name: spec.name,
        table,
        create_sql: spec.create_sql,
    })
}

/// The name of the table or view a new trigger goes on, as the catalog
/// spells it, after checking its timing fits.
fn target_name(store: &Store, spec: &TriggerSpec) -> Result<String> {
    let timing = spec.timing.name();
    if let Some(t) = store.table(&spec.table) {
        if spec.timing == Timing::InsteadOf {
            return Err(Error::plan(format!(
                "cannot create INSTEAD OF trigger on table: {}",
                spec.table
            )));
        }
        return Ok(t.name());
    }
    if let Some(v) = store.view(&spec.table) {
        if spec.timing != Timing::InsteadOf {
            return Err(Error::plan(format!(
                "cannot create {timing} trigger on view: {}",
                spec.table
            )));
        }
        return Ok(v.name);
    }
    Err(Error::no_such("table", &spec.table))
}

/// The column names of a table or view (a view's as its query plans now).
fn target_columns(store: &Arc<Store>, name: &str) -> Result<Vec<String>> {
    Ok(target_columns_typed(store, name)?.0)
}

/// The names of a trigger target's columns and the affinity each has in
/// comparisons (what `NEW.c` / `OLD.c` carry, like the column itself).
fn target_columns_typed(store: &Arc<Store>, name: &str) -> Result<(Vec<String>, Vec<Affinity>)> {
    if let Some(t) = store.table(name) {
        let cols = &t.schema().columns;
        return Ok((
            cols.iter().map(|c| c.name.clone()).collect(),
            cols.iter()
                .map(|c| Affinity::of_type(c.data_type))
                .collect(),
        ));
    }
    let v = store
        .view(name)
        .ok_or_else(|| Error::no_such("table", name))?;
    let q = crate::parser::parse_query(&v.query_sql)?;
    let (_, cols) = Planner::new(store).plan_query(&q)?;
    let affinity = cols.iter().map(|c| c.affinity).collect();
    if !v.columns.is_empty() {
        return Ok((v.columns, affinity));
    }
    Ok((cols.into_iter().map(|c| c.name).collect(), affinity))
}

/// DROP TRIGGER [IF EXISTS] name.
pub fn drop_trigger(ddl: &mut SchemaChange<'_>, dt: &ast::DropTrigger) -> Result<()> {
    let name = object_name(&dt.trigger_name);
    match ddl.drop_trigger(&name) {
        Err(Error::NoSuchObject { .. }) if dt.if_exists => Ok(()),
        other => other,
    }
}

// ---- the triggers of one catalog version ----------------------------------

/// A trigger as loaded: what its statement says, and its program once
/// planned.
struct Loaded {
    spec: TriggerSpec,
    /// Lower-case name of its table or view.
    on: String,
    create_sql: String,
}

/// A planned trigger program: its WHEN as a one-column query, and its
/// statements; `width` columns per row in its parameters.
struct Program {
    width: usize,
    when: Option<(Plan, Subqueries)>,
    steps: Vec<(Step, Subqueries)>,
}

/// One planned statement of a trigger program.
enum Step {
    Query(Plan),
    Insert(InsertPlan),
    Update(UpdatePlan),
    Delete(DeletePlan),
    View(ViewWrite),
}

/// Every trigger of one catalog version, in name order, planned lazily.
pub struct TriggerSet {
    version: u64,
    triggers: Vec<Loaded>,
    programs: Mutex<HashMap<usize, Arc<Program>>>,
}

impl TriggerSet {
    fn empty(version: u64) -> TriggerSet {
        TriggerSet {
            version,
            triggers: Vec::new(),
            programs: Mutex::new(HashMap::new()),
        }
    }

    /// Parses every trigger of the catalog (`Store::triggers` is in name
    /// order, which is the firing order).
    pub fn load(store: &Store) -> Result<TriggerSet> {
        let mut set = TriggerSet::empty(store.catalog_version());
        for def in store.triggers() {
            let ct = parse_program(&def.create_sql)?;
            set.triggers.push(Loaded {
                spec: trigger::spec(&ct)?,
                on: def.table.to_ascii_lowercase(),
                create_sql: def.create_sql,
            });
        }
        Ok(set)
    }

    fn on<'s>(&'s self, table: &'s str) -> impl Iterator<Item = (usize, &'s Loaded)> + 's {
        let key = table.to_ascii_lowercase();
        self.triggers
            .iter()
            .enumerate()
            .filter(move |(_, t)| t.on == key)
    }

    fn has(&self, table: &str, timing: Option<Timing>, event: RowEvent) -> bool {
        self.on(table)
            .any(|(_, t)| t.spec.event == event && timing.is_none_or(|x| t.spec.timing == x))
    }

    /// The program of trigger `i`, planned at its first use.
    fn program(&self, i: usize, store: &Arc<Store>) -> Result<Arc<Program>> {
        if let Some(p) = self.programs.lock().get(&i) {
            return Ok(p.clone());
        }
        let t = self
            .triggers
            .get(i)
            .ok_or_else(|| Error::internal("trigger index out of range"))?;
        let p = Arc::new(plan_program(store, t)?);
        self.programs.lock().insert(i, p.clone());
        Ok(p)
    }
}

/// The [`TriggerSet`] of the catalog version in force, kept between
/// statements (one per engine).
#[derive(Default)]
pub struct TriggerCache {
    current: Mutex<Option<Arc<TriggerSet>>>,
}

impl TriggerCache {
    /// The triggers as of the store's catalog version now.
    pub fn get(&self, store: &Store) -> Result<Arc<TriggerSet>> {
        let version = store.catalog_version();
        if !store.has_triggers() {
            return Ok(Arc::new(TriggerSet::empty(version)));
        }
        let mut cur = self.current.lock();
        if let Some(set) = cur.as_ref().filter(|s| s.version == version) {
            return Ok(set.clone());
        }
        let set = Arc::new(TriggerSet::load(store)?);
        *cur = Some(set.clone());
        Ok(set)
    }
}

/// Parses a CREATE TRIGGER text (stored, or a program text).
fn parse_program(sql: &str) -> Result<ast::CreateTrigger> {
    let mut stmts = crate::parser::parse_statements(sql)?;
    match (stmts.pop(), stmts.is_empty()) {
        (Some(ast::Statement::CreateTrigger(ct)), true) => Ok(ct),
        _ => Err(Error::internal(format!(
            "stored trigger is not one CREATE TRIGGER: {sql}"
        ))),
    }
}

/// Plans trigger `t`'s WHEN and statements against the catalog now.
fn plan_program(store: &Arc<Store>, t: &Loaded) -> Result<Program> {
    let (columns, affinity) = target_columns_typed(store, &t.on)?;
    // $1..$n are NEW's columns, $n+1..$2n OLD's.
    let params: Vec<Affinity> = affinity.iter().chain(&affinity).copied().collect();
    let text = trigger::program_text(&t.create_sql, t.spec.event, &columns)?;
    let ct = parse_program(&text)?;
    let when = match &ct.condition {
        None => None,
        Some(cond) => {
            let q = crate::parser::parse_query(&format!("SELECT {cond}"))?;
            let mut planner = Planner::new(store);
            planner.bind.param_affinity.clone_from(&params);
            let (plan, _) = planner.plan_query(&q)?;
            Some((plan, std::mem::take(&mut planner.bind.subqueries)))
        }
    };
    let mut steps = Vec::new();
    for stmt in trigger::body_statements(&ct)? {
        let mut planner = Planner::new(store);
        planner.bind.param_affinity.clone_from(&params);
        let step = plan_step(&mut planner, stmt)?;
        steps.push((step, std::mem::take(&mut planner.bind.subqueries)));
    }
    Ok(Program {
        width: columns.len(),
        when,
        steps,
    })
}

fn plan_step(planner: &mut Planner<'_>, stmt: &ast::Statement) -> Result<Step> {
    if let Some(v) = plan_view_write(planner, stmt)? {
        return Ok(Step::View(v));
    }
    Ok(match stmt {
        ast::Statement::Query(q) => match planner.plan_write_with(q)? {
            Some(dml::WritePlan::Insert(i)) => Step::Insert(i),
            Some(dml::WritePlan::Update(u)) => Step::Update(u),
            Some(dml::WritePlan::Delete(d)) => Step::Delete(d),
            None => Step::Query(planner.plan_query(q)?.0),
        },
        ast::Statement::Insert(i) => Step::Insert(planner.plan_insert(i)?),
        ast::Statement::Update(u) => Step::Update(planner.plan_update(u)?),
        ast::Statement::Delete(d) => Step::Delete(planner.plan_delete(d)?),
        other => return Err(Error::plan(format!("a trigger body may not hold {other}"))),
    })
}

// ---- firing ----------------------------------------------------------------

/// Fires triggers for the writes of one statement: the [`RowTriggers`]
/// every INSERT, UPDATE and DELETE gets.
pub struct Firing {
    store: Arc<Store>,
    set: Arc<TriggerSet>,
    settings: Settings,
    /// The triggers running now, outermost first.
    active: Vec<usize>,
}

impl Firing {
    pub fn new(store: Arc<Store>, set: Arc<TriggerSet>, settings: Settings) -> Firing {
        Firing {
            store,
            set,
            settings,
            active: Vec::new(),
        }
    }

    /// Runs one program for one row: WHEN, then each statement in order.
    fn run_program(&mut self, tx: &mut Transaction, p: &Program, params: &[Value]) -> Result<()> {
        if let Some((when, subs)) = &p.when {
            let ex = Executor::new(tx, params, self.settings.clone(), subs);
            let rows = ex.run(when, &[])?;
            let truth = rows.first().and_then(|r| r.first()).and_then(Value::truth);
            if truth != Some(true) {
                return Ok(());
            }
        }
        for (step, subs) in &p.steps {
            let settings = self.settings.clone();
            match step {
                Step::Query(plan) => {
                    Executor::new(tx, params, settings, subs).run(plan, &[])?;
                }
                Step::Insert(i) => {
                    dml::run_insert(i, tx, params, settings, subs, self)?;
                }
                Step::Update(u) => {
                    dml::run_update(u, tx, params, settings, subs, self)?;
                }
                Step::Delete(d) => {
                    dml::run_delete(d, tx, params, settings, subs, self)?;
                }
                Step::View(v) => {
                    v.run(tx, params, settings, subs, self)?;
                }
            }
        }
        Ok(())
    }
}

impl RowTriggers for Firing {
    fn any(&self, table: &str, event: RowEvent) -> bool {
        self.set.has(table, None, event)
    }

    fn fire(
        &mut self,
        tx: &mut Transaction,
        table: &Arc<Table>,
        timing: Timing,
        event: RowEvent,
        old: Option<&[Value]>,
        new: Option<&[Value]>,
        assigned: &[usize],
    ) -> Result<bool> {
        let name = table.name();
        let schema = table.schema();
        self.fire_on(
            &name,
            timing,
            event,
            old,
            new,
            &|cols| {
                cols.is_empty()
                    || cols.iter().any(|c| {
                        schema
                            .column_index(c)
                            .is_some_and(|i| assigned.contains(&i))
                    })
            },
            tx,
        )
    }
}

impl Firing {
    /// Fires the `timing` triggers on `event` of the table or view `name`
    /// whose `UPDATE OF` list `of` accepts. `Ok(false)`: RAISE(IGNORE).
    #[allow(clippy::too_many_arguments)]
    fn fire_on(
        &mut self,
        name: &str,
        timing: Timing,
        event: RowEvent,
        old: Option<&[Value]>,
        new: Option<&[Value]>,
        of: &dyn Fn(&[String]) -> bool,
        tx: &mut Transaction,
    ) -> Result<bool> {
        let due: Vec<usize> = self
            .set
            .on(name)
            .filter(|(_, t)| t.spec.timing == timing && t.spec.event == event)
            .filter(|(_, t)| event != RowEvent::Update || of(&t.spec.columns))
            .map(|(i, _)| i)
            .collect();
        for i in due {
            if self.active.contains(&i) {
                continue;
            }
            if self.active.len() >= TRIGGER_DEPTH_MAX {
                return Err(Error::Limit {
                    what: "trigger programs nested".into(),
                    max: TRIGGER_DEPTH_MAX as u64,
                });
            }
            let program = self.set.program(i, &self.store)?;
            let params = trigger::program_params(program.width, old, new);
            self.active.push(i);
            let r = self.run_program(tx, &program, &params);
            self.active.pop();
            match r {
                Ok(()) => {}
                Err(Error::RaiseIgnore) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

// ---- writes to a view ------------------------------------------------------

/// INSERT, UPDATE or DELETE on a view with an INSTEAD OF trigger for it:
/// a query yields the rows (the view's rows, or INSERT's source rows),
/// and each fires the triggers instead of a write.
pub struct ViewWrite {
    view: String,
    event: RowEvent,
    query: Plan,
    width: usize,
    /// INSERT: the view column each source column goes to. UPDATE: the
    /// view column each value after the view's own columns sets.
    targets: Vec<usize>,
    /// UPDATE: the view's column names (for `UPDATE OF`).
    columns: Vec<String>,
}

/// The view a write targets, when it is a view with an INSTEAD OF trigger
/// on the statement's event.
fn view_target(store: &Store, stmt: &ast::Statement) -> Result<Option<(String, RowEvent)>> {
    let (name, event) = match stmt {
        ast::Statement::Insert(i) => match &i.table {
            ast::TableObject::TableName(n) => (object_name(n), RowEvent::Insert),
            _ => return Ok(None),
        },
        ast::Statement::Update(u) => match &u.table.relation {
            ast::TableFactor::Table { name, .. } => (object_name(name), RowEvent::Update),
            _ => return Ok(None),
        },
        ast::Statement::Delete(d) => match &d.from {
            ast::FromTable::WithFromKeyword(v) | ast::FromTable::WithoutKeyword(v) => {
                match v.first().map(|t| &t.relation) {
                    Some(ast::TableFactor::Table { name, .. }) => {
                        (object_name(name), RowEvent::Delete)
                    }
                    _ => return Ok(None),
                }
            }
        },
        _ => return Ok(None),
    };
    if store.table(&name).is_some() || store.view(&name).is_none() || !store.has_triggers() {
        return Ok(None);
    }
    let set = TriggerSet::load(store)?;
    // An UPDATE needs a trigger whose UPDATE OF list it sets a column of.
    let assigned: Vec<String> = match stmt {
        ast::Statement::Update(u) => (u.assignments.iter())
            .filter_map(|a| match &a.target {
                ast::AssignmentTarget::ColumnName(n) => Some(object_name(n)),
                ast::AssignmentTarget::Tuple(_) => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let found = set.on(&name).any(|(_, t)| {
        t.spec.timing == Timing::InsteadOf
            && t.spec.event == event
            && (t.spec.columns.is_empty()
                || (t.spec.columns.iter())
                    .any(|c| assigned.iter().any(|a| a.eq_ignore_ascii_case(c))))
    });
    Ok(found.then_some((name, event)))
}

/// Plans `stmt` as a [`ViewWrite`] when it writes a view that has an
/// INSTEAD OF trigger for it; `None` otherwise (the ordinary write path,
/// which refuses a view).
pub fn plan_view_write(
    planner: &mut Planner<'_>,
    stmt: &ast::Statement,
) -> Result<Option<ViewWrite>> {
    let Some((view, event)) = view_target(planner.store, stmt)? else {
        return Ok(None);
    };
    let columns = target_columns(planner.store, &view)?;
    let width = columns.len();
    let col = |name: &str| {
        columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::no_such("column", format!("{view}.{name}")))
    };
    let unsupported = || Error::unsupported("this form of INSERT, UPDATE or DELETE on a view");
    let (sql, targets) = match stmt {
        ast::Statement::Insert(i) => {
            if i.or.is_some() || i.on.is_some() || i.returning.is_some() || i.replace_into {
                return Err(unsupported());
            }
            let source = i.source.as_ref().ok_or_else(unsupported)?;
            let targets = match i.columns.is_empty() {
                true => (0..width).collect(),
                false => (i.columns.iter())
                    .map(|c| col(&object_name(c)))
                    .collect::<Result<Vec<_>>>()?,
            };
            (source.to_string(), targets)
        }
        ast::Statement::Update(u) => {
            if u.from.is_some() || u.returning.is_some() || u.limit.is_some() {
                return Err(unsupported());
            }
            let mut sets = String::new();
            let mut targets = Vec::new();
            for a in &u.assignments {
                let ast::AssignmentTarget::ColumnName(n) = &a.target else {
                    return Err(unsupported());
                };
                targets.push(col(&object_name(n))?);
                sets.push_str(&format!(", {}", a.value));
            }
            let filter = u.selection.as_ref().map(|w| format!(" WHERE {w}"));
            let sql = format!(
                "SELECT *{sets} FROM {}{}",
                u.table,
                filter.unwrap_or_default()
            );
            (sql, targets)
        }
        ast::Statement::Delete(d) => {
            if d.returning.is_some() || d.limit.is_some() || d.using.is_some() {
                return Err(unsupported());
            }
            let from = match &d.from {
                ast::FromTable::WithFromKeyword(v) | ast::FromTable::WithoutKeyword(v) => v,
            };
            let [from] = &from[..] else {
                return Err(unsupported());
            };
            let filter = d.selection.as_ref().map(|w| format!(" WHERE {w}"));
            (
                format!("SELECT * FROM {from}{}", filter.unwrap_or_default()),
                Vec::new(),
            )
        }
        _ => return Ok(None),
    };
    let q = crate::parser::parse_query(&sql)?;
    let (query, cols) = planner.plan_query(&q)?;
    let expected = match event {
        RowEvent::Insert => targets.len(),
        RowEvent::Update => width + targets.len(),
        RowEvent::Delete => width,
    };
    if cols.len() != expected {
        return Err(Error::plan(format!(
            "{} values for {expected} columns of {view}",
            cols.len()
        )));
    }
    Ok(Some(ViewWrite {
        view,
        event,
        query,
        width,
        targets,
        columns,
    }))
}

impl ViewWrite {
    /// Runs the query and fires the INSTEAD OF triggers once per row;
    /// returns how many rows they fired for.
    pub fn run(
        &self,
        tx: &mut Transaction,
        params: &[Value],
        settings: Settings,
        subqueries: &Subqueries,
        firing: &mut Firing,
    ) -> Result<u64> {
        let rows = Executor::new(tx, params, settings, subqueries).run(&self.query, &[])?;
        let mut count = 0;
        for row in rows {
            let (old, new) = match self.event {
                RowEvent::Insert => {
                    let mut new = vec![Value::Null; self.width];
                    for (v, &t) in row.into_iter().zip(&self.targets) {
                        new[t] = v;
                    }
                    (None, Some(new))
                }
                RowEvent::Update => {
                    let old = row[..self.width.min(row.len())].to_vec();
                    let mut new = old.clone();
                    for (v, &t) in row.into_iter().skip(self.width).zip(&self.targets) {
                        new[t] = v;
                    }
                    (Some(old), Some(new))
                }
                RowEvent::Delete => (Some(row), None),
            };
            let assigned: Vec<&str> = self
                .targets
                .iter()
                .filter_map(|&t| self.columns.get(t).map(String::as_str))
                .collect();
            let of = |cols: &[String]| {
                cols.is_empty()
                    || cols
                        .iter()
                        .any(|c| assigned.iter().any(|a| a.eq_ignore_ascii_case(c)))
            };
            let (o, n) = (old.as_deref(), new.as_deref());
            firing.fire_on(&self.view, Timing::InsteadOf, self.event, o, n, &of, tx)?;
            count += 1;
        }
        Ok(count)
    }

    pub fn explain(&self) -> String {
        format!(
            "{} {} (INSTEAD OF triggers)\n{}",
            self.event.name(),
            self.view,
            self.query.explain()
        )
    }
}
