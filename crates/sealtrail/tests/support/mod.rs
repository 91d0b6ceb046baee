//! Helpers for the sink tests: a server with an organization and keys,
//! a minimal HTTP/1.1 server whose every reply (faults included) a test
//! decides, and the ordering checks every receiver shares.

#![allow(dead_code)]

pub mod http;

use std::time::Duration;

use reqwest::{Client, StatusCode};
use sealtrail::config::Config;
use sealtrail::server::{Running, start};
use serde_json::{Value, json};

/// A running server with one enabled organization.
pub struct Env {
    pub running: Running,
    pub http: Client,
    pub base: String,
    pub op: String,
    /// Ingest key.
    pub ik: String,
    /// Compliance key with every scope.
    pub ck: String,
    pub dir: tempfile::TempDir,
}

pub const ORG: &str = "org_sinks";

impl Env {
    pub async fn start() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config {
            checkpoint_interval_ms: 200,
            rate_limit_per_minute: 100_000,
            ..sealtrail::testing::config(dir.path(), "sinks")
        };
        let running = start(cfg).await.unwrap();
        let op = running.app.bootstrap_operator_token.clone().unwrap();
        let base = format!("http://{}", running.addr);
        let (ik, ck) = setup_org(&Client::new(), &base, &op, ORG).await;
        Env {
            running,
            http: Client::new(),
            base,
            op,
            ik,
            ck,
            dir,
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        call(&self.http, &self.base, method, path, key, body).await
    }
}

pub async fn call(
    http: &Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = http
        .request(method, format!("{base}{path}"))
        .header("x-api-key", key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let v = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, v)
}

/// Creates and enables an organization; returns an ingest key and a
/// compliance key with every scope.
pub async fn setup_org(http: &Client, base: &str, op: &str, id: &str) -> (String, String) {
    use reqwest::Method;
    let (s, v) = call(
        http,
        base,
        Method::POST,
        "/v1/operator/organizations",
        op,
        Some(json!({"id": id, "name": id})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _) = call(
        http,
        base,
        Method::POST,
        &format!("/v1/operator/organizations/{id}/enable"),
        op,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, ik) = call(
        http,
        base,
        Method::POST,
        "/v1/operator/keys",
        op,
        Some(json!({"kind": "ingest", "organization_id": id, "product": "platform"})),
    )
    .await;
    let scopes = ["read:activities", "read:integrity", "manage:sinks"];
    let (_, ck) = call(
        http,
        base,
        Method::POST,
        "/v1/operator/keys",
        op,
        Some(json!({"kind": "compliance", "organization_id": id, "scopes": scopes})),
    )
    .await;
    (
        ik["token"].as_str().unwrap().to_string(),
        ck["token"].as_str().unwrap().to_string(),
    )
}

/// A realistic event with characters that need escaping in every format.
pub fn event(i: usize) -> Value {
    json!({
        "source_event_id": format!("ev-{i}"),
        "type": "file.downloaded",
        "created_at": "2026-12-04T10:00:00Z",
        "organization_id": ORG,
        "actor": {"type": "user", "id": format!("user_{}", i % 7), "email": format!("u{}@example.com", i % 7),
                  "ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0 (X11; Linux) ^|=\\ \"q\""},
        "target": {"type": "file", "id": format!("file_{i}"), "name": format!("report|{i}=final ^v2.pdf")}
    })
}

/// Ingests `n` events starting at `from`; returns their ids in log order.
pub async fn ingest(http: &Client, base: &str, ik: &str, from: usize, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let events: Vec<Value> = (from..from + n).map(event).collect();
    for chunk in events.chunks(500) {
        let (s, v) = call(
            http,
            base,
            reqwest::Method::POST,
            "/v1/ingest/activities",
            ik,
            Some(Value::Array(chunk.to_vec())),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        for r in v["results"].as_array().unwrap() {
            ids.push(r["id"].as_str().unwrap().to_string());
        }
    }
    ids
}

/// Checks what a receiver accepted against the log: every event arrived;
/// each arrival is either the next new event or a repeat of one already
/// delivered (a resend after a failure, with the same id); nothing else
/// ever arrived. Returns how many repeats there were.
pub fn assert_in_order_at_least_once(expected: &[String], accepted: &[String]) -> usize {
    let pos: std::collections::HashMap<&str, usize> = expected
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut next = 0;
    let mut repeats = 0;
    for (k, id) in accepted.iter().enumerate() {
        let Some(&p) = pos.get(id.as_str()) else {
            panic!("arrival {k}: {id} is not an expected event");
        };
        if p == next {
            next += 1;
        } else if p < next {
            repeats += 1;
        } else {
            panic!(
                "arrival {k}: {id} (position {p}) overtook event {next} ({})",
                expected[next]
            );
        }
    }
    assert_eq!(
        next,
        expected.len(),
        "only {next} of {} events arrived",
        expected.len()
    );
    repeats
}

/// Waits until `f` holds, or fails after `secs`.
pub async fn wait_for(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !f() {
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
