//! ArcSight Common Event Format bodies.
//!
//! `CEF:0|Vendor|Product|Version|Signature ID|Name|Severity|Extension`.
//! In header fields `\` and `|` are escaped with a backslash; in extension
//! values `\` and `=` are, and line breaks are written as `\n` / `\r`, so a
//! message is always one line.

use serde_json::Value;

use crate::delivery::Record;

/// Escapes a header field.
pub fn header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an extension value.
pub fn value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str()
}

/// The CEF severity (0–10) for a syslog severity.
fn cef_severity(syslog_severity: u8) -> u8 {
    match syslog_severity {
        4 => 6,
        5 => 4,
        _ => 3,
    }
}

/// One event as CEF. Standard keys where CEF has them (`rt`, `end`, `act`,
/// `cat`, `outcome`, `suid`, `suser`, `src`, `requestClientApplication`,
/// `externalId`, `reason`, `msg`), labelled custom strings for the rest.
pub fn encode(r: &Record, syslog_severity: u8, catalog: &sealtrail_model::Catalog) -> String {
    let ev = Value::Object(r.event.clone());
    let ty = s(&ev, &["type"]).unwrap_or("unknown");
    let name = catalog
        .get(ty)
        .map(|d| d.description.clone())
        .unwrap_or_else(|| ty.to_string());
    let mut ext: Vec<(&str, String)> = Vec::new();
    let mut put = |k: &'static str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            ext.push((k, v));
        }
    };
    let ms = |field: &str| {
        s(&ev, &[field])
            .and_then(|t| crate::time::parse_rfc3339(t).ok())
            .map(|m| m.to_string())
    };
    put("rt", ms("received_at"));
    put("end", ms("created_at"));
    put("externalId", Some(r.id.clone()));
    put("act", Some(ty.to_string()));
    put("cat", s(&ev, &["category"]).map(str::to_string));
    put("outcome", s(&ev, &["outcome"]).map(str::to_string));
    put("reason", s(&ev, &["reason"]).map(str::to_string));
    put("suid", s(&ev, &["actor", "id"]).map(str::to_string));
    put("suser", s(&ev, &["actor", "email"]).map(str::to_string));
    match s(&ev, &["actor", "ip_address"]).map(|ip| (ip, ip.parse::<std::net::IpAddr>())) {
        Some((ip, Ok(std::net::IpAddr::V4(_)))) => put("src", Some(ip.to_string())),
        Some((ip, Ok(std::net::IpAddr::V6(_)))) => {
            put("c6a2", Some(ip.to_string()));
            put("c6a2Label", Some("actor_ip_address".into()));
        }
        _ => {}
    }
    put(
        "requestClientApplication",
        s(&ev, &["actor", "user_agent"]).map(str::to_string),
    );
    let customs: [(&str, &str, Option<&str>); 6] = [
        ("cs1", "organization_id", s(&ev, &["organization_id"])),
        ("cs2", "actor_type", s(&ev, &["actor", "type"])),
        ("cs3", "target_type", s(&ev, &["target", "type"])),
        ("cs4", "target_id", s(&ev, &["target", "id"])),
        ("cs5", "target_name", s(&ev, &["target", "name"])),
        ("cs6", "product", s(&ev, &["product"])),
    ];
    for (k, label, v) in customs {
        if let Some(v) = v {
            ext.push((k, v.to_string()));
            ext.push((label_key(k), label.to_string()));
        }
    }
    if let Some(seq) = ev
        .get("log")
        .and_then(|l| l.get("seq"))
        .and_then(Value::as_u64)
    {
        ext.push(("cn1", seq.to_string()));
        ext.push(("cn1Label", "log_seq".into()));
    }
    if let Some(c) = ev.get("changes").filter(|c| !c.is_null()) {
        ext.push(("msg", format!("changes={c}")));
    }
    let extension: Vec<String> = ext
        .iter()
        .map(|(k, v)| format!("{k}={}", value(v)))
        .collect();
    format!(
        "CEF:0|Sealtrail|Sealtrail|{}|{}|{}|{}|{}",
        header(env!("CARGO_PKG_VERSION")),
        header(ty),
        header(&name),
        cef_severity(syslog_severity),
        extension.join(" ")
    )
}

fn label_key(k: &str) -> &'static str {
    match k {
        "cs1" => "cs1Label",
        "cs2" => "cs2Label",
        "cs3" => "cs3Label",
        "cs4" => "cs4Label",
        "cs5" => "cs5Label",
        _ => "cs6Label",
    }
}
