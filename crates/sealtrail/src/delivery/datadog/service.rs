//! Sending to the Datadog Logs intake.

use super::config::{Config, Secrets};
use super::encoder::{self, Tags};
use crate::delivery::http::{self, classify, transport};
use crate::delivery::settings::{Invalid, Settings};
use crate::delivery::{Record, SendError, SendFuture, Sink};

/// A Datadog Logs destination.
pub struct DatadogSink {
    client: http::Client,
    url: String,
    api_key: String,
    tags: Tags,
}

impl DatadogSink {
    /// Validates the settings and prepares the client.
    pub fn new(cfg: Config, secrets: Secrets, s: &Settings) -> Result<DatadogSink, Invalid> {
        if cfg.site.is_empty()
            || !cfg
                .site
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err((
                "destination.site".into(),
                "site is a Datadog site name such as datadoghq.com".into(),
            ));
        }
        let field = if cfg.url.is_some() {
            "destination.url"
        } else {
            "destination.site"
        };
        let base = http::check_url(field, &cfg.base_url())?;
        if secrets.api_key.trim().is_empty() {
            return Err(("secrets.api_key".into(), "the API key is empty".into()));
        }
        let client =
            http::client(s.timeout(), &cfg.tls).map_err(|e| ("destination.tls".to_string(), e))?;
        Ok(DatadogSink {
            client,
            url: http::join(&base, "/api/v2/logs"),
            api_key: secrets.api_key.trim().to_string(),
            tags: Tags {
                ddsource: cfg.ddsource,
                service: cfg.service,
                hostname: cfg
                    .hostname
                    .unwrap_or_else(crate::delivery::splunk_hec::service::local_host),
                ddtags: cfg.ddtags,
            },
        })
    }
}

impl Sink for DatadogSink {
    fn max_batch(&self) -> usize {
        super::config::MAX_ENTRIES
    }

    fn send<'a>(&'a mut self, records: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            let (json, n) = encoder::pack(&self.tags, records).map_err(SendError::permanent)?;
            let body = encoder::gzip(&json)
                .map_err(|e| SendError::transient(format!("gzip failed: {e}")))?;
            let resp = self
                .client
                .post(&self.url)
                .header("dd-api-key", &self.api_key)
                .header("content-type", "application/json")
                .header("content-encoding", "gzip")
                .body(body)
                .send()
                .await
                .map_err(|e| transport("datadog", &e))?;
            let status = resp.status();
            if status.is_success() {
                return Ok(n);
            }
            let headers = resp.headers().clone();
            let text = resp.text().await.unwrap_or_default();
            Err(classify("datadog", status, &headers, &text))
        })
    }
}
