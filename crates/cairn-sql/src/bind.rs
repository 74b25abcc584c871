//! Expression binding: sqlparser AST expressions → [`Expr`], resolving names
//! through the scope stack (outer scopes make a subquery correlated),
//! aggregates and window calls into their operators' outputs, and
//! subqueries into [`SubqueryRef`]s whose plans join the statement's
//! [`Subqueries`] (a correlated scalar aggregate subquery is decorrelated
//! into a grouped lookup on the way).
//!
//! A [`Binder`] works for the planner without depending on it: what it
//! reads and writes is the [`BindState`] the planner owns, and the one
//! thing it asks of the planner, to plan a query nested in an expression,
//! goes through [`BindContext`], which the planner implements. So the
//! planner depends on this module and not the other way round.

use std::sync::Arc;

use cairn_core::ops::{ArithOp, BitOp};
use cairn_core::{DataType, Error, Result, Value};
use sqlparser::ast::{self, BinaryOperator as B, UnaryOperator as U};

use crate::affinity::{self, Affinity};
use crate::ast_util::{aggregate_func, func_args, func_name, is_desc, nulls_first, span_pos};
use crate::expr::{CmpOp, Expr, SubqueryRef};
use crate::plan::{
    AggCall, AggFunc, Frame, Plan, SortKey, Subqueries, SubqueryPlan, WinFunc, WindowCall,
};
use crate::rules::{decorrelate, Trace};
use crate::scope::{Lookup, OutCol, Scope};

/// What binding reads and writes while one statement is planned. The
/// planner owns it and pushes and pops the scopes; a [`Binder`] resolves
/// names through them.
pub struct BindState {
    /// One scope per query level, the innermost last.
    pub scopes: Vec<Scope>,
    /// Lowest scope level any name resolved to (correlation tracking).
    pub min_level: usize,
    /// Last id handed out to a subquery, CTE or scan (unique within the
    /// statement; 0 is never used).
    last_id: usize,
    /// Index the next `?` parameter gets (0-based).
    pub next_positional: usize,
    /// Parameters the statement takes (the highest `$n` or `?` seen).
    pub param_count: usize,
    /// Window functions are allowed only in the select list and ORDER BY.
    pub window_ok: bool,
    /// Plans of the subqueries bound so far, by id.
    pub subqueries: Subqueries,
    /// The rules that fired so far.
    pub trace: Trace,
    /// The affinity of each scalar subquery's column, by subquery id.
    pub sub_affinity: std::collections::HashMap<usize, Affinity>,
    /// Which columns of each CTE its references read, and how many of its
    /// references are not yet accounted for, by CTE id (see
    /// `prune_columns`).
    pub cte_used: std::collections::HashMap<usize, (Vec<bool>, usize)>,
    /// CTEs whose one reference reads their table directly (not
    /// materialized), by CTE id.
    pub flattened_ctes: std::collections::HashSet<usize>,
    /// The affinity of each parameter, by 0-based index (a trigger's
    /// `NEW.c`/`OLD.c` carry their column's); others have none.
    pub param_affinity: Vec<Affinity>,
    /// Set when a subquery found an aggregate of an enclosing query level
    /// that was not planned as an aggregate query: that level's planning
    /// starts over as one (see `Planner::plan_select`).
    pub outer_aggregate: Option<usize>,
    /// The FROM being planned feeds a LIMIT with no ORDER BY: its first
    /// rows matter more than the total cost (joins prefer index lookups).
    pub first_rows: bool,
}

impl BindState {
    pub fn new() -> BindState {
        BindState {
            scopes: Vec::new(),
            min_level: usize::MAX,
            last_id: 0,
            next_positional: 0,
            param_count: 0,
            window_ok: false,
            subqueries: Subqueries::default(),
            trace: Trace::default(),
            sub_affinity: std::collections::HashMap::new(),
            cte_used: std::collections::HashMap::new(),
            first_rows: false,
            param_affinity: Vec::new(),
            outer_aggregate: None,
            flattened_ctes: std::collections::HashSet::new(),
        }
    }

    /// What planning one query level changes here besides scopes, ids and
    /// subquery plans (which a second attempt may leave behind unused).
    pub fn save(&self) -> SavedBind {
        SavedBind {
            min_level: self.min_level,
            next_positional: self.next_positional,
            param_count: self.param_count,
            trace: self.trace.clone(),
            cte_used: self.cte_used.clone(),
            flattened_ctes: self.flattened_ctes.clone(),
            param_affinity: self.param_affinity.clone(),
            first_rows: self.first_rows,
        }
    }

    /// Goes back to `saved`, to plan a query level again.
    pub fn restore(&mut self, saved: SavedBind) {
        self.min_level = saved.min_level;
        self.next_positional = saved.next_positional;
        self.param_count = saved.param_count;
        self.trace = saved.trace;
        self.cte_used = saved.cte_used;
        self.flattened_ctes = saved.flattened_ctes;
        self.param_affinity = saved.param_affinity;
        self.first_rows = saved.first_rows;
        self.outer_aggregate = None;
    }

    /// A fresh id for a subquery, CTE or scan.
    pub fn next_id(&mut self) -> usize {
        self.last_id += 1;
        self.last_id
    }
}

/// [`BindState::save`]'s copy.
pub struct SavedBind {
    min_level: usize,
    next_positional: usize,
    param_count: usize,
    trace: Trace,
    cte_used: std::collections::HashMap<usize, (Vec<bool>, usize)>,
    flattened_ctes: std::collections::HashSet<usize>,
    param_affinity: Vec<Affinity>,
    first_rows: bool,
}

/// What a [`Binder`] needs from the planner that drives it.
pub trait BindContext {
    fn state(&self) -> &BindState;
    fn state_mut(&mut self) -> &mut BindState;
    /// Plans a query nested in an expression, as a child of the current
    /// scopes (its names may resolve to theirs: then it is correlated).
    fn plan_query(&mut self, q: &ast::Query) -> Result<(Plan, Vec<OutCol>)>;
}

/// Binds expressions in the scopes of a [`BindContext`].
pub struct Binder<'c> {
    cx: &'c mut dyn BindContext,
}

fn window_only_func(name: &str) -> Option<WinFunc> {
    Some(match name {
        "row_number" => WinFunc::RowNumber,
        "rank" => WinFunc::Rank,
        "dense_rank" => WinFunc::DenseRank,
        "percent_rank" => WinFunc::PercentRank,
        "cume_dist" => WinFunc::CumeDist,
        "ntile" => WinFunc::Ntile,
        "lag" => WinFunc::Lag,
        "lead" => WinFunc::Lead,
        "first_value" => WinFunc::FirstValue,
        "last_value" => WinFunc::LastValue,
        "nth_value" => WinFunc::NthValue,
        _ => return None,
    })
}

fn parse_number(s: &str) -> Result<Value> {
    if let Ok(i) = s.parse::<i64>() {
        return Ok(Value::Integer(i));
    }
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Ok(Value::Integer(i));
        }
    }
    s.parse::<f64>()
        .map(Value::Real)
        .map_err(|_| Error::Syntax {
            message: format!("malformed number {s}"),
            position: None,
        })
}

/// The affinity of a bound expression (see [`crate::affinity`]): a column's
/// is its declared type's (in an aggregate query, a grouping key's is its
/// expression's), a CAST's its target type's, a scalar subquery's its
/// column's; every other expression has none.
pub fn affinity_of(st: &BindState, e: &Expr) -> Affinity {
    let top = st.scopes.len();
    let (level, index) = match e {
        Expr::Column(i) => (top.checked_sub(1), *i),
        Expr::Outer { depth, index } => (top.checked_sub(1 + depth), *index),
        Expr::Cast(_, t) => return Affinity::of_type(*t),
        Expr::ScalarSubquery(sub) | Expr::GroupedSubquery(sub) => {
            return st
                .sub_affinity
                .get(&sub.id)
                .copied()
                .unwrap_or(Affinity::None)
        }
        Expr::Affinity(inner, _) => return affinity_of(st, inner),
        Expr::Param(i) => return st.param_affinity.get(*i).copied().unwrap_or(Affinity::None),
        _ => return Affinity::None,
    };
    let Some(scope) = level.and_then(|l| st.scopes.get(l)) else {
        return Affinity::None;
    };
    match scope.agg.as_ref().filter(|a| a.active) {
        // The aggregate output row: grouping keys, then aggregates (whose
        // results have no affinity, but a bare column keeps its column's).
        // Keys and arguments were bound in the FROM scope of the same
        // level, whose columns they name by position.
        Some(agg) => {
            let e = match agg.group_exprs.get(index) {
                Some(e) => Some(e),
                None => agg
                    .aggs
                    .get(index - agg.group_exprs.len())
                    .filter(|a| a.func == AggFunc::Bare)
                    .and_then(|a| a.args.first()),
            };
            match e {
                Some(Expr::Column(c)) => scope.cols.get(*c).map_or(Affinity::None, |c| c.affinity),
                Some(Expr::Cast(_, t)) => Affinity::of_type(*t),
                _ => Affinity::None,
            }
        }
        None => scope.cols.get(index).map_or(Affinity::None, |c| c.affinity),
    }
}

/// `e` (whose own affinity is `own`) as an operand of a comparison that
/// applies `aff`: a constant is converted now; an expression that already
/// holds values of that affinity is left alone.
fn convert(e: Expr, own: Affinity, aff: Affinity) -> Expr {
    if own == aff {
        return e;
    }
    match e {
        Expr::Literal(v) => Expr::Literal(crate::affinity::apply(v, aff)),
        e => Expr::Affinity(Box::new(e), aff),
    }
}

fn convert_opt(e: Expr, own: Affinity, aff: Option<Affinity>) -> Expr {
    match aff {
        Some(a) => convert(e, own, a),
        None => e,
    }
}

/// What storage classes an expression's values may have (SQLite's
/// `sqlite3ExprDataType`): [`affinity::NUMERIC`] | [`affinity::TEXT`] | [`affinity::BLOB`], 0 when it is
/// always NULL. `aff` gives an operand's affinity.
pub fn datatypes(e: &Expr, aff: &dyn Fn(&Expr) -> Affinity) -> u8 {
    match e {
        Expr::Literal(Value::Null) => 0,
        Expr::Literal(Value::Text(_)) => affinity::TEXT,
        Expr::Literal(Value::Blob(_)) => affinity::BLOB,
        Expr::Concat(..) => affinity::TEXT | affinity::BLOB,
        Expr::Param(_)
        | Expr::Func(..)
        | Expr::Engine(..)
        | Expr::Coalesce(_)
        | Expr::JsonGet { .. }
        | Expr::WindowRef(_) => affinity::NUMERIC | affinity::TEXT | affinity::BLOB,
        Expr::Column(_)
        | Expr::Outer { .. }
        | Expr::Cast(..)
        | Expr::ScalarSubquery(_)
        | Expr::GroupedSubquery(_) => match aff(e) {
            Affinity::Numeric | Affinity::Timestamp => affinity::NUMERIC | affinity::BLOB,
            Affinity::Text => affinity::TEXT | affinity::BLOB,
            Affinity::None | Affinity::Blob => affinity::NUMERIC | affinity::TEXT | affinity::BLOB,
        },
        Expr::Affinity(inner, _) => datatypes(inner, aff),
        Expr::Case {
            whens, otherwise, ..
        } => {
            let mut m = whens.iter().fold(0, |m, (_, r)| m | datatypes(r, aff));
            if let Some(o) = otherwise {
                m |= datatypes(o, aff);
            }
            m
        }
        _ => affinity::NUMERIC,
    }
}

pub fn sql_type(dt: &ast::DataType) -> Result<DataType> {
    DataType::parse_declared(&dt.to_string())
}

impl<'c> Binder<'c> {
    pub fn new(cx: &'c mut dyn BindContext) -> Binder<'c> {
        Binder { cx }
    }

    fn state(&self) -> &BindState {
        self.cx.state()
    }

    fn state_mut(&mut self) -> &mut BindState {
        self.cx.state_mut()
    }

    fn ident_text(&self, i: &ast::Ident) -> String {
        i.value.clone()
    }

    /// Resolves a (possibly qualified) column name through the scope stack.
    pub fn resolve(&mut self, parts: &[ast::Ident]) -> Result<Expr> {
        let (table, name) = match parts {
            [c] => (None, self.ident_text(c)),
            [t, c] => (Some(self.ident_text(t)), self.ident_text(c)),
            [_, t, c] => (Some(self.ident_text(t)), self.ident_text(c)),
            _ => {
                return Err(Error::plan(format!(
                    "unsupported column reference {}",
                    parts
                        .iter()
                        .map(|p| p.value.as_str())
                        .collect::<Vec<_>>()
                        .join(".")
                )))
            }
        };
        let top = self.state().scopes.len();
        for level in (0..top).rev() {
            let found = self.state().scopes[level].lookup(table.as_deref(), &name);
            match found {
                Lookup::Ambiguous => {
                    return Err(Error::AmbiguousColumn {
                        name,
                        position: span_pos(parts),
                    })
                }
                Lookup::Missing => continue,
                Lookup::Found(c) => {
                    let st = self.state_mut();
                    st.min_level = st.min_level.min(level);
                    st.scopes[level].mark_used(c);
                    let index = self.map_through_agg(level, c);
                    return Ok(if level + 1 == top {
                        Expr::Column(index)
                    } else {
                        Expr::Outer {
                            depth: top - level - 1,
                            index,
                        }
                    });
                }
            }
        }
        let full = match &table {
            Some(t) => format!("{t}.{name}"),
            None => name,
        };
        let err = Error::no_such("column", full);
        Err(match span_pos(parts) {
            Some(p) => err.at(p),
            None => err,
        })
    }

    /// Maps FROM-layout column `c` of scope `level` to the layout expressions
    /// see at that level now (the aggregate output when aggregation is active).
    fn map_through_agg(&mut self, level: usize, c: usize) -> usize {
        let scope = &mut self.state_mut().scopes[level];
        let Some(agg) = scope.agg.as_mut().filter(|a| a.active) else {
            return c;
        };
        if let Some(k) = agg
            .group_exprs
            .iter()
            .position(|g| matches!(g, Expr::Column(x) if *x == c))
        {
            return k;
        }
        let text = format!("any_value(#{c})");
        if let Some(j) = agg.agg_texts.iter().position(|t| *t == text) {
            return agg.group_exprs.len() + j;
        }
        agg.aggs.push(AggCall {
            func: AggFunc::Bare,
            args: vec![Expr::Column(c)],
            distinct: false,
            filter: None,
        });
        agg.agg_texts.push(text);
        agg.group_exprs.len() + agg.aggs.len() - 1
    }

    fn agg_active(&self) -> bool {
        self.state()
            .scopes
            .last()
            .and_then(|s| s.agg.as_ref())
            .is_some_and(|a| a.active)
    }

    fn set_agg_active(&mut self, on: bool) {
        let scope = self.state_mut().scopes.last_mut();
        if let Some(a) = scope.and_then(|s| s.agg.as_mut()) {
            a.active = on;
        }
    }

    pub fn bind_expr(&mut self, e: &ast::Expr) -> Result<Expr> {
        use ast::Expr as E;
        if let Some(k) = self.group_key_position(e) {
            return Ok(Expr::Column(k));
        }
        Ok(match e {
            E::Identifier(i) => {
                // Double-quoted strings that name no column are string
                // literals, as in SQLite.
                match self.resolve(std::slice::from_ref(i)) {
                    Err(Error::NoSuchObject { .. }) if i.quote_style == Some('"') => {
                        Expr::Literal(Value::text(&i.value))
                    }
                    other => other?,
                }
            }
            E::CompoundIdentifier(parts) => self.resolve(parts)?,
            E::Value(v) => match &v.value {
                ast::Value::Placeholder(p) => Expr::Param(self.bind_placeholder(p)?),
                other => Expr::Literal(self.bind_value(other)?),
            },
            E::Nested(inner) => self.bind_expr(inner)?,
            E::UnaryOp { op, expr } => self.bind_unary(op, expr)?,
            E::BinaryOp { left, op, right } => self.bind_binary(left, op, right)?,
            E::IsNull(x) => Expr::IsNull(Box::new(self.bind_expr(x)?), false),
            E::IsNotNull(x) => Expr::IsNull(Box::new(self.bind_expr(x)?), true),
            E::IsTrue(x) => self.is_bool(x, true, false)?,
            E::IsNotTrue(x) => self.is_bool(x, true, true)?,
            E::IsFalse(x) => self.is_bool(x, false, false)?,
            E::IsNotFalse(x) => self.is_bool(x, false, true)?,
            E::IsUnknown(x) => Expr::IsNull(Box::new(self.bind_expr(x)?), false),
            E::IsNotUnknown(x) => Expr::IsNull(Box::new(self.bind_expr(x)?), true),
            E::IsDistinctFrom(a, b) => self.is_distinct(a, b, false)?,
            E::IsNotDistinctFrom(a, b) => self.is_distinct(a, b, true)?,
            E::InList {
                expr,
                list,
                negated,
            } => self.bind_in_list(expr, list, *negated)?,
            E::InSubquery {
                expr,
                subquery,
                negated,
            } => self.bind_in_subquery(expr, subquery, *negated)?,
            E::Exists { subquery, negated } => Expr::Exists {
                sub: self.bind_subquery(subquery, None)?,
                negated: *negated,
            },
            E::Subquery(q) => self.bind_scalar_subquery(q)?,
            E::Between {
                expr,
                negated,
                low,
                high,
            } => self.bind_between(expr, low, high, *negated)?,
            E::Like {
                negated,
                expr,
                pattern,
                escape_char,
                any,
            }
            | E::ILike {
                negated,
                expr,
                pattern,
                escape_char,
                any,
            } => self.bind_like(expr, pattern, escape_char.as_deref(), *negated, *any)?,
            E::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.bind_case(operand.as_deref(), conditions, else_result.as_deref())?,
            E::Cast {
                expr, data_type, ..
            } => Expr::Cast(Box::new(self.bind_expr(expr)?), sql_type(data_type)?),
            E::TypedString(ts) => {
                let lit = self.bind_value(&ts.value.value)?;
                Expr::Literal(lit.cast(sql_type(&ts.data_type)?)?)
            }
            E::Function(f) => self.bind_function(f)?,
            E::Substring { .. }
            | E::Trim { .. }
            | E::Ceil { .. }
            | E::Floor { .. }
            | E::Position { .. } => self.bind_call_syntax(e)?,
            E::Collate { expr, .. } => self.bind_expr(expr)?,
            E::Tuple(items) if items.len() == 1 => self.bind_expr(&items[0])?,
            other => return Err(Error::unsupported(format!("expression {other}"))),
        })
    }

    /// In an aggregate query, the output column of the GROUP BY key that is
    /// written as `e`.
    fn group_key_position(&self, e: &ast::Expr) -> Option<usize> {
        if !self.agg_active() {
            return None;
        }
        let text = e.to_string();
        let agg = self.state().scopes.last()?.agg.as_ref()?;
        agg.group_texts.iter().position(|t| *t == text)
    }

    /// `-x`, `+x`, `NOT x`, `~x`; a negative number literal stays a literal.
    fn bind_unary(&mut self, op: &U, expr: &ast::Expr) -> Result<Expr> {
        // -9223372036854775808 is i64::MIN, an INTEGER, although its
        // digits alone do not fit (SQLite's special case).
        if let (U::Minus, ast::Expr::Value(v)) = (op, expr) {
            if matches!(&v.value, ast::Value::Number(s, _) if s == "9223372036854775808") {
                return Ok(Expr::Literal(Value::Integer(i64::MIN)));
            }
        }
        let x = self.bind_expr(expr)?;
        Ok(match op {
            U::Minus => match x {
                Expr::Literal(Value::Integer(i)) if i != i64::MIN => {
                    Expr::Literal(Value::Integer(-i))
                }
                Expr::Literal(Value::Real(f)) => Expr::Literal(Value::Real(-f)),
                x => Expr::Neg(Box::new(x)),
            },
            U::Plus => x,
            U::Not => Expr::Not(Box::new(x)),
            U::BitwiseNot => Expr::BitNot(Box::new(x)),
            other => return Err(Error::unsupported(format!("operator {other}"))),
        })
    }

    fn is_distinct(&mut self, a: &ast::Expr, b: &ast::Expr, negated: bool) -> Result<Expr> {
        let (a, b) = (self.bind_expr(a)?, self.bind_expr(b)?);
        // `x IS NULL` written as SQLite's `IS` (see the dialect).
        if matches!(b, Expr::Literal(Value::Null)) {
            return Ok(Expr::IsNull(Box::new(a), !negated));
        }
        let (a, b) = self.compared(a, b);
        Ok(Expr::IsDistinct(Box::new(a), Box::new(b), negated))
    }

    /// `x [NOT] IN (a, b, ...)`: `x = +a OR x = +b ...` (SQLite): the items
    /// count as having no affinity, even columns, so `x`'s affinity alone
    /// decides what is converted.
    fn bind_in_list(
        &mut self,
        expr: &ast::Expr,
        list: &[ast::Expr],
        negated: bool,
    ) -> Result<Expr> {
        let x = self.bind_expr(expr)?;
        let xa = affinity_of(self.state(), &x);
        let aff = Affinity::for_comparison(xa, Affinity::None);
        let mut items = Vec::with_capacity(list.len());
        for item in list {
            let b = self.bind_expr(item)?;
            let ba = affinity_of(self.state(), &b);
            items.push(convert_opt(b, ba, aff));
        }
        let x = convert_opt(x, xa, aff);
        Ok(Expr::InList {
            expr: Box::new(x),
            list: items,
            negated,
        })
    }

    /// `x [NOT] BETWEEN low AND high`: the bounds take `x`'s column affinity.
    fn bind_between(
        &mut self,
        expr: &ast::Expr,
        low: &ast::Expr,
        high: &ast::Expr,
        negated: bool,
    ) -> Result<Expr> {
        let x = self.bind_expr(expr)?;
        let lo = self.bind_expr(low)?;
        let hi = self.bind_expr(high)?;
        let st = self.state();
        let (xa, la, ha) = (
            affinity_of(st, &x),
            affinity_of(st, &lo),
            affinity_of(st, &hi),
        );
        let (aff_lo, aff_hi) = (
            Affinity::for_comparison(xa, la),
            Affinity::for_comparison(xa, ha),
        );
        let (lo, hi) = (convert_opt(lo, la, aff_lo), convert_opt(hi, ha, aff_hi));
        if aff_lo != aff_hi {
            // The bounds convert `x` differently: two comparisons.
            let both = Expr::And(
                Box::new(Expr::Cmp(
                    CmpOp::GtEq,
                    Box::new(convert_opt(x.clone(), xa, aff_lo)),
                    Box::new(lo),
                )),
                Box::new(Expr::Cmp(
                    CmpOp::LtEq,
                    Box::new(convert_opt(x, xa, aff_hi)),
                    Box::new(hi),
                )),
            );
            return Ok(if negated {
                Expr::Not(Box::new(both))
            } else {
                both
            });
        }
        Ok(Expr::Between {
            low: Box::new(lo),
            high: Box::new(hi),
            expr: Box::new(convert_opt(x, xa, aff_lo)),
            negated,
        })
    }

    /// `LIKE` and `ILIKE` (the same thing here: LIKE is already ASCII
    /// case-insensitive, as in SQLite).
    fn bind_like(
        &mut self,
        expr: &ast::Expr,
        pattern: &ast::Expr,
        escape: Option<&ast::Expr>,
        negated: bool,
        any: bool,
    ) -> Result<Expr> {
        if any {
            return Err(Error::unsupported("LIKE ANY"));
        }
        Ok(Expr::Like {
            expr: Box::new(self.bind_expr(expr)?),
            pattern: Box::new(self.bind_expr(pattern)?),
            escape: match escape {
                Some(c) => Some(Box::new(self.bind_expr(c)?)),
                None => None,
            },
            negated,
            glob: false,
        })
    }

    /// `CASE [x] WHEN ...`: with an operand, each WHEN value is compared
    /// with `x` under the comparison affinity of the two.
    fn bind_case(
        &mut self,
        operand: Option<&ast::Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&ast::Expr>,
    ) -> Result<Expr> {
        let mut x = match operand {
            Some(o) => Some(self.bind_expr(o)?),
            None => None,
        };
        let xa = x.as_ref().map(|x| affinity_of(self.state(), x));
        let mut x_aff = None;
        let mut whens = Vec::with_capacity(conditions.len());
        for (i, c) in conditions.iter().enumerate() {
            let mut w = self.bind_expr(&c.condition)?;
            if let Some(xa) = xa {
                let wa = affinity_of(self.state(), &w);
                let aff = Affinity::for_comparison(xa, wa);
                w = convert_opt(w, wa, aff);
                // `x` is read once: converted only if every WHEN agrees.
                x_aff = match (i, x_aff) {
                    (0, _) => Some(aff),
                    (_, Some(prev)) if prev == aff => Some(aff),
                    _ => Some(None),
                };
            }
            whens.push((w, self.bind_expr(&c.result)?));
        }
        if let (Some(xa), Some(aff)) = (xa, x_aff) {
            x = x.map(|x| convert_opt(x, xa, aff));
        }
        Ok(Expr::Case {
            operand: x.map(Box::new),
            whens,
            otherwise: match else_result {
                Some(x) => Some(Box::new(self.bind_expr(x)?)),
                None => None,
            },
        })
    }

    /// SQL's calls with keyword syntax (`SUBSTRING(x FROM a FOR b)`,
    /// `TRIM(LEADING c FROM x)`, `CEIL`, `FLOOR`, `POSITION(a IN b)`) as
    /// calls of the scalar functions that implement them.
    fn bind_call_syntax(&mut self, e: &ast::Expr) -> Result<Expr> {
        use ast::Expr as E;
        match e {
            E::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.bind_expr(expr)?];
                args.push(match substring_from {
                    Some(x) => self.bind_expr(x)?,
                    None => Expr::Literal(Value::Integer(1)),
                });
                if let Some(x) = substring_for {
                    args.push(self.bind_expr(x)?);
                }
                self.call_scalar("substr", args)
            }
            E::Trim {
                trim_where,
                trim_what,
                expr,
                trim_characters,
            } => {
                let name = match trim_where {
                    Some(ast::TrimWhereField::Leading) => "ltrim",
                    Some(ast::TrimWhereField::Trailing) => "rtrim",
                    _ => "trim",
                };
                let mut args = vec![self.bind_expr(expr)?];
                if let Some(w) = trim_what {
                    args.push(self.bind_expr(w)?);
                }
                // `trim(x, chars)`: the comma form.
                for c in trim_characters.iter().flatten() {
                    args.push(self.bind_expr(c)?);
                }
                self.call_scalar(name, args)
            }
            E::Ceil { expr, .. } => {
                let x = self.bind_expr(expr)?;
                self.call_scalar("ceil", vec![x])
            }
            E::Floor { expr, .. } => {
                let x = self.bind_expr(expr)?;
                self.call_scalar("floor", vec![x])
            }
            E::Position { expr, r#in } => {
                let (a, b) = (self.bind_expr(r#in)?, self.bind_expr(expr)?);
                self.call_scalar("instr", vec![a, b])
            }
            other => Err(Error::internal(format!("{other} is no keyword call"))),
        }
    }

    fn is_bool(&mut self, x: &ast::Expr, value: bool, negated: bool) -> Result<Expr> {
        Ok(Expr::IsBool {
            expr: Box::new(self.bind_expr(x)?),
            value,
            negated,
        })
    }

    fn bind_value(&mut self, v: &ast::Value) -> Result<Value> {
        use ast::Value as V;
        Ok(match v {
            V::Number(s, _) => parse_number(s)?,
            V::SingleQuotedString(s)
            | V::EscapedStringLiteral(s)
            | V::NationalStringLiteral(s)
            | V::TripleSingleQuotedString(s)
            | V::TripleDoubleQuotedString(s) => Value::text(s),
            V::DollarQuotedString(d) => Value::text(&d.value),
            V::HexStringLiteral(h) => {
                let bytes: Option<Vec<u8>> = (0..h.len())
                    .step_by(2)
                    .map(|i| h.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
                    .collect();
                match bytes {
                    Some(b) if h.len() % 2 == 0 => Value::Blob(Arc::from(b)),
                    _ => {
                        return Err(Error::Syntax {
                            message: format!("malformed blob literal X'{h}'"),
                            position: None,
                        })
                    }
                }
            }
            V::DoubleQuotedString(s) => Value::text(s),
            V::Boolean(b) => Value::Boolean(*b),
            V::Null => Value::Null,
            V::Placeholder(p) => {
                return Err(Error::Parameter {
                    message: format!("parameter {p} is not allowed here"),
                })
            }
            other => return Err(Error::unsupported(format!("literal {other}"))),
        })
    }

    /// Records a parameter; the caller turns the literal into `Expr::Param`.
    fn bind_placeholder(&mut self, p: &str) -> Result<usize> {
        let idx = if p == "?" {
            self.state_mut().next_positional += 1;
            self.state().next_positional - 1
        } else if let Some(n) = p.strip_prefix('$').or_else(|| p.strip_prefix('?')) {
            match n.parse::<usize>() {
                Ok(n) if n >= 1 => n - 1,
                _ => {
                    return Err(Error::Parameter {
                        message: format!("bad parameter {p}: use $1, $2, ... or ?"),
                    })
                }
            }
        } else {
            return Err(Error::Parameter {
                message: format!("named parameters are not supported: {p}"),
            });
        };
        let st = self.state_mut();
        st.param_count = st.param_count.max(idx + 1);
        Ok(idx)
    }

    /// Applies SQLite's comparison affinity to the operands of `l op r`:
    /// constants are converted now, the rest at run time.
    fn compared(&self, l: Expr, r: Expr) -> (Expr, Expr) {
        let (la, ra) = (affinity_of(self.state(), &l), affinity_of(self.state(), &r));
        match Affinity::for_comparison(la, ra) {
            Some(aff) => (convert(l, la, aff), convert(r, ra, aff)),
            None => (l, r),
        }
    }

    fn bind_binary(&mut self, left: &ast::Expr, op: &B, right: &ast::Expr) -> Result<Expr> {
        let l = self.bind_operand(left)?;
        let r = self.bind_operand(right)?;
        let is_cmp = matches!(op, B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq);
        let (l, r) = if is_cmp { self.compared(l, r) } else { (l, r) };
        let (l, r) = (Box::new(l), Box::new(r));
        Ok(match op {
            B::Plus => Expr::Arith(ArithOp::Add, l, r),
            B::Minus => Expr::Arith(ArithOp::Sub, l, r),
            B::Multiply => Expr::Arith(ArithOp::Mul, l, r),
            B::Divide => Expr::Arith(ArithOp::Div, l, r),
            B::Modulo => Expr::Arith(ArithOp::Rem, l, r),
            B::StringConcat => Expr::Concat(l, r),
            B::Eq => Expr::Cmp(CmpOp::Eq, l, r),
            B::NotEq => Expr::Cmp(CmpOp::NotEq, l, r),
            B::Lt => Expr::Cmp(CmpOp::Lt, l, r),
            B::LtEq => Expr::Cmp(CmpOp::LtEq, l, r),
            B::Gt => Expr::Cmp(CmpOp::Gt, l, r),
            B::GtEq => Expr::Cmp(CmpOp::GtEq, l, r),
            B::And => Expr::And(l, r),
            B::Or => Expr::Or(l, r),
            B::BitwiseAnd => Expr::Bit(BitOp::And, l, r),
            B::BitwiseOr => Expr::Bit(BitOp::Or, l, r),
            B::BitwiseXor | B::PGBitwiseXor => Expr::Bit(BitOp::Xor, l, r),
            B::PGBitwiseShiftLeft => Expr::Bit(BitOp::ShiftLeft, l, r),
            B::PGBitwiseShiftRight => Expr::Bit(BitOp::ShiftRight, l, r),
            B::Arrow => Expr::JsonGet {
                doc: l,
                key: r,
                as_text: false,
            },
            B::LongArrow => Expr::JsonGet {
                doc: l,
                key: r,
                as_text: true,
            },
            // pgvector's distance operators.
            B::Custom(op) if op == "<->" => self.call_scalar("vec_distance_l2", vec![*l, *r])?,
            B::Spaceship => self.call_scalar("vec_distance_cosine", vec![*l, *r])?,
            B::Custom(op) if op == "<#>" => self.call_scalar("vec_distance_ip", vec![*l, *r])?,
            other => return Err(Error::unsupported(format!("operator {other}"))),
        })
    }

    fn bind_operand(&mut self, e: &ast::Expr) -> Result<Expr> {
        self.bind_expr(e)
    }

    fn call_scalar(&mut self, name: &str, args: Vec<Expr>) -> Result<Expr> {
        let f = crate::functions::lookup(name).ok_or_else(|| Error::no_such("function", name))?;
        if args.len() < f.min_args || f.max_args.is_some_and(|m| args.len() > m) {
            return Err(Error::plan(format!(
                "wrong number of arguments to function {name}()"
            )));
        }
        Ok(Expr::Func(f, args))
    }

    fn bind_args(&mut self, args: &[&ast::Expr]) -> Result<Vec<Expr>> {
        args.iter().map(|a| self.bind_operand(a)).collect()
    }

    fn bind_function(&mut self, f: &ast::Function) -> Result<Expr> {
        let name = func_name(f);
        let (args, distinct, star) = func_args(f)?;
        if let Some(over) = &f.over {
            return self.bind_window(f, &name, &args, distinct, star, over);
        }
        let nargs = if star { 1 } else { args.len() };
        if let Some(func) = crate::expr::EngineFn::lookup(&name) {
            let (lo, hi) = func.arity();
            if star || nargs < lo || hi.is_some_and(|h| nargs > h) {
                return Err(Error::plan(format!(
                    "wrong number of arguments to function {name}()"
                )));
            }
            return Ok(Expr::Engine(func, self.bind_args(&args)?));
        }
        if let Some(func) = aggregate_func(&name, nargs) {
            return self.bind_aggregate(f, func, &args, distinct, star);
        }
        if window_only_func(&name).is_some() {
            return Err(Error::plan(format!(
                "window function {name}() requires an OVER clause"
            )));
        }
        if star {
            return Err(Error::plan(format!("{name}(*) is not a valid call")));
        }
        let bound = self.bind_args(&args)?;
        match name.as_str() {
            "coalesce" | "ifnull" => {
                if bound.len() < 2 && name == "coalesce" && bound.is_empty() {
                    return Err(Error::plan("coalesce() needs at least one argument"));
                }
                if name == "ifnull" && bound.len() != 2 {
                    return Err(Error::plan(
                        "wrong number of arguments to function ifnull()",
                    ));
                }
                Ok(Expr::Coalesce(bound))
            }
            "iif" => {
                let [c, a, b]: [Expr; 3] = bound
                    .try_into()
                    .map_err(|_| Error::plan("wrong number of arguments to function iif()"))?;
                Ok(Expr::Case {
                    operand: None,
                    whens: vec![(c, a)],
                    otherwise: Some(Box::new(b)),
                })
            }
            "glob" if bound.len() == 2 => {
                let mut it = bound.into_iter();
                let (p, x) = (it.next(), it.next());
                match (p, x) {
                    (Some(p), Some(x)) => Ok(Expr::Like {
                        expr: Box::new(x),
                        pattern: Box::new(p),
                        escape: None,
                        negated: false,
                        glob: true,
                    }),
                    _ => Err(Error::internal("glob arguments")),
                }
            }
            _ => self.call_scalar(&name, bound),
        }
    }

    fn bind_aggregate(
        &mut self,
        f: &ast::Function,
        func: AggFunc,
        args: &[&ast::Expr],
        distinct: bool,
        star: bool,
    ) -> Result<Expr> {
        let level = self.aggregate_level(args, f.filter.as_deref());
        if level + 1 < self.state().scopes.len() {
            return self.bind_outer_aggregate(level, f, func, args, distinct, star);
        }
        let has_agg_scope = self.state().scopes.last().is_some_and(|s| s.agg.is_some());
        if !has_agg_scope {
            return Err(Error::plan(format!(
                "aggregate function {}() is not allowed here",
                func_name(f)
            )));
        }
        if !self.agg_active() {
            return Err(Error::plan(format!(
                "aggregate function {}() cannot be nested or used in WHERE/GROUP BY",
                func_name(f)
            )));
        }
        let text = f.to_string();
        if let Some(agg) = self.state().scopes.last().and_then(|s| s.agg.as_ref()) {
            if let Some(j) = agg.agg_texts.iter().position(|t| *t == text) {
                return Ok(Expr::Column(agg.group_exprs.len() + j));
            }
        }
        // Arguments read the FROM row, not the aggregate output, and may
        // not contain window functions (they run after aggregation).
        self.set_agg_active(false);
        let window_ok = std::mem::replace(&mut self.state_mut().window_ok, false);
        let bound = self.bind_aggregate_args(f, args);
        self.set_agg_active(true);
        self.state_mut().window_ok = window_ok;
        let (bound, filter) = bound?;
        let func = checked_aggregate(f, func, star, bound.len())?;
        let agg = self
            .state_mut()
            .scopes
            .last_mut()
            .and_then(|s| s.agg.as_mut())
            .ok_or_else(|| Error::internal("aggregate scope vanished"))?;
        let call = AggCall {
            func,
            args: bound,
            distinct,
            filter,
        };
        Ok(Expr::Column(agg.column_of(text, call)))
    }

    fn bind_aggregate_args(
        &mut self,
        f: &ast::Function,
        args: &[&ast::Expr],
    ) -> Result<(Vec<Expr>, Option<Expr>)> {
        let a = self.bind_args(args)?;
        let filter = match &f.filter {
            Some(x) => Some(self.bind_expr(x)?),
            None => None,
        };
        Ok((a, filter))
    }

    /// Whether `e` calls an aggregate of the current query level (not one
    /// inside a subquery, not a window call, not one whose arguments read
    /// only an enclosing level's columns: that one is the enclosing
    /// level's).
    pub fn has_local_aggregate(&self, e: &ast::Expr) -> bool {
        let here = self.state().scopes.len().saturating_sub(1);
        let mut found = false;
        crate::ast_util::visit(e, &mut |x| {
            let ast::Expr::Function(f) = x else { return };
            if found || f.over.is_some() {
                return;
            }
            let Ok((args, _, star)) = func_args(f) else {
                return;
            };
            let n = if star { 1 } else { args.len() };
            if aggregate_func(&func_name(f), n).is_some()
                && self.aggregate_level(&args, f.filter.as_deref()) == here
            {
                found = true;
            }
        });
        found
    }

    /// The query level an aggregate call belongs to (the SQL standard's
    /// rule, and SQLite's): the innermost level any column of its
    /// arguments or FILTER resolves to. The current level when they name
    /// no column, name one no level has (binding reports it), or contain a
    /// subquery.
    fn aggregate_level(&self, args: &[&ast::Expr], filter: Option<&ast::Expr>) -> usize {
        use ast::Expr as E;
        let scopes = &self.state().scopes;
        let here = scopes.len().saturating_sub(1);
        let mut level: Option<usize> = None;
        let mut local = false;
        for e in args.iter().copied().chain(filter) {
            crate::ast_util::visit(e, &mut |x| {
                let parts: &[ast::Ident] = match x {
                    E::Identifier(i) => std::slice::from_ref(i),
                    E::CompoundIdentifier(p) => p,
                    E::Subquery(_) | E::Exists { .. } | E::InSubquery { .. } => {
                        local = true;
                        return;
                    }
                    _ => return,
                };
                let (table, name) = match parts {
                    [c] => (None, c),
                    [t, c] | [_, t, c] => (Some(t.value.as_str()), c),
                    _ => {
                        local = true;
                        return;
                    }
                };
                let found = (0..scopes.len())
                    .rev()
                    .find(|&l| !matches!(scopes[l].lookup(table, &name.value), Lookup::Missing));
                match found {
                    Some(l) => level = Some(level.map_or(l, |m| m.max(l))),
                    None => local = true,
                }
            });
        }
        if local {
            here
        } else {
            level.unwrap_or(here)
        }
    }

    /// An aggregate call in a subquery whose arguments read only columns
    /// of the enclosing level `level` (`SELECT (SELECT sum(o.a) FROM t i)
    /// FROM t o`): it aggregates that level's rows, and the subquery reads
    /// its result as an outer column. If that level is not an aggregate
    /// query yet, its planning starts over as one.
    fn bind_outer_aggregate(
        &mut self,
        level: usize,
        f: &ast::Function,
        func: AggFunc,
        args: &[&ast::Expr],
        distinct: bool,
        star: bool,
    ) -> Result<Expr> {
        let misuse = || Error::plan(format!("misuse of aggregate function {}()", func_name(f)));
        let scope = &self.state().scopes[level];
        match scope.agg.as_ref() {
            None => {
                if scope.select_list {
                    self.state_mut().outer_aggregate = Some(level);
                }
                return Err(misuse());
            }
            // Inside that level's WHERE/GROUP BY or another aggregate's
            // arguments.
            Some(a) if !a.active => return Err(misuse()),
            Some(_) => {}
        }
        let set_active = |st: &mut BindState, on: bool| {
            if let Some(a) = st.scopes[level].agg.as_mut() {
                a.active = on;
            }
        };
        set_active(self.state_mut(), false);
        let window_ok = std::mem::replace(&mut self.state_mut().window_ok, false);
        let bound = self.bind_aggregate_args(f, args);
        set_active(self.state_mut(), true);
        self.state_mut().window_ok = window_ok;
        let (mut bound, mut filter) = bound?;
        let func = checked_aggregate(f, func, star, bound.len())?;
        // Rebase the arguments from this level's row to that level's.
        let up = self.state().scopes.len() - 1 - level;
        let mut rebase = |e: &mut Expr| {
            if let Expr::Outer { depth, index } = *e {
                *e = if depth == up {
                    Expr::Column(index)
                } else {
                    Expr::Outer {
                        depth: depth - up,
                        index,
                    }
                };
            }
        };
        bound.iter_mut().for_each(|e| e.rewrite(&mut rebase));
        if let Some(x) = filter.as_mut() {
            x.rewrite(&mut rebase);
        }
        let agg = self.state_mut().scopes[level]
            .agg
            .as_mut()
            .ok_or_else(|| Error::internal("aggregate scope vanished"))?;
        // Its names mean at `level` what they mean here (none resolved
        // to a level in between), so the call's text identifies it there.
        let call = AggCall {
            func,
            args: bound,
            distinct,
            filter,
        };
        let index = agg.column_of(f.to_string(), call);
        Ok(Expr::Outer { depth: up, index })
    }

    fn bind_window(
        &mut self,
        f: &ast::Function,
        name: &str,
        args: &[&ast::Expr],
        distinct: bool,
        star: bool,
        over: &ast::WindowType,
    ) -> Result<Expr> {
        let ast::WindowType::WindowSpec(spec) = over else {
            return Err(Error::unsupported("named windows"));
        };
        if !self.state().window_ok {
            return Err(Error::plan(format!(
                "window function {name}() is only allowed in the select list and ORDER BY"
            )));
        }
        let text = f.to_string();
        if let Some(s) = self.state().scopes.last() {
            if let Some(j) = s.window_texts.iter().position(|t| *t == text) {
                return Ok(Expr::WindowRef(j));
            }
        }
        let nargs = if star { 1 } else { args.len() };
        let func = match window_only_func(name) {
            Some(w) => w,
            None => match aggregate_func(name, nargs) {
                Some(a) if star => {
                    if a != AggFunc::Count {
                        return Err(Error::plan(format!("{name}(*) is not valid")));
                    }
                    WinFunc::Agg(AggFunc::CountStar)
                }
                Some(a) => WinFunc::Agg(a),
                None => return Err(Error::no_such("window function", name)),
            },
        };
        // No window functions inside a window call.
        self.state_mut().window_ok = false;
        let parts = self.bind_window_parts(args, spec);
        self.state_mut().window_ok = true;
        let (bound, partition_by, order_by) = parts?;
        let frame = match &spec.window_frame {
            None => {
                if order_by.is_empty() {
                    Frame::Partition
                } else {
                    Frame::RangeToCurrent
                }
            }
            Some(wf) => self.bind_frame(wf, order_by.is_empty())?,
        };
        let scope = self
            .state_mut()
            .scopes
            .last_mut()
            .ok_or_else(|| Error::internal("no scope for window function"))?;
        scope.windows.push(WindowCall {
            func,
            args: bound,
            partition_by,
            order_by,
            frame,
            distinct,
        });
        scope.window_texts.push(text);
        Ok(Expr::WindowRef(scope.windows.len() - 1))
    }

    fn bind_window_parts(
        &mut self,
        args: &[&ast::Expr],
        spec: &ast::WindowSpec,
    ) -> Result<(Vec<Expr>, Vec<Expr>, Vec<SortKey>)> {
        let bound = self.bind_args(args)?;
        let partition_by = spec
            .partition_by
            .iter()
            .map(|p| self.bind_expr(p))
            .collect::<Result<Vec<_>>>()?;
        let mut order_by = Vec::new();
        for o in &spec.order_by {
            order_by.push(SortKey {
                expr: self.bind_expr(&o.expr)?,
                desc: is_desc(&o.options),
                nulls_first: nulls_first(&o.options),
            });
        }
        Ok((bound, partition_by, order_by))
    }

    fn bind_frame(&mut self, wf: &ast::WindowFrame, no_order: bool) -> Result<Frame> {
        use ast::WindowFrameBound as WB;
        let bound_n = |b: &Option<Box<ast::Expr>>| -> Result<Option<u64>> {
            match b {
                None => Ok(None),
                Some(e) => match &**e {
                    ast::Expr::Value(v) => match &v.value {
                        ast::Value::Number(s, _) => s.parse::<u64>().map(Some).map_err(|_| {
                            Error::plan("frame offset must be a non-negative integer")
                        }),
                        _ => Err(Error::plan("frame offset must be a non-negative integer")),
                    },
                    _ => Err(Error::unsupported("frame offsets that are expressions")),
                },
            }
        };
        let start = &wf.start_bound;
        let end = wf.end_bound.as_ref().unwrap_or(&WB::CurrentRow);
        let is_rows = matches!(wf.units, ast::WindowFrameUnits::Rows);
        Ok(match (start, end) {
            (WB::Preceding(None), WB::Following(None)) => Frame::Partition,
            (WB::Preceding(None), WB::CurrentRow) if !is_rows => {
                if no_order {
                    Frame::Partition
                } else {
                    Frame::RangeToCurrent
                }
            }
            (WB::Preceding(None), WB::CurrentRow) => Frame::RowsToCurrent,
            (s, e) if is_rows => {
                // Offsets relative to the current row; None = unbounded.
                let offset = |b: &WB| -> Result<Option<i64>> {
                    Ok(match b {
                        WB::CurrentRow => Some(0),
                        WB::Preceding(n) => bound_n(n)?.map(|v| -(v.min(i64::MAX as u64) as i64)),
                        WB::Following(n) => bound_n(n)?.map(|v| v.min(i64::MAX as u64) as i64),
                    })
                };
                let (lo, hi) = (offset(s)?, offset(e)?);
                if matches!(s, WB::Following(None)) || matches!(e, WB::Preceding(None)) {
                    return Err(Error::plan("invalid window frame bounds"));
                }
                Frame::Rows(lo, hi)
            }
            _ => return Err(Error::unsupported(format!("window frame {wf:?}"))),
        })
    }

    /// Plans a subquery as a child scope of the current one: its plan, and
    /// whether it reads the rows of enclosing queries.
    fn plan_subquery(
        &mut self,
        q: &ast::Query,
        want_cols: Option<usize>,
    ) -> Result<(Plan, bool, Affinity)> {
        let base = self.state().scopes.len();
        let saved_min = self.state().min_level;
        self.state_mut().min_level = usize::MAX;
        // Aggregation of the enclosing query stays as it is: a subquery in
        // the select list sees the aggregate output.
        let planned = self.cx.plan_query(q);
        let st = self.state_mut();
        let correlated = st.min_level < base;
        st.min_level = saved_min.min(st.min_level);
        let (plan, cols) = planned?;
        if let Some(n) = want_cols {
            if cols.len() != n {
                return Err(Error::plan(format!(
                    "subquery returns {} columns, expected {n}",
                    cols.len()
                )));
            }
        }
        let aff = cols.first().map_or(Affinity::None, |c| c.expr_affinity);
        Ok((plan, correlated, aff))
    }

    /// Keeps a subquery's plan with the statement's; returns how
    /// expressions name it.
    fn add_subquery(&mut self, plan: SubqueryPlan, correlated: bool) -> SubqueryRef {
        let st = self.state_mut();
        let id = st.next_id();
        st.subqueries.insert(id, plan);
        SubqueryRef { id, correlated }
    }

    /// `x [NOT] IN (subquery)`.
    fn bind_in_subquery(
        &mut self,
        expr: &ast::Expr,
        subquery: &ast::Query,
        negated: bool,
    ) -> Result<Expr> {
        let x = self.bind_expr(expr)?;
        let xa = affinity_of(self.state(), &x);
        let (mut plan, correlated, ya) = self.plan_subquery(subquery, Some(1))?;
        let aff = Affinity::for_comparison(xa, ya);
        if let Some(a) = aff.filter(|a| *a != ya) {
            // The subquery's values are converted as they come out.
            plan = Plan::Project {
                input: Box::new(plan),
                exprs: vec![Expr::Affinity(Box::new(Expr::Column(0)), a)],
            };
        }
        Ok(Expr::InSubquery {
            expr: Box::new(convert_opt(x, xa, aff)),
            sub: self.add_subquery(SubqueryPlan::PerRow(plan), correlated),
            negated,
        })
    }

    /// The subquery of `x IN (...)` or `EXISTS (...)`.
    fn bind_subquery(&mut self, q: &ast::Query, want_cols: Option<usize>) -> Result<SubqueryRef> {
        let (plan, correlated, _) = self.plan_subquery(q, want_cols)?;
        Ok(self.add_subquery(SubqueryPlan::PerRow(plan), correlated))
    }

    /// A scalar subquery `(SELECT ...)`. A correlated one that
    /// [`decorrelate`] recognises becomes a grouped lookup.
    fn bind_scalar_subquery(&mut self, q: &ast::Query) -> Result<Expr> {
        let (plan, correlated, aff) = self.plan_subquery(q, Some(1))?;
        let e = if !correlated {
            Expr::ScalarSubquery(self.add_subquery(SubqueryPlan::PerRow(plan), false))
        } else {
            match decorrelate::apply(plan, &mut self.state_mut().trace) {
                g @ SubqueryPlan::Grouped(_) => Expr::GroupedSubquery(self.add_subquery(g, true)),
                p @ SubqueryPlan::PerRow(_) => Expr::ScalarSubquery(self.add_subquery(p, true)),
            }
        };
        if let Expr::ScalarSubquery(sub) | Expr::GroupedSubquery(sub) = &e {
            self.state_mut().sub_affinity.insert(sub.id, aff);
        }
        Ok(e)
    }
}

/// An aggregate's function once its arguments are bound: `count(*)` as
/// its own function, the number of arguments checked.
fn checked_aggregate(
    f: &ast::Function,
    func: AggFunc,
    star: bool,
    nargs: usize,
) -> Result<AggFunc> {
    let func = if star {
        if func != AggFunc::Count {
            return Err(Error::plan(format!("{}(*) is not valid", func_name(f))));
        }
        AggFunc::CountStar
    } else {
        func
    };
    let want = match func {
        AggFunc::CountStar => 0..=0,
        AggFunc::GroupConcat => 1..=2,
        _ => 1..=1,
    };
    if !want.contains(&nargs) {
        return Err(Error::plan(format!(
            "wrong number of arguments to function {}()",
            func_name(f)
        )));
    }
    Ok(func)
}
