use std::io::Read as _;

use serde_json::{Map, Value, json};

use super::config::{MAX_ENTRIES, MAX_PAYLOAD_BYTES};
use super::encoder::{Tags, gzip, pack};
use crate::delivery::Record;

fn tags() -> Tags {
    Tags {
        ddsource: "sealtrail".into(),
        service: "sealtrail".into(),
        hostname: "h".into(),
        ddtags: Some("env:test".into()),
    }
}

fn record(gseq: u64, pad: usize) -> Record {
    let mut event = Map::new();
    event.insert("id".into(), json!(format!("act_{gseq}")));
    event.insert("pad".into(), json!("x".repeat(pad)));
    Record {
        gseq,
        id: format!("act_{gseq}"),
        body: Value::Object(event.clone()),
        event,
    }
}

#[test]
fn payloads_stop_at_a_thousand_entries() {
    let rs: Vec<Record> = (0..1500).map(|i| record(i, 10)).collect();
    let (json, n) = pack(&tags(), &rs).unwrap();
    assert_eq!(n, MAX_ENTRIES);
    let v: Vec<Value> = serde_json::from_slice(&json).unwrap();
    assert_eq!(v.len(), MAX_ENTRIES);
    assert_eq!(v[0]["ddtags"], "env:test");
    let inner: Value = serde_json::from_str(v[0]["message"].as_str().unwrap()).unwrap();
    assert_eq!(inner["id"], "act_0");
}

#[test]
fn payloads_stop_before_five_megabytes() {
    let rs: Vec<Record> = (0..20).map(|i| record(i, 400_000)).collect();
    let (json, n) = pack(&tags(), &rs).unwrap();
    assert!(json.len() <= MAX_PAYLOAD_BYTES, "{}", json.len());
    assert!((12..20).contains(&n), "{n}");
    let v: Vec<Value> = serde_json::from_slice(&json).unwrap();
    assert_eq!(v.len(), n);
}

#[test]
fn an_entry_over_a_megabyte_is_refused_with_its_id() {
    let e = pack(&tags(), &[record(7, 1_100_000)]).unwrap_err();
    assert!(e.contains("act_7"), "{e}");
}

#[test]
fn gzip_round_trips() {
    let z = gzip(b"[1,2,3]").unwrap();
    let mut out = String::new();
    flate2::read::GzDecoder::new(&z[..])
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "[1,2,3]");
}
