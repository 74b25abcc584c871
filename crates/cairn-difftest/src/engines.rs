//! The two engines side by side: one Cairn database and one SQLite
//! connection fed the same statements, their answers turned into one normal
//! form ([`Val`]) and compared. Never retries a statement; a statement over
//! its time budget is reported as [`Outcome::Timeout`], not waited on.

use std::cmp::Ordering;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// A value in the form both engines' answers are compared in.
#[derive(Debug, Clone)]
pub enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// Relative tolerance for REAL results (sums may be added in another order).
pub const REAL_TOLERANCE: f64 = 1e-9;

impl Val {
    fn rank(&self) -> u8 {
        match self {
            Val::Null => 0,
            Val::Int(_) => 1,
            Val::Real(_) => 2,
            Val::Text(_) => 3,
            Val::Blob(_) => 4,
        }
    }

    /// A total order used to sort rows before a multiset comparison:
    /// storage class first (so 2 and 2.0 never pair up), then value;
    /// -0.0 sorts as 0.0.
    pub fn order(&self, other: &Val) -> Ordering {
        match (self, other) {
            (Val::Int(a), Val::Int(b)) => a.cmp(b),
            (Val::Real(a), Val::Real(b)) => (a + 0.0).total_cmp(&(b + 0.0)),
            (Val::Text(a), Val::Text(b)) => a.cmp(b),
            (Val::Blob(a), Val::Blob(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }

    /// [`Val::order`] with INTEGER and REAL ordered together by value.
    fn order_numeric(&self, other: &Val) -> Ordering {
        match (self.as_f64(), other.as_f64()) {
            (Some(a), Some(b)) => (a + 0.0).total_cmp(&(b + 0.0)),
            (Some(_), None) => 1.cmp(&other.rank()),
            (None, Some(_)) => self.rank().cmp(&1),
            (None, None) => self.order(other),
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Real(f) => Some(*f),
            _ => None,
        }
    }

    /// [`Val::same`], except that an INTEGER equals a REAL of the same
    /// value: where an engine may keep either of two rows that compare
    /// equal (DISTINCT, UNION, GROUP BY, min/max, LIMIT over ties).
    fn same_numeric(&self, other: &Val) -> bool {
        match (self, other) {
            (Val::Int(a), Val::Real(b)) | (Val::Real(b), Val::Int(a)) => (*a as f64) == *b,
            _ => self.same(other),
        }
    }

    /// Same storage class and value (REALs within [`REAL_TOLERANCE`],
    /// -0.0 equal to 0.0).
    pub fn same(&self, other: &Val) -> bool {
        match (self, other) {
            (Val::Null, Val::Null) => true,
            (Val::Int(a), Val::Int(b)) => a == b,
            (Val::Real(a), Val::Real(b)) => {
                a == b || (a - b).abs() <= REAL_TOLERANCE * a.abs().max(b.abs())
            }
            (Val::Text(a), Val::Text(b)) => a == b,
            (Val::Blob(a), Val::Blob(b)) => a == b,
            _ => false,
        }
    }

    /// The value as an SQL literal that both engines read back as the same
    /// storage class (used to dump a table's contents).
    pub fn literal(&self) -> String {
        match self {
            Val::Null => "NULL".into(),
            Val::Int(i64::MIN) => "(-9223372036854775807 - 1)".into(),
            Val::Int(i) => i.to_string(),
            Val::Real(f) if f.is_infinite() && *f > 0.0 => "9e999".into(),
            Val::Real(f) if f.is_infinite() => "-9e999".into(),
            Val::Real(f) => format!("{f:?}"),
            Val::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Val::Blob(b) => {
                let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
                format!("X'{hex}'")
            }
        }
    }
}

impl std::fmt::Display for Val {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Val::Null => write!(f, "NULL"),
            Val::Int(i) => write!(f, "{i}"),
            Val::Real(r) => write!(f, "{r:?}"),
            Val::Text(s) => write!(f, "'{s}'"),
            Val::Blob(b) => write!(f, "blob({} bytes)", b.len()),
        }
    }
}

/// What one engine answered to one statement.
#[derive(Debug, Clone)]
pub enum Outcome {
    Rows(Vec<Vec<Val>>),
    Changed(u64),
    Error(String),
    /// Cairn failed with an internal error or panicked: always a finding.
    Broken(String),
    Timeout,
}

impl Outcome {
    pub fn is_error(&self) -> bool {
        matches!(self, Outcome::Error(_))
    }

    /// A short rendering for reports (at most `rows_max` rows).
    pub fn show(&self, rows_max: usize) -> String {
        match self {
            Outcome::Rows(rows) => {
                let mut out = format!("{} row(s)", rows.len());
                for row in rows.iter().take(rows_max) {
                    let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
                    out.push_str(&format!("\n      ({})", cells.join(", ")));
                }
                if rows.len() > rows_max {
                    out.push_str("\n      ...");
                }
                out
            }
            Outcome::Changed(n) => format!("{n} row(s) changed"),
            Outcome::Error(e) => format!("error: {e}"),
            Outcome::Broken(e) => format!("BROKEN: {e}"),
            Outcome::Timeout => "timeout".into(),
        }
    }
}

/// How two outcomes differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    Agree,
    /// Both answered, differently.
    Differ,
    OnlyCairnFailed,
    OnlySqliteFailed,
    /// Cairn panicked or returned an internal error.
    CairnBroken,
    Timeout,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Agree => "agree",
            Verdict::Differ => "results differ",
            Verdict::OnlyCairnFailed => "only Cairn fails",
            Verdict::OnlySqliteFailed => "only SQLite fails",
            Verdict::CairnBroken => "Cairn internal error or panic",
            Verdict::Timeout => "timeout",
        }
    }
}

/// Compares two answers; `ordered` also requires the rows in the same order.
pub fn compare(sqlite: &Outcome, cairn: &Outcome, ordered: bool) -> Verdict {
    match (sqlite, cairn) {
        (_, Outcome::Broken(_)) => Verdict::CairnBroken,
        (Outcome::Timeout, _) | (_, Outcome::Timeout) => Verdict::Timeout,
        (Outcome::Error(_), Outcome::Error(_)) => Verdict::Agree,
        (_, Outcome::Error(_)) => Verdict::OnlyCairnFailed,
        (Outcome::Error(_), _) => Verdict::OnlySqliteFailed,
        (Outcome::Changed(a), Outcome::Changed(b)) if a == b => Verdict::Agree,
        (Outcome::Rows(a), Outcome::Rows(b)) if same_rows(a, b, ordered) => Verdict::Agree,
        _ => Verdict::Differ,
    }
}

/// Compares two answers allowing an INTEGER where the other engine has an
/// equal REAL: for queries where either engine may legitimately keep
/// either of two rows that compare equal. Used only on such queries.
pub fn agree_up_to_representatives(sqlite: &Outcome, cairn: &Outcome) -> bool {
    match (sqlite, cairn) {
        (Outcome::Rows(a), Outcome::Rows(b)) => same_rows_by(a, b, false, true),
        _ => false,
    }
}

fn same_row(a: &[Val], b: &[Val], numeric: bool) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            if numeric {
                x.same_numeric(y)
            } else {
                x.same(y)
            }
        })
}

fn row_order(a: &[Val], b: &[Val], numeric: bool) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = if numeric {
            x.order_numeric(y)
        } else {
            x.order(y)
        };
        match o {
            Ordering::Equal => {}
            other => return other,
        }
    }
    a.len().cmp(&b.len())
}

fn same_rows(a: &[Vec<Val>], b: &[Vec<Val>], ordered: bool) -> bool {
    same_rows_by(a, b, ordered, false)
}

fn same_rows_by(a: &[Vec<Val>], b: &[Vec<Val>], ordered: bool, numeric: bool) -> bool {
    if a.len() != b.len() {
        return false;
    }
    // In order, an INTEGER may stand where the other engine has an equal
    // REAL: ORDER BY ties them, so either may come first. The multiset
    // check below still tells 0 from 0.0.
    if ordered && !a.iter().zip(b).all(|(x, y)| same_row(x, y, true)) {
        return false;
    }
    let mut a_sorted: Vec<&Vec<Val>> = a.iter().collect();
    let mut b_sorted: Vec<&Vec<Val>> = b.iter().collect();
    a_sorted.sort_by(|x, y| row_order(x, y, numeric));
    b_sorted.sort_by(|x, y| row_order(x, y, numeric));
    a_sorted
        .iter()
        .zip(&b_sorted)
        .all(|(x, y)| same_row(x, y, numeric))
}

/// Sorts rows into the comparison order (for dumps and reports).
pub fn sort_rows(rows: &mut [Vec<Val>]) {
    rows.sort_by(|x, y| row_order(x, y, false));
}

/// A Cairn database and a SQLite connection, both in memory.
pub struct Pair {
    cairn: cairn::Database,
    sqlite: rusqlite::Connection,
    timeout: Duration,
}

impl Pair {
    pub fn new(timeout_ms: u64) -> Result<Pair, String> {
        let cairn = cairn::Database::open_in_memory().map_err(|e| e.to_string())?;
        cairn
            .execute(
                &format!("SET statement_timeout = '{timeout_ms}ms'"),
                cairn::params![],
            )
            .map_err(|e| format!("cairn: {e}"))?;
        let sqlite = rusqlite::Connection::open_in_memory().map_err(|e| e.to_string())?;
        Ok(Pair {
            cairn,
            sqlite,
            timeout: Duration::from_millis(timeout_ms),
        })
    }

    /// Runs a query on both engines: (SQLite, Cairn).
    pub fn query(&self, sql: &str) -> (Outcome, Outcome) {
        (self.sqlite_query(sql), self.cairn_run(sql, true))
    }

    /// Runs a write or DDL statement on both engines: (SQLite, Cairn).
    pub fn execute(&self, sql: &str) -> (Outcome, Outcome) {
        (self.sqlite_execute(sql), self.cairn_run(sql, false))
    }

    fn arm_sqlite_deadline(&self) {
        let deadline = Instant::now() + self.timeout;
        self.sqlite
            .progress_handler(10_000, Some(move || Instant::now() > deadline));
    }

    fn sqlite_error(&self, e: rusqlite::Error) -> Outcome {
        if let rusqlite::Error::SqliteFailure(f, _) = &e {
            if f.code == rusqlite::ErrorCode::OperationInterrupted {
                return Outcome::Timeout;
            }
        }
        Outcome::Error(e.to_string())
    }

    fn sqlite_query(&self, sql: &str) -> Outcome {
        self.arm_sqlite_deadline();
        let result = (|| {
            let mut stmt = self.sqlite.prepare(sql)?;
            let width = stmt.column_count();
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let mut vals = Vec::with_capacity(width);
                for i in 0..width {
                    vals.push(from_sqlite(row.get_ref(i)?));
                }
                out.push(vals);
            }
            Ok::<_, rusqlite::Error>(out)
        })();
        match result {
            Ok(rows) => Outcome::Rows(rows),
            Err(e) => self.sqlite_error(e),
        }
    }

    fn sqlite_execute(&self, sql: &str) -> Outcome {
        self.arm_sqlite_deadline();
        match self.sqlite.execute(sql, []) {
            Ok(n) => Outcome::Changed(n as u64),
            Err(e) => self.sqlite_error(e),
        }
    }

    fn cairn_run(&self, sql: &str, query: bool) -> Outcome {
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| {
            if query {
                let rows = self.cairn.query(sql, cairn::params![])?.into_values()?;
                Ok(Outcome::Rows(
                    rows.into_iter()
                        .map(|r| r.into_iter().map(from_cairn).collect())
                        .collect(),
                ))
            } else {
                self.cairn
                    .execute(sql, cairn::params![])
                    .map(Outcome::Changed)
            }
        }));
        match result {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) if e.kind() == cairn::ErrorKind::Internal => Outcome::Broken(e.to_string()),
            Ok(Err(e)) => {
                let message = e.to_string();
                if started.elapsed() >= self.timeout && message.contains("timeout") {
                    Outcome::Timeout
                } else {
                    Outcome::Error(message)
                }
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Outcome::Broken(format!("panic: {what}"))
            }
        }
    }
}

fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> Val {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Val::Null,
        ValueRef::Integer(i) => Val::Int(i),
        ValueRef::Real(f) => Val::Real(f),
        ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Val::Blob(b.to_vec()),
    }
}

/// Cairn's booleans are SQLite's integers 1 and 0; the types SQLite does
/// not have are compared by their text.
fn from_cairn(v: cairn::Value) -> Val {
    use cairn::Value;
    match v {
        Value::Null => Val::Null,
        Value::Boolean(b) => Val::Int(i64::from(b)),
        Value::Integer(i) => Val::Int(i),
        Value::Real(f) => Val::Real(f),
        Value::Text(t) => Val::Text(t.to_string()),
        Value::Blob(b) => Val::Blob(b.to_vec()),
        other => Val::Text(format!("{other:?}")),
    }
}

/// Issue 14 item 18's symptom: Cairn keeps the INTEGER -2^63 and the REAL
/// -2^63 (which an overflowing subtraction makes) apart where SQLite merges
/// them (DISTINCT, UNION, GROUP BY): Cairn's rows hold both, SQLite's fewer.
pub fn is_known_min_int_split(sqlite: &Outcome, cairn: &Outcome) -> bool {
    let (Outcome::Rows(s), Outcome::Rows(c)) = (sqlite, cairn) else {
        return false;
    };
    let holds = |pred: &dyn Fn(&Val) -> bool| c.iter().flatten().any(pred);
    s.len() < c.len()
        && holds(&|v| matches!(v, Val::Int(i64::MIN)))
        && holds(&|v| matches!(v, Val::Real(f) if *f == -9.223_372_036_854_776e18))
}
