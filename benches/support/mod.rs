//! Shared pieces of the benchmarks: a loopback HTTP server on its own thread and runtime, the
//! client runtime, statistics, the response bodies and the command-line settings.
#![allow(dead_code)] // each benchmark binary uses a different part

pub mod fixtures;
pub mod server;
pub mod stats;

use std::time::Duration;

/// A token for the `Authorization` header; the loopback servers do not check it.
pub const TOKEN: &str = "bench-token-0123456789abcdef";

/// The runtime the clients run on: one worker thread, so that client and server each get one of
/// the machine's cores and never share a scheduler.
pub fn client_runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-client")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => fail(&format!("cannot start the client runtime: {err}")),
    }
}

/// Runs `future` as a task on `runtime`'s worker thread (not on the calling thread, which
/// `block_on` would use) and returns its output.
pub fn run_on<F>(runtime: &tokio::runtime::Runtime, future: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    match runtime.block_on(runtime.spawn(future)) {
        Ok(output) => output,
        Err(err) => fail(&format!("benchmark task failed: {err}")),
    }
}

/// Stops the benchmark with a message; benchmarks have no one to return an error to.
pub fn fail(message: &str) -> ! {
    eprintln!("benchmark failed: {message}");
    std::process::exit(1)
}

/// Settings read from the command line and the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Only cases whose name contains one of these run (all when empty).
    pub filters: Vec<String>,
    /// How many A/B rounds to run (`BENCH_ROUNDS`).
    pub rounds: usize,
    /// Fewer iterations per round, for a quick check (`--quick` or `BENCH_QUICK=1`).
    pub quick: bool,
    /// Runs only the SDK arm (`BENCH_ONLY=sdk`) or only the baseline (`BENCH_ONLY=baseline`),
    /// to profile one of them, e.g. under `valgrind --tool=callgrind`.
    pub only: Option<Arm>,
    /// Prints every run, not only the summary (`BENCH_VERBOSE=1`).
    pub verbose: bool,
}

/// One side of an A/B comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arm {
    /// The SDK.
    Sdk,
    /// What the SDK is compared with.
    Baseline,
}

impl Settings {
    /// Reads the settings; `default_rounds` applies when `BENCH_ROUNDS` is not set.
    ///
    /// `cargo bench` passes `--bench`; every argument starting with `-` other than `--quick` is
    /// ignored, every other argument is a filter.
    pub fn from_env(default_rounds: usize) -> Settings {
        let mut filters = Vec::new();
        let mut quick = std::env::var("BENCH_QUICK").is_ok_and(|v| v == "1");
        for arg in std::env::args().skip(1) {
            if arg == "--quick" {
                quick = true;
            } else if !arg.starts_with('-') {
                filters.push(arg);
            }
        }
        let rounds = std::env::var("BENCH_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or(default_rounds);
        let only = match std::env::var("BENCH_ONLY").as_deref() {
            Ok("sdk") => Some(Arm::Sdk),
            Ok("baseline") => Some(Arm::Baseline),
            _ => None,
        };
        Settings {
            filters,
            rounds,
            quick,
            only,
            verbose: std::env::var("BENCH_VERBOSE").is_ok_and(|v| v == "1"),
        }
    }

    /// Whether `arm` runs at all.
    pub fn runs(&self, arm: Arm) -> bool {
        self.only.is_none_or(|only| only == arm)
    }

    /// Whether the case called `name` was selected.
    pub fn selects(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}

/// Formats a duration as seconds with two decimals.
pub fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

/// One line describing the machine, for the report.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    format!("{cores} cores ({cpu}), {}", std::env::consts::OS)
}
