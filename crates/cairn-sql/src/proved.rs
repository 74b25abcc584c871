//! Queries with proofs (RFC 0002 §2.6): the rows a single-table SELECT
//! returns, each with its inclusion proof against one state root, and for
//! `ORDER BY <vector distance> ... LIMIT k` the distances and their order.
//!
//! How: the query is run with the table's columns (and, for a distance
//! order, the distance and the query vector) appended to its select list,
//! so each result row names the stored row it came from; those rows are
//! then proven together. A commit landing between the query's snapshot and
//! the proof's version could change a returned row: then the proof would
//! not match, and the query is run again (a few times at most).
//!
//! What it proves, and what not: every returned row exists in that state
//! with those values (and distances, in ascending order); not that no other
//! row matches, nor that no closer vector exists.

use std::sync::Arc;

use cairn_core::{Error, Result, Value};
use cairn_merkle::{CommitHead, DistanceOrder, Metric, QueryProof};
use sqlparser::ast;

use crate::session::{Column, Output, Session};

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

/// What the rewritten query appends, and where.
struct Plan {
    table: String,
    /// Columns of the table, appended after the user's select list.
    columns: usize,
    /// Primary key positions (None: every column is the key).
    pk: Option<Vec<usize>>,
    /// For a distance order: (metric, vector column position).
    order: Option<(Metric, usize)>,
    sql: String,
}

fn plan(session: &Session, sql: &str) -> Result<Plan> {
    let mut q = crate::parser::parse_query(sql)?;
    if q.with.is_some() {
        return Err(unsupported("WITH"));
    }
    let ast::SetExpr::Select(sel) = q.body.as_mut() else {
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
    let table_name = name
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
    // Only an ascending distance order is a nearest-neighbour order (a
    // descending one is returned with row proofs only). `ORDER BY d` (an
    // alias) and `ORDER BY 2` (a position) name a select-list item.
    let first_order = q.order_by.as_ref().and_then(|o| match &o.kind {
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
    let first_order = match first_order {
        Some(ast::Expr::Identifier(id)) => sel
            .projection
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
                .and_then(|i| sel.projection.get(i.checked_sub(1)?))
                .and_then(item_expr),
            _ => None,
        },
        other => other,
    };
    let table = session
        .store()
        .table(&table_name)
        .ok_or_else(|| Error::no_such("table", &table_name))?;
    let schema = table.schema();
    for c in &schema.columns {
        let e =
            crate::parser::parse_expr(&format!("{qualifier}.\"{}\"", c.name.replace('"', "\"\"")))?;
        sel.projection.push(ast::SelectItem::UnnamedExpr(e));
    }
    let mut order = None;
    if let Some((metric, a, b)) = first_order.as_ref().and_then(distance_parts) {
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
        let ast::SetExpr::Select(sel) = q.body.as_mut() else {
            return Err(unsupported("set operation"));
        };
        if let Some(e) = first_order {
            sel.projection.push(ast::SelectItem::UnnamedExpr(e));
        }
        sel.projection.push(ast::SelectItem::UnnamedExpr(query));
        order = Some((metric, col));
    }
    Ok(Plan {
        table: table_name,
        columns: schema.columns.len(),
        pk: schema.primary_key.clone(),
        order,
        sql: q.to_string(),
    })
}

fn as_vector(v: &Value) -> Result<Vec<f32>> {
    v.vector_arg()?
        .map(|c| c.into_owned())
        .ok_or_else(|| Error::plan("query_with_proof: the query vector is NULL"))
}

/// Attempts before giving up when commits keep changing the returned rows.
const ATTEMPTS: usize = 4;

impl Session {
    /// Runs a single-table SELECT and proves every row it returns (see the
    /// module doc for what that does and does not prove).
    pub fn query_with_proof(&mut self, sql: &str, params: &[Value]) -> Result<ProvedOutput> {
        let p = plan(self, sql)?;
        let extra = p.columns + if p.order.is_some() { 2 } else { 0 };
        for _ in 0..ATTEMPTS {
            let out = self.execute(&p.sql, params)?;
            let total = out.columns.len();
            let user = total
                .checked_sub(extra)
                .ok_or_else(|| Error::internal("query_with_proof: fewer columns than appended"))?;
            let mut keys = Vec::with_capacity(out.rows.len());
            let mut stored = Vec::with_capacity(out.rows.len());
            let mut distances = Vec::new();
            let mut query = None;
            for row in &out.rows {
                let full = row
                    .get(user..user + p.columns)
                    .ok_or_else(|| Error::internal("query_with_proof: short row"))?;
                keys.push(match &p.pk {
                    Some(cols) => cols
                        .iter()
                        .map(|&c| full.get(c).cloned().unwrap_or(Value::Null))
                        .collect(),
                    None => full.to_vec(),
                });
                stored.push(cairn_storage::merkle::encode_values(full.iter()));
                if p.order.is_some() {
                    let d = match row.get(user + p.columns) {
                        Some(Value::Real(d)) => *d,
                        Some(Value::Integer(i)) => *i as f64,
                        _ => {
                            return Err(Error::plan(
                                "query_with_proof: a returned row has no distance",
                            ))
                        }
                    };
                    distances.push(d);
                    if query.is_none() {
                        query = row.get(user + p.columns + 1).map(as_vector).transpose()?;
                    }
                }
            }
            let (proofs, head) = self.store().prove_rows(&p.table, &keys)?;
            if proofs
                .iter()
                .zip(&stored)
                .any(|(pr, s)| pr.row.as_ref() != Some(s))
            {
                // A commit changed a returned row since the snapshot.
                continue;
            }
            let order = p.order.map(|(metric, column)| DistanceOrder {
                column: column as u32,
                metric,
                query: query.unwrap_or_default(),
                distances,
            });
            let columns: Arc<[Column]> = out.columns.iter().take(user).cloned().collect();
            let rows = out
                .rows
                .into_iter()
                .map(|mut r| {
                    r.truncate(user);
                    r
                })
                .collect();
            return Ok(ProvedOutput {
                output: Output::rows(columns, rows),
                proof: QueryProof {
                    rows: proofs,
                    order,
                },
                head,
            });
        }
        Err(Error::Conflict { table: p.table })
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
