//! `.dump`: SQL that re-creates the database. The property: random tables
//! and rows → dump → load into an empty database through the shell → the
//! same state root (the API's `Database::state_root`). And the CLI round
//! trip on disk: `cairn A -c .dump | cairn B` gives `cairn root` equal.

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use cairn::{Database, Value};
use cairn_cli::shell::Shell;
use common::{cairn, TestResult};
use proptest::prelude::*;

/// Column types the generator picks from.
const TYPES: &[&str] = &[
    "INTEGER",
    "REAL",
    "TEXT",
    "BOOLEAN",
    "BLOB",
    "TIMESTAMP",
    "JSON",
    "VECTOR(3)",
    "HALFVEC(2)",
];

fn value_of(ty: &str) -> BoxedStrategy<Value> {
    let v: BoxedStrategy<Value> = match ty {
        "INTEGER" => any::<i64>().prop_map(Value::Integer).boxed(),
        "REAL" => prop_oneof![
            any::<f64>().prop_filter("no NaN", |f| !f.is_nan()),
            Just(-0.0),
            Just(f64::INFINITY),
            Just(1e-310),
        ]
        .prop_map(Value::Real)
        .boxed(),
        "TEXT" => prop_oneof!["\\PC{0,12}", "[a' \n;\"\\\\]{0,6}"]
            .prop_map(|s: String| Value::text(&s))
            .boxed(),
        "BOOLEAN" => any::<bool>().prop_map(Value::Boolean).boxed(),
        "BLOB" => proptest::collection::vec(any::<u8>(), 0..8)
            .prop_map(|b| Value::Blob(Arc::from(b.as_slice())))
            .boxed(),
        "TIMESTAMP" => (-10_000_000_000_000_000i64..10_000_000_000_000_000)
            .prop_map(Value::Timestamp)
            .boxed(),
        "JSON" => prop_oneof![
            Just("{\"a\":  [1, 2.5, null]}".to_string()),
            Just("[]".to_string()),
            "[a-z']{0,5}".prop_map(|s| serde_json::Value::String(s).to_string()),
            any::<i32>().prop_map(|i| i.to_string()),
        ]
        .prop_map(|s| Value::Json(s.as_str().into()))
        .boxed(),
        "VECTOR(3)" => proptest::collection::vec(-1e6f32..1e6, 3)
            .prop_map(|v| Value::Vector(Arc::from(v.as_slice())))
            .boxed(),
        _ => proptest::collection::vec(-100f32..100.0, 2)
            .prop_map(|v| Value::text(&format!("[{},{}]", v[0], v[1])))
            .boxed(),
    };
    prop_oneof![1 => Just(Value::Null), 6 => v].boxed()
}

#[derive(Debug, Clone)]
struct Table {
    types: Vec<&'static str>,
    primary_key: bool,
    index_on: Option<usize>,
    rows: Vec<Vec<Value>>,
}

fn table() -> impl Strategy<Value = Table> {
    (
        proptest::collection::vec(proptest::sample::select(TYPES), 1..5),
        any::<bool>(),
        any::<Option<prop::sample::Index>>(),
    )
        .prop_flat_map(|(types, primary_key, index)| {
            let row = types.iter().map(|t| value_of(t)).collect::<Vec<_>>();
            let index_on = index.map(|i| i.index(types.len()));
            (
                Just(types),
                Just(primary_key),
                Just(index_on),
                proptest::collection::vec(row, 0..12),
            )
        })
        .prop_map(|(types, primary_key, index_on, rows)| Table {
            types,
            primary_key,
            index_on,
            rows,
        })
}

fn build(tables: &[Table]) -> cairn::Result<Database> {
    let db = Database::open_in_memory()?;
    for (n, t) in tables.iter().enumerate() {
        let mut cols: Vec<String> = Vec::new();
        if t.primary_key {
            cols.push("id INTEGER PRIMARY KEY".into());
        }
        cols.extend(
            t.types
                .iter()
                .enumerate()
                .map(|(i, ty)| format!("c{i} {ty}")),
        );
        db.execute(
            &format!("CREATE TABLE \"t {n}\" ({})", cols.join(", ")),
            &[],
        )?;
        if let Some(i) = t.index_on {
            if !t.types[i].starts_with("VECTOR") && !t.types[i].starts_with("HALFVEC") {
                db.execute(&format!("CREATE INDEX i{n} ON \"t {n}\" (c{i})"), &[])?;
            }
        }
        let names: Vec<String> = (0..t.types.len()).map(|i| format!("c{i}")).collect();
        let params: Vec<String> = (1..=t.types.len()).map(|i| format!("${i}")).collect();
        let insert = format!(
            "INSERT INTO \"t {n}\" ({}) VALUES ({})",
            names.join(", "),
            params.join(", ")
        );
        for row in &t.rows {
            db.execute(&insert, row)?;
        }
    }
    db.execute("CREATE VIEW everything AS SELECT 1 AS one", &[])?;
    Ok(db)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn dump_then_load_gives_the_same_state_root(tables in proptest::collection::vec(table(), 1..4)) {
        let db = build(&tables).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut text = Vec::new();
        cairn_cli::dump::dump(&db, None, &mut text, &AtomicBool::new(false))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let text = String::from_utf8(text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let copy = Database::open_in_memory().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut errors = Vec::new();
        let mut shell = Shell::new(copy.connect(), Vec::new(), &mut errors);
        shell.run_script(&text);
        let failed = shell.error_count();
        drop(shell);
        prop_assert_eq!(failed, 0, "{}\n{}", String::from_utf8_lossy(&errors), text);
        prop_assert_eq!(copy.state_root(), db.state_root(), "{}", text);
        prop_assert_eq!(copy.table_names(), db.table_names());
    }
}

#[test]
fn dump_on_the_command_line_recreates_a_database() -> TestResult {
    let dir = tempfile::tempdir()?;
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let (a, b) = (a.to_str().ok_or("path")?, b.to_str().ok_or("path")?);
    let setup = "CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT, e VECTOR(2)); \
                 CREATE INDEX docs_e ON docs USING hnsw (e); \
                 INSERT INTO docs VALUES (1, 'it''s', '[0.5,1]'), (2, NULL, '[1e-7,-3]'); \
                 CREATE TABLE other (x REAL); INSERT INTO other VALUES (0.1), (1e300);";
    let r = cairn(&[a, "-c", setup], "")?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let dump = cairn(&[a, "-c", ".dump"], "")?;
    assert_eq!(dump.code, Some(0), "{}", dump.stderr);
    assert!(
        dump.stdout
            .contains("INSERT INTO \"docs\" VALUES (1, 'it''s', '[0.5,1]');"),
        "{}",
        dump.stdout
    );
    let r = cairn(&[b], &dump.stdout)?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let root_a = cairn(&["root", a], "")?.stdout;
    let root_b = cairn(&["root", b], "")?.stdout;
    assert_eq!(root_a.trim().len(), 64);
    assert_eq!(root_a, root_b);
    // One table only.
    let one = cairn(&[a, "-c", ".dump other"], "")?;
    assert!(one.stdout.contains("CREATE TABLE other"), "{}", one.stdout);
    assert!(!one.stdout.contains("docs"), "{}", one.stdout);
    Ok(())
}

/// A view that reads another view is dumped after it, whatever their
/// names' order, so the dump loads.
#[test]
fn dump_orders_views_by_what_they_read() -> TestResult {
    let setup = "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2); \
                 CREATE VIEW z_base AS SELECT x FROM t WHERE x > 1; \
                 CREATE VIEW a_top AS SELECT x * 10 AS y FROM z_base; \
                 CREATE VIEW m_mid AS SELECT y + 1 AS w FROM a_top;";
    let dump = cairn(&["-c", setup, "-c", ".dump"], "")?;
    assert_eq!(dump.code, Some(0), "{}", dump.stderr);
    let at = |name: &str| dump.stdout.find(&format!("CREATE VIEW {name}"));
    assert!(
        at("z_base") < at("a_top") && at("a_top") < at("m_mid"),
        "{}",
        dump.stdout
    );
    let load = format!("{}\nSELECT w FROM m_mid;\n", dump.stdout);
    let r = cairn(&["-list", "-noheader"], &load)?;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "21");
    Ok(())
}
