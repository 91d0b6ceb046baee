//! What every HTTP destination shares: building a client (timeouts, TLS
//! trust) and classifying a response into success, retry or "needs a
//! person".

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

use super::SendError;
use super::backoff::parse_retry_after;

/// Which servers a sink trusts over TLS.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Extra trusted CA certificates (PEM), for a private PKI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// Accept any certificate. Only for tests against self-signed
    /// receivers: it removes the protection TLS exists for.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
}

/// A client for one sink: one connection pool, its own timeout.
pub fn client(timeout: Duration, tls: &Tls) -> Result<reqwest::Client, String> {
    super::install_crypto_provider();
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("sealtrail/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = &tls.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| format!("tls.ca_pem is not a PEM certificate bundle: {e}"))?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    if tls.insecure_skip_verify {
        b = b.tls_danger_accept_invalid_certs(true);
    }
    b.build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// The `Retry-After` of a response, if any.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, crate::time::now_ms()))
}

/// Classifies a non-success response: 408, 429 and 5xx are retried soon
/// (honouring `Retry-After`); other 4xx mean the request itself is wrong
/// (credentials, payload) and retrying soon will not help.
pub fn classify(what: &str, status: StatusCode, headers: &HeaderMap, body: &str) -> SendError {
    let snippet: String = body.chars().take(300).collect();
    let msg = format!("{what} answered {status}: {}", snippet.trim());
    let e = if status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        SendError::transient(msg)
    } else {
        SendError::permanent(msg)
    };
    e.with_retry_after(retry_after(headers))
}

/// A transport failure (refused, reset, timed out): always retried.
pub fn transport(what: &str, e: &reqwest::Error) -> SendError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    SendError::transient(format!("{what}: {kind}: {}", error_chain(e)))
}

/// An error with its causes, since reqwest's top-level message rarely says
/// what actually went wrong.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Checks a destination URL: absolute http(s), no credentials in it (they
/// belong in the sealed secrets).
pub fn check_url(field: &str, url: &str) -> Result<reqwest::Url, (String, String)> {
    let u = reqwest::Url::parse(url)
        .map_err(|e| (field.to_string(), format!("{field} is not a URL: {e}")))?;
    if u.scheme() != "https" && u.scheme() != "http" {
        return Err((
            field.to_string(),
            format!("{field} must be an http or https URL"),
        ));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err((
            field.to_string(),
            format!("{field} must not carry credentials; put them in secrets"),
        ));
    }
    if u.host_str().is_none() {
        return Err((field.to_string(), format!("{field} has no host")));
    }
    Ok(u)
}

/// Joins a path onto a base URL, keeping any path prefix of the base
/// (a destination behind a reverse proxy at `/splunk/`).
pub fn join(base: &reqwest::Url, path: &str) -> String {
    format!(
        "{}/{}",
        base.as_str().trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}
