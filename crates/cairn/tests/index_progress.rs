//! A `CREATE INDEX … USING hnsw` tells the progress hook how far its build
//! has got (issue #13, "progress on long CREATE INDEX"): a start (`done =
//! 0`) and an end (`done = total`, the vectors in the graph), reports in
//! between never going back, for every connection of the database; no
//! hook, no reports.

use std::sync::{Arc, Mutex};

use cairn::{params, Database, Progress};

#[test]
fn create_index_reports_its_build_from_start_to_end() {
    let db = Database::open_in_memory().expect("open");
    db.execute_batch("CREATE TABLE v (id INTEGER PRIMARY KEY, e VECTOR(4))")
        .expect("table");
    let tx = db.transaction().expect("tx");
    {
        let mut ins = tx
            .prepare("INSERT INTO v VALUES ($1, $2)")
            .expect("prepare");
        for i in 0..3000u32 {
            let f = i as f32;
            let e = vec![f.sin(), f.cos(), (f * 0.5).sin(), (f * 0.25).cos()];
            ins.execute(params![i as i64, e]).expect("insert");
        }
        // One NULL vector: not in the graph, not counted.
        ins.execute(params![5000i64, cairn::Value::Null])
            .expect("insert");
    }
    tx.commit().expect("commit");

    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    db.set_progress(Some(Arc::new(move |p: &Progress| {
        sink.lock().expect("events").push(p.clone());
    })));
    // Another connection's DDL reports to the same hook.
    let other = db.connect();
    other
        .execute("CREATE INDEX v_e ON v USING hnsw (e)", params![])
        .expect("index");
    let got: Vec<(String, String, u64, u64)> = events
        .lock()
        .expect("events")
        .iter()
        .map(|p| match p {
            Progress::BuildingIndex {
                table,
                index,
                done,
                total,
            } => (table.clone(), index.clone(), *done, *total),
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert!(got.len() >= 2, "{got:?}");
    assert!(
        got.iter()
            .all(|e| e.0 == "v" && e.1 == "v_e" && e.3 == 3000),
        "{got:?}"
    );
    assert_eq!(got.first().map(|e| e.2), Some(0));
    assert_eq!(got.last().map(|e| e.2), Some(3000));
    assert!(got.windows(2).all(|w| w[0].2 <= w[1].2), "{got:?}");

    // Cleared: nothing more is told.
    db.set_progress(None);
    events.lock().expect("events").clear();
    db.execute("CREATE INDEX v_e2 ON v USING hnsw (e)", params![])
        .expect("index");
    assert!(events.lock().expect("events").is_empty());
}
