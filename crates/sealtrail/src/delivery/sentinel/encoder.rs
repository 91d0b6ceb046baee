//! Rows for the Logs Ingestion API.

use serde_json::{Value, json};

use super::config::MAX_CALL_BYTES;
use crate::delivery::Record;

/// One row: the event's fields with `TimeGenerated` (when it happened),
/// which every Log Analytics table needs; the rule's transformation maps
/// the rest to columns.
pub fn row(r: &Record) -> Value {
    let mut v = match &r.body {
        Value::Object(o) => Value::Object(o.clone()),
        other => json!({ "event": other }),
    };
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "TimeGenerated".into(),
            json!(crate::time::fmt_ms(r.created_ms())),
        );
    }
    v
}

/// Packs the longest prefix of `records` that fits one call. Returns the
/// JSON array and how many records it holds; `Err` names a record that
/// alone exceeds the limit.
pub fn pack(records: &[Record]) -> Result<(Vec<u8>, usize), String> {
    let mut out = vec![b'['];
    let mut n = 0;
    for r in records {
        let e = serde_json::to_vec(&row(r)).map_err(|e| e.to_string())?;
        if out.len() + e.len() + 2 > MAX_CALL_BYTES {
            if n == 0 {
                return Err(format!(
                    "event {} is {} bytes, over the 1 MB call limit",
                    r.id,
                    e.len()
                ));
            }
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
