//! Query results: [`Rows`] (a cursor: column metadata, then rows as they
//! are pulled), [`RowSet`] (a whole result in memory) and
//! [`Row`] with typed getters (`row.get::<i64>(0)`, `row.get("name")`).

use std::sync::Arc;

use cairn_core::{Error, Result, Value};
use cairn_sql::Column;

/// The rows a query returned, with their columns.
/// A query's rows, pulled one at a time with [`Rows::next`]; the columns
/// are known before the first row.
///
/// A query that is a table or index range scan under filters,
/// projections and `LIMIT`/`OFFSET` streams: each pull reads just far enough into the
/// table, so `LIMIT 1` over a million rows reads a handful and a full scan
/// keeps one small batch in memory. Other queries are computed in full
/// when they are opened. Either way the rows come from one snapshot, taken
/// when the query ran; the connection stays usable while `Rows` is open.
///
/// ```
/// # use cairn::{params, Database};
/// let db = Database::open_in_memory()?;
/// db.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3)")?;
/// let mut rows = db.query("SELECT x FROM t WHERE x > ?", params![1])?;
/// assert_eq!(rows.column_names(), ["x"]);
/// let mut sum = 0;
/// while let Some(row) = rows.next()? {
///     sum += row.get::<i64>(0)?;
/// }
/// assert_eq!(sum, 5);
/// # Ok::<(), cairn::Error>(())
/// ```
#[derive(Debug)]
pub struct Rows {
    columns: Arc<[Column]>,
    cursor: cairn_sql::Cursor,
    /// The row last pulled (its allocation reused for the next one).
    current: Vec<Value>,
}

impl Rows {
    pub(crate) fn new(cursor: cairn_sql::Cursor) -> Rows {
        Rows {
            columns: cursor.columns().clone(),
            cursor,
            current: Vec::new(),
        }
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// The next row, or `None` after the last.
    #[allow(clippy::should_implement_trait)] // a lending cursor: rows borrow it
    pub fn next(&mut self) -> Result<Option<Row<'_>>> {
        let more = self.cursor.next_row_into(&mut self.current)?;
        if !more {
            self.current.clear();
        }
        Ok(more.then(|| Row {
            columns: &self.columns,
            values: &self.current,
        }))
    }

    /// Whether rows are produced as they are pulled (rather than computed
    /// in full when the query ran).
    pub fn is_streaming(&self) -> bool {
        self.cursor.is_streaming()
    }

    /// For a streaming result, how many table rows have been read so far
    /// (visible rows, before filters); `None` when the result was computed
    /// in full when the query ran.
    pub fn rows_scanned(&self) -> Option<u64> {
        self.cursor.rows_scanned()
    }

    /// Maps every remaining row with `f`, stopping at the first error.
    pub fn map<T>(mut self, mut f: impl FnMut(&Row) -> Result<T>) -> Result<Vec<T>> {
        let mut out = Vec::new();
        while let Some(row) = self.next()? {
            out.push(f(&row)?);
        }
        Ok(out)
    }

    /// Every remaining row's values.
    pub fn into_values(self) -> Result<Vec<Vec<Value>>> {
        self.cursor.collect_rows()
    }

    /// Every remaining row, in memory, with the columns.
    pub fn fetch_all(self) -> Result<RowSet> {
        let columns = self.columns.clone();
        Ok(RowSet::new(columns, self.into_values()?))
    }
}

/// A whole result in memory: its columns and every row.
#[derive(Debug, Clone)]
pub struct RowSet {
    columns: Arc<[Column]>,
    rows: Vec<Vec<Value>>,
}

impl RowSet {
    pub(crate) fn new(columns: Arc<[Column]>, rows: Vec<Vec<Value>>) -> RowSet {
        RowSet { columns, rows }
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
