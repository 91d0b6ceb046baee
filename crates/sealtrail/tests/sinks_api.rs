//! Managing sinks over HTTP, and delivery that survives the server being
//! killed mid-delivery.

mod support;

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use support::http::{Reply, Req, serve};
use support::{Env, assert_in_order_at_least_once, call, ingest, setup_org, wait_for};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A webhook receiver that verifies signatures and records ids; `fail`
/// says whether to answer 503 instead.
async fn receiver(fail: Arc<Mutex<bool>>, delay: Duration) -> (String, Arc<Mutex<Vec<String>>>) {
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let g2 = got.clone();
    let key = B64.decode(SECRET.trim_start_matches("whsec_")).unwrap();
    let addr = serve(Arc::new(move |req: Req| {
        let id = req.header("webhook-id").unwrap_or_default();
        let ts = req.header("webhook-timestamp").unwrap_or_default();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        mac.update(format!("{id}.{ts}.").as_bytes());
        mac.update(&req.body);
        let want = format!("v1,{}", B64.encode(mac.finalize().into_bytes()));
        if req.header("webhook-signature") != Some(want.as_str()) {
            return Reply::json(401, json!({"error": "bad signature"}));
        }
        if *fail.lock().unwrap() {
            return Reply::json(503, json!({"error": "down"}));
        }
        let v: Value = serde_json::from_slice(&req.body).unwrap();
        let ids: Vec<String> = v["data"]["activities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect();
        g2.lock().unwrap().extend(ids);
        Reply::Slow(delay, Box::new(Reply::empty(200)))
    }))
    .await;
    (format!("http://{addr}/hook"), got)
}

fn webhook_sink(url: &str) -> Value {
    json!({
        "name": "soc webhook",
        "type": "webhook",
        "filter": "activity_types[]=file.downloaded",
        "batch_size": 10,
        "timeout_ms": 2000,
        "backoff": {"initial_ms": 50, "max_ms": 300},
        "destination": {"url": url},
        "secrets": {"secret": SECRET},
        "start_from": "beginning",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sinks_are_managed_over_the_api_with_secrets_hidden_and_changes_recorded() {
    let env = Env::start().await;
    let (url, got) = receiver(Arc::default(), Duration::ZERO).await;

    // The scope is required.
    let (_, reader) = call(
        &env.http,
        &env.base,
        Method::POST,
        "/v1/operator/keys",
        &env.op,
        Some(json!({"kind": "compliance", "organization_id": support::ORG, "scopes": ["read:activities"]})),
    )
    .await;
    let (s, _) = env
        .call(
            Method::GET,
            "/v1/compliance/sinks",
            reader["token"].as_str().unwrap(),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Bad settings are refused with the field named.
    let mut bad = webhook_sink(&url);
    bad["secrets"] = json!({"secret": "not-base64!"});
    let (s, v) = env
        .call(Method::POST, "/v1/compliance/sinks", &env.ck, Some(bad))
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("secrets.secret"))
    );
    let mut bad = webhook_sink(&url);
    bad["filter"] = json!("limit=5");
    let (s, v) = env
        .call(Method::POST, "/v1/compliance/sinks", &env.ck, Some(bad))
        .await;
    assert_eq!(
        (s, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("filter.limit"))
    );

    let (s, created) = env
        .call(
            Method::POST,
            "/v1/compliance/sinks",
            &env.ck,
            Some(webhook_sink(&url)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["secrets"], json!({"secret": {"set": true}}));
    let secret_b64 = SECRET.trim_start_matches("whsec_");

    let ids = ingest(&env.http, &env.base, &env.ik, 0, 30).await;
    wait_for(20, "first delivery", || got.lock().unwrap().len() >= 30).await;

    // Listing shows health and lag, never the secret.
    let resp = env
        .http
        .get(format!("{}/v1/compliance/sinks", env.base))
        .header("x-api-key", &env.ck)
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    assert!(!text.contains(secret_b64), "the secret leaked: {text}");
    let list: Value = serde_json::from_str(&text).unwrap();
    let view = &list["data"][0];
    assert_eq!(view["id"], id.as_str());
    for k in [
        "last_success_at",
        "last_error",
        "lag_events",
        "lag_seconds",
        "state",
    ] {
        assert!(view["health"].get(k).is_some(), "health lacks {k}: {view}");
    }
    // The receiver has the events before the sender has its answer: the
    // cursor follows a moment later.
    let mut cursor = view["cursor"]["after_id"].clone();
    for _ in 0..50 {
        if cursor == ids[29].as_str() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (_, v) = env
            .call(
                Method::GET,
                &format!("/v1/compliance/sinks/{id}"),
                &env.ck,
                None,
            )
            .await;
        cursor = v["cursor"]["after_id"].clone();
    }
    assert_eq!(cursor, ids[29].as_str());

    // Pause: nothing is delivered; the lag shows it.
    let (s, v) = env
        .call(
            Method::POST,
            &format!("/v1/compliance/sinks/{id}/pause"),
            &env.ck,
            None,
        )
        .await;
    assert_eq!(
        (s, v["health"]["state"].as_str()),
        (StatusCode::OK, Some("paused"))
    );
    let more = ingest(&env.http, &env.base, &env.ik, 30, 5).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(got.lock().unwrap().len(), 30);
    let (_, v) = env
        .call(
            Method::GET,
            &format!("/v1/compliance/sinks/{id}"),
            &env.ck,
            None,
        )
        .await;
    assert_eq!(v["health"]["lag_events"], 5, "{v}");

    // Resume: the rest arrives, in order.
    let (s, _) = env
        .call(
            Method::POST,
            &format!("/v1/compliance/sinks/{id}/resume"),
            &env.ck,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    wait_for(20, "delivery after resume", || {
        got.lock().unwrap().len() >= 35
    })
    .await;
    let all: Vec<String> = ids.iter().chain(more.iter()).cloned().collect();
    assert_eq!(*got.lock().unwrap(), all);

    // Replay from an id delivers again from that event on, same ids.
    let (s, _) = env
        .call(
            Method::POST,
            &format!("/v1/compliance/sinks/{id}/replay"),
            &env.ck,
            Some(json!({"from_id": ids[20]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    wait_for(20, "replay", || got.lock().unwrap().len() >= 50).await;
    assert_eq!(got.lock().unwrap()[35..], all[20..]);

    // Update: a secret can be rotated; it is still never shown.
    let (s, v) = env
        .call(
            Method::PATCH,
            &format!("/v1/compliance/sinks/{id}"),
            &env.ck,
            Some(json!({"name": "renamed", "batch_size": 5, "secrets": {"secret": SECRET}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["name"].as_str(), v["batch_size"].as_u64()),
        (Some("renamed"), Some(5))
    );
    assert!(!v.to_string().contains(secret_b64));

    let (s, _) = env
        .call(
            Method::DELETE,
            &format!("/v1/compliance/sinks/{id}"),
            &env.ck,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = env
        .call(
            Method::GET,
            &format!("/v1/compliance/sinks/{id}"),
            &env.ck,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Every change is in the log, attributed to the key that made it.
    let (_, feed) = env
        .call(
            Method::GET,
            "/v1/compliance/activities?activity_types[]=compliance.sink_changed&order=asc",
            &env.ck,
            None,
        )
        .await;
    let actions: Vec<&str> = feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["metadata"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "created", "paused", "resumed", "replayed", "updated", "deleted"
        ]
    );
    let e = &feed["data"][4];
    assert_eq!(e["target"]["id"], id.as_str());
    assert!(!e.to_string().contains(secret_b64));
    assert!(
        e["metadata"]["changed_fields"]
            .as_array()
            .unwrap()
            .contains(&json!("secrets.secret"))
    );
}

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_server(dir: &std::path::Path, storage: &str, port: u16, op: &str) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealtrail"));
    if !storage.is_empty() {
        cmd.env("SEALTRAIL_STORAGE", storage);
    }
    let child = cmd
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .env("SEALTRAIL_OPERATOR_KEY", op)
        .env("SEALTRAIL_RATE_LIMIT_PER_MINUTE", "100000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Server { child }
}

async fn wait_up(http: &Client, base: &str) {
    for _ in 0..200 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_in_order_after_failures_and_a_sigkill_mid_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let op = "opk_killtest.s3cr3t-operator-token";
    let base = format!("http://127.0.0.1:{port}");
    let http = Client::new();
    let failing = Arc::new(Mutex::new(true));
    // Each accepted batch takes a while, so the kill lands mid-delivery.
    let (url, got) = receiver(failing.clone(), Duration::from_millis(40)).await;

    let storage = sealtrail::testing::storage("sinks_api");
    let server = spawn_server(dir.path(), &storage, port, op);
    wait_up(&http, &base).await;
    let (ik, ck) = setup_org(&http, &base, op, support::ORG).await;
    let (s, v) = call(
        &http,
        &base,
        Method::POST,
        "/v1/compliance/sinks",
        &ck,
        Some(webhook_sink(&url)),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let sink_id = v["id"].as_str().unwrap().to_string();
    let expected = ingest(&http, &base, &ik, 0, 600).await;

    // The destination is down for a while: health says so, nothing is lost.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (_, v) = call(
        &http,
        &base,
        Method::GET,
        &format!("/v1/compliance/sinks/{sink_id}"),
        &ck,
        None,
    )
    .await;
    assert_eq!(v["health"]["state"], "failing", "{v}");
    assert!(
        v["health"]["last_error"].as_str().unwrap().contains("503"),
        "{v}"
    );
    assert_eq!(v["health"]["lag_events"], 600, "{v}");

    // It recovers; the server is killed while delivery is under way.
    *failing.lock().unwrap() = false;
    wait_for(30, "delivery to be under way", || {
        got.lock().unwrap().len() >= 100
    })
    .await;
    drop(server);
    let at_kill: HashSet<String> = got.lock().unwrap().iter().cloned().collect();
    assert!(at_kill.len() < 600, "the kill must land mid-delivery");

    // Restarted on the same data, it continues from the durable cursor.
    let _server = spawn_server(dir.path(), &storage, port, op);
    wait_up(&http, &base).await;
    wait_for(60, "every event after the restart", || {
        got.lock().unwrap().iter().collect::<HashSet<_>>().len() >= 600
    })
    .await;
    let got = got.lock().unwrap().clone();
    let repeats = assert_in_order_at_least_once(&expected, &got);
    // At most the batch in flight at the kill is repeated.
    assert!(repeats <= 10, "{repeats} repeats");
}

fn cli(base: &str, key: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sealtrail"))
        .args(args)
        .env("SEALTRAIL_URL", base)
        .env("SEALTRAIL_KEY", key)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_creates_lists_pauses_resumes_replays_and_deletes_sinks() {
    let env = Env::start().await;
    let (url, got) = receiver(Arc::default(), Duration::ZERO).await;
    ingest(&env.http, &env.base, &env.ik, 0, 3).await;
    let (base, ck) = (env.base.clone(), env.ck.clone());
    let run = move |args: Vec<String>| {
        let (base, ck) = (base.clone(), ck.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                cli(&base, &ck, &a)
            })
            .await
            .unwrap()
        }
    };
    let dest = json!({"url": url}).to_string();
    let (ok, out) = run([
        "sinks",
        "create",
        "--type",
        "webhook",
        "--name",
        "cli hook",
        "--destination",
        &dest,
        "--secret",
        &format!("secret={SECRET}"),
        "--filter",
        "activity_types[]=file.downloaded",
        "--start-from",
        "beginning",
    ]
    .map(String::from)
    .to_vec())
    .await;
    assert!(ok, "{out}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    wait_for(20, "delivery", || got.lock().unwrap().len() >= 3).await;
    let (ok, out) = run(vec!["sinks".into(), "list".into()]).await;
    assert!(ok && out.contains(&id) && out.contains("webhook"), "{out}");
    assert!(!out.contains(SECRET.trim_start_matches("whsec_")));
    for action in ["pause", "resume"] {
        let (ok, out) = run(vec!["sinks".into(), action.into(), id.clone()]).await;
        assert!(ok, "{action}: {out}");
    }
    let (ok, out) = run(vec![
        "sinks".into(),
        "replay".into(),
        id.clone(),
        "--from-beginning".into(),
    ])
    .await;
    assert!(ok, "{out}");
    wait_for(20, "replayed delivery", || got.lock().unwrap().len() >= 6).await;
    let (ok, out) = run(vec!["sinks".into(), "delete".into(), id.clone()]).await;
    assert!(ok && out.contains("\"deleted\": true"), "{out}");
}
