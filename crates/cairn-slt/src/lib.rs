//! cairn-slt — the sqllogictest runner: a test tool, not part of the
//! database (`publish = false`); depends on `cairn` (and `cairn-core` for
//! SQLite's value rendering) and nothing else of ours. Entry point:
//! [`run_file`]; the `cairn-slt` binary and the `slt`/`sqlite_corpus` tests
//! use it.
//!
//! It runs sqllogictest files (SQLite's format, plus the row-per-line result
//! style of DataFusion-like files). A file is a list of records separated by
//! blank lines:
//!
//! * `statement ok` / `statement error [<kind>]`, then SQL lines;
//! * `query <types> [nosort|rowsort|valuesort] [label]`, then SQL lines, a
//!   `----` line and the expected values (one per line, or one row per line
//!   with values separated by spaces), or `N values hashing to <md5>`;
//!   `query error [<kind>]`, then SQL lines;
//! * `hash-threshold N`, `halt`, and `skipif <engine>` / `onlyif <engine>`
//!   lines in front of a record; `#` starts a comment line;
//! * `reopen` (ours): on disk, close the database and open it again here
//!   (see Modes); nothing in memory.
//!
//! Values are rendered by the query's type letters exactly like SQLite's
//! reference driver: `I` as a 32-bit integer, `R` as `%.3f`, `T` as text with
//! `(empty)` for "" and `@` for non-printable bytes; NULL is always `NULL`.
//!
//! # Expected errors
//!
//! `statement error <kind>` (and `query error <kind>`) passes only when the
//! statement fails with that [`cairn::ErrorKind`], named in snake_case:
//! `syntax`, `no_such_object`, `already_exists`, `ambiguous_column`, `plan`,
//! `type`, `constraint`, `conflict`, `transaction`, `parameter`,
//! `unsupported`, `limit`, `vector`, `no_rows`, `io`, `corrupt`, `locked`,
//! `internal` ([`kind`] keeps the list). `constraint` may name which one:
//! `constraint unique|primary_key|not_null|check`. A bare `statement error`
//! accepts any engine error (SQLite's corpus uses only that form); with
//! [`Options::require_error_kind`] (our `sql-tests/` run with it) a bare one
//! fails and says which kind the statement gave. An engine panic is never an
//! expected error.
//!
//! # Modes
//!
//! [`Mode::Memory`] runs each file on a fresh in-memory database.
//! [`Mode::Disk`] runs it on a fresh temporary database directory and, at
//! each `reopen` record and after the last record, closes the database,
//! opens it again and fails if the schema, any table's rows, the commit head
//! (with the state root) changed, or `PRAGMA integrity_check` complains
//! (`db.rs` says exactly what is checked). A failure of that final check is
//! reported at line 0.
//!
//! # Expected failures
//!
//! [`expected`] reads a list of `path:line` records that are known to fail
//! and compares a run against it both ways (a new failure, a fixed record).
//!
//! Malformed records are failures of that record; the runner never panics on
//! input, and a panic inside the engine is caught and fails its record.

#![forbid(unsafe_code)]

mod db;
pub mod expected;
pub mod kind;
mod parse;
mod render;
mod runner;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use kind::ExpectedError;
pub use parse::{parse, Record, RecordKind, SortMode};
pub use render::{format_fixed3, hash_values, render_rows, render_value};

use runner::{Outcome, Runner};

/// The engine name matched by `skipif` / `onlyif`.
pub const ENGINE_NAME: &str = "cairn";

/// Hash threshold used until a file sets its own with `hash-threshold N`.
pub const DEFAULT_HASH_THRESHOLD: usize = 8;

/// Lines of expected/actual output kept per failure.
const MAX_DETAIL_LINES: usize = 40;

/// Where a file's database lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// A fresh in-memory database per file.
    #[default]
    Memory,
    /// A fresh temporary database directory per file, reopened and checked
    /// at each `reopen` record and after the last record.
    Disk,
}

impl Mode {
    /// Both modes, memory first.
    pub const ALL: [Mode; 2] = [Mode::Memory, Mode::Disk];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Memory => "memory",
            Mode::Disk => "disk",
        }
    }

    /// `memory` or `disk`.
    pub fn parse(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// How to run a file.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Keep the SQL and expected/actual output of every failure (the binary
    /// prints them).
    pub verbose: bool,
    /// Stop the file at its first failing record.
    pub fail_fast: bool,
    /// Where the database lives.
    pub mode: Mode,
    /// Fail every bare `statement error` / `query error` (one that names no
    /// error kind). Our own `sql-tests/` files run with this on.
    pub require_error_kind: bool,
}

/// One failed record.
#[derive(Debug, Clone)]
pub struct Failure {
    /// 1-based line of the record's `statement`/`query`/`reopen` line; 0 for
    /// the file as a whole (it could not be read, its database could not be
    /// opened, or the reopen check after its last record failed).
    pub line: usize,
    pub sql: String,
    /// What went wrong, in one line.
    pub message: String,
    /// Expected output lines (only for wrong query results; may be cut short).
    pub expected: Vec<String>,
    /// Actual output lines (only for wrong query results; may be cut short).
    pub actual: Vec<String>,
}

impl Failure {
    /// A failure of the file as a whole (line 0).
    fn of_file(message: String) -> Failure {
        Failure {
            line: 0,
            sql: String::new(),
            message,
            expected: Vec::new(),
            actual: Vec::new(),
        }
    }
}

/// The outcome of one file.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub path: PathBuf,
    pub mode: Mode,
    /// Records run: statements, executed queries and (on disk) reopens.
    pub records: usize,
    /// Records that failed (including malformed records).
    pub failed: usize,
    /// Records skipped by `skipif`/`onlyif` or after `halt`.
    pub skipped: usize,
    pub elapsed: Duration,
    pub failures: Vec<Failure>,
}

impl FileReport {
    /// An empty report for `path` run in `mode`.
    pub fn new(path: impl Into<PathBuf>, mode: Mode) -> FileReport {
        FileReport {
            path: path.into(),
            mode,
            records: 0,
            failed: 0,
            skipped: 0,
            elapsed: Duration::ZERO,
            failures: Vec::new(),
        }
    }

    pub fn passed(&self) -> usize {
        self.records.saturating_sub(self.failed)
    }

    pub fn is_ok(&self) -> bool {
        self.failed == 0
    }

    /// Counts one failed record.
    fn fail(&mut self, failure: Failure) {
        self.records += 1;
        self.failed += 1;
        self.failures.push(failure);
    }
}

/// The `*.test` and `*.slt` files under `paths` (files are taken as given,
/// directories are searched recursively), each directory's files sorted.
pub fn collect_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            collect_dir(p, &mut out)?;
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}: no such file or directory", p.display()),
            ));
        }
    }
    Ok(out)
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_dir(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("test" | "slt")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// Runs one file on a fresh database of `opts.mode`.
pub fn run_file(path: &Path, opts: &Options) -> FileReport {
    let start = Instant::now();
    let mut report = FileReport::new(path, opts.mode);
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            run_script(&text, opts, &mut report);
        }
        Err(e) => report.fail(Failure::of_file(format!("cannot read file: {e}"))),
    }
    report.elapsed = start.elapsed();
    report
}

/// Runs the records of `text` on a fresh database of `opts.mode`, adding to
/// `report`; on disk, ends with the reopen check.
pub fn run_script(text: &str, opts: &Options, report: &mut FileReport) {
    let conn = match db::Conn::open(opts.mode) {
        Ok(conn) => conn,
        Err(e) => {
            report.fail(Failure::of_file(format!("cannot open database: {e}")));
            return;
        }
    };
    let mut runner = Runner::new(conn, opts);
    let mut halted = false;
    let mut stopped = false;
    for record in parse(text) {
        if halted || !record.applies() {
            if record.is_countable() {
                report.skipped += 1;
            }
            continue;
        }
        match runner.run(&record) {
            Outcome::Control => {}
            Outcome::Halt => halted = true,
            Outcome::Pass => report.records += 1,
            Outcome::Fail(failure) => {
                report.fail(failure);
                // Without a database (a reopen failed) the rest is noise.
                if opts.fail_fast || runner.conn.db().is_none() {
                    halted = true;
                    stopped = true;
                }
            }
        }
    }
    if !stopped {
        if let Err(message) = runner.conn.reopen() {
            report.fail(Failure::of_file(format!(
                "after the last record: {message}"
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, opts: &Options) -> FileReport {
        let mut report = FileReport::new("t.slt", opts.mode);
        run_script(text, opts, &mut report);
        report
    }

    #[test]
    fn unreadable_file_is_one_failure() {
        let report = run_file(Path::new("/nonexistent/x.slt"), &Options::default());
        assert_eq!(report.failed, 1);
        assert_eq!(report.failures[0].line, 0);
    }

    #[test]
    fn skipped_and_halted_records_are_counted() {
        let text = "onlyif sqlite\nstatement ok\nSELECT 1\n\nskipif cairn\nquery I nosort\nSELECT 1\n----\n1\n\n\
                    halt\n\nstatement ok\nSELECT 2\n";
        let report = run(text, &Options::default());
        assert_eq!(report.skipped, 3);
        assert_eq!(report.records, 0);
    }

    const SETUP: &str = "statement ok\nCREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT NOT NULL)\n\n\
                         statement ok\nINSERT INTO t VALUES (1, 'x')\n\n";

    /// The lines of the failed records of `text` (after [`SETUP`]).
    fn failed_lines(text: &str, opts: &Options) -> Vec<usize> {
        let report = run(&format!("{SETUP}{text}"), opts);
        report.failures.iter().map(|f| f.line).collect()
    }

    #[test]
    fn error_kind_must_match() {
        let opts = Options::default();
        // Line 7 is the first record after SETUP.
        let cases = [
            // A constraint record that meets a syntax error fails.
            (
                "statement error constraint\nINSERTT INTO t VALUES (1, 'y')\n",
                vec![7],
            ),
            (
                "statement error constraint\nINSERT INTO t VALUES (1, 'y')\n",
                vec![],
            ),
            (
                "statement error constraint primary_key\nINSERT INTO t VALUES (1, 'y')\n",
                vec![],
            ),
            // The right kind, the wrong constraint.
            (
                "statement error constraint not_null\nINSERT INTO t VALUES (1, 'y')\n",
                vec![7],
            ),
            (
                "statement error syntax\nINSERTT INTO t VALUES (1, 'y')\n",
                vec![],
            ),
            (
                "statement error no_such_object\nSELECT * FROM nope\n",
                vec![],
            ),
            // An error record whose statement succeeds fails.
            ("statement error syntax\nSELECT 1\n", vec![7]),
            ("query error no_such_object\nSELECT * FROM nope\n", vec![]),
            ("query error type\nSELECT * FROM nope\n", vec![7]),
            // A kind that does not exist is a malformed record.
            ("statement error sintax\nSELEC 1\n", vec![7]),
        ];
        for (text, want) in cases {
            assert_eq!(failed_lines(text, &opts), want, "{text}");
        }
    }

    #[test]
    fn bare_error_records_are_flagged_only_when_kinds_are_required() {
        let text = "statement error\nSELECT * FROM nope\n\nquery error\nSELECT * FROM nope\n";
        assert_eq!(failed_lines(text, &Options::default()), Vec::<usize>::new());
        let strict = Options {
            require_error_kind: true,
            ..Options::default()
        };
        assert_eq!(failed_lines(text, &strict), vec![7, 10]);
        // Named kinds pass under the same option.
        let named = "statement error no_such_object\nSELECT * FROM nope\n";
        assert_eq!(failed_lines(named, &strict), Vec::<usize>::new());
    }

    #[test]
    fn reopen_keeps_the_data_on_disk_and_is_skipped_in_memory() {
        let text = "reopen\n\nquery IT nosort\nSELECT a, b FROM t\n----\n1 x\n\n\
                    statement ok\nBEGIN\n\nstatement ok\nINSERT INTO t VALUES (2, 'y')\n\n\
                    reopen\n\nquery I nosort\nSELECT count(*) FROM t\n----\n1\n";
        for mode in Mode::ALL {
            let opts = Options {
                mode,
                ..Options::default()
            };
            let report = run(&format!("{SETUP}{text}"), &opts);
            if mode == Mode::Disk {
                // The reopen rolled back the open transaction.
                assert!(report.is_ok(), "{:?}", report.failures);
                assert_eq!(report.records, 8);
            } else {
                // In memory the transaction stays open: count is 2.
                assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
                assert_eq!(report.records, 6);
            }
        }
    }

    #[test]
    fn disk_mode_checks_every_file_after_its_last_record() {
        let opts = Options {
            mode: Mode::Disk,
            ..Options::default()
        };
        let text = "statement ok\nCREATE VIEW v AS SELECT b FROM t\n\n\
                    statement ok\nCREATE INDEX tb ON t(b)\n\nstatement ok\nCHECKPOINT\n\n\
                    statement ok\nINSERT INTO t VALUES (3, 'z')\n";
        let report = run(&format!("{SETUP}{text}"), &opts);
        assert!(report.is_ok(), "{:?}", report.failures);
        assert_eq!(report.mode, Mode::Disk);
    }

    #[test]
    fn modes_parse_by_name() {
        for m in Mode::ALL {
            assert_eq!(Mode::parse(m.name()), Some(m));
        }
        assert_eq!(Mode::parse("both"), None);
    }
}
