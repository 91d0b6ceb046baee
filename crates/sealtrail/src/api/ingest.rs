//! `POST /v1/ingest/activities`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{AppState, json, principal};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::ingest::{self, Framing, MAX_BODY_BYTES};

/// Stores a batch of events; answers once they are durable.
pub async fn post_activities(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let p = principal(&app, &headers).await?;
    if !matches!(p, Principal::Ingest { .. }) {
        return Err(ApiError::forbidden("ingest needs an ingest key"));
    }
    let framing =
        Framing::from_content_type(headers.get("content-type").and_then(|v| v.to_str().ok()))?;
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("a batch is at most {MAX_BODY_BYTES} bytes"),
            )
            .with_field("body")
            .with_headers(super::unread_body())
        })?;
    let raw = ingest::split_body(&bytes, framing)?;
    let resp = ingest::ingest(app.clone(), &p, raw).await?;
    if resp.accepted == 0 && resp.duplicates == 0 {
        // Every event was refused: say so in the status too, and keep the
        // per-event reasons in the body.
        let first = resp.results.iter().find_map(|r| match r {
            ingest::EventResult::Refused { error, .. } => Some(error.clone()),
            _ => None,
        });
        let mut body = serde_json::to_value(&resp).map_err(ApiError::internal)?;
        if let (Some(obj), Some(f)) = (body.as_object_mut(), first) {
            obj.insert("type".into(), serde_json::json!(f.kind));
            obj.insert(
                "message".into(),
                serde_json::json!(format!(
                    "every event was refused; first reason: {}",
                    f.message
                )),
            );
            if let Some(field) = f.field {
                obj.insert("field".into(), serde_json::json!(field));
            }
        }
        return Ok(json(StatusCode::UNPROCESSABLE_ENTITY, &body));
    }
    Ok(json(StatusCode::OK, &resp))
}
