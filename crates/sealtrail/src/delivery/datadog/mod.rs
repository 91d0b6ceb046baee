//! Datadog Logs intake v2: `POST /api/v2/logs` with `DD-API-KEY`, a JSON
//! array of at most 1,000 entries and 5 MB (before compression), sent
//! gzip-compressed; 202 means accepted.

pub mod config;
pub mod encoder;
pub mod service;
#[cfg(test)]
mod tests;
