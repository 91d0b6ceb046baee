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

/// PLACEHOLDER until `crate::feed::ocsf::to_ocsf` (same signature) is
/// merged: replace the body of this function with a call to it. It only
/// carries the catalog's class and activity ids and keeps the whole event
/// under `unmapped`; it is not the OCSF mapping.
fn to_ocsf(event: &Map<String, Value>, catalog: &Catalog) -> Value {
    let mut out = Map::new();
    if let Some(def) = event
        .get("type")
        .and_then(Value::as_str)
        .and_then(|t| catalog.get(t))
    {
        out.insert("class_uid".into(), def.ocsf.class_uid.into());
        out.insert("category_uid".into(), def.ocsf.category_uid.into());
        out.insert("activity_id".into(), def.ocsf.activity_id.into());
        out.insert("type_uid".into(), def.ocsf.type_uid().into());
    }
    out.insert("unmapped".into(), Value::Object(event.clone()));
    Value::Object(out)
}
