//! `cairn-slt`: runs sqllogictest files against Cairn.
//!
//! ```text
//! cairn-slt [--verbose] [--fail-fast] [--list-failures FILE] PATH...
//! ```
//!
//! Each PATH is a file or a directory (searched recursively for `*.test` and
//! `*.slt`). Prints one line per file and a summary; exits with status 1 when
//! any record failed, 2 on bad usage. The runner itself is the `cairn_slt` library.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use cairn_slt::{self as slt, FileReport, Options};

const USAGE: &str = "usage: cairn-slt [--verbose] [--fail-fast] [--list-failures FILE] PATH...";

/// Command-line arguments.
#[derive(Debug, Default, PartialEq)]
struct Args {
    verbose: bool,
    fail_fast: bool,
    list_failures: Option<PathBuf>,
    paths: Vec<PathBuf>,
    help: bool,
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
        match arg.as_str() {
            "--" => only_paths = true,
            "-v" | "--verbose" => out.verbose = true,
            "--fail-fast" => out.fail_fast = true,
            "-h" | "--help" => out.help = true,
            "--list-failures" => match args.next() {
                Some(file) => out.list_failures = Some(PathBuf::from(file)),
                None => return Err("--list-failures needs a file name".to_string()),
            },
            other => match other.strip_prefix("--list-failures=") {
                Some(file) if !file.is_empty() => out.list_failures = Some(PathBuf::from(file)),
                _ => return Err(format!("unknown option {other}")),
            },
        }
    }
    if out.paths.is_empty() && !out.help {
        return Err("no test files given".to_string());
    }
    Ok(out)
}

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

    let opts = Options {
        verbose: args.verbose,
        fail_fast: args.fail_fast,
    };
    let start = Instant::now();
    let (mut passed, mut failed, mut skipped, mut failed_files) = (0, 0, 0, 0);
    let mut failure_list = String::new();
    let stdout = std::io::stdout();
    for file in &files {
        let report = slt::run_file(file, &opts);
        passed += report.passed();
        failed += report.failed;
        skipped += report.skipped;
        let mut out = stdout.lock();
        // A closed stdout (e.g. piped into `head`) must not stop the run.
        let _ = writeln!(out, "{}", summary_line(&report));
        if !report.is_ok() {
            failed_files += 1;
            if args.verbose {
                let _ = write!(out, "{}", failure_details(&report));
            }
            for f in &report.failures {
                failure_list.push_str(&format!("{}:{}\n", report.path.display(), f.line));
            }
            if args.fail_fast {
                break;
            }
        }
    }
    println!(
        "{passed} passed, {failed} failed, {skipped} skipped ({} files, {failed_files} failed, {:.2}s)",
        files.len(),
        start.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.list_failures {
        if let Err(e) = std::fs::write(path, failure_list) {
            eprintln!("cairn-slt: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `PASS path (N records, M failed, 1.23s)`, with the skipped count when
/// there is one.
fn summary_line(r: &FileReport) -> String {
    let status = if r.is_ok() { "PASS" } else { "FAIL" };
    let skipped = if r.skipped > 0 {
        format!(", {} skipped", r.skipped)
    } else {
        String::new()
    };
    format!(
        "{status} {} ({} records, {} failed{skipped}, {:.2}s)",
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
                list_failures: Some(PathBuf::from("f.txt")),
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
    fn rejects_bad_usage() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["--verbose"]).is_err());
        assert!(parse(&["--bogus", "x"]).is_err());
        assert!(parse(&["x", "--list-failures"]).is_err());
        assert!(parse(&["--help"]).is_ok_and(|a| a.help));
    }

    #[test]
    fn formats_file_lines() {
        let r = FileReport {
            path: PathBuf::from("t/a.test"),
            records: 10,
            failed: 2,
            skipped: 1,
            elapsed: std::time::Duration::from_millis(1234),
            failures: Vec::new(),
        };
        assert_eq!(
            summary_line(&r),
            "FAIL t/a.test (10 records, 2 failed, 1 skipped, 1.23s)"
        );
    }
}
