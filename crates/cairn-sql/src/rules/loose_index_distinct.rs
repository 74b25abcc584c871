//! Rule `loose_index_distinct`: `SELECT DISTINCT col FROM t` (no filter,
//! nothing else selected, `col` the first column of an index) reads the
//! index's distinct keys instead of every row.

use crate::expr::Expr;
use crate::plan::{Access, Plan};
use crate::rules::{Rule, Trace};

/// Rewrites `Distinct(Project([col], Scan t))` in place; returns whether it
/// did.
pub fn apply(plan: &mut Plan, trace: &mut Trace) -> bool {
    let Plan::Distinct { input, width: 1 } = plan else {
        return false;
    };
    let Plan::Project { input: scan, exprs } = &**input else {
        return false;
    };
    let [Expr::Column(c)] = exprs[..] else {
        return false;
    };
    let Plan::Scan {
        table,
        label,
        access: Access::Full,
        filter: None,
        with_rowid: false,
        ..
    } = &**scan
    else {
        return false;
    };
    let indexes = table.indexes();
    let Some(index_no) = indexes.iter().position(|ix| ix.columns.first() == Some(&c)) else {
        return false;
    };
    trace.fire(Rule::LooseIndexDistinct, || {
        format!("{label}: distinct keys of index {}", indexes[index_no].name)
    });
    *plan = Plan::IndexDistinct {
        table: table.clone(),
        label: label.clone(),
        index_no,
    };
    true
}
