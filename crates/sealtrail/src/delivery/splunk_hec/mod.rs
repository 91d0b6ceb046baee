//! Splunk HTTP Event Collector: `POST /services/collector/event` with
//! `Authorization: Splunk <token>`, a batch being JSON event objects
//! concatenated (not an array). With indexer acknowledgement on, a batch
//! counts as delivered only once Splunk says it was indexed.

pub mod config;
pub mod encoder;
pub mod service;
#[cfg(test)]
mod tests;
