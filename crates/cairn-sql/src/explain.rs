//! EXPLAIN's text for a plan: one line per operator, children indented,
//! expressions written with the names of the columns they read (`b`, or
//! `t.b` where two columns of the row share a name; `#n` only where no name
//! is known) and long vector literals shortened.

use std::fmt::Write as _;
use std::sync::Arc;

use cairn_storage::Table;

use crate::expr::{with_column_names, Expr};
use crate::plan::{Access, AggCall, AggFunc, Plan, WindowStream};

/// A column of an operator's output row, for EXPLAIN.
#[derive(Debug, Clone)]
struct Name {
    /// The table (alias) it comes from, if any.
    table: Option<String>,
    column: String,
}

impl Name {
    /// A column name of no table.
    fn column(column: &str) -> Name {
        Name {
            table: None,
            column: column.to_string(),
        }
    }
}

/// The names EXPLAIN prints for a row: a column's own name, qualified by
/// its table where another column of the row has the same name.
fn render(names: &[Name]) -> Vec<String> {
    names
        .iter()
        .map(|n| {
            let shared = names
                .iter()
                .filter(|m| m.column.eq_ignore_ascii_case(&n.column))
                .count()
                > 1;
            match &n.table {
                Some(t) if shared => format!("{t}.{}", n.column),
                _ => n.column.clone(),
            }
        })
        .collect()
}

/// The columns of `table` scanned as `label`.
fn table_names(table: &Arc<Table>, label: &str) -> Vec<Name> {
    table
        .schema()
        .columns
        .iter()
        .map(|c| Name {
            table: Some(label.to_string()),
            column: c.name.clone(),
        })
        .collect()
}

/// Expressions separated by commas.
fn list(exprs: &[Expr]) -> String {
    exprs
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// An aggregate call as SQL (`count(*)`, `sum(DISTINCT b)`).
fn agg_text(a: &AggCall) -> String {
    let name = match a.func {
        AggFunc::CountStar => return "count(*)".into(),
        AggFunc::Count => "count",
        AggFunc::Sum => "sum",
        AggFunc::Total => "total",
        AggFunc::Avg => "avg",
        AggFunc::Min => "min",
        AggFunc::Max => "max",
        AggFunc::GroupConcat => "group_concat",
        AggFunc::AnyValue | AggFunc::Bare => "any_value",
        AggFunc::BoolAnd => "bool_and",
        AggFunc::BoolOr => "bool_or",
    };
    let distinct = if a.distinct { "DISTINCT " } else { "" };
    let filter = a
        .filter
        .as_ref()
        .map_or(String::new(), |f| format!(" FILTER (WHERE {f})"));
    format!("{name}({distinct}{}){filter}", list(&a.args))
}

impl Plan {
    pub fn explain(&self) -> String {
        self.explain_noted(&|_| None)
    }

    /// The columns of the row the expressions on this operator's EXPLAIN
    /// line read: a scan's own row, or the input's (joins name the parts
    /// of their line themselves).
    fn line_names(&self) -> Vec<Name> {
        match self {
            Plan::Scan { .. } => self.output_names(),
            Plan::Filter { input, .. }
            | Plan::Project { input, .. }
            | Plan::Aggregate { input, .. }
            | Plan::Window { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Distinct { input, .. } => input.output_names(),
            _ => Vec::new(),
        }
    }

    /// Names of the columns this operator produces, for EXPLAIN.
    fn output_names(&self) -> Vec<Name> {
        let unnamed = |prefix: &str, n: usize| -> Vec<Name> {
            (1..=n)
                .map(|i| Name {
                    table: None,
                    column: format!("{prefix}{i}"),
                })
                .collect()
        };
        let exprs_over = |input: &Plan, exprs: &[Expr]| -> Vec<Name> {
            let names = render(&input.output_names());
            with_column_names(&names, || {
                exprs
                    .iter()
                    .map(|e| Name {
                        table: None,
                        column: e.to_string(),
                    })
                    .collect()
            })
        };
        match self {
            Plan::Single => Vec::new(),
            Plan::Derived { input, .. } => input.output_names(),
            Plan::Values { rows } => unnamed("column", rows.first().map_or(0, Vec::len)),
            Plan::System(s) => s.columns().iter().map(|c| Name::column(c.0)).collect(),
            Plan::Scan {
                table,
                label,
                with_rowid,
                ..
            } => {
                let mut n = table_names(table, label);
                if *with_rowid {
                    n.push(Name {
                        table: Some(label.clone()),
                        column: "rowid".into(),
                    });
                }
                n
            }
            Plan::Filter { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Distinct { input, .. }
            | Plan::With { input, .. } => input.output_names(),
            Plan::Project { input, exprs } => exprs_over(input, exprs),
            Plan::NestedLoop { left, right, .. } | Plan::HashJoin { left, right, .. } => {
                let mut n = left.output_names();
                n.extend(right.output_names());
                n
            }
            Plan::IndexJoin {
                left, table, label, ..
            } => {
                let mut n = left.output_names();
                n.extend(table_names(table, label));
                n
            }
            Plan::Aggregate {
                input,
                group_by,
                aggs,
                ..
            } => {
                let mut n = exprs_over(input, group_by);
                let names = render(&input.output_names());
                with_column_names(&names, || {
                    n.extend(aggs.iter().map(|a| Name {
                        table: None,
                        column: agg_text(a),
                    }))
                });
                n
            }
            Plan::Window { input, calls, .. } => {
                let mut n = input.output_names();
                n.extend(unnamed("window", calls.len()));
                n
            }
            Plan::IndexDistinct {
                table,
                label,
                index_no,
            } => {
                let col = table
                    .indexes()
                    .get(*index_no)
                    .and_then(|ix| ix.columns.first().copied());
                let all = table_names(table, label);
                col.and_then(|c| all.get(c).cloned()).into_iter().collect()
            }
            Plan::SetOp { left, .. } => left.output_names(),
            Plan::CteScan { name, width, .. } | Plan::WorkingSet { name, width, .. } => {
                unnamed(&format!("{name}.#"), *width)
            }
            Plan::RecursiveCte { base, .. } => base.output_names(),
        }
    }

    /// The line EXPLAIN prints for a join: its kind, keys and conditions,
    /// each named in the row it is evaluated on.
    fn join_line(&self) -> String {
        let both = || {
            let mut n = self.output_names();
            n.truncate(self.width());
            render(&n)
        };
        match self {
            Plan::NestedLoop { kind, on, .. } => match on {
                Some(on) => {
                    with_column_names(&both(), || format!("NestedLoopJoin {kind:?} on={on}"))
                }
                None => format!("NestedLoopJoin {kind:?}"),
            },
            Plan::HashJoin {
                left,
                right,
                kind,
                left_keys,
                right_keys,
                residual,
            } => {
                let l = with_column_names(&render(&left.output_names()), || list(left_keys));
                let r = with_column_names(&render(&right.output_names()), || list(right_keys));
                let res = with_column_names(&both(), || clause("residual", residual.as_ref()));
                format!("HashJoin {kind:?} ({l}) = ({r}){res}")
            }
            Plan::IndexJoin {
                left,
                table,
                label,
                kind,
                keys,
                index_no,
                filter,
                residual,
                ..
            } => {
                let index = table
                    .indexes()
                    .get(*index_no)
                    .map(|d| d.name.clone())
                    .unwrap_or_default();
                let k = with_column_names(&render(&left.output_names()), || list(keys));
                let f = with_column_names(&render(&table_names(table, label)), || {
                    clause("filter", filter.as_ref())
                });
                let res = with_column_names(&both(), || clause("residual", residual.as_ref()));
                format!(
                    "IndexJoin {kind:?} {} AS {label} using {index} (key = {k}){f}{res}",
                    table.name()
                )
            }
            _ => String::new(),
        }
    }

    /// EXPLAIN's text with `note(op)` (if any) after each operator's line
    /// (EXPLAIN ANALYZE's actual rows).
    pub fn explain_noted(&self, note: &dyn Fn(&Plan) -> Option<String>) -> String {
        let mut out = String::new();
        self.explain_into(&mut out, 0, note);
        out
    }

    fn explain_into(&self, out: &mut String, depth: usize, note: &dyn Fn(&Plan) -> Option<String>) {
        if let Plan::Derived { input, .. } = self {
            return input.explain_into(out, depth, note); // a marker only
        }
        let pad = "  ".repeat(depth);
        let names = render(&self.line_names());
        let _ = with_column_names(&names, || match self {
            Plan::Single => writeln!(out, "{pad}Single"),
            Plan::Derived { .. } => Ok(()),
            Plan::Values { rows } => writeln!(out, "{pad}Values rows={}", rows.len()),
            Plan::System(s) => writeln!(out, "{pad}SystemRows {}", s.name()),
            Plan::Scan {
                table,
                label,
                access,
                filter,
                ..
            } => {
                let line = scan_line(table, label, access, filter.as_ref());
                writeln!(out, "{pad}{line}")
            }
            Plan::Filter { predicate, .. } => writeln!(out, "{pad}Filter {predicate}"),
            Plan::Project { exprs, .. } => writeln!(out, "{pad}Project {}", list(exprs)),
            Plan::NestedLoop { .. } | Plan::HashJoin { .. } | Plan::IndexJoin { .. } => {
                writeln!(out, "{pad}{}", self.join_line())
            }
            Plan::Aggregate {
                group_by,
                aggs,
                ordered,
                ..
            } => writeln!(out, "{pad}{}", aggregate_line(group_by, aggs, *ordered)),
            Plan::Window { calls, stream, .. } => {
                writeln!(
                    out,
                    "{pad}Window functions={}{}",
                    calls.len(),
                    stream_text(*stream)
                )
            }
            Plan::Sort { keys, .. } => writeln!(
                out,
                "{pad}Sort {}",
                keys.iter()
                    .map(|k| format!("{}{}", k.expr, if k.desc { " DESC" } else { "" }))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Plan::Limit { limit, offset, .. } => writeln!(
                out,
                "{pad}Limit {}{}",
                limit
                    .as_ref()
                    .map(|l| l.to_string())
                    .unwrap_or_else(|| "ALL".into()),
                offset
                    .as_ref()
                    .map(|o| format!(" offset {o}"))
                    .unwrap_or_default()
            ),
            Plan::Distinct { .. } => writeln!(out, "{pad}Distinct"),
            Plan::IndexDistinct {
                table,
                label,
                index_no,
                ..
            } => writeln!(
                out,
                "{pad}IndexDistinctScan {} AS {label} using {}",
                table.name(),
                table
                    .indexes()
                    .get(*index_no)
                    .map(|d| d.name.clone())
                    .unwrap_or_default()
            ),
            Plan::SetOp { kind, all, .. } => {
                writeln!(out, "{pad}{kind:?}{}", if *all { " ALL" } else { "" })
            }
            Plan::CteScan { name, .. } => writeln!(out, "{pad}CteScan {name}"),
            Plan::RecursiveCte { name, .. } => writeln!(out, "{pad}RecursiveCte {name}"),
            Plan::WorkingSet { name, .. } => writeln!(out, "{pad}WorkingSet {name}"),
            Plan::With { ctes, .. } => writeln!(
                out,
                "{pad}With {}",
                ctes.iter()
                    .map(|c| c.1.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
        if let Some(n) = note(self) {
            append_note(out, &n);
        }
        self.for_each_child(&mut |c| c.explain_into(out, depth + 1, note));
    }
}

/// Puts ` (note)` at the end of the last line of `out`.
fn append_note(out: &mut String, note: &str) {
    if out.ends_with('\n') {
        out.pop();
    }
    out.push_str(" (");
    out.push_str(note);
    out.push_str(")\n");
}

/// EXPLAIN's description of a nearest-neighbour search (the part after
/// the table scan's kind).
fn vector_line(
    table: &Arc<Table>,
    index_no: usize,
    query: &Expr,
    k: &Expr,
    exact: Option<&Access>,
    filtered: bool,
) -> String {
    let schema = table.schema();
    let idx = |n: &usize| index_name(table, *n);
    let defs = table.vector_indexes();
    let (name, metric, dims, quantization) = defs
        .get(index_no)
        .map(|d| {
            (
                d.name.clone(),
                format!("{:?}", d.params.metric),
                d.dims,
                d.quantization,
            )
        })
        .unwrap_or_default();
    let codes = match quantization {
        cairn_storage::Quantization::None => String::new(),
        q => format!(", {} codes", q.label()),
    };
    // A parameter shows the dimension it must have: `$1[64]`.
    let query = match query {
        Expr::Param(i) => format!("${}[{dims}]", i + 1),
        q => q.to_string(),
    };
    let strategy = match (filtered, exact) {
        (_, Some(a)) => format!(
            "filter: in graph, or exact through {} if a row sample finds it selective",
            match a {
                Access::IndexEq { index_no, .. }
                | Access::IndexIn { index_no, .. }
                | Access::IndexInSet { index_no, .. }
                | Access::IndexRange { index_no, .. } => idx(index_no),
                _ => String::new(),
            }
        ),
        (true, None) => {
            "filter: in graph, or exact scan if a row sample finds it selective".to_string()
        }
        (false, None) => "index search".to_string(),
    };
    format!(
        "VectorSearch {} using {} ({} nearest to {}, metric {}{}, ~{} rows; {})",
        schema.name,
        name,
        k,
        query,
        metric.to_ascii_lowercase(),
        codes,
        table.row_count(),
        strategy
    )
}

/// The name of `table`'s ordered index `n` (empty if it has none).
fn index_name(table: &Table, n: usize) -> String {
    table
        .indexes()
        .get(n)
        .map(|d| d.name.clone())
        .unwrap_or_default()
}

/// EXPLAIN's line for a table scan: its access path, alias and filter.
fn scan_line(table: &Arc<Table>, label: &str, access: &Access, filter: Option<&Expr>) -> String {
    let schema = table.schema();
    let idx = |n: &usize| index_name(table, *n);
    let how = match access {
        Access::Full => format!("SeqScan {}", schema.name),
        Access::Vector {
            index_no,
            query,
            k,
            exact,
        } => vector_line(
            table,
            *index_no,
            query,
            k,
            exact.as_deref(),
            filter.is_some(),
        ),
        Access::IndexEq { index_no, key, .. } => format!(
            "IndexScan {} using {} (key = {})",
            schema.name,
            idx(index_no),
            key.iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Access::IndexIn { index_no, keys } => format!(
            "IndexScan {} using {} (key IN {} values)",
            schema.name,
            idx(index_no),
            keys.len()
        ),
        Access::IndexInSet { index_no, sub } => format!(
            "IndexScan {} using {} (key IN subquery {}, or a full scan if it returns many)",
            schema.name,
            idx(index_no),
            sub.id
        ),
        Access::IndexOrder { index_no, reverse } => format!(
            "IndexOrderScan {} using {}{}",
            schema.name,
            idx(index_no),
            if *reverse { " (descending)" } else { "" }
        ),
        Access::IndexRange {
            index_no,
            low,
            high,
            ..
        } => format!(
            "IndexRangeScan {} using {} ({}{})",
            schema.name,
            idx(index_no),
            low.as_ref()
                .map(|(e, inc)| format!("key {} {e}", if *inc { ">=" } else { ">" }))
                .unwrap_or_default(),
            high.as_ref()
                .map(|(e, inc)| format!(" key {} {e}", if *inc { "<=" } else { "<" }))
                .unwrap_or_default()
        ),
    };
    let alias = if label.eq_ignore_ascii_case(&schema.name) {
        String::new()
    } else {
        format!(" AS {label}")
    };
    match filter {
        Some(f) => format!("{how}{alias} filter={f}"),
        None => format!("{how}{alias}"),
    }
}

/// ` name=<expr>` for an operator's condition, or nothing.
fn clause(name: &str, e: Option<&Expr>) -> String {
    e.map_or(String::new(), |e| format!(" {name}={e}"))
}

/// EXPLAIN's line for an aggregate.
fn aggregate_line(group_by: &[Expr], aggs: &[AggCall], ordered: bool) -> String {
    let aggs = aggs.iter().map(agg_text).collect::<Vec<_>>().join(", ");
    let how = if ordered {
        "StreamAggregate"
    } else {
        "Aggregate"
    };
    match group_by {
        [] => format!("{how} {aggs}"),
        keys => format!("{how} by {}: {aggs}", list(keys)),
    }
}

/// How EXPLAIN says a window operator streams.
fn stream_text(stream: WindowStream) -> &'static str {
    match stream {
        WindowStream::None => "",
        WindowStream::Partitions => " streamed by partition",
        WindowStream::Rows => " streamed by row",
    }
}
