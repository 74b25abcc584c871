//! Shell-side helpers for SQL text. Splitting into statements is the
//! engine's (`cairn::split_statements`), so the shell and the parser agree
//! on where statements end.

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
}
