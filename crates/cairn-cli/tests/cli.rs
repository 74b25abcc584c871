//! End-to-end tests of the `cairn` binary: `-c`, stdin scripts, dot
//! commands, output modes, `.import`, and exit codes.
//!
//! Tests that run SQL need the engine; the argument, dot-command and
//! exit-code tests do not.

use std::io::Write;
use std::process::{Command, Stdio};

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `args`, feeding `stdin` (a pipe, so never a terminal).
fn cairn(args: &[&str], stdin: &str) -> Result<Run, Box<dyn std::error::Error>> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    Ok(Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout)?,
        stderr: String::from_utf8(out.stderr)?,
    })
}

// --- arguments, dot commands and exit codes (no engine needed) -----------

#[test]
fn help_command() -> TestResult {
    let r = cairn(&["-c", ".help"], "")?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains(".import"), "{}", r.stdout);
    assert!(r.stdout.contains(".mode"), "{}", r.stdout);
    assert_eq!(r.stderr, "");
    Ok(())
}

#[test]
fn unknown_dot_command_fails() -> TestResult {
    let r = cairn(&["-c", ".bogus"], "")?;
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.starts_with("Error: unknown command .bogus"),
        "{}",
        r.stderr
    );
    Ok(())
}

#[test]
fn bad_dot_command_arguments_fail() -> TestResult {
    for cmd in [".mode html", ".headers maybe", ".import onlyfile", ".read"] {
        let r = cairn(&["-c", cmd], "")?;
        assert_eq!(r.code, Some(1), "{cmd}");
        assert!(r.stderr.starts_with("Error: "), "{cmd}: {}", r.stderr);
    }
    Ok(())
}

#[test]
fn mode_is_shown_and_changed() -> TestResult {
    let r = cairn(&["-c", ".mode", "-c", ".mode json", "-c", ".mode"], "")?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "current output mode: table\ncurrent output mode: json\n"
    );
    Ok(())
}

#[test]
fn unopenable_path_fails_clearly() -> TestResult {
    // A regular file where a database directory should be.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("data.cairn");
    std::fs::write(&path, "not a directory")?;
    let path = path.to_string_lossy();
    let r = cairn(&[&path, "-c", ".help"], "")?;
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("cannot open"), "{}", r.stderr);
    assert_eq!(r.stdout, "");
    Ok(())
}

#[test]
fn memory_path_is_accepted() -> TestResult {
    let r = cairn(&[":memory:", "-c", ".mode"], "")?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    Ok(())
}

#[test]
fn unknown_option_is_a_usage_error() -> TestResult {
    let r = cairn(&["--no-such-option"], "")?;
    assert_eq!(r.code, Some(2));
    Ok(())
}

#[test]
fn version_flag() -> TestResult {
    let r = cairn(&["--version"], "")?;
    assert_eq!(r.code, Some(0));
    assert!(r.stdout.starts_with("cairn "), "{}", r.stdout);
    Ok(())
}

#[test]
fn stdin_script_keeps_going_after_errors() -> TestResult {
    let r = cairn(&[], ".bogus\n.mode csv\n.mode\n")?;
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stdout, "current output mode: csv\n");
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    Ok(())
}

#[test]
fn quit_ends_a_script() -> TestResult {
    let r = cairn(&[], ".quit\n.bogus\n")?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stderr, "");
    Ok(())
}

#[test]
fn empty_script_succeeds() -> TestResult {
    let r = cairn(&[], "\n-- nothing here\n\n")?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "");
    Ok(())
}

#[test]
fn failing_sql_sets_exit_code() -> TestResult {
    let r = cairn(&["-c", "SELECT * FROM no_such_table"], "")?;
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.starts_with("Error: "), "{}", r.stderr);
    let r = cairn(&[], "SELECT * FROM no_such_table;\n.mode\n")?;
    assert_eq!(r.code, Some(1));
    assert!(r.stdout.contains("current output mode"), "{}", r.stdout);
    Ok(())
}

#[test]
fn read_of_missing_file_fails() -> TestResult {
    let r = cairn(&["-c", ".read /nonexistent/script.sql"], "")?;
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("cannot read"), "{}", r.stderr);
    Ok(())
}

// --- SQL through the engine -----------------------------------------------

const SETUP: &str = "CREATE TABLE t(a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, NULL);";

#[test]
fn csv_mode_with_and_without_headers() -> TestResult {
    let r = cairn(
        &[
            "-c",
            SETUP,
            "-c",
            ".mode csv",
            "-c",
            "SELECT a, b FROM t ORDER BY a",
            "-c",
            ".headers off",
            "-c",
            "SELECT a FROM t ORDER BY a",
        ],
        "",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "a,b\n1,x\n2,\n1\n2\n");
    Ok(())
}

#[test]
fn json_mode() -> TestResult {
    let r = cairn(
        &[
            "-c",
            SETUP,
            "-c",
            ".mode json",
            "-c",
            "SELECT a, b FROM t ORDER BY a",
        ],
        "",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "[{\"a\":1,\"b\":\"x\"},\n{\"a\":2,\"b\":null}]\n");
    Ok(())
}

#[test]
fn line_mode() -> TestResult {
    let r = cairn(
        &[
            "-c",
            SETUP,
            "-c",
            ".mode line",
            "-c",
            ".nullvalue NULL",
            "-c",
            "SELECT a, b AS bee FROM t ORDER BY a",
        ],
        "",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "  a = 1\nbee = x\n\n  a = 2\nbee = NULL\n");
    Ok(())
}

#[test]
fn table_mode_is_the_default() -> TestResult {
    let r = cairn(&["-c", SETUP, "-c", "SELECT a, b FROM t ORDER BY a"], "")?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains('│'), "{}", r.stdout);
    // NULL is an empty cell by default (as in sqlite3 and psql).
    assert!(!r.stdout.contains("NULL"), "{}", r.stdout);
    // DDL and DML print nothing.
    let r = cairn(&["-c", SETUP], "")?;
    assert_eq!(r.stdout, "");
    Ok(())
}

#[test]
fn stdin_script_with_multi_line_statements() -> TestResult {
    let script = "CREATE TABLE t(\n  a INTEGER\n);\nINSERT INTO t\nVALUES (1), (2);\n.mode csv\n.headers off\nSELECT sum(a)\nFROM t;\nSELECT nope FROM t;\nSELECT count(*) FROM t\n";
    let r = cairn(&[], script)?;
    assert_eq!(r.code, Some(1), "the bad SELECT fails");
    assert_eq!(r.stdout, "3\n2\n");
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    Ok(())
}

#[test]
fn semicolons_inside_strings() -> TestResult {
    let r = cairn(
        &["-c", ".mode csv", "-c", "SELECT 'a;b' AS s; SELECT 2 AS n"],
        "",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "s\na;b\nn\n2\n");
    Ok(())
}

#[test]
fn tables_and_schema() -> TestResult {
    let r = cairn(
        &[
            "-c",
            "CREATE TABLE b_t(x INTEGER); CREATE TABLE a_t(y TEXT);",
            "-c",
            ".tables",
            "-c",
            ".schema a_t",
        ],
        "",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let mut lines = r.stdout.lines();
    assert_eq!(lines.next(), Some("a_t"));
    assert_eq!(lines.next(), Some("b_t"));
    let schema = lines.collect::<Vec<_>>().join("\n");
    assert!(schema.contains("CREATE TABLE"), "{schema}");
    assert!(schema.contains("a_t"), "{schema}");
    assert!(schema.trim_end().ends_with(';'), "{schema}");
    Ok(())
}

#[test]
fn timer_prints_run_time() -> TestResult {
    let r = cairn(&["-c", ".timer on", "-c", "SELECT 1"], "")?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("Run Time: "), "{}", r.stdout);
    Ok(())
}

#[test]
fn read_runs_a_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("setup.sql");
    std::fs::write(
        &script,
        format!("{SETUP}\n.mode csv\nSELECT count(*) AS n FROM t;\n"),
    )?;
    let r = cairn(&["-c", &format!(".read '{}'", script.display())], "")?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "n\n2\n");
    Ok(())
}

#[test]
fn import_csv_creates_a_typed_table() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("people.csv");
    std::fs::write(
        &file,
        "id,name,score\n1,ada,1.5\n2,\"grace, h\",\n3,linus,7\n",
    )?;
    let r = cairn(
        &[
            "-c",
            &format!(".import '{}' people", file.display()),
            "-c",
            ".mode csv",
            "-c",
            "SELECT id, name, score, typeof(id), typeof(score) FROM people ORDER BY id",
        ],
        "",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "imported 3 rows\nid,name,score,typeof(id),typeof(score)\n\
         1,ada,1.5,integer,real\n2,\"grace, h\",,integer,null\n3,linus,7.0,integer,real\n"
    );
    Ok(())
}

#[test]
fn import_json_lines_into_existing_table() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("rows.jsonl");
    std::fs::write(&file, "{\"b\": \"x\", \"a\": 10}\n{\"a\": 20}\n")?;
    let r = cairn(
        &[
            "-c",
            "CREATE TABLE t(a INTEGER, b TEXT)",
            "-c",
            &format!(".import '{}' t", file.display()),
            "-c",
            ".mode csv",
            "-c",
            "SELECT a, b FROM t ORDER BY a",
        ],
        "",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "imported 2 rows\na,b\n10,x\n20,\n");
    Ok(())
}

#[test]
fn failed_import_reports_an_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("bad.csv");
    std::fs::write(&file, "a,b\n1,2,3\n")?;
    let r = cairn(
        &[
            "-c",
            &format!(".import '{}' t", file.display()),
            "-c",
            ".tables",
        ],
        "",
    )?;
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.starts_with("Error: "), "{}", r.stderr);
    assert_eq!(r.stdout, "", "no table is left behind");
    Ok(())
}

// --- database directories --------------------------------------------------

#[test]
fn file_database_persists_and_checks() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("db");
    let db = db.to_str().ok_or("path")?;
    let r = cairn(
        &[
            db,
            "-c",
            "CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1), (2)",
        ],
        "",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let r = cairn(&[db, "-c", ".mode csv", "-c", "SELECT sum(a) FROM t"], "")?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains('3'), "{}", r.stdout);
    let r = cairn(&["check", db], "")?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "ok");
    // Damage a segment file (closing the shell checkpointed the log into
    // segments): check fails and names the file.
    let segments = std::path::Path::new(db).join("segments");
    let seg = std::fs::read_dir(&segments)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.extension().is_some_and(|x| x == "seg") && !p.to_string_lossy().contains("catalog")
        })
        .ok_or("a table segment file")?;
    let name = seg
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("name")?
        .to_string();
    let mut bytes = std::fs::read(&seg)?;
    let at = bytes.len() - 20;
    bytes[at] ^= 0x10;
    std::fs::write(&seg, bytes)?;
    let r = cairn(&["check", db], "")?;
    assert_eq!(r.code, Some(1), "{}", r.stdout);
    assert!(r.stderr.contains(&name), "{}", r.stderr);
    let r = cairn(&["check", dir.path().to_str().ok_or("path")?], "")?;
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("not a Cairn database"), "{}", r.stderr);
    Ok(())
}

#[test]
fn root_prove_and_verify_without_sql() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("db");
    let db = db.to_str().ok_or("path")?;
    let r = cairn(
        &[
            db,
            "-c",
            "CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT); \
             INSERT INTO docs VALUES (1, 'one'), (2, 'two'); \
             UPDATE docs SET body = 'uno' WHERE id = 1",
        ],
        "",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let r = cairn(&["root", db], "")?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let root = r.stdout.trim().to_string();
    assert_eq!(root.len(), 64, "{root}");
    let head_json = cairn(&["root", db, "--json"], "")?.stdout;
    let head_path = dir.path().join("head.json");
    std::fs::write(&head_path, &head_json)?;
    let head_path = head_path.to_str().ok_or("path")?;

    // Present row: verifies and names the row.
    let proof = cairn(&["prove", db, "docs", "1"], "")?;
    assert_eq!(proof.code, Some(0), "{}", proof.stderr);
    let r = cairn(&["verify", "--root", &root, "-"], &proof.stdout)?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stdout.contains("version 2") && r.stdout.contains("uno"),
        "{}",
        r.stdout
    );
    // Absent row.
    let absent = cairn(&["prove", db, "docs", "3"], "")?;
    let r = cairn(&["verify", "--root", &root, "-"], &absent.stdout)?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("no row"), "{}", r.stdout);
    // Tampered proof: the row text changed.
    let tampered = proof.stdout.replace("756e6f", "756e70");
    assert_ne!(tampered, proof.stdout);
    let r = cairn(&["verify", "--root", &root, "-"], &tampered)?;
    assert_eq!(r.code, Some(1), "{}", r.stdout);
    assert!(r.stderr.starts_with("invalid:"), "{}", r.stderr);
    // Another root: rejected.
    let other = "00".repeat(32);
    let r = cairn(&["verify", "--root", &other, "-"], &proof.stdout)?;
    assert_eq!(r.code, Some(1));

    // A later version, proven to extend the trusted head.
    let r = cairn(&[db, "-c", "INSERT INTO docs VALUES (3, 'three')"], "")?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let new_head: serde_json::Value =
        serde_json::from_str(&cairn(&["root", db, "--json"], "")?.stdout)?;
    let old_head: serde_json::Value = serde_json::from_str(&head_json)?;
    let (old_v, new_v) = (
        old_head["version"].to_string(),
        new_head["version"].to_string(),
    );
    let hist = cairn(&["prove", db, "--history", &old_v, &new_v], "")?;
    assert_eq!(hist.code, Some(0), "{}", hist.stderr);
    let r = cairn(&["verify", "--head", head_path, "-"], &hist.stdout)?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let accepted: serde_json::Value = serde_json::from_str(&r.stdout)?;
    assert_eq!(accepted, new_head);
    // Bad usage exits 2.
    assert_eq!(
        cairn(&["verify", "--root", "xyz", "-"], "{}")?.code,
        Some(2)
    );
    assert_eq!(cairn(&["prove", db], "")?.code, Some(2));
    Ok(())
}
