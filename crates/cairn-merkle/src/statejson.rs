//! JSON encoding of the state proofs (feature `json`), the readable twin of
//! [`crate::statewire`]; byte strings (keys, rows) are lowercase hex.
//!
//! ```text
//! {"version":1,"kind":"row","table":"t","key":"<hex>","row":"<hex>"|null,
//!  "leaf":{"key":"<hash>","version":1,"content":"<hash>"}|null,
//!  "path":[{"depth":3,"sibling":"<hash>"},...],
//!  "table_rows":10,"table_index":0,"table_count":1,"table_path":[...],
//!  "catalog_root":"<hash>"}
//! {"version":1,"kind":"history","old":<head>,"new":<head>,
//!  "consistency":[...],"old_record":[...],"new_record":[...]}
//!   head = {"version":3,"commit_ts":7,"state_root":"<hash>","history_root":"<hash>"}
//! {"version":1,"kind":"query","rows":[<row proof>,...],
//!  "order":{"column":1,"metric":"l2","query":[0.5,...],"distances":[0.1,...]}|null}
//! ```
//!
//! Same rules as the binary format: exactly these fields (unknown ones
//! rejected), version 1, the expected kind, limits on lengths. Invariant:
//! `from_json(to_json(p)) == p` (distances and query elements round-trip
//! exactly: shortest round-trip decimal forms); never panics.

use serde_json::{json, Map, Value};

use crate::error::EncodeError;
use crate::hash::Hash;
use crate::json::JsonError;
use crate::state::{CommitHead, DistanceOrder, HistoryProof, Metric, QueryProof, RowProof};
use crate::trie::{TrieLeaf, TrieProof, TrieStep};
use crate::wire::{PROOF_FORMAT_OLDEST_READABLE, PROOF_FORMAT_VERSION};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn invalid(field: &str) -> JsonError {
    JsonError::Invalid {
        field: field.to_owned(),
    }
}

fn unhex(s: &str, field: &str) -> Result<Vec<u8>, JsonError> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) || !b.iter().all(u8::is_ascii_hexdigit) {
        return Err(invalid(field));
    }
    b.chunks(2)
        .map(|p| {
            std::str::from_utf8(p)
                .ok()
                .and_then(|t| u8::from_str_radix(t, 16).ok())
                .ok_or_else(|| invalid(field))
        })
        .collect()
}

/// A row's values rendered for people (`null` for an absent row or bytes
/// that do not decode): the JSON `values` field.
fn rendered_values(row: Option<&[u8]>) -> Value {
    row.and_then(|r| crate::row::decode_values(r).ok())
        .map_or(Value::Null, |vs| {
            Value::Array(vs.iter().map(|v| Value::String(v.display())).collect())
        })
}

fn hashes(hs: &[Hash]) -> Value {
    Value::Array(hs.iter().map(|h| Value::String(h.to_hex())).collect())
}

struct Obj<'a> {
    map: &'a Map<String, Value>,
    ctx: &'static str,
}

impl<'a> Obj<'a> {
    fn new(v: &'a Value, ctx: &'static str, fields: &[&str]) -> Result<Obj<'a>, JsonError> {
        let map = v.as_object().ok_or_else(|| invalid(ctx))?;
        if let Some(k) = map.keys().find(|k| !fields.contains(&k.as_str())) {
            return Err(JsonError::UnknownField { field: k.clone() });
        }
        Ok(Obj { map, ctx })
    }
    fn get(&self, name: &'static str) -> Result<&'a Value, JsonError> {
        self.map
            .get(name)
            .ok_or(JsonError::MissingField { field: name })
    }
    fn u64(&self, name: &'static str) -> Result<u64, JsonError> {
        self.get(name)?.as_u64().ok_or(JsonError::WrongType {
            field: name,
            expected: "an unsigned 64-bit integer",
        })
    }
    fn str(&self, name: &'static str) -> Result<&'a str, JsonError> {
        self.get(name)?.as_str().ok_or(JsonError::WrongType {
            field: name,
            expected: "a string",
        })
    }
    fn hash(&self, name: &'static str) -> Result<Hash, JsonError> {
        Hash::from_hex(self.str(name)?).map_err(|_| invalid(name))
    }
    fn hashes(&self, name: &'static str) -> Result<Vec<Hash>, JsonError> {
        let items = self.get(name)?.as_array().ok_or(JsonError::WrongType {
            field: name,
            expected: "an array of hex hashes",
        })?;
        if items.len() > crate::wire::PROOF_PATH_HASHES_MAX {
            return Err(JsonError::TooManyHashes {
                count: items.len(),
                max: crate::wire::PROOF_PATH_HASHES_MAX,
            });
        }
        items
            .iter()
            .enumerate()
            .map(|(index, v)| {
                let s = v.as_str().ok_or(JsonError::WrongType {
                    field: name,
                    expected: "an array of hex hashes",
                })?;
                Hash::from_hex(s).map_err(|error| JsonError::BadHash { index, error })
            })
            .collect()
    }
    fn array(&self, name: &'static str) -> Result<&'a Vec<Value>, JsonError> {
        self.get(name)?.as_array().ok_or(JsonError::WrongType {
            field: name,
            expected: "an array",
        })
    }
    fn header(&self, kind: &'static str) -> Result<(), JsonError> {
        let version = self.u64("version")?;
        if !(u64::from(PROOF_FORMAT_OLDEST_READABLE)..=u64::from(PROOF_FORMAT_VERSION))
            .contains(&version)
        {
            return Err(JsonError::UnsupportedVersion { version });
        }
        let found = self.str("kind")?;
        if found != kind {
            return Err(JsonError::UnknownKind {
                kind: found.to_owned(),
            });
        }
        let _ = self.ctx;
        Ok(())
    }
}

fn parse(text: &str) -> Result<Value, JsonError> {
    serde_json::from_str(text).map_err(|e| JsonError::Syntax {
        line: e.line(),
        column: e.column(),
    })
}

const ROW_FIELDS: [&str; 15] = [
    "version",
    "kind",
    "table",
    "key",
    "row",
    "leaf",
    "path",
    "table_rows",
    "table_index",
    "table_count",
    "table_path",
    "catalog_root",
    // Bound, not trusted: the row decoded for humans (must be exactly the
    // rendering of `row`), and the root and version the prover says it
    // proved against (verifying against another state fails; see
    // `RowProof::verify`). A verifier checks against its own trusted root.
    "values",
    "state_root",
    "at_version",
];

impl RowProof {
    /// The proof as a JSON value (see the module doc); `values` is a
    /// readable rendering of the row, checked against `row` when read back;
    /// `state_root` and `at_version` appear when the proof carries them.
    pub fn to_json_value(&self) -> Result<Value, EncodeError> {
        self.to_bytes()?;
        let values = rendered_values(self.row.as_deref());
        let mut json = json!({
            "version": PROOF_FORMAT_VERSION,
            "kind": "row",
            "table": self.table,
            "key": hex(&self.key),
            "row": self.row.as_deref().map(hex),
            "values": values,
            "leaf": self.trie.leaf.map(|l| json!({
                "key": l.key.to_hex(),
                "version": l.version,
                "content": l.content.to_hex(),
            })),
            "path": self.trie.path.iter().map(|s| json!({
                "depth": s.depth,
                "sibling": s.sibling.to_hex(),
            })).collect::<Vec<_>>(),
            "table_rows": self.table_rows,
            "table_index": self.table_index,
            "table_count": self.table_count,
            "table_path": hashes(&self.table_path),
            "catalog_root": self.catalog_root.to_hex(),
        });
        if let Some(obj) = json.as_object_mut() {
            if let Some(root) = self.claimed_root {
                obj.insert("state_root".into(), root.to_hex().into());
            }
            if let Some(version) = self.claimed_version {
                obj.insert("at_version".into(), version.into());
            }
        }
        Ok(json)
    }

    /// The proof as JSON text.
    pub fn to_json(&self) -> Result<String, EncodeError> {
        Ok(self.to_json_value()?.to_string())
    }

    /// The proof as JSON text naming the state root of the head it was
    /// made at (`state_root`: bound, so the proof fails against any other
    /// root). The version is not written: a root alone cannot confirm it.
    pub fn to_json_at(&self, head: &CommitHead) -> Result<String, EncodeError> {
        let claimed = RowProof {
            claimed_root: Some(head.state_root),
            claimed_version: None,
            ..self.clone()
        };
        Ok(claimed.to_json_value()?.to_string())
    }

    /// Parses a JSON row proof.
    pub fn from_json(text: &str) -> Result<RowProof, JsonError> {
        RowProof::from_json_value(&parse(text)?)
    }

    fn from_json_value(v: &Value) -> Result<RowProof, JsonError> {
        let o = Obj::new(v, "row proof", &ROW_FIELDS)?;
        o.header("row")?;
        let row = match o.get("row")? {
            Value::Null => None,
            Value::String(s) => Some(unhex(s, "row")?),
            _ => return Err(invalid("row")),
        };
        let leaf = match o.get("leaf")? {
            Value::Null => None,
            l => {
                let lo = Obj::new(l, "leaf", &["key", "version", "content"])?;
                Some(TrieLeaf {
                    key: lo.hash("key")?,
                    version: lo.u64("version")?,
                    content: lo.hash("content")?,
                })
            }
        };
        let steps = o.array("path")?;
        if steps.len() > 256 {
            return Err(JsonError::TooManyHashes {
                count: steps.len(),
                max: 256,
            });
        }
        let path = steps
            .iter()
            .map(|s| {
                let so = Obj::new(s, "path step", &["depth", "sibling"])?;
                Ok(TrieStep {
                    depth: u8::try_from(so.u64("depth")?).map_err(|_| invalid("depth"))?,
                    sibling: so.hash("sibling")?,
                })
            })
            .collect::<Result<Vec<_>, JsonError>>()?;
        let claimed_root = match o.map.get("state_root") {
            None => None,
            Some(_) => Some(o.hash("state_root")?),
        };
        let claimed_version = match o.map.get("at_version") {
            None => None,
            Some(_) if claimed_root.is_none() => return Err(invalid("at_version")),
            Some(_) => Some(o.u64("at_version")?),
        };
        // `values` renders `row`, exactly, or is absent.
        if let Some(v) = o.map.get("values") {
            if *v != rendered_values(row.as_deref()) {
                return Err(invalid("values"));
            }
        }
        let p = RowProof {
            claimed_root,
            claimed_version,
            table: o.str("table")?.to_owned(),
            key: unhex(o.str("key")?, "key")?,
            row,
            trie: TrieProof { leaf, path },
            table_rows: o.u64("table_rows")?,
            table_index: o.u64("table_index")?,
            table_count: o.u64("table_count")?,
            table_path: o.hashes("table_path")?,
            catalog_root: o.hash("catalog_root")?,
        };
        // The binary format's limits apply too.
        p.to_bytes().map_err(|_| invalid("row proof"))?;
        Ok(p)
    }
}

fn head_json(h: &CommitHead) -> Value {
    json!({
        "version": h.version,
        "commit_ts": h.commit_ts,
        "state_root": h.state_root.to_hex(),
        "history_root": h.history_root.to_hex(),
    })
}

fn head_from(v: &Value) -> Result<CommitHead, JsonError> {
    let o = Obj::new(
        v,
        "head",
        &["version", "commit_ts", "state_root", "history_root"],
    )?;
    Ok(CommitHead {
        version: o.u64("version")?,
        commit_ts: o.u64("commit_ts")?,
        state_root: o.hash("state_root")?,
        history_root: o.hash("history_root")?,
    })
}

impl CommitHead {
    /// The head as JSON (`cairn root` prints it).
    pub fn to_json(&self) -> String {
        head_json(self).to_string()
    }

    /// Parses [`CommitHead::to_json`].
    pub fn from_json(text: &str) -> Result<CommitHead, JsonError> {
        head_from(&parse(text)?)
    }
}

impl HistoryProof {
    /// The proof as JSON text.
    pub fn to_json(&self) -> Result<String, EncodeError> {
        self.to_bytes()?;
        Ok(json!({
            "version": PROOF_FORMAT_VERSION,
            "kind": "history",
            "old": head_json(&self.old),
            "new": head_json(&self.new),
            "consistency": hashes(&self.consistency.path),
            "old_record": hashes(&self.old_record.path),
            "new_record": hashes(&self.new_record.path),
        })
        .to_string())
    }

    /// Parses a JSON history proof.
    pub fn from_json(text: &str) -> Result<HistoryProof, JsonError> {
        let v = parse(text)?;
        let o = Obj::new(
            &v,
            "history proof",
            &[
                "version",
                "kind",
                "old",
                "new",
                "consistency",
                "old_record",
                "new_record",
            ],
        )?;
        o.header("history")?;
        let old = head_from(o.get("old")?)?;
        let new = head_from(o.get("new")?)?;
        if old.version == 0 || old.version > new.version {
            return Err(JsonError::OldSizeTooLarge {
                old_size: old.version,
                new_size: new.version,
            });
        }
        Ok(HistoryProof::assemble(
            old,
            new,
            o.hashes("consistency")?,
            o.hashes("old_record")?,
            o.hashes("new_record")?,
        ))
    }
}

impl QueryProof {
    /// The proof as JSON text.
    pub fn to_json(&self) -> Result<String, EncodeError> {
        self.to_bytes()?;
        let rows = self
            .rows
            .iter()
            .map(RowProof::to_json_value)
            .collect::<Result<Vec<_>, _>>()?;
        let order = self.order.as_ref().map(|o| {
            json!({
                "column": o.column,
                "metric": o.metric.name(),
                "query": o.query,
                "distances": o.distances,
            })
        });
        Ok(json!({
            "version": PROOF_FORMAT_VERSION,
            "kind": "query",
            "rows": rows,
            "order": order,
        })
        .to_string())
    }

    /// Parses a JSON query proof.
    pub fn from_json(text: &str) -> Result<QueryProof, JsonError> {
        let v = parse(text)?;
        let o = Obj::new(&v, "query proof", &["version", "kind", "rows", "order"])?;
        o.header("query")?;
        let rows = o
            .array("rows")?
            .iter()
            .map(RowProof::from_json_value)
            .collect::<Result<Vec<_>, _>>()?;
        let order = match o.get("order")? {
            Value::Null => None,
            ov => {
                let oo = Obj::new(ov, "order", &["column", "metric", "query", "distances"])?;
                let floats = |name: &'static str| -> Result<Vec<f64>, JsonError> {
                    oo.array(name)?
                        .iter()
                        .map(|x| x.as_f64().ok_or_else(|| invalid(name)))
                        .collect()
                };
                Some(DistanceOrder {
                    column: u32::try_from(oo.u64("column")?).map_err(|_| invalid("column"))?,
                    metric: Metric::from_name(oo.str("metric")?)
                        .ok_or_else(|| invalid("metric"))?,
                    query: floats("query")?.into_iter().map(|x| x as f32).collect(),
                    distances: floats("distances")?,
                })
            }
        };
        let p = QueryProof { rows, order };
        p.to_bytes().map_err(|_| invalid("query proof"))?;
        Ok(p)
    }
}
