//! Sinks over HTTP (scope `manage:sinks`): create, list with health,
//! read, update, pause, resume, replay, delete.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{AppState, JsonBody, PathId, json, query_map, reader};
use crate::auth::Scope;
use crate::delivery::manage::{self, CreateSink, Replay, UpdateSink};
use crate::error::ApiError;

async fn views(
    app: &AppState,
    recs: Vec<crate::storage::SinkRecord>,
) -> Result<Vec<Value>, ApiError> {
    let a = app.clone();
    tokio::task::spawn_blocking(move || recs.iter().map(|r| manage::view(&a, r, true)).collect())
        .await
        .map_err(ApiError::internal)
}

/// `POST /v1/compliance/sinks`.
pub async fn create(
    State(app): State<AppState>,
    headers: HeaderMap,
    JsonBody(b): JsonBody<CreateSink>,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::ManageSinks).await?;
    let me = r.org(&app)?;
    let rec = manage::create(&app, &me, &r.key_id, b).await?;
    let v = views(&app, vec![rec]).await?;
    Ok(r.decorate(json(StatusCode::CREATED, &v[0])))
}

/// `GET /v1/compliance/sinks`.
pub async fn list(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::ManageSinks).await?;
    query_map(q.as_deref().unwrap_or(""), &[])?;
    let me = r.org(&app)?;
    let recs = manage::list(&app, &me).await?;
    let data = views(&app, recs).await?;
    r.record(&app, "GET /v1/compliance/sinks", "", Some(data.len()));
    Ok(r.decorate(json(StatusCode::OK, &json!({ "data": data }))))
}

/// `GET /v1/compliance/sinks/{id}`.
pub async fn get_one(
    State(app): State<AppState>,
    headers: HeaderMap,
    PathId(id): PathId,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::ManageSinks).await?;
    query_map(q.as_deref().unwrap_or(""), &[])?;
    let me = r.org(&app)?;
    let rec = manage::get(&app, &me, &id).await?;
    let v = views(&app, vec![rec]).await?;
    r.record(&app, "GET /v1/compliance/sinks/{id}", "", Some(1));
    Ok(r.decorate(json(StatusCode::OK, &v[0])))
}

/// `PATCH` (or `PUT`) `/v1/compliance/sinks/{id}`.
pub async fn update(
    State(app): State<AppState>,
    headers: HeaderMap,
    PathId(id): PathId,
    JsonBody(b): JsonBody<UpdateSink>,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::ManageSinks).await?;
    let me = r.org(&app)?;
    let rec = manage::update(&app, &me, &r.key_id, &id, b).await?;
    let v = views(&app, vec![rec]).await?;
    Ok(r.decorate(json(StatusCode::OK, &v[0])))
}

/// `POST /v1/compliance/sinks/{id}/pause`.
pub async fn pause(
    State(app): State<AppState>,
    headers: HeaderMap,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    set_paused(app, headers, id, true).await
}

/// `POST /v1/compliance/sinks/{id}/resume`.
pub async fn resume(
    State(app): State<AppState>,
    headers: HeaderMap,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    set_paused(app, headers, id, false).await
}

async fn set_paused(
    app: AppState,
    headers: HeaderMap,
    id: String,
    paused: bool,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::ManageSinks).await?;
    let me = r.org(&app)?;
    let rec = manage::set_paused(&app, &me, &r.key_id, &id, paused).await?;
    let v = views(&app, vec![rec]).await?;
    Ok(r.decorate(json(StatusCode::OK, &v[0])))
}

/// `POST /v1/compliance/sinks/{id}/replay`.
pub async fn replay(
    State(app): State<AppState>,
    headers: HeaderMap,
    PathId(id): PathId,
    JsonBody(b): JsonBody<Replay>,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::ManageSinks).await?;
    let me = r.org(&app)?;
    let rec = manage::replay(&app, &me, &r.key_id, &id, b).await?;
    let v = views(&app, vec![rec]).await?;
    Ok(r.decorate(json(StatusCode::OK, &v[0])))
}

/// `DELETE /v1/compliance/sinks/{id}`.
pub async fn delete(
    State(app): State<AppState>,
    headers: HeaderMap,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::ManageSinks).await?;
    let me = r.org(&app)?;
    let rec = manage::delete(&app, &me, &r.key_id, &id).await?;
    Ok(r.decorate(json(
        StatusCode::OK,
        &json!({ "id": rec.id, "deleted": true }),
    )))
}
