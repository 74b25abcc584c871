//! Rule `loose_index_distinct`: `SELECT DISTINCT col FROM t` and
//! `SELECT count(DISTINCT col) FROM t` (no filter, nothing else selected,
//! `col` the first column of an index) read the index's distinct keys
//! instead of every row.

use crate::expr::Expr;
use crate::plan::{Access, AggCall, AggFunc, Plan};
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
    let Some(keys) = index_keys(scan, c, "distinct keys", trace) else {
        return false;
    };
    *plan = keys;
    true
}

/// `count(DISTINCT col)` alone over `t` (no filter, no GROUP BY, `col` the
/// first column of an index): counts the index's distinct keys instead of
/// hashing every row's value. Rewrites the aggregate's `input` and the
/// call in place; returns whether it did.
pub fn count_distinct(
    input: &mut Plan,
    group_by: &[Expr],
    aggs: &mut [AggCall],
    trace: &mut Trace,
) -> bool {
    let [call] = aggs else { return false };
    let counts_one_column = call.func == AggFunc::Count
        && call.distinct
        && call.filter.is_none()
        && matches!(call.args[..], [Expr::Column(_)]);
    if !group_by.is_empty() || !counts_one_column {
        return false;
    }
    let [Expr::Column(c)] = call.args[..] else {
        return false;
    };
    let Some(keys) = index_keys(input, c, "count(DISTINCT) over the distinct keys", trace) else {
        return false;
    };
    *input = keys;
    // Each key comes once; count() skips the NULL key.
    call.args = vec![Expr::Column(0)];
    call.distinct = false;
    true
}

/// The distinct keys of an index led by column `c`, in place of `scan` (a
/// full scan with no filter); `what` says in the trace what they serve.
fn index_keys(scan: &Plan, c: usize, what: &str, trace: &mut Trace) -> Option<Plan> {
    let Plan::Scan {
        table,
        label,
        access: Access::Full,
        filter: None,
        with_rowid: false,
        ..
    } = scan
    else {
        return None;
    };
    let indexes = table.indexes();
    let index_no = indexes
        .iter()
        .position(|ix| ix.columns.first() == Some(&c))?;
    trace.fire(Rule::LooseIndexDistinct, || {
        format!("{label}: {what} of index {}", indexes[index_no].name)
    });
    Some(Plan::IndexDistinct {
        table: table.clone(),
        label: label.clone(),
        index_no,
    })
}
