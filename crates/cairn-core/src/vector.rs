//! Dense vector values: the text form (`'[0.1, 0.2]'`, pgvector's), the
//! validity rules every stored vector obeys, and the exact distances SQL
//! returns.
//!
//! Invariants: a vector value has 1..=[`VECTOR_DIMS_MAX`] elements, each
//! finite (no NaN, no ±inf). Distances computed here are summed in index
//! order in f64, so they are identical on every machine: final result order
//! and proofs rely on that. Fast approximate kernels live in `cairn-vector`.
//! This module uses no other module of the crate: `error` and `value` build
//! on it (the vector SQL functions live in cairn-sql).

use std::fmt;

use half::f16;

/// Most dimensions a `VECTOR(n)` or `HALFVEC(n)` may have.
pub const VECTOR_DIMS_MAX: usize = 16_000;

/// Why a vector value was rejected.
#[derive(Debug, Clone, PartialEq)]
pub enum VectorError {
    /// The text is not `[x, y, ...]`.
    Malformed { reason: String },
    /// Element `index` (0-based) is NaN or infinite.
    NonFinite { index: usize },
    /// A vector of `got` dimensions where `expected` are required.
    DimsMismatch { expected: usize, got: usize },
    /// More than [`VECTOR_DIMS_MAX`] dimensions (or zero).
    BadDims { dims: usize },
    /// An element too large for half precision.
    HalfOverflow { index: usize },
}

impl fmt::Display for VectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VectorError::Malformed { reason } => write!(f, "malformed vector literal: {reason}"),
            VectorError::NonFinite { index } => {
                write!(f, "vector element {index} is NaN or infinite")
            }
            VectorError::DimsMismatch { expected, got } => {
                write!(f, "expected {expected} dimensions, got {got}")
            }
            VectorError::BadDims { dims } => write!(
                f,
                "vector must have between 1 and {VECTOR_DIMS_MAX} dimensions, got {dims}"
            ),
            VectorError::HalfOverflow { index } => {
                write!(f, "vector element {index} is out of range for HALFVEC")
            }
        }
    }
}

/// Checks the invariants of a stored vector.
pub fn validate(v: &[f32]) -> Result<(), VectorError> {
    if v.is_empty() || v.len() > VECTOR_DIMS_MAX {
        return Err(VectorError::BadDims { dims: v.len() });
    }
    match v.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(VectorError::NonFinite { index }),
        None => Ok(()),
    }
}

/// Parses `[x, y, ...]` (whitespace allowed around elements and brackets).
pub fn parse(text: &str) -> Result<Vec<f32>, VectorError> {
    let malformed = |reason: &str| VectorError::Malformed {
        reason: reason.to_string(),
    };
    let t = text.trim();
    let inner = t
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(|| malformed("must start with '[' and end with ']'"))?;
    if inner.trim().is_empty() {
        return Err(VectorError::BadDims { dims: 0 });
    }
    let mut out = Vec::new();
    for (i, part) in inner.split(',').enumerate() {
        if i >= VECTOR_DIMS_MAX {
            return Err(VectorError::BadDims { dims: i + 1 });
        }
        let p = part.trim();
        let x: f32 = p
            .parse()
            .map_err(|_| malformed(&format!("element {i} ({p:?}) is not a number")))?;
        if !x.is_finite() {
            return Err(VectorError::NonFinite { index: i });
        }
        out.push(x);
    }
    Ok(out)
}

/// pgvector's text form: `[1,0.5,-2]` (shortest round-trip digits).
pub fn format(v: &[f32]) -> String {
    let mut s = String::with_capacity(v.len() * 8 + 2);
    s.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        // Shortest round-trip digits; exponent form far from 1 (`1e-30`).
        let a = x.abs();
        if a != 0.0 && !(1e-5..1e16).contains(&a) {
            s.push_str(&format!("{x:e}"));
        } else {
            s.push_str(&x.to_string());
        }
    }
    s.push(']');
    s
}

/// Text form of a HALFVEC: each element with the fewest digits that read
/// back as the same f16 (`0.1`, not `0.099975586`).
pub fn format_half(v: &[f16]) -> String {
    let elems: Vec<f32> = v.iter().map(|h| shortest_half(*h)).collect();
    format(&elems)
}

fn shortest_half(h: f16) -> f32 {
    let x = h.to_f32();
    for digits in 0..9 {
        let Ok(y) = format!("{x:.digits$e}").parse::<f32>() else {
            break;
        };
        if f16::from_f32(y) == h {
            return y;
        }
    }
    x
}

/// Converts to half precision; an element beyond f16's range is an error.
pub fn to_half(v: &[f32]) -> Result<Vec<f16>, VectorError> {
    let mut out = Vec::with_capacity(v.len());
    for (index, x) in v.iter().enumerate() {
        let h = f16::from_f32(*x);
        if !h.is_finite() {
            return Err(VectorError::HalfOverflow { index });
        }
        out.push(h);
    }
    Ok(out)
}

pub fn from_half(v: &[f16]) -> Vec<f32> {
    v.iter().map(|h| h.to_f32()).collect()
}

/// Checks a dimension count declared in `VECTOR(n)`.
pub fn check_declared_dims(dims: usize) -> Result<(), VectorError> {
    if dims == 0 || dims > VECTOR_DIMS_MAX {
        return Err(VectorError::BadDims { dims });
    }
    Ok(())
}

/// Which distance an operator or function computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DistanceKind {
    /// Euclidean distance (`<->`).
    L2,
    /// `1 - cosine similarity` (`<=>`).
    Cosine,
    /// Negative inner product (`<#>`).
    NegativeDot,
    /// Inner product (`vec_distance_ip`, `inner_product`).
    Dot,
}

/// Exact distance in f64 (see [`LANES`] for the order of the sums, the
/// same on every machine). `None` (SQL NULL) for a cosine distance
/// involving a zero vector. Dimensions must match.
pub fn distance(kind: DistanceKind, a: &[f32], b: &[f32]) -> Result<Option<f64>, VectorError> {
    if a.len() != b.len() {
        return Err(VectorError::DimsMismatch {
            expected: a.len(),
            got: b.len(),
        });
    }
    Ok(match kind {
        DistanceKind::L2 => Some(l2_squared(a, b).sqrt()),
        DistanceKind::Cosine => {
            let (ab, aa, bb) = dots3(a, b);
            let denom = (aa * bb).sqrt();
            if denom == 0.0 {
                None
            } else {
                Some((1.0 - ab / denom).clamp(0.0, 2.0))
            }
        }
        DistanceKind::NegativeDot => Some(-dot(a, b)),
        DistanceKind::Dot => Some(dot(a, b)),
    })
}

/// Exact sums run in this many lanes: element `i` is added to lane
/// `i % LANES` in index order, then the lanes are added in order. The order
/// is fixed by this code, not by the CPU (no fused multiply-add, no
/// reassociation), so every machine gets the same bits; the independent
/// lanes let the CPU overlap the additions (about 5x faster than one
/// running sum at 384 dimensions).
pub const LANES: usize = 8;

/// Sums `term(x, y)` over the pairs of `a` and `b` in [`LANES`] lanes.
#[inline(always)]
fn lane_sum(a: &[f32], b: &[f32], term: impl Fn(f64, f64) -> f64) -> f64 {
    let mut acc = [0.0f64; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (xa, xb) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += term(f64::from(xa[i]), f64::from(xb[i]));
        }
    }
    for (i, (x, y)) in ra.iter().zip(rb).enumerate() {
        acc[i] += term(f64::from(*x), f64::from(*y));
    }
    acc.iter().sum()
}

pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    lane_sum(a, b, |x, y| x * y)
}

pub fn l2_squared(a: &[f32], b: &[f32]) -> f64 {
    lane_sum(a, b, |x, y| (x - y) * (x - y))
}

/// `(a·b, a·a, b·b)` in one pass, each summed as [`dot`] sums.
fn dots3(a: &[f32], b: &[f32]) -> (f64, f64, f64) {
    let mut ab = [0.0f64; LANES];
    let mut aa = [0.0f64; LANES];
    let mut bb = [0.0f64; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (xa, xb) in ca.zip(cb) {
        for i in 0..LANES {
            let (x, y) = (f64::from(xa[i]), f64::from(xb[i]));
            ab[i] += x * y;
            aa[i] += x * x;
            bb[i] += y * y;
        }
    }
    for (i, (x, y)) in ra.iter().zip(rb).enumerate() {
        let (x, y) = (f64::from(*x), f64::from(*y));
        ab[i] += x * y;
        aa[i] += x * x;
        bb[i] += y * y;
    }
    (ab.iter().sum(), aa.iter().sum(), bb.iter().sum())
}

pub fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}

/// The vector scaled to unit length (a zero vector stays zero).
pub fn l2_normalize(a: &[f32]) -> Vec<f32> {
    let n = norm(a);
    if n == 0.0 {
        return a.to_vec();
    }
    a.iter().map(|x| (f64::from(*x) / n) as f32).collect()
}

/// An element-wise vector operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementOp {
    Add,
    Sub,
    Mul,
}

/// Element-wise `+`, `-` or `*` of two vectors of equal dimensions.
pub fn elementwise(op: ElementOp, a: &[f32], b: &[f32]) -> Result<Vec<f32>, VectorError> {
    if a.len() != b.len() {
        return Err(VectorError::DimsMismatch {
            expected: a.len(),
            got: b.len(),
        });
    }
    let out: Vec<f32> = a
        .iter()
        .zip(b)
        .map(|(x, y)| match op {
            ElementOp::Add => x + y,
            ElementOp::Sub => x - y,
            ElementOp::Mul => x * y,
        })
        .collect();
    validate(&out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One running sum in element order: the reference the lane sums are
    /// held to.
    fn sequential(a: &[f32], b: &[f32], term: impl Fn(f64, f64) -> f64) -> f64 {
        (a.iter().zip(b)).fold(0.0, |s, (x, y)| s + term(f64::from(*x), f64::from(*y)))
    }

    proptest! {
        /// The lane sums agree with one running sum to within f64
        /// rounding, the fused cosine pass gives exactly what the three
        /// separate sums give, and every length (remainders included)
        /// works.
        #[test]
        fn lane_sums_match_a_running_sum(
            pairs in prop::collection::vec((-1e3f32..1e3, -1e3f32..1e3), 1..200),
        ) {
            let (a, b): (Vec<f32>, Vec<f32>) = pairs.into_iter().unzip();
            let close = |x: f64, y: f64, scale: f64| (x - y).abs() <= 1e-12 * scale.max(1.0);
            let abs = |x: f64, y: f64| x.abs() * y.abs();
            let scale = sequential(&a, &b, abs);
            prop_assert!(close(dot(&a, &b), sequential(&a, &b, |x, y| x * y), scale));
            let l2 = sequential(&a, &b, |x, y| (x - y) * (x - y));
            prop_assert!(close(l2_squared(&a, &b), l2, l2));
            let (ab, aa, bb) = dots3(&a, &b);
            prop_assert_eq!(ab.to_bits(), dot(&a, &b).to_bits());
            prop_assert_eq!(aa.to_bits(), dot(&a, &a).to_bits());
            prop_assert_eq!(bb.to_bits(), dot(&b, &b).to_bits());
        }
    }

    #[test]
    fn parse_and_format_round_trip() {
        let v = parse(" [1, 0.5 ,-2e-3] ").unwrap_or_default();
        assert_eq!(v, vec![1.0, 0.5, -0.002]);
        assert_eq!(format(&v), "[1,0.5,-0.002]");
        assert_eq!(format(&[0.1, 1e-30, 3.4e38, -0.0]), "[0.1,1e-30,3.4e38,-0]");
        assert_eq!(
            parse(&format(&[0.1, 1e-30, 3.4e38])),
            Ok(vec![0.1, 1e-30, 3.4e38])
        );
    }

    #[test]
    fn parse_errors_are_typed() {
        assert!(matches!(parse("1,2"), Err(VectorError::Malformed { .. })));
        assert!(matches!(
            parse("[1,,2]"),
            Err(VectorError::Malformed { .. })
        ));
        assert!(matches!(parse("[]"), Err(VectorError::BadDims { dims: 0 })));
        assert!(matches!(
            parse("[1,NaN]"),
            Err(VectorError::NonFinite { index: 1 })
        ));
        assert!(matches!(
            parse("[inf]"),
            Err(VectorError::NonFinite { index: 0 })
        ));
        assert!(matches!(
            parse("[1e39]"),
            Err(VectorError::NonFinite { index: 0 })
        ));
        let long = format!("[{}]", vec!["1"; VECTOR_DIMS_MAX + 1].join(","));
        assert!(matches!(parse(&long), Err(VectorError::BadDims { .. })));
    }

    #[test]
    fn distances() {
        let a = [1.0, 0.0];
        let b = [0.0, 2.0];
        assert_eq!(distance(DistanceKind::L2, &a, &b), Ok(Some(5f64.sqrt())));
        assert_eq!(distance(DistanceKind::Cosine, &a, &b), Ok(Some(1.0)));
        assert_eq!(distance(DistanceKind::Cosine, &a, &[0.0, 0.0]), Ok(None));
        assert_eq!(
            distance(DistanceKind::NegativeDot, &a, &[3.0, 1.0]),
            Ok(Some(-3.0))
        );
        assert!(distance(DistanceKind::L2, &a, &[1.0]).is_err());
    }

    #[test]
    fn half_conversion() {
        assert!(to_half(&[1.0, 70000.0]).is_err());
        let h = to_half(&[0.5, -2.0]).unwrap_or_default();
        assert_eq!(from_half(&h), vec![0.5, -2.0]);
        let h = to_half(&[0.1, 0.2, 0.3, 65504.0, 1e-7]).unwrap_or_default();
        assert_eq!(format_half(&h), "[0.1,0.2,0.3,65500,1e-7]");
    }
}
