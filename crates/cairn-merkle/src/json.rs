//! JSON encoding of proofs (feature `json`), a readable twin of [`crate::wire`].
//!
//! ```text
//! {"version":1,"kind":"inclusion","leaf_index":3,"tree_size":7,"path":["<hex>",...]}
//! {"version":1,"kind":"consistency","old_size":3,"new_size":8,"path":["<hex>",...]}
//! ```
//!
//! Text is a valid encoding iff it is one JSON object with exactly these
//! fields (unknown fields rejected), version 1, a known kind, u64 sizes,
//! at most [`crate::PROOF_PATH_HASHES_MAX`] 64-digit hex hashes, and
//! `leaf_index < tree_size` / `old_size <= new_size` — the wire format's rules.
//! Invariant: `from_json(to_json(p)) == p`; never panics. (Duplicate keys are
//! resolved by serde_json, last one wins.)

use std::fmt;

use serde_json::{Map, Value};

use crate::error::EncodeError;
use crate::hash::{Hash, HexError};
use crate::proof::{ConsistencyProof, InclusionProof};
use crate::wire::{
    Proof, PROOF_FORMAT_OLDEST_READABLE, PROOF_FORMAT_VERSION, PROOF_PATH_HASHES_MAX,
};

const KIND_INCLUSION: &str = "inclusion";
const KIND_CONSISTENCY: &str = "consistency";

/// Text is not a well-formed JSON proof. The sender's fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON at all (serde_json's position).
    Syntax { line: usize, column: usize },
    /// JSON, but not an object.
    NotAnObject,
    /// A field this format does not have.
    UnknownField { field: String },
    /// A required field is absent.
    MissingField { field: &'static str },
    /// A field has the wrong JSON type (or a number outside u64).
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    /// `version` is not readable.
    UnsupportedVersion { version: u64 },
    /// `kind` is not "inclusion" or "consistency".
    UnknownKind { kind: String },
    /// The proof is of the other kind than the one asked for.
    WrongKind {
        expected: &'static str,
        found: &'static str,
    },
    /// More than [`PROOF_PATH_HASHES_MAX`] hashes.
    TooManyHashes { count: usize, max: usize },
    /// `path[index]` is not a hash in hex.
    BadHash { index: usize, error: HexError },
    /// `leaf_index >= tree_size`.
    IndexOutOfRange { leaf_index: u64, tree_size: u64 },
    /// `old_size > new_size`.
    OldSizeTooLarge { old_size: u64, new_size: u64 },
    /// A field of a state proof is malformed (bad hex, out of range,
    /// unknown metric); names the field.
    Invalid { field: String },
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::Syntax { line, column } => {
                write!(f, "proof JSON syntax error at line {line} column {column}")
            }
            JsonError::NotAnObject => write!(f, "proof JSON is not an object"),
            JsonError::UnknownField { field } => write!(f, "unknown proof field {field:?}"),
            JsonError::MissingField { field } => write!(f, "missing proof field {field:?}"),
            JsonError::WrongType { field, expected } => {
                write!(f, "proof field {field:?} is not {expected}")
            }
            JsonError::UnsupportedVersion { version } => {
                write!(f, "unsupported proof format version {version}")
            }
            JsonError::UnknownKind { kind } => write!(f, "unknown proof kind {kind:?}"),
            JsonError::WrongKind { expected, found } => {
                write!(f, "proof kind {found:?}, expected {expected:?}")
            }
            JsonError::TooManyHashes { count, max } => {
                write!(f, "proof has {count} hashes, at most {max} allowed")
            }
            JsonError::BadHash { index, error } => write!(f, "path[{index}]: {error}"),
            JsonError::IndexOutOfRange {
                leaf_index,
                tree_size,
            } => write!(
                f,
                "leaf index {leaf_index} out of range for tree size {tree_size}"
            ),
            JsonError::OldSizeTooLarge { old_size, new_size } => {
                write!(f, "old size {old_size} is larger than new size {new_size}")
            }
            JsonError::Invalid { field } => write!(f, "proof field {field:?} is malformed"),
        }
    }
}

impl std::error::Error for JsonError {}

fn write_json(kind: &str, names: [&str; 2], values: [u64; 2], path: &[Hash]) -> String {
    let hashes: Vec<String> = path.iter().map(|h| format!("\"{h}\"")).collect();
    format!(
        "{{\"version\":{PROOF_FORMAT_VERSION},\"kind\":\"{kind}\",\"{}\":{},\"{}\":{},\"path\":[{}]}}",
        names[0],
        values[0],
        names[1],
        values[1],
        hashes.join(",")
    )
}

fn field<'a>(obj: &'a Map<String, Value>, name: &'static str) -> Result<&'a Value, JsonError> {
    obj.get(name).ok_or(JsonError::MissingField { field: name })
}

fn u64_field(obj: &Map<String, Value>, name: &'static str) -> Result<u64, JsonError> {
    field(obj, name)?.as_u64().ok_or(JsonError::WrongType {
        field: name,
        expected: "an unsigned 64-bit integer",
    })
}

fn path_field(obj: &Map<String, Value>) -> Result<Vec<Hash>, JsonError> {
    let items = field(obj, "path")?.as_array().ok_or(JsonError::WrongType {
        field: "path",
        expected: "an array",
    })?;
    if items.len() > PROOF_PATH_HASHES_MAX {
        return Err(JsonError::TooManyHashes {
            count: items.len(),
            max: PROOF_PATH_HASHES_MAX,
        });
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let text = item.as_str().ok_or(JsonError::WrongType {
                field: "path",
                expected: "an array of hex strings",
            })?;
            Hash::from_hex(text).map_err(|error| JsonError::BadHash { index, error })
        })
        .collect()
}

impl Proof {
    /// Parses a JSON proof of either kind; see the module doc for the rules.
    pub fn from_json(text: &str) -> Result<Proof, JsonError> {
        let value: Value = serde_json::from_str(text).map_err(|e| JsonError::Syntax {
            line: e.line(),
            column: e.column(),
        })?;
        let obj = value.as_object().ok_or(JsonError::NotAnObject)?;
        let version = u64_field(obj, "version")?;
        if !(u64::from(PROOF_FORMAT_OLDEST_READABLE)..=u64::from(PROOF_FORMAT_VERSION))
            .contains(&version)
        {
            return Err(JsonError::UnsupportedVersion { version });
        }
        let kind = field(obj, "kind")?.as_str().ok_or(JsonError::WrongType {
            field: "kind",
            expected: "a string",
        })?;
        let names: [&'static str; 2] = match kind {
            KIND_INCLUSION => ["leaf_index", "tree_size"],
            KIND_CONSISTENCY => ["old_size", "new_size"],
            other => {
                return Err(JsonError::UnknownKind {
                    kind: other.to_owned(),
                })
            }
        };
        if let Some(unknown) = obj
            .keys()
            .find(|k| !["version", "kind", "path", names[0], names[1]].contains(&k.as_str()))
        {
            return Err(JsonError::UnknownField {
                field: unknown.clone(),
            });
        }
        let first = u64_field(obj, names[0])?;
        let second = u64_field(obj, names[1])?;
        let path = path_field(obj)?;
        if kind == KIND_INCLUSION {
            if first >= second {
                return Err(JsonError::IndexOutOfRange {
                    leaf_index: first,
                    tree_size: second,
                });
            }
            Ok(Proof::Inclusion(InclusionProof {
                leaf_index: first,
                tree_size: second,
                path,
            }))
        } else {
            if first > second {
                return Err(JsonError::OldSizeTooLarge {
                    old_size: first,
                    new_size: second,
                });
            }
            Ok(Proof::Consistency(ConsistencyProof {
                old_size: first,
                new_size: second,
                path,
            }))
        }
    }

    /// Writes either kind as JSON.
    pub fn to_json(&self) -> Result<String, EncodeError> {
        match self {
            Proof::Inclusion(p) => p.to_json(),
            Proof::Consistency(p) => p.to_json(),
        }
    }
}

impl InclusionProof {
    /// Writes this proof as JSON (same well-formedness rules as `to_bytes`).
    pub fn to_json(&self) -> Result<String, EncodeError> {
        self.to_bytes()?;
        Ok(write_json(
            KIND_INCLUSION,
            ["leaf_index", "tree_size"],
            [self.leaf_index, self.tree_size],
            &self.path,
        ))
    }

    /// Parses a JSON inclusion proof.
    pub fn from_json(text: &str) -> Result<InclusionProof, JsonError> {
        match Proof::from_json(text)? {
            Proof::Inclusion(p) => Ok(p),
            Proof::Consistency(_) => Err(JsonError::WrongKind {
                expected: KIND_INCLUSION,
                found: KIND_CONSISTENCY,
            }),
        }
    }
}

impl ConsistencyProof {
    /// Writes this proof as JSON (same well-formedness rules as `to_bytes`).
    pub fn to_json(&self) -> Result<String, EncodeError> {
        self.to_bytes()?;
        Ok(write_json(
            KIND_CONSISTENCY,
            ["old_size", "new_size"],
            [self.old_size, self.new_size],
            &self.path,
        ))
    }

    /// Parses a JSON consistency proof.
    pub fn from_json(text: &str) -> Result<ConsistencyProof, JsonError> {
        match Proof::from_json(text)? {
            Proof::Consistency(p) => Ok(p),
            Proof::Inclusion(_) => Err(JsonError::WrongKind {
                expected: KIND_CONSISTENCY,
                found: KIND_INCLUSION,
            }),
        }
    }
}
