//! A successful response: the decoded value plus what the server said about the call.

use std::ops::{Deref, DerefMut};

use reqwest::StatusCode;
use reqwest::header::HeaderValue;

use crate::ratelimit::RateLimit;

/// A decoded response value with its status, request id, rate-limit state and attempt count.
///
/// It dereferences to the value, so fields and methods of `T` are reachable directly; call
/// [`Response::into_inner`] to take the value out.
#[derive(Debug, Clone, PartialEq)]
pub struct Response<T> {
    value: T,
    status: StatusCode,
    /// Kept as the header value (visible ASCII, checked when read): no copy of it is made.
    request_id: Option<HeaderValue>,
    rate_limit: Option<RateLimit>,
    attempts: u32,
}

impl<T> Response<T> {
    pub(crate) fn new(
        value: T,
        status: StatusCode,
        request_id: Option<HeaderValue>,
        rate_limit: Option<RateLimit>,
        attempts: u32,
    ) -> Self {
        Response {
            value,
            status,
            request_id,
            rate_limit,
            attempts,
        }
    }

    /// The decoded value.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The server's request id (`X-Request-Id`), when it sent one.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id
            .as_ref()
            .and_then(|value| value.to_str().ok())
    }

    /// The rate-limit state the server reported (`X-RateLimit-*`; `reset` is relative).
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.rate_limit
    }

    /// How many requests the call took, retries included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Transforms the value, keeping the metadata.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            value: f(self.value),
            status: self.status,
            request_id: self.request_id,
            rate_limit: self.rate_limit,
            attempts: self.attempts,
        }
    }
}

impl<T> Deref for Response<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Response<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}
