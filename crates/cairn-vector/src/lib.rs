//! Vector search building blocks for Cairn: distance kernels (a scalar
//! reference plus SIMD variants chosen once at run time) and HNSW graphs over
//! a struct-of-arrays arena.
//!
//! This crate knows nothing about rows, transactions or files: nodes are
//! dense `u32` offsets, and the caller maps them to row ids and decides which
//! nodes a search may return. Most users want the SQL surface
//! (`ORDER BY col <=> $1 LIMIT k`) of the `cairn` crate instead.

pub mod hnsw;
pub mod kernels;
pub mod quant;

pub use half::f16;
