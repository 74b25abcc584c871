//! cairn-difftest — a differential test of Cairn against SQLite (rusqlite,
//! bundled SQLite 3.50): a seeded generator of schemas, data, queries and
//! writes ([`gen`]), each statement run on both engines and the answers
//! compared in one normal form ([`engines`]), disagreements shrunk
//! ([`reduce`]) and grouped by signature ([`runner`]).
//!
//! Entry point: [`runner::run`] with a [`Config`]. Uses only Cairn's public
//! API (the `cairn` crate); depends on no other crate of ours. A test tool:
//! it must never change what it compares (no retries, no tolerance beyond
//! [`engines::REAL_TOLERANCE`] for REALs).
#![forbid(unsafe_code)]

pub mod ast;
pub mod config;
pub mod engines;
pub mod gen;
pub mod reduce;
pub mod rng;
pub mod runner;

pub use config::{Class, Config};
pub use runner::{run, Finding, Report, Stats};
