//! What a user writes for a Splunk HEC sink.

use serde::Deserialize;

use crate::delivery::tls::Tls;

/// Destination settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The collector's base URL, e.g. `https://splunk.example.com:8088`.
    pub url: String,
    /// Target index; the token's default when absent.
    #[serde(default)]
    pub index: Option<String>,
    /// `source` of every event.
    #[serde(default = "default_source")]
    pub source: String,
    /// `sourcetype` of every event.
    #[serde(default = "default_sourcetype")]
    pub sourcetype: String,
    /// `host` of every event; the server's host name when absent.
    #[serde(default)]
    pub host: Option<String>,
    /// Wait for indexer acknowledgement before moving the cursor.
    #[serde(default)]
    pub ack: bool,
    /// The acknowledgement channel (a GUID); generated when absent.
    #[serde(default)]
    pub channel: Option<String>,
    /// How long to wait for an acknowledgement before sending again (ms).
    #[serde(default = "default_ack_timeout")]
    pub ack_timeout_ms: u64,
    /// TLS trust.
    #[serde(default)]
    pub tls: Tls,
}

fn default_source() -> String {
    "sealtrail".into()
}

fn default_sourcetype() -> String {
    "sealtrail:activity".into()
}

fn default_ack_timeout() -> u64 {
    60_000
}

/// Secret settings.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// The HEC token.
    pub token: String,
}
