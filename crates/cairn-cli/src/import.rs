//! `.import`: reads a CSV file (first row = column names; any one-byte
//! delimiter) or a JSON-lines file (one object per line), infers a type per
//! column (`VECTOR(n)` for a column of same-length number arrays), creates
//! the table if it does not exist, and inserts every row with one prepared
//! INSERT inside a single transaction: all rows or none.

use std::io::BufRead;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{anyhow, bail, Context, Result};
use cairn::{Database, Value};

use crate::dot::{FileFormat, ImportOptions};

/// Rows between two calls of the progress callback.
pub const PROGRESS_ROWS: usize = 10_000;

/// One field as read from the file, before its column's type is known.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Null,
    /// A number, as written in the file.
    Number(String),
    Bool(bool),
    /// A string (a CSV field that is not a number, or a JSON string).
    Text(String),
    /// A JSON object or array, as JSON text.
    Nested(String),
}

/// The inferred type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Integer,
    Real,
    Boolean,
    /// Every value is a JSON array of this many finite numbers.
    Vector(usize),
    Json,
    Text,
}

impl ColumnType {
    pub fn sql_name(self) -> String {
        match self {
            ColumnType::Integer => "INTEGER".into(),
            ColumnType::Real => "REAL".into(),
            ColumnType::Boolean => "BOOLEAN".into(),
            ColumnType::Vector(n) => format!("VECTOR({n})"),
            ColumnType::Json => "JSON".into(),
            ColumnType::Text => "TEXT".into(),
        }
    }
}

/// The contents of an import file.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Field>>,
}

/// What an import reports while it runs, and how it is stopped.
pub struct Progress<'a> {
    /// Called with the rows inserted so far, every [`PROGRESS_ROWS`] rows.
    pub report: &'a mut dyn FnMut(usize),
    /// Set by Ctrl-C: the import stops and inserts nothing.
    pub interrupted: &'a AtomicBool,
}

/// Reads and imports `path` into `table`; returns the number of rows.
pub fn import(
    db: &Database,
    path: &Path,
    table: &str,
    options: ImportOptions,
    progress: Progress<'_>,
) -> Result<usize> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader = std::io::BufReader::new(file);
    let data = match options.format {
        FileFormat::Csv => read_csv(reader, options.delimiter),
        FileFormat::JsonLines => read_json_lines(reader),
    }
    .with_context(|| format!("cannot read {}", path.display()))?;
    if data.columns.is_empty() {
        bail!("{} has no columns", path.display());
    }
    let types = infer_types(&data);
    let exists = db
        .table_names()
        .iter()
        .any(|t| t.eq_ignore_ascii_case(table));
    if !exists {
        db.execute(&create_table_sql(table, &data.columns, &types), &[])?;
    }
    let result = insert_rows(db, table, &data, &types, progress);
    if result.is_err() && !exists {
        // Do not leave a half-made table behind; the insert error is the
        // one worth reporting.
        let _ = db.execute(&format!("DROP TABLE {}", quote_ident(table)), &[]);
    }
    result
}

fn insert_rows(
    db: &Database,
    table: &str,
    data: &Data,
    types: &[ColumnType],
    progress: Progress<'_>,
) -> Result<usize> {
    let tx = db.transaction()?;
    let mut stmt = tx.prepare(&insert_sql(table, &data.columns))?;
    for (i, row) in data.rows.iter().enumerate() {
        if progress.interrupted.load(Ordering::Relaxed) {
            bail!("interrupted after {i} rows; nothing was imported");
        }
        if i > 0 && i % PROGRESS_ROWS == 0 {
            (progress.report)(i);
        }
        let params: Vec<Value> = row
            .iter()
            .zip(types)
            .map(|(f, t)| to_value(f, *t))
            .collect::<Result<_>>()
            .with_context(|| format!("record {}", i + 1))?;
        stmt.execute(&params)
            .with_context(|| format!("record {}", i + 1))?;
    }
    drop(stmt);
    tx.commit()?;
    Ok(data.rows.len())
}

/// Reads CSV with a header row, fields separated by `delimiter`. Empty
/// fields are NULL.
pub fn read_csv(reader: impl std::io::Read, delimiter: u8) -> Result<Data> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .delimiter(delimiter)
        .from_reader(reader);
    let headers: Vec<String> = r.headers()?.iter().map(str::to_string).collect();
    let columns = unique_names(headers);
    let mut rows = Vec::new();
    for record in r.records() {
        let record = record?;
        rows.push(record.iter().map(csv_field).collect());
    }
    Ok(Data { columns, rows })
}

fn csv_field(s: &str) -> Field {
    if s.is_empty() {
        Field::Null
    } else if is_number(s) {
        Field::Number(s.to_string())
    } else if s.starts_with('[') && number_array(s).is_some() {
        // `[0.1,0.2]`: a vector, as JSON lines write it.
        Field::Nested(s.to_string())
    } else {
        Field::Text(s.to_string())
    }
}

/// True for integers written canonically (no leading zeros or `+`) and for
/// finite decimal numbers like `1.5`, `-0.25`, `2e10`.
fn is_number(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let leading_zero = digits.len() > 1 && digits.starts_with('0') && !digits[1..].starts_with('.');
    if leading_zero || digits.is_empty() || !digits.as_bytes()[0].is_ascii_digit() {
        return false;
    }
    if s.parse::<i64>().is_ok() {
        return true;
    }
    s.bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
        && s.parse::<f64>().is_ok_and(f64::is_finite)
}

/// Reads JSON lines: one object per non-blank line. Columns are the keys in
/// order of first appearance; a key missing from a line is NULL.
pub fn read_json_lines(reader: impl BufRead) -> Result<Data> {
    let mut columns: Vec<String> = Vec::new();
    let mut objects = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(&line).with_context(|| format!("line {}", n + 1))?;
        let serde_json::Value::Object(map) = value else {
            bail!("line {}: expected a JSON object", n + 1);
        };
        for key in object_keys(&line) {
            if !columns.contains(&key) {
                columns.push(key);
            }
        }
        objects.push(map);
    }
    let rows = objects
        .iter()
        .map(|obj| {
            columns
                .iter()
                .map(|c| obj.get(c).map_or(Field::Null, json_field))
                .collect()
        })
        .collect();
    Ok(Data { columns, rows })
}

fn json_field(v: &serde_json::Value) -> Field {
    use serde_json::Value as J;
    match v {
        J::Null => Field::Null,
        J::Bool(b) => Field::Bool(*b),
        J::Number(n) => Field::Number(n.to_string()),
        J::String(s) => Field::Text(s.clone()),
        J::Array(_) | J::Object(_) => Field::Nested(v.to_string()),
    }
}

/// The keys of the top-level JSON object in `text`, in the order written
/// (serde_json's map sorts them). `text` must be valid JSON.
fn object_keys(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut keys = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                let end = (i + 1).min(b.len());
                let next = b[end..].iter().find(|c| !c.is_ascii_whitespace());
                if depth == 1 && next == Some(&b':') {
                    if let Ok(key) = serde_json::from_str::<String>(&text[start..end]) {
                        keys.push(key);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    keys
}

/// Gives empty names a `columnN` name and makes duplicates unique.
fn unique_names(names: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for (i, name) in names.into_iter().enumerate() {
        let base = if name.trim().is_empty() {
            format!("column{}", i + 1)
        } else {
            name
        };
        let mut candidate = base.clone();
        let mut n = 2;
        while out.iter().any(|o| o.eq_ignore_ascii_case(&candidate)) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        out.push(candidate);
    }
    out
}

/// The elements of a JSON array of finite numbers (`None` for anything
/// else, and for an empty array).
fn number_array(json: &str) -> Option<Vec<f32>> {
    let serde_json::Value::Array(items) = serde_json::from_str(json).ok()? else {
        return None;
    };
    let elems: Vec<f32> = items
        .iter()
        .map(|x| x.as_f64().map(|f| f as f32).filter(|f| f.is_finite()))
        .collect::<Option<_>>()?;
    (!elems.is_empty()).then_some(elems)
}

/// One type per column: INTEGER if every non-NULL field is an integer,
/// REAL if every one is a number, VECTOR(n) if every one is an array of n
/// numbers, BOOLEAN/JSON if every one is a boolean/nested value, TEXT
/// otherwise (and for columns with only NULLs).
pub fn infer_types(data: &Data) -> Vec<ColumnType> {
    (0..data.columns.len())
        .map(|c| {
            let mut ty: Option<ColumnType> = None;
            for field in data.rows.iter().filter_map(|r| r.get(c)) {
                let this = match field {
                    Field::Null => continue,
                    Field::Number(s) if s.parse::<i64>().is_ok() => ColumnType::Integer,
                    Field::Number(_) => ColumnType::Real,
                    Field::Bool(_) => ColumnType::Boolean,
                    Field::Nested(s) => match number_array(s) {
                        Some(v) if ty.is_none() || ty == Some(ColumnType::Vector(v.len())) => {
                            ColumnType::Vector(v.len())
                        }
                        _ => ColumnType::Json,
                    },
                    Field::Text(_) => ColumnType::Text,
                };
                ty = Some(match (ty, this) {
                    (None, t) => t,
                    (Some(a), b) if a == b => a,
                    (Some(ColumnType::Integer), ColumnType::Real)
                    | (Some(ColumnType::Real), ColumnType::Integer) => ColumnType::Real,
                    (Some(ColumnType::Vector(_)), ColumnType::Json)
                    | (Some(ColumnType::Json), ColumnType::Vector(_)) => ColumnType::Json,
                    _ => ColumnType::Text,
                });
            }
            ty.unwrap_or(ColumnType::Text)
        })
        .collect()
}

/// A field as a parameter for a column of type `ty`.
pub fn to_value(f: &Field, ty: ColumnType) -> Result<Value> {
    Ok(match (f, ty) {
        (Field::Null, _) => Value::Null,
        (Field::Number(s), ColumnType::Integer) => {
            Value::Integer(s.parse().map_err(|_| anyhow!("{s} is not an integer"))?)
        }
        (Field::Number(s), ColumnType::Real) => {
            Value::real(s.parse().map_err(|_| anyhow!("{s} is not a number"))?)
        }
        (Field::Bool(b), ColumnType::Boolean) => Value::Boolean(*b),
        (Field::Nested(s), ColumnType::Json) => Value::Json(s.as_str().into()),
        (Field::Nested(s), ColumnType::Vector(_)) => match number_array(s) {
            Some(v) => Value::Vector(v.into()),
            None => bail!("{s} is not an array of numbers"),
        },
        (Field::Number(s) | Field::Text(s) | Field::Nested(s), _) => Value::text(s),
        (Field::Bool(b), _) => Value::text(if *b { "true" } else { "false" }),
    })
}

/// `"name"` with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub fn create_table_sql(table: &str, columns: &[String], types: &[ColumnType]) -> String {
    let cols: Vec<String> = columns
        .iter()
        .zip(types)
        .map(|(c, t)| format!("{} {}", quote_ident(c), t.sql_name()))
        .collect();
    format!("CREATE TABLE {} ({})", quote_ident(table), cols.join(", "))
}

pub fn insert_sql(table: &str, columns: &[String]) -> String {
    let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let params: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        quote_ident(table),
        cols.join(", "),
        params.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Field {
        Field::Text(s.into())
    }
    fn num(s: &str) -> Field {
        Field::Number(s.into())
    }

    #[test]
    fn reads_csv_with_header() -> Result<()> {
        let data = read_csv(
            "id,name,score,zip\n1,ada,1.5,01234\n2,\"b, c\",,02139\n".as_bytes(),
            b',',
        )?;
        assert_eq!(data.columns, vec!["id", "name", "score", "zip"]);
        assert_eq!(
            data.rows,
            vec![
                vec![num("1"), text("ada"), num("1.5"), text("01234")],
                vec![num("2"), text("b, c"), Field::Null, text("02139")],
            ]
        );
        assert_eq!(
            infer_types(&data),
            vec![
                ColumnType::Integer,
                ColumnType::Text,
                ColumnType::Real,
                ColumnType::Text
            ]
        );
        Ok(())
    }

    #[test]
    fn csv_with_ragged_rows_is_an_error() {
        assert!(read_csv("a,b\n1,2,3\n".as_bytes(), b',').is_err());
    }

    #[test]
    fn numbers() {
        for s in [
            "0",
            "-7",
            "12",
            "1.5",
            "-0.25",
            "2e10",
            "0.5",
            "9223372036854775808",
        ] {
            assert!(is_number(s), "{s}");
        }
        for s in [
            "007", "+1", "1.2.3", "abc", "1e", "inf", "NaN", "-", ".5", "12a", "",
        ] {
            assert!(!is_number(s), "{s}");
        }
    }

    #[test]
    fn reads_json_lines_in_key_order() -> Result<()> {
        let input = "{\"z\": 1, \"a\": \"x\", \"n\": {\"k\": [1]}}\n\n{\"a\": \"y\", \"b\": true, \"z\": 2.5}\n";
        let data = read_json_lines(input.as_bytes())?;
        assert_eq!(data.columns, vec!["z", "a", "n", "b"]);
        assert_eq!(
            data.rows[0],
            vec![
                num("1"),
                text("x"),
                Field::Nested("{\"k\":[1]}".into()),
                Field::Null
            ]
        );
        assert_eq!(
            data.rows[1],
            vec![num("2.5"), text("y"), Field::Null, Field::Bool(true)]
        );
        assert_eq!(
            infer_types(&data),
            vec![
                ColumnType::Real,
                ColumnType::Text,
                ColumnType::Json,
                ColumnType::Boolean
            ]
        );
        Ok(())
    }

    #[test]
    fn number_arrays_of_one_length_are_vectors() -> Result<()> {
        let data = read_json_lines(
            "{\"a\": [1, 2.5], \"b\": [1], \"c\": [1, 2], \"d\": []}\n\
             {\"a\": [0, 0], \"b\": [1, 2], \"c\": [\"x\", 2], \"d\": []}\n"
                .as_bytes(),
        )?;
        assert_eq!(
            infer_types(&data),
            vec![
                ColumnType::Vector(2),
                ColumnType::Json,
                ColumnType::Json,
                ColumnType::Json
            ]
        );
        assert_eq!(
            to_value(&data.rows[0][0], ColumnType::Vector(2))?,
            Value::Vector(vec![1.0f32, 2.5].into())
        );
        let csv = read_csv("v\n\"[1,2]\"\n[x]\n".as_bytes(), b',')?;
        assert_eq!(csv.rows[0][0], Field::Nested("[1,2]".into()));
        assert_eq!(csv.rows[1][0], text("[x]"));
        Ok(())
    }

    #[test]
    fn progress_is_reported_and_an_interrupt_imports_nothing() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("n.csv");
        let rows: String = (0..25_000).map(|i| format!("{i}\n")).collect();
        std::fs::write(&path, format!("n\n{rows}"))?;
        let db = Database::open_in_memory()?;
        let options = ImportOptions {
            format: FileFormat::Csv,
            delimiter: b',',
        };
        let mut seen = Vec::new();
        let stop = AtomicBool::new(false);
        let progress = Progress {
            report: &mut |n| seen.push(n),
            interrupted: &stop,
        };
        assert_eq!(import(&db, &path, "t", options, progress)?, 25_000);
        assert_eq!(seen, vec![10_000, 20_000]);
        stop.store(true, Ordering::Relaxed);
        let progress = Progress {
            report: &mut |_| {},
            interrupted: &stop,
        };
        assert!(import(&db, &path, "t", options, progress).is_err());
        let n: i64 = db.query_row("SELECT count(*) FROM t", &[], |r| r.get(0))?;
        assert_eq!(n, 25_000, "the interrupted import left nothing");
        Ok(())
    }

    #[test]
    fn json_lines_errors() {
        assert!(read_json_lines("[1, 2]\n".as_bytes()).is_err());
        assert!(read_json_lines("{\"a\": \n".as_bytes()).is_err());
    }

    #[test]
    fn object_keys_skip_nested_and_escaped() {
        assert_eq!(
            object_keys(r#"{"b\"q": {"inner": 1}, "a": "not: a key", "c" : [ {"d": 2} ]}"#),
            vec!["b\"q", "a", "c"]
        );
    }

    #[test]
    fn mixed_columns_become_text() {
        let data = Data {
            columns: vec!["a".into()],
            rows: vec![vec![num("1")], vec![text("x")], vec![Field::Null]],
        };
        assert_eq!(infer_types(&data), vec![ColumnType::Text]);
        let empty = Data {
            columns: vec!["a".into()],
            rows: vec![vec![Field::Null]],
        };
        assert_eq!(infer_types(&empty), vec![ColumnType::Text]);
    }

    #[test]
    fn converts_fields() -> Result<()> {
        assert_eq!(to_value(&num("3"), ColumnType::Integer)?, Value::Integer(3));
        assert_eq!(to_value(&num("3"), ColumnType::Real)?, Value::Real(3.0));
        assert_eq!(
            to_value(&num("1.50"), ColumnType::Text)?,
            Value::text("1.50")
        );
        assert_eq!(
            to_value(&Field::Bool(true), ColumnType::Text)?,
            Value::text("true")
        );
        assert_eq!(to_value(&Field::Null, ColumnType::Integer)?, Value::Null);
        assert!(to_value(&num("1e400"), ColumnType::Integer).is_err());
        Ok(())
    }

    #[test]
    fn names_and_sql() {
        assert_eq!(
            unique_names(vec!["a".into(), "".into(), "A".into(), "a".into()]),
            vec!["a", "column2", "A_2", "a_3"]
        );
        let cols = vec!["id".to_string(), "my \"col\"".to_string()];
        assert_eq!(
            create_table_sql("t", &cols, &[ColumnType::Integer, ColumnType::Text]),
            "CREATE TABLE \"t\" (\"id\" INTEGER, \"my \"\"col\"\"\" TEXT)"
        );
        assert_eq!(
            insert_sql("t", &cols),
            "INSERT INTO \"t\" (\"id\", \"my \"\"col\"\"\") VALUES ($1, $2)"
        );
    }
}
