//! `.dump` and `.indexes`: the database as SQL text, read through the
//! public API only (`schema_sql`, `table_names`, `query`).
//!
//! Invariant: loading a dump into an empty database gives the same state
//! root as the database it came from (`tests/dump.rs` checks it on random
//! tables). Every value is written as a literal that reads back as the
//! same value: REALs with round-trip digits (`1e999` for infinity), the
//! lowest INTEGER as an expression, vectors, JSON and timestamps as quoted
//! text (cast when the column's type is not theirs). Never writes to the
//! database.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Result};
use cairn::{DataType, Database, Value};

use crate::import::quote_ident;

/// One CREATE statement of the schema, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ddl {
    Table(String),
    Index(String),
    View(String),
    Trigger(String),
}

fn classify(sql: &str) -> Ddl {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(3)
        .map(str::to_ascii_uppercase)
        .collect();
    let sql = with_semicolon(sql);
    match words.get(1).map(String::as_str) {
        Some("VIEW") => Ddl::View(sql),
        Some("TRIGGER") => Ddl::Trigger(sql),
        Some("INDEX" | "UNIQUE") => Ddl::Index(sql),
        _ => Ddl::Table(sql),
    }
}

fn with_semicolon(sql: &str) -> String {
    let s = sql.trim_end();
    if s.ends_with(';') {
        s.to_string()
    } else {
        format!("{s};")
    }
}

/// Writes SQL that re-creates `table` (or every table and view) with its
/// rows, indexes and triggers, inside one transaction. Stops with an error when
/// `interrupted` is set.
pub fn dump(
    db: &Database,
    table: Option<&str>,
    out: &mut dyn Write,
    interrupted: &AtomicBool,
) -> Result<()> {
    let names = match table {
        Some(t) => vec![t.to_string()],
        None => db.table_names(),
    };
    let mut indexes = Vec::new();
    let mut views = Vec::new();
    let mut triggers = Vec::new();
    writeln!(out, "BEGIN;")?;
    for name in &names {
        let mut is_table = false;
        for ddl in db.schema_sql(Some(name))?.iter().map(|s| classify(s)) {
            match ddl {
                Ddl::Table(sql) => {
                    writeln!(out, "{sql}")?;
                    is_table = true;
                }
                Ddl::Index(sql) => indexes.push(sql),
                Ddl::View(sql) => views.push((name.clone(), sql)),
                Ddl::Trigger(sql) => triggers.push(sql),
            }
        }
        if is_table {
            dump_rows(db, name, out, interrupted)?;
        }
    }
    // Indexes after the rows (one build instead of one insert per row);
    // views next, as they may read any table, each after the views it
    // reads; triggers last, once every table and view they name is there
    // (and after the rows, so reloading fires none).
    let views = view_order(views);
    for sql in indexes.iter().chain(views.iter()).chain(triggers.iter()) {
        writeln!(out, "{sql}")?;
    }
    writeln!(out, "COMMIT;")?;
    Ok(())
}

/// The views' SQL ordered so that a view comes after every other view whose
/// name appears as a word in its SQL (an over-approximation of "reads";
/// a cycle, which CREATE VIEW cannot make, keeps the given order).
fn view_order(mut views: Vec<(String, String)>) -> Vec<String> {
    let words = |sql: &str| -> Vec<String> {
        sql.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map(str::to_ascii_lowercase)
            .collect()
    };
    let mut out: Vec<(String, String)> = Vec::with_capacity(views.len());
    while !views.is_empty() {
        let ready = views.iter().position(|(name, sql)| {
            let w = words(sql);
            views.iter().all(|(other, _)| {
                other.eq_ignore_ascii_case(name) || !w.contains(&other.to_ascii_lowercase())
            })
        });
        // A cycle of mentions: take the first left.
        out.push(views.remove(ready.unwrap_or(0)));
    }
    out.into_iter().map(|(_, sql)| sql).collect()
}

fn dump_rows(
    db: &Database,
    table: &str,
    out: &mut dyn Write,
    interrupted: &AtomicBool,
) -> Result<()> {
    let quoted = quote_ident(table);
    let mut rows = db.query(&format!("SELECT * FROM {quoted}"), &[])?;
    let types: Vec<Option<DataType>> = rows.columns().iter().map(|c| c.data_type).collect();
    let mut line = String::new();
    while let Some(row) = rows.next()? {
        if interrupted.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        line.clear();
        line.push_str("INSERT INTO ");
        line.push_str(&quoted);
        line.push_str(" VALUES (");
        for (i, v) in row.values().iter().enumerate() {
            if i > 0 {
                line.push_str(", ");
            }
            line.push_str(&literal(v, types.get(i).copied().flatten()));
        }
        line.push_str(");");
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// `'text'` with quotes doubled.
pub fn quote_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A SQL literal that reads back as `v` in a column of type `column`.
pub fn literal(v: &Value, column: Option<DataType>) -> String {
    let text_as = |ty: DataType| {
        let text = quote_text(&v.to_text().unwrap_or_default());
        if column == Some(ty) {
            text
        } else {
            format!("CAST({text} AS {ty})")
        }
    };
    match v {
        Value::Null => "NULL".to_string(),
        Value::Boolean(b) => (if *b { "TRUE" } else { "FALSE" }).to_string(),
        // `-9223372036854775808` would parse as minus an out-of-range integer.
        Value::Integer(i64::MIN) => "(-9223372036854775807 - 1)".to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) if f.is_infinite() => (if *f > 0.0 { "1e999" } else { "-1e999" }).into(),
        // Debug keeps a `.0` or an exponent, so the literal stays a REAL,
        // and prints the shortest digits that read back as `f`.
        Value::Real(f) => format!("{f:?}"),
        Value::Text(s) => quote_text(s),
        Value::Blob(_) => v.to_string(),
        Value::Timestamp(_) => text_as(DataType::Timestamp),
        Value::Json(_) => text_as(DataType::Json),
        Value::Vector(e) => text_as(DataType::Vector(e.len() as u32)),
        Value::HalfVec(e) => text_as(DataType::HalfVec(e.len() as u32)),
    }
}

/// One index as `.indexes` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexInfo {
    /// `None` for an index created without a name.
    pub name: Option<String>,
    pub table: String,
    pub sql: String,
}

/// The indexes of `table` (or of every table), parsed from their CREATE
/// statements: `CREATE [UNIQUE] INDEX [name] ON table ...`.
pub fn indexes(db: &Database, table: Option<&str>) -> Result<Vec<IndexInfo>> {
    let names = match table {
        Some(t) => vec![t.to_string()],
        None => db.table_names(),
    };
    let mut out = Vec::new();
    for name in names {
        for sql in db.schema_sql(Some(&name))? {
            if let Ddl::Index(sql) = classify(&sql) {
                out.push(IndexInfo {
                    name: index_name(&sql),
                    table: name.clone(),
                    sql,
                });
            }
        }
    }
    Ok(out)
}

/// The name in `CREATE [UNIQUE] INDEX [IF NOT EXISTS] name ON ...`.
fn index_name(sql: &str) -> Option<String> {
    let mut rest = sql;
    let mut words = Vec::new();
    while let Ok(Some(w)) = crate::dot::next_word(&mut rest) {
        if w.eq_ignore_ascii_case("ON") {
            break;
        }
        words.push(w);
    }
    let last = words.last()?;
    let keyword = ["INDEX", "EXISTS"]
        .iter()
        .any(|k| last.eq_ignore_ascii_case(k));
    (!keyword).then(|| last.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn literals() {
        assert_eq!(literal(&Value::Null, None), "NULL");
        assert_eq!(literal(&Value::Integer(-3), None), "-3");
        assert_eq!(literal(&Value::Real(1.0), None), "1.0");
        assert_eq!(literal(&Value::Real(1e300), None), "1e300");
        assert_eq!(literal(&Value::Real(f64::NEG_INFINITY), None), "-1e999");
        assert_eq!(literal(&Value::text("it's"), None), "'it''s'");
        assert_eq!(
            literal(&Value::Blob(Arc::from(&[0u8, 255][..])), None),
            "x'00ff'"
        );
        let v = Value::Vector(Arc::from(&[0.1f32, 2.0][..]));
        assert_eq!(literal(&v, Some(DataType::Vector(2))), "'[0.1,2]'");
        assert_eq!(literal(&v, None), "CAST('[0.1,2]' AS VECTOR(2))");
    }

    #[test]
    fn index_names() {
        assert_eq!(
            index_name("CREATE INDEX tf ON t(f)"),
            Some("tf".to_string())
        );
        assert_eq!(
            index_name("CREATE UNIQUE INDEX IF NOT EXISTS \"a b\" ON t(f)"),
            Some("a b".to_string())
        );
        assert_eq!(index_name("CREATE INDEX ON t USING hnsw (e)"), None);
    }
}
