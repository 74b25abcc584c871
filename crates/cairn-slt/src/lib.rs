//! cairn-slt — the sqllogictest runner: a test tool, not part of the
//! database (`publish = false`); depends on `cairn` (and `cairn-core` for
//! SQLite's value rendering) and nothing else of ours. Entry point:
//! [`run_file`]; the `cairn-slt` binary and the `slt`/`sqlite_corpus` tests
//! use it.
//!
//! It runs sqllogictest files (SQLite's format, plus the row-per-line result
//! style of DataFusion-like files).
//!
//! A file is a list of records separated by blank lines:
//!
//! * `statement ok` / `statement error`, then SQL lines;
//! * `query <types> [nosort|rowsort|valuesort] [label]`, then SQL lines, a
//!   `----` line and the expected values (one per line, or one row per line
//!   with values separated by spaces), or `N values hashing to <md5>`;
//! * `hash-threshold N`, `halt`, and `skipif <engine>` / `onlyif <engine>`
//!   lines in front of a record; `#` starts a comment line.
//!
//! Values are rendered by the query's type letters exactly like SQLite's
//! reference driver: `I` as a 32-bit integer, `R` as `%.3f`, `T` as text with
//! `(empty)` for "" and `@` for non-printable bytes; NULL is always `NULL`.
//!
//! Each file runs on a fresh in-memory [`Database`]. Malformed records are
//! reported as failures of that record; the runner never panics on input, and
//! a panic inside the engine is caught and reported as a failed record.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cairn_core::value::{format_real, parse_numeric_prefix, real_to_i64};
use md5::{Digest, Md5};

use cairn::{Database, Output, Value};

/// The engine name matched by `skipif` / `onlyif`.
pub const ENGINE_NAME: &str = "cairn";

/// Hash threshold used until a file sets its own with `hash-threshold N`.
pub const DEFAULT_HASH_THRESHOLD: usize = 8;

/// Lines of expected/actual output kept per failure.
const MAX_DETAIL_LINES: usize = 40;

/// How to run a file.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Keep the SQL and expected/actual output of every failure (the binary
    /// prints them).
    pub verbose: bool,
    /// Stop the file at its first failing record.
    pub fail_fast: bool,
}

/// One failed record.
#[derive(Debug, Clone)]
pub struct Failure {
    /// 1-based line of the record's `statement`/`query` line (0 when the
    /// file itself could not be read).
    pub line: usize,
    pub sql: String,
    /// What went wrong, in one line.
    pub message: String,
    /// Expected output lines (only for wrong query results; may be cut short).
    pub expected: Vec<String>,
    /// Actual output lines (only for wrong query results; may be cut short).
    pub actual: Vec<String>,
}

/// The outcome of one file.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub path: PathBuf,
    /// Records run: statements and executed queries.
    pub records: usize,
    /// Records that failed (including malformed records).
    pub failed: usize,
    /// Records skipped by `skipif`/`onlyif` or after `halt`.
    pub skipped: usize,
    pub elapsed: Duration,
    pub failures: Vec<Failure>,
}

impl FileReport {
    pub fn passed(&self) -> usize {
        self.records.saturating_sub(self.failed)
    }

    pub fn is_ok(&self) -> bool {
        self.failed == 0
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

/// Runs one file on a fresh in-memory database.
pub fn run_file(path: &Path, opts: &Options) -> FileReport {
    let start = Instant::now();
    let mut report = FileReport {
        path: path.to_path_buf(),
        records: 0,
        failed: 0,
        skipped: 0,
        elapsed: Duration::ZERO,
        failures: Vec::new(),
    };
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            run_script(&text, opts, &mut report);
        }
        Err(e) => {
            report.records = 1;
            report.failed = 1;
            report.failures.push(Failure {
                line: 0,
                sql: String::new(),
                message: format!("cannot read file: {e}"),
                expected: Vec::new(),
                actual: Vec::new(),
            });
        }
    }
    report.elapsed = start.elapsed();
    report
}

/// Runs the records of `text` on a fresh database, adding to `report`.
pub fn run_script(text: &str, opts: &Options, report: &mut FileReport) {
    let db = match Database::open_in_memory() {
        Ok(db) => db,
        Err(e) => {
            report.records += 1;
            report.failed += 1;
            report.failures.push(Failure {
                line: 0,
                sql: String::new(),
                message: format!("cannot open database: {e}"),
                expected: Vec::new(),
                actual: Vec::new(),
            });
            return;
        }
    };
    let mut runner = Runner {
        db,
        opts,
        hash_threshold: DEFAULT_HASH_THRESHOLD,
        labels: HashMap::new(),
    };
    let records = parse(text);
    let mut halted = false;
    for record in records {
        if halted {
            if record.is_countable() {
                report.skipped += 1;
            }
            continue;
        }
        if !record.applies() {
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
                report.records += 1;
                report.failed += 1;
                report.failures.push(failure);
                if opts.fail_fast {
                    halted = true;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Parsing

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortMode {
    NoSort,
    RowSort,
    ValueSort,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RecordKind {
    Statement {
        sql: String,
        expect_error: bool,
    },
    Query {
        sql: String,
        types: String,
        sort: SortMode,
        label: Option<String>,
        /// Expected result lines (empty when an error is expected).
        expected: Vec<String>,
        expect_error: bool,
    },
    HashThreshold(usize),
    Halt,
    /// A malformed record: counted as a failure.
    Malformed {
        message: String,
        text: String,
    },
}

/// One parsed record with its guards.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based line of the record's keyword.
    pub line: usize,
    /// `skipif` engines in front of the record.
    pub skip_if: Vec<String>,
    /// `onlyif` engines in front of the record.
    pub only_if: Vec<String>,
    pub kind: RecordKind,
}

impl Record {
    /// True when `skipif`/`onlyif` let this engine run the record.
    pub fn applies(&self) -> bool {
        !self.skip_if.iter().any(|e| e == ENGINE_NAME)
            && self.only_if.iter().all(|e| e == ENGINE_NAME)
    }

    /// Statements, queries and malformed records count as records;
    /// `hash-threshold` and `halt` do not.
    fn is_countable(&self) -> bool {
        !matches!(self.kind, RecordKind::HashThreshold(_) | RecordKind::Halt)
    }
}

/// Splits a file into records. Never fails: problems become
/// [`RecordKind::Malformed`] records.
pub fn parse(text: &str) -> Vec<Record> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .collect();
    let mut records = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        // One block: consecutive non-blank lines.
        if lines[i].1.trim().is_empty() {
            i += 1;
            continue;
        }
        let start = i;
        while i < lines.len() && !lines[i].1.trim().is_empty() {
            i += 1;
        }
        parse_block(&lines[start..i], &mut records);
    }
    records
}

/// `skipif`/`onlyif` lines seen so far in a block, waiting for their record.
#[derive(Default)]
struct Guards {
    skip_if: Vec<String>,
    only_if: Vec<String>,
}

impl Guards {
    fn record(&mut self, line: usize, kind: RecordKind) -> Record {
        Record {
            line,
            skip_if: std::mem::take(&mut self.skip_if),
            only_if: std::mem::take(&mut self.only_if),
            kind,
        }
    }
}

fn parse_block(block: &[(usize, &str)], records: &mut Vec<Record>) {
    let mut guards = Guards::default();
    for (k, &(line_no, line)) in block.iter().enumerate() {
        let words: Vec<&str> = strip_comment(line).split_whitespace().collect();
        let Some(&keyword) = words.first() else {
            continue; // a comment line
        };
        let body = &block[k + 1..];
        let kind = match keyword {
            "skipif" | "onlyif" => match words.get(1) {
                Some(engine) => {
                    let engine = engine.to_ascii_lowercase();
                    if keyword == "skipif" {
                        guards.skip_if.push(engine);
                    } else {
                        guards.only_if.push(engine);
                    }
                    continue;
                }
                None => malformed(format!("`{keyword}` needs an engine name"), block),
            },
            "halt" => RecordKind::Halt,
            "hash-threshold" => match words.get(1).and_then(|n| n.parse::<usize>().ok()) {
                Some(n) => RecordKind::HashThreshold(n),
                None => malformed("hash-threshold needs a number".into(), block),
            },
            "statement" => {
                let kind = parse_statement(&words, body, block);
                records.push(guards.record(line_no, kind));
                return;
            }
            "query" => {
                let kind = parse_query(&words, body, block);
                records.push(guards.record(line_no, kind));
                return;
            }
            // Other runners' directives that do not apply to us.
            "control" | "mode" | "sleep" | "include" | "load" => return,
            _ => {
                let kind = malformed(format!("unknown record type `{keyword}`"), block);
                records.push(guards.record(line_no, kind));
                return;
            }
        };
        // One-line records: the rest of the block may hold more records.
        records.push(guards.record(line_no, kind));
    }
}

fn parse_statement(words: &[&str], body: &[(usize, &str)], block: &[(usize, &str)]) -> RecordKind {
    let expect_error = match words.get(1).copied() {
        Some("ok") | Some("count") => false,
        Some("error") => true,
        _ => return malformed("expected `statement ok` or `statement error`".into(), block),
    };
    let (sql, _) = split_results(body);
    if sql.trim().is_empty() {
        return malformed("statement without SQL".into(), block);
    }
    RecordKind::Statement { sql, expect_error }
}

fn parse_query(words: &[&str], body: &[(usize, &str)], block: &[(usize, &str)]) -> RecordKind {
    let (sql, expected) = split_results(body);
    if sql.trim().is_empty() {
        return malformed("query without SQL".into(), block);
    }
    let Some(&types) = words.get(1) else {
        return malformed("query without a type string".into(), block);
    };
    if types == "error" {
        return RecordKind::Query {
            sql,
            types: String::new(),
            sort: SortMode::NoSort,
            label: None,
            expected: Vec::new(),
            expect_error: true,
        };
    }
    if !types.chars().all(|c| c.is_ascii_alphabetic() || c == '?') {
        return malformed(format!("bad type string `{types}`"), block);
    }
    let mut sort = SortMode::NoSort;
    let mut label = None;
    for w in &words[2..] {
        match *w {
            "nosort" => sort = SortMode::NoSort,
            "rowsort" => sort = SortMode::RowSort,
            "valuesort" => sort = SortMode::ValueSort,
            other if label.is_none() => label = Some(other.to_string()),
            other => return malformed(format!("unexpected `{other}` after query"), block),
        }
    }
    RecordKind::Query {
        sql,
        types: types.to_string(),
        sort,
        label,
        expected,
        expect_error: false,
    }
}

/// Splits a record body at its `----` line into the SQL text and the
/// expected result lines.
fn split_results(body: &[(usize, &str)]) -> (String, Vec<String>) {
    let sep = body.iter().position(|(_, l)| l.trim_end() == "----");
    let (sql_lines, results) = match sep {
        Some(p) => (&body[..p], &body[p + 1..]),
        None => (body, &[][..]),
    };
    let sql = sql_lines
        .iter()
        .map(|(_, l)| *l)
        .collect::<Vec<_>>()
        .join("\n");
    let results = results.iter().map(|(_, l)| l.to_string()).collect();
    (sql, results)
}

/// The part of a header line before a `#` comment.
fn strip_comment(line: &str) -> &str {
    line.split_once('#').map_or(line, |(before, _)| before)
}

fn malformed(message: String, block: &[(usize, &str)]) -> RecordKind {
    let text = block
        .iter()
        .take(5)
        .map(|(_, l)| *l)
        .collect::<Vec<_>>()
        .join("\n");
    RecordKind::Malformed { message, text }
}

// ---------------------------------------------------------------------------
// Running

enum Outcome {
    Pass,
    Fail(Failure),
    Control,
    Halt,
}

struct Runner<'a> {
    db: Database,
    opts: &'a Options,
    hash_threshold: usize,
    /// Label → (hash of its values, line of the record that set it).
    labels: HashMap<String, (String, usize)>,
}

impl Runner<'_> {
    fn run(&mut self, record: &Record) -> Outcome {
        let line = record.line;
        match &record.kind {
            RecordKind::Halt => Outcome::Halt,
            RecordKind::HashThreshold(n) => {
                self.hash_threshold = *n;
                Outcome::Control
            }
            RecordKind::Malformed { message, text } => Outcome::Fail(Failure {
                line,
                sql: text.clone(),
                message: format!("parse error: {message}"),
                expected: Vec::new(),
                actual: Vec::new(),
            }),
            RecordKind::Statement { sql, expect_error } => {
                match (self.execute(sql), expect_error) {
                    (Ok(_), false) | (Err(_), true) => Outcome::Pass,
                    (Ok(_), true) => self.fail(line, sql, "statement succeeded, error expected"),
                    (Err(e), false) => self.fail(line, sql, &format!("statement failed: {e}")),
                }
            }
            RecordKind::Query {
                sql,
                types,
                sort,
                label,
                expected,
                expect_error,
            } => {
                let out = match (self.execute(sql), expect_error) {
                    (Err(_), true) => return Outcome::Pass,
                    (Ok(_), true) => {
                        return self.fail(line, sql, "query succeeded, error expected")
                    }
                    (Err(e), false) => return self.fail(line, sql, &format!("query failed: {e}")),
                    (Ok(out), false) => out,
                };
                self.check_query(line, sql, types, *sort, label.as_deref(), expected, &out)
            }
        }
    }

    /// Runs one statement, turning an engine panic into an error message.
    fn execute(&self, sql: &str) -> Result<Output, String> {
        match catch_unwind(AssertUnwindSafe(|| self.db.run(sql, &[]))) {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => Err(e.to_string()),
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_string());
                Err(format!("engine panicked: {msg}"))
            }
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

    fn fail(&self, line: usize, sql: &str, message: &str) -> Outcome {
        Outcome::Fail(self.failure(line, sql, message.to_string(), &[], &[]))
    }

    fn failure(
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

/// Renders every value of `rows` by the type letter of its column (letters
/// repeat when a row is wider than the type string).
pub fn render_rows(rows: &[Vec<Value>], types: &str) -> Vec<Vec<String>> {
    let letters: Vec<char> = types.chars().collect();
    rows.iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(i, v)| {
                    let letter = if letters.is_empty() {
                        'T'
                    } else {
                        letters[i % letters.len()]
                    };
                    render_value(v, letter)
                })
                .collect()
        })
        .collect()
}

/// One value as SQLite's reference driver prints it for type letter `ty`.
pub fn render_value(v: &Value, ty: char) -> String {
    if v.is_null() {
        return "NULL".to_string();
    }
    match ty {
        'I' => render_int(v).to_string(),
        'R' => format_fixed3(match v {
            Value::Text(s) | Value::Json(s) => parse_numeric_prefix(s).as_f64(),
            Value::Blob(b) => parse_numeric_prefix(&String::from_utf8_lossy(b)).as_f64(),
            other => other.as_f64().unwrap_or(0.0),
        }),
        _ => render_text(v),
    }
}

/// `sqlite3_column_int`: the value as an i64, then its low 32 bits.
fn render_int(v: &Value) -> i32 {
    let wide = match v {
        Value::Real(f) => real_to_i64(*f),
        Value::Text(s) | Value::Json(s) => int_prefix(s),
        Value::Blob(b) => int_prefix(&String::from_utf8_lossy(b)),
        other => other.as_i64().unwrap_or(0),
    };
    wide as i32
}

/// The leading integer of `s` (after spaces), saturating; 0 if none.
fn int_prefix(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut acc: i64 = 0;
    for c in digits.bytes().take_while(u8::is_ascii_digit) {
        let d = i64::from(c - b'0');
        acc = match acc.checked_mul(10).and_then(|a| {
            if neg {
                a.checked_sub(d)
            } else {
                a.checked_add(d)
            }
        }) {
            Some(a) => a,
            None => return if neg { i64::MIN } else { i64::MAX },
        };
    }
    acc
}

/// Text form with `(empty)` for "" and `@` for bytes outside 0x20..=0x7e.
fn render_text(v: &Value) -> String {
    let text = match v {
        Value::Real(f) => format_real(*f),
        other => other.to_text().unwrap_or_default(),
    };
    if text.is_empty() {
        return "(empty)".to_string();
    }
    text.bytes()
        .map(|b| {
            if (0x20..=0x7e).contains(&b) {
                b as char
            } else {
                '@'
            }
        })
        .collect()
}

/// `printf("%.3f", f)` the way SQLite's printf does it: at most 16
/// significant digits, halves rounded away from zero, no sign on -0.0.
pub fn format_fixed3(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Inf" } else { "-Inf" }.to_string();
    }
    let sign = if f < 0.0 { "-" } else { "" };
    let a = f.abs();
    if a == 0.0 {
        return "0.000".to_string();
    }
    // 17 significant digits, exactly rounded by the standard library.
    let sci = format!("{a:.16e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let mut exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mant
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|c| c - b'0')
        .collect();
    round_digits(&mut digits, &mut exp, 16);
    // Keep digits down to the 10^-3 place.
    let keep = exp + 4;
    if keep < 0 {
        return format!("{sign}0.000");
    }
    round_digits(&mut digits, &mut exp, keep as usize);
    let digit_at = |place: i32| -> char {
        let i = exp - place;
        if i >= 0 && (i as usize) < digits.len() {
            (b'0' + digits[i as usize]) as char
        } else {
            '0'
        }
    };
    let mut s = String::from(sign);
    for place in (0..=exp.max(0)).rev() {
        s.push(digit_at(place));
    }
    s.push('.');
    for place in 1..=3 {
        s.push(digit_at(-place));
    }
    s
}

/// Cuts a digit string (first digit at place 10^exp) to `n` digits, rounding
/// the dropped part half away from zero.
fn round_digits(digits: &mut Vec<u8>, exp: &mut i32, n: usize) {
    if digits.len() <= n {
        return;
    }
    let round_up = digits[n] >= 5;
    digits.truncate(n);
    if !round_up {
        return;
    }
    for d in digits.iter_mut().rev() {
        if *d == 9 {
            *d = 0;
        } else {
            *d += 1;
            return;
        }
    }
    // All nines (or no digits kept): the carry makes a new leading 1.
    digits.insert(0, 1);
    *exp += 1;
}

/// Applies the sort mode; returns the (possibly sorted) rows and the flat
/// list of values in result order.
fn sort_results(mut rows: Vec<Vec<String>>, sort: SortMode) -> (Vec<Vec<String>>, Vec<String>) {
    match sort {
        SortMode::NoSort => {}
        SortMode::RowSort => rows.sort(),
        SortMode::ValueSort => {
            let mut values: Vec<String> = rows.iter().flatten().cloned().collect();
            values.sort();
            return (rows, values);
        }
    }
    let values = rows.iter().flatten().cloned().collect();
    (rows, values)
}

/// MD5 over each value followed by a newline, as lowercase hex.
pub fn hash_values(values: &[String]) -> String {
    let mut h = Md5::new();
    for v in values {
        h.update(v.as_bytes());
        h.update(b"\n");
    }
    let mut hex = String::with_capacity(32);
    for byte in h.finalize() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// `(count, hash)` when the expected output is `N values hashing to <md5>`.
fn expected_hash(expected: &[String]) -> Option<(usize, &str)> {
    let [line] = expected else { return None };
    let (count, rest) = line.trim().split_once(" values hashing to ")?;
    let count = count.trim().parse().ok()?;
    let hash = rest.trim();
    (hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some((count, hash))
}

/// Compares a rendered result with the expected lines: a hash line, one
/// value per line, or one row per line (values separated by spaces).
fn compare(
    expected: &[String],
    rows: &[Vec<String>],
    values: &[String],
    sort: SortMode,
    hash: &str,
) -> Result<(), String> {
    if let Some((count, want)) = expected_hash(expected) {
        if count != values.len() {
            return Err(format!(
                "expected {count} values, got {} (hashing to {hash})",
                values.len()
            ));
        }
        if !want.eq_ignore_ascii_case(hash) {
            return Err(format!("{count} values hash to {hash}, expected {want}"));
        }
        return Ok(());
    }
    if expected.len() == values.len() {
        // One value per line. Rows of expected output in rowsort mode are
        // already sorted in SQLite's files; sort them anyway for
        // hand-written files.
        let mut want: Vec<&str> = expected.iter().map(|l| l.trim_end()).collect();
        if sort == SortMode::RowSort {
            let width = rows.first().map_or(1, Vec::len).max(1);
            let mut chunks: Vec<&[&str]> = want.chunks(width).collect();
            chunks.sort();
            want = chunks.concat();
        } else if sort == SortMode::ValueSort {
            want.sort();
        }
        for (i, (w, got)) in want.iter().zip(values).enumerate() {
            if *w != got.trim_end() {
                return Err(format!(
                    "wrong value {} of {}: expected `{w}`, got `{got}`",
                    i + 1,
                    values.len()
                ));
            }
        }
        return Ok(());
    }
    if expected.len() == rows.len() && sort != SortMode::ValueSort {
        // One row per line.
        let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut want: Vec<String> = expected.iter().map(|l| norm(l)).collect();
        let mut got: Vec<String> = rows.iter().map(|r| norm(&r.join(" "))).collect();
        if sort == SortMode::RowSort {
            want.sort();
            got.sort();
        }
        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
            if w != g {
                return Err(format!(
                    "wrong row {} of {}: expected `{w}`, got `{g}`",
                    i + 1,
                    rows.len()
                ));
            }
        }
        return Ok(());
    }
    Err(format!(
        "expected {} lines, got {} rows ({} values)",
        expected.len(),
        rows.len(),
        values.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_statements_queries_and_guards() {
        let text = "hash-threshold 8\n\n# comment\nstatement ok\nCREATE TABLE t(a INT)\n\n\
                    onlyif mysql # why\nstatement error\nSELECT x\n\n\
                    skipif postgresql\nquery IT rowsort label-3\nSELECT a,\n b FROM t\n----\n1\nx\n\n\
                    onlyif mssql\nhalt\n";
        let recs = parse(text);
        assert_eq!(recs.len(), 5);
        assert_eq!(recs[0].kind, RecordKind::HashThreshold(8));
        assert_eq!(recs[1].line, 4);
        assert!(
            matches!(&recs[1].kind, RecordKind::Statement { sql, expect_error: false } if sql == "CREATE TABLE t(a INT)")
        );
        assert_eq!(recs[2].only_if, vec!["mysql"]);
        assert!(!recs[2].applies());
        assert!(recs[3].applies());
        match &recs[3].kind {
            RecordKind::Query {
                sql,
                types,
                sort,
                label,
                expected,
                ..
            } => {
                assert_eq!(sql, "SELECT a,\n b FROM t");
                assert_eq!(types, "IT");
                assert_eq!(*sort, SortMode::RowSort);
                assert_eq!(label.as_deref(), Some("label-3"));
                assert_eq!(expected, &strings(&["1", "x"]));
            }
            other => panic!("not a query: {other:?}"),
        }
        assert_eq!(recs[4].kind, RecordKind::Halt);
        assert!(!recs[4].applies());
    }

    #[test]
    fn malformed_records_do_not_panic() {
        for text in [
            "query\n",
            "query I\n",
            "query I\n----\n1\n",
            "statement\nSELECT 1\n",
            "statement ok\n",
            "hash-threshold x\n",
            "skipif\nstatement ok\nSELECT 1\n",
            "bogus line\n",
            "query I!x nosort\nSELECT 1\n",
            "query I nosort a b\nSELECT 1\n",
            "----\n\n----",
            "\u{0}\u{1}\r\n\r\n",
        ] {
            let recs = parse(text);
            assert!(
                recs.iter()
                    .any(|r| matches!(r.kind, RecordKind::Malformed { .. })),
                "{text:?} gave {recs:?}"
            );
        }
    }

    #[test]
    fn query_without_separator_expects_no_rows() {
        let recs = parse("query I nosort\nSELECT 1 WHERE 0\n");
        assert!(matches!(&recs[0].kind, RecordKind::Query { expected, .. } if expected.is_empty()));
    }

    #[test]
    fn renders_like_sqlite() {
        assert_eq!(render_value(&Value::Null, 'I'), "NULL");
        assert_eq!(render_value(&Value::Integer(-7), 'I'), "-7");
        assert_eq!(render_value(&Value::Integer(1 << 32 | 5), 'I'), "5");
        assert_eq!(render_value(&Value::Real(-2.9), 'I'), "-2");
        assert_eq!(render_value(&Value::text("12abc"), 'I'), "12");
        assert_eq!(render_value(&Value::text("1.9"), 'I'), "1");
        assert_eq!(render_value(&Value::text("abc"), 'I'), "0");
        assert_eq!(render_value(&Value::Boolean(true), 'I'), "1");
        assert_eq!(render_value(&Value::Integer(3), 'R'), "3.000");
        assert_eq!(render_value(&Value::Real(2.0 / 3.0), 'R'), "0.667");
        assert_eq!(render_value(&Value::text("1.5e1x"), 'R'), "15.000");
        assert_eq!(render_value(&Value::text(""), 'T'), "(empty)");
        assert_eq!(render_value(&Value::text("a\tb\u{e9}"), 'T'), "a@b@@");
        assert_eq!(render_value(&Value::Real(1.5), 'T'), "1.5");
        assert_eq!(render_value(&Value::Integer(12), 'T'), "12");
        assert_eq!(render_value(&Value::Blob(Arc::from(&b"ab"[..])), 'T'), "ab");
    }

    #[test]
    fn fixed3_formatting() {
        assert_eq!(format_fixed3(0.0), "0.000");
        assert_eq!(format_fixed3(-0.0), "0.000");
        assert_eq!(format_fixed3(1.0), "1.000");
        assert_eq!(format_fixed3(-12.3456), "-12.346");
        assert_eq!(format_fixed3(0.0625), "0.063");
        assert_eq!(format_fixed3(0.0004), "0.000");
        assert_eq!(format_fixed3(0.0006), "0.001");
        assert_eq!(format_fixed3(-0.0001), "-0.000");
        assert_eq!(format_fixed3(9.9996), "10.000");
        assert_eq!(format_fixed3(999.9999), "1000.000");
        assert_eq!(format_fixed3(1e20), "100000000000000000000.000");
        assert_eq!(
            format_fixed3(123456789012345678901.0),
            "123456789012345700000.000"
        );
        assert_eq!(format_fixed3(1e-300), "0.000");
        assert_eq!(format_fixed3(f64::INFINITY), "Inf");
    }

    #[test]
    fn int_prefix_saturates() {
        assert_eq!(int_prefix("  -42x"), -42);
        assert_eq!(int_prefix("+7"), 7);
        assert_eq!(int_prefix("99999999999999999999"), i64::MAX);
        assert_eq!(int_prefix("-99999999999999999999"), i64::MIN);
        assert_eq!(int_prefix("-"), 0);
    }

    #[test]
    fn md5_hash_of_values() {
        // md5("1\n2\n")
        assert_eq!(
            hash_values(&strings(&["1", "2"])),
            "6ddb4095eb719e2a9f0a3f95677d24e0"
        );
        assert_eq!(hash_values(&[]), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn compares_all_result_styles() {
        let rows = vec![strings(&["2", "b c"]), strings(&["1", "a"])];
        let (rows, values) = sort_results(rows, SortMode::RowSort);
        assert_eq!(values, strings(&["1", "a", "2", "b c"]));
        let hash = hash_values(&values);
        // One value per line.
        assert!(compare(
            &strings(&["1", "a", "2", "b c"]),
            &rows,
            &values,
            SortMode::RowSort,
            &hash
        )
        .is_ok());
        assert!(compare(
            &strings(&["1", "a", "2", "b"]),
            &rows,
            &values,
            SortMode::RowSort,
            &hash
        )
        .is_err());
        // One row per line, in any order for rowsort.
        assert!(compare(
            &strings(&["2  b c", "1 a"]),
            &rows,
            &values,
            SortMode::RowSort,
            &hash
        )
        .is_ok());
        // Hash form.
        let line = format!("4 values hashing to {hash}");
        assert!(compare(&[line], &rows, &values, SortMode::RowSort, &hash).is_ok());
        let wrong = "4 values hashing to 00000000000000000000000000000000".to_string();
        assert!(compare(&[wrong], &rows, &values, SortMode::RowSort, &hash).is_err());
        // Count mismatch.
        assert!(compare(&strings(&["1"]), &rows, &values, SortMode::RowSort, &hash).is_err());
        // No rows.
        assert!(compare(&[], &[], &[], SortMode::NoSort, &hash_values(&[])).is_ok());
    }

    #[test]
    fn valuesort_sorts_every_value() {
        let rows = vec![strings(&["3", "1"]), strings(&["2", "0"])];
        let (_, values) = sort_results(rows, SortMode::ValueSort);
        assert_eq!(values, strings(&["0", "1", "2", "3"]));
    }

    #[test]
    fn cycles_type_letters() {
        let rows = vec![vec![Value::Real(1.5), Value::Real(2.5), Value::Real(3.5)]];
        assert_eq!(
            render_rows(&rows, "IR"),
            vec![strings(&["1", "2.500", "3"])]
        );
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
        let mut report = FileReport {
            path: PathBuf::new(),
            records: 0,
            failed: 0,
            skipped: 0,
            elapsed: Duration::ZERO,
            failures: Vec::new(),
        };
        run_script(text, &Options::default(), &mut report);
        assert_eq!(report.skipped, 3);
        assert_eq!(report.records, 0);
    }
}
