//! Feed query latency over the filled set: the first page (100 events,
//! newest first) for several filters, each sampled many times with
//! varying values, through the HTTP API and, as its limit, the same
//! storage query run directly in-process (no HTTP, no rendering, no audit
//! record).

use std::time::Instant;

use serde::Serialize;

use super::mix::{self, Rng};
use super::sys::p50_p99;
use super::{Harness, progress};
use crate::feed::params::FeedParams;
use crate::feed::{build_query, resolve_orgs};
use crate::ids::ActivityId;

/// One filter over one set.
#[derive(Clone, Debug, Serialize)]
pub struct QueryFigure {
    /// Events in the set.
    pub set_events: u64,
    /// The filter.
    pub filter: String,
    /// Samples taken.
    pub samples: usize,
    /// HTTP p50 (ms).
    pub api_p50_ms: f64,
    /// HTTP p99 (ms).
    pub api_p99_ms: f64,
    /// Direct storage query p50 (ms).
    pub store_p50_ms: f64,
    /// Direct storage query p99 (ms).
    pub store_p99_ms: f64,
    /// Mean events per page returned.
    pub rows_mean: f64,
}

/// Fewest samples per filter.
const MIN_SAMPLES: usize = 30;
/// Time after which a slow filter stops sampling (once it has
/// [`MIN_SAMPLES`]), so a filter that scans the whole set cannot hold the
/// run for an hour; the sample count is reported with each figure.
const BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// The filters measured: (name, query-string maker).
type Maker = Box<dyn Fn(&mut Rng) -> String + Send>;

fn enc(pairs: &[(&str, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn filters(h: &Harness, set: u64) -> anyhow::Result<Vec<(String, Maker)>> {
    let span_ms = set as i64 * mix::SPACING_MS;
    // Cursors far back: events in the oldest tenth of the set.
    let mut cursors = Vec::new();
    let mut r = Rng::new(set ^ 0xC0);
    for _ in 0..64 {
        let g = 1 + r.below((set / 10).max(1));
        if let Some(ev) = h.app.store.event_by_gseq(g)? {
            cursors.push(ActivityId::new(ev.received_ms as u64, g).to_string());
        }
    }
    if cursors.is_empty() {
        anyhow::bail!("no events to page from");
    }
    let exact = [
        "user.login",
        "file.created",
        "api_key.created",
        "member.role_changed",
    ];
    let prefix = ["api_key.*", "member.*", "file.*", "mcp_server.*"];
    let v: Vec<(String, Maker)> = vec![
        ("no filter".into(), Box::new(|_| "limit=100".to_string())),
        (
            "activity_types[] exact".into(),
            Box::new(move |r| enc(&[("activity_types[]", exact[r.below(4) as usize].to_string())])),
        ),
        (
            "activity_types[] prefix wildcard".into(),
            Box::new(move |r| {
                enc(&[("activity_types[]", prefix[r.below(4) as usize].to_string())])
            }),
        ),
        (
            "actor_ids[]".into(),
            Box::new(|r| {
                let org = r.below(2) as usize;
                enc(&[("actor_ids[]", mix::actor_id(org, r.below(mix::ACTORS[org])))])
            }),
        ),
        (
            "actor_emails[]".into(),
            Box::new(|r| {
                let org = r.below(2) as usize;
                enc(&[(
                    "actor_emails[]",
                    mix::actor_email(org, r.below(mix::ACTORS[org])),
                )])
            }),
        ),
        (
            "created_at 1-hour range".into(),
            Box::new(move |r| {
                let from = mix::BASE_MS + r.below(span_ms.max(1) as u64) as i64;
                enc(&[
                    ("created_at.gte", crate::time::fmt_ms(from)),
                    ("created_at.lt", crate::time::fmt_ms(from + 3_600_000)),
                ])
            }),
        ),
        (
            "deep cursor page (after_id in oldest 10%)".into(),
            Box::new(move |r| {
                enc(&[(
                    "after_id",
                    cursors[r.below(cursors.len() as u64) as usize].clone(),
                )])
            }),
        ),
    ];
    Ok(v)
}

/// Measures every filter with `samples` samples each.
pub async fn run(h: &Harness, set: u64, samples: usize) -> anyhow::Result<Vec<QueryFigure>> {
    let mut out = Vec::new();
    let root = h.acme_key()?;
    for (name, make) in filters(h, set)? {
        let mut r = Rng::new(set ^ name.len() as u64);
        let queries: Vec<String> = (0..samples).map(|_| make(&mut r)).collect();
        // Through the API, one request at a time.
        let http = h.http.clone();
        let url = format!("{}/v1/compliance/activities", h.base);
        let key = h.reader_key.clone();
        let qs = queries.clone();
        let (mut api, rows) = h
            .on_load(async move {
                let mut lat = Vec::with_capacity(qs.len());
                let mut rows = 0usize;
                let began = Instant::now();
                for q in &qs {
                    if lat.len() >= MIN_SAMPLES && began.elapsed() > BUDGET {
                        break;
                    }
                    let t = Instant::now();
                    let resp = http
                        .get(format!("{url}?{q}"))
                        .header("x-api-key", &key)
                        .send()
                        .await?;
                    let status = resp.status();
                    let body = resp.bytes().await?;
                    lat.push(t.elapsed().as_secs_f64() * 1e3);
                    if !status.is_success() {
                        anyhow::bail!(
                            "feed answered {status} to {q}: {}",
                            String::from_utf8_lossy(&body[..body.len().min(400)])
                        );
                    }
                    let v: serde_json::Value = serde_json::from_slice(&body)?;
                    rows += v["data"].as_array().map_or(0, Vec::len);
                }
                Ok((lat, rows))
            })
            .await?;
        // The limit: the same storage query, in-process, same samples.
        let mut queries = queries;
        queries.truncate(api.len());
        let samples = api.len();
        let app = h.app.clone();
        let mut store = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<f64>> {
            let mut lat = Vec::with_capacity(queries.len());
            for q in &queries {
                let p = FeedParams::parse(q).map_err(|e| anyhow::anyhow!("{}", e.message))?;
                let orgs = resolve_orgs(&app, root, &p.organization_ids)
                    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                let cursor = p.after_id.map(|a| a.gseq());
                let sq = build_query(&app, &orgs, &p, p.order, cursor, p.limit + 1);
                let t = Instant::now();
                let rows = app.store.query(&sq)?;
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                std::hint::black_box(rows);
            }
            Ok(lat)
        })
        .await??;
        let (a50, a99) = p50_p99(&mut api);
        let (s50, s99) = p50_p99(&mut store);
        progress(format!(
            "query {set}: {name}: API p50 {a50:.2} ms p99 {a99:.2} ms; storage p50 {s50:.2} ms p99 {s99:.2} ms"
        ));
        out.push(QueryFigure {
            set_events: set,
            filter: name,
            samples,
            api_p50_ms: a50,
            api_p99_ms: a99,
            store_p50_ms: s50,
            store_p99_ms: s99,
            rows_mean: rows as f64 / samples.max(1) as f64,
        });
    }
    Ok(out)
}
