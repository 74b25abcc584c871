//! `cairn-merkle-bench`: what verifiable state (issue #5, RFC 0002 Part 2)
//! costs — the state-root update after a commit, row proofs (generation,
//! verification, size) and the memory of the per-table tries.
//!
//! ```text
//! cargo run --release -p cairn-benches --bin cairn-merkle-bench -- \
//!     [--rows 1000000] [--reps 20] [--warmup 2] [--batch 1000] [--proofs 2000] \
//!     [--load-batch 100000] [--parts trie,mem,disk[,history]] [--dir PATH] [--keep] \
//!     [--roots-first] [--history 1000,10000,100000]
//! ```
//!
//! Parts (all by default, in this order):
//!
//! - `trie`: `cairn_merkle::Trie` alone. Builds `Trie::from_leaves` of
//!   `--rows` leaves (key = `hash(Key, canonical INTEGER id)`, as the
//!   engine does for `t.id`), hashes it once, then per rep applies a batch
//!   of `--batch` changes — 80 % updates of existing keys (version + 1, new
//!   content), 10 % inserts of new keys, 10 % removes — with
//!   `remove`/`insert` and calls `root()`. Only that is timed (the leaves
//!   are hashed beforehand, and row versions are tracked outside the trie
//!   so nothing warms its cache). Then the same on a trie grown by
//!   `Trie::insert` of every leaf in id order — random key order, the node
//!   layout the engine's tries get — instead of `from_leaves` (post-order,
//!   a subtree's nodes adjacent). Also per layout: RSS before/after the
//!   build (bytes per leaf), `Trie::prove` / `TrieProof::verify` alone,
//!   and a check that the incrementally maintained root equals a
//!   from-scratch rebuild.
//! - `mem`: the engine, in memory (roots always on). Loads `t (id INTEGER
//!   PRIMARY KEY, a INTEGER, b TEXT)` with `--rows` rows in transactions of
//!   `--load-batch`, then per rep runs one transaction of the same 80/10/10
//!   mix as SQL (`UPDATE t SET a = a + 1, b = ? WHERE id = ?`, `INSERT`,
//!   `DELETE ... WHERE id = ?`) and times `COMMIT` + `db.state_root()` (the
//!   statements before COMMIT are timed separately). Then, per rep,
//!   `--proofs` inclusion proofs (`db.prove_row("t", &[id])` of random
//!   live ids) and as many absence proofs (ids never inserted), each
//!   verified with `RowProof::verify(&head.state_root)`, and their sizes
//!   (`to_bytes`, `to_json`).
//! - `disk`: the same commit on two on-disk databases (`synchronous = off`,
//!   in a fresh directory under `--dir`, default the system temp dir), one
//!   opened with `state_roots: true`, one with `false`, loaded alike and
//!   checkpointed; per rep both get the identical transaction, the order
//!   alternating, and `COMMIT` + `db.state_root()` is timed on each. The
//!   difference is what keeping roots adds to a commit. The database
//!   without roots is loaded first (`--roots-first`: the other); the RSS
//!   growth of the first load is the clean one — the second may reuse
//!   memory the allocator kept from the first load's transactions.
//!
//! - `history` (only when asked for): how the read side scales with the
//!   number of commits. An in-memory table `h (id INTEGER PRIMARY KEY, v
//!   INTEGER)` with one row gets single-row autocommit UPDATEs until the
//!   history holds each count of `--history`; at each, the commit rate of
//!   the stretch, then medians of `db.state_root()`, `db.prove_row("h",
//!   [1])` and `db.prove_history(1, newest)`.
//!
//! Every rep's numbers are printed, then medians (of the reps; for proofs,
//! of every sample). `--warmup` reps run first and are not counted. RSS is
//! read from `/proc/self/statm` (4 KiB pages assumed).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use cairn::{params, Database, OpenOptions, RowFinding, Statement, Synchronous};
use cairn_merkle::trie::Change;
use cairn_merkle::{
    content_hash, encode_values, key_hash, CanonValue, Hash, Membership, Trie, TrieLeaf,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SEED: u64 = 0x5EED_3E4C;
const SCHEMA: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)";
const INSERT: &str = "INSERT INTO t (id, a, b) VALUES (?, ?, ?)";
const UPDATE: &str = "UPDATE t SET a = a + 1, b = ? WHERE id = ?";
const DELETE: &str = "DELETE FROM t WHERE id = ?";

/// Targets from issue #5.
const TARGET_ROOT_MS: f64 = 2.0;
const TARGET_PROVE_US: f64 = 20.0;
const TARGET_VERIFY_US: f64 = 10.0;
const TARGET_PROOF_BYTES: f64 = 1536.0;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Part {
    Trie,
    Mem,
    Disk,
    History,
}

struct Args {
    rows: i64,
    reps: usize,
    warmup: usize,
    batch: usize,
    proofs: usize,
    load_batch: i64,
    parts: Vec<Part>,
    dir: Option<PathBuf>,
    keep: bool,
    roots_first: bool,
    history: Vec<u64>,
    /// Trie part: apply changes in generated order, without the engine's
    /// key-order sort and lockstep warm-up walks.
    unsorted: bool,
    /// Trie part: threads updating the two halves of the trie (1, or 2 as
    /// the engine does for a commit of 256 changes or more).
    threads: usize,
}

const USAGE: &str = "usage: cairn-merkle-bench [--rows 1000000] [--reps 20] [--warmup 2] \
[--batch 1000] [--proofs 2000] [--load-batch 100000] [--parts trie,mem,disk] [--dir PATH] [--keep] \
[--roots-first] [--history 1000,10000,100000] [--unsorted] [--threads 2]";

fn parse_args() -> Result<Args> {
    let mut a = Args {
        rows: 1_000_000,
        reps: 20,
        warmup: 2,
        batch: 1000,
        proofs: 2000,
        load_batch: 100_000,
        parts: vec![Part::Trie, Part::Mem, Part::Disk],
        dir: None,
        keep: false,
        roots_first: false,
        unsorted: false,
        threads: 2,
        history: vec![1_000, 10_000, 100_000],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--rows" => a.rows = val()?.replace('_', "").parse().context("--rows")?,
            "--reps" => a.reps = val()?.parse::<usize>().context("--reps")?.max(1),
            "--warmup" => a.warmup = val()?.parse().context("--warmup")?,
            "--batch" => a.batch = val()?.parse().context("--batch")?,
            "--proofs" => a.proofs = val()?.parse::<usize>().context("--proofs")?.max(1),
            "--load-batch" => {
                a.load_batch = val()?
                    .replace('_', "")
                    .parse::<i64>()
                    .context("--load-batch")?
                    .max(1)
            }
            "--parts" => {
                a.parts = val()?
                    .split(',')
                    .map(|p| match p.trim() {
                        "trie" => Ok(Part::Trie),
                        "mem" => Ok(Part::Mem),
                        "disk" => Ok(Part::Disk),
                        "history" => Ok(Part::History),
                        other => Err(anyhow::anyhow!("unknown part {other}")),
                    })
                    .collect::<Result<_>>()?
            }
            "--dir" => a.dir = Some(PathBuf::from(val()?)),
            "--keep" => a.keep = true,
            "--roots-first" => a.roots_first = true,
            "--unsorted" => a.unsorted = true,
            "--threads" => {
                a.threads = val()?.parse().context("--threads")?;
                ensure!(matches!(a.threads, 1 | 2), "--threads is 1 or 2");
            }
            "--history" => {
                a.history = val()?
                    .split(',')
                    .map(|s| s.trim().replace('_', "").parse::<u64>())
                    .collect::<std::result::Result<_, _>>()
                    .context("--history takes a comma-separated list of commit counts")?
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    if a.batch < 10 {
        bail!("--batch must be at least 10");
    }
    if a.rows < a.batch as i64 * 2 {
        bail!("--rows must be at least twice --batch");
    }
    Ok(a)
}

// ---- measuring helpers ------------------------------------------------------

/// Resident set size of this process, from `/proc/self/statm`.
fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn rss_mib() -> String {
    rss_bytes().map_or("?".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0))
}

/// Bytes per row between two RSS readings.
fn per_row(before: Option<u64>, after: Option<u64>, rows: i64) -> String {
    match (before, after) {
        (Some(b), Some(a)) => format!(
            "{:+.1} MiB = {:.1} B/row",
            (a as f64 - b as f64) / 1048576.0,
            (a as f64 - b as f64) / rows as f64
        ),
        _ => "? (no /proc/self/statm)".into(),
    }
}

fn quantile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    s[((s.len() - 1) as f64 * p).round() as usize]
}

fn median(v: &[f64]) -> f64 {
    quantile(v, 0.5)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn verdict(value: f64, target: f64) -> String {
    if value <= target {
        format!("MET ({:.2}x of target)", value / target)
    } else {
        format!("NOT MET ({:.2}x of target)", value / target)
    }
}

// ---- the workload -----------------------------------------------------------

/// Canonical key of `t.id = id` hashed as the engine places it in the trie.
fn key_of(id: i64) -> Hash {
    key_hash(&encode_values(&[CanonValue::Integer(id)]))
}

fn a_of(id: i64) -> i64 {
    id.wrapping_mul(7) % 1000
}

fn b_of(id: i64, rep: usize) -> String {
    format!("row {id} v{rep}")
}

/// Content hash of the row `(id, a, b)` in canonical bytes.
fn content_of(id: i64, a: i64, b: &str) -> Hash {
    content_hash(&encode_values(&[
        CanonValue::Integer(id),
        CanonValue::Integer(a),
        CanonValue::Text(b.to_string()),
    ]))
}

/// The ids one batch touches.
struct Work {
    rep: usize,
    updates: Vec<i64>,
    inserts: Vec<i64>,
    deletes: Vec<i64>,
}

/// The live ids and the next new one; draws batches from a seeded RNG.
struct Keys {
    live: Vec<i64>,
    next: i64,
    rng: StdRng,
}

impl Keys {
    fn new(rows: i64) -> Keys {
        Keys {
            live: (1..=rows).collect(),
            next: rows + 1,
            rng: StdRng::seed_from_u64(SEED),
        }
    }

    /// 80 % updates and 10 % deletes of distinct live ids, 10 % new ids;
    /// the live set is updated as if the batch were applied.
    fn batch(&mut self, size: usize, rep: usize) -> Work {
        let inserts = size / 10;
        let deletes = size / 10;
        let updates = size - inserts - deletes;
        let len = self.live.len();
        for j in 0..updates + deletes {
            let r = self.rng.random_range(j..len);
            self.live.swap(j, r);
        }
        let work = Work {
            rep,
            updates: self.live[..updates].to_vec(),
            deletes: self.live[updates..updates + deletes].to_vec(),
            inserts: (self.next..self.next + inserts as i64).collect(),
        };
        self.live.drain(updates..updates + deletes);
        self.live.extend(&work.inserts);
        self.next += inserts as i64;
        work
    }

    fn random_live(&mut self) -> i64 {
        let i = self.rng.random_range(0..self.live.len());
        self.live[i]
    }

    /// An id that was never inserted.
    fn random_absent(&mut self) -> i64 {
        self.rng
            .random_range(self.next + 1_000_000..self.next + 1_000_000_000)
    }
}

// ---- part 1: the trie alone ---------------------------------------------------

fn leaf_of(id: i64, version: u64, rep: usize) -> TrieLeaf {
    let a = if version == 1 { a_of(id) } else { a_of(id) + 1 };
    TrieLeaf {
        key: key_of(id),
        version,
        content: content_of(id, a, &b_of(id, rep)),
    }
}

fn bench_trie(args: &Args) -> Result<()> {
    println!(
        "== (a-i) trie alone: {} leaves, batches of {} changes (80% update, 10% insert, 10% remove), {} thread(s){}",
        args.rows,
        args.batch,
        args.threads,
        if args.unsorted { ", generated order" } else { "" }
    );
    let mut medians = Vec::new();
    for layout in ["from_leaves", "inserted"] {
        let rss0 = rss_bytes();
        let t = Instant::now();
        let leaves: Vec<TrieLeaf> = (1..=args.rows).map(|id| leaf_of(id, 1, 0)).collect();
        let hash_time = t.elapsed();
        let t = Instant::now();
        let mut trie = if layout == "from_leaves" {
            Trie::from_leaves(leaves)
        } else {
            let mut trie = Trie::new();
            for l in leaves {
                trie.insert(l)
                    .map_err(|_| anyhow::anyhow!("the trie is full"))?;
            }
            trie
        };
        let build = t.elapsed();
        let rss1 = rss_bytes();
        let t = Instant::now();
        black_box(trie.root());
        let first_root = t.elapsed();
        println!(
            "-- layout {layout}: {}",
            if layout == "from_leaves" {
                "Trie::from_leaves (nodes in post-order: a subtree's nodes are adjacent)"
            } else {
                "Trie::insert of every leaf in id order, i.e. random key order \
                 (how the engine's tries grow: nodes in arrival order)"
            }
        );
        println!(
            "leaf hashing (key + content) {:.0} ms; build {:.0} ms; first root() (hashes every node) {:.0} ms",
            ms(hash_time),
            ms(build),
            ms(first_root)
        );
        println!(
            "RSS: {} -> {}: {} (TrieLeaf is {} B; an inner node 76 B (its children's hashes included); n leaves need n-1 inner nodes)",
            rss0.map_or("?".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0)),
            rss_mib(),
            per_row(rss0, rss1, args.rows),
            std::mem::size_of::<TrieLeaf>()
        );
        medians.push((layout, trie_batches(args, &mut trie)?));
    }
    for (layout, m) in medians {
        println!(
            "target root update <= {TARGET_ROOT_MS} ms, layout {layout}: {}",
            verdict(m, TARGET_ROOT_MS)
        );
    }
    println!();
    Ok(())
}

/// The timed batches on one trie, then trie proofs and a rebuild check;
/// returns the median batch time (ms).
fn trie_batches(args: &Args, trie: &mut Trie) -> Result<f64> {
    let mut keys = Keys::new(args.rows);
    // Row versions kept here, so that nothing touches the trie (or warms
    // the cache for it) before the timed part.
    let mut versions: Vec<u64> = vec![1; args.rows as usize + 1];
    let (mut apply, mut rooting, mut total) = (Vec::new(), Vec::new(), Vec::new());
    // The engine's pool: two threads, each woken for its half.
    let pool = if args.threads == 2 {
        Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .context("thread pool")?,
        )
    } else {
        None
    };
    println!(
        "{:>4} {:>10} {:>10} {:>10}",
        "rep", "apply_ms", "root_ms", "total_ms"
    );
    for rep in 0..args.warmup + args.reps {
        let w = keys.batch(args.batch, rep + 1);
        let removes: Vec<Hash> = w.deletes.iter().map(|&id| key_of(id)).collect();
        let mut writes = Vec::with_capacity(w.updates.len() + w.inserts.len());
        for &id in &w.updates {
            let v = versions
                .get_mut(id as usize)
                .with_context(|| format!("no version of {id}"))?;
            *v += 1;
            writes.push(leaf_of(id, *v, w.rep));
        }
        for &id in &w.inserts {
            ensure!(versions.len() == id as usize, "ids are not consecutive");
            versions.push(1);
            writes.push(leaf_of(id, 1, w.rep));
        }
        let mut removes = removes;
        let t = Instant::now();
        if args.unsorted {
            for k in &removes {
                black_box(trie.remove(k));
            }
            for l in &writes {
                let _ = black_box(trie.insert(*l));
            }
        } else {
            // What the engine does with a commit's changes: key order, one
            // batch of the removals then the writes (each half of the trie
            // warms its paths first; with two threads, the pool's two
            // threads each update and re-hash one half).
            removes.sort_unstable();
            writes.sort_unstable_by_key(|l| l.key);
            let keys: Vec<Hash> = removes
                .iter()
                .copied()
                .chain(writes.iter().map(|l| l.key))
                .collect();
            let decide = |i: usize, _: Option<&TrieLeaf>| match i.checked_sub(removes.len()) {
                None => Change::Remove,
                Some(w) => writes.get(w).map_or(Change::Keep, |l| Change::Put(*l)),
            };
            let refused = match &pool {
                Some(pool) => trie.update_batch_with(&keys, decide, |a, b| {
                    let (a, b) = (std::sync::Mutex::new(a), std::sync::Mutex::new(b));
                    pool.broadcast(|ctx| match ctx.index() {
                        0 => {
                            if let Ok(mut run) = a.lock() {
                                run();
                            }
                        }
                        _ => {
                            if let Ok(mut run) = b.lock() {
                                run();
                            }
                        }
                    });
                }),
                None => trie.update_batch(&keys, decide),
            };
            ensure!(refused == 0, "the trie refused {refused} writes");
        }
        let t_apply = t.elapsed();
        let root = trie.root();
        let t_total = t.elapsed();
        black_box(root);
        println!(
            "{:>4} {:>10.3} {:>10.3} {:>10.3}{}",
            rep_label(rep, args.warmup),
            ms(t_apply),
            ms(t_total - t_apply),
            ms(t_total),
            if rep < args.warmup { "  (warm-up)" } else { "" }
        );
        if rep >= args.warmup {
            apply.push(ms(t_apply));
            rooting.push(ms(t_total - t_apply));
            total.push(ms(t_total));
        }
    }
    let m = median(&total);
    println!(
        "median: apply {:.3} ms + root {:.3} ms = {:.3} ms per {}-change batch (min {:.3}, max {:.3}); \
         {:.2} µs per change",
        median(&apply),
        median(&rooting),
        m,
        args.batch,
        quantile(&total, 0.0),
        quantile(&total, 1.0),
        m * 1e3 / args.batch as f64
    );

    // Trie proofs alone.
    let root = trie.root();
    let (mut prove, mut verify, mut steps) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.proofs * args.reps {
        let id = keys.random_live();
        let k = key_of(id);
        let t = Instant::now();
        let p = black_box(trie.prove(&k));
        let t1 = t.elapsed();
        let t = Instant::now();
        let shows = black_box(p.verify(&k, &root));
        let t2 = t.elapsed();
        match shows {
            Ok(Membership::Present(l)) if Some(&l.version) == versions.get(id as usize) => {}
            other => bail!("trie proof of {id}: unexpected {other:?}"),
        }
        prove.push(us(t1));
        verify.push(us(t2));
        steps.push(p.path.len() as f64);
    }
    println!(
        "Trie::prove {:.2} µs, TrieProof::verify {:.2} µs (medians of {}); path steps min/median/max {}/{}/{}",
        median(&prove),
        median(&verify),
        prove.len(),
        quantile(&steps, 0.0),
        median(&steps),
        quantile(&steps, 1.0)
    );

    // The maintained root must equal a from-scratch build of the same leaves.
    let t = Instant::now();
    let rebuilt = Trie::from_leaves(trie.leaves()).root();
    println!(
        "check: incremental root {} a rebuild from its {} leaves ({:.0} ms)",
        if rebuilt == root {
            "equals"
        } else {
            "DIFFERS FROM"
        },
        trie.len(),
        ms(t.elapsed())
    );
    ensure!(
        rebuilt == root,
        "incremental trie root differs from rebuild"
    );
    Ok(m)
}

// ---- parts 2 and 3: the engine ----------------------------------------------

fn load(db: &Database, rows: i64, batch: i64) -> Result<Duration> {
    db.execute(SCHEMA, params![])?;
    let t = Instant::now();
    let mut id = 1;
    while id <= rows {
        let tx = db.transaction()?;
        {
            let mut st = tx.prepare(INSERT)?;
            for i in id..(id + batch).min(rows + 1) {
                st.execute(params![i, a_of(i), b_of(i, 0)])?;
            }
        }
        tx.commit()?;
        id += batch;
    }
    Ok(t.elapsed())
}

struct Stmts<'a> {
    update: Statement<'a>,
    insert: Statement<'a>,
    delete: Statement<'a>,
}

impl<'a> Stmts<'a> {
    fn new(db: &'a Database) -> Result<Stmts<'a>> {
        Ok(Stmts {
            update: db.prepare(UPDATE)?,
            insert: db.prepare(INSERT)?,
            delete: db.prepare(DELETE)?,
        })
    }
}

/// Runs one batch as a transaction: (statements, COMMIT + state_root(), root).
fn run_batch(db: &Database, st: &mut Stmts, w: &Work) -> Result<(Duration, Duration, Hash)> {
    let t0 = Instant::now();
    let tx = db.transaction()?;
    for &id in &w.updates {
        let n = st.update.execute(params![b_of(id, w.rep), id])?;
        ensure!(n == 1, "UPDATE of id {id} changed {n} rows");
    }
    for &id in &w.inserts {
        st.insert.execute(params![id, a_of(id), b_of(id, w.rep)])?;
    }
    for &id in &w.deletes {
        let n = st.delete.execute(params![id])?;
        ensure!(n == 1, "DELETE of id {id} removed {n} rows");
    }
    let t1 = Instant::now();
    tx.commit()?;
    let root = db.state_root();
    let t2 = Instant::now();
    Ok((t1 - t0, t2 - t1, root))
}

fn rep_label(rep: usize, warmup: usize) -> String {
    if rep >= warmup {
        (rep - warmup + 1).to_string()
    } else {
        format!("w{}", rep + 1)
    }
}

fn bench_mem(args: &Args) -> Result<()> {
    println!(
        "== (a-ii) engine in memory: t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT), {} rows, \
         transactions of {} rows (80% UPDATE, 10% INSERT, 10% DELETE)",
        args.rows, args.batch
    );
    let rss0 = rss_bytes();
    let db = Database::open_in_memory()?;
    let load_time = load(&db, args.rows, args.load_batch)?;
    let rss1 = rss_bytes();
    let t = Instant::now();
    let root0 = db.state_root();
    println!(
        "load: {:.2} s ({:.0} rows/s, transactions of {}); state_root() after load {:.3} ms; \
         RSS {} ({} total, rows + indexes + trie)",
        load_time.as_secs_f64(),
        args.rows as f64 / load_time.as_secs_f64(),
        args.load_batch,
        ms(t.elapsed()),
        rss_mib(),
        per_row(rss0, rss1, args.rows)
    );
    black_box(root0);
    let mut keys = Keys::new(args.rows);
    let mut st = Stmts::new(&db)?;
    let (mut stmts, mut commit) = (Vec::new(), Vec::new());
    println!("{:>4} {:>12} {:>16}", "rep", "stmts_ms", "commit+root_ms");
    let mut last = db.state_root();
    for rep in 0..args.warmup + args.reps {
        let w = keys.batch(args.batch, rep + 1);
        let (s, c, root) = run_batch(&db, &mut st, &w)?;
        ensure!(root != last, "the state root did not change");
        last = root;
        println!(
            "{:>4} {:>12.3} {:>16.3}{}",
            rep_label(rep, args.warmup),
            ms(s),
            ms(c),
            if rep < args.warmup { "  (warm-up)" } else { "" }
        );
        if rep >= args.warmup {
            stmts.push(ms(s));
            commit.push(ms(c));
        }
    }
    let m = median(&commit);
    println!(
        "median: statements {:.3} ms, COMMIT + state_root() {:.3} ms (min {:.3}, max {:.3})",
        median(&stmts),
        m,
        quantile(&commit, 0.0),
        quantile(&commit, 1.0)
    );
    println!(
        "target root update <= {TARGET_ROOT_MS} ms (here the whole COMMIT): {}",
        verdict(m, TARGET_ROOT_MS)
    );
    drop(st);
    println!();
    bench_proofs(args, &db, &mut keys)
}

#[derive(Default)]
struct ProofStats {
    prove_us: Vec<f64>,
    verify_us: Vec<f64>,
    bytes: Vec<f64>,
    json: Vec<f64>,
    row: Vec<f64>,
    key: Vec<f64>,
    steps: Vec<f64>,
    /// Per-rep medians of prove and verify.
    rep_prove: Vec<f64>,
    rep_verify: Vec<f64>,
}

fn bench_proofs(args: &Args, db: &Database, keys: &mut Keys) -> Result<()> {
    println!(
        "== (b-d) row proofs at {} rows: {} inclusion + {} absence proofs per rep, {} reps",
        keys.live.len(),
        args.proofs,
        args.proofs,
        args.reps
    );
    let root = db.state_root();
    let mut present = ProofStats::default();
    let mut absent = ProofStats::default();
    // Warm-up: a few proofs of each kind.
    for _ in 0..args.proofs.min(200) {
        let id = keys.random_live();
        black_box(db.prove_row("t", params![id])?);
    }
    println!(
        "{:>4} {:>14} {:>15} {:>13} {:>14}",
        "rep", "incl_prove_us", "incl_verify_us", "abs_prove_us", "abs_verify_us"
    );
    for rep in 0..args.reps {
        for (stats, want_present) in [(&mut present, true), (&mut absent, false)] {
            let (mut p_us, mut v_us) = (Vec::new(), Vec::new());
            for _ in 0..args.proofs {
                let id = if want_present {
                    keys.random_live()
                } else {
                    keys.random_absent()
                };
                let t = Instant::now();
                let (proof, head) = db.prove_row("t", params![id])?;
                let tp = t.elapsed();
                ensure!(head.state_root == root, "proof head is not the newest root");
                let t = Instant::now();
                let finding = proof.verify(&head.state_root);
                let tv = t.elapsed();
                match (finding, want_present) {
                    (Ok(RowFinding::Present { .. }), true) | (Ok(RowFinding::Absent), false) => {}
                    (other, _) => bail!("proof for id {id}: unexpected {other:?}"),
                }
                let bytes = proof.to_bytes()?;
                let json = proof.to_json()?;
                p_us.push(us(tp));
                v_us.push(us(tv));
                stats.bytes.push(bytes.len() as f64);
                stats.json.push(json.len() as f64);
                stats
                    .row
                    .push(proof.row.as_ref().map_or(0, Vec::len) as f64);
                stats.key.push(proof.key.len() as f64);
                stats.steps.push(proof.trie.path.len() as f64);
                black_box(bytes);
            }
            stats.rep_prove.push(median(&p_us));
            stats.rep_verify.push(median(&v_us));
            stats.prove_us.extend(p_us);
            stats.verify_us.extend(v_us);
        }
        println!(
            "{:>4} {:>14.2} {:>15.2} {:>13.2} {:>14.2}",
            rep + 1,
            present.rep_prove[rep],
            present.rep_verify[rep],
            absent.rep_prove[rep],
            absent.rep_verify[rep]
        );
    }
    for (name, s) in [("inclusion", &present), ("absence", &absent)] {
        println!(
            "{name}: prove_row median {:.2} µs (p90 {:.2}, p99 {:.2}, max {:.1}); \
             verify median {:.2} µs (p90 {:.2}, p99 {:.2}, max {:.1}); {} samples",
            median(&s.prove_us),
            quantile(&s.prove_us, 0.9),
            quantile(&s.prove_us, 0.99),
            quantile(&s.prove_us, 1.0),
            median(&s.verify_us),
            quantile(&s.verify_us, 0.9),
            quantile(&s.verify_us, 0.99),
            quantile(&s.verify_us, 1.0),
            s.prove_us.len()
        );
        println!(
            "{name}: size to_bytes min/median/max {}/{}/{} B, to_json median {} B; \
             trie steps min/median/max {}/{}/{}; key bytes {}; row bytes median {} \
             (the row costs {} B on the wire with its flag and length = {:.1}% of the median proof)",
            quantile(&s.bytes, 0.0),
            median(&s.bytes),
            quantile(&s.bytes, 1.0),
            median(&s.json),
            quantile(&s.steps, 0.0),
            median(&s.steps),
            quantile(&s.steps, 1.0),
            median(&s.key),
            median(&s.row),
            if median(&s.row) > 0.0 {
                median(&s.row) + 4.0
            } else {
                0.0
            },
            if median(&s.row) > 0.0 {
                (median(&s.row) + 4.0) / median(&s.bytes) * 100.0
            } else {
                0.0
            }
        );
    }
    println!(
        "target prove_row <= {TARGET_PROVE_US} µs (inclusion): {}",
        verdict(median(&present.prove_us), TARGET_PROVE_US)
    );
    println!(
        "target verify <= {TARGET_VERIFY_US} µs (inclusion): {}",
        verdict(median(&present.verify_us), TARGET_VERIFY_US)
    );
    println!(
        "target proof size <= {TARGET_PROOF_BYTES} B (inclusion, max): {}",
        verdict(quantile(&present.bytes, 1.0), TARGET_PROOF_BYTES)
    );
    println!();
    Ok(())
}

fn open_disk(dir: &Path, state_roots: bool) -> Result<Database> {
    Database::open_with(
        dir,
        OpenOptions {
            synchronous: Synchronous::Off,
            state_roots,
            ..Default::default()
        },
    )
    .with_context(|| format!("cairn open {}", dir.display()))
}

fn bench_disk(args: &Args, base: &Path) -> Result<()> {
    println!(
        "== (a-iii) engine on disk, synchronous=off, state_roots on vs off: {} rows, \
         transactions of {} rows (80% UPDATE, 10% INSERT, 10% DELETE)",
        args.rows, args.batch
    );
    let mut dbs = Vec::new();
    let mut order = [("noroots", false), ("roots", true)];
    if args.roots_first {
        order.reverse();
    }
    for (name, roots) in order {
        let dir = base.join(name);
        let rss0 = rss_bytes();
        let db = open_disk(&dir, roots)?;
        let load_time = load(&db, args.rows, args.load_batch)?;
        let rss1 = rss_bytes();
        let t = Instant::now();
        db.checkpoint()?;
        let cp = t.elapsed();
        println!(
            "{name:<8} load {:.2} s ({:.0} rows/s); checkpoint {:.2} s; RSS {} ({})",
            load_time.as_secs_f64(),
            args.rows as f64 / load_time.as_secs_f64(),
            cp.as_secs_f64(),
            rss_mib(),
            per_row(rss0, rss1, args.rows)
        );
        dbs.push((name, db));
    }
    // Index 0 is the database without roots from here on.
    if args.roots_first {
        dbs.reverse();
    }
    let mut keys = Keys::new(args.rows);
    let mut stmts: Vec<Stmts> = dbs
        .iter()
        .map(|(_, db)| Stmts::new(db))
        .collect::<Result<_>>()?;
    let mut commit: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut stmt_ms: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    println!(
        "{:>4} {:>10} {:>10} {:>12} {:>12} {:>7}",
        "rep", "noroots_ms", "roots_ms", "noroots_stm", "roots_stm", "first"
    );
    for rep in 0..args.warmup + args.reps {
        let w = keys.batch(args.batch, rep + 1);
        let order: [usize; 2] = if rep % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut row = [(0.0, 0.0); 2];
        for i in order {
            let (s, c, _) = run_batch(&dbs[i].1, &mut stmts[i], &w)?;
            row[i] = (ms(s), ms(c));
        }
        println!(
            "{:>4} {:>10.3} {:>10.3} {:>12.3} {:>12.3} {:>7}{}",
            rep_label(rep, args.warmup),
            row[0].1,
            row[1].1,
            row[0].0,
            row[1].0,
            dbs[order[0]].0,
            if rep < args.warmup { "  (warm-up)" } else { "" }
        );
        if rep >= args.warmup {
            for i in 0..2 {
                stmt_ms[i].push(row[i].0);
                commit[i].push(row[i].1);
            }
        }
    }
    let (off, on) = (median(&commit[0]), median(&commit[1]));
    let diffs: Vec<f64> = commit[1]
        .iter()
        .zip(&commit[0])
        .map(|(a, b)| a - b)
        .collect();
    println!(
        "median COMMIT + state_root(): noroots {off:.3} ms, roots {on:.3} ms; \
         roots - noroots {:.3} ms (median of per-rep differences {:.3} ms); statements {:.3} / {:.3} ms",
        on - off,
        median(&diffs),
        median(&stmt_ms[0]),
        median(&stmt_ms[1])
    );
    println!(
        "target root update <= {TARGET_ROOT_MS} ms (added commit time): {}",
        verdict(median(&diffs), TARGET_ROOT_MS)
    );
    drop(stmts);
    // Both databases must hold the same rows.
    let counts: Vec<i64> = dbs
        .iter()
        .map(|(_, db)| db.query_row("SELECT COUNT(*) FROM t", params![], |r| r.get(0)))
        .collect::<cairn::Result<_>>()?;
    ensure!(
        counts.windows(2).all(|w| w[0] == w[1]),
        "row counts differ: {counts:?}"
    );
    println!();
    Ok(())
}

fn bench_history(args: &Args) -> Result<()> {
    println!(
        "== history: one-row table, single-row autocommit UPDATEs; read costs at {:?} commits",
        args.history
    );
    let db = Database::open_in_memory()?;
    db.execute(
        "CREATE TABLE h (id INTEGER PRIMARY KEY, v INTEGER)",
        params![],
    )?;
    db.execute("INSERT INTO h VALUES (1, 0)", params![])?;
    let mut st = db.prepare("UPDATE h SET v = v + 1 WHERE id = 1")?;
    let mut version = db.head().version;
    println!(
        "{:>9} {:>12} {:>15} {:>14} {:>18}",
        "commits", "commit_us", "state_root_us", "prove_row_us", "prove_history_us"
    );
    for &target in &args.history {
        let n = target.saturating_sub(version);
        let t = Instant::now();
        for _ in 0..n {
            st.execute(params![])?;
        }
        let per_commit = us(t.elapsed()) / n.max(1) as f64;
        version += n;
        let (mut root_us, mut prove_us, mut hist_us) = (Vec::new(), Vec::new(), Vec::new());
        let mut root = Hash::default();
        for _ in 0..args.reps {
            let t = Instant::now();
            root = db.state_root();
            root_us.push(us(t.elapsed()));
        }
        for _ in 0..args.reps {
            let t = Instant::now();
            let (proof, head) = db.prove_row("h", params![1])?;
            prove_us.push(us(t.elapsed()));
            ensure!(
                head.version == version,
                "head is version {}, expected {version}",
                head.version
            );
            ensure!(proof.verify(&root).is_ok(), "row proof did not verify");
        }
        for _ in 0..args.reps.min(5) {
            let t = Instant::now();
            black_box(db.prove_history(1, version)?);
            hist_us.push(us(t.elapsed()));
        }
        println!(
            "{:>9} {:>12.1} {:>15.1} {:>14.1} {:>18.1}",
            version,
            per_commit,
            median(&root_us),
            median(&prove_us),
            median(&hist_us)
        );
    }
    println!();
    Ok(())
}

fn main() -> Result<()> {
    let args = parse_args()?;
    println!(
        "command: cairn-merkle-bench {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    println!(
        "rows {}, reps {} (+{} warm-up), batch {}, proofs {}/rep, load batch {}, cores {}",
        args.rows,
        args.reps,
        args.warmup,
        args.batch,
        args.proofs,
        args.load_batch,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    if args.parts.contains(&Part::Trie) {
        bench_trie(&args)?;
    }
    if args.parts.contains(&Part::Mem) {
        bench_mem(&args)?;
    }
    if args.parts.contains(&Part::History) {
        bench_history(&args)?;
    }
    if args.parts.contains(&Part::Disk) {
        let base = args
            .dir
            .clone()
            .unwrap_or_else(std::env::temp_dir)
            .join(format!("cairn-merkle-bench-{}", std::process::id()));
        std::fs::create_dir_all(&base).with_context(|| format!("create {}", base.display()))?;
        println!("directory: {}", base.display());
        let r = bench_disk(&args, &base);
        if !args.keep {
            std::fs::remove_dir_all(&base).ok();
        }
        r?;
    }
    Ok(())
}
