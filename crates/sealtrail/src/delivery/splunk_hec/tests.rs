use serde_json::{Map, Value, json};

use super::encoder::{Meta, body};
use crate::delivery::Record;

fn record(gseq: u64, id: &str) -> Record {
    let mut event = Map::new();
    event.insert("id".into(), json!(id));
    event.insert("created_at".into(), json!("2026-12-04T19:23:27.123Z"));
    Record {
        gseq,
        id: id.into(),
        body: Value::Object(event.clone()),
        event,
    }
}

#[test]
fn a_batch_is_concatenated_objects_not_an_array() {
    let meta = Meta {
        index: Some("audit".into()),
        source: "sealtrail".into(),
        sourcetype: "sealtrail:activity".into(),
        host: "h1".into(),
    };
    let b = body(&meta, &[record(1, "act_a"), record(2, "act_b")]);
    assert_ne!(b.first(), Some(&b'['));
    let objs: Vec<Value> = serde_json::Deserializer::from_slice(&b)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(objs.len(), 2);
    assert_eq!(objs[0]["event"]["id"], "act_a");
    assert_eq!(objs[1]["fields"]["activity_id"], "act_b");
    assert_eq!(objs[0]["index"], "audit");
    assert_eq!(objs[0]["time"], json!(1_796_412_207.123));
}
