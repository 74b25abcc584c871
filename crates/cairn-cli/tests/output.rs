//! Output that fits: long vectors shortened in table modes and whole in
//! data modes, vectors as JSON arrays in json mode, and a 10 MB cell
//! rendered whole in table mode (the renderer is linear; comfy-table,
//! used before, took 18.7 s here). Cutting cells to the terminal's width
//! is in tests/terminal.rs.

mod common;

use common::{cairn, TestResult};

/// A 64-dimension vector whose elements are i/64.
fn vector_sql() -> String {
    let elems: Vec<String> = (0..64).map(|i| format!("{}", i as f32 / 64.0)).collect();
    format!(
        "CREATE TABLE items (id INTEGER, e VECTOR(64), small VECTOR(2)); \
         INSERT INTO items VALUES (1, '[{}]', '[0.5,-1]');",
        elems.join(",")
    )
}

#[test]
fn long_vectors_are_shortened_in_table_mode() -> TestResult {
    let r = cairn(
        &["-c", &vector_sql(), "-c", "SELECT e, small FROM items"],
        "",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stdout.contains("│ [0.0000, 0.0156, …] (64) ┆ [0.5,-1] │"),
        "{}",
        r.stdout
    );
    // Data modes keep every element.
    let r = cairn(
        &[
            "-c",
            &vector_sql(),
            "-c",
            ".mode csv",
            "-c",
            "SELECT e FROM items",
        ],
        "",
    )?;
    assert!(r.stdout.contains(",0.984375]"), "{}", r.stdout);
    Ok(())
}

#[test]
fn vectors_are_json_arrays_in_json_mode() -> TestResult {
    let r = cairn(
        &[
            "-c",
            &vector_sql(),
            "-c",
            ".mode json",
            "-c",
            "SELECT id, small, e FROM items",
        ],
        "",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let rows: serde_json::Value = serde_json::from_str(&r.stdout)?;
    assert_eq!(rows[0]["small"], serde_json::json!([0.5, -1]));
    assert_eq!(rows[0]["e"].as_array().map(Vec::len), Some(64));
    assert_eq!(rows[0]["e"][1], serde_json::json!(0.015625));
    Ok(())
}

#[test]
fn a_ten_megabyte_cell_renders_whole_in_table_mode() -> TestResult {
    let r = cairn(&["-c", "SELECT repeat('ab', 5000000) AS big, 7 AS n"], "")?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "top, header, rule, row, bottom");
    let row = lines[3];
    assert!(row.starts_with("│ abab"), "{}", &row[..20]);
    assert!(row.ends_with("abab ┆ 7 │"), "{}", &row[row.len() - 20..]);
    assert_eq!(row.matches("ab").count(), 5_000_000);
    let width = |l: &str| l.chars().count();
    assert!(lines.iter().all(|l| width(l) == width(row)));
    Ok(())
}
