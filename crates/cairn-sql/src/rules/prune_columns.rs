//! Rule `prune_columns`: tells a query level's table scans (and index
//! joins) which of their columns the query reads, so unread columns (often
//! long text or vectors) are never copied out of storage; and stops derived
//! tables, views and CTEs from computing output columns nobody reads (as
//! SQLite does: an error in such a column, `abs(-9223372036854775808)`,
//! never happens).

use std::sync::Arc;

use std::collections::HashMap;

use cairn_core::Value;

use crate::expr::Expr;
use crate::plan::Plan;
use crate::rules::{Rule, Trace};
use crate::scope::Scope;

/// Sets `keep` on the scans of `scope`'s level in `plan`.
pub fn apply(plan: &mut Plan, scope: &Scope, trace: &mut Trace) {
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
        Plan::Scan {
            id, keep, label, ..
        }
        | Plan::IndexJoin {
            id, keep, label, ..
        } if *id != 0 => {
            *keep = keep_of(*id);
            if let Some(k) = keep {
                trace.fire(Rule::PruneColumns, || {
                    let read = k.iter().filter(|x| **x).count();
                    format!("{label} reads {read} of {} columns", k.len())
                });
            }
        }
        _ => {}
    });
}

/// The columns of `scope`'s FROM layout from `offset`, `width` wide, that
/// some expression reads.
fn used_mask(scope: &Scope, offset: usize, width: usize) -> Vec<bool> {
    (offset..offset + width)
        .map(|c| scope.used.get(c).copied().unwrap_or(true))
        .collect()
}

/// Prunes the derived tables of `scope`'s level in `plan` and removes their
/// markers; records which columns of each CTE the level reads in
/// `cte_used` (the CTE bodies are pruned by [`ctes`] once every reference
/// is bound).
pub fn derived(
    plan: &mut Plan,
    scope: &Scope,
    cte_used: &mut HashMap<usize, (Vec<bool>, usize)>,
    trace: &mut Trace,
) {
    for &(id, offset, width) in &scope.cte_refs {
        let mask = used_mask(scope, offset, width);
        if let Some((all, pending)) = cte_used.get_mut(&id) {
            for (a, m) in all.iter_mut().zip(mask) {
                *a |= m;
            }
            *pending = pending.saturating_sub(1);
        }
    }
    plan.visit_mut(&mut |p| {
        let Plan::Derived { id, input } = p else {
            return;
        };
        if let Some(&(_, offset, width)) = scope.derived.iter().find(|d| d.0 == *id) {
            let mask = used_mask(scope, offset, width);
            if let Some(n) = null_unread(input, &mask) {
                trace.fire(Rule::PruneColumns, || {
                    format!("a derived table skips {n} unread columns")
                });
            }
        }
        let input = std::mem::replace(&mut **input, Plan::Single);
        *p = input;
    });
}

/// Prunes each CTE body in `ctes` to the columns its references read
/// (`used`, by CTE id; a CTE nobody references computes no column). A CTE
/// with a reference whose reads were not accounted for (one in a
/// statement level that does not prune) is left whole.
pub fn ctes(
    ctes: &mut [(usize, String, Plan)],
    used: &HashMap<usize, (Vec<bool>, usize)>,
    trace: &mut Trace,
) {
    for (id, name, plan) in ctes.iter_mut() {
        let mask = match used.get(id) {
            Some((_, pending)) if *pending > 0 => continue,
            Some((mask, _)) => mask.clone(),
            None => vec![false; plan.width()],
        };
        if let Some(n) = null_unread(plan, &mask) {
            trace.fire(Rule::PruneColumns, || {
                format!("CTE {name} skips {n} unread columns")
            });
        }
    }
}

/// Replaces the output expressions of `plan` (a projection, possibly under
/// LIMIT) that `keep` marks unread by NULL; returns how many, if any.
/// Other shapes (DISTINCT, set operations, sorts on the output) are left
/// alone: there every column matters.
fn null_unread(plan: &mut Plan, keep: &[bool]) -> Option<usize> {
    match plan {
        Plan::Limit { input, .. } => null_unread(input, keep),
        Plan::Project { exprs, .. } if exprs.len() == keep.len() => {
            let mut n = 0;
            for (e, k) in exprs.iter_mut().zip(keep) {
                if !k && !matches!(e, Expr::Column(_) | Expr::Literal(_)) {
                    *e = Expr::Literal(Value::Null);
                    n += 1;
                }
            }
            (n > 0).then_some(n)
        }
        _ => None,
    }
}
