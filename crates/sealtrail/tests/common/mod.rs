//! A harness for black-box tests: a real server on port 0 over the engine
//! `SEALTRAIL_TEST_ENGINE` selects (SQLite files in a temporary directory by
//! default, or a fresh PostgreSQL database), driven over HTTP.

#![allow(dead_code)]

use std::sync::Arc;

use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tempfile::TempDir;

use sealtrail::app::App;
use sealtrail::config::Config;
use sealtrail::server::{Running, start};

/// Scopes of a compliance key that may read everything.
pub const ALL_READ: &[&str] = &["read:activities", "read:integrity"];

/// A running server and a client for it.
pub struct Server {
    pub base: String,
    pub http: reqwest::Client,
    pub operator: String,
    pub app: Arc<App>,
    pub dir: TempDir,
    /// `Config::storage`: empty on SQLite, the database URL on PostgreSQL.
    pub storage: String,
    running: Option<Running>,
}

/// An HTTP response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Resp {
    /// The body, after checking the status (the body is shown otherwise).
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "expected HTTP {status}, got {} with body {}",
            self.status, self.text
        );
        &self.body
    }

    /// Checks the status and the problem shape `{type, message, field}`.
    pub fn problem(&self, status: u16, kind: &str, field: Option<&str>) -> &Value {
        let b = self.expect(status);
        assert_eq!(b["type"], kind, "problem type in {}", self.text);
        let msg = b["message"].as_str().unwrap_or("");
        assert!(!msg.is_empty(), "a problem needs a message: {}", self.text);
        if let Some(f) = field {
            assert_eq!(b["field"], f, "problem field in {}", self.text);
        }
        b
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Server {
    /// A server with the test defaults.
    pub async fn start() -> Server {
        Server::start_with(|_| {}).await
    }

    /// A server with a changed configuration.
    pub async fn start_with(change: impl FnOnce(&mut Config)) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cfg = Config {
            checkpoint_interval_ms: 200,
            ..sealtrail::testing::config(dir.path(), "server")
        };
        change(&mut cfg);
        let storage = cfg.storage.clone();
        let running = start(cfg).await.expect("server starts");
        let operator = running
            .app
            .bootstrap_operator_token
            .clone()
            .expect("a fresh data directory prints an operator key");
        Server {
            base: format!("http://{}", running.addr),
            http: reqwest::Client::new(),
            operator,
            app: running.app.clone(),
            dir,
            storage,
            running: Some(running),
        }
    }

    /// A second node on the same store, sharing this node's master and
    /// signing keys and operator key: only on a store several nodes can
    /// share (PostgreSQL); `None` on the embedded engine.
    pub async fn join(&self) -> Option<Server> {
        if !self.app.store.shared() {
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("signer")).unwrap();
        for f in ["master.key", "signer/current.key"] {
            std::fs::copy(self.dir.path().join(f), dir.path().join(f)).unwrap();
        }
        let cfg = Config {
            checkpoint_interval_ms: 200,
            storage: self.storage.clone(),
            ..sealtrail::testing::Engine::Sqlite.config(dir.path(), "node")
        };
        let running = start(cfg).await.expect("second node starts");
        Some(Server {
            base: format!("http://{}", running.addr),
            http: reqwest::Client::new(),
            operator: self.operator.clone(),
            app: running.app.clone(),
            dir,
            storage: self.storage.clone(),
            running: Some(running),
        })
    }

    /// Stops the server gracefully.
    pub async fn shutdown(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    /// Waits until every job queued on the writer so far is committed,
    /// including the `compliance_api.accessed` records of earlier reads.
    pub async fn settle(&self) {
        self.app
            .sequencer
            .run(|_| ())
            .await
            .expect("sequencer runs");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request and reads the whole response.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let r = req.send().await.expect("request is answered");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body reads");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            body,
        }
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> Resp {
        let mut req = self.http.get(self.url(path));
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        self.send(req).await
    }

    pub async fn post(&self, path: &str, key: Option<&str>, body: &Value) -> Resp {
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        self.send(req).await
    }

    /// Creates an organization (recording off).
    pub async fn create_org(&self, id: &str, parent: Option<&str>) -> Value {
        self.post(
            "/v1/operator/organizations",
            Some(&self.operator),
            &json!({ "id": id, "name": format!("Org {id}"), "parent_id": parent }),
        )
        .await
        .expect(201)
        .clone()
    }

    /// Switches recording on.
    pub async fn enable(&self, id: &str) -> Value {
        self.post(
            &format!("/v1/operator/organizations/{id}/enable"),
            Some(&self.operator),
            &json!({}),
        )
        .await
        .expect(200)
        .clone()
    }

    /// Creates an organization and switches recording on.
    pub async fn org(&self, id: &str, parent: Option<&str>) {
        self.create_org(id, parent).await;
        self.enable(id).await;
    }

    /// Creates a key and returns the whole response.
    pub async fn create_key(&self, body: Value) -> Resp {
        self.post("/v1/operator/keys", Some(&self.operator), &body)
            .await
    }

    /// An ingest key for one product of an organization.
    pub async fn ingest_key(&self, org: &str, product: &str) -> String {
        let r = self
            .create_key(json!({
                "kind": "ingest", "organization_id": org, "product": product, "name": "source"
            }))
            .await;
        r.expect(201)["token"].as_str().unwrap().to_string()
    }

    /// A compliance key with scopes.
    pub async fn compliance_key(&self, org: &str, scopes: &[&str]) -> String {
        let r = self
            .create_key(json!({
                "kind": "compliance", "organization_id": org, "scopes": scopes, "name": "reader"
            }))
            .await;
        r.expect(201)["token"].as_str().unwrap().to_string()
    }

    /// Posts events as a JSON array.
    pub async fn ingest(&self, key: &str, events: &[Value]) -> Resp {
        self.post(
            "/v1/ingest/activities",
            Some(key),
            &Value::from(events.to_vec()),
        )
        .await
    }

    /// Posts a raw body with a content type.
    pub async fn ingest_raw(&self, key: &str, content_type: Option<&str>, body: Vec<u8>) -> Resp {
        let mut req = self
            .http
            .post(self.url("/v1/ingest/activities"))
            .header("x-api-key", key)
            .body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        self.send(req).await
    }

    /// Posts events and expects every one accepted; returns `(id, seq)`s.
    pub async fn ingest_ok(&self, key: &str, events: &[Value]) -> Vec<(String, u64)> {
        let r = self.ingest(key, events).await;
        let b = r.expect(200);
        assert_eq!(
            b["accepted"],
            events.len(),
            "every event accepted: {}",
            r.text
        );
        b["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["id"].as_str().unwrap().to_string(),
                    x["seq"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    /// One page of the feed.
    pub async fn feed(&self, key: &str, query: &str) -> Resp {
        self.get(&format!("/v1/compliance/activities?{query}"), Some(key))
            .await
    }

    /// Every event matching `query`, oldest first, paging with `after_id`.
    pub async fn feed_all(&self, key: &str, query: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut q = format!("order=asc&limit=1000&{query}");
            if let Some(a) = &after {
                q.push_str(&format!("&after_id={a}"));
            }
            let r = self.feed(key, &q).await;
            let b = r.expect(200);
            out.extend(b["data"].as_array().unwrap().iter().cloned());
            if !b["has_more"].as_bool().unwrap() {
                return out;
            }
            after = Some(b["last_id"].as_str().unwrap().to_string());
        }
    }

    /// Everything the server has stored, as `(name, bytes)`: each file of
    /// the data directory and, on PostgreSQL, a plain-text `pg_dump` of its
    /// database.
    pub fn stored(&self) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = walk(self.dir.path())
            .into_iter()
            .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
            .collect();
        if !self.storage.is_empty() {
            out.push((
                format!("pg_dump of {}", self.storage),
                pg_dump(&self.storage),
            ));
        }
        out
    }

    /// The Prometheus text.
    pub async fn metrics(&self) -> String {
        let r = self.get("/metrics", None).await;
        assert_eq!(r.status, 200);
        r.text
    }
}

/// The value of one sample in a Prometheus text, by its full name with
/// labels (e.g. `x_total{reason="y"}`); 0 when absent.
pub fn metric(text: &str, sample: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (name, v) = l.rsplit_once(' ')?;
            (name == sample).then(|| v.parse::<f64>().ok()).flatten()
        })
        .unwrap_or(0.0)
}

/// Every file under a directory.
pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A plain-text dump of a PostgreSQL database (data included), made with
/// the `pg_dump` of the newest installed PostgreSQL.
pub fn pg_dump(url: &str) -> Vec<u8> {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let p = e.ok()?.path().join("bin/pg_dump");
            let v: u32 = p.parent()?.parent()?.file_name()?.to_str()?.parse().ok()?;
            p.exists().then_some((v, p))
        })
        .max()
        .map(|(_, p)| p)
        .unwrap_or_else(|| "pg_dump".into());
    let out = std::process::Command::new(&bin)
        .args(["--no-owner", "--dbname", url])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Now, as RFC 3339.
pub fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// A valid event of a type for an organization, with an actor and a target
/// (enough for every source type of the catalog except `tool.invoked`).
pub fn event(org: &str, activity_type: &str) -> Value {
    json!({
        "type": activity_type,
        "created_at": now(),
        "organization_id": org,
        "actor": { "type": "user", "id": "user_1" },
        "target": { "type": "thing", "id": "thing_1", "name": "a thing" },
    })
}

/// `event` with a source event id, for idempotency.
pub fn event_sid(org: &str, activity_type: &str, sid: &str) -> Value {
    let mut e = event(org, activity_type);
    e["source_event_id"] = json!(sid);
    e
}

/// The ids of feed events.
pub fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// The types of feed events.
pub fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

/// Excludes the records of reads, so a feed shows only what sources sent.
pub const NO_READS: &str = "exclude_activity_types[]=compliance_api.accessed";
