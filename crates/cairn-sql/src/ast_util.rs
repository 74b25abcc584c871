//! Questions about sqlparser's AST that binding, planning and the
//! statement modules all ask: the name and source position of an object,
//! the shape of a function call, whether an expression aggregates, how an
//! ORDER BY key sorts. Reads the AST only; knows nothing of scopes, the
//! catalog or plans beyond the aggregate each function name stands for.

use cairn_core::{Error, Result};
use sqlparser::ast;

use crate::plan::AggFunc;

/// The object a (possibly schema-qualified) name names: its last part.
pub fn object_name(o: &ast::ObjectName) -> String {
    o.0.last()
        .map(|p| match p {
            ast::ObjectNamePart::Identifier(i) => i.value.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default()
}

/// A function call's name, lower case, without its schema.
pub fn func_name(f: &ast::Function) -> String {
    f.name
        .0
        .last()
        .map(|p| match p {
            ast::ObjectNamePart::Identifier(i) => i.value.to_ascii_lowercase(),
            other => other.to_string().to_ascii_lowercase(),
        })
        .unwrap_or_default()
}

/// Plain argument expressions of a function call (`*` → empty list).
pub fn func_args(f: &ast::Function) -> Result<(Vec<&ast::Expr>, bool, bool)> {
    match &f.args {
        ast::FunctionArguments::None => Ok((Vec::new(), false, false)),
        ast::FunctionArguments::Subquery(_) => {
            Err(Error::unsupported("subquery as function argument"))
        }
        ast::FunctionArguments::List(list) => {
            let distinct = matches!(
                list.duplicate_treatment,
                Some(ast::DuplicateTreatment::Distinct)
            );
            let mut out = Vec::new();
            let mut star = false;
            for a in &list.args {
                match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => out.push(e),
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => star = true,
                    other => return Err(Error::unsupported(format!("function argument {other}"))),
                }
            }
            Ok((out, distinct, star))
        }
    }
}

/// True if `e` contains an aggregate call at this query level (not inside
/// subqueries, not window calls).
pub fn contains_aggregate(e: &ast::Expr) -> bool {
    let mut found = false;
    visit(e, &mut |x| {
        if let ast::Expr::Function(f) = x {
            if f.over.is_none() {
                if let Ok((args, _, star)) = func_args(f) {
                    let n = if star { 1 } else { args.len() };
                    if aggregate_func(&func_name(f), n).is_some() {
                        found = true;
                    }
                }
            }
        }
    });
    found
}

/// Visits AST expression nodes at this query level (skipping subqueries).
pub fn visit(e: &ast::Expr, f: &mut dyn FnMut(&ast::Expr)) {
    use ast::Expr as E;
    f(e);
    match e {
        E::BinaryOp { left, right, .. } => {
            visit(left, f);
            visit(right, f)
        }
        E::UnaryOp { expr, .. }
        | E::Nested(expr)
        | E::IsNull(expr)
        | E::IsNotNull(expr)
        | E::IsTrue(expr)
        | E::IsFalse(expr)
        | E::IsNotTrue(expr)
        | E::IsNotFalse(expr)
        | E::IsUnknown(expr)
        | E::IsNotUnknown(expr)
        | E::Cast { expr, .. }
        | E::InSubquery { expr, .. }
        | E::Collate { expr, .. } => visit(expr, f),
        E::IsDistinctFrom(a, b) | E::IsNotDistinctFrom(a, b) => {
            visit(a, f);
            visit(b, f)
        }
        E::InList { expr, list, .. } => {
            visit(expr, f);
            list.iter().for_each(|x| visit(x, f))
        }
        E::Between {
            expr, low, high, ..
        } => {
            visit(expr, f);
            visit(low, f);
            visit(high, f)
        }
        E::Like { expr, pattern, .. } | E::ILike { expr, pattern, .. } => {
            visit(expr, f);
            visit(pattern, f)
        }
        E::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            if let Some(o) = operand {
                visit(o, f)
            }
            for c in conditions {
                visit(&c.condition, f);
                visit(&c.result, f)
            }
            if let Some(x) = else_result {
                visit(x, f)
            }
        }
        E::Function(func) => visit_call(func, f),
        E::Tuple(xs) => xs.iter().for_each(|x| visit(x, f)),
        E::Ceil { expr, .. } | E::Floor { expr, .. } => visit(expr, f),
        E::Position { expr, r#in } => {
            visit(expr, f);
            visit(r#in, f)
        }
        E::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            visit(expr, f);
            substring_from.iter().for_each(|x| visit(x, f));
            substring_for.iter().for_each(|x| visit(x, f))
        }
        E::Trim {
            expr,
            trim_what,
            trim_characters,
            ..
        } => {
            visit(expr, f);
            trim_what.iter().for_each(|x| visit(x, f));
            trim_characters.iter().flatten().for_each(|x| visit(x, f))
        }
        // Subqueries are another level; what binding does not support
        // fails there.
        _ => {}
    }
}

/// [`visit`] of a call's arguments, FILTER and window specification.
fn visit_call(func: &ast::Function, f: &mut dyn FnMut(&ast::Expr)) {
    if let ast::FunctionArguments::List(l) = &func.args {
        for a in &l.args {
            if let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) = a {
                visit(x, f)
            }
        }
    }
    if let Some(x) = &func.filter {
        visit(x, f)
    }
    if let Some(ast::WindowType::WindowSpec(w)) = &func.over {
        w.partition_by.iter().for_each(|x| visit(x, f));
        w.order_by.iter().for_each(|o| visit(&o.expr, f));
    }
}

/// Position of an object name in the SQL text, when sqlparser knows it.
pub fn object_pos(name: &ast::ObjectName) -> Option<cairn_core::Position> {
    match name.0.first()? {
        ast::ObjectNamePart::Identifier(i) => span_pos(std::slice::from_ref(i)),
        _ => None,
    }
}

/// Position of the first identifier, from sqlparser's span (0 = unknown).
pub fn span_pos(parts: &[ast::Ident]) -> Option<cairn_core::Position> {
    let start = parts.first()?.span.start;
    (start.line > 0).then_some(cairn_core::Position {
        line: start.line,
        column: start.column,
    })
}

/// The aggregate a function name stands for with `nargs` arguments
/// (`min`/`max` of one argument only: with more they are scalar).
pub fn aggregate_func(name: &str, nargs: usize) -> Option<AggFunc> {
    Some(match name {
        "count" => AggFunc::Count,
        "sum" => AggFunc::Sum,
        "total" => AggFunc::Total,
        "avg" => AggFunc::Avg,
        "min" if nargs == 1 => AggFunc::Min,
        "max" if nargs == 1 => AggFunc::Max,
        "group_concat" | "string_agg" => AggFunc::GroupConcat,
        "bool_and" | "every" => AggFunc::BoolAnd,
        "bool_or" => AggFunc::BoolOr,
        "any_value" => AggFunc::AnyValue,
        _ => return None,
    })
}

/// True for a DESC key.
pub fn is_desc(o: &ast::OrderByOptions) -> bool {
    matches!(o.sort, Some(ast::OrderBySort::Desc))
}

/// NULLs sort first ascending and last descending unless stated (SQLite).
pub fn nulls_first(o: &ast::OrderByOptions) -> bool {
    o.nulls_first.unwrap_or(!is_desc(o))
}
