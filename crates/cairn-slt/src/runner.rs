//! Runs parsed records against one file's database and judges each: a
//! statement's success or error kind, a query's rendered result, a label's
//! hash, a `reopen`'s checks. Never panics on input; an engine panic is
//! caught and fails its record (it never counts as an expected error).

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use cairn::{Error, Output};

use crate::db::{panic_message, Conn};
use crate::kind::{describe, ExpectedError};
use crate::parse::{Record, RecordKind, SortMode};
use crate::render::{compare, expected_hash, hash_values, render_rows, sort_results};
use crate::{Failure, Options, DEFAULT_HASH_THRESHOLD, MAX_DETAIL_LINES};

/// What running one record gave.
pub(crate) enum Outcome {
    Pass,
    Fail(Failure),
    /// A record that is not a test (`hash-threshold`, `reopen` in memory).
    Control,
    Halt,
}

/// Why a statement did not produce output.
enum ExecError {
    Engine(Error),
    Panic(String),
    /// A reopen failed earlier and left no database.
    Closed,
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExecError::Engine(e) => write!(f, "{}", describe(e)),
            ExecError::Panic(msg) => write!(f, "engine panicked: {msg}"),
            ExecError::Closed => f.write_str("no database (an earlier reopen failed)"),
        }
    }
}

pub(crate) struct Runner<'a> {
    pub(crate) conn: Conn,
    opts: &'a Options,
    hash_threshold: usize,
    /// Label → (hash of its values, line of the record that set it).
    labels: HashMap<String, (String, usize)>,
}

impl<'a> Runner<'a> {
    pub(crate) fn new(conn: Conn, opts: &'a Options) -> Runner<'a> {
        Runner {
            conn,
            opts,
            hash_threshold: DEFAULT_HASH_THRESHOLD,
            labels: HashMap::new(),
        }
    }

    pub(crate) fn run(&mut self, record: &Record) -> Outcome {
        let line = record.line;
        match &record.kind {
            RecordKind::Halt => Outcome::Halt,
            RecordKind::HashThreshold(n) => {
                self.hash_threshold = *n;
                Outcome::Control
            }
            RecordKind::Reopen => self.reopen(line),
            RecordKind::Malformed { message, text } => Outcome::Fail(Failure {
                line,
                sql: text.clone(),
                message: format!("parse error: {message}"),
                expected: Vec::new(),
                actual: Vec::new(),
            }),
            RecordKind::Statement { sql, error } => {
                let result = self.execute(sql);
                match error {
                    None => match result {
                        Ok(_) => Outcome::Pass,
                        Err(e) => self.fail(line, sql, &format!("statement failed: {e}")),
                    },
                    Some(want) => {
                        self.check_error(line, sql, "statement", *want, result.map(|_| ()))
                    }
                }
            }
            RecordKind::Query {
                sql,
                types,
                sort,
                label,
                expected,
                error,
            } => {
                let result = self.query(sql);
                if let Some(want) = error {
                    return self.check_error(line, sql, "query", *want, result.map(|_| ()));
                }
                match result {
                    Err(e) => self.fail(line, sql, &format!("query failed: {e}")),
                    Ok(out) => {
                        self.check_query(line, sql, types, *sort, label.as_deref(), expected, &out)
                    }
                }
            }
        }
    }

    /// `reopen`: on disk, close and open the database again and check it;
    /// a control line in memory.
    fn reopen(&mut self, line: usize) -> Outcome {
        if !self.conn.is_disk() {
            return Outcome::Control;
        }
        match self.conn.reopen() {
            Ok(()) => Outcome::Pass,
            Err(message) => Outcome::Fail(self.failure(line, "reopen", message, &[], &[])),
        }
    }

    /// Judges an error record: passes only on an engine error that `want`
    /// accepts. A bare `statement error` fails when the options demand a
    /// kind, saying which kind the statement gave, so it can be written in.
    fn check_error(
        &self,
        line: usize,
        sql: &str,
        what: &str,
        want: ExpectedError,
        result: Result<(), ExecError>,
    ) -> Outcome {
        if want == ExpectedError::Any && self.opts.require_error_kind {
            let got = match &result {
                Ok(()) => "it succeeded".to_string(),
                Err(e) => format!("it failed with {e}"),
            };
            let message = format!("bare `{what} error`: name the expected error kind ({got})");
            return self.fail(line, sql, &message);
        }
        match result {
            Ok(()) => self.fail(
                line,
                sql,
                &format!("{what} succeeded, error `{want}` expected"),
            ),
            Err(ExecError::Engine(e)) if want.matches(&e) => Outcome::Pass,
            Err(e) => self.fail(
                line,
                sql,
                &format!("{what} failed with {e}, expected `{want}`"),
            ),
        }
    }

    /// Runs one statement, turning an engine panic into an error.
    fn execute(&self, sql: &str) -> Result<Output, ExecError> {
        let Some(db) = self.conn.db() else {
            return Err(ExecError::Closed);
        };
        match catch_unwind(AssertUnwindSafe(|| db.run(sql, &[]))) {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => Err(ExecError::Engine(e)),
            Err(payload) => Err(ExecError::Panic(panic_message(&*payload))),
        }
    }

    /// Runs a query record through the cursor API (`Database::query`, rows
    /// pulled one by one), so every query in the corpus checks the
    /// streaming path too.
    fn query(&self, sql: &str) -> Result<Output, ExecError> {
        let Some(db) = self.conn.db() else {
            return Err(ExecError::Closed);
        };
        let pulled = || -> cairn::Result<Output> {
            let mut rows = db.query(sql, &[])?;
            let columns = std::sync::Arc::from(rows.columns().to_vec());
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(r.values().to_vec());
            }
            Ok(Output {
                columns,
                rows: out,
                rows_affected: 0,
                returns_rows: true,
            })
        };
        match catch_unwind(AssertUnwindSafe(pulled)) {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => Err(ExecError::Engine(e)),
            Err(payload) => Err(ExecError::Panic(panic_message(&*payload))),
        }
    }

    fn check_query(
        &mut self,
        line: usize,
        sql: &str,
        types: &str,
        sort: SortMode,
        label: Option<&str>,
        expected: &[String],
        out: &Output,
    ) -> Outcome {
        let rows = render_rows(&out.rows, types);
        let (rows, values) = sort_results(rows, sort);
        let hash = hash_values(&values);
        if let Err(message) = compare(expected, &rows, &values, sort, &hash) {
            let actual = if expected_hash(expected).is_some() || values.len() > self.hash_threshold
            {
                let mut a = vec![format!("{} values hashing to {hash}", values.len())];
                a.extend(values.iter().cloned());
                a
            } else {
                values.clone()
            };
            return Outcome::Fail(self.failure(line, sql, message, expected, &actual));
        }
        if let Some(label) = label {
            match self.labels.get(label) {
                Some((h, first)) if *h != hash => {
                    let message = format!(
                        "result of {label} differs from the one at line {first} ({} values hashing to {hash})",
                        values.len()
                    );
                    return Outcome::Fail(self.failure(line, sql, message, &[], &[]));
                }
                Some(_) => {}
                None => {
                    self.labels.insert(label.to_string(), (hash, line));
                }
            }
        }
        Outcome::Pass
    }

    pub(crate) fn fail(&self, line: usize, sql: &str, message: &str) -> Outcome {
        Outcome::Fail(self.failure(line, sql, message.to_string(), &[], &[]))
    }

    pub(crate) fn failure(
        &self,
        line: usize,
        sql: &str,
        message: String,
        expected: &[String],
        actual: &[String],
    ) -> Failure {
        let keep = |v: &[String]| {
            if self.opts.verbose {
                v.iter().take(MAX_DETAIL_LINES).cloned().collect()
            } else {
                Vec::new()
            }
        };
        Failure {
            line,
            sql: sql.to_string(),
            message,
            expected: keep(expected),
            actual: keep(actual),
        }
    }
}
