//! What a user writes for a syslog sink.

use serde::{Deserialize, Serialize};

use crate::delivery::tls::Tls;

/// How the bytes travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Plain TCP with octet counting.
    Tcp,
    /// TLS (RFC 5425) with octet counting.
    Tls,
}

/// The message body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The event as one line of JSON (in the sink's encoding).
    Json,
    /// ArcSight Common Event Format.
    Cef,
    /// IBM QRadar Log Event Extended Format 2.0.
    Leef,
}

/// Destination settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Receiver host name or address.
    pub host: String,
    /// Receiver port (6514 is the TLS convention, 601 or 514 for TCP).
    pub port: u16,
    /// `tcp` or `tls`.
    pub transport: Transport,
    /// `json`, `cef` or `leef`.
    #[serde(default = "default_format")]
    pub format: Format,
    /// Syslog facility: 13 (log audit) by default, 10 (authpriv) is the
    /// other common choice.
    #[serde(default = "default_facility")]
    pub facility: u8,
    /// `APP-NAME` of every message.
    #[serde(default = "default_app")]
    pub app_name: String,
    /// `HOSTNAME` of every message; the server's host name when absent.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Add `[sealtrail@32473 id=… org=… seq=…]` structured data (32473 is
    /// the documentation enterprise number of RFC 5612; change it with
    /// `sd_id` if you hold your own).
    #[serde(default = "default_true")]
    pub structured_data: bool,
    /// The SD-ID used for that structured data.
    #[serde(default = "default_sd_id")]
    pub sd_id: String,
    /// The LEEF attribute delimiter (one character).
    #[serde(default = "default_delimiter")]
    pub leef_delimiter: char,
    /// TLS server name to verify, when it differs from `host`.
    #[serde(default)]
    pub tls_server_name: Option<String>,
    /// TLS trust.
    #[serde(default)]
    pub tls: Tls,
}

fn default_format() -> Format {
    Format::Json
}

fn default_facility() -> u8 {
    13
}

fn default_app() -> String {
    "sealtrail".into()
}

fn default_true() -> bool {
    true
}

fn default_sd_id() -> String {
    "sealtrail@32473".into()
}

fn default_delimiter() -> char {
    '^'
}

/// Syslog sinks hold no secrets (TLS trust is public).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {}
