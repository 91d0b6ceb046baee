//! Keys and primitives for personal data: the master key, per-subject keys,
//! sealing, commitments and blind indexes.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::ids::random_bytes;

type HmacSha256 = Hmac<Sha256>;

/// Domain prefix of a personal-data commitment.
pub const COMMIT_DOMAIN: &[u8] = b"sealtrail/commit/v1\0";

/// A 256-bit secret.
pub type SecretKey = [u8; 32];

/// Why a cryptographic step failed.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// Authentication of sealed data failed: wrong key or altered bytes.
    #[error("sealed data failed authentication")]
    Open,
    /// The sealed bytes are too short or malformed.
    #[error("sealed data is malformed")]
    Malformed,
    /// The master key file could not be read or written.
    #[error("master key: {0}")]
    Io(String),
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so new_from_slice cannot fail here.
    let mut mac = match <HmacSha256 as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    for p in parts {
        mac.update(&(p.len() as u32).to_be_bytes());
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// The server's root secret, from which the key-wrapping, pseudonym and
/// blind-index keys are derived. It lives in its own file, apart from the
/// database, so that database backups alone can never open erased data.
#[derive(Clone)]
pub struct MasterKey {
    wrap: SecretKey,
    pseudonym: SecretKey,
    index: SecretKey,
    sink_secrets: SecretKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Derives the working keys from 32 secret bytes.
    pub fn from_secret(secret: &SecretKey) -> MasterKey {
        MasterKey {
            wrap: hmac(secret, &[b"sealtrail/wrap"]),
            pseudonym: hmac(secret, &[b"sealtrail/pseudonym"]),
            index: hmac(secret, &[b"sealtrail/blind-index"]),
            sink_secrets: hmac(secret, &[b"sealtrail/sink-secrets"]),
        }
    }

    /// Loads the master key file, creating it (mode 0600) on first start.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, CryptoError> {
        let secret = crate::config::load_or_create_secret(path, "master key")
            .map_err(|e| CryptoError::Io(e.to_string()))?;
        Ok(MasterKey::from_secret(&secret))
    }

    /// The pseudonym of a data subject within a tree: stable, keyed, and
    /// meaningless without the master key.
    pub fn subject_ref(&self, tree_id: &str, subject: &str) -> Vec<u8> {
        hmac(&self.pseudonym, &[tree_id.as_bytes(), subject.as_bytes()])[..16].to_vec()
    }

    /// A keyed blind index of a value (an email, an IP address) so that
    /// filters work without storing the value in the clear.
    pub fn blind_index(&self, tree_id: &str, kind: &str, value: &str) -> Vec<u8> {
        hmac(
            &self.index,
            &[tree_id.as_bytes(), kind.as_bytes(), value.as_bytes()],
        )[..16]
            .to_vec()
    }

    /// Wraps a subject key for storage.
    pub fn wrap(&self, aad: &[u8], key: &SecretKey) -> Vec<u8> {
        seal(&self.wrap, aad, key)
    }

    /// Seals a sink's secrets (tokens, API keys) for storage, bound to the
    /// sink id so sealed secrets cannot be moved to another sink. A key of
    /// their own keeps them apart from personal data: erasing subjects and
    /// delivering events never share a key.
    pub fn seal_sink_secrets(&self, sink_id: &str, plain: &[u8]) -> Vec<u8> {
        seal(&self.sink_secrets, sink_id.as_bytes(), plain)
    }

    /// Opens what [`MasterKey::seal_sink_secrets`] sealed.
    pub fn open_sink_secrets(&self, sink_id: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        open(&self.sink_secrets, sink_id.as_bytes(), sealed)
    }

    /// Unwraps a stored subject key.
    pub fn unwrap_key(&self, aad: &[u8], wrapped: &[u8]) -> Result<SecretKey, CryptoError> {
        let k = open(&self.wrap, aad, wrapped)?;
        k.try_into().map_err(|_| CryptoError::Malformed)
    }
}

/// A fresh random key.
pub fn new_key() -> SecretKey {
    random_bytes()
}

/// Seals `plain` under `key` with ChaCha20-Poly1305; output `nonce || ct`.
pub fn seal(key: &SecretKey, aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    // A CSPRNG seeded from the OS per thread: no system call per nonce.
    let nonce: [u8; 12] = rand::random();
    // Encryption of an in-memory buffer only fails on absurd lengths.
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
        .unwrap_or_default();
    let mut out = Vec::with_capacity(12 + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Opens what [`seal`] produced.
pub fn open(key: &SecretKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < 12 + 16 {
        return Err(CryptoError::Malformed);
    }
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    cipher
        .decrypt(
            Nonce::from_slice(&sealed[..12]),
            Payload {
                msg: &sealed[12..],
                aad,
            },
        )
        .map_err(|_| CryptoError::Open)
}

/// The commitment to a personal value: `SHA-256(domain || salt || value)`,
/// base64. With a secret random salt it reveals nothing about the value,
/// even a low-entropy one such as an email address.
pub fn commitment(salt: &[u8], value: &str) -> String {
    let d = Sha256::new()
        .chain_update(COMMIT_DOMAIN)
        .chain_update(salt)
        .chain_update(value.as_bytes())
        .finalize();
    B64.encode(d)
}

/// A fresh commitment salt.
pub fn new_salt() -> [u8; 16] {
    rand::random()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_only_with_its_key_and_aad() {
        let k = new_key();
        let s = seal(&k, b"aad", b"alice@example.com");
        assert_eq!(open(&k, b"aad", &s).unwrap(), b"alice@example.com");
        assert!(open(&k, b"other", &s).is_err());
        assert!(open(&new_key(), b"aad", &s).is_err());
    }

    #[test]
    fn commitments_hide_equal_values_behind_distinct_salts() {
        let a = commitment(&new_salt(), "alice@example.com");
        let b = commitment(&new_salt(), "alice@example.com");
        assert_ne!(a, b);
        let salt = [7u8; 16];
        assert_eq!(commitment(&salt, "x"), commitment(&salt, "x"));
    }

    #[test]
    fn pseudonyms_depend_on_the_master_key() {
        let m1 = MasterKey::from_secret(&[1; 32]);
        let m2 = MasterKey::from_secret(&[2; 32]);
        assert_eq!(
            m1.subject_ref("org_a", "user_1"),
            m1.subject_ref("org_a", "user_1")
        );
        assert_ne!(
            m1.subject_ref("org_a", "user_1"),
            m2.subject_ref("org_a", "user_1")
        );
        assert_ne!(
            m1.subject_ref("org_a", "user_1"),
            m1.subject_ref("org_b", "user_1")
        );
    }
}
