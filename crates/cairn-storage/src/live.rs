//! The live segment: a table's newest row versions, appended by commits,
//! readable without the table's lock.
//!
//! Versions live in chunks whose slots are filled in order, each exactly
//! once, through a shared reference (`OnceLock`). A reader copies the list
//! of chunk `Arc`s and the length under the table's lock ([`Live::view`]),
//! releases the lock, and reads those slots: they never change again (but
//! for the atomic `end` stamp every version has), and a slot filled after
//! the view was taken lies beyond the view's length. Sealing takes the
//! versions out ([`Live::drain`]); a reader still holding chunks keeps them
//! alive. Chunks start small (16 slots) and double up to 1024, so a table
//! of a few rows costs little.

use std::sync::{Arc, OnceLock};

/// Slots of the first chunk; each next chunk doubles, up to
/// `CHUNK_SLOTS_MAX`.
const FIRST_CHUNK_SLOTS: usize = 16;
/// Chunks that double (16, 32, ... 512 slots); every later one has
/// `CHUNK_SLOTS_MAX`.
const DOUBLING_CHUNKS: usize = 6;
const CHUNK_SLOTS_MAX: usize = 1024;
/// Versions held by the doubling chunks together.
const DOUBLING_SLOTS: usize = FIRST_CHUNK_SLOTS * ((1 << DOUBLING_CHUNKS) - 1);

/// Slots filled in order, each once.
pub(crate) struct LiveChunk<T> {
    slots: Box<[OnceLock<T>]>,
}

impl<T> LiveChunk<T> {
    fn new(slots: usize) -> LiveChunk<T> {
        LiveChunk {
            slots: (0..slots).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The version in slot `i`, if filled.
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.slots.get(i).and_then(OnceLock::get)
    }
}

/// Chunk number and slot of live offset `off`.
pub(crate) fn locate(off: usize) -> (usize, usize) {
    if off < DOUBLING_SLOTS {
        let k = (off / FIRST_CHUNK_SLOTS + 1).ilog2() as usize;
        (k, off - FIRST_CHUNK_SLOTS * ((1 << k) - 1))
    } else {
        let rest = off - DOUBLING_SLOTS;
        (
            DOUBLING_CHUNKS + rest / CHUNK_SLOTS_MAX,
            rest % CHUNK_SLOTS_MAX,
        )
    }
}

/// Slots of chunk `k`.
fn chunk_slots(k: usize) -> usize {
    if k < DOUBLING_CHUNKS {
        FIRST_CHUNK_SLOTS << k
    } else {
        CHUNK_SLOTS_MAX
    }
}

/// The live segment (see the module docs), of versions `T`.
pub(crate) struct Live<T> {
    chunks: Vec<Arc<LiveChunk<T>>>,
    len: usize,
}

impl<T> Default for Live<T> {
    fn default() -> Self {
        Live {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Clone> Live<T> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The version at offset `off`.
    pub(crate) fn get(&self, off: usize) -> Option<&T> {
        if off >= self.len {
            return None;
        }
        let (k, i) = locate(off);
        self.chunks.get(k)?.get(i)
    }

    /// Chunk `k`, shared.
    pub(crate) fn chunk(&self, k: usize) -> Option<Arc<LiveChunk<T>>> {
        self.chunks.get(k).cloned()
    }

    /// Every version, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        (0..self.len).filter_map(|off| self.get(off))
    }

    /// Appends `v` at offset `len()`.
    pub(crate) fn push(&mut self, v: T) {
        let (k, i) = locate(self.len);
        if k == self.chunks.len() {
            self.chunks.push(Arc::new(LiveChunk::new(chunk_slots(k))));
        }
        let filled = self.chunks.get(k).map(|c| c.slots.get(i).map(|s| s.set(v)));
        debug_assert!(
            matches!(filled, Some(Some(Ok(())))),
            "live slot {} filled twice or missing",
            self.len
        );
        self.len += 1;
    }

    /// Takes every version out, oldest first, leaving the segment empty.
    /// Chunks a reader still holds are copied (their versions stay
    /// readable there).
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = T> {
        self.len = 0;
        std::mem::take(&mut self.chunks)
            .into_iter()
            .flat_map(|chunk| {
                let slots: Vec<OnceLock<T>> = match Arc::try_unwrap(chunk) {
                    Ok(c) => c.slots.into_vec(),
                    Err(shared) => shared
                        .slots
                        .iter()
                        .map(|s| match s.get() {
                            Some(v) => OnceLock::from(v.clone()),
                            None => OnceLock::new(),
                        })
                        .collect(),
                };
                slots.into_iter().filter_map(OnceLock::into_inner)
            })
    }

    /// The chunks and length as they are now, to read without the lock.
    pub(crate) fn view(&self) -> LiveView<T> {
        LiveView {
            chunks: self.chunks.clone(),
            len: self.len,
        }
    }
}

/// A reader's copy of the live segment's chunk list and length.
pub(crate) struct LiveView<T> {
    chunks: Vec<Arc<LiveChunk<T>>>,
    len: usize,
}

impl<T> LiveView<T> {
    /// The version at offset `off`, if the view includes it.
    pub(crate) fn get(&self, off: usize) -> Option<&T> {
        if off >= self.len {
            return None;
        }
        let (k, i) = locate(off);
        self.chunks.get(k)?.get(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_keeps_reading_what_it_saw_after_appends_and_take() {
        let mut live: Live<u64> = Live::default();
        for v in 0..3000u64 {
            live.push(v);
        }
        let view = live.view();
        for v in 3000..3100u64 {
            live.push(v);
        }
        assert_eq!(live.len(), 3100);
        assert_eq!(
            live.iter().copied().collect::<Vec<_>>(),
            (0..3100).collect::<Vec<_>>()
        );
        // Taken while the view holds chunks: copied, and the view still reads.
        let taken: Vec<u64> = live.drain().collect();
        assert_eq!(taken, (0..3100).collect::<Vec<_>>());
        assert_eq!(live.len(), 0);
        assert!(live.get(0).is_none());
        assert_eq!(view.get(2999), Some(&2999));
        assert_eq!(view.get(3000), None, "appended after the view");
        drop(view);
        live.push(7);
        assert_eq!(live.drain().collect::<Vec<_>>(), vec![7]);
    }

    #[test]
    fn offsets_map_to_chunks_without_gaps() {
        let mut next = (0usize, 0usize);
        for off in 0..DOUBLING_SLOTS + 3 * CHUNK_SLOTS_MAX {
            assert_eq!(locate(off), next, "offset {off}");
            next = if next.1 + 1 == chunk_slots(next.0) {
                (next.0 + 1, 0)
            } else {
                (next.0, next.1 + 1)
            };
        }
    }
}
