//! sqlite3 habits: rows changed after DML, `.indexes`, `.output`/`.once`,
//! `.nullvalue`, `.width`, the list/tabs/markdown/box modes, `.headers`,
//! `.bail`, and script errors that name the file and line.

mod common;

use common::{cairn, TestResult};

const SETUP: &str = "CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, NULL);";

#[test]
fn changes_are_printed_after_dml() -> TestResult {
    // Off by default outside a terminal (tests/terminal.rs shows it on).
    let r = cairn(&["-c", SETUP], "")?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "");
    let r = cairn(
        &["-cmd", ".changes on", "-cmd", SETUP],
        "UPDATE t SET a = a + 10;\nDELETE FROM t WHERE a > 11;\nCREATE TABLE u (x INTEGER);\n",
    )?;
    assert_eq!(r.stdout, "INSERT 2\nUPDATE 2\nDELETE 1\n");
    Ok(())
}

#[test]
fn indexes_are_listed() -> TestResult {
    let r = cairn(
        &[
            "-c",
            "CREATE TABLE a (x INTEGER, e VECTOR(2)); CREATE TABLE b (y TEXT); \
             CREATE INDEX a_x ON a (x); CREATE UNIQUE INDEX b_y ON b (y); \
             CREATE INDEX a_e ON a USING hnsw (e);",
            "-c",
            ".indexes",
            "-c",
            ".indexes b",
        ],
        "",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "a_x\na_e\nb_y\nb_y\n");
    let r = cairn(&["-c", ".indexes nope"], "")?;
    assert_eq!(r.code, Some(1));
    Ok(())
}

#[test]
fn output_and_once_send_results_to_a_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let all = dir.path().join("all.txt");
    let once = dir.path().join("once.txt");
    let script = format!(
        "{SETUP}\n.mode csv\n.output '{}'\nSELECT a FROM t ORDER BY a;\nSELECT 'more' AS m;\n\
         .output\nSELECT 'screen' AS s;\n.once '{}'\nSELECT b FROM t ORDER BY a;\nSELECT 'back' AS s;\n",
        all.display(),
        once.display()
    );
    let r = cairn(&[], &script)?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "s\nscreen\ns\nback\n");
    assert_eq!(std::fs::read_to_string(&all)?, "a\n1\n2\nm\nmore\n");
    // A record of one empty field is `""` in CSV (a blank line is no record).
    assert_eq!(std::fs::read_to_string(&once)?, "b\nx\n\"\"\n");
    let r = cairn(&["-c", ".output /nonexistent/dir/file.txt"], "")?;
    assert_eq!(r.code, Some(1));
    Ok(())
}

#[test]
fn null_is_not_the_text_null() -> TestResult {
    let sql = "SELECT NULL AS n, 'NULL' AS t";
    let r = cairn(&["-c", sql], "")?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("│   ┆ NULL │"), "{}", r.stdout);
    let r = cairn(&["-c", ".nullvalue ∅", "-c", sql], "")?;
    assert!(r.stdout.contains("│ ∅ ┆ NULL │"), "{}", r.stdout);
    let r = cairn(
        &["-c", ".mode csv", "-c", ".nullvalue (null)", "-c", sql],
        "",
    )?;
    assert_eq!(r.stdout, "n,t\n(null),NULL\n");
    Ok(())
}

#[test]
fn modes_list_tabs_markdown_box() -> TestResult {
    let run = |mode: &str| {
        cairn(
            &[
                "-c",
                SETUP,
                "-c",
                &format!(".mode {mode}"),
                "-c",
                "SELECT a, b FROM t ORDER BY a",
            ],
            "",
        )
    };
    assert_eq!(run("list")?.stdout, "a|b\n1|x\n2|\n");
    assert_eq!(run("tabs")?.stdout, "a\tb\n1\tx\n2\t\n");
    assert_eq!(
        run("markdown")?.stdout,
        "| a | b |\n|---|---|\n| 1 | x |\n| 2 |   |\n"
    );
    assert_eq!(
        run("box")?.stdout,
        "┌───┬───┐\n│ a │ b │\n├───┼───┤\n│ 1 │ x │\n│ 2 │   │\n└───┴───┘\n"
    );
    let r = cairn(
        &[
            "-c",
            SETUP,
            "-c",
            ".headers off",
            "-c",
            ".separator ;",
            "-c",
            ".mode list",
            "-c",
            "SELECT a, b FROM t ORDER BY a",
        ],
        "",
    )?;
    assert_eq!(r.stdout, "1;x\n2;\n");
    let r = cairn(&["-c", ".headers off", "-c", "SELECT 1 AS a"], "")?;
    assert_eq!(r.stdout, "╭───╮\n│ 1 │\n╰───╯\n");
    Ok(())
}

#[test]
fn width_limits_columns() -> TestResult {
    let r = cairn(
        &[
            "-c",
            ".width 4 0",
            "-c",
            "SELECT 'abcdefgh' AS first, 'abcdefgh' AS second",
        ],
        "",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("│ abc… ┆ abcdefgh │"), "{}", r.stdout);
    Ok(())
}

#[test]
fn bail_stops_at_the_first_error() -> TestResult {
    let r = cairn(
        &[],
        ".bail on\n.mode csv\nSELECT 1 AS one;\nSELECT nope;\nSELECT 2 AS two;\n",
    )?;
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stdout, "one\n1\n");
    Ok(())
}

#[test]
fn script_errors_name_the_file_and_line() -> TestResult {
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("setup.sql");
    std::fs::write(
        &script,
        "CREATE TABLE t (a INTEGER);\n\n-- a comment\nINSERT INTO t\n  VALUES (1);\nSELECT *\n  FROM nowhere;\n",
    )?;
    let r = cairn(&["-c", &format!(".read '{}'", script.display())], "")?;
    assert_eq!(r.code, Some(1));
    assert_eq!(
        r.stderr.trim(),
        format!(
            "Error: near line 6 of {}: no such table: nowhere at line 7, column 8",
            script.display()
        )
    );
    // Standard input is counted the same way.
    let r = cairn(&[], "SELECT 1;\nSELECT 2; SELECT\n  nope;\n")?;
    assert_eq!(
        r.stderr.trim(),
        "Error: near line 2: no such column: nope at line 3, column 3"
    );
    // A bad dot command in a file names its line too.
    std::fs::write(&script, "SELECT 1;\n.mode html\n")?;
    let r = cairn(&["-c", &format!(".read '{}'", script.display())], "")?;
    assert!(
        r.stderr.starts_with(&format!(
            "Error: near line 2 of {}: unknown mode html",
            script.display()
        )),
        "{}",
        r.stderr
    );
    Ok(())
}
