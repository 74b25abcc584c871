//! The ordered (B-tree) index: key columns → the row ids that have or
//! had that key. Maintained at commit through [`TableIndex`]; searched
//! by key or range (`scan.rs`, unique checks) through
//! [`super::IndexSlot::as_btree`].
//!
//! Invariant: every stored version of every row is listed under its key
//! (entries are added, never removed; stale ones are filtered by readers,
//! which re-check the key of the version they see). Never takes a lock:
//! its table's lock covers it.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use cairn_core::{ConstraintKind, Error, Result, Value};

use super::{IndexStats, TableIndex, TableView};
use crate::schema::IndexDef;
use crate::{RowId, Ts};

/// Row ids listed under one index key: almost always exactly one, kept
/// inline.
#[derive(Debug, Clone)]
enum Ids {
    One(RowId),
    Many(Vec<RowId>),
}

impl Ids {
    fn as_slice(&self) -> &[RowId] {
        match self {
            Ids::One(r) => std::slice::from_ref(r),
            Ids::Many(v) => v,
        }
    }

    fn add(&mut self, row: RowId) {
        match self {
            Ids::One(r) if *r == row => {}
            Ids::One(r) => {
                *self = Ids::Many(if *r < row {
                    vec![*r, row]
                } else {
                    vec![row, *r]
                })
            }
            // Kept sorted: a lookup is a binary search, and a new largest id
            // (the usual case) is appended without shifting, so a key shared
            // by many rows stays cheap to add to.
            Ids::Many(v) => {
                if let Err(at) = v.binary_search(&row) {
                    v.insert(at, row);
                }
            }
        }
    }
}

/// Keys of a one-column index are stored as the value itself (no heap
/// vector to chase on every comparison); wider keys as vectors.
enum KeyMap {
    Single(BTreeMap<Value, Ids>),
    Multi(BTreeMap<Vec<Value>, Ids>),
}

/// An ordered index: key columns → row ids that have (or had) that key.
/// Search is [`BTreeIndex::get`] and [`BTreeIndex::each_in_range`],
/// reached through [`super::IndexSlot::as_btree`] (no virtual call).
pub(crate) struct BTreeIndex {
    pub(crate) def: IndexDef,
    map: KeyMap,
}

impl BTreeIndex {
    pub(crate) fn new(def: IndexDef) -> BTreeIndex {
        let map = if def.columns.len() == 1 {
            KeyMap::Single(BTreeMap::new())
        } else {
            KeyMap::Multi(BTreeMap::new())
        };
        BTreeIndex { def, map }
    }

    fn add(&mut self, key: Vec<Value>, row: RowId) {
        match &mut self.map {
            KeyMap::Single(m) => {
                let Some(k) = key.into_iter().next() else {
                    return;
                };
                match m.entry(k) {
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(Ids::One(row));
                    }
                    std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().add(row),
                }
            }
            KeyMap::Multi(m) => match m.entry(key) {
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(Ids::One(row));
                }
                std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().add(row),
            },
        }
    }

    /// An index filled from entries in ascending key order (loaded from a
    /// checkpoint). `Err(i)` if entry `i` is out of order, has no row ids,
    /// or a key of the wrong width.
    pub(crate) fn from_sorted(
        def: IndexDef,
        entries: Vec<(Vec<Value>, Vec<RowId>)>,
    ) -> std::result::Result<BTreeIndex, usize> {
        let mut index = BTreeIndex::new(def);
        let width = index.def.columns.len();
        let mut last: Option<Vec<Value>> = None;
        for (i, (key, mut ids)) in entries.into_iter().enumerate() {
            if key.len() != width || ids.is_empty() || last.as_ref().is_some_and(|l| *l >= key) {
                return Err(i);
            }
            ids.sort_unstable();
            ids.dedup();
            let entry = if ids.len() == 1 {
                Ids::One(ids[0])
            } else {
                Ids::Many(ids)
            };
            last = Some(key.clone());
            match &mut index.map {
                KeyMap::Single(m) => {
                    if let Some(k) = key.into_iter().next() {
                        m.insert(k, entry);
                    }
                }
                KeyMap::Multi(m) => {
                    m.insert(key, entry);
                }
            }
        }
        Ok(index)
    }

    /// Row ids listed under exactly `key`.
    pub(crate) fn get(&self, key: &[Value]) -> &[RowId] {
        let ids = match &self.map {
            KeyMap::Single(m) => match key {
                [k] => m.get(k),
                _ => None,
            },
            KeyMap::Multi(m) => m.get(key),
        };
        ids.map_or(&[], Ids::as_slice)
    }

    /// Visits (key, row ids) entries whose key, on its first
    /// `lo.len()`/`hi.len()` columns, lies within the bounds, in key order
    /// (descending when `reverse`). `f` returns `false` to stop.
    pub(crate) fn each_in_range(
        &self,
        lo: Bound<&[Value]>,
        hi: Bound<&[Value]>,
        reverse: bool,
        f: &mut dyn FnMut(&[Value], &[RowId]) -> Result<bool>,
    ) -> Result<bool> {
        // An equality on the whole key is one lookup, not a range walk.
        if let (Bound::Included(a), Bound::Included(b)) = (lo, hi) {
            if a.len() == self.def.columns.len() && a == b {
                let ids = self.get(a);
                return if ids.is_empty() { Ok(true) } else { f(a, ids) };
            }
        }
        match &self.map {
            KeyMap::Single(m) => {
                let start = match lo {
                    Bound::Included(k) | Bound::Excluded(k) => match k.first() {
                        Some(v) => Bound::Included(v),
                        None => Bound::Unbounded,
                    },
                    Bound::Unbounded => Bound::Unbounded,
                };
                // The upper end bounds the range too, so a descending walk
                // (or one resumed below a key) starts at its place.
                let end = match hi {
                    Bound::Included(k) | Bound::Excluded(k) => match k.first() {
                        Some(v) => Bound::Included(v),
                        None => Bound::Unbounded,
                    },
                    Bound::Unbounded => Bound::Unbounded,
                };
                if let (Bound::Included(a), Bound::Included(b)) = (start, end) {
                    if a > b {
                        return Ok(true);
                    }
                }
                let range = m
                    .range::<Value, _>((start, end))
                    .map(|(k, ids)| (std::slice::from_ref(k), ids.as_slice()));
                walk(range, lo, hi, reverse, f)
            }
            KeyMap::Multi(m) => {
                let start: Bound<&[Value]> = match lo {
                    Bound::Included(k) | Bound::Excluded(k) => Bound::Included(k),
                    Bound::Unbounded => Bound::Unbounded,
                };
                // A bound on the whole key bounds the range; a prefix
                // bound does not (longer keys sort after their prefix).
                let width = self.def.columns.len();
                let end: Bound<&[Value]> = match hi {
                    Bound::Included(k) if k.len() == width => Bound::Included(k),
                    Bound::Excluded(k) if k.len() == width => Bound::Excluded(k),
                    _ => Bound::Unbounded,
                };
                let empty = match (start, end) {
                    (Bound::Included(a), Bound::Included(b)) => a > b,
                    (Bound::Included(a), Bound::Excluded(b)) => a >= b,
                    _ => false,
                };
                if empty {
                    return Ok(true);
                }
                let range = m
                    .range::<[Value], _>((start, end))
                    .map(|(k, ids)| (&k[..], ids.as_slice()));
                walk(range, lo, hi, reverse, f)
            }
        }
    }
}

/// Walks index entries from the lower bound's start, in either direction,
/// keeping those within both bounds.
fn walk<'a>(
    range: impl DoubleEndedIterator<Item = (&'a [Value], &'a [RowId])>,
    lo: Bound<&[Value]>,
    hi: Bound<&[Value]>,
    reverse: bool,
    f: &mut dyn FnMut(&[Value], &[RowId]) -> Result<bool>,
) -> Result<bool> {
    use std::cmp::Ordering::*;
    let in_lo = |key: &[Value]| match lo {
        Bound::Included(k) => prefix_cmp(key, k) != Less,
        Bound::Excluded(k) => prefix_cmp(key, k) == Greater,
        Bound::Unbounded => true,
    };
    let in_hi = |key: &[Value]| match hi {
        Bound::Included(k) => prefix_cmp(key, k) != Greater,
        Bound::Excluded(k) => prefix_cmp(key, k) == Less,
        Bound::Unbounded => true,
    };
    if reverse {
        for (key, ids) in range.rev() {
            if !in_hi(key) {
                continue;
            }
            if !in_lo(key) {
                break;
            }
            if !f(key, ids)? {
                return Ok(false);
            }
        }
    } else {
        for (key, ids) in range {
            if !in_lo(key) {
                continue;
            }
            if !in_hi(key) {
                break;
            }
            if !f(key, ids)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Compares the first `bound.len()` columns of `key` with `bound`.
fn prefix_cmp(key: &[Value], bound: &[Value]) -> std::cmp::Ordering {
    let n = bound.len().min(key.len());
    key[..n].cmp(&bound[..n])
}

/// The key `def` takes from the full row `row`.
pub(crate) fn index_key(def: &IndexDef, row: &[Value]) -> Vec<Value> {
    def.columns
        .iter()
        .map(|&c| row.get(c).cloned().unwrap_or(Value::Null))
        .collect()
}

impl BTreeIndex {
    /// Builds an index over every stored version of `table`; a unique
    /// index fails on two current rows with one key.
    pub(crate) fn build(def: IndexDef, table: &dyn TableView) -> Result<BTreeIndex> {
        let mut index = BTreeIndex::new(def);
        let mut seen_live_keys: HashMap<Vec<Value>, RowId> = HashMap::new();
        let mut duplicate = false;
        table.each_version(&mut |v| {
            let key = index_key(&index.def, &v.values);
            if index.def.unique && v.open && !key.iter().any(Value::is_null) {
                if let Some(other) = seen_live_keys.insert(key.clone(), v.row) {
                    if other != v.row {
                        duplicate = true;
                        return false;
                    }
                }
            }
            index.add(key, v.row);
            true
        });
        if duplicate {
            return Err(Error::Constraint {
                kind: ConstraintKind::Unique,
                detail: format!(
                    "cannot create unique index {}: duplicate key",
                    index.def.name
                ),
            });
        }
        Ok(index)
    }
}

impl TableIndex for BTreeIndex {
    fn name(&self) -> &str {
        &self.def.name
    }

    /// Lists the row under the new version's key, unless the previous
    /// version had the same key (then it is listed already).
    fn on_version(&mut self, row: RowId, values: &[Value], prev: Option<&[Value]>, _ts: Ts) {
        let unchanged =
            prev.is_some_and(|p| self.def.columns.iter().all(|&c| p.get(c) == values.get(c)));
        if !unchanged {
            let key = index_key(&self.def, values);
            self.add(key, row);
        }
    }

    /// Nothing: entries stay for every stored version.
    fn on_end(&mut self, _row: RowId, _old: &[Value], _new: Option<&[Value]>, _ts: Ts) {}

    fn check_visible(&self, table: &dyn TableView, ts: Ts, problems: &mut Vec<String>) {
        table.each_visible(ts, &mut |rid, values| {
            if !self.get(&index_key(&self.def, values)).contains(&rid) {
                problems.push(format!("row {rid} is missing from index {}", self.def.name));
            }
            problems.len() < super::PROBLEMS_MAX
        });
    }

    /// Every stored version is listed under its key.
    fn check_stored(&self, table: &dyn TableView, problems: &mut Vec<String>) {
        table.each_version(&mut |v| {
            if !self.get(&index_key(&self.def, &v.values)).contains(&v.row) {
                problems.push(format!(
                    "row {} has a version missing from index {}",
                    v.row, self.def.name
                ));
            }
            problems.len() < super::PROBLEMS_MAX
        });
    }

    fn stats(&self) -> IndexStats {
        let (keys, row_ids) = match &self.map {
            KeyMap::Single(m) => (m.len(), m.values().map(|i| i.as_slice().len()).sum()),
            KeyMap::Multi(m) => (m.len(), m.values().map(|i| i.as_slice().len()).sum()),
        };
        IndexStats::Ordered { keys, row_ids }
    }
}
