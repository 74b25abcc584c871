//! Property tests of the public API.
//!
//! (a) Random SQL text — token soup, grammar-built statements and mutated
//!     statements — never panics, never yields `ErrorKind::Internal`, and
//!     leaves the database answering correctly.
//! (b) Random parameter values bound into typed columns either store what
//!     was written (modulo the documented column conversions) or fail with a
//!     typed error.
//! (c) Random INSERT/UPDATE/DELETE/SELECT sequences inside random
//!     BEGIN/COMMIT/ROLLBACK agree with a `BTreeMap` model after every step,
//!     for the writing connection and for a second connection.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use cairn::{params, Database, Error, ErrorKind, Value};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn config(cases: u32) -> Config {
    Config {
        cases,
        // Keep regressions out of the source tree; a failure prints the
        // shrunk input instead.
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    }
}

/// Runs `f`, turning a panic into an `Err` with the panic message.
fn no_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        if let Some(s) = p.downcast_ref::<&str>() {
            s.to_string()
        } else if let Some(s) = p.downcast_ref::<String>() {
            s.clone()
        } else {
            "non-string panic payload".to_string()
        }
    })
}

// ---------------------------------------------------------------------------
// (a) random SQL text
// ---------------------------------------------------------------------------

const T_ROWS: i64 = 10;
const U_ROWS: i64 = 5;

fn fixture() -> Database {
    let db = Database::open_in_memory().expect("open");
    db.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL);
         CREATE INDEX t_a ON t (a);
         CREATE TABLE u (id INTEGER PRIMARY KEY, t_id INTEGER, d TEXT, e BOOLEAN);",
    )
    .expect("create fixture tables");
    for i in 1..=T_ROWS {
        let b = if i % 4 == 0 {
            Value::Null
        } else {
            Value::from(format!("row {i}"))
        };
        db.execute(
            "INSERT INTO t VALUES ($1, $2, $3, $4)",
            &[i.into(), (i % 3).into(), b, (i as f64 / 4.0).into()],
        )
        .expect("insert t");
    }
    for i in 1..=U_ROWS {
        db.execute(
            "INSERT INTO u VALUES ($1, $2, $3, $4)",
            params![i, i * 2, format!("d{i}"), i % 2 == 0],
        )
        .expect("insert u");
    }
    db
}

const KEYWORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "INSERT",
    "INTO",
    "VALUES",
    "UPDATE",
    "SET",
    "DELETE",
    "CREATE",
    "TABLE",
    "INDEX",
    "VIEW",
    "DROP",
    "ALTER",
    "ADD",
    "COLUMN",
    "JOIN",
    "LEFT",
    "RIGHT",
    "FULL",
    "CROSS",
    "INNER",
    "OUTER",
    "NATURAL",
    "USING",
    "ON",
    "GROUP BY",
    "ORDER BY",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "UNION",
    "UNION ALL",
    "INTERSECT",
    "EXCEPT",
    "ALL",
    "DISTINCT",
    "AS",
    "AND",
    "OR",
    "NOT",
    "NULL",
    "IS",
    "IN",
    "EXISTS",
    "BETWEEN",
    "LIKE",
    "GLOB",
    "ESCAPE",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "CAST",
    "WITH",
    "OVER",
    "PARTITION BY",
    "ROWS",
    "PRECEDING",
    "FOLLOWING",
    "UNBOUNDED",
    "CURRENT ROW",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "PRIMARY KEY",
    "UNIQUE",
    "CHECK",
    "DEFAULT",
    "REFERENCES",
    "RETURNING",
    "EXPLAIN",
    "ASC",
    "DESC",
    "NULLS FIRST",
    "INTEGER",
    "TEXT",
    "REAL",
    "BLOB",
    "BOOLEAN",
    "TIMESTAMP",
    "JSON",
    "TRUE",
    "FALSE",
    "COLLATE",
    "IF EXISTS",
    "IF NOT EXISTS",
];

const IDENTS: &[&str] = &[
    "t", "u", "id", "a", "b", "c", "d", "e", "t_id", "t.id", "t.a", "t.b", "u.id", "u.t_id", "u.d",
    "x", "nosuch", "t.*", "*", "\"t\"", "\"a b\"", "\"\"", "s", "s.a", "cte",
];

const FUNCS: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "total",
    "group_concat",
    "abs",
    "round",
    "length",
    "lower",
    "upper",
    "substr",
    "trim",
    "replace",
    "instr",
    "hex",
    "unhex",
    "quote",
    "char",
    "unicode",
    "coalesce",
    "ifnull",
    "nullif",
    "iif",
    "typeof",
    "like",
    "glob",
    "printf",
    "concat",
    "left",
    "right",
    "reverse",
    "split_part",
    "date",
    "time",
    "datetime",
    "julianday",
    "unixepoch",
    "strftime",
    "json",
    "json_extract",
    "json_array",
    "json_object",
    "json_set",
    "json_type",
    "sqrt",
    "power",
    "ln",
    "log",
    "mod",
    "sign",
    "row_number",
    "rank",
    "nosuchfn",
];

/// Functions with their argument counts (min, max), for the grammar.
const FUNC_ARITY: &[(&str, usize, usize)] = &[
    ("count", 1, 1),
    ("sum", 1, 1),
    ("avg", 1, 1),
    ("min", 1, 1),
    ("max", 1, 1),
    ("total", 1, 1),
    ("group_concat", 1, 2),
    ("abs", 1, 1),
    ("round", 1, 2),
    ("length", 1, 1),
    ("lower", 1, 1),
    ("upper", 1, 1),
    ("substr", 2, 3),
    ("trim", 1, 2),
    ("replace", 3, 3),
    ("instr", 2, 2),
    ("hex", 1, 1),
    ("unhex", 1, 2),
    ("quote", 1, 1),
    ("char", 0, 3),
    ("unicode", 1, 1),
    ("coalesce", 2, 3),
    ("ifnull", 2, 2),
    ("nullif", 2, 2),
    ("iif", 3, 3),
    ("typeof", 1, 1),
    ("like", 2, 3),
    ("glob", 2, 2),
    ("concat", 1, 3),
    ("left", 2, 2),
    ("right", 2, 2),
    ("reverse", 1, 1),
    ("split_part", 3, 3),
    ("date", 0, 3),
    ("time", 0, 3),
    ("datetime", 0, 3),
    ("julianday", 1, 3),
    ("unixepoch", 0, 3),
    ("strftime", 1, 3),
    ("json", 1, 1),
    ("json_extract", 2, 3),
    ("json_array", 0, 3),
    ("json_object", 0, 2),
    ("json_set", 3, 3),
    ("json_type", 1, 2),
    ("sqrt", 1, 1),
    ("power", 2, 2),
    ("ln", 1, 1),
    ("log", 1, 2),
    ("mod", 2, 2),
    ("sign", 1, 1),
    ("atan2", 2, 2),
    ("nosuchfn", 0, 3),
];

/// Functions whose output size depends on an argument: called only with
/// literal arguments so that arithmetic cannot ask for a gigabyte.
const SIZED_FUNCS: &[&str] = &[
    "zeroblob",
    "randomblob",
    "repeat",
    "lpad",
    "rpad",
    "printf",
    "format",
    "substr",
];

const LITERALS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "42",
    "3.5",
    "-0.0",
    "1e308",
    "1e999",
    "-1e999",
    "2147483647",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551616",
    "0.000000001",
    "'abc'",
    "''",
    "'it''s'",
    "'%'",
    "'_a%'",
    "'{\"k\": [1, 2]}'",
    "'$.k[1]'",
    "'2024-02-29 12:34:56'",
    "'9999-12-31'",
    "'not a date'",
    "'%d %s %9999d'",
    "'%'",
    "'ünï©ødé ✓'",
    "X'00ff'",
    "x''",
    "NULL",
    "TRUE",
    "FALSE",
    "$1",
    "$2",
    "$3",
    "$0",
    "$99999",
    "?",
];

const OPERATORS: &[&str] = &[
    "+", "-", "*", "/", "%", "||", "=", "==", "<>", "!=", "<", "<=", ">", ">=", ",", ";", ".", "(",
    ")", "((", "))", "::", "->", "->>", "&", "|", "<<", ">>", "~", "!", "@", "#", "^",
];

/// Binary operators that the grammar-built statements use.
const BINOPS: &[&str] = &[
    "+", "-", "*", "/", "%", "||", "=", "<>", "!=", "<", "<=", ">", ">=", "AND", "OR", "&", "|",
    "<<", ">>", "LIKE",
];

const GARBAGE: &[&str] = &[
    "'",
    "\"",
    "`",
    "[",
    "]",
    "/*",
    "*/",
    "--",
    "\\",
    "\u{0}",
    "\u{feff}",
    "\r\n",
    "\t",
    "$",
    "$$",
    "E'\\x'",
    "U&'\\0041'",
    "0x",
    "1e",
    "..",
    "'''",
    ":a",
    "@p",
];

fn pick(list: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(list).prop_map(str::to_string)
}

fn token() -> BoxedStrategy<String> {
    prop_oneof![
        6 => pick(KEYWORDS),
        5 => pick(IDENTS),
        4 => pick(LITERALS),
        4 => pick(OPERATORS),
        2 => pick(FUNCS).prop_map(|f| format!("{f}(")),
        1 => pick(GARBAGE),
        // arbitrary unicode, control characters included
        1 => "\\PC{0,6}",
        1 => any::<String>().prop_map(|s| s.chars().take(8).collect()),
        1 => any::<i64>().prop_map(|i| i.to_string()),
        1 => any::<f64>().prop_map(|f| format!("{f:?}")),
    ]
    .boxed()
}

fn soup() -> BoxedStrategy<String> {
    (prop::collection::vec(token(), 0..24), any::<bool>())
        .prop_map(
            |(toks, tight)| {
                if tight {
                    toks.concat()
                } else {
                    toks.join(" ")
                }
            },
        )
        .boxed()
}

/// Column references for expressions over both tables (a join).
const BOTH_COLS: &[&str] = &[
    "t.id", "t.a", "t.b", "t.c", "u.id", "u.t_id", "u.d", "u.e", "a", "b", "c", "d", "e", "t_id",
];
const T_COLS: &[&str] = &["t.id", "t.a", "t.b", "t.c", "id", "a", "b", "c"];
const U_COLS: &[&str] = &["u.id", "u.t_id", "u.d", "u.e", "id", "t_id", "d", "e"];

fn leaf(cols: &'static [&'static str]) -> BoxedStrategy<String> {
    let literal = prop_oneof![
        // `?` is left to the token soup: each takes the next of the three
        // bound parameters, so a few of them would fail the statement early.
        3 => prop::sample::select(
            LITERALS.iter().copied().filter(|l| *l != "?").collect::<Vec<_>>()
        )
        .prop_map(str::to_string),
        1 => (-5i64..20).prop_map(|i| i.to_string()),
    ];
    if cols.is_empty() {
        return literal.boxed();
    }
    prop_oneof![
        6 => pick(cols),
        1 => Just("nosuch".to_string()),
        4 => literal,
    ]
    .boxed()
}

fn expr() -> BoxedStrategy<String> {
    expr_over(BOTH_COLS)
}

/// Expressions whose column references come from `cols` (none: constants).
fn expr_over(cols: &'static [&'static str]) -> BoxedStrategy<String> {
    leaf(cols)
        .prop_recursive(3, 24, 3, |inner| {
            let sized_arg = pick(&[
                "0",
                "1",
                "-1",
                "3",
                "2147483647",
                "-9223372036854775808",
                "NULL",
                "'x'",
                "1e999",
            ]);
            prop_oneof![
                (inner.clone(), pick(BINOPS), inner.clone())
                    .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
                (pick(&["NOT", "-", "+", "~"]), inner.clone())
                    .prop_map(|(op, a)| format!("{op} {a}")),
                (
                    prop::sample::select(FUNC_ARITY),
                    prop::collection::vec(inner.clone(), 0..4),
                    0..10u8
                )
                    .prop_map(|((f, lo, hi), mut args, wrong)| {
                        // Mostly a valid argument count, sometimes not.
                        if wrong > 0 {
                            args.truncate(hi);
                            while args.len() < lo {
                                args.push("1".to_string());
                            }
                        }
                        format!("{f}({})", args.join(", "))
                    }),
                (
                    pick(SIZED_FUNCS),
                    pick(LITERALS),
                    prop::collection::vec(sized_arg, 0..3)
                )
                    .prop_map(|(f, a, rest)| {
                        let mut args = vec![a];
                        args.extend(rest);
                        format!("{f}({})", args.join(", "))
                    }),
                (inner.clone(), inner.clone(), inner.clone())
                    .prop_map(|(a, b, c)| format!("CASE WHEN {a} THEN {b} ELSE {c} END")),
                inner.clone().prop_map(|a| format!("{a} IS NULL")),
                (inner.clone(), inner.clone(), inner.clone())
                    .prop_map(|(a, b, c)| format!("{a} BETWEEN {b} AND {c}")),
                (inner.clone(), prop::collection::vec(inner.clone(), 1..4))
                    .prop_map(|(a, l)| format!("{a} IN ({})", l.join(", "))),
                (
                    inner.clone(),
                    pick(&[
                        "INTEGER",
                        "REAL",
                        "TEXT",
                        "BLOB",
                        "BOOLEAN",
                        "TIMESTAMP",
                        "JSON",
                        "VARCHAR(3)",
                        "NOSUCHTYPE"
                    ])
                )
                    .prop_map(|(a, ty)| format!("CAST({a} AS {ty})")),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, w)| format!("(SELECT {a} FROM t WHERE {w} LIMIT 1)")),
                inner
                    .clone()
                    .prop_map(|w| format!("EXISTS (SELECT 1 FROM u WHERE {w})")),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| format!("{a} IN (SELECT {b} FROM u)")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} LIKE {b}")),
                (
                    pick(&["row_number()", "rank()", "sum(a)", "count(*)", "max(b)"]),
                    inner.clone(),
                    inner
                )
                    .prop_map(|(f, p, o)| format!("{f} OVER (PARTITION BY {p} ORDER BY {o})")),
            ]
        })
        .boxed()
}

fn from_clause() -> BoxedStrategy<String> {
    prop_oneof![
        8 => Just("t JOIN u ON t.id = u.t_id".to_string()),
        1 => Just("t".to_string()),
        1 => Just("u".to_string()),
        2 => Just("t, u".to_string()),
        2 => expr().prop_map(|on| format!("t JOIN u ON {on}")),
        2 => expr().prop_map(|on| format!("t LEFT JOIN u ON {on}")),
        1 => expr_over(T_COLS).prop_map(|w| format!("(SELECT * FROM t WHERE {w}) AS t, u")),
        1 => Just("nosuch".to_string()),
    ]
    .boxed()
}

fn select() -> BoxedStrategy<String> {
    (
        any::<bool>(),
        prop::collection::vec(expr(), 1..4),
        from_clause(),
        prop::option::of(expr()),
        prop::option::of((expr(), prop::option::of(expr()))),
        prop::option::of((expr(), any::<bool>())),
        prop::option::of(pick(&[
            "0",
            "1",
            "3",
            "-1",
            "$1",
            "NULL",
            "'x'",
            "9223372036854775807",
        ])),
        prop::option::of(pick(&["0", "2", "-1", "$1", "9223372036854775807"])),
    )
        .prop_map(
            |(distinct, cols, from, filter, group, order, limit, offset)| {
                let mut s = format!(
                    "SELECT {}{} FROM {from}",
                    if distinct { "DISTINCT " } else { "" },
                    cols.join(", ")
                );
                if let Some(w) = filter {
                    s.push_str(&format!(" WHERE {w}"));
                }
                if let Some((g, h)) = group {
                    s.push_str(&format!(" GROUP BY {g}"));
                    if let Some(h) = h {
                        s.push_str(&format!(" HAVING {h}"));
                    }
                }
                if let Some((o, desc)) = order {
                    s.push_str(&format!(" ORDER BY {o}{}", if desc { " DESC" } else { "" }));
                }
                if let Some(l) = limit {
                    s.push_str(&format!(" LIMIT {l}"));
                    if let Some(o) = offset {
                        s.push_str(&format!(" OFFSET {o}"));
                    }
                }
                s
            },
        )
        .boxed()
}

fn statement() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(),
        1 => (select(), pick(&["UNION", "UNION ALL", "INTERSECT", "EXCEPT"]), select())
            .prop_map(|(a, op, b)| format!("({a}) {op} ({b})")),
        1 => (expr(), select()).prop_map(|(e, s)| format!("WITH cte AS (SELECT {e} AS x FROM t) {s}")),
        1 => prop::collection::vec(expr_over(&[]), 1..5)
            .prop_map(|v| format!("INSERT INTO t (id, a, b, c) VALUES ({})", v.join(", "))),
        1 => (expr(), select()).prop_map(|(_, s)| format!("INSERT INTO u {s}")),
        1 => (pick(&["a", "b", "c", "id"]), expr_over(T_COLS), expr_over(T_COLS))
            .prop_map(|(c, v, w)| format!("UPDATE t SET {c} = {v} WHERE {w}")),
        1 => expr_over(T_COLS).prop_map(|w| format!("DELETE FROM t WHERE {w}")),
        1 => expr_over(U_COLS).prop_map(|w| format!("DELETE FROM u WHERE {w}")),
        1 => select().prop_map(|s| format!("EXPLAIN {s}")),
    ]
    .boxed()
}

/// A well-formed statement with a few tokens inserted, replaced or removed.
fn mutated() -> BoxedStrategy<String> {
    (
        statement(),
        prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, token()), 1..4),
    )
        .prop_map(|(s, edits)| {
            let mut toks: Vec<String> = s.split(' ').map(str::to_string).collect();
            for (at, op, tok) in edits {
                let i = at.index(toks.len() + 1);
                match op {
                    0 => toks.insert(i, tok),
                    1 if i < toks.len() => toks[i] = tok,
                    _ if i < toks.len() => {
                        toks.remove(i);
                    }
                    _ => toks.push(tok),
                }
            }
            toks.join(" ")
        })
        .boxed()
}

fn random_sql() -> BoxedStrategy<String> {
    prop_oneof![
        2 => soup(),
        6 => statement(),
        2 => mutated(),
    ]
    .boxed()
}

/// How a random statement is run.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Execute,
    Query,
    Prepared,
    Batch,
}

/// Runs `sql` the way `mode` says; returns whether any result value was a
/// REAL NaN (SQL has no NaN: SQLite turns it into NULL).
fn run_mode(db: &Database, sql: &str, mode: Mode) -> cairn::Result<bool> {
    let params = [Value::Integer(1), Value::text("x"), Value::Null];
    let nan_in = |rows: &cairn::RowSet| {
        let mut nan = false;
        for r in rows.iter() {
            for v in r.values() {
                let _ = v.to_string();
                nan |= is_nan(v);
            }
        }
        nan
    };
    match mode {
        Mode::Execute => db.execute(sql, &params).map(|_| false),
        Mode::Query => db
            .query(sql, &params)
            .and_then(|r| r.fetch_all())
            .map(|rows| nan_in(&rows)),
        Mode::Prepared => {
            let mut st = db.prepare(sql)?;
            let _ = st.parameter_count();
            let first = st.query(&params)?.fetch_all()?;
            // Twice: a cached plan must behave like a fresh one.
            let second = st.query(&params)?.fetch_all()?;
            Ok(nan_in(&first) || nan_in(&second))
        }
        Mode::Batch => db
            .run_batch(sql)
            .map(|outs| outs.iter().any(|o| o.rows.iter().flatten().any(is_nan))),
    }
}

fn mentions_ddl(sql: &str) -> bool {
    let up = sql.to_ascii_uppercase();
    ["DROP", "ALTER", "CREATE"].iter().any(|k| up.contains(k))
}

fn count_t(db: &Database) -> cairn::Result<i64> {
    db.query_row("SELECT count(*) FROM t", params![], |r| r.get(0))
}

/// Something wrong with how the engine handled one random statement.
#[derive(Debug)]
struct Problem {
    /// Short and input-independent: groups the same bug across inputs.
    signature: String,
    /// Everything, including the input.
    detail: String,
}

/// Engine bugs found by these tests and not fixed yet (they belong to the
/// engine's owners). A problem whose signature contains one of these
/// strings is tolerated by the random-SQL properties so that they keep
/// looking for new bugs; `known_engine_bugs_fixed` (ignored) checks each
/// reproduction and fails until the bug is fixed.
const KNOWN_BUGS: &[KnownBug] = &[
    // Empty: every bug found so far is fixed. Add an entry (with a
    // reproduction) when the property finds a new one.
];

struct KnownBug {
    /// Substring of the problem's signature.
    signature: &'static str,
    /// Substring the input must contain for the problem to be this bug.
    sql_contains: &'static str,
    /// A reproduction that must stop failing once the bug is fixed.
    repro: &'static str,
}

fn known_bug(p: &Problem, sql: &str) -> Option<&'static KnownBug> {
    KNOWN_BUGS
        .iter()
        .find(|k| p.signature.contains(k.signature) && sql.contains(k.sql_contains))
}

/// Runs one random statement on a fresh fixture and checks the aftermath.
fn random_sql_problem(sql: &str, mode: Mode, in_tx: bool) -> Option<Problem> {
    random_sql_outcome(sql, mode, in_tx).1
}

/// Like [`random_sql_problem`], also returning how the statement ended
/// (`Ok` or its error kind; `None` for a panic).
fn random_sql_outcome(
    sql: &str,
    mode: Mode,
    in_tx: bool,
) -> (Option<Result<(), ErrorKind>>, Option<Problem>) {
    let problem = |signature: String, what: String| {
        Some(Problem {
            detail: format!("{what} [{mode:?}, in_tx={in_tx}]: {sql:?}"),
            signature,
        })
    };
    let db = fixture();
    let outcome = no_panic(|| {
        if in_tx {
            let tx = db.transaction()?;
            let r = run_mode(&tx, sql, mode);
            drop(tx); // rolls back whatever the statement did
            r
        } else {
            run_mode(&db, sql, mode)
        }
    });
    let ended = match &outcome {
        Err(_) => None,
        Ok(r) => Some(r.as_ref().map(|_| ()).map_err(Error::kind)),
    };
    match outcome {
        Err(panic) => {
            return (
                ended,
                problem(format!("panic: {panic}"), format!("PANIC: {panic}")),
            )
        }
        Ok(Err(e)) if e.kind() == ErrorKind::Internal => {
            return (
                ended,
                problem(format!("{e}"), format!("Internal error: {e}")),
            )
        }
        Ok(Ok(true)) => {
            return (
                ended,
                problem(
                    "result contains REAL NaN".to_string(),
                    "a result value is REAL NaN (must be NULL)".to_string(),
                ),
            )
        }
        Ok(_) => {}
    }
    // A statement like BEGIN may leave a transaction open: close it.
    if db.in_transaction() {
        if let Err(e) = db.execute("ROLLBACK", params![]) {
            return (
                ended,
                problem(format!("rollback failed: {e}"), format!("ROLLBACK: {e}")),
            );
        }
    }
    let ddl = mentions_ddl(sql);
    let check = no_panic(|| -> cairn::Result<Option<String>> {
        let n = match count_t(&db) {
            Ok(n) => n,
            Err(e) if ddl && e.kind() == ErrorKind::NoSuchObject => return Ok(None),
            Err(e) => return Err(e),
        };
        if in_tx && !ddl && n != T_ROWS {
            return Ok(Some(format!(
                "rolled-back statement changed t: {n} rows, not {T_ROWS}"
            )));
        }
        // Whatever happened, count(*) agrees with the rows themselves...
        let rows = db
            .query("SELECT * FROM t ORDER BY id", params![])?
            .fetch_all()?;
        if rows.len() as i64 != n {
            return Ok(Some(format!(
                "count(*) = {n} but SELECT * returned {} rows",
                rows.len()
            )));
        }
        // ... and with a scan of the index on `a`, when every `a` is a
        // number or NULL (TEXT that did not convert is not >= any integer).
        // The bound is -infinity (`-1e999`), not i64::MIN: a REAL -inf
        // (`SET a = -1e999`) is below every integer, in SQLite too.
        let non_numeric: i64 = db.query_row(
            "SELECT count(*) FROM t WHERE typeof(a) NOT IN ('integer', 'real', 'null')",
            params![],
            |r| r.get(0),
        )?;
        let by_index: i64 = db.query_row(
            "SELECT count(*) FROM t WHERE a >= -1e999 OR a IS NULL",
            params![],
            |r| r.get(0),
        )?;
        if non_numeric == 0 && by_index != n {
            return Ok(Some(format!(
                "index scan counts {by_index} rows, table has {n}"
            )));
        }
        Ok(None)
    });
    let p = match check {
        Err(panic) => problem(
            format!("panic afterwards: {panic}"),
            format!("PANIC in the follow-up checks: {panic}"),
        ),
        Ok(Err(e)) => problem(
            format!("follow-up query failed: {:?}", e.kind()),
            format!("follow-up query failed: {e}"),
        ),
        Ok(Ok(Some(what))) => problem(what.clone(), what),
        Ok(Ok(None)) => None,
    };
    (ended, p)
}

fn check_random_sql(sql: &str, mode: Mode, in_tx: bool) -> Result<(), TestCaseError> {
    match random_sql_problem(sql, mode, in_tx) {
        Some(p) if known_bug(&p, sql).is_none() => Err(TestCaseError::fail(p.detail)),
        _ => Ok(()),
    }
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Execute),
        Just(Mode::Query),
        Just(Mode::Prepared),
        Just(Mode::Batch),
    ]
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn random_sql_never_panics_or_fails_internally(
        sql in random_sql(),
        mode in mode(),
        in_tx in any::<bool>(),
    ) {
        check_random_sql(&sql, mode, in_tx)?;
    }
}

/// Runs many random statements without stopping at the first problem and
/// prints one example per distinct problem (known bugs included):
/// `CAIRN_EXPLORE_CASES=50000 cargo test -p cairn --test proptest_api
/// explore_random_sql -- --ignored --nocapture`.
#[test]
#[ignore = "exploration tool, prints every distinct problem; run by hand"]
fn explore_random_sql() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let cases: usize = std::env::var("CAIRN_EXPLORE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut runner = TestRunner::new(config(1));
    let strategy = (random_sql(), mode(), any::<bool>());
    let mut seen: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    // CAIRN_EXPLORE_SHOW=Syntax prints examples of statements ending so.
    let show = std::env::var("CAIRN_EXPLORE_SHOW").ok();
    let mut shown = 0;
    for _ in 0..cases {
        let (sql, mode, in_tx) = strategy
            .new_tree(&mut runner)
            .expect("generate a case")
            .current();
        let (ended, problem) = random_sql_outcome(&sql, mode, in_tx);
        let label = format!("{ended:?}");
        if let Some(show) = &show {
            if label.contains(show.as_str()) && shown < 30 {
                shown += 1;
                eprintln!("{label}: {sql:?}");
            }
        }
        *outcomes.entry(label).or_insert(0) += 1;
        if let Some(p) = problem {
            let e = seen.entry(p.signature).or_insert((0, p.detail));
            e.0 += 1;
            if sql.len() < e.1.len() {
                e.1 = format!("{mode:?} in_tx={in_tx}: {sql:?}");
            }
        }
    }
    eprintln!("outcomes: {outcomes:?}");
    eprintln!("{} distinct problems in {cases} cases", seen.len());
    for (sig, (n, example)) in &seen {
        eprintln!("[{n}x] {sig}\n    shortest: {example}");
    }
}

/// Each known engine bug's reproduction, through every API path. Fails
/// until the engine bugs listed in `KNOWN_BUGS` are fixed; then delete the
/// entries (and this `ignore`).
#[test]
fn known_engine_bugs_fixed() {
    let mut failures = Vec::new();
    for bug in KNOWN_BUGS {
        for mode in [Mode::Execute, Mode::Query, Mode::Prepared, Mode::Batch] {
            if let Some(p) = random_sql_problem(bug.repro, mode, false) {
                failures.push(p.detail);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `?` placeholders number themselves left to right, like `$1`, `$2`
/// (they were a syntax error under the PostgreSQL dialect until the
/// engine switched to its own dialect).
#[test]
fn question_mark_placeholders() {
    let db = fixture();
    let n: i64 = db
        .query_row(
            "SELECT count(*) FROM t WHERE id > ? AND id < ?",
            params![2, 5],
            |r| r.get(0),
        )
        .expect("`?` placeholders");
    assert_eq!(n, 2);
}

/// ENGINE BUG (reported): `?` placeholders are numbered in the order the
/// binder visits them (FROM/WHERE before the select list, WHERE before
/// SET), not in text order as in SQLite. Repro: with params (1, 'x'),
/// `UPDATE t SET b = ? WHERE id = ?` sets b = 'x' on row 1 instead of
/// matching no row, and `SELECT ? FROM t WHERE id = ?` returns 'x' for
/// row 1 instead of no row.
#[test]
fn question_marks_number_in_text_order() {
    let db = fixture();
    let n = db
        .execute("UPDATE t SET b = ? WHERE id = ?", params!["new", 3])
        .expect("UPDATE with ?");
    assert_eq!(n, 1, "UPDATE t SET b = ? WHERE id = ? with ('new', 3)");
    let b: String = db
        .query_row("SELECT b FROM t WHERE id = 3", params![], |r| r.get(0))
        .expect("read b");
    assert_eq!(b, "new");
    let rows = db
        .query("SELECT ?, id FROM t WHERE id = ?", params!["label", 4])
        .and_then(|r| r.fetch_all())
        .expect("SELECT with ?");
    let got = rows
        .map(|r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?)))
        .expect("rows");
    assert_eq!(got, vec![("label".to_string(), 4)]);
}

/// Runs the statements in `CAIRN_REPRO` (one per line, in order, on one
/// copy of the random-SQL fixture) and prints each outcome: for minimizing a problem
/// found by the properties above.
#[test]
#[ignore = "debugging tool; set CAIRN_REPRO and run with --ignored --nocapture"]
fn repro() {
    let Ok(text) = std::env::var("CAIRN_REPRO") else {
        return;
    };
    // One database for all lines, so a repro can create what it needs.
    let db = fixture();
    for sql in text.lines().filter(|l| !l.trim().is_empty()) {
        let started = std::time::Instant::now();
        let out = no_panic(|| {
            db.query(sql, &[Value::Integer(1), Value::text("x"), Value::Null])
                .and_then(|r| r.fetch_all())
        });
        let ms = started.elapsed().as_secs_f64() * 1e3;
        match out {
            Ok(Ok(rows)) => {
                eprintln!("OK {} rows ({ms:.1} ms): {sql}", rows.len());
                for r in rows.iter().take(5) {
                    eprintln!("    {:?}", r.values());
                }
            }
            Ok(Err(e)) => eprintln!("ERR {:?} {e} ({ms:.1} ms): {sql}", e.kind()),
            Err(p) => eprintln!("PANIC {p} ({ms:.1} ms): {sql}"),
        }
    }
}

/// Inputs that once broke (or could plausibly break) the engine, run every
/// time. Each must not panic and must not return an Internal error.
#[test]
fn random_sql_fixed_cases() {
    let cases = [
        "SELECT",
        "",
        ";",
        ";;",
        "SELECT 9223372036854775807 + 1",
        "SELECT -9223372036854775808 / -1",
        "SELECT -9223372036854775808 % -1",
        "SELECT abs(-9223372036854775808)",
        "SELECT 1 / 0, 1 % 0, 1.0 / 0",
        "SELECT 1e999 - 1e999, 0.0 * 1e999, sqrt(-1), ln(-1), acos(2), power(-1, 0.5)",
        "SELECT sum(x), avg(x), total(x) FROM (SELECT 1e999 AS x UNION ALL SELECT -1e999 AS x) AS s",
        // A window function inside an aggregate's argument (found by the
        // random-SQL property): a plan error, never an internal one.
        "SELECT count(row_number() OVER (PARTITION BY t.id ORDER BY t.id)) FROM t JOIN u ON t.id = u.t_id",
        "SELECT sum(count(*) OVER ()) FROM t",
        "SELECT CAST('nan' AS REAL), CAST('inf' AS REAL), CAST(1e999 AS JSON)",
        "SELECT zeroblob(-1), zeroblob(2147483647)",
        "SELECT repeat('x', -1), repeat('x', 2147483647)",
        "SELECT lpad('x', 2147483647)",
        "SELECT printf('%99999d', 1), printf('%.99999f', 1.5)",
        "SELECT substr('abc', -9223372036854775808, 9223372036854775807)",
        "SELECT substr('abc', 9223372036854775807, 9223372036854775807)",
        "SELECT char(1114112), char(-1), unicode('')",
        "SELECT json_extract('{\"a\":1}', '$[')",
        "SELECT CAST(1e999 AS INTEGER), CAST('x' AS TIMESTAMP)",
        "SELECT * FROM t LIMIT -1 OFFSET 9223372036854775807",
        "SELECT * FROM t ORDER BY 99",
        "SELECT * FROM t ORDER BY 0",
        "SELECT a FROM t GROUP BY 5",
        "SELECT $0",
        "SELECT $99999",
        "SELECT ?",
        "SELECT row_number() OVER ()",
        "SELECT count(*) OVER (ORDER BY a ROWS BETWEEN 9223372036854775807 PRECEDING AND 9223372036854775807 FOLLOWING) FROM t",
        "SELECT sum(a) FROM t WHERE a IN (SELECT a FROM t WHERE a IN (SELECT a FROM t))",
        "SELECT (SELECT a, b FROM t)",
        "SELECT (SELECT a FROM t)",
        "SELECT * FROM t WHERE (a, b) = (1, 2)",
        "SELECT * FROM t NATURAL JOIN u",
        "SELECT * FROM t JOIN u USING (id)",
        "SELECT * FROM t FULL JOIN u ON t.id = u.t_id",
        "SELECT * FROM t RIGHT JOIN u ON t.id = u.t_id",
        "INSERT INTO t VALUES (1, 1, 'x', 1.0)",
        "INSERT INTO t (id) VALUES (NULL)",
        "INSERT INTO t (a, a) VALUES (1, 2)",
        "INSERT INTO t DEFAULT VALUES",
        "UPDATE t SET id = id + 1",
        "UPDATE t SET id = 1",
        "UPDATE t SET a = 1, a = 2",
        "DELETE FROM t WHERE id IN (SELECT id FROM t)",
        "SELECT 'a' || x'00'",
        "SELECT '\u{0}'",
        "SELECT length(x'') IS NULL",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 50) SELECT sum(n) FROM r",
        "WITH cte AS (SELECT 1) SELECT * FROM cte, cte",
        "SELECT * FROM (SELECT * FROM (SELECT * FROM (SELECT * FROM t)))",
        "SELECT DISTINCT * FROM t, u ORDER BY 1 DESC LIMIT 3",
        "EXPLAIN SELECT * FROM t JOIN u ON t.id = u.t_id WHERE t.a = 1",
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT s",
        "RELEASE s",
        "ROLLBACK TO s",
        "CREATE TABLE t (x INTEGER)",
        "CREATE INDEX t_a ON t (a)",
        "CREATE INDEX i2 ON t (nosuch)",
        "CREATE TABLE w (x INTEGER PRIMARY KEY, x TEXT)",
        "CREATE VIEW vv AS SELECT * FROM vv",
        "ALTER TABLE t ADD COLUMN z INTEGER NOT NULL",
        "ALTER TABLE t DROP COLUMN id",
        "ALTER TABLE t RENAME TO u",
        "DROP TABLE nosuch",
        "DROP INDEX t_a",
        // -infinity is below every integer: the follow-up index check once
        // took that for a lost row.
        "UPDATE t SET a = -1e999 WHERE 1",
        "UPDATE t SET a = 1e999 WHERE 1",
    ];
    let mut failures = Vec::new();
    for sql in cases {
        for mode in [Mode::Execute, Mode::Query, Mode::Prepared, Mode::Batch] {
            for in_tx in [false, true] {
                if let Some(p) = random_sql_problem(sql, mode, in_tx) {
                    if known_bug(&p, sql).is_none() {
                        failures.push(p.detail);
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// (b) random values into typed columns
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Col {
    Int,
    Real,
    Text,
    Blob,
    Bool,
    Ts,
    Json,
    Any,
}

impl Col {
    fn name(self) -> &'static str {
        match self {
            Col::Int => "i",
            Col::Real => "r",
            Col::Text => "t",
            Col::Blob => "b",
            Col::Bool => "bo",
            Col::Ts => "ts",
            Col::Json => "j",
            Col::Any => "a",
        }
    }
}

const VALUES_TABLE: &str = "CREATE TABLE v (id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, \
     b BLOB, bo BOOLEAN, ts TIMESTAMP, j JSON, a ANY);
     CREATE INDEX v_i ON v (i);
     CREATE INDEX v_r ON v (r);
     CREATE INDEX v_t ON v (t);
     CREATE INDEX v_a ON v (a);";

fn col() -> impl Strategy<Value = Col> {
    prop_oneof![
        Just(Col::Int),
        Just(Col::Real),
        Just(Col::Text),
        Just(Col::Blob),
        Just(Col::Bool),
        Just(Col::Ts),
        Just(Col::Json),
        Just(Col::Any),
    ]
}

fn text_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "\\PC{0,20}",
        any::<String>(),
        "-?[0-9]{1,25}",
        "-?[0-9]{1,6}\\.[0-9]{1,6}(e-?[0-9]{1,3})?",
        " ?[0-9]{1,3} ?",
        "(true|false|yes|no|t|f|on|off|TRUE|1|0|nan|inf|-inf|NaN|Infinity)",
        "(19|20|99)[0-9]{2}-(0[1-9]|1[0-2])-[0-2][0-9]( [0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?)?",
        "\\{\"[a-z]{1,3}\": ?(\\[[0-9, ]{0,8}\\]|null|true|\"x\")\\}",
        (1usize..20_000).prop_map(|n| "x".repeat(n)),
        prop::collection::vec(any::<char>(), 0..3000).prop_map(String::from_iter),
    ]
}

fn real_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(0.0),
        Just(5.0),
        Just(f64::MAX),
        Just(f64::MIN),
        Just(f64::MIN_POSITIVE),
        Just(f64::EPSILON),
        Just(9.2e18),
        Just(9.3e18),
        Just(9_223_372_036_854_775_808.0),
        Just(-9_223_372_036_854_775_808.0),
        -1e6..1e6f64,
        any::<i32>().prop_map(f64::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Boolean),
        prop_oneof![
            any::<i64>(),
            Just(i64::MAX),
            Just(i64::MIN),
            Just(0),
            Just(1),
            Just(-1),
            -1000i64..1000
        ]
        .prop_map(Value::Integer),
        real_value().prop_map(Value::Real),
        text_value().prop_map(|s| Value::Text(Arc::from(s))),
        prop::collection::vec(any::<u8>(), 0..2000).prop_map(|b| Value::Blob(Arc::from(b))),
        prop_oneof![
            any::<i64>(),
            Just(i64::MAX),
            Just(i64::MIN),
            Just(0),
            -4_102_444_800_000_000i64..4_102_444_800_000_000 // years 1840..2100
        ]
        .prop_map(Value::Timestamp),
        prop_oneof![
            Just("{}"),
            Just("[]"),
            Just("null"),
            Just("1.5"),
            Just("\"s\""),
            Just("{\"a\":[1,{\"b\":null}],\"c\":\"ü\"}"),
            Just("not json"),
            Just(""),
        ]
        .prop_map(|s| Value::Json(Arc::from(s))),
    ]
}

/// Strict equality: same variant and same content (REAL by `==`, so 0.0
/// equals -0.0 but NaN equals nothing).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Boolean(x), Value::Boolean(y)) => x == y,
        (Value::Integer(x), Value::Integer(y)) => x == y,
        (Value::Real(x), Value::Real(y)) => x == y,
        (Value::Text(x), Value::Text(y)) => x == y,
        (Value::Blob(x), Value::Blob(y)) => x == y,
        (Value::Timestamp(x), Value::Timestamp(y)) => x == y,
        (Value::Json(x), Value::Json(y)) => x == y,
        _ => false,
    }
}

/// What storing `v` in a column of kind `c` must produce, where the
/// conversion is documented (`Value::coerce_to_column`): `Some(value)` when
/// the write must succeed with exactly that value, `None` when either a
/// typed error or some converted value is acceptable.
fn expected(c: Col, v: &Value) -> Option<Value> {
    Some(match (c, v) {
        (_, Value::Real(f)) if f.is_nan() => return None, // NULL or an error
        (_, Value::Null) => Value::Null,
        (Col::Any, v) => {
            if matches!(v, Value::Real(f) if f.is_infinite()) {
                return None;
            }
            v.clone()
        }
        (Col::Int, Value::Integer(i)) => Value::Integer(*i),
        (Col::Int, Value::Boolean(b)) => Value::Integer(*b as i64),
        // "an INTEGER column given 5.0 stores 5"
        (Col::Int, Value::Real(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => {
            Value::Integer(*f as i64)
        }
        (Col::Real, Value::Real(f)) if f.is_finite() => Value::Real(*f),
        (Col::Real, Value::Integer(i)) => Value::Real(*i as f64),
        (Col::Text, Value::Text(s)) => Value::Text(s.clone()),
        (Col::Text, Value::Integer(i)) => Value::text(&i.to_string()),
        (Col::Blob, Value::Blob(b)) => Value::Blob(b.clone()),
        (Col::Blob, Value::Text(s)) => Value::Blob(Arc::from(s.as_bytes())),
        (Col::Bool, Value::Boolean(b)) => Value::Boolean(*b),
        (Col::Bool, Value::Integer(i)) if *i == 0 || *i == 1 => Value::Boolean(*i == 1),
        (Col::Ts, Value::Timestamp(t)) => Value::Timestamp(*t),
        (Col::Json, Value::Json(s)) if json_ok(s) => Value::Json(s.clone()),
        _ => return None,
    })
}

/// A small strict JSON (RFC 8259) validator, so the test does not trust
/// the engine's own `json_valid`.
fn json_ok(s: &str) -> bool {
    fn ws(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    }
    fn value(b: &[u8], i: usize, depth: usize) -> Option<usize> {
        if depth > 500 {
            return None;
        }
        let i = ws(b, i);
        match *b.get(i)? {
            b'{' => {
                let mut i = ws(b, i + 1);
                if b.get(i) == Some(&b'}') {
                    return Some(i + 1);
                }
                loop {
                    i = string(b, ws(b, i))?;
                    i = ws(b, i);
                    if b.get(i) != Some(&b':') {
                        return None;
                    }
                    i = ws(b, value(b, i + 1, depth + 1)?);
                    match b.get(i)? {
                        b',' => i += 1,
                        b'}' => return Some(i + 1),
                        _ => return None,
                    }
                }
            }
            b'[' => {
                let mut i = ws(b, i + 1);
                if b.get(i) == Some(&b']') {
                    return Some(i + 1);
                }
                loop {
                    i = ws(b, value(b, i, depth + 1)?);
                    match b.get(i)? {
                        b',' => i += 1,
                        b']' => return Some(i + 1),
                        _ => return None,
                    }
                }
            }
            b'"' => string(b, i),
            b't' => b[i..].starts_with(b"true").then_some(i + 4),
            b'f' => b[i..].starts_with(b"false").then_some(i + 5),
            b'n' => b[i..].starts_with(b"null").then_some(i + 4),
            _ => number(b, i),
        }
    }
    fn string(b: &[u8], i: usize) -> Option<usize> {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let mut i = i + 1;
        loop {
            match *b.get(i)? {
                b'"' => return Some(i + 1),
                b'\\' => match *b.get(i + 1)? {
                    b'u' => {
                        let hex = b.get(i + 2..i + 6)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        i += 6;
                    }
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                    _ => return None,
                },
                c if c < 0x20 => return None,
                _ => i += 1,
            }
        }
    }
    fn digits(b: &[u8], mut i: usize) -> Option<usize> {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > start).then_some(i)
    }
    fn number(b: &[u8], mut i: usize) -> Option<usize> {
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        i = if b.get(i) == Some(&b'0') {
            i + 1
        } else {
            digits(b, i)?
        };
        if b.get(i) == Some(&b'.') {
            i = digits(b, i + 1)?;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            i = digits(b, i)?;
        }
        Some(i)
    }
    let b = s.as_bytes();
    matches!(value(b, 0, 0), Some(end) if ws(b, end) == b.len())
}

fn read_col(db: &Database, c: Col, id: i64) -> cairn::Result<Value> {
    db.query_row(
        &format!("SELECT {} FROM v WHERE id = $1", c.name()),
        params![id],
        |r| r.get::<Value>(0),
    )
}

/// Known engine bugs in storing values (reported, not fixed here): the
/// value-property skips its remaining checks for these inputs; each has an
/// ignored test that fails until it is fixed.
fn known_value_bug(c: Col, v: &Value, stored: &Value) -> Option<&'static str> {
    if is_nan(v) {
        // nan_parameters_are_null_or_rejected
        return Some("a NaN parameter is stored as REAL NaN (or JSON text \"NaN.0\")");
    }
    if let (Col::Json, Value::Real(f)) = (c, v) {
        if f.is_infinite() {
            // nan_parameters_are_null_or_rejected
            return Some(
                "an infinite REAL into a JSON column is stored as the invalid JSON \"Inf\"",
            );
        }
    }
    if let (Col::Int, Value::Text(_), Value::Real(f)) = (c, v, stored) {
        if f.fract() == 0.0 && f.abs() < 9.2e18 {
            // integer_column_text_conversion_is_idempotent
            return Some("INTEGER column keeps text '5.0' as REAL 5.0, but REAL 5.0 as INTEGER 5");
        }
    }
    None
}

fn is_nan(v: &Value) -> bool {
    matches!(v, Value::Real(f) if f.is_nan())
}

/// Stores each value through INSERT and through UPDATE and checks what
/// comes back. With `skip_known_bugs`, inputs that hit a known engine bug
/// (a NaN parameter, see `nan_parameters_are_null_or_rejected`) are only
/// checked for panics and typed errors.
fn check_values(writes: &[(Col, Value)], skip_known_bugs: bool) -> Result<(), TestCaseError> {
    let db = Database::open_in_memory().expect("open");
    db.execute_batch(VALUES_TABLE).expect("create v");
    let mut next_id = 1i64;
    for (c, v) in writes {
        let (c, v) = (*c, v.clone());
        let id = next_id;
        next_id += 3;
        let col = c.name();
        let ins = no_panic(|| {
            db.execute(
                &format!("INSERT INTO v (id, {col}) VALUES ($1, $2)"),
                &[Value::Integer(id), v.clone()],
            )
        })
        .map_err(|p| TestCaseError::fail(format!("PANIC inserting {v:?} into {col}: {p}")))?;
        // The same write through UPDATE must behave the same way.
        db.execute("INSERT INTO v (id) VALUES ($1)", params![id + 1])
            .expect("insert blank row");
        let upd = no_panic(|| {
            db.execute(
                &format!("UPDATE v SET {col} = $2 WHERE id = $1"),
                &[Value::Integer(id + 1), v.clone()],
            )
        })
        .map_err(|p| TestCaseError::fail(format!("PANIC updating {col} to {v:?}: {p}")))?;
        match (&ins, &upd) {
            (Ok(n), Ok(m)) => {
                prop_assert_eq!(*n, 1);
                prop_assert_eq!(*m, 1);
            }
            (Err(e), Err(f)) => {
                prop_assert!(
                    e.kind() != ErrorKind::Internal,
                    "Internal error inserting {:?} into {}: {}",
                    v,
                    col,
                    e
                );
                prop_assert_eq!(
                    e.kind(),
                    f.kind(),
                    "INSERT and UPDATE disagree for {:?} in {}",
                    v,
                    col
                );
            }
            _ => prop_assert!(
                false,
                "INSERT ({:?}) and UPDATE ({:?}) of {:?} into {} disagree",
                ins,
                upd,
                v,
                col
            ),
        }
        let want = expected(c, &v);
        let stored = match ins {
            Err(e) => {
                prop_assert!(
                    want.is_none(),
                    "{:?} into {} must succeed (documented conversion to {:?}) but failed: {}",
                    v,
                    col,
                    want,
                    e
                );
                continue;
            }
            Ok(_) => read_col(&db, c, id)
                .map_err(|e| TestCaseError::fail(format!("read back {col} for {v:?}: {e}")))?,
        };
        if skip_known_bugs && known_value_bug(c, &v, &stored).is_some() {
            continue;
        }
        // NaN must become NULL or be rejected, and never be stored.
        if is_nan(&v) {
            prop_assert!(
                stored.is_null(),
                "NaN into {} was stored as {:?} (must be NULL or rejected)",
                col,
                stored
            );
        }
        prop_assert!(!is_nan(&stored), "a NaN was stored in {} from {:?}", col, v);
        if let Value::Json(j) = &stored {
            prop_assert!(
                json_ok(j) || matches!(&v, Value::Json(x) if x == j),
                "{:?} into {} stored invalid JSON {:?}",
                v,
                col,
                j
            );
        }
        let via_update = read_col(&db, c, id + 1)
            .map_err(|e| TestCaseError::fail(format!("read back updated {col}: {e}")))?;
        prop_assert!(
            same(&stored, &via_update),
            "{:?} into {}: INSERT stored {:?}, UPDATE stored {:?}",
            v,
            col,
            stored,
            via_update
        );
        if let Some(w) = &want {
            prop_assert!(
                same(&stored, w),
                "{:?} into {}: read back {:?}, expected {:?}",
                v,
                col,
                stored,
                w
            );
        }
        // Storing what was read back is idempotent.
        let again = db.execute(
            &format!("INSERT INTO v (id, {col}) VALUES ($1, $2)"),
            &[Value::Integer(id + 2), stored.clone()],
        );
        prop_assert!(
            again.is_ok(),
            "re-storing read-back value {:?} into {} failed: {:?}",
            stored,
            col,
            again
        );
        let reread = read_col(&db, c, id + 2)
            .map_err(|e| TestCaseError::fail(format!("re-read {col}: {e}")))?;
        prop_assert!(
            same(&stored, &reread),
            "{} not idempotent: {:?} -> {:?} -> {:?}",
            col,
            v,
            stored,
            reread
        );
        // The stored value finds its row by equality (index or scan).
        if !stored.is_null() {
            let hits = db
                .query(
                    &format!("SELECT id FROM v WHERE {col} = $1"),
                    std::slice::from_ref(&stored),
                )
                .map_err(|e| TestCaseError::fail(format!("lookup of {stored:?} in {col}: {e}")))?;
            let ids: Vec<i64> = hits
                .map(|r| r.get(0))
                .map_err(|e| TestCaseError::fail(format!("ids: {e}")))?;
            prop_assert!(
                ids.contains(&id) && ids.contains(&(id + 2)),
                "WHERE {} = {:?} found {:?}, not rows {} and {}",
                col,
                stored,
                ids,
                id,
                id + 2
            );
        }
    }
    // The table is still whole.
    let n: i64 = db
        .query_row("SELECT count(*) FROM v", params![], |r| r.get(0))
        .map_err(|e| TestCaseError::fail(format!("count v: {e}")))?;
    prop_assert!(n >= writes.len() as i64);
    Ok(())
}

proptest! {
    #![proptest_config(config(1500))]

    #[test]
    fn random_values_round_trip_or_fail_typed(
        writes in prop::collection::vec((col(), value()), 1..8),
    ) {
        check_values(&writes, true)?;
    }
}

#[test]
fn json_validator_self_check() {
    for ok in [
        "{}",
        "[]",
        "null",
        "1.5",
        "-0",
        "1e5",
        "\"s\\u00e9\"",
        "{\"a\":[1,{\"b\":null}]}",
        " [1 , 2] ",
    ] {
        assert!(json_ok(ok), "{ok} is JSON");
    }
    for bad in [
        "", "not json", "NaN.0", "inf", "01", "1.", "[1,]", "{\"a\"}", "\"x", "[", "1 2",
    ] {
        assert!(!json_ok(bad), "{bad} is not JSON");
    }
}

/// Documented conversions, checked once by name (a regression list for
/// the property above).
#[test]
fn documented_column_conversions() {
    let cases: Vec<(Col, Value, Option<Value>)> = vec![
        (Col::Int, Value::Real(5.0), Some(Value::Integer(5))),
        (Col::Int, Value::Real(-0.0), Some(Value::Integer(0))),
        (Col::Int, Value::Boolean(true), Some(Value::Integer(1))),
        (Col::Int, Value::text("5"), None),
        (Col::Int, Value::Real(0.5), None),
        (Col::Real, Value::Integer(3), Some(Value::Real(3.0))),
        (Col::Text, Value::Integer(-7), Some(Value::text("-7"))),
        (Col::Bool, Value::Integer(0), Some(Value::Boolean(false))),
        (
            Col::Int,
            Value::Integer(i64::MIN),
            Some(Value::Integer(i64::MIN)),
        ),
        (Col::Text, Value::text(""), Some(Value::text(""))),
        (
            Col::Blob,
            Value::Blob(Arc::from(&[][..])),
            Some(Value::Blob(Arc::from(&[][..]))),
        ),
        (Col::Real, Value::Real(f64::INFINITY), None),
        (Col::Int, Value::Real(f64::NEG_INFINITY), None),
        (Col::Any, Value::Real(f64::INFINITY), None),
    ];
    let mut failures = Vec::new();
    for (c, v, want) in cases {
        let oracle = expected(c, &v);
        let agrees = match (&oracle, &want) {
            (Some(a), Some(b)) => same(a, b),
            (None, None) => true,
            _ => false,
        };
        assert!(
            agrees,
            "oracle says {oracle:?} for {c:?} <- {v:?}, table says {want:?}"
        );
        if let Err(e) = check_values(&[(c, v.clone())], false) {
            failures.push(format!("{c:?} <- {v:?} (want {want:?}): {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// ENGINE BUG (reported): a NaN bound as a parameter is stored as REAL NaN
/// in INTEGER, REAL and untyped columns (and as the invalid JSON text
/// "NaN.0" in a JSON column); an infinite REAL becomes the invalid JSON
/// text "Inf". `Value::real` maps NaN to NULL, but a `Value::Real(NaN)`
/// built directly reaches storage unchanged. Repro:
/// `db.execute("INSERT INTO v (id, r) VALUES ($1, $2)", &[1.into(), Value::Real(f64::NAN)])`
/// then `SELECT r FROM v` returns `Real(NaN)`.
#[test]
fn nan_parameters_are_null_or_rejected() {
    let mut failures = Vec::new();
    for c in [
        Col::Int,
        Col::Real,
        Col::Text,
        Col::Blob,
        Col::Bool,
        Col::Ts,
        Col::Json,
        Col::Any,
    ] {
        for v in [
            Value::Real(f64::NAN),
            Value::Real(-f64::NAN),
            Value::Real(f64::INFINITY),
            Value::Real(f64::NEG_INFINITY),
        ] {
            if let Err(e) = check_values(&[(c, v.clone())], false) {
                failures.push(format!("{c:?} <- {v:?}: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// ENGINE BUG (reported): an INTEGER column converts REAL 5.0 to INTEGER 5
/// but keeps TEXT '5.0' as REAL 5.0 (SQLite's INTEGER affinity stores 5),
/// so storing a value read back from the column changes it. Repro:
/// `CREATE TABLE v (i INTEGER); INSERT INTO v VALUES ('5.0'); SELECT typeof(i) FROM v`
/// gives 'real'.
#[test]
fn integer_column_text_conversion_is_idempotent() {
    let mut failures = Vec::new();
    for t in ["5.0", "0.0", "-3.0", "1e3", " 7.0 "] {
        let v = Value::text(t);
        if let Err(e) = check_values(&[(Col::Int, v.clone())], false) {
            failures.push(format!("{v:?}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------
// (c) model test
// ---------------------------------------------------------------------------

type Model = BTreeMap<i64, (Option<i64>, Option<String>)>;

/// One step. The plain variants run on the connection under test (inside
/// or outside its explicit transaction); `Other*` run in autocommit on a
/// second connection, i.e. they commit concurrently with that transaction.
#[derive(Debug, Clone)]
enum Op {
    Insert(i64, Option<i64>, Option<String>),
    Update(i64, Option<i64>),
    UpdateRange(i64, i64, i64),
    UpdateKey(i64, i64),
    Delete(i64),
    DeleteByV(i64),
    SelectKey(i64),
    SelectV(i64),
    Begin,
    Commit,
    Rollback,
    OtherInsert(i64, Option<i64>),
    OtherUpdate(i64, Option<i64>),
    OtherDelete(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let k = || 0i64..24;
    let v = || prop::option::weighted(0.85, -6i64..6);
    let s = || prop::option::of(prop_oneof![Just(String::new()), "[a-z]{1,4}", "\\PC{0,3}"]);
    prop_oneof![
        6 => (k(), v(), s()).prop_map(|(k, v, s)| Op::Insert(k, v, s)),
        3 => (k(), v()).prop_map(|(k, v)| Op::Update(k, v)),
        2 => (-6i64..6, 0i64..4, -2i64..3).prop_map(|(lo, w, d)| Op::UpdateRange(lo, lo + w, d)),
        1 => (k(), k()).prop_map(|(a, b)| Op::UpdateKey(a, b)),
        3 => k().prop_map(Op::Delete),
        1 => (-6i64..6).prop_map(Op::DeleteByV),
        2 => k().prop_map(Op::SelectKey),
        2 => (-6i64..6).prop_map(Op::SelectV),
        2 => Just(Op::Begin),
        1 => Just(Op::Commit),
        1 => Just(Op::Rollback),
        2 => (k(), v()).prop_map(|(k, v)| Op::OtherInsert(k, v)),
        2 => (k(), v()).prop_map(|(k, v)| Op::OtherUpdate(k, v)),
        1 => k().prop_map(Op::OtherDelete),
    ]
}

type Row3 = (i64, Option<i64>, Option<String>);

fn rows_of(db: &Database, sql: &str, params: &[Value]) -> Result<Vec<Row3>, TestCaseError> {
    let rows = db
        .query(sql, params)
        .map_err(|e| TestCaseError::fail(format!("{sql}: {e}")))?;
    rows.map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(|e| TestCaseError::fail(format!("{sql}: reading rows: {e}")))
}

fn model_rows(m: &Model) -> Vec<Row3> {
    m.iter().map(|(k, (v, s))| (*k, *v, s.clone())).collect()
}

/// The open explicit transaction of the connection under test.
struct OpenTx {
    /// The committed state when it began.
    snapshot: Model,
    /// What it sees: the snapshot plus its own writes.
    view: Model,
    /// Keys its successful statements wrote.
    writes: std::collections::BTreeSet<i64>,
    /// Keys the other connection committed writes to since it began.
    others: std::collections::BTreeSet<i64>,
}

/// Applies a write statement to `state`; returns the expected outcome (rows
/// affected or error kind) and the keys written.
fn apply(op: &Op, state: &mut Model) -> (Result<u64, ErrorKind>, Vec<i64>) {
    match op {
        Op::Insert(k, v, s) => {
            if state.contains_key(k) {
                (Err(ErrorKind::Constraint), vec![])
            } else {
                state.insert(*k, (*v, s.clone()));
                (Ok(1), vec![*k])
            }
        }
        Op::OtherInsert(k, v) => apply(&Op::Insert(*k, *v, Some("other".into())), state),
        Op::Update(k, v) | Op::OtherUpdate(k, v) => match state.get_mut(k) {
            Some(row) => {
                row.0 = *v;
                (Ok(1), vec![*k])
            }
            None => (Ok(0), vec![]),
        },
        Op::UpdateRange(lo, hi, d) => {
            let mut keys = Vec::new();
            for (k, row) in state.iter_mut() {
                if let Some(v) = row.0 {
                    if (*lo..=*hi).contains(&v) {
                        row.0 = Some(v + d);
                        keys.push(*k);
                    }
                }
            }
            (Ok(keys.len() as u64), keys)
        }
        Op::UpdateKey(a, b) => match state.get(a).cloned() {
            None => (Ok(0), vec![]),
            Some(_) if a == b => (Ok(1), vec![*a]),
            Some(_) if state.contains_key(b) => (Err(ErrorKind::Constraint), vec![]),
            Some(row) => {
                state.remove(a);
                state.insert(*b, row);
                (Ok(1), vec![*a, *b])
            }
        },
        Op::Delete(k) | Op::OtherDelete(k) => match state.remove(k) {
            Some(_) => (Ok(1), vec![*k]),
            None => (Ok(0), vec![]),
        },
        Op::DeleteByV(v) => {
            let keys: Vec<i64> = state
                .iter()
                .filter(|(_, row)| row.0 == Some(*v))
                .map(|(k, _)| *k)
                .collect();
            for k in &keys {
                state.remove(k);
            }
            (Ok(keys.len() as u64), keys)
        }
        Op::SelectKey(_) | Op::SelectV(_) | Op::Begin | Op::Commit | Op::Rollback => {
            (Ok(0), vec![])
        }
    }
}

fn run_write(db: &Database, op: &Op) -> cairn::Result<u64> {
    match op {
        Op::Insert(k, v, s) => db.execute(
            "INSERT INTO m (k, v, s) VALUES ($1, $2, $3)",
            &[Value::Integer(*k), (*v).into(), s.clone().into()],
        ),
        Op::OtherInsert(k, v) => db.execute(
            "INSERT INTO m (k, v, s) VALUES ($1, $2, 'other')",
            &[Value::Integer(*k), (*v).into()],
        ),
        Op::Update(k, v) | Op::OtherUpdate(k, v) => db.execute(
            "UPDATE m SET v = $2 WHERE k = $1",
            &[Value::Integer(*k), (*v).into()],
        ),
        Op::UpdateRange(lo, hi, d) => db.execute(
            "UPDATE m SET v = v + $3 WHERE v BETWEEN $1 AND $2",
            params![*lo, *hi, *d],
        ),
        Op::UpdateKey(a, b) => db.execute("UPDATE m SET k = $2 WHERE k = $1", params![*a, *b]),
        Op::Delete(k) | Op::OtherDelete(k) => db.execute("DELETE FROM m WHERE k = $1", params![*k]),
        Op::DeleteByV(v) => db.execute("DELETE FROM m WHERE v = $1", params![*v]),
        Op::Begin => db.execute("BEGIN", params![]),
        Op::Commit => db.execute("COMMIT", params![]),
        Op::Rollback => db.execute("ROLLBACK", params![]),
        Op::SelectKey(_) | Op::SelectV(_) => Ok(0),
    }
}

fn run_model(ops: &[Op]) -> Result<(), TestCaseError> {
    let db = Database::open_in_memory().expect("open");
    db.execute_batch(
        "CREATE TABLE m (k INTEGER PRIMARY KEY, v INTEGER, s TEXT);
         CREATE INDEX m_v ON m (v);",
    )
    .expect("create m");
    let other = db.connect();
    let mut committed = Model::new();
    let mut open: Option<OpenTx> = None;

    for (step, op) in ops.iter().enumerate() {
        let ctx = || format!("step {step} ({op:?}) of {ops:?}");
        let kind = |r: cairn::Result<u64>| r.map_err(|e| e.kind());
        match op {
            Op::SelectKey(k) => {
                let cur = open.as_ref().map_or(&committed, |t| &t.view);
                let got = rows_of(&db, "SELECT k, v, s FROM m WHERE k = $1", params![*k])?;
                let exp: Vec<Row3> = cur
                    .get(k)
                    .map(|(v, s)| vec![(*k, *v, s.clone())])
                    .unwrap_or_default();
                prop_assert_eq!(got, exp, "{}", ctx());
            }
            Op::SelectV(v) => {
                let cur = open.as_ref().map_or(&committed, |t| &t.view);
                let got = rows_of(
                    &db,
                    "SELECT k, v, s FROM m WHERE v = $1 ORDER BY k",
                    params![*v],
                )?;
                let exp: Vec<Row3> = model_rows(cur)
                    .into_iter()
                    .filter(|r| r.1 == Some(*v))
                    .collect();
                prop_assert_eq!(got, exp, "{}", ctx());
            }
            Op::Begin => {
                let got = kind(run_write(&db, op));
                if open.is_some() {
                    prop_assert_eq!(got, Err(ErrorKind::Transaction), "{}", ctx());
                } else {
                    prop_assert_eq!(got, Ok(0), "{}", ctx());
                    open = Some(OpenTx {
                        snapshot: committed.clone(),
                        view: committed.clone(),
                        writes: Default::default(),
                        others: Default::default(),
                    });
                }
            }
            Op::Rollback => {
                let got = kind(run_write(&db, op));
                let want = if open.take().is_some() {
                    Ok(0)
                } else {
                    Err(ErrorKind::Transaction)
                };
                prop_assert_eq!(got, want, "{}", ctx());
            }
            Op::Commit => {
                let got = kind(run_write(&db, op));
                match open.take() {
                    None => prop_assert_eq!(got, Err(ErrorKind::Transaction), "{}", ctx()),
                    Some(tx) => {
                        // First committer wins: a key both wrote, which the
                        // transaction's snapshot had (it changed a row the
                        // other connection changed), or which both end up
                        // holding (a concurrent duplicate), must conflict.
                        // A key only the transaction inserted and the other
                        // connection inserted and deleted again may go
                        // either way.
                        let both: Vec<i64> = tx.writes.intersection(&tx.others).copied().collect();
                        let must = both.iter().any(|k| {
                            tx.snapshot.contains_key(k)
                                || (tx.view.contains_key(k) && committed.contains_key(k))
                        });
                        let may = !both.is_empty();
                        match got {
                            Err(ErrorKind::Conflict) => {
                                prop_assert!(may, "unexpected Conflict: {}", ctx());
                            }
                            Ok(0) => {
                                prop_assert!(
                                    !must,
                                    "missing Conflict on keys {:?}: {}",
                                    both,
                                    ctx()
                                );
                                // Its net changes land on top of whatever
                                // the other connection committed meanwhile.
                                for k in &tx.writes {
                                    if tx.view.get(k) == tx.snapshot.get(k) {
                                        continue;
                                    }
                                    match tx.view.get(k) {
                                        Some(row) => committed.insert(*k, row.clone()),
                                        None => committed.remove(k),
                                    };
                                }
                            }
                            other => prop_assert!(false, "COMMIT gave {:?}: {}", other, ctx()),
                        }
                    }
                }
            }
            Op::OtherInsert(..) | Op::OtherUpdate(..) | Op::OtherDelete(_) => {
                let got = kind(run_write(&other, op));
                let (want, keys) = apply(op, &mut committed);
                prop_assert_eq!(got, want, "other connection, {}", ctx());
                if let Some(tx) = open.as_mut() {
                    tx.others.extend(keys);
                }
            }
            _ => {
                let got = kind(run_write(&db, op));
                let state = match open.as_mut() {
                    Some(tx) => &mut tx.view,
                    None => &mut committed,
                };
                let mut next = state.clone();
                let (want, keys) = apply(op, &mut next);
                prop_assert_eq!(got, want, "{}", ctx());
                if want.is_ok() {
                    *state = next;
                    if let Some(tx) = open.as_mut() {
                        tx.writes.extend(keys);
                    }
                }
            }
        }
        prop_assert_eq!(db.in_transaction(), open.is_some(), "{}", ctx());

        // Full contents, for this connection (its snapshot and own writes)
        // and for the other one (committed state only).
        let visible = open.as_ref().map_or(&committed, |t| &t.view);
        let all = rows_of(&db, "SELECT k, v, s FROM m ORDER BY k", params![])?;
        prop_assert_eq!(&all, &model_rows(visible), "{}", ctx());
        let by_index = rows_of(
            &db,
            "SELECT k, v, s FROM m WHERE v BETWEEN -1000 AND 1000 ORDER BY k",
            params![],
        )?;
        let exp_index: Vec<Row3> = model_rows(visible)
            .into_iter()
            .filter(|r| r.1.is_some())
            .collect();
        prop_assert_eq!(by_index, exp_index, "index scan, {}", ctx());
        let seen_by_other = rows_of(&other, "SELECT k, v, s FROM m ORDER BY k", params![])?;
        prop_assert_eq!(
            seen_by_other,
            model_rows(&committed),
            "other connection, {}",
            ctx()
        );
        // The engine's own invariants (versions, chains, index coverage,
        // state root) hold after every step.
        let check: Vec<String> = other
            .query("PRAGMA integrity_check", params![])
            .and_then(|r| r.fetch_all())
            .expect("integrity_check")
            .map(|r| r.get::<String>(0usize))
            .expect("integrity rows");
        prop_assert_eq!(check, vec!["ok".to_string()], "integrity_check, {}", ctx());
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn dml_sequences_match_a_btreemap_model(ops in prop::collection::vec(op(), 1..60)) {
        run_model(&ops)?;
    }
}

/// A second connection that writes concurrently (between this
/// connection's steps) is covered by tests/concurrency.rs; here, a fixed
/// sequence that exercises conflicts between two connections' explicit
/// transactions against the model.
#[test]
fn conflicting_connection_keeps_model() {
    let db = Database::open_in_memory().expect("open");
    db.execute_batch(
        "CREATE TABLE m (k INTEGER PRIMARY KEY, v INTEGER, s TEXT);
         CREATE INDEX m_v ON m (v);
         INSERT INTO m VALUES (1, 1, 'a'), (2, 2, 'b');",
    )
    .expect("setup");
    let other = db.connect();
    db.execute("BEGIN", params![]).expect("begin 1");
    other.execute("BEGIN", params![]).expect("begin 2");
    db.execute("UPDATE m SET v = 10 WHERE k = 1", params![])
        .expect("update 1");
    let r = other
        .execute("UPDATE m SET v = 20 WHERE k = 1", params![])
        .map(|_| ());
    db.execute("COMMIT", params![]).expect("commit 1");
    let r = r.and_then(|()| other.execute("COMMIT", params![]).map(|_| ()));
    assert_eq!(r.map_err(|e: Error| e.kind()), Err(ErrorKind::Conflict));
    assert!(!other.in_transaction());
    let rows: Vec<(i64, i64)> = db
        .query("SELECT k, v FROM m WHERE v >= 0 ORDER BY k", params![])
        .and_then(|r| r.fetch_all())
        .expect("select")
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows");
    assert_eq!(rows, vec![(1, 10), (2, 2)]);
}
