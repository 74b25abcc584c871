//! [`Value`] and [`DataType`]: the one representation of a SQL value that every
//! layer passes around, with its comparison, hashing, arithmetic and casts.
//!
//! Invariants: a `Real` is never NaN (operations that would produce NaN yield
//! NULL, as in SQLite); `Json` text is valid JSON; `Timestamp` is microseconds
//! since the Unix epoch, UTC.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::error::{Error, Result};

/// A row as stored and passed between operators.
pub type Row = Vec<Value>;

/// Declared type of a column or expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    Integer,
    Real,
    Text,
    Boolean,
    Blob,
    Timestamp,
    Json,
    /// `VECTOR(n)`: n f32 elements (0 = any dimension count).
    Vector(u32),
    /// `HALFVEC(n)`: n f16 elements (0 = any dimension count).
    HalfVec(u32),
    /// No declared type (an expression whose type is only known per value).
    Any,
}

impl DataType {
    /// Maps a declared SQL type name to a [`DataType`], accepting the usual
    /// aliases (`VARCHAR(n)`, `INT`, `BIGINT`, `DOUBLE`, `FLOAT`, `BOOL` ...),
    /// using SQLite's affinity rules for names it does not know.
    pub fn from_sql_name(name: &str) -> DataType {
        let upper = name.to_ascii_uppercase();
        let base = upper.split('(').next().unwrap_or("").trim();
        match base {
            "BOOLEAN" | "BOOL" => return DataType::Boolean,
            "TIMESTAMP"
            | "DATETIME"
            | "DATE"
            | "TIMESTAMPTZ"
            | "TIMESTAMP WITH TIME ZONE"
            | "TIMESTAMP WITHOUT TIME ZONE" => return DataType::Timestamp,
            "JSON" | "JSONB" => return DataType::Json,
            "VECTOR" => return DataType::Vector(declared_dims(&upper)),
            "HALFVEC" => return DataType::HalfVec(declared_dims(&upper)),
            "" => return DataType::Any,
            _ => {}
        }
        // SQLite affinity rules, in its order.
        if base.contains("INT") {
            DataType::Integer
        } else if base.contains("CHAR") || base.contains("CLOB") || base.contains("TEXT") {
            DataType::Text
        } else if base.contains("BLOB") || base == "BYTEA" {
            DataType::Blob
        } else if base.contains("REAL")
            || base.contains("FLOA")
            || base.contains("DOUB")
            || base.contains("NUMERIC")
            || base.contains("DECIMAL")
        {
            DataType::Real
        } else {
            DataType::Any
        }
    }

    /// Like [`DataType::from_sql_name`], but rejects declarations that name
    /// a known type with invalid parameters (`VECTOR(0)`, `VECTOR(x)`).
    pub fn parse_declared(name: &str) -> Result<DataType> {
        let ty = DataType::from_sql_name(name);
        if let DataType::Vector(_) | DataType::HalfVec(_) = ty {
            let upper = name.to_ascii_uppercase();
            if let Some(args) = upper.split_once('(').map(|(_, a)| a) {
                let digits = args.trim_end().trim_end_matches(')').trim();
                let dims: usize = digits.parse().map_err(|_| {
                    Error::type_err(format!("invalid dimension count in type {name}"))
                })?;
                crate::vector::check_declared_dims(dims)?;
            }
        }
        Ok(ty)
    }

    /// Required dimension count of a vector type (`None`: any, or not a vector).
    pub fn vector_dims(self) -> Option<usize> {
        match self {
            DataType::Vector(n) | DataType::HalfVec(n) if n > 0 => Some(n as usize),
            _ => None,
        }
    }

    pub fn is_vector(self) -> bool {
        matches!(self, DataType::Vector(_) | DataType::HalfVec(_))
    }

    pub fn name(self) -> &'static str {
        match self {
            DataType::Integer => "INTEGER",
            DataType::Real => "REAL",
            DataType::Text => "TEXT",
            DataType::Boolean => "BOOLEAN",
            DataType::Blob => "BLOB",
            DataType::Timestamp => "TIMESTAMP",
            DataType::Json => "JSON",
            DataType::Vector(_) => "VECTOR",
            DataType::HalfVec(_) => "HALFVEC",
            DataType::Any => "ANY",
        }
    }
}

/// `n` of `VECTOR(n)`, 0 when absent or unreadable (`parse_declared` rejects
/// the unreadable case).
fn declared_dims(upper: &str) -> u32 {
    upper
        .split_once('(')
        .and_then(|(_, a)| a.trim_end().trim_end_matches(')').trim().parse().ok())
        .unwrap_or(0)
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.vector_dims() {
            Some(n) => write!(f, "{}({n})", self.name()),
            None => f.write_str(self.name()),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub enum Value {
    #[default]
    Null,
    Boolean(bool),
    Integer(i64),
    Real(f64),
    Text(Arc<str>),
    Blob(Arc<[u8]>),
    /// Microseconds since 1970-01-01T00:00:00Z.
    Timestamp(i64),
    /// Valid JSON text.
    Json(Arc<str>),
    /// A dense f32 vector: 1..=VECTOR_DIMS_MAX finite elements.
    Vector(Arc<[f32]>),
    /// A dense f16 vector: 1..=VECTOR_DIMS_MAX finite elements.
    HalfVec(Arc<[half::f16]>),
}

impl Value {
    pub fn text(s: &str) -> Value {
        Value::Text(Arc::from(s))
    }

    /// A REAL, or NULL when `f` is NaN (SQLite's rule).
    pub fn real(f: f64) -> Value {
        if f.is_nan() {
            Value::Null
        } else {
            Value::Real(f)
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn data_type(&self) -> Option<DataType> {
        Some(match self {
            Value::Null => return None,
            Value::Boolean(_) => DataType::Boolean,
            Value::Integer(_) => DataType::Integer,
            Value::Real(_) => DataType::Real,
            Value::Text(_) => DataType::Text,
            Value::Blob(_) => DataType::Blob,
            Value::Timestamp(_) => DataType::Timestamp,
            Value::Json(_) => DataType::Json,
            Value::Vector(v) => DataType::Vector(v.len() as u32),
            Value::HalfVec(v) => DataType::HalfVec(v.len() as u32),
        })
    }

    /// SQLite's `typeof()` names.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Boolean(_) | Value::Integer(_) => "integer",
            Value::Real(_) => "real",
            Value::Text(_) | Value::Json(_) => "text",
            Value::Blob(_) => "blob",
            Value::Timestamp(_) => "timestamp",
            Value::Vector(_) => "vector",
            Value::HalfVec(_) => "halfvec",
        }
    }

    /// Storage class rank for the total order: NULL < numbers < text < blob.
    fn class_rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Boolean(_) | Value::Integer(_) | Value::Real(_) => 1,
            Value::Timestamp(_) => 2,
            Value::Text(_) | Value::Json(_) => 3,
            Value::Blob(_) => 4,
            Value::Vector(_) | Value::HalfVec(_) => 5,
        }
    }

    /// Total order used by ORDER BY, indexes, DISTINCT and grouping: NULL first,
    /// then numbers (compared by value across INTEGER/REAL/BOOLEAN), timestamps,
    /// text (bytewise, like SQLite's BINARY collation), blobs.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        use Value::*;
        match (self, other) {
            (Integer(a), Integer(b)) => a.cmp(b),
            // IEEE order: -0.0 equals 0.0 (SQLite). NaN is never stored.
            (Real(a), Real(b)) => a.partial_cmp(b).unwrap_or_else(|| a.total_cmp(b)),
            (Integer(a), Real(b)) => cmp_int_real(*a, *b),
            (Real(a), Integer(b)) => cmp_int_real(*b, *a).reverse(),
            (Boolean(a), _) if other.class_rank() == 1 => Integer(*a as i64).total_cmp(other),
            (_, Boolean(b)) if self.class_rank() == 1 => self.total_cmp(&Integer(*b as i64)),
            (Text(a) | Json(a), Text(b) | Json(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Blob(a), Blob(b)) => a.cmp(b),
            (Timestamp(a), Timestamp(b)) => a.cmp(b),
            (Vector(_) | HalfVec(_), Vector(_) | HalfVec(_)) => {
                // Element-wise, then by length (pgvector's btree order).
                let (a, b) = (self.vector_f32(), other.vector_f32());
                let (a, b) = (a.as_deref().unwrap_or(&[]), b.as_deref().unwrap_or(&[]));
                for (x, y) in a.iter().zip(b) {
                    match x.total_cmp(y) {
                        Ordering::Equal => {}
                        o => return o,
                    }
                }
                a.len().cmp(&b.len())
            }
            _ => self.class_rank().cmp(&other.class_rank()),
        }
    }

    /// SQL comparison: `None` when either side is NULL (the result is unknown).
    pub fn sql_cmp(&self, other: &Value) -> Option<Ordering> {
        if self.is_null() || other.is_null() {
            return None;
        }
        Some(self.total_cmp(other))
    }

    /// SQL equality with three-valued logic.
    pub fn sql_eq(&self, other: &Value) -> Option<bool> {
        self.sql_cmp(other).map(|o| o == Ordering::Equal)
    }

    /// Truth value of a condition: NULL is unknown (`None`), numbers are true
    /// when non-zero, text is converted to a number first (SQLite's rule).
    pub fn truth(&self) -> Option<bool> {
        match self {
            Value::Null => None,
            Value::Boolean(b) => Some(*b),
            Value::Integer(i) => Some(*i != 0),
            Value::Real(f) => Some(*f != 0.0),
            Value::Text(s) | Value::Json(s) => Some(match parse_numeric_prefix(s) {
                Numeric::Int(i) => i != 0,
                Numeric::Real(f) => f != 0.0,
            }),
            Value::Blob(_) | Value::Vector(_) | Value::HalfVec(_) => Some(false),
            Value::Timestamp(t) => Some(*t != 0),
        }
    }

    /// Numeric view for arithmetic: integers stay integers; text is parsed by
    /// its longest numeric prefix (SQLite), other text is 0.
    pub fn to_numeric(&self) -> Option<Numeric> {
        match self {
            Value::Null => None,
            Value::Boolean(b) => Some(Numeric::Int(*b as i64)),
            Value::Integer(i) => Some(Numeric::Int(*i)),
            Value::Real(f) => Some(Numeric::Real(*f)),
            Value::Text(s) | Value::Json(s) => Some(parse_numeric_prefix(s)),
            Value::Blob(b) => Some(parse_numeric_prefix(&String::from_utf8_lossy(b))),
            Value::Timestamp(t) => Some(Numeric::Int(*t)),
            Value::Vector(_) | Value::HalfVec(_) => None,
        }
    }

    /// The elements of a VECTOR or HALFVEC value as f32 (borrowed for
    /// VECTOR), `None` for other values.
    pub fn vector_f32(&self) -> Option<std::borrow::Cow<'_, [f32]>> {
        match self {
            Value::Vector(v) => Some(std::borrow::Cow::Borrowed(v)),
            Value::HalfVec(v) => Some(std::borrow::Cow::Owned(crate::vector::from_half(v))),
            _ => None,
        }
    }

    pub fn is_vector(&self) -> bool {
        matches!(self, Value::Vector(_) | Value::HalfVec(_))
    }

    /// A validated VECTOR value (finite elements, 1 to
    /// [`crate::vector::VECTOR_DIMS_MAX`] of them).
    pub fn vector(v: Vec<f32>) -> Result<Value, crate::vector::VectorError> {
        crate::vector::validate(&v)?;
        Ok(Value::Vector(std::sync::Arc::from(v)))
    }

    /// This value read as a vector argument: a VECTOR/HALFVEC value or its
    /// text form; `None` for NULL; a type error for anything else.
    pub fn vector_arg(&self) -> Result<Option<std::borrow::Cow<'_, [f32]>>> {
        match self {
            Value::Null => Ok(None),
            Value::Vector(_) | Value::HalfVec(_) => Ok(self.vector_f32()),
            Value::Text(s) => Ok(Some(std::borrow::Cow::Owned(crate::vector::parse(s)?))),
            other => Err(Error::type_err(format!(
                "expected a vector, got {} value",
                other.type_name()
            ))),
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self.to_numeric()? {
            Numeric::Int(i) => Some(i),
            Numeric::Real(f) => Some(real_to_i64(f)),
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        self.to_numeric().map(Numeric::as_f64)
    }

    /// Text form used by `||`, CAST AS TEXT, text functions and text-typed
    /// output. (Display differs for booleans, which it shows as
    /// true/false, and blobs.)
    pub fn to_text(&self) -> Option<String> {
        Some(match self {
            Value::Null => return None,
            // A boolean is the integer 1 or 0 to every SQL operation
            // (SQLite's rule); only Display shows it as true/false.
            Value::Boolean(b) => (if *b { "1" } else { "0" }).to_string(),
            Value::Integer(i) => i.to_string(),
            Value::Real(f) => format_real(*f),
            Value::Text(s) | Value::Json(s) => s.to_string(),
            Value::Blob(b) => String::from_utf8_lossy(b).into_owned(),
            Value::Timestamp(t) => crate::timestamp::format_timestamp(*t),
            Value::Vector(v) => crate::vector::format(v),
            Value::HalfVec(v) => crate::vector::format_half(v),
        })
    }

    /// CAST(self AS ty). Casts never fail for numeric/text targets (SQLite
    /// semantics: unparseable text becomes 0); JSON and TIMESTAMP casts fail
    /// with a type error on invalid input.
    pub fn cast(&self, ty: DataType) -> Result<Value> {
        if self.is_null() {
            return Ok(Value::Null);
        }
        Ok(match ty {
            DataType::Any => self.clone(),
            DataType::Vector(_) | DataType::HalfVec(_) => self.to_vector_type(ty)?,
            DataType::Integer => match self {
                Value::Text(s) | Value::Json(s) => Value::Integer(text_to_int(s)),
                _ => match self.to_numeric() {
                    Some(Numeric::Int(i)) => Value::Integer(i),
                    Some(Numeric::Real(f)) => Value::Integer(real_to_i64(f)),
                    None => Value::Null,
                },
            },
            DataType::Real => Value::real(self.as_f64().unwrap_or(0.0)),
            DataType::Text => match self {
                Value::Text(_) => self.clone(),
                _ => Value::Text(Arc::from(self.to_text().unwrap_or_default())),
            },
            DataType::Boolean => match self {
                Value::Text(s) => match parse_bool(s) {
                    Some(b) => Value::Boolean(b),
                    None => Value::Boolean(self.truth().unwrap_or(false)),
                },
                _ => Value::Boolean(self.truth().unwrap_or(false)),
            },
            DataType::Blob => match self {
                Value::Blob(_) => self.clone(),
                _ => Value::Blob(Arc::from(self.to_text().unwrap_or_default().into_bytes())),
            },
            DataType::Timestamp => match self {
                Value::Timestamp(_) => self.clone(),
                Value::Text(s) => {
                    Value::Timestamp(crate::timestamp::parse_timestamp(s).ok_or_else(|| {
                        Error::type_err(format!("cannot cast '{s}' to TIMESTAMP"))
                    })?)
                }
                Value::Integer(i) => Value::Timestamp(i.saturating_mul(1_000_000)),
                Value::Real(f) => Value::Timestamp((*f * 1e6) as i64),
                other => {
                    return Err(Error::type_err(format!(
                        "cannot cast {} to TIMESTAMP",
                        other.type_name()
                    )))
                }
            },
            DataType::Json => match self {
                Value::Json(_) => self.clone(),
                Value::Text(s) => {
                    if serde_json::from_str::<serde_json::Value>(s).is_err() {
                        return Err(Error::type_err(format!("invalid JSON text: {s}")));
                    }
                    Value::Json(s.clone())
                }
                Value::Integer(i) => Value::Json(Arc::from(i.to_string())),
                Value::Real(f) if f.is_finite() => Value::Json(Arc::from(format_real(*f))),
                Value::Real(f) => {
                    return Err(Error::type_err(format!(
                        "{} has no JSON representation",
                        format_real(*f)
                    )))
                }
                Value::Boolean(b) => Value::Json(Arc::from(b.to_string())),
                other => {
                    return Err(Error::type_err(format!(
                        "cannot cast {} to JSON",
                        other.type_name()
                    )))
                }
            },
        })
    }

    /// Converts a value for storage in a column of type `ty` (column
    /// affinity). Lossless numeric conversions are applied; a value that
    /// cannot be represented is a type error naming the column.
    pub fn coerce_to_column(self, ty: DataType, column: &str) -> Result<Value> {
        let mismatch = |v: &Value| {
            Error::type_err(format!(
                "column {column} is {ty}, got {} value {}",
                v.type_name(),
                v.to_text().unwrap_or_default()
            ))
        };
        Ok(match (ty, self) {
            (_, Value::Null) => Value::Null,
            (DataType::Any, v) => v,
            (DataType::Integer, Value::Integer(i)) => Value::Integer(i),
            (DataType::Integer, Value::Boolean(b)) => Value::Integer(b as i64),
            (DataType::Integer, Value::Real(f)) => {
                if f.fract() == 0.0 && f.abs() < 9.2e18 {
                    Value::Integer(f as i64)
                } else {
                    Value::Real(f)
                }
            }
            (DataType::Integer | DataType::Real, Value::Text(s)) => match parse_exact_number(&s) {
                Some(Numeric::Int(i)) if ty == DataType::Integer => Value::Integer(i),
                // '5.0' reads as 5, the same as the REAL 5.0 would.
                Some(n) if ty == DataType::Integer => {
                    return Value::real(n.as_f64()).coerce_to_column(ty, column)
                }
                Some(n) => Value::real(n.as_f64()),
                None => return Err(mismatch(&Value::Text(s))),
            },
            (DataType::Real, Value::Integer(i)) => Value::Real(i as f64),
            (DataType::Real, Value::Real(f)) => Value::Real(f),
            (DataType::Real, Value::Boolean(b)) => Value::Real(b as i64 as f64),
            (DataType::Text, Value::Text(s)) => Value::Text(s),
            (DataType::Text, v @ (Value::Integer(_) | Value::Real(_) | Value::Json(_))) => {
                Value::Text(Arc::from(v.to_text().unwrap_or_default()))
            }
            (DataType::Text, v @ (Value::Boolean(_) | Value::Timestamp(_))) => {
                Value::Text(Arc::from(v.to_text().unwrap_or_default()))
            }
            (DataType::Boolean, Value::Boolean(b)) => Value::Boolean(b),
            (DataType::Boolean, Value::Integer(i)) if i == 0 || i == 1 => Value::Boolean(i == 1),
            (DataType::Boolean, Value::Text(s)) => match parse_bool(&s) {
                Some(b) => Value::Boolean(b),
                None => return Err(mismatch(&Value::Text(s))),
            },
            (DataType::Blob, Value::Blob(b)) => Value::Blob(b),
            (DataType::Blob, Value::Text(s)) => Value::Blob(Arc::from(s.as_bytes())),
            (DataType::Timestamp, v @ (Value::Timestamp(_) | Value::Text(_))) => {
                v.cast(DataType::Timestamp)?
            }
            (DataType::Json, v) => v.cast(DataType::Json)?,
            (
                DataType::Vector(_) | DataType::HalfVec(_),
                v @ (Value::Text(_) | Value::Json(_) | Value::Vector(_) | Value::HalfVec(_)),
            ) => v.to_vector_type(ty)?,
            (_, v) => return Err(mismatch(&v)),
        })
    }
}

impl Value {
    /// Converts text or a vector into the vector type `ty`, checking its
    /// dimension count and element range.
    fn to_vector_type(&self, ty: DataType) -> Result<Value> {
        let elems: std::borrow::Cow<'_, [f32]> = match self {
            // A JSON array of numbers reads as a vector (`json('[1,2]')`).
            Value::Text(s) | Value::Json(s) => std::borrow::Cow::Owned(crate::vector::parse(s)?),
            Value::Vector(_) | Value::HalfVec(_) => self
                .vector_f32()
                .ok_or_else(|| Error::internal("vector without elements"))?,
            other => {
                return Err(Error::type_err(format!(
                    "cannot cast {} to {ty}",
                    other.type_name()
                )))
            }
        };
        crate::vector::validate(&elems)?;
        if let Some(expected) = ty.vector_dims() {
            if elems.len() != expected {
                return Err(crate::vector::VectorError::DimsMismatch {
                    expected,
                    got: elems.len(),
                }
                .into());
            }
        }
        Ok(match (ty, self) {
            (DataType::Vector(_), Value::Vector(_)) | (DataType::HalfVec(_), Value::HalfVec(_)) => {
                self.clone()
            }
            (DataType::HalfVec(_), _) => Value::HalfVec(Arc::from(crate::vector::to_half(&elems)?)),
            _ => Value::Vector(Arc::from(elems.into_owned())),
        })
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// 2^63 as f64: the first float above every i64 (exactly representable).
const TWO_POW_63: f64 = 9_223_372_036_854_775_808u64 as f64;

fn cmp_int_real(i: i64, f: f64) -> Ordering {
    // Exact comparison of an i64 with an f64, without the rounding of `i as f64`.
    if f.is_nan() {
        return Ordering::Less;
    }
    if f >= TWO_POW_63 {
        return Ordering::Less;
    }
    if f < -TWO_POW_63 {
        return Ordering::Greater;
    }
    let t = f.trunc();
    let ti = t as i64;
    match i.cmp(&ti) {
        Ordering::Equal => {
            if f > t {
                Ordering::Less
            } else if f < t {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        o => o,
    }
}

/// f64 → i64 the way SQLite's CAST does: truncate toward zero, saturate.
pub fn real_to_i64(f: f64) -> i64 {
    if f.is_nan() {
        0
    } else if f >= TWO_POW_63 {
        i64::MAX
    } else if f <= -TWO_POW_63 {
        i64::MIN
    } else {
        f as i64
    }
}

/// A number from arithmetic: integer until it must be real.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Numeric {
    Int(i64),
    Real(f64),
}

impl Numeric {
    pub fn as_f64(self) -> f64 {
        match self {
            Numeric::Int(i) => i as f64,
            Numeric::Real(f) => f,
        }
    }
    pub fn into_value(self) -> Value {
        match self {
            Numeric::Int(i) => Value::Integer(i),
            Numeric::Real(f) => Value::real(f),
        }
    }
}

/// The longest numeric prefix of `s` (after leading spaces), SQLite style:
/// "12abc" → 12, "1.5e3x" → 1500.0, "abc" → 0.
pub fn parse_numeric_prefix(s: &str) -> Numeric {
    let t = s.trim_start();
    let b = t.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_end = i;
    let mut is_real = false;
    if i < b.len() && b[i] == b'.' {
        let mut j = i + 1;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > i + 1 || int_end > digits_start {
            is_real = true;
            i = j;
        }
    }
    if int_end == digits_start && !is_real {
        return Numeric::Int(0);
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let exp_start = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > exp_start {
            is_real = true;
            i = j;
        }
    }
    let num = &t[..i];
    if !is_real {
        if let Ok(v) = num.parse::<i64>() {
            return Numeric::Int(v);
        }
    }
    Numeric::Real(num.parse::<f64>().unwrap_or(0.0))
}

/// CAST(text AS INTEGER): the longest prefix that reads as an integer,
/// after leading spaces ("1.9" → 1, "1e5" → 1, "12abc" → 12, "abc" → 0);
/// beyond i64's range it saturates (SQLite 3.50).
pub fn text_to_int(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut v: i128 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        v = (v * 10 + i128::from(b - b'0')).min(i128::from(i64::MAX) + 1);
    }
    let v = if neg { -v } else { v };
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// The whole of `s` (trimmed) as a number, or `None` if it is not one.
pub fn parse_exact_number(s: &str) -> Option<Numeric> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(i) = t.parse::<i64>() {
        return Some(Numeric::Int(i));
    }
    let ok = t
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !ok {
        return None;
    }
    t.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Numeric::Real)
}

/// Formats a REAL like SQLite (`%!.15g`): "1.0", "0.1", "1.5e+20".
pub fn format_real(f: f64) -> String {
    if f.is_infinite() {
        return if f > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    if f == 0.0 {
        return "0.0".into();
    }
    // The decimal exponent after rounding to 15 significant digits
    // (9999999999.99999 keeps exponent 9; 99999999999999.99 becomes 1e14).
    let sci = format!("{:.14e}", f);
    let (mant, e) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = e.parse().unwrap_or(0);
    if !(-4..15).contains(&exp) {
        let mant = trim_zeros(mant);
        let mant = if mant.contains('.') {
            mant
        } else {
            format!("{mant}.0")
        };
        return format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    let decimals = (14 - exp).max(0) as usize;
    let s = format!("{:.*}", decimals, f);
    let s = trim_zeros(&s);
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        let t = s.trim_end_matches('0');
        let t = t.strip_suffix('.').unwrap_or(t);
        t.to_string()
    } else {
        s.to_string()
    }
}

impl PartialEq for Value {
    /// Grouping equality: NULL equals NULL, 1 equals 1.0 (used by DISTINCT,
    /// GROUP BY, set operations). For SQL `=` use [`Value::sql_eq`].
    fn eq(&self, other: &Value) -> bool {
        self.total_cmp(other) == Ordering::Equal
    }
}
impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        self.total_cmp(other)
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Consistent with `eq`: numbers that compare equal hash equal.
        match self {
            Value::Null => 0u8.hash(state),
            Value::Boolean(b) => hash_number(*b as i64 as f64, Some(*b as i64), state),
            Value::Integer(i) => hash_number(*i as f64, Some(*i), state),
            Value::Real(f) => hash_number(*f, None, state),
            Value::Text(s) | Value::Json(s) => {
                3u8.hash(state);
                s.as_bytes().hash(state)
            }
            Value::Blob(b) => {
                4u8.hash(state);
                b.hash(state)
            }
            Value::Timestamp(t) => {
                2u8.hash(state);
                t.hash(state)
            }
            Value::Vector(_) | Value::HalfVec(_) => {
                5u8.hash(state);
                if let Some(v) = self.vector_f32() {
                    for x in v.iter() {
                        x.to_bits().hash(state);
                    }
                }
            }
        }
    }
}

fn hash_number<H: Hasher>(f: f64, int: Option<i64>, state: &mut H) {
    1u8.hash(state);
    match int {
        Some(i) => i.hash(state),
        None => {
            // Integral reals in i64's range hash like the integer they
            // equal (-0.0 like 0).
            if f.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&f) {
                (f as i64).hash(state)
            } else {
                f.to_bits().hash(state)
            }
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Boolean(b) => f.write_str(if *b { "true" } else { "false" }),
            Value::Blob(b) => {
                f.write_str("x'")?;
                for byte in b.iter() {
                    write!(f, "{byte:02x}")?;
                }
                f.write_str("'")
            }
            other => f.write_str(&other.to_text().unwrap_or_default()),
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value { Value::Integer(v as i64) }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::real(v)
    }
}
impl From<f32> for Value {
    fn from(v: f32) -> Value {
        Value::real(v as f64)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Boolean(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::text(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(Arc::from(v))
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::text(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Blob(Arc::from(v))
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Value {
        Value::Blob(Arc::from(v))
    }
}
/// A VECTOR value. Elements are checked where the value is used (a NaN or
/// infinite element is an error there, never stored).
impl From<Vec<f32>> for Value {
    fn from(v: Vec<f32>) -> Value {
        Value::Vector(Arc::from(v))
    }
}
impl From<&[f32]> for Value {
    fn from(v: &[f32]) -> Value {
        Value::Vector(Arc::from(v))
    }
}
impl<const N: usize> From<[f32; N]> for Value {
    fn from(v: [f32; N]) -> Value {
        Value::Vector(Arc::from(&v[..]))
    }
}
impl From<&Vec<f32>> for Value {
    fn from(v: &Vec<f32>) -> Value {
        Value::Vector(Arc::from(&v[..]))
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_formatting_matches_sqlite() {
        assert_eq!(format_real(1.0), "1.0");
        assert_eq!(format_real(0.1), "0.1");
        assert_eq!(format_real(-2.5), "-2.5");
        assert_eq!(format_real(1e20), "1.0e+20");
        assert_eq!(format_real(123456.789), "123456.789");
    }

    #[test]
    fn numeric_prefix() {
        assert_eq!(parse_numeric_prefix("12abc"), Numeric::Int(12));
        assert_eq!(parse_numeric_prefix(" 1.5e3x"), Numeric::Real(1500.0));
        assert_eq!(parse_numeric_prefix("abc"), Numeric::Int(0));
        assert_eq!(parse_numeric_prefix("-7"), Numeric::Int(-7));
    }

    #[test]
    fn cross_type_order_and_hash() {
        use std::collections::hash_map::DefaultHasher;
        let h = |v: &Value| {
            let mut s = DefaultHasher::new();
            v.hash(&mut s);
            s.finish()
        };
        assert_eq!(Value::Integer(1), Value::Real(1.0));
        assert_eq!(h(&Value::Integer(1)), h(&Value::Real(1.0)));
        assert!(Value::Integer(2) > Value::Real(1.5));
        assert!(Value::Null < Value::Integer(i64::MIN));
        assert!(Value::Integer(i64::MAX) < Value::text(""));
        assert_eq!(cmp_int_real(i64::MAX, TWO_POW_63), Ordering::Less);
    }

    #[test]
    fn column_coercion() {
        assert_eq!(
            Value::Integer(3).coerce_to_column(DataType::Real, "c").ok(),
            Some(Value::Real(3.0))
        );
        assert_eq!(
            Value::text("12")
                .coerce_to_column(DataType::Integer, "c")
                .ok(),
            Some(Value::Integer(12))
        );
        assert!(Value::text("x")
            .coerce_to_column(DataType::Integer, "c")
            .is_err());
        assert_eq!(
            Value::Integer(5).coerce_to_column(DataType::Text, "c").ok(),
            Some(Value::text("5"))
        );
    }
}
