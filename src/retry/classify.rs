//! Which outcomes are worth another attempt: sending again must be both safe and useful.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};

use crate::ratelimit::{parse_retry_after, requested_wait};

/// Statuses that say "try again later" without implying the request had no effect.
const TRANSIENT_STATUSES: [StatusCode; 5] = [
    StatusCode::INTERNAL_SERVER_ERROR,
    StatusCode::BAD_GATEWAY,
    StatusCode::SERVICE_UNAVAILABLE,
    StatusCode::GATEWAY_TIMEOUT,
    StatusCode::REQUEST_TIMEOUT,
];

/// Methods whose repetition has the same effect as a single request (RFC 9110 §9.2.2).
pub(crate) const IDEMPOTENT_METHODS: [Method; 5] = [
    Method::GET,
    Method::HEAD,
    Method::PUT,
    Method::DELETE,
    Method::OPTIONS,
];

/// An attempt's outcome as the engine sees it.
pub(crate) enum View<'a> {
    /// The server answered with this status and these headers.
    Answer(StatusCode, &'a HeaderMap),
    /// The request failed in transport, without an answer.
    Failed(&'a reqwest::Error),
}

/// Why an outcome is worth repeating.
pub(crate) struct Retry {
    /// What went wrong.
    pub(crate) reason: Reason,
    /// The wait the server asked for, if it asked.
    pub(crate) server_wait: Option<Duration>,
}

/// What went wrong with an attempt, for tracing.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reason {
    /// An answer with this status.
    Status(StatusCode),
    /// A transport failure of this kind (`connect`, `timeout`, `transport`, `body`).
    Error(&'static str),
}

impl Reason {
    /// The status, for an answer.
    pub(crate) fn status(self) -> Option<u16> {
        match self {
            Reason::Status(status) => Some(status.as_u16()),
            Reason::Error(_) => None,
        }
    }

    /// The kind of failure, for a transport failure.
    pub(crate) fn error_kind(self) -> Option<&'static str> {
        match self {
            Reason::Status(_) => None,
            Reason::Error(kind) => Some(kind),
        }
    }
}

/// Decides whether an outcome may be retried (`None` when it is final):
///
/// * a 429 for every method: the server did not process the request;
/// * 500, 502, 503, 504 and 408, timeouts and dropped connections, only for
///   idempotent methods;
/// * a refused connection for every method: nothing was sent.
///
/// `repeatable` marks a request without side effects whatever its method (a token request), which
/// is retried as an idempotent one.
pub(crate) fn classify(method: &Method, repeatable: bool, view: &View<'_>) -> Option<Retry> {
    let idempotent = repeatable || IDEMPOTENT_METHODS.contains(method);
    match *view {
        View::Answer(status, _) if status.is_success() => None,
        View::Answer(status, headers) if status == StatusCode::TOO_MANY_REQUESTS => Some(Retry {
            reason: Reason::Status(status),
            server_wait: requested_wait(status, headers, SystemTime::now()),
        }),
        View::Answer(status, headers) if idempotent && TRANSIENT_STATUSES.contains(&status) => {
            let server_wait = if status == StatusCode::SERVICE_UNAVAILABLE {
                headers
                    .get(RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| parse_retry_after(value, SystemTime::now()))
            } else {
                None
            };
            Some(Retry {
                reason: Reason::Status(status),
                server_wait,
            })
        }
        View::Answer(..) => None,
        View::Failed(error) => {
            // A connect error happens before any byte of the request is written, so even a
            // POST can be sent again. Anything later may have reached the server.
            let kind = if error.is_connect() {
                Some("connect")
            } else if !idempotent {
                None
            } else if error.is_timeout() {
                Some("timeout")
            } else if error.is_request() {
                Some("transport")
            } else {
                None
            };
            kind.map(|kind| Retry {
                reason: Reason::Error(kind),
                server_wait: None,
            })
        }
    }
}
