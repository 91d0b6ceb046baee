//! Prometheus metrics, rendered in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A monotonically increasing count.
#[derive(Default, Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// Current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Hits and misses of one in-memory cache.
#[derive(Default, Debug)]
pub struct CacheStats {
    /// Lookups answered from memory.
    pub hits: Counter,
    /// Lookups that went to storage.
    pub misses: Counter,
}

/// A histogram with fixed upper bounds.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
const SIZES: &[f64] = &[
    1.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0,
];

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Records one observation (seconds or a size).
    pub fn observe(&self, v: f64) {
        for (i, b) in self.bounds.iter().enumerate() {
            if v <= *b {
                self.counts[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.sum_micros
            .fetch_add((v * 1_000_000.0) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, b) in self.bounds.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{b}\"}} {}",
                self.counts[i].load(Ordering::Relaxed)
            );
        }
        let n = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {n}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1_000_000.0
        );
        let _ = writeln!(out, "{name}_count {n}");
    }
}

/// Every metric the server exports.
#[derive(Debug)]
pub struct Metrics {
    /// Events accepted by ingest.
    pub ingest_accepted: Counter,
    /// Retries recognized as duplicates.
    pub ingest_duplicates: Counter,
    /// Refused events by reason.
    pub ingest_refused: Mutex<BTreeMap<String, u64>>,
    /// Ingest request latency.
    pub ingest_seconds: Histogram,
    /// Events per group commit.
    pub commit_events: Histogram,
    /// Group commit duration.
    pub commit_seconds: Histogram,
    /// Failed group commits.
    pub commit_failures: Counter,
    /// Feed request latency.
    pub feed_seconds: Histogram,
    /// Checkpoints signed.
    pub checkpoints_signed: Counter,
    /// Requests refused by the rate limiter.
    pub rate_limited: Counter,
    /// Compliance-plane reads recorded.
    pub audit_records: Counter,
    /// Events acknowledged by sink destinations (repeats count again).
    pub sink_events_delivered: Counter,
    /// Sends to sink destinations that failed (and will be retried).
    pub sink_send_failures: Counter,
    /// The API key cache (`auth::KeyCache`).
    pub key_cache: Arc<CacheStats>,
    /// The proof tile cache (`log::proofs::TileCache`).
    pub tile_cache: Arc<CacheStats>,
    /// The unwrapped subject key cache (`privacy::keycache`).
    pub subject_key_cache: Arc<CacheStats>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            ingest_accepted: Counter::default(),
            ingest_duplicates: Counter::default(),
            ingest_refused: Mutex::new(BTreeMap::new()),
            ingest_seconds: Histogram::new(SECONDS),
            commit_events: Histogram::new(SIZES),
            commit_seconds: Histogram::new(SECONDS),
            commit_failures: Counter::default(),
            feed_seconds: Histogram::new(SECONDS),
            checkpoints_signed: Counter::default(),
            rate_limited: Counter::default(),
            audit_records: Counter::default(),
            sink_events_delivered: Counter::default(),
            sink_send_failures: Counter::default(),
            key_cache: Arc::default(),
            tile_cache: Arc::default(),
            subject_key_cache: Arc::default(),
        }
    }
}

impl Metrics {
    /// Counts a refused event under its reason.
    pub fn refuse(&self, reason: &str) {
        if let Ok(mut m) = self.ingest_refused.lock() {
            *m.entry(reason.to_string()).or_insert(0) += 1;
        }
    }

    /// Records a group commit.
    pub fn record_commit(&self, events: u64, took: Duration) {
        self.commit_events.observe(events as f64);
        self.commit_seconds.observe(took.as_secs_f64());
    }

    /// Refusals of one reason so far.
    pub fn refused(&self, reason: &str) -> u64 {
        self.ingest_refused
            .lock()
            .ok()
            .and_then(|m| m.get(reason).copied())
            .unwrap_or(0)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        let _ = writeln!(
            out,
            "# HELP sealtrail_ingest_events_total Events by ingest result.\n# TYPE sealtrail_ingest_events_total counter"
        );
        let _ = writeln!(
            out,
            "sealtrail_ingest_events_total{{result=\"accepted\"}} {}",
            self.ingest_accepted.get()
        );
        let _ = writeln!(
            out,
            "sealtrail_ingest_events_total{{result=\"duplicate\"}} {}",
            self.ingest_duplicates.get()
        );
        let refused = self
            .ingest_refused
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "sealtrail_ingest_events_total{{result=\"refused\"}} {}",
            refused.values().sum::<u64>()
        );
        let _ = writeln!(
            out,
            "# HELP sealtrail_ingest_refused_total Refused events by reason.\n# TYPE sealtrail_ingest_refused_total counter"
        );
        for (reason, n) in &refused {
            let _ = writeln!(
                out,
                "sealtrail_ingest_refused_total{{reason=\"{reason}\"}} {n}"
            );
        }
        self.ingest_seconds.render(
            &mut out,
            "sealtrail_ingest_request_seconds",
            "Ingest request latency, until durable.",
        );
        self.commit_events.render(
            &mut out,
            "sealtrail_group_commit_events",
            "Events per group commit.",
        );
        self.commit_seconds.render(
            &mut out,
            "sealtrail_group_commit_seconds",
            "Duration of a group commit including fsync.",
        );
        counter(
            &mut out,
            "sealtrail_group_commit_failures_total",
            "Group commits that failed and were rolled back.",
            self.commit_failures.get(),
        );
        self.feed_seconds.render(
            &mut out,
            "sealtrail_feed_request_seconds",
            "Feed request latency.",
        );
        counter(
            &mut out,
            "sealtrail_checkpoints_signed_total",
            "Checkpoints signed.",
            self.checkpoints_signed.get(),
        );
        counter(
            &mut out,
            "sealtrail_rate_limited_total",
            "Requests refused with 429.",
            self.rate_limited.get(),
        );
        counter(
            &mut out,
            "sealtrail_audit_records_total",
            "Compliance-plane calls recorded as compliance_api.accessed.",
            self.audit_records.get(),
        );
        counter(
            &mut out,
            "sealtrail_sink_events_delivered_total",
            "Events acknowledged by sink destinations (a resend counts again).",
            self.sink_events_delivered.get(),
        );
        counter(
            &mut out,
            "sealtrail_sink_send_failures_total",
            "Sends to sink destinations that failed and will be retried.",
            self.sink_send_failures.get(),
        );
        let _ = writeln!(
            out,
            "# HELP sealtrail_cache_lookups_total Lookups of in-memory caches by cache and result.\n# TYPE sealtrail_cache_lookups_total counter"
        );
        for (name, c) in [
            ("api_keys", &self.key_cache),
            ("proof_tiles", &self.tile_cache),
            ("subject_keys", &self.subject_key_cache),
        ] {
            for (result, n) in [("hit", c.hits.get()), ("miss", c.misses.get())] {
                let _ = writeln!(
                    out,
                    "sealtrail_cache_lookups_total{{cache=\"{name}\",result=\"{result}\"}} {n}"
                );
            }
        }
        out
    }
}
