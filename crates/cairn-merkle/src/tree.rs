//! Building trees and proofs from a slice of leaf hashes (the prover side).
//!
//! Tree shape is RFC 9162 §2.1.1 over leaf *hashes*: `MTH([]) = empty_root()`,
//! `MTH([h]) = h`, `MTH(L) = node_hash(MTH(L[..k]), MTH(L[k..]))` with `k` the
//! largest power of two below `len(L)`. An odd node is promoted, never
//! duplicated. Proofs follow RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (PROOF).
//!
//! Invariant: every proof returned here verifies against `root(leaves)` (and
//! for consistency proofs, `root(&leaves[..old_size])`). Never panics: bad
//! indexes and sizes are [`ProofError`]s. Each function is O(n) hashes.

use crate::error::ProofError;
use crate::hash::{empty_root, node_hash, Hash};
use crate::proof::{ConsistencyProof, InclusionProof};

/// The largest power of two strictly less than `n`; `n` must be at least 2.
pub(crate) fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    let below = n.saturating_sub(1).max(1);
    1usize << (usize::BITS - 1 - below.leading_zeros())
}

/// The Merkle tree hash (root) of `leaves`, RFC 9162 §2.1.1.
pub fn root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return empty_root();
    }
    subtree_root(leaves)
}

/// MTH of a non-empty slice.
fn subtree_root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [only] => *only,
        _ => {
            let k = split_point(leaves.len());
            let (left, right) = leaves.split_at(k);
            node_hash(&subtree_root(left), &subtree_root(right))
        }
    }
}

/// The audit path of leaf `index` in the tree over `leaves`, RFC 9162
/// §2.1.3.1, as an [`InclusionProof`] for `tree_size = leaves.len()`.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<InclusionProof, ProofError> {
    let tree_size = leaves.len() as u64;
    let out_of_range = ProofError::IndexOutOfRange {
        leaf_index: index,
        tree_size,
    };
    if index >= tree_size {
        return Err(out_of_range);
    }
    let m = usize::try_from(index).map_err(|_| out_of_range)?;
    let mut path = Vec::new();
    path_into(m, leaves, &mut path);
    Ok(InclusionProof {
        leaf_index: index,
        tree_size,
        path,
    })
}

/// PATH(m, D[n]), deepest sibling first.
fn path_into(m: usize, leaves: &[Hash], path: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split_point(leaves.len());
    let (left, right) = leaves.split_at(k);
    if m < k {
        path_into(m, left, path);
        path.push(subtree_root(right));
    } else {
        path_into(m - k, right, path);
        path.push(subtree_root(left));
    }
}

/// The proof that the tree over `leaves[..old_size]` is a prefix of the tree
/// over `leaves`, RFC 9162 §2.1.4.1. `old_size == 0` and
/// `old_size == leaves.len()` give an empty path.
pub fn consistency_proof(leaves: &[Hash], old_size: u64) -> Result<ConsistencyProof, ProofError> {
    let new_size = leaves.len() as u64;
    let too_large = ProofError::OldSizeTooLarge { old_size, new_size };
    if old_size > new_size {
        return Err(too_large);
    }
    let m = usize::try_from(old_size).map_err(|_| too_large)?;
    let mut path = Vec::new();
    if m > 0 {
        subproof_into(m, leaves, true, &mut path);
    }
    Ok(ConsistencyProof {
        old_size,
        new_size,
        path,
    })
}

/// SUBPROOF(m, D[n], b), for `0 < m <= n`.
fn subproof_into(m: usize, leaves: &[Hash], complete: bool, path: &mut Vec<Hash>) {
    let n = leaves.len();
    if m >= n {
        if !complete {
            path.push(subtree_root(leaves));
        }
        return;
    }
    let k = split_point(n);
    let (left, right) = leaves.split_at(k);
    if m <= k {
        subproof_into(m, left, complete, path);
        path.push(subtree_root(right));
    } else {
        subproof_into(m - k, right, false, path);
        path.push(subtree_root(left));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_points() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(8), 4);
        assert_eq!(split_point(9), 8);
    }
}
