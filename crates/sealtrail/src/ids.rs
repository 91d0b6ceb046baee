//! Server-assigned identifiers.
//!
//! An activity id encodes the moment of storage and the global commit
//! sequence (`gseq`), so ids sort exactly like commit order and a cursor can
//! be turned back into a position without a lookup.

use std::fmt;
use std::str::FromStr;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The prefix of every activity id.
pub const ACTIVITY_PREFIX: &str = "act_";

/// An activity id: `act_` + 26 Crockford base32 characters of a 128-bit
/// value `ms:48 | gseq:64 | check:16`.
///
/// The 48-bit millisecond part is clamped to be non-decreasing by the
/// sequencer, so lexical order, numeric order and commit order agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActivityId(u128);

impl ActivityId {
    /// Builds the id of the event committed at `gseq` at `ms`.
    pub fn new(ms: u64, gseq: u64) -> Self {
        let ms = (ms & 0xFFFF_FFFF_FFFF) as u128;
        let check = check16(ms as u64, gseq) as u128;
        ActivityId((ms << 80) | ((gseq as u128) << 16) | check)
    }

    /// The global commit sequence this id was assigned at.
    pub fn gseq(&self) -> u64 {
        (self.0 >> 16) as u64
    }

    /// Milliseconds since the Unix epoch when the event was stored.
    pub fn ms(&self) -> u64 {
        (self.0 >> 80) as u64
    }
}

/// A small keyless check so a mistyped cursor is refused instead of being
/// silently read as another position.
fn check16(ms: u64, gseq: u64) -> u16 {
    let mut x = ms.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ gseq.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    (x & 0xFFFF) as u16
}

impl fmt::Display for ActivityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 26];
        let mut v = self.0;
        for slot in buf.iter_mut().rev() {
            *slot = CROCKFORD[(v & 31) as usize];
            v >>= 5;
        }
        f.write_str(ACTIVITY_PREFIX)?;
        // The buffer only holds ASCII from the alphabet above.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

/// Why a string is not an activity id.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IdError {
    /// Wrong prefix or length.
    #[error("an activity id is \"act_\" followed by 26 base32 characters")]
    Shape,
    /// A character outside the alphabet.
    #[error("an activity id contains a character outside Crockford base32")]
    Alphabet,
    /// The check bits do not match: the id was mistyped or invented.
    #[error("this activity id was not issued by this server")]
    Check,
}

impl FromStr for ActivityId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let body = s.strip_prefix(ACTIVITY_PREFIX).ok_or(IdError::Shape)?;
        if body.len() != 26 {
            return Err(IdError::Shape);
        }
        let mut v: u128 = 0;
        for (i, c) in body.bytes().enumerate() {
            let d = CROCKFORD
                .iter()
                .position(|&a| a == c.to_ascii_uppercase())
                .ok_or(IdError::Alphabet)? as u128;
            if i == 0 && d > 7 {
                return Err(IdError::Shape);
            }
            v = (v << 5) | d;
        }
        let id = ActivityId(v);
        if check16(id.ms(), id.gseq()) != (v & 0xFFFF) as u16 {
            return Err(IdError::Check);
        }
        Ok(id)
    }
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // getrandom only fails when the OS has no entropy source at all, which
    // a server cannot run without; fall back to a time-seeded hash so the
    // type stays infallible but never returns zeros.
    if getrandom::getrandom(&mut b).is_err() {
        use sha2::{Digest, Sha256};
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut out = Vec::new();
        let mut counter = 0u32;
        while out.len() < N {
            let h = Sha256::new()
                .chain_update(seed.to_be_bytes())
                .chain_update(counter.to_be_bytes())
                .finalize();
            out.extend_from_slice(&h);
            counter += 1;
        }
        b.copy_from_slice(&out[..N]);
    }
    b
}

/// A new random identifier with a readable prefix, e.g. `org_4F2K…`.
pub fn new_prefixed_id(prefix: &str) -> String {
    let bytes: [u8; 10] = random_bytes();
    format!("{prefix}_{}", base32(&bytes))
}

/// Crockford base32 without padding, for random tokens.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        acc = (acc << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(CROCKFORD[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(CROCKFORD[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_sort_like_gseq() {
        let a = ActivityId::new(1_733_339_007_123, 41);
        let b = ActivityId::new(1_733_339_007_123, 42);
        let c = ActivityId::new(1_733_339_007_124, 43);
        for id in [a, b, c] {
            let s = id.to_string();
            assert_eq!(s.len(), 30);
            assert_eq!(s.parse::<ActivityId>(), Ok(id));
        }
        assert!(a.to_string() < b.to_string() && b.to_string() < c.to_string());
        assert_eq!(b.gseq(), 42);
        assert_eq!(c.ms(), 1_733_339_007_124);
    }

    #[test]
    fn a_mistyped_id_is_refused() {
        let s = ActivityId::new(1_733_339_007_123, 41).to_string();
        let mut bad = s.clone().into_bytes();
        let last = bad.len() - 3;
        bad[last] = if bad[last] == b'0' { b'1' } else { b'0' };
        let bad = String::from_utf8(bad).unwrap();
        assert_eq!(bad.parse::<ActivityId>(), Err(IdError::Check));
        assert_eq!("act_".parse::<ActivityId>(), Err(IdError::Shape));
        assert_eq!("xyz_01".parse::<ActivityId>(), Err(IdError::Shape));
    }
}
