//! The HTTP API: routing, authentication at the edge, and the mapping of
//! every error to one problem shape. Handlers stay thin: they parse, check
//! the caller, and call into the product modules.

pub mod compliance;
pub mod docs;
pub mod export;
pub mod ingest;
pub mod operator;
pub mod ops;
pub mod privacy;
pub mod sinks;
pub mod stream;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::app::App;
use crate::auth::{Principal, Scope, authenticate, authenticate_cached};
use crate::error::ApiError;
use crate::storage::OrgKey;

/// Shared state of every handler.
pub type AppState = Arc<App>;

/// Declares every endpoint once: the router registers exactly these, and
/// [`ROUTES`] lists them for the OpenAPI document's tests, so an endpoint
/// cannot be served without being documented. Add an endpoint by adding a
/// line `method "/path" => handler,` (one line per method).
macro_rules! routes {
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        /// Every `(METHOD, path)` the router serves, in axum path syntax.
        pub const ROUTES: &[(&str, &str)] = &[$((routes!(@upper $method), $path)),*];

        fn register(r: Router<AppState>) -> Router<AppState> {
            r$(.route($path, axum::routing::$method($handler)))*
        }
    };
    (@upper get) => { "GET" };
    (@upper post) => { "POST" };
    (@upper put) => { "PUT" };
    (@upper patch) => { "PATCH" };
    (@upper delete) => { "DELETE" };
}

routes! {
    get "/healthz" => ops::healthz,
    get "/readyz" => ops::readyz,
    get "/metrics" => ops::metrics,
    get "/" => docs::index,
    get "/docs" => docs::page,
    get "/v1/openapi.json" => docs::openapi,
    get "/v1/integrity/keys" => compliance::signer_keys,
    post "/v1/ingest/activities" => ingest::post_activities,
    get "/v1/compliance/activities" => compliance::list,
    get "/v1/compliance/activities/stream" => stream::stream,
    get "/v1/compliance/activities/{id}" => compliance::get_one,
    get "/v1/compliance/organizations" => compliance::organizations,
    get "/v1/compliance/integrity/checkpoint" => compliance::checkpoint,
    get "/v1/compliance/integrity/inclusion" => compliance::inclusion,
    get "/v1/compliance/integrity/consistency" => compliance::consistency,
    post "/v1/compliance/exports" => export::create,
    post "/v1/compliance/erasures" => privacy::erase,
    get "/v1/compliance/erasures/{id}" => privacy::erasure_status,
    get "/v1/compliance/retention" => privacy::get_retention,
    put "/v1/compliance/retention" => privacy::set_retention,
    get "/v1/compliance/legal_holds" => privacy::list_holds,
    post "/v1/compliance/legal_holds" => privacy::place_hold,
    post "/v1/compliance/legal_holds/{id}/release" => privacy::release_hold,
    get "/v1/compliance/sinks" => sinks::list,
    post "/v1/compliance/sinks" => sinks::create,
    get "/v1/compliance/sinks/{id}" => sinks::get_one,
    patch "/v1/compliance/sinks/{id}" => sinks::update,
    put "/v1/compliance/sinks/{id}" => sinks::update,
    delete "/v1/compliance/sinks/{id}" => sinks::delete,
    post "/v1/compliance/sinks/{id}/pause" => sinks::pause,
    post "/v1/compliance/sinks/{id}/resume" => sinks::resume,
    post "/v1/compliance/sinks/{id}/replay" => sinks::replay,
    get "/v1/operator/organizations" => operator::list_orgs,
    post "/v1/operator/organizations" => operator::create_org,
    get "/v1/operator/organizations/{id}" => operator::get_org,
    post "/v1/operator/organizations/{id}/link" => operator::link_org,
    post "/v1/operator/organizations/{id}/enable" => operator::enable,
    post "/v1/operator/organizations/{id}/disable" => operator::disable,
    get "/v1/operator/keys" => operator::list_keys,
    post "/v1/operator/keys" => operator::create_key,
    post "/v1/operator/keys/{id}/revoke" => operator::revoke_key,
}

/// Builds the router.
pub fn router(app: AppState) -> Router {
    register(Router::new())
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
/// Both may be sent only if they carry the same key; a malformed header
/// is refused even when the other one is valid, so a request is never
/// accepted on one credential while another is wrong.
pub fn token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let api_key = match headers.get("x-api-key") {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::unauthenticated("the x-api-key header is not valid text"))?,
        ),
        None => None,
    };
    let bearer = match headers.get("authorization") {
        Some(v) => {
            let v = v.to_str().map_err(|_| {
                ApiError::unauthenticated("the Authorization header is not valid text")
            })?;
            Some(
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
                    .map(str::trim)
                    .ok_or_else(|| ApiError::unauthenticated("use Authorization: Bearer <key>"))?,
            )
        }
        None => None,
    };
    match (api_key, bearer) {
        (Some(a), Some(b)) if a != b => Err(ApiError::unauthenticated(
            "x-api-key and Authorization carry different keys; send one",
        )),
        (Some(t), _) | (None, Some(t)) => Ok(t),
        (None, None) => Err(ApiError::unauthenticated(
            "an API key is required: send x-api-key: <key> or Authorization: Bearer <key>",
        )),
    }
}

/// Authenticates a request.
pub async fn principal(app: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let token = token(headers)?.to_string();
    // A cached key record needs no storage read, so no blocking thread.
    {
        let reg = app
            .registry
            .read()
            .map_err(|_| ApiError::unavailable("registry unavailable"))?;
        if let Some(r) = authenticate_cached(&app.keys, &reg, &token, crate::time::now_ms()) {
            return r;
        }
    }
    let a = app.clone();
    tokio::task::spawn_blocking(move || {
        let reg = a
            .registry
            .read()
            .map_err(|_| ApiError::unavailable("registry unavailable"))?;
        authenticate(
            a.store.as_ref(),
            &a.keys,
            &reg,
            &token,
            crate::time::now_ms(),
        )
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
    /// The organization the key reads from (its scope's root).
    pub fn org(&self, app: &App) -> Result<crate::storage::Org, ApiError> {
        app.org_by_key(self.org)
            .ok_or_else(|| ApiError::unauthenticated("the key's organization no longer exists"))
    }

    /// Records this compliance-plane call as `compliance_api.accessed`, with
    /// the request's query as its filters (personal values redacted).
    pub fn record(&self, app: &App, endpoint: &str, raw_query: &str, count: Option<usize>) {
        if let Some(org) = app.org_by_key(self.org) {
            let filters = crate::feed::filters_echo(raw_query, &app.master, &org.id);
            crate::audit::record_access(app, &org, &self.key_id, endpoint, filters, count);
        }
    }

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
        // The 429 carries the same pacing headers as every other answer.
        return Err(e.with_headers(limit_headers));
    }
    Ok(Reader {
        key_id,
        org,
        limit_headers,
    })
}

/// A JSON object request body whose errors name the offending field.
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
                .with_headers(unread_body())
        })?;
        // Every body is an object; serde would also read an array as a
        // struct's fields in order, which nobody means to send.
        if bytes.trim_ascii_start().starts_with(b"[") {
            return Err(ApiError::invalid("body", "the body must be a JSON object"));
        }
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de)
            .map(JsonBody)
            .map_err(|e| {
                let path = e.path().to_string();
                // `.` is the whole body; `?` is a syntax error before any field.
                let field = if path == "." || path == "?" {
                    "body".to_string()
                } else {
                    path
                };
                ApiError::invalid(field, e.inner().to_string())
            })
    }
}

/// Headers of an answer given before the request body was read to its end:
/// the connection cannot carry another request, so the client must not
/// reuse it (or its next request meets a closed socket).
pub fn unread_body() -> Vec<(&'static str, String)> {
    vec![("connection", "close".to_string())]
}

/// The `{id}` segment of a path. Axum's own `Path` rejection is plain text;
/// this one is a problem naming the parameter, like every other error.
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| PathId(id))
            .map_err(|e| ApiError::invalid("id", e.body_text()))
    }
}

/// Parses a query string whose parameters are all single-valued and
/// limited to `allowed`; an unknown parameter is an error that names it.
pub fn query_map(q: &str, allowed: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let mut m = Map::new();
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        if !allowed.contains(&k.as_ref()) {
            return Err(ApiError::invalid(
                k.as_ref(),
                format!("unknown query parameter {:?}", k.as_ref()),
            ));
        }
        m.insert(k.into_owned(), Value::String(v.into_owned()));
    }
    Ok(m)
}

/// A JSON response.
pub fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    (status, axum::Json(body)).into_response()
}
