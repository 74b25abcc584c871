//! Command-line arguments before the database opens: sqlite3's one-dash
//! flags (`-csv`, `-cmd ...`) mapped to ours, and the checks that keep a
//! typo from creating a database (`cairn help`, `cairn chek db`, a plain
//! file, a directory that holds something else). Never creates or writes
//! anything; it only looks at paths.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The subcommands `cairn` takes before any database path.
pub const SUBCOMMANDS: &[&str] = &["check", "salvage", "root", "prove", "verify"];

/// sqlite3's flags, written with one dash; each becomes `--name`.
const ONE_DASH_FLAGS: &[&str] = &[
    "bail",
    "box",
    "cmd",
    "csv",
    "header",
    "headers",
    "help",
    "json",
    "line",
    "list",
    "markdown",
    "noheader",
    "nullvalue",
    "readonly",
    "separator",
    "table",
    "tabs",
    "version",
];

/// Flags whose next argument is their value (never rewritten).
const TAKES_VALUE: &[&str] = &["-c", "--command", "--cmd", "--nullvalue", "--separator"];

/// Rewrites sqlite3-style `-flag` arguments to `--flag`, leaving values of
/// flags (`-c "-csv"`) and everything after `--` alone.
pub fn normalize(args: Vec<OsString>) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut value_next = false;
    let mut rest_positional = false;
    for (i, arg) in args.into_iter().enumerate() {
        if i == 0 || value_next || rest_positional {
            value_next = false;
            out.push(arg);
            continue;
        }
        let mapped = match arg.to_str() {
            Some("--") => {
                rest_positional = true;
                arg
            }
            Some(s) if s.len() > 2 && s.starts_with('-') && !s.starts_with("--") => {
                let name = &s[1..];
                if ONE_DASH_FLAGS.contains(&name) {
                    OsString::from(format!("-{s}"))
                } else {
                    arg
                }
            }
            _ => arg,
        };
        value_next = mapped.to_str().is_some_and(|s| TAKES_VALUE.contains(&s));
        out.push(mapped);
    }
    out
}

/// What the path argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Memory,
    /// A Cairn database directory (it has a MANIFEST).
    Existing(PathBuf),
    /// A database to create: the path does not exist, or is an empty
    /// directory.
    New(PathBuf),
}

/// Decides what `path` is, refusing what would create a database by
/// mistake. The error is one line for the user.
pub fn target(path: Option<&Path>) -> Result<Target, String> {
    let Some(path) = path else {
        return Ok(Target::Memory);
    };
    if path.as_os_str() == ":memory:" {
        return Ok(Target::Memory);
    }
    let shown = path.display();
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            if path.join("MANIFEST").exists() {
                return Ok(Target::Existing(path.to_path_buf()));
            }
            let empty = std::fs::read_dir(path)
                .map_err(|e| format!("cannot open {shown}: {e}"))?
                .next()
                .is_none();
            if empty {
                Ok(Target::New(path.to_path_buf()))
            } else {
                Err(format!(
                    "cannot open {shown}: a directory with other files and no MANIFEST is not a \
                     Cairn database (give a new or empty directory to create one)"
                ))
            }
        }
        Ok(_) => Err(format!(
            "cannot open {shown}: it is a file; a Cairn database is a directory"
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(word) = bare_word(path) {
                if let Some(msg) = mistaken_command(word) {
                    return Err(msg);
                }
            }
            Ok(Target::New(path.to_path_buf()))
        }
        Err(e) => Err(format!("cannot open {shown}: {e}")),
    }
}

/// The path as a plain word (`chek`), when it has no directory part.
fn bare_word(path: &Path) -> Option<&str> {
    let s = path.to_str()?;
    (!s.contains(std::path::MAIN_SEPARATOR) && !s.contains('/') && !s.starts_with('.')).then_some(s)
}

/// The message for a word that looks like a command rather than a new
/// database's name: `help`, or a near miss of a subcommand.
pub fn mistaken_command(word: &str) -> Option<String> {
    let lower = word.to_ascii_lowercase();
    if matches!(lower.as_str(), "help" | "h" | "usage") {
        return Some(format!(
            "'{word}' is not a command: run `cairn --help` for usage \
             (to create a database named {word}, give ./{word})"
        ));
    }
    let near = SUBCOMMANDS.iter().find(|c| {
        let d = edit_distance(&lower, c);
        d > 0 && d <= if c.len() <= 4 { 1 } else { 2 }
    })?;
    Some(format!(
        "unknown command '{word}' (did you mean '{near}'?); run `cairn --help` for usage \
         (to create a database named {word}, give ./{word})"
    ))
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn one_dash_flags() {
        assert_eq!(
            normalize(os(&[
                "cairn", "-csv", "-header", "db", "-cmd", "-json", "-c", "-bail"
            ])),
            os(&["cairn", "--csv", "--header", "db", "--cmd", "-json", "-c", "-bail"])
        );
        assert_eq!(
            normalize(os(&["cairn", "-c", "x", "--", "-csv"])),
            os(&["cairn", "-c", "x", "--", "-csv"])
        );
        assert_eq!(normalize(os(&["cairn", "-x"])), os(&["cairn", "-x"]));
    }

    #[test]
    fn near_misses() {
        assert!(mistaken_command("chek").is_some_and(|m| m.contains("'check'")));
        assert!(mistaken_command("verfy").is_some());
        assert!(mistaken_command("help").is_some());
        assert!(mistaken_command("rest").is_none());
        assert!(mistaken_command("mydb").is_none());
        assert!(mistaken_command("check").is_none());
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn targets() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        assert_eq!(target(None), Ok(Target::Memory));
        assert_eq!(target(Some(Path::new(":memory:"))), Ok(Target::Memory));
        assert_eq!(
            target(Some(dir.path())),
            Ok(Target::New(dir.path().to_path_buf()))
        );
        let new = dir.path().join("new");
        assert_eq!(target(Some(&new)), Ok(Target::New(new.clone())));
        std::fs::write(dir.path().join("file"), "x")?;
        assert!(target(Some(&dir.path().join("file"))).is_err());
        assert!(target(Some(dir.path())).is_err(), "not empty now");
        std::fs::write(dir.path().join("MANIFEST"), "x")?;
        assert_eq!(
            target(Some(dir.path())),
            Ok(Target::Existing(dir.path().to_path_buf()))
        );
        Ok(())
    }
}
