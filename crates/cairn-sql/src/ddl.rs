//! CREATE / DROP / ALTER: schema changes, each made through a
//! [`SchemaChange`] — inside the session's transaction, which logs them at
//! commit and takes them back on rollback (see docs/sql.md).

use cairn_core::{DataType, Error, Result, Value};
use cairn_storage::{ColumnDef, IndexDef, SchemaChange, Store, TableSchema, ViewDef};
use sqlparser::ast;

use crate::ast_util::object_name;
use crate::planner::Planner;

fn column_def(c: &ast::ColumnDef) -> Result<(ColumnDef, bool, bool, Vec<String>)> {
    let declared = c.data_type.to_string();
    let mut col = ColumnDef {
        name: c.name.value.clone(),
        data_type: DataType::parse_declared(&declared)?,
        declared_type: declared,
        nullable: true,
        default_sql: None,
        added_default: Value::Null,
    };
    let mut pk = false;
    let mut unique = false;
    let mut checks = Vec::new();
    for opt in &c.options {
        match &opt.option {
            ast::ColumnOption::Null => {}
            ast::ColumnOption::NotNull => col.nullable = false,
            ast::ColumnOption::Default(e) => col.default_sql = Some(e.to_string()),
            ast::ColumnOption::PrimaryKey(_) => pk = true,
            ast::ColumnOption::Unique(_) => unique = true,
            ast::ColumnOption::Check(ch) => checks.push(ch.expr.to_string()),
            ast::ColumnOption::DialectSpecific(_)
            | ast::ColumnOption::Collation(_)
            | ast::ColumnOption::Comment(_) => {}
            ast::ColumnOption::Generated { .. } | ast::ColumnOption::Identity(_) => {}
            ast::ColumnOption::ForeignKey(_) => {}
            other => return Err(Error::unsupported(format!("column option {other}"))),
        }
    }
    if pk {
        col.nullable = false;
    }
    Ok((col, pk, unique, checks))
}

fn index_columns(schema: &TableSchema, cols: &[ast::IndexColumn]) -> Result<Vec<usize>> {
    cols.iter()
        .map(|ic| match &ic.column.expr {
            ast::Expr::Identifier(i) => schema
                .column_index(&i.value)
                .ok_or_else(|| Error::no_such("column", format!("{}.{}", schema.name, i.value))),
            other => Err(Error::unsupported(format!("index on expression {other}"))),
        })
        .collect()
}

pub fn create_table(
    store: &std::sync::Arc<Store>,
    ddl: &mut SchemaChange<'_>,
    ct: &ast::CreateTable,
    sql: String,
) -> Result<bool> {
    let name = object_name(&ct.name);
    if store.table(&name).is_some() || store.view(&name).is_some() {
        if ct.if_not_exists {
            return Ok(false);
        }
        return Err(Error::AlreadyExists {
            kind: "table",
            name,
        });
    }
    if ct.query.is_some() {
        return Err(Error::unsupported("CREATE TABLE ... AS SELECT"));
    }
    if ct.columns.is_empty() {
        return Err(Error::plan(format!(
            "table {name} needs at least one column"
        )));
    }
    let mut columns: Vec<ColumnDef> = Vec::new();
    let mut pk: Option<Vec<usize>> = None;
    let mut uniques: Vec<Vec<usize>> = Vec::new();
    let mut checks = Vec::new();
    for c in &ct.columns {
        let (col, is_pk, is_unique, ch) = column_def(c)?;
        if columns
            .iter()
            .any(|x| x.name.eq_ignore_ascii_case(&col.name))
        {
            return Err(Error::plan(format!("duplicate column name: {}", col.name)));
        }
        let i = columns.len();
        if is_pk {
            if pk.is_some() {
                return Err(Error::plan(format!(
                    "table {name} has more than one primary key"
                )));
            }
            pk = Some(vec![i]);
        }
        if is_unique {
            uniques.push(vec![i]);
        }
        checks.extend(ch);
        columns.push(col);
    }
    let mut schema = TableSchema {
        name: name.clone(),
        columns,
        primary_key: None,
        checks,
        auto_increment: None,
        create_sql: sql,
    };
    for tc in &ct.constraints {
        match tc {
            ast::TableConstraint::PrimaryKey(p) => {
                if pk.is_some() {
                    return Err(Error::plan(format!(
                        "table {name} has more than one primary key"
                    )));
                }
                let cols = index_columns(&schema, &p.columns)?;
                for &c in &cols {
                    schema.columns[c].nullable = false;
                }
                pk = Some(cols);
            }
            ast::TableConstraint::Unique(u) => uniques.push(index_columns(&schema, &u.columns)?),
            ast::TableConstraint::Check(c) => schema.checks.push(c.expr.to_string()),
            ast::TableConstraint::ForeignKey(_) => {}
            other => return Err(Error::unsupported(format!("table constraint {other}"))),
        }
    }
    if let Some(p) = &pk {
        if p.len() == 1 && schema.columns[p[0]].data_type == DataType::Integer {
            schema.auto_increment = Some(p[0]);
        }
    }
    schema.primary_key = pk;
    // Validate DEFAULT and CHECK expressions now, not at the first INSERT.
    {
        let mut planner = Planner::new(store);
        for c in &schema.columns {
            if let Some(d) = &c.default_sql {
                let e = crate::parser::parse_expr(d)?;
                planner.bind_standalone(&e)?;
            }
        }
    }
    let table_name = schema.name.clone();
    ddl.create_table(schema)?;
    for (k, cols) in uniques.into_iter().enumerate() {
        let def = IndexDef {
            name: format!("{table_name}_unique{}", k + 1),
            columns: cols,
            unique: true,
            primary: false,
            create_sql: None,
        };
        if let Err(e) = ddl.create_index(&table_name, def) {
            let _ = ddl.drop_table(&table_name);
            return Err(e);
        }
    }
    Ok(true)
}

pub fn create_index(
    store: &Store,
    ddl: &mut SchemaChange<'_>,
    ci: &ast::CreateIndex,
    sql: String,
) -> Result<bool> {
    let tname = object_name(&ci.table_name);
    let table = store
        .table(&tname)
        .ok_or_else(|| Error::no_such("table", &tname))?;
    if let Some(u) = &ci.using {
        let u = u.to_string().to_ascii_lowercase();
        if u == "hnsw" {
            return create_hnsw_index(store, ddl, &table, ci, sql);
        }
        if u != "btree" {
            return Err(Error::unsupported(format!("index method {u}")));
        }
    }
    if ci.predicate.is_some() {
        return Err(Error::unsupported("partial indexes"));
    }
    let schema = table.schema();
    let columns = index_columns(&schema, &ci.columns)?;
    let (name, sql) = match &ci.name {
        Some(n) => (object_name(n), sql),
        None => {
            let cols: Vec<&str> = columns
                .iter()
                .map(|&c| schema.columns[c].name.as_str())
                .collect();
            generated_name(store, ci, format!("{}_{}_idx", schema.name, cols.join("_")))
        }
    };
    if store.index_table(&name).is_some() {
        if ci.if_not_exists {
            return Ok(false);
        }
        return Err(Error::AlreadyExists {
            kind: "index",
            name,
        });
    }
    ddl.create_index(
        &tname,
        IndexDef {
            name,
            columns,
            unique: ci.unique,
            primary: false,
            create_sql: Some(sql),
        },
    )?;
    Ok(true)
}

pub fn create_view(
    store: &std::sync::Arc<Store>,
    ddl: &mut SchemaChange<'_>,
    cv: &ast::CreateView,
    sql: String,
) -> Result<()> {
    if cv.materialized {
        return Err(Error::unsupported("materialized views"));
    }
    let name = object_name(&cv.name);
    let columns: Vec<String> = cv.columns.iter().map(|c| c.name.value.clone()).collect();
    // Plan once to report errors now.
    let mut planner = Planner::new(store);
    let (_, cols) = planner.plan_query(&cv.query)?;
    if !columns.is_empty() && columns.len() != cols.len() {
        return Err(Error::plan(format!(
            "view {name} has {} columns but {} names were given",
            cols.len(),
            columns.len()
        )));
    }
    let exists = store.view(&name).is_some();
    if exists && cv.or_replace {
        ddl.drop_view(&name)?;
    } else if exists && cv.if_not_exists {
        return Ok(());
    }
    ddl.create_view(ViewDef {
        name,
        columns,
        query_sql: cv.query.to_string(),
        create_sql: sql,
    })
}

pub fn drop(
    ddl: &mut SchemaChange<'_>,
    object_type: &ast::ObjectType,
    if_exists: bool,
    names: &[ast::ObjectName],
) -> Result<()> {
    for n in names {
        let name = object_name(n);
        let r = match object_type {
            ast::ObjectType::Table => ddl.drop_table(&name),
            ast::ObjectType::View => ddl.drop_view(&name),
            ast::ObjectType::Index => ddl.drop_index(&name),
            other => return Err(Error::unsupported(format!("DROP {other}"))),
        };
        match r {
            Err(Error::NoSuchObject { .. }) if if_exists => {}
            other => other?,
        }
    }
    Ok(())
}

pub fn alter_table(
    store: &std::sync::Arc<Store>,
    ddl: &mut SchemaChange<'_>,
    at: &ast::AlterTable,
) -> Result<()> {
    let name = object_name(&at.name);
    let table = match store.table(&name) {
        Some(t) => t,
        None if at.if_exists => return Ok(()),
        None => return Err(Error::no_such("table", name)),
    };
    for op in &at.operations {
        match op {
            ast::AlterTableOperation::AddColumn {
                column_def,
                if_not_exists,
                ..
            } => {
                let (mut col, pk, unique, checks) = column_def_for_add(column_def)?;
                if table.schema().column_index(&col.name).is_some() && *if_not_exists {
                    continue;
                }
                if pk || unique || !checks.is_empty() {
                    return Err(Error::unsupported(
                        "ALTER TABLE ADD COLUMN with PRIMARY KEY, UNIQUE or CHECK",
                    ));
                }
                if let Some(d) = &col.default_sql {
                    let e = crate::parser::parse_expr(d)?;
                    let mut planner = Planner::new(store);
                    let x = planner.bind_standalone(&e)?;
                    let tx = store.begin();
                    let subqueries = &planner.bind.subqueries;
                    let ex = crate::exec::Executor::new(&tx, &[], Default::default(), subqueries);
                    col.added_default = x
                        .eval(&[], &ex, &[])?
                        .coerce_to_column(col.data_type, &col.name)?;
                }
                if !col.nullable && col.added_default.is_null() && table.row_count() > 0 {
                    return Err(Error::plan(format!(
                        "cannot add NOT NULL column {} without a default to a table with rows",
                        col.name
                    )));
                }
                let mut schema = (*table.schema()).clone();
                schema.columns.push(col.clone());
                let sql = render_create_table(&schema);
                ddl.add_column(&name, col, sql)?;
            }
            other => return Err(Error::unsupported(format!("ALTER TABLE {other}"))),
        }
    }
    Ok(())
}

fn column_def_for_add(c: &ast::ColumnDef) -> Result<(ColumnDef, bool, bool, Vec<String>)> {
    column_def(c)
}

/// CREATE TABLE text for a schema (used after ALTER TABLE).
pub fn render_create_table(s: &TableSchema) -> String {
    let mut parts: Vec<String> = s
        .columns
        .iter()
        .map(|c| {
            let mut p = format!("{} {}", c.name, c.declared_type);
            if !c.nullable {
                p.push_str(" NOT NULL");
            }
            if let Some(d) = &c.default_sql {
                p.push_str(&format!(" DEFAULT {d}"));
            }
            p
        })
        .collect();
    if let Some(pk) = &s.primary_key {
        parts.push(format!(
            "PRIMARY KEY ({})",
            pk.iter()
                .map(|&i| s.columns[i].name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for c in &s.checks {
        parts.push(format!("CHECK ({c})"));
    }
    format!("CREATE TABLE {} ({})", s.name, parts.join(", "))
}

/// `CREATE INDEX i ON t USING hnsw (col [opclass]) [WITH (m = 16,
/// ef_construction = 200, metric = 'cosine' | 'l2' | 'ip')]`. The metric
/// comes from `metric`, else from a pgvector operator class
/// (`vector_cosine_ops`, `vector_l2_ops`, `vector_ip_ops`), else cosine.
/// The name of an index created without one: `base`, or `base1`,
/// `base2`, … if taken (as PostgreSQL does), and the statement with that
/// name written in, so the schema shows what the index is called.
fn generated_name(store: &Store, ci: &ast::CreateIndex, base: String) -> (String, String) {
    let mut name = base.clone();
    let mut k = 0;
    while store.index_table(&name).is_some() {
        k += 1;
        name = format!("{base}{k}");
    }
    let mut named = ci.clone();
    named.name = Some(ast::ObjectName::from(vec![ast::Ident::new(name.clone())]));
    (name, named.to_string())
}

/// One `name = value` of a `WITH (…)` list: the lower-case name and the
/// value's text (a string literal without its quotes).
fn option_name_value(opt: &ast::Expr) -> Result<(String, String)> {
    let ast::Expr::BinaryOp {
        left,
        op: ast::BinaryOperator::Eq,
        right,
    } = opt
    else {
        return Err(Error::plan(format!(
            "hnsw option must be name = value, got {opt}"
        )));
    };
    let name = left.to_string().to_ascii_lowercase();
    let text = match &**right {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        other => other.to_string(),
    };
    Ok((name, text))
}

/// What `CREATE INDEX … USING hnsw … WITH (…)` sets.
struct HnswOptions {
    params: cairn_storage::HnswParams,
    compact_ratio: f64,
    quantization: cairn_storage::Quantization,
    rerank: usize,
}

/// The parameters of `CREATE INDEX … USING hnsw (col [opclass]) WITH (…)`:
/// the metric from the operator class or the `metric` option (which must
/// agree), `m`, `ef_construction`, `compact_ratio`, `quantization`
/// (`'none'`, `'sq8'` or `'rabitq'`), `bits` (RaBitQ's bits per
/// dimension, 1..=4, default 1) and `rerank` (candidates re-ranked exactly
/// per result, 1..=100; default: the codec's
/// [`default_rerank`](cairn_storage::Quantization::default_rerank)).
fn hnsw_options(ci: &ast::CreateIndex) -> Result<HnswOptions> {
    use cairn_storage::{HnswParams, Metric, Quantization};
    let metric_name = |m: &str| -> Result<Metric> {
        match m.to_ascii_lowercase().as_str() {
            "cosine" | "vector_cosine_ops" | "halfvec_cosine_ops" => Ok(Metric::Cosine),
            "l2" | "euclidean" | "vector_l2_ops" | "halfvec_l2_ops" => Ok(Metric::L2),
            "ip" | "inner_product" | "dot" | "vector_ip_ops" | "halfvec_ip_ops" => {
                Ok(Metric::InnerProduct)
            }
            other => Err(Error::plan(format!(
                "unknown hnsw metric {other} (use 'cosine', 'l2' or 'ip')"
            ))),
        }
    };
    let mut params = HnswParams::default();
    let mut compact_ratio = cairn_storage::COMPACT_RATIO_DEFAULT;
    let mut quantization = Quantization::None;
    let mut rerank = None;
    let mut bits = None;
    let opclass = match ci.columns.first().and_then(|c| c.operator_class.as_ref()) {
        Some(o) => Some((o.to_string(), metric_name(&o.to_string())?)),
        None => None,
    };
    if let Some((_, m)) = &opclass {
        params.metric = *m;
    }
    for opt in &ci.with {
        let (name, text) = option_name_value(opt)?;
        let int = || -> Result<usize> {
            text.parse::<usize>().map_err(|_| {
                Error::plan(format!(
                    "hnsw option {name} must be a positive integer, got {text}"
                ))
            })
        };
        match name.as_str() {
            "m" => params.m = int()?,
            "ef_construction" => params.ef_construction = int()?,
            "metric" | "distance" => {
                params.metric = metric_name(&text)?;
                if let Some((o, m)) = &opclass {
                    if *m != params.metric {
                        return Err(Error::plan(format!(
                            "hnsw option {name} = '{text}' contradicts operator class {o}"
                        )));
                    }
                }
            }
            "compact_ratio" => {
                compact_ratio = text
                    .parse::<f64>()
                    .ok()
                    .filter(|r| *r > 0.0 && *r <= 1.0)
                    .ok_or_else(|| {
                        Error::plan(format!(
                            "hnsw option compact_ratio must be in (0, 1], got {text}"
                        ))
                    })?
            }
            "quantization" => {
                quantization = Quantization::from_name(&text).ok_or_else(|| {
                    Error::plan(format!(
                        "unknown hnsw quantization {text} (use 'none', 'sq8' or 'rabitq')"
                    ))
                })?
            }
            "bits" => bits = Some(int()?),
            "rerank" => {
                let r = int()?;
                rerank = Some(r);
                if !(1..=cairn_storage::RERANK_MAX).contains(&r) {
                    return Err(Error::plan(format!(
                        "hnsw option rerank must be in 1..={}, got {r}",
                        cairn_storage::RERANK_MAX
                    )));
                }
            }
            other => return Err(Error::plan(format!("unknown hnsw option {other}"))),
        }
    }
    let quantization = with_bits(quantization, bits)?;
    Ok(HnswOptions {
        params,
        compact_ratio,
        quantization,
        rerank: rerank.unwrap_or_else(|| quantization.default_rerank()),
    })
}

/// `quantization` with the `bits` option applied: RaBitQ takes 1..=4
/// (default 1); other codecs have no such option.
fn with_bits(
    quantization: cairn_storage::Quantization,
    bits: Option<usize>,
) -> Result<cairn_storage::Quantization> {
    use cairn_storage::{Quantization, RABITQ_BITS_MAX};
    let Some(b) = bits else {
        return Ok(quantization);
    };
    if !matches!(quantization, Quantization::RaBitQ { .. }) {
        return Err(Error::plan(format!(
            "hnsw option bits applies to quantization = 'rabitq', not '{}'",
            quantization.name()
        )));
    }
    u8::try_from(b)
        .ok()
        .filter(|b| (1..=RABITQ_BITS_MAX).contains(b))
        .map(|bits| Quantization::RaBitQ { bits })
        .ok_or_else(|| {
            Error::plan(format!(
                "hnsw option bits must be in 1..={RABITQ_BITS_MAX}, got {b}"
            ))
        })
}

fn create_hnsw_index(
    store: &Store,
    ddl: &mut SchemaChange<'_>,
    table: &std::sync::Arc<cairn_storage::Table>,
    ci: &ast::CreateIndex,
    sql: String,
) -> Result<bool> {
    use cairn_storage::VectorIndexDef;
    if ci.unique {
        return Err(Error::plan("an hnsw index cannot be UNIQUE"));
    }
    if ci.predicate.is_some() {
        return Err(Error::unsupported("partial indexes"));
    }
    let schema = table.schema();
    let columns = index_columns(&schema, &ci.columns)?;
    let [column] = columns[..] else {
        return Err(Error::plan(
            "an hnsw index covers exactly one vector column",
        ));
    };
    let col = &schema.columns[column];
    let Some(dims) = col.data_type.vector_dims() else {
        return Err(Error::plan(format!(
            "an hnsw index needs a VECTOR(n) or HALFVEC(n) column; {} is {}",
            col.name, col.declared_type
        )));
    };
    let options = hnsw_options(ci)?;
    let (params, compact_ratio) = (options.params, options.compact_ratio);
    params
        .validate()
        .map_err(|e| Error::plan(format!("hnsw index: {e}")))?;
    let (name, sql) = match &ci.name {
        Some(n) => (object_name(n), sql),
        None => generated_name(store, ci, format!("{}_{}_hnsw", schema.name, col.name)),
    };
    if store.index_table(&name).is_some() {
        if ci.if_not_exists {
            return Ok(false);
        }
        return Err(Error::AlreadyExists {
            kind: "index",
            name,
        });
    }
    ddl.create_vector_index(
        &schema.name,
        VectorIndexDef {
            name,
            column,
            dims,
            params,
            quantization: options.quantization,
            rerank: options.rerank,
            compact_ratio,
            create_sql: sql,
        },
    )?;
    Ok(true)
}
