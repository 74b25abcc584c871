//! The vector example of README.md, kept compiling and true.

use cairn::{params, Database};

#[test]
fn readme_vector_example() -> cairn::Result<()> {
    let db = Database::open_in_memory()?;
    db.execute(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, ns TEXT, emb VECTOR(3))",
        params![],
    )?;
    db.execute(
        "INSERT INTO notes VALUES (1, 'a', '[1, 0, 0]'), (2, 'a', '[0, 1, 0]')",
        params![],
    )?;
    db.execute(
        "CREATE INDEX notes_emb ON notes USING hnsw (emb) WITH (metric = 'cosine')",
        params![],
    )?;
    let nearest: i64 = db.query_row(
        "SELECT id FROM notes WHERE ns = 'a' ORDER BY emb <=> ? LIMIT 1",
        params![vec![0.9f32, 0.1, 0.0]],
        |r| r.get(0),
    )?;
    assert_eq!(nearest, 1);
    let back: Vec<f32> = db.query_row("SELECT emb FROM notes WHERE id = 2", params![], |r| {
        r.get(0)
    })?;
    assert_eq!(back, vec![0.0, 1.0, 0.0]);
    Ok(())
}
