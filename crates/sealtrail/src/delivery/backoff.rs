//! Exponential backoff with jitter, and reading `Retry-After`.
//!
//! Jitter spreads the retries of many sinks (and many servers) so that a
//! destination coming back from an outage is not hit by all of them in the
//! same instant.

use std::time::Duration;

/// Backoff settings of one sink.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// The first wait.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
}

/// The longest `Retry-After` honoured; a destination asking for more is
/// retried after this, so a typo on its side cannot stall delivery for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

impl Backoff {
    /// The wait before retry number `attempt` (0 for the first retry):
    /// `initial * 2^attempt`, capped at `max`, then drawn uniformly from
    /// its upper half ("equal jitter"), so waits still grow but never align.
    pub fn delay(&self, attempt: u32) -> Duration {
        let base = self
            .initial
            .saturating_mul(1u32.checked_shl(attempt.min(30)).unwrap_or(u32::MAX))
            .min(self.max);
        let half = base / 2;
        half + half.mul_f64(unit_random())
    }

    /// The wait after a failure: what the destination asked for when it
    /// said (plus a little jitter, capped), else the exponential delay;
    /// a permanent failure waits the longest.
    pub fn after_failure(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        permanent: bool,
    ) -> Duration {
        match retry_after {
            Some(d) => {
                let d = d.min(MAX_RETRY_AFTER);
                d + (d / 10).mul_f64(unit_random())
            }
            None if permanent => self.max,
            None => self.delay(attempt),
        }
    }
}

/// A uniform number in `[0, 1)`.
fn unit_random() -> f64 {
    let b: [u8; 8] = crate::ids::random_bytes();
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP date
/// (RFC 9110 §10.2.3). `None` when it is neither.
pub fn parse_retry_after(v: &str, now_ms: i64) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
    let ts = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let ms = ts.as_millisecond() - now_ms;
    Some(Duration::from_millis(ms.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_within_bounds() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
        };
        for attempt in 0..40 {
            let d = b.delay(attempt);
            let base = Duration::from_millis(100)
                .saturating_mul(1u32.checked_shl(attempt.min(30)).unwrap_or(u32::MAX))
                .min(Duration::from_secs(10));
            assert!(d >= base / 2 && d <= base, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn retry_after_wins_over_backoff() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
        };
        let d = b.after_failure(0, Some(Duration::from_secs(3)), false);
        assert!(d >= Duration::from_secs(3) && d <= Duration::from_millis(3300));
        assert_eq!(b.after_failure(0, None, true), Duration::from_secs(10));
        let huge = b.after_failure(0, Some(Duration::from_secs(1 << 30)), false);
        assert!(huge <= MAX_RETRY_AFTER + MAX_RETRY_AFTER / 10);
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("7", 0), Some(Duration::from_secs(7)));
        let now = jiff::Timestamp::from_second(784_111_777)
            .unwrap()
            .as_millisecond();
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now - 2000),
            Some(Duration::from_secs(2))
        );
        assert_eq!(parse_retry_after("soon", 0), None);
    }
}
