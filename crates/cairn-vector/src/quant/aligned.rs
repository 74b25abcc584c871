//! A growable array of `u64` words whose first word starts a cache line
//! (64-byte aligned), so that a code record of 8 words is one line, not
//! two halves of neighbouring ones.

#![allow(unsafe_code)]

/// One cache line of words.
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Line([u64; WORDS_PER_LINE]);

const WORDS_PER_LINE: usize = 8;

// The casts below rely on a `Line` being exactly its 8 words, no padding.
const _: () = assert!(std::mem::size_of::<Line>() == 8 * WORDS_PER_LINE);

#[derive(Clone, Default)]
pub(crate) struct AlignedWords {
    lines: Vec<Line>,
    /// Words in use (≤ `lines.len() * 8`); the rest of the last line is 0.
    len: usize,
}

impl AlignedWords {
    pub(crate) fn from_words(words: &[u64]) -> AlignedWords {
        let mut a = AlignedWords::default();
        a.extend_from_slice(words);
        a
    }

    pub(crate) fn with_capacity(words: usize) -> AlignedWords {
        AlignedWords {
            lines: Vec::with_capacity(words.div_ceil(WORDS_PER_LINE)),
            len: 0,
        }
    }

    pub(crate) fn extend_from_slice(&mut self, words: &[u64]) {
        let start = self.len;
        let end = start + words.len();
        self.lines
            .resize(end.div_ceil(WORDS_PER_LINE), Line::default());
        self.len = end;
        self.as_mut_slice()[start..end].copy_from_slice(words);
    }

    pub(crate) fn as_slice(&self) -> &[u64] {
        // SAFETY: `lines` holds `lines.len() * 8` initialised, contiguous
        // u64 (a `Line` is exactly 8 of them: `repr(C)`, size checked
        // above), and `len` never exceeds that; the slice borrows `self`.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<u64>(), self.len) }
    }

    fn as_mut_slice(&mut self) -> &mut [u64] {
        // SAFETY: as in `as_slice`, with the unique borrow of `self`.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<u64>(), self.len) }
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.lines.capacity() * std::mem::size_of::<Line>()
    }
}

impl PartialEq for AlignedWords {
    fn eq(&self, other: &AlignedWords) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl std::fmt::Debug for AlignedWords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlignedWords({} words)", self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_aligned() {
        let words: Vec<u64> = (0..21).map(|i| i * 0x0101_0101).collect();
        let mut a = AlignedWords::with_capacity(4);
        for chunk in words.chunks(5) {
            a.extend_from_slice(chunk);
            assert_eq!(a.as_slice().as_ptr() as usize % 64, 0);
        }
        assert_eq!(a.as_slice(), &words[..]);
        assert_eq!(AlignedWords::from_words(&words), a);
        assert!(AlignedWords::default().as_slice().is_empty());
    }
}
