//! Crash recovery under SIGKILL, through the public API.
//!
//! A child process (this test binary, re-invoked on the single test
//! `crash_kill_child` with `CAIRN_CRASH_CHILD=<dir>`) opens an on-disk
//! database with `synchronous = full` and runs concurrent bank transfers and
//! vector inserts/updates on several threads, printing one `ACK ...` line to
//! stdout after every commit that returned `Ok`. The parent kills it with
//! SIGKILL at a random moment, reopens the directory and checks that
//!
//! - every acknowledged commit is there (transfers with their exact values,
//!   vectors at least at their acknowledged version);
//! - no transaction is partly visible: each transfer's row and its two
//!   balance updates (and the vector a transfer inserted with it) come
//!   together, every vector batch is whole;
//! - the bank total is conserved and every balance equals 1000 plus what
//!   the transfers table says came in minus what went out;
//! - every stored vector is exactly the one its (id, version) determines;
//! - k-NN through the HNSW index (`ORDER BY e <-> $1 LIMIT 5`, with an
//!   `ef_search` above the table size so the search is exhaustive) equals a
//!   brute-force ranking computed here over the recovered rows;
//! - `PRAGMA integrity_check` answers the single row `ok`.
//!
//! Then the next child runs on the same directory, so recovery of an
//! ever-growing WAL is exercised (a fresh directory every
//! `CAIRN_CRASH_CYCLES_PER_DIR`, default 25, cycles keeps replay time
//! bounded: there are no checkpoints yet). About one cycle in eight kills
//! the child at a random moment after spawning it instead of after it
//! reported ready, i.e. possibly while it replays the log, creates the
//! directory or the schema.
//!
//! Knobs (environment): `CAIRN_CRASH_CYCLES` (default 200),
//! `CAIRN_CRASH_SEED` (default: from the clock; always printed),
//! `CAIRN_CRASH_CYCLES_PER_DIR` (default 25). Long mode:
//! `CAIRN_CRASH_CYCLES=5000 cargo test --release -p cairn --test crash_kill -- --nocapture`.
//! On a failure the database directory is kept and its path printed.
//! Unix only (SIGKILL); elsewhere the test returns at once.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cairn::{params, Database, ErrorKind, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Set in the child's environment: the database directory.
const CHILD_ENV: &str = "CAIRN_CRASH_CHILD";
/// Set in the child's environment: the seed of its workload.
const CHILD_SEED_ENV: &str = "CAIRN_CRASH_CHILD_SEED";
/// The test the child runs.
const CHILD_TEST: &str = "crash_kill_child";

const ACCOUNTS: i64 = 20;
const START_BALANCE: i64 = 1000;
const TOTAL: i64 = ACCOUNTS * START_BALANCE;
const DIMS: usize = 8;
const K: usize = 5;
/// Worker threads in the child.
const THREADS: usize = 3;
/// Vectors a fresh database gets before its HNSW index is created, so the
/// index starts with a graph (built by CREATE INDEX, and rebuilt by every
/// replay of it) and not only with pending vectors.
const INITIAL_VECS: i64 = 128;
/// Larger than the vector table (the engine's maximum): the graph search is
/// exhaustive, so k-NN answers can be compared with brute force exactly.
/// (A directory would need thousands of cycles to outgrow it; then the
/// comparison is skipped.)
const EF_SEARCH: usize = 10_000;
/// A child that is never killed stops after this long (and the parent then
/// fails: it meant to kill it).
const CHILD_MAX_RUN: Duration = Duration::from_secs(120);
/// How long the parent waits for a child to report ready.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

const DEFAULT_CYCLES: usize = 200;
const DEFAULT_CYCLES_PER_DIR: usize = 25;

// ---- shared between parent and child -------------------------------------

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The vector row `id` holds at version `ver`: a pure function, so the
/// parent can check every stored vector bit for bit.
fn vec_for(id: i64, ver: i64) -> Vec<f32> {
    let mut s = (id as u64).wrapping_mul(0xD1B5_4A32_D192_ED03) ^ (ver as u64).rotate_left(32);
    (0..DIMS)
        .map(|_| {
            let bits = splitmix64(&mut s) >> 40; // 24 bits: exact in f32
            (bits as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Exact L2 distance, as Cairn computes it (f64, summed in element order).
fn l2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = f64::from(*x) - f64::from(*y);
            d * d
        })
        .sum::<f64>()
        .sqrt()
}

fn opt_str(v: Option<i64>) -> String {
    v.map_or_else(|| "-".to_string(), |x| x.to_string())
}

// ---- the child -----------------------------------------------------------

/// Runs the child workload when `CAIRN_CRASH_CHILD` is set (the parent
/// starts this test in a child process); otherwise does nothing.
#[test]
fn crash_kill_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let seed = std::env::var(CHILD_SEED_ENV)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    if let Err(e) = child_main(Path::new(&dir), seed) {
        eprintln!("CHILD ERROR: {e}");
        std::process::exit(2);
    }
}

/// Writes one line to stdout and flushes it (one `write` per line, so a
/// kill never leaves half a line; the parent also ignores an unterminated
/// last line). Exits if the parent is gone.
fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    let ok = out
        .write_all(format!("{line}\n").as_bytes())
        .and_then(|()| out.flush());
    if ok.is_err() {
        std::process::exit(3);
    }
}

fn child_main(dir: &Path, seed: u64) -> cairn::Result<()> {
    // The test harness has printed "test crash_kill_child ... " without a
    // newline: end that line so our reports start on their own.
    emit("");
    let db = Database::open(dir)?;
    // Two cores are shared with other work: keep background builds small.
    db.set_index_build_threads(1);
    db.execute("PRAGMA synchronous = full", params![])?;
    let mode: String = db.query_row("PRAGMA synchronous", params![], |r| r.get(0usize))?;
    assert_eq!(mode, "full", "synchronous mode");

    db.execute(
        "CREATE TABLE IF NOT EXISTS accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)",
        params![],
    )?;
    let accounts: i64 = db.query_row("SELECT COUNT(*) FROM accounts", params![], |r| {
        r.get(0usize)
    })?;
    if accounts == 0 {
        let tx = db.transaction()?;
        for id in 1..=ACCOUNTS {
            tx.execute(
                "INSERT INTO accounts (id, balance) VALUES ($1, $2)",
                params![id, START_BALANCE],
            )?;
        }
        tx.commit()?;
    }
    db.execute(
        "CREATE TABLE IF NOT EXISTS transfers (id INTEGER PRIMARY KEY, src INTEGER NOT NULL, \
         dst INTEGER NOT NULL, amount INTEGER NOT NULL, vid INTEGER)",
        params![],
    )?;
    db.execute(
        "CREATE TABLE IF NOT EXISTS vecs (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, \
         gsize INTEGER NOT NULL, tid INTEGER, ver INTEGER NOT NULL, e VECTOR(8) NOT NULL)",
        params![],
    )?;
    let vec_count: i64 = db.query_row("SELECT COUNT(*) FROM vecs", params![], |r| r.get(0usize))?;
    if vec_count == 0 {
        let tx = db.transaction()?;
        for id in 1..=INITIAL_VECS {
            tx.execute(
                "INSERT INTO vecs (id, grp, gsize, tid, ver, e) VALUES ($1, 1, $2, NULL, 0, $3)",
                params![id, INITIAL_VECS, vec_for(id, 0)],
            )?;
        }
        tx.commit()?;
        for id in 1..=INITIAL_VECS {
            emit(&format!("ACK V {id} 1 {INITIAL_VECS} -"));
        }
    }
    db.execute(
        // `<->` is L2; an index's default metric is cosine (it would not
        // serve `<->` at all). A small ef_construction keeps the builds (one
        // per open, in a debug build) cheap.
        "CREATE INDEX IF NOT EXISTS vi ON vecs USING hnsw (e) \
         WITH (metric = 'l2', ef_construction = 64)",
        params![],
    )?;

    let max_t: i64 = db.query_row(
        "SELECT COALESCE(MAX(id), 0) FROM transfers",
        params![],
        |r| r.get(0usize),
    )?;
    let existing: Vec<(i64, i64)> = db
        .query("SELECT id, ver FROM vecs", params![])?
        .map(|r| Ok((r.get::<i64>(0usize)?, r.get::<i64>(1usize)?)))?;
    let max_v = existing.iter().map(|(id, _)| *id).max().unwrap_or(0);
    let next_t = AtomicI64::new(max_t + 1);
    let next_v = AtomicI64::new(max_v + 1);
    let deadline = Instant::now() + CHILD_MAX_RUN;

    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for t in 0..THREADS {
            let conn = db.connect();
            // Each existing vector has one updater: the thread its id
            // picks. (Vectors a thread inserts are its own.)
            let owned: Vec<(i64, i64)> = existing
                .iter()
                .copied()
                .filter(|(id, _)| id.rem_euclid(THREADS as i64) == t as i64)
                .collect();
            let (next_t, next_v) = (&next_t, &next_v);
            let rng = StdRng::seed_from_u64(seed ^ (t as u64).wrapping_mul(0x9E37_79B9));
            handles.push(s.spawn(move || worker(conn, rng, owned, next_t, next_v, deadline)));
        }
        // A checkpointer: kills also land inside checkpoints (segment files
        // written, manifest replaced, old WAL files deleted).
        let ckpt = db.connect();
        let ckpt_every = Duration::from_millis(8 + seed % 16);
        handles.push(s.spawn(move || -> cairn::Result<()> {
            while Instant::now() < deadline {
                std::thread::sleep(ckpt_every);
                ckpt.checkpoint()?;
            }
            Ok(())
        }));
        emit("READY");
        for h in handles {
            match h.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    eprintln!("CHILD ERROR: worker: {e}");
                    std::process::exit(2);
                }
                Err(_) => {
                    eprintln!("CHILD ERROR: worker panicked");
                    std::process::exit(2);
                }
            }
        }
    });
    emit("DONE");
    Ok(())
}

/// Runs one transaction body and commits; `Ok(false)` on a conflict (the
/// caller retries), `Ok(true)` once committed.
/// The body runs its statements (prepared on `conn`) inside the
/// transaction.
fn attempt(conn: &Database, body: impl FnOnce() -> cairn::Result<()>) -> cairn::Result<bool> {
    let tx = conn.transaction()?;
    let r = body().and_then(|()| tx.commit());
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::Conflict => Ok(false),
        Err(e) => Err(e),
    }
}

fn worker(
    conn: Database,
    mut rng: StdRng,
    mut owned: Vec<(i64, i64)>,
    next_t: &AtomicI64,
    next_v: &AtomicI64,
    deadline: Instant,
) -> cairn::Result<()> {
    let mut read = conn.prepare("SELECT balance FROM accounts WHERE id = $1")?;
    let mut write = conn.prepare("UPDATE accounts SET balance = $1 WHERE id = $2")?;
    let mut log = conn
        .prepare("INSERT INTO transfers (id, src, dst, amount, vid) VALUES ($1, $2, $3, $4, $5)")?;
    let mut ins_vec = conn
        .prepare("INSERT INTO vecs (id, grp, gsize, tid, ver, e) VALUES ($1, $2, $3, $4, 0, $5)")?;
    let mut upd_vec = conn.prepare("UPDATE vecs SET ver = $1, e = $2 WHERE id = $3")?;
    while Instant::now() < deadline {
        let roll = rng.random_range(0..100);
        if roll < 70 {
            // A transfer; one in four also inserts a vector in the same
            // transaction.
            let tid = next_t.fetch_add(1, Ordering::Relaxed);
            let vid = (roll < 18).then(|| next_v.fetch_add(1, Ordering::Relaxed));
            let src = rng.random_range(1..=ACCOUNTS);
            let dst = (src + rng.random_range(1..ACCOUNTS) - 1) % ACCOUNTS + 1;
            let want = rng.random_range(1..=100i64);
            loop {
                let mut amount = 0;
                let done = attempt(&conn, || {
                    let b_src = read.query_row(params![src], |r| r.get::<i64>(0usize))?;
                    let b_dst = read.query_row(params![dst], |r| r.get::<i64>(0usize))?;
                    amount = want.min(b_src);
                    write.execute(params![b_src - amount, src])?;
                    write.execute(params![b_dst + amount, dst])?;
                    log.execute(params![tid, src, dst, amount, vid])?;
                    if let Some(v) = vid {
                        ins_vec.execute(params![v, v, 1, tid, vec_for(v, 0)])?;
                    }
                    Ok(())
                })?;
                if done {
                    emit(&format!(
                        "ACK T {tid} {src} {dst} {amount} {}",
                        opt_str(vid)
                    ));
                    if let Some(v) = vid {
                        emit(&format!("ACK V {v} {v} 1 {tid}"));
                        owned.push((v, 0));
                    }
                    break;
                }
            }
        } else if roll < 88 || owned.is_empty() {
            // A batch of 1..=4 vectors in one transaction.
            let n = rng.random_range(1..=4i64);
            let first = next_v.fetch_add(n, Ordering::Relaxed);
            while !attempt(&conn, || {
                for id in first..first + n {
                    ins_vec.execute(params![id, first, n, None::<i64>, vec_for(id, 0)])?;
                }
                Ok(())
            })? {}
            for id in first..first + n {
                emit(&format!("ACK V {id} {first} {n} -"));
                owned.push((id, 0));
            }
        } else {
            // A new version of a vector this thread owns.
            let slot = rng.random_range(0..owned.len());
            let (id, ver) = owned[slot];
            let ver = ver + 1;
            while !attempt(&conn, || {
                let changed = upd_vec.execute(params![ver, vec_for(id, ver), id])?;
                assert_eq!(changed, 1, "vector {id} to update is missing");
                Ok(())
            })? {}
            owned[slot].1 = ver;
            emit(&format!("ACK U {id} {ver}"));
        }
    }
    Ok(())
}

// ---- the parent ----------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TransferAck {
    src: i64,
    dst: i64,
    amount: i64,
    vid: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct VecAck {
    /// (grp, gsize, tid) when its insert was acknowledged.
    insert: Option<(i64, i64, Option<i64>)>,
    /// The newest acknowledged version.
    ver: i64,
}

/// Everything acknowledged on one directory so far.
#[derive(Default)]
struct Model {
    transfers: std::collections::BTreeMap<i64, TransferAck>,
    vecs: std::collections::BTreeMap<i64, VecAck>,
}

impl Model {
    /// Applies one stdout line of a child; lines that are not ours (the test
    /// harness prints some) are ignored.
    fn apply(&mut self, line: &str) -> Result<(), String> {
        let f: Vec<&str> = line.split_whitespace().collect();
        let int = |s: &str| {
            s.parse::<i64>()
                .map_err(|e| format!("bad line {line:?}: {e}"))
        };
        let opt = |s: &str| if s == "-" { Ok(None) } else { int(s).map(Some) };
        match f.as_slice() {
            ["ACK", "T", id, src, dst, amount, vid] => {
                let t = TransferAck {
                    src: int(src)?,
                    dst: int(dst)?,
                    amount: int(amount)?,
                    vid: opt(vid)?,
                };
                let id = int(id)?;
                if let Some(old) = self.transfers.insert(id, t) {
                    if old != t {
                        return Err(format!(
                            "transfer {id} acknowledged twice, differently: {old:?}, then {t:?}"
                        ));
                    }
                }
            }
            ["ACK", "V", id, grp, gsize, tid] => {
                let id = int(id)?;
                let ins = (int(grp)?, int(gsize)?, opt(tid)?);
                let e = self.vecs.entry(id).or_default();
                if let Some(old) = e.insert {
                    if old != ins {
                        return Err(format!(
                            "vector {id} acknowledged twice, differently: {old:?}, then {ins:?}"
                        ));
                    }
                }
                e.insert = Some(ins);
            }
            ["ACK", "U", id, ver] => {
                let e = self.vecs.entry(int(id)?).or_default();
                e.ver = e.ver.max(int(ver)?);
            }
            ["ACK", ..] => return Err(format!("bad line {line:?}")),
            _ => {}
        }
        Ok(())
    }
}

/// Kills the child if the parent panics while it runs.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Default)]
struct Stats {
    cycles: usize,
    early_kills: usize,
    killed_before_ready: usize,
    torn_tails: usize,
    acks: usize,
    max_records_replayed: usize,
    max_reopen: Duration,
    /// Cycles whose k-NN checks ran through the HNSW index.
    knn_via_index: usize,
    /// Summed over cycles: spawn to READY, and the parent's verification.
    ready_time: Duration,
    verify_time: Duration,
    max_vecs: usize,
    max_transfers: usize,
}

/// What one child run produced.
struct ChildRun {
    status: ExitStatus,
    lines: Vec<String>,
    stderr: String,
    ready_after: Option<Duration>,
}

fn run_child(
    dir: &Path,
    seed: u64,
    rng: &mut StdRng,
    early: bool,
    ready_est: Duration,
) -> ChildRun {
    let exe = std::env::current_exe().expect("current_exe");
    let spawned = Instant::now();
    let mut child = Command::new(exe)
        .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, dir)
        .env(CHILD_SEED_ENV, seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut stderr = child.stderr.take().expect("child stderr");
    let mut guard = ChildGuard(child);
    let (ready_tx, ready_rx) = mpsc::channel::<Instant>();
    let out_reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut r = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            // An unterminated last line is not a complete report.
            if buf.last() != Some(&b'\n') {
                break;
            }
            let line = String::from_utf8_lossy(&buf[..buf.len() - 1]).into_owned();
            if line == "READY" {
                let _ = ready_tx.send(Instant::now());
            }
            lines.push(line);
        }
        lines
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut ready_at = None;
    if early {
        // Anywhere from spawn to a little after the child is usually ready:
        // during start-up, replay, directory or schema creation.
        let span = ready_est.as_millis() as u64 + 20;
        std::thread::sleep(Duration::from_millis(rng.random_range(0..=span)));
        ready_at = ready_rx.try_recv().ok();
    } else {
        let delay = Duration::from_millis(rng.random_range(5..=60));
        if let Ok(at) = ready_rx.recv_timeout(READY_TIMEOUT) {
            ready_at = Some(at);
            std::thread::sleep(delay);
        }
    }
    guard.0.kill().expect("kill child");
    let status = guard.0.wait().expect("wait for child");
    let lines = out_reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    ChildRun {
        status,
        lines,
        stderr,
        ready_after: ready_at.map(|t| t.duration_since(spawned)),
    }
}

fn killed_by_sigkill(status: &ExitStatus) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        status.signal() == Some(9)
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        false
    }
}

/// Reopens the directory and checks everything against the model.
fn verify(dir: &Path, model: &Model, rng: &mut StdRng, stats: &mut Stats) -> Result<(), String> {
    let started = Instant::now();
    let db = Database::open(dir).map_err(|e| format!("reopen failed: {e}"))?;
    stats.max_reopen = stats.max_reopen.max(started.elapsed());
    let recovery = db
        .recovery()
        .ok_or("no recovery report for an on-disk database")?;
    stats.max_records_replayed = stats.max_records_replayed.max(recovery.records);
    if recovery.cut.is_some() {
        stats.torn_tails += 1;
    }
    let e = |what: &'static str| move |err: cairn::Error| format!("{what}: {err}");
    let mut problems: Vec<String> = Vec::new();

    let check: Vec<String> = db
        .query("PRAGMA integrity_check", params![])
        .map_err(e("integrity_check"))?
        .map(|r| r.get::<String>(0usize))
        .map_err(e("integrity_check rows"))?;
    if check != ["ok"] {
        problems.push(format!("integrity_check: {check:?}"));
    }

    let tables = db.table_names();
    let has = |t: &str| tables.iter().any(|n| n.eq_ignore_ascii_case(t));

    // Accounts and transfers.
    let balances: Vec<(i64, i64)> = if has("accounts") {
        db.query("SELECT id, balance FROM accounts ORDER BY id", params![])
            .map_err(e("read accounts"))?
            .map(|r| Ok((r.get::<i64>(0usize)?, r.get::<i64>(1usize)?)))
            .map_err(e("accounts rows"))?
    } else {
        Vec::new()
    };
    let transfers: Vec<(i64, TransferAck)> = if has("transfers") {
        db.query(
            "SELECT id, src, dst, amount, vid FROM transfers ORDER BY id",
            params![],
        )
        .map_err(e("read transfers"))?
        .map(|r| {
            Ok((
                r.get::<i64>(0usize)?,
                TransferAck {
                    src: r.get(1usize)?,
                    dst: r.get(2usize)?,
                    amount: r.get(3usize)?,
                    vid: r.get(4usize)?,
                },
            ))
        })
        .map_err(e("transfers rows"))?
    } else {
        Vec::new()
    };
    stats.max_transfers = stats.max_transfers.max(transfers.len());
    let transfer_map: std::collections::BTreeMap<i64, TransferAck> =
        transfers.iter().copied().collect();
    for (id, want) in &model.transfers {
        match transfer_map.get(id) {
            None => problems.push(format!("acknowledged transfer {id} {want:?} is lost")),
            Some(got) if got != want => problems.push(format!(
                "transfer {id} is {got:?}, acknowledged as {want:?}"
            )),
            Some(_) => {}
        }
    }
    if balances.is_empty() {
        if !transfers.is_empty() {
            problems.push(format!("{} transfers but no accounts", transfers.len()));
        }
    } else {
        let ids: Vec<i64> = balances.iter().map(|(id, _)| *id).collect();
        if ids != (1..=ACCOUNTS).collect::<Vec<_>>() {
            problems.push(format!("accounts are {ids:?}, want 1..={ACCOUNTS}"));
        }
        let mut want = vec![START_BALANCE; ACCOUNTS as usize + 1];
        for (id, t) in &transfers {
            let ok = |a: i64| (1..=ACCOUNTS).contains(&a);
            if !ok(t.src) || !ok(t.dst) || t.src == t.dst || t.amount < 0 {
                problems.push(format!("transfer {id} is malformed: {t:?}"));
                continue;
            }
            want[t.src as usize] -= t.amount;
            want[t.dst as usize] += t.amount;
        }
        let total: i64 = balances.iter().map(|(_, b)| *b).sum();
        if total != TOTAL {
            problems.push(format!("bank total is {total}, want {TOTAL}"));
        }
        for (id, b) in &balances {
            let w = usize::try_from(*id)
                .ok()
                .and_then(|i| want.get(i))
                .copied()
                .unwrap_or(i64::MIN);
            if *b != w {
                problems.push(format!(
                    "account {id} holds {b}, the transfers table says {w} (a transaction is partly visible)"
                ));
            }
            if *b < 0 {
                problems.push(format!("account {id} is overdrawn: {b}"));
            }
        }
    }

    // Vectors.
    type VecRow = (i64, i64, Option<i64>, i64, Vec<f32>);
    let vecs: Vec<(i64, VecRow)> = if has("vecs") {
        db.query(
            "SELECT id, grp, gsize, tid, ver, e FROM vecs ORDER BY id",
            params![],
        )
        .map_err(e("read vecs"))?
        .map(|r| {
            Ok((
                r.get::<i64>(0usize)?,
                (
                    r.get::<i64>(1usize)?,
                    r.get::<i64>(2usize)?,
                    r.get::<Option<i64>>(3usize)?,
                    r.get::<i64>(4usize)?,
                    r.get::<Vec<f32>>(5usize)?,
                ),
            ))
        })
        .map_err(e("vecs rows"))?
    } else {
        Vec::new()
    };
    stats.max_vecs = stats.max_vecs.max(vecs.len());
    let vec_map: std::collections::BTreeMap<i64, &VecRow> =
        vecs.iter().map(|(id, r)| (*id, r)).collect();
    let mut groups: std::collections::BTreeMap<i64, (i64, i64)> = Default::default();
    for (id, (grp, gsize, tid, ver, v)) in &vecs {
        if v.len() != DIMS
            || v.iter()
                .zip(vec_for(*id, *ver))
                .any(|(a, b)| a.to_bits() != b.to_bits())
        {
            problems.push(format!(
                "vector {id} at version {ver} holds {v:?}, want {:?}",
                vec_for(*id, *ver)
            ));
        }
        let g = groups.entry(*grp).or_insert((*gsize, 0));
        g.1 += 1;
        if g.0 != *gsize {
            problems.push(format!(
                "vector {id}: group {grp} has sizes {} and {gsize}",
                g.0
            ));
        }
        if let Some(t) = tid {
            match transfer_map.get(t) {
                Some(tr) if tr.vid == Some(*id) => {}
                other => problems.push(format!(
                    "vector {id} was inserted with transfer {t}, which is {other:?} (a transaction is partly visible)"
                )),
            }
        }
    }
    for (grp, (size, n)) in &groups {
        if size != n {
            problems.push(format!(
                "vector batch {grp} has {n} of its {size} rows (a transaction is partly visible)"
            ));
        }
    }
    for (id, t) in &transfers {
        if let Some(v) = t.vid {
            match vec_map.get(&v) {
                Some((_, _, Some(tid), _, _)) if tid == id => {}
                other => problems.push(format!(
                    "transfer {id} inserted vector {v}, which is {other:?} (a transaction is partly visible)"
                )),
            }
        }
    }
    for (id, want) in &model.vecs {
        match vec_map.get(id) {
            None => problems.push(format!("acknowledged vector {id} {want:?} is lost")),
            Some((grp, gsize, tid, ver, _)) => {
                if *ver < want.ver {
                    problems.push(format!(
                        "vector {id} is at version {ver}, version {} was acknowledged",
                        want.ver
                    ));
                }
                if let Some(ins) = want.insert {
                    if ins != (*grp, *gsize, *tid) {
                        problems.push(format!(
                            "vector {id} is in group {:?}, acknowledged as {ins:?}",
                            (grp, gsize, tid)
                        ));
                    }
                }
            }
        }
    }

    // k-NN through the index against brute force over the recovered rows.
    if has("vecs") && vecs.len() < EF_SEARCH {
        db.execute(&format!("SET hnsw.ef_search = {EF_SEARCH}"), params![])
            .map_err(e("set ef_search"))?;
        let knn_sql = format!("SELECT id, e <-> $1 FROM vecs ORDER BY e <-> $1 LIMIT {K}");
        // Make sure the comparison below is about the index: once it
        // exists, the query must be a VectorSearch through it.
        let has_index = db
            .schema_sql(Some("vecs"))
            .map_err(e("schema of vecs"))?
            .iter()
            .any(|s| s.to_ascii_lowercase().contains("using hnsw"));
        if has_index {
            let plan: Vec<String> = db
                .query(&format!("EXPLAIN {knn_sql}"), params![vec![0.0f32; DIMS]])
                .map_err(e("explain k-NN"))?
                .map(|r| r.get::<String>(0usize))
                .map_err(e("explain rows"))?;
            if !plan
                .iter()
                .any(|l| l.contains("VectorSearch vecs using vi"))
            {
                problems.push(format!("the k-NN query does not use index vi: {plan:?}"));
            }
            stats.knn_via_index += 1;
        }
        for _ in 0..3 {
            let q: Vec<f32> = (0..DIMS).map(|_| rng.random_range(-1.2f32..1.2)).collect();
            let got: Vec<(i64, f64)> = db
                .query(&knn_sql, &[Value::from(q.clone())])
                .map_err(e("k-NN query"))?
                .map(|r| Ok((r.get::<i64>(0usize)?, r.get::<f64>(1usize)?)))
                .map_err(e("k-NN rows"))?;
            let mut all: Vec<(f64, i64)> = vecs.iter().map(|(id, r)| (l2(&q, &r.4), *id)).collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let want: Vec<(f64, i64)> = all.into_iter().take(K).collect();
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()));
            let mut ok = got.len() == want.len();
            let mut seen = std::collections::BTreeSet::new();
            for (i, (id, d)) in got.iter().enumerate() {
                let exact = vec_map.get(id).map(|r| l2(&q, &r.4));
                let same = want.get(i).is_some_and(|(wd, wid)| {
                    // Equal up to ties: the same row, or one at the same
                    // distance.
                    exact.is_some_and(|x| close(x, *wd) && close(*d, x))
                        && (wid == id || close(*d, *wd))
                });
                ok &= same && seen.insert(*id);
            }
            if !ok {
                problems.push(format!(
                    "k-NN for {q:?}: index answered {got:?}, brute force over {} rows says {want:?}",
                    vecs.len()
                ));
            }
        }
    }
    drop(db);
    if problems.is_empty() {
        Ok(())
    } else {
        let n = problems.len();
        problems.truncate(20);
        Err(format!("{n} problem(s):\n  {}", problems.join("\n  ")))
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}")),
        Err(_) => default,
    }
}

#[test]
fn sigkill_loses_no_acknowledged_commit() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return; // we are a child (only `crash_kill_child` runs there anyway)
    }
    if !cfg!(unix) {
        eprintln!("crash_kill: skipped (needs Unix signals)");
        return;
    }
    let cycles = env_usize("CAIRN_CRASH_CYCLES", DEFAULT_CYCLES);
    let per_dir = env_usize("CAIRN_CRASH_CYCLES_PER_DIR", DEFAULT_CYCLES_PER_DIR).max(1);
    let seed = match std::env::var("CAIRN_CRASH_SEED") {
        Ok(v) => v.parse::<u64>().expect("CAIRN_CRASH_SEED must be a u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    };
    eprintln!("crash_kill: seed {seed} (CAIRN_CRASH_SEED={seed} to repeat the schedule), {cycles} cycles, fresh directory every {per_dir}");
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let mut stats = Stats::default();
    let mut ready_est = Duration::from_millis(100);
    let mut dir: Option<(tempfile::TempDir, Model)> = None;
    for cycle in 0..cycles {
        if cycle % per_dir == 0 {
            dir = None;
        }
        let (tmp, model) = dir.get_or_insert_with(|| {
            (
                tempfile::Builder::new()
                    .prefix("cairn-crash-kill-")
                    .tempdir()
                    .expect("temp dir"),
                Model::default(),
            )
        });
        let db_dir: PathBuf = tmp.path().join("db");
        let early = rng.random_range(0..8) == 0;
        let child_seed: u64 = rng.random();
        let run = run_child(&db_dir, child_seed, &mut rng, early, ready_est);
        if let Some(r) = run.ready_after {
            ready_est = (ready_est * 3 + r) / 4;
            stats.ready_time += r;
        } else {
            stats.killed_before_ready += 1;
        }
        stats.early_kills += usize::from(early);
        let mut failure = None;
        if !early && run.ready_after.is_none() {
            failure = Some(format!(
                "the child did not report ready (waited up to {READY_TIMEOUT:?}), it ended with {}; \
                 its stderr:\n{}",
                run.status, run.stderr
            ));
        } else if !killed_by_sigkill(&run.status) {
            failure = Some(format!(
                "the child was not killed by SIGKILL but ended with {} (ready after {:?}); its stderr:\n{}",
                run.status, run.ready_after, run.stderr
            ));
        }
        for line in &run.lines {
            if line.starts_with("ACK") {
                stats.acks += 1;
            }
            if let Err(e) = model.apply(line) {
                failure.get_or_insert(e);
            }
        }
        if failure.is_none() {
            let t = Instant::now();
            if let Err(e) = verify(&db_dir, model, &mut rng, &mut stats) {
                failure = Some(format!("{e}\nchild stderr:\n{}", run.stderr));
            }
            stats.verify_time += t.elapsed();
        }
        if let Some(f) = failure {
            let (tmp, _) = dir.take().expect("directory of the failed cycle");
            let kept = tmp.keep();
            panic!(
                "crash_kill: cycle {cycle} failed (seed {seed}, child seed {child_seed}, \
                 early kill {early}, database kept at {}):\n{f}",
                kept.join("db").display()
            );
        }
        stats.cycles += 1;
    }
    eprintln!(
        "crash_kill: {} cycles in {:.1?}: {} early kills, {} killed before ready, {} torn tails cut, \
         {} acks; largest: {} transfers, {} vectors, {} WAL records replayed, reopen {:.1?}; \
         {} cycles checked k-NN through the index; mean spawn-to-ready {:.1?}, mean verification {:.1?}",
        stats.cycles,
        started.elapsed(),
        stats.early_kills,
        stats.killed_before_ready,
        stats.torn_tails,
        stats.acks,
        stats.max_transfers,
        stats.max_vecs,
        stats.max_records_replayed,
        stats.max_reopen,
        stats.knn_via_index,
        stats.ready_time / (stats.cycles - stats.killed_before_ready).max(1) as u32,
        stats.verify_time / stats.cycles.max(1) as u32,
    );
}
