//! Rust lexer for the module checks: turns source text into tokens with line
//! numbers. Whitespace is dropped; string, char and number literals become
//! one opaque `Literal` token (so a `crate::x` inside a string is never seen);
//! comments are kept only as text attached to the token that follows them
//! (the long-function marker lives there).
//!
//! It never fails: malformed input (an unterminated string, a stray quote)
//! is lexed as far as it goes and the rest is dropped or passed through as
//! punctuation. It is not a full Rust lexer — it only has to be right about
//! identifiers, `::`, brackets, literals and comments.

/// What a token is. Punctuation is one character each, except `::`, `->`
/// and `=>`, which matter to the scanner as units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// An identifier or keyword (`r#type` is lexed as `type`).
    Ident(String),
    /// A lifetime or loop label such as `'a`.
    Lifetime,
    /// A string, byte string, raw string, char or number literal.
    Literal,
    /// `::`
    PathSep,
    /// `->`
    Arrow,
    /// `=>`
    FatArrow,
    /// Any other single punctuation character.
    Punct(char),
}

/// One comment, with the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub text: String,
    pub line: usize,
}

/// One token, the line it starts on, and the comments right before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub line: usize,
    pub comments: Vec<Comment>,
}

impl Token {
    /// True if this token is the identifier or keyword `word`.
    pub fn is_ident(&self, word: &str) -> bool {
        matches!(&self.tok, Tok::Ident(s) if s == word)
    }

    /// True if this token is the punctuation character `c`.
    pub fn is_punct(&self, c: char) -> bool {
        self.tok == Tok::Punct(c)
    }

    /// The identifier's text, if this token is one.
    pub fn ident(&self) -> Option<&str> {
        match &self.tok {
            Tok::Ident(s) => Some(s),
            _ => None,
        }
    }
}

/// Lexes `src` into tokens. Comments after the last token are dropped.
pub fn lex(src: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        chars: src.chars().collect(),
        pos: 0,
        line: 1,
        pending: Vec::new(),
        out: Vec::new(),
    };
    lexer.run();
    lexer.out
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    /// Comments seen since the last token.
    pending: Vec<Comment>,
    out: Vec<Token>,
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    /// Moves one character on, counting lines.
    fn bump(&mut self) {
        if self.peek(0) == Some('\n') {
            self.line += 1;
        }
        self.pos += 1;
    }

    fn push(&mut self, tok: Tok, line: usize) {
        let comments = std::mem::take(&mut self.pending);
        self.out.push(Token {
            tok,
            line,
            comments,
        });
    }

    fn run(&mut self) {
        while let Some(c) = self.peek(0) {
            let line = self.line;
            match c {
                c if c.is_whitespace() => self.bump(),
                '/' if self.peek(1) == Some('/') => self.line_comment(),
                '/' if self.peek(1) == Some('*') => self.block_comment(),
                '"' => {
                    self.quoted_string();
                    self.push(Tok::Literal, line);
                }
                '\'' => self.quote(),
                c if c.is_ascii_digit() => {
                    self.number();
                    self.push(Tok::Literal, line);
                }
                c if is_ident_start(c) => self.word(),
                ':' if self.peek(1) == Some(':') => self.two(Tok::PathSep),
                '-' if self.peek(1) == Some('>') => self.two(Tok::Arrow),
                '=' if self.peek(1) == Some('>') => self.two(Tok::FatArrow),
                c => {
                    self.bump();
                    self.push(Tok::Punct(c), line);
                }
            }
        }
    }

    fn two(&mut self, tok: Tok) {
        let line = self.line;
        self.bump();
        self.bump();
        self.push(tok, line);
    }

    fn line_comment(&mut self) {
        let line = self.line;
        let start = self.pos;
        while let Some(c) = self.peek(0) {
            if c == '\n' {
                break;
            }
            self.bump();
        }
        let text = self.chars[start..self.pos].iter().collect();
        self.pending.push(Comment { text, line });
    }

    /// `/* ... */`, which nests in Rust.
    fn block_comment(&mut self) {
        let line = self.line;
        let start = self.pos;
        self.bump();
        self.bump();
        let mut depth = 1usize;
        while depth > 0 {
            match (self.peek(0), self.peek(1)) {
                (None, _) => break,
                (Some('/'), Some('*')) => {
                    depth += 1;
                    self.bump();
                    self.bump();
                }
                (Some('*'), Some('/')) => {
                    depth -= 1;
                    self.bump();
                    self.bump();
                }
                _ => self.bump(),
            }
        }
        let text = self.chars[start..self.pos].iter().collect();
        self.pending.push(Comment { text, line });
    }

    /// A `"..."` string with backslash escapes; `pos` is on the opening quote.
    fn quoted_string(&mut self) {
        self.bump();
        while let Some(c) = self.peek(0) {
            self.bump();
            match c {
                '\\' => self.bump(),
                '"' => return,
                _ => {}
            }
        }
    }

    /// A raw string `r#"..."#` after its prefix letters; `pos` is on the
    /// first `#` or on the opening quote.
    fn raw_string(&mut self) {
        let mut hashes = 0;
        while self.peek(0) == Some('#') {
            hashes += 1;
            self.bump();
        }
        self.bump(); // the opening quote
        while let Some(c) = self.peek(0) {
            self.bump();
            if c == '"' && (0..hashes).all(|i| self.peek(i) == Some('#')) {
                for _ in 0..hashes {
                    self.bump();
                }
                return;
            }
        }
    }

    /// True if `pos` starts `#*"`: the rest of a raw string's opening.
    fn raw_string_follows(&self) -> bool {
        let mut i = 0;
        while self.peek(i) == Some('#') {
            i += 1;
        }
        self.peek(i) == Some('"')
    }

    /// A char literal (`'x'`, `'\n'`, `'\u{1F600}'`) or a lifetime (`'a`).
    fn quote(&mut self) {
        let line = self.line;
        let is_char = self.peek(1) == Some('\\') || self.peek(2) == Some('\'');
        if is_char {
            self.char_literal();
            self.push(Tok::Literal, line);
        } else {
            self.bump();
            while self.peek(0).is_some_and(is_ident_continue) {
                self.bump();
            }
            self.push(Tok::Lifetime, line);
        }
    }

    /// `pos` is on the opening quote of a char literal.
    fn char_literal(&mut self) {
        self.bump();
        if self.peek(0) == Some('\\') {
            self.bump();
        }
        self.bump(); // the char, or the escaped char
        while let Some(c) = self.peek(0) {
            self.bump();
            if c == '\'' || c == '\n' {
                return;
            }
        }
    }

    /// Digits, suffixes and a fractional part (`1_000u64`, `2.5e3`); a `..`
    /// after a number is left alone (`0..n`).
    fn number(&mut self) {
        loop {
            match (self.peek(0), self.peek(1)) {
                (Some(c), _) if is_ident_continue(c) => self.bump(),
                (Some('.'), Some(d)) if d.is_ascii_digit() => self.bump(),
                _ => return,
            }
        }
    }

    /// An identifier, keyword, raw identifier, or a literal with a letter
    /// prefix (`b"..."`, `br#"..."#`, `b'x'`, `c"..."`).
    fn word(&mut self) {
        let line = self.line;
        let start = self.pos;
        while self.peek(0).is_some_and(is_ident_continue) {
            self.bump();
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        let next = self.peek(0);
        match word.as_str() {
            "r" | "br" | "cr" if self.raw_string_follows() => {
                self.raw_string();
                self.push(Tok::Literal, line);
            }
            "b" | "c" if next == Some('"') => {
                self.quoted_string();
                self.push(Tok::Literal, line);
            }
            "b" if next == Some('\'') => {
                self.char_literal();
                self.push(Tok::Literal, line);
            }
            "r" if next == Some('#') && self.peek(1).is_some_and(is_ident_start) => {
                self.bump(); // `r#type` is the identifier `type`
                let start = self.pos;
                while self.peek(0).is_some_and(is_ident_continue) {
                    self.bump();
                }
                let raw: String = self.chars[start..self.pos].iter().collect();
                self.push(Tok::Ident(raw), line);
            }
            _ => self.push(Tok::Ident(word), line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        lex(src).into_iter().map(|t| t.tok).collect()
    }

    fn ident(s: &str) -> Tok {
        Tok::Ident(s.to_string())
    }

    #[test]
    fn strings_and_comments_hide_paths() {
        let src = r####"
            // crate::a
            /* crate::b /* nested crate::c */ still comment */
            let s = "crate::d \" crate::e";
            let r = r#"crate::f "quoted" "#;
            let b = br##"crate::g"##;
            x
        "####;
        let idents: Vec<String> = lex(src)
            .into_iter()
            .filter_map(|t| t.ident().map(str::to_string))
            .collect();
        assert_eq!(idents, ["let", "s", "let", "r", "let", "b", "x"]);
    }

    #[test]
    fn chars_versus_lifetimes() {
        let toks = kinds(r"'a' '\'' '\u{1F600}' 'b b'c' fn f<'x>() {}");
        assert_eq!(
            toks[..6],
            [
                Tok::Literal,
                Tok::Literal,
                Tok::Literal,
                Tok::Lifetime,
                Tok::Literal,
                ident("fn"),
            ]
        );
        assert!(toks.contains(&Tok::Lifetime));
    }

    #[test]
    fn paths_arrows_and_lines() {
        let toks = lex("a::b\n-> c\n=> 1..2");
        let kinds: Vec<&Tok> = toks.iter().map(|t| &t.tok).collect();
        assert_eq!(
            kinds,
            [
                &ident("a"),
                &Tok::PathSep,
                &ident("b"),
                &Tok::Arrow,
                &ident("c"),
                &Tok::FatArrow,
                &Tok::Literal,
                &Tok::Punct('.'),
                &Tok::Punct('.'),
                &Tok::Literal,
            ]
        );
        assert_eq!(toks[3].line, 2);
        assert_eq!(toks[5].line, 3);
    }

    #[test]
    fn comments_attach_to_the_next_token() {
        let toks = lex("a\n/// doc\n// long: why\nfn f");
        assert!(toks[0].comments.is_empty());
        let texts: Vec<&str> = toks[1].comments.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["/// doc", "// long: why"]);
        assert_eq!(toks[1].comments[1].line, 3);
    }

    #[test]
    fn raw_identifier_and_unterminated_string() {
        assert_eq!(kinds("r#type"), [ident("type")]);
        // An unterminated string swallows the rest without panicking.
        assert_eq!(kinds("x \"crate::y"), [ident("x"), Tok::Literal]);
    }
}
