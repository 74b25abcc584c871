//! Proven reads (`Store::read_proven`): a read and the proofs of the rows
//! it names come from one version, however commits interleave (in memory
//! and on disk); a transaction with writes is refused; a read-only one is
//! proven at its own snapshot only while that is the newest version; a
//! schema change during the read is a conflict; and the reader cannot take
//! the merkle lock again (debug builds).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn_core::{DataType, ErrorKind, Result, Value};
use cairn_merkle::RowFinding;
use cairn_storage::fs::SimFs;
use cairn_storage::merkle::{encode_values, ProvenRead};
use cairn_storage::{ColumnDef, OpenOptions, RowId, Store, Table, TableSchema, Transaction};

const ROWS: i64 = 20;

fn column(name: &str, data_type: DataType) -> ColumnDef {
    ColumnDef {
        name: name.to_string(),
        data_type,
        declared_type: data_type.name().to_string(),
        nullable: false,
        default_sql: None,
        added_default: Value::Null,
    }
}

/// `counters(id INTEGER PRIMARY KEY, n INTEGER)` with rows 0..ROWS at n = 0;
/// returns the table and each id's row id.
fn counters(store: &Arc<Store>) -> (Arc<Table>, BTreeMap<i64, RowId>) {
    let t = store
        .create_table(TableSchema {
            name: "counters".into(),
            columns: vec![
                column("id", DataType::Integer),
                column("n", DataType::Integer),
            ],
            primary_key: Some(vec![0]),
            checks: vec![],
            auto_increment: None,
            create_sql: "CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER)".into(),
        })
        .expect("create table");
    let mut tx = store.begin();
    let mut rids = BTreeMap::new();
    for id in 0..ROWS {
        let rid = tx
            .insert(&t, vec![Value::Integer(id), Value::Integer(0)])
            .expect("insert");
        rids.insert(id, rid);
    }
    store.commit(tx).expect("commit");
    (t, rids)
}

fn scan(tx: &Transaction, t: &Arc<Table>) -> Result<Vec<Vec<Value>>> {
    let mut rows = Vec::new();
    tx.scan(t, &mut |_, values| {
        rows.push(values.to_vec());
        Ok(true)
    })?;
    Ok(rows)
}

/// Reads every row of `counters` under `read_proven` and checks that each
/// proof carries exactly the row read and verifies against the head, and
/// that the head is the one of the snapshot's version, a published one.
/// Returns the head's version.
fn proven_scan(store: &Arc<Store>, within: Option<&Transaction>) -> Result<u64> {
    let read = store.read_proven("counters", within, |tx, t| {
        assert!(tx.reads_under_state_lock());
        let rows = scan(tx, t)?;
        let keys = rows.iter().map(|r| r[..1].to_vec()).collect();
        Ok(((tx.start_ts(), rows), keys))
    })?;
    let ProvenRead {
        value: (ts, rows),
        proofs,
        head,
    } = read;
    assert_eq!(proofs.len(), rows.len());
    for (row, proof) in rows.iter().zip(&proofs) {
        assert_eq!(proof.row.as_ref(), Some(&encode_values(row.iter())));
        match proof.verify(&head.state_root) {
            Ok(RowFinding::Present { .. }) => {}
            other => panic!("row {row:?} at {head:?}: {other:?}"),
        }
    }
    assert_eq!(
        head,
        store.head_at_ts(ts),
        "the head of the snapshot's version"
    );
    assert!(head.version <= store.head().version, "a published version");
    Ok(head.version)
}

/// Two writers bump disjoint rows, a fixed number of commits each
/// (starting after the reader's first read), while a reader makes proven
/// reads until they are done (and at least `MIN_READS`): every read
/// succeeds and verifies, at many versions. (The
/// writers' work is bounded: writing flat out for as long as the reads
/// took, a debug build on a loaded machine kept the fold thousands of
/// commits behind, each read folded that backlog first, and the test ran
/// for minutes.)
fn proven_reads_under_writes(store: &Arc<Store>) {
    const MIN_READS: usize = 50;
    const COMMITS_PER_WRITER: usize = 400;
    const WRITER_PAUSE_US: u64 = 200;
    let (t, rids) = counters(store);
    let writers_done = AtomicU64::new(0);
    let commits = AtomicU64::new(0);
    // The writers start once the reader has made its first read: on a
    // loaded 2-core machine the reader could otherwise be scheduled only
    // after all 800 commits, and every read would see one version.
    let reader_started = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for w in 0..2 {
            let (store, t, rids, done, commits) = (store, &t, &rids, &writers_done, &commits);
            let reader_started = &reader_started;
            s.spawn(move || {
                while !reader_started.load(Ordering::Acquire) {
                    std::thread::yield_now();
                }
                for n in 1..=COMMITS_PER_WRITER as i64 {
                    let mut tx = store.begin();
                    for (&id, &rid) in rids.iter().filter(|(id, _)| *id % 2 == w) {
                        tx.update(t, rid, vec![Value::Integer(id), Value::Integer(n)])
                            .expect("update");
                    }
                    store.commit(tx).expect("disjoint rows: no conflict");
                    commits.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(std::time::Duration::from_micros(WRITER_PAUSE_US));
                }
                done.fetch_add(1, Ordering::Release);
            });
        }
        let mut versions = std::collections::BTreeSet::new();
        let mut reads = 0;
        while reads < MIN_READS || writers_done.load(Ordering::Acquire) < 2 {
            versions.insert(proven_scan(store, None).expect("proven read"));
            reads += 1;
            reader_started.store(true, Ordering::Release);
        }
        assert!(
            versions.len() > 1,
            "the writers committed between reads ({} commits)",
            commits.load(Ordering::Relaxed)
        );
    });
}

#[test]
fn proven_reads_share_one_version_under_writes_in_memory() {
    proven_reads_under_writes(&Store::new());
}

#[test]
fn proven_reads_share_one_version_under_writes_on_disk() {
    let fs = SimFs::new();
    let options = OpenOptions {
        fs: Arc::new(fs),
        ..OpenOptions::default()
    };
    proven_reads_under_writes(&Store::open(Path::new("/db"), options).expect("open"));
}

#[test]
fn a_transaction_is_proven_at_its_snapshot_only_without_writes() {
    let store = Store::new();
    let (t, rids) = counters(&store);
    // Uncommitted writes: no version holds them.
    let mut tx = store.begin();
    tx.update(&t, rids[&1], vec![Value::Integer(1), Value::Integer(9)])
        .expect("update");
    let err = proven_scan(&store, Some(&tx)).expect_err("writes");
    assert_eq!(err.kind(), ErrorKind::Transaction, "{err:?}");
    drop(tx);
    // Read-only at the newest version: proven at its snapshot.
    let tx = store.begin();
    let version = proven_scan(&store, Some(&tx)).expect("read-only, newest");
    assert_eq!(version, store.head().version);
    // A commit since it began: its snapshot is no longer provable.
    let mut w = store.begin();
    w.update(&t, rids[&2], vec![Value::Integer(2), Value::Integer(5)])
        .expect("update");
    store.commit(w).expect("commit");
    let err = proven_scan(&store, Some(&tx)).expect_err("stale snapshot");
    assert_eq!(err.kind(), ErrorKind::Transaction, "{err:?}");
    // Outside it, the newest version.
    assert_eq!(
        proven_scan(&store, None).expect("newest"),
        store.head().version
    );
}

#[test]
fn a_schema_change_during_the_read_is_a_conflict() {
    let store = Store::new();
    let (t, _) = counters(&store);
    std::thread::scope(|s| {
        let err = store
            .read_proven("counters", None, |tx, t| {
                // ALTER TABLE installs its change, then waits for the lock
                // this reader runs under to reconcile the tries.
                let alter = s.spawn(|| {
                    let mut c = column("m", DataType::Integer);
                    c.nullable = true;
                    store
                        .add_column(
                            "counters",
                            c,
                            "CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER, m INTEGER)"
                                .into(),
                        )
                        .expect("alter")
                });
                while t.schema().columns.len() == 2 {
                    std::thread::yield_now();
                }
                let rows = scan(tx, t)?;
                let keys = rows.iter().map(|r| r[..1].to_vec()).collect();
                Ok((alter, keys))
            })
            .err()
            .expect("conflict");
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err:?}");
    });
    assert_eq!(t.schema().columns.len(), 3);
    proven_scan(&store, None).expect("after the change");
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "lock order")]
fn the_reader_cannot_take_the_merkle_lock_again() {
    let store = Store::new();
    counters(&store);
    let _ = store.read_proven("counters", None, |tx, _| {
        let head = tx.store().head();
        Ok((head, Vec::new()))
    });
}
