//! Name resolution scopes. A scope is the row layout one query level
//! produces from its FROM clause; in an aggregate query, expressions after
//! GROUP BY resolve through an [`AggState`] into the aggregate's output row.
//! A query's own output columns are [`OutCol`]s: a subquery or view in FROM
//! turns them into the scope columns of the level around it.

use cairn_core::DataType;

use crate::affinity::Affinity;
use crate::expr::Expr;
use crate::plan::AggCall;

/// One output column of a planned query: its name and, where known, its
/// type.
#[derive(Debug, Clone, PartialEq)]
pub struct OutCol {
    pub name: String,
    pub data_type: Option<DataType>,
    /// What a comparison with this column converts (SQLite's rule).
    pub affinity: Affinity,
    /// Its affinity as the column of a subquery in an expression (`x IN
    /// (...)`, `(SELECT ...)`): `affinity`, except in a compound SELECT,
    /// where SQLite takes the last arm's (a FROM subquery's column takes
    /// `affinity`, which weighs every arm).
    pub expr_affinity: Affinity,
    /// The storage classes its values may have ([`crate::affinity::datatypes`]).
    pub datatypes: u8,
}

#[derive(Debug, Clone)]
pub struct ScopeCol {
    /// Table alias (lower case) the column belongs to.
    pub table: Option<String>,
    /// Column name as declared (compared case-insensitively).
    pub name: String,
    pub data_type: Option<DataType>,
    pub affinity: Affinity,
    /// Hidden from unqualified lookup and `*` (the right copy of a USING column).
    pub using_dup: bool,
}

/// Aggregation state of one query level: GROUP BY keys and the aggregates
/// found so far; the aggregate output row is `[keys..., aggregates...]`.
#[derive(Debug, Default)]
pub struct AggState {
    /// GROUP BY expressions as written (for matching) and bound.
    pub group_texts: Vec<String>,
    pub group_exprs: Vec<Expr>,
    pub aggs: Vec<AggCall>,
    /// Text of each aggregate call, to reuse identical calls.
    pub agg_texts: Vec<String>,
    /// Whether expressions now resolve to the aggregate output.
    pub active: bool,
}

impl AggState {
    /// The output column of the aggregate written as `text`: the one
    /// already there, or `call`, added.
    pub fn column_of(&mut self, text: String, call: AggCall) -> usize {
        let j = match self.agg_texts.iter().position(|t| *t == text) {
            Some(j) => j,
            None => {
                self.aggs.push(call);
                self.agg_texts.push(text);
                self.aggs.len() - 1
            }
        };
        self.group_exprs.len() + j
    }
}

#[derive(Debug, Default)]
pub struct Scope {
    pub cols: Vec<ScopeCol>,
    pub agg: Option<AggState>,
    /// Window function calls collected while binding the select list.
    pub windows: Vec<crate::plan::WindowCall>,
    pub window_texts: Vec<String>,
    /// FROM columns some expression at this level (or in a subquery below
    /// it) refers to; the others need not be read.
    pub used: Vec<bool>,
    /// Table scans of this level's FROM: (scan id, first column, width).
    pub table_scans: Vec<(usize, usize, usize)>,
    /// Derived tables and views of this level's FROM (`Plan::Derived`
    /// markers): (marker id, first column, width).
    pub derived: Vec<(usize, usize, usize)>,
    /// CTE references of this level's FROM: (CTE id, first column, width).
    pub cte_refs: Vec<(usize, usize, usize)>,
    /// The select list is being bound (an aggregate a subquery finds for
    /// this level can make it an aggregate query only there).
    pub select_list: bool,
}

pub enum Lookup {
    Found(usize),
    Ambiguous,
    Missing,
}

impl Scope {
    pub fn new(cols: Vec<ScopeCol>) -> Scope {
        Scope {
            used: vec![false; cols.len()],
            cols,
            ..Scope::default()
        }
    }

    pub fn mark_used(&mut self, c: usize) {
        if let Some(u) = self.used.get_mut(c) {
            *u = true;
        }
    }

    /// Finds `name` (optionally qualified by `table`) in the FROM layout.
    pub fn lookup(&self, table: Option<&str>, name: &str) -> Lookup {
        let mut found = None;
        for (i, c) in self.cols.iter().enumerate() {
            if !c.name.eq_ignore_ascii_case(name) {
                continue;
            }
            match table {
                Some(t) => {
                    if c.table
                        .as_deref()
                        .is_some_and(|ct| ct.eq_ignore_ascii_case(t))
                    {
                        if found.is_some() {
                            return Lookup::Ambiguous;
                        }
                        found = Some(i);
                    }
                }
                None => {
                    if c.using_dup {
                        continue;
                    }
                    if found.is_some() {
                        return Lookup::Ambiguous;
                    }
                    found = Some(i);
                }
            }
        }
        match found {
            Some(i) => Lookup::Found(i),
            None => Lookup::Missing,
        }
    }

    pub fn has_table(&self, table: &str) -> bool {
        self.cols.iter().any(|c| {
            c.table
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(table))
        })
    }
}

/// The scope columns of `table` read under the name `label`.
pub fn table_cols(table: &cairn_storage::Table, label: &str) -> Vec<ScopeCol> {
    table
        .schema()
        .columns
        .iter()
        .map(|c| ScopeCol {
            table: Some(label.to_string()),
            name: c.name.clone(),
            data_type: Some(c.data_type),
            affinity: Affinity::of_type(c.data_type),
            using_dup: false,
        })
        .collect()
}
