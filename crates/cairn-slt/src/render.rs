//! Rendering and comparing query results the way SQLite's reference driver
//! does: values by type letter, sort modes, the MD5 hash of a result, and the
//! three forms of expected output. Pure functions; never touches a database.

use std::fmt::Write as _;

use cairn::Value;
use cairn_core::value::{format_real, parse_numeric_prefix, real_to_i64, text_to_int};
use md5::{Digest, Md5};

use crate::parse::SortMode;

/// Renders every value of `rows` by the type letter of its column (letters
/// repeat when a row is wider than the type string).
pub fn render_rows(rows: &[Vec<Value>], types: &str) -> Vec<Vec<String>> {
    let letters: Vec<char> = types.chars().collect();
    rows.iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(i, v)| {
                    let letter = if letters.is_empty() {
                        'T'
                    } else {
                        letters[i % letters.len()]
                    };
                    render_value(v, letter)
                })
                .collect()
        })
        .collect()
}

/// One value as SQLite's reference driver prints it for type letter `ty`.
pub fn render_value(v: &Value, ty: char) -> String {
    if v.is_null() {
        return "NULL".to_string();
    }
    match ty {
        'I' => render_int(v).to_string(),
        'R' => format_fixed3(match v {
            Value::Text(s) | Value::Json(s) => parse_numeric_prefix(s).as_f64(),
            Value::Blob(b) => parse_numeric_prefix(&String::from_utf8_lossy(b)).as_f64(),
            other => other.as_f64().unwrap_or(0.0),
        }),
        _ => render_text(v),
    }
}

/// `sqlite3_column_int`: the value as an i64, then its low 32 bits.
fn render_int(v: &Value) -> i32 {
    let wide = match v {
        Value::Real(f) => real_to_i64(*f),
        Value::Text(s) | Value::Json(s) => text_to_int(s),
        Value::Blob(b) => text_to_int(&String::from_utf8_lossy(b)),
        other => other.as_i64().unwrap_or(0),
    };
    wide as i32
}

/// Text form with `(empty)` for "" and `@` for bytes outside 0x20..=0x7e.
fn render_text(v: &Value) -> String {
    let text = match v {
        Value::Real(f) => format_real(*f),
        other => other.to_text().unwrap_or_default(),
    };
    if text.is_empty() {
        return "(empty)".to_string();
    }
    text.bytes()
        .map(|b| {
            if (0x20..=0x7e).contains(&b) {
                b as char
            } else {
                '@'
            }
        })
        .collect()
}

/// `printf("%.3f", f)` the way SQLite's printf does it: at most 16
/// significant digits, halves rounded away from zero, no sign on -0.0.
pub fn format_fixed3(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Inf" } else { "-Inf" }.to_string();
    }
    let sign = if f < 0.0 { "-" } else { "" };
    let a = f.abs();
    if a == 0.0 {
        return "0.000".to_string();
    }
    // 17 significant digits, exactly rounded by the standard library.
    let sci = format!("{a:.16e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let mut exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mant
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|c| c - b'0')
        .collect();
    round_digits(&mut digits, &mut exp, 16);
    // Keep digits down to the 10^-3 place.
    let keep = exp + 4;
    if keep < 0 {
        return format!("{sign}0.000");
    }
    round_digits(&mut digits, &mut exp, keep as usize);
    let digit_at = |place: i32| -> char {
        let i = exp - place;
        if i >= 0 && (i as usize) < digits.len() {
            (b'0' + digits[i as usize]) as char
        } else {
            '0'
        }
    };
    let mut s = String::from(sign);
    for place in (0..=exp.max(0)).rev() {
        s.push(digit_at(place));
    }
    s.push('.');
    for place in 1..=3 {
        s.push(digit_at(-place));
    }
    s
}

/// Cuts a digit string (first digit at place 10^exp) to `n` digits, rounding
/// the dropped part half away from zero.
fn round_digits(digits: &mut Vec<u8>, exp: &mut i32, n: usize) {
    if digits.len() <= n {
        return;
    }
    let round_up = digits[n] >= 5;
    digits.truncate(n);
    if !round_up {
        return;
    }
    for d in digits.iter_mut().rev() {
        if *d == 9 {
            *d = 0;
        } else {
            *d += 1;
            return;
        }
    }
    // All nines (or no digits kept): the carry makes a new leading 1.
    digits.insert(0, 1);
    *exp += 1;
}

/// Applies the sort mode; returns the (possibly sorted) rows and the flat
/// list of values in result order.
pub(crate) fn sort_results(
    mut rows: Vec<Vec<String>>,
    sort: SortMode,
) -> (Vec<Vec<String>>, Vec<String>) {
    match sort {
        SortMode::NoSort => {}
        SortMode::RowSort => rows.sort(),
        SortMode::ValueSort => {
            let mut values: Vec<String> = rows.iter().flatten().cloned().collect();
            values.sort();
            return (rows, values);
        }
    }
    let values = rows.iter().flatten().cloned().collect();
    (rows, values)
}

/// MD5 over each value followed by a newline, as lowercase hex.
pub fn hash_values(values: &[String]) -> String {
    let mut h = Md5::new();
    for v in values {
        h.update(v.as_bytes());
        h.update(b"\n");
    }
    let mut hex = String::with_capacity(32);
    for byte in h.finalize() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// `(count, hash)` when the expected output is `N values hashing to <md5>`.
pub(crate) fn expected_hash(expected: &[String]) -> Option<(usize, &str)> {
    let [line] = expected else { return None };
    let (count, rest) = line.trim().split_once(" values hashing to ")?;
    let count = count.trim().parse().ok()?;
    let hash = rest.trim();
    (hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some((count, hash))
}

/// Compares a rendered result with the expected lines: a hash line, one
/// value per line, or one row per line (values separated by spaces).
pub(crate) fn compare(
    expected: &[String],
    rows: &[Vec<String>],
    values: &[String],
    sort: SortMode,
    hash: &str,
) -> Result<(), String> {
    if let Some((count, want)) = expected_hash(expected) {
        if count != values.len() {
            return Err(format!(
                "expected {count} values, got {} (hashing to {hash})",
                values.len()
            ));
        }
        if !want.eq_ignore_ascii_case(hash) {
            return Err(format!("{count} values hash to {hash}, expected {want}"));
        }
        return Ok(());
    }
    if expected.len() == values.len() {
        // One value per line. Rows of expected output in rowsort mode are
        // already sorted in SQLite's files; sort them anyway for
        // hand-written files.
        let mut want: Vec<&str> = expected.iter().map(|l| l.trim_end()).collect();
        if sort == SortMode::RowSort {
            let width = rows.first().map_or(1, Vec::len).max(1);
            let mut chunks: Vec<&[&str]> = want.chunks(width).collect();
            chunks.sort();
            want = chunks.concat();
        } else if sort == SortMode::ValueSort {
            want.sort();
        }
        for (i, (w, got)) in want.iter().zip(values).enumerate() {
            if *w != got.trim_end() {
                return Err(format!(
                    "wrong value {} of {}: expected `{w}`, got `{got}`",
                    i + 1,
                    values.len()
                ));
            }
        }
        return Ok(());
    }
    if expected.len() == rows.len() && sort != SortMode::ValueSort {
        // One row per line.
        let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut want: Vec<String> = expected.iter().map(|l| norm(l)).collect();
        let mut got: Vec<String> = rows.iter().map(|r| norm(&r.join(" "))).collect();
        if sort == SortMode::RowSort {
            want.sort();
            got.sort();
        }
        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
            if w != g {
                return Err(format!(
                    "wrong row {} of {}: expected `{w}`, got `{g}`",
                    i + 1,
                    rows.len()
                ));
            }
        }
        return Ok(());
    }
    Err(format!(
        "expected {} lines, got {} rows ({} values)",
        expected.len(),
        rows.len(),
        values.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn renders_like_sqlite() {
        assert_eq!(render_value(&Value::Null, 'I'), "NULL");
        assert_eq!(render_value(&Value::Integer(-7), 'I'), "-7");
        assert_eq!(render_value(&Value::Integer(1 << 32 | 5), 'I'), "5");
        assert_eq!(render_value(&Value::Real(-2.9), 'I'), "-2");
        assert_eq!(render_value(&Value::text("12abc"), 'I'), "12");
        assert_eq!(render_value(&Value::text("1.9"), 'I'), "1");
        assert_eq!(render_value(&Value::text("abc"), 'I'), "0");
        assert_eq!(render_value(&Value::Boolean(true), 'I'), "1");
        assert_eq!(render_value(&Value::Integer(3), 'R'), "3.000");
        assert_eq!(render_value(&Value::Real(2.0 / 3.0), 'R'), "0.667");
        assert_eq!(render_value(&Value::text("1.5e1x"), 'R'), "15.000");
        assert_eq!(render_value(&Value::text(""), 'T'), "(empty)");
        assert_eq!(render_value(&Value::text("a\tb\u{e9}"), 'T'), "a@b@@");
        assert_eq!(render_value(&Value::Real(1.5), 'T'), "1.5");
        assert_eq!(render_value(&Value::Integer(12), 'T'), "12");
        assert_eq!(render_value(&Value::Blob(Arc::from(&b"ab"[..])), 'T'), "ab");
    }

    #[test]
    fn fixed3_formatting() {
        assert_eq!(format_fixed3(0.0), "0.000");
        assert_eq!(format_fixed3(-0.0), "0.000");
        assert_eq!(format_fixed3(1.0), "1.000");
        assert_eq!(format_fixed3(-12.3456), "-12.346");
        assert_eq!(format_fixed3(0.0625), "0.063");
        assert_eq!(format_fixed3(0.0004), "0.000");
        assert_eq!(format_fixed3(0.0006), "0.001");
        assert_eq!(format_fixed3(-0.0001), "-0.000");
        assert_eq!(format_fixed3(9.9996), "10.000");
        assert_eq!(format_fixed3(999.9999), "1000.000");
        assert_eq!(format_fixed3(1e20), "100000000000000000000.000");
        assert_eq!(
            format_fixed3(123456789012345678901.0),
            "123456789012345700000.000"
        );
        assert_eq!(format_fixed3(1e-300), "0.000");
        assert_eq!(format_fixed3(f64::INFINITY), "Inf");
    }

    #[test]
    fn int_prefix_saturates() {
        assert_eq!(text_to_int("  -42x"), -42);
        assert_eq!(text_to_int("+7"), 7);
        assert_eq!(text_to_int("99999999999999999999"), i64::MAX);
        assert_eq!(text_to_int("-99999999999999999999"), i64::MIN);
        assert_eq!(text_to_int("-"), 0);
    }

    #[test]
    fn md5_hash_of_values() {
        // md5("1\n2\n")
        assert_eq!(
            hash_values(&strings(&["1", "2"])),
            "6ddb4095eb719e2a9f0a3f95677d24e0"
        );
        assert_eq!(hash_values(&[]), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn compares_all_result_styles() {
        let rows = vec![strings(&["2", "b c"]), strings(&["1", "a"])];
        let (rows, values) = sort_results(rows, SortMode::RowSort);
        assert_eq!(values, strings(&["1", "a", "2", "b c"]));
        let hash = hash_values(&values);
        // One value per line.
        assert!(compare(
            &strings(&["1", "a", "2", "b c"]),
            &rows,
            &values,
            SortMode::RowSort,
            &hash
        )
        .is_ok());
        assert!(compare(
            &strings(&["1", "a", "2", "b"]),
            &rows,
            &values,
            SortMode::RowSort,
            &hash
        )
        .is_err());
        // One row per line, in any order for rowsort.
        assert!(compare(
            &strings(&["2  b c", "1 a"]),
            &rows,
            &values,
            SortMode::RowSort,
            &hash
        )
        .is_ok());
        // Hash form.
        let line = format!("4 values hashing to {hash}");
        assert!(compare(&[line], &rows, &values, SortMode::RowSort, &hash).is_ok());
        let wrong = "4 values hashing to 00000000000000000000000000000000".to_string();
        assert!(compare(&[wrong], &rows, &values, SortMode::RowSort, &hash).is_err());
        // Count mismatch.
        assert!(compare(&strings(&["1"]), &rows, &values, SortMode::RowSort, &hash).is_err());
        // No rows.
        assert!(compare(&[], &[], &[], SortMode::NoSort, &hash_values(&[])).is_ok());
    }

    #[test]
    fn valuesort_sorts_every_value() {
        let rows = vec![strings(&["3", "1"]), strings(&["2", "0"])];
        let (_, values) = sort_results(rows, SortMode::ValueSort);
        assert_eq!(values, strings(&["0", "1", "2", "3"]));
    }

    #[test]
    fn cycles_type_letters() {
        let rows = vec![vec![Value::Real(1.5), Value::Real(2.5), Value::Real(3.5)]];
        assert_eq!(
            render_rows(&rows, "IR"),
            vec![strings(&["1", "2.500", "3"])]
        );
    }
}
