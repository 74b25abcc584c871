//! Proof types and their verifier (the verifier side; builds nothing).
//!
//! Verification follows RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2
//! (consistency) with the `fn`/`sn` bit walk. A proof is accepted iff
//! (1) its sizes/index are well formed, (2) its path has exactly the length
//! those sizes/index allow, (3) the walk consumes the path exactly with `sn`
//! ending at 0, and (4) the recomputed root(s) equal the trusted one(s).
//!
//! A root hash alone does not fix the tree size (for example leaf 0's proof in
//! a 5-leaf tree also walks to the same root when read as a 6- or 7-leaf tree),
//! so a verifier that trusts a `(size, root)` pair should use
//! [`InclusionProof::verify_head`] / [`ConsistencyProof::verify_heads`], which
//! also compare the sizes. Invariant: never panics on any field values.

use crate::error::{VerifyError, WhichRoot};
use crate::hash::{empty_root, node_hash, Hash};

/// A trusted checkpoint: a tree size and the root of the tree of that size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TreeHead {
    /// Number of leaves.
    pub size: u64,
    /// Root of the tree over those leaves.
    pub root: Hash,
}

/// Proof that a leaf is at `leaf_index` in a tree of `tree_size` leaves
/// (RFC 9162 audit path, deepest sibling first).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InclusionProof {
    /// Position of the leaf, `< tree_size`.
    pub leaf_index: u64,
    /// Number of leaves in the tree the proof is for.
    pub tree_size: u64,
    /// Sibling subtree roots from the leaf up to the root.
    pub path: Vec<Hash>,
}

/// Proof that the tree of `old_size` leaves is a prefix of the tree of
/// `new_size` leaves (RFC 9162 §2.1.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConsistencyProof {
    /// Size of the older tree, `<= new_size`.
    pub old_size: u64,
    /// Size of the newer tree.
    pub new_size: u64,
    /// Subtree roots, as RFC 9162 PROOF(old_size, D[new_size]).
    pub path: Vec<Hash>,
}

const fn lsb(x: u64) -> bool {
    x & 1 == 1
}

/// The path walk shared by inclusion and consistency verification (RFC
/// 9162 §2.1.3.2 and §2.1.4.2): starting from node numbers `fn_` and `sn`,
/// calls `step(hash, true)` for each path hash that is a left sibling and
/// `step(hash, false)` for a right sibling. Fails if the path runs out of
/// levels, or levels are left when it ends.
fn walk_path<'a>(
    mut fn_: u64,
    mut sn: u64,
    path: impl IntoIterator<Item = &'a Hash>,
    mut step: impl FnMut(&Hash, bool),
) -> Result<(), VerifyError> {
    for p in path {
        if sn == 0 {
            return Err(VerifyError::PathNotConsumed);
        }
        if lsb(fn_) || fn_ == sn {
            step(p, true);
            if !lsb(fn_) {
                while !lsb(fn_) && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            step(p, false);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(VerifyError::PathNotConsumed);
    }
    Ok(())
}

/// The one valid audit-path length for `index < size` (no hashing).
pub fn inclusion_path_len(index: u64, size: u64) -> usize {
    if index >= size {
        return 0;
    }
    let mut fn_ = index;
    let mut sn = size - 1;
    let mut count = 0;
    while sn != 0 {
        if !lsb(fn_) && fn_ == sn {
            while !lsb(fn_) && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        }
        fn_ >>= 1;
        sn >>= 1;
        count += 1;
    }
    count
}

/// The one valid consistency-path length for `old_size <= new_size` (no hashing).
pub fn consistency_path_len(old_size: u64, new_size: u64) -> usize {
    if old_size == 0 || old_size >= new_size {
        return 0;
    }
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while lsb(fn_) {
        fn_ >>= 1;
        sn >>= 1;
    }
    let mut steps = 0;
    while sn != 0 {
        if !lsb(fn_) && fn_ == sn {
            while !lsb(fn_) && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        }
        fn_ >>= 1;
        sn >>= 1;
        steps += 1;
    }
    // The walk consumes `steps` hashes after the first; the first is
    // implicit (the old root) when old_size is a power of two.
    if old_size.is_power_of_two() {
        steps
    } else {
        steps + 1
    }
}

impl InclusionProof {
    /// Checks that `leaf` is at `self.leaf_index` in a tree of
    /// `self.tree_size` leaves whose root is `root` (RFC 9162 §2.1.3.2).
    /// Does not check `tree_size` against anything trusted: see
    /// [`InclusionProof::verify_head`].
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> Result<(), VerifyError> {
        if self.implied_root(leaf)? != *root {
            return Err(VerifyError::RootMismatch {
                which: WhichRoot::New,
            });
        }
        Ok(())
    }

    /// The root the path implies for `leaf` at `leaf_index` in a tree of
    /// `tree_size` leaves, after the index and path-length checks. Compare
    /// it with a trusted root (and the size with a trusted size).
    pub fn implied_root(&self, leaf: &Hash) -> Result<Hash, VerifyError> {
        if self.leaf_index >= self.tree_size {
            return Err(VerifyError::IndexOutOfRange {
                leaf_index: self.leaf_index,
                tree_size: self.tree_size,
            });
        }
        let expected = inclusion_path_len(self.leaf_index, self.tree_size);
        if self.path.len() != expected {
            return Err(VerifyError::PathLengthMismatch {
                path_hashes: self.path.len(),
                expected,
            });
        }
        let mut r = *leaf;
        walk_path(
            self.leaf_index,
            self.tree_size - 1,
            &self.path,
            |p, left| {
                r = if left {
                    node_hash(p, &r)
                } else {
                    node_hash(&r, p)
                };
            },
        )?;
        Ok(r)
    }

    /// [`InclusionProof::verify`] against a trusted `(size, root)`, also
    /// rejecting a proof made for another tree size.
    pub fn verify_head(&self, leaf: &Hash, head: &TreeHead) -> Result<(), VerifyError> {
        if self.tree_size != head.size {
            return Err(VerifyError::TreeSizeMismatch {
                proof_size: self.tree_size,
                trusted_size: head.size,
            });
        }
        self.verify(leaf, &head.root)
    }
}

impl ConsistencyProof {
    /// Checks that the tree of `old_size` leaves with root `old_root` is a
    /// prefix of the tree of `new_size` leaves with root `new_root`
    /// (RFC 9162 §2.1.4.2).
    ///
    /// Edge cases: `old_size == new_size` needs an empty path and
    /// `old_root == new_root`. `old_size == 0` needs an empty path and is
    /// always consistent (the empty tree is a prefix of every tree); the only
    /// check made then is that `old_root` is [`empty_root()`], the one root a
    /// tree of size 0 has. `new_root` is unconstrained in that case.
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<(), VerifyError> {
        if self.old_size > self.new_size {
            return Err(VerifyError::OldSizeTooLarge {
                old_size: self.old_size,
                new_size: self.new_size,
            });
        }
        let expected = consistency_path_len(self.old_size, self.new_size);
        if self.path.len() != expected {
            return Err(VerifyError::PathLengthMismatch {
                path_hashes: self.path.len(),
                expected,
            });
        }
        if self.old_size == 0 {
            return if *old_root == empty_root() {
                Ok(())
            } else {
                Err(VerifyError::RootMismatch {
                    which: WhichRoot::Old,
                })
            };
        }
        if self.old_size == self.new_size {
            return if old_root == new_root {
                Ok(())
            } else {
                Err(VerifyError::RootMismatch {
                    which: WhichRoot::New,
                })
            };
        }
        // Step 2: a power-of-two old tree is itself a subtree of the new one,
        // so its root is the implicit first element of the path.
        let mut rest = self.path.iter();
        let first = if self.old_size.is_power_of_two() {
            *old_root
        } else {
            match rest.next() {
                Some(h) => *h,
                None => return Err(VerifyError::PathNotConsumed),
            }
        };
        let mut fn_ = self.old_size - 1;
        let mut sn = self.new_size - 1;
        while lsb(fn_) {
            fn_ >>= 1;
            sn >>= 1;
        }
        let mut fr = first;
        let mut sr = first;
        walk_path(fn_, sn, rest, |c, left| {
            if left {
                fr = node_hash(c, &fr);
                sr = node_hash(c, &sr);
            } else {
                sr = node_hash(&sr, c);
            }
        })?;
        if fr != *old_root {
            return Err(VerifyError::RootMismatch {
                which: WhichRoot::Old,
            });
        }
        if sr != *new_root {
            return Err(VerifyError::RootMismatch {
                which: WhichRoot::New,
            });
        }
        Ok(())
    }

    /// [`ConsistencyProof::verify`] between two trusted `(size, root)` heads,
    /// also rejecting a proof made for other sizes.
    pub fn verify_heads(&self, old: &TreeHead, new: &TreeHead) -> Result<(), VerifyError> {
        if self.old_size != old.size {
            return Err(VerifyError::TreeSizeMismatch {
                proof_size: self.old_size,
                trusted_size: old.size,
            });
        }
        if self.new_size != new.size {
            return Err(VerifyError::TreeSizeMismatch {
                proof_size: self.new_size,
                trusted_size: new.size,
            });
        }
        self.verify(&old.root, &new.root)
    }
}
