//! Bad part bytes never panic: `Part::open` refuses what breaks the
//! validity rules, and whatever it accepts can be searched (a corrupt
//! list ends early; it never reads out of bounds or returns an id past the
//! part's documents).

use cairn_text::bm25::{
    search, Bm25Params, Liveness, Part, PartRef, PartWriter, Query, SearchPart,
};
use proptest::prelude::*;

fn sample() -> Vec<u8> {
    let mut w = PartWriter::new();
    for i in 0..300u32 {
        let words: Vec<&str> = ["x", "y", "xy", "z"]
            .iter()
            .copied()
            .cycle()
            .skip(i as usize % 4)
            .take(1 + i as usize % 6)
            .collect();
        let rare = format!("r{}", i % 50);
        let all = words.iter().copied().chain([rare.as_str()]);
        w.add_document(all.enumerate().map(|(p, t)| (t, p as u32)))
            .expect("doc");
    }
    w.finish().expect("small part")
}

fn exercise(bytes: &[u8]) {
    let Ok(part) = Part::open(bytes) else { return };
    let mask = vec![u64::MAX; 8];
    for live in [Liveness::All, Liveness::Bits(&mask)] {
        let parts = [SearchPart {
            part: PartRef::Sealed(&part),
            live,
        }];
        for q in [
            Query::Term("x".into()),
            Query::Or(vec![Query::Term("x".into()), Query::Term("y".into())]),
            Query::And(vec![Query::Term("x".into()), Query::Term("z".into())]),
            Query::Phrase(vec!["x".into(), "y".into()]),
            Query::Prefix("x".into()),
            Query::Or(vec![Query::Term("r7".into()), Query::Term("x".into())]),
            Query::Phrase(vec!["z".into(), "r3".into()]),
        ] {
            if let Ok(hits) = search(&parts, &q, Bm25Params::default(), 5) {
                // Corrupt lists end early; they never yield a bad id.
                assert!(hits.iter().all(|h| h.doc < part.n_docs()));
            }
        }
        let _ = part.lengths().count();
    }
}

#[test]
fn the_sample_is_valid() {
    let bytes = sample();
    let part = Part::open(bytes.as_slice()).expect("valid");
    assert_eq!(part.n_docs(), 300);
    assert_eq!(part.n_terms(), 54);
    assert!(Part::open(&bytes[..bytes.len() - 1]).is_err() || bytes.len() > 1);
    assert!(Part::open(&b"CAIRNTX9"[..]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn flipped_bytes_never_panic(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let mut bytes = sample();
        for (at, v) in flips {
            let i = at.index(bytes.len());
            bytes[i] = v;
        }
        exercise(&bytes);
    }

    #[test]
    fn truncations_never_panic(keep in any::<prop::sample::Index>()) {
        let bytes = sample();
        exercise(&bytes[..keep.index(bytes.len())]);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut b = bytes;
        if b.len() >= 12 {
            b[..8].copy_from_slice(b"CAIRNTX1");
            b[8..12].copy_from_slice(&1u32.to_le_bytes());
        }
        exercise(&b);
    }
}
