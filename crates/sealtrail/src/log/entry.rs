//! The canonical leaf entry of an event (format version 1).
//!
//! An entry is the event as a JSON object with keys sorted by their UTF-8
//! bytes at every level and no insignificant whitespace, in which each
//! personal field is replaced by `{"commitment": "<base64>"}`. The exact
//! bytes are stored and hashed as the Merkle leaf; `docs/INTEGRITY.md`
//! specifies them so a third party can recompute and check them.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::privacy::crypto;
use crate::privacy::split::Openings;

/// The entry format version written in field `v`.
pub const ENTRY_VERSION: u64 = 1;

/// Sets a value at a dotted personal path (`actor.email`): those paths are
/// at most two levels deep.
fn set_path(root: &mut Map<String, Value>, path: &str, v: Value) {
    let Some((head, rest)) = path.split_once('.') else {
        return;
    };
    if let Some(Value::Object(inner)) = root.get_mut(head) {
        inner.insert(rest.to_string(), v);
    }
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
