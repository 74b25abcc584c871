//! HNSW graphs (hierarchical navigable small worlds) over a struct-of-arrays
//! arena: the approximate nearest-neighbour index of one vector column.
//!
//! Most users want [`Graph`]: [`Graph::build`] for a sealed segment (parallel
//! over a rayon pool), [`Graph::insert`] for the live segment, and
//! [`Graph::search`] with a caller-supplied `accept` filter (tombstones, MVCC
//! visibility, SQL predicates). Nodes are dense `u32` offsets in insertion
//! order; the caller's `u64` key of each node is kept beside it.
//!
//! Layout (see [`Graph`]): vectors, keys and levels in flat arrays; level-0
//! adjacency in one `Vec<u32>` with a fixed stride of `1 + 2*m` slots
//! (count, then neighbours); upper levels in a second flat array reached
//! through a per-node offset, only for nodes whose level is above zero.
//!
//! This module never panics on caller input and holds no `unsafe`. It never
//! does I/O; serialising a graph is the storage layer's business.
//!
//! Module map: `params` (metric, parameters, limits, errors), `space`
//! (distances, ordered keys), `scratch` (per-thread search state),
//! `links` (adjacency views shared by the build and search paths),
//! `construct` (the insertion algorithm and neighbour selection), `graph`
//! (the public [`Graph`]), `vectors` (a graph's f32 vectors, owned or read
//! in place from shared memory such as a mapped segment file).

mod construct;
mod graph;
mod links;
mod params;
mod scratch;
mod space;
mod vectors;

pub use graph::{
    Graph, GraphMemory, GraphParts, Neighbor, BUILD_PROGRESS_NODES, RERANK_DEFAULT, RERANK_MAX,
};
pub use params::{
    level_for_key, HnswError, HnswParams, Metric, DIMS_MAX, EF_CONSTRUCTION_MAX,
    EF_CONSTRUCTION_MIN, LEVEL_MAX, M_MAX, M_MIN, NODES_MAX,
};
pub use scratch::SearchScratch;
pub use vectors::SharedVectors;
