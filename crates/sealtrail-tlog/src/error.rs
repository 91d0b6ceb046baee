//! Error types for every module of the crate.
//!
//! Each failure names the exact check that did not hold, so that an operator
//! reading a log line (or an auditor reading an API response) can tell a
//! corrupted proof from a wrong tree size or a malformed signature line.

use std::fmt;

use crate::merkle::Hash;

/// Lowercase hex of a byte string, for error messages and debugging output.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Errors from tree state handling: frontier encoding and in-memory lookups.
///
/// Kept separate from proof errors because these describe broken stored state
/// or misuse, not a failed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlogError {
    /// An encoded frontier is shorter than its 8-byte size header.
    FrontierTooShort {
        /// Length of the rejected encoding.
        len: usize,
    },
    /// The bytes after the size header are not a whole number of hashes.
    FrontierTrailingBytes {
        /// Length of the rejected encoding.
        len: usize,
    },
    /// The number of hashes does not match the popcount of the tree size.
    FrontierHashCount {
        /// Tree size stated in the header.
        size: u64,
        /// Number of hashes a frontier of that size holds.
        expected: usize,
        /// Number of hashes found.
        got: usize,
    },
    /// The frontier's internal hash list disagrees with its size.
    FrontierCorrupt,
    /// The tree already holds the maximum representable number of leaves.
    TreeFull,
    /// A subtree or root was requested that the tree does not (yet) contain.
    SubtreeUnavailable {
        /// Level of the requested subtree (0 = leaves).
        level: u32,
        /// Index of the requested subtree within its level.
        index: u64,
        /// Number of leaves the tree holds.
        size: u64,
    },
    /// A root was requested for a size larger than the tree.
    SizeBeyondTree {
        /// The requested size.
        requested: u64,
        /// Number of leaves the tree holds.
        size: u64,
    },
}

impl fmt::Display for TlogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FrontierTooShort { len } => {
                write!(
                    f,
                    "encoded frontier is {len} bytes, shorter than the 8-byte size header"
                )
            }
            Self::FrontierTrailingBytes { len } => write!(
                f,
                "encoded frontier is {len} bytes: the part after the size header is not a multiple of 32"
            ),
            Self::FrontierHashCount {
                size,
                expected,
                got,
            } => write!(
                f,
                "encoded frontier for size {size} must hold {expected} hashes, got {got}"
            ),
            Self::FrontierCorrupt => {
                write!(f, "frontier hash list does not match its size")
            }
            Self::TreeFull => write!(f, "tree already holds the maximum number of leaves"),
            Self::SubtreeUnavailable { level, index, size } => write!(
                f,
                "subtree at level {level} index {index} is not complete in a tree of size {size}"
            ),
            Self::SizeBeyondTree { requested, size } => write!(
                f,
                "requested tree size {requested} exceeds the tree's {size} leaves"
            ),
        }
    }
}

impl std::error::Error for TlogError {}

/// Errors from proof generation, wrapping the storage callback's own error.
///
/// Generic over `E` so storage layers keep their error type (I/O, database)
/// instead of having it flattened into a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofGenError<E> {
    /// The leaf index is not inside the tree.
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    SizeDecrease {
        /// The older (first) tree size.
        old_size: u64,
        /// The newer (second) tree size.
        new_size: u64,
    },
    /// A range with its start after its end was requested.
    InvalidRange {
        /// First leaf of the range.
        start: u64,
        /// One past the last leaf of the range.
        end: u64,
    },
    /// The subtree lookup callback failed.
    Subtree(E),
}

impl<E: fmt::Display> fmt::Display for ProofGenError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IndexOutOfRange { index, size } => {
                write!(f, "leaf index {index} is out of range for tree size {size}")
            }
            Self::SizeDecrease { old_size, new_size } => write!(
                f,
                "old tree size {old_size} is larger than new tree size {new_size}"
            ),
            Self::InvalidRange { start, end } => {
                write!(f, "invalid leaf range [{start}, {end})")
            }
            Self::Subtree(e) => write!(f, "subtree lookup failed: {e}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for ProofGenError<E> {}

/// Reasons an inclusion or consistency proof fails to verify.
///
/// Precise variants let callers and auditors distinguish "the proof is for a
/// different position" from "the log presented a forked history".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    IndexOutOfRange {
        /// The claimed leaf index.
        index: u64,
        /// The claimed tree size.
        size: u64,
    },
    /// The proof has the wrong number of nodes for the claimed sizes.
    WrongProofLength {
        /// Number of nodes a proof for these parameters has.
        expected: usize,
        /// Number of nodes supplied.
        got: usize,
    },
    /// The root recomputed from an inclusion proof differs from the given root.
    RootMismatch {
        /// Root recomputed from the leaf and proof.
        computed: Hash,
        /// Root the caller expected.
        expected: Hash,
    },
    /// A consistency proof was given for a shrinking tree.
    SizeDecrease {
        /// The older (first) tree size.
        old_size: u64,
        /// The newer (second) tree size.
        new_size: u64,
    },
    /// The old root recomputed from a consistency proof differs from the given one.
    OldRootMismatch {
        /// Old root recomputed from the proof.
        computed: Hash,
        /// Old root the caller supplied.
        expected: Hash,
    },
    /// The new root recomputed from a consistency proof differs from the given one.
    NewRootMismatch {
        /// New root recomputed from the proof.
        computed: Hash,
        /// New root the caller supplied.
        expected: Hash,
    },
    /// The proof walk did not end at the root (the proof does not fit the sizes).
    PathShapeMismatch,
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IndexOutOfRange { index, size } => {
                write!(f, "leaf index {index} is out of range for tree size {size}")
            }
            Self::WrongProofLength { expected, got } => {
                write!(
                    f,
                    "wrong proof length: expected {expected} hashes, got {got}"
                )
            }
            Self::RootMismatch { computed, expected } => write!(
                f,
                "root mismatch: proof yields {}, expected {}",
                to_hex(computed),
                to_hex(expected)
            ),
            Self::SizeDecrease { old_size, new_size } => write!(
                f,
                "old tree size {old_size} is larger than new tree size {new_size}"
            ),
            Self::OldRootMismatch { computed, expected } => write!(
                f,
                "old root mismatch: proof yields {}, expected {}",
                to_hex(computed),
                to_hex(expected)
            ),
            Self::NewRootMismatch { computed, expected } => write!(
                f,
                "new root mismatch: proof yields {}, expected {}",
                to_hex(computed),
                to_hex(expected)
            ),
            Self::PathShapeMismatch => {
                write!(f, "proof path does not fit the claimed tree sizes")
            }
        }
    }
}

impl std::error::Error for ProofError {}

/// Errors from signed-note keys, signing and verification.
///
/// Parse failures name the field or line that was wrong; verification failures
/// name the key, because "which witness or log key failed" is what an
/// operator needs to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteError {
    /// A key name is empty or contains a plus, whitespace or control character.
    InvalidKeyName {
        /// The rejected name.
        name: String,
    },
    /// A verifier key string does not have the `<name>+<hex id>+<base64>` form.
    MalformedVerifierKey {
        /// Which part of the string was wrong.
        reason: &'static str,
    },
    /// A signer key string does not have the `PRIVATE+KEY+<name>+<hex id>+<base64>` form.
    MalformedSignerKey {
        /// Which part of the string was wrong.
        reason: &'static str,
    },
    /// The key's algorithm byte is not Ed25519 (0x01).
    UnknownAlgorithm {
        /// The algorithm byte found.
        alg: u8,
    },
    /// The key id in a key string does not match the one derived from the key.
    KeyIdMismatch {
        /// The key name.
        name: String,
        /// The id written in the key string.
        stated: u32,
        /// The id derived from the name and public key.
        computed: u32,
    },
    /// The public key bytes are not a valid Ed25519 point.
    InvalidPublicKey {
        /// The key name.
        name: String,
    },
    /// Note text cannot be signed as given.
    InvalidText {
        /// What is wrong with the text.
        reason: &'static str,
    },
    /// `sign_note` was called without any signer.
    NoSigners,
    /// Two signers with the same name and key id were passed to `sign_note`.
    DuplicateSigner {
        /// The key name.
        name: String,
        /// The key id.
        key_id: u32,
    },
    /// A note contains a character that signed notes forbid.
    ControlCharacter {
        /// Byte offset of the offending character.
        offset: usize,
    },
    /// The overall note structure is wrong (separator or trailing newline).
    MalformedNote {
        /// What is wrong with the note.
        reason: &'static str,
    },
    /// A signature line is malformed.
    MalformedSignatureLine {
        /// 1-based number of the line within the signature block.
        line: usize,
        /// What is wrong with the line.
        reason: &'static str,
    },
    /// The note carries more signature lines than this implementation accepts.
    TooManySignatures {
        /// The maximum accepted.
        max: usize,
    },
    /// Two different verifier keys share a name and key id.
    AmbiguousVerifier {
        /// The key name.
        name: String,
        /// The key id.
        key_id: u32,
    },
    /// A signature from a known key failed to verify.
    InvalidSignature {
        /// The key name.
        name: String,
        /// The key id.
        key_id: u32,
    },
    /// No signature from any known key was present.
    NoVerifiedSignature {
        /// `<name>+<hex id>` of every signature line from an unknown key.
        unknown: Vec<String>,
    },
    /// The operating system random source failed during key generation.
    Randomness {
        /// The underlying error message.
        reason: String,
    },
}

impl fmt::Display for NoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidKeyName { name } => write!(
                f,
                "invalid key name {name:?}: must be non-empty without '+', whitespace or control characters"
            ),
            Self::MalformedVerifierKey { reason } => write!(f, "malformed verifier key: {reason}"),
            Self::MalformedSignerKey { reason } => write!(f, "malformed signer key: {reason}"),
            Self::UnknownAlgorithm { alg } => {
                write!(
                    f,
                    "unknown key algorithm 0x{alg:02x} (only Ed25519, 0x01, is supported)"
                )
            }
            Self::KeyIdMismatch {
                name,
                stated,
                computed,
            } => write!(
                f,
                "key id mismatch for {name}: key string says {stated:08x}, key hashes to {computed:08x}"
            ),
            Self::InvalidPublicKey { name } => {
                write!(f, "public key for {name} is not a valid Ed25519 key")
            }
            Self::InvalidText { reason } => write!(f, "note text cannot be signed: {reason}"),
            Self::NoSigners => write!(f, "a signed note needs at least one signer"),
            Self::DuplicateSigner { name, key_id } => {
                write!(f, "signer {name}+{key_id:08x} given more than once")
            }
            Self::ControlCharacter { offset } => write!(
                f,
                "malformed note: control character at byte offset {offset}"
            ),
            Self::MalformedNote { reason } => write!(f, "malformed note: {reason}"),
            Self::MalformedSignatureLine { line, reason } => {
                write!(f, "malformed signature line {line}: {reason}")
            }
            Self::TooManySignatures { max } => {
                write!(f, "note has more than {max} signature lines")
            }
            Self::AmbiguousVerifier { name, key_id } => write!(
                f,
                "ambiguous verifier: several different keys are named {name}+{key_id:08x}"
            ),
            Self::InvalidSignature { name, key_id } => {
                write!(f, "invalid signature for key {name}+{key_id:08x}")
            }
            Self::NoVerifiedSignature { unknown } => {
                if unknown.is_empty() {
                    write!(f, "note has no signature from a known key")
                } else {
                    write!(
                        f,
                        "note has no signature from a known key (signed only by unknown keys: {})",
                        unknown.join(", ")
                    )
                }
            }
            Self::Randomness { reason } => {
                write!(f, "cannot read the system random source: {reason}")
            }
        }
    }
}

impl std::error::Error for NoteError {}

/// Errors from parsing, signing or opening a checkpoint.
///
/// Wraps [`NoteError`] for signature problems so callers handle a single type
/// when opening a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointError {
    /// The signed-note layer failed.
    Note(NoteError),
    /// The checkpoint body does not end with a newline.
    MissingTrailingNewline,
    /// The body has fewer than the three mandatory lines.
    TooFewLines {
        /// Number of lines found.
        got: usize,
    },
    /// The origin line is empty.
    EmptyOrigin,
    /// A line contains a control character.
    ControlCharacter {
        /// 1-based line number.
        line: usize,
    },
    /// The tree size line is not a canonical decimal `u64`.
    InvalidSize {
        /// The rejected line.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The root hash line is not valid standard base64.
    RootHashEncoding,
    /// The root hash does not decode to 32 bytes.
    RootHashLength {
        /// Number of bytes decoded.
        got: usize,
    },
    /// An extension line is empty.
    EmptyExtensionLine {
        /// 1-based line number.
        line: usize,
    },
    /// The checkpoint's origin is not the one the caller expects.
    OriginMismatch {
        /// The origin the caller expected.
        expected: String,
        /// The origin in the checkpoint.
        got: String,
    },
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Note(e) => write!(f, "checkpoint note: {e}"),
            Self::MissingTrailingNewline => {
                write!(f, "checkpoint body must end with a newline")
            }
            Self::TooFewLines { got } => write!(
                f,
                "checkpoint body has {got} lines, needs origin, size and root hash"
            ),
            Self::EmptyOrigin => write!(f, "checkpoint origin line is empty"),
            Self::ControlCharacter { line } => {
                write!(f, "checkpoint line {line} contains a control character")
            }
            Self::InvalidSize { value, reason } => {
                write!(f, "invalid checkpoint tree size {value:?}: {reason}")
            }
            Self::RootHashEncoding => write!(f, "checkpoint root hash is not standard base64"),
            Self::RootHashLength { got } => {
                write!(f, "checkpoint root hash is {got} bytes, expected 32")
            }
            Self::EmptyExtensionLine { line } => {
                write!(f, "checkpoint extension line {line} is empty")
            }
            Self::OriginMismatch { expected, got } => write!(
                f,
                "checkpoint origin mismatch: expected {expected:?}, got {got:?}"
            ),
        }
    }
}

impl std::error::Error for CheckpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Note(e) => Some(e),
            _ => None,
        }
    }
}

impl From<NoteError> for CheckpointError {
    fn from(e: NoteError) -> Self {
        Self::Note(e)
    }
}
