//! Physical planning of a FROM clause: a [`JoinGraph`] becomes an operator
//! tree. The rule `push_down` places the conditions, each base table gets
//! its access path (`access.rs`), the rule `join_order` orders inner joins,
//! and each join step gets a method: an index nested-loop join when the
//! joined table has an index on the join keys and probing it beats reading
//! it (`cost.rs`), a hash join on equalities otherwise, a nested loop when
//! there is no equality. Graphs with LEFT JOINs are joined left-deep in
//! FROM order, so the row layout stays the FROM layout.

use std::sync::Arc;

use cairn_core::{Error, Result};
use cairn_storage::Table;

use crate::access::choose_access_implying;
use crate::bind::BindState;
use crate::cost;
use crate::expr::{and_all, CmpOp, Expr};
use crate::logical::{JoinGraph, JoinType, Layout, Rel, RelSource};
use crate::plan::{JoinKind, Plan};
use crate::rules::{join_order, push_down};

/// A relation with its access path chosen.
struct BuiltRel {
    plan: Plan,
    /// Estimated rows after its own filters.
    est: f64,
    /// The base table and its label, for index joins.
    table: Option<(Arc<Table>, String)>,
    local: Vec<Expr>,
}

/// The operator tree for `graph`, producing rows in the FROM layout.
pub fn plan_joins(graph: JoinGraph, bind: &mut BindState) -> Result<Plan> {
    let layout = graph.layout();
    if graph.has_outer() {
        left_deep(graph, &layout, bind)
    } else {
        inner(graph, &layout, bind)
    }
}

/// Chooses `rel`'s access path; registers a base table's scan with the
/// current scope (for `prune_columns`).
fn build_rel(rel: Rel, bind: &mut BindState) -> BuiltRel {
    match rel.source {
        RelSource::Table(table) => {
            let subs = Some(&bind.subqueries);
            let (access, est, implied) = choose_access_implying(&table, &rel.local, subs);
            // The index lookup guarantees its key equalities.
            let checks: Vec<Expr> = rel
                .local
                .iter()
                .enumerate()
                .filter(|(i, _)| !implied.contains(i))
                .map(|(_, e)| e.clone())
                .collect();
            let id = bind.next_id();
            if let Some(scope) = bind.scopes.last_mut() {
                scope.table_scans.push((id, rel.offset, rel.width));
            }
            BuiltRel {
                plan: Plan::Scan {
                    table: table.clone(),
                    label: rel.label.clone(),
                    access,
                    filter: and_all(checks),
                    with_rowid: rel.with_rowid,
                    id,
                    keep: None,
                },
                est,
                table: Some((table, rel.label)),
                local: rel.local,
            }
        }
        RelSource::Plan(p) => {
            let est = cost::filtered_rows(cost::DERIVED_ROWS, rel.local.len());
            // Registered so `prune_columns` can skip the output columns the
            // query never reads.
            let p = match p {
                Plan::CteScan { id, .. } => {
                    if let Some(scope) = bind.scopes.last_mut() {
                        scope.cte_refs.push((id, rel.offset, rel.width));
                    }
                    let used = bind
                        .cte_used
                        .entry(id)
                        .or_insert_with(|| (vec![false; rel.width], 0));
                    used.1 += 1;
                    p
                }
                p => {
                    let id = bind.next_id();
                    if let Some(scope) = bind.scopes.last_mut() {
                        scope.derived.push((id, rel.offset, rel.width));
                    }
                    Plan::Derived {
                        id,
                        input: Box::new(p),
                    }
                }
            };
            BuiltRel {
                plan: p.filtered(rel.local.clone()),
                est,
                table: None,
                local: rel.local,
            }
        }
    }
}

/// Inner and comma joins, in the order `join_order` picks, each step an
/// index, hash or nested-loop join.
fn inner(graph: JoinGraph, layout: &Layout, bind: &mut BindState) -> Result<Plan> {
    let JoinGraph {
        mut rels,
        join_conds,
        where_conds,
        ..
    } = graph;
    let n = rels.len();
    let total: usize = rels.iter().map(|r| r.width).sum();
    let mut conds = where_conds;
    conds.extend(join_conds.into_iter().flatten());
    let pushed = push_down::inner(&mut rels, conds, layout, &mut bind.trace);
    let labels: Vec<String> = rels.iter().map(|r| r.label.clone()).collect();
    let mut built: Vec<Option<BuiltRel>> =
        rels.into_iter().map(|r| Some(build_rel(r, bind))).collect();
    let est: Vec<f64> = built
        .iter()
        .map(|b| b.as_ref().map_or(f64::MAX, |b| b.est))
        .collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let order = join_order::greedy(&est, &pushed.pending, layout, &labels, &mut bind.trace);
    if order.len() != n {
        return Err(Error::internal("join ordering left a relation out"));
    }
    let mut pending = pushed.pending;
    let mut steps = Step {
        layout,
        pos: vec![usize::MAX; total],
        width: 0,
        joined: 0,
    };
    let first = order[0];
    let first_rel = built[first]
        .take()
        .ok_or_else(|| Error::internal("relation taken twice"))?;
    let mut est_rows = first_rel.est;
    let mut plan = first_rel.plan.filtered(pushed.constants);
    steps.place(first);
    for &cand in &order[1..] {
        let rel = built[cand]
            .take()
            .ok_or_else(|| Error::internal("relation taken twice"))?;
        // Split out the equalities usable as join keys.
        let co = layout.offset(cand);
        let bit = 1u128 << cand;
        let mut left_keys = Vec::new();
        let mut right_keys = Vec::new();
        let mut rest = Vec::new();
        for p in std::mem::take(&mut pending) {
            let usable = p.mask & bit != 0 && (p.mask & !bit) & !steps.joined == 0;
            match (usable, layout.equi_sides(&p.expr, cand)) {
                (true, Some((mut l, mut r))) => {
                    l.remap_columns(&|i| steps.pos[i]);
                    r.remap_columns(&|i| i - co);
                    left_keys.push(l);
                    right_keys.push(r);
                }
                _ => rest.push(p),
            }
        }
        pending = rest;
        let cand_est = rel.est;
        let keyed = !left_keys.is_empty();
        let keys = (left_keys, right_keys);
        plan = join_step(plan, rel, est_rows, steps.width, keys, bind.first_rows)?;
        est_rows = if keyed {
            est_rows.max(cand_est)
        } else {
            est_rows * cand_est
        };
        steps.place(cand);
        // Apply every remaining condition whose relations are all joined.
        let mut now = Vec::new();
        let mut later = Vec::new();
        for p in pending {
            if p.mask & !steps.joined == 0 {
                let mut e = p.expr;
                e.remap_columns(&|i| steps.pos[i]);
                now.push(e);
            } else {
                later.push(p);
            }
        }
        pending = later;
        plan = plan.filtered(now);
    }
    let pos = steps.pos;
    if (0..total).any(|c| pos[c] != c) {
        plan = Plan::Project {
            input: Box::new(plan),
            exprs: (0..total).map(|c| Expr::Column(pos[c])).collect(),
        };
    }
    let leftover: Vec<Expr> = pending.into_iter().map(|p| p.expr).collect();
    Ok(plan.filtered(leftover).filtered(pushed.deferred))
}

/// The joined prefix of an inner-join order: where each FROM column sits
/// in the joined row.
struct Step<'a> {
    layout: &'a Layout,
    /// `pos[c]`: position of FROM-layout column `c` in the joined row.
    pos: Vec<usize>,
    width: usize,
    joined: u128,
}

impl Step<'_> {
    fn place(&mut self, r: usize) {
        let (o, w) = self.layout.rels[r];
        for (k, p) in self.pos.iter_mut().skip(o).take(w).enumerate() {
            *p = self.width + k;
        }
        self.width += w;
        self.joined |= 1u128 << r;
    }
}

/// Joins `rel` to `left` (rows `left_width` wide, about `left_est` of them)
/// on `left_keys[i] = right_keys[i]`: by index, by hash, or (no keys) by a
/// nested loop. With `first_rows` an index lookup is taken whenever there
/// is one (a hash join builds its whole table before the first row).
fn join_step(
    left: Plan,
    rel: BuiltRel,
    left_est: f64,
    left_width: usize,
    (left_keys, right_keys): (Vec<Expr>, Vec<Expr>),
    first_rows: bool,
) -> Result<Plan> {
    let cand_rows = rel
        .table
        .as_ref()
        .map_or(rel.est, |(t, _)| t.row_count() as f64);
    let index_choice = match &rel.table {
        Some((t, _))
            if !left_keys.is_empty()
                && (first_rows || cost::index_join_pays(left_est, cand_rows)) =>
        {
            pick_join_index(t, &right_keys)
        }
        _ => None,
    };
    if let (Some((index_no, order)), Some((table, label))) = (index_choice, rel.table) {
        let mut keys = Vec::new();
        let mut residual = Vec::new();
        let mut used = vec![false; right_keys.len()];
        for k in &order {
            keys.push(left_keys[*k].clone());
            used[*k] = true;
        }
        for (k, u) in used.iter().enumerate() {
            if !u {
                let mut r = right_keys[k].clone();
                r.remap_columns(&|i| i + left_width);
                residual.push(Expr::Cmp(
                    CmpOp::Eq,
                    Box::new(left_keys[k].clone()),
                    Box::new(r),
                ));
            }
        }
        let id = match &rel.plan {
            Plan::Scan { id, .. } => *id,
            _ => 0,
        };
        return Ok(Plan::IndexJoin {
            left: Box::new(left),
            table,
            label,
            index_no,
            keys,
            filter: and_all(rel.local),
            kind: JoinKind::Inner,
            residual: and_all(residual),
            id,
            keep: None,
        });
    }
    Ok(if !left_keys.is_empty() {
        Plan::HashJoin {
            left: Box::new(left),
            right: Box::new(rel.plan),
            kind: JoinKind::Inner,
            left_keys,
            right_keys,
            residual: None,
        }
    } else {
        Plan::NestedLoop {
            left: Box::new(left),
            right: Box::new(rel.plan),
            kind: JoinKind::Inner,
            on: None,
        }
    })
}

/// Graphs with outer joins: left-deep in FROM order, so the row layout is
/// always the FROM layout's prefix.
fn left_deep(graph: JoinGraph, layout: &Layout, bind: &mut BindState) -> Result<Plan> {
    let JoinGraph {
        mut rels,
        kinds,
        join_conds,
        where_conds,
    } = graph;
    let n = rels.len();
    let (mut on_rest, mut deferred) = push_down::outer(
        &mut rels,
        &kinds,
        join_conds,
        where_conds,
        layout,
        &mut bind.trace,
    );
    let mut built: Vec<BuiltRel> = rels.into_iter().map(|r| build_rel(r, bind)).collect();
    let mut plan = std::mem::replace(&mut built[0].plan, Plan::Single);
    let mut pending_inner: Vec<Expr> = on_rest[0].drain(..).collect();
    for i in 1..n {
        let right = std::mem::replace(&mut built[i].plan, Plan::Single);
        let ro = layout.offset(i);
        let kind = if kinds[i] == JoinType::Left {
            JoinKind::Left
        } else {
            JoinKind::Inner
        };
        let mut conds: Vec<Expr> = std::mem::take(&mut on_rest[i]);
        if kind == JoinKind::Inner {
            // Inner conditions may be applied as soon as their tables are joined.
            let joined_mask: u128 = (1u128 << (i + 1)) - 1;
            let (now, later): (Vec<Expr>, Vec<Expr>) = pending_inner.drain(..).partition(|c| {
                layout.mask_of(c) & !joined_mask == 0 && !c.has_correlated_subquery()
            });
            pending_inner = later;
            conds.extend(now);
        }
        let mut lk = Vec::new();
        let mut rk = Vec::new();
        let mut residual = Vec::new();
        for c in conds {
            if c.has_correlated_subquery() {
                if kind == JoinKind::Inner {
                    deferred.push(c);
                } else {
                    residual.push(c);
                }
                continue;
            }
            match layout.equi_sides(&c, i) {
                Some((l, mut r)) if layout.mask_of(&l) & !((1u128 << i) - 1) == 0 => {
                    r.remap_columns(&|x| x - ro);
                    lk.push(l);
                    rk.push(r);
                }
                _ => residual.push(c),
            }
        }
        let lookup = match &built[i].table {
            Some((t, _)) if bind.first_rows && !lk.is_empty() => pick_join_index(t, &rk),
            _ => None,
        };
        plan = if let (Some(choice), Some(table)) = (lookup, built[i].table.take()) {
            // First rows wanted: look each left row up in the right table's
            // index rather than hash the whole right side first.
            let local = std::mem::take(&mut built[i].local);
            let keys = (lk, rk, ro);
            lookup_join(plan, &right, table, choice, keys, kind, local, residual)
        } else if !lk.is_empty() {
            Plan::HashJoin {
                left: Box::new(plan),
                right: Box::new(right),
                kind,
                left_keys: lk,
                right_keys: rk,
                residual: and_all(residual),
            }
        } else {
            Plan::NestedLoop {
                left: Box::new(plan),
                right: Box::new(right),
                kind,
                on: and_all(residual),
            }
        };
    }
    Ok(plan.filtered(pending_inner).filtered(deferred))
}
/// `left` joined to the table `right` reads, each left row looking its
/// keys up in index `index_no` (`order`: which key feeds each index
/// column; the other key pairs, their right side at offset `ro`, join the
/// residual conditions). `local` filters the table's rows.
#[allow(clippy::too_many_arguments)]
fn lookup_join(
    left: Plan,
    right: &Plan,
    (table, label): (Arc<Table>, String),
    (index_no, order): (usize, Vec<usize>),
    (lk, rk, ro): (Vec<Expr>, Vec<Expr>, usize),
    kind: JoinKind,
    local: Vec<Expr>,
    mut residual: Vec<Expr>,
) -> Plan {
    let mut keys = Vec::new();
    for (k, (l, mut r)) in lk.into_iter().zip(rk).enumerate() {
        if let Some(pos) = order.iter().position(|o| *o == k) {
            keys.push((pos, l));
        } else {
            r.remap_columns(&|x| x + ro);
            residual.push(Expr::Cmp(CmpOp::Eq, Box::new(l), Box::new(r)));
        }
    }
    keys.sort_by_key(|(pos, _)| *pos);
    let id = match right {
        Plan::Scan { id, .. } => *id,
        _ => 0,
    };
    Plan::IndexJoin {
        left: Box::new(left),
        table,
        label,
        index_no,
        keys: keys.into_iter().map(|(_, l)| l).collect(),
        filter: and_all(local),
        kind,
        residual: and_all(residual),
        id,
        keep: None,
    }
}

/// An index of `table` whose leading columns are all plain-column join keys;
/// returns the index and, per index column used, which key feeds it.
fn pick_join_index(table: &Arc<Table>, right_keys: &[Expr]) -> Option<(usize, Vec<usize>)> {
    let mut best: Option<(usize, Vec<usize>, bool)> = None;
    for (i, idx) in table.indexes().iter().enumerate() {
        let mut order = Vec::new();
        for c in &idx.columns {
            match right_keys
                .iter()
                .position(|k| matches!(k, Expr::Column(x) if x == c))
            {
                Some(k) => order.push(k),
                None => break,
            }
        }
        if order.is_empty() {
            continue;
        }
        let full_unique = idx.unique && order.len() == idx.columns.len();
        let better = match &best {
            None => true,
            Some((_, o, u)) => (full_unique && !u) || (full_unique == *u && order.len() > o.len()),
        };
        if better {
            best = Some((i, order, full_unique));
        }
    }
    best.map(|(i, o, _)| (i, o))
}
