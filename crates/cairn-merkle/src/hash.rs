//! Hashes and domain separation: the only place that calls blake3.
//!
//! Invariant: every hash this crate produces is `blake3::keyed_hash(key, bytes)`
//! where `key = blake3::derive_key("cairn-merkle v1 <domain>", &[])`, so a hash
//! made for one [`Domain`] can never be mistaken for a hash of another (a leaf
//! for a node, a table for a commit). Never panics.

use std::fmt;
use std::sync::OnceLock;

/// Number of bytes in a [`Hash`].
pub const HASH_BYTES: usize = 32;

/// A 32-byte blake3 digest. `Debug` and `Display` print lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; HASH_BYTES]);

/// What a hash is a hash *of*; each domain has its own blake3 key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Domain {
    /// A leaf of a Merkle tree: `leaf_hash(data)`.
    Leaf,
    /// An interior node: `node_hash(left, right)` over the 64-byte concatenation.
    Node,
    /// The root of the empty tree (`empty_root()`, over zero bytes).
    Empty,
    /// A sealed segment's contents.
    Segment,
    /// A table's state.
    Table,
    /// The catalog.
    Catalog,
    /// A database state.
    State,
    /// A commit record.
    Commit,
    /// A row's key: `hash(Key, canonical key bytes)` places the row in its
    /// table's trie.
    Key,
    /// A row's content: `hash(Row, canonical row bytes)`.
    Row,
    /// A leaf of a table trie: `hash(TrieLeaf, key ‖ row version ‖ content)`.
    TrieLeaf,
}

impl Domain {
    /// Every domain, in key-table order.
    pub const ALL: [Domain; 11] = [
        Domain::Leaf,
        Domain::Node,
        Domain::Empty,
        Domain::Segment,
        Domain::Table,
        Domain::Catalog,
        Domain::State,
        Domain::Commit,
        Domain::Key,
        Domain::Row,
        Domain::TrieLeaf,
    ];

    /// The blake3 `derive_key` context string of this domain (format version 1).
    pub const fn context(self) -> &'static str {
        match self {
            Domain::Leaf => "cairn-merkle v1 leaf",
            Domain::Node => "cairn-merkle v1 node",
            Domain::Empty => "cairn-merkle v1 empty",
            Domain::Segment => "cairn-merkle v1 segment",
            Domain::Table => "cairn-merkle v1 table",
            Domain::Catalog => "cairn-merkle v1 catalog",
            Domain::State => "cairn-merkle v1 state",
            Domain::Commit => "cairn-merkle v1 commit",
            Domain::Key => "cairn-merkle v1 key",
            Domain::Row => "cairn-merkle v1 row",
            Domain::TrieLeaf => "cairn-merkle v1 trie leaf",
        }
    }

    const fn slot(self) -> usize {
        match self {
            Domain::Leaf => 0,
            Domain::Node => 1,
            Domain::Empty => 2,
            Domain::Segment => 3,
            Domain::Table => 4,
            Domain::Catalog => 5,
            Domain::State => 6,
            Domain::Commit => 7,
            Domain::Key => 8,
            Domain::Row => 9,
            Domain::TrieLeaf => 10,
        }
    }

    /// The 32-byte blake3 key of this domain: `derive_key(context, &[])`.
    pub fn key(self) -> &'static [u8; HASH_BYTES] {
        static KEYS: OnceLock<[[u8; HASH_BYTES]; 11]> = OnceLock::new();
        let keys = KEYS.get_or_init(|| Domain::ALL.map(|d| blake3::derive_key(d.context(), &[])));
        &keys[self.slot()]
    }
}

/// `blake3::keyed_hash(domain.key(), bytes)`.
pub fn hash(domain: Domain, bytes: &[u8]) -> Hash {
    Hash(*blake3::keyed_hash(domain.key(), bytes).as_bytes())
}

/// The hash of a tree leaf holding `data`: `hash(Domain::Leaf, data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    hash(Domain::Leaf, data)
}

/// The hash of an interior node: `hash(Domain::Node, left ++ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = blake3::Hasher::new_keyed(Domain::Node.key());
    hasher.update(&left.0);
    hasher.update(&right.0);
    Hash(*hasher.finalize().as_bytes())
}

/// Context string of the per-depth keys of trie nodes.
pub const TRIE_NODE_CONTEXT: &str = "cairn-merkle v1 trie node";

/// The blake3 key of a trie node that splits at bit `depth`:
/// `derive_key(TRIE_NODE_CONTEXT, [depth])`. One key per depth binds the
/// split position into the hash while the input stays one 64-byte block.
pub fn trie_node_key(depth: u8) -> &'static [u8; HASH_BYTES] {
    static KEYS: OnceLock<Vec<[u8; HASH_BYTES]>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        (0..=u8::MAX)
            .map(|d| blake3::derive_key(TRIE_NODE_CONTEXT, &[d]))
            .collect()
    });
    &keys[usize::from(depth)]
}

/// The hash of a trie node splitting at bit `depth`:
/// `keyed_hash(trie_node_key(depth), left ++ right)`.
pub fn trie_node_hash(depth: u8, left: &Hash, right: &Hash) -> Hash {
    let mut block = [0u8; 2 * HASH_BYTES];
    block[..HASH_BYTES].copy_from_slice(&left.0);
    block[HASH_BYTES..].copy_from_slice(&right.0);
    Hash(*blake3::keyed_hash(trie_node_key(depth), &block).as_bytes())
}

/// The root of the tree with no leaves: `hash(Domain::Empty, b"")`.
pub fn empty_root() -> Hash {
    hash(Domain::Empty, b"")
}

/// Why a string is not a hash in hex. The caller's fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HexError {
    /// The string is not exactly 64 characters long.
    WrongLength { chars: usize, expected: usize },
    /// The character at byte `offset` is not a hex digit.
    NotHexDigit { offset: usize },
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HexError::WrongLength { chars, expected } => {
                write!(f, "hash hex has {chars} characters, expected {expected}")
            }
            HexError::NotHexDigit { offset } => {
                write!(f, "hash hex has a non-hex character at offset {offset}")
            }
        }
    }
}

impl std::error::Error for HexError {}

impl Hash {
    /// Parses 64 hex digits (either case) into a hash.
    pub fn from_hex(text: &str) -> Result<Hash, HexError> {
        let bytes = text.as_bytes();
        if bytes.len() != 2 * HASH_BYTES {
            return Err(HexError::WrongLength {
                chars: text.chars().count(),
                expected: 2 * HASH_BYTES,
            });
        }
        let mut out = [0u8; HASH_BYTES];
        for (i, slot) in out.iter_mut().enumerate() {
            let hi = hex_value(bytes[2 * i]).ok_or(HexError::NotHexDigit { offset: 2 * i })?;
            let lo =
                hex_value(bytes[2 * i + 1]).ok_or(HexError::NotHexDigit { offset: 2 * i + 1 })?;
            *slot = (hi << 4) | lo;
        }
        Ok(Hash(out))
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_BYTES] {
        &self.0
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<[u8; HASH_BYTES]> for Hash {
    fn from(bytes: [u8; HASH_BYTES]) -> Hash {
        Hash(bytes)
    }
}

/// One leaf of a table trie (`trie.rs`): a row's key hash, its row
/// version, its content hash. Defined here, with the other hash inputs, so
/// the batch kernels (`batch.rs`) and the trie both build on it.
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
        hash(Domain::TrieLeaf, &self.hash_input())
    }

    /// `key ‖ version LE ‖ content`: what [`TrieLeaf::hash`] hashes.
    pub fn hash_input(&self) -> [u8; TRIE_LEAF_BYTES] {
        let mut b = [0u8; TRIE_LEAF_BYTES];
        b[..HASH_BYTES].copy_from_slice(&self.key.0);
        b[HASH_BYTES..HASH_BYTES + 8].copy_from_slice(&self.version.to_le_bytes());
        b[HASH_BYTES + 8..].copy_from_slice(&self.content.0);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_have_distinct_keys() {
        for (i, a) in Domain::ALL.iter().enumerate() {
            for b in &Domain::ALL[i + 1..] {
                assert_ne!(a.key(), b.key(), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn node_hash_is_hash_of_concatenation() {
        let l = leaf_hash(b"a");
        let r = leaf_hash(b"b");
        let mut cat = [0u8; 64];
        cat[..32].copy_from_slice(&l.0);
        cat[32..].copy_from_slice(&r.0);
        assert_eq!(node_hash(&l, &r), hash(Domain::Node, &cat));
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let h = leaf_hash(b"x");
        assert_eq!(Hash::from_hex(&h.to_hex()), Ok(h));
        assert_eq!(Hash::from_hex(&h.to_hex().to_uppercase()), Ok(h));
        assert!(matches!(
            Hash::from_hex("ab"),
            Err(HexError::WrongLength { chars: 2, .. })
        ));
        let mut bad = h.to_hex();
        bad.replace_range(5..6, "g");
        assert_eq!(
            Hash::from_hex(&bad),
            Err(HexError::NotHexDigit { offset: 5 })
        );
        // Multi-byte characters must not panic on slicing.
        let s: String = "é".repeat(32);
        assert!(Hash::from_hex(&s).is_err());
        assert_eq!(format!("{h:?}"), h.to_hex());
    }
}
