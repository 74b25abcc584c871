//! The tokenizer pipeline: segment text into words, then normalise each
//! word (lowercase, optional ASCII folding, optional stop-word removal,
//! optional English stemming) into the *term* that is indexed and searched.
//!
//! Invariants: the same text and configuration give the same terms on every
//! machine; positions count every word the segmenter found, removed ones
//! included, so a phrase never matches across a removed word; byte offsets
//! always lie on `char` boundaries of the input; no input panics.

mod fold;
mod stop;

use std::borrow::Cow;

use unicode_segmentation::UnicodeSegmentation;

/// Longest term kept, in bytes (after normalisation). Longer words are
/// dropped from the index (they still take a position), as tantivy's and
/// Lucene's long-token filters do: such words are nearly always base64,
/// hashes or URLs, and they would bloat the term dictionary.
pub const TERM_BYTES_MAX: usize = 255;

/// How text is cut into words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segmenter {
    /// Maximal runs of alphanumeric characters (`char::is_alphanumeric`):
    /// everything else separates words. tantivy's `SimpleTokenizer` rule,
    /// and the passage corpus's counting rule.
    Simple,
    /// Unicode word boundaries (UAX #29), keeping the words that contain a
    /// letter or a digit: `don't`, `3.14` and `e.g` stay whole.
    Unicode,
}

/// A language for stemming and stop words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    English,
}

/// What the pipeline does to each word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenizerConfig {
    pub segmenter: Segmenter,
    pub lowercase: bool,
    /// Fold letters with diacritics and compatibility forms to ASCII where
    /// a plain ASCII spelling exists (`é` → `e`, `ß` → `ss`, `ﬁ` → `fi`).
    pub ascii_fold: bool,
    pub stop_words: Option<Language>,
    pub stem: Option<Language>,
}

impl Default for TokenizerConfig {
    /// Unicode words, lowercased; no folding, no stop words, no stemming.
    fn default() -> Self {
        TokenizerConfig {
            segmenter: Segmenter::Unicode,
            lowercase: true,
            ascii_fold: false,
            stop_words: None,
            stem: None,
        }
    }
}

/// One word found in the input: where it is and its position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    /// The word's index among all words of the text (removed words count).
    pub position: u32,
    /// Byte range of the word in the input text.
    pub start: usize,
    pub end: usize,
}

/// A configured pipeline. Cheap to clone; holds no per-call state.
#[derive(Clone)]
pub struct Tokenizer {
    config: TokenizerConfig,
    stemmer: Option<frostem::Stemmer>,
}

impl Tokenizer {
    pub fn new(config: TokenizerConfig) -> Tokenizer {
        let stemmer = config.stem.map(|language| match language {
            Language::English => frostem::Stemmer::new(frostem::Algorithm::English),
        });
        Tokenizer { config, stemmer }
    }

    pub fn config(&self) -> &TokenizerConfig {
        &self.config
    }

    /// Calls `emit(term, token)` for every indexed term of `text`, in order.
    pub fn for_each_term(&self, text: &str, mut emit: impl FnMut(&str, Token)) {
        let mut buf = String::new();
        let mut fold_buf = String::new();
        let mut position: u32 = 0;
        self.for_each_word(text, |start, end| {
            let token = Token {
                position,
                start,
                end,
            };
            position = position.saturating_add(1);
            if let Some(term) = self.normalise(&text[start..end], &mut buf, &mut fold_buf) {
                emit(&term, token);
            }
        });
    }

    /// The indexed terms of `text`, in order (a convenience for tests and
    /// query parsing; indexing uses [`Tokenizer::for_each_term`]).
    pub fn terms(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_term(text, |term, _| out.push(term.to_string()));
        out
    }

    /// A query prefix (`term*`) normalised as indexed terms are, except
    /// that it is never stemmed (a stem of a prefix is not a prefix of the
    /// stems) nor dropped as a stop word; `None` if nothing is left.
    pub fn normalise_prefix(&self, prefix: &str) -> Option<String> {
        let mut buf = String::new();
        if self.config.lowercase {
            buf.extend(prefix.chars().flat_map(char::to_lowercase));
        } else {
            buf.push_str(prefix);
        }
        if self.config.ascii_fold && !buf.is_ascii() {
            let mut folded = String::new();
            fold::fold_into(&buf, &mut folded);
            buf = folded;
        }
        (!buf.is_empty() && buf.len() <= TERM_BYTES_MAX).then_some(buf)
    }

    /// Byte ranges of the words of `text`, before normalisation.
    fn for_each_word(&self, text: &str, mut word: impl FnMut(usize, usize)) {
        match self.config.segmenter {
            Segmenter::Simple => simple_words(text, word),
            Segmenter::Unicode => {
                for (start, w) in text.unicode_word_indices() {
                    word(start, start + w.len());
                }
            }
        }
    }

    /// The term for one word, or `None` when the pipeline drops it.
    fn normalise<'a>(
        &self,
        word: &'a str,
        buf: &'a mut String,
        fold_buf: &'a mut String,
    ) -> Option<Cow<'a, str>> {
        buf.clear();
        if self.config.lowercase {
            if word.is_ascii() {
                buf.push_str(word);
                buf.make_ascii_lowercase();
            } else {
                buf.extend(word.chars().flat_map(char::to_lowercase));
            }
        } else {
            buf.push_str(word);
        }
        let mut term: &str = buf;
        if self.config.ascii_fold && !term.is_ascii() {
            fold_buf.clear();
            fold::fold_into(term, fold_buf);
            term = fold_buf;
        }
        if let Some(language) = self.config.stop_words {
            if stop::is_stop_word(language, term) {
                return None;
            }
        }
        let term = match &self.stemmer {
            Some(stemmer) => stemmer.stem(term),
            None => Cow::Borrowed(term),
        };
        if term.is_empty() || term.len() > TERM_BYTES_MAX {
            return None;
        }
        Some(term)
    }
}

/// Maximal runs of alphanumeric characters, with an ASCII fast path.
fn simple_words(text: &str, mut word: impl FnMut(usize, usize)) {
    let bytes = text.as_bytes();
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (alnum, len) = if b < 0x80 {
            (b.is_ascii_alphanumeric(), 1)
        } else {
            match text[i..].chars().next() {
                Some(c) => (c.is_alphanumeric(), c.len_utf8()),
                None => (false, 1),
            }
        };
        match (alnum, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                word(s, i);
                start = None;
            }
            _ => {}
        }
        i += len;
    }
    if let Some(s) = start {
        word(s, bytes.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simple() -> Tokenizer {
        Tokenizer::new(TokenizerConfig {
            segmenter: Segmenter::Simple,
            ..TokenizerConfig::default()
        })
    }

    #[test]
    fn simple_splits_on_non_alphanumerics() {
        let t = simple();
        assert_eq!(
            t.terms("Hello, World! it's 3.14 café_au-lait"),
            ["hello", "world", "it", "s", "3", "14", "café", "au", "lait"]
        );
        assert!(t.terms("").is_empty());
        assert!(t.terms(" ,.;- ").is_empty());
    }

    #[test]
    fn unicode_keeps_words_whole() {
        let t = Tokenizer::new(TokenizerConfig::default());
        assert_eq!(
            t.terms("Don't stop: 3.14, e.g. Straße"),
            ["don't", "stop", "3.14", "e.g", "straße"]
        );
    }

    #[test]
    fn positions_count_removed_words() {
        let t = Tokenizer::new(TokenizerConfig {
            stop_words: Some(Language::English),
            ..TokenizerConfig::default()
        });
        let mut seen = Vec::new();
        t.for_each_term("the cat and the hat", |term, tok| {
            seen.push((term.to_string(), tok.position, tok.start, tok.end))
        });
        assert_eq!(seen, [("cat".into(), 1, 4, 7), ("hat".into(), 4, 16, 19)]);
    }

    #[test]
    fn folding_and_stemming() {
        let t = Tokenizer::new(TokenizerConfig {
            ascii_fold: true,
            stem: Some(Language::English),
            ..TokenizerConfig::default()
        });
        assert_eq!(
            t.terms("Crème brûlée connections ﬁnal Ærø straße"),
            ["creme", "brule", "connect", "final", "aero", "strass"]
        );
    }

    #[test]
    fn long_words_are_dropped_but_take_a_position() {
        let t = simple();
        let long = "x".repeat(TERM_BYTES_MAX + 1);
        let mut seen = Vec::new();
        t.for_each_term(&format!("a {long} b"), |term, tok| {
            seen.push((term.to_string(), tok.position))
        });
        assert_eq!(seen, [("a".into(), 0), ("b".into(), 2)]);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn configs() -> Vec<Tokenizer> {
        let mut out = Vec::new();
        for segmenter in [Segmenter::Simple, Segmenter::Unicode] {
            for (fold, stem) in [(false, None), (true, Some(Language::English))] {
                out.push(Tokenizer::new(TokenizerConfig {
                    segmenter,
                    lowercase: true,
                    ascii_fold: fold,
                    stop_words: stem,
                    stem,
                }));
            }
        }
        out
    }

    proptest! {
        #[test]
        fn any_text_tokenizes_without_panic(text in "\\PC{0,80}|[a-zA-Z0-9 ,.'_-]{0,80}") {
            for t in configs() {
                let mut last: Option<u32> = None;
                t.for_each_term(&text, |term, tok| {
                    assert!(!term.is_empty() && term.len() <= TERM_BYTES_MAX);
                    assert!(tok.start < tok.end && text.is_char_boundary(tok.start) && text.is_char_boundary(tok.end));
                    assert!(last.is_none_or(|l| tok.position > l));
                    last = Some(tok.position);
                });
            }
        }

        #[test]
        fn simple_words_are_alphanumeric_runs(text in "\\PC{0,60}") {
            let t = Tokenizer::new(TokenizerConfig { segmenter: Segmenter::Simple, lowercase: false, ..TokenizerConfig::default() });
            let expected: Vec<String> = text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty() && w.len() <= TERM_BYTES_MAX)
                .map(str::to_string)
                .collect();
            prop_assert_eq!(t.terms(&text), expected);
        }
    }
}
