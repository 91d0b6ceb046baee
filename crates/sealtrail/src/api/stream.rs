//! `GET /v1/compliance/activities/stream`: the feed as Server-Sent Events.
//!
//! Each event carries its activity id as the SSE `id`, so a client that
//! reconnects with `Last-Event-ID` resumes exactly after the last event it
//! received: no gap, no duplicate. The producer reads committed events in
//! log order after its cursor and sleeps on the sequencer's commit signal.
//! A client that stops reading is cut off after a bounded wait; it never
//! holds back ingest (readers never block the writer) and resumes with its
//! last id.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::{AppState, reader};
use crate::app::App;
use crate::auth::Scope;
use crate::error::ApiError;
use crate::feed::params::FeedParams;
use crate::feed::{build_query, ocsf, render, resolve_orgs};
use crate::ids::ActivityId;
use crate::storage::{OrgKey, Scan};

/// Events read per query.
const CHUNK: usize = 500;
/// How long a full client buffer is tolerated before the stream is cut.
const CUT_OFF: Duration = Duration::from_secs(10);
/// Heartbeat comment interval.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// Opens a stream.
pub async fn stream(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let r = reader(&app, &headers, Scope::ReadActivities).await?;
    let q = q.unwrap_or_default();
    let p = FeedParams::parse(&q)?;
    for (k, _) in form_urlencoded::parse(q.as_bytes()) {
        if matches!(k.as_ref(), "limit" | "before_id" | "order") {
            return Err(ApiError::invalid(
                k.as_ref(),
                format!(
                    "{k} does not apply to a stream: it delivers every matching event in log order"
                ),
            ));
        }
    }
    let resume = match headers.get("last-event-id") {
        Some(v) => {
            let s = v.to_str().map_err(|_| {
                ApiError::invalid("last-event-id", "Last-Event-ID is not valid text")
            })?;
            Some(s.parse::<ActivityId>().map_err(|e| {
                ApiError::invalid(
                    "last-event-id",
                    format!("Last-Event-ID is not an activity id: {e}"),
                )
            })?)
        }
        None => p.after_id,
    };
    let orgs = resolve_orgs(&app, r.org, &p.organization_ids)?;
    let mut committed = app.sequencer.committed();
    let start = match resume {
        Some(id) => id.gseq(),
        None => *committed.borrow_and_update(),
    };
    r.record(&app, "GET /v1/compliance/activities/stream", &q, None);
    let (tx, rx) = mpsc::channel::<Result<Event, Infallible>>(CHUNK);
    tokio::spawn(produce(app.clone(), orgs, p, start, tx, committed));
    let sse = Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat"));
    Ok(r.decorate(sse.into_response()))
}

async fn produce(
    app: Arc<App>,
    orgs: Vec<OrgKey>,
    p: FeedParams,
    mut cursor: u64,
    tx: mpsc::Sender<Result<Event, Infallible>>,
    mut committed: tokio::sync::watch::Receiver<u64>,
) {
    let p = Arc::new(p);
    let orgs = Arc::new(orgs);
    loop {
        let (a, pp, oo) = (app.clone(), p.clone(), orgs.clone());
        let batch =
            tokio::task::spawn_blocking(move || -> Result<Vec<(String, String)>, ApiError> {
                let q = build_query(&a, &oo, &pp, Scan::Asc, Some(cursor), CHUNK);
                let rows = a.store.query(&q)?;
                let mut rnd = render::Renderer::new(&a);
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    let m = rnd.render(row, pp.include_proof)?;
                    let id = m
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    let body = if pp.format == "ocsf" {
                        ocsf::to_ocsf(&m, &a.catalog).to_string()
                    } else {
                        Value::Object(m).to_string()
                    };
                    out.push((id, body));
                }
                Ok(out)
            })
            .await;
        let batch = match batch {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                let _ = tx
                    .send(Ok(Event::default().event("error").data(e.message)))
                    .await;
                return;
            }
            Err(_) => return,
        };
        let full = batch.len() == CHUNK;
        for (id, body) in batch {
            if let Ok(aid) = id.parse::<ActivityId>() {
                cursor = aid.gseq();
            }
            let ev = Event::default().id(id).event("activity").data(body);
            match tx.send_timeout(Ok(ev), CUT_OFF).await {
                Ok(()) => {}
                // Closed, or the client stopped reading: end the stream; the
                // client resumes with its Last-Event-ID.
                Err(_) => return,
            }
        }
        if full {
            continue;
        }
        tokio::select! {
            changed = committed.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = tx.closed() => return,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}
