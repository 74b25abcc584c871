//! A second process can read (issue #13, "Files and processes").
//!
//! - While this process has a database open for writing — transfers
//!   between accounts committing all the time, and checkpoints replacing
//!   the files under the reader — a child process (this test binary,
//!   re-invoked on `read_only_child`) opens it read-only again and again.
//!   Each open must see a consistent snapshot (the bank total conserved,
//!   every account there, the vector index answering without a rebuild),
//!   and its writes must fail with `ErrorKind::Unsupported`.
//! - A child that opens the database for writing while this process holds
//!   it waits (`OpenOptions::busy_timeout`) and gets it once this process
//!   closes; with a zero timeout it fails at once with `Locked`.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cairn::{params, Database, ErrorKind, OpenOptions};

/// Set in the child's environment: the database directory.
const CHILD_ENV: &str = "CAIRN_READ_ONLY_CHILD";
/// Set in the child's environment: what it does (`read`, `write-wait`,
/// `write-now`).
const CHILD_MODE_ENV: &str = "CAIRN_READ_ONLY_MODE";
/// The test the child runs.
const CHILD_TEST: &str = "read_only_child";

const ACCOUNTS: i64 = 10;
const START_BALANCE: i64 = 1000;
const TOTAL: i64 = ACCOUNTS * START_BALANCE;
/// Read-only opens the reading child makes.
const READS: usize = 100;

fn vector(i: i64) -> Vec<f32> {
    (0..4).map(|d| ((i * 7 + d * 3) % 11) as f32).collect()
}

/// Runs this test binary as a child on `CHILD_TEST`.
fn child(dir: &Path, mode: &str) -> std::process::Child {
    let exe = std::env::current_exe().expect("current_exe");
    Command::new(exe)
        .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, dir)
        .env(CHILD_MODE_ENV, mode)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child")
}

/// The child's stdout lines from `tag` on (libtest may print its own
/// "test … " before the first one), after checking it succeeded.
fn lines(out: &Output, tag: &str) -> Vec<String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| l.find(tag).map(|at| l[at..].to_string()))
        .collect()
}

/// The child: does what `CHILD_MODE_ENV` says on the database in
/// `CHILD_ENV`, printing one tagged line per step; returns at once when
/// run as an ordinary test.
#[test]
fn read_only_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let dir = Path::new(&dir);
    match std::env::var(CHILD_MODE_ENV).as_deref() {
        Ok("read") => child_reads(dir),
        Ok("write-wait") => {
            let t = Instant::now();
            let db = Database::open_with(
                dir,
                OpenOptions {
                    busy_timeout: Duration::from_secs(60),
                    ..OpenOptions::default()
                },
            )
            .expect("open for writing after waiting");
            println!("OPENED {}", t.elapsed().as_millis());
            db.execute("INSERT INTO accounts VALUES (100, 0)", params![])
                .expect("write");
            db.close().expect("close");
        }
        Ok("write-now") => {
            let t = Instant::now();
            let err = Database::open_with(
                dir,
                OpenOptions {
                    busy_timeout: Duration::ZERO,
                    ..OpenOptions::default()
                },
            )
            .err()
            .expect("the lock is held");
            assert_eq!(err.kind(), ErrorKind::Locked, "{err}");
            println!("LOCKED {}", t.elapsed().as_millis());
        }
        other => panic!("unknown child mode {other:?}"),
    }
}

fn child_reads(dir: &Path) {
    let mut versions = Vec::new();
    for i in 0..READS {
        let db = Database::open_read_only(dir).expect("read-only open");
        assert!(db.is_read_only());
        let rec = db.recovery().expect("on disk");
        assert_eq!(rec.vector_indexes_rebuilt, 0, "{rec:?}");
        let (n, total): (i64, i64) = db
            .query_row(
                "SELECT count(*), sum(balance) FROM accounts",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("sum");
        assert_eq!((n, total), (ACCOUNTS, TOTAL), "open {i}: not one snapshot");
        let near: i64 = db
            .query_row(
                "SELECT id FROM docs ORDER BY e <-> $1 LIMIT 1",
                params![vector(3)],
                |r| r.get(0),
            )
            .expect("knn");
        assert_eq!(near, 3);
        let ok: String = db
            .query_row("PRAGMA integrity_check", params![], |r| r.get(0))
            .expect("integrity_check");
        // The writer may have checkpointed since this open: the check
        // reads the files as they are now, which must still be sound.
        assert_eq!(ok, "ok", "open {i}");
        for write in [
            "INSERT INTO accounts VALUES (99, 1)",
            "UPDATE accounts SET balance = 0",
            "CREATE TABLE t (a INTEGER)",
            "CHECKPOINT",
        ] {
            let err = db.execute_batch(write).expect_err("a write");
            assert_eq!(err.kind(), ErrorKind::Unsupported, "{write}: {err}");
            assert!(err.to_string().contains("read-only"), "{err}");
        }
        versions.push(db.head().version);
        println!("READ {i} version {}", db.head().version);
    }
    assert!(
        versions.windows(2).all(|w| w[0] <= w[1]),
        "a later open saw an older version: {versions:?}"
    );
}

/// Creates the accounts and the indexed vectors.
fn setup(db: &Database) {
    db.execute_batch(
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL); \
         CREATE TABLE docs (id INTEGER PRIMARY KEY, e VECTOR(4))",
    )
    .expect("create");
    for i in 0..ACCOUNTS {
        db.execute(
            "INSERT INTO accounts VALUES ($1, $2)",
            params![i, START_BALANCE],
        )
        .expect("account");
    }
    for i in 0..11 {
        db.execute("INSERT INTO docs VALUES ($1, $2)", params![i, vector(i)])
            .expect("doc");
    }
    db.execute_batch("CREATE INDEX docs_e ON docs USING hnsw (e)")
        .expect("index");
}

#[test]
fn a_second_process_reads_while_the_first_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let db = Database::open(&path).expect("open");
    setup(&db);
    let stop = AtomicBool::new(false);
    let transfers = AtomicUsize::new(0);
    let out = std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0i64;
            while !stop.load(Ordering::Acquire) {
                let (from, to) = (i % ACCOUNTS, (i * 3 + 1) % ACCOUNTS);
                db.execute_batch(&format!(
                    "BEGIN; UPDATE accounts SET balance = balance - 7 WHERE id = {from}; \
                     UPDATE accounts SET balance = balance + 7 WHERE id = {to}; COMMIT"
                ))
                .expect("transfer");
                i += 1;
                transfers.fetch_add(1, Ordering::Release);
                if i % 5 == 0 {
                    // Replaces the segment files and deletes the WAL a
                    // reader may be reading.
                    db.checkpoint().expect("checkpoint");
                }
            }
        });
        let out = child(&path, "read").wait_with_output().expect("child");
        stop.store(true, Ordering::Release);
        out
    });
    assert_eq!(lines(&out, "READ ").len(), READS);
    assert!(transfers.load(Ordering::Acquire) > 0);
    // The writer is unaffected by its readers.
    let total: i64 = db
        .query_row("SELECT sum(balance) FROM accounts", params![], |r| r.get(0))
        .expect("sum");
    assert_eq!(total, TOTAL);
}

#[test]
fn a_writer_waits_for_the_lock_instead_of_failing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let db = Database::open(&path).expect("open");
    setup(&db);
    // With no busy timeout, a second writer fails at once.
    let out = child(&path, "write-now").wait_with_output().expect("child");
    assert_eq!(lines(&out, "LOCKED ").len(), 1);
    // With one, it waits until this process closes.
    let mut waiting = child(&path, "write-wait");
    let held = Duration::from_millis(700);
    std::thread::sleep(held);
    assert!(
        waiting.try_wait().expect("try_wait").is_none(),
        "the second writer did not wait for the lock"
    );
    db.close().expect("close");
    let out = waiting.wait_with_output().expect("child");
    let opened = lines(&out, "OPENED ");
    assert_eq!(opened.len(), 1, "{opened:?}");
    let db = Database::open(&path).expect("reopen");
    let n: i64 = db
        .query_row("SELECT count(*) FROM accounts", params![], |r| r.get(0))
        .expect("count");
    assert_eq!(n, ACCOUNTS + 1, "the waiting writer's insert is there");
}

#[test]
fn read_only_needs_an_existing_database_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let err = Database::open_read_only(&path)
        .err()
        .expect("no database there");
    assert_eq!(err.kind(), ErrorKind::NoSuchObject, "{err}");
    assert!(!path.exists(), "a read-only open created the directory");
    {
        let db = Database::open(&path).expect("create");
        setup(&db);
        db.execute("INSERT INTO accounts VALUES (50, 5)", params![])
            .expect("insert");
        // Crash-like: no close, so the log is what a reader must replay.
        std::mem::forget(db);
    }
    let listing = |p: &Path| -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = walk(p);
        v.sort();
        v
    };
    let before = listing(&path);
    let db = Database::open_read_only(&path).expect("read-only open");
    let n: i64 = db
        .query_row("SELECT count(*) FROM accounts", params![], |r| r.get(0))
        .expect("count");
    assert_eq!(n, ACCOUNTS + 1);
    drop(db);
    assert_eq!(listing(&path), before, "a read-only open changed the files");
}

/// Every file under `p` with its length.
fn walk(p: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).expect("read_dir") {
        let e = e.expect("entry");
        let meta = e.metadata().expect("metadata");
        if meta.is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push((e.path().display().to_string(), meta.len()));
        }
    }
    out
}
