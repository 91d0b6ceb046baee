//! Known-answer tests against published RFC 6962 vectors.
//!
//! Leaf inputs, node hashes, roots for sizes 0..=8 and compact-range contents
//! are published in the transparency-dev/merkle repository, file
//! `testonly/constants.go` (`LeafInputs`, `NodeHashes`, `RootHashes`,
//! `CompactTrees`). The inclusion and consistency proofs are published in the
//! same repository, file `proof/verify_test.go` (`inclusionProofs`,
//! `consistencyProofs`; leaf numbers there are 1-based).

use sealtrail_tlog::{
    Frontier, Hash, MemoryTree, ProofError, consistency_proof, empty_root, inclusion_proof,
    leaf_hash, reference_root, root_from_inclusion, verify_consistency, verify_inclusion,
};

fn h(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// testonly/constants.go, LeafInputs().
const LEAF_INPUTS: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// testonly/constants.go, RootHashes(): roots for tree sizes 0..=8.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// testonly/constants.go, NodeHashes(): `[level][index]` for the 8-leaf tree.
const NODES: [&[&str]; 4] = [
    &[
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    &[
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];

/// testonly/constants.go, CompactTrees(): frontier contents as
/// `(level, index)` references into NODES, for sizes 0..=8.
const COMPACT: [&[(usize, usize)]; 9] = [
    &[],
    &[(0, 0)],
    &[(1, 0)],
    &[(1, 0), (0, 2)],
    &[(2, 0)],
    &[(2, 0), (0, 4)],
    &[(2, 0), (1, 2)],
    &[(2, 0), (1, 2), (0, 6)],
    &[(3, 0)],
];

/// proof/verify_test.go, inclusionProofs: (1-based leaf, size, proof).
const INCLUSION: [(u64, u64, &[&str]); 6] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        3,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        2,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        5,
        8,
        // Not in the published list; derived from NODES: leaf 4's sibling is
        // leaf 5, then node (1,3), then node (2,0).
        &[
            "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

/// proof/verify_test.go, consistencyProofs: (size1, size2, proof).
const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn tree() -> MemoryTree {
    let mut t = MemoryTree::new();
    for input in LEAF_INPUTS {
        t.push_entry(&hex::decode(input).unwrap());
    }
    t
}

fn proof(hashes: &[&str]) -> Vec<Hash> {
    hashes.iter().map(|s| h(s)).collect()
}

#[test]
fn empty_root_is_sha256_of_nothing() {
    assert_eq!(empty_root(), h(ROOTS[0]));
    assert_eq!(reference_root(&[]), h(ROOTS[0]));
}

#[test]
fn leaf_and_node_hashes_match() {
    let t = tree();
    for (level, row) in NODES.iter().enumerate() {
        for (index, want) in row.iter().enumerate() {
            assert_eq!(
                t.subtree(level as u32, index as u64).unwrap(),
                h(want),
                "node level {level} index {index}"
            );
        }
    }
    for (i, input) in LEAF_INPUTS.iter().enumerate() {
        assert_eq!(leaf_hash(&hex::decode(input).unwrap()), h(NODES[0][i]));
    }
}

#[test]
fn roots_match_for_every_size() {
    let t = tree();
    let leaves: Vec<Hash> = (0..8).map(|i| t.subtree(0, i).unwrap()).collect();
    let mut f = Frontier::new();
    assert_eq!(f.root(), h(ROOTS[0]));
    for size in 0..=8usize {
        let want = h(ROOTS[size]);
        assert_eq!(
            t.root_at(size as u64).unwrap(),
            want,
            "MemoryTree size {size}"
        );
        assert_eq!(
            reference_root(&leaves[..size]),
            want,
            "reference size {size}"
        );
        if size > 0 {
            f.push(leaves[size - 1], |_, _, _| {}).unwrap();
        }
        assert_eq!(f.root(), want, "Frontier size {size}");
        let compact: Vec<Hash> = COMPACT[size].iter().map(|&(l, i)| h(NODES[l][i])).collect();
        assert_eq!(
            f.hashes(),
            compact.as_slice(),
            "frontier contents size {size}"
        );
    }
}

#[test]
fn inclusion_proofs_match_and_verify() {
    let t = tree();
    for (leaf1, size, want) in INCLUSION {
        let index = leaf1 - 1;
        let want = proof(want);
        let got = inclusion_proof(index, size, &mut |l, i| t.subtree(l, i)).unwrap();
        assert_eq!(got, want, "inclusion proof leaf {index} size {size}");
        let leaf = t.subtree(0, index).unwrap();
        let root = h(ROOTS[size as usize]);
        assert_eq!(root_from_inclusion(&leaf, index, size, &want), Ok(root));
        verify_inclusion(&leaf, index, size, &want, &root).unwrap();
    }
}

#[test]
fn consistency_proofs_match_and_verify() {
    let t = tree();
    for (size1, size2, want) in CONSISTENCY {
        let want = proof(want);
        let got = consistency_proof(size1, size2, &mut |l, i| t.subtree(l, i)).unwrap();
        assert_eq!(got, want, "consistency proof {size1} -> {size2}");
        verify_consistency(
            size1,
            size2,
            &h(ROOTS[size1 as usize]),
            &h(ROOTS[size2 as usize]),
            &want,
        )
        .unwrap();
    }
}

/// The trivial cases of proof/verify_test.go TestVerifyConsistency, with the
/// stricter rule that the old root of an empty tree must be the empty root.
#[test]
fn trivial_consistency_cases() {
    let a = [1u8; 32];
    let b = [2u8; 32];
    let e = empty_root();
    // Same size: the roots must agree and the proof must be empty.
    verify_consistency(1, 1, &a, &a, &[]).unwrap();
    assert!(matches!(
        verify_consistency(1, 1, &a, &b, &[]),
        Err(ProofError::NewRootMismatch { .. })
    ));
    assert!(matches!(
        verify_consistency(1, 1, &a, &a, &[e]),
        Err(ProofError::WrongProofLength {
            expected: 0,
            got: 1
        })
    ));
    // From the empty tree anything is consistent, with an empty proof.
    verify_consistency(0, 0, &e, &e, &[]).unwrap();
    verify_consistency(0, 1, &e, &b, &[]).unwrap();
    assert!(matches!(
        verify_consistency(0, 1, &a, &b, &[]),
        Err(ProofError::OldRootMismatch { .. })
    ));
    assert!(matches!(
        verify_consistency(0, 1, &e, &b, &[e]),
        Err(ProofError::WrongProofLength { .. })
    ));
    // Time travel to the past.
    assert_eq!(
        verify_consistency(2, 1, &a, &b, &[]),
        Err(ProofError::SizeDecrease {
            old_size: 2,
            new_size: 1
        })
    );
    // A non-trivial step needs a proof.
    assert_eq!(
        verify_consistency(1, 2, &a, &b, &[]),
        Err(ProofError::WrongProofLength {
            expected: 1,
            got: 0
        })
    );
}

/// Corruptions modelled on proof/verify_test.go corruptInclusionProof and
/// corruptConsistencyProof: each must be rejected.
#[test]
fn corrupted_published_proofs_fail() {
    let t = tree();
    let some = h("abacaba000000000000000000000000000000000000000000060061e00123456");
    for (leaf1, size, p) in INCLUSION.iter().skip(1) {
        let (index, size) = (leaf1 - 1, *size);
        let p = proof(p);
        let leaf = t.subtree(0, index).unwrap();
        let root = h(ROOTS[size as usize]);
        let bad_calls: Vec<(u64, u64, Vec<Hash>, Hash, Hash)> = vec![
            (index.wrapping_sub(1), size, p.clone(), root, leaf),
            (index + 1, size, p.clone(), root, leaf),
            (index ^ 2, size, p.clone(), root, leaf),
            (index, size * 2, p.clone(), root, leaf),
            (index, size / 2, p.clone(), root, leaf),
            (index, size, p.clone(), root, some),
            (index, size, p.clone(), empty_root(), leaf),
            (index, size, p.clone(), some, leaf),
            (index, size, [p.clone(), vec![root]].concat(), root, leaf),
            (index, size, [vec![root], p.clone()].concat(), root, leaf),
            (index, size, p[..p.len() - 1].to_vec(), root, leaf),
        ];
        for (i, s, pr, r, l) in bad_calls {
            assert!(
                verify_inclusion(&l, i, s, &pr, &r).is_err(),
                "accepted corrupted inclusion proof index {i} size {s}"
            );
        }
        for k in 0..p.len() {
            let mut q = p.clone();
            q[k][0] ^= 8;
            assert!(verify_inclusion(&leaf, index, size, &q, &root).is_err());
        }
    }
    for (size1, size2, p) in CONSISTENCY.iter().skip(1) {
        let (size1, size2) = (*size1, *size2);
        let p = proof(p);
        let r1 = h(ROOTS[size1 as usize]);
        let r2 = h(ROOTS[size2 as usize]);
        let bad_calls: Vec<(u64, u64, Hash, Hash, Vec<Hash>)> = vec![
            (size1 - 1, size2, r1, r2, p.clone()),
            (size1 + 1, size2, r1, r2, p.clone()),
            (size1 ^ 2, size2, r1, r2, p.clone()),
            (size1, size2 * 2, r1, r2, p.clone()),
            (size1, size2 / 2, r1, r2, p.clone()),
            (size1, size2, some, r2, p.clone()),
            (size1, size2, r1, some, p.clone()),
            (size1, size2, r2, r1, p.clone()),
            (size1, size2, r1, r2, vec![]),
            (size1, size2, r1, r2, [p.clone(), vec![r1]].concat()),
            (size1, size2, r1, r2, [p.clone(), vec![r2]].concat()),
            (size1, size2, r1, r2, [vec![r1], p.clone()].concat()),
            (size1, size2, r1, r2, [vec![r2], p.clone()].concat()),
            (size1, size2, r1, r2, [vec![p[0]], p.clone()].concat()),
            (size1, size2, r1, r2, p[..p.len() - 1].to_vec()),
        ];
        for (s1, s2, a, b, pr) in bad_calls {
            assert!(
                verify_consistency(s1, s2, &a, &b, &pr).is_err(),
                "accepted corrupted consistency proof {s1} -> {s2}"
            );
        }
        for k in 0..p.len() {
            let mut q = p.clone();
            q[k][0] ^= 16;
            assert!(verify_consistency(size1, size2, &r1, &r2, &q).is_err());
        }
    }
}
