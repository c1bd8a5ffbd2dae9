//! The retry loop: admission by the gate, attempts, classification and the waits between them.

use backoff::ExponentialBackoff;
use backoff::backoff::Backoff as _;
use reqwest::Method;
use tokio::time::Instant;

use super::classify::{IDEMPOTENT_METHODS, Reason, Retry, View, classify};
use super::gate::{CallLabel, RateLimitGate, Ticket};
use super::outcome::{Attempts, GiveUp, synthesized_rate_limit};
use super::policy::{RetryPolicy, WaitLimits};
use crate::ratelimit::{RateLimit, request_id};

/// Sends `request` through `http` under `policy`, honouring and updating `gate`.
///
/// `service` and `operation` name the call in tracing events. The result is the last response or
/// transport error, exactly as `reqwest` produced it (or a synthesized 429, see
/// [`SynthesizedResponse`](super::SynthesizedResponse)), together with the number of attempts made
/// and why retrying stopped. Statuses are never turned into errors here; mapping them is the
/// caller's job. The policy's deadline bounds the waits; the time a single request takes is
/// bounded by the HTTP client's timeout.
///
/// Each retry sends a copy of the request, made before the previous attempt goes out and only while
/// another attempt may follow; a request whose body is a stream cannot be copied and is sent once.
pub async fn execute(
    http: &reqwest::Client,
    policy: &RetryPolicy,
    gate: &RateLimitGate,
    request: reqwest::Request,
    service: &'static str,
    operation: &str,
) -> (reqwest::Result<reqwest::Response>, Attempts) {
    let deadline = policy
        .deadline
        .and_then(|limit| Instant::now().checked_add(limit));
    let engine = Engine {
        http,
        policy,
        gate,
        service,
        operation,
        deadline,
        repeatable: false,
    };
    engine.run(request).await
}

/// One call's run through the engine.
pub(crate) struct Engine<'a> {
    pub(crate) http: &'a reqwest::Client,
    pub(crate) policy: &'a RetryPolicy,
    pub(crate) gate: &'a RateLimitGate,
    pub(crate) service: &'static str,
    pub(crate) operation: &'a str,
    /// When the call must be over.
    pub(crate) deadline: Option<Instant>,
    /// Whether the request has no side effects whatever its method (a token request), so that
    /// every transient failure may be retried as for an idempotent method.
    pub(crate) repeatable: bool,
}

/// An attempt's outcome.
type Outcome = reqwest::Result<reqwest::Response>;

fn view(outcome: &Outcome) -> View<'_> {
    match outcome {
        Ok(response) => View::Answer(response.status(), response.headers()),
        Err(error) => View::Failed(error),
    }
}

impl Engine<'_> {
    fn label<'b>(&'b self, method: &'b Method) -> CallLabel<'b> {
        CallLabel {
            service: self.service,
            operation: self.operation,
            method,
        }
    }

    /// Runs the call: attempts until an outcome is final or a limit is reached.
    pub(crate) async fn run(&self, mut request: reqwest::Request) -> (Outcome, Attempts) {
        let method = request.method().clone();
        let limits = WaitLimits::new(self.policy, self.deadline);
        let retries = self.policy.retries();
        let shared = self.policy.share_rate_limits;
        let mut attempts = Attempts::default();
        // Attempts that used up a retry: a refused request the gate sent before the time the
        // server named was the gate's estimate, not the call's attempt.
        let mut charged = 0;
        // The call's place in the gate's line, kept by its retries.
        let mut arrival = None;
        let mut backoff: Option<ExponentialBackoff> = None;
        loop {
            let ticket = if shared {
                match self
                    .gate
                    .wait_turn(&limits, self.label(&method), &mut arrival)
                    .await
                {
                    Ok(ticket) => Some(ticket),
                    Err((give_up, remaining)) => {
                        attempts.give_up = Some(give_up);
                        attempts.synthesized = true;
                        attempts.rate_limit = None;
                        self.log_give_up(&method, &attempts, None, None);
                        return (Ok(synthesized_rate_limit(remaining)), attempts);
                    }
                }
            } else {
                None
            };
            let spare = if charged < retries || (shared && retries > 0) {
                copy_request(&request)
            } else {
                None
            };
            let early = ticket.as_ref().is_some_and(Ticket::early);
            attempts.attempts += 1;
            let outcome = self.send(request).await;
            let Some(retry) = self.settle(&method, &outcome, ticket, &mut attempts, &limits) else {
                return (outcome, attempts);
            };
            // A 429 under the shared gate: the gate learned from it and holds the retry.
            let gated = shared && retry.reason.status() == Some(429);
            if !(gated && early) {
                charged += 1;
            }
            let response_request_id = match &outcome {
                Ok(response) => request_id(response.headers()),
                Err(_) => None,
            };
            let next = if charged > retries {
                Err(GiveUp::RetriesExhausted)
            } else if let Some(spare) = spare {
                let backoff = backoff.get_or_insert_with(|| self.policy.backoff());
                self.retry_delay(&limits, retry.server_wait, backoff, gated)
                    .map(|delay| (delay, spare))
            } else {
                Err(GiveUp::BodyNotCloneable)
            };
            let (delay, spare) = match next {
                Ok(next) => next,
                Err(give_up) => {
                    attempts.give_up = Some(give_up);
                    self.log_give_up(
                        &method,
                        &attempts,
                        Some(retry.reason),
                        response_request_id.as_deref(),
                    );
                    return (outcome, attempts);
                }
            };
            let expected = match delay {
                Some(delay) => delay,
                None => self.gate.remaining().unwrap_or_default(),
            };
            tracing::debug!(
                target: "cloud_plugin_sdk::retry",
                service = self.service,
                operation = self.operation,
                method = method.as_str(),
                status = retry.reason.status(),
                error_kind = retry.reason.error_kind(),
                attempt = attempts.attempts,
                delay_ms = super::millis(expected),
                request_id = response_request_id.as_deref(),
                "retrying request",
            );
            // Release the connection before sleeping rather than holding an unread body.
            drop(outcome);
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            request = spare;
        }
    }

    /// Sends one attempt.
    async fn send(&self, request: reqwest::Request) -> Outcome {
        self.http.execute(request).await
    }

    /// Records an attempt's outcome: teaches the gate, releases the ticket and says whether the
    /// outcome is final (`None`) or worth retrying.
    fn settle(
        &self,
        method: &Method,
        outcome: &Outcome,
        ticket: Option<Ticket<'_>>,
        attempts: &mut Attempts,
        limits: &WaitLimits,
    ) -> Option<Retry> {
        attempts.rate_limit = None;
        let view = view(outcome);
        if let View::Answer(status, headers) = view {
            let rate_limit = RateLimit::from_headers(headers);
            attempts.rate_limit = rate_limit;
            if let Some(ticket) = &ticket {
                self.gate
                    .observe(status, headers, rate_limit, ticket, limits);
            }
        }
        // The request is no longer in flight, whatever happens next.
        drop(ticket);
        let retry = classify(method, self.repeatable, &view);
        if retry.is_none() {
            let failed = match view {
                View::Answer(status, _) => status.as_u16() >= 400,
                View::Failed(_) => true,
            };
            attempts.give_up = failed.then_some(GiveUp::NotRetryable);
        }
        retry
    }

    /// The wait before the next attempt, or why there will be none; `None` when the shared gate
    /// holds the next attempt instead (`gated`: it learned from a 429 that named a wait).
    fn retry_delay(
        &self,
        limits: &WaitLimits,
        server_wait: Option<std::time::Duration>,
        backoff: &mut ExponentialBackoff,
        gated: bool,
    ) -> Result<Option<std::time::Duration>, GiveUp> {
        if let Some(wait) = server_wait {
            limits.check(wait)?;
            return Ok(if gated {
                None
            } else {
                Some(limits.jittered(wait))
            });
        }
        // With no elapsed-time limit the generator always yields; fall back to the ceiling anyway.
        let interval = backoff
            .next_backoff()
            .unwrap_or(self.policy.max_backoff)
            .min(self.policy.max_backoff)
            .min(self.policy.max_wait);
        if limits.time_left().is_some_and(|left| interval > left) {
            return Err(GiveUp::WaitExceedsDeadline {
                requested: interval,
            });
        }
        Ok(Some(interval))
    }

    fn log_give_up(
        &self,
        method: &Method,
        attempts: &Attempts,
        reason: Option<Reason>,
        request_id: Option<&str>,
    ) {
        tracing::debug!(
            target: "cloud_plugin_sdk::retry",
            service = self.service,
            operation = self.operation,
            method = method.as_str(),
            status = reason.and_then(Reason::status),
            error_kind = reason.and_then(Reason::error_kind),
            attempt = attempts.attempts,
            give_up = ?attempts.give_up,
            synthesized = attempts.synthesized,
            request_id,
            "not retrying request",
        );
    }
}

/// The wait before a call runs its operation again because a success's body broke off while it
/// was read, or `None` when it may not: only an idempotent request is repeated, within the retry
/// count (`attempts` were sent so far) and the deadline.
pub(crate) fn rerun_delay(
    policy: &RetryPolicy,
    method: &Method,
    attempts: u32,
    deadline: Option<Instant>,
) -> Option<std::time::Duration> {
    if !IDEMPOTENT_METHODS.contains(method) || attempts > policy.retries() {
        return None;
    }
    let delay = policy
        .backoff()
        .next_backoff()
        .unwrap_or(policy.max_backoff)
        .min(policy.max_backoff)
        .min(policy.max_wait);
    let limits = WaitLimits::new(policy, deadline);
    limits
        .time_left()
        .is_none_or(|left| delay < left)
        .then_some(delay)
}

/// A copy of `request` for another attempt; `None` when its body is a stream.
///
/// Made field by field: `Request::try_clone` builds an extension map for every copy, even of a
/// request without a timeout, and every call makes a copy while a retry may follow.
fn copy_request(request: &reqwest::Request) -> Option<reqwest::Request> {
    let body = match request.body() {
        Some(body) => Some(reqwest::Body::from(bytes::Bytes::copy_from_slice(
            body.as_bytes()?,
        ))),
        None => None,
    };
    let mut copy = reqwest::Request::new(request.method().clone(), request.url().clone());
    *copy.headers_mut() = request.headers().clone();
    *copy.version_mut() = request.version();
    // The timeout is the one extension a request can be given through reqwest's public API.
    if let Some(timeout) = request.timeout() {
        *copy.timeout_mut() = Some(*timeout);
    }
    *copy.body_mut() = body;
    Some(copy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn request_copies_keep_everything_but_a_stream() {
        let url = reqwest::Url::parse("https://api.example.com/v1/plugins/p%2F1?x=1").unwrap();
        let mut request = reqwest::Request::new(Method::DELETE, url.clone());
        request
            .headers_mut()
            .append("x-many", reqwest::header::HeaderValue::from_static("1"));
        request
            .headers_mut()
            .append("x-many", reqwest::header::HeaderValue::from_static("2"));
        *request.version_mut() = reqwest::Version::HTTP_2;
        *request.timeout_mut() = Some(Duration::from_millis(1500));
        let copy = copy_request(&request).expect("a bodiless request can be copied");
        assert_eq!(copy.method(), Method::DELETE);
        assert_eq!(copy.url(), &url);
        assert_eq!(copy.headers(), request.headers());
        assert_eq!(copy.version(), reqwest::Version::HTTP_2);
        assert_eq!(copy.timeout(), Some(&Duration::from_millis(1500)));
        assert!(copy.body().is_none());

        let plain = reqwest::Request::new(Method::GET, url.clone());
        assert_eq!(copy_request(&plain).expect("copy").timeout(), None);

        let mut with_bytes = reqwest::Request::new(Method::POST, url.clone());
        *with_bytes.body_mut() = Some(reqwest::Body::from("{\"a\":1}"));
        let copy = copy_request(&with_bytes).expect("bytes can be copied");
        assert_eq!(
            copy.body().and_then(reqwest::Body::as_bytes),
            Some(&b"{\"a\":1}"[..])
        );

        let mut streamed = reqwest::Request::new(Method::POST, url);
        *streamed.body_mut() = Some(reqwest::Body::wrap_stream(futures::stream::iter(vec![
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"chunk")),
        ])));
        assert!(copy_request(&streamed).is_none());
    }
}
