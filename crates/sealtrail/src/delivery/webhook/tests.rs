use serde_json::{Map, Value, json};

use super::config::Secrets;
use super::encoder::{body, message_id, sign};
use crate::delivery::Record;

fn record(gseq: u64, id: &str) -> Record {
    let mut event = Map::new();
    event.insert("id".into(), json!(id));
    Record {
        gseq,
        id: id.into(),
        body: Value::Object(event.clone()),
        event,
    }
}

#[test]
fn signatures_match_the_published_standard_webhooks_vector() {
    let s = Secrets {
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
    };
    let key = s.key().unwrap();
    assert_eq!(
        sign(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#
        ),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

#[test]
fn secrets_that_are_not_whsec_base64_are_refused() {
    for bad in ["whsec_***", "whsec_c2hvcnQ=", ""] {
        let s = Secrets { secret: bad.into() };
        assert_eq!(s.key().unwrap_err().0, "secrets.secret", "{bad}");
    }
}

#[test]
fn the_message_id_is_stable_for_the_same_events() {
    let a = [record(1, "act_a"), record(2, "act_b")];
    assert_eq!(message_id(&a), message_id(&a.clone()));
    assert_eq!(message_id(&a[..1]), "msg_act_a");
    assert_eq!(message_id(&a), "msg_act_a_act_b");
}

#[test]
fn the_body_lists_events_in_order() {
    let a = [record(1, "act_a"), record(2, "act_b")];
    let v: Value = serde_json::from_slice(&body(&a)).unwrap();
    assert_eq!(v["type"], "compliance.activities");
    assert_eq!(v["data"]["activities"][0]["id"], "act_a");
    assert_eq!(v["data"]["activities"][1]["id"], "act_b");
}
