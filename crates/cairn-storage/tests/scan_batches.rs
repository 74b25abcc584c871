//! Scans hold no table lock while their callback runs (`scan.rs`): a
//! callback may commit to the scanned table, and the scan still sees
//! exactly its snapshot; index scans that cross many batches — forward,
//! backward, with stale index entries, with the transaction's own writes
//! merged in — return what a filter over a full scan returns; a
//! `TableScan` resumes where it stopped, across seals of the live segment.

use std::ops::Bound;
use std::sync::Arc;

use cairn_core::{DataType, Value};
use cairn_storage::{
    ColumnDef, IndexDef, RowId, Store, Table, TableSchema, Transaction, SEGMENT_ROWS_TARGET,
};

fn column(name: &str) -> ColumnDef {
    ColumnDef {
        name: name.to_string(),
        data_type: DataType::Integer,
        declared_type: "INTEGER".to_string(),
        nullable: true,
        default_sql: None,
        added_default: Value::Null,
    }
}

/// `t(id INTEGER PRIMARY KEY, g INTEGER, h INTEGER)` with an index on
/// `(g, h)` and one on `g` alone.
fn table(store: &Arc<Store>) -> Arc<Table> {
    let t = store
        .create_table(TableSchema {
            name: "t".into(),
            columns: vec![column("id"), column("g"), column("h")],
            primary_key: Some(vec![0]),
            checks: vec![],
            auto_increment: None,
            create_sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, g INTEGER, h INTEGER)".into(),
        })
        .expect("create table");
    for (name, columns) in [("t_gh", vec![1, 2]), ("t_g", vec![1])] {
        store
            .create_index(
                "t",
                IndexDef {
                    name: name.into(),
                    columns,
                    unique: false,
                    primary: false,
                    create_sql: None,
                },
            )
            .expect("create index");
    }
    t
}

fn row(id: i64, g: i64, h: i64) -> Vec<Value> {
    vec![Value::Integer(id), Value::Integer(g), Value::Integer(h)]
}

fn full_scan(tx: &Transaction, t: &Arc<Table>) -> Vec<(RowId, Vec<Value>)> {
    let mut out = Vec::new();
    tx.scan(t, &mut |rid, v| {
        out.push((rid, v.to_vec()));
        Ok(true)
    })
    .expect("scan");
    out
}

/// Rows `id` 0..n with `g = id % 7`, `h = id`; every third row updated
/// (its `g` changes, leaving a stale index entry), every tenth deleted.
fn populate(store: &Arc<Store>, t: &Arc<Table>, n: i64) -> Vec<RowId> {
    let mut tx = store.begin();
    let rids: Vec<RowId> = (0..n)
        .map(|id| tx.insert(t, row(id, id % 7, id)).expect("insert"))
        .collect();
    store.commit(tx).expect("commit");
    let mut tx = store.begin();
    for (id, &rid) in rids.iter().enumerate() {
        let id = id as i64;
        if id % 10 == 0 {
            tx.delete(t, rid).expect("delete");
        } else if id % 3 == 0 {
            tx.update(t, rid, row(id, (id + 3) % 7, id))
                .expect("update");
        }
    }
    store.commit(tx).expect("commit");
    rids
}

fn key_of(values: &[Value], columns: &[usize]) -> Vec<Value> {
    columns.iter().map(|&c| values[c].clone()).collect()
}

fn in_bounds(key: &[Value], lo: &Bound<Vec<Value>>, hi: &Bound<Vec<Value>>) -> bool {
    let cmp = |b: &Vec<Value>| key[..b.len()].cmp(&b[..]);
    use std::cmp::Ordering::*;
    (match lo {
        Bound::Included(b) => cmp(b) != Less,
        Bound::Excluded(b) => cmp(b) == Greater,
        Bound::Unbounded => true,
    }) && (match hi {
        Bound::Included(b) => cmp(b) != Greater,
        Bound::Excluded(b) => cmp(b) == Less,
        Bound::Unbounded => true,
    })
}

/// Checks an index scan against a filtered, sorted full scan.
fn check_index_scan(
    tx: &Transaction,
    t: &Arc<Table>,
    index_no: usize,
    columns: &[usize],
    lo: Bound<Vec<Value>>,
    hi: Bound<Vec<Value>>,
    reverse: bool,
) {
    let mut want: Vec<(Vec<Value>, RowId)> = full_scan(tx, t)
        .into_iter()
        .map(|(rid, v)| (key_of(&v, columns), rid))
        .filter(|(k, _)| in_bounds(k, &lo, &hi))
        .collect();
    let mut got: Vec<(Vec<Value>, RowId)> = Vec::new();
    tx.index_scan_ordered(
        t,
        index_no,
        lo.as_ref().map(|b| b.as_slice()),
        hi.as_ref().map(|b| b.as_slice()),
        reverse,
        &mut |rid, v| {
            got.push((key_of(v, columns), rid));
            Ok(true)
        },
    )
    .expect("index scan");
    // Keys come in order; row ids under one key in no promised order.
    let keys: Vec<&Vec<Value>> = got.iter().map(|(k, _)| k).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    if reverse {
        sorted.reverse();
    }
    assert_eq!(
        keys, sorted,
        "index {index_no} reverse={reverse}: key order"
    );
    got.sort();
    want.sort();
    assert_eq!(
        got, want,
        "index {index_no} {lo:?}..{hi:?} reverse={reverse}"
    );
}

fn index_no(t: &Arc<Table>, name: &str) -> usize {
    t.indexes()
        .iter()
        .position(|i| i.name == name)
        .expect("index exists")
}

#[test]
fn index_scans_across_batches_match_a_filtered_full_scan() {
    let store = Store::new();
    let t = table(&store);
    populate(&store, &t, 3000);
    let mut tx = store.begin();
    // Own writes: inserts, an update that moves a key, a delete.
    for id in 5000..5400 {
        tx.insert(&t, row(id, id % 5, id)).expect("insert");
    }
    let rows = full_scan(&tx, &t);
    let (rid, v) = rows[17].clone();
    tx.update(&t, rid, vec![v[0].clone(), Value::Integer(3), v[2].clone()])
        .expect("update");
    tx.delete(&t, rows[40].0).expect("delete");

    let pk = index_no(&t, "t_pkey");
    let gh = index_no(&t, "t_gh");
    let g = index_no(&t, "t_g");
    let int = |i: i64| vec![Value::Integer(i)];
    let cases: Vec<(usize, Vec<usize>, Bound<Vec<Value>>, Bound<Vec<Value>>)> = vec![
        (pk, vec![0], Bound::Unbounded, Bound::Unbounded),
        (
            pk,
            vec![0],
            Bound::Included(int(100)),
            Bound::Excluded(int(2500)),
        ),
        (gh, vec![1, 2], Bound::Unbounded, Bound::Unbounded),
        (
            gh,
            vec![1, 2],
            Bound::Included(int(2)),
            Bound::Included(int(4)),
        ),
        (gh, vec![1, 2], Bound::Excluded(int(2)), Bound::Unbounded),
        (
            gh,
            vec![1, 2],
            Bound::Included(vec![Value::Integer(3), Value::Integer(900)]),
            Bound::Excluded(vec![Value::Integer(3), Value::Integer(5100)]),
        ),
        (g, vec![1], Bound::Unbounded, Bound::Unbounded),
        (g, vec![1], Bound::Included(int(3)), Bound::Included(int(3))),
        (g, vec![1], Bound::Excluded(int(4)), Bound::Excluded(int(2))),
    ];
    for (index_no, columns, lo, hi) in cases {
        for reverse in [false, true] {
            check_index_scan(&tx, &t, index_no, &columns, lo.clone(), hi.clone(), reverse);
        }
    }

    // The loose index scan sees each first-column value once, in order.
    let mut want: Vec<Value> = rows_values(&tx, &t, 1);
    want.dedup();
    let mut got = Vec::new();
    tx.index_distinct_first(&t, gh, &mut |v| {
        got.push(v.clone());
        Ok(true)
    })
    .expect("distinct");
    assert_eq!(got, want);
}

/// Column `col` of every visible row, sorted.
fn rows_values(tx: &Transaction, t: &Arc<Table>, col: usize) -> Vec<Value> {
    let mut v: Vec<Value> = full_scan(tx, t)
        .into_iter()
        .map(|(_, r)| r[col].clone())
        .collect();
    v.sort();
    v
}

#[test]
fn distinct_values_across_batches() {
    let store = Store::new();
    let t = table(&store);
    // More distinct first-column values than one batch holds.
    let mut tx = store.begin();
    for id in 0..1500 {
        tx.insert(&t, row(id, id / 2, id)).expect("insert");
    }
    store.commit(tx).expect("commit");
    let mut tx = store.begin();
    tx.insert(&t, row(9000, -1, 0)).expect("insert");
    tx.insert(&t, row(9001, 400, 0)).expect("insert");
    tx.insert(&t, row(9002, 10_000, 0)).expect("insert");
    let mut want = rows_values(&tx, &t, 1);
    want.dedup();
    let mut got = Vec::new();
    let g = index_no(&t, "t_g");
    tx.index_distinct_first(&t, g, &mut |v| {
        got.push(v.clone());
        Ok(true)
    })
    .expect("distinct");
    assert_eq!(got.len(), 752);
    assert_eq!(got, want);
}

#[test]
fn a_scan_callback_may_commit_to_the_scanned_table() {
    let store = Store::new();
    let t = table(&store);
    populate(&store, &t, SEGMENT_ROWS_TARGET as i64 + 500);
    let reader = store.begin();
    let before = full_scan(&reader, &t);
    let mut seen = Vec::new();
    let mut next_id = 1_000_000;
    // Each callback commits a row to the table being scanned: with the
    // table's read lock held this would wait for itself forever.
    reader
        .scan(&t, &mut |rid, v| {
            seen.push((rid, v.to_vec()));
            if seen.len() % 1000 == 1 {
                let mut w = store.begin();
                w.insert(&t, row(next_id, 1, 1))?;
                next_id += 1;
                store.commit(w)?;
            }
            Ok(true)
        })
        .expect("scan");
    assert_eq!(seen, before, "the scan sees exactly its snapshot");
    let pk = index_no(&t, "t_pkey");
    let mut seen = 0usize;
    reader
        .index_scan(&t, pk, Bound::Unbounded, Bound::Unbounded, &mut |_, _| {
            seen += 1;
            if seen % 1000 == 1 {
                let mut w = store.begin();
                w.insert(&t, row(next_id, 1, 1))?;
                next_id += 1;
                store.commit(w)?;
            }
            Ok(true)
        })
        .expect("index scan");
    assert_eq!(seen, before.len());
    assert!(store.begin().scan(&t, &mut |_, _| Ok(true)).is_ok());
}

#[test]
fn a_table_scan_resumes_across_seals() {
    let store = Store::new();
    let t = table(&store);
    // One sealed segment (the inserts) and a live one (updates, deletes).
    populate(&store, &t, SEGMENT_ROWS_TARGET as i64 + 3000);
    let sealed_before = t.segment_stats().0;
    let reader = store.begin();
    let want = full_scan(&reader, &t);
    let mut scan = reader.table_scan(&t);
    let mut got = Vec::new();
    let mut next_id = 1_000_000;
    loop {
        // Twenty rows at a time; between pulls, commits that seal the
        // live segment while the scan is still in the sealed one.
        let mut taken = 0;
        let done = scan
            .walk(&mut |rid, v| {
                got.push((rid, v.to_vec()));
                taken += 1;
                Ok(taken < 20)
            })
            .expect("walk");
        if done {
            break;
        }
        if got.len() % 2000 == 0 {
            let mut w = store.begin();
            for _ in 0..2000 {
                w.insert(&t, row(next_id, 2, 2)).expect("insert");
                next_id += 1;
            }
            store.commit(w).expect("commit");
        }
    }
    assert!(
        t.segment_stats().0 > sealed_before,
        "the live segment was sealed during the scan"
    );
    assert_eq!(got, want);
    // Exhausted: later calls feed nothing.
    assert!(scan.walk(&mut |_, _| Ok(true)).expect("walk"));
}

#[test]
fn a_table_scan_resumes_when_the_live_segment_it_reads_is_sealed() {
    let store = Store::new();
    let t = table(&store);
    // Everything in the live segment.
    populate(&store, &t, 3000);
    assert_eq!(t.segment_stats().0, 0);
    let reader = store.begin();
    let want = full_scan(&reader, &t);
    let mut scan = reader.table_scan(&t);
    let mut got = Vec::new();
    let mut next_id = 1_000_000;
    let mut sealed_during = false;
    loop {
        let mut taken = 0;
        let done = scan
            .walk(&mut |rid, v| {
                got.push((rid, v.to_vec()));
                taken += 1;
                Ok(taken < 300)
            })
            .expect("walk");
        if done {
            break;
        }
        if !sealed_during {
            // Enough rows to seal the live segment the scan is part-way
            // through.
            let mut w = store.begin();
            for _ in 0..SEGMENT_ROWS_TARGET {
                w.insert(&t, row(next_id, 2, 2)).expect("insert");
                next_id += 1;
            }
            store.commit(w).expect("commit");
            sealed_during = t.segment_stats().0 > 0;
            assert!(sealed_during, "the commit sealed the live segment");
        }
    }
    assert_eq!(got, want);
}

#[test]
fn one_key_lookups_skip_stale_entries_and_see_their_snapshot() {
    let store = Store::new();
    let t = table(&store);
    let pk = index_no(&t, "t_pkey");
    let mut tx = store.begin();
    let rid = tx.insert(&t, row(5, 1, 1)).expect("insert");
    store.commit(tx).expect("commit");
    let before = store.begin();
    // The row's key moves from 5 to 6: the index still lists it under 5.
    let mut tx = store.begin();
    tx.update(&t, rid, row(6, 1, 1)).expect("update");
    store.commit(tx).expect("commit");
    let lookup = |tx: &Transaction, key: i64| {
        let k = [Value::Integer(key)];
        let mut got = Vec::new();
        tx.index_scan(
            &t,
            pk,
            Bound::Included(&k),
            Bound::Included(&k),
            &mut |r, v| {
                got.push((r, v[0].clone()));
                Ok(true)
            },
        )
        .expect("lookup");
        got
    };
    let now = store.begin();
    assert_eq!(lookup(&now, 5), vec![]);
    assert_eq!(lookup(&now, 6), vec![(rid, Value::Integer(6))]);
    assert_eq!(lookup(&before, 5), vec![(rid, Value::Integer(5))]);
    assert_eq!(lookup(&before, 6), vec![]);
    assert_eq!(lookup(&now, 7), vec![]);
}

#[test]
fn a_key_split_across_batches_resumes_after_its_last_row() {
    // Batches may end inside one key's row ids; commits between batches
    // add ids under that key (new rows, and old rows moved to it) that
    // the scan's snapshot must not see, and the rows it does see come out
    // once each.
    let store = Store::new();
    let t = table(&store);
    let rids = populate(&store, &t, 4000);
    let g = index_no(&t, "t_g");
    let reader = store.begin();
    let key = [Value::Integer(3)];
    let want: Vec<(RowId, Vec<Value>)> = full_scan(&reader, &t)
        .into_iter()
        .filter(|(_, v)| v[1] == key[0])
        .collect();
    assert!(want.len() > 256, "the key spans several batches");
    for reverse in [false, true] {
        let mut got = Vec::new();
        let mut next_id = 1_000_000 + if reverse { 10_000 } else { 0 };
        reader
            .index_scan_ordered(
                &t,
                g,
                Bound::Included(&key),
                Bound::Included(&key),
                reverse,
                &mut |rid, v| {
                    got.push((rid, v.to_vec()));
                    if got.len() % 20 == 1 {
                        let mut w = store.begin();
                        w.insert(&t, row(next_id, 3, 0))?;
                        next_id += 1;
                        // An old row (small id) moves to key 3.
                        let old = rids[got.len() / 20 * 10 + 1];
                        let id = (got.len() / 20 * 10 + 1) as i64;
                        w.update(&t, old, row(id, 3, id))?;
                        store.commit(w)?;
                    }
                    Ok(true)
                },
            )
            .expect("index scan");
        let mut sorted = got.clone();
        sorted.sort_by_key(|(rid, _)| *rid);
        let extra: Vec<_> = sorted.iter().filter(|r| !want.contains(r)).collect();
        let missing: Vec<_> = want.iter().filter(|r| !sorted.contains(r)).collect();
        assert!(
            extra.is_empty() && missing.is_empty() && sorted.len() == want.len(),
            "reverse={reverse}: extra {extra:?}, missing {missing:?}, {} vs {}",
            sorted.len(),
            want.len()
        );
    }
}
