//! Both checks over one crate directory on disk: the cycle groups of each
//! target (lib, main, `src/bin/*`) and the long functions of every file
//! those targets compile. Reads files only; never writes.
//!
//! The long-function rule: a non-test `fn` whose body, from the line of its
//! `{` to the line of its `}`, spans more than [`FN_BODY_LINES_MAX`] lines
//! is long, unless a comment right above it (doc comment or plain comment,
//! among its attributes) starts with `long:` and gives a reason, e.g.
//! `// long: one match mirrors the record format`. Only `src/` is read, so
//! `tests/`, `benches/` and `examples/` never count.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::graph::{build, cycle_groups, CycleGroup};
use crate::tree::{load_target, Target};

/// A function body longer than this many lines needs a `// long:` reason.
pub const FN_BODY_LINES_MAX: usize = 100;

/// One function over the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongFn {
    /// The file as shown in reports, e.g. `crates/cairn-sql/src/exec.rs`.
    pub file: String,
    pub name: String,
    /// The line of its `fn` keyword.
    pub line: usize,
    pub body_lines: usize,
    /// The `long:` reason, if it has one.
    pub reason: Option<String>,
}

/// The cycle groups of one target.
#[derive(Debug, Clone)]
pub struct TargetCycles {
    /// `cairn-sql` for the lib, `cairn-cli[main]`, `cairn[bin/cairn-slt]`.
    pub target: String,
    pub groups: Vec<CycleGroup>,
}

/// Both checks for one crate.
#[derive(Debug, Clone)]
pub struct CrateReport {
    /// The crate directory's name, e.g. `cairn-storage`.
    pub name: String,
    /// How the directory is shown, e.g. `crates/cairn-storage`.
    pub shown_as: String,
    pub targets: Vec<TargetCycles>,
    /// Long functions without a reason, by file then line.
    pub long_fns: Vec<LongFn>,
    /// Long functions with a `long:` reason.
    pub justified: Vec<LongFn>,
    pub warnings: Vec<String>,
}

impl CrateReport {
    pub fn cycle_count(&self) -> usize {
        self.targets.iter().map(|t| t.groups.len()).sum()
    }
}

/// Runs both checks on the crate in `dir`, naming its files `shown_as/..`.
pub fn check_crate(dir: &Path, shown_as: &str) -> CrateReport {
    let name = dir.file_name().map_or_else(
        || shown_as.to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let read = |rel: &str| fs::read_to_string(dir.join(rel)).ok();
    let mut report = CrateReport {
        name: name.clone(),
        shown_as: shown_as.to_string(),
        targets: Vec::new(),
        long_fns: Vec::new(),
        justified: Vec::new(),
        warnings: Vec::new(),
    };
    let mut seen_files = BTreeSet::new();
    for (root, label) in target_roots(dir, &name) {
        let Some(target) = load_target(&root, &read) else {
            continue;
        };
        let groups = cycle_groups(&build(&target));
        report.targets.push(TargetCycles {
            target: label,
            groups,
        });
        add_long_fns(&mut report, &target, &mut seen_files);
        let warnings = target.warnings.iter();
        report
            .warnings
            .extend(warnings.map(|w| format!("{shown_as}/{w}")));
    }
    report
        .long_fns
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    report
        .justified
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    report.warnings.dedup();
    report
}

/// The root files of the crate's targets, relative to `dir`, with labels.
fn target_roots(dir: &Path, name: &str) -> Vec<(String, String)> {
    let mut roots = vec![
        ("src/lib.rs".to_string(), name.to_string()),
        ("src/main.rs".to_string(), format!("{name}[main]")),
    ];
    let mut bins: Vec<(String, String)> = fs::read_dir(dir.join("src/bin"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() {
                let root = format!("src/bin/{file_name}/main.rs");
                return Some((root, format!("{name}[bin/{file_name}]")));
            }
            let stem = file_name.strip_suffix(".rs")?;
            Some((
                format!("src/bin/{file_name}"),
                format!("{name}[bin/{stem}]"),
            ))
        })
        .collect();
    bins.sort();
    roots.extend(bins);
    roots
}

/// Adds the long functions of the target's files not seen before.
fn add_long_fns(report: &mut CrateReport, target: &Target, seen_files: &mut BTreeSet<String>) {
    for file in &target.files {
        if !seen_files.insert(file.rel_path.clone()) {
            continue;
        }
        let shown = format!("{}/{}", report.shown_as, file.rel_path);
        let mut names_seen = BTreeSet::new();
        for f in &file.scan.fns {
            // Two long fns with one name in one file (in two impls of
            // generic types, say) stay apart as `name`, `name#2`, ...
            let mut name = f.name.clone();
            let mut n = 1;
            while !names_seen.insert(name.clone()) {
                n += 1;
                name = format!("{}#{n}", f.name);
            }
            if f.body_lines() <= FN_BODY_LINES_MAX {
                continue;
            }
            let long = LongFn {
                file: shown.clone(),
                name,
                line: f.line,
                body_lines: f.body_lines(),
                reason: f.long_reason.clone(),
            };
            match long.reason {
                Some(_) => report.justified.push(long),
                None => report.long_fns.push(long),
            }
        }
    }
}

/// The crate directories under `crates_dir` (those with a `Cargo.toml`),
/// sorted by name.
pub fn crate_dirs(crates_dir: &Path) -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = fs::read_dir(crates_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// The human-readable report of one crate: cycle groups with the edges
/// inside them (and where each edge comes from), then long functions,
/// longest first.
pub fn render(report: &CrateReport) -> String {
    let mut out = String::new();
    let cycles = report.cycle_count();
    let longs = report.long_fns.len();
    out.push_str(&format!(
        "== {} ({}): {cycles} cycle group(s), {longs} long function(s)\n",
        report.name, report.shown_as
    ));
    for target in &report.targets {
        for group in &target.groups {
            render_group(&mut out, report, &target.target, group);
        }
    }
    let mut by_length: Vec<&LongFn> = report.long_fns.iter().collect();
    by_length.sort_by(|a, b| b.body_lines.cmp(&a.body_lines).then(a.file.cmp(&b.file)));
    for f in by_length {
        let (file, line, name, n) = (&f.file, f.line, &f.name, f.body_lines);
        out.push_str(&format!("  long  {file}:{line}  {name}  {n} lines\n"));
    }
    for f in &report.justified {
        let (file, line, name, n) = (&f.file, f.line, &f.name, f.body_lines);
        let reason = f.reason.as_deref().unwrap_or_default();
        out.push_str(&format!(
            "  ok    {file}:{line}  {name}  {n} lines (long: {reason})\n"
        ));
    }
    for w in &report.warnings {
        out.push_str(&format!("  warning: {w}\n"));
    }
    out
}

/// Every sibling edge of each target of the crate in `dir`, with how many
/// references make it and the first one: `from -> to (n refs): file:line `path``.
pub fn render_edges(dir: &Path, shown_as: &str) -> String {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = name.unwrap_or_else(|| shown_as.to_string());
    let read = |rel: &str| fs::read_to_string(dir.join(rel)).ok();
    let mut out = String::new();
    for (root, label) in target_roots(dir, &name) {
        let Some(target) = load_target(&root, &read) else {
            continue;
        };
        out.push_str(&format!("== {label} ({shown_as}/{root})\n"));
        for ((from, to), refs) in &build(&target).edges {
            if let Some(first) = refs.first() {
                let (file, line, text) = (&first.file, first.line, &first.text);
                let n = refs.len();
                out.push_str(&format!(
                    "  {from} -> {to} ({n} refs): {shown_as}/{file}:{line} `{text}`\n"
                ));
            }
        }
    }
    out
}

/// How many references of each edge the report shows.
const EVIDENCE_SHOWN_MAX: usize = 3;

fn render_group(out: &mut String, report: &CrateReport, target: &str, group: &CycleGroup) {
    out.push_str(&format!("  cycle {target}: {}\n", group.members.join(" ")));
    for (from, to, refs) in &group.edges {
        let shown: Vec<String> = refs
            .iter()
            .take(EVIDENCE_SHOWN_MAX)
            .map(|e| format!("{}/{}:{} `{}`", report.shown_as, e.file, e.line, e.text))
            .collect();
        let more = refs.len().saturating_sub(EVIDENCE_SHOWN_MAX);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        out.push_str(&format!(
            "    {from} -> {to} ({} refs): {}{more}\n",
            refs.len(),
            shown.join(", ")
        ));
    }
}
