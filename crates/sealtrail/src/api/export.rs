//! `POST /v1/compliance/exports`: evidence bundles over HTTP.
//!
//! The body carries the feed's filters as JSON fields (or one
//! `organization_id` for a whole log). The bundle is returned in the
//! response and the export is recorded as `compliance.export_created`, with
//! the bundle's SHA-256, in the reader's log before the response is sent.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sealtrail_model::Target;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{AppState, JsonBody, reader};
use crate::audit::{append_own, own_event};
use crate::auth::Scope;
use crate::bundle::build::{ExportRequest, build};
use crate::error::ApiError;
use crate::feed::params::FeedParams;

/// The body of an export request: the feed's filters with the same names
/// and meanings, as JSON.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct ExportBody {
    /// Export the whole log of this organization (no other filter allowed).
    pub organization_id: Option<String>,
    /// `activity_types[]`.
    #[serde(default)]
    pub activity_types: Vec<String>,
    /// `exclude_activity_types[]`.
    #[serde(default)]
    pub exclude_activity_types: Vec<String>,
    /// `actor_ids[]`.
    #[serde(default)]
    pub actor_ids: Vec<String>,
    /// `actor_emails[]`.
    #[serde(default)]
    pub actor_emails: Vec<String>,
    /// `api_key_ids[]`.
    #[serde(default)]
    pub api_key_ids: Vec<String>,
    /// `organization_ids[]`.
    #[serde(default)]
    pub organization_ids: Vec<String>,
    /// `target_ids[]`.
    #[serde(default)]
    pub target_ids: Vec<String>,
    /// `categories[]`.
    #[serde(default)]
    pub categories: Vec<String>,
    /// `products[]`.
    #[serde(default)]
    pub products: Vec<String>,
    /// `ip_address`.
    pub ip_address: Option<String>,
    /// `outcome`.
    pub outcome: Option<String>,
    /// `created_at.gt`.
    #[serde(rename = "created_at.gt")]
    pub created_at_gt: Option<String>,
    /// `created_at.gte`.
    #[serde(rename = "created_at.gte")]
    pub created_at_gte: Option<String>,
    /// `created_at.lt`.
    #[serde(rename = "created_at.lt")]
    pub created_at_lt: Option<String>,
    /// `created_at.lte`.
    #[serde(rename = "created_at.lte")]
    pub created_at_lte: Option<String>,
    /// Organization id → size of a checkpoint the caller already holds.
    #[serde(default)]
    pub consistency_from: BTreeMap<String, u64>,
}

impl ExportBody {
    /// The filters as a feed query string, so they are validated and
    /// interpreted exactly as the feed does.
    fn feed_query(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, vs) in [
            ("activity_types[]", &self.activity_types),
            ("exclude_activity_types[]", &self.exclude_activity_types),
            ("actor_ids[]", &self.actor_ids),
            ("actor_emails[]", &self.actor_emails),
            ("api_key_ids[]", &self.api_key_ids),
            ("organization_ids[]", &self.organization_ids),
            ("target_ids[]", &self.target_ids),
            ("categories[]", &self.categories),
            ("products[]", &self.products),
        ] {
            for v in vs {
                s.append_pair(k, v);
            }
        }
        for (k, v) in [
            ("ip_address", &self.ip_address),
            ("outcome", &self.outcome),
            ("created_at.gt", &self.created_at_gt),
            ("created_at.gte", &self.created_at_gte),
            ("created_at.lt", &self.created_at_lt),
            ("created_at.lte", &self.created_at_lte),
        ] {
            if let Some(v) = v {
                s.append_pair(k, v);
            }
        }
        s.finish()
    }
}

/// Filters whose values are personal data: kept out of the audit record
/// (its entry is a leaf and can never be erased), only their count stays.
const PERSONAL_FILTERS: &[&str] = &["actor_emails", "ip_address"];

fn audit_filters(body: &Map<String, Value>) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in body {
        if PERSONAL_FILTERS.contains(&k.as_str()) {
            let n = v.as_array().map_or(1, Vec::len);
            m.insert(k.clone(), json!({ "redacted_values": n }));
        } else {
            m.insert(k.clone(), v.clone());
        }
    }
    m
}

/// `POST /v1/compliance/exports`.
pub async fn create(
    State(app): State<AppState>,
    headers: HeaderMap,
    JsonBody(raw): JsonBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::Export).await?;
    let body: ExportBody =
        serde_path_to_error::deserialize(Value::Object(raw.clone())).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "body".to_string()
            } else {
                path
            };
            ApiError::invalid(field, e.inner().to_string())
        })?;
    let query = body.feed_query();
    if body.organization_id.is_some() && !query.is_empty() {
        return Err(ApiError::invalid(
            "organization_id",
            "organization_id exports a whole log and takes no other filter; use organization_ids with filters instead",
        ));
    }
    let params = FeedParams::parse(&query).map_err(|mut e| {
        e.field = e.field.map(|f| f.trim_end_matches("[]").to_string());
        e
    })?;
    let mut echo = raw.clone();
    echo.remove("consistency_from");
    let req = ExportRequest {
        params,
        whole_log: body.organization_id.clone(),
        filters_echo: echo,
        consistency_from: body.consistency_from.clone(),
    };
    let a = app.clone();
    let scope = r.org;
    let bundle = tokio::task::spawn_blocking(move || build(&a, scope, &req))
        .await
        .map_err(ApiError::internal)??;
    let bytes = serde_json::to_vec(&bundle).map_err(ApiError::internal)?;
    let digest = hex::encode(Sha256::digest(&bytes));

    // Record the export before handing it out.
    if let Some(org) = app.org_by_key(r.org) {
        let mut md = Map::new();
        md.insert("endpoint".into(), json!("POST /v1/compliance/exports"));
        md.insert("selection".into(), json!(bundle.selection.kind));
        md.insert("filters".into(), Value::Object(audit_filters(&raw)));
        md.insert("event_count".into(), json!(bundle.events.len()));
        let cps: Map<String, Value> = bundle
            .logs
            .iter()
            .filter_map(|l| {
                l.checkpoints
                    .last()
                    .map(|c| (l.organization_id.clone(), json!(c.tree_size)))
            })
            .collect();
        md.insert("checkpoints".into(), Value::Object(cps));
        md.insert("bundle_sha256".into(), json!(digest));
        let input = own_event(
            "compliance.export_created",
            &org,
            &r.key_id,
            Some(Target {
                target_type: "evidence_bundle".into(),
                id: Some(format!("sha256:{digest}")),
                name: None,
            }),
            md,
        );
        let catalog = app.catalog.clone();
        app.sequencer
            .run(move |b| {
                if let Err(e) = append_own(b, &catalog, &org, &input) {
                    b.fail(&e);
                }
            })
            .await?;
    }
    app.metrics.audit_records.inc();
    let mut resp = (
        StatusCode::OK,
        [("content-type", "application/json")],
        bytes,
    )
        .into_response();
    let name = format!(
        "attachment; filename=\"sealtrail-bundle-{}.json\"",
        &digest[..16]
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        resp.headers_mut().insert("content-disposition", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("sha-256={digest}")) {
        resp.headers_mut().insert("x-sealtrail-bundle-digest", v);
    }
    Ok(r.decorate(resp))
}
