//! Command-line arguments: no database is created by mistake (`cairn
//! help`, `cairn chek db`, a plain file, a directory of other files),
//! `--help` lists the subcommands and flags, and sqlite3's one-dash flags
//! work (`-csv`, `-json`, `-header`, `-bail`, `-cmd`).

mod common;

use common::{cairn, cairn_in, TestResult};

#[test]
fn words_that_look_like_commands_create_no_database() -> TestResult {
    let dir = tempfile::tempdir()?;
    for args in [&["help"][..], &["chek", "db"], &["chek"], &["verfy"]] {
        let r = cairn_in(args, "", Some(dir.path()))?;
        assert_ne!(r.code, Some(0), "{args:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("cairn --help"), "{args:?}: {}", r.stderr);
        assert_eq!(r.stdout, "");
    }
    let r = cairn_in(&["chek", "db"], "", Some(dir.path()))?;
    assert!(r.stderr.contains("did you mean 'check'"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_dir(dir.path())?.count(),
        0,
        "nothing was created"
    );
    // `./help` is how to ask for a database with such a name.
    let r = cairn_in(&["./help", "-c", "SELECT 1"], "", Some(dir.path()))?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(dir.path().join("help/MANIFEST").exists());
    Ok(())
}

#[test]
fn files_and_foreign_directories_are_not_databases() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "hello")?;
    let r = cairn(&[file.to_str().ok_or("path")?, "-c", "SELECT 1"], "")?;
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("is a file"), "{}", r.stderr);

    let project = dir.path().join("project");
    std::fs::create_dir(&project)?;
    std::fs::write(project.join("Cargo.toml"), "[package]")?;
    let r = cairn(&[project.to_str().ok_or("path")?, "-c", "SELECT 1"], "")?;
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("no MANIFEST"), "{}", r.stderr);
    assert!(!project.join("MANIFEST").exists(), "no database was made");

    // An empty directory becomes a database.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty)?;
    let r = cairn(&[empty.to_str().ok_or("path")?, "-c", "SELECT 1"], "")?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(empty.join("MANIFEST").exists());
    Ok(())
}

#[test]
fn help_lists_subcommands_and_flags() -> TestResult {
    let r = cairn(&["--help"], "")?;
    assert_eq!(r.code, Some(0));
    for word in [
        "check",
        "root",
        "prove",
        "verify",
        "--csv",
        "--json",
        "--header",
        "--bail",
        "--cmd",
        "--nullvalue",
        "-c",
    ] {
        assert!(r.stdout.contains(word), "{word}: {}", r.stdout);
    }
    Ok(())
}

#[test]
fn readonly_reads_while_another_process_writes() -> TestResult {
    let r = cairn(&["-readonly", ":memory:"], "")?;
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("--readonly"), "{}", r.stderr);
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("db");
    let d = db.to_str().ok_or("path")?;
    let r = cairn(&["-readonly", d], "")?;
    assert_eq!(r.code, Some(1), "a new database cannot be opened read-only");
    let r = cairn(
        &[
            d,
            "-c",
            "CREATE TABLE t(x INT)",
            "-c",
            "INSERT INTO t VALUES (1)",
        ],
        "",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // A writer keeps the database open (it holds the lock) while a
    // read-only shell reads it; the reader's write is refused.
    let mut writer = std::process::Command::new(common::bin())
        .arg(d)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    let r = cairn(
        &[
            "-readonly",
            "-list",
            d,
            "-c",
            "SELECT count(*) FROM t",
            "-c",
            "INSERT INTO t VALUES (2)",
        ],
        "",
    )?;
    // `cairn check` and `cairn root` work beside the writer too.
    let checked = cairn(&["check", d], "")?;
    let root = cairn(&["root", d], "")?;
    drop(writer.stdin.take());
    writer.wait()?;
    assert_eq!(checked.code, Some(0), "{}", checked.stderr);
    assert_eq!(checked.stdout.trim(), "ok");
    assert_eq!(root.code, Some(0), "{}", root.stderr);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert_eq!(r.stdout.lines().last(), Some("1"), "{}", r.stdout);
    assert!(r.stderr.contains("read-only"), "{}", r.stderr);
    Ok(())
}

#[test]
fn sqlite3_style_flags() -> TestResult {
    let setup = "CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, NULL);";
    let r = cairn(
        &["-csv", "-noheader", "-cmd", setup],
        "SELECT a, b FROM t ORDER BY a;",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "1,x\n2,\n");
    let r = cairn(&["-json", "-cmd", setup], "SELECT a, b FROM t ORDER BY a;")?;
    assert_eq!(r.stdout, "[{\"a\":1,\"b\":\"x\"},\n{\"a\":2,\"b\":null}]\n");
    let r = cairn(
        &["-list", "-header", "-nullvalue", "-", "-cmd", setup],
        "SELECT a, b FROM t ORDER BY a;",
    )?;
    assert_eq!(r.stdout, "a|b\n1|x\n2|-\n");
    // -bail: the first error ends the script, with exit status 1.
    let r = cairn(
        &["-bail", "-csv"],
        "SELECT 1 AS one;\nSELECT nope;\nSELECT 2 AS two;\n",
    )?;
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stdout, "one\n1\n");
    // Without it the script goes on.
    let r = cairn(
        &["-csv"],
        "SELECT 1 AS one;\nSELECT nope;\nSELECT 2 AS two;\n",
    )?;
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stdout, "one\n1\ntwo\n2\n");
    Ok(())
}
