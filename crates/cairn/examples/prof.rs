//! Times one query shape over a 10k-user / 30k-order database, for use
//! under `perf record`: `cargo run --release -p cairn --example prof -- offset`.
//! Shapes: offset, distinct, topk, scalar, jgh, sub, point, idx.

use cairn::{params, Database};

fn main() -> Result<(), cairn::Error> {
    let db = Database::open_in_memory()?;
    db.execute("CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT, email TEXT, age INTEGER, city TEXT, created_at INTEGER)", params![])?;
    db.execute("CREATE INDEX ua ON users(age)", params![])?;
    db.execute("CREATE INDEX uc ON users(city)", params![])?;
    let tx = db.transaction()?;
    let mut ins = tx.prepare("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)")?;
    for i in 0..10000i64 {
        ins.execute(params![
            i,
            format!("user{i}"),
            format!("u{i}@x.com"),
            i % 80,
            format!("city{}", i % 50),
            i * 1000
        ])?;
    }
    drop(ins);
    tx.execute("CREATE TABLE orders(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, amount REAL, status TEXT, created_at INTEGER)", params![])?;
    tx.execute("CREATE INDEX ou ON orders(user_id)", params![])?;
    let mut ins = tx.prepare("INSERT INTO orders VALUES (?, ?, ?, ?, ?)")?;
    for i in 0..30000i64 {
        ins.execute(params![
            i,
            (i * 7919) % 10000,
            ((i * 31) % 1000) as f64 / 10.0,
            ["new", "paid", "shipped"][(i % 3) as usize],
            i
        ])?;
    }
    drop(ins);
    tx.commit()?;
    let which = std::env::args().nth(1).unwrap_or_default();
    let sql = match which.as_str() {
        "offset" => "SELECT id, name, city FROM users ORDER BY id LIMIT 20 OFFSET ?",
        "distinct" => "SELECT DISTINCT city FROM users",
        "topk" => "SELECT id, name, age FROM users ORDER BY created_at DESC LIMIT 10",
        "scalar" => "SELECT u.id, (SELECT count(*) FROM users o WHERE o.age = u.age) FROM users u WHERE u.city = 'city3'",
        "jgh" => "SELECT u.city, count(*), sum(o.amount) FROM users u JOIN orders o ON u.id = o.user_id GROUP BY u.city HAVING count(*) > ?",
        "sub" => "SELECT u.id, u.name, (SELECT count(*) FROM orders o WHERE o.user_id = u.id) AS n FROM users u WHERE u.age = ?",
        "update" => "UPDATE users SET email = ?, created_at = ? WHERE id = ?",
        "point" => "SELECT id, name, email, age, city, created_at FROM users WHERE id = ?",
        _ => "SELECT id, name FROM users WHERE age = ?",
    };
    let mut st = db.prepare(sql)?;
    let n = st.parameter_count();
    let t = std::time::Instant::now();
    let iters: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    for i in 0..iters {
        let p: Vec<cairn::Value> = (0..n)
            .map(|_| {
                cairn::Value::Integer(if which == "sub" {
                    i as i64 % 80
                } else {
                    (i as i64 * 37) % 9980
                })
            })
            .collect();
        let rows = st.query(&p)?.fetch_all()?;
        std::hint::black_box(rows.len());
    }
    println!(
        "{which}: {:.2} us/iter",
        t.elapsed().as_secs_f64() * 1e6 / iters as f64
    );
    Ok(())
}
