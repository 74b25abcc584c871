//! Every field of a row proof's JSON is bound to what a verifier checks
//! (issue #13): changing any one — a number, a string, a hash, a `null`,
//! an array element, the rendered `values`, the claimed `state_root` —
//! makes the proof fail to parse or to verify against the true root. Only
//! removing an optional field (`values`, `state_root`) keeps it valid: the
//! proof then says less, not something else. A proof naming the version
//! it was made at (`at_version`, written by older provers) verifies only
//! against a head, and only the right one.

use cairn::{params, CommitHead, Database, Hash, RowProof};
use serde_json::{json, Value};

/// Fields a proof may leave out.
const OPTIONAL: [&str; 3] = ["values", "state_root", "at_version"];

fn db() -> Database {
    let db = Database::open_in_memory().expect("open");
    db.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, note TEXT);
         INSERT INTO t VALUES (1, 'ada', 1.5, NULL), (2, 'grace', -2.25, 'x'), (3, 'alan', 0.0, 'y');
         CREATE TABLE u (k TEXT PRIMARY KEY);
         INSERT INTO u VALUES ('a');",
    )
    .expect("setup");
    db
}

fn proof_json(db: &Database, key: i64) -> Value {
    let text: String = db
        .query_row("SELECT cairn_prove('t', ?)", params![key], |r| r.get(0))
        .expect("prove");
    serde_json::from_str(&text).expect("json")
}

fn accepted(v: &Value, root: &Hash) -> bool {
    RowProof::from_json(&v.to_string()).is_ok_and(|p| p.verify(root).is_ok())
}

/// Another hex string of the same length: the first digit changed (to a
/// different value, not just another case).
fn other_hex(s: &str) -> Option<String> {
    let first = s.chars().next()?;
    first.is_ascii_hexdigit().then(|| {
        let swapped = if first == '0' { '1' } else { '0' };
        format!("{swapped}{}", &s[first.len_utf8()..])
    })
}

/// Replacements for one JSON value: every way of changing it that keeps it
/// well-formed JSON.
fn replacements(v: &Value) -> Vec<Value> {
    match v {
        Value::Null => vec![json!(0), json!("00"), json!([]), json!(false)],
        Value::Bool(b) => vec![json!(!b)],
        Value::Number(n) => {
            let mut out = vec![json!(-1), json!(0.5), Value::Null, json!("1")];
            if let Some(u) = n.as_u64() {
                out.push(json!(u.wrapping_add(1)));
                if u > 0 {
                    out.push(json!(u - 1));
                }
            }
            out
        }
        Value::String(s) => {
            let mut out = vec![json!(format!("{s}0")), json!(""), Value::Null];
            out.extend(other_hex(s).map(Value::String));
            if !s.chars().all(|c| c.is_ascii_hexdigit()) {
                out.push(json!(format!("{s}x")));
            }
            out
        }
        Value::Array(a) => {
            let mut out = vec![json!([]), Value::Null];
            if let Some(first) = a.first() {
                let mut dup = a.clone();
                dup.push(first.clone());
                out.push(Value::Array(dup));
                out.push(Value::Array(a[1..].to_vec()));
            }
            out
        }
        Value::Object(_) => vec![json!({}), Value::Null],
    }
}

/// Every single-field change of `v`, with a label; removals of optional
/// top-level fields are listed apart.
fn mutations(v: &Value, path: &str, out: &mut Vec<(String, Value)>, top: bool) {
    for r in replacements(v) {
        out.push((format!("{path} = {r}"), r));
    }
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let here = format!("{path}.{k}");
                if !(top && OPTIONAL.contains(&k.as_str())) {
                    let mut m = map.clone();
                    m.remove(k);
                    out.push((format!("{here} removed"), Value::Object(m)));
                }
                let mut inner = Vec::new();
                mutations(child, &here, &mut inner, false);
                for (label, changed) in inner {
                    let mut m = map.clone();
                    m.insert(k.clone(), changed);
                    out.push((label, Value::Object(m)));
                }
            }
            let mut m = map.clone();
            m.insert("extra".into(), json!(1));
            out.push((format!("{path}.extra added"), Value::Object(m)));
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let mut inner = Vec::new();
                mutations(child, &format!("{path}[{i}]"), &mut inner, false);
                for (label, changed) in inner {
                    let mut a = items.clone();
                    a[i] = changed;
                    out.push((label, Value::Array(a)));
                }
            }
        }
        _ => {}
    }
}

#[test]
fn every_field_of_a_row_proof_is_bound() {
    let db = db();
    let root = db.state_root();
    for key in [2, 99] {
        let proof = proof_json(&db, key);
        assert!(
            accepted(&proof, &root),
            "the true proof of key {key} verifies"
        );
        assert!(proof.get("state_root").is_some() && proof.get("values").is_some());
        let mut all = Vec::new();
        mutations(&proof, "", &mut all, true);
        assert!(all.len() > 100, "only {} mutations", all.len());
        let slipped: Vec<&String> = all
            .iter()
            .filter(|(_, m)| accepted(m, &root))
            .map(|(label, _)| label)
            .collect();
        assert!(slipped.is_empty(), "key {key}: accepted after {slipped:?}");
        // Removing an optional field leaves a valid proof that says less.
        for field in ["values", "state_root"] {
            let mut less = proof.clone();
            less.as_object_mut().expect("object").remove(field);
            assert!(accepted(&less, &root), "without {field}");
        }
    }
}

#[test]
fn a_proof_checked_against_another_root_fails_on_its_claim() {
    let db = db();
    let proof = proof_json(&db, 1);
    let old_root = db.state_root();
    db.execute("INSERT INTO u VALUES ('b')", params![])
        .expect("insert");
    let new_root = db.state_root();
    assert_ne!(old_root, new_root);
    let p = RowProof::from_json(&proof.to_string()).expect("parse");
    let err = p.verify(&new_root).expect_err("claims the old root");
    assert!(err.to_string().contains("state_root"), "{err}");
}

#[test]
fn a_named_version_needs_a_head() {
    let db = db();
    let head: CommitHead = db.head();
    let mut proof = proof_json(&db, 3);
    let obj = proof.as_object_mut().expect("object");
    obj.insert("at_version".into(), json!(head.version));
    let p = RowProof::from_json(&proof.to_string()).expect("parse");
    let err = p
        .verify(&head.state_root)
        .expect_err("a root cannot confirm a version");
    assert!(err.to_string().contains("at_version"), "{err}");
    p.verify_head(&head).expect("the right head");
    let wrong = CommitHead {
        version: head.version + 1,
        ..head
    };
    assert!(p.verify_head(&wrong).is_err(), "another version");
    // A version without a root is malformed.
    let mut bare = proof.clone();
    bare.as_object_mut().expect("object").remove("state_root");
    assert!(RowProof::from_json(&bare.to_string()).is_err());
}
