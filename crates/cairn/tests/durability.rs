//! Durability at the API level: reopen keeps everything, the directory
//! lock, crash-point enumeration over every write and fsync the engine
//! issues (with unsynced writes reordered and torn), injected I/O faults,
//! and single-bit damage to every byte of every file.
//!
//! Crash and fault tests run on the simulated disk (`cairn::fs::SimFs`);
//! they are deterministic and print their seeds.

use std::sync::Arc;

use cairn::fs::{Fault, SimFs};
use cairn::{params, Database, ErrorKind, OpenOptions, Synchronous};

fn sim_options(fs: &SimFs) -> OpenOptions {
    OpenOptions {
        fs: Arc::new(fs.clone()),
        ..OpenOptions::default()
    }
}

fn open_sim(fs: &SimFs) -> cairn::Result<Database> {
    Database::open_with("/db", sim_options(fs))
}

/// Every row of the tables and views the tests create, as text, in a
/// stable order (a missing table reads as no rows).
fn dump(db: &Database) -> Vec<String> {
    let mut out = Vec::new();
    for t in ["accounts", "docs", "rich", "t"] {
        let Ok(rows) = db
            .query(&format!("SELECT * FROM {t} ORDER BY 1"), params![])
            .and_then(|r| r.fetch_all())
        else {
            continue;
        };
        for r in rows.iter() {
            out.push(format!("{t}: {:?}", r.values()));
        }
    }
    out
}

/// The workload for crash tests: each step is one acknowledged unit (a
/// DDL statement or a commit). Returns after the first failing step.
const STEPS: &[&str] = &[
    "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)",
    "CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT, e VECTOR(3))",
    "INSERT INTO accounts VALUES (1, 100), (2, 100), (3, 100)",
    "INSERT INTO docs VALUES (1, 'one', '[1,0,0]'), (2, 'two', '[0,1,0]')",
    "CREATE INDEX docs_e ON docs USING hnsw (e)",
    // A quantized index: its codes go to the log with the built graph and
    // to the checkpoint's G_SQ8 sections.
    "CREATE INDEX docs_e8 ON docs USING hnsw (e) WITH (quantization = 'sq8', rerank = 2)",
    // And RaBitQ: a G_RABITQ section.
    "CREATE INDEX docs_e1 ON docs USING hnsw (e) WITH (quantization = 'rabitq', bits = 3)",
    "BEGIN; UPDATE accounts SET balance = balance - 10 WHERE id = 1; UPDATE accounts SET balance = balance + 10 WHERE id = 2; COMMIT",
    "INSERT INTO docs VALUES (3, 'three', '[0,0,1]')",
    "UPDATE docs SET body = 'TWO', e = '[0,2,0]' WHERE id = 2",
    "CREATE INDEX accounts_balance ON accounts (balance)",
    "CHECKPOINT",
    "DELETE FROM docs WHERE id = 1",
    "BEGIN; UPDATE accounts SET balance = balance - 5 WHERE id = 3; UPDATE accounts SET balance = balance + 5 WHERE id = 1; COMMIT",
    "ALTER TABLE docs ADD COLUMN tag TEXT DEFAULT 'x'",
    "INSERT INTO docs (id, body, e, tag) VALUES (4, 'four', '[1,1,1]', 'y')",
    "CREATE VIEW rich AS SELECT id FROM accounts WHERE balance > 100",
    "DROP INDEX accounts_balance",
    "INSERT INTO accounts VALUES (4, 0)",
    "CHECKPOINT",
    "BEGIN; DELETE FROM accounts WHERE id = 4; INSERT INTO docs VALUES (5, 'five', '[2,2,2]', NULL); COMMIT",
    // A record spanning several sectors, so power cuts tear it.
    "INSERT INTO docs VALUES (6, hex(zeroblob(1500)), '[3,3,3]', 'big')",
    "UPDATE docs SET body = hex(zeroblob(1000)) || 'x' WHERE id = 6",
];

/// Runs the workload; returns how many steps were acknowledged.
fn run_steps(db: &Database) -> usize {
    for (i, sql) in STEPS.iter().enumerate() {
        if db.execute_batch(sql).is_err() {
            // A failed explicit transaction may be left open.
            let _ = db.execute_batch("ROLLBACK");
            return i;
        }
    }
    STEPS.len()
}

/// The state after the first `n` steps, computed in memory.
fn model(n: usize) -> Vec<String> {
    let db = Database::open_in_memory().expect("memory");
    for sql in &STEPS[..n] {
        db.execute_batch(sql).expect("model step");
    }
    dump(&db)
}

#[test]
fn reopen_keeps_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let before = {
        let db = Database::open(&path).expect("open");
        assert_eq!(run_steps(&db), STEPS.len());
        dump(&db)
    };
    assert_eq!(before, model(STEPS.len()));
    let db = Database::open(&path).expect("reopen");
    assert_eq!(dump(&db), before);
    let rec = db.recovery().expect("on disk");
    assert!(!rec.created);
    // The close checkpointed: the open loaded segment files and replayed
    // nothing.
    assert!(rec.checkpoint.is_some(), "{rec:?}");
    assert_eq!(rec.records, 0, "{rec:?}");
    // The vector index came back and answers.
    let id: i64 = db
        .query_row(
            "SELECT id FROM docs ORDER BY e <-> '[0,0,0.9]' LIMIT 1",
            params![],
            |r| r.get(0),
        )
        .expect("knn");
    assert_eq!(id, 3);
    let ok: String = db
        .query_row("PRAGMA integrity_check", params![], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(ok, "ok");
    // New commits go on after the replayed ones, and survive again.
    db.execute("INSERT INTO accounts VALUES (9, 9)", params![])
        .expect("insert");
    drop(db);
    let db = Database::open(&path).expect("reopen 2");
    let n: i64 = db
        .query_row("SELECT count(*) FROM accounts", params![], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 4);
}

#[test]
fn second_open_is_locked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let db = Database::open(&path).expect("open");
    // No busy timeout: the second open fails at once (with the default,
    // it waits five seconds first; tests/read_only.rs waits for a lock).
    let no_wait = OpenOptions {
        busy_timeout: std::time::Duration::ZERO,
        ..OpenOptions::default()
    };
    let err = Database::open_with(&path, no_wait)
        .err()
        .expect("second open must fail");
    assert_eq!(err.kind(), ErrorKind::Locked, "{err}");
    drop(db);
    Database::open(&path).expect("open after close");
}

#[test]
fn synchronous_pragma_and_option() {
    let fs = SimFs::new();
    let db = Database::open_with(
        "/db",
        OpenOptions {
            synchronous: Synchronous::Normal,
            ..sim_options(&fs)
        },
    )
    .expect("open");
    let mode: String = db
        .query_row("PRAGMA synchronous", params![], |r| r.get(0))
        .expect("pragma");
    assert_eq!(mode, "normal");
    db.execute_batch("PRAGMA synchronous = off").expect("set");
    let mode: String = db
        .query_row("PRAGMA synchronous", params![], |r| r.get(0))
        .expect("pragma");
    assert_eq!(mode, "off");
    let err = db
        .execute_batch("PRAGMA synchronous = sometimes")
        .expect_err("bad value");
    assert!(err.to_string().contains("off, normal or full"), "{err}");
    db.execute_batch("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1)")
        .expect("write");
    // Under `off`, a commit is written but not synced: a power cut may
    // lose it, `sync()` makes it durable.
    db.sync().expect("sync");
    let image = fs.crash_image(7);
    drop(db);
    let db = open_sim(&image).expect("reopen image");
    let n: i64 = db
        .query_row("SELECT count(*) FROM t", params![], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 1);
}

/// Crash after every mutating file operation the engine issues during the
/// workload; for each crash point, several power-cut images (unsynced
/// sectors kept or lost at random). Every image must open and hold exactly
/// the acknowledged steps, plus possibly the one in flight.
#[test]
fn crash_point_enumeration() {
    // Count the operations of a clean run.
    let clean = SimFs::new();
    let total_ops = {
        let db = open_sim(&clean).expect("open");
        assert_eq!(run_steps(&db), STEPS.len());
        clean.ops()
    };
    let models: Vec<Vec<String>> = (0..=STEPS.len()).map(model).collect();
    let seeds_per_point = 16u64;
    let mut images = 0;
    for point in 1..=total_ops {
        let fs = SimFs::new();
        fs.inject(point, Fault::Crash);
        let acked = match open_sim(&fs) {
            Ok(db) => run_steps(&db),
            Err(_) => 0,
        };
        for s in 0..seeds_per_point {
            let seed = point * 1000 + s;
            let image = fs.crash_image(seed);
            let db = match open_sim(&image) {
                Ok(db) => db,
                Err(e) => panic!("crash point {point} seed {seed}: open failed: {e}"),
            };
            let got = dump(&db);
            let ok = got == models[acked] || (acked < STEPS.len() && got == models[acked + 1]);
            assert!(
                ok,
                "crash point {point} seed {seed}: {acked} steps acknowledged, recovered state matches neither {acked} nor {} steps:\n{got:#?}",
                acked + 1
            );
            // The recovered database takes new commits.
            db.execute_batch("CREATE TABLE after_crash (a INTEGER)")
                .expect("write after recovery");
            images += 1;
        }
    }
    println!("crash points: {total_ops}, images checked: {images}");
    assert!(total_ops > 2 * STEPS.len() as u64);
}

fn count(db: &Database, sql: &str) -> i64 {
    db.query_row(sql, params![], |r| r.get(0)).expect("count")
}

/// One fault on the next mutating operation(s) during a commit: the
/// commit fails with an I/O error, is not visible, later commits work, and
/// after reopening exactly the acknowledged commits are there.
#[test]
fn io_faults_fail_the_commit_and_lose_nothing() {
    for (fault, at) in [
        (Fault::Eio, 1),        // the batch write
        (Fault::Eio, 2),        // the batch fsync
        (Fault::ShortWrite, 1), // half the batch reaches the file
        (Fault::Enospc, 1),     // the disk is full until space is freed
    ] {
        let fs = SimFs::new();
        let db = open_sim(&fs).expect("open");
        db.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            .expect("create");
        for i in 0..5 {
            db.execute("INSERT INTO t VALUES ($1, 'ok')", params![i])
                .expect("insert");
        }
        fs.inject(at, fault);
        let err = db
            .execute("INSERT INTO t VALUES (100, 'failed')", params![])
            .err()
            .unwrap_or_else(|| panic!("{fault:?} at op {at}: the commit must fail"));
        assert_eq!(err.kind(), ErrorKind::Io, "{fault:?}: {err}");
        assert_eq!(count(&db, "SELECT count(*) FROM t WHERE id = 100"), 0);
        if fault == Fault::Enospc {
            let again = db.execute("INSERT INTO t VALUES (101, 'failed')", params![]);
            assert!(again.is_err(), "the disk is still full");
            fs.clear_faults();
        }
        db.execute("INSERT INTO t VALUES (5, 'ok')", params![])
            .unwrap_or_else(|e| panic!("{fault:?}: commit after the fault: {e}"));
        // A row the failed commit would have written can be written again.
        db.execute("INSERT INTO t VALUES (100, 'retried')", params![])
            .expect("retry");
        assert_eq!(count(&db, "SELECT count(*) FROM t"), 7);
        drop(db);
        let db = open_sim(&fs).expect("reopen");
        assert_eq!(count(&db, "SELECT count(*) FROM t"), 7, "{fault:?}");
        assert_eq!(
            count(&db, "SELECT count(*) FROM t WHERE v = 'failed'"),
            0,
            "{fault:?}"
        );
        // And a power cut now loses nothing either.
        let image = fs.crash_image(1);
        let db2 = open_sim(&image).expect("image");
        assert_eq!(count(&db2, "SELECT count(*) FROM t"), 7, "{fault:?}");
    }
}

/// A DDL statement whose log write fails is undone.
#[test]
fn failed_ddl_is_undone() {
    let fs = SimFs::new();
    let db = open_sim(&fs).expect("open");
    fs.inject(1, Fault::Eio);
    let err = db
        .execute_batch("CREATE TABLE t (a INTEGER)")
        .expect_err("must fail");
    assert_eq!(err.kind(), ErrorKind::Io);
    db.execute_batch("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1)")
        .expect("create after the fault");
    drop(db);
    let db = open_sim(&fs).expect("reopen");
    assert_eq!(count(&db, "SELECT count(*) FROM t"), 1);
}

/// A commit whose write failed (and whose log was cut back) is never
/// written; syncing the log afterwards, explicitly or by the checkpoint of
/// a clean close, must not wait for it. (It waited forever, which made
/// `enospc_under_concurrent_writers` hang at its close now and then.)
#[test]
fn sync_after_a_failed_commit_returns() {
    let fs = SimFs::new();
    let db = open_sim(&fs).expect("open");
    db.execute_batch("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1)")
        .expect("write");
    fs.inject(1, Fault::Eio);
    db.execute_batch("INSERT INTO t VALUES (2)")
        .expect_err("the batch write fails");
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = db.sync().and_then(|()| db.close());
        let _ = done.send(r);
    });
    result
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("sync and close returned")
        .expect("sync and close succeed");
    let db = open_sim(&fs).expect("reopen");
    assert_eq!(count(&db, "SELECT count(*) FROM t"), 1);
}

/// Concurrent writers while the disk fills up and frees again: every
/// acknowledged insert survives reopening, no failed one appears.
#[test]
fn enospc_under_concurrent_writers() {
    let fs = SimFs::new();
    let db = open_sim(&fs).expect("open");
    db.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, w INTEGER)")
        .expect("create");
    let acked = Arc::new(parking_lot_free::Set::default());
    std::thread::scope(|s| {
        for w in 0..4i64 {
            let conn = db.connect();
            let acked = acked.clone();
            s.spawn(move || {
                for i in 0..150i64 {
                    let id = w * 10_000 + i;
                    if conn
                        .execute("INSERT INTO t VALUES ($1, $2)", params![id, w])
                        .is_ok()
                    {
                        acked.insert(id);
                    }
                }
            });
        }
        s.spawn(|| {
            for round in 0..5 {
                std::thread::sleep(std::time::Duration::from_millis(3));
                fs.inject(1 + round % 2, Fault::Enospc);
                std::thread::sleep(std::time::Duration::from_millis(3));
                fs.clear_faults();
            }
        });
    });
    fs.clear_faults();
    let acked = acked.take();
    let live: Vec<i64> = db
        .query("SELECT id FROM t ORDER BY id", params![])
        .and_then(|r| r.fetch_all())
        .expect("select")
        .iter()
        .map(|r| r.get::<i64>(0).expect("id"))
        .collect();
    assert_eq!(live, acked, "visible rows = acknowledged inserts");
    drop(db);
    let db = open_sim(&fs).expect("reopen");
    let after: Vec<i64> = db
        .query("SELECT id FROM t ORDER BY id", params![])
        .and_then(|r| r.fetch_all())
        .expect("select")
        .iter()
        .map(|r| r.get::<i64>(0).expect("id"))
        .collect();
    assert_eq!(after, acked, "after reopen");
    println!("acknowledged {} of 600 inserts", acked.len());
}

/// A tiny mutex-protected set (keeps this test free of extra crates).
mod parking_lot_free {
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct Set(Mutex<Vec<i64>>);

    impl Set {
        pub fn insert(&self, v: i64) {
            self.0.lock().expect("lock").push(v);
        }
        pub fn take(&self) -> Vec<i64> {
            let mut v = std::mem::take(&mut *self.0.lock().expect("lock"));
            v.sort_unstable();
            v
        }
    }
}

/// Flip one bit of every byte of every file of a cleanly closed database:
/// open fails with `Corrupt`, or `integrity_check` reports it, or the data
/// read back is exactly right. Never a wrong answer.
#[test]
fn every_single_bit_flip_is_detected() {
    let fs = SimFs::new();
    let expected = {
        let db = open_sim(&fs).expect("open");
        assert_eq!(run_steps(&db), STEPS.len());
        dump(&db)
    };
    let files: Vec<(std::path::PathBuf, u64)> = fs
        .files()
        .into_iter()
        .filter(|(p, len)| *len > 0 && !p.ends_with("LOCK"))
        .collect();
    assert!(files.iter().any(|(p, _)| p.ends_with("MANIFEST")));
    let (mut detected, mut harmless) = (0u64, 0u64);
    for (path, len) in &files {
        for offset in 0..*len {
            let bit = (offset % 8) as u8;
            let image = fs.crash_image(0);
            assert!(image.flip_bit(path, offset, bit));
            match open_sim(&image) {
                Err(e) => {
                    assert_eq!(
                        e.kind(),
                        ErrorKind::Corrupt,
                        "{}@{offset}: {e}",
                        path.display()
                    );
                    detected += 1;
                }
                Ok(db) => {
                    let problems: Vec<String> = db
                        .query("PRAGMA integrity_check", params![])
                        .and_then(|r| r.fetch_all())
                        .expect("integrity_check")
                        .iter()
                        .map(|r| r.get::<String>(0).expect("text"))
                        .collect();
                    if problems != ["ok"] {
                        detected += 1;
                        continue;
                    }
                    assert_eq!(
                        dump(&db),
                        expected,
                        "{}@{offset} bit {bit}: opened and read back wrong data",
                        path.display()
                    );
                    harmless += 1;
                }
            }
        }
    }
    println!("bit flips: {detected} detected, {harmless} harmless");
    assert!(detected > 0);
}

#[test]
fn corrupt_error_names_file_and_offset() {
    let fs = SimFs::new();
    {
        // Damage to the log is the subject: keep one at close.
        let db = Database::open_with(
            "/db",
            OpenOptions {
                checkpoint_on_close: false,
                ..sim_options(&fs)
            },
        )
        .expect("open");
        assert_eq!(run_steps(&db), STEPS.len());
    }
    // The newest WAL file (checkpoints deleted the older ones).
    let wal = fs
        .files()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .max()
        .expect("a WAL file");
    let name = wal
        .file_name()
        .and_then(|n| n.to_str())
        .expect("name")
        .to_string();
    // A byte inside the first batch (after the 32-byte file header).
    assert!(fs.flip_bit(&wal, 40, 3));
    let err = open_sim(&fs).err().expect("corrupt");
    assert_eq!(err.kind(), ErrorKind::Corrupt);
    let msg = err.to_string();
    assert!(msg.contains(&name), "{msg}");
    assert!(msg.contains("offset 32"), "{msg}");
    // Salvage opens with what precedes the damage (here: nothing).
    let db = Database::open_with(
        "/db",
        OpenOptions {
            salvage: true,
            ..sim_options(&fs)
        },
    )
    .expect("salvage");
    let cut = db.recovery().and_then(|r| r.cut).expect("cut reported");
    assert!(cut.contains("offset 32"), "{cut}");
}

/// A checkpoint stores HNSW graphs: reopening loads them (no rebuild:
/// nothing pending right after open), deleted and replaced vectors stay
/// invisible, and k-NN answers equal brute force.
#[test]
fn checkpoint_keeps_vector_graphs() {
    let fs = SimFs::new();
    let dims = 8;
    // Distinct pseudo-random vectors (splitmix64 of id and dimension).
    let vector = |i: u64| -> Vec<f32> {
        (0..dims)
            .map(|d| {
                let mut z = (i * 64 + d).wrapping_add(0x9E37_79B9_7F4A_7C15);
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                ((z ^ (z >> 31)) % 10_000) as f32 / 10_000.0 - 0.5
            })
            .collect()
    };
    {
        let db = open_sim(&fs).expect("open");
        db.execute_batch("CREATE TABLE v (id INTEGER PRIMARY KEY, e VECTOR(8))")
            .expect("create");
        let tx = db.transaction().expect("tx");
        for i in 0..3000u64 {
            tx.execute(
                "INSERT INTO v VALUES ($1, $2)",
                params![i as i64, vector(i)],
            )
            .expect("insert");
        }
        tx.commit().expect("commit");
        db.execute_batch("CREATE INDEX vi ON v USING hnsw (e)")
            .expect("index");
        db.execute_batch("DELETE FROM v WHERE id % 10 = 0")
            .expect("delete");
        db.execute("UPDATE v SET e = $1 WHERE id = 7", params![vector(100_000)])
            .expect("update");
        db.checkpoint().expect("checkpoint");
    }
    let db = open_sim(&fs).expect("reopen");
    assert!(db.recovery().and_then(|r| r.checkpoint).is_some());
    let stats = db.vector_index_stats("vi").expect("stats");
    // The graph built by CREATE INDEX came back whole (3,000 nodes, the
    // 301 deleted or replaced ones as tombstones); only the vector written
    // after it (row 7's update) waits in a pending chunk.
    assert_eq!(stats.graphs, 1, "{stats:?}");
    assert_eq!(stats.nodes, 3001, "{stats:?}");
    assert_eq!(stats.tombstones, 301, "{stats:?}");
    assert_eq!(
        stats.pending, 1,
        "graphs were loaded, not rebuilt: {stats:?}"
    );
    let rows: Vec<(i64, Vec<f32>)> = db
        .query("SELECT id, e FROM v", params![])
        .and_then(|r| r.fetch_all())
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r.get::<i64>(0).expect("id"),
                r.get::<Vec<f32>>(1).expect("e"),
            )
        })
        .collect();
    assert_eq!(rows.len(), 2700);
    for q in [1u64, 7, 500, 100_000, 2999] {
        let query = vector(q);
        let mut brute: Vec<(f32, i64)> = rows
            .iter()
            .map(|(id, e)| {
                let d: f32 = e.iter().zip(&query).map(|(a, b)| (a - b) * (a - b)).sum();
                (d, *id)
            })
            .collect();
        brute.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let got: Vec<i64> = db
            .query(
                "SELECT id FROM v ORDER BY e <-> $1 LIMIT 5",
                params![query.clone()],
            )
            .and_then(|r| r.fetch_all())
            .expect("knn")
            .iter()
            .map(|r| r.get::<i64>(0).expect("id"))
            .collect();
        // The graph is approximate; with 2,700 points and the default
        // ef_search the top 5 are found exactly here.
        let want: Vec<i64> = brute.iter().take(5).map(|x| x.1).collect();
        assert_eq!(got, want, "query {q}");
    }
    // Deleted rows never come back through the graph.
    let zero: Vec<i64> = db
        .query(
            "SELECT id FROM v ORDER BY e <-> $1 LIMIT 3",
            params![vector(0)],
        )
        .and_then(|r| r.fetch_all())
        .expect("knn")
        .iter()
        .map(|r| r.get::<i64>(0).expect("id"))
        .collect();
    assert!(!zero.contains(&0), "{zero:?}");
}
