//! The compliance plane over HTTP: the feed, single events, organizations
//! in scope, and the integrity endpoints. Every call is recorded as
//! `compliance_api.accessed` after its response is built.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use super::{AppState, PathId, Reader, json, query_map, reader};
use crate::auth::Scope;
use crate::error::ApiError;
use crate::feed::{self, params::FeedParams};
use crate::ids::ActivityId;
use crate::log::proofs;
use crate::storage::Org;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

/// `GET /v1/compliance/activities`.
pub async fn list(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::ReadActivities).await?;
    let q = q.unwrap_or_default();
    let started = std::time::Instant::now();
    let p = FeedParams::parse(&q)?;
    let a = app.clone();
    let org = r.org;
    let page = blocking(move || feed::page(&a, org, &p)).await?;
    app.metrics
        .feed_seconds
        .observe(started.elapsed().as_secs_f64());
    r.record(
        &app,
        "GET /v1/compliance/activities",
        &q,
        Some(page.data.len()),
    );
    Ok(r.decorate(json(StatusCode::OK, &page)))
}

/// `GET /v1/compliance/activities/{id}`.
pub async fn get_one(
    State(app): State<AppState>,
    headers: HeaderMap,
    PathId(id): PathId,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::ReadActivities).await?;
    let q = q.unwrap_or_default();
    let mut include_proof = false;
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        match (k.as_ref(), v.as_ref()) {
            ("include_proof", "true") => include_proof = true,
            ("include_proof", "false") => include_proof = false,
            (k, _) => {
                return Err(ApiError::invalid(
                    k,
                    format!("unknown or malformed query parameter {k:?}"),
                ));
            }
        }
    }
    let aid: ActivityId = id
        .parse()
        .map_err(|e| ApiError::invalid("id", format!("{id:?} is not an activity id: {e}")))?;
    let a = app.clone();
    let scope = r.org;
    let ev = blocking(move || {
        let ev = a.store.event_by_gseq(aid.gseq())?;
        let ev = ev.filter(|e| a.is_within(e.org, scope)).ok_or_else(|| {
            ApiError::not_found(format!(
                "activity {id} does not exist or is not readable with this key"
            ))
        })?;
        let mut rnd = feed::render::Renderer::new(&a);
        rnd.render(&ev, include_proof)
    })
    .await?;
    r.record(&app, "GET /v1/compliance/activities/{id}", &q, Some(1));
    Ok(r.decorate(json(StatusCode::OK, &Value::Object(ev))))
}

/// `GET /v1/compliance/organizations`: what this key can read, and where
/// recording coverage begins for each.
pub async fn organizations(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::ReadActivities).await?;
    let data: Vec<Value> = app
        .subtree(r.org)
        .into_iter()
        .filter_map(|k| app.org_by_key(k))
        .map(|o| {
            json!({
                "id": o.id,
                "name": o.name,
                "parent_id": o.parent.and_then(|k| app.org_by_key(k)).map(|p| p.id),
                "logging_enabled": o.enabled,
                "logging_enabled_at": o.logging_enabled_at.map(crate::time::fmt_ms),
                "logging_disabled_at": o.logging_disabled_at.map(crate::time::fmt_ms),
            })
        })
        .collect();
    r.record(
        &app,
        "GET /v1/compliance/organizations",
        "",
        Some(data.len()),
    );
    Ok(r.decorate(json(StatusCode::OK, &json!({ "data": data }))))
}

fn org_param(
    app: &AppState,
    r: &Reader,
    q: &Map<String, Value>,
    field: &str,
) -> Result<Org, ApiError> {
    let id = match q.get(field).and_then(Value::as_str) {
        Some(id) => id.to_string(),
        None => match app.org_by_key(r.org) {
            Some(o) => o.id,
            None => return Err(ApiError::invalid(field, format!("{field} is required"))),
        },
    };
    match app.org(&id) {
        Some(o) if app.is_within(o.key, r.org) => Ok(o),
        _ => Err(
            ApiError::forbidden(format!("organization {id:?} is not readable with this key"))
                .with_field(field),
        ),
    }
}

fn u64_param(q: &Map<String, Value>, field: &str) -> Result<Option<u64>, ApiError> {
    q.get(field)
        .and_then(Value::as_str)
        .map(|s| {
            s.parse::<u64>()
                .map_err(|_| ApiError::invalid(field, format!("{field} must be a whole number")))
        })
        .transpose()
}

/// `GET /v1/compliance/integrity/checkpoint?organization_id=`: the newest
/// signed checkpoint, as a C2SP signed note (text) or JSON.
pub async fn checkpoint(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::ReadIntegrity).await?;
    let q = q.unwrap_or_default();
    let m = query_map(&q, &["organization_id", "size"])?;
    let org = org_param(&app, &r, &m, "organization_id")?;
    let want = u64_param(&m, "size")?;
    let a = app.clone();
    let key = org.key;
    let cp = blocking(move || {
        Ok(match want {
            Some(s) => a.store.checkpoint_covering(key, s)?.filter(|c| c.size == s),
            None => a.store.latest_checkpoint(key)?,
        })
    })
    .await?
    .ok_or_else(|| {
        ApiError::not_found(format!("no checkpoint has been signed for {} yet", org.id))
    })?;
    r.record(&app, "GET /v1/compliance/integrity/checkpoint", &q, Some(1));
    let wants_text = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/plain"));
    if wants_text {
        return Ok(r.decorate(
            (
                StatusCode::OK,
                [("content-type", "text/plain; charset=utf-8")],
                cp.note,
            )
                .into_response(),
        ));
    }
    Ok(r.decorate(json(
        StatusCode::OK,
        &json!({
            "organization_id": org.id,
            "origin": crate::log::checkpoint::origin(&app.config.log_name, &org.id),
            "tree_size": cp.size,
            "root_hash": B64.encode(cp.root),
            "signed_at": crate::time::fmt_ms(cp.signed_ms),
            "note": cp.note,
        }),
    )))
}

/// `GET /v1/compliance/integrity/inclusion?activity_id=&tree_size=`.
pub async fn inclusion(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::ReadIntegrity).await?;
    let q = q.unwrap_or_default();
    let m = query_map(&q, &["activity_id", "tree_size"])?;
    let id = m
        .get("activity_id")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("activity_id", "activity_id is required"))?;
    let aid: ActivityId = id.parse().map_err(|e| {
        ApiError::invalid("activity_id", format!("{id:?} is not an activity id: {e}"))
    })?;
    let size = u64_param(&m, "tree_size")?;
    let a = app.clone();
    let scope = r.org;
    let id_owned = id.to_string();
    let body = blocking(move || {
        let ev = a
            .store
            .event_by_gseq(aid.gseq())?
            .filter(|e| a.is_within(e.org, scope))
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "activity {id_owned} does not exist or is not readable with this key"
                ))
            })?;
        let cp = match size {
            Some(s) => a
                .store
                .checkpoint_covering(ev.org, s)?
                .filter(|c| c.size == s),
            None => a.store.latest_checkpoint(ev.org)?,
        };
        let head = a.store.head(ev.org)?.frontier.size();
        let tree_size = match (&cp, size) {
            (Some(c), _) => c.size,
            (None, Some(s)) if s <= head => s,
            (None, Some(s)) => {
                return Err(ApiError::invalid(
                    "tree_size",
                    format!("tree_size {s} is beyond the log's size {head}"),
                ));
            }
            (None, None) => {
                return Err(ApiError::conflict(
                    "no checkpoint covers this event yet; retry in a second",
                ));
            }
        };
        if ev.seq >= tree_size {
            return Err(ApiError::conflict(format!(
                "the event (seq {}) is not in the tree of size {tree_size}; use a later checkpoint",
                ev.seq
            )));
        }
        let proof = proofs::inclusion(a.store.as_ref(), &a.tiles, ev.org, ev.seq, tree_size)?;
        let org = a.org_by_key(ev.org).map(|o| o.id).unwrap_or_default();
        Ok(json!({
            "activity_id": id_owned,
            "organization_id": org,
            "leaf_index": ev.seq,
            "leaf_hash": B64.encode(ev.leaf),
            "tree_size": tree_size,
            "proof": proofs::b64_hashes(&proof),
            "checkpoint": cp.map(|c| c.note),
        }))
    })
    .await?;
    r.record(&app, "GET /v1/compliance/integrity/inclusion", &q, Some(1));
    Ok(r.decorate(json(StatusCode::OK, &body)))
}

/// `GET /v1/compliance/integrity/consistency?organization_id=&first=&second=`.
pub async fn consistency(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::ReadIntegrity).await?;
    let q = q.unwrap_or_default();
    let m = query_map(&q, &["organization_id", "first", "second"])?;
    let org = org_param(&app, &r, &m, "organization_id")?;
    let first = u64_param(&m, "first")?
        .ok_or_else(|| ApiError::invalid("first", "first (the older tree size) is required"))?;
    let a = app.clone();
    let second_param = u64_param(&m, "second")?;
    let key = org.key;
    let oid = org.id.clone();
    let body = blocking(move || {
        let head = a.store.head(key)?.frontier.size();
        let second = match second_param {
            Some(s) => s,
            None => a
                .store
                .latest_checkpoint(key)?
                .map(|c| c.size)
                .ok_or_else(|| ApiError::conflict("no checkpoint signed yet"))?,
        };
        if second > head {
            return Err(ApiError::invalid(
                "second",
                format!("second ({second}) is beyond the log's size {head}"),
            ));
        }
        if first > second {
            return Err(ApiError::invalid(
                "first",
                format!("first ({first}) must not exceed second ({second})"),
            ));
        }
        let proof = proofs::consistency(a.store.as_ref(), &a.tiles, key, first, second)?;
        Ok(json!({
            "organization_id": oid,
            "first": first,
            "second": second,
            "proof": proofs::b64_hashes(&proof),
        }))
    })
    .await?;
    r.record(
        &app,
        "GET /v1/compliance/integrity/consistency",
        &q,
        Some(1),
    );
    Ok(r.decorate(json(StatusCode::OK, &body)))
}

/// `GET /v1/integrity/keys`: the public keys that sign checkpoints (public,
/// so auditors can fetch them without credentials).
pub async fn signer_keys(State(app): State<AppState>) -> Response {
    let keys = app.signer.verifier_keys();
    json(
        StatusCode::OK,
        &json!({
            "log_name": app.config.log_name,
            "origin_prefix": format!("{}/", app.config.log_name),
            "current": keys.first(),
            "keys": keys,
        }),
    )
}
