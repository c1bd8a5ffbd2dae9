//! Fault injection shared by both fakes.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Switches that make a fake misbehave, for testing retries, backoff and timeouts.
///
/// Each fake owns one `Faults` value, reachable through `GolemFake::faults` or
/// `ConfluentFake::faults`. Clones share state, so a clone can be handed to another task.
///
/// Faults apply to API requests only; uploads to the Confluent fake's storage endpoint are
/// never affected. When both a rate limit and failures are armed, the rate-limited responses
/// come first. Injected responses are answered before authentication and routing, so they also
/// hit requests that would otherwise fail.
///
/// ```
/// use std::time::Duration;
/// use cloud_plugin_sdk::mock::GolemFake;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let fake = GolemFake::start().await;
/// fake.faults().rate_limit(2, Duration::from_millis(1200)); // two 429s, `Retry-After: 2`
/// fake.faults().fail_next(1, 503);                           // then one 503
/// fake.faults().latency(Duration::from_millis(50));          // every response 50 ms late
/// // ... exercise the client ...
/// fake.faults().clear();
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct Faults {
    state: Arc<Mutex<FaultState>>,
}

#[derive(Debug, Default)]
struct FaultState {
    rate_limited: u32,
    retry_after: Duration,
    failures: u32,
    failure_status: u16,
    latency: Option<Duration>,
}

/// A response the next request must get instead of its normal one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Injected {
    /// A 429 with `Retry-After` set to this many whole seconds.
    RateLimited {
        /// Seconds until the client may try again.
        retry_after_secs: u64,
    },
    /// A failure with this status and the API's error body.
    Failure {
        /// The status code to answer with.
        status: u16,
    },
}

impl Faults {
    pub(crate) fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(FaultState::default())),
        }
    }

    fn lock(&self) -> MutexGuard<'_, FaultState> {
        // A panic elsewhere while holding the lock leaves plain counters behind; keep using them.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers the next `requests` API requests with `429 Too Many Requests`.
    ///
    /// The responses carry `Retry-After` (whole seconds, `retry_after` rounded up) and the
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining` (always `0`) and `X-RateLimit-Reset`
    /// headers. Confluent's 429 has no body; Golem's is plain text. Calling this again
    /// replaces the previous setting.
    pub fn rate_limit(&self, requests: u32, retry_after: Duration) {
        let mut state = self.lock();
        state.rate_limited = requests;
        state.retry_after = retry_after;
    }

    /// Answers the next `n` API requests with `status` and the API's error body for it.
    ///
    /// Golem answers with its JSON `ErrorBody` (`INTERNAL_UNKNOWN` / `Internal error` for a
    /// 5xx) or `ErrorsBody` for a 400; Confluent answers with a `Failure` body (plus
    /// `WWW-Authenticate` for a 401). A 429 behaves like [`Faults::rate_limit`] with a zero
    /// `Retry-After`. A status outside `100..=999` is sent as 500. Calling this again replaces
    /// the previous setting.
    pub fn fail_next(&self, n: u32, status: u16) {
        let mut state = self.lock();
        state.failures = n;
        state.failure_status = status;
    }

    /// Delays every API response by `d` (zero turns the delay off).
    pub fn latency(&self, d: Duration) {
        self.lock().latency = (!d.is_zero()).then_some(d);
    }

    /// Turns every fault off.
    pub fn clear(&self) {
        *self.lock() = FaultState::default();
    }

    /// Consumes one armed fault for the current request, if any.
    pub(crate) fn take(&self) -> Option<Injected> {
        let mut state = self.lock();
        if state.rate_limited > 0 {
            state.rate_limited -= 1;
            return Some(Injected::RateLimited {
                retry_after_secs: super::reply::ceil_secs(state.retry_after),
            });
        }
        if state.failures > 0 {
            state.failures -= 1;
            if state.failure_status == 429 {
                return Some(Injected::RateLimited {
                    retry_after_secs: 0,
                });
            }
            let status = if (100..=999).contains(&state.failure_status) {
                state.failure_status
            } else {
                500
            };
            return Some(Injected::Failure { status });
        }
        None
    }

    /// The configured response delay.
    pub(crate) fn current_latency(&self) -> Option<Duration> {
        self.lock().latency
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_come_before_failures_and_are_counted() {
        let faults = Faults::new();
        faults.fail_next(1, 503);
        faults.rate_limit(2, Duration::from_millis(1001));
        let limited = Injected::RateLimited {
            retry_after_secs: 2,
        };
        assert_eq!(faults.take(), Some(limited));
        assert_eq!(faults.clone().take(), Some(limited));
        assert_eq!(faults.take(), Some(Injected::Failure { status: 503 }));
        assert_eq!(faults.take(), None);
    }

    #[test]
    fn odd_statuses_and_clear() {
        let faults = Faults::new();
        faults.fail_next(1, 7);
        assert_eq!(faults.take(), Some(Injected::Failure { status: 500 }));
        faults.fail_next(1, 429);
        assert_eq!(
            faults.take(),
            Some(Injected::RateLimited {
                retry_after_secs: 0
            })
        );
        faults.latency(Duration::from_millis(5));
        faults.fail_next(3, 500);
        faults.clear();
        assert_eq!(faults.take(), None);
        assert_eq!(faults.current_latency(), None);
    }
}
