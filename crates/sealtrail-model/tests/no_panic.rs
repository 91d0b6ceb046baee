//! Malformed input must never panic: arbitrary JSON, and near-valid events
//! with arbitrary values spliced in, always yield `Ok` or a `FieldError`.

use proptest::prelude::*;
use sealtrail_model::{Catalog, Limits, Rule, is_inference_content_key, parse_activity};
use serde_json::{Map, Value, json};

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_]{0,12}",
        Just("type".to_owned()),
        Just("actor".to_owned()),
        Just("target".to_owned()),
        Just("changes".to_owned()),
        Just("metadata".to_owned()),
        Just("field".to_owned()),
        Just("id".to_owned()),
        Just("systemPrompt".to_owned()),
        ".{0,6}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
        Just(json!("2026-12-04T19:23:27.123Z")),
        Just(json!("user.login")),
    ];
    leaf.prop_recursive(12, 128, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn near_valid() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        Just("type"),
        Just("created_at"),
        Just("organization_id"),
        Just("workspace_id"),
        Just("product"),
        Just("actor"),
        Just("target"),
        Just("outcome"),
        Just("reason"),
        Just("changes"),
        Just("metadata"),
        Just("source_event_id"),
    ];
    let names: Vec<String> = Catalog::builtin().iter().map(|t| t.name.clone()).collect();
    (prop::sample::select(names), field, json_value()).prop_map(|(name, field, value)| {
        let mut ev = json!({
            "type": name,
            "created_at": "2026-12-04T19:23:27.123Z",
            "organization_id": "org_1",
            "actor": {"type": "user", "id": "user_1"},
            "target": {"type": "thing", "id": "t_1"},
            "changes": [{"field": "role", "old": "a", "new": "b"}],
            "metadata": {"tool_name": "x", "server": "y"},
        });
        ev[field] = value;
        ev
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_json_never_panics(v in json_value(), len in 0usize..40_000) {
        let catalog = Catalog::builtin();
        if let Err(e) = parse_activity(&v, len, &catalog, &Limits::default()) {
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn near_valid_events_never_panic(v in near_valid()) {
        let catalog = Catalog::builtin();
        let len = serde_json::to_vec(&v).map(|b| b.len()).unwrap_or(0);
        match parse_activity(&v, len, &catalog, &Limits::default()) {
            Ok(a) => {
                prop_assert!(catalog.get(&a.activity_type).is_some());
                prop_assert_eq!(a.created_at.subsec_nanosecond() % 1_000_000, 0);
            }
            Err(e) => prop_assert!(!e.message.is_empty()),
        }
    }

    #[test]
    fn arbitrary_keys_never_panic(k in "\\PC{0,40}") {
        let _ = is_inference_content_key(&k);
    }

    #[test]
    fn content_key_is_always_reported(v in near_valid(), depth in 0usize..6) {
        let mut nested = json!({"prompt": "secret"});
        for _ in 0..depth {
            nested = json!({"x": nested});
        }
        let mut v = v;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("metadata".into(), nested);
            let len = serde_json::to_vec(&v).map(|b| b.len()).unwrap_or(0);
            let err = parse_activity(&v, len, &Catalog::builtin(), &Limits::default()).unwrap_err();
            prop_assert_eq!(err.rule, Rule::InferenceContent);
        }
    }
}

#[test]
fn pathological_nesting_does_not_overflow_the_stack() {
    let mut v = json!("leaf");
    for _ in 0..20_000 {
        v = Value::Array(vec![v]);
    }
    let mut ev = json!({"type": "user.login", "metadata": {}});
    ev["metadata"]["deep"] = v;
    let err = parse_activity(&ev, 10, &Catalog::builtin(), &Limits::default()).unwrap_err();
    assert_eq!(err.rule, Rule::TooDeep);
    assert_eq!(err.field, "metadata.deep[0][0][0][0][0][0]");
    // Dropping such a value recurses inside serde_json, so drop it on a big stack.
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || drop(ev))
        .unwrap()
        .join()
        .unwrap();
}
