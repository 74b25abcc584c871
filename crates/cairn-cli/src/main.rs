//! `cairn`: the interactive SQL shell.
//!
//! * `cairn` — an in-memory database; a REPL when stdin is a terminal,
//!   otherwise the statements read from stdin (script mode).
//! * `cairn PATH` — the same on the database in directory PATH (created if
//!   missing).
//! * `cairn check PATH` — verifies every checksum and cross-checks indexes;
//!   prints `ok` (exit 0) or the problems (exit 1).
//! * `cairn root PATH`, `cairn prove PATH TABLE KEY...`, `cairn verify
//!   --root HEX PROOF.json` — state roots and proofs without SQL (see
//!   `proofs.rs` and docs/verification.md).
//! * `cairn -c "SQL" [-c ...]` — runs the given SQL / dot commands and exits.
//!
//! The exit status is 1 when any statement or command failed.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use cairn::Database;
use cairn_cli::shell::{Flow, Shell};
use clap::Parser;
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;

#[derive(Parser, Debug)]
#[command(name = "cairn", version, about = "The Cairn SQL shell")]
struct Cli {
    /// Database directory to open (created if missing); omit it, or give
    /// `:memory:`, for an in-memory database.
    path: Option<PathBuf>,

    /// Run SQL and/or dot commands, then exit. May be given several times;
    /// one argument may hold several statements separated by `;`.
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    commands: Vec<String>,
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "check") {
        return check(args.get(2..).unwrap_or(&[]));
    }
    let sub = args.get(1).and_then(|a| a.to_str());
    if let Some(sub @ ("root" | "prove" | "verify")) = sub {
        let rest: Vec<String> = args
            .iter()
            .skip(2)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return cairn_cli::proofs::finish(match sub {
            "root" => cairn_cli::proofs::root(&rest),
            "prove" => cairn_cli::proofs::prove(&rest),
            _ => cairn_cli::proofs::verify(&rest),
        });
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `cairn check PATH`: opens the database (which validates the manifest,
/// every WAL batch and every segment file) and runs `PRAGMA
/// integrity_check`. Prints `ok` and exits 0, or prints each problem and
/// exits 1. (A database directory literally named `check` opens as
/// `cairn ./check`.)
fn check(rest: &[std::ffi::OsString]) -> ExitCode {
    let [path] = rest else {
        eprintln!("usage: cairn check PATH");
        return ExitCode::from(2);
    };
    let path = PathBuf::from(path);
    if !path.join("MANIFEST").exists() {
        eprintln!(
            "Error: {} is not a Cairn database (no MANIFEST)",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    let db = match Database::open(&path) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let problems: Vec<String> = match db
        .query("PRAGMA integrity_check", &[])
        .and_then(|r| r.fetch_all())
    {
        Ok(rows) => rows
            .iter()
            .map(|r| r.get::<String>(0).unwrap_or_else(|e| e.to_string()))
            .collect(),
        Err(e) => vec![e.to_string()],
    };
    for p in &problems {
        println!("{p}");
    }
    if problems == ["ok"] {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let db = match &cli.path {
        Some(path) if path.as_os_str() != ":memory:" => match Database::open(path) {
            Ok(db) => db,
            Err(e) => {
                eprintln!("Error: cannot open {}: {e}", path.display());
                return Ok(ExitCode::FAILURE);
            }
        },
        _ => Database::open_in_memory()?,
    };
    let mut shell = Shell::new(db, std::io::stdout(), std::io::stderr());

    if !cli.commands.is_empty() {
        for command in &cli.commands {
            if shell.run_script(command) == Flow::Quit {
                break;
            }
        }
    } else if std::io::stdin().is_terminal() {
        // Errors in an interactive session were shown as they happened.
        repl(&mut shell)?;
        return Ok(ExitCode::SUCCESS);
    } else {
        shell.run_lines(std::io::stdin().lock().lines());
    }

    Ok(if shell.error_count() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `~/.cairn_history`, when the home directory is known.
fn history_path() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cairn_history"))
}

/// The interactive loop: `cairn> ` prompts, `   ...> ` while a statement
/// is incomplete; Ctrl-C drops the current input, Ctrl-D exits.
fn repl<O: std::io::Write, E: std::io::Write>(shell: &mut Shell<O, E>) -> Result<()> {
    println!(
        "cairn {} (in-memory database) — enter \".help\" for usage hints.",
        env!("CARGO_PKG_VERSION")
    );
    let mut editor = DefaultEditor::new()?;
    let history = history_path();
    if let Some(path) = &history {
        // A missing or unreadable history file is not worth a message.
        let _ = editor.load_history(path);
    }
    // The lines of the current entry, added to history once it is complete.
    let mut entry = String::new();
    loop {
        let prompt = if shell.is_pending() {
            "   ...> "
        } else {
            "cairn> "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                if !entry.is_empty() {
                    entry.push('\n');
                }
                entry.push_str(&line);
                let flow = shell.feed_line(&line);
                if !shell.is_pending() {
                    if !entry.trim().is_empty() {
                        let _ = editor.add_history_entry(entry.as_str());
                    }
                    entry.clear();
                }
                if flow == Flow::Quit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => {
                shell.clear_pending();
                entry.clear();
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(())
}
