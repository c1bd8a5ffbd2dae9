//! A minimal HTTP/1.1 server on 127.0.0.1, built on hyper, running on its own OS thread with its
//! own single-threaded tokio runtime.
//!
//! Handlers are plain functions from the request head to a ready response, and response bodies
//! are prepared before a measurement starts (`Bytes` clones share the buffer), so the server does
//! as little as possible per request and is not the bottleneck. A server for uploads reads every
//! request body to the end first, counting its bytes and keeping only the ones it is asked to.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use super::fail;

/// Answers one request from its head (method, URI, headers); request bodies are never read.
pub type Handler = Arc<dyn Fn(&http::request::Parts) -> http::Response<Full<Bytes>> + Send + Sync>;

/// A response ready to send.
pub type Response = http::Response<Full<Bytes>>;

/// Answers a request from its head and its kept body (empty when not kept).
pub type BodyAnswer = Arc<dyn Fn(&http::request::Parts, &[u8]) -> Response + Send + Sync>;

/// Answers one request from its head and its body, read to the end first.
pub struct BodyHandler {
    /// Answers from the head and the kept body.
    pub answer: BodyAnswer,
    /// Whether a request's body is kept for `answer`; others are only counted.
    pub keep: Arc<dyn Fn(&http::request::Parts) -> bool + Send + Sync>,
}

/// How the server answers.
#[derive(Clone)]
enum Handling {
    Heads(Handler),
    Bodies(Arc<BodyHandler>, Arc<AtomicU64>),
}

/// A running loopback server; dropping it stops the server and joins its thread.
pub struct LoopbackServer {
    base_url: String,
    /// Request body bytes read so far (servers that read bodies).
    received: Arc<AtomicU64>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl LoopbackServer {
    /// Starts a server answering every request with `handler`.
    pub fn start(handler: Handler) -> LoopbackServer {
        Self::start_with_delay(handler, Duration::ZERO)
    }

    /// Starts a server that holds every response for `delay` before sending it, like a server
    /// across a network (the delay is a timer, it costs no CPU).
    pub fn start_with_delay(handler: Handler, delay: Duration) -> LoopbackServer {
        Self::launch(Handling::Heads(handler), delay)
    }

    /// Starts a server that reads every request body before answering with `handler`.
    pub fn start_reading_bodies(handler: BodyHandler) -> LoopbackServer {
        let received = Arc::new(AtomicU64::new(0));
        Self::launch(
            Handling::Bodies(Arc::new(handler), received),
            Duration::ZERO,
        )
    }

    fn launch(handling: Handling, delay: Duration) -> LoopbackServer {
        let received = match &handling {
            Handling::Bodies(_, received) => Arc::clone(received),
            Handling::Heads(_) => Arc::new(AtomicU64::new(0)),
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|err| fail(&format!("cannot bind a loopback port: {err}")));
        let address = listener
            .local_addr()
            .unwrap_or_else(|err| fail(&format!("no local address: {err}")));
        if let Err(err) = listener.set_nonblocking(true) {
            fail(&format!("cannot make the listener non-blocking: {err}"));
        }
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("bench-server".into())
            .spawn(move || {
                super::stats::exclude_this_thread_from_allocation_counts();
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap_or_else(|err| fail(&format!("cannot start the server runtime: {err}")));
                runtime.block_on(serve(listener, handling, delay, stop));
            })
            .unwrap_or_else(|err| fail(&format!("cannot start the server thread: {err}")));
        LoopbackServer {
            base_url: format!("http://{address}"),
            received,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The server's base URL, `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Request body bytes read so far (zero for a server that does not read bodies).
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    handling: Handling,
    delay: Duration,
    mut stop: oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener)
        .unwrap_or_else(|err| fail(&format!("cannot register the listener: {err}")));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut stop => return,
        };
        let Ok((socket, _)) = accepted else { continue };
        // Small responses must leave at once, as they would from a real server.
        let _ = socket.set_nodelay(true);
        let handling = handling.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: http::Request<Incoming>| {
                let handling = handling.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    let response = match &handling {
                        Handling::Heads(handler) => {
                            drop(body);
                            handler(&parts)
                        }
                        Handling::Bodies(handler, received) => {
                            let keep = (handler.keep)(&parts);
                            let kept = read_body(body, keep, received).await;
                            (handler.answer)(&parts, &kept)
                        }
                    };
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(socket), service)
                .await;
        });
        // The runtime is dropped with its connection tasks when `serve` returns.
    }
}

/// Reads `body` to the end, adding its length to `received`; returns it when `keep`, else
/// nothing (a large body is never held).
async fn read_body(mut body: Incoming, keep: bool, received: &AtomicU64) -> Vec<u8> {
    let mut kept = Vec::new();
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            received.fetch_add(data.len() as u64, Ordering::Relaxed);
            if keep {
                kept.extend_from_slice(&data);
            }
        }
    }
    kept
}

/// A response with `status`, the given headers and `body`.
pub fn response(
    status: u16,
    headers: &[(&'static str, String)],
    body: Bytes,
) -> http::Response<Full<Bytes>> {
    let mut builder = http::Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, value.as_str());
    }
    builder
        .body(Full::new(body))
        .unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new())))
}

/// A JSON response with status 200 and `body`.
pub fn json(body: &Bytes, content_type: &'static str) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(body.clone()));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}

/// An empty response with `status`.
pub fn empty(status: u16) -> http::Response<Full<Bytes>> {
    response(status, &[], Bytes::new())
}
