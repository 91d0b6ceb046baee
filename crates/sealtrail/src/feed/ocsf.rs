//! Activities as OCSF 1.8 events.
//!
//! Each catalog type names its OCSF class and activity; this module fills
//! the attributes every class requires (`metadata`, `time`, `severity_id`,
//! the class's own required objects) from the activity, and keeps what has
//! no OCSF home under `unmapped.sealtrail`. Erased or pruned personal data
//! is simply absent.

use sealtrail_model::Catalog;
use serde_json::{Map, Value, json};

/// The OCSF schema version events are written for.
pub const OCSF_VERSION: &str = "1.8.0";

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str()
}

fn ms_of(v: Option<&str>) -> Option<i64> {
    v.and_then(|t| crate::time::parse_rfc3339(t).ok())
}

/// The OCSF `user` object of the actor, if the actor names a person or key.
fn actor_user(e: &Value) -> Option<Value> {
    let mut u = Map::new();
    if let Some(id) = s(e, &["actor", "id"]) {
        u.insert("uid".into(), json!(id));
    }
    if let Some(email) = s(e, &["actor", "email"]) {
        u.insert("email_addr".into(), json!(email));
    }
    match s(e, &["actor", "name"]).or_else(|| s(e, &["actor", "email"])) {
        Some(n) => {
            u.insert("name".into(), json!(n));
        }
        None => {
            if let Some(id) = s(e, &["actor", "id"]) {
                u.insert("name".into(), json!(id));
            }
        }
    }
    if let Some(t) = s(e, &["actor", "type"]) {
        u.insert("type".into(), json!(t));
    }
    if let Some(k) = s(e, &["actor", "api_key_id"]) {
        u.insert("credential_uid".into(), json!(k));
    }
    (u.contains_key("uid") || u.contains_key("name")).then_some(Value::Object(u))
}

/// The OCSF `user` object of a person-like target, else of the actor.
fn subject_user(e: &Value) -> Value {
    let t = e.get("target");
    let person = t
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|ty| {
            matches!(
                ty,
                "user" | "member" | "account" | "service_account" | "scim_user"
            )
        });
    if person {
        let mut u = Map::new();
        if let Some(id) = s(e, &["target", "id"]) {
            u.insert("uid".into(), json!(id));
        }
        let name = s(e, &["target", "name"])
            .or_else(|| s(e, &["metadata", "email"]))
            .or_else(|| s(e, &["target", "id"]));
        if let Some(n) = name {
            u.insert("name".into(), json!(n));
        }
        if let Some(m) = s(e, &["metadata", "email"]) {
            u.insert("email_addr".into(), json!(m));
        }
        if !u.is_empty() {
            return Value::Object(u);
        }
    }
    actor_user(e)
        .unwrap_or_else(|| json!({ "name": s(e, &["actor", "type"]).unwrap_or("unknown") }))
}

fn entity(e: &Value) -> Value {
    let mut m = Map::new();
    if let Some(id) = s(e, &["target", "id"]) {
        m.insert("uid".into(), json!(id));
    }
    if let Some(n) = s(e, &["target", "name"]) {
        m.insert("name".into(), json!(n));
    }
    if let Some(t) = s(e, &["target", "type"]) {
        m.insert("type".into(), json!(t));
    }
    if !m.contains_key("uid") && !m.contains_key("name") {
        m.insert(
            "name".into(),
            json!(
                s(e, &["target", "type"])
                    .or_else(|| s(e, &["organization_id"]))
                    .unwrap_or("organization")
            ),
        );
    }
    Value::Object(m)
}

fn src_endpoint(e: &Value) -> Value {
    match s(e, &["actor", "ip_address"]) {
        Some(ip) => json!({ "ip": ip }),
        None => json!({ "svc_name": s(e, &["product"]).unwrap_or("unknown") }),
    }
}

/// Converts a rendered activity into an OCSF event.
pub fn to_ocsf(event: &Map<String, Value>, catalog: &Catalog) -> Value {
    let e = Value::Object(event.clone());
    let ty = s(&e, &["type"]).unwrap_or("");
    let def = catalog.get(ty);
    let (class_uid, activity_id) = def
        .map(|d| (d.ocsf.class_uid, d.ocsf.activity_id))
        .unwrap_or((6003, 99));
    let failed = s(&e, &["outcome"]) == Some("failure");
    let time = ms_of(s(&e, &["created_at"])).unwrap_or(0);
    let mut out = Map::new();
    out.insert("class_uid".into(), json!(class_uid));
    out.insert("category_uid".into(), json!(class_uid / 1000));
    out.insert("activity_id".into(), json!(activity_id));
    out.insert(
        "type_uid".into(),
        json!(u64::from(class_uid) * 100 + u64::from(activity_id)),
    );
    out.insert("severity_id".into(), json!(if failed { 3 } else { 1 }));
    out.insert("time".into(), json!(time));
    out.insert("status_id".into(), json!(if failed { 2 } else { 1 }));
    out.insert(
        "status".into(),
        json!(if failed { "Failure" } else { "Success" }),
    );
    if let Some(r) = s(&e, &["reason"]) {
        out.insert("status_detail".into(), json!(r));
    }
    out.insert(
        "message".into(),
        json!(
            def.map(|d| d.description.clone())
                .unwrap_or_else(|| ty.to_string())
        ),
    );
    let mut metadata = json!({
        "version": OCSF_VERSION,
        "product": { "name": "Sealtrail", "vendor_name": "Sealtrail", "version": env!("CARGO_PKG_VERSION") },
        "log_name": "activities",
        "event_code": ty,
    });
    if let Some(id) = s(&e, &["id"]) {
        metadata["uid"] = json!(id);
    }
    if let Some(org) = s(&e, &["organization_id"]) {
        metadata["tenant_uid"] = json!(org);
    }
    if let Some(t) = ms_of(s(&e, &["received_at"])) {
        metadata["logged_time"] = json!(t);
    }
    if let Some(t) = s(&e, &["created_at"]) {
        metadata["original_time"] = json!(t);
    }
    out.insert("metadata".into(), metadata);
    let mut actor = Map::new();
    match actor_user(&e) {
        Some(u) => {
            actor.insert("user".into(), u);
        }
        None => {
            actor.insert(
                "app_name".into(),
                json!(s(&e, &["product"]).unwrap_or("unknown")),
            );
        }
    }
    out.insert("actor".into(), Value::Object(actor));
    out.insert("src_endpoint".into(), src_endpoint(&e));
    if let Some(ua) = s(&e, &["actor", "user_agent"]) {
        out.insert("http_request".into(), json!({ "user_agent": ua }));
    }
    match class_uid {
        3001 | 3002 => {
            out.insert("user".into(), subject_user(&e));
        }
        3004 => {
            out.insert("entity".into(), entity(&e));
        }
        3005 => {
            out.insert("user".into(), subject_user(&e));
            let mut privileges: Vec<Value> = Vec::new();
            if let Some(Value::Array(changes)) = e.get("changes") {
                for c in changes {
                    if let Some(n) = c.get("new").and_then(Value::as_str) {
                        privileges.push(json!(n));
                    }
                }
            }
            for key in ["permission", "role", "scope"] {
                if let Some(v) = s(&e, &["metadata", key]) {
                    privileges.push(json!(v));
                }
            }
            if privileges.is_empty() {
                privileges.push(json!(ty));
            }
            out.insert("privileges".into(), Value::Array(privileges));
        }
        3006 => {
            let group = match s(&e, &["workspace_id"]) {
                Some(w) => json!({ "uid": w, "name": w }),
                None => {
                    json!({ "uid": s(&e, &["organization_id"]).unwrap_or(""), "name": s(&e, &["organization_id"]).unwrap_or("") })
                }
            };
            out.insert("group".into(), group);
            out.insert("user".into(), subject_user(&e));
        }
        6006 => {
            let name = s(&e, &["target", "name"])
                .or_else(|| s(&e, &["target", "id"]))
                .unwrap_or("unknown");
            let mut f = json!({ "name": name, "type_id": 1 });
            if let Some(id) = s(&e, &["target", "id"]) {
                f["uid"] = json!(id);
            }
            out.insert("file".into(), f);
        }
        _ => {
            let mut api = json!({ "operation": ty, "service": { "name": s(&e, &["product"]).unwrap_or("unknown") } });
            if let Some(id) = s(&e, &["id"]) {
                api["request"] = json!({ "uid": id });
            }
            out.insert("api".into(), api);
        }
    }
    let mut unmapped = Map::new();
    for k in [
        "target",
        "changes",
        "metadata",
        "workspace_id",
        "product",
        "log",
        "erased_fields",
        "pruned",
        "source_event_id",
    ] {
        if let Some(v) = event.get(k) {
            unmapped.insert(k.to_string(), v.clone());
        }
    }
    out.insert("unmapped".into(), json!({ "sealtrail": unmapped }));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_type_gets_its_class_and_required_objects() {
        let catalog = Catalog::builtin();
        for def in catalog.iter() {
            let e = json!({
                "id": "act_x", "type": def.name, "organization_id": "org_a", "created_at": "2026-12-04T19:23:27.123Z",
                "received_at": "2026-12-04T19:23:27.140Z", "product": "platform", "outcome": "success",
                "actor": {"type": "user", "id": "user_1", "email": "a@example.com", "ip_address": "203.0.113.7"},
                "target": {"type": "file", "id": "file_1", "name": "a.pdf"}
            });
            let o = to_ocsf(e.as_object().unwrap(), &catalog);
            assert_eq!(o["class_uid"], def.ocsf.class_uid, "{}", def.name);
            assert_eq!(
                o["type_uid"],
                def.ocsf.class_uid * 100 + def.ocsf.activity_id
            );
            assert_eq!(o["time"], 1_796_412_207_123i64);
            assert_eq!(o["metadata"]["version"], OCSF_VERSION);
            let required: &[&str] = match def.ocsf.class_uid {
                3001 | 3002 => &["user"],
                3004 => &["entity"],
                3005 => &["user", "privileges"],
                3006 => &["group", "user"],
                6003 => &["actor", "api", "src_endpoint"],
                6006 => &["actor", "file", "src_endpoint"],
                other => panic!("unmapped class {other}"),
            };
            for r in required {
                assert!(o.get(*r).is_some(), "{} lacks {r}", def.name);
            }
        }
    }
}
