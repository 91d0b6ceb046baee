//! Every activity type, read as OCSF, validates against the OCSF schema
//! with an independent validator (PyPI `pydantic-ocsf`, installed by the
//! test command).

use reqwest::Client;
use sealtrail::server::start;
use sealtrail_model::{Catalog, Category};
use serde_json::{Value, json};

fn event_of(def: &sealtrail_model::TypeDef, i: usize) -> Value {
    json!({
        "source_event_id": format!("ev-{i}"),
        "type": def.name,
        "created_at": "2026-12-04T10:00:00Z",
        "organization_id": "org_o",
        "workspace_id": "wrk_1",
        "actor": {"type": "user", "id": "user_1", "email": "ada@example.com", "name": "Ada",
                  "ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0", "api_key_id": "key_1"},
        "target": {"type": "user", "id": format!("user_{i}"), "name": "Grace"},
        "outcome": if i.is_multiple_of(4) { "failure" } else { "success" },
        "changes": [{"field": "role", "old": "member", "new": "admin"}],
        "metadata": {"tool_name": "search", "server": "mcp_docs", "email": "grace@example.com",
                     "username": "grace", "user_name": "grace", "display_name": "Grace", "permission": "files:read"}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_activity_type_validates_as_ocsf_with_a_third_party_validator() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(sealtrail::testing::config(dir.path(), "ocsf"))
        .await
        .unwrap();
    let base = format!("http://{}", running.addr);
    let op = running.app.bootstrap_operator_token.clone().unwrap();
    let http = Client::new();
    let post = |path: String, key: String, body: Value| {
        http.post(format!("{base}{path}"))
            .header("x-api-key", key)
            .json(&body)
            .send()
    };
    post(
        "/v1/operator/organizations".into(),
        op.clone(),
        json!({"id": "org_o", "name": "O"}),
    )
    .await
    .unwrap();
    post(
        "/v1/operator/organizations/org_o/enable".into(),
        op.clone(),
        json!({}),
    )
    .await
    .unwrap();
    let ik: Value = post(
        "/v1/operator/keys".into(),
        op.clone(),
        json!({"kind": "ingest", "organization_id": "org_o", "product": "platform"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let ck: Value = post(
        "/v1/operator/keys".into(),
        op.clone(),
        json!({"kind": "compliance", "organization_id": "org_o", "scopes": ["read:activities"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let catalog = Catalog::builtin();
    let batch: Vec<Value> = catalog
        .iter()
        .filter(|d| d.category != Category::Compliance)
        .enumerate()
        .map(|(i, d)| event_of(d, i))
        .collect();
    let n = batch.len();
    let r: Value = post(
        "/v1/ingest/activities".into(),
        ik["token"].as_str().unwrap().into(),
        Value::Array(batch),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(r["accepted"], n, "{r}");
    // Read once as JSON (to have compliance events too), then as OCSF.
    let _ = http
        .get(format!("{base}/v1/compliance/activities"))
        .header("x-api-key", ck["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    // The read's own record is written with the next group commit.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let page: Value = http
        .get(format!(
            "{base}/v1/compliance/activities?format=ocsf&limit=5000"
        ))
        .header("x-api-key", ck["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = page["data"].as_array().unwrap();
    assert!(data.len() > n, "source events plus Sealtrail's own");
    let types: std::collections::BTreeSet<&str> = data
        .iter()
        .map(|e| e["metadata"]["event_code"].as_str().unwrap())
        .collect();
    assert!(types.contains("compliance.enabled") && types.contains("compliance_api.accessed"));
    let file = dir.path().join("ocsf.jsonl");
    let lines: Vec<String> = data.iter().map(|e| e.to_string()).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ocsf/validate.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(&file)
        .output()
        .expect("python3 runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !report.contains("ModuleNotFoundError"),
        "the OCSF validator is not installed: run scripts/test.sh (it installs pydantic-ocsf) or `pip install pydantic-ocsf==3.0.0`\n{report}"
    );
    assert!(out.status.success(), "OCSF validation failed:\n{report}");
    assert!(
        report.contains(&format!("{} events checked, 0 invalid", data.len())),
        "{report}"
    );
}
