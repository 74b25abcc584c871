//! SQ8: each dimension mapped linearly onto one byte.
//!
//! Training takes, per dimension `i`, the smallest and largest value over
//! the graph's vectors: `lower[i]` and `step[i] = (max - min) / 255`.
//! A value `x` is coded `c = round((x - lower) / step)` clamped to
//! `0..=255` (0 when `step` is 0) and stands for `x̂ = lower + step · c`,
//! so inside the trained range `|x - x̂| ≤ step / 2`.
//!
//! Scoring is asymmetric: the query stays f32. With `w[i] = q[i] · step[i]`
//! and `bias = Σ q[i] · lower[i]` computed once per query,
//! `q · x̂ = bias + Σ w[i] · c[i]` — one pass of the `dot_f32_u8` kernel
//! over the code. Squared L2 uses `|q|² - 2 q·x̂ + |x̂|²` with `|x̂|²` kept
//! per vector (the graph turns these into its metric's distance). The
//! estimate's error is at most `Σ |q[i]| · step[i] / 2`
//! for the inner product (plus f32 rounding).

use super::aligned::AlignedBytes;
use crate::kernels::Kernels;

/// Trained SQ8 parameters of one graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Sq8 {
    lower: Vec<f32>,
    step: Vec<f32>,
}

/// A query prepared for scoring against SQ8 codes.
#[derive(Clone, Debug, Default)]
pub struct Sq8Query {
    /// `q[i] · step[i]`.
    pub(crate) weights: Vec<f32>,
    pub(crate) bias: f32,
    /// `|q|²`.
    pub(crate) norm: f32,
}

impl Sq8Query {
    pub fn new() -> Sq8Query {
        Sq8Query::default()
    }
}

impl Sq8 {
    /// Parameters fitted on `vectors` (`n * dims` values, row major). With
    /// no vectors every dimension gets `lower = 0`, `step = 0`.
    pub fn train(vectors: &[f32], dims: usize) -> Sq8 {
        let mut min = vec![f32::INFINITY; dims];
        let mut max = vec![f32::NEG_INFINITY; dims];
        for v in vectors.chunks_exact(dims.max(1)) {
            for ((lo, hi), &x) in min.iter_mut().zip(max.iter_mut()).zip(v) {
                if x.is_finite() {
                    *lo = lo.min(x);
                    *hi = hi.max(x);
                }
            }
        }
        let mut lower = Vec::with_capacity(dims);
        let mut step = Vec::with_capacity(dims);
        for (lo, hi) in min.into_iter().zip(max) {
            if lo <= hi {
                let s = (hi - lo) / 255.0;
                lower.push(lo);
                step.push(if s.is_finite() { s } else { 0.0 });
            } else {
                lower.push(0.0);
                step.push(0.0);
            }
        }
        Sq8 { lower, step }
    }

    /// Parameters read back (from a file): both arrays of one length, every
    /// value finite, every step at least 0.
    pub fn from_parts(lower: Vec<f32>, step: Vec<f32>) -> Result<Sq8, String> {
        if lower.len() != step.len() {
            return Err(format!(
                "sq8: {} lower bounds but {} steps",
                lower.len(),
                step.len()
            ));
        }
        if lower.iter().any(|x| !x.is_finite()) {
            return Err("sq8: a lower bound is not finite".into());
        }
        if step.iter().any(|s| !s.is_finite() || *s < 0.0) {
            return Err("sq8: a step is negative or not finite".into());
        }
        Ok(Sq8 { lower, step })
    }

    pub fn dims(&self) -> usize {
        self.lower.len()
    }

    /// Per dimension, the value code 0 stands for.
    pub fn lower(&self) -> &[f32] {
        &self.lower
    }

    /// Per dimension, the distance between two adjacent codes.
    pub fn step(&self) -> &[f32] {
        &self.step
    }

    /// Appends the code of `v` (one byte per dimension; missing elements
    /// code as 0, extra ones are ignored).
    pub fn encode(&self, v: &[f32], out: &mut Vec<u8>) {
        out.extend(
            self.lower
                .iter()
                .zip(&self.step)
                .enumerate()
                .map(|(i, (&lo, &s))| {
                    let x = v.get(i).copied().unwrap_or(lo);
                    if s > 0.0 {
                        // `as u8` saturates; NaN becomes 0.
                        ((x - lo) / s).round().clamp(0.0, 255.0) as u8
                    } else {
                        0
                    }
                }),
        );
    }

    /// The vector a code stands for (`x̂`), appended to `out`.
    pub fn decode(&self, code: &[u8], out: &mut Vec<f32>) {
        out.extend(
            self.lower
                .iter()
                .zip(&self.step)
                .zip(code)
                .map(|((&lo, &s), &c)| lo + s * f32::from(c)),
        );
    }

    /// `|x̂|²` of a code (computed in f64, in order: deterministic).
    pub fn squared_norm(&self, code: &[u8]) -> f32 {
        self.lower
            .iter()
            .zip(&self.step)
            .zip(code)
            .map(|((&lo, &s), &c)| {
                let x = f64::from(lo + s * f32::from(c));
                x * x
            })
            .sum::<f64>() as f32
    }

    /// Prepares `query` (already in the graph's stored form) for scoring.
    pub fn prepare(&self, query: &[f32], out: &mut Sq8Query) {
        out.weights.clear();
        out.weights
            .extend(query.iter().zip(&self.step).map(|(q, s)| q * s));
        out.bias = query.iter().zip(&self.lower).map(|(q, lo)| q * lo).sum();
        out.norm = query.iter().map(|q| q * q).sum();
    }
}

/// A graph's codes: the trained parameters, one code per node, and per node
/// `|x̂|²` (for L2; derived from the code, never stored in files).
#[derive(Clone, Debug, PartialEq)]
pub struct Sq8Codes {
    sq: Sq8,
    /// 64-byte aligned: a 384-d code is 6 whole cache lines, not 7 parts.
    codes: AlignedBytes,
    norms: Vec<f32>,
}

impl Sq8Codes {
    /// Trains on `vectors` and codes every one of them.
    pub fn build(vectors: &[f32], dims: usize) -> Sq8Codes {
        let sq = Sq8::train(vectors, dims);
        let mut codes = Vec::with_capacity(vectors.len());
        for v in vectors.chunks_exact(dims.max(1)) {
            sq.encode(v, &mut codes);
        }
        Sq8Codes::from_codes(sq, codes)
    }

    /// Codes read back; `codes.len()` must be a multiple of the dimension.
    pub fn from_codes(sq: Sq8, codes: Vec<u8>) -> Sq8Codes {
        let dims = sq.dims().max(1);
        let norms = codes
            .chunks_exact(dims)
            .map(|c| sq.squared_norm(c))
            .collect();
        Sq8Codes {
            sq,
            codes: AlignedBytes::from_slice(&codes),
            norms,
        }
    }

    /// Codes one more vector with the trained parameters.
    pub fn push(&mut self, v: &[f32]) {
        let mut code = Vec::with_capacity(self.sq.dims());
        self.sq.encode(v, &mut code);
        let norm = self.sq.squared_norm(&code);
        self.codes.extend_from_slice(&code);
        self.norms.push(norm);
    }

    pub fn sq8(&self) -> &Sq8 {
        &self.sq
    }

    /// Every code, node after node.
    pub fn codes(&self) -> &[u8] {
        self.codes.as_slice()
    }

    /// The code of `node`; empty outside.
    #[inline(always)]
    pub fn code(&self, node: u32) -> &[u8] {
        let dims = self.sq.dims();
        let start = node as usize * dims;
        self.codes
            .as_slice()
            .get(start..start + dims)
            .unwrap_or(&[])
    }

    /// Nodes coded.
    pub fn len(&self) -> usize {
        self.norms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.norms.is_empty()
    }

    /// Heap bytes.
    pub fn memory_bytes(&self) -> usize {
        self.codes.memory_bytes() + self.norms.capacity() * 4 + self.sq.lower.capacity() * 8
    }

    /// The estimated inner product `q · x̂` of a query prepared by
    /// [`Sq8::prepare`] and `node`; NaN outside the codes.
    pub fn estimate_dot(&self, q: &Sq8Query, node: u32) -> f32 {
        self.dot(crate::kernels::best(), q, node)
    }

    /// [`Sq8Codes::estimate_dot`] with the given kernels.
    #[inline(always)]
    pub(crate) fn dot(&self, kernels: &Kernels, q: &Sq8Query, node: u32) -> f32 {
        let code = self.code(node);
        if code.is_empty() {
            return f32::NAN;
        }
        q.bias + (kernels.dot_f32_u8)(&q.weights, code)
    }

    /// `|x̂|²` of `node`; NaN outside the codes.
    #[inline(always)]
    pub fn squared_norm(&self, node: u32) -> f32 {
        self.norms.get(node as usize).copied().unwrap_or(f32::NAN)
    }
}

impl Sq8Query {
    /// `|q|²` of the prepared query.
    pub fn squared_norm(&self) -> f32 {
        self.norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_within_half_a_step() {
        let dims = 5;
        let vectors: Vec<f32> = (0..50)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let sq = Sq8::train(&vectors, dims);
        for v in vectors.chunks_exact(dims) {
            let mut code = Vec::new();
            sq.encode(v, &mut code);
            let mut back = Vec::new();
            sq.decode(&code, &mut back);
            for ((x, y), s) in v.iter().zip(&back).zip(sq.step()) {
                assert!((x - y).abs() <= s / 2.0 + 1e-5, "{x} {y} {s}");
            }
        }
    }

    #[test]
    fn constant_dimensions_and_empty_training_code_as_zero() {
        let sq = Sq8::train(&[1.0, 2.0, 1.0, 3.0], 2);
        assert_eq!(sq.step()[0], 0.0);
        let mut code = Vec::new();
        sq.encode(&[1.0, 3.0], &mut code);
        assert_eq!(code, vec![0, 255]);
        let empty = Sq8::train(&[], 3);
        assert_eq!(empty.lower(), &[0.0; 3]);
        code.clear();
        empty.encode(&[f32::NAN, 5.0, -5.0], &mut code);
        assert_eq!(code, vec![0, 0, 0]);
    }

    #[test]
    fn bad_parts_are_refused() {
        assert!(Sq8::from_parts(vec![0.0], vec![]).is_err());
        assert!(Sq8::from_parts(vec![f32::NAN], vec![1.0]).is_err());
        assert!(Sq8::from_parts(vec![0.0], vec![-1.0]).is_err());
        assert!(Sq8::from_parts(vec![0.0], vec![1.0]).is_ok());
    }
}
