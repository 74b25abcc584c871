//! cairn-core — the vocabulary every Cairn layer shares: [`Value`], [`DataType`],
//! [`Error`]. No I/O, no SQL parsing, no storage; every other crate depends on
//! this one and it depends on nothing of ours.
//!
//! Value semantics (comparison, arithmetic, casts) follow SQLite where SQL
//! standards leave room, because SQLite's own test corpus is our conformance bar:
//! integer division truncates, division by zero yields NULL, integer overflow
//! in `+ - *` falls back to REAL.
#![forbid(unsafe_code)]

pub mod error;
pub mod ops;
pub mod timestamp;
pub mod value;
pub mod vector;

pub use error::{ConstraintKind, Error, ErrorKind, Position, Result};
pub use value::{DataType, Row, Value};
