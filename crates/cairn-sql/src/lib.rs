//! cairn-sql — the SQL layer: parse (sqlparser + our dialect), bind, plan,
//! execute against a storage snapshot. Entry point: [`Session`] over a shared
//! [`Engine`]. Depends on cairn-storage and cairn-core; never on the public
//! `cairn` crate.
#![forbid(unsafe_code)]

mod session;

pub use session::{is_complete_statement, Column, Engine, Output, Prepared, Session};
