//! Distances as the graph sees them, and the packed `(distance, node)` keys
//! that heaps and sorts compare as plain integers.
//!
//! Every metric becomes a distance where smaller is nearer (see
//! [`Metric`](super::Metric)). A key packs the distance's total-order bits
//! (the order of `f32::total_cmp`, NaN included) above the node id, so
//! comparing keys as `u64` orders by `(distance, node)` and never panics.

use super::Metric;
use crate::kernels;

/// A metric bound to the process's best kernels (SIMD once available).
#[derive(Clone, Copy)]
pub(crate) struct Space {
    pub(crate) metric: Metric,
    pub(crate) kernels: &'static kernels::Kernels,
    dot: fn(&[f32], &[f32]) -> f32,
    l2_squared: fn(&[f32], &[f32]) -> f32,
}

impl Space {
    pub(crate) fn new(metric: Metric) -> Space {
        let k = kernels::best();
        Space {
            metric,
            kernels: k,
            dot: k.dot,
            l2_squared: k.l2_squared,
        }
    }

    /// Distance between a prepared query (or stored vector) and a stored
    /// vector.
    #[inline(always)]
    pub(crate) fn distance(&self, a: &[f32], b: &[f32]) -> f32 {
        match self.metric {
            Metric::L2 => (self.l2_squared)(a, b),
            Metric::Cosine => 1.0 - (self.dot)(a, b),
            Metric::InnerProduct => -(self.dot)(a, b),
        }
    }

    /// Brings a vector into the stored form: unit length for cosine (a zero
    /// or non-finite norm leaves it as is), unchanged otherwise.
    pub(crate) fn prepare(&self, v: &mut [f32]) {
        if self.metric == Metric::Cosine {
            let norm = (self.dot)(v, v).sqrt();
            if norm > 0.0 && norm.is_finite() {
                let inv = 1.0 / norm;
                for x in v.iter_mut() {
                    *x *= inv;
                }
            }
        }
    }
}

/// Bits of `d` whose unsigned order is `f32::total_cmp`'s order.
#[inline(always)]
pub(crate) fn ord_bits(d: f32) -> u32 {
    let b = d.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// Inverse of [`ord_bits`].
#[inline(always)]
pub(crate) fn from_ord_bits(o: u32) -> f32 {
    if o & 0x8000_0000 != 0 {
        f32::from_bits(o & 0x7FFF_FFFF)
    } else {
        f32::from_bits(!o)
    }
}

/// `(distance, node)` packed so that `u64` order is the pair's order.
#[inline(always)]
pub(crate) fn key(distance: f32, node: u32) -> u64 {
    (u64::from(ord_bits(distance)) << 32) | u64::from(node)
}

#[inline(always)]
pub(crate) fn key_node(key: u64) -> u32 {
    key as u32
}

#[inline(always)]
pub(crate) fn key_distance(key: u64) -> f32 {
    from_ord_bits((key >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ord_bits_follows_total_cmp_and_round_trips() {
        let values = [
            f32::NEG_INFINITY,
            -1e30,
            -1.0,
            -1e-40,
            -0.0,
            0.0,
            1e-40,
            0.5,
            1.0,
            f32::INFINITY,
            f32::NAN,
            -f32::NAN,
        ];
        for a in values {
            assert_eq!(from_ord_bits(ord_bits(a)).to_bits(), a.to_bits());
            for b in values {
                assert_eq!(ord_bits(a).cmp(&ord_bits(b)), a.total_cmp(&b), "{a} {b}");
            }
        }
        let k = key(0.25, 7);
        assert_eq!(key_node(k), 7);
        assert_eq!(key_distance(k), 0.25);
    }
}
