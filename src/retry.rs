//! The retry engine every API operation goes through.
//!
//! [`execute`] sends one request and decides, response by response, whether sending it again is
//! both useful and safe. The clients' operations go through the same engine, except that each
//! attempt builds its request afresh instead of sending a copy kept from the first, so a call
//! answered at once pays nothing for retries it did not need. The rules:
//!
//! * **429 Too Many Requests** is retried for every method, because the server rejected the
//!   request without processing it. The wait is what the server asked for: `Retry-After`
//!   (delay-seconds or an HTTP-date), else Confluent's relative `X-RateLimit-Reset`, else a
//!   jittered exponential backoff.
//! * **500, 502, 503, 504, 408, timeouts and transport failures** are retried only for idempotent
//!   methods (GET, HEAD, PUT, DELETE, OPTIONS), with jittered exponential backoff (a 503 carrying
//!   `Retry-After` gets the requested wait instead). POST and PATCH are sent again only when the
//!   server provably did not process them: a 429, or a connection that failed before anything was
//!   sent. A create is never duplicated.
//! * Everything else is returned as it came.
//!
//! Retrying is bounded by a retry count, a cap on any single wait and a total deadline per call
//! (see [`RetryPolicy`]). When the server asks for a wait beyond the cap or the deadline the engine
//! does not sleep at all: it returns the server's response at once so the caller can report a
//! rate-limit error with the requested wait.
//!
//! Requests made through one client share a [`RateLimitGate`]. When a response says "no more
//! requests until T" (a 429 with a wait, or `X-RateLimit-Remaining: 0` with a reset), every other
//! request of that client holds until T instead of hitting the server and collecting its own 429.
//! If holding would break the cap or the deadline, the engine answers with a locally made 429
//! (marked with the [`SynthesizedResponse`] extension) and sends nothing.
//!
//! The gate also keeps the window's budget. A response with `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` tells how many requests the server will still admit; the requests already
//! on their way are subtracted from it, and once it is spent the others hold until the reset
//! instead of going out only to be refused. When a window ends, the next one starts with the
//! server's `X-RateLimit-Limit`, if it sent one. A server that reports its limits only on 429s is
//! probed: once the budget is spent, a single request goes out, and the rest follow only if it
//! is admitted (or hold until the reset its refusal names).
//!
//! The `backoff` crate is used for one thing only: drawing jittered exponential intervals. The
//! engine classifies outcomes, counts attempts and keeps the deadline itself, because the crate's
//! own retry loop lets a server-supplied delay bypass every limit and treats any `?` error as
//! transient.
//!
//! Each retry emits a `tracing` event at debug level with target `cloud_plugin_sdk::retry` and the
//! fields `service`, `operation`, `method`, `status` or `error_kind`, `attempt`, `delay_ms` and
//! `request_id`. Headers, URLs and bodies are never logged, so credentials cannot leak this way.
//!
//! ```
//! use std::time::Duration;
//! use cloud_plugin_sdk::{ConfluentClient, RetryPolicy};
//!
//! let policy = RetryPolicy::standard()
//!     .max_retries(5)
//!     .max_wait(Duration::from_secs(30))
//!     .deadline(Some(Duration::from_secs(90)));
//! assert_eq!(policy.get_max_retries(), 5);
//! assert_eq!(RetryPolicy::standard().max_retries(50).get_max_retries(), 10); // clamped
//!
//! let client = ConfluentClient::builder()
//!     .api_key("KEY", "secret")
//!     .retry_policy(policy)
//!     .build()?;
//! # let _ = client;
//! # Ok::<(), cloud_plugin_sdk::Error>(())
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use backoff::backoff::Backoff;
use backoff::{ExponentialBackoff, ExponentialBackoffBuilder};
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::ratelimit::{RateLimit, parse_retry_after, request_id, requested_wait};

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
/// Longest pause the gate remembers, so one absurd header cannot block a client for days.
const MAX_GATE_HOLD: Duration = Duration::from_secs(3600);
/// How often a request waiting for a probe's answer looks at the gate again, even without news.
const PROBE_RECHECK: Duration = Duration::from_secs(1);
/// Statuses that say "try again later" without implying the request had no effect.
const TRANSIENT_STATUSES: [StatusCode; 5] = [
    StatusCode::INTERNAL_SERVER_ERROR,
    StatusCode::BAD_GATEWAY,
    StatusCode::SERVICE_UNAVAILABLE,
    StatusCode::GATEWAY_TIMEOUT,
    StatusCode::REQUEST_TIMEOUT,
];
/// Methods whose repetition has the same effect as a single request (RFC 9110 §9.2.2).
const IDEMPOTENT_METHODS: [Method; 5] = [
    Method::GET,
    Method::HEAD,
    Method::PUT,
    Method::DELETE,
    Method::OPTIONS,
];

/// How persistently a call is retried.
///
/// Build one from [`RetryPolicy::standard`] (also the [`Default`]) or [`RetryPolicy::none`] and
/// adjust it with the builder methods. The current values are read with the `get_*` methods.
///
/// | setting | standard | meaning |
/// |---|---|---|
/// | `max_retries` | 3 | requests sent after the first one (at most [`MAX_RETRIES_LIMIT`]) |
/// | `max_wait` | 60 s | longest single wait; a server asking for more gets no retry |
/// | `deadline` | 2 min | total time a call may spend waiting; `None` for no limit |
/// | `initial_backoff` | 200 ms | first backoff interval for failures without a server wait |
/// | `max_backoff` | 5 s | longest backoff interval |
/// | `share_rate_limits` | on | honour and update the client's [`RateLimitGate`] |
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    max_retries: u32,
    max_wait: Duration,
    deadline: Option<Duration>,
    initial_backoff: Duration,
    max_backoff: Duration,
    share_rate_limits: bool,
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

    /// Sets the total time a call may take before it stops waiting for another attempt; `None`
    /// removes the limit.
    ///
    /// The deadline bounds the waits between attempts. The time an individual request takes is
    /// bounded by the HTTP client's own timeout.
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
    /// When off, a call neither waits for nor reports pauses on the client's [`RateLimitGate`].
    #[must_use]
    pub fn share_rate_limits(mut self, on: bool) -> Self {
        self.share_rate_limits = on;
        self
    }

    /// How many times a request may be sent again after the first attempt.
    pub fn get_max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The longest single wait.
    pub fn get_max_wait(&self) -> Duration {
        self.max_wait
    }

    /// The total deadline per call, if any.
    pub fn get_deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// The first backoff interval.
    pub fn get_initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The longest backoff interval.
    pub fn get_max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// Whether calls honour and update the client's [`RateLimitGate`].
    pub fn get_share_rate_limits(&self) -> bool {
        self.share_rate_limits
    }

    /// A fresh generator of jittered, exponentially growing intervals for one call.
    fn backoff(&self) -> ExponentialBackoff {
        ExponentialBackoffBuilder::new()
            .with_initial_interval(self.initial_backoff.min(self.max_backoff))
            .with_max_interval(self.max_backoff)
            .with_multiplier(BACKOFF_MULTIPLIER)
            .with_randomization_factor(BACKOFF_RANDOMIZATION)
            // Deadlines and attempt counts are kept by `execute`, never by the crate.
            .with_max_elapsed_time(None)
            .build()
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::standard()
    }
}

/// The rate-limit state shared by all requests of one client.
///
/// When a response says the client must not send anything until some moment, the gate remembers
/// that moment and [`execute`] holds every request of the client until it has passed. It also
/// keeps the budget of the server's current window, learnt from `X-RateLimit-Remaining` and
/// `X-RateLimit-Reset`, less the requests still in flight, and holds requests once it is spent
/// (see the [module documentation](self)). Clones share the same state, so a client keeps one
/// gate and hands a clone (or a reference) to each call. Pauses are remembered for at most one
/// hour.
#[derive(Debug, Clone, Default)]
pub struct RateLimitGate {
    shared: Arc<GateShared>,
}

#[derive(Debug, Default)]
struct GateShared {
    state: Mutex<GateState>,
    /// Woken whenever a request finishes, so requests waiting for a probe can look again.
    finished: Notify,
    /// Requests passing the gate the slow way, which may wait on `finished`; while there are
    /// none, a finishing request wakes nobody.
    watchers: AtomicUsize,
}

/// Counts a request among the gate's watchers while it lives.
struct Watching<'a>(&'a GateShared);

impl<'a> Watching<'a> {
    fn new(shared: &'a GateShared) -> Self {
        // Counted before the request looks at the gate: a request finishing after that look
        // sees the count (the look and the finish both take the state's lock) and wakes it.
        shared.watchers.fetch_add(1, Ordering::SeqCst);
        Watching(shared)
    }
}

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        self.0.watchers.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Default)]
struct GateState {
    /// No request may be sent before this moment.
    held_until: Option<Instant>,
    /// The server's `X-RateLimit-Limit`, the budget of a fresh window.
    limit: Option<u64>,
    /// What is left of the current window, when known.
    budget: Option<Budget>,
    /// Requests sent and not yet answered.
    in_flight: u64,
    /// Requests sent so far; numbers each request in the order it was sent.
    sent: u64,
    /// The number of the request whose response last set `budget`. Responses on different
    /// connections can be read out of order; an answer to an earlier request carries older news.
    budget_from: u64,
}

/// The requests the server will still admit in its current window.
#[derive(Debug, Clone, Copy)]
struct Budget {
    /// Requests that may still be sent. Negative while more requests are in flight than the
    /// server reported left; it rises again as their answers show they had been counted.
    remaining: i64,
    /// The `X-RateLimit-Remaining` this estimate was made from.
    reported: u64,
    /// When the window ends; `None` when no response has said so yet.
    resets_at: Option<Instant>,
}

impl Budget {
    /// A fresh window of `limit` requests whose end is not known yet.
    fn fresh(limit: u64) -> Budget {
        Budget {
            remaining: signed(limit),
            reported: limit,
            resets_at: None,
        }
    }
}

/// `n` as an `i64`, saturating.
fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// What a request may do now.
enum Admission<'a> {
    /// Go; the ticket marks it as in flight until dropped.
    Send(Ticket<'a>),
    /// Wait this long, then ask again.
    Wait(Duration),
    /// Wait until a request in flight has been answered, then ask again.
    AwaitAnswer,
}

/// A request in flight, counted by the gate until dropped.
struct Ticket<'a> {
    gate: &'a RateLimitGate,
    /// The request's number in sending order.
    number: u64,
    /// Sent to find out whether the server admits requests again.
    probe: bool,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        {
            let mut state = self.gate.lock();
            state.in_flight = state.in_flight.saturating_sub(1);
        }
        if self.gate.shared.watchers.load(Ordering::SeqCst) > 0 {
            self.gate.shared.finished.notify_waiters();
        }
    }
}

impl RateLimitGate {
    /// A gate with no pause in effect.
    pub fn new() -> Self {
        Self::default()
    }

    /// The time left before requests may be sent again, or `None` when they may be sent now:
    /// a pause a 429 asked for or [`hold_for`](Self::hold_for) set, or the rest of a window
    /// whose budget is spent.
    pub fn remaining(&self) -> Option<Duration> {
        let now = Instant::now();
        let state = self.lock();
        let held = state
            .held_until
            .and_then(|until| until.checked_duration_since(now));
        let spent = state
            .budget
            .filter(|budget| budget.remaining <= 0)
            .and_then(|budget| budget.resets_at)
            .and_then(|resets_at| resets_at.checked_duration_since(now));
        held.max(spent).filter(|left| !left.is_zero())
    }

    /// Holds requests for `wait` from now. An existing longer pause is kept, never shortened.
    pub fn hold_for(&self, wait: Duration) {
        self.lock().hold(Instant::now(), wait);
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        // The guarded values are plain numbers and timestamps, valid even if a holder panicked.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides whether a request may be sent now.
    fn admit(&self) -> Admission<'_> {
        self.admit_at(Instant::now())
    }

    /// [`admit`](Self::admit) with the current time given.
    fn admit_at(&self, now: Instant) -> Admission<'_> {
        let mut guard = self.lock();
        let state = &mut *guard;
        if let Some(left) = state
            .held_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|left| !left.is_zero())
        {
            return Admission::Wait(left);
        }
        if let Some(Budget {
            resets_at: Some(resets_at),
            ..
        }) = state.budget
            && resets_at <= now
        {
            // A new window: the full limit if the server told it, otherwise nothing is known.
            state.budget = state.limit.map(Budget::fresh);
        }
        let probe = match &mut state.budget {
            None => false,
            Some(budget) if budget.remaining > 0 => {
                budget.remaining -= 1;
                false
            }
            // Spent by the estimate, which assumes the server has not yet counted the requests
            // in flight; their answers tell what is really left.
            Some(_) if state.in_flight > 0 => return Admission::AwaitAnswer,
            Some(Budget {
                resets_at: Some(resets_at),
                ..
            }) => return Admission::Wait(resets_at.saturating_duration_since(now)),
            // Spent, and no response said when the window ends: one request finds out.
            Some(_) => true,
        };
        state.in_flight += 1;
        state.sent += 1;
        Admission::Send(Ticket {
            gate: self,
            number: state.sent,
            probe,
        })
    }

    /// Learns from the answer (`status`, `headers`) to a request sent with `ticket`.
    /// `rate_limit` is what the headers say, read once by the caller.
    fn observe(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        rate_limit: Option<RateLimit>,
        ticket: &Ticket<'_>,
    ) {
        if rate_limit.is_none() && status != StatusCode::TOO_MANY_REQUESTS && !ticket.probe {
            // Nothing to learn: answers of a server that reports no limits never take the lock.
            return;
        }
        let exhausted = rate_limit.is_some_and(|r| r.is_exhausted());
        // A 429's wait is a pause. A success that spends the window without saying when it
        // ends is one too; with the reset known, the budget below holds requests instead.
        let wait = if status == StatusCode::TOO_MANY_REQUESTS
            || (exhausted && rate_limit.is_some_and(|r| r.reset.is_none()))
        {
            requested_wait(status, headers, SystemTime::now())
        } else {
            None
        };
        let now = Instant::now();
        let mut state = self.lock();
        if let Some(limit) = rate_limit.and_then(|r| r.limit) {
            state.limit = Some(limit);
        }
        if let Some(wait) = wait {
            state.hold(now, wait);
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            if let Some(wait) = wait {
                state.budget = Some(Budget {
                    remaining: 0,
                    reported: 0,
                    resets_at: now.checked_add(wait.min(MAX_GATE_HOLD)),
                });
            }
        } else if let Some(RateLimit {
            remaining: Some(remaining),
            reset: Some(reset),
            ..
        }) = rate_limit
        {
            if ticket.number > state.budget_from {
                // The latest news. The other requests in flight may not have been counted yet.
                let others = state.in_flight.saturating_sub(1);
                let mut resets_at = now.checked_add(reset.min(MAX_GATE_HOLD));
                // Whole seconds put every reported reset at or after the real one. Within a
                // window (the count only falls) the earliest of them is the closest.
                if let Some(Budget {
                    reported,
                    resets_at: Some(known),
                    ..
                }) = state.budget
                    && remaining <= reported
                    && known > now
                {
                    resets_at = resets_at.map_or(Some(known), |new| Some(new.min(known)));
                }
                state.budget = Some(Budget {
                    remaining: signed(remaining).saturating_sub(signed(others)),
                    reported: remaining,
                    resets_at,
                });
                state.budget_from = ticket.number;
            } else if let Some(budget) = &mut state.budget
                && remaining > budget.reported
            {
                // An answer to an earlier request, read late. It was in flight when the estimate
                // was made and so was subtracted, but the server counted it before the request
                // the estimate came from (it left more budget): give its place back.
                budget.remaining = budget.remaining.saturating_add(1);
            }
        } else if ticket.probe {
            // The server admitted the probe, so a new window has begun; it holds at most the
            // limit, less the probe and whatever else is in flight.
            let others = state.in_flight.saturating_sub(1);
            state.budget = state.limit.map(|limit| {
                let reported = limit.saturating_sub(1);
                Budget {
                    remaining: signed(reported).saturating_sub(signed(others)),
                    reported,
                    resets_at: None,
                }
            });
        }
    }
}

impl GateState {
    /// Holds requests for `wait` from `now`, keeping any longer pause.
    fn hold(&mut self, now: Instant, wait: Duration) {
        if wait.is_zero() {
            return;
        }
        let Some(until) = now.checked_add(wait.min(MAX_GATE_HOLD)) else {
            return;
        };
        if self.held_until.is_none_or(|current| current < until) {
            self.held_until = Some(until);
        }
    }
}

/// Why the engine stopped retrying, when it did not get a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// The failure is not one a retry can fix, or retrying could repeat a side effect
    /// (for example a 500 on a POST, or a 404).
    NotRetryable,
    /// The retry budget was used up (with [`RetryPolicy::none`] there is no budget at all).
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

/// What happened during one call of [`execute`], returned next to its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attempts {
    /// Requests actually sent (0 when the gate refused before the first one).
    pub attempts: u32,
    /// Why retrying stopped; `None` when the final response was not an error (status below 400).
    pub give_up: Option<GiveUp>,
    /// Whether the returned response is a locally made 429 (see [`SynthesizedResponse`]).
    pub synthesized: bool,
    /// What the returned response's `X-RateLimit-*` headers say (read once, for the gate and
    /// for the caller); `None` when they are absent or there is no response.
    pub rate_limit: Option<RateLimit>,
}

/// Response extension marking a 429 that the engine made itself, without contacting the server,
/// because the client's [`RateLimitGate`] held requests longer than the cap or the deadline
/// allowed.
///
/// The response has no body and a `Retry-After` header with the remaining pause in whole seconds
/// (rounded up). Check for it with `response.extensions().get::<SynthesizedResponse>()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SynthesizedResponse;

/// Sends `request` through `http` under `policy`, honouring and updating `gate`.
///
/// `service` and `operation` name the call in tracing events. The result is the last response or
/// transport error, exactly as `reqwest` produced it (or a synthesized 429, see
/// [`SynthesizedResponse`]), together with the number of attempts made and why retrying stopped.
/// Statuses are never turned into errors here; mapping them is the caller's job.
///
/// Each retry sends a copy of the request, made as the previous attempt goes out and only while
/// another attempt may follow; a request whose body is a stream cannot be copied and is sent once.
pub fn execute<'a>(
    http: &'a reqwest::Client,
    policy: &'a RetryPolicy,
    gate: &'a RateLimitGate,
    request: reqwest::Request,
    service: &'static str,
    operation: &'static str,
) -> impl Future<Output = (reqwest::Result<reqwest::Response>, Attempts)> + Send + 'a {
    let call = Call::new(policy, gate, service, operation, request.method().clone());
    drive(call, Resend { http }, request)
}

/// What the engine reads from an attempt's outcome.
pub(crate) trait Outcome: Sized {
    /// The outcome as the engine classifies it.
    fn view(&self) -> View<'_>;
    /// The outcome reporting `response`, a 429 made locally because the gate held requests too
    /// long (see [`SynthesizedResponse`]).
    fn synthesized(response: reqwest::Response) -> Self;
}

/// An attempt's outcome as the engine sees it.
pub(crate) enum View<'a> {
    /// The server answered with this status and these headers.
    Answer(StatusCode, &'a HeaderMap),
    /// The request failed in transport, without an answer.
    Failed(&'a reqwest::Error),
    /// A failure another attempt cannot fix (a request that could not be built, a body cut off
    /// after the answer began).
    Final,
}

impl Outcome for reqwest::Result<reqwest::Response> {
    fn view(&self) -> View<'_> {
        match self {
            Ok(response) => View::Answer(response.status(), response.headers()),
            Err(error) => View::Failed(error),
        }
    }

    fn synthesized(response: reqwest::Response) -> Self {
        Ok(response)
    }
}

/// Where the attempts of a call come from.
pub(crate) trait Source {
    /// What an attempt is made from: a request to send, or nothing for a source that builds its
    /// request anew each time.
    type Next: Send;
    /// The outcome of an attempt.
    type Outcome: Outcome + Send;

    /// Sends an attempt made from `next`. Returns, next to it, what the following attempt is made
    /// from, when `again` says one may follow and this source can make one.
    fn send(
        &self,
        next: Self::Next,
        again: bool,
    ) -> (
        impl Future<Output = Self::Outcome> + Send,
        Option<Self::Next>,
    );
}

/// Attempts of one prepared request: each retry sends a copy kept from the attempt before.
struct Resend<'a> {
    http: &'a reqwest::Client,
}

impl Source for Resend<'_> {
    type Next = reqwest::Request;
    type Outcome = reqwest::Result<reqwest::Response>;

    fn send(
        &self,
        request: reqwest::Request,
        again: bool,
    ) -> (
        impl Future<Output = Self::Outcome> + Send,
        Option<reqwest::Request>,
    ) {
        let spare = if again { copy_request(&request) } else { None };
        (self.http.execute(request), spare)
    }
}

/// Attempts that each run `make` again, for operations that build their request themselves (the
/// generated clients' operations): nothing is copied and nothing is kept between attempts.
pub(crate) struct Rerun<M>(pub(crate) M);

impl<M, F, O> Source for Rerun<M>
where
    M: Fn() -> F,
    F: Future<Output = O> + Send,
    O: Outcome + Send,
{
    type Next = ();
    type Outcome = O;

    fn send(&self, (): (), _again: bool) -> (impl Future<Output = O> + Send, Option<()>) {
        ((self.0)(), Some(()))
    }
}

/// Runs a call: attempts from `source`, starting with `first`, until an outcome is final or a
/// limit is reached.
///
/// The common case (the gate admits at once, the first answer is final) runs here. Whatever
/// waits (gate pauses, retries) runs in a boxed future made only then: its timers, backoff state
/// and loop would otherwise enlarge every call. Nothing happens, not even the deadline's start,
/// until the returned future is first polled.
//
// A function returning an `async` block rather than an `async fn`: an `async fn` keeps each
// argument twice in its future (as passed, and moved into the body), and this future is part of
// every call's.
#[allow(
    clippy::manual_async_fn,
    reason = "an `async fn` would store `call` and `source` twice"
)]
pub(crate) fn drive<'a, S>(
    mut call: Call<'a>,
    source: S,
    first: S::Next,
) -> impl Future<Output = (S::Outcome, Attempts)> + Send + 'a
where
    S: Source + Send + Sync + 'a,
    S::Next: 'a,
{
    async move {
        let now = Instant::now();
        call.deadline = call
            .policy
            .deadline
            .and_then(|limit| now.checked_add(limit));
        let ticket = if call.policy.share_rate_limits {
            match call.gate.admit_at(now) {
                Admission::Send(ticket) => Some(ticket),
                Admission::Wait(_) | Admission::AwaitAnswer => {
                    return call.wait_for_gate(&source, first).await;
                }
            }
        } else {
            None
        };
        // In a block that ends before the rest is awaited: locals still in scope at an `.await`
        // keep their place in the future, even once moved out.
        let rest = {
            let (sent, spare) = source.send(first, call.policy.max_retries > 0);
            let outcome = sent.await;
            let mut attempts = Attempts {
                attempts: 1,
                ..Attempts::default()
            };
            let Some(retry) = call.settle(&outcome, ticket, &mut attempts) else {
                return (outcome, attempts);
            };
            let failure = Failure {
                outcome,
                retry,
                spare,
            };
            call.retry_after(&source, failure, attempts)
        };
        rest.await
    }
}

/// An attempt worth repeating, and what the next attempt would be made from.
struct Failure<O, N> {
    outcome: O,
    retry: Retry,
    /// `None` when no further attempt may be made or the source cannot make one.
    spare: Option<N>,
}

/// A copy of `request` for another attempt; `None` when its body is a stream.
///
/// `Request::try_clone` sets the copy's timeout through `timeout_mut`, which allocates an
/// extension map for every copy even when there is no timeout; a request without a body is
/// copied here field by field instead. The timeout is the only extension a request made by a
/// `reqwest::RequestBuilder` can carry.
fn copy_request(request: &reqwest::Request) -> Option<reqwest::Request> {
    if request.body().is_some() {
        return request.try_clone();
    }
    let mut copy = reqwest::Request::new(request.method().clone(), request.url().clone());
    *copy.headers_mut() = request.headers().clone();
    *copy.version_mut() = request.version();
    if let Some(timeout) = request.timeout() {
        *copy.timeout_mut() = Some(*timeout);
    }
    Some(copy)
}

/// The fixed context of one call.
pub(crate) struct Call<'a> {
    policy: &'a RetryPolicy,
    gate: &'a RateLimitGate,
    service: &'static str,
    operation: &'static str,
    method: Method,
    /// Set when the call starts.
    deadline: Option<Instant>,
}

impl<'a> Call<'a> {
    /// The context of a call of `operation` (a `method` request) to `service`.
    pub(crate) fn new(
        policy: &'a RetryPolicy,
        gate: &'a RateLimitGate,
        service: &'static str,
        operation: &'static str,
        method: Method,
    ) -> Self {
        Call {
            policy,
            gate,
            service,
            operation,
            method,
            deadline: None,
        }
    }

    /// Records an attempt's outcome: teaches the gate, releases the ticket and says whether the
    /// outcome is final (`None`) or worth retrying. Takes the outcome by reference: it can be
    /// large, and the common case returns it as it is.
    fn settle<O: Outcome>(
        &self,
        outcome: &O,
        ticket: Option<Ticket<'_>>,
        attempts: &mut Attempts,
    ) -> Option<Retry> {
        attempts.rate_limit = None;
        let view = outcome.view();
        if let View::Answer(status, headers) = view {
            let rate_limit = RateLimit::from_headers(headers);
            attempts.rate_limit = rate_limit;
            if let Some(ticket) = &ticket {
                self.gate.observe(status, headers, rate_limit, ticket);
            }
        }
        // The request is no longer in flight, whatever happens next.
        drop(ticket);
        let retry = classify(&self.method, &view);
        if retry.is_none() {
            let failed = match view {
                View::Answer(status, _) => status.as_u16() >= 400,
                View::Failed(_) | View::Final => true,
            };
            attempts.give_up = failed.then_some(GiveUp::NotRetryable);
        }
        retry
    }

    /// The rest of a call the gate did not admit at once, boxed. Out of line and cold, so the
    /// common path's code stays compact.
    #[cold]
    #[inline(never)]
    fn wait_for_gate<S: Source>(
        self,
        source: &'a S,
        first: S::Next,
    ) -> Pin<Box<impl Future<Output = (S::Outcome, Attempts)> + 'a>>
    where
        S::Next: 'a,
    {
        Box::pin(self.keep_trying(source, first, Attempts::default(), None))
    }

    /// The rest of a call whose first attempt failed in a retryable way, boxed. Out of line and
    /// cold, so the common path's code stays compact.
    #[cold]
    #[inline(never)]
    fn retry_after<S: Source>(
        self,
        source: &'a S,
        failure: Failure<S::Outcome, S::Next>,
        attempts: Attempts,
    ) -> Pin<Box<impl Future<Output = (S::Outcome, Attempts)> + 'a>>
    where
        S::Outcome: 'a,
        S::Next: 'a,
    {
        Box::pin(self.keep_trying_after(source, failure, attempts))
    }

    /// Continues a call whose last attempt failed in a retryable way.
    async fn keep_trying_after<S: Source>(
        self,
        source: &S,
        failure: Failure<S::Outcome, S::Next>,
        attempts: Attempts,
    ) -> (S::Outcome, Attempts) {
        let mut backoff = self.policy.backoff();
        let mut attempts = attempts;
        match self.wait_out(failure, &mut attempts, &mut backoff).await {
            Ok(next) => {
                self.keep_trying(source, next, attempts, Some(backoff))
                    .await
            }
            Err(outcome) => (outcome, attempts),
        }
    }

    /// The retry loop: passes the gate (waiting as long as it allows), sends, and after a
    /// retryable failure waits and sends again, until an outcome is final or a limit is reached.
    async fn keep_trying<S: Source>(
        self,
        source: &S,
        mut next: S::Next,
        mut attempts: Attempts,
        backoff: Option<ExponentialBackoff>,
    ) -> (S::Outcome, Attempts) {
        let mut backoff = backoff.unwrap_or_else(|| self.policy.backoff());
        loop {
            let ticket = if self.policy.share_rate_limits {
                match self.pass_gate().await {
                    Ok(ticket) => Some(ticket),
                    Err((give_up, remaining)) => {
                        attempts.give_up = Some(give_up);
                        attempts.synthesized = true;
                        // The answer returned is made here and reports no limits.
                        attempts.rate_limit = None;
                        self.log_give_up(&attempts, None, None);
                        let response = synthesized_rate_limit(remaining);
                        return (S::Outcome::synthesized(response), attempts);
                    }
                }
            } else {
                None
            };
            let again = attempts.attempts < self.policy.max_retries;
            attempts.attempts += 1;
            let (sent, spare) = source.send(next, again);
            let outcome = sent.await;
            let Some(retry) = self.settle(&outcome, ticket, &mut attempts) else {
                return (outcome, attempts);
            };
            let failure = Failure {
                outcome,
                retry,
                spare,
            };
            next = match self.wait_out(failure, &mut attempts, &mut backoff).await {
                Ok(next) => next,
                Err(outcome) => return (outcome, attempts),
            };
        }
    }

    /// Waits before the next attempt after `failure` and returns what to make it from, or gives
    /// up (recording why in `attempts`) and returns the failed outcome.
    async fn wait_out<O: Outcome, N>(
        &self,
        failure: Failure<O, N>,
        attempts: &mut Attempts,
        backoff: &mut ExponentialBackoff,
    ) -> Result<N, O> {
        let Failure {
            outcome,
            retry: Retry {
                reason,
                server_wait,
            },
            spare,
        } = failure;
        let response_request_id = match outcome.view() {
            View::Answer(_, headers) => request_id(headers),
            View::Failed(_) | View::Final => None,
        };
        // `spare` is only made while retries remain, so its absence has two meanings.
        let next = match spare {
            _ if attempts.attempts > self.policy.max_retries => Err(GiveUp::RetriesExhausted),
            None => Err(GiveUp::BodyNotCloneable),
            Some(spare) => self
                .retry_delay(server_wait, backoff)
                .map(|delay| (delay, spare)),
        };
        let (delay, spare) = match next {
            Ok(next) => next,
            Err(give_up) => {
                attempts.give_up = Some(give_up);
                self.log_give_up(attempts, Some(reason), response_request_id.as_deref());
                return Err(outcome);
            }
        };
        tracing::debug!(
            target: "cloud_plugin_sdk::retry",
            service = self.service,
            operation = self.operation,
            method = self.method.as_str(),
            status = reason.status(),
            error_kind = reason.error_kind(),
            attempt = attempts.attempts,
            delay_ms = millis(delay),
            request_id = response_request_id.as_deref(),
            "retrying request",
        );
        // Release the connection before sleeping rather than holding an unread body.
        drop(outcome);
        tokio::time::sleep(delay).await;
        Ok(spare)
    }

    /// Time left before the deadline (`None` when there is no deadline).
    fn time_left(&self) -> Option<Duration> {
        self.deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// Checks a wait against the cap and the deadline.
    fn check_wait(&self, wait: Duration) -> Result<(), GiveUp> {
        if wait > self.policy.max_wait {
            return Err(GiveUp::WaitExceedsCap { requested: wait });
        }
        if self.time_left().is_some_and(|left| wait > left) {
            return Err(GiveUp::WaitExceedsDeadline { requested: wait });
        }
        Ok(())
    }

    /// Lengthens a permitted wait by a little jitter, without breaking the cap or the deadline.
    fn jittered(&self, wait: Duration) -> Duration {
        let jitter = jitter_up_to((wait / SERVER_WAIT_JITTER_DIVISOR).min(MAX_SERVER_WAIT_JITTER));
        let mut total = wait
            .saturating_add(jitter)
            .min(self.policy.max_wait.max(wait));
        if let Some(left) = self.time_left() {
            total = total.min(left.max(wait));
        }
        total
    }

    /// Waits until the client's gate admits the request. On refusal returns why, with the
    /// remaining pause.
    async fn pass_gate(&self) -> Result<Ticket<'a>, (GiveUp, Duration)> {
        let _watching = Watching::new(&self.gate.shared);
        loop {
            // Registered before looking at the gate, so a request finishing in between is seen.
            let finished = self.gate.shared.finished.notified();
            let mut finished = std::pin::pin!(finished);
            finished.as_mut().enable();
            match self.gate.admit() {
                Admission::Send(ticket) => return Ok(ticket),
                Admission::Wait(remaining) => {
                    self.check_wait(remaining)
                        .map_err(|give_up| (give_up, remaining))?;
                    let delay = self.jittered(remaining);
                    tracing::debug!(
                        target: "cloud_plugin_sdk::retry",
                        service = self.service,
                        operation = self.operation,
                        method = self.method.as_str(),
                        delay_ms = millis(delay),
                        "holding request for a rate-limit pause",
                    );
                    tokio::time::sleep(delay).await;
                }
                Admission::AwaitAnswer => {
                    let recheck = match self.time_left() {
                        Some(left) if left.is_zero() => {
                            let requested = PROBE_RECHECK;
                            return Err((GiveUp::WaitExceedsDeadline { requested }, requested));
                        }
                        Some(left) => left.min(PROBE_RECHECK),
                        None => PROBE_RECHECK,
                    };
                    // Bounded, so a request that never finishes cannot stall the others.
                    let _ = tokio::time::timeout(recheck, finished).await;
                }
            }
        }
    }

    /// The wait before the next attempt, or why there will be none.
    fn retry_delay(
        &self,
        server_wait: Option<Duration>,
        backoff: &mut ExponentialBackoff,
    ) -> Result<Duration, GiveUp> {
        if let Some(wait) = server_wait {
            self.check_wait(wait)?;
            return Ok(self.jittered(wait));
        }
        // With no elapsed-time limit the generator always yields; fall back to the ceiling anyway.
        let interval = backoff
            .next_backoff()
            .unwrap_or(self.policy.max_backoff)
            .min(self.policy.max_backoff)
            .min(self.policy.max_wait);
        if self.time_left().is_some_and(|left| interval > left) {
            return Err(GiveUp::WaitExceedsDeadline {
                requested: interval,
            });
        }
        Ok(interval)
    }

    fn log_give_up(&self, attempts: &Attempts, reason: Option<Reason>, request_id: Option<&str>) {
        tracing::debug!(
            target: "cloud_plugin_sdk::retry",
            service = self.service,
            operation = self.operation,
            method = self.method.as_str(),
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

/// Why an attempt's outcome is worth repeating: sending again is safe and may help.
struct Retry {
    reason: Reason,
    /// The wait the server asked for, if it asked.
    server_wait: Option<Duration>,
}

/// What went wrong with an attempt, for tracing.
#[derive(Debug, Clone, Copy)]
enum Reason {
    Status(StatusCode),
    Error(&'static str),
}

impl Reason {
    fn status(self) -> Option<u16> {
        match self {
            Reason::Status(status) => Some(status.as_u16()),
            Reason::Error(_) => None,
        }
    }

    fn error_kind(self) -> Option<&'static str> {
        match self {
            Reason::Status(_) => None,
            Reason::Error(kind) => Some(kind),
        }
    }
}

/// Decides whether an outcome may be retried (`None` when it is final); see the module
/// documentation for the rules.
fn classify(method: &Method, view: &View<'_>) -> Option<Retry> {
    if let View::Answer(status, _) = view
        && status.is_success()
    {
        return None;
    }
    let idempotent = IDEMPOTENT_METHODS.contains(method);
    match *view {
        View::Answer(status, headers) => {
            if status == StatusCode::TOO_MANY_REQUESTS {
                Some(Retry {
                    reason: Reason::Status(status),
                    server_wait: requested_wait(status, headers, SystemTime::now()),
                })
            } else if idempotent && TRANSIENT_STATUSES.contains(&status) {
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
            } else {
                None
            }
        }
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
        View::Final => None,
    }
}

/// A 429 made locally for a request the gate would have held too long.
fn synthesized_rate_limit(remaining: Duration) -> reqwest::Response {
    let seconds = remaining
        .as_secs()
        .saturating_add(u64::from(remaining.subsec_nanos() > 0));
    let mut response = http::Response::new(Vec::<u8>::new());
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    response.extensions_mut().insert(SynthesizedResponse);
    reqwest::Response::from(response)
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

/// Whole milliseconds, saturating, for tracing fields.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_copies_keep_everything_but_a_stream() {
        let url = reqwest::Url::parse("https://api.example.com/v1/plugins/p%2F1?x=1").unwrap();
        let mut request = reqwest::Request::new(Method::DELETE, url.clone());
        request.headers_mut().insert(
            reqwest::header::AUTHORIZATION,
            reqwest::header::HeaderValue::from_static("Bearer t"),
        );
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
        let copy = copy_request(&plain).expect("copy");
        assert_eq!(copy.timeout(), None);

        let mut with_bytes = reqwest::Request::new(Method::POST, url.clone());
        *with_bytes.body_mut() = Some(reqwest::Body::from("{\"a\":1}"));
        *with_bytes.timeout_mut() = Some(Duration::from_secs(2));
        let copy = copy_request(&with_bytes).expect("bytes can be copied");
        assert_eq!(
            copy.body().and_then(reqwest::Body::as_bytes),
            Some(&b"{\"a\":1}"[..])
        );
        assert_eq!(copy.timeout(), Some(&Duration::from_secs(2)));

        let mut streamed = reqwest::Request::new(Method::POST, url);
        *streamed.body_mut() = Some(reqwest::Body::wrap_stream(futures::stream::iter(vec![
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"chunk")),
        ])));
        assert!(copy_request(&streamed).is_none());
    }

    #[test]
    fn standard_values() {
        let policy = RetryPolicy::default();
        assert_eq!(policy, RetryPolicy::standard());
        assert_eq!(policy.get_max_retries(), 3);
        assert_eq!(policy.get_max_wait(), Duration::from_secs(60));
        assert_eq!(policy.get_deadline(), Some(Duration::from_secs(120)));
        assert_eq!(policy.get_initial_backoff(), Duration::from_millis(200));
        assert_eq!(policy.get_max_backoff(), Duration::from_secs(5));
        assert!(policy.get_share_rate_limits());
    }

    #[test]
    fn none_sends_once_without_gate() {
        let policy = RetryPolicy::none();
        assert_eq!(policy.get_max_retries(), 0);
        assert!(!policy.get_share_rate_limits());
    }

    #[test]
    fn max_retries_is_clamped() {
        assert_eq!(
            RetryPolicy::standard().max_retries(1000).get_max_retries(),
            10
        );
        assert_eq!(
            RetryPolicy::standard()
                .max_retries(u32::MAX)
                .get_max_retries(),
            10
        );
        assert_eq!(RetryPolicy::standard().max_retries(7).get_max_retries(), 7);
    }

    #[test]
    fn backoff_stays_within_bounds() {
        let policy = RetryPolicy::standard();
        let mut backoff = policy.backoff();
        let first = backoff.next_backoff().expect("no elapsed-time limit");
        assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(301));
        for _ in 0..50 {
            let interval = backoff.next_backoff().expect("no elapsed-time limit");
            // The crate may overshoot its ceiling by the randomization; `retry_delay` clamps.
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

    #[test]
    fn jitter_is_bounded() {
        for _ in 0..200 {
            let jitter = jitter_up_to(Duration::from_millis(50));
            assert!(jitter <= Duration::from_millis(50));
        }
        assert_eq!(jitter_up_to(Duration::ZERO), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn gate_holds_and_never_shortens() {
        let gate = RateLimitGate::new();
        assert_eq!(gate.remaining(), None);
        gate.hold_for(Duration::from_secs(5));
        gate.hold_for(Duration::from_secs(1));
        let remaining = gate.remaining().expect("held");
        assert!(remaining > Duration::from_secs(4));
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(gate.remaining(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn gate_bounds_absurd_pauses() {
        let gate = RateLimitGate::new();
        gate.hold_for(Duration::MAX);
        gate.hold_for(Duration::from_secs(1_000_000_000_000));
        assert!(gate.remaining().expect("held") <= MAX_GATE_HOLD);
        gate.hold_for(Duration::ZERO);
    }

    #[test]
    fn synthesized_response_shape() {
        let response = synthesized_rate_limit(Duration::from_millis(1500));
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response
                .headers()
                .get(RETRY_AFTER)
                .map(HeaderValue::as_bytes),
            Some(&b"2"[..])
        );
        assert!(response.extensions().get::<SynthesizedResponse>().is_some());
    }

    /// A response with `status` and `headers`, as if received from a server.
    fn answer(status: u16, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut response = http::Response::new(Vec::<u8>::new());
        *response.status_mut() = StatusCode::from_u16(status).expect("status");
        for (name, value) in headers {
            response.headers_mut().insert(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        reqwest::Response::from(response)
    }

    fn ticket(gate: &RateLimitGate) -> Ticket<'_> {
        match gate.admit() {
            Admission::Send(ticket) => ticket,
            Admission::Wait(wait) => panic!("expected to send, told to wait {wait:?}"),
            Admission::AwaitAnswer => panic!("expected to send, told to await an answer"),
        }
    }

    fn told_to_wait(gate: &RateLimitGate) -> Duration {
        match gate.admit() {
            Admission::Wait(wait) => wait,
            Admission::Send(_) => panic!("expected a wait, allowed to send"),
            Admission::AwaitAnswer => panic!("expected a wait, told to await an answer"),
        }
    }

    fn budget_headers<'a>(remaining: &'a str, reset: &'a str) -> [(&'a str, &'a str); 3] {
        [
            ("x-ratelimit-limit", "5"),
            ("x-ratelimit-remaining", remaining),
            ("x-ratelimit-reset", reset),
        ]
    }

    /// Shows `response` to the gate as the engine does, headers read once.
    fn observe(gate: &RateLimitGate, response: &reqwest::Response, ticket: &Ticket<'_>) {
        gate.observe(
            response.status(),
            response.headers(),
            RateLimit::from_headers(response.headers()),
            ticket,
        );
    }

    fn told_to_await_an_answer(gate: &RateLimitGate) {
        match gate.admit() {
            Admission::AwaitAnswer => {}
            Admission::Send(_) => panic!("expected to await an answer, allowed to send"),
            Admission::Wait(wait) => panic!("expected to await an answer, told to wait {wait:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_discounts_requests_in_flight() {
        let gate = RateLimitGate::new();
        let first = ticket(&gate);
        let second = ticket(&gate);
        let third = ticket(&gate);
        // Two left after `first`, but `second` and `third` may not have been counted yet:
        // nothing more goes out until one of them is answered.
        observe(&gate, &answer(200, &budget_headers("2", "10")), &first);
        drop(first);
        told_to_await_an_answer(&gate);
        // `third` was counted, and the server still has three: `second` may take one of them.
        observe(&gate, &answer(200, &budget_headers("3", "10")), &third);
        drop(third);
        let fourth = ticket(&gate);
        let fifth = ticket(&gate);
        told_to_await_an_answer(&gate);
        drop((second, fourth, fifth));
        // Nothing in flight and the estimate spent: hold until the reported reset.
        let wait = told_to_wait(&gate);
        assert!(wait > Duration::from_secs(9) && wait <= Duration::from_secs(10));
        assert_eq!(gate.remaining(), Some(wait));
    }

    #[tokio::test(start_paused = true)]
    async fn answers_read_out_of_order_are_reconciled() {
        // The server counted `earlier` first (4 left), then `later` (1 left); `later`'s answer
        // is read first.
        let gate = RateLimitGate::new();
        let earlier = ticket(&gate);
        let later = ticket(&gate);
        observe(&gate, &answer(200, &budget_headers("1", "5")), &later);
        drop(later);
        told_to_await_an_answer(&gate);
        observe(&gate, &answer(200, &budget_headers("4", "5")), &earlier);
        drop(earlier);
        // One left, exactly as the server said after `later`.
        let last = ticket(&gate);
        told_to_await_an_answer(&gate);
        drop(last);
        let wait = told_to_wait(&gate);
        assert!(wait > Duration::from_secs(4) && wait <= Duration::from_secs(5));

        // Counted in the other order: the late answer reports less and gives nothing back.
        let gate = RateLimitGate::new();
        let earlier = ticket(&gate);
        let later = ticket(&gate);
        observe(&gate, &answer(200, &budget_headers("3", "5")), &later);
        drop(later);
        observe(&gate, &answer(200, &budget_headers("2", "5")), &earlier);
        drop(earlier);
        let two = (ticket(&gate), ticket(&gate));
        told_to_await_an_answer(&gate);
        drop(two);
        let _ = told_to_wait(&gate);
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_window_starts_with_the_limit() {
        let gate = RateLimitGate::new();
        let first = ticket(&gate);
        observe(&gate, &answer(200, &budget_headers("0", "1")), &first);
        drop(first);
        let wait = told_to_wait(&gate);
        tokio::time::advance(wait).await;
        let tickets: Vec<_> = (0..5).map(|_| ticket(&gate)).collect();
        // The limit is spent and no answer told when this window ends: one probe at a time.
        assert!(matches!(gate.admit(), Admission::AwaitAnswer));
        drop(tickets);
        let probe = ticket(&gate);
        assert!(probe.probe);
        assert!(matches!(gate.admit(), Admission::AwaitAnswer));
        observe(
            &gate,
            &answer(429, &[("retry-after", "1"), ("x-ratelimit-limit", "5")]),
            &probe,
        );
        drop(probe);
        let wait = told_to_wait(&gate);
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
    }

    /// A 429 taught the gate a limit of 3; after its pause, 3 requests spend the new window
    /// (whose end no answer told) and the next one goes out as the probe, returned.
    async fn probe_after_a_spent_window(gate: &RateLimitGate) -> Ticket<'_> {
        let first = ticket(gate);
        observe(
            gate,
            &answer(429, &[("retry-after", "1"), ("x-ratelimit-limit", "3")]),
            &first,
        );
        drop(first);
        tokio::time::advance(told_to_wait(gate)).await;
        drop((0..3).map(|_| ticket(gate)).collect::<Vec<_>>());
        let probe = ticket(gate);
        assert!(probe.probe);
        probe
    }

    #[tokio::test(start_paused = true)]
    async fn an_admitted_probe_reopens_with_the_rest_of_the_limit() {
        let gate = RateLimitGate::new();
        let probe = probe_after_a_spent_window(&gate).await;
        observe(&gate, &answer(200, &[]), &probe);
        drop(probe);
        let rest: Vec<_> = (0..2).map(|_| ticket(&gate)).collect();
        assert!(rest.iter().all(|t| !t.probe));
        assert!(matches!(gate.admit(), Admission::AwaitAnswer));
    }

    #[tokio::test(start_paused = true)]
    async fn an_answered_probe_wakes_the_requests_waiting_for_it() {
        let gate = RateLimitGate::new();
        let probe = probe_after_a_spent_window(&gate).await;
        let policy = RetryPolicy::standard();
        let call = Call::new(&policy, &gate, "test", "op", Method::GET);
        let started = Instant::now();
        let waiting = call.pass_gate();
        let answered = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            observe(&gate, &answer(200, &[]), &probe);
            drop(probe);
        };
        let (admitted, ()) = tokio::join!(waiting, answered);
        let admitted = admitted.map_err(|(give_up, _)| give_up).expect("admitted");
        assert!(!admitted.probe);
        // Woken by the answer, not by the periodic look at the gate.
        assert_eq!(started.elapsed(), Duration::from_millis(50));
        assert!(PROBE_RECHECK > Duration::from_millis(50));
    }

    #[tokio::test(start_paused = true)]
    async fn without_rate_limit_headers_nothing_is_counted() {
        let gate = RateLimitGate::new();
        let tickets: Vec<_> = (0..100).map(|_| ticket(&gate)).collect();
        for t in &tickets {
            observe(&gate, &answer(200, &[]), t);
        }
        drop(tickets);
        assert_eq!(gate.lock().in_flight, 0);
        let _ = ticket(&gate);
    }
}
