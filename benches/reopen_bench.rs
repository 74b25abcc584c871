//! `cairn-reopen-bench`: how long reopening a database with an HNSW index
//! takes, and whether it loads the index or rebuilds it.
//!
//! Loads a dataset from `../shared/tools` (`base.f32`, `query.f32`,
//! `groundtruth.i32`, `meta.json`), or a synthetic one (`--synthetic N,D`:
//! N uniform random D-dimensional vectors from a fixed seed, 200 queries,
//! exact L2 ground truth), into `items(id, emb VECTOR(d))` in an on-disk
//! database, builds the HNSW index, then
//!
//! - by default checkpoints explicitly and closes;
//! - with `--no-checkpoint`, just closes (drops the `Database`): what a
//!   shell user does; the close is timed (`close_s`);
//! - with `--exit-without-close`, exits the process right after the index
//!   is built, without closing (a crash as far as the files can tell; run
//!   again with `--reuse` to time the reopens).
//!
//! Then it opens the directory `--reps` times and reports each open's wall
//! time, what the open replayed and rebuilt (`Recovery`), the index's state
//! right after open (graphs, nodes, pending = vectors waiting for a build),
//! and recall@10 of the reopened index against the ground truth.
//!
//! ```text
//! cargo run --release -p cairn-benches --bin cairn-reopen-bench -- \
//!     --data /tmp/data/glove6b-50d [--db DIR] [--reps 5] [--threads 2] [--reuse] [--quant sq8|rabitq [--bits B]]
//! cargo run --release -p cairn-benches --bin cairn-reopen-bench -- \
//!     --synthetic 20000,32 --no-checkpoint [--db DIR] [--reps 5]
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use cairn::{params, Database, Value};

struct Args {
    data: PathBuf,
    synthetic: Option<(usize, usize)>,
    db: Option<PathBuf>,
    reps: usize,
    threads: usize,
    reuse: bool,
    ef: usize,
    no_checkpoint: bool,
    exit_without_close: bool,
    /// The index's `quantization` (`none`, `sq8`, `rabitq`).
    quant: String,
    /// `bits = …` of a RaBitQ index.
    bits: Option<u8>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        data: PathBuf::new(),
        synthetic: None,
        db: None,
        reps: 5,
        threads: 2,
        reuse: false,
        ef: 160,
        no_checkpoint: false,
        exit_without_close: false,
        quant: "none".into(),
        bits: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--data" => args.data = PathBuf::from(value()?),
            "--synthetic" => {
                let v = value()?;
                let (n, d) = v.split_once(',').context("--synthetic N,D")?;
                args.synthetic = Some((n.parse()?, d.parse()?));
            }
            "--db" => args.db = Some(PathBuf::from(value()?)),
            "--reps" => args.reps = value()?.parse()?,
            "--threads" => args.threads = value()?.parse()?,
            "--ef" => args.ef = value()?.parse()?,
            "--reuse" => args.reuse = true,
            "--no-checkpoint" => args.no_checkpoint = true,
            "--exit-without-close" => args.exit_without_close = true,
            "--quant" => args.quant = value()?,
            "--bits" => args.bits = Some(value()?.parse()?),
            other => bail!("unknown argument {other}"),
        }
    }
    if args.data.as_os_str().is_empty() && args.synthetic.is_none() {
        bail!("--data DIR (a dataset from ../shared/tools) or --synthetic N,D is required");
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

/// A dataset: base vectors, queries, ground truth (`gt_k` ids per query).
struct Dataset {
    name: String,
    dims: usize,
    metric: String,
    base: Vec<f32>,
    queries: Vec<f32>,
    gt: Vec<i32>,
    gt_k: usize,
}

fn load_dataset(dir: &Path) -> Result<Dataset> {
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("meta.json")).context("meta.json")?)?;
    let dims = meta["dims"].as_u64().context("meta.json lacks dims")? as usize;
    let gt_k = meta["gt_k"].as_u64().context("meta.json lacks gt_k")? as usize;
    let metric = match meta["metric"].as_str().unwrap_or("cosine") {
        "angular" => "cosine",
        m => m,
    }
    .to_string();
    Ok(Dataset {
        name: dir.display().to_string(),
        dims,
        metric,
        base: read_f32(&dir.join("base.f32"))?,
        queries: read_f32(&dir.join("query.f32"))?,
        gt: std::fs::read(dir.join("groundtruth.i32"))?
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        gt_k,
    })
}

/// `n` uniform vectors in [-1, 1)^dims from a fixed seed (splitmix64),
/// 200 queries, exact L2 top-10 by brute force.
fn synthetic(n: usize, dims: usize) -> Dataset {
    let mut state = 0x5EED_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    };
    let base: Vec<f32> = (0..n * dims).map(|_| next()).collect();
    let nq = 200;
    let queries: Vec<f32> = (0..nq * dims).map(|_| next()).collect();
    let gt_k = 10;
    let mut gt = Vec::with_capacity(nq * gt_k);
    for q in queries.chunks_exact(dims) {
        let mut d: Vec<(f32, i32)> = base
            .chunks_exact(dims)
            .enumerate()
            .map(|(i, v)| {
                (
                    v.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum(),
                    i as i32,
                )
            })
            .collect();
        d.select_nth_unstable_by(gt_k, |a, b| a.0.total_cmp(&b.0));
        d.truncate(gt_k);
        d.sort_by(|a, b| a.0.total_cmp(&b.0));
        gt.extend(d.iter().map(|x| x.1));
    }
    Dataset {
        name: format!("synthetic {n}x{dims}"),
        dims,
        metric: "l2".into(),
        base,
        queries,
        gt,
        gt_k,
    }
}

/// Loads the rows, builds the index, then checkpoints and closes, closes,
/// or exits without closing (see the module docs).
fn build(dir: &Path, data: &Dataset, args: &Args) -> Result<()> {
    let (dims, n) = (data.dims, data.base.len() / data.dims);
    let _ = std::fs::remove_dir_all(dir);
    let db = Database::open(dir)?;
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
                let v = data.base[i * dims..(i + 1) * dims].to_vec();
                ins.execute(&[Value::Integer(i as i64), Value::from(v)])?;
            }
        }
        tx.commit()?;
    }
    println!("load_s={:.2}", t.elapsed().as_secs_f64());
    let t = Instant::now();
    db.execute(
        &format!(
            "CREATE INDEX items_emb ON items USING hnsw (emb) WITH (m = 16, ef_construction = 200, metric = '{}', quantization = '{}'{})",
            data.metric,
            args.quant,
            args.bits.map_or(String::new(), |b| format!(", bits = {b}"))
        ),
        params![],
    )?;
    println!("build_s={:.2}", t.elapsed().as_secs_f64());
    if args.exit_without_close {
        println!("exiting without closing");
        std::process::exit(0);
    }
    if !args.no_checkpoint {
        let t = Instant::now();
        db.checkpoint()?;
        println!("checkpoint_s={:.2}", t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    drop(db);
    println!("close_s={:.2}", t.elapsed().as_secs_f64());
    Ok(())
}

/// recall@10 of the open database against the ground truth.
fn recall(db: &Database, data: &Dataset, ef: usize) -> Result<()> {
    let dims = data.dims;
    let op = if data.metric == "cosine" {
        "<=>"
    } else {
        "<->"
    };
    let nq = (data.queries.len() / dims).min(1000);
    let mut hits = 0usize;
    db.execute(&format!("SET hnsw.ef_search = {ef}"), params![])?;
    let mut stmt = db.prepare(&format!(
        "SELECT id FROM items ORDER BY emb {op} ? LIMIT 10"
    ))?;
    let t = Instant::now();
    for q in 0..nq {
        let v = data.queries[q * dims..(q + 1) * dims].to_vec();
        let mut rows = stmt.query(&[Value::from(v)])?;
        let truth = &data.gt[q * data.gt_k..q * data.gt_k + 10];
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            if truth.contains(&(id as i32)) {
                hits += 1;
            }
        }
    }
    println!(
        "recall@10={:.4} (ef {ef}, {nq} queries, {:.0} QPS)",
        hits as f64 / (nq * 10) as f64,
        nq as f64 / t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let data = match args.synthetic {
        Some((n, d)) => synthetic(n, d),
        None => load_dataset(&args.data)?,
    };
    let n = data.base.len() / data.dims;
    let tmp;
    let dir = match &args.db {
        Some(d) => d.clone(),
        None => {
            tmp = std::env::temp_dir().join("cairn-reopen-bench");
            tmp.clone()
        }
    };
    println!(
        "dataset={} n={n} dims={} metric={} db={}",
        data.name,
        data.dims,
        data.metric,
        dir.display()
    );
    if !(args.reuse && dir.exists()) {
        build(&dir, &data, &args)?;
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
        let rec = db.recovery().context("on disk")?;
        println!(
            "rep={rep} open_s={open_s:.3} records_replayed={} rebuilt={} checkpoint={:?} graphs={} nodes={} pending={} tombstones={} code_bytes={} vector_bytes={} mapped_bytes={}",
            rec.records,
            rec.vector_indexes_rebuilt,
            rec.checkpoint,
            stats.graphs,
            stats.nodes,
            stats.pending,
            stats.tombstones,
            stats.code_bytes,
            stats.vector_bytes,
            stats.mapped_bytes
        );
        if stats.pending != 0 || stats.nodes != n {
            bail!("the index was not loaded whole: {stats:?}");
        }
        times.push(open_s);
        if rep + 1 == args.reps {
            recall(&db, &data, args.ef)?;
        }
        let t = Instant::now();
        drop(db);
        println!("rep={rep} close_s={:.3}", t.elapsed().as_secs_f64());
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
