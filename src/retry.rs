//! Retry policy and the shared rate-limit gate.

use std::sync::Arc;
use std::time::Duration;

/// How calls are retried.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    max_retries: u32,
}

impl RetryPolicy {
    /// The default policy.
    pub fn standard() -> Self {
        RetryPolicy { max_retries: 3 }
    }
    /// No retries.
    pub fn none() -> Self {
        RetryPolicy { max_retries: 0 }
    }
    /// Sets the number of retries.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n.min(10);
        self
    }
    /// Cap on a single wait.
    pub fn max_wait(self, _d: Duration) -> Self {
        self
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::standard()
    }
}

/// Shared per client.
#[derive(Debug, Clone, Default)]
pub struct RateLimitGate {
    _inner: Arc<()>,
}

impl RateLimitGate {
    /// A new gate.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Why the engine stopped retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// Not retryable.
    NotRetryable,
}

/// Attempts made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attempts {
    /// Requests sent.
    pub attempts: u32,
    /// Why it stopped.
    pub give_up: Option<GiveUp>,
    /// Synthesized response.
    pub synthesized: bool,
}

/// Sends a request.
pub async fn execute(
    http: &reqwest::Client,
    _policy: &RetryPolicy,
    _gate: &RateLimitGate,
    request: reqwest::Request,
    _service: &'static str,
    _operation: &'static str,
) -> (reqwest::Result<reqwest::Response>, Attempts) {
    let res = http.execute(request).await;
    (
        res,
        Attempts {
            attempts: 1,
            ..Default::default()
        },
    )
}
