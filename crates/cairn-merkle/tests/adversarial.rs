//! Adversarial suite: valid proofs are accepted and every tampered variant is
//! rejected (bit flips, truncations, appended bytes, wrong index, wrong sizes,
//! swapped siblings, wrong version, replay against another tree's root).
//!
//! The verifier modelled here trusts a `(size, root)` tree head, as a client
//! holding a signed checkpoint does: acceptance means "decodes" and
//! `verify_head` / `verify_heads` succeed. Invariant kept: 100 % of tampered
//! proofs rejected, counted and asserted per category.

use cairn_merkle::{
    consistency_proof, inclusion_proof, leaf_hash, root, ConsistencyProof, Hash, InclusionProof,
    TreeHead, PROOF_FORMAT_VERSION,
};

const SIZES: [usize; 10] = [1, 2, 3, 7, 8, 9, 31, 64, 100, 1000];

fn leaves_with(prefix: &str, n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("{prefix} {i}").as_bytes()))
        .collect()
}

/// Attempts and rejections of one category.
#[derive(Default, Debug)]
struct Tally {
    attempts: u64,
    rejected: u64,
}

impl Tally {
    fn expect_rejected(&mut self, accepted: bool) {
        self.attempts += 1;
        if !accepted {
            self.rejected += 1;
        }
    }
}

fn head(d: &[Hash]) -> TreeHead {
    TreeHead {
        size: d.len() as u64,
        root: root(d),
    }
}

fn accepts_inclusion(bytes: &[u8], leaf: &Hash, head: &TreeHead) -> bool {
    InclusionProof::from_bytes(bytes).is_ok_and(|p| p.verify_head(leaf, head).is_ok())
}

fn accepts_consistency(bytes: &[u8], old: &TreeHead, new: &TreeHead) -> bool {
    ConsistencyProof::from_bytes(bytes).is_ok_and(|p| p.verify_heads(old, new).is_ok())
}

/// Every byte-level tampering of `bytes`, fed to `accepts`.
fn byte_tamperings(bytes: &[u8], accepts: &dyn Fn(&[u8]) -> bool, t: &mut [Tally; 4]) {
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.to_vec();
            b[i] ^= 1 << bit;
            t[0].expect_rejected(accepts(&b));
        }
    }
    for len in 0..bytes.len() {
        t[1].expect_rejected(accepts(&bytes[..len]));
    }
    for extra in [0x00u8, 0x01, 0xff] {
        let mut b = bytes.to_vec();
        b.push(extra);
        t[2].expect_rejected(accepts(&b));
    }
    for version in 0..=u8::MAX {
        if version != PROOF_FORMAT_VERSION {
            let mut b = bytes.to_vec();
            b[0] = version;
            t[3].expect_rejected(accepts(&b));
        }
    }
}

fn wrong_sizes(n: u64) -> Vec<u64> {
    let mut v = vec![0, 1, n.saturating_sub(1), n + 1, n * 2, n + 1000, u64::MAX];
    v.retain(|&s| s != n);
    v.sort_unstable();
    v.dedup();
    v
}

fn assert_all_rejected(name: &str, t: &Tally) {
    println!("{name}: {} / {} rejected", t.rejected, t.attempts);
    assert!(t.attempts > 0, "{name}: nothing attempted");
    assert_eq!(
        t.rejected, t.attempts,
        "{name}: some tampered proofs accepted"
    );
}

#[test]
fn tampered_inclusion_proofs_are_all_rejected() {
    let mut valid = 0u64;
    let mut bytes_t: [Tally; 4] = Default::default();
    let mut index_t = Tally::default();
    let mut size_t = Tally::default();
    let mut swap_t = Tally::default();
    let mut replay_t = Tally::default();
    let mut leaf_t = Tally::default();
    let mut size_root_only_accepted = 0u64;
    let mut size_root_only_attempts = 0u64;
    for n in SIZES {
        let d = leaves_with("leaf", n);
        let h = head(&d);
        let other_same_size = head(&leaves_with("other", n));
        let mut indexes = vec![0, n / 2, n - 1];
        indexes.dedup();
        for m in indexes {
            let p = inclusion_proof(&d, m as u64).expect("in range");
            let bytes = p.to_bytes().expect("encodable");
            let leaf = d[m];
            assert!(accepts_inclusion(&bytes, &leaf, &h), "valid n={n} m={m}");
            valid += 1;

            byte_tamperings(&bytes, &|b| accepts_inclusion(b, &leaf, &h), &mut bytes_t);

            for other in (0..n as u64).filter(|&o| o != m as u64) {
                let q = InclusionProof {
                    leaf_index: other,
                    ..p.clone()
                };
                index_t.expect_rejected(q.verify_head(&leaf, &h).is_ok());
                index_t.expect_rejected(q.verify(&leaf, &h.root).is_ok());
            }
            for size in wrong_sizes(n as u64) {
                let q = InclusionProof {
                    tree_size: size,
                    ..p.clone()
                };
                size_t.expect_rejected(q.verify_head(&leaf, &h).is_ok());
                size_t.expect_rejected(accepts_inclusion(
                    &q.to_bytes().unwrap_or_default(),
                    &leaf,
                    &h,
                ));
                // Root-only verification cannot see the size (see proof.rs).
                size_root_only_attempts += 1;
                if q.verify(&leaf, &h.root).is_ok() {
                    size_root_only_accepted += 1;
                }
            }
            for i in 0..p.path.len().saturating_sub(1) {
                let mut q = p.clone();
                q.path.swap(i, i + 1);
                swap_t.expect_rejected(q.verify_head(&leaf, &h).is_ok());
            }
            for other in SIZES.iter().filter(|&&o| o != n) {
                let other_head = head(&leaves_with("leaf", *other));
                replay_t.expect_rejected(p.verify(&leaf, &other_head.root).is_ok());
                replay_t.expect_rejected(p.verify_head(&leaf, &other_head).is_ok());
            }
            replay_t.expect_rejected(p.verify_head(&leaf, &other_same_size).is_ok());
            leaf_t.expect_rejected(p.verify_head(&leaf_hash(b"forged"), &h).is_ok());
            if n > 1 {
                leaf_t.expect_rejected(p.verify_head(&d[(m + 1) % n], &h).is_ok());
            }
        }
    }
    println!("valid inclusion proofs accepted: {valid}");
    for (name, t) in ["bit flips", "truncations", "appended byte", "wrong version"]
        .iter()
        .zip(&bytes_t)
    {
        assert_all_rejected(&format!("inclusion {name}"), t);
    }
    assert_all_rejected("inclusion wrong leaf index", &index_t);
    assert_all_rejected("inclusion wrong tree size", &size_t);
    assert_all_rejected("inclusion swapped siblings", &swap_t);
    assert_all_rejected("inclusion replay against another root", &replay_t);
    assert_all_rejected("inclusion wrong leaf", &leaf_t);
    println!(
        "inclusion wrong tree size, root-only verify (no trusted size): \
         {size_root_only_accepted} / {size_root_only_attempts} accepted"
    );
    assert_eq!(valid, 27);
}

#[test]
fn tampered_consistency_proofs_are_all_rejected() {
    let mut valid = 0u64;
    let mut bytes_t: [Tally; 4] = Default::default();
    let mut size_t = Tally::default();
    let mut swap_t = Tally::default();
    let mut replay_t = Tally::default();
    for n in SIZES {
        let d = leaves_with("leaf", n);
        let new = head(&d);
        let mut olds = vec![1, n / 2, n - 1, n];
        olds.retain(|&m| m > 0);
        olds.sort_unstable();
        olds.dedup();
        for m in olds {
            let p = consistency_proof(&d, m as u64).expect("in range");
            let bytes = p.to_bytes().expect("encodable");
            let old = head(&d[..m]);
            assert!(accepts_consistency(&bytes, &old, &new), "valid {m}->{n}");
            valid += 1;

            byte_tamperings(
                &bytes,
                &|b| accepts_consistency(b, &old, &new),
                &mut bytes_t,
            );

            for size in wrong_sizes(m as u64) {
                let q = ConsistencyProof {
                    old_size: size,
                    ..p.clone()
                };
                size_t.expect_rejected(q.verify_heads(&old, &new).is_ok());
            }
            for size in wrong_sizes(n as u64) {
                let q = ConsistencyProof {
                    new_size: size,
                    ..p.clone()
                };
                size_t.expect_rejected(q.verify_heads(&old, &new).is_ok());
            }
            for i in 0..p.path.len().saturating_sub(1) {
                if p.path[i] != p.path[i + 1] {
                    let mut q = p.clone();
                    q.path.swap(i, i + 1);
                    swap_t.expect_rejected(q.verify_heads(&old, &new).is_ok());
                }
            }
            // Another tree's roots, same sizes: as the old root, as the new
            // root, and both.
            let forged = leaves_with("other", n);
            let forged_old = head(&forged[..m]);
            let forged_new = head(&forged);
            replay_t.expect_rejected(p.verify_heads(&forged_old, &new).is_ok());
            replay_t.expect_rejected(p.verify_heads(&old, &forged_new).is_ok());
            if m != n {
                // (For m == n the forged tree is, correctly, consistent with itself.)
                replay_t.expect_rejected(p.verify_heads(&forged_old, &forged_new).is_ok());
            }
            // A different-size tree's root.
            for other in SIZES.iter().filter(|&&o| o != n && o != m) {
                let other_root = root(&leaves_with("leaf", *other));
                replay_t.expect_rejected(p.verify(&old.root, &other_root).is_ok());
                if m != n {
                    replay_t.expect_rejected(p.verify(&other_root, &new.root).is_ok());
                }
            }
        }
    }
    println!("valid consistency proofs accepted: {valid}");
    for (name, t) in ["bit flips", "truncations", "appended byte", "wrong version"]
        .iter()
        .zip(&bytes_t)
    {
        assert_all_rejected(&format!("consistency {name}"), t);
    }
    assert_all_rejected("consistency wrong sizes", &size_t);
    assert_all_rejected("consistency swapped siblings", &swap_t);
    assert_all_rejected("consistency replay against other roots", &replay_t);
    assert_eq!(valid, 34);
}
