//! Rule `vector_topk`: `ORDER BY <distance>(col, q) LIMIT k` over one
//! table, where `col` has an HNSW index of that distance and `q` is
//! constant for the query, becomes a k-nearest-neighbour search through
//! the index. The search returns its rows ordered by exact distance, then
//! row id — what a stable sort by the distance leaves them in — so a sort
//! whose only key is that distance goes (it computed every distance a
//! second time); a sort with more keys stays. When a B-tree access also
//! narrows the
//! scan, it is kept as the search's exact alternative: which of the two
//! runs is decided per execution from a sample of the filter (the
//! operator's `strategy=adaptive`, see `exec.rs`).

use crate::expr::Expr;
use crate::plan::{Access, Plan};
use crate::rules::{Rule, Trace};

/// Rewrites the scan under `Limit(Sort(Scan t))` in place; returns whether
/// it did.
pub fn apply(plan: &mut Plan, trace: &mut Trace) -> bool {
    let Plan::Limit {
        input,
        limit: Some(limit),
        offset,
    } = plan
    else {
        return false;
    };
    let Plan::Sort { input: scan, keys } = &mut **input else {
        return false;
    };
    let Some(key) = keys.first() else {
        return false;
    };
    // NULL distances sort last ascending: the index never yields them.
    if key.desc || key.nulls_first {
        return false;
    }
    let Expr::Func(f, args) = &key.expr else {
        return false;
    };
    let Plan::Scan {
        table,
        label,
        access,
        filter,
        with_rowid: false,
        ..
    } = &mut **scan
    else {
        return false;
    };
    let exact = match access {
        Access::Full => None,
        Access::IndexEq { .. } | Access::IndexIn { .. } | Access::IndexRange { .. } => {
            Some(Box::new(access.clone()))
        }
        _ => return false,
    };
    let (col, query) = match &args[..] {
        [Expr::Column(c), q] | [q, Expr::Column(c)] if is_query_constant(q) => (*c, q.clone()),
        _ => return false,
    };
    let Some(kind) = distance_kind_of(f.name) else {
        return false;
    };
    let Some(index_no) = table
        .vector_indexes()
        .iter()
        .position(|d| d.column == col && d.distance_kind() == kind)
    else {
        return false;
    };
    let k = match offset {
        Some(o) => Expr::Arith(
            cairn_core::ops::ArithOp::Add,
            Box::new(limit.clone()),
            Box::new(o.clone()),
        ),
        None => limit.clone(),
    };
    // The graph walk tests the whole predicate, including the part the
    // B-tree access stands for (the planner may have dropped it from the
    // filter as implied).
    if let Some(a) = &exact {
        let Some(pred) = crate::expr::and_all(a.conditions(table)) else {
            return false;
        };
        *filter = Some(match filter.take() {
            Some(f) => Expr::And(Box::new(pred), Box::new(f)),
            None => pred,
        });
    }
    trace.fire(Rule::VectorTopK, || {
        let name = &table.vector_indexes()[index_no].name;
        let alt = if exact.is_some() {
            " (or exact through its B-tree access)"
        } else {
            ""
        };
        format!("{label}: nearest rows through HNSW index {name}{alt}")
    });
    *access = Access::Vector {
        index_no,
        query,
        k,
        exact,
    };
    if keys.len() == 1 {
        // Limit(Sort(Scan)) → Limit(Scan): the search's order is the sort's.
        let search = std::mem::replace(&mut **scan, Plan::Single);
        **input = search;
    }
    true
}

/// The SQL distance a distance function computes.
pub fn distance_kind_of(name: &str) -> Option<cairn_core::vector::DistanceKind> {
    use cairn_core::vector::DistanceKind as D;
    Some(match name {
        "vec_distance_l2" | "l2_distance" => D::L2,
        "vec_distance_cosine" | "cosine_distance" => D::Cosine,
        "vec_distance_ip" | "negative_inner_product" => D::NegativeDot,
        _ => return None,
    })
}

/// A query vector the search can evaluate once: literals, parameters,
/// uncorrelated scalar subqueries (`(SELECT e FROM t WHERE id = 42)`, run
/// once per execution), and deterministic functions and casts of them.
fn is_query_constant(e: &Expr) -> bool {
    match e {
        Expr::Literal(_) | Expr::Param(_) => true,
        Expr::ScalarSubquery(sub) => !sub.correlated,
        Expr::Cast(x, _) => is_query_constant(x),
        Expr::Func(f, args) => f.deterministic && args.iter().all(is_query_constant),
        _ => false,
    }
}
