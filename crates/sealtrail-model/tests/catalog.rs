use jiff::Timestamp;
use sealtrail_model::{
    Catalog, Category, CustomTypeConfig, Limits, MetadataSchema, OcsfMapping, PropertyType, Rule,
    parse_activity_at,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn now() -> Timestamp {
    "2026-12-04T20:00:00Z".parse().unwrap()
}

fn custom(name: &str) -> CustomTypeConfig {
    CustomTypeConfig {
        name: name.to_owned(),
        category: Category::Resource,
        description: None,
        required: vec![],
        personal_metadata: vec![],
        metadata_schema: None,
        ocsf: None,
    }
}

fn event(activity_type: &str, metadata: Value) -> Value {
    json!({
        "type": activity_type,
        "created_at": "2026-12-04T19:23:27.123Z",
        "organization_id": "org_1",
        "actor": {"type": "service_account", "id": "svc_1"},
        "target": {"type": "invoice", "id": "inv_1"},
        "metadata": metadata,
    })
}

#[test]
fn builtin_catalog_lists_every_spec_type() {
    let c = Catalog::builtin();
    let names: Vec<&str> = c.iter().map(|t| t.name.as_str()).collect();
    let expected = [
        "user.login",
        "user.login_failed",
        "user.logout",
        "session.revoked",
        "account.settings_updated",
        "organization.settings_updated",
        "workspace.created",
        "workspace.updated",
        "workspace.archived",
        "api_key.created",
        "api_key.updated",
        "api_key.rotated",
        "api_key.deleted",
        "admin_key.created",
        "admin_key.deleted",
        "member.invited",
        "member.added",
        "member.removed",
        "member.role_changed",
        "permission.granted",
        "permission.revoked",
        "sso.configured",
        "scim.user_created",
        "scim.user_deleted",
        "ip_allowlist.updated",
        "file.created",
        "file.downloaded",
        "file.deleted",
        "skill.created",
        "skill.updated",
        "skill.deleted",
        "project.created",
        "project.deleted",
        "mcp_server.added",
        "mcp_server.removed",
        "mcp_server.connected",
        "tool.invoked",
        "data.accessed",
        "compliance.enabled",
        "compliance.disabled",
        "compliance_api.accessed",
        "compliance.key_created",
        "compliance.key_revoked",
        "compliance.export_created",
        "compliance.subject_erased",
        "compliance.retention_changed",
        "compliance.retention_pruned",
        "compliance.legal_hold_set",
        "compliance.legal_hold_released",
        "compliance.sink_changed",
        "compliance.rule_changed",
        "compliance.review_attested",
    ];
    assert_eq!(names, expected);
    assert_eq!(c.len(), 52);
    assert!(!c.is_empty());
    let count = |cat: Category| c.iter().filter(|t| t.category == cat).count();
    assert_eq!(count(Category::Admin), 25);
    assert_eq!(count(Category::Resource), 8);
    assert_eq!(count(Category::Agent), 5);
    assert_eq!(count(Category::Compliance), 14);
    assert_eq!(Catalog::VERSION, "2026-12-01");
}

#[test]
fn ocsf_mappings_use_the_1_8_enums() {
    let c = Catalog::builtin();
    let uid = |n: &str| c.get(n).unwrap().ocsf.type_uid();
    assert_eq!(uid("user.login"), 300_201); // Authentication: Logon
    assert_eq!(uid("user.login_failed"), 300_201);
    assert_eq!(uid("user.logout"), 300_202); // Logoff
    assert_eq!(uid("scim.user_created"), 300_101); // Account Change: Create
    assert_eq!(uid("scim.user_deleted"), 300_106); // Account Change: Delete
    assert_eq!(uid("api_key.deleted"), 300_404); // Entity Management: Delete
    assert_eq!(uid("permission.revoked"), 300_502); // User Access: Revoke Privileges
    assert_eq!(uid("member.added"), 300_603); // Group Management: Add User
    assert_eq!(uid("member.removed"), 300_604); // Remove User
    assert_eq!(uid("skill.updated"), 600_303); // API Activity: Update
    assert_eq!(uid("file.created"), 600_601); // File Hosting: Upload
    assert_eq!(uid("file.downloaded"), 600_602); // Download
    assert_eq!(uid("file.deleted"), 600_604); // Delete
    let m = c.get("file.deleted").unwrap().ocsf;
    assert_eq!((m.class_uid, m.activity_id, m.category_uid), (6006, 4, 6));
}

#[test]
fn custom_type_registration_and_schema_enforcement() {
    let mut cfg = custom("acme.invoice.paid");
    cfg.description = Some("An invoice was paid.".into());
    cfg.required = vec!["target.id".into(), "metadata.amount".into()];
    cfg.personal_metadata = vec!["payer_email".into()];
    cfg.metadata_schema = Some(MetadataSchema {
        properties: BTreeMap::from([
            ("amount".to_owned(), PropertyType::Integer),
            ("currency".to_owned(), PropertyType::String),
            ("payer_email".to_owned(), PropertyType::String),
        ]),
        required: vec!["currency".into()],
        additional_properties: false,
    });
    let catalog = Catalog::with_custom(vec![cfg, custom("acme.invoice.voided")]).unwrap();
    assert_eq!(catalog.len(), 54);
    let def = catalog.get("acme.invoice.paid").unwrap();
    assert!(!def.builtin);
    assert_eq!(def.category, Category::Resource);
    assert_eq!(def.ocsf, OcsfMapping::new(6003, 99));
    assert_eq!(
        catalog.get("acme.invoice.voided").unwrap().description,
        "Custom activity type acme.invoice.voided."
    );
    assert_eq!(catalog.iter().last().unwrap().name, "acme.invoice.voided");

    let parse = |ev: &Value| parse_activity_at(ev, 100, &catalog, &Limits::default(), now());
    let ok = event(
        "acme.invoice.paid",
        json!({"amount": 1200, "currency": "EUR"}),
    );
    let a = parse(&ok).unwrap();
    assert_eq!(a.activity_type, "acme.invoice.paid");
    assert_eq!(a.category, Category::Resource);

    let err = parse(&event(
        "acme.invoice.paid",
        json!({"amount": 12.5, "currency": "EUR"}),
    ))
    .unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.rule),
        ("metadata.amount", Rule::Invalid)
    );
    assert!(err.message.contains("integer"));

    let err = parse(&event("acme.invoice.paid", json!({"amount": 1}))).unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.rule),
        ("metadata.currency", Rule::Required)
    );

    let err = parse(&event("acme.invoice.paid", json!({"currency": "EUR"}))).unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.rule),
        ("metadata.amount", Rule::Required)
    );

    let err = parse(&event(
        "acme.invoice.paid",
        json!({"amount": 1, "currency": "EUR", "note": "x"}),
    ))
    .unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.rule),
        ("metadata.note", Rule::Invalid)
    );

    // Custom types are still subject to the content rule.
    let err = parse(&event(
        "acme.invoice.voided",
        json!({"details": {"llm_output": "x"}}),
    ))
    .unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.rule),
        ("metadata.details.llm_output", Rule::InferenceContent)
    );
}

#[test]
fn custom_type_config_deserializes_from_operator_config() {
    let cfg: CustomTypeConfig = serde_json::from_value(json!({
        "name": "acme.report.generated",
        "category": "agent",
        "required": ["metadata.report_id"],
        "metadata_schema": {
            "properties": {"report_id": "string", "pages": "integer"},
            "additionalProperties": false
        },
        "ocsf": {"class_uid": 3004, "activity_id": 1}
    }))
    .unwrap();
    let schema = cfg.metadata_schema.as_ref().unwrap();
    assert!(!schema.additional_properties);
    assert_eq!(schema.properties["pages"], PropertyType::Integer);
    let catalog = Catalog::with_custom(vec![cfg]).unwrap();
    let def = catalog.get("acme.report.generated").unwrap();
    assert_eq!(def.ocsf, OcsfMapping::new(3004, 1));
    assert_eq!(def.ocsf.category_uid, 3);

    let schema: MetadataSchema = serde_json::from_value(json!({})).unwrap();
    assert!(schema.additional_properties);
    assert!(
        serde_json::from_value::<CustomTypeConfig>(json!({
            "name": "a.b.c", "category": "admin", "colour": "red"
        }))
        .is_err()
    );
}

#[test]
fn bad_custom_types_are_refused() {
    let bad_names = [
        "invoice.paid", // two segments: not namespaced
        "Acme.invoice.paid",
        "acme..paid",
        "acme.invoice.paid.",
        "acme.invoice-x.paid",
        "compliance.invoice.paid",
        "compliance_api.invoice.read",
        "api_key.extra.thing", // built-in namespace
        "user.login",
    ];
    for name in bad_names {
        let err = Catalog::with_custom(vec![custom(name)]).unwrap_err();
        assert!(err.contains(name), "{name}: {err}");
    }
    let long = format!("acme.{}.x", "a".repeat(130));
    assert!(Catalog::with_custom(vec![custom(&long)]).is_err());

    let mut c = custom("acme.audit.thing");
    c.category = Category::Compliance;
    assert!(
        Catalog::with_custom(vec![c])
            .unwrap_err()
            .contains("compliance")
    );

    let dup = Catalog::with_custom(vec![custom("acme.x.y"), custom("acme.x.y")]).unwrap_err();
    assert!(dup.contains("acme.x.y"));

    for path in [
        "id",
        "category",
        "log.seq",
        "actor.role",
        "target.id.x",
        "metadata",
        "metadata.prompt",
        "nope",
    ] {
        let mut c = custom("acme.x.y");
        c.required = vec![path.to_owned()];
        assert!(Catalog::with_custom(vec![c]).is_err(), "{path}");
    }

    let mut c = custom("acme.x.y");
    c.personal_metadata = vec!["user_prompt".into()];
    assert!(Catalog::with_custom(vec![c]).is_err());

    let mut c = custom("acme.x.y");
    c.metadata_schema = Some(MetadataSchema {
        properties: BTreeMap::from([("completion".to_owned(), PropertyType::String)]),
        required: vec![],
        additional_properties: true,
    });
    assert!(Catalog::with_custom(vec![c]).is_err());

    let mut c = custom("acme.x.y");
    c.metadata_schema = Some(MetadataSchema {
        properties: BTreeMap::new(),
        required: vec!["a".into()],
        additional_properties: false,
    });
    assert!(Catalog::with_custom(vec![c]).is_err());

    for (class_uid, activity_id, category_uid) in [(3004, 100, 0), (999, 1, 0), (3004, 1, 6)] {
        let mut c = custom("acme.x.y");
        c.ocsf = Some(OcsfMapping {
            class_uid,
            activity_id,
            category_uid,
        });
        assert!(
            Catalog::with_custom(vec![c]).is_err(),
            "{class_uid}/{activity_id}/{category_uid}"
        );
    }
}

#[test]
fn pattern_matching() {
    assert!(Catalog::matches_pattern("api_key.*", "api_key.created"));
    assert!(!Catalog::matches_pattern("api_key.*", "api_keys.x"));
    assert!(!Catalog::matches_pattern("api_key.*", "api_key"));
    assert!(!Catalog::matches_pattern("api_key.*", "admin_key.created"));
    assert!(Catalog::matches_pattern("*", "anything.at.all"));
    assert!(Catalog::matches_pattern("user.login", "user.login"));
    assert!(!Catalog::matches_pattern("user.login", "user.login_failed"));
    assert!(!Catalog::matches_pattern(
        "compliance.*",
        "compliance_api.accessed"
    ));
    assert!(Catalog::matches_pattern(
        "acme.invoice.*",
        "acme.invoice.paid"
    ));

    for ok in ["*", "api_key.*", "user.login", "acme.invoice.*", "user"] {
        assert!(Catalog::validate_pattern(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "api_key*",
        "*.created",
        "API_KEY.*",
        "a..b",
        "a.*.b",
        "a b",
        ".*",
        "a.**",
    ] {
        let err = Catalog::validate_pattern(bad).unwrap_err();
        assert!(!err.is_empty(), "{bad}");
    }
    assert!(Catalog::validate_pattern(&"a".repeat(129)).is_err());
}

/// CATALOG.md documents the built-in types; keep it in step with the code.
#[test]
fn catalog_markdown_matches_the_code() {
    let mut table = String::from(
        "| type | category | required | personal metadata | OCSF class | activity_id | type_uid |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for t in Catalog::builtin().iter() {
        let list = |v: &[String]| {
            if v.is_empty() {
                "—".to_owned()
            } else {
                v.iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        table.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} |\n",
            t.name,
            t.category,
            list(&t.required),
            list(&t.personal_metadata),
            t.ocsf.class_uid,
            t.ocsf.activity_id,
            t.ocsf.type_uid()
        ));
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/CATALOG.md");
    let doc = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        doc.contains(&table),
        "CATALOG.md is out of date; its table must be:\n{table}"
    );
}
