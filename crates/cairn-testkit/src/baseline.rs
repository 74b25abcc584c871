//! The baseline: the findings allowed today, one per line, sorted, and the
//! comparison that lets them only shrink. Two kinds of line:
//!
//! ```text
//! cycle cairn-storage: checkpoint durable merkle store txn
//! long crates/cairn-sql/src/exec.rs Executor::run 187
//! ```
//!
//! A `cycle` line is one cycle group of a target (members sorted); a `long`
//! line is a function over the limit and its body length. `#` lines and
//! blank lines are comments. Line numbers are left out on purpose, so an
//! edit above a function does not touch the baseline.
//!
//! Comparing yields problems of two kinds: *worse* (a new cycle, a cycle
//! that grew, a new long function, one that grew) and *stale* (a baseline
//! line that no longer holds because something got better: the baseline
//! must be tightened in the same change). Both fail the gate, and each
//! message says which line to add, change or delete.

use std::collections::{BTreeMap, BTreeSet};

use crate::report::{CrateReport, FN_BODY_LINES_MAX};

/// One baseline line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entry {
    Cycle {
        target: String,
        members: BTreeSet<String>,
    },
    Long {
        file: String,
        name: String,
        body_lines: usize,
    },
}

impl Entry {
    /// The entry as a baseline line.
    pub fn line(&self) -> String {
        match self {
            Entry::Cycle { target, members } => {
                let members: Vec<&str> = members.iter().map(String::as_str).collect();
                format!("cycle {target}: {}", members.join(" "))
            }
            Entry::Long {
                file,
                name,
                body_lines,
            } => format!("long {file} {name} {body_lines}"),
        }
    }

    /// Parses one baseline line (not a comment or blank line).
    pub fn parse(line: &str) -> Result<Entry, String> {
        let bad = || format!("cannot read baseline line `{line}`");
        if let Some(rest) = line.strip_prefix("cycle ") {
            let (target, members) = rest.split_once(": ").ok_or_else(bad)?;
            let members: BTreeSet<String> = members.split(' ').map(str::to_string).collect();
            if members.len() < 2 || members.contains("") {
                return Err(bad());
            }
            let target = target.to_string();
            return Ok(Entry::Cycle { target, members });
        }
        let rest = line.strip_prefix("long ").ok_or_else(bad)?;
        let (file, rest) = rest.split_once(' ').ok_or_else(bad)?;
        let (name, lines) = rest.rsplit_once(' ').ok_or_else(bad)?;
        let body_lines = lines.parse().map_err(|_| bad())?;
        Ok(Entry::Long {
            file: file.to_string(),
            name: name.to_string(),
            body_lines,
        })
    }
}

/// The entries the reports hold today.
pub fn current_entries(reports: &[CrateReport]) -> Vec<Entry> {
    let mut entries = Vec::new();
    for report in reports {
        for target in &report.targets {
            for group in &target.groups {
                entries.push(Entry::Cycle {
                    target: target.target.clone(),
                    members: group.members.iter().cloned().collect(),
                });
            }
        }
        for f in &report.long_fns {
            entries.push(Entry::Long {
                file: f.file.clone(),
                name: f.name.clone(),
                body_lines: f.body_lines,
            });
        }
    }
    entries
}

/// The baseline file's text for these entries: a header, then one sorted
/// line per entry.
pub fn render(entries: &[Entry]) -> String {
    let mut lines: Vec<String> = entries.iter().map(Entry::line).collect();
    lines.sort();
    lines.dedup();
    let mut out = String::from(HEADER);
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

const HEADER: &str = "\
# Module cycles and long functions allowed today (issue 12). It may only
# shrink: crates/cairn-testkit/tests/baseline.rs fails on a finding not
# listed here and on a line here that no longer holds.
# `cycle TARGET: MEMBERS` is one group of modules that import each other;
# `long FILE FN LINES` is a fn body over 100 lines with no `// long: why`.
# Regenerate: cargo run -p cairn-testkit --bin cairn-lint-modules -- --baseline
";

/// Reads a baseline file's text: entries, or the problems with its lines
/// (unreadable, unsorted or repeated — it must stay deterministic).
pub fn parse(text: &str) -> Result<Vec<Entry>, Vec<String>> {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    let mut previous: Option<&str> = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match Entry::parse(line) {
            Ok(entry) if entry.line() != line => problems.push(format!(
                "line {}: write `{}` as `{}`",
                i + 1,
                line,
                entry.line()
            )),
            Ok(entry) => entries.push(entry),
            Err(e) => problems.push(format!("line {}: {e}", i + 1)),
        }
        if previous.is_some_and(|p| p >= line) {
            problems.push(format!(
                "line {}: `{line}` is out of order or repeated; keep the lines sorted in byte order (`LC_ALL=C sort -u`)",
                i + 1
            ));
        }
        previous = Some(line);
    }
    if problems.is_empty() {
        Ok(entries)
    } else {
        Err(problems)
    }
}

/// Whether a problem makes things worse or leaves the baseline stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Worse,
    Stale,
}

/// One difference between the baseline and today, with what to do.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub severity: Severity,
    pub message: String,
}

/// Every difference between `baseline` and `current`, sorted.
pub fn compare(baseline: &[Entry], current: &[Entry]) -> Vec<Problem> {
    let mut problems = compare_cycles(baseline, current);
    problems.extend(compare_long_fns(baseline, current));
    problems.sort();
    problems
}

type Groups<'a> = Vec<(&'a str, &'a BTreeSet<String>)>;

fn cycles(entries: &[Entry]) -> Groups<'_> {
    let groups = entries.iter().filter_map(|e| match e {
        Entry::Cycle { target, members } => Some((target.as_str(), members)),
        Entry::Long { .. } => None,
    });
    groups.collect()
}

fn cycle_line(target: &str, members: &BTreeSet<String>) -> String {
    let entry = Entry::Cycle {
        target: target.to_string(),
        members: members.clone(),
    };
    entry.line()
}

fn compare_cycles(baseline: &[Entry], current: &[Entry]) -> Vec<Problem> {
    let (old, new) = (cycles(baseline), cycles(current));
    let mut problems = Vec::new();
    let hint =
        "see the edges that close it with `cargo run -p cairn-testkit --bin cairn-lint-modules`";
    for &(target, members) in &new {
        let line = cycle_line(target, members);
        let shrunk_or_same = old
            .iter()
            .any(|(t, m)| *t == target && m.is_superset(members));
        if shrunk_or_same {
            continue; // a shrink is reported from the baseline's side below
        }
        let grown_from = old
            .iter()
            .find(|(t, m)| *t == target && m.is_subset(members));
        let message = match grown_from {
            Some((_, was)) => {
                let joined: Vec<&str> = members.difference(was).map(String::as_str).collect();
                format!(
                    "import cycle grew in {target}: {} joined `{}`. Remove the new import(s) \
                     so it is back to the baseline ({hint}).",
                    joined.join(", "),
                    cycle_line(target, was)
                )
            }
            None => format!(
                "new import cycle: `{line}`. Break it by removing one import between \
                 these modules ({hint}); the baseline only lists cycles that exist already."
            ),
        };
        let severity = Severity::Worse;
        problems.push(Problem { severity, message });
    }
    for &(target, members) in &old {
        let line = cycle_line(target, members);
        let same_target = new.iter().filter(|(t, _)| *t == target);
        let related = same_target.filter(|(_, m)| m.is_subset(members) || m.is_superset(members));
        if related.clone().any(|(_, m)| m.is_superset(members)) {
            continue; // unchanged, or grown (reported above)
        }
        let smaller: Vec<String> = related.map(|(t, m)| cycle_line(t, m)).collect();
        let message = if smaller.is_empty() {
            format!("import cycle gone (well done): delete the baseline line `{line}`.")
        } else {
            format!(
                "import cycle shrank (well done): replace the baseline line `{line}` with `{}`.",
                smaller.join("` and `")
            )
        };
        let severity = Severity::Stale;
        problems.push(Problem { severity, message });
    }
    problems
}

fn long_fns(entries: &[Entry]) -> BTreeMap<(&str, &str), usize> {
    let longs = entries.iter().filter_map(|e| match e {
        Entry::Long {
            file,
            name,
            body_lines,
        } => Some(((file.as_str(), name.as_str()), *body_lines)),
        Entry::Cycle { .. } => None,
    });
    longs.collect()
}

fn compare_long_fns(baseline: &[Entry], current: &[Entry]) -> Vec<Problem> {
    let (old, new) = (long_fns(baseline), long_fns(current));
    let mut problems = Vec::new();
    let fix = format!(
        "split it into named steps (style.md habit 18) until its body is at most \
         {FN_BODY_LINES_MAX} lines, or, if it must stay whole, say why in a comment \
         right above it that starts with `// long:` (e.g. `// long: one match mirrors \
         the record format`)"
    );
    for (&(file, name), &lines) in &new {
        let message = match old.get(&(file, name)) {
            None => {
                format!("new long function: `{name}` in {file} has a {lines}-line body; {fix}.")
            }
            Some(&was) if lines > was => format!(
                "long function grew: `{name}` in {file} went from {was} to {lines} lines; \
                 bring it back to {was} lines or fewer, or {fix}."
            ),
            Some(&was) if lines < was => {
                let severity = Severity::Stale;
                let message = format!(
                    "long function shrank (well done): in the baseline, replace \
                     `long {file} {name} {was}` with `long {file} {name} {lines}`."
                );
                problems.push(Problem { severity, message });
                continue;
            }
            Some(_) => continue,
        };
        let severity = Severity::Worse;
        problems.push(Problem { severity, message });
    }
    for (&(file, name), &was) in &old {
        if !new.contains_key(&(file, name)) {
            let message = format!(
                "`{name}` in {file} is no longer a long function without a reason (split, \
                 given a `// long:` reason, renamed or moved): delete the baseline line \
                 `long {file} {name} {was}`."
            );
            let severity = Severity::Stale;
            problems.push(Problem { severity, message });
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(lines: &[&str]) -> Vec<Entry> {
        let parsed = lines.iter().map(|l| Entry::parse(l));
        parsed.collect::<Result<_, _>>().expect("test lines parse")
    }

    /// Checks each problem's severity and how its message starts.
    fn assert_problems(problems: &[Problem], expected: &[(Severity, &str)]) {
        let got: Vec<(Severity, &str)> = problems
            .iter()
            .map(|p| (p.severity, p.message.as_str()))
            .collect();
        assert_eq!(got.len(), expected.len(), "{got:#?}");
        for ((severity, message), (want_severity, want_start)) in got.iter().zip(expected) {
            assert_eq!(severity, want_severity, "{message}");
            assert!(message.starts_with(want_start), "{message}");
        }
    }

    #[test]
    fn lines_round_trip() {
        for line in [
            "cycle cairn-sql: bind planner",
            "cycle cairn[bin/cairn-slt]: a b::c",
            "long crates/x/src/a.rs <Value as Display>::fmt 120",
        ] {
            let entry = Entry::parse(line).expect("parses");
            assert_eq!(entry.line(), line);
        }
        assert!(Entry::parse("cycle x: lonely").is_err());
        assert!(Entry::parse("long a.rs f many").is_err());
        assert!(Entry::parse("something else").is_err());
    }

    #[test]
    fn unchanged_is_clean() {
        let both = entries(&["cycle c: a b", "long f.rs g 150"]);
        assert!(compare(&both, &both).is_empty());
    }

    #[test]
    fn worse_findings() {
        let baseline = entries(&["cycle c: a b", "long f.rs g 150"]);
        let current = entries(&[
            "cycle c: a b x",
            "cycle d: p q",
            "long f.rs g 151",
            "long f.rs h 101",
        ]);
        let problems = compare(&baseline, &current);
        assert_problems(
            &problems,
            &[
                (Severity::Worse, "import cycle grew in c"),
                (Severity::Worse, "long function grew"),
                (Severity::Worse, "new import cycle"),
                (Severity::Worse, "new long function"),
            ],
        );
        assert!(problems[0].message.contains("x joined `cycle c: a b`"));
    }

    #[test]
    fn stale_baseline_lines() {
        let baseline = entries(&[
            "cycle c: a b",
            "cycle c: p q r s",
            "long f.rs g 150",
            "long f.rs h 130",
        ]);
        let current = entries(&["cycle c: p q", "long f.rs g 120"]);
        let problems = compare(&baseline, &current);
        assert_problems(
            &problems,
            &[
                (Severity::Stale, "`h` in f.rs is no longer a long function"),
                (Severity::Stale, "import cycle gone (well done)"),
                (Severity::Stale, "import cycle shrank (well done)"),
                (Severity::Stale, "long function shrank (well done)"),
            ],
        );
        assert!(problems[0]
            .message
            .contains("delete the baseline line `long f.rs h 130`"));
        assert!(problems[2]
            .message
            .contains("replace the baseline line `cycle c: p q r s` with `cycle c: p q`"));
        assert!(problems[3].message.contains("with `long f.rs g 120`"));
    }

    #[test]
    fn baseline_text_is_sorted_and_checked() {
        let text = render(&entries(&[
            "long b.rs f 200",
            "cycle z: b a",
            "long a.rs f 101",
        ]));
        let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(body, ["cycle z: a b", "long a.rs f 101", "long b.rs f 200"]);
        assert_eq!(parse(&text).map(|e| e.len()), Ok(3));
        let unsorted = parse("long b.rs f 200\nlong a.rs f 101\n");
        assert!(unsorted.is_err_and(|p| p[0].contains("out of order")));
        let unnormal = parse("cycle z: b a\n");
        assert!(unnormal.is_err_and(|p| p[0].contains("as `cycle z: a b`")));
    }
}
