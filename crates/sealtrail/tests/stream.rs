//! Real-time promises: the stream delivers every matching event in log
//! order, and a client that reconnects with `Last-Event-ID` resumes with no
//! gap and no duplicate.

use std::time::Duration;

use reqwest::{Client, StatusCode};
use sealtrail::config::Config;
use sealtrail::server::start;
use serde_json::{Value, json};

struct Sse {
    resp: reqwest::Response,
    buf: String,
}

#[derive(Debug)]
struct Msg {
    id: Option<String>,
    event: Option<String>,
    data: String,
}

impl Sse {
    async fn next(&mut self) -> Option<Msg> {
        loop {
            if let Some(pos) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..pos + 2).collect();
                let mut m = Msg {
                    id: None,
                    event: None,
                    data: String::new(),
                };
                let mut comment = true;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        m.id = Some(v.trim().to_string());
                        comment = false;
                    } else if let Some(v) = line.strip_prefix("event:") {
                        m.event = Some(v.trim().to_string());
                        comment = false;
                    } else if let Some(v) = line.strip_prefix("data:") {
                        m.data.push_str(v.trim_start());
                        comment = false;
                    }
                }
                if comment {
                    continue;
                }
                return Some(m);
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.resp.chunk())
                .await
                .ok()?
                .ok()??;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

async fn setup() -> (
    sealtrail::server::Running,
    String,
    String,
    String,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let running = start(Config {
        rate_limit_per_minute: 100_000,
        ..sealtrail::testing::config(dir.path(), "stream")
    })
    .await
    .unwrap();
    let base = format!("http://{}", running.addr);
    let op = running.app.bootstrap_operator_token.clone().unwrap();
    let http = Client::new();
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .header("x-api-key", &op)
            .json(&body)
            .send()
    };
    post(
        "/v1/operator/organizations",
        json!({"id": "org_s", "name": "S"}),
    )
    .await
    .unwrap();
    post("/v1/operator/organizations/org_s/enable", json!({}))
        .await
        .unwrap();
    let ik: Value = post(
        "/v1/operator/keys",
        json!({"kind": "ingest", "organization_id": "org_s", "product": "platform"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let ck: Value = post(
        "/v1/operator/keys",
        json!({"kind": "compliance", "organization_id": "org_s", "scopes": ["read:activities"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    (
        running,
        base,
        ik["token"].as_str().unwrap().into(),
        ck["token"].as_str().unwrap().into(),
        dir,
    )
}

fn ev(i: usize) -> Value {
    let ty = if i.is_multiple_of(3) {
        "file.created"
    } else {
        "user.login"
    };
    json!({"type": ty, "created_at": "2026-12-04T10:00:00Z", "organization_id": "org_s",
           "actor": {"type": "user", "id": format!("user_{}", i % 5)}, "target": {"type": "file", "id": format!("f{i}")},
           "metadata": {"n": i}})
}

async fn ingest(base: &str, ik: &str, from: usize, to: usize) -> Vec<String> {
    let http = Client::new();
    let mut ids = Vec::new();
    for chunk in (from..to).collect::<Vec<_>>().chunks(50) {
        let body: Vec<Value> = chunk.iter().map(|i| ev(*i)).collect();
        let r: Value = http
            .post(format!("{base}/v1/ingest/activities"))
            .header("x-api-key", ik)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for res in r["results"].as_array().unwrap() {
            assert_eq!(res["status"], "accepted");
            ids.push(res["id"].as_str().unwrap().to_string());
        }
    }
    ids
}

async fn open(base: &str, ck: &str, query: &str, last: Option<&str>) -> Sse {
    let mut req = Client::new()
        .get(format!("{base}/v1/compliance/activities/stream?{query}"))
        .header("x-api-key", ck);
    if let Some(l) = last {
        req = req.header("last-event-id", l);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    Sse {
        resp,
        buf: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_delivers_live_events_in_order_and_resumes_without_gap_or_duplicate() {
    let (_running, base, ik, ck, _dir) = setup().await;
    let q = "exclude_activity_types[]=compliance_api.accessed";
    let mut s = open(&base, &ck, q, None).await;
    let writer = {
        let (base, ik) = (base.clone(), ik.clone());
        tokio::spawn(async move { ingest(&base, &ik, 0, 300).await })
    };
    let mut got = Vec::new();
    while got.len() < 120 {
        let m = s.next().await.expect("stream ended early");
        assert_eq!(m.event.as_deref(), Some("activity"));
        let e: Value = serde_json::from_str(&m.data).unwrap();
        assert_eq!(m.id.as_deref(), e["id"].as_str());
        got.push(m.id.unwrap());
    }
    drop(s);
    let sent = writer.await.unwrap();
    // Reconnect from the last id received.
    let mut s = open(&base, &ck, q, got.last().map(String::as_str)).await;
    while got.len() < sent.len() {
        let m = s.next().await.expect("resumed stream ended early");
        got.push(m.id.unwrap());
    }
    assert_eq!(got, sent, "every event once, in log order");
    // Nothing more arrives that was not sent.
    let more = tokio::time::timeout(Duration::from_millis(800), s.next()).await;
    assert!(more.is_err() || more.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_applies_filters_formats_and_resumes_from_after_id() {
    let (_running, base, ik, ck, _dir) = setup().await;
    let sent = ingest(&base, &ik, 0, 60).await;
    // From a cursor, only file.created, as OCSF.
    let q = format!("activity_types[]=file.*&format=ocsf&after_id={}", sent[0]);
    let mut s = open(&base, &ck, &q, None).await;
    let expected: Vec<&String> = sent
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(i, _)| i.is_multiple_of(3))
        .map(|(_, id)| id)
        .collect();
    for want in expected {
        let m = s.next().await.unwrap();
        assert_eq!(m.id.as_deref(), Some(want.as_str()));
        let o: Value = serde_json::from_str(&m.data).unwrap();
        assert_eq!(o["class_uid"], 6006);
        assert_eq!(o["metadata"]["uid"], want.as_str());
        assert_eq!(o["file"]["type_id"], 1);
    }
    // Parameters that make no sense for a stream are refused, by name.
    let r = Client::new()
        .get(format!("{base}/v1/compliance/activities/stream?limit=5"))
        .header("x-api-key", &ck)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["field"], "limit");
    let r = Client::new()
        .get(format!("{base}/v1/compliance/activities/stream"))
        .header("x-api-key", &ck)
        .header("last-event-id", "act_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}
