//! Rule `join_order`: the order in which the relations of an inner-join
//! graph are joined. Greedy: start with the relation estimated smallest
//! (after its own filters), then repeatedly join the smallest relation
//! connected to those joined by an equality that can serve as a join key,
//! or the smallest of all when none is connected (a cross product).
//! Estimates come from each relation's chosen access path (`cost.rs`).

use crate::logical::{Conj, Layout};
use crate::rules::{Rule, Trace};

/// The join order of relations with estimated sizes `est` (after their own
/// filters), given the multi-relation conjuncts `conds`.
pub fn greedy(
    est: &[f64],
    conds: &[Conj],
    layout: &Layout,
    labels: &[&str],
    trace: &mut Trace,
) -> Vec<usize> {
    let n = est.len();
    let mut order = Vec::with_capacity(n);
    let Some(first) = (0..n).min_by(|&a, &b| est[a].total_cmp(&est[b])) else {
        return order;
    };
    order.push(first);
    let mut joined: u128 = 1u128 << first;
    while order.len() < n {
        let mut best: Option<(usize, bool)> = None;
        for c in (0..n).filter(|c| joined & (1u128 << c) == 0) {
            let bit = 1u128 << c;
            let connected = conds.iter().any(|p| {
                p.mask & bit != 0
                    && (p.mask & !bit) & !joined == 0
                    && layout.equi_sides(&p.expr, c).is_some()
            });
            let better = match best {
                None => true,
                Some((b, bc)) => (connected && !bc) || (connected == bc && est[c] < est[b]),
            };
            if better {
                best = Some((c, connected));
            }
        }
        let Some((c, _)) = best else { break };
        order.push(c);
        joined |= 1u128 << c;
    }
    if n > 1 {
        trace.fire(Rule::JoinOrder, || {
            let steps: Vec<String> = order
                .iter()
                .map(|&r| format!("{} (~{:.0} rows)", labels[r], est[r]))
                .collect();
            steps.join(", ")
        });
    }
    order
}
