//! A 429 is retried after exactly the wait the server asked for, in every header form, and
//! never beyond the cap or the deadline.
//!
//! Waits are measured at the server, between the arrivals of the refused request and of its
//! retry (or, for a date, from the date itself), so a slow machine cannot make a correct wait
//! look short. Upper bounds leave seconds of slack: they only tell a wait of the right size from
//! one of the wrong kind (a backoff, a cap of a minute).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::common::{
    asctime_date, client, date_about_one_second_ahead, request, request_count, rfc850_date, run,
};
use cloud_plugin_sdk::retry::{GiveUp, RateLimitGate, RetryPolicy, execute};
use reqwest::{Method, StatusCode};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Slack for the difference between the wall clock (which dates refer to) and the monotonic
/// clock the engine sleeps by.
const CLOCK_SLACK: Duration = Duration::from_millis(20);

/// How soon an answer "at once" must come: far below every wait these tests provoke (a minute,
/// or at least 20 s), with room for a loaded machine.
const AT_ONCE: Duration = Duration::from_secs(10);

/// Backoff is zero, so any measurable wait must come from the server's header.
fn header_only_policy() -> RetryPolicy {
    RetryPolicy::standard()
        .initial_backoff(Duration::ZERO)
        .max_backoff(Duration::ZERO)
}

/// When each request reached the server.
#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<Vec<(Instant, SystemTime)>>>);

impl Arrivals {
    fn all(&self) -> Vec<(Instant, SystemTime)> {
        self.0.lock().expect("arrivals").clone()
    }

    /// The time between the first request's arrival and the second's.
    fn gap(&self) -> Duration {
        let all = self.all();
        assert_eq!(all.len(), 2, "two requests expected");
        all[1].0 - all[0].0
    }
}

/// Answers the first request with `first` and every later one with 200, noting arrivals.
struct OnceThenOk {
    first: ResponseTemplate,
    arrivals: Arrivals,
}

impl Respond for OnceThenOk {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let mut arrivals = self.arrivals.0.lock().expect("arrivals");
        arrivals.push((Instant::now(), SystemTime::now()));
        if arrivals.len() == 1 {
            self.first.clone()
        } else {
            ResponseTemplate::new(200)
        }
    }
}

/// A server answering `status` with `headers` once, then 200.
async fn refused_once(status: u16, headers: &[(&str, String)]) -> (MockServer, Arrivals) {
    let server = MockServer::start().await;
    let mut first = ResponseTemplate::new(status);
    for (name, value) in headers {
        first = first.insert_header(*name, value.as_str());
    }
    let arrivals = Arrivals::default();
    Mock::given(method("GET"))
        .respond_with(OnceThenOk {
            first,
            arrivals: arrivals.clone(),
        })
        .mount(&server)
        .await;
    (server, arrivals)
}

/// Runs one GET /r and checks it succeeded on the second attempt.
async fn assert_retried_once(server: &MockServer, policy: &RetryPolicy) {
    let http = client();
    let (result, attempts) = run(
        &http,
        policy,
        request(&http, Method::GET, &format!("{}/r", server.uri())),
    )
    .await;
    let response = result.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(attempts.attempts, 2);
    assert_eq!(attempts.give_up, None);
    assert!(!attempts.synthesized);
    assert_eq!(request_count(server).await, 2);
}

/// The retry came at least `min` and less than `max` after the refused request.
fn assert_gap(arrivals: &Arrivals, min: Duration, max: Duration) {
    let gap = arrivals.gap();
    assert!(gap >= min, "retried after {gap:?}, wanted at least {min:?}");
    assert!(gap < max, "retried after {gap:?}, wanted less than {max:?}");
}

/// A 429 whose `Retry-After` is the HTTP date `header`: the retry reaches the server no earlier
/// than that date, and within seconds of it.
async fn assert_waits_until(header: String, date: SystemTime) {
    let (server, arrivals) = refused_once(429, &[("retry-after", header)]).await;
    assert_retried_once(&server, &header_only_policy()).await;
    let retried_at = arrivals.all()[1].1;
    assert!(
        retried_at + CLOCK_SLACK >= date,
        "retried {:?} before the date",
        date.duration_since(retried_at).unwrap_or_default()
    );
    assert!(
        retried_at < date + Duration::from_secs(5),
        "retried {:?} after the date",
        retried_at.duration_since(date).unwrap_or_default()
    );
}

#[tokio::test]
async fn retry_after_delay_seconds() {
    let (server, arrivals) = refused_once(429, &[("retry-after", "1".into())]).await;
    assert_retried_once(&server, &header_only_policy()).await;
    assert_gap(&arrivals, Duration::from_secs(1), Duration::from_secs(6));
}

#[tokio::test]
async fn retry_after_imf_fixdate() {
    let date = date_about_one_second_ahead();
    assert_waits_until(httpdate::fmt_http_date(date), date).await;
}

#[tokio::test]
async fn retry_after_rfc850_date() {
    let date = date_about_one_second_ahead();
    assert_waits_until(rfc850_date(date), date).await;
}

#[tokio::test]
async fn retry_after_asctime_date() {
    let date = date_about_one_second_ahead();
    assert_waits_until(asctime_date(date), date).await;
}

#[tokio::test]
async fn retry_after_past_date_retries_at_once() {
    let (server, arrivals) = refused_once(
        429,
        &[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT".into())],
    )
    .await;
    // A long backoff (at least 15 s) proves the past date was read as "now", not as garbage.
    let policy = RetryPolicy::standard()
        .initial_backoff(Duration::from_secs(30))
        .max_backoff(Duration::from_secs(30));
    assert_retried_once(&server, &policy).await;
    assert_gap(&arrivals, Duration::ZERO, Duration::from_secs(10));
}

#[tokio::test]
async fn unparseable_retry_after_falls_back_to_backoff() {
    let (server, arrivals) =
        refused_once(429, &[("retry-after", "whenever you like".into())]).await;
    // Backoff of 2 s, drawn from [1 s, 3 s].
    let policy = RetryPolicy::standard()
        .initial_backoff(Duration::from_secs(2))
        .max_backoff(Duration::from_secs(2));
    assert_retried_once(&server, &policy).await;
    assert_gap(&arrivals, Duration::from_secs(1), Duration::from_secs(8));
}

#[tokio::test]
async fn rate_limit_reset_alone_is_relative_seconds() {
    let (server, arrivals) = refused_once(
        429,
        &[
            ("x-ratelimit-limit", "10".into()),
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", "1".into()),
        ],
    )
    .await;
    // Without the shared gate the wait is exactly what the header says. (The gate takes a
    // whole-second reset as an upper bound and paces from the limit instead.)
    assert_retried_once(&server, &header_only_policy().share_rate_limits(false)).await;
    assert_gap(&arrivals, Duration::from_secs(1), Duration::from_secs(6));
}

#[tokio::test]
async fn retry_after_wins_over_rate_limit_reset() {
    let (server, arrivals) = refused_once(
        429,
        &[
            ("retry-after", "0".into()),
            ("x-ratelimit-reset", "30".into()),
        ],
    )
    .await;
    assert_retried_once(&server, &header_only_policy()).await;
    assert_gap(&arrivals, Duration::ZERO, Duration::from_secs(10));
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
    assert!(started.elapsed() < AT_ONCE, "{:?}", started.elapsed());
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
    assert!(started.elapsed() < AT_ONCE, "{:?}", started.elapsed());
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
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "50"))
        .mount(&server)
        .await;
    let http = client();
    // The wait is under the cap (60 s) but beyond the deadline.
    let policy = RetryPolicy::standard().deadline(Some(Duration::from_secs(20)));
    let started = Instant::now();
    let (result, attempts) = run(
        &http,
        &policy,
        request(&http, Method::GET, &format!("{}/r", server.uri())),
    )
    .await;
    assert!(started.elapsed() < AT_ONCE, "{:?}", started.elapsed());
    assert_eq!(
        result.expect("response").status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        attempts.give_up,
        Some(GiveUp::WaitExceedsDeadline {
            requested: Duration::from_secs(50)
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
    // Intervals of 2 s (drawn from 1..3 s) against a 4 s deadline: at most four attempts fit,
    // where ten retries without the deadline would take at least 10 s.
    let policy = RetryPolicy::standard()
        .max_retries(10)
        .initial_backoff(Duration::from_secs(2))
        .max_backoff(Duration::from_secs(2))
        .deadline(Some(Duration::from_secs(4)));
    let started = Instant::now();
    let (result, attempts) = run(
        &http,
        &policy,
        request(&http, Method::GET, &format!("{}/r", server.uri())),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        result.expect("response").status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(matches!(
        attempts.give_up,
        Some(GiveUp::WaitExceedsDeadline { .. })
    ));
    assert!((1..=4).contains(&attempts.attempts), "{attempts:?}");
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
    assert!(started.elapsed() < AT_ONCE, "{:?}", started.elapsed());
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
    let (server, arrivals) = refused_once(503, &[("retry-after", "1".into())]).await;
    assert_retried_once(&server, &header_only_policy()).await;
    assert_gap(&arrivals, Duration::from_secs(1), Duration::from_secs(6));
}
