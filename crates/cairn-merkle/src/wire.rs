//! Binary wire format of proofs, version 1 (hand-written, little-endian).
//!
//! ```text
//! offset  size  field
//!      0     1  version      = 1 (PROOF_FORMAT_VERSION)
//!      1     1  kind         = 1 inclusion | 2 consistency
//!      2     8  u64 LE       leaf_index (inclusion) | old_size (consistency)
//!     10     8  u64 LE       tree_size  (inclusion) | new_size (consistency)
//!     18     1  count        number of hashes, <= 128 (PROOF_PATH_HASHES_MAX)
//!     19  32*count           the path, in order
//! ```
//!
//! Bytes are a valid encoding iff (1) the version is readable, (2) the kind is
//! known, (3) every field is present, (4) count <= 128, (5) nothing follows
//! the last hash, and (6) leaf_index < tree_size / old_size <= new_size.
//! Invariant: `from_bytes(to_bytes(p)) == p` for every encodable proof, and
//! decoding never panics; every rejection names the field's byte offset.

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::hash::{Hash, HASH_BYTES};
use crate::proof::{ConsistencyProof, InclusionProof};

/// Format version written by this crate.
pub const PROOF_FORMAT_VERSION: u8 = 1;
/// Oldest format version this crate reads.
pub const PROOF_FORMAT_OLDEST_READABLE: u8 = 1;
/// Most hashes a proof may carry on the wire (a valid proof for any `u64`
/// size has at most 65).
pub const PROOF_PATH_HASHES_MAX: usize = 128;
/// Kind byte of an inclusion proof.
pub const PROOF_KIND_INCLUSION: u8 = 1;
/// Kind byte of a consistency proof.
pub const PROOF_KIND_CONSISTENCY: u8 = 2;
/// Bytes before the first hash: version, kind, two u64s, count.
pub const PROOF_HEADER_BYTES: usize = 1 + 1 + 8 + 8 + 1;
const _: () = assert!(PROOF_HEADER_BYTES == 19);
const _: () = assert!(PROOF_PATH_HASHES_MAX <= u8::MAX as usize);

const OFFSET_VERSION: usize = 0;
const OFFSET_KIND: usize = 1;
const OFFSET_FIRST: usize = 2;
const OFFSET_COUNT: usize = 18;

/// A decoded proof of either kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Proof {
    /// Kind 1.
    Inclusion(InclusionProof),
    /// Kind 2.
    Consistency(ConsistencyProof),
}

fn encode(kind: u8, first: u64, second: u64, path: &[Hash]) -> Result<Vec<u8>, EncodeError> {
    if path.len() > PROOF_PATH_HASHES_MAX {
        return Err(EncodeError::TooManyHashes {
            count: path.len(),
            max: PROOF_PATH_HASHES_MAX,
        });
    }
    let count = u8::try_from(path.len()).map_err(|_| EncodeError::TooManyHashes {
        count: path.len(),
        max: PROOF_PATH_HASHES_MAX,
    })?;
    let mut out = Vec::with_capacity(PROOF_HEADER_BYTES + HASH_BYTES * path.len());
    out.push(PROOF_FORMAT_VERSION);
    out.push(kind);
    out.extend_from_slice(&first.to_le_bytes());
    out.extend_from_slice(&second.to_le_bytes());
    out.push(count);
    for h in path {
        out.extend_from_slice(&h.0);
    }
    debug_assert_eq!(out.len(), PROOF_HEADER_BYTES + HASH_BYTES * path.len());
    Ok(out)
}

/// A bounds-checked reader over the input that knows its offset.
pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) offset: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let available = self.bytes.len().saturating_sub(self.offset);
        let Some(chunk) = self.bytes.get(self.offset..).and_then(|rest| rest.get(..n)) else {
            return Err(DecodeError {
                kind: DecodeErrorKind::Truncated {
                    field,
                    needed_bytes: n,
                    available_bytes: available,
                },
                offset: self.offset,
            });
        };
        self.offset += n;
        Ok(chunk)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let b = self.take(1, field)?;
        Ok(b.first().copied().unwrap_or_default())
    }

    pub(crate) fn u64_le(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

pub(crate) fn err(kind: DecodeErrorKind, offset: usize) -> DecodeError {
    DecodeError { kind, offset }
}

impl Proof {
    /// Decodes a version-1 proof of either kind; see the module doc for the
    /// validity rules.
    pub fn from_bytes(bytes: &[u8]) -> Result<Proof, DecodeError> {
        let mut r = Reader { bytes, offset: 0 };
        let version = r.u8("version")?;
        if !(PROOF_FORMAT_OLDEST_READABLE..=PROOF_FORMAT_VERSION).contains(&version) {
            return Err(err(
                DecodeErrorKind::UnsupportedVersion { version },
                OFFSET_VERSION,
            ));
        }
        let kind = r.u8("kind")?;
        if kind != PROOF_KIND_INCLUSION && kind != PROOF_KIND_CONSISTENCY {
            return Err(err(DecodeErrorKind::UnknownKind { kind }, OFFSET_KIND));
        }
        let inclusion = kind == PROOF_KIND_INCLUSION;
        let first = r.u64_le(if inclusion { "leaf_index" } else { "old_size" })?;
        let second = r.u64_le(if inclusion { "tree_size" } else { "new_size" })?;
        let count = usize::from(r.u8("count")?);
        if count > PROOF_PATH_HASHES_MAX {
            return Err(err(
                DecodeErrorKind::TooManyHashes {
                    count,
                    max: PROOF_PATH_HASHES_MAX,
                },
                OFFSET_COUNT,
            ));
        }
        let mut path = Vec::with_capacity(count);
        for _ in 0..count {
            let b = r.take(HASH_BYTES, "path hash")?;
            let mut h = [0u8; HASH_BYTES];
            h.copy_from_slice(b);
            path.push(Hash(h));
        }
        if r.offset != bytes.len() {
            return Err(err(
                DecodeErrorKind::TrailingBytes {
                    extra_bytes: bytes.len() - r.offset,
                },
                r.offset,
            ));
        }
        if inclusion {
            if first >= second {
                return Err(err(
                    DecodeErrorKind::IndexOutOfRange {
                        leaf_index: first,
                        tree_size: second,
                    },
                    OFFSET_FIRST,
                ));
            }
            Ok(Proof::Inclusion(InclusionProof {
                leaf_index: first,
                tree_size: second,
                path,
            }))
        } else {
            if first > second {
                return Err(err(
                    DecodeErrorKind::OldSizeTooLarge {
                        old_size: first,
                        new_size: second,
                    },
                    OFFSET_FIRST,
                ));
            }
            Ok(Proof::Consistency(ConsistencyProof {
                old_size: first,
                new_size: second,
                path,
            }))
        }
    }

    /// Encodes either kind.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        match self {
            Proof::Inclusion(p) => p.to_bytes(),
            Proof::Consistency(p) => p.to_bytes(),
        }
    }

    fn kind_byte(&self) -> u8 {
        match self {
            Proof::Inclusion(_) => PROOF_KIND_INCLUSION,
            Proof::Consistency(_) => PROOF_KIND_CONSISTENCY,
        }
    }
}

impl InclusionProof {
    /// Encodes in wire format version 1.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        if self.leaf_index >= self.tree_size {
            return Err(EncodeError::IndexOutOfRange {
                leaf_index: self.leaf_index,
                tree_size: self.tree_size,
            });
        }
        encode(
            PROOF_KIND_INCLUSION,
            self.leaf_index,
            self.tree_size,
            &self.path,
        )
    }

    /// Decodes wire format version 1; a consistency proof is
    /// [`DecodeErrorKind::WrongKind`].
    pub fn from_bytes(bytes: &[u8]) -> Result<InclusionProof, DecodeError> {
        match Proof::from_bytes(bytes)? {
            Proof::Inclusion(p) => Ok(p),
            other => Err(err(
                DecodeErrorKind::WrongKind {
                    expected: PROOF_KIND_INCLUSION,
                    found: other.kind_byte(),
                },
                OFFSET_KIND,
            )),
        }
    }
}

impl ConsistencyProof {
    /// Encodes in wire format version 1.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        if self.old_size > self.new_size {
            return Err(EncodeError::OldSizeTooLarge {
                old_size: self.old_size,
                new_size: self.new_size,
            });
        }
        encode(
            PROOF_KIND_CONSISTENCY,
            self.old_size,
            self.new_size,
            &self.path,
        )
    }

    /// Decodes wire format version 1; an inclusion proof is
    /// [`DecodeErrorKind::WrongKind`].
    pub fn from_bytes(bytes: &[u8]) -> Result<ConsistencyProof, DecodeError> {
        match Proof::from_bytes(bytes)? {
            Proof::Consistency(p) => Ok(p),
            other => Err(err(
                DecodeErrorKind::WrongKind {
                    expected: PROOF_KIND_CONSISTENCY,
                    found: other.kind_byte(),
                },
                OFFSET_KIND,
            )),
        }
    }
}
