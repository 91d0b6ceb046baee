//! Health, readiness and metrics.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;

/// Liveness: the process answers.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: storage answers.
pub async fn readyz(State(app): State<AppState>) -> Response {
    let a = app.clone();
    match tokio::task::spawn_blocking(move || a.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n").into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable\n").into_response(),
    }
}

/// Prometheus text exposition.
pub async fn metrics(State(app): State<AppState>) -> Response {
    let mut text = app.metrics.render();
    let a = app.clone();
    if let Ok(Ok(bytes)) = tokio::task::spawn_blocking(move || a.store.disk_bytes()).await {
        text.push_str(&format!(
            "# HELP sealtrail_storage_bytes Bytes used by the database files.\n# TYPE sealtrail_storage_bytes gauge\nsealtrail_storage_bytes {bytes}\n"
        ));
    }
    let enabled = app.orgs().iter().filter(|o| o.enabled).count();
    text.push_str(&format!(
        "# HELP sealtrail_organizations_enabled Organizations with recording on.\n# TYPE sealtrail_organizations_enabled gauge\nsealtrail_organizations_enabled {enabled}\n"
    ));
    (
        StatusCode::OK,
        [("content-type", "text/plain; version=0.0.4")],
        text,
    )
        .into_response()
}
