//! The shell's state machine, independent of where input comes from: feed
//! it lines (from the terminal, a script, `-c`) and it collects SQL until a
//! statement is complete, runs dot commands, and prints results to `out`
//! and errors to `err`. Errors never stop the shell; they are counted so the
//! caller can pick an exit code.

use std::io::Write;
use std::time::Instant;

use cairn::Database;

use crate::dot::{self, DotCommand};
use crate::render::{self, Mode};
use cairn::split_statements;

use crate::split::is_blank_or_comment;

/// How deeply `.read` may nest (a file reading itself stops here).
const MAX_READ_DEPTH: usize = 16;

/// Whether the shell should keep going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// Output settings changed by dot commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub mode: Mode,
    /// Column names in csv mode.
    pub headers: bool,
    pub timer: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            mode: Mode::Table,
            headers: true,
            timer: false,
        }
    }
}

pub struct Shell<O: Write, E: Write> {
    db: Database,
    pub settings: Settings,
    /// SQL lines of a statement that is not complete yet.
    buffer: String,
    out: O,
    err: E,
    errors: usize,
    read_depth: usize,
}

impl<O: Write, E: Write> Shell<O, E> {
    pub fn new(db: Database, out: O, err: E) -> Self {
        Shell {
            db,
            settings: Settings::default(),
            buffer: String::new(),
            out,
            err,
            errors: 0,
            read_depth: 0,
        }
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
    /// statement is a dot command; SQL runs once it ends with `;`.
    pub fn feed_line(&mut self, line: &str) -> Flow {
        if !self.is_pending() {
            if line.trim_start().starts_with('.') {
                return self.dot_command(line);
            }
            if is_blank_or_comment(line) {
                return Flow::Continue;
            }
        }
        self.buffer.push_str(line);
        self.buffer.push('\n');
        if cairn::is_complete_statement(&self.buffer) {
            let sql = std::mem::take(&mut self.buffer);
            self.run_sql(&sql);
        }
        Flow::Continue
    }

    /// Runs whatever is left in the buffer, complete or not (end of input).
    pub fn finish(&mut self) -> Flow {
        if self.is_pending() {
            let sql = std::mem::take(&mut self.buffer);
            self.run_sql(&sql);
        }
        Flow::Continue
    }

    /// Runs a whole script (SQL and dot commands) with its own statement
    /// buffer; a trailing statement without `;` still runs.
    pub fn run_script(&mut self, text: &str) -> Flow {
        self.run_lines(text.lines().map(|l| Ok(l.to_string())))
    }

    /// Like [`Shell::run_script`], reading lines as they come (stdin).
    pub fn run_lines(&mut self, lines: impl Iterator<Item = std::io::Result<String>>) -> Flow {
        let saved = std::mem::take(&mut self.buffer);
        let mut flow = Flow::Continue;
        for line in lines {
            match line {
                Ok(line) => {
                    if self.feed_line(&line) == Flow::Quit {
                        flow = Flow::Quit;
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
        self.buffer = saved;
        flow
    }

    /// Runs each statement of `sql` in turn; a failing statement does not
    /// stop the ones after it.
    pub fn run_sql(&mut self, sql: &str) {
        for stmt in split_statements(sql) {
            let start = Instant::now();
            match self.db.run(&stmt, &[]) {
                Ok(out) => {
                    let text = render::render(&out, self.settings.mode, self.settings.headers);
                    self.print(&text);
                }
                Err(e) => self.error(e),
            }
            if self.settings.timer {
                let t = format!("Run Time: {:.3}s\n", start.elapsed().as_secs_f64());
                self.print(&t);
            }
        }
    }

    /// Parses and runs one dot command line.
    pub fn dot_command(&mut self, line: &str) -> Flow {
        match dot::parse(line) {
            Ok(cmd) => self.run_dot(cmd),
            Err(e) => {
                self.error(e);
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
            DotCommand::Mode(None) => {
                let text = format!("current output mode: {}\n", self.settings.mode.name());
                self.print(&text);
            }
            DotCommand::Mode(Some(m)) => self.settings.mode = m,
            DotCommand::Headers(on) => self.settings.headers = on,
            DotCommand::Timer(on) => self.settings.timer = on,
            DotCommand::Read(path) => {
                if self.read_depth >= MAX_READ_DEPTH {
                    self.error(format!(".read nested more than {MAX_READ_DEPTH} deep"));
                    return Flow::Continue;
                }
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        self.read_depth += 1;
                        let flow = self.run_script(&text);
                        self.read_depth -= 1;
                        return flow;
                    }
                    Err(e) => self.error(format!("cannot read {}: {e}", path.display())),
                }
            }
            DotCommand::Import {
                file,
                table,
                format,
            } => match crate::import::import(&self.db, &file, &table, format) {
                Ok(n) => {
                    let text = format!("imported {n} rows\n");
                    self.print(&text);
                }
                Err(e) => self.error(format!("{e:#}")),
            },
        }
        Flow::Continue
    }

    /// Writes to `out`. A broken pipe is not worth an error per line, so
    /// write failures are ignored.
    fn print(&mut self, text: &str) {
        if !text.is_empty() {
            let _ = self.out.write_all(text.as_bytes());
            let _ = self.out.flush();
        }
    }

    fn error(&mut self, msg: impl std::fmt::Display) {
        self.errors += 1;
        let _ = writeln!(self.err, "Error: {msg}");
        let _ = self.err.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(sh.settings.mode, Mode::Csv);
        sh.feed_line(".headers off");
        sh.feed_line("  .timer on");
        assert!(!sh.settings.headers);
        assert!(sh.settings.timer);
        sh.feed_line(".mode");
        assert_eq!(text(&sh.out), "current output mode: csv\n");
        assert_eq!(sh.error_count(), 0);
    }

    #[test]
    fn quit_stops_a_script() {
        let mut sh = shell();
        assert_eq!(sh.run_script(".help\n.quit\n.bogus\n"), Flow::Quit);
        assert!(text(&sh.out).contains(".import"));
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
        assert_eq!(sh.settings.mode, Mode::Json);
        let err = text(&sh.err);
        assert!(err.starts_with("Error: unknown command .bogus"), "{err}");
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
        assert_eq!(sh.settings.mode, Mode::Line);
    }
}
