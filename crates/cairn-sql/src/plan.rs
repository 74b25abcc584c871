//! Physical plans: the operator tree the executor runs, the plans of a
//! statement's subqueries ([`Subqueries`], by the id an expression's
//! `SubqueryRef` names), and EXPLAIN's rendering of a plan. Every operator
//! produces rows whose layout the planner knows; expressions inside an
//! operator address its input row. Plans hold expressions, never the other
//! way round: this module depends on `expr`, not on the executor.

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_core::DataType;
use cairn_storage::Table;

use crate::expr::Expr;

/// How a base-table scan finds its rows.
#[derive(Debug, Clone)]
pub enum Access {
    Full,
    /// Equality on a prefix of the index key (rows in key order, descending
    /// when `reverse`).
    IndexEq {
        index_no: usize,
        key: Vec<Expr>,
        reverse: bool,
    },
    /// A list of equality keys on the first index column (`col IN (...)`).
    IndexIn {
        index_no: usize,
        keys: Vec<Expr>,
    },
    /// The values an uncorrelated subquery returns, looked up on the first
    /// index column (`col IN (SELECT ...)`, a semi-join through the
    /// index). The scan keeps the IN as its filter.
    IndexInSet {
        index_no: usize,
        sub: crate::expr::SubqueryRef,
    },
    /// A range on the first index column, in key order (descending when
    /// `reverse`); NULL keys are skipped.
    IndexRange {
        index_no: usize,
        low: Option<(Expr, bool)>,
        high: Option<(Expr, bool)>,
        reverse: bool,
    },
    /// Every row in index key order (for ORDER BY), NULL keys included.
    IndexOrder {
        index_no: usize,
        reverse: bool,
    },
    /// The `k` rows nearest to `query` through HNSW index `index_no`
    /// (`ORDER BY col <op> query LIMIT k`). The scan's filter is applied
    /// during the graph walk, or the rows are scanned exactly when a sample
    /// says few rows qualify; see `exec`.
    Vector {
        index_no: usize,
        query: Expr,
        /// LIMIT + OFFSET.
        k: Expr,
        /// A B-tree access that narrows the filter: when a sample says few
        /// rows qualify, they are read through it and scored exactly.
        exact: Option<Box<Access>>,
    },
}

impl Access {
    /// The conditions an index access applies, as expressions over the
    /// table's row (estimated like filters; a vector search's exact path
    /// tests them). Empty for the other accesses.
    pub fn conditions(&self, table: &Table) -> Vec<Expr> {
        let cols = |no: usize| {
            table
                .indexes()
                .get(no)
                .map(|d| d.columns.clone())
                .unwrap_or_default()
        };
        let cmp =
            |op, c: usize, v: &Expr| Expr::Cmp(op, Box::new(Expr::Column(c)), Box::new(v.clone()));
        match self {
            Access::IndexEq { index_no, key, .. } => (cols(*index_no).into_iter())
                .zip(key)
                .map(|(c, v)| cmp(crate::expr::CmpOp::Eq, c, v))
                .collect(),
            Access::IndexIn { index_no, keys } => match cols(*index_no).first() {
                Some(&c) => vec![Expr::InList {
                    expr: Box::new(Expr::Column(c)),
                    list: keys.clone(),
                    negated: false,
                }],
                None => Vec::new(),
            },
            Access::IndexRange {
                index_no,
                low,
                high,
                ..
            } => {
                let Some(&c) = cols(*index_no).first() else {
                    return Vec::new();
                };
                let mut out = Vec::new();
                if let Some((v, inclusive)) = low {
                    out.push(cmp(
                        if *inclusive {
                            crate::expr::CmpOp::GtEq
                        } else {
                            crate::expr::CmpOp::Gt
                        },
                        c,
                        v,
                    ));
                }
                if let Some((v, inclusive)) = high {
                    out.push(cmp(
                        if *inclusive {
                            crate::expr::CmpOp::LtEq
                        } else {
                            crate::expr::CmpOp::Lt
                        },
                        c,
                        v,
                    ));
                }
                out
            }
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
}

#[derive(Debug, Clone)]
pub struct SortKey {
    pub expr: Expr,
    pub desc: bool,
    pub nulls_first: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    CountStar,
    Count,
    Sum,
    Total,
    Avg,
    Min,
    Max,
    GroupConcat,
    /// `any_value(x)`: the value from some row of the group (the last).
    AnyValue,
    /// A bare column in an aggregate query (SQLite allows these): the
    /// value from the group's first row or, beside `min()`/`max()`, from
    /// the row that holds the last one's extreme (SQLite 3.50's answers).
    Bare,
    BoolAnd,
    BoolOr,
}

#[derive(Debug, Clone)]
pub struct AggCall {
    pub func: AggFunc,
    pub args: Vec<Expr>,
    pub distinct: bool,
    pub filter: Option<Expr>,
}

#[derive(Debug, Clone)]
pub enum WinFunc {
    RowNumber,
    Rank,
    DenseRank,
    PercentRank,
    CumeDist,
    Ntile,
    Lag,
    Lead,
    FirstValue,
    LastValue,
    NthValue,
    Agg(AggFunc),
}

/// Frame of an aggregate window function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// No ORDER BY: the whole partition.
    Partition,
    /// ORDER BY, default frame: up to the current row and its peers.
    RangeToCurrent,
    /// `ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`.
    RowsToCurrent,
    /// `ROWS BETWEEN a AND b` as offsets from the current row (negative =
    /// preceding; None = unbounded).
    Rows(Option<i64>, Option<i64>),
}

#[derive(Debug, Clone)]
pub struct WindowCall {
    pub func: WinFunc,
    pub args: Vec<Expr>,
    pub partition_by: Vec<Expr>,
    pub order_by: Vec<SortKey>,
    pub frame: Frame,
    pub distinct: bool,
}

/// What a window operator may assume of its input's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowStream {
    /// Nothing: every row is read before the first goes out.
    None,
    /// Each partition's rows arrive together: a partition goes out when
    /// the next one starts.
    Partitions,
    /// One partition, rows in the ORDER BY order, and functions that need
    /// only the rows before (`row_number`, `rank`, `dense_rank`): each row
    /// goes out as it arrives.
    Rows,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOpKind {
    Union,
    Intersect,
    Except,
}

/// A system relation read when its plan runs (see `system.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemRows {
    /// `cairn_segments`: one row per sealed segment and live segment of
    /// every table.
    Segments,
}

impl SystemRows {
    /// Its columns: name and type.
    pub fn columns(self) -> &'static [(&'static str, DataType)] {
        match self {
            SystemRows::Segments => &[
                ("table_name", DataType::Text),
                ("segment", DataType::Integer),
                ("kind", DataType::Text),
                ("versions", DataType::Integer),
                ("current_versions", DataType::Integer),
            ],
        }
    }

    pub fn width(self) -> usize {
        self.columns().len()
    }

    pub fn name(self) -> &'static str {
        match self {
            SystemRows::Segments => "cairn_segments",
        }
    }

    /// Its rows now (tables in name order).
    pub fn read(self, store: &cairn_storage::Store) -> Vec<Vec<cairn_core::Value>> {
        use cairn_core::Value;
        let n = |x: u64| Value::Integer(i64::try_from(x).unwrap_or(i64::MAX));
        let mut names = store.table_names();
        names.sort();
        let tables = names
            .into_iter()
            .filter_map(|n| Some((store.table(&n)?, n)));
        match self {
            SystemRows::Segments => tables
                .flat_map(|(t, name)| {
                    (t.segments().into_iter().enumerate()).map(move |(i, s)| {
                        vec![
                            Value::text(&name),
                            n(i as u64),
                            Value::text(if s.live { "live" } else { "sealed" }),
                            n(s.versions),
                            n(s.current),
                        ]
                    })
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Plan {
    /// One row with no columns (`SELECT` without FROM).
    Single,
    Values {
        rows: Vec<Vec<Expr>>,
    },
    /// A system relation whose rows are read from the store when the plan
    /// runs (their number changes without the catalog changing).
    System(SystemRows),
    Scan {
        table: Arc<Table>,
        label: String,
        access: Access,
        filter: Option<Expr>,
        /// Append the row id as a final INTEGER column (for UPDATE/DELETE).
        with_rowid: bool,
        /// Planner id of this scan (to find it again after binding).
        id: usize,
        /// Columns the query reads; the others come out as NULL so nothing
        /// unused is copied. `None` = all.
        keep: Option<Arc<[bool]>>,
    },
    Filter {
        input: Box<Plan>,
        predicate: Expr,
    },
    Project {
        input: Box<Plan>,
        exprs: Vec<Expr>,
    },
    /// Nested-loop join; `on` sees the concatenated row.
    NestedLoop {
        left: Box<Plan>,
        right: Box<Plan>,
        kind: JoinKind,
        on: Option<Expr>,
    },
    /// Hash join building on the right input.
    HashJoin {
        left: Box<Plan>,
        right: Box<Plan>,
        kind: JoinKind,
        left_keys: Vec<Expr>,
        right_keys: Vec<Expr>,
        residual: Option<Expr>,
    },
    /// Index nested-loop join: for each left row, look up the right table.
    IndexJoin {
        left: Box<Plan>,
        table: Arc<Table>,
        label: String,
        index_no: usize,
        /// Evaluated on the left row; equality on a prefix of the index.
        keys: Vec<Expr>,
        /// Applied to the right row alone.
        filter: Option<Expr>,
        kind: JoinKind,
        /// Applied to the concatenated row.
        residual: Option<Expr>,
        /// Planner id of the right table's scan, and its kept columns.
        id: usize,
        keep: Option<Arc<[bool]>>,
    },
    Aggregate {
        input: Box<Plan>,
        group_by: Vec<Expr>,
        aggs: Vec<AggCall>,
        /// The input delivers each group's rows together (rule
        /// `group_by_order`): groups go out as they end, in input order.
        ordered: bool,
    },
    Window {
        input: Box<Plan>,
        calls: Vec<WindowCall>,
        /// How the input's order lets the window stream (rule
        /// `window_order`).
        stream: WindowStream,
    },
    Sort {
        input: Box<Plan>,
        keys: Vec<SortKey>,
    },
    Limit {
        input: Box<Plan>,
        limit: Option<Expr>,
        offset: Option<Expr>,
    },
    /// The distinct values of an index's first column that visible rows
    /// have, ascending, one row each (`SELECT DISTINCT col FROM t`).
    IndexDistinct {
        table: Arc<Table>,
        label: String,
        index_no: usize,
    },
    /// Removes duplicate rows, comparing the first `width` columns.
    Distinct {
        input: Box<Plan>,
        width: usize,
    },
    SetOp {
        kind: SetOpKind,
        all: bool,
        left: Box<Plan>,
        right: Box<Plan>,
    },
    /// A derived table or view in FROM, marked until its query level is
    /// bound: then `prune_columns` drops the output columns nobody reads
    /// and replaces the marker by its input. Runs as its input.
    Derived {
        id: usize,
        input: Box<Plan>,
    },
    /// Reads the materialized result of CTE `id` (computed once per execution).
    CteScan {
        id: usize,
        name: String,
        width: usize,
    },
    /// `WITH RECURSIVE`: base rows, then `step` until it adds nothing.
    RecursiveCte {
        id: usize,
        name: String,
        base: Box<Plan>,
        step: Box<Plan>,
        all: bool,
    },
    /// Inside a recursive step: the rows the previous iteration produced.
    WorkingSet {
        id: usize,
        name: String,
        width: usize,
    },
    /// Defines CTE `id` as `plan`, then runs `input`.
    With {
        ctes: Vec<(usize, String, Plan)>,
        input: Box<Plan>,
    },
}

/// The plans of one statement's subqueries, by id. The planner adds each
/// subquery as it binds it; the executor looks a plan up when an
/// expression's `SubqueryRef` asks for its result.
#[derive(Debug, Default)]
pub struct Subqueries {
    by_id: BTreeMap<usize, SubqueryPlan>,
}

impl Subqueries {
    pub fn insert(&mut self, id: usize, plan: SubqueryPlan) {
        self.by_id.insert(id, plan);
    }

    pub fn get(&self, id: usize) -> Option<&SubqueryPlan> {
        self.by_id.get(&id)
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// How one subquery is computed.
#[derive(Debug)]
pub enum SubqueryPlan {
    /// Run `plan` (per outer row when the subquery is correlated).
    PerRow(Plan),
    /// A correlated scalar aggregate subquery, decorrelated.
    Grouped(GroupedSubquery),
}

impl SubqueryPlan {
    /// The plan that computes the subquery for one outer row.
    pub fn per_row(&self) -> &Plan {
        match self {
            SubqueryPlan::PerRow(plan) => plan,
            SubqueryPlan::Grouped(g) => &g.per_row,
        }
    }
}

/// A correlated scalar aggregate subquery rewritten as one grouped
/// aggregation per execution plus a hash lookup per outer row:
/// `(SELECT agg FROM t WHERE t.k = outer.x AND ...)` becomes
/// `SELECT k, agg FROM t WHERE ... GROUP BY k`, looked up by `outer.x`.
#[derive(Debug)]
pub struct GroupedSubquery {
    /// Produces `[keys..., aggregates...]`, one row per group.
    pub plan: Plan,
    /// The correlation values, evaluated on the row that contains the
    /// subquery expression.
    pub keys: Vec<Expr>,
    /// The subquery's result expression over a grouped row.
    pub project: Expr,
    /// The aggregates, to compute the result for an outer row with no group.
    pub aggs: Vec<AggCall>,
    /// The original per-row plan, used for the first `threshold()` rows of
    /// an execution: few outer rows are cheaper as index lookups than one
    /// pass over the whole inner table.
    pub per_row: Plan,
    /// The inner table: its size at run time sets when grouping pays off.
    pub inner: Arc<Table>,
}

impl GroupedSubquery {
    /// Per-row evaluations after which one grouped pass is cheaper: a pass
    /// over the inner table costs about as much as `rows / 8` index lookups.
    pub fn threshold(&self) -> usize {
        ((self.inner.row_count() / 8).max(16)) as usize
    }
}

impl Plan {
    /// This plan under a filter of `preds` (all must hold); itself when
    /// there are none.
    pub fn filtered(self, preds: Vec<Expr>) -> Plan {
        match crate::expr::and_all(preds) {
            Some(p) => Plan::Filter {
                input: Box::new(self),
                predicate: p,
            },
            None => self,
        }
    }

    /// Visits this plan and its child plans (not subquery plans inside
    /// expressions).
    pub fn visit_mut(&mut self, f: &mut dyn FnMut(&mut Plan)) {
        f(self);
        match self {
            Plan::Filter { input, .. }
            | Plan::Project { input, .. }
            | Plan::Aggregate { input, .. }
            | Plan::Window { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Distinct { input, .. }
            | Plan::Derived { input, .. }
            | Plan::IndexJoin { left: input, .. } => input.visit_mut(f),
            Plan::NestedLoop { left, right, .. }
            | Plan::HashJoin { left, right, .. }
            | Plan::SetOp { left, right, .. } => {
                left.visit_mut(f);
                right.visit_mut(f);
            }
            Plan::RecursiveCte { base, step, .. } => {
                base.visit_mut(f);
                step.visit_mut(f);
            }
            Plan::With { ctes, input } => {
                for (_, _, p) in ctes {
                    p.visit_mut(f);
                }
                input.visit_mut(f);
            }
            Plan::Single
            | Plan::Values { .. }
            | Plan::System(_)
            | Plan::Scan { .. }
            | Plan::CteScan { .. }
            | Plan::WorkingSet { .. }
            | Plan::IndexDistinct { .. } => {}
        }
    }

    /// Number of columns in each output row.
    pub fn width(&self) -> usize {
        match self {
            Plan::Single => 0,
            Plan::Values { rows } => rows.first().map_or(0, Vec::len),
            Plan::System(s) => s.width(),
            Plan::Scan {
                table, with_rowid, ..
            } => table.schema().columns.len() + usize::from(*with_rowid),
            Plan::Filter { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Derived { input, .. }
            | Plan::Distinct { input, .. } => input.width(),
            Plan::Project { exprs, .. } => exprs.len(),
            Plan::NestedLoop { left, right, .. } | Plan::HashJoin { left, right, .. } => {
                left.width() + right.width()
            }
            Plan::IndexJoin { left, table, .. } => left.width() + table.schema().columns.len(),
            Plan::Aggregate { group_by, aggs, .. } => group_by.len() + aggs.len(),
            Plan::Window { input, calls, .. } => input.width() + calls.len(),
            Plan::SetOp { left, .. } => left.width(),
            Plan::CteScan { width, .. } | Plan::WorkingSet { width, .. } => *width,
            Plan::IndexDistinct { .. } => 1,
            Plan::RecursiveCte { base, .. } => base.width(),
            Plan::With { input, .. } => input.width(),
        }
    }

    /// EXPLAIN text: one operator per line, children indented.
    /// Calls `f` on each direct input of this operator (CTE bodies included).
    pub fn for_each_child(&self, f: &mut dyn FnMut(&Plan)) {
        match self {
            Plan::Filter { input, .. }
            | Plan::Project { input, .. }
            | Plan::Aggregate { input, .. }
            | Plan::Window { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Derived { input, .. }
            | Plan::Distinct { input, .. } => f(input),
            Plan::NestedLoop { left, right, .. }
            | Plan::HashJoin { left, right, .. }
            | Plan::SetOp { left, right, .. } => {
                f(left);
                f(right);
            }
            Plan::IndexJoin { left, .. } => f(left),
            Plan::RecursiveCte { base, step, .. } => {
                f(base);
                f(step);
            }
            Plan::With { ctes, input } => {
                for (_, _, p) in ctes {
                    f(p);
                }
                f(input);
            }
            _ => {}
        }
    }
}
