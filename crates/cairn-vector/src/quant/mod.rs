//! Quantized codes for graph traversal: compact, approximate stand-ins for
//! the f32 vectors of a graph, scored against an f32 query. A quantized
//! graph walks on codes and re-ranks its best candidates with the exact
//! f32 vectors (see [`Graph::search_reranked`](crate::hnsw::Graph::search_reranked)).
//!
//! Codes are trained once per graph, from that graph's vectors, and never
//! retrained in place: a vector inserted later is encoded with the same
//! parameters. Training and encoding are plain scalar f32 arithmetic in a
//! fixed order, so the same vectors give the same bytes on every machine.

mod sq8;

pub use sq8::{Sq8, Sq8Codes, Sq8Query};

/// How a graph's vectors are coded for traversal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Quantization {
    /// The f32 vectors themselves.
    #[default]
    None,
    /// One byte per dimension ([`Sq8`]).
    Sq8,
}

impl Quantization {
    /// The name SQL uses (`quantization = 'sq8'`).
    pub fn name(self) -> &'static str {
        match self {
            Quantization::None => "none",
            Quantization::Sq8 => "sq8",
        }
    }

    /// The codec called `name` (case-insensitive), if any.
    pub fn from_name(name: &str) -> Option<Quantization> {
        match name.to_ascii_lowercase().as_str() {
            "none" | "f32" => Some(Quantization::None),
            "sq8" => Some(Quantization::Sq8),
            _ => None,
        }
    }
}
