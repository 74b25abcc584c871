//! Rendering a statement's rows in the shell's output modes: boxed tables
//! (`table`, `box`, `markdown`), delimited text (`csv`, `tabs`, `list`),
//! JSON (an array of objects) and sqlite-style `column = value` lines.
//!
//! Invariant: rendering is linear in the size of the result. Every cell is
//! measured once and written once; cutting a cell to its column's width
//! walks only the characters it keeps. (comfy-table, used before, took
//! 18.7 s for one 10 MB cell; see `wide_cell_renders_in_linear_time`.)
//!
//! Display modes (`table`, `box`, `markdown`) shorten long vectors to
//! `[0.1447, 0.7235, …] (64)` and may cut cells to a width; data modes
//! (`csv`, `tabs`, `list`, `line`, `json`) never change a value.

use cairn::{Output, Value};
use unicode_width::UnicodeWidthChar;

/// How query results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Rounded Unicode box, `┆` between columns (the default).
    #[default]
    Table,
    /// sqlite3's `box`: square Unicode lines.
    Box,
    /// A GitHub-flavoured Markdown table.
    Markdown,
    Csv,
    /// Tab-separated values.
    Tabs,
    /// Values separated by the list separator (`|` by default), as sqlite3.
    List,
    Json,
    Line,
}

/// Every mode, in the order `.help` lists them.
pub const MODES: &[Mode] = &[
    Mode::Table,
    Mode::Box,
    Mode::Markdown,
    Mode::Csv,
    Mode::Tabs,
    Mode::List,
    Mode::Json,
    Mode::Line,
];

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        let s = s.to_ascii_lowercase();
        MODES.iter().copied().find(|m| m.name() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Table => "table",
            Mode::Box => "box",
            Mode::Markdown => "markdown",
            Mode::Csv => "csv",
            Mode::Tabs => "tabs",
            Mode::List => "list",
            Mode::Json => "json",
            Mode::Line => "line",
        }
    }

    /// Modes for reading on screen, where long vectors are shortened and
    /// cells may be cut.
    pub fn is_display(self) -> bool {
        matches!(self, Mode::Table | Mode::Box | Mode::Markdown)
    }
}

/// Everything rendering depends on besides the rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Style {
    pub mode: Mode,
    /// Column names as a first row (every mode but json and line).
    pub headers: bool,
    /// What NULL prints as (not in json, where it is `null`).
    pub null_text: String,
    /// Separator of `list` mode.
    pub separator: String,
    /// `.width`: the most display columns of each column in display modes
    /// (0 = no limit of its own).
    pub column_widths: Vec<usize>,
    /// The most display columns a whole table may take (the terminal's
    /// width); wider cells are cut with `…`. `None`: no limit.
    pub table_width_max: Option<usize>,
}

impl Default for Style {
    fn default() -> Style {
        Style {
            mode: Mode::Table,
            headers: true,
            null_text: String::new(),
            separator: "|".to_string(),
            column_widths: Vec::new(),
            table_width_max: None,
        }
    }
}

/// A vector in display modes longer than this many elements is shortened.
pub const VECTOR_SHOWN_DIMS_MAX: usize = 4;
/// Elements a shortened vector shows before `…`.
const VECTOR_SHORT_DIMS: usize = 2;
/// A column is never cut narrower than this (one character and `…`).
const COLUMN_WIDTH_MIN: usize = 2;

/// The text printed for a statement's output (empty for statements that
/// return no rows). Ends with a newline unless empty.
pub fn render(out: &Output, style: &Style) -> String {
    if !out.returns_rows || out.columns.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = out.columns.iter().map(|c| c.name.as_str()).collect();
    render_rows(&names, &out.rows, style)
}

/// [`render`] for rows and column names from anywhere.
pub fn render_rows(names: &[&str], rows: &[Vec<Value>], style: &Style) -> String {
    match style.mode {
        Mode::Table | Mode::Box | Mode::Markdown => table(names, rows, style),
        Mode::Csv => csv(names, rows, style, b','),
        Mode::Tabs => csv(names, rows, style, b'\t'),
        Mode::List => list(names, rows, style),
        Mode::Json => json(names, rows),
        Mode::Line => lines(names, rows, &style.null_text),
    }
}

/// A value as text: `null` for NULL, blobs as `x'..'` hex, booleans as
/// true/false, everything else by [`Value::to_text`].
pub fn value_text(v: &Value, null: &str) -> String {
    match v {
        Value::Null => null.to_string(),
        Value::Blob(_) | Value::Boolean(_) => v.to_string(),
        other => other.to_text().unwrap_or_default(),
    }
}

/// A value as display modes show it: long vectors shortened to their first
/// elements, four decimals each, and their dimension count.
pub fn display_text(v: &Value, null: &str) -> String {
    let (shown, dims): (Vec<f32>, usize) = match v {
        Value::Vector(e) if e.len() > VECTOR_SHOWN_DIMS_MAX => {
            (e.iter().take(VECTOR_SHORT_DIMS).copied().collect(), e.len())
        }
        Value::HalfVec(e) if e.len() > VECTOR_SHOWN_DIMS_MAX => (
            e.iter()
                .take(VECTOR_SHORT_DIMS)
                .map(|h| h.to_f32())
                .collect(),
            e.len(),
        ),
        _ => return value_text(v, null),
    };
    let shown: Vec<String> = shown.iter().map(|x| format!("{x:.4}")).collect();
    format!("[{}, …] ({dims})", shown.join(", "))
}

/// Display width of `s` in terminal columns (control characters count 0).
fn text_width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// `s` cut to at most `width` display columns, ending in `…` when cut.
/// Walks only the characters kept.
fn cut(s: &str, width: usize) -> std::borrow::Cow<'_, str> {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        let w = c.width().unwrap_or(0);
        if used + w > width {
            // Back off so that `…` (width 1) fits.
            let mut keep = &s[..i];
            let mut kept = used;
            while kept + 1 > width {
                match keep.char_indices().next_back() {
                    Some((j, ch)) => {
                        kept -= ch.width().unwrap_or(0);
                        keep = &keep[..j];
                    }
                    None => break,
                }
            }
            return std::borrow::Cow::Owned(format!("{keep}…"));
        }
        used += w;
    }
    std::borrow::Cow::Borrowed(s)
}

/// One cell of a display table: its lines and whether it is a number.
struct Cell {
    lines: Vec<String>,
    right: bool,
}

fn cell(text: String, right: bool) -> Cell {
    let lines = if text.contains('\n') {
        text.split('\n')
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect()
    } else {
        vec![text]
    };
    Cell { lines, right }
}

/// The characters a display table is drawn with.
struct Frame {
    top: [&'static str; 4],
    header_rule: [&'static str; 4],
    bottom: [&'static str; 4],
    /// Left edge, between columns, right edge.
    sides: [&'static str; 3],
    rule: &'static str,
    header_line: &'static str,
    bottom_line: &'static str,
}

const ROUNDED: Frame = Frame {
    top: ["╭", "─", "┬", "╮"],
    header_rule: ["╞", "═", "╪", "╡"],
    bottom: ["╰", "─", "┴", "╯"],
    sides: ["│", "┆", "│"],
    rule: "─",
    header_line: "═",
    bottom_line: "─",
};

const SQUARE: Frame = Frame {
    top: ["┌", "─", "┬", "┐"],
    header_rule: ["├", "─", "┼", "┤"],
    bottom: ["└", "─", "┴", "┘"],
    sides: ["│", "│", "│"],
    rule: "─",
    header_line: "─",
    bottom_line: "─",
};

/// The width of each column: its widest line, capped by `.width` and then,
/// if the table is too wide, by one common cap chosen so that it fits.
fn column_widths(header: &[Cell], body: &[Vec<Cell>], style: &Style) -> Vec<usize> {
    let n = header.len();
    let mut widths = vec![0usize; n];
    for row in std::iter::once(header).chain(body.iter().map(Vec::as_slice)) {
        for (w, c) in widths.iter_mut().zip(row) {
            for line in &c.lines {
                *w = (*w).max(text_width(line));
            }
        }
    }
    for (w, &max) in widths.iter_mut().zip(&style.column_widths) {
        if max > 0 {
            *w = (*w).min(max.max(COLUMN_WIDTH_MIN));
        }
    }
    if let Some(total_max) = style.table_width_max {
        // `│ a ┆ b │`: 3 columns of frame per column, plus one.
        let budget = total_max.saturating_sub(3 * n + 1);
        let fits = |cap: usize| widths.iter().map(|w| (*w).min(cap)).sum::<usize>() <= budget;
        let widest = widths.iter().copied().max().unwrap_or(0);
        if !fits(widest) {
            // The largest common cap that fits (binary search).
            let (mut lo, mut hi) = (COLUMN_WIDTH_MIN, widest);
            while lo < hi {
                let mid = (lo + hi).div_ceil(2);
                if fits(mid) {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            for w in &mut widths {
                *w = (*w).min(lo);
            }
        }
    }
    widths
}

fn table(names: &[&str], rows: &[Vec<Value>], style: &Style) -> String {
    let header: Vec<Cell> = names.iter().map(|n| cell(n.to_string(), false)).collect();
    let body: Vec<Vec<Cell>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| {
                    let right = matches!(v, Value::Integer(_) | Value::Real(_));
                    cell(display_text(v, &style.null_text), right)
                })
                .collect()
        })
        .collect();
    let widths = column_widths(&header, &body, style);
    let mut s = String::new();
    if style.mode == Mode::Markdown {
        if style.headers {
            markdown_row(&mut s, &header, &widths);
        }
        s.push('|');
        for w in &widths {
            s.push_str(&"-".repeat(w + 2));
            s.push('|');
        }
        s.push('\n');
        for row in &body {
            markdown_row(&mut s, row, &widths);
        }
        return s;
    }
    let frame = if style.mode == Mode::Box {
        &SQUARE
    } else {
        &ROUNDED
    };
    rule(&mut s, &widths, frame.top, frame.rule);
    if style.headers {
        frame_row(&mut s, &header, &widths, frame);
        rule(&mut s, &widths, frame.header_rule, frame.header_line);
    }
    for row in &body {
        frame_row(&mut s, row, &widths, frame);
    }
    rule(&mut s, &widths, frame.bottom, frame.bottom_line);
    s
}

fn rule(s: &mut String, widths: &[usize], ends: [&str; 4], line: &str) {
    s.push_str(ends[0]);
    for (i, w) in widths.iter().enumerate() {
        if i > 0 {
            s.push_str(ends[2]);
        }
        s.push_str(&line.repeat(w + 2));
    }
    s.push_str(ends[3]);
    s.push('\n');
}

fn pad(s: &mut String, text: &str, width: usize, right: bool) {
    let text = cut(text, width);
    let fill = width.saturating_sub(text_width(&text));
    if right {
        s.extend(std::iter::repeat_n(' ', fill));
        s.push_str(&text);
    } else {
        s.push_str(&text);
        s.extend(std::iter::repeat_n(' ', fill));
    }
}

fn frame_row(s: &mut String, row: &[Cell], widths: &[usize], frame: &Frame) {
    let height = row.iter().map(|c| c.lines.len()).max().unwrap_or(1);
    for line in 0..height {
        s.push_str(frame.sides[0]);
        for (i, (c, w)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                s.push_str(frame.sides[1]);
            }
            s.push(' ');
            pad(s, c.lines.get(line).map_or("", String::as_str), *w, c.right);
            s.push(' ');
        }
        s.push_str(frame.sides[2]);
        s.push('\n');
    }
}

/// A Markdown row: one line per row, `|` in cells escaped, line breaks as
/// `<br>`.
fn markdown_row(s: &mut String, row: &[Cell], widths: &[usize]) {
    s.push('|');
    for (c, w) in row.iter().zip(widths) {
        let text = c.lines.join("<br>").replace('|', "\\|");
        s.push(' ');
        pad(s, &text, *w, c.right);
        s.push_str(" |");
    }
    s.push('\n');
}

fn csv(names: &[&str], rows: &[Vec<Value>], style: &Style, delimiter: u8) -> String {
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail; a failed record is simply left out.
    if style.headers {
        let _ = w.write_record(names);
    }
    for row in rows {
        let _ = w.write_record(row.iter().map(|v| value_text(v, &style.null_text)));
    }
    match w.into_inner() {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    }
}

/// sqlite3's list mode: values joined by the separator, no quoting.
fn list(names: &[&str], rows: &[Vec<Value>], style: &Style) -> String {
    let mut s = String::new();
    if style.headers {
        s.push_str(&names.join(&style.separator));
        s.push('\n');
    }
    for row in rows {
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                s.push_str(&style.separator);
            }
            s.push_str(&value_text(v, &style.null_text));
        }
        s.push('\n');
    }
    s
}

/// A value as JSON: numbers and booleans as such, JSON values embedded,
/// vectors as arrays of numbers, everything else as a string.
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
        // A vector's text is a JSON array of shortest round-trip numbers.
        Value::Vector(_) | Value::HalfVec(_) => {
            let text = value_text(v, "");
            serde_json::from_str(&text).unwrap_or(J::String(text))
        }
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
    let objects: Vec<String> = rows.iter().map(|row| json_object(&keys, row)).collect();
    format!("[{}]\n", objects.join(",\n"))
}

/// One row as a JSON object; `keys` are the column names, JSON-quoted.
pub fn json_object(keys: &[String], row: &[Value]) -> String {
    let fields: Vec<String> = keys
        .iter()
        .zip(row)
        .map(|(k, v)| format!("{k}:{}", json_value(v)))
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// sqlite's line mode: `name = value` per column, a blank line between rows.
fn lines(names: &[&str], rows: &[Vec<Value>], null: &str) -> String {
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let mut s = String::new();
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        for (name, v) in names.iter().zip(row) {
            s.push_str(&format!("{name:>width$} = {}\n", value_text(v, null)));
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

    fn style(mode: Mode) -> Style {
        Style {
            mode,
            ..Style::default()
        }
    }

    #[test]
    fn csv_quotes_and_nulls() {
        assert_eq!(
            render(&output(), &style(Mode::Csv)),
            "id,name\n1,\"ada, \"\"the\"\" first\"\n2.5,\n"
        );
        let no_headers = Style {
            headers: false,
            ..style(Mode::Csv)
        };
        assert_eq!(
            render(&output(), &no_headers),
            "1,\"ada, \"\"the\"\" first\"\n2.5,\n"
        );
    }

    #[test]
    fn json_objects_keep_column_order() {
        assert_eq!(
            render(&output(), &style(Mode::Json)),
            "[{\"id\":1,\"name\":\"ada, \\\"the\\\" first\"},\n{\"id\":2.5,\"name\":null}]\n"
        );
        let mut empty = output();
        empty.rows.clear();
        assert_eq!(render(&empty, &style(Mode::Json)), "[]\n");
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
        assert_eq!(
            json_value(&Value::Vector(Arc::from(&[0.1f32, -2.0, 1e-30][..]))).to_string(),
            "[0.1,-2,1e-30]"
        );
    }

    #[test]
    fn line_mode() {
        let s = Style {
            null_text: "NULL".into(),
            ..style(Mode::Line)
        };
        assert_eq!(
            render(&output(), &s),
            "  id = 1\nname = ada, \"the\" first\n\n  id = 2.5\nname = NULL\n"
        );
    }

    #[test]
    fn table_mode_shows_header_and_empty_null() {
        let s = render(&output(), &style(Mode::Table));
        assert_eq!(
            s,
            "╭─────┬──────────────────╮\n\
             │ id  ┆ name             │\n\
             ╞═════╪══════════════════╡\n\
             │   1 ┆ ada, \"the\" first │\n\
             │ 2.5 ┆                  │\n\
             ╰─────┴──────────────────╯\n"
        );
    }

    #[test]
    fn box_markdown_list_and_tabs() {
        let out = output();
        assert_eq!(
            render(&out, &style(Mode::Box)),
            "┌─────┬──────────────────┐\n\
             │ id  │ name             │\n\
             ├─────┼──────────────────┤\n\
             │   1 │ ada, \"the\" first │\n\
             │ 2.5 │                  │\n\
             └─────┴──────────────────┘\n"
        );
        assert_eq!(
            render(&out, &style(Mode::Markdown)),
            "| id  | name             |\n\
             |-----|------------------|\n\
             |   1 | ada, \"the\" first |\n\
             | 2.5 |                  |\n"
        );
        assert_eq!(
            render(&out, &style(Mode::List)),
            "id|name\n1|ada, \"the\" first\n2.5|\n"
        );
        assert_eq!(
            render(&out, &style(Mode::Tabs)),
            "id\tname\n1\t\"ada, \"\"the\"\" first\"\n2.5\t\n"
        );
    }

    #[test]
    fn multi_line_cells_and_cut_cells() {
        let rows = vec![vec![Value::text("a\nbb"), Value::text(&"x".repeat(50))]];
        let s = Style {
            table_width_max: Some(20),
            ..style(Mode::Table)
        };
        let text = render_rows(&["p", "q"], &rows, &s);
        for line in text.lines() {
            assert!(text_width(line) <= 20, "{text}");
        }
        assert!(text.contains("│ a  ┆"), "{text}");
        assert!(text.contains("│ bb ┆"), "{text}");
        assert!(text.contains("x…"), "{text}");
        let widths = Style {
            column_widths: vec![0, 5],
            ..style(Mode::Table)
        };
        assert!(render_rows(&["p", "q"], &rows, &widths).contains("┆ xxxx… │"));
    }

    #[test]
    fn cut_respects_wide_characters() {
        assert_eq!(cut("日本語", 4), "日…");
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "ab…");
    }

    #[test]
    fn long_vectors_are_shortened_in_display_modes_only() {
        let v: Vec<f32> = (0..64).map(|i| i as f32 / 7.0).collect();
        let value = Value::Vector(Arc::from(v.as_slice()));
        assert_eq!(display_text(&value, ""), "[0.0000, 0.1429, …] (64)");
        let short = Value::Vector(Arc::from(&[1.0f32, 2.5][..]));
        assert_eq!(display_text(&short, ""), "[1,2.5]");
        let csv = render_rows(&["e"], &[vec![value]], &style(Mode::Csv));
        assert_eq!(csv.matches(',').count(), 63, "{csv}");
    }

    #[test]
    fn statements_without_rows_print_nothing() {
        let out = Output {
            rows_affected: 3,
            ..Output::default()
        };
        assert_eq!(render(&out, &style(Mode::Table)), "");
    }

    #[test]
    fn modes_parse() {
        assert_eq!(Mode::parse("CSV"), Some(Mode::Csv));
        assert_eq!(Mode::parse("box"), Some(Mode::Box));
        assert_eq!(Mode::parse("markdown"), Some(Mode::Markdown));
        assert_eq!(Mode::parse("html"), None);
        assert_eq!(Mode::Line.name(), "line");
        for m in MODES {
            assert_eq!(Mode::parse(m.name()), Some(*m));
        }
    }
}
