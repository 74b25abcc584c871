//! Integration tests of cairn-storage's public API: snapshot isolation,
//! first-committer-wins conflicts, constraints, savepoints, segment sealing
//! with open readers, index scans (ranges, reverse, NULLs, stale entries, own
//! writes, loose scans), ALTER TABLE ADD COLUMN, concurrent writers with a
//! checking reader, snapshots at a given commit (`begin_at`), and
//! model-based property tests of interleaved transactions (also across
//! seals).
//!
//! Tests marked `#[ignore = "bug: ..."]` reproduce known bugs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound::{self, Excluded, Included, Unbounded};
use std::sync::Arc;

use cairn_core::{ConstraintKind, DataType, Error, ErrorKind, Value};
use cairn_storage::{
    ColumnDef, IndexDef, RowId, Savepoint, Store, Table, TableSchema, Transaction,
    SEGMENT_ROWS_TARGET,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

type Row = Vec<Value>;
type State = BTreeMap<RowId, Row>;

const NULL: Value = Value::Null;

fn i(n: i64) -> Value {
    Value::Integer(n)
}

fn s(x: &str) -> Value {
    Value::text(x)
}

fn column(name: &str, data_type: DataType, nullable: bool) -> ColumnDef {
    ColumnDef {
        name: name.to_string(),
        data_type,
        declared_type: data_type.name().to_string(),
        nullable,
        default_sql: None,
        added_default: Value::Null,
    }
}

/// Creates a table; `cols` are (name, type, nullable).
fn create_table(
    store: &Arc<Store>,
    name: &str,
    cols: &[(&str, DataType, bool)],
    primary_key: Option<Vec<usize>>,
) -> Arc<Table> {
    let schema = TableSchema {
        name: name.to_string(),
        columns: cols
            .iter()
            .map(|&(n, t, nullable)| column(n, t, nullable))
            .collect(),
        primary_key,
        checks: vec![],
        auto_increment: None,
        create_sql: format!("CREATE TABLE {name}(...)"),
    };
    store.create_table(schema).expect("create table")
}

/// Creates an index and returns its position in `table.indexes()`.
fn create_index(
    store: &Arc<Store>,
    table: &Arc<Table>,
    name: &str,
    columns: Vec<usize>,
    unique: bool,
) -> usize {
    store
        .create_index(
            &table.name(),
            IndexDef {
                name: name.to_string(),
                columns,
                unique,
                primary: false,
                create_sql: None,
            },
        )
        .expect("create index");
    table
        .indexes()
        .iter()
        .position(|d| d.name == name)
        .expect("index listed")
}

/// All rows the transaction sees, by row id; fails if a row comes out twice.
fn scan_map(tx: &Transaction, t: &Arc<Table>) -> State {
    let mut out = State::new();
    tx.scan(t, &mut |rid, values| {
        assert!(
            out.insert(rid, values.to_vec()).is_none(),
            "scan produced row {rid} twice"
        );
        Ok(true)
    })
    .expect("scan");
    out
}

/// The visible rows' values, sorted.
fn scan_sorted(tx: &Transaction, t: &Arc<Table>) -> Vec<Row> {
    let mut rows: Vec<Row> = scan_map(tx, t).into_values().collect();
    rows.sort();
    rows
}

fn index_rows(
    tx: &Transaction,
    t: &Arc<Table>,
    index_no: usize,
    lo: Bound<&[Value]>,
    hi: Bound<&[Value]>,
    reverse: bool,
) -> Vec<(RowId, Row)> {
    let mut out = Vec::new();
    tx.index_scan_ordered(t, index_no, lo, hi, reverse, &mut |rid, values| {
        out.push((rid, values.to_vec()));
        Ok(true)
    })
    .expect("index scan");
    out
}

/// Values of column `col` of an index scan's rows, in scan order.
fn index_col(
    tx: &Transaction,
    t: &Arc<Table>,
    index_no: usize,
    lo: Bound<&[Value]>,
    hi: Bound<&[Value]>,
    reverse: bool,
    col: usize,
) -> Vec<Value> {
    index_rows(tx, t, index_no, lo, hi, reverse)
        .into_iter()
        .map(|(_, r)| r[col].clone())
        .collect()
}

fn distinct_first(tx: &Transaction, t: &Arc<Table>, index_no: usize) -> Vec<Value> {
    let mut out = Vec::new();
    tx.index_distinct_first(t, index_no, &mut |v| {
        out.push(v.clone());
        Ok(true)
    })
    .expect("index_distinct_first");
    out
}

fn key_of(row: &[Value], cols: &[usize]) -> Vec<Value> {
    cols.iter().map(|&c| row[c].clone()).collect()
}

/// Independent statement of the bound semantics: a key is compared with a
/// bound on the bound's column count.
fn within(key: &[Value], lo: Bound<&[Value]>, hi: Bound<&[Value]>) -> bool {
    let cmp = |b: &[Value]| key[..b.len()].cmp(b);
    use std::cmp::Ordering::*;
    let lo_ok = match lo {
        Included(b) => cmp(b) != Less,
        Excluded(b) => cmp(b) == Greater,
        Unbounded => true,
    };
    let hi_ok = match hi {
        Included(b) => cmp(b) != Greater,
        Excluded(b) => cmp(b) == Less,
        Unbounded => true,
    };
    lo_ok && hi_ok
}

/// Checks an index scan against `expected` (the transaction's whole view):
/// exactly the rows whose key is within the bounds, each once, in key order.
fn assert_index_scan(
    tx: &Transaction,
    t: &Arc<Table>,
    index_no: usize,
    lo: Bound<&[Value]>,
    hi: Bound<&[Value]>,
    reverse: bool,
    expected: &State,
) {
    let cols = t.indexes()[index_no].columns.clone();
    let got = index_rows(tx, t, index_no, lo, hi, reverse);
    for w in got.windows(2) {
        let (a, b) = (key_of(&w[0].1, &cols), key_of(&w[1].1, &cols));
        let ordered = if reverse { a >= b } else { a <= b };
        assert!(
            ordered,
            "index {index_no} scan ({lo:?}, {hi:?}, reverse={reverse}) out of order: {a:?} then {b:?}"
        );
    }
    let mut got_map = State::new();
    for (rid, row) in got {
        assert!(
            got_map.insert(rid, row).is_none(),
            "index {index_no} scan ({lo:?}, {hi:?}, reverse={reverse}) produced row {rid} twice"
        );
    }
    let want: State = expected
        .iter()
        .filter(|(_, r)| within(&key_of(r, &cols), lo, hi))
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    assert_eq!(
        got_map, want,
        "index {index_no} scan ({lo:?}, {hi:?}, reverse={reverse})"
    );
}

fn assert_constraint<T: std::fmt::Debug>(r: Result<T, Error>, want: ConstraintKind) {
    match r {
        Err(Error::Constraint { kind, .. }) => assert_eq!(kind, want),
        other => panic!("expected a {want:?} constraint error, got {other:?}"),
    }
}

fn assert_conflict<T: std::fmt::Debug>(r: Result<T, Error>) {
    match r {
        Err(e) => assert_eq!(e.kind(), ErrorKind::Conflict, "{e:?}"),
        Ok(v) => panic!("expected a conflict, commit succeeded: {v:?}"),
    }
}

/// The row id of the visible row whose column `col` equals `key`.
fn rid_where(tx: &Transaction, t: &Arc<Table>, col: usize, key: &Value) -> RowId {
    let found: Vec<RowId> = scan_map(tx, t)
        .into_iter()
        .filter(|(_, r)| r[col] == *key)
        .map(|(rid, _)| rid)
        .collect();
    assert_eq!(found.len(), 1, "rows with column {col} = {key:?}");
    found[0]
}

/// `t(id INTEGER PRIMARY KEY, v TEXT)` with the given rows committed.
fn kv_table(store: &Arc<Store>, rows: &[(i64, &str)]) -> (Arc<Table>, BTreeMap<i64, RowId>) {
    let t = create_table(
        store,
        "kv",
        &[
            ("id", DataType::Integer, false),
            ("v", DataType::Text, true),
        ],
        Some(vec![0]),
    );
    let mut tx = store.begin();
    let mut rids = BTreeMap::new();
    for &(k, v) in rows {
        rids.insert(k, tx.insert(&t, vec![i(k), s(v)]).expect("insert"));
    }
    store.commit(tx).expect("commit");
    (t, rids)
}

// ---------------------------------------------------------------------------
// (1) snapshot isolation
// ---------------------------------------------------------------------------

#[test]
fn snapshot_sees_start_state_plus_own_writes() {
    let store = Store::new();
    let (t, rids) = kv_table(&store, &[(1, "a"), (2, "b"), (3, "c")]);
    let initial = vec![vec![i(1), s("a")], vec![i(2), s("b")], vec![i(3), s("c")]];

    let mut a = store.begin();
    let mut b = store.begin();
    assert_eq!(a.start_ts(), store.last_committed());

    // b's uncommitted writes are invisible to a; b sees them.
    let b4 = b.insert(&t, vec![i(4), s("d")]).expect("insert");
    b.update(&t, rids[&1], vec![i(1), s("A")]).expect("update");
    b.delete(&t, rids[&2]).expect("delete");
    assert_eq!(scan_sorted(&a, &t), initial);
    assert_eq!(a.get(&t, b4), None);
    assert_eq!(
        scan_sorted(&b, &t),
        vec![vec![i(1), s("A")], vec![i(3), s("c")], vec![i(4), s("d")]]
    );
    assert_eq!(b.get(&t, rids[&2]), None);
    assert_eq!(b.get(&t, rids[&1]), Some(vec![i(1), s("A")]));

    let ts_b = store.commit(b).expect("commit b");
    assert_eq!(ts_b, a.start_ts() + 1);
    assert_eq!(store.last_committed(), ts_b);

    // a still reads its snapshot, by scan, get and index scans.
    assert_eq!(scan_sorted(&a, &t), initial);
    assert_eq!(a.get(&t, rids[&1]), Some(vec![i(1), s("a")]));
    assert_eq!(a.get(&t, rids[&2]), Some(vec![i(2), s("b")]));
    assert_eq!(a.get(&t, b4), None);
    assert_eq!(
        index_col(&a, &t, 0, Unbounded, Unbounded, false, 1),
        vec![s("a"), s("b"), s("c")]
    );
    assert!(index_rows(&a, &t, 0, Included(&[i(4)]), Included(&[i(4)]), false).is_empty());

    // a's own writes are layered over its (old) snapshot.
    let a10 = a.insert(&t, vec![i(10), s("x")]).expect("insert");
    a.update(&t, rids[&3], vec![i(3), s("C")]).expect("update");
    assert_eq!(
        scan_sorted(&a, &t),
        vec![
            vec![i(1), s("a")],
            vec![i(2), s("b")],
            vec![i(3), s("C")],
            vec![i(10), s("x")]
        ]
    );
    assert_eq!(a.get(&t, a10), Some(vec![i(10), s("x")]));

    // A transaction begun after b's commit sees it, but not a's writes.
    let c = store.begin();
    assert_eq!(c.start_ts(), ts_b);
    assert_eq!(
        scan_sorted(&c, &t),
        vec![vec![i(1), s("A")], vec![i(3), s("c")], vec![i(4), s("d")]]
    );
    assert_eq!(c.get(&t, a10), None);

    // a wrote rows b did not touch: it commits; c keeps its snapshot.
    let ts_a = store.commit(a).expect("commit a");
    assert_eq!(ts_a, ts_b + 1);
    assert_eq!(
        scan_sorted(&c, &t),
        vec![vec![i(1), s("A")], vec![i(3), s("c")], vec![i(4), s("d")]]
    );
    let d = store.begin();
    assert_eq!(
        scan_sorted(&d, &t),
        vec![
            vec![i(1), s("A")],
            vec![i(3), s("C")],
            vec![i(4), s("d")],
            vec![i(10), s("x")]
        ]
    );
}

#[test]
fn read_only_and_dropped_transactions_change_nothing() {
    let store = Store::new();
    let (t, rids) = kv_table(&store, &[(1, "a")]);
    let before = store.last_committed();

    // A read-only commit returns its snapshot and does not advance the clock.
    let r = store.begin();
    assert!(!r.has_writes());
    assert_eq!(store.commit(r).expect("commit"), before);
    assert_eq!(store.last_committed(), before);

    // Dropping a transaction discards its writes.
    let mut w = store.begin();
    w.insert(&t, vec![i(2), s("b")]).expect("insert");
    w.update(&t, rids[&1], vec![i(1), s("z")]).expect("update");
    assert!(w.has_writes());
    drop(w);
    assert_eq!(store.last_committed(), before);
    assert_eq!(scan_sorted(&store.begin(), &t), vec![vec![i(1), s("a")]]);

    // Inserting and deleting the same row in one transaction leaves nothing.
    let mut w = store.begin();
    let rid = w.insert(&t, vec![i(5), s("e")]).expect("insert");
    w.delete(&t, rid).expect("delete");
    assert_eq!(w.get(&t, rid), None);
    store.commit(w).expect("commit");
    assert_eq!(scan_sorted(&store.begin(), &t), vec![vec![i(1), s("a")]]);
}

#[test]
fn begin_at_reads_exactly_a_kept_snapshot() {
    let store = Store::new();
    let (t, rids) = kv_table(&store, &[(1, "a")]);
    let first = store.last_committed();
    let old = store.begin();
    let mut w = store.begin();
    w.update(&t, rids[&1], vec![i(1), s("b")]).expect("update");
    let second = store.commit(w).expect("commit");

    // Both kept versions read exactly as they were committed.
    let at_first = store.begin_at(first).expect("kept: `old` holds it");
    assert_eq!(at_first.start_ts(), first);
    assert_eq!(scan_sorted(&at_first, &t), vec![vec![i(1), s("a")]]);
    let at_second = store.begin_at(second).expect("newest");
    assert_eq!(scan_sorted(&at_second, &t), vec![vec![i(1), s("b")]]);

    // Nothing past the newest published commit.
    let err = store.begin_at(second + 1).err().expect("in the future");
    assert_eq!(err.kind(), ErrorKind::Transaction, "{err:?}");

    // A snapshot from begin_at counts as open like begin()'s: with `old`
    // gone, `at_first` alone still keeps `first`.
    drop(old);
    let again = store.begin_at(first).expect("at_first holds it");
    drop((again, at_first));
    // Once none holds it, `first`'s versions may be collected: refused.
    let err = store.begin_at(first).err().expect("no longer kept");
    assert_eq!(err.kind(), ErrorKind::Transaction, "{err:?}");
    drop(at_second);
}

#[test]
fn writes_to_invisible_rows_are_rejected() {
    let store = Store::new();
    let (t, rids) = kv_table(&store, &[(1, "a")]);
    let old = store.begin();
    let mut w = store.begin();
    let new_rid = w.insert(&t, vec![i(2), s("b")]).expect("insert");
    w.delete(&t, rids[&1]).expect("delete");
    // Deleting or updating a row twice deleted is an error, not a silent write.
    assert!(w.delete(&t, rids[&1]).is_err());
    assert!(w.update(&t, rids[&1], vec![i(1), s("x")]).is_err());
    store.commit(w).expect("commit");

    // A row inserted after the snapshot is not there to update or delete.
    let mut old = old;
    assert!(old.update(&t, new_rid, vec![i(2), s("z")]).is_err());
    assert!(old.delete(&t, new_rid).is_err());
    assert!(!old.has_writes());
}

#[test]
fn not_null_primary_key_and_unique_checks() {
    let store = Store::new();
    let t = create_table(
        &store,
        "u",
        &[
            ("id", DataType::Integer, false),
            ("email", DataType::Text, true),
            ("n", DataType::Integer, true),
        ],
        Some(vec![0]),
    );
    let email = create_index(&store, &t, "u_email", vec![1], true);
    assert_eq!(email, 1);
    assert!(t.indexes()[0].primary);

    let mut tx = store.begin();
    let r1 = tx.insert(&t, vec![i(1), s("a@x"), i(0)]).expect("insert");
    let r2 = tx.insert(&t, vec![i(2), NULL, i(0)]).expect("insert");
    // NULLs never collide in a unique index.
    tx.insert(&t, vec![i(3), NULL, i(0)]).expect("insert");
    assert_constraint(
        tx.insert(&t, vec![NULL, s("b@x"), i(0)]),
        ConstraintKind::NotNull,
    );
    // Duplicates among the transaction's own rows.
    assert_constraint(
        tx.insert(&t, vec![i(1), s("c@x"), i(0)]),
        ConstraintKind::PrimaryKey,
    );
    assert_constraint(
        tx.insert(&t, vec![i(4), s("a@x"), i(0)]),
        ConstraintKind::Unique,
    );
    assert_constraint(
        tx.update(&t, r2, vec![i(2), s("a@x"), i(0)]),
        ConstraintKind::Unique,
    );
    // An update keeping its own key is fine.
    tx.update(&t, r1, vec![i(1), s("a@x"), i(7)])
        .expect("update");
    store.commit(tx).expect("commit");

    // Against committed rows.
    let mut tx = store.begin();
    assert_constraint(
        tx.insert(&t, vec![i(1), s("new@x"), i(0)]),
        ConstraintKind::PrimaryKey,
    );
    assert_constraint(
        tx.insert(&t, vec![i(9), s("a@x"), i(0)]),
        ConstraintKind::Unique,
    );
    assert_constraint(
        tx.update(&t, r2, vec![i(1), NULL, i(0)]),
        ConstraintKind::PrimaryKey,
    );
    // A failed statement leaves no write behind.
    assert!(!tx.has_writes());

    // Swapping primary keys through a temporary key within one transaction.
    tx.update(&t, r1, vec![i(100), s("a@x"), i(7)])
        .expect("to temp");
    tx.update(&t, r2, vec![i(1), NULL, i(0)]).expect("2 -> 1");
    tx.update(&t, r1, vec![i(2), s("a@x"), i(7)])
        .expect("temp -> 2");
    // Deleting a row frees its key for a new row in the same transaction.
    let r3 = rid_where(&tx, &t, 0, &i(3));
    tx.delete(&t, r3).expect("delete");
    tx.insert(&t, vec![i(3), s("three@x"), i(3)])
        .expect("reinsert key 3");
    store.commit(tx).expect("commit");

    let r = store.begin();
    assert_eq!(
        index_col(&r, &t, 0, Unbounded, Unbounded, false, 1),
        vec![NULL, s("a@x"), s("three@x")]
    );
    assert_eq!(r.get(&t, r1), Some(vec![i(2), s("a@x"), i(7)]));
    assert_eq!(r.get(&t, r2), Some(vec![i(1), NULL, i(0)]));
    assert_eq!(r.get(&t, r3), None);
}

// ---------------------------------------------------------------------------
// (2) write-write conflicts
// ---------------------------------------------------------------------------

#[test]
fn concurrent_writes_to_one_row_conflict() {
    type Write = fn(&mut Transaction, &Arc<Table>, RowId);
    let upd_x: Write = |tx, t, rid| tx.update(t, rid, vec![i(1), s("x")]).expect("update");
    let upd_y: Write = |tx, t, rid| tx.update(t, rid, vec![i(1), s("y")]).expect("update");
    let del: Write = |tx, t, rid| tx.delete(t, rid).expect("delete");
    let cases: [(&str, Write, Write, Option<&str>); 4] = [
        ("update/update", upd_x, upd_y, Some("x")),
        ("update/delete", upd_x, del, Some("x")),
        ("delete/update", del, upd_y, None),
        ("delete/delete", del, del, None),
    ];
    for (name, first, second, after) in cases {
        let store = Store::new();
        let (t, rids) = kv_table(&store, &[(1, "a"), (2, "b")]);
        let other = create_table(&store, "other", &[("n", DataType::Integer, true)], None);
        let mut a = store.begin();
        let mut b = store.begin();
        first(&mut a, &t, rids[&1]);
        second(&mut b, &t, rids[&1]);
        // b's other writes, to another row and another table, must not land.
        b.update(&t, rids[&2], vec![i(2), s("B")]).expect("update");
        b.insert(&t, vec![i(3), s("c")]).expect("insert");
        b.insert(&other, vec![i(42)]).expect("insert");
        let ts = store.commit(a).expect("first committer wins");
        assert_conflict(store.commit(b));
        assert_eq!(store.last_committed(), ts, "{name}");

        let r = store.begin();
        let mut want = vec![vec![i(2), s("b")]];
        if let Some(v) = after {
            want.insert(0, vec![i(1), s(v)]);
        }
        assert_eq!(scan_sorted(&r, &t), want, "{name}");
        assert!(scan_sorted(&r, &other).is_empty(), "{name}");

        // A retry from a fresh snapshot succeeds.
        let mut retry = store.begin();
        retry
            .update(&t, rids[&2], vec![i(2), s("B")])
            .expect("update");
        store.commit(retry).expect("retry commits");
    }
}

#[test]
fn disjoint_writers_both_commit() {
    let store = Store::new();
    let (t, rids) = kv_table(&store, &[(1, "a"), (2, "b")]);
    let mut a = store.begin();
    let mut b = store.begin();
    a.update(&t, rids[&1], vec![i(1), s("A")]).expect("update");
    b.update(&t, rids[&2], vec![i(2), s("B")]).expect("update");
    b.insert(&t, vec![i(3), s("C")]).expect("insert");
    store.commit(b).expect("commit b");
    store.commit(a).expect("commit a");
    assert_eq!(
        scan_sorted(&store.begin(), &t),
        vec![vec![i(1), s("A")], vec![i(2), s("B")], vec![i(3), s("C")]]
    );
}

#[test]
fn concurrent_inserts_of_one_unique_key_conflict() {
    let store = Store::new();
    let t = create_table(
        &store,
        "u",
        &[
            ("id", DataType::Integer, false),
            ("code", DataType::Text, true),
        ],
        Some(vec![0]),
    );
    create_index(&store, &t, "u_code", vec![1], true);

    // Same primary key.
    let mut a = store.begin();
    let mut b = store.begin();
    a.insert(&t, vec![i(1), s("a")]).expect("insert");
    b.insert(&t, vec![i(1), s("b")]).expect("insert");
    store.commit(a).expect("commit a");
    assert_conflict(store.commit(b));

    // Same secondary unique key; NULL codes never collide.
    let mut a = store.begin();
    let mut b = store.begin();
    a.insert(&t, vec![i(2), s("k")]).expect("insert");
    a.insert(&t, vec![i(3), NULL]).expect("insert");
    b.insert(&t, vec![i(4), NULL]).expect("insert");
    b.insert(&t, vec![i(5), s("k")]).expect("insert");
    store.commit(a).expect("commit a");
    assert_conflict(store.commit(b));

    // Only NULLs: no conflict.
    let mut a = store.begin();
    let mut b = store.begin();
    a.insert(&t, vec![i(6), NULL]).expect("insert");
    b.insert(&t, vec![i(7), NULL]).expect("insert");
    store.commit(a).expect("commit a");
    store.commit(b).expect("commit b");

    // A key moved onto by an update conflicts with a concurrent insert of it.
    let r1 = rid_where(&store.begin(), &t, 0, &i(1));
    let mut a = store.begin();
    let mut b = store.begin();
    a.update(&t, r1, vec![i(1), s("moved")]).expect("update");
    b.insert(&t, vec![i(8), s("moved")]).expect("insert");
    store.commit(a).expect("commit a");
    assert_conflict(store.commit(b));

    let r = store.begin();
    assert_eq!(
        scan_sorted(&r, &t),
        vec![
            vec![i(1), s("moved")],
            vec![i(2), s("k")],
            vec![i(3), NULL],
            vec![i(6), NULL],
            vec![i(7), NULL],
        ]
    );
}

// ---------------------------------------------------------------------------
// (3) savepoints
// ---------------------------------------------------------------------------

#[test]
fn rollback_to_undoes_exactly_later_writes() {
    let store = Store::new();
    let (t, rids) = kv_table(&store, &[(1, "a"), (2, "b"), (3, "c")]);
    let mut tx = store.begin();
    let r10 = tx.insert(&t, vec![i(10), s("ten")]).expect("insert");
    tx.update(&t, rids[&1], vec![i(1), s("A")]).expect("update");
    let sp1 = tx.savepoint();
    let r11 = tx.insert(&t, vec![i(11), s("eleven")]).expect("insert");
    tx.update(&t, r10, vec![i(10), s("TEN")]).expect("update");
    tx.update(&t, rids[&1], vec![i(1), s("AA")])
        .expect("update");
    tx.delete(&t, rids[&2]).expect("delete");
    let sp2 = tx.savepoint();
    tx.delete(&t, rids[&3]).expect("delete");
    tx.insert(&t, vec![i(12), s("twelve")]).expect("insert");

    tx.rollback_to(sp2);
    assert_eq!(
        scan_sorted(&tx, &t),
        vec![
            vec![i(1), s("AA")],
            vec![i(3), s("c")],
            vec![i(10), s("TEN")],
            vec![i(11), s("eleven")],
        ]
    );
    tx.rollback_to(sp1);
    let want = vec![
        vec![i(1), s("A")],
        vec![i(2), s("b")],
        vec![i(3), s("c")],
        vec![i(10), s("ten")],
    ];
    assert_eq!(scan_sorted(&tx, &t), want);
    assert_eq!(tx.get(&t, r11), None);
    assert_eq!(
        index_col(&tx, &t, 0, Unbounded, Unbounded, false, 1),
        vec![s("A"), s("b"), s("c"), s("ten")]
    );
    // Rolling back to the same savepoint again is a no-op.
    tx.rollback_to(sp1);
    assert_eq!(scan_sorted(&tx, &t), want);
    store.commit(tx).expect("commit");
    assert_eq!(scan_sorted(&store.begin(), &t), want);
}

#[test]
fn rollback_to_restores_unique_key_bookkeeping() {
    let store = Store::new();
    let (t, rids) = kv_table(&store, &[(1, "a")]);
    let mut tx = store.begin();

    // Rolled-back insert of K: K can be inserted again.
    let sp = tx.savepoint();
    tx.insert(&t, vec![i(5), s("first")]).expect("insert");
    assert_constraint(
        tx.insert(&t, vec![i(5), s("dup")]),
        ConstraintKind::PrimaryKey,
    );
    tx.rollback_to(sp);
    let r5 = tx.insert(&t, vec![i(5), s("second")]).expect("reinsert");

    // Rolled-back key change of an own row: the old key is taken again, the
    // new one is free.
    let sp = tx.savepoint();
    tx.update(&t, r5, vec![i(6), s("second")]).expect("update");
    tx.insert(&t, vec![i(5), s("takes 5")])
        .expect("5 is free now");
    tx.rollback_to(sp);
    assert_constraint(
        tx.insert(&t, vec![i(5), s("dup")]),
        ConstraintKind::PrimaryKey,
    );
    tx.insert(&t, vec![i(6), s("six")]).expect("6 is free");

    // Rolled-back delete of a committed row plus reuse of its key.
    let sp = tx.savepoint();
    tx.delete(&t, rids[&1]).expect("delete");
    tx.insert(&t, vec![i(1), s("replacement")]).expect("insert");
    tx.rollback_to(sp);
    assert_constraint(
        tx.insert(&t, vec![i(1), s("dup")]),
        ConstraintKind::PrimaryKey,
    );
    assert_eq!(tx.get(&t, rids[&1]), Some(vec![i(1), s("a")]));

    // Rolled-back key change of a committed row.
    let sp = tx.savepoint();
    tx.update(&t, rids[&1], vec![i(7), s("a")]).expect("update");
    tx.rollback_to(sp);
    assert_constraint(
        tx.insert(&t, vec![i(1), s("dup")]),
        ConstraintKind::PrimaryKey,
    );
    tx.insert(&t, vec![i(7), s("seven")]).expect("7 is free");

    // Writing a row again after its first write was rolled back: it comes
    // out once, and commits once.
    tx.update(&t, rids[&1], vec![i(1), s("a again")])
        .expect("update");
    assert_eq!(
        scan_map(&tx, &t).get(&rids[&1]),
        Some(&vec![i(1), s("a again")])
    );
    assert_index_scan(&tx, &t, 0, Unbounded, Unbounded, false, &scan_map(&tx, &t));

    store.commit(tx).expect("commit");
    assert_eq!(
        scan_sorted(&store.begin(), &t),
        vec![
            vec![i(1), s("a again")],
            vec![i(5), s("second")],
            vec![i(6), s("six")],
            vec![i(7), s("seven")],
        ]
    );
}

#[test]
fn rolled_back_writes_do_not_conflict() {
    let store = Store::new();
    let (t, rids) = kv_table(&store, &[(1, "a"), (2, "b")]);
    let mut a = store.begin();
    let mut b = store.begin();
    let sp = a.savepoint();
    a.update(&t, rids[&1], vec![i(1), s("A")]).expect("update");
    a.rollback_to(sp);
    assert!(!a.has_writes());
    a.update(&t, rids[&2], vec![i(2), s("B")]).expect("update");
    b.update(&t, rids[&1], vec![i(1), s("b's")])
        .expect("update");
    store.commit(b).expect("commit b");
    store.commit(a).expect("a no longer writes row 1");
    assert_eq!(
        scan_sorted(&store.begin(), &t),
        vec![vec![i(1), s("b's")], vec![i(2), s("B")]]
    );

    // Rolling back everything: the commit is read-only.
    let mut c = store.begin();
    let sp = c.savepoint();
    c.insert(&t, vec![i(3), s("c")]).expect("insert");
    c.rollback_to(sp);
    let last = store.last_committed();
    assert_eq!(store.commit(c).expect("commit"), last);
    assert_eq!(store.last_committed(), last);
}

// ---------------------------------------------------------------------------
// (4) sealing
// ---------------------------------------------------------------------------

/// Checks everything a reader sees of the `big` table against `want`
/// (keyed by id): scan, get, primary-key index order and ranges, and the
/// `grp` index.
fn check_big(tx: &Transaction, t: &Arc<Table>, grp_ix: usize, want: &BTreeMap<i64, (RowId, Row)>) {
    let by_rid: State = want.values().cloned().collect();
    assert_eq!(scan_map(tx, t), by_rid, "scan");
    let pk_order: Vec<Row> = index_rows(tx, t, 0, Unbounded, Unbounded, false)
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let want_order: Vec<Row> = want.values().map(|(_, r)| r.clone()).collect();
    assert!(pk_order == want_order, "primary key index order");
    let mut rev: Vec<Row> = index_rows(tx, t, 0, Unbounded, Unbounded, true)
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    rev.reverse();
    assert!(rev == want_order, "primary key index reverse order");
    for (lo, hi) in [(i(5), i(40)), (i(990), i(1010)), (i(16_380), i(16_390))] {
        assert_index_scan(
            tx,
            t,
            0,
            Included(std::slice::from_ref(&lo)),
            Excluded(std::slice::from_ref(&hi)),
            false,
            &by_rid,
        );
        assert_index_scan(tx, t, 0, Excluded(&[lo]), Included(&[hi]), true, &by_rid);
    }
    for g in [i(0), i(5), i(96), i(1000)] {
        assert_index_scan(
            tx,
            t,
            grp_ix,
            Included(std::slice::from_ref(&g)),
            Included(std::slice::from_ref(&g)),
            false,
            &by_rid,
        );
    }
    assert_index_scan(tx, t, grp_ix, Included(&[i(90)]), Unbounded, true, &by_rid);
    let distinct: BTreeSet<Value> = want.values().map(|(_, r)| r[1].clone()).collect();
    assert_eq!(
        distinct_first(tx, t, grp_ix),
        distinct.into_iter().collect::<Vec<_>>()
    );
    for (rid, row) in want.values().step_by(97) {
        assert_eq!(tx.get(t, *rid).as_ref(), Some(row));
    }
}

#[test]
fn sealing_keeps_snapshots_and_version_chains() {
    const N: i64 = 20_000;
    const BATCH: i64 = 1_000;
    let store = Store::new();
    let t = create_table(
        &store,
        "big",
        &[
            ("id", DataType::Integer, false),
            ("grp", DataType::Integer, true),
            ("v", DataType::Text, true),
        ],
        Some(vec![0]),
    );
    let grp_ix = create_index(&store, &t, "big_grp", vec![1], false);
    let original = |id: i64| vec![i(id), i(id % 97), s(&format!("v{id}"))];
    // Model: id -> (row id, row) per interesting snapshot.
    let mut model: BTreeMap<i64, (RowId, Row)> = BTreeMap::new();

    let insert_batch = |lo: i64, hi: i64, model: &mut BTreeMap<i64, (RowId, Row)>| {
        let mut tx = store.begin();
        for id in lo..hi {
            let rid = tx.insert(&t, original(id)).expect("insert");
            model.insert(id, (rid, original(id)));
        }
        store.commit(tx).expect("commit batch");
    };
    insert_batch(0, BATCH, &mut model);
    let first_batch = model.clone();
    let old = store.begin();
    for b in 1..N / BATCH {
        insert_batch(b * BATCH, (b + 1) * BATCH, &mut model);
    }
    // A commit seals the live segment once it holds SEGMENT_ROWS_TARGET
    // versions; nothing was ended, so nothing was dropped.
    let (mut want_sealed, mut want_live) = (0, 0);
    for _ in 0..N / BATCH {
        want_live += BATCH as usize;
        if want_live >= SEGMENT_ROWS_TARGET {
            want_sealed += 1;
            want_live = 0;
        }
    }
    assert!(want_sealed >= 1, "N is large enough to seal");
    assert_eq!(t.segment_stats(), (want_sealed, want_live));

    check_big(&old, &t, grp_ix, &first_batch);
    let all_original = model.clone();
    check_big(&store.begin(), &t, grp_ix, &all_original);

    // Update and delete rows stored in the sealed segment (and one live row)
    // while `old` and `mid` are open.
    let mid = store.begin();
    let mut tx = store.begin();
    for id in [10, 20, 16_000] {
        let (rid, _) = model[&id];
        let row = vec![i(id), i(1000 + id), s("second")];
        tx.update(&t, rid, row.clone()).expect("update");
        model.insert(id, (rid, row));
    }
    for id in [30, 16_001, N - 1] {
        let (rid, _) = model.remove(&id).expect("present");
        tx.delete(&t, rid).expect("delete");
    }
    store.commit(tx).expect("commit updates");
    let second = model.clone();
    check_big(&old, &t, grp_ix, &first_batch);
    check_big(&mid, &t, grp_ix, &all_original);
    check_big(&store.begin(), &t, grp_ix, &second);

    // Churn enough versions to seal again with both readers open: every row
    // from 1000 up gets a new version, so the second segment holds new
    // versions whose predecessors are in the first.
    let mid2 = store.begin();
    let seals = t.segment_stats().0;
    let churn = |lo: i64, hi: i64, tag: &str, model: &mut BTreeMap<i64, (RowId, Row)>| {
        let mut tx = store.begin();
        for id in lo..hi {
            let Some((rid, row)) = model.get(&id).cloned() else {
                continue;
            };
            let mut new = row;
            new[2] = s(&format!("{tag}{id}"));
            tx.update(&t, rid, new.clone()).expect("update");
            model.insert(id, (rid, new));
        }
        store.commit(tx).expect("commit churn");
    };
    for lo in (BATCH..N).step_by(5_000) {
        churn(lo, (lo + 5_000).min(N), "c", &mut model);
    }
    assert!(t.segment_stats().0 > seals, "sealed again");
    // A third version of row 10 (in the live segment), chained to the second
    // (second segment), chained to the first (first segment).
    let mut tx = store.begin();
    let (rid10, _) = model[&10];
    let third = vec![i(10), i(7), s("third")];
    tx.update(&t, rid10, third.clone()).expect("update");
    model.insert(10, (rid10, third.clone()));
    store.commit(tx).expect("commit");

    check_big(&old, &t, grp_ix, &first_batch);
    check_big(&mid, &t, grp_ix, &all_original);
    check_big(&mid2, &t, grp_ix, &second);
    let newest = store.begin();
    check_big(&newest, &t, grp_ix, &model);
    assert_eq!(old.get(&t, rid10), Some(original(10)));
    assert_eq!(mid2.get(&t, rid10), Some(vec![i(10), i(1010), s("second")]));
    assert_eq!(newest.get(&t, rid10), Some(third));
    // Under each of row 10's keys in the grp index, only the matching reader
    // finds it.
    for (reader, grp, hit) in [
        (&old, 10, true),
        (&old, 1010, false),
        (&mid2, 1010, true),
        (&mid2, 7, false),
        (&newest, 7, true),
        (&newest, 10, false),
    ] {
        let found = index_rows(
            reader,
            &t,
            grp_ix,
            Included(&[i(grp)]),
            Included(&[i(grp)]),
            false,
        )
        .iter()
        .any(|(rid, _)| *rid == rid10);
        assert_eq!(found, hit, "grp {grp}");
    }

    // Conflicts are still detected against heads in sealed segments.
    let mut late = store.begin();
    let mut stale = mid2;
    let (rid20, _) = model[&20];
    late.update(&t, rid20, vec![i(20), i(0), s("late")])
        .expect("update");
    store.commit(late).expect("commit");
    stale
        .update(&t, rid20, vec![i(20), i(0), s("stale")])
        .expect("update");
    assert_conflict(store.commit(stale));
    model.insert(20, (rid20, vec![i(20), i(0), s("late")]));

    // With the old readers gone, a seal drops versions nobody can see; what
    // a new reader sees is unaffected.
    drop(old);
    drop(mid);
    drop(newest);
    let before_seal = store.begin();
    let snapshot_before_seal = model.clone();
    let seals = t.segment_stats().0;
    for lo in (0..N).step_by(5_000) {
        churn(lo, (lo + 5_000).min(N), "d", &mut model);
    }
    assert!(t.segment_stats().0 > seals, "sealed again");
    check_big(&before_seal, &t, grp_ix, &snapshot_before_seal);
    check_big(&store.begin(), &t, grp_ix, &model);
}

// ---------------------------------------------------------------------------
// (5) index scans
// ---------------------------------------------------------------------------

/// `n(id INTEGER PRIMARY KEY, v INTEGER NULL, w TEXT)` with an index on v.
fn nullable_table(store: &Arc<Store>, vs: &[Option<i64>]) -> (Arc<Table>, usize, State) {
    let t = create_table(
        store,
        "n",
        &[
            ("id", DataType::Integer, false),
            ("v", DataType::Integer, true),
            ("w", DataType::Text, true),
        ],
        Some(vec![0]),
    );
    let ix = create_index(store, &t, "n_v", vec![1], false);
    let mut tx = store.begin();
    let mut state = State::new();
    for (id, v) in vs.iter().enumerate() {
        let row = vec![i(id as i64), v.map_or(NULL, i), s(&format!("w{id}"))];
        state.insert(tx.insert(&t, row.clone()).expect("insert"), row);
    }
    store.commit(tx).expect("commit");
    (t, ix, state)
}

fn bound_variants(k: &[Value]) -> [Bound<&[Value]>; 3] {
    [Included(k), Excluded(k), Unbounded]
}

#[test]
fn one_column_index_ranges_reverse_and_nulls() {
    let store = Store::new();
    let vs = [
        Some(3),
        None,
        Some(1),
        Some(2),
        Some(2),
        Some(5),
        None,
        Some(-4),
    ];
    let (t, ix, state) = nullable_table(&store, &vs);
    let tx = store.begin();

    // NULL sorts first; duplicates both come out.
    assert_eq!(
        index_col(&tx, &t, ix, Unbounded, Unbounded, false, 1),
        vec![NULL, NULL, i(-4), i(1), i(2), i(2), i(3), i(5)]
    );
    assert_eq!(
        index_col(&tx, &t, ix, Unbounded, Unbounded, true, 1),
        vec![i(5), i(3), i(2), i(2), i(1), i(-4), NULL, NULL]
    );
    assert_eq!(
        index_col(&tx, &t, ix, Included(&[i(2)]), Included(&[i(3)]), false, 1),
        vec![i(2), i(2), i(3)]
    );
    assert_eq!(
        index_col(&tx, &t, ix, Excluded(&[i(2)]), Unbounded, false, 1),
        vec![i(3), i(5)]
    );
    assert_eq!(
        index_col(&tx, &t, ix, Unbounded, Excluded(&[i(2)]), true, 1),
        vec![i(1), i(-4), NULL, NULL]
    );
    assert_eq!(
        index_col(&tx, &t, ix, Excluded(&[NULL]), Excluded(&[i(2)]), false, 1),
        vec![i(-4), i(1)]
    );
    let mut nulls = index_col(&tx, &t, ix, Included(&[NULL]), Included(&[NULL]), false, 2);
    nulls.sort();
    assert_eq!(nulls, vec![s("w1"), s("w6")]);
    assert!(index_rows(&tx, &t, ix, Included(&[i(4)]), Included(&[i(4)]), false).is_empty());
    assert!(index_rows(&tx, &t, ix, Excluded(&[i(3)]), Excluded(&[i(5)]), false).is_empty());
    assert!(index_rows(&tx, &t, ix, Included(&[i(9)]), Included(&[i(1)]), false).is_empty());

    // Every combination of bound kinds and keys, both directions.
    let keys = [NULL, i(-10), i(-4), i(0), i(1), i(2), i(3), i(5), i(6)];
    for a in &keys {
        for b in &keys {
            let (a, b) = (std::slice::from_ref(a), std::slice::from_ref(b));
            for lo in bound_variants(a) {
                for hi in bound_variants(b) {
                    for reverse in [false, true] {
                        assert_index_scan(&tx, &t, ix, lo, hi, reverse, &state);
                        assert_index_scan(&tx, &t, 0, lo, hi, reverse, &state);
                    }
                }
            }
        }
    }

    // Early stop.
    let mut seen = 0;
    tx.index_scan(&t, ix, Unbounded, Unbounded, &mut |_, _| {
        seen += 1;
        Ok(seen < 3)
    })
    .expect("scan");
    assert_eq!(seen, 3);
    let mut seen = 0;
    tx.scan(&t, &mut |_, _| {
        seen += 1;
        Ok(false)
    })
    .expect("scan");
    assert_eq!(seen, 1);
    // A missing index is an error, not a panic.
    assert!(tx
        .index_scan(&t, 9, Unbounded, Unbounded, &mut |_, _| Ok(true))
        .is_err());
}

#[test]
fn two_column_index_prefix_and_full_bounds() {
    let store = Store::new();
    let t = create_table(
        &store,
        "m",
        &[
            ("id", DataType::Integer, false),
            ("a", DataType::Integer, true),
            ("b", DataType::Text, true),
        ],
        Some(vec![0]),
    );
    let ix = create_index(&store, &t, "m_ab", vec![1, 2], false);
    let pairs: Vec<(Value, Value)> = vec![
        (i(1), s("x")),
        (i(2), s("a")),
        (i(2), s("m")),
        (i(2), NULL),
        (i(2), s("m")),
        (i(2), s("z")),
        (i(3), s("b")),
        (NULL, s("q")),
        (NULL, NULL),
        (i(4), s("a")),
    ];
    let mut tx = store.begin();
    let mut state = State::new();
    for (id, (a, b)) in pairs.iter().enumerate() {
        let row = vec![i(id as i64), a.clone(), b.clone()];
        state.insert(tx.insert(&t, row.clone()).expect("insert"), row);
    }
    store.commit(tx).expect("commit");
    let tx = store.begin();
    fn pairs_of(rows: Vec<(RowId, Row)>) -> Vec<(Value, Value)> {
        rows.into_iter()
            .map(|(_, r)| (r[1].clone(), r[2].clone()))
            .collect()
    }
    let ab = |lo: Bound<&[Value]>, hi: Bound<&[Value]>, reverse: bool| {
        pairs_of(index_rows(&tx, &t, ix, lo, hi, reverse))
    };

    // Prefix equality on the first column.
    assert_eq!(
        ab(Included(&[i(2)]), Included(&[i(2)]), false),
        vec![
            (i(2), NULL),
            (i(2), s("a")),
            (i(2), s("m")),
            (i(2), s("m")),
            (i(2), s("z"))
        ]
    );
    // Full-key equality.
    assert_eq!(
        ab(Included(&[i(2), s("m")]), Included(&[i(2), s("m")]), false),
        vec![(i(2), s("m")), (i(2), s("m"))]
    );
    // Mixed lengths: (2, 'm') < key < 3 on the first column.
    assert_eq!(
        ab(Excluded(&[i(2), s("m")]), Excluded(&[i(3)]), false),
        vec![(i(2), s("z"))]
    );
    assert_eq!(
        ab(Included(&[i(2), s("m")]), Included(&[i(3)]), true),
        vec![
            (i(3), s("b")),
            (i(2), s("z")),
            (i(2), s("m")),
            (i(2), s("m"))
        ]
    );
    assert_eq!(
        ab(Excluded(&[i(2)]), Unbounded, false),
        vec![(i(3), s("b")), (i(4), s("a"))]
    );
    assert_eq!(
        ab(Unbounded, Excluded(&[i(2)]), true),
        vec![(i(1), s("x")), (NULL, s("q")), (NULL, NULL)]
    );
    assert_eq!(
        ab(Included(&[NULL]), Included(&[NULL]), false),
        vec![(NULL, NULL), (NULL, s("q"))]
    );

    let keys: Vec<Vec<Value>> = vec![
        vec![],
        vec![NULL],
        vec![i(2)],
        vec![i(5)],
        vec![i(2), NULL],
        vec![i(2), s("m")],
        vec![i(2), s("n")],
        vec![i(3), s("b")],
        vec![NULL, s("q")],
    ];
    for a in &keys {
        for b in &keys {
            for lo in bound_variants(a) {
                for hi in bound_variants(b) {
                    for reverse in [false, true] {
                        assert_index_scan(&tx, &t, ix, lo, hi, reverse, &state);
                    }
                }
            }
        }
    }
}

#[test]
fn changed_keys_come_out_once_under_the_visible_key() {
    let store = Store::new();
    let (t, ix, mut state) = nullable_table(&store, &[Some(1), Some(2), Some(3)]);
    let r0 = *state.keys().next().expect("row");
    let mut snaps = vec![(store.begin(), state.clone())];
    // Move row 0's key 1 -> 9 -> NULL -> 1 -> 2 across commits, with a
    // reader at every step; also move row 2's key in the primary key index.
    let path = [Some(9), None, Some(1), Some(2)];
    for (step, v) in path.into_iter().enumerate() {
        let mut tx = store.begin();
        let row = vec![i(0), v.map_or(NULL, i), s(&format!("step{step}"))];
        tx.update(&t, r0, row.clone()).expect("update");
        state.insert(r0, row);
        if step == 1 {
            let r2 = rid_where(&tx, &t, 0, &i(2));
            let row = vec![i(20), i(3), s("moved pk")];
            tx.update(&t, r2, row.clone()).expect("update");
            state.insert(r2, row);
        }
        store.commit(tx).expect("commit");
        snaps.push((store.begin(), state.clone()));
    }
    for (tx, want) in &snaps {
        for index_no in [0, ix] {
            for reverse in [false, true] {
                assert_index_scan(tx, &t, index_no, Unbounded, Unbounded, reverse, want);
            }
            for k in [NULL, i(0), i(1), i(2), i(3), i(9), i(20)] {
                let k = std::slice::from_ref(&k);
                assert_index_scan(tx, &t, index_no, Included(k), Included(k), false, want);
                assert_index_scan(tx, &t, index_no, Excluded(k), Unbounded, true, want);
            }
        }
        let distinct: BTreeSet<Value> = want.values().map(|r| r[1].clone()).collect();
        assert_eq!(
            distinct_first(tx, &t, ix),
            distinct.into_iter().collect::<Vec<_>>()
        );
    }
}

#[test]
fn own_writes_merge_into_index_scans_in_key_order() {
    let store = Store::new();
    let (t, ix, committed) =
        nullable_table(&store, &[Some(10), Some(20), Some(30), Some(40), None]);
    let rid_of = |v: i64| *committed.iter().find(|(_, r)| r[1] == i(v)).expect("row").0;
    let other = store.begin();
    let mut tx = store.begin();
    let mut view = committed.clone();
    let put = |tx: &mut Transaction, view: &mut State, rid: Option<RowId>, row: Row| {
        let rid = match rid {
            Some(rid) => {
                tx.update(&t, rid, row.clone()).expect("update");
                rid
            }
            None => tx.insert(&t, row.clone()).expect("insert"),
        };
        view.insert(rid, row);
    };
    put(&mut tx, &mut view, None, vec![i(100), i(25), s("ins25")]);
    put(&mut tx, &mut view, None, vec![i(101), i(5), s("ins5")]);
    put(&mut tx, &mut view, None, vec![i(102), i(45), s("ins45")]);
    put(&mut tx, &mut view, None, vec![i(103), i(20), s("dup20")]);
    put(&mut tx, &mut view, None, vec![i(104), NULL, s("null")]);
    put(
        &mut tx,
        &mut view,
        Some(rid_of(30)),
        vec![i(2), i(35), s("30->35")],
    );
    put(
        &mut tx,
        &mut view,
        Some(rid_of(10)),
        vec![i(0), i(10), s("10 kept")],
    );
    let r40 = rid_of(40);
    tx.delete(&t, r40).expect("delete");
    view.remove(&r40);
    // Updated twice: only the latest value counts.
    put(&mut tx, &mut view, None, vec![i(105), i(1), s("tmp")]);
    let r105 = rid_where(&tx, &t, 0, &i(105));
    put(
        &mut tx,
        &mut view,
        Some(r105),
        vec![i(105), i(50), s("ins50")],
    );

    assert_eq!(
        index_col(&tx, &t, ix, Unbounded, Unbounded, false, 1),
        vec![
            NULL,
            NULL,
            i(5),
            i(10),
            i(20),
            i(20),
            i(25),
            i(35),
            i(45),
            i(50)
        ]
    );
    assert_eq!(
        index_col(&tx, &t, ix, Included(&[i(10)]), Excluded(&[i(40)]), true, 1),
        vec![i(35), i(25), i(20), i(20), i(10)]
    );
    let keys = [
        NULL,
        i(0),
        i(5),
        i(10),
        i(20),
        i(30),
        i(35),
        i(40),
        i(50),
        i(60),
    ];
    for a in &keys {
        for b in &keys {
            let (a, b) = (std::slice::from_ref(a), std::slice::from_ref(b));
            for lo in bound_variants(a) {
                for hi in bound_variants(b) {
                    for reverse in [false, true] {
                        assert_index_scan(&tx, &t, ix, lo, hi, reverse, &view);
                    }
                }
            }
        }
    }
    for reverse in [false, true] {
        assert_index_scan(&tx, &t, 0, Unbounded, Unbounded, reverse, &view);
    }
    // Early stop inside the own-writes tail.
    let mut got = Vec::new();
    tx.index_scan(&t, ix, Included(&[i(36)]), Unbounded, &mut |_, r| {
        got.push(r[1].clone());
        Ok(false)
    })
    .expect("scan");
    assert_eq!(got, vec![i(45)]);
    // Another transaction sees none of it.
    assert_index_scan(&other, &t, ix, Unbounded, Unbounded, false, &committed);

    store.commit(tx).expect("commit");
    let after = store.begin();
    assert_index_scan(&after, &t, ix, Unbounded, Unbounded, false, &view);
    assert_index_scan(&after, &t, ix, Unbounded, Unbounded, true, &view);
}

#[test]
fn distinct_first_with_nulls_deletions_and_own_writes() {
    let store = Store::new();
    let (t, ix, state) = nullable_table(&store, &[None, Some(1), None, Some(1), Some(3), Some(7)]);
    let rids: Vec<RowId> = state.keys().copied().collect();
    let old = store.begin();
    assert_eq!(distinct_first(&old, &t, ix), vec![NULL, i(1), i(3), i(7)]);

    // Delete both 1s and one NULL; move 7 -> 8.
    let mut tx = store.begin();
    tx.delete(&t, rids[1]).expect("delete");
    tx.delete(&t, rids[3]).expect("delete");
    tx.delete(&t, rids[0]).expect("delete");
    tx.update(&t, rids[5], vec![i(5), i(8), s("w5")])
        .expect("update");
    // Uncommitted: visible to tx only.
    assert_eq!(distinct_first(&tx, &t, ix), vec![NULL, i(3), i(8)]);
    assert_eq!(distinct_first(&old, &t, ix), vec![NULL, i(1), i(3), i(7)]);
    store.commit(tx).expect("commit");
    assert_eq!(distinct_first(&old, &t, ix), vec![NULL, i(1), i(3), i(7)]);
    let now = store.begin();
    assert_eq!(distinct_first(&now, &t, ix), vec![NULL, i(3), i(8)]);

    // Own writes: a new value, a value equal to a committed one, moving the
    // only 3 away, deleting the last NULL and adding a new NULL elsewhere.
    let mut tx = store.begin();
    tx.insert(&t, vec![i(10), i(2), s("two")]).expect("insert");
    tx.insert(&t, vec![i(11), i(8), s("eight")])
        .expect("insert");
    tx.update(&t, rids[4], vec![i(4), i(9), s("3->9")])
        .expect("update");
    assert_eq!(distinct_first(&tx, &t, ix), vec![NULL, i(2), i(8), i(9)]);
    tx.delete(&t, rids[2]).expect("delete");
    assert_eq!(distinct_first(&tx, &t, ix), vec![i(2), i(8), i(9)]);
    let r12 = tx.insert(&t, vec![i(12), NULL, s("null")]).expect("insert");
    assert_eq!(distinct_first(&tx, &t, ix), vec![NULL, i(2), i(8), i(9)]);
    tx.delete(&t, r12).expect("delete");
    assert_eq!(distinct_first(&tx, &t, ix), vec![i(2), i(8), i(9)]);
    // Early stop, also inside the own-values part.
    for stop_after in 1..=3 {
        let mut got = Vec::new();
        tx.index_distinct_first(&t, ix, &mut |v| {
            got.push(v.clone());
            Ok(got.len() < stop_after)
        })
        .expect("distinct");
        assert_eq!(got, [i(2), i(8), i(9)][..stop_after].to_vec());
    }
    assert_eq!(distinct_first(&now, &t, ix), vec![NULL, i(3), i(8)]);
}

#[test]
fn distinct_first_on_a_two_column_index() {
    let store = Store::new();
    let t = create_table(
        &store,
        "m",
        &[
            ("id", DataType::Integer, false),
            ("a", DataType::Integer, true),
            ("b", DataType::Integer, true),
        ],
        Some(vec![0]),
    );
    let ix = create_index(&store, &t, "m_ab", vec![1, 2], false);
    let mut tx = store.begin();
    let mut rids = Vec::new();
    for (id, (a, b)) in [(1, 1), (1, 2), (2, 1), (3, 3), (3, 4)]
        .into_iter()
        .enumerate()
    {
        rids.push(
            tx.insert(&t, vec![i(id as i64), i(a), i(b)])
                .expect("insert"),
        );
    }
    rids.push(tx.insert(&t, vec![i(9), NULL, i(0)]).expect("insert"));
    store.commit(tx).expect("commit");
    let r = store.begin();
    assert_eq!(distinct_first(&r, &t, ix), vec![NULL, i(1), i(2), i(3)]);
    // Change (1,1) -> (1,5) and (2,1) -> (4,1): a = 2 only has a stale entry.
    let mut tx = store.begin();
    tx.update(&t, rids[0], vec![i(0), i(1), i(5)])
        .expect("update");
    tx.update(&t, rids[2], vec![i(2), i(4), i(1)])
        .expect("update");
    store.commit(tx).expect("commit");
    assert_eq!(distinct_first(&r, &t, ix), vec![NULL, i(1), i(2), i(3)]);
    let r2 = store.begin();
    assert_eq!(distinct_first(&r2, &t, ix), vec![NULL, i(1), i(3), i(4)]);
    // Delete (3,3) but not (3,4): 3 stays.
    let mut tx = store.begin();
    tx.delete(&t, rids[3]).expect("delete");
    assert_eq!(distinct_first(&tx, &t, ix), vec![NULL, i(1), i(3), i(4)]);
    tx.delete(&t, rids[4]).expect("delete");
    assert_eq!(distinct_first(&tx, &t, ix), vec![NULL, i(1), i(4)]);
}

// ---------------------------------------------------------------------------
// (7) ALTER TABLE ADD COLUMN
// ---------------------------------------------------------------------------

#[test]
fn add_column_pads_old_rows_and_new_indexes_cover_them() {
    let store = Store::new();
    let (t, rids) = kv_table(&store, &[(1, "a"), (2, "b"), (3, "c")]);
    let writer = {
        let mut w = store.begin();
        w.update(&t, rids[&3], vec![i(3), s("C")]).expect("update");
        w
    };
    let mut col = column("n", DataType::Integer, true);
    col.added_default = i(42);
    store
        .add_column("KV", col, "CREATE TABLE kv(id, v, n)".to_string())
        .expect("add column");
    assert_eq!(t.schema().columns.len(), 3);
    assert_eq!(t.schema().create_sql, "CREATE TABLE kv(id, v, n)");
    let dup = column("N", DataType::Integer, true);
    assert_eq!(
        store
            .add_column("kv", dup, String::new())
            .expect_err("duplicate column")
            .kind(),
        ErrorKind::AlreadyExists
    );

    let r = store.begin();
    assert_eq!(
        scan_sorted(&r, &t),
        vec![
            vec![i(1), s("a"), i(42)],
            vec![i(2), s("b"), i(42)],
            vec![i(3), s("c"), i(42)]
        ]
    );
    assert_eq!(r.get(&t, rids[&1]), Some(vec![i(1), s("a"), i(42)]));
    // A transaction from before the ALTER still commits (no conflict), and
    // its row reads padded.
    store.commit(writer).expect("commit across DDL");

    let mut tx = store.begin();
    tx.insert(&t, vec![i(4), s("d"), i(7)]).expect("insert");
    tx.insert(&t, vec![i(5), s("e"), NULL]).expect("insert");
    tx.update(&t, rids[&2], vec![i(2), s("b"), i(8)])
        .expect("update");
    store.commit(tx).expect("commit");

    let n_ix = create_index(&store, &t, "kv_n", vec![2], false);
    let r = store.begin();
    let want = scan_map(&r, &t);
    assert_eq!(want.len(), 5);
    assert_eq!(
        index_col(&r, &t, n_ix, Unbounded, Unbounded, false, 2),
        vec![NULL, i(7), i(8), i(42), i(42)]
    );
    let mut at42 = index_col(
        &r,
        &t,
        n_ix,
        Included(&[i(42)]),
        Included(&[i(42)]),
        false,
        1,
    );
    at42.sort();
    assert_eq!(at42, vec![s("C"), s("a")]);
    for reverse in [false, true] {
        assert_index_scan(&r, &t, n_ix, Unbounded, Unbounded, reverse, &want);
    }
    assert_eq!(distinct_first(&r, &t, n_ix), vec![NULL, i(7), i(8), i(42)]);
    // Two-column index over an old and the new column.
    let vn_ix = create_index(&store, &t, "kv_vn", vec![1, 2], false);
    assert_index_scan(&r, &t, vn_ix, Included(&[s("b")]), Unbounded, false, &want);

    // Old rows all read 42: a unique index on the new column is refused...
    let refused = store.create_index(
        "kv",
        IndexDef {
            name: "kv_n_unique".to_string(),
            columns: vec![2],
            unique: true,
            primary: false,
            create_sql: None,
        },
    );
    assert_eq!(
        refused.expect_err("duplicate 42s").kind(),
        ErrorKind::Constraint
    );
    // ...until only one row has 42; then it enforces uniqueness against the
    // padded value.
    let mut tx = store.begin();
    tx.delete(&t, rids[&3]).expect("delete");
    store.commit(tx).expect("commit");
    let u_ix = create_index(&store, &t, "kv_n_unique2", vec![2], true);
    let mut tx = store.begin();
    assert_constraint(
        tx.insert(&t, vec![i(6), s("f"), i(42)]),
        ConstraintKind::Unique,
    );
    tx.insert(&t, vec![i(6), s("f"), i(43)]).expect("insert");
    // Moving the old row off its padded key frees 42.
    tx.update(&t, rids[&1], vec![i(1), s("a"), i(41)])
        .expect("update");
    tx.insert(&t, vec![i(7), s("g"), i(42)]).expect("insert 42");
    store.commit(tx).expect("commit");
    let r = store.begin();
    assert_eq!(
        index_col(&r, &t, u_ix, Unbounded, Unbounded, false, 2),
        vec![NULL, i(7), i(8), i(41), i(42), i(43)]
    );
}

// ---------------------------------------------------------------------------
// threads
// ---------------------------------------------------------------------------

/// Writers move money between accounts (retrying on conflict) while a reader
/// checks that every snapshot, by scan and by both indexes, holds the same
/// total; enough versions are written to seal the table meanwhile, and a
/// reader from the start keeps seeing the opening balances throughout.
#[test]
fn concurrent_transfers_keep_every_snapshot_consistent() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    const ACCOUNTS: i64 = 10;
    const OPENING: i64 = 1_000;
    const WRITERS: u64 = 3;
    // Two versions per transfer: enough to seal the table once.
    const TRANSFERS: usize = SEGMENT_ROWS_TARGET / (2 * WRITERS as usize) + 100;
    let store = Store::new();
    let t = create_table(
        &store,
        "acct",
        &[
            ("id", DataType::Integer, false),
            ("balance", DataType::Integer, false),
        ],
        Some(vec![0]),
    );
    let bal_ix = create_index(&store, &t, "acct_balance", vec![1], false);
    let mut tx = store.begin();
    let rids: Vec<RowId> = (0..ACCOUNTS)
        .map(|id| tx.insert(&t, vec![i(id), i(OPENING)]).expect("insert"))
        .collect();
    store.commit(tx).expect("commit");
    let opening = store.begin();
    let opening_state = scan_map(&opening, &t);

    let done = AtomicBool::new(false);
    let conflicts = AtomicUsize::new(0);
    let checks = AtomicUsize::new(0);
    let balance = |r: &[Value]| match r[1] {
        Value::Integer(b) => b,
        ref other => panic!("balance {other:?}"),
    };
    std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (store, t, rids, conflicts) = (&store, &t, &rids, &conflicts);
                scope.spawn(move || {
                    let mut rng = 0x9E37_79B9_7F4A_7C15_u64 ^ (w + 1);
                    let mut next = move || {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        rng
                    };
                    let mut made = 0;
                    while made < TRANSFERS {
                        let a = rids[(next() % ACCOUNTS as u64) as usize];
                        let b = rids[(next() % ACCOUNTS as u64) as usize];
                        if a == b {
                            continue;
                        }
                        let amount = (next() % 50) as i64;
                        let mut tx = store.begin();
                        let ra = tx.get(t, a).expect("account a");
                        let rb = tx.get(t, b).expect("account b");
                        tx.update(t, a, vec![ra[0].clone(), i(balance(&ra) - amount)])
                            .expect("update");
                        tx.update(t, b, vec![rb[0].clone(), i(balance(&rb) + amount)])
                            .expect("update");
                        match store.commit(tx) {
                            Ok(_) => made += 1,
                            Err(e) if e.kind() == ErrorKind::Conflict => {
                                conflicts.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => panic!("commit: {e:?}"),
                        }
                    }
                })
            })
            .collect();
        scope.spawn(|| {
            while !done.load(Ordering::Acquire) {
                let tx = store.begin();
                let rows = scan_map(&tx, &t);
                assert_eq!(rows.len(), ACCOUNTS as usize);
                let total: i64 = rows.values().map(|r| balance(r)).sum();
                assert_eq!(total, ACCOUNTS * OPENING, "scan total");
                for index_no in [0, bal_ix] {
                    let via = index_rows(&tx, &t, index_no, Unbounded, Unbounded, false);
                    let by_rid: State = via.iter().cloned().collect();
                    assert_eq!(via.len(), by_rid.len(), "a row twice in index {index_no}");
                    assert_eq!(by_rid, rows, "index {index_no} scan");
                }
                checks.fetch_add(1, Ordering::Relaxed);
            }
        });
        for w in writers {
            w.join().expect("writer");
        }
        done.store(true, Ordering::Release);
    });
    assert!(checks.load(Ordering::Relaxed) > 0);
    assert!(t.segment_stats().0 >= 1, "the table was sealed meanwhile");
    // Every commit got its own timestamp.
    assert_eq!(
        store.last_committed(),
        1 + WRITERS * TRANSFERS as u64,
        "{} conflicts",
        conflicts.load(Ordering::Relaxed)
    );
    assert_eq!(scan_map(&opening, &t), opening_state);
    let end = store.begin();
    let total: i64 = scan_map(&end, &t).values().map(|r| balance(r)).sum();
    assert_eq!(total, ACCOUNTS * OPENING);
    assert_index_scan(
        &end,
        &t,
        bal_ix,
        Unbounded,
        Unbounded,
        true,
        &scan_map(&end, &t),
    );
}

// ---------------------------------------------------------------------------
// DDL during an open transaction
// ---------------------------------------------------------------------------

#[test]
fn unique_index_created_mid_transaction_covers_own_rows() {
    let store = Store::new();
    let t = create_table(
        &store,
        "d",
        &[
            ("id", DataType::Integer, false),
            ("b", DataType::Integer, true),
        ],
        Some(vec![0]),
    );
    let mut tx = store.begin();
    tx.insert(&t, vec![i(1), i(5)]).expect("insert");
    create_index(&store, &t, "d_b", vec![1], true);
    let second = tx.insert(&t, vec![i(2), i(5)]);
    let outcome = match second {
        Err(e) => Err(e),
        Ok(_) => store.commit(tx),
    };
    assert!(
        outcome.is_err(),
        "two rows with b = 5 committed under a unique index"
    );
}

// ---------------------------------------------------------------------------
// (6) model-based property test
// ---------------------------------------------------------------------------

/// Model table: `m(id INTEGER NOT NULL PRIMARY KEY, v INTEGER NULL,
/// u INTEGER NULL UNIQUE)` with a non-unique index on v (index 1) and a
/// unique one on u (index 2).
const ID_DOMAIN: i64 = 6;
const V_DOMAIN: i64 = 4;
const U_DOMAIN: i64 = 4;
const FILLER_BASE: i64 = 1_000_000;

#[derive(Debug, Clone)]
enum Op {
    Insert {
        slot: usize,
        id: Option<i64>,
        v: Option<i64>,
        u: Option<i64>,
    },
    /// `id: None` keeps the row's id.
    Update {
        slot: usize,
        pick: usize,
        id: Option<i64>,
        v: Option<i64>,
        u: Option<i64>,
    },
    Delete {
        slot: usize,
        pick: usize,
    },
    Savepoint {
        slot: usize,
    },
    RollbackTo {
        slot: usize,
        pick: usize,
    },
    Commit {
        slot: usize,
    },
    Rollback {
        slot: usize,
    },
    /// Out of band: commit enough filler versions (inserted, updated,
    /// deleted) to seal the live segment.
    Churn,
}

/// (existed in the snapshot, latest value or None when deleted)
type Overlay = BTreeMap<RowId, (bool, Option<Row>)>;

struct MTx {
    tx: Transaction,
    snap: usize,
    overlay: Overlay,
    savepoints: Vec<(Savepoint, Overlay)>,
}

struct Harness {
    store: Arc<Store>,
    table: Arc<Table>,
    /// Committed state at each timestamp (index = commit timestamp).
    versions: Vec<State>,
    /// Last commit timestamp that wrote each row.
    last_write: HashMap<RowId, usize>,
    slots: Vec<Option<MTx>>,
    /// Also check every bounded index range after every step (too slow once
    /// churn has left thousands of filler versions behind).
    thorough: bool,
}

const UNIQUE_COLS: [(usize, ConstraintKind); 2] =
    [(0, ConstraintKind::PrimaryKey), (2, ConstraintKind::Unique)];

impl Harness {
    fn new(slots: usize, thorough: bool) -> Harness {
        let store = Store::new();
        let table = create_table(
            &store,
            "m",
            &[
                ("id", DataType::Integer, false),
                ("v", DataType::Integer, true),
                ("u", DataType::Integer, true),
            ],
            Some(vec![0]),
        );
        assert_eq!(create_index(&store, &table, "m_v", vec![1], false), 1);
        assert_eq!(create_index(&store, &table, "m_u", vec![2], true), 2);
        assert_eq!(store.last_committed(), 0);
        Harness {
            store,
            table,
            versions: vec![State::new()],
            last_write: HashMap::new(),
            slots: (0..slots).map(|_| None).collect(),
            thorough,
        }
    }

    fn latest(&self) -> &State {
        self.versions.last().expect("a version")
    }

    fn view(&self, m: &MTx) -> State {
        let mut v = self.versions[m.snap].clone();
        for (rid, (_, row)) in &m.overlay {
            match row {
                Some(r) => v.insert(*rid, r.clone()),
                None => v.remove(rid),
            };
        }
        v
    }

    /// Begins a transaction in `slot` if none is open there; returns the
    /// slot's position.
    fn ensure(&mut self, slot: usize) -> usize {
        let k = slot % self.slots.len();
        if self.slots[k].is_none() {
            let tx = self.store.begin();
            let snap = self.versions.len() - 1;
            assert_eq!(tx.start_ts() as usize, snap, "snapshot timestamp");
            self.slots[k] = Some(MTx {
                tx,
                snap,
                overlay: Overlay::new(),
                savepoints: Vec::new(),
            });
        }
        k
    }

    fn open(&self, k: usize) -> &MTx {
        self.slots[k].as_ref().expect("open slot")
    }

    fn open_mut(&mut self, k: usize) -> &mut MTx {
        self.slots[k].as_mut().expect("open slot")
    }

    fn expected_violation(view: &State, rid: Option<RowId>, row: &Row) -> Option<ConstraintKind> {
        if row[0].is_null() {
            return Some(ConstraintKind::NotNull);
        }
        UNIQUE_COLS.iter().find_map(|&(c, kind)| {
            let taken = !row[c].is_null()
                && view
                    .iter()
                    .any(|(other, r)| Some(*other) != rid && r[c] == row[c]);
            taken.then_some(kind)
        })
    }

    fn check_write(result: Result<(), Error>, expected: Option<ConstraintKind>) -> bool {
        match expected {
            Some(kind) => {
                assert_constraint(result, kind);
                false
            }
            None => {
                result.expect("write should succeed");
                true
            }
        }
    }

    fn expect_conflict(&self, m: &MTx) -> bool {
        let written_since = |rid: &RowId| self.last_write.get(rid).is_some_and(|&t| t > m.snap);
        m.overlay.iter().any(|(rid, (existed, row))| {
            if *existed && written_since(rid) {
                return true;
            }
            let Some(row) = row else { return false };
            UNIQUE_COLS.iter().any(|&(c, _)| {
                !row[c].is_null()
                    && self.latest().iter().any(|(other, r)| {
                        let clash = !m.overlay.contains_key(other) && r[c] == row[c];
                        assert!(
                            !clash || written_since(other),
                            "model: a key clash with a row older than the snapshot"
                        );
                        clash
                    })
            })
        })
    }

    fn apply(&mut self, op: &Op) {
        let n = self.slots.len();
        match *op {
            Op::Insert { slot, id, v, u } => {
                let row = vec![id.map_or(NULL, i), v.map_or(NULL, i), u.map_or(NULL, i)];
                let table = self.table.clone();
                let k = self.ensure(slot);
                let view = self.view(self.open(k));
                let expected = Self::expected_violation(&view, None, &row);
                let m = self.open_mut(k);
                let result = m.tx.insert(&table, row.clone());
                match expected {
                    Some(kind) => assert_constraint(result, kind),
                    None => {
                        let rid = result.expect("insert should succeed");
                        assert!(!view.contains_key(&rid), "fresh row id");
                        m.overlay.insert(rid, (false, Some(row)));
                    }
                }
            }
            Op::Update {
                slot,
                pick,
                id,
                v,
                u,
            } => {
                let table = self.table.clone();
                let k = self.ensure(slot);
                let view = self.view(self.open(k));
                if view.is_empty() {
                    return;
                }
                let (rid, cur) = view.iter().nth(pick % view.len()).expect("picked");
                let (rid, cur) = (*rid, cur.clone());
                let row = vec![
                    id.map_or(cur[0].clone(), i),
                    v.map_or(NULL, i),
                    u.map_or(NULL, i),
                ];
                let expected = Self::expected_violation(&view, Some(rid), &row);
                let m = self.open_mut(k);
                let result = m.tx.update(&table, rid, row.clone());
                if Self::check_write(result, expected) {
                    let existed = m.overlay.get(&rid).is_none_or(|e| e.0);
                    m.overlay.insert(rid, (existed, Some(row)));
                }
            }
            Op::Delete { slot, pick } => {
                let table = self.table.clone();
                let k = self.ensure(slot);
                let view = self.view(self.open(k));
                if view.is_empty() {
                    return;
                }
                let rid = *view.keys().nth(pick % view.len()).expect("picked");
                let m = self.open_mut(k);
                m.tx.delete(&table, rid).expect("delete");
                let existed = m.overlay.get(&rid).is_none_or(|e| e.0);
                m.overlay.insert(rid, (existed, None));
            }
            Op::Savepoint { slot } => {
                let k = self.ensure(slot);
                let m = self.open_mut(k);
                let sp = m.tx.savepoint();
                let overlay = m.overlay.clone();
                m.savepoints.push((sp, overlay));
            }
            Op::RollbackTo { slot, pick } => {
                let k = self.ensure(slot);
                let m = self.open_mut(k);
                if m.savepoints.is_empty() {
                    return;
                }
                let k = pick % m.savepoints.len();
                let (sp, overlay) = m.savepoints[k].clone();
                m.tx.rollback_to(sp);
                m.overlay = overlay;
                m.savepoints.truncate(k + 1);
            }
            Op::Commit { slot } => {
                let Some(m) = self.slots[slot % n].take() else {
                    return;
                };
                let conflict = self.expect_conflict(&m);
                let MTx {
                    tx, snap, overlay, ..
                } = m;
                assert_eq!(tx.has_writes(), !overlay.is_empty(), "has_writes");
                let result = self.store.commit(tx);
                if conflict {
                    assert_conflict(result);
                    assert_eq!(
                        self.store.last_committed() as usize,
                        self.versions.len() - 1
                    );
                } else if overlay.is_empty() {
                    assert_eq!(result.expect("read-only commit") as usize, snap);
                } else {
                    let ts = result.expect("commit should succeed") as usize;
                    assert_eq!(ts, self.versions.len(), "commit timestamp");
                    let mut next = self.latest().clone();
                    for (rid, (_, row)) in overlay {
                        match row {
                            Some(r) => next.insert(rid, r),
                            None => next.remove(&rid),
                        };
                        self.last_write.insert(rid, ts);
                    }
                    self.versions.push(next);
                }
            }
            Op::Rollback { slot } => {
                self.slots[slot % n] = None;
            }
            Op::Churn => self.churn(),
        }
    }

    /// Commits filler rows (ids far outside the model's domain, so they
    /// never clash) as three transactions: insert, update, delete. That is
    /// 2 * FILLER versions, enough to seal the live segment once.
    fn churn(&mut self) {
        const FILLER: usize = SEGMENT_ROWS_TARGET / 2 + 8;
        let table = self.table.clone();
        let seals_before = table.segment_stats().0;
        let mut tx = self.store.begin();
        let mut rids = Vec::with_capacity(FILLER);
        let mut rows = Vec::with_capacity(FILLER);
        for k in 0..FILLER as i64 {
            // Distinct index keys: thousands of rows under one key would make
            // every insert walk that key's row-id list (see the report).
            let row = vec![i(FILLER_BASE + k), i(FILLER_BASE + k), i(FILLER_BASE + k)];
            rids.push(tx.insert(&table, row.clone()).expect("filler insert"));
            rows.push(row);
        }
        self.commit_filler(tx, rids.iter().copied().zip(rows.iter().cloned().map(Some)));
        // A reader of the fillers' first versions, kept across the seal.
        let reader = self.store.begin();
        let reader_view = self.latest().clone();
        let mut tx = self.store.begin();
        for (k, (rid, row)) in rids.iter().zip(rows.iter_mut()).enumerate() {
            row[1] = i(2 * FILLER_BASE + k as i64);
            tx.update(&table, *rid, row.clone()).expect("filler update");
        }
        self.commit_filler(tx, rids.iter().copied().zip(rows.iter().cloned().map(Some)));
        let mut tx = self.store.begin();
        for rid in &rids {
            tx.delete(&table, *rid).expect("filler delete");
        }
        self.commit_filler(tx, rids.iter().map(|&rid| (rid, None)));
        assert!(table.segment_stats().0 > seals_before, "churn sealed");
        self.check_view(&reader, &reader_view);
    }

    fn commit_filler(
        &mut self,
        tx: Transaction,
        writes: impl Iterator<Item = (RowId, Option<Row>)>,
    ) {
        let ts = self.store.commit(tx).expect("filler commit") as usize;
        assert_eq!(ts, self.versions.len());
        let mut next = self.latest().clone();
        for (rid, row) in writes {
            match row {
                Some(r) => next.insert(rid, r),
                None => next.remove(&rid),
            };
            self.last_write.insert(rid, ts);
        }
        self.versions.push(next);
    }

    fn check_all(&self) {
        for m in self.slots.iter().flatten() {
            let view = self.view(m);
            self.check_view(&m.tx, &view);
        }
        let fresh = self.store.begin();
        assert_eq!(fresh.start_ts() as usize, self.versions.len() - 1);
        self.check_view(&fresh, self.latest());
        let broken = self.store.check_invariants();
        assert!(broken.is_empty(), "store invariants: {broken:#?}");
    }

    fn check_view(&self, tx: &Transaction, view: &State) {
        let t = &self.table;
        assert_eq!(&scan_map(tx, t), view, "scan");
        for (rid, row) in view {
            assert_eq!(tx.get(t, *rid).as_ref(), Some(row), "get {rid}");
        }
        for rid in self
            .latest()
            .keys()
            .chain(self.versions[self.versions.len() / 2].keys())
        {
            if !view.contains_key(rid) && (self.thorough || *rid % 97 == 0) {
                assert_eq!(tx.get(t, *rid), None, "get {rid}");
            }
        }
        let keys: Vec<Value> = std::iter::once(NULL)
            .chain((-1..=ID_DOMAIN).map(i))
            .collect();
        for index_no in 0..3 {
            // Fillers (if any) have keys above FILLER_BASE; the non-thorough
            // check keeps its scans below them.
            let top = [i(FILLER_BASE - 1)];
            let hi = if self.thorough {
                Unbounded
            } else {
                Excluded(&top[..])
            };
            for reverse in [false, true] {
                assert_index_scan(tx, t, index_no, Unbounded, hi, reverse, view);
            }
            for (n, k) in keys.iter().enumerate().filter(|_| self.thorough) {
                let k = std::slice::from_ref(k);
                assert_index_scan(tx, t, index_no, Included(k), Included(k), n % 2 == 0, view);
                let (lo, hi) = match n % 3 {
                    0 => (Excluded(k), Unbounded),
                    1 => (Unbounded, Excluded(k)),
                    _ => (Included(k), Excluded(&keys[(n + 2) % keys.len()..][..1])),
                };
                assert_index_scan(tx, t, index_no, lo, hi, n % 2 == 1, view);
            }
            let col = index_no;
            let distinct: BTreeSet<Value> = view.values().map(|r| r[col].clone()).collect();
            if !self.thorough && self.versions.len() & 3 != 0 {
                continue;
            }
            assert_eq!(
                distinct_first(tx, t, index_no),
                distinct.into_iter().collect::<Vec<_>>(),
                "distinct on index {index_no}"
            );
        }
    }
}

fn run_model(ops: &[Op], slots: usize, thorough: bool) {
    let mut h = Harness::new(slots, thorough);
    for op in ops {
        h.apply(op);
        h.check_all();
    }
    // Finish: commit whatever is open, then check the final state.
    for slot in 0..slots {
        h.apply(&Op::Commit { slot });
        h.check_all();
    }
}

fn op_strategy(slots: usize) -> impl Strategy<Value = Op> {
    let slot = 0..slots;
    let id = 0..ID_DOMAIN;
    let v = proptest::option::weighted(0.8, 0..V_DOMAIN);
    let u = proptest::option::weighted(0.6, 0..U_DOMAIN);
    prop_oneof![
        6 => (
            slot.clone(),
            proptest::option::weighted(0.97, id.clone()),
            v.clone(),
            u.clone()
        )
            .prop_map(|(slot, id, v, u)| Op::Insert { slot, id, v, u }),
        6 => (
            slot.clone(),
            any::<usize>(),
            proptest::option::weighted(0.3, id),
            v,
            u
        )
            .prop_map(|(slot, pick, id, v, u)| Op::Update { slot, pick, id, v, u }),
        3 => (slot.clone(), any::<usize>()).prop_map(|(slot, pick)| Op::Delete { slot, pick }),
        2 => slot.clone().prop_map(|slot| Op::Savepoint { slot }),
        2 => (slot.clone(), any::<usize>()).prop_map(|(slot, pick)| Op::RollbackTo { slot, pick }),
        4 => slot.clone().prop_map(|slot| Op::Commit { slot }),
        1 => slot.prop_map(|slot| Op::Rollback { slot }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn model_two_transactions(ops in proptest::collection::vec(op_strategy(2), 1..40)) {
        run_model(&ops, 2, true);
    }

    #[test]
    fn model_three_transactions(ops in proptest::collection::vec(op_strategy(3), 1..60)) {
        run_model(&ops, 3, true);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 4,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The same model with seals in the middle, while transactions with
    /// snapshots and uncommitted writes are open.
    #[test]
    fn model_across_seals(
        ops in proptest::collection::vec(op_strategy(3), 30..60),
        at in proptest::collection::vec(0usize..60, 1..4),
    ) {
        let mut ops = ops;
        for p in at {
            let p = p.min(ops.len());
            ops.insert(p, Op::Churn);
        }
        run_model(&ops, 3, false);
    }
}
