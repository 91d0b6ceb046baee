//! Ingest: batches from sources become durable, sequenced events.
//!
//! A request is parsed and every event validated here, off the writer
//! thread; what survives goes to the sequencer in one job, and the answer
//! is sent only after the group commit that holds it. Each event gets its
//! own result: accepted (id, seq), duplicate (the original id, seq), or
//! refused (a reason naming the field).

use std::sync::Arc;

use sealtrail_model::{Catalog, parse_activity};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::app::App;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::ids::ActivityId;
use crate::log::prepare::{PreparedEvent, prepare};
use crate::storage::{Org, StoreError};

/// Most events in one request.
pub const MAX_EVENTS: usize = 1000;
/// Largest request body.
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

/// How the body is framed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Framing {
    /// A JSON array of events (or a single event object).
    JsonArray,
    /// One event per line.
    Ndjson,
}

impl Framing {
    /// From a `Content-Type` header value.
    pub fn from_content_type(ct: Option<&str>) -> Result<Framing, ApiError> {
        let ct = ct
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match ct.as_str() {
            "application/json" => Ok(Framing::JsonArray),
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" | "application/x-jsonlines" => {
                Ok(Framing::Ndjson)
            }
            "" => Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "set Content-Type to application/json (an array of events) or application/x-ndjson (one event per line)",
            )
            .with_field("content-type")),
            other => Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("Content-Type {other:?} is not accepted; use application/json or application/x-ndjson"),
            )
            .with_field("content-type")),
        }
    }
}

/// One event's result.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EventResult {
    /// Stored now.
    Accepted {
        /// Position in the request.
        index: usize,
        /// Activity id.
        id: String,
        /// Sequence in its organization's log.
        seq: u64,
    },
    /// Stored earlier under the same source event id.
    Duplicate {
        /// Position in the request.
        index: usize,
        /// The original activity id.
        id: String,
        /// The original sequence.
        seq: u64,
    },
    /// Not stored.
    Refused {
        /// Position in the request.
        index: usize,
        /// Why.
        error: Refusal,
    },
}

/// Why an event was refused.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Refusal {
    /// Stable reason, e.g. `inference_content`, `organization_not_enabled`.
    #[serde(rename = "type")]
    pub kind: String,
    /// One sentence.
    pub message: String,
    /// The offending field path, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The response to an ingest request.
#[derive(Clone, Debug, Serialize)]
pub struct IngestResponse {
    /// Events accepted now.
    pub accepted: usize,
    /// Retries recognized.
    pub duplicates: usize,
    /// Events refused.
    pub refused: usize,
    /// Per-event results, in request order.
    pub results: Vec<EventResult>,
}

/// Splits a body into raw events.
pub fn split_body(body: &[u8], framing: Framing) -> Result<Vec<Box<RawValue>>, ApiError> {
    let events: Vec<Box<RawValue>> = match framing {
        Framing::JsonArray => {
            let trimmed = body.iter().position(|b| !b.is_ascii_whitespace());
            match trimmed.map(|i| body[i]) {
                Some(b'[') => serde_json::from_slice(body).map_err(|e| {
                    ApiError::invalid(
                        "body",
                        format!("the body is not a JSON array of events: {e}"),
                    )
                })?,
                Some(b'{') => vec![serde_json::from_slice(body).map_err(|e| {
                    ApiError::invalid("body", format!("the body is not a JSON event: {e}"))
                })?],
                _ => {
                    return Err(ApiError::invalid(
                        "body",
                        "the body must be a JSON array of events",
                    ));
                }
            }
        }
        Framing::Ndjson => {
            let mut out = Vec::new();
            for (i, line) in body.split(|&b| b == b'\n').enumerate() {
                if line.iter().all(|b| b.is_ascii_whitespace()) {
                    continue;
                }
                out.push(serde_json::from_slice(line).map_err(|e| {
                    ApiError::invalid(
                        format!("line {}", i + 1),
                        format!("line {} is not a JSON event: {e}", i + 1),
                    )
                })?);
                if out.len() > MAX_EVENTS {
                    break;
                }
            }
            out
        }
    };
    if events.is_empty() {
        return Err(ApiError::invalid("body", "the batch holds no events"));
    }
    if events.len() > MAX_EVENTS {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_events",
            format!("a batch holds at most {MAX_EVENTS} events"),
        )
        .with_field("body"));
    }
    Ok(events)
}

struct Prepared {
    index: usize,
    org: Org,
    event: PreparedEvent,
}

fn refusal(kind: &str, message: String, field: Option<String>) -> Refusal {
    Refusal {
        kind: kind.to_string(),
        message,
        field,
    }
}

/// Validates every event of a batch and prepares those that may be stored.
fn validate(
    app: &App,
    key_org: crate::storage::OrgKey,
    product: &str,
    raw: &[Box<RawValue>],
) -> (Vec<Option<EventResult>>, Vec<Prepared>) {
    let mut results: Vec<Option<EventResult>> = vec![None; raw.len()];
    let mut prepared = Vec::with_capacity(raw.len());
    let catalog: &Catalog = &app.catalog;
    for (index, r) in raw.iter().enumerate() {
        let text = r.get();
        let refused = |e: Refusal| Some(EventResult::Refused { index, error: e });
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                results[index] = refused(refusal(
                    "invalid",
                    format!("event is not valid JSON: {e}"),
                    None,
                ));
                continue;
            }
        };
        let input = match parse_activity(&value, text.len(), catalog, &app.limits) {
            Ok(i) => i,
            Err(fe) => {
                results[index] = refused(refusal(
                    fe.rule.as_str(),
                    fe.message.clone(),
                    Some(fe.field.clone()),
                ));
                continue;
            }
        };
        if let Some(p) = &input.product
            && p != product
        {
            results[index] = refused(refusal(
                "product_mismatch",
                format!("this key writes for product {product:?}, not {p:?}"),
                Some("product".into()),
            ));
            continue;
        }
        let org = match app.org(&input.organization_id) {
            Some(o) if app.is_within(o.key, key_org) => o,
            _ => {
                results[index] = refused(refusal(
                    "organization_not_allowed",
                    format!(
                        "organization {:?} is not writable with this key (it must be the key's organization or below it)",
                        input.organization_id
                    ),
                    Some("organization_id".into()),
                ));
                continue;
            }
        };
        let Some(def) = catalog.get(&input.activity_type) else {
            results[index] = refused(refusal(
                "unknown_type",
                "the activity type is not in the catalog".into(),
                Some("type".into()),
            ));
            continue;
        };
        let event = prepare(
            &input,
            def,
            &org,
            Some(product),
            &app.master,
            app.store.compresses_entries(),
        );
        prepared.push(Prepared { index, org, event });
    }
    (results, prepared)
}

/// Validates and stores a batch for a source.
pub async fn ingest(
    app: Arc<App>,
    principal: &Principal,
    raw: Vec<Box<RawValue>>,
) -> Result<IngestResponse, ApiError> {
    let Principal::Ingest {
        org: key_org,
        product,
        ..
    } = principal
    else {
        return Err(ApiError::forbidden("ingest needs an ingest key"));
    };
    let started = std::time::Instant::now();
    // Validation and preparation are CPU work: off the async workers for
    // anything but tiny batches, and never on the sequencer's thread.
    let (mut results, prepared) = if raw.len() > 16 {
        let (a, k, p) = (app.clone(), *key_org, product.clone());
        tokio::task::spawn_blocking(move || validate(&a, k, &p, &raw))
            .await
            .map_err(ApiError::internal)?
    } else {
        validate(&app, *key_org, product, &raw)
    };

    let product_owned = product.clone();
    let appended = app
        .sequencer
        .run(move |b| {
            let mut out = Vec::with_capacity(prepared.len());
            for p in prepared {
                let org = b.org_now(p.org.key).unwrap_or(p.org);
                // A retry gets the original result first, whatever happened
                // since (recording switched off included): the source must
                // learn that its events are stored.
                if let Some(sid) = &p.event.source_event_id {
                    match b.txn().find_source_event(org.key, &product_owned, sid) {
                        Ok(Some((gseq, seq, ms))) => {
                            out.push(EventResult::Duplicate {
                                index: p.index,
                                id: ActivityId::new(ms as u64, gseq).to_string(),
                                seq,
                            });
                            continue;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            b.fail(&e);
                            return Err(e);
                        }
                    }
                }
                if !org.enabled {
                    out.push(EventResult::Refused {
                        index: p.index,
                        error: refusal(
                            "organization_not_enabled",
                            format!(
                                "recording is not enabled for organization {}; nothing sent before enablement is stored",
                                org.id
                            ),
                            Some("organization_id".into()),
                        ),
                    });
                    continue;
                }
                let a = b.append_prepared(&org, p.event)?;
                out.push(EventResult::Accepted {
                    index: p.index,
                    id: a.id,
                    seq: a.seq,
                });
            }
            Ok::<_, StoreError>(out)
        })
        .await??;
    for r in appended {
        let i = match &r {
            EventResult::Accepted { index, .. }
            | EventResult::Duplicate { index, .. }
            | EventResult::Refused { index, .. } => *index,
        };
        if let Some(slot) = results.get_mut(i) {
            *slot = Some(r);
        }
    }
    let results: Vec<EventResult> = results
        .into_iter()
        .enumerate()
        .map(|(index, r)| {
            r.unwrap_or(EventResult::Refused {
                index,
                error: refusal(
                    "unknown_type",
                    "the activity type is not in the catalog".into(),
                    Some("type".into()),
                ),
            })
        })
        .collect();
    let (mut accepted, mut duplicates, mut refused) = (0, 0, 0);
    for r in &results {
        match r {
            EventResult::Accepted { .. } => accepted += 1,
            EventResult::Duplicate { .. } => duplicates += 1,
            EventResult::Refused { error, .. } => {
                refused += 1;
                app.metrics.refuse(&error.kind);
            }
        }
    }
    app.metrics.ingest_accepted.add(accepted as u64);
    app.metrics.ingest_duplicates.add(duplicates as u64);
    app.metrics
        .ingest_seconds
        .observe(started.elapsed().as_secs_f64());
    Ok(IngestResponse {
        accepted,
        duplicates,
        refused,
        results,
    })
}
