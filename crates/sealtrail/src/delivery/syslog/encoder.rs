//! RFC 5424 messages and RFC 6587 octet-counted frames.

use serde_json::Value;

use super::config::Format;
use super::{cef, leef};
use crate::delivery::Record;

/// The header fields every message of a sink shares.
#[derive(Clone, Debug)]
pub struct Header {
    /// Facility (0–23).
    pub facility: u8,
    /// `HOSTNAME`.
    pub hostname: String,
    /// `APP-NAME`.
    pub app_name: String,
    /// SD-ID of the structured data, or `None` for `-`.
    pub sd_id: Option<String>,
    /// The body format.
    pub format: Format,
    /// LEEF delimiter.
    pub leef_delimiter: char,
}

/// Severity: warning (4) for a failed action, notice (5) for Sealtrail's
/// own compliance events, informational (6) otherwise.
pub fn severity(r: &Record) -> u8 {
    if r.str_field("outcome") == Some("failure") {
        4
    } else if r.str_field("category") == Some("compliance") {
        5
    } else {
        6
    }
}

/// A header field: printable US-ASCII without spaces (RFC 5424 §6),
/// at most `max` characters; anything else becomes `_`, empty becomes `-`.
pub fn header_field(s: &str, max: usize) -> String {
    let out: String = s
        .chars()
        .map(|c| if ('!'..='~').contains(&c) { c } else { '_' })
        .take(max)
        .collect();
    if out.is_empty() { "-".into() } else { out }
}

/// An SD-PARAM value: `"`, `\` and `]` are escaped with a backslash
/// (RFC 5424 §6.3.3).
pub fn sd_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An SD-NAME (SD-ID or PARAM-NAME): printable ASCII except `=`, space,
/// `]` and `"`, at most 32 characters.
pub fn sd_name(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if ('!'..='~').contains(&c) && !matches!(c, '=' | ']' | '"') {
                c
            } else {
                '_'
            }
        })
        .take(32)
        .collect();
    if out.is_empty() { "_".into() } else { out }
}

/// The body of one message in the chosen format.
pub fn body(h: &Header, r: &Record, catalog: &sealtrail_model::Catalog) -> String {
    match h.format {
        Format::Json => r.body.to_string(),
        Format::Cef => cef::encode(r, severity(r), catalog),
        Format::Leef => leef::encode(r, h.leef_delimiter),
    }
}

/// One RFC 5424 message:
/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`, with the
/// time the event happened, the activity type as MSGID and the event's
/// identity in structured data.
pub fn message(h: &Header, r: &Record, catalog: &sealtrail_model::Catalog) -> String {
    let pri = u16::from(h.facility.min(23)) * 8 + u16::from(severity(r));
    let ts = crate::time::fmt_ms(r.created_ms());
    let msgid = header_field(r.str_field("type").unwrap_or("-"), 32);
    let sd = match &h.sd_id {
        Some(id) => {
            let seq = r
                .event
                .get("log")
                .and_then(|l| l.get("seq"))
                .and_then(Value::as_u64);
            let mut s = format!("[{} id=\"{}\"", sd_name(id), sd_value(&r.id));
            if let Some(o) = r.str_field("organization_id") {
                s.push_str(&format!(" org=\"{}\"", sd_value(o)));
            }
            if let Some(q) = seq {
                s.push_str(&format!(" seq=\"{q}\""));
            }
            s.push(']');
            s
        }
        None => "-".into(),
    };
    format!(
        "<{pri}>1 {ts} {} {} - {msgid} {sd} {}",
        header_field(&h.hostname, 255),
        header_field(&h.app_name, 48),
        body(h, r, catalog)
    )
}

/// Octet counting (RFC 6587 §3.4.1, RFC 5425 §4.3): `MSG-LEN SP MSG`, the
/// length in bytes, so a message may hold any byte, newlines included.
pub fn frame(msg: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(msg.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(msg.as_bytes());
}
