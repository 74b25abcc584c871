//! Typed errors for every layer. Each variant says what went wrong and, where it
//! is known, where (SQL position, table, column). Tests match on [`ErrorKind`],
//! never on message text. [`Error::Internal`] is the only variant that is our
//! fault rather than the caller's; a broken invariant becomes one, never a panic.

use std::fmt;

/// 1-based line and column of a token in the SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Which constraint a write violated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    Unique,
    PrimaryKey,
    NotNull,
    Check,
    /// A trigger's `RAISE(ABORT | FAIL | ROLLBACK, message)`.
    Trigger,
}

impl fmt::Display for ConstraintKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConstraintKind::Unique => "UNIQUE",
            ConstraintKind::PrimaryKey => "PRIMARY KEY",
            ConstraintKind::NotNull => "NOT NULL",
            ConstraintKind::Check => "CHECK",
            ConstraintKind::Trigger => "TRIGGER",
        })
    }
}

/// The coarse class of an [`Error`], for matching in code and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Syntax,
    NoSuchObject,
    AlreadyExists,
    AmbiguousColumn,
    Plan,
    Type,
    Constraint,
    Conflict,
    Transaction,
    Parameter,
    Unsupported,
    Limit,
    /// A malformed vector, a non-finite element, or mismatched dimensions.
    Vector,
    NoRows,
    /// An operating-system I/O error on a database file (EIO, ENOSPC ...).
    Io,
    /// A database file failed validation (checksum, length, version).
    Corrupt,
    /// The database is open in another process.
    Locked,
    /// The statement was stopped by an interrupt (`Database::interrupt_handle`).
    Interrupted,
    Internal,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The SQL text does not parse.
    #[error("syntax error{}: {message}", fmt_pos(.position))]
    Syntax {
        message: String,
        position: Option<Position>,
    },
    /// A table, view, index, column or function that does not exist.
    #[error("no such {kind}: {name}{}", fmt_pos(.position))]
    NoSuchObject {
        kind: &'static str,
        name: String,
        /// Where the name appears in the SQL text, when known.
        position: Option<Position>,
    },
    #[error("{kind} {name} already exists")]
    AlreadyExists { kind: &'static str, name: String },
    #[error("ambiguous column name: {name}{}", fmt_pos(.position))]
    AmbiguousColumn {
        name: String,
        position: Option<Position>,
    },
    /// The statement parses but is not meaningful (wrong arity, misuse of an
    /// aggregate, column count mismatch ...).
    #[error("{message}")]
    Plan { message: String },
    /// A value of the wrong type, or a value that cannot be converted.
    #[error("type error: {message}")]
    Type { message: String },
    #[error("{kind} constraint failed: {detail}")]
    Constraint {
        kind: ConstraintKind,
        detail: String,
    },
    /// Another transaction committed a write to the same row (or key) first.
    /// Retry the whole transaction.
    #[error("write-write conflict on table {table}: another transaction committed first; retry")]
    Conflict { table: String },
    /// BEGIN inside a transaction, COMMIT outside one, and the like.
    #[error("transaction error: {message}")]
    Transaction { message: String },
    #[error("parameter error: {message}")]
    Parameter { message: String },
    #[error("not supported: {feature}")]
    Unsupported { feature: String },
    #[error("limit exceeded: {what} (max {max})")]
    Limit { what: String, max: u64 },
    /// A vector value that is malformed or does not fit where it is used.
    #[error("vector error: {0}")]
    Vector(crate::vector::VectorError),
    /// `query_row` found no row.
    #[error("query returned no rows")]
    NoRows,
    /// An operating-system I/O error on a database file. The operation
    /// that met it did not take effect (a commit that gets it is not
    /// committed).
    #[error("I/O error {message}")]
    Io {
        kind: std::io::ErrorKind,
        /// "during OP on PATH: what the OS said".
        message: String,
    },
    /// A database file failed validation: bad checksum, impossible length,
    /// unknown format version. Names the file and the byte offset.
    #[error("corrupt database file {file} at offset {offset}: {detail}")]
    Corrupt {
        file: String,
        offset: u64,
        detail: String,
    },
    /// The database directory is open in another process (or another
    /// `Database::open` in this one).
    #[error("database is locked: {path} is open elsewhere")]
    Locked { path: String },
    /// The statement was stopped by an interrupt; nothing it wrote is
    /// kept (an open transaction stays open, as before the statement).
    #[error("interrupted")]
    Interrupted,
    /// The statement ran longer than `statement_timeout`; like an
    /// interrupt, nothing it wrote is kept. Its kind is `Interrupted`.
    #[error("canceling statement due to statement timeout ({limit})")]
    Timeout { limit: String },
    /// `RAISE(IGNORE)` on its way from a trigger program to the write
    /// that fired the trigger, which skips the rest of its current row. A
    /// statement never returns it; its kind is `Plan` should it escape.
    #[error("RAISE(IGNORE) may only be used within a trigger program")]
    RaiseIgnore,
    /// A broken invariant inside Cairn: a bug, never the caller's fault.
    #[error("internal error: {message}")]
    Internal { message: String },
}

fn fmt_pos(p: &Option<Position>) -> String {
    match p {
        Some(p) => format!(" at {p}"),
        None => String::new(),
    }
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Syntax { .. } => ErrorKind::Syntax,
            Error::NoSuchObject { .. } => ErrorKind::NoSuchObject,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::AmbiguousColumn { .. } => ErrorKind::AmbiguousColumn,
            Error::Plan { .. } | Error::RaiseIgnore => ErrorKind::Plan,
            Error::Type { .. } => ErrorKind::Type,
            Error::Constraint { .. } => ErrorKind::Constraint,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Transaction { .. } => ErrorKind::Transaction,
            Error::Parameter { .. } => ErrorKind::Parameter,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Limit { .. } => ErrorKind::Limit,
            Error::Vector(_) => ErrorKind::Vector,
            Error::NoRows => ErrorKind::NoRows,
            Error::Io { .. } => ErrorKind::Io,
            Error::Corrupt { .. } => ErrorKind::Corrupt,
            Error::Locked { .. } => ErrorKind::Locked,
            Error::Interrupted | Error::Timeout { .. } => ErrorKind::Interrupted,
            Error::Internal { .. } => ErrorKind::Internal,
        }
    }

    /// True when the caller caused the error (bad SQL, bad value, conflict);
    /// false only for [`Error::Internal`].
    pub fn is_user_error(&self) -> bool {
        self.kind() != ErrorKind::Internal
    }

    pub fn plan(message: impl Into<String>) -> Error {
        Error::Plan {
            message: message.into(),
        }
    }
    pub fn type_err(message: impl Into<String>) -> Error {
        Error::Type {
            message: message.into(),
        }
    }
    pub fn unsupported(feature: impl Into<String>) -> Error {
        Error::Unsupported {
            feature: feature.into(),
        }
    }
    /// An I/O error from `op` on `path`.
    pub fn io(op: &'static str, path: impl std::fmt::Display, e: &std::io::Error) -> Error {
        Error::Io {
            kind: e.kind(),
            message: format!("during {op} on {path}: {e}"),
        }
    }

    /// A validation failure in `file` at byte `offset`.
    pub fn corrupt(file: impl std::fmt::Display, offset: u64, detail: impl Into<String>) -> Error {
        Error::Corrupt {
            file: file.to_string(),
            offset,
            detail: detail.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Error {
        Error::Internal {
            message: message.into(),
        }
    }
    pub fn no_such(kind: &'static str, name: impl Into<String>) -> Error {
        Error::NoSuchObject {
            kind,
            name: name.into(),
            position: None,
        }
    }

    /// Attaches a SQL position to errors that can carry one and lack it.
    pub fn at(mut self, pos: Position) -> Error {
        match &mut self {
            Error::NoSuchObject { position, .. }
            | Error::AmbiguousColumn { position, .. }
            | Error::Syntax { position, .. }
                if position.is_none() =>
            {
                *position = Some(pos)
            }
            _ => {}
        }
        self
    }
}

impl From<crate::vector::VectorError> for Error {
    fn from(e: crate::vector::VectorError) -> Error {
        Error::Vector(e)
    }
}
