//! The planner: turns a parsed query into a [`Plan`] against the catalog.
//! SELECT is planned in SQL's logical order: FROM (bound into a logical
//! [`JoinGraph`] that `joins.rs` turns into operators), WHERE,
//! GROUP BY/aggregates, HAVING, window functions, the select list,
//! DISTINCT, ORDER BY, LIMIT; then the named rewrites of `rules/` that
//! replace operators by access paths (the order of the steps is written
//! in `rules/mod.rs`).
//!
//! It owns the binding state ([`BindState`]: scopes, parameters, ids,
//! subquery plans, the rule trace) and hands every expression to a
//! [`Binder`]; as the binder's [`BindContext`] it plans the queries nested
//! in expressions. `dml.rs` adds INSERT, UPDATE and DELETE planning to
//! [`Planner`].

use std::sync::Arc;

use cairn_core::{DataType, Error, Result};
use cairn_storage::Store;
use sqlparser::ast;

use crate::affinity::Affinity;
use crate::ast_util::{contains_aggregate, is_desc, nulls_first, object_name, object_pos};
use crate::bind::{affinity_of, datatypes, BindContext, BindState, Binder};
use crate::expr::{split_and, CmpOp, Expr};
use crate::joins::plan_joins;
use crate::logical::{JoinGraph, JoinType, Rel, RelSource};
use crate::plan::{Plan, SetOpKind, SortKey, WindowCall, WindowStream};
use crate::rules::{
    fold_projections, group_by_order, loose_index_distinct, order_by_index, prune_columns,
    vector_topk, window_order,
};
use crate::scope::{AggState, OutCol, Scope, ScopeCol};

/// Nesting depth of views inside views before planning gives up.
pub const VIEW_DEPTH_MAX: usize = 32;
/// Relations in one FROM clause (SQLite allows 64).
pub const FROM_TABLES_MAX: usize = 127;

#[derive(Debug, Clone)]
struct CteDef {
    name: String,
    id: usize,
    cols: Vec<OutCol>,
    /// True while planning the recursive step: reads the working set.
    working: bool,
    /// A CTE its statement names once, with where it was defined: its one
    /// reference may read its table directly (see `cte_in_place`).
    once: Option<Arc<CteOnce>>,
}

/// A CTE referenced once: its query, and the scopes and CTEs in force where
/// it was defined.
#[derive(Debug)]
struct CteOnce {
    query: ast::Query,
    scope_depth: usize,
    ctes_before: usize,
}

pub struct Planner<'a> {
    pub store: &'a Arc<Store>,
    /// Scopes, parameters, ids and subquery plans: what binding reads and
    /// writes (the planner pushes and pops the scopes around it).
    pub bind: BindState,
    ctes: Vec<CteDef>,
    view_depth: usize,
}

/// Functions behind the vector distance operators.
pub const DISTANCE_FUNCTIONS: &[&str] = &[
    "vec_distance_l2",
    "l2_distance",
    "vec_distance_cosine",
    "cosine_distance",
    "vec_distance_ip",
    "negative_inner_product",
];

/// Whether a bound expression is a vector distance.
pub fn is_distance(e: &Expr) -> bool {
    matches!(e, Expr::Func(f, _) if DISTANCE_FUNCTIONS.contains(&f.name))
}

/// NULL placement for one ORDER BY key: SQLite's default, except that a
/// vector distance sorts NULLs last ascending (first descending), as in
/// PostgreSQL/pgvector: rows without a distance never come before the
/// nearest neighbours.
pub fn nulls_first_for(key: &Expr, o: &ast::OrderByOptions) -> bool {
    match o.nulls_first {
        Some(n) => n,
        None if is_distance(key) => is_desc(o),
        None => !is_desc(o),
    }
}

pub(crate) fn expr_name(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(i) => i.value.clone(),
        ast::Expr::CompoundIdentifier(parts) => {
            parts.last().map(|p| p.value.clone()).unwrap_or_default()
        }
        other => other.to_string(),
    }
}

/// Compound SELECTs group from left to right, whatever the operators
/// (SQLite's rule; the parser, like PostgreSQL, binds INTERSECT tighter):
/// `a UNION b INTERSECT c` is `(a UNION b) INTERSECT c`. Parenthesized
/// operands stay as written.
fn left_to_right(e: ast::SetExpr) -> ast::SetExpr {
    let ast::SetExpr::SetOperation {
        left: a,
        op: op1,
        set_quantifier: q1,
        right,
    } = e
    else {
        return e;
    };
    match *right {
        ast::SetExpr::SetOperation {
            left: b,
            op: op2,
            set_quantifier: q2,
            right: c,
        } => left_to_right(ast::SetExpr::SetOperation {
            left: Box::new(ast::SetExpr::SetOperation {
                left: a,
                op: op1,
                set_quantifier: q1,
                right: b,
            }),
            op: op2,
            set_quantifier: q2,
            right: c,
        }),
        r => ast::SetExpr::SetOperation {
            left: a,
            op: op1,
            set_quantifier: q1,
            right: Box::new(r),
        },
    }
}

/// The scope columns of a relation labelled `label` with output `cols`.
fn scope_cols(label: &str, cols: &[OutCol]) -> Vec<ScopeCol> {
    cols.iter()
        .map(|c| ScopeCol {
            table: Some(label.to_string()),
            name: c.name.clone(),
            data_type: c.data_type,
            affinity: c.affinity,
            using_dup: false,
        })
        .collect()
}

/// The binder asks the planner to plan the queries nested in expressions.
impl BindContext for Planner<'_> {
    fn state(&self) -> &BindState {
        &self.bind
    }

    fn state_mut(&mut self) -> &mut BindState {
        &mut self.bind
    }

    fn plan_query(&mut self, q: &ast::Query) -> Result<(Plan, Vec<OutCol>)> {
        Planner::plan_query(self, q)
    }
}

impl<'a> Planner<'a> {
    pub fn new(store: &'a Arc<Store>) -> Planner<'a> {
        Planner {
            store,
            bind: BindState::new(),
            ctes: Vec::new(),
            view_depth: 0,
        }
    }

    /// Binds an expression in the current scopes.
    fn has_local_aggregate(&mut self, e: &ast::Expr) -> bool {
        Binder::new(self).has_local_aggregate(e)
    }

    pub fn bind_expr(&mut self, e: &ast::Expr) -> Result<Expr> {
        Binder::new(self).bind_expr(e)
    }

    /// Resolves a (possibly qualified) column name through the scopes.
    pub fn resolve(&mut self, parts: &[ast::Ident]) -> Result<Expr> {
        Binder::new(self).resolve(parts)
    }

    /// Binds an expression that may not reference any column of this level
    /// (LIMIT, VALUES, defaults).
    pub fn bind_standalone(&mut self, e: &ast::Expr) -> Result<Expr> {
        self.bind.scopes.push(Scope::new(Vec::new()));
        let r = self.bind_expr(e);
        self.bind.scopes.pop();
        r
    }

    // ---- queries -------------------------------------------------------

    pub fn plan_query(&mut self, q: &ast::Query) -> Result<(Plan, Vec<OutCol>)> {
        if q.fetch.is_some() || !q.locks.is_empty() {
            return Err(Error::unsupported("FETCH / FOR UPDATE clauses"));
        }
        let (defs, (plan, cols)) = self.with_ctes(q, |p| p.plan_query_body(q))?;
        Ok(if defs.is_empty() {
            (plan, cols)
        } else {
            (
                Plan::With {
                    ctes: defs,
                    input: Box::new(plan),
                },
                cols,
            )
        })
    }

    /// Plans the common table expressions of `with`, then `f` with them in
    /// scope; returns their plans (to materialize before `f`'s plans run)
    /// and `f`'s result. Queries and `WITH ... INSERT/UPDATE/DELETE` use it.
    pub(crate) fn with_ctes<T>(
        &mut self,
        q: &ast::Query,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<(Vec<(usize, String, Plan)>, T)> {
        let with = q.with.as_ref();
        let full = match with {
            Some(_) => q.to_string(),
            None => String::new(),
        };
        let text = full.as_str();
        let n_ctes = self.ctes.len();
        let result = (|| {
            let mut defs = Vec::new();
            if let Some(with) = with {
                for cte in &with.cte_tables {
                    let references = word_count(text, &cte.alias.name.value).saturating_sub(1);
                    defs.push(self.plan_cte(cte, with.recursive, references)?);
                }
            }
            let out = f(self)?;
            // A CTE whose one reference read its table directly is not
            // materialized.
            defs.retain(|(id, _, _)| !self.bind.flattened_ctes.contains(id));
            prune_columns::ctes(&mut defs, &self.bind.cte_used, &mut self.bind.trace);
            Ok((defs, out))
        })();
        self.ctes.truncate(n_ctes);
        result
    }

    /// Plans one CTE of a WITH; `references`: how many times the statement
    /// names it (besides its definition).
    fn plan_cte(
        &mut self,
        cte: &ast::Cte,
        recursive: bool,
        references: usize,
    ) -> Result<(usize, String, Plan)> {
        let name = cte.alias.name.value.clone();
        let alias_cols: Vec<String> = cte
            .alias
            .columns
            .iter()
            .map(|c| c.name.value.clone())
            .collect();
        let id = self.bind.next_id();
        let rename = |mut cols: Vec<OutCol>| -> Result<Vec<OutCol>> {
            if !alias_cols.is_empty() {
                if alias_cols.len() != cols.len() {
                    return Err(Error::plan(format!(
                        "CTE {name} has {} columns but {} names were given",
                        cols.len(),
                        alias_cols.len()
                    )));
                }
                for (c, n) in cols.iter_mut().zip(&alias_cols) {
                    c.name = n.clone();
                }
            }
            Ok(cols)
        };
        if recursive {
            if let ast::SetExpr::SetOperation {
                left,
                op: ast::SetOperator::Union,
                set_quantifier,
                right,
            } = &*cte.query.body
            {
                if references_table(right, &name) {
                    let (base, cols) = self.plan_set_expr(left)?;
                    let cols = rename(cols)?;
                    self.ctes.push(CteDef {
                        name: name.clone(),
                        id,
                        cols: cols.clone(),
                        working: true,
                        once: None,
                    });
                    let step = self.plan_set_expr(right);
                    self.ctes.pop();
                    let (step, step_cols) = step?;
                    if step_cols.len() != cols.len() {
                        return Err(Error::plan(format!(
                            "recursive CTE {name}: both sides of UNION need the same number of columns"
                        )));
                    }
                    let all = matches!(set_quantifier, ast::SetQuantifier::All);
                    self.ctes.push(CteDef {
                        name: name.clone(),
                        id,
                        cols,
                        working: false,
                        once: None,
                    });
                    return Ok((
                        id,
                        name.clone(),
                        Plan::RecursiveCte {
                            id,
                            name,
                            base: Box::new(base),
                            step: Box::new(step),
                            all,
                        },
                    ));
                }
            }
        }
        let (plan, cols) = self.plan_query(&cte.query)?;
        let cols = rename(cols)?;
        let once = (references == 1).then(|| {
            Arc::new(CteOnce {
                query: (*cte.query).clone(),
                scope_depth: self.bind.scopes.len(),
                ctes_before: self.ctes.len(),
            })
        });
        self.ctes.push(CteDef {
            name: name.clone(),
            id,
            cols,
            working: false,
            once,
        });
        Ok((id, name, plan))
    }

    fn plan_query_body(&mut self, q: &ast::Query) -> Result<(Plan, Vec<OutCol>)> {
        let order_by: Vec<&ast::OrderByExpr> = match &q.order_by {
            None => Vec::new(),
            Some(ob) => match &ob.kind {
                ast::OrderByKind::Expressions(v) => v.iter().collect(),
                ast::OrderByKind::All(_) => return Err(Error::unsupported("ORDER BY ALL")),
            },
        };
        let (limit, offset) = match &q.limit_clause {
            None => (None, None),
            Some(ast::LimitClause::LimitOffset { limit, offset, .. }) => {
                (limit.as_ref(), offset.as_ref().map(|o| &o.value))
            }
            Some(ast::LimitClause::OffsetCommaLimit { offset, limit }) => {
                (Some(limit), Some(offset))
            }
        };
        if let ast::SetExpr::Select(s) = &*q.body {
            return self.plan_select(s, &order_by, limit, offset);
        }
        let (mut plan, cols) = self.plan_set_expr(&q.body)?;
        if !order_by.is_empty() {
            let scope_cols = cols
                .iter()
                .map(|c| ScopeCol {
                    table: None,
                    name: c.name.clone(),
                    data_type: c.data_type,
                    affinity: c.affinity,
                    using_dup: false,
                })
                .collect();
            self.bind.scopes.push(Scope::new(scope_cols));
            let keys = (|| {
                let mut keys = Vec::new();
                for o in &order_by {
                    let expr = match ordinal(&o.expr, cols.len())? {
                        Some(k) => Expr::Column(k),
                        None => self.bind_expr(&o.expr)?,
                    };
                    keys.push(SortKey {
                        nulls_first: nulls_first_for(&expr, &o.options),
                        expr,
                        desc: is_desc(&o.options),
                    });
                }
                Ok::<_, Error>(keys)
            })();
            self.bind.scopes.pop();
            plan = Plan::Sort {
                input: Box::new(plan),
                keys: keys?,
            };
        }
        plan = self.plan_limit(plan, limit, offset)?;
        Ok((plan, cols))
    }

    fn plan_limit(
        &mut self,
        plan: Plan,
        limit: Option<&ast::Expr>,
        offset: Option<&ast::Expr>,
    ) -> Result<Plan> {
        if limit.is_none() && offset.is_none() {
            return Ok(plan);
        }
        let limit = limit.map(|e| self.bind_standalone(e)).transpose()?;
        let offset = offset.map(|e| self.bind_standalone(e)).transpose()?;
        Ok(Plan::Limit {
            input: Box::new(plan),
            limit,
            offset,
        })
    }

    pub fn plan_set_expr(&mut self, e: &ast::SetExpr) -> Result<(Plan, Vec<OutCol>)> {
        let (plan, mut arms) = self.plan_set_arms(e)?;
        if arms.len() == 1 {
            return Ok((plan, arms.pop().unwrap_or_default()));
        }
        // A compound's columns: the first arm's names and types, the
        // affinity SQLite gives a compound's column.
        let mut cols = arms.first().cloned().unwrap_or_default();
        for (i, c) in cols.iter_mut().enumerate() {
            let per_arm: Vec<(Affinity, u8)> = (arms.iter())
                .filter_map(|a| a.get(i).map(|c| (c.affinity, c.datatypes)))
                .collect();
            c.affinity = crate::affinity::of_compound(&per_arm);
            c.expr_affinity = (arms.last())
                .and_then(|a| a.get(i))
                .map_or(Affinity::None, |c| c.expr_affinity);
            c.datatypes = per_arm.iter().fold(0, |m, (_, d)| m | d);
        }
        Ok((plan, cols))
    }

    /// A query body's plan and the output columns of each of its simple
    /// SELECTs, left to right.
    fn plan_set_arms(&mut self, e: &ast::SetExpr) -> Result<(Plan, Vec<Vec<OutCol>>)> {
        let one = |(p, cols)| (p, vec![cols]);
        match e {
            ast::SetExpr::Select(s) => self.plan_select(s, &[], None, None).map(one),
            ast::SetExpr::Query(q) => self.plan_query(q).map(one),
            ast::SetExpr::Values(v) => self.plan_values(v).map(one),
            ast::SetExpr::SetOperation { right, .. }
                if matches!(**right, ast::SetExpr::SetOperation { .. }) =>
            {
                self.plan_set_arms(&left_to_right(e.clone()))
            }
            ast::SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => {
                let (l, mut arms) = self.plan_set_arms(left)?;
                let (r, rarms) = self.plan_set_arms(right)?;
                let width = |a: &Vec<Vec<OutCol>>| a.first().map_or(0, Vec::len);
                if width(&arms) != width(&rarms) {
                    return Err(Error::plan(format!(
                        "SELECTs to the left and right of {op} do not have the same number of result columns"
                    )));
                }
                arms.extend(rarms);
                let kind = match op {
                    ast::SetOperator::Union => SetOpKind::Union,
                    ast::SetOperator::Intersect => SetOpKind::Intersect,
                    ast::SetOperator::Except | ast::SetOperator::Minus => SetOpKind::Except,
                };
                let all = matches!(set_quantifier, ast::SetQuantifier::All);
                Ok((
                    Plan::SetOp {
                        kind,
                        all,
                        left: Box::new(l),
                        right: Box::new(r),
                    },
                    arms,
                ))
            }
            other => Err(Error::unsupported(format!("query form {other}"))),
        }
    }

    pub fn plan_values(&mut self, v: &ast::Values) -> Result<(Plan, Vec<OutCol>)> {
        let mut rows = Vec::with_capacity(v.rows.len());
        let width = v.rows.first().map_or(0, |r| r.len());
        for r in &v.rows {
            if r.len() != width {
                return Err(Error::plan(
                    "all VALUES rows must have the same number of values",
                ));
            }
            let mut row = Vec::with_capacity(width);
            for e in r.iter() {
                row.push(self.bind_standalone(e)?);
            }
            rows.push(row);
        }
        let cols = (0..width)
            .map(|i| OutCol {
                name: format!("column{}", i + 1),
                affinity: Affinity::None,
                expr_affinity: Affinity::None,
                datatypes: rows.iter().fold(0, |m, r| {
                    m | r.get(i).map_or(0, |e| datatypes(e, &|_| Affinity::None))
                }),
                data_type: match rows.first().and_then(|r| r.get(i)) {
                    Some(Expr::Literal(v)) => v.data_type(),
                    _ => None,
                },
            })
            .collect();
        Ok((Plan::Values { rows }, cols))
    }

    // ---- SELECT --------------------------------------------------------

    fn plan_select(
        &mut self,
        s: &ast::Select,
        order_by: &[&ast::OrderByExpr],
        limit: Option<&ast::Expr>,
        offset: Option<&ast::Expr>,
    ) -> Result<(Plan, Vec<OutCol>)> {
        let depth = self.bind.scopes.len();
        let window_ok = std::mem::replace(&mut self.bind.window_ok, false);
        let saved = self.bind.save();
        let mut r = self.plan_select_inner(s, order_by, limit, offset, false);
        if r.is_err() && self.bind.outer_aggregate == Some(depth) {
            // A subquery aggregates this level's rows: plan it again as an
            // aggregate query (a second request is a misuse, reported).
            self.bind.scopes.truncate(depth);
            self.bind.restore(saved);
            self.bind.window_ok = false;
            r = self.plan_select_inner(s, order_by, limit, offset, true);
        }
        self.bind.window_ok = window_ok;
        self.bind.scopes.truncate(depth);
        r
    }

    fn plan_select_inner(
        &mut self,
        s: &ast::Select,
        order_by: &[&ast::OrderByExpr],
        limit: Option<&ast::Expr>,
        offset: Option<&ast::Expr>,
        outer_aggregate: bool,
    ) -> Result<(Plan, Vec<OutCol>)> {
        if s.top.is_some() || s.into.is_some() || !s.lateral_views.is_empty() || s.qualify.is_some()
        {
            return Err(Error::unsupported("TOP / INTO / LATERAL VIEW / QUALIFY"));
        }
        let distinct = match &s.distinct {
            None | Some(ast::Distinct::All) => false,
            Some(ast::Distinct::Distinct) => true,
            Some(ast::Distinct::On(_)) => return Err(Error::unsupported("DISTINCT ON")),
        };
        // A LIMIT with no ORDER BY (or a FROM feeding one) wants its first
        // rows soon: joins prefer index lookups, GROUP BY an index order.
        let first_rows = (limit.is_some() || self.bind.first_rows) && order_by.is_empty();
        // FROM + WHERE (pushes this level's scope).
        let mut plan = self.plan_from_for(s, first_rows)?;
        let from_width = self.bind.scopes.last().map_or(0, |sc| sc.cols.len());

        // Aggregation.
        let group_exprs: Vec<&ast::Expr> = match &s.group_by {
            ast::GroupByExpr::Expressions(v, mods) => {
                if !mods.is_empty() {
                    return Err(Error::unsupported("GROUP BY modifiers"));
                }
                v.iter().collect()
            }
            ast::GroupByExpr::All(_) => return Err(Error::unsupported("GROUP BY ALL")),
        };
        let proj_exprs: Vec<&ast::Expr> = s
            .projection
            .iter()
            .filter_map(|i| match i {
                ast::SelectItem::UnnamedExpr(e)
                | ast::SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
                _ => None,
            })
            .collect();
        let is_agg = outer_aggregate
            || !group_exprs.is_empty()
            || s.having.is_some()
            || proj_exprs.iter().any(|e| self.has_local_aggregate(e))
            || order_by.iter().any(|o| self.has_local_aggregate(&o.expr));
        if is_agg {
            let mut texts = Vec::new();
            let mut bound = Vec::new();
            for g in &group_exprs {
                let g = self.resolve_group_item(g, s)?;
                texts.push(g.to_string());
                bound.push(self.bind_expr(g)?);
            }
            if let Some(sc) = self.bind.scopes.last_mut() {
                sc.agg = Some(AggState {
                    group_texts: texts,
                    group_exprs: bound,
                    active: true,
                    ..AggState::default()
                });
            }
        }

        let (mut exprs, cols) = self.bind_select_list(s, is_agg)?;
        let having = match &s.having {
            Some(h) => Some(self.bind_expr(h)?),
            None => None,
        };

        // ORDER BY: output ordinals, output names, select-list expressions,
        // or any expression over the input (appended as hidden columns).
        let visible = exprs.len();
        let mut keys = Vec::new();
        self.bind.window_ok = true;
        for o in order_by {
            let idx = if let Some(k) = ordinal(&o.expr, visible)? {
                Some(k)
            } else if let ast::Expr::Identifier(i) = &o.expr {
                cols.iter()
                    .position(|c| c.name.eq_ignore_ascii_case(&i.value))
            } else {
                None
            };
            let idx = match idx {
                Some(k) => k,
                None => {
                    let text = o.expr.to_string();
                    match proj_exprs_with_pos(&s.projection)
                        .into_iter()
                        .find(|(_, e)| e.to_string() == text)
                    {
                        Some((p, _)) if p < visible && !matches!(o.expr, ast::Expr::Value(_)) => p,
                        _ => {
                            let x = self.bind_expr(&o.expr)?;
                            exprs.push(x);
                            exprs.len() - 1
                        }
                    }
                }
            };
            let nulls_first = match exprs.get(idx) {
                Some(e) => nulls_first_for(e, &o.options),
                None => nulls_first(&o.options),
            };
            keys.push(SortKey {
                expr: Expr::Column(idx),
                desc: is_desc(&o.options),
                nulls_first,
            });
        }

        self.bind.window_ok = false;
        // Assemble: Aggregate → HAVING → Window → Project → DISTINCT → Sort → Limit.
        let scope = self.bind.scopes.last_mut();
        let scope = scope.ok_or_else(|| Error::internal("select scope missing"))?;
        let windows = std::mem::take(&mut scope.windows);
        let mut base_width = from_width;
        if let Some(agg) = scope.agg.take() {
            base_width = agg.group_exprs.len() + agg.aggs.len();
            plan = self.aggregate(plan, agg, first_rows);
        }
        if let Some(h) = having {
            plan = Plan::Filter {
                input: Box::new(plan),
                predicate: h,
            };
        }
        if !windows.is_empty() {
            for e in exprs.iter_mut() {
                e.rewrite(&mut |x| {
                    if let Expr::WindowRef(j) = x {
                        *x = Expr::Column(base_width + *j);
                    }
                });
            }
            plan = self.window(plan, windows, first_rows);
        }
        self.end_level(&mut plan);
        if distinct {
            // DISTINCT compares projected rows, so sort after projecting
            // (hidden ORDER BY columns ride along and are stripped at the end).
            let total = exprs.len();
            plan = Plan::Distinct {
                input: Box::new(Plan::Project {
                    input: Box::new(plan),
                    exprs,
                }),
                width: visible,
            };
            loose_index_distinct::apply(&mut plan, &mut self.bind.trace);
            if !keys.is_empty() {
                plan = Plan::Sort {
                    input: Box::new(plan),
                    keys,
                };
            }
            plan = self.plan_limit(plan, limit, offset)?;
            if total > visible {
                plan = Plan::Project {
                    input: Box::new(plan),
                    exprs: (0..visible).map(Expr::Column).collect(),
                };
            }
            return Ok((plan, cols));
        }
        // Otherwise sort and limit the input rows, and project only the rows
        // that survive: ORDER BY keys become expressions over the input.
        let keys: Vec<SortKey> = keys
            .into_iter()
            .map(|k| SortKey {
                expr: match k.expr {
                    Expr::Column(i) => exprs[i].clone(),
                    other => other,
                },
                ..k
            })
            .collect();
        exprs.truncate(visible);
        if !keys.is_empty() {
            plan = Plan::Sort {
                input: Box::new(plan),
                keys,
            };
            order_by_index::apply(&mut plan, &mut self.bind.trace);
        }
        plan = self.plan_limit(plan, limit, offset)?;
        vector_topk::apply(&mut plan, &mut self.bind.trace);
        Ok((self.select_list_project(plan, exprs), cols))
    }

    /// The select list's projection over `plan` (reading through a join's
    /// column reordering where it can, rule `fold_projections`).
    fn select_list_project(&mut self, plan: Plan, exprs: Vec<Expr>) -> Plan {
        let mut plan = Plan::Project {
            input: Box::new(plan),
            exprs,
        };
        fold_projections::apply(&mut plan, &mut self.bind.trace);
        plan
    }

    /// GROUP BY items may be select-list ordinals or aliases (SQLite).
    fn resolve_group_item<'q>(
        &mut self,
        g: &'q ast::Expr,
        s: &'q ast::Select,
    ) -> Result<&'q ast::Expr> {
        let items = proj_exprs_with_pos(&s.projection);
        if let Some(k) = ordinal(g, s.projection.len())? {
            return items
                .into_iter()
                .find(|(p, _)| *p == k)
                .map(|(_, e)| e)
                .ok_or_else(|| Error::plan("GROUP BY term refers to a wildcard"));
        }
        if let ast::Expr::Identifier(i) = g {
            let in_from = self.bind.scopes.last().is_some_and(|sc| {
                !matches!(sc.lookup(None, &i.value), crate::scope::Lookup::Missing)
            });
            if !in_from {
                for item in &s.projection {
                    if let ast::SelectItem::ExprWithAlias { expr, alias } = item {
                        if alias.value.eq_ignore_ascii_case(&i.value) {
                            return Ok(expr);
                        }
                    }
                }
            }
        }
        Ok(g)
    }

    /// A SELECT's FROM and WHERE, planned for its first rows when
    /// `first_rows` (see `BindState::first_rows`).
    fn plan_from_for(&mut self, s: &ast::Select, first_rows: bool) -> Result<Plan> {
        let outer = std::mem::replace(&mut self.bind.first_rows, first_rows);
        let plan = self.plan_from(&s.from, s.selection.as_ref());
        self.bind.first_rows = outer;
        plan
    }

    /// GROUP BY and aggregates over `input`; streamed along an index order
    /// when the first rows are wanted and rule `group_by_order` finds one.
    /// The select list, bound: its expressions and output columns. While
    /// it binds, a subquery may find an aggregate of this level (see
    /// `Binder::bind_outer_aggregate`).
    fn bind_select_list(
        &mut self,
        s: &ast::Select,
        is_agg: bool,
    ) -> Result<(Vec<Expr>, Vec<OutCol>)> {
        self.bind.window_ok = true;
        if let Some(sc) = self.bind.scopes.last_mut() {
            sc.select_list = true;
        }
        let mut exprs = Vec::new();
        let mut cols = Vec::new();
        for item in &s.projection {
            match item {
                ast::SelectItem::UnnamedExpr(e) => {
                    let x = self.bind_expr(e)?;
                    cols.push(self.out_col(expr_name(e), &x, is_agg));
                    exprs.push(x);
                }
                ast::SelectItem::ExprWithAlias { expr, alias } => {
                    let x = self.bind_expr(expr)?;
                    cols.push(self.out_col(alias.value.clone(), &x, is_agg));
                    exprs.push(x);
                }
                ast::SelectItem::Wildcard(_) => {
                    self.expand_wildcard(None, &mut exprs, &mut cols)?
                }
                ast::SelectItem::QualifiedWildcard(kind, _) => {
                    let t = match kind {
                        ast::SelectItemQualifiedWildcardKind::ObjectName(o) => object_name(o),
                        ast::SelectItemQualifiedWildcardKind::Expr(e) => e.to_string(),
                    };
                    self.expand_wildcard(Some(&t), &mut exprs, &mut cols)?
                }
                other => return Err(Error::unsupported(format!("select item {other}"))),
            }
        }
        if exprs.is_empty() {
            return Err(Error::plan("a SELECT needs at least one result column"));
        }
        self.bind.window_ok = false;
        if let Some(sc) = self.bind.scopes.last_mut() {
            sc.select_list = false;
        }
        Ok((exprs, cols))
    }

    fn aggregate(&mut self, mut input: Plan, mut agg: AggState, first_rows: bool) -> Plan {
        let trace = &mut self.bind.trace;
        let ordered = first_rows && group_by_order::apply(&mut input, &agg.group_exprs, trace);
        loose_index_distinct::count_distinct(&mut input, &agg.group_exprs, &mut agg.aggs, trace);
        Plan::Aggregate {
            input: Box::new(input),
            group_by: agg.group_exprs,
            aggs: agg.aggs,
            ordered,
        }
    }

    /// Window functions over `input`; streamed along an index order when
    /// the first rows are wanted and rule `window_order` finds one.
    fn window(&mut self, mut input: Plan, calls: Vec<WindowCall>, first_rows: bool) -> Plan {
        let stream = match first_rows {
            true => window_order::apply(&mut input, &calls, &mut self.bind.trace),
            false => WindowStream::None,
        };
        Plan::Window {
            input: Box::new(input),
            calls,
            stream,
        }
    }

    /// Leaves a SELECT's level: pops its scope, and tells its scans and
    /// derived tables which columns the level reads.
    fn end_level(&mut self, plan: &mut Plan) {
        if let Some(scope) = self.bind.scopes.pop() {
            let bind = &mut self.bind;
            prune_columns::apply(plan, &scope, &mut bind.trace);
            prune_columns::derived(plan, &scope, &mut bind.cte_used, &mut bind.trace);
        }
    }

    /// The output column `name` that select-list expression `x` makes.
    fn out_col(&self, name: String, x: &Expr, is_agg: bool) -> OutCol {
        OutCol {
            name,
            data_type: self.type_of(x, is_agg),
            affinity: affinity_of(&self.bind, x),
            expr_affinity: affinity_of(&self.bind, x),
            datatypes: datatypes(x, &|e| affinity_of(&self.bind, e)),
        }
    }

    pub(crate) fn type_of(&self, x: &Expr, is_agg: bool) -> Option<DataType> {
        match x {
            Expr::Literal(v) => v.data_type(),
            Expr::Cast(_, t) => Some(*t),
            Expr::Column(c) if !is_agg => self
                .bind
                .scopes
                .last()
                .and_then(|s| s.cols.get(*c))
                .and_then(|c| c.data_type),
            _ => None,
        }
    }

    pub(crate) fn expand_wildcard(
        &mut self,
        table: Option<&str>,
        exprs: &mut Vec<Expr>,
        cols: &mut Vec<OutCol>,
    ) -> Result<()> {
        let scope = self
            .bind
            .scopes
            .last()
            .ok_or_else(|| Error::internal("no scope"))?;
        if let Some(t) = table {
            if !scope.has_table(t) {
                return Err(Error::no_such("table", t));
            }
        }
        let picked: Vec<(usize, ScopeCol)> = scope
            .cols
            .iter()
            .enumerate()
            .filter(|(_, c)| match table {
                Some(t) => c
                    .table
                    .as_deref()
                    .is_some_and(|ct| ct.eq_ignore_ascii_case(t)),
                None => !c.using_dup,
            })
            .map(|(i, c)| (i, c.clone()))
            .collect();
        if picked.is_empty() && table.is_none() {
            return Err(Error::plan(
                "SELECT * with no tables specified is not valid",
            ));
        }
        for (i, c) in picked {
            let parts = match &c.table {
                Some(t) => vec![ast::Ident::new(t.clone()), ast::Ident::new(c.name.clone())],
                None => vec![ast::Ident::new(c.name.clone())],
            };
            let x = match self.resolve(&parts) {
                Ok(x) => x,
                Err(_) => {
                    if let Some(sc) = self.bind.scopes.last_mut() {
                        sc.mark_used(i);
                    }
                    Expr::Column(i)
                }
            };
            exprs.push(x);
            cols.push(OutCol {
                name: c.name.clone(),
                data_type: c.data_type,
                affinity: c.affinity,
                expr_affinity: c.affinity,
                datatypes: datatypes(&Expr::Column(i), &|_| c.affinity),
            });
        }
        Ok(())
    }

    // ---- FROM ----------------------------------------------------------

    /// Plans FROM and WHERE, pushing this level's scope (the concatenation of
    /// every relation's columns, in FROM order). The returned plan produces
    /// rows in that layout with WHERE applied.
    fn plan_from(
        &mut self,
        from: &[ast::TableWithJoins],
        selection: Option<&ast::Expr>,
    ) -> Result<Plan> {
        self.plan_from_with(None, from, selection)
    }

    /// FROM + WHERE with `first` (a relation and its scope columns) joined
    /// before the FROM list: the target of `UPDATE … FROM`.
    pub(crate) fn plan_from_with(
        &mut self,
        first: Option<(Rel, Vec<ScopeCol>)>,
        from: &[ast::TableWithJoins],
        selection: Option<&ast::Expr>,
    ) -> Result<Plan> {
        let mut rels: Vec<Rel> = Vec::new();
        let mut cols: Vec<ScopeCol> = Vec::new();
        let mut joins: Vec<(usize, JoinType, Vec<&ast::JoinConstraint>)> = Vec::new();
        if let Some((rel, rel_cols)) = first {
            rels.push(rel);
            cols.extend(rel_cols);
            joins.push((0, JoinType::Cross, Vec::new()));
        }
        for twj in from {
            self.collect_joins(twj, JoinType::Cross, None, &mut rels, &mut cols, &mut joins)?;
        }
        if rels.len() > FROM_TABLES_MAX {
            return Err(Error::Limit {
                what: "tables in one FROM clause".into(),
                max: FROM_TABLES_MAX as u64,
            });
        }
        // USING / NATURAL mark the right copies of the shared columns.
        let mut on_conds: Vec<(usize, ast::Expr)> = Vec::new();
        let mut using_eqs: Vec<(usize, usize, usize)> = Vec::new();
        for (ri, _, conds) in &joins {
            let ri = *ri;
            let rel = &rels[ri];
            for c in conds.iter().map(|c| Some(*c)) {
                match c {
                    Some(ast::JoinConstraint::On(e)) => on_conds.push((ri, e.clone())),
                    Some(ast::JoinConstraint::Using(names)) => {
                        for n in names {
                            let n = object_name(n);
                            let (l, r) = using_pair(&cols, rel.offset, rel.width, &n)?;
                            using_eqs.push((ri, l, r));
                            cols[r].using_dup = true;
                        }
                    }
                    Some(ast::JoinConstraint::Natural) => {
                        for r in rel.offset..rel.offset + rel.width {
                            let n = cols[r].name.clone();
                            if let Ok((l, r)) = using_pair(&cols, rel.offset, rel.width, &n) {
                                using_eqs.push((ri, l, r));
                                cols[r].using_dup = true;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        self.bind.scopes.push(Scope::new(cols));
        // Bind join conditions and WHERE in the full FROM layout.
        let mut join_conds: Vec<Vec<Expr>> = vec![Vec::new(); rels.len()];
        for (ri, e) in &on_conds {
            let x = self.bind_expr(e)?;
            split_and(x, &mut join_conds[*ri]);
        }
        for &(_, l, r) in &using_eqs {
            if let Some(sc) = self.bind.scopes.last_mut() {
                sc.mark_used(l);
                sc.mark_used(r);
            }
        }
        for (ri, l, r) in using_eqs {
            join_conds[ri].push(Expr::Cmp(
                CmpOp::Eq,
                Box::new(Expr::Column(l)),
                Box::new(Expr::Column(r)),
            ));
        }
        let mut where_conds = Vec::new();
        if let Some(w) = selection {
            if self.has_local_aggregate(w) {
                return Err(Error::plan("aggregate functions are not allowed in WHERE"));
            }
            let x = self.bind_expr(w)?;
            split_and(x, &mut where_conds);
        }
        if rels.is_empty() {
            return Ok(Plan::Single.filtered(where_conds));
        }
        let graph = JoinGraph {
            rels,
            kinds: joins.iter().map(|j| j.1).collect(),
            join_conds,
            where_conds,
        };
        plan_joins(graph, &mut self.bind)
    }

    /// Adds the relations of `twj` (flattening parenthesised joins) with
    /// the join type of each; the first relation joins with `first_kind`.
    fn collect_joins<'q>(
        &mut self,
        twj: &'q ast::TableWithJoins,
        first_kind: JoinType,
        first_cond: Option<&'q ast::JoinConstraint>,
        rels: &mut Vec<Rel>,
        cols: &mut Vec<ScopeCol>,
        joins: &mut Vec<(usize, JoinType, Vec<&'q ast::JoinConstraint>)>,
    ) -> Result<()> {
        self.collect_factor(&twj.relation, first_kind, first_cond, rels, cols, joins)?;
        for j in &twj.joins {
            let (jt, c) = match &j.join_operator {
                ast::JoinOperator::Join(c) | ast::JoinOperator::Inner(c) => {
                    (JoinType::Inner, Some(c))
                }
                ast::JoinOperator::Left(c) | ast::JoinOperator::LeftOuter(c) => {
                    (JoinType::Left, Some(c))
                }
                ast::JoinOperator::CrossJoin(c) => (JoinType::Cross, Some(c)),
                other => return Err(Error::unsupported(format!("join type {other:?}"))),
            };
            self.collect_factor(&j.relation, jt, c, rels, cols, joins)?;
        }
        Ok(())
    }

    fn collect_factor<'q>(
        &mut self,
        tf: &'q ast::TableFactor,
        kind: JoinType,
        cond: Option<&'q ast::JoinConstraint>,
        rels: &mut Vec<Rel>,
        cols: &mut Vec<ScopeCol>,
        joins: &mut Vec<(usize, JoinType, Vec<&'q ast::JoinConstraint>)>,
    ) -> Result<()> {
        if let ast::TableFactor::NestedJoin {
            table_with_joins,
            alias: None,
        } = tf
        {
            // `a JOIN (b JOIN c ON ..) ON ..` equals `a JOIN b JOIN c ON .. AND ..`
            // when every join involved is an inner join.
            let has_outer = table_with_joins.joins.iter().any(|j| {
                matches!(
                    j.join_operator,
                    ast::JoinOperator::Left(_) | ast::JoinOperator::LeftOuter(_)
                )
            });
            if !rels.is_empty() && (has_outer || kind == JoinType::Left) {
                return Err(Error::unsupported("outer joins inside parenthesised joins"));
            }
            let kind = if kind == JoinType::Cross && cond.is_some() {
                JoinType::Inner
            } else {
                kind
            };
            self.collect_joins(table_with_joins, kind, None, rels, cols, joins)?;
            if let Some(c) = cond {
                // The outer ON applies once all nested relations are joined.
                if let Some(last) = joins.last_mut() {
                    last.2.push(c);
                }
            }
            return Ok(());
        }
        self.add_rel(tf, rels, cols)?;
        joins.push((rels.len() - 1, kind, cond.into_iter().collect()));
        Ok(())
    }

    fn add_rel(
        &mut self,
        tf: &ast::TableFactor,
        rels: &mut Vec<Rel>,
        cols: &mut Vec<ScopeCol>,
    ) -> Result<()> {
        let offset = cols.len();
        // Conditions on the relation alone, in its own layout, known now
        // (a flattened CTE's WHERE).
        let mut local = Vec::new();
        let (source, mut rel_cols, label, alias_cols): (
            RelSource,
            Vec<ScopeCol>,
            String,
            Vec<String>,
        ) = match tf {
            ast::TableFactor::Table {
                name, alias, args, ..
            } => {
                if args.is_some() {
                    return Err(Error::unsupported("table functions"));
                }
                let tname = object_name(name);
                let label = alias
                    .as_ref()
                    .map_or(tname.clone(), |a| a.name.value.clone());
                let alias_cols = alias
                    .as_ref()
                    .map(|a| a.columns.iter().map(|c| c.name.value.clone()).collect())
                    .unwrap_or_default();
                let (source, c) = match self.cte_in_place(&tname, &label)? {
                    Some((source, c, conds)) => {
                        local = conds;
                        (source, c)
                    }
                    None => self.named_source(name, &tname, &label)?,
                };
                (source, c, label, alias_cols)
            }
            ast::TableFactor::Derived {
                lateral,
                subquery,
                alias,
                ..
            } => {
                if *lateral {
                    return Err(Error::unsupported("LATERAL subqueries"));
                }
                let (plan, qcols) = self.plan_query(subquery)?;
                let label = alias
                    .as_ref()
                    .map(|a| a.name.value.clone())
                    .unwrap_or_else(|| format!("subquery{}", rels.len() + 1));
                let alias_cols = alias
                    .as_ref()
                    .map(|a| a.columns.iter().map(|c| c.name.value.clone()).collect())
                    .unwrap_or_default();
                let c = scope_cols(&label, &qcols);
                (RelSource::Plan(plan), c, label, alias_cols)
            }
            other => return Err(Error::unsupported(format!("FROM item {other}"))),
        };
        if !alias_cols.is_empty() {
            if alias_cols.len() > rel_cols.len() {
                return Err(Error::plan(format!(
                    "{label} has {} columns but {} column aliases were given",
                    rel_cols.len(),
                    alias_cols.len()
                )));
            }
            for (c, n) in rel_cols.iter_mut().zip(alias_cols) {
                c.name = n;
            }
        }
        if cols.iter().any(|c| {
            c.table
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(&label))
        }) {
            return Err(Error::plan(format!(
                "table name {label} specified more than once"
            )));
        }
        let width = rel_cols.len();
        cols.extend(rel_cols);
        rels.push(Rel {
            source,
            label,
            offset,
            width,
            local,
            nullable: false,
            with_rowid: false,
        });
        Ok(())
    }

    /// The CTE `tname` names, if the statement names it once.
    fn cte_named_once(&self, tname: &str) -> Option<(CteDef, Arc<CteOnce>)> {
        let cte = (self.ctes.iter().rev()).find(|c| c.name.eq_ignore_ascii_case(tname))?;
        Some((cte.clone(), cte.once.clone()?))
    }

    /// The one reference to a CTE that is not materialized: read in place
    /// of the CTE, with conditions on the relation alone (in its layout).
    /// `None` keeps the materialized CTE (see `named_source`).
    /// - `SELECT * FROM table [WHERE cond]` reads `table` itself, `cond`
    ///   becoming a condition on it (so it joins, picks indexes and streams
    ///   like the table), wherever the reference is;
    /// - any other CTE, referenced in the FROM of the query the WITH belongs
    ///   to, is planned there like a derived table: it streams into that
    ///   query (a LIMIT stops it; a GROUP BY in it may stream along an
    ///   index). A reference in a subquery keeps the materialized CTE
    ///   (computed once, not once per outer row).
    fn cte_in_place(
        &mut self,
        tname: &str,
        label: &str,
    ) -> Result<Option<(RelSource, Vec<ScopeCol>, Vec<Expr>)>> {
        let Some((cte, once)) = self.cte_named_once(tname) else {
            return Ok(None);
        };
        let flat = match self.select_star_of_table(&once) {
            Some((table, inner, cond)) => self.flattened(&once, table, &inner, cond)?,
            None => None,
        };
        let found = match flat {
            Some((table, conds)) => {
                self.bind.trace.fire(crate::rules::Rule::PushDown, || {
                    format!("CTE {} reads table {} directly", cte.name, table.name())
                });
                let cols = crate::scope::table_cols(&table, label);
                Some((RelSource::Table(table), cols, conds))
            }
            None if self.bind.scopes.len() == once.scope_depth => {
                let (plan, cols) = self.at_definition(&once, |p| p.plan_query(&once.query))?;
                Some((RelSource::Plan(plan), scope_cols(label, &cols), Vec::new()))
            }
            None => None,
        };
        Ok(found.map(|(source, mut cols, conds)| {
            // The reference reads the CTE's column names.
            for (c, o) in cols.iter_mut().zip(&cte.cols) {
                c.name.clone_from(&o.name);
            }
            self.bind.flattened_ctes.insert(cte.id);
            (source, cols, conds)
        }))
    }

    /// `cond` (of a `SELECT * FROM table AS inner WHERE cond` CTE) bound on
    /// `table`'s rows where the CTE was defined, as conjuncts; `None` when
    /// it names an enclosing query or holds a subquery (bound for the
    /// definition's place, not the reference's: the CTE stays whole).
    fn flattened(
        &mut self,
        once: &CteOnce,
        table: Arc<cairn_storage::Table>,
        inner: &str,
        cond: Option<ast::Expr>,
    ) -> Result<Option<(Arc<cairn_storage::Table>, Vec<Expr>)>> {
        let Some(cond) = cond else {
            return Ok(Some((table, Vec::new())));
        };
        let bound = self.at_definition(once, |p| {
            let cols = crate::scope::table_cols(&table, inner);
            p.bind.scopes.push(Scope::new(cols));
            let bound = p.bind_expr(&cond);
            p.bind.scopes.pop();
            bound
        })?;
        let mut nested = false;
        bound.walk(&mut |x| {
            nested |= matches!(
                x,
                Expr::Outer { .. }
                    | Expr::InSubquery { .. }
                    | Expr::Exists { .. }
                    | Expr::ScalarSubquery(_)
                    | Expr::GroupedSubquery(_)
            )
        });
        if nested {
            return Ok(None);
        }
        let mut conds = Vec::new();
        split_and(bound, &mut conds);
        Ok(Some((table, conds)))
    }

    /// Runs `f` where CTE `once` was defined: with the scopes and the
    /// earlier CTEs in force there.
    fn at_definition<T>(&mut self, once: &CteOnce, f: impl FnOnce(&mut Self) -> T) -> T {
        let depth = once.scope_depth.min(self.bind.scopes.len());
        let later_scopes = self.bind.scopes.split_off(depth);
        let later_ctes = self.ctes.split_off(once.ctes_before.min(self.ctes.len()));
        let out = f(self);
        self.bind.scopes.extend(later_scopes);
        self.ctes.extend(later_ctes);
        out
    }

    /// `SELECT * FROM t [AS a] [WHERE cond]` over a base table `t` (not a
    /// CTE of that name, a view or a catalog relation): the table, the name
    /// its columns go by inside, and the condition.
    fn select_star_of_table(
        &self,
        once: &CteOnce,
    ) -> Option<(Arc<cairn_storage::Table>, String, Option<ast::Expr>)> {
        let q = &once.query;
        if q.with.is_some() || q.order_by.is_some() || q.limit_clause.is_some() || q.fetch.is_some()
        {
            return None;
        }
        let ast::SetExpr::Select(s) = &*q.body else {
            return None;
        };
        let plain = s.distinct.is_none()
            && s.top.is_none()
            && s.into.is_none()
            && s.exclude.is_none()
            && s.lateral_views.is_empty()
            && s.prewhere.is_none()
            && s.connect_by.is_empty()
            && matches!(&s.group_by, ast::GroupByExpr::Expressions(v, m) if v.is_empty() && m.is_empty())
            && s.cluster_by.is_empty()
            && s.distribute_by.is_empty()
            && s.sort_by.is_empty()
            && s.having.is_none()
            && s.named_window.is_empty()
            && s.qualify.is_none()
            && matches!(&s.projection[..], [ast::SelectItem::Wildcard(w)] if w.opt_exclude.is_none()
                && w.opt_except.is_none() && w.opt_replace.is_none() && w.opt_rename.is_none());
        let [from] = &s.from[..] else { return None };
        if !plain || !from.joins.is_empty() || s.selection.as_ref().is_some_and(contains_aggregate)
        {
            return None;
        }
        let ast::TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } = &from.relation
        else {
            return None;
        };
        if alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
            return None;
        }
        let tname = object_name(name);
        let shadowed = self.ctes[..once.ctes_before.min(self.ctes.len())]
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(&tname));
        if shadowed || tname.contains('.') || tname.to_ascii_lowercase().starts_with("cairn_") {
            return None;
        }
        let table = self.store.table(&tname)?;
        let inner = alias.as_ref().map_or(tname, |a| a.name.value.clone());
        Some((table, inner, s.selection.clone()))
    }

    /// A relation named in FROM: a CTE, a catalog relation, a table or a
    /// view (in that order of precedence), with its columns labelled
    /// `label`.
    fn named_source(
        &mut self,
        name: &ast::ObjectName,
        tname: &str,
        label: &str,
    ) -> Result<(RelSource, Vec<ScopeCol>)> {
        if let Some(cte) = self
            .ctes
            .iter()
            .rev()
            .find(|c| c.name.eq_ignore_ascii_case(tname))
            .cloned()
        {
            let width = cte.cols.len();
            let plan = if cte.working {
                Plan::WorkingSet {
                    id: cte.id,
                    name: cte.name.clone(),
                    width,
                }
            } else {
                Plan::CteScan {
                    id: cte.id,
                    name: cte.name.clone(),
                    width,
                }
            };
            let c = scope_cols(label, &cte.cols);
            Ok((RelSource::Plan(plan), c))
        } else if let Some((plan, scols)) =
            crate::system::relation(self.store, name, &mut |v| self.view_columns(v))
        {
            let c = scope_cols(label, &scols);
            Ok((RelSource::Plan(plan), c))
        } else if let Some(table) = self.store.table(tname) {
            let c = crate::scope::table_cols(&table, label);
            Ok((RelSource::Table(table), c))
        } else if let Some(view) = self.store.view(tname) {
            let (plan, vcols) = self.plan_view(&view)?;
            let c = scope_cols(label, &vcols);
            Ok((RelSource::Plan(plan), c))
        } else {
            let err = Error::no_such("table", tname);
            Err(match object_pos(name) {
                Some(p) => err.at(p),
                None => err,
            })
        }
    }

    /// A view's output columns, for `information_schema.columns`; `None`
    /// when the view no longer plans (it reads a table since dropped).
    fn view_columns(&mut self, name: &str) -> Option<Vec<OutCol>> {
        let view = self.store.view(name)?;
        self.plan_view(&view).ok().map(|(_, cols)| cols)
    }

    fn plan_view(&mut self, view: &cairn_storage::ViewDef) -> Result<(Plan, Vec<OutCol>)> {
        if self.view_depth >= VIEW_DEPTH_MAX {
            return Err(Error::Limit {
                what: "nesting of views".into(),
                max: VIEW_DEPTH_MAX as u64,
            });
        }
        let q = crate::parser::parse_query(&view.query_sql)?;
        let saved_scopes = std::mem::take(&mut self.bind.scopes);
        let saved_ctes = std::mem::take(&mut self.ctes);
        let saved_min = self.bind.min_level;
        self.view_depth += 1;
        let r = self.plan_query(&q);
        self.view_depth -= 1;
        self.bind.scopes = saved_scopes;
        self.ctes = saved_ctes;
        self.bind.min_level = saved_min;
        let (plan, mut cols) = r?;
        if !view.columns.is_empty() {
            if view.columns.len() != cols.len() {
                return Err(Error::plan(format!(
                    "view {} has {} columns but {} names",
                    view.name,
                    cols.len(),
                    view.columns.len()
                )));
            }
            for (c, n) in cols.iter_mut().zip(&view.columns) {
                c.name = n.clone();
            }
        }
        Ok((plan, cols))
    }
}

fn using_pair(
    cols: &[ScopeCol],
    offset: usize,
    width: usize,
    name: &str,
) -> Result<(usize, usize)> {
    let left = cols[..offset]
        .iter()
        .position(|c| !c.using_dup && c.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| Error::no_such("column", name))?;
    let right = (offset..offset + width)
        .find(|&i| cols[i].name.eq_ignore_ascii_case(name))
        .ok_or_else(|| Error::no_such("column", name))?;
    Ok((left, right))
}

/// `ORDER BY 2` / `GROUP BY 2`: a positive integer literal names an output column.
fn ordinal(e: &ast::Expr, n: usize) -> Result<Option<usize>> {
    if let ast::Expr::Value(v) = e {
        if let ast::Value::Number(s, _) = &v.value {
            // Only a number that fits in 32 bits is a column position
            // (SQLite's rule); a larger one is a constant expression.
            if let Ok(k) = s.parse::<i32>() {
                if k < 1 || k as usize > n {
                    return Err(Error::plan(format!(
                        "ORDER BY/GROUP BY term out of range - should be between 1 and {n}"
                    )));
                }
                return Ok(Some(k as usize - 1));
            }
        }
    }
    Ok(None)
}

/// Positions and expressions of the non-wildcard select items, counting
/// wildcard items as one position each (used only before expansion matters).
fn proj_exprs_with_pos(items: &[ast::SelectItem]) -> Vec<(usize, &ast::Expr)> {
    let mut out = Vec::new();
    let mut has_wild = false;
    for (p, item) in items.iter().enumerate() {
        match item {
            ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                if !has_wild {
                    out.push((p, e))
                }
            }
            _ => has_wild = true,
        }
    }
    out
}

/// How many times `name` appears in `text` as a word (case-insensitive):
/// an upper bound on how often a statement refers to a CTE.
fn word_count(text: &str, name: &str) -> usize {
    let name = name.to_ascii_lowercase();
    text.to_ascii_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| *w == name)
        .count()
}

fn references_table(e: &ast::SetExpr, name: &str) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|w| w == name)
}
