//! What a call reports about its attempts, next to its result.

use std::time::Duration;

use crate::ratelimit::RateLimit;

/// Why the engine stopped retrying, when it did not get a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GiveUp {
    /// The failure is not one a retry can fix, or retrying could repeat a side effect
    /// (for example a 500 on a POST, or a 404).
    NotRetryable,
    /// The retry budget was used up (with [`RetryPolicy::none`](super::RetryPolicy::none) there
    /// is no budget at all).
    RetriesExhausted,
    /// The server, or the shared gate, asked for a wait longer than the policy's cap.
    WaitExceedsCap {
        /// The wait that was asked for.
        requested: Duration,
    },
    /// The wait asked for, or the next backoff interval, would end after the call's deadline.
    WaitExceedsDeadline {
        /// The wait that was asked for.
        requested: Duration,
    },
    /// A retry was wanted but the request body is a stream that cannot be replayed.
    BodyNotCloneable,
}

/// What happened during one call of [`execute`](super::execute), returned next to its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Attempts {
    /// Requests actually sent (0 when the gate refused before the first one).
    pub attempts: u32,
    /// Why retrying stopped; `None` when the final response was not an error (status below 400).
    pub give_up: Option<GiveUp>,
    /// Whether the returned response is a locally made 429 (see [`SynthesizedResponse`]).
    pub synthesized: bool,
    /// What the returned response's `X-RateLimit-*` headers say; `None` when they are absent or
    /// there is no response.
    pub rate_limit: Option<RateLimit>,
}

/// Response extension marking a 429 that the engine made itself, without contacting the server,
/// because the client's [`RateLimitGate`](super::RateLimitGate) held requests longer than the cap
/// or the deadline allowed.
///
/// The response has no body and a `Retry-After` header with the remaining pause in whole seconds
/// (rounded up). Check for it with `response.extensions().get::<SynthesizedResponse>()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SynthesizedResponse;

/// A 429 made locally for a request the gate would have held too long.
pub(crate) fn synthesized_rate_limit(remaining: Duration) -> reqwest::Response {
    let seconds = remaining
        .as_secs()
        .saturating_add(u64::from(remaining.subsec_nanos() > 0));
    let mut response = http::Response::new(Vec::<u8>::new());
    *response.status_mut() = reqwest::StatusCode::TOO_MANY_REQUESTS;
    response.headers_mut().insert(
        reqwest::header::RETRY_AFTER,
        http::HeaderValue::from(seconds),
    );
    response.extensions_mut().insert(SynthesizedResponse);
    reqwest::Response::from(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthesized_response_shape() {
        let response = synthesized_rate_limit(Duration::from_millis(1500));
        assert_eq!(response.status(), reqwest::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .map(http::HeaderValue::as_bytes),
            Some(&b"2"[..])
        );
        assert!(response.extensions().get::<SynthesizedResponse>().is_some());
    }
}
