//! RFC 6962 / RFC 9162 §2.1 Merkle tree hashing and an in-memory reference tree.
//!
//! Leaves and interior nodes are hashed with distinct one-byte prefixes so a
//! leaf can never be passed off as an interior node (second-preimage
//! protection), exactly as Certificate Transparency and C2SP logs do; this is
//! what lets third-party verifiers check Sealtrail proofs with stock tools.

use sha2::{Digest, Sha256};

use crate::error::TlogError;

/// A SHA-256 digest: the type of every leaf, node and root hash.
pub type Hash = [u8; 32];

/// Domain-separation prefix of a leaf hash (RFC 6962 §2.1).
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of an interior node hash (RFC 6962 §2.1).
const NODE_PREFIX: u8 = 0x01;

/// Hash of one log entry: `SHA-256(0x00 || entry)`.
///
/// The prefix distinguishes leaves from interior nodes, so proofs cannot be
/// forged by presenting a node as an entry.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(entry);
    h.finalize().into()
}

/// Hash of an interior node: `SHA-256(0x01 || left || right)`.
///
/// This is the only way two subtrees are combined, for roots and proofs alike.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Root of the empty tree: `SHA-256("")`.
///
/// RFC 6962 defines it this way so that a log with no entries still has a
/// well-defined, signable root.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Largest power of two strictly less than `n` (`n >= 2`).
///
/// This is the split point `k` of RFC 6962's recursive definitions.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// RFC 6962 Merkle Tree Hash of a list of leaf hashes, by the recursive definition.
///
/// Deliberately naive (no caching, O(n) hashing): it is the executable form
/// of the specification that faster code is checked against.
pub fn reference_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            // n >= 2, so the split point is in 1..n and both halves are non-empty.
            let k = split_point(n as u64) as usize;
            let (left, right) = leaves.split_at(k);
            node_hash(&reference_root(left), &reference_root(right))
        }
    }
}

/// A whole Merkle tree held in memory, with every complete subtree cached.
///
/// It serves as the reference storage for tests and for callers that keep
/// small trees in memory; its [`MemoryTree::subtree`] method plugs straight
/// into the proof generators in [`crate::proof`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    /// `levels[0]` holds the leaf hashes; `levels[l][i]` the complete subtree
    /// covering leaves `[i * 2^l, (i + 1) * 2^l)`.
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// Creates an empty tree, the starting point of every log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves, i.e. the current tree size.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Whether the tree has no leaves, so callers can special-case empty logs.
    pub fn is_empty(&self) -> bool {
        self.size() == 0
    }

    /// Appends a leaf hash and caches every subtree the append completes.
    pub fn push(&mut self, leaf: Hash) {
        let mut level = 0usize;
        let mut hash = leaf;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(hash);
            let len = row.len();
            if len % 2 == 1 {
                break;
            }
            hash = node_hash(&row[len - 2], &row[len - 1]);
            level += 1;
        }
    }

    /// Hashes `entry` as a leaf and appends it, for callers holding raw entries.
    pub fn push_entry(&mut self, entry: &[u8]) {
        self.push(leaf_hash(entry));
    }

    /// Hash of the complete aligned subtree at `level` and `index` (level 0 = leaf).
    ///
    /// Matches the callback shape of the proof generators, so a `MemoryTree`
    /// can produce proofs directly.
    pub fn subtree(&self, level: u32, index: u64) -> Result<Hash, TlogError> {
        let unavailable = || TlogError::SubtreeUnavailable {
            level,
            index,
            size: self.size(),
        };
        let row = self.levels.get(level as usize).ok_or_else(unavailable)?;
        let i = usize::try_from(index).map_err(|_| unavailable())?;
        row.get(i).copied().ok_or_else(unavailable)
    }

    /// Root of the whole tree (the empty root for an empty tree).
    pub fn root(&self) -> Hash {
        self.root_of_range(0, self.size())
    }

    /// Root the tree had when it held its first `size` leaves.
    ///
    /// Needed to check consistency proofs against historical tree heads.
    pub fn root_at(&self, size: u64) -> Result<Hash, TlogError> {
        if size > self.size() {
            return Err(TlogError::SizeBeyondTree {
                requested: size,
                size: self.size(),
            });
        }
        Ok(self.root_of_range(0, size))
    }

    /// RFC 6962 MTH of leaves `[start, end)` where `start` is aligned to the
    /// smallest power of two `>= end - start`; complete subtrees come from the cache.
    fn root_of_range(&self, start: u64, end: u64) -> Hash {
        let n = end - start;
        if n == 0 {
            return empty_root();
        }
        if n.is_power_of_two() {
            let level = n.trailing_zeros();
            let cached = self
                .levels
                .get(level as usize)
                .and_then(|row| row.get((start >> level) as usize));
            if let Some(h) = cached {
                return *h;
            }
        }
        if n == 1 {
            // Unreachable for in-range leaves (they are always cached); the
            // empty root keeps this total without panicking.
            return empty_root();
        }
        let k = split_point(n);
        node_hash(
            &self.root_of_range(start, start + k),
            &self.root_of_range(start + k, end),
        )
    }
}
