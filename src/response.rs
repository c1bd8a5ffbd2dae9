//! A successful response: the decoded value plus what the server said about the call.

use std::ops::{Deref, DerefMut};

use reqwest::StatusCode;
use reqwest::header::HeaderValue;

use crate::ratelimit::RateLimit;

/// A decoded response value with its status, request id, rate-limit state and attempt count.
///
/// It dereferences to the value, so fields and methods of `T` are reachable directly; call
/// [`Response::into_inner`] to take the value out. The value is kept on the heap, so a response
/// is as cheap to move or return as a pointer and a few fields, however large `T` is.
#[derive(Debug, Clone, PartialEq)]
pub struct Response<T> {
    /// Boxed where it was decoded and never copied again until taken out.
    value: Box<T>,
    status: StatusCode,
    /// Kept as the header value (visible ASCII, checked when read): no copy of it is made.
    request_id: Option<HeaderValue>,
    rate_limit: Option<RateLimit>,
    attempts: u32,
}

impl<T> Response<T> {
    pub(crate) fn new(
        value: Box<T>,
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
        *self.value
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
            value: Box::new(f(*self.value)),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn response<T>(value: T) -> Response<T> {
        Response::new(
            Box::new(value),
            StatusCode::OK,
            Some(HeaderValue::from_static("req-1")),
            None,
            1,
        )
    }

    #[test]
    fn a_response_stays_small_whatever_its_value() {
        // Responses are returned through several async layers and by callers' own functions:
        // the value is on the heap, so none of them copies it.
        let small = std::mem::size_of::<Response<u8>>();
        assert_eq!(std::mem::size_of::<Response<[u8; 4096]>>(), small);
        assert!(small <= 128, "a response is {small} bytes");
    }

    #[test]
    fn the_value_is_reachable_and_keeps_its_metadata_when_mapped() {
        let mut answer = response(vec![1, 2, 3]);
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
