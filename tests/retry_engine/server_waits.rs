//! A 429 is retried after exactly the wait the server asked for, in every header form, and
//! never beyond the cap or the deadline.

use std::time::{Duration, Instant, SystemTime};

use crate::common::{
    asctime_date, client, date_about_one_second_ahead, request, request_count, rfc850_date, run,
};
use cloud_plugin_sdk::retry::{GiveUp, RateLimitGate, RetryPolicy, execute};
use reqwest::{Method, StatusCode};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Backoff is zero, so any measurable wait must come from the server's header.
fn header_only_policy() -> RetryPolicy {
    RetryPolicy::standard()
        .initial_backoff(Duration::ZERO)
        .max_backoff(Duration::ZERO)
}

/// Mounts "429 with `headers`, then 200" on GET /r.
async fn rate_limited_once(headers: &[(&str, String)]) -> MockServer {
    let server = MockServer::start().await;
    let mut limited = ResponseTemplate::new(429);
    for (name, value) in headers {
        limited = limited.insert_header(*name, value.as_str());
    }
    Mock::given(method("GET"))
        .and(path("/r"))
        .respond_with(limited)
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

/// The time from now until `target`, zero if it has passed.
fn until(target: SystemTime) -> Duration {
    target.duration_since(SystemTime::now()).unwrap_or_default()
}

/// Runs one GET /r and checks it succeeded on the second attempt after at least `min_wait`,
/// evaluated just before the request is sent (a wait for a date is measured from then).
async fn assert_waited(
    server: &MockServer,
    policy: &RetryPolicy,
    min_wait: impl FnOnce() -> Duration,
    max_total: Duration,
) {
    let http = client();
    let min_wait = min_wait();
    let started = Instant::now();
    let (result, attempts) = run(
        &http,
        policy,
        request(&http, Method::GET, &format!("{}/r", server.uri())),
    )
    .await;
    let elapsed = started.elapsed();
    let response = result.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(attempts.attempts, 2);
    assert_eq!(attempts.give_up, None);
    assert!(!attempts.synthesized);
    assert_eq!(request_count(server).await, 2);
    assert!(
        elapsed >= min_wait,
        "waited {elapsed:?}, wanted at least {min_wait:?}"
    );
    assert!(
        elapsed < max_total,
        "waited {elapsed:?}, wanted less than {max_total:?}"
    );
}

#[tokio::test]
async fn retry_after_delay_seconds() {
    let server = rate_limited_once(&[("retry-after", "1".into())]).await;
    assert_waited(
        &server,
        &header_only_policy(),
        || Duration::from_secs(1),
        Duration::from_millis(1900),
    )
    .await;
}

#[tokio::test]
async fn retry_after_imf_fixdate() {
    let (target, _) = date_about_one_second_ahead();
    let server = rate_limited_once(&[("retry-after", httpdate::fmt_http_date(target))]).await;
    assert_waited(
        &server,
        &header_only_policy(),
        || until(target).saturating_sub(Duration::from_millis(100)),
        Duration::from_millis(2500),
    )
    .await;
}

#[tokio::test]
async fn retry_after_rfc850_date() {
    let (target, _) = date_about_one_second_ahead();
    let server = rate_limited_once(&[("retry-after", rfc850_date(target))]).await;
    assert_waited(
        &server,
        &header_only_policy(),
        || until(target).saturating_sub(Duration::from_millis(100)),
        Duration::from_millis(2500),
    )
    .await;
}

#[tokio::test]
async fn retry_after_asctime_date() {
    let (target, _) = date_about_one_second_ahead();
    let server = rate_limited_once(&[("retry-after", asctime_date(target))]).await;
    assert_waited(
        &server,
        &header_only_policy(),
        || until(target).saturating_sub(Duration::from_millis(100)),
        Duration::from_millis(2500),
    )
    .await;
}

#[tokio::test]
async fn retry_after_past_date_retries_at_once() {
    let server =
        rate_limited_once(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT".into())]).await;
    // A long backoff proves the past date was read as "now", not as garbage.
    let policy = RetryPolicy::standard()
        .initial_backoff(Duration::from_secs(5))
        .max_backoff(Duration::from_secs(5));
    assert_waited(
        &server,
        &policy,
        || Duration::ZERO,
        Duration::from_millis(500),
    )
    .await;
}

#[tokio::test]
async fn unparseable_retry_after_falls_back_to_backoff() {
    let server = rate_limited_once(&[("retry-after", "whenever you like".into())]).await;
    // Backoff of 300 ms, drawn from [150 ms, 450 ms].
    let policy = RetryPolicy::standard()
        .initial_backoff(Duration::from_millis(300))
        .max_backoff(Duration::from_millis(300));
    assert_waited(
        &server,
        &policy,
        || Duration::from_millis(140),
        Duration::from_millis(900),
    )
    .await;
}

#[tokio::test]
async fn rate_limit_reset_alone_is_relative_seconds() {
    let server = rate_limited_once(&[
        ("x-ratelimit-limit", "10".into()),
        ("x-ratelimit-remaining", "0".into()),
        ("x-ratelimit-reset", "1".into()),
    ])
    .await;
    // Without the shared gate the wait is exactly what the header says. (The gate takes a
    // whole-second reset as an upper bound and paces from the limit instead.)
    assert_waited(
        &server,
        &header_only_policy().share_rate_limits(false),
        || Duration::from_secs(1),
        Duration::from_millis(1900),
    )
    .await;
}

#[tokio::test]
async fn retry_after_wins_over_rate_limit_reset() {
    let server = rate_limited_once(&[
        ("retry-after", "0".into()),
        ("x-ratelimit-reset", "30".into()),
    ])
    .await;
    assert_waited(
        &server,
        &header_only_policy(),
        || Duration::ZERO,
        Duration::from_millis(500),
    )
    .await;
}

#[tokio::test]
async fn wait_beyond_cap_returns_the_429_at_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "120")
                .insert_header("x-request-id", "req-cap"),
        )
        .mount(&server)
        .await;
    let http = client();
    let started = Instant::now();
    let (result, attempts) = run(
        &http,
        &RetryPolicy::standard(),
        request(&http, Method::GET, &format!("{}/r", server.uri())),
    )
    .await;
    assert!(started.elapsed() < Duration::from_millis(300));
    let response = result.expect("response");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // The caller still sees the server's headers, for its rate-limit error.
    assert_eq!(response.headers()["retry-after"], "120");
    assert_eq!(response.headers()["x-request-id"], "req-cap");
    assert_eq!(attempts.attempts, 1);
    assert_eq!(
        attempts.give_up,
        Some(GiveUp::WaitExceedsCap {
            requested: Duration::from_secs(120)
        })
    );
    assert!(!attempts.synthesized);
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn absurd_retry_after_does_not_panic_or_sleep() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429).insert_header("retry-after", "1000000000000000000000000"),
        )
        .mount(&server)
        .await;
    let http = client();
    let gate = RateLimitGate::new();
    let url = format!("{}/r", server.uri());
    let saturated = Duration::from_secs(u64::MAX);

    // Default cap: refused at once.
    let started = Instant::now();
    let (result, attempts) = execute(
        &http,
        &RetryPolicy::standard(),
        &gate,
        request(&http, Method::GET, &url),
        "test",
        "op",
    )
    .await;
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_eq!(
        result.expect("response").status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        attempts.give_up,
        Some(GiveUp::WaitExceedsCap {
            requested: saturated
        })
    );

    // No cap but a deadline: still refused at once, now by the deadline.
    let policy = RetryPolicy::standard()
        .max_wait(Duration::MAX)
        .deadline(Some(Duration::from_secs(1)))
        .share_rate_limits(false);
    let (_, attempts) = execute(
        &http,
        &policy,
        &gate,
        request(&http, Method::GET, &url),
        "test",
        "op",
    )
    .await;
    assert_eq!(
        attempts.give_up,
        Some(GiveUp::WaitExceedsDeadline {
            requested: saturated
        })
    );

    // The gate remembers the pause, bounded by the cap of the call that was told (60 s), and
    // answers locally a call that may wait less.
    let (result, attempts) = execute(
        &http,
        &RetryPolicy::standard().max_wait(Duration::from_secs(10)),
        &gate,
        request(&http, Method::GET, &url),
        "test",
        "op",
    )
    .await;
    let response = result.expect("synthesized response");
    assert!(attempts.synthesized);
    assert_eq!(attempts.attempts, 0);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((59..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(request_count(&server).await, 2);
}

#[tokio::test]
async fn wait_beyond_deadline_returns_the_429_at_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "5"))
        .mount(&server)
        .await;
    let http = client();
    let policy = RetryPolicy::standard().deadline(Some(Duration::from_secs(1)));
    let started = Instant::now();
    let (result, attempts) = run(
        &http,
        &policy,
        request(&http, Method::GET, &format!("{}/r", server.uri())),
    )
    .await;
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_eq!(
        result.expect("response").status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        attempts.give_up,
        Some(GiveUp::WaitExceedsDeadline {
            requested: Duration::from_secs(5)
        })
    );
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn backoff_stops_at_the_deadline() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let http = client();
    // Intervals of 200 ms (drawn from 100..300 ms) against a 250 ms deadline.
    let policy = RetryPolicy::standard()
        .max_retries(10)
        .initial_backoff(Duration::from_millis(200))
        .max_backoff(Duration::from_millis(200))
        .deadline(Some(Duration::from_millis(250)));
    let started = Instant::now();
    let (result, attempts) = run(
        &http,
        &policy,
        request(&http, Method::GET, &format!("{}/r", server.uri())),
    )
    .await;
    assert!(started.elapsed() < Duration::from_millis(600));
    assert_eq!(
        result.expect("response").status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(matches!(
        attempts.give_up,
        Some(GiveUp::WaitExceedsDeadline { .. })
    ));
    assert!((1..=3).contains(&attempts.attempts), "{attempts:?}");
    assert_eq!(request_count(&server).await, attempts.attempts as usize);
}

#[tokio::test]
async fn exhausted_retries_return_the_last_429() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .mount(&server)
        .await;
    let http = client();
    let policy = RetryPolicy::standard().max_retries(3);
    let (result, attempts) = run(
        &http,
        &policy,
        request(&http, Method::GET, &format!("{}/r", server.uri())),
    )
    .await;
    assert_eq!(
        result.expect("response").status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(attempts.attempts, 4);
    assert_eq!(attempts.give_up, Some(GiveUp::RetriesExhausted));
    assert_eq!(request_count(&server).await, 4);
}

#[tokio::test]
async fn service_unavailable_retry_after_beyond_cap_is_not_slept() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "90"))
        .mount(&server)
        .await;
    let http = client();
    let started = Instant::now();
    let (result, attempts) = run(
        &http,
        &crate::common::fast_policy(),
        request(&http, Method::GET, &format!("{}/r", server.uri())),
    )
    .await;
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_eq!(
        result.expect("response").status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        attempts.give_up,
        Some(GiveUp::WaitExceedsCap {
            requested: Duration::from_secs(90)
        })
    );
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn service_unavailable_retry_after_is_honoured() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    assert_waited(
        &server,
        &header_only_policy(),
        || Duration::from_secs(1),
        Duration::from_millis(1900),
    )
    .await;
}
