//! Error types of cairn-merkle, one per question asked of the crate.
//!
//! Whose fault each one is:
//! - [`ProofError`]: the caller asked for a proof that cannot exist (index past
//!   the end, old size past the new size). The caller's fault.
//! - [`VerifyError`]: a proof does not prove what it claims against the roots
//!   the caller trusts. The proof's (or its sender's) fault; never a bug here.
//! - [`DecodeError`] / [`EncodeError`]: bytes are not a well-formed version-1
//!   proof, or a proof cannot be written as one. The sender's / caller's fault.
//!
//! Invariant: no variant carries text to be matched on; tests match on kinds.

use std::fmt;

/// A proof was asked for that does not exist. The caller's fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofError {
    /// `leaf_index >= tree_size`: there is no such leaf.
    IndexOutOfRange { leaf_index: u64, tree_size: u64 },
    /// `old_size > new_size`: a tree cannot shrink.
    OldSizeTooLarge { old_size: u64, new_size: u64 },
    /// A requested size is past the leaves available (for [`crate::MerkleLog`]).
    SizeTooLarge { size: u64, available: u64 },
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProofError::IndexOutOfRange {
                leaf_index,
                tree_size,
            } => write!(
                f,
                "leaf index {leaf_index} out of range for tree size {tree_size}"
            ),
            ProofError::OldSizeTooLarge { old_size, new_size } => {
                write!(f, "old size {old_size} is larger than new size {new_size}")
            }
            ProofError::SizeTooLarge { size, available } => {
                write!(
                    f,
                    "size {size} is larger than the {available} leaves available"
                )
            }
        }
    }
}

impl std::error::Error for ProofError {}

/// Which of two roots a consistency check failed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhichRoot {
    /// The root of the old (smaller) tree.
    Old,
    /// The root of the new (larger) tree.
    New,
}

/// A proof does not verify. The proof's fault (or a wrong trusted root).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// The inclusion proof names a leaf index `>= tree_size`.
    IndexOutOfRange { leaf_index: u64, tree_size: u64 },
    /// The consistency proof claims `old_size > new_size`.
    OldSizeTooLarge { old_size: u64, new_size: u64 },
    /// The path does not have the one length its sizes and index allow.
    PathLengthMismatch { path_hashes: usize, expected: usize },
    /// The path ran out (or was left over) while walking up the tree: the
    /// RFC 9162 `sn` counter did not end at 0 exactly as the path ended.
    PathNotConsumed,
    /// The size stated in the proof is not the size of the trusted tree head.
    TreeSizeMismatch { proof_size: u64, trusted_size: u64 },
    /// The recomputed root differs from the trusted one.
    RootMismatch { which: WhichRoot },
    /// A trie proof without a leaf (the empty trie) carries a path.
    TrieEmptyWithPath,
    /// Trie proof step `level` (0 = just above the leaf) does not split
    /// strictly above the step below it.
    TrieDepthOrder { level: usize },
    /// The proof's leaf does not lie on the searched key's path at step
    /// `level`.
    TrieLeafOffPath { level: usize },
    /// The row in the proof does not hash to the leaf's content, or the
    /// proof carries a row for an absent key (or none for a present one).
    RowMismatch,
    /// The proof's canonical row or key bytes do not decode.
    BadRow,
    /// A returned distance is not the distance the verifier recomputes.
    DistanceMismatch { row: usize },
    /// Returned rows are not in ascending distance order.
    OrderMismatch { row: usize },
    /// The proof names a different format version or state than expected.
    WrongVersion,
    /// The proof is about another table or key than the one asked about.
    WrongQuestion,
    /// A row proof's `state_root` (or `at_version`) field names another
    /// state than the one it is checked against.
    ClaimMismatch { field: &'static str },
    /// A row proof names the version it was made at (`at_version`), which
    /// a bare state root cannot confirm: check it against a head.
    ClaimUnchecked { field: &'static str },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::IndexOutOfRange {
                leaf_index,
                tree_size,
            } => write!(
                f,
                "proof leaf index {leaf_index} out of range for tree size {tree_size}"
            ),
            VerifyError::OldSizeTooLarge { old_size, new_size } => {
                write!(
                    f,
                    "proof old size {old_size} is larger than new size {new_size}"
                )
            }
            VerifyError::PathLengthMismatch {
                path_hashes,
                expected,
            } => write!(
                f,
                "proof path has {path_hashes} hashes, expected {expected}"
            ),
            VerifyError::PathNotConsumed => write!(f, "proof path not consumed exactly"),
            VerifyError::TreeSizeMismatch {
                proof_size,
                trusted_size,
            } => write!(
                f,
                "proof is for tree size {proof_size}, trusted size is {trusted_size}"
            ),
            VerifyError::TrieEmptyWithPath => {
                write!(f, "trie proof has no leaf but a non-empty path")
            }
            VerifyError::TrieDepthOrder { level } => write!(
                f,
                "trie proof step {level} does not split above the step below it"
            ),
            VerifyError::TrieLeafOffPath { level } => write!(
                f,
                "trie proof leaf is not on the key's search path at step {level}"
            ),
            VerifyError::RowMismatch => write!(
                f,
                "the proof's row does not match the leaf (or is missing/extra)"
            ),
            VerifyError::BadRow => write!(f, "the proof's row or key bytes do not decode"),
            VerifyError::ClaimMismatch { field } => write!(
                f,
                "the proof's {field} field names another state than the trusted one"
            ),
            VerifyError::ClaimUnchecked { field } => write!(
                f,
                "the proof's {field} field cannot be checked against a state root alone; \
                 verify it against a trusted head"
            ),
            VerifyError::DistanceMismatch { row } => write!(
                f,
                "row {row}: stated distance differs from the recomputed one"
            ),
            VerifyError::OrderMismatch { row } => {
                write!(f, "row {row} is closer than the row before it")
            }
            VerifyError::WrongVersion => write!(f, "proof is for another format version"),
            VerifyError::WrongQuestion => {
                write!(
                    f,
                    "the proof is about another table or key than the one asked"
                )
            }
            VerifyError::RootMismatch { which } => match which {
                WhichRoot::Old => write!(f, "recomputed old root differs from the trusted one"),
                WhichRoot::New => write!(f, "recomputed root differs from the trusted one"),
            },
        }
    }
}

impl std::error::Error for VerifyError {}

/// What part of an encoded proof is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The input ended before the field starting at `offset`.
    Truncated {
        field: &'static str,
        needed_bytes: usize,
        available_bytes: usize,
    },
    /// Byte 0 is not a readable format version.
    UnsupportedVersion { version: u8 },
    /// Byte 1 is not a known proof kind.
    UnknownKind { kind: u8 },
    /// The proof is of the other kind than the one asked for.
    WrongKind { expected: u8, found: u8 },
    /// The hash count is above [`crate::PROOF_PATH_HASHES_MAX`].
    TooManyHashes { count: usize, max: usize },
    /// Bytes follow the last hash.
    TrailingBytes { extra_bytes: usize },
    /// An inclusion proof with `leaf_index >= tree_size`.
    IndexOutOfRange { leaf_index: u64, tree_size: u64 },
    /// A consistency proof with `old_size > new_size`.
    OldSizeTooLarge { old_size: u64, new_size: u64 },
    /// A field's value is not allowed (a flag other than 0/1, a length past
    /// its limit, an unknown metric, text that is not UTF-8).
    Invalid { field: &'static str },
}

/// Bytes are not a well-formed proof: what is wrong and at which byte offset.
/// The sender's fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// What is wrong.
    pub kind: DecodeErrorKind,
    /// Byte offset of the offending field in the input.
    pub offset: usize,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let offset = self.offset;
        match self.kind {
            DecodeErrorKind::Truncated {
                field,
                needed_bytes,
                available_bytes,
            } => write!(
                f,
                "proof truncated at offset {offset}: {field} needs {needed_bytes} bytes, {available_bytes} left"
            ),
            DecodeErrorKind::UnsupportedVersion { version } => {
                write!(f, "unsupported proof format version {version} at offset {offset}")
            }
            DecodeErrorKind::UnknownKind { kind } => {
                write!(f, "unknown proof kind {kind} at offset {offset}")
            }
            DecodeErrorKind::WrongKind { expected, found } => {
                write!(f, "proof kind {found} at offset {offset}, expected {expected}")
            }
            DecodeErrorKind::TooManyHashes { count, max } => {
                write!(f, "proof hash count {count} at offset {offset} exceeds {max}")
            }
            DecodeErrorKind::TrailingBytes { extra_bytes } => {
                write!(f, "{extra_bytes} trailing bytes after proof at offset {offset}")
            }
            DecodeErrorKind::IndexOutOfRange {
                leaf_index,
                tree_size,
            } => write!(
                f,
                "leaf index {leaf_index} at offset {offset} out of range for tree size {tree_size}"
            ),
            DecodeErrorKind::OldSizeTooLarge { old_size, new_size } => write!(
                f,
                "old size {old_size} at offset {offset} larger than new size {new_size}"
            ),
            DecodeErrorKind::Invalid { field } => {
                write!(f, "invalid {field} at offset {offset}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// A proof cannot be encoded because it is not well formed. The caller's fault
/// (proofs made by this crate always encode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// More than [`crate::PROOF_PATH_HASHES_MAX`] hashes.
    TooManyHashes { count: usize, max: usize },
    /// An inclusion proof with `leaf_index >= tree_size`.
    IndexOutOfRange { leaf_index: u64, tree_size: u64 },
    /// A consistency proof with `old_size > new_size`.
    OldSizeTooLarge { old_size: u64, new_size: u64 },
    /// A field is longer than the wire format allows.
    TooLong { field: &'static str },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::TooManyHashes { count, max } => {
                write!(f, "proof has {count} hashes, at most {max} can be encoded")
            }
            EncodeError::IndexOutOfRange {
                leaf_index,
                tree_size,
            } => write!(
                f,
                "leaf index {leaf_index} out of range for tree size {tree_size}"
            ),
            EncodeError::OldSizeTooLarge { old_size, new_size } => {
                write!(f, "old size {old_size} is larger than new size {new_size}")
            }
            EncodeError::TooLong { field } => {
                write!(f, "{field} is too long for the proof wire format")
            }
        }
    }
}

impl std::error::Error for EncodeError {}
