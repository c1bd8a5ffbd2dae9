//! The rate-limit state shared by all requests of one client, and the admission of requests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::outcome::GiveUp;
use super::pace::{Pace, first_estimate};
use super::policy::WaitLimits;
use crate::ratelimit::{RateLimit, requested_wait};

/// Longest pause the gate remembers, so one absurd header cannot block a client for days.
const MAX_GATE_HOLD: Duration = Duration::from_secs(3600);

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
/// The gate learns from the answers how fast the server admits this client's requests and
/// paces the requests to that rate, so that they are not refused in the first place (see the
/// [module documentation](super)). Requests waiting for their turn are admitted in the order
/// their calls began; a call whose request was refused keeps its place. After a refusal one
/// request probes whether the server admits again while the others wait for its answer. A pause
/// set with [`hold_for`](Self::hold_for), or asked for by a server whose answers say nothing
/// about its rate, holds every request; a pause a server asked for lasts at most the
/// [`max_wait`](super::RetryPolicy::max_wait) of the call that was told, and any pause at most
/// an hour.
///
/// Clones share the same state, so a client keeps one gate and hands a clone (or a reference)
/// to each call.
#[derive(Debug, Clone, Default)]
pub struct RateLimitGate {
    shared: Arc<GateShared>,
}

#[derive(Debug, Default)]
struct GateShared {
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    /// No request may be sent before this moment.
    held_until: Option<Instant>,
    /// The server's `X-RateLimit-Limit`.
    limit: Option<u64>,
    /// Requests the server reported left, less the requests in flight since; `None` when no
    /// answer reported it or a refusal made it stale. Negative while more requests are in
    /// flight than the server reported left.
    budget: Option<i64>,
    /// The `X-RateLimit-Remaining` the budget was made from.
    reported: u64,
    /// The number of the request whose answer last set `budget`. Answers on different
    /// connections can be read out of order; an answer to an earlier request is older news.
    budget_from: u64,
    /// Requests sent and not yet answered.
    in_flight: u64,
    /// Requests sent so far; numbers each request in the order it was sent.
    sent: u64,
    /// The learned pace, once the server showed a limit.
    pace: Option<Pace>,
    /// The next request goes alone, as a probe of whether the server admits again.
    probe_next: bool,
    /// The number of the probe in flight; nothing else is sent until it is answered.
    probe_out: Option<u64>,
    /// Calls numbered in the order they first asked for a turn.
    arrivals: u64,
    /// Calls waiting for a turn, by arrival, each with the signal that wakes it.
    line: BTreeMap<u64, Arc<Notify>>,
}

/// `n` as an `i64`, saturating.
fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// What the first call in line may do now.
enum Admission {
    /// Send.
    Send,
    /// Wait until this moment; `pause` says whether it is a pause rather than the pace.
    Until { at: Instant, pause: bool },
    /// Wait until a request in flight has been answered.
    AwaitAnswer,
}

/// A request in flight, counted by the gate until dropped.
pub(crate) struct Ticket<'a> {
    gate: &'a RateLimitGate,
    /// The request's number in sending order.
    number: u64,
    /// Sent alone to find out whether the server admits requests again.
    probe: bool,
    /// Sent while the gate paces: its answer teaches the gate even without rate-limit headers.
    tracked: bool,
    /// Sent before the time a refusal named, on the gate's own estimate of the server's rate.
    early: bool,
}

impl Ticket<'_> {
    /// Whether the request went before the time a server's refusal named: a refusal of it is
    /// the gate's miss, not the server's, and costs the call no retry.
    pub(crate) fn early(&self) -> bool {
        self.early
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut state = self.gate.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if self.probe && state.probe_out == Some(self.number) {
            // Dropped unanswered (a transport failure): the next request probes instead.
            state.probe_out = None;
            state.probe_next = true;
        }
        state.wake_first();
    }
}

/// A call's place in line, left when dropped.
struct Place<'a> {
    gate: &'a RateLimitGate,
    arrival: u64,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        let mut state = self.gate.lock();
        if state.line.remove(&self.arrival).is_some() {
            state.wake_first();
        }
    }
}

/// What a waiting call does next.
enum Step<'a> {
    Send(Ticket<'a>),
    GiveUp(GiveUp, Duration),
    Wait(Option<Instant>),
}

impl RateLimitGate {
    /// A gate with no pause in effect and nothing learned.
    pub fn new() -> Self {
        Self::default()
    }

    /// The time left before the next request may be sent, or `None` when one may be sent now:
    /// a pause [`hold_for`](Self::hold_for) set or a server asked for, the wait for a probe
    /// after a refusal, or the spacing of the learned pace.
    pub fn remaining(&self) -> Option<Duration> {
        let now = Instant::now();
        let state = self.lock();
        let held = state.held_until.into_iter();
        let paced = state.pace.as_ref().map(Pace::allowed_at);
        held.chain(paced)
            .max()
            .and_then(|at| at.checked_duration_since(now))
            .filter(|left| !left.is_zero())
    }

    /// Holds requests for `wait` from now. An existing longer pause is kept, never shortened.
    pub fn hold_for(&self, wait: Duration) {
        let mut state = self.lock();
        state.hold(Instant::now(), wait);
        state.wake_first();
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        // The guarded values are plain numbers and timestamps, valid even if a holder panicked.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the gate admits a request of the call numbered `arrival` (numbered on its
    /// first turn, so that its retries keep its place), within `limits`. On refusal returns why,
    /// with the remaining pause.
    pub(crate) async fn wait_turn(
        &self,
        limits: &WaitLimits,
        label: CallLabel<'_>,
        arrival: &mut Option<u64>,
    ) -> Result<Ticket<'_>, (GiveUp, Duration)> {
        let notify = {
            let mut state = self.lock();
            let number = *arrival.get_or_insert_with(|| state.arrive());
            if state.line.is_empty() {
                // The common case: nobody waits and nothing holds the request.
                if state.unhindered() {
                    return Ok(state.issue(self, None));
                }
                let now = Instant::now();
                if state.held_until.is_some_and(|until| until <= now) {
                    state.held_until = None;
                }
                if matches!(state.admission(now), Admission::Send) {
                    return Ok(state.issue(self, Some(now)));
                }
            }
            let notify = Arc::new(Notify::new());
            state.line.insert(number, Arc::clone(&notify));
            notify
        };
        let place = Place {
            gate: self,
            arrival: arrival.unwrap_or_default(),
        };
        self.wait_in_line(limits, label, &place, &notify).await
    }

    async fn wait_in_line<'g>(
        &'g self,
        limits: &WaitLimits,
        label: CallLabel<'_>,
        place: &Place<'g>,
        notify: &Notify,
    ) -> Result<Ticket<'g>, (GiveUp, Duration)> {
        let mut announced = false;
        loop {
            let step = self.lock().step(self, place.arrival, limits);
            let until = match step {
                Step::Send(ticket) => return Ok(ticket),
                Step::GiveUp(give_up, remaining) => return Err((give_up, remaining)),
                Step::Wait(until) => until,
            };
            if let (Some(at), false) = (until, announced) {
                let delay = at.saturating_duration_since(Instant::now());
                if delay >= Duration::from_millis(100) {
                    announced = true;
                    tracing::debug!(
                        target: "cloud_plugin_sdk::retry",
                        service = label.service,
                        operation = label.operation,
                        method = label.method.as_str(),
                        delay_ms = super::millis(delay),
                        "holding request for a rate-limit pause",
                    );
                }
            }
            let wake = match (until, limits.deadline) {
                (Some(at), Some(deadline)) => Some(at.min(deadline)),
                (until, deadline) => until.or(deadline),
            };
            match wake {
                Some(at) => {
                    let _ = tokio::time::timeout_at(at, notify.notified()).await;
                }
                None => notify.notified().await,
            }
        }
    }

    /// Learns from the answer (`status`, `headers`) to a request sent with `ticket`.
    /// `rate_limit` is what the headers say, read once by the caller; `limits` are those of the
    /// call that was answered, whose cap bounds any pause the answer asks for.
    pub(crate) fn observe(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        rate_limit: Option<RateLimit>,
        ticket: &Ticket<'_>,
        limits: &WaitLimits,
    ) {
        let refused = status == StatusCode::TOO_MANY_REQUESTS;
        if rate_limit.is_none() && !refused && !ticket.tracked && !ticket.probe {
            // Nothing to learn: answers of a server that reports no limits never take the lock.
            return;
        }
        let wait = if refused {
            requested_wait(status, headers, SystemTime::now())
                .map(|wait| wait.min(limits.max_wait).min(MAX_GATE_HOLD))
        } else {
            None
        };
        let mut state = self.lock();
        if ticket.probe && state.probe_out == Some(ticket.number) {
            state.probe_out = None;
        }
        if let Some(limit) = rate_limit.and_then(|r| r.limit) {
            state.limit = Some(limit);
        }
        if refused {
            state.refused(rate_limit, wait, ticket, limits.max_wait);
        } else {
            state.admitted(rate_limit, ticket, limits.max_wait);
        }
        state.wake_first();
    }
}

impl GateState {
    /// Numbers a call arriving at the gate.
    fn arrive(&mut self) -> u64 {
        self.arrivals += 1;
        self.arrivals
    }

    /// Whether a request may go at once without reading the clock: nothing paces, holds or
    /// probes, and the reported budget is not spent.
    fn unhindered(&self) -> bool {
        self.held_until.is_none()
            && self.pace.is_none()
            && self.probe_out.is_none()
            && !self.probe_next
            && self
                .budget
                .is_none_or(|budget| budget > 0 || self.in_flight == 0)
    }

    /// Wakes the first call in line, if any, to look at the gate again.
    fn wake_first(&self) {
        if let Some((_, notify)) = self.line.first_key_value() {
            notify.notify_one();
        }
    }

    /// The pause in effect at `now`: a hold, or the wait for a probe.
    fn pause(&self, now: Instant) -> Option<Duration> {
        let held = self
            .held_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|left| !left.is_zero());
        let probing = self.pace.as_ref().and_then(|pace| pace.pause(now));
        held.max(probing)
    }

    /// Decides whether the first call in line may send now.
    fn admission(&self, now: Instant) -> Admission {
        if let Some(until) = self.held_until.filter(|&until| until > now) {
            return Admission::Until {
                at: until,
                pause: true,
            };
        }
        if self.probe_out.is_some() {
            return Admission::AwaitAnswer;
        }
        if self.budget.is_some_and(|budget| budget <= 0) && self.in_flight > 0 {
            // Spent by the estimate, which assumes the server has not yet counted the requests
            // in flight; their answers tell what is really left.
            return Admission::AwaitAnswer;
        }
        if let Some(pace) = &self.pace {
            let at = pace.allowed_at();
            if at > now {
                return Admission::Until {
                    at,
                    pause: pace.pause(now).is_some(),
                };
            }
        }
        Admission::Send
    }

    /// What the call numbered `arrival` does next.
    fn step<'g>(&mut self, gate: &'g RateLimitGate, arrival: u64, limits: &WaitLimits) -> Step<'g> {
        let now = Instant::now();
        // A pause that outlasts what the call may wait ends its wait at once, wherever it is
        // in line.
        if let Some(left) = self.pause(now)
            && let Err(give_up) = limits.check(left)
        {
            return Step::GiveUp(give_up, left);
        }
        if limits.deadline.is_some_and(|deadline| deadline <= now) {
            let paced = self
                .pace
                .as_ref()
                .map(|pace| pace.allowed_at().saturating_duration_since(now));
            let left = self.pause(now).or(paced).unwrap_or_default();
            return Step::GiveUp(GiveUp::WaitExceedsDeadline { requested: left }, left);
        }
        if self.line.first_key_value().map(|(first, _)| *first) != Some(arrival) {
            return Step::Wait(None);
        }
        match self.admission(now) {
            Admission::Send => {
                self.line.remove(&arrival);
                let ticket = self.issue(gate, Some(now));
                // The next in line may be due as well.
                self.wake_first();
                Step::Send(ticket)
            }
            Admission::Until { at, pause } => {
                if pause {
                    let left = at.saturating_duration_since(now);
                    if let Err(give_up) = limits.check(left) {
                        return Step::GiveUp(give_up, left);
                    }
                }
                Step::Wait(Some(at))
            }
            Admission::AwaitAnswer => Step::Wait(None),
        }
    }

    /// Books a request sent at `now` (`None` on the common path, where nothing needs the time).
    fn issue<'g>(&mut self, gate: &'g RateLimitGate, now: Option<Instant>) -> Ticket<'g> {
        self.in_flight += 1;
        self.sent += 1;
        if let Some(budget) = &mut self.budget {
            *budget -= 1;
        }
        let probe = std::mem::take(&mut self.probe_next);
        if probe {
            self.probe_out = Some(self.sent);
        }
        let backlog = !self.line.is_empty();
        let (tracked, early) = match &mut self.pace {
            Some(pace) => {
                let now = now.unwrap_or_else(Instant::now);
                let early = pace.is_early(now);
                pace.sent(now, backlog);
                (true, early)
            }
            None => (false, false),
        };
        Ticket {
            gate,
            number: self.sent,
            probe,
            tracked,
            early,
        }
    }

    /// Learns from an admitted request (any answer but a 429).
    fn admitted(&mut self, rate_limit: Option<RateLimit>, ticket: &Ticket<'_>, cap: Duration) {
        let mut level = None;
        let mut empty = false;
        if let Some(RateLimit {
            remaining: Some(remaining),
            reset,
            ..
        }) = rate_limit
        {
            if ticket.number > self.budget_from {
                // The latest news. The other requests in flight may not have been counted yet.
                let others = self.in_flight.saturating_sub(1);
                let budget = signed(remaining).saturating_sub(signed(others));
                self.budget = Some(budget);
                self.reported = remaining;
                self.budget_from = ticket.number;
                level = Some(remaining);
                empty = budget <= 0;
                if let (Some(pace), Some(reset)) = (&mut self.pace, reset) {
                    pace.note_bound(Instant::now(), reset.min(cap), false);
                }
            } else if let Some(budget) = &mut self.budget
                && remaining > self.reported
            {
                // An answer to an earlier request, read late. It was in flight when the
                // estimate was made and so was subtracted, but the server counted it before the
                // request the estimate came from (it left more budget): give its place back.
                *budget = budget.saturating_add(1);
            }
        }
        match &mut self.pace {
            Some(pace) if ticket.tracked || pace.follows(ticket.number) => {
                pace.admitted(Instant::now(), ticket.number, level, self.limit, empty);
            }
            Some(_) => {}
            None if empty => {
                // The server has nothing left: pace from here on.
                let reset = rate_limit.and_then(|r| r.reset);
                if let Some(rate) = first_estimate(self.limit, reset) {
                    let now = Instant::now();
                    let mut pace = Pace::new(now, rate, self.sent);
                    pace.start_from_level(now, level.unwrap_or(0));
                    if let Some(reset) = reset {
                        pace.note_bound(now, reset.min(cap), false);
                    }
                    self.pace = Some(pace);
                }
            }
            None => {}
        }
    }

    /// Learns from a refused request: `wait` is what the server asked for, within the cap.
    fn refused(
        &mut self,
        rate_limit: Option<RateLimit>,
        wait: Option<Duration>,
        ticket: &Ticket<'_>,
        cap: Duration,
    ) {
        let now = Instant::now();
        self.budget = None;
        let mut first = false;
        if self.pace.is_none() {
            let reset = rate_limit.and_then(|r| r.reset).map(|reset| reset.min(cap));
            if let Some(rate) = first_estimate(self.limit, reset) {
                self.pace = Some(Pace::new(now, rate, self.sent));
                first = true;
            }
        }
        match &mut self.pace {
            Some(pace) => {
                if let Some(wait) = wait {
                    pace.note_bound(now, wait, true);
                }
                if pace.refused(now, ticket.number, ticket.probe, self.sent, first) {
                    self.probe_next = true;
                }
            }
            // Nothing says how fast the server admits: hold until the time it named, then probe.
            None => {
                if let Some(wait) = wait {
                    self.hold(now, wait);
                    self.probe_next = true;
                }
            }
        }
    }

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
    use super::super::RetryPolicy;
    use super::super::simulated::{Limiter, Server, drive, worst_wait_ratio};
    use super::*;
    use reqwest::header::HeaderValue;

    fn limits() -> WaitLimits {
        WaitLimits::new(&RetryPolicy::standard(), None)
    }

    fn label() -> CallLabel<'static> {
        CallLabel {
            service: "test",
            operation: "op",
            method: &Method::GET,
        }
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

    /// A response with `status` and `headers`, as if received from a server.
    fn answer(status: u16, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        (StatusCode::from_u16(status).expect("status"), map)
    }

    /// Shows an answer to the gate as the engine does, headers read once.
    fn observe(gate: &RateLimitGate, answer: &(StatusCode, HeaderMap), ticket: &Ticket<'_>) {
        let limits = limits();
        let rate_limit = RateLimit::from_headers(&answer.1);
        gate.observe(answer.0, &answer.1, rate_limit, ticket, &limits);
    }

    impl std::fmt::Debug for Admission {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Admission::Send => f.write_str("Send"),
                Admission::Until { pause, .. } => write!(f, "Until {{ pause: {pause} }}"),
                Admission::AwaitAnswer => f.write_str("AwaitAnswer"),
            }
        }
    }

    /// What the gate tells a request that asks now.
    fn ask(gate: &RateLimitGate) -> Result<Ticket<'_>, Admission> {
        let mut state = gate.lock();
        let now = Instant::now();
        match state.admission(now) {
            Admission::Send => Ok(state.issue(gate, Some(now))),
            other => Err(other),
        }
    }

    fn ticket(gate: &RateLimitGate) -> Ticket<'_> {
        ask(gate).unwrap_or_else(|told| panic!("expected to send, told {told:?}"))
    }

    fn told_to_await_an_answer(gate: &RateLimitGate) {
        match ask(gate) {
            Err(Admission::AwaitAnswer) => {}
            Err(told) => panic!("expected to await an answer, told {told:?}"),
            Ok(_) => panic!("expected to await an answer, allowed to send"),
        }
    }

    /// `X-RateLimit-Remaining` and `-Reset` without a limit, so that nothing paces and the
    /// budget alone decides.
    fn budget_headers<'a>(remaining: &'a str, reset: &'a str) -> [(&'a str, &'a str); 2] {
        [
            ("x-ratelimit-remaining", remaining),
            ("x-ratelimit-reset", reset),
        ]
    }

    /// A limit of 5, `remaining` left and full again within `reset` seconds.
    fn limit_headers<'a>(remaining: &'a str, reset: &'a str) -> [(&'a str, &'a str); 3] {
        [
            ("x-ratelimit-limit", "5"),
            ("x-ratelimit-remaining", remaining),
            ("x-ratelimit-reset", reset),
        ]
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
        // Nothing in flight and the estimate spent, but nothing said the server is empty: the
        // next request goes and its answer tells.
        let sixth = ticket(&gate);
        drop(sixth);
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
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_server_is_probed_one_interval_later_not_at_its_reset() {
        // Limit 5, none left, full again within a second: paced at 5 per second at least.
        let gate = RateLimitGate::new();
        let first = ticket(&gate);
        observe(&gate, &answer(200, &limit_headers("0", "1")), &first);
        drop(first);
        let wait = gate.remaining().expect("paced");
        assert!(wait > Duration::from_millis(150) && wait <= Duration::from_millis(200));
        tokio::time::advance(wait).await;
        // The bucket behind it refilled faster than the whole-second reset said.
        let next = ticket(&gate);
        observe(&gate, &answer(200, &limit_headers("1", "1")), &next);
        drop(next);
        // One interval each, not the whole second.
        let after = ticket(&gate);
        drop(after);
        let wait = gate.remaining().expect("paced");
        assert!(wait > Duration::from_millis(150) && wait <= Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_refusal_one_probe_goes_and_the_others_await_its_answer() {
        let gate = RateLimitGate::new();
        let tickets: Vec<_> = (0..3).map(|_| ticket(&gate)).collect();
        let refusal = answer(
            429,
            &[
                ("retry-after", "1"),
                ("x-ratelimit-limit", "10"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1"),
            ],
        );
        for ticket in &tickets {
            observe(&gate, &refusal, ticket);
        }
        drop(tickets);
        // Paced at the 10 per second the headers imply, long before the whole second is over.
        let wait = gate.remaining().expect("a probe wait");
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        tokio::time::advance(wait).await;
        let probe = ticket(&gate);
        assert!(probe.probe && probe.early());
        told_to_await_an_answer(&gate);
        // Refused again: the next probe waits twice as long, but never past the second the
        // server named.
        observe(&gate, &refusal, &probe);
        drop(probe);
        let second_wait = gate.remaining().expect("a longer probe wait");
        assert!(second_wait > wait, "{second_wait:?} after {wait:?}");
        tokio::time::advance(second_wait).await;
        let probe = ticket(&gate);
        observe(&gate, &answer(200, &[]), &probe);
        drop(probe);
        // Admitted: the others follow at the pace.
        let follower = ticket(&gate);
        assert!(!follower.probe);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_without_rate_headers_holds_until_its_retry_after_then_probes() {
        let gate = RateLimitGate::new();
        let first = ticket(&gate);
        observe(&gate, &answer(429, &[("retry-after", "2")]), &first);
        drop(first);
        let wait = gate.remaining().expect("held");
        assert!(wait > Duration::from_millis(1900) && wait <= Duration::from_secs(2));
        tokio::time::advance(wait).await;
        let probe = ticket(&gate);
        assert!(probe.probe && !probe.early());
        told_to_await_an_answer(&gate);
        observe(&gate, &answer(200, &[]), &probe);
        drop(probe);
        // Nothing says how fast the server admits: the others go at once.
        let others: Vec<_> = (0..5).map(|_| ticket(&gate)).collect();
        assert!(others.iter().all(|t| !t.probe && !t.tracked));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_a_server_asks_for_lasts_at_most_the_callers_cap() {
        let gate = RateLimitGate::new();
        let first = ticket(&gate);
        let short_cap = WaitLimits::new(
            &RetryPolicy::standard().max_wait(Duration::from_secs(3)),
            None,
        );
        let (status, headers) = answer(429, &[("retry-after", "1000000000")]);
        let rate_limit = RateLimit::from_headers(&headers);
        gate.observe(status, &headers, rate_limit, &first, &short_cap);
        drop(first);
        let wait = gate.remaining().expect("held");
        assert!(wait > Duration::from_millis(2900) && wait <= Duration::from_secs(3));
        tokio::time::advance(wait).await;
        let probe = ticket(&gate);
        assert!(probe.probe);
        told_to_await_an_answer(&gate);
    }

    #[tokio::test(start_paused = true)]
    async fn an_answered_probe_wakes_the_first_call_in_line() {
        let gate = RateLimitGate::new();
        let first = ticket(&gate);
        observe(&gate, &answer(429, &[("retry-after", "1")]), &first);
        drop(first);
        tokio::time::advance(Duration::from_secs(1)).await;
        let probe = ticket(&gate);
        let limits = limits();
        let started = Instant::now();
        let mut arrival = None;
        let waiting = gate.wait_turn(&limits, label(), &mut arrival);
        let answered = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            observe(&gate, &answer(200, &[]), &probe);
            drop(probe);
        };
        let (admitted, ()) = tokio::join!(waiting, answered);
        let admitted = admitted.map_err(|(give_up, _)| give_up).expect("admitted");
        assert!(!admitted.probe);
        // Woken by the answer itself.
        assert_eq!(started.elapsed(), Duration::from_millis(50));
    }

    #[tokio::test(start_paused = true)]
    async fn calls_are_admitted_in_the_order_they_arrived() {
        let gate = RateLimitGate::new();
        // A pace of 10 per second, learned from an empty server.
        let first = ticket(&gate);
        observe(&gate, &answer(200, &limit_headers("0", "1")), &first);
        drop(first);
        let limits = limits();
        let order = Arc::new(Mutex::new(Vec::new()));
        let waiting: Vec<_> = (0..8)
            .map(|call| {
                let (gate, order) = (gate.clone(), Arc::clone(&order));
                tokio::spawn(async move {
                    // Each call arrives a millisecond after the previous one.
                    tokio::time::sleep(Duration::from_millis(call)).await;
                    let mut arrival = None;
                    let ticket = gate
                        .wait_turn(&limits, label(), &mut arrival)
                        .await
                        .map_err(|(give_up, _)| give_up)
                        .expect("admitted");
                    order.lock().expect("order").push((call, Instant::now()));
                    drop(ticket);
                })
            })
            .collect();
        for handle in waiting {
            handle.await.expect("task");
        }
        let order = order.lock().expect("order").clone();
        let calls: Vec<u64> = order.iter().map(|(call, _)| *call).collect();
        assert_eq!(calls, (0..8).collect::<Vec<_>>());
        // About one every 200 ms, not all at once.
        let span = order[7].1 - order[0].1;
        assert!(span >= Duration::from_millis(1000), "{span:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_waiting_in_line_gives_up_at_its_deadline() {
        let gate = RateLimitGate::new();
        let first = ticket(&gate);
        observe(&gate, &answer(200, &limit_headers("0", "1")), &first);
        drop(first);
        // Another call holds the first place in line for good.
        let blocking = gate.lock().arrive();
        gate.lock().line.insert(blocking, Arc::new(Notify::new()));
        let deadline = WaitLimits::new(
            &RetryPolicy::standard(),
            Instant::now().checked_add(Duration::from_secs(2)),
        );
        let started = Instant::now();
        let mut arrival = None;
        let refused = gate.wait_turn(&deadline, label(), &mut arrival).await;
        assert!(matches!(
            refused.map(drop),
            Err((GiveUp::WaitExceedsDeadline { .. }, _))
        ));
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        // Its place is given up.
        assert_eq!(gate.lock().line.len(), 1);
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
        assert!(gate.lock().pace.is_none());
        let _ = ticket(&gate);
    }

    /// Runs 32 tasks making `calls` calls through one gate against `server`, 1 ms per answer.
    async fn run_simulated(
        server: &Arc<Server>,
        calls: usize,
    ) -> (Vec<super::super::simulated::Call>, RateLimitGate) {
        let gate = RateLimitGate::new();
        let calls = drive(&gate, server, 32, calls, Duration::from_millis(1)).await;
        (calls, gate)
    }

    fn end(calls: &[super::super::simulated::Call]) -> Instant {
        calls.iter().map(|c| c.ended).max().expect("calls")
    }

    #[tokio::test(start_paused = true)]
    async fn a_small_bucket_is_paced_at_its_refill_rate() {
        // 20 per second from a bucket of 5, reported on 429s only: the headers say "5 within a
        // second", the answers show 20.
        for retry_after in [true, false] {
            let limiter = Limiter::Bucket {
                capacity: 5,
                rate: 20.0,
            };
            let server = Server::new(limiter, false, retry_after);
            let (calls, gate) = run_simulated(&server, 1200).await;
            assert!(calls.iter().all(|c| c.succeeded));
            let share = server.share_of_rate(end(&calls));
            assert!(share >= 0.9, "{share}");
            // A naive client collects about one 429 per task per second: 60 s × 32.
            assert!(server.refused() <= 100, "{}", server.refused());
            let rate = gate.lock().pace.as_ref().map(Pace::rate).expect("paced");
            assert!(rate > 16.0 && rate < 22.0, "learned {rate}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn fixed_windows_and_buckets_of_any_size_are_paced() {
        let limiters = [
            Limiter::Window {
                limit: 100,
                length: Duration::from_secs(1),
            },
            Limiter::Bucket {
                capacity: 25,
                rate: 100.0,
            },
            Limiter::Bucket {
                capacity: 100,
                rate: 100.0,
            },
            Limiter::Bucket {
                capacity: 400,
                rate: 100.0,
            },
        ];
        for limiter in limiters {
            for (headers_always, retry_after) in [(true, true), (false, true), (false, false)] {
                let server = Server::new(limiter, headers_always, retry_after);
                let (calls, _) = run_simulated(&server, 2000).await;
                let case = format!(
                    "{limiter:?}, headers always {headers_always}, retry-after {retry_after}"
                );
                assert!(calls.iter().all(|c| c.succeeded), "{case}");
                let share = server.share_of_rate(end(&calls));
                assert!(share >= 0.9, "{case}: {share}");
                // A naive client collects about 600 over these 20 s.
                assert!(server.refused() <= 80, "{case}: {}", server.refused());
                let ratio = worst_wait_ratio(&calls, Duration::from_secs(1));
                assert!(
                    ratio <= 2.5,
                    "{case}: a call waited {ratio:.1} times its turn"
                );
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn two_clients_share_one_limit() {
        for headers_always in [true, false] {
            let limiter = Limiter::Bucket {
                capacity: 50,
                rate: 100.0,
            };
            let server = Server::new(limiter, headers_always, true);
            let (a, b) = (RateLimitGate::new(), RateLimitGate::new());
            let latency = Duration::from_millis(1);
            let (calls_a, calls_b) = tokio::join!(
                drive(&a, &server, 16, 1000, latency),
                drive(&b, &server, 16, 1000, latency)
            );
            assert!(calls_a.iter().chain(&calls_b).all(|c| c.succeeded));
            let end = end(&calls_a).max(end(&calls_b));
            let share = server.share_of_rate(end);
            assert!(share >= 0.9, "headers always {headers_always}: {share}");
        }
    }
}
