//! Arbitrary `Retry-After`, `X-RateLimit-*` and `X-Request-Id` values through the header
//! parsers: no panic, and a delay-seconds value is read as exactly that many seconds.
//!
//! Input layout (lines separated by `\n`, missing lines mean absent headers):
//! status, clock (seconds since the Unix epoch), Retry-After, X-RateLimit-Limit,
//! X-RateLimit-Remaining, X-RateLimit-Reset, X-Request-Id.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use cloud_plugin_sdk::ratelimit::RateLimit;
use cloud_plugin_sdk::ratelimit::{parse_retry_after, request_id, requested_wait};
use libfuzzer_sys::fuzz_target;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};

const NAMES: [&str; 5] = [
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-request-id",
];

/// The number a header value denotes when it is `1*DIGIT` (optionally padded with spaces or
/// tabs) and fits in a u64.
fn delay_seconds(value: &str) -> Option<u64> {
    let digits = value.trim_matches([' ', '\t']);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn text(line: &[u8]) -> Option<u64> {
    std::str::from_utf8(line).ok()?.trim().parse().ok()
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let status = lines
        .next()
        .and_then(text)
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let now = lines
        .next()
        .and_then(text)
        .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
        .unwrap_or(UNIX_EPOCH + Duration::from_secs(1_750_000_000));

    let mut headers = HeaderMap::new();
    for (name, line) in NAMES.iter().zip(lines) {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.insert(*name, value);
        }
    }
    let value_of = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());

    // Retry-After on its own.
    if let Some(value) = value_of("retry-after") {
        let parsed = parse_retry_after(value, now);
        if let Some(secs) = delay_seconds(value) {
            assert_eq!(parsed, Some(Duration::from_secs(secs)), "{value:?}");
        }
    }
    // Any line of the input, as a Retry-After value, must not panic either.
    for line in data.split(|&b| b == b'\n') {
        if let Ok(value) = std::str::from_utf8(line) {
            let _ = parse_retry_after(value, now);
        }
    }

    let wait = requested_wait(status, &headers, now);
    if let Some(secs) = value_of("retry-after").and_then(delay_seconds) {
        // Retry-After takes precedence over the X-RateLimit-* headers.
        assert_eq!(wait, Some(Duration::from_secs(secs)));
    }

    let rate_limit = RateLimit::from_headers(&headers);
    let numbers = [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ]
    .map(|name| value_of(name).and_then(delay_seconds));
    match rate_limit {
        Some(rl) => {
            assert_ne!(rl, RateLimit::default(), "Some only when a header parsed");
            if let Some(n) = numbers[0] {
                assert_eq!(rl.limit, Some(n));
            }
            if let Some(n) = numbers[1] {
                assert_eq!(rl.remaining, Some(n));
            }
            if let Some(n) = numbers[2] {
                assert_eq!(rl.reset, Some(Duration::from_secs(n)));
            }
        }
        None => assert_eq!(numbers, [None; 3], "a numeric header was dropped"),
    }

    if let Some(id) = request_id(&headers) {
        assert!(!id.is_empty() && id.len() <= 256, "{id:?}");
        assert_eq!(id, id.trim());
    }
});
