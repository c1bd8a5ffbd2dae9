//! Hostile arguments and hostile servers: every path parameter stays one segment of its path,
//! redirects are reported and never followed, success bodies are bounded, and a call's deadline
//! holds whatever its attempt is doing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cloud_plugin_sdk::confluent::{Archive, Cloud, ConfluentClient, ConnectorType, NewPlugin};
use cloud_plugin_sdk::golem::{self, GolemClient};
use cloud_plugin_sdk::retry::RetryPolicy;
use cloud_plugin_sdk::{DEFAULT_MAX_RESPONSE_BYTES, Error, ErrorKind};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "HOSTILEKEY123456";
const SECRET: &str = "hostile-secret-0123456789";
const TOKEN: &str = "hostile-golem-token-0123456789";
const ENV: &str = "env-1";

fn confluent(base_url: &str) -> ConfluentClient {
    ConfluentClient::builder()
        .base_url(base_url)
        .api_key(KEY, SECRET)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

fn plugin_body() -> serde_json::Value {
    json!({
        "api_version": "ccpm/v1",
        "kind": "CustomConnectPlugin",
        "id": "ccp-1",
        "spec": {"cloud": "GCP", "display_name": "n", "environment": {"id": ENV}}
    })
}

async fn paths_received(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|request| request.url.path().to_string())
        .collect()
}

#[tokio::test]
async fn hostile_ids_are_percent_encoded_into_one_path_segment() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let client = confluent(&server.uri());
    let env = client.environment(ENV);
    let cases = [
        ("a/b", "a%2Fb"),
        ("a?b=c", "a%3Fb=c"),
        ("a#frag", "a%23frag"),
        ("100%", "100%25"),
        ("with space", "with%20space"),
        ("tab\tnew\nline", "tab%09new%0Aline"),
        ("ünï", "%C3%BCn%C3%AF"),
        ("...", "..."),
        (".hidden", ".hidden"),
        ("%2e%2e", "%252e%252e"),
    ];
    for (value, encoded) in cases {
        let _ = env.plugins().get(value).await;
        let _ = env.plugins().delete(value).await;
        let _ = env.plugin_versions(value).list().await;
        let _ = env.plugin_versions("ccp-1").get(value).await;
        let _ = env.plugin_versions("ccp-1").delete(value).await;
        let expected = [
            format!("/ccpm/v1/plugins/{encoded}"),
            format!("/ccpm/v1/plugins/{encoded}"),
            format!("/ccpm/v1/plugins/{encoded}/versions"),
            format!("/ccpm/v1/plugins/ccp-1/versions/{encoded}"),
            format!("/ccpm/v1/plugins/ccp-1/versions/{encoded}"),
        ];
        let seen = paths_received(&server).await;
        assert_eq!(seen[seen.len() - 5..], expected, "{value:?}");
    }
}

#[tokio::test]
async fn ids_that_would_leave_their_segment_are_refused_before_sending() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let client = confluent(&server.uri());
    let env = client.environment(ENV);
    for value in ["", " ", ".", "..", "a\\b", "..\\..\\..\\..\\escaped", "\\"] {
        let check = |result: Result<(), Error>, field: &str| {
            let err = result.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{value:?}: {err}");
            assert!(
                err.to_string().contains(&format!("`{field}`")),
                "{value:?}: {err}"
            );
        };
        check(env.plugins().get(value).await.map(drop), "plugin_id");
        check(env.plugins().delete(value).await.map(drop), "plugin_id");
        check(
            env.plugins()
                .update(value, &cloud_plugin_sdk::confluent::PluginUpdate::new())
                .await
                .map(drop),
            "plugin_id",
        );
        check(
            env.plugin_versions(value).list().await.map(drop),
            "plugin_id",
        );
        check(
            env.plugin_versions("ccp-1").get(value).await.map(drop),
            "version_id",
        );
        check(
            env.plugin_versions("ccp-1").delete(value).await.map(drop),
            "version_id",
        );
        check(
            client
                .environment(value)
                .plugins()
                .get("ccp-1")
                .await
                .map(drop),
            "environment",
        );
    }
    assert!(paths_received(&server).await.is_empty(), "nothing was sent");
}

#[tokio::test]
async fn redirects_are_reported_with_their_location_and_never_followed() {
    let target = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(plugin_body()))
        .mount(&target)
        .await;
    for status in [301u16, 302, 303, 307, 308] {
        let server = MockServer::start().await;
        let location = format!("{}/elsewhere", target.uri());
        Mock::given(any())
            .respond_with(
                ResponseTemplate::new(status).insert_header("location", location.as_str()),
            )
            .mount(&server)
            .await;
        let client = confluent(&server.uri());
        let plugins = client.environment(ENV).plugins();
        for result in [
            plugins
                .create(&NewPlugin::new("n", Cloud::Gcp))
                .await
                .map(drop),
            plugins.get("ccp-1").await.map(drop),
        ] {
            let err = result.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UnexpectedStatus, "{status}: {err}");
            assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
            assert_eq!(
                err.api_error().and_then(|api| api.location()),
                Some(location.as_str())
            );
        }
        let golem = GolemClient::builder()
            .base_url(server.uri())
            .token(TOKEN)
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        let id: golem::PluginId = "497f6eca-6276-4993-bfeb-53cbbbba6f08".parse().unwrap();
        let err = golem.plugins().get(id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedStatus, "{status}: {err}");
    }
    assert!(
        paths_received(&target).await.is_empty(),
        "nothing reached the redirect target"
    );
}

#[tokio::test]
async fn a_storage_upload_answered_with_a_redirect_fails_without_following_it() {
    let target = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&target)
        .await;
    let server = MockServer::start().await;
    let upload_url = format!("{}/bucket/archive.zip?signature=s3cr3t", server.uri());
    Mock::given(method("POST"))
        .and(path("/ccpm/v1/presigned-upload-url"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "api_version": "ccpm/v1",
            "kind": "PresignedUrl",
            "cloud": "GCP",
            "content_format": "ZIP",
            "environment": {"id": ENV},
            "upload_id": "u-1",
            "upload_url": upload_url,
        })))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/bucket/archive.zip"))
        .respond_with(
            ResponseTemplate::new(307).insert_header("location", format!("{}/steal", target.uri())),
        )
        .mount(&server)
        .await;
    let client = confluent(&server.uri());
    let archive = Archive::from_bytes("archive.zip", b"PK\x03\x04 an archive".to_vec()).unwrap();
    let err = client
        .environment(ENV)
        .plugin_versions("ccp-1")
        .upload("1.0.0", archive)
        .cloud(Cloud::Gcp)
        .connector_class("com.example.Sink", ConnectorType::Sink)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(307), "{err}");
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    assert!(paths_received(&target).await.is_empty());
}

/// A raw server that answers every request with `head` and then writes `chunk` every `pause`
/// until the client goes away. Counts the bytes it managed to write.
async fn raw_server(
    head: &'static [u8],
    chunk: &'static [u8],
    pause: Duration,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let written = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&written);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(serve(socket, head, chunk, pause, counter));
        }
    });
    (url, written)
}

async fn serve(
    mut socket: TcpStream,
    head: &'static [u8],
    chunk: &'static [u8],
    pause: Duration,
    written: Arc<AtomicUsize>,
) {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    if socket.write_all(head).await.is_err() {
        return;
    }
    loop {
        if socket.write_all(chunk).await.is_err() {
            return;
        }
        written.fetch_add(chunk.len(), Ordering::SeqCst);
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
}

fn bounded_client(base_url: &str, limit: u64) -> ConfluentClient {
    ConfluentClient::builder()
        .base_url(base_url)
        .api_key(KEY, SECRET)
        .max_response_bytes(limit)
        .retry_policy(RetryPolicy::standard().initial_backoff(Duration::from_millis(1)))
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_announced_body_over_the_limit_fails_before_it_is_read() {
    let (url, written) = raw_server(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2147483648\r\n\r\n",
        &[b' '; 65536],
        Duration::from_millis(50),
    )
    .await;
    let started = Instant::now();
    let err = bounded_client(&url, 4096)
        .environment(ENV)
        .plugins()
        .get("ccp-1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ResponseTooLarge, "{err}");
    assert!(err.to_string().contains("4096 bytes"), "{err}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(200));
    assert!(started.elapsed() < Duration::from_secs(10));
    // Not retried: the answer was complete in what matters.
    assert_eq!(err.attempts(), 1, "{err}");
    assert!(written.load(Ordering::SeqCst) < 16 << 20);
}

#[tokio::test]
async fn an_unannounced_body_stops_at_the_limit() {
    // Chunked: 64 KiB chunks (0x10000 bytes), as fast as the client reads them, forever.
    let chunk: &'static [u8] = format!("10000\r\n{}\r\n", " ".repeat(0x10000))
        .leak()
        .as_bytes();
    let (url, written) = raw_server(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        chunk,
        Duration::ZERO,
    )
    .await;
    let err = bounded_client(&url, 1 << 20)
        .environment(ENV)
        .plugins()
        .get("ccp-1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ResponseTooLarge, "{err}");
    assert!(
        err.to_string().contains(&format!("{} bytes", 1 << 20)),
        "{err}"
    );
    // The client stopped reading soon after the limit (socket buffers hold a few MiB).
    assert!(
        written.load(Ordering::SeqCst) < 64 << 20,
        "{}",
        written.load(Ordering::SeqCst)
    );
    assert_eq!(DEFAULT_MAX_RESPONSE_BYTES, 32 << 20);
}

#[tokio::test]
async fn the_deadline_bounds_an_attempt_whose_headers_drip() {
    // One header byte every 50 ms: the answer never completes.
    let (url, _) = raw_server(b"HTTP/1.1 200 OK\r\n", b"x", Duration::from_millis(50)).await;
    let client = ConfluentClient::builder()
        .base_url(url)
        .api_key(KEY, SECRET)
        .timeout(Some(Duration::from_secs(30)))
        .retry_policy(RetryPolicy::standard().deadline(Some(Duration::from_secs(1))))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .environment(ENV)
        .plugins()
        .get("ccp-1")
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.to_string().contains("deadline"), "{err}");
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    // Far below the 30 s per-request timeout the attempt alone would have been allowed.
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[tokio::test]
async fn the_deadline_bounds_a_body_that_drips() {
    let (url, _) = raw_server(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n",
        b" ",
        Duration::from_millis(50),
    )
    .await;
    let golem = GolemClient::builder()
        .base_url(url)
        .token(TOKEN)
        .timeout(Some(Duration::from_secs(30)))
        .retry_policy(RetryPolicy::standard().deadline(Some(Duration::from_secs(1))))
        .build()
        .unwrap();
    let id: golem::PluginId = "497f6eca-6276-4993-bfeb-53cbbbba6f08".parse().unwrap();
    let started = Instant::now();
    let err = golem.plugins().get(id).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[tokio::test]
async fn oversized_golem_inputs_are_refused_before_sending() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let golem = GolemClient::builder()
        .base_url(server.uri())
        .token(TOKEN)
        .build()
        .unwrap();
    let account: golem::AccountId = "3d07c219-0a88-45be-9cfc-91e9d095a1e9".parse().unwrap();
    let component: golem::ComponentId = "616ccd92-d666-4180-8349-8d125b269fac".parse().unwrap();
    let megabyte = "x".repeat(1 << 20);
    let base = golem::NewPlugin::oplog_processor("audit", "1.0.0", component, 1);
    for (plugin, field) in [
        (
            golem::NewPlugin::oplog_processor(megabyte.as_str(), "1.0.0", component, 1),
            "name",
        ),
        (
            golem::NewPlugin::oplog_processor("audit", megabyte.as_str(), component, 1),
            "version",
        ),
        (base.clone().description(megabyte.as_str()), "description"),
        (base.clone().homepage(megabyte.as_str()), "homepage"),
    ] {
        let err = golem
            .account(account)
            .plugins()
            .create(&plugin)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{field}: {err}");
        assert!(err.to_string().contains(&format!("`{field}`")), "{err}");
        assert!(
            err.to_string().len() < 200,
            "the value is not echoed: {err}"
        );
    }
    assert!(paths_received(&server).await.is_empty());
}
