//! Per-request overhead: one `get` call through each SDK client against the same request made
//! with plain `reqwest` + `serde_json`, sequentially and from 64 concurrent tasks.
//!
//! The server is a hyper server on loopback (its own thread and runtime) answering from a
//! prepared body. Runs alternate SDK and baseline (A/B, then B/A) within each round; the report
//! gives medians over the rounds, and ratios as the median over pairs of rounds (A/B and the B/A
//! after it) of the geometric mean of the pair's two per-round ratios.
//!
//! The last case runs the baseline against itself: its ratios show the harness's resolution.
//!
//! `cargo bench --bench overhead [-- FILTER…] [--quick]`; `BENCH_ROUNDS=n` sets the rounds.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cloud_plugin_sdk::confluent::{ConfluentClient, OAuthConfig, Plugin as ConfluentPlugin};
use cloud_plugin_sdk::golem::{GolemClient, Plugin as GolemPlugin, PluginId};
use support::server::{Handler, LoopbackServer};
use support::stats::{median, micros, percentile};
use support::{Arm, Settings, fail, fixtures};

/// One call, boxed so that every case has the same shape (both arms pay the same boxing).
type Call = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// An operation measured through the SDK (`sdk`) and by hand (`raw`).
struct Case {
    name: &'static str,
    sdk: Call,
    raw: Call,
    /// Both arms run the same code: the ratios show the harness's own resolution.
    calibration: bool,
}

/// The reqwest client of the baselines, configured like the SDK's default one.
fn raw_http() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent("cloud-plugin-sdk-bench")
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|err| fail(&format!("cannot build the reqwest client: {err}")))
}

/// Every operation of every client measured here. A client adds its case to this list and its
/// routes to [`handler`].
fn cases(base_url: &str) -> Vec<Case> {
    vec![
        golem_get_plugin(base_url),
        confluent_get_plugin(base_url),
        confluent_oauth_get_plugin(base_url),
        calibration(base_url),
    ]
}

/// The Golem baseline against itself (two reqwest clients, the same code): whatever ratio this
/// shows is measurement noise or bias of the harness, not overhead.
fn calibration(base_url: &str) -> Case {
    let id: PluginId = fixtures::GOLEM_PLUGIN
        .parse()
        .unwrap_or_else(|_| fail("bad plugin id"));
    let base_url: Arc<str> = Arc::from(base_url);
    let arm = |http: reqwest::Client| -> Call {
        let base_url = Arc::clone(&base_url);
        Arc::new(move || Box::pin(golem_raw_get(http.clone(), Arc::clone(&base_url), id)))
    };
    Case {
        name: "calibration: reqwest vs reqwest",
        sdk: arm(raw_http()),
        raw: arm(raw_http()),
        calibration: true,
    }
}

/// The loopback server's routes.
fn handler() -> Handler {
    let golem_plugin = fixtures::golem_plugin();
    let golem_path = format!("/v1/plugins/{}", fixtures::GOLEM_PLUGIN);
    let confluent_plugin = fixtures::confluent_plugin();
    let confluent_path = format!("/ccpm/v1/plugins/{}", fixtures::CONFLUENT_PLUGIN);
    let confluent_headers = fixtures::confluent_headers();
    let idp_token = fixtures::token_answer(fixtures::OAUTH_IDP_TOKEN);
    let sts_token = fixtures::token_answer(fixtures::OAUTH_STS_TOKEN);
    Arc::new(move |parts| {
        let path = parts.uri.path();
        if path == golem_path {
            support::server::json(&golem_plugin, fixtures::GOLEM_CONTENT_TYPE)
        } else if path == confluent_path {
            support::server::response(200, &confluent_headers, confluent_plugin.clone())
        } else if path == fixtures::OAUTH_IDP_PATH {
            support::server::json(&idp_token, fixtures::CONFLUENT_CONTENT_TYPE)
        } else if path == fixtures::OAUTH_STS_PATH {
            support::server::json(&sts_token, fixtures::CONFLUENT_CONTENT_TYPE)
        } else {
            support::server::empty(404)
        }
    })
}

fn golem_get_plugin(base_url: &str) -> Case {
    let id: PluginId = fixtures::GOLEM_PLUGIN
        .parse()
        .unwrap_or_else(|_| fail("bad plugin id"));
    let client = GolemClient::builder()
        .base_url(base_url)
        .token(support::TOKEN)
        .build()
        .unwrap_or_else(|err| fail(&format!("cannot build the Golem client: {err}")));
    let sdk: Call = Arc::new(move || Box::pin(golem_sdk_get(client.clone(), id)));
    let http = raw_http();
    let base_url: Arc<str> = Arc::from(base_url);
    let raw: Call =
        Arc::new(move || Box::pin(golem_raw_get(http.clone(), Arc::clone(&base_url), id)));
    Case {
        name: "golem get_plugin",
        sdk,
        raw,
        calibration: false,
    }
}

async fn golem_sdk_get(client: GolemClient, id: PluginId) -> Result<(), String> {
    let plugin = client
        .plugins()
        .get(id)
        .await
        .map_err(|err| err.to_string())?;
    std::hint::black_box(plugin);
    Ok(())
}

async fn golem_raw_get(
    http: reqwest::Client,
    base_url: Arc<str>,
    id: PluginId,
) -> Result<(), String> {
    let response = http
        .get(format!("{base_url}/v1/plugins/{}", *id))
        .bearer_auth(support::TOKEN)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|err| err.to_string())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    let body: Bytes = response.bytes().await.map_err(|err| err.to_string())?;
    let plugin: GolemPlugin = serde_json::from_slice(&body).map_err(|err| err.to_string())?;
    std::hint::black_box(plugin);
    Ok(())
}

fn confluent_get_plugin(base_url: &str) -> Case {
    let client = ConfluentClient::builder()
        .base_url(base_url)
        .api_key(fixtures::CONFLUENT_KEY, fixtures::CONFLUENT_SECRET)
        .build()
        .unwrap_or_else(|err| fail(&format!("cannot build the Confluent client: {err}")));
    let sdk: Call = Arc::new(move || Box::pin(confluent_sdk_get(client.clone())));
    let http = raw_http();
    let base_url: Arc<str> = Arc::from(base_url);
    let raw: Call = Arc::new(move || {
        Box::pin(confluent_raw_get(
            http.clone(),
            Arc::clone(&base_url),
            |request| request.basic_auth(fixtures::CONFLUENT_KEY, Some(fixtures::CONFLUENT_SECRET)),
        ))
    });
    Case {
        name: "confluent get_plugin",
        sdk,
        raw,
        calibration: false,
    }
}

/// The Confluent client authenticated through OAuth: the token is fetched by the first (warm-up)
/// call and cached for the lifetime of the benchmark; the baseline sends the same bearer token.
fn confluent_oauth_get_plugin(base_url: &str) -> Case {
    let client = ConfluentClient::builder()
        .base_url(base_url)
        .oauth(OAuthConfig::new(
            format!("{base_url}{}", fixtures::OAUTH_IDP_PATH),
            "bench-client",
            fixtures::CONFLUENT_SECRET,
            "pool-bench",
        ))
        .build()
        .unwrap_or_else(|err| fail(&format!("cannot build the Confluent client: {err}")));
    let sdk: Call = Arc::new(move || Box::pin(confluent_sdk_get(client.clone())));
    let http = raw_http();
    let base_url: Arc<str> = Arc::from(base_url);
    let raw: Call = Arc::new(move || {
        Box::pin(confluent_raw_get(
            http.clone(),
            Arc::clone(&base_url),
            |request| request.bearer_auth(fixtures::OAUTH_STS_TOKEN),
        ))
    });
    Case {
        name: "confluent oauth get_plugin",
        sdk,
        raw,
        calibration: false,
    }
}

async fn confluent_sdk_get(client: ConfluentClient) -> Result<(), String> {
    let plugin = client
        .environment(fixtures::CONFLUENT_ENV)
        .plugins()
        .get(fixtures::CONFLUENT_PLUGIN)
        .await
        .map_err(|err| err.to_string())?;
    std::hint::black_box(plugin);
    Ok(())
}

/// The hand-written Confluent `get`, its credentials added by `authorize`.
async fn confluent_raw_get(
    http: reqwest::Client,
    base_url: Arc<str>,
    authorize: fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> Result<(), String> {
    let request = http
        .get(format!(
            "{base_url}/ccpm/v1/plugins/{}",
            fixtures::CONFLUENT_PLUGIN
        ))
        .query(&[("environment", fixtures::CONFLUENT_ENV)]);
    let response = authorize(request)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|err| err.to_string())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    let body: Bytes = response.bytes().await.map_err(|err| err.to_string())?;
    let plugin: ConfluentPlugin = serde_json::from_slice(&body).map_err(|err| err.to_string())?;
    std::hint::black_box(plugin);
    Ok(())
}

/// The latencies of one run and its wall time.
struct Run {
    latencies_us: Vec<f64>,
    elapsed: Duration,
}

impl Run {
    fn median_us(&self) -> f64 {
        median(&self.latencies_us)
    }

    fn p99_us(&self) -> f64 {
        percentile(&self.latencies_us, 99.0)
    }

    fn throughput(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Sequential { calls: usize },
    Concurrent { tasks: usize, calls_per_task: usize },
}

impl Mode {
    fn label(self) -> String {
        match self {
            Mode::Sequential { .. } => "sequential".to_string(),
            Mode::Concurrent { tasks, .. } => format!("{tasks} tasks"),
        }
    }
}

async fn timed(call: &Call, latencies: &mut Vec<f64>) {
    let start = Instant::now();
    if let Err(err) = call().await {
        fail(&format!("call failed: {err}"));
    }
    latencies.push(micros(start.elapsed()));
}

async fn run(call: Call, mode: Mode) -> Run {
    let start = Instant::now();
    let latencies_us = match mode {
        Mode::Sequential { calls } => {
            let mut latencies = Vec::with_capacity(calls);
            for _ in 0..calls {
                timed(&call, &mut latencies).await;
            }
            latencies
        }
        Mode::Concurrent {
            tasks,
            calls_per_task,
        } => {
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    let call = Arc::clone(&call);
                    tokio::spawn(async move {
                        let mut latencies = Vec::with_capacity(calls_per_task);
                        for _ in 0..calls_per_task {
                            timed(&call, &mut latencies).await;
                        }
                        latencies
                    })
                })
                .collect();
            let mut latencies = Vec::with_capacity(tasks * calls_per_task);
            for handle in handles {
                match handle.await {
                    Ok(part) => latencies.extend(part),
                    Err(err) => fail(&format!("task failed: {err}")),
                }
            }
            latencies
        }
    };
    Run {
        latencies_us,
        elapsed: start.elapsed(),
    }
}

/// Medians over the rounds of one case and mode.
struct Summary {
    case: &'static str,
    mode: Mode,
    sdk_median_us: f64,
    raw_median_us: f64,
    sdk_p99_us: f64,
    raw_p99_us: f64,
    latency_ratio: f64,
    sdk_throughput: f64,
    raw_throughput: f64,
    throughput_ratio: f64,
}

fn measure(
    runtime: &tokio::runtime::Runtime,
    settings: &Settings,
    case: &Case,
    mode: Mode,
) -> Summary {
    let arms: Vec<(Arm, &Call)> = [(Arm::Sdk, &case.sdk), (Arm::Baseline, &case.raw)]
        .into_iter()
        .filter(|(arm, _)| settings.runs(*arm))
        .collect();
    // Warm up: connections (64 of them for the concurrent mode), pools, caches.
    for (_, call) in &arms {
        let warm = match mode {
            Mode::Sequential { .. } => Mode::Sequential { calls: 200 },
            Mode::Concurrent { tasks, .. } => Mode::Concurrent {
                tasks,
                calls_per_task: 4,
            },
        };
        support::run_on(runtime, run(Arc::clone(call), warm));
    }
    let mut sdk_runs = Vec::with_capacity(settings.rounds);
    let mut raw_runs = Vec::with_capacity(settings.rounds);
    for round in 0..settings.rounds {
        // A/B in even rounds, B/A in odd ones, so neither arm always goes first.
        let mut order = arms.clone();
        if round % 2 == 1 {
            order.reverse();
        }
        for (arm, call) in order {
            let result = support::run_on(runtime, run(Arc::clone(call), mode));
            if settings.verbose {
                eprintln!(
                    "  {} {} round {round} {arm:?}: median {:.1} µs, {:.0} calls/s",
                    case.name,
                    mode.label(),
                    result.median_us(),
                    result.throughput()
                );
            }
            match arm {
                Arm::Sdk => sdk_runs.push(result),
                Arm::Baseline => raw_runs.push(result),
            }
        }
    }
    let per_round =
        |f: &dyn Fn(&Run) -> f64, runs: &[Run]| -> Vec<f64> { runs.iter().map(f).collect() };
    // The ratio of each round, then the geometric mean of each A/B round with the B/A round
    // after it: whatever running first or second does to a run cancels out within the pair.
    let ratios = |f: &dyn Fn(&Run) -> f64| -> f64 {
        let per_round: Vec<f64> = sdk_runs
            .iter()
            .zip(&raw_runs)
            .map(|(sdk, raw)| f(sdk) / f(raw))
            .collect();
        let pairs: Vec<f64> = per_round
            .chunks(2)
            .map(|pair| pair.iter().product::<f64>().powf(1.0 / pair.len() as f64))
            .collect();
        median(&pairs)
    };
    Summary {
        case: case.name,
        mode,
        sdk_median_us: median(&per_round(&Run::median_us, &sdk_runs)),
        raw_median_us: median(&per_round(&Run::median_us, &raw_runs)),
        sdk_p99_us: median(&per_round(&Run::p99_us, &sdk_runs)),
        raw_p99_us: median(&per_round(&Run::p99_us, &raw_runs)),
        latency_ratio: ratios(&Run::median_us),
        sdk_throughput: median(&per_round(&Run::throughput, &sdk_runs)),
        raw_throughput: median(&per_round(&Run::throughput, &raw_runs)),
        throughput_ratio: ratios(&Run::throughput),
    }
}

/// A positive count from the environment.
fn env_count(name: &str) -> Option<usize> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
}

fn main() {
    // Runs are short (tens of milliseconds with 64 tasks) and a shared machine's speed drifts:
    // many alternating rounds keep the median per-round ratio steady to about 1 %, which the
    // calibration row shows.
    let settings = Settings::from_env(100);
    let (sequential_calls, calls_per_task) = if settings.quick { (300, 5) } else { (1500, 25) };
    let sequential_calls = env_count("BENCH_SEQUENTIAL_CALLS").unwrap_or(sequential_calls);
    let calls_per_task = env_count("BENCH_CALLS_PER_TASK").unwrap_or(calls_per_task);
    let modes = [
        Mode::Sequential {
            calls: sequential_calls,
        },
        Mode::Concurrent {
            tasks: 64,
            calls_per_task,
        },
    ];

    let server = LoopbackServer::start(handler());
    let runtime = support::client_runtime();
    let cases = cases(server.base_url());

    println!("per-request overhead: SDK vs reqwest + serde_json on loopback");
    println!("machine: {}", support::machine());
    println!(
        "rounds: {} (A/B alternating); sequential: {sequential_calls} calls per run; 64 tasks: {} calls per run",
        settings.rounds,
        64 * calls_per_task
    );
    println!();
    println!(
        "| operation | mode | SDK median | raw median | median ratio | SDK p99 | raw p99 | SDK calls/s | raw calls/s | throughput ratio | target (within 5%) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for case in &cases {
        for mode in modes {
            if !settings.selects(&format!("{} {}", case.name, mode.label())) {
                continue;
            }
            let s = measure(&runtime, &settings, case, mode);
            let met = s.latency_ratio <= 1.05 && s.throughput_ratio >= 0.95;
            let verdict = match (case.calibration, met) {
                (true, _) => "(calibration)",
                (false, true) => "met",
                (false, false) => "missed",
            };
            println!(
                "| {} | {} | {:.1} µs | {:.1} µs | {:.3} | {:.1} µs | {:.1} µs | {:.0} | {:.0} | {:.3} | {} |",
                s.case,
                s.mode.label(),
                s.sdk_median_us,
                s.raw_median_us,
                s.latency_ratio,
                s.sdk_p99_us,
                s.raw_p99_us,
                s.sdk_throughput,
                s.raw_throughput,
                s.throughput_ratio,
                verdict,
            );
        }
    }
    drop(runtime);
    drop(server);
}
