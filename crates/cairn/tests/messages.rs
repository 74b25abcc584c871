//! Error messages and schema text a new user reads in the first hour
//! (issue #13, "misleading messages"): each says what is actually wrong.

use cairn::Database;

fn err(db: &Database, sql: &str) -> String {
    match db.execute(sql, &[]) {
        Ok(_) => panic!("{sql} should fail"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn insert_with_a_column_list_counts_the_named_columns() {
    let db = Database::open_in_memory().expect("open");
    db.execute(
        "CREATE TABLE v(id INTEGER PRIMARY KEY, a INT, e VECTOR(2))",
        &[],
    )
    .expect("statement");
    let named = err(&db, "INSERT INTO v(id, a) VALUES (1)");
    assert!(
        named.contains("2 columns of v were named but 1 values were supplied"),
        "{named}"
    );
    let all = err(&db, "INSERT INTO v VALUES (1)");
    assert!(
        all.contains("table v has 3 columns but 1 values were supplied"),
        "{all}"
    );
}

#[test]
fn an_operator_class_and_a_contradicting_metric_are_refused() {
    let db = Database::open_in_memory().expect("open");
    db.execute("CREATE TABLE v(id INTEGER PRIMARY KEY, e VECTOR(2))", &[])
        .expect("statement");
    let e = err(
        &db,
        "CREATE INDEX ON v USING hnsw (e vector_l2_ops) WITH (metric = 'cosine')",
    );
    assert!(
        e.contains("contradicts operator class vector_l2_ops"),
        "{e}"
    );
    // Agreeing is fine.
    db.execute(
        "CREATE INDEX ON v USING hnsw (e vector_cosine_ops) WITH (metric = 'cosine')",
        &[],
    )
    .expect("statement");
}

#[test]
fn unnamed_indexes_get_unique_names_that_the_schema_shows() {
    let db = Database::open_in_memory().expect("open");
    db.execute(
        "CREATE TABLE v(id INTEGER PRIMARY KEY, a INT, e VECTOR(2))",
        &[],
    )
    .expect("statement");
    db.execute("CREATE INDEX ON v (a)", &[]).expect("statement");
    db.execute("CREATE INDEX ON v (a)", &[]).expect("statement");
    db.execute("CREATE INDEX ON v USING hnsw (e vector_l2_ops)", &[])
        .expect("statement");
    db.execute("CREATE INDEX ON v USING hnsw (e vector_cosine_ops)", &[])
        .expect("statement");
    let schema = db.schema_sql(Some("v")).expect("schema").join("\n");
    for name in ["v_a_idx ", "v_a_idx1 ", "v_e_hnsw ", "v_e_hnsw1 "] {
        assert!(
            schema.contains(&format!("CREATE INDEX {name}ON v")),
            "{name}: {schema}"
        );
    }
    // The names are real: they can be dropped.
    db.execute("DROP INDEX v_a_idx1", &[]).expect("statement");
    db.execute("DROP INDEX v_e_hnsw1", &[]).expect("statement");
}
