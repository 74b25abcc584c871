//! Rule `push_down`: every condition of a FROM clause is tested at the
//! lowest place that sees all it reads. A conjunct over one relation
//! becomes that relation's own filter (so its access path can use it); a
//! conjunct over several waits for the join step that brings them
//! together; one that reads no relation is tested once, before the joins;
//! one with a correlated subquery is tested after all joins.
//!
//! Under a LEFT JOIN only what keeps the meaning moves: WHERE conjuncts on
//! a relation that is never null-extended, and ON conjuncts that read only
//! the joined (right) relation.

use crate::expr::Expr;
use crate::logical::{Conj, JoinType, Layout, Rel};
use crate::rules::{Rule, Trace};

/// Where the conditions of an inner-join graph went that did not become a
/// relation's own filter.
pub struct InnerConds {
    /// Read no relation: tested once, on the first relation's rows.
    pub constants: Vec<Expr>,
    /// Read several relations: tested at the join step that completes them.
    pub pending: Vec<Conj>,
    /// Contain a correlated subquery: tested after every join.
    pub deferred: Vec<Expr>,
}

/// Distributes the conjuncts `conds` of an inner-join graph.
pub fn inner(rels: &mut [Rel], conds: Vec<Expr>, layout: &Layout, trace: &mut Trace) -> InnerConds {
    let mut out = InnerConds {
        constants: Vec::new(),
        pending: Vec::new(),
        deferred: Vec::new(),
    };
    for c in conds {
        if c.has_correlated_subquery() {
            out.deferred.push(c);
            continue;
        }
        let mask = layout.mask_of(&c);
        if mask == 0 {
            out.constants.push(c);
        } else if mask.count_ones() == 1 {
            to_rel(rels, mask.trailing_zeros() as usize, c);
        } else {
            out.pending.push(Conj { expr: c, mask });
        }
    }
    record(rels, trace);
    out
}

/// Distributes the conditions of a graph with LEFT JOINs (joined in FROM
/// order). Returns the ON conditions left at each join step and the WHERE
/// conditions to test after the joins.
pub fn outer(
    rels: &mut [Rel],
    kinds: &[JoinType],
    join_conds: Vec<Vec<Expr>>,
    where_conds: Vec<Expr>,
    layout: &Layout,
    trace: &mut Trace,
) -> (Vec<Vec<Expr>>, Vec<Expr>) {
    for (i, k) in kinds.iter().enumerate() {
        if *k == JoinType::Left {
            // Everything joined after the null-supplying side may see NULLs too.
            rels[i].nullable = true;
        }
    }
    let mut deferred = Vec::new();
    for c in where_conds {
        let mask = layout.mask_of(&c);
        if !c.has_correlated_subquery()
            && mask.count_ones() == 1
            && !rels[mask.trailing_zeros() as usize].nullable
        {
            to_rel(rels, mask.trailing_zeros() as usize, c);
        } else {
            deferred.push(c);
        }
    }
    // ON conditions of a LEFT JOIN that touch only its right side filter
    // that side before the join.
    let mut on_rest: Vec<Vec<Expr>> = (0..rels.len()).map(|_| Vec::new()).collect();
    for (i, conds) in join_conds.into_iter().enumerate() {
        for c in conds {
            if !c.has_correlated_subquery() && layout.mask_of(&c) == 1u128 << i {
                to_rel(rels, i, c);
            } else {
                on_rest[i].push(c);
            }
        }
    }
    record(rels, trace);
    (on_rest, deferred)
}

/// Makes `c` (over the FROM layout) relation `r`'s own filter.
fn to_rel(rels: &mut [Rel], r: usize, mut c: Expr) {
    let off = rels[r].offset;
    c.remap_columns(&|i| i - off);
    rels[r].local.push(c);
}

fn record(rels: &[Rel], trace: &mut Trace) {
    if rels.iter().all(|r| r.local.is_empty()) {
        return;
    }
    trace.fire(Rule::PushDown, || {
        let moved: Vec<String> = rels
            .iter()
            .filter(|r| !r.local.is_empty())
            .map(|r| match r.local.len() {
                1 => format!("1 condition into {}", r.label),
                n => format!("{n} conditions into {}", r.label),
            })
            .collect();
        moved.join(", ")
    });
}
