//! How a sink renders each event: Sealtrail's own JSON, or OCSF.
//!
//! The choice is per sink (`"encoding": "json" | "ocsf"`). Wire formats
//! with their own field dictionary (CEF, LEEF) map from the JSON form
//! whatever the choice, since their keys are fixed by those formats.

use sealtrail_model::Catalog;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The body encoding of a sink.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// The activity exactly as the feed returns it.
    #[default]
    Json,
    /// The activity mapped to an OCSF event class.
    Ocsf,
}

impl Encoding {
    /// Renders one feed event in this encoding.
    pub fn apply(&self, event: &Map<String, Value>, catalog: &Catalog) -> Value {
        match self {
            Encoding::Json => Value::Object(event.clone()),
            Encoding::Ocsf => to_ocsf(event, catalog),
        }
    }
}

/// The OCSF form of an activity, the same as the feed's `format=ocsf`.
fn to_ocsf(event: &Map<String, Value>, catalog: &Catalog) -> Value {
    crate::feed::ocsf::to_ocsf(event, catalog)
}
