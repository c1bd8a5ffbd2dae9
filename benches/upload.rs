//! Uploading a connector archive: `confluent.environment(..).plugin_versions(..).upload(..)`
//! against `curl` and a plain `reqwest` streaming request, to the same loopback storage endpoint
//! in the same run.
//!
//! One loopback server answers the Confluent calls the upload makes (get the plugin for its
//! cloud, ask for a presigned URL, create the version, get it until READY) and takes the archive
//! as the cloud's storage would: a raw `PUT` (GCP) or a multipart `POST` with the form fields
//! first (AWS). It reads every body to the end, counting the bytes, and keeps none of them.
//!
//! Each upload runs in a process of its own (this benchmark started again as a client), so that
//! its peak resident memory (`VmHWM`) is its own: the SDK and the reqwest arm report their time
//! and peak; curl reports its own transfer time (`-w %{time_total}`) and GNU time its peak.
//! Times count the upload only (for the SDK, from `upload(..)` to the READY version, the four API
//! calls included), not starting the process or reading the archive's first bytes.
//!
//! `cargo bench --bench upload [-- FILTER…] [--quick]`; `BENCH_ROUNDS` (11) sets the rounds of
//! the 256 MiB comparison; `--quick` uses 64 MiB and 2 rounds and skips the 1 GiB archive.

mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;
use http_body_util::Full;
use support::server::{BodyHandler, LoopbackServer};
use support::stats::median;
use support::{Settings, fail};

const MIB: u64 = 1 << 20;
const ENV: &str = "env-upload";
const KEY: &str = "UPLOADKEY";
const SECRET: &str = "upload-secret-0123456789abcdef";
/// The SDK's multipart boundary is its own; the reqwest arm uses this one.
const BOUNDARY: &str = "----bench-boundary-7f3a9c";
/// Set in a client process: what it uploads, how and where.
const ROLE: &str = "BENCH_UPLOAD_ROLE";
const FILE: &str = "BENCH_UPLOAD_FILE";
const BASE_URL: &str = "BENCH_UPLOAD_URL";
const CLOUD: &str = "BENCH_UPLOAD_CLOUD";

/// The peak-memory goal for the SDK's process, whatever the archive's size.
const RSS_TARGET_KIB: u64 = 64 * 1024;

/// The storage a presigned URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cloud {
    /// A raw `PUT` of the archive.
    Gcp,
    /// A multipart `POST`: the presigned form fields, then the file.
    Aws,
}

impl Cloud {
    fn name(self) -> &'static str {
        match self {
            Cloud::Gcp => "GCP",
            Cloud::Aws => "AWS",
        }
    }

    fn plugin(self) -> &'static str {
        match self {
            Cloud::Gcp => "ccp-gcp",
            Cloud::Aws => "ccp-aws",
        }
    }

    fn from_name(name: &str) -> Cloud {
        match name {
            "AWS" => Cloud::Aws,
            _ => Cloud::Gcp,
        }
    }

    /// The form fields an AWS presigned URL comes with.
    fn form_fields(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Cloud::Gcp => Vec::new(),
            Cloud::Aws => vec![
                ("key", "uploads/upl-1/archive.zip"),
                (
                    "policy",
                    "eyJleHBpcmF0aW9uIjoiMjAyNi0wMS0wMVQwMDowMDowMFoifQ==",
                ),
                ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
                (
                    "x-amz-credential",
                    "AKIAEXAMPLE/20260101/us-east-1/s3/aws4_request",
                ),
                ("x-amz-date", "20260101T000000Z"),
                ("x-amz-signature", "0123456789abcdef0123456789abcdef"),
            ],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The server

fn json(status: u16, body: serde_json::Value) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new())))
}

fn empty(status: u16) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(status)
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new())))
}

fn version_json(plugin: &str, phase: &str) -> serde_json::Value {
    serde_json::json!({
        "api_version": "ccpm/v1",
        "kind": "CustomConnectPluginVersion",
        "id": "ccv-1",
        "metadata": {"self": format!("https://api.confluent.cloud/ccpm/v1/plugins/{plugin}/versions/ccv-1")},
        "spec": {
            "version": "1.0.0",
            "connector_classes": [{"class_name": "com.example.Sink", "type": "SINK"}],
            "environment": {"id": ENV}
        },
        "status": {"phase": phase}
    })
}

/// Answers one request, whose body (kept for the API's calls) was read to the end.
fn route(
    base_url: &str,
    method: &http::Method,
    path: &str,
    body: &[u8],
) -> http::Response<Full<Bytes>> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("PUT", ["storage", "gcp", _]) => empty(200),
        ("POST", ["storage", "aws", _]) => empty(204),
        ("GET", ["ccpm", "v1", "plugins", plugin]) => {
            let cloud = if *plugin == Cloud::Aws.plugin() {
                "AWS"
            } else {
                "GCP"
            };
            json(
                200,
                serde_json::json!({
                    "api_version": "ccpm/v1",
                    "kind": "CustomConnectPlugin",
                    "id": plugin,
                    "metadata": {"self": format!("https://api.confluent.cloud/ccpm/v1/plugins/{plugin}")},
                    "spec": {"cloud": cloud, "display_name": "bench", "environment": {"id": ENV}}
                }),
            )
        }
        ("POST", ["ccpm", "v1", "presigned-upload-url"]) => {
            let request: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let cloud = Cloud::from_name(request["cloud"].as_str().unwrap_or("GCP"));
            let mut answer = serde_json::json!({
                "api_version": "ccpm/v1",
                "kind": "PresignedUrl",
                "cloud": cloud.name(),
                "content_format": "ZIP",
                "upload_id": "upl-1",
                "upload_url": format!("{base_url}/storage/{}/upl-1", cloud.name().to_lowercase()),
                "environment": {"id": ENV}
            });
            if cloud == Cloud::Aws {
                answer["upload_form_data"] = cloud
                    .form_fields()
                    .into_iter()
                    .map(|(name, value)| (name.to_string(), serde_json::json!(value)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
            json(201, answer)
        }
        ("POST", ["ccpm", "v1", "plugins", plugin, "versions"]) => {
            json(202, version_json(plugin, "PROCESSING"))
        }
        ("GET", ["ccpm", "v1", "plugins", plugin, "versions", _]) => {
            json(200, version_json(plugin, "READY"))
        }
        _ => empty(404),
    }
}

/// The loopback server: the Confluent API and the storage behind the presigned URLs.
fn start_server() -> LoopbackServer {
    LoopbackServer::start_reading_bodies(BodyHandler {
        answer: Arc::new(|parts, body| {
            // The presigned URLs point back at this server, as the client reached it.
            let host = parts
                .headers
                .get(http::header::HOST)
                .and_then(|host| host.to_str().ok())
                .unwrap_or("127.0.0.1");
            route(
                &format!("http://{host}"),
                &parts.method,
                parts.uri.path(),
                body,
            )
        }),
        // The API's small JSON bodies are kept to answer them; archives are only counted.
        keep: Arc::new(|parts| parts.uri.path().starts_with("/ccpm/")),
    })
}

// ---------------------------------------------------------------------------------------------
// The clients, each run in a process of its own

/// The peak resident memory of this process so far, in KiB (`VmHWM`).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

/// Runs as a client process: uploads `FILE` as `ROLE` says and prints `seconds peak_kib`.
fn child(role: &str) {
    let var =
        |name: &str| std::env::var(name).unwrap_or_else(|_| fail(&format!("{name} is not set")));
    let (file, base_url, cloud) = (
        PathBuf::from(var(FILE)),
        var(BASE_URL),
        Cloud::from_name(&var(CLOUD)),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|err| fail(&format!("no client runtime: {err}")));
    let elapsed = runtime.block_on(async move {
        match role {
            "sdk" => sdk_upload(&file, &base_url, cloud).await,
            _ => reqwest_upload(&file, &base_url, cloud).await,
        }
    });
    println!("{:.6} {}", elapsed.as_secs_f64(), peak_rss_kib());
}

/// The upload through the SDK: from `upload(..)` to the READY version.
async fn sdk_upload(file: &Path, base_url: &str, cloud: Cloud) -> Duration {
    use cloud_plugin_sdk::confluent::{Archive, ConfluentClient, ConnectorType};
    let client = ConfluentClient::builder()
        .base_url(base_url)
        .api_key(KEY, SECRET)
        .build()
        .unwrap_or_else(|err| fail(&format!("cannot build the client: {err}")));
    let archive = Archive::from_path(file)
        .await
        .unwrap_or_else(|err| fail(&format!("bad archive: {err}")));
    let started = Instant::now();
    let version = client
        .environment(ENV)
        .plugin_versions(cloud.plugin())
        .upload("1.0.0", archive)
        .connector_class("com.example.Sink", ConnectorType::Sink)
        .poll_interval(Duration::from_millis(1))
        .await
        .unwrap_or_else(|err| fail(&format!("upload failed: {err}")));
    let elapsed = started.elapsed();
    if !version.is_ready() {
        fail("the version is not READY");
    }
    elapsed
}

/// The same upload with a plain reqwest request streaming the file (`Body::from(File)`), to the
/// same storage URL.
async fn reqwest_upload(file: &Path, base_url: &str, cloud: Cloud) -> Duration {
    let http = reqwest::Client::new();
    let len = std::fs::metadata(file)
        .unwrap_or_else(|err| fail(&format!("cannot stat the archive: {err}")))
        .len();
    let opened = tokio::fs::File::open(file)
        .await
        .unwrap_or_else(|err| fail(&format!("cannot open the archive: {err}")));
    let url = format!("{base_url}/storage/{}/upl-1", cloud.name().to_lowercase());
    let started = Instant::now();
    let request = match cloud {
        Cloud::Gcp => http
            .put(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/zip")
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(reqwest::Body::from(opened)),
        Cloud::Aws => {
            let (head, tail) = multipart_frame(cloud);
            let length = head.len() as u64 + len + tail.len() as u64;
            let file = tokio_util::io::ReaderStream::new(opened);
            let body = futures::stream::once(async move { Ok::<_, std::io::Error>(head) })
                .chain(file)
                .chain(futures::stream::once(async move { Ok(tail) }));
            http.post(&url)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                )
                .header(reqwest::header::CONTENT_LENGTH, length)
                .body(reqwest::Body::wrap_stream(body))
        }
    };
    let response = request
        .send()
        .await
        .unwrap_or_else(|err| fail(&format!("upload failed: {err}")));
    if !response.status().is_success() {
        fail(&format!("the storage answered {}", response.status()));
    }
    started.elapsed()
}

/// The multipart text before and after the file's bytes, as S3's POST policy form wants it.
fn multipart_frame(cloud: Cloud) -> (Bytes, Bytes) {
    let mut head = String::new();
    for (name, value) in cloud.form_fields() {
        head.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    head.push_str(&format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"archive.zip\"\r\nContent-Type: application/zip\r\n\r\n"
    ));
    (
        Bytes::from(head),
        Bytes::from(format!("\r\n--{BOUNDARY}--\r\n")),
    )
}

// ---------------------------------------------------------------------------------------------
// The runs

/// One upload: its time and the peak resident memory of the process that made it.
#[derive(Debug, Clone, Copy)]
struct Run {
    seconds: f64,
    peak_kib: u64,
}

/// Starts this benchmark as a client process of `role` and reads its report.
fn run_child(role: &str, file: &Path, server: &LoopbackServer, cloud: Cloud) -> Run {
    let exe = std::env::current_exe()
        .unwrap_or_else(|err| fail(&format!("cannot find this benchmark: {err}")));
    let output = Command::new(exe)
        .env(ROLE, role)
        .env(FILE, file)
        .env(BASE_URL, server.base_url())
        .env(CLOUD, cloud.name())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|err| fail(&format!("cannot start a client: {err}")));
    if !output.status.success() {
        fail(&format!("the {role} client failed"));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut fields = text.split_whitespace();
    let seconds = fields.next().and_then(|s| s.parse().ok());
    let peak_kib = fields.next().and_then(|s| s.parse().ok());
    match (seconds, peak_kib) {
        (Some(seconds), Some(peak_kib)) => Run { seconds, peak_kib },
        _ => fail(&format!("the {role} client reported {text:?}")),
    }
}

/// Uploads with curl, which reports its own transfer time; GNU time reports its peak memory.
fn run_curl(file: &Path, server: &LoopbackServer, cloud: Cloud) -> Run {
    let url = format!(
        "{}/storage/{}/upl-1",
        server.base_url(),
        cloud.name().to_lowercase()
    );
    let mut command = Command::new("/usr/bin/time");
    command.args([
        "-f",
        "%M",
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{time_total}",
    ]);
    // No `Expect: 100-continue` round trip; the SDK and reqwest do not wait for one either.
    command.args(["-H", "Expect:"]);
    match cloud {
        Cloud::Gcp => {
            command.args(["-H", "Content-Type: application/zip", "-T"]);
            command.arg(file);
        }
        Cloud::Aws => {
            for (name, value) in cloud.form_fields() {
                command.args(["-F", &format!("{name}={value}")]);
            }
            command.arg("-F").arg(format!(
                "file=@{};type=application/zip;filename=archive.zip",
                file.display()
            ));
        }
    }
    command.arg(&url);
    let output = command
        .output()
        .unwrap_or_else(|err| fail(&format!("cannot run curl under /usr/bin/time: {err}")));
    if !output.status.success() {
        fail(&format!(
            "curl failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let seconds = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| fail("curl reported no time"));
    let peak_kib = String::from_utf8_lossy(&output.stderr)
        .lines()
        .last()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or(0);
    Run { seconds, peak_kib }
}

/// Writes an archive of `size` bytes: the zip magic, then bytes that do not compress.
fn write_archive(dir: &Path, size: u64) -> PathBuf {
    let path = dir.join(format!("connector-{}m.zip", size / MIB));
    let mut file = std::io::BufWriter::with_capacity(
        MIB as usize,
        std::fs::File::create(&path)
            .unwrap_or_else(|err| fail(&format!("cannot create the archive: {err}"))),
    );
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut block = vec![0u8; MIB as usize];
    let mut written = 0;
    while written < size {
        for chunk in block.chunks_exact_mut(8) {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        if written == 0 {
            block[..4].copy_from_slice(b"PK\x03\x04");
        }
        let n = (size - written).min(MIB) as usize;
        file.write_all(&block[..n])
            .unwrap_or_else(|err| fail(&format!("cannot write the archive: {err}")));
        written += n as u64;
    }
    file.flush()
        .unwrap_or_else(|err| fail(&format!("cannot write the archive: {err}")));
    path
}

fn mib_per_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / MIB as f64 / seconds
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        child(&role);
        return;
    }
    let settings = Settings::from_env(11);
    let rounds = if settings.quick {
        settings.rounds.min(2)
    } else {
        settings.rounds
    };
    let size = if settings.quick { 64 * MIB } else { 256 * MIB };
    let dir = tempfile::tempdir().unwrap_or_else(|err| fail(&format!("no temp dir: {err}")));
    let archive = write_archive(dir.path(), size);
    let large = (!settings.quick).then(|| write_archive(dir.path(), 1024 * MIB));
    let server = start_server();

    println!("upload: SDK vs curl vs plain reqwest, to a loopback storage endpoint");
    println!("machine: {}", support::machine());
    println!(
        "a {} MiB archive, {rounds} rounds per cloud (SDK, reqwest and curl in turn, the order \
         rotating), each upload in a process of its own; medians",
        size / MIB
    );
    println!();
    println!(
        "| cloud | SDK | reqwest | curl | SDK vs curl | SDK vs reqwest | SDK peak RSS | reqwest peak RSS | curl peak RSS | target (≥ 90 % of the faster baseline) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for cloud in [Cloud::Gcp, Cloud::Aws] {
        if !settings.selects(cloud.name()) {
            continue;
        }
        let mut runs: [Vec<Run>; 3] = Default::default();
        for round in 0..rounds {
            for turn in 0..3 {
                let arm = (turn + round) % 3;
                let before = server.received();
                let run = match arm {
                    0 => run_child("sdk", &archive, &server, cloud),
                    1 => run_child("reqwest", &archive, &server, cloud),
                    _ => run_curl(&archive, &server, cloud),
                };
                let sent = server.received() - before;
                if sent < size {
                    fail(&format!("only {sent} of {size} bytes arrived"));
                }
                eprintln!(
                    "  {} round {round} {}: {:.3} s, {:.0} MiB/s, peak {} KiB",
                    cloud.name(),
                    ["SDK", "reqwest", "curl"][arm],
                    run.seconds,
                    mib_per_s(size, run.seconds),
                    run.peak_kib
                );
                runs[arm].push(run);
            }
        }
        let seconds = |arm: usize| median(&runs[arm].iter().map(|r| r.seconds).collect::<Vec<_>>());
        let peak =
            |arm: usize| runs[arm].iter().map(|r| r.peak_kib).max().unwrap_or(0) as f64 / 1024.0;
        // Ratios per round, then the median: the arms of a round ran back to back.
        let ratio = |baseline: usize| {
            median(
                &runs[0]
                    .iter()
                    .zip(&runs[baseline])
                    .map(|(sdk, base)| base.seconds / sdk.seconds)
                    .collect::<Vec<_>>(),
            )
        };
        let (vs_reqwest, vs_curl) = (ratio(1), ratio(2));
        let worst = vs_reqwest.min(vs_curl);
        println!(
            "| {} | {:.0} MiB/s | {:.0} MiB/s | {:.0} MiB/s | {:.3} | {:.3} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {} ({:.3}) |",
            cloud.name(),
            mib_per_s(size, seconds(0)),
            mib_per_s(size, seconds(1)),
            mib_per_s(size, seconds(2)),
            vs_curl,
            vs_reqwest,
            peak(0),
            peak(1),
            peak(2),
            if worst >= 0.9 { "met" } else { "missed" },
            worst,
        );
    }

    println!();
    println!("peak resident memory of the SDK's process by archive size (target ≤ 64 MiB, flat)");
    println!();
    println!("| cloud | archive | SDK peak RSS | reqwest peak RSS | target |");
    println!("|---|---:|---:|---:|---|");
    let sizes: Vec<(u64, &Path)> = std::iter::once((size, archive.as_path()))
        .chain(large.as_deref().map(|path| (1024 * MIB, path)))
        .collect();
    for cloud in [Cloud::Gcp, Cloud::Aws] {
        if !settings.selects(cloud.name()) {
            continue;
        }
        for &(bytes, path) in &sizes {
            let sdk = run_child("sdk", path, &server, cloud);
            let plain = run_child("reqwest", path, &server, cloud);
            println!(
                "| {} | {} MiB | {:.1} MiB | {:.1} MiB | {} |",
                cloud.name(),
                bytes / MIB,
                sdk.peak_kib as f64 / 1024.0,
                plain.peak_kib as f64 / 1024.0,
                if sdk.peak_kib <= RSS_TARGET_KIB {
                    "met"
                } else {
                    "missed"
                },
            );
        }
    }
}
