//! `cairn`: the interactive SQL shell (docs/shell.md).
//!
//! * `cairn` — an in-memory database; a REPL when stdin is a terminal,
//!   otherwise the statements read from stdin (script mode).
//! * `cairn PATH` — the same on the database in directory PATH (created if
//!   missing or empty; a plain file, a directory holding other files, or a
//!   word like `help`/`chek` is refused rather than made a database).
//! * `cairn check PATH` — verifies every checksum and cross-checks indexes;
//!   prints `ok` (exit 0) or the problems (exit 1).
//! * `cairn salvage PATH` — opens a damaged database keeping every commit
//!   before the damage, writes a checkpoint so it opens normally again, and
//!   says what was cut.
//! * `cairn root PATH`, `cairn prove PATH TABLE KEY...`, `cairn verify
//!   --root HEX PROOF.json` — state roots and proofs without SQL (see
//!   `proofs.rs` and docs/verification.md).
//! * `cairn -c "SQL" [-c ...]` — runs the given SQL / dot commands and exits.
//! * sqlite3's flags: `-csv`, `-json`, `-header`, `-bail`, `-cmd CMD` ...
//!
//! Ctrl-C stops the running statement and never ends the shell. The exit
//! status is 1 when any statement or command failed, 2 for bad usage.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::Result;
use cairn::Database;
use cairn_cli::args::{self, Target};
use cairn_cli::complete::SqlHelper;
use cairn_cli::render::Mode;
use cairn_cli::shell::{Flow, Shell};
use clap::Parser;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::Editor;

const AFTER_HELP: &str = "\
Subcommands (first argument):
  cairn check PATH                    Verify every checksum and cross-check indexes
  cairn salvage PATH                  Keep every commit before damage in the log; drop the rest
  cairn root PATH [--json]            Print the current state root
  cairn prove PATH TABLE KEY...       Print a row (or absence) proof as JSON
  cairn prove PATH --history OLD NEW  Print a proof that version OLD precedes NEW
  cairn verify --root HEX PROOF.json  Check a proof (or --head HEAD.json)

sqlite3's one-dash spellings work too: -csv -json -header -bail -cmd ...
Inside the shell, enter .help for the dot commands. Guide: docs/shell.md";

#[derive(Parser, Debug)]
#[command(
    name = "cairn",
    version,
    about = "The Cairn SQL shell",
    after_help = AFTER_HELP
)]
struct Cli {
    /// Database directory to open (created if missing or empty); omit it,
    /// or give `:memory:`, for an in-memory database.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Run SQL and/or dot commands, then exit. May be given several times;
    /// one argument may hold several statements separated by `;`.
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    commands: Vec<String>,

    /// Run SQL or a dot command first, then go on as usual (sqlite3's -cmd).
    #[arg(long = "cmd", value_name = "COMMAND")]
    cmd: Vec<String>,

    /// Output mode csv
    #[arg(long, group = "mode")]
    csv: bool,
    /// Output mode json
    #[arg(long, group = "mode")]
    json: bool,
    /// Output mode line
    #[arg(long, group = "mode")]
    line: bool,
    /// Output mode list (values separated by |)
    #[arg(long, group = "mode")]
    list: bool,
    /// Output mode tabs
    #[arg(long, group = "mode")]
    tabs: bool,
    /// Output mode markdown
    #[arg(long, group = "mode")]
    markdown: bool,
    /// Output mode box
    #[arg(long = "box", group = "mode")]
    box_mode: bool,
    /// Output mode table (the default)
    #[arg(long, group = "mode")]
    table: bool,

    /// Show column names (the default)
    #[arg(long, alias = "headers")]
    header: bool,
    /// Do not show column names
    #[arg(long, conflicts_with = "header")]
    noheader: bool,

    /// Stop at the first error
    #[arg(long)]
    bail: bool,

    /// Print NULL as TEXT
    #[arg(long, value_name = "TEXT")]
    nullvalue: Option<String>,

    /// Column separator of list mode
    #[arg(long, value_name = "TEXT")]
    separator: Option<String>,

    /// Open an existing database read-only (another process may be
    /// writing it); statements that write fail
    #[arg(long)]
    readonly: bool,
}

impl Cli {
    fn mode(&self) -> Option<Mode> {
        [
            (self.csv, Mode::Csv),
            (self.json, Mode::Json),
            (self.line, Mode::Line),
            (self.list, Mode::List),
            (self.tabs, Mode::Tabs),
            (self.markdown, Mode::Markdown),
            (self.box_mode, Mode::Box),
            (self.table, Mode::Table),
        ]
        .into_iter()
        .find_map(|(on, m)| on.then_some(m))
    }
}

fn main() -> ExitCode {
    let args = args::normalize(std::env::args_os().collect());
    if args.get(1).is_some_and(|a| a == "check") {
        return check(args.get(2..).unwrap_or(&[]));
    }
    if args.get(1).is_some_and(|a| a == "salvage") {
        return salvage(args.get(2..).unwrap_or(&[]));
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
    let cli = Cli::parse_from(args);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `cairn check PATH`: opens the database read-only (which validates the manifest,
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
    if let Err(code) = existing_database(&path) {
        return code;
    }
    // Read-only: a check can run while another process writes.
    let db = match Database::open_read_only(&path) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let problems = integrity_problems(&db);
    for p in &problems {
        println!("{p}");
    }
    if problems == ["ok"] {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Tells the user (on stderr) what a long open is doing — rebuilding a
/// vector index (a log written before index builds were logged), or
/// replaying a long log — and how far a long `CREATE INDEX … USING hnsw`
/// has got.
fn print_progress(p: &cairn::Progress) {
    match p {
        cairn::Progress::RebuildingIndex {
            table,
            index,
            done,
            total,
        } => eprintln!("rebuilding index {index} on {table}: {done}/{total} rows"),
        // A build that ends within the first interval prints nothing; a
        // longer one prints each report and its end.
        cairn::Progress::BuildingIndex {
            table,
            index,
            done,
            total,
        } => {
            use std::sync::atomic::{AtomicBool, Ordering};
            static REPORTED: AtomicBool = AtomicBool::new(false);
            let print = match *done {
                0 => false,
                d if d < *total => {
                    REPORTED.store(true, Ordering::Relaxed);
                    true
                }
                _ => REPORTED.swap(false, Ordering::Relaxed),
            };
            if print {
                eprintln!("building index {index} on {table}: {done}/{total} vectors");
            }
        }
        cairn::Progress::ReplayingLog { done, total } if *total >= 100_000 => {
            eprintln!("replaying the log: {done}/{total} records")
        }
        _ => {}
    }
}

/// `Err` (after saying why) unless `path` holds a Cairn database.
fn existing_database(path: &std::path::Path) -> Result<(), ExitCode> {
    if path.join("MANIFEST").exists() {
        return Ok(());
    }
    eprintln!(
        "Error: {} is not a Cairn database (no MANIFEST)",
        path.display()
    );
    Err(ExitCode::FAILURE)
}

/// `PRAGMA integrity_check`'s rows: `["ok"]`, or one per problem.
fn integrity_problems(db: &Database) -> Vec<String> {
    match db
        .query("PRAGMA integrity_check", &[])
        .and_then(|r| r.fetch_all())
    {
        Ok(rows) => rows
            .iter()
            .map(|r| r.get::<String>(0).unwrap_or_else(|e| e.to_string()))
            .collect(),
        Err(e) => vec![e.to_string()],
    }
}

/// `cairn salvage PATH`: opens the database with salvage on (the log is
/// read up to the first damaged batch; what follows is dropped), writes a
/// checkpoint so a normal open works again, and reports what was cut and
/// the integrity check. Exits 0 when the result checks out.
fn salvage(rest: &[std::ffi::OsString]) -> ExitCode {
    let [path] = rest else {
        eprintln!("usage: cairn salvage PATH");
        return ExitCode::from(2);
    };
    let path = PathBuf::from(path);
    if let Err(code) = existing_database(&path) {
        return code;
    }
    let options = cairn::OpenOptions {
        salvage: true,
        ..cairn::OpenOptions::default()
    };
    let db = match Database::open_with(&path, options) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("Error: cannot salvage {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    match db.recovery() {
        Some(r) => {
            println!("recovered {} commits from the log", r.commits);
            match &r.cut {
                Some(cut) => println!("dropped everything after the damage: {cut}"),
                None => println!("no damage found in the log; nothing was dropped"),
            }
        }
        None => println!("nothing to recover"),
    }
    if let Err(e) = db.checkpoint() {
        eprintln!("Error: checkpoint after salvage failed: {e}");
        return ExitCode::FAILURE;
    }
    println!("checkpoint written: the database opens normally now");
    let problems = integrity_problems(&db);
    println!("integrity check: {}", problems.join("; "));
    if problems == ["ok"] {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Opens what the arguments name; `Err` holds the exit code after the
/// message was printed. Also returns what the banner says is open.
fn open(cli: &Cli) -> Result<(Database, String), ExitCode> {
    if let [first, _, ..] = cli.paths.as_slice() {
        let word = first.to_string_lossy();
        match args::mistaken_command(&word) {
            Some(msg) => eprintln!("Error: {msg}"),
            None => eprintln!(
                "Error: cairn opens one database but got {} paths; to run SQL, give -c \"SQL\"",
                cli.paths.len()
            ),
        }
        return Err(ExitCode::from(2));
    }
    let target = match args::target(cli.paths.first().map(PathBuf::as_path)) {
        Ok(t) => t,
        Err(msg) => {
            eprintln!("Error: {msg}");
            return Err(ExitCode::FAILURE);
        }
    };
    let options = cairn::OpenOptions {
        read_only: cli.readonly,
        progress: Some(std::sync::Arc::new(print_progress)),
        ..cairn::OpenOptions::default()
    };
    let (opened, what) = match &target {
        Target::Memory if cli.readonly => {
            eprintln!("Error: --readonly needs an existing database directory");
            return Err(ExitCode::from(2));
        }
        Target::New(p) if cli.readonly => {
            eprintln!(
                "Error: --readonly needs an existing database; {} is not one",
                p.display()
            );
            return Err(ExitCode::FAILURE);
        }
        Target::Memory => (
            Database::open_in_memory(),
            "an in-memory database (nothing is saved)".to_string(),
        ),
        Target::Existing(p) if cli.readonly => (
            Database::open_with(p, options),
            format!("database {} (read-only)", p.display()),
        ),
        Target::Existing(p) => (
            Database::open_with(p, options),
            format!("database {}", p.display()),
        ),
        Target::New(p) => (
            Database::open_with(p, options),
            format!("new database {}", p.display()),
        ),
    };
    match opened {
        Ok(db) => {
            // In memory too: CREATE INDEX reports a long build.
            db.set_progress(Some(std::sync::Arc::new(print_progress)));
            Ok((db, what))
        }
        Err(e) => {
            let shown = match &target {
                Target::Existing(p) | Target::New(p) => p.display().to_string(),
                Target::Memory => ":memory:".to_string(),
            };
            eprintln!("Error: cannot open {shown}: {e}");
            if e.kind() == cairn::ErrorKind::Corrupt {
                eprintln!(
                    "hint: `cairn salvage {shown}` keeps every commit before the damage and drops the rest"
                );
            }
            Err(ExitCode::FAILURE)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let (db, what) = match open(&cli) {
        Ok(opened) => opened,
        Err(code) => return Ok(code),
    };
    let mut shell = Shell::new(db, std::io::stdout(), std::io::stderr());
    let interactive = cli.commands.is_empty() && std::io::stdin().is_terminal();
    shell.set_interactive(interactive);
    apply_flags(&cli, &mut shell);
    install_ctrl_c(&shell);
    if !interactive && std::io::stdout().is_terminal() {
        // Tables fit the terminal in one-shot use too.
        if let Ok(mut editor) = rustyline::DefaultEditor::new() {
            shell.settings.terminal_width = editor.dimensions().map(|d| d.0);
        }
    }

    for command in &cli.cmd {
        if shell.run_script(command) == Flow::Quit {
            return Ok(exit_code(&shell));
        }
    }
    if !cli.commands.is_empty() {
        for command in &cli.commands {
            if shell.run_script(command) == Flow::Quit {
                break;
            }
        }
    } else if interactive {
        // Errors in an interactive session were shown as they happened.
        repl(&mut shell, &what)?;
        return Ok(ExitCode::SUCCESS);
    } else {
        shell.run_lines(std::io::stdin().lock().lines());
    }
    Ok(exit_code(&shell))
}

fn exit_code<O: std::io::Write, E: std::io::Write>(shell: &Shell<O, E>) -> ExitCode {
    if shell.error_count() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn apply_flags<O: std::io::Write, E: std::io::Write>(cli: &Cli, shell: &mut Shell<O, E>) {
    let s = &mut shell.settings;
    if let Some(mode) = cli.mode() {
        s.style.mode = mode;
    }
    if cli.noheader {
        s.style.headers = false;
    }
    if cli.header {
        s.style.headers = true;
    }
    s.bail = cli.bail;
    if let Some(text) = &cli.nullvalue {
        s.style.null_text = text.clone();
    }
    if let Some(text) = &cli.separator {
        s.style.separator = text.clone();
    }
}

/// Ctrl-C (SIGINT) interrupts the running statement and the shell's own
/// loops; it never ends the process. At the REPL's prompt the terminal is
/// in raw mode, so Ctrl-C reaches rustyline as a key instead.
fn install_ctrl_c<O: std::io::Write, E: std::io::Write>(shell: &Shell<O, E>) {
    let flag = shell.interrupt_flag();
    let handle = shell.interrupt_handle();
    let installed = ctrlc::set_handler(move || {
        flag.store(true, Ordering::Relaxed);
        handle.interrupt();
    });
    if let Err(e) = installed {
        eprintln!("warning: Ctrl-C will end the shell: {e}");
    }
}

/// `~/.cairn_history`, when the home directory is known.
fn history_path() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cairn_history"))
}

/// The interactive loop: `cairn> ` prompts (`cairn*> ` inside a
/// transaction), `   ...> ` while a statement is incomplete; Ctrl-C drops
/// the current input, Ctrl-D exits. History is written after every entry.
fn repl<O: std::io::Write, E: std::io::Write>(shell: &mut Shell<O, E>, what: &str) -> Result<()> {
    println!(
        "cairn {} — {what}. Enter \".help\" for usage hints.",
        env!("CARGO_PKG_VERSION")
    );
    let mut editor: Editor<SqlHelper, DefaultHistory> = Editor::new()?;
    editor.set_helper(Some(SqlHelper::new(shell.connect())));
    let history = history_path();
    if let Some(path) = &history {
        // A missing or unreadable history file is not worth a message.
        let _ = editor.load_history(path);
    }
    // The lines of the current entry, added to history once it is complete.
    let mut entry = String::new();
    loop {
        let prompt = match (shell.is_pending(), shell.in_transaction()) {
            (true, false) => "   ...> ",
            (true, true) => "  ...*> ",
            (false, false) => "cairn> ",
            (false, true) => "cairn*> ",
        };
        match editor.readline(prompt) {
            Ok(line) => {
                if !entry.is_empty() {
                    entry.push('\n');
                }
                entry.push_str(&line);
                shell.settings.terminal_width = editor.dimensions().map(|d| d.0);
                let flow = shell.feed_line(&line);
                if !shell.is_pending() {
                    let added = !entry.trim().is_empty()
                        && matches!(editor.add_history_entry(entry.as_str()), Ok(true));
                    if added {
                        if let Some(path) = &history {
                            // Saved now, so a killed shell keeps it.
                            let _ = editor.append_history(path);
                        }
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
    Ok(())
}
