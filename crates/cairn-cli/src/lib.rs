//! cairn-cli: the pieces of the `cairn` SQL shell. The binary (`main.rs`)
//! handles arguments and the terminal; everything testable lives here:
//! [`shell::Shell`] (input handling, statements, dot commands),
//! [`render`] (output modes), [`dot`] (command parsing), [`import`]
//! (CSV / JSON-lines import) and [`split`] (statement splitting).
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
