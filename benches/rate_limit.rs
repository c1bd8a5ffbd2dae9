//! Behaviour under a server-side rate limit.
//!
//! A loopback server admits R requests per window (a token bucket of R tokens refilled at the
//! start of every window) and answers the rest with 429, `Retry-After` (whole seconds to the next
//! window, rounded up) and Confluent-style `X-RateLimit-Limit`, `-Remaining` and `-Reset`
//! (relative seconds). 32 tasks make 2,000 `get` calls through one client, first through the SDK
//! (standard policy with `max_retries(10)`), then through a naive client that retries each request
//! on its own after the `Retry-After` it was given, as go-retryablehttp does. Runs alternate
//! (A/B, then B/A) and the report gives the median of the rounds.
//!
//! Two server variants: rate-limit headers on every response (as Confluent Cloud documents), and
//! headers on 429 answers only.
//!
//! `cargo bench --bench rate_limit [-- FILTER…] [--quick]`; `BENCH_ROUNDS`, `BENCH_RATE`,
//! `BENCH_CALLS` and `BENCH_TASKS` override the defaults (3 rounds, R = 200/s, 2,000 calls,
//! 32 tasks).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use cloud_plugin_sdk::golem::{GolemClient, Plugin, PluginId};
use cloud_plugin_sdk::retry::RetryPolicy;
use support::server::{Handler, LoopbackServer};
use support::stats::median;
use support::{Arm, Settings, fail, fixtures};

/// The server's admission window.
const WINDOW: Duration = Duration::from_secs(1);
/// Retries allowed to both clients, so that every call can finish.
const MAX_RETRIES: u32 = 10;

/// Which responses carry the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeaderPolicy {
    /// Every response (successes report the budget left).
    Always,
    /// Only 429 answers.
    On429Only,
}

impl HeaderPolicy {
    fn label(self) -> &'static str {
        match self {
            HeaderPolicy::Always => "headers on every response",
            HeaderPolicy::On429Only => "headers on 429 only",
        }
    }
}

/// What the server saw during one run.
#[derive(Debug, Default)]
struct BucketState {
    epoch: Option<Instant>,
    window_index: u64,
    used: u64,
    admitted_per_window: Vec<u64>,
    rejected_per_window: Vec<u64>,
    rejected: u64,
}

/// A token bucket of `limit` tokens, refilled at the start of every window since `epoch`.
struct Bucket {
    limit: u64,
    headers: HeaderPolicy,
    state: Mutex<BucketState>,
}

impl Bucket {
    fn new(limit: u64, headers: HeaderPolicy) -> Bucket {
        Bucket {
            limit,
            headers,
            state: Mutex::new(BucketState::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BucketState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a new run: windows count from now, counters from zero.
    fn reset(&self) {
        *self.lock() = BucketState {
            epoch: Some(Instant::now()),
            ..BucketState::default()
        };
    }

    /// Admits or rejects one request; returns `(admitted, seconds to the next window)`.
    fn take(&self) -> (bool, u64, u64) {
        let now = Instant::now();
        let mut state = self.lock();
        let epoch = *state.epoch.get_or_insert(now);
        let elapsed = now.duration_since(epoch);
        let index = u64::try_from(elapsed.as_nanos() / WINDOW.as_nanos()).unwrap_or(u64::MAX);
        if index != state.window_index {
            state.window_index = index;
            state.used = 0;
        }
        let window_end = WINDOW.saturating_mul(u32::try_from(index + 1).unwrap_or(u32::MAX));
        // Whole seconds, rounded up: never earlier than the real reset.
        let reset = (window_end.saturating_sub(elapsed).as_secs_f64().ceil() as u64).max(1);
        let slot = usize::try_from(index).unwrap_or(usize::MAX);
        if state.admitted_per_window.len() <= slot {
            state.admitted_per_window.resize(slot + 1, 0);
            state.rejected_per_window.resize(slot + 1, 0);
        }
        if state.used < self.limit {
            state.used += 1;
            state.admitted_per_window[slot] += 1;
            (true, self.limit - state.used, reset)
        } else {
            state.rejected += 1;
            state.rejected_per_window[slot] += 1;
            (false, 0, reset)
        }
    }
}

fn handler(bucket: Arc<Bucket>) -> Handler {
    let body = fixtures::golem_plugin();
    let path = format!("/v1/plugins/{}", fixtures::GOLEM_PLUGIN);
    Arc::new(move |parts| {
        if parts.uri.path() != path {
            return support::server::empty(404);
        }
        let (admitted, remaining, reset) = bucket.take();
        let rate_headers = [
            ("x-ratelimit-limit", bucket.limit.to_string()),
            ("x-ratelimit-remaining", remaining.to_string()),
            ("x-ratelimit-reset", reset.to_string()),
        ];
        if admitted {
            let mut headers = vec![("content-type", fixtures::GOLEM_CONTENT_TYPE.to_string())];
            if bucket.headers == HeaderPolicy::Always {
                headers.extend(rate_headers);
            }
            support::server::response(200, &headers, body.clone())
        } else {
            let mut headers = vec![("retry-after", reset.to_string())];
            headers.extend(rate_headers);
            support::server::response(429, &headers, Bytes::new())
        }
    })
}

/// The outcome of one run.
#[derive(Debug, Clone)]
struct Outcome {
    elapsed: Duration,
    succeeded: usize,
    failed: usize,
    rejected: u64,
    rejected_per_window: Vec<u64>,
    admitted_per_window: Vec<u64>,
    /// Requests admitted in the windows that ended before the run did, over R per window.
    share_of_rate: f64,
}

/// Runs `calls` calls from `tasks` tasks, each call made by `call`.
async fn drive<F, Fut>(calls: usize, tasks: usize, call: F) -> (Duration, usize, usize)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let call = Arc::new(call);
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (call, next, failed) = (Arc::clone(&call), Arc::clone(&next), Arc::clone(&failed));
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < calls {
                    if call().await.is_err() {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        if let Err(err) = handle.await {
            fail(&format!("task failed: {err}"));
        }
    }
    let failed = failed.load(Ordering::Relaxed);
    (start.elapsed(), calls - failed, failed)
}

fn sdk_client(base_url: &str) -> GolemClient {
    GolemClient::builder()
        .base_url(base_url)
        .token(support::TOKEN)
        .retry_policy(RetryPolicy::standard().max_retries(MAX_RETRIES))
        .build()
        .unwrap_or_else(|err| fail(&format!("cannot build the Golem client: {err}")))
}

/// One call through the SDK.
async fn sdk_get(client: GolemClient, id: PluginId) -> Result<(), String> {
    client
        .plugins()
        .get(id)
        .await
        .map(drop)
        .map_err(|err| err.to_string())
}

/// One call through the naive client, which retries like go-retryablehttp's defaults: on 429,
/// 503 and other 5xx except 501, and on transport errors; it waits exactly the `Retry-After` of a
/// 429 or 503 (seconds or HTTP-date), otherwise `1 s × 2^attempt` up to 30 s, with no jitter and
/// no knowledge of the other requests.
async fn naive_get(http: reqwest::Client, url: Arc<str>) -> Result<(), String> {
    for attempt in 0..=MAX_RETRIES {
        let result = http
            .get(&*url)
            .bearer_auth(support::TOKEN)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await;
        let server_wait = match result {
            Ok(response) if response.status().is_success() => {
                let body = response.bytes().await.map_err(|err| err.to_string())?;
                let plugin: Plugin =
                    serde_json::from_slice(&body).map_err(|err| err.to_string())?;
                std::hint::black_box(plugin);
                return Ok(());
            }
            Ok(response) => {
                let status = response.status().as_u16();
                let retryable = status == 429 || (status >= 500 && status != 501);
                if !retryable {
                    return Err(format!("status {status}"));
                }
                let wait = if status == 429 || status == 503 {
                    response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| {
                            cloud_plugin_sdk::ratelimit::parse_retry_after(v, SystemTime::now())
                        })
                } else {
                    None
                };
                // Read the body so the connection can be reused, as go-retryablehttp does.
                let _ = response.bytes().await;
                wait
            }
            Err(_) => None,
        };
        if attempt == MAX_RETRIES {
            break;
        }
        let backoff = Duration::from_secs(1)
            .saturating_mul(1 << attempt.min(5))
            .min(Duration::from_secs(30));
        tokio::time::sleep(server_wait.unwrap_or(backoff)).await;
    }
    Err(format!("giving up after {} attempts", MAX_RETRIES + 1))
}

fn run_once(
    runtime: &tokio::runtime::Runtime,
    server: &LoopbackServer,
    bucket: &Bucket,
    arm: Arm,
    calls: usize,
    tasks: usize,
) -> Outcome {
    let id: PluginId = fixtures::GOLEM_PLUGIN
        .parse()
        .unwrap_or_else(|_| fail("bad plugin id"));
    let base_url = server.base_url().to_string();
    bucket.reset();
    let (elapsed, succeeded, failed) = match arm {
        Arm::Sdk => {
            let client = sdk_client(&base_url);
            support::run_on(
                runtime,
                drive(calls, tasks, move || sdk_get(client.clone(), id)),
            )
        }
        Arm::Baseline => {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_else(|err| fail(&format!("cannot build the reqwest client: {err}")));
            let url: Arc<str> = Arc::from(format!("{base_url}/v1/plugins/{}", *id));
            support::run_on(
                runtime,
                drive(calls, tasks, move || {
                    naive_get(http.clone(), Arc::clone(&url))
                }),
            )
        }
    };
    let state = bucket.lock();
    let complete_windows = usize::try_from(elapsed.as_nanos() / WINDOW.as_nanos())
        .unwrap_or(usize::MAX)
        .min(state.admitted_per_window.len());
    let admitted_in_complete: u64 = state.admitted_per_window[..complete_windows].iter().sum();
    let share_of_rate = if complete_windows == 0 {
        f64::NAN
    } else {
        admitted_in_complete as f64 / (bucket.limit as f64 * complete_windows as f64)
    };
    Outcome {
        elapsed,
        succeeded,
        failed,
        rejected: state.rejected,
        rejected_per_window: state.rejected_per_window.clone(),
        admitted_per_window: state.admitted_per_window.clone(),
        share_of_rate,
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

fn main() {
    let settings = Settings::from_env(3);
    let rate = env_number("BENCH_RATE", 200);
    let default_calls = if settings.quick { 300 } else { 2000 };
    let calls = usize::try_from(env_number("BENCH_CALLS", default_calls)).unwrap_or(2000);
    let tasks = usize::try_from(env_number("BENCH_TASKS", 32)).unwrap_or(32);
    let latency = Duration::from_millis(
        std::env::var("BENCH_LATENCY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    );

    println!("rate limit: SDK vs naive per-request retries (go-retryablehttp style)");
    println!("machine: {}", support::machine());
    println!(
        "server admits R = {rate} requests per {} s window; {calls} calls from {tasks} tasks through one client; \
         both clients allow {MAX_RETRIES} retries; {} rounds (A/B alternating), medians shown",
        WINDOW.as_secs(),
        settings.rounds
    );
    println!();
    println!(
        "| server | client | completion | calls/s | share of R | 429s provoked | of which in the first window | failed calls | targets |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---|");

    let runtime = support::client_runtime();
    for headers in [HeaderPolicy::Always, HeaderPolicy::On429Only] {
        if !settings.selects(headers.label()) {
            continue;
        }
        let bucket = Arc::new(Bucket::new(rate, headers));
        let server = LoopbackServer::start_with_delay(handler(Arc::clone(&bucket)), latency);
        let mut sdk = Vec::new();
        let mut naive = Vec::new();
        for round in 0..settings.rounds {
            let mut order = vec![Arm::Sdk, Arm::Baseline];
            if round % 2 == 1 {
                order.reverse();
            }
            for arm in order.into_iter().filter(|arm| settings.runs(*arm)) {
                let outcome = run_once(&runtime, &server, &bucket, arm, calls, tasks);
                eprintln!(
                    "  {}, round {round}, {arm:?}: {:.2} s, {} failed; admitted per window {:?}; 429s per window {:?}",
                    headers.label(),
                    outcome.elapsed.as_secs_f64(),
                    outcome.failed,
                    outcome.admitted_per_window,
                    outcome.rejected_per_window,
                );
                match arm {
                    Arm::Sdk => sdk.push(outcome),
                    Arm::Baseline => naive.push(outcome),
                }
            }
        }
        let summary = |runs: &[Outcome]| -> Option<(f64, f64, f64, f64, f64, f64)> {
            if runs.is_empty() {
                return None;
            }
            let pick =
                |f: &dyn Fn(&Outcome) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
            Some((
                pick(&|o| o.elapsed.as_secs_f64()),
                pick(&|o| o.succeeded as f64 / o.elapsed.as_secs_f64()),
                pick(&|o| o.share_of_rate),
                pick(&|o| o.rejected as f64),
                pick(&|o| o.failed as f64),
                pick(&|o| o.rejected_per_window.first().copied().unwrap_or(0) as f64),
            ))
        };
        let sdk_summary = summary(&sdk);
        let naive_summary = summary(&naive);
        for (name, result) in [("SDK", sdk_summary), ("naive", naive_summary)] {
            let Some((elapsed, rate_achieved, share, rejected, failed, first_window)) = result
            else {
                continue;
            };
            let targets = match (name, naive_summary) {
                ("SDK", Some((_, _, _, naive_rejected, _, _))) => {
                    // "5 times fewer" holds for any count at most a fifth of the naive one.
                    let fewer_enough = rejected * 5.0 <= naive_rejected;
                    let fewer = if rejected == 0.0 {
                        "none".to_string()
                    } else {
                        format!("{:.1}× fewer", naive_rejected / rejected)
                    };
                    let met = failed == 0.0 && share >= 0.9 && fewer_enough;
                    format!(
                        "{}: all calls {}, share ≥ 90% {}, 429s {fewer}",
                        if met { "met" } else { "missed" },
                        if failed == 0.0 { "yes" } else { "no" },
                        if share >= 0.9 { "yes" } else { "no" },
                    )
                }
                _ => String::new(),
            };
            println!(
                "| {} | {name} | {elapsed:.2} s | {rate_achieved:.1} | {:.1}% | {rejected:.0} | {first_window:.0} | {failed:.0} | {targets} |",
                headers.label(),
                share * 100.0,
            );
        }
    }
}
