//! cairn-sql — the SQL layer: parse (sqlparser), bind, plan, execute against
//! a storage snapshot. Entry point: [`Session`] over a shared [`Engine`].
//! The pipeline is visible in the module list: parser → planner (which
//! drives bind for expressions, builds the logical FROM graph, and hands it
//! to joins for access paths and join methods) → rules (named rewrites,
//! listed by `EXPLAIN VERBOSE`) → plan → exec;
//! dml and ddl hold statement-specific logic; trigger (definitions) and
//! fire (running them) hold triggers. Modules import only modules
//! below them (checked by `cairn-lint-modules`): expr knows neither plans
//! nor the executor (subqueries are ids; evaluation asks an `EvalContext`),
//! and bind knows the planner only as a `BindContext`.
//! Depends on cairn-storage and cairn-core; never on the public `cairn` crate.
#![forbid(unsafe_code)]

mod access;
mod affinity;
mod ast_util;
mod bind;
mod cost;
mod cursor;
mod ddl;
mod dialect;
mod dml;
mod estimate;
mod exec;
mod explain;
mod expr;
mod fire;
pub mod functions;
mod joins;
mod logical;
mod parser;
mod plan;
mod planner;
mod proved;
mod rules;
mod scope;
mod session;
mod system;
mod text;
mod trigger;

pub use cursor::{Column, Cursor};
pub use exec::Interrupt;
pub use proved::ProvedOutput;
pub use session::{Engine, Output, Prepared, Session};
pub use text::{is_complete_statement, split_statements};
