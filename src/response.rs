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
    status: StatusCode,
    /// Visible ASCII only (checked when read from the headers), so it reads as text.
    request_id: Option<HeaderValue>,
    rate_limit: Option<RateLimit>,
    attempts: u32,
    value: T,
}

impl<T> Response<T> {
    pub(crate) fn new(
        status: StatusCode,
        request_id: Option<HeaderValue>,
        rate_limit: Option<RateLimit>,
        attempts: u32,
        value: T,
    ) -> Self {
        Response {
            status,
            request_id,
            rate_limit,
            attempts,
            value,
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
            status: self.status,
            request_id: self.request_id,
            rate_limit: self.rate_limit,
            attempts: self.attempts,
            value: f(self.value),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_is_reachable_and_keeps_its_metadata_when_mapped() {
        let mut answer = Response::new(
            StatusCode::OK,
            Some(HeaderValue::from_static("req-1")),
            None,
            1,
            vec![1, 2, 3],
        );
        assert_eq!(answer.len(), 3);
        answer.push(4);
        let mapped = answer.map(|values| values.iter().sum::<i32>());
        assert_eq!(*mapped, 10);
        assert_eq!(mapped.status(), StatusCode::OK);
        assert_eq!(mapped.request_id(), Some("req-1"));
        assert_eq!(mapped.attempts(), 1);
        assert_eq!(mapped.into_inner(), 10);
    }
}
