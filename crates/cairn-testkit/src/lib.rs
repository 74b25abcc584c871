//! cairn-testkit — dev-only checks over the workspace's own sources (issue
//! 12): import cycles between modules, and functions too long to read as
//! one idea. Depends on std only, never on the engine crates; not published.
//!
//! Entry points: [`report::check_crate`] runs both checks on one crate
//! directory; the `cairn-lint-modules` binary prints them for every crate
//! under `crates/` (`cargo run -p cairn-testkit --bin cairn-lint-modules`);
//! `tests/baseline.rs` compares them with `baseline.txt`, which may only
//! shrink.
//!
//! The pipeline: `lexer` (tokens; comments and literals made harmless) →
//! `scan` (per-file facts; test code dropped) → `tree` (files of a target,
//! path resolution) → `graph` (sibling edges, Tarjan cycle groups; the
//! granularity rule is written there) → `report` (both checks for a crate,
//! the long-function rule) → `baseline` (the ratchet).
//!
//! It reads Rust with a small hand-written scanner instead of `syn`: the
//! checks need only module declarations, paths, `fn` spans and comments, and
//! a full parser would cost more build time than this whole crate.

pub mod baseline;
pub mod graph;
pub mod lexer;
pub mod report;
pub mod scan;
pub mod tree;
