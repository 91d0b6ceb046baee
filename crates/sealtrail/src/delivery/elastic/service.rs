//! Sending `_bulk` requests and acting on per-item failures.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use super::config::{Config, Secrets};
use super::encoder;
use crate::delivery::http::{self, classify, transport};
use crate::delivery::settings::{Invalid, Settings};
use crate::delivery::{Record, SendError, SendFuture, Sink};

/// An Elastic or OpenSearch destination.
pub struct ElasticSink {
    client: http::Client,
    url: String,
    index: String,
    auth: Option<String>,
}

impl ElasticSink {
    /// Validates the settings and prepares the client.
    pub fn new(cfg: Config, secrets: Secrets, s: &Settings) -> Result<ElasticSink, Invalid> {
        let base = http::check_url("destination.url", &cfg.url)?;
        let bad_index = cfg.index.is_empty()
            || cfg.index.len() > 255
            || cfg.index.starts_with(['-', '_', '+'])
            || cfg
                .index
                .chars()
                .any(|c| c.is_ascii_uppercase() || "\\/*?\"<>| ,#:".contains(c));
        if bad_index {
            return Err((
                "destination.index".into(),
                "index must be a lowercase Elasticsearch index or data stream name".into(),
            ));
        }
        let auth = match (&secrets.api_key, &secrets.username, &secrets.password) {
            (Some(k), None, None) => Some(format!("ApiKey {}", k.trim())),
            (None, Some(u), Some(p)) => Some(format!("Basic {}", B64.encode(format!("{u}:{p}")))),
            (None, None, None) => None,
            _ => {
                return Err((
                    "secrets".into(),
                    "give api_key, or username and password, not both".into(),
                ));
            }
        };
        let mut url = http::join(&base, "/_bulk");
        if let Some(p) = &cfg.pipeline {
            let q: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("pipeline", p)
                .finish();
            url = format!("{url}?{q}");
        }
        let client =
            http::client(s.timeout(), &cfg.tls).map_err(|e| ("destination.tls".to_string(), e))?;
        Ok(ElasticSink {
            client,
            url,
            index: cfg.index,
            auth,
        })
    }
}

impl Sink for ElasticSink {
    fn max_batch(&self) -> usize {
        1000
    }

    fn send<'a>(&'a mut self, records: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            let body = encoder::body(&self.index, records);
            let mut req = self
                .client
                .post(&self.url)
                .header("content-type", "application/x-ndjson")
                .body(body);
            if let Some(a) = &self.auth {
                req = req.header("authorization", a);
            }
            let resp = req.send().await.map_err(|e| transport("elastic", &e))?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let text = resp.text().await.unwrap_or_default();
            if !status.is_success() {
                return Err(classify("elastic", status, &headers, &text));
            }
            let v: Value = serde_json::from_str(&text)
                .map_err(|_| SendError::transient("elastic answered with no JSON body"))?;
            match encoder::first_failure(&v, records.len()).map_err(SendError::transient)? {
                None => Ok(records.len()),
                Some(f) => {
                    let msg = format!(
                        "elastic refused event {} ({}): {}",
                        records.get(f.index).map(|r| r.id.as_str()).unwrap_or("?"),
                        f.status,
                        f.reason
                    );
                    let e = if f.status == 429 || f.status >= 500 {
                        SendError::transient(msg)
                    } else {
                        SendError::permanent(msg)
                    };
                    Err(e
                        .with_delivered(f.index)
                        .with_retry_after(http::retry_after(&headers)))
                }
            }
        })
    }
}
