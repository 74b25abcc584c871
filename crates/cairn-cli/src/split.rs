//! Splits SQL text into statements at `;` outside quotes and comments, so the
//! shell can run (and report errors for) each statement on its own.

/// The statements of `sql`, trimmed, without their trailing `;`. Pieces that
/// hold only whitespace and comments are dropped. An unterminated quote or
/// comment runs to the end of the text (the engine reports the error).
pub fn split_statements(sql: &str) -> Vec<String> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    // Whether the current piece has anything besides whitespace and comments.
    let mut has_code = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                has_code = true;
                i += 1;
                while i < b.len() {
                    if b[i] == q {
                        if i + 1 < b.len() && b[i + 1] == q {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 1;
            }
            b';' => {
                if has_code {
                    out.push(sql[start..i].trim().to_string());
                }
                start = i + 1;
                has_code = false;
            }
            c if c.is_ascii_whitespace() => {}
            _ => has_code = true,
        }
        i += 1;
    }
    if has_code {
        out.push(sql[start.min(sql.len())..].trim().to_string());
    }
    out
}

/// True when `line` holds nothing but whitespace and a `--` comment.
pub fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with("--")
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
    fn blank_or_comment_lines() {
        assert!(is_blank_or_comment("   "));
        assert!(is_blank_or_comment("  -- hi"));
        assert!(!is_blank_or_comment("SELECT 1 -- hi"));
    }
}
