//! A compressed binary Merkle trie (a crit-bit tree) over 32-byte keys:
//! the tree of one table's rows (RFC 0002 §2.3).
//!
//! Shape: the unique binary trie of the key set with every one-child node
//! removed. An inner node records the first bit position (`depth`, 0 = the
//! most significant bit of byte 0) at which the keys below it differ; keys
//! with that bit 0 go left, 1 right. So the shape — and the root — depend
//! only on the set of leaves, never on the order they were written in.
//!
//! Hashes: `leaf = hash(TrieLeaf, key ‖ version u64 LE ‖ content)`,
//! `node = trie_node_hash(depth, left, right)` (one blake3 key per depth),
//! the empty trie's root is [`empty_root`].
//!
//! Storage: the keys whose first bit is 0 and those whose first bit is 1
//! are two independent halves ([`Trie`] says why that changes nothing
//! else), so a large batch can change them on two threads
//! ([`Trie::update_batch_with`]). In each half, nodes live in arenas
//! addressed by `u32` (no per-node allocation): the 12 bytes a walk reads
//! of an inner node in one array, its two children's hashes (one cache
//! line) in another. With a stale flag per child, a change walks its path
//! once (recording it) and marks the path stale; [`Trie::root`] re-hashes
//! only stale nodes — reading nothing off the changed paths (a sibling's
//! hash is in the parent), sharing the upper levels among a batch's
//! changes, and hashing the nodes of one split depth together
//! ([`crate::batch`], SIMD with the `simd` feature).
//!
//! Invariants: depths strictly increase from the root down; every key below
//! an inner node agrees on the bits before its depth; a child hash not
//! marked stale is that child's hash; arenas hold no reachable node twice.
//! Never panics.

use crate::error::VerifyError;
use crate::hash::{empty_root, trie_node_hash, Hash};

/// Bit `depth` of `key`, most significant bit of byte 0 first.
pub fn key_bit(key: &Hash, depth: u8) -> usize {
    usize::from((key.0[usize::from(depth / 8)] >> (7 - depth % 8)) & 1)
}

/// The first bit position at which `a` and `b` differ (None if equal).
fn crit_bit(a: &Hash, b: &Hash) -> Option<u8> {
    for (i, (x, y)) in a.0.iter().zip(b.0.iter()).enumerate() {
        let d = x ^ y;
        if d != 0 {
            // i < 32 and leading_zeros < 8, so this fits in u8.
            return Some((i * 8 + d.leading_zeros() as usize) as u8);
        }
    }
    None
}

pub use crate::hash::{TrieLeaf, TRIE_LEAF_BYTES};

/// A node reference: the top bit set means a leaf index, else an inner index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NodeRef(u32);

const LEAF_BIT: u32 = 1 << 31;

impl NodeRef {
    fn leaf(i: u32) -> NodeRef {
        NodeRef(i | LEAF_BIT)
    }
    fn inner(i: u32) -> NodeRef {
        NodeRef(i)
    }
    fn as_leaf(self) -> Option<usize> {
        (self.0 & LEAF_BIT != 0).then_some((self.0 & !LEAF_BIT) as usize)
    }
    fn as_inner(self) -> Option<usize> {
        (self.0 & LEAF_BIT == 0).then_some(self.0 as usize)
    }
}

/// An inner node: what a walk reads (12 bytes, so the upper levels of a
/// large trie stay in cache). Its children's hashes are in
/// [`ChildHashes`] at the same index, read only when re-hashing or proving.
#[derive(Clone, Debug)]
struct Inner {
    depth: u8,
    /// `stale[s]`: something below child `s` changed since its hash.
    stale: [bool; 2],
    children: [NodeRef; 2],
}

/// The hashes of an inner node's two children: one cache line.
#[derive(Clone, Copy, Debug, Default)]
#[repr(align(64))]
struct ChildHashes([Hash; 2]);

/// Where a node hangs: the root slot or a child slot of an inner node.
#[derive(Clone, Copy, Debug)]
enum Link {
    Root,
    Child(usize, usize),
}

/// What [`Trie::update`] does with the leaf under a key.
pub enum Change {
    /// Write this leaf (its key must be the key updated).
    Put(TrieLeaf),
    /// Remove the leaf (nothing happens if there is none).
    Remove,
    /// Leave the trie as it is.
    Keep,
}

/// One half of a [`Trie`]: the crit-bit trie of the keys whose first bit
/// is 0 (or 1). See the module doc.
#[derive(Clone, Debug, Default)]
struct Half {
    root: Option<NodeRef>,
    /// The root's hash, unless `root_stale`.
    root_hash: Hash,
    root_stale: bool,
    inners: Vec<Inner>,
    /// `child_hashes[i]`: the hashes of `inners[i]`'s children.
    child_hashes: Vec<ChildHashes>,
    leaves: Vec<TrieLeaf>,
    free_inners: Vec<u32>,
    free_leaves: Vec<u32>,
    len: usize,
    /// Scratch: the path of the last search, (inner node, side taken).
    path: Vec<(usize, usize)>,
    /// Scratch of [`Half::rehash`].
    rehash_work: RehashWork,
}

/// Scratch space of [`Half::rehash`], kept between calls so a re-hash
/// allocates nothing once warmed up.
#[derive(Clone, Debug, Default)]
struct RehashWork {
    /// Inner nodes still to visit.
    stack: Vec<usize>,
    /// Stale leaf slots (inner node, side) and their leaves.
    leaves: Vec<(usize, usize)>,
    leaf_values: Vec<TrieLeaf>,
    /// Stale inner-node slots (parent, side, child) by the child's depth.
    by_depth: Vec<Vec<(usize, usize, usize)>>,
    /// The deepest depth with slots in `by_depth` (only depths up to it
    /// are cleared and visited: a small commit's re-hash stays small).
    deepest: usize,
    pairs: Vec<[Hash; 2]>,
    hashes: Vec<Hash>,
}

impl RehashWork {
    fn clear(&mut self) {
        self.stack.clear();
        self.leaves.clear();
        self.leaf_values.clear();
        self.by_depth
            .resize_with(usize::from(u8::MAX) + 1, Vec::new);
        self.by_depth
            .iter_mut()
            .take(self.deepest + 1)
            .for_each(Vec::clear);
        self.deepest = 0;
        self.pairs.clear();
        self.hashes.clear();
    }
}

/// Most leaves a trie holds (node references are 31-bit).
pub const TRIE_MAX_LEAVES: usize = (LEAF_BIT - 1) as usize;

impl Half {
    /// The root, or None for an empty half.
    fn root_if_any(&mut self) -> Option<Hash> {
        self.root.is_some().then(|| self.root())
    }

    /// Walks from the root along `key`'s bits to the leaf the search ends
    /// at (the key's own leaf or the one that would be its neighbour),
    /// recording the path in `self.path`.
    fn search(&mut self, key: &Hash) -> Option<usize> {
        self.path.clear();
        let mut n = self.root?;
        loop {
            if let Some(l) = n.as_leaf() {
                return Some(l);
            }
            let i = n.as_inner()?;
            let node = self.inners.get(i)?;
            let side = key_bit(key, node.depth);
            self.path.push((i, side));
            n = node.children[side];
        }
    }

    /// The leaf stored under `key`.
    pub fn get(&self, key: &Hash) -> Option<&TrieLeaf> {
        let mut n = self.root?;
        loop {
            if let Some(l) = n.as_leaf() {
                return self.leaves.get(l).filter(|leaf| leaf.key == *key);
            }
            let node = self.inners.get(n.as_inner()?)?;
            n = node.children[key_bit(key, node.depth)];
        }
    }

    /// Marks the first `upto` steps of the recorded path stale.
    fn mark_path(&mut self, upto: usize) {
        self.root_stale = true;
        for k in 0..upto.min(self.path.len()) {
            let (i, side) = self.path[k];
            if let Some(n) = self.inners.get_mut(i) {
                n.stale[side] = true;
            }
        }
    }

    fn link_target(&self, link: Link) -> Option<NodeRef> {
        match link {
            Link::Root => self.root,
            Link::Child(i, side) => self.inners.get(i).map(|n| n.children[side]),
        }
    }

    /// The hash stored for the node at `link` and whether it is stale.
    fn link_hash(&self, link: Link) -> (Hash, bool) {
        match link {
            Link::Root => (self.root_hash, self.root_stale),
            Link::Child(i, side) => self
                .inners
                .get(i)
                .zip(self.child_hashes.get(i))
                .map_or((Hash::default(), true), |(n, h)| (h.0[side], n.stale[side])),
        }
    }

    /// Points `link` at `to`, with the hash and staleness given.
    fn set_link(&mut self, link: Link, to: Option<NodeRef>, hash: Hash, stale: bool) {
        match link {
            Link::Root => {
                self.root = to;
                self.root_hash = hash;
                self.root_stale = stale;
            }
            Link::Child(i, side) => {
                if let (Some(n), Some(h), Some(to)) =
                    (self.inners.get_mut(i), self.child_hashes.get_mut(i), to)
                {
                    n.children[side] = to;
                    h.0[side] = hash;
                    n.stale[side] = stale;
                }
            }
        }
    }

    fn alloc_leaf(&mut self, leaf: TrieLeaf) -> NodeRef {
        match self.free_leaves.pop() {
            Some(i) => {
                if let Some(slot) = self.leaves.get_mut(i as usize) {
                    *slot = leaf;
                }
                NodeRef::leaf(i)
            }
            None => {
                self.leaves.push(leaf);
                NodeRef::leaf((self.leaves.len() - 1) as u32)
            }
        }
    }

    fn alloc_inner(&mut self, node: Inner, hashes: [Hash; 2]) -> NodeRef {
        match self.free_inners.pop() {
            Some(i) => {
                if let Some(slot) = self.inners.get_mut(i as usize) {
                    *slot = node;
                }
                if let Some(slot) = self.child_hashes.get_mut(i as usize) {
                    *slot = ChildHashes(hashes);
                }
                NodeRef::inner(i)
            }
            None => {
                self.inners.push(node);
                self.child_hashes.push(ChildHashes(hashes));
                NodeRef::inner((self.inners.len() - 1) as u32)
            }
        }
    }

    /// [`Trie::update`] in this half, which may grow to `cap` leaves.
    fn update(
        &mut self,
        key: &Hash,
        cap: usize,
        f: impl FnOnce(Option<&TrieLeaf>) -> Change,
    ) -> Result<(), TrieLeaf> {
        let Some(l) = self.search(key) else {
            return match f(None) {
                Change::Put(leaf) if leaf.key == *key && self.len < cap => {
                    let r = self.alloc_leaf(leaf);
                    self.root = Some(r);
                    self.root_stale = true;
                    self.len = 1;
                    Ok(())
                }
                Change::Put(leaf) => Err(leaf),
                Change::Remove | Change::Keep => Ok(()),
            };
        };
        let Some(found) = self.leaves.get(l).copied() else {
            return Ok(());
        };
        if found.key == *key {
            match f(Some(&found)) {
                Change::Keep => {}
                Change::Put(leaf) if leaf.key == *key => {
                    if let Some(slot) = self.leaves.get_mut(l) {
                        *slot = leaf;
                    }
                    self.mark_path(self.path.len());
                }
                Change::Put(leaf) => return Err(leaf),
                Change::Remove => self.unlink(l),
            }
            return Ok(());
        }
        let leaf = match f(None) {
            Change::Put(leaf) if leaf.key == *key => leaf,
            Change::Put(leaf) => return Err(leaf),
            Change::Remove | Change::Keep => return Ok(()),
        };
        if self.len >= cap {
            return Err(leaf);
        }
        let Some(b) = crit_bit(key, &found.key) else {
            return Err(leaf);
        };
        // The new inner node goes above the first node on the path that
        // splits below bit `b` (the walk to insert would take the same
        // steps, as it follows the same key's bits).
        let at = self
            .path
            .iter()
            .position(|&(i, _)| self.inners.get(i).is_some_and(|n| n.depth > b))
            .unwrap_or(self.path.len());
        let link = match at.checked_sub(1).and_then(|k| self.path.get(k)) {
            None => Link::Root,
            Some(&(i, side)) => Link::Child(i, side),
        };
        let Some(existing) = self.link_target(link) else {
            return Err(leaf);
        };
        let (existing_hash, existing_stale) = self.link_hash(link);
        let new_leaf = self.alloc_leaf(leaf);
        let new_side = key_bit(key, b);
        let mut children = [existing, existing];
        let mut hashes = [existing_hash, existing_hash];
        let mut stale = [existing_stale, existing_stale];
        children[new_side] = new_leaf;
        hashes[new_side] = Hash::default();
        stale[new_side] = true;
        let inner = self.alloc_inner(
            Inner {
                depth: b,
                stale,
                children,
            },
            hashes,
        );
        self.set_link(link, Some(inner), Hash::default(), true);
        self.mark_path(at);
        self.len += 1;
        Ok(())
    }

    /// Removes leaf `l`, found at the end of the recorded path.
    fn unlink(&mut self, l: usize) {
        match self.path.last().copied() {
            None => {
                self.root = None;
                self.root_stale = true;
            }
            Some((parent, side)) => {
                let Some(p) = self.inners.get(parent) else {
                    return;
                };
                let hash = self
                    .child_hashes
                    .get(parent)
                    .map_or_else(Hash::default, |h| h.0[1 - side]);
                let (sibling, stale) = (p.children[1 - side], p.stale[1 - side]);
                let depth = self.path.len();
                let link = match depth.checked_sub(2).and_then(|g| self.path.get(g)) {
                    None => Link::Root,
                    Some(&(g, gside)) => Link::Child(g, gside),
                };
                self.set_link(link, Some(sibling), hash, stale);
                self.free_inners.push(parent as u32);
                self.mark_path(depth.saturating_sub(2));
                self.root_stale = true;
            }
        }
        self.free_leaves.push(l as u32);
        self.len -= 1;
    }

    /// The root hash, re-hashing what changed since the last call.
    fn root(&mut self) -> Hash {
        if self.root.is_none() {
            return empty_root();
        }
        if self.root_stale {
            self.root_hash = match self.root {
                None => empty_root(),
                Some(r) => self.rehash(r),
            };
            self.root_stale = false;
        }
        self.root_hash
    }

    /// Walks to the leaves of `keys` (best sorted), several at a time in
    /// lockstep, touching only memory: the walks' cache misses overlap, and
    /// the updates that follow find their paths in cache.
    fn warm(&self, keys: &[Hash]) {
        const LANES: usize = 16;
        let Some(root) = self.root else { return };
        // Bytes read from the nodes' child hashes and the leaves, which the
        // walk itself does not need: reading them brings in the cache lines
        // the update and the re-hash will (a prefetch, in safe code).
        let mut touched = 0u8;
        for group in keys.chunks(LANES) {
            let mut at = [root; LANES];
            let mut live = group.len();
            while live > 0 {
                live = 0;
                for (slot, key) in at.iter_mut().zip(group) {
                    let Some(i) = slot.as_inner() else {
                        continue;
                    };
                    if let Some(node) = self.inners.get(i) {
                        touched ^= self.child_hashes.get(i).map_or(0, |h| h.0[0].0[0]);
                        *slot = node.children[key_bit(key, node.depth)];
                        if let Some(l) = slot.as_leaf() {
                            touched ^= self.leaves.get(l).map_or(0, |l| l.key.0[0]);
                        }
                        live += 1;
                    }
                }
            }
        }
        std::hint::black_box(touched);
    }

    /// The hash of the trie under root `r`, refreshing every stale child
    /// hash first, in batches: the stale leaves all at once, then the
    /// stale inner nodes one split depth at a time, deepest first. Depth
    /// strictly increases downward, so when a depth's turn comes every
    /// stale child below it is already fresh, and the nodes of one depth
    /// (none above another) are hashed together ([`crate::batch`]).
    fn rehash(&mut self, r: NodeRef) -> Hash {
        let mut work = std::mem::take(&mut self.rehash_work);
        work.clear();
        if let Some(i) = r.as_inner() {
            work.stack.push(i);
        }
        while let Some(i) = work.stack.pop() {
            let Some(node) = self.inners.get(i) else {
                continue;
            };
            for side in 0..2 {
                if !node.stale[side] {
                    continue;
                }
                let child = node.children[side];
                if let Some(l) = child.as_leaf() {
                    if let Some(leaf) = self.leaves.get(l) {
                        work.leaves.push((i, side));
                        work.leaf_values.push(*leaf);
                    }
                } else if let Some(j) = child.as_inner() {
                    // A depth that does not increase downward (a corrupted
                    // arena) is left alone rather than followed into a loop.
                    match self.inners.get(j) {
                        Some(c) if c.depth > node.depth => {
                            let d = usize::from(c.depth);
                            if let Some(slots) = work.by_depth.get_mut(d) {
                                slots.push((i, side, j));
                                work.deepest = work.deepest.max(d);
                            }
                            work.stack.push(j);
                        }
                        _ => {}
                    }
                }
            }
        }
        crate::batch::trie_leaf_hashes(&work.leaf_values, &mut work.hashes);
        for (&(i, side), &h) in work.leaves.iter().zip(&work.hashes) {
            self.set_child_hash(i, side, h);
        }
        for depth in (0..=work.deepest).rev() {
            let Some(slots) = work.by_depth.get(depth).filter(|s| !s.is_empty()) else {
                continue;
            };
            // `depth` comes from a node's u8 depth.
            let depth = depth as u8;
            work.pairs.clear();
            work.pairs.extend(slots.iter().map(|&(_, _, j)| {
                self.child_hashes
                    .get(j)
                    .map_or_else(Default::default, |c| c.0)
            }));
            work.hashes.clear();
            crate::batch::trie_node_hashes(depth, &work.pairs, &mut work.hashes);
            for (&(i, side, _), &h) in slots.iter().zip(&work.hashes) {
                self.set_child_hash(i, side, h);
            }
        }
        self.rehash_work = work;
        match (r.as_leaf(), r.as_inner()) {
            (Some(l), _) => self.leaves.get(l).map(TrieLeaf::hash).unwrap_or_default(),
            (_, Some(i)) => self
                .inners
                .get(i)
                .zip(self.child_hashes.get(i))
                .map(|(n, h)| trie_node_hash(n.depth, &h.0[0], &h.0[1]))
                .unwrap_or_default(),
            _ => Hash::default(),
        }
    }

    /// Stores a fresh hash for child `side` of inner node `i`.
    fn set_child_hash(&mut self, i: usize, side: usize, h: Hash) {
        if let (Some(n), Some(c)) = (self.inners.get_mut(i), self.child_hashes.get_mut(i)) {
            c.0[side] = h;
            n.stale[side] = false;
        }
    }

    /// The proof for `key`: inclusion when the trie holds it, absence (the
    /// neighbouring leaf its search ends at) otherwise.
    fn prove(&mut self, key: &Hash) -> TrieProof {
        self.root();
        let leaf = self.search(key).and_then(|l| self.leaves.get(l).copied());
        let path = self
            .path
            .iter()
            .rev()
            .filter_map(|&(i, side)| {
                self.inners
                    .get(i)
                    .zip(self.child_hashes.get(i))
                    .map(|(n, h)| TrieStep {
                        depth: n.depth,
                        sibling: h.0[1 - side],
                    })
            })
            .collect();
        TrieProof { leaf, path }
    }

    /// Calls `f` with every leaf, in key order.
    fn for_each_leaf(&self, f: &mut impl FnMut(&TrieLeaf)) {
        let mut stack: Vec<NodeRef> = self.root.into_iter().collect();
        while let Some(n) = stack.pop() {
            if let Some(l) = n.as_leaf() {
                if let Some(leaf) = self.leaves.get(l) {
                    f(leaf);
                }
            } else if let Some(node) = n.as_inner().and_then(|i| self.inners.get(i)) {
                stack.push(node.children[1]);
                stack.push(node.children[0]);
            }
        }
    }

    /// The half holding sorted, distinct `dedup`.
    fn from_sorted(dedup: &[TrieLeaf]) -> Half {
        let mut t = Half {
            len: dedup.len(),
            root_stale: true,
            ..Half::default()
        };
        t.leaves.reserve(dedup.len());
        t.inners.reserve(dedup.len().saturating_sub(1));
        t.child_hashes.reserve(dedup.len().saturating_sub(1));
        if !dedup.is_empty() {
            let (root, hash) = t.build(dedup);
            t.root = Some(root);
            t.root_hash = hash;
            t.root_stale = false;
        }
        t
    }

    /// Builds the sub-trie of sorted, distinct `leaves` (non-empty); returns
    /// it with its hash.
    fn build(&mut self, leaves: &[TrieLeaf]) -> (NodeRef, Hash) {
        match leaves {
            // Not reached (callers pass a non-empty slice); a dangling
            // leaf reference reads as no leaf.
            [] => (NodeRef::leaf(!LEAF_BIT), Hash::default()),
            [one] => (self.alloc_leaf(*one), one.hash()),
            [first, .., last] => {
                // Sorted keys: the first and last differ first at the split
                // bit of the whole range.
                let b = crit_bit(&first.key, &last.key).unwrap_or(u8::MAX);
                let mid = leaves.partition_point(|l| key_bit(&l.key, b) == 0);
                let (lo, hi) = leaves.split_at(mid.clamp(1, leaves.len() - 1));
                let (left, lh) = self.build(lo);
                let (right, rh) = self.build(hi);
                let node = self.alloc_inner(
                    Inner {
                        depth: b,
                        stale: [false, false],
                        children: [left, right],
                    },
                    [lh, rh],
                );
                (node, trie_node_hash(b, &lh, &rh))
            }
        }
    }
}

/// A table's Merkle trie: the crit-bit trie of its key set (module doc).
///
/// Stored as two independent halves, the keys whose first bit is 0 and
/// those whose first bit is 1, each with its own arenas. While both halves
/// hold keys, the trie's root node splits at bit 0 and its children are the
/// halves' roots; otherwise the trie is the one non-empty half. So this is
/// only a storage choice — roots and proofs are those of the one trie — and
/// it lets [`Trie::update_batch_with`] change the two halves on two threads.
#[derive(Clone, Debug, Default)]
pub struct Trie {
    halves: [Half; 2],
}

/// Changes in one [`Trie::update_batch_with`] from which the halves are
/// updated and re-hashed in two closures (perhaps two threads).
pub const PARALLEL_BATCH_CHANGES: usize = 256;

impl Trie {
    /// An empty trie.
    pub fn new() -> Trie {
        Trie::default()
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.halves[0].len + self.halves[1].len
    }

    /// True when the trie has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Leaves the half `h` may grow to within [`TRIE_MAX_LEAVES`].
    fn cap(&self, h: usize) -> usize {
        self.halves[h].len + TRIE_MAX_LEAVES.saturating_sub(self.len())
    }

    /// The leaf stored under `key`.
    pub fn get(&self, key: &Hash) -> Option<&TrieLeaf> {
        self.halves[key_bit(key, 0)].get(key)
    }

    /// Inserts `leaf`, or replaces the leaf with its key; returns the
    /// replaced leaf. A full trie ([`TRIE_MAX_LEAVES`]) refuses new keys
    /// and returns `Err(leaf)`.
    pub fn insert(&mut self, leaf: TrieLeaf) -> Result<Option<TrieLeaf>, TrieLeaf> {
        let mut old = None;
        self.update(&leaf.key, |existing| {
            old = existing.copied();
            Change::Put(leaf)
        })?;
        Ok(old)
    }

    /// Removes the leaf stored under `key`; returns it.
    pub fn remove(&mut self, key: &Hash) -> Option<TrieLeaf> {
        let mut old = None;
        let _ = self.update(key, |existing| {
            old = existing.copied();
            Change::Remove
        });
        old
    }

    /// Reads the leaf under `key` (if any) and applies what `f` decides,
    /// in one walk from the root. A `Put` of a new key into a full trie is
    /// refused with `Err(leaf)`; a `Put` whose leaf has another key is
    /// refused the same way.
    pub fn update(
        &mut self,
        key: &Hash,
        f: impl FnOnce(Option<&TrieLeaf>) -> Change,
    ) -> Result<(), TrieLeaf> {
        let h = key_bit(key, 0);
        let cap = self.cap(h);
        self.halves[h].update(key, cap, f)
    }

    /// [`Trie::update`] of every key in `keys`, in order, with `f(i,
    /// existing)` deciding for `keys[i]`; one thread. Returns how many
    /// `Put`s were refused. Keys sorted in key order walk shared paths from
    /// cache.
    pub fn update_batch<F>(&mut self, keys: &[Hash], f: F) -> usize
    where
        F: Fn(usize, Option<&TrieLeaf>) -> Change + Sync,
    {
        self.update_batch_with(keys, f, |a, b| {
            a();
            b();
        })
    }

    /// [`Trie::update_batch`], where a batch of at least
    /// [`PARALLEL_BATCH_CHANGES`] keys with keys in both halves updates and
    /// re-hashes each half in one of the two closures handed to `join`,
    /// which may run them in parallel (the engine wakes one pool thread
    /// for each). The halves share no node, so the result is the same
    /// either way.
    pub fn update_batch_with<F, J>(&mut self, keys: &[Hash], f: F, join: J) -> usize
    where
        F: Fn(usize, Option<&TrieLeaf>) -> Change + Sync,
        J: FnOnce(&mut (dyn FnMut() + Send), &mut (dyn FnMut() + Send)),
    {
        let mut mine: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
        for (i, k) in keys.iter().enumerate() {
            mine[key_bit(k, 0)].push(i);
        }
        // Split only with room for every key, so no `Put` can be refused
        // and the result cannot depend on which path ran.
        let room = TRIE_MAX_LEAVES.saturating_sub(self.len());
        let split = keys.len() >= PARALLEL_BATCH_CHANGES
            && keys.len() <= room
            && mine.iter().all(|m| !m.is_empty());
        // Split, each half is also re-hashed in its closure; otherwise the
        // re-hash waits for `root()` (after the next batch, perhaps).
        let run = |half: &mut Half, mine: &[usize], cap: usize, rehash: bool| {
            let mine_keys: Vec<Hash> = mine.iter().filter_map(|&i| keys.get(i).copied()).collect();
            if mine_keys.len() >= 32 {
                half.warm(&mine_keys);
            }
            let mut refused = 0;
            for (&i, key) in mine.iter().zip(&mine_keys) {
                // A grown half lowers the cap of the next call, not this one's.
                if half.update(key, cap, |existing| f(i, existing)).is_err() {
                    refused += 1;
                }
            }
            if rehash {
                half.root();
            }
            refused
        };
        if !split {
            let cap = self.cap(0);
            let refused = run(&mut self.halves[0], &mine[0], cap, false);
            let cap = self.cap(1);
            return refused + run(&mut self.halves[1], &mine[1], cap, false);
        }
        let caps = [self.cap(0), self.cap(1)];
        let [h0, h1] = &mut self.halves;
        // Each half runs exactly once: a `join` that calls a closure twice
        // is ignored the second time, one that never calls it is made up
        // for here.
        let (mut left, mut right) = (None, None);
        join(
            &mut || {
                if left.is_none() {
                    left = Some(run(&mut *h0, &mine[0], caps[0], true));
                }
            },
            &mut || {
                if right.is_none() {
                    right = Some(run(&mut *h1, &mine[1], caps[1], true));
                }
            },
        );
        let left = left.unwrap_or_else(|| run(h0, &mine[0], caps[0], true));
        let right = right.unwrap_or_else(|| run(h1, &mine[1], caps[1], true));
        left + right
    }

    /// The root hash, re-hashing what changed since the last call.
    pub fn root(&mut self) -> Hash {
        let [h0, h1] = &mut self.halves;
        match (h0.root_if_any(), h1.root_if_any()) {
            (Some(l), Some(r)) => trie_node_hash(0, &l, &r),
            (Some(one), None) | (None, Some(one)) => one,
            (None, None) => empty_root(),
        }
    }

    /// Walks to the leaves of `keys` (best sorted), several at a time in
    /// lockstep, touching only memory: the walks' cache misses overlap, and
    /// the updates that follow find their paths in cache.
    pub fn warm(&self, keys: &[Hash]) {
        let (zero, one): (Vec<Hash>, Vec<Hash>) = keys.iter().partition(|k| key_bit(k, 0) == 0);
        self.halves[0].warm(&zero);
        self.halves[1].warm(&one);
    }

    /// The proof for `key`: inclusion when the trie holds it, absence (the
    /// neighbouring leaf its search ends at) otherwise.
    pub fn prove(&mut self, key: &Hash) -> TrieProof {
        let h = key_bit(key, 0);
        let [h0, h1] = &mut self.halves;
        let (own, other) = if h == 0 { (h0, h1) } else { (h1, h0) };
        if own.root.is_none() {
            // The trie is the other half (or empty): the key's search runs
            // there, by the same bits.
            return other.prove(key);
        }
        let mut proof = own.prove(key);
        if let Some(sibling) = other.root_if_any() {
            proof.path.push(TrieStep { depth: 0, sibling });
        }
        proof
    }

    /// Every leaf, in key order.
    pub fn leaves(&self) -> Vec<TrieLeaf> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each_leaf(|l| out.push(*l));
        out
    }

    /// Calls `f` with every leaf, in key order, without collecting them.
    pub fn for_each_leaf(&self, mut f: impl FnMut(&TrieLeaf)) {
        self.halves[0].for_each_leaf(&mut f);
        self.halves[1].for_each_leaf(&mut f);
    }

    /// Builds the trie of `leaves` (any order; a later duplicate key wins).
    pub fn from_leaves(mut leaves: Vec<TrieLeaf>) -> Trie {
        leaves.sort_by_key(|l| l.key);
        // Keep the last of equal keys.
        let mut dedup: Vec<TrieLeaf> = Vec::with_capacity(leaves.len());
        for l in leaves {
            match dedup.last_mut() {
                Some(last) if last.key == l.key => *last = l,
                _ => dedup.push(l),
            }
        }
        dedup.truncate(TRIE_MAX_LEAVES);
        // Sorted: the keys with first bit 0 come first.
        let (zero, one) = dedup.split_at(dedup.partition_point(|l| key_bit(&l.key, 0) == 0));
        if dedup.len() >= PARALLEL_BUILD_LEAVES {
            std::thread::scope(|s| {
                let left = s.spawn(|| Half::from_sorted(zero));
                let right = Half::from_sorted(one);
                let left = left.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                Trie {
                    halves: [left, right],
                }
            })
        } else {
            Trie {
                halves: [Half::from_sorted(zero), Half::from_sorted(one)],
            }
        }
    }
}

/// Leaves from which [`Trie::from_leaves`] builds the halves on two threads.
const PARALLEL_BUILD_LEAVES: usize = 1 << 16;

/// One level of a trie proof: the split depth and the other child's hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TrieStep {
    pub depth: u8,
    pub sibling: Hash,
}

/// A proof that a key is (inclusion) or is not (absence) in a trie.
///
/// `leaf` is the leaf the key's search ends at (`None` only for the empty
/// trie); `path` goes from that leaf up to the root. The key is present iff
/// `leaf.key` equals it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrieProof {
    pub leaf: Option<TrieLeaf>,
    pub path: Vec<TrieStep>,
}

/// What a verified trie proof shows about a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Membership {
    /// The trie holds this leaf under the key.
    Present(TrieLeaf),
    /// The trie holds no leaf under the key.
    Absent,
}

impl TrieProof {
    /// The root this proof implies for `key`, and what it shows, after the
    /// structural checks: depths strictly decrease from the leaf up, and the
    /// leaf agrees with `key` on every split bit (it is where the search for
    /// `key` ends). Compare the root with a trusted one.
    pub fn implied_root(&self, key: &Hash) -> Result<(Hash, Membership), VerifyError> {
        let Some(leaf) = &self.leaf else {
            if !self.path.is_empty() {
                return Err(VerifyError::TrieEmptyWithPath);
            }
            return Ok((empty_root(), Membership::Absent));
        };
        let mut h = leaf.hash();
        let mut below: Option<u8> = None;
        for (level, step) in self.path.iter().enumerate() {
            if below.is_some_and(|d| step.depth >= d) {
                return Err(VerifyError::TrieDepthOrder { level });
            }
            below = Some(step.depth);
            let side = key_bit(key, step.depth);
            if key_bit(&leaf.key, step.depth) != side {
                return Err(VerifyError::TrieLeafOffPath { level });
            }
            h = if side == 0 {
                trie_node_hash(step.depth, &h, &step.sibling)
            } else {
                trie_node_hash(step.depth, &step.sibling, &h)
            };
        }
        let shows = if leaf.key == *key {
            Membership::Present(*leaf)
        } else {
            Membership::Absent
        };
        Ok((h, shows))
    }

    /// Checks the proof for `key` against a trusted trie root.
    pub fn verify(&self, key: &Hash, root: &Hash) -> Result<Membership, VerifyError> {
        let (r, shows) = self.implied_root(key)?;
        if r != *root {
            return Err(VerifyError::RootMismatch {
                which: crate::error::WhichRoot::New,
            });
        }
        Ok(shows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{hash, Domain};

    fn leaf(i: u64, version: u64) -> TrieLeaf {
        TrieLeaf {
            key: hash(Domain::Key, &i.to_le_bytes()),
            version,
            content: hash(Domain::Row, &(i * 7).to_le_bytes()),
        }
    }

    #[test]
    fn root_depends_only_on_the_leaf_set() {
        let leaves: Vec<TrieLeaf> = (0..300).map(|i| leaf(i, 1)).collect();
        let mut a = Trie::new();
        for l in &leaves {
            assert_eq!(a.insert(*l), Ok(None));
        }
        let mut b = Trie::new();
        for l in leaves.iter().rev() {
            assert_eq!(b.insert(*l), Ok(None));
        }
        let mut c = Trie::from_leaves(leaves.clone());
        assert_eq!(a.root(), b.root());
        assert_eq!(a.root(), c.root());
        assert_eq!(a.leaves().len(), 300);
        // Insert extra then remove them: back to the same root.
        for i in 300..400 {
            a.insert(leaf(i, 1)).expect("room");
        }
        assert_ne!(a.root(), c.root());
        for i in 300..400 {
            assert_eq!(a.remove(&leaf(i, 1).key), Some(leaf(i, 1)));
        }
        assert_eq!(a.root(), c.root());
        assert_eq!(a.len(), 300);
        // Update: a different version changes the root; restoring restores it.
        assert_eq!(a.insert(leaf(5, 2)), Ok(Some(leaf(5, 1))));
        assert_ne!(a.root(), c.root());
        a.insert(leaf(5, 1)).expect("room");
        assert_eq!(a.root(), c.root());
    }

    #[test]
    fn proofs_verify_for_present_and_absent_keys() {
        let mut t = Trie::new();
        assert_eq!(
            t.prove(&leaf(1, 1).key).verify(&leaf(1, 1).key, &t.root()),
            Ok(Membership::Absent)
        );
        for i in 0..200 {
            t.insert(leaf(i * 2, 1)).expect("room");
        }
        let root = t.root();
        for i in 0..400 {
            let k = leaf(i, 1).key;
            let p = t.prove(&k);
            let shows = p.verify(&k, &root).expect("valid proof");
            if i % 2 == 0 {
                assert_eq!(shows, Membership::Present(leaf(i, 1)));
            } else {
                assert_eq!(shows, Membership::Absent);
            }
            // A proof never verifies for another key's claim when it changes
            // the answer: a present key's proof read for an absent key.
        }
        // Removing everything leaves the empty root.
        for i in 0..200 {
            t.remove(&leaf(i * 2, 1).key);
        }
        assert_eq!(t.root(), empty_root());
        assert!(t.is_empty());
    }

    /// Random inserts, updates and removes with `root()` at random moments
    /// (stale child hashes must never leak) against a rebuild of the same
    /// leaf set, and proofs for every key of the key space.
    #[test]
    fn random_changes_match_a_rebuild() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut t = Trie::new();
        let mut model = std::collections::BTreeMap::new();
        for step in 0..4000u64 {
            let i = next() % 300;
            match next() % 4 {
                0 => {
                    assert_eq!(
                        t.remove(&leaf(i, 1).key).is_some(),
                        model.remove(&i).is_some()
                    );
                }
                _ => {
                    let version = step;
                    t.insert(leaf(i, version)).expect("room");
                    model.insert(i, version);
                }
            }
            if next() % 3 == 0 {
                t.root();
            }
            if step % 97 == 0 {
                let leaves: Vec<TrieLeaf> = model.iter().map(|(&i, &v)| leaf(i, v)).collect();
                let mut rebuilt = Trie::from_leaves(leaves);
                let root = t.root();
                assert_eq!(root, rebuilt.root(), "step {step}");
                assert_eq!(t.len(), model.len());
                for k in 0..300 {
                    let key = leaf(k, 1).key;
                    let shows = t.prove(&key).verify(&key, &root).expect("valid proof");
                    match model.get(&k) {
                        Some(&v) => assert_eq!(shows, Membership::Present(leaf(k, v))),
                        None => assert_eq!(shows, Membership::Absent),
                    }
                }
            }
        }
    }

    /// Large batches (one re-hash of many stale paths), with warm-up walks,
    /// against rebuilds.
    #[test]
    fn large_batches_rehash_like_a_rebuild() {
        let mut t = Trie::from_leaves((0..5000).map(|i| leaf(i, 1)).collect());
        let mut model: std::collections::BTreeMap<u64, u64> = (0..5000).map(|i| (i, 1)).collect();
        for round in 0..4u64 {
            let keys: Vec<Hash> = (0..1200).map(|j| leaf(j * 7 + round, 1).key).collect();
            t.warm(&keys);
            for j in 0..1200u64 {
                let i = j * 7 + round;
                if j % 5 == 0 {
                    t.remove(&leaf(i, 1).key);
                    model.remove(&i);
                } else {
                    t.insert(leaf(i, round + 2)).expect("room");
                    model.insert(i, round + 2);
                }
            }
            let leaves: Vec<TrieLeaf> = model.iter().map(|(&i, &v)| leaf(i, v)).collect();
            assert_eq!(t.root(), Trie::from_leaves(leaves).root(), "round {round}");
            // And a small change after a batched re-hash.
            t.insert(leaf(1, 99)).expect("room");
            model.insert(1, 99);
            let leaves: Vec<TrieLeaf> = model.iter().map(|(&i, &v)| leaf(i, v)).collect();
            assert_eq!(
                t.root(),
                Trie::from_leaves(leaves).root(),
                "round {round} after"
            );
        }
    }

    #[test]
    fn single_leaf_and_absent_removal() {
        let mut t = Trie::new();
        t.insert(leaf(1, 1)).expect("room");
        assert_eq!(t.root(), leaf(1, 1).hash());
        assert_eq!(t.remove(&leaf(2, 1).key), None);
        assert_eq!(t.get(&leaf(1, 1).key), Some(&leaf(1, 1)));
        assert_eq!(t.get(&leaf(2, 1).key), None);
    }

    /// `update_batch` — with the halves on two threads or on one — gives the
    /// tries a rebuild gives, with removals, new keys,
    /// refreshed versions and a batch touching one half only.
    #[test]
    fn update_batch_matches_a_rebuild() {
        let mut t = Trie::from_leaves((0..4000).map(|i| leaf(i, 1)).collect());
        let mut model: std::collections::BTreeMap<u64, u64> = (0..4000).map(|i| (i, 1)).collect();
        for (round, n) in [(0u64, 1000u64), (1, 40), (2, 300), (3, 2)] {
            let ids: Vec<u64> = (0..n).map(|j| j * 13 + round).collect();
            let mut keyed: Vec<(Hash, u64)> = ids.iter().map(|&i| (leaf(i, 1).key, i)).collect();
            keyed.sort();
            let keys: Vec<Hash> = keyed.iter().map(|k| k.0).collect();
            let decide = |i: usize, existing: Option<&TrieLeaf>| {
                let id = keyed[i].1;
                match existing {
                    Some(_) if id.is_multiple_of(4) => Change::Remove,
                    Some(l) => Change::Put(leaf(id, l.version + 1)),
                    None => Change::Put(leaf(id, 1)),
                }
            };
            // Odd rounds on one thread, even rounds with the halves on two.
            let refused = if round % 2 == 1 {
                t.update_batch(&keys, decide)
            } else {
                t.update_batch_with(&keys, decide, |a, b| {
                    std::thread::scope(|s| {
                        s.spawn(a);
                        b();
                    })
                })
            };
            assert_eq!(refused, 0);
            for &i in &ids {
                match model.get(&i).copied() {
                    Some(_) if i.is_multiple_of(4) => {
                        model.remove(&i);
                    }
                    Some(v) => {
                        model.insert(i, v + 1);
                    }
                    None => {
                        model.insert(i, 1);
                    }
                }
            }
            let leaves: Vec<TrieLeaf> = model.iter().map(|(&i, &v)| leaf(i, v)).collect();
            assert_eq!(t.len(), leaves.len(), "round {round}");
            assert_eq!(
                t.root(),
                Trie::from_leaves(leaves.clone()).root(),
                "round {round}"
            );
            assert_eq!(
                t.leaves(),
                Trie::from_leaves(leaves).leaves(),
                "round {round}"
            );
        }
        // Only keys of one half (so one thread, whatever the size).
        let one_half: Vec<Hash> = (10_000..12_000u64)
            .map(|i| leaf(i, 1).key)
            .filter(|k| key_bit(k, 0) == 1)
            .collect();
        t.update_batch(&one_half, |i, _| {
            Change::Put(TrieLeaf {
                key: one_half[i],
                version: 7,
                content: one_half[i],
            })
        });
        let leaves = t.leaves();
        assert_eq!(t.root(), Trie::from_leaves(leaves).root());
    }

    /// The split path from an empty trie and from a trie with one half
    /// filled, with `join`s that run the halves on two threads, call each
    /// closure twice, or never call one: each half runs exactly once.
    #[test]
    fn split_batches_from_any_start_and_any_join() {
        type Join = fn(&mut (dyn FnMut() + Send), &mut (dyn FnMut() + Send));
        let joins: [(&str, Join); 4] = [
            ("threads", |a, b| {
                std::thread::scope(|s| {
                    s.spawn(a);
                    b();
                })
            }),
            ("twice", |a, b| {
                a();
                b();
                b();
                a();
            }),
            ("only a", |a, _| a()),
            ("neither", |_, _| {}),
        ];
        let ones: Vec<TrieLeaf> = (0..600u64)
            .map(|i| leaf(i, 1))
            .filter(|l| key_bit(&l.key, 0) == 1)
            .collect();
        for (name, join) in joins {
            for start in [Vec::new(), ones.clone()] {
                let mut t = Trie::from_leaves(start.clone());
                let batch: Vec<TrieLeaf> = (1000..1400u64).map(|i| leaf(i, 3)).collect();
                let mut keyed: Vec<TrieLeaf> = batch.clone();
                keyed.sort_by_key(|l| l.key);
                let keys: Vec<Hash> = keyed.iter().map(|l| l.key).collect();
                let refused = t.update_batch_with(
                    &keys,
                    |i, existing| match existing {
                        // A second run would bump the version again.
                        Some(l) => Change::Put(TrieLeaf {
                            version: l.version + 1,
                            ..*l
                        }),
                        None => Change::Put(keyed[i]),
                    },
                    join,
                );
                assert_eq!(refused, 0, "{name}");
                let mut all = start.clone();
                all.extend(batch);
                assert_eq!(t.len(), all.len(), "{name}");
                assert_eq!(t.root(), build_reference(&all), "{name}");
            }
        }
    }

    /// With one half empty the trie is the other half: roots, and inclusion
    /// and absence proofs for keys of either half, are the one trie's.
    #[test]
    fn one_empty_half_is_invisible() {
        let ones: Vec<TrieLeaf> = (0..200u64)
            .map(|i| leaf(i, 1))
            .filter(|l| key_bit(&l.key, 0) == 1)
            .collect();
        let zero = (0..200u64)
            .map(|i| leaf(i, 1))
            .find(|l| key_bit(&l.key, 0) == 0)
            .expect("some key starts with a 0 bit");
        let mut t = Trie::from_leaves(ones.clone());
        let root = t.root();
        assert_eq!(root, build_reference(&ones));
        for probe in [ones[3].key, zero.key] {
            let p = t.prove(&probe);
            let shows = p.verify(&probe, &root).expect("valid proof");
            assert_eq!(shows == Membership::Absent, probe == zero.key);
        }
        // Both halves: the top step splits at bit 0.
        t.insert(zero).expect("room");
        let root = t.root();
        let p = t.prove(&ones[3].key);
        assert_eq!(p.path.last().map(|s| s.depth), Some(0));
        assert_eq!(
            p.verify(&ones[3].key, &root),
            Ok(Membership::Present(ones[3]))
        );
        t.remove(&zero.key);
        assert_eq!(t.root(), build_reference(&ones));
    }

    /// The root of the crit-bit trie of `leaves`, computed directly from its
    /// definition (split at the first bit where the keys differ).
    fn build_reference(leaves: &[TrieLeaf]) -> Hash {
        fn go(sorted: &[TrieLeaf]) -> Hash {
            match sorted {
                [] => empty_root(),
                [one] => one.hash(),
                [first, .., last] => {
                    let b = crit_bit(&first.key, &last.key).unwrap_or(u8::MAX);
                    let mid = sorted.partition_point(|l| key_bit(&l.key, b) == 0);
                    let (lo, hi) = sorted.split_at(mid);
                    trie_node_hash(b, &go(lo), &go(hi))
                }
            }
        }
        let mut sorted = leaves.to_vec();
        sorted.sort_by_key(|l| l.key);
        go(&sorted)
    }
}
