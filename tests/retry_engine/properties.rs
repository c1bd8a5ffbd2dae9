//! Header parsing never panics, round-trips delay-seconds and saturates huge numbers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cloud_plugin_sdk::ratelimit::{RateLimit, parse_retry_after, request_id, requested_wait};
use proptest::prelude::*;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

fn any_time() -> impl Strategy<Value = SystemTime> {
    (0u64..=253_402_300_799).prop_map(|secs| UNIX_EPOCH + Duration::from_secs(secs))
}

fn header_names() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-request-id",
    ])
}

/// Arbitrary header maps built from the headers the parser reads, with arbitrary byte values.
fn header_maps() -> impl Strategy<Value = HeaderMap> {
    prop::collection::vec(
        (header_names(), prop::collection::vec(any::<u8>(), 0..40)),
        0..8,
    )
    .prop_map(|pairs| {
        let mut map = HeaderMap::new();
        for (name, bytes) in pairs {
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                map.append(HeaderName::from_static(name), value);
            }
        }
        map
    })
}

proptest! {
    #[test]
    fn parse_retry_after_never_panics(value in any::<String>(), now in any_time()) {
        let _ = parse_retry_after(&value, now);
    }

    #[test]
    fn parse_retry_after_on_date_like_text_never_panics(
        value in "[A-Za-z]{3,9},? [0-9 ]{1,2}[- ][A-Za-z]{3}[- ][0-9]{2,4} [0-9]{2}:[0-9]{2}:[0-9]{2}( GMT| [0-9]{4})?",
        now in any_time(),
    ) {
        let _ = parse_retry_after(&value, now);
    }

    #[test]
    fn delay_seconds_round_trip(seconds in any::<u64>(), now in any_time()) {
        prop_assert_eq!(parse_retry_after(&seconds.to_string(), now), Some(Duration::from_secs(seconds)));
    }

    #[test]
    fn huge_numbers_saturate(digits in "[1-9][0-9]{20,80}", now in any_time()) {
        prop_assert_eq!(parse_retry_after(&digits, now), Some(Duration::from_secs(u64::MAX)));
        let mut map = HeaderMap::new();
        map.insert("x-ratelimit-reset", HeaderValue::from_str(&digits).expect("digits"));
        map.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        let limit = RateLimit::from_headers(&map).expect("parsed");
        prop_assert_eq!(limit.reset, Some(Duration::from_secs(u64::MAX)));
        prop_assert_eq!(
            requested_wait(StatusCode::OK, &map, now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn dates_give_the_distance_from_now(now_secs in 0u64..=253_402_200_000, ahead in 0u64..=86_400, back in 0u64..=86_400) {
        let now = UNIX_EPOCH + Duration::from_secs(now_secs);
        let future = httpdate::fmt_http_date(now + Duration::from_secs(ahead));
        prop_assert_eq!(parse_retry_after(&future, now), Some(Duration::from_secs(ahead)));
        let past = httpdate::fmt_http_date(now.checked_sub(Duration::from_secs(back)).unwrap_or(UNIX_EPOCH));
        prop_assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
    }

    #[test]
    fn header_parsers_never_panic(map in header_maps(), status in 100u16..=599, now in any_time()) {
        let status = StatusCode::from_u16(status).expect("valid range");
        let _ = RateLimit::from_headers(&map);
        let _ = requested_wait(status, &map, now);
        if let Some(id) = request_id(&map) {
            prop_assert!(!id.is_empty() && id.len() <= 256);
            prop_assert!(id.bytes().all(|byte| byte.is_ascii_graphic()));
        }
    }

    #[test]
    fn rate_limit_values_round_trip(limit in any::<u64>(), remaining in any::<u64>(), reset in any::<u64>()) {
        let mut map = HeaderMap::new();
        map.insert("x-ratelimit-limit", HeaderValue::from(limit));
        map.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        map.insert("x-ratelimit-reset", HeaderValue::from(reset));
        prop_assert_eq!(
            RateLimit::from_headers(&map),
            Some(RateLimit::new(Some(limit), Some(remaining), Some(Duration::from_secs(reset))))
        );
    }
}
