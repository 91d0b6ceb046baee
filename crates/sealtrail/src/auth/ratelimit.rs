//! Token-bucket rate limits per parent organization, with the headers
//! clients use to pace themselves.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::storage::OrgKey;

/// The decision for one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Bucket size (`ratelimit-limit`).
    pub limit: u32,
    /// Requests left now (`ratelimit-remaining`).
    pub remaining: u32,
    /// Seconds until the bucket is full again (`ratelimit-reset`), or until
    /// one request is allowed when refused (`retry-after`).
    pub reset_secs: u64,
}

/// Buckets keyed by tree root.
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<OrgKey, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter allowing `per_minute` requests per minute, in bursts of up
    /// to the same number.
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute: per_minute.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from the bucket of `tree`.
    pub fn check(&self, tree: OrgKey) -> Decision {
        self.check_at(tree, Instant::now())
    }

    fn check_at(&self, tree: OrgKey, now: Instant) -> Decision {
        let cap = self.per_minute as f64;
        let rate = cap / 60.0;
        let mut map = match self.buckets.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let (tokens, last) = map.entry(tree).or_insert((cap, now));
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * rate).min(cap);
        *last = now;
        let allowed = *tokens >= 1.0;
        if allowed {
            *tokens -= 1.0;
        }
        let reset_secs = if allowed {
            ((cap - *tokens) / rate).ceil() as u64
        } else {
            ((1.0 - *tokens) / rate).ceil().max(1.0) as u64
        };
        Decision {
            allowed,
            limit: self.per_minute,
            remaining: tokens.floor().max(0.0) as u32,
            reset_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_empties_then_refills() {
        let rl = RateLimiter::new(60);
        let t0 = Instant::now();
        for i in 0..60 {
            let d = rl.check_at(1, t0);
            assert!(d.allowed, "request {i}");
        }
        let d = rl.check_at(1, t0);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(d.reset_secs, 1);
        // Another tree has its own bucket.
        assert!(rl.check_at(2, t0).allowed);
        // One second later, one more request fits.
        assert!(rl.check_at(1, t0 + Duration::from_millis(1001)).allowed);
    }
}
