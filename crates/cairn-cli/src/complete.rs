//! Tab completion for the REPL (rustyline's `Completer`): dot commands at
//! the start of a line, otherwise SQL keywords, table names and column
//! names (`t.` completes the columns of `t`). Reads the catalog through its
//! own connection, so it never waits on the shell's; it sees committed
//! tables only. Never writes.

use std::borrow::Cow;

use cairn::Database;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use crate::import::quote_ident;

/// Keywords offered by completion (upper case; typed lower case, they
/// complete in lower case).
const KEYWORDS: &[&str] = &[
    "ALTER",
    "AND",
    "AS",
    "ASC",
    "BEGIN",
    "BETWEEN",
    "BY",
    "CASE",
    "CAST",
    "CHECKPOINT",
    "COMMIT",
    "CREATE",
    "CROSS",
    "DEFAULT",
    "DELETE",
    "DESC",
    "DISTINCT",
    "DROP",
    "ELSE",
    "END",
    "EXISTS",
    "EXPLAIN",
    "FALSE",
    "FROM",
    "GROUP",
    "HAVING",
    "HNSW",
    "IN",
    "INDEX",
    "INNER",
    "INSERT",
    "INTEGER",
    "INTO",
    "IS",
    "JOIN",
    "JSON",
    "LEFT",
    "LIKE",
    "LIMIT",
    "NOT",
    "NULL",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "PRAGMA",
    "PRIMARY",
    "KEY",
    "REAL",
    "RECURSIVE",
    "ROLLBACK",
    "SELECT",
    "SET",
    "TABLE",
    "TEXT",
    "THEN",
    "TIMESTAMP",
    "TRUE",
    "UNION",
    "UNIQUE",
    "UPDATE",
    "USING",
    "VALUES",
    "VECTOR",
    "VIEW",
    "WHEN",
    "WHERE",
    "WITH",
];

/// Dot commands, for completion at the start of a line.
const DOT_COMMANDS: &[&str] = &[
    ".bail",
    ".changes",
    ".dump",
    ".exit",
    ".export",
    ".headers",
    ".help",
    ".import",
    ".indexes",
    ".mode",
    ".nullvalue",
    ".once",
    ".output",
    ".quit",
    ".read",
    ".schema",
    ".separator",
    ".tables",
    ".timer",
    ".width",
];

/// Tables scanned for column names when the line names none.
const TABLES_FOR_COLUMNS_MAX: usize = 32;

/// The REPL's rustyline helper: completion only.
pub struct SqlHelper {
    db: Database,
}

impl SqlHelper {
    /// `db` should be a connection of its own ([`Database::connect`]).
    pub fn new(db: Database) -> SqlHelper {
        SqlHelper { db }
    }

    /// The column names of `table` (none if it does not exist).
    fn columns(&self, table: &str) -> Vec<String> {
        let sql = format!("SELECT * FROM {} LIMIT 0", quote_ident(table));
        match self.db.query(&sql, &[]) {
            Ok(rows) => rows.column_names().iter().map(|s| s.to_string()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Completions for the word `prefix` in `line`.
    pub fn candidates(&self, line: &str, prefix: &str) -> Vec<String> {
        if let Some((table, partial)) = prefix.rsplit_once('.') {
            return starting_with(self.columns(table), partial);
        }
        let tables = self.db.table_names();
        let mentioned: Vec<&String> = tables
            .iter()
            .filter(|t| {
                line.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .any(|w| w.eq_ignore_ascii_case(t))
            })
            .collect();
        let for_columns: Vec<&String> = if mentioned.is_empty() {
            tables.iter().take(TABLES_FOR_COLUMNS_MAX).collect()
        } else {
            mentioned
        };
        let mut words: Vec<String> = tables.clone();
        for t in for_columns {
            words.extend(self.columns(t));
        }
        let lower = !prefix.is_empty() && prefix.chars().all(|c| !c.is_ascii_uppercase());
        words.extend(KEYWORDS.iter().map(|k| {
            if lower {
                k.to_ascii_lowercase()
            } else {
                k.to_string()
            }
        }));
        let mut found = starting_with(words, prefix);
        found.sort();
        found.dedup();
        found
    }
}

/// The words that start with `prefix`, ignoring ASCII case.
fn starting_with(words: Vec<String>, prefix: &str) -> Vec<String> {
    words
        .into_iter()
        .filter(|w| {
            w.len() >= prefix.len()
                && w.is_char_boundary(prefix.len())
                && w[..prefix.len()].eq_ignore_ascii_case(prefix)
        })
        .collect()
}

impl Completer for SqlHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = line.get(..pos).unwrap_or(line);
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '.'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = &before[start..];
        if start == 0 && word.starts_with('.') {
            let found = starting_with(DOT_COMMANDS.iter().map(|s| s.to_string()).collect(), word);
            return Ok((0, pairs(found)));
        }
        let found = self.candidates(line, word);
        // `t.col`: only the part after the dot is replaced.
        let replace_from = match word.rfind('.') {
            Some(dot) => start + dot + 1,
            None => start,
        };
        Ok((replace_from, pairs(found)))
    }
}

fn pairs(words: Vec<String>) -> Vec<Pair> {
    words
        .into_iter()
        .map(|w| Pair {
            display: w.clone(),
            replacement: w,
        })
        .collect()
}

impl Hinter for SqlHelper {
    type Hint = String;
}

impl Highlighter for SqlHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        Cow::Borrowed(line)
    }
}

impl Validator for SqlHelper {}

impl Helper for SqlHelper {}

#[cfg(test)]
mod tests {
    use super::*;
    use rustyline::history::DefaultHistory;

    fn complete(h: &SqlHelper, line: &str) -> (usize, Vec<String>) {
        let history = DefaultHistory::new();
        let ctx = Context::new(&history);
        match h.complete(line, line.len(), &ctx) {
            Ok((at, found)) => (at, found.into_iter().map(|p| p.replacement).collect()),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn completes_keywords_tables_columns_and_commands() -> cairn::Result<()> {
        let db = Database::open_in_memory()?;
        db.execute_batch(
            "CREATE TABLE items (id INTEGER, embedding VECTOR(2)); CREATE TABLE other (ident TEXT)",
        )?;
        let h = SqlHelper::new(db.connect());
        assert_eq!(complete(&h, "SEL"), (0, vec!["SELECT".to_string()]));
        assert_eq!(complete(&h, "sel"), (0, vec!["select".to_string()]));
        assert_eq!(
            complete(&h, "SELECT * FROM it"),
            (14, vec!["items".to_string()])
        );
        // Columns of the tables the line names first.
        assert_eq!(
            complete(&h, "SELECT * FROM items WHERE emb"),
            (26, vec!["embedding".to_string()])
        );
        assert_eq!(
            complete(&h, "SELECT id FROM items WHERE i").1,
            vec!["id", "in", "index", "inner", "insert", "integer", "into", "is", "items"]
        );
        assert_eq!(
            complete(&h, "SELECT items.e"),
            (13, vec!["embedding".to_string()])
        );
        assert_eq!(complete(&h, ".ta"), (0, vec![".tables".to_string()]));
        Ok(())
    }
}
