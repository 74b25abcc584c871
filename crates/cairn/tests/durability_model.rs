//! Property test: random operation sequences (upserts, deletes, multi-row
//! transactions, checkpoints) run on the simulated disk with a crash at a
//! random file operation; the power-cut image must reopen to exactly the
//! acknowledged operations, plus possibly the one the crash interrupted —
//! checked against an in-memory model (a `BTreeMap`). Migrations rebuild
//! the table under its own name in one transaction (DDL and rows
//! together), committed or rolled back: a crash never leaves a half-done
//! one.

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn::fs::{Fault, SimFs};
use cairn::{params, Database, OpenOptions};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Upsert(i64, i64),
    Delete(i64),
    /// Several upserts in one transaction.
    Txn(Vec<(i64, i64)>),
    Checkpoint,
    /// In one transaction: copy the table to a new one, drop it, create
    /// it again, copy back, drop the copy, with upserts on the way; then
    /// commit (`true`) or roll back.
    Migrate(Vec<(i64, i64)>, bool),
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0i64..24;
    prop_oneof![
        5 => (key.clone(), any::<i64>()).prop_map(|(k, v)| Op::Upsert(k, v)),
        2 => key.clone().prop_map(Op::Delete),
        2 => prop::collection::vec((key, any::<i64>()), 1..5).prop_map(Op::Txn),
        1 => Just(Op::Checkpoint),
        1 => (prop::collection::vec((0i64..24, any::<i64>()), 0..3), any::<bool>())
            .prop_map(|(rows, commit)| Op::Migrate(rows, commit)),
    ]
}

type Model = BTreeMap<i64, i64>;

fn apply(model: &mut Model, op: &Op) {
    match op {
        Op::Upsert(k, v) => {
            model.insert(*k, *v);
        }
        Op::Delete(k) => {
            model.remove(k);
        }
        Op::Txn(rows) | Op::Migrate(rows, true) => {
            for (k, v) in rows {
                model.insert(*k, *v);
            }
        }
        Op::Checkpoint | Op::Migrate(_, false) => {}
    }
}

const UPSERT: &str = "INSERT INTO kv VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v";

fn run(db: &Database, op: &Op) -> cairn::Result<()> {
    match op {
        Op::Upsert(k, v) => db.execute(UPSERT, params![*k, *v]).map(|_| ()),
        Op::Delete(k) => db
            .execute("DELETE FROM kv WHERE k = $1", params![*k])
            .map(|_| ()),
        Op::Txn(rows) => {
            let tx = db.transaction()?;
            for (k, v) in rows {
                tx.execute(UPSERT, params![*k, *v])?;
            }
            tx.commit()
        }
        Op::Checkpoint => db.checkpoint(),
        Op::Migrate(rows, commit) => {
            let tx = db.transaction()?;
            tx.execute_batch(
                "CREATE TABLE kv_new (k INTEGER PRIMARY KEY, v INTEGER NOT NULL);
                 INSERT INTO kv_new SELECT k, v FROM kv;
                 DROP TABLE kv;",
            )?;
            for (k, v) in rows {
                tx.execute(
                    "INSERT INTO kv_new VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                    params![*k, *v],
                )?;
            }
            tx.execute_batch(
                "CREATE TABLE kv (k INTEGER PRIMARY KEY, v INTEGER NOT NULL);
                 INSERT INTO kv SELECT k, v FROM kv_new;
                 DROP TABLE kv_new;",
            )?;
            match commit {
                true => tx.commit(),
                false => tx.rollback(),
            }
        }
    }
}

fn open(fs: &SimFs) -> cairn::Result<Database> {
    Database::open_with(
        "/db",
        OpenOptions {
            fs: Arc::new(fs.clone()),
            ..OpenOptions::default()
        },
    )
}

/// Runs the workload on `fs`; returns the model of acknowledged operations
/// and the operation that failed (if any).
fn workload(fs: &SimFs, ops: &[Op]) -> (Option<Model>, Option<Op>) {
    let Ok(db) = open(fs) else {
        return (None, None);
    };
    if db
        .execute_batch("CREATE TABLE kv (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
        .is_err()
    {
        return (None, None);
    }
    let mut model = Model::new();
    for op in ops {
        if run(&db, op).is_err() {
            return (Some(model), Some(op.clone()));
        }
        apply(&mut model, op);
    }
    (Some(model), None)
}

fn read(db: &Database) -> Option<Model> {
    let rows = db
        .query("SELECT k, v FROM kv", params![])
        .and_then(|r| r.fetch_all())
        .ok()?;
    Some(
        rows.iter()
            .map(|r| (r.get::<i64>(0).expect("k"), r.get::<i64>(1).expect("v")))
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn crash_anywhere_keeps_exactly_the_acknowledged(
        ops in prop::collection::vec(op(), 1..30),
        crash_pick in any::<u64>(),
        seed in any::<u64>(),
    ) {
        // Count the file operations of a clean run, then crash at one.
        let clean = SimFs::new();
        let (full, failed) = workload(&clean, &ops);
        prop_assert!(full.is_some() && failed.is_none(), "clean run failed");
        let total = clean.ops();
        let point = 1 + crash_pick % total;

        let fs = SimFs::new();
        fs.inject(point, Fault::Crash);
        let (acked, in_flight) = workload(&fs, &ops);
        let image = fs.crash_image(seed);
        let db = open(&image);
        prop_assert!(db.is_ok(), "crash at op {point}/{total} seed {seed}: open failed: {:?}", db.err());
        let db = db.expect("checked");
        let got = read(&db);
        match acked {
            // The crash came before the table was acknowledged.
            None => prop_assert!(got.is_none() || got == Some(Model::new())),
            Some(model) => {
                let mut with_in_flight = model.clone();
                if let Some(op) = &in_flight {
                    apply(&mut with_in_flight, op);
                }
                prop_assert!(got.is_some(), "crash at op {point}/{total} seed {seed}: table kv lost");
                let got = got.unwrap_or_default();
                prop_assert!(
                    got == model || got == with_in_flight,
                    "crash at op {point}/{total} seed {seed}: recovered {got:?}, acknowledged {model:?}, in flight {in_flight:?}"
                );
            }
        }
        // The recovered database keeps working and survives a clean reopen.
        if read(&db).is_some() {
            prop_assert!(run(&db, &Op::Upsert(1000, 1)).is_ok());
            let before = read(&db);
            drop(db);
            let again = open(&image).expect("reopen");
            prop_assert_eq!(read(&again), before);
        }
    }
}
