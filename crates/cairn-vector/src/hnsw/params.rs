//! HNSW parameters, their named limits, the metric, the level of a node and
//! the error type. Every error here is the caller's fault (a parameter or an
//! input out of range) except [`HnswError::Internal`], which is ours.

use std::fmt;

/// Smallest `m`: with `m = 1` the level distribution `ln(1) = 0` degenerates.
pub const M_MIN: usize = 2;
/// Largest `m` (links per node on upper levels; level 0 keeps `2*m`).
pub const M_MAX: usize = 100;
/// Smallest `ef_construction`.
pub const EF_CONSTRUCTION_MIN: usize = 1;
/// Largest `ef_construction`.
pub const EF_CONSTRUCTION_MAX: usize = 10_000;
/// Largest vector dimension a graph accepts.
pub const DIMS_MAX: usize = 65_536;
/// Most nodes in one graph: node ids are `u32` and `u32::MAX` is reserved.
pub const NODES_MAX: usize = u32::MAX as usize - 1;
/// Highest level a node may get (the hash-derived level is clamped to it).
pub const LEVEL_MAX: u8 = 16;

/// How distances are measured. Internally every metric is a distance where
/// smaller is nearer:
/// - `L2`: squared Euclidean distance;
/// - `Cosine`: `1 - dot`, over vectors normalised at insert (queries are
///   normalised at search); a zero vector is stored as is;
/// - `InnerProduct`: `-dot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    L2,
    Cosine,
    InnerProduct,
}

/// Construction parameters of a graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HnswParams {
    /// Links per node on levels above 0; level 0 keeps up to `2*m`.
    pub m: usize,
    /// Size of the candidate list while inserting.
    pub ef_construction: usize,
    pub metric: Metric,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construction: 200,
            metric: Metric::Cosine,
        }
    }
}

impl HnswParams {
    /// Checks every parameter against its named limit.
    pub fn validate(&self) -> Result<(), HnswError> {
        if !(M_MIN..=M_MAX).contains(&self.m) {
            return Err(HnswError::MOutOfRange {
                m: self.m,
                min: M_MIN,
                max: M_MAX,
            });
        }
        if !(EF_CONSTRUCTION_MIN..=EF_CONSTRUCTION_MAX).contains(&self.ef_construction) {
            return Err(HnswError::EfConstructionOutOfRange {
                ef_construction: self.ef_construction,
                min: EF_CONSTRUCTION_MIN,
                max: EF_CONSTRUCTION_MAX,
            });
        }
        Ok(())
    }

    /// Links kept per node on level 0.
    pub(crate) fn m0(&self) -> usize {
        2 * self.m
    }
}

/// Errors of this module. All but `Internal` are the caller's fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HnswError {
    /// `m` outside `M_MIN..=M_MAX`.
    MOutOfRange { m: usize, min: usize, max: usize },
    /// `ef_construction` outside `EF_CONSTRUCTION_MIN..=EF_CONSTRUCTION_MAX`.
    EfConstructionOutOfRange {
        ef_construction: usize,
        min: usize,
        max: usize,
    },
    /// `dims` is zero or above `DIMS_MAX`.
    DimsOutOfRange { dims: usize, max: usize },
    /// A vector whose length is not the graph's dimension.
    DimsMismatch { expected: usize, actual: usize },
    /// `build` got `floats` values for `keys` keys of `dims` dimensions.
    VectorsLenMismatch {
        keys: usize,
        dims: usize,
        floats: usize,
    },
    /// The graph would exceed `NODES_MAX` nodes.
    TooManyNodes { max: usize },
    /// A broken invariant of this module (our bug, not the caller's).
    Internal { what: &'static str },
    /// [`Graph::from_parts`](super::Graph::from_parts) got arrays that do
    /// not form a valid graph (a damaged file, say).
    Malformed { what: String },
    /// A build's progress callback asked it to stop
    /// ([`Graph::build_with_progress`](super::Graph::build_with_progress)).
    Stopped,
}

impl fmt::Display for HnswError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HnswError::MOutOfRange { m, min, max } => {
                write!(f, "HNSW m = {m} is outside {min}..={max}")
            }
            HnswError::EfConstructionOutOfRange {
                ef_construction,
                min,
                max,
            } => write!(
                f,
                "HNSW ef_construction = {ef_construction} is outside {min}..={max}"
            ),
            HnswError::DimsOutOfRange { dims, max } => {
                write!(f, "vector dimension {dims} is outside 1..={max}")
            }
            HnswError::DimsMismatch { expected, actual } => write!(
                f,
                "vector has {actual} dimensions, the graph has {expected}"
            ),
            HnswError::VectorsLenMismatch { keys, dims, floats } => write!(
                f,
                "{floats} vector values given for {keys} keys of {dims} dimensions"
            ),
            HnswError::TooManyNodes { max } => {
                write!(f, "HNSW graph would exceed {max} nodes")
            }
            HnswError::Internal { what } => write!(f, "internal HNSW error: {what}"),
            HnswError::Malformed { what } => write!(f, "malformed HNSW graph: {what}"),
            HnswError::Stopped => write!(f, "the HNSW build was stopped"),
        }
    }
}

impl std::error::Error for HnswError {}

/// SplitMix64 finaliser: a bijective, well-mixed hash of a `u64`.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The level of the node with this key: `floor(-ln(u) / ln(m))` for
/// `u = splitmix64(key)` mapped uniformly onto `(0, 1]`, clamped to
/// `LEVEL_MAX`. The same key always gets the same level, so a rebuild of the
/// same rows gives the same hierarchy.
pub fn level_for_key(key: u64, m: usize) -> u8 {
    let m = m.max(M_MIN) as f64;
    // 53 random bits, shifted to (0, 1] so that ln never sees zero.
    let u = ((splitmix64(key) >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let level = (-u.ln() / m.ln()).floor();
    if level >= f64::from(LEVEL_MAX) {
        LEVEL_MAX
    } else if level > 0.0 {
        level as u8
    } else {
        0
    }
}
