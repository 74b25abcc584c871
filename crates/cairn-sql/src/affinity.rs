//! SQLite's comparison affinity (datatype3.html, §4.2): before two values
//! are compared, text may be read as a number or a number written as text,
//! depending on where each operand came from. A column has the affinity of
//! its declared type, `CAST(x AS t)` the affinity of `t`, a subquery's or
//! view's column the affinity of its expression (in a compound SELECT, of
//! the first arm whose expression has one); every other expression (a
//! literal, a parameter, arithmetic, a function) has none.
//!
//! The rule for `a op b`, `a IN (...)`, `a BETWEEN ...`, `CASE a WHEN ...`
//! and `a IS b`:
//! - both operands have an affinity: if either is numeric, numeric
//!   affinity applies to both; otherwise nothing is converted;
//! - one operand has an affinity: it applies to both (TEXT converts the
//!   other side's numbers to text, NUMERIC its numeric-looking text to
//!   numbers, BLOB nothing);
//! - neither has one: nothing is converted (`'1' = 1` is false).
//!
//! TIMESTAMP is Cairn's: a TIMESTAMP operand reads text that parses as an
//! instant as that instant, and ranks with NUMERIC.

use std::sync::Arc;

use cairn_core::value::parse_exact_number;
use cairn_core::{DataType, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Affinity {
    /// An expression: a literal, a parameter, a computed value.
    None,
    /// A column that converts nothing (BLOB, or a type name matching no
    /// rule, such as `ANY`).
    Blob,
    Text,
    /// INTEGER, REAL, NUMERIC, BOOLEAN.
    Numeric,
    Timestamp,
}

impl Affinity {
    /// The affinity of a column (or CAST) of type `ty`.
    pub fn of_type(ty: DataType) -> Affinity {
        match ty {
            DataType::Integer | DataType::Real | DataType::Boolean => Affinity::Numeric,
            DataType::Text | DataType::Json => Affinity::Text,
            DataType::Timestamp => Affinity::Timestamp,
            DataType::Blob | DataType::Any | DataType::Vector(_) | DataType::HalfVec(_) => {
                Affinity::Blob
            }
        }
    }

    /// The affinity a comparison of operands with affinities `a` and `b`
    /// applies to both of them (SQLite's `sqlite3CompareAffinity`), or
    /// `None` when nothing is converted.
    pub fn for_comparison(a: Affinity, b: Affinity) -> Option<Affinity> {
        let numeric = |x: Affinity| matches!(x, Affinity::Numeric | Affinity::Timestamp);
        let aff = if a != Affinity::None && b != Affinity::None {
            if a == Affinity::Timestamp || b == Affinity::Timestamp {
                Affinity::Timestamp
            } else if numeric(a) || numeric(b) {
                Affinity::Numeric
            } else {
                return None;
            }
        } else if a != Affinity::None {
            a
        } else {
            b
        };
        matches!(
            aff,
            Affinity::Text | Affinity::Numeric | Affinity::Timestamp
        )
        .then_some(aff)
    }
}

/// The bits of [`crate::bind::datatypes`].
pub const NUMERIC: u8 = 0x01;
pub const TEXT: u8 = 0x02;
pub const BLOB: u8 = 0x04;

/// The affinity of a compound SELECT's column from its arms' (affinity,
/// datatypes), left to right (SQLite's `sqlite3SubqueryColumnTypes`): the
/// first arm's that has one, unless another arm may give a value of a
/// class that affinity would convert (numbers beside TEXT, text beside a
/// numeric affinity): then none that converts anything (BLOB).
pub fn of_compound(arms: &[(Affinity, u8)]) -> Affinity {
    let Some(k) = arms.iter().position(|(a, _)| *a != Affinity::None) else {
        return Affinity::None;
    };
    let others = (arms.iter().enumerate())
        .filter(|(j, _)| *j != k)
        .fold(0, |m, (_, (_, d))| m | d);
    match arms[k].0 {
        Affinity::Text if others & NUMERIC != 0 => Affinity::Blob,
        Affinity::Numeric | Affinity::Timestamp if others & TEXT != 0 => Affinity::Blob,
        a => a,
    }
}

/// Converts `v` the way an operand with affinity `aff` is converted before
/// a comparison; values that do not qualify pass through unchanged.
pub fn apply(v: Value, aff: Affinity) -> Value {
    match (aff, &v) {
        (Affinity::Numeric, Value::Text(s)) => match parse_exact_number(s) {
            Some(n) => n.into_value(),
            None => v,
        },
        (Affinity::Timestamp, Value::Text(s)) => match cairn_core::timestamp::parse_timestamp(s) {
            Some(t) => Value::Timestamp(t),
            None => match parse_exact_number(s) {
                Some(n) => n.into_value(),
                None => v,
            },
        },
        (Affinity::Text, Value::Integer(_) | Value::Real(_) | Value::Boolean(_)) => {
            Value::Text(Arc::from(v.to_text().unwrap_or_default()))
        }
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Affinity::*;

    #[test]
    fn comparison_rule_follows_sqlite() {
        // A numeric column against a text column: numeric wins.
        assert_eq!(Affinity::for_comparison(Numeric, Text), Some(Numeric));
        assert_eq!(Affinity::for_comparison(Text, Numeric), Some(Numeric));
        // Two non-numeric columns: nothing is converted.
        assert_eq!(Affinity::for_comparison(Text, Blob), Option::None);
        assert_eq!(Affinity::for_comparison(Text, Text), Option::None);
        // A column against an expression: the column's affinity.
        assert_eq!(Affinity::for_comparison(Text, None), Some(Text));
        assert_eq!(Affinity::for_comparison(None, Numeric), Some(Numeric));
        assert_eq!(Affinity::for_comparison(Blob, None), Option::None);
        assert_eq!(Affinity::for_comparison(None, None), Option::None);
    }

    #[test]
    fn apply_converts_only_what_reads_as_the_type() {
        assert_eq!(apply(Value::text("10"), Numeric), Value::Integer(10));
        assert_eq!(apply(Value::text(" 3 "), Numeric), Value::Integer(3));
        assert_eq!(apply(Value::text("1e5"), Numeric), Value::Real(1e5));
        assert_eq!(apply(Value::text("abc"), Numeric), Value::text("abc"));
        assert_eq!(apply(Value::Integer(7), Text), Value::text("7"));
        assert_eq!(apply(Value::Real(1.5), Text), Value::text("1.5"));
        assert_eq!(apply(Value::Integer(7), Blob), Value::Integer(7));
        assert_eq!(apply(Value::text("7"), None), Value::text("7"));
    }
}
