//! The module graph of one target and its cycle groups (strongly connected
//! components, by Tarjan's algorithm).
//!
//! Granularity — the rule the checks enforce:
//! * A node is a module that has its own file (`foo.rs` or `foo/mod.rs`),
//!   named by its path (`store`, `hnsw::graph`). Inline modules (`mod k
//!   { .. }`) belong to the file they sit in.
//! * Every path to another module counts, wherever it is written: `use`
//!   trees (grouped and nested), and `crate::`, `super::`, `self::` paths in
//!   signatures, bodies and macros. Test code, comments and strings do not
//!   (see `scan.rs`). A path through a re-export counts for the module that
//!   defines the name (`crate::Store` -> `store`, see `tree.rs`).
//! * An edge is kept only between siblings: a reference from `a::b` to
//!   `c::d` becomes `a -> c` (the children of their closest common parent
//!   module); one from `hnsw::graph` to `hnsw::space` stays as it is. A
//!   module using its parent or ancestor (`super::Params` from `hnsw/mod.rs`,
//!   `crate::RowId` from `lib.rs`) or its own descendants is no edge: a
//!   directory module is one unit seen from outside, and `lib.rs`/`mod.rs`
//!   naturally both declare their children and hold what they share.
//! * So every cycle group is a set of siblings under one parent, and a cycle
//!   between files of different directories shows up at the level where
//!   the directories are siblings.

use std::collections::{BTreeMap, BTreeSet};

use crate::scan::{Anchor, PathRef};
use crate::tree::{module_name, ModuleTable, Target};

/// One reference that makes an edge: file (relative to the crate), line,
/// and the path as written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Evidence {
    pub file: String,
    pub line: usize,
    pub text: String,
}

/// The sibling edges of one target, each with the references behind it.
#[derive(Debug, Default, Clone)]
pub struct ModuleGraph {
    pub nodes: BTreeSet<String>,
    pub edges: BTreeMap<(String, String), Vec<Evidence>>,
}

/// One cycle group: its members (sorted) and the edges between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleGroup {
    pub members: Vec<String>,
    pub edges: Vec<(String, String, Vec<Evidence>)>,
}

/// Builds the sibling graph of a target.
pub fn build(target: &Target) -> ModuleGraph {
    let table = ModuleTable::new(target);
    let mut graph = ModuleGraph::default();
    for file in &target.files {
        graph.nodes.insert(module_name(&file.module));
        let uses = file.scan.uses.iter().map(|u| (&u.path, "use "));
        let refs = file.scan.refs.iter().map(|r| (r, ""));
        for (path, prefix) in uses.chain(refs) {
            let mut here = file.module.clone();
            here.extend(path.ctx.iter().cloned());
            let Some(absolute) = table.absolute(path, &here) else {
                continue;
            };
            let Some(to) = table.resolve(&absolute) else {
                continue;
            };
            let Some((from, to)) = sibling_edge(&file.module, &to) else {
                continue;
            };
            let evidence = Evidence {
                file: file.rel_path.clone(),
                line: path.line,
                text: format!("{prefix}{}", render(path)),
            };
            let (from, to) = (module_name(&from), module_name(&to));
            graph.nodes.insert(from.clone());
            graph.nodes.insert(to.clone());
            graph.edges.entry((from, to)).or_default().push(evidence);
        }
    }
    for refs in graph.edges.values_mut() {
        refs.sort();
    }
    graph
}

/// The edge between the children of the closest common parent of `from`
/// and `to`, or None if one contains the other (or they are the same).
pub fn sibling_edge(from: &[String], to: &[String]) -> Option<(Vec<String>, Vec<String>)> {
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    if common == from.len() || common == to.len() {
        return None;
    }
    Some((from[..=common].to_vec(), to[..=common].to_vec()))
}

/// A path as written: `crate::a::B`, `super::super::c`.
fn render(path: &PathRef) -> String {
    let anchor = match path.anchor {
        Anchor::Crate => vec!["crate".to_string()],
        Anchor::Super(n) => vec!["super".to_string(); n],
        Anchor::SelfMod => vec!["self".to_string()],
        Anchor::Extern => vec![String::new()],
        Anchor::Plain => Vec::new(),
    };
    anchor
        .into_iter()
        .chain(path.segs.iter().cloned())
        .collect::<Vec<_>>()
        .join("::")
}

/// Every strongly connected component with more than one member, members
/// sorted, groups sorted; with the edges inside each group.
pub fn cycle_groups(graph: &ModuleGraph) -> Vec<CycleGroup> {
    let mut adjacency: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (from, to) in graph.edges.keys() {
        adjacency.entry(from).or_default().insert(to);
    }
    let nodes: Vec<&str> = graph.nodes.iter().map(String::as_str).collect();
    let mut groups: Vec<CycleGroup> = strongly_connected(&nodes, &adjacency)
        .into_iter()
        .filter(|scc| scc.len() > 1)
        .map(|members| {
            let inside: BTreeSet<&str> = members.iter().copied().collect();
            let edges = graph
                .edges
                .iter()
                .filter(|((f, t), _)| inside.contains(f.as_str()) && inside.contains(t.as_str()))
                .map(|((f, t), refs)| (f.clone(), t.clone(), refs.clone()))
                .collect();
            let mut members: Vec<String> = members.into_iter().map(str::to_string).collect();
            members.sort();
            CycleGroup { members, edges }
        })
        .collect();
    groups.sort_by(|a, b| a.members.cmp(&b.members));
    groups
}

/// Tarjan's strongly connected components of the graph with these nodes
/// and edges (edges to unknown nodes are ignored).
pub fn strongly_connected<'n>(
    nodes: &[&'n str],
    adjacency: &BTreeMap<&str, BTreeSet<&str>>,
) -> Vec<Vec<&'n str>> {
    let index_of: BTreeMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let successors: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            let next = adjacency.get(n).into_iter().flatten();
            next.filter_map(|m| index_of.get(m).copied()).collect()
        })
        .collect();
    let mut tarjan = Tarjan {
        successors: &successors,
        index: vec![None; nodes.len()],
        low: vec![0; nodes.len()],
        on_stack: vec![false; nodes.len()],
        stack: Vec::new(),
        next_index: 0,
        components: Vec::new(),
    };
    for v in 0..nodes.len() {
        if tarjan.index[v].is_none() {
            tarjan.visit(v);
        }
    }
    let components = tarjan.components.into_iter();
    components
        .map(|c| c.into_iter().map(|v| nodes[v]).collect())
        .collect()
}

struct Tarjan<'a> {
    successors: &'a [Vec<usize>],
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    next_index: usize,
    components: Vec<Vec<usize>>,
}

impl Tarjan<'_> {
    fn visit(&mut self, v: usize) {
        self.index[v] = Some(self.next_index);
        self.low[v] = self.next_index;
        self.next_index += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
        let successors = self.successors;
        for &w in &successors[v] {
            match self.index[w] {
                None => {
                    self.visit(w);
                    self.low[v] = self.low[v].min(self.low[w]);
                }
                Some(w_index) if self.on_stack[w] => self.low[v] = self.low[v].min(w_index),
                Some(_) => {}
            }
        }
        if Some(self.low[v]) == self.index[v] {
            let mut component = Vec::new();
            while let Some(w) = self.stack.pop() {
                self.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            self.components.push(component);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::load_target;

    fn graph_of(files: &'static [(&'static str, &'static str)]) -> ModuleGraph {
        let read = |path: &str| {
            let found = files.iter().find(|(p, _)| *p == path);
            found.map(|(_, text)| text.to_string())
        };
        let target = load_target("src/lib.rs", &read).expect("root exists");
        build(&target)
    }

    fn edges(graph: &ModuleGraph) -> Vec<String> {
        let keys = graph.edges.keys();
        keys.map(|(f, t)| format!("{f}->{t}")).collect()
    }

    fn members(graph: &ModuleGraph) -> Vec<Vec<String>> {
        cycle_groups(graph).into_iter().map(|g| g.members).collect()
    }

    #[test]
    fn cycle_of_three_with_every_reference_form() {
        static FILES: &[(&str, &str)] = &[
            (
                "src/lib.rs",
                "mod a; mod b; mod c; mod d;\npub use c::Gamma;",
            ),
            (
                "src/a.rs",
                "use crate::{b::{self, Beta}, d};\npub struct Alpha;",
            ),
            (
                "src/b.rs",
                "pub struct Beta;\nfn f() -> crate::Gamma { todo!() }",
            ),
            (
                "src/c.rs",
                "pub struct Gamma;\nfn g() { let _ = super::a::Alpha; }",
            ),
            (
                "src/d.rs",
                "// crate::a::Alpha in a comment\nfn h() { let _ = \"crate::b::Beta\"; }",
            ),
        ];
        let graph = graph_of(FILES);
        assert_eq!(edges(&graph), ["a->b", "a->d", "b->c", "c->a"]);
        assert_eq!(members(&graph), [vec!["a", "b", "c"]]);
        let group = &cycle_groups(&graph)[0];
        assert_eq!(group.edges.len(), 3, "a->d is not inside the group");
        let b_to_c = &graph.edges[&("b".to_string(), "c".to_string())];
        assert_eq!(b_to_c[0].text, "crate::Gamma");
        assert_eq!((b_to_c[0].file.as_str(), b_to_c[0].line), ("src/b.rs", 2));
    }

    #[test]
    fn nested_modules_project_to_siblings() {
        static FILES: &[(&str, &str)] = &[
            ("src/lib.rs", "mod hnsw; mod store;\npub type RowId = u64;"),
            (
                "src/hnsw/mod.rs",
                "mod graph; mod space;\npub use graph::Graph;\npub struct Params;",
            ),
            (
                "src/hnsw/graph.rs",
                "use super::Params;\nuse super::space::Space;\nuse crate::RowId;",
            ),
            ("src/hnsw/space.rs", "use super::Graph;\npub struct Space;"),
            (
                "src/store.rs",
                "use crate::hnsw::Graph;\nuse crate::hnsw::Params;",
            ),
        ];
        let graph = graph_of(FILES);
        // graph->Params (its parent) and graph->RowId (the root) are no edges;
        // store->hnsw::graph (through the re-export) is store->hnsw.
        assert_eq!(
            edges(&graph),
            [
                "hnsw::graph->hnsw::space",
                "hnsw::space->hnsw::graph",
                "store->hnsw"
            ]
        );
        assert_eq!(members(&graph), [vec!["hnsw::graph", "hnsw::space"]]);
    }

    #[test]
    fn cross_directory_cycle_shows_at_the_common_level() {
        static FILES: &[(&str, &str)] = &[
            ("src/lib.rs", "mod a; mod b;"),
            ("src/a/mod.rs", "mod x;"),
            ("src/a/x.rs", "use crate::b::y::Y;"),
            ("src/b/mod.rs", "pub mod y;"),
            ("src/b/y.rs", "pub struct Y;\n#[cfg(test)]\nmod tests { use crate::a::x; }\nfn f() { crate::a::helper(); }"),
        ];
        let graph = graph_of(FILES);
        assert_eq!(edges(&graph), ["a->b", "b->a"]);
        assert_eq!(members(&graph), [vec!["a", "b"]]);
    }

    #[test]
    fn test_code_makes_no_cycle() {
        static FILES: &[(&str, &str)] = &[
            ("src/lib.rs", "mod a; mod b;"),
            ("src/a.rs", "use crate::b::B;\npub struct A;"),
            (
                "src/b.rs",
                "pub struct B;\n#[cfg(test)]\nmod tests { use crate::a::A; }",
            ),
        ];
        assert!(members(&graph_of(FILES)).is_empty());
    }

    #[test]
    fn tarjan_finds_separate_components() {
        let nodes = ["a", "b", "c", "d", "e", "f"];
        let mut adjacency: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (f, t) in [
            ("a", "b"),
            ("b", "a"),
            ("b", "c"),
            ("c", "d"),
            ("d", "e"),
            ("e", "c"),
            ("f", "f"),
        ] {
            adjacency.entry(f).or_default().insert(t);
        }
        let mut sccs = strongly_connected(&nodes, &adjacency);
        for scc in &mut sccs {
            scc.sort();
        }
        sccs.sort();
        assert_eq!(sccs, [vec!["a", "b"], vec!["c", "d", "e"], vec!["f"]]);
    }

    #[test]
    fn sibling_edge_rule() {
        let p = |s: &str| -> Vec<String> {
            s.split('/')
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        };
        let edge = |f: &str, t: &str| {
            sibling_edge(&p(f), &p(t)).map(|(a, b)| (a.join("::"), b.join("::")))
        };
        assert_eq!(edge("a/b", "c/d"), Some(("a".into(), "c".into())));
        assert_eq!(edge("a/b", "a/c"), Some(("a::b".into(), "a::c".into())));
        assert_eq!(edge("a/b", "a"), None);
        assert_eq!(edge("a", "a/b"), None);
        assert_eq!(edge("a", ""), None);
        assert_eq!(edge("a", "a"), None);
    }
}
