//! The shared gate: once one response says "wait until T", the client's other requests hold
//! until T instead of hitting the server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{client, fast_policy, request, request_count};
use cloud_plugin_sdk::ratelimit::RateLimit;
use cloud_plugin_sdk::retry::{GiveUp, RateLimitGate, RetryPolicy, SynthesizedResponse, execute};
use reqwest::{Method, StatusCode};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers the first request with `first`, every later one with 200, and records arrival times.
struct Recorder {
    first: ResponseTemplate,
    seen: AtomicUsize,
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

impl Respond for Recorder {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.arrivals.lock().expect("arrivals").push(Instant::now());
        if self.seen.fetch_add(1, Ordering::SeqCst) == 0 {
            self.first.clone()
        } else {
            ResponseTemplate::new(200)
        }
    }
}

async fn recording_server(first: ResponseTemplate) -> (MockServer, Arc<Mutex<Vec<Instant>>>) {
    let server = MockServer::start().await;
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    Mock::given(wiremock::matchers::any())
        .respond_with(Recorder {
            first,
            seen: AtomicUsize::new(0),
            arrivals: Arc::clone(&arrivals),
        })
        .mount(&server)
        .await;
    (server, arrivals)
}

/// Waits (briefly) until the gate has closed.
async fn until_gate_closes(gate: &RateLimitGate) {
    let started = Instant::now();
    while gate.remaining().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "gate never closed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Starts `n` GETs on `gate` and returns their results.
async fn burst(
    n: usize,
    http: &reqwest::Client,
    policy: &RetryPolicy,
    gate: &RateLimitGate,
    url: &str,
) -> Vec<tokio::task::JoinHandle<(StatusCode, u32)>> {
    (0..n)
        .map(|_| {
            let http = http.clone();
            let policy = policy.clone();
            let gate = gate.clone();
            let req = request(&http, Method::GET, url);
            tokio::spawn(async move {
                let (result, attempts) = execute(&http, &policy, &gate, req, "test", "burst").await;
                (result.expect("response").status(), attempts.attempts)
            })
        })
        .collect()
}

const GATE_TOLERANCE: Duration = Duration::from_millis(5);

#[tokio::test]
async fn a_429_holds_every_request_of_the_client() {
    let (server, arrivals) =
        recording_server(ResponseTemplate::new(429).insert_header("retry-after", "1")).await;
    let http = client();
    let gate = RateLimitGate::new();
    let policy = fast_policy();
    let url = format!("{}/r", server.uri());

    let first = {
        let (http, policy, gate, req) = (
            http.clone(),
            policy.clone(),
            gate.clone(),
            request(&http, Method::GET, &url),
        );
        tokio::spawn(async move { execute(&http, &policy, &gate, req, "test", "first").await })
    };
    until_gate_closes(&gate).await;
    let others = burst(10, &http, &policy, &gate, &url).await;

    let (result, attempts) = first.await.expect("task");
    assert_eq!(result.expect("response").status(), StatusCode::OK);
    assert_eq!(attempts.attempts, 2);
    for handle in others {
        assert_eq!(handle.await.expect("task"), (StatusCode::OK, 1));
    }

    let arrivals = arrivals.lock().expect("arrivals").clone();
    assert_eq!(arrivals.len(), 12);
    assert_eq!(request_count(&server).await, 12);
    let limited_at = arrivals[0];
    for arrival in &arrivals[1..] {
        let after = arrival.duration_since(limited_at);
        assert!(
            after + GATE_TOLERANCE >= Duration::from_secs(1),
            "request sent {after:?} after the 429"
        );
        assert!(
            after < Duration::from_millis(2500),
            "request sent {after:?} after the 429"
        );
    }
}

#[tokio::test]
async fn an_exhausted_window_on_a_success_paces_the_others() {
    let (server, arrivals) = recording_server(
        ResponseTemplate::new(200)
            .insert_header("x-ratelimit-limit", "50")
            .insert_header("x-ratelimit-remaining", "0")
            .insert_header("x-ratelimit-reset", "1"),
    )
    .await;
    let http = client();
    let gate = RateLimitGate::new();
    let policy = fast_policy();
    let url = format!("{}/r", server.uri());

    let started = Instant::now();
    let (result, attempts) = execute(
        &http,
        &policy,
        &gate,
        request(&http, Method::GET, &url),
        "test",
        "first",
    )
    .await;
    // The call that learnt about the exhausted window is not delayed itself.
    assert_eq!(result.expect("response").status(), StatusCode::OK);
    assert_eq!(attempts.attempts, 1);
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(gate.remaining().is_some());

    for handle in burst(10, &http, &policy, &gate, &url).await {
        assert_eq!(handle.await.expect("task"), (StatusCode::OK, 1));
    }
    let arrivals = arrivals.lock().expect("arrivals").clone();
    assert_eq!(arrivals.len(), 11);
    // No herd: 50 in a second is one every 20 ms, and the whole-second reset is only an upper
    // bound, so the others go one by one at that pace rather than all at once when it passes.
    let first_gap = arrivals[1].duration_since(arrivals[0]);
    assert!(
        first_gap + GATE_TOLERANCE >= Duration::from_millis(20),
        "{first_gap:?}"
    );
    // Ten at one per 20 ms span 180 ms; a late timer lets one catch up.
    let span = arrivals[10].duration_since(arrivals[1]);
    assert!(
        span >= Duration::from_millis(120),
        "ten paced requests in {span:?}"
    );
}

#[tokio::test]
async fn remaining_budget_does_not_close_the_gate() {
    let (server, _) = recording_server(
        ResponseTemplate::new(200)
            .insert_header("x-ratelimit-remaining", "3")
            .insert_header("x-ratelimit-reset", "30"),
    )
    .await;
    let http = client();
    let gate = RateLimitGate::new();
    let url = format!("{}/r", server.uri());
    let _ = execute(
        &http,
        &fast_policy(),
        &gate,
        request(&http, Method::GET, &url),
        "test",
        "op",
    )
    .await;
    assert_eq!(gate.remaining(), None);
}

#[tokio::test]
async fn a_pause_beyond_the_cap_is_answered_locally() {
    let (server, _) = recording_server(
        ResponseTemplate::new(429)
            .insert_header("retry-after", "30")
            .insert_header("x-request-id", "req-1"),
    )
    .await;
    let http = client();
    let gate = RateLimitGate::new();
    let url = format!("{}/r", server.uri());
    let short_cap = fast_policy().max_wait(Duration::from_secs(10));

    let (result, attempts) = execute(
        &http,
        &short_cap,
        &gate,
        request(&http, Method::GET, &url),
        "test",
        "op",
    )
    .await;
    assert_eq!(
        result.expect("response").status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert!(!attempts.synthesized);

    // The gate holds the client for the caller's cap (10 s), not the 30 s asked for. A POST
    // whose own cap is shorter gets a synthesized 429 without anything being sent.
    let started = Instant::now();
    let post = http.post(&url).body("{}").build().expect("request");
    let shorter_cap = fast_policy().max_wait(Duration::from_secs(5));
    let (result, attempts) = execute(&http, &shorter_cap, &gate, post, "test", "create").await;
    assert!(started.elapsed() < Duration::from_millis(200));
    let response = result.expect("synthesized response");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.extensions().get::<SynthesizedResponse>().is_some());
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((9..=10).contains(&retry_after), "{retry_after}");
    assert_eq!(attempts.attempts, 0);
    assert!(attempts.synthesized);
    assert!(
        matches!(attempts.give_up, Some(GiveUp::WaitExceedsCap { requested }) if requested > Duration::from_secs(9))
    );
    assert_eq!(request_count(&server).await, 1);

    // A tight deadline refuses the same pause with the deadline as reason.
    let short_deadline = fast_policy().deadline(Some(Duration::from_secs(5)));
    let (_, attempts) = execute(
        &http,
        &short_deadline,
        &gate,
        request(&http, Method::GET, &url),
        "test",
        "op",
    )
    .await;
    assert!(matches!(
        attempts.give_up,
        Some(GiveUp::WaitExceedsDeadline { .. })
    ));
    assert!(attempts.synthesized);

    // A policy without the shared gate ignores the pause and reaches the server.
    let unshared = fast_policy().share_rate_limits(false);
    let (result, attempts) = execute(
        &http,
        &unshared,
        &gate,
        request(&http, Method::GET, &url),
        "test",
        "op",
    )
    .await;
    assert_eq!(result.expect("response").status(), StatusCode::OK);
    assert_eq!(attempts.attempts, 1);
    assert_eq!(request_count(&server).await, 2);
}

#[tokio::test]
async fn an_unshared_policy_does_not_close_the_gate() {
    let (server, _) =
        recording_server(ResponseTemplate::new(429).insert_header("retry-after", "30")).await;
    let http = client();
    let gate = RateLimitGate::new();
    let url = format!("{}/r", server.uri());
    let _ = execute(
        &http,
        &RetryPolicy::none(),
        &gate,
        request(&http, Method::GET, &url),
        "test",
        "op",
    )
    .await;
    assert_eq!(gate.remaining(), None);
}

/// A server admitting `limit` requests per one-second window, reporting the budget left on every
/// answer (`X-RateLimit-Remaining`, and `X-RateLimit-Reset` in whole seconds, rounded up).
struct FixedWindow {
    limit: u64,
    start: Instant,
    used: Mutex<(u128, u64)>,
    refused: Arc<AtomicUsize>,
}

impl Respond for FixedWindow {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let elapsed = self.start.elapsed();
        let window = elapsed.as_millis() / 1000;
        let reset = 1000 - (elapsed.as_millis() % 1000);
        let reset = reset.div_ceil(1000).max(1).to_string();
        let mut used = self.used.lock().expect("window");
        if used.0 != window {
            *used = (window, 0);
        }
        let limit = self.limit.to_string();
        if used.1 < self.limit {
            used.1 += 1;
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-limit", limit.as_str())
                .insert_header("x-ratelimit-remaining", (self.limit - used.1).to_string())
                .insert_header("x-ratelimit-reset", reset.as_str())
        } else {
            self.refused.fetch_add(1, Ordering::SeqCst);
            ResponseTemplate::new(429)
                .insert_header("retry-after", reset.as_str())
                .insert_header("x-ratelimit-limit", limit.as_str())
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.as_str())
        }
    }
}

#[tokio::test]
async fn the_reported_budget_stops_a_burst_before_the_server_refuses_it() {
    let server = MockServer::start().await;
    let refused = Arc::new(AtomicUsize::new(0));
    Mock::given(wiremock::matchers::any())
        .respond_with(FixedWindow {
            limit: 4,
            start: Instant::now(),
            used: Mutex::new((0, 0)),
            refused: Arc::clone(&refused),
        })
        .mount(&server)
        .await;
    let http = client();
    let gate = RateLimitGate::new();
    let url = format!("{}/r", server.uri());

    // One call learns the budget; five more then start at once, more than the window admits.
    let (result, _) = execute(
        &http,
        &fast_policy(),
        &gate,
        request(&http, Method::GET, &url),
        "test",
        "first",
    )
    .await;
    assert_eq!(result.expect("response").status(), StatusCode::OK);
    let started = Instant::now();
    let policy = fast_policy().max_retries(1);
    for handle in burst(5, &http, &policy, &gate, &url).await {
        let (status, attempts) = handle.await.expect("task");
        assert_eq!(status, StatusCode::OK);
        assert!(attempts <= 3, "{attempts} attempts");
    }
    // Three fit in the first window. Once it was spent the others went one at a time, at the
    // pace the headers imply: the window ends within the whole second they name, so at most
    // two lone requests were refused before it did, and those cost no retries.
    let refused = refused.load(Ordering::SeqCst);
    assert!(refused <= 2, "{refused} requests refused");
    assert_eq!(request_count(&server).await, 6 + refused);
    assert!(started.elapsed() + GATE_TOLERANCE >= Duration::from_millis(500));
}

#[tokio::test]
async fn attempts_report_the_final_answers_rate_limit() {
    let http = client();
    let gate = RateLimitGate::new();
    let headers = |template: ResponseTemplate| {
        template
            .insert_header("x-ratelimit-limit", "10")
            .insert_header("x-ratelimit-remaining", "7")
            .insert_header("x-ratelimit-reset", "30")
    };

    let (server, _) = recording_server(headers(ResponseTemplate::new(200))).await;
    let url = format!("{}/r", server.uri());
    let (result, attempts) = execute(
        &http,
        &fast_policy(),
        &gate,
        request(&http, Method::GET, &url),
        "test",
        "op",
    )
    .await;
    assert_eq!(result.expect("response").status(), StatusCode::OK);
    assert_eq!(
        attempts.rate_limit,
        Some(RateLimit::new(
            Some(10),
            Some(7),
            Some(Duration::from_secs(30))
        ))
    );

    // A retried call reports its last answer (a plain 200 here), not the one that failed.
    let (server, _) = recording_server(headers(ResponseTemplate::new(503))).await;
    let url = format!("{}/r", server.uri());
    let (result, attempts) = execute(
        &http,
        &fast_policy(),
        &RateLimitGate::new(),
        request(&http, Method::GET, &url),
        "test",
        "op",
    )
    .await;
    assert_eq!(result.expect("response").status(), StatusCode::OK);
    assert_eq!(attempts.attempts, 2);
    assert_eq!(attempts.rate_limit, None);
    assert_eq!(request_count(&server).await, 2);
}

#[tokio::test]
async fn a_call_sends_nothing_and_starts_no_clock_until_polled() {
    let (server, arrivals) = recording_server(ResponseTemplate::new(503)).await;
    let http = client();
    let gate = RateLimitGate::new();
    let policy = fast_policy().deadline(Some(Duration::from_millis(150)));
    let url = format!("{}/lazy", server.uri());
    let call = execute(
        &http,
        &policy,
        &gate,
        request(&http, Method::GET, &url),
        "test",
        "lazy",
    );
    // Longer than the deadline: a deadline counted from the call's creation would already have
    // passed and forbid the retry below.
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(request_count(&server).await, 0, "sent before being polled");
    let (result, attempts) = call.await;
    assert_eq!(result.expect("answered").status(), StatusCode::OK);
    assert_eq!(attempts.attempts, 2, "{attempts:?}");
    assert_eq!(arrivals.lock().expect("arrivals").len(), 2);
}
