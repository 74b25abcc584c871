//! Block bounds that hold for any snapshot's statistics.
//!
//! A document's BM25 frequency part is `1 / (1 + α/tf + β·len/tf)` with
//! `α = k1 (1 − b) ≥ 0` and `β = k1 b / avg_len ≥ 0`: it is largest where
//! `α·x + β·y` is smallest, over the points `(x, y) = (1/tf, len/tf)` of the
//! block's documents. For every α, β ≥ 0 that minimum is reached at a
//! vertex of the points' lower-left convex hull, so the hull vertices give
//! the exact block maximum whatever the statistics are. At most
//! [`BOUND_POINTS`] are stored: longer hulls keep their two ends and
//! replace the vertices between by their corner (the smallest `x` and the
//! smallest `y` among them), which lies below and left of each of them —
//! so the bound can only grow, never fall below a score.
//!
//! A point is stored as `(tf, len / tf)`: `tf` a `u32`, the ratio an `f32`.

/// Points stored per block.
pub const BOUND_POINTS: usize = 3;

/// The bound points of a set of `(tf, len / tf)` points — each document
/// of a block (`len` its decoded norm), or the bound points of several
/// blocks; at least one point when `docs` is not empty.
pub(crate) fn bound_points(docs: impl Iterator<Item = (u32, f32)>) -> Vec<(u32, f32)> {
    // (x, y, tf, ratio) with x = 1/tf.
    let mut points: Vec<(f64, f64, u32, f32)> = docs
        .filter(|&(tf, _)| tf > 0)
        .map(|(tf, ratio)| (1.0 / f64::from(tf), f64::from(ratio), tf, ratio))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    // Pareto front: x ascending, y strictly descending.
    let mut front: Vec<(f64, f64, u32, f32)> = Vec::new();
    for p in points {
        if front.last().is_none_or(|last| p.1 < last.1) {
            front.push(p);
        }
    }
    // Its lower convex hull (monotone chain).
    let mut hull: Vec<(f64, f64, u32, f32)> = Vec::new();
    for p in front {
        while hull.len() >= 2 {
            let (o, a) = (hull[hull.len() - 2], hull[hull.len() - 1]);
            let cross = (a.0 - o.0) * (p.1 - o.1) - (a.1 - o.1) * (p.0 - o.0);
            if cross <= 0.0 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(p);
    }
    let mut out: Vec<(u32, f32)> = hull.iter().map(|p| (p.2, p.3)).collect();
    if out.len() > BOUND_POINTS {
        let last = out.len() - 1;
        // The corner of the middle vertices: the largest tf (smallest x)
        // is the first of them, the smallest ratio the last.
        let corner = (out[1].0, out[last - 1].1);
        out = vec![out[0], corner, out[last]];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn points_bound_every_document(
            docs in proptest::collection::vec((1u32..40, 0u32..500), 1..128),
            alpha in 0.0f64..3.0, beta in 0.0f64..1.0,
        ) {
            let points = bound_points(docs.iter().map(|&(tf, len)| (tf, len as f32 / tf as f32)));
            prop_assert!(!points.is_empty() && points.len() <= BOUND_POINTS);
            let cost = |tf: u32, ratio: f64| alpha / f64::from(tf) + beta * ratio;
            let best_stored = points.iter().map(|&(tf, r)| cost(tf, f64::from(r))).fold(f64::INFINITY, f64::min);
            for &(tf, len) in &docs {
                let ratio = f64::from(len as f32 / tf as f32);
                prop_assert!(best_stored <= cost(tf, ratio) + 1e-12);
            }
        }
    }

    #[test]
    fn small_hulls_are_exact() {
        // tf 1 short, tf 3 long, and a dominated point.
        let points = bound_points([(1, 4.0), (3, 10.0), (1, 9.0)].into_iter());
        assert_eq!(points, vec![(3, 10.0), (1, 4.0)]);
    }
}

/// Up to [`BOUND_POINTS`] bound points, fixed-size.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Bound {
    points: [(u32, f32); BOUND_POINTS],
    len: u8,
}

impl Bound {
    pub fn new(points: &[(u32, f32)]) -> Bound {
        let mut b = Bound::default();
        for (slot, p) in b.points.iter_mut().zip(points) {
            *slot = *p;
        }
        b.len = points.len().min(BOUND_POINTS) as u8;
        b
    }

    pub fn points(&self) -> &[(u32, f32)] {
        &self.points[..usize::from(self.len)]
    }

    /// The largest score a document under these points can have.
    #[inline]
    pub fn score(&self, bm25: &super::Bm25, weight: f32) -> f32 {
        let denominator = self
            .points()
            .iter()
            .map(|&(tf, ratio)| bm25.bound_denominator(tf, ratio))
            .fold(f32::INFINITY, f32::min);
        bm25.bound_of_denominator(weight, denominator)
    }
}
