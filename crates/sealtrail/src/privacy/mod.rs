//! Personal data: commitments in the log, ciphertext beside it.
//!
//! The leaf entry of an event never holds personal data. Each personal field
//! is replaced by a salted commitment, and the value with its salt is sealed
//! under a key that belongs to the data subject. Erasing a subject destroys
//! that key: the commitments (and so every leaf, checkpoint and proof) stay
//! exactly as they were, but nobody can open them any more.

pub mod crypto;
pub mod erasure;
pub mod keycache;
pub mod retention;
pub mod split;
