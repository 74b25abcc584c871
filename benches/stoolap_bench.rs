//! Runs Stoolap's own published benchmark workload against SQLite
//! (rusqlite, bundled, in memory), Cairn (in memory) and Stoolap (the
//! `stoolap` crate, `memory://`) in one process, and prints per operation
//! the median time per execution in each engine and the ratios
//! Cairn/SQLite and Stoolap/SQLite, then their geometric means.
//!
//! ```text
//! cargo run --release -p cairn-benches --features stoolap --bin cairn-stoolap-bench \
//!     [-- --iters N] [--rounds N] [--only PREFIX,...] [--threads N] [--full] [--keep-stoolap-cache]
//! ```
//!
//! # The workload and where it comes from
//!
//! The schema (10,000 users, 30,000 orders), the 53 operations, their SQL
//! text, their parameters and their iteration counts are those of
//! Stoolap's `examples/benchmark.rs` (<https://github.com/stoolap/stoolap>,
//! snapshot 7e6634b = v0.4.0+23, identical to the file shipped in the
//! `stoolap` 0.4.2 crate used here; Copyright 2025 Stoolap Contributors,
//! Apache License 2.0). The SQL statements are reproduced because they
//! are the benchmark's definition; the harness around them is ours. The
//! operations run in Stoolap's order, including its writes (so the tables
//! every later operation reads are the ones Stoolap's own run reads): the
//! users table is loaded, operations 1–11 run, the orders table is
//! created and loaded, operations 12–53 run. Data come from a seeded RNG
//! (Stoolap's run is unseeded) and all three engines get the same rows.
//!
//! Dialect: no statement needed adapting. All three engines accept `$n`
//! parameters, `BOOLEAN` columns and the `true` literal (SQLite stores it
//! as the integer 1, so booleans are bound to SQLite as 0/1).
//!
//! # How it measures
//!
//! Every statement is prepared once per engine and executed repeatedly;
//! each execution is timed on its own and its result consumed in full
//! (every value of every row). A run of one operation: warm-up executions
//! (engines in turn), then `rounds` rounds in each of which every engine
//! runs its share of the iterations in a batch, the engine that goes first
//! rotating per round (A B C, B C A, C A B, ...), so that machine noise
//! hits all three alike. The reported time is the median over all timed
//! executions. The geometric mean of a ratio A/B is taken over the
//! operations on which neither A nor B errored or miscounted (each such
//! operation is listed, and the count of operations used is printed).
//!
//! Iterations: writes always run exactly Stoolap's counts (the state every
//! later operation sees depends on them, e.g. Batch INSERT adds 50,000
//! orders). Reads run Stoolap's count, unless the slowest engine's first
//! execution says that would take more than [`READ_BUDGET_PER_ENGINE`]; then
//! fewer (at least [`READ_ITERS_MIN`]). `--full` lifts that cap, `--iters N`
//! sets the per-round count of every read.
//!
//! Row counts (rows returned, or rows affected; for Batch INSERT the sum
//! over its 100 INSERTs) are compared with SQLite's on every execution,
//! warm-up included; a mismatch prints a WARNING, marks the operation and
//! takes that engine's ratios on it out of the geometric means.
//!
//! # Stoolap's caches, and how they are defeated
//!
//! Stoolap keeps query *results* across executions in: its semantic cache
//! (per database; `SELECT *` with a literal WHERE, no LIMIT/ORDER
//! BY/parameters; keyed by table, columns and predicate, answers a
//! stricter predicate by filtering a cached result), and thread-local
//! caches of uncorrelated scalar subquery results and IN-subquery value
//! sets (keyed by the subquery's SQL text), EXISTS semi-join hash sets
//! (keyed by table, column and predicate hash) and batch-aggregate maps.
//! All are invalidated only by DML on the table. Most of the workload's
//! statements have literal parameters, so varying a parameter would change
//! the workload; instead, before every Stoolap execution (outside the
//! timed region) the bench calls `Database::clear_semantic_cache` and
//! `stoolap::executor::context::clear_{scalar_subquery,in_subquery,
//! semi_join,batch_aggregate}_cache` on this thread (Stoolap fills those
//! thread-local caches in `executor/subquery.rs` and
//! `executor/index_optimizer.rs`, on the thread that runs the query, never
//! from its rayon workers; clearing them on the workers too would wake
//! the pool right before the timed execution). Its plan caches (the prepared statement's plan,
//! compiled predicates) stay, as SQLite's and Cairn's prepared statements
//! keep theirs. The semantic cache's hit counter is printed at the end
//! and must be 0. `--keep-stoolap-cache` skips the clearing (to see what
//! the caches are worth).
//!
//! # Threads
//!
//! Stoolap parallelises scans, aggregations and window functions on the
//! global rayon pool (one thread per core by default); `--threads N`
//! sizes that pool. Cairn has no intra-query parallelism and no knob for
//! it: every Cairn query runs on the calling thread, so Cairn's numbers
//! are single-thread numbers (large commits fold the Merkle state on two
//! helper threads). SQLite runs single-threaded. For a run of all three
//! on one core, use `taskset -c 0 ... --threads 1`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const USERS: i64 = 10_000;
/// Three orders per user, as in Stoolap's benchmark.
const ORDERS: i64 = USERS * 3;
const SEED: u64 = 0x5700_1A9B;
/// Stoolap's `WARMUP` (reads and the two UPDATEs; its INSERT and DELETE
/// operations run without warm-up, and so do ours).
const WARMUP_ITERS_MAX: usize = 10;
/// Warm-up stops early once one execution of the slowest engine times the
/// remaining warm-ups would pass this.
const WARMUP_BUDGET: Duration = Duration::from_millis(300);
/// Time one engine may spend on the timed executions of one read (see the
/// module doc); `--full` lifts it.
const READ_BUDGET_PER_ENGINE: Duration = Duration::from_secs(2);
const READ_ITERS_MIN: usize = 10;
const ROUNDS_DEFAULT: usize = 5;
/// Cairn slower than this many times SQLite is flagged.
const FLAG_RATIO: f64 = 2.0;
/// Rows per Batch INSERT transaction.
const BATCH_ROWS: i64 = 100;
/// Ids of users INSERT single adds (and DELETE by ID removes).
const INSERT_USER_BASE: i64 = USERS + 1000;
/// Ids of orders Batch INSERT adds.
const BATCH_ORDER_BASE: i64 = USERS * 10;

const ENGINES: [&str; 3] = ["SQLite", "Cairn", "Stoolap"];
const SQLITE: usize = 0;
const CAIRN: usize = 1;
const STOOLAP: usize = 2;

const USERS_SCHEMA: [&str; 3] = [
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, \
     age INTEGER NOT NULL, balance REAL NOT NULL, active BOOLEAN NOT NULL, created_at TEXT NOT NULL)",
    "CREATE INDEX idx_users_age ON users(age)",
    "CREATE INDEX idx_users_active ON users(active)",
];
const ORDERS_SCHEMA: [&str; 3] = [
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, amount REAL NOT NULL, \
     status TEXT NOT NULL, order_date TEXT NOT NULL)",
    "CREATE INDEX idx_orders_user_id ON orders(user_id)",
    "CREATE INDEX idx_orders_status ON orders(status)",
];
const INSERT_USER: &str = "INSERT INTO users (id, name, email, age, balance, active, created_at) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7)";
const INSERT_ORDER: &str = "INSERT INTO orders (id, user_id, amount, status, order_date) \
                            VALUES ($1, $2, $3, $4, $5)";
const STATUSES: [&str; 4] = ["pending", "completed", "shipped", "cancelled"];

/// A parameter value, converted to each engine's own value type.
#[derive(Clone, Debug)]
enum P {
    I(i64),
    F(f64),
    T(String),
    B(bool),
}

impl P {
    fn sqlite(&self) -> rusqlite::types::Value {
        use rusqlite::types::Value;
        match self {
            P::I(i) => Value::Integer(*i),
            P::F(f) => Value::Real(*f),
            P::T(s) => Value::Text(s.clone()),
            P::B(b) => Value::Integer(i64::from(*b)),
        }
    }

    fn cairn(&self) -> cairn::Value {
        match self {
            P::I(i) => cairn::Value::Integer(*i),
            P::F(f) => cairn::Value::Real(*f),
            P::T(s) => cairn::Value::text(s),
            P::B(b) => cairn::Value::Boolean(*b),
        }
    }

    fn stoolap(&self) -> stoolap::Value {
        match self {
            P::I(i) => stoolap::Value::Integer(*i),
            P::F(f) => stoolap::Value::Float(*f),
            P::T(s) => stoolap::Value::text(s.as_str()),
            P::B(b) => stoolap::Value::Boolean(*b),
        }
    }
}

/// What one execution of an operation does with its parameter rows.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// One query; its rows are consumed and counted.
    Read,
    /// One statement per parameter row; rows affected are summed.
    Write,
    /// Like `Write`, inside `BEGIN` ... `COMMIT`.
    Batch,
}

/// The parameter rows of one execution (one row except for `Batch`).
type Exec = Vec<Vec<P>>;

/// One operation of the workload.
struct Op {
    name: &'static str,
    sql: String,
    kind: Kind,
    /// Stoolap's timed iteration count for this operation.
    iters_published: usize,
    warmup: bool,
    params: Box<dyn FnMut(&mut StdRng, usize) -> Exec>,
}

fn die(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("cairn-stoolap-bench: {what}: {e}");
    std::process::exit(1)
}

/// The three databases, side by side.
struct Engines {
    sqlite: rusqlite::Connection,
    cairn: cairn::Database,
    stoolap: stoolap::Database,
    defeat_stoolap_cache: bool,
}

impl Engines {
    fn new(defeat_stoolap_cache: bool) -> Engines {
        Engines {
            sqlite: rusqlite::Connection::open_in_memory()
                .unwrap_or_else(|e| die("sqlite open", e)),
            cairn: cairn::Database::open_in_memory().unwrap_or_else(|e| die("cairn open", e)),
            stoolap: stoolap::Database::open("memory://")
                .unwrap_or_else(|e| die("stoolap open", e)),
            defeat_stoolap_cache,
        }
    }

    /// Runs a statement without parameters on all three; setup only.
    fn execute_all(&self, sql: &str) {
        self.sqlite
            .execute(sql, [])
            .unwrap_or_else(|e| die(&format!("sqlite: {sql}"), e));
        self.cairn
            .execute(sql, &[])
            .unwrap_or_else(|e| die(&format!("cairn: {sql}"), e));
        self.stoolap
            .execute(sql, ())
            .unwrap_or_else(|e| die(&format!("stoolap: {sql}"), e));
    }

    /// Inserts `rows` with `sql` into every engine, in one transaction each.
    fn load(&self, sql: &str, rows: &[Vec<P>]) {
        let mut prepared = Prepared::new(self, sql);
        let exec: Exec = rows.to_vec();
        for (engine, name) in ENGINES.iter().enumerate() {
            match prepared.run(self, engine, Kind::Batch, &exec) {
                Ok((_, n)) if n == rows.len() as u64 => {}
                Ok((_, n)) => die(
                    &format!("{name} load"),
                    format!("{n} of {} rows", rows.len()),
                ),
                Err(e) => die(&format!("{name} load"), e),
            }
        }
    }

    /// Rows of `table` in each engine (setup check).
    fn counts(&self, table: &str) -> [i64; 3] {
        let sql = format!("SELECT count(*) FROM {table}");
        [
            self.sqlite
                .query_row(&sql, [], |r| r.get(0))
                .unwrap_or_else(|e| die("sqlite count", e)),
            self.cairn
                .query_row(&sql, &[], |r| r.get(0))
                .unwrap_or_else(|e| die("cairn count", e)),
            self.stoolap
                .query_one(&sql, ())
                .unwrap_or_else(|e| die("stoolap count", e)),
        ]
    }

    /// Empties every Stoolap cache that holds query results (see the
    /// module doc).
    fn clear_stoolap_caches(&self) {
        use stoolap::executor::context;
        if !self.defeat_stoolap_cache {
            return;
        }
        self.stoolap
            .clear_semantic_cache()
            .unwrap_or_else(|e| die("stoolap clear_semantic_cache", e));
        context::clear_scalar_subquery_cache();
        context::clear_in_subquery_cache();
        context::clear_semi_join_cache();
        context::clear_batch_aggregate_cache();
    }
}

/// One operation's statement, prepared in each engine (or the error that
/// preparing it gave).
struct Prepared<'a> {
    sqlite: Result<rusqlite::Statement<'a>, String>,
    cairn: Result<cairn::Statement<'a>, String>,
    stoolap: Result<stoolap::Statement, String>,
}

impl<'a> Prepared<'a> {
    fn new(engines: &'a Engines, sql: &str) -> Prepared<'a> {
        Prepared {
            sqlite: engines.sqlite.prepare(sql).map_err(|e| e.to_string()),
            cairn: engines.cairn.prepare(sql).map_err(|e| e.to_string()),
            stoolap: engines.stoolap.prepare(sql).map_err(|e| e.to_string()),
        }
    }

    /// The error preparing the statement gave `engine`, if any.
    fn error(&self, engine: usize) -> Option<String> {
        match engine {
            SQLITE => self.sqlite.as_ref().err().cloned(),
            CAIRN => self.cairn.as_ref().err().cloned(),
            _ => self.stoolap.as_ref().err().cloned(),
        }
    }

    /// Executes once on `engine`; returns the time taken and the row count.
    /// Parameter conversion and cache clearing are not timed.
    fn run(
        &mut self,
        engines: &Engines,
        engine: usize,
        kind: Kind,
        exec: &Exec,
    ) -> Result<(Duration, u64), String> {
        let unprepared = |e: &String| format!("not prepared: {e}");
        match engine {
            SQLITE => {
                let st = self.sqlite.as_mut().map_err(|e| unprepared(e))?;
                run_sqlite(engines, st, kind, exec).map_err(|e| e.to_string())
            }
            CAIRN => {
                let st = self.cairn.as_mut().map_err(|e| unprepared(e))?;
                run_cairn(engines, st, kind, exec).map_err(|e| e.to_string())
            }
            _ => {
                let st = self.stoolap.as_ref().map_err(unprepared)?;
                engines.clear_stoolap_caches();
                run_stoolap(engines, st, kind, exec).map_err(|e| e.to_string())
            }
        }
    }
}

fn run_sqlite(
    engines: &Engines,
    st: &mut rusqlite::Statement<'_>,
    kind: Kind,
    exec: &Exec,
) -> rusqlite::Result<(Duration, u64)> {
    let params: Vec<Vec<rusqlite::types::Value>> = exec
        .iter()
        .map(|r| r.iter().map(P::sqlite).collect())
        .collect();
    let t = Instant::now();
    let n = if kind == Kind::Read {
        let ncols = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(params[0].iter()))?;
        let mut n = 0u64;
        while let Some(row) = rows.next()? {
            for i in 0..ncols {
                black_box(row.get_ref(i)?);
            }
            n += 1;
        }
        n
    } else {
        if kind == Kind::Batch {
            engines.sqlite.execute("BEGIN", [])?;
        }
        let mut n = 0u64;
        for p in &params {
            n += st.execute(rusqlite::params_from_iter(p.iter()))? as u64;
        }
        if kind == Kind::Batch {
            engines.sqlite.execute("COMMIT", [])?;
        }
        n
    };
    Ok((t.elapsed(), n))
}

fn run_cairn(
    engines: &Engines,
    st: &mut cairn::Statement<'_>,
    kind: Kind,
    exec: &Exec,
) -> cairn::Result<(Duration, u64)> {
    let params: Vec<Vec<cairn::Value>> = exec
        .iter()
        .map(|r| r.iter().map(P::cairn).collect())
        .collect();
    let t = Instant::now();
    let n = if kind == Kind::Read {
        let mut rows = st.query(&params[0])?;
        let mut n = 0u64;
        while let Some(row) = rows.next()? {
            for v in row.values() {
                black_box(v);
            }
            n += 1;
        }
        n
    } else {
        if kind == Kind::Batch {
            engines.cairn.execute("BEGIN", &[])?;
        }
        let mut n = 0u64;
        for p in &params {
            n += st.execute(p)?;
        }
        if kind == Kind::Batch {
            engines.cairn.execute("COMMIT", &[])?;
        }
        n
    };
    Ok((t.elapsed(), n))
}

fn run_stoolap(
    engines: &Engines,
    st: &stoolap::Statement,
    kind: Kind,
    exec: &Exec,
) -> stoolap::Result<(Duration, u64)> {
    let mut params: Vec<Vec<stoolap::Value>> = exec
        .iter()
        .map(|r| r.iter().map(P::stoolap).collect())
        .collect();
    let t = Instant::now();
    let n = if kind == Kind::Read {
        let mut n = 0u64;
        for row in st.query(std::mem::take(&mut params[0]))? {
            let row = row?;
            for i in 0..row.len() {
                black_box(row.get_value(i));
            }
            n += 1;
        }
        n
    } else {
        if kind == Kind::Batch {
            engines.stoolap.execute("BEGIN", ())?;
        }
        let mut n = 0u64;
        for p in params {
            n += st.execute(p)? as u64;
        }
        if kind == Kind::Batch {
            engines.stoolap.execute("COMMIT", ())?;
        }
        n
    };
    Ok((t.elapsed(), n))
}

/// What one operation measured.
struct OpResult {
    no: usize,
    name: &'static str,
    iters: usize,
    /// Median microseconds per execution, per engine (`None`: errored).
    median_us: [Option<f64>; 3],
    /// SQLite's row count of the last execution.
    rows: u64,
    errors: Vec<String>,
    mismatches: Vec<String>,
    /// Per engine: it errored, or its row counts differ from SQLite's
    /// (SQLite: it errored). Its ratios leave the geometric means.
    bad: [bool; 3],
}

impl OpResult {
    fn clean(&self) -> bool {
        self.errors.is_empty() && self.mismatches.is_empty()
    }

    /// Whether `engine`'s ratio to `base` may enter a geometric mean.
    fn usable(&self, engine: usize, base: usize) -> bool {
        !self.bad[engine] && !self.bad[base]
    }

    /// `engine`'s time over `base`'s.
    fn ratio(&self, engine: usize, base: usize) -> Option<f64> {
        Some(self.median_us[engine]? / self.median_us[base]?.max(1e-3))
    }
}

fn median_us(mut v: Vec<Duration>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort();
    let mid = v.len() / 2;
    let d = if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2
    };
    Some(d.as_secs_f64() * 1e6)
}

/// Run settings from the command line.
struct Settings {
    iters_per_round: Option<usize>,
    rounds: usize,
    only: Option<String>,
    threads: Option<usize>,
    full: bool,
    keep_stoolap_cache: bool,
}

/// The per-operation state of a run: the parameter rows of every
/// execution, and each engine's times, counts and first error.
struct Run<'a> {
    prepared: Prepared<'a>,
    kind: Kind,
    params: Box<dyn FnMut(&mut StdRng, usize) -> Exec>,
    rng: StdRng,
    execs: Vec<Exec>,
    times: [Vec<Duration>; 3],
    counts: [Vec<Option<u64>>; 3],
    errors: [Option<String>; 3],
}

impl Run<'_> {
    /// Makes the parameters of the first `n` executions (the same for
    /// every engine).
    fn generate(&mut self, n: usize) {
        while self.execs.len() < n {
            let i = self.execs.len();
            let exec = (self.params)(&mut self.rng, i);
            self.execs.push(exec);
        }
        for c in &mut self.counts {
            c.resize(n.max(c.len()), None);
        }
    }

    /// One execution per engine, then more while they are cheap; the
    /// first one's times stay in `times` for [`Run::slowest`]. Returns how
    /// many executions were warm-ups.
    fn warm_up(&mut self, engines: &Engines) -> usize {
        self.generate(1);
        for e in 0..ENGINES.len() {
            self.step(engines, e, 0, true);
        }
        let one = self.slowest().max(Duration::from_micros(1));
        let fit = (WARMUP_BUDGET.as_nanos() / one.as_nanos()) as usize;
        let warmup = fit.clamp(1, WARMUP_ITERS_MAX);
        self.generate(warmup);
        for i in 1..warmup {
            for e in 0..ENGINES.len() {
                self.step(engines, e, i, false);
            }
        }
        warmup
    }

    /// Runs execution `i` on `engine` (unless it has errored already).
    fn step(&mut self, engines: &Engines, engine: usize, i: usize, timed: bool) {
        if self.errors[engine].is_some() {
            return;
        }
        match self
            .prepared
            .run(engines, engine, self.kind, &self.execs[i])
        {
            Ok((t, n)) => {
                self.counts[engine][i] = Some(n);
                if timed {
                    self.times[engine].push(t);
                }
            }
            Err(e) => self.errors[engine] = Some(format!("execution {i}: {e}")),
        }
    }

    /// The longest time any engine took for one execution so far.
    fn slowest(&self) -> Duration {
        self.times
            .iter()
            .flatten()
            .max()
            .copied()
            .unwrap_or_default()
    }
}

/// Splits `total` executions into `rounds` near-equal shares.
fn share(total: usize, rounds: usize, round: usize) -> usize {
    total / rounds + usize::from(round < total % rounds)
}

fn bench(engines: &Engines, mut op: Op, no: usize, s: &Settings) -> OpResult {
    let params = std::mem::replace(&mut op.params, Box::new(|_, _| Vec::new()));
    let mut run = Run {
        prepared: Prepared::new(engines, &op.sql),
        kind: op.kind,
        params,
        rng: StdRng::seed_from_u64(SEED ^ (no as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        execs: Vec::new(),
        times: Default::default(),
        counts: Default::default(),
        errors: Default::default(),
    };
    for e in 0..ENGINES.len() {
        run.errors[e] = run.prepared.error(e).map(|m| format!("prepare: {m}"));
    }
    let warmup = if op.warmup { run.warm_up(engines) } else { 0 };
    let slowest = run.slowest().max(Duration::from_micros(1));
    run.times = Default::default();

    let iters = timed_iters(&op, s, slowest);
    let rounds = s.rounds.min(iters).max(1);
    run.generate(warmup + iters);
    let mut next = [warmup; 3];
    for round in 0..rounds {
        for k in 0..ENGINES.len() {
            let e = (round + k) % ENGINES.len();
            for _ in 0..share(iters, rounds, round) {
                run.step(engines, e, next[e], true);
                next[e] += 1;
            }
        }
    }
    finish(run, no, op.name, iters)
}

/// How many timed executions each engine runs of `op`.
fn timed_iters(op: &Op, s: &Settings, slowest: Duration) -> usize {
    if op.kind != Kind::Read {
        return op.iters_published;
    }
    if let Some(n) = s.iters_per_round {
        return n * s.rounds;
    }
    if s.full {
        return op.iters_published;
    }
    let fit = (READ_BUDGET_PER_ENGINE.as_nanos() / slowest.as_nanos()) as usize;
    fit.clamp(READ_ITERS_MIN.min(op.iters_published), op.iters_published)
}

/// Compares every engine's row counts with SQLite's and takes medians.
fn finish(run: Run, no: usize, name: &'static str, iters: usize) -> OpResult {
    let mut errors = Vec::new();
    let mut mismatches = Vec::new();
    let mut bad = [false; 3];
    for (e, err) in run.errors.iter().enumerate() {
        if let Some(m) = err {
            errors.push(format!("{}: {m}", ENGINES[e]));
            bad[e] = true;
        }
    }
    let reference = &run.counts[SQLITE];
    for e in [CAIRN, STOOLAP] {
        let diff = (0..reference.len())
            .filter(|&i| matches!((reference[i], run.counts[e][i]), (Some(a), Some(b)) if a != b));
        let n = diff.clone().count();
        if let Some(i) = diff.clone().next() {
            bad[e] = true;
            mismatches.push(format!(
                "{}: {n} of {} executions differ from SQLite; first: execution {i}: SQLite {} rows, {} {} rows",
                ENGINES[e],
                reference.len(),
                reference[i].unwrap_or(0),
                ENGINES[e],
                run.counts[e][i].unwrap_or(0)
            ));
        }
    }
    let [t0, t1, t2] = run.times;
    OpResult {
        no,
        name,
        iters,
        median_us: [median_us(t0), median_us(t1), median_us(t2)],
        rows: reference
            .iter()
            .rev()
            .flatten()
            .next()
            .copied()
            .unwrap_or(0),
        errors,
        mismatches,
        bad,
    }
}

fn read(name: &'static str, iters: usize, sql: &str) -> Op {
    read_with(name, iters, sql, |_, _| vec![])
}

fn read_with(
    name: &'static str,
    iters: usize,
    sql: &str,
    mut params: impl FnMut(&mut StdRng, usize) -> Vec<P> + 'static,
) -> Op {
    Op {
        name,
        sql: sql.to_string(),
        kind: Kind::Read,
        iters_published: iters,
        warmup: true,
        params: Box::new(move |r, i| vec![params(r, i)]),
    }
}

fn write(
    name: &'static str,
    iters: usize,
    warmup: bool,
    sql: &str,
    mut params: impl FnMut(&mut StdRng, usize) -> Vec<P> + 'static,
) -> Op {
    Op {
        name,
        sql: sql.to_string(),
        kind: Kind::Write,
        iters_published: iters,
        warmup,
        params: Box::new(move |r, i| vec![params(r, i)]),
    }
}

fn user_row(rng: &mut StdRng, id: i64) -> Vec<P> {
    vec![
        P::I(id),
        P::T(format!("User_{id}")),
        P::T(format!("user{id}@example.com")),
        P::I(rng.random_range(18..80)),
        P::F(rng.random_range(0.0..100000.0)),
        P::B(rng.random_bool(0.7)),
        P::T("2024-01-01 00:00:00".into()),
    ]
}

fn order_row(rng: &mut StdRng, id: i64) -> Vec<P> {
    vec![
        P::I(id),
        P::I(rng.random_range(1..=USERS)),
        P::F(rng.random_range(10.0..1000.0)),
        P::T(STATUSES[rng.random_range(0..STATUSES.len())].into()),
        P::T("2024-01-15".into()),
    ]
}

/// Stoolap's iteration counts: `ITERATIONS`, `ITERATIONS_MEDIUM`,
/// `ITERATIONS_HEAVY`, and the literal counts of some operations.
const IT: usize = 500;
const IT_MEDIUM: usize = 250;
const IT_HEAVY: usize = 50;

/// Operations 1–11: the users table only.
fn users_operations() -> Vec<Op> {
    let cycle_id = |i: usize| P::I((i as i64 % USERS) + 1);
    vec![
        read_with("SELECT by ID", IT, "SELECT * FROM users WHERE id = $1", move |_, i| vec![cycle_id(i)]),
        read_with("SELECT by index (exact)", IT, "SELECT * FROM users WHERE age = $1", |_, i| {
            vec![P::I((i % 62) as i64 + 18)]
        }),
        read_with("SELECT by index (range)", IT, "SELECT * FROM users WHERE age >= $1 AND age <= $2", |_, _| {
            vec![P::I(30), P::I(40)]
        }),
        read("SELECT complex", IT, "SELECT id, name, balance FROM users WHERE age >= 25 AND age <= 45 AND active = true ORDER BY balance DESC LIMIT 100"),
        read("SELECT * (full scan)", IT_HEAVY, "SELECT * FROM users"),
        write("UPDATE by ID", IT, true, "UPDATE users SET balance = $1 WHERE id = $2", move |r, i| {
            vec![P::F(r.random_range(0.0..100000.0)), cycle_id(i)]
        }),
        // Stoolap's comment: a small range, like DELETE complex.
        write("UPDATE complex", IT, true, "UPDATE users SET balance = $1 WHERE age >= $2 AND age <= $3 AND active = true", |r, _| {
            vec![P::F(r.random_range(0.0..100000.0)), P::I(27), P::I(28)]
        }),
        write("INSERT single", IT, false, INSERT_USER, |r, i| {
            let id = INSERT_USER_BASE + i as i64;
            vec![
                P::I(id),
                P::T(format!("New_{id}")),
                P::T(format!("new{id}@example.com")),
                P::I(r.random_range(18..80)),
                P::F(100.0),
                P::B(true),
                P::T("2024-01-01 00:00:00".into()),
            ]
        }),
        write("DELETE by ID", IT, false, "DELETE FROM users WHERE id = $1", |_, i| {
            vec![P::I(INSERT_USER_BASE + i as i64)]
        }),
        // The first execution deletes every active user aged 25–26; the
        // others find none (as in Stoolap's run).
        write("DELETE complex", IT, false, "DELETE FROM users WHERE age >= $1 AND age <= $2 AND active = true", |_, _| {
            vec![P::I(25), P::I(26)]
        }),
        read("Aggregation (GROUP BY)", IT_MEDIUM, "SELECT age, COUNT(*), AVG(balance) FROM users GROUP BY age"),
    ]
}

/// Operations 12–24 ("Advanced Operations"), after the orders table exists.
fn advanced_operations() -> Vec<Op> {
    vec![
        read("INNER JOIN", 100, "SELECT u.name, o.amount FROM users u INNER JOIN orders o ON u.id = o.user_id WHERE o.status = 'completed' LIMIT 100"),
        read("LEFT JOIN + GROUP BY", 100, "SELECT u.name, COUNT(o.id) as order_count, SUM(o.amount) as total FROM users u LEFT JOIN orders o ON u.id = o.user_id GROUP BY u.id, u.name LIMIT 100"),
        read("Scalar subquery", IT, "SELECT name, balance, (SELECT AVG(balance) FROM users) as avg_balance FROM users WHERE balance > (SELECT AVG(balance) FROM users) LIMIT 100"),
        read("IN subquery", 10, "SELECT * FROM users WHERE id IN (SELECT user_id FROM orders WHERE status = 'completed') LIMIT 100"),
        read("EXISTS subquery", 100, "SELECT * FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.amount > 500) LIMIT 100"),
        read("CTE + JOIN", 20, "WITH high_value AS (SELECT user_id, SUM(amount) as total FROM orders GROUP BY user_id HAVING SUM(amount) > 1000) SELECT u.name, h.total FROM users u INNER JOIN high_value h ON u.id = h.user_id LIMIT 100"),
        read("Window ROW_NUMBER", IT, "SELECT name, balance, ROW_NUMBER() OVER (ORDER BY balance DESC) as rank FROM users LIMIT 100"),
        read("Window ROW_NUMBER (PK)", IT, "SELECT name, ROW_NUMBER() OVER (ORDER BY id) as rank FROM users LIMIT 100"),
        read("Window PARTITION BY", IT, "SELECT name, age, balance, RANK() OVER (PARTITION BY age ORDER BY balance DESC) as age_rank FROM users LIMIT 100"),
        read("UNION ALL", IT, "SELECT name, 'high' as category FROM users WHERE balance > 50000 UNION ALL SELECT name, 'low' as category FROM users WHERE balance <= 50000 LIMIT 100"),
        read("CASE expression", IT, "SELECT name, CASE WHEN balance > 75000 THEN 'platinum' WHEN balance > 50000 THEN 'gold' WHEN balance > 25000 THEN 'silver' ELSE 'bronze' END as tier FROM users LIMIT 100"),
        read("Complex JOIN+GROUP+HAVING", 20, "SELECT u.name, COUNT(DISTINCT o.id) as orders, SUM(o.amount) as total FROM users u INNER JOIN orders o ON u.id = o.user_id WHERE u.active = true AND o.status IN ('completed', 'shipped') GROUP BY u.id, u.name HAVING COUNT(o.id) > 1 LIMIT 50"),
        // 100 single-row INSERTs (user 1, fresh ids) in one transaction.
        Op {
            name: "Batch INSERT (100 rows)",
            sql: INSERT_ORDER.to_string(),
            kind: Kind::Batch,
            iters_published: IT,
            warmup: false,
            params: Box::new(|_, i| {
                let base = BATCH_ORDER_BASE + i as i64 * BATCH_ROWS;
                (0..BATCH_ROWS)
                    .map(|k| vec![P::I(base + k), P::I(1), P::F(100.0), P::T("pending".into()), P::T("2024-02-01".into())])
                    .collect()
            }),
        },
    ]
}

/// Operations 25–53 ("Bottleneck Hunters").
fn bottleneck_operations() -> Vec<Op> {
    vec![
        read("DISTINCT (no ORDER)", IT, "SELECT DISTINCT age FROM users"),
        read("DISTINCT + ORDER BY", IT, "SELECT DISTINCT age FROM users ORDER BY age"),
        read("COUNT DISTINCT", IT, "SELECT COUNT(DISTINCT age) FROM users"),
        read("LIKE prefix (User_1%)", IT, "SELECT * FROM users WHERE name LIKE 'User_1%' LIMIT 100"),
        read("LIKE contains (%50%)", IT, "SELECT * FROM users WHERE email LIKE '%50%' LIMIT 100"),
        read("OR conditions (3 vals)", IT, "SELECT * FROM users WHERE age = 25 OR age = 50 OR age = 75 LIMIT 100"),
        read("IN list (7 values)", IT, "SELECT * FROM users WHERE age IN (20, 25, 30, 35, 40, 45, 50) LIMIT 100"),
        read("NOT IN subquery", 10, "SELECT * FROM users WHERE id NOT IN (SELECT user_id FROM orders WHERE status = 'cancelled') LIMIT 100"),
        read("NOT EXISTS subquery", 100, "SELECT * FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.status = 'cancelled') LIMIT 100"),
        read("OFFSET pagination (5000)", IT, "SELECT * FROM users ORDER BY id LIMIT 100 OFFSET 5000"),
        read("Multi-col ORDER BY (3)", IT, "SELECT * FROM users ORDER BY age DESC, balance ASC, name LIMIT 100"),
        read("Self JOIN (same age)", 100, "SELECT u1.name, u2.name, u1.age FROM users u1 INNER JOIN users u2 ON u1.age = u2.age AND u1.id < u2.id LIMIT 100"),
        read("Multi window funcs (3)", IT, "SELECT name, balance, ROW_NUMBER() OVER (ORDER BY balance DESC) as rn, RANK() OVER (ORDER BY balance DESC) as rnk, LAG(balance) OVER (ORDER BY balance DESC) as prev_bal FROM users LIMIT 100"),
        read("Nested subquery (3 lvl)", 20, "SELECT * FROM users WHERE id IN (SELECT user_id FROM orders WHERE amount > (SELECT AVG(amount) FROM orders)) LIMIT 100"),
        read("Multi aggregates (6)", IT, "SELECT COUNT(*), SUM(balance), AVG(balance), MIN(balance), MAX(balance), COUNT(DISTINCT age) FROM users"),
        read("COALESCE + IS NOT NULL", IT, "SELECT name, COALESCE(balance, 0) as bal FROM users WHERE balance IS NOT NULL LIMIT 100"),
        read("Expr in WHERE (funcs)", IT, "SELECT * FROM users WHERE LENGTH(name) > 7 AND UPPER(name) LIKE 'USER_%' LIMIT 100"),
        read("Math expressions", IT, "SELECT name, balance * 1.1 as new_bal, ROUND(balance / 1000, 2) as k_bal, ABS(balance - 50000) as diff FROM users LIMIT 100"),
        read("String concat (||)", IT, "SELECT name || ' (' || email || ')' as full_info FROM users LIMIT 100"),
        read("Large result (no LIMIT)", 20, "SELECT id, name, balance FROM users WHERE active = true"),
        read("Multiple CTEs (2)", 100, "WITH young AS (SELECT * FROM users WHERE age < 30), rich AS (SELECT * FROM users WHERE balance > 70000) SELECT y.name, r.name FROM young y INNER JOIN rich r ON y.id = r.id LIMIT 50"),
        read("Correlated in SELECT", 100, "SELECT u.name, (SELECT COUNT(*) FROM orders o WHERE o.user_id = u.id) as order_count FROM users u LIMIT 100"),
        read("BETWEEN (non-indexed)", IT, "SELECT * FROM users WHERE balance BETWEEN 25000 AND 75000 LIMIT 100"),
        read("GROUP BY (2 columns)", IT, "SELECT age, active, COUNT(*), AVG(balance) FROM users GROUP BY age, active"),
        read("CROSS JOIN (limited)", IT, "SELECT u.name, o.status FROM users u CROSS JOIN (SELECT DISTINCT status FROM orders) o LIMIT 100"),
        read("Derived table (FROM sub)", IT, "SELECT t.age_group, COUNT(*) FROM (SELECT CASE WHEN age < 30 THEN 'young' WHEN age < 50 THEN 'middle' ELSE 'senior' END as age_group FROM users) t GROUP BY t.age_group"),
        read("Window ROWS frame", IT, "SELECT name, balance, SUM(balance) OVER (ORDER BY balance ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) as rolling_sum FROM users LIMIT 100"),
        read("HAVING complex", IT, "SELECT age FROM users GROUP BY age HAVING COUNT(*) > 100 AND AVG(balance) > 40000"),
        read("Compare with subquery", IT, "SELECT * FROM users WHERE balance > (SELECT AVG(amount) * 100 FROM orders) LIMIT 100"),
    ]
}

fn parse_args() -> Settings {
    let mut s = Settings {
        iters_per_round: None,
        rounds: ROUNDS_DEFAULT,
        only: None,
        threads: None,
        full: false,
        keep_stoolap_cache: false,
    };
    let mut args = std::env::args().skip(1);
    let number = |a: Option<String>, flag: &str| -> usize {
        match a.as_deref().map(str::parse::<usize>) {
            Some(Ok(n)) if n > 0 => n,
            _ => die("usage", format!("{flag} needs a positive number")),
        }
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--iters" => s.iters_per_round = Some(number(args.next(), "--iters")),
            "--rounds" => s.rounds = number(args.next(), "--rounds"),
            "--threads" => s.threads = Some(number(args.next(), "--threads")),
            "--only" => {
                s.only = Some(
                    args.next()
                        .unwrap_or_else(|| die("usage", "--only needs a prefix")),
                )
            }
            "--full" => s.full = true,
            "--keep-stoolap-cache" => s.keep_stoolap_cache = true,
            "-h" | "--help" => {
                println!(
                    "usage: cairn-stoolap-bench [--iters N (per round, reads only)] [--rounds N] \
                     [--only PREFIX,...] [--threads N (Stoolap's rayon pool)] [--full] [--keep-stoolap-cache]\n\
                     Writes always run Stoolap's iteration counts; with --only, skipped writes leave \
                     the tables in a different state than the published run."
                );
                std::process::exit(0);
            }
            "--bench" => {}
            other => die("usage", format!("unknown argument {other}")),
        }
    }
    s
}

/// Loads `rows` with `sql` and checks that every engine holds `expected` rows.
fn load_table(engines: &Engines, schema: &[&str], sql: &str, rows: &[Vec<P>], table: &str) {
    for ddl in schema {
        engines.execute_all(ddl);
    }
    engines.load(sql, rows);
    let counts = engines.counts(table);
    if counts.iter().any(|&c| c != rows.len() as i64) {
        die(&format!("{table} load"), format!("row counts {counts:?}"));
    }
}

fn main() {
    let s = parse_args();
    if let Some(n) = s.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .unwrap_or_else(|e| die("rayon pool", e));
    }
    let started = Instant::now();
    let engines = Engines::new(!s.keep_stoolap_cache);
    let mut rng = StdRng::seed_from_u64(SEED);
    let users: Vec<Vec<P>> = (1..=USERS).map(|id| user_row(&mut rng, id)).collect();
    let orders: Vec<Vec<P>> = (1..=ORDERS).map(|id| order_row(&mut rng, id)).collect();
    load_table(&engines, &USERS_SCHEMA, INSERT_USER, &users, "users");
    let cache_before = engines.stoolap.semantic_cache_stats().ok();

    let selected = |name: &str| {
        s.only.as_deref().is_none_or(|o| {
            o.split(',')
                .any(|p| name.to_lowercase().starts_with(&p.to_lowercase()))
        })
    };
    let mut results = Vec::new();
    let groups = [
        users_operations(),
        advanced_operations(),
        bottleneck_operations(),
    ];
    let mut no = 0;
    for (g, ops) in groups.into_iter().enumerate() {
        if g == 1 {
            load_table(&engines, &ORDERS_SCHEMA, INSERT_ORDER, &orders, "orders");
        }
        for op in ops {
            no += 1;
            if selected(op.name) {
                let r = bench(&engines, op, no, &s);
                print_progress(&r);
                results.push(r);
            }
        }
    }
    let cache_after = engines.stoolap.semantic_cache_stats().ok();
    report(&results, &s);
    if let (Some(a), Some(b)) = (cache_before, cache_after) {
        println!(
            "Stoolap semantic cache during the operations: {} hits ({} exact, {} subsumption), {} misses{}",
            b.hits - a.hits,
            b.exact_hits - a.exact_hits,
            b.subsumption_hits - a.subsumption_hits,
            b.misses - a.misses,
            if s.keep_stoolap_cache { " (caches kept: --keep-stoolap-cache)" } else { "" }
        );
    }
    println!("total time {:.1}s", started.elapsed().as_secs_f64());
}

fn print_progress(r: &OpResult) {
    let t = |e: usize| r.median_us[e].map_or("error".to_string(), |v| format!("{v:.1}"));
    eprintln!(
        "{:>2} {:<26} iters {:>4}  sqlite {:>10}  cairn {:>10}  stoolap {:>10} us",
        r.no,
        r.name,
        r.iters,
        t(SQLITE),
        t(CAIRN),
        t(STOOLAP)
    );
    for m in r.errors.iter().chain(&r.mismatches) {
        eprintln!("   WARNING: {}: {m}", r.name);
    }
}

/// The geometric mean of `engine`'s ratio to `base` over the operations
/// where both ran and agreed with SQLite, and how many those were.
fn geomean(results: &[OpResult], engine: usize, base: usize) -> (f64, usize) {
    let logs: Vec<f64> = results
        .iter()
        .filter(|r| r.usable(engine, base))
        .filter_map(|r| r.ratio(engine, base))
        .map(f64::ln)
        .collect();
    let mean = (logs.iter().sum::<f64>() / logs.len().max(1) as f64).exp();
    (mean, logs.len())
}

/// Prints the Markdown table, the geometric means and the findings.
fn report(results: &[OpResult], s: &Settings) {
    let fmt = |v: Option<f64>, d: usize| v.map_or("error".to_string(), |v| format!("{v:.d$}"));
    println!();
    println!(
        "Stoolap rayon threads: {}; Cairn: no query threading (single-thread); rounds {}",
        s.threads
            .map_or("default (one per core)".to_string(), |n| n.to_string()),
        s.rounds
    );
    println!();
    println!("| # | operation | iters | rows | SQLite µs | Cairn µs | Stoolap µs | Cairn/SQLite | Stoolap/SQLite | note |");
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in results {
        let c = r.ratio(CAIRN, SQLITE);
        let mut note = Vec::new();
        if c.is_some_and(|c| c > FLAG_RATIO) {
            note.push(format!("Cairn > {FLAG_RATIO}× SQLite"));
        }
        for (e, name) in ENGINES.iter().enumerate() {
            if r.bad[e] {
                note.push(format!("{name}: ERROR or ROW COUNT MISMATCH"));
            }
        }
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.no,
            r.name.replace('|', "\\|"),
            r.iters,
            r.rows,
            fmt(r.median_us[SQLITE], 1),
            fmt(r.median_us[CAIRN], 1),
            fmt(r.median_us[STOOLAP], 1),
            fmt(c, 2),
            fmt(r.ratio(STOOLAP, SQLITE), 2),
            note.join("; ")
        );
    }
    println!();
    for (engine, base) in [(CAIRN, SQLITE), (STOOLAP, SQLITE), (CAIRN, STOOLAP)] {
        let (mean, n) = geomean(results, engine, base);
        println!(
            "geomean {}/{}: {mean:.3} (over {n} of {} operations; the others errored or miscounted)",
            ENGINES[engine],
            ENGINES[base],
            results.len()
        );
    }
    let mut slow: Vec<(&OpResult, f64)> = results
        .iter()
        .filter_map(|r| Some((r, r.ratio(CAIRN, SQLITE)?)))
        .filter(|&(_, c)| c > FLAG_RATIO)
        .collect();
    slow.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!();
    println!(
        "operations where Cairn > {FLAG_RATIO}× SQLite: {}",
        slow.len()
    );
    for (r, c) in slow {
        println!("  {c:>8.2}×  {} (#{})", r.name, r.no);
    }
    for r in results.iter().filter(|r| !r.clean()) {
        for m in r.errors.iter().chain(&r.mismatches) {
            println!("WARNING: #{} {}: {m}", r.no, r.name);
        }
    }
}
