//! The one apply path for row versions: a live commit (after validation)
//! and WAL replay both write a commit's rows through
//! [`apply_table_writes`] and then [`after_table_writes`], so a replay bug
//! is a commit bug that the fast in-memory tests catch. (Catalog records
//! have their one path in `catalog.rs`: prepare, then install.)
//!
//! Runs under the store's commit lock and the table's write lock (the
//! caller holds both); takes no lock itself.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use cairn_core::{Error, Result, Value};

use crate::index::IndexJob;
use crate::table::{Table, TableInner, SEGMENT_ROWS_TARGET, TS_OPEN};
use crate::{RowId, Ts};

/// One row written by a commit: its values before and after (what the
/// state trie folds in).
pub(crate) struct RowChange {
    pub(crate) old: Option<Arc<[Value]>>,
    pub(crate) new: Option<Arc<[Value]>>,
}

/// One row of a commit: its new values (`None`: deleted).
pub(crate) struct CommitRow<'a> {
    pub(crate) row: RowId,
    pub(crate) new: Option<&'a Arc<[Value]>>,
    /// For a live commit, whether the row was visible in the transaction's
    /// snapshot (validation made sure it is still current); replay does not
    /// know it and reads it from the table.
    pub(crate) existed: Option<bool>,
}

/// What undoing one applied row write needs: (table, row, the row existed
/// before, a new version was pushed).
pub(crate) type RowUndo = (Arc<Table>, RowId, bool, bool);

/// Applies one table's writes of the commit at `ts`. Returns the row
/// changes for the state trie when `roots`; appends to `undo` (durable
/// stores) what [`TableInner::undo_write`] needs to take them back.
pub(crate) fn apply_table_writes<'a>(
    table: &Arc<Table>,
    inner: &mut TableInner,
    ts: Ts,
    writes: impl Iterator<Item = CommitRow<'a>>,
    roots: bool,
    mut undo: Option<&mut Vec<RowUndo>>,
) -> Result<Vec<RowChange>> {
    let columns = inner.schema.columns.len();
    let auto_increment = inner.schema.auto_increment;
    let mut changes = Vec::new();
    let mut writes_seen = 0u64;
    for w in writes {
        writes_seen += 1;
        if w.new.is_some_and(|v| v.len() > columns) {
            return Err(Error::internal(format!(
                "row {} has more values than {} has columns",
                w.row, inner.schema.name
            )));
        }
        let current = inner
            .head(w.row)
            .filter(|h| h.end.load(Ordering::Acquire) == TS_OPEN)
            .map(|h| h.values.clone());
        debug_assert!(
            w.existed.is_none_or(|e| e == current.is_some()),
            "row {} of {}: the write set and the table disagree on whether it exists",
            w.row,
            inner.schema.name
        );
        if roots {
            changes.push(RowChange {
                old: current.clone(),
                new: w.new.cloned(),
            });
        }
        if current.is_some() {
            inner.end_row(w.row, ts, w.new.map(|v| &v[..]))?;
        } else if w.new.is_none() {
            return Err(Error::internal(format!(
                "deletes row {} of {}, which does not exist",
                w.row, inner.schema.name
            )));
        }
        if let Some(values) = w.new {
            if let Some(Value::Integer(k)) = auto_increment.and_then(|c| values.get(c)) {
                table.observe_auto_key(*k);
            }
            inner.push_version(w.row, values.clone(), ts);
        }
        table.observe_row_id(w.row);
        if let Some(undo) = undo.as_deref_mut() {
            undo.push((table.clone(), w.row, current.is_some(), w.new.is_some()));
        }
    }
    table.note_writes(writes_seen);
    Ok(changes)
}

/// After a table's writes: seals its live segment once full (dropping the
/// versions no snapshot at or after `oldest()` can see) and returns the
/// index jobs now due. `oldest` is asked only when needed (it takes
/// the open-snapshot lock).
pub(crate) fn after_table_writes(
    table: &Arc<Table>,
    inner: &mut TableInner,
    oldest: impl Fn() -> Ts,
) -> Vec<(Arc<Table>, IndexJob)> {
    if inner.live_len() >= SEGMENT_ROWS_TARGET {
        inner.seal(oldest());
    }
    if !inner.indexes.have_jobs() {
        return Vec::new();
    }
    inner
        .jobs_due(oldest())
        .into_iter()
        .map(|job| (table.clone(), job))
        .collect()
}
