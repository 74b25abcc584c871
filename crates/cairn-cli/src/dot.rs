//! Dot commands (`.help`, `.mode csv`, `.import data.csv t` ...): parsing a
//! command line into a [`DotCommand`]. Running them is the shell's job.
//! Never touches the database or files.

use std::path::PathBuf;

use crate::render::Mode;

/// The text `.help` prints.
pub const HELP: &str = "\
.bail on|off            Stop a script at its first error (default off)
.changes on|off         Print rows changed after INSERT/UPDATE/DELETE
                        (default on in a terminal, off in scripts)
.dump [TABLE]           SQL (schema and rows) that re-creates the database
                        or one table
.exit                   Exit the shell (same as .quit)
.export [--csv|--json] FILE TABLE|SELECT ...
                        Write a table or a query's rows to FILE as CSV or
                        JSON lines (.jsonl/.ndjson or --json)
.headers on|off         Show column names (default on)
.help                   Show this message
.import [--csv|--json] [--delimiter C|--tabs] FILE TABLE
                        Import a CSV file (first row = column names) or a
                        JSON-lines file (.jsonl/.ndjson or --json) into TABLE,
                        creating it with inferred column types if needed
.indexes [TABLE]        List indexes (of one table, or of all)
.mode [MODE]            Set (or show) the output mode: table, box, markdown,
                        csv, tabs, list, json or line
.nullvalue TEXT         Print NULL as TEXT (default: an empty cell)
.once FILE              Send the next command's output to FILE
.output [FILE]          Send output to FILE, or back to the screen
.quit                   Exit the shell
.read FILE              Run the statements and dot commands in FILE
.schema [TABLE]         Show CREATE statements (of one table, or of all)
.separator TEXT         Column separator of list mode (default |)
.tables                 List tables and views
.timer on|off           Print the run time after each statement
.width [N ...]          Widest each column may be in table modes (0 = any);
                        no arguments resets

SQL statements end with ';' and may span several lines. Ctrl-C stops the
running statement; Ctrl-D exits.
";

/// Format of a file for `.import` and `.export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    JsonLines,
}

impl FileFormat {
    /// JSON lines for `.jsonl`/`.ndjson` files, CSV otherwise.
    pub fn from_path(path: &std::path::Path) -> FileFormat {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("jsonl" | "ndjson") => FileFormat::JsonLines,
            _ => FileFormat::Csv,
        }
    }
}

/// How `.import` reads a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportOptions {
    pub format: FileFormat,
    /// The CSV field delimiter (`,` unless given).
    pub delimiter: u8,
}

/// What `.export` writes: a whole table or a query's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportSource {
    Table(String),
    Query(String),
}

/// A parsed dot command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DotCommand {
    Help,
    Quit,
    Tables,
    Schema(Option<String>),
    Indexes(Option<String>),
    Dump(Option<String>),
    /// `.mode` with no argument shows the current mode.
    Mode(Option<Mode>),
    Headers(bool),
    Timer(bool),
    Bail(bool),
    Changes(bool),
    NullValue(String),
    Separator(String),
    Width(Vec<usize>),
    /// `.output` with no file goes back to standard output.
    Output(Option<PathBuf>),
    Once(PathBuf),
    Read(PathBuf),
    Import {
        file: PathBuf,
        table: String,
        options: ImportOptions,
    },
    Export {
        file: PathBuf,
        source: ExportSource,
        format: FileFormat,
    },
}

/// Parses a line starting with `.`. Arguments are separated by spaces and
/// may be quoted with `'` or `"`.
pub fn parse(line: &str) -> Result<DotCommand, String> {
    let line = line.trim();
    let words = split_args(line)?;
    let Some((name, args)) = words.split_first() else {
        return Err("empty command".to_string());
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let usage = |u: &str| Err(format!("usage: {u}"));
    let one_table = |make: fn(Option<String>) -> DotCommand, u: &str| match args.as_slice() {
        [] => Ok(make(None)),
        [t] => Ok(make(Some(t.to_string()))),
        _ => usage(u),
    };
    match (name.as_str(), args.as_slice()) {
        (".help", _) => Ok(DotCommand::Help),
        (".quit" | ".exit", _) => Ok(DotCommand::Quit),
        (".tables", []) => Ok(DotCommand::Tables),
        (".tables", _) => usage(".tables"),
        (".schema", _) => one_table(DotCommand::Schema, ".schema [TABLE]"),
        (".indexes" | ".indices", _) => one_table(DotCommand::Indexes, ".indexes [TABLE]"),
        (".dump", _) => one_table(DotCommand::Dump, ".dump [TABLE]"),
        (".mode", []) => Ok(DotCommand::Mode(None)),
        (".mode", [m]) => match Mode::parse(m) {
            Some(mode) => Ok(DotCommand::Mode(Some(mode))),
            None => Err(format!(
                "unknown mode {m}; use table, box, markdown, csv, tabs, list, json or line"
            )),
        },
        (".mode", _) => usage(".mode [MODE]"),
        (".headers" | ".header", [v]) => on_off(v).map(DotCommand::Headers),
        (".headers" | ".header", _) => usage(".headers on|off"),
        (".timer", [v]) => on_off(v).map(DotCommand::Timer),
        (".timer", _) => usage(".timer on|off"),
        (".bail", [v]) => on_off(v).map(DotCommand::Bail),
        (".bail", _) => usage(".bail on|off"),
        (".changes", [v]) => on_off(v).map(DotCommand::Changes),
        (".changes", _) => usage(".changes on|off"),
        (".nullvalue", [v]) => Ok(DotCommand::NullValue(v.to_string())),
        (".nullvalue", _) => usage(".nullvalue TEXT"),
        (".separator", [v]) => Ok(DotCommand::Separator(v.to_string())),
        (".separator", _) => usage(".separator TEXT"),
        (".width", ws) => ws
            .iter()
            .map(|w| {
                w.parse::<usize>()
                    .map_err(|_| format!("width {w} is not a number of columns"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(DotCommand::Width),
        (".output", []) => Ok(DotCommand::Output(None)),
        (".output", [f]) => Ok(DotCommand::Output(Some(PathBuf::from(f)))),
        (".output", _) => usage(".output [FILE]"),
        (".once", [f]) => Ok(DotCommand::Once(PathBuf::from(f))),
        (".once", _) => usage(".once FILE"),
        (".read", [f]) => Ok(DotCommand::Read(PathBuf::from(f))),
        (".read", _) => usage(".read FILE"),
        (".import", _) => parse_import(&args),
        (".export", _) => parse_export(line),
        (other, _) => Err(format!(
            "unknown command {other}; enter \".help\" for a list"
        )),
    }
}

const IMPORT_USAGE: &str = "usage: .import [--csv|--json] [--delimiter C|--tabs] FILE TABLE";

fn parse_import(args: &[&str]) -> Result<DotCommand, String> {
    let mut format = None;
    let mut delimiter = b',';
    let mut rest = Vec::new();
    let mut args = args.iter();
    while let Some(a) = args.next() {
        match *a {
            "--csv" => format = Some(FileFormat::Csv),
            "--json" | "--jsonl" => format = Some(FileFormat::JsonLines),
            "--tabs" => {
                format = Some(FileFormat::Csv);
                delimiter = b'\t';
            }
            "--delimiter" | "--separator" => {
                let Some(d) = args.next() else {
                    return Err(IMPORT_USAGE.to_string());
                };
                delimiter = parse_delimiter(d)?;
                format = Some(FileFormat::Csv);
            }
            opt if opt.starts_with("--") => return Err(format!("unknown .import option {opt}")),
            other => rest.push(other),
        }
    }
    match rest.as_slice() {
        [file, table] => {
            let file = PathBuf::from(file);
            let format = format.unwrap_or_else(|| FileFormat::from_path(&file));
            Ok(DotCommand::Import {
                file,
                table: table.to_string(),
                options: ImportOptions { format, delimiter },
            })
        }
        _ => Err(IMPORT_USAGE.to_string()),
    }
}

/// One ASCII character, or `\t` / `tab` for a tab.
fn parse_delimiter(d: &str) -> Result<u8, String> {
    match d {
        "\\t" | "tab" => Ok(b'\t'),
        _ if d.len() == 1 && d.is_ascii() && d != "\"" && d != "\n" => Ok(d.as_bytes()[0]),
        _ => Err(format!(
            "delimiter {d:?} must be one ASCII character other than a quote"
        )),
    }
}

const EXPORT_USAGE: &str = "usage: .export [--csv|--json] FILE TABLE|SELECT ...";

/// `.export [--csv|--json] FILE TABLE` or `.export FILE SELECT ...`: the
/// query is the rest of the line as written (its quotes kept).
fn parse_export(line: &str) -> Result<DotCommand, String> {
    let mut rest = line;
    // The command name itself.
    let _ = next_word(&mut rest)?;
    let mut format = None;
    let file = loop {
        match next_word(&mut rest)? {
            None => return Err(EXPORT_USAGE.to_string()),
            Some(w) if w == "--csv" => format = Some(FileFormat::Csv),
            Some(w) if w == "--json" || w == "--jsonl" => format = Some(FileFormat::JsonLines),
            Some(w) if w.starts_with("--") => return Err(format!("unknown .export option {w}")),
            Some(w) => break PathBuf::from(w),
        }
    };
    let what = rest.trim().trim_end_matches(';').trim_end();
    if what.is_empty() {
        return Err(EXPORT_USAGE.to_string());
    }
    let mut probe = what;
    let first = next_word(&mut probe)?.unwrap_or_default();
    let source = if probe.trim().is_empty() && !is_query_keyword(&first) {
        ExportSource::Table(first)
    } else {
        ExportSource::Query(what.to_string())
    };
    let format = format.unwrap_or_else(|| FileFormat::from_path(&file));
    Ok(DotCommand::Export {
        file,
        source,
        format,
    })
}

fn is_query_keyword(w: &str) -> bool {
    ["select", "with", "values", "explain", "table"]
        .iter()
        .any(|k| w.eq_ignore_ascii_case(k))
}

fn on_off(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" | "1" => Ok(true),
        "off" | "no" | "false" | "0" => Ok(false),
        _ => Err(format!("expected on or off, got {v}")),
    }
}

/// Takes the next word off the front of `rest`; `'...'` and `"..."` group
/// a word (a doubled quote inside stands for one quote).
pub(crate) fn next_word(rest: &mut &str) -> Result<Option<String>, String> {
    let s = rest.trim_start();
    let mut chars = s.char_indices().peekable();
    let Some(&(_, c)) = chars.peek() else {
        *rest = s;
        return Ok(None);
    };
    let mut word = String::new();
    if c == '\'' || c == '"' {
        chars.next();
        loop {
            match chars.next() {
                Some((i, ch)) if ch == c => {
                    if chars.peek().map(|p| p.1) == Some(c) {
                        chars.next();
                        word.push(c);
                    } else {
                        *rest = &s[i + ch.len_utf8()..];
                        return Ok(Some(word));
                    }
                }
                Some((_, ch)) => word.push(ch),
                None => return Err(format!("unterminated {c} quote")),
            }
        }
    }
    for (i, ch) in chars {
        if ch.is_whitespace() {
            *rest = &s[i..];
            return Ok(Some(word));
        }
        word.push(ch);
    }
    *rest = "";
    Ok(Some(word))
}

/// Splits a command line into words; `'...'` and `"..."` group a word
/// (a doubled quote inside stands for one quote).
pub fn split_args(line: &str) -> Result<Vec<String>, String> {
    let mut rest = line;
    let mut words = Vec::new();
    while let Some(w) = next_word(&mut rest)? {
        words.push(w);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_simple_commands() {
        assert_eq!(parse(".help"), Ok(DotCommand::Help));
        assert_eq!(parse("  .quit "), Ok(DotCommand::Quit));
        assert_eq!(parse(".exit"), Ok(DotCommand::Quit));
        assert_eq!(parse(".tables"), Ok(DotCommand::Tables));
        assert_eq!(parse(".schema"), Ok(DotCommand::Schema(None)));
        assert_eq!(
            parse(".schema t1"),
            Ok(DotCommand::Schema(Some("t1".into())))
        );
        assert_eq!(parse(".mode csv"), Ok(DotCommand::Mode(Some(Mode::Csv))));
        assert_eq!(parse(".mode"), Ok(DotCommand::Mode(None)));
        assert_eq!(parse(".headers off"), Ok(DotCommand::Headers(false)));
        assert_eq!(parse(".timer ON"), Ok(DotCommand::Timer(true)));
        assert_eq!(
            parse(".read 'my file.sql'"),
            Ok(DotCommand::Read("my file.sql".into()))
        );
        assert_eq!(
            parse(".indexes t"),
            Ok(DotCommand::Indexes(Some("t".into())))
        );
        assert_eq!(parse(".dump"), Ok(DotCommand::Dump(None)));
        assert_eq!(parse(".bail on"), Ok(DotCommand::Bail(true)));
        assert_eq!(parse(".nullvalue ∅"), Ok(DotCommand::NullValue("∅".into())));
        assert_eq!(
            parse(".width 10 0 5"),
            Ok(DotCommand::Width(vec![10, 0, 5]))
        );
        assert_eq!(parse(".width"), Ok(DotCommand::Width(vec![])));
        assert_eq!(parse(".output"), Ok(DotCommand::Output(None)));
        assert_eq!(parse(".once o.txt"), Ok(DotCommand::Once("o.txt".into())));
    }

    #[test]
    fn parses_import() {
        let csv = ImportOptions {
            format: FileFormat::Csv,
            delimiter: b',',
        };
        assert_eq!(
            parse(".import data.csv t"),
            Ok(DotCommand::Import {
                file: "data.csv".into(),
                table: "t".into(),
                options: csv,
            })
        );
        assert_eq!(
            parse(".import rows.NDJSON t"),
            Ok(DotCommand::Import {
                file: "rows.NDJSON".into(),
                table: "t".into(),
                options: ImportOptions {
                    format: FileFormat::JsonLines,
                    ..csv
                },
            })
        );
        assert_eq!(
            parse(".import --json \"a b.txt\" t"),
            Ok(DotCommand::Import {
                file: "a b.txt".into(),
                table: "t".into(),
                options: ImportOptions {
                    format: FileFormat::JsonLines,
                    ..csv
                },
            })
        );
        assert_eq!(
            parse(".import --delimiter ';' a.txt t"),
            Ok(DotCommand::Import {
                file: "a.txt".into(),
                table: "t".into(),
                options: ImportOptions {
                    delimiter: b';',
                    ..csv
                },
            })
        );
        assert!(matches!(
            parse(".import --tabs a.tsv t"),
            Ok(DotCommand::Import {
                options: ImportOptions {
                    delimiter: b'\t',
                    ..
                },
                ..
            })
        ));
        assert!(parse(".import only_file").is_err());
        assert!(parse(".import --xml a t").is_err());
        assert!(parse(".import --delimiter ab a t").is_err());
        assert!(parse(".import --delimiter").is_err());
    }

    #[test]
    fn parses_export() {
        assert_eq!(
            parse(".export out.csv t"),
            Ok(DotCommand::Export {
                file: "out.csv".into(),
                source: ExportSource::Table("t".into()),
                format: FileFormat::Csv,
            })
        );
        assert_eq!(
            parse(".export --json 'o u.txt' SELECT 'a  b' FROM t;"),
            Ok(DotCommand::Export {
                file: "o u.txt".into(),
                source: ExportSource::Query("SELECT 'a  b' FROM t".into()),
                format: FileFormat::JsonLines,
            })
        );
        assert!(parse(".export out.csv").is_err());
        assert!(parse(".export").is_err());
    }

    #[test]
    fn rejects_bad_commands() {
        assert!(parse(".bogus").is_err());
        assert!(parse(".mode html").is_err());
        assert!(parse(".headers maybe").is_err());
        assert!(parse(".timer").is_err());
        assert!(parse(".read").is_err());
        assert!(parse(".schema a b").is_err());
        assert!(parse(".read 'unterminated").is_err());
        assert!(parse(".width x").is_err());
        assert!(parse(".once").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn splits_quoted_words() {
        assert_eq!(
            split_args(r#".x 'it''s' "a b"  c"#),
            Ok(vec![
                ".x".to_string(),
                "it's".into(),
                "a b".into(),
                "c".into()
            ])
        );
    }
}
