use serde_json::{Map, Value, json};

use super::encoder::{pack, row};
use crate::delivery::Record;

fn record(gseq: u64, pad: usize) -> Record {
    let mut event = Map::new();
    event.insert("id".into(), json!(format!("act_{gseq}")));
    event.insert("created_at".into(), json!("2026-12-04T19:23:27.123Z"));
    event.insert("pad".into(), json!("x".repeat(pad)));
    Record {
        gseq,
        id: format!("act_{gseq}"),
        body: Value::Object(event.clone()),
        event,
    }
}

#[test]
fn rows_carry_time_generated() {
    let r = row(&record(1, 0));
    assert_eq!(r["TimeGenerated"], "2026-12-04T19:23:27.123Z");
    assert_eq!(r["id"], "act_1");
}

#[test]
fn calls_stay_under_one_megabyte() {
    let rs: Vec<Record> = (0..10).map(|i| record(i, 300_000)).collect();
    let (b, n) = pack(&rs).unwrap();
    assert!(b.len() <= 1024 * 1024);
    assert_eq!(n, 3);
    let v: Vec<Value> = serde_json::from_slice(&b).unwrap();
    assert_eq!(v.len(), 3);
    assert!(pack(&[record(1, 1_100_000)]).is_err());
}
