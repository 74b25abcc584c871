//! SQLite's date functions (`date`, `time`, `datetime`, `julianday`,
//! `unixepoch`, `strftime`) plus `now()` and the `current_*` functions. The
//! TIMESTAMP value's own text form and the calendar arithmetic are in
//! [`cairn_core::timestamp`].
//!
//! The date functions are a port of SQLite's `date.c` state machine: a time
//! value (text, a Julian day number, `'now'` or a TIMESTAMP) followed by
//! modifiers, kept as a Julian day in microseconds and/or broken-down fields.
//! Invalid input gives NULL, never an error. `'localtime'` and `'utc'` are
//! accepted and treated as UTC. Calendar arithmetic is proleptic Gregorian
//! via [`days_from_civil`] / [`civil_from_days`]; no external crates.

use cairn_core::timestamp::{
    civil_from_days, days_from_civil, digits, fmt_year, is_leap, now_micros,
};
use cairn_core::{Result, Value};

use super::{arg, format_float, text_of, text_result};

const MS_PER_DAY: i64 = 86_400_000;
/// The Unix epoch as a Julian day (2440587.5) in milliseconds.
const UNIX_EPOCH_JD_MS: i64 = 210_866_760_000_000;
/// 9999-12-31 23:59:59.999 as a Julian day in milliseconds: the last instant
/// the date functions accept (JD 0, noon of -4713-11-24, is the first).
const MAX_JD_MS: i64 = 464_269_060_799_999;

/// SQLite's `DateTime`: a Julian day in milliseconds and/or broken-down
/// fields, each with a validity flag.
#[derive(Debug, Clone, Copy, Default)]
struct DateTime {
    /// Julian day × 86 400 000.
    jd: i64,
    y: i64,
    m: i64,
    d: i64,
    h: i64,
    mi: i64,
    /// Seconds, with fraction.
    s: f64,
    /// Time zone offset in minutes, not yet applied.
    tz: i64,
    /// Days to subtract for `'floor'` (day-of-month overflow).
    n_floor: i64,
    /// The time value when it was a bare number (for `'unixepoch'`, `'auto'`).
    raw: f64,
    valid_jd: bool,
    raw_s: bool,
    valid_ymd: bool,
    valid_hms: bool,
    is_error: bool,
    use_subsec: bool,
    is_utc: bool,
    is_local: bool,
}

fn valid_julian_day(jd: i64) -> bool {
    (0..=MAX_JD_MS).contains(&jd)
}

impl DateTime {
    fn set_error(&mut self) {
        *self = DateTime {
            is_error: true,
            ..DateTime::default()
        };
    }

    fn compute_jd(&mut self) {
        if self.valid_jd {
            return;
        }
        let (y, m, d) = if self.valid_ymd {
            (self.y, self.m, self.d)
        } else {
            (2000, 1, 1)
        };
        if !(-4713..=9999).contains(&y) || self.raw_s {
            self.set_error();
            return;
        }
        self.jd = days_from_civil(y, m, d) * MS_PER_DAY + UNIX_EPOCH_JD_MS;
        self.valid_jd = true;
        if self.valid_hms {
            let ms = self.h * 3_600_000 + self.mi * 60_000 + (self.s * 1000.0 + 0.5) as i64;
            self.jd = self.jd.saturating_add(ms);
            if self.tz != 0 {
                self.jd -= self.tz * 60_000;
                self.valid_ymd = false;
                self.valid_hms = false;
                self.tz = 0;
                self.is_utc = true;
                self.is_local = false;
            }
        }
    }

    /// Days past the end of the month (for `'floor'`).
    fn compute_floor(&mut self) {
        self.n_floor = if self.d <= 28 || matches!(self.m, 1 | 3 | 5 | 7 | 8 | 10 | 12) {
            0
        } else if self.m != 2 {
            i64::from(self.d == 31)
        } else if !is_leap(self.y) {
            self.d - 28
        } else {
            self.d - 29
        };
    }

    fn compute_ymd(&mut self) {
        if self.valid_ymd {
            return;
        }
        if !self.valid_jd {
            self.y = 2000;
            self.m = 1;
            self.d = 1;
        } else if !valid_julian_day(self.jd) {
            self.set_error();
            return;
        } else {
            let jdn = (self.jd + MS_PER_DAY / 2) / MS_PER_DAY;
            let (y, m, d) = civil_from_days(jdn - 2_440_588);
            self.y = y;
            self.m = i64::from(m);
            self.d = i64::from(d);
        }
        self.valid_ymd = true;
    }

    fn compute_hms(&mut self) {
        if self.valid_hms {
            return;
        }
        self.compute_jd();
        let day_ms = self
            .jd
            .saturating_add(MS_PER_DAY / 2)
            .rem_euclid(MS_PER_DAY);
        self.s = (day_ms % 60_000) as f64 / 1000.0;
        let day_min = day_ms / 60_000;
        self.mi = day_min % 60;
        self.h = day_min / 60;
        self.raw_s = false;
        self.valid_hms = true;
    }

    fn compute_ymd_hms(&mut self) {
        self.compute_ymd();
        self.compute_hms();
    }

    fn clear_ymd_hms_tz(&mut self) {
        self.valid_ymd = false;
        self.valid_hms = false;
        self.tz = 0;
    }

    /// A bare number: a Julian day (or, with a later modifier, Unix seconds).
    fn set_raw_number(&mut self, r: f64) {
        self.raw = r;
        self.raw_s = true;
        if (0.0..5_373_484.5).contains(&r) {
            self.jd = (r * 86_400_000.0 + 0.5) as i64;
            self.valid_jd = true;
        }
    }

    fn set_now(&mut self) {
        self.jd = (now_micros() / 1000).saturating_add(UNIX_EPOCH_JD_MS);
        self.valid_jd = true;
        self.is_utc = true;
        self.is_local = false;
        self.clear_ymd_hms_tz();
    }

    /// Raw number → Unix seconds, when it is a valid one.
    fn unixepoch_from_raw(&mut self) -> bool {
        let r = self.raw * 1000.0 + UNIX_EPOCH_JD_MS as f64;
        if (0.0..464_269_060_800_000.0).contains(&r) {
            self.clear_ymd_hms_tz();
            self.jd = (r + 0.5) as i64;
            self.valid_jd = true;
            self.raw_s = false;
            true
        } else {
            false
        }
    }

    /// SQLite's `toLocaltime` with UTC as the local zone, including its
    /// mapping of years outside 1970..2038 onto a year with the same leap
    /// cycle and back (which keeps an overflowing day of month as is).
    fn apply_localtime(&mut self) {
        self.compute_jd();
        let (t_jd, year_diff) = if self.jd < 210_866_760_000_000 || self.jd > 213_014_145_600_000 {
            let mut x = *self;
            x.compute_ymd_hms();
            let diff = (2000 + x.y % 4) - x.y;
            x.y += diff;
            x.valid_jd = false;
            x.compute_jd();
            (x.jd, diff)
        } else {
            (self.jd, 0)
        };
        let t = t_jd / 1000 - UNIX_EPOCH_JD_MS / 1000;
        let (y, m, d) = civil_from_days(t.div_euclid(86_400));
        let secs = t.rem_euclid(86_400);
        self.y = y - year_diff;
        self.m = i64::from(m);
        self.d = i64::from(d);
        self.h = secs / 3600;
        self.mi = secs / 60 % 60;
        self.s = (secs % 60) as f64 + (self.jd % 1000) as f64 * 0.001;
        self.valid_ymd = true;
        self.valid_hms = true;
        self.valid_jd = false;
        self.raw_s = false;
        self.tz = 0;
        self.is_error = false;
    }

    /// `'auto'`: a raw number in Julian-day range stays one, else it is read
    /// as Unix seconds.
    fn auto_adjust(&mut self) {
        if !self.raw_s || self.valid_jd {
            self.raw_s = false;
        } else if (-210_866_760_000.0..=253_402_300_799.0).contains(&self.raw) {
            self.unixepoch_from_raw();
        }
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `[spaces](Z | ±HH:MM)[spaces]` to the end of input.
fn parse_timezone(b: &[u8], p: &mut DateTime) -> bool {
    let mut i = 0;
    while b.get(i).is_some_and(|c| is_space(*c)) {
        i += 1;
    }
    p.tz = 0;
    let sign = match b.get(i) {
        None => return true,
        Some(b'-') => -1,
        Some(b'+') => 1,
        Some(b'Z' | b'z') => {
            i += 1;
            p.is_local = false;
            p.is_utc = true;
            0
        }
        Some(_) => return false,
    };
    if sign != 0 {
        let (Some(hr), Some(mn)) = (digits(b, i + 1, 2, 0, 14), digits(b, i + 4, 2, 0, 59)) else {
            return false;
        };
        if b.get(i + 3) != Some(&b':') {
            return false;
        }
        i += 6;
        p.tz = sign * (mn + hr * 60);
    }
    while b.get(i).is_some_and(|c| is_space(*c)) {
        i += 1;
    }
    i == b.len()
}

/// `HH:MM[:SS[.fff…]]` then an optional time zone, to the end of input.
fn parse_hms(b: &[u8], p: &mut DateTime) -> bool {
    let (Some(h), Some(mi)) = (digits(b, 0, 2, 0, 24), digits(b, 3, 2, 0, 59)) else {
        return false;
    };
    if b.get(2) != Some(&b':') {
        return false;
    }
    let mut i = 5;
    let mut s = 0.0;
    if b.get(i) == Some(&b':') {
        let Some(sec) = digits(b, i + 1, 2, 0, 59) else {
            return false;
        };
        i += 3;
        s = sec as f64;
        if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 1;
            let (mut ms, mut scale, mut n) = (0.0f64, 1.0f64, 0);
            while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                if n < 18 {
                    ms = ms * 10.0 + f64::from(c - b'0');
                    scale *= 10.0;
                    n += 1;
                }
                i += 1;
            }
            // Truncated below one second, as SQLite does.
            s += (ms / scale).min(0.999);
        }
    }
    p.valid_jd = false;
    p.raw_s = false;
    p.valid_hms = true;
    p.h = h;
    p.mi = mi;
    p.s = s;
    parse_timezone(b.get(i..).unwrap_or(&[]), p)
}

/// `[-]YYYY-MM-DD[(spaces|T)…time]`.
fn parse_ymd(b: &[u8], p: &mut DateTime) -> bool {
    let (neg, b) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    let (Some(y), Some(m), Some(d)) = (
        digits(b, 0, 4, 0, 9999),
        digits(b, 5, 2, 1, 12),
        digits(b, 8, 2, 1, 31),
    ) else {
        return false;
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return false;
    }
    let mut i = 10;
    while b.get(i).is_some_and(|c| is_space(*c) || *c == b'T') {
        i += 1;
    }
    let rest = b.get(i..).unwrap_or(&[]);
    if parse_hms(rest, p) {
        // Got the time.
    } else if rest.is_empty() {
        p.valid_hms = false;
    } else {
        return false;
    }
    p.valid_jd = false;
    p.valid_ymd = true;
    p.y = if neg { -y } else { y };
    p.m = m;
    p.d = d;
    p.compute_floor();
    if p.tz != 0 {
        p.compute_jd();
    }
    true
}

/// SQLite's `sqlite3AtoF` accepting only a whole number (surrounding spaces
/// allowed): no `inf`, `nan` or hex.
fn sqlite_atof(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c: char| c.is_ascii() && is_space(c as u8));
    if t.is_empty()
        || !t
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    t.parse::<f64>().ok()
}

fn parse_date_or_time(s: &str, p: &mut DateTime) -> bool {
    let b = s.as_bytes();
    if parse_ymd(b, p) || parse_hms(b, p) {
        return true;
    }
    if s.eq_ignore_ascii_case("now") {
        p.set_now();
        return true;
    }
    if let Some(r) = sqlite_atof(s) {
        p.set_raw_number(r);
        return true;
    }
    if s.eq_ignore_ascii_case("subsec") || s.eq_ignore_ascii_case("subsecond") {
        p.use_subsec = true;
        p.set_now();
        return true;
    }
    false
}

/// Unit name, limit on the magnitude of the amount, seconds per unit.
const UNITS: &[(&str, f64, f64)] = &[
    ("second", 4.6427e14, 1.0),
    ("minute", 7.7379e12, 60.0),
    ("hour", 1.2897e11, 3600.0),
    ("day", 5_373_485.0, 86_400.0),
    ("month", 176_546.0, 2_592_000.0),
    ("year", 14_713.0, 31_536_000.0),
];

/// Applies modifier number `idx` (1-based). Returns false on an invalid one.
/// `'localtime'` and `'utc'` treat local time as UTC.
fn parse_modifier(modifier: &str, idx: usize, p: &mut DateTime) -> bool {
    let z = modifier.to_ascii_lowercase();
    match z.as_bytes().first() {
        Some(b'a') if z == "auto" => {
            if idx > 1 {
                return false;
            }
            p.auto_adjust();
            true
        }
        Some(b'c') if z == "ceiling" => {
            p.compute_jd();
            p.clear_ymd_hms_tz();
            p.n_floor = 0;
            true
        }
        Some(b'f') if z == "floor" => {
            p.compute_jd();
            p.jd = p.jd.saturating_sub(p.n_floor.saturating_mul(MS_PER_DAY));
            p.clear_ymd_hms_tz();
            true
        }
        Some(b'j') if z == "julianday" => {
            if idx > 1 || !(p.valid_jd && p.raw_s) {
                return false;
            }
            p.raw_s = false;
            true
        }
        Some(b'l') if z == "localtime" => {
            if !p.is_local {
                p.apply_localtime();
            }
            p.is_utc = false;
            p.is_local = true;
            true
        }
        Some(b'u') if z == "unixepoch" && p.raw_s => idx == 1 && p.unixepoch_from_raw(),
        Some(b'u') if z == "utc" => {
            if !p.is_utc {
                // Local time is UTC, so the instant stays; like SQLite, this
                // also clears any earlier error state.
                p.compute_jd();
                *p = DateTime {
                    jd: p.jd,
                    valid_jd: true,
                    is_utc: true,
                    ..DateTime::default()
                };
            }
            true
        }
        Some(b'w') if z.starts_with("weekday ") => {
            let Some(r) = z.get(8..).and_then(sqlite_atof) else {
                return false;
            };
            if !(0.0..7.0).contains(&r) || r.fract() != 0.0 {
                return false;
            }
            let n = r as i64;
            p.compute_ymd_hms();
            p.tz = 0;
            p.valid_jd = false;
            p.compute_jd();
            let mut wd = ((p.jd + 129_600_000) / MS_PER_DAY) % 7;
            if wd > n {
                wd -= 7;
            }
            p.jd += (n - wd) * MS_PER_DAY;
            p.clear_ymd_hms_tz();
            true
        }
        Some(b's') if z == "subsec" || z == "subsecond" => {
            p.use_subsec = true;
            true
        }
        Some(b's') if !z.starts_with("start of ") => false,
        Some(b's') => {
            if !p.valid_jd && !p.valid_ymd && !p.valid_hms {
                return false;
            }
            p.compute_ymd();
            p.valid_hms = true;
            p.h = 0;
            p.mi = 0;
            p.s = 0.0;
            p.raw_s = false;
            p.tz = 0;
            p.valid_jd = false;
            match z.get(9..) {
                Some("month") => p.d = 1,
                Some("year") => {
                    p.m = 1;
                    p.d = 1;
                }
                Some("day") => {}
                _ => return false,
            }
            true
        }
        Some(c) if *c == b'+' || *c == b'-' || c.is_ascii_digit() => numeric_modifier(&z, p),
        _ => false,
    }
}

/// Normalises a month number into 1..=12, carrying into the year.
fn carry_months(p: &mut DateTime) {
    let x = if p.m > 0 {
        (p.m - 1) / 12
    } else {
        (p.m - 12) / 12
    };
    p.y += x;
    p.m -= x * 12;
}

/// `±HH:MM[:SS[.fff]]`, `±YYYY-MM-DD[ HH:MM[:SS[.fff]]]` or `±N unit[s]`.
fn numeric_modifier(z: &str, p: &mut DateTime) -> bool {
    let b = z.as_bytes();
    let z0 = b.first().copied().unwrap_or(b'+');
    let mut n = 1;
    while let Some(&c) = b.get(n) {
        if c == b':' || is_space(c) {
            break;
        }
        if c == b'-'
            && ((n == 5 && digits(b, 1, 4, 0, 14_712).is_some())
                || (n == 6 && digits(b, 1, 5, 0, 14_712).is_some()))
        {
            break;
        }
        n += 1;
    }
    let Some(r) = z.get(..n).and_then(sqlite_atof) else {
        return false;
    };
    // Where an `HH:MM…` part starts, and the length of its `HH`.
    let (mut hms_at, mut hms_n) = (0usize, n);
    if b.get(n) == Some(&b'-') {
        // ±YYYY-MM-DD: add or subtract years, months (0..11) and days (0..30).
        if z0 != b'+' && z0 != b'-' {
            return false;
        }
        let shift = n - 5; // 0 for a 4-digit year, 1 for 5 digits
        let (Some(yy), Some(mm), Some(dd)) = (
            digits(b, 1, n - 1, 0, 14_712),
            digits(b, n + 1, 2, 0, 12),
            digits(b, n + 4, 2, 0, 31),
        ) else {
            return false;
        };
        if b.get(n + 3) != Some(&b'-') || mm >= 12 || dd >= 31 {
            return false;
        }
        p.compute_ymd_hms();
        p.valid_jd = false;
        let dd = if z0 == b'-' {
            p.y -= yy;
            p.m -= mm;
            -dd
        } else {
            p.y += yy;
            p.m += mm;
            dd
        };
        carry_months(p);
        p.compute_floor();
        p.compute_jd();
        p.valid_hms = false;
        p.valid_ymd = false;
        p.jd = p.jd.saturating_add(dd * MS_PER_DAY);
        let tail = 11 + shift;
        match b.get(tail) {
            None => return true,
            Some(&c)
                if is_space(c)
                    && digits(b, tail + 1, 2, 0, 24).is_some()
                    && b.get(tail + 3) == Some(&b':')
                    && digits(b, tail + 4, 2, 0, 59).is_some() =>
            {
                hms_at = tail + 1;
                hms_n = 2;
            }
            Some(_) => return false,
        }
    }
    if b.get(hms_at + hms_n) == Some(&b':') {
        let start = if b.get(hms_at).is_some_and(u8::is_ascii_digit) {
            hms_at
        } else {
            hms_at + 1
        };
        let mut tx = DateTime::default();
        if !parse_hms(b.get(start..).unwrap_or(&[]), &mut tx) {
            return false;
        }
        tx.compute_jd();
        let mut delta = (tx.jd - MS_PER_DAY / 2).rem_euclid(MS_PER_DAY);
        if z0 == b'-' {
            delta = -delta;
        }
        p.compute_jd();
        p.clear_ymd_hms_tz();
        p.jd = p.jd.saturating_add(delta);
        return true;
    }
    // "±NNN unit[s]".
    let unit = z
        .get(n..)
        .unwrap_or("")
        .trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8));
    if unit.len() < 3 || unit.len() > 10 {
        return false;
    }
    let unit = unit.strip_suffix('s').unwrap_or(unit);
    p.compute_jd();
    let rounder = if r < 0.0 { -0.5 } else { 0.5 };
    p.n_floor = 0;
    let mut ok = false;
    for &(name, limit, secs) in UNITS {
        if name != unit || r <= -limit || r >= limit {
            continue;
        }
        let mut r = r;
        if name == "month" {
            p.compute_ymd_hms();
            p.m += r as i64;
            carry_months(p);
            p.compute_floor();
            p.valid_jd = false;
            r -= r.trunc();
        } else if name == "year" {
            p.compute_ymd_hms();
            p.y += r as i64;
            p.compute_floor();
            p.valid_jd = false;
            r -= r.trunc();
        }
        p.compute_jd();
        p.jd = p.jd.saturating_add((r * 1000.0 * secs + rounder) as i64);
        ok = true;
        break;
    }
    p.clear_ymd_hms_tz();
    ok
}

/// Reads a time value and modifiers from function arguments (no arguments:
/// `'now'`); `None` means the result is NULL.
fn is_date(args: &[Value]) -> Option<DateTime> {
    let mut p = DateTime::default();
    match args.first() {
        None => p.set_now(),
        Some(Value::Null) => return None,
        Some(Value::Integer(i)) => p.set_raw_number(*i as f64),
        Some(Value::Real(f)) => p.set_raw_number(*f),
        Some(Value::Boolean(b)) => p.set_raw_number(f64::from(u8::from(*b))),
        Some(Value::Timestamp(us)) => {
            p.jd = us
                .div_euclid(1000)
                .checked_add(UNIX_EPOCH_JD_MS)
                .filter(|jd| valid_julian_day(*jd))?;
            p.valid_jd = true;
            p.is_utc = true;
        }
        Some(v) => {
            let s = text_of(v)?;
            if !parse_date_or_time(&s, &mut p) {
                return None;
            }
        }
    }
    for (i, m) in args.iter().enumerate().skip(1) {
        let z = text_of(m)?;
        if !parse_modifier(&z, i, &mut p) {
            return None;
        }
    }
    p.compute_jd();
    if p.is_error || !valid_julian_day(p.jd) {
        return None;
    }
    if args.len() == 1 && p.valid_ymd && p.d > 28 {
        // Normalise a day-of-month overflow: 2023-02-31 is 2023-03-03.
        p.valid_ymd = false;
    }
    Some(p)
}

fn ymd_text(p: &DateTime) -> String {
    format!("{}-{:02}-{:02}", fmt_year(p.y), p.m % 100, p.d % 100)
}

fn hms_text(p: &DateTime) -> String {
    if p.use_subsec {
        let ms = (1000.0 * p.s + 0.5) as i64;
        format!(
            "{:02}:{:02}:{:02}.{:03}",
            p.h % 100,
            p.mi % 100,
            ms / 1000 % 100,
            ms % 1000
        )
    } else {
        format!("{:02}:{:02}:{:02}", p.h % 100, p.mi % 100, p.s as i64 % 100)
    }
}

fn julian_day(p: &DateTime) -> f64 {
    p.jd as f64 / 86_400_000.0
}

/// `date(time, modifiers...)`: `YYYY-MM-DD`.
pub(crate) fn fn_date(args: &[Value]) -> Result<Value> {
    let Some(mut p) = is_date(args) else {
        return Ok(Value::Null);
    };
    p.compute_ymd();
    text_result(ymd_text(&p))
}

/// `time(time, modifiers...)`: `HH:MM:SS` (`HH:MM:SS.SSS` with `'subsec'`).
pub(crate) fn fn_time(args: &[Value]) -> Result<Value> {
    let Some(mut p) = is_date(args) else {
        return Ok(Value::Null);
    };
    p.compute_hms();
    text_result(hms_text(&p))
}

/// `datetime(time, modifiers...)`: `YYYY-MM-DD HH:MM:SS`.
pub(crate) fn fn_datetime(args: &[Value]) -> Result<Value> {
    let Some(mut p) = is_date(args) else {
        return Ok(Value::Null);
    };
    p.compute_ymd_hms();
    text_result(format!("{} {}", ymd_text(&p), hms_text(&p)))
}

/// `julianday(time, modifiers...)`: REAL.
pub(crate) fn fn_julianday(args: &[Value]) -> Result<Value> {
    Ok(is_date(args).map_or(Value::Null, |p| Value::real(julian_day(&p))))
}

/// `unixepoch(time, modifiers...)`: INTEGER seconds (REAL with `'subsec'`).
pub(crate) fn fn_unixepoch(args: &[Value]) -> Result<Value> {
    Ok(match is_date(args) {
        None => Value::Null,
        Some(p) if p.use_subsec => Value::real((p.jd - UNIX_EPOCH_JD_MS) as f64 / 1000.0),
        Some(p) => Value::Integer(p.jd / 1000 - UNIX_EPOCH_JD_MS / 1000),
    })
}

fn days_after_jan01(p: &DateTime) -> i64 {
    let mut jan01 = *p;
    jan01.valid_jd = false;
    jan01.m = 1;
    jan01.d = 1;
    jan01.compute_jd();
    (p.jd - jan01.jd + MS_PER_DAY / 2) / MS_PER_DAY
}

fn days_after_monday(p: &DateTime) -> i64 {
    ((p.jd + MS_PER_DAY / 2) / MS_PER_DAY) % 7
}

fn days_after_sunday(p: &DateTime) -> i64 {
    ((p.jd + 129_600_000) / MS_PER_DAY) % 7
}

/// The Thursday of the ISO week of `p` (for `%G`, `%g`, `%V`).
fn iso_thursday(p: &DateTime) -> DateTime {
    let mut y = *p;
    y.jd += (3 - days_after_monday(p)) * MS_PER_DAY;
    y.valid_ymd = false;
    y.compute_ymd();
    y
}

/// `strftime(format, time, modifiers...)`: `%d %e %f %F %G %g %H %I %j %J %k
/// %l %m %M %p %P %R %s %S %T %u %U %V %w %W %Y %%`; any other conversion
/// gives NULL (SQLite).
pub(crate) fn fn_strftime(args: &[Value]) -> Result<Value> {
    let Some(fmt) = text_of(arg(args, 0)) else {
        return Ok(Value::Null);
    };
    let Some(mut p) = is_date(args.get(1..).unwrap_or(&[])) else {
        return Ok(Value::Null);
    };
    p.compute_jd();
    p.compute_ymd_hms();
    let mut out = String::with_capacity(fmt.len() + 16);
    let mut chars = fmt.chars();
    let h12 = match p.h {
        0 => 12,
        h if h > 12 => h - 12,
        h => h,
    };
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let piece = match chars.next() {
            Some('d') => format!("{:02}", p.d),
            Some('e') => format!("{:2}", p.d),
            Some('f') => format!(
                "{:0>6}",
                format_float(p.s.min(59.999), 'f', 3, false, false)
            ),
            Some('F') => format!("{:04}-{:02}-{:02}", p.y, p.m, p.d),
            Some('G') => format!("{:04}", iso_thursday(&p).y),
            Some('g') => format!("{:02}", iso_thursday(&p).y % 100),
            Some('H') => format!("{:02}", p.h),
            Some('k') => format!("{:2}", p.h),
            Some('I') => format!("{h12:02}"),
            Some('l') => format!("{h12:2}"),
            Some('j') => format!("{:03}", days_after_jan01(&p) + 1),
            Some('J') => format_float(julian_day(&p), 'g', 16, false, false),
            Some('m') => format!("{:02}", p.m),
            Some('M') => format!("{:02}", p.mi),
            Some('p') => (if p.h >= 12 { "PM" } else { "AM" }).to_string(),
            Some('P') => (if p.h >= 12 { "pm" } else { "am" }).to_string(),
            Some('R') => format!("{:02}:{:02}", p.h, p.mi),
            Some('s') => {
                if p.use_subsec {
                    let v = (p.jd - UNIX_EPOCH_JD_MS) as f64 / 1000.0;
                    let body = format_float(v.abs(), 'f', 3, false, false);
                    if v < 0.0 {
                        format!("-{body}")
                    } else {
                        body
                    }
                } else {
                    (p.jd / 1000 - UNIX_EPOCH_JD_MS / 1000).to_string()
                }
            }
            Some('S') => format!("{:02}", p.s as i64),
            Some('T') => format!("{:02}:{:02}:{:02}", p.h, p.mi, p.s as i64),
            Some('u') => match days_after_sunday(&p) {
                0 => "7".to_string(),
                w => w.to_string(),
            },
            Some('w') => days_after_sunday(&p).to_string(),
            Some('U') => format!(
                "{:02}",
                (days_after_jan01(&p) - days_after_sunday(&p) + 7) / 7
            ),
            Some('V') => format!("{:02}", days_after_jan01(&iso_thursday(&p)) / 7 + 1),
            Some('W') => format!(
                "{:02}",
                (days_after_jan01(&p) - days_after_monday(&p) + 7) / 7
            ),
            Some('Y') => format!("{:04}", p.y),
            Some('%') => "%".to_string(),
            _ => return Ok(Value::Null),
        };
        out.push_str(&piece);
    }
    text_result(out)
}

/// `now()`: the current TIMESTAMP.
pub(crate) fn fn_now(_: &[Value]) -> Result<Value> {
    Ok(Value::Timestamp(now_micros()))
}

/// `current_timestamp`: `YYYY-MM-DD HH:MM:SS` text, as in SQLite.
pub(crate) fn fn_current_timestamp(_: &[Value]) -> Result<Value> {
    fn_datetime(&[])
}

/// `current_date`: `YYYY-MM-DD` text.
pub(crate) fn fn_current_date(_: &[Value]) -> Result<Value> {
    fn_date(&[])
}

/// `current_time`: `HH:MM:SS` text.
pub(crate) fn fn_current_time(_: &[Value]) -> Result<Value> {
    fn_time(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Value {
        Value::text(s)
    }

    fn call(f: fn(&[Value]) -> Result<Value>, args: &[Value]) -> Value {
        match f(args) {
            Ok(v) => v,
            Err(e) => panic!("{args:?}: {e}"),
        }
    }

    #[track_caller]
    fn text_eq(f: fn(&[Value]) -> Result<Value>, args: &[&str], want: Option<&str>) {
        let args: Vec<Value> = args.iter().map(|s| t(s)).collect();
        let got = call(f, &args);
        match want {
            None => assert!(got.is_null(), "{args:?} = {got:?}, want NULL"),
            Some(w) => assert!(
                matches!(&got, Value::Text(s) if &**s == w),
                "{args:?} = {got:?}, want {w:?}"
            ),
        }
    }

    #[test]
    fn date_functions_basic() {
        text_eq(fn_date, &["2024-02-29"], Some("2024-02-29"));
        text_eq(fn_date, &["2024-02-29 12:34:56"], Some("2024-02-29"));
        text_eq(fn_time, &["2024-02-29 12:34:56.789"], Some("12:34:56"));
        text_eq(
            fn_datetime,
            &["2024-01-01T12:34:56.789Z"],
            Some("2024-01-01 12:34:56"),
        );
        text_eq(
            fn_datetime,
            &["2024-01-01 12:00+05:30"],
            Some("2024-01-01 06:30:00"),
        );
        text_eq(
            fn_datetime,
            &["2024-01-01 12:00 -01:00"],
            Some("2024-01-01 13:00:00"),
        );
        text_eq(fn_datetime, &["12:30"], Some("2000-01-01 12:30:00"));
        text_eq(
            fn_datetime,
            &["2024-01-01 24:00:00"],
            Some("2024-01-01 24:00:00"),
        );
        // A day-of-month overflow is normalised (SQLite 3.42+).
        text_eq(fn_date, &["2023-02-30"], Some("2023-03-02"));
        text_eq(fn_date, &["2024-02-30"], Some("2024-03-01"));
        text_eq(fn_date, &["2023-02-30", "+0 days"], Some("2023-03-02"));
        text_eq(fn_date, &["2024-01-01  "], Some("2024-01-01"));
        text_eq(fn_date, &["-0001-01-01"], Some("-0001-01-01"));
        text_eq(fn_date, &["0000-01-01", "-1 day"], Some("-0001-12-31"));
        text_eq(fn_datetime, &["1e3"], Some("-4710-08-20 12:00:00"));
        text_eq(fn_datetime, &["2460000.5"], Some("2023-02-25 00:00:00"));
        text_eq(fn_date, &["  2024-01-01"], None);
        text_eq(fn_date, &["2024-1-01"], None);
        text_eq(fn_date, &["2024-13-01"], None);
        text_eq(fn_date, &["2024-01-32"], None);
        text_eq(fn_date, &["2024-01-01 25:00"], None);
        text_eq(fn_date, &["2024-01-01 12:00+15:00"], None);
        text_eq(fn_date, &["garbage"], None);
        text_eq(fn_date, &[""], None);
        text_eq(fn_date, &["inf"], None);
        assert!(call(fn_date, &[Value::Null]).is_null());
        assert!(call(fn_date, &[t("2024-01-01"), Value::Null]).is_null());
        assert!(call(fn_date, &[Value::Integer(-1)]).is_null());
        assert!(call(fn_date, &[Value::Integer(6_000_000)]).is_null());
        assert!(matches!(
            call(fn_datetime, &[Value::Real(2460000.5)]),
            Value::Text(s) if &*s == "2023-02-25 00:00:00"
        ));
        assert!(matches!(
            call(fn_datetime, &[Value::Integer(0)]),
            Value::Text(s) if &*s == "-4713-11-24 12:00:00"
        ));
        assert!(matches!(
            call(fn_datetime, &[Value::Integer(1_700_000_000), t("unixepoch")]),
            Value::Text(s) if &*s == "2023-11-14 22:13:20"
        ));
        assert!(matches!(
            call(fn_datetime, &[Value::Timestamp(1_500_000)]),
            Value::Text(s) if &*s == "1970-01-01 00:00:01"
        ));
        assert!(call(fn_datetime, &[Value::Timestamp(i64::MAX)]).is_null());
        assert!(call(fn_datetime, &[Value::Timestamp(i64::MIN)]).is_null());
        // 'unixepoch' must be the first modifier and follow a number.
        assert!(call(fn_date, &[t("2024-01-01"), t("unixepoch")]).is_null());
        assert!(call(fn_date, &[Value::Integer(0), t("+1 day"), t("unixepoch")]).is_null());
    }

    #[test]
    fn date_modifiers() {
        text_eq(fn_date, &["2024-01-31", "+1 month"], Some("2024-03-02"));
        text_eq(fn_date, &["2023-01-31", "+1 month"], Some("2023-03-03"));
        text_eq(fn_date, &["2024-03-31", "-1 month"], Some("2024-03-02"));
        text_eq(fn_date, &["2024-02-29", "+1 year"], Some("2025-03-01"));
        text_eq(fn_date, &["2024-02-29", "+4 years"], Some("2028-02-29"));
        text_eq(fn_date, &["2024-01-15", "-13 months"], Some("2022-12-15"));
        text_eq(fn_date, &["2024-01-15", "+12 months"], Some("2025-01-15"));
        text_eq(fn_date, &["2024-12-31", "+1 day"], Some("2025-01-01"));
        text_eq(fn_date, &["2024-03-01", "-1 day"], Some("2024-02-29"));
        text_eq(fn_date, &["2023-03-01", "-1 DAYS"], Some("2023-02-28"));
        text_eq(
            fn_datetime,
            &["2024-01-01", "+1.5 days"],
            Some("2024-01-02 12:00:00"),
        );
        text_eq(
            fn_datetime,
            &["2024-01-01", "+1.5 months"],
            Some("2024-02-16 00:00:00"),
        );
        text_eq(
            fn_datetime,
            &["2024-01-01", "+36 hours"],
            Some("2024-01-02 12:00:00"),
        );
        text_eq(
            fn_datetime,
            &["2024-01-01", "-90 minutes"],
            Some("2023-12-31 22:30:00"),
        );
        text_eq(
            fn_datetime,
            &["2024-01-01", "+3661 seconds"],
            Some("2024-01-01 01:01:01"),
        );
        text_eq(
            fn_datetime,
            &["2024-01-01", "+01:30"],
            Some("2024-01-01 01:30:00"),
        );
        text_eq(
            fn_datetime,
            &["2024-01-01", "-01:30:15.5"],
            Some("2023-12-31 22:29:44"),
        );
        text_eq(
            fn_date,
            &["2024-05-17", "start of month"],
            Some("2024-05-01"),
        );
        text_eq(
            fn_date,
            &["2024-05-17", "start of year"],
            Some("2024-01-01"),
        );
        text_eq(
            fn_datetime,
            &["2024-05-17 13:14:15", "start of day"],
            Some("2024-05-17 00:00:00"),
        );
        text_eq(
            fn_date,
            &["2024-05-17", "start of month", "+1 month", "-1 day"],
            Some("2024-05-31"),
        );
        text_eq(
            fn_date,
            &["2024-02-10", "start of month", "+1 month", "-1 day"],
            Some("2024-02-29"),
        );
        text_eq(
            fn_datetime,
            &["2024-01-15", "weekday 0"],
            Some("2024-01-21 00:00:00"),
        );
        text_eq(
            fn_datetime,
            &["2024-01-14", "weekday 0"],
            Some("2024-01-14 00:00:00"),
        );
        text_eq(fn_date, &["2024-01-14", "weekday 1"], Some("2024-01-15"));
        text_eq(fn_date, &["2024-01-14", "weekday 7"], None);
        text_eq(fn_date, &["2024-01-14", "weekday 1.5"], None);
        text_eq(fn_date, &["2024-01-14", "localtime"], Some("2024-01-14"));
        text_eq(fn_date, &["2023-02-30", "utc"], Some("2023-03-02"));
        // Month arithmetic overflowing the day: 'ceiling' (default) rolls
        // forward, 'floor' back to the end of the month.
        text_eq(
            fn_date,
            &["2024-01-31", "+1 month", "floor"],
            Some("2024-02-29"),
        );
        text_eq(
            fn_date,
            &["2024-01-31", "+1 month", "ceiling"],
            Some("2024-03-02"),
        );
        text_eq(
            fn_date,
            &["2023-03-31", "-1 month", "floor"],
            Some("2023-02-28"),
        );
        text_eq(
            fn_date,
            &["2024-03-15", "+1 month", "floor"],
            Some("2024-04-15"),
        );
        // ±YYYY-MM-DD[ HH:MM[:SS]] modifiers.
        text_eq(fn_date, &["2024-01-31", "+0001-01-00"], Some("2025-03-03"));
        text_eq(fn_date, &["2024-03-31", "-0000-01-00"], Some("2024-03-02"));
        text_eq(
            fn_datetime,
            &["2024-01-01", "+0000-00-01 12:30"],
            Some("2024-01-02 12:30:00"),
        );
        text_eq(fn_date, &["2024-01-01", "-00001-00-01"], Some("2022-12-31"));
        text_eq(fn_date, &["2024-01-01", "+0000-12-00"], None);
        text_eq(fn_date, &["2024-01-01", "+0000-00-31"], None);
        text_eq(fn_date, &["2024-01-01", "0001-00-00"], None);
        text_eq(fn_date, &["2024-01-14", "utc"], Some("2024-01-14"));
        text_eq(fn_date, &["2024-01-14", "start of week"], None);
        text_eq(fn_date, &["2024-01-14", "+1 fortnight"], None);
        text_eq(fn_date, &["2024-01-14", "+x days"], None);
        text_eq(fn_date, &["2024-01-14", "bogus"], None);
        text_eq(fn_date, &["2024-01-14", ""], None);
        text_eq(fn_date, &["9999-12-31", "+1 day"], None);
        text_eq(fn_date, &["2024-01-01", "+1000000 years"], None);
        text_eq(fn_date, &["2024-01-01", "+8000 years"], None);
        text_eq(fn_date, &["2024-01-01", "+1e300 seconds"], None);
        assert!(matches!(call(fn_date, &[t("now"), t("+1 day")]), Value::Text(s) if s.len() == 10));
        assert!(matches!(
            call(fn_date, &[Value::Real(2460000.5), t("auto")]),
            Value::Text(s) if &*s == "2023-02-25"
        ));
        assert!(matches!(
            call(fn_date, &[Value::Integer(1_700_000_000), t("auto")]),
            Value::Text(s) if &*s == "2023-11-14"
        ));
        assert!(matches!(
            call(fn_date, &[Value::Real(2460000.5), t("julianday")]),
            Value::Text(s) if &*s == "2023-02-25"
        ));
    }

    #[test]
    fn julianday_and_unixepoch() {
        assert!(matches!(call(fn_julianday, &[t("2000-01-01")]), Value::Real(x) if x == 2451544.5));
        assert!(matches!(call(fn_julianday, &[t("1970-01-01")]), Value::Real(x) if x == 2440587.5));
        assert!(matches!(call(fn_julianday, &[Value::Integer(0)]), Value::Real(x) if x == 0.0));
        assert!(matches!(
            call(fn_unixepoch, &[t("2024-01-01")]),
            Value::Integer(1_704_067_200)
        ));
        assert!(matches!(
            call(fn_unixepoch, &[t("1969-12-31 23:59:59")]),
            Value::Integer(-1)
        ));
        assert!(matches!(
            call(fn_unixepoch, &[t("2024-01-01 00:00:00.250"), t("subsec")]),
            Value::Real(x) if x == 1_704_067_200.25
        ));
        text_eq(fn_time, &["12:34:56.789", "subsec"], Some("12:34:56.789"));
        assert!(call(fn_unixepoch, &[t("x")]).is_null());
        let now = call(fn_unixepoch, &[]);
        assert!(matches!(now, Value::Integer(s) if s > 1_700_000_000));
    }

    #[test]
    fn strftime_formats() {
        text_eq(
            fn_strftime,
            &[
                "%Y-%m-%d %H:%M:%f %j %w %W %s %J",
                "2024-12-31 23:59:59.999",
            ],
            Some("2024-12-31 23:59:59.999 366 2 53 1735689599 2460676.499999988"),
        );
        text_eq(fn_strftime, &["%W", "2024-01-01"], Some("01"));
        text_eq(fn_strftime, &["%W", "2023-01-01"], Some("00"));
        text_eq(fn_strftime, &["%U", "2023-01-01"], Some("01"));
        text_eq(fn_strftime, &["%j", "2023-03-01"], Some("060"));
        text_eq(fn_strftime, &["%j", "2024-03-01"], Some("061"));
        text_eq(fn_strftime, &["%s", "1970-01-01 00:00:00"], Some("0"));
        text_eq(fn_strftime, &["%s", "1960-01-01"], Some("-315619200"));
        text_eq(fn_strftime, &["%w %u", "2024-01-07"], Some("0 7"));
        text_eq(
            fn_strftime,
            &["%f", "2024-01-01 00:00:59.9999"],
            Some("59.999"),
        );
        text_eq(fn_strftime, &["%S", "2024-01-01 00:00:07.5"], Some("07"));
        text_eq(fn_strftime, &["%Q", "2024-01-01"], None);
        text_eq(fn_strftime, &["abc%", "2024-01-01"], None);
        text_eq(fn_strftime, &["100%%", "2024-01-01"], Some("100%"));
        text_eq(fn_strftime, &["%Y", "garbage"], None);
        text_eq(
            fn_strftime,
            &["%F %T", "2024-03-05 07:08:09"],
            Some("2024-03-05 07:08:09"),
        );
        text_eq(
            fn_strftime,
            &["%e|%k|%l|%I|%p|%P|%R", "2024-03-05 07:08:09"],
            Some(" 5| 7| 7|07|AM|am|07:08"),
        );
        text_eq(
            fn_strftime,
            &["%I %p", "2024-03-05 00:08:09"],
            Some("12 AM"),
        );
        text_eq(
            fn_strftime,
            &["%I %p", "2024-03-05 13:08:09"],
            Some("01 PM"),
        );
        // ISO weeks: 2021-01-03 belongs to 2020-W53; 2024-12-30 to 2025-W01.
        text_eq(fn_strftime, &["%G-W%V", "2021-01-03"], Some("2020-W53"));
        text_eq(
            fn_strftime,
            &["%G-W%V %g", "2024-12-30"],
            Some("2025-W01 25"),
        );
        text_eq(
            fn_strftime,
            &["%Y-%m-%d", "2024-02-29", "+1 year"],
            Some("2025-03-01"),
        );
        assert!(call(fn_strftime, &[Value::Null, t("2024-01-01")]).is_null());
        assert!(matches!(call(fn_strftime, &[t("%Y")]), Value::Text(s) if s.len() == 4));
    }

    #[test]
    fn now_and_current() {
        assert!(matches!(call(fn_now, &[]), Value::Timestamp(us) if us > 1_700_000_000_000_000));
        assert!(matches!(call(fn_current_timestamp, &[]), Value::Text(s) if s.len() == 19));
        assert!(matches!(call(fn_current_date, &[]), Value::Text(s) if s.len() == 10));
        assert!(matches!(call(fn_current_time, &[]), Value::Text(s) if s.len() == 8));
        assert!(matches!(call(fn_date, &[t("NOW")]), Value::Text(s) if s.len() == 10));
    }

    /// Arithmetic across month ends agrees with an independent day count.
    #[test]
    fn day_arithmetic_matches_civil() {
        let base = days_from_civil(1999, 12, 25);
        for k in 0..1200i64 {
            let (y, m, d) = civil_from_days(base + k);
            let want = format!("{y:04}-{m:02}-{d:02}");
            let got = call(fn_date, &[t("1999-12-25"), t(&format!("+{k} days"))]);
            assert!(
                matches!(&got, Value::Text(s) if **s == want),
                "{k}: {got:?} vs {want}"
            );
        }
    }
}
