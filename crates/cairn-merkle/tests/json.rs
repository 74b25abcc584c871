//! JSON encoding tests (feature `json`): round trips, the documented shape,
//! and each rejection by kind. Invariant kept: JSON and wire bytes accept the
//! same proofs.

use cairn_merkle::{
    consistency_proof, inclusion_proof, leaf_hash, root, ConsistencyProof, Hash, InclusionProof,
    JsonError, Proof,
};

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
        .collect()
}

#[test]
fn json_round_trips_and_has_documented_shape() {
    let d = leaves(7);
    let p = inclusion_proof(&d, 3).expect("in range");
    let text = p.to_json().expect("encodable");
    assert!(text
        .starts_with(r#"{"version":1,"kind":"inclusion","leaf_index":3,"tree_size":7,"path":[""#));
    let back = InclusionProof::from_json(&text).expect("round trip");
    assert_eq!(back, p);
    back.verify(&d[3], &root(&d)).expect("verifies");

    let c = consistency_proof(&d, 3).expect("in range");
    let text = c.to_json().expect("encodable");
    assert!(text
        .starts_with(r#"{"version":1,"kind":"consistency","old_size":3,"new_size":7,"path":[""#));
    assert_eq!(ConsistencyProof::from_json(&text), Ok(c.clone()));
    assert_eq!(Proof::from_json(&text), Ok(Proof::Consistency(c)));
    // Whitespace and field order do not matter.
    let spaced =
        r#" { "path": [], "new_size": 5, "old_size": 5, "kind": "consistency", "version": 1 } "#;
    assert_eq!(
        ConsistencyProof::from_json(spaced),
        Ok(ConsistencyProof {
            old_size: 5,
            new_size: 5,
            path: vec![]
        })
    );
}

#[test]
fn json_rejections_by_kind() {
    let h = leaf_hash(b"x").to_hex();
    let ok = format!(
        r#"{{"version":1,"kind":"inclusion","leaf_index":0,"tree_size":2,"path":["{h}"]}}"#
    );
    assert!(InclusionProof::from_json(&ok).is_ok());
    let cases: Vec<(String, fn(&JsonError) -> bool)> = vec![
        ("nope".into(), |e| matches!(e, JsonError::Syntax { .. })),
        ("[1]".into(), |e| matches!(e, JsonError::NotAnObject)),
        (ok.replace(r#""version":1"#, r#""version":2"#), |e| {
            matches!(e, JsonError::UnsupportedVersion { version: 2 })
        }),
        (ok.replace(r#""version":1,"#, ""), |e| {
            matches!(e, JsonError::MissingField { field: "version" })
        }),
        (ok.replace(r#""version":1"#, r#""version":"1""#), |e| {
            matches!(
                e,
                JsonError::WrongType {
                    field: "version",
                    ..
                }
            )
        }),
        (ok.replace("inclusion", "exclusion"), |e| {
            matches!(e, JsonError::UnknownKind { .. })
        }),
        (ok.replace(r#""path""#, r#""extra":0,"path""#), |e| {
            matches!(e, JsonError::UnknownField { .. })
        }),
        (ok.replace("leaf_index", "old_size"), |e| {
            matches!(e, JsonError::UnknownField { .. })
        }),
        (ok.replace(r#""tree_size":2"#, r#""tree_size":-2"#), |e| {
            matches!(
                e,
                JsonError::WrongType {
                    field: "tree_size",
                    ..
                }
            )
        }),
        (ok.replace(r#""tree_size":2"#, r#""tree_size":2.5"#), |e| {
            matches!(
                e,
                JsonError::WrongType {
                    field: "tree_size",
                    ..
                }
            )
        }),
        (
            ok.replace(r#""tree_size":2"#, r#""tree_size":18446744073709551616"#),
            |e| {
                matches!(
                    e,
                    JsonError::WrongType {
                        field: "tree_size",
                        ..
                    }
                )
            },
        ),
        (ok.replace(r#""tree_size":2"#, r#""tree_size":0"#), |e| {
            matches!(e, JsonError::IndexOutOfRange { .. })
        }),
        (ok.replace(&h, "zz"), |e| {
            matches!(e, JsonError::BadHash { index: 0, .. })
        }),
        (ok.replace(&format!(r#""{h}""#), "7"), |e| {
            matches!(e, JsonError::WrongType { field: "path", .. })
        }),
        (
            ok.replace(
                &format!(r#"["{h}"]"#),
                &format!("[{}]", vec![format!(r#""{h}""#); 129].join(",")),
            ),
            |e| matches!(e, JsonError::TooManyHashes { count: 129, .. }),
        ),
        (
            r#"{"version":1,"kind":"consistency","old_size":3,"new_size":2,"path":[]}"#.into(),
            |e| matches!(e, JsonError::OldSizeTooLarge { .. }),
        ),
    ];
    for (text, is_expected) in &cases {
        let e = Proof::from_json(text).expect_err("must be rejected");
        assert!(is_expected(&e), "{text}: got {e:?}");
    }
    let e = ConsistencyProof::from_json(&ok).expect_err("wrong kind");
    assert!(matches!(e, JsonError::WrongKind { .. }));
}
