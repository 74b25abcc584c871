//! Dot commands (`.help`, `.mode csv`, `.import data.csv t` ...): parsing a
//! command line into a [`DotCommand`]. Running them is the shell's job.

use std::path::PathBuf;

use crate::render::Mode;

/// The text `.help` prints.
pub const HELP: &str = "\
.exit                   Exit the shell (same as .quit)
.headers on|off         Show column names in csv mode (default on)
.help                   Show this message
.import [--csv|--json] FILE TABLE
                        Import a CSV file (first row = column names) or a
                        JSON-lines file (.jsonl/.ndjson or --json) into TABLE,
                        creating it with inferred column types if needed
.mode [table|csv|json|line]
                        Set (or show) the output mode
.quit                   Exit the shell
.read FILE              Run the statements and dot commands in FILE
.schema [TABLE]         Show CREATE statements (of one table, or of all)
.tables                 List tables and views
.timer on|off           Print the run time after each statement

SQL statements end with ';' and may span several lines.
";

/// Format of a file for `.import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    Csv,
    JsonLines,
}

impl ImportFormat {
    /// JSON lines for `.jsonl`/`.ndjson` files, CSV otherwise.
    pub fn from_path(path: &std::path::Path) -> ImportFormat {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("jsonl" | "ndjson") => ImportFormat::JsonLines,
            _ => ImportFormat::Csv,
        }
    }
}

/// A parsed dot command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DotCommand {
    Help,
    Quit,
    Tables,
    Schema(Option<String>),
    /// `.mode` with no argument shows the current mode.
    Mode(Option<Mode>),
    Headers(bool),
    Timer(bool),
    Read(PathBuf),
    Import {
        file: PathBuf,
        table: String,
        format: ImportFormat,
    },
}

/// Parses a line starting with `.`. Arguments are separated by spaces and
/// may be quoted with `'` or `"`.
pub fn parse(line: &str) -> Result<DotCommand, String> {
    let words = split_args(line.trim())?;
    let Some((name, args)) = words.split_first() else {
        return Err("empty command".to_string());
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let usage = |u: &str| Err(format!("usage: {u}"));
    match (name.as_str(), args.as_slice()) {
        (".help", _) => Ok(DotCommand::Help),
        (".quit" | ".exit", _) => Ok(DotCommand::Quit),
        (".tables", []) => Ok(DotCommand::Tables),
        (".tables", _) => usage(".tables"),
        (".schema", []) => Ok(DotCommand::Schema(None)),
        (".schema", [t]) => Ok(DotCommand::Schema(Some(t.to_string()))),
        (".schema", _) => usage(".schema [TABLE]"),
        (".mode", []) => Ok(DotCommand::Mode(None)),
        (".mode", [m]) => match Mode::parse(m) {
            Some(mode) => Ok(DotCommand::Mode(Some(mode))),
            None => Err(format!("unknown mode {m}; use table, csv, json or line")),
        },
        (".mode", _) => usage(".mode table|csv|json|line"),
        (".headers", [v]) => on_off(v).map(DotCommand::Headers),
        (".headers", _) => usage(".headers on|off"),
        (".timer", [v]) => on_off(v).map(DotCommand::Timer),
        (".timer", _) => usage(".timer on|off"),
        (".read", [f]) => Ok(DotCommand::Read(PathBuf::from(f))),
        (".read", _) => usage(".read FILE"),
        (".import", _) => parse_import(&args),
        (other, _) => Err(format!(
            "unknown command {other}; enter \".help\" for a list"
        )),
    }
}

fn parse_import(args: &[&str]) -> Result<DotCommand, String> {
    let mut format = None;
    let mut rest = Vec::new();
    for a in args {
        match *a {
            "--csv" => format = Some(ImportFormat::Csv),
            "--json" | "--jsonl" => format = Some(ImportFormat::JsonLines),
            opt if opt.starts_with("--") => return Err(format!("unknown .import option {opt}")),
            other => rest.push(other),
        }
    }
    match rest.as_slice() {
        [file, table] => {
            let file = PathBuf::from(file);
            let format = format.unwrap_or_else(|| ImportFormat::from_path(&file));
            Ok(DotCommand::Import {
                file,
                table: table.to_string(),
                format,
            })
        }
        _ => Err("usage: .import [--csv|--json] FILE TABLE".to_string()),
    }
}

fn on_off(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" | "1" => Ok(true),
        "off" | "no" | "false" | "0" => Ok(false),
        _ => Err(format!("expected on or off, got {v}")),
    }
}

/// Splits a command line into words; `'...'` and `"..."` group a word
/// (a doubled quote inside stands for one quote).
pub fn split_args(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '\'' || c == '"' {
            chars.next();
            loop {
                match chars.next() {
                    Some(ch) if ch == c => {
                        if chars.peek() == Some(&c) {
                            chars.next();
                            word.push(c);
                        } else {
                            break;
                        }
                    }
                    Some(ch) => word.push(ch),
                    None => return Err(format!("unterminated {c} quote")),
                }
            }
        } else {
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                word.push(ch);
                chars.next();
            }
        }
        words.push(word);
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
    }

    #[test]
    fn parses_import() {
        assert_eq!(
            parse(".import data.csv t"),
            Ok(DotCommand::Import {
                file: "data.csv".into(),
                table: "t".into(),
                format: ImportFormat::Csv
            })
        );
        assert_eq!(
            parse(".import rows.NDJSON t"),
            Ok(DotCommand::Import {
                file: "rows.NDJSON".into(),
                table: "t".into(),
                format: ImportFormat::JsonLines
            })
        );
        assert_eq!(
            parse(".import --json \"a b.txt\" t"),
            Ok(DotCommand::Import {
                file: "a b.txt".into(),
                table: "t".into(),
                format: ImportFormat::JsonLines
            })
        );
        assert!(parse(".import only_file").is_err());
        assert!(parse(".import --xml a t").is_err());
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
