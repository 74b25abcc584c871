//! Runs one SQL workload against Cairn and SQLite (rusqlite, in memory,
//! default settings) in the same process and prints the median time per
//! execution of each operation, side by side.
//!
//! ```text
//! cargo run --release -p cairn-benches --bin sql-vs-sqlite [-- --quick] [-- --json out.json] [-- --only NAME-PREFIX]
//! ```
//!
//! Both engines get the same schema, the same rows (from a seeded RNG) and,
//! for every iteration, the same parameters. Every statement is prepared
//! once and executed repeatedly; every result is consumed in full, and the
//! row counts (or rows-affected counts) of the two engines are compared on
//! every iteration (a mismatch prints a WARNING line). The two engines are
//! interleaved iteration by iteration (alternating which goes first) so
//! that machine noise hits both alike. Reads run first, then writes;
//! DELETE removes exactly the rows the single-row INSERT added. Both
//! engines get the same SQL text, with `$n` parameters (see [`numbered`]).
//! Nothing is cached between executions except each engine's own prepared
//! statement.
//!
//! Output: one line per operation with the median microseconds per
//! execution in each engine and their ratio (cairn/sqlite), then
//! `geomean_ratio=<x>`. `--quick` runs a few iterations per operation (a
//! smoke test); `--json PATH` also writes the results as JSON.

use std::hint::black_box;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const USERS: i64 = 10_000;
const ORDERS: i64 = 30_000;
const SEED: u64 = 0x0CA1_2B5E;
const CITIES: [&str; 40] = [
    "Amsterdam",
    "Athens",
    "Auckland",
    "Bangkok",
    "Barcelona",
    "Berlin",
    "Bogota",
    "Boston",
    "Brussels",
    "Budapest",
    "Cairo",
    "Chicago",
    "Copenhagen",
    "Dublin",
    "Edinburgh",
    "Helsinki",
    "Istanbul",
    "Jakarta",
    "Kyoto",
    "Lagos",
    "Lima",
    "Lisbon",
    "London",
    "Madrid",
    "Manila",
    "Melbourne",
    "Montreal",
    "Mumbai",
    "Nairobi",
    "Oslo",
    "Paris",
    "Prague",
    "Quito",
    "Riga",
    "Rome",
    "Santiago",
    "Seoul",
    "Tokyo",
    "Vienna",
    "Warsaw",
];
const STATUSES: [&str; 5] = ["pending", "paid", "shipped", "delivered", "cancelled"];

const SCHEMA: [&str; 5] = [
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, age INTEGER, city TEXT, created_at INTEGER)",
    "CREATE INDEX users_age ON users (age)",
    "CREATE INDEX users_city ON users (city)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, amount REAL, status TEXT, created_at INTEGER)",
    "CREATE INDEX orders_user_id ON orders (user_id)",
];

const INSERT_USER: &str =
    "INSERT INTO users (id, name, email, age, city, created_at) VALUES (?, ?, ?, ?, ?, ?)";
const INSERT_ORDER: &str =
    "INSERT INTO orders (id, user_id, amount, status, created_at) VALUES (?, ?, ?, ?, ?)";

/// A parameter value, converted to each engine's own value type.
#[derive(Clone, Debug)]
enum P {
    Null,
    I(i64),
    F(f64),
    T(String),
}

impl P {
    fn cairn(&self) -> cairn::Value {
        match self {
            P::Null => cairn::Value::Null,
            P::I(i) => cairn::Value::Integer(*i),
            P::F(f) => cairn::Value::Real(*f),
            P::T(s) => cairn::Value::text(s),
        }
    }

    fn sqlite(&self) -> rusqlite::types::Value {
        use rusqlite::types::Value;
        match self {
            P::Null => Value::Null,
            P::I(i) => Value::Integer(*i),
            P::F(f) => Value::Real(*f),
            P::T(s) => Value::Text(s.clone()),
        }
    }
}

/// Amounts have two decimals so that both engines store identical reals.
fn amount(rng: &mut StdRng) -> f64 {
    rng.random_range(100..100_000i64) as f64 / 100.0
}

fn user_row(rng: &mut StdRng, id: i64) -> Vec<P> {
    let email = if rng.random_range(0..10) == 0 {
        P::Null
    } else {
        P::T(format!("user{id}@example.com"))
    };
    vec![
        P::I(id),
        P::T(format!("user {id}")),
        email,
        P::I(rng.random_range(18..=80)),
        P::T(CITIES[rng.random_range(0..CITIES.len())].to_string()),
        P::I(rng.random_range(1_600_000_000..1_700_000_000)),
    ]
}

fn order_row(rng: &mut StdRng, id: i64) -> Vec<P> {
    vec![
        P::I(id),
        P::I(rng.random_range(1..=USERS)),
        P::F(amount(rng)),
        P::T(STATUSES[rng.random_range(0..STATUSES.len())].to_string()),
        P::I(rng.random_range(1_600_000_000..1_700_000_000)),
    ]
}

/// The two engines, side by side.
struct Engines {
    cairn: cairn::Database,
    sqlite: rusqlite::Connection,
}

fn die(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("sql-vs-sqlite: {what}: {e}");
    std::process::exit(1)
}

impl Engines {
    fn new() -> Engines {
        let cairn = cairn::Database::open_in_memory().unwrap_or_else(|e| die("cairn open", e));
        let sqlite =
            rusqlite::Connection::open_in_memory().unwrap_or_else(|e| die("sqlite open", e));
        for sql in SCHEMA {
            cairn
                .execute(sql, &[])
                .unwrap_or_else(|e| die(&format!("cairn: {sql}"), e));
            sqlite
                .execute(sql, [])
                .unwrap_or_else(|e| die(&format!("sqlite: {sql}"), e));
        }
        Engines { cairn, sqlite }
    }

    fn load(&self, table_sql: &str, rows: &[Vec<P>]) {
        let tx = self
            .cairn
            .transaction()
            .unwrap_or_else(|e| die("cairn begin", e));
        {
            let mut st = tx
                .prepare(&numbered(table_sql))
                .unwrap_or_else(|e| die("cairn prepare", e));
            for r in rows {
                let vals: Vec<cairn::Value> = r.iter().map(P::cairn).collect();
                st.execute(&vals).unwrap_or_else(|e| die("cairn insert", e));
            }
        }
        tx.commit().unwrap_or_else(|e| die("cairn commit", e));

        let tx = self
            .sqlite
            .unchecked_transaction()
            .unwrap_or_else(|e| die("sqlite begin", e));
        {
            let mut st = tx
                .prepare(&numbered(table_sql))
                .unwrap_or_else(|e| die("sqlite prepare", e));
            for r in rows {
                st.execute(rusqlite::params_from_iter(r.iter().map(P::sqlite)))
                    .unwrap_or_else(|e| die("sqlite insert", e));
            }
        }
        tx.commit().unwrap_or_else(|e| die("sqlite commit", e));
    }
}

/// What an operation's statement returns: rows to consume, or a count of
/// changed rows.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Query,
    Write,
}

/// One benchmarked operation: a statement and a parameter generator.
/// `params(rng, i)` is called once per execution (`i` counts executions,
/// warm-up included) and its output goes to both engines.
struct Op {
    name: &'static str,
    sql: String,
    kind: Kind,
    iters: usize,
    params: Box<dyn FnMut(&mut StdRng, usize) -> Vec<P>>,
}

struct Prepared<'a> {
    cairn: cairn::Statement<'a>,
    sqlite: rusqlite::Statement<'a>,
    kind: Kind,
}

impl Prepared<'_> {
    /// Runs on Cairn, consumes the result, returns (elapsed, row count).
    fn run_cairn(&mut self, params: &[cairn::Value]) -> (Duration, u64) {
        let t = Instant::now();
        let n = match self.kind {
            Kind::Query => {
                let mut rows = self
                    .cairn
                    .query(params)
                    .unwrap_or_else(|e| die("cairn query", e));
                let mut n = 0u64;
                while let Some(row) = rows.next().unwrap_or_else(|e| die("cairn row", e)) {
                    for v in row.values() {
                        black_box(v);
                    }
                    n += 1;
                }
                n
            }
            Kind::Write => self
                .cairn
                .execute(params)
                .unwrap_or_else(|e| die("cairn execute", e)),
        };
        (t.elapsed(), n)
    }

    fn run_sqlite(&mut self, params: &[rusqlite::types::Value]) -> (Duration, u64) {
        let t = Instant::now();
        let n = match self.kind {
            Kind::Query => {
                let ncols = self.sqlite.column_count();
                let mut rows = self
                    .sqlite
                    .query(rusqlite::params_from_iter(params.iter()))
                    .unwrap_or_else(|e| die("sqlite query", e));
                let mut n = 0u64;
                while let Some(row) = rows.next().unwrap_or_else(|e| die("sqlite step", e)) {
                    for i in 0..ncols {
                        let v = row.get_ref(i).unwrap_or_else(|e| die("sqlite column", e));
                        black_box(v);
                    }
                    n += 1;
                }
                n
            }
            Kind::Write => self
                .sqlite
                .execute(rusqlite::params_from_iter(params.iter()))
                .unwrap_or_else(|e| die("sqlite execute", e)) as u64,
        };
        (t.elapsed(), n)
    }
}

struct OpResult {
    name: &'static str,
    iters: usize,
    cairn_us: f64,
    sqlite_us: f64,
    mismatches: usize,
}

impl OpResult {
    fn ratio(&self) -> f64 {
        self.cairn_us / self.sqlite_us.max(1e-3)
    }
}

fn median_us(mut v: Vec<Duration>) -> f64 {
    v.sort();
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let d = if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2
    };
    d.as_secs_f64() * 1e6
}

fn bench(engines: &Engines, mut op: Op, quick: bool, op_no: u64) -> OpResult {
    let iters = if quick {
        (op.iters / 50).clamp(3, 20)
    } else {
        op.iters * FULL_SCALE
    };
    let warmup = if quick { 1 } else { (iters / 10).clamp(2, 50) };
    let mut p = Prepared {
        cairn: engines
            .cairn
            .prepare(&op.sql)
            .unwrap_or_else(|e| die(&format!("cairn prepare {}", op.name), e)),
        sqlite: engines
            .sqlite
            .prepare(&op.sql)
            .unwrap_or_else(|e| die(&format!("sqlite prepare {}", op.name), e)),
        kind: op.kind,
    };
    let mut rng = StdRng::seed_from_u64(SEED ^ (op_no.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    let mut cairn_t = Vec::with_capacity(iters);
    let mut sqlite_t = Vec::with_capacity(iters);
    let mut mismatches = 0;
    let mut first_mismatch = None;
    for i in 0..warmup + iters {
        let params = (op.params)(&mut rng, i);
        let cp: Vec<cairn::Value> = params.iter().map(P::cairn).collect();
        let sp: Vec<rusqlite::types::Value> = params.iter().map(P::sqlite).collect();
        let ((ct, cn), (st, sn)) = if i % 2 == 0 {
            let c = p.run_cairn(&cp);
            let s = p.run_sqlite(&sp);
            (c, s)
        } else {
            let s = p.run_sqlite(&sp);
            let c = p.run_cairn(&cp);
            (c, s)
        };
        if cn != sn {
            mismatches += 1;
            if first_mismatch.is_none() {
                first_mismatch = Some((params.clone(), cn, sn));
            }
        }
        if i >= warmup {
            cairn_t.push(ct);
            sqlite_t.push(st);
        }
    }
    if let Some((params, cn, sn)) = first_mismatch {
        println!(
            "WARNING: {}: row counts differ in {mismatches} of {} executions; first: params {:?}: cairn {cn} rows, sqlite {sn} rows",
            op.name,
            warmup + iters,
            params
        );
    }
    OpResult {
        name: op.name,
        iters,
        cairn_us: median_us(cairn_t),
        sqlite_us: median_us(sqlite_t),
        mismatches,
    }
}

/// Rewrites each `?` to `$1`, `$2`, ... in text order. Cairn numbers a
/// bare `?` in the order its binder visits them (WHERE before SET and
/// before the select list), which is not SQLite's text order, so the
/// benchmark sends explicit `$n` to both engines; SQLite binds `$n` by
/// first appearance, which here is also `n` order. (No SQL below has a `?`
/// inside a string literal.)
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(ch);
        }
    }
    out
}

fn query(
    name: &'static str,
    iters: usize,
    sql: &str,
    params: impl FnMut(&mut StdRng, usize) -> Vec<P> + 'static,
) -> Op {
    Op {
        name,
        sql: numbered(sql),
        kind: Kind::Query,
        iters,
        params: Box::new(params),
    }
}

fn write(
    name: &'static str,
    iters: usize,
    sql: &str,
    params: impl FnMut(&mut StdRng, usize) -> Vec<P> + 'static,
) -> Op {
    Op {
        name,
        sql: numbered(sql),
        kind: Kind::Write,
        iters,
        params: Box::new(params),
    }
}

fn user_id(rng: &mut StdRng) -> P {
    P::I(rng.random_range(1..=USERS))
}

fn age(rng: &mut StdRng) -> P {
    P::I(rng.random_range(18..=80))
}

/// Ids of rows inserted by the benchmark, far above the loaded ones.
const SINGLE_INSERT_BASE: i64 = 1_000_000;
const BATCH_INSERT_BASE: i64 = 2_000_000;
const BATCH: usize = 100;
/// Multiplies every operation's iteration count in a full run (about a
/// minute in all on a quiet 2-core machine).
const FULL_SCALE: usize = 4;

fn operations() -> Vec<Op> {
    let mut ops = vec![
        query(
            "point_select_pk",
            20000,
            "SELECT id, name, email, age, city, created_at FROM users WHERE id = ?",
            |r, _| vec![user_id(r)],
        ),
        query(
            "index_eq (age = ?)",
            3000,
            "SELECT id, name, city FROM users WHERE age = ?",
            |r, _| vec![age(r)],
        ),
        query(
            "index_range (age BETWEEN)",
            2000,
            "SELECT id, name, city FROM users WHERE age BETWEEN ? AND ? + 2",
            |r, _| {
                let a = r.random_range(18..=78);
                vec![P::I(a), P::I(a)]
            },
        ),
        query(
            "full_scan_filter",
            500,
            "SELECT id, user_id, amount FROM orders WHERE amount > ?",
            |r, _| vec![P::F(r.random_range(900..1000) as f64)],
        ),
        query(
            "group_by_aggregate",
            100,
            "SELECT status, count(*), sum(amount), avg(amount) FROM orders WHERE amount >= ? GROUP BY status",
            |r, _| vec![P::F(r.random_range(0..50) as f64)],
        ),
        query(
            "join_by_pk",
            10000,
            "SELECT u.name, o.id, o.amount, o.status FROM users u JOIN orders o ON u.id = o.user_id WHERE u.id = ?",
            |r, _| vec![user_id(r)],
        ),
        query(
            "join_by_age",
            1000,
            "SELECT u.name, o.id, o.amount FROM users u JOIN orders o ON u.id = o.user_id WHERE u.age = ?",
            |r, _| vec![age(r)],
        ),
        query(
            "join_group_having",
            50,
            "SELECT u.city, count(*), sum(o.amount) FROM users u JOIN orders o ON u.id = o.user_id \
             GROUP BY u.city HAVING count(*) > ?",
            |r, _| vec![P::I(r.random_range(600..900))],
        ),
        query(
            "in_subquery",
            300,
            "SELECT id, name FROM users WHERE id IN (SELECT user_id FROM orders WHERE amount > ?)",
            |r, _| vec![P::F(r.random_range(950..1000) as f64)],
        ),
        query(
            "exists_correlated",
            1000,
            "SELECT u.id, u.name FROM users u WHERE u.age = ? AND EXISTS \
             (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.amount > ?)",
            |r, _| vec![age(r), P::F(r.random_range(500..1000) as f64)],
        ),
        query(
            "scalar_subquery",
            1000,
            "SELECT u.id, u.name, (SELECT count(*) FROM orders o WHERE o.user_id = u.id) AS n \
             FROM users u WHERE u.age = ?",
            |r, _| vec![age(r)],
        ),
        query(
            "cte_join",
            60,
            "WITH big AS (SELECT user_id, sum(amount) AS total FROM orders GROUP BY user_id HAVING sum(amount) > ?) \
             SELECT u.name, big.total FROM big JOIN users u ON u.id = big.user_id",
            |r, _| vec![P::F(r.random_range(2000..4000) as f64)],
        ),
        query(
            "window_row_number",
            1000,
            "SELECT id, user_id, amount, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY amount DESC) AS rn \
             FROM orders WHERE user_id BETWEEN ? AND ? + 100",
            |r, _| {
                let u = r.random_range(1..=USERS - 100);
                vec![P::I(u), P::I(u)]
            },
        ),
        query(
            "distinct",
            300,
            "SELECT DISTINCT city FROM users",
            |_, _| vec![],
        ),
        query(
            "order_by_limit",
            100,
            "SELECT id, user_id, amount FROM orders ORDER BY amount DESC LIMIT 10",
            |_, _| vec![],
        ),
        query(
            "offset_pagination",
            300,
            "SELECT id, name, city FROM users ORDER BY id LIMIT 20 OFFSET ?",
            |r, _| vec![P::I(r.random_range(0..USERS - 20))],
        ),
        write(
            "update_by_pk",
            10000,
            "UPDATE users SET email = ?, created_at = ? WHERE id = ?",
            |r, i| {
                vec![
                    P::T(format!("changed{i}@example.com")),
                    P::I(r.random_range(1_700_000_000..1_800_000_000)),
                    user_id(r),
                ]
            },
        ),
    ];
    // INSERT single rows with fresh ids; DELETE then removes exactly those
    // rows again (same count), so the table ends as it began.
    let insert_iters = 10_000;
    ops.push(write(
        "insert_single",
        insert_iters,
        INSERT_ORDER,
        |r, i| order_row(r, SINGLE_INSERT_BASE + i as i64),
    ));
    ops.push(write(
        "delete_by_pk",
        insert_iters,
        "DELETE FROM orders WHERE id = ?",
        |_, i| vec![P::I(SINGLE_INSERT_BASE + i as i64)],
    ));
    let mut batch_sql =
        String::from("INSERT INTO orders (id, user_id, amount, status, created_at) VALUES ");
    for i in 0..BATCH {
        if i > 0 {
            batch_sql.push_str(", ");
        }
        batch_sql.push_str("(?, ?, ?, ?, ?)");
    }
    ops.push(write("insert_batch_100", 1000, &batch_sql, |r, i| {
        (0..BATCH)
            .flat_map(|k| order_row(r, BATCH_INSERT_BASE + (i * BATCH + k) as i64))
            .collect()
    }));
    ops
}

fn write_json(path: &str, results: &[OpResult], geomean: f64, quick: bool) {
    fn esc(s: &str) -> String {
        s.replace('\\', "\\\\").replace('"', "\\\"")
    }
    let mut out = String::from("{\n");
    out.push_str(&format!("  \"quick\": {quick},\n"));
    out.push_str(&format!("  \"users\": {USERS},\n  \"orders\": {ORDERS},\n"));
    out.push_str("  \"operations\": [\n");
    for (i, r) in results.iter().enumerate() {
        out.push_str(&format!(
            "    {{\"name\": \"{}\", \"iterations\": {}, \"cairn_us\": {:.3}, \"sqlite_us\": {:.3}, \"ratio\": {:.4}, \"row_count_mismatches\": {}}}{}\n",
            esc(r.name),
            r.iters,
            r.cairn_us,
            r.sqlite_us,
            r.ratio(),
            r.mismatches,
            if i + 1 < results.len() { "," } else { "" }
        ));
    }
    out.push_str("  ],\n");
    out.push_str(&format!("  \"geomean_ratio\": {geomean:.4}\n}}\n"));
    if let Err(e) = std::fs::write(path, out) {
        die(&format!("writing {path}"), e);
    }
}

fn main() {
    let mut quick = false;
    let mut json = None;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--json" => match args.next() {
                Some(p) => json = Some(p),
                None => die("usage", "--json needs a path"),
            },
            "--only" => match args.next() {
                Some(p) => only = Some(p),
                None => die("usage", "--only needs an operation name"),
            },
            "-h" | "--help" => {
                println!("usage: sql-vs-sqlite [--quick] [--json PATH] [--only PREFIX,...]");
                return;
            }
            // `cargo bench` passes --bench; ignore it.
            "--bench" => {}
            other => die("usage", format!("unknown argument {other}")),
        }
    }

    let started = Instant::now();
    let engines = Engines::new();
    let mut rng = StdRng::seed_from_u64(SEED);
    let users: Vec<Vec<P>> = (1..=USERS).map(|id| user_row(&mut rng, id)).collect();
    let orders: Vec<Vec<P>> = (1..=ORDERS).map(|id| order_row(&mut rng, id)).collect();
    engines.load(INSERT_USER, &users);
    engines.load(INSERT_ORDER, &orders);
    for table in ["users", "orders"] {
        let sql = format!("SELECT count(*) FROM {table}");
        let c: i64 = engines
            .cairn
            .query_row(&sql, &[], |r| r.get(0))
            .unwrap_or_else(|e| die("cairn count", e));
        let s: i64 = engines
            .sqlite
            .query_row(&sql, [], |r| r.get(0))
            .unwrap_or_else(|e| die("sqlite count", e));
        if c != s {
            println!("WARNING: {table}: cairn has {c} rows, sqlite {s}");
        }
    }
    println!(
        "loaded {USERS} users and {ORDERS} orders into both engines in {:.1}s{}",
        started.elapsed().as_secs_f64(),
        if quick { " (quick mode)" } else { "" }
    );

    let mut results = Vec::new();
    for (i, op) in operations().into_iter().enumerate() {
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|p| op.name.starts_with(p)))
        {
            continue;
        }
        results.push(bench(&engines, op, quick, i as u64));
    }

    println!();
    println!(
        "{:<28} {:>7} {:>12} {:>12} {:>9}",
        "operation", "iters", "cairn_us", "sqlite_us", "ratio"
    );
    println!("{}", "-".repeat(72));
    for r in &results {
        println!(
            "{:<28} {:>7} {:>12.2} {:>12.2} {:>9.2}",
            r.name,
            r.iters,
            r.cairn_us,
            r.sqlite_us,
            r.ratio()
        );
    }
    let geomean =
        (results.iter().map(|r| r.ratio().ln()).sum::<f64>() / results.len() as f64).exp();
    println!("{}", "-".repeat(72));
    println!("geomean_ratio={geomean:.3}");
    let mismatched: usize = results.iter().filter(|r| r.mismatches > 0).count();
    if mismatched > 0 {
        println!("WARNING: {mismatched} operation(s) returned different row counts");
    }
    println!("total time {:.1}s", started.elapsed().as_secs_f64());
    if let Some(path) = json {
        write_json(&path, &results, geomean, quick);
        println!("wrote {path}");
    }
}
