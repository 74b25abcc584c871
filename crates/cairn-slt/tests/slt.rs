//! Runs every sqllogictest file under `sql-tests/` at the workspace root and
//! asserts that no record fails.

use std::path::PathBuf;

use cairn_slt::{self as slt, Options};

#[test]
fn sql_tests_pass() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sql-tests");
    let files = match slt::collect_files(std::slice::from_ref(&dir)) {
        Ok(f) => f,
        Err(e) => panic!("cannot list {}: {e}", dir.display()),
    };
    assert!(!files.is_empty(), "no test files under {}", dir.display());
    let opts = Options {
        verbose: true,
        fail_fast: false,
    };
    let mut failures = Vec::new();
    let mut records = 0;
    for file in &files {
        let report = slt::run_file(file, &opts);
        records += report.records;
        for f in &report.failures {
            failures.push(format!(
                "{}:{}: {}\n    {}",
                report.path.display(),
                f.line,
                f.message,
                f.sql.replace('\n', "\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {records} records failed:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
