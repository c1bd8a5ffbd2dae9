//! What both clients share: the HTTP client, credentials, retry policy and rate-limit gate, the
//! progenitor hooks every generated operation passes through, and the mapping of generated
//! results into the crate's [`Response`] and [`Error`].

use std::future::Future;
use std::time::Duration;

use futures::FutureExt;
use progenitor_client::{Error as GenError, ResponseValue};
use reqwest::header::{AUTHORIZATION, HeaderValue};

use crate::auth::Credentials;
use crate::error::{Error, Result, Service};
use crate::ratelimit;
use crate::response::Response;
use crate::retry::{self, RateLimitGate, RetryPolicy};

/// The user agent sent unless the caller sets another.
pub(crate) const DEFAULT_USER_AGENT: &str =
    concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));
/// Default time allowed for one request, connection included.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time allowed to establish a connection.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// State shared by every request of one client (the generated clients' inner value).
pub struct Transport {
    pub(crate) service: Service,
    pub(crate) http: reqwest::Client,
    authorization: Option<HeaderValue>,
    pub(crate) retry: RetryPolicy,
    pub(crate) gate: RateLimitGate,
    pub(crate) base_url: String,
    /// The base URL, parsed once: each request's URL starts as a copy of it, so the scheme and
    /// host are not parsed again for every request.
    request_base: url::Url,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("service", &self.service)
            .field("base_url", &self.base_url)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .field("retry", &self.retry)
            .finish()
    }
}

/// What a generated operation returns on success: the decoded value boxed (build.rs boxes
/// every decoded body), or `()` for an operation without one.
pub(crate) trait Decoded {
    /// The value inside.
    type Value;
    /// The value, boxed.
    fn into_boxed(self) -> Box<Self::Value>;
}

impl<T> Decoded for Box<T> {
    type Value = T;
    fn into_boxed(self) -> Box<T> {
        self
    }
}

impl Decoded for () {
    type Value = ();
    fn into_boxed(self) -> Box<()> {
        // A zero-sized value: this allocates nothing.
        Box::new(())
    }
}

/// One operation of an API, as its spec describes it. build.rs writes one static per operation
/// (module `operations` of each generated client), so names and methods come from the spec alone.
#[derive(Debug)]
pub(crate) struct Operation {
    /// The spec's `operationId`, which errors and tracing events name.
    pub(crate) id: &'static str,
    /// The HTTP method, which decides what may be retried.
    pub(crate) method: reqwest::Method,
}

impl Transport {
    /// Adds the credentials. (build.rs removed the `api-version` header progenitor would add.)
    pub(crate) fn prepare(&self, request: &mut reqwest::Request) {
        if let Some(auth) = &self.authorization {
            request.headers_mut().insert(AUTHORIZATION, auth.clone());
        }
    }

    /// The URL of a request for `path` (percent-encoded, starting with `/`) under the base URL,
    /// the same URL as parsing the base URL and `path` written after it. build.rs makes the
    /// generated operations call this instead of formatting and parsing the whole URL: only the
    /// path is parsed, which is a fraction of the work for every request.
    pub(crate) fn url(&self, path: std::fmt::Arguments<'_>) -> url::Url {
        request_url(&self.request_base, path)
    }

    /// Runs one generated operation under the retry policy and maps its outcome into the
    /// crate's types.
    ///
    /// Each attempt runs `make_call` again: the generated operation builds its request afresh
    /// (through the `pre` and `exec` hooks), so nothing is copied in case a retry follows, and a
    /// call that succeeds at once pays nothing for retries it did not need.
    pub(crate) async fn call<T, E, F>(
        &self,
        operation: &'static Operation,
        make_call: impl Fn() -> F + Send + Sync,
    ) -> Result<Response<T::Value>>
    where
        T: Decoded + serde::de::DeserializeOwned + Send,
        F: Future<Output = std::result::Result<ResponseValue<T>, GenError<E>>> + Send,
        E: Send,
    {
        let call = retry::Call::new(
            &self.retry,
            &self.gate,
            self.service.as_str(),
            operation.id,
            operation.method.clone(),
        );
        let (result, attempts) = retry::drive(call, retry::Rerun(make_call), ()).await;
        let attempt_count = attempts.attempts.max(1);
        match result {
            Ok(value) => {
                let status = value.status();
                let request_id = ratelimit::request_id_value(value.headers());
                Ok(Response::new(
                    value.into_inner().into_boxed(),
                    status,
                    request_id,
                    attempts.rate_limit,
                    attempt_count,
                ))
            }
            Err(err) => Err(self
                .error_from::<T, E>(operation.id, err, attempt_count)
                .await),
        }
    }

    /// [`map_error`](Self::map_error), boxed: the error path's future would otherwise enlarge
    /// every call's future. Out of line and cold, so the common path's code stays compact.
    #[cold]
    #[inline(never)]
    fn error_from<'a, T: serde::de::DeserializeOwned + 'a, E: 'a>(
        &'a self,
        operation: &'static str,
        err: GenError<E>,
        attempts: u32,
    ) -> std::pin::Pin<Box<impl Future<Output = Error> + 'a>> {
        Box::pin(self.map_error::<T, E>(operation, err, attempts))
    }

    async fn map_error<T: serde::de::DeserializeOwned, E>(
        &self,
        operation: &'static str,
        err: GenError<E>,
        attempts: u32,
    ) -> Error {
        match err {
            GenError::InvalidRequest(reason) => Error::invalid("request", reason),
            GenError::Custom(reason) => Error::config(reason),
            GenError::CommunicationError(source)
            | GenError::InvalidUpgrade(source)
            | GenError::ResponseBodyError(source) => Error::Transport {
                service: self.service,
                operation,
                timeout: source.is_timeout(),
                attempts,
                source: source.without_url(),
            },
            GenError::ErrorResponse(value) => {
                let status = value.status();
                let headers = value.headers().clone();
                crate::error_body::decode(self.service, operation, status, &headers, b"", attempts)
                    .into()
            }
            GenError::InvalidResponsePayload(body, source) => Error::Decode {
                service: self.service,
                operation,
                status: None,
                request_id: None,
                body: crate::error::one_line(&String::from_utf8_lossy(&body), 200),
                source,
            },
            // `decode_json` hands back a success whose body it could not decode this way, with
            // its status and headers.
            GenError::UnexpectedResponse(response) if response.status().is_success() => {
                self.undecodable::<T>(operation, response, attempts).await
            }
            GenError::UnexpectedResponse(response) => {
                crate::error_body::from_response(self.service, operation, response, attempts)
                    .await
                    .into()
            }
        }
    }

    /// The error for a success whose body does not decode as `T`: decoded again for the reason,
    /// with the status, the request id and the start of the body.
    async fn undecodable<T: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        response: reqwest::Response,
        attempts: u32,
    ) -> Error {
        let status = response.status();
        let request_id = ratelimit::request_id(response.headers());
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(source) => {
                return Error::Transport {
                    service: self.service,
                    operation,
                    timeout: source.is_timeout(),
                    attempts,
                    source: source.without_url(),
                };
            }
        };
        let source = match serde_json::from_slice::<T>(&body) {
            Err(source) => source,
            // Unreachable with the same bytes; report the failure without a reason to show.
            Ok(_) => serde_json::Error::io(std::io::Error::other("the body did not decode")),
        };
        Error::Decode {
            service: self.service,
            operation,
            status: Some(status),
            request_id,
            body: crate::error::one_line(&String::from_utf8_lossy(&body), 200),
            source,
        }
    }
}

/// What the retry engine reads from a generated operation's outcome.
impl<T, E> retry::Outcome for std::result::Result<ResponseValue<T>, GenError<E>> {
    fn view(&self) -> retry::View<'_> {
        match self {
            Ok(value) => retry::View::Answer(value.status(), value.headers()),
            Err(GenError::ErrorResponse(value)) => {
                retry::View::Answer(value.status(), value.headers())
            }
            Err(GenError::UnexpectedResponse(response)) => {
                retry::View::Answer(response.status(), response.headers())
            }
            Err(GenError::CommunicationError(error)) => retry::View::Failed(error),
            // A request that could not be built, a body cut off after its answer began: another
            // attempt would not fare better.
            Err(
                GenError::InvalidRequest(_)
                | GenError::InvalidUpgrade(_)
                | GenError::ResponseBodyError(_)
                | GenError::InvalidResponsePayload(..)
                | GenError::Custom(_),
            ) => retry::View::Final,
        }
    }

    fn synthesized(response: reqwest::Response) -> Self {
        Err(GenError::UnexpectedResponse(response))
    }
}

/// Decodes a success response's JSON body; build.rs puts this in place of progenitor's
/// `ResponseValue::from_response` in the generated code, and of the status check around it: an
/// error status comes back as `UnexpectedResponse`, as the generated code would return it.
///
/// The headers move into the value rather than being copied (the retry engine and
/// [`Transport::call`] read the rate limit and the request id from them). A body that does not
/// decode comes back as `UnexpectedResponse` too, with its success status, headers and bytes, so
/// the error can name them; [`Transport::call`] tells it from an error status by that status.
/// Being a combinator rather than an `async fn` keeps every operation's future smaller.
#[allow(
    clippy::result_large_err,
    reason = "the error type is progenitor's, the one the generated code returns"
)]
pub(crate) fn decode_json<T, E>(
    response: reqwest::Response,
) -> impl Future<Output = std::result::Result<ResponseValue<T>, GenError<E>>>
where
    T: serde::de::DeserializeOwned,
{
    use futures::future::Either;
    if !response.status().is_success() {
        return Either::Left(
            futures::future::ready(response)
                .map(|response| Err(GenError::UnexpectedResponse(response))),
        );
    }
    let (parts, body) = http::Response::<reqwest::Body>::from(response).into_parts();
    Either::Right(ReadBody::new(body).map(move |body| {
        let body = body.map_err(GenError::ResponseBodyError)?;
        match serde_json::from_slice(&body) {
            Ok(inner) => Ok(ResponseValue::new(inner, parts.status, parts.headers)),
            Err(_) => Err(GenError::UnexpectedResponse(reqwest::Response::from(
                http::Response::from_parts(parts, body),
            ))),
        }
    }))
}

/// Reads a whole response body. A body that arrives in one frame (a JSON answer with a
/// `Content-Length` usually does) is returned as it came; frames after the first are joined in a
/// buffer. Trailers are ignored.
///
/// Smaller than `http_body_util::Collect`, which keeps room for trailers in every call's future.
struct ReadBody {
    body: reqwest::Body,
    first: Option<bytes::Bytes>,
    joined: Option<bytes::BytesMut>,
}

impl ReadBody {
    fn new(body: reqwest::Body) -> Self {
        ReadBody {
            body,
            first: None,
            joined: None,
        }
    }
}

impl Future for ReadBody {
    type Output = reqwest::Result<bytes::Bytes>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        use http_body::Body as _;
        use std::task::Poll;
        let this = self.get_mut();
        loop {
            let frame = match std::pin::Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    let body = match (this.joined.take(), this.first.take()) {
                        (Some(joined), _) => joined.freeze(),
                        (None, Some(first)) => first,
                        (None, None) => bytes::Bytes::new(),
                    };
                    return Poll::Ready(Ok(body));
                }
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Err(error)),
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if let Some(joined) = &mut this.joined {
                joined.extend_from_slice(&data);
            } else if let Some(first) = this.first.take() {
                let mut joined = bytes::BytesMut::with_capacity(first.len() + data.len());
                joined.extend_from_slice(&first);
                joined.extend_from_slice(&data);
                this.joined = Some(joined);
            } else {
                this.first = Some(data);
            }
        }
    }
}

/// A path parameter, percent-encoded while it is formatted into the request URL.
///
/// build.rs puts it in place of progenitor's `encode_path(&value.to_string())`, which makes two
/// strings per parameter before the URL itself is formatted. The encoded set is progenitor's: the
/// URL standard's path-percent-encode set plus `/` and `%`, so a value stays one path segment.
pub(crate) struct PathSegment<'a, T: ?Sized>(pub(crate) &'a T);

/// The bytes percent-encoded in a path segment, the set of progenitor's `encode_path`: controls,
/// space, `"#<>?`{}/%`, and every non-ASCII byte.
const ENCODED_IN_PATH: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = byte < 0x20
            || byte >= 0x7f
            || matches!(
                byte as u8,
                b' ' | b'"' | b'#' | b'<' | b'>' | b'?' | b'`' | b'{' | b'}' | b'/' | b'%'
            );
        byte += 1;
    }
    table
};

impl<T: std::fmt::Display + ?Sized> std::fmt::Display for PathSegment<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        /// Encodes whatever the value writes on its way to the URL being formatted.
        struct Encode<'a, 'b>(&'a mut std::fmt::Formatter<'b>);
        impl std::fmt::Write for Encode<'_, '_> {
            fn write_str(&mut self, text: &str) -> std::fmt::Result {
                // Encoding is per byte, so where the value splits its output does not matter.
                // A non-empty run of bytes kept as they are holds only ASCII (every non-ASCII
                // byte is encoded), so it starts and ends on character boundaries.
                let mut kept_from = 0;
                for (at, byte) in text.bytes().enumerate() {
                    if ENCODED_IN_PATH[usize::from(byte)] {
                        if let Some(kept) = text.get(kept_from..at) {
                            self.0.write_str(kept)?;
                        }
                        self.0
                            .write_str(percent_encoding::percent_encode_byte(byte))?;
                        kept_from = at + 1;
                    }
                }
                self.0.write_str(text.get(kept_from..).unwrap_or_default())
            }
        }
        std::fmt::write(&mut Encode(f), format_args!("{}", self.0))
    }
}

/// Includes a client that build.rs generated (as module `generated`) and routes its hooks
/// through the shared [`Transport`].
macro_rules! generated_client {
    ($file:literal) => {
        #[allow(
            missing_docs,
            unused_imports,
            clippy::all,
            clippy::pedantic,
            unreachable_pub,
            dead_code
        )]
        mod generated {
            include!(concat!(env!("OUT_DIR"), "/", $file));
        }

        $crate::transport::impl_transport_hooks!(generated::Client);

        /// Builds the generated client over a validated transport.
        fn connect(
            config: $crate::transport::TransportConfig,
            service: $crate::error::Service,
            default_base_url: &str,
        ) -> $crate::error::Result<generated::Client> {
            let transport = std::sync::Arc::new(config.build(service, default_base_url)?);
            Ok(generated::Client::new_with_client(
                &transport.base_url.clone(),
                transport.http.clone(),
                transport,
            ))
        }
    };
}
pub(crate) use generated_client;

/// Implements the progenitor hooks of a generated client by delegating to its [`Transport`].
macro_rules! impl_transport_hooks {
    ($client:ty) => {
        impl progenitor_client::ClientHooks<std::sync::Arc<$crate::transport::Transport>>
            for $client
        {
            async fn pre<E>(
                &self,
                request: &mut reqwest::Request,
                _info: &progenitor_client::OperationInfo,
            ) -> std::result::Result<(), progenitor_client::Error<E>> {
                progenitor_client::ClientInfo::inner(self).prepare(request);
                Ok(())
            }

            // One attempt: the retry engine runs the whole operation again for the next one
            // (see `Transport::call`). Not an `async fn`, which would hold the request twice.
            fn exec(
                &self,
                request: reqwest::Request,
                _info: &progenitor_client::OperationInfo,
            ) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
                progenitor_client::ClientInfo::inner(self)
                    .http
                    .execute(request)
            }
        }
    };
}
pub(crate) use impl_transport_hooks;

/// Settings common to both clients' builders.
#[derive(Clone)]
pub(crate) struct TransportConfig {
    pub(crate) base_url: Option<String>,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) user_agent: Option<String>,
    pub(crate) http_client: Option<reqwest::Client>,
    pub(crate) retry: RetryPolicy,
    pub(crate) allow_http: bool,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            base_url: None,
            credentials: None,
            timeout: Some(DEFAULT_TIMEOUT),
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            user_agent: None,
            http_client: None,
            retry: RetryPolicy::standard(),
            allow_http: false,
        }
    }
}

impl std::fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("credentials", &self.credentials)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("user_agent", &self.user_agent)
            .field("custom_http_client", &self.http_client.is_some())
            .field("retry", &self.retry)
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl TransportConfig {
    /// Validates the settings and builds the shared transport.
    pub(crate) fn build(self, service: Service, default_base_url: &str) -> Result<Transport> {
        let request_base = validate_base_url(
            self.base_url.as_deref().unwrap_or(default_base_url),
            self.allow_http,
        )?;
        let base_url = request_base.as_str().trim_end_matches('/').to_string();
        let authorization = match &self.credentials {
            Some(credentials) => Some(credentials.header_value()?),
            None => None,
        };
        let http = match self.http_client {
            Some(client) => client,
            None => {
                let mut builder = reqwest::Client::builder().user_agent(
                    self.user_agent
                        .clone()
                        .unwrap_or_else(|| DEFAULT_USER_AGENT.to_string()),
                );
                if let Some(timeout) = self.timeout {
                    builder = builder.timeout(timeout);
                }
                if let Some(timeout) = self.connect_timeout {
                    builder = builder.connect_timeout(timeout);
                }
                builder
                    .build()
                    .map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")))?
            }
        };
        Ok(Transport {
            service,
            http,
            authorization,
            retry: self.retry,
            gate: RateLimitGate::new(),
            base_url,
            request_base,
        })
    }
}

/// [`Transport::url`] for the base URL `base`.
fn request_url(base: &url::Url, path: std::fmt::Arguments<'_>) -> url::Url {
    use std::fmt::Write as _;
    let prefix = base.path().trim_end_matches('/');
    let mut full = String::with_capacity(prefix.len() + 64);
    full.push_str(prefix);
    // A `String` accepts every write; only a failing `Display` could stop this, and the
    // operations format nothing but their own path parameters.
    let _ = full.write_fmt(path);
    let mut url = base.clone();
    url.set_path(&full);
    url
}

/// Checks a base URL: absolute http(s) with a host, no query or fragment; plain http only for
/// loopback hosts unless explicitly allowed. Returns it parsed.
pub(crate) fn validate_base_url(raw: &str, allow_http: bool) -> Result<url::Url> {
    let url = url::Url::parse(raw.trim())
        .map_err(|e| Error::invalid("base_url", format!("not an absolute URL: {e}")))?;
    let host = url
        .host()
        .ok_or_else(|| Error::invalid("base_url", "the URL has no host"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid(
            "base_url",
            "the URL must not have a query or fragment",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid(
            "base_url",
            "the URL must not carry credentials; use the builder's credential setters",
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = match host {
                url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
                url::Host::Ipv4(ip) => ip.is_loopback(),
                url::Host::Ipv6(ip) => ip.is_loopback(),
            };
            if !loopback && !allow_http {
                return Err(Error::invalid(
                    "base_url",
                    "plain http is only allowed for loopback hosts; call allow_http(true) to opt in",
                ));
            }
        }
        other => {
            return Err(Error::invalid(
                "base_url",
                format!("unsupported scheme `{other}`; use https"),
            ));
        }
    }
    Ok(url)
}

/// Generates the builder setters both clients share. The builder type must have a
/// `config: TransportConfig` field.
macro_rules! common_builder_methods {
    () => {
        /// Sets the base URL (scheme, host, optional port and path prefix).
        pub fn base_url(mut self, url: impl Into<String>) -> Self {
            self.config.base_url = Some(url.into());
            self
        }

        /// Sets the time allowed for one request, from connecting to reading the whole body
        /// (default 30 s). `None` removes the limit (not recommended).
        pub fn timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
            self.config.timeout = timeout;
            self
        }

        /// Sets the time allowed to establish a connection (default 10 s).
        pub fn connect_timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
            self.config.connect_timeout = timeout;
            self
        }

        /// Sets the `User-Agent` header (default `cloud-plugin-sdk/<version>`).
        pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
            self.config.user_agent = Some(user_agent.into());
            self
        }

        /// Uses a caller-built `reqwest::Client` (proxies, TLS roots, pools). Its own timeouts and
        /// user agent apply; the builder's `timeout`, `connect_timeout` and `user_agent` do not.
        pub fn http_client(mut self, client: reqwest::Client) -> Self {
            self.config.http_client = Some(client);
            self
        }

        /// Sets how failed calls are retried (default [`RetryPolicy::standard`](crate::RetryPolicy::standard)).
        pub fn retry_policy(mut self, policy: $crate::retry::RetryPolicy) -> Self {
            self.config.retry = policy;
            self
        }

        /// Allows a plain-http base URL on a host that is not loopback. Credentials then travel
        /// unencrypted; use it only on a trusted network.
        pub fn allow_http(mut self, allow: bool) -> Self {
            self.config.allow_http = allow;
            self
        }
    };
}
pub(crate) use common_builder_methods;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn streamed(chunks: Vec<std::io::Result<&'static [u8]>>) -> reqwest::Body {
        let chunks = chunks
            .into_iter()
            .map(|chunk| chunk.map(bytes::Bytes::from_static));
        reqwest::Body::wrap_stream(futures::stream::iter(chunks))
    }

    #[tokio::test]
    async fn a_body_in_one_frame_is_returned_as_it_came() {
        let sent = bytes::Bytes::from_static(b"{\"id\":\"p-1\"}");
        let read = ReadBody::new(reqwest::Body::from(sent.clone()))
            .await
            .unwrap();
        assert_eq!(read, sent);
        // The same buffer, not a copy.
        assert_eq!(read.as_ptr(), sent.as_ptr());
    }

    #[tokio::test]
    async fn a_body_in_many_frames_is_joined_in_order() {
        let body = streamed(vec![Ok(b"{\"id\""), Ok(b""), Ok(b":\"p-1"), Ok(b"\"}")]);
        let read = ReadBody::new(body).await.unwrap();
        assert_eq!(&read[..], b"{\"id\":\"p-1\"}");
    }

    #[tokio::test]
    async fn an_empty_body_reads_as_empty() {
        assert!(ReadBody::new(streamed(vec![])).await.unwrap().is_empty());
        let empty = reqwest::Body::from(Vec::<u8>::new());
        assert!(ReadBody::new(empty).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_body_cut_off_is_an_error() {
        let body = streamed(vec![
            Ok(b"{\"id\""),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "reset",
            )),
        ]);
        let err = ReadBody::new(body).await.unwrap_err();
        assert!(err.is_body() || err.is_decode(), "{err:?}");
    }

    #[test]
    fn path_segments_are_encoded_like_progenitor_does() {
        for value in [
            "ccp-4a7b2c",
            "a/b",
            "100%",
            "with space",
            "q?x=1#frag",
            "<{`\"}>",
            "tab\tnewline\ndel\u{7f}",
            "ünïcödé ✓",
            "",
            "..",
        ] {
            assert_eq!(
                PathSegment(value).to_string(),
                progenitor_client::encode_path(value),
                "{value:?}"
            );
        }
        let id = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(
            PathSegment(&id).to_string(),
            "01234567-89ab-cdef-0123-456789abcdef"
        );
        assert_eq!(
            format!("/v1/plugins/{}", PathSegment("a/b c")),
            "/v1/plugins/a%2Fb%20c"
        );
    }

    #[test]
    fn every_single_character_is_encoded_like_progenitor_does() {
        for c in (0..=0x2FF_u32).filter_map(char::from_u32) {
            let value = format!("a{c}b");
            assert_eq!(
                PathSegment(value.as_str()).to_string(),
                progenitor_client::encode_path(&value),
                "{c:?}"
            );
        }
    }

    /// What the generated operations did before `Transport::url`: format the whole URL from the
    /// base URL as the client keeps it, and parse it.
    fn parsed(base_url: &str, path: std::fmt::Arguments<'_>) -> url::Url {
        url::Url::parse(&format!("{base_url}{path}")).unwrap()
    }

    #[test]
    fn request_urls_keep_the_base_path_and_the_encoded_segments() {
        let id = PathSegment("a b/c?d#e%f");
        for base in [
            "https://api.example.com",
            "https://api.example.com/",
            "http://127.0.0.1:8080/prefix",
            "http://[::1]:1/a/b/",
            "https://API.Example.com:443/x%20y",
        ] {
            let transport = transport(base);
            let url = transport.url(format_args!("/v1/plugins/{id}"));
            assert_eq!(
                url,
                parsed(&transport.base_url, format_args!("/v1/plugins/{id}"))
            );
            assert!(
                url.path().ends_with("/v1/plugins/a%20b%2Fc%3Fd%23e%25f"),
                "{url}"
            );
            assert_eq!(url.query(), None);
        }
        let url = transport("http://127.0.0.1:8080/prefix/").url(format_args!("/v1/x/{}", ".."));
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/prefix/v1/");
    }

    proptest! {
        #[test]
        fn request_urls_equal_the_parsed_url(
            prefix in proptest::collection::vec("[a-zA-Z0-9._~%-]{0,8}", 0..3),
            segment in any::<String>(),
        ) {
            // What `TransportConfig::build` keeps, without building an HTTP client per case.
            let base = validate_base_url(&format!("https://api.example.com/{}", prefix.join("/")), false)
                .unwrap();
            let base_url = base.as_str().trim_end_matches('/');
            let id = PathSegment(segment.as_str());
            prop_assert_eq!(
                request_url(&base, format_args!("/ccpm/v1/plugins/{id}")),
                parsed(base_url, format_args!("/ccpm/v1/plugins/{id}"))
            );
        }

        #[test]
        fn any_path_segment_is_encoded_like_progenitor_does(value in any::<String>()) {
            prop_assert_eq!(
                PathSegment(value.as_str()).to_string(),
                progenitor_client::encode_path(&value)
            );
        }
    }

    fn transport(base_url: &str) -> Transport {
        TransportConfig {
            base_url: Some(base_url.to_string()),
            ..TransportConfig::default()
        }
        .build(Service::Golem, "https://unused.example.com")
        .unwrap()
    }

    #[test]
    fn base_url_rules() {
        assert_eq!(
            transport("https://api.example.com/").base_url,
            "https://api.example.com"
        );
        assert_eq!(
            transport("http://127.0.0.1:8080").base_url,
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            transport("https://api.example.com/prefix/").base_url,
            "https://api.example.com/prefix"
        );
        assert!(validate_base_url("http://localhost:1", false).is_ok());
        assert!(validate_base_url("http://[::1]:1", false).is_ok());
        let err = validate_base_url("http://example.com", false).unwrap_err();
        assert!(err.to_string().contains("base_url"), "{err}");
        assert!(validate_base_url("http://example.com", true).is_ok());
        assert!(validate_base_url("ftp://example.com", true).is_err());
        assert!(validate_base_url("not a url", true).is_err());
        assert!(validate_base_url("https://u:p@example.com", true).is_err());
        assert!(validate_base_url("https://example.com/?a=b", true).is_err());
    }

    #[test]
    fn outgoing_authorization_is_sensitive() {
        let config = TransportConfig {
            credentials: Some(Credentials::bearer("tr4nsport-secret")),
            ..TransportConfig::default()
        };
        let transport = config.build(Service::Golem, "http://127.0.0.1:9").unwrap();
        assert!(!format!("{transport:?}").contains("tr4nsport-secret"));
        let url = url::Url::parse("http://127.0.0.1:9/v1/plugins").unwrap();
        let mut request = reqwest::Request::new(reqwest::Method::GET, url);
        transport.prepare(&mut request);
        let auth = request.headers().get(AUTHORIZATION).unwrap();
        assert!(auth.is_sensitive());
        assert!(!format!("{:?}", request.headers()).contains("tr4nsport-secret"));
    }
}
