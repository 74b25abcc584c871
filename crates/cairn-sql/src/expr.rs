//! Bound expressions: column references resolved to row positions, functions
//! resolved to their implementations, subqueries named by id. Evaluation
//! follows SQL three-valued logic; it never panics on any value.
//!
//! Expressions sit below plans and the executor: a subquery is only a
//! [`SubqueryRef`] here (its plan lives with the statement's plans, in
//! `plan.rs`), and what evaluation needs from the statement running it —
//! parameters, the transaction, subquery results — comes through
//! [`EvalContext`], which the executor implements. `eval` is generic over
//! it, so the per-row path has no dynamic dispatch.

use std::collections::HashSet;

use crate::functions::ScalarFunction;
use cairn_core::ops::{self, ArithOp, BitOp};
use cairn_core::{DataType, Error, Result, Value};
use cairn_storage::Transaction;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl CmpOp {
    pub fn flip(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::LtEq => CmpOp::GtEq,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::GtEq => CmpOp::LtEq,
            o => o,
        }
    }
    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::NotEq => "<>",
            CmpOp::Lt => "<",
            CmpOp::LtEq => "<=",
            CmpOp::Gt => ">",
            CmpOp::GtEq => ">=",
        }
    }
}

/// A subquery as an expression sees it: which one, and whether it reads
/// the row of the query around it. Its plan is kept with the statement's
/// other plans under `id`. Correlated subqueries run once per outer row;
/// the others run once per statement execution and are cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubqueryRef {
    pub id: usize,
    pub correlated: bool,
}

/// What evaluation needs from the statement it runs in. The executor
/// implements it: only it can run a subquery's plan.
pub trait EvalContext {
    /// The statement's parameters, `$1` first.
    fn params(&self) -> &[Value];
    /// The transaction whose snapshot the statement reads (for the
    /// engine's own functions).
    fn transaction(&self) -> &Transaction;
    /// The first value of the first row `sub` produces (NULL if none).
    fn subquery_scalar(&self, sub: SubqueryRef, row: &[Value], outer: &[&[Value]])
        -> Result<Value>;
    /// Whether `sub` produces any row.
    fn subquery_exists(&self, sub: SubqueryRef, row: &[Value], outer: &[&[Value]]) -> Result<bool>;
    /// The distinct first values of the rows `sub` produces (for `IN`).
    fn subquery_set(
        &self,
        sub: SubqueryRef,
        row: &[Value],
        outer: &[&[Value]],
    ) -> Result<std::sync::Arc<ValueSet>>;
    /// The value of a decorrelated scalar subquery (`Expr::GroupedSubquery`)
    /// for the current row.
    fn grouped_subquery(
        &self,
        sub: SubqueryRef,
        row: &[Value],
        outer: &[&[Value]],
    ) -> Result<Value>;
    /// The value of session setting `name` the statement runs with, as
    /// `SHOW` prints it; `None` if there is no such setting.
    fn setting(&self, name: &str) -> Option<String>;
}

#[derive(Clone)]
pub enum Expr {
    Literal(Value),
    /// Position in the current row.
    Column(usize),
    /// Position in an enclosing query's row; depth 1 is the nearest.
    Outer {
        depth: usize,
        index: usize,
    },
    /// 0-based statement parameter.
    Param(usize),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    BitNot(Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    Bit(BitOp, Box<Expr>, Box<Expr>),
    Concat(Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    IsNull(Box<Expr>, bool),
    /// `a IS [NOT] DISTINCT FROM b` (and SQLite's `a IS [NOT] b`).
    IsDistinct(Box<Expr>, Box<Expr>, bool),
    /// `x IS [NOT] TRUE|FALSE`.
    IsBool {
        expr: Box<Expr>,
        value: bool,
        negated: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    InSubquery {
        expr: Box<Expr>,
        sub: SubqueryRef,
        negated: bool,
    },
    Exists {
        sub: SubqueryRef,
        negated: bool,
    },
    ScalarSubquery(SubqueryRef),
    /// A correlated scalar aggregate subquery run as one grouped
    /// aggregation per execution plus a hash lookup per row (its plans:
    /// `plan::GroupedSubquery`). Always correlated.
    GroupedSubquery(SubqueryRef),
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    /// `LIKE` (and `ILIKE`, the same thing: SQLite's LIKE is already
    /// ASCII case-insensitive) or, with `glob`, `GLOB`.
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        escape: Option<Box<Expr>>,
        negated: bool,
        glob: bool,
    },
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Cast(Box<Expr>, DataType),
    Func(&'static ScalarFunction, Vec<Expr>),
    /// COALESCE / IFNULL evaluated lazily.
    Coalesce(Vec<Expr>),
    /// A function of the database itself (state roots, proofs), evaluated
    /// against the statement's transaction.
    Engine(EngineFn, Vec<Expr>),
    /// `doc -> key` (`as_text` = false) or `doc ->> key`.
    JsonGet {
        doc: Box<Expr>,
        key: Box<Expr>,
        as_text: bool,
    },
    /// A window function result, before positions are final (planner only).
    WindowRef(usize),
    /// An operand of a comparison, converted under SQLite's comparison
    /// affinity (see [`crate::affinity`]).
    Affinity(Box<Expr>, crate::affinity::Affinity),
}

/// Functions of the database itself (RFC 0002): not constant within a
/// query plan's lifetime, so never folded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineFn {
    /// `cairn_state_root()`: hex state root of the statement's snapshot;
    /// `cairn_state_root(v)`: of version `v` (a commit-record number).
    StateRoot,
    /// `cairn_version()`: the commit-record number of the snapshot.
    Version,
    /// `cairn_prove('table', key...)`: JSON proof of the row with that
    /// primary key (or of its absence) in the newest version.
    Prove,
    /// `cairn_index_stat('index', 'field')`: a live statistic of a vector
    /// index (`nodes`, `pending`, `tombstones`, `tombstone_ratio`,
    /// `bytes`, `graphs`, `compactions`); what `cairn_indexes` shows.
    IndexStat,
    /// `current_setting('name')`: a session setting's value, as `SHOW`
    /// prints it (PostgreSQL's function).
    CurrentSetting,
    /// `cairn_table_stat('table', 'field')`: a live statistic of a table's
    /// storage (`rows`, `sealed_segments`, `live_versions`); what
    /// `cairn_tables` shows.
    TableStat,
}

impl EngineFn {
    pub fn lookup(name: &str) -> Option<EngineFn> {
        match name {
            "cairn_state_root" => Some(EngineFn::StateRoot),
            "cairn_version" => Some(EngineFn::Version),
            "cairn_prove" => Some(EngineFn::Prove),
            "cairn_index_stat" => Some(EngineFn::IndexStat),
            "current_setting" => Some(EngineFn::CurrentSetting),
            "cairn_table_stat" => Some(EngineFn::TableStat),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            EngineFn::StateRoot => "cairn_state_root",
            EngineFn::Version => "cairn_version",
            EngineFn::Prove => "cairn_prove",
            EngineFn::IndexStat => "cairn_index_stat",
            EngineFn::CurrentSetting => "current_setting",
            EngineFn::TableStat => "cairn_table_stat",
        }
    }

    /// (fewest, most) arguments.
    pub fn arity(self) -> (usize, Option<usize>) {
        match self {
            EngineFn::StateRoot => (0, Some(1)),
            EngineFn::Version => (0, Some(0)),
            EngineFn::Prove => (2, None),
            EngineFn::IndexStat => (2, Some(2)),
            EngineFn::CurrentSetting => (1, Some(1)),
            EngineFn::TableStat => (2, Some(2)),
        }
    }

    fn eval(self, ex: &dyn EvalContext, args: &[Value]) -> Result<Value> {
        let tx = ex.transaction();
        match self {
            EngineFn::IndexStat => return index_stat(tx, args),
            EngineFn::CurrentSetting => return current_setting(ex, args),
            EngineFn::TableStat => return table_stat(tx, args),
            _ => {}
        }
        if tx.reads_under_state_lock() {
            // The verifiable state is locked for the proof being made.
            return Err(Error::plan(format!(
                "{}() cannot be used in a query with proof (the proof comes with its head)",
                self.name()
            )));
        }
        let store = tx.store();
        if !store.state_roots_enabled() {
            return Err(Error::plan(format!(
                "{}(): this database was opened without state roots",
                self.name()
            )));
        }
        match self {
            EngineFn::StateRoot => match args.first() {
                None => Ok(Value::text(&store.state_root_at(tx.start_ts()).to_hex())),
                Some(Value::Null) => Ok(Value::Null),
                Some(Value::Integer(v)) => Ok(u64::try_from(*v)
                    .ok()
                    .and_then(|v| store.head_at_version(v))
                    .map_or(Value::Null, |h| Value::text(&h.state_root.to_hex()))),
                Some(other) => Err(Error::plan(format!(
                    "cairn_state_root() takes a version number, not {}",
                    other.type_name()
                ))),
            },
            EngineFn::Version => Ok(Value::Integer(
                i64::try_from(store.head_at_ts(tx.start_ts()).version).unwrap_or(i64::MAX),
            )),
            EngineFn::Prove => {
                let table = match args.first() {
                    Some(Value::Text(t)) => t.clone(),
                    _ => {
                        return Err(Error::plan(
                            "cairn_prove() takes a table name, then the key value(s)",
                        ))
                    }
                };
                let (proof, head) = store.prove_row(&table, args.get(1..).unwrap_or(&[]))?;
                let json = proof
                    .to_json_at(&head)
                    .map_err(|e| Error::internal(e.to_string()))?;
                Ok(Value::Json(json.into()))
            }
            EngineFn::IndexStat => index_stat(tx, args),
            EngineFn::CurrentSetting => current_setting(ex, args),
            EngineFn::TableStat => table_stat(tx, args),
        }
    }
}

/// `current_setting(name)`: the setting's value; an unknown name is an
/// error, as in PostgreSQL.
fn current_setting(ex: &dyn EvalContext, args: &[Value]) -> Result<Value> {
    match args {
        [Value::Null] => Ok(Value::Null),
        [Value::Text(name)] => {
            let name = name.to_ascii_lowercase();
            match ex.setting(&name) {
                Some(v) => Ok(Value::text(&v)),
                None => Err(Error::no_such("setting", &name)),
            }
        }
        _ => Err(Error::plan("current_setting() takes a setting name")),
    }
}

/// `cairn_table_stat(table, field)`; NULL for a NULL argument or a table
/// that does not exist.
fn table_stat(tx: &Transaction, args: &[Value]) -> Result<Value> {
    let (table, field) = match args {
        [Value::Text(t), Value::Text(f)] => (t, f),
        [Value::Null, _] | [_, Value::Null] => return Ok(Value::Null),
        _ => {
            return Err(Error::plan(
                "cairn_table_stat() takes a table name and a statistic name",
            ))
        }
    };
    let Some(table) = tx.store().table(table) else {
        return Ok(Value::Null);
    };
    let n = |x: u64| Value::Integer(i64::try_from(x).unwrap_or(i64::MAX));
    let (sealed, live) = table.segment_stats();
    Ok(match field.to_ascii_lowercase().as_str() {
        "rows" => n(table.row_count()),
        "sealed_segments" => n(sealed as u64),
        "live_versions" => n(live as u64),
        other => {
            return Err(Error::plan(format!(
            "cairn_table_stat(): unknown statistic {other} (rows, sealed_segments, live_versions)"
        )))
        }
    })
}

/// `cairn_index_stat(index, field)`; NULL for a NULL argument or an index
/// that is not a vector index.
fn index_stat(tx: &Transaction, args: &[Value]) -> Result<Value> {
    let (index, field) = match args {
        [Value::Text(i), Value::Text(f)] => (i, f),
        [Value::Null, _] | [_, Value::Null] => return Ok(Value::Null),
        _ => {
            return Err(Error::plan(
                "cairn_index_stat() takes an index name and a statistic name",
            ))
        }
    };
    let store = tx.store();
    let Some(stats) = store
        .index_table(index)
        .and_then(|t| t.vector_index_stats(t.vector_index_no(index)?))
    else {
        return Ok(Value::Null);
    };
    let n = |x: usize| Value::Integer(i64::try_from(x).unwrap_or(i64::MAX));
    Ok(match field.to_ascii_lowercase().as_str() {
        "nodes" => n(stats.nodes),
        "pending" => n(stats.pending),
        "tombstones" => n(stats.tombstones),
        "tombstone_ratio" if stats.nodes == 0 => Value::Real(0.0),
        "tombstone_ratio" => Value::Real(stats.tombstones as f64 / stats.nodes as f64),
        "bytes" => n(stats.bytes),
        "link_bytes" => n(stats.link_bytes),
        "code_bytes" => n(stats.code_bytes),
        "vector_bytes" => n(stats.vector_bytes),
        "mapped_bytes" => n(stats.mapped_bytes),
        "graphs" => n(stats.graphs),
        "compactions" => n(stats.compactions),
        other => {
            return Err(Error::plan(format!(
                "cairn_index_stat(): unknown statistic {other} (nodes, pending, tombstones, tombstone_ratio, bytes, link_bytes, code_bytes, vector_bytes, mapped_bytes, graphs, compactions)"
            )))
        }
    })
}

impl Expr {
    /// Visits every node (not descending into subquery plans).
    pub fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Literal(_) | Expr::Column(_) | Expr::Outer { .. } | Expr::Param(_) => {}
            Expr::WindowRef(_)
            | Expr::Exists { .. }
            | Expr::ScalarSubquery(_)
            | Expr::GroupedSubquery(_) => {}
            Expr::Neg(e)
            | Expr::Not(e)
            | Expr::BitNot(e)
            | Expr::IsNull(e, _)
            | Expr::Cast(e, _)
            | Expr::Affinity(e, _) => e.walk(f),
            Expr::IsBool { expr, .. } => expr.walk(f),
            Expr::Arith(_, a, b)
            | Expr::Bit(_, a, b)
            | Expr::Concat(a, b)
            | Expr::Cmp(_, a, b)
            | Expr::And(a, b)
            | Expr::Or(a, b)
            | Expr::IsDistinct(a, b, _) => {
                a.walk(f);
                b.walk(f)
            }
            Expr::InList { expr, list, .. } => {
                expr.walk(f);
                list.iter().for_each(|e| e.walk(f))
            }
            Expr::InSubquery { expr, .. } => expr.walk(f),
            Expr::Between {
                expr, low, high, ..
            } => {
                expr.walk(f);
                low.walk(f);
                high.walk(f)
            }
            Expr::Like {
                expr,
                pattern,
                escape,
                ..
            } => {
                expr.walk(f);
                pattern.walk(f);
                if let Some(e) = escape {
                    e.walk(f)
                }
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                if let Some(o) = operand {
                    o.walk(f)
                }
                for (w, t) in whens {
                    w.walk(f);
                    t.walk(f)
                }
                if let Some(o) = otherwise {
                    o.walk(f)
                }
            }
            Expr::Func(_, args) | Expr::Coalesce(args) | Expr::Engine(_, args) => {
                args.iter().for_each(|e| e.walk(f))
            }
            Expr::JsonGet { doc, key, .. } => {
                doc.walk(f);
                key.walk(f)
            }
        }
    }

    /// Rewrites every node bottom-up with `f` (not inside subquery plans).
    pub fn rewrite(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        match self {
            Expr::Literal(_) | Expr::Column(_) | Expr::Outer { .. } | Expr::Param(_) => {}
            Expr::WindowRef(_)
            | Expr::Exists { .. }
            | Expr::ScalarSubquery(_)
            | Expr::GroupedSubquery(_) => {}
            Expr::Neg(e)
            | Expr::Not(e)
            | Expr::BitNot(e)
            | Expr::IsNull(e, _)
            | Expr::Cast(e, _)
            | Expr::Affinity(e, _) => e.rewrite(f),
            Expr::IsBool { expr, .. } => expr.rewrite(f),
            Expr::Arith(_, a, b)
            | Expr::Bit(_, a, b)
            | Expr::Concat(a, b)
            | Expr::Cmp(_, a, b)
            | Expr::And(a, b)
            | Expr::Or(a, b)
            | Expr::IsDistinct(a, b, _) => {
                a.rewrite(f);
                b.rewrite(f)
            }
            Expr::InList { expr, list, .. } => {
                expr.rewrite(f);
                list.iter_mut().for_each(|e| e.rewrite(f))
            }
            Expr::InSubquery { expr, .. } => expr.rewrite(f),
            Expr::Between {
                expr, low, high, ..
            } => {
                expr.rewrite(f);
                low.rewrite(f);
                high.rewrite(f)
            }
            Expr::Like {
                expr,
                pattern,
                escape,
                ..
            } => {
                expr.rewrite(f);
                pattern.rewrite(f);
                if let Some(e) = escape {
                    e.rewrite(f)
                }
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                if let Some(o) = operand {
                    o.rewrite(f)
                }
                for (w, t) in whens {
                    w.rewrite(f);
                    t.rewrite(f)
                }
                if let Some(o) = otherwise {
                    o.rewrite(f)
                }
            }
            Expr::Func(_, args) | Expr::Coalesce(args) | Expr::Engine(_, args) => {
                args.iter_mut().for_each(|e| e.rewrite(f))
            }
            Expr::JsonGet { doc, key, .. } => {
                doc.rewrite(f);
                key.rewrite(f)
            }
        }
        f(self);
    }

    /// Positions of the current row this expression reads.
    pub fn columns(&self) -> Vec<usize> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let Expr::Column(i) = e {
                out.push(*i)
            }
        });
        out
    }

    /// True if the expression contains a subquery that depends on outer rows.
    pub fn has_correlated_subquery(&self) -> bool {
        let mut found = false;
        self.walk(&mut |e| match e {
            Expr::InSubquery { sub, .. } | Expr::Exists { sub, .. } | Expr::ScalarSubquery(sub) => {
                found |= sub.correlated
            }
            // Its keys read the current row, so it is placed like a
            // correlated subquery.
            Expr::GroupedSubquery(_) => found = true,
            _ => {}
        });
        found
    }

    /// True if the value does not depend on the current row (it may depend
    /// on parameters, outer rows or uncorrelated subqueries).
    pub fn is_row_independent(&self) -> bool {
        let mut dep = false;
        self.walk(&mut |e| match e {
            Expr::Column(_) | Expr::WindowRef(_) | Expr::GroupedSubquery(_) => dep = true,
            Expr::InSubquery { sub, .. } | Expr::Exists { sub, .. } | Expr::ScalarSubquery(sub)
                if sub.correlated =>
            {
                dep = true
            }
            _ => {}
        });
        !dep
    }

    /// Shifts column positions by `f` (used when a predicate moves to an
    /// operator with a different row layout).
    pub fn remap_columns(&mut self, f: &dyn Fn(usize) -> usize) {
        self.rewrite(&mut |e| {
            if let Expr::Column(i) = e {
                *i = f(*i)
            }
        });
    }

    /// The value without evaluation or cloning, for columns, literals and
    /// parameters (the operands of most filters).
    fn borrowed<'r, C: EvalContext>(
        &'r self,
        row: &'r [Value],
        ex: &'r C,
        outer: &'r [&'r [Value]],
    ) -> Option<&'r Value> {
        match self {
            Expr::Column(i) => row.get(*i),
            Expr::Literal(v) => Some(v),
            Expr::Param(i) => ex.params().get(*i),
            Expr::Outer { depth, index } => outer.get(depth.checked_sub(1)?)?.get(*index),
            // Numeric affinity changes only text; anything else passes
            // through as is.
            Expr::Affinity(e, crate::affinity::Affinity::Numeric) => e
                .borrowed(row, ex, outer)
                .filter(|v| !matches!(v, Value::Text(_))),
            _ => None,
        }
    }

    /// [`Expr::eval`], with a column or a literal (most operands and
    /// projected expressions) read in line, without the call.
    #[inline]
    pub fn value<C: EvalContext>(
        &self,
        row: &[Value],
        ex: &C,
        outer: &[&[Value]],
    ) -> Result<Value> {
        match self {
            Expr::Column(i) => match row.get(*i) {
                Some(v) => Ok(v.clone()),
                None => self.eval(row, ex, outer),
            },
            Expr::Literal(v) => Ok(v.clone()),
            _ => self.eval(row, ex, outer),
        }
    }

    pub fn eval<C: EvalContext>(&self, row: &[Value], ex: &C, outer: &[&[Value]]) -> Result<Value> {
        Ok(match self {
            Expr::Literal(v) => v.clone(),
            Expr::Column(i) => row.get(*i).cloned().ok_or_else(|| {
                Error::internal(format!("column {i} out of row of {}", row.len()))
            })?,
            Expr::Outer { depth, index } => outer
                .get(depth - 1)
                .and_then(|r| r.get(*index))
                .cloned()
                .ok_or_else(|| Error::internal("outer column out of range"))?,
            Expr::Param(i) => param(ex.params(), *i)?,
            Expr::Neg(e) => ops::negate(&e.value(row, ex, outer)?),
            Expr::Not(e) => match e.value(row, ex, outer)?.truth() {
                None => Value::Null,
                Some(b) => Value::Boolean(!b),
            },
            Expr::BitNot(e) => ops::bit_not(&e.value(row, ex, outer)?),
            Expr::Arith(op, a, b) => {
                let (x, y) = (a.value(row, ex, outer)?, b.value(row, ex, outer)?);
                if x.is_vector() || y.is_vector() {
                    return vector_arith(*op, &x, &y);
                }
                ops::arith(*op, &x, &y)
            }
            Expr::Bit(op, a, b) => {
                ops::bitwise(*op, &a.value(row, ex, outer)?, &b.value(row, ex, outer)?)
            }
            Expr::Concat(..) => self.eval_concat(row, ex, outer)?,
            Expr::Cmp(op, a, b) => match (a.borrowed(row, ex, outer), b.borrowed(row, ex, outer)) {
                (Some(x), Some(y)) => compare(*op, x, y),
                _ => {
                    let (x, y) = (a.value(row, ex, outer)?, b.value(row, ex, outer)?);
                    compare(*op, &x, &y)
                }
            },
            Expr::And(a, b) => {
                let x = a.value(row, ex, outer)?.truth();
                if x == Some(false) {
                    return Ok(Value::Boolean(false));
                }
                match (x, b.value(row, ex, outer)?.truth()) {
                    (_, Some(false)) => Value::Boolean(false),
                    (Some(true), Some(true)) => Value::Boolean(true),
                    _ => Value::Null,
                }
            }
            Expr::Or(a, b) => {
                let x = a.value(row, ex, outer)?.truth();
                if x == Some(true) {
                    return Ok(Value::Boolean(true));
                }
                match (x, b.value(row, ex, outer)?.truth()) {
                    (_, Some(true)) => Value::Boolean(true),
                    (Some(false), Some(false)) => Value::Boolean(false),
                    _ => Value::Null,
                }
            }
            Expr::IsNull(e, negated) => Value::Boolean(e.is_null_at(row, ex, outer)? != *negated),
            Expr::IsDistinct(a, b, negated) => {
                let (x, y) = (a.value(row, ex, outer)?, b.value(row, ex, outer)?);
                let distinct = match (x.is_null(), y.is_null()) {
                    (true, true) => false,
                    (true, false) | (false, true) => true,
                    _ => x.sql_eq(&y) != Some(true),
                };
                Value::Boolean(distinct != *negated)
            }
            Expr::IsBool {
                expr,
                value,
                negated,
            } => {
                let t = expr.value(row, ex, outer)?.truth();
                Value::Boolean((t == Some(*value)) != *negated)
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let x = expr.value(row, ex, outer)?;
                if list.is_empty() {
                    return Ok(Value::Boolean(*negated));
                }
                if x.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for item in list {
                    let v = item.value(row, ex, outer)?;
                    match x.sql_eq(&v) {
                        Some(true) => return Ok(Value::Boolean(!*negated)),
                        None => saw_null = true,
                        Some(false) => {}
                    }
                }
                if saw_null {
                    Value::Null
                } else {
                    Value::Boolean(*negated)
                }
            }
            Expr::InSubquery { expr, sub, negated } => {
                let x = expr.value(row, ex, outer)?;
                let set = ex.subquery_set(*sub, row, outer)?;
                if set.values.is_empty() && !set.has_null {
                    return Ok(Value::Boolean(*negated));
                }
                if x.is_null() {
                    return Ok(Value::Null);
                }
                if set.values.contains(&x) {
                    Value::Boolean(!*negated)
                } else if set.has_null {
                    Value::Null
                } else {
                    Value::Boolean(*negated)
                }
            }
            Expr::Exists { sub, negated } => {
                Value::Boolean(ex.subquery_exists(*sub, row, outer)? != *negated)
            }
            Expr::ScalarSubquery(sub) => ex.subquery_scalar(*sub, row, outer)?,
            Expr::GroupedSubquery(sub) => ex.grouped_subquery(*sub, row, outer)?,
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let x = expr.value(row, ex, outer)?;
                let lo = compare(CmpOp::GtEq, &x, &low.value(row, ex, outer)?);
                let hi = compare(CmpOp::LtEq, &x, &high.value(row, ex, outer)?);
                let both = match (lo.truth(), hi.truth()) {
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                };
                match both {
                    None => Value::Null,
                    Some(b) => Value::Boolean(b != *negated),
                }
            }
            Expr::Like {
                expr,
                pattern,
                escape,
                negated,
                glob,
            } => {
                let esc = escape.as_deref();
                match eval_like(expr, pattern, esc, *glob, row, ex, outer)? {
                    None => Value::Null,
                    Some(m) => Value::Boolean(m != *negated),
                }
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                match operand {
                    Some(op) => {
                        let v = op.value(row, ex, outer)?;
                        for (w, t) in whens {
                            if v.sql_eq(&w.value(row, ex, outer)?) == Some(true) {
                                return t.value(row, ex, outer);
                            }
                        }
                    }
                    None => {
                        for (w, t) in whens {
                            if w.value(row, ex, outer)?.truth() == Some(true) {
                                return t.value(row, ex, outer);
                            }
                        }
                    }
                }
                match otherwise {
                    Some(o) => o.value(row, ex, outer)?,
                    None => Value::Null,
                }
            }
            Expr::Cast(e, ty) => e.value(row, ex, outer)?.cast(*ty)?,
            Expr::Affinity(e, aff) => crate::affinity::apply(e.value(row, ex, outer)?, *aff),
            Expr::Func(f, args) => call_function(f, args, row, ex, outer)?,
            Expr::Engine(func, args) => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(a.value(row, ex, outer)?);
                }
                func.eval(ex, &vals)?
            }
            Expr::Coalesce(args) => {
                for a in args {
                    let v = a.value(row, ex, outer)?;
                    if !v.is_null() {
                        return Ok(v);
                    }
                }
                Value::Null
            }
            Expr::JsonGet { doc, key, as_text } => {
                let d = doc.value(row, ex, outer)?;
                let k = key.value(row, ex, outer)?;
                if *as_text {
                    crate::functions::json::json_arrow_text(&d, &k)?
                } else {
                    crate::functions::json::json_arrow(&d, &k)?
                }
            }
            Expr::WindowRef(_) => return Err(Error::internal("unresolved window reference")),
        })
    }

    /// Evaluates as a condition: only TRUE passes.
    /// Whether a filter keeps the row: the condition is true (not false,
    /// not NULL). In a filter NULL rejects like false, so `a AND b` stops
    /// at an `a` that is not true, and `a OR b` at one that is (as
    /// SQLite's WHERE does: `WHERE NULL AND x` never evaluates `x`).
    pub fn test<C: EvalContext>(&self, row: &[Value], ex: &C, outer: &[&[Value]]) -> Result<bool> {
        match self {
            Expr::And(a, b) => Ok(a.test(row, ex, outer)? && b.test(row, ex, outer)?),
            Expr::Or(a, b) => Ok(a.test(row, ex, outer)? || b.test(row, ex, outer)?),
            _ => Ok(self.value(row, ex, outer)?.truth() == Some(true)),
        }
    }
}

impl Expr {
    /// Whether the value is NULL, read in place when it can be.
    fn is_null_at<C: EvalContext>(
        &self,
        row: &[Value],
        ex: &C,
        outer: &[&[Value]],
    ) -> Result<bool> {
        Ok(match self.borrowed(row, ex, outer) {
            Some(v) => v.is_null(),
            None => self.eval(row, ex, outer)?.is_null(),
        })
    }

    /// `a || b || ...`: a chain of concatenations (nested either way) is
    /// built in one buffer, not one string per `||`. Every operand is
    /// evaluated, left to right, as the binary operator would; any NULL
    /// makes the result NULL.
    fn eval_concat<C: EvalContext>(
        &self,
        row: &[Value],
        ex: &C,
        outer: &[&[Value]],
    ) -> Result<Value> {
        fn append<C: EvalContext>(
            e: &Expr,
            row: &[Value],
            ex: &C,
            outer: &[&[Value]],
            out: &mut String,
            null: &mut bool,
        ) -> Result<()> {
            if let Expr::Concat(a, b) = e {
                append(a, row, ex, outer, out, null)?;
                return append(b, row, ex, outer, out, null);
            }
            let pushed = match e.borrowed(row, ex, outer) {
                Some(v) => !*null && ops::push_text(v, out),
                None => {
                    let v = e.value(row, ex, outer)?;
                    !*null && ops::push_text(&v, out)
                }
            };
            *null |= !pushed;
            Ok(())
        }
        let concat = |out: &mut String| -> Result<Value> {
            let mut null = false;
            append(self, row, ex, outer, out, &mut null)?;
            Ok(if null {
                Value::Null
            } else {
                Value::Text(std::sync::Arc::from(out.as_str()))
            })
        };
        // The chain is built in this thread's scratch buffer (a chain
        // inside an operand, which finds it taken, in a new one) and
        // copied out once.
        CONCAT_SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                buf.clear();
                let v = concat(&mut buf);
                if buf.capacity() > CONCAT_SCRATCH_KEPT_MAX {
                    *buf = String::new();
                }
                v
            }
            Err(_) => concat(&mut String::new()),
        })
    }
}

thread_local! {
    /// Scratch space for `||` chains (see [`Expr::eval_concat`]).
    static CONCAT_SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// The largest scratch buffer a thread keeps for `||` between rows.
const CONCAT_SCRATCH_KEPT_MAX: usize = 64 * 1024;

/// `x LIKE pattern [ESCAPE e]` (or `GLOB`): whether it matches, `None` for
/// NULL. Text operands are matched in place, without a copy.
fn eval_like<C: EvalContext>(
    expr: &Expr,
    pattern: &Expr,
    escape: Option<&Expr>,
    glob: bool,
    row: &[Value],
    ex: &C,
    outer: &[&[Value]],
) -> Result<Option<bool>> {
    let x = OperandRef::of(expr, row, ex, outer)?;
    let p = OperandRef::of(pattern, row, ex, outer)?;
    let esc = match escape {
        Some(e) => match e.value(row, ex, outer)?.to_text() {
            None => return Ok(None),
            Some(s) => {
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Some(c),
                    _ => {
                        return Err(Error::type_err(
                            "ESCAPE expression must be a single character",
                        ))
                    }
                }
            }
        },
        None => None,
    };
    let (Some(x), Some(p)) = (x.text(), p.text()) else {
        return Ok(None);
    };
    Ok(Some(if glob {
        crate::functions::glob_match(&p, &x)
    } else {
        // LIKE is ASCII case-insensitive, as in SQLite; ILIKE is too.
        crate::functions::like_match(&p, &x, esc)
    }))
}

/// An operand's value, borrowed where it can be (a column, literal or
/// parameter), computed otherwise.
enum OperandRef<'r> {
    Borrowed(&'r Value),
    Owned(Value),
}

impl<'r> OperandRef<'r> {
    fn of<C: EvalContext>(
        e: &'r Expr,
        row: &'r [Value],
        ex: &'r C,
        outer: &'r [&'r [Value]],
    ) -> Result<OperandRef<'r>> {
        Ok(match e.borrowed(row, ex, outer) {
            Some(v) => OperandRef::Borrowed(v),
            None => OperandRef::Owned(e.value(row, ex, outer)?),
        })
    }

    fn value(&self) -> &Value {
        match self {
            OperandRef::Borrowed(v) => v,
            OperandRef::Owned(v) => v,
        }
    }

    /// The value as text (in place for TEXT), `None` for NULL.
    fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self.value() {
            Value::Text(s) | Value::Json(s) => Some(std::borrow::Cow::Borrowed(&**s)),
            v => v.to_text().map(std::borrow::Cow::Owned),
        }
    }
}

/// A scalar function's call: arguments evaluated in order into a buffer
/// on the stack when there are few (most calls), not a vector per row.
fn call_function<C: EvalContext>(
    f: &ScalarFunction,
    args: &[Expr],
    row: &[Value],
    ex: &C,
    outer: &[&[Value]],
) -> Result<Value> {
    let e = |a: &Expr| a.value(row, ex, outer);
    match args {
        [] => (f.eval)(&[]),
        [a] => (f.eval)(&[e(a)?]),
        [a, b] => (f.eval)(&[e(a)?, e(b)?]),
        [a, b, c] => (f.eval)(&[e(a)?, e(b)?, e(c)?]),
        _ => {
            let vals = args.iter().map(e).collect::<Result<Vec<_>>>()?;
            (f.eval)(&vals)
        }
    }
}

/// Parameter `i` (0-based) of a statement, or the error that it is missing.
fn param(params: &[Value], i: usize) -> Result<Value> {
    params.get(i).cloned().ok_or_else(|| Error::Parameter {
        message: format!(
            "parameter ${} was not supplied ({} given)",
            i + 1,
            params.len()
        ),
    })
}

/// Appends the conjuncts of `e` (the operands of its top-level ANDs, in
/// order) to `out`.
pub fn split_and(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::And(a, b) => {
            split_and(*a, out);
            split_and(*b, out);
        }
        other => out.push(other),
    }
}

/// The conjunction of `v`, left-deep in order; None when `v` is empty.
pub fn and_all(mut v: Vec<Expr>) -> Option<Expr> {
    let first = if v.is_empty() {
        return None;
    } else {
        v.remove(0)
    };
    Some(
        v.into_iter()
            .fold(first, |acc, e| Expr::And(Box::new(acc), Box::new(e))),
    )
}

pub fn compare(op: CmpOp, x: &Value, y: &Value) -> Value {
    match x.sql_cmp(y) {
        None => Value::Null,
        Some(o) => Value::Boolean(match op {
            CmpOp::Eq => o.is_eq(),
            CmpOp::NotEq => o.is_ne(),
            CmpOp::Lt => o.is_lt(),
            CmpOp::LtEq => o.is_le(),
            CmpOp::Gt => o.is_gt(),
            CmpOp::GtEq => o.is_ge(),
        }),
    }
}

/// The distinct values an `IN (subquery)` tests against.
#[derive(Debug, Default)]
pub struct ValueSet {
    pub values: HashSet<Value>,
    pub has_null: bool,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

thread_local! {
    /// While EXPLAIN writes an operator's line: the names of the columns of
    /// the row its expressions read (see [`with_column_names`]).
    static COLUMN_NAMES: std::cell::RefCell<Option<Vec<String>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` with expressions displaying `Column(i)` as `names[i]` (`#i`
/// past the end) and long vector literals shortened: EXPLAIN's form.
/// Outside it, expressions display as `#i`.
pub fn with_column_names<R>(names: &[String], f: impl FnOnce() -> R) -> R {
    let saved = COLUMN_NAMES.with(|n| n.replace(Some(names.to_vec())));
    let r = f();
    COLUMN_NAMES.with(|n| *n.borrow_mut() = saved);
    r
}

/// Vector literals longer than this are shortened in EXPLAIN.
const EXPLAIN_VECTOR_ELEMENTS: usize = 4;

/// `'[0.1447,0.7235,...]'(64)` for a text literal that is a long vector,
/// while EXPLAIN writes (see [`with_column_names`]).
fn short_vector(s: &str) -> Option<String> {
    let named = COLUMN_NAMES.with(|n| n.borrow().is_some());
    if !named || !s.starts_with('[') {
        return None;
    }
    let v = cairn_core::vector::parse(s).ok()?;
    if v.len() <= EXPLAIN_VECTOR_ELEMENTS {
        return None;
    }
    let head: Vec<String> = v.iter().take(2).map(|x| format!("{x}")).collect();
    Some(format!("'[{},...]'({})", head.join(","), v.len()))
}

/// A literal as SQL (text quoted; a long vector shortened in EXPLAIN).
fn fmt_literal(v: &Value, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    match v {
        Value::Text(s) => match short_vector(s) {
            Some(short) => f.write_str(&short),
            None => write!(f, "'{}'", s.replace('\'', "''")),
        },
        other => write!(f, "{other}"),
    }
}

/// Column `i` of the row: its name while EXPLAIN writes, else `#i`.
fn fmt_column(i: usize, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    let name = COLUMN_NAMES.with(|n| n.borrow().as_ref().and_then(|v| v.get(i).cloned()));
    match name {
        Some(name) => f.write_str(&name),
        None => write!(f, "#{i}"),
    }
}

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expr::Literal(v) => fmt_literal(v, f),
            Expr::Column(i) => fmt_column(*i, f),
            Expr::Outer { depth, index } => write!(f, "outer{depth}.#{index}"),
            Expr::Param(i) => write!(f, "${}", i + 1),
            Expr::Neg(e) => write!(f, "-({e})"),
            Expr::Not(e) => write!(f, "NOT ({e})"),
            Expr::BitNot(e) => write!(f, "~({e})"),
            Expr::Arith(op, a, b) => {
                let s = match op {
                    ArithOp::Add => "+",
                    ArithOp::Sub => "-",
                    ArithOp::Mul => "*",
                    ArithOp::Div => "/",
                    ArithOp::Rem => "%",
                };
                write!(f, "({a} {s} {b})")
            }
            Expr::Bit(_, a, b) => write!(f, "bit({a}, {b})"),
            Expr::Concat(a, b) => write!(f, "({a} || {b})"),
            Expr::Cmp(op, a, b) => write!(f, "{a} {} {b}", op.symbol()),
            Expr::And(a, b) => write!(f, "({a} AND {b})"),
            Expr::Or(a, b) => write!(f, "({a} OR {b})"),
            Expr::IsNull(e, n) => write!(f, "{e} IS {}NULL", if *n { "NOT " } else { "" }),
            Expr::IsDistinct(a, b, n) => {
                write!(
                    f,
                    "{a} IS {}DISTINCT FROM {b}",
                    if *n { "NOT " } else { "" }
                )
            }
            Expr::IsBool {
                expr,
                value,
                negated,
            } => write!(
                f,
                "{expr} IS {}{}",
                if *negated { "NOT " } else { "" },
                if *value { "TRUE" } else { "FALSE" }
            ),
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                write!(f, "{expr} {}IN (", if *negated { "NOT " } else { "" })?;
                for (i, e) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str(")")
            }
            Expr::InSubquery { expr, sub, negated } => write!(
                f,
                "{expr} {}IN (subquery {})",
                if *negated { "NOT " } else { "" },
                sub.id
            ),
            Expr::Exists { sub, negated } => write!(
                f,
                "{}EXISTS (subquery {})",
                if *negated { "NOT " } else { "" },
                sub.id
            ),
            Expr::ScalarSubquery(sub) => write!(f, "(subquery {})", sub.id),
            Expr::GroupedSubquery(g) => write!(f, "(grouped subquery {})", g.id),
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => write!(
                f,
                "{expr} {}BETWEEN {low} AND {high}",
                if *negated { "NOT " } else { "" }
            ),
            Expr::Like {
                expr,
                pattern,
                negated,
                ..
            } => {
                write!(
                    f,
                    "{expr} {}LIKE {pattern}",
                    if *negated { "NOT " } else { "" }
                )
            }
            Expr::Case { .. } => f.write_str("CASE ..."),
            Expr::Cast(e, t) => write!(f, "CAST({e} AS {t})"),
            Expr::Engine(func, args) => {
                write!(f, "{}(", func.name())?;
                for (i, e) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str(")")
            }
            Expr::Func(func, args) => {
                write!(f, "{}(", func.name)?;
                for (i, e) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str(")")
            }
            Expr::Coalesce(args) => write!(f, "coalesce({} args)", args.len()),
            Expr::JsonGet { doc, key, as_text } => {
                write!(f, "{doc} {} {key}", if *as_text { "->>" } else { "->" })
            }
            Expr::WindowRef(i) => write!(f, "window#{i}"),
            Expr::Affinity(e, _) => write!(f, "{e}"),
        }
    }
}

/// `+`, `-`, `*` of two vectors, element-wise (pgvector); anything else with a
/// vector operand is a type error.
fn vector_arith(op: ArithOp, a: &Value, b: &Value) -> Result<Value> {
    use cairn_core::vector::ElementOp;
    if a.is_null() || b.is_null() {
        return Ok(Value::Null);
    }
    let (Some(x), Some(y)) = (a.vector_f32(), b.vector_f32()) else {
        return Err(Error::type_err(format!(
            "operator {op:?} needs two vectors, got {} and {}",
            a.type_name(),
            b.type_name()
        )));
    };
    let op = match op {
        ArithOp::Add => ElementOp::Add,
        ArithOp::Sub => ElementOp::Sub,
        ArithOp::Mul => ElementOp::Mul,
        ArithOp::Div | ArithOp::Rem => {
            return Err(Error::type_err(format!(
                "operator {op:?} is not defined on vectors"
            )))
        }
    };
    let out = cairn_core::vector::elementwise(op, &x, &y)?;
    Ok(match (a, b) {
        (Value::HalfVec(_), Value::HalfVec(_)) => {
            Value::HalfVec(std::sync::Arc::from(cairn_core::vector::to_half(&out)?))
        }
        _ => Value::Vector(std::sync::Arc::from(out)),
    })
}
