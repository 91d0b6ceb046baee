//! Wall-clock helpers: milliseconds since the epoch and RFC 3339 text.

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// RFC 3339 in UTC with exactly three fractional digits, the one textual
/// form of time in entries and responses.
pub fn fmt_ms(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => "1970-01-01T00:00:00.000Z".to_string(),
    }
}

/// Parses RFC 3339 (any offset) to milliseconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|e| format!("{s:?} is not an RFC 3339 timestamp with an offset: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_with_milliseconds() {
        assert_eq!(super::fmt_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::fmt_ms(1_733_339_007_120), "2024-12-04T19:03:27.120Z");
        assert_eq!(
            super::parse_rfc3339("2024-12-04T20:03:27.12+01:00"),
            Ok(1_733_339_007_120)
        );
    }
}
