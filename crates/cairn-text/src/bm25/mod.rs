//! BM25 retrieval over parts: build a part with [`PartWriter`], open it
//! with [`Part::open`], and rank documents for a [`Query`] with
//! [`search`] — exact top-k (the same answer as scoring every document),
//! sped up by block-max bounds: MaxScore for disjunctions, a leader-window
//! intersection for conjunctions, block skipping for single terms and
//! phrases.
//!
//! Statistics are the caller's snapshot: [`search`] computes them from the
//! parts and their [`Liveness`] (only visible documents count, so a score
//! equals that of an index rebuilt over the visible documents);
//! [`search_with_stats`] takes them precomputed.

mod bitpack;
mod bound;
mod cursor;
mod highlight;
mod index;
pub mod norm;
mod parse;
mod part;
mod score;
mod scorer;
mod tail;
mod topk;

use std::borrow::Cow;
use std::collections::HashMap;

pub use bound::BOUND_POINTS;
pub use highlight::{highlight, snippet, SNIPPET_WORDS_MAX};
pub use index::{IndexError, KeyHit, TextIndex, TAIL_DOCS_MAX};
pub use parse::{parse_query, DefaultOperator, QueryParseError, QUERY_BYTES_MAX, QUERY_DEPTH_MAX};
pub use part::{
    CorruptPart, Part, PartTooLarge, PartWriter, TooManyDocs, PART_DOCS_MAX,
    PART_FORMAT_OLDEST_READABLE, PART_FORMAT_VERSION, PART_MAGIC,
};
pub use score::{idf, Bm25, Bm25Params, Bm25Stats};
pub use tail::TailPart;

use bound::Bound;
use cursor::PostingsCursor;
use part::TermEntry;
use scorer::{AndScorer, EmptyScorer, PhraseScorer, Scorer, TermScorer, UnionScorer};
use topk::TopK;

/// Terms one prefix may expand to; more is an error rather than a slow
/// query (name a longer prefix).
pub const PREFIX_TERMS_MAX: usize = 1024;
/// Terms in one phrase.
pub const PHRASE_TERMS_MAX: usize = 64;

/// A query over already-normalised terms (the tokenizer's output).
#[derive(Clone, Debug, PartialEq)]
pub enum Query {
    Term(String),
    /// Terms at consecutive positions. An empty string stands for one
    /// position that any word — or none, where the tokenizer removed a
    /// stop word — fills (the query parser writes one per removed word).
    Phrase(Vec<String>),
    /// Every term starting with the string.
    Prefix(String),
    /// Any child matches; the score sums the matching children.
    Or(Vec<Query>),
    /// Every child matches, except `Not` children, which must not; the
    /// score sums the positive children.
    And(Vec<Query>),
    /// Only as a child of `And`.
    Not(Box<Query>),
}

/// A query that cannot run, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("NOT must be one of several AND-ed clauses (it excludes; it cannot match alone)")]
    BareNot,
    #[error("an AND needs at least one clause that is not NOT")]
    OnlyNots,
    #[error("prefix '{prefix}*' matches more than {max} terms; use a longer prefix")]
    PrefixTooWide { prefix: String, max: usize },
    #[error("a phrase holds at most {max} terms")]
    PhraseTooLong { max: usize },
}

/// Which documents of a part the snapshot sees.
#[derive(Clone, Copy, Debug)]
pub enum Liveness<'a> {
    All,
    /// Bit `d % 64` of word `d / 64` set = document `d` visible; documents
    /// past the slice are not.
    Bits(&'a [u64]),
    /// Document `d` is a version that began at `begin[d]` and ended at
    /// `end[d]` (`u64::MAX` while open): visible at `ts` iff
    /// `begin[d] <= ts < end[d]`; documents past the slices are not.
    Versions {
        begin: &'a [u64],
        end: &'a [u64],
        ts: u64,
    },
}

impl Liveness<'_> {
    #[inline]
    pub fn is_live(&self, doc: u32) -> bool {
        match self {
            Liveness::All => true,
            Liveness::Bits(words) => words
                .get(doc as usize / 64)
                .is_some_and(|w| w >> (doc % 64) & 1 == 1),
            Liveness::Versions { begin, end, ts } => {
                let d = doc as usize;
                begin.get(d).is_some_and(|b| b <= ts) && end.get(d).is_some_and(|e| ts < e)
            }
        }
    }
}

/// One part as a search sees it.
#[derive(Clone, Copy, Debug)]
pub struct SearchPart<'a> {
    pub part: PartRef<'a>,
    pub live: Liveness<'a>,
}

/// A sealed part or a tail.
#[derive(Clone, Copy, Debug)]
pub enum PartRef<'a> {
    Sealed(&'a Part<&'a [u8]>),
    Tail(&'a TailPart),
}

impl PartRef<'_> {
    fn n_docs(&self) -> u32 {
        match self {
            PartRef::Sealed(p) => p.n_docs(),
            PartRef::Tail(t) => t.n_docs(),
        }
    }

    fn total_len(&self) -> u64 {
        match self {
            PartRef::Sealed(p) => p.total_len(),
            PartRef::Tail(t) => t.total_len(),
        }
    }

    fn terms_with_prefix(&self, prefix: &str) -> Vec<String> {
        match self {
            PartRef::Sealed(p) => p.terms_with_prefix(prefix),
            PartRef::Tail(t) => t.terms_with_prefix(prefix),
        }
    }
}

/// A ranked document: its part (index in the search's slice), id, score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    pub part: usize,
    pub doc: u32,
    pub score: f32,
}

/// Document frequencies at the caller's snapshot.
pub trait DocFreqs {
    fn doc_freq(&self, term: &str) -> u64;
}

impl DocFreqs for HashMap<String, u64> {
    fn doc_freq(&self, term: &str) -> u64 {
        self.get(term).copied().unwrap_or(0)
    }
}

/// Visible documents and their total length, over `parts`.
pub fn snapshot_stats(parts: &[SearchPart]) -> Bm25Stats {
    let mut stats = Bm25Stats::default();
    for p in parts {
        match p.live {
            Liveness::All => {
                stats.n_docs += u64::from(p.part.n_docs());
                stats.total_len += p.part.total_len();
            }
            live => {
                let mut add = |doc: usize, len: u32| {
                    if live.is_live(doc as u32) {
                        stats.n_docs += 1;
                        stats.total_len += u64::from(len);
                    }
                };
                match p.part {
                    PartRef::Sealed(part) => {
                        part.lengths().enumerate().for_each(|(d, l)| add(d, l))
                    }
                    PartRef::Tail(tail) => tail.lengths().enumerate().for_each(|(d, l)| add(d, l)),
                }
            }
        }
    }
    stats
}

/// Visible documents that contain `term`, over `parts`.
pub fn snapshot_doc_freq(parts: &[SearchPart], term: &str) -> u64 {
    parts
        .iter()
        .map(|p| match p.part {
            PartRef::Sealed(part) => part
                .lookup(term)
                .map_or(0, |entry| live_doc_freq(part, p.live, &entry)),
            PartRef::Tail(tail) => tail.doc_freq(term, p.live),
        })
        .sum()
}

/// Visible documents of one part in a term's list.
fn live_doc_freq(part: &Part<&[u8]>, live: Liveness, entry: &TermEntry) -> u64 {
    match live {
        Liveness::All => u64::from(entry.df),
        live => {
            let Some(region) = part.region(entry) else {
                return 0;
            };
            let mut cursor = PostingsCursor::new(region, entry.df, part.norms());
            let mut df = 0;
            while cursor.doc() != cursor::TERMINATED {
                df += u64::from(live.is_live(cursor.doc()));
                cursor.advance();
            }
            df
        }
    }
}

/// Dictionary entries of a query's terms in one part, looked up once.
type TermCache = HashMap<String, Option<TermEntry>, foldhash::fast::RandomState>;

/// The best `k` visible documents for `query`, best first (ties: the
/// earlier part, then the smaller id), with the snapshot's exact
/// statistics computed from `parts`.
pub fn search(
    parts: &[SearchPart],
    query: &Query,
    params: Bm25Params,
    k: usize,
) -> Result<Vec<Hit>, QueryError> {
    let query = expand_prefixes(parts, query)?;
    let terms = query_terms(&query);
    let mut caches: Vec<TermCache> = Vec::with_capacity(parts.len());
    let mut dfs: HashMap<String, u64> = HashMap::with_capacity(terms.len());
    for p in parts {
        let mut cache = TermCache::default();
        for term in &terms {
            let df = match p.part {
                PartRef::Sealed(part) => {
                    let entry = part.lookup(term);
                    cache.insert(term.clone(), entry);
                    entry.map_or(0, |e| live_doc_freq(part, p.live, &e))
                }
                PartRef::Tail(tail) => tail.doc_freq(term, p.live),
            };
            *dfs.entry(term.clone()).or_default() += df;
        }
        caches.push(cache);
    }
    run(
        parts,
        &query,
        params,
        snapshot_stats(parts),
        &dfs,
        Some(&caches),
        k,
    )
}

/// As [`search`], with the snapshot's statistics given.
pub fn search_with_stats(
    parts: &[SearchPart],
    query: &Query,
    params: Bm25Params,
    stats: Bm25Stats,
    dfs: &dyn DocFreqs,
    k: usize,
) -> Result<Vec<Hit>, QueryError> {
    let query = expand_prefixes(parts, query)?;
    run(parts, &query, params, stats, dfs, None, k)
}

/// Runs a prefix-free query part by part into one top-k.
fn run(
    parts: &[SearchPart],
    query: &Query,
    params: Bm25Params,
    stats: Bm25Stats,
    dfs: &dyn DocFreqs,
    caches: Option<&[TermCache]>,
    k: usize,
) -> Result<Vec<Hit>, QueryError> {
    check(query, false)?;
    if k == 0 {
        return Ok(Vec::new());
    }
    let bm25 = Bm25::new(params, stats);
    let mut top = TopK::new(k);
    let idf_of = |term: &str| idf(stats.n_docs, dfs.doc_freq(term));
    for (i, p) in parts.iter().enumerate() {
        let part = match p.part {
            PartRef::Sealed(part) => part,
            PartRef::Tail(tail) => {
                tail.collect(query, &bm25, &idf_of, i, p.live, &mut top);
                continue;
            }
        };
        let cache = caches.and_then(|c| c.get(i));
        let compiler = Compiler {
            part,
            bm25: &bm25,
            stats,
            dfs,
            cache,
        };
        match query {
            Query::Term(term) => {
                if let Some(mut s) = compiler.term(term) {
                    topk::collect_blocks(&mut s, i, p.live, &mut top);
                }
            }
            Query::Or(children) if children.iter().all(|c| matches!(c, Query::Term(_))) => {
                let mut scorers: Vec<TermScorer> = children
                    .iter()
                    .filter_map(|c| match c {
                        Query::Term(t) => compiler.term(t),
                        _ => None,
                    })
                    .collect();
                topk::collect_maxscore(&mut scorers, i, p.live, &mut top);
            }
            Query::And(children) if children.iter().all(is_term_or_not_term) => {
                // Term-only AND (with NOT terms): no dynamic dispatch.
                let (mut musts, mut costs, mut nots) = (Vec::new(), Vec::new(), Vec::new());
                let mut missing = false;
                for child in children {
                    match child {
                        Query::Term(t) => match compiler.term(t) {
                            Some(s) => {
                                costs.push(u64::from(s.df()));
                                musts.push(s);
                            }
                            None => missing = true,
                        },
                        Query::Not(inner) => {
                            if let Query::Term(t) = inner.as_ref() {
                                nots.extend(compiler.term(t));
                            }
                        }
                        _ => {}
                    }
                }
                if !missing {
                    topk::collect_and(&mut musts, &costs, &mut nots, i, p.live, &mut top);
                }
            }
            Query::Phrase(terms) if phrase_words(terms) > 1 => {
                if let Some(mut s) = compiler.phrase_scorer(terms) {
                    topk::collect(&mut s, i, p.live, &mut top);
                }
            }
            Query::Or(children) => {
                let mut scorers: Vec<Box<dyn Scorer + '_>> =
                    children.iter().map(|c| compiler.compile(c)).collect();
                topk::collect_maxscore(&mut scorers, i, p.live, &mut top);
            }
            other => {
                let mut s = compiler.compile(other);
                topk::collect(&mut s, i, p.live, &mut top);
            }
        }
    }
    Ok(top.into_sorted())
}

/// Words of a phrase that are not placeholders.
fn phrase_words(terms: &[String]) -> usize {
    terms.iter().filter(|t| !t.is_empty()).count()
}

fn is_term_or_not_term(q: &Query) -> bool {
    match q {
        Query::Term(_) => true,
        Query::Not(inner) => matches!(inner.as_ref(), Query::Term(_)),
        _ => false,
    }
}

/// Rejects NOT where it cannot mean anything, and over-long phrases.
fn check(query: &Query, in_and: bool) -> Result<(), QueryError> {
    match query {
        Query::Term(_) | Query::Prefix(_) => Ok(()),
        Query::Phrase(terms) if terms.len() > PHRASE_TERMS_MAX => Err(QueryError::PhraseTooLong {
            max: PHRASE_TERMS_MAX,
        }),
        Query::Phrase(_) => Ok(()),
        Query::Not(inner) if in_and => check(inner, false),
        Query::Not(_) => Err(QueryError::BareNot),
        Query::Or(children) => children.iter().try_for_each(|c| check(c, false)),
        Query::And(children) => {
            if !children.is_empty() && children.iter().all(|c| matches!(c, Query::Not(_))) {
                return Err(QueryError::OnlyNots);
            }
            children.iter().try_for_each(|c| check(c, true))
        }
    }
}

/// Replaces each `Prefix` by the `Or` of the terms it matches in `parts`
/// (borrows the query when it has none).
fn expand_prefixes<'q>(
    parts: &[SearchPart],
    query: &'q Query,
) -> Result<Cow<'q, Query>, QueryError> {
    fn has_prefix(q: &Query) -> bool {
        match q {
            Query::Prefix(_) => true,
            Query::Or(c) | Query::And(c) => c.iter().any(has_prefix),
            Query::Not(q) => has_prefix(q),
            Query::Term(_) | Query::Phrase(_) => false,
        }
    }
    if !has_prefix(query) {
        return Ok(Cow::Borrowed(query));
    }
    expand(parts, query).map(Cow::Owned)
}

fn expand(parts: &[SearchPart], query: &Query) -> Result<Query, QueryError> {
    Ok(match query {
        Query::Prefix(prefix) => {
            let mut terms: Vec<String> = parts
                .iter()
                .flat_map(|p| p.part.terms_with_prefix(prefix))
                .collect();
            terms.sort_unstable();
            terms.dedup();
            if terms.len() > PREFIX_TERMS_MAX {
                return Err(QueryError::PrefixTooWide {
                    prefix: prefix.clone(),
                    max: PREFIX_TERMS_MAX,
                });
            }
            Query::Or(terms.into_iter().map(Query::Term).collect())
        }
        Query::Or(c) => Query::Or(
            c.iter()
                .map(|q| expand(parts, q))
                .collect::<Result<_, _>>()?,
        ),
        Query::And(c) => Query::And(
            c.iter()
                .map(|q| expand(parts, q))
                .collect::<Result<_, _>>()?,
        ),
        Query::Not(q) => Query::Not(Box::new(expand(parts, q)?)),
        other => other.clone(),
    })
}

/// Every term a (prefix-free) query scores or matches.
fn query_terms(query: &Query) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(q: &Query, out: &mut Vec<String>) {
        match q {
            Query::Term(t) | Query::Prefix(t) => out.push(t.clone()),
            Query::Phrase(ts) => out.extend(ts.iter().filter(|t| !t.is_empty()).cloned()),
            Query::Or(c) | Query::And(c) => c.iter().for_each(|q| walk(q, out)),
            Query::Not(q) => walk(q, out),
        }
    }
    walk(query, &mut out);
    out.sort_unstable();
    out.dedup();
    out
}

/// Turns a query into scorers over one part.
struct Compiler<'a> {
    part: &'a Part<&'a [u8]>,
    bm25: &'a Bm25,
    stats: Bm25Stats,
    dfs: &'a dyn DocFreqs,
    cache: Option<&'a TermCache>,
}

impl<'a> Compiler<'a> {
    /// The term's dictionary entry: from the search's cache when it has
    /// one, else looked up.
    fn entry(&self, term: &str) -> Option<TermEntry> {
        match self.cache.and_then(|c| c.get(term)) {
            Some(cached) => *cached,
            None => self.part.lookup(term),
        }
    }

    fn df(&self, term: &str) -> u64 {
        self.entry(term).map_or(0, |e| u64::from(e.df))
    }

    fn cursor(&self, term: &str) -> Option<(PostingsCursor<'a>, Bound)> {
        let entry = self.entry(term)?;
        let region = self.part.region(&entry)?;
        let cursor = PostingsCursor::new(region, entry.df, self.part.norms());
        let bound = match entry.summary {
            Some(bound) => bound,
            None => cursor.single_bound()?,
        };
        Some((cursor, bound))
    }

    fn idf(&self, term: &str) -> f32 {
        idf(self.stats.n_docs, self.dfs.doc_freq(term))
    }

    fn term(&self, term: &str) -> Option<TermScorer<'a>> {
        let (cursor, summary) = self.cursor(term)?;
        let weight = self.bm25.weight(self.idf(term));
        Some(TermScorer::new(
            cursor,
            summary,
            weight,
            self.bm25,
            self.part.norms(),
        ))
    }

    fn compile(&self, query: &Query) -> Box<dyn Scorer + 'a> {
        match query {
            Query::Term(t) => match self.term(t) {
                Some(s) => Box::new(s),
                None => Box::new(EmptyScorer),
            },
            Query::Phrase(terms) => self.phrase(terms),
            // Prefixes were expanded and NOT checked before compiling.
            Query::Prefix(_) | Query::Not(_) => Box::new(EmptyScorer),
            Query::Or(children) => {
                let children = children.iter().map(|c| self.compile(c)).collect();
                Box::new(UnionScorer::new(children))
            }
            Query::And(children) => {
                let (mut musts, mut costs, mut nots) = (Vec::new(), Vec::new(), Vec::new());
                for child in children {
                    match child {
                        Query::Not(inner) => nots.push(self.compile(inner)),
                        positive => {
                            costs.push(self.cost(positive));
                            musts.push(self.compile(positive));
                        }
                    }
                }
                Box::new(AndScorer::new(musts, costs, nots))
            }
        }
    }

    fn phrase(&self, terms: &[String]) -> Box<dyn Scorer + 'a> {
        let mut words = terms.iter().filter(|t| !t.is_empty());
        match (words.next(), words.next()) {
            (None, _) => Box::new(EmptyScorer),
            (Some(one), None) => self.compile(&Query::Term(one.clone())),
            _ => match self.phrase_scorer(terms) {
                Some(s) => Box::new(s),
                None => Box::new(EmptyScorer),
            },
        }
    }

    /// A phrase of two or more terms; `None` when a term is absent.
    fn phrase_scorer(&self, terms: &[String]) -> Option<PhraseScorer<'a>> {
        let mut cursors = Vec::with_capacity(terms.len());
        let mut idf_sum = 0.0f32;
        for (offset, term) in terms.iter().enumerate() {
            if term.is_empty() {
                continue;
            }
            let (cursor, summary) = self.cursor(term)?;
            idf_sum += self.idf(term);
            cursors.push((cursor, offset as u32, summary));
        }
        let weight = self.bm25.weight(idf_sum);
        Some(PhraseScorer::new(
            cursors,
            weight,
            self.bm25,
            self.part.norms(),
        ))
    }

    /// An estimate of how many documents a clause visits (its rarest term).
    fn cost(&self, query: &Query) -> u64 {
        match query {
            Query::Term(t) => self.df(t),
            Query::Phrase(ts) => ts
                .iter()
                .filter(|t| !t.is_empty())
                .map(|t| self.df(t))
                .min()
                .unwrap_or(0),
            Query::Or(c) => c.iter().map(|q| self.cost(q)).sum(),
            Query::And(c) => c.iter().map(|q| self.cost(q)).min().unwrap_or(0),
            Query::Prefix(_) | Query::Not(_) => u64::MAX,
        }
    }
}
