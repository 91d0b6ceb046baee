//! Inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4).
//!
//! Generation is abstract over storage: the caller supplies a callback that
//! returns the hash of a complete aligned subtree, and every proof node is
//! assembled from O(log n) such lookups. Verification follows the RFC 9162
//! algorithms step by step, so proofs interoperate with any conforming client.

use crate::error::ProofError;
use crate::error::ProofGenError;
use crate::merkle::{Hash, empty_root, node_hash, split_point};

/// A half-open leaf range `[start, end)` whose hash is one proof node.
type Range = (u64, u64);

/// Leaf ranges of the inclusion proof for `index` in a tree of `size`,
/// in proof order (nearest the leaf first). Requires `index < size`.
///
/// Mirrors RFC 9162 PATH(m, D[n]): the split `k` is the largest power of two
/// below the current range size and the sibling half becomes a proof node.
fn inclusion_ranges(index: u64, size: u64) -> Vec<Range> {
    let mut out = Vec::new();
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let mid = lo + split_point(hi - lo);
        if index < mid {
            out.push((mid, hi));
            hi = mid;
        } else {
            out.push((lo, mid));
            lo = mid;
        }
    }
    out.reverse();
    out
}

/// Leaf ranges of the consistency proof from `old_size` to `new_size`, in
/// proof order. Requires `0 < old_size < new_size`.
///
/// Mirrors RFC 9162 SUBPROOF(m, D[n], b): the final node `[lo, old_size)` is
/// emitted only when the old tree is not itself a left subtree (`b` false).
fn consistency_ranges(old_size: u64, new_size: u64) -> Vec<Range> {
    let mut out = Vec::new();
    let (mut lo, mut hi) = (0u64, new_size);
    let mut whole_old_tree = true;
    // Invariant: lo < old_size <= hi, and [lo, hi) is a properly aligned range.
    while old_size < hi {
        let mid = lo + split_point(hi - lo);
        if old_size <= mid {
            out.push((mid, hi));
            hi = mid;
        } else {
            out.push((lo, mid));
            lo = mid;
            whole_old_tree = false;
        }
    }
    if !whole_old_tree {
        out.push((lo, hi));
    }
    out.reverse();
    out
}

/// Number of hashes in a valid inclusion proof for `index < size` (0 otherwise).
///
/// Lets verifiers report "expected n, got m" instead of a bare mismatch.
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    if index >= size {
        return 0;
    }
    inclusion_ranges(index, size).len()
}

/// Number of hashes in a valid consistency proof from `old_size` to `new_size`.
///
/// Zero when either size is zero or the sizes are equal (the trivial cases).
pub fn consistency_proof_len(old_size: u64, new_size: u64) -> usize {
    if old_size == 0 || old_size >= new_size {
        return 0;
    }
    consistency_ranges(old_size, new_size).len()
}

/// RFC 6962 Merkle Tree Hash of leaves `[start, end)` from complete subtrees.
///
/// The range is decomposed greedily into maximal complete aligned subtrees
/// (one lookup each, at most ~2·log2 of the range) and folded right to left,
/// as RFC 6962 combines the right edge of a tree. The result is the MTH of
/// the sub-list whenever `start` is a multiple of the smallest power of two
/// `>= end - start`; this covers `[0, n)` and every range a proof uses. For
/// other ranges it is the fold of the decomposition. An empty range hashes to
/// the empty root.
pub fn range_hash<E>(
    start: u64,
    end: u64,
    subtree: &mut impl FnMut(u32, u64) -> Result<Hash, E>,
) -> Result<Hash, ProofGenError<E>> {
    if start > end {
        return Err(ProofGenError::InvalidRange { start, end });
    }
    if start == end {
        return Ok(empty_root());
    }
    let mut parts: Vec<(u32, u64)> = Vec::new();
    let mut pos = start;
    while pos < end {
        let align = if pos == 0 { 63 } else { pos.trailing_zeros() };
        let fit = 63 - (end - pos).leading_zeros();
        let level = align.min(fit);
        parts.push((level, pos >> level));
        pos += 1u64 << level;
    }
    let mut acc: Option<Hash> = None;
    for &(level, index) in parts.iter().rev() {
        let h = subtree(level, index).map_err(ProofGenError::Subtree)?;
        acc = Some(match acc {
            None => h,
            Some(right) => node_hash(&h, &right),
        });
    }
    // `parts` is non-empty because start < end.
    Ok(acc.unwrap_or_else(empty_root))
}

/// Inclusion proof (RFC 9162 §2.1.3.1 PATH) for leaf `index` in a tree of `size`.
///
/// Uses at most about 2·log2(size) subtree lookups: one per node along the
/// leaf's path plus the decomposition of the single partial right sibling.
pub fn inclusion_proof<E>(
    index: u64,
    size: u64,
    subtree: &mut impl FnMut(u32, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, ProofGenError<E>> {
    if index >= size {
        return Err(ProofGenError::IndexOutOfRange { index, size });
    }
    inclusion_ranges(index, size)
        .into_iter()
        .map(|(s, e)| range_hash(s, e, subtree))
        .collect()
}

/// Consistency proof (RFC 9162 §2.1.4.1 PROOF/SUBPROOF) from `old_size` to `new_size`.
///
/// Empty when `old_size` is 0 or equals `new_size`, since those cases need no
/// evidence beyond the roots themselves.
pub fn consistency_proof<E>(
    old_size: u64,
    new_size: u64,
    subtree: &mut impl FnMut(u32, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, ProofGenError<E>> {
    if old_size > new_size {
        return Err(ProofGenError::SizeDecrease { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    consistency_ranges(old_size, new_size)
        .into_iter()
        .map(|(s, e)| range_hash(s, e, subtree))
        .collect()
}

/// Recomputes the root implied by an inclusion proof (RFC 9162 §2.1.3.2).
///
/// Useful when the trusted root is not known yet, e.g. to look it up by value.
pub fn root_from_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            expected,
            got: proof.len(),
        });
    }
    let mut fnode = index;
    let mut snode = size - 1;
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::PathShapeMismatch);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::PathShapeMismatch);
    }
    Ok(r)
}

/// Verifies that `leaf` is at `index` in the tree of `size` with `root`.
///
/// This is what a client runs to confirm an audit event is in the log.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion(leaf, index, size, proof)?;
    if computed != *root {
        return Err(ProofError::RootMismatch {
            computed,
            expected: *root,
        });
    }
    Ok(())
}

/// Verifies that the tree of `new_size` with `new_root` extends the tree of
/// `old_size` with `old_root` (RFC 9162 §2.1.4.2), i.e. the log is append-only.
///
/// For `old_size == 0` the proof must be empty and `old_root` must be the
/// empty root; for equal sizes the proof must be empty and the roots equal.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizeDecrease { old_size, new_size });
    }
    let expected = consistency_proof_len(old_size, new_size);
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            expected,
            got: proof.len(),
        });
    }
    if old_size == 0 {
        let empty = empty_root();
        if *old_root != empty {
            return Err(ProofError::OldRootMismatch {
                computed: empty,
                expected: *old_root,
            });
        }
        return Ok(());
    }
    if old_size == new_size {
        if old_root != new_root {
            return Err(ProofError::NewRootMismatch {
                computed: *old_root,
                expected: *new_root,
            });
        }
        return Ok(());
    }

    // RFC 9162 §2.1.4.2, with 0 < old_size < new_size and a non-empty proof.
    let (seed, rest) = if old_size.is_power_of_two() {
        (*old_root, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (*first, rest),
            None => return Err(ProofError::PathShapeMismatch),
        }
    };
    let mut fnode = old_size - 1;
    let mut snode = new_size - 1;
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut fr = seed;
    let mut sr = seed;
    for c in rest {
        if snode == 0 {
            return Err(ProofError::PathShapeMismatch);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::PathShapeMismatch);
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch {
            computed: fr,
            expected: *old_root,
        });
    }
    if sr != *new_root {
        return Err(ProofError::NewRootMismatch {
            computed: sr,
            expected: *new_root,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9162_consistency_shapes() {
        // RFC 9162 §2.1.5 example tree of 7 leaves: PROOF(3) = [c, d, g, l],
        // PROOF(4) = [l], PROOF(6) = [i, j, k].
        assert_eq!(
            consistency_ranges(3, 7),
            vec![(2, 3), (3, 4), (0, 2), (4, 7)]
        );
        assert_eq!(consistency_ranges(4, 7), vec![(4, 7)]);
        assert_eq!(consistency_ranges(6, 7), vec![(4, 6), (6, 7), (0, 4)]);
    }

    #[test]
    fn rfc9162_inclusion_shapes() {
        // RFC 9162 §2.1.5: inclusion proofs for a (0), d (3) and j (6) in 7 leaves
        // are [b, h, l], [c, g, l] and [i, k].
        assert_eq!(inclusion_ranges(0, 7), vec![(1, 2), (2, 4), (4, 7)]);
        assert_eq!(inclusion_ranges(3, 7), vec![(2, 3), (0, 2), (4, 7)]);
        assert_eq!(inclusion_ranges(6, 7), vec![(4, 6), (0, 4)]);
    }

    #[test]
    fn range_hash_rejects_reversed_range() {
        let mut never = |_: u32, _: u64| -> Result<Hash, ()> { Err(()) };
        assert_eq!(
            range_hash(5, 4, &mut never),
            Err(ProofGenError::InvalidRange { start: 5, end: 4 })
        );
        assert_eq!(range_hash(4, 4, &mut never), Ok(empty_root()));
    }
}
