//! `cairn-reopen-bench`: how long reopening a checkpointed database takes,
//! and that it loads the HNSW index instead of rebuilding it.
//!
//! Loads a dataset from `../shared/tools` (`base.f32`, `query.f32`,
//! `groundtruth.i32`, `meta.json`) into `items(id, emb VECTOR(d))` in an
//! on-disk database, builds the HNSW index, checkpoints, closes; then opens
//! the directory `--reps` times and reports each open's wall time, the
//! index's state right after open (graphs, nodes, pending = vectors
//! waiting for a build: 0 means nothing was rebuilt), and recall@10 of the
//! reopened index against the ground truth.
//!
//! ```text
//! cargo run --release -p cairn-benches --bin cairn-reopen-bench -- \
//!     --data /tmp/data/glove6b-50d [--db DIR] [--reps 5] [--threads 2] [--reuse]
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use cairn::{params, Database, Value};

struct Args {
    data: PathBuf,
    db: Option<PathBuf>,
    reps: usize,
    threads: usize,
    reuse: bool,
    ef: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        data: PathBuf::new(),
        db: None,
        reps: 5,
        threads: 2,
        reuse: false,
        ef: 160,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--data" => args.data = PathBuf::from(value()?),
            "--db" => args.db = Some(PathBuf::from(value()?)),
            "--reps" => args.reps = value()?.parse()?,
            "--threads" => args.threads = value()?.parse()?,
            "--ef" => args.ef = value()?.parse()?,
            "--reuse" => args.reuse = true,
            other => bail!("unknown argument {other}"),
        }
    }
    if args.data.as_os_str().is_empty() {
        bail!("--data DIR is required (a dataset from ../shared/tools)");
    }
    Ok(args)
}

fn read_f32(path: &Path) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(args.data.join("meta.json")).context("meta.json")?)?;
    let dims = meta["dims"].as_u64().context("meta.json lacks dims")? as usize;
    let gt_k = meta["gt_k"].as_u64().context("meta.json lacks gt_k")? as usize;
    let metric = match meta["metric"].as_str().unwrap_or("cosine") {
        "angular" => "cosine",
        m => m,
    }
    .to_string();
    let base = read_f32(&args.data.join("base.f32"))?;
    let queries = read_f32(&args.data.join("query.f32"))?;
    let gt: Vec<i32> = std::fs::read(args.data.join("groundtruth.i32"))?
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let n = base.len() / dims;
    let tmp;
    let dir = match &args.db {
        Some(d) => d.clone(),
        None => {
            tmp = std::env::temp_dir().join("cairn-reopen-bench");
            tmp.clone()
        }
    };
    println!(
        "dataset={} n={n} dims={dims} metric={metric} db={}",
        args.data.display(),
        dir.display()
    );

    if !(args.reuse && dir.exists()) {
        let _ = std::fs::remove_dir_all(&dir);
        let db = Database::open(&dir)?;
        db.set_index_build_threads(args.threads);
        db.execute(
            &format!("CREATE TABLE items(id INTEGER PRIMARY KEY, emb VECTOR({dims}))"),
            params![],
        )?;
        let t = Instant::now();
        for start in (0..n).step_by(10_000) {
            let tx = db.transaction()?;
            {
                let mut ins = tx.prepare("INSERT INTO items VALUES (?, ?)")?;
                for i in start..(start + 10_000).min(n) {
                    let v = base[i * dims..(i + 1) * dims].to_vec();
                    ins.execute(&[Value::Integer(i as i64), Value::from(v)])?;
                }
            }
            tx.commit()?;
        }
        println!("load_s={:.2}", t.elapsed().as_secs_f64());
        let t = Instant::now();
        db.execute(
            &format!(
                "CREATE INDEX items_emb ON items USING hnsw (emb) WITH (m = 16, ef_construction = 200, metric = '{metric}')"
            ),
            params![],
        )?;
        println!("build_s={:.2}", t.elapsed().as_secs_f64());
        let t = Instant::now();
        db.checkpoint()?;
        println!("checkpoint_s={:.2}", t.elapsed().as_secs_f64());
    }
    let mut bytes = 0u64;
    for sub in ["segments", "wal"] {
        for e in std::fs::read_dir(dir.join(sub))? {
            bytes += e?.metadata()?.len();
        }
    }
    println!("files_mb={:.1}", bytes as f64 / 1e6);

    let mut times = Vec::new();
    for rep in 0..args.reps {
        let t = Instant::now();
        let db = Database::open(&dir)?;
        let open_s = t.elapsed().as_secs_f64();
        let stats = db
            .vector_index_stats("items_emb")
            .context("no index after reopen")?;
        println!(
            "rep={rep} open_s={open_s:.3} graphs={} nodes={} pending={} tombstones={}",
            stats.graphs, stats.nodes, stats.pending, stats.tombstones
        );
        if stats.pending != 0 || stats.nodes != n {
            bail!("the index was not loaded whole: {stats:?}");
        }
        times.push(open_s);
        if rep + 1 == args.reps {
            let op = if metric == "cosine" { "<=>" } else { "<->" };
            let nq = (queries.len() / dims).min(1000);
            let mut hits = 0usize;
            db.execute(&format!("SET hnsw.ef_search = {}", args.ef), params![])?;
            let mut stmt = db.prepare(&format!(
                "SELECT id FROM items ORDER BY emb {op} ? LIMIT 10"
            ))?;
            let t = Instant::now();
            for q in 0..nq {
                let v = queries[q * dims..(q + 1) * dims].to_vec();
                let mut rows = stmt.query(&[Value::from(v)])?;
                let truth = &gt[q * gt_k..q * gt_k + 10];
                while let Some(r) = rows.next()? {
                    let id: i64 = r.get(0)?;
                    if truth.contains(&(id as i32)) {
                        hits += 1;
                    }
                }
            }
            println!(
                "recall@10={:.4} (ef {}, {nq} queries, {:.0} QPS)",
                hits as f64 / (nq * 10) as f64,
                args.ef,
                nq as f64 / t.elapsed().as_secs_f64()
            );
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "open_s median={:.3} min={:.3} max={:.3}",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
    Ok(())
}
