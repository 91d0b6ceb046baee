use serde_json::{Map, Value, json};

use super::encoder::{ItemFailure, body, first_failure};
use crate::delivery::Record;

fn record(gseq: u64) -> Record {
    let mut event = Map::new();
    event.insert("id".into(), json!(format!("act_{gseq}")));
    event.insert("created_at".into(), json!("2026-12-04T19:23:27.123Z"));
    Record {
        gseq,
        id: format!("act_{gseq}"),
        body: Value::Object(event.clone()),
        event,
    }
}

#[test]
fn the_body_is_create_actions_and_documents_ending_in_a_newline() {
    let b = body("audit", &[record(1), record(2)]);
    assert_eq!(b.last(), Some(&b'\n'));
    let lines: Vec<Value> = std::str::from_utf8(&b)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[0],
        json!({"create": {"_index": "audit", "_id": "act_1"}})
    );
    assert_eq!(lines[1]["@timestamp"], "2026-12-04T19:23:27.123Z");
    assert_eq!(lines[3]["id"], "act_2");
}

#[test]
fn conflicts_count_as_stored_and_the_first_real_failure_is_named() {
    let resp = json!({"errors": true, "items": [
        {"create": {"status": 201}},
        {"create": {"status": 409, "error": {"type": "version_conflict_engine_exception", "reason": "exists"}}},
        {"create": {"status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "queue full"}}},
        {"create": {"status": 201}},
    ]});
    assert_eq!(
        first_failure(&resp, 4).unwrap(),
        Some(ItemFailure {
            index: 2,
            status: 429,
            reason: "es_rejected_execution_exception: queue full".into()
        })
    );
    let ok = json!({"errors": false, "items": [{"create": {"status": 201}}]});
    assert_eq!(first_failure(&ok, 1).unwrap(), None);
    assert!(first_failure(&ok, 2).is_err());
}
