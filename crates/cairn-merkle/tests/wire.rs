//! Wire format tests: round trips, each rejection with its offset, and a
//! fuzz-style property that decoding arbitrary bytes never panics.
//!
//! Invariant kept: `from_bytes(to_bytes(p)) == p`; malformed bytes are a
//! `DecodeError` whose kind and offset name the bad field.

use cairn_merkle::{
    consistency_proof, inclusion_proof, leaf_hash, ConsistencyProof, DecodeErrorKind, EncodeError,
    Hash, InclusionProof, Proof, PROOF_HEADER_BYTES, PROOF_PATH_HASHES_MAX,
};
use proptest::prelude::*;

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
        .collect()
}

#[test]
fn round_trips_for_many_sizes() {
    let all = leaves(130);
    for n in 1..=130usize {
        let d = &all[..n];
        for m in [0, n / 3, n / 2, n - 1] {
            let p = inclusion_proof(d, m as u64).expect("in range");
            let bytes = p.to_bytes().expect("encodable");
            assert_eq!(bytes.len(), PROOF_HEADER_BYTES + 32 * p.path.len());
            assert_eq!(InclusionProof::from_bytes(&bytes), Ok(p.clone()));
            assert_eq!(Proof::from_bytes(&bytes), Ok(Proof::Inclusion(p)));
        }
        for m in [0, 1, n / 2, n - 1, n] {
            let p = consistency_proof(d, m as u64).expect("in range");
            let bytes = p.to_bytes().expect("encodable");
            assert_eq!(ConsistencyProof::from_bytes(&bytes), Ok(p.clone()));
            assert_eq!(Proof::from_bytes(&bytes), Ok(Proof::Consistency(p)));
        }
    }
}

fn sample() -> Vec<u8> {
    inclusion_proof(&leaves(7), 3)
        .expect("in range")
        .to_bytes()
        .expect("encodable")
}

fn kind_of(bytes: &[u8]) -> (DecodeErrorKind, usize) {
    let e = Proof::from_bytes(bytes).expect_err("must be rejected");
    (e.kind, e.offset)
}

#[test]
fn each_rejection_names_field_and_offset() {
    let good = sample();
    assert_eq!(good.len(), 19 + 3 * 32);

    assert!(matches!(
        kind_of(&[]),
        (
            DecodeErrorKind::Truncated {
                field: "version",
                ..
            },
            0
        )
    ));
    let mut b = good.clone();
    b[0] = 2;
    assert_eq!(
        kind_of(&b),
        (DecodeErrorKind::UnsupportedVersion { version: 2 }, 0)
    );
    b[0] = 0;
    assert_eq!(
        kind_of(&b),
        (DecodeErrorKind::UnsupportedVersion { version: 0 }, 0)
    );
    let mut b = good.clone();
    b[1] = 3;
    assert_eq!(kind_of(&b), (DecodeErrorKind::UnknownKind { kind: 3 }, 1));
    assert!(matches!(
        kind_of(&good[..5]),
        (
            DecodeErrorKind::Truncated {
                field: "leaf_index",
                ..
            },
            2
        )
    ));
    assert!(matches!(
        kind_of(&good[..12]),
        (
            DecodeErrorKind::Truncated {
                field: "tree_size",
                ..
            },
            10
        )
    ));
    assert!(matches!(
        kind_of(&good[..18]),
        (DecodeErrorKind::Truncated { field: "count", .. }, 18)
    ));
    assert!(matches!(
        kind_of(&good[..19 + 40]),
        (
            DecodeErrorKind::Truncated {
                field: "path hash",
                needed_bytes: 32,
                available_bytes: 8
            },
            51
        )
    ));
    let mut b = good.clone();
    b.push(0);
    assert_eq!(
        kind_of(&b),
        (DecodeErrorKind::TrailingBytes { extra_bytes: 1 }, 19 + 96)
    );
    let mut b = good.clone();
    b[18] = 129;
    assert_eq!(
        kind_of(&b),
        (
            DecodeErrorKind::TooManyHashes {
                count: 129,
                max: 128
            },
            18
        )
    );
    let mut b = good.clone();
    b[2..10].copy_from_slice(&7u64.to_le_bytes());
    assert_eq!(
        kind_of(&b),
        (
            DecodeErrorKind::IndexOutOfRange {
                leaf_index: 7,
                tree_size: 7
            },
            2
        )
    );

    let c = consistency_proof(&leaves(7), 3)
        .expect("in range")
        .to_bytes()
        .expect("encodable");
    let mut b = c.clone();
    b[2..10].copy_from_slice(&8u64.to_le_bytes());
    assert_eq!(
        kind_of(&b),
        (
            DecodeErrorKind::OldSizeTooLarge {
                old_size: 8,
                new_size: 7
            },
            2
        )
    );
    let e = InclusionProof::from_bytes(&c).expect_err("wrong kind");
    assert_eq!(
        e.kind,
        DecodeErrorKind::WrongKind {
            expected: 1,
            found: 2
        }
    );
    let e = ConsistencyProof::from_bytes(&good).expect_err("wrong kind");
    assert_eq!(
        e.kind,
        DecodeErrorKind::WrongKind {
            expected: 2,
            found: 1
        }
    );

    // The maximum count decodes; the header is explicit little-endian.
    let max = ConsistencyProof {
        old_size: 1,
        new_size: 2,
        path: vec![Hash([7; 32]); PROOF_PATH_HASHES_MAX],
    };
    let bytes = max.to_bytes().expect("128 hashes encode");
    assert_eq!(
        &bytes[..19],
        &[1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 128]
    );
    assert_eq!(ConsistencyProof::from_bytes(&bytes), Ok(max));
}

#[test]
fn malformed_proofs_do_not_encode() {
    let p = ConsistencyProof {
        old_size: 1,
        new_size: 2,
        path: vec![Hash([0; 32]); 129],
    };
    assert_eq!(
        p.to_bytes(),
        Err(EncodeError::TooManyHashes {
            count: 129,
            max: 128
        })
    );
    let p = InclusionProof {
        leaf_index: 2,
        tree_size: 2,
        path: vec![],
    };
    assert!(matches!(
        p.to_bytes(),
        Err(EncodeError::IndexOutOfRange { .. })
    ));
    let p = ConsistencyProof {
        old_size: 3,
        new_size: 2,
        path: vec![],
    };
    assert!(matches!(
        p.to_bytes(),
        Err(EncodeError::OldSizeTooLarge { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Fuzz-style: arbitrary bytes never panic, and whatever decodes re-encodes
    /// to the same bytes (the encoding is canonical).
    #[test]
    fn from_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(p) = Proof::from_bytes(&bytes) {
            prop_assert_eq!(p.to_bytes().expect("decoded proofs encode"), bytes);
        }
    }

    /// Fuzz-style with a valid prefix, so the deeper fields get exercised.
    #[test]
    fn from_bytes_never_panics_with_valid_header(
        kind in 0u8..4,
        first in any::<u64>(),
        second in any::<u64>(),
        count in any::<u8>(),
        tail in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = vec![1, kind];
        bytes.extend_from_slice(&first.to_le_bytes());
        bytes.extend_from_slice(&second.to_le_bytes());
        bytes.push(count);
        bytes.extend_from_slice(&tail);
        if let Ok(p) = Proof::from_bytes(&bytes) {
            prop_assert_eq!(p.to_bytes().expect("decoded proofs encode"), bytes);
        }
    }
}
