//! Queries with proofs (RFC 0002 §2.6): the rows a single-table SELECT
//! returns, each with its inclusion proof against one state root, and for
//! `ORDER BY <vector distance> ... LIMIT k` the distances and their order.
//!
//! How: the query's AST gets the table's columns (and, for a distance
//! order, the distance and the query vector) appended to its select list,
//! so each result row names the stored row it came from. That query is
//! planned and run inside [`cairn_storage::Store::read_proven`], on a
//! snapshot at exactly the version the state tries are at, and its rows
//! are proven against that same version before the tries may move on: the
//! rows and their proofs come from one version by construction, whatever
//! commits land meanwhile (no SQL text is re-parsed, nothing is retried).
//! Each proof is checked to carry byte for byte the row the query read.
//!
//! The query runs under the verifiable state's lock (`read_proven` says
//! what waits on it), so it cannot call `cairn_state_root()`,
//! `cairn_version()` or `cairn_prove()`. In an explicit transaction it is
//! refused if the transaction has written anything, and otherwise runs at
//! the transaction's snapshot if that is the newest version.
//!
//! What it proves, and what not: every returned row exists in that state
//! with those values (and distances, in ascending order); not that no other
//! row matches, nor that no closer vector exists.

use std::sync::Arc;

use cairn_core::{Error, Result, Row, Value};
use cairn_merkle::{CommitHead, DistanceOrder, Metric, QueryProof};
use cairn_storage::merkle::{encode_values, ProvenRead};
use cairn_storage::{Table, TableSchema, Transaction};
use sqlparser::ast;

use crate::cursor::Column;
use crate::exec::{Executor, Settings};
use crate::planner::Planner;
use crate::session::{checked_params, Output, Session};

/// A query's result with its proof.
pub struct ProvedOutput {
    /// The result exactly as the query asked for it.
    pub output: Output,
    /// Every result row's stored row with its inclusion proof (same order),
    /// and the distance order for a nearest-neighbour query.
    pub proof: QueryProof,
    /// The version the proofs verify against (`head.state_root`).
    pub head: CommitHead,
}

fn unsupported(what: &str) -> Error {
    Error::plan(format!(
        "query_with_proof needs a plain SELECT over one table (no {what})"
    ))
}

/// The metric of a distance expression `f(a, b)` / `a <-> b`, with its two
/// operands.
fn distance_parts(e: &ast::Expr) -> Option<(Metric, &ast::Expr, &ast::Expr)> {
    match e {
        ast::Expr::Nested(inner) => distance_parts(inner),
        ast::Expr::BinaryOp { left, op, right } => {
            let metric = match op {
                ast::BinaryOperator::Custom(s) if s == "<->" => Metric::L2,
                ast::BinaryOperator::Custom(s) if s == "<#>" => Metric::NegativeDot,
                ast::BinaryOperator::Spaceship => Metric::Cosine,
                _ => return None,
            };
            Some((metric, left, right))
        }
        ast::Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_lowercase();
            let metric = match name.as_str() {
                "vec_distance_l2" | "l2_distance" => Metric::L2,
                "vec_distance_cosine" | "cosine_distance" => Metric::Cosine,
                "vec_distance_ip" | "negative_inner_product" => Metric::NegativeDot,
                _ => return None,
            };
            let ast::FunctionArguments::List(list) = &f.args else {
                return None;
            };
            let args: Vec<&ast::Expr> = list
                .args
                .iter()
                .filter_map(|a| match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e),
                    _ => None,
                })
                .collect();
            match args.as_slice() {
                [a, b] => Some((metric, *a, *b)),
                _ => None,
            }
        }
        _ => None,
    }
}

fn column_name(e: &ast::Expr) -> Option<String> {
    match e {
        ast::Expr::Identifier(i) => Some(i.value.to_ascii_lowercase()),
        ast::Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.to_ascii_lowercase()),
        ast::Expr::Nested(inner) => column_name(inner),
        _ => None,
    }
}

/// Whether the expression calls an aggregate: any `name(` whose name the
/// binder takes for one (`min`/`max` counted with one argument, so a
/// two-argument `min(a, b)` is refused too — erring on the safe side).
fn mentions_aggregate(e: &ast::Expr) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    // The identifier just read (`ended`: spaces followed it).
    let (mut word, mut ended) = (String::new(), false);
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            if ended {
                word.clear();
                ended = false;
            }
            word.push(c);
        } else if c.is_whitespace() {
            ended = !word.is_empty();
        } else {
            if c == '(' && crate::ast_util::aggregate_func(&word, 1).is_some() {
                return true;
            }
            word.clear();
            ended = false;
        }
    }
    false
}

/// A SELECT over one table, checked for what a proof can cover; the
/// table's columns are appended later, on the snapshot the proof is made at.
struct ProofQuery {
    query: ast::Query,
    /// The table as the query names it.
    table: String,
    /// How the query's select items name the table (its alias, or name).
    qualifier: String,
    /// The first ORDER BY key if ascending, an alias or position resolved
    /// to its select item's expression.
    first_order: Option<ast::Expr>,
}

/// What the query with its appended select items returns after the
/// user's columns.
struct Appended {
    /// Columns of the table, appended after the user's select list.
    columns: usize,
    /// Primary key positions (None: every column is the key).
    pk: Option<Vec<usize>>,
    /// For a distance order: (metric, vector column position); the
    /// distance and the query vector follow the table's columns.
    order: Option<(Metric, usize)>,
}

impl Appended {
    fn count(&self) -> usize {
        self.columns + if self.order.is_some() { 2 } else { 0 }
    }
}

/// Parses `sql` and refuses what a query proof cannot cover.
fn parse_proof_query(sql: &str) -> Result<ProofQuery> {
    let q = crate::parser::parse_query(sql)?;
    if q.with.is_some() {
        return Err(unsupported("WITH"));
    }
    let ast::SetExpr::Select(sel) = q.body.as_ref() else {
        return Err(unsupported("set operation or VALUES"));
    };
    if sel.distinct.is_some() {
        return Err(unsupported("DISTINCT"));
    }
    if sel.having.is_some()
        || !matches!(&sel.group_by, ast::GroupByExpr::Expressions(v, _) if v.is_empty())
    {
        return Err(unsupported("GROUP BY"));
    }
    let [from] = sel.from.as_slice() else {
        return Err(unsupported("join or missing FROM"));
    };
    if !from.joins.is_empty() {
        return Err(unsupported("join"));
    }
    let ast::TableFactor::Table { name, alias, .. } = &from.relation else {
        return Err(unsupported("subquery in FROM"));
    };
    let table = name
        .0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.clone())
        .ok_or_else(|| unsupported("table"))?;
    let qualifier = alias
        .as_ref()
        .map_or_else(|| name.to_string(), |a| a.name.to_string());
    for item in &sel.projection {
        if let ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } =
            item
        {
            if mentions_aggregate(e) {
                return Err(unsupported("aggregate"));
            }
        }
    }
    let first_order = first_ascending_order(&q, &sel.projection);
    Ok(ProofQuery {
        query: *q,
        table,
        qualifier,
        first_order,
    })
}

/// The query's first ORDER BY key if it is ascending: only an ascending
/// distance order is a nearest-neighbour order (a descending one is
/// returned with row proofs only). `ORDER BY d` (an alias) and `ORDER BY
/// 2` (a position) name a select-list item, whose expression is returned.
fn first_ascending_order(q: &ast::Query, projection: &[ast::SelectItem]) -> Option<ast::Expr> {
    let first = q.order_by.as_ref().and_then(|o| match &o.kind {
        ast::OrderByKind::Expressions(v) => v
            .first()
            .filter(|x| matches!(x.options.sort, None | Some(ast::OrderBySort::Asc)))
            .map(|x| x.expr.clone()),
        ast::OrderByKind::All(_) => None,
    });
    let item_expr = |item: &ast::SelectItem| match item {
        ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
            Some(e.clone())
        }
        _ => None,
    };
    match first {
        Some(ast::Expr::Identifier(id)) => projection
            .iter()
            .find(|item| {
                matches!(item, ast::SelectItem::ExprWithAlias { alias, .. }
                    if alias.value.eq_ignore_ascii_case(&id.value))
            })
            .and_then(item_expr)
            .or(Some(ast::Expr::Identifier(id))),
        Some(ast::Expr::Value(v)) => match &v.value {
            ast::Value::Number(n, _) => n
                .parse::<usize>()
                .ok()
                .and_then(|i| projection.get(i.checked_sub(1)?))
                .and_then(item_expr),
            _ => None,
        },
        other => other,
    }
}

/// The query with `schema`'s columns appended to its select list (and, for
/// a distance order, the distance and the query vector), as an AST.
fn append_columns(pq: &ProofQuery, schema: &TableSchema) -> Result<(ast::Query, Appended)> {
    let mut q = pq.query.clone();
    let ast::SetExpr::Select(sel) = q.body.as_mut() else {
        return Err(unsupported("set operation"));
    };
    for c in &schema.columns {
        let e = crate::parser::parse_expr(&format!(
            "{}.\"{}\"",
            pq.qualifier,
            c.name.replace('"', "\"\"")
        ))?;
        sel.projection.push(ast::SelectItem::UnnamedExpr(e));
    }
    let mut order = None;
    if let Some((metric, a, b)) = pq.first_order.as_ref().and_then(distance_parts) {
        let find = |e: &ast::Expr| {
            column_name(e).and_then(|n| {
                schema
                    .columns
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(&n))
            })
        };
        let (col, query) = match (find(a), find(b)) {
            (Some(c), None) => (c, b.clone()),
            (None, Some(c)) => (c, a.clone()),
            _ => {
                return Err(Error::plan(
                    "query_with_proof: ORDER BY distance needs a column and a query vector",
                ))
            }
        };
        if let Some(e) = &pq.first_order {
            sel.projection.push(ast::SelectItem::UnnamedExpr(e.clone()));
        }
        sel.projection.push(ast::SelectItem::UnnamedExpr(query));
        order = Some((metric, col));
    }
    let appended = Appended {
        columns: schema.columns.len(),
        pk: schema.primary_key.clone(),
        order,
    };
    Ok((q, appended))
}

fn as_vector(v: &Value) -> Result<Vec<f32>> {
    v.vector_arg()?
        .map(|c| c.into_owned())
        .ok_or_else(|| Error::plan("query_with_proof: the query vector is NULL"))
}

/// What the query read on the proof's snapshot.
struct Read {
    columns: Vec<Column>,
    /// Result rows with the appended values.
    rows: Vec<Row>,
    /// Where the user's columns end.
    user: usize,
    appended: Appended,
}

impl Read {
    /// The stored row a result row came from.
    fn stored<'r>(&self, row: &'r Row) -> Result<&'r [Value]> {
        row.get(self.user..self.user + self.appended.columns)
            .ok_or_else(|| Error::internal("query_with_proof: short row"))
    }

    /// The key a verifier asks about for a result row.
    fn key(&self, row: &Row) -> Result<Vec<Value>> {
        let full = self.stored(row)?;
        Ok(match &self.appended.pk {
            Some(cols) => cols
                .iter()
                .map(|&c| full.get(c).cloned().unwrap_or(Value::Null))
                .collect(),
            None => full.to_vec(),
        })
    }
}

/// Plans and runs the query with the appended select items on `tx` (the
/// proof's snapshot; `table` as the state tries hold it) and names the key
/// of every row it returned.
fn read_on_snapshot(
    pq: &ProofQuery,
    tx: &Transaction,
    table: &Table,
    params: &[Value],
    settings: Settings,
) -> Result<(Read, Vec<Vec<Value>>)> {
    let (query, appended) = append_columns(pq, &table.schema())?;
    let mut planner = Planner::new(tx.store());
    let (plan, cols) = planner.plan_query(&query)?;
    let params = checked_params(params, planner.bind.param_count)?;
    let subqueries = std::mem::take(&mut planner.bind.subqueries);
    let rows = Executor::new(tx, &params, settings, &subqueries).run(&plan, &[])?;
    let user = cols
        .len()
        .checked_sub(appended.count())
        .ok_or_else(|| Error::internal("query_with_proof: fewer columns than appended"))?;
    let columns = cols
        .into_iter()
        .map(|c| Column {
            name: c.name,
            data_type: c.data_type,
        })
        .collect();
    let read = Read {
        columns,
        rows,
        user,
        appended,
    };
    let keys = read
        .rows
        .iter()
        .map(|r| read.key(r))
        .collect::<Result<_>>()?;
    Ok((read, keys))
}

/// The distance order of a nearest-neighbour query: each row's distance
/// and the query vector, as the query computed them.
fn distance_order(read: &Read, metric: Metric, column: usize) -> Result<DistanceOrder> {
    let at = read.user + read.appended.columns;
    let mut distances = Vec::with_capacity(read.rows.len());
    let mut query = None;
    for row in &read.rows {
        distances.push(match row.get(at) {
            Some(Value::Real(d)) => *d,
            Some(Value::Integer(i)) => *i as f64,
            _ => {
                return Err(Error::plan(
                    "query_with_proof: a returned row has no distance",
                ))
            }
        });
        if query.is_none() {
            query = row.get(at + 1).map(as_vector).transpose()?;
        }
    }
    Ok(DistanceOrder {
        column: column as u32,
        metric,
        query: query.unwrap_or_default(),
        distances,
    })
}

impl Session {
    /// Runs a single-table SELECT and proves every row it returns (see the
    /// module doc for what that does and does not prove).
    pub fn query_with_proof(&mut self, sql: &str, params: &[Value]) -> Result<ProvedOutput> {
        let pq = parse_proof_query(sql)?;
        self.start_statement();
        let settings = self.settings();
        let store = self.store().clone();
        let ProvenRead {
            value: read,
            proofs,
            head,
        } = store.read_proven(&pq.table, self.open_transaction(), |tx, table| {
            read_on_snapshot(&pq, tx, table, params, settings)
        })?;
        // Pair check: each proof carries exactly the row the query read.
        for (row, proof) in read.rows.iter().zip(&proofs) {
            let stored = encode_values(read.stored(row)?.iter());
            if proof.row.as_ref() != Some(&stored) {
                return Err(Error::internal(
                    "query_with_proof: a proven row differs from the row the query read",
                ));
            }
        }
        if proofs.len() != read.rows.len() {
            return Err(Error::internal("query_with_proof: a row without a proof"));
        }
        let order = read
            .appended
            .order
            .map(|(metric, column)| distance_order(&read, metric, column))
            .transpose()?;
        let columns: Arc<[Column]> = read.columns.iter().take(read.user).cloned().collect();
        let user = read.user;
        let rows = read
            .rows
            .into_iter()
            .map(|mut r| {
                r.truncate(user);
                r
            })
            .collect();
        Ok(ProvedOutput {
            output: Output::rows(columns, rows),
            proof: QueryProof {
                rows: proofs,
                order,
            },
            head,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_are_found_by_the_binder_s_names() {
        let has =
            |sql: &str| mentions_aggregate(&crate::parser::parse_expr(sql).expect("expression"));
        assert!(has("count(*)"));
        assert!(has("1 + SUM (a)"));
        assert!(has("group_concat(b, ',')"));
        assert!(!has("abs(a) + a_count"));
        assert!(!has("counter(a)"));
        assert!(!has("lower(name)"));
    }
}
