//! SQLite's own sqllogictest corpus (`../shared/sql-tests/external/sqlite`,
//! beside the repository): every file must finish, and at least
//! [`PASS_RATE_MIN`] of the records must pass. Failing records are listed in
//! `sql-tests/KNOWN_FAILURES.md`; this test prints the current ones.
//!
//! Skipped (with a note) when the corpus is not present, so the crate can be
//! tested on its own.

use std::path::PathBuf;

use cairn_slt::{self as slt, Options};

const PASS_RATE_MIN: f64 = 0.995;

#[test]
fn sqlite_corpus_pass_rate() {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sql-tests/external/sqlite");
    if !dir.exists() {
        eprintln!("SQLite corpus not found at {}; skipping", dir.display());
        return;
    }
    let files = slt::collect_files(std::slice::from_ref(&dir)).expect("list the corpus");
    assert!(!files.is_empty(), "no corpus files under {}", dir.display());
    let opts = Options {
        verbose: false,
        fail_fast: false,
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in &files {
        let report = slt::run_file(file, &opts);
        passed += report.records - report.failed;
        failed += report.failed;
        eprintln!(
            "{} records={} failed={} skipped={} {:.2}s",
            report.path.display(),
            report.records,
            report.failed,
            report.skipped,
            report.elapsed.as_secs_f64()
        );
        for f in report.failures.iter().take(3) {
            eprintln!("  line {}: {}", f.line, f.message);
        }
    }
    let rate = passed as f64 / (passed + failed).max(1) as f64;
    eprintln!(
        "{passed} passed, {failed} failed, pass rate {:.4}%",
        rate * 100.0
    );
    assert!(
        rate >= PASS_RATE_MIN,
        "pass rate {:.4}% below {:.1}%",
        rate * 100.0,
        PASS_RATE_MIN * 100.0
    );
}
