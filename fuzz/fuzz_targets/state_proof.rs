//! State proofs (RFC 0002 Part 2) from untrusted bytes: the binary decoders
//! of row, history and query proofs and the canonical row decoder never
//! panic; whatever decodes re-encodes to the same bytes (no two encodings
//! of one proof) and verifying it against an arbitrary root never panics.
//! The same bytes read as JSON text exercise the JSON decoders.
#![no_main]

use cairn_merkle::{decode_values, encode_values, Hash, HistoryProof, QueryProof, RowProof};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let root = Hash([7; 32]);
    if let Ok(p) = RowProof::from_bytes(data) {
        assert_eq!(p.to_bytes().expect("a decoded proof encodes"), data);
        let _ = p.verify(&root);
    }
    if let Ok(p) = HistoryProof::from_bytes(data) {
        assert_eq!(p.to_bytes().expect("a decoded proof encodes"), data);
        let _ = p.verify(&p.old);
    }
    if let Ok(p) = QueryProof::from_bytes(data) {
        assert_eq!(p.to_bytes().expect("a decoded proof encodes"), data);
        let _ = p.verify(&root);
    }
    if let Ok(v) = decode_values(data) {
        assert_eq!(encode_values(&v), data);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = RowProof::from_json(text) {
            let again = RowProof::from_json(&p.to_json().expect("encodes")).expect("decodes");
            assert_eq!(again, p);
        }
        let _ = HistoryProof::from_json(text).map(|p| p.verify(&p.old));
        let _ = QueryProof::from_json(text).map(|p| p.verify(&root));
    }
});
