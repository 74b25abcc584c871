//! Canonical bytes of a row and of a primary key (RFC 0002 §2.2), so a
//! verifier can hash what a proof carries and read it back (for example a
//! vector whose distance it recomputes).
//!
//! ```text
//! values := u32 LE count, then count values
//! value  := tag u8, payload
//!   0 NULL       —
//!   1 INTEGER    i64 LE
//!   2 REAL       f64 bits LE (-0.0 written as +0.0; NaN never occurs)
//!   3 TEXT       u32 LE length, UTF-8
//!   4 BLOB       u32 LE length, bytes
//!   5 BOOLEAN    u8 0 | 1
//!   6 TIMESTAMP  i64 LE microseconds since the Unix epoch
//!   7 JSON       u32 LE length, UTF-8 JSON text
//!   8 VECTOR     u32 LE dims, f32 bits LE each
//!   9 HALFVEC    u32 LE dims, f16 bits LE each
//! ```
//!
//! A row's content hash is `hash(Row, values of every column)`; a key's
//! hash is `hash(Key, values of the primary key columns)` (every column for
//! a table without one). Decoding is strict: known tags, exact lengths,
//! valid UTF-8, no trailing bytes. Never panics.

use crate::hash::{hash, Domain, Hash};

/// A decoded canonical value.
#[derive(Clone, Debug, PartialEq)]
pub enum CanonValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Boolean(bool),
    Timestamp(i64),
    Json(String),
    Vector(Vec<f32>),
    /// f16 bit patterns.
    HalfVec(Vec<u16>),
}

/// Tag bytes of the canonical encoding.
pub mod tag {
    pub const NULL: u8 = 0;
    pub const INTEGER: u8 = 1;
    pub const REAL: u8 = 2;
    pub const TEXT: u8 = 3;
    pub const BLOB: u8 = 4;
    pub const BOOLEAN: u8 = 5;
    pub const TIMESTAMP: u8 = 6;
    pub const JSON: u8 = 7;
    pub const VECTOR: u8 = 8;
    pub const HALFVEC: u8 = 9;
}

/// Appends `len` as the u32 LE length prefix (saturating: no value Cairn
/// stores is 4 GiB long).
pub fn put_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
}

/// Appends a tag, the u32 LE length of `bytes` and `bytes` (TEXT, BLOB,
/// JSON).
pub fn put_tagged_bytes(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Canonical REAL bits: -0.0 becomes +0.0.
pub fn real_bits(f: f64) -> u64 {
    if f == 0.0 {
        0
    } else {
        f.to_bits()
    }
}

impl CanonValue {
    /// Appends this value's canonical bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            CanonValue::Null => out.push(tag::NULL),
            CanonValue::Integer(i) => {
                out.push(tag::INTEGER);
                out.extend_from_slice(&i.to_le_bytes());
            }
            CanonValue::Real(f) => {
                out.push(tag::REAL);
                out.extend_from_slice(&real_bits(*f).to_le_bytes());
            }
            CanonValue::Text(s) => put_tagged_bytes(out, tag::TEXT, s.as_bytes()),
            CanonValue::Json(s) => put_tagged_bytes(out, tag::JSON, s.as_bytes()),
            CanonValue::Blob(b) => put_tagged_bytes(out, tag::BLOB, b),
            CanonValue::Boolean(b) => {
                out.push(tag::BOOLEAN);
                out.push(u8::from(*b));
            }
            CanonValue::Timestamp(t) => {
                out.push(tag::TIMESTAMP);
                out.extend_from_slice(&t.to_le_bytes());
            }
            CanonValue::Vector(v) => {
                out.push(tag::VECTOR);
                put_len(out, v.len());
                for x in v {
                    out.extend_from_slice(&x.to_bits().to_le_bytes());
                }
            }
            CanonValue::HalfVec(v) => {
                out.push(tag::HALFVEC);
                put_len(out, v.len());
                for x in v {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
        }
    }

    /// A short readable form (for `cairn verify` output).
    pub fn display(&self) -> String {
        match self {
            CanonValue::Null => "NULL".into(),
            CanonValue::Integer(i) => i.to_string(),
            CanonValue::Real(f) => format!("{f:?}"),
            CanonValue::Text(s) => format!("{s:?}"),
            CanonValue::Blob(b) => format!(
                "x'{}'",
                b.iter().map(|x| format!("{x:02x}")).collect::<String>()
            ),
            CanonValue::Boolean(b) => b.to_string(),
            CanonValue::Timestamp(t) => format!("timestamp({t})"),
            CanonValue::Json(s) => s.clone(),
            CanonValue::Vector(v) => format!("vector[{} dims]", v.len()),
            CanonValue::HalfVec(v) => format!("halfvec[{} dims]", v.len()),
        }
    }
}

/// The canonical bytes of a list of values.
pub fn encode_values(values: &[CanonValue]) -> Vec<u8> {
    let mut out = Vec::new();
    put_len(&mut out, values.len());
    for v in values {
        v.encode(&mut out);
    }
    out
}

/// Why bytes are not canonical values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowDecodeError {
    /// Byte offset of the problem.
    pub offset: usize,
}

impl std::fmt::Display for RowDecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed canonical values at byte {}", self.offset)
    }
}

impl std::error::Error for RowDecodeError {}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RowDecodeError> {
        let s = self
            .at
            .checked_add(n)
            .and_then(|end| self.bytes.get(self.at..end))
            .ok_or(RowDecodeError { offset: self.at })?;
        self.at += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], RowDecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn len(&mut self, unit: usize) -> Result<usize, RowDecodeError> {
        let at = self.at;
        let n = u32::from_le_bytes(self.array()?) as usize;
        // Every element needs at least `unit` bytes: reject absurd counts
        // before allocating.
        if n.saturating_mul(unit) > self.bytes.len().saturating_sub(self.at) {
            return Err(RowDecodeError { offset: at });
        }
        Ok(n)
    }
    fn text(&mut self) -> Result<String, RowDecodeError> {
        let at = self.at;
        let n = self.len(1)?;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| RowDecodeError { offset: at })
    }
}

/// Decodes canonical values; strict (see the module doc).
pub fn decode_values(bytes: &[u8]) -> Result<Vec<CanonValue>, RowDecodeError> {
    let mut c = Cursor { bytes, at: 0 };
    let n = c.len(1)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let at = c.at;
        let t = c.array::<1>()?[0];
        out.push(match t {
            tag::NULL => CanonValue::Null,
            tag::INTEGER => CanonValue::Integer(i64::from_le_bytes(c.array()?)),
            tag::REAL => {
                let bits = u64::from_le_bytes(c.array()?);
                let f = f64::from_bits(bits);
                // Only canonical REALs: no NaN, no negative zero.
                if f.is_nan() || real_bits(f) != bits {
                    return Err(RowDecodeError { offset: at });
                }
                CanonValue::Real(f)
            }
            tag::TEXT => CanonValue::Text(c.text()?),
            tag::JSON => CanonValue::Json(c.text()?),
            tag::BLOB => {
                let n = c.len(1)?;
                CanonValue::Blob(c.take(n)?.to_vec())
            }
            tag::BOOLEAN => match c.array::<1>()?[0] {
                0 => CanonValue::Boolean(false),
                1 => CanonValue::Boolean(true),
                _ => return Err(RowDecodeError { offset: at }),
            },
            tag::TIMESTAMP => CanonValue::Timestamp(i64::from_le_bytes(c.array()?)),
            tag::VECTOR => {
                let n = c.len(4)?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(f32::from_bits(u32::from_le_bytes(c.array()?)));
                }
                CanonValue::Vector(v)
            }
            tag::HALFVEC => {
                let n = c.len(2)?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(u16::from_le_bytes(c.array()?));
                }
                CanonValue::HalfVec(v)
            }
            _ => return Err(RowDecodeError { offset: at }),
        });
    }
    if c.at != bytes.len() {
        return Err(RowDecodeError { offset: c.at });
    }
    Ok(out)
}

/// `hash(Key, key bytes)`: where a row sits in its table's trie.
pub fn key_hash(key_bytes: &[u8]) -> Hash {
    hash(Domain::Key, key_bytes)
}

/// `hash(Row, row bytes)`: a row's content hash.
pub fn content_hash(row_bytes: &[u8]) -> Hash {
    hash(Domain::Row, row_bytes)
}

/// An f16 bit pattern as f32 (IEEE 754 binary16), for distance checks.
pub fn f16_bits_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let frac = u32::from(h & 0x3ff);
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: normalise.
            let shift = f.leading_zeros() - 21;
            let frac = (f << shift) & 0x3ff;
            sign | ((113 - shift) << 23) | (frac << 13)
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 112) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        let vals = vec![
            CanonValue::Null,
            CanonValue::Integer(-5),
            CanonValue::Real(1.5),
            CanonValue::Text("héllo".into()),
            CanonValue::Blob(vec![0, 255]),
            CanonValue::Boolean(true),
            CanonValue::Timestamp(1_700_000_000_000_000),
            CanonValue::Json("{\"a\":1}".into()),
            CanonValue::Vector(vec![0.5, -1.0]),
            CanonValue::HalfVec(vec![0x3c00]),
        ];
        let b = encode_values(&vals);
        assert_eq!(decode_values(&b), Ok(vals));
        for cut in 0..b.len() {
            assert!(decode_values(&b[..cut]).is_err(), "prefix {cut}");
        }
        let mut extra = b.clone();
        extra.push(0);
        assert!(decode_values(&extra).is_err());
        // Negative zero is written as +0.0 and read back as such.
        let z = encode_values(&[CanonValue::Real(-0.0)]);
        assert_eq!(z, encode_values(&[CanonValue::Real(0.0)]));
        // A huge count does not allocate.
        assert!(decode_values(&[0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn half_conversion() {
        assert_eq!(f16_bits_to_f32(0x3c00), 1.0);
        assert_eq!(f16_bits_to_f32(0xc000), -2.0);
        assert_eq!(f16_bits_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_bits_to_f32(0x7bff), 65504.0);
    }
}
