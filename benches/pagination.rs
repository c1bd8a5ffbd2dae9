//! Pagination: listing every plugin of an environment through the SDK's auto-paginating stream
//! against hand-written page loops, for time and for peak heap.
//!
//! A hyper server on loopback serves prepared pages shaped like Confluent's plugin list (each
//! page links the next through `metadata.next`, whose query carries `page_token`). Three ways to
//! read them:
//!
//! * **stream**: `env.plugins().list().page_size(100).stream()`;
//! * **reqwest loop**: a hand-written loop with reqwest and serde_json that follows
//!   `metadata.next` (the baseline);
//! * **send loop**: a hand-written loop over the SDK's one-page `send()` and
//!   `Page::next_page_token()`.
//!
//! Each consumes the plugins one at a time and keeps none. Heap is measured with a counting
//! global allocator (the server's thread is not counted): the peak of live bytes during a
//! listing, above the live bytes when it started. For contrast, collecting every plugin with
//! `all()` is measured too; it has to grow with the number of plugins.
//!
//! `cargo bench --bench pagination [-- FILTER…] [--quick]`; `BENCH_ROUNDS=n` sets the rounds.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cloud_plugin_sdk::confluent::{ConfluentClient, Plugin};
use futures::TryStreamExt as _;
use serde::Deserialize;
use support::server::{Handler, LoopbackServer};
use support::stats::{CountingAllocator, live_bytes, median, peak_bytes, reset_peak};
use support::{Settings, fail, fixtures};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// The page size every reader asks for (the API's largest).
const PAGE_SIZE: u32 = 100;

/// A listing the server offers: `items` plugins in pages of `per_page`.
#[derive(Debug, Clone, Copy)]
struct Listing {
    items: usize,
    per_page: usize,
}

impl Listing {
    fn label(self) -> String {
        format!(
            "{} plugins, {} pages of {}",
            self.items,
            self.items.div_ceil(self.per_page),
            self.per_page
        )
    }
}

/// How the plugins are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    Stream,
    ReqwestLoop,
    SendLoop,
    CollectAll,
}

impl Reader {
    fn label(self) -> &'static str {
        match self {
            Reader::Stream => "SDK stream",
            Reader::ReqwestLoop => "reqwest + serde_json page loop",
            Reader::SendLoop => "SDK send() page loop",
            Reader::CollectAll => "SDK all() (collects)",
        }
    }
}

/// Serves the pages of one listing; page `n` answers the token `pt-n`.
fn handler(pages: Arc<Vec<Bytes>>) -> Handler {
    let headers = fixtures::confluent_headers();
    Arc::new(move |parts| {
        if parts.uri.path() != "/ccpm/v1/plugins" {
            return support::server::empty(404);
        }
        let token = parts.uri.query().and_then(|query| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("page_token=pt-"))
                .and_then(|n| n.parse::<usize>().ok())
        });
        match pages.get(token.unwrap_or(0)) {
            Some(page) => support::server::response(200, &headers, page.clone()),
            None => support::server::empty(400),
        }
    })
}

/// The list envelope, as a hand-written client would declare it.
#[derive(Deserialize)]
struct RawPage {
    data: Vec<Plugin>,
    metadata: RawMetadata,
}

#[derive(Deserialize)]
struct RawMetadata {
    #[serde(default)]
    next: Option<String>,
}

/// Reads every plugin once with `reader`; returns how many there were.
async fn read_all(
    reader: Reader,
    client: ConfluentClient,
    http: reqwest::Client,
    base_url: Arc<str>,
) -> Result<usize, String> {
    let plugins = client.environment(fixtures::CONFLUENT_ENV).plugins();
    let mut count = 0;
    match reader {
        Reader::Stream => {
            let mut stream = plugins.list().page_size(PAGE_SIZE).stream();
            while let Some(plugin) = stream.try_next().await.map_err(|e| e.to_string())? {
                std::hint::black_box(&plugin);
                count += 1;
            }
        }
        Reader::SendLoop => {
            let mut token: Option<String> = None;
            loop {
                let mut list = plugins.list().page_size(PAGE_SIZE);
                if let Some(token) = token.take() {
                    list = list.page_token(token);
                }
                let page = list.send().await.map_err(|e| e.to_string())?.into_inner();
                let next = page.next_page_token();
                for plugin in page.data {
                    std::hint::black_box(&plugin);
                    count += 1;
                }
                match next {
                    Some(next) => token = Some(next),
                    None => break,
                }
            }
        }
        Reader::ReqwestLoop => {
            let mut url = format!(
                "{base_url}/ccpm/v1/plugins?environment={}&page_size={PAGE_SIZE}",
                fixtures::CONFLUENT_ENV
            );
            loop {
                let response = http
                    .get(&url)
                    .basic_auth(fixtures::CONFLUENT_KEY, Some(fixtures::CONFLUENT_SECRET))
                    .header(reqwest::header::ACCEPT, "application/json")
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !response.status().is_success() {
                    return Err(format!("status {}", response.status()));
                }
                let body = response.bytes().await.map_err(|e| e.to_string())?;
                let page: RawPage = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
                drop(body);
                for plugin in page.data {
                    std::hint::black_box(&plugin);
                    count += 1;
                }
                match page.metadata.next.filter(|next| !next.is_empty()) {
                    Some(next) => url = next,
                    None => break,
                }
            }
        }
        Reader::CollectAll => {
            let all = plugins
                .list()
                .page_size(PAGE_SIZE)
                .all()
                .await
                .map_err(|e| e.to_string())?;
            count = all.len();
            std::hint::black_box(&all);
        }
    }
    Ok(count)
}

/// One listing: its wall time and the peak heap above what was live when it started.
struct Run {
    elapsed: Duration,
    peak_bytes: isize,
}

fn run_once(
    runtime: &tokio::runtime::Runtime,
    reader: Reader,
    client: &ConfluentClient,
    http: &reqwest::Client,
    base_url: &Arc<str>,
    expected: usize,
) -> Run {
    let (client, http, base_url) = (client.clone(), http.clone(), Arc::clone(base_url));
    let start_bytes = reset_peak();
    let start = Instant::now();
    let count = support::run_on(runtime, read_all(reader, client, http, base_url))
        .unwrap_or_else(|err| fail(&format!("{} failed: {err}", reader.label())));
    let elapsed = start.elapsed();
    let peak = peak_bytes() - start_bytes;
    if count != expected {
        fail(&format!(
            "{} read {count} plugins, expected {expected}",
            reader.label()
        ));
    }
    Run {
        elapsed,
        peak_bytes: peak,
    }
}

fn kib(bytes: f64) -> String {
    format!("{:.0} KiB", bytes / 1024.0)
}

fn main() {
    let settings = Settings::from_env(9);
    let runtime = support::client_runtime();
    let listings = if settings.quick {
        vec![
            Listing {
                items: 1_000,
                per_page: 100,
            },
            Listing {
                items: 2_000,
                per_page: 100,
            },
        ]
    } else {
        vec![
            Listing {
                items: 1_000,
                per_page: 100,
            },
            Listing {
                items: 10_000,
                per_page: 100,
            },
            Listing {
                items: 10_000,
                per_page: 1_000,
            },
        ]
    };
    let readers = [
        Reader::Stream,
        Reader::ReqwestLoop,
        Reader::SendLoop,
        Reader::CollectAll,
    ];

    println!("pagination: SDK stream vs hand-written page loops, loopback server");
    println!("machine: {}", support::machine());
    println!(
        "every reader asks for page_size={PAGE_SIZE}; the server decides the page length; \
         {} rounds, readers interleaved, medians shown; heap = peak live bytes above the start \
         of the listing, client threads only",
        settings.rounds
    );
    println!();
    println!(
        "| listing | reader | time | time vs reqwest loop | peak heap | target (time within 10%) |"
    );
    println!("|---|---|---:|---:|---:|---|");
    let heap_at_start = live_bytes();
    for listing in listings {
        if !settings.selects(&listing.label()) {
            continue;
        }
        // The server's base URL goes into the `next` links, so the pages are made after it
        // starts; the handler reads them through a shared slot.
        let slot: Arc<std::sync::OnceLock<Handler>> = Arc::new(std::sync::OnceLock::new());
        let server = {
            let slot = Arc::clone(&slot);
            LoopbackServer::start(Arc::new(move |parts| match slot.get() {
                Some(pages) => pages(parts),
                None => support::server::empty(503),
            }))
        };
        let pages = fixtures::confluent_pages(server.base_url(), listing.items, listing.per_page);
        if slot.set(handler(Arc::new(pages))).is_err() {
            fail("pages set twice");
        }
        let base_url: Arc<str> = Arc::from(server.base_url());
        let client = ConfluentClient::builder()
            .base_url(server.base_url())
            .api_key(fixtures::CONFLUENT_KEY, fixtures::CONFLUENT_SECRET)
            .build()
            .unwrap_or_else(|err| fail(&format!("cannot build the Confluent client: {err}")));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_else(|err| fail(&format!("cannot build the reqwest client: {err}")));

        // Warm-up: connections and their buffers exist before anything is measured.
        for reader in readers {
            run_once(&runtime, reader, &client, &http, &base_url, listing.items);
        }
        let mut runs: Vec<Vec<Run>> = readers.iter().map(|_| Vec::new()).collect();
        for round in 0..settings.rounds {
            let mut order: Vec<usize> = (0..readers.len()).collect();
            order.rotate_left(round % readers.len());
            for index in order {
                let run = run_once(
                    &runtime,
                    readers[index],
                    &client,
                    &http,
                    &base_url,
                    listing.items,
                );
                runs[index].push(run);
            }
        }
        let time = |index: usize| -> f64 {
            median(
                &runs[index]
                    .iter()
                    .map(|r| r.elapsed.as_secs_f64())
                    .collect::<Vec<_>>(),
            )
        };
        let paired_ratio = |index: usize, baseline: usize| -> f64 {
            let ratios: Vec<f64> = runs[index]
                .iter()
                .zip(&runs[baseline])
                .map(|(a, b)| a.elapsed.as_secs_f64() / b.elapsed.as_secs_f64())
                .collect();
            median(&ratios)
        };
        let baseline = 1; // the reqwest loop
        for (index, reader) in readers.iter().enumerate() {
            let peak = median(
                &runs[index]
                    .iter()
                    .map(|r| r.peak_bytes as f64)
                    .collect::<Vec<_>>(),
            );
            let ratio = paired_ratio(index, baseline);
            let target = match reader {
                Reader::Stream if ratio <= 1.10 => "met",
                Reader::Stream => "missed",
                _ => "",
            };
            println!(
                "| {} | {} | {:.1} ms | {:.3} | {} | {target} |",
                listing.label(),
                reader.label(),
                time(index) * 1000.0,
                ratio,
                kib(peak),
            );
        }
        drop(server);
    }
    let leaked = live_bytes() - heap_at_start;
    eprintln!(
        "heap still live after all listings (pools, runtime): {}",
        kib(leaked as f64)
    );
}
