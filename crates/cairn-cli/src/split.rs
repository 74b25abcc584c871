//! Shell-side helpers for SQL text. Splitting into statements is the
//! engine's (`cairn::split_statements`), so the shell and the parser agree
//! on where statements end.

/// The statements of `sql` (as `cairn::split_statements` gives them) with
/// the byte offset in `sql` where each starts.
pub fn statements_with_offsets(sql: &str) -> Vec<(usize, String)> {
    let mut from = 0;
    cairn::split_statements(sql)
        .into_iter()
        .map(|stmt| {
            // Statements are trimmed pieces of `sql`, in order.
            let at = sql[from..].find(stmt.as_str()).map_or(from, |i| from + i);
            from = at + stmt.len();
            (at, stmt)
        })
        .collect()
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
    fn blank_or_comment_lines() {
        assert!(is_blank_or_comment("   "));
        assert!(is_blank_or_comment("  -- hi"));
        assert!(!is_blank_or_comment("SELECT 1 -- hi"));
    }

    #[test]
    fn offsets_of_statements() {
        let sql = "SELECT 1;
  SELECT 'a;b' ;SELECT 1";
        assert_eq!(
            statements_with_offsets(sql),
            vec![
                (0, "SELECT 1".to_string()),
                (12, "SELECT 'a;b'".to_string()),
                (26, "SELECT 1".to_string())
            ]
        );
    }
}
