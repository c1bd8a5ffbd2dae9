//! The rate-limit state shared by all requests of one client, and the admission of requests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::outcome::GiveUp;
use super::policy::WaitLimits;
use crate::ratelimit::{RateLimit, requested_wait};

/// Longest pause the gate remembers, so one absurd header cannot block a client for days.
const MAX_GATE_HOLD: Duration = Duration::from_secs(3600);
/// How often a request waiting for a probe's answer looks at the gate again, even without news.
const PROBE_RECHECK: Duration = Duration::from_secs(1);

/// Names a call in the gate's tracing events.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallLabel<'a> {
    /// The service the call goes to.
    pub(crate) service: &'static str,
    /// The operation id.
    pub(crate) operation: &'a str,
    /// The HTTP method.
    pub(crate) method: &'a Method,
}

/// The rate-limit state shared by all requests of one client.
///
/// When a response says the client must not send anything until some moment, the gate remembers
/// that moment and the engine holds every request of the client until it has passed. It also
/// keeps the budget of the server's current window, learnt from `X-RateLimit-Remaining` and
/// `X-RateLimit-Reset`, less the requests still in flight, and holds requests once it is spent
/// (see the [module documentation](super)). Clones share the same state, so a client keeps one
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
pub(crate) enum Admission<'a> {
    /// Go; the ticket marks it as in flight until dropped.
    Send(Ticket<'a>),
    /// Wait this long, then ask again.
    Wait(Duration),
    /// Wait until a request in flight has been answered, then ask again.
    AwaitAnswer,
}

/// A request in flight, counted by the gate until dropped.
pub(crate) struct Ticket<'a> {
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

    /// Waits until the gate admits a request, within `limits`. On refusal returns why, with the
    /// remaining pause.
    pub(crate) async fn wait_turn(
        &self,
        limits: &WaitLimits,
        label: CallLabel<'_>,
    ) -> Result<Ticket<'_>, (GiveUp, Duration)> {
        // The common case: nothing holds the request.
        if let Admission::Send(ticket) = self.admit() {
            return Ok(ticket);
        }
        let _watching = Watching::new(&self.shared);
        loop {
            // Registered before looking at the gate, so a request finishing in between is seen.
            let finished = self.shared.finished.notified();
            let mut finished = std::pin::pin!(finished);
            finished.as_mut().enable();
            match self.admit() {
                Admission::Send(ticket) => return Ok(ticket),
                Admission::Wait(remaining) => {
                    limits
                        .check(remaining)
                        .map_err(|give_up| (give_up, remaining))?;
                    let delay = limits.jittered(remaining);
                    tracing::debug!(
                        target: "cloud_plugin_sdk::retry",
                        service = label.service,
                        operation = label.operation,
                        method = label.method.as_str(),
                        delay_ms = super::millis(delay),
                        "holding request for a rate-limit pause",
                    );
                    tokio::time::sleep(delay).await;
                }
                Admission::AwaitAnswer => {
                    let recheck = match limits.time_left() {
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

    fn lock(&self) -> MutexGuard<'_, GateState> {
        // The guarded values are plain numbers and timestamps, valid even if a holder panicked.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides whether a request may be sent now.
    pub(crate) fn admit(&self) -> Admission<'_> {
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
    pub(crate) fn observe(
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

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

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
        let limits = WaitLimits::new(&super::super::RetryPolicy::standard(), None);
        let label = CallLabel {
            service: "test",
            operation: "op",
            method: &Method::GET,
        };
        let started = Instant::now();
        let waiting = gate.wait_turn(&limits, label);
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
