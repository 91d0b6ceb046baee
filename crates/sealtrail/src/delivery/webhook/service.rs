//! Sending a webhook and reading the answer.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::config::{Config, Secrets};
use super::encoder;
use crate::delivery::http::{self, classify, transport};
use crate::delivery::settings::{Invalid, Settings};
use crate::delivery::{Record, SendFuture, Sink};

/// A webhook destination.
pub struct WebhookSink {
    client: http::Client,
    url: String,
    headers: HeaderMap,
    key: Vec<u8>,
}

impl WebhookSink {
    /// Validates the settings and prepares the client.
    pub fn new(cfg: Config, secrets: Secrets, s: &Settings) -> Result<WebhookSink, Invalid> {
        let url = http::check_url("destination.url", &cfg.url)?;
        let key = secrets.key()?;
        let mut headers = HeaderMap::new();
        for (k, v) in &cfg.headers {
            let field = format!("destination.headers.{k}");
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| (field.clone(), format!("{k:?} is not a header name")))?;
            if name.as_str().starts_with("webhook-")
                || name == reqwest::header::CONTENT_TYPE
                || name == reqwest::header::AUTHORIZATION
            {
                return Err((field, format!("header {k} is set by Sealtrail")));
            }
            let value = HeaderValue::from_str(v)
                .map_err(|_| (field, format!("the value of {k} is not a header value")))?;
            headers.insert(name, value);
        }
        let client =
            http::client(s.timeout(), &cfg.tls).map_err(|e| ("destination.tls".to_string(), e))?;
        Ok(WebhookSink {
            client,
            url: url.to_string(),
            headers,
            key,
        })
    }
}

impl Sink for WebhookSink {
    fn max_batch(&self) -> usize {
        1000
    }

    fn send<'a>(&'a mut self, records: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            let body = encoder::body(records);
            let id = encoder::message_id(records);
            let ts = crate::time::now_ms() / 1000;
            let sig = encoder::sign(&self.key, &id, ts, &body);
            let resp = self
                .client
                .post(&self.url)
                .headers(self.headers.clone())
                .header("content-type", "application/json")
                .header("webhook-id", &id)
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", sig)
                .body(body)
                .send()
                .await
                .map_err(|e| transport("webhook", &e))?;
            let status = resp.status();
            if status.is_success() {
                return Ok(records.len());
            }
            let headers = resp.headers().clone();
            let text = resp.text().await.unwrap_or_default();
            Err(classify("webhook receiver", status, &headers, &text))
        })
    }
}
