//! How persistently a call is retried.

use std::time::Duration;

use backoff::backoff::Backoff as _;
use backoff::{ExponentialBackoff, ExponentialBackoffBuilder};
use tokio::time::Instant;

use super::outcome::GiveUp;

/// Highest accepted retry count; [`RetryPolicy::max_retries`] clamps larger values to this.
pub const MAX_RETRIES_LIMIT: u32 = 10;

const DEFAULT_MAX_RETRIES: u32 = 3;
const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(60);
const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);
const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(200);
const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Growth factor of the backoff interval between attempts.
const BACKOFF_MULTIPLIER: f64 = 2.0;
/// Each backoff delay is drawn from [50 %, 150 %] of the current interval.
const BACKOFF_RANDOMIZATION: f64 = 0.5;
/// A server-requested wait is lengthened by at most 1/20 (5 %) of itself, to spread out the
/// clients that were all told the same reset time...
const SERVER_WAIT_JITTER_DIVISOR: u32 = 20;
/// ...and never by more than this.
const MAX_SERVER_WAIT_JITTER: Duration = Duration::from_millis(500);

/// How persistently a call is retried.
///
/// Start from [`RetryPolicy::standard`] (also the [`Default`]) or [`RetryPolicy::none`] and adjust
/// it with the chained setters; read the settings from the fields.
///
/// | setting | standard | meaning |
/// |---|---|---|
/// | `max_retries` | 3 | requests sent after the first one (at most [`MAX_RETRIES_LIMIT`]) |
/// | `max_wait` | 60 s | longest single wait; a server asking for more gets no retry |
/// | `deadline` | 2 min | total time a call may take, attempts and waits included; `None` for no limit |
/// | `initial_backoff` | 200 ms | first backoff interval for failures without a server wait |
/// | `max_backoff` | 5 s | longest backoff interval |
/// | `share_rate_limits` | on | honour and update the client's [`RateLimitGate`](super::RateLimitGate) |
///
/// ```
/// use std::time::Duration;
/// use cloud_plugin_sdk::retry::RetryPolicy;
///
/// let policy = RetryPolicy::standard()
///     .max_retries(5)
///     .max_wait(Duration::from_secs(30))
///     .deadline(Some(Duration::from_secs(90)));
/// assert_eq!(policy.max_retries, 5);
/// assert_eq!(RetryPolicy::standard().max_retries(50).max_retries, 10); // clamped
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// How many times a request may be sent again after the first attempt (values above
    /// [`MAX_RETRIES_LIMIT`] count as that limit). A 429 answering a request the shared gate sent
    /// before the time the server had named, on its own estimate of the server's rate, is the
    /// gate's miss and is not counted.
    pub max_retries: u32,
    /// The longest single wait, whether asked for by the server, imposed by the shared gate or
    /// computed as backoff. A server asking for longer gets its answer returned at once.
    pub max_wait: Duration,
    /// The total time a call may take, attempts and waits included; `None` for no limit.
    pub deadline: Option<Duration>,
    /// The first backoff interval, used when a retryable failure carries no server wait.
    pub initial_backoff: Duration,
    /// The longest backoff interval; the interval doubles per attempt up to this value.
    pub max_backoff: Duration,
    /// Whether calls honour and update the client's rate-limit gate.
    pub share_rate_limits: bool,
}

impl RetryPolicy {
    /// Three retries, waits capped at 60 s, a 2-minute deadline, backoff from 200 ms up to 5 s, and
    /// a shared rate-limit gate.
    pub fn standard() -> Self {
        RetryPolicy {
            max_retries: DEFAULT_MAX_RETRIES,
            max_wait: DEFAULT_MAX_WAIT,
            deadline: Some(DEFAULT_DEADLINE),
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            share_rate_limits: true,
        }
    }

    /// No retries and no shared gate: every request is sent exactly once, at once, and its
    /// response is returned as it came.
    ///
    /// Call [`share_rate_limits(true)`](Self::share_rate_limits) on the result to keep honouring
    /// pauses other requests of the client were told about.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            share_rate_limits: false,
            ..Self::standard()
        }
    }

    /// Sets how many times a request may be sent again after the first attempt.
    ///
    /// Values above [`MAX_RETRIES_LIMIT`] (10) are clamped to it: more retries than that only
    /// add load to a server that is already failing.
    #[must_use]
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n.min(MAX_RETRIES_LIMIT);
        self
    }

    /// Sets the longest single wait, whether asked for by the server, imposed by the shared gate
    /// or computed as backoff.
    ///
    /// When the server asks for a longer wait the call returns the server's response at once.
    #[must_use]
    pub fn max_wait(mut self, d: Duration) -> Self {
        self.max_wait = d;
        self
    }

    /// Sets the total time a call may take; `None` removes the limit.
    ///
    /// The deadline bounds everything the call does: waiting for the gate, every attempt (also one
    /// whose answer is still arriving) and the waits between attempts.
    #[must_use]
    pub fn deadline(mut self, d: Option<Duration>) -> Self {
        self.deadline = d;
        self
    }

    /// Sets the first backoff interval, used when a retryable failure carries no server wait.
    #[must_use]
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// Sets the longest backoff interval; the interval doubles per attempt up to this value.
    #[must_use]
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// Turns the shared rate-limit gate on or off for calls made with this policy.
    ///
    /// When off, a call neither waits for nor reports pauses on the client's gate.
    #[must_use]
    pub fn share_rate_limits(mut self, on: bool) -> Self {
        self.share_rate_limits = on;
        self
    }

    /// The retry count in effect: [`max_retries`](Self::max_retries) within its limit.
    pub(crate) fn retries(&self) -> u32 {
        self.max_retries.min(MAX_RETRIES_LIMIT)
    }

    /// A fresh generator of jittered, exponentially growing intervals for one call.
    pub(crate) fn backoff(&self) -> ExponentialBackoff {
        ExponentialBackoffBuilder::new()
            .with_initial_interval(self.initial_backoff.min(self.max_backoff))
            .with_max_interval(self.max_backoff)
            .with_multiplier(BACKOFF_MULTIPLIER)
            .with_randomization_factor(BACKOFF_RANDOMIZATION)
            // Deadlines and attempt counts are kept by the engine, never by the crate.
            .with_max_elapsed_time(None)
            .build()
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::standard()
    }
}

/// The limits on the waits of one call: the policy's cap and the call's deadline.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WaitLimits {
    /// The longest single wait.
    pub(crate) max_wait: Duration,
    /// When the call must be over, if ever.
    pub(crate) deadline: Option<Instant>,
}

impl WaitLimits {
    /// The limits of a call under `policy` that ends at `deadline`.
    pub(crate) fn new(policy: &RetryPolicy, deadline: Option<Instant>) -> Self {
        WaitLimits {
            max_wait: policy.max_wait,
            deadline,
        }
    }

    /// Time left before the deadline (`None` when there is no deadline).
    pub(crate) fn time_left(&self) -> Option<Duration> {
        self.deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// Checks a wait against the cap and the deadline.
    pub(crate) fn check(&self, wait: Duration) -> Result<(), GiveUp> {
        if wait > self.max_wait {
            return Err(GiveUp::WaitExceedsCap { requested: wait });
        }
        if self.time_left().is_some_and(|left| wait > left) {
            return Err(GiveUp::WaitExceedsDeadline { requested: wait });
        }
        Ok(())
    }

    /// Lengthens a permitted wait by a little jitter, without breaking the cap or the deadline.
    pub(crate) fn jittered(&self, wait: Duration) -> Duration {
        let jitter = jitter_up_to((wait / SERVER_WAIT_JITTER_DIVISOR).min(MAX_SERVER_WAIT_JITTER));
        let mut total = wait.saturating_add(jitter).min(self.max_wait.max(wait));
        if let Some(left) = self.time_left() {
            total = total.min(left.max(wait));
        }
        total
    }
}

/// A random duration in `[0, max]`, drawn with the backoff crate's generator.
fn jitter_up_to(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    // A randomization factor of 1 draws uniformly from [0, 2 × interval].
    ExponentialBackoffBuilder::new()
        .with_initial_interval(max / 2)
        .with_max_interval(max)
        .with_multiplier(1.0)
        .with_randomization_factor(1.0)
        .with_max_elapsed_time(None)
        .build()
        .next_backoff()
        .unwrap_or(Duration::ZERO)
        .min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_bounded() {
        for _ in 0..200 {
            let jitter = jitter_up_to(Duration::from_millis(50));
            assert!(jitter <= Duration::from_millis(50));
        }
        assert_eq!(jitter_up_to(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn standard_values() {
        let policy = RetryPolicy::default();
        assert_eq!(policy, RetryPolicy::standard());
        assert_eq!(policy.max_retries, 3);
        assert_eq!(policy.max_wait, Duration::from_secs(60));
        assert_eq!(policy.deadline, Some(Duration::from_secs(120)));
        assert_eq!(policy.initial_backoff, Duration::from_millis(200));
        assert_eq!(policy.max_backoff, Duration::from_secs(5));
        assert!(policy.share_rate_limits);
    }

    #[test]
    fn none_sends_once_without_gate() {
        let policy = RetryPolicy::none();
        assert_eq!(policy.max_retries, 0);
        assert!(!policy.share_rate_limits);
    }

    #[test]
    fn max_retries_is_clamped() {
        assert_eq!(RetryPolicy::standard().max_retries(1000).max_retries, 10);
        assert_eq!(
            RetryPolicy::standard().max_retries(u32::MAX).max_retries,
            10
        );
        assert_eq!(RetryPolicy::standard().max_retries(7).max_retries, 7);
        let mut direct = RetryPolicy::standard();
        direct.max_retries = 99;
        assert_eq!(direct.retries(), MAX_RETRIES_LIMIT);
    }

    #[test]
    fn backoff_stays_within_bounds() {
        let policy = RetryPolicy::standard();
        let mut backoff = policy.backoff();
        let first = backoff.next_backoff().expect("no elapsed-time limit");
        assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(301));
        for _ in 0..50 {
            let interval = backoff.next_backoff().expect("no elapsed-time limit");
            // The crate may overshoot its ceiling by the randomization; the engine clamps.
            assert!(interval <= Duration::from_millis(7_501));
        }
    }

    #[test]
    fn backoff_survives_extreme_settings() {
        let policy = RetryPolicy::standard()
            .initial_backoff(Duration::MAX)
            .max_backoff(Duration::MAX);
        let mut backoff = policy.backoff();
        for _ in 0..5 {
            assert!(backoff.next_backoff().is_some());
        }
    }
}
