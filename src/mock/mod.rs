//! In-process fake servers for the Golem plugin registry and the Confluent Cloud ccpm/v1 API.
//!
//! Each fake starts in one line on a random loopback port and behaves like the real service
//! closely enough to exercise a real client end to end: authentication, validation, the
//! error bodies each API really sends (including Golem's plain-text ones), Confluent's
//! paging, asynchronous version processing and the per-cloud presigned upload rules.
//! Every fake has its own state, so tests can run in parallel.
//!
//! * [`GolemFake`] serves plugin registrations (`/v1/accounts/{account_id}/plugins`,
//!   `/v1/plugins/{plugin_id}`), plugin grants (`/v1/envs/{environment_id}/plugins`,
//!   `/v1/environment-plugins/{id}`) and agent plugin activation.
//! * [`ConfluentFake`] serves `/ccpm/v1/...` and, on the same port, the object storage that its
//!   presigned upload URLs point at (AWS multipart POST, GCP and Azure PUT), an OAuth identity
//!   provider and Confluent's token exchange (STS).
//! * [`Faults`] (reachable from either fake) injects rate limiting, failures and latency.
//!
//! ```
//! use std::time::Duration;
//! use cloud_plugin_sdk::confluent::ConfluentClient;
//! use cloud_plugin_sdk::mock::ConfluentFake;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let fake = ConfluentFake::start().await;
//! fake.faults().rate_limit(1, Duration::from_secs(1)); // one 429 with `Retry-After: 1`
//! let client = ConfluentClient::builder()
//!     .base_url(fake.url())
//!     .api_key(fake.api_key(), fake.api_secret())
//!     .build()?;
//! let page = client.environment(fake.environment()).plugins().list().send().await?;
//! assert!(page.data.is_empty());
//! // Retried: the whole second is an upper bound, and the client probed at the pace the
//! // fake's `X-RateLimit-Limit` implies.
//! assert_eq!(page.attempts(), 2);
//! assert_eq!(fake.received_requests().await, 2);
//! # Ok::<(), cloud_plugin_sdk::Error>(())
//! # }).unwrap();
//! ```

mod confluent;
mod faults;
mod golem;
mod oauth;
mod reply;
mod storage;

pub use confluent::ConfluentFake;
pub use faults::Faults;
pub use golem::GolemFake;

/// The `X-RateLimit-Limit` both fakes report.
const RATE_LIMIT: u32 = 1000;
