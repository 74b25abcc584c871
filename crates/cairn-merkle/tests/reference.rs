//! Property tests: the crate against a naive recursive reference of RFC 9162
//! (root, PATH, PROOF) written here from the RFC text, for sizes 0..=200.
//!
//! Invariant kept: every proof the crate builds equals the reference's and
//! verifies; the log's O(log n) root equals the slice root at every size.

use cairn_merkle::{
    consistency_path_len, consistency_proof, empty_root, inclusion_path_len, inclusion_proof,
    leaf_hash, node_hash, root, ConsistencyProof, Hash, InclusionProof, MerkleLog, ProofError,
    TreeHead, VerifyError,
};
use proptest::prelude::*;

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
        .collect()
}

/// Largest power of two strictly below n, by doubling (n >= 2).
fn naive_k(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn naive_mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => empty_root(),
        1 => d[0],
        n => {
            let k = naive_k(n);
            node_hash(&naive_mth(&d[..k]), &naive_mth(&d[k..]))
        }
    }
}

fn naive_path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = naive_k(n);
    if m < k {
        let mut p = naive_path(m, &d[..k]);
        p.push(naive_mth(&d[k..]));
        p
    } else {
        let mut p = naive_path(m - k, &d[k..]);
        p.push(naive_mth(&d[..k]));
        p
    }
}

fn naive_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![naive_mth(d)] };
    }
    let k = naive_k(n);
    if m <= k {
        let mut p = naive_subproof(m, &d[..k], b);
        p.push(naive_mth(&d[k..]));
        p
    } else {
        let mut p = naive_subproof(m - k, &d[k..], false);
        p.push(naive_mth(&d[..k]));
        p
    }
}

fn naive_proof(m: usize, d: &[Hash]) -> Vec<Hash> {
    if m == 0 {
        Vec::new()
    } else {
        naive_subproof(m, d, true)
    }
}

#[test]
fn roots_match_reference_for_all_small_sizes() {
    let all = leaves(200);
    for n in 0..=200 {
        assert_eq!(root(&all[..n]), naive_mth(&all[..n]), "size {n}");
    }
}

#[test]
fn every_inclusion_proof_up_to_64_matches_and_verifies() {
    let all = leaves(64);
    for n in 1..=64usize {
        let d = &all[..n];
        let r = root(d);
        for m in 0..n {
            let p = inclusion_proof(d, m as u64).expect("index in range");
            assert_eq!(p.path, naive_path(m, d), "size {n} index {m}");
            assert_eq!(p.path.len(), inclusion_path_len(m as u64, n as u64));
            p.verify(&d[m], &r).expect("valid proof verifies");
            p.verify_head(
                &d[m],
                &TreeHead {
                    size: n as u64,
                    root: r,
                },
            )
            .expect("valid proof verifies against its head");
        }
    }
}

#[test]
fn every_consistency_proof_up_to_64_matches_and_verifies() {
    let all = leaves(64);
    for n in 0..=64usize {
        let d = &all[..n];
        let new_root = root(d);
        for m in 0..=n {
            let p = consistency_proof(d, m as u64).expect("old size in range");
            assert_eq!(p.path, naive_proof(m, d), "old {m} new {n}");
            assert_eq!(p.path.len(), consistency_path_len(m as u64, n as u64));
            p.verify(&root(&d[..m]), &new_root)
                .expect("valid proof verifies");
        }
    }
}

#[test]
fn out_of_range_requests_are_typed_errors() {
    let d = leaves(5);
    assert_eq!(
        inclusion_proof(&d, 5),
        Err(ProofError::IndexOutOfRange {
            leaf_index: 5,
            tree_size: 5
        })
    );
    assert_eq!(
        inclusion_proof(&[], 0),
        Err(ProofError::IndexOutOfRange {
            leaf_index: 0,
            tree_size: 0
        })
    );
    assert_eq!(
        consistency_proof(&d, 6),
        Err(ProofError::OldSizeTooLarge {
            old_size: 6,
            new_size: 5
        })
    );
    let p = ConsistencyProof {
        old_size: 6,
        new_size: 5,
        path: vec![],
    };
    assert!(matches!(
        p.verify(&root(&d), &root(&d)),
        Err(VerifyError::OldSizeTooLarge { .. })
    ));
    let p = InclusionProof {
        leaf_index: u64::MAX,
        tree_size: u64::MAX,
        path: vec![],
    };
    assert!(matches!(
        p.verify(&d[0], &root(&d)),
        Err(VerifyError::IndexOutOfRange { .. })
    ));
    let p = InclusionProof {
        leaf_index: 0,
        tree_size: u64::MAX,
        path: vec![d[0]; 64],
    };
    assert!(p.verify(&d[0], &root(&d)).is_err());
    let p = ConsistencyProof {
        old_size: 1,
        new_size: u64::MAX,
        path: vec![d[0]; 64],
    };
    assert!(p.verify(&d[0], &root(&d)).is_err());
}

#[test]
fn consistency_edge_cases() {
    let d = leaves(9);
    let r = root(&d);
    // old == new: empty path, equal roots.
    let same = consistency_proof(&d, 9).expect("equal sizes");
    assert!(same.path.is_empty());
    same.verify(&r, &r).expect("same tree is consistent");
    assert!(same.verify(&r, &root(&d[..8])).is_err());
    // old == 0: empty path, always consistent with the empty tree's root.
    let zero = consistency_proof(&d, 0).expect("old size 0");
    assert!(zero.path.is_empty());
    zero.verify(&empty_root(), &r)
        .expect("empty tree is a prefix of every tree");
    zero.verify(&empty_root(), &d[3])
        .expect("new root unconstrained when old is empty");
    assert!(
        zero.verify(&r, &r).is_err(),
        "a size-0 tree has only the empty root"
    );
}

#[test]
fn log_root_matches_slice_root_for_sizes_0_to_300() {
    let all = leaves(300);
    let mut log = MerkleLog::new();
    assert_eq!(log.root(), root(&[]));
    for (i, leaf) in all.iter().enumerate() {
        assert_eq!(log.append(*leaf), i as u64 + 1);
        assert_eq!(log.len(), i as u64 + 1);
        assert_eq!(log.root(), root(&all[..=i]), "size {}", i + 1);
    }
    for size in 0..=300u64 {
        assert_eq!(
            log.root_at(size).expect("size in range"),
            naive_mth(&all[..size as usize])
        );
    }
    assert!(log.root_at(301).is_err());
    let p = log.inclusion_proof(17, 100).expect("in range");
    p.verify(&all[17], &log.root_at(100).expect("in range"))
        .expect("verifies");
    assert!(log.inclusion_proof(100, 100).is_err());
    assert!(log.inclusion_proof(0, 301).is_err());
    let c = log.consistency_proof(37, 300).expect("in range");
    c.verify_heads(
        &TreeHead {
            size: 37,
            root: log.root_at(37).expect("in range"),
        },
        &log.head(),
    )
    .expect("verifies");
    assert!(log.consistency_proof(5, 4).is_err());
    assert!(log.consistency_proof(5, 301).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn inclusion_matches_reference(n in 1usize..=200, seed in any::<u64>()) {
        let d = leaves(n);
        let m = (seed % n as u64) as usize;
        let p = inclusion_proof(&d, m as u64).expect("in range");
        prop_assert_eq!(&p.path, &naive_path(m, &d));
        let r = naive_mth(&d);
        prop_assert_eq!(root(&d), r);
        prop_assert!(p.verify(&d[m], &r).is_ok());
        // Another leaf at the same index never verifies.
        let other = leaf_hash(b"not in the tree");
        prop_assert!(p.verify(&other, &r).is_err());
    }

    #[test]
    fn consistency_matches_reference(n in 0usize..=200, seed in any::<u64>()) {
        let d = leaves(n);
        let m = (seed % (n as u64 + 1)) as usize;
        let p = consistency_proof(&d, m as u64).expect("in range");
        prop_assert_eq!(&p.path, &naive_proof(m, &d));
        prop_assert!(p.verify(&naive_mth(&d[..m]), &naive_mth(&d)).is_ok());
        if m > 0 && m < n {
            // A different old tree of the same size is not consistent.
            let mut forged = d[..m].to_vec();
            forged[seed as usize % m] = leaf_hash(b"forged");
            prop_assert!(p.verify(&root(&forged), &naive_mth(&d)).is_err());
        }
    }
}
