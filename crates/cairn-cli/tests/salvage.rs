//! `cairn salvage PATH`: a database whose log is damaged refuses to open,
//! naming the damage and the salvage command; salvage keeps the commits
//! before the damage, and afterwards the database opens normally.

use std::path::Path;
use std::process::Command;

fn cairn(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .output()
        .expect("run cairn");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Flips one bit `from_end` bytes before the end of the only WAL file.
fn damage_wal(dir: &Path, from_end: usize) {
    let wal_dir = dir.join("wal");
    let mut files: Vec<_> = std::fs::read_dir(&wal_dir)
        .expect("wal dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    files.sort();
    let file = files.last().expect("a WAL file");
    let mut bytes = std::fs::read(file).expect("read wal");
    let at = bytes.len() - from_end;
    bytes[at] ^= 0x10;
    std::fs::write(file, bytes).expect("write wal");
}

#[test]
fn salvage_keeps_the_commits_before_the_damage() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db");
    let d = dir.to_str().expect("utf-8 path");
    // Commits left in the log, as after a crash (a clean close would
    // checkpoint them into segment files).
    {
        let options = cairn::OpenOptions {
            checkpoint_on_close: false,
            ..cairn::OpenOptions::default()
        };
        let db = cairn::Database::open_with(&dir, options).expect("open");
        for sql in [
            "CREATE TABLE t(x INT)",
            "INSERT INTO t VALUES (1)",
            "INSERT INTO t VALUES (2)",
            "INSERT INTO t VALUES (3)",
        ] {
            db.execute(sql, &[]).expect("write");
        }
    }
    // Inside the last commit's batch.
    damage_wal(&dir, 60);
    let (code, _, err) = cairn(&[d, "-c", "SELECT count(*) FROM t"]);
    assert_eq!(code, 1);
    assert!(err.contains("corrupt database file"), "{err}");
    assert!(err.contains(&format!("cairn salvage {d}")), "{err}");

    let (code, out, err) = cairn(&["salvage", d]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("dropped everything after the damage"), "{out}");
    assert!(out.contains("integrity check: ok"), "{out}");

    let (code, out, err) = cairn(&["-list", d, "-c", "SELECT count(*) FROM t"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().last(), Some("2"), "{out}");
}

#[test]
fn salvage_of_a_healthy_database_drops_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db");
    let d = dir.to_str().expect("utf-8 path");
    let (code, _, err) = cairn(&[
        d,
        "-c",
        "CREATE TABLE t(x INT)",
        "-c",
        "INSERT INTO t VALUES (1)",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = cairn(&["salvage", d]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing was dropped"), "{out}");
    let (code, _, err) = cairn(&["salvage", tmp.path().join("nope").to_str().expect("path")]);
    assert_eq!(code, 1);
    assert!(err.contains("not a Cairn database"), "{err}");
    let (code, _, _) = cairn(&["salvage"]);
    assert_eq!(code, 2);
}
