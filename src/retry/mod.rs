//! The retry engine every API operation goes through.
//!
//! [`execute`] sends one request and decides, response by response, whether sending it again is
//! both useful and safe. Every operation of both clients goes through it (from the generated
//! clients' `exec` hook), and it is public so that requests to endpoints this crate does not cover
//! can follow the same rules. The rules:
//!
//! * **429 Too Many Requests** is retried for every method, because the server rejected the
//!   request without processing it. The wait is what the server asked for: `Retry-After`
//!   (delay-seconds or an HTTP-date), else Confluent's relative `X-RateLimit-Reset`, else a
//!   jittered exponential backoff.
//! * **500, 502, 503, 504, 408, timeouts, transport failures and bodies cut off** are retried only for idempotent
//!   methods (GET, HEAD, PUT, DELETE, OPTIONS), with jittered exponential backoff (a 503 carrying
//!   `Retry-After` gets the requested wait instead). POST and PATCH are sent again only when the
//!   server provably did not process them: a 429, or a connection that failed before anything was
//!   sent. A create is never duplicated.
//! * Everything else is returned as it came.
//!
//! Retrying is bounded by a retry count, a cap on any single wait and a total deadline per call
//! (see [`RetryPolicy`]). When the server asks for a wait beyond the cap or the deadline the engine
//! does not sleep at all: it returns the server's response at once so the caller can report a
//! rate-limit error with the requested wait.
//!
//! Requests made through one client share a [`RateLimitGate`]. When a response says "no more
//! requests until T" (a 429 with a wait, or `X-RateLimit-Remaining: 0` with a reset), every other
//! request of that client holds until T instead of hitting the server and collecting its own 429.
//! If holding would break the cap or the deadline, the engine answers with a locally made 429
//! (marked with the [`SynthesizedResponse`] extension) and sends nothing.
//!
//! The gate also keeps the window's budget. A response with `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` tells how many requests the server will still admit; the requests already
//! on their way are subtracted from it, and once it is spent the others hold until the reset
//! instead of going out only to be refused. When a window ends, the next one starts with the
//! server's `X-RateLimit-Limit`, if it sent one. A server that reports its limits only on 429s is
//! probed: once the budget is spent, a single request goes out, and the rest follow only if it
//! is admitted (or hold until the reset its refusal names).
//!
//! The `backoff` crate is used for one thing only: drawing jittered exponential intervals. The
//! engine classifies outcomes, counts attempts and keeps the deadline itself, because the crate's
//! own retry loop lets a server-supplied delay bypass every limit and treats any `?` error as
//! transient.
//!
//! Each retry emits a `tracing` event at debug level with target `cloud_plugin_sdk::retry` and the
//! fields `service`, `operation`, `method`, `status` or `error_kind`, `attempt`, `delay_ms` and
//! `request_id`. Headers, URLs and bodies are never logged, so credentials cannot leak this way.
//!
//! ```
//! use std::time::Duration;
//! use cloud_plugin_sdk::{confluent::ConfluentClient, retry::RetryPolicy};
//!
//! let policy = RetryPolicy::standard()
//!     .max_retries(5)
//!     .max_wait(Duration::from_secs(30))
//!     .deadline(Some(Duration::from_secs(90)));
//!
//! let client = ConfluentClient::builder()
//!     .api_key("KEY", "secret")
//!     .retry_policy(policy)
//!     .build()?;
//! # let _ = client;
//! # Ok::<(), cloud_plugin_sdk::Error>(())
//! ```

mod classify;
mod engine;
mod gate;
mod outcome;
mod policy;

pub use engine::execute;
pub(crate) use engine::{Engine, rerun_delay};
pub use gate::RateLimitGate;
pub use outcome::{Attempts, GiveUp, SynthesizedResponse};
pub use policy::{MAX_RETRIES_LIMIT, RetryPolicy};

/// Whole milliseconds, saturating, for tracing fields.
fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
