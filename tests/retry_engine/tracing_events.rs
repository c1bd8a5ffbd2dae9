//! Retries are observable through `tracing`, without leaking headers, URLs or bodies.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::common::{client, fast_policy, request_count};
use cloud_plugin_sdk::retry::{RateLimitGate, execute};
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

/// A subscriber capturing the retry engine's debug events of the calling thread, installed
/// until the returned guard is dropped. The test runs on a current-thread runtime, so a
/// thread-local default sees every event.
fn capture() -> (Captured, Installed) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("cloud_plugin_sdk::retry=debug"))
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    // While a single subscriber exists, tracing decides whether a callsite is wanted by asking
    // the default subscriber of the thread that reaches it first; another test's thread, with
    // none, would switch the engine's events off for good. A second subscriber, kept as long
    // as the first, makes it ask every live subscriber instead.
    let other = tracing::Dispatch::new(tracing_subscriber::registry());
    let guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();
    (
        captured,
        Installed {
            _guard: guard,
            _other: other,
        },
    )
}

/// Keeps a captured subscriber installed.
struct Installed {
    _guard: tracing::subscriber::DefaultGuard,
    _other: tracing::Dispatch,
}

#[tokio::test]
async fn retry_events_carry_the_facts_and_no_secrets() {
    let (captured, _installed) = capture();

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
    assert_eq!(request_count(&server).await, 2);

    let text = captured.text();
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

#[tokio::test]
async fn give_up_events_name_the_reason() {
    let (captured, _installed) = capture();

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "600"))
        .mount(&server)
        .await;
    let http = client();
    let req = http.get(server.uri()).build().expect("request");
    let _ = execute(
        &http,
        &fast_policy(),
        &RateLimitGate::new(),
        req,
        "golem",
        "get_plugin",
    )
    .await;

    let text = captured.text();
    let line = text
        .lines()
        .find(|line| line.contains("not retrying request"))
        .unwrap_or_else(|| panic!("no give-up event in {text:?}"));
    assert!(line.contains("WaitExceedsCap"), "{line}");
    assert!(line.contains("status=429"), "{line}");
}
