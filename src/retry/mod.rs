//! The retry engine every API operation goes through.
//!
//! [`execute`] sends one request and decides, response by response, whether sending it again is
//! both useful and safe. Every operation of both clients goes through it (from the generated
//! clients' `exec` hook), and it is public so that requests to endpoints this crate does not cover
//! can follow the same rules. The rules:
//!
//! * **429 Too Many Requests** is retried for every method, because the server rejected the
//!   request without processing it. Under the client's shared [`RateLimitGate`] (the default)
//!   the gate decides when, within the wait the server named (see below); otherwise the wait is
//!   what the server asked for: `Retry-After` (delay-seconds or an HTTP-date), else Confluent's
//!   relative `X-RateLimit-Reset`, else a jittered exponential backoff.
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
//! Requests made through one client share a [`RateLimitGate`], which learns from the answers how
//! fast the server admits them and paces them to that rate. It assumes nothing about the server's
//! limiter beyond what the answers say:
//!
//! * Until an answer shows a limit, requests go out unhindered, within the
//!   `X-RateLimit-Remaining` last reported less the requests still in flight.
//! * Once a 429, or an `X-RateLimit-Remaining` no larger than the requests in flight, shows that
//!   the server has nothing left, requests are spaced at a rate: first `X-RateLimit-Limit` over
//!   `X-RateLimit-Reset`, then what the server was seen to admit between two moments it had
//!   nothing left, less a margin. The rate grows slowly while requests queue for it (fast while
//!   the server keeps reporting its whole limit left), until an answer shows it too high.
//! * Whole-second headers (`Retry-After`, `X-RateLimit-Reset`) only bound the times. After a
//!   429 a single request probes whether the server admits again, one interval of the rate
//!   later, then at doubling intervals, never later than the time the server named; the others
//!   wait for its answer. A refused probe sent before that time costs its call no retry. A server
//!   that names a wait but nothing about its rate holds every request until then, for at most the
//!   [`max_wait`](RetryPolicy::max_wait) of the call that was told, and is then probed.
//! * Waiting calls are admitted in the order they began, and a call whose request was refused
//!   keeps its place. If the gate would hold a call beyond its cap or its deadline, the engine
//!   answers with a locally made 429 (marked with the [`SynthesizedResponse`] extension) and
//!   sends nothing.
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
mod pace;
mod policy;
#[cfg(test)]
mod simulated;

pub use engine::execute;
pub(crate) use engine::{Engine, rerun_delay};
pub use gate::RateLimitGate;
pub use outcome::{Attempts, GiveUp, SynthesizedResponse};
pub use policy::{MAX_RETRIES_LIMIT, RetryPolicy};

/// Whole milliseconds, saturating, for tracing fields.
fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
