//! cairn-merkle — Merkle trees, proofs and their verifier for Cairn's
//! verifiable state; depends on blake3 only (serde_json behind `json`).
//!
//! Layer: below storage; knows nothing of pages, files or SQL and may not
//! depend on any other Cairn crate. Entry points: [`root`] over leaf hashes,
//! [`MerkleLog`] for an append-only history, [`inclusion_proof`] /
//! [`consistency_proof`] to prove, [`InclusionProof::verify_head`] /
//! [`ConsistencyProof::verify_heads`] to check, and `to_bytes`/`from_bytes`
//! for the version-1 wire format ([`wire`]).
//!
//! Format version 1, normatively:
//! - hashes are `blake3::keyed_hash(derive_key("cairn-merkle v1 <domain>"), bytes)`
//!   per [`Domain`]; `leaf_hash(d) = hash(Leaf, d)`,
//!   `node_hash(l, r) = hash(Node, l ++ r)`, `empty_root() = hash(Empty, "")`;
//! - the tree shape is RFC 9162 §2.1.1 over leaf hashes (odd nodes promoted);
//! - proofs and their verification are RFC 9162 §2.1.3 and §2.1.4.
//!
//! Invariant: no function panics on any input; bad inputs are typed errors
//! ([`error`] says whose fault each is).
//!
//! Feature `simd` (the engine turns it on): [`batch`] hashes sixteen trie
//! nodes at once with the AVX-512 or AVX2 kernels of `kernels`, picked at
//! run time. Without it the crate forbids `unsafe` and [`batch`] hashes one
//! message at a time; either way the hashes are the same. (Cargo unifies
//! features: a verifier built in one workspace with the engine gets
//! `simd` too; built on its own, it does not.)

// A verifier built without the `simd` feature has no `unsafe` at all; with
// it, only the SIMD kernel modules allow it.
#![cfg_attr(not(feature = "simd"), forbid(unsafe_code))]
#![cfg_attr(feature = "simd", deny(unsafe_code))]

pub mod batch;
pub mod error;
pub mod hash;
#[cfg(feature = "json")]
pub mod json;
#[cfg(all(feature = "simd", target_arch = "x86_64"))]
pub mod kernels;
pub mod log;
pub mod proof;
pub mod row;
pub mod state;
#[cfg(feature = "json")]
pub mod statejson;
pub mod statewire;
pub mod tree;
pub mod trie;
pub mod wire;

pub use error::{DecodeError, DecodeErrorKind, EncodeError, ProofError, VerifyError, WhichRoot};
pub use hash::{
    empty_root, hash, leaf_hash, node_hash, trie_node_hash, Domain, Hash, HexError, HASH_BYTES,
};
#[cfg(feature = "json")]
pub use json::JsonError;
pub use log::MerkleLog;
pub use proof::{
    consistency_path_len, inclusion_path_len, ConsistencyProof, InclusionProof, TreeHead,
};
pub use row::{content_hash, decode_values, encode_values, key_hash, CanonValue};
pub use state::{
    catalog_root, commit_record_hash, state_root, table_leaf_hash, CommitHead, DistanceOrder,
    HistoryProof, Metric, QueryProof, RowFinding, RowProof,
};
pub use statewire::{PROOF_KIND_HISTORY, PROOF_KIND_QUERY, PROOF_KIND_ROW};
pub use tree::{consistency_proof, inclusion_proof, root};
pub use trie::{Membership, Trie, TrieLeaf, TrieProof, TrieStep};
pub use wire::{
    Proof, PROOF_FORMAT_OLDEST_READABLE, PROOF_FORMAT_VERSION, PROOF_HEADER_BYTES,
    PROOF_KIND_CONSISTENCY, PROOF_KIND_INCLUSION, PROOF_PATH_HASHES_MAX,
};
