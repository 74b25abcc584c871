//! Query results: [`Rows`] (all rows of a result, with column metadata) and
//! [`Row`] with typed getters (`row.get::<_, i64>(0)`, `row.get("name")`).

use std::sync::Arc;

use cairn_core::{Error, Result, Value};
use cairn_sql::Column;

/// The rows a query returned, with their columns.
#[derive(Debug, Clone)]
pub struct Rows {
    columns: Arc<[Column]>,
    rows: Vec<Vec<Value>>,
}

impl Rows {
    pub(crate) fn new(columns: Arc<[Column]>, rows: Vec<Vec<Value>>) -> Rows {
        Rows { columns, rows }
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|values| Row {
            columns: &self.columns,
            values,
        })
    }

    /// Maps every row with `f`, stopping at the first error.
    pub fn map<T>(&self, mut f: impl FnMut(&Row) -> Result<T>) -> Result<Vec<T>> {
        self.iter().map(|r| f(&r)).collect()
    }

    /// The raw values, row by row.
    pub fn into_values(self) -> Vec<Vec<Value>> {
        self.rows
    }
}

/// One row of a result.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    columns: &'a [Column],
    values: &'a [Value],
}

impl<'a> Row<'a> {
    /// The value of a column (by index or name), converted to `T`.
    pub fn get<T: FromValue>(&self, idx: impl RowIndex) -> Result<T> {
        let i = idx.index(self.columns)?;
        let v = self.values.get(i).ok_or_else(|| Error::Parameter {
            message: format!("column index {i} out of range"),
        })?;
        T::from_value(v)
    }

    pub fn get_value(&self, idx: impl RowIndex) -> Result<&'a Value> {
        let i = idx.index(self.columns)?;
        self.values.get(i).ok_or_else(|| Error::Parameter {
            message: format!("column index {i} out of range"),
        })
    }

    pub fn values(&self) -> &'a [Value] {
        self.values
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// A column position: `usize` or a column name.
pub trait RowIndex {
    fn index(&self, columns: &[Column]) -> Result<usize>;
}

impl RowIndex for usize {
    fn index(&self, columns: &[Column]) -> Result<usize> {
        if *self < columns.len() {
            Ok(*self)
        } else {
            Err(Error::Parameter {
                message: format!("column index {self} out of range (0..{})", columns.len()),
            })
        }
    }
}

impl RowIndex for &str {
    fn index(&self, columns: &[Column]) -> Result<usize> {
        columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(self))
            .ok_or_else(|| Error::no_such("column", *self))
    }
}

/// Conversion from a SQL value to a Rust type.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Result<Self>;
}

fn wrong(v: &Value, want: &str) -> Error {
    Error::type_err(format!("cannot read {} value {v} as {want}", v.type_name()))
}

impl FromValue for Value {
    fn from_value(v: &Value) -> Result<Self> {
        Ok(v.clone())
    }
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Integer(i) => Ok(*i),
            Value::Boolean(b) => Ok(*b as i64),
            Value::Timestamp(t) => Ok(*t),
            _ => Err(wrong(v, "i64")),
        }
    }
}

macro_rules! from_value_int {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> Result<Self> {
                let i = i64::from_value(v)?;
                <$t>::try_from(i).map_err(|_| wrong(v, stringify!($t)))
            }
        }
    )*};
}
from_value_int!(i32, i16, i8, u64, u32, u16, u8, usize);

impl FromValue for f64 {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Real(f) => Ok(*f),
            Value::Integer(i) => Ok(*i as f64),
            _ => Err(wrong(v, "f64")),
        }
    }
}

impl FromValue for f32 {
    fn from_value(v: &Value) -> Result<Self> {
        f64::from_value(v).map(|f| f as f32)
    }
}

impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Boolean(b) => Ok(*b),
            Value::Integer(i) => Ok(*i != 0),
            _ => Err(wrong(v, "bool")),
        }
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Text(s) | Value::Json(s) => Ok(s.to_string()),
            Value::Null => Err(wrong(v, "String")),
            other => Ok(other.to_text().unwrap_or_default()),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Blob(b) => Ok(b.to_vec()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            _ => Err(wrong(v, "Vec<u8>")),
        }
    }
}

/// A VECTOR or HALFVEC column (or its text form) as f32 elements.
impl FromValue for Vec<f32> {
    fn from_value(v: &Value) -> Result<Self> {
        match v.vector_arg()? {
            Some(elems) => Ok(elems.into_owned()),
            None => Err(Error::type_err("NULL cannot be read as a vector")),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}
