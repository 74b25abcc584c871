//! What a database commits to (RFC 0002 Part 2): table leaves, the state
//! root, commit records and the history log, and the proofs a verifier
//! checks against them — a row's presence or absence ([`RowProof`]), the
//! rows of a query with their distances ([`QueryProof`]), and that one
//! version is in the history of a later one ([`HistoryProof`]).
//!
//! ```text
//! table leaf   = hash(Table,   u32 LE name length ‖ name ‖ u64 LE rows ‖ trie root)
//! tables root  = RFC 9162 tree over the table leaves, in byte order of name
//! state root   = hash(State,   u8 1 ‖ catalog root ‖ u64 LE table count ‖ tables root)
//! commit record= hash(Commit,  u64 LE version ‖ u64 LE commit timestamp ‖ state root)
//! history      = RFC 9162 tree over the commit records, in commit order
//! ```
//!
//! Invariant: every verification recomputes from the proof's data up to a
//! root the caller trusts; nothing in a proof vouches for itself. Never
//! panics.

use crate::error::{VerifyError, WhichRoot};
use crate::hash::{hash, Domain, Hash, HASH_BYTES};
use crate::proof::{ConsistencyProof, InclusionProof, TreeHead};
use crate::row::{content_hash, decode_values, f16_bits_to_f32, key_hash, CanonValue};
use crate::trie::{Membership, TrieProof};

/// Version byte inside the state-root hash input.
pub const STATE_FORMAT_VERSION: u8 = 1;

/// `hash(Table, u32 name length ‖ name ‖ u64 rows ‖ trie root)`.
pub fn table_leaf_hash(name: &str, rows: u64, trie_root: &Hash) -> Hash {
    let mut b = Vec::with_capacity(4 + name.len() + 8 + HASH_BYTES);
    crate::row::put_len(&mut b, name.len());
    b.extend_from_slice(name.as_bytes());
    b.extend_from_slice(&rows.to_le_bytes());
    b.extend_from_slice(&trie_root.0);
    hash(Domain::Table, &b)
}

/// `hash(Catalog, catalog bytes)`.
pub fn catalog_root(catalog_bytes: &[u8]) -> Hash {
    hash(Domain::Catalog, catalog_bytes)
}

/// `hash(State, 1 ‖ catalog root ‖ table count ‖ tables root)`.
pub fn state_root(catalog: &Hash, table_count: u64, tables_root: &Hash) -> Hash {
    let mut b = [0u8; 1 + HASH_BYTES + 8 + HASH_BYTES];
    b[0] = STATE_FORMAT_VERSION;
    b[1..33].copy_from_slice(&catalog.0);
    b[33..41].copy_from_slice(&table_count.to_le_bytes());
    b[41..].copy_from_slice(&tables_root.0);
    hash(Domain::State, &b)
}

/// `hash(Commit, version ‖ commit timestamp ‖ state root)`: leaf
/// `version - 1` of the history log. The version inside the leaf binds a
/// head's claimed version to its position: an RFC 9162 root alone does not
/// fix the tree size, so without it the last leaf of 7 could pose as the
/// last of 6.
pub fn commit_record_hash(version: u64, commit_ts: u64, state_root: &Hash) -> Hash {
    let mut b = [0u8; 16 + HASH_BYTES];
    b[..8].copy_from_slice(&version.to_le_bytes());
    b[8..16].copy_from_slice(&commit_ts.to_le_bytes());
    b[16..].copy_from_slice(&state_root.0);
    hash(Domain::Commit, &b)
}

/// A version of the database as a verifier trusts it: the history log's
/// head after `version` commit records, and the last record's contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommitHead {
    /// Number of commit records (the history tree's size), ≥ 1.
    pub version: u64,
    /// Commit timestamp of the last record.
    pub commit_ts: u64,
    /// State root of the last record.
    pub state_root: Hash,
    /// Root of the history tree of `version` records.
    pub history_root: Hash,
}

impl CommitHead {
    /// The history tree head `(version, history_root)`.
    pub fn tree_head(&self) -> TreeHead {
        TreeHead {
            size: self.version,
            root: self.history_root,
        }
    }
}

/// What a verified row proof shows.
#[derive(Clone, Debug, PartialEq)]
pub enum RowFinding {
    /// The table holds this row under the key, at this row version.
    Present { version: u64, row: Vec<CanonValue> },
    /// The table holds no row under the key.
    Absent,
}

/// Proof that a table holds (or does not hold) a row under a key, in the
/// state with a given root.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RowProof {
    /// Table name (lowercase).
    pub table: String,
    /// Canonical key bytes (RFC 0002 §2.2).
    pub key: Vec<u8>,
    /// Canonical row bytes, for a present row.
    pub row: Option<Vec<u8>>,
    /// The key's path in the table's trie.
    pub trie: TrieProof,
    /// Rows in the table.
    pub table_rows: u64,
    /// Position of the table's leaf among the table leaves, and their count.
    pub table_index: u64,
    pub table_count: u64,
    /// RFC 9162 inclusion path of the table leaf.
    pub table_path: Vec<Hash>,
    /// Root of the catalog (schemas and views).
    pub catalog_root: Hash,
    /// The state root the prover says it proved against (JSON
    /// `state_root`; not in the binary form). Bound: verifying against
    /// another root fails.
    pub claimed_root: Option<Hash>,
    /// The version the prover says that root belongs to (JSON
    /// `at_version`, written by older provers). Bound: only
    /// [`RowProof::verify_head`] accepts a proof that carries it.
    pub claimed_version: Option<u64>,
}

impl RowProof {
    /// The state root this proof implies, and what it shows about the key.
    pub fn implied_state_root(&self) -> Result<(Hash, RowFinding), VerifyError> {
        let k = key_hash(&self.key);
        decode_values(&self.key).map_err(|_| VerifyError::BadRow)?;
        let (trie_root, shows) = self.trie.implied_root(&k)?;
        let finding = match (shows, &self.row) {
            (Membership::Present(leaf), Some(row)) => {
                if content_hash(row) != leaf.content {
                    return Err(VerifyError::RowMismatch);
                }
                let row = decode_values(row).map_err(|_| VerifyError::BadRow)?;
                RowFinding::Present {
                    version: leaf.version,
                    row,
                }
            }
            (Membership::Absent, None) => RowFinding::Absent,
            _ => return Err(VerifyError::RowMismatch),
        };
        let leaf = table_leaf_hash(&self.table, self.table_rows, &trie_root);
        let table_proof = InclusionProof {
            leaf_index: self.table_index,
            tree_size: self.table_count,
            path: self.table_path.clone(),
        };
        let tables_root = table_proof.implied_root(&leaf)?;
        Ok((
            state_root(&self.catalog_root, self.table_count, &tables_root),
            finding,
        ))
    }

    /// [`RowProof::verify`], and that the proof answers the question asked:
    /// `table` (compared case-insensitively) and the key's values. A
    /// verifier that asked about a key should call this, not `verify`,
    /// which checks what the proof is about against nothing.
    pub fn verify_key(
        &self,
        table: &str,
        key: &[CanonValue],
        state_root: &Hash,
    ) -> Result<RowFinding, VerifyError> {
        if !self.table.eq_ignore_ascii_case(table) || self.key != crate::row::encode_values(key) {
            return Err(VerifyError::WrongQuestion);
        }
        self.verify(state_root)
    }

    /// Checks the proof against a trusted state root. It shows something
    /// about `self.table` and `self.key`: compare them with what you asked
    /// (or use [`RowProof::verify_key`]).
    pub fn verify(&self, state_root: &Hash) -> Result<RowFinding, VerifyError> {
        if self.claimed_version.is_some() {
            return Err(VerifyError::ClaimUnchecked {
                field: "at_version",
            });
        }
        self.verify_root(state_root)
    }

    /// [`RowProof::verify`] against a trusted head: its state root, and its
    /// version if the proof names one.
    pub fn verify_head(&self, head: &CommitHead) -> Result<RowFinding, VerifyError> {
        if self.claimed_version.is_some_and(|v| v != head.version) {
            return Err(VerifyError::ClaimMismatch {
                field: "at_version",
            });
        }
        self.verify_root(&head.state_root)
    }

    fn verify_root(&self, state_root: &Hash) -> Result<RowFinding, VerifyError> {
        if self.claimed_root.is_some_and(|c| c != *state_root) {
            return Err(VerifyError::ClaimMismatch {
                field: "state_root",
            });
        }
        let (r, finding) = self.implied_state_root()?;
        if r != *state_root {
            return Err(VerifyError::RootMismatch {
                which: WhichRoot::New,
            });
        }
        Ok(finding)
    }
}

/// Distance function of a vector query (the SQL functions of the same name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// `vec_distance_l2`: Euclidean distance.
    L2,
    /// `vec_distance_cosine`: 1 − cosine similarity.
    Cosine,
    /// `vec_distance_ip`: negative inner product.
    NegativeDot,
}

impl Metric {
    /// The metric's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Metric::L2 => "l2",
            Metric::Cosine => "cosine",
            Metric::NegativeDot => "ip",
        }
    }

    /// Parses [`Metric::name`].
    pub fn from_name(s: &str) -> Option<Metric> {
        match s {
            "l2" => Some(Metric::L2),
            "cosine" => Some(Metric::Cosine),
            "ip" => Some(Metric::NegativeDot),
            _ => None,
        }
    }

    /// The distance in f64 (None for a zero vector under cosine, or
    /// mismatched dimensions).
    pub fn distance(self, a: &[f32], b: &[f32]) -> Option<f64> {
        if a.len() != b.len() {
            return None;
        }
        let dot: f64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum();
        match self {
            Metric::L2 => Some(
                a.iter()
                    .zip(b)
                    .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
                    .sum::<f64>()
                    .sqrt(),
            ),
            Metric::Cosine => {
                let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum();
                let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum();
                let denom = (na * nb).sqrt();
                (denom != 0.0).then(|| (1.0 - dot / denom).clamp(0.0, 2.0))
            }
            Metric::NegativeDot => Some(-dot),
        }
    }
}

/// Relative tolerance between a stated and a recomputed distance: the
/// engine's kernels sum in a different order (and in f32) than the
/// verifier's f64 loop.
pub const DISTANCE_TOLERANCE: f64 = 1e-4;

fn close(a: f64, b: f64) -> bool {
    a.is_finite()
        && b.is_finite()
        && (a - b).abs() <= DISTANCE_TOLERANCE * a.abs().max(b.abs()).max(1.0)
}

/// How a query's rows were ordered: by distance of a vector column to a
/// query vector.
#[derive(Clone, Debug, PartialEq)]
pub struct DistanceOrder {
    /// Column position of the vector in each row.
    pub column: u32,
    pub metric: Metric,
    pub query: Vec<f32>,
    /// The distance the engine reported for each row, in result order.
    pub distances: Vec<f64>,
}

/// The rows a query returned, each with its proof, against one state root;
/// for a nearest-neighbour query also the distances and their order.
///
/// What it proves: every row exists in that state, with those values and,
/// when `order` is set, at those distances in ascending order. What it does
/// not prove: that no other row matches the query or is closer.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryProof {
    pub rows: Vec<RowProof>,
    pub order: Option<DistanceOrder>,
}

fn vector_of(v: Option<&CanonValue>) -> Option<Vec<f32>> {
    match v? {
        CanonValue::Vector(x) => Some(x.clone()),
        CanonValue::HalfVec(x) => Some(x.iter().map(|h| f16_bits_to_f32(*h)).collect()),
        _ => None,
    }
}

impl QueryProof {
    /// Checks every row against the trusted state root and, for a distance
    /// order, recomputes each distance and the order. Returns the rows.
    pub fn verify(&self, state_root: &Hash) -> Result<Vec<Vec<CanonValue>>, VerifyError> {
        self.verify_rows(|p| p.verify(state_root))
    }

    /// [`QueryProof::verify`] against a trusted head (see
    /// [`RowProof::verify_head`]).
    pub fn verify_head(&self, head: &CommitHead) -> Result<Vec<Vec<CanonValue>>, VerifyError> {
        self.verify_rows(|p| p.verify_head(head))
    }

    fn verify_rows(
        &self,
        check: impl Fn(&RowProof) -> Result<RowFinding, VerifyError>,
    ) -> Result<Vec<Vec<CanonValue>>, VerifyError> {
        let mut rows = Vec::with_capacity(self.rows.len());
        for p in &self.rows {
            match check(p)? {
                RowFinding::Present { row, .. } => rows.push(row),
                RowFinding::Absent => return Err(VerifyError::RowMismatch),
            }
        }
        if let Some(o) = &self.order {
            if o.distances.len() != rows.len() {
                return Err(VerifyError::DistanceMismatch { row: rows.len() });
            }
            let mut previous = f64::NEG_INFINITY;
            for (i, (row, stated)) in rows.iter().zip(&o.distances).enumerate() {
                let v = vector_of(row.get(o.column as usize))
                    .ok_or(VerifyError::DistanceMismatch { row: i })?;
                let d = o
                    .metric
                    .distance(&v, &o.query)
                    .ok_or(VerifyError::DistanceMismatch { row: i })?;
                if !close(d, *stated) {
                    return Err(VerifyError::DistanceMismatch { row: i });
                }
                if d < previous && !close(d, previous) {
                    return Err(VerifyError::OrderMismatch { row: i });
                }
                previous = d;
            }
        }
        Ok(rows)
    }
}

/// Proof that version `old` is in the history of version `new`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HistoryProof {
    pub old: CommitHead,
    pub new: CommitHead,
    /// RFC 9162 consistency proof between the two history trees.
    pub consistency: ConsistencyProof,
    /// Inclusion of the old commit record in the new history tree.
    pub old_record: InclusionProof,
    /// Inclusion of the new commit record (the last) in the new tree.
    pub new_record: InclusionProof,
}

impl HistoryProof {
    /// Checks that `new` extends `trusted` (which must equal `old`); returns
    /// the new head, now to be trusted.
    pub fn verify(&self, trusted: &CommitHead) -> Result<CommitHead, VerifyError> {
        if self.old != *trusted {
            return Err(VerifyError::RootMismatch {
                which: WhichRoot::Old,
            });
        }
        if self.old.version == 0 || self.new.version < self.old.version {
            return Err(VerifyError::OldSizeTooLarge {
                old_size: self.old.version,
                new_size: self.new.version,
            });
        }
        self.consistency
            .verify_heads(&self.old.tree_head(), &self.new.tree_head())?;
        let head = self.new.tree_head();
        for (record, proof, index) in [
            (&self.old, &self.old_record, self.old.version - 1),
            (&self.new, &self.new_record, self.new.version - 1),
        ] {
            if proof.leaf_index != index {
                return Err(VerifyError::IndexOutOfRange {
                    leaf_index: proof.leaf_index,
                    tree_size: head.size,
                });
            }
            proof.verify_head(
                &commit_record_hash(record.version, record.commit_ts, &record.state_root),
                &head,
            )?;
        }
        Ok(self.new)
    }
}
