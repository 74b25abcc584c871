//! SQL text → sqlparser AST, with parser errors turned into
//! [`Error::Syntax`] carrying the line and column.

use cairn_core::{Error, Position, Result};
use sqlparser::ast::{Query, Statement};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

/// Statements in one string before parsing refuses (a guard on input size).
pub const STATEMENTS_MAX: usize = 100_000;
/// Nesting depth the parser accepts before it reports an error.
pub const PARSE_DEPTH_MAX: usize = 200;

fn syntax(e: ParserError) -> Error {
    let msg = match e {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m,
        ParserError::RecursionLimitExceeded => "expression nested too deeply".to_string(),
    };
    // sqlparser appends " at Line: L, Column: C".
    let position = msg.rfind("Line: ").and_then(|i| {
        let rest = &msg[i + 6..];
        let (line, rest) = rest.split_once(", Column: ")?;
        let col: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        Some(Position {
            line: line.trim().parse().ok()?,
            column: col.parse().ok()?,
        })
    });
    let message = match msg.rfind(" at Line: ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    Error::Syntax { message, position }
}

/// Tokenizes `sql`, numbering each statement's bare `?` parameters
/// left to right as `$1, $2, ...` (the binder then never depends on the
/// order in which it visits clauses).
fn tokens(dialect: &dyn sqlparser::dialect::Dialect, sql: &str) -> Result<Vec<TokenWithSpan>> {
    let mut toks = Tokenizer::new(dialect, sql)
        .tokenize_with_location()
        .map_err(|e| syntax(ParserError::from(e)))?;
    let mut n = 0usize;
    for t in &mut toks {
        match &t.token {
            Token::Placeholder(p) if p == "?" => {
                n += 1;
                t.token = Token::Placeholder(format!("${n}"));
            }
            Token::SemiColon => n = 0,
            _ => {}
        }
    }
    Ok(toks)
}

pub fn parse_statements(sql: &str) -> Result<Vec<Statement>> {
    let dialect = crate::dialect::CairnDialect::default();
    let toks = tokens(&dialect, sql)?;
    let stmts = Parser::new(&dialect)
        .with_recursion_limit(PARSE_DEPTH_MAX)
        .with_tokens_with_locations(toks)
        .parse_statements()
        .map_err(syntax)?;
    if stmts.len() > STATEMENTS_MAX {
        return Err(Error::Limit {
            what: "statements in one call".into(),
            max: STATEMENTS_MAX as u64,
        });
    }
    Ok(stmts)
}

pub fn parse_query(sql: &str) -> Result<Box<Query>> {
    let mut stmts = parse_statements(sql)?;
    match (stmts.pop(), stmts.is_empty()) {
        (Some(Statement::Query(q)), true) => Ok(q),
        _ => Err(Error::internal(format!(
            "stored query is not a single SELECT: {sql}"
        ))),
    }
}

/// Parses one expression (stored DEFAULT and CHECK clauses).
pub fn parse_expr(sql: &str) -> Result<sqlparser::ast::Expr> {
    let dialect = crate::dialect::CairnDialect::default();
    Parser::new(&dialect)
        .with_recursion_limit(PARSE_DEPTH_MAX)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(syntax)
}
