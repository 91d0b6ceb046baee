//! What a user writes for a Sentinel sink.

use serde::Deserialize;

use crate::delivery::tls::Tls;

/// Most bytes of one ingestion call (the API's limit).
pub const MAX_CALL_BYTES: usize = 1024 * 1024;

/// Destination settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The data collection endpoint (or the rule's own ingestion
    /// endpoint), e.g. `https://my-dce.westeurope-1.ingest.monitor.azure.com`.
    pub endpoint: String,
    /// The data collection rule's immutable id, `dcr-…`.
    pub dcr_immutable_id: String,
    /// The stream declared in the rule, e.g. `Custom-SealtrailActivity_CL`.
    pub stream: String,
    /// Microsoft Entra tenant id.
    pub tenant_id: String,
    /// The app registration's client id.
    pub client_id: String,
    /// Where tokens come from (a sovereign cloud's authority).
    #[serde(default = "default_authority")]
    pub authority_url: String,
    /// The token scope.
    #[serde(default = "default_scope")]
    pub scope: String,
    /// TLS trust.
    #[serde(default)]
    pub tls: Tls,
}

fn default_authority() -> String {
    "https://login.microsoftonline.com".into()
}

fn default_scope() -> String {
    "https://monitor.azure.com//.default".into()
}

/// Secret settings.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// The app registration's client secret.
    pub client_secret: String,
}
