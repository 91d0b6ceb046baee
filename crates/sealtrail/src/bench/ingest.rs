//! Ingest throughput: batches of 1,000 events at concurrency 1, 4 and 16,
//! and single-event requests at concurrency 16 and 64, over loopback HTTP.
//!
//! Each level reports events per second and the server's CPU time per
//! event. The load generator (building bodies, HTTP client) runs on the
//! same two cores, so events/s alone understates what a server with the
//! machine to itself would do; CPU per event says what it costs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::sys::{CpuSnap, p50_p99};
use super::{Harness, mix, progress};
use crate::bench::Sizes;

/// Events per batched request (the API's maximum).
pub const BATCH: u64 = 1000;

/// One ingest level.
#[derive(Clone, Debug, Serialize)]
pub struct IngestFigure {
    /// `batched` or `single`.
    pub mode: String,
    /// Events per request.
    pub batch: u64,
    /// Concurrent clients.
    pub concurrency: usize,
    /// Events accepted.
    pub events: u64,
    /// Wall time (s).
    pub secs: f64,
    /// Accepted events per second.
    pub events_per_s: f64,
    /// Server CPU time per event (µs): process CPU minus the load
    /// generator's threads.
    pub server_cpu_us: f64,
    /// The load generator's CPU time per event (µs).
    pub load_cpu_us: f64,
    /// Request latency p50 (ms).
    pub req_p50_ms: f64,
    /// Request latency p99 (ms).
    pub req_p99_ms: f64,
    /// Events in the database when the level started.
    pub db_events_before: u64,
}

/// How long a level runs.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// Until this many events were sent.
    Events(u64),
    /// For this long.
    For(Duration),
}

/// Sends events of the mix with `concurrency` clients of `size`-event
/// requests, and measures.
pub async fn drive(
    h: &Harness,
    size: u64,
    concurrency: usize,
    stop: Stop,
) -> anyhow::Result<IngestFigure> {
    let size = size.max(1);
    // Align so that batch `k` holds events `k*size..`: the mix assigns a
    // batch to its source by that number.
    let start = h.next_event.load(Ordering::SeqCst).div_ceil(size) * size;
    h.next_event.store(start, Ordering::SeqCst);
    let db_events_before = h.app.store.max_gseq()?;
    let end = match stop {
        Stop::Events(n) => start + n,
        Stop::For(_) => u64::MAX,
    };
    let deadline = match stop {
        Stop::For(d) => Some(Instant::now() + d),
        Stop::Events(_) => None,
    };
    let accepted = Arc::new(AtomicU64::new(0));
    let cpu0 = CpuSnap::now();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let counter = h.next_event.clone();
        let accepted = accepted.clone();
        let http = h.http.clone();
        let url = format!("{}/v1/ingest/activities", h.base);
        let keys = h.ingest_keys.clone();
        tasks.push(h.load.spawn(async move {
            let mut lat = Vec::new();
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let first = counter.fetch_add(size, Ordering::SeqCst);
                if first >= end {
                    break;
                }
                let n = size.min(end - first);
                let (source, body) = mix::batch_body_from(first, n, size);
                let key = keys.get(source).cloned().unwrap_or_default();
                let sent = Instant::now();
                let resp = http
                    .post(&url)
                    .header("x-api-key", key)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                let status = resp.status();
                let bytes = resp.bytes().await?;
                lat.push(sent.elapsed().as_secs_f64() * 1e3);
                if !status.is_success() {
                    anyhow::bail!(
                        "ingest answered {status}: {}",
                        String::from_utf8_lossy(&bytes[..bytes.len().min(400)])
                    );
                }
                let got = count_accepted(&bytes);
                if got != n {
                    anyhow::bail!(
                        "ingest accepted {got} of {n} events: {}",
                        String::from_utf8_lossy(&bytes[..bytes.len().min(600)])
                    );
                }
                accepted.fetch_add(got, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    let secs = t0.elapsed().as_secs_f64();
    let (server, load) = CpuSnap::now().since(&cpu0);
    let events = accepted.load(Ordering::Relaxed);
    let (p50, p99) = p50_p99(&mut lat);
    let per = |d: Duration| d.as_secs_f64() * 1e6 / events.max(1) as f64;
    Ok(IngestFigure {
        mode: if size == 1 { "single" } else { "batched" }.into(),
        batch: size,
        concurrency,
        events,
        secs,
        events_per_s: events as f64 / secs,
        server_cpu_us: per(server),
        load_cpu_us: per(load),
        req_p50_ms: p50,
        req_p99_ms: p99,
        db_events_before,
    })
}

/// The `accepted` count of an ingest response, read without parsing the
/// per-event results (the load generator must stay cheap).
fn count_accepted(body: &[u8]) -> u64 {
    let key = b"\"accepted\":";
    body.windows(key.len())
        .position(|w| w == key)
        .map(|i| {
            body[i + key.len()..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'))
        })
        .unwrap_or(0)
}

/// All ingest levels.
pub async fn run(h: &Harness, sizes: &Sizes) -> anyhow::Result<Vec<IngestFigure>> {
    let mut out = Vec::new();
    for c in [1usize, 4, 16] {
        progress(format!(
            "ingest: {} events in batches of {BATCH}, concurrency {c}",
            sizes.events
        ));
        let f = drive(h, BATCH, c, Stop::Events(sizes.events)).await?;
        progress(format!(
            "  {:.0} events/s, server CPU {:.1} µs/event, load generator {:.1} µs/event",
            f.events_per_s, f.server_cpu_us, f.load_cpu_us
        ));
        out.push(f);
    }
    for c in [16usize, 64] {
        progress(format!(
            "ingest: single-event requests for {} s, concurrency {c}",
            sizes.singles_secs
        ));
        let f = drive(
            h,
            1,
            c,
            Stop::For(Duration::from_secs_f64(sizes.singles_secs)),
        )
        .await?;
        progress(format!(
            "  {:.0} requests/s, server CPU {:.1} µs/event",
            f.events_per_s, f.server_cpu_us
        ));
        out.push(f);
    }
    Ok(out)
}

/// Fills the database up to `target` events with large batches at
/// concurrency 4 (the fastest way in through the API).
pub async fn fill(h: &Harness, target: u64) -> anyhow::Result<()> {
    let have = h.app.store.max_gseq()?;
    if have >= target {
        return Ok(());
    }
    progress(format!("fill: {have} → {target} events"));
    let f = drive(h, BATCH, 4, Stop::Events(target - have)).await?;
    progress(format!(
        "  {:.0} events/s while filling ({:.0} s)",
        f.events_per_s, f.secs
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_count_is_read_from_the_response() {
        assert_eq!(count_accepted(br#"{"accepted":1000,"duplicates":0}"#), 1000);
        assert_eq!(count_accepted(b"{}"), 0);
    }
}
