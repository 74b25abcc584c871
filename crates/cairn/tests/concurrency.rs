//! Snapshot isolation under concurrency, through the public API: a bank of
//! accounts hammered by transfer threads while a reader checks that every
//! snapshot it sees is consistent, plus small deterministic tests of
//! first-committer-wins, repeatable reads, read-your-own-writes and
//! rollback on drop.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cairn::{params, Database, Error, ErrorKind};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const ACCOUNTS: i64 = 100;
const START_BALANCE: i64 = 1000;
const TOTAL: i64 = ACCOUNTS * START_BALANCE;
const THREADS: usize = 8;
const TRANSFERS: usize = 10_000;

fn bank() -> Database {
    let db = Database::open_in_memory().expect("open database");
    db.execute(
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)",
        params![],
    )
    .expect("create accounts");
    let tx = db.transaction().expect("begin load");
    {
        let mut ins = tx
            .prepare("INSERT INTO accounts (id, balance) VALUES ($1, $2)")
            .expect("prepare insert");
        for id in 1..=ACCOUNTS {
            ins.execute(params![id, START_BALANCE])
                .expect("insert account");
        }
    }
    tx.commit().expect("commit load");
    db
}

fn is_conflict(e: &Error) -> bool {
    e.kind() == ErrorKind::Conflict
}

/// What one transfer attempt did.
enum Attempt {
    Done,
    Skipped,
    Conflict,
}

/// One transfer attempt in an explicit transaction: read both balances, and
/// if the source can pay, write both and commit.
fn try_transfer(
    conn: &Database,
    read: &mut cairn::Statement<'_>,
    write: &mut cairn::Statement<'_>,
    from: i64,
    to: i64,
    amount: i64,
) -> Attempt {
    let tx = conn.transaction().expect("begin transfer");
    let step = |r: cairn::Result<()>| -> Option<Attempt> {
        match r {
            Ok(()) => None,
            Err(e) if is_conflict(&e) => Some(Attempt::Conflict),
            Err(e) => panic!("transfer {from}->{to} ({amount}) failed: {e}"),
        }
    };
    let mut balances = [0i64; 2];
    for (slot, id) in [from, to].into_iter().enumerate() {
        match read.query_row(params![id], |r| r.get::<i64>(0)) {
            Ok(b) => balances[slot] = b,
            Err(e) => {
                if let Some(a) = step(Err(e)) {
                    return a;
                }
            }
        }
    }
    let [src, dst] = balances;
    assert!(
        src >= 0 && dst >= 0,
        "negative balance inside a transaction: {from}={src}, {to}={dst}"
    );
    if src < amount {
        // Nothing written: rolls back on drop.
        drop(tx);
        return Attempt::Skipped;
    }
    // Absolute values computed from the snapshot: without first-committer-
    // wins this would lose updates and break the total.
    for (id, balance) in [(from, src - amount), (to, dst + amount)] {
        let r = write.execute(params![balance, id]).map(|n| {
            assert_eq!(n, 1, "UPDATE of account {id} changed {n} rows");
        });
        if let Some(a) = step(r) {
            return a;
        }
    }
    match step(tx.commit()) {
        Some(a) => a,
        None => Attempt::Done,
    }
}

#[derive(Default)]
struct Counters {
    done: AtomicU64,
    skipped: AtomicU64,
    retries: AtomicU64,
}

/// Checks one snapshot three ways; returns whether it differs from the
/// initial state (so the reader provably saw the writers' work).
fn check_snapshot(conn: &Database, read_one: &mut cairn::Statement<'_>) -> cairn::Result<bool> {
    let tx = conn.transaction()?;
    let (sum, min): (i64, i64) = tx.query_row(
        "SELECT sum(balance), min(balance) FROM accounts",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    assert_eq!(sum, TOTAL, "aggregate over one snapshot lost money");
    assert!(min >= 0, "negative balance {min} in a snapshot");
    // The same snapshot, row by row: many statements, one snapshot.
    let mut by_row = 0;
    let mut changed = false;
    for id in 1..=ACCOUNTS {
        let b: i64 = read_one.query_row(params![id], |r| r.get(0))?;
        assert!(b >= 0, "account {id} has negative balance {b}");
        changed |= b != START_BALANCE;
        by_row += b;
    }
    assert_eq!(by_row, TOTAL, "row-by-row sum over one snapshot lost money");
    let again: i64 = tx.query_row("SELECT sum(balance) FROM accounts", params![], |r| r.get(0))?;
    assert_eq!(
        again, TOTAL,
        "second aggregate in the same snapshot differs"
    );
    tx.commit()?;
    Ok(changed)
}

#[test]
fn transfers_conserve_money_under_snapshot_isolation() {
    let started = Instant::now();
    let db = bank();
    let counters = Counters::default();
    let writers_done = AtomicBool::new(false);
    let snapshots = AtomicU64::new(0);

    std::thread::scope(|s| {
        let reader_conn = db.connect();
        let (snapshots, writers_done) = (&snapshots, &writers_done);
        let reader = s.spawn(move || {
            let conn = reader_conn;
            let mut read_one = conn
                .prepare("SELECT balance FROM accounts WHERE id = $1")
                .expect("prepare reader");
            // At least a few snapshots even if the writers finish first.
            let mut saw_change = false;
            while !writers_done.load(Ordering::Acquire) || snapshots.load(Ordering::Relaxed) < 3 {
                saw_change |= check_snapshot(&conn, &mut read_one).expect("reader transaction");
                // Outside a transaction each statement is its own snapshot.
                let sum: i64 = conn
                    .query_row("SELECT sum(balance) FROM accounts", params![], |r| r.get(0))
                    .expect("autocommit sum");
                assert_eq!(sum, TOTAL, "autocommit aggregate lost money");
                snapshots.fetch_add(1, Ordering::Relaxed);
            }
            // One more after all writers finished: must see their work.
            let last = check_snapshot(&conn, &mut read_one).expect("final reader transaction");
            assert!(last && saw_change, "reader never saw a committed transfer");
        });

        let mut writers = Vec::new();
        for t in 0..THREADS {
            let conn = db.connect();
            let counters = &counters;
            // Split TRANSFERS as evenly as possible, summing exactly.
            let per_thread = TRANSFERS * (t + 1) / THREADS - TRANSFERS * t / THREADS;
            writers.push(s.spawn(move || {
                let mut rng = StdRng::seed_from_u64(0xBA4C + t as u64);
                let mut read = conn
                    .prepare("SELECT balance FROM accounts WHERE id = $1")
                    .expect("prepare read");
                let mut write = conn
                    .prepare("UPDATE accounts SET balance = $1 WHERE id = $2")
                    .expect("prepare write");
                for _ in 0..per_thread {
                    let from = rng.random_range(1..=ACCOUNTS);
                    let mut to = rng.random_range(1..ACCOUNTS);
                    if to >= from {
                        to += 1;
                    }
                    let amount = rng.random_range(1..=300);
                    loop {
                        match try_transfer(&conn, &mut read, &mut write, from, to, amount) {
                            Attempt::Done => {
                                counters.done.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                            Attempt::Skipped => {
                                counters.skipped.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                            Attempt::Conflict => {
                                counters.retries.fetch_add(1, Ordering::Relaxed);
                                std::thread::yield_now();
                            }
                        }
                    }
                    assert!(!conn.in_transaction(), "transaction left open");
                }
            }));
        }
        for w in writers {
            w.join().expect("writer thread panicked");
        }
        writers_done.store(true, Ordering::Release);
        reader.join().expect("reader thread panicked");
    });

    let done = counters.done.load(Ordering::Relaxed);
    let skipped = counters.skipped.load(Ordering::Relaxed);
    let retries = counters.retries.load(Ordering::Relaxed);
    let (sum, min, n): (i64, i64, i64) = db
        .query_row(
            "SELECT sum(balance), min(balance), count(*) FROM accounts",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("final totals");
    let elapsed = started.elapsed();
    eprintln!(
        "transfers: {done} done, {skipped} skipped, {retries} conflict retries; \
         {} reader snapshots; {:.2}s",
        snapshots.load(Ordering::Relaxed),
        elapsed.as_secs_f64()
    );
    assert_eq!(n, ACCOUNTS);
    assert_eq!(sum, TOTAL, "money was created or destroyed");
    assert!(min >= 0, "negative balance {min} at the end");
    assert_eq!(done + skipped, TRANSFERS as u64);
    assert!(done > 0, "no transfer succeeded");
    // Row-by-row check of the final state as well.
    let rows = db
        .query("SELECT id, balance FROM accounts ORDER BY id", params![])
        .and_then(|r| r.fetch_all())
        .expect("final rows");
    let balances = rows
        .map(|r| Ok((r.get::<i64>(0)?, r.get::<i64>(1)?)))
        .expect("read final rows");
    assert_eq!(balances.len(), ACCOUNTS as usize);
    assert_eq!(balances.iter().map(|(_, b)| b).sum::<i64>(), TOTAL);
    assert!(elapsed < Duration::from_secs(600), "took {elapsed:?}");
}

fn balance(db: &Database, id: i64) -> i64 {
    db.query_row(
        "SELECT balance FROM accounts WHERE id = $1",
        params![id],
        |r| r.get(0),
    )
    .expect("read balance")
}

#[test]
fn second_committer_of_the_same_row_gets_conflict() {
    let db = bank();
    let c1 = db.connect();
    let c2 = db.connect();
    let t1 = c1.transaction().expect("begin 1");
    let t2 = c2.transaction().expect("begin 2");
    t1.execute("UPDATE accounts SET balance = 1111 WHERE id = 1", params![])
        .expect("update in t1");
    // The engine may report the conflict at the write or at commit; either
    // way the second transaction must fail with Conflict.
    let second = t2
        .execute("UPDATE accounts SET balance = 2222 WHERE id = 1", params![])
        .map(|_| ());
    t1.commit().expect("first committer wins");
    let second = second.and_then(|()| t2.commit());
    match second {
        Err(e) => assert_eq!(e.kind(), ErrorKind::Conflict, "wrong error: {e}"),
        Ok(()) => panic!("second committer of the same row succeeded"),
    }
    assert!(
        !c2.in_transaction(),
        "failed commit left the transaction open"
    );
    assert_eq!(balance(&db, 1), 1111, "first committer's value must win");
    assert_eq!(balance(&c2, 1), 1111);

    // Same, with the second transaction writing after the first committed
    // (its snapshot still predates that commit).
    let t3 = c2.transaction().expect("begin 3");
    let seen = balance(&t3, 2);
    db.execute("UPDATE accounts SET balance = 7 WHERE id = 2", params![])
        .expect("autocommit update");
    let r = t3
        .execute(
            "UPDATE accounts SET balance = $1 WHERE id = 2",
            params![seen + 1],
        )
        .map(|_| ())
        .and_then(|()| t3.commit());
    assert_eq!(
        r.map_err(|e| e.kind()),
        Err(ErrorKind::Conflict),
        "write to a row changed after the snapshot must conflict"
    );
    assert_eq!(balance(&db, 2), 7);

    // Two transactions inserting the same new primary key.
    let t4 = c1.transaction().expect("begin 4");
    let t5 = c2.transaction().expect("begin 5");
    t4.execute("INSERT INTO accounts VALUES (500, 1)", params![])
        .expect("insert in t4");
    let r5 = t5
        .execute("INSERT INTO accounts VALUES (500, 2)", params![])
        .map(|_| ());
    t4.commit().expect("commit t4");
    let r5 = r5.and_then(|()| t5.commit());
    match r5 {
        Err(e) => assert!(
            matches!(e.kind(), ErrorKind::Conflict | ErrorKind::Constraint),
            "wrong error for a duplicate key from a concurrent insert: {e}"
        ),
        Ok(()) => panic!("two concurrent inserts of the same key both committed"),
    }
    assert_eq!(balance(&db, 500), 1);

    // Disjoint rows do not conflict.
    let t6 = c1.transaction().expect("begin 6");
    let t7 = c2.transaction().expect("begin 7");
    t6.execute("UPDATE accounts SET balance = 10 WHERE id = 10", params![])
        .expect("t6 write");
    t7.execute("UPDATE accounts SET balance = 11 WHERE id = 11", params![])
        .expect("t7 write");
    t6.commit().expect("commit t6");
    t7.commit().expect("commit t7 (disjoint rows)");
    assert_eq!((balance(&db, 10), balance(&db, 11)), (10, 11));
}

#[test]
fn snapshot_is_repeatable_and_isolated() {
    let db = bank();
    let reader = db.connect();
    let writer = db.connect();
    let count = |d: &Database| -> i64 {
        d.query_row("SELECT count(*) FROM accounts", params![], |r| r.get(0))
            .expect("count")
    };

    let snap = reader.transaction().expect("begin reader");
    assert_eq!(count(&snap), ACCOUNTS);
    assert_eq!(balance(&snap, 3), START_BALANCE);

    // Committed after the reader began: invisible to it.
    writer
        .execute("INSERT INTO accounts VALUES (101, 5)", params![])
        .expect("insert 101");
    writer
        .execute("UPDATE accounts SET balance = 1 WHERE id = 3", params![])
        .expect("update 3");
    writer
        .execute("DELETE FROM accounts WHERE id = 4", params![])
        .expect("delete 4");
    assert_eq!(count(&snap), ACCOUNTS, "reader saw a later insert/delete");
    assert_eq!(
        balance(&snap, 3),
        START_BALANCE,
        "reader saw a later update"
    );
    assert_eq!(
        balance(&snap, 4),
        START_BALANCE,
        "reader lost a later-deleted row"
    );
    let none = snap
        .query("SELECT * FROM accounts WHERE id = 101", params![])
        .and_then(|r| r.fetch_all())
        .expect("select 101");
    assert!(none.is_empty(), "reader saw a row inserted after it began");
    let total: i64 = snap
        .query_row("SELECT sum(balance) FROM accounts", params![], |r| r.get(0))
        .expect("sum");
    assert_eq!(total, TOTAL);
    snap.commit().expect("commit reader");

    // A new transaction sees everything.
    assert_eq!(count(&reader), ACCOUNTS); // +101, -4
    assert_eq!(balance(&reader, 3), 1);
    assert_eq!(balance(&reader, 101), 5);

    // Own uncommitted writes are visible to the writer only.
    let tx = writer.transaction().expect("begin writer");
    tx.execute("INSERT INTO accounts VALUES (200, 42)", params![])
        .expect("insert 200");
    tx.execute("UPDATE accounts SET balance = 43 WHERE id = 5", params![])
        .expect("update 5");
    tx.execute("DELETE FROM accounts WHERE id = 6", params![])
        .expect("delete 6");
    assert_eq!(
        balance(&tx, 200),
        42,
        "transaction cannot see its own insert"
    );
    assert_eq!(balance(&tx, 5), 43, "transaction cannot see its own update");
    assert_eq!(count(&tx), ACCOUNTS, "own insert + delete");
    let gone = tx
        .query("SELECT * FROM accounts WHERE id = 6", params![])
        .and_then(|r| r.fetch_all())
        .expect("select 6");
    assert!(gone.is_empty(), "transaction still sees a row it deleted");
    let own_sum: i64 = tx
        .query_row(
            "SELECT sum(balance) FROM accounts WHERE balance BETWEEN 40 AND 45",
            params![],
            |r| r.get(0),
        )
        .expect("own sum");
    assert_eq!(own_sum, 85);

    // Others do not see them.
    assert!(
        reader
            .query("SELECT * FROM accounts WHERE id = 200", params![])
            .and_then(|r| r.fetch_all())
            .expect("select 200 from reader")
            .is_empty(),
        "uncommitted insert leaked"
    );
    assert_eq!(
        balance(&reader, 5),
        START_BALANCE,
        "uncommitted update leaked"
    );
    assert_eq!(
        balance(&reader, 6),
        START_BALANCE,
        "uncommitted delete leaked"
    );
    tx.commit().expect("commit writer");
    assert_eq!(balance(&reader, 200), 42);
    assert_eq!(balance(&reader, 5), 43);
    assert!(reader
        .query("SELECT * FROM accounts WHERE id = 6", params![])
        .and_then(|r| r.fetch_all())
        .expect("select 6 after commit")
        .is_empty());
}

#[test]
fn dropped_transaction_rolls_back() {
    let db = bank();
    let other = db.connect();
    {
        let tx = db.transaction().expect("begin");
        tx.execute("INSERT INTO accounts VALUES (300, 1)", params![])
            .expect("insert");
        tx.execute("UPDATE accounts SET balance = 0 WHERE id = 7", params![])
            .expect("update");
        tx.execute("DELETE FROM accounts WHERE id = 8", params![])
            .expect("delete");
        assert!(db.in_transaction());
        // dropped without commit
    }
    assert!(!db.in_transaction(), "drop left the transaction open");
    for conn in [&db, &other] {
        assert!(conn
            .query("SELECT * FROM accounts WHERE id = 300", params![])
            .and_then(|r| r.fetch_all())
            .expect("select 300")
            .is_empty());
        assert_eq!(balance(conn, 7), START_BALANCE);
        assert_eq!(balance(conn, 8), START_BALANCE);
    }

    // Explicit rollback too, and the connection is usable afterwards.
    let tx = db.transaction().expect("begin 2");
    tx.execute("UPDATE accounts SET balance = 0 WHERE id = 9", params![])
        .expect("update 9");
    tx.rollback().expect("rollback");
    assert_eq!(balance(&db, 9), START_BALANCE);
    let tx = db.transaction().expect("begin 3");
    tx.execute("UPDATE accounts SET balance = 1 WHERE id = 9", params![])
        .expect("update 9 again");
    tx.commit().expect("commit 3");
    assert_eq!(balance(&other, 9), 1);
}
