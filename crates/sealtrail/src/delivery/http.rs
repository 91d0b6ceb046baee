//! What every HTTP destination shares: building a client (timeouts, TLS
//! trust) and classifying a response into success, retry or "needs a
//! person".

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as Pool;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::SendError;
use super::backoff::parse_retry_after;
use super::tls::{Tls, client_config};

/// The largest response body read from a destination; answers are small
/// acknowledgements, and a misbehaving server must not exhaust memory.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// An HTTP client for one sink: one connection pool (HTTP/1.1 over TLS or
/// plain), one timeout covering the whole exchange, no redirects (a
/// redirect would resend audit data somewhere nobody configured).
#[derive(Clone, Debug)]
pub struct Client {
    pool: Pool<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

/// Why an exchange failed before any answer arrived.
#[derive(Debug)]
pub enum HttpError {
    /// No answer within the timeout.
    Timeout,
    /// The request could not be built (a bad header value).
    Build(String),
    /// Connecting, the TLS handshake or the exchange failed.
    Transport(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Timeout => f.write_str("timed out"),
            HttpError::Build(m) => write!(f, "bad request: {m}"),
            HttpError::Transport(m) => write!(f, "{m}"),
        }
    }
}

/// A request being put together.
pub struct RequestBuilder<'a> {
    client: &'a Client,
    url: String,
    headers: HeaderMap,
    body: Vec<u8>,
    error: Option<String>,
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Response {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body as text (lossy).
    pub async fn text(self) -> Result<String, HttpError> {
        Ok(String::from_utf8_lossy(&self.body).into_owned())
    }
}

impl<'a> RequestBuilder<'a> {
    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl AsRef<str>) -> Self {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value.as_ref()),
        ) {
            (Ok(n), Ok(v)) => {
                self.headers.append(n, v);
            }
            _ => self.error = Some(format!("header {name} has an invalid name or value")),
        }
        self
    }

    /// Adds several headers.
    pub fn headers(mut self, h: HeaderMap) -> Self {
        for (k, v) in h.iter() {
            self.headers.append(k.clone(), v.clone());
        }
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer_auth(self, token: impl AsRef<str>) -> Self {
        let v = format!("Bearer {}", token.as_ref());
        self.header("authorization", v)
    }

    /// The body.
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// Sends the request and reads the whole answer within the timeout.
    pub async fn send(self) -> Result<Response, HttpError> {
        if let Some(e) = self.error {
            return Err(HttpError::Build(e));
        }
        let mut req = http::Request::builder()
            .method(http::Method::POST)
            .uri(&self.url)
            .header(
                "user-agent",
                concat!("sealtrail/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(Bytes::from(self.body)))
            .map_err(|e| HttpError::Build(e.to_string()))?;
        req.headers_mut().extend(self.headers);
        let exchange = async {
            let resp = self
                .client
                .pool
                .request(req)
                .await
                .map_err(|e| HttpError::Transport(error_chain(&e)))?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| HttpError::Transport(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok(Response {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.client.timeout, exchange)
            .await
            .map_err(|_| HttpError::Timeout)?
    }
}

impl Client {
    /// A POST to `url`.
    pub fn post(&self, url: &str) -> RequestBuilder<'_> {
        RequestBuilder {
            client: self,
            url: url.to_string(),
            headers: HeaderMap::new(),
            body: Vec::new(),
            error: None,
        }
    }
}

/// A client for one sink.
pub fn client(timeout: Duration, tls: &Tls) -> Result<Client, String> {
    let config = client_config(tls)?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(timeout.min(Duration::from_secs(10))));
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let pool = Pool::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(https);
    Ok(Client { pool, timeout })
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
pub fn transport(what: &str, e: &HttpError) -> SendError {
    SendError::transient(format!("{what}: {e}"))
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
