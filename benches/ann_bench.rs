//! `cairn-ann-bench`: recall and speed of Cairn's HNSW index on an ANN
//! dataset directory (as built by `../shared/tools/make_glove.py`), through
//! the public API only.
//!
//! ```text
//! cargo run --release --bin cairn-ann-bench -- --data /tmp/data/glove6b-50d \
//!     --ef 10,20,40,80,160,320 [--threads 2] [--metric cosine] [--sql] \
//!     [--delete-frac 0.15] [--filter] [--queries 1000]
//! ```
//!
//! Loads `base.f32` into `items(id, attr, emb VECTOR(d))`, builds the index
//! with `CREATE INDEX ... USING hnsw` (timed: `build_s`), then for each ef
//! prints `ef=<n> recall@10=<r> qps=<q>` (single-threaded `Database::nearest`);
//! `--sql` repeats the sweep through `SELECT id ... ORDER BY emb <=> ? LIMIT
//! 10` (`mode=sql` lines); `--delete-frac` deletes that fraction of rows and
//! measures again against the ground truth of the remaining rows; `--filter`
//! runs filtered queries at selectivities 0.1 %, 1 %, 10 %, 50 % against exact
//! filtered search and reports the fewest rows any query returned.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use cairn::{params, Database, Value};

const K: usize = 10;

struct Args {
    data: PathBuf,
    efs: Vec<usize>,
    threads: usize,
    metric: Option<String>,
    sql: bool,
    delete_frac: f64,
    filter: bool,
    attr_index: bool,
    queries: Option<usize>,
    reps: usize,
    m: usize,
    ef_construction: usize,
    /// `quantization = …` of the index (`none`, `sq8`, `rabitq`).
    quant: String,
    /// `bits = …` of a RaBitQ index.
    bits: Option<u8>,
    /// Extra API sweeps, one per value, under `SET vector.rerank = r`.
    rerank_sweep: Vec<usize>,
    /// `rerank = …` of the index (quantized only).
    rerank: Option<usize>,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        data: PathBuf::new(),
        efs: vec![10, 20, 40, 80, 160, 320],
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        metric: None,
        sql: false,
        delete_frac: 0.0,
        filter: false,
        attr_index: false,
        queries: None,
        reps: 3,
        m: 16,
        ef_construction: 200,
        quant: "none".into(),
        bits: None,
        rerank_sweep: Vec::new(),
        rerank: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--data" => a.data = PathBuf::from(val()?),
            "--ef" => {
                a.efs = val()?
                    .split(',')
                    .map(|s| s.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .context("--ef takes a comma-separated list of integers")?
            }
            "--threads" => a.threads = val()?.parse()?,
            "--metric" => a.metric = Some(val()?),
            "--sql" => a.sql = true,
            "--delete-frac" => a.delete_frac = val()?.parse()?,
            "--filter" => a.filter = true,
            "--attr-index" => a.attr_index = true,
            "--queries" => a.queries = Some(val()?.parse()?),
            "--reps" => a.reps = val()?.parse::<usize>()?.max(1),
            "--m" => a.m = val()?.parse()?,
            "--ef-construction" => a.ef_construction = val()?.parse()?,
            "--quant" => a.quant = val()?,
            "--rerank" => a.rerank = Some(val()?.parse()?),
            "--bits" => a.bits = Some(val()?.parse()?),
            "--rerank-sweep" => {
                a.rerank_sweep = val()?
                    .split(',')
                    .map(|r| r.trim().parse::<usize>())
                    .collect::<std::result::Result<_, _>>()?
            }
            "-h" | "--help" => {
                println!("usage: cairn-ann-bench --data DIR [--ef 10,20,40] [--threads N] [--metric cosine|l2|ip] [--sql] [--delete-frac F] [--filter [--attr-index]] [--queries N] [--reps 3] [--m 16] [--ef-construction 200] [--quant none|sq8|rabitq] [--bits B] [--rerank R] [--rerank-sweep R1,R2]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    if a.data.as_os_str().is_empty() {
        bail!("--data DIR is required");
    }
    Ok(a)
}

struct Dataset {
    dims: usize,
    metric: String,
    base: Vec<f32>,
    queries: Vec<f32>,
    gt: Vec<i32>,
    gt_k: usize,
}

fn read_f32(path: &Path) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() % 4 != 0 {
        bail!("{} is not a whole number of f32", path.display());
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn load(dir: &Path) -> Result<Dataset> {
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("meta.json")).context("meta.json")?)?;
    let get = |k: &str| -> Result<usize> {
        meta[k]
            .as_u64()
            .map(|v| v as usize)
            .with_context(|| format!("meta.json lacks {k}"))
    };
    let dims = get("dims")?;
    let gt_k = get("gt_k")?;
    let base = read_f32(&dir.join("base.f32"))?;
    let queries = read_f32(&dir.join("query.f32"))?;
    let gt_bytes = std::fs::read(dir.join("groundtruth.i32")).context("groundtruth.i32")?;
    let gt: Vec<i32> = gt_bytes
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if base.len() != get("n_base")? * dims || queries.len() != get("n_query")? * dims {
        bail!("base.f32/query.f32 sizes disagree with meta.json");
    }
    Ok(Dataset {
        dims,
        metric: meta["metric"].as_str().unwrap_or("cosine").to_string(),
        base,
        queries,
        gt,
        gt_k,
    })
}

/// A synthetic attribute in 0..1000, spread evenly over ids.
fn attr_of(id: usize) -> i64 {
    ((id as u64).wrapping_mul(2_654_435_761) % 1000) as i64
}

fn operator(metric: &str) -> &'static str {
    match metric {
        "l2" | "euclidean" => "<->",
        "ip" | "dot" => "<#>",
        _ => "<=>",
    }
}

fn recall(found: &[i64], truth: &[i64]) -> f64 {
    let t: HashSet<i64> = truth.iter().copied().collect();
    found.iter().filter(|f| t.contains(f)).count() as f64 / truth.len().max(1) as f64
}

/// The true top-10 of each query among rows not deleted, from the top-100
/// ground truth (falls back to fewer only if most of the 100 were deleted).
fn truth_lists(ds: &Dataset, nq: usize, deleted: &HashSet<i64>) -> Vec<Vec<i64>> {
    (0..nq)
        .map(|q| {
            ds.gt[q * ds.gt_k..(q + 1) * ds.gt_k]
                .iter()
                .map(|&i| i as i64)
                .filter(|i| !deleted.contains(i))
                .take(K)
                .collect()
        })
        .collect()
}

/// Median of the per-repetition QPS.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// One timed pass of every query through `search`: (mean recall@10, QPS).
fn timed_pass(
    ds: &Dataset,
    nq: usize,
    truth: &[Vec<i64>],
    search: &mut dyn FnMut(&[f32]) -> Result<Vec<i64>>,
) -> Result<(f64, f64)> {
    let mut total = 0.0;
    let t = Instant::now();
    for (q, tr) in truth.iter().enumerate().take(nq) {
        total += recall(&search(&ds.queries[q * ds.dims..(q + 1) * ds.dims])?, tr);
    }
    Ok((total / nq as f64, nq as f64 / t.elapsed().as_secs_f64()))
}

/// Ids of the k nearest through `Database::nearest_with_ef`.
fn api_search(db: &Database, query: &[f32], ef: usize) -> Result<Vec<i64>> {
    let hits = db.nearest_with_ef("items_emb", query, K, Some(ef))?;
    Ok(hits
        .iter()
        .filter_map(|h| h.values.first().and_then(Value::as_i64))
        .collect())
}

fn sweep_api(
    db: &Database,
    ds: &Dataset,
    efs: &[usize],
    nq: usize,
    truth: &[Vec<i64>],
    label: &str,
    reps: usize,
) -> Result<()> {
    for &ef in efs {
        let (mut qps, mut rec) = (Vec::new(), 0.0);
        for _ in 0..reps {
            let (r, q) = timed_pass(ds, nq, truth, &mut |query| api_search(db, query, ef))?;
            qps.push(q);
            rec = r;
        }
        println!("{label}ef={ef} recall@10={rec:.4} qps={:.0}", median(qps));
    }
    Ok(())
}

/// The same sweep through SQL, interleaved with the API sweep repetition
/// by repetition (the machine is shared: only numbers measured close
/// together compare).
fn sweep_both(
    db: &Database,
    ds: &Dataset,
    efs: &[usize],
    nq: usize,
    truth: &[Vec<i64>],
    op: &str,
    reps: usize,
) -> Result<()> {
    let mut stmt = db.prepare(&format!(
        "SELECT id FROM items ORDER BY emb {op} ? LIMIT {K}"
    ))?;
    let mut sql_lines = Vec::new();
    for &ef in efs {
        db.execute(&format!("SET hnsw.ef_search = {ef}"), params![])?;
        let (mut api_qps, mut sql_qps) = (Vec::new(), Vec::new());
        let (mut api_rec, mut sql_rec) = (0.0, 0.0);
        for _ in 0..reps {
            let (r, q) = timed_pass(ds, nq, truth, &mut |query| api_search(db, query, ef))?;
            api_qps.push(q);
            api_rec = r;
            let (r, q) = timed_pass(ds, nq, truth, &mut |query| {
                let rows = stmt.query(&[Value::from(query)])?;
                Ok(rows.map(|r| r.get::<i64>(0usize))?)
            })?;
            sql_qps.push(q);
            sql_rec = r;
        }
        let (a, q) = (median(api_qps), median(sql_qps));
        println!("ef={ef} recall@10={api_rec:.4} qps={a:.0}");
        sql_lines.push(format!(
            "mode=sql ef={ef} recall@10={sql_rec:.4} qps={q:.0} sql/api={:.3}",
            q / a.max(1e-9)
        ));
    }
    for l in sql_lines {
        println!("{l}");
    }
    Ok(())
}

fn normalized(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n == 0.0 {
        return v.to_vec();
    }
    v.iter().map(|x| x / n).collect()
}

/// Exact filtered top-10 (brute force with the SIMD kernels).
fn filtered_truth(ds: &Dataset, metric: &str, nq: usize, below: i64) -> Vec<Vec<i64>> {
    let n = ds.base.len() / ds.dims;
    let cosine = !matches!(metric, "l2" | "euclidean" | "ip" | "dot");
    let base: Vec<f32> = if cosine {
        ds.base.chunks_exact(ds.dims).flat_map(normalized).collect()
    } else {
        ds.base.clone()
    };
    let ids: Vec<usize> = (0..n).filter(|&i| attr_of(i) < below).collect();
    let k = cairn_vector::kernels::best();
    (0..nq)
        .map(|q| {
            let raw = &ds.queries[q * ds.dims..(q + 1) * ds.dims];
            let query = if cosine {
                normalized(raw)
            } else {
                raw.to_vec()
            };
            let mut scored: Vec<(f32, usize)> = ids
                .iter()
                .map(|&i| {
                    let v = &base[i * ds.dims..(i + 1) * ds.dims];
                    let d = match metric {
                        "l2" | "euclidean" => (k.l2_squared)(&query, v),
                        _ => -(k.dot)(&query, v),
                    };
                    (d, i)
                })
                .collect();
            scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            scored.iter().take(K).map(|&(_, i)| i as i64).collect()
        })
        .collect()
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let ds = load(&args.data)?;
    let metric = args.metric.clone().unwrap_or_else(|| ds.metric.clone());
    let metric = match metric.as_str() {
        "angular" => "cosine".to_string(),
        other => other.to_string(),
    };
    let n = ds.base.len() / ds.dims;
    let nq = args
        .queries
        .unwrap_or(usize::MAX)
        .min(ds.queries.len() / ds.dims);
    println!(
        "dataset={} n={n} dims={} queries={nq} metric={metric} m={} ef_construction={} threads={}",
        args.data.display(),
        ds.dims,
        args.m,
        args.ef_construction,
        args.threads
    );

    let db = Database::open_in_memory()?;
    db.set_index_build_threads(args.threads);
    db.execute(
        &format!(
            "CREATE TABLE items(id INTEGER PRIMARY KEY, attr INTEGER NOT NULL, emb VECTOR({}))",
            ds.dims
        ),
        params![],
    )?;
    let t = Instant::now();
    for chunk_start in (0..n).step_by(10_000) {
        let tx = db.transaction()?;
        {
            let mut ins = tx.prepare("INSERT INTO items VALUES (?, ?, ?)")?;
            for i in chunk_start..(chunk_start + 10_000).min(n) {
                let v = ds.base[i * ds.dims..(i + 1) * ds.dims].to_vec();
                ins.execute(&[
                    Value::Integer(i as i64),
                    Value::Integer(attr_of(i)),
                    Value::from(v),
                ])?;
            }
        }
        tx.commit()?;
    }
    println!("load_s={:.2}", t.elapsed().as_secs_f64());
    // With --delete-frac the background compaction is held off (ratio 1.0)
    // so recall can be measured before and after an explicit compaction.
    let compact_ratio = if args.delete_frac > 0.0 { 1.0 } else { 0.15 };
    let t = Instant::now();
    db.execute(
        &format!(
            "CREATE INDEX items_emb ON items USING hnsw (emb) WITH (m = {}, ef_construction = {}, metric = '{metric}', compact_ratio = {}, quantization = '{}'{})",
            args.m,
            args.ef_construction,
            compact_ratio,
            args.quant,
            args.rerank.map_or(String::new(), |r| format!(", rerank = {r}"))
                + &args.bits.map_or(String::new(), |b| format!(", bits = {b}"))
        ),
        params![],
    )?;
    println!("build_s={:.2}", t.elapsed().as_secs_f64());
    let stats = db
        .vector_index_stats("items_emb")
        .context("index statistics")?;
    let per = |b: usize| b / stats.nodes.max(1);
    // Hot RAM: what the walk touches — links plus codes when quantized,
    // links plus the f32 vectors when not. A quantized index still keeps
    // its f32 vectors in RAM for the re-rank (not memory-mapped yet).
    let walked = if stats.code_bytes > 0 {
        stats.code_bytes
    } else {
        stats.vector_bytes
    };
    println!(
        "quant={} bytes_per_vector={} hot_bytes_per_vector={} (links {} + {} {}) rerank_vectors_bytes_per_vector={} (index memory; the row store keeps its own copy of each vector) mapped_bytes_per_vector={} (read in place from segment files: after a reopen)",
        args.quant,
        per(stats.bytes),
        per(stats.link_bytes + walked),
        per(stats.link_bytes),
        if stats.code_bytes > 0 { "codes" } else { "vectors" },
        per(walked),
        if stats.code_bytes > 0 { per(stats.vector_bytes) } else { 0 },
        per(stats.mapped_bytes),
    );

    let none = HashSet::new();
    let truth = truth_lists(&ds, nq, &none);
    if args.sql {
        sweep_both(
            &db,
            &ds,
            &args.efs,
            nq,
            &truth,
            operator(&metric),
            args.reps,
        )?;
    } else {
        sweep_api(&db, &ds, &args.efs, nq, &truth, "", args.reps)?;
    }
    for &r in &args.rerank_sweep {
        db.execute(&format!("SET vector.rerank = {r}"), params![])?;
        let label = format!("rerank{r} ");
        sweep_api(&db, &ds, &args.efs, nq, &truth, &label, args.reps)?;
    }
    if !args.rerank_sweep.is_empty() {
        db.execute("SET vector.rerank = DEFAULT", params![])?;
    }

    if args.filter {
        if args.attr_index {
            // A B-tree index on the filter column: selective filters are
            // then answered exactly through it.
            db.execute("CREATE INDEX items_attr ON items(attr)", params![])?;
            println!("attr_index=yes");
        }
        let op = operator(&metric);
        let fq = nq.min(200);
        let mut stmt = db.prepare(&format!(
            "SELECT id FROM items WHERE attr < ? ORDER BY emb {op} ? LIMIT {K}"
        ))?;
        for sel in [0.001, 0.01, 0.1, 0.5] {
            let below = (sel * 1000.0_f64).round() as i64;
            let truth = filtered_truth(&ds, &metric, fq, below);
            for &ef in &args.efs {
                db.execute(&format!("SET hnsw.ef_search = {ef}"), params![])?;
                let (mut total, mut fewest) = (0.0, usize::MAX);
                let t = Instant::now();
                for (q, tr) in truth.iter().enumerate() {
                    let query = ds.queries[q * ds.dims..(q + 1) * ds.dims].to_vec();
                    let rows = stmt.query(&[Value::Integer(below), Value::from(query)])?;
                    let ids: Vec<i64> = rows.map(|r| r.get::<i64>(0usize))?;
                    fewest = fewest.min(ids.len());
                    total += recall(&ids, tr);
                }
                let secs = t.elapsed().as_secs_f64();
                println!(
                    "mode=filter selectivity={sel} ef={ef} recall@10={:.4} qps={:.0} rows_min={fewest}",
                    total / fq as f64,
                    fq as f64 / secs
                );
            }
        }
    }

    if args.delete_frac > 0.0 {
        let mut deleted = HashSet::new();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let target = ((n as f64) * args.delete_frac) as usize;
        while deleted.len() < target {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            deleted.insert((state % n as u64) as i64);
        }
        let t = Instant::now();
        let ids: Vec<i64> = deleted.iter().copied().collect();
        for chunk in ids.chunks(10_000) {
            let tx = db.transaction()?;
            {
                let mut del = tx.prepare("DELETE FROM items WHERE id = ?")?;
                for id in chunk {
                    del.execute(params![*id])?;
                }
            }
            tx.commit()?;
        }
        println!(
            "deleted={} delete_s={:.2}",
            deleted.len(),
            t.elapsed().as_secs_f64()
        );
        let truth = truth_lists(&ds, nq, &deleted);
        let st = db.vector_index_stats("items_emb").context("stats")?;
        println!(
            "graphs={} nodes={} tombstones={} compactions={} compacting={}",
            st.graphs, st.nodes, st.tombstones, st.compactions, st.compacting
        );
        sweep_api(&db, &ds, &args.efs, nq, &truth, "phase=after-delete ", 1)?;
        let t = Instant::now();
        db.compact_vector_indexes()?;
        let st = db.vector_index_stats("items_emb").context("stats")?;
        println!(
            "compact_s={:.2} graphs={} nodes={} tombstones={}",
            t.elapsed().as_secs_f64(),
            st.graphs,
            st.nodes,
            st.tombstones
        );
        sweep_api(
            &db,
            &ds,
            &args.efs,
            nq,
            &truth,
            "phase=after-compaction ",
            1,
        )?;
    }
    Ok(())
}
