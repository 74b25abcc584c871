//! `.import` with a delimiter and VECTOR(n) inference, `.export` of a
//! table or a query to CSV and JSON lines, and the row counts both report.

mod common;

use common::{cairn, TestResult};

#[test]
fn import_with_a_delimiter() -> TestResult {
    let dir = tempfile::tempdir()?;
    let semi = dir.path().join("data.txt");
    std::fs::write(&semi, "id;name\n1;a,b\n2;c\n")?;
    let tsv = dir.path().join("data.tsv");
    std::fs::write(&tsv, "id\tname\n3\td e\n")?;
    let r = cairn(
        &[
            "-c",
            &format!(".import --delimiter ';' '{}' t", semi.display()),
            "-c",
            &format!(".import --tabs '{}' t", tsv.display()),
            "-c",
            ".mode list",
            "-c",
            "SELECT id, name FROM t ORDER BY id",
        ],
        "",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "imported 2 rows\nimported 1 rows\nid|name\n1|a,b\n2|c\n3|d e\n"
    );
    Ok(())
}

#[test]
fn import_infers_vector_columns() -> TestResult {
    let dir = tempfile::tempdir()?;
    let jsonl = dir.path().join("items.jsonl");
    std::fs::write(
        &jsonl,
        "{\"id\": 1, \"e\": [0.5, 1, -2], \"tags\": [\"a\"]}\n{\"id\": 2, \"e\": [1e-3, 0, 0], \"tags\": [1, 2]}\n",
    )?;
    let csv = dir.path().join("items.csv");
    std::fs::write(&csv, "id,e\n1,\"[1,2]\"\n2,\n")?;
    let r = cairn(
        &[
            "-c",
            &format!(".import '{}' items", jsonl.display()),
            "-c",
            &format!(".import '{}' pairs", csv.display()),
            "-c",
            ".schema",
            "-c",
            ".mode csv",
            "-c",
            "SELECT id, e <-> '[0.5,1,-2]' AS d FROM items ORDER BY id",
        ],
        "",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stdout
            .contains("CREATE TABLE \"items\" (\"id\" INTEGER, \"e\" VECTOR(3), \"tags\" JSON)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("CREATE TABLE \"pairs\" (\"id\" INTEGER, \"e\" VECTOR(2))"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\n1,0.0\n"), "{}", r.stdout);
    Ok(())
}

#[test]
fn export_a_table_and_a_query() -> TestResult {
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("t.csv");
    let jsonl = dir.path().join("q.jsonl");
    let r = cairn(
        &[
            "-c",
            "CREATE TABLE t (id INTEGER, name TEXT, e VECTOR(2)); \
             INSERT INTO t VALUES (1, 'a, \"b\"', '[1,2]'), (2, NULL, NULL);",
            "-c",
            &format!(".export '{}' t", csv.display()),
            "-c",
            &format!(
                ".export '{}' SELECT id, name, e FROM t WHERE name <> 'x y' ORDER BY id;",
                jsonl.display()
            ),
        ],
        "",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.stdout,
        format!(
            "exported 2 rows to {}\nexported 1 rows to {}\n",
            csv.display(),
            jsonl.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(&csv)?,
        "id,name,e\n1,\"a, \"\"b\"\"\",\"[1,2]\"\n2,,\n"
    );
    assert_eq!(
        std::fs::read_to_string(&jsonl)?,
        "{\"id\":1,\"name\":\"a, \\\"b\\\"\",\"e\":[1,2]}\n"
    );
    // What .export writes, .import reads back.
    let r = cairn(
        &[
            "-c",
            &format!(".import '{}' back", jsonl.display()),
            "-c",
            ".mode list",
            "-c",
            "SELECT id, name, e, typeof(e) FROM back",
        ],
        "",
    )?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stdout.ends_with("1|a, \"b\"|[1,2]|vector\n"),
        "{}",
        r.stdout
    );
    let r = cairn(&["-c", ".export /nonexistent/x.csv SELECT 1"], "")?;
    assert_eq!(r.code, Some(1));
    Ok(())
}
