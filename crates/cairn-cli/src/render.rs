//! Rendering a statement's rows in the shell's output modes: a box table,
//! CSV, JSON (an array of objects) or sqlite-style `column = value` lines.

use cairn::{Output, Value};
use comfy_table::{presets, Cell, CellAlignment, Table};

/// How query results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Table,
    Csv,
    Json,
    Line,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s.to_ascii_lowercase().as_str() {
            "table" | "box" => Some(Mode::Table),
            "csv" => Some(Mode::Csv),
            "json" => Some(Mode::Json),
            "line" => Some(Mode::Line),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Table => "table",
            Mode::Csv => "csv",
            Mode::Json => "json",
            Mode::Line => "line",
        }
    }
}

/// The text printed for a statement's output (empty for statements that
/// return no rows). Ends with a newline unless empty.
pub fn render(out: &Output, mode: Mode, headers: bool) -> String {
    if !out.returns_rows || out.columns.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = out.columns.iter().map(|c| c.name.as_str()).collect();
    match mode {
        Mode::Table => table(&names, &out.rows),
        Mode::Csv => csv(&names, &out.rows, headers),
        Mode::Json => json(&names, &out.rows),
        Mode::Line => lines(&names, &out.rows),
    }
}

/// A value as text: `null` for NULL, blobs as `x'..'` hex, everything else
/// by [`Value::to_text`].
pub fn value_text(v: &Value, null: &str) -> String {
    match v {
        Value::Null => null.to_string(),
        Value::Blob(_) => v.to_string(),
        other => other.to_text().unwrap_or_default(),
    }
}

fn table(names: &[&str], rows: &[Vec<Value>]) -> String {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .apply_modifier(comfy_table::modifiers::UTF8_ROUND_CORNERS)
        .set_header(names.iter().map(Cell::new).collect::<Vec<_>>());
    for row in rows {
        t.add_row(
            row.iter()
                .map(|v| {
                    let cell = Cell::new(value_text(v, "NULL"));
                    if matches!(v, Value::Integer(_) | Value::Real(_)) {
                        cell.set_alignment(CellAlignment::Right)
                    } else {
                        cell
                    }
                })
                .collect::<Vec<_>>(),
        );
    }
    format!("{t}\n")
}

fn csv(names: &[&str], rows: &[Vec<Value>], headers: bool) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail; a failed record is simply left out.
    if headers {
        let _ = w.write_record(names);
    }
    for row in rows {
        let _ = w.write_record(row.iter().map(|v| value_text(v, "")));
    }
    match w.into_inner() {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    }
}

/// A value as JSON: numbers and booleans as such, JSON values embedded,
/// everything else as a string.
pub fn json_value(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::Integer(i) => J::from(*i),
        Value::Real(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => J::Number(n),
            None => J::String(value_text(v, "")),
        },
        Value::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| J::String(s.to_string())),
        other => J::String(value_text(other, "")),
    }
}

/// `[{"a":1,"b":"x"},\n{"a":2,"b":"y"}]`: one object per row, columns in
/// result order.
fn json(names: &[&str], rows: &[Vec<Value>]) -> String {
    let keys: Vec<String> = names
        .iter()
        .map(|n| serde_json::Value::String(n.to_string()).to_string())
        .collect();
    let objects: Vec<String> = rows
        .iter()
        .map(|row| {
            let fields: Vec<String> = keys
                .iter()
                .zip(row)
                .map(|(k, v)| format!("{k}:{}", json_value(v)))
                .collect();
            format!("{{{}}}", fields.join(","))
        })
        .collect();
    format!("[{}]\n", objects.join(",\n"))
}

/// sqlite's line mode: `name = value` per column, a blank line between rows.
fn lines(names: &[&str], rows: &[Vec<Value>]) -> String {
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let mut s = String::new();
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        for (name, v) in names.iter().zip(row) {
            s.push_str(&format!("{name:>width$} = {}\n", value_text(v, "NULL")));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn::Column;
    use std::sync::Arc;

    fn output() -> Output {
        Output {
            columns: Arc::from(vec![
                Column {
                    name: "id".into(),
                    data_type: None,
                },
                Column {
                    name: "name".into(),
                    data_type: None,
                },
            ]),
            rows: vec![
                vec![Value::Integer(1), Value::text("ada, \"the\" first")],
                vec![Value::Real(2.5), Value::Null],
            ],
            rows_affected: 0,
            returns_rows: true,
        }
    }

    #[test]
    fn csv_quotes_and_nulls() {
        assert_eq!(
            render(&output(), Mode::Csv, true),
            "id,name\n1,\"ada, \"\"the\"\" first\"\n2.5,\n"
        );
        assert_eq!(
            render(&output(), Mode::Csv, false),
            "1,\"ada, \"\"the\"\" first\"\n2.5,\n"
        );
    }

    #[test]
    fn json_objects_keep_column_order() {
        assert_eq!(
            render(&output(), Mode::Json, true),
            "[{\"id\":1,\"name\":\"ada, \\\"the\\\" first\"},\n{\"id\":2.5,\"name\":null}]\n"
        );
        let mut empty = output();
        empty.rows.clear();
        assert_eq!(render(&empty, Mode::Json, true), "[]\n");
    }

    #[test]
    fn json_values() {
        assert_eq!(json_value(&Value::Boolean(true)), serde_json::json!(true));
        assert_eq!(
            json_value(&Value::Json(Arc::from("{\"a\":[1,2]}"))),
            serde_json::json!({"a": [1, 2]})
        );
        assert_eq!(
            json_value(&Value::Blob(Arc::from(&[1u8, 255][..]))),
            serde_json::json!("x'01ff'")
        );
        assert_eq!(
            json_value(&Value::Real(f64::INFINITY)),
            serde_json::json!("Inf")
        );
    }

    #[test]
    fn line_mode() {
        assert_eq!(
            render(&output(), Mode::Line, true),
            "  id = 1\nname = ada, \"the\" first\n\n  id = 2.5\nname = NULL\n"
        );
    }

    #[test]
    fn table_mode_shows_header_and_null() {
        let s = render(&output(), Mode::Table, true);
        assert!(s.contains("id"), "{s}");
        assert!(s.contains("name"), "{s}");
        assert!(s.contains("NULL"), "{s}");
        assert!(s.contains("ada, \"the\" first"), "{s}");
        assert!(s.starts_with('╭'), "{s}");
    }

    #[test]
    fn statements_without_rows_print_nothing() {
        let out = Output {
            rows_affected: 3,
            ..Output::default()
        };
        assert_eq!(render(&out, Mode::Table, true), "");
    }

    #[test]
    fn modes_parse() {
        assert_eq!(Mode::parse("CSV"), Some(Mode::Csv));
        assert_eq!(Mode::parse("box"), Some(Mode::Table));
        assert_eq!(Mode::parse("html"), None);
        assert_eq!(Mode::Line.name(), "line");
    }
}
