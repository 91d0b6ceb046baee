//! Transparency-log primitives for Sealtrail's tamper-evident audit log.
//!
//! Everything here is pure and storage-agnostic (no I/O, no async), so the
//! same code runs in the server, in offline verifiers and in tests:
//!
//! - [`merkle`]: RFC 6962 leaf/node hashing, the reference Merkle Tree Hash
//!   and an in-memory tree ([`MemoryTree`]).
//! - [`frontier`]: the compact right edge of the tree ([`Frontier`]) used to
//!   append leaves and compute roots with O(log n) state.
//! - [`proof`]: inclusion and consistency proof generation over a
//!   caller-provided subtree lookup, and RFC 9162 verification.
//! - [`note`]: C2SP signed notes with Ed25519 keys.
//! - [`checkpoint`]: C2SP tlog checkpoints (signed tree heads).
//! - [`error`]: the error types of all of the above.
//!
//! The formats follow the public specifications byte for byte so that
//! existing transparency-log tooling (witnesses, monitors, the Go
//! `sumdb/note` and `transparency-dev` libraries) can verify Sealtrail logs.
//!
//! ```
//! use sealtrail_tlog::*;
//!
//! // Append entries; persist the frontier and the completed subtrees.
//! let mut tree = MemoryTree::new();
//! let mut frontier = Frontier::new();
//! for entry in [&b"first"[..], b"second", b"third"] {
//!     tree.push_entry(entry);
//!     frontier.push(leaf_hash(entry), |_level, _index, _hash| {}).unwrap();
//! }
//! assert_eq!(frontier.root(), tree.root());
//!
//! // Sign a checkpoint and let a client check an entry against it.
//! let signer = NoteSigner::from_seed("example.com/audit", &[7u8; 32]).unwrap();
//! let cp = Checkpoint::new("example.com/audit", frontier.size(), frontier.root());
//! let note = sign_checkpoint(&cp, &signer).unwrap();
//! let trusted = open_checkpoint(&note, &[signer.verifier()], Some("example.com/audit")).unwrap();
//! let proof = inclusion_proof(1, trusted.size, &mut |l, i| tree.subtree(l, i)).unwrap();
//! verify_inclusion(&leaf_hash(b"second"), 1, trusted.size, &proof, &trusted.root_hash).unwrap();
//! ```

#![warn(missing_docs)]

pub mod checkpoint;
pub mod error;
pub mod frontier;
pub mod merkle;
pub mod note;
pub mod proof;

pub use checkpoint::{Checkpoint, open_checkpoint, sign_checkpoint};
pub use error::{CheckpointError, NoteError, ProofError, ProofGenError, TlogError};
pub use frontier::Frontier;
pub use merkle::{Hash, MemoryTree, empty_root, leaf_hash, node_hash, reference_root};
pub use note::{
    NoteSignature, NoteSigner, NoteVerifier, OpenedNote, ParsedNote, ed25519_key_id, open_note,
    parse_note, sign_note,
};
pub use proof::{
    consistency_proof, consistency_proof_len, inclusion_proof, inclusion_proof_len, range_hash,
    root_from_inclusion, verify_consistency, verify_inclusion,
};
