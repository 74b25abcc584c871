//! The database a file runs on: in memory, or in a fresh temporary
//! directory that can be closed and opened again mid-run.
//!
//! A reopen (the `reopen` record, and the check after a file's last record)
//! is valid iff (1) the database opens again, (2) its [`Dump`] — the schema,
//! every table's and view's rows sorted, and the commit head with its state
//! root — equals the dump taken just before the close, and (3)
//! `PRAGMA integrity_check` answers `ok`. The dumps are read on a second
//! connection, so they hold committed data only (an open transaction of the
//! file's session is rolled back by the close, as it would be in any
//! program). In memory there is nothing to reopen and these checks are
//! skipped.

use std::panic::{catch_unwind, AssertUnwindSafe};

use cairn::{CommitHead, Database, OpenOptions, Synchronous, Value};

use crate::kind::kind_name;
use crate::Mode;

/// One file's database.
pub(crate) struct Conn {
    /// `None` only after a reopen failed to open the directory.
    db: Option<Database>,
    /// The directory of a disk database; declared after `db` so the
    /// database closes before its directory is deleted.
    dir: Option<tempfile::TempDir>,
}

impl Conn {
    /// A fresh, empty database for `mode`.
    pub(crate) fn open(mode: Mode) -> Result<Conn, String> {
        match mode {
            Mode::Memory => {
                let db = Database::open_in_memory().map_err(|e| e.to_string())?;
                Ok(Conn {
                    db: Some(db),
                    dir: None,
                })
            }
            Mode::Disk => {
                let dir = tempfile::Builder::new()
                    .prefix("cairn-slt-")
                    .tempdir()
                    .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
                let db = open_dir(dir.path())?;
                Ok(Conn {
                    db: Some(db),
                    dir: Some(dir),
                })
            }
        }
    }

    /// The open database; `None` after a failed reopen.
    pub(crate) fn db(&self) -> Option<&Database> {
        self.db.as_ref()
    }

    /// True for a database directory (reopen checks apply).
    pub(crate) fn is_disk(&self) -> bool {
        self.dir.is_some()
    }

    /// Closes the database and opens it again, checking that nothing
    /// changed (see the module doc). A no-op in memory. After an error,
    /// [`Conn::db`] is `None` if the directory could not be opened again.
    pub(crate) fn reopen(&mut self) -> Result<(), String> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let Some(db) = &self.db else {
            return Err("the database is closed (an earlier reopen failed)".into());
        };
        let before = guarded(|| Dump::read(db)).map_err(|e| format!("before reopen: {e}"))?;
        // Close it: the directory's lock goes with the last handle.
        self.db = None;
        let db = guarded(|| open_dir(dir.path())).map_err(|e| format!("reopen failed: {e}"))?;
        let after = guarded(|| Dump::read(&db));
        let problems = guarded(|| integrity_problems(&db));
        self.db = Some(db);
        let after = after.map_err(|e| format!("after reopen: {e}"))?;
        if let Some(diff) = before.diff(&after) {
            return Err(format!("reopen changed the database: {diff}"));
        }
        let problems = problems.map_err(|e| format!("integrity_check after reopen: {e}"))?;
        if !problems.is_empty() {
            return Err(format!(
                "integrity_check after reopen: {}",
                problems.join("; ")
            ));
        }
        Ok(())
    }
}

/// Opens a database directory. `synchronous = off`: disk mode checks what
/// the files hold after a clean close, not durability against power cuts
/// (`crates/cairn/tests/durability.rs` and `crash_kill.rs` do that), and
/// an fsync per commit would make every file slow.
fn open_dir(dir: &std::path::Path) -> Result<Database, String> {
    let options = OpenOptions {
        synchronous: Synchronous::Off,
        ..OpenOptions::default()
    };
    Database::open_with(dir, options).map_err(|e| format!("cannot open {}: {e}", dir.display()))
}

/// Runs `f`, turning an engine panic into an error message.
pub(crate) fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => Err(format!("engine panicked: {}", panic_message(&*payload))),
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// The problems `PRAGMA integrity_check` reports (empty when it says `ok`).
fn integrity_problems(db: &Database) -> Result<Vec<String>, String> {
    let out = db
        .run("PRAGMA integrity_check", &[])
        .map_err(|e| e.to_string())?;
    let lines: Vec<String> = out
        .rows
        .iter()
        .map(|row| row.iter().map(show_value).collect::<Vec<_>>().join(" "))
        .collect();
    if lines == ["ok"] {
        Ok(Vec::new())
    } else {
        Ok(lines)
    }
}

fn show_value(v: &Value) -> String {
    match v {
        Value::Text(s) => s.to_string(),
        other => format!("{other:?}"),
    }
}

/// What a reopen must preserve, in a canonical form.
#[derive(Debug, PartialEq)]
pub(crate) struct Dump {
    head: CommitHead,
    /// `CREATE` statements of every table, index and view.
    schema: Vec<String>,
    /// Every table and view (sorted by name) with its rows, each row in
    /// `Debug` form, sorted; or the kind of error reading it gave.
    tables: Vec<(String, Result<Vec<String>, String>)>,
}

impl Dump {
    /// Reads the committed state of `db` on a second connection.
    pub(crate) fn read(db: &Database) -> Result<Dump, String> {
        let conn = db.connect();
        let schema = conn.schema_sql(None).map_err(|e| e.to_string())?;
        let mut tables = Vec::new();
        for name in conn.table_names() {
            let sql = format!("SELECT * FROM {}", quote_ident(&name));
            let rows = match conn.run(&sql, &[]) {
                Ok(out) => {
                    let mut rows: Vec<String> = out.rows.iter().map(|r| format!("{r:?}")).collect();
                    rows.sort();
                    Ok(rows)
                }
                Err(e) => Err(kind_name(e.kind()).to_string()),
            };
            tables.push((name, rows));
        }
        Ok(Dump {
            head: conn.head(),
            schema,
            tables,
        })
    }

    /// The first difference from `after`, in words; `None` when equal.
    pub(crate) fn diff(&self, after: &Dump) -> Option<String> {
        if self.head != after.head {
            return Some(format!(
                "commit head was {:?}, is {:?}",
                self.head, after.head
            ));
        }
        if self.schema != after.schema {
            return Some(format!(
                "schema was {:?}, is {:?}",
                self.schema, after.schema
            ));
        }
        let names = |d: &Dump| d.tables.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        if names(self) != names(after) {
            return Some(format!(
                "tables were {:?}, are {:?}",
                names(self),
                names(after)
            ));
        }
        for ((name, was), (_, is)) in self.tables.iter().zip(&after.tables) {
            if was != is {
                return Some(table_diff(name, was, is));
            }
        }
        None
    }
}

/// How one table's rows changed.
fn table_diff(
    name: &str,
    was: &Result<Vec<String>, String>,
    is: &Result<Vec<String>, String>,
) -> String {
    match (was, is) {
        (Ok(was), Ok(is)) => {
            let first = was
                .iter()
                .zip(is)
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("; first difference: {a} became {b}"))
                .unwrap_or_default();
            format!(
                "table {name} had {} rows, has {}{first}",
                was.len(),
                is.len()
            )
        }
        (was, is) => format!("reading table {name} gave {was:?}, gives {is:?}"),
    }
}

/// `name` as a quoted SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_database_survives_reopen() {
        let mut conn = Conn::open(Mode::Disk).expect("open");
        let db = conn.db().expect("open");
        db.run_batch(
            "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT); \
             INSERT INTO t VALUES (2, 'x'), (1, NULL); CREATE VIEW v AS SELECT b FROM t",
        )
        .expect("setup");
        conn.reopen().expect("reopen");
        let db = conn.db().expect("reopened");
        let n: i64 = db
            .query_row("SELECT count(*) FROM t", &[], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 2);
    }

    #[test]
    fn dump_diff_names_the_table() {
        let db = Database::open_in_memory().expect("open");
        db.run_batch("CREATE TABLE t(a INT); INSERT INTO t VALUES (1)")
            .expect("setup");
        let before = Dump::read(&db).expect("dump");
        db.run("INSERT INTO t VALUES (2)", &[]).expect("insert");
        let after = Dump::read(&db).expect("dump");
        // The head moved first; compare the tables alone too.
        assert!(before.diff(&after).is_some_and(|d| d.contains("head")));
        let same_head = Dump {
            head: after.head,
            ..before
        };
        assert!(same_head
            .diff(&after)
            .is_some_and(|d| d.contains("table t")));
        assert_eq!(after.diff(&after), None);
    }

    #[test]
    fn memory_reopen_is_a_no_op() {
        let mut conn = Conn::open(Mode::Memory).expect("open");
        assert!(!conn.is_disk());
        conn.reopen().expect("no-op");
        assert!(conn.db().is_some());
    }
}
