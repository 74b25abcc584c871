//! The crate graph in `docs/architecture.md` is the one Cargo builds: the
//! table between `<!-- crate-graph:begin -->` and `<!-- crate-graph:end -->`
//! must list, for every package of the workspace, exactly its normal
//! (non-dev, non-build) dependencies on other packages of the workspace, as
//! `cargo metadata` reports them. It also checks that the graph has no
//! cycle (Cargo would refuse one) and that the verifier crate and the ANN
//! crate depend on no crate of ours.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

type Graph = BTreeMap<String, BTreeSet<String>>;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The workspace's packages and their normal dependencies on each other.
fn cargo_graph() -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let names: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(String::from))
        .collect();
    let mut graph = Graph::new();
    for p in packages {
        let name = p["name"].as_str().expect("package name").to_string();
        let deps = p["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str())
            .filter(|d| names.contains(*d))
            .map(String::from)
            .collect();
        graph.insert(name, deps);
    }
    graph
}

/// The table in docs/architecture.md.
fn documented_graph() -> Graph {
    let path = workspace_root().join("docs/architecture.md");
    let text = std::fs::read_to_string(&path).expect("read docs/architecture.md");
    let start = text
        .find("<!-- crate-graph:begin -->")
        .expect("docs/architecture.md has a crate-graph:begin marker");
    let end = text
        .find("<!-- crate-graph:end -->")
        .expect("docs/architecture.md has a crate-graph:end marker");
    let mut graph = Graph::new();
    for line in text[start..end].lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "| crate | deps |" splits into ["", crate, deps, ""].
        let [_, krate, deps, _] = cells[..] else {
            continue;
        };
        if krate == "crate" || krate.starts_with("---") {
            continue;
        }
        let deps = deps
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty() && *d != "—")
            .map(String::from)
            .collect();
        graph.insert(krate.to_string(), deps);
    }
    graph
}

#[test]
fn the_documented_crate_graph_is_the_built_one() {
    let built = cargo_graph();
    let documented = documented_graph();
    let mut problems = Vec::new();
    for (krate, deps) in &built {
        match documented.get(krate) {
            None => problems.push(format!("{krate} is missing from the table")),
            Some(d) if d != deps => problems.push(format!(
                "{krate}: the table says {d:?}, Cargo builds {deps:?}"
            )),
            Some(_) => {}
        }
    }
    for krate in documented.keys().filter(|k| !built.contains_key(*k)) {
        problems.push(format!("{krate} is in the table but not in the workspace"));
    }
    assert!(
        problems.is_empty(),
        "docs/architecture.md's crate graph is out of date:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn leaf_crates_stay_leaves_and_the_graph_has_no_cycle() {
    let built = cargo_graph();
    for leaf in ["cairn-core", "cairn-merkle", "cairn-vector"] {
        let deps = built.get(leaf).expect("leaf crate exists");
        assert!(
            deps.is_empty(),
            "{leaf} must depend on no crate of ours, has {deps:?}"
        );
    }
    // Kahn's algorithm: every crate gets removed only if there is no cycle.
    let mut left = built.clone();
    while !left.is_empty() {
        let ready: Vec<String> = left
            .iter()
            .filter(|(_, deps)| deps.iter().all(|d| !left.contains_key(d)))
            .map(|(k, _)| k.clone())
            .collect();
        assert!(
            !ready.is_empty(),
            "crate dependency cycle among {:?}",
            left.keys()
        );
        for k in ready {
            left.remove(&k);
        }
    }
}
