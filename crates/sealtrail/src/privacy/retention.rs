//! Retention, legal holds and the pruner.
//!
//! Pruning removes an event's body and personal data but keeps its leaf
//! hash, so the tree, every checkpoint and the proofs of surviving events
//! stay valid. A legal hold on an organization (or an ancestor) stops all
//! pruning and erasure there; a hold on a subject keeps that subject's
//! events and blocks their erasure.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, json};

use super::erasure::SubjectSpec;
use crate::app::App;
use crate::audit::{append_own, own_event};
use crate::error::ApiError;
use crate::storage::{LegalHold, Org, StoreError};
use crate::time::now_ms;

const DAY_MS: i64 = 86_400_000;

/// Sets (or clears, with `None`) an organization's retention.
pub async fn set_retention(
    app: &App,
    org: &Org,
    days: Option<u32>,
    key_id: &str,
    reader: &Org,
) -> Result<Org, ApiError> {
    if let Some(d) = days {
        let (lo, hi) = (app.config.retention_min_days, app.config.retention_max_days);
        if d < lo || d > hi {
            return Err(ApiError::invalid(
                "days",
                format!(
                    "retention must be between {lo} and {hi} days (configured bounds), got {d}"
                ),
            ));
        }
    }
    let catalog = app.catalog.clone();
    let mut updated = org.clone();
    updated.retention_days = days;
    let key = key_id.to_string();
    let reader = reader.clone();
    let before = org.retention_days;
    app.sequencer
        .run_atomic(move |b| {
            b.update_org(updated.clone())?;
            let mut md = Map::new();
            md.insert("organization_id".into(), json!(updated.id));
            md.insert("retention_days".into(), json!(days));
            let mut ev = own_event("compliance.retention_changed", &reader, &key, None, md);
            ev.changes = vec![sealtrail_model::Change {
                field: "retention_days".into(),
                old: Some(json!(before)),
                new: Some(json!(days)),
            }];
            append_own(b, &catalog, &reader, &ev)?;
            Ok(updated)
        })
        .await
        .map_err(Into::into)
}

/// The subject reference a hold or erasure uses in one organization.
pub fn subject_ref(app: &App, org: &Org, spec: &SubjectSpec) -> Option<Vec<u8>> {
    let s = spec.id.clone().or_else(|| {
        spec.email
            .as_ref()
            .map(|e| format!("email:{}", e.to_lowercase()))
    })?;
    Some(app.master.subject_ref(&org.id, &s))
}

/// Places a legal hold on an organization, or on a subject in it.
pub async fn place_hold(
    app: &App,
    org: &Org,
    subject: Option<SubjectSpec>,
    reason: String,
    key_id: &str,
    reader: &Org,
) -> Result<LegalHold, ApiError> {
    if reason.trim().is_empty() || reason.chars().count() > 200 {
        return Err(ApiError::invalid(
            "reason",
            "reason must be 1 to 200 characters (a case reference, not personal data)",
        ));
    }
    let sref = match &subject {
        Some(s) => {
            super::erasure::validate(s)?;
            subject_ref(app, org, s)
        }
        None => None,
    };
    let hold = LegalHold {
        id: crate::ids::new_prefixed_id("hold"),
        org: org.key,
        subject: sref.clone(),
        reason,
        created_ms: now_ms(),
        released_ms: None,
    };
    let h2 = hold.clone();
    let catalog = app.catalog.clone();
    let key = key_id.to_string();
    let reader = reader.clone();
    let org_id = org.id.clone();
    app.sequencer
        .run_atomic(move |b| {
            b.txn().insert_hold(&h2)?;
            let mut md = Map::new();
            md.insert("hold_id".into(), json!(h2.id));
            md.insert("organization_id".into(), json!(org_id));
            md.insert(
                "scope".into(),
                json!(if h2.subject.is_some() {
                    "subject"
                } else {
                    "organization"
                }),
            );
            if let Some(s) = &h2.subject {
                md.insert("subject_pseudonym".into(), json!(hex::encode(s)));
            }
            md.insert("reason".into(), json!(h2.reason));
            let ev = own_event("compliance.legal_hold_set", &reader, &key, None, md);
            append_own(b, &catalog, &reader, &ev)?;
            Ok(())
        })
        .await?;
    Ok(hold)
}

/// Releases a legal hold.
pub async fn release_hold(
    app: &App,
    id: &str,
    key_id: &str,
    reader: &Org,
) -> Result<LegalHold, ApiError> {
    let hold = app
        .store
        .holds()?
        .into_iter()
        .find(|h| h.id == id && app.is_within(h.org, reader.key))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "legal hold {id:?} does not exist or is not visible to this key"
            ))
        })?;
    if hold.released_ms.is_some() {
        return Ok(hold);
    }
    let catalog = app.catalog.clone();
    let key = key_id.to_string();
    let reader2 = reader.clone();
    let id2 = id.to_string();
    let at = now_ms();
    app.sequencer
        .run_atomic(move |b| {
            b.txn().release_hold(&id2, at)?;
            let mut md = Map::new();
            md.insert("hold_id".into(), json!(id2));
            let ev = own_event("compliance.legal_hold_released", &reader2, &key, None, md);
            append_own(b, &catalog, &reader2, &ev)?;
            Ok(())
        })
        .await?;
    Ok(LegalHold {
        released_ms: Some(at),
        ..hold
    })
}

/// Whether an organization-wide hold covers `org` (on it or an ancestor).
pub fn org_held(app: &App, holds: &[LegalHold], org: &Org) -> bool {
    holds
        .iter()
        .any(|h| h.released_ms.is_none() && h.subject.is_none() && app.is_within(org.key, h.org))
}

/// The first sequence of `org` stored at or after `cutoff_ms`: received
/// times never decrease along a log, so a binary search finds it.
fn first_seq_since(app: &App, org: &Org, size: u64, cutoff_ms: i64) -> Result<u64, StoreError> {
    let (mut lo, mut hi) = (0u64, size);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let ev = app
            .store
            .event_by_seq(org.key, mid)?
            .ok_or_else(|| StoreError::Corrupt(format!("{} is missing seq {mid}", org.id)))?;
        if ev.received_ms < cutoff_ms {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// Prunes every organization's events past retention. Returns how many
/// event bodies were removed.
pub async fn prune_due(app: &App) -> Result<u64, ApiError> {
    prune_due_at(app, now_ms()).await
}

/// [`prune_due`] as if the time were `now` (ms): lets tests and operators
/// see what a later run will remove.
pub async fn prune_due_at(app: &App, now: i64) -> Result<u64, ApiError> {
    let holds = app.store.holds()?;
    let mut total = 0;
    for org in app.orgs() {
        let days = match org.retention_days {
            Some(d) => d,
            None if app.config.default_retention_days > 0 => app.config.default_retention_days,
            None => continue,
        };
        if org_held(app, &holds, &org) {
            continue;
        }
        let held: Vec<Vec<u8>> = holds
            .iter()
            .filter(|h| h.released_ms.is_none() && h.org == org.key)
            .filter_map(|h| h.subject.clone())
            .collect();
        let size = app.store.head(org.key)?.frontier.size();
        let cutoff = now - i64::from(days) * DAY_MS;
        let below = first_seq_since(app, &org, size, cutoff)?;
        if below == 0 {
            continue;
        }
        let catalog = app.catalog.clone();
        let o = org.clone();
        let n = app
            .sequencer
            .run_atomic(move |b| {
                let n = b.txn().prune(o.key, below, &held)?;
                if n > 0 {
                    let mut md = Map::new();
                    md.insert("events_pruned".into(), json!(n));
                    md.insert("below_seq".into(), json!(below));
                    md.insert("retention_days".into(), json!(days));
                    let ev = own_event(
                        "compliance.retention_pruned",
                        &o,
                        "sealtrail-pruner",
                        None,
                        md,
                    );
                    append_own(b, &catalog, &o, &ev)?;
                }
                Ok(n)
            })
            .await?;
        total += n;
    }
    // Engines with time partitions can then drop whole months of bodies
    // that every organization has already pruned.
    if let Some(cutoff) = partition_cutoff(app, &holds, now) {
        let store = app.store.clone();
        tokio::task::spawn_blocking(move || store.drop_partitions_before(cutoff))
            .await
            .map_err(ApiError::internal)??;
    }
    if total > 0 {
        let store = app.store.clone();
        tokio::task::spawn_blocking(move || store.scrub())
            .await
            .map_err(ApiError::internal)??;
    }
    Ok(total)
}

/// The time before which every stored event has been pruned: the oldest
/// retention cutoff over all organizations, or `None` when any
/// organization keeps events forever or any legal hold is active (a held
/// event keeps its body, so its partition must stay).
fn partition_cutoff(app: &App, holds: &[LegalHold], now: i64) -> Option<i64> {
    if holds.iter().any(|h| h.released_ms.is_none()) {
        return None;
    }
    let mut cutoff: Option<i64> = None;
    for org in app.orgs() {
        let days = match org.retention_days {
            Some(d) => d,
            None if app.config.default_retention_days > 0 => app.config.default_retention_days,
            None => return None,
        };
        let c = now - i64::from(days) * DAY_MS;
        cutoff = Some(cutoff.map_or(c, |m| m.min(c)));
    }
    cutoff
}

/// Runs the pruner every `interval` until `stop` fires.
pub async fn run(app: Arc<App>, interval: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        match prune_due(&app).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "pruned event bodies past retention"),
            Err(e) => tracing::error!(error = %e, "pruning failed"),
        }
    }
}
