//! The names of error kinds in `statement error <kind>` records, and the
//! check of an engine error against what a record expects.
//!
//! Every [`ErrorKind`] has exactly one name, its variant in snake_case
//! (`NoSuchObject` → `no_such_object`); [`kind_name`] and [`parse_kind`] are
//! inverses and [`ERROR_KINDS`] lists every kind, so a new kind in
//! `cairn-core` fails to compile here until it is named. `constraint` may be
//! followed by the constraint's name ([`ConstraintKind`] in snake_case:
//! `unique`, `primary_key`, `not_null`, `check`).

use cairn::{ConstraintKind, Error, ErrorKind};

/// Every error kind, in declaration order.
pub const ERROR_KINDS: [ErrorKind; 19] = [
    ErrorKind::Syntax,
    ErrorKind::NoSuchObject,
    ErrorKind::AlreadyExists,
    ErrorKind::AmbiguousColumn,
    ErrorKind::Plan,
    ErrorKind::Type,
    ErrorKind::Constraint,
    ErrorKind::Conflict,
    ErrorKind::Transaction,
    ErrorKind::Parameter,
    ErrorKind::Unsupported,
    ErrorKind::Limit,
    ErrorKind::Vector,
    ErrorKind::NoRows,
    ErrorKind::Io,
    ErrorKind::Corrupt,
    ErrorKind::Locked,
    ErrorKind::Interrupted,
    ErrorKind::Internal,
];

/// Every constraint kind.
pub const CONSTRAINT_KINDS: [ConstraintKind; 5] = [
    ConstraintKind::Unique,
    ConstraintKind::PrimaryKey,
    ConstraintKind::NotNull,
    ConstraintKind::Check,
    ConstraintKind::Trigger,
];

/// The name of `kind` in `.slt` files.
pub fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Syntax => "syntax",
        ErrorKind::NoSuchObject => "no_such_object",
        ErrorKind::AlreadyExists => "already_exists",
        ErrorKind::AmbiguousColumn => "ambiguous_column",
        ErrorKind::Plan => "plan",
        ErrorKind::Type => "type",
        ErrorKind::Constraint => "constraint",
        ErrorKind::Conflict => "conflict",
        ErrorKind::Transaction => "transaction",
        ErrorKind::Parameter => "parameter",
        ErrorKind::Unsupported => "unsupported",
        ErrorKind::Limit => "limit",
        ErrorKind::Vector => "vector",
        ErrorKind::NoRows => "no_rows",
        ErrorKind::Io => "io",
        ErrorKind::Corrupt => "corrupt",
        ErrorKind::Locked => "locked",
        ErrorKind::Interrupted => "interrupted",
        ErrorKind::Internal => "internal",
    }
}

/// The kind named `name` (exact, lower case).
pub fn parse_kind(name: &str) -> Option<ErrorKind> {
    ERROR_KINDS.into_iter().find(|k| kind_name(*k) == name)
}

/// The name of a constraint kind after `constraint`.
pub fn constraint_name(kind: ConstraintKind) -> &'static str {
    match kind {
        ConstraintKind::Unique => "unique",
        ConstraintKind::PrimaryKey => "primary_key",
        ConstraintKind::NotNull => "not_null",
        ConstraintKind::Check => "check",
        ConstraintKind::Trigger => "trigger",
    }
}

/// The constraint kind named `name`.
pub fn parse_constraint(name: &str) -> Option<ConstraintKind> {
    CONSTRAINT_KINDS
        .into_iter()
        .find(|k| constraint_name(*k) == name)
}

/// What an error record (`statement error ...`, `query error ...`) expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedError {
    /// A bare `statement error`: any error from the engine (SQLite's corpus
    /// uses only this form; our own files may not).
    Any,
    /// An error of this kind, and for `constraint` optionally of this
    /// constraint.
    Kind {
        kind: ErrorKind,
        constraint: Option<ConstraintKind>,
    },
}

impl ExpectedError {
    /// Parses the words after `statement error` / `query error`.
    pub fn parse(words: &[&str]) -> Result<ExpectedError, String> {
        let kind_of = |w: &str| {
            parse_kind(w).ok_or_else(|| {
                let names: Vec<&str> = ERROR_KINDS.into_iter().map(kind_name).collect();
                format!("unknown error kind `{w}` (one of: {})", names.join(", "))
            })
        };
        match words {
            [] => Ok(ExpectedError::Any),
            [kind] => Ok(ExpectedError::Kind {
                kind: kind_of(kind)?,
                constraint: None,
            }),
            [kind, constraint] => {
                if kind_of(kind)? != ErrorKind::Constraint {
                    return Err(format!(
                        "only `constraint` takes a second word, not `{kind}`"
                    ));
                }
                let constraint = parse_constraint(constraint).ok_or_else(|| {
                    let names: Vec<&str> =
                        CONSTRAINT_KINDS.into_iter().map(constraint_name).collect();
                    format!(
                        "unknown constraint `{constraint}` (one of: {})",
                        names.join(", ")
                    )
                })?;
                Ok(ExpectedError::Kind {
                    kind: ErrorKind::Constraint,
                    constraint: Some(constraint),
                })
            }
            _ => Err(format!("too many words after `error`: {}", words.join(" "))),
        }
    }

    /// True when `error` is what this record expects.
    pub fn matches(&self, error: &Error) -> bool {
        match *self {
            ExpectedError::Any => true,
            ExpectedError::Kind { kind, constraint } => {
                error.kind() == kind
                    && match (constraint, error) {
                        (None, _) => true,
                        (Some(want), Error::Constraint { kind: got, .. }) => want == *got,
                        (Some(_), _) => false,
                    }
            }
        }
    }
}

impl std::fmt::Display for ExpectedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectedError::Any => f.write_str("any error"),
            ExpectedError::Kind { kind, constraint } => {
                f.write_str(kind_name(*kind))?;
                match constraint {
                    Some(c) => write!(f, " {}", constraint_name(*c)),
                    None => Ok(()),
                }
            }
        }
    }
}

/// `error` as a record would name it, with its message:
/// "`constraint unique` (UNIQUE constraint failed: t.a)".
pub fn describe(error: &Error) -> String {
    let constraint = match error {
        Error::Constraint { kind, .. } => Some(*kind),
        _ => None,
    };
    let named = ExpectedError::Kind {
        kind: error.kind(),
        constraint,
    };
    format!("`{named}` ({error})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_name_round_trips() {
        let mut names = std::collections::HashSet::new();
        for kind in ERROR_KINDS {
            let name = kind_name(kind);
            assert_eq!(parse_kind(name), Some(kind), "{name}");
            assert!(names.insert(name), "duplicate name {name}");
            assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
        for c in CONSTRAINT_KINDS {
            assert_eq!(parse_constraint(constraint_name(c)), Some(c));
        }
        assert_eq!(parse_kind("Syntax"), None);
        assert_eq!(parse_kind("nosuchobject"), None);
        assert_eq!(parse_kind(""), None);
    }

    #[test]
    fn parses_expectations() {
        assert_eq!(ExpectedError::parse(&[]), Ok(ExpectedError::Any));
        assert_eq!(
            ExpectedError::parse(&["no_such_object"]),
            Ok(ExpectedError::Kind {
                kind: ErrorKind::NoSuchObject,
                constraint: None
            })
        );
        assert_eq!(
            ExpectedError::parse(&["constraint", "not_null"]),
            Ok(ExpectedError::Kind {
                kind: ErrorKind::Constraint,
                constraint: Some(ConstraintKind::NotNull)
            })
        );
        for bad in [
            &["bogus"][..],
            &["syntax", "unique"],
            &["constraint", "foreign_key"],
            &["constraint", "unique", "x"],
        ] {
            assert!(ExpectedError::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn matches_kind_and_constraint() {
        let unique = Error::Constraint {
            kind: ConstraintKind::Unique,
            detail: "t.a".into(),
        };
        let syntax = Error::Syntax {
            message: "x".into(),
            position: None,
        };
        let constraint = ExpectedError::parse(&["constraint"]).expect("parses");
        let not_null = ExpectedError::parse(&["constraint", "not_null"]).expect("parses");
        let unique_only = ExpectedError::parse(&["constraint", "unique"]).expect("parses");
        assert!(constraint.matches(&unique));
        assert!(!constraint.matches(&syntax));
        assert!(!not_null.matches(&unique));
        assert!(unique_only.matches(&unique));
        assert!(ExpectedError::Any.matches(&syntax));
        assert_eq!(describe(&unique), format!("`constraint unique` ({unique})"));
        assert_eq!(unique_only.to_string(), "constraint unique");
    }
}
