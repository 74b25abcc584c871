//! A BM25 text index part (RFC 0003): any bytes open or fail with
//! `CorruptPart`, never panic; whatever opens can be searched with every
//! query shape, and every hit names a document of the part.
#![no_main]

use cairn_text::bm25::{search, Bm25Params, Liveness, Part, PartRef, Query, SearchPart};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(part) = Part::open(data) else { return };
    let _ = part.lengths().count();
    let _ = part.terms_with_prefix("a");
    let mask = [0x5555_5555_5555_5555u64; 4];
    for live in [Liveness::All, Liveness::Bits(&mask)] {
        let parts = [SearchPart {
            part: PartRef::Sealed(&part),
            live,
        }];
        let term = |t: &str| Query::Term(t.to_string());
        for q in [
            term("a"),
            Query::Or(vec![term("a"), term("b"), term("c")]),
            Query::And(vec![term("a"), term("b")]),
            Query::And(vec![term("a"), Query::Not(Box::new(term("c")))]),
            Query::Phrase(vec!["a".into(), "b".into()]),
            Query::Prefix("a".into()),
        ] {
            if let Ok(hits) = search(&parts, &q, Bm25Params::default(), 5) {
                assert!(hits.iter().all(|h| h.doc < part.n_docs()));
            }
        }
    }
});
