//! A call that gets no answer says why in its one line: the server's host and port (never the
//! path or query), what broke (refused, DNS, TLS, a connection cut off) and, for a timeout,
//! which one. The cause stays reachable through `source()`.

use std::error::Error as _;
use std::net::SocketAddr;
use std::time::Duration;

use cloud_plugin_sdk::confluent::ConfluentClient;
use cloud_plugin_sdk::golem::{AccountId, GolemClient, PluginId};
use cloud_plugin_sdk::retry::RetryPolicy;
use cloud_plugin_sdk::{Error, ErrorKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const ACCOUNT: &str = "3d07c219-0a88-45be-9cfc-91e9d095a1e9";
const PLUGIN: &str = "497f6eca-6276-4993-bfeb-53cbbbba6f08";

fn golem(base_url: &str, policy: RetryPolicy) -> GolemClient {
    GolemClient::builder()
        .base_url(base_url)
        .token("transport-test-token")
        .retry_policy(policy)
        .build()
        .unwrap()
}

/// Backoff short enough that four attempts take no time worth waiting for.
fn quick_retries() -> RetryPolicy {
    RetryPolicy::standard()
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(2))
}

fn plugin_id() -> PluginId {
    PLUGIN.parse().unwrap()
}

/// A loopback address nothing listens on.
fn refused_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Every line of the error and of its causes, for checks on what must never show.
fn everything_shown(err: &Error) -> String {
    let mut shown = format!("{err} {err:?}");
    let mut source = err.source();
    while let Some(cause) = source {
        shown.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    shown
}

/// A loopback server that reads each request head, then lets `answer` finish the connection.
async fn raw_server<F, Fut>(answer: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let answer = std::sync::Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(read) => head.extend_from_slice(&buffer[..read]),
                    }
                }
                answer(socket).await;
            });
        }
    });
    address
}

#[tokio::test]
async fn a_refused_connection_names_the_server_and_the_cause() {
    let address = refused_address();
    let client = golem(&format!("http://{address}"), quick_retries());
    let account: AccountId = ACCOUNT.parse().unwrap();
    let err = client.account(account).plugins().list().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(err.attempts(), 4);
    assert_eq!(
        err.to_string(),
        format!(
            "golem list_account_plugins: cannot connect to {address}: connection refused (4 attempts)"
        )
    );
    match &err {
        Error::Transport {
            server, timeout, ..
        } => {
            assert_eq!(server.as_deref(), Some(&*address.to_string()));
            assert!(!timeout);
        }
        other => panic!("{other:?}"),
    }
    // The chain is kept: reqwest's error, down to the operating system's.
    let source = err.source().expect("a source");
    assert!(
        source.downcast_ref::<reqwest::Error>().is_some(),
        "{source:?}"
    );
    assert!(!everything_shown(&err).contains(ACCOUNT), "the path leaked");

    // Confluent's line has the same shape, and its query (the environment) stays out of it.
    let confluent = ConfluentClient::builder()
        .base_url(format!("http://{address}"))
        .api_key("key", "secret")
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = confluent
        .environment("env-secretive")
        .plugins()
        .get("ccp-1")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "confluent get_ccpm_v1_custom_connect_plugin: cannot connect to {address}: connection refused"
        )
    );
    let shown = everything_shown(&err);
    assert!(!shown.contains("env-secretive"), "{shown}");
    assert!(!shown.contains("ccp-1"), "{shown}");
}

/// A resolver that knows no names, so the lookup fails without leaving the machine.
struct NoSuchHost;

impl reqwest::dns::Resolve for NoSuchHost {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let message = format!("no such host: {}", name.as_str());
        Box::pin(async move { Err(std::io::Error::other(message).into()) })
    }
}

#[tokio::test]
async fn a_failed_dns_lookup_says_so() {
    let http = reqwest::Client::builder()
        .dns_resolver(NoSuchHost)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let client = GolemClient::builder()
        .base_url("https://plugins.example.test")
        .token("transport-test-token")
        .http_client(http)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client.plugins().get(plugin_id()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(
        err.to_string(),
        "golem get_plugin_by_id: cannot connect to plugins.example.test:443: \
         DNS lookup failed: no such host: plugins.example.test"
    );
    assert!(!everything_shown(&err).contains(PLUGIN));
}

#[tokio::test]
async fn a_failed_tls_handshake_says_so() {
    // A plain-HTTP server where the client expects TLS: it answers the TLS client hello (which
    // is not an HTTP request head) with an HTTP error.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut hello = [0u8; 1024];
                let _ = socket.read(&mut hello).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                    .await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            });
        }
    });
    let client = golem(&format!("https://{address}"), RetryPolicy::none());
    let err = client.plugins().get(plugin_id()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    let line = err.to_string();
    let expected =
        format!("golem get_plugin_by_id: cannot connect to {address}: TLS handshake failed: ");
    assert!(line.starts_with(&expected), "{line}");
    assert!(
        line.len() > expected.len(),
        "the TLS library's reason is missing: {line}"
    );
}

#[tokio::test]
async fn a_request_timeout_names_the_limit() {
    // Accepts and reads the request, then never answers.
    let address = raw_server(|socket| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(socket);
    })
    .await;
    let client = GolemClient::builder()
        .base_url(format!("http://{address}"))
        .token("transport-test-token")
        .timeout(Some(Duration::from_millis(300)))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client.plugins().get(plugin_id()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.is_timeout());
    assert_eq!(
        err.to_string(),
        format!(
            "golem get_plugin_by_id: request to {address} exceeded the request timeout of 300ms"
        )
    );
}

#[tokio::test]
async fn a_connect_timeout_names_the_limit() {
    // A listener with a backlog of one that never accepts: once its queue holds a connection
    // the kernel drops further handshakes, so connecting hangs.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let address = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::TcpStream::connect(address),
        )
        .await
        {
            Ok(Ok(stream)) => fillers.push(stream),
            // The queue is full: connecting now hangs.
            Ok(Err(_)) | Err(_) => break,
        }
    }
    let client = GolemClient::builder()
        .base_url(format!("http://{address}"))
        .token("transport-test-token")
        .connect_timeout(Some(Duration::from_millis(200)))
        .timeout(Some(Duration::from_secs(20)))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client.plugins().get(plugin_id()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "golem get_plugin_by_id: cannot connect to {address}: \
             no connection within the connect timeout of 200ms"
        )
    );
    drop((listener, fillers));
}

#[tokio::test]
async fn an_answer_cut_off_says_so() {
    // Announces 100 bytes of body, sends 3, and closes.
    let address = raw_server(|mut socket| async move {
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"v")
            .await;
    })
    .await;
    let client = golem(&format!("http://{address}"), RetryPolicy::none());
    let err = client.plugins().get(plugin_id()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    let line = err.to_string();
    let expected = format!("golem get_plugin_by_id: the answer from {address} broke off: ");
    assert!(line.starts_with(&expected), "{line}");
    assert!(line.len() > expected.len(), "no reason given: {line}");
}
