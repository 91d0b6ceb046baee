//! The operator plane over HTTP.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{AppState, JsonBody, PathId, json, operator, query_map};
use crate::error::ApiError;
use crate::operator as ops;
use crate::storage::{KeyKind, KeyRecord, Org};
use crate::time::fmt_ms;

/// An organization as the operator sees it.
#[derive(Serialize)]
pub struct OrgView {
    id: String,
    name: String,
    parent_id: Option<String>,
    root_id: Option<String>,
    logging_enabled: bool,
    logging_enabled_at: Option<String>,
    logging_disabled_at: Option<String>,
    created_at: String,
}

/// Renders an organization.
pub fn org_view(app: &AppState, o: &Org) -> OrgView {
    OrgView {
        id: o.id.clone(),
        name: o.name.clone(),
        parent_id: o.parent.and_then(|k| app.org_by_key(k)).map(|p| p.id),
        root_id: app.org_by_key(o.tree).map(|t| t.id),
        logging_enabled: o.enabled,
        logging_enabled_at: o.logging_enabled_at.map(fmt_ms),
        logging_disabled_at: o.logging_disabled_at.map(fmt_ms),
        created_at: fmt_ms(o.created_ms),
    }
}

/// Body of `POST /v1/operator/organizations`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    id: Option<String>,
    name: String,
    parent_id: Option<String>,
}

/// Creates an organization.
pub async fn create_org(
    State(app): State<AppState>,
    headers: HeaderMap,
    JsonBody(b): JsonBody<CreateOrg>,
) -> Result<Response, ApiError> {
    operator(&app, &headers).await?;
    let o = ops::create_org(&app, b.id, b.name, b.parent_id).await?;
    Ok(json(StatusCode::CREATED, &org_view(&app, &o)))
}

/// Lists organizations.
pub async fn list_orgs(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    operator(&app, &headers).await?;
    let data: Vec<OrgView> = app.orgs().iter().map(|o| org_view(&app, o)).collect();
    Ok(json(StatusCode::OK, &serde_json::json!({ "data": data })))
}

/// One organization.
pub async fn get_org(
    State(app): State<AppState>,
    headers: HeaderMap,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    operator(&app, &headers).await?;
    let o = app
        .org(&id)
        .ok_or_else(|| ApiError::not_found(format!("organization {id:?} does not exist")))?;
    Ok(json(StatusCode::OK, &org_view(&app, &o)))
}

/// Body of the link call.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    parent_id: String,
}

/// Links an organization under a parent.
pub async fn link_org(
    State(app): State<AppState>,
    headers: HeaderMap,
    PathId(id): PathId,
    JsonBody(b): JsonBody<Link>,
) -> Result<Response, ApiError> {
    operator(&app, &headers).await?;
    let o = ops::link_org(&app, &id, &b.parent_id).await?;
    Ok(json(StatusCode::OK, &org_view(&app, &o)))
}

/// Switches recording on.
pub async fn enable(
    State(app): State<AppState>,
    headers: HeaderMap,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let key = operator(&app, &headers).await?;
    let o = ops::set_enabled(&app, &id, true, &key).await?;
    Ok(json(StatusCode::OK, &org_view(&app, &o)))
}

/// Switches recording off.
pub async fn disable(
    State(app): State<AppState>,
    headers: HeaderMap,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let key = operator(&app, &headers).await?;
    let o = ops::set_enabled(&app, &id, false, &key).await?;
    Ok(json(StatusCode::OK, &org_view(&app, &o)))
}

/// A key as listed (never its secret).
#[derive(Serialize)]
pub struct KeyView {
    id: String,
    kind: &'static str,
    organization_id: Option<String>,
    product: Option<String>,
    scopes: Vec<String>,
    name: String,
    created_at: String,
    expires_at: Option<String>,
    revoked_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

fn key_view(app: &AppState, k: &KeyRecord, token: Option<String>) -> KeyView {
    KeyView {
        id: k.id.clone(),
        kind: k.kind.as_str(),
        organization_id: k.org.and_then(|o| app.org_by_key(o)).map(|o| o.id),
        product: k.product.clone(),
        scopes: k.scopes.clone(),
        name: k.name.clone(),
        created_at: fmt_ms(k.created_ms),
        expires_at: k.expires_ms.map(fmt_ms),
        revoked_at: k.revoked_ms.map(fmt_ms),
        token,
    }
}

/// Body of `POST /v1/operator/keys`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    kind: String,
    organization_id: String,
    product: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    name: String,
    expires_at: Option<String>,
}

/// Creates a key; the token is in the response, once.
pub async fn create_key(
    State(app): State<AppState>,
    headers: HeaderMap,
    JsonBody(b): JsonBody<CreateKey>,
) -> Result<Response, ApiError> {
    let by = operator(&app, &headers).await?;
    let kind = match b.kind.as_str() {
        "ingest" => KeyKind::Ingest,
        "compliance" => KeyKind::Compliance,
        other => {
            return Err(ApiError::invalid(
                "kind",
                format!("kind is ingest or compliance, not {other:?}"),
            ));
        }
    };
    let expires_ms = b
        .expires_at
        .as_deref()
        .map(|s| crate::time::parse_rfc3339(s).map_err(|e| ApiError::invalid("expires_at", e)))
        .transpose()?;
    let minted = ops::create_key(
        &app,
        ops::NewKey {
            kind,
            org_id: b.organization_id,
            product: b.product,
            scopes: b.scopes,
            name: b.name,
            expires_ms,
        },
        &by,
    )
    .await?;
    Ok(json(
        StatusCode::CREATED,
        &key_view(&app, &minted.record, Some(minted.token)),
    ))
}

/// Lists keys, optionally of one organization (`?organization_id=`).
pub async fn list_keys(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    operator(&app, &headers).await?;
    let q = query_map(q.as_deref().unwrap_or(""), &["organization_id"])?;
    let org = match q.get("organization_id").and_then(serde_json::Value::as_str) {
        Some(id) => Some(
            app.org(id)
                .ok_or_else(|| ApiError::not_found(format!("organization {id:?} does not exist")))?
                .key,
        ),
        None => None,
    };
    let a = app.clone();
    let keys = tokio::task::spawn_blocking(move || a.store.keys(org))
        .await
        .map_err(ApiError::internal)??;
    let data: Vec<KeyView> = keys.iter().map(|k| key_view(&app, k, None)).collect();
    Ok(json(StatusCode::OK, &serde_json::json!({ "data": data })))
}

/// Revokes a key.
pub async fn revoke_key(
    State(app): State<AppState>,
    headers: HeaderMap,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let by = operator(&app, &headers).await?;
    let k = ops::revoke_key(&app, &id, &by).await?;
    Ok(json(StatusCode::OK, &key_view(&app, &k, None)))
}
