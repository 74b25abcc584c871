//! The catalog as relations a query can read: `information_schema.tables`,
//! `information_schema.columns`, `cairn_tables`, `cairn_indexes` and
//! `cairn_triggers`. Each is planned as a
//! list of rows built from the catalog when the statement is planned
//! (plans are re-made whenever the catalog changes, so the rows are never
//! stale); the live statistics of vector indexes (nodes, pending vectors,
//! tombstones, bytes) are engine-function calls evaluated when the query
//! runs, so they are read at execution like any other value.
//!
//! Also the listings of `PRAGMA table_info(t)`, `SHOW TABLES` and
//! `DESCRIBE t`.

use std::sync::Arc;

use cairn_core::{DataType, Error, Result, Row, Value};
use cairn_storage::{Store, Table};
use sqlparser::ast;

use crate::ast_util::object_name;
use crate::cursor::Column;
use crate::expr::{EngineFn, Expr};
use crate::plan::Plan;
use crate::scope::OutCol;

/// The catalog relation `name` names, if it is one: its plan and columns.
/// `view_cols` gives a view's output columns (the planner plans it).
pub fn relation(
    store: &Store,
    name: &ast::ObjectName,
    view_cols: &mut dyn FnMut(&str) -> Option<Vec<OutCol>>,
) -> Option<(Plan, Vec<OutCol>)> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p {
            ast::ObjectNamePart::Identifier(i) => i.value.to_ascii_lowercase(),
            other => other.to_string().to_ascii_lowercase(),
        })
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    match parts[..] {
        ["information_schema", "tables"] => Some(tables(store)),
        ["information_schema", "columns"] => Some(columns(store, view_cols)),
        ["cairn_indexes"] if store.table("cairn_indexes").is_none() => Some(indexes(store)),
        ["cairn_tables"] if store.table("cairn_tables").is_none() => Some(tables_storage(store)),
        ["cairn_segments"] if store.table("cairn_segments").is_none() => Some(segments()),
        ["cairn_triggers"] if store.table("cairn_triggers").is_none() => Some(triggers(store)),
        ["cairn_stats"] if store.table("cairn_stats").is_none() => Some(planner_stats(store)),
        _ => None,
    }
}

fn col(name: &str, data_type: DataType) -> OutCol {
    OutCol {
        name: name.to_string(),
        data_type: Some(data_type),
        affinity: crate::affinity::Affinity::of_type(data_type),
        expr_affinity: crate::affinity::Affinity::of_type(data_type),
        datatypes: crate::affinity::NUMERIC | crate::affinity::TEXT | crate::affinity::BLOB,
    }
}

fn text(s: &str) -> Expr {
    Expr::Literal(Value::text(s))
}

/// `f('name', 'field')`: a statistic read when the query runs.
fn engine_call(f: EngineFn, name: &str, field: &str) -> Expr {
    Expr::Engine(f, vec![text(name), text(field)])
}

fn int(i: usize) -> Expr {
    Expr::Literal(Value::Integer(i64::try_from(i).unwrap_or(i64::MAX)))
}

/// Rows as a plan; no rows is one row of NULLs under a false filter, so
/// the plan keeps its width.
fn values(rows: Vec<Vec<Expr>>, width: usize) -> Plan {
    if rows.is_empty() {
        let nulls = vec![Expr::Literal(Value::Null); width];
        return Plan::Values { rows: vec![nulls] }
            .filtered(vec![Expr::Literal(Value::Boolean(false))]);
    }
    Plan::Values { rows }
}

/// Every table, by name.
fn sorted_tables(store: &Store) -> Vec<(String, Arc<Table>)> {
    let mut names = store.table_names();
    names.sort();
    names
        .into_iter()
        .filter_map(|n| store.table(&n).map(|t| (n, t)))
        .collect()
}

/// `information_schema.tables`: one row per table and view.
fn tables(store: &Store) -> (Plan, Vec<OutCol>) {
    let cols = vec![
        col("table_schema", DataType::Text),
        col("table_name", DataType::Text),
        col("table_type", DataType::Text),
    ];
    let mut rows = Vec::new();
    let mut names = store.table_names();
    names.sort();
    for t in names {
        rows.push(vec![text("main"), text(&t), text("BASE TABLE")]);
    }
    let mut views = store.view_names();
    views.sort();
    for v in views {
        rows.push(vec![text("main"), text(&v), text("VIEW")]);
    }
    (values(rows, cols.len()), cols)
}

/// `information_schema.columns`: one row per column of every table, then
/// of every view that plans (a view reading a dropped table has none).
fn columns(
    store: &Store,
    view_cols: &mut dyn FnMut(&str) -> Option<Vec<OutCol>>,
) -> (Plan, Vec<OutCol>) {
    let cols = vec![
        col("table_schema", DataType::Text),
        col("table_name", DataType::Text),
        col("column_name", DataType::Text),
        col("ordinal_position", DataType::Integer),
        col("data_type", DataType::Text),
        col("is_nullable", DataType::Text),
        col("column_default", DataType::Text),
        col("is_primary_key", DataType::Boolean),
    ];
    let mut rows = Vec::new();
    for (t, table) in sorted_tables(store) {
        let schema = table.schema();
        let pk = schema.primary_key.clone().unwrap_or_default();
        for (i, c) in schema.columns.iter().enumerate() {
            rows.push(vec![
                text("main"),
                text(&t),
                text(&c.name),
                int(i + 1),
                text(&c.declared_type),
                text(if c.nullable { "YES" } else { "NO" }),
                Expr::Literal(c.default_sql.as_deref().map_or(Value::Null, Value::text)),
                Expr::Literal(Value::Boolean(pk.contains(&i))),
            ]);
        }
    }
    let mut views = store.view_names();
    views.sort();
    for v in views {
        for (i, c) in view_cols(&v).unwrap_or_default().iter().enumerate() {
            let ty = c.data_type.unwrap_or(DataType::Any).to_string();
            rows.push(vec![
                text("main"),
                text(&v),
                text(&c.name),
                int(i + 1),
                text(&ty),
                text("YES"),
                Expr::Literal(Value::Null),
                Expr::Literal(Value::Boolean(false)),
            ]);
        }
    }
    (values(rows, cols.len()), cols)
}

/// `cairn_segments`: one row per segment of every table — each sealed
/// segment (numbered from 0, oldest first) and the live one (numbered
/// last) — with the row versions it holds and how many of them are
/// current (not ended by an update or delete). Read when the query runs.
fn segments() -> (Plan, Vec<OutCol>) {
    let which = crate::plan::SystemRows::Segments;
    let cols = which.columns().iter().map(|(n, t)| col(n, *t)).collect();
    (Plan::System(which), cols)
}

/// `cairn_tables`: one row per table with the live state of its storage:
/// rows visible now, sealed segments, and versions in the live segment
/// (read when the query runs).
fn tables_storage(store: &Store) -> (Plan, Vec<OutCol>) {
    let cols = vec![
        col("table_name", DataType::Text),
        col("rows", DataType::Integer),
        col("sealed_segments", DataType::Integer),
        col("live_versions", DataType::Integer),
    ];
    let stat = |table: &str, field: &str| engine_call(EngineFn::TableStat, table, field);
    let rows = sorted_tables(store)
        .into_iter()
        .map(|(t, _)| {
            vec![
                text(&t),
                stat(&t, "rows"),
                stat(&t, "sealed_segments"),
                stat(&t, "live_versions"),
            ]
        })
        .collect();
    (values(rows, cols.len()), cols)
}

/// `cairn_stats`: the planner's statistics (`ANALYZE`), one row per
/// column of every analyzed table: the rows when they were taken and how
/// many were sampled, the share of NULLs, distinct values, the most common
/// values with their shares, and the histogram's bounds (lists as text).
fn planner_stats(store: &Store) -> (Plan, Vec<OutCol>) {
    let cols = vec![
        col("table_name", DataType::Text),
        col("column_name", DataType::Text),
        col("rows", DataType::Integer),
        col("sampled", DataType::Integer),
        col("null_frac", DataType::Real),
        col("n_distinct", DataType::Integer),
        col("most_common_vals", DataType::Text),
        col("most_common_freqs", DataType::Text),
        col("histogram_bounds", DataType::Text),
    ];
    let list = |vs: &mut dyn Iterator<Item = String>| {
        let items: Vec<String> = vs.collect();
        if items.is_empty() {
            Expr::Literal(Value::Null)
        } else {
            text(&format!("[{}]", items.join(", ")))
        }
    };
    let mut rows = Vec::new();
    for (name, table) in sorted_tables(store) {
        let Some(stats) = table.stats() else { continue };
        let schema = table.schema();
        let total = (stats.rows as f64).max(1.0);
        for (c, cs) in schema.columns.iter().zip(&stats.columns) {
            rows.push(vec![
                text(&name),
                text(&c.name),
                Expr::Literal(Value::Integer(stats.rows as i64)),
                Expr::Literal(Value::Integer(stats.sampled as i64)),
                Expr::Literal(Value::Real(cs.nulls as f64 / total)),
                Expr::Literal(Value::Integer(cs.distinct as i64)),
                list(&mut cs.mcv.iter().map(|(v, _)| quoted(v))),
                list(
                    &mut cs
                        .mcv
                        .iter()
                        .map(|(_, k)| format!("{:.4}", *k as f64 / total)),
                ),
                list(&mut cs.histogram.iter().map(quoted)),
            ]);
        }
    }
    (values(rows, cols.len()), cols)
}

/// `v` written as SQL's `quote()` writes it.
fn quoted(v: &Value) -> String {
    let quote = crate::functions::lookup("quote").map(|f| (f.eval)(std::slice::from_ref(v)));
    match quote {
        Some(Ok(Value::Text(t))) => t.to_string(),
        _ => v.to_string(),
    }
}

/// `cairn_triggers`: one row per trigger, in name order (which is also the
/// order triggers of one event fire in): its table or view, timing, event,
/// `UPDATE OF` columns (comma-separated, NULL for none) and CREATE TRIGGER
/// statement.
fn triggers(store: &Store) -> (Plan, Vec<OutCol>) {
    let cols = vec![
        col("trigger_name", DataType::Text),
        col("table_name", DataType::Text),
        col("timing", DataType::Text),
        col("event", DataType::Text),
        col("columns", DataType::Text),
        col("sql", DataType::Text),
    ];
    let rows = store
        .triggers()
        .into_iter()
        .map(|t| {
            let spec = crate::parser::parse_statements(&t.create_sql)
                .ok()
                .and_then(|mut s| match s.pop() {
                    Some(ast::Statement::CreateTrigger(ct)) => crate::trigger::spec(&ct).ok(),
                    _ => None,
                });
            let (timing, event, columns) = match &spec {
                Some(s) => (
                    text(s.timing.name()),
                    text(s.event.name()),
                    match s.columns.is_empty() {
                        true => Expr::Literal(Value::Null),
                        false => text(&s.columns.join(",")),
                    },
                ),
                None => (
                    Expr::Literal(Value::Null),
                    Expr::Literal(Value::Null),
                    Expr::Literal(Value::Null),
                ),
            };
            vec![
                text(&t.name),
                text(&t.table),
                timing,
                event,
                columns,
                text(&t.create_sql),
            ]
        })
        .collect();
    (values(rows, cols.len()), cols)
}

/// `cairn_indexes`: one row per index (B-tree and HNSW), with its
/// parameters and, for HNSW indexes, live statistics.
fn indexes(store: &Store) -> (Plan, Vec<OutCol>) {
    let cols = vec![
        col("index_name", DataType::Text),
        col("table_name", DataType::Text),
        col("kind", DataType::Text),
        col("columns", DataType::Text),
        col("is_unique", DataType::Boolean),
        col("is_primary", DataType::Boolean),
        col("parameters", DataType::Text),
        col("nodes", DataType::Integer),
        col("pending", DataType::Integer),
        col("tombstone_ratio", DataType::Real),
        col("bytes", DataType::Integer),
        col("quantization", DataType::Text),
        col("link_bytes", DataType::Integer),
        col("code_bytes", DataType::Integer),
        col("vector_bytes", DataType::Integer),
        col("mapped_bytes", DataType::Integer),
    ];
    let stat = |index: &str, field: &str| engine_call(EngineFn::IndexStat, index, field);
    let null = || Expr::Literal(Value::Null);
    let mut rows = Vec::new();
    for (t, table) in sorted_tables(store) {
        let schema = table.schema();
        let col_names = |cs: &[usize]| {
            let names: Vec<&str> = cs
                .iter()
                .filter_map(|&c| schema.columns.get(c).map(|c| c.name.as_str()))
                .collect();
            names.join(", ")
        };
        for ix in table.indexes() {
            rows.push(vec![
                text(&ix.name),
                text(&t),
                text("btree"),
                text(&col_names(&ix.columns)),
                Expr::Literal(Value::Boolean(ix.unique)),
                Expr::Literal(Value::Boolean(ix.primary)),
                null(),
                null(),
                null(),
                null(),
                null(),
                null(),
                null(),
                null(),
                null(),
                null(),
            ]);
        }
        for vx in table.vector_indexes() {
            let mut params = format!(
                "m={}, ef_construction={}, metric={}, compact_ratio={}",
                vx.params.m,
                vx.params.ef_construction,
                format!("{:?}", vx.params.metric).to_ascii_lowercase(),
                vx.compact_ratio
            );
            if vx.quantization != cairn_storage::Quantization::None {
                params.push_str(&format!(", quantization={}", vx.quantization.name()));
                if let cairn_storage::Quantization::RaBitQ { bits } = vx.quantization {
                    params.push_str(&format!(", bits={bits}"));
                }
                params.push_str(&format!(", rerank={}", vx.rerank));
            }
            rows.push(vec![
                text(&vx.name),
                text(&t),
                text("hnsw"),
                text(&col_names(&[vx.column])),
                Expr::Literal(Value::Boolean(false)),
                Expr::Literal(Value::Boolean(false)),
                text(&params),
                stat(&vx.name, "nodes"),
                stat(&vx.name, "pending"),
                stat(&vx.name, "tombstone_ratio"),
                stat(&vx.name, "bytes"),
                text(vx.quantization.name()),
                stat(&vx.name, "link_bytes"),
                stat(&vx.name, "code_bytes"),
                stat(&vx.name, "vector_bytes"),
                stat(&vx.name, "mapped_bytes"),
            ]);
        }
    }
    (values(rows, cols.len()), cols)
}

/// A listing's columns (all text unless typed) and rows.
type Listing = (Arc<[Column]>, Vec<Row>);

fn listing_columns(cols: &[(&str, DataType)]) -> Arc<[Column]> {
    cols.iter()
        .map(|(name, t)| Column {
            name: (*name).to_string(),
            data_type: Some(*t),
        })
        .collect()
}

fn table_named(store: &Store, name: &str) -> Result<Arc<Table>> {
    store
        .table(name)
        .ok_or_else(|| Error::no_such("table", name))
}

/// `PRAGMA table_info(t)`, as SQLite lists it: `cid`, `name`, `type`,
/// `notnull`, `dflt_value`, `pk` (position in the primary key, from 1; 0
/// when not in it).
pub fn table_info(store: &Store, table: &str) -> Result<Listing> {
    let table = table_named(store, table.trim_matches(|c| c == '\'' || c == '"'))?;
    let schema = table.schema();
    let pk = schema.primary_key.clone().unwrap_or_default();
    let rows = schema
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let in_pk = pk.iter().position(|&p| p == i).map_or(0, |p| p + 1);
            vec![
                Value::Integer(i as i64),
                Value::text(&c.name),
                Value::text(&c.declared_type),
                Value::Integer(i64::from(!c.nullable)),
                c.default_sql.as_deref().map_or(Value::Null, Value::text),
                Value::Integer(in_pk as i64),
            ]
        })
        .collect();
    let columns = listing_columns(&[
        ("cid", DataType::Integer),
        ("name", DataType::Text),
        ("type", DataType::Text),
        ("notnull", DataType::Integer),
        ("dflt_value", DataType::Text),
        ("pk", DataType::Integer),
    ]);
    Ok((columns, rows))
}

/// `SHOW TABLES`: the tables' names, sorted.
pub fn show_tables(store: &Store) -> Listing {
    let mut names = store.table_names();
    names.sort();
    let rows = names.iter().map(|n| vec![Value::text(n)]).collect();
    (listing_columns(&[("name", DataType::Text)]), rows)
}

/// `DESCRIBE t`: one row per column — name, declared type, whether it
/// takes NULL, `PRI` for primary-key columns, the default.
pub fn describe(store: &Store, name: &ast::ObjectName) -> Result<Listing> {
    let table = table_named(store, &object_name(name))?;
    let schema = table.schema();
    let pk = schema.primary_key.clone().unwrap_or_default();
    let rows = schema
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            vec![
                Value::text(&c.name),
                Value::text(&c.declared_type),
                Value::text(if c.nullable { "YES" } else { "NO" }),
                if pk.contains(&i) {
                    Value::text("PRI")
                } else {
                    Value::Null
                },
                c.default_sql.as_deref().map_or(Value::Null, Value::text),
            ]
        })
        .collect();
    let columns = listing_columns(&[
        ("column_name", DataType::Text),
        ("column_type", DataType::Text),
        ("null", DataType::Text),
        ("key", DataType::Text),
        ("default", DataType::Text),
    ]);
    Ok((columns, rows))
}
