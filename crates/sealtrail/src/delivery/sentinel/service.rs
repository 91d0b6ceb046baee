//! Getting tokens and sending rows to the Logs Ingestion API.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::time::Instant;

use super::config::{Config, Secrets};
use super::encoder;
use crate::delivery::http::{self, classify, transport};
use crate::delivery::settings::{Invalid, Settings};
use crate::delivery::{Record, SendError, SendFuture, Sink};

/// A Sentinel destination.
pub struct SentinelSink {
    client: http::Client,
    token_url: String,
    ingest_url: String,
    client_id: String,
    client_secret: String,
    scope: String,
    token: Option<(String, Instant)>,
}

fn check_name(field: &str, v: &str) -> Result<(), Invalid> {
    if v.is_empty()
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err((
            field.to_string(),
            format!("{field} must be letters, digits, '-', '_' or '.'"),
        ));
    }
    Ok(())
}

impl SentinelSink {
    /// Validates the settings and prepares the client.
    pub fn new(cfg: Config, secrets: Secrets, s: &Settings) -> Result<SentinelSink, Invalid> {
        let endpoint = http::check_url("destination.endpoint", &cfg.endpoint)?;
        let authority = http::check_url("destination.authority_url", &cfg.authority_url)?;
        check_name("destination.dcr_immutable_id", &cfg.dcr_immutable_id)?;
        check_name("destination.stream", &cfg.stream)?;
        check_name("destination.tenant_id", &cfg.tenant_id)?;
        check_name("destination.client_id", &cfg.client_id)?;
        if secrets.client_secret.is_empty() {
            return Err((
                "secrets.client_secret".into(),
                "the client secret is empty".into(),
            ));
        }
        let client =
            http::client(s.timeout(), &cfg.tls).map_err(|e| ("destination.tls".to_string(), e))?;
        Ok(SentinelSink {
            client,
            token_url: http::join(&authority, &format!("/{}/oauth2/v2.0/token", cfg.tenant_id)),
            ingest_url: http::join(
                &endpoint,
                &format!(
                    "/dataCollectionRules/{}/streams/{}?api-version=2023-01-01",
                    cfg.dcr_immutable_id, cfg.stream
                ),
            ),
            client_id: cfg.client_id,
            client_secret: secrets.client_secret,
            scope: cfg.scope,
            token: None,
        })
    }

    /// A valid access token, fetched with the client-credentials grant
    /// when the cached one is missing or about to expire.
    async fn token(&mut self) -> Result<String, SendError> {
        if let Some((t, until)) = &self.token
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", &self.client_secret)
            .append_pair("scope", &self.scope)
            .finish();
        let resp = self
            .client
            .post(&self.token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.into_bytes())
            .send()
            .await
            .map_err(|e| transport("entra token endpoint", &e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(classify("entra token endpoint", status, &headers, &text));
        }
        let v: Value = serde_json::from_str(&text)
            .map_err(|_| SendError::transient("the token endpoint answered with no JSON"))?;
        let t = v["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SendError::permanent("the token endpoint returned no access_token"))?
            .to_string();
        let secs = v["expires_in"]
            .as_u64()
            .or_else(|| v["expires_in"].as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(300);
        // Renew a minute early so a token never expires mid-request.
        let life = Duration::from_secs(secs.saturating_sub(60).max(1));
        self.token = Some((t.clone(), Instant::now() + life));
        Ok(t)
    }
}

impl Sink for SentinelSink {
    fn max_batch(&self) -> usize {
        1000
    }

    fn send<'a>(&'a mut self, records: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            let (body, n) = encoder::pack(records).map_err(SendError::permanent)?;
            let token = self.token().await?;
            let resp = self
                .client
                .post(&self.ingest_url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| transport("logs ingestion", &e))?;
            let status = resp.status();
            if status.is_success() {
                return Ok(n);
            }
            if status == StatusCode::UNAUTHORIZED {
                // The token may have been revoked or rotated: fetch a new
                // one on the next try instead of failing until it expires.
                self.token = None;
            }
            let headers = resp.headers().clone();
            let text = resp.text().await.unwrap_or_default();
            let mut e = classify("logs ingestion", status, &headers, &text);
            if status == StatusCode::UNAUTHORIZED {
                e.permanent = false;
            }
            Err(e)
        })
    }
}
