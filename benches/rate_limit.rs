//! Behaviour under a server-side rate limit.
//!
//! A loopback server limits with either a fixed window (R requests per 1-second window) or a
//! token bucket (refilled continuously at R per second, holding at most B). It answers refused
//! requests with 429 and Confluent-style `X-RateLimit-Limit` (R for a window, B for a bucket),
//! `-Remaining` and `-Reset` (relative whole seconds, rounded up: to the window's end, or until
//! the bucket is full), on every answer or on 429s only, and `Retry-After` (whole seconds to the
//! next admission, rounded up) or none. 32 tasks make `get` calls through one client for about
//! ten seconds of the server's rate, first through the SDK (standard policy with
//! `max_retries(10)`), then through a naive client that retries each request on its own after
//! the `Retry-After` it was given (else 1 s × 2^n), as go-retryablehttp does. Runs alternate
//! (A/B, then B/A) when there are several rounds, and the report gives the medians.
//!
//! Then two SDK clients share one limit, 16 tasks each: two clients in this process, and two
//! processes (this benchmark started twice more, as clients only).
//!
//! `cargo bench --bench rate_limit [-- FILTER…] [--quick]`; `BENCH_ROUNDS` (1), `BENCH_SECONDS`
//! (10: calls per run are that many seconds of the server's rate), `BENCH_TASKS` (32) and
//! `BENCH_LATENCY_MS` (0) override the defaults.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use cloud_plugin_sdk::golem::{GolemClient, Plugin, PluginId};
use cloud_plugin_sdk::retry::RetryPolicy;
use support::server::{Handler, LoopbackServer};
use support::stats::{median, percentile};
use support::{Arm, Settings, fail, fixtures};

/// Retries allowed to both clients, so that every call can finish.
const MAX_RETRIES: u32 = 10;
/// Calls begun in the first second, before a client can know anything about the limit, are left
/// out of the wait ratios.
const SETTLING: Duration = Duration::from_secs(1);
/// "About twice": the worst wait a call may have relative to its turn.
const WAIT_RATIO_TARGET: f64 = 2.5;
/// Set in a client process started by this benchmark: the server's base URL.
const CHILD_URL: &str = "BENCH_CHILD_URL";
/// Set in a client process: the calls and tasks it makes.
const CHILD_CALLS: &str = "BENCH_CHILD_CALLS";
const CHILD_TASKS: &str = "BENCH_CHILD_TASKS";

/// Which responses carry the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeaderPolicy {
    /// Every response (successes report what is left).
    Always,
    /// Only 429 answers.
    On429Only,
}

/// How the server limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `rate` requests per 1-second window.
    Window,
    /// A bucket of `capacity` tokens refilled continuously at `rate` per second.
    Bucket { capacity: u64 },
}

/// A server's limit and how it reports it.
#[derive(Debug, Clone, Copy)]
struct Limit {
    kind: Kind,
    /// Requests per second.
    rate: u64,
    headers: HeaderPolicy,
    retry_after: bool,
}

impl Limit {
    fn label(&self) -> String {
        let limiter = match self.kind {
            Kind::Window => format!("fixed window {}/s", self.rate),
            Kind::Bucket { capacity } => format!("token bucket {}/s, burst {capacity}", self.rate),
        };
        let headers = match self.headers {
            HeaderPolicy::Always => "headers on every answer",
            HeaderPolicy::On429Only => "headers on 429 only",
        };
        let retry_after = if self.retry_after {
            "Retry-After"
        } else {
            "no Retry-After"
        };
        format!("{limiter}, {headers}, {retry_after}")
    }
}

/// What the server saw during one run.
#[derive(Debug)]
struct LimiterState {
    epoch: Instant,
    window: u64,
    used: u64,
    tokens: f64,
    refilled_at: Instant,
    /// Requests admitted and refused in each second since the run began.
    admitted: Vec<u64>,
    refused: Vec<u64>,
}

/// One answer's verdict and headers.
struct Verdict {
    admitted: bool,
    limit: u64,
    remaining: u64,
    reset: u64,
    retry_after: u64,
}

/// Whole seconds, rounded up: never earlier than the real time.
fn whole_seconds(seconds: f64) -> u64 {
    (seconds - 1e-9).ceil().max(0.0) as u64
}

struct Limiter {
    limit: Limit,
    state: Mutex<Option<LimiterState>>,
}

impl Limiter {
    fn new(limit: Limit) -> Limiter {
        Limiter {
            limit,
            state: Mutex::new(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<LimiterState>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a new run: a fresh window or a full bucket, counters from zero.
    fn reset(&self) {
        let now = Instant::now();
        let tokens = match self.limit.kind {
            Kind::Bucket { capacity } => capacity as f64,
            Kind::Window => 0.0,
        };
        *self.lock() = Some(LimiterState {
            epoch: now,
            window: 0,
            used: 0,
            tokens,
            refilled_at: now,
            admitted: Vec::new(),
            refused: Vec::new(),
        });
    }

    /// Admits or refuses one request arriving now.
    fn take(&self) -> Verdict {
        let now = Instant::now();
        let mut guard = self.lock();
        let state = guard.get_or_insert_with(|| LimiterState {
            epoch: now,
            window: 0,
            used: 0,
            tokens: 0.0,
            refilled_at: now,
            admitted: Vec::new(),
            refused: Vec::new(),
        });
        let elapsed = now.duration_since(state.epoch).as_secs_f64();
        let rate = self.limit.rate as f64;
        let verdict = match self.limit.kind {
            Kind::Window => {
                let window = elapsed as u64;
                if window != state.window {
                    state.window = window;
                    state.used = 0;
                }
                let to_end = (window + 1) as f64 - elapsed;
                let admitted = state.used < self.limit.rate;
                if admitted {
                    state.used += 1;
                }
                Verdict {
                    admitted,
                    limit: self.limit.rate,
                    remaining: self.limit.rate - state.used,
                    reset: whole_seconds(to_end).max(1),
                    retry_after: whole_seconds(to_end).max(1),
                }
            }
            Kind::Bucket { capacity } => {
                let since = now.duration_since(state.refilled_at).as_secs_f64();
                state.refilled_at = now;
                state.tokens = (state.tokens + since * rate).min(capacity as f64);
                let admitted = state.tokens >= 1.0;
                if admitted {
                    state.tokens -= 1.0;
                }
                Verdict {
                    admitted,
                    limit: capacity,
                    remaining: state.tokens as u64,
                    reset: whole_seconds((capacity as f64 - state.tokens) / rate),
                    retry_after: whole_seconds((1.0 - state.tokens) / rate).max(1),
                }
            }
        };
        let second = elapsed as usize;
        if state.admitted.len() <= second {
            state.admitted.resize(second + 1, 0);
            state.refused.resize(second + 1, 0);
        }
        if verdict.admitted {
            state.admitted[second] += 1;
        } else {
            state.refused[second] += 1;
        }
        verdict
    }

    /// Requests admitted and refused per second of the run.
    fn counts(&self) -> (Vec<u64>, Vec<u64>) {
        self.lock()
            .as_ref()
            .map(|state| (state.admitted.clone(), state.refused.clone()))
            .unwrap_or_default()
    }
}

fn handler(limiter: Arc<Limiter>) -> Handler {
    let body = fixtures::golem_plugin();
    let path = format!("/v1/plugins/{}", fixtures::GOLEM_PLUGIN);
    Arc::new(move |parts| {
        if parts.uri.path() != path {
            return support::server::empty(404);
        }
        let verdict = limiter.take();
        let rate_headers = [
            ("x-ratelimit-limit", verdict.limit.to_string()),
            ("x-ratelimit-remaining", verdict.remaining.to_string()),
            ("x-ratelimit-reset", verdict.reset.to_string()),
        ];
        if verdict.admitted {
            let mut headers = vec![("content-type", fixtures::GOLEM_CONTENT_TYPE.to_string())];
            if limiter.limit.headers == HeaderPolicy::Always {
                headers.extend(rate_headers);
            }
            support::server::response(200, &headers, body.clone())
        } else {
            let mut headers = Vec::from(rate_headers);
            if limiter.limit.retry_after {
                headers.push(("retry-after", verdict.retry_after.to_string()));
            }
            support::server::response(429, &headers, Bytes::new())
        }
    })
}

/// One call: when it began and ended, and whether it succeeded.
#[derive(Debug, Clone, Copy)]
struct CallRecord {
    began: Instant,
    ended: Instant,
    succeeded: bool,
}

/// Runs `calls` calls from `tasks` tasks, each call made by `call`.
async fn drive<F, Fut>(calls: usize, tasks: usize, call: F) -> Vec<CallRecord>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let call = Arc::new(call);
    let next = Arc::new(AtomicUsize::new(0));
    let records = Arc::new(Mutex::new(Vec::with_capacity(calls)));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (call, next, records) =
                (Arc::clone(&call), Arc::clone(&next), Arc::clone(&records));
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < calls {
                    let began = Instant::now();
                    let succeeded = call().await.is_ok();
                    let record = CallRecord {
                        began,
                        ended: Instant::now(),
                        succeeded,
                    };
                    records
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(record);
                }
            })
        })
        .collect();
    for handle in handles {
        if let Err(err) = handle.await {
            fail(&format!("task failed: {err}"));
        }
    }
    let mut records = records
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    records.sort_by_key(|record| record.began);
    records
}

fn sdk_client(base_url: &str) -> GolemClient {
    GolemClient::builder()
        .base_url(base_url)
        .token(support::TOKEN)
        .retry_policy(RetryPolicy::standard().max_retries(MAX_RETRIES))
        .build()
        .unwrap_or_else(|err| fail(&format!("cannot build the Golem client: {err}")))
}

fn plugin_id() -> PluginId {
    fixtures::GOLEM_PLUGIN
        .parse()
        .unwrap_or_else(|_| fail("bad plugin id"))
}

/// `calls` calls from `tasks` tasks through one SDK client.
async fn sdk_run(base_url: String, calls: usize, tasks: usize) -> Vec<CallRecord> {
    let client = sdk_client(&base_url);
    let id = plugin_id();
    drive(calls, tasks, move || {
        let client = client.clone();
        async move {
            client
                .plugins()
                .get(id)
                .await
                .map(drop)
                .map_err(|err| err.to_string())
        }
    })
    .await
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

/// `calls` calls from `tasks` tasks through the naive client.
async fn naive_run(base_url: String, calls: usize, tasks: usize) -> Vec<CallRecord> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|err| fail(&format!("cannot build the reqwest client: {err}")));
    let url: Arc<str> = Arc::from(format!("{base_url}/v1/plugins/{}", fixtures::GOLEM_PLUGIN));
    drive(calls, tasks, move || {
        naive_get(http.clone(), Arc::clone(&url))
    })
    .await
}

/// The outcome of one run.
#[derive(Debug, Clone, Default)]
struct Outcome {
    elapsed: Duration,
    failed: usize,
    refused: u64,
    refused_first_second: u64,
    /// Requests admitted in the seconds that ended before the run did, over R per second.
    share_of_rate: f64,
    /// The largest and the 99th-percentile ratio of a call's time to its turn in line.
    worst_wait: f64,
    p99_wait: f64,
    admitted_per_second: Vec<u64>,
    refused_per_second: Vec<u64>,
}

/// Each call's time over what its place in line implies: the calls ahead of it (begun before,
/// not yet ended), plus itself, at the rate the run achieved. Calls begun in the first second
/// are left out.
fn wait_ratios(records: &[CallRecord], start: Instant, elapsed: Duration) -> Vec<f64> {
    let rate = records.len() as f64 / elapsed.as_secs_f64();
    records
        .iter()
        .enumerate()
        .filter(|(_, call)| call.began.duration_since(start) >= SETTLING)
        .map(|(i, call)| {
            let ahead = records[..i]
                .iter()
                .filter(|other| other.ended > call.began)
                .count();
            let turn = (ahead + 1) as f64 / rate;
            call.ended.duration_since(call.began).as_secs_f64() / turn
        })
        .collect()
}

/// Sums up a run that began at `start` and made `records`, from the client's and the server's
/// side.
fn outcome(limiter: &Limiter, start: Instant, records: &[CallRecord]) -> Outcome {
    let end = records.iter().map(|call| call.ended).max().unwrap_or(start);
    let elapsed = end.duration_since(start);
    let (admitted, refused) = limiter.counts();
    let complete = (elapsed.as_secs() as usize).min(admitted.len());
    let share_of_rate = if complete == 0 {
        f64::NAN
    } else {
        admitted[..complete].iter().sum::<u64>() as f64
            / (limiter.limit.rate as f64 * complete as f64)
    };
    let ratios = wait_ratios(records, start, elapsed);
    Outcome {
        elapsed,
        failed: records.iter().filter(|call| !call.succeeded).count(),
        refused: refused.iter().sum(),
        refused_first_second: refused.first().copied().unwrap_or(0),
        share_of_rate,
        worst_wait: ratios.iter().copied().fold(0.0, f64::max),
        p99_wait: percentile(&ratios, 99.0),
        admitted_per_second: admitted,
        refused_per_second: refused,
    }
}

fn run_once(
    runtime: &tokio::runtime::Runtime,
    server: &LoopbackServer,
    limiter: &Limiter,
    arm: Arm,
    calls: usize,
    tasks: usize,
) -> Outcome {
    let base_url = server.base_url().to_string();
    limiter.reset();
    let start = Instant::now();
    let records = match arm {
        Arm::Sdk => support::run_on(runtime, sdk_run(base_url, calls, tasks)),
        Arm::Baseline => support::run_on(runtime, naive_run(base_url, calls, tasks)),
    };
    outcome(limiter, start, &records)
}

/// Two clients sharing the limit.
#[derive(Debug, Clone, Copy)]
enum Pair {
    /// Two SDK clients in this process.
    Clients,
    /// Two client processes.
    Processes,
}

/// Runs two SDK clients (or client processes) of `tasks / 2` tasks against one limit, each
/// making half the calls.
fn run_pair(
    runtime: &tokio::runtime::Runtime,
    server: &LoopbackServer,
    limiter: &Limiter,
    pair: Pair,
    calls: usize,
    tasks: usize,
) -> Outcome {
    let base_url = server.base_url().to_string();
    let (half_calls, half_tasks) = (calls / 2, (tasks / 2).max(1));
    limiter.reset();
    let start = Instant::now();
    let records = match pair {
        Pair::Clients => {
            let (a, b) = (base_url.clone(), base_url);
            support::run_on(runtime, async move {
                let (a, b) = tokio::join!(
                    tokio::spawn(sdk_run(a, half_calls, half_tasks)),
                    tokio::spawn(sdk_run(b, half_calls, half_tasks))
                );
                let mut records = a.unwrap_or_else(|err| fail(&format!("client failed: {err}")));
                records.extend(b.unwrap_or_else(|err| fail(&format!("client failed: {err}"))));
                records
            })
        }
        Pair::Processes => {
            let exe = std::env::current_exe()
                .unwrap_or_else(|err| fail(&format!("cannot find this benchmark: {err}")));
            let children: Vec<_> = (0..2)
                .map(|_| {
                    std::process::Command::new(&exe)
                        .env(CHILD_URL, &base_url)
                        .env(CHILD_CALLS, half_calls.to_string())
                        .env(CHILD_TASKS, half_tasks.to_string())
                        .stdout(std::process::Stdio::piped())
                        .spawn()
                        .unwrap_or_else(|err| fail(&format!("cannot start a client: {err}")))
                })
                .collect();
            children
                .into_iter()
                .flat_map(|child| child_records(child, start))
                .collect()
        }
    };
    let mut records = records;
    records.sort_by_key(|record| record.began);
    outcome(limiter, start, &records)
}

/// Reads what a client process reports: one line per call, `began ended succeeded`, times in
/// seconds since it started. Its start is taken as `start`, which it follows within
/// milliseconds.
fn child_records(child: std::process::Child, start: Instant) -> Vec<CallRecord> {
    let output = child
        .wait_with_output()
        .unwrap_or_else(|err| fail(&format!("a client process failed: {err}")));
    if !output.status.success() {
        fail("a client process failed");
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let began: f64 = fields.next()?.parse().ok()?;
            let ended: f64 = fields.next()?.parse().ok()?;
            let succeeded = fields.next()? == "ok";
            Some(CallRecord {
                began: start + Duration::from_secs_f64(began),
                ended: start + Duration::from_secs_f64(ended),
                succeeded,
            })
        })
        .collect()
}

/// Runs as a client process started by [`run_pair`]: the SDK arm against the given server,
/// reporting each call on stdout.
fn child(base_url: String) {
    let number = |name: &str| -> usize {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| fail(&format!("{name} is not set")))
    };
    let (calls, tasks) = (number(CHILD_CALLS), number(CHILD_TASKS));
    let runtime = support::client_runtime();
    let start = Instant::now();
    let records = support::run_on(&runtime, sdk_run(base_url, calls, tasks));
    let mut out = String::new();
    for record in records {
        out.push_str(&format!(
            "{:.6} {:.6} {}\n",
            record.began.duration_since(start).as_secs_f64(),
            record.ended.duration_since(start).as_secs_f64(),
            if record.succeeded { "ok" } else { "failed" }
        ));
    }
    print!("{out}");
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// The single-client cases: every limiter with every way of reporting it.
fn single_cases() -> Vec<Limit> {
    let limiters = [
        (Kind::Window, 200),
        (Kind::Bucket { capacity: 5 }, 20),
        (Kind::Bucket { capacity: 25 }, 100),
        (Kind::Bucket { capacity: 100 }, 100),
        (Kind::Bucket { capacity: 400 }, 100),
    ];
    let mut cases = Vec::new();
    for (kind, rate) in limiters {
        for headers in [HeaderPolicy::Always, HeaderPolicy::On429Only] {
            for retry_after in [true, false] {
                cases.push(Limit {
                    kind,
                    rate,
                    headers,
                    retry_after,
                });
            }
        }
    }
    cases
}

/// The shared-limit cases.
fn pair_cases() -> Vec<Limit> {
    let mut cases = Vec::new();
    for (kind, rate) in [(Kind::Window, 200), (Kind::Bucket { capacity: 50 }, 100)] {
        for headers in [HeaderPolicy::Always, HeaderPolicy::On429Only] {
            cases.push(Limit {
                kind,
                rate,
                headers,
                retry_after: true,
            });
        }
    }
    cases
}

/// The medians of the runs' figures.
struct Summary {
    elapsed: f64,
    share: f64,
    refused: f64,
    refused_first_second: f64,
    failed: f64,
    worst_wait: f64,
    p99_wait: f64,
}

fn summarize(runs: &[Outcome]) -> Option<Summary> {
    if runs.is_empty() {
        return None;
    }
    let pick = |f: &dyn Fn(&Outcome) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    Some(Summary {
        elapsed: pick(&|o| o.elapsed.as_secs_f64()),
        share: pick(&|o| o.share_of_rate),
        refused: pick(&|o| o.refused as f64),
        refused_first_second: pick(&|o| o.refused_first_second as f64),
        failed: pick(&|o| o.failed as f64),
        worst_wait: pick(&|o| o.worst_wait),
        p99_wait: pick(&|o| o.p99_wait),
    })
}

fn main() {
    if let Ok(base_url) = std::env::var(CHILD_URL) {
        child(base_url);
        return;
    }
    let settings = Settings::from_env(1);
    let seconds = env_number("BENCH_SECONDS", if settings.quick { 3 } else { 10 });
    let tasks = usize::try_from(env_number("BENCH_TASKS", 32)).unwrap_or(32);
    let latency = Duration::from_millis(
        std::env::var("BENCH_LATENCY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0u64)
            .min(10_000),
    );

    println!("rate limit: SDK vs naive per-request retries (go-retryablehttp style)");
    println!("machine: {}", support::machine());
    println!(
        "{tasks} tasks through one client, {seconds} s of the server's rate per run; both clients \
         allow {MAX_RETRIES} retries; answers held {} ms; {} round(s), medians shown",
        latency.as_millis(),
        settings.rounds
    );
    println!();
    println!(
        "| server | client | completion | share of R | 429s | in the first second | failed calls | worst wait / turn | p99 wait / turn | targets |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---|");

    let runtime = support::client_runtime();
    for limit in single_cases() {
        let label = limit.label();
        if !settings.selects(&label) {
            continue;
        }
        let calls = usize::try_from(limit.rate * seconds).unwrap_or(usize::MAX);
        let limiter = Arc::new(Limiter::new(limit));
        let server = LoopbackServer::start_with_delay(handler(Arc::clone(&limiter)), latency);
        let mut sdk = Vec::new();
        let mut naive = Vec::new();
        for round in 0..settings.rounds {
            let mut order = vec![Arm::Sdk, Arm::Baseline];
            if round % 2 == 1 {
                order.reverse();
            }
            for arm in order.into_iter().filter(|arm| settings.runs(*arm)) {
                let outcome = run_once(&runtime, &server, &limiter, arm, calls, tasks);
                eprintln!(
                    "  {label}, round {round}, {arm:?}: {:.2} s, {} failed, worst wait {:.2}; admitted per second {:?}; 429s per second {:?}",
                    outcome.elapsed.as_secs_f64(),
                    outcome.failed,
                    outcome.worst_wait,
                    outcome.admitted_per_second,
                    outcome.refused_per_second,
                );
                match arm {
                    Arm::Sdk => sdk.push(outcome),
                    Arm::Baseline => naive.push(outcome),
                }
            }
        }
        let naive_summary = summarize(&naive);
        for (name, summary) in [("SDK", summarize(&sdk)), ("naive", summarize(&naive))] {
            let Some(s) = summary else { continue };
            let targets = match (name, &naive_summary) {
                ("SDK", Some(naive)) => {
                    // "5 times fewer" holds for any count at most a fifth of the naive one.
                    let fewer_enough = s.refused * 5.0 <= naive.refused;
                    let fewer = if s.refused == 0.0 {
                        "none".to_string()
                    } else {
                        format!("{:.1}× fewer", naive.refused / s.refused)
                    };
                    let met = s.failed == 0.0
                        && s.share >= 0.9
                        && fewer_enough
                        && s.worst_wait <= WAIT_RATIO_TARGET;
                    format!(
                        "{}: all calls {}, ≥ 90% {}, 429s {fewer}, waits {}",
                        if met { "met" } else { "missed" },
                        yes(s.failed == 0.0),
                        yes(s.share >= 0.9),
                        yes(s.worst_wait <= WAIT_RATIO_TARGET),
                    )
                }
                _ => String::new(),
            };
            println!(
                "| {label} | {name} | {:.2} s | {:.1}% | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {targets} |",
                s.elapsed,
                s.share * 100.0,
                s.refused,
                s.refused_first_second,
                s.failed,
                s.worst_wait,
                s.p99_wait,
            );
        }
    }

    if settings.runs(Arm::Sdk) {
        println!();
        println!(
            "two SDK clients sharing one limit, {} tasks each, {seconds} s of the server's rate",
            (tasks / 2).max(1)
        );
        println!();
        println!(
            "| server | clients | completion | share of R (together) | 429s | failed calls | worst wait / turn | targets |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|---|");
        for limit in pair_cases() {
            let label = limit.label();
            let calls = usize::try_from(limit.rate * seconds).unwrap_or(usize::MAX);
            let limiter = Arc::new(Limiter::new(limit));
            let server = LoopbackServer::start_with_delay(handler(Arc::clone(&limiter)), latency);
            for pair in [Pair::Clients, Pair::Processes] {
                let name = match pair {
                    Pair::Clients => "two clients, one process",
                    Pair::Processes => "two processes",
                };
                if !settings.selects(&format!("{label} {name}")) {
                    continue;
                }
                let runs: Vec<_> = (0..settings.rounds)
                    .map(|round| {
                        let outcome = run_pair(&runtime, &server, &limiter, pair, calls, tasks);
                        eprintln!(
                            "  {label}, {name}, round {round}: {:.2} s, {} failed; admitted per second {:?}; 429s per second {:?}",
                            outcome.elapsed.as_secs_f64(),
                            outcome.failed,
                            outcome.admitted_per_second,
                            outcome.refused_per_second,
                        );
                        outcome
                    })
                    .collect();
                let Some(s) = summarize(&runs) else { continue };
                let met = s.failed == 0.0 && s.share >= 0.9;
                println!(
                    "| {label} | {name} | {:.2} s | {:.1}% | {:.0} | {:.0} | {:.2} | {}: all calls {}, ≥ 90% {} |",
                    s.elapsed,
                    s.share * 100.0,
                    s.refused,
                    s.failed,
                    s.worst_wait,
                    if met { "met" } else { "missed" },
                    yes(s.failed == 0.0),
                    yes(s.share >= 0.9),
                );
            }
        }
    }
}

fn yes(ok: bool) -> &'static str {
    if ok { "yes" } else { "no" }
}
