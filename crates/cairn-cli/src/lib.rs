//! cairn-cli: the pieces of the `cairn` SQL shell (docs/shell.md). The
//! binary (`main.rs`) handles the terminal, Ctrl-C and history; everything
//! testable lives here: [`shell::Shell`] (input handling, statements, dot
//! commands), [`args`] (flags and what a path names), [`render`] (output
//! modes), [`dot`] (command parsing), [`complete`] (Tab completion),
//! [`dump`] (`.dump`, `.indexes`), [`import`] / [`export`] (CSV and JSON
//! lines), [`proofs`] (`root`, `prove`, `verify`) and [`split`]. It uses
//! the public `cairn` API only.
#![forbid(unsafe_code)]

pub mod args;
pub mod complete;
pub mod dot;
pub mod dump;
pub mod export;
pub mod import;
pub mod proofs;
pub mod render;
pub mod shell;
pub mod split;
