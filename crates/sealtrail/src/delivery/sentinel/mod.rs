//! Microsoft Sentinel through the Azure Monitor Logs Ingestion API: an
//! OAuth 2.0 client-credentials token from Microsoft Entra ID, then
//! `POST {endpoint}/dataCollectionRules/{dcr}/streams/{stream}?api-version=2023-01-01`
//! with a JSON array of rows (at most 1 MB per call); 204 means accepted.

pub mod config;
pub mod encoder;
pub mod service;
#[cfg(test)]
mod tests;
