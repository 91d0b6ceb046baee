//! A webhook request: the body, its message id and its signature.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::delivery::Record;

/// The event type in the body, so one endpoint can serve several senders.
pub const BODY_TYPE: &str = "compliance.activities";

/// The body: `{"type": "compliance.activities", "data": {"activities": [...]}}`,
/// events in log order.
pub fn body(records: &[Record]) -> Vec<u8> {
    let activities: Vec<&Value> = records.iter().map(|r| &r.body).collect();
    serde_json::to_vec(&json!({ "type": BODY_TYPE, "data": { "activities": activities } }))
        .unwrap_or_default()
}

/// The `webhook-id`: the same for the same events, so a receiver can
/// deduplicate a retried request on it. One event: its activity id; a
/// batch: the first and last ids.
pub fn message_id(records: &[Record]) -> String {
    match (records.first(), records.last()) {
        (Some(a), Some(b)) if records.len() == 1 || a.id == b.id => format!("msg_{}", a.id),
        (Some(a), Some(b)) => format!("msg_{}_{}", a.id, b.id),
        _ => "msg_empty".into(),
    }
}

/// The `webhook-signature` value for one request.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length; this cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}
