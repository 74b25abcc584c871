//! Verifiable state at the API level (issue #5): state roots per commit,
//! their determinism (insert order, threads, segment layout, compaction,
//! checkpoint, WAL replay), row inclusion and absence proofs, SQL access,
//! and the history between versions.

use std::sync::Arc;

use cairn::fs::SimFs;
use cairn::{params, Database, OpenOptions, RowFinding, Value};
use cairn_merkle::{CommitHead, HistoryProof, RowProof};

fn sim(fs: &SimFs) -> Database {
    Database::open_with(
        "/db",
        OpenOptions {
            fs: Arc::new(fs.clone()),
            ..OpenOptions::default()
        },
    )
    .expect("open")
}

const SCHEMA: &str =
    "CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT, score REAL, v VECTOR(3));
     CREATE TABLE tags (tag TEXT, n INTEGER);
     CREATE VIEW top AS SELECT id FROM docs WHERE score > 0.5;";

fn row(i: i64) -> (i64, String, f64, String) {
    (
        i,
        format!("doc {i}"),
        (i % 10) as f64 / 10.0,
        format!("[{}, {}, {}]", i % 7, (i * 3) % 11, -(i % 5)),
    )
}

fn insert_docs(db: &Database, ids: &[i64]) {
    for chunk in ids.chunks(50) {
        insert_docs_in_one_commit(db, chunk);
    }
}

/// A deterministic shuffle (no RNG dependency needed).
fn shuffled(n: i64, seed: u64) -> Vec<i64> {
    let mut v: Vec<i64> = (1..=n).collect();
    let mut s = seed | 1;
    for i in (1..v.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v.swap(i, (s % (i as u64 + 1)) as usize);
    }
    v
}

fn fresh(ids: &[i64]) -> Database {
    let db = Database::open_in_memory().expect("db");
    db.execute_batch(SCHEMA).expect("schema");
    insert_docs(&db, ids);
    db
}

#[test]
fn roots_do_not_depend_on_insert_order_threads_or_layout() {
    let n = 600;
    let a = fresh(&shuffled(n, 1));
    let b = fresh(&shuffled(n, 2));
    let reference = a.state_root();
    assert_eq!(reference, b.state_root(), "two insert orders");

    // Two threads inserting disjoint halves concurrently.
    let c = Database::open_in_memory().expect("db");
    c.execute_batch(SCHEMA).expect("schema");
    let ids = shuffled(n, 3);
    let (left, right) = ids.split_at(ids.len() / 2);
    std::thread::scope(|s| {
        for half in [left, right] {
            let conn = c.connect();
            s.spawn(move || insert_docs(&conn, half));
        }
    });
    assert_eq!(reference, c.state_root(), "two threads");

    // Updating and restoring a row changes its version, so the root moves.
    a.execute("UPDATE docs SET title = 'x' WHERE id = 5", params![])
        .expect("update");
    assert_ne!(a.state_root(), reference);

    // The root of a snapshot: SQL sees the same hex.
    let hex: String = b
        .query_row("SELECT cairn_state_root()", params![], |r| r.get(0))
        .expect("sql root");
    assert_eq!(hex, b.state_root().to_hex());
}

#[test]
fn roots_survive_sealed_segments_compaction_checkpoint_and_replay() {
    // Enough rows to seal segments, in two different orders.
    let n = (cairn_storage::SEGMENT_ROWS_TARGET as i64) + 500;
    let ids_a = shuffled(n, 7);
    let a = fresh(&ids_a);
    let root = a.state_root();
    let fs = SimFs::new();
    {
        let db = sim(&fs);
        db.execute_batch(SCHEMA).expect("schema");
        db.execute(
            "CREATE INDEX docs_v ON docs USING hnsw (v vector_l2_ops)",
            params![],
        )
        .expect("index");
        insert_docs(&db, &shuffled(n, 8));
        assert_eq!(
            db.state_root(),
            root,
            "on disk, other order, sealed segments"
        );
        db.compact_vector_indexes().expect("compact");
        assert_eq!(db.state_root(), root, "after compaction");
        db.checkpoint().expect("checkpoint");
        assert_eq!(db.state_root(), root, "after checkpoint");
        // Some commits after the checkpoint: replayed from the WAL.
        db.execute("DELETE FROM docs WHERE id <= 10", params![])
            .expect("delete");
        db.execute("UPDATE docs SET score = 0.25 WHERE id = 11", params![])
            .expect("update");
    }
    let db = sim(&fs);
    a.execute("DELETE FROM docs WHERE id <= 10", params![])
        .expect("delete");
    a.execute("UPDATE docs SET score = 0.25 WHERE id = 11", params![])
        .expect("update");
    assert_eq!(db.state_root(), a.state_root(), "after reopen + replay");
    let head = db.head();
    // A second checkpoint, reopen: same root, same history.
    db.checkpoint().expect("checkpoint");
    drop(db);
    let db = sim(&fs);
    assert_eq!(db.head(), head, "history survives checkpoint + reopen");
}

fn verify(proof: &RowProof, root: &cairn::Hash) -> RowFinding {
    // Through both wire formats, as a verifier would receive it.
    let bin = RowProof::from_bytes(&proof.to_bytes().expect("encode")).expect("decode");
    let json = RowProof::from_json(&proof.to_json().expect("json")).expect("parse");
    assert_eq!(&bin, proof);
    assert_eq!(&json, proof);
    proof.verify(root).expect("valid proof")
}

#[test]
fn row_proofs_show_presence_and_absence() {
    let db = fresh(&shuffled(300, 4));
    db.execute("UPDATE docs SET title = 'changed' WHERE id = 7", params![])
        .expect("update");
    let (p, head) = db.prove_row("docs", &[Value::Integer(7)]).expect("prove");
    assert_eq!(head, db.head());
    match verify(&p, &head.state_root) {
        RowFinding::Present { version, row } => {
            assert_eq!(version, 2, "updated once");
            assert_eq!(row.len(), 4);
            assert_eq!(row[1], cairn_merkle::CanonValue::Text("changed".into()));
        }
        RowFinding::Absent => panic!("row 7 exists"),
    }
    // A key given as text is coerced to the key column's type.
    let (p2, _) = db
        .prove_row("docs", &[Value::text("7")])
        .expect("prove text key");
    assert_eq!(p2, p);
    for missing in [0, 301, 10_000] {
        let (p, head) = db
            .prove_row("docs", &[Value::Integer(missing)])
            .expect("prove absent");
        assert_eq!(verify(&p, &head.state_root), RowFinding::Absent);
    }
    // A table without a primary key: the whole row is the key.
    let (p, head) = db
        .prove_row("tags", &[Value::text("t1"), Value::Integer(1)])
        .expect("prove tag");
    match verify(&p, &head.state_root) {
        RowFinding::Present { version, .. } => assert!(version > 1, "multiplicity {version}"),
        RowFinding::Absent => panic!("tag row exists"),
    }
    // Against an older root, the proof fails.
    let old = db.head_at_version(2).expect("version 2");
    assert!(p.verify(&old.state_root).is_err());
    // Wrong key arity and unknown tables are errors, not proofs.
    assert!(db.prove_row("docs", &[]).is_err());
    assert!(db.prove_row("nope", &[Value::Integer(1)]).is_err());
    // From SQL.
    let json: String = db
        .query_row("SELECT cairn_prove('docs', 7)", params![], |r| r.get(0))
        .expect("sql proof");
    let from_sql = RowProof::from_json(&json).expect("parse sql proof");
    assert!(from_sql.verify(&db.state_root()).is_ok());
}

#[test]
fn history_proofs_link_versions() {
    let db = Database::open_in_memory().expect("db");
    db.execute_batch(SCHEMA).expect("schema");
    let first = db.head();
    let mut heads = vec![first];
    for i in 1..=20 {
        insert_docs(&db, &[i]);
        heads.push(db.head());
    }
    let newest = db.head();
    assert!(newest.version > first.version);
    for old in &heads {
        let p = db
            .prove_history(old.version, newest.version)
            .expect("history proof");
        let bin = HistoryProof::from_bytes(&p.to_bytes().expect("encode")).expect("decode");
        let json = HistoryProof::from_json(&p.to_json().expect("json")).expect("parse");
        assert_eq!(bin, p);
        assert_eq!(json, p);
        assert_eq!(p.verify(old), Ok(newest));
        // A head that was never trusted is refused.
        let forged = CommitHead {
            state_root: newest.state_root,
            ..*old
        };
        if forged != *old {
            assert!(p.verify(&forged).is_err());
        }
    }
    assert_eq!(
        db.prove_consistency(first.version, newest.version)
            .expect("consistency")
            .verify(&first),
        Ok(newest)
    );
    assert!(db.prove_history(0, 1).is_err());
    assert!(db.prove_history(3, 2).is_err());
    assert!(db.prove_history(1, newest.version + 1).is_err());
    // cairn_state_root(version) reads an earlier version's root.
    let v = heads[3].version as i64;
    let hex: String = db
        .query_row("SELECT cairn_state_root($1)", params![v], |r| r.get(0))
        .expect("root at version");
    assert_eq!(hex, heads[3].state_root.to_hex());
}

#[test]
fn key_swaps_within_one_commit_match_a_fresh_table() {
    // Rows 1 and 2 trade keys in one commit: each old key goes away before
    // any new key is written, so neither row is lost.
    let db = fresh(&[1, 2, 3]);
    db.execute_batch(
        "BEGIN;
         UPDATE docs SET id = 100 WHERE id = 1;
         UPDATE docs SET id = 1 WHERE id = 2;
         UPDATE docs SET id = 2 WHERE id = 100;
         COMMIT;",
    )
    .expect("swap keys");
    // The same rows inserted directly at their new keys (version 1 each: a
    // row that moves to a new key starts a new version count).
    let other = Database::open_in_memory().expect("db");
    other.execute_batch(SCHEMA).expect("schema");
    other.execute("BEGIN", params![]).expect("begin");
    for (new_id, i) in [(2i64, 1i64), (1, 2), (3, 3)] {
        let (_, t, s, v) = row(i);
        other
            .execute(
                "INSERT INTO docs VALUES ($1, $2, $3, $4)",
                params![new_id, t, s, v],
            )
            .expect("insert");
        other
            .execute(
                "INSERT INTO tags VALUES ($1, $2)",
                params![format!("t{}", i % 3), i % 2],
            )
            .expect("tag");
    }
    other.execute("COMMIT", params![]).expect("commit");
    assert_eq!(db.state_root(), other.state_root());
    let (p, head) = db.prove_row("docs", &[Value::Integer(1)]).expect("prove");
    assert!(matches!(
        p.verify(&head.state_root),
        Ok(RowFinding::Present { version: 1, .. })
    ));
}

#[test]
fn query_proofs_cover_rows_and_nearest_neighbour_order() {
    let db = fresh(&shuffled(200, 9));
    db.execute("CREATE INDEX docs_v ON docs USING hnsw (v)", params![])
        .expect("index");
    // A filtered query with its own projection and ORDER BY position.
    let p = db
        .query_with_proof(
            "SELECT title, id * 10 AS x FROM docs WHERE score > 0.85 ORDER BY 2 DESC LIMIT 5",
            params![],
        )
        .expect("query with proof");
    assert_eq!(p.rows.len(), 5);
    assert_eq!(p.rows.columns().len(), 2);
    let rows = p.proof.verify(&p.head.state_root).expect("valid");
    assert_eq!(rows.len(), 5);
    // The first column of the proven row is the id: x = id * 10.
    for (r, proven) in p.rows.iter().zip(&rows) {
        let x: i64 = r.get(1).expect("x");
        assert_eq!(proven[0], cairn_merkle::CanonValue::Integer(x / 10));
    }
    assert!(p.proof.order.is_none());
    // Nearest neighbours: distances and order verified from the vectors.
    for op in ["<->", "<=>", "<#>"] {
        let sql = format!("SELECT id FROM docs ORDER BY v {op} $1 LIMIT 7");
        let p = db
            .query_with_proof(&sql, params!["[1, 2, -1]"])
            .expect("knn with proof");
        assert_eq!(p.rows.len(), 7);
        let order = p.proof.order.as_ref().expect("distance order");
        assert_eq!(order.query, vec![1.0, 2.0, -1.0]);
        assert_eq!(order.column, 3);
        p.proof.verify(&p.head.state_root).expect("valid knn proof");
        // Through JSON and binary.
        let json =
            cairn_merkle::QueryProof::from_json(&p.proof.to_json().expect("json")).expect("parse");
        assert_eq!(json, p.proof);
        let bin = cairn_merkle::QueryProof::from_bytes(&p.proof.to_bytes().expect("bytes"))
            .expect("decode");
        assert_eq!(bin, p.proof);
        // Swapping two rows breaks the order (unless they tie).
        let mut swapped = p.proof.clone();
        swapped.rows.swap(0, 6);
        if let Some(o) = swapped.order.as_mut() {
            o.distances.swap(0, 6);
        }
        if order.distances[0] != order.distances[6] {
            assert!(swapped.verify(&p.head.state_root).is_err(), "{op}");
        }
        // A changed distance is caught.
        let mut lied = p.proof.clone();
        if let Some(o) = lied.order.as_mut() {
            o.distances[3] += 0.5;
        }
        assert!(lied.verify(&p.head.state_root).is_err(), "{op}");
    }
    // Joins and aggregates are refused with a clear error.
    assert!(db
        .query_with_proof("SELECT count(*) FROM docs", params![])
        .is_err());
    assert!(db
        .query_with_proof("SELECT * FROM docs, tags", params![])
        .is_err());
}

#[test]
fn descending_distance_orders_carry_row_proofs_only() {
    let db = fresh(&shuffled(50, 5));
    let p = db
        .query_with_proof(
            "SELECT id FROM docs ORDER BY v <-> '[0, 0, 0]' DESC LIMIT 3",
            params![],
        )
        .expect("query");
    assert!(p.proof.order.is_none());
    assert_eq!(p.proof.verify(&p.head.state_root).expect("valid").len(), 3);
}

#[test]
fn integrity_check_recomputes_the_state_root() {
    let fs = SimFs::new();
    let db = sim(&fs);
    db.execute_batch(SCHEMA).expect("schema");
    insert_docs(&db, &shuffled(100, 6));
    db.execute("UPDATE docs SET title = 'y' WHERE id < 5", params![])
        .expect("update");
    let ok: String = db
        .query_row("PRAGMA integrity_check", params![], |r| r.get(0))
        .expect("check");
    assert_eq!(ok, "ok");
    db.checkpoint().expect("checkpoint");
    drop(db);
    let db = sim(&fs);
    let ok: String = db
        .query_row("PRAGMA integrity_check", params![], |r| r.get(0))
        .expect("check");
    assert_eq!(ok, "ok");
    // Versions survived the checkpoint: row 3 was updated once.
    let (p, head) = db.prove_row("docs", &[Value::Integer(3)]).expect("prove");
    assert!(matches!(
        p.verify(&head.state_root),
        Ok(RowFinding::Present { version: 2, .. })
    ));
}

#[test]
fn a_row_inserted_and_deleted_in_one_transaction_leaves_no_trace() {
    let fs = SimFs::new();
    let db = sim(&fs);
    db.execute_batch(SCHEMA).expect("schema");
    insert_docs(&db, &[1, 2]);
    let before = db.state_root();
    db.execute_batch(
        "BEGIN;
         INSERT INTO docs VALUES (9, 'tmp', 0.1, '[1, 1, 1]');
         DELETE FROM docs WHERE id = 9;
         COMMIT;",
    )
    .expect("insert + delete");
    assert_eq!(db.state_root(), before);
    let head = db.head();
    drop(db);
    // The WAL holds nothing for the row: reopening replays cleanly.
    let db = sim(&fs);
    assert_eq!(db.head(), head);
}

#[test]
fn distance_order_by_alias_or_position_is_proven() {
    let db = fresh(&shuffled(60, 11));
    for sql in [
        "SELECT id, v <-> '[1, 1, 1]' AS d FROM docs ORDER BY d LIMIT 4",
        "SELECT id, v <-> '[1, 1, 1]' FROM docs ORDER BY 2 LIMIT 4",
    ] {
        let p = db.query_with_proof(sql, params![]).expect("query");
        let order = p.proof.order.as_ref().expect("distance order");
        for (r, d) in p.rows.iter().zip(&order.distances) {
            let shown: f64 = r.get(1).expect("distance");
            assert_eq!(shown, *d, "{sql}");
        }
        p.proof.verify(&p.head.state_root).expect("valid");
    }
}

#[test]
fn without_state_roots_the_functions_say_so() {
    let fs = SimFs::new();
    let db = Database::open_with(
        "/db",
        OpenOptions {
            fs: Arc::new(fs.clone()),
            state_roots: false,
            ..OpenOptions::default()
        },
    )
    .expect("open");
    db.execute_batch(SCHEMA).expect("schema");
    insert_docs(&db, &[1, 2, 3]);
    assert!(db.query("SELECT cairn_state_root()", params![]).is_err());
    assert!(db.prove_row("docs", &[Value::Integer(1)]).is_err());
    drop(db);
    // Opened with roots on, the WAL replay rebuilds the same roots a
    // database that always kept them has.
    let db = sim(&fs);
    assert_eq!(db.state_root(), fresh(&[1, 2, 3]).state_root());
}

#[test]
fn history_after_a_failed_commit_is_the_same_after_reopen() {
    let fs = SimFs::new();
    let db = sim(&fs);
    db.execute_batch(SCHEMA).expect("schema");
    insert_docs(&db, &[1, 2]);
    fs.inject(1, cairn::fs::Fault::Eio);
    db.execute(
        "INSERT INTO docs VALUES (3, 'x', 0.5, '[1, 2, 3]')",
        params![],
    )
    .expect_err("the WAL write fails");
    // DDL and a commit after the failure: their records must not carry the
    // failed commit's timestamp, or replay would give other roots.
    db.execute_batch("CREATE TABLE later (k INTEGER PRIMARY KEY); INSERT INTO later VALUES (1)")
        .expect("after the fault");
    let head = db.head();
    let mid = db.head_at_version(head.version - 1).expect("ddl version");
    drop(db);
    let db = sim(&fs);
    assert_eq!(db.head(), head);
    assert_eq!(db.head_at_version(head.version - 1), Some(mid));
}

#[test]
fn verify_key_checks_the_question() {
    use cairn_merkle::{CanonValue, VerifyError};
    let db = fresh(&[1, 2, 3]);
    let (p, head) = db.prove_row("docs", &[Value::Integer(2)]).expect("prove");
    assert!(p
        .verify_key("DOCS", &[CanonValue::Integer(2)], &head.state_root)
        .is_ok());
    assert_eq!(
        p.verify_key("docs", &[CanonValue::Integer(3)], &head.state_root),
        Err(VerifyError::WrongQuestion)
    );
    assert_eq!(
        p.verify_key("tags", &[CanonValue::Integer(2)], &head.state_root),
        Err(VerifyError::WrongQuestion)
    );
}

/// Writers updating their own rows while readers prove and read roots:
/// every proof verifies against the head it came with, versions only grow,
/// and the final root equals the same history written by one thread.
#[test]
fn concurrent_writers_and_provers_agree() {
    const WRITERS: i64 = 4;
    const UPDATES: i64 = 150;
    let setup = |db: &Database| {
        db.execute_batch("CREATE TABLE c (k INTEGER PRIMARY KEY, n INTEGER)")
            .expect("schema");
        for k in 0..WRITERS {
            db.execute("INSERT INTO c VALUES ($1, 0)", params![k])
                .expect("insert");
        }
    };
    let db = Database::open_in_memory().expect("db");
    setup(&db);
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for k in 0..WRITERS {
            let conn = db.connect();
            s.spawn(move || {
                for _ in 0..UPDATES {
                    conn.execute("UPDATE c SET n = n + 1 WHERE k = $1", params![k])
                        .expect("update");
                }
            });
        }
        let reader = db.connect();
        let done = &done;
        s.spawn(move || {
            let mut last = 0;
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                let (p, head) = reader.prove_row("c", &[Value::Integer(0)]).expect("prove");
                match p.verify(&head.state_root).expect("valid") {
                    RowFinding::Present { version, row } => {
                        assert!(version >= last, "version went back: {version} < {last}");
                        assert_eq!(
                            row[1],
                            cairn_merkle::CanonValue::Integer(version as i64 - 1),
                            "the proven row is the version's row"
                        );
                        last = version;
                    }
                    RowFinding::Absent => panic!("row 0 exists"),
                }
            }
        });
        // Writers first (scope joins in spawn order is not guaranteed):
        // wait for the counts, then stop the reader.
        loop {
            let n: i64 = db
                .query_row("SELECT sum(n) FROM c", params![], |r| r.get(0))
                .expect("sum");
            if n == WRITERS * UPDATES {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        done.store(true, std::sync::atomic::Ordering::Release);
    });
    let one = Database::open_in_memory().expect("db");
    setup(&one);
    for k in 0..WRITERS {
        for _ in 0..UPDATES {
            one.execute("UPDATE c SET n = n + 1 WHERE k = $1", params![k])
                .expect("update");
        }
    }
    assert_eq!(db.state_root(), one.state_root());
    assert_eq!(db.head().version, one.head().version);
}

/// Commits of 256 rows or more update the two halves of a table's trie on
/// two threads (on a machine with two cores or more); the roots equal those
/// of the same changes made one row per commit (one thread), and
/// `integrity_check` rebuilds the same tries.
#[test]
fn large_commits_on_two_threads_match_one_row_commits() {
    let n = 1500i64;
    let big = Database::open_in_memory().expect("db");
    big.execute_batch(SCHEMA).expect("schema");
    let small = Database::open_in_memory().expect("db");
    small.execute_batch(SCHEMA).expect("schema");

    // Inserts: one transaction of 1,500 rows against 1,500 commits.
    insert_docs_in_one_commit(&big, &shuffled(n, 9));
    for i in shuffled(n, 10) {
        insert_docs_in_one_commit(&small, &[i]);
    }
    assert_eq!(big.state_root(), small.state_root(), "after inserts");

    // Updates in place (version 2), deletes, and rows moving to new keys
    // (version 1 there), each statement one commit of 256 rows or more.
    big.execute(
        "UPDATE docs SET title = title || '!' WHERE id % 3 = 0",
        params![],
    )
    .expect("update");
    big.execute("DELETE FROM docs WHERE id % 5 = 0", params![])
        .expect("delete");
    big.execute(
        "UPDATE docs SET id = id + 10000 WHERE id % 4 = 2",
        params![],
    )
    .expect("move keys");
    big.execute(
        "UPDATE docs SET score = score + 1 WHERE id % 3 = 1",
        params![],
    )
    .expect("score");
    for i in 1..=n {
        if i % 3 == 0 {
            small
                .execute(
                    "UPDATE docs SET title = title || '!' WHERE id = $1",
                    params![i],
                )
                .expect("update");
        }
    }
    for i in 1..=n {
        if i % 5 == 0 {
            small
                .execute("DELETE FROM docs WHERE id = $1", params![i])
                .expect("delete");
        }
    }
    for i in 1..=n {
        if i % 4 == 2 && i % 5 != 0 {
            small
                .execute(
                    "UPDATE docs SET id = $1 WHERE id = $2",
                    params![i + 10000, i],
                )
                .expect("move");
        }
    }
    let moved: Vec<i64> = small
        .query("SELECT id FROM docs WHERE id % 3 = 1", params![])
        .and_then(|r| r.fetch_all())
        .expect("ids")
        .iter()
        .map(|r| r.get(0).expect("id"))
        .collect();
    for i in moved {
        small
            .execute(
                "UPDATE docs SET score = score + 1 WHERE id = $1",
                params![i],
            )
            .expect("score");
    }
    assert_eq!(big.state_root(), small.state_root(), "after updates");

    // Every row up to 1,500 moves to the next key in one commit: most keys
    // are both removed (by one row) and written (by another).
    big.execute_batch(
        "BEGIN;
         UPDATE docs SET id = id + 100000 WHERE id <= 1500;
         UPDATE docs SET id = id - 99999 WHERE id > 100000;
         COMMIT;",
    )
    .expect("shift keys");
    let mut present: Vec<i64> = small
        .query("SELECT id FROM docs WHERE id <= 1500", params![])
        .and_then(|r| r.fetch_all())
        .expect("ids")
        .iter()
        .map(|r| r.get(0).expect("id"))
        .collect();
    present.sort_unstable_by(|a, b| b.cmp(a));
    for i in present {
        small
            .execute("UPDATE docs SET id = $1 WHERE id = $2", params![i + 1, i])
            .expect("shift");
    }
    assert_eq!(big.state_root(), small.state_root(), "after the shift");
    let ok: String = big
        .query_row("PRAGMA integrity_check", params![], |r| r.get(0))
        .expect("check");
    assert_eq!(ok, "ok");
    for id in [4i64, 6 + 10000, 7, 11, 14] {
        let (a, head_a) = big.prove_row("docs", &[Value::Integer(id)]).expect("prove");
        let (b, head_b) = small
            .prove_row("docs", &[Value::Integer(id)])
            .expect("prove");
        assert_eq!(
            a.verify(&head_a.state_root),
            b.verify(&head_b.state_root),
            "id {id}"
        );
    }
}

fn insert_docs_in_one_commit(db: &Database, ids: &[i64]) {
    db.execute("BEGIN", params![]).expect("begin");
    for &i in ids {
        let (id, t, s, v) = row(i);
        db.execute(
            "INSERT INTO docs VALUES ($1, $2, $3, $4)",
            params![id, t, s, v],
        )
        .expect("insert");
        db.execute(
            "INSERT INTO tags VALUES ($1, $2)",
            params![format!("t{}", i % 3), i % 2],
        )
        .expect("insert tag");
    }
    db.execute("COMMIT", params![]).expect("commit");
}
