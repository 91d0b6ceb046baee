//! Building an evidence bundle from storage.
//!
//! Every organization in the selection gets a fresh checkpoint first (if
//! its log grew since the last one), and only events below that
//! checkpoint are exported, so every event in a bundle is covered by a
//! signed tree head and a whole-log export is a complete snapshot.

use std::collections::{BTreeMap, HashMap};

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sealtrail_tlog::{Hash, consistency_proof, inclusion_proof};
use serde_json::{Map, Value};

use super::{
    BUNDLE_FORMAT, Bundle, CheckpointEvidence, ConsistencyEvidence, EventEvidence, LogEvidence,
    MAX_BUNDLE_EVENTS, OpeningEvidence, Selection,
};
use crate::app::App;
use crate::error::ApiError;
use crate::feed::params::FeedParams;
use crate::feed::render::Renderer;
use crate::ids::ActivityId;
use crate::log::checkpoint::{origin, sign_org};
use crate::log::proofs::subtree_hash_in;
use crate::storage::{CheckpointRecord, OrgKey, Scan, StoreError, StoredEvent};

/// Rows read per storage query while collecting events.
const PAGE: usize = 5000;

/// What to export.
#[derive(Clone, Debug)]
pub struct ExportRequest {
    /// Feed filters (ignored for a whole-log export).
    pub params: FeedParams,
    /// Export every event of this organization's log instead.
    pub whole_log: Option<String>,
    /// The filters as the caller sent them, echoed into the bundle.
    pub filters_echo: Map<String, Value>,
    /// Per organization id, the size of a checkpoint the caller already
    /// holds; the bundle then proves the new checkpoint consistent with it.
    pub consistency_from: BTreeMap<String, u64>,
}

fn too_many(n: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "the selection has {n} or more events, more than the {MAX_BUNDLE_EVENTS} a bundle may hold; narrow it (for example with created_at.gte / created_at.lt) and export several bundles"
        ),
    )
}

/// Subtree hashes read once per export: neighbouring events share most of
/// their proof nodes.
struct Subtrees<'a> {
    app: &'a App,
    cache: HashMap<(OrgKey, u32, u64), Hash>,
}

impl Subtrees<'_> {
    /// A complete subtree of the tree of `size` leaves.
    fn get(&mut self, org: OrgKey, size: u64, level: u32, index: u64) -> Result<Hash, StoreError> {
        if let Some(h) = self.cache.get(&(org, level, index)) {
            return Ok(*h);
        }
        let h = subtree_hash_in(
            self.app.store.as_ref(),
            &self.app.tiles,
            org,
            size,
            level,
            index,
        )?;
        self.cache.insert((org, level, index), h);
        Ok(h)
    }

    fn inclusion(&mut self, org: OrgKey, seq: u64, size: u64) -> Result<Vec<String>, ApiError> {
        let p = inclusion_proof(seq, size, &mut |l, i| self.get(org, size, l, i))
            .map_err(|e| ApiError::internal(format!("inclusion proof of seq {seq}: {e}")))?;
        Ok(p.iter().map(|h| B64.encode(h)).collect())
    }

    fn consistency(&mut self, org: OrgKey, a: u64, b: u64) -> Result<Vec<String>, ApiError> {
        let p = consistency_proof(a, b, &mut |l, i| self.get(org, b, l, i))
            .map_err(|e| ApiError::internal(format!("consistency proof {a}..{b}: {e}")))?;
        Ok(p.iter().map(|h| B64.encode(h)).collect())
    }
}

/// Signs a checkpoint for `org` if its log grew, and returns the newest.
fn fresh_checkpoint(app: &App, org: OrgKey) -> Result<Option<CheckpointRecord>, ApiError> {
    let Some(o) = app.org_by_key(org) else {
        return Ok(None);
    };
    sign_org(app, &o).map_err(|e| ApiError::internal(format!("cannot sign a checkpoint: {e}")))?;
    Ok(app.store.latest_checkpoint(org)?)
}

/// Builds a bundle for a reader whose scope is rooted at `scope_root`.
pub fn build(app: &App, scope_root: OrgKey, req: &ExportRequest) -> Result<Bundle, ApiError> {
    let orgs: Vec<OrgKey> = match &req.whole_log {
        Some(id) => match app.org(id) {
            Some(o) if app.is_within(o.key, scope_root) => vec![o.key],
            _ => {
                return Err(ApiError::forbidden(format!(
                    "organization {id:?} is not readable with this key"
                ))
                .with_field("organization_id"));
            }
        },
        None => crate::feed::resolve_orgs(app, scope_root, &req.params.organization_ids)?,
    };

    // 1. A checkpoint covering everything committed so far, per log.
    let mut cps: HashMap<OrgKey, CheckpointRecord> = HashMap::new();
    for &org in &orgs {
        if let Some(cp) = fresh_checkpoint(app, org)? {
            cps.insert(org, cp);
        }
    }

    // 2. The events below those checkpoints.
    let mut events: Vec<StoredEvent> = Vec::new();
    let mut cursor: Option<u64> = None;
    if let Some(id) = &req.whole_log {
        let org = orgs[0];
        let size = cps.get(&org).map_or(0, |c| c.size);
        if size == 0 {
            return Err(ApiError::conflict(format!(
                "the log of {id} is empty: there is nothing to export yet"
            )));
        }
        if size as usize > MAX_BUNDLE_EVENTS {
            return Err(too_many(size as usize));
        }
        let base = FeedParams::default();
        'outer: loop {
            let q = crate::feed::build_query(app, &[org], &base, Scan::Asc, cursor, PAGE);
            let rows = app.store.query(&q)?;
            let done = rows.len() < PAGE;
            for r in rows {
                cursor = Some(r.gseq);
                if r.seq >= size {
                    break 'outer;
                }
                events.push(r);
            }
            if done {
                break;
            }
        }
    } else {
        loop {
            let q = crate::feed::build_query(app, &orgs, &req.params, Scan::Asc, cursor, PAGE);
            let rows = app.store.query(&q)?;
            let done = rows.len() < PAGE;
            for r in rows {
                cursor = Some(r.gseq);
                if cps.get(&r.org).is_some_and(|c| r.seq < c.size) {
                    events.push(r);
                }
            }
            if events.len() > MAX_BUNDLE_EVENTS {
                return Err(too_many(events.len()));
            }
            if done {
                break;
            }
        }
    }

    // 3. Proofs, openings and the displayed form of each event.
    let mut subtrees = Subtrees {
        app,
        cache: HashMap::new(),
    };
    let mut renderer = Renderer::new(app);
    let mut out_events = Vec::with_capacity(events.len());
    let mut involved: Vec<OrgKey> = Vec::new();
    for ev in &events {
        let Some(cp) = cps.get(&ev.org) else {
            continue;
        };
        let org_id = app.org_by_key(ev.org).map(|o| o.id).unwrap_or_default();
        if !involved.contains(&ev.org) {
            involved.push(ev.org);
        }
        let (entry, openings, display) = match &ev.entry {
            Some(bytes) => {
                let text = String::from_utf8(bytes.clone()).map_err(|_| {
                    ApiError::internal(format!(
                        "the stored entry of {org_id} seq {} is not UTF-8",
                        ev.seq
                    ))
                })?;
                let openings: BTreeMap<String, OpeningEvidence> = renderer
                    .openings(ev)?
                    .into_iter()
                    .map(|(k, o)| {
                        (
                            k,
                            OpeningEvidence {
                                salt: o.salt,
                                value: o.value,
                            },
                        )
                    })
                    .collect();
                let display = renderer.render(ev, false)?;
                (Some(text), openings, Some(display))
            }
            None => (None, BTreeMap::new(), None),
        };
        let id = display
            .as_ref()
            .and_then(|d| d.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| ActivityId::new(ev.received_ms as u64, ev.gseq).to_string());
        out_events.push(EventEvidence {
            id,
            organization_id: org_id,
            seq: ev.seq,
            leaf_index: ev.seq,
            leaf_hash: B64.encode(ev.leaf),
            entry,
            openings,
            display,
            tree_size: cp.size,
            inclusion_proof: subtrees.inclusion(ev.org, ev.seq, cp.size)?,
        });
    }

    // 4. Per log: the checkpoint used, and any the caller already holds.
    for id in req.consistency_from.keys() {
        let known = app.org(id).is_some_and(|o| involved.contains(&o.key));
        if !known {
            return Err(ApiError::unprocessable(
                "consistency_from",
                format!("organization {id:?} has no events in this bundle"),
            ));
        }
    }
    let mut logs = Vec::with_capacity(involved.len());
    for org in involved {
        let Some(o) = app.org_by_key(org) else {
            continue;
        };
        let Some(cp) = cps.get(&org) else {
            continue;
        };
        let mut checkpoints = Vec::new();
        let mut consistency = Vec::new();
        // A checkpoint the caller holds cannot be larger than the one just
        // signed over everything committed: refuse it rather than leave it
        // silently out of the bundle.
        if let Some(&old) = req.consistency_from.get(&o.id)
            && old > cp.size
        {
            return Err(ApiError::unprocessable(
                "consistency_from",
                format!(
                    "tree size {old} of {} is beyond its log's size {}",
                    o.id, cp.size
                ),
            ));
        }
        if let Some(&old) = req.consistency_from.get(&o.id)
            && old < cp.size
        {
            let prev = app
                .store
                .checkpoint_covering(org, old)?
                .filter(|c| c.size == old)
                .ok_or_else(|| {
                    ApiError::unprocessable(
                        "consistency_from",
                        format!("no checkpoint of {} was signed at tree size {old}", o.id),
                    )
                })?;
            consistency.push(ConsistencyEvidence {
                first: old,
                second: cp.size,
                proof: subtrees.consistency(org, old, cp.size)?,
            });
            checkpoints.push(cp_evidence(&prev));
        }
        checkpoints.push(cp_evidence(cp));
        logs.push(LogEvidence {
            origin: origin(&app.config.log_name, &o.id),
            organization_id: o.id,
            checkpoints,
            consistency,
        });
    }

    Ok(Bundle {
        format: BUNDLE_FORMAT.into(),
        created_at: crate::time::fmt_ms(crate::time::now_ms()),
        log_name: app.config.log_name.clone(),
        verifier_keys: app.signer.verifier_keys(),
        selection: match &req.whole_log {
            Some(id) => Selection {
                kind: "log".into(),
                organization_id: Some(id.clone()),
                filters: Map::new(),
            },
            None => Selection {
                kind: "filter".into(),
                organization_id: None,
                filters: req.filters_echo.clone(),
            },
        },
        logs,
        events: out_events,
    })
}

fn cp_evidence(cp: &CheckpointRecord) -> CheckpointEvidence {
    CheckpointEvidence {
        tree_size: cp.size,
        root_hash: B64.encode(cp.root),
        note: cp.note.clone(),
    }
}
