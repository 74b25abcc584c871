//! Cardinality estimates: the share of a table's rows a filter keeps, and
//! the rows each operator of a plan is expected to produce. A table's
//! statistics (`ANALYZE`, see `cairn_storage::stats`) answer where they
//! exist — most common values, histograms, NULL counts and distinct counts
//! — and the fractions of `cost.rs` stand in where they do not, so plans of
//! tables never analyzed are what they were before statistics.
//!
//! The access-path choice (`access.rs`) reads selectivities from here;
//! `EXPLAIN VERBOSE` and `EXPLAIN ANALYZE` print [`rows`] per operator.

use std::cmp::Ordering;

use cairn_core::Value;
use cairn_storage::stats::{ColumnStats, TableStats};

use crate::cost;
use crate::expr::{CmpOp, Expr};
use crate::plan::{Access, JoinKind, Plan, SetOpKind};

/// One table's statistics, ready to answer per-column questions. Shares
/// are of the rows when the statistics were taken; callers apply them to
/// the table's current size.
#[derive(Clone, Copy)]
pub struct Stats<'a> {
    table: &'a TableStats,
}

impl<'a> Stats<'a> {
    pub fn new(table: &'a TableStats) -> Stats<'a> {
        Stats { table }
    }

    fn total(&self) -> f64 {
        (self.table.rows as f64).max(1.0)
    }

    fn column(&self, c: usize) -> Option<&'a ColumnStats> {
        self.table.columns.get(c)
    }

    /// Share of rows whose column `c` is not NULL.
    fn non_null(&self, cs: &ColumnStats) -> f64 {
        (1.0 - cs.nulls as f64 / self.total()).clamp(0.0, 1.0)
    }

    /// Share of rows whose column `c` equals `v` (`None`: a value not
    /// known at plan time, such as a parameter).
    pub fn eq(&self, c: usize, v: Option<&Value>) -> Option<f64> {
        let cs = self.column(c)?;
        let total = self.total();
        if let Some(v) = v {
            if v.is_null() {
                return Some(0.0);
            }
            if let Some((_, k)) = cs
                .mcv
                .iter()
                .find(|(m, _)| m.total_cmp(v) == Ordering::Equal)
            {
                return Some(*k as f64 / total);
            }
            let common: u64 = cs.mcv.iter().map(|(_, k)| k).sum();
            let rest_rows = (total - cs.nulls as f64 - common as f64).max(0.0);
            let rest_distinct = cs.distinct.saturating_sub(cs.mcv.len() as u64);
            if rest_distinct == 0 || rest_rows == 0.0 {
                // Not among the values seen: rare.
                return Some(0.5 / total);
            }
            return Some(rest_rows / rest_distinct as f64 / total);
        }
        if cs.distinct == 0 {
            return Some(0.0);
        }
        Some(self.non_null(cs) / cs.distinct as f64)
    }

    /// Share of rows whose column `c` is below `v` (or equal, `inclusive`).
    fn below(&self, c: usize, v: &Value, inclusive: bool) -> Option<f64> {
        let cs = self.column(c)?;
        let total = self.total();
        let is_below = |x: &Value| match x.total_cmp(v) {
            Ordering::Less => true,
            Ordering::Equal => inclusive,
            Ordering::Greater => false,
        };
        let common: u64 = cs.mcv.iter().map(|(_, k)| k).sum();
        let common_below: u64 = cs
            .mcv
            .iter()
            .filter(|(m, _)| is_below(m))
            .map(|(_, k)| k)
            .sum();
        let rest = (total - cs.nulls as f64 - common as f64).max(0.0);
        let h = &cs.histogram;
        let position = if h.len() < 2 {
            0.5
        } else {
            let i = h.partition_point(|b| is_below(b));
            if i == 0 {
                0.0
            } else if i == h.len() {
                1.0
            } else {
                let within = interpolate(&h[i - 1], &h[i], v).unwrap_or(0.5);
                ((i - 1) as f64 + within) / (h.len() - 1) as f64
            }
        };
        Some(((common_below as f64 + rest * position) / total).clamp(0.0, 1.0))
    }

    /// Share of rows that `f`, a conjunct over the table's own row, keeps;
    /// `None` when the statistics do not speak to it.
    pub fn selectivity(&self, f: &Expr) -> Option<f64> {
        let col = |e: &Expr| match strip(e) {
            Expr::Column(c) => Some(*c),
            _ => None,
        };
        let lit = |e: &Expr| match strip(e) {
            Expr::Literal(v) => Some(v.clone()),
            _ => None,
        };
        Some(match f {
            Expr::And(a, b) => self.selectivity_or_default(a) * self.selectivity_or_default(b),
            Expr::Or(a, b) => {
                let (x, y) = (
                    self.selectivity_or_default(a),
                    self.selectivity_or_default(b),
                );
                x + y - x * y
            }
            Expr::Not(a) => 1.0 - self.selectivity(a)?,
            Expr::IsNull(e, negated) => {
                let cs = self.column(col(e)?)?;
                let nulls = 1.0 - self.non_null(cs);
                if *negated {
                    1.0 - nulls
                } else {
                    nulls
                }
            }
            Expr::Cmp(op, x, y) => {
                let (c, op, v) = match (col(x), col(y)) {
                    (Some(c), _) if y.is_row_independent() => (c, *op, y),
                    (_, Some(c)) if x.is_row_independent() => (c, op.flip(), x),
                    _ => return None,
                };
                self.compare(c, op, lit(v).as_ref())?
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let c = col(expr)?;
                let (lo, hi) = (lit(low)?, lit(high)?);
                let inside = (self.below(c, &hi, true)? - self.below(c, &lo, false)?).max(0.0);
                if *negated {
                    (self.non_null(self.column(c)?) - inside).max(0.0)
                } else {
                    inside
                }
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let c = col(expr)?;
                let mut s = 0.0;
                for item in list {
                    s += self.eq(c, lit(item).as_ref())?;
                }
                let s = s.min(self.non_null(self.column(c)?));
                if *negated {
                    (self.non_null(self.column(c)?) - s).max(0.0)
                } else {
                    s
                }
            }
            _ => return None,
        })
    }

    fn selectivity_or_default(&self, f: &Expr) -> f64 {
        self.selectivity(f).unwrap_or(cost::FILTER_SELECTIVITY)
    }

    /// Share of rows where `column op v` holds (`v` unknown: a parameter).
    fn compare(&self, c: usize, op: CmpOp, v: Option<&Value>) -> Option<f64> {
        let cs = self.column(c)?;
        let non_null = self.non_null(cs);
        Some(match (op, v) {
            (CmpOp::Eq, v) => self.eq(c, v)?,
            (CmpOp::NotEq, v) => (non_null - self.eq(c, v)?).max(0.0),
            (_, None) => cost::RANGE_ONE_SELECTIVITY,
            (CmpOp::Lt, Some(v)) => self.below(c, v, false)?,
            (CmpOp::LtEq, Some(v)) => self.below(c, v, true)?,
            (CmpOp::Gt, Some(v)) => (non_null - self.below(c, v, true)?).max(0.0),
            (CmpOp::GtEq, Some(v)) => (non_null - self.below(c, v, false)?).max(0.0),
        })
    }

    /// Distinct non-NULL values of column `c`.
    pub fn distinct(&self, c: usize) -> Option<f64> {
        self.column(c).map(|cs| cs.distinct as f64)
    }
}

/// Where `v` lies between bucket bounds `lo` and `hi`, 0 to 1, for numbers.
fn interpolate(lo: &Value, hi: &Value, v: &Value) -> Option<f64> {
    let (lo, hi, v) = (number(lo)?, number(hi)?, number(v)?);
    if hi <= lo {
        return None;
    }
    Some(((v - lo) / (hi - lo)).clamp(0.0, 1.0))
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Real(r) => Some(*r),
        _ => None,
    }
}

/// `e` without the affinity conversions binding wraps around it.
fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Affinity(inner, _) => strip(inner),
        e => e,
    }
}

/// Share of a table's rows `filter` keeps when the statistics speak to
/// every one of its conjuncts; `None` otherwise.
pub fn known_selectivity(stats: Stats<'_>, filter: &Expr) -> Option<f64> {
    conjuncts(filter)
        .iter()
        .map(|f| stats.selectivity(f))
        .product()
}

/// Share of a table's rows that all of `filters` keep: from the
/// statistics per conjunct where they speak, [`cost::FILTER_SELECTIVITY`]
/// otherwise.
pub fn filters_selectivity(stats: Option<Stats<'_>>, filters: &[&Expr]) -> f64 {
    filters
        .iter()
        .map(|f| {
            stats
                .and_then(|s| s.selectivity(f))
                .unwrap_or(cost::FILTER_SELECTIVITY)
        })
        .product()
}

/// The conjuncts of `e`.
fn conjuncts(e: &Expr) -> Vec<&Expr> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::And(a, b) => {
                stack.push(b);
                stack.push(a);
            }
            e => out.push(e),
        }
    }
    out
}

/// Rows `plan` is expected to produce (per run, for the inner side of a
/// nested loop).
pub fn rows(plan: &Plan) -> f64 {
    match plan {
        Plan::Single => 1.0,
        Plan::Values { rows } => rows.len() as f64,
        // A few segments per table.
        Plan::System(_) => 10.0,
        Plan::Scan {
            table,
            access,
            filter,
            ..
        } => scan_rows(table, access, filter.as_ref()),
        Plan::Filter { input, predicate } => {
            rows(input) * filters_selectivity(None, &conjuncts(predicate))
        }
        Plan::Project { input, .. }
        | Plan::Window { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Derived { input, .. }
        | Plan::With { input, .. } => rows(input),
        Plan::Limit { input, limit, .. } => {
            let n = rows(input);
            match limit {
                Some(Expr::Literal(Value::Integer(k))) if *k >= 0 => n.min(*k as f64),
                _ => n,
            }
        }
        Plan::Aggregate {
            input, group_by, ..
        } => {
            if group_by.is_empty() {
                1.0
            } else {
                groups(input, group_by)
            }
        }
        Plan::Distinct { input, .. } => rows(input) * cost::DISTINCT_FRACTION,
        Plan::IndexDistinct {
            table, index_no, ..
        } => {
            let first = table
                .indexes()
                .get(*index_no)
                .and_then(|d| d.columns.first().copied());
            first
                .and_then(|c| column_distinct(table, c))
                .unwrap_or(table.row_count() as f64 * cost::DISTINCT_FRACTION)
                .max(1.0)
        }
        Plan::NestedLoop { .. } | Plan::HashJoin { .. } | Plan::IndexJoin { .. } => join_rows(plan),
        Plan::SetOp {
            kind, left, right, ..
        } => {
            let (l, r) = (rows(left), rows(right));
            match kind {
                SetOpKind::Union => l + r,
                SetOpKind::Intersect => l.min(r),
                SetOpKind::Except => l,
            }
        }
        Plan::CteScan { .. } | Plan::WorkingSet { .. } => cost::DERIVED_ROWS,
        Plan::RecursiveCte { base, .. } => rows(base) * 10.0,
    }
    .max(0.0)
}

/// Distinct values of `keys` among the rows `plan` produces: a table
/// column's from its statistics, or the table's size when a unique index
/// covers the column alone, else [`cost::DEFAULT_DISTINCT`]; never more
/// than the rows.
fn keys_distinct(plan: &Plan, keys: &[Expr]) -> f64 {
    let n = rows(plan).max(1.0);
    let one = |k: &Expr| -> f64 {
        let found = match (plan, strip(k)) {
            (Plan::Scan { table, .. }, Expr::Column(c)) => column_distinct(table, *c),
            _ => None,
        };
        found.unwrap_or(cost::DEFAULT_DISTINCT)
    };
    keys.iter().map(one).product::<f64>().clamp(1.0, n)
}

/// Distinct values of column `c` of `table`, where known.
fn column_distinct(table: &cairn_storage::Table, c: usize) -> Option<f64> {
    if let Some(d) = table.stats().and_then(|s| Stats::new(&s).distinct(c)) {
        return Some(d.max(1.0));
    }
    let unique = table.indexes().iter().any(|d| d.unique && d.columns == [c]);
    unique.then(|| (table.row_count() as f64).max(1.0))
}

/// [`rows`] of a join.
fn join_rows(plan: &Plan) -> f64 {
    match plan {
        Plan::NestedLoop {
            left,
            right,
            kind,
            on,
        } => {
            let (l, r) = (rows(left), rows(right));
            let sel = on
                .as_ref()
                .map_or(1.0, |on| filters_selectivity(None, &conjuncts(on)));
            joined(*kind, l, l * r * sel)
        }
        Plan::HashJoin {
            left,
            right,
            kind,
            left_keys,
            right_keys,
            residual,
        } => {
            let (l, r) = (rows(left), rows(right));
            // Each key value of the side with more of them meets l×r/d
            // pairs (the usual containment assumption).
            let d = keys_distinct(left, left_keys).max(keys_distinct(right, right_keys));
            let res = residual
                .as_ref()
                .map_or(1.0, |e| filters_selectivity(None, &conjuncts(e)));
            joined(*kind, l, l * r / d * res)
        }
        Plan::IndexJoin {
            left,
            table,
            index_no,
            keys,
            filter,
            kind,
            residual,
            ..
        } => {
            let l = rows(left);
            // Rows per lookup: the inner table's rows over the distinct
            // keys of the side with more of them (containment, as for a
            // hash join).
            let r = (table.row_count() as f64).max(1.0);
            let d =
                keys_distinct(left, keys).max(inner_keys_distinct(table, *index_no, keys.len()));
            let per = (r / d).min(index_lookup_rows(table, *index_no, keys.len()));
            let f = filter.as_ref().map_or(1.0, |e| {
                let s = table.stats();
                filters_selectivity(s.as_deref().map(Stats::new), &conjuncts(e))
            });
            let res = residual
                .as_ref()
                .map_or(1.0, |e| filters_selectivity(None, &conjuncts(e)));
            joined(*kind, l, l * per * f * res)
        }
        // Not a join: never asked.
        _ => 0.0,
    }
}

/// Distinct keys of the first `key_len` columns of index `index_no`:
/// the table's rows for a unique key, else the columns' statistics, else
/// [`cost::DEFAULT_DISTINCT`] per column; at most the rows.
fn inner_keys_distinct(table: &cairn_storage::Table, index_no: usize, key_len: usize) -> f64 {
    let r = (table.row_count() as f64).max(1.0);
    let Some(def) = table.indexes().get(index_no).cloned() else {
        return cost::DEFAULT_DISTINCT.min(r);
    };
    if def.unique && key_len >= def.columns.len() {
        return r;
    }
    (def.columns.iter().take(key_len))
        .map(|&c| column_distinct(table, c).unwrap_or(cost::DEFAULT_DISTINCT))
        .product::<f64>()
        .clamp(1.0, r)
}

/// A join's output: a LEFT join keeps every left row at least once.
fn joined(kind: JoinKind, left: f64, inner: f64) -> f64 {
    match kind {
        JoinKind::Inner => inner,
        JoinKind::Left => inner.max(left),
    }
}

/// Rows a scan produces: the table's size times the share its access keys
/// and its filter keep.
fn scan_rows(table: &cairn_storage::Table, access: &Access, filter: Option<&Expr>) -> f64 {
    let n = table.row_count() as f64;
    if let Access::Vector { k, .. } = access {
        return match k {
            Expr::Literal(Value::Integer(k)) if *k >= 0 => n.min(*k as f64),
            _ => n,
        };
    }
    let stats = table.stats();
    let mut f = filter.map(conjuncts).unwrap_or_default();
    let Some(s) = stats.as_deref().map(Stats::new) else {
        return default_scan_rows(table, access, &f);
    };
    // The key conditions an index applies; a range's stays as the filter
    // too, and is counted once.
    let keys = access.conditions(table);
    let known: Vec<String> = f.iter().map(|e| format!("{e:?}")).collect();
    f.extend(keys.iter().filter(|k| !known.contains(&format!("{k:?}"))));
    (n * filters_selectivity(Some(s), &f)).min(n)
}

/// [`scan_rows`] of a table without statistics: the fractions the access
/// path was chosen with (`access.rs`), then half the rows per remaining
/// filter conjunct (an IN list an index looks up stays as the filter too:
/// it is not counted twice).
fn default_scan_rows(table: &cairn_storage::Table, access: &Access, filters: &[&Expr]) -> f64 {
    let n = (table.row_count() as f64).max(1.0);
    let def = |no: usize| table.indexes().get(no).cloned();
    let (via, repeated) = match access {
        Access::IndexEq { index_no, key, .. } => match def(*index_no) {
            Some(d) if d.unique && key.len() >= d.columns.len() => (1.0, false),
            _ => (n * cost::EQ_KEY_SELECTIVITY.powi(key.len() as i32), false),
        },
        Access::IndexIn { index_no, keys } => {
            let per = match def(*index_no) {
                Some(d) if d.unique && d.columns.len() == 1 => 1.0,
                _ => n * cost::EQ_KEY_SELECTIVITY,
            };
            (per * keys.len() as f64, true)
        }
        Access::IndexRange { low, high, .. } => {
            let frac = if low.is_some() && high.is_some() {
                cost::RANGE_BOTH_SELECTIVITY
            } else {
                cost::RANGE_ONE_SELECTIVITY
            };
            (n * frac, false)
        }
        _ => (n, false),
    };
    // A range's bounds stay as filters too: not counted twice either.
    let range_col = match access {
        Access::IndexRange { index_no, .. } => {
            def(*index_no).and_then(|d| d.columns.first().copied())
        }
        _ => None,
    };
    let on_range_col = |f: &Expr| match f {
        Expr::Cmp(_, a, b) => [a, b]
            .iter()
            .any(|e| matches!(strip(e), Expr::Column(c) if Some(*c) == range_col)),
        Expr::Between { expr, .. } => {
            matches!(strip(expr), Expr::Column(c) if Some(*c) == range_col)
        }
        _ => false,
    };
    let counted = filters
        .iter()
        .filter(|f| !(repeated && matches!(f, Expr::InList { .. } | Expr::Or(..))))
        .filter(|f| !on_range_col(f))
        .count();
    cost::filtered_rows(via.min(n), counted)
}

/// Rows one lookup of `key_len` key columns of index `index_no` finds.
pub fn index_lookup_rows(table: &cairn_storage::Table, index_no: usize, key_len: usize) -> f64 {
    let n = table.row_count() as f64;
    let Some(def) = table.indexes().get(index_no).cloned() else {
        return cost::INDEX_LOOKUP_ROWS_MIN;
    };
    if def.unique && key_len >= def.columns.len() {
        return 1.0;
    }
    let stats = table.stats();
    let s = stats.as_deref().map(Stats::new);
    let share: f64 = (def.columns.iter().take(key_len))
        .map(|&c| {
            s.and_then(|s| s.eq(c, None))
                .unwrap_or(cost::EQ_KEY_SELECTIVITY)
        })
        .product();
    (n * share).max(1.0)
}

/// Groups a GROUP BY over `input` makes: the product of the keys' distinct
/// counts where the input is a table scan with statistics, else a fixed
/// share of the input; never more than the input's rows.
fn groups(input: &Plan, keys: &[Expr]) -> f64 {
    let n = rows(input);
    let table = match input {
        Plan::Scan { table, .. } => Some(table),
        _ => None,
    };
    let stats = table.and_then(|t| t.stats());
    let s = stats.as_deref().map(Stats::new);
    let distinct: Option<f64> = keys
        .iter()
        .map(|k| match (s, strip(k)) {
            (Some(s), Expr::Column(c)) => s.distinct(*c).map(|d| d.max(1.0)),
            _ => None,
        })
        .product();
    match distinct {
        Some(d) => d.min(n).max(1.0),
        None => (n * cost::DISTINCT_FRACTION).max(1.0).min(n.max(1.0)),
    }
}
