//! Rule `decorrelate`: a correlated scalar aggregate subquery whose only
//! links to the outer row are equalities (`(SELECT sum(x) FROM t WHERE
//! t.k = o.k)`) is computed once, grouped by those keys, and looked up per
//! outer row, instead of being run once per outer row. The per-row plan is
//! kept: the executor runs it while few outer rows have been seen, and
//! switches to the grouped plan after a threshold (see `GroupedSubquery`).

use std::sync::Arc;

use crate::access::choose_access;
use crate::expr::{and_all, split_and, CmpOp, Expr};
use crate::plan::{Access, GroupedSubquery, Plan, SubqueryPlan};
use crate::rules::{Rule, Trace};

/// The plan of a correlated scalar subquery `plan`: grouped when the rule
/// applies, per row otherwise.
pub fn apply(plan: Plan, trace: &mut Trace) -> SubqueryPlan {
    let Some(g) = grouped(&plan) else {
        return SubqueryPlan::PerRow(plan);
    };
    trace.fire(Rule::Decorrelate, || {
        format!(
            "scalar subquery over {} computed once per group of {}, looked up per row",
            g.inner.name(),
            match g.keys.len() {
                1 => "1 key".to_string(),
                n => format!("{n} keys"),
            }
        )
    });
    SubqueryPlan::Grouped(GroupedSubquery { per_row: plan, ..g })
}

/// True if `e` reads any enclosing query's row (directly, or through a
/// correlated subquery).
fn reads_outer(e: &Expr) -> bool {
    let mut found = false;
    e.walk(&mut |x| match x {
        Expr::Outer { .. } | Expr::GroupedSubquery(_) => found = true,
        Expr::InSubquery { sub, .. } | Expr::Exists { sub, .. } | Expr::ScalarSubquery(sub) => {
            found |= sub.correlated
        }
        _ => {}
    });
    found
}

/// Recognises a correlated scalar aggregate subquery whose only links to
/// the outer row are equalities `t.col = <outer expression>`:
/// `Project(Aggregate(Scan))` with no GROUP BY. Returns the grouped form
/// with `per_row` still to be filled in.
fn grouped(plan: &Plan) -> Option<GroupedSubquery> {
    let Plan::Project { input, exprs } = plan else {
        return None;
    };
    let [project] = &exprs[..] else { return None };
    let Plan::Aggregate {
        input: scan,
        group_by,
        aggs,
        ..
    } = &**input
    else {
        return None;
    };
    if !group_by.is_empty() {
        return None;
    }
    let Plan::Scan {
        table,
        label,
        access,
        filter,
        with_rowid: false,
        id,
        keep,
    } = &**scan
    else {
        return None;
    };
    if reads_outer(project)
        || aggs
            .iter()
            .any(|a| a.args.iter().any(reads_outer) || a.filter.as_ref().is_some_and(reads_outer))
    {
        return None;
    }
    let links = Links::split(conjuncts(table, access, filter.as_ref())?)?;
    let n = links.inner_keys.len();
    let (access, _) = choose_access(table, &links.rest);
    let grouped = Plan::Aggregate {
        input: Box::new(Plan::Scan {
            table: table.clone(),
            label: label.clone(),
            access,
            filter: and_all(links.rest),
            with_rowid: false,
            id: *id,
            keep: keep.clone(),
        }),
        group_by: links.inner_keys,
        ordered: false,
        aggs: aggs.clone(),
    };
    let mut project = project.clone();
    project.remap_columns(&|j| j + n);
    Some(GroupedSubquery {
        plan: grouped,
        keys: links.outer_keys,
        project,
        aggs: aggs.clone(),
        per_row: Plan::Single,
        inner: table.clone(),
    })
}

/// Every condition the subquery's scan applies: its filter's conjuncts and
/// the equalities its index lookup guarantees (which the planner dropped
/// from the filter). `None` if the access path's index is gone.
fn conjuncts(
    table: &Arc<cairn_storage::Table>,
    access: &Access,
    filter: Option<&Expr>,
) -> Option<Vec<Expr>> {
    let mut conjuncts = Vec::new();
    if let Some(f) = filter {
        split_and(f.clone(), &mut conjuncts);
    }
    // Other access paths keep every conjunct in the filter.
    if let Access::IndexEq { index_no, key, .. } = access {
        let cols = table.indexes().get(*index_no)?.columns.clone();
        for (c, k) in cols.iter().zip(key) {
            conjuncts.push(Expr::Cmp(
                CmpOp::Eq,
                Box::new(Expr::Column(*c)),
                Box::new(k.clone()),
            ));
        }
    }
    Some(conjuncts)
}

/// A subquery's conditions split into its links to the outer row
/// (`inner_keys[i] = outer_keys[i]`) and the rest.
struct Links {
    /// Columns of the subquery's table.
    inner_keys: Vec<Expr>,
    /// Expressions in the outer row's terms.
    outer_keys: Vec<Expr>,
    /// Conditions on the subquery's table alone.
    rest: Vec<Expr>,
}

impl Links {
    /// `None` when a condition reads the outer row other than through an
    /// equality with a column, or when there is no link at all.
    fn split(conjuncts: Vec<Expr>) -> Option<Links> {
        let mut links = Links {
            inner_keys: Vec::new(),
            outer_keys: Vec::new(),
            rest: Vec::new(),
        };
        for c in conjuncts {
            if let Some((col, o)) = outer_link(&c) {
                links.inner_keys.push(Expr::Column(col));
                links.outer_keys.push(o);
            } else if reads_outer(&c) {
                return None;
            } else {
                links.rest.push(c);
            }
        }
        (!links.inner_keys.is_empty()).then_some(links)
    }
}

/// `t.col = <outer expression>` (either way round): the column and the
/// outer expression in the outer row's terms.
fn outer_link(c: &Expr) -> Option<(usize, Expr)> {
    let Expr::Cmp(CmpOp::Eq, a, b) = c else {
        return None;
    };
    let (col, mut o) = match (&**a, &**b) {
        (Expr::Column(col), o) if outer_only(o) => (*col, o.clone()),
        (o, Expr::Column(col)) if outer_only(o) => (*col, o.clone()),
        _ => return None,
    };
    // In the outer row's terms, `outer1.#i` is just `#i`.
    o.rewrite(&mut |x| {
        if let Expr::Outer { depth: 1, index } = x {
            *x = Expr::Column(*index);
        }
    });
    Some((col, o))
}

/// An expression of the outer row only: outer references one level up, no
/// columns of the subquery's own table, no subqueries.
fn outer_only(e: &Expr) -> bool {
    let mut ok = true;
    let mut any_outer = false;
    e.walk(&mut |x| match x {
        Expr::Outer { depth: 1, .. } => any_outer = true,
        Expr::Outer { .. }
        | Expr::Column(_)
        | Expr::InSubquery { .. }
        | Expr::Exists { .. }
        | Expr::ScalarSubquery(_)
        | Expr::GroupedSubquery(_)
        | Expr::WindowRef(_) => ok = false,
        _ => {}
    });
    ok && any_outer
}
