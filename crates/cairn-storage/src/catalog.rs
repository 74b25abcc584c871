//! The catalog: which tables, views and triggers exist (by name and by
//! id), the
//! next table id, and the version number prepared plans compare to know
//! when to re-plan. It owns its lock; no other module takes it.
//!
//! Changes come only as catalog records ([`Record`], the same ones the WAL
//! holds), through one path: [`Catalog::prepare`] does all of a record's
//! fallible work (name checks, an index build, a unique check) without
//! changing anything visible, and [`Catalog::install`] makes it visible
//! and cannot fail. A DDL statement runs prepare → log → install; WAL
//! replay and checkpoint loading run prepare → install (a replayed vector
//! index that carries its logged graph is installed from it, not built). A record is
//! logged only once it is known to apply, so the log never holds one that
//! replay would reject. Callers hold the store's commit lock from prepare
//! to install, which keeps a prepared record valid.
//!
//! Triggers have their own namespace (as in SQLite) and belong to a table
//! or view: dropping it drops them, in the same install, so replay drops
//! them the same way.
//!
//! Lock order: commit lock → catalog lock → table locks; the catalog lock
//! is never held while waiting for anything else.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn_core::{Error, Result};
use parking_lot::RwLock;

use crate::index::IndexSlot;
use crate::lock::{Rank, Ranked};
use crate::schema::{TableSchema, TriggerDef, ViewDef};
use crate::table::Table;
use crate::wal::Record;
use crate::Ts;

#[derive(Default)]
struct Entries {
    /// By lower-case name.
    tables: BTreeMap<String, Arc<Table>>,
    /// By lower-case name.
    views: BTreeMap<String, ViewDef>,
    /// By lower-case name.
    triggers: BTreeMap<String, TriggerDef>,
}

impl Entries {
    /// Drops the triggers attached to the table or view `name`; returns
    /// them.
    fn drop_triggers_on(&mut self, name: &str) -> Vec<TriggerDef> {
        let k = key(name);
        let on: Vec<String> = (self.triggers.iter())
            .filter(|(_, t)| key(&t.table) == k)
            .map(|(n, _)| n.clone())
            .collect();
        on.iter().filter_map(|n| self.triggers.remove(n)).collect()
    }
}

/// A catalog entry by kind and lower-case name.
pub(crate) enum Entry {
    Table(String),
    View(String),
    Trigger(String),
}

/// A table or view a DROP removed, kept to put back.
pub(crate) enum Dropped {
    Table(Arc<Table>),
    View(ViewDef),
}

/// What taking back one installed record needs ([`Catalog::undo`]).
pub(crate) enum DdlUndo {
    /// Remove what a CREATE added.
    Forget(Entry),
    /// Put back what a DROP removed, with the triggers it took along.
    Restore(Option<Dropped>, Vec<TriggerDef>),
    DropIndex {
        table: Arc<Table>,
        name: String,
    },
    /// Put a dropped index back at its place in the table's list.
    RestoreIndex {
        table: Arc<Table>,
        at: usize,
        index: IndexSlot,
    },
    Schema {
        table: Arc<Table>,
        before: TableSchema,
    },
}

pub(crate) struct Catalog {
    entries: Ranked<RwLock<Entries>>,
    /// Bumped by every install; prepared plans re-plan when it moves.
    version: AtomicU64,
    next_table_id: AtomicU64,
    /// Set when some table's statistics went stale (see
    /// `Store::refresh_stale_stats`); shared with every table.
    pub(crate) stats_stale: Arc<std::sync::atomic::AtomicBool>,
}

/// Catalog names compare case-insensitively.
fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// A catalog record whose fallible work is done: installing it cannot
/// fail and makes it visible.
pub(crate) enum PreparedDdl {
    CreateTable {
        id: u64,
        schema: TableSchema,
    },
    DropTable {
        name: String,
    },
    CreateView(ViewDef),
    DropView {
        name: String,
    },
    /// An index of any kind, built.
    CreateIndex {
        table: Arc<Table>,
        index: IndexSlot,
    },
    DropIndex {
        table: Arc<Table>,
        name: String,
    },
    AddColumn {
        table: Arc<Table>,
        schema: TableSchema,
    },
    CreateTrigger(TriggerDef),
    DropTrigger {
        name: String,
    },
}

impl Catalog {
    pub(crate) fn new() -> Catalog {
        Catalog {
            entries: Ranked::rw(Rank::Catalog, Entries::default()),
            version: AtomicU64::new(1),
            next_table_id: AtomicU64::new(1),
            stats_stale: Arc::default(),
        }
    }

    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Forces prepared plans to re-plan (a change that is not a record,
    /// such as a vector index restored from a checkpoint).
    pub(crate) fn bump(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// The id the next CREATE TABLE gets.
    pub(crate) fn next_table_id(&self) -> u64 {
        self.next_table_id.load(Ordering::Relaxed)
    }

    /// Ids below `next` are taken (checkpoint loading).
    pub(crate) fn observe_next_table_id(&self, next: u64) {
        self.next_table_id.fetch_max(next, Ordering::Relaxed);
    }

    pub(crate) fn table(&self, name: &str) -> Option<Arc<Table>> {
        self.entries.read().tables.get(&key(name)).cloned()
    }

    pub(crate) fn view(&self, name: &str) -> Option<ViewDef> {
        self.entries.read().views.get(&key(name)).cloned()
    }

    pub(crate) fn table_by_id(&self, id: u64) -> Option<Arc<Table>> {
        self.entries
            .read()
            .tables
            .values()
            .find(|t| t.id == id)
            .cloned()
    }

    /// Every table, in name order.
    pub(crate) fn tables(&self) -> Vec<Arc<Table>> {
        self.entries.read().tables.values().cloned().collect()
    }

    /// Every view, in name order.
    pub(crate) fn views(&self) -> Vec<ViewDef> {
        self.entries.read().views.values().cloned().collect()
    }

    /// Every trigger, in name order.
    pub(crate) fn triggers(&self) -> Vec<TriggerDef> {
        self.entries.read().triggers.values().cloned().collect()
    }

    /// Whether any trigger exists (a cheap test writes make before
    /// looking for their table's triggers).
    pub(crate) fn has_triggers(&self) -> bool {
        !self.entries.read().triggers.is_empty()
    }

    /// Triggers as (lower-case name, trigger), in name order.
    pub(crate) fn triggers_by_key(&self) -> Vec<(String, TriggerDef)> {
        let e = self.entries.read();
        e.triggers
            .iter()
            .map(|(k, t)| (k.clone(), t.clone()))
            .collect()
    }

    /// Tables as (lower-case name, table), in name order.
    pub(crate) fn tables_by_key(&self) -> Vec<(String, Arc<Table>)> {
        let e = self.entries.read();
        e.tables
            .iter()
            .map(|(k, t)| (k.clone(), t.clone()))
            .collect()
    }

    /// Views as (lower-case name, view), in name order.
    pub(crate) fn views_by_key(&self) -> Vec<(String, ViewDef)> {
        let e = self.entries.read();
        e.views
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The table that owns index `name`.
    pub(crate) fn index_table(&self, name: &str) -> Option<Arc<Table>> {
        self.entries
            .read()
            .tables
            .values()
            .find(|t| t.has_index_named(name))
            .cloned()
    }

    /// Checks the catalog's own invariants: every entry is filed under
    /// its lower-case name, no name is both a table and a view, table ids
    /// are distinct and below the next id. Returns what is broken.
    pub(crate) fn check_invariants(&self) -> Vec<String> {
        let e = self.entries.read();
        let mut problems = Vec::new();
        let mut ids = std::collections::HashSet::new();
        let next = self.next_table_id();
        for (k, t) in &e.tables {
            if *k != key(&t.name()) {
                problems.push(format!("table {} is filed under {k}", t.name()));
            }
            if e.views.contains_key(k) {
                problems.push(format!("{k} is both a table and a view"));
            }
            if !ids.insert(t.id) || t.id >= next {
                problems.push(format!(
                    "table {} has id {} (duplicate, or not below the next id {next})",
                    t.name(),
                    t.id
                ));
            }
        }
        for (k, v) in &e.views {
            if *k != key(&v.name) {
                problems.push(format!("view {} is filed under {k}", v.name));
            }
        }
        for (k, t) in &e.triggers {
            if *k != key(&t.name) {
                problems.push(format!("trigger {} is filed under {k}", t.name));
            }
            let on = key(&t.table);
            if !e.tables.contains_key(&on) && !e.views.contains_key(&on) {
                problems.push(format!(
                    "trigger {} is attached to {}, which does not exist",
                    t.name, t.table
                ));
            }
        }
        problems
    }

    /// Checks a catalog record against the catalog and does its fallible
    /// work (an index build on `pool`, or the install of the graph a
    /// replayed record carries, as of the newest commit `ts`; a unique
    /// check) without changing anything visible.
    pub(crate) fn prepare(
        &self,
        record: &Record,
        ts: Ts,
        pool: Option<&rayon::ThreadPool>,
        progress: Option<&crate::progress::ProgressHook>,
        stop: Option<&crate::progress::StopCheck<'_>>,
    ) -> Result<PreparedDdl> {
        Ok(match record {
            Record::Commit { .. } | Record::Transaction { .. } => {
                return Err(Error::internal("a commit record is not DDL"));
            }
            Record::CreateTable { id, schema } => {
                self.check_name_free("table", &schema.name)?;
                PreparedDdl::CreateTable {
                    id: *id,
                    schema: schema.clone(),
                }
            }
            Record::DropTable { name } => {
                self.table(name)
                    .ok_or_else(|| Error::no_such("table", name))?;
                PreparedDdl::DropTable { name: name.clone() }
            }
            Record::CreateView(view) => {
                self.check_name_free("view", &view.name)?;
                PreparedDdl::CreateView(view.clone())
            }
            Record::DropView { name } => {
                self.view(name)
                    .ok_or_else(|| Error::no_such("view", name))?;
                PreparedDdl::DropView { name: name.clone() }
            }
            Record::CreateIndex { table, def } => {
                let table = self.table_for_new_index(table, &def.name)?;
                let index = table.build_index(def.clone())?;
                PreparedDdl::CreateIndex { table, index }
            }
            Record::CreateVectorIndex { table, def, built } => {
                let table = self.table_for_new_index(table, &def.name)?;
                let index = match built {
                    Some(built) => table.restore_built_index(def.clone(), built, ts)?,
                    None => table.build_vector_index(def.clone(), pool, progress, stop)?,
                };
                PreparedDdl::CreateIndex { table, index }
            }
            Record::DropIndex { name } => {
                let table = self
                    .index_table(name)
                    .ok_or_else(|| Error::no_such("index", name))?;
                if table
                    .indexes()
                    .iter()
                    .any(|i| i.primary && i.name.eq_ignore_ascii_case(name))
                {
                    return Err(Error::plan(format!(
                        "index {name} enforces a PRIMARY KEY and cannot be dropped"
                    )));
                }
                PreparedDdl::DropIndex {
                    table,
                    name: name.clone(),
                }
            }
            Record::AddColumn {
                table,
                column,
                create_sql,
            } => {
                let table = self
                    .table(table)
                    .ok_or_else(|| Error::no_such("table", table))?;
                let mut schema = (*table.schema()).clone();
                if schema.column_index(&column.name).is_some() {
                    return Err(Error::AlreadyExists {
                        kind: "column",
                        name: column.name.clone(),
                    });
                }
                schema.columns.push(column.clone());
                schema.create_sql = create_sql.clone();
                PreparedDdl::AddColumn { table, schema }
            }
            Record::CreateTrigger(t) => {
                let e = self.entries.read();
                if e.triggers.contains_key(&key(&t.name)) {
                    return Err(Error::AlreadyExists {
                        kind: "trigger",
                        name: t.name.clone(),
                    });
                }
                let on = key(&t.table);
                if !e.tables.contains_key(&on) && !e.views.contains_key(&on) {
                    return Err(Error::no_such("table", &t.table));
                }
                PreparedDdl::CreateTrigger(t.clone())
            }
            Record::DropTrigger { name } => {
                if !self.entries.read().triggers.contains_key(&key(name)) {
                    return Err(Error::no_such("trigger", name));
                }
                PreparedDdl::DropTrigger { name: name.clone() }
            }
        })
    }

    /// Makes a prepared catalog record visible and bumps the version.
    /// Returns what [`Catalog::undo`] needs to take it back (a DDL
    /// statement inside a transaction that rolls back).
    pub(crate) fn install(&self, ddl: PreparedDdl) -> DdlUndo {
        let undo = match ddl {
            PreparedDdl::CreateTable { id, schema } => {
                self.next_table_id.fetch_max(id + 1, Ordering::Relaxed);
                let k = key(&schema.name);
                let table = Arc::new(Table::new(id, schema, self.stats_stale.clone()));
                self.entries.write().tables.insert(k.clone(), table);
                DdlUndo::Forget(Entry::Table(k))
            }
            PreparedDdl::DropTable { name } => {
                let mut e = self.entries.write();
                let table = e.tables.remove(&key(&name));
                let triggers = e.drop_triggers_on(&name);
                DdlUndo::Restore(table.map(Dropped::Table), triggers)
            }
            PreparedDdl::CreateView(view) => {
                let k = key(&view.name);
                self.entries.write().views.insert(k.clone(), view);
                DdlUndo::Forget(Entry::View(k))
            }
            PreparedDdl::DropView { name } => {
                let mut e = self.entries.write();
                let view = e.views.remove(&key(&name));
                let triggers = e.drop_triggers_on(&name);
                DdlUndo::Restore(view.map(Dropped::View), triggers)
            }
            PreparedDdl::CreateIndex { table, index } => {
                let name = index.index().name().to_string();
                table.install_index(index);
                DdlUndo::DropIndex { table, name }
            }
            PreparedDdl::DropIndex { table, name } => {
                let dropped = table.drop_index(&name);
                debug_assert!(
                    dropped.is_some(),
                    "prepared DROP INDEX {name} found nothing to drop"
                );
                match dropped {
                    Some((at, index)) => DdlUndo::RestoreIndex { table, at, index },
                    None => DdlUndo::Restore(None, Vec::new()),
                }
            }
            PreparedDdl::AddColumn { table, schema } => {
                let before = (*table.schema()).clone();
                table.set_schema(schema);
                DdlUndo::Schema { table, before }
            }
            PreparedDdl::CreateTrigger(t) => {
                let k = key(&t.name);
                self.entries.write().triggers.insert(k.clone(), t);
                DdlUndo::Forget(Entry::Trigger(k))
            }
            PreparedDdl::DropTrigger { name } => {
                let t = self.entries.write().triggers.remove(&key(&name));
                DdlUndo::Restore(None, t.into_iter().collect())
            }
        };
        self.bump();
        undo
    }

    /// Takes back what one [`Catalog::install`] did (the caller undoes a
    /// transaction's records newest first), and bumps the version.
    pub(crate) fn undo(&self, undo: DdlUndo) {
        match undo {
            DdlUndo::Forget(entry) => {
                let mut e = self.entries.write();
                match entry {
                    Entry::Table(k) => {
                        e.tables.remove(&k);
                    }
                    Entry::View(k) => {
                        e.views.remove(&k);
                    }
                    Entry::Trigger(k) => {
                        e.triggers.remove(&k);
                    }
                }
            }
            DdlUndo::Restore(dropped, triggers) => {
                let mut e = self.entries.write();
                match dropped {
                    Some(Dropped::Table(t)) => {
                        e.tables.insert(key(&t.name()), t);
                    }
                    Some(Dropped::View(v)) => {
                        e.views.insert(key(&v.name), v);
                    }
                    None => {}
                }
                for t in triggers {
                    e.triggers.insert(key(&t.name), t);
                }
            }
            DdlUndo::DropIndex { table, name } => {
                table.drop_index(&name);
            }
            DdlUndo::RestoreIndex { table, at, index } => table.restore_index(at, index),
            DdlUndo::Schema { table, before } => table.set_schema(before),
        }
        self.bump();
    }

    /// Prepares and installs a catalog record at once (WAL replay and
    /// checkpoint loading), as of the newest commit `ts`.
    pub(crate) fn apply(
        &self,
        record: &Record,
        ts: Ts,
        pool: Option<&rayon::ThreadPool>,
    ) -> Result<()> {
        let prepared = self.prepare(record, ts, pool, None, None)?;
        self.install(prepared);
        Ok(())
    }

    /// No table or view is called `name` yet.
    fn check_name_free(&self, kind: &'static str, name: &str) -> Result<()> {
        let c = self.entries.read();
        let k = key(name);
        if c.tables.contains_key(&k) || c.views.contains_key(&k) {
            return Err(Error::AlreadyExists {
                kind,
                name: name.to_string(),
            });
        }
        Ok(())
    }

    /// The table a new index `index` goes on, when no index has that name.
    fn table_for_new_index(&self, table: &str, index: &str) -> Result<Arc<Table>> {
        if self.index_table(index).is_some() {
            return Err(Error::AlreadyExists {
                kind: "index",
                name: index.to_string(),
            });
        }
        self.table(table)
            .ok_or_else(|| Error::no_such("table", table))
    }
}
