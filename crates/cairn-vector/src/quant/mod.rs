//! Quantized codes for graph traversal: compact, approximate stand-ins for
//! the f32 vectors of a graph, scored against an f32 query. A quantized
//! graph walks on codes and re-ranks its best candidates with the exact
//! f32 vectors (see [`Graph::search_reranked`](crate::hnsw::Graph::search_reranked)).
//!
//! Codes are trained once per graph, from that graph's vectors, and never
//! retrained in place: a vector inserted later is encoded with the same
//! parameters. Training and encoding are plain scalar arithmetic in a
//! fixed order, so the same vectors give the same bytes on every machine.

mod aligned;
mod rabitq;
mod sq8;

pub use rabitq::{RaBitQ, RabitqCodes, RabitqQuery, RABITQ_BITS_MAX, RABITQ_SEED};
pub use sq8::{Sq8, Sq8Codes, Sq8Query};

/// How a graph's vectors are coded for traversal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Quantization {
    /// The f32 vectors themselves.
    #[default]
    None,
    /// One byte per dimension ([`Sq8`]).
    Sq8,
    /// `bits` (1 to [`RABITQ_BITS_MAX`]) per dimension of a rotated
    /// residual, plus four numbers per vector ([`RaBitQ`]).
    RaBitQ { bits: u8 },
}

impl Quantization {
    /// The name SQL uses (`quantization = 'sq8'`).
    pub fn name(self) -> &'static str {
        match self {
            Quantization::None => "none",
            Quantization::Sq8 => "sq8",
            Quantization::RaBitQ { .. } => "rabitq",
        }
    }

    /// The codec called `name` (case-insensitive), if any; RaBitQ with one
    /// bit per dimension.
    pub fn from_name(name: &str) -> Option<Quantization> {
        match name.to_ascii_lowercase().as_str() {
            "none" | "f32" => Some(Quantization::None),
            "sq8" => Some(Quantization::Sq8),
            "rabitq" => Some(Quantization::RaBitQ { bits: 1 }),
            _ => None,
        }
    }

    /// The codec and its width as EXPLAIN prints it: `sq8`, `rabitq 1-bit`.
    pub fn label(self) -> String {
        match self {
            Quantization::RaBitQ { bits } => format!("rabitq {bits}-bit"),
            q => q.name().to_string(),
        }
    }

    /// Candidates re-ranked per result when an index does not say: chosen
    /// so that at the default `ef_search` (40) recall@10 on 384-d MiniLM
    /// embeddings matches the unquantized graph's (measured for SQ8 and
    /// RaBitQ with 1 and 2 bits, research/ann-quant.md; 3 and 4 bits
    /// estimate at least as well as 2, so they keep SQ8's 4).
    pub fn default_rerank(self) -> usize {
        match self {
            Quantization::RaBitQ { bits: 1 } => 6,
            Quantization::RaBitQ { bits: 2 } => 5,
            // hnsw::RERANK_DEFAULT (quant does not import hnsw).
            _ => 4,
        }
    }
}

/// A graph's codes, of whichever codec.
#[derive(Clone, Debug, PartialEq)]
pub enum Codes {
    Sq8(Sq8Codes),
    RaBitQ(RabitqCodes),
}

impl Codes {
    /// Trains `quantization` on `vectors` (`n * dims` values, row major)
    /// and codes every one of them; `None` for `Quantization::None`.
    pub fn build(quantization: Quantization, vectors: &[f32], dims: usize) -> Option<Codes> {
        match quantization {
            Quantization::None => None,
            Quantization::Sq8 => Some(Codes::Sq8(Sq8Codes::build(vectors, dims))),
            Quantization::RaBitQ { bits } => {
                Some(Codes::RaBitQ(RabitqCodes::build(vectors, dims, bits)))
            }
        }
    }

    /// Codes one more vector with the trained parameters.
    pub fn push(&mut self, v: &[f32]) {
        match self {
            Codes::Sq8(c) => c.push(v),
            Codes::RaBitQ(c) => c.push(v),
        }
    }

    pub fn quantization(&self) -> Quantization {
        match self {
            Codes::Sq8(_) => Quantization::Sq8,
            Codes::RaBitQ(c) => Quantization::RaBitQ {
                bits: c.rabitq().bits(),
            },
        }
    }

    /// The dimension of the vectors coded.
    pub fn dims(&self) -> usize {
        match self {
            Codes::Sq8(c) => c.sq8().dims(),
            Codes::RaBitQ(c) => c.rabitq().dims(),
        }
    }

    /// Nodes coded.
    pub fn len(&self) -> usize {
        match self {
            Codes::Sq8(c) => c.len(),
            Codes::RaBitQ(c) => c.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes.
    pub fn memory_bytes(&self) -> usize {
        match self {
            Codes::Sq8(c) => c.memory_bytes(),
            Codes::RaBitQ(c) => c.memory_bytes(),
        }
    }
}
