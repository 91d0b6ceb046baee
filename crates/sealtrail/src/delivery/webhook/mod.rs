//! Webhooks signed per the Standard Webhooks scheme: each request carries
//! `webhook-id`, `webhook-timestamp` and `webhook-signature`
//! (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`), so a receiver
//! can check origin and freshness and deduplicate retries on the id.

pub mod config;
pub mod encoder;
pub mod service;
#[cfg(test)]
mod tests;
