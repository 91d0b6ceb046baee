//! Erasure, retention and legal holds over HTTP (scope
//! `delete:subject_data`, since each of them governs deleting data).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, JsonBody, PathId, Reader, json, reader};
use crate::auth::Scope;
use crate::error::ApiError;
use crate::privacy::erasure::{self, SubjectSpec};
use crate::privacy::retention;
use crate::storage::{LegalHold, Org};
use crate::time::fmt_ms;

fn org_in_scope(app: &AppState, r: &Reader, id: &str, field: &str) -> Result<Org, ApiError> {
    match app.org(id) {
        Some(o) if app.is_within(o.key, r.org) => Ok(o),
        _ => Err(ApiError::forbidden(format!(
            "organization {id:?} is not within this key's scope"
        ))
        .with_field(field)),
    }
}

/// Refuses any query parameter, naming the first, for endpoints that take
/// none: a parameter is never silently ignored.
fn no_query(q: Option<String>) -> Result<(), ApiError> {
    match q.filter(|q| !q.is_empty()) {
        Some(q) => Err(ApiError::invalid(
            q.split(['=', '&']).next().unwrap_or("query"),
            "this endpoint takes no query parameters",
        )),
        None => Ok(()),
    }
}

/// Body of `POST /v1/compliance/erasures`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EraseBody {
    subject: SubjectSpec,
    #[serde(default)]
    organization_ids: Vec<String>,
}

/// Erases a data subject's personal data.
pub async fn erase(
    State(app): State<AppState>,
    headers: HeaderMap,
    JsonBody(b): JsonBody<EraseBody>,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::DeleteSubjectData).await?;
    let me = r.org(&app)?;
    let orgs: Vec<Org> = if b.organization_ids.is_empty() {
        app.subtree(r.org)
            .into_iter()
            .filter_map(|k| app.org_by_key(k))
            .collect()
    } else {
        b.organization_ids
            .iter()
            .map(|id| org_in_scope(&app, &r, id, "organization_ids"))
            .collect::<Result<_, _>>()?
    };
    let rec = erasure::erase(&app, orgs, b.subject, &r.key_id, me).await?;
    Ok(r.decorate(json(StatusCode::CREATED, &rec)))
}

/// Reads an erasure's status.
pub async fn erasure_status(
    State(app): State<AppState>,
    headers: HeaderMap,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::DeleteSubjectData).await?;
    let a = app.clone();
    let id2 = id.clone();
    let rec = tokio::task::spawn_blocking(move || erasure::record(&a, &id2))
        .await
        .map_err(ApiError::internal)??;
    let rec = rec
        .filter(|rec| {
            rec.organization_ids
                .iter()
                .all(|o| app.org(o).is_some_and(|o| app.is_within(o.key, r.org)))
        })
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "erasure {id:?} does not exist or is not visible to this key"
            ))
        })?;
    r.record(&app, "GET /v1/compliance/erasures/{id}", "", Some(1));
    Ok(r.decorate(json(StatusCode::OK, &rec)))
}

/// Body of `PUT /v1/compliance/retention`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionBody {
    organization_id: String,
    days: Option<u32>,
}

/// Sets an organization's retention.
pub async fn set_retention(
    State(app): State<AppState>,
    headers: HeaderMap,
    JsonBody(b): JsonBody<RetentionBody>,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::DeleteSubjectData).await?;
    let me = r.org(&app)?;
    let org = org_in_scope(&app, &r, &b.organization_id, "organization_id")?;
    let o = retention::set_retention(&app, &org, b.days, &r.key_id, &me).await?;
    Ok(r.decorate(json(
        StatusCode::OK,
        &json!({ "organization_id": o.id, "retention_days": o.retention_days, "default_retention_days": app.config.default_retention_days }),
    )))
}

/// Reads retention for the organizations in scope.
pub async fn get_retention(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::ReadActivities).await?;
    no_query(q)?;
    let data: Vec<Value> = app
        .subtree(r.org)
        .into_iter()
        .filter_map(|k| app.org_by_key(k))
        .map(|o| {
            json!({
                "organization_id": o.id,
                "retention_days": o.retention_days,
                "effective_days": o.retention_days.or((app.config.default_retention_days > 0).then_some(app.config.default_retention_days)),
            })
        })
        .collect();
    r.record(&app, "GET /v1/compliance/retention", "", Some(data.len()));
    Ok(r.decorate(json(StatusCode::OK, &json!({ "data": data }))))
}

fn hold_view(app: &AppState, h: &LegalHold) -> Value {
    json!({
        "id": h.id,
        "organization_id": app.org_by_key(h.org).map(|o| o.id),
        "scope": if h.subject.is_some() { "subject" } else { "organization" },
        "subject_pseudonym": h.subject.as_ref().map(hex::encode),
        "reason": h.reason,
        "created_at": fmt_ms(h.created_ms),
        "released_at": h.released_ms.map(fmt_ms),
        "active": h.released_ms.is_none(),
    })
}

/// Body of `POST /v1/compliance/legal_holds`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldBody {
    organization_id: String,
    subject: Option<SubjectSpec>,
    reason: String,
}

/// Places a legal hold.
pub async fn place_hold(
    State(app): State<AppState>,
    headers: HeaderMap,
    JsonBody(b): JsonBody<HoldBody>,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::DeleteSubjectData).await?;
    let me = r.org(&app)?;
    let org = org_in_scope(&app, &r, &b.organization_id, "organization_id")?;
    let h = retention::place_hold(&app, &org, b.subject, b.reason, &r.key_id, &me).await?;
    Ok(r.decorate(json(StatusCode::CREATED, &hold_view(&app, &h))))
}

/// Lists legal holds in scope.
pub async fn list_holds(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::DeleteSubjectData).await?;
    no_query(q)?;
    let a = app.clone();
    let holds = tokio::task::spawn_blocking(move || a.store.holds())
        .await
        .map_err(ApiError::internal)??;
    let data: Vec<Value> = holds
        .iter()
        .filter(|h| app.is_within(h.org, r.org))
        .map(|h| hold_view(&app, h))
        .collect();
    r.record(&app, "GET /v1/compliance/legal_holds", "", Some(data.len()));
    Ok(r.decorate(json(StatusCode::OK, &json!({ "data": data }))))
}

/// Releases a legal hold.
pub async fn release_hold(
    State(app): State<AppState>,
    headers: HeaderMap,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::DeleteSubjectData).await?;
    let me = r.org(&app)?;
    let h = retention::release_hold(&app, &id, &r.key_id, &me).await?;
    Ok(r.decorate(json(StatusCode::OK, &hold_view(&app, &h))))
}
