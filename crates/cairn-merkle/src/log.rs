//! An append-only Merkle log of leaf hashes (the history of commit records).
//!
//! Invariant: `frontier` holds the roots of the perfect subtrees that the
//! RFC 9162 tree of `len()` leaves decomposes into, largest (leftmost) first,
//! one per set bit of `len()`; so `root()` costs O(log n) node hashes and
//! always equals [`crate::root`] over all leaves. `append` costs amortised
//! O(1) hashes. `root_at`, `inclusion_proof` and `consistency_proof` recompute
//! from the stored leaf hashes in O(n) hashes (acceptable for now; a stored
//! tree of interior nodes would make them O(log n)). Never panics.

use crate::error::ProofError;
use crate::hash::{empty_root, node_hash, Hash};
use crate::proof::{ConsistencyProof, InclusionProof, TreeHead};
use crate::tree;

/// An append-only log of leaf hashes with an O(log n) root.
#[derive(Clone, Debug, Default)]
pub struct MerkleLog {
    leaves: Vec<Hash>,
    /// Perfect-subtree roots, largest first (the compact range `[0, len)`).
    frontier: Vec<Hash>,
}

impl MerkleLog {
    /// An empty log.
    pub fn new() -> MerkleLog {
        MerkleLog::default()
    }

    /// Appends a leaf hash; returns the new size.
    pub fn append(&mut self, leaf: Hash) -> u64 {
        self.leaves.push(leaf);
        self.frontier.push(leaf);
        let size = self.len();
        // Each trailing zero of the new size is one merge of two equal-height
        // subtrees at the right edge.
        for _ in 0..size.trailing_zeros() {
            match (self.frontier.pop(), self.frontier.pop()) {
                (Some(right), Some(left)) => self.frontier.push(node_hash(&left, &right)),
                // Unreachable while the invariant holds; restore what we took.
                (Some(right), None) => {
                    self.frontier.push(right);
                    break;
                }
                (None, _) => break,
            }
        }
        debug_assert_eq!(self.frontier.len(), size.count_ones() as usize);
        size
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// True if no leaf was appended.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// The leaf hashes, in order.
    pub fn leaves(&self) -> &[Hash] {
        &self.leaves
    }

    /// Root of the whole log, O(log n) from the frontier.
    pub fn root(&self) -> Hash {
        let mut subtrees = self.frontier.iter().rev();
        let Some(last) = subtrees.next() else {
            return empty_root();
        };
        subtrees.fold(*last, |acc, left| node_hash(left, &acc))
    }

    /// The current `(size, root)`.
    pub fn head(&self) -> TreeHead {
        TreeHead {
            size: self.len(),
            root: self.root(),
        }
    }

    fn prefix(&self, size: u64) -> Result<&[Hash], ProofError> {
        let too_large = ProofError::SizeTooLarge {
            size,
            available: self.len(),
        };
        let n = usize::try_from(size).map_err(|_| too_large)?;
        self.leaves.get(..n).ok_or(too_large)
    }

    /// Root of the log as it was at `size` leaves. O(n).
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        Ok(tree::root(self.prefix(size)?))
    }

    /// Inclusion proof of leaf `index` in the log as it was at `size` leaves. O(n).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<InclusionProof, ProofError> {
        tree::inclusion_proof(self.prefix(size)?, index)
    }

    /// Consistency proof from the log at `old_size` to the log at `new_size`. O(n).
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, ProofError> {
        if old_size > new_size {
            return Err(ProofError::OldSizeTooLarge { old_size, new_size });
        }
        tree::consistency_proof(self.prefix(new_size)?, old_size)
    }
}
