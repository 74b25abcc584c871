//! Measures the HNSW graph on a raw ANN dataset directory (`base.f32`,
//! `query.f32`, `groundtruth.i32`, `meta.json`; see
//! `shared/tools/README.md`): build seconds with `--threads` threads, bytes
//! per vector, then recall@k and single-threaded QPS per ef.
//!
//! cargo run --release -p cairn-vector --example ann -- \
//!     --data /tmp/data/glove6b-50d --threads 2 --ef 10,20,40,80,160,320
//!
//! Options: --m 16, --efc 200, --k 10, --reps 3, --rounds 1 (QPS is the
//! median over rounds x reps; rounds interleave the efs),
//! --limit N (only the first N base vectors; the ground truth is then
//! recomputed by brute force), --insert (sequential `Graph::insert`
//! instead of `build`). Also prints CPU-time QPS (`cpu_qps`), steadier than
//! wall time on a shared machine.

use std::time::Instant;

use cairn_vector::hnsw::{Graph, HnswParams, Metric, SearchScratch, RERANK_DEFAULT};
use cairn_vector::quant::Quantization;

struct Args {
    data: String,
    threads: usize,
    efs: Vec<usize>,
    m: usize,
    efc: usize,
    k: usize,
    reps: usize,
    rounds: usize,
    limit: Option<usize>,
    insert: bool,
    quant: Quantization,
    /// One search sweep per value.
    rerank: Vec<usize>,
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
        rounds: 1,
        limit: None,
        insert: false,
        quant: Quantization::None,
        rerank: vec![RERANK_DEFAULT],
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
            "--rounds" => args.rounds = number()?.max(1),
            "--limit" => args.limit = Some(number()?),
            "--rerank" => {
                args.rerank = value
                    .split(',')
                    .map(|r| {
                        r.trim()
                            .parse::<usize>()
                            .map_err(|e| format!("{flag}: {e}"))
                    })
                    .collect::<Result<_, _>>()?
            }
            "--bits" => {
                let bits = u8::try_from(number()?).map_err(|_| "--bits: 1..4".to_string())?;
                if let Quantization::RaBitQ { bits: b } = &mut args.quant {
                    *b = bits;
                } else {
                    return Err("--bits needs --quant rabitq first".into());
                }
            }
            "--quant" => {
                args.quant = Quantization::from_name(&value)
                    .ok_or_else(|| format!("--quant: unknown codec {value}"))?
            }
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

/// The exact `k` nearest keys of every query, by the graph's own distance.
fn exact_neighbours(graph: &Graph, queries: &[f32], k: usize) -> Vec<i32> {
    use rayon::prelude::*;
    let per_query: Vec<Vec<i32>> = queries
        .par_chunks_exact(graph.dims())
        .map(|q| {
            let q = graph.prepare_query(q);
            let mut all: Vec<(f32, u32)> = (0..graph.len() as u32)
                .map(|n| (graph.distance(&q, n), n))
                .collect();
            let k = k.min(all.len());
            if k > 0 {
                all.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
            }
            all.truncate(k);
            all.sort_by(|a, b| a.0.total_cmp(&b.0));
            all.iter().map(|&(_, n)| graph.key(n) as i32).collect()
        })
        .collect();
    per_query.concat()
}

/// CPU seconds of the calling thread (Linux; 0 elsewhere): unlike wall
/// time, not inflated by other processes on a shared machine.
fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

/// CPU seconds of the whole process (Linux, 10 ms ticks; 0 elsewhere).
fn process_cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
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
    let mut truth = read_i32(&format!("{dir}/groundtruth.i32"))?;
    let mut gt_k = gt_k;
    if let Some(limit) = args.limit {
        base.truncate(limit * dims);
        base.shrink_to_fit();
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
    let cpu0 = process_cpu_s();
    let mut graph = if args.insert {
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
    let graph_s = t.elapsed().as_secs_f64();
    graph.quantize(args.quant);
    let build_s = t.elapsed().as_secs_f64();
    let quantize_s = build_s - graph_s;
    let build_cpu_s = process_cpu_s() - cpu0;
    if args.limit.is_some() {
        // The dataset's ground truth covers the whole base set: recompute it
        // by brute force over the prefix.
        gt_k = args.k;
        truth = exact_neighbours(&graph, &queries, args.k);
    }
    println!("build_s={build_s:.3} build_cpu_s={build_cpu_s:.2} quantize_s={quantize_s:.3}");
    let memory = graph.memory();
    let per = |b: usize| b as f64 / n.max(1) as f64;
    println!(
        "quant={}{} rerank={:?} bytes_per_vector={:.1} hot_bytes_per_vector={:.1} (links {:.1} + codes {:.1}) vectors_bytes_per_vector={:.1}",
        args.quant.name(),
        match args.quant {
            Quantization::RaBitQ { bits } => format!(" bits={bits}"),
            _ => String::new(),
        },
        args.rerank,
        graph.memory_bytes() as f64 / n.max(1) as f64,
        per(memory.links + if memory.codes > 0 { memory.codes } else { memory.vectors }),
        per(memory.links),
        per(memory.codes),
        per(memory.vectors),
    );

    for &rerank in &args.rerank {
        let label = if args.rerank.len() > 1 {
            format!("rerank{rerank} ")
        } else {
            String::new()
        };
        let mut scratch = SearchScratch::new();
        let mut accept_all = |_: u32| true;
        let mut recalls = Vec::with_capacity(args.efs.len());
        for &ef in &args.efs {
            let mut hits = 0usize;
            for (qi, q) in queries.chunks_exact(dims).enumerate() {
                let found =
                    graph.search_reranked(q, args.k, ef, rerank, &mut accept_all, &mut scratch);
                let gt = truth
                    .get(qi * gt_k..qi * gt_k + args.k.min(gt_k))
                    .unwrap_or(&[]);
                hits += found
                    .iter()
                    .filter(|nb| gt.contains(&(graph.key(nb.node) as i32)))
                    .count();
            }
            recalls.push(hits as f64 / (n_query * args.k.min(gt_k)).max(1) as f64);
        }
        // Rounds interleave the efs, so a slow spell on a shared machine hits
        // every ef alike; each number is the median over rounds x reps.
        let mut qps = vec![Vec::new(); args.efs.len()];
        let mut cpu_qps = vec![Vec::new(); args.efs.len()];
        for _ in 0..args.rounds {
            for (i, &ef) in args.efs.iter().enumerate() {
                for _ in 0..args.reps {
                    let t = Instant::now();
                    let c = thread_cpu_s();
                    let mut checksum = 0u64;
                    for q in queries.chunks_exact(dims) {
                        let r = graph.search_reranked(
                            q,
                            args.k,
                            ef,
                            rerank,
                            &mut accept_all,
                            &mut scratch,
                        );
                        checksum += r.len() as u64;
                    }
                    std::hint::black_box(checksum);
                    qps[i].push(n_query as f64 / t.elapsed().as_secs_f64());
                    cpu_qps[i].push(n_query as f64 / (thread_cpu_s() - c));
                }
            }
        }
        for (i, &ef) in args.efs.iter().enumerate() {
            println!(
                "{label}ef={ef} recall@{}={:.4} qps={:.0} cpu_qps={:.0}",
                args.k,
                recalls[i],
                median(&mut qps[i]),
                median(&mut cpu_qps[i])
            );
        }
    }
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("ann: {e}");
        std::process::exit(2);
    }
}
