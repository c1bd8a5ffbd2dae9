//! Shared helpers for the retry engine's integration tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use cloud_plugin_sdk::retry::{self, Attempts, RateLimitGate, RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A client that never goes through a proxy, whatever the environment says.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client builds")
}

/// A client whose requests time out after `timeout`.
pub fn client_with_timeout(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .expect("client builds")
}

/// A policy with near-zero backoff, so retries without a server wait are immediate.
pub fn fast_policy() -> RetryPolicy {
    RetryPolicy::standard()
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(2))
}

/// Builds a request for `method` and `url`.
pub fn request(http: &reqwest::Client, method: reqwest::Method, url: &str) -> reqwest::Request {
    http.request(method, url).build().expect("request builds")
}

/// Runs `execute` with a fresh gate.
pub async fn run(
    http: &reqwest::Client,
    policy: &RetryPolicy,
    request: reqwest::Request,
) -> (reqwest::Result<reqwest::Response>, Attempts) {
    retry::execute(http, policy, &RateLimitGate::new(), request, "test", "op").await
}

/// The number of requests a wiremock server has seen.
pub async fn request_count(server: &wiremock::MockServer) -> usize {
    server
        .received_requests()
        .await
        .map(|requests| requests.len())
        .unwrap_or(0)
}

/// Formats `time` as an RFC 850 date (`Sunday, 06-Nov-94 08:49:37 GMT`).
pub fn rfc850_date(time: SystemTime) -> String {
    let imf = httpdate::fmt_http_date(time); // "Sun, 06 Nov 1994 08:49:37 GMT"
    let weekday = match &imf[..3] {
        "Mon" => "Monday",
        "Tue" => "Tuesday",
        "Wed" => "Wednesday",
        "Thu" => "Thursday",
        "Fri" => "Friday",
        "Sat" => "Saturday",
        _ => "Sunday",
    };
    format!(
        "{weekday}, {}-{}-{} {} GMT",
        &imf[5..7],
        &imf[8..11],
        &imf[14..16],
        &imf[17..25]
    )
}

/// Formats `time` as an asctime date (`Sun Nov  6 08:49:37 1994`).
pub fn asctime_date(time: SystemTime) -> String {
    let imf = httpdate::fmt_http_date(time);
    let day: u32 = imf[5..7].parse().expect("day");
    format!(
        "{} {} {day:>2} {} {}",
        &imf[..3],
        &imf[8..11],
        &imf[17..25],
        &imf[12..16]
    )
}

/// A whole second between 0.5 s and 1.5 s from now, so the wait a date asks for is measurable.
pub fn date_about_one_second_ahead() -> SystemTime {
    let since_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock after 1970");
    SystemTime::UNIX_EPOCH
        + Duration::from_secs((since_epoch + Duration::from_millis(1500)).as_secs())
}

/// How a raw test server treats each connection after reading a request head.
#[derive(Debug, Clone, Copy)]
pub enum RawBehavior {
    /// Waits this long, then answers 200.
    SlowResponse(Duration),
    /// Closes the connection without answering.
    CloseWithoutResponse,
}

/// Starts a raw HTTP/1.1 server on loopback; returns its address and a count of requests seen.
pub async fn raw_server(behavior: RawBehavior) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 1024];
                while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => head.extend_from_slice(&buffer[..read]),
                    }
                }
                seen.fetch_add(1, Ordering::SeqCst);
                match behavior {
                    RawBehavior::SlowResponse(delay) => {
                        tokio::time::sleep(delay).await;
                        let _ = socket
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                            .await;
                    }
                    RawBehavior::CloseWithoutResponse => drop(socket),
                }
            });
        }
    });
    (address, count)
}

/// Waits until `count` reaches `expected` (the server counts a request once it has read its head,
/// which on a loaded machine may be a while after the client gave up on it), then checks it.
pub async fn assert_count_reaches(count: &AtomicUsize, expected: usize) {
    let started = std::time::Instant::now();
    while count.load(Ordering::SeqCst) < expected && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(count.load(Ordering::SeqCst), expected);
}

/// A loopback port on which nothing listens (the listener is bound, then dropped).
pub async fn refused_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address")
}
