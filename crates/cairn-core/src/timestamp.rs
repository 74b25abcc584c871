//! TIMESTAMP values: microseconds since the Unix epoch (UTC), their text
//! form (`YYYY-MM-DD HH:MM:SS[.ffffff]`) and proleptic Gregorian calendar
//! arithmetic. Casts between TEXT and TIMESTAMP use this module; the SQL
//! date functions (`date`, `strftime` ...) live in cairn-sql's function
//! library and build on it. No I/O but the clock read of [`now_micros`].

use std::time::{SystemTime, UNIX_EPOCH};

pub const US_PER_SEC: i64 = 1_000_000;
pub const US_PER_MIN: i64 = 60 * US_PER_SEC;
pub const US_PER_HOUR: i64 = 60 * US_PER_MIN;
pub const US_PER_DAY: i64 = 24 * US_PER_HOUR;

/// Days since 1970-01-01 of a proleptic Gregorian date. `m` outside 1..=12
/// carries into the year; `d` outside the month carries into the next ones
/// (so day 31 of a 30-day month is the 1st of the next).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let (y, m, d) = (i128::from(y), i128::from(m), i128::from(d));
    let y = y + (m - 1).div_euclid(12);
    let m = (m - 1).rem_euclid(12) + 1;
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    i64::try_from(days).unwrap_or(if days < 0 { i64::MIN } else { i64::MAX })
}

/// The proleptic Gregorian `(year, month, day)` of a day count since
/// 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = i128::from(z) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    // |y| < 2^63 / 365 for any i64 day count, so this cannot saturate.
    (i64::try_from(y).unwrap_or(i64::MAX), m as u32, d as u32)
}

pub fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

pub fn fmt_year(y: i64) -> String {
    if y < 0 {
        format!("-{:04}", y.unsigned_abs())
    } else {
        format!("{y:04}")
    }
}

/// Formats microseconds since the epoch as `YYYY-MM-DD HH:MM:SS`, followed by
/// `.ffffff` with trailing zeros removed when the fraction is non-zero.
pub fn format_timestamp(micros: i64) -> String {
    let days = micros.div_euclid(US_PER_DAY);
    let tod = micros.rem_euclid(US_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let mut s = format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02}",
        fmt_year(y),
        m,
        d,
        tod / US_PER_HOUR,
        tod / US_PER_MIN % 60,
        tod / US_PER_SEC % 60
    );
    let frac = tod % US_PER_SEC;
    if frac != 0 {
        let f = format!("{frac:06}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s
}

/// Parses `YYYY-MM-DD[( |T)HH:MM[:SS[.fff…]]][Z|±HH[:MM]|±HHMM]` (surrounding
/// whitespace allowed; a leading `-` makes the year negative) into
/// microseconds since the epoch, UTC. The date must exist in the calendar and
/// the time of day be below 24:00; fractions are kept to the microsecond.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let (neg, b) = match s.trim().as_bytes().split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s.trim().as_bytes()),
    };
    let y = digits(b, 0, 4, 0, 9999)?;
    let y = if neg { -y } else { y };
    let m = digits(b, 5, 2, 1, 12)?;
    let d = digits(b, 8, 2, 1, days_in_month(y, m))?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let mut us = days_from_civil(y, m, d).checked_mul(US_PER_DAY)?;
    let mut i = 10;
    if i == b.len() {
        return Some(us);
    }
    if b.get(i) == Some(&b'T') {
        i += 1;
    } else {
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
    }
    let h = digits(b, i, 2, 0, 23)?;
    let mi = digits(b, i + 3, 2, 0, 59)?;
    if b.get(i + 2) != Some(&b':') {
        return None;
    }
    i += 5;
    let mut sec_us = 0;
    if b.get(i) == Some(&b':') {
        sec_us = digits(b, i + 1, 2, 0, 59)? * US_PER_SEC;
        i += 3;
        if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 1;
            // Microseconds, rounded on the 7th fractional digit.
            let (mut frac, mut n) = (0i64, 0);
            while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                if n < 7 {
                    frac = frac * 10 + i64::from(c - b'0');
                    n += 1;
                }
                i += 1;
            }
            while n < 7 {
                frac *= 10;
                n += 1;
            }
            sec_us += (frac + 5) / 10;
        }
    }
    us = us.checked_add(h * US_PER_HOUR + mi * US_PER_MIN + sec_us)?;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    match b.get(i) {
        None => return Some(us),
        Some(b'Z' | b'z') => i += 1,
        Some(&c @ (b'+' | b'-')) => {
            let hr = digits(b, i + 1, 2, 0, 14)?;
            i += 3;
            let mn = if b.get(i) == Some(&b':') {
                i += 3;
                digits(b, i - 2, 2, 0, 59)?
            } else if let Some(mn) = digits(b, i, 2, 0, 59) {
                i += 2;
                mn
            } else {
                0
            };
            let off = (hr * 60 + mn) * US_PER_MIN;
            us = if c == b'+' {
                us.checked_sub(off)?
            } else {
                us.checked_add(off)?
            };
        }
        Some(_) => return None,
    }
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    (i == b.len()).then_some(us)
}

/// Microseconds since the epoch, now.
pub fn now_micros() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_micros()).map_or(i64::MIN, |v| -v),
    }
}

// ---------------------------------------------------------------------------
// SQLite's date.c
// ---------------------------------------------------------------------------

/// Exactly `n` ASCII digits at `pos`, within `min..=max`.
pub fn digits(b: &[u8], pos: usize, n: usize, min: i64, max: i64) -> Option<i64> {
    let mut v: i64 = 0;
    for k in 0..n {
        let c = *b.get(pos + k)?;
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    (min..=max).contains(&v).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_roundtrip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(2024, 2, 30), days_from_civil(2024, 3, 1));
        assert_eq!(days_from_civil(2024, 13, 1), days_from_civil(2025, 1, 1));
        for z in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m as i64, d as i64), z);
            assert!((1..=12).contains(&m) && (1..=31).contains(&d));
        }
        let _ = civil_from_days(i64::MIN);
        let _ = civil_from_days(i64::MAX);
        let _ = days_from_civil(i64::MAX, i64::MIN, i64::MAX);
    }

    #[test]
    fn timestamp_format_and_parse() {
        assert_eq!(format_timestamp(0), "1970-01-01 00:00:00");
        assert_eq!(format_timestamp(1_500_000), "1970-01-01 00:00:01.5");
        assert_eq!(format_timestamp(-1), "1969-12-31 23:59:59.999999");
        assert_eq!(
            format_timestamp(1_709_210_096_000_123),
            "2024-02-29 12:34:56.000123"
        );
        let _ = format_timestamp(i64::MIN);
        let _ = format_timestamp(i64::MAX);
        assert_eq!(parse_timestamp("1970-01-01"), Some(0));
        assert_eq!(
            parse_timestamp("2024-02-29 12:34:56.000123"),
            Some(1_709_210_096_000_123)
        );
        assert_eq!(
            parse_timestamp(" 2024-02-29T12:34:56.000123Z "),
            Some(1_709_210_096_000_123)
        );
        assert_eq!(parse_timestamp("1970-01-01 01:00+01:00"), Some(0));
        assert_eq!(parse_timestamp("1970-01-01 01:00:00+01"), Some(0));
        assert_eq!(
            parse_timestamp("1970-01-01 00:00:00-0130"),
            Some(90 * US_PER_MIN)
        );
        assert_eq!(parse_timestamp("1970-01-01 00:00:00.5"), Some(500_000));
        assert_eq!(parse_timestamp("1970-01-01 00:00:00.00000049"), Some(0));
        assert_eq!(parse_timestamp("1970-01-01 00:00:00.0000005"), Some(1));
        assert_eq!(parse_timestamp("2023-02-29"), None);
        assert_eq!(parse_timestamp("2024-04-31"), None);
        assert_eq!(parse_timestamp("2024-01-01 24:00:00"), None);
        assert_eq!(parse_timestamp("2024-1-01"), None);
        assert_eq!(parse_timestamp("hello"), None);
        assert_eq!(parse_timestamp(""), None);
        assert_eq!(parse_timestamp("12:00"), None);
        for us in [0, 1, -1, 1_709_210_096_000_123, -62_135_596_800_000_000] {
            assert_eq!(parse_timestamp(&format_timestamp(us)), Some(us), "{us}");
        }
    }
}
