//! Rule `fold_projections`: the select list's projection reads through the
//! column reordering that join ordering puts above the joins (a `Project`
//! of plain columns), so that reordering is dropped and no row is copied
//! just to change its column order. It looks through the `Limit`, `Sort`
//! and `Filter` operators between the two, remapping their expressions.
//!
//! Not when any of those expressions holds a subquery or a window
//! reference: a correlated subquery's plan reads the row it is evaluated
//! against by position, in the reordered layout.

use crate::expr::Expr;
use crate::plan::Plan;
use crate::rules::{Rule, Trace};

/// Folds a column reordering under the projection `plan` (if it is one).
pub fn apply(plan: &mut Plan, trace: &mut Trace) {
    let Plan::Project { input, exprs } = plan else {
        return;
    };
    if exprs.iter().any(reads_by_position) {
        return;
    }
    let Some(map) = take_reordering(input) else {
        return;
    };
    remap(exprs.iter_mut(), &map);
    trace.fire(Rule::FoldProjections, || {
        format!(
            "projection reads through a reordering of {} columns",
            map.len()
        )
    });
}

/// Whether `e` holds a subquery (its plan reads this row by position) or
/// a window reference.
fn reads_by_position(e: &Expr) -> bool {
    let mut found = false;
    e.walk(&mut |x| {
        if matches!(
            x,
            Expr::ScalarSubquery(_)
                | Expr::GroupedSubquery(_)
                | Expr::Exists { .. }
                | Expr::InSubquery { .. }
                | Expr::WindowRef(_)
        ) {
            found = true;
        }
    });
    found
}

fn remap<'e>(exprs: impl Iterator<Item = &'e mut Expr>, map: &[usize]) {
    for e in exprs {
        e.remap_columns(&|i| map.get(i).copied().unwrap_or(i));
    }
}

/// Removes the reordering at the bottom of a `Limit`/`Sort`/`Filter`
/// chain starting at `p`, remapping the chain's expressions, and returns
/// where each of its output columns came from; `None` (nothing changed)
/// when there is none or the chain cannot be remapped.
fn take_reordering(p: &mut Plan) -> Option<Vec<usize>> {
    match p {
        Plan::Limit { input, .. } => take_reordering(input),
        Plan::Sort { input, keys } => {
            if keys.iter().any(|k| reads_by_position(&k.expr)) {
                return None;
            }
            let map = take_reordering(input)?;
            remap(keys.iter_mut().map(|k| &mut k.expr), &map);
            Some(map)
        }
        Plan::Filter { input, predicate } => {
            if reads_by_position(predicate) {
                return None;
            }
            let map = take_reordering(input)?;
            remap(std::iter::once(predicate), &map);
            Some(map)
        }
        Plan::Project { input, exprs } => {
            let map = exprs
                .iter()
                .map(|e| match e {
                    Expr::Column(c) => Some(*c),
                    _ => None,
                })
                .collect::<Option<Vec<usize>>>()?;
            let inner = std::mem::replace(&mut **input, Plan::Single);
            *p = inner;
            Some(map)
        }
        _ => None,
    }
}
