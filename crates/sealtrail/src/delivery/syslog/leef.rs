//! IBM QRadar LEEF 2.0 bodies.
//!
//! `LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|key=value…`. LEEF
//! defines no escape for attribute values, so Sealtrail writes a
//! backslash before `\` and before the delimiter, and line breaks as
//! `\n` / `\r`: a value can never end an attribute early or break the
//! line, and the original is recoverable. Header fields escape `\` and `|`.

use serde_json::Value;

use crate::delivery::Record;

/// Escapes a header field.
pub fn header(s: &str) -> String {
    super::cef::header(s)
}

/// Escapes an attribute value for a delimiter.
pub fn value(s: &str, delim: char) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == delim => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// How the delimiter is written in the header: the character itself when
/// printable, else its hex form (`x09` for a tab).
pub fn delimiter_field(delim: char) -> String {
    if delim.is_ascii_graphic() && delim != '|' && delim != '\\' {
        delim.to_string()
    } else {
        format!("x{:02X}", delim as u32)
    }
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str()
}

/// One event as LEEF 2.0, with QRadar's predefined keys where they fit
/// (`devTime` with its format, `cat`, `sev`, `usrName`, `src`) and
/// readable custom keys for the rest.
pub fn encode(r: &Record, delim: char) -> String {
    let ev = Value::Object(r.event.clone());
    let ty = s(&ev, &["type"]).unwrap_or("unknown");
    let sev = if s(&ev, &["outcome"]) == Some("failure") {
        "6"
    } else {
        "3"
    };
    let mut attrs: Vec<(&str, String)> = Vec::new();
    let mut put = |k: &'static str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            attrs.push((k, v.to_string()));
        }
    };
    put("devTime", s(&ev, &["created_at"]));
    put("devTimeFormat", Some("yyyy-MM-dd'T'HH:mm:ss.SSSX"));
    put("cat", s(&ev, &["category"]));
    put("sev", Some(sev));
    put(
        "usrName",
        s(&ev, &["actor", "email"]).or(s(&ev, &["actor", "id"])),
    );
    put("src", s(&ev, &["actor", "ip_address"]));
    put("activityId", Some(&r.id));
    put("activityType", Some(ty));
    put("organizationId", s(&ev, &["organization_id"]));
    put("product", s(&ev, &["product"]));
    put("actorType", s(&ev, &["actor", "type"]));
    put("actorId", s(&ev, &["actor", "id"]));
    put("userAgent", s(&ev, &["actor", "user_agent"]));
    put("targetType", s(&ev, &["target", "type"]));
    put("targetId", s(&ev, &["target", "id"]));
    put("targetName", s(&ev, &["target", "name"]));
    put("outcome", s(&ev, &["outcome"]));
    put("reason", s(&ev, &["reason"]));
    put("receivedAt", s(&ev, &["received_at"]));
    let seq = ev
        .get("log")
        .and_then(|l| l.get("seq"))
        .and_then(Value::as_u64)
        .map(|q| q.to_string());
    put("logSeq", seq.as_deref());
    let body: Vec<String> = attrs
        .iter()
        .map(|(k, v)| format!("{k}={}", value(v, delim)))
        .collect();
    format!(
        "LEEF:2.0|Sealtrail|Sealtrail|{}|{}|{}|{}",
        header(env!("CARGO_PKG_VERSION")),
        header(ty),
        delimiter_field(delim),
        body.join(&delim.to_string())
    )
}
