//! BM25 top-10 against tantivy on the passage corpus, in one process and
//! one run: index build time (2 threads), index size, single-thread QPS
//! per query class, and top-10 agreement.
//!
//! ```text
//! python3 ../shared/tools/make_passages.py --out /tmp/data/passages   # see its README
//! cargo run --release -p cairn-benches --features tantivy --bin cairn-text-bench -- \
//!     --data /tmp/data/passages [--reps 3] [--docs N] [--show-diffs 5] [--only or,and] \
//!     [--fts5 200] [--freshness 10000]
//! ```
//!
//! With `--freshness N`, after the static classes: the first 100,000
//! passages are loaded, then N single-document commits (50 % insert of a
//! new passage, 30 % update of a live one to another passage's text, 20 %
//! delete), each followed by a top-10 term query, on Cairn's `TextIndex`
//! (crate level: versions in commit order, a search at the new snapshot;
//! everything compacted when 16 parts accumulate), tantivy (commit and
//! reader reload per change) and FTS5 (one autocommit statement per
//! change, in memory). Every Cairn result is checked against the live
//! documents (a ghost is a returned key that is deleted or whose current
//! text lacks the term), and every 500 commits the whole top-10 is
//! compared with a from-scratch index of the live documents. Then query
//! latency: 20,000 term queries back to back without writes, and 20,000
//! more while one update goes in every 20 ms (50 writes/s); p50 of each.
//!
//! With `--fts5 N`, SQLite FTS5 (rusqlite's bundled SQLite; a contentless
//! table, tokenizer `unicode61 remove_diacritics 0`, one thread, merged
//! with `optimize`) answers the first N queries of each class, and so does
//! Cairn again, timed alone, for the ratio. FTS5's `bm25()` uses exact
//! document lengths and idf `ln((N − df + 0.5) / (df + 0.5))`, so its
//! ranking is compared as the mean overlap of the top-10 id sets.
//!
//! Both engines get the same tokenizer: runs of alphanumeric characters,
//! lowercased, no stemming, no stop words (tantivy's `SimpleTokenizer` +
//! `LowerCaser`), and the same queries built from the same terms: a term
//! query, an OR (should) or AND (must) of the terms, a phrase, and the long
//! gloss queries as an OR of their tokens (repeated tokens repeated in
//! both). Cairn is measured at the `cairn-text` crate level (two parts
//! built by two threads, searched one after the other); tantivy with two
//! indexing threads and no merge policy (two segments), so both search the
//! index their two-thread build produced.
//!
//! QPS is the best of `--reps` timed passes over each class, the engines
//! alternating pass by pass. Agreement: *exact* = the same ten ids in the
//! same order; *tie-aware* = the same scores rank by rank (relative 1e-5)
//! and the same ids except within a group of equal scores (tantivy breaks
//! ties by its own document order, Cairn by passage id).

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use cairn_text::bm25::{
    self, Bm25Params, Liveness, Part, PartRef, PartWriter, Query, SearchPart, TailPart, TextIndex,
};
use cairn_text::tokenize::{Segmenter, Tokenizer, TokenizerConfig};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, PhraseQuery, Query as TQuery, TermQuery};
use tantivy::schema::{IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST};
use tantivy::tokenizer::{LowerCaser, SimpleTokenizer, TextAnalyzer};
use tantivy::{Index, IndexWriter, TantivyDocument, Term};

struct Args {
    data: PathBuf,
    reps: usize,
    docs: Option<usize>,
    show_diffs: usize,
    only: Option<Vec<String>>,
    /// Queries per class run on SQLite FTS5 (0: FTS5 not built).
    fts5_queries: usize,
    /// Single-document commits of the freshness run (0: no run).
    freshness: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        data: PathBuf::from("/tmp/data/passages"),
        reps: 3,
        docs: None,
        show_diffs: 3,
        only: None,
        fts5_queries: 0,
        freshness: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| anyhow!("{a} needs a value"));
        match a.as_str() {
            "--data" => args.data = PathBuf::from(value()?),
            "--reps" => args.reps = value()?.parse()?,
            "--docs" => args.docs = Some(value()?.parse()?),
            "--show-diffs" => args.show_diffs = value()?.parse()?,
            "--fts5" => args.fts5_queries = value()?.parse()?,
            "--freshness" => args.freshness = value()?.parse()?,
            "--only" => args.only = Some(value()?.split(',').map(str::to_string).collect()),
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(args)
}

fn read_jsonl(path: &Path) -> Result<Vec<serde_json::Value>> {
    let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut out = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        out.push(serde_json::from_str(&line?)?);
    }
    Ok(out)
}

/// A query as terms plus how they combine.
#[derive(Clone)]
enum Shape {
    Term(String),
    Or(Vec<String>),
    And(Vec<String>),
    Phrase(Vec<String>),
}

fn load_queries(dir: &Path, tok: &Tokenizer) -> Result<Vec<(String, Vec<Shape>)>> {
    let text = |v: &serde_json::Value| v["text"].as_str().unwrap_or_default().to_string();
    let mut classes: Vec<(String, Vec<Shape>)> = Vec::new();
    let mut by_band: HashMap<String, Vec<Shape>> = HashMap::new();
    for q in read_jsonl(&dir.join("queries_terms.jsonl"))? {
        let band = q["band"].as_str().unwrap_or("?").to_string();
        for t in tok.terms(&text(&q)) {
            by_band
                .entry(band.clone())
                .or_default()
                .push(Shape::Term(t));
        }
    }
    for band in ["rare", "medium", "common"] {
        classes.push((
            format!("term-{band}"),
            by_band.remove(band).unwrap_or_default(),
        ));
    }
    let (mut or, mut and) = (Vec::new(), Vec::new());
    for q in read_jsonl(&dir.join("queries_multi.jsonl"))? {
        let terms = tok.terms(&text(&q));
        match q["op"].as_str() {
            Some("and") => and.push(Shape::And(terms)),
            _ => or.push(Shape::Or(terms)),
        }
    }
    classes.push(("or".into(), or));
    classes.push(("and".into(), and));
    let phrase = read_jsonl(&dir.join("queries_phrase.jsonl"))?
        .iter()
        .map(|q| Shape::Phrase(tok.terms(&text(q))))
        .collect();
    classes.push(("phrase".into(), phrase));
    let gloss = read_jsonl(&dir.join("queries_gloss.jsonl"))?
        .iter()
        .map(|q| Shape::Or(tok.terms(&text(q))))
        .collect();
    classes.push(("gloss".into(), gloss));
    Ok(classes)
}

fn cairn_query(shape: &Shape) -> Query {
    let terms = |ts: &[String]| ts.iter().map(|t| Query::Term(t.clone())).collect();
    match shape {
        Shape::Term(t) => Query::Term(t.clone()),
        Shape::Or(ts) => Query::Or(terms(ts)),
        Shape::And(ts) => Query::And(terms(ts)),
        Shape::Phrase(ts) => Query::Phrase(ts.clone()),
    }
}

fn tantivy_query(shape: &Shape, field: tantivy::schema::Field) -> Box<dyn TQuery> {
    let term = |t: &str| Term::from_field_text(field, t);
    let tq = |t: &str| -> Box<dyn TQuery> {
        Box::new(TermQuery::new(term(t), IndexRecordOption::WithFreqs))
    };
    match shape {
        Shape::Term(t) => tq(t),
        Shape::Or(ts) => Box::new(BooleanQuery::new(
            ts.iter().map(|t| (Occur::Should, tq(t))).collect(),
        )),
        Shape::And(ts) => Box::new(BooleanQuery::new(
            ts.iter().map(|t| (Occur::Must, tq(t))).collect(),
        )),
        Shape::Phrase(ts) if ts.len() == 1 => tq(&ts[0]),
        Shape::Phrase(ts) => Box::new(PhraseQuery::new(ts.iter().map(|t| term(t)).collect())),
    }
}

struct CairnIndex {
    parts: Vec<Vec<u8>>,
    /// Passage id of the first document of each part (ids are contiguous).
    bases: Vec<u64>,
}

fn build_cairn(docs: &[(u64, String)], tok: &Tokenizer) -> Result<CairnIndex> {
    let half = docs.len().div_ceil(2);
    let chunks: Vec<&[(u64, String)]> = docs.chunks(half.max(1)).collect();
    let parts = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                s.spawn(move || -> Result<Vec<u8>> {
                    let mut w = PartWriter::new();
                    let mut terms: Vec<(String, u32)> = Vec::new();
                    for (_, text) in chunk.iter() {
                        terms.clear();
                        tok.for_each_term(text, |t, token| {
                            terms.push((t.to_string(), token.position))
                        });
                        w.add_document(terms.iter().map(|(t, p)| (t.as_str(), *p)))?;
                    }
                    Ok(w.finish()?)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow!("build thread panicked"))?)
            .collect::<Result<Vec<_>>>()
    })?;
    let bases = chunks
        .iter()
        .map(|c| c.first().map_or(0, |d| d.0))
        .collect();
    Ok(CairnIndex { parts, bases })
}

/// A tantivy index in `dir` with the bench's tokenizer (alphanumeric
/// runs, lowercased) on `body`, positions indexed, and a u64 `id`.
fn tantivy_index(
    dir: &Path,
    id_options: impl Into<tantivy::schema::NumericOptions>,
) -> Result<(Index, tantivy::schema::Field, tantivy::schema::Field)> {
    let mut sb = Schema::builder();
    let indexing = TextFieldIndexing::default()
        .set_tokenizer("simple_lower")
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let body = sb.add_text_field(
        "body",
        TextOptions::default().set_indexing_options(indexing),
    );
    let id = sb.add_u64_field("id", id_options);
    let index = Index::create_in_dir(dir, sb.build())?;
    index.tokenizers().register(
        "simple_lower",
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
    Ok((index, body, id))
}

fn build_tantivy(docs: &[(u64, String)], dir: &Path) -> Result<(Index, tantivy::schema::Field)> {
    let (index, body, id) = tantivy_index(dir, FAST)?;
    let mut writer: IndexWriter = index.writer_with_num_threads(2, 400_000_000)?;
    writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
    for (pid, text) in docs {
        let mut doc = TantivyDocument::default();
        doc.add_text(body, text);
        doc.add_u64(id, *pid);
        writer.add_document(doc)?;
    }
    writer.commit()?;
    writer.wait_merging_threads()?;
    Ok((index, body))
}

/// Total bytes of the index directory, and bytes per file extension.
fn dir_size(dir: &Path) -> Result<(u64, Vec<(String, u64)>)> {
    let mut total = 0;
    let mut by_ext: Vec<(String, u64)> = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let len = e.metadata()?.len();
        total += len;
        let name = e.file_name().to_string_lossy().into_owned();
        let ext = name.rsplit('.').next().unwrap_or_default().to_string();
        match by_ext.iter_mut().find(|(x, _)| *x == ext) {
            Some(slot) => slot.1 += len,
            None => by_ext.push((ext, len)),
        }
    }
    by_ext.sort();
    Ok((total, by_ext))
}

/// (passage id, score), best first.
type Ranking = Vec<(u64, f32)>;

fn agree_tie_aware(a: &Ranking, b: &Ranking) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let close = |x: f32, y: f32| (x - y).abs() <= 1e-5 * x.abs().max(y.abs()).max(1e-6);
    if !a.iter().zip(b).all(|(x, y)| close(x.1, y.1)) {
        return false;
    }
    // Groups of equal scores; all but a group touching the end must hold the same ids.
    let mut i = 0;
    while i < a.len() {
        let mut j = i + 1;
        while j < a.len() && close(a[j].1, a[i].1) {
            j += 1;
        }
        if j < a.len() {
            let mut x: Vec<u64> = a[i..j].iter().map(|p| p.0).collect();
            let mut y: Vec<u64> = b[i..j].iter().map(|p| p.0).collect();
            x.sort_unstable();
            y.sort_unstable();
            if x != y {
                return false;
            }
        }
        i = j;
    }
    true
}

/// The corpus as `(id, text)`, ids `0..n` (the first `--docs` only).
fn load_passages(args: &Args) -> Result<Vec<(u64, String)>> {
    let mut docs: Vec<(u64, String)> = Vec::new();
    for v in read_jsonl(&args.data.join("passages.jsonl"))? {
        let id = v["id"]
            .as_u64()
            .ok_or_else(|| anyhow!("passage without id"))?;
        docs.push((id, v["text"].as_str().unwrap_or_default().to_string()));
    }
    docs.sort_by_key(|d| d.0);
    if let Some(n) = args.docs {
        docs.truncate(n);
    }
    if docs.iter().enumerate().any(|(i, d)| d.0 != i as u64) {
        bail!("passage ids are not 0..n");
    }
    Ok(docs)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let tok = Tokenizer::new(TokenizerConfig {
        segmenter: Segmenter::Simple,
        lowercase: true,
        ascii_fold: false,
        stop_words: None,
        stem: None,
    });
    let docs = load_passages(&args)?;
    let classes = load_queries(&args.data, &tok)?;
    println!(
        "corpus {} passages, data {}",
        docs.len(),
        args.data.display()
    );

    let t = Instant::now();
    let cairn = build_cairn(&docs, &tok)?;
    let cairn_build = t.elapsed().as_secs_f64();
    let tdir = std::env::temp_dir().join(format!("cairn-text-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tdir);
    std::fs::create_dir_all(&tdir)?;
    let t = Instant::now();
    let (index, body) = build_tantivy(&docs, &tdir)?;
    let tantivy_build = t.elapsed().as_secs_f64();
    let cairn_bytes: usize = cairn.parts.iter().map(Vec::len).sum();
    let (tantivy_bytes, tantivy_files) = dir_size(&tdir)?;
    let reader = index.reader()?;
    let searcher = reader.searcher();
    println!(
        "build_s cairn={cairn_build:.2} tantivy={tantivy_build:.2} ratio={:.2} (2 threads; tantivy segments={})",
        cairn_build / tantivy_build,
        searcher.segment_readers().len()
    );
    println!(
        "index_bytes cairn={cairn_bytes} tantivy={tantivy_bytes} ratio={:.3} (tantivy includes its u64 id fast field)",
        cairn_bytes as f64 / tantivy_bytes as f64
    );

    let fts5 = if args.fts5_queries > 0 {
        Some(build_fts5_reported(&docs, &tdir, cairn_build, cairn_bytes)?)
    } else {
        None
    };

    let opened: Vec<Part<&[u8]>> = cairn
        .parts
        .iter()
        .map(|b| Part::open(b.as_slice()))
        .collect::<Result<_, _>>()?;
    print_sections(&opened, &tantivy_files);
    let parts: Vec<SearchPart> = opened
        .iter()
        .map(|part| SearchPart {
            part: PartRef::Sealed(part),
            live: Liveness::All,
        })
        .collect();
    let id_columns = searcher
        .segment_readers()
        .iter()
        .map(|s| s.fast_fields().u64("id"))
        .collect::<Result<Vec<_>, _>>()?;
    let params = Bm25Params::default();

    let run_cairn = |q: &Query| -> Result<Ranking> {
        let hits = bm25::search(&parts, q, params, 10)?;
        Ok(hits
            .iter()
            .map(|h| (cairn.bases[h.part] + u64::from(h.doc), h.score))
            .collect())
    };
    let run_tantivy = |q: &dyn TQuery| -> Result<Vec<(f32, tantivy::DocAddress)>> {
        Ok(searcher.search(q, &TopDocs::with_limit(10).order_by_score())?)
    };

    let pid_of = |addr: tantivy::DocAddress| {
        id_columns[addr.segment_ord as usize]
            .first(addr.doc_id)
            .unwrap_or(u64::MAX)
    };
    let engines = Engines {
        run_cairn: &run_cairn,
        run_tantivy: &run_tantivy,
        pid_of: &pid_of,
        body,
        fts5: fts5.as_ref(),
    };
    static_classes(&args, &classes, &engines)?;
    if args.freshness > 0 {
        freshness(&docs, &classes, &tok, args.freshness, &tdir)?;
    }
    let _ = std::fs::remove_dir_all(&tdir);
    Ok(())
}

/// The engines a static run compares.
struct Engines<'a> {
    run_cairn: &'a dyn Fn(&Query) -> Result<Ranking>,
    run_tantivy: &'a dyn Fn(&dyn TQuery) -> Result<Vec<(f32, tantivy::DocAddress)>>,
    /// The passage id of a tantivy document.
    pid_of: &'a dyn Fn(tantivy::DocAddress) -> u64,
    body: tantivy::schema::Field,
    fts5: Option<&'a rusqlite::Connection>,
}

/// QPS and agreement per query class (and FTS5 with `--fts5`).
fn static_classes(args: &Args, classes: &[(String, Vec<Shape>)], e: &Engines) -> Result<()> {
    println!("class n cairn_qps tantivy_qps ratio exact tie_aware");
    for (name, shapes) in classes {
        if shapes.is_empty() || args.only.as_ref().is_some_and(|o| !o.contains(name)) {
            continue;
        }
        let cq: Vec<Query> = shapes.iter().map(cairn_query).collect();
        let tq: Vec<Box<dyn TQuery>> = shapes.iter().map(|s| tantivy_query(s, e.body)).collect();
        let (mut best_c, mut best_t) = (f64::INFINITY, f64::INFINITY);
        let mut sink = 0usize;
        for _ in 0..args.reps.max(1) {
            let t = Instant::now();
            for q in &cq {
                sink += (e.run_cairn)(q)?.len();
            }
            best_c = best_c.min(t.elapsed().as_secs_f64());
            let t = Instant::now();
            for q in &tq {
                sink += (e.run_tantivy)(q.as_ref())?.len();
            }
            best_t = best_t.min(t.elapsed().as_secs_f64());
        }
        let (mut exact, mut tie_ok, mut shown) = (0usize, 0usize, 0usize);
        for (i, (q, t)) in cq.iter().zip(&tq).enumerate() {
            let a = (e.run_cairn)(q)?;
            let b: Ranking = (e.run_tantivy)(t.as_ref())?
                .into_iter()
                .map(|(score, addr)| ((e.pid_of)(addr), score))
                .collect();
            let same = a.iter().map(|x| x.0).eq(b.iter().map(|x| x.0));
            exact += usize::from(same);
            let tie = same || agree_tie_aware(&a, &b);
            tie_ok += usize::from(tie);
            if !tie && shown < args.show_diffs {
                shown += 1;
                println!(
                    "  diff {name} #{i} {:?}\n    cairn   {a:?}\n    tantivy {b:?}",
                    shapes_text(&shapes[i])
                );
            }
        }
        if let Some(conn) = e.fts5 {
            let n_f = args.fts5_queries.min(shapes.len());
            let mut stmt = conn.prepare_cached(
                "SELECT rowid FROM fts WHERE fts MATCH ?1 ORDER BY rank LIMIT 10",
            )?;
            let matches: Vec<String> = shapes[..n_f].iter().map(fts5_match).collect();
            let (mut best_f, mut best_c) = (f64::INFINITY, f64::INFINITY);
            let mut overlap = 0.0f64;
            let mut run_fts5 = |m: &str| -> Result<Vec<u64>> {
                Ok(stmt
                    .query_map([m], |r| r.get::<_, i64>(0))?
                    .map(|r| r.map(|v| v as u64))
                    .collect::<Result<_, _>>()?)
            };
            for (j, m) in matches.iter().enumerate() {
                let ids = run_fts5(m)?;
                let ours = (e.run_cairn)(&cq[j])?;
                let common = ours.iter().filter(|x| ids.contains(&x.0)).count();
                overlap += common as f64 / ours.len().max(ids.len()).max(1) as f64;
            }
            for _ in 0..args.reps.max(1) {
                let t = Instant::now();
                for m in &matches {
                    sink += run_fts5(m)?.len();
                }
                best_f = best_f.min(t.elapsed().as_secs_f64());
                let t = Instant::now();
                for q in &cq[..n_f] {
                    sink += (e.run_cairn)(q)?.len();
                }
                best_c = best_c.min(t.elapsed().as_secs_f64());
            }
            println!(
                "  fts5 {name} {n_f} cairn_qps={:.0} fts5_qps={:.0} ratio={:.2} top10_overlap={:.3}",
                n_f as f64 / best_c,
                n_f as f64 / best_f,
                best_f / best_c,
                overlap / n_f as f64
            );
        }
        let n = shapes.len() as f64;
        println!(
            "{name} {} {:.0} {:.0} {:.2} {:.4} {:.4}{}",
            shapes.len(),
            n / best_c,
            n / best_t,
            best_t / best_c,
            exact as f64 / n,
            tie_ok as f64 / n,
            if sink == usize::MAX { "!" } else { "" }
        );
    }
    Ok(())
}

/// Passages loaded before the freshness run's commits.
const FRESH_BASE: usize = 100_000;

/// One commit of the freshness run: (key, passage index).
#[derive(Clone, Copy)]
enum Change {
    Insert(u64, usize),
    Update(u64, usize),
    Delete(u64),
}

/// What Cairn's part of the freshness run measured.
struct CairnFresh {
    secs: f64,
    ghosts: usize,
    checks: usize,
    mismatches: usize,
    /// Query p50 with a write before every query (the commit loop).
    p50: f64,
    /// Query p50 back to back, no writes.
    quiet_p50: f64,
    /// Query p50 back to back while 50 writes/s go in.
    busy_p50: f64,
}

/// The freshness run (see the module doc).
fn freshness(
    docs: &[(u64, String)],
    classes: &[(String, Vec<Shape>)],
    tok: &Tokenizer,
    commits: usize,
    tdir: &Path,
) -> Result<()> {
    if docs.len() < FRESH_BASE * 2 {
        bail!(
            "the freshness run needs at least {} passages",
            FRESH_BASE * 2
        );
    }
    // Query terms: the medium and common single terms.
    let terms: Vec<String> = classes
        .iter()
        .filter(|(name, _)| name == "term-medium" || name == "term-common")
        .flat_map(|(_, shapes)| shapes.iter())
        .filter_map(|s| match s {
            Shape::Term(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    let tokens = |text: &str| -> Vec<(String, u32)> {
        let mut out = Vec::new();
        tok.for_each_term(text, |t, token| out.push((t.to_string(), token.position)));
        out
    };
    let query_of = |i: usize| terms[i % terms.len().max(1)].clone();
    let plan = freshness_plan(docs.len(), commits);
    let c = freshness_cairn(docs, &plan, &tokens, &query_of)?;
    let tantivy_s = freshness_tantivy(docs, &plan, &query_of, tdir)?;
    let fts5_s = freshness_fts5(docs, &plan, &query_of)?;
    let (cairn_s, ghosts, checks, mismatches) = (c.secs, c.ghosts, c.checks, c.mismatches);
    let per_s = |secs: f64| commits as f64 / secs;
    println!(
        "freshness commits={commits} cairn={:.0}/s tantivy={:.0}/s fts5={:.0}/s ratio_tantivy={:.1} ratio_fts5={:.2}",
        per_s(cairn_s),
        per_s(tantivy_s),
        per_s(fts5_s),
        tantivy_s / cairn_s,
        fts5_s / cairn_s
    );
    println!("freshness ghosts={ghosts} full_checks={checks} mismatched={mismatches}");
    println!(
        "latency query_p50_us static={:.1} at_50_writes_per_s={:.1} ratio={:.2} with_a_write_before_each={:.1}",
        c.quiet_p50 * 1e6,
        c.busy_p50 * 1e6,
        c.busy_p50 / c.quiet_p50.max(1e-12),
        c.p50 * 1e6
    );
    Ok(())
}

/// The commits, shared by all engines: 50 % inserts of new passages, 30 %
/// updates of a live key to the next passage's text, 20 % deletes.
fn freshness_plan(n_docs: usize, commits: usize) -> Vec<Change> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261208);
    let mut live: Vec<u64> = (0..FRESH_BASE as u64).collect();
    let mut text_of: HashMap<u64, usize> = (0..FRESH_BASE).map(|i| (i as u64, i)).collect();
    let mut next_passage = FRESH_BASE;
    let mut next_key = FRESH_BASE as u64;
    let mut plan = Vec::with_capacity(commits);
    for _ in 0..commits {
        let roll: f64 = rng.random();
        let change = if roll < 0.5 || live.is_empty() {
            let c = Change::Insert(next_key, next_passage);
            live.push(next_key);
            text_of.insert(next_key, next_passage);
            next_key += 1;
            next_passage = (next_passage + 1) % n_docs;
            c
        } else if roll < 0.8 {
            let key = live[rng.random_range(0..live.len())];
            text_of.insert(key, next_passage);
            let c = Change::Update(key, next_passage);
            next_passage = (next_passage + 1) % n_docs;
            c
        } else {
            let key = live.swap_remove(rng.random_range(0..live.len()));
            text_of.remove(&key);
            Change::Delete(key)
        };
        plan.push(change);
    }
    plan
}

/// Cairn's `TextIndex`: the commits with a query after each, checked.
fn freshness_cairn(
    docs: &[(u64, String)],
    plan: &[Change],
    tokens: &dyn Fn(&str) -> Vec<(String, u32)>,
    query_of: &dyn Fn(usize) -> String,
) -> Result<CairnFresh> {
    let commits = plan.len();
    let mut index = TextIndex::new();
    for (i, (_, text)) in docs[..FRESH_BASE].iter().enumerate() {
        let t = tokens(text);
        index.insert(i as u64, t.iter().map(|(s, p)| (s.as_str(), *p)), 1)?;
    }
    index.compact(1)?;
    let mut current: HashMap<u64, usize> = (0..FRESH_BASE).map(|i| (i as u64, i)).collect();
    let (mut ghosts, mut mismatches, mut checks) = (0usize, 0usize, 0usize);
    let mut latencies = Vec::with_capacity(commits);
    // Engine time only: the checks below each query are not counted.
    let mut engine_s = 0.0f64;
    for (i, change) in plan.iter().enumerate() {
        let ts = 2 + i as u64;
        // Tokenizing the old and new text counts (tantivy and FTS5
        // tokenize inside their timed calls too).
        let op_start = Instant::now();
        let old = match *change {
            Change::Update(key, _) | Change::Delete(key) => tokens(&docs[current[&key]].1),
            Change::Insert(..) => Vec::new(),
        };
        let new = match *change {
            Change::Insert(_, p) | Change::Update(_, p) => tokens(&docs[p].1),
            Change::Delete(_) => Vec::new(),
        };
        match *change {
            Change::Insert(key, _) | Change::Update(key, _) => {
                if matches!(change, Change::Update(..)) {
                    index.end(key, ts, old.iter().map(|(t, _)| t.as_str()))?;
                }
                index.insert(key, new.iter().map(|(s, p)| (s.as_str(), *p)), ts)?;
            }
            Change::Delete(key) => {
                index.end(key, ts, old.iter().map(|(t, _)| t.as_str()))?;
            }
        }
        if index.n_parts() >= 16 {
            // Tiered: the small recent parts merge; the base stays.
            index.merge_from(1, ts)?;
        }
        let q = Query::Term(query_of(i));
        let t0 = Instant::now();
        let hits = index.search(&q, Bm25Params::default(), ts, 10)?;
        latencies.push(t0.elapsed().as_secs_f64());
        engine_s += op_start.elapsed().as_secs_f64();
        match *change {
            Change::Insert(key, p) | Change::Update(key, p) => {
                current.insert(key, p);
            }
            Change::Delete(key) => {
                current.remove(&key);
            }
        }
        let Query::Term(term) = &q else { continue };
        for h in &hits {
            let fresh = current
                .get(&h.key)
                .is_some_and(|&p| tokens(&docs[p].1).iter().any(|(t, _)| t == term));
            ghosts += usize::from(!fresh);
        }
        if i % 500 == 499 {
            checks += 1;
            mismatches += usize::from(!same_as_rebuild(docs, &current, tokens, &q, &hits)?);
        }
    }
    let cairn_s = engine_s;
    latencies.sort_by(f64::total_cmp);
    let p50 = latencies.get(latencies.len() / 2).copied().unwrap_or(0.0);
    let ts_end = 1 + commits as u64;
    let (quiet_p50, busy_p50) =
        latency_under_writes(&mut index, docs, &current, tokens, query_of, ts_end)?;

    Ok(CairnFresh {
        secs: cairn_s,
        ghosts,
        checks,
        mismatches,
        p50,
        quiet_p50,
        busy_p50,
    })
}

/// Query latency p50 back to back without writes, then with one update
/// every 20 ms (50 writes/s) between the queries, on the same index.
fn latency_under_writes(
    index: &mut TextIndex,
    docs: &[(u64, String)],
    current: &HashMap<u64, usize>,
    tokens: &dyn Fn(&str) -> Vec<(String, u32)>,
    query_of: &dyn Fn(usize) -> String,
    mut ts: u64,
) -> Result<(f64, f64)> {
    const QUERIES: usize = 20_000;
    let p50 = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let mut quiet = Vec::with_capacity(QUERIES);
    for i in 0..QUERIES {
        let t0 = Instant::now();
        index.search(&Query::Term(query_of(i)), Bm25Params::default(), ts, 10)?;
        quiet.push(t0.elapsed().as_secs_f64());
    }
    let mut keys: Vec<(u64, usize)> = current.iter().map(|(&k, &p)| (k, p)).collect();
    keys.sort_unstable();
    let mut busy = Vec::with_capacity(QUERIES);
    let start = Instant::now();
    let (mut next_write, mut w) = (0.02f64, 0usize);
    for i in 0..QUERIES {
        if start.elapsed().as_secs_f64() >= next_write && !keys.is_empty() {
            ts += 1;
            let slot = w % keys.len();
            let (key, old_p) = keys[slot];
            let new_p = (FRESH_BASE * 2 + w) % docs.len();
            let old = tokens(&docs[old_p].1);
            index.end(key, ts, old.iter().map(|(t, _)| t.as_str()))?;
            let new = tokens(&docs[new_p].1);
            index.insert(key, new.iter().map(|(t, p)| (t.as_str(), *p)), ts)?;
            if index.n_parts() >= 16 {
                index.merge_from(1, ts)?;
            }
            keys[slot].1 = new_p;
            next_write += 0.02;
            w += 1;
        }
        let t0 = Instant::now();
        index.search(&Query::Term(query_of(i)), Bm25Params::default(), ts, 10)?;
        busy.push(t0.elapsed().as_secs_f64());
    }
    Ok((p50(quiet), p50(busy)))
}

/// Whether `hits` score exactly as a from-scratch index of the live
/// documents (`current`: key → passage) scores its top-10 for `q`.
fn same_as_rebuild(
    docs: &[(u64, String)],
    current: &HashMap<u64, usize>,
    tokens: &dyn Fn(&str) -> Vec<(String, u32)>,
    q: &Query,
    hits: &[bm25::KeyHit],
) -> Result<bool> {
    let mut tail = TailPart::new();
    let mut keys: Vec<u64> = current.keys().copied().collect();
    keys.sort_unstable();
    for k in &keys {
        let t = tokens(&docs[current[k]].1);
        tail.add_document(t.iter().map(|(s, p)| (s.as_str(), *p)))?;
    }
    let parts = [SearchPart {
        part: PartRef::Tail(&tail),
        live: Liveness::All,
    }];
    let want: Vec<f32> = bm25::search(&parts, q, Bm25Params::default(), 10)?
        .iter()
        .map(|h| h.score)
        .collect();
    let got: Vec<f32> = hits.iter().map(|h| h.score).collect();
    Ok(want == got)
}

/// tantivy: delete + add, commit and reader reload per change, a query after each.
fn freshness_tantivy(
    docs: &[(u64, String)],
    plan: &[Change],
    query_of: &dyn Fn(usize) -> String,
    tdir: &Path,
) -> Result<f64> {
    let dir = tdir.join("fresh-tantivy");
    std::fs::create_dir_all(&dir)?;
    let (tindex, body, id) = tantivy_index(&dir, tantivy::schema::INDEXED | FAST)?;
    let mut writer: IndexWriter = tindex.writer_with_num_threads(1, 100_000_000)?;
    for (i, (_, text)) in docs[..FRESH_BASE].iter().enumerate() {
        let mut d = TantivyDocument::default();
        d.add_text(body, text);
        d.add_u64(id, i as u64);
        writer.add_document(d)?;
    }
    writer.commit()?;
    let reader = tindex
        .reader_builder()
        .reload_policy(tantivy::ReloadPolicy::Manual)
        .try_into()?;
    let start = Instant::now();
    for (i, change) in plan.iter().enumerate() {
        match *change {
            Change::Insert(key, p) | Change::Update(key, p) => {
                writer.delete_term(Term::from_field_u64(id, key));
                let mut d = TantivyDocument::default();
                d.add_text(body, &docs[p].1);
                d.add_u64(id, key);
                writer.add_document(d)?;
            }
            Change::Delete(key) => {
                writer.delete_term(Term::from_field_u64(id, key));
            }
        }
        writer.commit()?;
        reader.reload()?;
        let searcher = reader.searcher();
        let q = TermQuery::new(
            Term::from_field_text(body, &query_of(i)),
            IndexRecordOption::WithFreqs,
        );
        searcher.search(&q, &TopDocs::with_limit(10).order_by_score())?;
    }
    let tantivy_s = start.elapsed().as_secs_f64();

    Ok(tantivy_s)
}

/// FTS5: one autocommit statement per change, in memory, a query after each.
fn freshness_fts5(
    docs: &[(u64, String)],
    plan: &[Change],
    query_of: &dyn Fn(usize) -> String,
) -> Result<f64> {
    let conn = rusqlite::Connection::open_in_memory()?;
    conn.execute_batch(
        "CREATE VIRTUAL TABLE fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 0');",
    )?;
    {
        let tx = conn.unchecked_transaction()?;
        let mut ins = tx.prepare("INSERT INTO fts (rowid, body) VALUES (?1, ?2)")?;
        for (i, (_, text)) in docs[..FRESH_BASE].iter().enumerate() {
            ins.execute(rusqlite::params![i as i64, text])?;
        }
        drop(ins);
        tx.commit()?;
    }
    let start = Instant::now();
    {
        let mut ins = conn.prepare("INSERT INTO fts (rowid, body) VALUES (?1, ?2)")?;
        let mut upd = conn.prepare("UPDATE fts SET body = ?2 WHERE rowid = ?1")?;
        let mut del = conn.prepare("DELETE FROM fts WHERE rowid = ?1")?;
        let mut query =
            conn.prepare("SELECT rowid FROM fts WHERE fts MATCH ?1 ORDER BY rank LIMIT 10")?;
        for (i, change) in plan.iter().enumerate() {
            match *change {
                Change::Insert(key, p) => {
                    ins.execute(rusqlite::params![key as i64, docs[p].1])?;
                }
                Change::Update(key, p) => {
                    upd.execute(rusqlite::params![key as i64, docs[p].1])?;
                }
                Change::Delete(key) => {
                    del.execute(rusqlite::params![key as i64])?;
                }
            }
            let m = format!("\"{}\"", query_of(i));
            let n = query.query_map([m], |r| r.get::<_, i64>(0))?.count();
            std::hint::black_box(n);
        }
    }
    let fts5_s = start.elapsed().as_secs_f64();

    Ok(fts5_s)
}

/// Bytes per section of Cairn's parts and per file kind of tantivy's index.
fn print_sections(opened: &[Part<&[u8]>], tantivy_files: &[(String, u64)]) {
    let mut sections: Vec<(&str, usize)> = Vec::new();
    for part in opened {
        for (i, (name, n)) in part.section_sizes().into_iter().enumerate() {
            match sections.get_mut(i) {
                Some(s) => s.1 += n,
                None => sections.push((name, n)),
            }
        }
    }
    println!("cairn sections {sections:?}");
    println!("tantivy files {tantivy_files:?}");
}

/// Builds the FTS5 index and prints its build time and size against Cairn's.
fn build_fts5_reported(
    docs: &[(u64, String)],
    tdir: &Path,
    cairn_build: f64,
    cairn_bytes: usize,
) -> Result<rusqlite::Connection> {
    let path = tdir.join("fts5.db");
    let t = Instant::now();
    let conn = build_fts5(docs, &path)?;
    let secs = t.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&path)?.len();
    println!(
        "fts5 build_s={secs:.2} (1 thread) ratio_cairn={:.2} index_bytes={bytes} ratio_cairn={:.3}",
        cairn_build / secs,
        cairn_bytes as f64 / bytes as f64
    );
    Ok(conn)
}

fn build_fts5(docs: &[(u64, String)], path: &Path) -> Result<rusqlite::Connection> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
         CREATE VIRTUAL TABLE fts USING fts5(body, content = '',
             tokenize = 'unicode61 remove_diacritics 0');",
    )?;
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare("INSERT INTO fts (rowid, body) VALUES (?1, ?2)")?;
        for (id, text) in docs {
            insert.execute(rusqlite::params![*id as i64, text])?;
        }
    }
    tx.commit()?;
    conn.execute("INSERT INTO fts (fts) VALUES ('optimize')", [])?;
    Ok(conn)
}

/// The FTS5 MATCH expression for a query (terms are alphanumeric runs,
/// safe inside double quotes).
fn fts5_match(shape: &Shape) -> String {
    let quoted = |ts: &[String], op: &str| {
        ts.iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(op)
    };
    match shape {
        Shape::Term(t) => format!("\"{t}\""),
        Shape::Or(ts) => quoted(ts, " OR "),
        Shape::And(ts) => quoted(ts, " AND "),
        Shape::Phrase(ts) => format!("\"{}\"", ts.join(" ")),
    }
}

fn shapes_text(s: &Shape) -> String {
    match s {
        Shape::Term(t) => t.clone(),
        Shape::Or(ts) => format!("OR {}", ts.join(" ")),
        Shape::And(ts) => format!("AND {}", ts.join(" ")),
        Shape::Phrase(ts) => format!("\"{}\"", ts.join(" ")),
    }
}
