//! Sending to HEC, and waiting for indexer acknowledgement when asked.

use std::time::Duration;

use serde_json::{Value, json};

use super::config::{Config, Secrets};
use super::encoder::{self, Meta};
use crate::delivery::http::{self, classify, transport};
use crate::delivery::settings::{Invalid, Settings};
use crate::delivery::{Record, SendError, SendFuture, Sink};

/// A Splunk HEC destination.
pub struct HecSink {
    client: http::Client,
    event_url: String,
    ack_url: String,
    auth: String,
    meta: Meta,
    channel: Option<String>,
    ack_timeout: Duration,
}

/// A random GUID (version 4 layout) for the acknowledgement channel.
fn guid() -> String {
    let mut b: [u8; 16] = crate::ids::random_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The host name events are stamped with when none is configured.
pub fn local_host() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "sealtrail".into())
}

impl HecSink {
    /// Validates the settings and prepares the client.
    pub fn new(cfg: Config, secrets: Secrets, s: &Settings) -> Result<HecSink, Invalid> {
        let base = http::check_url("destination.url", &cfg.url)?;
        if secrets.token.trim().is_empty() {
            return Err(("secrets.token".into(), "the HEC token is empty".into()));
        }
        if cfg.ack_timeout_ms == 0 {
            return Err((
                "destination.ack_timeout_ms".into(),
                "ack_timeout_ms must be positive".into(),
            ));
        }
        let client =
            http::client(s.timeout(), &cfg.tls).map_err(|e| ("destination.tls".to_string(), e))?;
        Ok(HecSink {
            client,
            event_url: http::join(&base, "/services/collector/event"),
            ack_url: http::join(&base, "/services/collector/ack"),
            auth: format!("Splunk {}", secrets.token.trim()),
            meta: Meta {
                index: cfg.index,
                source: cfg.source,
                sourcetype: cfg.sourcetype,
                host: cfg.host.unwrap_or_else(local_host),
            },
            channel: cfg.ack.then(|| cfg.channel.unwrap_or_else(guid)),
            ack_timeout: Duration::from_millis(cfg.ack_timeout_ms),
        })
    }

    async fn post(&self, url: &str, body: Vec<u8>) -> Result<Value, SendError> {
        let mut req = self
            .client
            .post(url)
            .header("authorization", &self.auth)
            .header("content-type", "application/json")
            .body(body);
        if let Some(c) = &self.channel {
            req = req.header("x-splunk-request-channel", c);
        }
        let resp = req.send().await.map_err(|e| transport("splunk hec", &e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(classify("splunk hec", status, &headers, &text));
        }
        let v: Value = serde_json::from_str(&text).map_err(|_| {
            SendError::transient(format!("splunk hec answered {status} with no JSON body"))
        })?;
        Ok(v)
    }

    /// Polls the acknowledgement endpoint until Splunk says the batch is
    /// indexed, or gives up (and the batch is sent again).
    async fn wait_ack(&self, ack_id: u64) -> Result<(), SendError> {
        let deadline = tokio::time::Instant::now() + self.ack_timeout;
        let mut pause = Duration::from_millis(200);
        loop {
            let body = serde_json::to_vec(&json!({ "acks": [ack_id] })).unwrap_or_default();
            let v = self.post(&self.ack_url, body).await?;
            if v["acks"][ack_id.to_string()].as_bool() == Some(true) {
                return Ok(());
            }
            if tokio::time::Instant::now() + pause > deadline {
                return Err(SendError::transient(format!(
                    "splunk hec did not acknowledge batch {ack_id} within {} ms",
                    self.ack_timeout.as_millis()
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }
}

impl Sink for HecSink {
    fn max_batch(&self) -> usize {
        1000
    }

    fn send<'a>(&'a mut self, records: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            let body = encoder::body(&self.meta, records);
            let v = self.post(&self.event_url, body).await?;
            if v["code"].as_i64().unwrap_or(0) != 0 {
                return Err(SendError::transient(format!(
                    "splunk hec refused the batch: {v}"
                )));
            }
            if self.channel.is_some() {
                let ack = v["ackId"].as_u64().ok_or_else(|| {
                    SendError::permanent(
                        "acknowledgement is on but splunk hec returned no ackId; enable indexer acknowledgement on the token or set ack: false",
                    )
                })?;
                self.wait_ack(ack).await?;
            }
            Ok(records.len())
        })
    }
}
