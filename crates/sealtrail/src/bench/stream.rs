//! Ingest-to-stream latency: a source sends a steady rate (batches of 1/100
//! of the rate every 10 ms), each event stamped with its send time in
//! `metadata.bench_sent_us`; a client holds the SSE stream open and
//! subtracts that stamp from its receive time. Sender, server and receiver
//! share this process's monotonic clock, so no clock skew enters.
//!
//! The latency includes the group commit's fsync: an event is streamed
//! only after it is durable.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use super::sys::p50_p99;
use super::{Harness, mix, progress};

/// The stream figure.
#[derive(Clone, Debug, Serialize)]
pub struct StreamFigure {
    /// Offered rate, events per second.
    pub rate: u64,
    /// Seconds of load.
    pub secs: f64,
    /// Events sent.
    pub sent: u64,
    /// Events received and measured (after the first half second).
    pub measured: u64,
    /// p50 (ms).
    pub p50_ms: f64,
    /// p99 (ms).
    pub p99_ms: f64,
    /// Largest (ms).
    pub max_ms: f64,
}

const TICK: Duration = Duration::from_millis(10);
const WARMUP_US: u64 = 500_000;

/// Runs the stream benchmark.
pub async fn run(h: &Harness, rate: u64, secs: f64) -> anyhow::Result<StreamFigure> {
    progress(format!(
        "stream: {rate} events/s for {secs} s, latency to an SSE client"
    ));
    let t0 = Instant::now();
    let per_tick = (rate / 100).max(1);
    let ticks = (secs / TICK.as_secs_f64()).ceil() as u64;
    let expected = per_tick * ticks;

    // The receiver.
    let resp = h
        .http
        .get(format!("{}/v1/compliance/activities/stream", h.base))
        .header("x-api-key", &h.reader_key)
        .send();
    let resp = h.on_load(async move { Ok(resp.await?) }).await?;
    if !resp.status().is_success() {
        anyhow::bail!("stream answered {}", resp.status());
    }
    let receiver = h.load.spawn(receive(resp, t0, expected));

    // The sender.
    let start = h.next_event.fetch_add(expected, Ordering::SeqCst);
    let http = h.http.clone();
    let url = format!("{}/v1/ingest/activities", h.base);
    let key = h.ingest_keys.first().cloned().unwrap_or_default();
    let sent = Arc::new(AtomicU64::new(0));
    let sent2 = sent.clone();
    let sender = h.load.spawn(async move {
        let mut iv = tokio::time::interval(TICK);
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut inflight = Vec::new();
        for k in 0..ticks {
            iv.tick().await;
            let at = t0.elapsed().as_micros() as u64;
            let body = mix::body_for(
                start + k * per_tick,
                per_tick,
                0,
                Some(("bench_sent_us", json!(at))),
            );
            let req = http
                .post(&url)
                .header("x-api-key", &key)
                .header("content-type", "application/json")
                .body(body)
                .send();
            let sent = sent2.clone();
            inflight.push(tokio::spawn(async move {
                let r = req.await?;
                if !r.status().is_success() {
                    anyhow::bail!("ingest answered {}", r.status());
                }
                sent.fetch_add(per_tick, Ordering::Relaxed);
                Ok::<_, anyhow::Error>(())
            }));
        }
        for t in inflight {
            t.await??;
        }
        Ok::<_, anyhow::Error>(())
    });
    sender.await??;
    let mut lat = receiver.await??;
    let measured = lat.len() as u64;
    let (p50, p99) = p50_p99(&mut lat);
    let max = lat.last().copied().unwrap_or(f64::NAN);
    progress(format!(
        "  {measured} events measured: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.1} ms"
    ));
    Ok(StreamFigure {
        rate,
        secs,
        sent: sent.load(Ordering::Relaxed),
        measured,
        p50_ms: p50,
        p99_ms: p99,
        max_ms: max,
    })
}

/// Reads the SSE stream until `expected` stamped events arrived (or it
/// stalls), returning each latency in milliseconds.
async fn receive(
    mut resp: reqwest::Response,
    t0: Instant,
    expected: u64,
) -> anyhow::Result<Vec<f64>> {
    let mut buf: Vec<u8> = Vec::new();
    let mut lat = Vec::new();
    let mut seen = 0u64;
    while seen < expected {
        let chunk = match tokio::time::timeout(Duration::from_secs(10), resp.chunk()).await {
            Ok(Ok(Some(c))) => c,
            // Stalled or closed: report what arrived.
            _ => break,
        };
        let now = t0.elapsed().as_micros() as u64;
        buf.extend_from_slice(&chunk);
        while let Some(pos) = buf.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = buf.drain(..pos + 2).collect();
            for line in block.split(|&b| b == b'\n') {
                let Some(data) = line.strip_prefix(b"data:") else {
                    continue;
                };
                let Ok(v) = serde_json::from_slice::<Value>(data.trim_ascii_start()) else {
                    continue;
                };
                if let Some(at) = v["metadata"]["bench_sent_us"].as_u64() {
                    seen += 1;
                    if at >= WARMUP_US {
                        lat.push(now.saturating_sub(at) as f64 / 1e3);
                    }
                }
            }
        }
    }
    Ok(lat)
}
