//! One-byte field norms: a document's length (its number of indexed terms)
//! stored in one byte — exact below 24, then a float with a 3-bit mantissa
//! (the classic Lucene `SmallFloat.intToByte4` scale, also tantivy's, so
//! scores agree with theirs). Decoding rounds down: `decode(encode(n)) <= n`,
//! and `encode` is monotone, which the block bounds rely on.

/// Lengths below this are stored exactly.
const EXACT_BELOW: u32 = 24;
/// Longest length the scale distinguishes; longer ones saturate to it.
pub const NORM_LEN_MAX: u32 = i32::MAX as u32;

fn int4_encode(i: u32) -> u32 {
    let bits = 32 - i.leading_zeros();
    if bits < 4 {
        i
    } else {
        let shift = bits - 4;
        ((i >> shift) & 0x07) | ((shift + 1) << 3)
    }
}

fn int4_decode(code: u32) -> u32 {
    let mantissa = code & 0x07;
    match code >> 3 {
        0 => mantissa,
        e => (mantissa | 0x08) << (e - 1),
    }
}

/// The norm byte of a document of `len` terms.
pub fn encode(len: u32) -> u8 {
    let len = len.min(NORM_LEN_MAX);
    if len < EXACT_BELOW {
        len as u8
    } else {
        // At most 24 + 231 = 255 for `len <= i32::MAX`.
        (EXACT_BELOW + int4_encode(len - EXACT_BELOW)).min(255) as u8
    }
}

/// The length a norm byte stands for (a lower bound of the true length).
pub fn decode(norm: u8) -> u32 {
    let code = u32::from(norm);
    if code < EXACT_BELOW {
        code
    } else {
        EXACT_BELOW + int4_decode(code - EXACT_BELOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_then_rounded_down_and_monotone() {
        for n in 0..EXACT_BELOW {
            assert_eq!(decode(encode(n)), n);
        }
        let mut last = 0u8;
        for n in (0..5_000u32).chain([1 << 20, 1 << 30, NORM_LEN_MAX, u32::MAX]) {
            let code = encode(n);
            assert!(code >= last, "encode not monotone at {n}");
            assert!(
                decode(code) <= n.min(NORM_LEN_MAX),
                "{n} decodes above itself"
            );
            last = code;
        }
        assert_eq!(encode(NORM_LEN_MAX), 255);
        assert_eq!(decode(255), 2_013_265_944);
        for code in 0..=255u8 {
            assert_eq!(encode(decode(code)), code);
        }
    }
}
