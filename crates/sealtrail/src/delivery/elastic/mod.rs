//! Elasticsearch and OpenSearch `_bulk`: NDJSON `create` actions with the
//! activity id as `_id`, so a resent event is refused as a conflict (409)
//! instead of indexed twice. A bulk request can succeed while single items
//! fail; each item's status is read, and delivery resumes from the first
//! item that was not stored.

pub mod config;
pub mod encoder;
pub mod service;
#[cfg(test)]
mod tests;
