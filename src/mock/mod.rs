//! In-process fake servers for the Golem plugin registry and the Confluent Cloud ccpm/v1 API.
//!
//! Each fake starts in one line on a random loopback port and behaves like the real service
//! closely enough to exercise a real client end to end: authentication, validation, the
//! error bodies each API really sends (including Golem's plain-text ones), Confluent's
//! paging, asynchronous version processing and the per-cloud presigned upload rules.
//! Every fake has its own state, so tests can run in parallel.
//!
//! * [`GolemFake`] serves `/v1/accounts/{account_id}/plugins` and `/v1/plugins/{plugin_id}`.
//! * [`ConfluentFake`] serves `/ccpm/v1/...` and, on the same port, the object storage that its
//!   presigned upload URLs point at (AWS multipart POST, GCP and Azure PUT).
//! * [`Faults`] (reachable from either fake) injects rate limiting, failures and latency.
//!
//! ```ignore
//! use std::time::Duration;
//! use cloud_plugin_sdk::mock::{ConfluentFake, GolemFake};
//!
//! #[tokio::test]
//! async fn registers_a_plugin() -> Result<(), Box<dyn std::error::Error>> {
//!     let golem = GolemFake::start().await;
//!     let client = GolemClient::builder()
//!         .base_url(golem.url())
//!         .token(golem.token())
//!         .build()?;
//!     let created = client.create_plugin(golem.account_id(), &registration()).await?;
//!     assert_eq!(client.get_plugin(created.id).await?.name, created.name);
//!     Ok(())
//! }
//!
//! #[tokio::test]
//! async fn retries_after_throttling() -> Result<(), Box<dyn std::error::Error>> {
//!     let confluent = ConfluentFake::start().await;
//!     confluent.faults().rate_limit(2, Duration::from_millis(10));
//!     let client = ConfluentClient::builder()
//!         .base_url(confluent.url())
//!         .api_key(confluent.api_key(), confluent.api_secret())
//!         .build()?;
//!     client.list_plugins(confluent.environment()).await?;
//!     assert_eq!(confluent.received_requests().await, 3); // two 429s, then success
//!     Ok(())
//! }
//! ```

mod confluent;
mod faults;
mod golem;
mod reply;
mod storage;

pub use confluent::ConfluentFake;
pub use faults::Faults;
pub use golem::GolemFake;

/// The `X-RateLimit-Limit` both fakes report.
const RATE_LIMIT: u32 = 1000;
