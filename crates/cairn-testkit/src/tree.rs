//! A crate target's module tree: which file holds which module, found by
//! following `mod x;` from the root file (`src/lib.rs`, `src/main.rs` or a
//! `src/bin/` file) the way rustc does — `x.rs` or `x/mod.rs` — so files no
//! target compiles, and `#[cfg(test)] mod tests;` files, are left out.
//!
//! It also answers "which module does this path name?": a path is followed
//! through the longest prefix that is a module, then through the `use`
//! re-exports and globs of that module (`crate::Store`, re-exported by
//! `lib.rs` from `store`, names the module `store`). A name it cannot place
//! counts as an item of the last module reached. Files are read through a
//! caller's function, so tests run on sources held in memory.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::scan::{scan, Anchor, FileScan, PathRef, UseBind};

/// One file of a target and the module it holds (`[]` is the crate root).
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The file's path relative to the crate directory, e.g. `src/store.rs`.
    pub rel_path: String,
    pub module: Vec<String>,
    pub scan: FileScan,
}

/// The files of one target (a lib or a bin), root first.
#[derive(Debug, Clone)]
pub struct Target {
    pub files: Vec<SourceFile>,
    /// Modules declared but not found, `#[path]` modules not followed.
    pub warnings: Vec<String>,
}

/// Loads the target whose root file is `root` (relative to the crate
/// directory), reading files through `read`. None if the root is missing.
pub fn load_target(root: &str, read: &dyn Fn(&str) -> Option<String>) -> Option<Target> {
    let root_text = read(root)?;
    let root_dir = parent_dir(root);
    let mut queue = VecDeque::from([(root.to_string(), Vec::new(), root_dir, root_text)]);
    let mut target = Target {
        files: Vec::new(),
        warnings: Vec::new(),
    };
    while let Some((rel_path, module, dir, text)) = queue.pop_front() {
        let scan = scan(&text);
        for decl in &scan.mod_decls {
            let line = decl.line;
            if decl.has_path_attr {
                let what = format!("{rel_path}:{line}: `mod {}` has #[path]", decl.name);
                target
                    .warnings
                    .push(format!("{what}; its file is not checked"));
                continue;
            }
            let base = join(&dir, &decl.ctx.join("/"));
            let child_dir = join(&base, &decl.name);
            let flat = join(&base, &format!("{}.rs", decl.name));
            let nested = join(&child_dir, "mod.rs");
            let found = [flat, nested]
                .into_iter()
                .find_map(|p| read(&p).map(|text| (p, text)));
            let Some((child_path, child_text)) = found else {
                let what = format!("{rel_path}:{line}: no file for `mod {}`", decl.name);
                target.warnings.push(what);
                continue;
            };
            let mut child = module.clone();
            child.extend(decl.ctx.iter().cloned());
            child.push(decl.name.clone());
            queue.push_back((child_path, child, child_dir, child_text));
        }
        target.files.push(SourceFile {
            rel_path,
            module,
            scan,
        });
    }
    Some(target)
}

fn parent_dir(path: &str) -> String {
    path.rsplit_once('/')
        .map_or_else(String::new, |(dir, _)| dir.to_string())
}

fn join(dir: &str, name: &str) -> String {
    match (dir.is_empty(), name.is_empty()) {
        (true, _) => name.to_string(),
        (_, true) => dir.to_string(),
        _ => format!("{dir}/{name}"),
    }
}

/// A module path as printed: `a::b`, or `crate` for the root.
pub fn module_name(path: &[String]) -> String {
    if path.is_empty() {
        "crate".to_string()
    } else {
        path.join("::")
    }
}

/// What one module (file or inline) defines and imports.
#[derive(Debug, Default)]
struct ModInfo {
    /// The file module that holds it (itself, for a file module).
    owner: Vec<String>,
    items: BTreeSet<String>,
    /// `use` bindings at module level: name -> absolute path, or None when
    /// the path leaves the crate.
    aliases: BTreeMap<String, Option<Vec<String>>>,
    /// `use path::*` at module level, as absolute paths.
    globs: Vec<Vec<String>>,
}

/// Every module of a target and what it defines, for resolving paths.
pub struct ModuleTable {
    mods: BTreeMap<Vec<String>, ModInfo>,
}

/// How many `use` re-exports a path may pass through before giving up.
const ALIAS_HOPS_MAX: usize = 16;

impl ModuleTable {
    pub fn new(target: &Target) -> ModuleTable {
        let mut table = ModuleTable {
            mods: BTreeMap::new(),
        };
        table.mods.insert(Vec::new(), ModInfo::default());
        for file in &target.files {
            table.add_file_modules(file);
        }
        // Plain `use x::..` paths can go through another alias of the same
        // module, so they are placed after the anchored ones.
        for plain in [false, true] {
            for file in &target.files {
                table.add_aliases(file, plain);
            }
        }
        table
    }

    fn add_file_modules(&mut self, file: &SourceFile) {
        let inline = file.scan.inline_mods.iter();
        let paths = std::iter::once(Vec::new()).chain(inline.cloned());
        for ctx in paths {
            let info = self.mods.entry(concat(&file.module, &ctx)).or_default();
            info.owner = file.module.clone();
        }
        for (ctx, name) in &file.scan.items {
            let info = self.mods.entry(concat(&file.module, ctx)).or_default();
            info.items.insert(name.clone());
        }
    }

    fn add_aliases(&mut self, file: &SourceFile, plain: bool) {
        for leaf in &file.scan.uses {
            let is_plain = leaf.path.anchor == Anchor::Plain;
            if !leaf.item_level || is_plain != plain {
                continue;
            }
            let here = concat(&file.module, &leaf.path.ctx);
            let target = self.absolute(&leaf.path, &here);
            let Some(info) = self.mods.get_mut(&here) else {
                continue;
            };
            match &leaf.bind {
                UseBind::Name(name) => {
                    info.aliases.insert(name.clone(), target);
                }
                UseBind::Glob => info.globs.extend(target),
                UseBind::Hidden => {}
            }
        }
    }

    /// The absolute path (from the crate root) that `path`, written in
    /// module `here`, names; None if it names another crate.
    pub fn absolute(&self, path: &PathRef, here: &[String]) -> Option<Vec<String>> {
        match path.anchor {
            Anchor::Crate => Some(path.segs.clone()),
            Anchor::SelfMod => Some(concat(here, &path.segs)),
            Anchor::Super(n) => {
                let up = here.len().checked_sub(n)?;
                Some(concat(&here[..up], &path.segs))
            }
            Anchor::Extern => None,
            Anchor::Plain => {
                let first = path.segs.first()?;
                let info = self.mods.get(here)?;
                let mut child = here.to_vec();
                child.push(first.clone());
                if info.items.contains(first) || self.mods.contains_key(&child) {
                    return Some(concat(here, &path.segs));
                }
                let alias = info.aliases.get(first)?.as_ref()?;
                Some(concat(alias, &path.segs[1..]))
            }
        }
    }

    /// The file module that the absolute path `path` points into; None if
    /// it leads out of the crate (through a `use` of another crate).
    pub fn resolve(&self, path: &[String]) -> Option<Vec<String>> {
        self.resolve_module(path, 0)
            .and_then(|m| self.mods.get(&m))
            .map(|info| info.owner.clone())
    }

    /// The (file or inline) module that `path` points into.
    fn resolve_module(&self, path: &[String], hops: usize) -> Option<Vec<String>> {
        let known = (0..=path.len())
            .rev()
            .find(|&k| self.mods.contains_key(&path[..k]))
            .unwrap_or(0);
        let (module, rest) = path.split_at(known);
        let (Some(name), Some(info)) = (rest.first(), self.mods.get(module)) else {
            return Some(module.to_vec());
        };
        if info.items.contains(name) || hops >= ALIAS_HOPS_MAX {
            return Some(module.to_vec());
        }
        if let Some(alias) = info.aliases.get(name) {
            let alias = alias.as_ref()?;
            return self.resolve_module(&concat(alias, &rest[1..]), hops + 1);
        }
        for glob in &info.globs {
            let Some(from) = self.resolve_module(glob, hops + 1) else {
                continue;
            };
            let provides = self
                .mods
                .get(&from)
                .is_some_and(|g| g.items.contains(name) || g.aliases.contains_key(name));
            if provides && from != module {
                return self.resolve_module(&concat(&from, rest), hops + 1);
            }
        }
        Some(module.to_vec())
    }
}

fn concat(a: &[String], b: &[String]) -> Vec<String> {
    a.iter().chain(b).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads from an in-memory list of (path, source).
    fn reader(files: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |path| {
            let found = files.iter().find(|(p, _)| *p == path);
            found.map(|(_, text)| text.to_string())
        }
    }

    fn modules(target: &Target) -> Vec<(String, String)> {
        let files = target.files.iter();
        files
            .map(|f| (f.rel_path.clone(), module_name(&f.module)))
            .collect()
    }

    fn path(p: &str) -> Vec<String> {
        p.split("::").map(str::to_string).collect()
    }

    #[test]
    fn follows_mod_declarations() {
        static FILES: &[(&str, &str)] = &[
            (
                "src/lib.rs",
                "mod a; pub mod b; mod inline { mod deep; }\n#[cfg(test)] mod tests; mod gone;",
            ),
            ("src/a.rs", "mod child;"),
            ("src/a/child.rs", ""),
            ("src/b/mod.rs", "mod c;"),
            ("src/b/c.rs", ""),
            ("src/inline/deep.rs", ""),
            ("src/tests.rs", "this file is test code"),
            ("src/orphan.rs", "no mod declares this file"),
        ];
        let read = reader(FILES);
        let target = load_target("src/lib.rs", &read).expect("root exists");
        assert_eq!(
            modules(&target),
            [
                ("src/lib.rs", "crate"),
                ("src/a.rs", "a"),
                ("src/b/mod.rs", "b"),
                ("src/inline/deep.rs", "inline::deep"),
                ("src/a/child.rs", "a::child"),
                ("src/b/c.rs", "b::c"),
            ]
            .map(|(p, m)| (p.to_string(), m.to_string()))
        );
        assert_eq!(target.warnings.len(), 1, "{:?}", target.warnings);
        assert!(target.warnings[0].contains("mod gone"));
        assert!(load_target("src/main.rs", &read).is_none());
    }

    #[test]
    fn resolves_through_reexports_globs_and_inline_modules() {
        static FILES: &[(&str, &str)] = &[
            ("src/lib.rs", "mod store; mod wal; mod util;\npub use store::Store;\npub use util::*;\npub type Ts = u64;\nuse std::sync::Arc;"),
            ("src/store.rs", "pub struct Store;"),
            ("src/wal.rs", "mod kind { pub const PUT: u8 = 1; }\nuse crate::store as s;"),
            ("src/util.rs", "pub fn helper() {}"),
        ];
        let read = reader(FILES);
        let target = load_target("src/lib.rs", &read).expect("root exists");
        let table = ModuleTable::new(&target);
        let resolve = |p: &str| table.resolve(&path(p)).map(|m| module_name(&m));
        assert_eq!(resolve("Store").as_deref(), Some("store"));
        assert_eq!(resolve("store::Store::new").as_deref(), Some("store"));
        assert_eq!(resolve("Ts").as_deref(), Some("crate"));
        assert_eq!(resolve("helper").as_deref(), Some("util"));
        assert_eq!(resolve("wal::kind::PUT").as_deref(), Some("wal"));
        assert_eq!(resolve("wal::s::Store").as_deref(), Some("store"));
        assert_eq!(resolve("Arc"), None);
        assert_eq!(resolve("Unknown").as_deref(), Some("crate"));
    }
}
