//! Property tests of the parsers that read server data: error bodies of both APIs and the
//! rate-limit headers. Whatever the server sends, they never panic, keep the status and give a
//! one-line `Display`; well-formed values are read exactly.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cloud_plugin_sdk::ratelimit::{parse_retry_after, request_id, requested_wait};
use cloud_plugin_sdk::{ApiError, Service, ratelimit::RateLimit};
use proptest::collection::vec;
use proptest::prelude::*;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

/// The last second `httpdate` can format (9999-12-31T23:59:59Z).
const LAST_HTTP_DATE: u64 = 253_402_300_799;

fn status() -> impl Strategy<Value = StatusCode> {
    (100u16..=999).prop_map(|s| StatusCode::from_u16(s).expect("100..=999 is a valid status"))
}

fn service() -> impl Strategy<Value = Service> {
    prop_oneof![Just(Service::Golem), Just(Service::Confluent)]
}

/// Bodies worth trying: raw bytes, text, and JSON documents of any shape.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..512),
        any::<String>().prop_map(String::into_bytes),
        json_value().prop_map(|v| v.to_string().into_bytes()),
    ]
}

/// Any JSON document, with object keys biased towards the ones the decoders look for.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        any::<String>().prop_map(Value::String),
    ];
    let key = prop_oneof![
        3 => prop::sample::select(vec![
            "code", "error", "errors", "message", "detail", "title", "status", "requestId", "id",
            "source", "error_code",
        ])
        .prop_map(str::to_string),
        1 => any::<String>(),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `true` when the text has no line break, tab or other control character.
fn is_one_line(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c.is_control() || (c.is_whitespace() && c != ' '))
}

fn one_header(name: &'static str, value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
    headers
}

fn decode(service: Service, status: StatusCode, body: &[u8]) -> ApiError {
    ApiError::from_parts(service, status, &HeaderMap::new(), body)
}

fn check_invariants(err: &ApiError, service: Service, status: StatusCode) {
    assert_eq!(err.status(), status);
    assert_eq!(err.service(), service);
    let shown = err.to_string();
    assert!(is_one_line(&shown), "not one line: {shown:?}");
    assert!(shown.contains(status.as_str()), "{shown:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_body_decodes_to_one_line_with_the_status(
        service in service(),
        status in status(),
        body in body(),
    ) {
        let err = decode(service, status, &body);
        check_invariants(&err, service, status);
    }

    #[test]
    fn any_header_values_decode(
        service in service(),
        status in status(),
        request_id in "[ -~\t]{0,300}",
        retry_after in "[ -~]{0,40}",
        www_authenticate in "[ -~\t]{0,100}",
    ) {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-request-id", &request_id),
            ("retry-after", &retry_after),
            ("www-authenticate", &www_authenticate),
            ("location", &www_authenticate),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
        let err = ApiError::from_parts(service, status, &headers, b"{}");
        check_invariants(&err, service, status);
    }

    #[test]
    fn golem_code_and_error_are_kept(code in any::<String>(), message in any::<String>()) {
        let body = json!({ "code": code, "error": message }).to_string();
        let err = decode(Service::Golem, StatusCode::NOT_FOUND, body.as_bytes());
        prop_assert_eq!(err.messages(), std::slice::from_ref(&message));
        let expected_code = (!code.is_empty()).then_some(code.as_str());
        prop_assert_eq!(err.code(), expected_code);
        prop_assert!(err.raw_body().is_none());
        check_invariants(&err, Service::Golem, StatusCode::NOT_FOUND);
    }

    #[test]
    fn golem_code_and_errors_are_kept(
        code in any::<String>(),
        messages in vec(any::<String>(), 0..8),
    ) {
        let body = json!({ "code": code, "errors": messages }).to_string();
        let err = decode(Service::Golem, StatusCode::BAD_REQUEST, body.as_bytes());
        prop_assert_eq!(err.messages(), messages.as_slice());
        let expected_code = (!code.is_empty()).then_some(code.as_str());
        prop_assert_eq!(err.code(), expected_code);
        check_invariants(&err, Service::Golem, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn confluent_failure_keeps_every_entry(
        entries in vec(confluent_entry(), 0..12),
        status in status(),
    ) {
        let body = json!({ "errors": entries }).to_string();
        let err = decode(Service::Confluent, status, body.as_bytes());
        prop_assert_eq!(err.details().len(), entries.len());
        let first_code = entries
            .iter()
            .find_map(|e| e.get("code").and_then(Value::as_str));
        prop_assert_eq!(err.code(), first_code);
        prop_assert!(err.messages().len() <= entries.len());
        for message in err.messages() {
            prop_assert!(!message.is_empty());
        }
        check_invariants(&err, Service::Confluent, status);
    }

    #[test]
    fn confluent_newer_shape_is_kept(
        code in any::<String>(),
        message in any::<String>(),
        request_id in any::<String>(),
    ) {
        let body = json!({
            "status": 400,
            "error": { "code": code, "message": message },
            "requestId": request_id,
        })
        .to_string();
        let err = decode(Service::Confluent, StatusCode::BAD_REQUEST, body.as_bytes());
        prop_assert_eq!(err.code(), Some(code.as_str()));
        prop_assert_eq!(err.messages(), std::slice::from_ref(&message));
        check_invariants(&err, Service::Confluent, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn retry_after_delay_seconds_round_trip(secs in any::<u64>(), now in 0..=LAST_HTTP_DATE) {
        let now = UNIX_EPOCH + Duration::from_secs(now);
        let expected = Some(Duration::from_secs(secs));
        prop_assert_eq!(parse_retry_after(&secs.to_string(), now), expected);
        prop_assert_eq!(parse_retry_after(&format!("  {secs} "), now), expected);
        let headers = one_header("retry-after", &secs.to_string());
        prop_assert_eq!(requested_wait(StatusCode::TOO_MANY_REQUESTS, &headers, now), expected);
        prop_assert_eq!(requested_wait(StatusCode::SERVICE_UNAVAILABLE, &headers, now), expected);
    }

    #[test]
    fn retry_after_http_date_round_trip(now in 0..LAST_HTTP_DATE, ahead in any::<u64>()) {
        let ahead = ahead % (LAST_HTTP_DATE - now + 1);
        let now = UNIX_EPOCH + Duration::from_secs(now);
        let date = httpdate::fmt_http_date(now + Duration::from_secs(ahead));
        prop_assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(ahead)));
        // A date in the past asks for no wait at all.
        let later = now + Duration::from_secs(ahead) + Duration::from_secs(1);
        let past = httpdate::fmt_http_date(now);
        prop_assert_eq!(parse_retry_after(&past, later), Some(Duration::ZERO));
    }

    #[test]
    fn huge_and_odd_values_do_not_overflow(
        digits in "[0-9]{20,64}",
        text in any::<String>(),
        now in any::<u64>(),
    ) {
        let now = UNIX_EPOCH
            .checked_add(Duration::from_secs(now))
            .unwrap_or(UNIX_EPOCH);
        for value in [digits.as_str(), text.as_str(), "18446744073709551615", "-1", "1.5", ""] {
            let _ = parse_retry_after(value, now);
            let mut headers = HeaderMap::new();
            for name in ["retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-request-id"] {
                if let Ok(v) = HeaderValue::from_str(value) {
                    headers.insert(name, v);
                }
            }
            let _ = requested_wait(StatusCode::TOO_MANY_REQUESTS, &headers, now);
            let _ = RateLimit::from_headers(&headers);
            let _ = request_id(&headers);
            let err = ApiError::from_parts(Service::Confluent, StatusCode::TOO_MANY_REQUESTS, &headers, b"");
            prop_assert!(is_one_line(&err.to_string()));
        }
        prop_assert_eq!(
            parse_retry_after("18446744073709551615", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn rate_limit_headers_are_read_exactly(
        limit in any::<u64>(),
        remaining in any::<u64>(),
        reset in any::<u64>(),
    ) {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
        let read = RateLimit::from_headers(&headers);
        prop_assert_eq!(
            read,
            Some(RateLimit::new(Some(limit), Some(remaining), Some(Duration::from_secs(reset))))
        );
        // Without Retry-After, a 429 waits for the window to reset (relative seconds).
        let now = SystemTime::now();
        prop_assert_eq!(
            requested_wait(StatusCode::TOO_MANY_REQUESTS, &headers, now),
            Some(Duration::from_secs(reset))
        );
        // Retry-After takes precedence over X-RateLimit-Reset.
        headers.insert("retry-after", HeaderValue::from(7u64));
        prop_assert_eq!(
            requested_wait(StatusCode::TOO_MANY_REQUESTS, &headers, now),
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn request_id_is_trimmed_and_bounded(id in "[ -~\t]{0,400}") {
        let headers = one_header("x-request-id", &id);
        if let Some(read) = request_id(&headers) {
            prop_assert!(!read.is_empty() && read.len() <= 256);
            prop_assert_eq!(read.as_str(), read.trim());
            prop_assert!(id.contains(&read));
        }
    }
}

/// One entry of a Confluent `Failure` body: an object with any of the documented fields set to
/// arbitrary values, or occasionally something that is not an object at all.
fn confluent_entry() -> impl Strategy<Value = Value> {
    let text = proptest::option::of(any::<String>());
    let object = (
        text.clone(),
        text.clone(),
        text.clone(),
        text.clone(),
        text,
        proptest::option::of(any::<i64>()),
    )
        .prop_map(|(id, code, title, detail, message, error_code)| {
            let mut entry = serde_json::Map::new();
            let fields = [
                ("id", id),
                ("code", code),
                ("title", title),
                ("detail", detail),
                ("message", message),
            ];
            for (name, value) in fields {
                if let Some(value) = value {
                    entry.insert(name.to_string(), Value::String(value));
                }
            }
            if let Some(n) = error_code {
                entry.insert("error_code".to_string(), json!(n));
            }
            Value::Object(entry)
        });
    prop_oneof![
        8 => object,
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => any::<String>().prop_map(Value::String),
    ]
}
