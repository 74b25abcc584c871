//! The planner's rewrites, one named rule per file, and the trace of which
//! ones fired for a statement (`EXPLAIN VERBOSE` prints it).
//!
//! A SELECT is planned in three steps, each visible here:
//!
//! 1. **Binding** (`planner.rs`, `bind.rs`) turns the AST into a logical
//!    form: the FROM clause as a [`JoinGraph`](crate::logical::JoinGraph)
//!    (relations, join kinds, every condition as a conjunct over the FROM
//!    layout) and the rest of the query as plan operators (aggregate,
//!    window, project, distinct, sort, limit). Subqueries are bound on the
//!    way; [`decorrelate`] rewrites a correlated scalar aggregate subquery
//!    into a grouped lookup.
//! 2. **The join graph becomes a physical plan** (`joins.rs`):
//!    [`push_down`] moves each conjunct to the lowest place it can be
//!    tested, every base table gets its access path (`access.rs`, costs in
//!    `cost.rs`), [`join_order`] orders inner joins, and each join step is
//!    given a method (index join, hash join, nested loop).
//! 3. **Rewrites of the assembled SELECT** that replace operators by
//!    cheaper access paths: [`order_by_index`] (an index delivers the
//!    order, the sort goes), [`group_by_order`] (with a LIMIT, an index
//!    keeps each group's rows together, so the aggregate streams and the
//!    LIMIT stops the scan; [`window_order`] does the same for window
//!    functions), [`vector_topk`] (a k-nearest-neighbour search
//!    through an HNSW index instead of sorting every distance),
//!    [`loose_index_distinct`] (an index's distinct keys instead of every
//!    row), [`prune_columns`] (scans copy only the columns read) and
//!    [`fold_projections`] (the select list reads through the column
//!    reordering join ordering adds).
//!
//! Every rule records what it did in the statement's [`Trace`], with a
//! short detail naming the tables and indexes involved.

pub mod decorrelate;
pub mod fold_projections;
pub mod group_by_order;
pub mod join_order;
pub mod loose_index_distinct;
pub mod order_by_index;
pub mod prune_columns;
pub mod push_down;
pub mod vector_topk;
pub mod window_order;

/// The planner's named rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Decorrelate,
    PushDown,
    JoinOrder,
    OrderByIndex,
    GroupByOrder,
    VectorTopK,
    LooseIndexDistinct,
    PruneColumns,
    FoldProjections,
}

impl Rule {
    /// The rule's name as `EXPLAIN VERBOSE` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Decorrelate => "decorrelate",
            Rule::PushDown => "push_down",
            Rule::JoinOrder => "join_order",
            Rule::OrderByIndex => "order_by_index",
            Rule::GroupByOrder => "group_by_order",
            Rule::VectorTopK => "vector_topk",
            Rule::LooseIndexDistinct => "loose_index_distinct",
            Rule::PruneColumns => "prune_columns",
            Rule::FoldProjections => "fold_projections",
        }
    }
}

/// One firing of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub rule: Rule,
    /// What it did, naming tables and indexes (no row data).
    pub detail: String,
}

/// The rules that fired while one statement was planned, in order. Only
/// `EXPLAIN VERBOSE` records them (a trace made by `default()` records
/// nothing, so planning pays nothing for it).
#[derive(Debug, Clone, Default)]
pub struct Trace {
    on: bool,
    fired: Vec<Fired>,
}

impl Trace {
    /// A trace that records every firing.
    pub fn recording() -> Trace {
        Trace {
            on: true,
            fired: Vec::new(),
        }
    }

    /// Records that `rule` fired; `detail` is called only when recording.
    pub fn fire(&mut self, rule: Rule, detail: impl FnOnce() -> String) {
        if self.on {
            self.fired.push(Fired {
                rule,
                detail: detail(),
            });
        }
    }

    /// `EXPLAIN VERBOSE`'s section: one line per firing.
    pub fn explain(&self) -> String {
        let mut out = String::from("Rules:\n");
        if self.fired.is_empty() {
            out.push_str("  (none)\n");
        }
        for f in &self.fired {
            out.push_str("  ");
            out.push_str(f.rule.name());
            out.push_str(": ");
            out.push_str(&f.detail);
            out.push('\n');
        }
        out
    }
}
