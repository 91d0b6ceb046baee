//! What a user writes for a webhook sink.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;

use crate::delivery::settings::Invalid;
use crate::delivery::tls::Tls;

/// Destination settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to POST.
    pub url: String,
    /// Extra request headers (not secret; routing hints and the like).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// TLS trust.
    #[serde(default)]
    pub tls: Tls,
}

/// Secret settings.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// The signing secret, `whsec_<base64>` as Standard Webhooks writes it.
    pub secret: String,
}

impl Secrets {
    /// The HMAC key: the base64 part after `whsec_`.
    pub fn key(&self) -> Result<Vec<u8>, Invalid> {
        let b64 = self.secret.strip_prefix("whsec_").unwrap_or(&self.secret);
        let key = B64.decode(b64).map_err(|_| {
            (
                "secrets.secret".to_string(),
                "the signing secret must be whsec_ followed by base64".to_string(),
            )
        })?;
        if !(24..=64).contains(&key.len()) {
            return Err((
                "secrets.secret".into(),
                "the signing secret must decode to 24 to 64 bytes".into(),
            ));
        }
        Ok(key)
    }
}
