//! Secrets never show: not in `Debug` or `Display` of clients, builders, credentials and errors,
//! and not in anything logged through `tracing` or `log` (reqwest, hyper and h2 included) while
//! calls fail, are retried or cannot connect. The captured events also show how retries name
//! their operation.
//!
//! One subscriber, global to this test binary, captures every event of every thread (the HTTP
//! stack logs from threads of its own). Every test installs it before doing anything else:
//! `tracing` caches per callsite whether a subscriber wants its events, and a callsite reached
//! before the subscriber exists could stay silent (tokio-rs/tracing#3611). Tests pick their own
//! lines out of the shared capture by values only they use.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use cloud_plugin_sdk::golem::{GolemClient, PluginId};
use cloud_plugin_sdk::{Credentials, Secret, retry::RetryPolicy};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "tok-5ecret-d0-not-print-4f9a1c7e";
const PLUGIN: &str = "497f6eca-6276-4993-bfeb-53cbbbba6f08";
const PLUGIN_JSON: &str = r#"{"id":"497f6eca-6276-4993-bfeb-53cbbbba6f08","accountId":"3d07c219-0a88-45be-9cfc-91e9d095a1e9","name":"audit","version":"1.0.0","description":"","icon":"","homepage":"","spec":{"type":"OplogProcessor","componentId":"616ccd92-d666-4180-8349-8d125b269fac","componentRevision":0}}"#;

/// Everything every subscriber layer wrote, for the whole test binary.
fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = SharedWriter(buffer.clone());
        // TRACE for every target; `log` records (reqwest) are forwarded into tracing too.
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init()
            .expect("the only subscriber of this test binary");
        buffer
    })
}

#[path = "support/log_writer.rs"]
mod log_writer;
use log_writer::SharedWriter;

fn logged() -> String {
    String::from_utf8_lossy(&log_buffer().lock().unwrap()).into_owned()
}

fn assert_hidden(what: &str, shown: &str) {
    assert!(!shown.contains(TOKEN), "{what} shows the token: {shown}");
    // Nor a recognisable piece of it.
    assert!(
        !shown.contains("5ecret-d0"),
        "{what} shows part of the token: {shown}"
    );
}

fn client(base_url: &str, retry: RetryPolicy) -> GolemClient {
    GolemClient::builder()
        .base_url(base_url)
        .token(TOKEN)
        .retry_policy(retry)
        .timeout(Some(Duration::from_secs(5)))
        .build()
        .unwrap()
}

fn plugin_id() -> PluginId {
    PLUGIN.parse().unwrap()
}

#[test]
fn credentials_and_clients_hide_the_token() {
    let _ = log_buffer();
    let secret = Secret::new(TOKEN);
    assert_eq!(secret.expose_secret(), TOKEN);
    assert_hidden("Secret Debug", &format!("{secret:?}"));
    assert_hidden("Secret Display", &secret.to_string());
    assert_hidden("Secret alternate Debug", &format!("{secret:#?}"));

    let bearer = Credentials::bearer(TOKEN);
    assert_hidden(
        "Credentials::Bearer Debug",
        &format!("{bearer:?} {bearer:#?}"),
    );
    let api_key = Credentials::api_key("KEY-ID-1", TOKEN);
    let shown = format!("{api_key:?}");
    assert_hidden("Credentials::ApiKey Debug", &shown);
    assert!(
        shown.contains("KEY-ID-1"),
        "the key id is not secret: {shown}"
    );

    let builder = GolemClient::builder()
        .base_url("http://127.0.0.1:9")
        .token(TOKEN);
    assert_hidden(
        "GolemClientBuilder Debug",
        &format!("{builder:?} {builder:#?}"),
    );
    let builder = builder.credentials(Credentials::bearer(TOKEN));
    assert_hidden("GolemClientBuilder Debug", &format!("{builder:?}"));

    let client = builder.build().unwrap();
    assert_hidden("GolemClient Debug", &format!("{client:?} {client:#?}"));
    assert_hidden(
        "Account Debug",
        &format!("{:?}", client.account(uuid::Uuid::nil())),
    );
}

#[test]
fn configuration_errors_hide_the_token() {
    let _ = log_buffer();
    // A token that cannot be sent in a header.
    let err = GolemClient::builder()
        .base_url("http://127.0.0.1:9")
        .token(format!("{TOKEN}\n{TOKEN}"))
        .build()
        .unwrap_err();
    assert_hidden("bad token error", &format!("{err} {err:?}"));

    // Credentials smuggled into the base URL are rejected without echoing the URL.
    let err = GolemClient::builder()
        .base_url(format!("https://user:{TOKEN}@golem.example.com"))
        .token(TOKEN)
        .build()
        .unwrap_err();
    assert_hidden("base URL error", &format!("{err} {err:?}"));

    // Golem takes bearer tokens only.
    let err = GolemClient::builder()
        .credentials(Credentials::api_key("KEY-ID-1", TOKEN))
        .build()
        .unwrap_err();
    assert_hidden("API-key error", &format!("{err} {err:?}"));

    let err = GolemClient::from_env_with(|name| match name {
        "GOLEM_TOKEN" => Some(TOKEN.to_string()),
        "GOLEM_BASE_URL" => Some(format!("ftp://{TOKEN}.example.com")),
        _ => None,
    })
    .unwrap_err();
    assert_hidden("from_env error", &format!("{err} {err:?}"));
}

#[tokio::test]
async fn failing_and_retried_calls_log_and_show_no_token() {
    let _ = log_buffer();
    let server = MockServer::start().await;

    // 401 with a body that does not contain the token.
    let id = plugin_id();
    Mock::given(method("DELETE"))
        .and(path(format!("/v1/plugins/{PLUGIN}")))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("www-authenticate", "Bearer realm=\"golem\"")
                .insert_header("x-request-id", "req-401")
                .set_body_raw(
                    r#"{"code":"UNAUTHORIZED","error":"authorization error"}"#,
                    "application/json",
                ),
        )
        .mount(&server)
        .await;
    let no_retry = client(&server.uri(), RetryPolicy::none());
    let err = no_retry.plugins().delete(id).await.unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert_eq!(err.request_id(), Some("req-401"));
    assert_hidden("401 error", &format!("{err} {err:?} {err:#?}"));
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        assert_hidden("401 error source", &format!("{cause} {cause:?}"));
        source = cause.source();
    }

    // 503, 503, then 200 on a GET, under the standard retry policy.
    Mock::given(method("GET"))
        .and(path(format!("/v1/plugins/{PLUGIN}")))
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("retry-after", "0")
                .insert_header("x-request-id", "req-secrets-503")
                .set_body_raw(
                    r#"{"code":"UNAVAILABLE","error":"try again"}"#,
                    "application/json",
                ),
        )
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/plugins/{PLUGIN}")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(PLUGIN_JSON, "application/json"))
        .mount(&server)
        .await;
    let retrying = client(&server.uri(), RetryPolicy::standard());
    let outcome = retrying.plugins().get(id).await;
    let gets = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .count();
    // The retry engine waited out both 503s, and nothing it logged carries the token.
    let plugin = outcome.expect("a GET is retried through two 503s");
    assert_eq!(gets, 3);
    assert_eq!(plugin.attempts(), 3);
    assert_hidden("retried response", &format!("{plugin:?}"));
    for request in server.received_requests().await.unwrap() {
        let auth = request.headers.get("authorization").unwrap();
        assert_eq!(auth.to_str().unwrap(), format!("Bearer {TOKEN}"));
    }

    // A transport error: nothing listens on the port any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let unreachable = client(&format!("http://127.0.0.1:{port}"), RetryPolicy::standard());
    let err = unreachable.plugins().get(id).await.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            cloud_plugin_sdk::ErrorKind::Transport | cloud_plugin_sdk::ErrorKind::Timeout
        ),
        "{err:?}"
    );
    assert_hidden("transport error", &format!("{err} {err:?} {err:#?}"));
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        assert_hidden("transport error source", &format!("{cause} {cause:?}"));
        source = cause.source();
    }

    let log = logged();
    // The HTTP stack's own events were captured, so the check below covers them.
    assert!(
        log.contains("reqwest::") && log.contains("hyper_util::"),
        "no HTTP-level events were captured: {log}"
    );
    // So were the retry engine's events for the two 503s.
    let retries = log
        .lines()
        .filter(|line| line.contains("retrying request") && line.contains("req-secrets-503"))
        .count();
    assert_eq!(retries, 2, "{log}");
    assert_hidden("tracing output", &log);
    assert!(
        !log.to_ascii_lowercase().contains("bearer tok"),
        "an Authorization value was logged"
    );
}

#[tokio::test]
async fn retry_events_name_the_operation_as_its_errors_do() {
    let _ = log_buffer();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/ccpm/v1/plugins/ccp-traced"))
        .respond_with(
            ResponseTemplate::new(502)
                .insert_header("retry-after", "0")
                .insert_header("x-request-id", "req-secrets-502"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ccpm/v1/plugins/ccp-traced"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let client = cloud_plugin_sdk::confluent::ConfluentClient::builder()
        .base_url(server.uri())
        .api_key("key-traced", TOKEN)
        .retry_policy(RetryPolicy::standard())
        .build()
        .unwrap();
    let err = client
        .environment("env-traced")
        .plugins()
        .get("ccp-traced")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    // The operation as progenitor's OperationInfo names it, in the error and in the retry event.
    assert!(
        err.to_string()
            .contains("get_ccpm_v1_custom_connect_plugin"),
        "{err}"
    );
    let log = logged();
    let retry_line = log
        .lines()
        .find(|line| line.contains("retrying request") && line.contains("req-secrets-502"))
        .unwrap_or_else(|| panic!("no retry event for the 502: {log}"));
    assert!(
        retry_line.contains("operation=\"get_ccpm_v1_custom_connect_plugin\""),
        "{retry_line}"
    );
    assert_hidden("tracing output", &log);
}
