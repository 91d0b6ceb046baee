//! What a user writes for a Datadog sink.

use serde::Deserialize;

use crate::delivery::tls::Tls;

/// Most entries in one payload (Datadog's limit).
pub const MAX_ENTRIES: usize = 1000;
/// Most bytes in one payload before compression (Datadog's limit).
pub const MAX_PAYLOAD_BYTES: usize = 5 * 1024 * 1024;
/// Most bytes in one entry (Datadog truncates beyond it).
pub const MAX_ENTRY_BYTES: usize = 1024 * 1024;

/// Destination settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The Datadog site, e.g. `datadoghq.com` or `datadoghq.eu`.
    #[serde(default = "default_site")]
    pub site: String,
    /// The intake URL, overriding the one derived from `site` (a proxy).
    #[serde(default)]
    pub url: Option<String>,
    /// `service` of every entry.
    #[serde(default = "default_service")]
    pub service: String,
    /// `ddsource` of every entry.
    #[serde(default = "default_source")]
    pub ddsource: String,
    /// `ddtags`, comma-separated `key:value` tags.
    #[serde(default)]
    pub ddtags: Option<String>,
    /// `hostname` of every entry; the server's host name when absent.
    #[serde(default)]
    pub hostname: Option<String>,
    /// TLS trust.
    #[serde(default)]
    pub tls: Tls,
}

fn default_site() -> String {
    "datadoghq.com".into()
}

fn default_service() -> String {
    "sealtrail".into()
}

fn default_source() -> String {
    "sealtrail".into()
}

impl Config {
    /// The intake base URL.
    pub fn base_url(&self) -> String {
        self.url
            .clone()
            .unwrap_or_else(|| format!("https://http-intake.logs.{}", self.site))
    }
}

/// Secret settings.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// The API key.
    pub api_key: String,
}
