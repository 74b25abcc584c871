//! `.export`: a table's or a query's rows to a CSV file (with a header
//! row) or a JSON-lines file (one object per row), streamed from the
//! query's cursor. Writes only the file it is given; never the database.
//! What it writes reads back with `.import` into the same values (vectors
//! as JSON arrays, NULL as an empty CSV field or JSON `null`).

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Context, Result};
use cairn::Database;

use crate::dot::{ExportSource, FileFormat};
use crate::import::quote_ident;
use crate::render::{json_object, value_text};

/// Writes the rows of `source` to `path`; returns how many.
pub fn export(
    db: &Database,
    path: &Path,
    source: &ExportSource,
    format: FileFormat,
    interrupted: &AtomicBool,
) -> Result<u64> {
    let sql = match source {
        ExportSource::Table(t) => format!("SELECT * FROM {}", quote_ident(t)),
        ExportSource::Query(q) => q.clone(),
    };
    let rows = db.query(&sql, &[])?;
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let names: Vec<String> = rows.column_names().iter().map(|s| s.to_string()).collect();
    let count = match format {
        FileFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record(&names)?;
            let n = each_row(rows, interrupted, |values| {
                w.write_record(values.iter().map(|v| value_text(v, "")))?;
                Ok(())
            })?;
            w.flush()?;
            n
        }
        FileFormat::JsonLines => {
            let keys: Vec<String> = names
                .iter()
                .map(|n| serde_json::Value::String(n.clone()).to_string())
                .collect();
            each_row(rows, interrupted, |values| {
                writeln!(out, "{}", json_object(&keys, values))?;
                Ok(())
            })?
        }
    };
    out.flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(count)
}

/// Calls `f` with every row's values; stops when `interrupted` is set.
fn each_row(
    mut rows: cairn::Rows,
    interrupted: &AtomicBool,
    mut f: impl FnMut(&[cairn::Value]) -> Result<()>,
) -> Result<u64> {
    let mut count = 0u64;
    while let Some(row) = rows.next()? {
        if interrupted.load(Ordering::Relaxed) {
            bail!("interrupted after {count} rows; the file is incomplete");
        }
        f(row.values())?;
        count += 1;
    }
    Ok(count)
}
