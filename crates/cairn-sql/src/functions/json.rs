//! JSON functions in SQLite's style: `json`, `json_valid`, `json_extract`,
//! `json_type`, `json_array_length`, `json_array`, `json_object`,
//! `json_quote`, `json_set`/`json_insert`/`json_replace`/`json_remove`,
//! `json_patch`, and the evaluators of the `->` and `->>` operators
//! ([`json_arrow`], [`json_arrow_text`]).
//!
//! Documents are parsed by a small strict RFC 8259 parser of our own that
//! keeps object member order and duplicate keys and keeps numbers and string
//! escapes exactly as written, so `json()` minifies without rewriting values
//! (as SQLite does). Paths use SQLite's syntax: `$`, `.key`, `."quoted key"`,
//! `[N]`, `[#]`, `[#-N]`. Malformed JSON and bad paths are type errors;
//! a path that selects nothing gives NULL.

use std::sync::Arc;

use cairn_core::value::{format_real, Value};
use cairn_core::{Error, Result};

use super::{arg, text_of, too_big, MAX_LENGTH};

/// Deepest nesting accepted by the parser (SQLite's limit).
pub const MAX_DEPTH: usize = 1000;

/// A parsed JSON value. Numbers keep their source text; strings keep their
/// source text between the quotes, escapes included.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Null,
    True,
    False,
    Num(String),
    Str(String),
    Arr(Vec<Node>),
    Obj(Vec<(String, Node)>),
}

fn malformed() -> Error {
    Error::type_err("malformed JSON")
}

fn path_error(path: &str) -> Error {
    Error::type_err(format!("bad JSON path: '{path}'"))
}

// ---------------------------------------------------------------------------
// Parsing and rendering
// ---------------------------------------------------------------------------

struct Parser<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while matches!(self.b.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.pos) == Some(&c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn literal(&mut self, word: &str, node: Node) -> Option<Node> {
        if self.b.get(self.pos..self.pos + word.len())? == word.as_bytes() {
            self.pos += word.len();
            Some(node)
        } else {
            None
        }
    }

    fn value(&mut self) -> Option<Node> {
        match *self.b.get(self.pos)? {
            b'{' => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return None;
                }
                self.pos += 1;
                let mut members = Vec::new();
                self.ws();
                if !self.eat(b'}') {
                    loop {
                        self.ws();
                        let key = self.string()?;
                        self.ws();
                        if !self.eat(b':') {
                            return None;
                        }
                        self.ws();
                        let v = self.value()?;
                        members.push((key, v));
                        self.ws();
                        if self.eat(b',') {
                            continue;
                        }
                        if self.eat(b'}') {
                            break;
                        }
                        return None;
                    }
                }
                self.depth -= 1;
                Some(Node::Obj(members))
            }
            b'[' => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return None;
                }
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if !self.eat(b']') {
                    loop {
                        self.ws();
                        items.push(self.value()?);
                        self.ws();
                        if self.eat(b',') {
                            continue;
                        }
                        if self.eat(b']') {
                            break;
                        }
                        return None;
                    }
                }
                self.depth -= 1;
                Some(Node::Arr(items))
            }
            b'"' => self.string().map(Node::Str),
            b't' => self.literal("true", Node::True),
            b'f' => self.literal("false", Node::False),
            b'n' => self.literal("null", Node::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// A string literal; returns the raw text between the quotes.
    fn string(&mut self) -> Option<String> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        loop {
            let c = *self.b.get(self.pos)?;
            match c {
                b'"' => break,
                0..=0x1f => return None,
                b'\\' => {
                    self.pos += 1;
                    match *self.b.get(self.pos)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 1,
                        b'u' => {
                            let hex = self.b.get(self.pos + 1..self.pos + 5)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.pos += 5;
                        }
                        _ => return None,
                    }
                }
                _ => self.pos += 1,
            }
        }
        let raw = self.src.get(start..self.pos)?.to_string();
        self.pos += 1;
        Some(raw)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.b.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Option<Node> {
        let start = self.pos;
        self.eat(b'-');
        if self.eat(b'0') {
            // No leading zeros.
        } else if self.digits() == 0 {
            return None;
        }
        if self.eat(b'.') && self.digits() == 0 {
            return None;
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(Node::Num(self.src.get(start..self.pos)?.to_string()))
    }
}

/// True when `s` is well-formed JSON text (RFC 8259, nesting up to
/// [`MAX_DEPTH`]).
pub fn is_valid_json(s: &str) -> bool {
    parse(s).is_some()
}

fn parse(s: &str) -> Option<Node> {
    let mut p = Parser {
        src: s,
        b: s.as_bytes(),
        pos: 0,
        depth: 0,
    };
    p.ws();
    let v = p.value()?;
    p.ws();
    (p.pos == s.len()).then_some(v)
}

fn render_into(n: &Node, out: &mut String) {
    match n {
        Node::Null => out.push_str("null"),
        Node::True => out.push_str("true"),
        Node::False => out.push_str("false"),
        Node::Num(r) => out.push_str(r),
        Node::Str(r) => {
            out.push('"');
            out.push_str(r);
            out.push('"');
        }
        Node::Arr(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                render_into(v, out);
            }
            out.push(']');
        }
        Node::Obj(members) => {
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('"');
                out.push_str(k);
                out.push_str("\":");
                render_into(v, out);
            }
            out.push('}');
        }
    }
}

fn render(n: &Node) -> String {
    let mut s = String::new();
    render_into(n, &mut s);
    s
}

fn json_result(n: &Node) -> Result<Value> {
    let s = render(n);
    if s.len() > MAX_LENGTH {
        return Err(too_big());
    }
    Ok(Value::Json(Arc::from(s)))
}

/// Escapes text as the inside of a JSON string literal.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Decodes the raw inside of a (validated) JSON string literal.
fn unescape(raw: &str) -> String {
    if !raw.contains('\\') {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    let hex4 = |chars: &mut std::str::Chars<'_>| -> Option<u32> {
        let s: String = chars.by_ref().take(4).collect();
        u32::from_str_radix(&s, 16).ok()
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let Some(hi) = hex4(&mut chars) else {
                    out.push('\u{FFFD}');
                    continue;
                };
                if (0xD800..0xDC00).contains(&hi) {
                    let mut look = chars.clone();
                    if look.next() == Some('\\') && look.next() == Some('u') {
                        if let Some(lo) = hex4(&mut look) {
                            if (0xDC00..0xE000).contains(&lo) {
                                let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                                out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                                chars = look;
                                continue;
                            }
                        }
                    }
                    out.push('\u{FFFD}');
                } else {
                    out.push(char::from_u32(hi).unwrap_or('\u{FFFD}'));
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

fn key_eq(raw: &str, key: &str) -> bool {
    if raw.contains('\\') {
        unescape(raw) == key
    } else {
        raw == key
    }
}

/// A REAL as JSON: SQLite's 15-digit form; infinities as `±9.0e+999`.
fn real_json(f: f64) -> String {
    if f.is_infinite() {
        if f > 0.0 {
            "9.0e+999".into()
        } else {
            "-9.0e+999".into()
        }
    } else {
        format_real(f)
    }
}

/// An SQL value as a JSON value: text becomes a JSON string, a JSON value is
/// embedded as is, blobs are an error.
fn value_to_node(v: &Value) -> Result<Node> {
    Ok(match v {
        Value::Null => Node::Null,
        Value::Boolean(true) => Node::True,
        Value::Boolean(false) => Node::False,
        Value::Integer(i) => Node::Num(i.to_string()),
        Value::Real(f) => Node::Num(real_json(*f)),
        Value::Json(s) => parse(s).unwrap_or_else(|| Node::Str(escape(s))),
        Value::Blob(_) => return Err(Error::type_err("JSON cannot hold BLOB values")),
        other => Node::Str(escape(&text_of(other).unwrap_or_default())),
    })
}

/// A JSON document argument: NULL → `None`; text must be well-formed JSON;
/// numbers and booleans are the JSON they spell.
fn doc_arg(v: &Value) -> Result<Option<Node>> {
    match v {
        Value::Null => Ok(None),
        Value::Text(s) | Value::Json(s) => parse(s).map(Some).ok_or_else(malformed),
        Value::Blob(_) => Err(Error::type_err("JSON cannot hold BLOB values")),
        Value::Integer(_) | Value::Real(_) | Value::Boolean(_) => value_to_node(v).map(Some),
        Value::Timestamp(_) => Err(malformed()),
        // A vector's text form is a JSON array of numbers.
        Value::Vector(_) | Value::HalfVec(_) => parse(&v.to_text().unwrap_or_default())
            .map(Some)
            .ok_or_else(malformed),
    }
}

/// A JSON number's SQL value: INTEGER when it is one and fits, else REAL.
fn number_value(raw: &str) -> Value {
    if !raw.contains(['.', 'e', 'E']) {
        if let Ok(i) = raw.parse::<i64>() {
            return Value::Integer(i);
        }
    }
    Value::real(raw.parse::<f64>().unwrap_or(0.0))
}

/// The SQL value of a JSON node (SQLite's `json_extract` rules): strings are
/// decoded text, true/false are 1/0, containers are JSON (as [`Value::Json`]
/// or, with `as_text`, as [`Value::Text`]).
fn node_to_sql(n: &Node, as_text: bool) -> Result<Value> {
    Ok(match n {
        Node::Null => Value::Null,
        Node::True => Value::Integer(1),
        Node::False => Value::Integer(0),
        Node::Num(r) => number_value(r),
        Node::Str(r) => Value::Text(Arc::from(unescape(r))),
        Node::Arr(_) | Node::Obj(_) => {
            if as_text {
                Value::Text(Arc::from(render(n)))
            } else {
                return json_result(n);
            }
        }
    })
}

fn type_name(n: &Node) -> &'static str {
    match n {
        Node::Null => "null",
        Node::True => "true",
        Node::False => "false",
        Node::Num(r) if r.contains(['.', 'e', 'E']) => "real",
        Node::Num(_) => "integer",
        Node::Str(_) => "text",
        Node::Arr(_) => "array",
        Node::Obj(_) => "object",
    }
}

// ---------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
    /// `[#-N]`; `[#]` is `FromEnd(0)`, one past the last element.
    FromEnd(usize),
}

/// The outcome of reading one path step against a node.
enum Next<'p> {
    /// The node cannot have this step (wrong container type); like SQLite,
    /// the rest of the path is then not examined.
    NotFound,
    Step(Step, &'p str),
}

/// Reads the first step of `rest` (the path after `$`) against `node`, in
/// SQLite's order: a `.key` is parsed before the node type is checked, an
/// `[index]` after.
fn next_step<'p>(rest: &'p str, node: &Node, full: &str) -> Result<Next<'p>> {
    let b = rest.as_bytes();
    match b.first() {
        Some(b'.') => {
            let (key, used) = if b.get(1) == Some(&b'"') {
                let mut i = 2;
                loop {
                    match b.get(i) {
                        None => return Err(path_error(full)),
                        Some(b'"') => break,
                        Some(b'\\') if b.get(i + 1).is_some() => i += 2,
                        Some(_) => i += 1,
                    }
                }
                (unescape(rest.get(2..i).unwrap_or("")), i + 1)
            } else {
                let mut i = 1;
                while b.get(i).is_some_and(|c| *c != b'.' && *c != b'[') {
                    i += 1;
                }
                if i == 1 {
                    return Err(path_error(full));
                }
                (rest.get(1..i).unwrap_or("").to_string(), i)
            };
            if !matches!(node, Node::Obj(_)) {
                return Ok(Next::NotFound);
            }
            Ok(Next::Step(Step::Key(key), rest.get(used..).unwrap_or("")))
        }
        Some(b'[') => {
            if !matches!(node, Node::Arr(_)) {
                return Ok(Next::NotFound);
            }
            let mut i = 1;
            let mut k: usize = 0;
            while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
                k = k.saturating_mul(10).saturating_add(usize::from(d - b'0'));
                i += 1;
            }
            let step = if i >= 2 && b.get(i) == Some(&b']') {
                Step::Index(k)
            } else if b.get(1) == Some(&b'#') {
                i = 2;
                let mut nn: usize = 0;
                if b.get(2) == Some(&b'-') && b.get(3).is_some_and(u8::is_ascii_digit) {
                    i = 3;
                    while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
                        nn = nn.saturating_mul(10).saturating_add(usize::from(d - b'0'));
                        i += 1;
                    }
                }
                if b.get(i) != Some(&b']') {
                    return Err(path_error(full));
                }
                Step::FromEnd(nn)
            } else {
                return Err(path_error(full));
            };
            Ok(Next::Step(step, rest.get(i + 1..).unwrap_or("")))
        }
        _ => Err(path_error(full)),
    }
}

/// The part of a path after `$`; a path not starting with `$` is an error.
fn path_tail(path: &str) -> Result<&str> {
    path.strip_prefix('$').ok_or_else(|| path_error(path))
}

fn step_into<'a>(n: &'a Node, step: &Step) -> Option<&'a Node> {
    match (step, n) {
        (Step::Key(k), Node::Obj(m)) => m.iter().find(|(rk, _)| key_eq(rk, k)).map(|(_, v)| v),
        (Step::Index(i), Node::Arr(a)) => a.get(*i),
        (Step::FromEnd(k), Node::Arr(a)) => a.get(a.len().checked_sub(*k)?),
        _ => None,
    }
}

/// The node at `path`, `None` when there is none; malformed paths are errors
/// (as far as they are read: SQLite stops at the first step that misses).
fn lookup<'a>(root: &'a Node, path: &str) -> Result<Option<&'a Node>> {
    let mut rest = path_tail(path)?;
    let mut cur = root;
    while !rest.is_empty() {
        match next_step(rest, cur, path)? {
            Next::NotFound => return Ok(None),
            Next::Step(step, tail) => match step_into(cur, &step) {
                Some(n) => {
                    cur = n;
                    rest = tail;
                }
                None => return Ok(None),
            },
        }
    }
    Ok(Some(cur))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edit {
    /// Create or overwrite.
    Set,
    /// Create only.
    Insert,
    /// Overwrite only.
    Replace,
}

/// The array position a step selects in an array of `len` elements (may be
/// `len`, one past the end).
fn array_index(step: &Step, len: usize) -> Option<usize> {
    match step {
        Step::Index(i) => Some(*i),
        Step::FromEnd(k) => len.checked_sub(*k),
        Step::Key(_) => None,
    }
}

/// The new value for a missing `tail` of a path (set/insert): missing object
/// keys become objects and `[0]`/`[#]` one-element arrays; `None` when the
/// tail cannot be created (e.g. `[3]` in a new array), in which case, like
/// SQLite, the rest of the tail is not examined. Iterative, so a long tail
/// cannot exhaust the stack.
fn build(tail: &str, full: &str, value: &Node) -> Result<Option<Node>> {
    let mut steps = Vec::new();
    let mut rest = tail;
    while !rest.is_empty() {
        match next_step(rest, &shape_for(rest), full)? {
            Next::NotFound => return Ok(None),
            Next::Step(step, r) => {
                if matches!(step, Step::Index(k) | Step::FromEnd(k) if k > 0) {
                    return Ok(None);
                }
                steps.push(step);
                rest = r;
            }
        }
    }
    let mut node = value.clone();
    for step in steps.into_iter().rev() {
        node = match step {
            Step::Key(k) => Node::Obj(vec![(escape(&k), node)]),
            Step::Index(_) | Step::FromEnd(_) => Node::Arr(vec![node]),
        };
    }
    Ok(Some(node))
}

/// An empty container of the kind the next step of `rest` selects into.
fn shape_for(rest: &str) -> Node {
    if rest.starts_with('.') {
        Node::Obj(Vec::new())
    } else {
        Node::Arr(Vec::new())
    }
}

/// Refuses paths of more than [`MAX_DEPTH`] steps (counted as far as they
/// parse), which bounds the recursion of [`edit`] and [`remove`].
fn check_path_len(path: &str) -> Result<()> {
    let mut rest = path.strip_prefix('$').unwrap_or("");
    let mut steps = 0usize;
    while let Ok(Next::Step(_, r)) = next_step(rest, &shape_for(rest), path) {
        rest = r;
        steps += 1;
        if steps > MAX_DEPTH {
            return Err(Error::type_err("JSON path too deep"));
        }
    }
    Ok(())
}

fn edit(node: &mut Node, rest: &str, full: &str, value: &Node, mode: Edit) -> Result<()> {
    if rest.is_empty() {
        if mode != Edit::Insert {
            *node = value.clone();
        }
        return Ok(());
    }
    let Next::Step(step, tail) = next_step(rest, node, full)? else {
        return Ok(());
    };
    match node {
        Node::Obj(m) => {
            let Step::Key(k) = &step else { return Ok(()) };
            if let Some((_, child)) = m.iter_mut().find(|(rk, _)| key_eq(rk, k)) {
                edit(child, tail, full, value, mode)?;
            } else if mode != Edit::Replace {
                if let Some(v) = build(tail, full, value)? {
                    m.push((escape(k), v));
                }
            }
        }
        Node::Arr(a) => {
            let Some(idx) = array_index(&step, a.len()) else {
                return Ok(());
            };
            let len = a.len();
            if let Some(child) = a.get_mut(idx) {
                edit(child, tail, full, value, mode)?;
            } else if idx == len && mode != Edit::Replace {
                if let Some(v) = build(tail, full, value)? {
                    a.push(v);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Removes the node at `rest` (non-empty), if present.
fn remove(node: &mut Node, rest: &str, full: &str) -> Result<()> {
    let Next::Step(step, tail) = next_step(rest, node, full)? else {
        return Ok(());
    };
    match node {
        Node::Obj(m) => {
            let Step::Key(k) = &step else { return Ok(()) };
            if let Some(pos) = m.iter().position(|(rk, _)| key_eq(rk, k)) {
                if tail.is_empty() {
                    m.remove(pos);
                } else if let Some((_, child)) = m.get_mut(pos) {
                    remove(child, tail, full)?;
                }
            }
        }
        Node::Arr(a) => {
            let Some(idx) = array_index(&step, a.len()) else {
                return Ok(());
            };
            if idx < a.len() {
                if tail.is_empty() {
                    a.remove(idx);
                } else if let Some(child) = a.get_mut(idx) {
                    remove(child, tail, full)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// RFC 7396 merge patch.
fn merge_patch(target: Node, patch: &Node) -> Node {
    let Node::Obj(pm) = patch else {
        return patch.clone();
    };
    let mut members = match target {
        Node::Obj(m) => m,
        _ => Vec::new(),
    };
    for (k, v) in pm {
        let key = unescape(k);
        let pos = members.iter().position(|(rk, _)| key_eq(rk, &key));
        match (v, pos) {
            (Node::Null, Some(p)) => {
                members.remove(p);
            }
            (Node::Null, None) => {}
            (v, Some(p)) => {
                if let Some(slot) = members.get_mut(p) {
                    let old = std::mem::replace(&mut slot.1, Node::Null);
                    slot.1 = merge_patch(old, v);
                }
            }
            (v, None) => members.push((k.clone(), merge_patch(Node::Null, v))),
        }
    }
    Node::Obj(members)
}

// ---------------------------------------------------------------------------
// SQL functions
// ---------------------------------------------------------------------------

/// `json(x)`: `x` validated and minified.
pub(crate) fn fn_json(a: &[Value]) -> Result<Value> {
    match doc_arg(arg(a, 0))? {
        None => Ok(Value::Null),
        Some(n) => json_result(&n),
    }
}

/// `json_valid(x)`: 1 if `x` is well-formed JSON, else 0; NULL for NULL.
pub(crate) fn fn_json_valid(a: &[Value]) -> Result<Value> {
    Ok(match arg(a, 0) {
        Value::Null => Value::Null,
        v => Value::Integer(matches!(doc_arg(v), Ok(Some(_))) as i64),
    })
}

/// The node selected by `json_xxx(json[, path])`: `Ok(None)` for a NULL
/// document or path or a path that selects nothing.
fn with_node<T>(a: &[Value], f: impl FnOnce(&Node) -> T) -> Result<Option<T>> {
    let Some(doc) = doc_arg(arg(a, 0))? else {
        return Ok(None);
    };
    if a.len() < 2 {
        return Ok(Some(f(&doc)));
    }
    let Some(path) = text_of(arg(a, 1)) else {
        return Ok(None);
    };
    Ok(lookup(&doc, &path)?.map(f))
}

/// `json_extract(json, path, ...)`: one path gives the SQL value there; several
/// give a JSON array of the values (null for missing ones).
pub(crate) fn fn_json_extract(a: &[Value]) -> Result<Value> {
    let paths = a.get(1..).unwrap_or(&[]);
    if paths.is_empty() {
        return Ok(Value::Null);
    }
    let Some(doc) = doc_arg(arg(a, 0))? else {
        return Ok(Value::Null);
    };
    let mut found = Vec::with_capacity(paths.len());
    for p in paths {
        match text_of(p) {
            None => return Ok(Value::Null),
            Some(p) => found.push(lookup(&doc, &p)?),
        }
    }
    match found.as_slice() {
        [one] => match one {
            None => Ok(Value::Null),
            Some(n) => node_to_sql(n, false),
        },
        many => {
            let items = many
                .iter()
                .map(|n| n.cloned().unwrap_or(Node::Null))
                .collect();
            json_result(&Node::Arr(items))
        }
    }
}

/// `json_type(json[, path])`.
pub(crate) fn fn_json_type(a: &[Value]) -> Result<Value> {
    Ok(with_node(a, |n| Value::text(type_name(n)))?.unwrap_or(Value::Null))
}

/// `json_array_length(json[, path])`: element count, 0 for non-arrays.
pub(crate) fn fn_json_array_length(a: &[Value]) -> Result<Value> {
    Ok(with_node(a, |n| match n {
        Node::Arr(items) => Value::Integer(items.len() as i64),
        _ => Value::Integer(0),
    })?
    .unwrap_or(Value::Null))
}

/// `json_array(v, ...)`.
pub(crate) fn fn_json_array(a: &[Value]) -> Result<Value> {
    let items = a.iter().map(value_to_node).collect::<Result<Vec<_>>>()?;
    json_result(&Node::Arr(items))
}

/// `json_object(k, v, ...)`: keys must be text; duplicates are kept.
pub(crate) fn fn_json_object(a: &[Value]) -> Result<Value> {
    if !a.len().is_multiple_of(2) {
        return Err(Error::type_err(
            "json_object() requires an even number of arguments",
        ));
    }
    let mut members = Vec::with_capacity(a.len() / 2);
    for pair in a.chunks_exact(2) {
        let (k, v) = (arg(pair, 0), arg(pair, 1));
        let key = match k {
            Value::Text(s) | Value::Json(s) => escape(s),
            _ => return Err(Error::type_err("json_object() labels must be TEXT")),
        };
        members.push((key, value_to_node(v)?));
    }
    json_result(&Node::Obj(members))
}

/// `json_quote(x)`: `x` as a JSON value (text becomes a JSON string).
pub(crate) fn fn_json_quote(a: &[Value]) -> Result<Value> {
    json_result(&value_to_node(arg(a, 0))?)
}

fn edit_fn(a: &[Value], mode: Edit, name: &str) -> Result<Value> {
    if a.len().is_multiple_of(2) {
        return Err(Error::type_err(format!(
            "{name}() needs an odd number of arguments"
        )));
    }
    let Some(mut doc) = doc_arg(arg(a, 0))? else {
        return Ok(Value::Null);
    };
    for pair in a.get(1..).unwrap_or(&[]).chunks_exact(2) {
        // A NULL path is skipped (SQLite).
        let Some(path) = text_of(arg(pair, 0)) else {
            continue;
        };
        let rest = path_tail(&path)?;
        let value = value_to_node(arg(pair, 1))?;
        check_path_len(&path)?;
        edit(&mut doc, rest, &path, &value, mode)?;
    }
    json_result(&doc)
}

/// `json_set(json, path, value, ...)`: create or overwrite.
pub(crate) fn fn_json_set(a: &[Value]) -> Result<Value> {
    edit_fn(a, Edit::Set, "json_set")
}

/// `json_insert(json, path, value, ...)`: create only.
pub(crate) fn fn_json_insert(a: &[Value]) -> Result<Value> {
    edit_fn(a, Edit::Insert, "json_insert")
}

/// `json_replace(json, path, value, ...)`: overwrite only.
pub(crate) fn fn_json_replace(a: &[Value]) -> Result<Value> {
    edit_fn(a, Edit::Replace, "json_replace")
}

/// `json_remove(json, path, ...)`: removing `$` (or a NULL path) gives NULL.
pub(crate) fn fn_json_remove(a: &[Value]) -> Result<Value> {
    let Some(mut doc) = doc_arg(arg(a, 0))? else {
        return Ok(Value::Null);
    };
    for p in a.get(1..).unwrap_or(&[]) {
        let Some(path) = text_of(p) else {
            return Ok(Value::Null);
        };
        let rest = path_tail(&path)?;
        if rest.is_empty() {
            return Ok(Value::Null);
        }
        check_path_len(&path)?;
        remove(&mut doc, rest, &path)?;
    }
    json_result(&doc)
}

/// `json_patch(target, patch)`: RFC 7396 merge patch.
pub(crate) fn fn_json_patch(a: &[Value]) -> Result<Value> {
    let (Some(target), Some(patch)) = (doc_arg(arg(a, 0))?, doc_arg(arg(a, 1))?) else {
        return Ok(Value::Null);
    };
    json_result(&merge_patch(target, &patch))
}

// ---------------------------------------------------------------------------
// -> and ->>
// ---------------------------------------------------------------------------

/// The path meant by the right operand of `->`/`->>` (SQLite 3.45+): text
/// starting with `$` is a path; an integer N is `$[N]` (negative: `$[#-N]`,
/// counting from the end as in PostgreSQL); other text is one object key
/// (`$.key`, or `$."key"` unless alphanumeric), except `'[...]'`, which is
/// `$[...]`.
fn arrow_path(key: &Value) -> Option<String> {
    let int_path = |i: i64| {
        if i < 0 {
            format!("$[#{i}]")
        } else {
            format!("$[{i}]")
        }
    };
    Some(match key {
        Value::Null => return None,
        Value::Integer(i) => int_path(*i),
        Value::Boolean(b) => int_path(i64::from(*b)),
        other => {
            let s = text_of(other)?;
            if s.starts_with('$') {
                s.into_owned()
            } else if s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
                format!("$.{s}")
            } else if s.len() >= 3 && s.starts_with('[') && s.ends_with(']') {
                format!("${s}")
            } else {
                format!("$.\"{s}\"")
            }
        }
    })
}

/// Parses the document, then resolves the `->`/`->>` operand against it.
fn arrow_node(doc: &Value, key: &Value) -> Result<Option<Node>> {
    let Some(root) = doc_arg(doc)? else {
        return Ok(None);
    };
    let Some(path) = arrow_path(key) else {
        return Ok(None);
    };
    Ok(lookup(&root, &path)?.cloned())
}

/// `doc -> key`: the selected sub-document as [`Value::Json`], or NULL when
/// `doc` or `key` is NULL or nothing is selected. Malformed JSON and bad
/// paths are type errors.
pub fn json_arrow(doc: &Value, key: &Value) -> Result<Value> {
    match arrow_node(doc, key)? {
        None => Ok(Value::Null),
        Some(n) => json_result(&n),
    }
}

/// `doc ->> key`: the selected value as SQL: text for strings, INTEGER/REAL
/// for numbers, NULL for null, 1/0 for booleans, JSON text (as
/// [`Value::Text`]) for arrays and objects.
pub fn json_arrow_text(doc: &Value, key: &Value) -> Result<Value> {
    match arrow_node(doc, key)? {
        None => Ok(Value::Null),
        Some(n) => node_to_sql(&n, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Value {
        Value::text(s)
    }
    fn j(s: &str) -> Value {
        Value::Json(Arc::from(s))
    }
    const N: Value = Value::Null;

    fn same(a: &Value, b: &Value) -> bool {
        std::mem::discriminant(a) == std::mem::discriminant(b) && a == b
    }

    #[track_caller]
    fn check(f: fn(&[Value]) -> Result<Value>, args: &[Value], want: Value) {
        match f(args) {
            Ok(got) => assert!(same(&got, &want), "{args:?} = {got:?}, want {want:?}"),
            Err(e) => panic!("{args:?} failed: {e}"),
        }
    }

    #[track_caller]
    fn check_err(f: fn(&[Value]) -> Result<Value>, args: &[Value]) {
        assert!(f(args).is_err(), "{args:?} should fail");
    }

    #[test]
    fn parse_and_minify() {
        check(
            fn_json,
            &[t(" {\"a\" : 1 , \"b\":\"\\u0041\"} ")],
            j("{\"a\":1,\"b\":\"\\u0041\"}"),
        );
        check(
            fn_json,
            &[t("{\"b\":1,\"a\":[1,2.50]}")],
            j("{\"b\":1,\"a\":[1,2.50]}"),
        );
        check(fn_json, &[t("{\"a\":1,\"a\":2}")], j("{\"a\":1,\"a\":2}"));
        check(fn_json, &[Value::Real(1.5)], j("1.5"));
        check(fn_json, &[Value::Integer(-3)], j("-3"));
        check(fn_json, &[N], N);
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\"}",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "tru",
            "nul",
            "\"\\x\"",
            "\"a\nb\"",
            "[1] x",
            "{'a':1}",
            "\"\\u12\"",
            "NaN",
        ] {
            check_err(fn_json, &[t(bad)]);
            check(fn_json_valid, &[t(bad)], Value::Integer(0));
        }
        for good in [
            "0",
            "-0.5e+3",
            "[]",
            "{}",
            "\"\"",
            "true",
            "null",
            " [ 1 , { } ] ",
        ] {
            check(fn_json_valid, &[t(good)], Value::Integer(1));
        }
        check(fn_json_valid, &[N], N);
        check(fn_json_valid, &[Value::from(vec![1u8])], Value::Integer(0));
        let deep_ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        check(fn_json_valid, &[t(&deep_ok)], Value::Integer(1));
        let too_deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        check(fn_json_valid, &[t(&too_deep)], Value::Integer(0));
        check(fn_json_valid, &[t(&"[".repeat(100_000))], Value::Integer(0));
    }

    #[test]
    fn extract() {
        let doc = t("{\"a\":[1,2,{\"b\":\"x\"}],\"c\":1.5,\"d\":true,\"e\":null,\"f\":\"caf\\u00e9\",\"g\":{\"h\":[]}}");
        check(fn_json_extract, &[doc.clone(), t("$.a[#-1].b")], t("x"));
        check(
            fn_json_extract,
            &[doc.clone(), t("$.a[0]")],
            Value::Integer(1),
        );
        check(fn_json_extract, &[doc.clone(), t("$.c")], Value::Real(1.5));
        check(fn_json_extract, &[doc.clone(), t("$.d")], Value::Integer(1));
        check(fn_json_extract, &[doc.clone(), t("$.e")], N);
        check(fn_json_extract, &[doc.clone(), t("$.f")], t("café"));
        check(fn_json_extract, &[doc.clone(), t("$.g")], j("{\"h\":[]}"));
        check(fn_json_extract, &[doc.clone(), t("$.a[9]")], N);
        check(fn_json_extract, &[doc.clone(), t("$.a[#]")], N);
        check(fn_json_extract, &[doc.clone(), t("$.a[#-9]")], N);
        check(fn_json_extract, &[doc.clone(), t("$.zz")], N);
        check(fn_json_extract, &[doc.clone(), t("$.a.b")], N);
        check(fn_json_extract, &[doc.clone(), N], N);
        check(fn_json_extract, &[N, t("$")], N);
        check(
            fn_json_extract,
            &[t("{\"a\":1,\"b\":[2]}"), t("$.a"), t("$.b"), t("$.c")],
            j("[1,[2],null]"),
        );
        check(
            fn_json_extract,
            &[t("{\"a b\":1}"), t("$.\"a b\"")],
            Value::Integer(1),
        );
        check(fn_json_extract, &[t("[1,2]"), t("$")], j("[1,2]"));
        check(
            fn_json_extract,
            &[t("12345678901234567890"), t("$")],
            Value::Real(12345678901234567890.0),
        );
        check(fn_json_extract, &[t("\"\\ud83d\\ude00\\ud83d\"")], N);
        check(
            fn_json_extract,
            &[t("\"\\ud83d\\ude00\\ud83d!\""), t("$")],
            t("😀\u{FFFD}!"),
        );
        for bad in [
            "", "a", "$.", "$[", "$[x]", "$[1", "$a", "$.\"a", "$[#-]", "$[-1]",
        ] {
            check_err(fn_json_extract, &[t("[1]"), t(bad)]);
        }
        check_err(fn_json_extract, &[t("{"), t("$")]);
        check_err(fn_json_extract, &[Value::from(vec![1u8]), t("$")]);
    }

    #[test]
    fn type_and_length() {
        let doc = t("{\"a\":1.0,\"b\":2,\"c\":\"s\",\"d\":[1,2],\"e\":{},\"f\":true,\"g\":false,\"h\":null}");
        for (path, want) in [
            ("$", "object"),
            ("$.a", "real"),
            ("$.b", "integer"),
            ("$.c", "text"),
            ("$.d", "array"),
            ("$.e", "object"),
            ("$.f", "true"),
            ("$.g", "false"),
            ("$.h", "null"),
        ] {
            check(fn_json_type, &[doc.clone(), t(path)], t(want));
        }
        check(fn_json_type, &[doc.clone(), t("$.zz")], N);
        check(fn_json_type, &[t("[]")], t("array"));
        check(fn_json_type, &[N], N);
        check(fn_json_array_length, &[t("[1,2]")], Value::Integer(2));
        check(fn_json_array_length, &[t("{}")], Value::Integer(0));
        check(
            fn_json_array_length,
            &[doc.clone(), t("$.d")],
            Value::Integer(2),
        );
        check(fn_json_array_length, &[doc.clone(), t("$.x")], N);
        check(fn_json_array_length, &[N], N);
    }

    #[test]
    fn constructors() {
        check(
            fn_json_array,
            &[
                Value::Integer(1),
                Value::Real(2.5),
                t("x"),
                N,
                j("[1]"),
                Value::Boolean(true),
            ],
            j("[1,2.5,\"x\",null,[1],true]"),
        );
        check(fn_json_array, &[], j("[]"));
        check(
            fn_json_array,
            &[Value::Real(f64::INFINITY)],
            j("[9.0e+999]"),
        );
        check(fn_json_array, &[Value::Real(1.0)], j("[1.0]"));
        check(
            fn_json_array,
            &[t("a\"b\\\n\u{1}")],
            j("[\"a\\\"b\\\\\\n\\u0001\"]"),
        );
        check_err(fn_json_array, &[Value::from(vec![1u8])]);
        check(
            fn_json_object,
            &[t("a"), Value::Integer(1), t("b"), t("x")],
            j("{\"a\":1,\"b\":\"x\"}"),
        );
        check(fn_json_object, &[], j("{}"));
        check_err(fn_json_object, &[t("a")]);
        check_err(fn_json_object, &[Value::Integer(1), Value::Integer(2)]);
        check_err(fn_json_object, &[N, Value::Integer(2)]);
        check(fn_json_quote, &[t("a\"b")], j("\"a\\\"b\""));
        check(fn_json_quote, &[Value::Real(1.5)], j("1.5"));
        check(fn_json_quote, &[N], j("null"));
        check(fn_json_quote, &[j("[1]")], j("[1]"));
        // Every constructed document is valid JSON.
        for v in [
            fn_json_array(&[t("\u{0}\u{7f}\u{10FFFF}\"\\")]),
            fn_json_object(&[t("k\"ey"), Value::Real(-1e300)]),
        ] {
            match v {
                Ok(Value::Json(s)) => assert!(parse(&s).is_some(), "{s}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn editing() {
        check(
            fn_json_set,
            &[t("{}"), t("$.a[0]"), Value::Integer(1)],
            j("{\"a\":[1]}"),
        );
        check(
            fn_json_set,
            &[t("{}"), t("$.a.b"), Value::Integer(1)],
            j("{\"a\":{\"b\":1}}"),
        );
        check(
            fn_json_set,
            &[t("[1]"), t("$[1]"), Value::Integer(2)],
            j("[1,2]"),
        );
        check(
            fn_json_set,
            &[t("[1]"), t("$[5]"), Value::Integer(2)],
            j("[1]"),
        );
        check(
            fn_json_set,
            &[t("[1]"), t("$[#]"), Value::Integer(9)],
            j("[1,9]"),
        );
        check(fn_json_set, &[t("[1]"), t("$"), t("x")], j("\"x\""));
        check(
            fn_json_set,
            &[t("{\"a\":1}"), t("$.a"), j("{\"b\":2}")],
            j("{\"a\":{\"b\":2}}"),
        );
        check(
            fn_json_insert,
            &[
                t("{\"a\":1}"),
                t("$.a"),
                Value::Integer(2),
                t("$.b"),
                Value::Integer(3),
            ],
            j("{\"a\":1,\"b\":3}"),
        );
        check(
            fn_json_replace,
            &[
                t("{\"a\":1}"),
                t("$.a"),
                Value::Integer(2),
                t("$.b"),
                Value::Integer(3),
            ],
            j("{\"a\":2}"),
        );
        check(fn_json_set, &[t("{}")], j("{}"));
        check_err(fn_json_set, &[t("[1]"), t("$[0]")]);
        check_err(fn_json_set, &[t("[1]"), t("bad"), Value::Integer(1)]);
        check(fn_json_set, &[N, t("$.a"), Value::Integer(1)], N);
        check(fn_json_set, &[t("{}"), N, Value::Integer(1)], j("{}"));
        check(fn_json_remove, &[t("[1,2,3]"), t("$[1]")], j("[1,3]"));
        check(
            fn_json_remove,
            &[t("[1,2,3]"), t("$[#-1]"), t("$[0]")],
            j("[2]"),
        );
        check(
            fn_json_remove,
            &[t("{\"a\":{\"b\":1,\"c\":2}}"), t("$.a.b")],
            j("{\"a\":{\"c\":2}}"),
        );
        check(fn_json_remove, &[t("[1]"), t("$")], N);
        check(fn_json_remove, &[t("[1]"), t("$[7]")], j("[1]"));
        check(fn_json_remove, &[t("[1]"), N], N);
        check(
            fn_json_patch,
            &[
                t("{\"a\":1,\"b\":{\"c\":2}}"),
                t("{\"b\":{\"c\":null,\"d\":4},\"e\":[1]}"),
            ],
            j("{\"a\":1,\"b\":{\"d\":4},\"e\":[1]}"),
        );
        check(fn_json_patch, &[t("[1]"), t("{\"a\":null}")], j("{}"));
        check(fn_json_patch, &[t("{\"a\":1}"), t("[2]")], j("[2]"));
        check(fn_json_patch, &[N, t("{}")], N);
        // Deep paths are refused instead of recursing without bound.
        let deep = "$".to_string() + &".a".repeat(5000);
        check_err(fn_json_set, &[t("{}"), t(&deep), Value::Integer(1)]);
        let ok = "$".to_string() + &".a".repeat(500);
        assert!(fn_json_set(&[t("{}"), t(&ok), Value::Integer(1)]).is_ok());
        check_err(fn_json_remove, &[t("{}"), t(&deep)]);
        check(fn_json_extract, &[t("{}"), t(&deep)], N);
    }

    #[track_caller]
    fn arrow(doc: &str, key: Value, want: Value) {
        match json_arrow(&t(doc), &key) {
            Ok(got) => assert!(
                same(&got, &want),
                "{doc} -> {key:?} = {got:?}, want {want:?}"
            ),
            Err(e) => panic!("{doc} -> {key:?}: {e}"),
        }
    }

    #[track_caller]
    fn arrow_text(doc: &str, key: Value, want: Value) {
        match json_arrow_text(&t(doc), &key) {
            Ok(got) => assert!(
                same(&got, &want),
                "{doc} ->> {key:?} = {got:?}, want {want:?}"
            ),
            Err(e) => panic!("{doc} ->> {key:?}: {e}"),
        }
    }

    #[test]
    fn arrow_operators() {
        let doc = "{\"a\":{\"b\":[1,2]},\"x\":\"y\",\"t\":true,\"f\":false,\"n\":null,\"r\":1.5,\"a.b\":7,\"1\":\"one\"}";
        arrow(doc, t("$.a"), j("{\"b\":[1,2]}"));
        arrow(doc, t("a"), j("{\"b\":[1,2]}"));
        arrow(doc, t("x"), j("\"y\""));
        arrow(doc, t("a.b"), j("7"));
        arrow(doc, t("1"), j("\"one\""));
        arrow(doc, t("missing"), N);
        arrow(doc, t("n"), j("null"));
        arrow(doc, N, N);
        arrow_text(doc, t("$.a.b[1]"), Value::Integer(2));
        arrow_text(doc, t("x"), t("y"));
        arrow_text(doc, t("t"), Value::Integer(1));
        arrow_text(doc, t("f"), Value::Integer(0));
        arrow_text(doc, t("n"), N);
        arrow_text(doc, t("r"), Value::Real(1.5));
        arrow_text(doc, t("a"), t("{\"b\":[1,2]}"));
        arrow("[1,2,3]", Value::Integer(1), j("2"));
        arrow("[1,2,3]", Value::Integer(-1), j("3"));
        arrow("[1,2,3]", Value::Integer(-4), N);
        arrow("[1,2,3]", Value::Integer(3), N);
        arrow("[1,2,3]", Value::Integer(i64::MIN), N);
        arrow("[1,2,3]", Value::Integer(i64::MAX), N);
        arrow("[1,2,3]", t("1"), N);
        arrow("[1,2,3]", t("[2]"), j("3"));
        arrow("[1,2,3]", t("[#-1]"), j("3"));
        arrow("[1,2,3]", t("["), N);
        arrow("{\"1\":5}", Value::Integer(1), N);
        arrow_text("[1,[2]]", Value::Integer(1), t("[2]"));
        assert!(json_arrow(&t("{"), &t("a")).is_err());
        assert!(json_arrow(&t("{"), &N).is_err());
        assert!(json_arrow(&t("[1]"), &t("$[")).is_err());
        assert!(json_arrow(&t("{}"), &t("$x")).is_err());
        assert!(json_arrow(&t("{}"), &t("")).is_err());
        assert!(json_arrow(&N, &t("a")).is_ok_and(|v| v.is_null()));
        assert!(json_arrow(&j("{\"a\":1}"), &t("a")).is_ok_and(|v| same(&v, &j("1"))));
        assert!(json_arrow_text(&Value::Integer(5), &t("$"))
            .is_ok_and(|v| same(&v, &Value::Integer(5))));
    }
}
