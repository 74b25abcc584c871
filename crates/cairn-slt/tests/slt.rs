//! Runs every sqllogictest file under `sql-tests/` at the workspace root in
//! both modes — in memory, and on a database directory that is reopened and
//! checked at each `reopen` record and after the last record — with error
//! kinds required: a bare `statement error` / `query error` fails the test.
//!
//! The records that fail must be exactly those listed in
//! `sql-tests/expected-failures.txt` (engine bugs a record already expects
//! the right answer for): a new failure, or a listed record that passes in
//! both modes, fails the test and is named.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use cairn_slt::expected::{self, RecordId};
use cairn_slt::{self as slt, ExpectedError, Mode, Options};

#[test]
fn sql_tests_pass_in_memory_and_on_disk() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sql-tests");
    let files = match slt::collect_files(std::slice::from_ref(&dir)) {
        Ok(f) => f,
        Err(e) => panic!("cannot list {}: {e}", dir.display()),
    };
    assert!(!files.is_empty(), "no test files under {}", dir.display());
    let list_path = dir.join("expected-failures.txt");
    let list = std::fs::read_to_string(&list_path)
        .map_err(|e| e.to_string())
        .and_then(|text| expected::parse_list(&text));
    let list = match list {
        Ok(l) => l,
        Err(e) => panic!("{}: {e}", list_path.display()),
    };

    let start = Instant::now();
    let mut failed: BTreeMap<RecordId, String> = BTreeMap::new();
    let mut records = 0;
    for file in &files {
        for mode in Mode::ALL {
            let opts = Options {
                verbose: true,
                fail_fast: false,
                mode,
                require_error_kind: true,
            };
            let report = slt::run_file(file, &opts);
            records += report.records;
            let ids = expected::failed_records(&report, &dir);
            for (id, f) in ids.into_iter().zip(&report.failures) {
                let message = format!(
                    "[{}] {}\n      {}",
                    mode.name(),
                    f.message,
                    f.sql.replace('\n', "\n      ")
                );
                failed.entry(id).or_insert(message);
            }
        }
    }
    eprintln!(
        "{} files, {records} records in two modes, {} failed ({} listed), {:.2}s",
        files.len(),
        failed.len(),
        list.len(),
        start.elapsed().as_secs_f64()
    );
    let diff = expected::compare(&list, &failed);
    assert!(
        diff.is_empty(),
        "sql-tests differ from {}:\n{diff}",
        list_path.display()
    );
}

/// Our files name the error kind of every error record, even records that
/// are on the expected-failure list.
#[test]
fn sql_tests_have_no_bare_error_records() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sql-tests");
    let files = slt::collect_files(std::slice::from_ref(&dir)).unwrap_or_default();
    assert!(!files.is_empty(), "no test files under {}", dir.display());
    let mut bare = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for record in slt::parse(&text) {
            if record.expected_error() == Some(ExpectedError::Any) {
                bare.push(format!("{}:{}", file.display(), record.line));
            }
        }
    }
    assert!(
        bare.is_empty(),
        "bare `statement error` (name the error kind):\n{}",
        bare.join("\n")
    );
}
