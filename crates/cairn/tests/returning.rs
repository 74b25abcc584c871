//! `INSERT … RETURNING` through the API: `query` hands out the written
//! rows (generated keys included) with their column names, `execute`
//! returns the count.

use cairn::{params, Database};

#[test]
fn returning_rows_come_through_query_and_execute_counts() {
    let db = Database::open_in_memory().expect("open");
    db.execute(
        "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
        params![],
    )
    .expect("create");
    let mut rows = db
        .query(
            "INSERT INTO notes(body) VALUES (?), (?) RETURNING id, upper(body) AS loud",
            params!["hi", "yo"],
        )
        .expect("insert returning");
    let names: Vec<String> = rows.columns().iter().map(|c| c.name.clone()).collect();
    assert_eq!(names, ["id", "loud"]);
    let mut got = Vec::new();
    while let Some(r) = rows.next().expect("row") {
        got.push((
            r.get::<i64>(0).expect("id"),
            r.get::<String>(1).expect("loud"),
        ));
    }
    assert_eq!(got, [(1, "HI".to_string()), (2, "YO".to_string())]);
    let n = db
        .execute("DELETE FROM notes WHERE id > 0 RETURNING id", params![])
        .expect("delete");
    assert_eq!(n, 2);
}
