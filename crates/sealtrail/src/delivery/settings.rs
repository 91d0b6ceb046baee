//! A sink's settings as stored and as written in the API: what every kind
//! shares (encoding, batch size, timeout, backoff) and the destination's
//! own settings, validated by its `config.rs`. Secrets are kept apart:
//! they are sealed on the way in and never leave the server.

use std::sync::Arc;
use std::time::Duration;

use sealtrail_model::Catalog;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::backoff::Backoff;
use super::encoding::Encoding;
use super::{Sink, datadog, elastic, sentinel, splunk_hec, syslog, webhook};

/// The destination kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// HTTP POST signed per Standard Webhooks.
    Webhook,
    /// Splunk HTTP Event Collector.
    SplunkHec,
    /// Datadog Logs intake v2.
    Datadog,
    /// Syslog (RFC 5424) over TCP or TLS.
    Syslog,
    /// Elasticsearch or OpenSearch `_bulk`.
    Elastic,
    /// Microsoft Sentinel through the Logs Ingestion API.
    Sentinel,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 6] = [
        Kind::Webhook,
        Kind::SplunkHec,
        Kind::Datadog,
        Kind::Syslog,
        Kind::Elastic,
        Kind::Sentinel,
    ];

    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::SplunkHec => "splunk_hec",
            Kind::Datadog => "datadog",
            Kind::Syslog => "syslog",
            Kind::Elastic => "elastic",
            Kind::Sentinel => "sentinel",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The most events one request of this kind may carry.
    pub fn max_batch(&self) -> usize {
        match self {
            Kind::Datadog => datadog::config::MAX_ENTRIES,
            _ => 1000,
        }
    }
}

/// Backoff bounds as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffSettings {
    /// First wait after a failure (ms).
    pub initial_ms: u64,
    /// Longest wait (ms).
    pub max_ms: u64,
}

impl Default for BackoffSettings {
    fn default() -> Self {
        BackoffSettings {
            initial_ms: 500,
            max_ms: 60_000,
        }
    }
}

/// The non-secret settings of a sink, stored as one JSON document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Body encoding.
    #[serde(default)]
    pub encoding: Encoding,
    /// Most events per request.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Per-request timeout (ms); a slower answer counts as a failure and
    /// the batch is sent again.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Retry waits.
    #[serde(default)]
    pub backoff: BackoffSettings,
    /// The destination's own settings (see each kind's `config.rs`).
    pub destination: Value,
}

fn default_batch() -> usize {
    100
}

fn default_timeout() -> u64 {
    10_000
}

/// A settings problem: the field (as the API names it) and why.
pub type Invalid = (String, String);

impl Settings {
    /// The backoff policy.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            initial: Duration::from_millis(self.backoff.initial_ms),
            max: Duration::from_millis(self.backoff.max_ms),
        }
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Checks the shared settings and the destination's, with its secrets.
    pub fn validate(
        &self,
        kind: Kind,
        secrets: &Map<String, Value>,
        catalog: &Arc<Catalog>,
    ) -> Result<(), Invalid> {
        let max = kind.max_batch();
        if !(1..=max).contains(&self.batch_size) {
            return Err((
                "batch_size".into(),
                format!("batch_size must be from 1 to {max} for {}", kind.as_str()),
            ));
        }
        if !(100..=300_000).contains(&self.timeout_ms) {
            return Err((
                "timeout_ms".into(),
                "timeout_ms must be from 100 to 300000".into(),
            ));
        }
        let b = &self.backoff;
        if b.initial_ms < 10 || b.max_ms < b.initial_ms || b.max_ms > 3_600_000 {
            return Err((
                "backoff".into(),
                "backoff needs 10 <= initial_ms <= max_ms <= 3600000".into(),
            ));
        }
        // Building the sink validates everything kind-specific, without
        // connecting anywhere.
        build(kind, self, secrets, catalog).map(|_| ())
    }
}

/// Deserializes an optional struct only from a JSON object (or `null`).
/// Serde would also read an array as the struct's fields in order, which
/// no client means to send and the API does not document.
pub fn optional_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    match Option::<Map<String, Value>>::deserialize(d)? {
        None => Ok(None),
        Some(m) => serde_json::from_value(Value::Object(m))
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// No destination setting or secret is a list, while serde would read an
/// array as a struct's fields in order: arrays are refused outright, so
/// that only objects are taken where the API documents an object.
fn no_lists(path: &str, v: &Value) -> Result<(), Invalid> {
    match v {
        Value::Array(_) => Err((path.to_string(), format!("{path} must not be a list"))),
        Value::Object(m) => m
            .iter()
            .try_for_each(|(k, v)| no_lists(&format!("{path}.{k}"), v)),
        _ => Ok(()),
    }
}

/// Deserializes one part of the settings, naming the offending field.
pub fn parse<T: DeserializeOwned>(prefix: &str, v: &Value) -> Result<T, Invalid> {
    no_lists(prefix, v)?;
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            prefix.to_string()
        } else {
            format!("{prefix}.{path}")
        };
        (field, e.inner().to_string())
    })
}

/// Builds a ready-to-send sink of a kind from its settings and secrets.
pub fn build(
    kind: Kind,
    s: &Settings,
    secrets: &Map<String, Value>,
    catalog: &Arc<Catalog>,
) -> Result<Box<dyn Sink>, Invalid> {
    let secrets = Value::Object(secrets.clone());
    Ok(match kind {
        Kind::Webhook => Box::new(webhook::service::WebhookSink::new(
            parse("destination", &s.destination)?,
            parse("secrets", &secrets)?,
            s,
        )?),
        Kind::SplunkHec => Box::new(splunk_hec::service::HecSink::new(
            parse("destination", &s.destination)?,
            parse("secrets", &secrets)?,
            s,
        )?),
        Kind::Datadog => Box::new(datadog::service::DatadogSink::new(
            parse("destination", &s.destination)?,
            parse("secrets", &secrets)?,
            s,
        )?),
        Kind::Syslog => Box::new(syslog::service::SyslogSink::new(
            parse("destination", &s.destination)?,
            parse("secrets", &secrets)?,
            s,
            catalog.clone(),
        )?),
        Kind::Elastic => Box::new(elastic::service::ElasticSink::new(
            parse("destination", &s.destination)?,
            parse("secrets", &secrets)?,
            s,
        )?),
        Kind::Sentinel => Box::new(sentinel::service::SentinelSink::new(
            parse("destination", &s.destination)?,
            parse("secrets", &secrets)?,
            s,
        )?),
    })
}
