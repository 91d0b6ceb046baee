//! Turning stored events into the activities clients read: opening the
//! personal-data envelopes that can still be opened, and adding the log
//! position.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::error::ApiError;
use crate::ids::ActivityId;
use crate::log::entry;
use crate::privacy::keycache::HeldKey;
use crate::privacy::split::{self, Openings};
use crate::storage::{OrgKey, StoredEvent};

/// Renders events. Subject keys come from the shared cache
/// (`privacy::keycache`); this response also remembers those it found
/// missing or erased, and drops (zeroes) its copies when it ends.
pub struct Renderer<'a> {
    app: &'a App,
    keys: HashMap<(OrgKey, Vec<u8>), Option<HeldKey>>,
}

impl<'a> Renderer<'a> {
    /// A renderer for one response.
    pub fn new(app: &'a App) -> Renderer<'a> {
        Renderer {
            app,
            keys: HashMap::new(),
        }
    }

    fn key(&mut self, org: OrgKey, subject: &[u8]) -> Result<Option<HeldKey>, ApiError> {
        if let Some(k) = self.keys.get(&(org, subject.to_vec())) {
            return Ok(k.clone());
        }
        let k =
            self.app
                .subject_keys
                .get(self.app.store.as_ref(), &self.app.master, org, subject)?;
        self.keys.insert((org, subject.to_vec()), k.clone());
        Ok(k)
    }

    /// The openings of an event's personal data that are still available.
    pub fn openings(&mut self, ev: &StoredEvent) -> Result<Openings, ApiError> {
        let mut out = Openings::new();
        let Some(pii) = &ev.pii else {
            return Ok(out);
        };
        let envs = split::decode_envelopes(pii).map_err(ApiError::internal)?;
        for env in envs {
            if let Some(k) = self.key(ev.org, &env.subject)?
                && let Ok(o) = split::open_envelope(&k, &env)
            {
                out.extend(o);
            }
        }
        Ok(out)
    }

    /// The public form of a stored event.
    pub fn render(
        &mut self,
        ev: &StoredEvent,
        include_proof: bool,
    ) -> Result<Map<String, Value>, ApiError> {
        let id = ActivityId::new(ev.received_ms as u64, ev.gseq).to_string();
        let mut out = match &ev.entry {
            Some(bytes) => {
                let openings = self.openings(ev)?;
                let r = entry::render(bytes, &openings).map_err(ApiError::internal)?;
                let mut m = r.event;
                if !r.erased.is_empty() {
                    m.insert("erased_fields".into(), json!(r.erased));
                }
                m
            }
            None => {
                let mut m = Map::new();
                m.insert("id".into(), json!(id));
                if let Some(o) = self.app.org_by_key(ev.org) {
                    m.insert("organization_id".into(), json!(o.id));
                }
                m.insert("type".into(), json!(ev.activity_type));
                m.insert(
                    "created_at".into(),
                    json!(crate::time::fmt_ms(ev.created_ms)),
                );
                m.insert(
                    "received_at".into(),
                    json!(crate::time::fmt_ms(ev.received_ms)),
                );
                m.insert("pruned".into(), json!(true));
                m
            }
        };
        let mut log = Map::new();
        log.insert("seq".into(), json!(ev.seq));
        log.insert("leaf_hash".into(), json!(B64.encode(ev.leaf)));
        if include_proof {
            log.insert(
                "inclusion_proof".into(),
                crate::log::proofs::inclusion_for_feed(self.app, ev)?,
            );
        }
        out.insert("log".into(), Value::Object(log));
        Ok(out)
    }
}
