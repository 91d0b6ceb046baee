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
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Envelope {
    /// Hex pseudonym of the subject.
    pub s: String,
    /// Base64 of `nonce || ciphertext`.
    pub d: String,
}

/// Seals openings already serialized as JSON.
pub fn seal_plaintext(key: &SecretKey, subject_ref: &[u8], plaintext: &[u8]) -> Envelope {
    Envelope {
        s: hex::encode(subject_ref),
        d: B64.encode(crypto::seal(key, subject_ref, plaintext)),
    }
}

/// Opens an envelope.
pub fn open_envelope(key: &SecretKey, env: &Envelope) -> Result<Openings, CryptoError> {
    let subject = hex::decode(&env.s).map_err(|_| CryptoError::Malformed)?;
    let sealed = B64.decode(&env.d).map_err(|_| CryptoError::Malformed)?;
    let plain = crypto::open(key, &subject, &sealed)?;
    serde_json::from_slice(&plain).map_err(|_| CryptoError::Malformed)
}

/// Encodes the envelopes of an event for storage.
pub fn encode_envelopes(envs: &[Envelope]) -> Option<Vec<u8>> {
    if envs.is_empty() {
        None
    } else {
        serde_json::to_vec(envs).ok()
    }
}

/// Decodes stored envelopes.
pub fn decode_envelopes(bytes: &[u8]) -> Result<Vec<Envelope>, CryptoError> {
    serde_json::from_slice(bytes).map_err(|_| CryptoError::Malformed)
}

/// Base64 of a salt.
pub fn salt_b64(salt: &[u8]) -> String {
    B64.encode(salt)
}

/// Decodes a base64 salt.
pub fn salt_bytes(s: &str) -> Option<Vec<u8>> {
    B64.decode(s).ok()
}
