//! HEC event objects, concatenated.

use serde_json::{Map, Value, json};

use crate::delivery::Record;

/// The per-event metadata HEC accepts beside the event.
#[derive(Clone, Debug)]
pub struct Meta {
    /// `index`.
    pub index: Option<String>,
    /// `source`.
    pub source: String,
    /// `sourcetype`.
    pub sourcetype: String,
    /// `host`.
    pub host: String,
}

/// One HEC event: `time` in epoch seconds with milliseconds (when it
/// happened), the event, and the activity id as an indexed field so a
/// search can deduplicate on it.
pub fn event(meta: &Meta, r: &Record) -> Value {
    let mut o = Map::new();
    o.insert("time".into(), json!(r.created_ms() as f64 / 1000.0));
    o.insert("host".into(), json!(meta.host));
    o.insert("source".into(), json!(meta.source));
    o.insert("sourcetype".into(), json!(meta.sourcetype));
    if let Some(i) = &meta.index {
        o.insert("index".into(), json!(i));
    }
    o.insert("event".into(), r.body.clone());
    o.insert("fields".into(), json!({ "activity_id": r.id }));
    Value::Object(o)
}

/// The request body: event objects back to back, no array, no separator
/// but a newline (which HEC ignores between objects).
pub fn body(meta: &Meta, records: &[Record]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        if serde_json::to_writer(&mut out, &event(meta, r)).is_ok() {
            out.push(b'\n');
        }
    }
    out
}
