//! Fixed-width bit packing of blocks of 128 `u32`s, and LEB128 varints.
//!
//! A packed block of width `w` is `16 * w` bytes: four interleaved lanes
//! (value `i` lives in lane `i % 4`), each a little-endian stream of 32
//! `w`-bit values in `u32` words, word `k` of lane `l` at word index
//! `4 k + l`. The layout lets the unpack loop work on four lanes at once,
//! which the compiler turns into SIMD without `unsafe`.
//!
//! Decoders never panic: short input yields `None`.

pub const BLOCK_LEN: usize = 128;

/// Bytes of one packed block of `width` bits.
pub const fn packed_len(width: u8) -> usize {
    16 * width as usize
}

/// Bits needed for the largest of `values`.
pub fn width_of(values: &[u32]) -> u8 {
    let max = values.iter().fold(0, |a, &v| a | v);
    (32 - max.leading_zeros()) as u8
}

/// Appends `values` packed at `width` bits (every value must fit).
pub fn pack(values: &[u32; BLOCK_LEN], width: u8, out: &mut Vec<u8>) {
    let w = usize::from(width);
    debug_assert!(w <= 32 && values.iter().all(|&v| w == 32 || v >> w == 0));
    let mut words = [0u32; BLOCK_LEN];
    for j in 0..32 {
        let bit = j * w;
        let (w0, s) = (bit / 32, bit % 32);
        for l in 0..4 {
            let v = values[j * 4 + l];
            if w == 0 {
                continue;
            }
            words[w0 * 4 + l] |= v << s;
            if s + w > 32 {
                words[(w0 + 1) * 4 + l] |= v >> (32 - s);
            }
        }
    }
    for word in &words[..w * 4] {
        out.extend_from_slice(&word.to_le_bytes());
    }
}

#[inline(always)]
fn unpack_width<const W: usize>(input: &[u8], out: &mut [u32; BLOCK_LEN]) {
    let mut words = [0u32; BLOCK_LEN];
    for (word, bytes) in words.iter_mut().zip(input.chunks_exact(4)).take(W * 4) {
        *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    if W == 0 {
        out.fill(0);
        return;
    }
    let mask = if W == 32 { u32::MAX } else { (1u32 << W) - 1 };
    for j in 0..32 {
        let bit = j * W;
        let (w0, s) = (bit / 32, bit % 32);
        for l in 0..4 {
            let mut v = words[w0 * 4 + l] >> s;
            if s + W > 32 {
                v |= words[(w0 + 1) * 4 + l] << (32 - s);
            }
            out[j * 4 + l] = v & mask;
        }
    }
}

/// Unpacks one block of `width` bits from the front of `input`.
pub fn unpack(input: &[u8], width: u8, out: &mut [u32; BLOCK_LEN]) -> Option<()> {
    let input = input.get(..packed_len(width))?;
    macro_rules! dispatch {
        ($($w:literal)*) => {
            match width {
                $($w => unpack_width::<$w>(input, out),)*
                _ => return None,
            }
        };
    }
    dispatch!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
    Some(())
}

/// Appends `v` as a LEB128 varint.
pub fn put_vint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a LEB128 varint at `*pos`, advancing it.
#[inline]
pub fn get_vint(input: &[u8], pos: &mut usize) -> Option<u32> {
    let mut v: u32 = 0;
    for shift in (0..35).step_by(7) {
        let b = *input.get(*pos)?;
        *pos += 1;
        if shift == 28 && b > 0x0f {
            return None;
        }
        v |= u32::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Moves `*pos` past `n` varints (each ends at a byte below 0x80):
/// counts terminators 32 bytes at a time, which the compiler vectorises.
/// `None` if the input ends first.
#[inline]
pub fn skip_vints(input: &[u8], pos: &mut usize, mut n: usize) -> Option<()> {
    let mut at = *pos;
    while n > 0 {
        if let Some(chunk) = input.get(at..at + 32) {
            let ends = chunk.iter().filter(|&&b| b < 0x80).count();
            if ends < n {
                n -= ends;
                at += 32;
                continue;
            }
        }
        let b = *input.get(at)?;
        at += 1;
        n -= usize::from(b < 0x80);
    }
    *pos = at;
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pack_round_trips(seed in any::<u64>(), width in 0u8..=32) {
            let mut values = [0u32; BLOCK_LEN];
            let mut x = seed | 1;
            for v in values.iter_mut() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                *v = if width == 0 { 0 } else { (x as u32) >> (32 - u32::from(width)) };
            }
            prop_assert!(width_of(&values) <= width);
            let mut buf = Vec::new();
            pack(&values, width, &mut buf);
            prop_assert_eq!(buf.len(), packed_len(width));
            let mut out = [7u32; BLOCK_LEN];
            prop_assert!(unpack(&buf, width, &mut out).is_some());
            prop_assert_eq!(out, values);
            prop_assert!(unpack(&buf[..buf.len().saturating_sub(1)], width, &mut out).is_none() || width == 0);
        }

        #[test]
        fn vint_round_trips(v in any::<u32>()) {
            let mut buf = Vec::new();
            put_vint(&mut buf, v);
            let mut pos = 0;
            prop_assert_eq!(get_vint(&buf, &mut pos), Some(v));
            prop_assert_eq!(pos, buf.len());
            let mut pos = 0;
            prop_assert_eq!(get_vint(&buf[..buf.len() - 1], &mut pos), None);
        }

        #[test]
        fn skip_vints_matches_decoding(values in proptest::collection::vec(any::<u32>().prop_map(|v| v >> (v % 32)), 0..200), skip in 0usize..220) {
            let mut buf = Vec::new();
            for &v in &values {
                put_vint(&mut buf, v);
            }
            let mut fast = 0;
            let got = skip_vints(&buf, &mut fast, skip);
            let mut slow = 0;
            let mut ok = true;
            for _ in 0..skip {
                if get_vint(&buf, &mut slow).is_none() {
                    ok = false;
                    break;
                }
            }
            prop_assert_eq!(got.is_some(), ok);
            if ok {
                prop_assert_eq!(fast, slow);
            }
        }

        #[test]
        fn vint_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            let mut pos = 0;
            while pos < bytes.len() && get_vint(&bytes, &mut pos).is_some() {}
        }
    }
}
