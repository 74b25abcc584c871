//! Rule `window_order`: in a query with window functions and a LIMIT (and
//! no ORDER BY), read the driving table in an index order that lets the
//! window operator stream, so the LIMIT stops the scan:
//! - `OVER (PARTITION BY k ...)`: an index that keeps each partition's rows
//!   together (as for GROUP BY, see [`group_by_order`](super::group_by_order));
//!   each partition is computed and goes out when the next one starts;
//! - `OVER (ORDER BY k)` with `row_number`, `rank`, `dense_rank` and
//!   `lag(x)` only: an index in `k`'s order, else a sort (of which a LIMIT
//!   keeps only the first rows); each row goes out as it arrives.
//!
//! Every window call of the query must share the same PARTITION BY and
//! ORDER BY. The rules that fire are `group_by_order` and `order_by_index`.

use crate::expr::Expr;
use crate::plan::{Plan, WinFunc, WindowCall, WindowStream};
use crate::rules::{group_by_order, order_by_index, Trace};

/// Makes `input` (the window operator's input) deliver rows in an order
/// the window calls can stream along; returns how they may stream.
pub fn apply(input: &mut Plan, calls: &[WindowCall], trace: &mut Trace) -> WindowStream {
    let Some(first) = calls.first() else {
        return WindowStream::None;
    };
    let same = |c: &WindowCall| {
        format!("{:?}{:?}", c.partition_by, c.order_by)
            == format!("{:?}{:?}", first.partition_by, first.order_by)
    };
    if !calls.iter().all(same) {
        return WindowStream::None;
    }
    if !first.partition_by.is_empty() {
        let plain = first
            .partition_by
            .iter()
            .all(|e| matches!(e, Expr::Column(_)));
        if plain && group_by_order::keep_together(input, &first.partition_by, "PARTITION BY", trace)
        {
            return WindowStream::Partitions;
        }
        return WindowStream::None;
    }
    let row_by_row = calls.iter().all(|c| match c.func {
        WinFunc::RowNumber | WinFunc::Rank | WinFunc::DenseRank => true,
        // lag(x): the previous row's x (offset 1, no default).
        WinFunc::Lag => c.args.len() == 1,
        _ => false,
    });
    if !row_by_row || first.order_by.is_empty() {
        return WindowStream::None;
    }
    if !order_by_index::index_order(input, &first.order_by, trace) {
        // No index delivers the order: sort first (under a LIMIT only the
        // first rows of the sort are kept, see `Executor::limit`).
        let unsorted = std::mem::replace(input, Plan::Single);
        *input = Plan::Sort {
            input: Box::new(unsorted),
            keys: first.order_by.clone(),
        };
    }
    WindowStream::Rows
}
