//! The reducer: shrinks a disagreeing statement and the rows it needs while
//! the disagreement keeps its kind ([`Verdict`]). Greedy and crude: tries one
//! simplification at a time (drop a conjunct, a join, a column, an ORDER BY,
//! a compound member; replace an expression by one of its operands; drop a
//! table's rows one by one) and keeps the first that still disagrees.
//! Never changes the engines' state outside the fresh pairs it builds.

use crate::ast::{Expr, JoinKind, Query, Source};
use crate::engines::{agree_up_to_representatives, compare, Outcome, Pair, Verdict};

/// A statement under reduction.
#[derive(Debug, Clone)]
pub enum Stmt {
    Query(Query),
    /// A write to `table`, judged by its changed-row count and the table's
    /// contents afterwards.
    Write {
        sql: String,
        table: String,
    },
}

impl Stmt {
    pub fn sql(&self) -> String {
        match self {
            Stmt::Query(q) => q.sql(),
            Stmt::Write { sql, .. } => sql.clone(),
        }
    }
}

/// The result of running a statement on a fresh pair loaded with `setup`.
pub struct Check {
    pub verdict: Verdict,
    pub sqlite: Outcome,
    pub cairn: Outcome,
}

/// Runs `stmt` on `pair` and judges it (writes change the pair).
pub fn judge(pair: &Pair, stmt: &Stmt) -> Check {
    match stmt {
        Stmt::Query(q) => {
            let sql = q.sql();
            let (sqlite, cairn) = pair.query(&sql);
            let ordered = q.totally_ordered() && q.limit.is_none();
            let mut verdict = compare(&sqlite, &cairn, ordered);
            if verdict == Verdict::Differ
                && chooses_representatives(&sql)
                && agree_up_to_representatives(&sqlite, &cairn)
            {
                verdict = Verdict::Agree;
            }
            Check {
                verdict,
                sqlite,
                cairn,
            }
        }
        Stmt::Write { sql, table } => {
            let (sqlite, cairn) = pair.execute(sql);
            let verdict = compare(&sqlite, &cairn, false);
            if verdict != Verdict::Agree {
                return Check {
                    verdict,
                    sqlite,
                    cairn,
                };
            }
            let (sqlite, cairn) = pair.query(&format!("SELECT * FROM {table}"));
            Check {
                verdict: compare(&sqlite, &cairn, false),
                sqlite,
                cairn,
            }
        }
    }
}

/// Whether the query lets an engine keep either of two values that compare
/// equal (1 and 1.0): DISTINCT, UNION, INTERSECT, EXCEPT, GROUP BY, min,
/// max, LIMIT over ties. Crude (reads the text) but errs towards leniency
/// only for INTEGER-versus-equal-REAL.
fn chooses_representatives(sql: &str) -> bool {
    [
        "DISTINCT",
        "UNION",
        "INTERSECT",
        "EXCEPT",
        "GROUP BY",
        "min(",
        "max(",
        "LIMIT",
    ]
    .iter()
    .any(|w| sql.contains(w))
}

/// A fresh pair with `setup` run on both engines, leaving out the
/// statements that fail on either engine (up to `SKIPS_MAX` of them):
/// the pair and the statements it ran. Used to resynchronise the engines
/// after a write disagreement.
pub fn load_tolerant(setup: &[String], timeout_ms: u64) -> Option<(Pair, Vec<String>)> {
    const SKIPS_MAX: usize = 64;
    let mut kept: Vec<String> = setup.to_vec();
    for _ in 0..SKIPS_MAX {
        let pair = Pair::new(timeout_ms).ok()?;
        let failed = kept.iter().position(|sql| {
            let (s, c) = pair.execute(sql);
            s.is_error() || !matches!(c, Outcome::Changed(_))
        });
        match failed {
            None => return Some((pair, kept)),
            Some(i) => {
                kept.remove(i);
            }
        }
    }
    None
}

/// A fresh pair with `setup` run on both engines; `None` if any setup
/// statement fails on either (the setup no longer reproduces).
pub fn load(setup: &[String], timeout_ms: u64) -> Option<Pair> {
    let pair = Pair::new(timeout_ms).ok()?;
    for sql in setup {
        let (s, c) = pair.execute(sql);
        if s.is_error() || !matches!(c, Outcome::Changed(_)) {
            return None;
        }
    }
    Some(pair)
}

fn reproduces(setup: &[String], stmt: &Stmt, target: Verdict, timeout_ms: u64) -> bool {
    load(setup, timeout_ms).is_some_and(|pair| judge(&pair, stmt).verdict == target)
}

/// Shrinks `stmt` and `setup` while the verdict stays `target`, trying at
/// most `attempts_max` candidates.
pub fn reduce(
    setup: Vec<String>,
    stmt: Stmt,
    target: Verdict,
    attempts_max: usize,
    timeout_ms: u64,
) -> (Vec<String>, Stmt) {
    let mut attempts = 0usize;
    let mut stmt = stmt;
    let mut setup = setup;
    if let Stmt::Query(q) = &stmt {
        stmt = Stmt::Query(shrink_query_greedy(
            &setup,
            q.clone(),
            target,
            &mut attempts,
            attempts_max / 2,
            timeout_ms,
        ));
    }
    setup = shrink_setup(
        setup,
        &stmt,
        target,
        &mut attempts,
        attempts_max,
        timeout_ms,
    );
    if let Stmt::Query(q) = &stmt {
        stmt = Stmt::Query(shrink_query_greedy(
            &setup,
            q.clone(),
            target,
            &mut attempts,
            attempts_max,
            timeout_ms,
        ));
    }
    (setup, stmt)
}

fn shrink_query_greedy(
    setup: &[String],
    mut q: Query,
    target: Verdict,
    attempts: &mut usize,
    attempts_max: usize,
    timeout_ms: u64,
) -> Query {
    // Queries do not change the data: one pair serves every candidate.
    let Some(pair) = load(setup, timeout_ms) else {
        return q;
    };
    'outer: while *attempts < attempts_max {
        for candidate in shrink_query(&q) {
            if *attempts >= attempts_max {
                break 'outer;
            }
            *attempts += 1;
            let stmt = Stmt::Query(candidate.clone());
            if judge(&pair, &stmt).verdict == target {
                q = candidate;
                continue 'outer;
            }
        }
        break;
    }
    q
}

/// Drops setup statements: first whole tables the statement does not
/// name, then single INSERTs.
fn shrink_setup(
    mut setup: Vec<String>,
    stmt: &Stmt,
    target: Verdict,
    attempts: &mut usize,
    attempts_max: usize,
    timeout_ms: u64,
) -> Vec<String> {
    let sql = stmt.sql();
    let unused: Vec<String> = setup
        .iter()
        .filter_map(|s| table_of(s))
        .filter(|t| !mentions(&sql, t))
        .collect();
    if !unused.is_empty() {
        let kept: Vec<String> = setup
            .iter()
            .filter(|s| table_of(s).is_none_or(|t| !unused.contains(&t)))
            .cloned()
            .collect();
        *attempts += 1;
        if reproduces(&kept, stmt, target, timeout_ms) {
            setup = kept;
        }
    }
    let mut i = 0;
    while i < setup.len() && *attempts < attempts_max {
        if !setup[i].starts_with("INSERT") && !setup[i].starts_with("CREATE INDEX") {
            i += 1;
            continue;
        }
        let mut candidate = setup.clone();
        candidate.remove(i);
        *attempts += 1;
        if reproduces(&candidate, stmt, target, timeout_ms) {
            setup = candidate;
        } else {
            i += 1;
        }
    }
    setup
}

/// The table a setup statement creates, indexes or fills.
fn table_of(sql: &str) -> Option<String> {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let name = match words.as_slice() {
        ["CREATE", "TABLE", name, ..] => name,
        ["CREATE", "INDEX", _, "ON", name, ..] => name,
        ["INSERT", "INTO", name, ..] => name,
        _ => return None,
    };
    Some(name.to_string())
}

fn mentions(sql: &str, table: &str) -> bool {
    sql.split(|c: char| !c.is_alphanumeric() && c != '_')
        .any(|w| w == table)
}

/// Every query one simplification smaller than `q`.
pub fn shrink_query(q: &Query) -> Vec<Query> {
    let mut out = Vec::new();
    if q.selects.len() > 1 {
        for i in 0..q.selects.len() {
            let mut c = q.clone();
            c.selects = vec![q.selects[i].clone()];
            c.ops.clear();
            out.push(c);
        }
    }
    if q.limit.is_some() {
        let mut c = q.clone();
        c.limit = None;
        out.push(c);
    }
    if !q.order_by.is_empty() && q.limit.is_none() {
        let mut c = q.clone();
        c.order_by.clear();
        out.push(c);
    }
    for i in 0..q.selects.len() {
        shrink_clauses(q, i, &mut out);
        shrink_select_exprs(q, i, &mut out);
    }
    out
}

/// Candidates that drop a clause of `q.selects[i]`: DISTINCT, HAVING, a
/// WHERE conjunct, a GROUP BY key, an output column, a join.
fn shrink_clauses(q: &Query, i: usize, out: &mut Vec<Query>) {
    let s = &q.selects[i];
    {
        let mut with = |f: &dyn Fn(&mut Query)| {
            let mut c = q.clone();
            f(&mut c);
            out.push(c);
        };
        if s.distinct {
            with(&|c| c.selects[i].distinct = false);
        }
        if s.having.is_some() {
            with(&|c| c.selects[i].having = None);
        }
        for w in 0..s.where_.len() {
            with(&|c| {
                c.selects[i].where_.remove(w);
            });
        }
        for g in 0..s.group_by.len() {
            with(&|c| {
                c.selects[i].group_by.remove(g);
            });
        }
        if q.selects.len() == 1 && q.order_by.is_empty() && s.items.len() > 1 {
            for k in 0..s.items.len() {
                with(&|c| {
                    c.selects[i].items.remove(k);
                });
            }
        }
        for f in 1..s.from.len() {
            with(&|c| {
                c.selects[i].from.remove(f);
            });
            match s.from[f].kind {
                JoinKind::Left => with(&|c| c.selects[i].from[f].kind = JoinKind::Inner),
                JoinKind::Inner => with(&|c| {
                    c.selects[i].from[f].kind = JoinKind::Cross;
                    c.selects[i].from[f].on = None;
                }),
                _ => {}
            }
        }
    }
}

/// Candidates that shrink an expression or derived table of `q.selects[i]`.
fn shrink_select_exprs(q: &Query, i: usize, out: &mut Vec<Query>) {
    let s = &q.selects[i];
    {
        for (f, item) in s.from.iter().enumerate() {
            if let Source::Derived(sub) = &item.source {
                for smaller in shrink_query(sub) {
                    let mut c = q.clone();
                    c.selects[i].from[f].source = Source::Derived(Box::new(smaller));
                    out.push(c);
                }
            }
            if let Some(on) = &item.on {
                each_smaller(q, on, out, |c, e| c.selects[i].from[f].on = Some(e));
            }
        }
        for (w, cond) in s.where_.iter().enumerate() {
            each_smaller(q, cond, out, |c, e| c.selects[i].where_[w] = e);
        }
        if let Some(h) = &s.having {
            each_smaller(q, h, out, |c, e| c.selects[i].having = Some(e));
        }
        for (k, item) in s.items.iter().enumerate() {
            each_smaller(q, item, out, |c, e| c.selects[i].items[k] = e);
        }
    }
}

/// Pushes a copy of `q` for each expression one step smaller than `e`,
/// `put` placing it where `e` was.
fn each_smaller(q: &Query, e: &Expr, out: &mut Vec<Query>, put: impl Fn(&mut Query, Expr)) {
    for smaller in shrink_expr(e) {
        let mut c = q.clone();
        put(&mut c, smaller);
        out.push(c);
    }
}

/// Every expression one simplification smaller than `e`: a node replaced by
/// one of its operands, recursively.
pub fn shrink_expr(e: &Expr) -> Vec<Expr> {
    let mut out = Vec::new();
    match e {
        Expr::Lit(_) | Expr::Col { .. } => {}
        Expr::Op(op, args) => {
            out.extend(args.iter().cloned());
            for (i, a) in args.iter().enumerate() {
                for s in shrink_expr(a) {
                    let mut args = args.clone();
                    args[i] = s;
                    out.push(Expr::Op(op.clone(), args));
                }
            }
        }
        Expr::Sub(kind, args, q) => {
            out.extend(args.iter().cloned());
            for (i, a) in args.iter().enumerate() {
                for s in shrink_expr(a) {
                    let mut args = args.clone();
                    args[i] = s;
                    out.push(Expr::Sub(kind.clone(), args, q.clone()));
                }
            }
            for s in shrink_query(q) {
                out.push(Expr::Sub(kind.clone(), args.clone(), Box::new(s)));
            }
        }
    }
    out
}
