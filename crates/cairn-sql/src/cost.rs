//! Every constant the planner and the vector strategy use to compare plans,
//! in one place. Where a table has statistics (`ANALYZE`), `estimate.rs`
//! answers from them; these fractions stand in where it has none.
//!
//! Units: "rows" are estimated rows produced or touched; a cost is rows
//! touched, so a full scan of a table costs its row count.

/// Costs assume a table has at least this many rows, so a plan prepared on
/// a small (or empty) table still uses its indexes when the table grows
/// (plans are cached until the schema changes). Output estimates use the
/// real size.
pub const TABLE_ROWS_MIN: f64 = 1_000.0;

/// Rows a subquery, view or CTE in FROM is assumed to produce before its
/// own filters (its size is unknown at plan time).
pub const DERIVED_ROWS: f64 = 1_000.0;

/// Share of rows one filter conjunct keeps when nothing better is known.
pub const FILTER_SELECTIVITY: f64 = 0.5;

/// Where statistics give real counts, a row read through an index costs
/// this many rows read in sequence (each is a lookup by row id): an index
/// that finds most of a table loses to a full scan. Without statistics the
/// fixed fractions below stand in, and indexes are preferred as before.
pub const INDEX_ROW_COST: f64 = 3.0;

/// Distinct values assumed of a join key nothing is known about
/// (PostgreSQL's default too).
pub const DEFAULT_DISTINCT: f64 = 200.0;

/// The cost, as a share of a full scan, of an `IN (SELECT ...)` index
/// access whose value count is only known when it runs (it falls back to
/// the scan when they are many): just under a scan, so any index access
/// known to be cheaper still wins.
pub const IN_SET_FALLBACK_SHARE: f64 = 0.9;

/// Whether looking `values` values up in an index, `per_value` rows
/// each, beats scanning `rows` rows.
pub fn lookups_pay(values: usize, per_value: f64, rows: f64) -> bool {
    values as f64 * per_value * INDEX_ROW_COST < rows
}

/// Share of its input DISTINCT (or a GROUP BY whose keys have no
/// statistics) keeps.
pub const DISTINCT_FRACTION: f64 = 0.1;

/// Share of rows one equality on a non-unique index column keeps.
pub const EQ_KEY_SELECTIVITY: f64 = 0.05;

/// Share of rows a range bounded on both sides keeps.
pub const RANGE_BOTH_SELECTIVITY: f64 = 0.1;

/// Share of rows a range bounded on one side keeps.
pub const RANGE_ONE_SELECTIVITY: f64 = 0.3;

/// Rows a lookup of a whole unique key touches.
pub const UNIQUE_LOOKUP_ROWS: f64 = 1.0;

/// Fewest rows a non-unique index lookup is assumed to touch.
pub const INDEX_LOOKUP_ROWS_MIN: f64 = 2.0;

/// An index join is chosen when the outer side's estimate times this is
/// below the inner table's size (each probe costs a few sequential rows).
pub const INDEX_JOIN_PROBE_COST: f64 = 4.0;

/// Whether probing the inner table's index once per outer row (`outer_est`
/// rows) beats hashing the inner table (`inner_rows` rows).
pub fn index_join_pays(outer_est: f64, inner_rows: f64) -> bool {
    outer_est * INDEX_JOIN_PROBE_COST < inner_rows.max(TABLE_ROWS_MIN)
}

/// Estimated rows after applying `filters` conjuncts to `rows` rows.
pub fn filtered_rows(rows: f64, filters: usize) -> f64 {
    rows * FILTER_SELECTIVITY.powi(filters.min(i32::MAX as usize) as i32)
}

// ---- vector search strategy ---------------------------------------------

/// With a B-tree access for the filter, qualifying rows are scored exactly
/// through it when a sample estimates at most this many.
pub const EXACT_VIA_INDEX_ROWS_MAX: f64 = 10_000.0;

/// Rows sampled to estimate a filter's selectivity before a filtered
/// nearest-neighbour search.
pub const SELECTIVITY_SAMPLE_ROWS: usize = 256;

/// A filtered graph walk is chosen when it is expected to visit fewer than
/// this fraction of the table's rows (a graph visit costs more than a
/// sequential one).
pub const EXACT_SCAN_VISIT_FRACTION: f64 = 0.25;

/// How a nearest-neighbour search finds its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorPath {
    /// Walk the graph, testing the filter (if any) on the way.
    Graph,
    /// Score every qualifying row exactly, found by a full scan.
    ExactScan,
    /// Score the qualifying rows exactly, found through the search's
    /// B-tree access.
    ExactViaIndex,
}

/// The path of a nearest-neighbour search over `rows` rows with search
/// width `ef`, given whether it has a filter, the filter's sampled
/// selectivity (`None` when the sample found nothing to go on) and
/// whether a B-tree access narrows it. Without a filter the graph is
/// walked; with one, the graph only if that visits fewer rows than an
/// exact scan would (about ef / selectivity nodes, against every row),
/// and a B-tree access is preferred whenever few rows qualify.
pub fn vector_path(
    rows: f64,
    ef: usize,
    filtered: bool,
    selectivity: Option<f64>,
    has_btree_access: bool,
) -> VectorPath {
    let sel = if filtered { selectivity } else { None };
    let graph = !filtered
        || matches!(sel, Some(s) if s > 0.0 && (ef as f64) / s < rows * EXACT_SCAN_VISIT_FRACTION);
    let few = match sel {
        None => true,
        Some(s) => !graph || s * rows <= EXACT_VIA_INDEX_ROWS_MAX,
    };
    match (has_btree_access && few, graph) {
        (true, _) => VectorPath::ExactViaIndex,
        (false, true) => VectorPath::Graph,
        (false, false) => VectorPath::ExactScan,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_path_follows_the_sampled_selectivity() {
        let rows = 100_000.0;
        // No filter: the graph, whatever else is known.
        assert_eq!(vector_path(rows, 40, false, None, false), VectorPath::Graph);
        assert_eq!(
            vector_path(rows, 40, false, None, true),
            VectorPath::ExactViaIndex
        );
        // A broad filter: walking the graph visits few rows.
        assert_eq!(
            vector_path(rows, 40, true, Some(0.5), false),
            VectorPath::Graph
        );
        // A narrow one: ef / s would visit more than a quarter of the table.
        assert_eq!(
            vector_path(rows, 40, true, Some(0.001), false),
            VectorPath::ExactScan
        );
        // Nothing qualified in the sample: exact.
        assert_eq!(
            vector_path(rows, 40, true, None, false),
            VectorPath::ExactScan
        );
        assert_eq!(
            vector_path(rows, 40, true, Some(0.0), false),
            VectorPath::ExactScan
        );
        // With a B-tree access: exact through it when few rows qualify.
        assert_eq!(
            vector_path(rows, 40, true, Some(0.05), true),
            VectorPath::ExactViaIndex
        );
        assert_eq!(
            vector_path(rows, 40, true, Some(0.5), true),
            VectorPath::Graph
        );
        assert_eq!(
            vector_path(rows, 40, true, Some(0.001), true),
            VectorPath::ExactViaIndex
        );
    }
}
