//! `highlight()` and `snippet()`: where a query matches inside one text,
//! found by tokenizing the text again (nothing is read from the index, so
//! any stored text works, and offsets are the text's own bytes).
//!
//! A word is marked when it matches a positive clause of the query: a
//! term, a prefix, or a whole occurrence of a phrase (its words marked as
//! one span). Words under `NOT` are never marked. The output is the input
//! text with the markers inserted and nothing else changed.

use super::Query;
use crate::tokenize::Tokenizer;

/// Longest snippet, in words.
pub const SNIPPET_WORDS_MAX: usize = 1024;

/// One indexed word of the text: its term, position and byte range.
struct Word {
    term: String,
    position: u32,
    start: usize,
    end: usize,
}

/// The positive clauses of a query, flattened.
#[derive(Default)]
struct Targets {
    terms: Vec<String>,
    prefixes: Vec<String>,
    phrases: Vec<Vec<String>>,
}

fn collect_targets(q: &Query, out: &mut Targets) {
    match q {
        Query::Term(t) => out.terms.push(t.clone()),
        Query::Prefix(p) => out.prefixes.push(p.clone()),
        Query::Phrase(ts) => match ts.iter().filter(|t| !t.is_empty()).count() {
            0 => {}
            1 => out
                .terms
                .extend(ts.iter().filter(|t| !t.is_empty()).cloned()),
            _ => out.phrases.push(ts.clone()),
        },
        Query::Or(c) | Query::And(c) => c.iter().for_each(|q| collect_targets(q, out)),
        Query::Not(_) => {}
    }
}

/// Byte spans of `text` to mark, sorted, not overlapping, and the index of
/// the first word each covers (for snippets).
fn spans(
    text: &str,
    tokenizer: &Tokenizer,
    query: &Query,
) -> (Vec<Word>, Vec<(usize, usize, usize)>) {
    let mut targets = Targets::default();
    collect_targets(query, &mut targets);
    let mut words = Vec::new();
    tokenizer.for_each_term(text, |term, t| {
        words.push(Word {
            term: term.to_string(),
            position: t.position,
            start: t.start,
            end: t.end,
        })
    });
    // marked[i]: the word index where the span containing word i starts.
    let mut marked: Vec<Option<usize>> = vec![None; words.len()];
    for (i, w) in words.iter().enumerate() {
        if targets.terms.contains(&w.term)
            || targets
                .prefixes
                .iter()
                .any(|p| w.term.starts_with(p.as_str()))
        {
            marked[i] = Some(i);
        }
    }
    for phrase in &targets.phrases {
        for i in 0..words.len() {
            if let Some(last) = phrase_at(&words, i, phrase) {
                for m in marked.iter_mut().take(last + 1).skip(i) {
                    *m = Some(i);
                }
            }
        }
    }
    let mut out: Vec<(usize, usize, usize)> = Vec::new();
    for (i, m) in marked.iter().enumerate() {
        let Some(owner) = *m else { continue };
        match out.last_mut() {
            // Words of one phrase occurrence form one span.
            Some(span) if span.2 == owner && owner != i => span.1 = words[i].end,
            _ => out.push((words[i].start, words[i].end, owner)),
        }
    }
    (words, out)
}

/// If `phrase` occurs starting at word `i` (its first non-placeholder word
/// there), the index of its last word.
fn phrase_at(words: &[Word], i: usize, phrase: &[String]) -> Option<usize> {
    let first = phrase.iter().position(|t| !t.is_empty())?;
    let start = words[i].position.checked_sub(first as u32)?;
    if words[i].term != phrase[first] {
        return None;
    }
    let mut last = i;
    for (offset, t) in phrase.iter().enumerate().skip(first + 1) {
        if t.is_empty() {
            continue;
        }
        let want = start.checked_add(offset as u32)?;
        let j = words[last..].iter().position(|w| w.position == want)? + last;
        if words[j].term != *t {
            return None;
        }
        last = j;
    }
    Some(last)
}

/// `text` with each match wrapped in `open` … `close`.
pub fn highlight(
    text: &str,
    tokenizer: &Tokenizer,
    query: &Query,
    open: &str,
    close: &str,
) -> String {
    let (_, spans) = spans(text, tokenizer, query);
    mark(text, 0, text.len(), &spans, open, close)
}

fn mark(
    text: &str,
    from: usize,
    to: usize,
    spans: &[(usize, usize, usize)],
    open: &str,
    close: &str,
) -> String {
    let mut out = String::with_capacity(to - from + spans.len() * (open.len() + close.len()));
    let mut at = from;
    for &(s, e, _) in spans {
        if e <= from || s >= to {
            continue;
        }
        out.push_str(&text[at..s]);
        out.push_str(open);
        out.push_str(&text[s..e]);
        out.push_str(close);
        at = e;
    }
    out.push_str(&text[at..to]);
    out
}

/// The stretch of at most `max_words` words with the most distinct
/// matched terms (then the most matches, then the earliest), highlighted,
/// with `ellipsis` where it cuts the text. A text without matches gives
/// its first `max_words` words.
pub fn snippet(
    text: &str,
    tokenizer: &Tokenizer,
    query: &Query,
    open: &str,
    close: &str,
    ellipsis: &str,
    max_words: usize,
) -> String {
    let max_words = max_words.clamp(1, SNIPPET_WORDS_MAX);
    let (words, spans) = spans(text, tokenizer, query);
    if words.len() <= max_words {
        return mark(text, 0, text.len(), &spans, open, close);
    }
    // Which words are marked, and with which term (for distinctness).
    let mut hit: Vec<Option<&str>> = vec![None; words.len()];
    let mut s = 0;
    for (i, w) in words.iter().enumerate() {
        while s < spans.len() && spans[s].1 <= w.start {
            s += 1;
        }
        if s < spans.len() && spans[s].0 <= w.start {
            hit[i] = Some(w.term.as_str());
        }
    }
    let mut best = (0usize, 0usize, 0usize); // (distinct, total, start)
    for start in 0..=words.len() - max_words {
        let window = &hit[start..start + max_words];
        let mut distinct: Vec<&str> = window.iter().flatten().copied().collect();
        let total = distinct.len();
        distinct.sort_unstable();
        distinct.dedup();
        if (distinct.len(), total) > (best.0, best.1) {
            best = (distinct.len(), total, start);
        }
    }
    let first = best.2;
    let last = first + max_words - 1;
    let from = if first == 0 { 0 } else { words[first].start };
    let to = if last + 1 == words.len() {
        text.len()
    } else {
        words[last].end
    };
    let mut out = String::new();
    if from > 0 {
        out.push_str(ellipsis);
    }
    out.push_str(&mark(text, from, to, &spans, open, close));
    if to < text.len() {
        out.push_str(ellipsis);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bm25::{parse_query, DefaultOperator};
    use crate::tokenize::{Language, TokenizerConfig};
    use proptest::prelude::*;

    fn tok() -> Tokenizer {
        Tokenizer::new(TokenizerConfig {
            stop_words: Some(Language::English),
            ..TokenizerConfig::default()
        })
    }

    fn q(s: &str) -> Query {
        parse_query(s, &tok(), DefaultOperator::Or).expect("query")
    }

    #[test]
    fn marks_terms_prefixes_and_whole_phrases() {
        // (UAX #29 keeps "cat's" one word, so the text avoids it.)
        let text = "The Cat sat; the cat, hat. A catalog of hats, in the hat.";
        assert_eq!(
            highlight(text, &tok(), &q("cat"), "[", "]"),
            "The [Cat] sat; the [cat], hat. A catalog of hats, in the hat."
        );
        assert_eq!(
            highlight(text, &tok(), &q("cat* -hat"), "[", "]"),
            "The [Cat] sat; the [cat], hat. A [catalog] of hats, in the hat."
        );
        assert_eq!(
            highlight(text, &tok(), &q("\"catalog of hats\" sat"), "<b>", "</b>"),
            "The Cat <b>sat</b>; the cat, hat. A <b>catalog of hats</b>, in the hat."
        );
    }

    #[test]
    fn snippets_pick_the_densest_window() {
        let text = "one two three four five cat six seven dog eight nine ten";
        assert_eq!(
            snippet(text, &tok(), &q("cat dog"), "[", "]", "…", 4),
            "…[cat] six seven [dog]…"
        );
        assert_eq!(
            snippet(text, &tok(), &q("zebra"), "[", "]", "…", 3),
            "one two three…"
        );
        assert_eq!(
            snippet("a cat", &tok(), &q("cat"), "[", "]", "…", 10),
            "a [cat]"
        );
    }

    proptest! {
        #[test]
        fn markers_are_the_only_change(text in "\\PC{0,60}", query in "[a-z ]{0,12}") {
            let qy = q(&query);
            let out = highlight(&text, &tok(), &qy, "\u{1}", "\u{2}");
            let stripped: String = out.chars().filter(|c| *c != '\u{1}' && *c != '\u{2}').collect();
            let original: String = text.chars().filter(|c| *c != '\u{1}' && *c != '\u{2}').collect();
            prop_assert_eq!(stripped, original);
            let _ = snippet(&text, &tok(), &qy, "[", "]", "…", 5);
        }
    }
}
