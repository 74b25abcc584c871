//! Sessions: one connection's state (open transaction, settings) over a shared
//! engine. Statements run here; a failed statement never leaves the session
//! unusable.

use std::sync::Arc;

use cairn_core::{DataType, Error, Result, Row, Value};

/// The shared database: catalog and tables. Cheap to share between threads.
pub struct Engine {}

impl Engine {
    pub fn new() -> Arc<Engine> {
        Arc::new(Engine {})
    }
}

/// A result column: its name and, where known, its declared type.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub data_type: Option<DataType>,
}

/// What a statement produced: rows (for queries) and/or a count of rows
/// changed (for DML).
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    pub rows_affected: u64,
    /// True when the statement returns rows (SELECT, VALUES, EXPLAIN ...).
    pub returns_rows: bool,
}

/// A parsed statement, re-planned automatically when the schema changes.
pub struct Prepared {
    pub sql: String,
}

pub struct Session {
    engine: Arc<Engine>,
}

impl Session {
    pub fn new(engine: Arc<Engine>) -> Session {
        Session { engine }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Parses exactly one statement.
    pub fn prepare(&mut self, sql: &str) -> Result<Prepared> {
        Ok(Prepared {
            sql: sql.to_string(),
        })
    }

    /// Number of `$n`/`?` parameters the statement takes.
    pub fn parameter_count(&self, _stmt: &Prepared) -> usize {
        0
    }

    pub fn execute_prepared(&mut self, _stmt: &Prepared, _params: &[Value]) -> Result<Output> {
        Err(Error::unsupported("engine not built yet"))
    }

    /// Runs exactly one statement.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<Output> {
        let p = self.prepare(sql)?;
        self.execute_prepared(&p, params)
    }

    /// Runs every statement in `sql`, in order, stopping at the first error.
    /// Returns the output of each.
    pub fn execute_batch(&mut self, _sql: &str) -> Result<Vec<Output>> {
        Err(Error::unsupported("engine not built yet"))
    }

    pub fn in_transaction(&self) -> bool {
        false
    }

    /// Names of all tables and views, sorted.
    pub fn table_names(&self) -> Vec<String> {
        Vec::new()
    }

    /// The CREATE statements of one table (and its indexes) or of everything.
    pub fn schema_sql(&self, _table: Option<&str>) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
}

/// True when `sql` ends with a `;` that is outside quotes and comments, i.e. a
/// shell can run it. Used by the REPL to detect multi-line input.
pub fn is_complete_statement(sql: &str) -> bool {
    let b = sql.as_bytes();
    let mut i = 0;
    let mut last_semicolon_complete = false;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' | b'`' => {
                let q = b[i];
                i += 1;
                loop {
                    if i >= b.len() {
                        return false;
                    }
                    if b[i] == q {
                        if i + 1 < b.len() && b[i + 1] == q {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                last_semicolon_complete = false;
            }
            b'-' if i + 1 < b.len() && b[i + 1] == b'-' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if i + 1 < b.len() && b[i + 1] == b'*' => {
                i += 2;
                loop {
                    if i + 1 >= b.len() {
                        return false;
                    }
                    if b[i] == b'*' && b[i + 1] == b'/' {
                        i += 1;
                        break;
                    }
                    i += 1;
                }
            }
            b';' => last_semicolon_complete = true,
            c if c.is_ascii_whitespace() => {}
            _ => last_semicolon_complete = false,
        }
        i += 1;
    }
    last_semicolon_complete
}
