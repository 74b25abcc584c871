//! The seeded generator: a schema, its data, then random SELECTs (as
//! [`Query`] trees, so the reducer can shrink them) and writes (as text).
//! Deterministic: the same seed and [`Config`] give the same statements.
//! It only emits SQL whose result is fixed by the data: no LIMIT without an
//! ORDER BY over every output column, no row_number() over ties, no
//! non-aggregate scalar subquery without ORDER BY ... LIMIT 1, no
//! group_concat whose order shows (only its length), no bare column of a
//! group.

use crate::ast::{Expr, FromItem, JoinKind, Lit, Op, Query, Select, SetOp, Source, SubKind, Ty};
use crate::config::{Class, Config};
use crate::rng::Rng;

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub ty: Ty,
    /// `INTEGER PRIMARY KEY` (the rowid).
    pub ipk: bool,
    pub not_null: bool,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub tables: Vec<Table>,
    /// CREATE TABLE and CREATE INDEX statements, in order.
    pub ddl: Vec<String>,
}

/// One generated statement.
#[derive(Debug, Clone)]
pub enum Statement {
    Query(Query),
    /// INSERT, UPDATE or DELETE on `schema.tables[table]`.
    Write {
        sql: String,
        table: usize,
    },
}

/// A column visible to an expression.
#[derive(Debug, Clone)]
struct ScopeCol {
    qual: String,
    name: String,
    ty: Ty,
    /// A base table's column (has the column's affinity in SQLite).
    base: bool,
    /// Unique within the FROM clause (an INTEGER PRIMARY KEY of a
    /// single-table FROM).
    unique: bool,
}

type Scope = Vec<ScopeCol>;

/// Expression nesting depth for the top level of a statement.
const EXPR_DEPTH_MAX: u32 = 3;
/// Query nesting depth (subqueries, derived tables).
const QUERY_DEPTH_MAX: u32 = 2;

const SMALL_INTS: [i64; 8] = [-3, -1, 0, 1, 2, 3, 7, 10];
const EXTREME_INTS: [i64; 4] = [i64::MAX, i64::MIN, i64::MAX - 1, i64::MIN + 1];
const REALS: [f64; 6] = [0.5, 1.5, 1e18, -2.25, 3.0, 0.001];
const NUMERIC_TEXTS: [&str; 6] = ["10", "7", "1.5", " 3", "1e5", "-2"];
const WORD_TEXTS: [&str; 5] = ["abc", "", "ABC", "a b", "x'y"];

pub struct Generator<'a> {
    rng: Rng,
    /// Draws for choices added after the main stream was fixed (which
    /// queries run inside `SELECT * FROM (...) LIMIT`), so a seed still
    /// makes the statements it made before.
    side: Rng,
    cfg: &'a Config,
    pub schema: Schema,
    alias_next: usize,
    /// A write's own table, which its subqueries must not read (SQLite and
    /// Cairn may legitimately see different intermediate states).
    avoid_table: Option<usize>,
}

impl<'a> Generator<'a> {
    pub fn new(seed: u64, cfg: &'a Config) -> Generator<'a> {
        Generator {
            rng: Rng::new(seed),
            side: Rng::new(seed ^ 0x05ee_d0ff_1257_u64),
            cfg,
            schema: Schema::default(),
            alias_next: 0,
            avoid_table: None,
        }
    }

    fn allows(&self, class: Class) -> bool {
        self.cfg.allows(class)
    }

    // ---- schema and data -------------------------------------------------

    /// Makes the schema (2–4 tables) and returns its DDL.
    pub fn gen_schema(&mut self) -> Vec<String> {
        let tables = self.rng.range(2, 4);
        for t in 0..tables {
            let name = format!("t{t}");
            let mut columns = Vec::new();
            if self.rng.chance(50) {
                columns.push(Column {
                    name: "id".into(),
                    ty: Ty::Int,
                    ipk: true,
                    not_null: false,
                });
            }
            let extra = self.rng.range(2, 5) - usize::from(!columns.is_empty()).min(1);
            for c in 0..extra.max(1) {
                let ty = *self.rng.pick(&[Ty::Int, Ty::Real, Ty::Text]);
                columns.push(Column {
                    name: format!("c{c}"),
                    ty,
                    ipk: false,
                    not_null: self.rng.chance(15),
                });
            }
            let defs: Vec<String> = columns
                .iter()
                .map(|c| {
                    let mut d = format!("{} {}", c.name, c.ty.sql());
                    if c.ipk {
                        d.push_str(" PRIMARY KEY");
                    }
                    if c.not_null {
                        d.push_str(" NOT NULL");
                    }
                    d
                })
                .collect();
            self.schema
                .ddl
                .push(format!("CREATE TABLE {name} ({})", defs.join(", ")));
            let plain: Vec<&Column> = columns.iter().filter(|c| !c.ipk).collect();
            if self.rng.chance(50) && !plain.is_empty() {
                let first = self.rng.pick(&plain).name.clone();
                let mut cols = vec![first];
                let second = self.rng.pick(&plain).name.clone();
                if self.rng.chance(40) && !cols.contains(&second) {
                    cols.push(second);
                }
                self.schema.ddl.push(format!(
                    "CREATE INDEX {name}_i ON {name} ({})",
                    cols.join(", ")
                ));
            }
            self.schema.tables.push(Table { name, columns });
        }
        self.schema.ddl.clone()
    }

    /// INSERTs for the initial rows: one row per statement, 4–12 per table.
    pub fn gen_data(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for t in 0..self.schema.tables.len() {
            let rows = self.rng.range(4, 12);
            for r in 0..rows {
                out.push(self.insert(t, 1, Some(r as i64 + 1), ""));
            }
        }
        out
    }

    /// `INSERT {or} INTO t (cols) VALUES ...` with `rows` rows; `id` is the
    /// INTEGER PRIMARY KEY to give the first row, if any.
    fn insert(&mut self, t: usize, rows: usize, id: Option<i64>, or: &str) -> String {
        let table = self.schema.tables[t].clone();
        let omit_id = self.allows(Class::ImplicitRowid) && self.rng.chance(15);
        let cols: Vec<&Column> = table
            .columns
            .iter()
            .filter(|c| !(c.ipk && omit_id))
            .collect();
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        let mut tuples = Vec::new();
        for r in 0..rows {
            let vals: Vec<String> = cols
                .iter()
                .map(|c| {
                    if c.ipk {
                        self.ipk_value(id.map(|i| i + r as i64)).sql()
                    } else {
                        let may_be_null = !c.not_null
                            || (or.is_empty() && self.rng.chance(10))
                            || (!or.is_empty() && self.allows(Class::OrIgnoreNotNull));
                        self.write_value(c.ty, may_be_null).sql()
                    }
                })
                .collect();
            tuples.push(format!("({})", vals.join(", ")));
        }
        format!(
            "INSERT {or}INTO {} ({}) VALUES {}",
            table.name,
            names.join(", "),
            tuples.join(", ")
        )
    }

    fn ipk_value(&mut self, id: Option<i64>) -> Lit {
        let r = self.rng.below(100);
        if r < 8 && self.allows(Class::IpkNonInteger) {
            return Lit::Real(*self.rng.pick(&[1.5, 2.5, -0.5]));
        }
        if r < 12 {
            // Never i64::MAX: after it SQLite picks a random rowid.
            let low = if self.allows(Class::MinIntLiteral) {
                i64::MIN
            } else {
                i64::MIN + 1
            };
            return Lit::Int(*self.rng.pick(&[low, i64::MAX - 1, 0, -1]));
        }
        if r < 16 {
            return Lit::Text("7".into());
        }
        match id {
            Some(i) => Lit::Int(i),
            None => Lit::Int(self.rng.range(1, 20) as i64),
        }
    }

    /// A value to store in a column of type `ty`.
    fn write_value(&mut self, ty: Ty, may_be_null: bool) -> Lit {
        let r = self.rng.below(100);
        if r < 12 && may_be_null {
            return Lit::Null;
        }
        if r < 16 && self.allows(Class::MistypedWrite) && ty != Ty::Text {
            return Lit::Text(self.rng.pick(&WORD_TEXTS).to_string());
        }
        if r < 18 && self.allows(Class::NegativeZero) {
            return Lit::Real(-0.0);
        }
        match ty {
            Ty::Text => match self.rng.below(10) {
                0..=3 => Lit::Text(self.rng.pick(&WORD_TEXTS).to_string()),
                4..=6 => Lit::Text(self.rng.pick(&NUMERIC_TEXTS).to_string()),
                7 | 8 => self.int_lit(),
                _ if self.allows(Class::RealToText) => Lit::Real(*self.rng.pick(&REALS)),
                _ => Lit::Text("abc".into()),
            },
            Ty::Int | Ty::Bool => match self.rng.below(10) {
                0..=6 => self.int_lit(),
                7 => Lit::Text(self.rng.pick(&NUMERIC_TEXTS).to_string()),
                _ => Lit::Real(*self.rng.pick(&REALS)),
            },
            Ty::Real => match self.rng.below(10) {
                0..=5 => Lit::Real(*self.rng.pick(&REALS)),
                6 | 7 => self.int_lit(),
                _ => Lit::Text(self.rng.pick(&NUMERIC_TEXTS).to_string()),
            },
        }
    }

    fn int_lit(&mut self) -> Lit {
        if self.rng.chance(15) {
            let mut v = *self.rng.pick(&EXTREME_INTS);
            if v == i64::MIN && !self.allows(Class::MinIntLiteral) {
                v = i64::MIN + 1;
            }
            if v == i64::MIN && self.allows(Class::MinIntLiteral) && self.rng.chance(50) {
                return Lit::MinIntRaw;
            }
            Lit::Int(v)
        } else {
            Lit::Int(*self.rng.pick(&SMALL_INTS))
        }
    }

    /// A literal of type `ty` for an expression (sometimes NULL).
    fn lit(&mut self, ty: Ty) -> Lit {
        if self.rng.chance(8) {
            return Lit::Null;
        }
        match ty {
            Ty::Int | Ty::Bool => self.int_lit(),
            Ty::Real => {
                if self.allows(Class::NegativeZero) && self.rng.chance(10) {
                    Lit::Real(-0.0)
                } else {
                    Lit::Real(*self.rng.pick(&REALS))
                }
            }
            Ty::Text => {
                if self.rng.chance(50) {
                    Lit::Text(self.rng.pick(&NUMERIC_TEXTS).to_string())
                } else {
                    Lit::Text(self.rng.pick(&WORD_TEXTS).to_string())
                }
            }
        }
    }

    // ---- statements --------------------------------------------------------

    /// The next random statement.
    pub fn gen_statement(&mut self) -> Statement {
        self.alias_next = 0;
        self.avoid_table = None;
        if self.rng.chance(self.cfg.write_percent) {
            let (sql, table) = self.write();
            Statement::Write { sql, table }
        } else {
            let mut q = self.query(0, &Vec::new(), None);
            if q.order_by.is_empty() && q.limit.is_none() {
                q.wrap_limit = self.side.chance(25);
            }
            Statement::Query(q)
        }
    }

    fn write(&mut self) -> (String, usize) {
        let t = self.rng.below(self.schema.tables.len());
        self.avoid_table = Some(t);
        let table = self.schema.tables[t].clone();
        let scope: Scope = table
            .columns
            .iter()
            .map(|c| ScopeCol {
                qual: table.name.clone(),
                name: c.name.clone(),
                ty: c.ty,
                base: true,
                unique: c.ipk,
            })
            .collect();
        let sql = match self.rng.below(10) {
            0..=3 => {
                let or = *self.rng.pick(&["", "", "OR IGNORE ", "OR REPLACE "]);
                let rows = self.rng.range(1, 3);
                self.insert(t, rows, None, or)
            }
            4..=6 => {
                let targets: Vec<&Column> = table.columns.iter().filter(|c| !c.ipk).collect();
                let n = self.rng.range(1, targets.len().clamp(1, 2));
                let mut sets = Vec::new();
                for _ in 0..n {
                    let c = *self.rng.pick(&targets);
                    let e = self.expr(c.ty, 2, &scope, 1);
                    sets.push(format!("{} = {}", c.name, e_sql(&e)));
                }
                sets.dedup();
                let mut sql = format!("UPDATE {} SET {}", table.name, sets.join(", "));
                if self.rng.chance(75) {
                    let w = self.predicate(2, &scope, 1);
                    sql.push_str(&format!(" WHERE {}", e_sql(&w)));
                }
                sql
            }
            _ => {
                let mut sql = format!("DELETE FROM {}", table.name);
                if self.rng.chance(85) {
                    let w = self.predicate(2, &scope, 1);
                    sql.push_str(&format!(" WHERE {}", e_sql(&w)));
                }
                sql
            }
        };
        (sql, t)
    }

    fn alias(&mut self) -> String {
        let a = format!("a{}", self.alias_next);
        self.alias_next += 1;
        a
    }

    /// A query; `types` fixes its output column types (compound members,
    /// derived tables, subqueries).
    fn query(&mut self, depth: u32, outer: &Scope, types: Option<Vec<Ty>>) -> Query {
        let mut q = Query::default();
        if depth == 0 && self.allows(Class::OuterAggregate) && self.side.chance(4) {
            q.selects.push(self.outer_aggregate_select());
            self.order_and_limit(&mut q);
            return q;
        }
        let r = self.rng.below(100);
        if r < 15 && depth < QUERY_DEPTH_MAX {
            self.compound(&mut q, depth, outer, types);
        } else if r < 35 && types.is_none() {
            q.selects.push(self.aggregate_select(depth, outer));
        } else if r < 45 && types.is_none() && depth == 0 {
            q.selects.push(self.window_select(depth));
        } else {
            let types = types.unwrap_or_else(|| self.item_types());
            q.selects.push(self.plain_select(depth, outer, &types));
        }
        self.order_and_limit(&mut q);
        q
    }

    fn item_types(&mut self) -> Vec<Ty> {
        let n = self.rng.range(1, 4);
        (0..n)
            .map(|_| {
                *self
                    .rng
                    .pick(&[Ty::Int, Ty::Int, Ty::Real, Ty::Text, Ty::Text, Ty::Bool])
            })
            .collect()
    }

    fn compound(&mut self, q: &mut Query, depth: u32, outer: &Scope, types: Option<Vec<Ty>>) {
        let types = types.unwrap_or_else(|| {
            let n = self.rng.range(1, 3);
            (0..n)
                .map(|_| *self.rng.pick(&[Ty::Int, Ty::Real, Ty::Text]))
                .collect()
        });
        let members = self.rng.range(2, 3);
        let ops = [
            SetOp::Union,
            SetOp::UnionAll,
            SetOp::Intersect,
            SetOp::Except,
        ];
        let first_op = *self.rng.pick(&ops);
        for m in 0..members {
            q.selects.push(self.plain_select(depth + 1, outer, &types));
            if m > 0 {
                let op = if self.allows(Class::MixedCompound) {
                    *self.rng.pick(&ops)
                } else {
                    first_op
                };
                q.ops.push(op);
            }
        }
    }

    fn order_and_limit(&mut self, q: &mut Query) {
        let n = q.columns();
        if n == 0 || !self.rng.chance(40) {
            return;
        }
        let mut positions: Vec<usize> = (1..=n).collect();
        // Shuffle, then maybe drop a suffix.
        for i in (1..positions.len()).rev() {
            let j = self.rng.below(i + 1);
            positions.swap(i, j);
        }
        let keep = if self.rng.chance(70) {
            n
        } else {
            self.rng.range(1, n)
        };
        positions.truncate(keep);
        q.order_by = positions
            .into_iter()
            .map(|p| (p, self.rng.chance(30)))
            .collect();
        if q.totally_ordered() && self.rng.chance(50) {
            q.limit = Some((self.rng.range(0, 5) as u64, self.rng.range(0, 3) as u64));
        }
    }

    /// FROM items (1–3) and the scope they make.
    fn gen_from(&mut self, depth: u32) -> (Vec<FromItem>, Scope) {
        let n = self.rng.range(1, if depth == 0 { 3 } else { 2 });
        let mut items = Vec::new();
        let mut scope = Scope::new();
        for i in 0..n {
            let alias = self.alias();
            let (source, cols) = if depth < QUERY_DEPTH_MAX && self.rng.chance(12) {
                let types: Vec<Ty> = (0..self.rng.range(1, 3))
                    .map(|_| *self.rng.pick(&[Ty::Int, Ty::Real, Ty::Text]))
                    .collect();
                let sub = self.query(depth + 1, &Vec::new(), Some(types.clone()));
                let cols: Scope = types
                    .iter()
                    .enumerate()
                    .map(|(k, ty)| ScopeCol {
                        qual: alias.clone(),
                        name: format!("c{k}"),
                        ty: *ty,
                        base: false,
                        unique: false,
                    })
                    .collect();
                (Source::Derived(Box::new(sub)), cols)
            } else {
                let t = self.pick_table();
                let table = &self.schema.tables[t];
                let cols: Scope = table
                    .columns
                    .iter()
                    .map(|c| ScopeCol {
                        qual: alias.clone(),
                        name: c.name.clone(),
                        ty: c.ty,
                        base: true,
                        unique: c.ipk && n == 1,
                    })
                    .collect();
                (Source::Table(table.name.clone()), cols)
            };
            scope.extend(cols);
            let kind = if i == 0 {
                JoinKind::First
            } else {
                *self
                    .rng
                    .pick(&[JoinKind::Inner, JoinKind::Left, JoinKind::Cross])
            };
            let on = match kind {
                JoinKind::Inner | JoinKind::Left => Some(self.predicate(1, &scope, depth + 1)),
                _ => None,
            };
            items.push(FromItem {
                kind,
                source,
                alias,
                on,
            });
        }
        (items, scope)
    }

    fn pick_table(&mut self) -> usize {
        let n = self.schema.tables.len();
        loop {
            let t = self.rng.below(n);
            if Some(t) != self.avoid_table || n == 1 {
                return t;
            }
        }
    }

    fn plain_select(&mut self, depth: u32, outer: &Scope, types: &[Ty]) -> Select {
        let (from, local) = self.gen_from(depth);
        let mut scope = local;
        scope.extend(outer.iter().cloned());
        let items = types
            .iter()
            .map(|ty| self.expr(*ty, EXPR_DEPTH_MAX, &scope, depth + 1))
            .collect();
        let where_ = (0..self.rng.range(0, 2))
            .map(|_| self.predicate(EXPR_DEPTH_MAX, &scope, depth + 1))
            .collect();
        Select {
            distinct: self.rng.chance(15),
            items,
            from,
            where_,
            group_by: Vec::new(),
            having: None,
        }
    }

    fn aggregate_select(&mut self, depth: u32, outer: &Scope) -> Select {
        let (from, local) = self.gen_from(depth);
        let mut scope = local.clone();
        scope.extend(outer.iter().cloned());
        let mut group_by = Vec::new();
        let mut items = Vec::new();
        for _ in 0..self.rng.range(0, 2) {
            let c = self.rng.pick(&local).clone();
            let key = col_expr(&c);
            if !group_by.contains(&key) {
                group_by.push(key.clone());
                items.push(key);
            }
        }
        if self.allows(Class::GroupByConstant) && self.rng.chance(5) {
            group_by.push(Expr::Lit(Lit::Text("k".into())));
        }
        // Aggregates over this level's columns only: one whose argument
        // reads only outer columns is the outer query's (see
        // `outer_aggregate_select`).
        for _ in 0..self.rng.range(1, 2) {
            items.push(self.aggregate(&local, depth + 1).0);
        }
        let where_ = (0..self.rng.range(0, 1))
            .map(|_| self.predicate(2, &scope, depth + 1))
            .collect();
        let having = if self.rng.chance(30) {
            let (agg, ty) = self.aggregate(&local, depth + 1);
            let op = *self.rng.pick(&["=", "<", ">", "<>", ">="]);
            let rhs = Expr::Lit(self.lit(if ty == Ty::Text { Ty::Text } else { ty }));
            Some(Expr::Op(Op::Bin(op), vec![agg, rhs]))
        } else {
            None
        };
        Select {
            distinct: self.rng.chance(10),
            items,
            from,
            where_,
            group_by,
            having,
        }
    }

    /// An aggregate over `scope` and its result type.
    /// A SELECT whose aggregates sit in scalar subqueries but read only
    /// its own columns (`SELECT (SELECT sum(o.a) FROM t2) FROM t1 o`): they
    /// aggregate its rows (SQL's rule and SQLite's), so it returns one row.
    /// Every item is such a subquery or an aggregate: a bare column would
    /// come from whichever row an engine reads first, which neither
    /// defines.
    fn outer_aggregate_select(&mut self) -> Select {
        let (from, local) = self.gen_from(0);
        let mut items = Vec::new();
        for _ in 0..self.rng.range(1, 3) {
            // No subquery in an argument: which level such an aggregate
            // belongs to depends on the subquery's names too.
            let (agg, _) = self.aggregate(&local, QUERY_DEPTH_MAX);
            if self.rng.chance(25) {
                items.push(agg);
                continue;
            }
            let (inner_from, inner) = self.gen_from(1);
            let where_ = (0..self.rng.range(0, 1))
                .map(|_| self.predicate(2, &inner, QUERY_DEPTH_MAX))
                .collect();
            let q = Query {
                selects: vec![Select {
                    items: vec![agg],
                    from: inner_from,
                    where_,
                    ..Select::default()
                }],
                ..Query::default()
            };
            items.push(Expr::Sub(SubKind::Scalar, vec![], Box::new(q)));
        }
        let where_ = (0..self.rng.range(0, 1))
            .map(|_| self.predicate(2, &local, QUERY_DEPTH_MAX))
            .collect();
        Select {
            items,
            from,
            where_,
            ..Select::default()
        }
    }

    fn aggregate(&mut self, scope: &Scope, qdepth: u32) -> (Expr, Ty) {
        let distinct = self.rng.chance(15);
        let arg_ty = *self.rng.pick(&[Ty::Int, Ty::Int, Ty::Real, Ty::Text]);
        let arg = self.expr(arg_ty, 1, scope, qdepth);
        let agg = |name: &'static str, distinct: bool, arg: Expr| {
            Expr::Op(Op::Agg { name, distinct }, vec![arg])
        };
        let numeric_ok = arg_ty != Ty::Text || self.allows(Class::SumText);
        let sum_arg = if self.allows(Class::ExtremeSum) {
            arg.clone()
        } else {
            tame(arg.clone())
        };
        match self.rng.below(8) {
            0 => (Expr::Op(Op::CountStar, vec![]), Ty::Int),
            1 => (agg("count", distinct, arg), Ty::Int),
            2 if numeric_ok => {
                let ty = if arg_ty == Ty::Int { Ty::Int } else { Ty::Real };
                (agg("sum", distinct, sum_arg), ty)
            }
            3 if numeric_ok => (agg("total", distinct, sum_arg), Ty::Real),
            4 if numeric_ok && (arg_ty != Ty::Int || self.allows(Class::AvgInteger)) => {
                (agg("avg", distinct, sum_arg), Ty::Real)
            }
            5 => (agg("min", false, arg), arg_ty),
            6 => (agg("max", false, arg), arg_ty),
            7 if arg_ty != Ty::Real || self.allows(Class::RealToText) => {
                // Only the length: the order group_concat sees is not fixed.
                let gc = agg("group_concat", distinct, arg);
                (Expr::Op(Op::Func("length"), vec![gc]), Ty::Int)
            }
            _ => (agg("max", false, arg), arg_ty),
        }
    }

    fn window_select(&mut self, depth: u32) -> Select {
        let (from, scope) = self.gen_from(depth);
        let mut items = Vec::new();
        for _ in 0..self.rng.range(1, 2) {
            let c = self.rng.pick(&scope).clone();
            items.push(col_expr(&c));
        }
        for _ in 0..self.rng.range(1, 2) {
            items.push(self.window(&scope));
        }
        let where_ = (0..self.rng.range(0, 1))
            .map(|_| self.predicate(2, &scope, depth + 1))
            .collect();
        Select {
            distinct: false,
            items,
            from,
            where_,
            group_by: Vec::new(),
            having: None,
        }
    }

    fn window(&mut self, scope: &Scope) -> Expr {
        let partition: Vec<Expr> = (0..self.rng.range(0, 1))
            .map(|_| col_expr(self.rng.pick(scope)))
            .collect();
        let mut order: Vec<Expr> = (0..self.rng.range(0, 2))
            .map(|_| col_expr(self.rng.pick(scope)))
            .collect();
        let unique: Vec<&ScopeCol> = scope.iter().filter(|c| c.unique).collect();
        let (name, args): (&'static str, Vec<Expr>) = match self.rng.below(6) {
            0 if !unique.is_empty() => {
                // row_number() only over a unique order: ties would let the
                // engines number rows differently.
                order = vec![col_expr(unique[0])];
                ("row_number", vec![])
            }
            1 => ("rank", vec![]),
            2 => ("dense_rank", vec![]),
            3 => {
                let c = self.rng.pick(scope).clone();
                ("count", vec![col_expr(&c)])
            }
            4 => {
                let numeric: Vec<&ScopeCol> = scope.iter().filter(|c| c.ty != Ty::Text).collect();
                match numeric.first() {
                    Some(c) if self.allows(Class::ExtremeSum) => ("sum", vec![col_expr(c)]),
                    Some(c) => ("sum", vec![tame(col_expr(c))]),
                    None => ("count", vec![col_expr(&scope[0])]),
                }
            }
            _ => {
                let c = self.rng.pick(scope).clone();
                (*self.rng.pick(&["min", "max"]), vec![col_expr(&c)])
            }
        };
        let n_args = args.len();
        let n_part = partition.len();
        let mut children = args;
        children.extend(partition);
        children.extend(order);
        Expr::Op(
            Op::Window {
                name,
                args: n_args,
                partition: n_part,
            },
            children,
        )
    }

    // ---- expressions -------------------------------------------------------

    fn columns_of(&self, scope: &Scope, ty: Ty) -> Vec<ScopeCol> {
        scope.iter().filter(|c| c.ty == ty).cloned().collect()
    }

    fn leaf(&mut self, ty: Ty, scope: &Scope) -> Expr {
        if ty == Ty::Bool {
            let t = *self.rng.pick(&[Ty::Int, Ty::Real, Ty::Text]);
            let lhs = self.leaf(t, scope);
            if self.rng.chance(30) {
                let negated = self.rng.chance(50);
                return Expr::Op(Op::IsNull { negated }, vec![lhs]);
            }
            let rhs = self.comparand(&lhs, t, 0, scope, 0);
            let op = *self.rng.pick(&["=", "<>", "<", "<=", ">", ">="]);
            return Expr::Op(Op::Bin(op), vec![lhs, rhs]);
        }
        let cols = self.columns_of(scope, ty);
        if !cols.is_empty() && self.rng.chance(65) {
            return col_expr(self.rng.pick(&cols));
        }
        Expr::Lit(self.lit(ty))
    }

    /// The other side of a comparison with `lhs` (of type `ty`): the same
    /// type family unless mixed-type comparisons are on; a base numeric
    /// column may always meet numeric-looking text (documented affinity).
    fn comparand(&mut self, lhs: &Expr, ty: Ty, depth: u32, scope: &Scope, qdepth: u32) -> Expr {
        let base_numeric = matches!(
            lhs,
            Expr::Col {
                ty: Ty::Int | Ty::Real,
                ..
            }
        ) && self.is_base(lhs, scope);
        if base_numeric && self.rng.chance(20) {
            return Expr::Lit(Lit::Text(self.rng.pick(&NUMERIC_TEXTS).to_string()));
        }
        let other = self.partner(ty);
        self.expr(other, depth, scope, qdepth)
    }

    fn is_base(&self, e: &Expr, scope: &Scope) -> bool {
        match e {
            Expr::Col { qual, name, .. } => scope
                .iter()
                .any(|c| &c.qual == qual && &c.name == name && c.base),
            _ => false,
        }
    }

    fn partner(&mut self, ty: Ty) -> Ty {
        if self.allows(Class::MixedTypeCompare) && self.rng.chance(35) {
            return *self.rng.pick(&[Ty::Int, Ty::Real, Ty::Text]);
        }
        match ty {
            Ty::Text => Ty::Text,
            _ => *self.rng.pick(&[Ty::Int, Ty::Real]),
        }
    }

    /// An expression of type `ty`; `qdepth` is the query nesting depth.
    fn expr(&mut self, ty: Ty, depth: u32, scope: &Scope, qdepth: u32) -> Expr {
        if ty == Ty::Bool {
            return self.predicate(depth, scope, qdepth);
        }
        if depth == 0 || self.rng.chance(35) {
            return self.leaf(ty, scope);
        }
        let d = depth - 1;
        match self.rng.below(10) {
            0 | 1 => self.arith(ty, d, scope, qdepth),
            2 => {
                let cond = self.predicate(d, scope, qdepth);
                let then = self.expr(ty, d, scope, qdepth);
                let mut args = vec![cond, then];
                let has_else = self.rng.chance(60);
                if has_else {
                    args.push(self.expr(ty, d, scope, qdepth));
                }
                Expr::Op(
                    Op::Case {
                        operand: false,
                        has_else,
                    },
                    args,
                )
            }
            3 => self.simple_case(ty, d, scope, qdepth),
            4 => {
                let name = *self.rng.pick(&["coalesce", "nullif"]);
                let a = self.expr(ty, d, scope, qdepth);
                let b = self.expr(ty, d, scope, qdepth);
                Expr::Op(Op::Func(name), vec![a, b])
            }
            5 => self.cast_to(ty, d, scope, qdepth),
            6 if qdepth < QUERY_DEPTH_MAX => self.scalar_subquery(ty, scope, qdepth),
            _ => self.typed_function(ty, d, scope, qdepth),
        }
    }

    fn arith(&mut self, ty: Ty, d: u32, scope: &Scope, qdepth: u32) -> Expr {
        match ty {
            Ty::Text => {
                let a = self.text_operand(d, scope, qdepth);
                let b = self.text_operand(d, scope, qdepth);
                Expr::Op(Op::Bin("||"), vec![a, b])
            }
            _ => {
                let a = self.expr(ty, d, scope, qdepth);
                let b_ty = if ty == Ty::Real {
                    *self.rng.pick(&[Ty::Int, Ty::Real])
                } else {
                    Ty::Int
                };
                let b = self.expr(b_ty, d, scope, qdepth);
                let mut ops = vec!["+", "-"];
                if ty == Ty::Int || self.allows(Class::NegativeZero) {
                    // 0.0 * -1 and 0.0 / -1 are -0.0.
                    ops.extend(["*", "/"]);
                }
                if ty == Ty::Int || self.allows(Class::RealModulo) {
                    ops.push("%");
                }
                let op = *self.rng.pick(&ops);
                let (a, b) = if op == "%" && !self.allows(Class::RealModulo) {
                    (cast_int(a), cast_int(b))
                } else {
                    (a, b)
                };
                if self.allows(Class::BareOperators) && self.rng.chance(20) {
                    let c = self.expr(Ty::Int, 0, scope, qdepth);
                    let op2 = *self.rng.pick(&["+", "*", "||", "-"]);
                    return Expr::Op(Op::Bare(op2), vec![Expr::Op(Op::Bare(op), vec![a, b]), c]);
                }
                Expr::Op(Op::Bin(op), vec![a, b])
            }
        }
    }

    /// An operand of `||`: text, integer, and (when allowed) real or boolean.
    fn text_operand(&mut self, d: u32, scope: &Scope, qdepth: u32) -> Expr {
        let mut tys = vec![Ty::Text, Ty::Text, Ty::Int];
        if self.allows(Class::RealToText) {
            tys.push(Ty::Real);
        }
        if self.allows(Class::BoolAsText) {
            tys.push(Ty::Bool);
        }
        let ty = *self.rng.pick(&tys);
        self.expr(ty, d, scope, qdepth)
    }

    fn simple_case(&mut self, ty: Ty, d: u32, scope: &Scope, qdepth: u32) -> Expr {
        let op_ty = *self.rng.pick(&[Ty::Int, Ty::Real, Ty::Text]);
        let operand = self.expr(op_ty, d, scope, qdepth);
        let mut args = vec![operand];
        for _ in 0..self.rng.range(1, 2) {
            let w_ty = self.partner(op_ty);
            args.push(Expr::Lit(self.lit(w_ty)));
            args.push(self.expr(ty, d, scope, qdepth));
        }
        let has_else = self.rng.chance(50);
        if has_else {
            args.push(self.expr(ty, d, scope, qdepth));
        }
        Expr::Op(
            Op::Case {
                operand: true,
                has_else,
            },
            args,
        )
    }

    fn cast_to(&mut self, ty: Ty, d: u32, scope: &Scope, qdepth: u32) -> Expr {
        let mut from = vec![Ty::Int, Ty::Real];
        let text_ok = match ty {
            Ty::Int => self.allows(Class::CastTextToInteger),
            _ => true,
        };
        if text_ok {
            from.push(Ty::Text);
        }
        if ty == Ty::Text {
            from.retain(|t| *t != Ty::Real || self.allows(Class::RealToText));
            if self.allows(Class::BoolAsText) {
                from.push(Ty::Bool);
            }
        }
        let src = *self.rng.pick(&from);
        let e = self.expr(src, d, scope, qdepth);
        Expr::Op(Op::Cast(ty), vec![e])
    }

    fn typed_function(&mut self, ty: Ty, d: u32, scope: &Scope, qdepth: u32) -> Expr {
        match ty {
            Ty::Int => match self.rng.below(3) {
                0 => {
                    let s = self.text_operand(d, scope, qdepth);
                    Expr::Op(Op::Func("length"), vec![s])
                }
                1 if self.allows(Class::AbsOverflow) => {
                    let a = self.expr(Ty::Int, d, scope, qdepth);
                    Expr::Op(Op::Func("abs"), vec![a])
                }
                _ => {
                    let a = self.expr(Ty::Int, d, scope, qdepth);
                    Expr::Op(Op::Neg, vec![a])
                }
            },
            Ty::Real => {
                let a = self.expr(Ty::Real, d, scope, qdepth);
                if self.rng.chance(50) || !self.allows(Class::NegativeZero) {
                    Expr::Op(Op::Func("abs"), vec![a])
                } else {
                    Expr::Op(Op::Neg, vec![a])
                }
            }
            _ => match self.rng.below(4) {
                0 => {
                    let mut tys = vec![Ty::Int, Ty::Real, Ty::Text];
                    if self.allows(Class::BoolAsText) {
                        tys.push(Ty::Bool);
                    }
                    let t = *self.rng.pick(&tys);
                    let a = self.expr(t, d, scope, qdepth);
                    Expr::Op(Op::Func("typeof"), vec![a])
                }
                1 => {
                    let s = self.expr(Ty::Text, d, scope, qdepth);
                    let start = Expr::Lit(Lit::Int(self.rng.range(0, 3) as i64 - 1));
                    let len = Expr::Lit(Lit::Int(self.rng.range(0, 3) as i64));
                    Expr::Op(Op::Func("substr"), vec![s, start, len])
                }
                _ => {
                    let name = *self.rng.pick(&["upper", "lower"]);
                    let s = self.expr(Ty::Text, d, scope, qdepth);
                    Expr::Op(Op::Func(name), vec![s])
                }
            },
        }
    }

    /// A boolean expression over `scope`.
    fn predicate(&mut self, depth: u32, scope: &Scope, qdepth: u32) -> Expr {
        if depth == 0 {
            return self.leaf(Ty::Bool, scope);
        }
        let d = depth - 1;
        let t = *self.rng.pick(&[Ty::Int, Ty::Real, Ty::Text]);
        match self.rng.below(14) {
            0..=3 => {
                let lhs = self.expr(t, d, scope, qdepth);
                let rhs = self.comparand(&lhs, t, d, scope, qdepth);
                let op = *self.rng.pick(&["=", "<>", "<", "<=", ">", ">="]);
                if self.allows(Class::BareOperators) && self.rng.chance(10) {
                    let c = Expr::Lit(self.lit(Ty::Int));
                    let op2 = *self.rng.pick(&["<", "=", ">"]);
                    return Expr::Op(
                        Op::Bare(op2),
                        vec![Expr::Op(Op::Bare(op), vec![lhs, rhs]), c],
                    );
                }
                Expr::Op(Op::Bin(op), vec![lhs, rhs])
            }
            4 => {
                let lhs = self.expr(t, d, scope, qdepth);
                let negated = self.rng.chance(50);
                if self.allows(Class::IsOperator) && self.rng.chance(50) {
                    let rhs = self.comparand(&lhs, t, d, scope, qdepth);
                    let op = if negated { "IS NOT" } else { "IS" };
                    return Expr::Op(Op::Bin(op), vec![lhs, rhs]);
                }
                Expr::Op(Op::IsNull { negated }, vec![lhs])
            }
            5 => {
                let x = self.expr(t, d, scope, qdepth);
                let lo = self.comparand(&x, t, 0, scope, qdepth);
                let hi = self.comparand(&x, t, 0, scope, qdepth);
                let negated = self.rng.chance(30);
                Expr::Op(Op::Between { negated }, vec![x, lo, hi])
            }
            6 => {
                let x = self.expr(t, d, scope, qdepth);
                let mut args = vec![x];
                for _ in 0..self.rng.range(1, 4) {
                    let e = self.comparand(&args[0], t, 0, scope, qdepth);
                    args.push(e);
                }
                let negated = self.rng.chance(30);
                Expr::Op(Op::In { negated }, args)
            }
            7 if qdepth < QUERY_DEPTH_MAX => {
                let x = self.expr(t, d, scope, qdepth);
                let sub_ty = self.partner(t);
                let q = self.query(qdepth, scope, Some(vec![sub_ty]));
                let negated = self.rng.chance(30);
                Expr::Sub(SubKind::In { negated }, vec![x], Box::new(q))
            }
            8 if qdepth < QUERY_DEPTH_MAX => {
                let mut q = self.query(qdepth, scope, Some(vec![Ty::Int]));
                if !self.allows(Class::ExistsDistinctOffset) {
                    if let Some((_, offset)) = &mut q.limit {
                        *offset = 0;
                    }
                }
                let negated = self.rng.chance(30);
                Expr::Sub(SubKind::Exists { negated }, vec![], Box::new(q))
            }
            9 | 10 => {
                let op = *self.rng.pick(&["AND", "OR"]);
                let a = self.predicate(d, scope, qdepth);
                let b = self.predicate(d, scope, qdepth);
                Expr::Op(Op::Bin(op), vec![a, b])
            }
            11 => {
                let a = self.predicate(d, scope, qdepth);
                Expr::Op(Op::Not, vec![a])
            }
            _ => self.leaf(Ty::Bool, scope),
        }
    }

    /// A scalar subquery of type `ty` whose value is fixed: an aggregate, or
    /// one column ordered and limited to one row.
    fn scalar_subquery(&mut self, ty: Ty, outer: &Scope, qdepth: u32) -> Expr {
        let q = if self.rng.chance(60) {
            let (from, local) = self.gen_from(qdepth + 1);
            let mut scope = local.clone();
            scope.extend(outer.iter().cloned());
            // Over this level's columns: an argument over the outer
            // columns only would make the aggregate the outer query's (see
            // `outer_aggregate_select`).
            let arg = self.expr(ty, 1, &local, qdepth + 1);
            let name = match ty {
                Ty::Int => *self.rng.pick(&["max", "min", "count", "sum"]),
                Ty::Real => *self.rng.pick(&["max", "min", "total"]),
                _ => *self.rng.pick(&["max", "min"]),
            };
            let arg = if matches!(name, "sum" | "total") && !self.allows(Class::ExtremeSum) {
                tame(arg)
            } else {
                arg
            };
            let item = if name == "count" && self.rng.chance(50) {
                Expr::Op(Op::CountStar, vec![])
            } else {
                Expr::Op(
                    Op::Agg {
                        name,
                        distinct: false,
                    },
                    vec![arg],
                )
            };
            let where_ = (0..self.rng.range(0, 1))
                .map(|_| self.predicate(2, &scope, qdepth + 1))
                .collect();
            Query {
                selects: vec![Select {
                    items: vec![item],
                    from,
                    where_,
                    ..Select::default()
                }],
                ..Query::default()
            }
        } else {
            let types = vec![ty];
            let select = self.plain_select(qdepth + 1, outer, &types);
            Query {
                selects: vec![select],
                ops: vec![],
                order_by: vec![(1, self.rng.chance(50))],
                limit: Some((1, 0)),
                wrap_limit: false,
            }
        };
        Expr::Sub(SubKind::Scalar, vec![], Box::new(q))
    }
}

fn cast_int(e: Expr) -> Expr {
    Expr::Op(Op::Cast(Ty::Int), vec![e])
}

/// `CASE WHEN e BETWEEN -1e15 AND 1e15 THEN e END`: a sum argument whose
/// integer sum cannot overflow (see `Class::ExtremeSum`), REALs kept.
fn tame(e: Expr) -> Expr {
    let within = Expr::Op(
        Op::Between { negated: false },
        vec![
            e.clone(),
            Expr::Lit(Lit::Real(-1e15)),
            Expr::Lit(Lit::Real(1e15)),
        ],
    );
    Expr::Op(
        Op::Case {
            operand: false,
            has_else: false,
        },
        vec![within, e],
    )
}

fn col_expr(c: &ScopeCol) -> Expr {
    Expr::Col {
        qual: c.qual.clone(),
        name: c.name.clone(),
        ty: c.ty,
    }
}

fn e_sql(e: &Expr) -> String {
    // Render through a one-item query and cut the item back out: keeps one
    // renderer for every expression.
    let q = Query {
        selects: vec![Select {
            items: vec![e.clone()],
            ..Select::default()
        }],
        ..Query::default()
    };
    let sql = q.sql();
    sql.strip_prefix("SELECT ")
        .and_then(|s| s.strip_suffix(" AS c0"))
        .unwrap_or(&sql)
        .to_string()
}
