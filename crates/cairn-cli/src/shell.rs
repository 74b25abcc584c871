//! The shell's state machine, independent of where input comes from: feed
//! it lines (from the terminal, a script, `-c`) and it collects SQL until a
//! statement is complete, runs dot commands, and prints results to `out`
//! (or the file of `.output`/`.once`) and errors to `err`.
//!
//! Errors never stop the shell unless `.bail on` is set in a script; they
//! are counted so the caller can pick an exit code. An error in a script
//! names where it happened: `near line N` of the input (of FILE for
//! `.read`), with positions inside the statement made absolute.
//!
//! Ctrl-C: the caller's signal handler raises the database's interrupt and
//! [`Shell::interrupt_flag`]; the running statement (or import, export,
//! dump) fails with "interrupted" and the shell goes on with the next one.
//! Only a `.read` file stops at an interrupt.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use cairn::{Database, Error, ErrorKind};

use crate::dot::{self, DotCommand};
use crate::render::{self, Style};
use crate::split::{is_blank_or_comment, statements_with_offsets};

/// How deeply `.read` may nest (a file reading itself stops here).
const MAX_READ_DEPTH: usize = 16;

/// Whether the shell should keep going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// Output settings changed by dot commands and flags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    pub style: Style,
    pub timer: bool,
    /// Stop a script at its first error (`.bail`, `-bail`).
    pub bail: bool,
    /// Print `INSERT n` / `UPDATE n` / `DELETE n` after DML (`.changes`).
    pub changes: bool,
    /// Columns of the terminal the output goes to (`None`: not a
    /// terminal); tables are cut to it unless output is redirected.
    pub terminal_width: Option<usize>,
}

/// Where the lines being fed come from, for error messages.
#[derive(Debug, Clone, Default)]
struct Input {
    /// The file (`.read`), or `None` for standard input and `-c`.
    file: Option<String>,
    /// Whether to say `near line N` at all (not for `-c` or the REPL).
    numbered: bool,
    /// Lines fed so far.
    line: usize,
    /// The line the pending statement started on.
    statement_line: usize,
}

/// The output of `.output FILE` / `.once FILE`.
struct Redirect {
    file: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
    /// Closed after the next command (`.once`).
    once: bool,
}

/// Where printed text goes: the redirect file, or `out`.
struct Sink<O: Write> {
    out: O,
    redirect: Option<Redirect>,
}

impl<O: Write> Write for Sink<O> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.redirect {
            Some(r) => r.file.write(buf),
            None => self.out.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.redirect {
            Some(r) => r.file.flush(),
            None => self.out.flush(),
        }
    }
}

pub struct Shell<O: Write, E: Write> {
    db: Database,
    pub settings: Settings,
    /// SQL lines of a statement that is not complete yet.
    buffer: String,
    sink: Sink<O>,
    err: E,
    errors: usize,
    read_depth: usize,
    input: Input,
    /// Raised by Ctrl-C; checked by the shell's own loops (import, export,
    /// dump) and cleared when a statement or command starts.
    interrupted: Arc<AtomicBool>,
    /// A statement was interrupted since the current `.read` began.
    saw_interrupt: bool,
    /// Input comes from a person at a terminal (`.bail` does not apply).
    interactive: bool,
}

impl<O: Write, E: Write> Shell<O, E> {
    pub fn new(db: Database, out: O, err: E) -> Self {
        Shell {
            db,
            settings: Settings::default(),
            buffer: String::new(),
            sink: Sink {
                out,
                redirect: None,
            },
            err,
            errors: 0,
            read_depth: 0,
            input: Input::default(),
            interrupted: Arc::new(AtomicBool::new(false)),
            saw_interrupt: false,
            interactive: false,
        }
    }

    /// Marks the shell as driven by a person at a terminal: `.changes` is
    /// on and `.bail` never ends the session.
    pub fn set_interactive(&mut self, interactive: bool) {
        self.interactive = interactive;
        self.settings.changes = interactive;
    }

    /// The flag a Ctrl-C handler raises (besides the database's interrupt).
    pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
        self.interrupted.clone()
    }

    /// The database's interrupt handle, for the Ctrl-C handler.
    pub fn interrupt_handle(&self) -> cairn::InterruptHandle {
        self.db.interrupt_handle()
    }

    /// True inside BEGIN ... COMMIT (the prompt shows `cairn*>`).
    pub fn in_transaction(&self) -> bool {
        self.db.in_transaction()
    }

    /// Another connection to the same database (for tab completion).
    pub fn connect(&self) -> Database {
        self.db.connect()
    }

    /// Number of statements and commands that failed so far.
    pub fn error_count(&self) -> usize {
        self.errors
    }

    /// True while an incomplete statement is waiting for more lines.
    pub fn is_pending(&self) -> bool {
        !self.buffer.trim().is_empty()
    }

    /// Drops the incomplete statement (Ctrl-C in the REPL).
    pub fn clear_pending(&mut self) {
        self.buffer.clear();
    }

    /// Takes one line of input. A line starting with `.` outside a
    /// statement is a dot command; SQL runs once it ends with `;`. Returns
    /// [`Flow::Quit`] on `.quit`, and on an error under `.bail on` in a
    /// script.
    pub fn feed_line(&mut self, line: &str) -> Flow {
        self.input.line += 1;
        let errors_before = self.errors;
        let flow = self.take_line(line);
        if self.settings.bail && !self.interactive && self.errors > errors_before {
            return Flow::Quit;
        }
        flow
    }

    fn take_line(&mut self, line: &str) -> Flow {
        if !self.is_pending() {
            if line.trim_start().starts_with('.') {
                return self.dot_command(line);
            }
            if is_blank_or_comment(line) {
                return Flow::Continue;
            }
            self.input.statement_line = self.input.line;
        }
        self.buffer.push_str(line);
        self.buffer.push('\n');
        if cairn::is_complete_statement(&self.buffer) {
            let sql = std::mem::take(&mut self.buffer);
            self.run_sql(&sql);
            self.end_once();
        }
        Flow::Continue
    }

    /// Runs whatever is left in the buffer, complete or not (end of input).
    pub fn finish(&mut self) -> Flow {
        if self.is_pending() {
            let sql = std::mem::take(&mut self.buffer);
            let errors_before = self.errors;
            self.run_sql(&sql);
            self.end_once();
            if self.settings.bail && !self.interactive && self.errors > errors_before {
                return Flow::Quit;
            }
        }
        Flow::Continue
    }

    /// Runs a whole script (SQL and dot commands, a `-c` argument) with its
    /// own statement buffer; a trailing statement without `;` still runs.
    pub fn run_script(&mut self, text: &str) -> Flow {
        self.run_input(text.lines().map(|l| Ok(l.to_string())), None, false)
    }

    /// Runs lines as they come (standard input): errors say `near line N`.
    pub fn run_lines(&mut self, lines: impl Iterator<Item = std::io::Result<String>>) -> Flow {
        self.run_input(lines, None, true)
    }

    /// Runs lines from `file` (`.read`), or numbered lines from standard
    /// input, with their own buffer and line count.
    fn run_input(
        &mut self,
        lines: impl Iterator<Item = std::io::Result<String>>,
        file: Option<String>,
        numbered: bool,
    ) -> Flow {
        let saved_buffer = std::mem::take(&mut self.buffer);
        let saved_input = std::mem::replace(
            &mut self.input,
            Input {
                file,
                numbered,
                ..Input::default()
            },
        );
        let mut flow = Flow::Continue;
        for line in lines {
            match line {
                Ok(line) => {
                    if self.feed_line(&line) == Flow::Quit {
                        flow = Flow::Quit;
                        break;
                    }
                    if self.saw_interrupt && self.read_depth > 0 {
                        self.error("the rest of the file was not run");
                        self.buffer.clear();
                        break;
                    }
                }
                Err(e) => {
                    self.error(format!("cannot read input: {e}"));
                    break;
                }
            }
        }
        if flow == Flow::Continue {
            flow = self.finish();
        }
        self.buffer = saved_buffer;
        self.input = saved_input;
        flow
    }

    /// `near line N` (`of FILE`) for an error in a numbered input.
    fn location(&self, line: usize) -> Option<String> {
        if !self.input.numbered && self.input.file.is_none() {
            return None;
        }
        Some(match &self.input.file {
            Some(f) => format!("near line {line} of {f}"),
            None => format!("near line {line}"),
        })
    }

    /// Runs each statement of `sql` in turn; a failing statement does not
    /// stop the ones after it (unless `.bail on` in a script).
    pub fn run_sql(&mut self, sql: &str) {
        for (offset, stmt) in statements_with_offsets(sql) {
            let first_line = self.input.statement_line.max(1) + sql[..offset].matches('\n').count();
            let line_start = sql[..offset].rfind('\n').map_or(0, |i| i + 1);
            let first_column = sql[line_start..offset].chars().count();
            self.interrupted.store(false, Ordering::Relaxed);
            let start = Instant::now();
            match self.db.run(&stmt, &[]) {
                Ok(out) => {
                    let text = render::render(&out, &self.style());
                    self.print(&text);
                    if self.settings.changes && !out.returns_rows {
                        if let Some(verb) = dml_verb(&stmt) {
                            let text = format!("{verb} {}\n", out.rows_affected);
                            self.print(&text);
                        }
                    }
                }
                Err(e) => {
                    if e.kind() == ErrorKind::Interrupted {
                        self.saw_interrupt = true;
                    }
                    if e.kind() == ErrorKind::Interrupted && self.interactive {
                        // After the `^C` the terminal echoed.
                        let _ = writeln!(self.err);
                    }
                    match self.location(first_line) {
                        Some(at) => {
                            let e = absolute_position(e, first_line, first_column);
                            self.error(format!("{at}: {e}"))
                        }
                        None => self.error(e),
                    }
                    if self.settings.bail && !self.interactive {
                        break;
                    }
                }
            }
            if self.settings.timer {
                let t = format!("Run Time: {:.3}s\n", start.elapsed().as_secs_f64());
                self.print(&t);
            }
        }
    }

    /// The rendering style now: the settings, cut to the terminal unless
    /// output goes to a file.
    fn style(&self) -> Style {
        let mut style = self.settings.style.clone();
        if self.sink.redirect.is_none() {
            style.table_width_max = self.settings.terminal_width;
        }
        style
    }

    /// Parses and runs one dot command line.
    pub fn dot_command(&mut self, line: &str) -> Flow {
        self.interrupted.store(false, Ordering::Relaxed);
        match dot::parse(line) {
            Ok(cmd) => {
                let keeps_once = matches!(cmd, DotCommand::Once(_) | DotCommand::Output(_));
                let flow = self.run_dot(cmd);
                if !keeps_once {
                    self.end_once();
                }
                flow
            }
            Err(e) => {
                match self.location(self.input.line) {
                    Some(at) => self.error(format!("{at}: {e}")),
                    None => self.error(e),
                }
                Flow::Continue
            }
        }
    }

    fn run_dot(&mut self, cmd: DotCommand) -> Flow {
        match cmd {
            DotCommand::Help => self.print(dot::HELP),
            DotCommand::Quit => return Flow::Quit,
            DotCommand::Tables => {
                let names = self.db.table_names();
                let text: String = names.iter().map(|n| format!("{n}\n")).collect();
                self.print(&text);
            }
            DotCommand::Schema(table) => match self.db.schema_sql(table.as_deref()) {
                Ok(stmts) => {
                    let text: String = stmts
                        .iter()
                        .map(|s| {
                            let s = s.trim_end();
                            if s.ends_with(';') {
                                format!("{s}\n")
                            } else {
                                format!("{s};\n")
                            }
                        })
                        .collect();
                    self.print(&text);
                }
                Err(e) => self.error(e),
            },
            DotCommand::Indexes(table) => self.indexes(table.as_deref()),
            DotCommand::Dump(table) => {
                let r = crate::dump::dump(
                    &self.db,
                    table.as_deref(),
                    &mut self.sink,
                    &self.interrupted,
                );
                let _ = self.sink.flush();
                if let Err(e) = r {
                    self.error(format!("{e:#}"));
                }
            }
            DotCommand::Mode(None) => {
                let text = format!("current output mode: {}\n", self.settings.style.mode.name());
                self.print(&text);
            }
            DotCommand::Mode(Some(m)) => self.settings.style.mode = m,
            DotCommand::Headers(on) => self.settings.style.headers = on,
            DotCommand::Timer(on) => self.settings.timer = on,
            DotCommand::Bail(on) => self.settings.bail = on,
            DotCommand::Changes(on) => self.settings.changes = on,
            DotCommand::NullValue(text) => self.settings.style.null_text = text,
            DotCommand::Separator(text) => self.settings.style.separator = text,
            DotCommand::Width(widths) => self.settings.style.column_widths = widths,
            DotCommand::Output(path) => self.redirect(path, false),
            DotCommand::Once(path) => self.redirect(Some(path), true),
            DotCommand::Read(path) => return self.read(&path),
            DotCommand::Import {
                file,
                table,
                options,
            } => self.import(&file, &table, options),
            DotCommand::Export {
                file,
                source,
                format,
            } => match crate::export::export(&self.db, &file, &source, format, &self.interrupted) {
                Ok(n) => {
                    let text = format!("exported {n} rows to {}\n", file.display());
                    self.print(&text);
                }
                Err(e) => self.error(format!("{e:#}")),
            },
        }
        Flow::Continue
    }

    fn indexes(&mut self, table: Option<&str>) {
        match crate::dump::indexes(&self.db, table) {
            Ok(list) => {
                let text: String = list
                    .iter()
                    .map(|i| match &i.name {
                        Some(name) => format!("{name}\n"),
                        None => format!("(unnamed on {}) {}\n", i.table, i.sql),
                    })
                    .collect();
                self.print(&text);
            }
            Err(e) => self.error(format!("{e:#}")),
        }
    }

    fn read(&mut self, path: &Path) -> Flow {
        if self.read_depth >= MAX_READ_DEPTH {
            self.error(format!(".read nested more than {MAX_READ_DEPTH} deep"));
            return Flow::Continue;
        }
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                self.error(format!("cannot read {}: {e}", path.display()));
                return Flow::Continue;
            }
        };
        self.read_depth += 1;
        let saw_interrupt = std::mem::replace(&mut self.saw_interrupt, false);
        let lines = text.lines().map(|l| Ok(l.to_string()));
        let flow = self.run_input(lines, Some(path.display().to_string()), true);
        self.saw_interrupt = saw_interrupt;
        self.read_depth -= 1;
        flow
    }

    fn import(&mut self, file: &Path, table: &str, options: dot::ImportOptions) {
        let started = Instant::now();
        let mut last_report = Instant::now();
        let err = &mut self.err;
        let mut report = |rows: usize| {
            // A progress line once a second, on the error stream (so it
            // never mixes with results), overwritten in place.
            if last_report.elapsed().as_secs() >= 1 {
                last_report = Instant::now();
                let secs = started.elapsed().as_secs();
                let _ = write!(err, "\rimporting: {rows} rows ({secs} s)");
                let _ = err.flush();
            }
        };
        let progress = crate::import::Progress {
            report: &mut report,
            interrupted: &self.interrupted,
        };
        let result = crate::import::import(&self.db, file, table, options, progress);
        if started.elapsed().as_secs() >= 1 {
            let _ = writeln!(self.err);
        }
        match result {
            Ok(n) => {
                let text = format!("imported {n} rows\n");
                self.print(&text);
            }
            Err(e) => self.error(format!("{e:#}")),
        }
    }

    /// `.output FILE` / `.once FILE`; `.output` alone goes back to `out`.
    fn redirect(&mut self, path: Option<PathBuf>, once: bool) {
        self.close_redirect();
        let Some(path) = path else { return };
        match std::fs::File::create(&path) {
            Ok(file) => {
                self.sink.redirect = Some(Redirect {
                    file: std::io::BufWriter::new(file),
                    path,
                    once,
                })
            }
            Err(e) => self.error(format!("cannot write {}: {e}", path.display())),
        }
    }

    fn close_redirect(&mut self) {
        if let Some(mut r) = self.sink.redirect.take() {
            if let Err(e) = r.file.flush() {
                self.error(format!("cannot write {}: {e}", r.path.display()));
            }
        }
    }

    /// After a command: ends a `.once` redirect.
    fn end_once(&mut self) {
        if self.sink.redirect.as_ref().is_some_and(|r| r.once) {
            self.close_redirect();
        }
    }

    /// Writes to the output. A broken pipe is not worth an error per line,
    /// so write failures to `out` are ignored.
    fn print(&mut self, text: &str) {
        if !text.is_empty() {
            let _ = self.sink.write_all(text.as_bytes());
            let _ = self.sink.flush();
        }
    }

    fn error(&mut self, msg: impl std::fmt::Display) {
        self.errors += 1;
        let _ = writeln!(self.err, "Error: {msg}");
        let _ = self.err.flush();
    }
}

impl<O: Write, E: Write> Drop for Shell<O, E> {
    fn drop(&mut self) {
        self.close_redirect();
    }
}

/// `INSERT`, `UPDATE` or `DELETE` for a statement that changes rows (also
/// after `WITH ...`), `None` for anything else.
pub fn dml_verb(sql: &str) -> Option<&'static str> {
    let mut depth = 0usize;
    for (i, word) in sql_words(sql).into_iter().enumerate() {
        match word {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            w => {
                let upper = w.to_ascii_uppercase();
                match upper.as_str() {
                    "INSERT" => return Some("INSERT"),
                    "UPDATE" => return Some("UPDATE"),
                    "DELETE" => return Some("DELETE"),
                    "WITH" if i == 0 => {}
                    _ if i == 0 => return None,
                    "SELECT" | "VALUES" | "TABLE" => return None,
                    // CTE names, AS, commas, [NOT] MATERIALIZED, RECURSIVE.
                    _ => {}
                }
            }
        }
    }
    None
}

/// Words and parentheses of `sql`, skipping quoted text and comments.
fn sql_words(sql: &str) -> Vec<&str> {
    let b = sql.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\'' || c == b'"' {
            i += 1;
            while i < b.len() && b[i] != c {
                i += 1;
            }
            words.push("\"\"");
            i += 1;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'(' || c == b')' || c == b',' {
            words.push(&sql[i..i + 1]);
            i += 1;
        } else if c.is_ascii_alphanumeric() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            words.push(&sql[start..i]);
        } else {
            i += 1;
        }
    }
    words
}

/// Moves a position inside a statement to the input as a whole: the
/// statement starts on `first_line`, at `first_column` characters in.
fn absolute_position(mut e: Error, first_line: usize, first_column: usize) -> Error {
    let position = match &mut e {
        Error::Syntax { position, .. }
        | Error::NoSuchObject { position, .. }
        | Error::AmbiguousColumn { position, .. } => position.as_mut(),
        _ => None,
    };
    if let Some(p) = position {
        if p.line == 1 {
            p.column += first_column as u64;
        }
        p.line += first_line.saturating_sub(1) as u64;
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Mode;

    fn shell() -> Shell<Vec<u8>, Vec<u8>> {
        // The in-memory database cannot fail to open.
        let db = match Database::open_in_memory() {
            Ok(db) => db,
            Err(e) => panic!("{e}"),
        };
        Shell::new(db, Vec::new(), Vec::new())
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    #[test]
    fn dot_commands_change_settings() {
        let mut sh = shell();
        assert_eq!(sh.feed_line(".mode csv"), Flow::Continue);
        assert_eq!(sh.settings.style.mode, Mode::Csv);
        sh.feed_line(".headers off");
        sh.feed_line("  .timer on");
        sh.feed_line(".nullvalue NULL");
        assert!(!sh.settings.style.headers);
        assert!(sh.settings.timer);
        assert_eq!(sh.settings.style.null_text, "NULL");
        sh.feed_line(".mode");
        assert_eq!(text(&sh.sink.out), "current output mode: csv\n");
        assert_eq!(sh.error_count(), 0);
    }

    #[test]
    fn quit_stops_a_script() {
        let mut sh = shell();
        assert_eq!(sh.run_script(".help\n.quit\n.bogus\n"), Flow::Quit);
        assert!(text(&sh.sink.out).contains(".import"));
        assert_eq!(sh.error_count(), 0);
    }

    #[test]
    fn bad_commands_are_errors_that_do_not_stop() {
        let mut sh = shell();
        assert_eq!(
            sh.run_script(".bogus\n.mode html\n.mode json\n"),
            Flow::Continue
        );
        assert_eq!(sh.error_count(), 2);
        assert_eq!(sh.settings.style.mode, Mode::Json);
        let err = text(&sh.err);
        assert!(err.starts_with("Error: unknown command .bogus"), "{err}");
    }

    #[test]
    fn bail_stops_a_script_at_the_first_error() {
        let mut sh = shell();
        let flow = sh.run_script(".bail on\nSELECT nope;\n.mode csv\n");
        assert_eq!(flow, Flow::Quit);
        assert_eq!(sh.settings.style.mode, Mode::Table);
        let mut sh = shell();
        sh.set_interactive(true);
        sh.feed_line(".bail on");
        assert_eq!(sh.feed_line("SELECT nope;"), Flow::Continue);
    }

    #[test]
    fn multi_line_statements_wait_for_semicolon() {
        let mut sh = shell();
        sh.feed_line("SELECT");
        assert!(sh.is_pending());
        // A dot at the start of a continuation line is SQL, not a command.
        sh.feed_line(".5");
        assert!(sh.is_pending());
        sh.clear_pending();
        assert!(!sh.is_pending());
        sh.feed_line("-- only a comment");
        sh.feed_line("   ");
        assert!(!sh.is_pending());
    }

    #[test]
    fn failing_statements_are_counted() {
        let mut sh = shell();
        sh.run_script("SELECT nope FROM nowhere; SELECT also_nope FROM nowhere");
        assert_eq!(sh.error_count(), 2);
        assert!(!sh.is_pending());
    }

    #[test]
    fn errors_in_numbered_input_name_the_line() {
        let mut sh = shell();
        let lines = ["SELECT 1;", "", "SELECT", "  nope FROM nowhere;"];
        sh.run_lines(lines.iter().map(|l| Ok(l.to_string())));
        let err = text(&sh.err);
        assert!(
            err.starts_with("Error: near line 3: no such table: nowhere at line 4, column 13"),
            "{err}"
        );
    }

    #[test]
    fn read_of_missing_file_is_an_error() {
        let mut sh = shell();
        sh.feed_line(".read /nonexistent/file.sql");
        assert_eq!(sh.error_count(), 1);
        assert!(text(&sh.err).contains("cannot read /nonexistent/file.sql"));
    }

    #[test]
    fn import_of_missing_file_is_an_error() {
        let mut sh = shell();
        sh.feed_line(".import /nonexistent/data.csv t");
        assert_eq!(sh.error_count(), 1);
        assert!(text(&sh.err).contains("cannot open /nonexistent/data.csv"));
    }

    #[test]
    fn script_buffer_is_separate_from_pending_input() {
        let mut sh = shell();
        sh.feed_line("SELECT 1");
        sh.run_script(".mode line\n");
        assert!(sh.is_pending());
        assert_eq!(sh.settings.style.mode, Mode::Line);
    }

    #[test]
    fn an_interrupt_stops_a_read_file_but_not_the_shell() -> Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("long.sql");
        std::fs::write(
            &file,
            "SELECT count(*) FROM t a, t b, t c WHERE a.x + b.x + c.x < 0;\nSELECT 'after';\n",
        )?;
        let mut sh = shell();
        sh.run_script(
            "CREATE TABLE t (x INTEGER); INSERT INTO t WITH RECURSIVE c(x) AS \
             (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000) SELECT x FROM c;",
        );
        let handle = sh.interrupt_handle();
        let done = Arc::new(AtomicBool::new(false));
        let stop = done.clone();
        let pressing = std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(100));
                handle.interrupt();
            }
        });
        sh.feed_line(&format!(".read '{}'", file.display()));
        done.store(true, Ordering::Relaxed);
        let _ = pressing.join();
        let err = text(&sh.err);
        assert!(err.contains("interrupted"), "{err}");
        assert!(err.contains("the rest of the file was not run"), "{err}");
        assert!(!text(&sh.sink.out).contains("after"));
        Ok(())
    }

    #[test]
    fn changes_after_dml() {
        let mut sh = shell();
        sh.set_interactive(true);
        sh.run_script(
            ".mode csv\nCREATE TABLE t (a INTEGER);\nINSERT INTO t VALUES (1), (2), (3);\n\
             UPDATE t SET a = a + 1 WHERE a > 1;\nDELETE FROM t;\n\
             WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x;\nSELECT count(*) AS n FROM t;",
        );
        assert_eq!(sh.error_count(), 0, "{}", text(&sh.err));
        assert_eq!(
            text(&sh.sink.out),
            "INSERT 3\nUPDATE 2\nDELETE 3\nINSERT 1\nn\n1\n"
        );
    }

    #[test]
    fn dml_verbs() {
        assert_eq!(dml_verb("insert into t values (1)"), Some("INSERT"));
        assert_eq!(
            dml_verb("WITH a AS (SELECT 1), b (x) AS NOT MATERIALIZED (SELECT 2) DELETE FROM t"),
            Some("DELETE")
        );
        assert_eq!(dml_verb("WITH a AS (DELETE FROM t) SELECT 1"), None);
        assert_eq!(dml_verb("SELECT 'insert'"), None);
        assert_eq!(dml_verb("CREATE TABLE t (a INTEGER)"), None);
        assert_eq!(dml_verb("-- update\nUPDATE t SET a = 1"), Some("UPDATE"));
    }
}
