//! Rule `group_by_order`: in a query with GROUP BY and a LIMIT (and no
//! ORDER BY), read the driving table through an index whose order keeps
//! each group's rows together, so the aggregate streams: a group goes out
//! as soon as the next one starts and the LIMIT stops the scan after the
//! groups it needs (`SELECT u.name, count(*) FROM users u JOIN orders o ON
//! ... GROUP BY u.id, u.name LIMIT 100` reads about 100 users, not all).
//!
//! Rows stay grouped when the index's leading columns are group keys and
//! every other group key is one of them or is determined by them (a column
//! of the same table whose unique index they cover). Joins keep their left
//! (driving) input's order, so the driving table may be joined to others.

use cairn_storage::IndexDef;

use crate::expr::{CmpOp, Expr};
use crate::plan::{Access, Plan};
use crate::rules::{Rule, Trace};

/// Makes `input` (an aggregate's input, `group_by` over its rows) deliver
/// each group's rows together; returns whether it did.
pub fn apply(input: &mut Plan, group_by: &[Expr], trace: &mut Trace) -> bool {
    keep_together(input, group_by, "GROUP BY", trace)
}

/// Makes `input` deliver the rows that share the values of `keys` (plain
/// columns of its rows) together; `what` names the clause in the trace.
pub fn keep_together(input: &mut Plan, keys: &[Expr], what: &str, trace: &mut Trace) -> bool {
    let group_by = keys;
    let mut cols = Vec::with_capacity(group_by.len());
    for g in group_by {
        let Expr::Column(c) = g else { return false };
        cols.push(*c);
    }
    if cols.is_empty() {
        return false;
    }
    match driving_scan(input, cols) {
        Some((node, cols)) => order_scan(node, &cols, what, trace),
        None => false,
    }
}

/// The table scan that drives `plan` (through filters, projections and the
/// left side of joins), with `cols` mapped to its columns; `None` when a
/// key is not a plain column of that scan.
fn driving_scan(plan: &mut Plan, mut cols: Vec<usize>) -> Option<(&mut Plan, Vec<usize>)> {
    let mut node = plan;
    loop {
        node = match node {
            Plan::Filter { input, .. } => input,
            Plan::Project { input, exprs } => {
                for c in cols.iter_mut() {
                    let Some(Expr::Column(j)) = exprs.get(*c) else {
                        return None;
                    };
                    *c = *j;
                }
                input
            }
            Plan::IndexJoin { left, .. }
            | Plan::HashJoin { left, .. }
            | Plan::NestedLoop { left, .. } => {
                let w = left.width();
                if cols.iter().any(|c| *c >= w) {
                    return None;
                }
                left
            }
            Plan::Scan {
                with_rowid: false, ..
            } => return Some((node, cols)),
            _ => return None,
        };
    }
}

/// Whether reading `ix` in order (after `fixed` leading columns held
/// constant by an equality lookup) keeps the rows of each group of `cols`
/// together. `not_null[c]`: column `c` is NOT NULL (a unique index
/// determines the other columns only where its key has no NULL).
fn keeps_groups(
    ix: &IndexDef,
    fixed: usize,
    cols: &[usize],
    indexes: &[IndexDef],
    not_null: &[bool],
) -> bool {
    let lead: Vec<usize> = (ix.columns.iter().skip(fixed))
        .take_while(|c| cols.contains(c))
        .copied()
        .collect();
    if lead.is_empty() {
        return false;
    }
    let covered: Vec<usize> = ix.columns[..fixed.min(ix.columns.len())]
        .iter()
        .chain(&lead)
        .copied()
        .collect();
    let determined = indexes.iter().any(|u| {
        u.unique
            && (u.primary || u.columns.iter().all(|c| not_null.get(*c) == Some(&true)))
            && u.columns.iter().all(|c| covered.contains(c))
    });
    cols.iter().all(|c| covered.contains(c)) || determined
}

/// Switches `scan` to an order that keeps the groups of `cols` together.
fn order_scan(scan: &mut Plan, cols: &[usize], what: &str, trace: &mut Trace) -> bool {
    let Plan::Scan {
        table,
        label,
        access,
        filter,
        ..
    } = scan
    else {
        return false;
    };
    let indexes = table.indexes();
    let not_null: Vec<bool> = (table.schema().columns.iter())
        .map(|c| !c.nullable)
        .collect();
    // An equality lookup already in place may keep the groups together.
    if let Access::IndexEq { index_no, key, .. } = access {
        if indexes
            .get(*index_no)
            .is_some_and(|ix| keeps_groups(ix, key.len(), cols, &indexes, &not_null))
        {
            let name = &indexes[*index_no].name;
            trace.fire(Rule::GroupByOrder, || {
                format!("{label}: {what} streams along index {name}")
            });
            return true;
        }
    }
    let Some(i) = indexes
        .iter()
        .position(|ix| keeps_groups(ix, 0, cols, &indexes, &not_null))
    else {
        return false;
    };
    let moved = match std::mem::replace(access, Access::Full) {
        Access::Full => Vec::new(),
        // The lookup's equalities become a filter on the ordered read.
        Access::IndexEq { index_no, key, .. } => {
            let Some(ix) = indexes.get(index_no) else {
                return false;
            };
            (ix.columns.iter().zip(key))
                .map(|(c, k)| Expr::Cmp(CmpOp::Eq, Box::new(Expr::Column(*c)), Box::new(k)))
                .collect()
        }
        other => {
            *access = other;
            return false;
        }
    };
    *access = Access::IndexOrder {
        index_no: i,
        reverse: false,
    };
    let conds = filter.take().into_iter().chain(moved);
    *filter = conds.reduce(|a, b| Expr::And(Box::new(a), Box::new(b)));
    let name = &indexes[i].name;
    trace.fire(Rule::GroupByOrder, || {
        format!("{label}: {what} streams along index {name}")
    });
    true
}
