//! `_bulk` request bodies and reading their per-item results.

use serde_json::{Value, json};

use crate::delivery::Record;

/// The NDJSON body: for each event a `create` action naming the index and
/// `_id` (the activity id), then the document with `@timestamp` set to when
/// it happened. Ends with a newline, as `_bulk` requires.
pub fn body(index: &str, records: &[Record]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        let action = json!({ "create": { "_index": index, "_id": r.id } });
        let mut doc = r.body.clone();
        if let (Some(o), Some(t)) = (doc.as_object_mut(), r.str_field("created_at")) {
            o.insert("@timestamp".into(), json!(t));
        }
        if serde_json::to_writer(&mut out, &action).is_ok() {
            out.push(b'\n');
        }
        if serde_json::to_writer(&mut out, &doc).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

/// The first item the cluster did not store, from a `_bulk` response.
#[derive(Debug, PartialEq)]
pub struct ItemFailure {
    /// Its position in the request.
    pub index: usize,
    /// Its HTTP status.
    pub status: u16,
    /// The error type and reason, as one line.
    pub reason: String,
}

/// Reads a `_bulk` response for `sent` items: `Ok(None)` when every item
/// was stored (201) or already there (409, from an earlier attempt),
/// else the first failure. `Err` when the response does not account for
/// every item.
pub fn first_failure(resp: &Value, sent: usize) -> Result<Option<ItemFailure>, String> {
    let items = resp["items"]
        .as_array()
        .ok_or("the _bulk response has no items")?;
    if items.len() != sent {
        return Err(format!(
            "the _bulk response lists {} items for {sent} sent",
            items.len()
        ));
    }
    for (i, item) in items.iter().enumerate() {
        let r = item
            .get("create")
            .or_else(|| item.as_object().and_then(|o| o.values().next()))
            .ok_or("a _bulk item has no result")?;
        let status = r["status"].as_u64().unwrap_or(0) as u16;
        if (200..300).contains(&status) || status == 409 {
            continue;
        }
        let e = &r["error"];
        let reason = format!(
            "{}: {}",
            e["type"].as_str().unwrap_or("error"),
            e["reason"].as_str().unwrap_or("no reason given")
        );
        return Ok(Some(ItemFailure {
            index: i,
            status,
            reason,
        }));
    }
    Ok(None)
}
