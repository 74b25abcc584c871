//! ASCII folding: a character becomes its plain ASCII spelling when one
//! exists — its compatibility decomposition is ASCII letters/digits plus
//! combining marks (`é` → `e`, `ﬁ` → `fi`, `Ａ` → `A`), or it is one of the
//! letters that have no decomposition but a conventional spelling (`ß`,
//! `æ`, `ø`, `ł`, …). Every other character is kept as it is.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Letters without a decomposition that still have a conventional ASCII
/// spelling.
fn special(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' => "ss",
        'ẞ' => "SS",
        'æ' => "ae",
        'Æ' => "AE",
        'œ' => "oe",
        'Œ' => "OE",
        'ø' => "o",
        'Ø' => "O",
        'đ' | 'ð' => "d",
        'Đ' | 'Ð' => "D",
        'ł' => "l",
        'Ł' => "L",
        'þ' => "th",
        'Þ' => "TH",
        'ı' => "i",
        _ => return None,
    })
}

/// Appends the folded form of `s` to `out`.
pub(crate) fn fold_into(s: &str, out: &mut String) {
    let mut parts = String::new();
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        if let Some(spelling) = special(c) {
            out.push_str(spelling);
            continue;
        }
        parts.clear();
        let mut foldable = true;
        decompose_compatible(c, |d| {
            if d.is_ascii_alphanumeric() {
                parts.push(d);
            } else if !is_combining_mark(d) {
                foldable = false;
            }
        });
        if foldable && !parts.is_empty() {
            out.push_str(&parts);
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    fn fold(s: &str) -> String {
        let mut out = String::new();
        super::fold_into(s, &mut out);
        out
    }

    #[test]
    fn folds_what_has_an_ascii_spelling() {
        assert_eq!(fold("àéîõüçñ"), "aeiouc\u{6e}");
        assert_eq!(fold("ﬁﬂ Ａ² ß Ærø"), "fifl A2 ss AEro");
        assert_eq!(fold("日本 Ω"), "日本 Ω");
    }
}
