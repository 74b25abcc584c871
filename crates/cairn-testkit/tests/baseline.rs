//! The issue-12 gate: import cycles between modules and long functions of
//! every crate under `crates/` (storage, SQL and core among them) must
//! match `crates/cairn-testkit/baseline.txt` exactly. A finding not in the
//! baseline fails (fix the code); a baseline line that no longer holds
//! fails too (delete or tighten it), so the baseline can only shrink.

use std::fs;
use std::path::{Path, PathBuf};

use cairn_testkit::baseline::{self, Problem, Severity};
use cairn_testkit::report::{check_crate, crate_dirs, CrateReport};

const BASELINE_SHOWN: &str = "crates/cairn-testkit/baseline.txt";
const REGENERATE: &str = "cargo run -p cairn-testkit --bin cairn-lint-modules -- --baseline \
                          > crates/cairn-testkit/baseline.txt";
const SHOW_EDGES: &str = "cargo run -p cairn-testkit --bin cairn-lint-modules";

fn workspace_reports() -> Vec<CrateReport> {
    let crates_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dirs: Vec<PathBuf> = crate_dirs(&crates_dir);
    let reports: Vec<CrateReport> = dirs
        .iter()
        .map(|dir| {
            let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
            check_crate(dir, &format!("crates/{}", name.unwrap_or_default()))
        })
        .collect();
    for needed in ["cairn-storage", "cairn-sql", "cairn-core", "cairn-testkit"] {
        let report = reports.iter().find(|r| r.name == needed);
        let Some(report) = report else {
            panic!("crate {needed} not found under {}", crates_dir.display());
        };
        assert!(
            !report.targets.is_empty(),
            "no src/lib.rs or src/main.rs read for {needed}: the checks would see nothing"
        );
    }
    reports
}

fn bullet_list(problems: &[&Problem]) -> String {
    let lines = problems.iter().map(|p| format!("  - {}\n", p.message));
    lines.collect()
}

#[test]
fn cycles_and_long_functions_match_the_baseline() {
    let reports = workspace_reports();
    let warnings: Vec<&String> = reports.iter().flat_map(|r| &r.warnings).collect();
    assert!(
        warnings.is_empty(),
        "module files the checks could not follow (fix the `mod` or teach \
         cairn-testkit's tree.rs): {warnings:#?}"
    );

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("baseline.txt");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("cannot read {BASELINE_SHOWN} ({e}); create it with `{REGENERATE}`")
    });
    let allowed = baseline::parse(&text).unwrap_or_else(|problems| {
        panic!(
            "{BASELINE_SHOWN} is malformed; fix these lines (or regenerate it with \
             `{REGENERATE}`):\n  - {}",
            problems.join("\n  - ")
        )
    });
    let current = baseline::current_entries(&reports);
    let problems = baseline::compare(&allowed, &current);
    if problems.is_empty() {
        return;
    }

    let worse: Vec<&Problem> = problems
        .iter()
        .filter(|p| p.severity == Severity::Worse)
        .collect();
    let stale: Vec<&Problem> = problems
        .iter()
        .filter(|p| p.severity == Severity::Stale)
        .collect();
    let mut message = format!(
        "the sources no longer match {BASELINE_SHOWN} (issue 12: module import cycles and \
         function bodies over 100 lines may only go away).\n"
    );
    if !worse.is_empty() {
        message.push_str(&format!(
            "\nMADE WORSE — change the code; do not add these to the baseline:\n{}",
            bullet_list(&worse)
        ));
    }
    if !stale.is_empty() {
        message.push_str(&format!(
            "\nGOT BETTER — tighten {BASELINE_SHOWN} in this same change:\n{}",
            bullet_list(&stale)
        ));
    }
    message.push_str(&format!(
        "\n`{SHOW_EDGES}` prints every cycle with the imports that close it and every long \
         function. Once only improvements are left, `{REGENERATE}` rewrites the baseline: \
         check that its diff only deletes lines or lowers numbers.\n"
    ));
    panic!("{message}");
}
