//! Date and time: parsing and formatting of TIMESTAMP values (microseconds
//! since the Unix epoch, UTC) and SQLite's date functions.
//! (Placeholder: completed by the function-library work; see missions/foundation.md.)

/// Formats microseconds since the epoch as `YYYY-MM-DD HH:MM:SS[.ffffff]`.
pub fn format_timestamp(micros: i64) -> String {
    micros.to_string()
}

/// Parses `YYYY-MM-DD[ HH:MM[:SS[.fff]]]` (a `T` may separate date and time).
pub fn parse_timestamp(_s: &str) -> Option<i64> {
    None
}
