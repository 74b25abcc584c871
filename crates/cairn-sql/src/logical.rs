//! The logical form of a FROM clause, as binding leaves it: the relations
//! in FROM order, how each joins the ones before it, and every ON, USING
//! and WHERE condition as a conjunct over the FROM layout (the columns of
//! all relations side by side). No access path, join order or join method
//! is chosen yet: the rules `push_down` and `join_order` and the physical
//! join planner (`joins.rs`) decide those.

use std::sync::Arc;

use cairn_storage::Table;

use crate::expr::{CmpOp, Expr};
use crate::plan::Plan;

/// Where a relation's rows come from.
pub enum RelSource {
    /// A base table: its access path is chosen after push-down.
    Table(Arc<Table>),
    /// A derived table, view or CTE reference, already planned.
    Plan(Plan),
}

/// One relation of a FROM clause.
pub struct Rel {
    pub source: RelSource,
    /// The name its columns are qualified by (alias or table name).
    pub label: String,
    /// Its first column's position in the FROM layout, and its width.
    pub offset: usize,
    pub width: usize,
    /// Conditions on this relation alone, in its own layout (filled by
    /// `push_down`).
    pub local: Vec<Expr>,
    /// On the null-supplying side of a LEFT JOIN (or after one).
    pub nullable: bool,
    /// The target of `UPDATE … FROM`: its rows carry their row id as a
    /// last, hidden column (counted in `width`).
    pub with_rowid: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinType {
    Cross,
    Inner,
    Left,
}

/// A FROM clause with its conditions.
pub struct JoinGraph {
    pub rels: Vec<Rel>,
    /// How each relation joins the ones before it (the first: `Cross`).
    pub kinds: Vec<JoinType>,
    /// Each relation's ON conditions (and USING / NATURAL equalities).
    pub join_conds: Vec<Vec<Expr>>,
    /// The WHERE clause's conjuncts.
    pub where_conds: Vec<Expr>,
}

impl JoinGraph {
    pub fn has_outer(&self) -> bool {
        self.kinds.contains(&JoinType::Left)
    }

    pub fn layout(&self) -> Layout {
        Layout {
            rels: self.rels.iter().map(|r| (r.offset, r.width)).collect(),
        }
    }
}

/// A conjunct over several relations, with the set of relations it reads.
pub struct Conj {
    pub expr: Expr,
    pub mask: u128,
}

/// Where each relation's columns sit in the FROM layout.
pub struct Layout {
    /// (offset, width) per relation.
    pub rels: Vec<(usize, usize)>,
}

impl Layout {
    /// The relations `e` reads, one bit per relation.
    pub fn mask_of(&self, e: &Expr) -> u128 {
        let mut m = 0u128;
        for c in e.columns() {
            for (i, (o, w)) in self.rels.iter().enumerate() {
                if c >= *o && c < o + w {
                    m |= 1u128 << i;
                }
            }
        }
        m
    }

    pub fn offset(&self, rel: usize) -> usize {
        self.rels[rel].0
    }

    /// For `a = b` where one side reads only relation `cand` and the other
    /// only other relations, returns (other side, cand side).
    pub fn equi_sides(&self, e: &Expr, cand: usize) -> Option<(Expr, Expr)> {
        let Expr::Cmp(CmpOp::Eq, a, b) = e else {
            return None;
        };
        let (ma, mb) = (self.mask_of(a), self.mask_of(b));
        let bit = 1u128 << cand;
        if mb == bit && ma != 0 && ma & bit == 0 {
            Some(((**a).clone(), (**b).clone()))
        } else if ma == bit && mb != 0 && mb & bit == 0 {
            Some(((**b).clone(), (**a).clone()))
        } else {
            None
        }
    }
}
