//! Per-file syntax facts for the module checks: which modules a file
//! declares, which items it defines, which `use` trees and `crate::` /
//! `super::` / `self::` paths it contains (in `use` lines and in code), and
//! where each `fn` body starts and ends.
//!
//! Test code is skipped whole: an item, field or statement under
//! `#[cfg(test)]` (or `cfg(all(test, ..))`, or `#[test]`), and a file that
//! opens with `#![cfg(test)]`. Comments and literals never reach here (see
//! `lexer.rs`). The scanner never fails; on input it does not understand it
//! moves one token on, so a strange file can lose facts but not hang.
//!
//! Paths are recorded as written (`super::x::Y` is `Super(1)` + `[x, Y]`),
//! together with the inline modules around them; `tree.rs` resolves them.

use crate::lexer::{lex, Comment, Tok, Token};

/// What a recorded path starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchor {
    /// `crate::` (or `$crate::` inside a macro).
    Crate,
    /// `super::` repeated this many times (`self::super::` counts as one).
    Super(usize),
    /// `self::`
    SelfMod,
    /// A plain first segment (`use foo::bar`): a child module, an item of
    /// the current module, or another crate.
    Plain,
    /// `::foo`: always another crate.
    Extern,
}

/// One path: its anchor, the segments after it, the inline modules it sits
/// in (relative to its file), and its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRef {
    pub ctx: Vec<String>,
    pub anchor: Anchor,
    pub segs: Vec<String>,
    pub line: usize,
}

/// The name a `use` leaf brings into scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UseBind {
    /// `use a::b;` binds `b`; `use a::b as c;` binds `c`; `use a::{self}` binds `a`.
    Name(String),
    /// `use a::*;`
    Glob,
    /// `use a::Trait as _;`
    Hidden,
}

/// One leaf of a `use` tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseLeaf {
    pub path: PathRef,
    pub bind: UseBind,
    /// True if the `use` is a module item (not inside a fn, impl or block),
    /// so other modules can name what it binds.
    pub item_level: bool,
}

/// `mod name;` — a module whose body is another file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModDecl {
    pub ctx: Vec<String>,
    pub name: String,
    /// True if a `#[path = ..]` attribute moves its file (not followed).
    pub has_path_attr: bool,
    pub line: usize,
}

/// One `fn` with a body. Lines are 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FnSpan {
    /// `Type::method`, `<Type as Trait>::method`, `inline_mod::f`, `outer::inner`.
    pub name: String,
    /// The line of the `fn` keyword.
    pub line: usize,
    /// The lines of the body's `{` and `}`.
    pub body_start: usize,
    pub body_end: usize,
    /// The reason given by a `// long: <reason>` comment above the fn.
    pub long_reason: Option<String>,
}

impl FnSpan {
    /// Lines from the body's `{` to its `}`, both included.
    pub fn body_lines(&self) -> usize {
        self.body_end.saturating_sub(self.body_start) + 1
    }
}

/// Everything `scan` found in one file (test code left out).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FileScan {
    pub mod_decls: Vec<ModDecl>,
    /// Inline modules (`mod k { .. }`), as paths relative to the file.
    pub inline_mods: Vec<Vec<String>>,
    /// Names defined at module level: (inline modules around it, name).
    pub items: Vec<(Vec<String>, String)>,
    pub uses: Vec<UseLeaf>,
    /// Paths outside `use` declarations.
    pub refs: Vec<PathRef>,
    pub fns: Vec<FnSpan>,
    /// The file opens with `#![cfg(test)]`; everything else is empty then.
    pub test_only: bool,
}

/// The marker that excuses a long function: a comment above it whose text
/// starts with this, followed by the reason.
pub const LONG_MARKER: &str = "long:";

/// Scans one file's source.
pub fn scan(src: &str) -> FileScan {
    let toks = lex(src);
    let mut scanner = Scanner {
        toks: &toks,
        pos: 0,
        stack: Vec::new(),
        out: FileScan::default(),
        path_attr_pending: false,
    };
    while scanner.pos < toks.len() {
        scanner.step();
    }
    if scanner.out.test_only {
        return FileScan {
            test_only: true,
            ..FileScan::default()
        };
    }
    scanner.out
}

/// What an open `{` belongs to.
enum Frame {
    Mod(String),
    Impl(String),
    Trait(String),
    Fn { name: String, index: usize },
    Block,
}

struct Scanner<'a> {
    toks: &'a [Token],
    pos: usize,
    stack: Vec<Frame>,
    out: FileScan,
    path_attr_pending: bool,
}

const FN_QUALIFIERS: [&str; 6] = ["pub", "const", "async", "unsafe", "extern", "default"];

impl<'a> Scanner<'a> {
    fn at(&self, i: usize) -> Option<&'a Token> {
        self.toks.get(i)
    }

    fn ident_at(&self, i: usize) -> Option<&'a str> {
        self.at(i).and_then(Token::ident)
    }

    fn punct_at(&self, i: usize, c: char) -> bool {
        self.at(i).is_some_and(|t| t.is_punct(c))
    }

    fn path_sep_at(&self, i: usize) -> bool {
        self.at(i).is_some_and(|t| t.tok == Tok::PathSep)
    }

    /// The inline modules around the current position.
    fn ctx(&self) -> Vec<String> {
        let mods = self.stack.iter().filter_map(|f| match f {
            Frame::Mod(name) => Some(name.clone()),
            _ => None,
        });
        mods.collect()
    }

    /// True outside every fn, impl, trait and block.
    fn item_level(&self) -> bool {
        self.stack.iter().all(|f| matches!(f, Frame::Mod(_)))
    }

    fn line(&self) -> usize {
        self.at(self.pos).map_or(0, |t| t.line)
    }

    fn step(&mut self) {
        let Some(tok) = self.at(self.pos) else {
            return;
        };
        match &tok.tok {
            Tok::Punct('#') => self.attributes(),
            Tok::Punct('{') => {
                self.stack.push(Frame::Block);
                self.pos += 1;
            }
            Tok::Punct('}') => self.close_brace(),
            Tok::Ident(word) => match word.as_str() {
                "mod" => self.module(),
                "use" => self.use_decl(),
                "fn" => self.function(),
                "impl" => self.impl_block(),
                "trait" => self.trait_block(),
                "struct" | "enum" | "union" | "type" | "static" | "const" | "macro_rules" => {
                    self.item_name();
                    self.pos += 1;
                }
                "pub" => self.visibility(),
                _ => self.path_or_next(),
            },
            _ => self.path_or_next(),
        }
    }

    /// Records a path if one starts here, else moves one token on.
    fn path_or_next(&mut self) {
        if !self.try_path_ref() {
            self.pos += 1;
        }
    }

    fn close_brace(&mut self) {
        if let Some(Frame::Fn { index, .. }) = self.stack.pop() {
            let line = self.line();
            if let Some(f) = self.out.fns.get_mut(index) {
                f.body_end = line;
            }
        }
        self.pos += 1;
    }

    /// `pub(crate)`, `pub(in crate::x)`: skipped, so the path in `in ..` is
    /// not taken for a reference.
    fn visibility(&mut self) {
        self.pos += 1;
        if self.punct_at(self.pos, '(') {
            self.pos = self.after_group(self.pos);
        }
    }

    /// The index after the bracket group opening at `open`.
    fn after_group(&self, open: usize) -> usize {
        let mut depth = 0usize;
        let mut i = open;
        while let Some(t) = self.at(i) {
            match t.tok {
                Tok::Punct('(' | '[' | '{') => depth += 1,
                Tok::Punct(')' | ']' | '}') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        i
    }

    /// One or more attributes. Test-only ones make the next item skipped.
    fn attributes(&mut self) {
        let mut test_only = false;
        while self.punct_at(self.pos, '#') {
            let inner = self.punct_at(self.pos + 1, '!');
            let open = self.pos + if inner { 2 } else { 1 };
            if !self.punct_at(open, '[') {
                self.pos += 1;
                return;
            }
            let end = self.after_group(open);
            let body = &self.toks[open + 1..end.saturating_sub(1).max(open + 1)];
            match attribute_kind(body) {
                AttrKind::TestOnly if inner && self.stack.is_empty() => self.out.test_only = true,
                AttrKind::TestOnly => test_only |= !inner,
                AttrKind::Path => self.path_attr_pending = true,
                AttrKind::Other => {}
            }
            self.pos = end;
        }
        if test_only {
            self.skip_item();
        }
    }

    /// Skips the item, statement, field or arm that starts here: up to a `;`
    /// or `,` outside brackets, or the end of its first `{ .. }`, or just
    /// before the `}` that closes what it sits in.
    fn skip_item(&mut self) {
        let mut depth = 0usize;
        while let Some(t) = self.at(self.pos) {
            match t.tok {
                Tok::Punct('(' | '[' | '{') => depth += 1,
                Tok::Punct(')' | ']' | '}') => {
                    if depth == 0 {
                        return;
                    }
                    depth -= 1;
                    if depth == 0 && t.is_punct('}') {
                        self.pos += 1;
                        return;
                    }
                }
                Tok::Punct(';' | ',') if depth == 0 => {
                    self.pos += 1;
                    return;
                }
                _ => {}
            }
            self.pos += 1;
        }
    }

    /// `struct X`, `const X`, `macro_rules! x`...: records the name when at
    /// module level. `pos` stays on the keyword.
    fn item_name(&mut self) {
        let mut i = self.pos + 1;
        if self.punct_at(i, '!') || self.ident_at(i) == Some("mut") {
            i += 1;
        }
        let Some(name) = self.ident_at(i) else {
            return;
        };
        let is_fn_qualifier = FN_QUALIFIERS.contains(&name) || name == "fn";
        if name != "_" && !is_fn_qualifier && self.item_level() {
            let item = (self.ctx(), name.to_string());
            self.out.items.push(item);
        }
    }

    /// `mod x;` or `mod x { .. }`.
    fn module(&mut self) {
        let Some(name) = self.ident_at(self.pos + 1).map(str::to_string) else {
            self.pos += 1;
            return;
        };
        let line = self.line();
        let has_path_attr = std::mem::take(&mut self.path_attr_pending);
        if self.item_level() {
            self.out.items.push((self.ctx(), name.clone()));
        }
        if self.punct_at(self.pos + 2, ';') {
            let ctx = self.ctx();
            self.out.mod_decls.push(ModDecl {
                ctx,
                name,
                has_path_attr,
                line,
            });
            self.pos += 3;
        } else if self.punct_at(self.pos + 2, '{') {
            let mut path = self.ctx();
            path.push(name.clone());
            self.out.inline_mods.push(path);
            self.stack.push(Frame::Mod(name));
            self.pos += 3;
        } else {
            self.pos += 2;
        }
    }

    /// A path starting with `crate`, `$crate`, `super` or `self` followed by
    /// `::`. Records it and moves past it; false if none starts here.
    fn try_path_ref(&mut self) -> bool {
        let mut start = self.pos;
        if self.punct_at(start, '$') && self.ident_at(start + 1) == Some("crate") {
            start += 1;
        }
        let starts_path = matches!(self.ident_at(start), Some("crate" | "super" | "self"));
        if !starts_path || !self.path_sep_at(start + 1) {
            return false;
        }
        let line = self.line();
        let mut raw = vec![self.ident_at(start).unwrap_or_default().to_string()];
        let mut i = start + 1;
        while self.path_sep_at(i) {
            let Some(seg) = self.ident_at(i + 1) else {
                break;
            };
            raw.push(seg.to_string());
            i += 2;
        }
        let path = to_path_ref(raw, self.ctx(), line);
        self.out.refs.push(path);
        self.pos = i;
        true
    }

    /// `use tree;` — every leaf is recorded.
    fn use_decl(&mut self) {
        let line = self.line();
        self.pos += 1;
        let mut leaves = Vec::new();
        self.use_tree(Vec::new(), &mut leaves);
        if self.punct_at(self.pos, ';') {
            self.pos += 1;
        }
        let (ctx, item_level) = (self.ctx(), self.item_level());
        for (raw, bind) in leaves {
            let path = to_path_ref(raw, ctx.clone(), line);
            self.out.uses.push(UseLeaf {
                path,
                bind,
                item_level,
            });
        }
    }

    /// One use tree after `prefix`: `a::b`, `a::b as c`, `a::*`, `a::{..}`.
    /// Stops before the `,`, `}` or `;` that ends it.
    fn use_tree(&mut self, prefix: Vec<String>, leaves: &mut Vec<(Vec<String>, UseBind)>) {
        let mut segs = prefix;
        while let Some(t) = self.at(self.pos) {
            match &t.tok {
                Tok::PathSep => {
                    if segs.is_empty() {
                        segs.push("::".to_string());
                    }
                    self.pos += 1;
                }
                Tok::Punct('*') => {
                    self.pos += 1;
                    leaves.push((segs, UseBind::Glob));
                    return;
                }
                Tok::Punct('{') => {
                    self.pos += 1;
                    self.use_group(&segs, leaves);
                    return;
                }
                Tok::Ident(word) if word == "as" => {
                    let alias = self.ident_at(self.pos + 1).unwrap_or("_").to_string();
                    self.pos += 2;
                    let bind = match alias.as_str() {
                        "_" => UseBind::Hidden,
                        _ => UseBind::Name(alias),
                    };
                    leaves.push((segs, bind));
                    return;
                }
                Tok::Ident(word) => {
                    segs.push(word.clone());
                    self.pos += 1;
                }
                _ => break,
            }
        }
        if let Some(last) = segs.iter().rev().find(|s| *s != "self") {
            let bind = UseBind::Name(last.clone());
            leaves.push((segs, bind));
        }
    }

    /// The inside of `{ .. }` in a use tree; `pos` is after the `{`.
    fn use_group(&mut self, prefix: &[String], leaves: &mut Vec<(Vec<String>, UseBind)>) {
        while let Some(t) = self.at(self.pos) {
            if t.is_punct('}') {
                self.pos += 1;
                return;
            }
            if t.is_punct(',') || t.is_punct(';') {
                self.pos += 1;
                continue;
            }
            let before = self.pos;
            self.use_tree(prefix.to_vec(), leaves);
            if self.pos == before {
                self.pos += 1;
            }
        }
    }

    /// `fn name ... { body }`: records the span and enters the body.
    fn function(&mut self) {
        let fn_pos = self.pos;
        let Some(name) = self.ident_at(fn_pos + 1).map(str::to_string) else {
            self.pos += 1; // a `fn(u8) -> u8` pointer type
            return;
        };
        if self.item_level() {
            self.out.items.push((self.ctx(), name.clone()));
        }
        let long_reason = self.long_reason(fn_pos);
        self.pos = fn_pos + 2;
        if !self.skip_to_body() {
            return;
        }
        let qualified = self.qualified(&name);
        let (line, body_line) = (self.toks[fn_pos].line, self.line());
        self.out.fns.push(FnSpan {
            name: qualified,
            line,
            body_start: body_line,
            body_end: body_line,
            long_reason,
        });
        let index = self.out.fns.len() - 1;
        self.stack.push(Frame::Fn { name, index });
        self.pos += 1;
    }

    /// Moves over a signature or header (recording its paths) to the `{`
    /// that opens the body, and returns true; or past a `;` (no body) and
    /// returns false.
    fn skip_to_body(&mut self) -> bool {
        let mut depth = 0usize;
        while let Some(t) = self.at(self.pos) {
            match t.tok {
                Tok::Punct('(' | '[') => depth += 1,
                Tok::Punct(')' | ']') => depth = depth.saturating_sub(1),
                Tok::Punct('{') if depth == 0 => return true,
                Tok::Punct(';') if depth == 0 => {
                    self.pos += 1;
                    return false;
                }
                Tok::Punct('}') if depth == 0 => return false,
                _ => {}
            }
            self.path_or_next();
        }
        false
    }

    /// `name` qualified by the impls, traits, inline modules and fns around it.
    fn qualified(&self, name: &str) -> String {
        let mut parts: Vec<&str> = self
            .stack
            .iter()
            .filter_map(|f| match f {
                Frame::Mod(n) | Frame::Impl(n) | Frame::Trait(n) => Some(n.as_str()),
                Frame::Fn { name: f, .. } => Some(f.as_str()),
                Frame::Block => None,
            })
            .collect();
        parts.push(name);
        parts.join("::")
    }

    /// The reason in a `long:` comment among the doc comments, comments and
    /// attributes right above the `fn` at `fn_pos` (or between its
    /// qualifiers).
    fn long_reason(&self, fn_pos: usize) -> Option<String> {
        let mut first = fn_pos;
        while first > 0 {
            let prev = &self.toks[first - 1];
            let keep = match &prev.tok {
                Tok::Ident(w) => FN_QUALIFIERS.contains(&w.as_str()).then_some(first - 1),
                Tok::Literal => Some(first - 1), // extern "C"
                Tok::Punct(')') => self
                    .open_before(first - 1, '(', ')')
                    .filter(|&open| open > 0 && self.toks[open - 1].is_ident("pub")),
                Tok::Punct(']') => self
                    .open_before(first - 1, '[', ']')
                    .filter(|&open| open > 0 && self.toks[open - 1].is_punct('#'))
                    .map(|open| open - 1),
                _ => None,
            };
            match keep {
                Some(i) => first = i,
                None => break,
            }
        }
        // A trailing comment on the line of the token before (`} // ..`)
        // belongs to that token, not to this fn.
        let before_line = first.checked_sub(1).map_or(0, |i| self.toks[i].line);
        let comments = self.toks[first..=fn_pos].iter().flat_map(|t| &t.comments);
        comments
            .filter(|c| c.line > before_line)
            .filter_map(long_marker_reason)
            .next()
    }

    /// The index of the `open` bracket matching the `close` at `close_pos`.
    fn open_before(&self, close_pos: usize, open: char, close: char) -> Option<usize> {
        let mut depth = 0usize;
        let mut i = close_pos;
        loop {
            let t = &self.toks[i];
            if t.is_punct(close) {
                depth += 1;
            } else if t.is_punct(open) {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            i = i.checked_sub(1)?;
        }
    }

    /// `impl<..> [Trait for] Type [where ..] {`: enters the block, named
    /// `Type` or `<Type as Trait>`.
    fn impl_block(&mut self) {
        self.pos += 1;
        let header_start = self.pos;
        if !self.skip_to_body() {
            return;
        }
        let header = &self.toks[header_start..self.pos];
        let name = impl_name(header);
        self.stack.push(Frame::Impl(name));
        self.pos += 1;
    }

    /// `trait Name ... {`: enters the block, named `Name`.
    fn trait_block(&mut self) {
        let Some(name) = self.ident_at(self.pos + 1).map(str::to_string) else {
            self.pos += 1;
            return;
        };
        if self.item_level() {
            self.out.items.push((self.ctx(), name.clone()));
        }
        self.pos += 2;
        if self.skip_to_body() {
            self.stack.push(Frame::Trait(name));
            self.pos += 1;
        }
    }
}

enum AttrKind {
    TestOnly,
    Path,
    Other,
}

/// What the tokens inside `#[ .. ]` mean to the scanner.
fn attribute_kind(body: &[Token]) -> AttrKind {
    let first = body.first().and_then(Token::ident);
    let open = body.get(1).is_some_and(|t| t.is_punct('('));
    match first {
        Some("test") if body.len() == 1 => AttrKind::TestOnly,
        Some("cfg") if open && test_only_predicate(body, 2).0 => AttrKind::TestOnly,
        Some("path") if body.get(1).is_some_and(|t| t.is_punct('=')) => AttrKind::Path,
        _ => AttrKind::Other,
    }
}

/// Parses the cfg predicate at `i`: whether it can hold only in test builds
/// (`test`, `all(test, ..)`, `any(test, all(test, x))`), and the index after it.
fn test_only_predicate(toks: &[Token], i: usize) -> (bool, usize) {
    let word = toks.get(i).and_then(Token::ident);
    let call = toks.get(i + 1).is_some_and(|t| t.is_punct('('));
    match word {
        Some(op @ ("all" | "any" | "not")) if call => {
            let mut j = i + 2;
            let mut parts = Vec::new();
            while j < toks.len() && !toks[j].is_punct(')') {
                let (part, next) = test_only_predicate(toks, j);
                parts.push(part);
                j = next.max(j + 1);
            }
            let holds = match op {
                "all" => parts.iter().any(|p| *p),
                "any" => !parts.is_empty() && parts.iter().all(|p| *p),
                _ => false,
            };
            (holds, j + 1)
        }
        _ => {
            let mut j = i;
            while j < toks.len() && !toks[j].is_punct(',') && !toks[j].is_punct(')') {
                j += 1;
            }
            let is_test = word == Some("test") && j == i + 1;
            if toks.get(j).is_some_and(|t| t.is_punct(',')) {
                j += 1;
            }
            (is_test, j)
        }
    }
}

/// Turns `[crate, a, b]`, `[super, super, a]`, `[self, a]`, `[::, a]` or
/// `[a, b]` into an anchor and the segments after it. A trailing `self`
/// (from `use a::{self}`) is dropped.
fn to_path_ref(mut raw: Vec<String>, ctx: Vec<String>, line: usize) -> PathRef {
    if raw.len() > 1 && raw.last().is_some_and(|s| s == "self") {
        raw.pop();
    }
    let first = raw.first().map(String::as_str).unwrap_or_default();
    let (anchor, skip) = match first {
        "::" => (Anchor::Extern, 1),
        "crate" | "$crate" => (Anchor::Crate, 1),
        "self" | "super" => {
            let skip_self = usize::from(first == "self");
            let supers = raw[skip_self..]
                .iter()
                .take_while(|s| *s == "super")
                .count();
            let anchor = if supers > 0 {
                Anchor::Super(supers)
            } else {
                Anchor::SelfMod
            };
            (anchor, skip_self + supers)
        }
        _ => (Anchor::Plain, 0),
    };
    PathRef {
        ctx,
        anchor,
        segs: raw.split_off(skip.min(raw.len())),
        line,
    }
}

/// `Type` or `<Type as Trait>` from the tokens after `impl`.
fn impl_name(header: &[Token]) -> String {
    let mut depth = 0usize;
    let mut split = None;
    let mut end = header.len();
    for (i, t) in header.iter().enumerate() {
        match &t.tok {
            Tok::Punct('<' | '(' | '[') => depth += 1,
            Tok::Punct('>' | ')' | ']') => depth = depth.saturating_sub(1),
            Tok::Ident(w) if depth == 0 && w == "where" => {
                end = i;
                break;
            }
            Tok::Ident(w) if depth == 0 && w == "for" => {
                let hrtb = header.get(i + 1).is_some_and(|n| n.is_punct('<'));
                if !hrtb && split.is_none() {
                    split = Some(i);
                }
            }
            _ => {}
        }
    }
    match split {
        Some(s) => format!(
            "<{} as {}>",
            path_name(&header[s + 1..end]),
            path_name(&header[..s])
        ),
        None => path_name(&header[..end]),
    }
}

/// The last segment of the first path in `toks` outside `<..>` (`fmt::Display`
/// gives `Display`, `&'a mut Foo<T>` gives `Foo`), or `_`.
fn path_name(toks: &[Token]) -> String {
    const SKIP: [&str; 4] = ["dyn", "mut", "const", "unsafe"];
    let mut depth = 0usize;
    let mut name: Option<&str> = None;
    for (i, t) in toks.iter().enumerate() {
        match &t.tok {
            Tok::Punct('<') => depth += 1,
            Tok::Punct('>') => depth = depth.saturating_sub(1),
            Tok::Ident(w) if depth == 0 && !SKIP.contains(&w.as_str()) => {
                let continues = name.is_some() && i > 0 && toks[i - 1].tok == Tok::PathSep;
                if name.is_none() || continues {
                    name = Some(w);
                } else {
                    break;
                }
            }
            _ if name.is_some() && depth == 0 && t.tok != Tok::PathSep => break,
            _ => {}
        }
    }
    name.unwrap_or("_").to_string()
}

/// The reason in a `// long: <reason>` (or `/// long: ..`) comment.
fn long_marker_reason(comment: &Comment) -> Option<String> {
    let text = comment
        .text
        .trim_start_matches(['/', '*', '!'])
        .trim_start();
    let reason = text.strip_prefix(LONG_MARKER)?;
    let reason = reason.trim().trim_end_matches("*/").trim();
    (!reason.is_empty()).then(|| reason.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &PathRef) -> String {
        p.segs.join("::")
    }

    #[test]
    fn grouped_and_nested_use_trees() {
        let src = "use crate::{a, b::{c, d as e, self}, f::*};\nuse super::super::g;";
        let scan = scan(src);
        let leaves: Vec<(String, UseBind, Anchor)> = scan
            .uses
            .iter()
            .map(|u| (segs(&u.path), u.bind.clone(), u.path.anchor.clone()))
            .collect();
        let name = |s: &str| UseBind::Name(s.to_string());
        assert_eq!(
            leaves,
            [
                ("a".to_string(), name("a"), Anchor::Crate),
                ("b::c".to_string(), name("c"), Anchor::Crate),
                ("b::d".to_string(), name("e"), Anchor::Crate),
                ("b".to_string(), name("b"), Anchor::Crate),
                ("f".to_string(), UseBind::Glob, Anchor::Crate),
                ("g".to_string(), name("g"), Anchor::Super(2)),
            ]
        );
        assert!(scan.uses.iter().all(|u| u.item_level));
        assert_eq!(scan.uses[5].path.line, 2);
    }

    #[test]
    fn paths_in_code_signatures_and_macros() {
        let src = "\
fn f(x: crate::a::T) -> super::b::U {
  let y = self::c::g();
  $crate::d::h!();
  Self::new()
}";
        let scan = scan(src);
        let refs: Vec<(Anchor, String)> = scan
            .refs
            .iter()
            .map(|r| (r.anchor.clone(), segs(r)))
            .collect();
        assert_eq!(
            refs,
            [
                (Anchor::Crate, "a::T".to_string()),
                (Anchor::Super(1), "b::U".to_string()),
                (Anchor::SelfMod, "c::g".to_string()),
                (Anchor::Crate, "d::h".to_string()),
            ]
        );
        assert_eq!(scan.refs[2].line, 2);
    }

    #[test]
    fn visibility_paths_are_not_references() {
        let scan = scan("pub(in crate::a) fn f() {}\npub(crate) struct S;");
        assert!(scan.refs.is_empty(), "{:?}", scan.refs);
        assert_eq!(scan.items.len(), 2);
    }

    #[test]
    fn cfg_test_code_is_skipped() {
        let src = r#"
            #[cfg(test)]
            mod tests { use crate::a::X; fn helper() { crate::b::f(); } }
            #[cfg(all(test, feature = "simd"))]
            use crate::c;
            #[cfg(any(test, feature = "fuzzing"))]
            use crate::kept;
            struct S {
                #[cfg(test)]
                hook: crate::d::Hook,
                field: crate::e::E,
            }
            #[test]
            fn t() { crate::f::g(); }
            #[cfg(test)]
            mod more;
            #[cfg(not(test))]
            fn real() { crate::h::i(); }
        "#;
        let scan = scan(src);
        let mut seen: Vec<String> = scan.uses.iter().map(|u| segs(&u.path)).collect();
        seen.extend(scan.refs.iter().map(segs));
        assert_eq!(seen, ["kept", "e::E", "h::i"]);
        assert!(scan.mod_decls.is_empty());
        let fns: Vec<&str> = scan.fns.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(fns, ["real"]);
    }

    #[test]
    fn test_only_file() {
        let scan = scan("#![cfg(test)]\nuse crate::a;\nfn f() {}");
        assert!(scan.test_only);
        assert!(scan.uses.is_empty() && scan.fns.is_empty());
    }

    #[test]
    fn modules_inline_and_out_of_line() {
        let src =
            "mod a;\npub mod b {\n  pub(crate) mod c;\n  mod d { use super::super::a::X; }\n}\n";
        let scan = scan(src);
        let decls: Vec<(Vec<String>, String)> = scan
            .mod_decls
            .iter()
            .map(|d| (d.ctx.clone(), d.name.clone()))
            .collect();
        assert_eq!(
            decls,
            [
                (vec![], "a".to_string()),
                (vec!["b".to_string()], "c".to_string()),
            ]
        );
        assert_eq!(scan.inline_mods, [vec!["b"], vec!["b", "d"]]);
        let use_leaf = &scan.uses[0];
        assert_eq!(use_leaf.path.ctx, ["b", "d"]);
        assert_eq!(use_leaf.path.anchor, Anchor::Super(2));
    }

    #[test]
    fn fn_names_spans_and_local_uses() {
        let src = "\
impl<T> fmt::Display for Wrap<T> {
  fn fmt(&self) {
    use crate::x::Y;
  }
}
impl Plain { fn new() -> Self { Plain } }
trait Tr { fn req(&self); fn prov(&self) {
} }
mod m { fn outer() { fn inner() {} } }";
        let scan = scan(src);
        let fns: Vec<(&str, usize, usize)> = scan
            .fns
            .iter()
            .map(|f| (f.name.as_str(), f.body_start, f.body_end))
            .collect();
        assert_eq!(
            fns,
            [
                ("<Wrap as Display>::fmt", 2, 4),
                ("Plain::new", 6, 6),
                ("Tr::prov", 7, 8),
                ("m::outer", 9, 9),
                ("m::outer::inner", 9, 9),
            ]
        );
        assert!(!scan.uses[0].item_level);
        let items: Vec<&str> = scan.items.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(items, ["Tr", "m", "outer"]);
    }

    #[test]
    fn long_marker_above_fn() {
        let src = "\
/// Decodes a record.
///
/// long: one match mirrors the record format
#[inline]
pub(crate) fn decode() {}

// long:
fn empty_reason() {}

// this is long: not a marker
fn prose() {}

// long: a hot loop
// more words
#[allow(clippy::x)]
const unsafe fn hot() {}
fn after() {} // long: trailing, about after()
fn next() {}";
        let scan = scan(src);
        let reasons: Vec<(&str, Option<&str>)> = scan
            .fns
            .iter()
            .map(|f| (f.name.as_str(), f.long_reason.as_deref()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("decode", Some("one match mirrors the record format")),
                ("empty_reason", None),
                ("prose", None),
                ("hot", Some("a hot loop")),
                ("after", None),
                ("next", None),
            ]
        );
    }

    #[test]
    fn strange_input_does_not_hang() {
        for src in [
            "use",
            "use crate::{",
            "fn",
            "impl",
            "#[",
            "mod x",
            "}}}",
            "use a::{#}",
        ] {
            let _ = scan(src);
        }
        assert_eq!(scan("}} fn f() {}").fns.len(), 1);
    }
}
