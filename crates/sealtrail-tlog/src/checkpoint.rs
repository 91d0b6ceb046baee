//! C2SP transparency-log checkpoints (<https://c2sp.org/tlog-checkpoint>).
//!
//! A checkpoint is the signed statement "log `origin` had `size` entries with
//! root `root_hash`". Using the common format lets off-the-shelf witnesses
//! cosign Sealtrail's tree heads and lets auditors verify them independently.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::error::CheckpointError;
use crate::merkle::Hash;
use crate::note::{NoteSigner, NoteVerifier, open_note, sign_note};

/// A log's tree head: origin, tree size, root hash and optional extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Unique identity of the log, e.g. `example.com/log42`.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 root hash of the tree at `size`.
    pub root_hash: Hash,
    /// Opaque extra lines (without newlines); not recommended by the spec,
    /// carried for compatibility.
    pub extensions: Vec<String>,
}

fn has_control(line: &str) -> bool {
    line.chars().any(char::is_control)
}

impl Checkpoint {
    /// A checkpoint without extension lines, the recommended form.
    pub fn new(origin: impl Into<String>, size: u64, root_hash: Hash) -> Self {
        Self {
            origin: origin.into(),
            size,
            root_hash,
            extensions: Vec::new(),
        }
    }

    /// The note text: origin, decimal size and base64 root, one per line,
    /// then the extension lines, each ending in a newline.
    ///
    /// Call [`Checkpoint::validate`] first if the fields come from outside;
    /// [`sign_checkpoint`] does so itself.
    pub fn to_body(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root_hash)
        );
        for ext in &self.extensions {
            out.push_str(ext);
            out.push('\n');
        }
        out
    }

    /// Checks that the fields encode to a well-formed body (non-empty origin,
    /// non-empty extensions, no control characters or newlines).
    pub fn validate(&self) -> Result<(), CheckpointError> {
        if self.origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        if has_control(&self.origin) {
            return Err(CheckpointError::ControlCharacter { line: 1 });
        }
        for (i, ext) in self.extensions.iter().enumerate() {
            let line = i + 4;
            if ext.is_empty() {
                return Err(CheckpointError::EmptyExtensionLine { line });
            }
            if has_control(ext) {
                return Err(CheckpointError::ControlCharacter { line });
            }
        }
        Ok(())
    }

    /// Parses a checkpoint body strictly: at least three lines, non-empty
    /// origin, canonical decimal size, base64 of exactly 32 bytes, and
    /// non-empty extension lines, all ending in a newline.
    pub fn parse(body: &str) -> Result<Self, CheckpointError> {
        let content = body
            .strip_suffix('\n')
            .ok_or(CheckpointError::MissingTrailingNewline)?;
        let lines: Vec<&str> = content.split('\n').collect();
        if lines.len() < 3 {
            return Err(CheckpointError::TooFewLines { got: lines.len() });
        }
        for (i, line) in lines.iter().enumerate() {
            if has_control(line) {
                return Err(CheckpointError::ControlCharacter { line: i + 1 });
            }
        }
        let origin = lines[0];
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        let size = parse_size(lines[1])?;
        let root = BASE64
            .decode(lines[2])
            .map_err(|_| CheckpointError::RootHashEncoding)?;
        let root_hash: Hash = root
            .as_slice()
            .try_into()
            .map_err(|_| CheckpointError::RootHashLength { got: root.len() })?;
        let mut extensions = Vec::with_capacity(lines.len() - 3);
        for (i, ext) in lines.iter().enumerate().skip(3) {
            if ext.is_empty() {
                return Err(CheckpointError::EmptyExtensionLine { line: i + 1 });
            }
            extensions.push((*ext).to_owned());
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root_hash,
            extensions,
        })
    }
}

/// Parses the size line: ASCII digits, no sign, no leading zero except "0".
fn parse_size(value: &str) -> Result<u64, CheckpointError> {
    let bad = |reason| CheckpointError::InvalidSize {
        value: value.to_owned(),
        reason,
    };
    if value.is_empty() {
        return Err(bad("empty"));
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a decimal number"));
    }
    if value.len() > 1 && value.starts_with('0') {
        return Err(bad("leading zero"));
    }
    value
        .parse::<u64>()
        .map_err(|_| bad("does not fit in 64 bits"))
}

/// Signs a checkpoint as a note with the log's key.
///
/// Fails only if the checkpoint's fields are not well-formed.
pub fn sign_checkpoint(
    checkpoint: &Checkpoint,
    signer: &NoteSigner,
) -> Result<String, CheckpointError> {
    checkpoint.validate()?;
    Ok(sign_note(&checkpoint.to_body(), &[signer])?)
}

/// Verifies a signed checkpoint against known keys and parses its body.
///
/// With `expected_origin`, a checkpoint for a different log is rejected, which
/// stops a valid signature from one log being replayed as another's.
pub fn open_checkpoint(
    note: &str,
    verifiers: &[NoteVerifier],
    expected_origin: Option<&str>,
) -> Result<Checkpoint, CheckpointError> {
    let opened = open_note(note, verifiers)?;
    let checkpoint = Checkpoint::parse(&opened.text)?;
    if let Some(expected) = expected_origin
        && checkpoint.origin != expected
    {
        return Err(CheckpointError::OriginMismatch {
            expected: expected.to_owned(),
            got: checkpoint.origin,
        });
    }
    Ok(checkpoint)
}
