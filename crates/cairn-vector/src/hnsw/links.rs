//! Views of the adjacency arrays, shared by the three code paths that walk
//! them: the frozen graph (`u32` slots, read only), the sequential insert
//! (`Cell<u32>` slots borrowed from the graph's own arrays) and the parallel
//! build (`AtomicU32` slots with relaxed ordering, one lock per node for
//! writers).
//!
//! A block is `1 + capacity` slots: the count, then the neighbours. Writers
//! store the neighbours before the count. A reader racing a writer may see a
//! stale or mixed list, but every value it can see is a node id that was
//! valid when written (slots start at 0, and node 0 is inserted before any
//! other), so a race costs at most a detour, never a wrong memory access.
//! Counts are clamped to the block's capacity on read.

use parking_lot::{Mutex, MutexGuard};
use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};

/// One adjacency slot that can be read.
pub(crate) trait Slot {
    fn load(&self) -> u32;
}

/// One adjacency slot that can be written through a shared reference.
pub(crate) trait SlotMut: Slot {
    fn store(&self, value: u32);
}

impl Slot for u32 {
    #[inline(always)]
    fn load(&self) -> u32 {
        *self
    }
}

impl Slot for Cell<u32> {
    #[inline(always)]
    fn load(&self) -> u32 {
        self.get()
    }
}

impl SlotMut for Cell<u32> {
    #[inline(always)]
    fn store(&self, value: u32) {
        self.set(value);
    }
}

impl Slot for AtomicU32 {
    #[inline(always)]
    fn load(&self) -> u32 {
        AtomicU32::load(self, Ordering::Relaxed)
    }
}

impl SlotMut for AtomicU32 {
    #[inline(always)]
    fn store(&self, value: u32) {
        AtomicU32::store(self, value, Ordering::Relaxed);
    }
}

/// Borrowed adjacency of a whole graph.
pub(crate) struct Links<'a, S> {
    /// `nodes * stride0` slots.
    pub(crate) level0: &'a [S],
    /// Blocks of `stride_upper` slots: node `i` with level `L > 0` owns the
    /// `L` blocks starting at `upper_offset[i]`, level 1 first.
    pub(crate) upper: &'a [S],
    pub(crate) upper_offset: &'a [u32],
    pub(crate) levels: &'a [u8],
    /// `1 + 2*m`.
    pub(crate) stride0: usize,
    /// `1 + m`.
    pub(crate) stride_upper: usize,
}

impl<'a, S: Slot> Links<'a, S> {
    /// The block of `node` on `level`; empty if the node has no such level.
    #[inline(always)]
    pub(crate) fn block(&self, node: u32, level: usize) -> &'a [S] {
        let node = node as usize;
        if level == 0 {
            let start = node * self.stride0;
            return self.level0.get(start..start + self.stride0).unwrap_or(&[]);
        }
        match (self.levels.get(node), self.upper_offset.get(node)) {
            (Some(&node_level), Some(&offset)) if usize::from(node_level) >= level => {
                let start = offset as usize + (level - 1) * self.stride_upper;
                self.upper
                    .get(start..start + self.stride_upper)
                    .unwrap_or(&[])
            }
            _ => &[],
        }
    }

    /// The neighbour slots of `node` on `level`.
    #[inline(always)]
    pub(crate) fn neighbours(&self, node: u32, level: usize) -> &'a [S] {
        match self.block(node, level).split_first() {
            Some((count, slots)) => {
                let count = (count.load() as usize).min(slots.len());
                &slots[..count]
            }
            None => &[],
        }
    }

    /// Copies the neighbours of `node` on `level` into `out`.
    pub(crate) fn read_into(&self, node: u32, level: usize, out: &mut Vec<u32>) {
        out.clear();
        out.extend(self.neighbours(node, level).iter().map(Slot::load));
    }
}

impl<S: SlotMut> Links<'_, S> {
    /// Replaces the neighbours of `node` on `level` (truncated to the block's
    /// capacity). False if the node has no such level.
    pub(crate) fn write(&self, node: u32, level: usize, list: &[u32]) -> bool {
        let Some((count, slots)) = self.block(node, level).split_first() else {
            return false;
        };
        let n = list.len().min(slots.len());
        for (slot, &value) in slots.iter().zip(list) {
            slot.store(value);
        }
        count.store(n as u32);
        true
    }

    /// Appends one neighbour if there is room; false if the list is full.
    pub(crate) fn push(&self, node: u32, level: usize, neighbour: u32) -> bool {
        let Some((count, slots)) = self.block(node, level).split_first() else {
            return false;
        };
        let n = count.load() as usize;
        match slots.get(n) {
            Some(slot) => {
                slot.store(neighbour);
                count.store(n as u32 + 1);
                true
            }
            None => false,
        }
    }

    /// Capacity of a list on `level`.
    pub(crate) fn capacity(&self, level: usize) -> usize {
        if level == 0 {
            self.stride0 - 1
        } else {
            self.stride_upper - 1
        }
    }
}

/// Writer locks, one per node. A writer holds at most one at a time, so
/// they cannot deadlock.
pub(crate) trait NodeLocks {
    type Guard<'g>
    where
        Self: 'g;
    fn lock(&self, node: u32) -> Self::Guard<'_>;
}

/// The sequential insert: `&mut Graph` already excludes every other writer.
pub(crate) struct NoLocks;

impl NodeLocks for NoLocks {
    type Guard<'g> = ();
    #[inline(always)]
    fn lock(&self, _node: u32) {}
}

/// The parallel build: one byte-sized lock per node.
pub(crate) struct PerNodeLocks(pub(crate) Vec<Mutex<()>>);

impl NodeLocks for PerNodeLocks {
    type Guard<'g> = Option<MutexGuard<'g, ()>>;
    #[inline(always)]
    fn lock(&self, node: u32) -> Self::Guard<'_> {
        self.0.get(node as usize).map(Mutex::lock)
    }
}
