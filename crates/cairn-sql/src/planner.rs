//! The planner: turns a parsed query into a [`Plan`] against the catalog.
//! SELECT is planned in SQL's logical order: FROM (with join ordering and
//! pushed-down filters), WHERE, GROUP BY/aggregates, HAVING, window
//! functions, the select list, DISTINCT, ORDER BY, LIMIT.
//!
//! It owns the binding state ([`BindState`]: scopes, parameters, ids,
//! subquery plans) and hands every expression to a [`Binder`]; as the
//! binder's [`BindContext`] it plans the queries nested in expressions.
//! Access paths come from `access.rs`. `dml.rs` adds INSERT, UPDATE and
//! DELETE planning to [`Planner`].

use std::sync::Arc;

use cairn_core::{DataType, Error, Result};
use cairn_storage::{Store, Table};
use sqlparser::ast;

use crate::access::choose_access_implying;
use crate::ast_util::{contains_aggregate, is_desc, nulls_first, object_name, object_pos};
use crate::bind::{BindContext, BindState, Binder};
use crate::cost;
use crate::expr::{and_all, split_and, CmpOp, Expr};
use crate::plan::{Access, JoinKind, Plan, SetOpKind, SortKey};
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

fn expr_name(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(i) => i.value.clone(),
        ast::Expr::CompoundIdentifier(parts) => {
            parts.last().map(|p| p.value.clone()).unwrap_or_default()
        }
        other => other.to_string(),
    }
}

fn filter(plan: Plan, preds: Vec<Expr>) -> Plan {
    match and_all(preds) {
        Some(p) => Plan::Filter {
            input: Box::new(plan),
            predicate: p,
        },
        None => plan,
    }
}

/// The scope columns of a relation labelled `label` with output `cols`.
fn scope_cols(label: &str, cols: &[OutCol]) -> Vec<ScopeCol> {
    cols.iter()
        .map(|c| ScopeCol {
            table: Some(label.to_string()),
            name: c.name.clone(),
            data_type: c.data_type,
            using_dup: false,
        })
        .collect()
}

enum RelSource {
    Table { table: Arc<Table>, label: String },
    Plan(Plan),
}

struct Rel {
    source: RelSource,
    width: usize,
    offset: usize,
    /// Filters on this relation alone, in its own layout.
    local: Vec<Expr>,
    /// On the null-supplying side of a LEFT JOIN.
    nullable: bool,
}

struct BuiltRel {
    plan: Plan,
    est: f64,
    table: Option<(Arc<Table>, String)>,
    local: Vec<Expr>,
}

#[derive(Clone, Copy, PartialEq)]
enum JoinType {
    Cross,
    Inner,
    Left,
}

struct Conj {
    expr: Expr,
    mask: u128,
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
        let (defs, (plan, cols)) = self.with_ctes(q.with.as_ref(), |p| p.plan_query_body(q))?;
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
        with: Option<&ast::With>,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<(Vec<(usize, String, Plan)>, T)> {
        let n_ctes = self.ctes.len();
        let result = (|| {
            let mut defs = Vec::new();
            if let Some(with) = with {
                for cte in &with.cte_tables {
                    defs.push(self.plan_cte(cte, with.recursive)?);
                }
            }
            let out = f(self)?;
            Ok((defs, out))
        })();
        self.ctes.truncate(n_ctes);
        result
    }

    fn plan_cte(&mut self, cte: &ast::Cte, recursive: bool) -> Result<(usize, String, Plan)> {
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
        self.ctes.push(CteDef {
            name: name.clone(),
            id,
            cols,
            working: false,
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
        match e {
            ast::SetExpr::Select(s) => self.plan_select(s, &[], None, None),
            ast::SetExpr::Query(q) => self.plan_query(q),
            ast::SetExpr::Values(v) => self.plan_values(v),
            ast::SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => {
                let (l, lcols) = self.plan_set_expr(left)?;
                let (r, rcols) = self.plan_set_expr(right)?;
                if lcols.len() != rcols.len() {
                    return Err(Error::plan(format!(
                        "SELECTs to the left and right of {op} do not have the same number of result columns"
                    )));
                }
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
                    lcols,
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
        let r = self.plan_select_inner(s, order_by, limit, offset);
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
        // FROM + WHERE (pushes this level's scope).
        let mut plan = self.plan_from(&s.from, s.selection.as_ref())?;
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
        let is_agg = !group_exprs.is_empty()
            || s.having.is_some()
            || proj_exprs.iter().any(|e| contains_aggregate(e))
            || order_by.iter().any(|o| contains_aggregate(&o.expr));
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

        // Select list.
        self.bind.window_ok = true;
        let mut exprs = Vec::new();
        let mut cols = Vec::new();
        for item in &s.projection {
            match item {
                ast::SelectItem::UnnamedExpr(e) => {
                    let x = self.bind_expr(e)?;
                    cols.push(OutCol {
                        name: expr_name(e),
                        data_type: self.type_of(&x, is_agg),
                    });
                    exprs.push(x);
                }
                ast::SelectItem::ExprWithAlias { expr, alias } => {
                    let x = self.bind_expr(expr)?;
                    cols.push(OutCol {
                        name: alias.value.clone(),
                        data_type: self.type_of(&x, is_agg),
                    });
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
        let plain_rows = windows.is_empty() && scope.agg.is_none();
        let mut base_width = from_width;
        if let Some(agg) = scope.agg.take() {
            base_width = agg.group_exprs.len() + agg.aggs.len();
            plan = Plan::Aggregate {
                input: Box::new(plan),
                group_by: agg.group_exprs,
                aggs: agg.aggs,
            };
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
            plan = Plan::Window {
                input: Box::new(plan),
                calls: windows,
            };
        }
        if let Some(scope) = self.bind.scopes.pop() {
            prune_columns(&mut plan, &scope);
        }
        if distinct {
            if let Some(p) = loose_index_distinct(&plan, &exprs) {
                // Sorting the distinct values (if asked) is cheap.
                plan = p;
                if !keys.is_empty() {
                    plan = Plan::Sort {
                        input: Box::new(plan),
                        keys,
                    };
                }
                plan = self.plan_limit(plan, limit, offset)?;
                return Ok((plan, cols));
            }
            // DISTINCT compares projected rows, so sort after projecting
            // (hidden ORDER BY columns ride along and are stripped at the end).
            let total = exprs.len();
            plan = Plan::Project {
                input: Box::new(plan),
                exprs,
            };
            plan = Plan::Distinct {
                input: Box::new(plan),
                width: visible,
            };
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
        let mut keys: Vec<SortKey> = keys
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
        if !keys.is_empty() && plain_rows && order_by_index(&mut plan, &keys) {
            keys.clear();
        }
        let nearest = plain_rows
            && limit.is_some()
            && keys
                .first()
                .is_some_and(|k| is_distance(&k.expr) && !k.desc && !k.nulls_first);
        if !keys.is_empty() {
            plan = Plan::Sort {
                input: Box::new(plan),
                keys,
            };
        }
        plan = self.plan_limit(plan, limit, offset)?;
        if nearest {
            vector_topk(&mut plan);
        }
        plan = Plan::Project {
            input: Box::new(plan),
            exprs,
        };
        Ok((plan, cols))
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

    fn type_of(&self, x: &Expr, is_agg: bool) -> Option<DataType> {
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

    fn expand_wildcard(
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
        let mut rels: Vec<Rel> = Vec::new();
        let mut cols: Vec<ScopeCol> = Vec::new();
        let mut joins: Vec<(usize, JoinType, Vec<&ast::JoinConstraint>)> = Vec::new();
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
        let widths: Vec<(usize, usize)> = rels.iter().map(|r| (r.offset, r.width)).collect();
        let mask_of = |e: &Expr| -> u128 {
            let mut m = 0u128;
            for c in e.columns() {
                for (i, (o, w)) in widths.iter().enumerate() {
                    if c >= *o && c < o + w {
                        m |= 1u128 << i;
                    }
                }
            }
            m
        };
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
            if contains_aggregate(w) {
                return Err(Error::plan("aggregate functions are not allowed in WHERE"));
            }
            let x = self.bind_expr(w)?;
            split_and(x, &mut where_conds);
        }
        if rels.is_empty() {
            return Ok(filter(Plan::Single, where_conds));
        }
        let has_outer = joins.iter().any(|j| j.1 == JoinType::Left);
        if !has_outer {
            let mut all = where_conds;
            for c in join_conds {
                all.extend(c);
            }
            self.plan_inner_joins(rels, all, &mask_of)
        } else {
            self.plan_left_deep(
                rels,
                joins.iter().map(|j| j.1).collect(),
                join_conds,
                where_conds,
                &mask_of,
            )
        }
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
                if let Some(cte) = self
                    .ctes
                    .iter()
                    .rev()
                    .find(|c| c.name.eq_ignore_ascii_case(&tname))
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
                    let c = scope_cols(&label, &cte.cols);
                    (RelSource::Plan(plan), c, label, alias_cols)
                } else if let Some(table) = self.store.table(&tname) {
                    let schema = table.schema();
                    let c = schema
                        .columns
                        .iter()
                        .map(|c| ScopeCol {
                            table: Some(label.clone()),
                            name: c.name.clone(),
                            data_type: Some(c.data_type),
                            using_dup: false,
                        })
                        .collect();
                    (
                        RelSource::Table {
                            table,
                            label: label.clone(),
                        },
                        c,
                        label,
                        alias_cols,
                    )
                } else if let Some(view) = self.store.view(&tname) {
                    let (plan, vcols) = self.plan_view(&view)?;
                    let c = scope_cols(&label, &vcols);
                    (RelSource::Plan(plan), c, label, alias_cols)
                } else {
                    let err = Error::no_such("table", tname);
                    return Err(match object_pos(name) {
                        Some(p) => err.at(p),
                        None => err,
                    });
                }
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
            width,
            offset,
            local: Vec::new(),
            nullable: false,
        });
        Ok(())
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

    fn build_rel(&mut self, rel: Rel) -> BuiltRel {
        match rel.source {
            RelSource::Table { table, label } => {
                let (access, est, implied) = choose_access_implying(&table, &rel.local);
                // The index lookup guarantees its key equalities.
                let checks: Vec<Expr> = rel
                    .local
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !implied.contains(i))
                    .map(|(_, e)| e.clone())
                    .collect();
                let id = self.bind.next_id();
                if let Some(scope) = self.bind.scopes.last_mut() {
                    scope.table_scans.push((id, rel.offset, rel.width));
                }
                BuiltRel {
                    plan: Plan::Scan {
                        table: table.clone(),
                        label: label.clone(),
                        access,
                        filter: and_all(checks),
                        with_rowid: false,
                        id,
                        keep: None,
                    },
                    est,
                    table: Some((table, label)),
                    local: rel.local,
                }
            }
            RelSource::Plan(p) => {
                let est = cost::filtered_rows(cost::DERIVED_ROWS, rel.local.len());
                BuiltRel {
                    plan: filter(p, rel.local.clone()),
                    est,
                    table: None,
                    local: rel.local,
                }
            }
        }
    }

    /// Inner and comma joins: greedy ordering by estimated size, preferring
    /// relations connected by an equality, with hash or index joins.
    fn plan_inner_joins(
        &mut self,
        mut rels: Vec<Rel>,
        conds: Vec<Expr>,
        mask_of: &dyn Fn(&Expr) -> u128,
    ) -> Result<Plan> {
        let n = rels.len();
        let total: usize = rels.iter().map(|r| r.width).sum();
        let mut deferred = Vec::new();
        let mut constants = Vec::new();
        let mut pending: Vec<Conj> = Vec::new();
        for c in conds {
            if c.has_correlated_subquery() {
                deferred.push(c);
                continue;
            }
            let mask = mask_of(&c);
            if mask == 0 {
                constants.push(c);
            } else if mask.count_ones() == 1 {
                let r = mask.trailing_zeros() as usize;
                let off = rels[r].offset;
                let mut c = c;
                c.remap_columns(&|i| i - off);
                rels[r].local.push(c);
            } else {
                pending.push(Conj { expr: c, mask });
            }
        }
        let offsets: Vec<(usize, usize)> = rels.iter().map(|r| (r.offset, r.width)).collect();
        let mut built: Vec<Option<BuiltRel>> =
            rels.into_iter().map(|r| Some(self.build_rel(r))).collect();
        let first = (0..n)
            .min_by(|&a, &b| {
                let ea = built[a].as_ref().map_or(f64::MAX, |r| r.est);
                let eb = built[b].as_ref().map_or(f64::MAX, |r| r.est);
                ea.total_cmp(&eb)
            })
            .unwrap_or(0);
        let first_rel = built[first]
            .take()
            .ok_or_else(|| Error::internal("relation taken twice"))?;
        let mut est = first_rel.est;
        let mut plan = filter(first_rel.plan, constants);
        let mut joined: u128 = 1u128 << first;
        // pos[c] = position of canonical column c in the current row.
        let mut pos: Vec<usize> = vec![usize::MAX; total];
        let mut width = 0;
        let place = |pos: &mut Vec<usize>, width: &mut usize, r: usize| {
            let (o, w) = offsets[r];
            for (k, p) in pos.iter_mut().skip(o).take(w).enumerate() {
                *p = *width + k;
            }
            *width += w;
        };
        place(&mut pos, &mut width, first);
        while joined.count_ones() as usize != n {
            // Candidates connected by an equality to what is joined.
            let mut best: Option<(usize, f64, bool)> = None;
            for (c, b) in built.iter().enumerate() {
                let Some(b) = b else { continue };
                let connected = pending.iter().any(|p| {
                    p.mask & (1 << c) != 0
                        && (p.mask & !(1 << c)) & !joined == 0
                        && equi_sides(&p.expr, c, &offsets, mask_of).is_some()
                });
                let better = match best {
                    None => true,
                    Some((_, be, bc)) => (connected && !bc) || (connected == bc && b.est < be),
                };
                if better {
                    best = Some((c, b.est, connected));
                }
            }
            let Some((cand, cand_est, _)) = best else {
                return Err(Error::internal("join ordering found no candidate"));
            };
            let rel = built[cand]
                .take()
                .ok_or_else(|| Error::internal("relation taken twice"))?;
            let (co, _) = offsets[cand];
            // Split out the equalities usable as join keys.
            let mut left_keys = Vec::new();
            let mut right_keys = Vec::new();
            let mut rest = Vec::new();
            for p in std::mem::take(&mut pending) {
                let usable =
                    p.mask & (1u128 << cand) != 0 && (p.mask & !(1u128 << cand)) & !joined == 0;
                match (usable, equi_sides(&p.expr, cand, &offsets, mask_of)) {
                    (true, Some((mut l, mut r))) => {
                        l.remap_columns(&|i| pos[i]);
                        r.remap_columns(&|i| i - co);
                        left_keys.push(l);
                        right_keys.push(r);
                    }
                    _ => rest.push(p),
                }
            }
            pending = rest;
            let cand_rows = rel
                .table
                .as_ref()
                .map_or(cand_est, |(t, _)| t.row_count() as f64);
            let index_choice = match &rel.table {
                Some((t, _)) if !left_keys.is_empty() && cost::index_join_pays(est, cand_rows) => {
                    pick_join_index(t, &right_keys)
                }
                _ => None,
            };
            let left_width = width;
            plan = if let Some((index_no, order)) = index_choice {
                let (table, label) = rel
                    .table
                    .clone()
                    .ok_or_else(|| Error::internal("index join without table"))?;
                let mut keys = Vec::new();
                let mut residual = Vec::new();
                let mut used = vec![false; right_keys.len()];
                for k in &order {
                    keys.push(left_keys[*k].clone());
                    used[*k] = true;
                }
                for (k, u) in used.iter().enumerate() {
                    if !u {
                        let mut r = right_keys[k].clone();
                        r.remap_columns(&|i| i + left_width);
                        residual.push(Expr::Cmp(
                            CmpOp::Eq,
                            Box::new(left_keys[k].clone()),
                            Box::new(r),
                        ));
                    }
                }
                let id = match &rel.plan {
                    Plan::Scan { id, .. } => *id,
                    _ => 0,
                };
                Plan::IndexJoin {
                    left: Box::new(plan),
                    table,
                    label,
                    index_no,
                    keys,
                    filter: and_all(rel.local.clone()),
                    kind: JoinKind::Inner,
                    residual: and_all(residual),
                    id,
                    keep: None,
                }
            } else if !left_keys.is_empty() {
                Plan::HashJoin {
                    left: Box::new(plan),
                    right: Box::new(rel.plan),
                    kind: JoinKind::Inner,
                    left_keys: left_keys.clone(),
                    right_keys,
                    residual: None,
                }
            } else {
                Plan::NestedLoop {
                    left: Box::new(plan),
                    right: Box::new(rel.plan),
                    kind: JoinKind::Inner,
                    on: None,
                }
            };
            est = if left_keys.is_empty() {
                est * cand_est
            } else {
                est.max(cand_est)
            };
            joined |= 1u128 << cand;
            place(&mut pos, &mut width, cand);
            // Apply every remaining condition whose relations are all joined.
            let mut now = Vec::new();
            let mut later = Vec::new();
            for p in pending {
                if p.mask & !joined == 0 {
                    let mut e = p.expr;
                    e.remap_columns(&|i| pos[i]);
                    now.push(e);
                } else {
                    later.push(p);
                }
            }
            pending = later;
            plan = filter(plan, now);
        }
        if (0..total).any(|c| pos[c] != c) {
            plan = Plan::Project {
                input: Box::new(plan),
                exprs: (0..total).map(|c| Expr::Column(pos[c])).collect(),
            };
        }
        let leftover: Vec<Expr> = pending.into_iter().map(|p| p.expr).collect();
        plan = filter(plan, leftover);
        Ok(filter(plan, deferred))
    }

    /// Plans with outer joins: left-deep in FROM order, so the row layout is
    /// always the FROM layout's prefix.
    fn plan_left_deep(
        &mut self,
        mut rels: Vec<Rel>,
        kinds: Vec<JoinType>,
        join_conds: Vec<Vec<Expr>>,
        where_conds: Vec<Expr>,
        mask_of: &dyn Fn(&Expr) -> u128,
    ) -> Result<Plan> {
        let n = rels.len();
        for (i, k) in kinds.iter().enumerate() {
            if *k == JoinType::Left {
                // Everything joined after the null-supplying side may see NULLs too.
                rels[i].nullable = true;
            }
        }
        let mut deferred = Vec::new();
        for c in where_conds {
            let mask = mask_of(&c);
            if !c.has_correlated_subquery()
                && mask.count_ones() == 1
                && !rels[mask.trailing_zeros() as usize].nullable
            {
                let r = mask.trailing_zeros() as usize;
                let off = rels[r].offset;
                let mut c = c;
                c.remap_columns(&|i| i - off);
                rels[r].local.push(c);
            } else {
                deferred.push(c);
            }
        }
        // ON conditions of a LEFT JOIN that touch only its right side filter
        // that side before the join.
        let mut on_rest: Vec<Vec<Expr>> = vec![Vec::new(); n];
        for (i, conds) in join_conds.into_iter().enumerate() {
            for c in conds {
                let mask = mask_of(&c);
                if !c.has_correlated_subquery() && mask == 1u128 << i {
                    let off = rels[i].offset;
                    let mut c = c;
                    c.remap_columns(&|x| x - off);
                    rels[i].local.push(c);
                } else {
                    on_rest[i].push(c);
                }
            }
        }
        let offsets: Vec<(usize, usize)> = rels.iter().map(|r| (r.offset, r.width)).collect();
        let mut built: Vec<BuiltRel> = rels.into_iter().map(|r| self.build_rel(r)).collect();
        let mut plan = std::mem::replace(&mut built[0].plan, Plan::Single);
        let mut pending_inner: Vec<Expr> = on_rest[0].drain(..).collect();
        for i in 1..n {
            let right = std::mem::replace(&mut built[i].plan, Plan::Single);
            let (ro, _) = offsets[i];
            let kind = if kinds[i] == JoinType::Left {
                JoinKind::Left
            } else {
                JoinKind::Inner
            };
            let mut conds: Vec<Expr> = std::mem::take(&mut on_rest[i]);
            if kind == JoinKind::Inner {
                // Inner conditions may be applied as soon as their tables are joined.
                let joined_mask: u128 = (1u128 << (i + 1)) - 1;
                let (now, later): (Vec<Expr>, Vec<Expr>) = pending_inner
                    .drain(..)
                    .partition(|c| mask_of(c) & !joined_mask == 0 && !c.has_correlated_subquery());
                pending_inner = later;
                conds.extend(now);
            }
            let mut lk = Vec::new();
            let mut rk = Vec::new();
            let mut residual = Vec::new();
            for c in conds {
                if c.has_correlated_subquery() {
                    if kind == JoinKind::Inner {
                        deferred.push(c);
                    } else {
                        residual.push(c);
                    }
                    continue;
                }
                match equi_sides(&c, i, &offsets, mask_of) {
                    Some((l, mut r)) if mask_of(&l) & !((1u128 << i) - 1) == 0 => {
                        r.remap_columns(&|x| x - ro);
                        lk.push(l);
                        rk.push(r);
                    }
                    _ => residual.push(c),
                }
            }
            plan = if !lk.is_empty() {
                Plan::HashJoin {
                    left: Box::new(plan),
                    right: Box::new(right),
                    kind,
                    left_keys: lk,
                    right_keys: rk,
                    residual: and_all(residual),
                }
            } else {
                Plan::NestedLoop {
                    left: Box::new(plan),
                    right: Box::new(right),
                    kind,
                    on: and_all(residual),
                }
            };
        }
        plan = filter(plan, pending_inner);
        Ok(filter(plan, deferred))
    }
}

/// For `a = b` where one side reads only relation `cand` and the other only
/// other relations, returns (other side, cand side) in the FROM layout.
fn equi_sides(
    e: &Expr,
    cand: usize,
    _offsets: &[(usize, usize)],
    mask_of: &dyn Fn(&Expr) -> u128,
) -> Option<(Expr, Expr)> {
    let Expr::Cmp(CmpOp::Eq, a, b) = e else {
        return None;
    };
    let (ma, mb) = (mask_of(a), mask_of(b));
    let bit = 1u128 << cand;
    if mb == bit && ma != 0 && ma & bit == 0 {
        Some(((**a).clone(), (**b).clone()))
    } else if ma == bit && mb != 0 && mb & bit == 0 {
        Some(((**b).clone(), (**a).clone()))
    } else {
        None
    }
}

/// `SELECT DISTINCT col FROM t` (no filter, nothing else selected, `col`
/// the first column of an index) reads the index's distinct values instead
/// of every row.
fn loose_index_distinct(input: &Plan, exprs: &[Expr]) -> Option<Plan> {
    let [Expr::Column(c)] = exprs else {
        return None;
    };
    let Plan::Scan {
        table,
        label,
        access: Access::Full,
        filter: None,
        with_rowid: false,
        ..
    } = input
    else {
        return None;
    };
    let index_no = table
        .indexes()
        .iter()
        .position(|ix| ix.columns.first() == Some(c))?;
    Some(Plan::IndexDistinct {
        table: table.clone(),
        label: label.clone(),
        index_no,
    })
}

/// Tells this level's table scans which of their columns the query reads,
/// so unread columns (often long text) are never copied.
fn prune_columns(plan: &mut Plan, scope: &Scope) {
    let keep_of = |id: usize| -> Option<Arc<[bool]>> {
        let &(_, offset, width) = scope.table_scans.iter().find(|t| t.0 == id)?;
        let keep: Vec<bool> = (offset..offset + width)
            .map(|c| scope.used.get(c).copied().unwrap_or(true))
            .collect();
        if keep.iter().all(|k| *k) {
            None
        } else {
            Some(keep.into())
        }
    };
    plan.visit_mut(&mut |p| match p {
        Plan::Scan { id, keep, .. } | Plan::IndexJoin { id, keep, .. } if *id != 0 => {
            *keep = keep_of(*id)
        }
        _ => {}
    });
}

/// `Limit(Sort(scan of one table))` where the first sort key is a vector
/// distance between an HNSW-indexed column and a constant: the scan becomes
/// a k-nearest-neighbour search through the index (the sort above stays, to
/// order the k rows and break ties exactly as without the index). Left
/// alone when a B-tree index already narrows the scan (filter first: exact
/// distances over the qualifying rows).
fn vector_topk(plan: &mut Plan) {
    let Plan::Limit {
        input,
        limit: Some(limit),
        offset,
    } = plan
    else {
        return;
    };
    let Plan::Sort { input: scan, keys } = &mut **input else {
        return;
    };
    let Some(Expr::Func(f, args)) = keys.first().map(|k| &k.expr) else {
        return;
    };
    let Plan::Scan {
        table,
        access,
        filter,
        with_rowid: false,
        ..
    } = &mut **scan
    else {
        return;
    };
    let exact = match access {
        Access::Full => None,
        Access::IndexEq { .. } | Access::IndexIn { .. } | Access::IndexRange { .. } => {
            Some(Box::new(access.clone()))
        }
        _ => return,
    };
    let (col, query) = match &args[..] {
        [Expr::Column(c), q] | [q, Expr::Column(c)] if is_query_constant(q) => (*c, q.clone()),
        _ => return,
    };
    let Some(kind) = distance_kind_of(f.name) else {
        return;
    };
    let Some(index_no) = table
        .vector_indexes()
        .iter()
        .position(|d| d.column == col && d.distance_kind() == kind)
    else {
        return;
    };
    let k = match offset {
        Some(o) => Expr::Arith(
            cairn_core::ops::ArithOp::Add,
            Box::new(limit.clone()),
            Box::new(o.clone()),
        ),
        None => limit.clone(),
    };
    // The graph walk tests the whole predicate, including the part the
    // B-tree access stands for (the planner may have dropped it from the
    // filter as implied).
    if let Some(a) = &exact {
        let Some(pred) = access_predicate(table, a) else {
            return;
        };
        *filter = Some(match filter.take() {
            Some(f) => Expr::And(Box::new(pred), Box::new(f)),
            None => pred,
        });
    }
    *access = Access::Vector {
        index_no,
        query,
        k,
        exact,
    };
}

/// The predicate a B-tree access selects by, as an expression over the
/// table's row.
fn access_predicate(table: &Arc<Table>, access: &Access) -> Option<Expr> {
    let indexes = table.indexes();
    let col = |index_no: &usize, i: usize| -> Option<Expr> {
        Some(Expr::Column(*indexes.get(*index_no)?.columns.get(i)?))
    };
    let and = |a: Option<Expr>, b: Expr| match a {
        Some(a) => Expr::And(Box::new(a), Box::new(b)),
        None => b,
    };
    match access {
        Access::IndexEq { index_no, key, .. } => {
            let mut pred = None;
            for (i, k) in key.iter().enumerate() {
                let eq = Expr::Cmp(CmpOp::Eq, Box::new(col(index_no, i)?), Box::new(k.clone()));
                pred = Some(and(pred, eq));
            }
            pred
        }
        Access::IndexIn { index_no, keys } => Some(Expr::InList {
            expr: Box::new(col(index_no, 0)?),
            list: keys.clone(),
            negated: false,
        }),
        Access::IndexRange {
            index_no,
            low,
            high,
            ..
        } => {
            let mut pred = None;
            if let Some((e, inclusive)) = low {
                let op = if *inclusive { CmpOp::GtEq } else { CmpOp::Gt };
                pred = Some(Expr::Cmp(
                    op,
                    Box::new(col(index_no, 0)?),
                    Box::new(e.clone()),
                ));
            }
            if let Some((e, inclusive)) = high {
                let op = if *inclusive { CmpOp::LtEq } else { CmpOp::Lt };
                let c = Expr::Cmp(op, Box::new(col(index_no, 0)?), Box::new(e.clone()));
                pred = Some(and(pred, c));
            }
            pred
        }
        _ => None,
    }
}

/// The SQL distance a distance function computes.
fn distance_kind_of(name: &str) -> Option<cairn_core::vector::DistanceKind> {
    use cairn_core::vector::DistanceKind as D;
    Some(match name {
        "vec_distance_l2" | "l2_distance" => D::L2,
        "vec_distance_cosine" | "cosine_distance" => D::Cosine,
        "vec_distance_ip" | "negative_inner_product" => D::NegativeDot,
        _ => return None,
    })
}

/// A query vector the search can evaluate once: literals, parameters, and
/// deterministic functions and casts of them.
fn is_query_constant(e: &Expr) -> bool {
    match e {
        Expr::Literal(_) | Expr::Param(_) => true,
        Expr::Cast(x, _) => is_query_constant(x),
        Expr::Func(f, args) => f.deterministic && args.iter().all(is_query_constant),
        _ => false,
    }
}

/// Makes the scan under `input` (filters over one table scan; `keys` are
/// expressions over its rows) deliver rows in `keys` order by reading an index in key order, so
/// no sort is needed and a LIMIT can stop the scan early. Returns whether it
/// did. Index order puts NULLs first, so only ASC NULLS FIRST and DESC NULLS
/// LAST keys (the defaults) qualify.
fn order_by_index(input: &mut Plan, keys: &[SortKey]) -> bool {
    let mut cols = Vec::with_capacity(keys.len());
    for k in keys {
        let Expr::Column(c) = k.expr else {
            return false;
        };
        if k.nulls_first == k.desc {
            return false;
        }
        cols.push(c);
    }
    let desc = keys[0].desc;
    if keys.iter().any(|k| k.desc != desc) {
        return false;
    }
    let mut node: &mut Plan = input;
    loop {
        match node {
            Plan::Filter { input, .. } => node = input,
            Plan::Scan {
                table,
                access,
                with_rowid: false,
                ..
            } => {
                let indexes = table.indexes();
                // Key columns fixed by an equality prefix are constant.
                let (fixed, index_no): (usize, Option<usize>) = match access {
                    Access::IndexEq { index_no, key, .. } => (key.len(), Some(*index_no)),
                    Access::IndexRange { index_no, .. } => (0, Some(*index_no)),
                    Access::Full => (0, None),
                    _ => return false,
                };
                let fits = |ix: &cairn_storage::IndexDef| {
                    let rest: Vec<usize> = cols
                        .iter()
                        .copied()
                        .filter(|c| !ix.columns[..fixed.min(ix.columns.len())].contains(c))
                        .collect();
                    ix.columns.get(fixed..fixed + rest.len()) == Some(&rest[..])
                };
                match (&mut *access, index_no) {
                    (Access::Full, _) => match indexes.iter().position(&fits) {
                        Some(i) => {
                            *access = Access::IndexOrder {
                                index_no: i,
                                reverse: desc,
                            };
                            return true;
                        }
                        None => return false,
                    },
                    (
                        Access::IndexEq { reverse, .. } | Access::IndexRange { reverse, .. },
                        Some(i),
                    ) => {
                        if indexes.get(i).is_some_and(fits) {
                            *reverse = desc;
                            return true;
                        }
                        return false;
                    }
                    _ => return false,
                }
            }
            _ => return false,
        }
    }
}

/// An index of `table` whose leading columns are all plain-column join keys;
/// returns the index and, per index column used, which key feeds it.
fn pick_join_index(table: &Arc<Table>, right_keys: &[Expr]) -> Option<(usize, Vec<usize>)> {
    let mut best: Option<(usize, Vec<usize>, bool)> = None;
    for (i, idx) in table.indexes().iter().enumerate() {
        let mut order = Vec::new();
        for c in &idx.columns {
            match right_keys
                .iter()
                .position(|k| matches!(k, Expr::Column(x) if x == c))
            {
                Some(k) => order.push(k),
                None => break,
            }
        }
        if order.is_empty() {
            continue;
        }
        let full_unique = idx.unique && order.len() == idx.columns.len();
        let better = match &best {
            None => true,
            Some((_, o, u)) => (full_unique && !u) || (full_unique == *u && order.len() > o.len()),
        };
        if better {
            best = Some((i, order, full_unique));
        }
    }
    best.map(|(i, o, _)| (i, o))
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
            if let Ok(k) = s.parse::<i64>() {
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

fn references_table(e: &ast::SetExpr, name: &str) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|w| w == name)
}
