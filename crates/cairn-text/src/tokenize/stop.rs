//! Stop words: very common words dropped from the index when a tokenizer
//! asks for them. The English list is the short classic one (33 function
//! words) that Lucene-family engines default to: short enough that no
//! content word is lost.

use super::Language;

const ENGLISH: [&str; 33] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// Whether `term` (already lowercased) is a stop word of `language`.
pub(crate) fn is_stop_word(language: Language, term: &str) -> bool {
    match language {
        Language::English => ENGLISH.binary_search(&term).is_ok(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn list_is_sorted_for_binary_search() {
        assert!(super::ENGLISH.windows(2).all(|w| w[0] < w[1]));
    }
}
