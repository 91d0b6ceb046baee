//! The OpenAPI document and a readable, self-contained docs page.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::AppState;

const OPENAPI: &str = include_str!("openapi.json");
const PAGE: &str = include_str!("docs.html");

/// `GET /v1/openapi.json`.
pub async fn openapi() -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        OPENAPI,
    )
        .into_response()
}

/// `GET /docs`: renders the OpenAPI document with no external assets.
pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// `GET /`: where to go next.
pub async fn index(State(app): State<AppState>) -> Response {
    let body = format!(
        "Sealtrail compliance API\n\nAPI docs: /docs\nOpenAPI: /v1/openapi.json\nFeed: /v1/compliance/activities\nLog: {}\n",
        app.config.log_name
    );
    (
        StatusCode::OK,
        [("content-type", "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}
