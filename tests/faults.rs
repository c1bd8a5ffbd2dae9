//! The fault matrix: every fault against every client, for a read (GET) and a create (POST),
//! asserting the typed outcome and how many requests reached the server. A create reaches the
//! server once in every fault except 429 and refused connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cloud_plugin_sdk::confluent::{Cloud, ConfluentClient, NewPlugin as NewConfluentPlugin};
use cloud_plugin_sdk::golem::{GolemClient, NewPlugin};
use cloud_plugin_sdk::{Error, ErrorKind, retry::RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "fault-token-0123456789abcdef";
const ACCOUNT: &str = "3d07c219-0a88-45be-9cfc-91e9d095a1e9";
const PLUGIN: &str = "497f6eca-6276-4993-bfeb-53cbbbba6f08";
const REQUEST_TIMEOUT: Duration = Duration::from_millis(300);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Api {
    Golem,
    Confluent,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Call {
    Read,
    Create,
}

fn policy() -> RetryPolicy {
    RetryPolicy::standard()
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(20))
        .max_wait(Duration::from_secs(5))
}

/// A valid success body for `call` on `api`. Every fault server answers success with 200, also
/// where the API documents 202 (Confluent's create): any 2xx with a valid body must decode.
fn success_body(api: Api, _call: Call) -> String {
    match api {
        Api::Golem => format!(
            r#"{{"id":"{PLUGIN}","accountId":"{ACCOUNT}","name":"n","version":"1","description":"","icon":"","homepage":"","spec":{{"type":"OplogProcessor","componentId":"616ccd92-d666-4180-8349-8d125b269fac","componentRevision":1}}}}"#
        ),
        Api::Confluent => r#"{"api_version":"ccpm/v1","kind":"CustomConnectPlugin","id":"ccp-1","metadata":{"self":"https://api.confluent.cloud/ccpm/v1/plugins/ccp-1"},"spec":{"cloud":"AWS","display_name":"n","environment":{"id":"env-1"}}}"#.to_string(),
    }
}

async fn run(api: Api, call: Call, base_url: &str) -> Result<(), Error> {
    match api {
        Api::Golem => {
            let client = GolemClient::builder()
                .base_url(base_url)
                .token(TOKEN)
                .timeout(Some(REQUEST_TIMEOUT))
                .retry_policy(policy())
                .build()?;
            match call {
                Call::Read => client.plugins().get(PLUGIN.parse()?).await.map(|_| ()),
                Call::Create => {
                    let account: cloud_plugin_sdk::golem::AccountId = ACCOUNT.parse()?;
                    let new = NewPlugin::oplog_processor("n", "1", uuid::Uuid::nil(), 1);
                    account_create(&client, account, &new).await
                }
            }
        }
        Api::Confluent => {
            let client = ConfluentClient::builder()
                .base_url(base_url)
                .api_key("FAULTKEY", TOKEN)
                .timeout(Some(REQUEST_TIMEOUT))
                .retry_policy(policy())
                .build()?;
            let plugins = client.environment("env-1").plugins();
            match call {
                Call::Read => plugins.get("ccp-1").await.map(|_| ()),
                Call::Create => plugins
                    .create(&NewConfluentPlugin::new("n", Cloud::Aws))
                    .await
                    .map(|_| ()),
            }
        }
    }
}

async fn account_create(
    client: &GolemClient,
    account: cloud_plugin_sdk::golem::AccountId,
    new: &NewPlugin,
) -> Result<(), Error> {
    client
        .account(account)
        .plugins()
        .create(new)
        .await
        .map(|_| ())
}

const APIS: &[Api] = &[Api::Golem, Api::Confluent];
const CALLS: &[Call] = &[Call::Read, Call::Create];

/// Mounts `first` for the first `times` requests, then the success body.
async fn sequence(api: Api, call: Call, first: ResponseTemplate, times: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(first)
        .up_to_n_times(times)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(success_body(api, call).into_bytes(), "application/json"),
        )
        .mount(&server)
        .await;
    server
}

async fn count(server: &MockServer) -> usize {
    server.received_requests().await.unwrap_or_default().len()
}

#[tokio::test]
async fn rate_limits_in_every_retry_after_form() {
    let soon = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(1));
    let past = "Sun, 06 Nov 1994 08:49:37 GMT".to_string();
    // (Retry-After value, expect success after one retry, minimum wait)
    let forms: Vec<(String, bool, Duration)> = vec![
        ("1".into(), true, Duration::from_millis(900)),
        (soon, true, Duration::ZERO),
        (past, true, Duration::ZERO),
        ("soon-ish".into(), true, Duration::ZERO),
        ("99999999999999999999".into(), false, Duration::ZERO),
    ];
    for &api in APIS {
        for &call in CALLS {
            for (value, succeeds, min_wait) in &forms {
                let server = sequence(
                    api,
                    call,
                    ResponseTemplate::new(429).insert_header("retry-after", value.as_str()),
                    1,
                )
                .await;
                let started = Instant::now();
                let result = run(api, call, &server.uri()).await;
                let elapsed = started.elapsed();
                let label = format!("{api:?} {call:?} Retry-After: {value}");
                if *succeeds {
                    assert!(result.is_ok(), "{label}: {result:?}");
                    // A 429 was not processed, so even a create is sent again.
                    assert_eq!(count(&server).await, 2, "{label}");
                    assert!(elapsed >= *min_wait, "{label}: {elapsed:?}");
                } else {
                    let err = result.unwrap_err();
                    assert_eq!(err.kind(), ErrorKind::RateLimited, "{label}");
                    assert_eq!(count(&server).await, 1, "{label}");
                    // Refused at once, not slept on.
                    assert!(elapsed < Duration::from_secs(10), "{label}: {elapsed:?}");
                }
                // No wait beyond the one asked for (one second at most), with room for a loaded
                // machine; the cap would be a minute.
                assert!(elapsed < Duration::from_secs(10), "{label}: {elapsed:?}");
            }
        }
    }
}

#[tokio::test]
async fn server_errors_with_html_bodies() {
    for &api in APIS {
        for &call in CALLS {
            for status in [500u16, 502, 503, 504] {
                let html = format!("<html><body><h1>{status} error</h1></body></html>");
                let server = MockServer::start().await;
                Mock::given(any())
                    .respond_with(
                        ResponseTemplate::new(status)
                            .set_body_raw(html.clone().into_bytes(), "text/html"),
                    )
                    .mount(&server)
                    .await;
                let err = run(api, call, &server.uri()).await.unwrap_err();
                let label = format!("{api:?} {call:?} {status}");
                assert_eq!(err.kind(), ErrorKind::ServerError, "{label}");
                assert_eq!(err.status().map(|s| s.as_u16()), Some(status), "{label}");
                assert_eq!(err.raw_body(), Some(html.as_str()), "{label}");
                let expected = if call == Call::Create { 1 } else { 4 };
                assert_eq!(count(&server).await, expected, "{label}");
                assert_eq!(err.attempts() as usize, expected, "{label}");
            }
        }
    }
}

/// What a raw TCP server does with each connection.
#[derive(Debug, Clone, Copy)]
enum RawFault {
    /// Sends headers and half a body, then closes.
    ResetMidBody,
    /// Reads the request and closes without a byte.
    CloseWithoutAnswer,
}

async fn raw_server(fault: RawFault) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut read = 0;
                // Read the head; bodies here are small and arrive with it or right after.
                loop {
                    match socket.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                    if buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                seen.fetch_add(1, Ordering::SeqCst);
                if let RawFault::ResetMidBody = fault {
                    let _ = socket
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"id\":\"497f6eca")
                        .await;
                    let _ = socket.flush().await;
                }
                drop(socket);
            });
        }
    });
    (url, requests)
}

#[tokio::test]
async fn broken_connections() {
    for &api in APIS {
        for &call in CALLS {
            let (url, requests) = raw_server(RawFault::ResetMidBody).await;
            let err = run(api, call, &url).await.unwrap_err();
            let label = format!("{api:?} {call:?} reset mid-body");
            assert_eq!(err.kind(), ErrorKind::Transport, "{label}: {err}");
            // The status line arrived, so the request was processed: a read is sent again, a
            // create never.
            let expected = if call == Call::Create { 1 } else { 4 };
            assert_eq!(requests.load(Ordering::SeqCst), expected, "{label}");
            assert_eq!(err.attempts(), expected as u32, "{label}: {err}");

            let (url, requests) = raw_server(RawFault::CloseWithoutAnswer).await;
            let err = run(api, call, &url).await.unwrap_err();
            let label = format!("{api:?} {call:?} closed without answer");
            assert_eq!(err.kind(), ErrorKind::Transport, "{label}: {err}");
            let expected = if call == Call::Create { 1 } else { 4 };
            assert_eq!(requests.load(Ordering::SeqCst), expected, "{label}");
        }
    }
}

#[tokio::test]
async fn slower_than_the_timeout() {
    for &api in APIS {
        for &call in CALLS {
            let server = MockServer::start().await;
            Mock::given(any())
                .respond_with(
                    ResponseTemplate::new(200)
                        .set_body_raw(success_body(api, call).into_bytes(), "application/json")
                        .set_delay(Duration::from_secs(2)),
                )
                .mount(&server)
                .await;
            let started = Instant::now();
            let err = run(api, call, &server.uri()).await.unwrap_err();
            let label = format!("{api:?} {call:?} slow");
            assert_eq!(err.kind(), ErrorKind::Timeout, "{label}: {err}");
            assert!(err.is_timeout());
            let expected = if call == Call::Create { 1 } else { 4 };
            assert_eq!(count(&server).await, expected, "{label}");
            // Four attempts cut off by the 300 ms timeout, not four answers of 2 s each.
            assert!(
                started.elapsed() < Duration::from_secs(6),
                "{label}: {:?}",
                started.elapsed()
            );
        }
    }
}

#[tokio::test]
async fn malformed_success_responses() {
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "truncated JSON",
            br#"{"id":"497f6eca-6276-4993-bfeb-53cbbbba6f08","name":"#,
            "application/json",
        ),
        ("invalid JSON", b"{not json}", "application/json"),
        ("empty body", b"", "application/json"),
        ("HTML", b"<html>maintenance</html>", "text/html"),
    ];
    for &api in APIS {
        for &call in CALLS {
            for (name, body, content_type) in cases {
                let server = MockServer::start().await;
                Mock::given(any())
                    .respond_with(
                        ResponseTemplate::new(200)
                            .set_body_raw(body.to_vec(), content_type)
                            .insert_header("x-request-id", "bad-body"),
                    )
                    .mount(&server)
                    .await;
                let err = run(api, call, &server.uri()).await.unwrap_err();
                let label = format!("{api:?} {call:?} {name}");
                assert_eq!(err.kind(), ErrorKind::Decode, "{label}: {err}");
                assert_eq!(err.request_id(), Some("bad-body"), "{label}");
                assert_eq!(count(&server).await, 1, "{label}");
            }
        }
    }
}

#[tokio::test]
async fn tolerant_decoding_of_content_type_extra_fields_and_unknown_values() {
    for &api in APIS {
        for &call in CALLS {
            let mut body: serde_json::Value =
                serde_json::from_str(&success_body(api, call)).unwrap();
            body["brandNewField"] = serde_json::json!({"nested": [1, 2, 3]});
            match api {
                Api::Golem => body["spec"] = serde_json::json!({"type": "FutureKind", "x": 1}),
                Api::Confluent => {
                    body["spec"]["cloud"] = serde_json::json!("ORACLE");
                    body["spec"]["new_setting"] = serde_json::json!(true);
                    body["metadata"] = serde_json::Value::Null;
                }
            }
            let server = MockServer::start().await;
            Mock::given(any())
                .respond_with(
                    ResponseTemplate::new(200)
                        .set_body_raw(body.to_string().into_bytes(), "text/plain"),
                )
                .mount(&server)
                .await;
            let result = run(api, call, &server.uri()).await;
            assert!(result.is_ok(), "{api:?} {call:?}: {result:?}");
            assert_eq!(count(&server).await, 1);
        }
    }
}

#[tokio::test]
async fn plain_text_401() {
    for &api in APIS {
        for &call in CALLS {
            let server = MockServer::start().await;
            Mock::given(any())
                .respond_with(
                    ResponseTemplate::new(401)
                        .set_body_raw(b"authorization error".to_vec(), "text/plain"),
                )
                .mount(&server)
                .await;
            let err = run(api, call, &server.uri()).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unauthorized);
            assert_eq!(err.raw_body(), Some("authorization error"));
            assert!(!err.to_string().contains(TOKEN));
            assert_eq!(count(&server).await, 1);
        }
    }
}

#[tokio::test]
async fn huge_error_bodies_are_read_only_up_to_the_bound() {
    let huge = "x".repeat(8 * 1024 * 1024);
    for &api in APIS {
        for &call in CALLS {
            let server = MockServer::start().await;
            Mock::given(any())
                .respond_with(
                    ResponseTemplate::new(400)
                        .set_body_raw(huge.clone().into_bytes(), "text/plain"),
                )
                .mount(&server)
                .await;
            let err = run(api, call, &server.uri()).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadRequest);
            let raw = err.raw_body().unwrap();
            assert_eq!(raw.len(), cloud_plugin_sdk::MAX_ERROR_BODY_BYTES);
            assert!(err.to_string().len() < 1024, "Display stays short");
            assert_eq!(count(&server).await, 1);
        }
    }
}

#[tokio::test]
async fn refused_connections_are_retried_even_for_creates() {
    for &api in APIS {
        for &call in CALLS {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            drop(listener);
            let err = run(api, call, &url).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Transport, "{api:?} {call:?}");
            assert_eq!(err.attempts(), 4, "{api:?} {call:?}");
        }
    }
}

/// Answers the first request 429 with `Retry-After: 1000000000`, the second (the probe) after
/// `probe_delay`, every later one at once, all with the success body; records arrival times.
struct AbsurdOnce {
    success: String,
    probe_delay: Duration,
    arrivals: Arc<std::sync::Mutex<Vec<Instant>>>,
}

impl wiremock::Respond for AbsurdOnce {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let mut arrivals = self.arrivals.lock().expect("arrivals");
        arrivals.push(Instant::now());
        match arrivals.len() {
            1 => ResponseTemplate::new(429).insert_header("retry-after", "1000000000"),
            n => ResponseTemplate::new(200)
                .set_body_raw(self.success.clone().into_bytes(), "application/json")
                .set_delay(if n == 2 {
                    self.probe_delay
                } else {
                    Duration::ZERO
                }),
        }
    }
}

/// One client of either API, built once so that its calls share its rate-limit gate.
enum Client {
    Golem(GolemClient),
    Confluent(ConfluentClient),
}

impl Client {
    fn build(api: Api, base_url: &str, policy: RetryPolicy) -> Client {
        match api {
            Api::Golem => Client::Golem(
                GolemClient::builder()
                    .base_url(base_url)
                    .token(TOKEN)
                    .retry_policy(policy)
                    .build()
                    .expect("client"),
            ),
            Api::Confluent => Client::Confluent(
                ConfluentClient::builder()
                    .base_url(base_url)
                    .api_key("FAULTKEY", TOKEN)
                    .retry_policy(policy)
                    .build()
                    .expect("client"),
            ),
        }
    }

    /// Gets the plugin.
    async fn read(&self) -> Result<(), Error> {
        match self {
            Client::Golem(golem) => golem.plugins().get(PLUGIN.parse()?).await.map(drop),
            Client::Confluent(confluent) => confluent
                .environment("env-1")
                .plugins()
                .get("ccp-1")
                .await
                .map(drop),
        }
    }
}

#[tokio::test]
async fn an_absurd_retry_after_locks_a_client_out_for_at_most_its_max_wait() {
    const MAX_WAIT: Duration = Duration::from_secs(1);
    const PROBE_DELAY: Duration = Duration::from_millis(300);
    for &api in APIS {
        let server = MockServer::start().await;
        let arrivals = Arc::new(std::sync::Mutex::new(Vec::new()));
        Mock::given(any())
            .respond_with(AbsurdOnce {
                success: success_body(api, Call::Read),
                probe_delay: PROBE_DELAY,
                arrivals: Arc::clone(&arrivals),
            })
            .mount(&server)
            .await;
        let policy = RetryPolicy::standard()
            .max_wait(MAX_WAIT)
            .deadline(Some(Duration::from_secs(20)));
        let client = Client::build(api, &server.uri(), policy);
        let read = || client.read();

        // The absurd wait is beyond the cap: the call that was told fails at once.
        let started = Instant::now();
        let err = read().await.expect_err("rate limited");
        assert_eq!(err.kind(), ErrorKind::RateLimited, "{api:?}");
        assert!(started.elapsed() < Duration::from_secs(1), "{api:?}");

        // Three calls right after: the client is held for the cap, not for 31 years; then one
        // request probes, and the others go only once it has been admitted.
        let (a, b, c) = tokio::join!(read(), read(), read());
        assert!(
            a.is_ok() && b.is_ok() && c.is_ok(),
            "{api:?}: {a:?} {b:?} {c:?}"
        );
        let arrivals = arrivals.lock().expect("arrivals").clone();
        assert_eq!(arrivals.len(), 4, "{api:?}");
        let probe_after = arrivals[1].duration_since(arrivals[0]);
        assert!(
            probe_after + Duration::from_millis(50) >= MAX_WAIT,
            "{api:?}: probed {probe_after:?} after the 429"
        );
        assert!(
            probe_after < MAX_WAIT + Duration::from_secs(4),
            "{api:?}: probed {probe_after:?} after the 429"
        );
        for later in &arrivals[2..] {
            let after_probe = later.duration_since(arrivals[1]);
            assert!(
                after_probe + Duration::from_millis(20) >= PROBE_DELAY,
                "{api:?}: sent {after_probe:?} after the probe, before its answer"
            );
        }
    }
}
