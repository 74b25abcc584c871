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
//! Storage: nodes live in two arenas addressed by `u32` (no per-node
//! allocation); inner nodes cache their hash and are re-hashed lazily — an
//! update marks its path dirty and [`Trie::root`] re-hashes only dirty
//! nodes, so a batch of updates shares the upper levels of its paths.
//!
//! Invariants: depths strictly increase from the root down; every key below
//! an inner node agrees on the bits before its depth; arenas hold no
//! reachable node twice. Never panics.

use crate::error::VerifyError;
use crate::hash::{empty_root, hash, trie_node_hash, Domain, Hash, HASH_BYTES};

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

/// One leaf: a row's key hash, its row version, its content hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TrieLeaf {
    pub key: Hash,
    pub version: u64,
    pub content: Hash,
}

/// Bytes of a leaf's hash input.
pub const TRIE_LEAF_BYTES: usize = HASH_BYTES + 8 + HASH_BYTES;

impl TrieLeaf {
    /// `hash(TrieLeaf, key ‖ version LE ‖ content)`.
    pub fn hash(&self) -> Hash {
        let mut b = [0u8; TRIE_LEAF_BYTES];
        b[..HASH_BYTES].copy_from_slice(&self.key.0);
        b[HASH_BYTES..HASH_BYTES + 8].copy_from_slice(&self.version.to_le_bytes());
        b[HASH_BYTES + 8..].copy_from_slice(&self.content.0);
        hash(Domain::TrieLeaf, &b)
    }
}

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

#[derive(Clone, Debug)]
struct Inner {
    depth: u8,
    dirty: bool,
    hash: Hash,
    children: [NodeRef; 2],
}

/// Where a node hangs: the root slot or a child slot of an inner node.
#[derive(Clone, Copy)]
enum Link {
    Root,
    Child(usize, usize),
}

/// A table's Merkle trie. See the module doc.
#[derive(Clone, Debug, Default)]
pub struct Trie {
    root: Option<NodeRef>,
    inners: Vec<Inner>,
    leaves: Vec<TrieLeaf>,
    free_inners: Vec<u32>,
    free_leaves: Vec<u32>,
    len: usize,
}

/// Most leaves a trie holds (node references are 31-bit).
pub const TRIE_MAX_LEAVES: usize = (LEAF_BIT - 1) as usize;

impl Trie {
    /// An empty trie.
    pub fn new() -> Trie {
        Trie::default()
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the trie has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn get_link(&self, link: Link) -> Option<NodeRef> {
        match link {
            Link::Root => self.root,
            Link::Child(i, side) => self.inners.get(i).map(|n| n.children[side]),
        }
    }

    fn set_link(&mut self, link: Link, to: Option<NodeRef>) {
        match (link, to) {
            (Link::Root, to) => self.root = to,
            (Link::Child(i, side), Some(to)) => {
                if let Some(n) = self.inners.get_mut(i) {
                    n.children[side] = to;
                }
            }
            // An inner node always has two children; callers never unset one.
            (Link::Child(..), None) => {}
        }
    }

    /// The leaf the search for `key` ends at (the key itself or the leaf
    /// that would be its neighbour), with the inner nodes passed on the way.
    fn search(&self, key: &Hash, path: &mut Vec<usize>) -> Option<usize> {
        path.clear();
        let mut n = self.root?;
        loop {
            if let Some(l) = n.as_leaf() {
                return Some(l);
            }
            let i = n.as_inner()?;
            let node = self.inners.get(i)?;
            path.push(i);
            n = node.children[key_bit(key, node.depth)];
        }
    }

    /// The leaf stored under `key`.
    pub fn get(&self, key: &Hash) -> Option<&TrieLeaf> {
        let mut path = Vec::new();
        let l = self.search(key, &mut path)?;
        self.leaves.get(l).filter(|leaf| leaf.key == *key)
    }

    fn mark_dirty(&mut self, path: &[usize]) {
        for &i in path {
            if let Some(n) = self.inners.get_mut(i) {
                n.dirty = true;
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

    fn alloc_inner(&mut self, node: Inner) -> NodeRef {
        match self.free_inners.pop() {
            Some(i) => {
                if let Some(slot) = self.inners.get_mut(i as usize) {
                    *slot = node;
                }
                NodeRef::inner(i)
            }
            None => {
                self.inners.push(node);
                NodeRef::inner((self.inners.len() - 1) as u32)
            }
        }
    }

    /// Inserts `leaf`, or replaces the leaf with its key; returns the
    /// replaced leaf. A full trie ([`TRIE_MAX_LEAVES`]) refuses new keys
    /// and returns `Err(leaf)`.
    pub fn insert(&mut self, leaf: TrieLeaf) -> Result<Option<TrieLeaf>, TrieLeaf> {
        let mut path = Vec::new();
        let Some(best) = self.search(&leaf.key, &mut path) else {
            let r = self.alloc_leaf(leaf);
            self.root = Some(r);
            self.len = 1;
            return Ok(None);
        };
        let Some(best_key) = self.leaves.get(best).map(|l| l.key) else {
            return Err(leaf);
        };
        let Some(b) = crit_bit(&leaf.key, &best_key) else {
            self.mark_dirty(&path);
            let old = self
                .leaves
                .get_mut(best)
                .map(|slot| std::mem::replace(slot, leaf));
            return Ok(old);
        };
        if self.len >= TRIE_MAX_LEAVES {
            return Err(leaf);
        }
        // Walk again from the root to the first node that splits below `b`
        // (or is a leaf): the new inner node goes there.
        let mut link = Link::Root;
        let mut passed = Vec::new();
        while let Some(i) = self.get_link(link).and_then(NodeRef::as_inner) {
            let Some(node) = self.inners.get(i) else {
                break;
            };
            if node.depth > b {
                break;
            }
            passed.push(i);
            link = Link::Child(i, key_bit(&leaf.key, node.depth));
        }
        let Some(existing) = self.get_link(link) else {
            return Err(leaf);
        };
        let new_leaf = self.alloc_leaf(leaf);
        let children = if key_bit(&leaf.key, b) == 0 {
            [new_leaf, existing]
        } else {
            [existing, new_leaf]
        };
        let inner = self.alloc_inner(Inner {
            depth: b,
            dirty: true,
            hash: Hash::default(),
            children,
        });
        self.set_link(link, Some(inner));
        self.mark_dirty(&passed);
        self.len += 1;
        Ok(None)
    }

    /// Removes the leaf stored under `key`; returns it.
    pub fn remove(&mut self, key: &Hash) -> Option<TrieLeaf> {
        let mut path = Vec::new();
        let l = self.search(key, &mut path)?;
        let leaf = *self.leaves.get(l).filter(|leaf| leaf.key == *key)?;
        match path.last().copied() {
            None => self.root = None,
            Some(parent) => {
                let side = key_bit(key, self.inners.get(parent)?.depth);
                let sibling = self.inners.get(parent)?.children[1 - side];
                let link = match path.len().checked_sub(2).and_then(|g| path.get(g)) {
                    None => Link::Root,
                    Some(&g) => Link::Child(g, key_bit(key, self.inners.get(g)?.depth)),
                };
                self.set_link(link, Some(sibling));
                self.free_inners.push(parent as u32);
                path.pop();
                self.mark_dirty(&path);
            }
        }
        self.free_leaves.push(l as u32);
        self.len -= 1;
        Some(leaf)
    }

    /// The root hash, re-hashing what changed since the last call.
    pub fn root(&mut self) -> Hash {
        match self.root {
            None => empty_root(),
            Some(r) => self.rehash(r, 0),
        }
    }

    fn rehash(&mut self, n: NodeRef, guard: usize) -> Hash {
        if let Some(l) = n.as_leaf() {
            return self.leaves.get(l).map(TrieLeaf::hash).unwrap_or_default();
        }
        let Some(i) = n.as_inner() else {
            return Hash::default();
        };
        let Some(node) = self.inners.get(i) else {
            return Hash::default();
        };
        // Depth strictly increases downward, so recursion is at most 256 deep.
        if !node.dirty || guard > 256 {
            return node.hash;
        }
        let (depth, [left, right]) = (node.depth, node.children);
        let lh = self.rehash(left, guard + 1);
        let rh = self.rehash(right, guard + 1);
        let h = trie_node_hash(depth, &lh, &rh);
        if let Some(node) = self.inners.get_mut(i) {
            node.hash = h;
            node.dirty = false;
        }
        h
    }

    fn node_hash_clean(&self, n: NodeRef) -> Hash {
        match (n.as_leaf(), n.as_inner()) {
            (Some(l), _) => self.leaves.get(l).map(TrieLeaf::hash).unwrap_or_default(),
            (_, Some(i)) => self.inners.get(i).map(|x| x.hash).unwrap_or_default(),
            _ => Hash::default(),
        }
    }

    /// The proof for `key`: inclusion when the trie holds it, absence (the
    /// neighbouring leaf its search ends at) otherwise.
    pub fn prove(&mut self, key: &Hash) -> TrieProof {
        self.root();
        let mut path = Vec::new();
        let Some(l) = self.search(key, &mut path) else {
            return TrieProof {
                leaf: None,
                path: Vec::new(),
            };
        };
        let mut steps = Vec::with_capacity(path.len());
        for &i in path.iter().rev() {
            let Some(node) = self.inners.get(i) else {
                continue;
            };
            let side = key_bit(key, node.depth);
            steps.push(TrieStep {
                depth: node.depth,
                sibling: self.node_hash_clean(node.children[1 - side]),
            });
        }
        TrieProof {
            leaf: self.leaves.get(l).copied(),
            path: steps,
        }
    }

    /// Every leaf, in key order.
    pub fn leaves(&self) -> Vec<TrieLeaf> {
        let mut out = Vec::with_capacity(self.len);
        let mut stack: Vec<NodeRef> = self.root.into_iter().collect();
        while let Some(n) = stack.pop() {
            if let Some(l) = n.as_leaf() {
                out.extend(self.leaves.get(l).copied());
            } else if let Some(node) = n.as_inner().and_then(|i| self.inners.get(i)) {
                stack.push(node.children[1]);
                stack.push(node.children[0]);
            }
        }
        out
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
        let mut t = Trie {
            len: dedup.len(),
            ..Trie::default()
        };
        t.leaves.reserve(dedup.len());
        t.inners.reserve(dedup.len().saturating_sub(1));
        if !dedup.is_empty() {
            t.root = Some(t.build(&dedup));
        }
        t
    }

    /// Builds the sub-trie of sorted, distinct `leaves` (non-empty).
    fn build(&mut self, leaves: &[TrieLeaf]) -> NodeRef {
        match leaves {
            // Not reached (callers pass a non-empty slice); a dangling
            // leaf reference reads as no leaf.
            [] => NodeRef::leaf(!LEAF_BIT),
            [one] => self.alloc_leaf(*one),
            [first, .., last] => {
                // Sorted keys: the first and last differ first at the split
                // bit of the whole range.
                let b = crit_bit(&first.key, &last.key).unwrap_or(u8::MAX);
                let mid = leaves.partition_point(|l| key_bit(&l.key, b) == 0);
                let (lo, hi) = leaves.split_at(mid.clamp(1, leaves.len() - 1));
                let left = self.build(lo);
                let right = self.build(hi);
                self.alloc_inner(Inner {
                    depth: b,
                    dirty: true,
                    hash: Hash::default(),
                    children: [left, right],
                })
            }
        }
    }
}

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

    #[test]
    fn single_leaf_and_absent_removal() {
        let mut t = Trie::new();
        t.insert(leaf(1, 1)).expect("room");
        assert_eq!(t.root(), leaf(1, 1).hash());
        assert_eq!(t.remove(&leaf(2, 1).key), None);
        assert_eq!(t.get(&leaf(1, 1).key), Some(&leaf(1, 1)));
        assert_eq!(t.get(&leaf(2, 1).key), None);
    }
}
