//! The one error type of the crate, shared by both APIs.
//!
//! Every failure is an [`Error`]. Match on [`Error::kind`] for the category, and read the HTTP
//! status, the server's machine code, its messages, the request id, the raw body (when it was not
//! the documented JSON), the wait a rate limit asked for and the number of attempts through the
//! accessors. `Display` prints one line; the cause, when there is one, comes from `source()`.
//!
//! ```
//! use cloud_plugin_sdk::{ApiError, ErrorKind, Service};
//! use reqwest::{StatusCode, header::HeaderMap};
//!
//! // The error the crate reports for a Golem 409 (also handy to test your own error handling).
//! let body = br#"{"code":"PLUGIN_REGISTRATION_ALREADY_EXISTS","error":"Plugin with this name and version already exists"}"#;
//! let err = cloud_plugin_sdk::Error::from(ApiError::from_parts(
//!     Service::Golem,
//!     StatusCode::CONFLICT,
//!     &HeaderMap::new(),
//!     body,
//! ));
//! assert_eq!(err.kind(), ErrorKind::Conflict);
//! assert!(err.is_conflict());
//! assert_eq!(err.code(), Some("PLUGIN_REGISTRATION_ALREADY_EXISTS"));
//! assert_eq!(err.messages(), ["Plugin with this name and version already exists"]);
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

use crate::ratelimit::RateLimit;
pub(crate) use crate::text::one_line;

/// A `Result` whose error is the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The most bytes of an error body the crate reads; the rest is discarded unread.
pub const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Which remote service a call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Service {
    /// The Golem Cloud plugin registry API.
    Golem,
    /// The Confluent Cloud Custom Connect Plugin Management API (ccpm/v1).
    Confluent,
    /// A cloud storage endpoint behind a presigned upload URL (S3, Azure Blob, GCS).
    Storage,
}

impl Service {
    /// A short lowercase name, as used in messages and tracing fields.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Golem => "golem",
            Service::Confluent => "confluent",
            Service::Storage => "storage",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The category of an [`Error`], for matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument was rejected before any request was sent.
    InvalidArgument,
    /// The client could not be configured (bad base URL, missing credentials, TLS setup).
    Config,
    /// The server rejected the request as malformed or invalid (400, 415, Confluent's 422, other 4xx).
    BadRequest,
    /// The credentials were missing or not accepted (401), or an OAuth token endpoint refused
    /// the client or its token (400, 401).
    Unauthorized,
    /// The credentials lack a permission (403).
    Forbidden,
    /// The resource does not exist, or the caller may not see it (404).
    NotFound,
    /// The resource already exists or is in a conflicting state (409).
    Conflict,
    /// A plan limit or quota was exceeded (Golem's 422, Confluent's 402).
    LimitExceeded,
    /// The server asked the client to slow down (429) and the wait was not taken.
    RateLimited,
    /// The server failed (5xx).
    ServerError,
    /// The server answered with a status the API does not use.
    UnexpectedStatus,
    /// The request or the response took longer than the configured timeout.
    Timeout,
    /// The connection failed or broke (DNS, refused, reset, TLS).
    Transport,
    /// The response could not be decoded.
    Decode,
    /// A success's body was longer than the client accepts
    /// (see the builders' `max_response_bytes`).
    ResponseTooLarge,
    /// The cloud storage behind a presigned URL rejected an archive upload.
    Storage,
    /// A wait for an asynchronous operation ended without the expected outcome.
    Wait,
    /// The server's answers broke the API's rules in a way the client cannot work around (for
    /// example a paging link that leads back to a page already read).
    Protocol,
}

/// One entry of a Confluent `Failure` error body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ErrorDetail {
    /// Identifier of this occurrence of the problem.
    #[serde(default)]
    pub id: Option<String>,
    /// The HTTP status as the server wrote it (a string such as `"400"`).
    #[serde(default)]
    pub status: Option<String>,
    /// Machine-readable code, e.g. `invalid_filter`.
    #[serde(default)]
    pub code: Option<String>,
    /// Short summary of the problem.
    #[serde(default)]
    pub title: Option<String>,
    /// Explanation of this occurrence.
    #[serde(default)]
    pub detail: Option<String>,
    /// Where in the request the problem is.
    #[serde(default)]
    pub source: Option<ErrorSource>,
    /// A numeric error code some services add.
    #[serde(default)]
    pub error_code: Option<i64>,
    /// A message some services add.
    #[serde(default)]
    pub message: Option<String>,
}

/// The part of a request an [`ErrorDetail`] points at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ErrorSource {
    /// JSON Pointer into the request body, e.g. `/spec/display_name`.
    #[serde(default)]
    pub pointer: Option<String>,
    /// Name of the query parameter at fault.
    #[serde(default)]
    pub parameter: Option<String>,
}

impl ErrorDetail {
    /// The most specific human-readable text of the entry.
    pub fn text(&self) -> Option<&str> {
        self.detail
            .as_deref()
            .or(self.message.as_deref())
            .or(self.title.as_deref())
            .filter(|s| !s.is_empty())
    }
}

/// An error response from a server: status, decoded body and response metadata.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub(crate) service: Service,
    pub(crate) operation: &'static str,
    pub(crate) status: StatusCode,
    pub(crate) kind: ErrorKind,
    pub(crate) code: Option<String>,
    pub(crate) messages: Vec<String>,
    pub(crate) details: Vec<ErrorDetail>,
    pub(crate) request_id: Option<String>,
    pub(crate) raw_body: Option<String>,
    pub(crate) www_authenticate: Option<String>,
    pub(crate) location: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) attempts: u32,
}

impl ApiError {
    /// The service that answered.
    pub fn service(&self) -> Service {
        self.service
    }
    /// The operation id of the call (as named in the API's OpenAPI document).
    pub fn operation(&self) -> &'static str {
        self.operation
    }
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The category, derived from the service and the status.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    /// The machine code of the error (Golem's `code`, or the first Confluent entry's `code`).
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }
    /// The human-readable messages, in the order the server sent them.
    pub fn messages(&self) -> &[String] {
        &self.messages
    }
    /// Every entry of a Confluent `Failure` body, as sent.
    pub fn details(&self) -> &[ErrorDetail] {
        &self.details
    }
    /// The server's request id (`X-Request-Id`), when it sent one.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
    /// The body as text when it was not the documented JSON error (at most
    /// [`MAX_ERROR_BODY_BYTES`], decoded lossily).
    pub fn raw_body(&self) -> Option<&str> {
        self.raw_body.as_deref()
    }
    /// The `WWW-Authenticate` challenge of a 401.
    pub fn www_authenticate(&self) -> Option<&str> {
        self.www_authenticate.as_deref()
    }
    /// The `Location` header, e.g. the conflicting resource of a Confluent 409.
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }
    /// How long the server asked the client to wait (`Retry-After`, or Confluent's
    /// `X-RateLimit-Reset` on a 429).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
    /// The rate-limit state the response reported.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.rate_limit
    }
    /// How many requests were sent for this call, retries included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.service, self.operation, self.status)?;
        // Code and request id come from the server too: flattened like the messages, so that a
        // hostile or broken response cannot break the line or forge log lines.
        if let Some(code) = self.code.as_deref().map(|c| one_line(c, 100))
            && !code.is_empty()
        {
            write!(f, " [{code}]")?;
        }
        if !self.messages.is_empty() {
            write!(f, ": {}", one_line(&self.messages.join("; "), 300))?;
        } else if let Some(body) = &self.raw_body {
            let body = one_line(body, 120);
            if !body.is_empty() {
                write!(f, ": {body}")?;
            }
        }
        if let Some(wait) = self.retry_after {
            write!(f, " (retry after {}s)", wait.as_secs_f64().ceil() as u64)?;
        }
        write!(
            f,
            "{}{}",
            request_id_suffix(self.request_id.as_deref()),
            attempts_suffix(self.attempts)
        )
    }
}

/// The token endpoint an [`OAuthError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenEndpoint {
    /// The external identity provider's token endpoint (the client-credentials grant).
    IdentityProvider,
    /// Confluent's Security Token Service, `/sts/v1/oauth2/token` (the token exchange).
    SecurityTokenService,
}

impl TokenEndpoint {
    /// A short lowercase name, as used in messages and tracing fields.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenEndpoint::IdentityProvider => "identity provider token endpoint",
            TokenEndpoint::SecurityTokenService => "Confluent STS token exchange",
        }
    }
}

impl fmt::Display for TokenEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Getting an OAuth access token failed: the identity provider or Confluent's STS refused, could
/// not be reached, or answered with something that is not a token.
///
/// It never holds the client secret or a token: values the endpoint echoed back are masked.
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub(crate) endpoint: TokenEndpoint,
    /// The host of the endpoint (not secret, and it tells which endpoint was meant).
    pub(crate) host: String,
    /// The API operation that needed the token, when one did.
    pub(crate) operation: Option<&'static str>,
    pub(crate) problem: TokenProblem,
    pub(crate) request_id: Option<String>,
    pub(crate) attempts: u32,
}

/// What went wrong with a token request.
#[derive(Debug, Clone)]
pub(crate) enum TokenProblem {
    /// The endpoint answered with an error status.
    Refused {
        status: StatusCode,
        /// The OAuth `error` code, or the first Confluent error entry's `code`.
        code: Option<String>,
        /// The `error_description`, or the Confluent entry's `detail`.
        message: Option<String>,
        /// How long a 429 asked the client to wait.
        retry_after: Option<Duration>,
    },
    /// A success that is not a usable token answer.
    Unusable { status: StatusCode, reason: String },
    /// The request failed in transport.
    Transport {
        timeout: bool,
        /// What went wrong, e.g. `cannot connect to idp.example.com:443: connection refused`.
        reason: String,
        source: Arc<reqwest::Error>,
    },
    /// The token requests did not finish within the retry policy's deadline.
    Deadline(Duration),
    /// The task asking for the token ended without an answer (its runtime shut down).
    Interrupted,
}

impl OAuthError {
    /// The endpoint that failed.
    pub fn endpoint(&self) -> TokenEndpoint {
        self.endpoint
    }
    /// The API operation that needed the token (as named in the API's OpenAPI document).
    pub fn operation(&self) -> Option<&'static str> {
        self.operation
    }
    /// The endpoint's HTTP status, when it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match &self.problem {
            TokenProblem::Refused { status, .. } | TokenProblem::Unusable { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }
    /// The endpoint's error code (OAuth's `error`, e.g. `invalid_client`, or Confluent's `code`).
    pub fn code(&self) -> Option<&str> {
        match &self.problem {
            TokenProblem::Refused { code, .. } => code.as_deref(),
            _ => None,
        }
    }
    /// The endpoint's explanation (OAuth's `error_description`, or Confluent's `detail`).
    pub fn message(&self) -> Option<&str> {
        match &self.problem {
            TokenProblem::Refused { message, .. } => message.as_deref(),
            _ => None,
        }
    }
    /// The endpoint's request id (`X-Request-Id`), when it sent one.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
    /// How many requests were sent to the endpoint, retries included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
    /// How long the endpoint asked the client to wait, for a rate limit that was not waited out.
    pub fn retry_after(&self) -> Option<Duration> {
        match &self.problem {
            TokenProblem::Refused { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The category: a 400 or 401 means the OAuth settings or credentials were not accepted
    /// ([`ErrorKind::Unauthorized`]); other statuses, timeouts and transport failures are
    /// categorised as for API calls; an answer that is not a token is [`ErrorKind::Decode`].
    pub fn kind(&self) -> ErrorKind {
        match &self.problem {
            TokenProblem::Refused { status, .. } => match status.as_u16() {
                400 | 401 => ErrorKind::Unauthorized,
                403 => ErrorKind::Forbidden,
                408 => ErrorKind::Timeout,
                429 => ErrorKind::RateLimited,
                402..=499 => ErrorKind::BadRequest,
                500..=599 => ErrorKind::ServerError,
                _ => ErrorKind::UnexpectedStatus,
            },
            TokenProblem::Unusable { .. } => ErrorKind::Decode,
            TokenProblem::Transport { timeout: true, .. } | TokenProblem::Deadline(_) => {
                ErrorKind::Timeout
            }
            TokenProblem::Transport { .. } | TokenProblem::Interrupted => ErrorKind::Transport,
        }
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(operation) = self.operation {
            write!(f, "confluent {operation}: ")?;
        }
        write!(f, "cannot get an access token: the {}", self.endpoint)?;
        let host = one_line(&self.host, 100);
        if !host.is_empty() {
            write!(f, " at {host}")?;
        }
        match &self.problem {
            TokenProblem::Refused {
                status,
                code,
                message,
                retry_after,
            } => {
                write!(f, " answered {status}")?;
                if let Some(code) = code.as_deref().map(|c| one_line(c, 100))
                    && !code.is_empty()
                {
                    write!(f, " [{code}]")?;
                }
                if let Some(message) = message.as_deref().map(|m| one_line(m, 300))
                    && !message.is_empty()
                {
                    write!(f, ": {message}")?;
                }
                if let Some(wait) = retry_after {
                    write!(f, " (retry after {}s)", wait.as_secs_f64().ceil() as u64)?;
                }
            }
            TokenProblem::Unusable { status, reason } => {
                write!(
                    f,
                    " answered {status} without a usable token: {}",
                    one_line(reason, 200)
                )?;
            }
            TokenProblem::Transport { reason, .. } => {
                write!(f, ": {}", one_line(reason, 300))?;
            }
            TokenProblem::Deadline(deadline) => {
                write!(
                    f,
                    " gave no token within the deadline of {}",
                    seconds(*deadline)
                )?;
            }
            TokenProblem::Interrupted => f.write_str(": the request ended before it finished")?,
        }
        write!(f, "{}", request_id_suffix(self.request_id.as_deref()))?;
        write!(f, "{}", attempts_suffix(self.attempts))
    }
}

impl std::error::Error for OAuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            TokenProblem::Transport { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

impl std::error::Error for ApiError {}

/// The crate's error type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument was rejected before any request was sent.
    #[error(
        "invalid argument `{}`: {}",
        one_line(field, 100),
        one_line(reason, 500)
    )]
    #[non_exhaustive]
    InvalidArgument {
        /// The field or parameter at fault.
        field: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The client could not be configured.
    #[error("invalid configuration: {}", one_line(reason, 500))]
    #[non_exhaustive]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The request could not be sent or its response not received: the connection was refused
    /// or broke, the DNS lookup or the TLS handshake failed, or a timeout passed.
    #[error("{service} {operation}: {}{}", one_line(reason, 500), attempts_suffix(*attempts))]
    #[non_exhaustive]
    Transport {
        /// The service the call went to.
        service: Service,
        /// The operation id of the call.
        operation: &'static str,
        /// Whether a timeout ended the call.
        timeout: bool,
        /// The server the request went to, as `host:port` (never the URL's path or query, which
        /// for presigned upload URLs carry credentials).
        server: Option<String>,
        /// What failed and why, e.g. `cannot connect to 127.0.0.1:9: connection refused` or
        /// `request to api.confluent.cloud:443 exceeded the request timeout of 30s`.
        reason: String,
        /// How many requests were sent for this call.
        attempts: u32,
        /// The underlying error (its URL removed, since presigned URLs carry credentials).
        #[source]
        source: reqwest::Error,
    },
    /// The call's deadline ([`RetryPolicy::deadline`](crate::retry::RetryPolicy::deadline)) passed
    /// before it was over: waiting for the rate-limit gate, in an attempt, or between attempts.
    #[error("{service} {operation}: no answer within the call's deadline of {}{}", seconds(*deadline), attempts_suffix(*attempts))]
    #[non_exhaustive]
    Deadline {
        /// The service the call went to.
        service: Service,
        /// The operation id of the call.
        operation: &'static str,
        /// The deadline that passed.
        deadline: Duration,
        /// How many requests were sent for this call.
        attempts: u32,
    },
    /// A success's body was longer than the client accepts.
    #[error("{service} {operation}: the {} response is longer than the limit of {limit} bytes{}", status_phrase(*status), request_id_suffix(request_id.as_deref()))]
    #[non_exhaustive]
    ResponseTooLarge {
        /// The service that answered.
        service: Service,
        /// The operation id of the call.
        operation: &'static str,
        /// The limit, in bytes.
        limit: u64,
        /// The response status, when known.
        status: Option<StatusCode>,
        /// The server's request id, when it sent one.
        request_id: Option<String>,
    },
    /// A response could not be decoded.
    #[error("{service} {operation}: could not decode the {} response{}", status_phrase(*status), request_id_suffix(request_id.as_deref()))]
    #[non_exhaustive]
    Decode {
        /// The service that answered.
        service: Service,
        /// The operation id of the call.
        operation: &'static str,
        /// The response status, when known.
        status: Option<StatusCode>,
        /// The server's request id, when it sent one.
        request_id: Option<String>,
        /// The start of the body, for diagnosis.
        body: String,
        /// What the decoder said.
        #[source]
        source: serde_json::Error,
    },
    /// The cloud storage behind a presigned URL rejected an archive upload.
    #[error("upload to {} storage failed: {status}{}{}{}", one_line(cloud, 40), code.as_deref().map(|c| format!(" [{}]", one_line(c, 100))).unwrap_or_default(), message.as_deref().map(|m| format!(": {}", one_line(m, 200))).unwrap_or_default(), request_id_suffix(request_id.as_deref()))]
    #[non_exhaustive]
    Storage {
        /// The cloud the storage belongs to (`AWS`, `GCP`, `AZURE`).
        cloud: String,
        /// The storage's HTTP status.
        status: StatusCode,
        /// The storage's error code from its XML body (e.g. `AccessDenied`, `EntityTooLarge`).
        code: Option<String>,
        /// The storage's error message.
        message: Option<String>,
        /// The storage's request id.
        request_id: Option<String>,
    },
    /// Waiting for a plugin version to become READY ended otherwise: it reached FAILED, or the
    /// wait timed out while it was still processing.
    #[error("plugin version {} {}", one_line(version_id, 100), wait_phrase(phase, error_message.as_deref(), *timed_out))]
    #[non_exhaustive]
    Wait {
        /// The version waited for.
        version_id: String,
        /// The last phase seen (`FAILED`, or e.g. `PROCESSING` when the wait timed out).
        phase: String,
        /// The server's explanation of a FAILED phase.
        error_message: Option<String>,
        /// Whether the wait ran out of time (as opposed to reaching a failed state).
        timed_out: bool,
    },
    /// The one-call version upload failed at `stage`. The line ends with the cause's own line
    /// (the server's status and message, for an API error); the cause itself is the error's
    /// `source()`.
    ///
    /// `kind()`, `status()`, `request_id()` and the other accessors answer for the cause.
    #[error("uploading plugin version {} failed while {stage}: {}{}", one_line(version, 100), one_line(&source.to_string(), 1000), cleanup_phrase(created_version_id.as_deref(), cleanup.as_ref()))]
    #[non_exhaustive]
    Upload {
        /// The version string being published.
        version: String,
        /// The step that failed.
        stage: UploadStage,
        /// The version's id when it had already been created.
        created_version_id: Option<String>,
        /// What happened to that version.
        cleanup: Option<Cleanup>,
        /// The cause.
        #[source]
        source: Box<Error>,
    },
    /// An OAuth access token could not be obtained, so the call was not sent.
    ///
    /// `kind()`, `status()`, `code()`, `messages()`, `request_id()` and `attempts()` answer for
    /// the token endpoint; [`Error::oauth_error`] gives the details.
    #[error(transparent)]
    OAuth(Box<OAuthError>),
    /// The server's answers broke the API's rules (e.g. a paging token that repeats); going on
    /// would loop or return wrong results.
    #[error("{service} {operation}: protocol error: {}", one_line(reason, 300))]
    #[non_exhaustive]
    Protocol {
        /// The service that answered.
        service: Service,
        /// The operation id of the call.
        operation: &'static str,
        /// What the server did wrong.
        reason: String,
    },
}

fn wait_phrase(phase: &str, message: Option<&str>, timed_out: bool) -> String {
    let phase = one_line(phase, 40);
    if timed_out {
        return format!("was still {phase} when the wait timed out");
    }
    match message {
        Some(m) if !m.is_empty() => format!("reached {phase}: {}", one_line(m, 300)),
        _ => format!("reached {phase}"),
    }
}

fn cleanup_phrase(version_id: Option<&str>, cleanup: Option<&Cleanup>) -> String {
    let Some(id) = version_id.map(|id| one_line(id, 100)) else {
        return String::new();
    };
    match cleanup {
        Some(Cleanup::Deleted) => format!(" (version {id} was created, then deleted)"),
        Some(Cleanup::DeleteFailed(err)) => {
            format!(
                " (version {id} was created; deleting it failed: {})",
                one_line(&err.to_string(), 200)
            )
        }
        Some(Cleanup::Kept) | None => format!(" (version {id} was created and is kept)"),
    }
}

/// A step of the one-call version upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UploadStage {
    /// Reading the plugin to learn its cloud.
    ReadingPlugin,
    /// Asking for a presigned upload URL.
    RequestingUrl,
    /// Sending the archive to cloud storage.
    Uploading,
    /// Creating the version.
    CreatingVersion,
    /// Waiting for the version to become READY.
    WaitingForReady,
    /// Looking for a version with the same version string (before publishing it).
    FindingVersion,
    /// Deleting a FAILED version with the same version string (to publish it again).
    DeletingFailedVersion,
}

impl fmt::Display for UploadStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UploadStage::ReadingPlugin => "reading the plugin",
            UploadStage::RequestingUrl => "requesting an upload URL",
            UploadStage::Uploading => "uploading the archive",
            UploadStage::CreatingVersion => "creating the version",
            UploadStage::WaitingForReady => "waiting for READY",
            UploadStage::FindingVersion => "looking for an existing version",
            UploadStage::DeletingFailedVersion => "deleting the FAILED version",
        })
    }
}

/// What happened to a version created by an upload that then failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Cleanup {
    /// It was deleted, so nothing half-made remains.
    Deleted,
    /// It was kept: it may still become READY (the wait timed out), or cleanup was turned off.
    Kept,
    /// Deleting it failed; it remains.
    DeleteFailed(Box<Error>),
}

fn seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs_f64().ceil() as u64)
}

fn attempts_suffix(attempts: u32) -> String {
    if attempts > 1 {
        format!(" ({attempts} attempts)")
    } else {
        String::new()
    }
}

fn status_phrase(status: Option<StatusCode>) -> String {
    status.map(|s| s.as_u16().to_string()).unwrap_or_default()
}

fn request_id_suffix(id: Option<&str>) -> String {
    match id.map(|id| one_line(id, 256)) {
        Some(id) if !id.is_empty() => format!(" (request id {id})"),
        _ => String::new(),
    }
}

impl Error {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn config(reason: impl Into<String>) -> Self {
        Error::Config {
            reason: reason.into(),
        }
    }

    pub(crate) fn protocol(
        service: Service,
        operation: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Error::Protocol {
            service,
            operation,
            reason: reason.into(),
        }
    }

    /// The error a workflow wrapper ([`Error::Upload`]) carries, or `self`.
    pub fn cause(&self) -> &Error {
        match self {
            Error::Upload { source, .. } => source.cause(),
            other => other,
        }
    }

    /// The step of the one-call upload that failed, for errors from that workflow.
    pub fn upload_stage(&self) -> Option<UploadStage> {
        match self {
            Error::Upload { stage, .. } => Some(*stage),
            _ => None,
        }
    }

    /// The category of the error (of its cause, for workflow errors).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Error::Config { .. } => ErrorKind::Config,
            Error::Api(api) => api.kind,
            Error::Transport { timeout: true, .. } => ErrorKind::Timeout,
            Error::Transport { .. } => ErrorKind::Transport,
            Error::Decode { .. } => ErrorKind::Decode,
            Error::Deadline { .. } => ErrorKind::Timeout,
            Error::ResponseTooLarge { .. } => ErrorKind::ResponseTooLarge,
            Error::Storage { .. } => ErrorKind::Storage,
            Error::Upload { source, .. } => source.kind(),
            Error::Wait { .. } => ErrorKind::Wait,
            Error::Protocol { .. } => ErrorKind::Protocol,
            Error::OAuth(oauth) => oauth.kind(),
        }
    }

    /// The failed token request, when the call could not get an OAuth access token.
    pub fn oauth_error(&self) -> Option<&OAuthError> {
        match self.cause() {
            Error::OAuth(oauth) => Some(oauth),
            _ => None,
        }
    }

    /// The error response, when the server answered with an error status.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self.cause() {
            Error::Api(api) => Some(api),
            _ => None,
        }
    }

    /// The HTTP status, when a response was received.
    pub fn status(&self) -> Option<StatusCode> {
        match self.cause() {
            Error::Api(api) => Some(api.status),
            Error::Decode { status, .. } | Error::ResponseTooLarge { status, .. } => *status,
            Error::Storage { status, .. } => Some(*status),
            Error::OAuth(oauth) => oauth.status(),
            _ => None,
        }
    }

    /// The server's request id, when it sent one.
    pub fn request_id(&self) -> Option<&str> {
        match self.cause() {
            Error::Api(api) => api.request_id.as_deref(),
            Error::Decode { request_id, .. }
            | Error::Storage { request_id, .. }
            | Error::ResponseTooLarge { request_id, .. } => request_id.as_deref(),
            Error::OAuth(oauth) => oauth.request_id(),
            _ => None,
        }
    }

    /// The server's machine code, when it sent one.
    pub fn code(&self) -> Option<&str> {
        match self.cause() {
            Error::Api(api) => api.code.as_deref(),
            Error::Storage { code, .. } => code.as_deref(),
            Error::OAuth(oauth) => oauth.code(),
            _ => None,
        }
    }

    /// The server's messages (empty when there were none).
    pub fn messages(&self) -> &[String] {
        match self.cause() {
            Error::Api(api) => &api.messages,
            Error::OAuth(oauth) => match &oauth.problem {
                TokenProblem::Refused { message, .. } => message.as_slice(),
                _ => &[],
            },
            _ => &[],
        }
    }

    /// The error body as text when it was not the documented JSON.
    pub fn raw_body(&self) -> Option<&str> {
        self.api_error().and_then(ApiError::raw_body)
    }

    /// How long the server asked the client to wait, for a rate-limited call.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.cause() {
            Error::OAuth(oauth) => oauth.retry_after(),
            _ => self.api_error().and_then(ApiError::retry_after),
        }
    }

    /// The rate-limit state the failing response reported.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.api_error().and_then(ApiError::rate_limit)
    }

    /// How many requests were sent for the call (0 when it failed before sending).
    pub fn attempts(&self) -> u32 {
        match self.cause() {
            Error::Api(api) => api.attempts,
            Error::Transport { attempts, .. } | Error::Deadline { attempts, .. } => *attempts,
            Error::OAuth(oauth) => oauth.attempts,
            Error::Decode { .. } | Error::Storage { .. } | Error::ResponseTooLarge { .. } => 1,
            _ => 0,
        }
    }

    /// `true` for a 404.
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }
    /// `true` for a 409.
    pub fn is_conflict(&self) -> bool {
        self.kind() == ErrorKind::Conflict
    }
    /// `true` for a 401.
    pub fn is_unauthorized(&self) -> bool {
        self.kind() == ErrorKind::Unauthorized
    }
    /// `true` for a rate limit that was not waited out.
    pub fn is_rate_limited(&self) -> bool {
        self.kind() == ErrorKind::RateLimited
    }
    /// `true` when a timeout ended the call.
    pub fn is_timeout(&self) -> bool {
        self.kind() == ErrorKind::Timeout
    }
    /// `true` when trying the same call again later may succeed (rate limits, 5xx,
    /// timeouts and connection failures). The crate has already retried what was safe.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::RateLimited
                | ErrorKind::ServerError
                | ErrorKind::Timeout
                | ErrorKind::Transport
        )
    }
}

impl From<ApiError> for Error {
    fn from(api: ApiError) -> Self {
        Error::Api(Box::new(api))
    }
}

/// Turns a not-found error into `Ok(None)`.
pub(crate) fn not_found_as_none<T>(result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn is_one_line(text: &str) -> bool {
        !text
            .chars()
            .any(|c| c.is_control() || (c.is_whitespace() && c != ' '))
    }

    /// Found by the `golem_error_body` fuzz target: a code with a control character (here DEL)
    /// was printed as sent, so a response could break or forge log lines.
    #[test]
    fn display_flattens_server_codes_and_request_ids() {
        let err = ApiError::from_parts(
            Service::Golem,
            StatusCode::NOT_FOUND,
            &HeaderMap::new(),
            b"{\"code\":\"PLUGIN_N\x7fT_FOUND\\nINJECTED\",\"error\":\"Plugin not found\"}",
        );
        assert_eq!(err.code(), Some("PLUGIN_N\u{7f}T_FOUND\nINJECTED"));
        assert_eq!(
            err.to_string(),
            "golem unknown: 404 Not Found [PLUGIN_N T_FOUND INJECTED]: Plugin not found"
        );

        // Confluent's newer shape carries the request id in the body.
        let err = ApiError::from_parts(
            Service::Confluent,
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            br#"{"error":{"code":"a\u2000b","message":"m"},"requestId":"r-1\r\nX: y"}"#,
        );
        assert_eq!(
            err.to_string(),
            "confluent unknown: 400 Bad Request [a b]: m (request id r-1 X: y)"
        );

        // A header value may hold tabs.
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("r\t2"));
        let err = ApiError::from_parts(Service::Golem, StatusCode::BAD_GATEWAY, &headers, b"");
        assert!(is_one_line(&err.to_string()), "{err}");
        // Only visible ASCII is accepted as a request id; anything else is dropped.
        assert_eq!(err.request_id(), None, "{err}");

        // A code of whitespace only is left out rather than shown as `[]`.
        let err = ApiError::from_parts(
            Service::Golem,
            StatusCode::CONFLICT,
            &HeaderMap::new(),
            br#"{"code":" \n ","error":"exists"}"#,
        );
        assert_eq!(err.to_string(), "golem unknown: 409 Conflict: exists");
    }

    #[test]
    fn protocol_errors_display_on_one_line() {
        let err = Error::protocol(
            Service::Confluent,
            "list_ccpm_v1_custom_connect_plugins",
            "first line\nsecond line",
        );
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert_eq!(
            err.to_string(),
            "confluent list_ccpm_v1_custom_connect_plugins: protocol error: first line second line"
        );
        assert!(!err.is_retryable());
        assert_eq!(err.status(), None);
        assert_eq!(err.attempts(), 0);
    }

    #[test]
    fn upload_display_is_one_line() {
        let err = Error::Storage {
            cloud: "AWS\n".into(),
            status: StatusCode::FORBIDDEN,
            code: Some("Access\tDenied\r\n".into()),
            message: Some("no\nway".into()),
            request_id: None,
        };
        assert_eq!(
            err.to_string(),
            "upload to AWS storage failed: 403 Forbidden [Access Denied]: no way"
        );
    }
}
