//! BM25: parameters, the collection statistics of one snapshot, and the
//! per-query tables that make scoring a document one multiply and one
//! divide. The formula is Robertson's with Lucene's idf:
//!
//! `score(t, d) = idf(t) · (k1 + 1) · tf / (tf + k1 · (1 − b + b · len(d) / avg_len))`,
//! `idf(t) = ln(1 + (N − df + 0.5) / (df + 0.5))`,
//!
//! with `len(d)` the document's one-byte norm decoded and `avg_len` the
//! exact mean length. Scores are `f32`, computed in the same order
//! everywhere, so the same statistics give bit-identical scores.

use super::norm;

/// BM25's two knobs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bm25Params {
    /// Term-frequency saturation (≥ 0); 1.2 by default.
    pub k1: f32,
    /// Length normalisation, 0 (none) ..= 1 (full); 0.75 by default.
    pub b: f32,
}

impl Default for Bm25Params {
    fn default() -> Self {
        Bm25Params { k1: 1.2, b: 0.75 }
    }
}

/// Collection statistics of one snapshot, over exactly its visible
/// documents: how many, and how many indexed terms they hold in total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bm25Stats {
    pub n_docs: u64,
    pub total_len: u64,
}

impl Bm25Stats {
    pub fn avg_len(&self) -> f32 {
        if self.n_docs == 0 || self.total_len == 0 {
            1.0
        } else {
            self.total_len as f32 / self.n_docs as f32
        }
    }
}

/// `idf` of a term found in `df` of `n_docs` documents (`df` is clamped
/// to `n_docs`, so inconsistent inputs cannot give a negative weight).
pub fn idf(n_docs: u64, df: u64) -> f32 {
    let df = df.min(n_docs) as f32;
    let n = n_docs as f32;
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

/// Bounds are inflated by this factor so that `f32` rounding in the
/// bound's formula (different from the score's) can never make a bound
/// smaller than a score it covers.
const BOUND_SLACK: f32 = 1.0 + 1e-5;

/// Per-query scoring tables for one snapshot's statistics.
#[derive(Clone, Debug)]
pub struct Bm25 {
    params: Bm25Params,
    avg_len: f32,
    /// `k1 · (1 − b + b · len / avg_len)` for every norm byte.
    norm_cache: [f32; 256],
}

impl Bm25 {
    pub fn new(params: Bm25Params, stats: Bm25Stats) -> Bm25 {
        let avg_len = stats.avg_len();
        let mut norm_cache = [0f32; 256];
        for (code, slot) in norm_cache.iter_mut().enumerate() {
            let len = norm::decode(code as u8) as f32;
            *slot = params.k1 * (1.0 - params.b + params.b * len / avg_len);
        }
        Bm25 {
            params,
            avg_len,
            norm_cache,
        }
    }

    /// The factor in front of a term's (or phrase's) frequency part.
    pub fn weight(&self, idf: f32) -> f32 {
        idf * (1.0 + self.params.k1)
    }

    /// A document's score for a term of weight `weight`.
    #[inline]
    pub fn score(&self, weight: f32, tf: u32, norm: u8) -> f32 {
        let tf = tf as f32;
        weight * (tf / (tf + self.norm_cache[usize::from(norm)]))
    }

    /// An upper bound of `score(weight, tf, norm)` over documents whose
    /// `tf <= max_tf` and whose `len(norm) / tf >= min_len_per_tf`: the
    /// frequency part is `1 / (1 + k1 (1 − b) / tf + k1 b (len / tf) / avg_len)`,
    /// increasing in `tf` and decreasing in `len / tf`, for every k1, b and
    /// avg_len — so a bound stored at write time stays valid at every
    /// snapshot.
    #[inline]
    pub fn bound(&self, weight: f32, max_tf: u32, min_len_per_tf: f32) -> f32 {
        self.bound_of_denominator(weight, self.bound_denominator(max_tf, min_len_per_tf))
    }

    /// The denominator of the bound's frequency part for one point: the
    /// smaller, the larger the bound (so several points need one division).
    #[inline]
    pub fn bound_denominator(&self, max_tf: u32, min_len_per_tf: f32) -> f32 {
        if max_tf == 0 {
            return f32::INFINITY;
        }
        let Bm25Params { k1, b } = self.params;
        1.0 + k1 * (1.0 - b) / max_tf as f32 + k1 * b * min_len_per_tf / self.avg_len
    }

    #[inline]
    pub fn bound_of_denominator(&self, weight: f32, denominator: f32) -> f32 {
        if denominator.is_infinite() {
            0.0
        } else {
            weight * BOUND_SLACK / denominator
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn bound_covers_every_score(
            k1 in 0.0f32..3.0, b in 0.0f32..=1.0, n_docs in 1u64..1_000_000,
            avg in 1u64..10_000, tf in 1u32..500, len in 0u32..100_000,
            extra_tf in 0u32..50, shorter in 0.0f32..1.0,
        ) {
            let stats = Bm25Stats { n_docs, total_len: n_docs * avg };
            let bm25 = Bm25::new(Bm25Params { k1, b }, stats);
            let norm = norm::encode(len);
            let w = bm25.weight(idf(n_docs, 1));
            let ratio = norm::decode(norm) as f32 / tf as f32;
            let score = bm25.score(w, tf, norm);
            prop_assert!(bm25.bound(w, tf + extra_tf, ratio * shorter) >= score);
            prop_assert!(bm25.bound(w, tf, ratio) >= score);
        }
    }

    #[test]
    fn idf_is_positive_and_falls_with_df() {
        assert!(idf(100, 1) > idf(100, 50));
        assert!(idf(100, 100) > 0.0);
        assert!(idf(10, 1_000) > 0.0);
        assert!(idf(0, 0) > 0.0);
    }
}
