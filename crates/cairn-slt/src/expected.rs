//! Expected-failure lists: the exact set of records known to fail, so a gate
//! can say "nothing new fails, and nothing listed passes" instead of a pass
//! rate that a new failure can hide under.
//!
//! A list is plain text, one `relative/path.test:LINE` per line (the path
//! relative to the directory the run started from, with `/` separators;
//! LINE as in [`crate::Failure::line`]). `#` starts a comment, to the end of
//! the line; blank lines are ignored. Reading never panics: a bad line or a
//! duplicate is an error naming its line in the list.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use crate::FileReport;

/// One record: a file relative to the run's root, and a line in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId {
    pub path: String,
    pub line: usize,
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path, self.line)
    }
}

/// Reads a list. Errors name the list line (1-based) and what is wrong.
pub fn parse_list(text: &str) -> Result<BTreeSet<RecordId>, String> {
    let mut out = BTreeSet::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split_once('#').map_or(raw, |(before, _)| before).trim();
        if line.is_empty() {
            continue;
        }
        let id = line
            .rsplit_once(':')
            .and_then(|(path, n)| {
                let line = n.trim().parse().ok()?;
                let path = path.trim();
                (!path.is_empty()).then(|| RecordId {
                    path: path.to_string(),
                    line,
                })
            })
            .ok_or_else(|| format!("line {}: expected `path:LINE`, got `{line}`", i + 1))?;
        if !out.insert(id.clone()) {
            return Err(format!("line {}: {id} is listed twice", i + 1));
        }
    }
    Ok(out)
}

/// `path` as a list names it: relative to `root`, `/`-separated.
pub fn list_path(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The failed records of `report`, with paths relative to `root`.
pub fn failed_records(report: &FileReport, root: &Path) -> Vec<RecordId> {
    let path = list_path(&report.path, root);
    report
        .failures
        .iter()
        .map(|f| RecordId {
            path: path.clone(),
            line: f.line,
        })
        .collect()
}

/// How a run differs from its list.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ListDiff {
    /// Failed, not listed (with the failure message).
    pub new_failures: Vec<(RecordId, String)>,
    /// Listed, but passed: take them off the list.
    pub fixed: Vec<RecordId>,
}

impl ListDiff {
    pub fn is_empty(&self) -> bool {
        self.new_failures.is_empty() && self.fixed.is_empty()
    }
}

impl fmt::Display for ListDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.new_failures.is_empty() {
            writeln!(
                f,
                "{} record(s) failed that are not on the expected-failure list:",
                self.new_failures.len()
            )?;
            for (id, message) in &self.new_failures {
                writeln!(f, "  {id}: {message}")?;
            }
        }
        if !self.fixed.is_empty() {
            writeln!(
                f,
                "{} listed record(s) passed; remove them from the expected-failure list:",
                self.fixed.len()
            )?;
            for id in &self.fixed {
                writeln!(f, "  {id}")?;
            }
        }
        Ok(())
    }
}

/// Compares the failures of a run (record → message) with the list.
pub fn compare(expected: &BTreeSet<RecordId>, failed: &BTreeMap<RecordId, String>) -> ListDiff {
    ListDiff {
        new_failures: failed
            .iter()
            .filter(|(id, _)| !expected.contains(*id))
            .map(|(id, m)| (id.clone(), m.clone()))
            .collect(),
        fixed: expected
            .iter()
            .filter(|id| !failed.contains_key(*id))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Failure, Mode};
    use std::path::PathBuf;

    fn id(path: &str, line: usize) -> RecordId {
        RecordId {
            path: path.to_string(),
            line,
        }
    }

    #[test]
    fn parses_lists_with_comments() {
        let text = "# why these fail\n\nevidence/a.test:24  # no triggers\n  b.test:7\n";
        let list = parse_list(text).expect("parses");
        assert_eq!(
            list.into_iter().collect::<Vec<_>>(),
            vec![id("b.test", 7), id("evidence/a.test", 24)]
        );
        for bad in ["a.test", "a.test:x", ":3", "a.test:1\na.test:1"] {
            assert!(parse_list(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn compare_finds_new_failures_and_fixed_records() {
        let expected: BTreeSet<_> = [id("a.test", 1), id("a.test", 5)].into();
        let failed: BTreeMap<_, _> = [
            (id("a.test", 1), "still fails".to_string()),
            (id("b.test", 9), "new".to_string()),
        ]
        .into();
        let diff = compare(&expected, &failed);
        assert_eq!(
            diff.new_failures,
            vec![(id("b.test", 9), "new".to_string())]
        );
        assert_eq!(diff.fixed, vec![id("a.test", 5)]);
        let text = diff.to_string();
        assert!(text.contains("b.test:9: new") && text.contains("  a.test:5"));
        // Exactly the listed ones fail: no difference.
        let failed: BTreeMap<_, _> = expected
            .iter()
            .map(|i| (i.clone(), String::new()))
            .collect();
        assert!(compare(&expected, &failed).is_empty());
    }

    #[test]
    fn failed_records_are_relative_to_the_root() {
        let mut report = FileReport::new(PathBuf::from("/c/evidence/x.test"), Mode::Memory);
        report.failures.push(Failure {
            line: 12,
            sql: String::new(),
            message: String::new(),
            expected: Vec::new(),
            actual: Vec::new(),
        });
        assert_eq!(
            failed_records(&report, Path::new("/c")),
            vec![id("evidence/x.test", 12)]
        );
    }
}
