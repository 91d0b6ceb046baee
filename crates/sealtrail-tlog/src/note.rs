//! C2SP signed notes with Ed25519 keys (<https://c2sp.org/signed-note>).
//!
//! A signed note is text followed by a blank line and one signature line per
//! key. It is the envelope of transparency-log checkpoints and witness
//! cosignatures; producing it byte-for-byte like the reference Go package
//! (`golang.org/x/mod/sumdb/note`) lets existing witnesses and monitors
//! verify Sealtrail's checkpoints unchanged.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::error::NoteError;

/// Signature type identifier byte of Ed25519 keys in key strings and key ids.
pub const ALG_ED25519: u8 = 0x01;

/// Maximum number of signature lines [`open_note`] accepts.
///
/// Bounds the work an untrusted note can cause; the specification requires
/// accepting at least 16, and 100 matches the reference implementation.
pub const MAX_SIGNATURES: usize = 100;

/// Prefix of every signature line: em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Literal prefix of signer key strings, marking them as secret.
const SKEY_PREFIX: &str = "PRIVATE+KEY+";

/// Key id of an Ed25519 key: the first 4 bytes, big-endian, of
/// `SHA-256(name || 0x0A || 0x01 || public_key)`.
///
/// Binding the name and algorithm into the id keeps signatures from
/// different keys or algorithms from being confused.
pub fn ed25519_key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public_key);
    let digest = h.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Whether `name` is a valid key name: non-empty, without '+', Unicode
/// whitespace or control characters.
///
/// These rules keep key strings and signature lines unambiguous to split.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c == '+' || c.is_whitespace() || c.is_control())
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(NoteError::InvalidKeyName {
            name: name.to_owned(),
        })
    }
}

/// Whether `s` is exactly 8 lowercase hex digits, the key id format.
fn parse_key_id_hex(s: &str) -> Option<u32> {
    if s.len() != 8
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// Splits `<name>+<hex id>+<base64>` and decodes the Ed25519 key material.
///
/// Returns the name, stated id and the 32 key bytes after the algorithm byte.
fn parse_key_string(
    s: &str,
    malformed: fn(&'static str) -> NoteError,
) -> Result<(String, u32, [u8; 32]), NoteError> {
    let (name, rest) = s
        .split_once('+')
        .ok_or_else(|| malformed("missing '+' after the key name"))?;
    let (id_hex, b64) = rest
        .split_once('+')
        .ok_or_else(|| malformed("missing '+' after the key id"))?;
    check_name(name)?;
    let stated = parse_key_id_hex(id_hex)
        .ok_or_else(|| malformed("key id must be 8 lowercase hex digits"))?;
    let raw = BASE64
        .decode(b64)
        .map_err(|_| malformed("key material is not standard base64"))?;
    let (&alg, key) = raw
        .split_first()
        .ok_or_else(|| malformed("key material is empty"))?;
    if alg != ALG_ED25519 {
        return Err(NoteError::UnknownAlgorithm { alg });
    }
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| malformed("Ed25519 key material must be 32 bytes"))?;
    Ok((name.to_owned(), stated, key))
}

/// A named Ed25519 key that signs notes.
///
/// Holds the secret key; its `Debug` output never shows it.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key: SigningKey,
    key_id: u32,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// Wraps an existing Ed25519 key under `name`, validating the name.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        check_name(name)?;
        let key_id = ed25519_key_id(name, key.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_owned(),
            key,
            key_id,
        })
    }

    /// Builds a signer from a 32-byte Ed25519 seed, for keys loaded from
    /// configuration or a secret store.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, NoteError> {
        Self::new(name, SigningKey::from_bytes(seed))
    }

    /// Generates a fresh key from the operating system's random source, for
    /// first-time setup of a log or witness.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| NoteError::Randomness {
            reason: e.to_string(),
        })?;
        Self::from_seed(name, &seed)
    }

    /// Parses a signer key string `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`,
    /// the format of the Go `note.NewSigner`, checking the id against the key.
    pub fn from_skey(skey: &str) -> Result<Self, NoteError> {
        let malformed = |reason| NoteError::MalformedSignerKey { reason };
        let rest = skey
            .strip_prefix(SKEY_PREFIX)
            .ok_or_else(|| malformed("missing PRIVATE+KEY+ prefix"))?;
        let (name, stated, seed) = parse_key_string(rest, malformed)?;
        let signer = Self::from_seed(&name, &seed)?;
        if signer.key_id != stated {
            return Err(NoteError::KeyIdMismatch {
                name,
                stated,
                computed: signer.key_id,
            });
        }
        Ok(signer)
    }

    /// Encodes the signer key string accepted by [`NoteSigner::from_skey`].
    ///
    /// The result contains the secret key and must be stored as a secret.
    pub fn to_skey(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "{SKEY_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(&raw)
        )
    }

    /// The key name written on each signature line.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 32-bit key id written at the start of each signature.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The public verifier key string `<name>+<hex id>+<base64(0x01 || pubkey)>`
    /// to hand to verifiers.
    pub fn verifier_key(&self) -> String {
        self.verifier().to_string()
    }

    /// The matching verifier, for verifying one's own notes without re-parsing.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// Raw Ed25519 signature over `msg` (deterministic, RFC 8032).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }
}

/// A named Ed25519 public key that verifies note signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Builds a verifier from a name and public key, validating the name.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key_id: ed25519_key_id(name, key.as_bytes()),
            key,
        })
    }

    /// Parses a verifier key string `<name>+<hex id>+<base64(0x01 || pubkey)>`,
    /// rejecting bad names, other algorithms and ids that do not match the key.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let malformed = |reason| NoteError::MalformedVerifierKey { reason };
        let (name, stated, public) = parse_key_string(vkey, malformed)?;
        let computed = ed25519_key_id(&name, &public);
        if computed != stated {
            return Err(NoteError::KeyIdMismatch {
                name,
                stated,
                computed,
            });
        }
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| NoteError::InvalidPublicKey { name: name.clone() })?;
        Ok(Self {
            name,
            key_id: computed,
            key,
        })
    }

    /// The key name expected on signature lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id expected at the start of signatures.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The underlying Ed25519 public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Whether `sig` is a valid Ed25519 signature over `msg` by this key.
    ///
    /// Uses strict verification, rejecting malleable or small-order inputs.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        Signature::from_slice(sig)
            .map(|s| self.key.verify_strict(msg, &s).is_ok())
            .unwrap_or(false)
    }

    fn matches(&self, sig: &NoteSignature) -> bool {
        self.name == sig.name && self.key_id == sig.key_id
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(&raw)
        )
    }
}

impl FromStr for NoteVerifier {
    type Err = NoteError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// One signature line of a note, verified or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name from the line.
    pub name: String,
    /// Key id (first four bytes of the decoded signature, big-endian).
    pub key_id: u32,
    /// The signature bytes after the key id.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The base64 field of the line: `base64(key_id || signature)`.
    pub fn to_base64(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        BASE64.encode(&raw)
    }

    /// The full signature line including the trailing newline, so notes can
    /// be re-assembled (e.g. when adding cosignatures).
    pub fn to_line(&self) -> String {
        format!("{SIG_PREFIX}{} {}\n", self.name, self.to_base64())
    }

    /// `<name>+<hex id>`, the way keys are referred to in messages.
    fn key_label(&self) -> String {
        format!("{}+{:08x}", self.name, self.key_id)
    }
}

/// A note split into text and signature lines, with no signature checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedNote {
    /// The signed text, including its final newline.
    pub text: String,
    /// Every signature line in order.
    pub signatures: Vec<NoteSignature>,
}

/// The result of [`open_note`]: text that at least one known key vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedNote {
    /// The signed text, including its final newline.
    pub text: String,
    /// Signatures from known keys, all of which verified (one per key).
    pub verified: Vec<NoteSignature>,
    /// Signatures from keys not among the verifiers (duplicates removed);
    /// the specification requires ignoring them, they are returned for display.
    pub unknown: Vec<NoteSignature>,
}

/// Offset of the first forbidden character (ASCII control other than newline).
fn find_control_char(s: &str) -> Option<usize> {
    s.bytes().position(|b| b < 0x20 && b != b'\n')
}

fn parse_signature_line(line: &str, number: usize) -> Result<NoteSignature, NoteError> {
    let bad = |reason| NoteError::MalformedSignatureLine {
        line: number,
        reason,
    };
    let rest = line
        .strip_prefix(SIG_PREFIX)
        .ok_or_else(|| bad("does not start with an em dash (U+2014) and a space"))?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or_else(|| bad("missing space between key name and signature"))?;
    if !is_valid_key_name(name) {
        return Err(bad("invalid key name"));
    }
    if b64.is_empty() {
        return Err(bad("empty signature"));
    }
    let raw = BASE64
        .decode(b64)
        .map_err(|_| bad("signature is not standard base64"))?;
    let Some((id, signature)) = raw.split_first_chunk::<4>() else {
        return Err(bad("signature shorter than its 4-byte key id"));
    };
    if signature.is_empty() {
        return Err(bad("signature has a key id but no signature bytes"));
    }
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: u32::from_be_bytes(*id),
        signature: signature.to_vec(),
    })
}

/// Splits a signed note into text and signature lines, checking only syntax.
///
/// Useful to inspect who signed a note (e.g. to pick verifiers) before
/// trusting any of it; the text must not be used until [`open_note`] succeeds.
pub fn parse_note(note: &str) -> Result<ParsedNote, NoteError> {
    if let Some(offset) = find_control_char(note) {
        return Err(NoteError::ControlCharacter { offset });
    }
    let split = note.rfind("\n\n").ok_or(NoteError::MalformedNote {
        reason: "no blank line separates the text from the signatures",
    })?;
    let text = &note[..split + 1];
    let block = &note[split + 2..];
    if block.is_empty() {
        return Err(NoteError::MalformedNote {
            reason: "no signature lines after the blank line",
        });
    }
    let Some(block) = block.strip_suffix('\n') else {
        return Err(NoteError::MalformedNote {
            reason: "the last signature line does not end with a newline",
        });
    };
    let mut signatures = Vec::new();
    for (i, line) in block.split('\n').enumerate() {
        if i >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        signatures.push(parse_signature_line(line, i + 1)?);
    }
    Ok(ParsedNote {
        text: text.to_owned(),
        signatures,
    })
}

/// Parses a signed note and verifies it against the known `verifiers`.
///
/// Follows the specification's trust rules: signatures from unknown keys are
/// ignored (and reported in [`OpenedNote::unknown`]); any failing signature
/// from a known key rejects the whole note; and at least one known key must
/// have signed.
pub fn open_note(note: &str, verifiers: &[NoteVerifier]) -> Result<OpenedNote, NoteError> {
    let parsed = parse_note(note)?;
    let mut verified: Vec<NoteSignature> = Vec::new();
    let mut unknown: Vec<NoteSignature> = Vec::new();
    for sig in parsed.signatures {
        let mut candidates = verifiers.iter().filter(|v| v.matches(&sig));
        let Some(verifier) = candidates.next() else {
            if !unknown.contains(&sig) {
                unknown.push(sig);
            }
            continue;
        };
        if candidates.any(|other| other.key != verifier.key) {
            return Err(NoteError::AmbiguousVerifier {
                name: sig.name,
                key_id: sig.key_id,
            });
        }
        if !verifier.verify(parsed.text.as_bytes(), &sig.signature) {
            return Err(NoteError::InvalidSignature {
                name: sig.name,
                key_id: sig.key_id,
            });
        }
        if !verified
            .iter()
            .any(|v| v.name == sig.name && v.key_id == sig.key_id)
        {
            verified.push(sig);
        }
    }
    if verified.is_empty() {
        return Err(NoteError::NoVerifiedSignature {
            unknown: unknown.iter().map(NoteSignature::key_label).collect(),
        });
    }
    Ok(OpenedNote {
        text: parsed.text,
        verified,
        unknown,
    })
}

/// Checks that `text` can be the text of a signed note.
fn check_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() {
        return Err(NoteError::InvalidText {
            reason: "text is empty",
        });
    }
    if !text.ends_with('\n') {
        return Err(NoteError::InvalidText {
            reason: "text does not end with a newline",
        });
    }
    if find_control_char(text).is_some() {
        return Err(NoteError::InvalidText {
            reason: "text contains an ASCII control character other than newline",
        });
    }
    Ok(())
}

/// Signs `text` with every signer and returns the encoded note: the text, a
/// blank line and one `— <name> <base64(key id || signature)>` line per signer.
///
/// The text must be non-empty, end with a newline and contain no ASCII
/// control characters other than newline; each signature covers exactly the
/// text bytes.
pub fn sign_note(text: &str, signers: &[&NoteSigner]) -> Result<String, NoteError> {
    check_text(text)?;
    if signers.is_empty() {
        return Err(NoteError::NoSigners);
    }
    for (i, s) in signers.iter().enumerate() {
        if signers[..i]
            .iter()
            .any(|o| o.name == s.name && o.key_id == s.key_id)
        {
            return Err(NoteError::DuplicateSigner {
                name: s.name.clone(),
                key_id: s.key_id,
            });
        }
    }
    let mut out = String::with_capacity(text.len() + 1 + signers.len() * 110);
    out.push_str(text);
    out.push('\n');
    for s in signers {
        let line = NoteSignature {
            name: s.name.clone(),
            key_id: s.key_id,
            signature: s.sign(text.as_bytes()).to_vec(),
        };
        out.push_str(&line.to_line());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn different_keys_with_same_name_and_id_are_ambiguous() {
        let real = NoteSigner::from_seed("log", &[1u8; 32]).unwrap();
        let impostor = NoteVerifier {
            name: "log".to_owned(),
            key_id: real.key_id(),
            key: SigningKey::from_bytes(&[2u8; 32]).verifying_key(),
        };
        let note = sign_note("text\n", &[&real]).unwrap();
        assert_eq!(
            open_note(&note, &[real.verifier(), impostor]),
            Err(NoteError::AmbiguousVerifier {
                name: "log".to_owned(),
                key_id: real.key_id()
            })
        );
    }

    #[test]
    fn wrong_length_signature_from_known_key_is_invalid() {
        let s = NoteSigner::from_seed("log", &[1u8; 32]).unwrap();
        let short = NoteSignature {
            name: "log".to_owned(),
            key_id: s.key_id(),
            signature: vec![0u8; 63],
        };
        let note = format!("text\n\n{}", short.to_line());
        assert_eq!(
            open_note(&note, &[s.verifier()]),
            Err(NoteError::InvalidSignature {
                name: "log".to_owned(),
                key_id: s.key_id()
            })
        );
    }
}
