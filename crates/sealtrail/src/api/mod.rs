//! The HTTP API: routing, authentication at the edge, and the mapping of
//! every error to one problem shape. Handlers stay thin: they parse, check
//! the caller, and call into the product modules.

pub mod compliance;
pub mod docs;
pub mod ingest;
pub mod operator;
pub mod ops;
pub mod privacy;
pub mod sinks;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::FromRequest;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;

use crate::app::App;
use crate::auth::{Principal, Scope, authenticate};
use crate::error::ApiError;
use crate::storage::OrgKey;

/// Shared state of every handler.
pub type AppState = Arc<App>;

/// Builds the router.
pub fn router(app: AppState) -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/", get(docs::index))
        .route("/docs", get(docs::page))
        .route("/v1/openapi.json", get(docs::openapi))
        .route("/v1/integrity/keys", get(compliance::signer_keys))
        .route("/v1/ingest/activities", post(ingest::post_activities))
        .route("/v1/compliance/activities", get(compliance::list))
        .route("/v1/compliance/activities/{id}", get(compliance::get_one))
        .route(
            "/v1/compliance/organizations",
            get(compliance::organizations),
        )
        .route(
            "/v1/compliance/integrity/checkpoint",
            get(compliance::checkpoint),
        )
        .route(
            "/v1/compliance/integrity/inclusion",
            get(compliance::inclusion),
        )
        .route(
            "/v1/compliance/integrity/consistency",
            get(compliance::consistency),
        )
        .route("/v1/compliance/erasures", post(privacy::erase))
        .route("/v1/compliance/erasures/{id}", get(privacy::erasure_status))
        .route(
            "/v1/compliance/retention",
            get(privacy::get_retention).put(privacy::set_retention),
        )
        .route(
            "/v1/compliance/legal_holds",
            get(privacy::list_holds).post(privacy::place_hold),
        )
        .route(
            "/v1/compliance/legal_holds/{id}/release",
            post(privacy::release_hold),
        )
        .route("/v1/compliance/sinks", get(sinks::list).post(sinks::create))
        .route(
            "/v1/compliance/sinks/{id}",
            get(sinks::get_one)
                .patch(sinks::update)
                .put(sinks::update)
                .delete(sinks::delete),
        )
        .route("/v1/compliance/sinks/{id}/pause", post(sinks::pause))
        .route("/v1/compliance/sinks/{id}/resume", post(sinks::resume))
        .route("/v1/compliance/sinks/{id}/replay", post(sinks::replay))
        .route(
            "/v1/operator/organizations",
            get(operator::list_orgs).post(operator::create_org),
        )
        .route("/v1/operator/organizations/{id}", get(operator::get_org))
        .route(
            "/v1/operator/organizations/{id}/link",
            post(operator::link_org),
        )
        .route(
            "/v1/operator/organizations/{id}/enable",
            post(operator::enable),
        )
        .route(
            "/v1/operator/organizations/{id}/disable",
            post(operator::disable),
        )
        .route(
            "/v1/operator/keys",
            get(operator::list_keys).post(operator::create_key),
        )
        .route("/v1/operator/keys/{id}/revoke", post(operator::revoke_key))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not accept that method; see /v1/openapi.json",
    )
}

/// The token of a request: `x-api-key: <token>` or `Authorization: Bearer <token>`.
pub fn token(headers: &HeaderMap) -> Result<&str, ApiError> {
    if let Some(v) = headers.get("x-api-key") {
        return v
            .to_str()
            .map_err(|_| ApiError::unauthenticated("the x-api-key header is not valid text"));
    }
    if let Some(v) = headers.get("authorization") {
        let v = v
            .to_str()
            .map_err(|_| ApiError::unauthenticated("the Authorization header is not valid text"))?;
        return v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| ApiError::unauthenticated("use Authorization: Bearer <key>"));
    }
    Err(ApiError::unauthenticated(
        "an API key is required: send x-api-key: <key> or Authorization: Bearer <key>",
    ))
}

/// Authenticates a request.
pub async fn principal(app: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let token = token(headers)?.to_string();
    let a = app.clone();
    tokio::task::spawn_blocking(move || {
        let reg = a
            .registry
            .read()
            .map_err(|_| ApiError::unavailable("registry unavailable"))?;
        authenticate(a.store.as_ref(), &reg, &token, crate::time::now_ms())
    })
    .await
    .map_err(ApiError::internal)?
}

/// Authenticates an operator.
pub async fn operator(app: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    match principal(app, headers).await? {
        Principal::Operator { key_id } => Ok(key_id),
        _ => Err(ApiError::forbidden("this endpoint needs the operator key")),
    }
}

/// A compliance caller that passed its scope and rate-limit checks.
pub struct Reader {
    /// Key id.
    pub key_id: String,
    /// Root of what it may read.
    pub org: OrgKey,
    /// Rate-limit headers to send back.
    pub limit_headers: Vec<(&'static str, String)>,
}

impl Reader {
    /// Adds the rate-limit headers to a response.
    pub fn decorate(&self, mut resp: Response) -> Response {
        for (k, v) in &self.limit_headers {
            if let Ok(v) = HeaderValue::from_str(v) {
                resp.headers_mut().insert(*k, v);
            }
        }
        resp
    }
}

/// Authenticates a compliance key, checks a scope and the rate limit of
/// its parent organization.
pub async fn reader(app: &AppState, headers: &HeaderMap, scope: Scope) -> Result<Reader, ApiError> {
    let Principal::Compliance {
        key_id,
        org,
        scopes,
    } = principal(app, headers).await?
    else {
        return Err(ApiError::forbidden("this endpoint needs a compliance key"));
    };
    if !scopes.contains(&scope) {
        return Err(ApiError::forbidden(format!(
            "this key lacks the {} scope",
            scope.as_str()
        )));
    }
    let tree = app.org_by_key(org).map(|o| o.tree).unwrap_or(org);
    let d = app.limiter.check(tree);
    let limit_headers = vec![
        ("ratelimit-limit", d.limit.to_string()),
        ("ratelimit-remaining", d.remaining.to_string()),
        ("ratelimit-reset", d.reset_secs.to_string()),
    ];
    if !d.allowed {
        app.metrics.rate_limited.inc();
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "rate limit of {} requests per minute for this organization tree reached; retry after {} s",
                d.limit, d.reset_secs
            ),
        );
        e.retry_after = Some(d.reset_secs);
        return Err(e);
    }
    Ok(Reader {
        key_id,
        org,
        limit_headers,
    })
}

/// A JSON request body whose errors name the offending field.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(
        req: Request<axum::body::Body>,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !ct.starts_with("application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            )
            .with_field("content-type"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
        })?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de)
            .map(JsonBody)
            .map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." {
                    "body".to_string()
                } else {
                    path
                };
                ApiError::invalid(field, e.inner().to_string())
            })
    }
}

/// A JSON response.
pub fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    (status, axum::Json(body)).into_response()
}
