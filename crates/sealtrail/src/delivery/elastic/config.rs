//! What a user writes for an Elastic or OpenSearch sink.

use serde::Deserialize;

use crate::delivery::tls::Tls;

/// Destination settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The cluster URL, e.g. `https://es.example.com:9200`.
    pub url: String,
    /// Index or data stream to write to.
    #[serde(default = "default_index")]
    pub index: String,
    /// Ingest pipeline to run, if any.
    #[serde(default)]
    pub pipeline: Option<String>,
    /// TLS trust.
    #[serde(default)]
    pub tls: Tls,
}

fn default_index() -> String {
    "sealtrail-activities".into()
}

/// Secret settings: an API key, or a user name and password, or nothing
/// for a cluster without security.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// The encoded API key (`Authorization: ApiKey <key>`).
    #[serde(default)]
    pub api_key: Option<String>,
    /// Basic authentication user.
    #[serde(default)]
    pub username: Option<String>,
    /// Basic authentication password.
    #[serde(default)]
    pub password: Option<String>,
}
