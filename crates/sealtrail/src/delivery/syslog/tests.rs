use serde_json::{Map, Value, json};

use super::cef;
use super::config::Format;
use super::encoder::{Header, frame, header_field, message, sd_value};
use super::leef;
use crate::delivery::Record;

fn record() -> Record {
    let v = json!({
        "id": "act_1",
        "type": "api_key.created",
        "category": "admin",
        "created_at": "2026-12-04T19:23:27.123Z",
        "received_at": "2026-12-04T19:23:27.140Z",
        "organization_id": "org_a",
        "actor": {"type": "user", "id": "u|1", "email": "a=b@x.com", "ip_address": "203.0.113.7",
                  "user_agent": "back\\slash ^caret\nnewline"},
        "target": {"type": "api_key", "id": "key_1", "name": "ci|deploy=prod"},
        "outcome": "success",
        "log": {"seq": 12}
    });
    let Value::Object(event) = v else {
        unreachable!()
    };
    Record {
        gseq: 1,
        id: "act_1".into(),
        body: Value::Object(event.clone()),
        event,
    }
}

fn catalog() -> sealtrail_model::Catalog {
    sealtrail_model::Catalog::with_custom(vec![]).unwrap()
}

#[test]
fn cef_escapes_pipes_in_the_header_and_equals_in_extensions() {
    assert_eq!(cef::header(r"a|b\c"), r"a\|b\\c");
    assert_eq!(cef::value("a=b\\c\nd"), r"a\=b\\c\nd");
    let c = cef::encode(&record(), 6, &catalog());
    assert!(c.starts_with("CEF:0|Sealtrail|Sealtrail|"), "{c}");
    assert!(c.contains("|api_key.created|"), "{c}");
    assert!(c.contains(r"suser=a\=b@x.com"), "{c}");
    assert!(c.contains(r"cs5=ci|deploy\=prod"), "{c}");
    assert!(
        c.contains(r"requestClientApplication=back\\slash ^caret\nnewline"),
        "{c}"
    );
    assert!(!c.contains('\n'));
}

#[test]
fn leef_escapes_the_delimiter_and_keeps_one_line() {
    assert_eq!(leef::value("a^b\\c\nd", '^'), r"a\^b\\c\nd");
    assert_eq!(leef::delimiter_field('^'), "^");
    assert_eq!(leef::delimiter_field('\t'), "x09");
    let l = leef::encode(&record(), '^');
    assert!(l.starts_with("LEEF:2.0|Sealtrail|Sealtrail|"), "{l}");
    assert!(l.contains("|api_key.created|^|"), "{l}");
    assert!(l.contains(r"userAgent=back\\slash \^caret\nnewline"), "{l}");
    assert!(l.contains("^targetName=ci|deploy=prod^"), "{l}");
    assert!(!l.contains('\n'));
}

#[test]
fn messages_follow_rfc_5424_and_frames_count_bytes() {
    let h = Header {
        facility: 13,
        hostname: "host one".into(),
        app_name: "sealtrail".into(),
        sd_id: Some("sealtrail@32473".into()),
        format: Format::Json,
        leef_delimiter: '^',
    };
    let m = message(&h, &record(), &catalog());
    assert!(
        m.starts_with(
            "<110>1 2026-12-04T19:23:27.123Z host_one sealtrail - api_key.created [sealtrail@32473 id=\"act_1\" org=\"org_a\" seq=\"12\"] {"
        ),
        "{m}"
    );
    let mut out = Vec::new();
    frame("héllo", &mut out);
    assert_eq!(out, "6 héllo".as_bytes());
    assert_eq!(sd_value(r#"a"b]c\"#), r#"a\"b\]c\\"#);
    assert_eq!(header_field("", 10), "-");
    assert_eq!(header_field("abcdef", 3), "abc");
}

#[test]
fn failed_actions_are_warnings() {
    let mut r = record();
    r.event.insert("outcome".into(), json!("failure"));
    assert_eq!(super::encoder::severity(&r), 4);
    let _ = Map::<String, Value>::new();
}
