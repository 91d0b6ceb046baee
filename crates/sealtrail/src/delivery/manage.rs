//! Creating, changing and inspecting sinks: the product logic behind the
//! `/v1/compliance/sinks` endpoints and `sealtrail sinks`.
//!
//! Every change is written together with its `compliance.sink_changed`
//! event in one sequencer job, so the log records exactly the changes that
//! took effect. Secrets are sealed before they reach storage and views
//! only ever say which secrets are set.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::encoding::Encoding;
use super::settings::{BackoffSettings, Kind, Settings, optional_object};
use crate::app::App;
use crate::audit::{append_own, own_event};
use crate::error::ApiError;
use crate::feed::params::FeedParams;
use crate::feed::{build_query, resolve_orgs};
use crate::ids::ActivityId;
use crate::storage::{Org, Scan, SinkRecord, StoreError};
use crate::time::{fmt_ms, now_ms};

/// Most events counted when computing lag; beyond it the count is a lower
/// bound (`lag_events_capped`).
pub const LAG_COUNT_CAP: usize = 10_000;

/// A filter as written: the feed's query string, or an object of the same
/// parameters (`{"activity_types": ["api_key.*"], "outcome": "failure"}`).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum FilterInput {
    /// `activity_types[]=api_key.*&outcome=failure`.
    Query(String),
    /// The same as an object.
    Object(Map<String, Value>),
}

/// Feed parameters that make no sense for a sink: it follows the log in
/// order from its cursor.
const NOT_FOR_SINKS: [&str; 6] = [
    "limit",
    "after_id",
    "before_id",
    "order",
    "include_proof",
    "format",
];

impl FilterInput {
    /// The canonical query string, checked as the feed checks it.
    pub fn normalize(&self, app: &App, sink_org: &Org) -> Result<String, ApiError> {
        let q = match self {
            FilterInput::Query(s) => s.trim_start_matches('?').to_string(),
            FilterInput::Object(m) => {
                let mut ser = form_urlencoded::Serializer::new(String::new());
                for (k, v) in m {
                    let name = k.trim_end_matches("[]");
                    match v {
                        Value::Array(items) => {
                            for i in items {
                                let s = scalar(i).ok_or_else(|| {
                                    ApiError::invalid(
                                        format!("filter.{k}"),
                                        "values must be strings",
                                    )
                                })?;
                                ser.append_pair(&format!("{name}[]"), &s);
                            }
                        }
                        other => {
                            let s = scalar(other).ok_or_else(|| {
                                ApiError::invalid(format!("filter.{k}"), "values must be strings")
                            })?;
                            ser.append_pair(name, &s);
                        }
                    }
                }
                ser.finish()
            }
        };
        for (k, _) in form_urlencoded::parse(q.as_bytes()) {
            let name = k.trim_end_matches("[]");
            if NOT_FOR_SINKS.contains(&name) {
                return Err(ApiError::invalid(
                    format!("filter.{name}"),
                    format!(
                        "{name} does not apply to a sink, which follows the log in order from its cursor"
                    ),
                ));
            }
        }
        let p = FeedParams::parse(&q).map_err(|mut e| {
            e.field = e.field.map(|f| format!("filter.{f}"));
            e
        })?;
        resolve_orgs(app, sink_org.key, &p.organization_ids).map_err(|e| {
            ApiError::invalid(
                "filter.organization_ids",
                format!("{} (it must be within the sink's organization)", e.message),
            )
        })?;
        Ok(q)
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Body of `POST /v1/compliance/sinks`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSink {
    /// A label.
    pub name: String,
    /// Destination kind.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whose events; the key's organization when absent.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// Which events (the feed's filters).
    #[serde(default)]
    pub filter: Option<FilterInput>,
    /// `json` or `ocsf`.
    #[serde(default)]
    pub encoding: Option<Encoding>,
    /// Most events per request.
    #[serde(default)]
    pub batch_size: Option<usize>,
    /// Per-request timeout (ms).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Retry waits.
    #[serde(default, deserialize_with = "optional_object")]
    pub backoff: Option<BackoffSettings>,
    /// The destination's settings.
    pub destination: Value,
    /// The destination's secrets.
    #[serde(default)]
    pub secrets: Map<String, Value>,
    /// Where delivery starts: `now` (default), `beginning`, an activity id
    /// or an RFC 3339 time.
    #[serde(default)]
    pub start_from: Option<String>,
    /// Create it paused.
    #[serde(default)]
    pub paused: bool,
}

/// Body of `PATCH /v1/compliance/sinks/{id}`: every field optional;
/// `secrets` are merged key by key (a `null` removes one).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSink {
    /// A label.
    #[serde(default)]
    pub name: Option<String>,
    /// Which events.
    #[serde(default)]
    pub filter: Option<FilterInput>,
    /// `json` or `ocsf`.
    #[serde(default)]
    pub encoding: Option<Encoding>,
    /// Most events per request.
    #[serde(default)]
    pub batch_size: Option<usize>,
    /// Per-request timeout (ms).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Retry waits.
    #[serde(default, deserialize_with = "optional_object")]
    pub backoff: Option<BackoffSettings>,
    /// The destination's settings (replaced whole).
    #[serde(default)]
    pub destination: Option<Value>,
    /// Secrets to set or (with `null`) remove.
    #[serde(default)]
    pub secrets: Option<Map<String, Value>>,
}

/// Body of `POST /v1/compliance/sinks/{id}/replay`: exactly one of them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// Deliver again from this activity (inclusive).
    #[serde(default)]
    pub from_id: Option<String>,
    /// Deliver again every event that happened at or after this time.
    #[serde(default)]
    pub from_time: Option<String>,
    /// Deliver again from the first event.
    #[serde(default)]
    pub from_beginning: Option<bool>,
}

fn invalid((field, msg): (String, String)) -> ApiError {
    ApiError::invalid(field, msg)
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid(
            "name",
            "name must be 1 to 200 characters",
        ));
    }
    Ok(())
}

/// The cursor at which delivery starts for a `start_from` or replay point:
/// the global sequence just before the first event to deliver.
fn start_cursor(app: &App, org: &Org, from: &str, field: &str) -> Result<u64, ApiError> {
    match from {
        "now" => Ok(app.store.max_gseq()?),
        "beginning" => Ok(0),
        s if s.starts_with("act_") => {
            let id: ActivityId = s.parse().map_err(|e| {
                ApiError::invalid(field, format!("{s:?} is not an activity id: {e}"))
            })?;
            Ok(id.gseq().saturating_sub(1))
        }
        s => {
            let ms = crate::time::parse_rfc3339(s).map_err(|e| {
                ApiError::invalid(
                    field,
                    format!("use now, beginning, an activity id or an RFC 3339 time: {e}"),
                )
            })?;
            // The first event in scope that happened at or after the time:
            // every later-happened event comes after it in the log.
            let orgs = app.subtree(org.key);
            let p = FeedParams {
                created_from: Some(ms),
                ..FeedParams::default()
            };
            let q = build_query(app, &orgs, &p, Scan::Asc, None, 1);
            match app.store.query(&q)?.first() {
                Some(ev) => Ok(ev.gseq.saturating_sub(1)),
                None => Ok(app.store.max_gseq()?),
            }
        }
    }
}

fn seal(app: &App, id: &str, secrets: &Map<String, Value>) -> Vec<u8> {
    let plain = serde_json::to_vec(secrets).unwrap_or_default();
    app.master.seal_sink_secrets(id, &plain)
}

async fn commit(
    app: &Arc<App>,
    rec: SinkRecord,
    action: &'static str,
    changed: Vec<String>,
    key_id: &str,
    reader: &Org,
    delete: bool,
) -> Result<SinkRecord, ApiError> {
    let catalog = app.catalog.clone();
    let reader = reader.clone();
    let key = key_id.to_string();
    let sink_org = app.org_by_key(rec.org).map(|o| o.id).unwrap_or_default();
    let out = app
        .sequencer
        .run_atomic(move |b| {
            if delete {
                if !b.txn().delete_sink(&rec.id)? {
                    return Err(StoreError::NotFound(format!("sink {} not found", rec.id)));
                }
            } else {
                b.txn().put_sink(&rec)?;
            }
            let mut md = Map::new();
            md.insert("sink_id".into(), json!(rec.id));
            md.insert("action".into(), json!(action));
            md.insert("sink_type".into(), json!(rec.kind));
            md.insert("organization_id".into(), json!(sink_org));
            if !changed.is_empty() {
                md.insert("changed_fields".into(), json!(changed));
            }
            let target = sealtrail_model::Target {
                target_type: "sink".into(),
                id: Some(rec.id.clone()),
                name: Some(rec.name.clone()),
            };
            let ev = own_event("compliance.sink_changed", &reader, &key, Some(target), md);
            append_own(b, &catalog, &reader, &ev)?;
            Ok(rec)
        })
        .await?;
    app.sinks.notify();
    Ok(out)
}

/// Creates a sink.
pub async fn create(
    app: &Arc<App>,
    reader: &Org,
    key_id: &str,
    req: CreateSink,
) -> Result<SinkRecord, ApiError> {
    check_name(&req.name)?;
    let kind = Kind::parse(&req.kind).ok_or_else(|| {
        let names: Vec<&str> = Kind::ALL.iter().map(Kind::as_str).collect();
        ApiError::invalid("type", format!("type must be one of {}", names.join(", ")))
    })?;
    let org = match &req.organization_id {
        Some(id) => match app.org(id) {
            Some(o) if app.is_within(o.key, reader.key) => o,
            _ => {
                return Err(ApiError::forbidden(format!(
                    "organization {id:?} is not within this key's scope"
                ))
                .with_field("organization_id"));
            }
        },
        None => reader.clone(),
    };
    let settings = Settings {
        encoding: req.encoding.unwrap_or_default(),
        batch_size: req.batch_size.unwrap_or(100),
        timeout_ms: req.timeout_ms.unwrap_or(10_000),
        backoff: req.backoff.unwrap_or_default(),
        destination: req.destination,
    };
    settings
        .validate(kind, &req.secrets, &app.catalog)
        .map_err(invalid)?;
    let filter = match &req.filter {
        Some(f) => f.normalize(app, &org)?,
        None => String::new(),
    };
    let id = crate::ids::new_prefixed_id("snk");
    let a = app.clone();
    let (org2, from) = (
        org.clone(),
        req.start_from.clone().unwrap_or_else(|| "now".into()),
    );
    let cursor = tokio::task::spawn_blocking(move || start_cursor(&a, &org2, &from, "start_from"))
        .await
        .map_err(ApiError::internal)??;
    let now = now_ms();
    let rec = SinkRecord {
        secrets: seal(app, &id, &req.secrets),
        id,
        org: org.key,
        name: req.name,
        kind: kind.as_str().to_string(),
        config: serde_json::to_string(&settings).map_err(ApiError::internal)?,
        filter,
        paused: req.paused,
        epoch: 0,
        cursor_gseq: cursor,
        created_ms: now,
        updated_ms: now,
        last_success_ms: None,
        last_error: None,
        last_error_ms: None,
        delivered: 0,
    };
    commit(app, rec, "created", vec![], key_id, reader, false).await
}

/// A sink visible to a key rooted at `reader`.
pub async fn get(app: &Arc<App>, reader: &Org, id: &str) -> Result<SinkRecord, ApiError> {
    let a = app.clone();
    let id2 = id.to_string();
    let rec = tokio::task::spawn_blocking(move || a.store.sink(&id2))
        .await
        .map_err(ApiError::internal)??;
    rec.filter(|r| app.is_within(r.org, reader.key))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "sink {id:?} does not exist or is not visible to this key"
            ))
        })
}

/// Every sink visible to a key rooted at `reader`.
pub async fn list(app: &Arc<App>, reader: &Org) -> Result<Vec<SinkRecord>, ApiError> {
    let a = app.clone();
    let all = tokio::task::spawn_blocking(move || a.store.sinks())
        .await
        .map_err(ApiError::internal)??;
    Ok(all
        .into_iter()
        .filter(|r| app.is_within(r.org, reader.key))
        .collect())
}

/// Changes a sink's settings, filter or secrets.
pub async fn update(
    app: &Arc<App>,
    reader: &Org,
    key_id: &str,
    id: &str,
    req: UpdateSink,
) -> Result<SinkRecord, ApiError> {
    let mut rec = get(app, reader, id).await?;
    let kind = Kind::parse(&rec.kind)
        .ok_or_else(|| ApiError::internal(format!("stored sink type {}", rec.kind)))?;
    let mut settings: Settings = serde_json::from_str(&rec.config).map_err(ApiError::internal)?;
    let mut secrets = super::worker::open_secrets(app, &rec).map_err(ApiError::internal)?;
    let mut changed = Vec::new();
    if let Some(n) = req.name {
        check_name(&n)?;
        rec.name = n;
        changed.push("name".to_string());
    }
    if let Some(e) = req.encoding {
        settings.encoding = e;
        changed.push("encoding".into());
    }
    if let Some(b) = req.batch_size {
        settings.batch_size = b;
        changed.push("batch_size".into());
    }
    if let Some(t) = req.timeout_ms {
        settings.timeout_ms = t;
        changed.push("timeout_ms".into());
    }
    if let Some(b) = req.backoff {
        settings.backoff = b;
        changed.push("backoff".into());
    }
    if let Some(d) = req.destination {
        settings.destination = d;
        changed.push("destination".into());
    }
    if let Some(s) = req.secrets {
        for (k, v) in s {
            changed.push(format!("secrets.{k}"));
            if v.is_null() {
                secrets.remove(&k);
            } else {
                secrets.insert(k, v);
            }
        }
    }
    let org = app
        .org_by_key(rec.org)
        .ok_or_else(|| ApiError::not_found("the sink's organization no longer exists"))?;
    if let Some(f) = req.filter {
        rec.filter = f.normalize(app, &org)?;
        changed.push("filter".into());
    }
    settings
        .validate(kind, &secrets, &app.catalog)
        .map_err(invalid)?;
    rec.config = serde_json::to_string(&settings).map_err(ApiError::internal)?;
    rec.secrets = seal(app, &rec.id, &secrets);
    rec.updated_ms = now_ms().max(rec.updated_ms + 1);
    commit(app, rec, "updated", changed, key_id, reader, false).await
}

/// Pauses or resumes delivery.
pub async fn set_paused(
    app: &Arc<App>,
    reader: &Org,
    key_id: &str,
    id: &str,
    paused: bool,
) -> Result<SinkRecord, ApiError> {
    let mut rec = get(app, reader, id).await?;
    rec.paused = paused;
    rec.updated_ms = now_ms().max(rec.updated_ms + 1);
    let action = if paused { "paused" } else { "resumed" };
    commit(app, rec, action, vec![], key_id, reader, false).await
}

/// Moves the cursor back (or forward) so delivery continues from a point.
pub async fn replay(
    app: &Arc<App>,
    reader: &Org,
    key_id: &str,
    id: &str,
    req: Replay,
) -> Result<SinkRecord, ApiError> {
    let mut rec = get(app, reader, id).await?;
    let from = match (&req.from_id, &req.from_time, req.from_beginning) {
        (Some(i), None, None | Some(false)) => {
            if !i.starts_with("act_") {
                return Err(ApiError::invalid(
                    "from_id",
                    "from_id is an activity id (act_…)",
                ));
            }
            i.clone()
        }
        (None, Some(t), None | Some(false)) => {
            crate::time::parse_rfc3339(t).map_err(|e| ApiError::invalid("from_time", e))?;
            t.clone()
        }
        (None, None, Some(true)) => "beginning".into(),
        _ => {
            return Err(ApiError::invalid(
                "body",
                "give exactly one of from_id, from_time or from_beginning: true",
            ));
        }
    };
    let org = app
        .org_by_key(rec.org)
        .ok_or_else(|| ApiError::not_found("the sink's organization no longer exists"))?;
    let a = app.clone();
    let cursor = tokio::task::spawn_blocking(move || start_cursor(&a, &org, &from, "from"))
        .await
        .map_err(ApiError::internal)??;
    rec.cursor_gseq = cursor;
    rec.epoch += 1;
    rec.updated_ms = now_ms().max(rec.updated_ms + 1);
    commit(app, rec, "replayed", vec![], key_id, reader, false).await
}

/// Removes a sink.
pub async fn delete(
    app: &Arc<App>,
    reader: &Org,
    key_id: &str,
    id: &str,
) -> Result<SinkRecord, ApiError> {
    let rec = get(app, reader, id).await?;
    commit(app, rec, "deleted", vec![], key_id, reader, true).await
}

/// How far behind a sink is: events in its filter after its cursor (up to
/// [`LAG_COUNT_CAP`]) and the age of the oldest of them.
pub fn lag(app: &App, rec: &SinkRecord) -> Result<(usize, bool, f64), ApiError> {
    let p = FeedParams::parse(&rec.filter)?;
    let orgs = resolve_orgs(app, rec.org, &p.organization_ids)?;
    if orgs.is_empty() {
        return Ok((0, false, 0.0));
    }
    let q = build_query(
        app,
        &orgs,
        &p,
        Scan::Asc,
        Some(rec.cursor_gseq),
        LAG_COUNT_CAP + 1,
    );
    let rows = app.store.query(&q)?;
    let capped = rows.len() > LAG_COUNT_CAP;
    let secs = rows
        .first()
        .map(|e| ((now_ms() - e.received_ms).max(0)) as f64 / 1000.0)
        .unwrap_or(0.0);
    Ok((rows.len().min(LAG_COUNT_CAP), capped, secs))
}

/// The public view of a sink. Secret values never appear: only which
/// secrets are set.
pub fn view(app: &App, rec: &SinkRecord, with_lag: bool) -> Value {
    let settings: Option<Settings> = serde_json::from_str(&rec.config).ok();
    let secret_names: Map<String, Value> = super::worker::open_secrets(app, rec)
        .map(|m| {
            m.keys()
                .map(|k| (k.clone(), json!({ "set": true })))
                .collect()
        })
        .unwrap_or_default();
    let failing = match (rec.last_error_ms, rec.last_success_ms) {
        (Some(e), Some(s)) => e > s,
        (Some(_), None) => true,
        _ => false,
    };
    let state = if rec.paused {
        "paused"
    } else if failing {
        "failing"
    } else {
        "active"
    };
    let cursor_id = (rec.cursor_gseq > 0)
        .then(|| app.store.event_by_gseq(rec.cursor_gseq).ok().flatten())
        .flatten()
        .map(|e| ActivityId::new(e.received_ms as u64, e.gseq).to_string());
    let mut health = json!({
        "state": state,
        "last_success_at": rec.last_success_ms.map(fmt_ms),
        "last_error": rec.last_error,
        "last_error_at": rec.last_error_ms.map(fmt_ms),
        "delivered_events": rec.delivered,
    });
    if with_lag
        && let Ok((n, capped, secs)) = lag(app, rec)
        && let Some(h) = health.as_object_mut()
    {
        h.insert("lag_events".into(), json!(n));
        h.insert("lag_events_capped".into(), json!(capped));
        h.insert("lag_seconds".into(), json!(secs));
    }
    json!({
        "id": rec.id,
        "name": rec.name,
        "type": rec.kind,
        "organization_id": app.org_by_key(rec.org).map(|o| o.id),
        "filter": rec.filter,
        "encoding": settings.as_ref().map(|s| s.encoding),
        "batch_size": settings.as_ref().map(|s| s.batch_size),
        "timeout_ms": settings.as_ref().map(|s| s.timeout_ms),
        "backoff": settings.as_ref().map(|s| s.backoff.clone()),
        "destination": settings.as_ref().map(|s| s.destination.clone()),
        "secrets": secret_names,
        "paused": rec.paused,
        "cursor": { "gseq": rec.cursor_gseq, "after_id": cursor_id },
        "created_at": fmt_ms(rec.created_ms),
        "updated_at": fmt_ms(rec.updated_ms),
        "health": health,
    })
}
