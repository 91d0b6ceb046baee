//! The right edge of an append-only Merkle tree (a compact range `[0, size)`).
//!
//! A log only needs the roots of the perfect subtrees along its right edge,
//! at most 64 hashes, to append leaves and compute its root. Keeping this
//! state small lets the writer persist it atomically with every batch.

use crate::error::TlogError;
use crate::merkle::{Hash, empty_root, node_hash};

/// Length of the big-endian size header of the frontier encoding.
const SIZE_HEADER: usize = 8;

/// Roots of the perfect subtrees on the right edge of a tree, largest first.
///
/// For a tree of `size` leaves there is one hash per set bit of `size`: the
/// subtree for the highest bit covers the leftmost leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree, where every log starts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves covered, i.e. the tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect-subtree roots, largest (leftmost) first, for callers that
    /// want to inspect or store them individually.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends one leaf hash.
    ///
    /// `on_complete(level, index, hash)` is called for every complete aligned
    /// subtree of level >= 1 that the append creates (level `L`, index `i`
    /// covers leaves `[i * 2^L, (i + 1) * 2^L)`), lowest level first, so the
    /// caller can persist interior nodes needed for later proofs.
    pub fn push(
        &mut self,
        leaf: Hash,
        mut on_complete: impl FnMut(u32, u64, &Hash),
    ) -> Result<(), TlogError> {
        if self.size == u64::MAX {
            return Err(TlogError::TreeFull);
        }
        let mut hash = leaf;
        let mut level = 0u32;
        // `size < u64::MAX` has a zero bit at or below 63, so `level` stays < 64.
        while (self.size >> level) & 1 == 1 {
            let left = self.hashes.pop().ok_or(TlogError::FrontierCorrupt)?;
            hash = node_hash(&left, &hash);
            level += 1;
            on_complete(level, self.size >> level, &hash);
        }
        self.hashes.push(hash);
        self.size += 1;
        Ok(())
    }

    /// RFC 6962 Merkle Tree Hash of the whole range (the empty root for size 0).
    pub fn root(&self) -> Hash {
        let mut it = self.hashes.iter().rev();
        match it.next() {
            None => empty_root(),
            Some(last) => it.fold(*last, |acc, h| node_hash(h, &acc)),
        }
    }

    /// Stable binary encoding: 8-byte big-endian size, then the hashes largest first.
    ///
    /// Compact enough to store next to every checkpoint.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SIZE_HEADER + 32 * self.hashes.len());
        out.extend_from_slice(&self.size.to_be_bytes());
        for h in &self.hashes {
            out.extend_from_slice(h);
        }
        out
    }

    /// Decodes [`Frontier::to_bytes`] output, checking that the hash count
    /// equals the popcount of the size so corrupt state is never loaded.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TlogError> {
        let (header, rest) = bytes
            .split_first_chunk::<SIZE_HEADER>()
            .ok_or(TlogError::FrontierTooShort { len: bytes.len() })?;
        let size = u64::from_be_bytes(*header);
        if rest.len() % 32 != 0 {
            return Err(TlogError::FrontierTrailingBytes { len: bytes.len() });
        }
        let expected = size.count_ones() as usize;
        let got = rest.len() / 32;
        if got != expected {
            return Err(TlogError::FrontierHashCount {
                size,
                expected,
                got,
            });
        }
        let hashes = rest
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect();
        Ok(Self { size, hashes })
    }

    /// Rebuilds the frontier of a tree of `size` leaves from stored subtree hashes.
    ///
    /// `subtree(level, index)` must return the hash of that complete aligned
    /// subtree; it is called once per set bit of `size`, largest first.
    pub fn from_subtrees<E>(
        size: u64,
        mut subtree: impl FnMut(u32, u64) -> Result<Hash, E>,
    ) -> Result<Self, E> {
        let mut hashes = Vec::with_capacity(size.count_ones() as usize);
        let mut pos = 0u64;
        for level in (0..64u32).rev() {
            if (size >> level) & 1 == 1 {
                hashes.push(subtree(level, pos >> level)?);
                pos += 1u64 << level;
            }
        }
        Ok(Self { size, hashes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{MemoryTree, leaf_hash};

    #[test]
    fn push_reports_levels_and_indices() {
        let mut f = Frontier::new();
        let mut seen = Vec::new();
        for i in 0..8u64 {
            f.push(leaf_hash(&i.to_be_bytes()), |l, idx, _| seen.push((l, idx)))
                .unwrap();
        }
        assert_eq!(
            seen,
            vec![(1, 0), (1, 1), (2, 0), (1, 2), (1, 3), (2, 1), (3, 0)]
        );
        assert_eq!(f.hashes().len(), 1);
    }

    #[test]
    fn full_tree_is_rejected() {
        let mut f = Frontier::from_subtrees(u64::MAX, |_, _| Ok::<_, ()>([0u8; 32])).unwrap();
        assert_eq!(f.hashes().len(), 64);
        assert_eq!(f.push([1u8; 32], |_, _, _| {}), Err(TlogError::TreeFull));
        // Near-full trees still accept a leaf without overflowing shifts.
        let mut g = Frontier::from_subtrees(u64::MAX - 1, |_, _| Ok::<_, ()>([0u8; 32])).unwrap();
        let mut count = 0;
        g.push([1u8; 32], |_, _, _| count += 1).unwrap();
        assert_eq!(count, 0);
        assert_eq!(g.size(), u64::MAX);
    }

    #[test]
    fn corrupt_frontier_is_reported_not_panicking() {
        let mut f = Frontier {
            size: 3,
            hashes: vec![],
        };
        assert_eq!(
            f.push([0u8; 32], |_, _, _| {}),
            Err(TlogError::FrontierCorrupt)
        );
    }

    #[test]
    fn from_subtrees_matches_memory_tree() {
        let mut t = MemoryTree::new();
        for i in 0..37u64 {
            t.push_entry(&i.to_le_bytes());
            let f = Frontier::from_subtrees(t.size(), |l, i| t.subtree(l, i)).unwrap();
            assert_eq!(f.root(), t.root());
        }
    }
}
