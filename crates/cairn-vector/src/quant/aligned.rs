//! A growable array of `u64` words or of bytes whose first element starts
//! a cache line (64-byte aligned), so that a code record of 8 words (or an
//! SQ8 code of 384 bytes) covers whole lines, not parts of neighbouring
//! ones.

#![allow(unsafe_code)]

use std::marker::PhantomData;

/// One cache line.
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Line([u64; 8]);

const LINE_BYTES: usize = 64;

// The casts below rely on a `Line` being exactly its 64 bytes, no padding.
const _: () = assert!(std::mem::size_of::<Line>() == LINE_BYTES);

/// The element types an [`Aligned`] holds: plain integers for which every
/// bit pattern is a value and whose alignment divides a line's. Sealed:
/// only `u8` and `u64`.
pub(crate) trait Plain: Copy + PartialEq + sealed::Sealed {}
impl Plain for u8 {}
impl Plain for u64 {}
mod sealed {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for u64 {}
}

#[derive(Clone)]
pub(crate) struct Aligned<T: Plain> {
    lines: Vec<Line>,
    /// Elements in use (≤ the lines' capacity in `T`); the rest of the last
    /// line is 0.
    len: usize,
    _element: PhantomData<T>,
}

pub(crate) type AlignedWords = Aligned<u64>;
pub(crate) type AlignedBytes = Aligned<u8>;

impl<T: Plain> Default for Aligned<T> {
    fn default() -> Aligned<T> {
        Aligned {
            lines: Vec::new(),
            len: 0,
            _element: PhantomData,
        }
    }
}

impl<T: Plain> Aligned<T> {
    const PER_LINE: usize = LINE_BYTES / std::mem::size_of::<T>();

    pub(crate) fn with_capacity(elements: usize) -> Aligned<T> {
        Aligned {
            lines: Vec::with_capacity(elements.div_ceil(Self::PER_LINE)),
            ..Aligned::default()
        }
    }

    pub(crate) fn from_slice(elements: &[T]) -> Aligned<T> {
        let mut a = Aligned::with_capacity(elements.len());
        a.extend_from_slice(elements);
        a
    }

    pub(crate) fn extend_from_slice(&mut self, elements: &[T]) {
        let start = self.len;
        let end = start + elements.len();
        self.lines
            .resize(end.div_ceil(Self::PER_LINE), Line::default());
        self.len = end;
        self.as_mut_slice()[start..end].copy_from_slice(elements);
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        // SAFETY: `lines` holds `lines.len() * PER_LINE` initialised,
        // contiguous `T`: a `Line` is 64 bytes with no padding, `T` (u8 or
        // u64, sealed) accepts every bit pattern and its alignment divides
        // 64; `len` never exceeds that count; the slice borrows `self`.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<T>(), self.len) }
    }

    fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as in `as_slice`, with the unique borrow of `self`; any
        // `T` written is valid bytes of a `Line`.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<T>(), self.len) }
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.lines.capacity() * LINE_BYTES
    }
}

impl<T: Plain> PartialEq for Aligned<T> {
    fn eq(&self, other: &Aligned<T>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Plain> std::fmt::Debug for Aligned<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Aligned({} elements)", self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Plain + std::fmt::Debug>(elements: &[T], chunk: usize) {
        let mut a = Aligned::<T>::with_capacity(4);
        for c in elements.chunks(chunk) {
            a.extend_from_slice(c);
            assert_eq!(a.as_slice().as_ptr() as usize % 64, 0);
        }
        assert_eq!(a.as_slice(), elements);
        assert_eq!(Aligned::from_slice(elements), a);
        assert!(Aligned::<T>::default().as_slice().is_empty());
    }

    #[test]
    fn words_and_bytes_round_trip_aligned() {
        let words: Vec<u64> = (0..21).map(|i| i * 0x0101_0101).collect();
        round_trip(&words, 5);
        let bytes: Vec<u8> = (0..200u32).map(|i| (i * 7) as u8).collect();
        round_trip(&bytes, 37);
    }
}
