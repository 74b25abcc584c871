//! Measures the HNSW graph on a raw ANN dataset directory (`base.f32`,
//! `query.f32`, `groundtruth.i32`, `meta.json`; see
//! `shared/tools/README.md`): build seconds with `--threads` threads, bytes
//! per vector, then recall@k and single-threaded QPS per ef.
//!
//! cargo run --release -p cairn-vector --example ann -- \
//!     --data /tmp/data/glove6b-50d --threads 2 --ef 10,20,40,80,160,320
//!
//! Options: --m 16, --efc 200, --k 10, --reps 3 (QPS is the median rep),
//! --limit N (first N base vectors; recall is then only meaningful when N
//! covers the set), --insert (sequential `Graph::insert` instead of `build`).

use std::time::Instant;

use cairn_vector::hnsw::{Graph, HnswParams, Metric, SearchScratch};

struct Args {
    data: String,
    threads: usize,
    efs: Vec<usize>,
    m: usize,
    efc: usize,
    k: usize,
    reps: usize,
    limit: Option<usize>,
    insert: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        data: String::new(),
        threads: 1,
        efs: vec![10, 20, 40, 80, 160, 320],
        m: 16,
        efc: 200,
        k: 10,
        reps: 3,
        limit: None,
        insert: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--insert" {
            args.insert = true;
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--data" => args.data = value.clone(),
            "--threads" => args.threads = number()?,
            "--m" => args.m = number()?,
            "--efc" => args.efc = number()?,
            "--k" => args.k = number()?,
            "--reps" => args.reps = number()?.max(1),
            "--limit" => args.limit = Some(number()?),
            "--ef" => {
                args.efs = value
                    .split(',')
                    .map(|s| s.trim().parse::<usize>().map_err(|e| format!("--ef: {e}")))
                    .collect::<Result<_, _>>()?
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if args.data.is_empty() {
        return Err("--data DIR is required".into());
    }
    Ok(args)
}

fn read_f32(path: &str) -> Result<Vec<f32>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

fn read_i32(path: &str) -> Result<Vec<i32>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    Ok(bytes
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// The value of `"name": value` in a flat JSON object.
fn json_field<'a>(json: &'a str, name: &str) -> Option<&'a str> {
    let at = json.find(&format!("\"{name}\""))?;
    let rest = json[at + name.len() + 2..].trim_start().strip_prefix(':')?;
    let rest = rest.trim_start();
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim().trim_matches('"'))
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let dir = &args.data;
    let meta = std::fs::read_to_string(format!("{dir}/meta.json")).map_err(|e| e.to_string())?;
    let dims: usize = json_field(&meta, "dims")
        .and_then(|s| s.parse().ok())
        .ok_or("meta.json: no dims")?;
    let gt_k: usize = json_field(&meta, "gt_k")
        .and_then(|s| s.parse().ok())
        .ok_or("meta.json: no gt_k")?;
    let metric = match json_field(&meta, "metric") {
        Some("l2") | Some("euclidean") => Metric::L2,
        Some("ip") | Some("dot") => Metric::InnerProduct,
        _ => Metric::Cosine,
    };
    let mut base = read_f32(&format!("{dir}/base.f32"))?;
    let queries = read_f32(&format!("{dir}/query.f32"))?;
    let truth = read_i32(&format!("{dir}/groundtruth.i32"))?;
    if let Some(limit) = args.limit {
        base.truncate(limit * dims);
    }
    let n = base.len() / dims;
    let n_query = queries.len() / dims;
    println!(
        "n={n} dims={dims} queries={n_query} metric={metric:?} m={} efc={} threads={} kernel={}",
        args.m,
        args.efc,
        args.threads,
        cairn_vector::kernels::best().name
    );

    let params = HnswParams {
        m: args.m,
        ef_construction: args.efc,
        metric,
    };
    let keys: Vec<u64> = (0..n as u64).collect();
    let t = Instant::now();
    let graph = if args.insert {
        let mut g = Graph::new(params, dims).map_err(|e| e.to_string())?;
        for (key, v) in keys.iter().zip(base.chunks_exact(dims)) {
            g.insert(*key, v).map_err(|e| e.to_string())?;
        }
        g
    } else {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(args.threads.max(1))
            .build()
            .map_err(|e| e.to_string())?;
        Graph::build(params, dims, keys, base, Some(&pool)).map_err(|e| e.to_string())?
    };
    let build_s = t.elapsed().as_secs_f64();
    println!("build_s={build_s:.3}");
    println!(
        "bytes_per_vector={:.1}",
        graph.memory_bytes() as f64 / n.max(1) as f64
    );

    let mut scratch = SearchScratch::new();
    let mut accept_all = |_: u32| true;
    for &ef in &args.efs {
        let mut found = Vec::with_capacity(n_query);
        // Warm-up, and the results recall is computed from.
        for q in queries.chunks_exact(dims) {
            found.push(graph.search(q, args.k, ef, &mut accept_all, &mut scratch));
        }
        let mut qps = Vec::new();
        for _ in 0..args.reps {
            let t = Instant::now();
            let mut checksum = 0u64;
            for q in queries.chunks_exact(dims) {
                let r = graph.search(q, args.k, ef, &mut accept_all, &mut scratch);
                checksum += r.len() as u64;
            }
            std::hint::black_box(checksum);
            qps.push(n_query as f64 / t.elapsed().as_secs_f64());
        }
        qps.sort_by(f64::total_cmp);
        let qps_median = qps[qps.len() / 2];
        let mut hits = 0usize;
        for (qi, result) in found.iter().enumerate() {
            let gt = &truth[qi * gt_k..qi * gt_k + args.k.min(gt_k)];
            hits += result
                .iter()
                .filter(|nb| gt.contains(&(graph.key(nb.node) as i32)))
                .count();
        }
        let recall = hits as f64 / (n_query * args.k.min(gt_k)) as f64;
        println!("ef={ef} recall@{}={recall:.4} qps={qps_median:.0}", args.k);
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("ann: {e}");
        std::process::exit(2);
    }
}
