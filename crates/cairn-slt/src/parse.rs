//! The sqllogictest file format: splits a file into [`Record`]s. Pure
//! parsing; never fails and never panics on input: a record it cannot read
//! becomes [`RecordKind::Malformed`], which the runner counts as a failure.

use crate::kind::ExpectedError;
use crate::ENGINE_NAME;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortMode {
    NoSort,
    RowSort,
    ValueSort,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RecordKind {
    Statement {
        sql: String,
        /// `Some` for `statement error [kind]`.
        error: Option<ExpectedError>,
    },
    Query {
        sql: String,
        types: String,
        sort: SortMode,
        label: Option<String>,
        /// Expected result lines (empty when an error is expected).
        expected: Vec<String>,
        /// `Some` for `query error [kind]`.
        error: Option<ExpectedError>,
    },
    HashThreshold(usize),
    Halt,
    /// `reopen`: on disk, close the database and open it again here.
    Reopen,
    /// A malformed record: counted as a failure.
    Malformed {
        message: String,
        text: String,
    },
}

/// One parsed record with its guards.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based line of the record's keyword.
    pub line: usize,
    /// `skipif` engines in front of the record.
    pub skip_if: Vec<String>,
    /// `onlyif` engines in front of the record.
    pub only_if: Vec<String>,
    pub kind: RecordKind,
}

impl Record {
    /// True when `skipif`/`onlyif` let this engine run the record.
    pub fn applies(&self) -> bool {
        !self.skip_if.iter().any(|e| e == ENGINE_NAME)
            && self.only_if.iter().all(|e| e == ENGINE_NAME)
    }

    /// Statements, queries and malformed records count as records;
    /// `hash-threshold`, `halt` and `reopen` do not.
    pub(crate) fn is_countable(&self) -> bool {
        !matches!(
            self.kind,
            RecordKind::HashThreshold(_) | RecordKind::Halt | RecordKind::Reopen
        )
    }

    /// The error the record expects, if it is an error record.
    pub fn expected_error(&self) -> Option<ExpectedError> {
        match &self.kind {
            RecordKind::Statement { error, .. } | RecordKind::Query { error, .. } => *error,
            _ => None,
        }
    }
}

/// Splits a file into records. Never fails: problems become
/// [`RecordKind::Malformed`] records.
pub fn parse(text: &str) -> Vec<Record> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .collect();
    let mut records = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        // One block: consecutive non-blank lines.
        if lines[i].1.trim().is_empty() {
            i += 1;
            continue;
        }
        let start = i;
        while i < lines.len() && !lines[i].1.trim().is_empty() {
            i += 1;
        }
        parse_block(&lines[start..i], &mut records);
    }
    records
}

/// `skipif`/`onlyif` lines seen so far in a block, waiting for their record.
#[derive(Default)]
struct Guards {
    skip_if: Vec<String>,
    only_if: Vec<String>,
}

impl Guards {
    fn record(&mut self, line: usize, kind: RecordKind) -> Record {
        Record {
            line,
            skip_if: std::mem::take(&mut self.skip_if),
            only_if: std::mem::take(&mut self.only_if),
            kind,
        }
    }
}

fn parse_block(block: &[(usize, &str)], records: &mut Vec<Record>) {
    let mut guards = Guards::default();
    for (k, &(line_no, line)) in block.iter().enumerate() {
        let words: Vec<&str> = strip_comment(line).split_whitespace().collect();
        let Some(&keyword) = words.first() else {
            continue; // a comment line
        };
        let body = &block[k + 1..];
        let kind = match keyword {
            "skipif" | "onlyif" => match words.get(1) {
                Some(engine) => {
                    let engine = engine.to_ascii_lowercase();
                    if keyword == "skipif" {
                        guards.skip_if.push(engine);
                    } else {
                        guards.only_if.push(engine);
                    }
                    continue;
                }
                None => malformed(format!("`{keyword}` needs an engine name"), block),
            },
            "halt" => RecordKind::Halt,
            "reopen" if words.len() == 1 => RecordKind::Reopen,
            "reopen" => malformed("`reopen` takes no arguments".into(), block),
            "hash-threshold" => match words.get(1).and_then(|n| n.parse::<usize>().ok()) {
                Some(n) => RecordKind::HashThreshold(n),
                None => malformed("hash-threshold needs a number".into(), block),
            },
            "statement" => {
                let kind = parse_statement(&words, body, block);
                records.push(guards.record(line_no, kind));
                return;
            }
            "query" => {
                let kind = parse_query(&words, body, block);
                records.push(guards.record(line_no, kind));
                return;
            }
            // Other runners' directives that do not apply to us.
            "control" | "mode" | "sleep" | "include" | "load" => return,
            _ => {
                let kind = malformed(format!("unknown record type `{keyword}`"), block);
                records.push(guards.record(line_no, kind));
                return;
            }
        };
        // One-line records: the rest of the block may hold more records.
        records.push(guards.record(line_no, kind));
    }
}

fn parse_statement(words: &[&str], body: &[(usize, &str)], block: &[(usize, &str)]) -> RecordKind {
    let error = match words.get(1).copied() {
        Some("ok") | Some("count") => None,
        Some("error") => match ExpectedError::parse(&words[2..]) {
            Ok(e) => Some(e),
            Err(message) => return malformed(message, block),
        },
        _ => return malformed("expected `statement ok` or `statement error`".into(), block),
    };
    let (sql, _) = split_results(body);
    if sql.trim().is_empty() {
        return malformed("statement without SQL".into(), block);
    }
    RecordKind::Statement { sql, error }
}

fn parse_query(words: &[&str], body: &[(usize, &str)], block: &[(usize, &str)]) -> RecordKind {
    let (sql, expected) = split_results(body);
    if sql.trim().is_empty() {
        return malformed("query without SQL".into(), block);
    }
    let Some(&types) = words.get(1) else {
        return malformed("query without a type string".into(), block);
    };
    if types == "error" {
        return match ExpectedError::parse(&words[2..]) {
            Ok(error) => RecordKind::Query {
                sql,
                types: String::new(),
                sort: SortMode::NoSort,
                label: None,
                expected: Vec::new(),
                error: Some(error),
            },
            Err(message) => malformed(message, block),
        };
    }
    if !types.chars().all(|c| c.is_ascii_alphabetic() || c == '?') {
        return malformed(format!("bad type string `{types}`"), block);
    }
    let mut sort = SortMode::NoSort;
    let mut label = None;
    for w in &words[2..] {
        match *w {
            "nosort" => sort = SortMode::NoSort,
            "rowsort" => sort = SortMode::RowSort,
            "valuesort" => sort = SortMode::ValueSort,
            other if label.is_none() => label = Some(other.to_string()),
            other => return malformed(format!("unexpected `{other}` after query"), block),
        }
    }
    RecordKind::Query {
        sql,
        types: types.to_string(),
        sort,
        label,
        expected,
        error: None,
    }
}

/// Splits a record body at its `----` line into the SQL text and the
/// expected result lines.
fn split_results(body: &[(usize, &str)]) -> (String, Vec<String>) {
    let sep = body.iter().position(|(_, l)| l.trim_end() == "----");
    let (sql_lines, results) = match sep {
        Some(p) => (&body[..p], &body[p + 1..]),
        None => (body, &[][..]),
    };
    let sql = sql_lines
        .iter()
        .map(|(_, l)| *l)
        .collect::<Vec<_>>()
        .join("\n");
    let results = results.iter().map(|(_, l)| l.to_string()).collect();
    (sql, results)
}

/// The part of a header line before a `#` comment.
fn strip_comment(line: &str) -> &str {
    line.split_once('#').map_or(line, |(before, _)| before)
}

fn malformed(message: String, block: &[(usize, &str)]) -> RecordKind {
    let text = block
        .iter()
        .take(5)
        .map(|(_, l)| *l)
        .collect::<Vec<_>>()
        .join("\n");
    RecordKind::Malformed { message, text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn::ErrorKind;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_statements_queries_and_guards() {
        let text = "hash-threshold 8\n\n# comment\nstatement ok\nCREATE TABLE t(a INT)\n\n\
                    onlyif mysql # why\nstatement error\nSELECT x\n\n\
                    skipif postgresql\nquery IT rowsort label-3\nSELECT a,\n b FROM t\n----\n1\nx\n\n\
                    onlyif mssql\nhalt\n";
        let recs = parse(text);
        assert_eq!(recs.len(), 5);
        assert_eq!(recs[0].kind, RecordKind::HashThreshold(8));
        assert_eq!(recs[1].line, 4);
        assert!(
            matches!(&recs[1].kind, RecordKind::Statement { sql, error: None } if sql == "CREATE TABLE t(a INT)")
        );
        assert_eq!(recs[2].only_if, vec!["mysql"]);
        assert!(!recs[2].applies());
        assert!(recs[3].applies());
        match &recs[3].kind {
            RecordKind::Query {
                sql,
                types,
                sort,
                label,
                expected,
                ..
            } => {
                assert_eq!(sql, "SELECT a,\n b FROM t");
                assert_eq!(types, "IT");
                assert_eq!(*sort, SortMode::RowSort);
                assert_eq!(label.as_deref(), Some("label-3"));
                assert_eq!(expected, &strings(&["1", "x"]));
            }
            other => panic!("not a query: {other:?}"),
        }
        assert_eq!(recs[4].kind, RecordKind::Halt);
        assert!(!recs[4].applies());
    }

    #[test]
    fn malformed_records_do_not_panic() {
        for text in [
            "query\n",
            "query I\n",
            "query I\n----\n1\n",
            "statement\nSELECT 1\n",
            "statement ok\n",
            "hash-threshold x\n",
            "skipif\nstatement ok\nSELECT 1\n",
            "bogus line\n",
            "query I!x nosort\nSELECT 1\n",
            "query I nosort a b\nSELECT 1\n",
            "----\n\n----",
            "\u{0}\u{1}\r\n\r\n",
        ] {
            let recs = parse(text);
            assert!(
                recs.iter()
                    .any(|r| matches!(r.kind, RecordKind::Malformed { .. })),
                "{text:?} gave {recs:?}"
            );
        }
    }

    #[test]
    fn query_without_separator_expects_no_rows() {
        let recs = parse("query I nosort\nSELECT 1 WHERE 0\n");
        assert!(matches!(&recs[0].kind, RecordKind::Query { expected, .. } if expected.is_empty()));
    }

    #[test]
    fn parses_error_kinds() {
        let text = "statement error\nSELECT x\n\n\
                    statement error syntax \nSELEC 1\n\n\
                    statement error constraint not_null # why\nINSERT INTO t VALUES (NULL)\n\n\
                    query error no_such_object\nSELECT * FROM nope\n\n\
                    statement error sintax\nSELEC 1\n\n\
                    query error type extra\nSELECT 1\n";
        let recs = parse(text);
        let errors: Vec<Option<ExpectedError>> = recs.iter().map(Record::expected_error).collect();
        let kind = |kind, constraint| Some(ExpectedError::Kind { kind, constraint });
        assert_eq!(
            errors[..4],
            [
                Some(ExpectedError::Any),
                kind(ErrorKind::Syntax, None),
                kind(ErrorKind::Constraint, Some(cairn::ConstraintKind::NotNull)),
                kind(ErrorKind::NoSuchObject, None),
            ]
        );
        for r in &recs[4..] {
            assert!(matches!(r.kind, RecordKind::Malformed { .. }), "{r:?}");
        }
    }

    #[test]
    fn parses_reopen() {
        let recs = parse("statement ok\nSELECT 1\n\nreopen\n\nreopen now\n");
        assert_eq!(recs[1].kind, RecordKind::Reopen);
        assert!(!recs[1].is_countable());
        assert!(matches!(recs[2].kind, RecordKind::Malformed { .. }));
    }
}
