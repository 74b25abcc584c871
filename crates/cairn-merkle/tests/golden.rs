//! Golden vectors pinning format version 1 against accidental change: domain
//! keys, roots, and one encoded proof of each kind. Regenerate only with a new
//! format version (print with `GOLDEN_PRINT=1 cargo test -p cairn-merkle --test golden -- --nocapture`).

use cairn_merkle::{
    consistency_proof, empty_root, inclusion_proof, leaf_hash, root, ConsistencyProof, Hash,
    InclusionProof,
};

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn print_golden() {
    if std::env::var_os("GOLDEN_PRINT").is_none() {
        return;
    }
    println!("empty {}", empty_root());
    for n in [0usize, 1, 2, 3, 7, 8, 100] {
        println!("root {n} {}", root(&leaves(n)));
    }
    let p = inclusion_proof(&leaves(7), 3).expect("in range");
    println!("incl {}", hex(&p.to_bytes().expect("encodable")));
    let c = consistency_proof(&leaves(8), 3).expect("in range");
    println!("cons {}", hex(&c.to_bytes().expect("encodable")));
}

const ROOTS: [(usize, &str); 7] = [
    (
        0,
        "7312c6ae157b41480477d988afa8f143e86532734354b76ac887a1df901fb95e",
    ),
    (
        1,
        "2873d2bc1f173d8db05f7b369236be0f5b46417a6ffffe6d235176fdda306146",
    ),
    (
        2,
        "cc60cfb0a3b2a86c3c4a4d0318172ad8f4b4e7ecac41e5154e9744927264c69b",
    ),
    (
        3,
        "0b0b4b42aff02db495f0768d774fcb0a9d9af1b6976396627e06c05f3ac16e97",
    ),
    (
        7,
        "7417491a61e1d29b368afb74b04bb238a6a0967730aa9114af35aab4a9860af6",
    ),
    (
        8,
        "2a9ee1abd1b68c876c8c269f0ba950ae56da574c3585ae147d3ba1297c1f87ab",
    ),
    (
        100,
        "149b7963ec3a5a5a95d017743edf500446978c099c470925b33d96b23d0e9271",
    ),
];

/// Inclusion proof of leaf 3 in the 7-leaf tree.
const INCLUSION_3_OF_7: &str = concat!(
    "0101",
    "0300000000000000",
    "0700000000000000",
    "03",
    "bd5828cbed7cd88d1873623d5c4c56d9f31cef59cff26484f7fb64f49310b69b",
    "cc60cfb0a3b2a86c3c4a4d0318172ad8f4b4e7ecac41e5154e9744927264c69b",
    "b8e50ea19275823c19ac18175d9cc79288285c5ccc69ef054bd5ade38087a062",
);

/// Consistency proof from the 3-leaf tree to the 8-leaf tree.
const CONSISTENCY_3_TO_8: &str = concat!(
    "0102",
    "0300000000000000",
    "0800000000000000",
    "04",
    "bd5828cbed7cd88d1873623d5c4c56d9f31cef59cff26484f7fb64f49310b69b",
    "ec4b131efa0096358f1a075b8fe96e72d8f6d3475b9fcfbc4fad904e58342cea",
    "cc60cfb0a3b2a86c3c4a4d0318172ad8f4b4e7ecac41e5154e9744927264c69b",
    "a54c8511be328b912a89e4c2ec02c7d2ce9be35028ba888afce2c01332f9b6d5",
);

#[test]
fn roots_are_pinned() {
    assert_eq!(empty_root().to_hex(), ROOTS[0].1);
    for (n, want) in ROOTS {
        assert_eq!(root(&leaves(n)).to_hex(), want, "root of {n} leaves");
        assert_eq!(
            Hash::from_hex(want).map(|h| h == root(&leaves(n))),
            Ok(true)
        );
    }
}

#[test]
fn encoded_proofs_are_pinned_and_verify() {
    let d7 = leaves(7);
    let p = inclusion_proof(&d7, 3).expect("in range");
    assert_eq!(hex(&p.to_bytes().expect("encodable")), INCLUSION_3_OF_7);
    let decoded = InclusionProof::from_bytes(&unhex(INCLUSION_3_OF_7)).expect("golden decodes");
    decoded.verify(&d7[3], &root(&d7)).expect("golden verifies");

    let d8 = leaves(8);
    let c = consistency_proof(&d8, 3).expect("in range");
    assert_eq!(hex(&c.to_bytes().expect("encodable")), CONSISTENCY_3_TO_8);
    let decoded = ConsistencyProof::from_bytes(&unhex(CONSISTENCY_3_TO_8)).expect("golden decodes");
    decoded
        .verify(&root(&d8[..3]), &root(&d8))
        .expect("golden verifies");
}

/// The hashing rules re-derived straight from blake3, independent of the
/// crate's key table.
#[test]
fn hashing_rules_match_blake3_directly() {
    let key = |ctx: &str| blake3::derive_key(ctx, &[]);
    let leaf = *blake3::keyed_hash(&key("cairn-merkle v1 leaf"), b"leaf 0").as_bytes();
    assert_eq!(leaf_hash(b"leaf 0"), Hash(leaf));
    let leaf1 = *blake3::keyed_hash(&key("cairn-merkle v1 leaf"), b"leaf 1").as_bytes();
    let mut cat = leaf.to_vec();
    cat.extend_from_slice(&leaf1);
    let node = *blake3::keyed_hash(&key("cairn-merkle v1 node"), &cat).as_bytes();
    assert_eq!(root(&leaves(2)), Hash(node));
    let empty = *blake3::keyed_hash(&key("cairn-merkle v1 empty"), b"").as_bytes();
    assert_eq!(empty_root(), Hash(empty));
    for d in cairn_merkle::Domain::ALL {
        assert_eq!(*d.key(), key(d.context()));
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("golden is hex"))
        .collect()
}
