//! Durable commits per second: Cairn (`synchronous = full`, group commit)
//! against SQLite (rusqlite bundled, WAL mode, `synchronous = FULL`), with
//! 1, 4 and 16 concurrent writers doing the same transaction.
//!
//! ```text
//! cargo run --release -p cairn-benches --bin cairn-commit-bench -- \
//!     [--dir PATH] [--seconds 5] [--warmup 1] [--reps 2] [--writers 1,4,16] \
//!     [--accounts 10000] [--engines sqlite,cairn[,cairn-noroots][,cairn-mem]] [--keep]
//! cargo run --release -p cairn-benches --bin cairn-commit-bench -- --fsync-probe [--dir PATH]
//! ```
//!
//! The transaction is a bank transfer between two distinct random accounts
//! (of `--accounts`, default 10,000):
//!
//! ```sql
//! BEGIN;   -- SQLite: BEGIN IMMEDIATE
//! UPDATE accounts SET balance = balance - ? WHERE id = ?;
//! UPDATE accounts SET balance = balance + ? WHERE id = ?;
//! INSERT INTO transfers (src, dst, amount) VALUES (?, ?, ?);
//! COMMIT;
//! ```
//!
//! Every writer is a thread with its own connection (Cairn: `db.connect()`;
//! SQLite: its own `rusqlite::Connection` on the same file, `PRAGMA
//! journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000`)
//! and its own seeded RNG; statements are prepared once per thread. A Cairn
//! commit that fails with `ErrorKind::Conflict`, and a SQLite transaction
//! that gets `SQLITE_BUSY` anyway, is rolled back and retried (Cairn after
//! a 0.1-1.6 ms back-off); the retries are counted and reported. Latency is per transaction, from BEGIN to the
//! return of COMMIT, retries included.
//!
//! Every configuration (engine, writer count) gets a fresh database in its
//! own directory under `--dir` (default: a new directory under the system
//! temp dir, removed at the end unless `--keep`), runs `--warmup` seconds,
//! then counts the transactions that complete during `--seconds`. For each
//! repetition and writer count SQLite and Cairn run back to back (the order
//! alternates between repetitions) so that machine noise hits both alike.
//! After every run the bench checks that the total balance is unchanged and
//! that `transfers` holds one row per acknowledged commit; for Cairn it also
//! reads the WAL's batch headers to report how many commits shared each
//! fsync (the mean group size over warm-up and measurement).
//!
//! `--engines` picks engines (default `sqlite,cairn`); `cairn-mem` adds
//! Cairn in memory (no WAL, no fsync), the CPU cost of the transaction
//! alone; `cairn-noroots` adds Cairn exactly as `cairn` but opened with
//! `OpenOptions { state_roots: false, .. }` (no Merkle tries, no state root
//! per commit), and the summary then reports cairn/cairn-noroots per writer
//! count: what keeping state roots costs in commit throughput. Within a
//! rep, `cairn` and `cairn-noroots` swap order every rep.
//!
//! The file system holding `--dir` is printed (from `/proc/mounts`): on
//! tmpfs an fsync costs nothing and the numbers say nothing about
//! durability. `--fsync-probe` only times raw 512-byte writes + syncs in
//! `--dir` (append or overwrite of a preallocated file, fdatasync or fsync)
//! and exits.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SEED: u64 = 0xC0_4417;
const INITIAL_BALANCE: i64 = 1_000_000;

const SCHEMA: [&str; 2] = [
    "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)",
    "CREATE TABLE transfers (id INTEGER PRIMARY KEY, src INTEGER NOT NULL, dst INTEGER NOT NULL, amount INTEGER NOT NULL)",
];
const INSERT_ACCOUNT: &str = "INSERT INTO accounts (id, balance) VALUES (?, ?)";
const DEBIT: &str = "UPDATE accounts SET balance = balance - ? WHERE id = ?";
const CREDIT: &str = "UPDATE accounts SET balance = balance + ? WHERE id = ?";
const LOG_TRANSFER: &str = "INSERT INTO transfers (src, dst, amount) VALUES (?, ?, ?)";
const CHECK_BALANCE: &str = "SELECT SUM(balance) FROM accounts";
const CHECK_TRANSFERS: &str = "SELECT COUNT(*) FROM transfers";

struct Args {
    dir: Option<PathBuf>,
    seconds: f64,
    warmup: f64,
    reps: usize,
    writers: Vec<usize>,
    accounts: i64,
    engines: Vec<Engine>,
    keep: bool,
    fsync_probe: bool,
}

const USAGE: &str = "usage: cairn-commit-bench [--dir PATH] [--seconds 5] [--warmup 1] [--reps 2] \
[--writers 1,4,16] [--accounts 10000] [--engines sqlite,cairn,cairn-noroots,cairn-mem] [--keep] | --fsync-probe [--dir PATH]";

fn parse_args() -> Result<Args> {
    let mut a = Args {
        dir: None,
        seconds: 5.0,
        warmup: 1.0,
        reps: 2,
        writers: vec![1, 4, 16],
        accounts: 10_000,
        engines: vec![Engine::Sqlite, Engine::Cairn],
        keep: false,
        fsync_probe: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--dir" => a.dir = Some(PathBuf::from(val()?)),
            "--seconds" => a.seconds = val()?.parse().context("--seconds")?,
            "--warmup" => a.warmup = val()?.parse().context("--warmup")?,
            "--reps" => a.reps = val()?.parse::<usize>().context("--reps")?.max(1),
            "--writers" => {
                a.writers = val()?
                    .split(',')
                    .map(|s| s.trim().parse::<usize>())
                    .collect::<std::result::Result<_, _>>()
                    .context("--writers takes a comma-separated list of integers")?
            }
            "--accounts" => a.accounts = val()?.parse().context("--accounts")?,
            "--engines" => {
                a.engines = val()?
                    .split(',')
                    .map(|e| match e.trim() {
                        "sqlite" => Ok(Engine::Sqlite),
                        "cairn" => Ok(Engine::Cairn),
                        "cairn-noroots" => Ok(Engine::CairnNoRoots),
                        "cairn-mem" => Ok(Engine::CairnMem),
                        other => Err(anyhow::anyhow!("unknown engine {other}")),
                    })
                    .collect::<Result<_>>()?
            }
            "--keep" => a.keep = true,
            "--fsync-probe" => a.fsync_probe = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    if a.accounts < 2 {
        bail!("--accounts must be at least 2");
    }
    if a.writers.contains(&0) {
        bail!("--writers must be positive");
    }
    if a.seconds.is_nan() || a.seconds <= 0.0 || a.warmup.is_nan() || a.warmup < 0.0 {
        bail!("--seconds must be positive and --warmup not negative");
    }
    Ok(a)
}

// ---- the machine ------------------------------------------------------------

/// The file system holding `dir`, from `/proc/mounts` (longest mount point
/// that contains it): (type, device, mount point).
fn file_system(dir: &Path) -> Option<(String, String, String)> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    let mut best: Option<(usize, (String, String, String))> = None;
    for line in mounts.lines() {
        let mut f = line.split_whitespace();
        let (Some(dev), Some(mnt), Some(fstype)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let mnt = mnt.replace("\\040", " ");
        if dir.starts_with(&mnt) && best.as_ref().is_none_or(|b| mnt.len() >= b.0) {
            best = Some((mnt.len(), (fstype.to_string(), dev.to_string(), mnt)));
        }
    }
    best.map(|b| b.1)
}

/// CPU time this process has used (user + system), from `/proc/self/stat`
/// (assumes the usual 100 clock ticks per second).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

// ---- fsync probe ------------------------------------------------------------

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn fsync_probe(dir: &Path) -> Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    const OPS: usize = 400;
    const LIMIT: Duration = Duration::from_secs(3);
    const CHUNK: usize = 512;
    let path = dir.join("fsync-probe.dat");
    let chunk = vec![0xA5u8; CHUNK];
    println!(
        "fsync probe in {} ({CHUNK}-byte writes, up to {OPS} ops or {}s per variant)",
        dir.display(),
        LIMIT.as_secs()
    );
    println!(
        "{:<28} {:>6} {:>10} {:>10} {:>10} {:>12}",
        "variant", "ops", "mean_us", "p50_us", "p99_us", "max_ops/s"
    );
    // (name, overwrite a preallocated file, fsync rather than fdatasync).
    // Cairn's WAL appends and fdatasyncs; bundled SQLite (no
    // HAVE_FDATASYNC) fsyncs, and overwrites its WAL after checkpoints.
    for (variant, overwrite, full) in [
        ("append+fdatasync", false, false),
        ("overwrite+fdatasync", true, false),
        ("append+fsync", false, true),
        ("overwrite+fsync", true, true),
    ] {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("create {}", path.display()))?;
        if overwrite {
            // A preallocated, synced file: writes change no metadata.
            f.write_all(&vec![0u8; CHUNK * OPS])?;
            f.sync_all()?;
            f.seek(SeekFrom::Start(0))?;
        }
        let mut lat = Vec::with_capacity(OPS);
        let start = Instant::now();
        while lat.len() < OPS && start.elapsed() < LIMIT {
            let t = Instant::now();
            f.write_all(&chunk)?;
            if full {
                f.sync_all()?;
            } else {
                f.sync_data()?;
            }
            lat.push(t.elapsed().as_micros() as u64);
        }
        let mean = lat.iter().sum::<u64>() as f64 / lat.len().max(1) as f64;
        lat.sort_unstable();
        println!(
            "{:<28} {:>6} {:>10.0} {:>10} {:>10} {:>12.0}",
            variant,
            lat.len(),
            mean,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            1e6 / mean.max(1.0)
        );
    }
    std::fs::remove_file(&path).ok();
    Ok(())
}

// ---- the workload -----------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Engine {
    Sqlite,
    Cairn,
    /// Cairn in memory (no WAL, no fsync): the CPU cost of the transaction
    /// alone. Only with `--engines cairn-mem`.
    CairnMem,
    /// Cairn on disk as `Cairn`, opened with `state_roots: false`: the
    /// commit rate without the Merkle tries. Only with `--engines
    /// cairn-noroots`.
    CairnNoRoots,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Cairn => "cairn",
            Engine::CairnMem => "cairn-mem",
            Engine::CairnNoRoots => "cairn-noroots",
        }
    }
}

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// What one writer thread saw.
#[derive(Default)]
struct WorkerStats {
    /// Transactions that completed during the measured window.
    commits: u64,
    /// Their latencies (BEGIN to COMMIT returned, retries included), µs.
    latencies_us: Vec<u64>,
    /// Transactions in the window that had to retry at least once.
    conflicted: u64,
    /// Conflicts (Cairn) or SQLITE_BUSY (SQLite) retried in the window.
    retries: u64,
    /// Every acknowledged commit, warm-up and shutdown included.
    total_commits: u64,
    /// The most measured commits one writer made.
    top_writer: u64,
}

/// The loop every writer runs: picks a transfer, runs `txn` (which returns
/// how many times it had to retry), and counts the transactions that
/// complete while the phase is MEASURE.
fn drive(
    phase: &AtomicU8,
    seed: u64,
    accounts: i64,
    mut txn: impl FnMut(i64, i64, i64) -> Result<u64>,
) -> Result<WorkerStats> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut s = WorkerStats {
        latencies_us: Vec::with_capacity(1 << 16),
        ..WorkerStats::default()
    };
    while phase.load(Ordering::Acquire) != STOP {
        let src = rng.random_range(1..=accounts);
        let mut dst = rng.random_range(1..accounts);
        if dst >= src {
            dst += 1;
        }
        let amount = rng.random_range(1..=100i64);
        let t = Instant::now();
        let retries = txn(src, dst, amount)?;
        let lat = t.elapsed();
        s.total_commits += 1;
        if phase.load(Ordering::Acquire) == MEASURE {
            s.commits += 1;
            s.retries += retries;
            s.conflicted += u64::from(retries > 0);
            s.latencies_us.push(lat.as_micros() as u64);
        }
    }
    Ok(s)
}

fn sqlite_open(path: &Path) -> Result<rusqlite::Connection> {
    let c = rusqlite::Connection::open(path)
        .with_context(|| format!("sqlite open {}", path.display()))?;
    let mode: String = c.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!("sqlite: journal_mode is {mode}, not wal");
    }
    c.execute_batch("PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000;")?;
    let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
    if sync != 2 {
        bail!("sqlite: synchronous is {sync}, not 2 (FULL)");
    }
    Ok(c)
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn sqlite_transfer(c: &rusqlite::Connection, src: i64, dst: i64, amount: i64) -> Result<u64> {
    let mut retries = 0;
    loop {
        let attempt = (|| -> rusqlite::Result<()> {
            c.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
            c.prepare_cached(DEBIT)?.execute((amount, src))?;
            c.prepare_cached(CREDIT)?.execute((amount, dst))?;
            c.prepare_cached(LOG_TRANSFER)?
                .execute((src, dst, amount))?;
            c.prepare_cached("COMMIT")?.execute([]).map(|_| ())
        })();
        match attempt {
            Ok(()) => return Ok(retries),
            Err(e) if is_busy(&e) => {
                retries += 1;
                if !c.is_autocommit() {
                    c.execute_batch("ROLLBACK")?;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn sqlite_setup(path: &Path, accounts: i64) -> Result<()> {
    let c = sqlite_open(path)?;
    for sql in SCHEMA {
        c.execute(sql, [])?;
    }
    c.execute_batch("BEGIN")?;
    {
        let mut st = c.prepare(INSERT_ACCOUNT)?;
        for id in 1..=accounts {
            st.execute((id, INITIAL_BALANCE))?;
        }
    }
    c.execute_batch("COMMIT")?;
    Ok(())
}

fn sqlite_check(path: &Path) -> Result<(i64, i64)> {
    let c = sqlite_open(path)?;
    let sum: i64 = c.query_row(CHECK_BALANCE, [], |r| r.get(0))?;
    let n: i64 = c.query_row(CHECK_TRANSFERS, [], |r| r.get(0))?;
    Ok((sum, n))
}

fn cairn_open(dir: &Path, state_roots: bool) -> Result<cairn::Database> {
    let db = cairn::Database::open_with(
        dir,
        cairn::OpenOptions {
            synchronous: cairn::Synchronous::Full,
            state_roots,
            // The WAL is read after the database closes (commits per
            // fsync); a close checkpoint would delete it first.
            checkpoint_on_close: false,
            ..Default::default()
        },
    )
    .with_context(|| format!("cairn open {}", dir.display()))?;
    Ok(db)
}

fn cairn_setup(db: &cairn::Database, accounts: i64) -> Result<()> {
    for sql in SCHEMA {
        db.execute(sql, &[])?;
    }
    let tx = db.transaction()?;
    {
        let mut st = tx.prepare(INSERT_ACCOUNT)?;
        for id in 1..=accounts {
            st.execute(cairn::params![id, INITIAL_BALANCE])?;
        }
    }
    tx.commit()?;
    Ok(())
}

fn cairn_check(db: &cairn::Database) -> Result<(i64, i64)> {
    let sum: i64 = db.query_row(CHECK_BALANCE, &[], |r| r.get(0))?;
    let n: i64 = db.query_row(CHECK_TRANSFERS, &[], |r| r.get(0))?;
    Ok((sum, n))
}

/// Statements prepared once per Cairn writer.
struct CairnWriter<'a> {
    db: &'a cairn::Database,
    debit: cairn::Statement<'a>,
    credit: cairn::Statement<'a>,
    log: cairn::Statement<'a>,
}

impl<'a> CairnWriter<'a> {
    fn new(db: &'a cairn::Database) -> Result<CairnWriter<'a>> {
        Ok(CairnWriter {
            db,
            debit: db.prepare(DEBIT)?,
            credit: db.prepare(CREDIT)?,
            log: db.prepare(LOG_TRANSFER)?,
        })
    }

    fn transfer(&mut self, src: i64, dst: i64, amount: i64) -> Result<u64> {
        let mut retries = 0;
        loop {
            let attempt = (|| -> cairn::Result<()> {
                let tx = self.db.transaction()?;
                self.debit.execute(cairn::params![amount, src])?;
                self.credit.execute(cairn::params![amount, dst])?;
                self.log.execute(cairn::params![src, dst, amount])?;
                tx.commit()
            })();
            match attempt {
                Ok(()) => return Ok(retries),
                Err(e) if e.kind() == cairn::ErrorKind::Conflict => {
                    // The row this one lost to stays invisible to a new
                    // snapshot until its commit is durable (one fsync away):
                    // back off instead of spinning on the same conflict.
                    retries += 1;
                    std::thread::sleep(Duration::from_micros(50 << retries.min(5)));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Commit records and batches (each batch is one fsync under `full`) in a
/// Cairn database's WAL, read from the batch headers (layout:
/// `rfcs/0001-storage-format.md` 3.1-3.2: a 32-byte file header, then batches
/// of a 32-byte header — magic `BTCH`, record count u32, sequence u64,
/// synced-through u64, body length u32, crc u32 — and the body). Only call
/// it while the log is quiet.
fn wal_batches(db_dir: &Path) -> Result<(u64, u64)> {
    const FILE_HEADER: usize = 32;
    const BATCH_HEADER: usize = 32;
    let wal_dir = db_dir.join("wal");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&wal_dir)
        .with_context(|| format!("read {}", wal_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    files.sort();
    let le32 = |b: &[u8], at: usize| -> u32 {
        let mut a = [0u8; 4];
        a.copy_from_slice(&b[at..at + 4]);
        u32::from_le_bytes(a)
    };
    let (mut records, mut batches) = (0u64, 0u64);
    for f in files {
        let data = std::fs::read(&f)?;
        let mut off = FILE_HEADER;
        while off + BATCH_HEADER <= data.len() {
            if &data[off..off + 4] != b"BTCH" {
                break;
            }
            let count = le32(&data, off + 4) as u64;
            let body = le32(&data, off + 24) as usize;
            if off + BATCH_HEADER + body > data.len() {
                break;
            }
            records += count;
            batches += 1;
            off += BATCH_HEADER + body;
        }
    }
    Ok((records, batches))
}

/// One measured run of one engine with `n` writers.
struct Run {
    engine: Engine,
    writers: usize,
    secs: f64,
    commits: u64,
    conflicted: u64,
    retries: u64,
    latencies_us: Vec<u64>,
    /// Process CPU time over the window / wall time (1.0 = one core busy).
    cpu_cores: Option<f64>,
    /// Cairn: (commits, batches) the WAL got during warm-up + measurement.
    wal: Option<(u64, u64)>,
    /// Share of the commits made by the busiest writer (1/n is fair).
    top_share: f64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.commits as f64 / self.secs.max(f64::MIN_POSITIVE)
    }
}

struct Ctl {
    phase: AtomicU8,
    barrier: Barrier,
}

/// Starts the writers (each calls `worker(index, &ctl)`), runs warm-up and
/// the measured window, stops them and merges what they saw.
impl Run {
    fn new(
        engine: Engine,
        writers: usize,
        (secs, stats, cpu_cores): (f64, WorkerStats, Option<f64>),
        wal: Option<(u64, u64)>,
    ) -> Run {
        Run {
            engine,
            writers,
            secs,
            top_share: stats.top_writer as f64 / stats.commits.max(1) as f64,
            commits: stats.commits,
            conflicted: stats.conflicted,
            retries: stats.retries,
            latencies_us: stats.latencies_us,
            cpu_cores,
            wal,
        }
    }
}

fn measure(
    n: usize,
    args: &Args,
    worker: impl Fn(usize, &Ctl) -> Result<WorkerStats> + Sync,
) -> Result<(f64, WorkerStats, Option<f64>)> {
    let ctl = Ctl {
        phase: AtomicU8::new(WARMUP),
        barrier: Barrier::new(n + 1),
    };
    let (secs, cpu, results) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let ctl = &ctl;
                let worker = &worker;
                s.spawn(move || {
                    let r = worker(i, ctl);
                    if r.is_err() {
                        // Do not leave the others (or main) waiting.
                        ctl.phase.store(STOP, Ordering::Release);
                    }
                    r
                })
            })
            .collect();
        ctl.barrier.wait();
        std::thread::sleep(Duration::from_secs_f64(args.warmup));
        let cpu0 = cpu_time();
        let t0 = Instant::now();
        // A failed worker may already have said STOP.
        let _ = ctl
            .phase
            .compare_exchange(WARMUP, MEASURE, Ordering::AcqRel, Ordering::Acquire);
        std::thread::sleep(Duration::from_secs_f64(args.seconds));
        ctl.phase.store(STOP, Ordering::Release);
        let secs = t0.elapsed().as_secs_f64();
        let cpu = match (cpu0, cpu_time()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a).as_secs_f64() / secs),
            _ => None,
        };
        let results: Vec<Result<WorkerStats>> = handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r,
                Err(_) => Err(anyhow::anyhow!("a writer thread panicked")),
            })
            .collect();
        (secs, cpu, results)
    });
    let mut all = WorkerStats::default();
    for r in results {
        let r = r?;
        all.commits += r.commits;
        all.retries += r.retries;
        all.conflicted += r.conflicted;
        all.total_commits += r.total_commits;
        all.top_writer = all.top_writer.max(r.commits);
        all.latencies_us.extend(r.latencies_us);
    }
    Ok((secs, all, cpu))
}

fn check_invariants(engine: Engine, got: (i64, i64), args: &Args, total_commits: u64) {
    let want_sum = args.accounts * INITIAL_BALANCE;
    if got.0 != want_sum {
        println!(
            "WARNING: {}: total balance {} (expected {want_sum})",
            engine.name(),
            got.0
        );
    }
    if got.1 != total_commits as i64 {
        println!(
            "WARNING: {}: {} transfers stored, {total_commits} commits acknowledged",
            engine.name(),
            got.1
        );
    }
}

fn run_sqlite(base: &Path, n: usize, rep: usize, args: &Args) -> Result<Run> {
    let dir = base.join(format!("sqlite-w{n}-r{rep}"));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("bench.db");
    sqlite_setup(&path, args.accounts)?;
    let (secs, stats, cpu) = measure(n, args, |i, ctl| {
        let c = sqlite_open(&path);
        ctl.barrier.wait();
        let c = c?;
        let seed = SEED ^ ((rep as u64) << 32) ^ (i as u64 + 1);
        drive(&ctl.phase, seed, args.accounts, |s, d, a| {
            sqlite_transfer(&c, s, d, a)
        })
    })?;
    check_invariants(
        Engine::Sqlite,
        sqlite_check(&path)?,
        args,
        stats.total_commits,
    );
    if !args.keep {
        std::fs::remove_dir_all(&dir).ok();
    }
    Ok(Run::new(Engine::Sqlite, n, (secs, stats, cpu), None))
}

fn run_cairn(base: &Path, n: usize, rep: usize, args: &Args, engine: Engine) -> Result<Run> {
    let memory = engine == Engine::CairnMem;
    let dir = base.join(format!("{}-w{n}-r{rep}", engine.name()));
    let db = if memory {
        cairn::Database::open_in_memory()?
    } else {
        cairn_open(&dir, engine != Engine::CairnNoRoots)?
    };
    cairn_setup(&db, args.accounts)?;
    // Every setup commit was acknowledged, so synced: the log is quiet.
    let before = if memory { (0, 0) } else { wal_batches(&dir)? };
    let (secs, stats, cpu) = measure(n, args, |i, ctl| {
        let conn = db.connect();
        let w = CairnWriter::new(&conn);
        ctl.barrier.wait();
        let mut w = w?;
        let seed = SEED ^ ((rep as u64) << 32) ^ (i as u64 + 1);
        drive(&ctl.phase, seed, args.accounts, |s, d, a| {
            w.transfer(s, d, a)
        })
    })?;
    check_invariants(engine, cairn_check(&db)?, args, stats.total_commits);
    // Closing the last connection closes the log.
    drop(db);
    if memory {
        return Ok(Run::new(engine, n, (secs, stats, cpu), None));
    }
    let after = wal_batches(&dir)?;
    let wal = (after.0 - before.0, after.1 - before.1);
    if wal.0 != stats.total_commits {
        println!(
            "WARNING: cairn: the WAL got {} commit records, {} commits were acknowledged",
            wal.0, stats.total_commits
        );
    }
    if !args.keep {
        std::fs::remove_dir_all(&dir).ok();
    }
    Ok(Run::new(engine, n, (secs, stats, cpu), Some(wal)))
}

// ---- report -----------------------------------------------------------------

fn header() {
    println!(
        "{:>7} {:<13} {:>4} {:>10} {:>8} {:>8} {:>8} {:>5} {:>13} {:>6} {:>9}",
        "writers",
        "engine",
        "rep",
        "commits/s",
        "p50_ms",
        "p99_ms",
        "max_ms",
        "top%",
        "retried/tries",
        "cpu",
        "per_fsync"
    );
}

fn print_row(run: &mut Run, rep: &str) {
    run.latencies_us.sort_unstable();
    let lat = &run.latencies_us;
    let cpu = run
        .cpu_cores
        .map_or("-".to_string(), |c| format!("{:.0}%", c * 100.0));
    let per_fsync = run.wal.map_or("-".to_string(), |(r, b)| {
        format!("{:.2}", r as f64 / b.max(1) as f64)
    });
    println!(
        "{:>7} {:<13} {:>4} {:>10.0} {:>8.2} {:>8.2} {:>8.1} {:>5.0} {:>13} {:>6} {:>9}",
        run.writers,
        run.engine.name(),
        rep,
        run.rate(),
        percentile(lat, 0.5) as f64 / 1000.0,
        percentile(lat, 0.99) as f64 / 1000.0,
        lat.last().copied().unwrap_or(0) as f64 / 1000.0,
        run.top_share * 100.0,
        format!("{}/{}", run.conflicted, run.retries),
        cpu,
        per_fsync
    );
}

/// The runs of one engine and writer count, pooled: commits over total
/// time, latencies merged, CPU averaged, WAL counts added.
fn pooled(runs: &[Run], engine: Engine, writers: usize) -> Run {
    let sel: Vec<&Run> = runs
        .iter()
        .filter(|r| r.engine == engine && r.writers == writers)
        .collect();
    let cpu = sel.iter().map(|r| r.cpu_cores).sum::<Option<f64>>();
    Run {
        engine,
        writers,
        secs: sel.iter().map(|r| r.secs).sum(),
        commits: sel.iter().map(|r| r.commits).sum(),
        conflicted: sel.iter().map(|r| r.conflicted).sum(),
        retries: sel.iter().map(|r| r.retries).sum(),
        latencies_us: sel
            .iter()
            .flat_map(|r| r.latencies_us.iter().copied())
            .collect(),
        cpu_cores: cpu.map(|c| c / sel.len().max(1) as f64),
        wal: sel.iter().try_fold((0u64, 0u64), |acc, r| {
            r.wal.map(|(c, b)| (acc.0 + c, acc.1 + b))
        }),
        top_share: sel.iter().map(|r| r.top_share).fold(0.0, f64::max),
    }
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let base = args
        .dir
        .clone()
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("cairn-commit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&base).with_context(|| format!("create {}", base.display()))?;
    match file_system(&base) {
        Some((fstype, dev, mnt)) => {
            println!(
                "directory: {} (file system {fstype}, {dev} on {mnt})",
                base.display()
            );
            if matches!(fstype.as_str(), "tmpfs" | "ramfs") {
                println!("WARNING: {fstype} keeps files in memory: fsync is free, durability is not measured");
            }
        }
        None => println!(
            "directory: {} (file system unknown: no /proc/mounts)",
            base.display()
        ),
    }
    let result = if args.fsync_probe {
        fsync_probe(&base)
    } else {
        bench(&args, &base)
    };
    if !args.keep {
        std::fs::remove_dir_all(&base).ok();
    }
    result
}

/// Every configuration, then the summary.
fn bench(args: &Args, base: &Path) -> Result<()> {
    println!(
        "workload: transfer between 2 of {} accounts (2 UPDATE + 1 INSERT per transaction); \
         {}s warm-up + {}s measured per run; {} rep(s); writers {:?}; cores {}",
        args.accounts,
        args.warmup,
        args.seconds,
        args.reps,
        args.writers,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "cairn: synchronous=full (group commit), state roots on (cairn-noroots: off); sqlite {}: \
         journal_mode=WAL, synchronous=FULL, busy_timeout=10000, BEGIN IMMEDIATE",
        rusqlite::version()
    );
    println!(
        "latency: BEGIN .. COMMIT returned, retries included; top%: share of the commits made by \
         the busiest writer (100/n is fair); retried/tries: transactions that \
         retried / retries (cairn: Conflict, sqlite: SQLITE_BUSY); cpu: process CPU / wall \
         (100% = one core); per_fsync: cairn commits per WAL batch (one fsync each), warm-up \
         included"
    );
    println!();
    header();
    let mut runs: Vec<Run> = Vec::new();
    for rep in 0..args.reps {
        for &n in &args.writers {
            let order = if rep % 2 == 0 {
                [
                    Engine::Sqlite,
                    Engine::Cairn,
                    Engine::CairnNoRoots,
                    Engine::CairnMem,
                ]
            } else {
                [
                    Engine::CairnNoRoots,
                    Engine::Cairn,
                    Engine::Sqlite,
                    Engine::CairnMem,
                ]
            };
            for engine in order.into_iter().filter(|e| args.engines.contains(e)) {
                let mut run = match engine {
                    Engine::Sqlite => run_sqlite(base, n, rep, args)?,
                    engine => run_cairn(base, n, rep, args, engine)?,
                };
                print_row(&mut run, &(rep + 1).to_string());
                runs.push(run);
            }
        }
    }

    // Summary: all repetitions pooled (commits / time, latencies merged).
    println!();
    println!("summary ({} rep(s) pooled):", args.reps);
    header();
    let mut table = Vec::new();
    let mut noroots = Vec::new();
    for &n in &args.writers {
        let mut rates = [0.0; 4];
        for (i, engine) in [
            Engine::Sqlite,
            Engine::Cairn,
            Engine::CairnMem,
            Engine::CairnNoRoots,
        ]
        .into_iter()
        .enumerate()
        {
            if args.engines.contains(&engine) {
                let mut p = pooled(&runs, engine, n);
                print_row(&mut p, "all");
                rates[i] = p.rate();
            }
        }
        table.push((n, rates[0], rates[1]));
        noroots.push((n, rates[1], rates[3]));
    }
    if args.engines.contains(&Engine::Cairn) && args.engines.contains(&Engine::CairnNoRoots) {
        println!();
        println!("ratio cairn/cairn-noroots (commit throughput kept with state roots on):");
        for &(n, with, without) in &noroots {
            let ratio = with / without.max(f64::MIN_POSITIVE);
            let cost = (1.0 - ratio) * 100.0;
            println!(
                "  {n:>2} writers: {ratio:.3}x (cost {cost:.1}%); target cost <= 10%: {}",
                if cost <= 10.0 { "MET" } else { "NOT MET" }
            );
        }
    }
    if !(args.engines.contains(&Engine::Sqlite) && args.engines.contains(&Engine::Cairn)) {
        return Ok(());
    }
    println!();
    println!("ratio cairn/sqlite:");
    for &(n, s, c) in &table {
        println!("  {n:>2} writers: {:.2}x", c / s.max(f64::MIN_POSITIVE));
    }
    let lo = table.iter().min_by_key(|t| t.0);
    let hi = table.iter().max_by_key(|t| t.0);
    if let (Some(lo), Some(hi)) = (lo, hi) {
        if hi.0 > lo.0 {
            println!(
                "scaling {}/{} writers: cairn {:.2}x, sqlite {:.2}x",
                hi.0,
                lo.0,
                hi.2 / lo.2.max(f64::MIN_POSITIVE),
                hi.1 / lo.1.max(f64::MIN_POSITIVE)
            );
        }
    }
    let find = |n: usize| table.iter().find(|t| t.0 == n);
    if let (Some(one), Some(sixteen)) = (find(1), find(16)) {
        let ratio = sixteen.2 / sixteen.1.max(f64::MIN_POSITIVE);
        let scaling = sixteen.2 / one.2.max(f64::MIN_POSITIVE);
        println!(
            "target cairn/sqlite at 16 writers >= 1.0: {:.2}x {}",
            ratio,
            if ratio >= 1.0 { "MET" } else { "NOT MET" }
        );
        println!(
            "target cairn 16-writer / 1-writer >= 4.0: {:.2}x {}",
            scaling,
            if scaling >= 4.0 { "MET" } else { "NOT MET" }
        );
    }
    Ok(())
}
