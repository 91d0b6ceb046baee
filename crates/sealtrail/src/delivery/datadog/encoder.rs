//! Datadog log entries, packed into payloads within the intake's limits.

use std::io::Write as _;

use serde_json::{Value, json};

use super::config::{MAX_ENTRIES, MAX_ENTRY_BYTES, MAX_PAYLOAD_BYTES};
use crate::delivery::Record;

/// The attributes every entry carries.
#[derive(Clone, Debug)]
pub struct Tags {
    /// `ddsource`.
    pub ddsource: String,
    /// `service`.
    pub service: String,
    /// `hostname`.
    pub hostname: String,
    /// `ddtags`.
    pub ddtags: Option<String>,
}

/// One entry: the event as the JSON `message` (Datadog parses it into
/// attributes), with the activity id alongside for deduplication. No
/// `date` is set: the intake refuses old timestamps, and a replay must not
/// be dropped; the event keeps its own `created_at`.
pub fn entry(tags: &Tags, r: &Record) -> Value {
    let mut v = json!({
        "ddsource": tags.ddsource,
        "service": tags.service,
        "hostname": tags.hostname,
        "message": r.body.to_string(),
        "activity_id": r.id,
    });
    if let (Some(t), Some(o)) = (&tags.ddtags, v.as_object_mut()) {
        o.insert("ddtags".into(), json!(t));
    }
    v
}

/// Packs the longest prefix of `records` that fits one payload (at most
/// 1,000 entries and 5 MB as JSON). Returns the uncompressed JSON array and
/// how many records it holds; `Err` names a record too large to send.
pub fn pack(tags: &Tags, records: &[Record]) -> Result<(Vec<u8>, usize), String> {
    let mut out = Vec::with_capacity(4096);
    out.push(b'[');
    let mut n = 0;
    for r in records.iter().take(MAX_ENTRIES) {
        let e = serde_json::to_vec(&entry(tags, r)).map_err(|e| e.to_string())?;
        if e.len() > MAX_ENTRY_BYTES {
            if n == 0 {
                return Err(format!(
                    "event {} is {} bytes as a Datadog entry, over the 1 MB limit",
                    r.id,
                    e.len()
                ));
            }
            break;
        }
        // +1 for the comma, +1 for the closing bracket.
        if out.len() + e.len() + 2 > MAX_PAYLOAD_BYTES {
            break;
        }
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&e);
        n += 1;
    }
    out.push(b']');
    Ok((out, n))
}

/// Gzip-compresses a payload.
pub fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes)?;
    enc.finish()
}
