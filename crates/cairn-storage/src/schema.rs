//! Table, index, view and trigger definitions as the catalog keeps them.

use cairn_core::{DataType, Value};

#[derive(Debug, Clone)]
pub struct ColumnDef {
    pub name: String,
    pub data_type: DataType,
    /// The type as written (`VARCHAR(40)`), for `.schema` and result metadata.
    pub declared_type: String,
    pub nullable: bool,
    /// DEFAULT expression as SQL text; the SQL layer evaluates it.
    pub default_sql: Option<String>,
    /// Value that rows written before an `ALTER TABLE ADD COLUMN` read as.
    pub added_default: Value,
}

#[derive(Debug, Clone)]
pub struct TableSchema {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Column positions of the PRIMARY KEY, if any.
    pub primary_key: Option<Vec<usize>>,
    /// CHECK constraint expressions as SQL text; the SQL layer evaluates them.
    pub checks: Vec<String>,
    /// Column of a single-column INTEGER PRIMARY KEY: NULL or omitted values
    /// get the next free key (SQLite's rowid alias habit).
    pub auto_increment: Option<usize>,
    /// The CREATE TABLE statement (kept current across ALTER TABLE).
    pub create_sql: String,
}

impl TableSchema {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, Clone)]
pub struct IndexDef {
    pub name: String,
    pub columns: Vec<usize>,
    pub unique: bool,
    /// True for the index that enforces the PRIMARY KEY.
    pub primary: bool,
    /// The CREATE INDEX statement; `None` for indexes implied by constraints.
    pub create_sql: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ViewDef {
    pub name: String,
    /// Column names given in `CREATE VIEW v(a, b) AS ...`, if any.
    pub columns: Vec<String>,
    /// The SELECT body.
    pub query_sql: String,
    pub create_sql: String,
}

/// A trigger as the catalog keeps it: the storage layer knows only its
/// name, the table or view it is attached to (so DROP TABLE and DROP VIEW
/// drop it too) and its CREATE TRIGGER text; the SQL layer parses the text
/// for its timing, event, WHEN clause and body.
#[derive(Debug, Clone)]
pub struct TriggerDef {
    pub name: String,
    /// The table or view it is attached to, as the catalog spells it.
    pub table: String,
    pub create_sql: String,
}
