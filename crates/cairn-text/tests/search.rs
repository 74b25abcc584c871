//! Top-k search against an exhaustive model: random corpora split into
//! parts, random liveness, random queries (terms, OR, AND, NOT, phrases,
//! prefixes, nesting). The model tokenizes nothing and skips nothing: it
//! scores every visible document with statistics counted over the visible
//! documents, summing clause scores in clause order — the answer (ids and
//! bit-identical scores) must be the same.

use std::collections::HashMap;

use cairn_text::bm25::{
    self, idf, norm, search, Bm25, Bm25Params, Bm25Stats, Hit, Liveness, Part, PartRef, PartWriter,
    Query, SearchPart, TailPart,
};
use proptest::prelude::*;

const VOCAB: [&str; 10] = ["a", "b", "c", "ab", "abc", "d", "e", "f", "g", "h"];

type Doc = Vec<&'static str>;

fn build(docs: &[Doc]) -> Vec<u8> {
    let mut w = PartWriter::new();
    for d in docs {
        w.add_document(d.iter().enumerate().map(|(i, t)| (*t, i as u32)))
            .expect("doc");
    }
    w.finish().expect("small part")
}

struct Model<'a> {
    parts: &'a [(Vec<Doc>, Vec<bool>)],
    bm25: Bm25,
    stats: Bm25Stats,
    dfs: HashMap<String, u64>,
}

impl Model<'_> {
    fn df(&self, term: &str) -> u64 {
        self.dfs.get(term).copied().unwrap_or(0)
    }

    fn count_dfs(parts: &[(Vec<Doc>, Vec<bool>)]) -> HashMap<String, u64> {
        let mut dfs = HashMap::new();
        for (docs, live) in parts {
            for (d, l) in docs.iter().zip(live) {
                let mut seen: Vec<&str> = d.clone();
                seen.sort_unstable();
                seen.dedup();
                for t in seen {
                    *dfs.entry(t.to_string()).or_insert(0) += u64::from(*l);
                }
            }
        }
        dfs
    }

    fn score(&self, q: &Query, doc: &Doc) -> Option<f32> {
        let norm = norm::encode(doc.len() as u32);
        match q {
            Query::Term(t) => {
                let tf = doc.iter().filter(|x| **x == t.as_str()).count() as u32;
                (tf > 0).then(|| {
                    self.bm25.score(
                        self.bm25.weight(idf(self.stats.n_docs, self.df(t))),
                        tf,
                        norm,
                    )
                })
            }
            Query::Phrase(ts) if ts.iter().filter(|t| !t.is_empty()).count() <= 1 => {
                let one = ts.iter().find(|t| !t.is_empty())?;
                self.score(&Query::Term(one.clone()), doc)
            }
            Query::Phrase(ts) => {
                // A placeholder ("") is a position any word or none fills.
                let pf = (0..doc.len())
                    .filter(|&s| {
                        ts.iter()
                            .enumerate()
                            .all(|(o, t)| t.is_empty() || doc.get(s + o) == Some(&t.as_str()))
                    })
                    .count() as u32;
                let mut idf_sum = 0.0f32;
                for t in ts.iter().filter(|t| !t.is_empty()) {
                    idf_sum += idf(self.stats.n_docs, self.df(t));
                }
                (pf > 0).then(|| self.bm25.score(self.bm25.weight(idf_sum), pf, norm))
            }
            Query::Prefix(p) => {
                let mut terms: Vec<&str> = VOCAB
                    .iter()
                    .copied()
                    .filter(|t| t.starts_with(p.as_str()))
                    .collect();
                terms.sort_unstable();
                let or = Query::Or(terms.into_iter().map(|t| Query::Term(t.into())).collect());
                self.score(&or, doc)
            }
            Query::Or(children) => {
                let mut score = 0.0f32;
                let mut any = false;
                for c in children {
                    if let Some(s) = self.score(c, doc) {
                        score += s;
                        any = true;
                    }
                }
                any.then_some(score)
            }
            Query::And(children) => {
                let mut score = 0.0f32;
                for c in children {
                    match c {
                        Query::Not(inner) => {
                            if self.score(inner, doc).is_some() {
                                return None;
                            }
                        }
                        positive => score += self.score(positive, doc)?,
                    }
                }
                Some(score)
            }
            Query::Not(_) => None,
        }
    }

    fn top(&self, q: &Query, k: usize) -> Vec<Hit> {
        let mut hits = Vec::new();
        for (p, (docs, live)) in self.parts.iter().enumerate() {
            for (d, doc) in docs.iter().enumerate() {
                if !live[d] {
                    continue;
                }
                if let Some(score) = self.score(q, doc) {
                    hits.push(Hit {
                        part: p,
                        doc: d as u32,
                        score,
                    });
                }
            }
        }
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then((a.part, a.doc).cmp(&(b.part, b.doc)))
        });
        hits.truncate(k);
        hits
    }
}

fn doc_strategy() -> impl Strategy<Value = Doc> {
    // Skewed: early vocabulary words are common, and runs repeat words.
    proptest::collection::vec((0usize..100, 1usize..4), 0..12).prop_map(|picks| {
        let mut doc = Vec::new();
        for (r, repeat) in picks {
            let w = VOCAB[(r * r / 1000).min(VOCAB.len() - 1)];
            for _ in 0..repeat {
                doc.push(w);
            }
        }
        doc
    })
}

fn leaf() -> impl Strategy<Value = Query> {
    let term = (0..VOCAB.len()).prop_map(|i| Query::Term(VOCAB[i].into()));
    // Index 5 is a placeholder ("") for a removed word.
    let phrase = proptest::collection::vec(0..6usize, 1..4).prop_map(|ix| {
        Query::Phrase(
            ix.into_iter()
                .map(|i| {
                    if i == 5 {
                        String::new()
                    } else {
                        VOCAB[i].to_string()
                    }
                })
                .collect(),
        )
    });
    let prefix = prop_oneof![Just("a"), Just("ab"), Just("z"), Just("")]
        .prop_map(|p| Query::Prefix(p.into()));
    prop_oneof![4 => term, 2 => phrase, 1 => prefix, 1 => Just(Query::Term("absent".into()))]
}

fn query() -> impl Strategy<Value = Query> {
    leaf().prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..5).prop_map(Query::Or),
            (
                proptest::collection::vec(inner.clone(), 1..4),
                proptest::collection::vec(inner, 0..2)
            )
                .prop_map(|(pos, neg)| {
                    let mut c = pos;
                    c.extend(neg.into_iter().map(|q| Query::Not(Box::new(q))));
                    Query::And(c)
                }),
        ]
    })
}

fn corpus() -> impl Strategy<Value = Vec<(Vec<Doc>, Vec<bool>)>> {
    let part = proptest::collection::vec((doc_strategy(), prop::bool::weighted(0.85)), 0..400)
        .prop_map(|v| v.into_iter().unzip());
    proptest::collection::vec(part, 1..4)
}

fn check(
    parts: &[(Vec<Doc>, Vec<bool>)],
    tails: &[bool],
    q: &Query,
    k: usize,
    params: Bm25Params,
) -> Result<(), TestCaseError> {
    let bytes: Vec<Vec<u8>> = parts.iter().map(|(d, _)| build(d)).collect();
    let opened: Vec<Part<&[u8]>> = bytes
        .iter()
        .map(|b| Part::open(b.as_slice()).expect("valid part"))
        .collect();
    let tail_parts: Vec<TailPart> = parts
        .iter()
        .map(|(docs, _)| {
            let mut t = TailPart::new();
            for d in docs {
                t.add_document(d.iter().enumerate().map(|(i, w)| (*w, i as u32)))
                    .expect("doc");
            }
            t
        })
        .collect();
    let masks: Vec<Vec<u64>> = parts
        .iter()
        .map(|(_, live)| {
            let mut words = vec![0u64; live.len().div_ceil(64)];
            for (i, l) in live.iter().enumerate() {
                if *l {
                    words[i / 64] |= 1 << (i % 64);
                }
            }
            words
        })
        .collect();
    let search_parts: Vec<SearchPart> = (0..parts.len())
        .map(|i| SearchPart {
            part: if tails.get(i).copied().unwrap_or(false) {
                PartRef::Tail(&tail_parts[i])
            } else {
                PartRef::Sealed(&opened[i])
            },
            live: if parts[i].1.iter().all(|l| *l) {
                Liveness::All
            } else {
                Liveness::Bits(&masks[i])
            },
        })
        .collect();
    let stats = bm25::snapshot_stats(&search_parts);
    let mut expected_stats = Bm25Stats::default();
    for (docs, live) in parts {
        for (d, l) in docs.iter().zip(live) {
            if *l {
                expected_stats.n_docs += 1;
                expected_stats.total_len += d.len() as u64;
            }
        }
    }
    prop_assert_eq!(stats, expected_stats);
    let model = Model {
        parts,
        bm25: Bm25::new(params, stats),
        stats,
        dfs: Model::count_dfs(parts),
    };
    let got = match search(&search_parts, q, params, k) {
        Ok(hits) => hits,
        Err(e) => return Err(TestCaseError::fail(format!("query refused: {e}"))),
    };
    let want = model.top(q, k);
    prop_assert_eq!(got, want, "query {:?}", q);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn top_k_equals_the_exhaustive_model(
        parts in corpus(), tails in proptest::collection::vec(any::<bool>(), 3), q in query(), k in prop_oneof![Just(1usize), Just(3), Just(10), Just(1000)],
        k1 in prop_oneof![Just(1.2f32), 0.0f32..3.0], b in prop_oneof![Just(0.75f32), 0.0f32..=1.0],
    ) {
        check(&parts, &tails, &q, k, Bm25Params { k1, b })?;
    }
}

#[test]
fn long_lists_skip_blocks_and_stay_exact() {
    // Thousands of documents so that term lists span many full blocks and
    // the block-max bounds actually prune.
    let mut docs = Vec::new();
    for i in 0..20_000usize {
        let mut d = vec!["a"; 1 + i % 7];
        if i % 3 == 0 {
            d.push("b");
        }
        if i % 101 == 0 {
            d.extend(["c", "c", "c"]);
        }
        if i % 13 == 0 {
            d.extend(["b", "c"]);
        }
        docs.push(d);
    }
    let live: Vec<bool> = (0..docs.len()).map(|i| i % 17 != 0).collect();
    let parts = vec![(docs, live)];
    for q in [
        Query::Term("a".into()),
        Query::Term("c".into()),
        Query::Or(vec![
            Query::Term("a".into()),
            Query::Term("b".into()),
            Query::Term("c".into()),
        ]),
        Query::And(vec![Query::Term("a".into()), Query::Term("b".into())]),
        Query::Phrase(vec!["b".into(), "c".into()]),
        Query::And(vec![
            Query::Term("a".into()),
            Query::Not(Box::new(Query::Term("b".into()))),
        ]),
    ] {
        for k in [1, 10, 100] {
            check(&parts, &[false], &q, k, Bm25Params::default())
                .expect("same answer as the model");
            check(&parts, &[true], &q, k, Bm25Params::default())
                .expect("the tail answers the same");
        }
    }
}

#[test]
fn bad_queries_are_refused() {
    let bytes = build(&[vec!["a"]]);
    let part = Part::open(bytes.as_slice()).expect("part");
    let parts = [SearchPart {
        part: PartRef::Sealed(&part),
        live: Liveness::All,
    }];
    let not_a = Query::Not(Box::new(Query::Term("a".into())));
    assert_eq!(
        search(&parts, &not_a, Bm25Params::default(), 10),
        Err(bm25::QueryError::BareNot)
    );
    assert_eq!(
        search(&parts, &Query::And(vec![not_a]), Bm25Params::default(), 10),
        Err(bm25::QueryError::OnlyNots)
    );
    let long = Query::Phrase(vec!["a".to_string(); bm25::PHRASE_TERMS_MAX + 1]);
    assert!(matches!(
        search(&parts, &long, Bm25Params::default(), 10),
        Err(bm25::QueryError::PhraseTooLong { .. })
    ));
}

#[test]
fn sealing_a_tail_writes_the_part_a_writer_would() {
    let docs: Vec<Doc> = vec![vec!["b", "a", "b"], vec![], vec!["c", "a"], vec!["a"; 200]];
    let mut tail = TailPart::new();
    for d in &docs {
        tail.add_document(d.iter().enumerate().map(|(i, w)| (*w, i as u32)))
            .expect("doc");
    }
    assert_eq!(tail.n_docs(), 4);
    assert_eq!(tail.total_len(), 205);
    assert_eq!(tail.seal().expect("small part"), build(&docs));
}
