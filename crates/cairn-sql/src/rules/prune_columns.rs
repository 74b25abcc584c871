//! Rule `prune_columns`: tells a query level's table scans (and index
//! joins) which of their columns the query reads, so unread columns (often
//! long text or vectors) are never copied out of storage.

use std::sync::Arc;

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
