//! INSERT, UPDATE and DELETE: planning against the table's schema, and
//! execution in two phases (read everything the statement needs from the
//! snapshot, then write), so a statement never sees its own writes.
//!
//! Row triggers fire in the write phase, around each row, through
//! [`RowTriggers`]: BEFORE, the write, AFTER. When the table has triggers
//! for the event, an UPDATE or DELETE re-reads each row before and after
//! its BEFORE triggers (a trigger may have changed or deleted it: a
//! deleted row is skipped, columns the UPDATE does not set are taken from
//! the row as it is now, as SQLite does). REPLACE's deletes fire no DELETE
//! triggers (SQLite's rule while recursive triggers are off).

use std::sync::Arc;

use cairn_core::{ConstraintKind, DataType, Error, Result, Value};
use cairn_storage::{Table, Transaction};
use sqlparser::ast;

use crate::access::choose_access;
use crate::ast_util::{contains_aggregate, object_name};
use crate::exec::{Executor, Settings};
use crate::expr::Expr;
use crate::logical::{Rel, RelSource};
use crate::plan::{Access, Plan, Subqueries};
use crate::planner::{expr_name, Planner};
use crate::scope::{OutCol, Scope, ScopeCol};
use crate::trigger::{RowEvent, RowTriggers, Timing};

#[derive(Debug, Clone)]
pub enum Conflict {
    /// Fail the statement (the default).
    Abort,
    /// Skip rows that would violate a unique constraint (only the one on
    /// the target index, when the conflict clause names one).
    Nothing { target: Option<usize> },
    /// `INSERT OR IGNORE` (SQLite): skip rows that would violate a NOT
    /// NULL, CHECK or unique constraint.
    Ignore,
    /// Delete the conflicting rows, then insert (`INSERT OR REPLACE`).
    Replace,
    /// `ON CONFLICT DO UPDATE SET ...`: expressions see the existing row
    /// followed by the proposed (`excluded`) row.
    Update {
        target: Option<usize>,
        assignments: Vec<(usize, Expr)>,
        predicate: Option<Expr>,
    },
}

#[derive(Debug)]
pub struct InsertPlan {
    /// `WITH` tables the statement reads, materialized first.
    pub ctes: Vec<(usize, String, Plan)>,
    pub table: Arc<Table>,
    pub source: Plan,
    /// Table column each source column goes to.
    pub targets: Vec<usize>,
    /// Default of every table column (None = NULL).
    pub defaults: Vec<Option<Expr>>,
    pub checks: Vec<Expr>,
    pub conflict: Conflict,
    pub returning: Option<Returning>,
}

#[derive(Debug)]
pub struct UpdatePlan {
    /// `WITH` tables the statement reads, materialized first.
    pub ctes: Vec<(usize, String, Plan)>,
    pub table: Arc<Table>,
    /// Scan producing rows with the row id appended.
    pub scan: Plan,
    pub assignments: Vec<(usize, Expr)>,
    pub checks: Vec<Expr>,
    pub returning: Option<Returning>,
}

#[derive(Debug)]
pub struct DeletePlan {
    /// `WITH` tables the statement reads, materialized first.
    pub ctes: Vec<(usize, String, Plan)>,
    pub table: Arc<Table>,
    pub scan: Plan,
    pub returning: Option<Returning>,
}

/// `RETURNING` of a write: expressions over each written row (the new row
/// for INSERT and UPDATE, the deleted one for DELETE) and their columns.
#[derive(Debug)]
pub struct Returning {
    pub exprs: Vec<Expr>,
    pub cols: Vec<OutCol>,
}

/// What a write did: rows written, and those rows when the statement has
/// a RETURNING clause.
pub struct Written {
    pub count: u64,
    pub rows: Vec<Vec<Value>>,
    keep_rows: bool,
}

impl Planner<'_> {
    fn table_for_write(&self, name: &str) -> Result<Arc<Table>> {
        match self.store.table(name) {
            Some(t) => Ok(t),
            None if self.store.view(name).is_some() => Err(Error::plan(format!(
                "cannot modify {name} because it is a view"
            ))),
            None => Err(Error::no_such("table", name)),
        }
    }

    fn bind_checks(&mut self, table: &Table) -> Result<Vec<Expr>> {
        let schema = table.schema();
        if schema.checks.is_empty() {
            return Ok(Vec::new());
        }
        self.bind
            .scopes
            .push(Scope::new(crate::scope::table_cols(table, &schema.name)));
        let r = schema
            .checks
            .iter()
            .map(|c| {
                let e = crate::parser::parse_expr(c)?;
                self.bind_expr(&e)
            })
            .collect();
        self.bind.scopes.pop();
        r
    }

    pub fn plan_insert(&mut self, ins: &ast::Insert) -> Result<InsertPlan> {
        let ast::TableObject::TableName(name) = &ins.table else {
            return Err(Error::unsupported("INSERT INTO a table function"));
        };
        let tname = object_name(name);
        let table = self.table_for_write(&tname)?;
        let schema = table.schema();
        let targets: Vec<usize> = if ins.columns.is_empty() {
            (0..schema.columns.len()).collect()
        } else {
            let mut t = Vec::new();
            for c in &ins.columns {
                let n = object_name(c);
                let i = schema
                    .column_index(&n)
                    .ok_or_else(|| Error::no_such("column", format!("{tname}.{n}")))?;
                if t.contains(&i) {
                    return Err(Error::plan(format!("column {n} specified more than once")));
                }
                t.push(i);
            }
            t
        };
        let source = match &ins.source {
            Some(q) => {
                let (plan, cols) = self.plan_query(q)?;
                if cols.len() != targets.len() {
                    let what = if ins.columns.is_empty() {
                        format!("table {tname} has {} columns", targets.len())
                    } else {
                        format!("{} columns of {tname} were named", targets.len())
                    };
                    return Err(Error::plan(format!(
                        "{what} but {} values were supplied",
                        cols.len()
                    )));
                }
                plan
            }
            None => {
                if !ins.assignments.is_empty() {
                    return Err(Error::unsupported("INSERT ... SET"));
                }
                // INSERT ... DEFAULT VALUES
                Plan::Single
            }
        };
        let targets = if ins.source.is_none() {
            Vec::new()
        } else {
            targets
        };
        let mut defaults = Vec::with_capacity(schema.columns.len());
        for c in &schema.columns {
            defaults.push(match &c.default_sql {
                Some(sql) => {
                    let e = crate::parser::parse_expr(sql)?;
                    Some(self.bind_standalone(&e)?)
                }
                None => None,
            });
        }
        let checks = self.bind_checks(&table)?;
        let conflict = self.plan_conflict(ins, &table)?;
        let returning = self.plan_returning(ins.returning.as_deref(), &table, &tname)?;
        Ok(InsertPlan {
            ctes: Vec::new(),
            table,
            source,
            targets,
            defaults,
            checks,
            conflict,
            returning,
        })
    }

    /// What an INSERT does when a row's key is taken: `OR REPLACE`/`OR
    /// IGNORE`, `ON CONFLICT ... DO NOTHING / DO UPDATE`, else abort.
    fn plan_conflict(&mut self, ins: &ast::Insert, table: &Arc<Table>) -> Result<Conflict> {
        let schema = table.schema();
        let mut conflict = match ins.or {
            Some(ast::SqliteOnConflict::Replace) => Conflict::Replace,
            Some(ast::SqliteOnConflict::Ignore) => Conflict::Ignore,
            _ if ins.replace_into => Conflict::Replace,
            _ if ins.ignore => Conflict::Ignore,
            _ => Conflict::Abort,
        };
        if let Some(on) = &ins.on {
            match on {
                ast::OnInsert::OnConflict(oc) => match &oc.action {
                    ast::OnConflictAction::DoNothing => {
                        conflict = Conflict::Nothing {
                            target: conflict_target(table, oc.conflict_target.as_ref())?,
                        }
                    }
                    ast::OnConflictAction::DoUpdate(du) => {
                        let mut cols = crate::scope::table_cols(table, &schema.name);
                        cols.extend(crate::scope::table_cols(table, "excluded"));
                        self.bind.scopes.push(Scope::new(cols));
                        let r = (|| {
                            let mut a = Vec::new();
                            for asg in &du.assignments {
                                for (c, e) in self.assignment(asg, table)? {
                                    a.push((c, e));
                                }
                            }
                            let p = du
                                .selection
                                .as_ref()
                                .map(|s| self.bind_expr(s))
                                .transpose()?;
                            Ok::<_, Error>((a, p))
                        })();
                        self.bind.scopes.pop();
                        let (assignments, predicate) = r?;
                        conflict = Conflict::Update {
                            target: conflict_target(table, oc.conflict_target.as_ref())?,
                            assignments,
                            predicate,
                        };
                    }
                },
                ast::OnInsert::DuplicateKeyUpdate(_) => {
                    return Err(Error::unsupported(
                        "ON DUPLICATE KEY UPDATE; use ON CONFLICT",
                    ))
                }
                _ => return Err(Error::unsupported("this INSERT conflict clause")),
            }
        }
        Ok(conflict)
    }

    fn assignment(&mut self, asg: &ast::Assignment, table: &Table) -> Result<Vec<(usize, Expr)>> {
        let schema = table.schema();
        let names = match &asg.target {
            ast::AssignmentTarget::ColumnName(n) => vec![object_name(n)],
            ast::AssignmentTarget::Tuple(ns) => ns.iter().map(object_name).collect(),
        };
        if names.len() != 1 {
            return Err(Error::unsupported("tuple assignment"));
        }
        let i = schema
            .column_index(&names[0])
            .ok_or_else(|| Error::no_such("column", format!("{}.{}", schema.name, names[0])))?;
        Ok(vec![(i, self.bind_expr(&asg.value)?)])
    }

    fn plan_write_scan(
        &mut self,
        table: &Arc<Table>,
        label: &str,
        selection: Option<&ast::Expr>,
    ) -> Result<Plan> {
        self.bind
            .scopes
            .push(Scope::new(crate::scope::table_cols(table, label)));
        let r = (|| {
            let mut conds = Vec::new();
            if let Some(w) = selection {
                if contains_aggregate(w) {
                    return Err(Error::plan("aggregate functions are not allowed in WHERE"));
                }
                let mut stack = vec![self.bind_expr(w)?];
                while let Some(e) = stack.pop() {
                    match e {
                        Expr::And(a, b) => {
                            stack.push(*b);
                            stack.push(*a);
                        }
                        other => conds.push(other),
                    }
                }
            }
            let (access, _) = choose_access(table, &conds);
            let filter = conds
                .into_iter()
                .reduce(|a, b| Expr::And(Box::new(a), Box::new(b)));
            Ok(Plan::Scan {
                table: table.clone(),
                label: label.to_string(),
                access,
                filter,
                with_rowid: true,
                id: 0,
                keep: None,
            })
        })();
        self.bind.scopes.pop();
        r
    }

    pub fn plan_update(&mut self, up: &ast::Update) -> Result<UpdatePlan> {
        if up.limit.is_some() || !up.table.joins.is_empty() {
            return Err(Error::unsupported("UPDATE with LIMIT or joins"));
        }
        let ast::TableFactor::Table { name, alias, .. } = &up.table.relation else {
            return Err(Error::unsupported("UPDATE of this target"));
        };
        let tname = object_name(name);
        let table = self.table_for_write(&tname)?;
        let label = alias
            .as_ref()
            .map_or(tname.clone(), |a| a.name.value.clone());
        let from = match &up.from {
            None => None,
            Some(
                ast::UpdateTableFromKind::BeforeSet(f) | ast::UpdateTableFromKind::AfterSet(f),
            ) => Some(f),
        };
        // The rows to change: the table's own scan, or (UPDATE … FROM) its
        // join with the FROM list, the row id after the table's columns.
        let scan = match from {
            None => {
                let scan = self.plan_write_scan(&table, &label, up.selection.as_ref())?;
                self.bind
                    .scopes
                    .push(Scope::new(crate::scope::table_cols(&table, &label)));
                scan
            }
            Some(from) => {
                let mut cols = crate::scope::table_cols(&table, &label);
                cols.push(ScopeCol {
                    table: Some(label.clone()),
                    name: "\u{0}rowid".into(),
                    data_type: Some(DataType::Integer),
                    affinity: crate::affinity::Affinity::Numeric,
                    using_dup: true,
                });
                let target = Rel {
                    source: RelSource::Table(table.clone()),
                    label: label.clone(),
                    offset: 0,
                    width: cols.len(),
                    local: Vec::new(),
                    nullable: false,
                    with_rowid: true,
                };
                let selection = up.selection.as_ref();
                match self.plan_from_with(Some((target, cols)), from, selection) {
                    Ok(plan) => plan,
                    Err(e) => {
                        self.bind.scopes.pop();
                        return Err(e);
                    }
                }
            }
        };
        // SET expressions see the row being changed (and the FROM rows).
        let r = (|| {
            let mut a = Vec::new();
            for asg in &up.assignments {
                a.extend(self.assignment(asg, &table)?);
            }
            Ok::<_, Error>(a)
        })();
        self.bind.scopes.pop();
        let assignments = r?;
        let checks = self.bind_checks(&table)?;
        let returning = self.plan_returning(up.returning.as_deref(), &table, &label)?;
        Ok(UpdatePlan {
            ctes: Vec::new(),
            table,
            scan,
            assignments,
            checks,
            returning,
        })
    }

    pub fn plan_delete(&mut self, del: &ast::Delete) -> Result<DeletePlan> {
        if del.using.is_some() || del.limit.is_some() || !del.tables.is_empty() {
            return Err(Error::unsupported(
                "DELETE with USING, LIMIT or several tables",
            ));
        }
        let from = match &del.from {
            ast::FromTable::WithFromKeyword(v) | ast::FromTable::WithoutKeyword(v) => v,
        };
        let [twj] = &from[..] else {
            return Err(Error::unsupported("DELETE from several tables"));
        };
        if !twj.joins.is_empty() {
            return Err(Error::unsupported("DELETE with joins"));
        }
        let ast::TableFactor::Table { name, alias, .. } = &twj.relation else {
            return Err(Error::unsupported("DELETE of this target"));
        };
        let tname = object_name(name);
        let table = self.table_for_write(&tname)?;
        let label = alias
            .as_ref()
            .map_or(tname.clone(), |a| a.name.value.clone());
        let scan = self.plan_write_scan(&table, &label, del.selection.as_ref())?;
        let returning = self.plan_returning(del.returning.as_deref(), &table, &label)?;
        Ok(DeletePlan {
            ctes: Vec::new(),
            table,
            scan,
            returning,
        })
    }

    /// Binds a `RETURNING` list over the written table's row.
    fn plan_returning(
        &mut self,
        items: Option<&[ast::SelectItem]>,
        table: &Arc<Table>,
        label: &str,
    ) -> Result<Option<Returning>> {
        let Some(items) = items else {
            return Ok(None);
        };
        self.bind
            .scopes
            .push(Scope::new(crate::scope::table_cols(table, label)));
        let r = (|| {
            let mut exprs = Vec::new();
            let mut cols = Vec::new();
            for item in items {
                let (e, name) = match item {
                    ast::SelectItem::UnnamedExpr(e) => (e, expr_name(e)),
                    ast::SelectItem::ExprWithAlias { expr, alias } => (expr, alias.value.clone()),
                    ast::SelectItem::Wildcard(_) => {
                        self.expand_wildcard(None, &mut exprs, &mut cols)?;
                        continue;
                    }
                    ast::SelectItem::QualifiedWildcard(_, _) => {
                        self.expand_wildcard(Some(label), &mut exprs, &mut cols)?;
                        continue;
                    }
                    other => return Err(Error::unsupported(format!("RETURNING item {other}"))),
                };
                if contains_aggregate(e) {
                    return Err(Error::plan(
                        "aggregate functions are not allowed in RETURNING",
                    ));
                }
                let x = self.bind_expr(e)?;
                cols.push(OutCol {
                    name,
                    data_type: self.type_of(&x, false),
                    affinity: crate::bind::affinity_of(&self.bind, &x),
                    expr_affinity: crate::bind::affinity_of(&self.bind, &x),
                    datatypes: crate::bind::datatypes(&x, &|e| {
                        crate::bind::affinity_of(&self.bind, e)
                    }),
                });
                exprs.push(x);
            }
            Ok(Returning { exprs, cols })
        })();
        self.bind.scopes.pop();
        r.map(Some)
    }
}

/// The unique index an `ON CONFLICT (cols)` clause names.
fn conflict_target(table: &Table, target: Option<&ast::ConflictTarget>) -> Result<Option<usize>> {
    let Some(target) = target else {
        return Ok(None);
    };
    let ast::ConflictTarget::Columns(cols) = target else {
        return Err(Error::unsupported("ON CONFLICT ON CONSTRAINT"));
    };
    let schema = table.schema();
    let mut want = Vec::new();
    for c in cols {
        want.push(
            schema
                .column_index(&c.value)
                .ok_or_else(|| Error::no_such("column", format!("{}.{}", schema.name, c.value)))?,
        );
    }
    want.sort_unstable();
    table
        .indexes()
        .iter()
        .position(|ix| {
            let mut have = ix.columns.clone();
            have.sort_unstable();
            ix.unique && have == want
        })
        .map(Some)
        .ok_or_else(|| {
            Error::plan("there is no unique or primary key constraint matching the ON CONFLICT specification")
        })
}

/// Converts, fills defaults and checks one row about to be written.
///
/// For an INSERT, `inserting` holds the largest INTEGER PRIMARY KEY the
/// statement's earlier rows give explicitly: a NULL key gets the next one
/// above both it and every key the table used so far. (The table learns
/// an explicit key only once its row is in, by [`insert_row`], so a failed
/// insert does not move it.) An UPDATE passes `None`.
fn finish_row(
    table: &Table,
    mut row: Vec<Value>,
    checks: &[Expr],
    ex: &Executor,
    inserting: Option<&mut i64>,
) -> Result<Vec<Value>> {
    let schema = table.schema();
    if let Some(ac) = schema.auto_increment {
        let explicit = match row.get(ac) {
            Some(Value::Integer(i)) => Some(*i),
            Some(v @ Value::Real(_)) => v.as_i64().filter(|i| Value::Integer(*i) == *v),
            _ => None,
        };
        match (inserting, explicit) {
            (Some(floor), None) if row.get(ac).is_some_and(Value::is_null) => {
                row[ac] = Value::Integer(table.next_auto_key_above(*floor));
            }
            (Some(floor), Some(i)) => *floor = (*floor).max(i),
            (None, Some(i)) => table.observe_auto_key(i),
            _ => {}
        }
    }
    let mut out = Vec::with_capacity(row.len());
    for (v, c) in row.into_iter().zip(&schema.columns) {
        out.push(v.coerce_to_column(c.data_type, &c.name)?);
    }
    // An INTEGER PRIMARY KEY holds integers only (SQLite: "datatype
    // mismatch"), where another INTEGER column keeps a non-integral REAL.
    if let Some(ac) = schema.auto_increment {
        if let Some(v @ (Value::Real(_) | Value::Text(_))) = out.get(ac) {
            return Err(Error::type_err(format!(
                "datatype mismatch: {}.{} is an INTEGER PRIMARY KEY, got {} value {}",
                schema.name,
                schema.columns.get(ac).map_or("", |c| c.name.as_str()),
                v.type_name(),
                v.to_text().unwrap_or_default()
            )));
        }
    }
    for (k, check) in checks.iter().enumerate() {
        if check.eval(&out, ex, &[])?.truth() == Some(false) {
            return Err(Error::Constraint {
                kind: ConstraintKind::Check,
                detail: format!(
                    "{} ({})",
                    schema.name,
                    schema.checks.get(k).cloned().unwrap_or_default()
                ),
            });
        }
    }
    Ok(out)
}

/// Visible rows that share a unique key with `row` (only on index
/// `target`, when given).
fn conflicting_rows(
    tx: &Transaction,
    table: &Arc<Table>,
    row: &[Value],
    target: Option<usize>,
) -> Result<Vec<(u64, Vec<Value>)>> {
    let mut out: Vec<(u64, Vec<Value>)> = Vec::new();
    for (i, idx) in table.indexes().iter().enumerate() {
        if !idx.unique || target.is_some_and(|t| t != i) {
            continue;
        }
        let key: Vec<Value> = idx
            .columns
            .iter()
            .map(|&c| row.get(c).cloned().unwrap_or_default())
            .collect();
        if key.iter().any(Value::is_null) {
            continue;
        }
        let b = std::ops::Bound::Included(&key[..]);
        tx.index_scan(table, i, b, b, &mut |rid, vals| {
            if !out.iter().any(|(r, _)| *r == rid) {
                out.push((rid, vals.to_vec()));
            }
            Ok(true)
        })?;
    }
    Ok(out)
}

/// A write statement's plan.
pub enum WritePlan {
    Insert(InsertPlan),
    Update(UpdatePlan),
    Delete(DeletePlan),
}

impl Planner<'_> {
    /// `WITH ... INSERT/UPDATE/DELETE` (a query whose body is a write, as
    /// sqlparser parses it): the WITH tables are in scope for the whole
    /// statement and are materialized before it runs. `None` when `q` is
    /// an ordinary query.
    pub fn plan_write_with(&mut self, q: &ast::Query) -> Result<Option<WritePlan>> {
        let stmt = match &*q.body {
            ast::SetExpr::Insert(s) | ast::SetExpr::Update(s) | ast::SetExpr::Delete(s) => s,
            _ => return Ok(None),
        };
        if q.order_by.is_some() || q.limit_clause.is_some() || q.fetch.is_some() {
            return Err(Error::unsupported(
                "ORDER BY, LIMIT or FETCH around INSERT/UPDATE/DELETE",
            ));
        }
        let (ctes, plan) = self.with_ctes(q, |p| match stmt {
            ast::Statement::Insert(i) => p.plan_insert(i).map(WritePlan::Insert),
            ast::Statement::Update(u) => p.plan_update(u).map(WritePlan::Update),
            ast::Statement::Delete(d) => p.plan_delete(d).map(WritePlan::Delete),
            other => Err(Error::unsupported(format!("WITH before {other}"))),
        })?;
        Ok(Some(match plan {
            WritePlan::Insert(mut i) => {
                i.ctes = ctes;
                WritePlan::Insert(i)
            }
            WritePlan::Update(mut u) => {
                u.ctes = ctes;
                WritePlan::Update(u)
            }
            WritePlan::Delete(mut d) => {
                d.ctes = ctes;
                WritePlan::Delete(d)
            }
        }))
    }
}

/// Inserts a row; once it is in, the table learns its INTEGER PRIMARY
/// KEY, so later generated keys stay above it.
fn insert_row(tx: &mut Transaction, table: &Arc<Table>, row: Vec<Value>) -> Result<()> {
    let key = (table.schema().auto_increment).and_then(|ac| match row.get(ac) {
        Some(Value::Integer(i)) => Some(*i),
        _ => None,
    });
    tx.insert(table, row)?;
    if let Some(k) = key {
        table.observe_auto_key(k);
    }
    Ok(())
}

/// A source row completed with the column defaults.
fn with_defaults(p: &InsertPlan, full: Vec<Option<Value>>, ex: &Executor) -> Result<Vec<Value>> {
    let schema = p.table.schema();
    let mut row = Vec::with_capacity(full.len());
    for (i, v) in full.into_iter().enumerate() {
        let default = p.defaults.get(i).and_then(|d| d.as_ref());
        // OR REPLACE puts a NOT NULL column's default in place of a NULL
        // (SQLite's rule).
        let replace_null = matches!(p.conflict, Conflict::Replace)
            && matches!(v, Some(Value::Null))
            && schema.columns.get(i).is_some_and(|c| !c.nullable);
        row.push(match (v, default) {
            (Some(_), Some(d)) if replace_null => d.eval(&[], ex, &[])?,
            (Some(v), _) => v,
            (None, Some(d)) => d.eval(&[], ex, &[])?,
            (None, None) => Value::Null,
        });
    }
    Ok(row)
}

/// INSERT's read phase: the source rows completed with defaults, converted
/// and checked, and the CTE rows the write phase's expressions may read.
fn insert_source_rows(
    p: &InsertPlan,
    tx: &Transaction,
    params: &[Value],
    settings: Settings,
    subqueries: &Subqueries,
) -> Result<(Vec<Vec<Value>>, CteRows)> {
    let ncols = p.table.schema().columns.len();
    let mut rows = Vec::new();
    let mut explicit_max = 0;
    let ex = Executor::new(tx, params, settings, subqueries);
    ex.materialize_ctes(&p.ctes, &[])?;
    let source = ex.run(&p.source, &[])?;
    for src in source {
        let mut full: Vec<Option<Value>> = vec![None; ncols];
        for (v, &t) in src.into_iter().zip(&p.targets) {
            full[t] = Some(v);
        }
        let row = with_defaults(p, full, &ex)?;
        match finish_row(&p.table, row, &p.checks, &ex, Some(&mut explicit_max)) {
            Ok(row) => rows.push(row),
            // OR IGNORE skips a row that fails a CHECK.
            Err(Error::Constraint { .. }) if matches!(p.conflict, Conflict::Ignore) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((rows, ex.cte_rows()))
}

/// Materialized CTE rows, by CTE id.
type CteRows = std::collections::HashMap<usize, std::rc::Rc<Vec<Vec<Value>>>>;

pub fn run_insert(
    p: &InsertPlan,
    tx: &mut Transaction,
    params: &[Value],
    settings: Settings,
    subqueries: &Subqueries,
    triggers: &mut dyn RowTriggers,
) -> Result<Written> {
    let schema = p.table.schema();
    let (rows, ctes) = insert_source_rows(p, tx, params, settings.clone(), subqueries)?;
    let mut out = Written::new(p.returning.is_some());
    let fires = triggers.any(&schema.name, RowEvent::Insert)
        || (matches!(p.conflict, Conflict::Update { .. })
            && triggers.any(&schema.name, RowEvent::Update));
    for row in rows {
        if fires
            && !triggers.fire(
                tx,
                &p.table,
                Timing::Before,
                RowEvent::Insert,
                None,
                Some(&row),
                &[],
            )?
        {
            continue;
        }
        let inserted = match &p.conflict {
            Conflict::Abort => Some(row),
            Conflict::Nothing { target } => conflicting_rows(tx, &p.table, &row, *target)?
                .is_empty()
                .then_some(row),
            Conflict::Ignore => {
                let null_in_not_null = (schema.columns.iter())
                    .zip(&row)
                    .any(|(c, v)| !c.nullable && v.is_null());
                (!null_in_not_null && conflicting_rows(tx, &p.table, &row, None)?.is_empty())
                    .then_some(row)
            }
            Conflict::Replace => {
                for (rid, _) in conflicting_rows(tx, &p.table, &row, None)? {
                    tx.delete(&p.table, rid)?;
                }
                Some(row)
            }
            Conflict::Update {
                target,
                assignments,
                predicate,
            } => {
                let existing = conflicting_rows(tx, &p.table, &row, *target)?;
                match existing.into_iter().next() {
                    None => Some(row),
                    Some((rid, old)) => {
                        let upsert = Upsert {
                            rid,
                            old,
                            proposed: row,
                            assignments,
                            predicate: predicate.as_ref(),
                        };
                        let ctx = (params, settings.clone(), subqueries, &ctes);
                        upsert_row(p, tx, ctx, upsert, triggers, fires, &mut out)?;
                        None
                    }
                }
            }
        };
        if let Some(row) = inserted {
            out.add(&row);
            let new = fires.then(|| row.clone());
            insert_row(tx, &p.table, row)?;
            if let Some(new) = new {
                triggers.fire(
                    tx,
                    &p.table,
                    Timing::After,
                    RowEvent::Insert,
                    None,
                    Some(&new),
                    &[],
                )?;
            }
        }
    }
    Ok(out)
}

/// An `ON CONFLICT DO UPDATE` about to change row `rid` (`old`) because
/// of the `proposed` row.
struct Upsert<'a> {
    rid: u64,
    old: Vec<Value>,
    proposed: Vec<Value>,
    assignments: &'a [(usize, Expr)],
    predicate: Option<&'a Expr>,
}

/// What evaluating an expression during the write phase needs: the
/// statement's parameters, settings, subqueries and materialized CTEs.
type WriteCtx<'a> = (&'a [Value], Settings, &'a Subqueries, &'a CteRows);

/// The DO UPDATE of an upsert: its WHERE, the new row, UPDATE triggers
/// around the write (as SQLite fires them for an upsert).
fn upsert_row(
    p: &InsertPlan,
    tx: &mut Transaction,
    (params, settings, subqueries, ctes): WriteCtx<'_>,
    u: Upsert<'_>,
    triggers: &mut dyn RowTriggers,
    fires: bool,
    out: &mut Written,
) -> Result<()> {
    let new = {
        let ex = Executor::new(tx, params, settings, subqueries);
        ex.adopt_ctes(ctes);
        let mut both = u.old.clone();
        both.extend(u.proposed.iter().cloned());
        if let Some(pred) = u.predicate {
            if !pred.test(&both, &ex, &[])? {
                return Ok(());
            }
        }
        let mut new = u.old.clone();
        for (c, e) in u.assignments {
            new[*c] = e.eval(&both, &ex, &[])?;
        }
        finish_row(&p.table, new, &p.checks, &ex, None)?
    };
    let assigned: Vec<usize> = u.assignments.iter().map(|(c, _)| *c).collect();
    let (old, new) = (Some(&u.old[..]), Some(&new[..]));
    if fires
        && !triggers.fire(
            tx,
            &p.table,
            Timing::Before,
            RowEvent::Update,
            old,
            new,
            &assigned,
        )?
    {
        return Ok(());
    }
    let new = new.map(<[Value]>::to_vec).unwrap_or_default();
    out.add(&new);
    tx.update(&p.table, u.rid, new.clone())?;
    if fires {
        let new = Some(&new[..]);
        triggers.fire(
            tx,
            &p.table,
            Timing::After,
            RowEvent::Update,
            old,
            new,
            &assigned,
        )?;
    }
    Ok(())
}

pub fn run_update(
    p: &UpdatePlan,
    tx: &mut Transaction,
    params: &[Value],
    settings: Settings,
    subqueries: &Subqueries,
    triggers: &mut dyn RowTriggers,
) -> Result<Written> {
    let fires = triggers.any(&p.table.name(), RowEvent::Update);
    let mut changes = Vec::new();
    {
        let ex = Executor::new(tx, params, settings, subqueries);
        ex.materialize_ctes(&p.ctes, &[])?;
        let rows = ex.run(&p.scan, &[])?;
        // The row id follows the table's columns (then, with FROM, the
        // joined rows' columns). A row the FROM list matches several times
        // is changed once, by its first match (as in PostgreSQL).
        let ncols = p.table.schema().columns.len();
        let mut seen = std::collections::HashSet::new();
        for row in rows {
            let Some(Value::Integer(rid)) = row.get(ncols).cloned() else {
                return Err(Error::internal("update scan lost the row id"));
            };
            if !seen.insert(rid) {
                continue;
            }
            let mut new = row[..ncols].to_vec();
            for (c, e) in &p.assignments {
                new[*c] = e.eval(&row, &ex, &[])?;
            }
            changes.push((rid as u64, finish_row(&p.table, new, &p.checks, &ex, None)?));
        }
    }
    let mut out = Written::new(p.returning.is_some());
    if fires {
        let assigned: Vec<usize> = p.assignments.iter().map(|(c, _)| *c).collect();
        for (rid, new) in changes {
            update_fired(&p.table, tx, rid, new, &assigned, triggers, &mut out)?;
        }
        return Ok(out);
    }
    for (rid, new) in changes {
        out.add(&new);
        tx.update(&p.table, rid, new)?;
    }
    Ok(out)
}

/// `new` with the columns the statement does not set taken from the row
/// as it is now (`None` once the row is gone).
fn current_row(
    table: &Arc<Table>,
    tx: &Transaction,
    rid: u64,
    new: &[Value],
    assigned: &[usize],
) -> Option<(Vec<Value>, Vec<Value>)> {
    let now = tx.get(table, rid)?;
    let mut merged = now.clone();
    for &c in assigned {
        if let (Some(slot), Some(v)) = (merged.get_mut(c), new.get(c)) {
            *slot = v.clone();
        }
    }
    Some((now, merged))
}

/// One row of an UPDATE whose table has UPDATE triggers: BEFORE triggers
/// (OLD as the row is now), the write, AFTER triggers.
fn update_fired(
    table: &Arc<Table>,
    tx: &mut Transaction,
    rid: u64,
    new: Vec<Value>,
    assigned: &[usize],
    triggers: &mut dyn RowTriggers,
    out: &mut Written,
) -> Result<()> {
    let Some((old, new)) = current_row(table, tx, rid, &new, assigned) else {
        return Ok(());
    };
    let (o, n) = (Some(&old[..]), Some(&new[..]));
    if !triggers.fire(tx, table, Timing::Before, RowEvent::Update, o, n, assigned)? {
        return Ok(());
    }
    // A BEFORE trigger may have changed or deleted the row.
    let Some((old, new)) = current_row(table, tx, rid, &new, assigned) else {
        return Ok(());
    };
    out.add(&new);
    tx.update(table, rid, new.clone())?;
    let (o, n) = (Some(&old[..]), Some(&new[..]));
    triggers.fire(tx, table, Timing::After, RowEvent::Update, o, n, assigned)?;
    Ok(())
}

pub fn run_delete(
    p: &DeletePlan,
    tx: &mut Transaction,
    params: &[Value],
    settings: Settings,
    subqueries: &Subqueries,
    triggers: &mut dyn RowTriggers,
) -> Result<Written> {
    let fires = triggers.any(&p.table.name(), RowEvent::Delete);
    let rows = {
        let ex = Executor::new(tx, params, settings, subqueries);
        ex.materialize_ctes(&p.ctes, &[])?;
        ex.run(&p.scan, &[])?
    };
    let mut out = Written::new(p.returning.is_some());
    for mut row in rows {
        let Some(Value::Integer(rid)) = row.pop() else {
            return Err(Error::internal("delete scan lost the row id"));
        };
        let rid = rid as u64;
        if fires {
            delete_fired(&p.table, tx, rid, triggers, &mut out)?;
            continue;
        }
        out.add(&row);
        tx.delete(&p.table, rid)?;
    }
    Ok(out)
}

/// One row of a DELETE whose table has DELETE triggers: BEFORE triggers
/// (OLD as the row is now; a row already gone is skipped), the delete,
/// AFTER triggers.
fn delete_fired(
    table: &Arc<Table>,
    tx: &mut Transaction,
    rid: u64,
    triggers: &mut dyn RowTriggers,
    out: &mut Written,
) -> Result<()> {
    let Some(old) = tx.get(table, rid) else {
        return Ok(());
    };
    if !triggers.fire(
        tx,
        table,
        Timing::Before,
        RowEvent::Delete,
        Some(&old),
        None,
        &[],
    )? {
        return Ok(());
    }
    let Some(old) = tx.get(table, rid) else {
        return Ok(());
    };
    out.add(&old);
    tx.delete(table, rid)?;
    triggers.fire(
        tx,
        table,
        Timing::After,
        RowEvent::Delete,
        Some(&old),
        None,
        &[],
    )?;
    Ok(())
}

impl Written {
    fn new(keep_rows: bool) -> Written {
        Written {
            count: 0,
            rows: Vec::new(),
            keep_rows,
        }
    }

    /// Counts a written row (and keeps a copy for RETURNING).
    fn add(&mut self, row: &[Value]) {
        self.count += 1;
        if self.keep_rows {
            self.rows.push(row.to_vec());
        }
    }
}

/// The output of RETURNING: `ret`'s expressions over each written row.
pub fn returning_rows(
    ret: &Returning,
    written: Vec<Vec<Value>>,
    tx: &Transaction,
    params: &[Value],
    settings: Settings,
    subqueries: &Subqueries,
) -> Result<Vec<Vec<Value>>> {
    let ex = Executor::new(tx, params, settings, subqueries);
    let mut out = Vec::with_capacity(written.len());
    for row in written {
        let mut r = Vec::with_capacity(ret.exprs.len());
        for e in &ret.exprs {
            r.push(e.eval(&row, &ex, &[])?);
        }
        out.push(r);
    }
    Ok(out)
}

/// Describes a write's scan for EXPLAIN.
pub fn explain_scan(scan: &Plan) -> String {
    match scan {
        Plan::Scan {
            access: Access::Full,
            ..
        } => scan.explain(),
        other => other.explain(),
    }
}
