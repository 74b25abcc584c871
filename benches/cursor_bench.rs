//! `Rows` as a pull cursor over a large table, against SQLite in the same
//! run: time to the first row of `SELECT * FROM big LIMIT 1` and of an
//! unlimited `SELECT *` (with the table rows Cairn read by then), and a
//! full scan pulled row by row, against collecting the whole result.
//!
//! `cargo run --release -p cairn-benches --bin cairn-cursor-bench -- [--rows N] [--reps R]`

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cairn::{params, Database};

struct Args {
    rows: i64,
    reps: usize,
}

fn args() -> Result<Args> {
    let mut a = Args {
        rows: 1_000_000,
        reps: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--rows" => a.rows = value.parse()?,
            "--reps" => a.reps = value.parse()?,
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    Ok(a)
}

fn body(i: i64) -> String {
    format!("row {i:>12} {}", "x".repeat(40))
}

fn load_cairn(rows: i64) -> Result<Database> {
    let db = Database::open_in_memory()?;
    db.execute(
        "CREATE TABLE big (id INTEGER PRIMARY KEY, grp INTEGER, body TEXT)",
        params![],
    )?;
    let tx = db.transaction()?;
    let mut st = db.prepare("INSERT INTO big VALUES (?, ?, ?)")?;
    for i in 0..rows {
        st.execute(params![i, i % 100, body(i)])?;
    }
    drop(st);
    tx.commit()?;
    let _ = db.state_root();
    Ok(db)
}

fn load_sqlite(rows: i64) -> Result<rusqlite::Connection> {
    let mut c = rusqlite::Connection::open_in_memory()?;
    c.execute(
        "CREATE TABLE big (id INTEGER PRIMARY KEY, grp INTEGER, body TEXT)",
        [],
    )?;
    let tx = c.transaction()?;
    {
        let mut st = tx.prepare("INSERT INTO big VALUES (?, ?, ?)")?;
        for i in 0..rows {
            st.execute(rusqlite::params![i, i % 100, body(i)])?;
        }
    }
    tx.commit()?;
    Ok(c)
}

/// The median of `reps` runs of `f`.
fn median(reps: usize, mut f: impl FnMut() -> Result<()>) -> Result<Duration> {
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> Result<()> {
    let a = args()?;
    eprintln!("loading {} rows into cairn and sqlite ...", a.rows);
    let db = load_cairn(a.rows)?;
    let lite = load_sqlite(a.rows)?;
    println!("rows: {}  reps: {} (median)", a.rows, a.reps);
    println!(
        "{:<44} {:>12} {:>12} {:>8}",
        "", "cairn ms", "sqlite ms", "ratio"
    );

    let mut scanned = Vec::new();
    for sql in ["SELECT * FROM big LIMIT 1", "SELECT * FROM big"] {
        let c = median(a.reps, || {
            let mut rows = db.query(sql, params![])?;
            let first = rows.next()?.map(|r| r.values().len());
            anyhow::ensure!(first == Some(3), "no first row");
            scanned.push(rows.rows_scanned());
            Ok(())
        })?;
        let s = median(a.reps, || {
            let mut st = lite.prepare(sql)?;
            let mut rows = st.query([])?;
            anyhow::ensure!(rows.next()?.is_some(), "no first row");
            Ok(())
        })?;
        let label = format!("first row of {sql}");
        println!(
            "{label:<44} {:>12.4} {:>12.4} {:>8.2}",
            ms(c),
            ms(s),
            ms(c) / ms(s)
        );
    }
    println!("table rows read by cairn before the first row: {scanned:?}");

    let mut n = 0usize;
    let pulled = median(a.reps, || {
        n = 0;
        let mut rows = db.query("SELECT * FROM big", params![])?;
        while let Some(r) = rows.next()? {
            n += r.values().len();
        }
        Ok(())
    })?;
    anyhow::ensure!(n == 3 * a.rows as usize, "pulled {n} values");
    let collected = median(a.reps, || {
        let all = db.query("SELECT * FROM big", params![])?.fetch_all()?;
        anyhow::ensure!(all.len() == a.rows as usize, "collected {}", all.len());
        Ok(())
    })?;
    let lite_scan = median(a.reps, || {
        let mut st = lite.prepare("SELECT * FROM big")?;
        let mut rows = st.query([])?;
        let mut n = 0usize;
        while let Some(r) = rows.next()? {
            let _: rusqlite::types::ValueRef = r.get_ref(2)?;
            n += 3;
        }
        anyhow::ensure!(n == 3 * a.rows as usize, "sqlite pulled {n} values");
        Ok(())
    })?;
    for (label, d) in [
        ("full scan pulled row by row", pulled),
        ("full scan collected (fetch_all)", collected),
    ] {
        println!(
            "{label:<44} {:>12.1} {:>12.1} {:>8.2}",
            ms(d),
            ms(lite_scan),
            ms(d) / ms(lite_scan)
        );
    }
    Ok(())
}
