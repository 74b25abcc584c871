//! Growable arrays of `u64` words or of bytes whose first element starts a
//! cache line (64-byte aligned), so that a code record of 8 words (or an
//! SQ8 code of 384 bytes) covers whole lines, not halves of neighbouring
//! ones.

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

/// Bytes, 64-byte aligned (see the module docs).
#[derive(Clone, Default)]
pub(crate) struct AlignedBytes {
    lines: Vec<Line>,
    /// Bytes in use (≤ `lines.len() * 64`); the rest of the last line is 0.
    len: usize,
}

const BYTES_PER_LINE: usize = 8 * WORDS_PER_LINE;

impl AlignedBytes {
    pub(crate) fn from_bytes(bytes: &[u8]) -> AlignedBytes {
        let mut a = AlignedBytes {
            lines: Vec::with_capacity(bytes.len().div_ceil(BYTES_PER_LINE)),
            len: 0,
        };
        a.extend_from_slice(bytes);
        a
    }

    pub(crate) fn extend_from_slice(&mut self, bytes: &[u8]) {
        let start = self.len;
        let end = start + bytes.len();
        self.lines
            .resize(end.div_ceil(BYTES_PER_LINE), Line::default());
        self.len = end;
        self.as_mut_slice()[start..end].copy_from_slice(bytes);
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: `lines` holds `lines.len() * 64` initialised, contiguous
        // bytes (a `Line` is 8 u64 with no padding; any initialised memory
        // can be read as u8, which has no alignment requirement), and
        // `len` never exceeds that; the slice borrows `self`.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<u8>(), self.len) }
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, with the unique borrow of `self`; every
        // byte pattern written is a valid part of a u64.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<u8>(), self.len) }
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.lines.capacity() * std::mem::size_of::<Line>()
    }
}

impl PartialEq for AlignedBytes {
    fn eq(&self, other: &AlignedBytes) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl std::fmt::Debug for AlignedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlignedBytes({} bytes)", self.len)
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

    #[test]
    fn bytes_round_trip_aligned() {
        let bytes: Vec<u8> = (0..200u32).map(|i| (i * 7) as u8).collect();
        let mut a = AlignedBytes::default();
        for chunk in bytes.chunks(37) {
            a.extend_from_slice(chunk);
            assert_eq!(a.as_slice().as_ptr() as usize % 64, 0);
        }
        assert_eq!(a.as_slice(), &bytes[..]);
        assert_eq!(AlignedBytes::from_bytes(&bytes), a);
        assert!(AlignedBytes::default().as_slice().is_empty());
    }
}
