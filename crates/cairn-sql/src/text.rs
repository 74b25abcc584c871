//! SQL text scanning without parsing: where statements end (`;` outside
//! quotes and comments; inside `CREATE [TEMP] TRIGGER`, only a `;` right
//! after the word `END`, as SQLite's `sqlite3_complete` does). The shell
//! uses it to split input and to tell a finished statement from one still
//! being typed.

/// What one pass over SQL text found.
struct Scan {
    /// Byte ranges of pieces that hold code (not only whitespace/comments),
    /// each ending before its `;` (or at the end of the text).
    pieces: Vec<(usize, usize)>,
    /// The last code is a `;` (comments and whitespace may follow it).
    ends_with_semicolon: bool,
    /// A quote or block comment is still open at the end.
    open: bool,
}

/// The words of the piece being scanned, enough to tell a CREATE TRIGGER
/// (whose body holds `;`) and whether a `;` follows `END`.
#[derive(Default)]
struct Words {
    /// The word being read.
    word: String,
    /// The piece's first words, upper case (at most three).
    first: Vec<String>,
    /// The last code of the piece was this word (upper case), if it was one.
    last: Option<String>,
}

impl Words {
    /// A byte of code: part of a word, or something else.
    fn code(&mut self, c: u8) {
        if c.is_ascii_alphanumeric() || c == b'_' {
            self.word.push(char::from(c).to_ascii_uppercase());
        } else {
            self.end_word();
            self.last = None;
        }
    }

    /// Whitespace or a comment: ends the word being read.
    fn end_word(&mut self) {
        if self.word.is_empty() {
            return;
        }
        let w = std::mem::take(&mut self.word);
        if self.first.len() < 3 {
            self.first.push(w.clone());
        }
        self.last = Some(w);
    }

    /// Whether a `;` here ends the statement.
    fn ends_at_semicolon(&mut self) -> bool {
        self.end_word();
        let f: Vec<&str> = self.first.iter().map(String::as_str).collect();
        let trigger = matches!(
            f[..],
            ["CREATE", "TRIGGER", ..] | ["CREATE", "TEMP" | "TEMPORARY", "TRIGGER"]
        );
        !trigger || self.last.as_deref() == Some("END")
    }
}

fn scan(sql: &str) -> Scan {
    let b = sql.as_bytes();
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut has_code = false;
    let mut ends_with_semicolon = false;
    let mut open = false;
    let mut words = Words::default();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                words.code(q);
                has_code = true;
                ends_with_semicolon = false;
                open = true;
                i += 1;
                while i < b.len() {
                    if b[i] == q {
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        open = false;
                        break;
                    }
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                words.end_word();
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                words.end_word();
                open = true;
                i += 2;
                while i < b.len() {
                    if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        open = false;
                        i += 1;
                        break;
                    }
                    i += 1;
                }
            }
            b';' if has_code && !words.ends_at_semicolon() => {
                words.code(b';');
                ends_with_semicolon = false;
            }
            b';' => {
                words = Words::default();
                if has_code {
                    pieces.push((start, i));
                }
                start = i + 1;
                has_code = false;
                ends_with_semicolon = true;
            }
            c if c.is_ascii_whitespace() => words.end_word(),
            c => {
                words.code(c);
                has_code = true;
                ends_with_semicolon = false;
            }
        }
        i += 1;
    }
    if has_code {
        pieces.push((start.min(sql.len()), sql.len()));
    }
    Scan {
        pieces,
        ends_with_semicolon,
        open,
    }
}

/// The statements of `sql`, trimmed, without their trailing `;`. Pieces that
/// hold only whitespace and comments are dropped. An unterminated quote or
/// comment runs to the end of the text (the parser then reports it).
pub fn split_statements(sql: &str) -> Vec<String> {
    scan(sql)
        .pieces
        .into_iter()
        .map(|(a, b)| sql[a..b].trim().to_string())
        .collect()
}

/// True when `sql` ends with a `;` that is outside quotes and comments, i.e.
/// a shell can run it. Used by the REPL to detect multi-line input.
pub fn is_complete_statement(sql: &str) -> bool {
    let s = scan(sql);
    s.ends_with_semicolon && !s.open
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_semicolons() {
        assert_eq!(
            split_statements("SELECT 1; SELECT 2;\nSELECT 3"),
            vec!["SELECT 1", "SELECT 2", "SELECT 3"]
        );
    }

    #[test]
    fn ignores_semicolons_in_quotes_and_comments() {
        assert_eq!(
            split_statements("SELECT 'a;b', \"c;d\"; -- x;y\nSELECT /* ; */ 2;"),
            vec!["SELECT 'a;b', \"c;d\"", "-- x;y\nSELECT /* ; */ 2"]
        );
        assert_eq!(split_statements("SELECT 'it''s;'"), vec!["SELECT 'it''s;'"]);
    }

    #[test]
    fn drops_empty_and_comment_only_pieces() {
        assert!(split_statements(" ; ;\n-- just a comment\n/* and; another */").is_empty());
        assert_eq!(split_statements(";;SELECT 1;;"), vec!["SELECT 1"]);
    }

    #[test]
    fn unterminated_quote_runs_to_end() {
        assert_eq!(split_statements("SELECT 'abc; x"), vec!["SELECT 'abc; x"]);
        assert_eq!(split_statements("SELECT 1 /* x;"), vec!["SELECT 1 /* x;"]);
    }

    #[test]
    fn a_trigger_body_ends_at_end() {
        let sql = "CREATE TRIGGER r AFTER INSERT ON t BEGIN INSERT INTO l VALUES (1); \
                   DELETE FROM l; END; SELECT 1;";
        assert_eq!(
            split_statements(sql),
            vec![
                "CREATE TRIGGER r AFTER INSERT ON t BEGIN INSERT INTO l VALUES (1); \
                 DELETE FROM l; END",
                "SELECT 1"
            ]
        );
        assert!(!is_complete_statement(
            "create temp trigger r delete on t begin select 1;"
        ));
        assert!(is_complete_statement(
            "create temp trigger r delete on t begin select 1; end;"
        ));
        assert!(is_complete_statement("SELECT 'trigger'; "));
    }

    #[test]
    fn completeness() {
        assert!(is_complete_statement("SELECT 1;"));
        assert!(is_complete_statement("SELECT 1; -- done\n"));
        assert!(is_complete_statement("SELECT 1; /* done */"));
        assert!(!is_complete_statement("SELECT 1"));
        assert!(!is_complete_statement("SELECT ';"));
        assert!(!is_complete_statement("SELECT 1 /* ;"));
        assert!(!is_complete_statement("SELECT 1; SELECT"));
        assert!(!is_complete_statement(""));
        assert!(is_complete_statement("SELECT 'it''s';"));
    }
}
