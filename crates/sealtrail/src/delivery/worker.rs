//! The delivery loop: one task per sink, and a supervisor that starts them.
//!
//! A worker reads the events after its sink's durable cursor, in log order
//! (ascending global sequence, which is also each organization's order),
//! sends them in batches, and moves the cursor only once the destination
//! acknowledged. A failure leaves the cursor where it was, so the same
//! events go again after a backoff: nothing is skipped, nothing overtakes
//! an earlier event, and a crash at any point at worst repeats a batch —
//! with the same activity ids, on which receivers deduplicate.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::settings::{Kind, Settings, build};
use super::{Record, Sink};
use crate::app::App;
use crate::feed::params::FeedParams;
use crate::feed::render::Renderer;
use crate::feed::{build_query, resolve_orgs};
use crate::storage::{Scan, SinkProgress, SinkRecord};
use crate::time::now_ms;

/// How long an idle worker waits before looking again even without a
/// commit signal (a safety net; commits wake it at once).
const IDLE_POLL: Duration = Duration::from_secs(30);

/// The lease that makes one node of a cluster the deliverer.
const DELIVERY_LEASE: &str = "delivery";

/// How often a node without the delivery lease asks for it again.
const LEASE_RETRY: Duration = Duration::from_secs(5);

/// Starts a worker for every sink and keeps the set in step with the
/// stored sinks until `stop` is set; then waits for the workers to end.
pub async fn supervise(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let mut changed = app.sinks.subscribe();
    let mut running: HashMap<String, JoinHandle<()>> = HashMap::new();
    loop {
        running.retain(|_, h| !h.is_finished());
        // Where several nodes share the store, one delivers at a time: the
        // holder of the delivery lease. The others keep asking, so one of
        // them takes over when the holder's session ends.
        let a = app.clone();
        let holder = tokio::task::spawn_blocking(move || {
            !a.store.shared() || a.store.try_lease(DELIVERY_LEASE).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if !holder {
            tokio::select! {
                _ = stop.changed() => break,
                _ = tokio::time::sleep(LEASE_RETRY) => {}
            }
            continue;
        }
        let a = app.clone();
        match tokio::task::spawn_blocking(move || a.store.sinks()).await {
            Ok(Ok(list)) => {
                for s in list {
                    if let std::collections::hash_map::Entry::Vacant(v) = running.entry(s.id) {
                        let h = tokio::spawn(run(app.clone(), v.key().clone(), stop.clone()));
                        v.insert(h);
                    }
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot list sinks"),
            Err(e) => tracing::warn!(error = %e, "cannot list sinks"),
        }
        tokio::select! {
            _ = stop.changed() => break,
            _ = changed.changed() => {}
            _ = tokio::time::sleep(IDLE_POLL) => {}
        }
    }
    for (_, h) in running {
        let _ = h.await;
    }
}

/// A sink built from one version of its settings.
struct Built {
    updated_ms: i64,
    settings: Settings,
    sink: Box<dyn Sink>,
}

/// What identifies a version of a sink's settings and position: when any
/// of these changes, a wait in progress is cut short.
fn version(r: &SinkRecord) -> (i64, u64, bool) {
    (r.updated_ms, r.epoch, r.paused)
}

async fn load(app: &Arc<App>, id: &str) -> Result<Option<SinkRecord>, String> {
    let a = app.clone();
    let id = id.to_string();
    match tokio::task::spawn_blocking(move || a.store.sink(&id)).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

async fn report(app: &Arc<App>, rec: &SinkRecord, p: SinkProgress) {
    let a = app.clone();
    let (id, epoch) = (rec.id.clone(), rec.epoch);
    let r = tokio::task::spawn_blocking(move || a.store.sink_progress(&id, epoch, &p)).await;
    match r {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(sink = %rec.id, error = %e, "cannot record sink progress"),
        Err(e) => tracing::warn!(sink = %rec.id, error = %e, "cannot record sink progress"),
    }
}

/// Builds the sink a record describes: parses its settings and opens its
/// secrets.
fn build_sink(app: &App, rec: &SinkRecord) -> Result<Built, String> {
    let kind = Kind::parse(&rec.kind).ok_or_else(|| format!("unknown sink type {}", rec.kind))?;
    let settings: Settings =
        serde_json::from_str(&rec.config).map_err(|e| format!("stored settings: {e}"))?;
    let secrets = open_secrets(app, rec)?;
    let sink =
        build(kind, &settings, &secrets, &app.catalog).map_err(|(f, m)| format!("{f}: {m}"))?;
    Ok(Built {
        updated_ms: rec.updated_ms,
        settings,
        sink,
    })
}

/// A sink's secrets, opened with the master key.
pub fn open_secrets(app: &App, rec: &SinkRecord) -> Result<Map<String, Value>, String> {
    let plain = app
        .master
        .open_sink_secrets(&rec.id, &rec.secrets)
        .map_err(|e| format!("sink secrets: {e}"))?;
    serde_json::from_slice(&plain).map_err(|e| format!("sink secrets: {e}"))
}

/// Reads and renders up to `limit` events after the sink's cursor.
pub fn read_batch(
    app: &App,
    rec: &SinkRecord,
    settings: &Settings,
    limit: usize,
) -> Result<Vec<Record>, String> {
    let p = FeedParams::parse(&rec.filter).map_err(|e| format!("filter: {}", e.message))?;
    let orgs = resolve_orgs(app, rec.org, &p.organization_ids)
        .map_err(|e| format!("filter: {}", e.message))?;
    if orgs.is_empty() {
        return Ok(Vec::new());
    }
    let q = build_query(app, &orgs, &p, Scan::Asc, Some(rec.cursor_gseq), limit);
    let rows = app.store.query(&q).map_err(|e| e.to_string())?;
    let mut renderer = Renderer::new(app);
    let mut out = Vec::with_capacity(rows.len());
    for ev in &rows {
        let event = renderer
            .render(ev, false)
            .map_err(|e| format!("rendering event {}: {}", ev.gseq, e.message))?;
        let id = event
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let body = settings.encoding.apply(&event, &app.catalog);
        out.push(Record {
            gseq: ev.gseq,
            id,
            event,
            body,
        });
    }
    Ok(out)
}

/// Sleeps until `deadline`, returning early (true) if the sink's settings,
/// epoch or pause state changed, and `None` when the server stops.
async fn wait(
    app: &Arc<App>,
    rec: &SinkRecord,
    deadline: Instant,
    changed: &mut watch::Receiver<u64>,
    stop: &mut watch::Receiver<bool>,
) -> Option<bool> {
    loop {
        tokio::select! {
            _ = stop.changed() => return None,
            _ = tokio::time::sleep_until(deadline) => return Some(false),
            r = changed.changed() => {
                if r.is_err() {
                    return None;
                }
                match load(app, &rec.id).await {
                    Ok(Some(now)) if version(&now) == version(rec) => continue,
                    _ => return Some(true),
                }
            }
        }
    }
}

/// The loop of one sink.
pub async fn run(app: Arc<App>, id: String, mut stop: watch::Receiver<bool>) {
    let mut changed = app.sinks.subscribe();
    let mut committed = app.sequencer.committed();
    let mut built: Option<Built> = None;
    let mut attempt: u32 = 0;
    loop {
        if *stop.borrow() {
            return;
        }
        let rec = match load(&app, &id).await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(sink = %id, error = %e, "cannot read sink");
                let dl = Instant::now() + Duration::from_secs(5);
                if tokio::select! { _ = stop.changed() => true, _ = tokio::time::sleep_until(dl) => false }
                {
                    return;
                }
                continue;
            }
        };
        if rec.paused {
            built = None;
            if wait(
                &app,
                &rec,
                Instant::now() + IDLE_POLL,
                &mut changed,
                &mut stop,
            )
            .await
            .is_none()
            {
                return;
            }
            continue;
        }
        if built
            .as_ref()
            .is_none_or(|b| b.updated_ms != rec.updated_ms)
        {
            attempt = 0;
            match build_sink(&app, &rec) {
                Ok(b) => built = Some(b),
                Err(e) => {
                    built = None;
                    report(&app, &rec, failure(e)).await;
                    let dl = Instant::now() + Duration::from_secs(60);
                    if wait(&app, &rec, dl, &mut changed, &mut stop)
                        .await
                        .is_none()
                    {
                        return;
                    }
                    continue;
                }
            }
        }
        let Some(b) = built.as_mut() else { continue };
        let limit = b.settings.batch_size.min(b.sink.max_batch()).max(1);

        // Mark the commit position before reading, so a commit landing
        // between the read and the wait still wakes us.
        committed.borrow_and_update();
        let a = app.clone();
        let (r2, s2) = (rec.clone(), b.settings.clone());
        let records =
            match tokio::task::spawn_blocking(move || read_batch(&a, &r2, &s2, limit)).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    report(&app, &rec, failure(e)).await;
                    let dl = Instant::now() + b.settings.backoff().delay(attempt);
                    attempt = attempt.saturating_add(1);
                    if wait(&app, &rec, dl, &mut changed, &mut stop)
                        .await
                        .is_none()
                    {
                        return;
                    }
                    continue;
                }
                Err(e) => {
                    tracing::warn!(sink = %id, error = %e, "reading events failed");
                    continue;
                }
            };
        if records.is_empty() {
            tokio::select! {
                _ = stop.changed() => return,
                _ = committed.changed() => {}
                _ = changed.changed() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
            continue;
        }

        let sent = tokio::select! {
            _ = stop.changed() => return,
            r = b.sink.send(&records) => r,
        };
        match sent {
            Ok(n) if n >= 1 => {
                let n = n.min(records.len());
                attempt = 0;
                report(
                    &app,
                    &rec,
                    SinkProgress {
                        cursor_gseq: Some(records[n - 1].gseq),
                        delivered: n as u64,
                        at_ms: now_ms(),
                        error: None,
                    },
                )
                .await;
                app.metrics.sink_events_delivered.add(n as u64);
            }
            Ok(_) => {
                report(&app, &rec, failure("the sink sent nothing".into())).await;
            }
            Err(e) => {
                let delivered = e.delivered.min(records.len());
                let cursor = delivered.checked_sub(1).map(|i| records[i].gseq);
                tracing::info!(sink = %id, error = %e.message, "send failed; will retry");
                app.metrics.sink_send_failures.inc();
                report(
                    &app,
                    &rec,
                    SinkProgress {
                        cursor_gseq: cursor,
                        delivered: delivered as u64,
                        at_ms: now_ms(),
                        error: Some(e.message.clone()),
                    },
                )
                .await;
                if delivered > 0 {
                    // Progress was made: the rest goes again at once.
                    attempt = 0;
                    continue;
                }
                let d = b
                    .settings
                    .backoff()
                    .after_failure(attempt, e.retry_after, e.permanent);
                attempt = attempt.saturating_add(1);
                if wait(&app, &rec, Instant::now() + d, &mut changed, &mut stop)
                    .await
                    .is_none()
                {
                    return;
                }
            }
        }
    }
}

fn failure(message: String) -> SinkProgress {
    SinkProgress {
        cursor_gseq: None,
        delivered: 0,
        at_ms: now_ms(),
        error: Some(message),
    }
}
