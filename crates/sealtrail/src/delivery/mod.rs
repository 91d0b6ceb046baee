//! Push delivery to SIEMs and webhooks: sinks.
//!
//! The vocabulary is source → encode → sink. The source is the log itself:
//! each sink has a durable cursor (a global sequence number) and a filter
//! (the feed's filters, within its organization's scope); its worker
//! (`worker.rs`) reads the events after the cursor in log order, renders
//! them as the feed would, and hands them to the destination in batches.
//! The cursor moves only after the destination acknowledged, so delivery
//! is at-least-once and in order, across retries and restarts alike.
//!
//! Every destination is a folder with the same inner shape: `config.rs`
//! (what the user writes, validated), `encoder.rs` (bytes on the wire),
//! `service.rs` (sending, and classifying what comes back), `tests.rs`.
//! Adding a destination means copying that shape and adding one arm to
//! `settings.rs`.

pub mod backoff;
pub mod datadog;
pub mod elastic;
pub mod encoding;
pub mod http;
pub mod manage;
pub mod sentinel;
pub mod settings;
pub mod splunk_hec;
pub mod syslog;
pub mod tls;
pub mod webhook;
pub mod worker;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::watch;

/// One event on its way to a destination.
#[derive(Clone, Debug)]
pub struct Record {
    /// Its global sequence: the cursor value once it is delivered.
    pub gseq: u64,
    /// Its activity id: the identity a receiver deduplicates on.
    pub id: String,
    /// The event as the feed renders it (for formats with their own
    /// mapping, such as CEF and LEEF).
    pub event: Map<String, Value>,
    /// The event in the sink's chosen encoding (`json` or `ocsf`).
    pub body: Value,
}

impl Record {
    /// A top-level string field of the rendered event.
    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.event.get(name).and_then(Value::as_str)
    }

    /// `created_at` in milliseconds, falling back to the id's store time.
    pub fn created_ms(&self) -> i64 {
        self.str_field("created_at")
            .and_then(|s| crate::time::parse_rfc3339(s).ok())
            .unwrap_or(0)
    }
}

/// Why a send did not (fully) succeed, and what to do about it.
#[derive(Clone, Debug, PartialEq)]
pub struct SendError {
    /// One sentence for the sink's health.
    pub message: String,
    /// How long the destination asked us to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
    /// How many leading records the destination did accept before the
    /// failure; the cursor moves past them and they are not sent again.
    pub delivered: usize,
    /// Retrying soon will not help (bad credentials, a rejected document):
    /// the worker still retries, since dropping events is never an option,
    /// but at the longest backoff, and the health shows why.
    pub permanent: bool,
}

impl SendError {
    /// A failure worth retrying soon: network errors, 5xx, timeouts.
    pub fn transient(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            retry_after: None,
            delivered: 0,
            permanent: false,
        }
    }

    /// A failure that needs a person: 4xx other than 408 and 429.
    pub fn permanent(message: impl Into<String>) -> SendError {
        SendError {
            permanent: true,
            ..SendError::transient(message)
        }
    }

    /// Sets the wait the destination asked for.
    pub fn with_retry_after(mut self, d: Option<Duration>) -> SendError {
        self.retry_after = d;
        self
    }

    /// Notes how many leading records were accepted anyway.
    pub fn with_delivered(mut self, n: usize) -> SendError {
        self.delivered = n;
        self
    }
}

/// What a send returns: how many leading records the destination
/// acknowledged (at least one on success), or why it failed.
pub type SendResult = Result<usize, SendError>;

/// A boxed send, so sinks of every kind fit behind one trait object.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = SendResult> + Send + 'a>>;

/// A destination. Implementations encode a batch in their wire format and
/// send it, reporting exactly how much of it the destination acknowledged.
/// A sink may send fewer records than offered (to respect a payload size
/// limit); the worker offers the rest next.
pub trait Sink: Send {
    /// Most records worth offering in one send.
    fn max_batch(&self) -> usize;
    /// Encodes and sends a prefix of `records` (never empty).
    fn send<'a>(&'a mut self, records: &'a [Record]) -> SendFuture<'a>;
}

/// Wakes every delivery worker when a sink changes, so pauses, resumes,
/// replays and new settings take effect at once rather than at the next
/// poll. Cloned into the app; the supervisor and the workers listen.
#[derive(Clone, Debug)]
pub struct Hub {
    changed: watch::Sender<u64>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            changed: watch::channel(0).0,
        }
    }
}

impl Hub {
    /// Announces that some sink changed.
    pub fn notify(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// A receiver that sees every later change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}
