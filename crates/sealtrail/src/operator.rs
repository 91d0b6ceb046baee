//! The operator plane: organizations, linking, enablement and keys.
//!
//! Each change that the compliance officer must be able to see later is
//! recorded in the organization's own log in the same commit as the change.

use sealtrail_model::Target;
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::audit::{append_own, own_event};
use crate::auth::{Minted, Scope, mint};
use crate::error::ApiError;
use crate::storage::{KeyKind, KeyRecord, Org, StoreError};
use crate::time::now_ms;

/// Checks an operator-chosen identifier.
pub fn check_id(field: &str, id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!("{field} must be 1 to 64 characters of letters, digits, '_' or '-'"),
        ))
    }
}

fn not_found_org(id: &str) -> ApiError {
    ApiError::not_found(format!("organization {id:?} does not exist"))
}

/// Creates an organization, optionally under a parent.
pub async fn create_org(
    app: &App,
    id: Option<String>,
    name: String,
    parent: Option<String>,
) -> Result<Org, ApiError> {
    let id = id.unwrap_or_else(|| crate::ids::new_prefixed_id("org"));
    check_id("id", &id)?;
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid(
            "name",
            "name must be 1 to 200 characters",
        ));
    }
    let parent_org = match &parent {
        Some(p) => Some(app.org(p).ok_or_else(|| {
            ApiError::unprocessable(
                "parent_id",
                format!("parent organization {p:?} does not exist"),
            )
        })?),
        None => None,
    };
    let org = Org {
        key: 0,
        id,
        name,
        parent: parent_org.as_ref().map(|p| p.key),
        tree: parent_org.as_ref().map(|p| p.tree).unwrap_or(0),
        enabled: false,
        logging_enabled_at: None,
        logging_disabled_at: None,
        created_ms: now_ms(),
        retention_days: None,
    };
    app.sequencer
        .run_atomic(move |b| b.insert_org(org))
        .await
        .map_err(Into::into)
}

/// Links a root organization (and everything below it) under a parent, so
/// the parent's keys read its feed.
pub async fn link_org(app: &App, child_id: &str, parent_id: &str) -> Result<Org, ApiError> {
    let child = app.org(child_id).ok_or_else(|| not_found_org(child_id))?;
    let parent = app.org(parent_id).ok_or_else(|| {
        ApiError::unprocessable(
            "parent_id",
            format!("parent organization {parent_id:?} does not exist"),
        )
    })?;
    if child.parent.is_some() {
        return Err(ApiError::conflict(format!(
            "organization {child_id} is already linked to a parent; unlink is not supported"
        )));
    }
    if app.is_within(parent.key, child.key) {
        return Err(ApiError::conflict(format!(
            "linking {child_id} under {parent_id} would make a cycle"
        )));
    }
    let members = app.subtree(child.key);
    let mut updated: Vec<Org> = members
        .iter()
        .filter_map(|k| app.org_by_key(*k))
        .map(|mut o| {
            o.tree = parent.tree;
            o
        })
        .collect();
    if let Some(c) = updated.iter_mut().find(|o| o.key == child.key) {
        c.parent = Some(parent.key);
    }
    let result = updated.iter().find(|o| o.key == child.key).cloned();
    app.sequencer
        .run_atomic(move |b| {
            for o in updated {
                b.update_org(o)?;
            }
            Ok(())
        })
        .await?;
    result.ok_or_else(|| not_found_org(child_id))
}

/// Switches recording on or off, and records the switch in the log: the
/// `compliance.enabled` event is the first of a recording period and
/// `compliance.disabled` the last.
pub async fn set_enabled(
    app: &App,
    org_id: &str,
    enabled: bool,
    by_key: &str,
) -> Result<Org, ApiError> {
    let org = app.org(org_id).ok_or_else(|| not_found_org(org_id))?;
    if org.enabled == enabled {
        return Ok(org);
    }
    let catalog = app.catalog.clone();
    let key = by_key.to_string();
    let out = app
        .sequencer
        .run_atomic(move |b| -> Result<Org, StoreError> {
            let now = now_ms();
            let mut o = b.org_now(org.key).unwrap_or(org);
            let ty = if enabled {
                "compliance.enabled"
            } else {
                "compliance.disabled"
            };
            let target = Some(Target {
                target_type: "organization".into(),
                id: Some(o.id.clone()),
                name: None,
            });
            if enabled {
                o.enabled = true;
                o.logging_enabled_at = Some(now);
                b.update_org(o.clone())?;
                // The switch and its record carry the same instant.
                let mut ev = own_event(ty, &o, &key, target, Map::new());
                ev.created_at = jiff::Timestamp::from_millisecond(now).unwrap_or(ev.created_at);
                append_own(b, &catalog, &o, &ev)?;
            } else {
                let mut ev = own_event(ty, &o, &key, target, Map::new());
                ev.created_at = jiff::Timestamp::from_millisecond(now).unwrap_or(ev.created_at);
                append_own(b, &catalog, &o, &ev)?;
                o.enabled = false;
                o.logging_disabled_at = Some(now);
                b.update_org(o.clone())?;
            }
            Ok(o)
        })
        .await;
    out.map_err(Into::into)
}

/// Parameters of a new key.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// Ingest or compliance.
    pub kind: KeyKind,
    /// Organization id.
    pub org_id: String,
    /// Product (ingest keys).
    pub product: Option<String>,
    /// Scopes (compliance keys).
    pub scopes: Vec<String>,
    /// Label.
    pub name: String,
    /// Expiry (ms).
    pub expires_ms: Option<i64>,
}

/// Creates a key and records its creation; returns the token once.
pub async fn create_key(app: &App, req: NewKey, by_key: &str) -> Result<Minted, ApiError> {
    let org = app.org(&req.org_id).ok_or_else(|| {
        ApiError::unprocessable(
            "organization_id",
            format!("organization {:?} does not exist", req.org_id),
        )
    })?;
    if req.name.chars().count() > 200 {
        return Err(ApiError::invalid(
            "name",
            "name must be at most 200 characters",
        ));
    }
    if let Some(e) = req.expires_ms
        && e <= now_ms()
    {
        return Err(ApiError::invalid(
            "expires_at",
            "expires_at must be in the future",
        ));
    }
    match req.kind {
        KeyKind::Ingest => {
            let p = req.product.as_deref().unwrap_or("");
            let ok = !p.is_empty()
                && p.len() <= 64
                && p.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if !ok {
                return Err(ApiError::invalid(
                    "product",
                    "an ingest key needs a product: 1 to 64 characters of a-z, 0-9, '_' or '-'",
                ));
            }
            if p == "sealtrail" {
                return Err(ApiError::invalid(
                    "product",
                    "the product name \"sealtrail\" is reserved",
                ));
            }
        }
        KeyKind::Compliance => {
            if req.scopes.is_empty() {
                return Err(ApiError::invalid(
                    "scopes",
                    "a compliance key needs at least one scope",
                ));
            }
            for s in &req.scopes {
                if Scope::parse(s).is_none() {
                    let all: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                    return Err(ApiError::invalid(
                        "scopes",
                        format!("unknown scope {s:?}; scopes are {}", all.join(", ")),
                    ));
                }
            }
        }
        KeyKind::Operator => {
            return Err(ApiError::invalid(
                "kind",
                "operator keys are configured, not created",
            ));
        }
    }
    let minted = mint(
        req.kind,
        Some(org.key),
        req.product.clone(),
        req.scopes.clone(),
        req.name.clone(),
        req.expires_ms,
    );
    app.store.insert_key(&minted.record)?;
    if req.kind == KeyKind::Compliance {
        let md = json!({ "scopes": req.scopes, "name": req.name });
        record_key_event(
            app,
            &org,
            "compliance.key_created",
            &minted.record,
            by_key,
            md,
        )
        .await?;
    }
    Ok(minted)
}

async fn record_key_event(
    app: &App,
    org: &Org,
    ty: &'static str,
    rec: &KeyRecord,
    by_key: &str,
    md: Value,
) -> Result<(), ApiError> {
    let catalog = app.catalog.clone();
    let ev = own_event(
        ty,
        org,
        by_key,
        Some(Target {
            target_type: "compliance_key".into(),
            id: Some(rec.id.clone()),
            name: None,
        }),
        md.as_object().cloned().unwrap_or_default(),
    );
    let org = org.clone();
    app.sequencer
        .run_atomic(move |b| append_own(b, &catalog, &org, &ev))
        .await?;
    Ok(())
}

/// Revokes a key; immediate for every later request.
pub async fn revoke_key(app: &App, key_id: &str, by_key: &str) -> Result<KeyRecord, ApiError> {
    let rec = app
        .store
        .key(key_id)?
        .ok_or_else(|| ApiError::not_found(format!("key {key_id:?} does not exist")))?;
    if rec.kind == KeyKind::Operator && rec.id == by_key {
        return Err(ApiError::conflict("an operator key cannot revoke itself"));
    }
    let revoked = app.store.revoke_key(key_id, now_ms());
    // Dropped whatever the outcome: the next request reads the stored row.
    app.keys.forget(key_id);
    revoked?;
    if rec.kind == KeyKind::Compliance
        && rec.revoked_ms.is_none()
        && let Some(org) = rec.org.and_then(|k| app.org_by_key(k))
    {
        record_key_event(app, &org, "compliance.key_revoked", &rec, by_key, json!({})).await?;
    }
    app.store
        .key(key_id)?
        .ok_or_else(|| ApiError::not_found(format!("key {key_id:?} does not exist")))
}
