//! The text query syntax of `@@` and `bm25()`: words, `"phrases"`,
//! `prefix*`, `AND`, `OR`, `NOT` (or a leading `-`) and parentheses.
//!
//! ```text
//! query   := or_expr
//! or_expr := and_expr ( ("OR" | <adjacent, when the default is OR>) and_expr )*
//! and_expr:= unary ( ("AND" | <adjacent, when the default is AND>) unary )*
//! unary   := ("NOT" | "-") unary | "(" or_expr ")" | '"' text '"' | word | word"*"
//! ```
//!
//! `AND`, `OR` and `NOT` are operators only in capitals (`and` is a word).
//! A word goes through the index's tokenizer: one term is a term query,
//! several (`e-mail`) a phrase, none (a stop word, punctuation) nothing —
//! the clause is dropped. A quoted phrase keeps a placeholder for each
//! word the tokenizer removed, so it matches the indexed positions. A
//! prefix is lowercased and folded like the index, never stemmed.
//! Excluded clauses next to others in an OR (`cat -dog`, `a OR NOT b`)
//! exclude from all of them, as in Lucene. An empty query — or one whose
//! every word is dropped — matches nothing.
//!
//! Errors name the byte offset where the query stops making sense; no
//! input panics (property-tested).

use super::Query;
use crate::tokenize::Tokenizer;

/// Nesting depth of parentheses and `NOT`s a query may use.
pub const QUERY_DEPTH_MAX: usize = 64;
/// Bytes in a query.
pub const QUERY_BYTES_MAX: usize = 16 * 1024;

/// What adjacent clauses mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultOperator {
    /// `a b` = `a AND b` (the `@@` match predicate: every word must occur).
    And,
    /// `a b` = `a OR b` (`bm25()` ranking: any word counts).
    Or,
}

/// A malformed query: where (byte offset into the query text) and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("text query error at position {position}: {what}")]
pub struct QueryParseError {
    pub position: usize,
    pub what: &'static str,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word { text: String, prefix: bool },
    Phrase(String),
    And,
    Or,
    Not,
    Open,
    Close,
}

fn err(position: usize, what: &'static str) -> QueryParseError {
    QueryParseError { position, what }
}

/// Splits the query into tokens with their byte offsets.
fn lex(text: &str) -> Result<Vec<(usize, Token)>, QueryParseError> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' => {
                chars.next();
                out.push((at, if c == '(' { Token::Open } else { Token::Close }));
            }
            '"' => {
                chars.next();
                let start = at + 1;
                let mut end = None;
                for (i, ch) in chars.by_ref() {
                    if ch == '"' {
                        end = Some(i);
                        break;
                    }
                }
                let end = end.ok_or(err(at, "unterminated phrase: a '\"' has no closing '\"'"))?;
                if text[end + 1..].starts_with('*') {
                    return Err(err(
                        end + 1,
                        "'*' makes a prefix of one word, not of a phrase",
                    ));
                }
                out.push((at, Token::Phrase(text[start..end].to_string())));
            }
            '-' if out.last().is_none_or(|(_, t)| {
                !matches!(t, Token::Word { .. } | Token::Phrase(_) | Token::Close)
            }) || text[..at].ends_with(char::is_whitespace) =>
            {
                chars.next();
                out.push((at, Token::Not));
            }
            _ => {
                let mut end = at;
                while let Some(&(i, ch)) = chars.peek() {
                    if ch.is_whitespace() || matches!(ch, '(' | ')' | '"') {
                        break;
                    }
                    end = i + ch.len_utf8();
                    chars.next();
                }
                let word = &text[at..end];
                out.push((
                    at,
                    match word {
                        "AND" => Token::And,
                        "OR" => Token::Or,
                        "NOT" => Token::Not,
                        _ => match word.strip_suffix('*') {
                            Some(stem) => Token::Word {
                                text: stem.to_string(),
                                prefix: true,
                            },
                            None => Token::Word {
                                text: word.to_string(),
                                prefix: false,
                            },
                        },
                    },
                ));
            }
        }
    }
    Ok(out)
}

/// Parses `text` into a [`Query`] over the terms `tokenizer` indexes.
pub fn parse_query(
    text: &str,
    tokenizer: &Tokenizer,
    default: DefaultOperator,
) -> Result<Query, QueryParseError> {
    if text.len() > QUERY_BYTES_MAX {
        return Err(err(QUERY_BYTES_MAX, "query longer than 16 KiB"));
    }
    let tokens = lex(text)?;
    let mut p = Parser {
        tokens,
        at: 0,
        end: text.len(),
        tokenizer,
        default,
        depth: 0,
    };
    if p.tokens.is_empty() {
        return Ok(Query::Or(Vec::new()));
    }
    let clause = p.or_expr()?;
    if let Some((at, _)) = p.tokens.get(p.at) {
        return Err(err(*at, "unmatched ')'"));
    }
    Ok(match clause {
        Clause::Pos(q) => q,
        Clause::Neg(_, at) => return Err(err(at, "NOT needs something to exclude from")),
        Clause::Dropped => Query::Or(Vec::new()),
    })
}

/// A parsed clause: a positive query, an exclusion (with where its NOT
/// was), or nothing (every word dropped by the tokenizer).
enum Clause {
    Pos(Query),
    Neg(Query, usize),
    Dropped,
}

struct Parser<'t> {
    tokens: Vec<(usize, Token)>,
    at: usize,
    end: usize,
    tokenizer: &'t Tokenizer,
    default: DefaultOperator,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |(at, _)| *at)
    }

    /// Whether the next token starts a clause (for adjacency).
    fn starts_clause(&self) -> bool {
        matches!(
            self.peek(),
            Some(Token::Word { .. } | Token::Phrase(_) | Token::Not | Token::Open)
        )
    }

    fn or_expr(&mut self) -> Result<Clause, QueryParseError> {
        self.level(
            Token::Or,
            DefaultOperator::Or,
            Self::and_expr,
            Query::Or,
            "OR needs a clause after it",
        )
    }

    fn and_expr(&mut self) -> Result<Clause, QueryParseError> {
        self.level(
            Token::And,
            DefaultOperator::And,
            Self::unary,
            Query::And,
            "AND needs a clause after it",
        )
    }

    /// One precedence level: `next ( (op | <adjacent, if default>) next )*`.
    fn level(
        &mut self,
        op: Token,
        adjacent_when: DefaultOperator,
        next: fn(&mut Self) -> Result<Clause, QueryParseError>,
        join: fn(Vec<Query>) -> Query,
        dangling: &'static str,
    ) -> Result<Clause, QueryParseError> {
        let mut clauses = vec![next(self)?];
        loop {
            if self.peek() == Some(&op) {
                self.at += 1;
                if !self.starts_clause() {
                    return Err(err(self.position(), dangling));
                }
            } else if !(self.default == adjacent_when && self.starts_clause()) {
                break;
            }
            clauses.push(next(self)?);
        }
        Ok(combine(clauses, join))
    }

    fn unary(&mut self) -> Result<Clause, QueryParseError> {
        let at = self.position();
        let Some((_, token)) = self.tokens.get(self.at).cloned() else {
            return Err(err(
                at,
                "the query ends where a word, phrase or '(' should be",
            ));
        };
        self.at += 1;
        match token {
            Token::Not => {
                self.deeper(at)?;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(match inner {
                    Clause::Pos(q) => Clause::Neg(q, at),
                    Clause::Neg(q, _) => Clause::Pos(q),
                    Clause::Dropped => Clause::Dropped,
                })
            }
            Token::Open => {
                self.deeper(at)?;
                if self.peek() == Some(&Token::Close) {
                    return Err(err(at, "empty parentheses"));
                }
                let inner = self.or_expr()?;
                if self.peek() != Some(&Token::Close) {
                    return Err(err(at, "'(' is never closed"));
                }
                self.at += 1;
                self.depth -= 1;
                Ok(inner)
            }
            Token::Phrase(text) => Ok(self.phrase(&text)),
            Token::Word { text, prefix: true } => match self.tokenizer.normalise_prefix(&text) {
                Some(p) => Ok(Clause::Pos(Query::Prefix(p))),
                None => Err(err(at, "'*' needs at least one character before it")),
            },
            Token::Word {
                text,
                prefix: false,
            } => Ok(self.phrase(&text)),
            Token::And | Token::Or => {
                Err(err(at, "an operator where a word, phrase or '(' should be"))
            }
            Token::Close => Err(err(at, "unmatched ')'")),
        }
    }

    fn deeper(&mut self, at: usize) -> Result<(), QueryParseError> {
        self.depth += 1;
        if self.depth > QUERY_DEPTH_MAX {
            return Err(err(at, "query nested more than 64 levels deep"));
        }
        Ok(())
    }

    /// A word or quoted text: its terms, as one term or a phrase keeping a
    /// placeholder for each word the tokenizer removed.
    fn phrase(&self, text: &str) -> Clause {
        let mut terms: Vec<String> = Vec::new();
        let mut first: Option<u32> = None;
        self.tokenizer.for_each_term(text, |term, token| {
            let base = *first.get_or_insert(token.position);
            let slot = (token.position - base) as usize;
            if slot < super::PHRASE_TERMS_MAX {
                terms.resize(slot, String::new());
                terms.push(term.to_string());
            }
        });
        match terms.len() {
            0 => Clause::Dropped,
            1 => Clause::Pos(Query::Term(terms.remove(0))),
            _ => Clause::Pos(Query::Phrase(terms)),
        }
    }
}

/// Joins clauses with `join` (And or Or); exclusions become `NOT`
/// children of an AND around the positive clauses.
fn combine(clauses: Vec<Clause>, join: fn(Vec<Query>) -> Query) -> Clause {
    let mut pos = Vec::new();
    let mut neg = Vec::new();
    for c in clauses {
        match c {
            Clause::Pos(q) => pos.push(q),
            Clause::Neg(q, at) => neg.push((q, at)),
            Clause::Dropped => {}
        }
    }
    let positive = match pos.len() {
        0 => None,
        1 => pos.pop(),
        _ => Some(join(pos)),
    };
    match (positive, neg.is_empty()) {
        (Some(q), true) => Clause::Pos(q),
        (None, true) => Clause::Dropped,
        (None, false) => {
            // Only exclusions: keep the first (the caller reports it if
            // nothing positive joins it higher up).
            let (q, at) = neg.remove(0);
            if neg.is_empty() {
                Clause::Neg(q, at)
            } else {
                let mut all = vec![q];
                all.extend(neg.into_iter().map(|(q, _)| q));
                Clause::Neg(Query::Or(all), at)
            }
        }
        (Some(q), false) => {
            let mut children = match q {
                Query::And(c) => c,
                other => vec![other],
            };
            children.extend(neg.into_iter().map(|(q, _)| Query::Not(Box::new(q))));
            Clause::Pos(Query::And(children))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenize::{Language, Segmenter, TokenizerConfig};
    use proptest::prelude::*;

    fn tok() -> Tokenizer {
        Tokenizer::new(TokenizerConfig {
            segmenter: Segmenter::Simple,
            stop_words: Some(Language::English),
            ..TokenizerConfig::default()
        })
    }

    fn t(s: &str) -> Query {
        Query::Term(s.into())
    }

    fn parse(s: &str, d: DefaultOperator) -> Result<Query, QueryParseError> {
        parse_query(s, &tok(), d)
    }

    #[test]
    fn operators_and_precedence() {
        use DefaultOperator::*;
        assert_eq!(
            parse("cat dog", And),
            Ok(Query::And(vec![t("cat"), t("dog")]))
        );
        assert_eq!(
            parse("cat dog", Or),
            Ok(Query::Or(vec![t("cat"), t("dog")]))
        );
        assert_eq!(
            parse("cat dog OR bird", And),
            Ok(Query::Or(vec![
                Query::And(vec![t("cat"), t("dog")]),
                t("bird")
            ]))
        );
        assert_eq!(
            parse("cat OR dog AND bird", Or),
            Ok(Query::Or(vec![
                t("cat"),
                Query::And(vec![t("dog"), t("bird")])
            ]))
        );
        assert_eq!(
            parse("(cat OR dog) AND bird", Or),
            Ok(Query::And(vec![
                Query::Or(vec![t("cat"), t("dog")]),
                t("bird")
            ]))
        );
        assert_eq!(
            parse("Cat and", Or),
            Ok(t("cat")),
            "lowercase 'and' is a stop word"
        );
    }

    #[test]
    fn exclusions_hoist_out_of_or() {
        use DefaultOperator::*;
        let not = |q| Query::Not(Box::new(q));
        assert_eq!(
            parse("cat -dog", Or),
            Ok(Query::And(vec![t("cat"), not(t("dog"))]))
        );
        assert_eq!(
            parse("cat NOT dog", And),
            Ok(Query::And(vec![t("cat"), not(t("dog"))]))
        );
        assert_eq!(
            parse("cat bird -dog", Or),
            Ok(Query::And(vec![
                Query::Or(vec![t("cat"), t("bird")]),
                not(t("dog"))
            ]))
        );
        assert_eq!(parse("NOT NOT cat", Or), Ok(t("cat")));
        assert_eq!(
            parse("e-mail", Or),
            Ok(Query::Phrase(vec!["e".into(), "mail".into()]))
        );
    }

    #[test]
    fn phrases_prefixes_and_stop_words() {
        use DefaultOperator::*;
        assert_eq!(
            parse("\"the cat in the hat\"", Or),
            Ok(Query::Phrase(vec![
                "cat".into(),
                "".into(),
                "".into(),
                "hat".into()
            ]))
        );
        assert_eq!(parse("Caté*", Or), Ok(Query::Prefix("caté".into())));
        assert_eq!(parse("the", Or), Ok(Query::Or(vec![])));
        assert_eq!(parse("", And), Ok(Query::Or(vec![])));
        assert_eq!(parse("cat the", And), Ok(t("cat")));
    }

    #[test]
    fn errors_name_the_position() {
        use DefaultOperator::*;
        let pos = |s: &str| parse(s, Or).err().map(|e| e.position);
        assert_eq!(pos("cat AND"), Some(7));
        assert_eq!(pos("OR cat"), Some(0));
        assert_eq!(pos("(cat"), Some(0));
        assert_eq!(pos("cat)"), Some(3));
        assert_eq!(pos("\"cat"), Some(0));
        assert_eq!(pos("()"), Some(0));
        assert_eq!(pos("*"), Some(0));
        assert_eq!(pos("-cat"), Some(0));
        assert_eq!(pos("\"a b\"*"), Some(5));
        assert!(parse(&"(".repeat(100), And).is_err());
    }

    proptest! {
        #[test]
        fn no_input_panics(text in "\\PC{0,40}|[a-z ()\"*ANDORT-]{0,40}") {
            let mut w = super::super::PartWriter::new();
            w.add_document([("cat", 0), ("dog", 1)]).expect("doc");
            let bytes = w.finish().expect("part");
            let part = super::super::Part::open(bytes.as_slice()).expect("part");
            let parts = [super::super::SearchPart {
                part: super::super::PartRef::Sealed(&part),
                live: super::super::Liveness::All,
            }];
            for d in [DefaultOperator::And, DefaultOperator::Or] {
                if let Ok(q) = parse_query(&text, &tok(), d) {
                    // Whatever parses, the search accepts.
                    let searched = super::super::search(&parts, &q, Default::default(), 3);
                    prop_assert!(
                        searched.is_ok() || matches!(searched, Err(super::super::QueryError::PrefixTooWide { .. })),
                        "{:?} -> {:?}", q, searched
                    );
                }
            }
        }
    }
}
