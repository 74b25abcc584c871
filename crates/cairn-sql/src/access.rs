//! Access-path choice for one table scan: given the filters on a table (in
//! its own row layout), which index, if any, should read its rows, how many
//! rows that is expected to produce, and which filters the index already
//! guarantees. The constants come from `cost.rs`; this module only compares
//! them. It never reads the table's rows (only its size and indexes).

use std::sync::Arc;

use cairn_storage::{IndexDef, Table};

use crate::cost;
use crate::estimate;
use crate::expr::SubqueryRef;
use crate::expr::{CmpOp, Expr};
use crate::plan::{Access, Subqueries, SubqueryPlan};

/// What the filters say about single columns, in the shapes an index can
/// serve. Values are row-independent (constants, parameters, outer
/// columns).
#[derive(Default)]
struct ColumnBounds {
    /// `col = value`, with the position of the filter it came from.
    eq: Vec<(usize, Expr, usize)>,
    /// `col > value` (`false`) or `col >= value` (`true`).
    lows: Vec<(usize, Expr, bool)>,
    /// `col < value` (`false`) or `col <= value` (`true`).
    highs: Vec<(usize, Expr, bool)>,
    /// `col IN (value, ...)`.
    ins: Vec<(usize, Vec<Expr>)>,
    /// `col IN (SELECT ...)`, uncorrelated, with the subquery's estimated
    /// rows.
    in_sets: Vec<(usize, SubqueryRef, f64)>,
}

fn column_bounds(filters: &[Expr], subs: Option<&Subqueries>) -> ColumnBounds {
    let mut b = ColumnBounds::default();
    for (fi, f) in filters.iter().enumerate() {
        match f {
            Expr::InSubquery {
                expr,
                sub,
                negated: false,
            } if !sub.correlated => {
                let plan = subs.and_then(|s| s.get(sub.id));
                if let (Expr::Column(c), Some(SubqueryPlan::PerRow(p))) = (&**expr, plan) {
                    b.in_sets.push((*c, *sub, estimate::rows(p).max(1.0)));
                }
            }
            Expr::Cmp(op, x, y) => {
                let (c, op, v) = match (&**x, &**y) {
                    (Expr::Column(c), v) if v.is_row_independent() => (*c, *op, v.clone()),
                    (v, Expr::Column(c)) if v.is_row_independent() => (*c, op.flip(), v.clone()),
                    _ => continue,
                };
                match op {
                    CmpOp::Eq => b.eq.push((c, v, fi)),
                    CmpOp::Gt => b.lows.push((c, v, false)),
                    CmpOp::GtEq => b.lows.push((c, v, true)),
                    CmpOp::Lt => b.highs.push((c, v, false)),
                    CmpOp::LtEq => b.highs.push((c, v, true)),
                    CmpOp::NotEq => {}
                }
            }
            Expr::Between {
                expr,
                low,
                high,
                negated: false,
            } => {
                if let Expr::Column(c) = &**expr {
                    if low.is_row_independent() && high.is_row_independent() {
                        b.lows.push((*c, (**low).clone(), true));
                        b.highs.push((*c, (**high).clone(), true));
                    }
                }
            }
            Expr::InList {
                expr,
                list,
                negated: false,
            } => {
                if let Expr::Column(c) = &**expr {
                    if !list.is_empty() && list.iter().all(Expr::is_row_independent) {
                        b.ins.push((*c, list.clone()));
                    }
                }
            }
            Expr::Or(..) => {
                if let Some((c, list)) = or_of_equalities(f) {
                    b.ins.push((c, list));
                }
            }
            _ => {}
        }
    }
    b
}

/// `c = v1 OR c = v2 OR ...` (one column, values independent of the row)
/// read as `c IN (v1, v2, ...)`: an index on `c` looks each value up. The
/// OR stays as the scan's filter.
fn or_of_equalities(e: &Expr) -> Option<(usize, Vec<Expr>)> {
    let mut col = None;
    let mut values = Vec::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Or(a, b) => {
                stack.push(b);
                stack.push(a);
            }
            Expr::Cmp(CmpOp::Eq, x, y) => {
                let (c, v) = match (&**x, &**y) {
                    (Expr::Column(c), v) | (v, Expr::Column(c)) if v.is_row_independent() => {
                        (*c, v)
                    }
                    _ => return None,
                };
                if col.is_some_and(|k| k != c) {
                    return None;
                }
                col = Some(c);
                values.push(v.clone());
            }
            _ => return None,
        }
    }
    Some((col?, values))
}

/// How index `index_no` (`idx`) would serve `b` on a table costed as `rows`
/// rows: the access, its cost, and the filters an equality key implies.
/// None when the index serves none of them. An equality prefix beats an
/// IN list on the first column, which beats a range on it.
fn index_access(
    index_no: usize,
    idx: &IndexDef,
    b: &ColumnBounds,
    rows: f64,
) -> Option<(Access, f64, Vec<usize>)> {
    let mut key = Vec::new();
    let mut implied = Vec::new();
    for c in &idx.columns {
        match b.eq.iter().find(|(ec, _, _)| ec == c) {
            Some((_, v, fi)) => {
                key.push(v.clone());
                implied.push(*fi);
            }
            None => break,
        }
    }
    let &first = idx.columns.first()?;
    if !key.is_empty() {
        let cost = if idx.unique && key.len() == idx.columns.len() {
            cost::UNIQUE_LOOKUP_ROWS
        } else {
            (rows * cost::EQ_KEY_SELECTIVITY.powi(key.len() as i32))
                .max(cost::INDEX_LOOKUP_ROWS_MIN)
        };
        let access = Access::IndexEq {
            index_no,
            key,
            reverse: false,
        };
        return Some((access, cost, implied));
    }
    if let Some(&(_, sub, n)) = b.in_sets.iter().find(|(c, _, _)| *c == first) {
        let per = if idx.unique && idx.columns.len() == 1 {
            cost::UNIQUE_LOOKUP_ROWS
        } else {
            (rows * cost::EQ_KEY_SELECTIVITY).max(cost::INDEX_LOOKUP_ROWS_MIN)
        };
        let access = Access::IndexInSet { index_no, sub };
        // Each value is a lookup; running the subquery is paid either way.
        // When it returns too many values for that to pay, the executor
        // scans the table instead, so this is never worse than a scan.
        let cost = (per * n * cost::INDEX_ROW_COST).min(rows * cost::IN_SET_FALLBACK_SHARE);
        return Some((access, cost, Vec::new()));
    }
    if let Some((_, list)) = b.ins.iter().find(|(c, _)| *c == first) {
        let per = if idx.unique && idx.columns.len() == 1 {
            cost::UNIQUE_LOOKUP_ROWS
        } else {
            (rows * cost::EQ_KEY_SELECTIVITY).max(cost::INDEX_LOOKUP_ROWS_MIN)
        };
        let access = Access::IndexIn {
            index_no,
            keys: list.clone(),
        };
        return Some((access, per * list.len() as f64, Vec::new()));
    }
    let bound = |bounds: &[(usize, Expr, bool)]| {
        let found = bounds.iter().find(|(c, _, _)| *c == first);
        found.map(|(_, v, inc)| (v.clone(), *inc))
    };
    let (low, high) = (bound(&b.lows), bound(&b.highs));
    if low.is_none() && high.is_none() {
        return None;
    }
    let frac = if low.is_some() && high.is_some() {
        cost::RANGE_BOTH_SELECTIVITY
    } else {
        cost::RANGE_ONE_SELECTIVITY
    };
    let access = Access::IndexRange {
        index_no,
        low,
        high,
        reverse: false,
    };
    Some((
        access,
        (rows * frac).max(cost::INDEX_LOOKUP_ROWS_MIN),
        Vec::new(),
    ))
}

/// Chooses how to read a table given filters on it (in its own layout), and
/// estimates the rows that come out.
pub fn choose_access(table: &Arc<Table>, filters: &[Expr]) -> (Access, f64) {
    let (access, est, _) = choose_access_implying(table, filters, None);
    (access, est)
}

/// [`choose_access`], also returning the positions of the filters an index
/// equality access already guarantees (so the scan need not re-check them).
/// With the statement's `subs`, an uncorrelated `col IN (SELECT ...)` may
/// look its values up in an index on `col`.
pub fn choose_access_implying(
    table: &Arc<Table>,
    filters: &[Expr],
    subs: Option<&Subqueries>,
) -> (Access, f64, Vec<usize>) {
    // Output estimates use the real size; costs assume at least
    // cost::TABLE_ROWS_MIN rows (see there why).
    let actual = (table.row_count() as f64).max(1.0);
    let rows = actual.max(cost::TABLE_ROWS_MIN);
    let bounds = column_bounds(filters, subs);
    // With statistics, what comes out is the filters' share of the table
    // whatever the path, and an index path costs its keys' share.
    let stats = table.stats();
    let stats = stats.as_deref().map(estimate::Stats::new);
    let all: Vec<&Expr> = filters.iter().collect();
    let out = match stats {
        Some(s) => (actual * estimate::filters_selectivity(Some(s), &all)).max(1.0),
        None => cost::filtered_rows(actual, filters.len()).max(1.0),
    };
    let mut best = (Access::Full, out, rows);
    let mut best_implied: Vec<usize> = Vec::new();
    for (i, idx) in table.indexes().iter().enumerate() {
        let Some((access, mut cost, implied)) = index_access(i, idx, &bounds, rows) else {
            continue;
        };
        let keyed = !matches!(access, Access::IndexInSet { .. });
        if let Some(s) = stats.filter(|_| keyed && cost > cost::UNIQUE_LOOKUP_ROWS) {
            let keys = access.conditions(table);
            let keys: Vec<&Expr> = keys.iter().collect();
            cost = (rows * estimate::filters_selectivity(Some(s), &keys))
                .max(cost::INDEX_LOOKUP_ROWS_MIN)
                * cost::INDEX_ROW_COST;
        }
        if cost < best.2 {
            best_implied = implied;
            // Without statistics, the same fraction of the real table
            // comes out.
            let est = match stats {
                Some(_) => out,
                None => (cost * actual / rows).max(1.0).min(best.1),
            };
            best = (access, est, cost);
        }
    }
    (best.0, best.1, best_implied)
}
