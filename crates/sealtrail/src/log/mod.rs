//! The per-organization logs: sequencing with group commit, the canonical
//! leaf entry, Merkle subtree storage, and signed checkpoints.
//!
//! This module never knows about HTTP: it takes validated activities and
//! returns positions, proofs and notes.

pub mod checkpoint;
pub mod entry;
pub mod fsck;
pub mod prepare;
pub mod proofs;
pub mod sequencer;

/// Complete subtrees are stored at every level that is a multiple of this
/// (level 8 = 256 leaves, 16 = 65,536 …): tiles in the C2SP sense, so any
/// proof needs at most 255 hash computations per tier.
pub const TILE_HEIGHT: u32 = 8;
