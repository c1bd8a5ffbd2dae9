//! Rate-limited servers simulated in-process, and calls driven through a gate against them, for
//! tests under tokio's paused clock: a minute of traffic runs in milliseconds and the same way
//! every time.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use tokio::time::Instant;

use super::RetryPolicy;
use super::gate::{CallLabel, RateLimitGate};
use super::policy::WaitLimits;
use crate::ratelimit::RateLimit;

/// How a simulated server limits.
#[derive(Debug, Clone, Copy)]
pub(super) enum Limiter {
    /// `limit` requests per window of `length`, counted from the server's start.
    Window { limit: u64, length: Duration },
    /// A bucket of `capacity` tokens, full at the start, refilled continuously at `rate` per
    /// second.
    Bucket { capacity: u64, rate: f64 },
}

impl Limiter {
    /// The long-run rate the limiter admits, per second.
    pub(super) fn rate(self) -> f64 {
        match self {
            Limiter::Window { limit, length } => limit as f64 / length.as_secs_f64(),
            Limiter::Bucket { rate, .. } => rate,
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    window: u64,
    used: u64,
    tokens: f64,
    refilled_at: Option<Instant>,
    /// Requests admitted in each second since the start.
    admitted: Vec<u64>,
    refused: u64,
}

/// A server answering 200 or 429 by its limiter, with `X-RateLimit-Limit`, `-Remaining` and
/// `-Reset` (relative whole seconds, rounded up) on every answer or on 429s only, and
/// `Retry-After` (whole seconds to the next admission, rounded up) on 429s or not at all.
#[derive(Debug)]
pub(super) struct Server {
    limiter: Limiter,
    headers_always: bool,
    retry_after: bool,
    start: Instant,
    counts: Mutex<Counts>,
}

fn whole_seconds(seconds: f64) -> u64 {
    (seconds - 1e-9).ceil().max(0.0) as u64
}

impl Server {
    pub(super) fn new(limiter: Limiter, headers_always: bool, retry_after: bool) -> Arc<Server> {
        let tokens = match limiter {
            Limiter::Bucket { capacity, .. } => capacity as f64,
            Limiter::Window { .. } => 0.0,
        };
        Arc::new(Server {
            limiter,
            headers_always,
            retry_after,
            start: Instant::now(),
            counts: Mutex::new(Counts {
                tokens,
                ..Counts::default()
            }),
        })
    }

    /// Answers a request arriving now: the status and the headers.
    pub(super) fn answer(&self) -> (StatusCode, HeaderMap) {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.start);
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let (admitted, limit, remaining, reset, next) = match self.limiter {
            Limiter::Window { limit, length } => {
                let window = (elapsed.as_nanos() / length.as_nanos()) as u64;
                if window != counts.window {
                    counts.window = window;
                    counts.used = 0;
                }
                let end = length.as_secs_f64() * (window + 1) as f64 - elapsed.as_secs_f64();
                let admitted = counts.used < limit;
                if admitted {
                    counts.used += 1;
                }
                (admitted, limit, limit - counts.used, end, end)
            }
            Limiter::Bucket { capacity, rate } => {
                let since = counts.refilled_at.map_or(elapsed, |at| now - at);
                counts.refilled_at = Some(now);
                counts.tokens = (counts.tokens + since.as_secs_f64() * rate).min(capacity as f64);
                let admitted = counts.tokens >= 1.0;
                if admitted {
                    counts.tokens -= 1.0;
                }
                let full = (capacity as f64 - counts.tokens) / rate;
                let next = (1.0 - counts.tokens) / rate;
                (admitted, capacity, counts.tokens as u64, full, next)
            }
        };
        let second = elapsed.as_secs() as usize;
        if counts.admitted.len() <= second {
            counts.admitted.resize(second + 1, 0);
        }
        let mut headers = HeaderMap::new();
        if admitted {
            counts.admitted[second] += 1;
        } else {
            counts.refused += 1;
            if self.retry_after {
                headers.insert("retry-after", HeaderValue::from(whole_seconds(next).max(1)));
            }
        }
        if self.headers_always || !admitted {
            headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
            headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
            headers.insert("x-ratelimit-reset", HeaderValue::from(whole_seconds(reset)));
        }
        let status = if admitted {
            StatusCode::OK
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        (status, headers)
    }

    /// Requests refused so far.
    pub(super) fn refused(&self) -> u64 {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .refused
    }

    /// What the server admitted in the whole seconds before `end`, over what its limiter
    /// allows in that time.
    pub(super) fn share_of_rate(&self, end: Instant) -> f64 {
        let seconds = end.saturating_duration_since(self.start).as_secs() as usize;
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let admitted: u64 = counts.admitted.iter().take(seconds).sum();
        admitted as f64 / (self.limiter.rate() * seconds as f64)
    }
}

/// One call's course: when it began and ended, and whether it succeeded.
#[derive(Debug, Clone, Copy)]
pub(super) struct Call {
    pub(super) began: Instant,
    pub(super) ended: Instant,
    pub(super) succeeded: bool,
}

/// Makes `calls` calls from `tasks` tasks through `gate` to `server`, each answered after
/// `latency`, retrying 429s as the engine does (up to ten retries, a refusal of a request the
/// gate sent early not counted). Returns every call.
pub(super) async fn drive(
    gate: &RateLimitGate,
    server: &Arc<Server>,
    tasks: usize,
    calls: usize,
    latency: Duration,
) -> Vec<Call> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let record = Arc::new(Mutex::new(Vec::with_capacity(calls)));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (gate, server) = (gate.clone(), Arc::clone(server));
            let (next, record) = (Arc::clone(&next), Arc::clone(&record));
            tokio::spawn(async move {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < calls {
                    let call = one_call(&gate, &server, latency).await;
                    record
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(call);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("task");
    }
    let mut calls = record
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    calls.sort_by_key(|call| call.began);
    calls
}

async fn one_call(gate: &RateLimitGate, server: &Server, latency: Duration) -> Call {
    let policy = RetryPolicy::standard().max_retries(10);
    let began = Instant::now();
    let limits = WaitLimits::new(&policy, began.checked_add(Duration::from_secs(120)));
    let label = CallLabel {
        service: "test",
        operation: "simulated",
        method: &Method::GET,
    };
    let mut arrival = None;
    let mut charged = 0;
    loop {
        let Ok(ticket) = gate.wait_turn(&limits, label, &mut arrival).await else {
            break;
        };
        tokio::time::sleep(latency / 2).await;
        let (status, headers) = server.answer();
        tokio::time::sleep(latency / 2).await;
        let rate_limit = RateLimit::from_headers(&headers);
        gate.observe(status, &headers, rate_limit, &ticket, &limits);
        let early = ticket.early();
        drop(ticket);
        if status.is_success() {
            return Call {
                began,
                ended: Instant::now(),
                succeeded: true,
            };
        }
        if !early {
            charged += 1;
        }
        if charged > 10 {
            break;
        }
    }
    Call {
        began,
        ended: Instant::now(),
        succeeded: false,
    }
}

/// The largest ratio of a call's wait to what its place in line implies: the calls ahead of it
/// (begun before and not yet ended), plus itself, at the rate the run achieved. Calls begun in
/// the first `skip`, before the client could know anything, are left out.
pub(super) fn worst_wait_ratio(calls: &[Call], skip: Duration) -> f64 {
    let (Some(first), Some(last)) = (
        calls.iter().map(|c| c.began).min(),
        calls.iter().map(|c| c.ended).max(),
    ) else {
        return 0.0;
    };
    let rate = calls.len() as f64 / last.saturating_duration_since(first).as_secs_f64();
    calls
        .iter()
        .enumerate()
        .filter(|(_, call)| call.began.saturating_duration_since(first) >= skip)
        .map(|(i, call)| {
            let ahead = calls[..i].iter().filter(|c| c.ended > call.began).count();
            let implied = (ahead + 1) as f64 / rate;
            call.ended
                .saturating_duration_since(call.began)
                .as_secs_f64()
                / implied
        })
        .fold(0.0, f64::max)
}
