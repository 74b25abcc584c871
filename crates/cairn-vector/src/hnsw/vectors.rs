//! Where a graph's f32 vectors live: in its own heap array, or in memory
//! it shares with its owner (a segment file mapped read-only), read in
//! place. A shared graph copies its vectors out only if something inserts
//! into it.

use std::fmt;
use std::sync::Arc;

/// f32 values held by someone else and shared with a graph, e.g. an array
/// section of a memory-mapped file. The values must not change while any
/// graph holds them.
#[derive(Clone)]
pub struct SharedVectors(Arc<dyn AsRef<[f32]> + Send + Sync>);

impl SharedVectors {
    pub fn new(values: Arc<dyn AsRef<[f32]> + Send + Sync>) -> SharedVectors {
        SharedVectors(values)
    }

    pub fn as_slice(&self) -> &[f32] {
        (*self.0).as_ref()
    }
}

impl fmt::Debug for SharedVectors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedVectors({} values)", self.as_slice().len())
    }
}

/// A graph's vectors: `shared` when read in place, else `owned`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Vectors {
    owned: Vec<f32>,
    shared: Option<SharedVectors>,
}

impl Vectors {
    pub(crate) fn owned(values: Vec<f32>) -> Vectors {
        Vectors {
            owned: values,
            shared: None,
        }
    }

    pub(crate) fn shared(values: SharedVectors) -> Vectors {
        Vectors {
            owned: Vec::new(),
            shared: Some(values),
        }
    }

    #[inline(always)]
    pub(crate) fn as_slice(&self) -> &[f32] {
        match &self.shared {
            Some(s) => s.as_slice(),
            None => &self.owned,
        }
    }

    /// The values as an owned array, copying shared ones out first.
    pub(crate) fn to_mut(&mut self) -> &mut Vec<f32> {
        if let Some(s) = self.shared.take() {
            self.owned = s.as_slice().to_vec();
        }
        &mut self.owned
    }

    /// Heap bytes held (0 when shared).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.owned.capacity() * 4
    }

    /// Bytes read in place from shared memory (0 when owned).
    pub(crate) fn shared_bytes(&self) -> usize {
        self.shared.as_ref().map_or(0, |s| s.as_slice().len() * 4)
    }
}
