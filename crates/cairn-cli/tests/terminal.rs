//! The shell at a terminal (a pseudo-terminal through util-linux
//! `script`): Ctrl-C, the banner, the prompt, history and tab completion.
//! And Ctrl-C (SIGINT) in script mode, without a terminal.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{fill_sql, Captured, Pty, TestResult, ENDLESS};

#[test]
fn ctrl_c_cancels_the_running_statement_and_the_prompt_returns() -> TestResult {
    let home = tempfile::tempdir()?;
    let mut sh = Pty::spawn(&[], home.path())?;
    sh.line_after("cairn> ", &fill_sql(2000))?;
    sh.line_after("cairn> ", ENDLESS)?;
    // Give the statement time to start, then press Ctrl-C.
    std::thread::sleep(Duration::from_millis(500));
    sh.send("\u{3}")?;
    sh.expect("Error: interrupted")?;
    sh.line_after("cairn> ", "SELECT 6 * 7 AS answer;")?;
    sh.expect("42")?;
    // History holds every statement as soon as it ran, while the shell
    // still runs.
    let history = std::fs::read_to_string(home.path().join(".cairn_history"))?;
    assert!(history.contains("SELECT 6 * 7 AS answer;"), "{history}");
    assert!(history.contains(ENDLESS), "{history}");
    // At the idle prompt Ctrl-C clears the line and does not exit.
    sh.expect("cairn> ")?;
    sh.send("SELECT 'dropped'")?;
    sh.send("\u{3}")?;
    sh.line_after("cairn> ", "SELECT 'kept' AS k;")?;
    sh.expect("kept")?;
    sh.line_after("cairn> ", ".quit")?;
    let screen = sh.screen();
    assert_eq!(sh.wait()?, Some(0), "{screen}");
    assert!(!screen.contains("│ dropped"), "{screen}");
    Ok(())
}

#[test]
fn ctrl_c_in_a_script_stops_the_statement_and_the_next_one_runs() -> TestResult {
    let mut child = Command::new(common::bin())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("stdin")?;
    let stdout = Captured::follow(child.stdout.take().ok_or("stdout")?);
    let stderr = Captured::follow(child.stderr.take().ok_or("stderr")?);
    writeln!(
        stdin,
        ".mode csv\n{}\nSELECT 'started' AS s;\n{ENDLESS}",
        fill_sql(2000)
    )?;
    stdin.flush()?;
    stdout.wait_for("started", 0, common::WAIT)?;
    // SIGINT until the statement reports it (one sent before the statement
    // starts is forgotten by design, so repeat a few times).
    let deadline = Instant::now() + common::WAIT;
    while !stderr.text().contains("interrupted") {
        assert!(Instant::now() < deadline, "no interrupt: {}", stderr.text());
        std::thread::sleep(Duration::from_millis(300));
        let killed = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()?;
        assert!(killed.success());
        std::thread::sleep(Duration::from_millis(700));
    }
    writeln!(stdin, "SELECT 'after' AS s;")?;
    drop(stdin);
    let status = child.wait()?;
    stdout.wait_for("after", 0, common::WAIT)?;
    assert_eq!(status.code(), Some(1), "one statement failed");
    assert_eq!(
        stderr.text().trim(),
        "Error: near line 4: interrupted",
        "the error names the line"
    );
    Ok(())
}

#[test]
fn banner_says_what_is_open_and_prompt_shows_a_transaction() -> TestResult {
    let home = tempfile::tempdir()?;
    let mut sh = Pty::spawn(&[], home.path())?;
    sh.expect("in-memory database")?;
    sh.line_after("cairn> ", "CREATE TABLE t (x INTEGER);")?;
    sh.line_after("cairn> ", "BEGIN;")?;
    sh.line_after("cairn*> ", "INSERT INTO t VALUES (1);")?;
    sh.expect("INSERT 1")?;
    sh.line_after("cairn*> ", "COMMIT;")?;
    sh.line_after("cairn> ", ".quit")?;
    assert_eq!(sh.wait()?, Some(0));

    let db = home.path().join("db");
    let db_arg = db.to_str().ok_or("path")?;
    let mut sh = Pty::spawn(&[db_arg], home.path())?;
    sh.expect(&format!("new database {db_arg}"))?;
    sh.line_after("cairn> ", ".quit")?;
    assert_eq!(sh.wait()?, Some(0));
    let mut sh = Pty::spawn(&[db_arg], home.path())?;
    sh.expect(&format!("database {db_arg}"))?;
    sh.line_after("cairn> ", ".quit")?;
    let screen = sh.screen();
    assert_eq!(sh.wait()?, Some(0));
    assert!(!screen.contains("new database"), "{screen}");
    Ok(())
}

#[test]
fn tab_completes_tables_and_columns() -> TestResult {
    let home = tempfile::tempdir()?;
    let mut sh = Pty::spawn(&[], home.path())?;
    sh.line_after("cairn> ", "CREATE TABLE measurements (reading REAL);")?;
    sh.line_after("cairn> ", "INSERT INTO measurements VALUES (2.5);")?;
    sh.expect("cairn> ")?;
    sh.send("SELECT readi\t FROM measu\t;\n")?;
    sh.expect("2.5")?;
    sh.line_after("cairn> ", ".quit")?;
    assert_eq!(sh.wait()?, Some(0));
    Ok(())
}

#[test]
fn wide_cells_are_cut_to_the_terminal() -> TestResult {
    let home = tempfile::tempdir()?;
    let mut sh = Pty::spawn(&[], home.path())?;
    sh.line_after("cairn> ", "SELECT repeat('x', 500) AS wide, 'end' AS e;")?;
    sh.expect("end │")?;
    sh.line_after("cairn> ", ".quit")?;
    let screen = sh.screen();
    assert_eq!(sh.wait()?, Some(0));
    // `script`'s terminal reports no size; rustyline then assumes 80.
    let row = screen.lines().find(|l| l.contains("xxx")).ok_or("no row")?;
    assert!(row.chars().count() <= 80, "{row}");
    assert!(row.contains("x… ┆ end │"), "{row}");
    Ok(())
}
