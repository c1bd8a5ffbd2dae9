//! Retries are observable through `tracing`, without leaking headers, URLs or bodies.
//!
//! These tests have a binary of their own. `tracing` caches, per event callsite, whether any
//! subscriber wants its events; a callsite first reached on a thread without a subscriber (as
//! other tests' threads are) can be cached as unwanted and then stays silent for a subscriber set
//! on another thread (tokio-rs/tracing#3611). Here every test sets its subscriber before anything
//! reaches the crate's callsites, and rebuilds the cache once it is set.

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};

use cloud_plugin_sdk::retry::{RateLimitGate, RetryPolicy, execute};
use reqwest::StatusCode;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("buffer")).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Runs `scenario` on a current-thread runtime (so every event of the call is emitted on this
/// thread) under a subscriber of its own that records the retry engine's debug events, and
/// returns what it recorded.
fn events_of<F: Future<Output = ()>>(scenario: impl FnOnce() -> F) -> String {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("cloud_plugin_sdk::retry=debug"))
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::callsite::rebuild_interest_cache();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(scenario());
    });
    captured.text()
}

/// Near-zero backoff, so retries without a server wait are immediate.
fn fast_policy() -> RetryPolicy {
    RetryPolicy::standard()
        .initial_backoff(std::time::Duration::from_millis(1))
        .max_backoff(std::time::Duration::from_millis(2))
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

#[test]
fn retry_events_carry_the_facts_and_no_secrets() {
    let text = events_of(|| async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(503)
                    .insert_header("x-request-id", "req-7f3a")
                    .set_body_string("body-text-never-logged"),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;

        let http = client();
        let req = http
            .get(format!(
                "{}/plugins?api_secret=query-secret-42",
                server.uri()
            ))
            .header("Authorization", "Bearer token-secret-99")
            .build()
            .expect("request");
        let (result, attempts) = execute(
            &http,
            &fast_policy(),
            &RateLimitGate::new(),
            req,
            "confluent",
            "list_plugins",
        )
        .await;
        assert_eq!(result.expect("response").status(), StatusCode::OK);
        assert_eq!(attempts.attempts, 2);
        let received = server.received_requests().await.unwrap_or_default();
        assert_eq!(received.len(), 2);
    });

    let retry_line = text
        .lines()
        .find(|line| line.contains("retrying request"))
        .unwrap_or_else(|| panic!("no retry event in {text:?}"));
    for expected in [
        "cloud_plugin_sdk::retry",
        "DEBUG",
        "service=\"confluent\"",
        "operation=\"list_plugins\"",
        "method=\"GET\"",
        "status=503",
        "attempt=1",
        "delay_ms=",
        "req-7f3a",
    ] {
        assert!(
            retry_line.contains(expected),
            "{expected:?} missing from {retry_line:?}"
        );
    }
    let lowercase = text.to_lowercase();
    for secret in [
        "authorization",
        "token-secret-99",
        "query-secret-42",
        "api_secret",
        "/plugins",
        "body-text",
    ] {
        assert!(
            !lowercase.contains(secret),
            "{secret:?} leaked into {text:?}"
        );
    }
}

#[test]
fn give_up_events_name_the_reason() {
    let text = events_of(|| async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "600"))
            .mount(&server)
            .await;
        let http = client();
        let req = http.get(server.uri()).build().expect("request");
        let (result, _) = execute(
            &http,
            &fast_policy(),
            &RateLimitGate::new(),
            req,
            "golem",
            "get_plugin",
        )
        .await;
        assert_eq!(
            result.expect("response").status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    });

    let line = text
        .lines()
        .find(|line| line.contains("not retrying request"))
        .unwrap_or_else(|| panic!("no give-up event in {text:?}"));
    assert!(line.contains("WaitExceedsCap"), "{line}");
    assert!(line.contains("status=429"), "{line}");
}
