//! Reopening never rebuilds an index (issue #13, "Files and processes").
//!
//! - A clean close (dropping the last `Database`, or `Database::close`)
//!   waits for background graph builds and checkpoints: the next open
//!   replays no record and builds no graph, and k-NN answers are identical.
//! - A crash right after `CREATE INDEX … USING hnsw` (a power-cut image of
//!   the simulated disk, no close at all) loses no acknowledged commit, and
//!   the open installs the graph the build logged instead of building it.
//! - A log written before builds were logged (a fixture made by the
//!   previous format, `tests/compat/wal-v1-hnsw`) still opens; its graph is
//!   rebuilt once, told to the progress hook, and not again after a close.
//! - A close that cannot write reports the error (or, on drop, a line on
//!   stderr), never panics, and loses nothing.
//!
//! "Not rebuilt" is observed through `Recovery::vector_indexes_rebuilt`,
//! `Recovery::records` (records replayed) and the progress hook
//! (`OpenOptions::progress`), never through wall-clock time.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn::fs::{Fault, SimFs};
use cairn::{params, Database, OpenOptions, Progress, Value};

const DIMS: usize = 16;

/// A distinct pseudo-random vector per `i` (splitmix64 of id and
/// dimension), elements in [-0.5, 0.5).
fn vector(i: u64) -> Vec<f32> {
    (0..DIMS as u64)
        .map(|d| {
            let mut z = (i * 64 + d).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) % 10_000) as f32 / 10_000.0 - 0.5
        })
        .collect()
}

/// Options that record every progress event in `events`.
fn recording(events: &Arc<Mutex<Vec<Progress>>>, base: OpenOptions) -> OpenOptions {
    let sink = events.clone();
    OpenOptions {
        progress: Some(Arc::new(move |p: &Progress| {
            sink.lock().expect("events").push(p.clone());
        })),
        ..base
    }
}

fn rebuilds(events: &Mutex<Vec<Progress>>) -> Vec<Progress> {
    events
        .lock()
        .expect("events")
        .iter()
        .filter(|e| matches!(e, Progress::RebuildingIndex { .. }))
        .cloned()
        .collect()
}

/// Inserts rows `ids` into `items` in one transaction.
fn insert(db: &Database, ids: std::ops::Range<u64>) {
    let tx = db.transaction().expect("tx");
    {
        let mut ins = tx
            .prepare("INSERT INTO items VALUES ($1, $2)")
            .expect("prepare");
        for i in ids {
            ins.execute(params![i as i64, vector(i)]).expect("insert");
        }
    }
    tx.commit().expect("commit");
}

/// The 10 nearest ids of 25 query vectors, through the index.
fn answers(db: &Database) -> Vec<Vec<i64>> {
    (0..25u64)
        .map(|q| {
            db.query(
                "SELECT id FROM items ORDER BY e <-> $1 LIMIT 10",
                params![vector(1_000_000 + q)],
            )
            .and_then(|r| r.fetch_all())
            .expect("knn")
            .iter()
            .map(|r| r.get::<i64>(0).expect("id"))
            .collect()
        })
        .collect()
}

/// Every row of `items`, in id order.
fn dump(db: &Database) -> Vec<(i64, Vec<f32>)> {
    db.query("SELECT id, e FROM items ORDER BY id", params![])
        .and_then(|r| r.fetch_all())
        .expect("dump")
        .iter()
        .map(|r| (r.get(0).expect("id"), r.get(1).expect("e")))
        .collect()
}

/// Waits until no vector of index `items_e` waits for a background build.
fn wait_built(db: &Database) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while db.vector_index_stats("items_e").expect("stats").pending > 0 {
        assert!(Instant::now() < deadline, "background build never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn create(db: &Database) {
    db.execute_batch(&format!(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, e VECTOR({DIMS}))"
    ))
    .expect("create");
}

/// The index clause of each test: plain f32 graphs, SQ8-coded and
/// RaBitQ-coded ones (whose codes must come back from the checkpoint and
/// the log as they were, never trained again).
const PLAIN: &str = "";
const SQ8: &str = " WITH (quantization = 'sq8', rerank = 4)";
const RABITQ: &str = " WITH (quantization = 'rabitq', bits = 2, rerank = 8)";

#[test]
fn clean_close_then_reopen_rebuilds_no_index() {
    clean_close_then_reopen(PLAIN);
}

#[test]
fn clean_close_then_reopen_keeps_sq8_codes() {
    clean_close_then_reopen(SQ8);
}

#[test]
fn clean_close_then_reopen_keeps_rabitq_codes() {
    clean_close_then_reopen(RABITQ);
}

fn clean_close_then_reopen(with: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let (before, rows, stats) = {
        let db = Database::open(&path).expect("open");
        db.set_index_build_threads(2);
        create(&db);
        insert(&db, 0..3000);
        db.execute_batch(&format!(
            "CREATE INDEX items_e ON items USING hnsw (e){with}"
        ))
        .expect("index");
        // More than a pending chunk holds: a background build makes a
        // second graph, which the close must wait for and keep.
        insert(&db, 3000..4200);
        db.execute_batch("DELETE FROM items WHERE id % 50 = 0")
            .expect("delete");
        wait_built(&db);
        let stats = db.vector_index_stats("items_e").expect("stats");
        assert_eq!(stats.graphs, 2, "{stats:?}");
        (answers(&db), dump(&db), stats)
        // Dropped here: the clean close.
    };
    let events = Arc::new(Mutex::new(Vec::new()));
    let db =
        Database::open_with(&path, recording(&events, OpenOptions::default())).expect("reopen");
    let rec = db.recovery().expect("on disk");
    assert!(rec.checkpoint.is_some(), "the close checkpointed: {rec:?}");
    assert_eq!(rec.records, 0, "nothing to replay: {rec:?}");
    assert_eq!(rec.vector_indexes_rebuilt, 0, "{rec:?}");
    assert_eq!(rec.vectors_pending, 0, "{rec:?}");
    assert_eq!(rebuilds(&events), vec![]);
    let after = db.vector_index_stats("items_e").expect("stats");
    assert_eq!(
        (after.graphs, after.nodes, after.pending),
        (2, stats.nodes, 0)
    );
    assert_eq!(after.code_bytes, stats.code_bytes);
    assert_eq!(after.code_bytes > 0, !with.is_empty(), "{after:?}");
    // A quantized index reads its f32 vectors (only the re-rank needs
    // them) in place from the mapped segment file; a plain one walks on
    // them and keeps them on the heap.
    let vectors = after.nodes * DIMS * 4;
    if with.is_empty() {
        assert_eq!(after.mapped_bytes, 0, "{after:?}");
        assert_eq!(after.vector_bytes, stats.vector_bytes, "{after:?}");
    } else {
        assert_eq!(
            (after.vector_bytes, after.mapped_bytes),
            (0, vectors),
            "{after:?}"
        );
    }
    assert_eq!(dump(&db), rows);
    assert_eq!(
        answers(&db),
        before,
        "k-NN answers changed across the reopen"
    );
    // A close with nothing new writes nothing: the same checkpoint stays.
    drop(db);
    let db = Database::open(&path).expect("reopen 2");
    assert_eq!(db.recovery().and_then(|r| r.checkpoint), rec.checkpoint);
    // A new checkpoint replaces the segment files (the old ones are
    // deleted) while the graphs still read vectors from the old file's
    // mapping: answers stay the same, before and after another reopen.
    let segments = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(path.join("segments"))
            .expect("segments")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let old_files = segments();
    db.execute_batch("INSERT INTO items VALUES (99999, NULL); CHECKPOINT")
        .expect("checkpoint");
    let new_files = segments();
    assert!(
        old_files.iter().all(|f| !new_files.contains(f)),
        "the old segment files are gone: {old_files:?} -> {new_files:?}"
    );
    assert_eq!(answers(&db), before, "after a checkpoint");
    assert_eq!(
        db.vector_index_stats("items_e")
            .expect("stats")
            .mapped_bytes,
        after.mapped_bytes
    );
    drop(db);
    let db = Database::open(&path).expect("reopen after checkpoint");
    assert_eq!(answers(&db), before, "after a checkpoint and a reopen");
    db.close().expect("close");
}

/// The close waits for a background build in flight (a chunk of vectors
/// committed just before it) and checkpoints its graph: nothing is left
/// for the next open to build.
#[test]
fn close_waits_for_background_builds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).expect("open");
        db.set_index_build_threads(1);
        create(&db);
        insert(&db, 0..100);
        db.execute_batch("CREATE INDEX items_e ON items USING hnsw (e)")
            .expect("index");
        // A full pending chunk: its build starts in the background now,
        // and the close comes right after.
        insert(&db, 100..3100);
    }
    let db = Database::open(&path).expect("reopen");
    let rec = db.recovery().expect("on disk");
    assert_eq!((rec.records, rec.vectors_pending), (0, 0), "{rec:?}");
    let stats = db.vector_index_stats("items_e").expect("stats");
    assert_eq!(
        (stats.graphs, stats.nodes, stats.pending),
        (2, 3100, 0),
        "{stats:?}"
    );
}

#[test]
fn crash_after_create_index_loses_nothing_and_rebuilds_nothing() {
    crash_after_create_index(PLAIN);
}

#[test]
fn crash_after_creating_an_sq8_index_replays_its_codes() {
    crash_after_create_index(SQ8);
}

#[test]
fn crash_after_creating_a_rabitq_index_replays_its_codes() {
    crash_after_create_index(RABITQ);
}

fn crash_after_create_index(with: &str) {
    let fs = SimFs::new();
    let options = || OpenOptions {
        fs: Arc::new(fs.clone()),
        ..OpenOptions::default()
    };
    let db = Database::open_with("/db", options()).expect("open");
    db.set_index_build_threads(2);
    create(&db);
    insert(&db, 0..2000);
    db.execute_batch(&format!(
        "CREATE INDEX items_e ON items USING hnsw (e){with}"
    ))
    .expect("index");
    let codes = db.vector_index_stats("items_e").expect("stats").code_bytes;
    assert_eq!(codes > 0, !with.is_empty());
    // Acknowledged after the build: in the log only.
    insert(&db, 2000..2100);
    db.execute(
        "UPDATE items SET e = $1 WHERE id = 5",
        params![vector(77_777)],
    )
    .expect("update");
    db.execute_batch("DELETE FROM items WHERE id % 97 = 0")
        .expect("delete");
    let before = answers(&db);
    let rows = dump(&db);
    for seed in 0..4 {
        // A power cut now: only what was synced survives (under
        // `synchronous = full`, every acknowledged commit).
        let image = fs.crash_image(seed);
        let events = Arc::new(Mutex::new(Vec::new()));
        let reopened = Database::open_with(
            "/db",
            recording(
                &events,
                OpenOptions {
                    fs: Arc::new(image),
                    ..OpenOptions::default()
                },
            ),
        )
        .expect("open after the crash");
        let rec = reopened.recovery().expect("on disk");
        assert!(rec.checkpoint.is_none(), "no close ran: {rec:?}");
        assert!(rec.records >= 6, "the log was replayed: {rec:?}");
        assert_eq!(rec.vector_indexes_rebuilt, 0, "seed {seed}: {rec:?}");
        assert_eq!(rebuilds(&events), vec![], "seed {seed}");
        let stats = reopened.vector_index_stats("items_e").expect("stats");
        assert!(stats.code_bytes >= codes, "seed {seed}: {stats:?}");
        assert_eq!(
            dump(&reopened),
            rows,
            "seed {seed}: an acknowledged commit is lost"
        );
        assert_eq!(
            answers(&reopened),
            before,
            "seed {seed}: k-NN answers changed"
        );
        let ok: String = reopened
            .query_row("PRAGMA integrity_check", params![], |r| r.get(0))
            .expect("integrity_check");
        assert_eq!(ok, "ok", "seed {seed}");
    }
    drop(db);
}

/// Copies the directory `from` to `to` (files and subdirectories).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// The fixture `tests/compat/wal-v1-hnsw` was written by the build before
/// WAL format 2 (no checkpoint, the log only): `t(id, e VECTOR(4), note)`
/// with rows 0..300 (`e[d] = ((31 i + 17 d) mod 97) / 97`), the index
/// `t_e` (m = 8, ef_construction = 40), then row 1000 inserted and row 7
/// deleted.
#[test]
fn old_log_rebuilds_once_and_tells_the_progress_hook() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/wal-v1-hnsw"),
        &path,
    );
    std::fs::create_dir_all(path.join("segments")).expect("segments/");
    let events = Arc::new(Mutex::new(Vec::new()));
    let db = Database::open_with(&path, recording(&events, OpenOptions::default()))
        .expect("open the old directory");
    let rec = db.recovery().expect("on disk");
    assert_eq!(rec.vector_indexes_rebuilt, 1, "{rec:?}");
    let index_events = |done| Progress::RebuildingIndex {
        table: "t".into(),
        index: "t_e".into(),
        done,
        total: 300,
    };
    assert_eq!(rebuilds(&events), vec![index_events(0), index_events(300)]);
    assert!(
        events
            .lock()
            .expect("events")
            .contains(&Progress::ReplayingLog {
                done: rec.records,
                total: rec.records
            }),
        "{events:?}"
    );
    let n: i64 = db
        .query_row("SELECT count(*) FROM t", params![], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 300);
    // The rebuilt index answers as brute force does (exhaustive ef).
    db.execute_batch("SET hnsw.ef_search = 1000").expect("ef");
    let query = vec![0.25f32, 0.5, 0.75, 0.1];
    let got: Vec<i64> = db
        .query(
            "SELECT id FROM t ORDER BY e <-> $1 LIMIT 5",
            params![query.clone()],
        )
        .and_then(|r| r.fetch_all())
        .expect("knn")
        .iter()
        .map(|r| r.get(0).expect("id"))
        .collect();
    let mut brute: Vec<(f32, i64)> = (0..300i64)
        .filter(|&i| i != 7)
        .map(|i| {
            let e: Vec<f32> = (0..4)
                .map(|d| ((i * 31 + d * 17) % 97) as f32 / 97.0)
                .collect();
            (
                e.iter().zip(&query).map(|(a, b)| (a - b) * (a - b)).sum(),
                i,
            )
        })
        .chain(std::iter::once((
            query.iter().map(|q| (q - 0.5) * (q - 0.5)).sum(),
            1000,
        )))
        .collect();
    brute.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    assert_eq!(got, brute.iter().take(5).map(|x| x.1).collect::<Vec<_>>());
    db.close().expect("close");
    // The close checkpointed (and moved the manifest to the current WAL format):
    // nothing is rebuilt any more.
    let manifest = std::fs::read_to_string(path.join("MANIFEST")).expect("manifest");
    assert!(
        manifest.contains(&format!(
            "\"wal_format_version\": {}",
            cairn_storage::WAL_FORMAT_VERSION
        )),
        "{manifest}"
    );
    events.lock().expect("events").clear();
    let db =
        Database::open_with(&path, recording(&events, OpenOptions::default())).expect("reopen");
    let rec = db.recovery().expect("on disk");
    assert_eq!((rec.vector_indexes_rebuilt, rec.records), (0, 0), "{rec:?}");
    assert_eq!(rebuilds(&events), vec![]);
}

/// Rows as the SimFs tests keep them.
fn count(db: &Database) -> i64 {
    db.query_row("SELECT count(*) FROM items", params![], |r| r.get(0))
        .expect("count")
}

#[test]
fn a_close_that_cannot_write_reports_and_loses_nothing() {
    for explicit in [true, false] {
        let fs = SimFs::new();
        let options = || OpenOptions {
            fs: Arc::new(fs.clone()),
            ..OpenOptions::default()
        };
        let db = Database::open_with("/db", options()).expect("open");
        create(&db);
        insert(&db, 0..500);
        db.execute_batch("CREATE INDEX items_e ON items USING hnsw (e)")
            .expect("index");
        insert(&db, 500..600);
        // The disk is full from now on: the close's checkpoint fails.
        fs.inject(1, Fault::Enospc);
        if explicit {
            let err = db.close().expect_err("a close on a full disk fails");
            assert_eq!(err.kind(), cairn::ErrorKind::Io, "{err}");
        } else {
            // Reported on stderr; no panic.
            drop(db);
        }
        fs.clear_faults();
        let db = Database::open_with("/db", options()).expect("reopen");
        assert_eq!(count(&db), 600, "explicit close: {explicit}");
        let ok: String = db
            .query_row("PRAGMA integrity_check", params![], |r| r.get(0))
            .expect("integrity_check");
        assert_eq!(ok, "ok");
        let v = db
            .query_row(
                "SELECT id FROM items ORDER BY e <-> $1 LIMIT 1",
                params![vector(42)],
                |r| r.get::<Value>(0),
            )
            .expect("knn");
        assert_eq!(v, Value::Integer(42));
    }
}

/// A log record larger than the WAL keeps buffers for (16 MiB; an index's
/// graph is the usual one) is queued and written without being copied:
/// it must come back whole, followed by ordinary records, after a crash.
#[test]
fn large_log_records_are_written_whole() {
    let fs = SimFs::new();
    let options = || OpenOptions {
        fs: Arc::new(fs.clone()),
        ..OpenOptions::default()
    };
    let db = Database::open_with("/db", options()).expect("open");
    db.execute_batch(
        "CREATE TABLE b (id INTEGER PRIMARY KEY, v BLOB); \
         INSERT INTO b VALUES (1, zeroblob(17000001)); \
         INSERT INTO b VALUES (2, x'0102')",
    )
    .expect("write");
    let image = fs.crash_image(3);
    drop(db);
    let db = Database::open_with(
        "/db",
        OpenOptions {
            fs: Arc::new(image),
            ..OpenOptions::default()
        },
    )
    .expect("reopen");
    assert_eq!(db.recovery().map(|r| r.commits), Some(2));
    let lens: Vec<i64> = db
        .query("SELECT length(v) FROM b ORDER BY id", params![])
        .and_then(|r| r.fetch_all())
        .expect("rows")
        .iter()
        .map(|r| r.get(0).expect("length"))
        .collect();
    assert_eq!(lens, vec![17_000_001, 2]);
}
