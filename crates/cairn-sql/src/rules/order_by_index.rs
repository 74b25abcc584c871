//! Rule `order_by_index`: `ORDER BY` keys that are a table's index key (or
//! its rest after an equality prefix) are delivered by reading the index in
//! key order, so the sort goes and a LIMIT can stop the scan early.

use crate::expr::Expr;
use crate::plan::{Access, Plan, SortKey};
use crate::rules::{Rule, Trace};

/// Rewrites `Sort(Filter*(Scan t))` in place into the scan reading an
/// index in order; returns whether it did.
pub fn apply(plan: &mut Plan, trace: &mut Trace) -> bool {
    let Plan::Sort { input, keys } = plan else {
        return false;
    };
    if !index_order(input, keys, trace) {
        return false;
    }
    let input = std::mem::replace(&mut **input, Plan::Single);
    *plan = input;
    true
}

/// Makes the scan under `input` (filters over one table scan; `keys` are
/// expressions over its rows) deliver rows in `keys` order by reading an
/// index in key order. Returns whether it did. Index order puts NULLs
/// first, so only ASC NULLS FIRST and DESC NULLS LAST keys (the defaults)
/// qualify.
pub fn index_order(input: &mut Plan, keys: &[SortKey], trace: &mut Trace) -> bool {
    match index_access(input, keys) {
        Some((label, name, follows, desc)) => {
            trace.fire(Rule::OrderByIndex, || {
                let verb = if follows { "follows" } else { "reads" };
                let dir = if desc { " backwards" } else { "" };
                format!("{label}: ORDER BY {verb} index {name}{dir}")
            });
            true
        }
        None => false,
    }
}

/// The rewrite of [`index_order`]: the scan's label, the index's name,
/// whether an existing index access was kept (rather than a full scan
/// replaced), and whether it reads backwards.
fn index_access<'p>(
    input: &'p mut Plan,
    keys: &[SortKey],
) -> Option<(&'p str, String, bool, bool)> {
    let mut cols = Vec::with_capacity(keys.len());
    for k in keys {
        let Expr::Column(c) = k.expr else {
            return None;
        };
        if k.nulls_first == k.desc {
            return None;
        }
        cols.push(c);
    }
    let desc = keys.first()?.desc;
    if keys.iter().any(|k| k.desc != desc) {
        return None;
    }
    let mut node: &mut Plan = input;
    while let Plan::Filter { input, .. } = node {
        node = input;
    }
    let Plan::Scan {
        table,
        label,
        access,
        with_rowid: false,
        ..
    } = node
    else {
        return None;
    };
    let indexes = table.indexes();
    // Key columns fixed by an equality prefix are constant.
    let (fixed, index_no): (usize, Option<usize>) = match access {
        Access::IndexEq { index_no, key, .. } => (key.len(), Some(*index_no)),
        Access::IndexRange { index_no, .. } => (0, Some(*index_no)),
        Access::Full => (0, None),
        _ => return None,
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
        (Access::Full, _) => {
            let i = indexes.iter().position(fits)?;
            *access = Access::IndexOrder {
                index_no: i,
                reverse: desc,
            };
            Some((label, indexes[i].name.clone(), false, desc))
        }
        (Access::IndexEq { reverse, .. } | Access::IndexRange { reverse, .. }, Some(i)) => {
            let ix = indexes.get(i).filter(|ix| fits(ix))?;
            *reverse = desc;
            Some((label, ix.name.clone(), true, desc))
        }
        _ => None,
    }
}
