//! Triggers as definitions: what a CREATE TRIGGER says (timing, event,
//! `UPDATE OF` columns, the table or view, WHEN, body), checked against
//! what Cairn runs, and its *program text*: the stored statement with
//! `NEW.col` / `OLD.col` turned into parameters and `RAISE`'s first
//! argument into a string, ready to plan. Also the interface a write fires
//! row triggers through ([`RowTriggers`]). This module never plans or
//! executes; `fire.rs` does (and implements [`RowTriggers`]), so `dml`
//! can fire triggers without depending on the planner that plans them.
//!
//! Parameters of a program: with `n` columns in the trigger's table or
//! view, `NEW.c` (c the i-th column) is `$(i+1)` and `OLD.c` is
//! `$(n+i+1)`; a row that does not exist for the event (OLD of an INSERT,
//! NEW of a DELETE) is passed as NULLs, but naming it is an error, as in
//! SQLite.

use std::sync::Arc;

use cairn_core::{Error, Result, Value};
use cairn_storage::{Table, Transaction};
use sqlparser::ast;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::ast_util::object_name;

/// When a trigger runs relative to the row operation that fires it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    Before,
    After,
    /// On a view, in place of the operation (which a view cannot do).
    InsteadOf,
}

impl Timing {
    pub fn name(self) -> &'static str {
        match self {
            Timing::Before => "BEFORE",
            Timing::After => "AFTER",
            Timing::InsteadOf => "INSTEAD OF",
        }
    }
}

/// The row operation a trigger fires on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowEvent {
    Insert,
    Update,
    Delete,
}

impl RowEvent {
    pub fn name(self) -> &'static str {
        match self {
            RowEvent::Insert => "INSERT",
            RowEvent::Update => "UPDATE",
            RowEvent::Delete => "DELETE",
        }
    }
}

/// Row triggers as a write sees them: the write calls [`RowTriggers::fire`]
/// around each row it inserts, updates or deletes.
pub trait RowTriggers {
    /// Whether `table` (a table or view) has any trigger on `event`; a
    /// write with none skips the per-row work triggers need.
    fn any(&self, table: &str, event: RowEvent) -> bool;

    /// Runs the `timing` triggers of `table` on `event` for one row (`old`
    /// and `new` as the event has them; `assigned`: the columns an UPDATE
    /// sets, for `UPDATE OF`). `Ok(false)` when one of them ran
    /// `RAISE(IGNORE)`: the write skips the rest of this row.
    #[allow(clippy::too_many_arguments)]
    fn fire(
        &mut self,
        tx: &mut Transaction,
        table: &Arc<Table>,
        timing: Timing,
        event: RowEvent,
        old: Option<&[Value]>,
        new: Option<&[Value]>,
        assigned: &[usize],
    ) -> Result<bool>;
}

/// What a CREATE TRIGGER statement says, checked.
#[derive(Debug, Clone)]
pub struct TriggerSpec {
    pub name: String,
    /// The table or view, as written.
    pub table: String,
    pub timing: Timing,
    pub event: RowEvent,
    /// `UPDATE OF` columns (empty: any UPDATE).
    pub columns: Vec<String>,
    pub temporary: bool,
    pub if_not_exists: bool,
    /// The statement as stored: sqlparser's rendering, without `TEMP` and
    /// `IF NOT EXISTS`.
    pub create_sql: String,
}

/// Checks a parsed CREATE TRIGGER against what Cairn runs (SQLite's
/// trigger: one event, row-level, a BEGIN ... END body of INSERT, UPDATE,
/// DELETE and SELECT statements). The dialect hands `IF NOT EXISTS` over
/// as `or_alter` (see `dialect.rs`).
pub fn spec(ct: &ast::CreateTrigger) -> Result<TriggerSpec> {
    if ct.or_replace || ct.is_constraint || !ct.referencing.is_empty() || ct.exec_body.is_some() {
        return Err(Error::unsupported(
            "CREATE TRIGGER with OR REPLACE, CONSTRAINT, REFERENCING or EXECUTE",
        ));
    }
    if !ct.period_before_table || ct.characteristics.is_some() {
        return Err(Error::unsupported("this form of CREATE TRIGGER"));
    }
    let timing = match ct.period {
        None | Some(ast::TriggerPeriod::Before) => Timing::Before,
        Some(ast::TriggerPeriod::After) => Timing::After,
        Some(ast::TriggerPeriod::InsteadOf) => Timing::InsteadOf,
        Some(ast::TriggerPeriod::For) => return Err(Error::unsupported("FOR triggers")),
    };
    let (event, columns) = match &ct.events[..] {
        [ast::TriggerEvent::Insert] => (RowEvent::Insert, Vec::new()),
        [ast::TriggerEvent::Delete] => (RowEvent::Delete, Vec::new()),
        [ast::TriggerEvent::Update(cols)] => (
            RowEvent::Update,
            cols.iter().map(|c| c.value.clone()).collect(),
        ),
        _ => {
            return Err(Error::unsupported(
                "a trigger on several events or on TRUNCATE",
            ))
        }
    };
    if let Some(
        ast::TriggerObjectKind::For(ast::TriggerObject::Statement)
        | ast::TriggerObjectKind::ForEach(ast::TriggerObject::Statement),
    ) = ct.trigger_object
    {
        return Err(Error::unsupported(
            "FOR EACH STATEMENT triggers (only FOR EACH ROW)",
        ));
    }
    let body = body_statements(ct)?;
    if body.is_empty() {
        return Err(Error::plan("a trigger needs at least one statement"));
    }
    for s in body {
        check_body_statement(s)?;
    }
    let mut stored = ct.clone();
    stored.or_alter = false;
    stored.temporary = false;
    Ok(TriggerSpec {
        name: object_name(&ct.name),
        table: object_name(&ct.table_name),
        timing,
        event,
        columns,
        temporary: ct.temporary,
        if_not_exists: ct.or_alter,
        create_sql: stored.to_string(),
    })
}

/// The statements between BEGIN and END.
pub fn body_statements(ct: &ast::CreateTrigger) -> Result<&[ast::Statement]> {
    match &ct.statements {
        Some(ast::ConditionalStatements::BeginEnd(b)) => Ok(&b.statements),
        _ => Err(Error::Syntax {
            message: "a trigger body is BEGIN statement; ... END".into(),
            position: None,
        }),
    }
}

/// A trigger body runs INSERT, UPDATE, DELETE and SELECT (SQLite's rule).
fn check_body_statement(s: &ast::Statement) -> Result<()> {
    match s {
        ast::Statement::Insert(_)
        | ast::Statement::Update(_)
        | ast::Statement::Delete(_)
        | ast::Statement::Query(_) => Ok(()),
        other => Err(Error::plan(format!(
            "a trigger body may hold only INSERT, UPDATE, DELETE and SELECT, not {}",
            other
                .to_string()
                .split_whitespace()
                .next()
                .unwrap_or("this")
        ))),
    }
}

/// The program text of a stored CREATE TRIGGER over a table or view with
/// `columns`: `NEW.c` → `$(i+1)`, `OLD.c` → `$(n+i+1)` (see the module
/// doc), `RAISE(IGNORE | ABORT | FAIL | ROLLBACK ...)` → `RAISE('ignore'
/// ...)` (the `raise` function). Fails on a column the table lacks, on
/// NEW in a DELETE trigger, OLD in an INSERT trigger, and on parameters.
pub fn program_text(create_sql: &str, event: RowEvent, columns: &[String]) -> Result<String> {
    let dialect = crate::dialect::CairnDialect::default();
    let toks = Tokenizer::new(&dialect, create_sql)
        .tokenize()
        .map_err(|e| Error::Syntax {
            message: e.to_string(),
            position: None,
        })?;
    let next_code =
        |from: usize| (from..toks.len()).find(|&j| !matches!(toks[j], Token::Whitespace(_)));
    let mut out = String::with_capacity(create_sql.len());
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Token::Placeholder(_) => {
                return Err(Error::plan("a trigger cannot take parameters"));
            }
            Token::Word(w) if is_row_name(&w.value) => {
                let dot = next_code(i + 1).filter(|&j| toks[j] == Token::Period);
                let col = dot
                    .and_then(|d| next_code(d + 1))
                    .and_then(|j| match &toks[j] {
                        Token::Word(c) => Some((j, c.value.clone())),
                        _ => None,
                    });
                if let Some((j, col)) = col {
                    let param = row_param(&w.value, &col, event, columns)?;
                    out.push_str(&format!("${param}"));
                    i = j + 1;
                    continue;
                }
            }
            Token::Word(w) if w.value.eq_ignore_ascii_case("raise") => {
                let paren = next_code(i + 1).filter(|&j| toks[j] == Token::LParen);
                let kind = paren
                    .and_then(|p| next_code(p + 1))
                    .and_then(|j| match &toks[j] {
                        Token::Word(k) if raise_kind(&k.value) => {
                            Some((j, k.value.to_ascii_lowercase()))
                        }
                        _ => None,
                    });
                if let (Some(p), Some((j, kind))) = (paren, kind) {
                    out.push_str("raise");
                    for t in &toks[i + 1..=p] {
                        out.push_str(&t.to_string());
                    }
                    out.push_str(&format!("'{kind}'"));
                    i = j + 1;
                    continue;
                }
            }
            _ => {}
        }
        out.push_str(&toks[i].to_string());
        i += 1;
    }
    Ok(out)
}

fn is_row_name(w: &str) -> bool {
    w.eq_ignore_ascii_case("new") || w.eq_ignore_ascii_case("old")
}

fn raise_kind(w: &str) -> bool {
    ["ignore", "abort", "fail", "rollback"]
        .iter()
        .any(|k| w.eq_ignore_ascii_case(k))
}

/// The parameter number `row.col` becomes (1-based).
fn row_param(row: &str, col: &str, event: RowEvent, columns: &[String]) -> Result<usize> {
    let new = row.eq_ignore_ascii_case("new");
    let allowed = match event {
        RowEvent::Insert => new,
        RowEvent::Delete => !new,
        RowEvent::Update => true,
    };
    let i = columns.iter().position(|c| c.eq_ignore_ascii_case(col));
    match (allowed, i) {
        (true, Some(i)) if new => Ok(i + 1),
        (true, Some(i)) => Ok(columns.len() + i + 1),
        _ => Err(Error::no_such(
            "column",
            format!("{}.{col}", row.to_ascii_uppercase()),
        )),
    }
}

/// The parameters of one firing: NEW's values then OLD's, NULL for the
/// row the event does not have.
pub fn program_params(width: usize, old: Option<&[Value]>, new: Option<&[Value]>) -> Vec<Value> {
    let mut params = Vec::with_capacity(2 * width);
    for row in [new, old] {
        match row {
            Some(r) => params.extend((0..width).map(|i| r.get(i).cloned().unwrap_or_default())),
            None => params.extend(std::iter::repeat_n(Value::Null, width)),
        }
    }
    params
}
