//! Which fields of an activity are personal, whose they are, and how their
//! values travel beside the log in sealed per-subject envelopes.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sealtrail_model::{ActivityInput, TypeDef};
use serde::{Deserialize, Serialize};

use super::crypto::{self, CryptoError, SecretKey};

/// Target types whose id names a person, so their display name and the
/// type's personal metadata belong to that person.
const PERSON_TARGETS: &[&str] = &["user", "member", "account", "service_account", "scim_user"];

/// One personal value of an event.
#[derive(Clone, Debug, PartialEq)]
pub struct PersonalField {
    /// Dotted path in the event, e.g. `actor.email`, `metadata.email`.
    pub path: String,
    /// The data subject it belongs to (an actor or target id, or
    /// `email:<address>` when the person has no id).
    pub subject: String,
    /// The value.
    pub value: String,
}

/// The data subject of the actor: its id, else its email, else its IP.
pub fn actor_subject(input: &ActivityInput) -> Option<String> {
    let a = &input.actor;
    a.id.clone()
        .or_else(|| {
            a.email
                .as_ref()
                .map(|e| format!("email:{}", e.to_lowercase()))
        })
        .or_else(|| a.ip_address.as_ref().map(|ip| format!("ip:{ip}")))
}

/// The data subject of the target, when the target is a person.
pub fn target_subject(input: &ActivityInput) -> Option<String> {
    let t = input.target.as_ref()?;
    if PERSON_TARGETS.contains(&t.target_type.as_str()) {
        t.id.clone()
    } else {
        None
    }
}

/// Lists the personal values of an event with their subjects.
pub fn personal_fields(input: &ActivityInput, def: &TypeDef) -> Vec<PersonalField> {
    let mut out = Vec::new();
    let actor = actor_subject(input);
    let target = target_subject(input);
    let a = &input.actor;
    if let Some(subject) = &actor {
        for (path, v) in [
            ("actor.email", &a.email),
            ("actor.name", &a.name),
            ("actor.ip_address", &a.ip_address),
            ("actor.user_agent", &a.user_agent),
        ] {
            if let Some(v) = v {
                out.push(PersonalField {
                    path: path.into(),
                    subject: subject.clone(),
                    value: v.clone(),
                });
            }
        }
    }
    let owner = target.clone().or(actor);
    if let Some(subject) = &owner {
        if let Some(name) = input.target.as_ref().and_then(|t| t.name.as_ref()) {
            out.push(PersonalField {
                path: "target.name".into(),
                subject: subject.clone(),
                value: name.clone(),
            });
        }
        for key in &def.personal_metadata {
            if let Some(serde_json::Value::String(v)) = input.metadata.get(key) {
                out.push(PersonalField {
                    path: format!("metadata.{key}"),
                    subject: subject.clone(),
                    value: v.clone(),
                });
            }
        }
    }
    out
}

/// An opened personal value: the salt its commitment was made with, and
/// the value. Together they let anyone recompute the commitment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Opening {
    /// Base64 salt.
    pub salt: String,
    /// The value.
    pub value: String,
}

/// Openings by field path.
pub type Openings = BTreeMap<String, Opening>;

/// One sealed envelope: the openings of one subject in one event.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// The subject's pseudonym (the AEAD's associated data).
    pub subject: Vec<u8>,
    /// `nonce || ciphertext` of the openings.
    pub sealed: Vec<u8>,
    /// How the openings inside are encoded.
    pub inner: Inner,
}

/// The encoding of the openings inside an envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inner {
    /// JSON `{path: {salt: base64, value}}` (envelopes written before the
    /// binary form; still read).
    Json,
    /// [`encode_openings`].
    Binary,
}

/// Tag of the binary storage form of an event's envelopes. The earlier
/// form is a JSON array, whose first byte is `[`.
const ENVELOPES_V2: u8 = 0x02;

/// Encodes openings for sealing: per opening, in path order, the path
/// (u16 length, UTF-8), the salt (u8 length, raw bytes) and the value
/// (u32 length, UTF-8); all lengths little-endian.
pub fn encode_openings(o: &Openings) -> Vec<u8> {
    let mut out = Vec::with_capacity(o.len() * 48);
    for (path, op) in o {
        let salt = salt_bytes(&op.salt).unwrap_or_default();
        out.extend_from_slice(&(path.len() as u16).to_le_bytes());
        out.extend_from_slice(path.as_bytes());
        out.push(salt.len() as u8);
        out.extend_from_slice(&salt);
        out.extend_from_slice(&(op.value.len() as u32).to_le_bytes());
        out.extend_from_slice(op.value.as_bytes());
    }
    out
}

/// A reader over a byte slice that fails, never panics, on short input.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CryptoError> {
        if self.0.len() < n {
            return Err(CryptoError::Malformed);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<usize, CryptoError> {
        Ok(self.take(1)?[0] as usize)
    }
    fn u16(&mut self) -> Result<usize, CryptoError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]) as usize)
    }
    fn u32(&mut self) -> Result<usize, CryptoError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    fn text(&mut self, n: usize) -> Result<String, CryptoError> {
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| CryptoError::Malformed)
    }
}

/// Decodes what [`encode_openings`] produced.
pub fn decode_openings(bytes: &[u8]) -> Result<Openings, CryptoError> {
    let mut c = Cursor(bytes);
    let mut out = Openings::new();
    while !c.0.is_empty() {
        let n = c.u16()?;
        let path = c.text(n)?;
        let n = c.u8()?;
        let salt = salt_b64(c.take(n)?);
        let n = c.u32()?;
        let value = c.text(n)?;
        out.insert(path, Opening { salt, value });
    }
    Ok(out)
}

/// Seals openings already encoded with [`encode_openings`].
pub fn seal_plaintext(key: &SecretKey, subject_ref: &[u8], plaintext: &[u8]) -> Envelope {
    Envelope {
        subject: subject_ref.to_vec(),
        sealed: crypto::seal(key, subject_ref, plaintext),
        inner: Inner::Binary,
    }
}

/// Opens an envelope.
pub fn open_envelope(key: &SecretKey, env: &Envelope) -> Result<Openings, CryptoError> {
    let plain = crypto::open(key, &env.subject, &env.sealed)?;
    match env.inner {
        Inner::Binary => decode_openings(&plain),
        Inner::Json => serde_json::from_slice(&plain).map_err(|_| CryptoError::Malformed),
    }
}

/// The JSON storage form of an envelope, as written before the binary one.
#[derive(Deserialize)]
struct JsonEnvelope {
    /// Hex pseudonym.
    s: String,
    /// Base64 of `nonce || ciphertext`.
    d: String,
}

/// Encodes the envelopes of an event for storage: the tag `0x02`, then per
/// envelope the pseudonym (u8 length, raw) and `nonce || ciphertext` (u32
/// length, little-endian, raw). Envelopes read from the JSON form keep
/// their JSON openings and are stored in that form again.
pub fn encode_envelopes(envs: &[Envelope]) -> Option<Vec<u8>> {
    if envs.is_empty() {
        return None;
    }
    if envs.iter().any(|e| e.inner == Inner::Json) {
        let v: Vec<serde_json::Value> = envs
            .iter()
            .map(|e| serde_json::json!({"s": hex::encode(&e.subject), "d": B64.encode(&e.sealed)}))
            .collect();
        return serde_json::to_vec(&v).ok();
    }
    let mut out = Vec::with_capacity(
        1 + envs
            .iter()
            .map(|e| 5 + e.subject.len() + e.sealed.len())
            .sum::<usize>(),
    );
    out.push(ENVELOPES_V2);
    for e in envs {
        out.push(e.subject.len() as u8);
        out.extend_from_slice(&e.subject);
        out.extend_from_slice(&(e.sealed.len() as u32).to_le_bytes());
        out.extend_from_slice(&e.sealed);
    }
    Some(out)
}

/// Decodes stored envelopes, in either storage form.
pub fn decode_envelopes(bytes: &[u8]) -> Result<Vec<Envelope>, CryptoError> {
    match bytes.first() {
        Some(&ENVELOPES_V2) => {
            let mut c = Cursor(&bytes[1..]);
            let mut out = Vec::new();
            while !c.0.is_empty() {
                let n = c.u8()?;
                let subject = c.take(n)?.to_vec();
                let n = c.u32()?;
                let sealed = c.take(n)?.to_vec();
                out.push(Envelope {
                    subject,
                    sealed,
                    inner: Inner::Binary,
                });
            }
            Ok(out)
        }
        Some(b'[') => {
            let v: Vec<JsonEnvelope> =
                serde_json::from_slice(bytes).map_err(|_| CryptoError::Malformed)?;
            v.into_iter()
                .map(|e| {
                    Ok(Envelope {
                        subject: hex::decode(&e.s).map_err(|_| CryptoError::Malformed)?,
                        sealed: B64.decode(&e.d).map_err(|_| CryptoError::Malformed)?,
                        inner: Inner::Json,
                    })
                })
                .collect()
        }
        _ => Err(CryptoError::Malformed),
    }
}

/// Base64 of a salt.
pub fn salt_b64(salt: &[u8]) -> String {
    B64.encode(salt)
}

/// Decodes a base64 salt.
pub fn salt_bytes(s: &str) -> Option<Vec<u8>> {
    B64.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openings() -> Openings {
        let mut o = Openings::new();
        for (path, value) in [
            ("actor.email", "ada@example.com"),
            ("actor.ip_address", "203.0.113.9"),
        ] {
            o.insert(
                path.into(),
                Opening {
                    salt: salt_b64(&crypto::new_salt()),
                    value: value.into(),
                },
            );
        }
        o
    }

    #[test]
    fn binary_envelopes_round_trip_and_open() {
        let key = crypto::new_key();
        let o = openings();
        let a = seal_plaintext(&key, b"subject-a-16byte", &encode_openings(&o));
        let b = seal_plaintext(
            &key,
            b"subject-b-16byte",
            &encode_openings(&Openings::new()),
        );
        let stored = encode_envelopes(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(stored[0], ENVELOPES_V2);
        let back = decode_envelopes(&stored).unwrap();
        assert_eq!(back, vec![a, b]);
        assert_eq!(open_envelope(&key, &back[0]).unwrap(), o);
        assert!(open_envelope(&key, &back[1]).unwrap().is_empty());
        // Sealed under the pseudonym: another subject's envelope does not open.
        let mut swapped = back[0].clone();
        swapped.subject = b"subject-b-16byte".to_vec();
        assert!(open_envelope(&key, &swapped).is_err());
        assert_eq!(encode_envelopes(&[]), None);
    }

    #[test]
    fn json_envelopes_written_before_still_open_and_keep_their_form() {
        let key = crypto::new_key();
        let o = openings();
        let sref = b"subject-a-16byte";
        let sealed = crypto::seal(&key, sref, &serde_json::to_vec(&o).unwrap());
        let stored = serde_json::to_vec(&serde_json::json!([
            {"s": hex::encode(sref), "d": B64.encode(&sealed)}
        ]))
        .unwrap();
        let envs = decode_envelopes(&stored).unwrap();
        assert_eq!(envs[0].inner, Inner::Json);
        assert_eq!(open_envelope(&key, &envs[0]).unwrap(), o);
        // Re-encoding (as erasure does with the envelopes it keeps) keeps the
        // JSON form, so its JSON openings are read as JSON again.
        let again = encode_envelopes(&envs).unwrap();
        assert_eq!(again[0], b'[');
        assert_eq!(
            open_envelope(&key, &decode_envelopes(&again).unwrap()[0]).unwrap(),
            o
        );
    }

    #[test]
    fn damaged_bytes_are_refused_never_a_panic() {
        let key = crypto::new_key();
        let env = seal_plaintext(&key, b"subject-a-16byte", &encode_openings(&openings()));
        let stored = encode_envelopes(&[env]).unwrap();
        for n in 0..stored.len() {
            let _ = decode_envelopes(&stored[..n]);
        }
        assert!(decode_envelopes(&stored[..stored.len() - 1]).is_err());
        assert!(decode_envelopes(b"").is_err());
        assert!(decode_envelopes(b"{}").is_err());
        let plain = encode_openings(&openings());
        for n in 0..plain.len() {
            let _ = decode_openings(&plain[..n]);
        }
        assert!(decode_openings(&plain[..plain.len() - 1]).is_err());
        assert!(decode_openings(&[5, 0, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0, 0, 0, 0, 0]).is_err());
    }
}
