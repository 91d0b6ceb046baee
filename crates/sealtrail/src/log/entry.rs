//! The canonical leaf entry of an event (format version 1).
//!
//! An entry is the event as a JSON object with keys sorted by their UTF-8
//! bytes at every level and no insignificant whitespace, in which each
//! personal field is replaced by `{"commitment": "<base64>"}`. The exact
//! bytes are stored and hashed as the Merkle leaf; `docs/INTEGRITY.md`
//! specifies them so a third party can recompute and check them.

use std::collections::BTreeMap;

use sealtrail_model::ActivityInput;
use serde_json::{Map, Value, json};

use crate::privacy::crypto;
use crate::privacy::split::Openings;
use crate::time::fmt_ms;

/// The entry format version written in field `v`.
pub const ENTRY_VERSION: u64 = 1;

/// What the sequencer adds to a source's event.
#[derive(Clone, Debug)]
pub struct EntryMeta<'a> {
    /// Server-assigned activity id.
    pub id: &'a str,
    /// Public organization id.
    pub organization_id: &'a str,
    /// Position in the organization's log.
    pub seq: u64,
    /// When it was stored (ms).
    pub received_ms: i64,
    /// The product, from the ingest key.
    pub product: Option<&'a str>,
}

fn set_opt(m: &mut Map<String, Value>, k: &str, v: &Option<String>) {
    if let Some(v) = v {
        m.insert(k.to_string(), Value::String(v.clone()));
    }
}

/// Sets a value at a dotted path of an entry object (the paths are the
/// fixed personal paths, at most two levels deep).
fn set_path(root: &mut Map<String, Value>, path: &str, v: Value) {
    let mut parts = path.splitn(2, '.');
    let (Some(head), Some(rest)) = (parts.next(), parts.next()) else {
        return;
    };
    if let Some(Value::Object(inner)) = root.get_mut(head) {
        inner.insert(rest.to_string(), v);
    }
}

fn get_path<'a>(root: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.splitn(2, '.');
    let (head, rest) = (parts.next()?, parts.next()?);
    root.get(head)?.as_object()?.get(rest)
}

/// Encodes the canonical entry. `commitments` maps each personal path to
/// its commitment; those values are left out of the entry.
pub fn encode(
    input: &ActivityInput,
    meta: &EntryMeta<'_>,
    commitments: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut actor = Map::new();
    actor.insert("type".into(), json!(input.actor.actor_type.as_str()));
    let a = &input.actor;
    set_opt(&mut actor, "id", &a.id);
    set_opt(&mut actor, "email", &a.email);
    set_opt(&mut actor, "name", &a.name);
    set_opt(&mut actor, "ip_address", &a.ip_address);
    set_opt(&mut actor, "user_agent", &a.user_agent);
    set_opt(&mut actor, "api_key_id", &a.api_key_id);
    set_opt(&mut actor, "on_behalf_of", &a.on_behalf_of);

    let mut e = Map::new();
    e.insert("v".into(), json!(ENTRY_VERSION));
    e.insert("id".into(), json!(meta.id));
    e.insert("organization_id".into(), json!(meta.organization_id));
    e.insert("seq".into(), json!(meta.seq));
    e.insert("type".into(), json!(input.activity_type));
    e.insert("category".into(), json!(input.category.as_str()));
    e.insert(
        "created_at".into(),
        json!(fmt_ms(input.created_at.as_millisecond())),
    );
    e.insert("received_at".into(), json!(fmt_ms(meta.received_ms)));
    if let Some(p) = meta
        .product
        .map(str::to_string)
        .or_else(|| input.product.clone())
    {
        e.insert("product".into(), json!(p));
    }
    set_opt(&mut e, "workspace_id", &input.workspace_id);
    set_opt(&mut e, "source_event_id", &input.source_event_id);
    e.insert("actor".into(), Value::Object(actor));
    if let Some(t) = &input.target {
        let mut tm = Map::new();
        tm.insert("type".into(), json!(t.target_type));
        set_opt(&mut tm, "id", &t.id);
        set_opt(&mut tm, "name", &t.name);
        e.insert("target".into(), Value::Object(tm));
    }
    e.insert("outcome".into(), json!(input.outcome.as_str()));
    set_opt(&mut e, "reason", &input.reason);
    if !input.changes.is_empty() {
        let changes: Vec<Value> = input
            .changes
            .iter()
            .map(|c| {
                let mut m = Map::new();
                m.insert("field".into(), json!(c.field));
                if let Some(o) = &c.old {
                    m.insert("old".into(), o.clone());
                }
                if let Some(n) = &c.new {
                    m.insert("new".into(), n.clone());
                }
                Value::Object(m)
            })
            .collect();
        e.insert("changes".into(), Value::Array(changes));
    }
    if !input.metadata.is_empty() {
        e.insert("metadata".into(), Value::Object(input.metadata.clone()));
    }
    for (path, c) in commitments {
        set_path(&mut e, path, json!({ "commitment": c }));
    }
    canonical_bytes(&Value::Object(e))
}

/// Serializes a JSON value with keys sorted at every level, compactly.
pub fn canonical_bytes(v: &Value) -> Vec<u8> {
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let sorted: BTreeMap<&String, Value> =
                    m.iter().map(|(k, v)| (k, sort(v))).collect();
                let mut out = Map::new();
                for (k, v) in sorted {
                    out.insert(k.clone(), v);
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_vec(&sort(v)).unwrap_or_default()
}

/// The personal paths an entry commits to, with their commitments.
pub fn commitments_in(entry: &Map<String, Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in entry {
        if let Value::Object(inner) = v {
            for (ik, iv) in inner {
                if let Some(c) = iv
                    .as_object()
                    .filter(|o| o.len() == 1)
                    .and_then(|o| o.get("commitment"))
                    .and_then(Value::as_str)
                {
                    out.push((format!("{k}.{ik}"), c.to_string()));
                }
            }
        }
    }
    out
}

/// The result of opening an entry for display.
#[derive(Debug)]
pub struct Rendered {
    /// The event as clients see it.
    pub event: Map<String, Value>,
    /// Personal paths whose value is no longer available.
    pub erased: Vec<String>,
}

/// Turns a stored entry back into the public event: commitments are
/// replaced by their values where an opening matches, or by `null` and
/// listed in `erased_fields` where the subject was erased.
pub fn render(entry: &[u8], openings: &Openings) -> Result<Rendered, String> {
    let Value::Object(mut e) = serde_json::from_slice::<Value>(entry)
        .map_err(|err| format!("entry is not JSON: {err}"))?
    else {
        return Err("entry is not a JSON object".into());
    };
    let mut erased = Vec::new();
    for (path, c) in commitments_in(&e) {
        let opened = openings.get(&path).and_then(|o| {
            let salt = crate::privacy::split::salt_bytes(&o.salt)?;
            (crypto::commitment(&salt, &o.value) == c).then(|| o.value.clone())
        });
        match opened {
            Some(v) => set_path(&mut e, &path, Value::String(v)),
            None => {
                set_path(&mut e, &path, Value::Null);
                erased.push(path);
            }
        }
    }
    e.remove("v");
    Ok(Rendered { event: e, erased })
}

/// Whether an entry has a value at a personal path (for tests and fsck).
pub fn has_path(entry: &Map<String, Value>, path: &str) -> bool {
    get_path(entry, path).is_some()
}
