//! Cairn's SQL dialect: PostgreSQL's, with these changes. `?` is a
//! positional parameter (PostgreSQL's geometric/JSONB `?` operators are off),
//! `REPLACE INTO` is accepted (SQLite), `x GLOB pattern` is an infix
//! operator (SQLite), `a IS [NOT] b` takes any expression (SQLite), and
//! binary operators bind as in SQLite (`2 * 3 || 4` is `2 * (3 || 4)`,
//! `a = b < c` is `a = (b < c)`), and `CREATE [TEMP] TRIGGER [IF NOT
//! EXISTS]` (SQLite) parses through sqlparser's trigger parser with `IF NOT
//! EXISTS` handed over as `CreateTrigger::or_alter` (this hook owns every
//! `CREATE ... TRIGGER`, and refuses MSSQL's `CREATE OR ALTER`, so the
//! flag means nothing else). The wrapper reports PostgreSQL's type id, so every
//! PostgreSQL-specific path in the parser stays on.

use std::any::TypeId;

use sqlparser::ast::{self, Expr, Statement};
use sqlparser::dialect::{Dialect, PostgreSqlDialect, Precedence};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

#[derive(Debug, Default)]
pub struct CairnDialect {
    pg: PostgreSqlDialect,
}

/// SQLite's operator precedence, on sqlparser's PostgreSQL scale (higher
/// binds tighter): `||` `->` `->>` above `* / %`; `< <= > >=` above
/// `= == <> != IS IN LIKE GLOB BETWEEN`, which share one level; bitwise
/// operators (`& | << >>`) between `+ -` and the comparisons, as in
/// PostgreSQL's "other operators".
const CONCAT_PREC: u8 = 95;
const ORDER_CMP_PREC: u8 = 55;
const EQ_PREC: u8 = 50;
/// LIKE and GLOB share `=`'s level.
const GLOB_PREC: u8 = EQ_PREC;

/// After `IS` / `IS NOT`, the words PostgreSQL's own `IS` forms start with;
/// anything else makes SQLite's `a IS b` (`IS NOT DISTINCT FROM`).
fn is_postgres_is_form(parser: &Parser, nth: usize) -> bool {
    match &parser.peek_nth_token_ref(nth).token {
        // `IS [NOT] NULL` is SQLite's `IS` too, so `x IS NULL - 1` reads
        // `x IS (NULL - 1)` as SQLite does.
        Token::Word(w) => matches!(
            w.keyword,
            Keyword::TRUE
                | Keyword::FALSE
                | Keyword::UNKNOWN
                | Keyword::DISTINCT
                | Keyword::JSON
                | Keyword::NORMALIZED
                | Keyword::NFC
                | Keyword::NFD
                | Keyword::NFKC
                | Keyword::NFKD
        ),
        _ => false,
    }
}

/// `x [NOT] IN ()` (SQLite): an empty list, false (true with NOT) for
/// every `x`, NULL included. The parser sits on `IN` or `NOT`.
fn parse_empty_in(parser: &mut Parser, left: &Expr) -> Option<Expr> {
    let negated = parser.peek_keyword(Keyword::NOT);
    let at = usize::from(negated);
    let is_in =
        matches!(&parser.peek_nth_token_ref(at).token, Token::Word(w) if w.keyword == Keyword::IN);
    if !is_in
        || parser.peek_nth_token_ref(at + 1).token != Token::LParen
        || parser.peek_nth_token_ref(at + 2).token != Token::RParen
    {
        return None;
    }
    for _ in 0..at + 3 {
        parser.next_token();
    }
    Some(Expr::InList {
        expr: Box::new(left.clone()),
        list: vec![],
        negated,
    })
}

/// `a IS [NOT] b` where `b` is an expression (SQLite): the parser sits on
/// `IS`. Returns `None` for PostgreSQL's `IS [NOT] NULL|TRUE|...` forms.
fn parse_sqlite_is(parser: &mut Parser, left: &Expr) -> Option<Result<Expr, ParserError>> {
    if !parser.peek_keyword(Keyword::IS) {
        return None;
    }
    let negated =
        matches!(&parser.peek_nth_token_ref(1).token, Token::Word(w) if w.keyword == Keyword::NOT);
    if is_postgres_is_form(parser, if negated { 2 } else { 1 }) {
        return None;
    }
    parser.next_token();
    if negated {
        parser.next_token();
    }
    Some(parser.parse_subexpr(EQ_PREC).map(|right| {
        let l = Box::new(left.clone());
        // Plain `x IS [NOT] NULL` keeps PostgreSQL's form (and its name).
        if matches!(&right, Expr::Value(v) if v.value == ast::Value::Null) {
            return if negated {
                Expr::IsNotNull(l)
            } else {
                Expr::IsNull(l)
            };
        }
        let r = Box::new(right);
        if negated {
            Expr::IsDistinctFrom(l, r)
        } else {
            Expr::IsNotDistinctFrom(l, r)
        }
    }))
}

/// `CREATE [TEMP | TEMPORARY] TRIGGER [IF NOT EXISTS] ...`: the parser
/// sits on `CREATE`. `None` for any other statement.
fn parse_create_trigger(parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
    let word = |p: &Parser, n: usize, k: Keyword| matches!(&p.peek_nth_token_ref(n).token, Token::Word(w) if w.keyword == k);
    if !word(parser, 0, Keyword::CREATE) {
        return None;
    }
    if word(parser, 1, Keyword::OR) && word(parser, 2, Keyword::ALTER) {
        return Some(Err(ParserError::ParserError(
            "CREATE OR ALTER is not supported".into(),
        )));
    }
    let temporary = word(parser, 1, Keyword::TEMP) || word(parser, 1, Keyword::TEMPORARY);
    let at = 1 + usize::from(temporary);
    if !word(parser, at, Keyword::TRIGGER) {
        return None;
    }
    for _ in 0..=at {
        parser.next_token();
    }
    let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    Some(
        parser
            .parse_create_trigger(temporary, if_not_exists, false, false)
            .map(Statement::CreateTrigger),
    )
}

/// `ANALYZE TABLE ...` (Hive's form) and anything but a name or the end
/// are left to sqlparser (and its errors).
fn analyze_takes_a_table(parser: &Parser) -> bool {
    match &parser.peek_nth_token_ref(1).token {
        Token::EOF | Token::SemiColon => false,
        Token::Word(w) => w.keyword == Keyword::TABLE,
        _ => true,
    }
}

/// `REINDEX [[schema.]name]` (or `ANALYZE ...`) as a `PRAGMA command`
/// statement whose value is the unqualified name.
fn parse_named_command(parser: &mut Parser, command: &str) -> Result<Statement, ParserError> {
    let tok = parser.next_token();
    let value = match parser.peek_token_ref().token {
        Token::EOF | Token::SemiColon => None,
        _ => {
            let name = parser.parse_object_name(false)?;
            let last = name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .map(|i| i.value.clone());
            let last = last.ok_or_else(|| {
                ParserError::ParserError(format!("{} needs a name", command.to_uppercase()))
            })?;
            Some(sqlparser::ast::ValueWithSpan {
                value: sqlparser::ast::Value::SingleQuotedString(last),
                span: tok.span,
            })
        }
    };
    Ok(Statement::Pragma {
        name: sqlparser::ast::ObjectName::from(vec![sqlparser::ast::Ident::with_span(
            tok.span, command,
        )]),
        value,
        is_eq: true,
    })
}

fn next_is_glob(parser: &Parser) -> bool {
    matches!(&parser.peek_token_ref().token, Token::Word(w) if w.value.eq_ignore_ascii_case("glob") && w.quote_style.is_none())
}

impl Dialect for CairnDialect {
    fn dialect(&self) -> TypeId {
        TypeId::of::<PostgreSqlDialect>()
    }
    fn supports_geometric_types(&self) -> bool {
        false
    }
    fn parse_statement(&self, parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
        // `CHECKPOINT` is `PRAGMA checkpoint`.
        if let Token::Word(w) = &parser.peek_token_ref().token {
            if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("checkpoint") {
                let tok = parser.next_token();
                return Some(Ok(Statement::Pragma {
                    name: sqlparser::ast::ObjectName::from(vec![sqlparser::ast::Ident::with_span(
                        tok.span,
                        "checkpoint",
                    )]),
                    value: None,
                    is_eq: false,
                }));
            }
        }
        // `REINDEX [name]` is `PRAGMA reindex[ = 'name']`, `ANALYZE
        // [name]` `PRAGMA analyze[ = 'name']`.
        if parser.peek_keyword(Keyword::REINDEX) {
            return Some(parse_named_command(parser, "reindex"));
        }
        if parser.peek_keyword(Keyword::ANALYZE) && !analyze_takes_a_table(parser) {
            return Some(parse_named_command(parser, "analyze"));
        }
        if parser.peek_keyword(Keyword::PRAGMA) {
            parser.next_token();
            return Some(parse_pragma(parser));
        }
        if let Some(stmt) = parse_create_trigger(parser) {
            return Some(stmt);
        }
        if parser.peek_keyword(Keyword::REPLACE) {
            let token = parser.next_token();
            let mut stmt = parser.parse_insert(token);
            if let Ok(Statement::Insert(ins)) = &mut stmt {
                ins.replace_into = true;
            }
            return Some(stmt);
        }
        None
    }
    /// Unary `-` and `+` bind tighter than every binary operator (SQLite):
    /// `-1 || 'a'` is `(-1) || 'a'`. sqlparser binds them just above `*`,
    /// which here is below `||`.
    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        let op = match parser.peek_token_ref().token {
            Token::Minus => ast::UnaryOperator::Minus,
            Token::Plus => ast::UnaryOperator::Plus,
            _ => return None,
        };
        parser.next_token();
        Some(parser.parse_subexpr(CONCAT_PREC).map(|e| Expr::UnaryOp {
            op,
            expr: Box::new(e),
        }))
    }
    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        if next_is_glob(parser) {
            return Some(Ok(GLOB_PREC));
        }
        match parser.peek_token_ref().token {
            Token::StringConcat | Token::Arrow | Token::LongArrow => return Some(Ok(CONCAT_PREC)),
            Token::Lt | Token::LtEq | Token::Gt | Token::GtEq => return Some(Ok(ORDER_CMP_PREC)),
            _ => {}
        }
        // `<=>` is pgvector's cosine distance: an "other operator", binding
        // tighter than comparisons (sqlparser gives it comparison precedence).
        if parser.peek_token_ref().token == Token::Spaceship {
            return Some(Ok(self.pg.prec_value(Precedence::PgOther)));
        }
        self.pg.get_next_precedence(parser)
    }
    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        precedence: u8,
    ) -> Option<Result<Expr, ParserError>> {
        if let Some(e) = parse_empty_in(parser, expr) {
            return Some(Ok(e));
        }
        if !next_is_glob(parser) {
            return parse_sqlite_is(parser, expr);
        }
        parser.next_token();
        Some(
            parser
                .parse_subexpr(GLOB_PREC.max(precedence))
                .map(|pattern| {
                    let arg = |e: Expr| ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e));
                    Expr::Function(ast::Function {
                        name: ast::ObjectName::from(vec![ast::Ident::new("glob")]),
                        uses_odbc_syntax: false,
                        parameters: ast::FunctionArguments::None,
                        args: ast::FunctionArguments::List(ast::FunctionArgumentList {
                            duplicate_treatment: None,
                            args: vec![arg(pattern), arg(expr.clone())],
                            clauses: vec![],
                        }),
                        filter: None,
                        null_treatment: None,
                        over: None,
                        within_group: vec![],
                    })
                }),
        )
    }

    // Everything else: exactly PostgreSQL.
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.pg.identifier_quote_style(identifier)
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        self.pg.is_delimited_identifier_start(ch)
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        self.pg.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        self.pg.is_identifier_part(ch)
    }
    fn supports_unicode_string_literal(&self) -> bool {
        self.pg.supports_unicode_string_literal()
    }
    fn is_reserved_for_identifier(&self, kw: Keyword) -> bool {
        self.pg.is_reserved_for_identifier(kw)
    }
    fn is_table_alias(&self, kw: &Keyword, parser: &mut Parser) -> bool {
        self.pg.is_table_alias(kw, parser)
    }
    fn is_custom_operator_part(&self, ch: char) -> bool {
        ch != '?' && self.pg.is_custom_operator_part(ch)
    }
    fn supports_filter_during_aggregation(&self) -> bool {
        self.pg.supports_filter_during_aggregation()
    }
    fn supports_group_by_expr(&self) -> bool {
        self.pg.supports_group_by_expr()
    }
    fn supports_alter_user_as_alter_role(&self) -> bool {
        self.pg.supports_alter_user_as_alter_role()
    }
    fn prec_value(&self, prec: Precedence) -> u8 {
        match prec {
            Precedence::Between | Precedence::Like | Precedence::Is | Precedence::Eq => EQ_PREC,
            p => self.pg.prec_value(p),
        }
    }
    fn allow_extract_custom(&self) -> bool {
        self.pg.allow_extract_custom()
    }
    fn allow_extract_single_quotes(&self) -> bool {
        self.pg.allow_extract_single_quotes()
    }
    fn supports_create_index_with_clause(&self) -> bool {
        self.pg.supports_create_index_with_clause()
    }
    fn supports_explain_with_utility_options(&self) -> bool {
        self.pg.supports_explain_with_utility_options()
    }
    fn supports_listen_notify(&self) -> bool {
        self.pg.supports_listen_notify()
    }
    fn supports_exclude_constraint(&self) -> bool {
        self.pg.supports_exclude_constraint()
    }
    fn supports_factorial_operator(&self) -> bool {
        self.pg.supports_factorial_operator()
    }
    fn supports_bitwise_shift_operators(&self) -> bool {
        self.pg.supports_bitwise_shift_operators()
    }
    fn supports_comment_on(&self) -> bool {
        self.pg.supports_comment_on()
    }
    fn supports_load_extension(&self) -> bool {
        self.pg.supports_load_extension()
    }
    fn supports_named_fn_args_with_colon_operator(&self) -> bool {
        self.pg.supports_named_fn_args_with_colon_operator()
    }
    fn supports_named_fn_args_with_expr_name(&self) -> bool {
        self.pg.supports_named_fn_args_with_expr_name()
    }
    fn supports_empty_projections(&self) -> bool {
        self.pg.supports_empty_projections()
    }
    fn supports_nested_comments(&self) -> bool {
        self.pg.supports_nested_comments()
    }
    fn supports_string_escape_constant(&self) -> bool {
        self.pg.supports_string_escape_constant()
    }
    fn supports_numeric_literal_underscores(&self) -> bool {
        self.pg.supports_numeric_literal_underscores()
    }
    fn supports_array_typedef_with_brackets(&self) -> bool {
        self.pg.supports_array_typedef_with_brackets()
    }
    fn supports_order_by_using_operator(&self) -> bool {
        self.pg.supports_order_by_using_operator()
    }
    fn supports_set_names(&self) -> bool {
        self.pg.supports_set_names()
    }
    fn supports_alter_column_type_using(&self) -> bool {
        self.pg.supports_alter_column_type_using()
    }
    fn supports_left_associative_joins_without_parens(&self) -> bool {
        self.pg.supports_left_associative_joins_without_parens()
    }
    fn supports_notnull_operator(&self) -> bool {
        self.pg.supports_notnull_operator()
    }
    fn supports_interval_options(&self) -> bool {
        self.pg.supports_interval_options()
    }
    fn supports_insert_table_alias(&self) -> bool {
        self.pg.supports_insert_table_alias()
    }
    fn supports_create_table_like_parenthesized(&self) -> bool {
        self.pg.supports_create_table_like_parenthesized()
    }
    fn supports_select_wildcard_with_alias(&self) -> bool {
        self.pg.supports_select_wildcard_with_alias()
    }
    fn supports_comma_separated_trim(&self) -> bool {
        self.pg.supports_comma_separated_trim()
    }
    fn supports_xml_expressions(&self) -> bool {
        self.pg.supports_xml_expressions()
    }
    fn supports_aliased_function_args(&self) -> bool {
        self.pg.supports_aliased_function_args()
    }
    fn supports_comment_optimizer_hint(&self) -> bool {
        self.pg.supports_comment_optimizer_hint()
    }
}

/// `PRAGMA name [= value | (value)]`, where the value may also be a bare
/// word (`PRAGMA synchronous = full`), which sqlparser's own parser
/// rejects. The value comes back as a string.
fn parse_pragma(parser: &mut Parser) -> Result<Statement, ParserError> {
    let name = parser.parse_object_name(false)?;
    let value = |parser: &mut Parser| -> Result<sqlparser::ast::ValueWithSpan, ParserError> {
        let tok = parser.next_token();
        let text = match &tok.token {
            Token::Word(w) => w.value.clone(),
            Token::Number(n, _) => n.clone(),
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s.clone(),
            other => {
                return Err(ParserError::ParserError(format!(
                    "expected a PRAGMA value, found {other}"
                )))
            }
        };
        Ok(sqlparser::ast::ValueWithSpan {
            value: sqlparser::ast::Value::SingleQuotedString(text),
            span: tok.span,
        })
    };
    if parser.consume_token(&Token::Eq) {
        let v = value(parser)?;
        Ok(Statement::Pragma {
            name,
            value: Some(v),
            is_eq: true,
        })
    } else if parser.consume_token(&Token::LParen) {
        let v = value(parser)?;
        parser.expect_token(&Token::RParen)?;
        Ok(Statement::Pragma {
            name,
            value: Some(v),
            is_eq: false,
        })
    } else {
        Ok(Statement::Pragma {
            name,
            value: None,
            is_eq: false,
        })
    }
}
