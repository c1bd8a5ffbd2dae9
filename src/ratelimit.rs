//! Parsing of the rate-limit signals a server sends with its responses.
//!
//! Two kinds of signal are understood:
//!
//! * `Retry-After` (RFC 9110 §10.2.3): either delay-seconds (`120`) or an HTTP-date in any of the
//!   three forms a recipient must accept (IMF-fixdate, RFC 850 and asctime).
//! * Confluent Cloud's `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`.
//!   `X-RateLimit-Reset` is the number of seconds until the current window resets, counted from
//!   the response. It is never a Unix timestamp (unlike GitHub's header of the same name), so it
//!   is never compared with the local clock.
//!
//! Everything here is tolerant of hostile or broken input: a value that does not parse counts as
//! absent, a date in the past means "now", and numbers too large for `u64` saturate instead of
//! overflowing. Nothing in this module panics on header content.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use cloud_plugin_sdk::ratelimit::{RateLimit, parse_retry_after};
//! use reqwest::header::{HeaderMap, HeaderValue};
//!
//! let now = SystemTime::now();
//! assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
//! assert_eq!(parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT", now), Some(Duration::ZERO));
//! assert_eq!(parse_retry_after("soon", now), None);
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
//! headers.insert("x-ratelimit-reset", HeaderValue::from_static("30")); // relative seconds
//! let limit = RateLimit::from_headers(&headers).unwrap();
//! assert_eq!(limit.reset, Some(Duration::from_secs(30)));
//! ```

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

/// Header carrying the server's identifier for the request.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Requests allowed in the current window.
const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
/// Requests left in the current window.
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
/// Seconds until the current window resets.
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
/// Longest request id that is kept; anything longer is treated as absent.
const MAX_REQUEST_ID_LEN: usize = 256;

/// Rate-limit state a server reported in its `X-RateLimit-*` headers.
///
/// Each field is `None` when the corresponding header was missing or did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RateLimit {
    /// Requests allowed in the current window (`X-RateLimit-Limit`).
    pub limit: Option<u64>,
    /// Requests left in the current window (`X-RateLimit-Remaining`).
    pub remaining: Option<u64>,
    /// Time until the window resets, counted from the response (`X-RateLimit-Reset`).
    pub reset: Option<Duration>,
}

impl RateLimit {
    /// A rate-limit state with these values (for tests of code that reads one).
    pub fn new(limit: Option<u64>, remaining: Option<u64>, reset: Option<Duration>) -> Self {
        RateLimit {
            limit,
            remaining,
            reset,
        }
    }

    /// Reads the `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` headers.
    ///
    /// Values must be non-negative decimal integers (surrounding whitespace is allowed); values
    /// beyond `u64::MAX` saturate. Returns `None` if none of the three headers parses.
    pub fn from_headers(headers: &HeaderMap) -> Option<RateLimit> {
        let value = |name: &HeaderName| headers.get(name).and_then(header_u64);
        let rate_limit = RateLimit {
            limit: value(&LIMIT),
            remaining: value(&REMAINING),
            reset: value(&RESET).map(Duration::from_secs),
        };
        (rate_limit != RateLimit::default()).then_some(rate_limit)
    }

    /// Whether the server said the current window has no requests left.
    pub fn is_exhausted(&self) -> bool {
        self.remaining == Some(0)
    }
}

/// Parses a `Retry-After` value (delay-seconds or HTTP-date) relative to `now`.
///
/// * delay-seconds: a non-negative decimal integer; values beyond `u64::MAX` saturate.
/// * HTTP-date: IMF-fixdate, RFC 850 or asctime. A date at or before `now` gives
///   `Some(Duration::ZERO)` (retry at once).
/// * Anything else (empty, negative, fractional, garbage, non-ASCII) gives `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Some(seconds) = parse_decimal(value) {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wait a response asks for before the next request.
///
/// `Retry-After` wins whenever it parses (the IETF rate-limit draft and RFC 9110 agree on that).
/// Otherwise `X-RateLimit-Reset` is used, but only on a 429 or when `X-RateLimit-Remaining` is 0;
/// on any other response the reset time says nothing about waiting. Returns `None` when the
/// response asks for no particular wait.
pub fn requested_wait(
    status: StatusCode,
    headers: &HeaderMap,
    now: SystemTime,
) -> Option<Duration> {
    if let Some(wait) = headers
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_retry_after(value, now))
    {
        return Some(wait);
    }
    let rate_limit = RateLimit::from_headers(headers)?;
    if status == StatusCode::TOO_MANY_REQUESTS || rate_limit.is_exhausted() {
        rate_limit.reset
    } else {
        None
    }
}

/// The server's request id (`X-Request-Id`), for error reports and logs.
///
/// Header names are matched case-insensitively. The value is trimmed and kept only if it is
/// 1 to 256 characters of visible ASCII, so a hostile server cannot smuggle control characters
/// or megabytes of text into logs.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    // Visible ASCII is UTF-8.
    request_id_value(headers).and_then(|value| value.to_str().ok().map(str::to_owned))
}

/// [`request_id`] as a header value, which holds visible ASCII only.
pub(crate) fn request_id_value(headers: &HeaderMap) -> Option<HeaderValue> {
    let value = headers.get(&REQUEST_ID)?;
    let trimmed = value.as_bytes().trim_ascii();
    let acceptable = !trimmed.is_empty()
        && trimmed.len() <= MAX_REQUEST_ID_LEN
        && trimmed.iter().all(u8::is_ascii_graphic);
    if !acceptable {
        None
    } else if trimmed.len() == value.len() {
        Some(value.clone())
    } else {
        HeaderValue::from_bytes(trimmed).ok()
    }
}

/// Reads a header value as a saturating decimal integer (surrounding whitespace allowed).
fn header_u64(value: &HeaderValue) -> Option<u64> {
    parse_decimal_bytes(value.as_bytes().trim_ascii())
}

/// Parses `1*DIGIT`, saturating at `u64::MAX` instead of failing on overflow.
fn parse_decimal(value: &str) -> Option<u64> {
    parse_decimal_bytes(value.as_bytes())
}

/// [`parse_decimal`] on bytes, so header values need no UTF-8 check first.
fn parse_decimal_bytes(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0u64, |acc, digit| {
        acc.saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderName;
    use std::time::UNIX_EPOCH;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).expect("test header value"),
            );
        }
        map
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT, the example date of RFC 9110.
    const EXAMPLE_DATE: u64 = 784_111_777;

    #[test]
    fn delay_seconds() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
    }

    #[test]
    fn delay_seconds_saturate() {
        let huge = "99999999999999999999999999999999";
        assert_eq!(
            parse_retry_after(huge, SystemTime::now()),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn all_three_date_forms() {
        let now = at(EXAMPLE_DATE - 30);
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                parse_retry_after(form, now),
                Some(Duration::from_secs(30)),
                "{form}"
            );
        }
    }

    #[test]
    fn past_date_means_now() {
        let now = at(EXAMPLE_DATE + 3600);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn garbage_is_absent() {
        let now = SystemTime::now();
        for value in [
            "",
            " ",
            "-1",
            "1.5",
            "soon",
            "+3",
            "0x10",
            "Sun, 06 Nov 1994",
            "١٢",
        ] {
            assert_eq!(parse_retry_after(value, now), None, "{value:?}");
        }
    }

    #[test]
    fn rate_limit_headers() {
        let map = headers(&[
            ("x-ratelimit-limit", "100"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "17"),
        ]);
        let rate_limit = RateLimit::from_headers(&map).expect("parsed");
        assert_eq!(rate_limit.limit, Some(100));
        assert_eq!(rate_limit.remaining, Some(0));
        assert_eq!(rate_limit.reset, Some(Duration::from_secs(17)));
        assert!(rate_limit.is_exhausted());
    }

    #[test]
    fn rate_limit_partial_and_absent() {
        let map = headers(&[
            ("x-ratelimit-remaining", "5"),
            ("x-ratelimit-reset", "soon"),
        ]);
        assert_eq!(
            RateLimit::from_headers(&map),
            Some(RateLimit {
                limit: None,
                remaining: Some(5),
                reset: None
            })
        );
        assert_eq!(RateLimit::from_headers(&HeaderMap::new()), None);
        let garbage = headers(&[("x-ratelimit-limit", "lots")]);
        assert_eq!(RateLimit::from_headers(&garbage), None);
    }

    #[test]
    fn rate_limit_reads_each_first_value_among_other_headers() {
        let map = headers(&[
            ("content-type", "application/json"),
            ("x-ratelimit-remaining", "7"),
            ("x-ratelimit-policy", "100;w=60"),
            ("x-ratelimit", "3"),
            ("x-request-id", "r-1"),
            ("x-ratelimit-remaining", "1"),
            ("x-ratelimit-limit", "100"),
            ("x-ratelimit-reset", "4"),
            ("x-ratelimit-limit", "999"),
            ("x-request-id", "r-2"),
        ]);
        // Case-insensitive like any header lookup: names are stored lowercased.
        assert_eq!(
            RateLimit::from_headers(&map),
            Some(RateLimit {
                limit: Some(100),
                remaining: Some(7),
                reset: Some(Duration::from_secs(4)),
            })
        );
        assert_eq!(request_id(&map).as_deref(), Some("r-1"));
        let mut mixed_case = HeaderMap::new();
        mixed_case.insert(
            HeaderName::from_bytes(b"X-RateLimit-Remaining").expect("name"),
            HeaderValue::from_static("2"),
        );
        assert_eq!(
            RateLimit::from_headers(&mixed_case).and_then(|r| r.remaining),
            Some(2)
        );
    }

    #[test]
    fn reset_is_relative_not_an_epoch() {
        // A value that looks like an epoch timestamp is still taken as seconds from now.
        let map = headers(&[("x-ratelimit-reset", "1792152901")]);
        let rate_limit = RateLimit::from_headers(&map).expect("parsed");
        assert_eq!(rate_limit.reset, Some(Duration::from_secs(1_792_152_901)));
    }

    #[test]
    fn requested_wait_precedence() {
        let now = SystemTime::now();
        let both = headers(&[("retry-after", "3"), ("x-ratelimit-reset", "9")]);
        assert_eq!(
            requested_wait(StatusCode::TOO_MANY_REQUESTS, &both, now),
            Some(Duration::from_secs(3))
        );
        let reset_only = headers(&[("x-ratelimit-reset", "9")]);
        assert_eq!(
            requested_wait(StatusCode::TOO_MANY_REQUESTS, &reset_only, now),
            Some(Duration::from_secs(9))
        );
        // A reset on an ordinary success with budget left asks for nothing.
        let ok = headers(&[("x-ratelimit-remaining", "4"), ("x-ratelimit-reset", "9")]);
        assert_eq!(requested_wait(StatusCode::OK, &ok, now), None);
        let exhausted = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "9")]);
        assert_eq!(
            requested_wait(StatusCode::OK, &exhausted, now),
            Some(Duration::from_secs(9))
        );
        let garbage_retry_after = headers(&[("retry-after", "later"), ("x-ratelimit-reset", "2")]);
        assert_eq!(
            requested_wait(StatusCode::TOO_MANY_REQUESTS, &garbage_retry_after, now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            requested_wait(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), now),
            None
        );
    }

    #[test]
    fn request_id_rules() {
        assert_eq!(
            request_id(&headers(&[("x-request-id", " abc-123 ")])).as_deref(),
            Some("abc-123")
        );
        let mut mixed_case = HeaderMap::new();
        mixed_case.insert(
            HeaderName::from_bytes(b"X-Request-ID").expect("name"),
            HeaderValue::from_static("r1"),
        );
        assert_eq!(request_id(&mixed_case).as_deref(), Some("r1"));
        assert_eq!(request_id(&headers(&[("x-request-id", "a b")])), None);
        assert_eq!(request_id(&headers(&[("x-request-id", "")])), None);
        let long = "x".repeat(MAX_REQUEST_ID_LEN + 1);
        assert_eq!(request_id(&headers(&[("x-request-id", &long)])), None);
        let longest = "x".repeat(MAX_REQUEST_ID_LEN);
        assert_eq!(
            request_id(&headers(&[("x-request-id", &longest)])),
            Some(longest)
        );
        let mut non_ascii = HeaderMap::new();
        non_ascii.insert(
            HeaderName::from_static("x-request-id"),
            HeaderValue::from_bytes(b"id\xff").expect("opaque value"),
        );
        assert_eq!(request_id(&non_ascii), None);
    }
}
