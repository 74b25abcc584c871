//! A full scan pulled through `Rows` keeps the heap flat: its peak growth
//! is one batch and a copy of the live segment's row pointers, whatever
//! the table's size, while collecting the same rows grows with them.
//!
//! One test in its own binary: the heap is measured by a counting
//! allocator, which sees every thread of the process.
#![allow(unsafe_code)] // the counting allocator only; see Cargo.toml

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn::{params, Database};

/// Counts live heap bytes and their high-water mark.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = CURRENT.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator, which
// upholds GlobalAlloc's contract; the counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's preconditions are passed on as they are.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc`/`realloc` above with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `alloc` and `dealloc`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns by how much the heap's peak exceeded its size at
/// the start.
fn peak_growth(f: impl FnOnce()) -> usize {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

const ROWS: i64 = 100_000;
const MIB: usize = 1 << 20;

#[test]
fn a_full_scan_through_rows_keeps_the_heap_flat() {
    let db = Database::open_in_memory().expect("open");
    db.execute(
        "CREATE TABLE big (id INTEGER PRIMARY KEY, grp INTEGER, body TEXT)",
        params![],
    )
    .expect("create");
    let tx = db.transaction().expect("begin");
    let mut st = db
        .prepare("INSERT INTO big VALUES (?, ?, ?)")
        .expect("prepare");
    for i in 0..ROWS {
        st.execute(params![i, i % 10, format!("{i:0>100}")])
            .expect("insert");
    }
    drop(st);
    tx.commit().expect("commit");
    // Let the verifiable state fold the load now, not while measuring.
    let _ = db.state_root();

    // The least of three runs: a background job that allocates meanwhile
    // (the store folds commits into its verifiable state on a worker
    // thread) cannot fail the test.
    let mut stream_peak = usize::MAX;
    let mut streamed = 0i64;
    for _ in 0..3 {
        streamed = 0;
        stream_peak = stream_peak.min(peak_growth(|| {
            let mut rows = db
                .query("SELECT id, grp, body FROM big", params![])
                .expect("query");
            assert!(rows.is_streaming());
            while let Some(r) = rows.next().expect("next") {
                streamed += r.get::<i64>(0).expect("id");
            }
        }));
    }
    assert_eq!(streamed, ROWS * (ROWS - 1) / 2);

    let mut collected = 0usize;
    let collect_peak = peak_growth(|| {
        let all = db
            .query("SELECT id, grp, body FROM big", params![])
            .expect("query")
            .fetch_all()
            .expect("rows");
        collected = all.len();
    });
    assert_eq!(collected, ROWS as usize);

    eprintln!(
        "{ROWS} rows: streaming peak +{:.3} MiB, collecting peak +{:.3} MiB",
        stream_peak as f64 / MIB as f64,
        collect_peak as f64 / MIB as f64
    );
    assert!(
        stream_peak < 2 * MIB,
        "streaming grew the heap by {stream_peak} bytes"
    );
    assert!(
        collect_peak > 4 * stream_peak,
        "collecting ({collect_peak}) should need far more than streaming ({stream_peak})"
    );
}
