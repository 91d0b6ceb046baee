//! Everything about an event that does not depend on its place in the log,
//! computed before it reaches the sequencer.
//!
//! The sequencer is one thread, so whatever it does per event bounds ingest
//! throughput. Validation, the canonical encoding of every entry field,
//! salts and commitments, blind indexes and subject pseudonyms are computed
//! here, on the request's own thread; the sequencer only adds the id, the
//! sequence and the store time, seals the openings under the subject keys,
//! hashes and writes.

use std::collections::BTreeMap;

use sealtrail_model::{ActivityInput, TypeDef};
use serde_json::{Map, Value, json};

use super::entry::{ENTRY_VERSION, canonical_bytes};
use crate::privacy::crypto::{self, MasterKey};
use crate::privacy::split::{self, Opening, Openings};
use crate::storage::Org;
use crate::time::fmt_ms;

/// The openings of one subject, ready to seal.
#[derive(Clone, Debug)]
pub struct SubjectOpenings {
    /// The subject as sources name it (for key lookup).
    pub subject: String,
    /// Its keyed pseudonym in the event's organization.
    pub sref: Vec<u8>,
    /// The openings, encoded for sealing (`split::encode_openings`).
    pub plaintext: Vec<u8>,
}

/// An event with everything but its log position computed.
#[derive(Clone, Debug)]
pub struct PreparedEvent {
    /// Entry fields other than `id`, `received_at` and `seq`, each as
    /// `"key":value` canonical bytes, sorted by key.
    pub parts: Vec<(String, Vec<u8>)>,
    /// The entry's stored form, compressed here rather than on the writer
    /// (`storage::codec::encode_template`).
    pub stored: Option<Vec<u8>>,
    /// Personal data to seal, per subject.
    pub openings: Vec<SubjectOpenings>,
    /// Activity type.
    pub activity_type: String,
    /// Category name.
    pub category: &'static str,
    /// Product.
    pub product: Option<String>,
    /// Source clock, ms.
    pub created_ms: i64,
    /// Actor id.
    pub actor_id: Option<String>,
    /// Blind index of the actor's email.
    pub actor_email_bi: Option<Vec<u8>>,
    /// Blind index of the actor's IP address.
    pub ip_bi: Option<Vec<u8>>,
    /// API key the actor used.
    pub api_key_id: Option<String>,
    /// Target id.
    pub target_id: Option<String>,
    /// `success` or `failure`.
    pub outcome: &'static str,
    /// The source's idempotency id.
    pub source_event_id: Option<String>,
}

fn set_opt(m: &mut Map<String, Value>, k: &str, v: &Option<String>) {
    if let Some(v) = v {
        m.insert(k.to_string(), Value::String(v.clone()));
    }
}

/// Prepares an event of `org`, written for `product`; with `stored`, also
/// the entry's compressed stored form (for engines that compress).
pub fn prepare(
    input: &ActivityInput,
    def: &TypeDef,
    org: &Org,
    product: Option<&str>,
    master: &MasterKey,
    stored: bool,
) -> PreparedEvent {
    // Personal data: a fresh salt and a commitment per field, the openings
    // grouped by subject.
    let mut commitments: BTreeMap<String, String> = BTreeMap::new();
    let mut by_subject: Vec<(String, Openings)> = Vec::new();
    for f in split::personal_fields(input, def) {
        let salt = crypto::new_salt();
        commitments.insert(f.path.clone(), crypto::commitment(&salt, &f.value));
        let opening = Opening {
            salt: split::salt_b64(&salt),
            value: f.value,
        };
        match by_subject.iter_mut().find(|(s, _)| *s == f.subject) {
            Some((_, o)) => {
                o.insert(f.path, opening);
            }
            None => {
                let mut o = Openings::new();
                o.insert(f.path, opening);
                by_subject.push((f.subject, o));
            }
        }
    }
    let openings = by_subject
        .into_iter()
        .map(|(subject, o)| SubjectOpenings {
            sref: master.subject_ref(&org.id, &subject),
            plaintext: split::encode_openings(&o),
            subject,
        })
        .collect();

    let a = &input.actor;
    let mut actor = Map::new();
    actor.insert("type".into(), json!(a.actor_type.as_str()));
    set_opt(&mut actor, "id", &a.id);
    set_opt(&mut actor, "email", &a.email);
    set_opt(&mut actor, "name", &a.name);
    set_opt(&mut actor, "ip_address", &a.ip_address);
    set_opt(&mut actor, "user_agent", &a.user_agent);
    set_opt(&mut actor, "api_key_id", &a.api_key_id);
    set_opt(&mut actor, "on_behalf_of", &a.on_behalf_of);

    let product = product
        .map(str::to_string)
        .or_else(|| input.product.clone());
    let mut e: BTreeMap<String, Value> = BTreeMap::new();
    e.insert("v".into(), json!(ENTRY_VERSION));
    e.insert("organization_id".into(), json!(org.id));
    e.insert("type".into(), json!(input.activity_type));
    e.insert("category".into(), json!(input.category.as_str()));
    e.insert(
        "created_at".into(),
        json!(fmt_ms(input.created_at.as_millisecond())),
    );
    if let Some(p) = &product {
        e.insert("product".into(), json!(p));
    }
    if let Some(w) = &input.workspace_id {
        e.insert("workspace_id".into(), json!(w));
    }
    if let Some(s) = &input.source_event_id {
        e.insert("source_event_id".into(), json!(s));
    }
    let mut target = None;
    if let Some(t) = &input.target {
        let mut tm = Map::new();
        tm.insert("type".into(), json!(t.target_type));
        set_opt(&mut tm, "id", &t.id);
        set_opt(&mut tm, "name", &t.name);
        target = Some(tm);
    }
    let mut metadata = (!input.metadata.is_empty()).then(|| input.metadata.clone());
    for (path, c) in &commitments {
        let committed = json!({ "commitment": c });
        let (head, rest) = path.split_once('.').unwrap_or((path.as_str(), ""));
        let slot = match head {
            "actor" => Some(&mut actor),
            "target" => target.as_mut(),
            "metadata" => metadata.as_mut(),
            _ => None,
        };
        if let Some(m) = slot {
            m.insert(rest.to_string(), committed);
        }
    }
    e.insert("actor".into(), Value::Object(actor));
    if let Some(t) = target {
        e.insert("target".into(), Value::Object(t));
    }
    if let Some(m) = metadata {
        e.insert("metadata".into(), Value::Object(m));
    }
    e.insert("outcome".into(), json!(input.outcome.as_str()));
    if let Some(r) = &input.reason {
        e.insert("reason".into(), json!(r));
    }
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
    let parts: Vec<(String, Vec<u8>)> = e
        .into_iter()
        .map(|(k, v)| {
            let mut b = serde_json::to_vec(&k).unwrap_or_default();
            b.push(b':');
            b.extend_from_slice(&canonical_bytes(&v));
            (k, b)
        })
        .collect();

    let stored = if stored {
        crate::storage::codec::encode_template(&parts)
    } else {
        None
    };
    PreparedEvent {
        parts,
        stored,
        openings,
        activity_type: input.activity_type.clone(),
        category: input.category.as_str(),
        product,
        created_ms: input.created_at.as_millisecond(),
        actor_id: a.id.clone(),
        actor_email_bi: a
            .email
            .as_ref()
            .map(|e| master.blind_index(&org.id, "email", &e.to_lowercase())),
        ip_bi: a
            .ip_address
            .as_ref()
            .map(|ip| master.blind_index(&org.id, "ip", ip)),
        api_key_id: a.api_key_id.clone(),
        target_id: input.target.as_ref().and_then(|t| t.id.clone()),
        outcome: input.outcome.as_str(),
        source_event_id: input.source_event_id.clone(),
    }
}

/// Completes the canonical entry with the sequencer's fields: the parts
/// and the three added fields are merged in key order, so the bytes are
/// exactly those of the whole object serialized canonically.
pub fn finish_entry(parts: &[(String, Vec<u8>)], id: &str, received_ms: i64, seq: u64) -> Vec<u8> {
    let mut added: [(&str, Vec<u8>); 3] = [
        ("id", format!("\"id\":\"{id}\"").into_bytes()),
        (
            "received_at",
            format!("\"received_at\":\"{}\"", fmt_ms(received_ms)).into_bytes(),
        ),
        ("seq", format!("\"seq\":{seq}").into_bytes()),
    ];
    let len: usize = parts.iter().map(|(_, b)| b.len() + 1).sum::<usize>() + 80;
    let mut out = Vec::with_capacity(len);
    out.push(b'{');
    let mut first = true;
    let mut push = |out: &mut Vec<u8>, b: &[u8]| {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(b);
    };
    let mut i = 0;
    for (k, b) in parts {
        while i < added.len() && added[i].0 < k.as_str() {
            push(&mut out, &std::mem::take(&mut added[i].1));
            i += 1;
        }
        push(&mut out, b);
    }
    while i < added.len() {
        push(&mut out, &std::mem::take(&mut added[i].1));
        i += 1;
    }
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealtrail_model::{Catalog, Limits, parse_activity};

    #[test]
    fn the_spliced_entry_is_the_canonical_serialization_of_the_whole_event() {
        let catalog = Catalog::builtin();
        let raw = json!({
            "source_event_id": "s1", "type": "member.invited", "created_at": "2026-12-04T10:00:00Z",
            "organization_id": "org_a", "workspace_id": "wrk_1",
            "actor": {"type": "user", "id": "u1", "email": "a@example.com", "ip_address": "203.0.113.7"},
            "target": {"type": "user", "id": "u2", "name": "Bob"},
            "changes": [{"field": "role", "old": "member", "new": "admin"}],
            "metadata": {"email": "bob@example.com", "z": {"b": 1, "a": [true, null]}}
        });
        let input =
            parse_activity(&raw, raw.to_string().len(), &catalog, &Limits::default()).unwrap();
        let org = Org {
            key: 1,
            id: "org_a".into(),
            name: "A".into(),
            parent: None,
            tree: 1,
            enabled: true,
            logging_enabled_at: None,
            logging_disabled_at: None,
            created_ms: 0,
            retention_days: None,
        };
        let master = MasterKey::from_secret(&[9; 32]);
        let def = catalog.get("member.invited").unwrap();
        let p = prepare(&input, def, &org, Some("platform"), &master, true);
        let entry = finish_entry(&p.parts, "act_X", 1_796_412_207_123, 42);
        let v: Value = serde_json::from_slice(&entry).unwrap();
        assert_eq!(
            canonical_bytes(&v),
            entry,
            "keys sorted, compact, nothing lost"
        );
        assert_eq!(v["seq"], 42);
        assert_eq!(v["id"], "act_X");
        assert_eq!(v["received_at"], "2026-12-04T19:23:27.123Z");
        assert_eq!(v["product"], "platform");
        for path in [
            ("actor", "email"),
            ("actor", "ip_address"),
            ("target", "name"),
            ("metadata", "email"),
        ] {
            assert!(
                v[path.0][path.1]["commitment"].is_string(),
                "{path:?} committed"
            );
        }
        assert!(!String::from_utf8_lossy(&entry).contains("example.com"));
        assert_eq!(
            p.openings.len(),
            2,
            "actor and target are different subjects"
        );
    }
}
