//! The generated SELECT's syntax tree and its two renderings: SQL (the same
//! text is sent to both engines) and a shape (literals and names replaced by
//! their types) that groups disagreements by cause. Holds no engine state.

use std::fmt::Write;

/// A column's declared type, and the static type of a generated expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ty {
    Int,
    Real,
    Text,
    /// A comparison's result.
    Bool,
}

impl Ty {
    pub fn sql(self) -> &'static str {
        match self {
            Ty::Int | Ty::Bool => "INTEGER",
            Ty::Real => "REAL",
            Ty::Text => "TEXT",
        }
    }

    pub fn is_numeric(self) -> bool {
        !matches!(self, Ty::Text)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    /// `-9223372036854775808` written as one literal.
    MinIntRaw,
}

impl Lit {
    pub fn sql(&self) -> String {
        match self {
            Lit::Null => "NULL".into(),
            Lit::Int(i64::MIN) => "(-9223372036854775807 - 1)".into(),
            Lit::Int(i) => i.to_string(),
            // Debug prints the shortest text that reads back as the same
            // f64, always with a `.` or an exponent (so it stays REAL).
            Lit::Real(f) => format!("{f:?}"),
            Lit::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Lit::MinIntRaw => "-9223372036854775808".into(),
        }
    }

    fn shape(&self) -> &'static str {
        match self {
            Lit::Null => "NULL",
            Lit::Int(_) | Lit::MinIntRaw => "INT",
            Lit::Real(_) => "REAL",
            Lit::Text(s) if s.trim().parse::<f64>().is_ok() => "NUMTEXT",
            Lit::Text(_) => "TEXT",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Neg,
    Not,
    /// `(a op b)`.
    Bin(&'static str),
    /// `a op b` without parentheses (children that are `Bare` too).
    Bare(&'static str),
    Between {
        negated: bool,
    },
    /// children: [x, list...]
    In {
        negated: bool,
    },
    IsNull {
        negated: bool,
    },
    /// children: [operand?, when, then, ..., else?]
    Case {
        operand: bool,
        has_else: bool,
    },
    Cast(Ty),
    Func(&'static str),
    Agg {
        name: &'static str,
        distinct: bool,
    },
    CountStar,
    /// children: [args..., partition..., order...]
    Window {
        name: &'static str,
        args: usize,
        partition: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum SubKind {
    /// children: [x]
    In {
        negated: bool,
    },
    Exists {
        negated: bool,
    },
    Scalar,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Lit(Lit),
    Col { qual: String, name: String, ty: Ty },
    Op(Op, Vec<Expr>),
    Sub(SubKind, Vec<Expr>, Box<Query>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JoinKind {
    First,
    Inner,
    Left,
    Cross,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Table(String),
    Derived(Box<Query>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FromItem {
    pub kind: JoinKind,
    pub source: Source,
    pub alias: String,
    pub on: Option<Expr>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Select {
    pub distinct: bool,
    pub items: Vec<Expr>,
    pub from: Vec<FromItem>,
    pub where_: Vec<Expr>,
    pub group_by: Vec<Expr>,
    pub having: Option<Expr>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SetOp {
    Union,
    UnionAll,
    Intersect,
    Except,
}

impl SetOp {
    fn sql(self) -> &'static str {
        match self {
            SetOp::Union => "UNION",
            SetOp::UnionAll => "UNION ALL",
            SetOp::Intersect => "INTERSECT",
            SetOp::Except => "EXCEPT",
        }
    }
}

/// A query: selects joined by set operators, then ORDER BY output positions
/// (1-based, descending flag) and LIMIT/OFFSET.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    pub selects: Vec<Select>,
    pub ops: Vec<SetOp>,
    pub order_by: Vec<(usize, bool)>,
    pub limit: Option<(u64, u64)>,
    /// Run as `SELECT * FROM (query) AS w LIMIT 1000000000`: the same rows,
    /// but Cairn plans the inner query for its first rows (index joins,
    /// streaming GROUP BY and windows), so those plans meet SQLite too.
    pub wrap_limit: bool,
}

impl Query {
    pub fn columns(&self) -> usize {
        self.selects.first().map_or(0, |s| s.items.len())
    }

    /// Whether ORDER BY names every output column (so the order of the rows
    /// is fixed up to rows that compare equal throughout).
    pub fn totally_ordered(&self) -> bool {
        (1..=self.columns()).all(|c| self.order_by.iter().any(|(p, _)| *p == c))
    }

    pub fn sql(&self) -> String {
        let mut out = String::new();
        Renderer {
            out: &mut out,
            shape: false,
        }
        .query(self);
        wrapped(self, out)
    }

    /// The query with literals as their types and names dropped: the
    /// signature disagreements are grouped by.
    pub fn shape(&self) -> String {
        let mut out = String::new();
        Renderer {
            out: &mut out,
            shape: true,
        }
        .query(self);
        wrapped(self, out)
    }
}

/// `sql` inside `SELECT * FROM (...) LIMIT` when the query asks for it.
fn wrapped(q: &Query, sql: String) -> String {
    if q.wrap_limit {
        format!("SELECT * FROM ({sql}) AS w LIMIT 1000000000")
    } else {
        sql
    }
}

struct Renderer<'a> {
    out: &'a mut String,
    shape: bool,
}

impl Renderer<'_> {
    fn push(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn query(&mut self, q: &Query) {
        for (i, s) in q.selects.iter().enumerate() {
            if i > 0 {
                let op = q.ops.get(i - 1).copied().unwrap_or(SetOp::UnionAll);
                self.push(" ");
                self.push(op.sql());
                self.push(" ");
            }
            self.select(s);
        }
        if !q.order_by.is_empty() {
            self.push(" ORDER BY ");
            for (i, (pos, desc)) in q.order_by.iter().enumerate() {
                if i > 0 {
                    self.push(", ");
                }
                let _ = write!(self.out, "{pos}{}", if *desc { " DESC" } else { "" });
            }
        }
        if let Some((limit, offset)) = q.limit {
            let _ = write!(self.out, " LIMIT {limit}");
            if offset > 0 {
                let _ = write!(self.out, " OFFSET {offset}");
            }
        }
    }

    fn select(&mut self, s: &Select) {
        self.push("SELECT ");
        if s.distinct {
            self.push("DISTINCT ");
        }
        for (i, e) in s.items.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.expr(e);
            let _ = write!(self.out, " AS c{i}");
        }
        for f in &s.from {
            self.push(match f.kind {
                JoinKind::First => " FROM ",
                JoinKind::Inner => " JOIN ",
                JoinKind::Left => " LEFT JOIN ",
                JoinKind::Cross => " CROSS JOIN ",
            });
            match &f.source {
                Source::Table(t) => {
                    self.push(if self.shape { "t" } else { t });
                    if !self.shape {
                        self.push(" AS ");
                        self.push(&f.alias);
                    }
                }
                Source::Derived(q) => {
                    self.push("(");
                    self.query(q);
                    self.push(") AS ");
                    self.push(if self.shape { "d" } else { &f.alias });
                }
            }
            if let Some(on) = &f.on {
                self.push(" ON ");
                self.expr(on);
            }
        }
        for (i, w) in s.where_.iter().enumerate() {
            self.push(if i == 0 { " WHERE " } else { " AND " });
            self.paren(w);
        }
        for (i, g) in s.group_by.iter().enumerate() {
            self.push(if i == 0 { " GROUP BY " } else { ", " });
            self.expr(g);
        }
        if let Some(h) = &s.having {
            self.push(" HAVING ");
            self.expr(h);
        }
    }

    /// An expression that is safe next to AND whatever it is.
    fn paren(&mut self, e: &Expr) {
        if matches!(e, Expr::Op(Op::Bare(_), _)) {
            self.push("(");
            self.expr(e);
            self.push(")");
        } else {
            self.expr(e);
        }
    }

    fn list(&mut self, items: &[Expr]) {
        for (i, e) in items.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.paren(e);
        }
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Lit(l) => {
                if self.shape {
                    self.push(l.shape());
                } else {
                    self.push(&l.sql());
                }
            }
            Expr::Col { qual, name, ty } => {
                if self.shape {
                    let _ = write!(self.out, "{}", ty.sql());
                } else {
                    let _ = write!(self.out, "{qual}.{name}");
                }
            }
            Expr::Op(op, args) => self.op(op, args),
            Expr::Sub(kind, args, q) => {
                match kind {
                    SubKind::In { negated } => {
                        self.push("(");
                        self.list(args);
                        self.push(if *negated { " NOT IN (" } else { " IN (" });
                    }
                    SubKind::Exists { negated } => {
                        self.push(if *negated {
                            "(NOT EXISTS ("
                        } else {
                            "(EXISTS ("
                        });
                    }
                    SubKind::Scalar => self.push("(("),
                }
                self.query(q);
                self.push("))");
            }
        }
    }

    fn op(&mut self, op: &Op, args: &[Expr]) {
        match op {
            Op::Neg => {
                self.push("(- ");
                self.list(args);
                self.push(")");
            }
            Op::Not => {
                self.push("(NOT ");
                self.list(args);
                self.push(")");
            }
            Op::Bin(o) => {
                self.push("(");
                self.binary(o, args);
                self.push(")");
            }
            Op::Bare(o) => self.binary(o, args),
            Op::Between { negated } => {
                self.push("(");
                self.nth(args, 0);
                self.push(if *negated {
                    " NOT BETWEEN "
                } else {
                    " BETWEEN "
                });
                self.nth(args, 1);
                self.push(" AND ");
                self.nth(args, 2);
                self.push(")");
            }
            Op::In { negated } => {
                self.push("(");
                self.nth(args, 0);
                self.push(if *negated { " NOT IN (" } else { " IN (" });
                self.list(args.get(1..).unwrap_or(&[]));
                self.push("))");
            }
            Op::IsNull { negated } => {
                self.push("(");
                self.nth(args, 0);
                self.push(if *negated {
                    " IS NOT NULL)"
                } else {
                    " IS NULL)"
                });
            }
            Op::Case { operand, has_else } => self.case(*operand, *has_else, args),
            Op::Cast(ty) => {
                self.push("CAST(");
                self.nth(args, 0);
                let _ = write!(self.out, " AS {})", ty.sql());
            }
            Op::Func(name) => {
                self.push(name);
                self.push("(");
                self.list(args);
                self.push(")");
            }
            Op::Agg { name, distinct } => {
                self.push(name);
                self.push(if *distinct { "(DISTINCT " } else { "(" });
                self.list(args);
                self.push(")");
            }
            Op::CountStar => self.push("count(*)"),
            Op::Window {
                name,
                args: n_args,
                partition,
            } => self.window(name, *n_args, *partition, args),
        }
    }

    fn nth(&mut self, args: &[Expr], i: usize) {
        match args.get(i) {
            Some(e) => self.paren(e),
            None => self.push("NULL"),
        }
    }

    fn binary(&mut self, o: &str, args: &[Expr]) {
        // Bare children stay bare: that is the point of `Bare`.
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                let _ = write!(self.out, " {o} ");
            }
            self.expr(a);
        }
    }

    fn case(&mut self, operand: bool, has_else: bool, args: &[Expr]) {
        self.push("CASE");
        let mut rest = args;
        if operand {
            self.push(" ");
            self.nth(rest, 0);
            rest = rest.get(1..).unwrap_or(&[]);
        }
        let else_ = if has_else { rest.last() } else { None };
        let pairs = if has_else {
            rest.get(..rest.len().saturating_sub(1)).unwrap_or(&[])
        } else {
            rest
        };
        for pair in pairs.chunks(2) {
            self.push(" WHEN ");
            self.nth(pair, 0);
            self.push(" THEN ");
            self.nth(pair, 1);
        }
        if let Some(e) = else_ {
            self.push(" ELSE ");
            self.paren(e);
        }
        self.push(" END");
    }

    fn window(&mut self, name: &str, n_args: usize, partition: usize, args: &[Expr]) {
        self.push(name);
        self.push("(");
        self.list(args.get(..n_args).unwrap_or(&[]));
        self.push(") OVER (");
        let parts = args.get(n_args..n_args + partition).unwrap_or(&[]);
        let order = args.get(n_args + partition..).unwrap_or(&[]);
        if !parts.is_empty() {
            self.push("PARTITION BY ");
            self.list(parts);
        }
        if !order.is_empty() {
            if !parts.is_empty() {
                self.push(" ");
            }
            self.push("ORDER BY ");
            self.list(order);
        }
        self.push(")");
    }
}
