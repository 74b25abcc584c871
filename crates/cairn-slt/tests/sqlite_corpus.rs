//! SQLite's own sqllogictest corpus (`../shared/sql-tests/external/sqlite`,
//! beside the repository), in memory: every file must finish, and the
//! records that fail must be exactly those listed in
//! `sql-tests/sqlite-expected-failures.txt`. A failure not on the list (a
//! regression) fails the test, and so does a listed record that passes (the
//! list must shrink with it); both are named.
//!
//! Skipped (with a note) when the corpus is not present, so the crate can be
//! tested on its own.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use cairn_slt::expected::{self, RecordId};
use cairn_slt::{self as slt, Options};

#[test]
fn sqlite_corpus_fails_exactly_the_expected_records() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = manifest.join("../../../shared/sql-tests/external/sqlite");
    if !dir.exists() {
        eprintln!("SQLite corpus not found at {}; skipping", dir.display());
        return;
    }
    let list_path = manifest.join("../../sql-tests/sqlite-expected-failures.txt");
    let list = std::fs::read_to_string(&list_path)
        .map_err(|e| e.to_string())
        .and_then(|text| expected::parse_list(&text));
    let list = match list {
        Ok(l) => l,
        Err(e) => panic!("{}: {e}", list_path.display()),
    };
    let files = match slt::collect_files(std::slice::from_ref(&dir)) {
        Ok(f) => f,
        Err(e) => panic!("cannot list the corpus at {}: {e}", dir.display()),
    };
    assert!(!files.is_empty(), "no corpus files under {}", dir.display());

    let start = Instant::now();
    let (mut passed, mut skipped) = (0usize, 0usize);
    let mut failed: BTreeMap<RecordId, String> = BTreeMap::new();
    for file in &files {
        let report = slt::run_file(file, &Options::default());
        passed += report.passed();
        skipped += report.skipped;
        eprintln!(
            "{} records={} failed={} skipped={} {:.2}s",
            report.path.display(),
            report.records,
            report.failed,
            report.skipped,
            report.elapsed.as_secs_f64()
        );
        let ids = expected::failed_records(&report, &dir);
        for (id, f) in ids.into_iter().zip(&report.failures) {
            failed.insert(id, f.message.clone());
        }
    }
    eprintln!(
        "{passed} passed, {} failed ({} listed), {skipped} skipped, {:.2}s",
        failed.len(),
        list.len(),
        start.elapsed().as_secs_f64()
    );
    let diff = expected::compare(&list, &failed);
    assert!(
        diff.is_empty(),
        "the SQLite corpus differs from {}:\n{diff}",
        list_path.display()
    );
}
