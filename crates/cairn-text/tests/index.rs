//! `TextIndex` against a rebuild: random inserts, updates and deletes of
//! keyed documents in commit order, seals and compactions at random
//! points, and searches at random snapshots. The oracle indexes exactly
//! the versions visible at the snapshot, from scratch, in a tail of its
//! own: statistics must be equal and scores bit-identical; the rankings
//! may differ only in the order of documents with equal scores.

use cairn_text::bm25::{
    self, Bm25Params, KeyHit, Liveness, PartRef, Query, SearchPart, TailPart, TextIndex,
};
use proptest::prelude::*;

const VOCAB: [&str; 8] = ["a", "b", "c", "ab", "abc", "d", "e", "f"];

#[derive(Clone, Debug)]
enum Op {
    Insert(Vec<usize>),
    Update(usize, Vec<usize>),
    Delete(usize),
    Seal,
    Compact,
    MergeFrom(usize),
    Search(Query, usize),
}

struct Version {
    key: u64,
    words: Vec<&'static str>,
    begin: u64,
    end: u64,
}

fn words_strategy() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0usize..60, 0..8)
        .prop_map(|v| v.into_iter().map(|r| (r * r / 450).min(7)).collect())
}

fn query_strategy() -> impl Strategy<Value = Query> {
    let term = (0..VOCAB.len()).prop_map(|i| Query::Term(VOCAB[i].into()));
    let leaf = prop_oneof![
        4 => term,
        1 => proptest::collection::vec(0..4usize, 2..3)
            .prop_map(|ix| Query::Phrase(ix.into_iter().map(|i| VOCAB[i].to_string()).collect())),
        1 => Just(Query::Prefix("a".into())),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..4).prop_map(Query::Or),
            (inner.clone(), inner).prop_map(|(a, b)| Query::And(vec![a, Query::Not(Box::new(b))])),
        ]
    })
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => words_strategy().prop_map(Op::Insert),
        3 => (0usize..1000, words_strategy()).prop_map(|(k, w)| Op::Update(k, w)),
        2 => (0usize..1000).prop_map(Op::Delete),
        1 => Just(Op::Seal),
        1 => Just(Op::Compact),
        1 => (0usize..4).prop_map(Op::MergeFrom),
        3 => (query_strategy(), 0usize..1000).prop_map(|(q, back)| Op::Search(q, back)),
    ]
}

fn terms(words: &[&'static str]) -> Vec<(&'static str, u32)> {
    words
        .iter()
        .enumerate()
        .map(|(i, w)| (*w, i as u32))
        .collect()
}

/// The oracle's answer: a fresh tail of exactly the visible versions.
fn oracle(versions: &[Version], q: &Query, ts: u64, k: usize) -> (bm25::Bm25Stats, Vec<KeyHit>) {
    let visible: Vec<&Version> = versions
        .iter()
        .filter(|v| v.begin <= ts && ts < v.end)
        .collect();
    let mut tail = TailPart::new();
    for v in &visible {
        tail.add_document(terms(&v.words)).expect("doc");
    }
    let parts = [SearchPart {
        part: PartRef::Tail(&tail),
        live: Liveness::All,
    }];
    let stats = bm25::snapshot_stats(&parts);
    let hits = bm25::search(&parts, q, Bm25Params::default(), k).expect("query");
    (
        stats,
        hits.iter()
            .map(|h| KeyHit {
                key: visible[h.doc as usize].key,
                score: h.score,
            })
            .collect(),
    )
}

/// Same scores rank by rank (bit for bit); same keys except inside a
/// group of equal scores that reaches the cut.
fn same_ranking(a: &[KeyHit], b: &[KeyHit]) -> bool {
    if a.len() != b.len()
        || a.iter()
            .zip(b)
            .any(|(x, y)| x.score.to_bits() != y.score.to_bits())
    {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        let mut j = i + 1;
        while j < a.len() && a[j].score == a[i].score {
            j += 1;
        }
        if j < a.len() {
            let mut x: Vec<u64> = a[i..j].iter().map(|h| h.key).collect();
            let mut y: Vec<u64> = b[i..j].iter().map(|h| h.key).collect();
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

/// The words of `key`'s open version.
fn old_words(versions: &[Version], key: u64) -> Vec<&'static str> {
    versions
        .iter()
        .find(|v| v.key == key && v.end == u64::MAX)
        .map_or_else(Vec::new, |v| v.words.clone())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut index = TextIndex::new();
    let mut versions: Vec<Version> = Vec::new();
    let mut open_keys: Vec<u64> = Vec::new();
    let (mut ts, mut next_key, mut oldest) = (1u64, 0u64, 1u64);
    for op in ops {
        ts += 1;
        match op {
            Op::Insert(w) => {
                let words: Vec<&'static str> = w.iter().map(|&i| VOCAB[i]).collect();
                index.insert(next_key, terms(&words), ts).expect("insert");
                versions.push(Version {
                    key: next_key,
                    words,
                    begin: ts,
                    end: u64::MAX,
                });
                open_keys.push(next_key);
                next_key += 1;
            }
            Op::Update(pick, w) if !open_keys.is_empty() => {
                let key = open_keys[pick % open_keys.len()];
                index.end(key, ts, old_words(&versions, key)).expect("end");
                let words: Vec<&'static str> = w.iter().map(|&i| VOCAB[i]).collect();
                index.insert(key, terms(&words), ts).expect("insert");
                if let Some(v) = versions
                    .iter_mut()
                    .find(|v| v.key == key && v.end == u64::MAX)
                {
                    v.end = ts;
                }
                versions.push(Version {
                    key,
                    words,
                    begin: ts,
                    end: u64::MAX,
                });
            }
            Op::Delete(pick) if !open_keys.is_empty() => {
                let key = open_keys.swap_remove(pick % open_keys.len());
                index.end(key, ts, old_words(&versions, key)).expect("end");
                if let Some(v) = versions
                    .iter_mut()
                    .find(|v| v.key == key && v.end == u64::MAX)
                {
                    v.end = ts;
                }
            }
            Op::Seal => index.seal().expect("seal"),
            Op::Compact => {
                oldest = oldest.max(ts / 2);
                index.compact(oldest).expect("compact");
            }
            Op::MergeFrom(from) => {
                oldest = oldest.max(ts / 2);
                index.merge_from(from, oldest).expect("merge");
            }
            Op::Search(q, back) => {
                let at = ts.saturating_sub(back as u64).max(oldest);
                let (stats, want) = oracle(&versions, &q, at, 10);
                prop_assert_eq!(index.stats_at(at), stats, "stats at {}", at);
                let got = index
                    .search(&q, Bm25Params::default(), at, 10)
                    .expect("query");
                prop_assert!(
                    same_ranking(&got, &want),
                    "query {:?} at {}:\n got {:?}\nwant {:?}",
                    q,
                    at,
                    got,
                    want
                );
            }
            _ => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn searches_equal_a_rebuild_at_every_snapshot(ops in proptest::collection::vec(op_strategy(), 1..700)) {
        run(ops)?;
    }
}

#[test]
fn refuses_out_of_order_and_double_opens() {
    let mut index = TextIndex::new();
    index.insert(1, terms(&["a"]), 5).expect("insert");
    assert!(matches!(
        index.insert(1, terms(&["b"]), 6),
        Err(bm25::IndexError::AlreadyOpen(1))
    ));
    assert!(matches!(
        index.insert(2, terms(&["b"]), 4),
        Err(bm25::IndexError::OutOfOrder { .. })
    ));
    assert!(matches!(
        index.end(3, 7, ["a"]),
        Err(bm25::IndexError::NotOpen(3))
    ));
}

#[test]
fn compaction_drops_dead_versions() {
    let mut index = TextIndex::new();
    for key in 0..600u64 {
        index
            .insert(key, terms(&["a", "b"]), key + 1)
            .expect("insert");
    }
    for key in 0..300u64 {
        index.end(key, 1000 + key, ["a", "b"]).expect("end");
    }
    assert_eq!(index.n_versions(), 600);
    index.compact(2000).expect("compact");
    assert_eq!(index.n_versions(), 300);
    assert_eq!(index.n_parts(), 1);
    let hits = index
        .search(&Query::Term("a".into()), Bm25Params::default(), 2000, 1000)
        .expect("query");
    assert_eq!(hits.len(), 300);
    assert!(hits.iter().all(|h| h.key >= 300));
}
