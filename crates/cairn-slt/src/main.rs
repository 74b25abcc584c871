//! `cairn-slt`: runs sqllogictest files against Cairn.
//!
//! ```text
//! cairn-slt [--verbose] [--fail-fast] [--mode memory|disk|both]
//!           [--require-error-kind] [--list-failures FILE]
//!           [--expected-failures LIST] PATH...
//! ```
//!
//! Each PATH is a file or a directory (searched recursively for `*.test` and
//! `*.slt`). Runs every file in memory (the default), on a database
//! directory with reopen checks (`disk`), or both (memory first). Prints one
//! line per file and mode and a summary; exits with status 1 when any record
//! failed, 2 on bad usage.
//!
//! `--require-error-kind` fails bare `statement error` records, as the
//! `sql-tests` test does. With `--expected-failures LIST` (an
//! expected-failure list, paths relative to the one PATH) the status is 1
//! only when the failures differ from the list, both ways, as in the
//! `sql-tests` and `sqlite_corpus` tests; listed records of files not run
//! are ignored. The runner itself is the `cairn_slt` library.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use cairn_slt::expected::{self, RecordId};
use cairn_slt::{self as slt, FileReport, Mode, Options};

const USAGE: &str = "usage: cairn-slt [--verbose] [--fail-fast] [--mode memory|disk|both] \
                     [--require-error-kind] [--list-failures FILE] \
                     [--expected-failures LIST] PATH...";

/// Command-line arguments.
#[derive(Debug, PartialEq)]
struct Args {
    verbose: bool,
    fail_fast: bool,
    /// The modes to run each file in, in order.
    modes: Vec<Mode>,
    require_error_kind: bool,
    list_failures: Option<PathBuf>,
    /// An expected-failure list to compare the run with.
    expected_failures: Option<PathBuf>,
    paths: Vec<PathBuf>,
    help: bool,
}

impl Default for Args {
    fn default() -> Args {
        Args {
            verbose: false,
            fail_fast: false,
            modes: vec![Mode::Memory],
            require_error_kind: false,
            list_failures: None,
            expected_failures: None,
            paths: Vec::new(),
            help: false,
        }
    }
}

/// `memory`, `disk` or `both`.
fn parse_modes(name: &str) -> Result<Vec<Mode>, String> {
    if name == "both" {
        return Ok(Mode::ALL.to_vec());
    }
    Mode::parse(name)
        .map(|m| vec![m])
        .ok_or_else(|| format!("unknown mode `{name}` (memory, disk or both)"))
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut out = Args::default();
    let mut args = args.into_iter();
    let mut only_paths = false;
    while let Some(arg) = args.next() {
        if only_paths || !arg.starts_with('-') || arg == "-" {
            out.paths.push(PathBuf::from(arg));
            continue;
        }
        // `--opt=value` or `--opt value`.
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| match inline.clone().or_else(|| args.next()) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(format!("{name} needs {what}")),
        };
        match name.as_str() {
            "--" => only_paths = true,
            "-v" | "--verbose" => out.verbose = true,
            "--fail-fast" => out.fail_fast = true,
            "--require-error-kind" => out.require_error_kind = true,
            "-h" | "--help" => out.help = true,
            "--mode" => out.modes = parse_modes(&value("memory, disk or both")?)?,
            "--list-failures" => out.list_failures = Some(PathBuf::from(value("a file name")?)),
            "--expected-failures" => {
                out.expected_failures = Some(PathBuf::from(value("a file name")?))
            }
            other => return Err(format!("unknown option {other}")),
        }
        if inline.is_some() && !VALUED.contains(&name.as_str()) {
            return Err(format!("{name} takes no value"));
        }
    }
    if out.paths.is_empty() && !out.help {
        return Err("no test files given".to_string());
    }
    if out.expected_failures.is_some() && !matches!(&out.paths[..], [_]) {
        return Err("--expected-failures needs exactly one PATH (the list's root)".to_string());
    }
    Ok(out)
}

/// The options that take a value.
const VALUED: [&str; 3] = ["--mode", "--list-failures", "--expected-failures"];

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cairn-slt: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if args.help {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let files = match slt::collect_files(&args.paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cairn-slt: {e}");
            return ExitCode::from(2);
        }
    };
    if files.is_empty() {
        eprintln!("cairn-slt: no *.test or *.slt files found");
        return ExitCode::from(2);
    }

    let list = match &args.expected_failures {
        Some(path) => match read_list(path) {
            Ok(list) => Some(list),
            Err(e) => {
                eprintln!("cairn-slt: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let start = Instant::now();
    let totals = run_all(&args, &files);
    println!(
        "{} passed, {} failed, {} skipped ({} files, {} failed, {:.2}s)",
        totals.passed,
        totals.failed,
        totals.skipped,
        files.len(),
        totals.failed_files,
        start.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.list_failures {
        if let Err(e) = std::fs::write(path, &totals.failure_list) {
            eprintln!("cairn-slt: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if let Some(list) = list {
        return check_list(list, &args.paths, &files, &totals.failed_records);
    }
    if totals.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Compares the run with an expected-failure list: success only when
/// exactly the listed records (of the files run) failed.
fn check_list(
    mut list: std::collections::BTreeSet<RecordId>,
    paths: &[PathBuf],
    files: &[PathBuf],
    failed: &BTreeMap<RecordId, String>,
) -> ExitCode {
    // Only the files of this run: one file can be checked on its own.
    let root = list_root(paths);
    let ran: std::collections::HashSet<String> = files
        .iter()
        .map(|f| expected::list_path(f, &root))
        .collect();
    list.retain(|id| ran.contains(&id.path));
    let diff = expected::compare(&list, failed);
    if diff.is_empty() {
        println!("the failures are exactly the {} listed", list.len());
        return ExitCode::SUCCESS;
    }
    print!("{diff}");
    ExitCode::FAILURE
}

/// Reads an expected-failure list.
fn read_list(path: &Path) -> Result<std::collections::BTreeSet<RecordId>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    expected::parse_list(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The directory that expected-failure paths are relative to: the one PATH,
/// or the directory of the one file given.
fn list_root(paths: &[PathBuf]) -> PathBuf {
    match paths {
        [p] if p.is_dir() => p.clone(),
        [p] => p.parent().map(Path::to_path_buf).unwrap_or_default(),
        _ => PathBuf::new(),
    }
}

/// What a whole run found.
#[derive(Default)]
struct Totals {
    passed: usize,
    failed: usize,
    skipped: usize,
    /// Files (per mode) with a failure.
    failed_files: usize,
    /// `path:line` of every failed record, each once, in run order.
    failure_list: String,
    /// Every failed record, relative to [`list_root`], with its message.
    failed_records: BTreeMap<RecordId, String>,
}

/// Runs every file in every mode, printing a line per file and mode.
fn run_all(args: &Args, files: &[PathBuf]) -> Totals {
    let mut totals = Totals::default();
    let mut listed = std::collections::HashSet::new();
    let stdout = std::io::stdout();
    let show_mode = args.modes != [Mode::Memory];
    let root = list_root(&args.paths);
    for file in files {
        for &mode in &args.modes {
            let opts = Options {
                verbose: args.verbose,
                fail_fast: args.fail_fast,
                mode,
                require_error_kind: args.require_error_kind,
            };
            let report = slt::run_file(file, &opts);
            totals.passed += report.passed();
            totals.failed += report.failed;
            totals.skipped += report.skipped;
            let mut out = stdout.lock();
            // A closed stdout (e.g. piped into `head`) must not stop the run.
            let _ = writeln!(out, "{}", summary_line(&report, show_mode));
            if report.is_ok() {
                continue;
            }
            totals.failed_files += 1;
            if args.verbose {
                let _ = write!(out, "{}", failure_details(&report));
            }
            let ids = expected::failed_records(&report, &root);
            for (id, f) in ids.into_iter().zip(&report.failures) {
                let message = format!("[{}] {}", mode.name(), f.message);
                totals.failed_records.entry(id).or_insert(message);
            }
            for f in &report.failures {
                let entry = format!("{}:{}", report.path.display(), f.line);
                if listed.insert(entry.clone()) {
                    totals.failure_list.push_str(&entry);
                    totals.failure_list.push('\n');
                }
            }
            if args.fail_fast {
                return totals;
            }
        }
    }
    totals
}

/// `PASS path (N records, M failed, 1.23s)`, with the skipped count when
/// there is one, and ` [disk]` after the path when `show_mode`.
fn summary_line(r: &FileReport, show_mode: bool) -> String {
    let status = if r.is_ok() { "PASS" } else { "FAIL" };
    let skipped = if r.skipped > 0 {
        format!(", {} skipped", r.skipped)
    } else {
        String::new()
    };
    let mode = if show_mode {
        format!(" [{}]", r.mode.name())
    } else {
        String::new()
    };
    format!(
        "{status} {}{mode} ({} records, {} failed{skipped}, {:.2}s)",
        r.path.display(),
        r.records,
        r.failed,
        r.elapsed.as_secs_f64()
    )
}

/// Every failure of a file: location, SQL, message, expected vs actual.
fn failure_details(r: &FileReport) -> String {
    const SHOW: usize = 10;
    let mut s = String::new();
    for f in &r.failures {
        s.push_str(&format!(
            "  {}:{}: {}\n",
            r.path.display(),
            f.line,
            f.message
        ));
        for line in f.sql.lines() {
            s.push_str(&format!("    | {line}\n"));
        }
        for (title, lines) in [("expected", &f.expected), ("actual", &f.actual)] {
            if lines.is_empty() {
                continue;
            }
            s.push_str(&format!("    {title}:\n"));
            for line in lines.iter().take(SHOW) {
                s.push_str(&format!("      {line}\n"));
            }
            if lines.len() > SHOW {
                s.push_str("      ...\n");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_flags_and_paths() {
        let a = parse(&[
            "--verbose",
            "a.test",
            "--fail-fast",
            "dir",
            "--list-failures",
            "f.txt",
        ]);
        assert_eq!(
            a,
            Ok(Args {
                verbose: true,
                fail_fast: true,
                modes: vec![Mode::Memory],
                require_error_kind: false,
                list_failures: Some(PathBuf::from("f.txt")),
                expected_failures: None,
                paths: vec![PathBuf::from("a.test"), PathBuf::from("dir")],
                help: false,
            })
        );
        let a = parse(&["--list-failures=x", "--", "--odd-name"]);
        assert_eq!(
            a.map(|a| (a.list_failures, a.paths)),
            Ok((Some(PathBuf::from("x")), vec![PathBuf::from("--odd-name")]))
        );
    }

    #[test]
    fn parses_modes() {
        let modes = |args: &[&str]| parse(args).map(|a| a.modes);
        assert_eq!(modes(&["x"]), Ok(vec![Mode::Memory]));
        assert_eq!(modes(&["--mode", "disk", "x"]), Ok(vec![Mode::Disk]));
        assert_eq!(
            modes(&["--mode=both", "x"]),
            Ok(vec![Mode::Memory, Mode::Disk])
        );
        assert!(modes(&["--mode", "tape", "x"]).is_err());
        assert!(modes(&["x", "--mode"]).is_err());
        assert!(parse(&["--require-error-kind", "x"]).is_ok_and(|a| a.require_error_kind));
    }

    #[test]
    fn rejects_bad_usage() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["--verbose"]).is_err());
        assert!(parse(&["--bogus", "x"]).is_err());
        assert!(parse(&["x", "--list-failures"]).is_err());
        assert!(parse(&["x", "--list-failures="]).is_err());
        assert!(parse(&["--verbose=yes", "x"]).is_err());
        // The expected-failure list is relative to exactly one PATH.
        assert!(parse(&["--expected-failures", "l.txt", "a", "b"]).is_err());
        assert!(parse(&["--expected-failures=l.txt", "dir"])
            .is_ok_and(|a| a.expected_failures == Some(PathBuf::from("l.txt"))));
        assert!(parse(&["--help"]).is_ok_and(|a| a.help));
    }

    #[test]
    fn formats_file_lines() {
        let mut r = FileReport::new("t/a.test", Mode::Disk);
        r.records = 10;
        r.failed = 2;
        r.skipped = 1;
        r.elapsed = std::time::Duration::from_millis(1234);
        assert_eq!(
            summary_line(&r, false),
            "FAIL t/a.test (10 records, 2 failed, 1 skipped, 1.23s)"
        );
        assert_eq!(
            summary_line(&r, true),
            "FAIL t/a.test [disk] (10 records, 2 failed, 1 skipped, 1.23s)"
        );
    }
}
