use jiff::Timestamp;
use sealtrail_model::{
    ActorType, Catalog, Category, FieldError, Limits, Outcome, Rule, TypeDef, parse_activity,
    parse_activity_at,
};
use serde_json::{Value, json};

fn now() -> Timestamp {
    "2026-12-04T20:00:00Z".parse().unwrap()
}

fn base(activity_type: &str) -> Value {
    json!({
        "type": activity_type,
        "created_at": "2026-12-04T19:23:27.123Z",
        "organization_id": "org_1",
        "actor": {"type": "user", "id": "user_1"},
    })
}

/// The smallest event that satisfies a type's required paths.
fn minimal(def: &TypeDef) -> Value {
    let mut ev = base(&def.name);
    for path in &def.required {
        let parts: Vec<&str> = path.split('.').collect();
        match parts.as_slice() {
            ["target"] | ["target", _] => {
                ev["target"] = json!({"type": "thing", "id": "thing_1", "name": "n"});
            }
            ["actor", field] => ev["actor"][*field] = json!("user_1"),
            ["changes"] => {
                ev["changes"] = json!([{"field": "role", "old": "member", "new": "admin"}])
            }
            ["metadata", key] => {
                if ev.get("metadata").is_none() {
                    ev["metadata"] = json!({});
                }
                ev["metadata"][*key] = json!("x");
            }
            [field] => ev[*field] = json!("x"),
            _ => panic!("unexpected required path {path}"),
        }
    }
    ev
}

fn parse(ev: &Value) -> Result<sealtrail_model::ActivityInput, FieldError> {
    let len = serde_json::to_vec(ev).unwrap().len();
    parse_activity_at(ev, len, &Catalog::builtin(), &Limits::default(), now())
}

fn refused(ev: &Value) -> FieldError {
    parse(ev).unwrap_err()
}

#[test]
fn every_source_type_parses_with_a_minimal_event() {
    let catalog = Catalog::builtin();
    let mut parsed = 0;
    for def in catalog.iter() {
        let ev = minimal(def);
        if def.category == Category::Compliance {
            let err = refused(&ev);
            assert_eq!(err.rule, Rule::ReservedType, "{}", def.name);
            assert_eq!(err.field, "type");
            continue;
        }
        let a = parse(&ev).unwrap_or_else(|e| panic!("{}: {e}", def.name));
        assert_eq!(a.activity_type, def.name);
        assert_eq!(a.category, def.category);
        assert_eq!(a.organization_id, "org_1");
        assert_eq!(a.outcome, Outcome::Success);
        parsed += 1;
    }
    assert_eq!(parsed, 38);
}

#[test]
fn every_required_path_is_enforced_by_name() {
    for def in Catalog::builtin().iter() {
        if def.category == Category::Compliance {
            continue;
        }
        for path in &def.required {
            let mut ev = minimal(def);
            let parts: Vec<&str> = path.split('.').collect();
            match parts.as_slice() {
                [top] => {
                    ev.as_object_mut().unwrap().remove(*top);
                }
                [top, field] => {
                    ev[*top].as_object_mut().unwrap().remove(*field);
                }
                _ => unreachable!(),
            }
            let err = refused(&ev);
            assert_eq!(err.rule, Rule::Required, "{} {path}: {err}", def.name);
            assert_eq!(&err.field, path);
            assert!(err.message.contains(path.as_str()), "{}", err.message);
        }
    }
}

#[test]
fn full_event_round_trips_into_the_model() {
    let ev = json!({
        "source_event_id": "evt-42",
        "type": "api_key.created",
        "created_at": "2026-12-04T20:23:27.123456789+01:00",
        "organization_id": "org_1",
        "workspace_id": "wrk_1",
        "product": "platform",
        "actor": {
            "type": "user", "id": "user_1", "email": "a@x.com", "name": "Ada",
            "ip_address": "2001:DB8::1", "user_agent": "curl/8", "api_key_id": "key_0",
            "on_behalf_of": "user_2"
        },
        "target": {"type": "api_key", "id": "key_1", "name": "ci-deploy"},
        "outcome": "failure",
        "reason": "quota exceeded",
        "changes": [{"field": "scopes", "old": null, "new": ["files:read"]}],
        "metadata": {"scopes": ["files:read"], "input_tokens_limit": 10}
    });
    let a = parse(&ev).unwrap();
    assert_eq!(a.source_event_id.as_deref(), Some("evt-42"));
    assert_eq!(a.category, Category::Admin);
    assert_eq!(a.created_at.to_string(), "2026-12-04T19:23:27.123Z");
    assert_eq!(a.workspace_id.as_deref(), Some("wrk_1"));
    assert_eq!(a.product.as_deref(), Some("platform"));
    assert_eq!(a.actor.actor_type, ActorType::User);
    assert_eq!(a.actor.ip_address.as_deref(), Some("2001:db8::1"));
    assert_eq!(a.actor.on_behalf_of.as_deref(), Some("user_2"));
    let t = a.target.as_ref().unwrap();
    assert_eq!(
        (t.target_type.as_str(), t.id.as_deref()),
        ("api_key", Some("key_1"))
    );
    assert_eq!(a.outcome, Outcome::Failure);
    assert_eq!(a.reason.as_deref(), Some("quota exceeded"));
    assert_eq!(a.changes.len(), 1);
    assert_eq!(a.changes[0].old, None);
    assert_eq!(a.changes[0].new, Some(json!(["files:read"])));
    assert_eq!(a.metadata["scopes"], json!(["files:read"]));

    let out = serde_json::to_value(&a).unwrap();
    assert_eq!(out["type"], "api_key.created");
    assert_eq!(out["category"], "admin");
    assert_eq!(out["created_at"], "2026-12-04T19:23:27.123Z");
}

#[test]
fn inference_content_nested_in_metadata_is_refused_with_its_path() {
    let mut ev = base("file.created");
    ev["target"] = json!({"type": "file", "id": "file_1"});
    ev["metadata"] = json!({"a": {"b": {"prompt": "tell me a secret"}}});
    let err = refused(&ev);
    assert_eq!(err.field, "metadata.a.b.prompt");
    assert_eq!(err.rule, Rule::InferenceContent);
    assert_eq!(err.rule.as_str(), "inference_content");
    assert!(err.message.contains("metadata.a.b.prompt"));
}

#[test]
fn inference_content_in_changes_and_arrays_uses_index_paths() {
    let mut ev = base("workspace.updated");
    ev["target"] = json!({"type": "workspace", "id": "wrk_1"});
    ev["changes"] = json!([
        {"field": "name", "old": "a", "new": "b"},
        {"field": "limits", "old": null, "new": {"x": 1}},
        {"field": "tools", "old": [], "new": [{"name": "t"}, {"output": "hello"}]}
    ]);
    let err = refused(&ev);
    assert_eq!(err.rule, Rule::InferenceContent);
    assert_eq!(err.field, "changes[2].new[1].output");

    let mut ev = base("workspace.updated");
    ev["target"] = json!({"type": "workspace", "id": "wrk_1"});
    ev["changes"] = json!([{"field": "name"}, {"field": "system_prompt", "new": "be nice"}]);
    let err = refused(&ev);
    assert_eq!(err.rule, Rule::InferenceContent);
    assert_eq!(err.field, "changes[1].field");

    let mut ev = base("tool.invoked");
    ev["metadata"] =
        json!({"tool_name": "search", "server": "mcp_1", "calls": [[{"toolInput": {}}]]});
    let err = refused(&ev);
    assert_eq!(err.field, "metadata.calls[0][0].toolInput");
}

#[test]
fn inference_content_anywhere_wins_over_other_errors() {
    // Unknown type, too large and unknown top-level key, yet the content is what is reported.
    let ev = json!({"type": "nope", "messages": [], "actor": {"type": "user", "completion": "x"}});
    let err = parse_activity_at(&ev, 1 << 20, &Catalog::builtin(), &Limits::default(), now())
        .unwrap_err();
    assert_eq!(err.rule, Rule::InferenceContent);
    assert!(err.field == "messages" || err.field == "actor.completion");

    let ev = json!([{"response": 1}]);
    assert_eq!(refused(&ev).field, "[0].response");
    let mut ev = base("user.login");
    ev["actor"]["Content"] = json!("x");
    assert_eq!(refused(&ev).field, "actor.Content");
}

#[test]
fn too_long_strings_are_refused_with_path() {
    let mut ev = base("user.login");
    ev["metadata"] = json!({"list": ["ok", "x".repeat(1025)]});
    let err = refused(&ev);
    assert_eq!(
        (err.field.as_str(), err.rule),
        ("metadata.list[1]", Rule::TooLong)
    );
    assert_eq!(err.rule.as_str(), "too_long");

    // Exactly at the limit, counted in characters, not bytes.
    let mut ev = base("user.login");
    ev["reason"] = json!("é".repeat(1024));
    assert!(parse(&ev).is_ok());

    let mut ev = base("user.login");
    ev["metadata"] = json!({ "k".repeat(129): 1 });
    let err = refused(&ev);
    assert_eq!(err.rule, Rule::TooLong);
    assert_eq!(err.field, format!("metadata.{}", "k".repeat(129)));
}

#[test]
fn too_deep_nesting_is_refused() {
    let mut ev = base("user.login");
    // event(1) > metadata(2) > a(3) > ... > g(8): allowed.
    ev["metadata"] = json!({"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}});
    assert!(parse(&ev).is_ok());
    ev["metadata"] = json!({"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}});
    let err = refused(&ev);
    assert_eq!(err.rule, Rule::TooDeep);
    assert_eq!(err.field, "metadata.a.b.c.d.e.f.g");
    ev["metadata"] = json!({"a": [[[[[[[1]]]]]]]});
    let err = refused(&ev);
    assert_eq!(err.rule, Rule::TooDeep);
    assert_eq!(err.field, "metadata.a[0][0][0][0][0][0]");
}

#[test]
fn too_large_events_metadata_and_changes_are_refused() {
    let ev = base("user.login");
    let err =
        parse_activity_at(&ev, 16_385, &Catalog::builtin(), &Limits::default(), now()).unwrap_err();
    assert_eq!((err.field.as_str(), err.rule), ("", Rule::TooLarge));
    assert!(parse_activity_at(&ev, 16_384, &Catalog::builtin(), &Limits::default(), now()).is_ok());

    let mut ev = base("user.login");
    let md: serde_json::Map<String, Value> = (0..65).map(|i| (format!("k{i}"), json!(i))).collect();
    ev["metadata"] = Value::Object(md);
    let err = refused(&ev);
    assert_eq!((err.field.as_str(), err.rule), ("metadata", Rule::TooLarge));

    let mut ev = base("user.login");
    ev["changes"] = Value::Array((0..65).map(|i| json!({"field": format!("f{i}")})).collect());
    let err = refused(&ev);
    assert_eq!((err.field.as_str(), err.rule), ("changes", Rule::TooLarge));
}

#[test]
fn unknown_and_reserved_types_are_refused() {
    let err = refused(&base("api_key.exploded"));
    assert_eq!((err.field.as_str(), err.rule), ("type", Rule::UnknownType));
    assert_eq!(err.rule.as_str(), "unknown_type");
    assert!(err.message.contains("api_key.exploded"));

    for t in ["compliance.disabled", "compliance_api.accessed"] {
        let err = refused(&base(t));
        assert_eq!((err.field.as_str(), err.rule), ("type", Rule::ReservedType));
        assert_eq!(err.rule.as_str(), "reserved_type");
    }
}

#[test]
fn structural_errors_name_the_field() {
    let cases: Vec<(Value, &str, Rule)> = vec![
        (json!("hi"), "", Rule::Invalid),
        (
            json!({"created_at": "2026-12-04T19:23:27Z"}),
            "type",
            Rule::Required,
        ),
        (
            {
                let mut e = base("user.login");
                e["category"] = json!("admin");
                e
            },
            "category",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["id"] = json!("act_1");
                e
            },
            "id",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["received_at"] = json!("x");
                e
            },
            "received_at",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["log"] = json!({});
                e
            },
            "log",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["extra"] = json!(1);
                e
            },
            "extra",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e.as_object_mut().unwrap().remove("created_at");
                e
            },
            "created_at",
            Rule::Required,
        ),
        (
            {
                let mut e = base("user.login");
                e.as_object_mut().unwrap().remove("organization_id");
                e
            },
            "organization_id",
            Rule::Required,
        ),
        (
            {
                let mut e = base("user.login");
                e.as_object_mut().unwrap().remove("actor");
                e
            },
            "actor",
            Rule::Required,
        ),
        (
            {
                let mut e = base("user.login");
                e["actor"] = json!({"id": "u"});
                e
            },
            "actor.type",
            Rule::Required,
        ),
        (
            {
                let mut e = base("user.login");
                e["actor"]["type"] = json!("robot");
                e
            },
            "actor.type",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["actor"]["role"] = json!("x");
                e
            },
            "actor.role",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["actor"]["ip_address"] = json!("300.1.1.1");
                e
            },
            "actor.ip_address",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["actor"]["email"] = json!("a@b@c");
                e
            },
            "actor.email",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["actor"]["email"] = json!("a b@c");
                e
            },
            "actor.email",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["actor"]["id"] = json!(5);
                e
            },
            "actor.id",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["actor"]["api_key_id"] = json!("key 1");
                e
            },
            "actor.api_key_id",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["organization_id"] = json!("");
                e
            },
            "organization_id",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["organization_id"] = json!("o".repeat(129));
                e
            },
            "organization_id",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["workspace_id"] = json!("wrk#1");
                e
            },
            "workspace_id",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["source_event_id"] = json!("a b");
                e
            },
            "source_event_id",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["product"] = json!("Platform");
                e
            },
            "product",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["outcome"] = json!("ok");
                e
            },
            "outcome",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["reason"] = json!(1);
                e
            },
            "reason",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["target"] = json!({"id": "x"});
                e
            },
            "target.type",
            Rule::Required,
        ),
        (
            {
                let mut e = base("user.login");
                e["target"] = json!({"type": "Thing"});
                e
            },
            "target.type",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["target"] = json!({"type": "t", "owner": "x"});
                e
            },
            "target.owner",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["target"] = json!("key_1");
                e
            },
            "target",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["changes"] = json!({});
                e
            },
            "changes",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["changes"] = json!([1]);
                e
            },
            "changes[0]",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["changes"] = json!([{"old": 1}]);
                e
            },
            "changes[0].field",
            Rule::Required,
        ),
        (
            {
                let mut e = base("user.login");
                e["changes"] = json!([{"field": "a", "why": 1}]);
                e
            },
            "changes[0].why",
            Rule::Invalid,
        ),
        (
            {
                let mut e = base("user.login");
                e["metadata"] = json!([]);
                e
            },
            "metadata",
            Rule::Invalid,
        ),
    ];
    for (ev, field, rule) in cases {
        let err = refused(&ev);
        assert_eq!((err.field.as_str(), err.rule), (field, rule), "{ev}: {err}");
        assert!(!err.message.is_empty());
        assert!(
            field.is_empty() || err.message.contains(field),
            "message must name the field: {}",
            err.message
        );
        assert!(err.message.ends_with('.'), "{}", err.message);
        assert_eq!(err.to_string(), err.message);
    }
}

#[test]
fn optional_fields_may_be_null() {
    let mut ev = base("user.login");
    for k in [
        "workspace_id",
        "product",
        "source_event_id",
        "target",
        "outcome",
        "reason",
        "changes",
        "metadata",
    ] {
        ev[k] = Value::Null;
    }
    ev["actor"]["email"] = Value::Null;
    let a = parse(&ev).unwrap();
    assert_eq!(a.target, None);
    assert_eq!(a.outcome, Outcome::Success);
    assert!(a.changes.is_empty() && a.metadata.is_empty());
}

#[test]
fn created_at_is_normalized_to_utc_milliseconds() {
    let cases = [
        (
            "2026-12-04T21:23:27.123456789+02:00",
            "2026-12-04T19:23:27.123Z",
        ),
        ("2026-12-04T19:23:27Z", "2026-12-04T19:23:27Z"),
        ("2026-12-04t14:23:27.9999z", "2026-12-04T14:23:27.999Z"),
        ("2026-12-04T10:53:27.5-08:30", "2026-12-04T19:23:27.5Z"),
    ];
    for (input, expected) in cases {
        let mut ev = base("user.login");
        ev["created_at"] = json!(input);
        let a = parse(&ev).unwrap();
        assert_eq!(a.created_at.to_string(), expected, "{input}");
        assert_eq!(a.created_at.subsec_nanosecond() % 1_000_000, 0);
    }
    for bad in [
        "2026-12-04T19:23:27",
        "2026-12-04",
        "2026-13-04T19:23:27Z",
        "2026-12-04T25:23:27Z",
        "1733340207",
        "2026-12-04T19:23:27+05:30[Asia/Kolkata]",
    ] {
        let mut ev = base("user.login");
        ev["created_at"] = json!(bad);
        let err = refused(&ev);
        assert_eq!(
            (err.field.as_str(), err.rule),
            ("created_at", Rule::Invalid),
            "{bad}"
        );
    }
    let mut ev = base("user.login");
    ev["created_at"] = json!(1733340207);
    assert_eq!(refused(&ev).rule, Rule::Invalid);
}

#[test]
fn created_at_far_in_the_future_is_refused() {
    let mut ev = base("user.login");
    ev["created_at"] = json!("2026-12-05T19:59:59Z");
    assert!(parse(&ev).is_ok());
    ev["created_at"] = json!("2026-12-05T20:00:01Z");
    let err = refused(&ev);
    assert_eq!(
        (err.field.as_str(), err.rule),
        ("created_at", Rule::Invalid)
    );
    assert!(err.message.contains("24 hours"));
}

#[test]
fn parse_activity_uses_the_real_clock() {
    let ev = base("user.login");
    assert!(parse_activity(&ev, 10, &Catalog::builtin(), &Limits::default()).is_ok());
    let mut ev = base("user.login");
    ev["created_at"] = json!("2999-01-01T00:00:00Z");
    assert_eq!(
        parse_activity(&ev, 10, &Catalog::builtin(), &Limits::default())
            .unwrap_err()
            .rule,
        Rule::Invalid
    );
}

#[test]
fn tool_invoked_requires_string_tool_name_and_server() {
    let mut ev = base("tool.invoked");
    ev["actor"] = json!({"type": "agent", "id": "agent_1", "on_behalf_of": "user_1"});
    ev["metadata"] = json!({"tool_name": "web_search", "server": "mcp_search"});
    let a = parse(&ev).unwrap();
    assert_eq!(a.category, Category::Agent);
    ev["metadata"] = json!({"tool_name": "web_search"});
    let err = refused(&ev);
    assert_eq!(
        (err.field.as_str(), err.rule),
        ("metadata.server", Rule::Required)
    );
    ev["metadata"] = json!({"tool_name": 7, "server": "s"});
    let err = refused(&ev);
    assert_eq!(
        (err.field.as_str(), err.rule),
        ("metadata.tool_name", Rule::Invalid)
    );
}

#[test]
fn limits_are_configurable() {
    let limits = Limits {
        max_string_chars: 30,
        ..Limits::default()
    };
    let mut ev = base("user.login");
    ev["reason"] = json!("x".repeat(31));
    let err = parse_activity_at(&ev, 10, &Catalog::builtin(), &limits, now()).unwrap_err();
    assert_eq!((err.field.as_str(), err.rule), ("reason", Rule::TooLong));
    let limits: Limits = serde_json::from_value(json!({"max_depth": 3})).unwrap();
    assert_eq!(limits.max_depth, 3);
    assert_eq!(limits.max_event_bytes, 16_384);
}
