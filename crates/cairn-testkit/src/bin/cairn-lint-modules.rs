//! `cairn-lint-modules`: prints the import cycles between modules and the
//! long functions of every crate under `crates/` (or of the crate
//! directories given), with the references that close each cycle.
//!
//! ```text
//! cargo run -p cairn-testkit --bin cairn-lint-modules [-- [--baseline|--edges] [CRATE_DIR...]]
//! ```
//!
//! Exit status: 0 when there is no cycle and no long function without a
//! `// long:` reason, 1 when there is, 2 on a usage error. `--baseline`
//! prints today's findings as `crates/cairn-testkit/baseline.txt` (exit 0);
//! `--edges` prints every module edge of each target, with its first
//! reference (exit 0).
//! Reads files only.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cairn_testkit::baseline;
use cairn_testkit::report::{
    check_crate, crate_dirs, render, render_edges, CrateReport, FN_BODY_LINES_MAX,
};

const USAGE: &str = "usage: cairn-lint-modules [--baseline | --edges] [CRATE_DIR...]";

fn main() -> ExitCode {
    let (mut baseline_mode, mut edges_mode) = (false, false);
    let mut dirs = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--baseline" => baseline_mode = true,
            "--edges" => edges_mode = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            flag if flag.starts_with('-') => {
                eprintln!("unknown option {flag}\n{USAGE}");
                return ExitCode::from(2);
            }
            dir => dirs.push(PathBuf::from(dir)),
        }
    }
    if dirs.is_empty() {
        dirs = crate_dirs(&workspace_crates_dir());
    }
    if edges_mode {
        for dir in &dirs {
            print!("{}", render_edges(dir, &shown_as(dir)));
        }
        return ExitCode::SUCCESS;
    }
    let reports: Vec<CrateReport> = dirs
        .iter()
        .map(|dir| check_crate(dir, &shown_as(dir)))
        .collect();
    if baseline_mode {
        print!("{}", baseline::render(&baseline::current_entries(&reports)));
        return ExitCode::SUCCESS;
    }
    for report in &reports {
        print!("{}", render(report));
    }
    print_summary(&reports)
}

/// `crates/` of the current directory if there is one (cargo runs the
/// binary from where it was called), else the one this crate was built in.
fn workspace_crates_dir() -> PathBuf {
    let here = PathBuf::from("crates");
    if here.is_dir() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `crates/NAME` for a crate of the workspace, else the path as given.
fn shown_as(dir: &Path) -> String {
    let canonical = |p: &Path| p.canonicalize().ok();
    let in_workspace = canonical(dir)
        .zip(canonical(&workspace_crates_dir()))
        .is_some_and(|(d, crates)| d.parent() == Some(crates.as_path()));
    match dir.file_name() {
        Some(name) if in_workspace => format!("crates/{}", name.to_string_lossy()),
        _ => dir.display().to_string().trim_end_matches('/').to_string(),
    }
}

fn print_summary(reports: &[CrateReport]) -> ExitCode {
    println!("\n== summary (long = fn body over {FN_BODY_LINES_MAX} lines without `// long:`)");
    println!(
        "{:<20} {:>7} {:>5} {:>10}",
        "crate", "cycles", "long", "justified"
    );
    let (mut cycles, mut longs) = (0, 0);
    for r in reports {
        let (c, l, j) = (r.cycle_count(), r.long_fns.len(), r.justified.len());
        println!("{:<20} {c:>7} {l:>5} {j:>10}", r.name);
        cycles += c;
        longs += l;
    }
    println!("{:<20} {cycles:>7} {longs:>5}", "total");
    if cycles + longs == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
