//! The simulated platform's side of the wire: it sets up organizations and
//! keys through the operator API and sends events through the ingest API,
//! exactly as an operator's script and a real source would, so the demo
//! exercises the product rather than its storage.

use reqwest::Method;
use serde_json::{Value, json};

/// A small HTTP client for the operator and ingest APIs.
#[derive(Clone, Debug)]
pub struct Api {
    base: String,
    http: reqwest::Client,
}

/// What the server said about one ingest request.
#[derive(Clone, Debug, Default)]
pub struct IngestReply {
    /// Events stored now.
    pub accepted: usize,
    /// Events recognized as retries.
    pub duplicates: usize,
    /// Events refused.
    pub refused: usize,
    /// The activity id of each event, in request order (`None` if refused).
    pub ids: Vec<Option<String>>,
    /// Why events were refused (`type: message (field)`), for the operator.
    pub refusals: Vec<String>,
}

/// Running totals over many ingest requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Requests sent.
    pub requests: usize,
    /// Events sent.
    pub sent: usize,
    /// Events stored.
    pub accepted: usize,
    /// Events recognized as retries.
    pub duplicates: usize,
    /// Events refused.
    pub refused: usize,
    /// The first few refusal reasons, so a refusal is never silent.
    pub refusals: Vec<String>,
}

impl Tally {
    /// Adds one request's reply.
    pub fn add(&mut self, sent: usize, r: &IngestReply) {
        self.requests += 1;
        self.sent += sent;
        self.accepted += r.accepted;
        self.duplicates += r.duplicates;
        self.refused += r.refused;
        for why in &r.refusals {
            if self.refusals.len() < 5 {
                self.refusals.push(why.clone());
            }
        }
    }
}

impl Api {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Api {
        Api {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(reqwest::StatusCode, Value)> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("x-api-key", token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{method} {path}: {e}"))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| anyhow::anyhow!("{method} {path}: reading the response: {e}"))?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    async fn operator(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let (status, v) = self
            .call(method.clone(), path, token, body.as_ref())
            .await?;
        if !status.is_success() {
            let msg = v
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            anyhow::bail!("{method} {path} answered {status}: {msg}");
        }
        Ok(v)
    }

    /// Creates an organization (operator key).
    pub async fn create_org(&self, op: &str, id: &str, name: &str) -> anyhow::Result<()> {
        let body = json!({ "id": id, "name": name });
        self.operator(Method::POST, "/v1/operator/organizations", op, Some(body))
            .await
            .map(drop)
    }

    /// Links `child` under `parent` (operator key).
    pub async fn link(&self, op: &str, child: &str, parent: &str) -> anyhow::Result<()> {
        let path = format!("/v1/operator/organizations/{child}/link");
        let body = json!({ "parent_id": parent });
        self.operator(Method::POST, &path, op, Some(body))
            .await
            .map(drop)
    }

    /// Switches recording on (operator key).
    pub async fn enable(&self, op: &str, org: &str) -> anyhow::Result<()> {
        let path = format!("/v1/operator/organizations/{org}/enable");
        self.operator(Method::POST, &path, op, None).await.map(drop)
    }

    /// Creates an ingest key for a product; returns its token.
    pub async fn ingest_key(&self, op: &str, org: &str, product: &str) -> anyhow::Result<String> {
        let body = json!({
            "kind": "ingest",
            "organization_id": org,
            "product": product,
            "name": format!("{product} source (demo)"),
        });
        self.key(op, body).await
    }

    /// Creates a compliance key with `scopes`; returns its token.
    pub async fn compliance_key(
        &self,
        op: &str,
        org: &str,
        scopes: &[&str],
        name: &str,
    ) -> anyhow::Result<String> {
        let body = json!({
            "kind": "compliance",
            "organization_id": org,
            "scopes": scopes,
            "name": name,
        });
        self.key(op, body).await
    }

    async fn key(&self, op: &str, body: Value) -> anyhow::Result<String> {
        let v = self
            .operator(Method::POST, "/v1/operator/keys", op, Some(body))
            .await?;
        v.get("token")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| anyhow::anyhow!("the key response carried no token"))
    }

    /// Sends one batch (at most 1,000 events) with an ingest key. A batch
    /// whose every event was refused is a reply, not an error: the caller
    /// counts refusals.
    pub async fn ingest(&self, key: &str, events: &[Value]) -> anyhow::Result<IngestReply> {
        let body = Value::Array(events.to_vec());
        let (status, v) = self
            .call(Method::POST, "/v1/ingest/activities", key, Some(&body))
            .await?;
        if !(status.is_success() || status == reqwest::StatusCode::UNPROCESSABLE_ENTITY)
            || v.get("results").is_none()
        {
            let msg = v
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            anyhow::bail!("POST /v1/ingest/activities answered {status}: {msg}");
        }
        let count = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0) as usize;
        let mut reply = IngestReply {
            accepted: count("accepted"),
            duplicates: count("duplicates"),
            refused: count("refused"),
            ids: vec![None; events.len()],
            refusals: Vec::new(),
        };
        for r in v
            .get("results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = r.get("index").and_then(Value::as_u64).unwrap_or(u64::MAX) as usize;
            if let Some(id) = r.get("id").and_then(Value::as_str)
                && let Some(slot) = reply.ids.get_mut(index)
            {
                *slot = Some(id.to_string());
            }
            if let Some(e) = r.get("error") {
                let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                reply
                    .refusals
                    .push(format!("{}: {} ({})", s("type"), s("message"), s("field")));
            }
        }
        Ok(reply)
    }
}
