//! Exhaustive and randomized checks of roots, frontiers and proofs against
//! the in-memory reference tree.

use std::cell::Cell;
use std::collections::BTreeMap;

use proptest::prelude::*;
use sealtrail_tlog::{
    Frontier, Hash, MemoryTree, ProofError, ProofGenError, TlogError, consistency_proof,
    consistency_proof_len, inclusion_proof, inclusion_proof_len, leaf_hash, range_hash,
    reference_root, root_from_inclusion, verify_consistency, verify_inclusion,
};

const EXHAUSTIVE: u64 = 128;
const LARGE: u64 = 2000;

fn build(n: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.push_entry(format!("entry {i}").as_bytes());
    }
    t
}

/// Subtree callback over `t` that also checks each request is a complete
/// subtree inside `size` and counts the lookups.
fn checked_lookup<'a>(
    t: &'a MemoryTree,
    size: u64,
    calls: &'a Cell<usize>,
) -> impl FnMut(u32, u64) -> Result<Hash, TlogError> + 'a {
    move |level, index| {
        calls.set(calls.get() + 1);
        let end = (index + 1) << level;
        assert!(
            end <= size,
            "lookup level {level} index {index} beyond size {size}"
        );
        t.subtree(level, index)
    }
}

fn log2_ceil(n: u64) -> usize {
    (64 - n.saturating_sub(1).leading_zeros()) as usize
}

#[test]
fn reference_and_cached_roots_agree() {
    let t = build(300);
    let leaves: Vec<Hash> = (0..300).map(|i| t.subtree(0, i).unwrap()).collect();
    for n in 0..=300u64 {
        assert_eq!(t.root_at(n).unwrap(), reference_root(&leaves[..n as usize]));
    }
    assert_eq!(
        t.root_at(301),
        Err(TlogError::SizeBeyondTree {
            requested: 301,
            size: 300
        })
    );
    assert!(matches!(
        t.subtree(0, 300),
        Err(TlogError::SubtreeUnavailable { .. })
    ));
    assert!(matches!(
        t.subtree(9, 0),
        Err(TlogError::SubtreeUnavailable { .. })
    ));
}

#[test]
fn frontier_tracks_memory_tree_and_reports_every_complete_subtree() {
    let t = build(LARGE);
    let mut f = Frontier::new();
    let mut reported: BTreeMap<(u32, u64), Hash> = BTreeMap::new();
    assert_eq!(f.root(), t.root_at(0).unwrap());
    for n in 1..=LARGE {
        let leaf = t.subtree(0, n - 1).unwrap();
        f.push(leaf, |level, index, hash| {
            assert!(level >= 1);
            let prev = reported.insert((level, index), *hash);
            assert!(prev.is_none(), "subtree ({level},{index}) reported twice");
        })
        .unwrap();
        assert_eq!(f.size(), n);
        assert_eq!(f.root(), t.root_at(n).unwrap(), "root at size {n}");
        assert_eq!(f.hashes().len(), n.count_ones() as usize);
        if n <= EXHAUSTIVE || n % 97 == 0 {
            let back = Frontier::from_bytes(&f.to_bytes()).unwrap();
            assert_eq!(back, f);
            let rebuilt = Frontier::from_subtrees(n, |l, i| t.subtree(l, i)).unwrap();
            assert_eq!(rebuilt, f);
        }
    }
    // Exactly the complete aligned subtrees of level >= 1, with right hashes.
    let mut expected = 0usize;
    for level in 1..=log2_ceil(LARGE) as u32 {
        for index in 0..(LARGE >> level) {
            expected += 1;
            assert_eq!(
                reported.get(&(level, index)),
                Some(&t.subtree(level, index).unwrap()),
                "subtree ({level},{index})"
            );
        }
    }
    assert_eq!(reported.len(), expected);
}

#[test]
fn frontier_decoding_errors() {
    assert_eq!(
        Frontier::from_bytes(&[0u8; 7]),
        Err(TlogError::FrontierTooShort { len: 7 })
    );
    assert_eq!(Frontier::from_bytes(&[0u8; 8]), Ok(Frontier::new()));
    assert_eq!(
        Frontier::from_bytes(&[0u8; 9]),
        Err(TlogError::FrontierTrailingBytes { len: 9 })
    );
    let mut bytes = 3u64.to_be_bytes().to_vec();
    bytes.extend_from_slice(&[7u8; 32]);
    assert_eq!(
        Frontier::from_bytes(&bytes),
        Err(TlogError::FrontierHashCount {
            size: 3,
            expected: 2,
            got: 1
        })
    );
    bytes.extend_from_slice(&[8u8; 32]);
    let f = Frontier::from_bytes(&bytes).unwrap();
    assert_eq!(f.size(), 3);
    assert_eq!(f.to_bytes(), bytes);
    bytes.extend_from_slice(&[9u8; 32]);
    assert!(matches!(
        Frontier::from_bytes(&bytes),
        Err(TlogError::FrontierHashCount { got: 3, .. })
    ));
    // Errors display something useful.
    assert!(
        TlogError::FrontierTooShort { len: 7 }
            .to_string()
            .contains("7 bytes")
    );
}

#[test]
fn range_hash_matches_reference_on_aligned_ranges() {
    let t = build(EXHAUSTIVE);
    let leaves: Vec<Hash> = (0..EXHAUSTIVE).map(|i| t.subtree(0, i).unwrap()).collect();
    for start in 0..EXHAUSTIVE {
        for end in start..=EXHAUSTIVE {
            let width = end - start;
            let aligned = start == 0 || start % width.next_power_of_two() == 0;
            if !aligned {
                continue;
            }
            let calls = Cell::new(0);
            let got = range_hash(start, end, &mut checked_lookup(&t, end, &calls)).unwrap();
            assert_eq!(got, reference_root(&leaves[start as usize..end as usize]));
            assert!(calls.get() <= 2 * log2_ceil(width.max(2)) + 1);
        }
    }
}

/// Checks a generated inclusion proof and its corruptions.
fn check_inclusion(t: &MemoryTree, index: u64, size: u64, corrupt: bool) {
    let calls = Cell::new(0);
    let proof = inclusion_proof(index, size, &mut checked_lookup(t, size, &calls)).unwrap();
    assert_eq!(proof.len(), inclusion_proof_len(index, size));
    assert!(
        calls.get() <= 2 * log2_ceil(size) + 1,
        "{} lookups for inclusion {index}/{size}",
        calls.get()
    );
    let leaf = t.subtree(0, index).unwrap();
    let root = t.root_at(size).unwrap();
    verify_inclusion(&leaf, index, size, &proof, &root)
        .unwrap_or_else(|e| panic!("inclusion {index}/{size}: {e}"));
    if !corrupt {
        return;
    }
    for k in 0..proof.len() {
        for bit in [0u8, 3, 7] {
            let mut bad = proof.clone();
            bad[k][(k * 7 + bit as usize) % 32] ^= 1 << bit;
            assert!(matches!(
                verify_inclusion(&leaf, index, size, &bad, &root),
                Err(ProofError::RootMismatch { .. })
            ));
        }
    }
    for other in [index.wrapping_sub(1), index + 1, index ^ 1, index ^ 2] {
        if other != index {
            assert!(verify_inclusion(&leaf, other, size, &proof, &root).is_err());
        }
    }
    // The size is bound only through the root, so a wrong size is tested
    // with the real root of that size: the proof must not fit that tree.
    for other in [size - 1, size + 1, size * 2, size / 2] {
        if other != size && other <= t.size() {
            let other_root = t.root_at(other).unwrap();
            assert!(
                verify_inclusion(&leaf, index, other, &proof, &other_root).is_err(),
                "proof for {index}/{size} accepted for size {other}"
            );
        }
    }
    let mut wrong_leaf = leaf;
    wrong_leaf[31] ^= 1;
    assert!(verify_inclusion(&wrong_leaf, index, size, &proof, &root).is_err());
    let mut longer = proof.clone();
    longer.push(root);
    assert_eq!(
        verify_inclusion(&leaf, index, size, &longer, &root),
        Err(ProofError::WrongProofLength {
            expected: proof.len(),
            got: proof.len() + 1
        })
    );
}

/// Checks a generated consistency proof and its corruptions.
fn check_consistency(t: &MemoryTree, old: u64, new: u64, corrupt: bool) {
    let calls = Cell::new(0);
    let proof = consistency_proof(old, new, &mut checked_lookup(t, new, &calls)).unwrap();
    assert_eq!(proof.len(), consistency_proof_len(old, new));
    assert!(
        calls.get() <= 2 * log2_ceil(new) + 2,
        "{} lookups for consistency {old}->{new}",
        calls.get()
    );
    let r1 = t.root_at(old).unwrap();
    let r2 = t.root_at(new).unwrap();
    verify_consistency(old, new, &r1, &r2, &proof)
        .unwrap_or_else(|e| panic!("consistency {old}->{new}: {e}"));
    if !corrupt || old == 0 || old == new {
        return;
    }
    for k in 0..proof.len() {
        let mut bad = proof.clone();
        bad[k][k % 32] ^= 0x10;
        assert!(
            verify_consistency(old, new, &r1, &r2, &bad).is_err(),
            "flipped node {k} accepted for {old}->{new}"
        );
    }
    for (o, n) in [
        (old - 1, new),
        (old + 1, new),
        (old ^ 2, new),
        (old, new + 1),
        (old, new * 2),
        (old, new - 1),
    ] {
        // Sizes are bound only through the roots, so use the real roots.
        if (o, n) != (old, new) && o <= n && n <= t.size() {
            let (r1, r2) = (t.root_at(o).unwrap(), t.root_at(n).unwrap());
            assert!(
                verify_consistency(o, n, &r1, &r2, &proof).is_err(),
                "accepted sizes {o}->{n} for a {old}->{new} proof"
            );
        }
    }
    let mut wrong = r1;
    wrong[0] ^= 1;
    // When the old size is a power of two the old root seeds the walk, so a
    // wrong old root surfaces as a new-root mismatch.
    assert!(matches!(
        verify_consistency(old, new, &wrong, &r2, &proof),
        Err(ProofError::OldRootMismatch { .. } | ProofError::NewRootMismatch { .. })
    ));
    let mut wrong = r2;
    wrong[0] ^= 1;
    assert!(matches!(
        verify_consistency(old, new, &r1, &wrong, &proof),
        Err(ProofError::NewRootMismatch { .. })
    ));
}

#[test]
fn exhaustive_inclusion_proofs() {
    let t = build(EXHAUSTIVE);
    for size in 1..=EXHAUSTIVE {
        for index in 0..size {
            check_inclusion(&t, index, size, size <= 64 || index % 7 == 0);
        }
    }
}

#[test]
fn exhaustive_consistency_proofs() {
    let t = build(EXHAUSTIVE);
    for new in 0..=EXHAUSTIVE {
        for old in 0..=new {
            check_consistency(&t, old, new, new <= 64 || old % 5 == 0);
        }
    }
}

#[test]
fn generation_errors() {
    let t = build(10);
    let mut lookup = |l, i| t.subtree(l, i);
    assert_eq!(
        inclusion_proof(10, 10, &mut lookup),
        Err(ProofGenError::IndexOutOfRange {
            index: 10,
            size: 10
        })
    );
    assert_eq!(
        inclusion_proof(0, 0, &mut lookup),
        Err(ProofGenError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(
        consistency_proof(5, 4, &mut lookup),
        Err(ProofGenError::SizeDecrease {
            old_size: 5,
            new_size: 4
        })
    );
    // Lookup failures are passed through untouched.
    let err = inclusion_proof(3, 11, &mut lookup).unwrap_err();
    assert!(matches!(
        err,
        ProofGenError::Subtree(TlogError::SubtreeUnavailable { .. })
    ));
    assert!(err.to_string().contains("subtree lookup failed"));
}

#[test]
fn verification_errors_are_precise() {
    let t = build(5);
    let leaf = t.subtree(0, 2).unwrap();
    let root = t.root();
    let proof = inclusion_proof(2, 5, &mut |l, i| t.subtree(l, i)).unwrap();
    assert_eq!(
        verify_inclusion(&leaf, 5, 5, &proof, &root),
        Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
    );
    assert_eq!(
        root_from_inclusion(&leaf, 0, 0, &[]),
        Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(
        verify_inclusion(&leaf, 2, 5, &proof[..2], &root),
        Err(ProofError::WrongProofLength {
            expected: 3,
            got: 2
        })
    );
    let other = t.subtree(0, 3).unwrap();
    let computed = root_from_inclusion(&other, 2, 5, &proof).unwrap();
    let err = verify_inclusion(&other, 2, 5, &proof, &root).unwrap_err();
    assert_eq!(
        err,
        ProofError::RootMismatch {
            computed,
            expected: root
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("root mismatch"), "{msg}");
    assert!(msg.contains(&hex::encode(root)), "{msg}");
    assert_eq!(
        ProofError::WrongProofLength {
            expected: 3,
            got: 2
        }
        .to_string(),
        "wrong proof length: expected 3 hashes, got 2"
    );
}

#[test]
fn single_leaf_tree() {
    let leaf = leaf_hash(b"data");
    verify_inclusion(&leaf, 0, 1, &[], &leaf).unwrap();
    assert!(verify_inclusion(&leaf, 0, 1, &[], &[0u8; 32]).is_err());
    assert!(verify_inclusion(&[0u8; 32], 0, 1, &[], &leaf).is_err());
}

fn shared_tree() -> &'static MemoryTree {
    static TREE: std::sync::OnceLock<MemoryTree> = std::sync::OnceLock::new();
    TREE.get_or_init(|| build(LARGE))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sampled_inclusion(size in 1..=LARGE, seed in any::<u64>()) {
        let index = seed % size;
        check_inclusion(shared_tree(), index, size, true);
    }

    #[test]
    fn sampled_consistency(new in 1..=LARGE, seed in any::<u64>()) {
        let old = seed % (new + 1);
        check_consistency(shared_tree(), old, new, true);
    }

    #[test]
    fn random_proof_bytes_do_not_verify(
        size in 2..=LARGE,
        seed in any::<u64>(),
        junk in proptest::collection::vec(any::<[u8; 32]>(), 0..16),
    ) {
        let t = shared_tree();
        let index = seed % size;
        let leaf = t.subtree(0, index).unwrap();
        let root = t.root_at(size).unwrap();
        prop_assert!(verify_inclusion(&leaf, index, size, &junk, &root).is_err());
        let old = 1 + seed % (size - 1);
        let r1 = t.root_at(old).unwrap();
        prop_assert!(verify_consistency(old, size, &r1, &root, &junk).is_err());
    }
}
