//! Binary wire format of the state proofs (RFC 0002 §2.7), version 1.
//! Little-endian; every proof starts `version u8 = 1, kind u8`:
//!
//! ```text
//! kind 3 row proof:
//!   u32 n, table name (UTF-8, n <= 1024)
//!   u32 n, key bytes (n <= 1 MiB)
//!   u8 has_row (0|1), [u32 n, row bytes (n <= 64 MiB)]
//!   u8 has_leaf (0|1), [32 key hash, u64 row version, 32 content hash]
//!   u16 steps (<= 256), steps × (u8 depth, 32 sibling), leaf level first
//!   u64 table_rows, u64 table_index, u64 table_count
//!   u8 n (<= 128), n × 32 table path
//!   32 catalog root
//! kind 4 history proof:
//!   old head, new head: u64 version, u64 commit_ts, 32 state root, 32 history root
//!   u8 n, n × 32 consistency path (old.version -> new.version)
//!   u8 n, n × 32 inclusion path of the old record (index old.version-1)
//!   u8 n, n × 32 inclusion path of the new record (index new.version-1)
//! kind 5 query proof:
//!   u32 rows (<= 65536), rows × (u32 n, a kind-3 proof of n bytes)
//!   u8 has_order (0|1), [u32 column, u8 metric 1 l2|2 cosine|3 ip,
//!                        u32 dims (<= 65536), dims × f32, rows × f64 distance]
//! ```
//!
//! Valid input: known version and kind, every field present and within its
//! limit, flags 0 or 1, nothing after the last field. Invariant:
//! `from_bytes(to_bytes(p)) == p`; decoding never panics.

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::hash::{Hash, HASH_BYTES};
use crate::proof::{ConsistencyProof, InclusionProof};
use crate::state::{CommitHead, DistanceOrder, HistoryProof, Metric, QueryProof, RowProof};
use crate::trie::{TrieLeaf, TrieProof, TrieStep};
use crate::wire::{err, Reader, PROOF_FORMAT_OLDEST_READABLE, PROOF_FORMAT_VERSION};

/// Kind byte of a row proof.
pub const PROOF_KIND_ROW: u8 = 3;
/// Kind byte of a history proof.
pub const PROOF_KIND_HISTORY: u8 = 4;
/// Kind byte of a query proof.
pub const PROOF_KIND_QUERY: u8 = 5;

const MAX_NAME: usize = 1024;
const MAX_KEY: usize = 1 << 20;
const MAX_ROW: usize = 64 << 20;
const MAX_STEPS: usize = 256;
const MAX_HASHES: usize = crate::wire::PROOF_PATH_HASHES_MAX;
const MAX_ROWS: usize = 65_536;
const MAX_DIMS: usize = 65_536;

struct W(Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: usize, field: &'static str, max: usize) -> Result<(), EncodeError> {
        if v > max {
            return Err(EncodeError::TooLong { field });
        }
        self.0.extend_from_slice(&(v as u32).to_le_bytes());
        Ok(())
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn hash(&mut self, h: &Hash) {
        self.0.extend_from_slice(&h.0);
    }
    fn bytes(&mut self, b: &[u8], field: &'static str, max: usize) -> Result<(), EncodeError> {
        self.u32(b.len(), field, max)?;
        self.0.extend_from_slice(b);
        Ok(())
    }
    fn hashes(&mut self, hs: &[Hash]) -> Result<(), EncodeError> {
        if hs.len() > MAX_HASHES {
            return Err(EncodeError::TooManyHashes {
                count: hs.len(),
                max: MAX_HASHES,
            });
        }
        self.u8(hs.len() as u8);
        for h in hs {
            self.hash(h);
        }
        Ok(())
    }
    fn head(&mut self, h: &CommitHead) {
        self.u64(h.version);
        self.u64(h.commit_ts);
        self.hash(&h.state_root);
        self.hash(&h.history_root);
    }
}

impl<'a> Reader<'a> {
    fn u32_le(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4, field)?);
        Ok(u32::from_le_bytes(a))
    }
    fn len(&mut self, field: &'static str, max: usize) -> Result<usize, DecodeError> {
        let at = self.offset;
        let n = self.u32_le(field)? as usize;
        if n > max {
            return Err(err(DecodeErrorKind::Invalid { field }, at));
        }
        Ok(n)
    }
    fn hash(&mut self, field: &'static str) -> Result<Hash, DecodeError> {
        let mut h = [0u8; HASH_BYTES];
        h.copy_from_slice(self.take(HASH_BYTES, field)?);
        Ok(Hash(h))
    }
    fn flag(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        let at = self.offset;
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(err(DecodeErrorKind::Invalid { field }, at)),
        }
    }
    fn bytes(&mut self, field: &'static str, max: usize) -> Result<Vec<u8>, DecodeError> {
        let n = self.len(field, max)?;
        Ok(self.take(n, field)?.to_vec())
    }
    fn hashes(&mut self, field: &'static str) -> Result<Vec<Hash>, DecodeError> {
        let at = self.offset;
        let n = usize::from(self.u8(field)?);
        if n > MAX_HASHES {
            return Err(err(
                DecodeErrorKind::TooManyHashes {
                    count: n,
                    max: MAX_HASHES,
                },
                at,
            ));
        }
        (0..n).map(|_| self.hash(field)).collect()
    }
    fn head(&mut self) -> Result<CommitHead, DecodeError> {
        Ok(CommitHead {
            version: self.u64_le("head version")?,
            commit_ts: self.u64_le("head commit_ts")?,
            state_root: self.hash("head state root")?,
            history_root: self.hash("head history root")?,
        })
    }
    fn start(&mut self, kind: u8) -> Result<(), DecodeError> {
        let version = self.u8("version")?;
        if !(PROOF_FORMAT_OLDEST_READABLE..=PROOF_FORMAT_VERSION).contains(&version) {
            return Err(err(DecodeErrorKind::UnsupportedVersion { version }, 0));
        }
        let found = self.u8("kind")?;
        if found != kind {
            return Err(err(
                DecodeErrorKind::WrongKind {
                    expected: kind,
                    found,
                },
                1,
            ));
        }
        Ok(())
    }
    fn end(&self) -> Result<(), DecodeError> {
        if self.offset != self.bytes.len() {
            return Err(err(
                DecodeErrorKind::TrailingBytes {
                    extra_bytes: self.bytes.len() - self.offset,
                },
                self.offset,
            ));
        }
        Ok(())
    }
}

fn start(kind: u8) -> W {
    W(vec![PROOF_FORMAT_VERSION, kind])
}

impl RowProof {
    /// Encodes as a kind-3 proof.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = start(PROOF_KIND_ROW);
        w.bytes(self.table.as_bytes(), "table name", MAX_NAME)?;
        w.bytes(&self.key, "key", MAX_KEY)?;
        match &self.row {
            None => w.u8(0),
            Some(r) => {
                w.u8(1);
                w.bytes(r, "row", MAX_ROW)?;
            }
        }
        match &self.trie.leaf {
            None => w.u8(0),
            Some(l) => {
                w.u8(1);
                w.hash(&l.key);
                w.u64(l.version);
                w.hash(&l.content);
            }
        }
        if self.trie.path.len() > MAX_STEPS {
            return Err(EncodeError::TooManyHashes {
                count: self.trie.path.len(),
                max: MAX_STEPS,
            });
        }
        w.0.extend_from_slice(&(self.trie.path.len() as u16).to_le_bytes());
        for s in &self.trie.path {
            w.u8(s.depth);
            w.hash(&s.sibling);
        }
        w.u64(self.table_rows);
        w.u64(self.table_index);
        w.u64(self.table_count);
        w.hashes(&self.table_path)?;
        w.hash(&self.catalog_root);
        Ok(w.0)
    }

    /// Decodes a kind-3 proof (strict; see the module doc).
    pub fn from_bytes(bytes: &[u8]) -> Result<RowProof, DecodeError> {
        let mut r = Reader { bytes, offset: 0 };
        r.start(PROOF_KIND_ROW)?;
        let p = RowProof::read(&mut r)?;
        r.end()?;
        Ok(p)
    }

    fn read(r: &mut Reader<'_>) -> Result<RowProof, DecodeError> {
        let at = r.offset;
        let table = String::from_utf8(r.bytes("table name", MAX_NAME)?).map_err(|_| {
            err(
                DecodeErrorKind::Invalid {
                    field: "table name",
                },
                at,
            )
        })?;
        let key = r.bytes("key", MAX_KEY)?;
        let row = if r.flag("has_row")? {
            Some(r.bytes("row", MAX_ROW)?)
        } else {
            None
        };
        let leaf = if r.flag("has_leaf")? {
            Some(TrieLeaf {
                key: r.hash("leaf key")?,
                version: r.u64_le("leaf version")?,
                content: r.hash("leaf content")?,
            })
        } else {
            None
        };
        let at = r.offset;
        let mut n = [0u8; 2];
        n.copy_from_slice(r.take(2, "trie steps")?);
        let n = usize::from(u16::from_le_bytes(n));
        if n > MAX_STEPS {
            return Err(err(
                DecodeErrorKind::TooManyHashes {
                    count: n,
                    max: MAX_STEPS,
                },
                at,
            ));
        }
        let mut path = Vec::with_capacity(n);
        for _ in 0..n {
            path.push(TrieStep {
                depth: r.u8("step depth")?,
                sibling: r.hash("step sibling")?,
            });
        }
        Ok(RowProof {
            table,
            key,
            row,
            trie: TrieProof { leaf, path },
            table_rows: r.u64_le("table rows")?,
            table_index: r.u64_le("table index")?,
            table_count: r.u64_le("table count")?,
            table_path: r.hashes("table path")?,
            catalog_root: r.hash("catalog root")?,
            claimed_root: None,
            claimed_version: None,
        })
    }
}

impl HistoryProof {
    /// Encodes as a kind-4 proof.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = start(PROOF_KIND_HISTORY);
        w.head(&self.old);
        w.head(&self.new);
        w.hashes(&self.consistency.path)?;
        w.hashes(&self.old_record.path)?;
        w.hashes(&self.new_record.path)?;
        Ok(w.0)
    }

    /// Decodes a kind-4 proof; sizes and indexes come from the heads.
    pub fn from_bytes(bytes: &[u8]) -> Result<HistoryProof, DecodeError> {
        let mut r = Reader { bytes, offset: 0 };
        r.start(PROOF_KIND_HISTORY)?;
        let old = r.head()?;
        let new = r.head()?;
        if old.version == 0 || old.version > new.version {
            return Err(err(
                DecodeErrorKind::OldSizeTooLarge {
                    old_size: old.version,
                    new_size: new.version,
                },
                2,
            ));
        }
        let consistency = r.hashes("consistency path")?;
        let old_record = r.hashes("old record path")?;
        let new_record = r.hashes("new record path")?;
        r.end()?;
        Ok(HistoryProof::assemble(
            old,
            new,
            consistency,
            old_record,
            new_record,
        ))
    }

    /// A proof from its heads and three paths (sizes and indexes follow
    /// from the heads; the heads must have versions ≥ 1).
    pub fn assemble(
        old: CommitHead,
        new: CommitHead,
        consistency: Vec<Hash>,
        old_record: Vec<Hash>,
        new_record: Vec<Hash>,
    ) -> HistoryProof {
        HistoryProof {
            consistency: ConsistencyProof {
                old_size: old.version,
                new_size: new.version,
                path: consistency,
            },
            old_record: InclusionProof {
                leaf_index: old.version.saturating_sub(1),
                tree_size: new.version,
                path: old_record,
            },
            new_record: InclusionProof {
                leaf_index: new.version.saturating_sub(1),
                tree_size: new.version,
                path: new_record,
            },
            old,
            new,
        }
    }
}

fn metric_byte(m: Metric) -> u8 {
    match m {
        Metric::L2 => 1,
        Metric::Cosine => 2,
        Metric::NegativeDot => 3,
    }
}

impl QueryProof {
    /// Encodes as a kind-5 proof.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = start(PROOF_KIND_QUERY);
        w.u32(self.rows.len(), "rows", MAX_ROWS)?;
        for p in &self.rows {
            let b = p.to_bytes()?;
            w.bytes(&b, "row proof", usize::MAX)?;
        }
        match &self.order {
            None => w.u8(0),
            Some(o) => {
                if o.distances.len() != self.rows.len() {
                    return Err(EncodeError::TooLong { field: "distances" });
                }
                w.u8(1);
                w.u32(o.column as usize, "column", u32::MAX as usize)?;
                w.u8(metric_byte(o.metric));
                w.u32(o.query.len(), "query vector", MAX_DIMS)?;
                for x in &o.query {
                    w.0.extend_from_slice(&x.to_bits().to_le_bytes());
                }
                for d in &o.distances {
                    w.u64(d.to_bits());
                }
            }
        }
        Ok(w.0)
    }

    /// Decodes a kind-5 proof (strict; see the module doc).
    pub fn from_bytes(bytes: &[u8]) -> Result<QueryProof, DecodeError> {
        let mut r = Reader { bytes, offset: 0 };
        r.start(PROOF_KIND_QUERY)?;
        let n = r.len("rows", MAX_ROWS)?;
        let mut rows = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let base = r.offset + 4;
            let b = r.bytes("row proof", MAX_ROW + MAX_KEY + 64 * 1024)?;
            let p = RowProof::from_bytes(&b).map_err(|mut e| {
                e.offset += base;
                e
            })?;
            rows.push(p);
        }
        let order = if r.flag("has_order")? {
            let column = r.u32_le("column")?;
            let at = r.offset;
            let metric = match r.u8("metric")? {
                1 => Metric::L2,
                2 => Metric::Cosine,
                3 => Metric::NegativeDot,
                _ => return Err(err(DecodeErrorKind::Invalid { field: "metric" }, at)),
            };
            let dims = r.len("query vector", MAX_DIMS)?;
            let mut query = Vec::with_capacity(dims);
            for _ in 0..dims {
                query.push(f32::from_bits(r.u32_le("query element")?));
            }
            let mut distances = Vec::with_capacity(rows.len());
            for _ in 0..rows.len() {
                distances.push(f64::from_bits(r.u64_le("distance")?));
            }
            Some(DistanceOrder {
                column,
                metric,
                query,
                distances,
            })
        } else {
            None
        };
        r.end()?;
        Ok(QueryProof { rows, order })
    }
}
