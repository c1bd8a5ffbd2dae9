//! One call of a generated operation: its record, its deadline, and the one mapping of its
//! outcome into the crate's [`Response`] or [`Error`].
//!
//! The hooks run inside the generated operation and see only the request; what they learn about
//! the call (the operation's name and method, the attempts, the final answer's status and request
//! id) goes into a record local to the call's task, which the mapping reads once the operation is
//! over.

use std::cell::RefCell;
use std::future::Future;

use progenitor_client::{Error as GenError, ResponseValue};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use tokio::time::Instant;

use super::Transport;
use crate::body::{read_error_body, too_large};
use crate::error::{Error, OAuthError, Result, one_line};
use crate::ratelimit;
use crate::response::Response;
use crate::retry::{Attempts, rerun_delay};

tokio::task_local! {
    /// The record of the call running on this task, if any.
    static CALL: RefCell<CallRecord>;
}

/// What the hooks learned about one call.
#[derive(Debug, Default)]
struct CallRecord {
    /// The operation, as progenitor names it (the spec's operationId in snake case).
    operation: Option<&'static str>,
    /// The HTTP method of the operation.
    method: Option<Method>,
    /// When the call must be over.
    deadline: Option<Instant>,
    /// What the retry engine reported, with the requests of every run of the operation counted.
    attempts: Attempts,
    /// The status of the final answer, when there was one.
    status: Option<StatusCode>,
    /// The request id of the final answer, when it had one.
    request_id: Option<HeaderValue>,
    /// The OAuth token the last run sent, when the client uses OAuth.
    token: Option<SentToken>,
    /// Why the client has no token to send, when getting one failed.
    token_error: Option<Box<OAuthError>>,
}

/// Which OAuth token a run of the operation sent.
#[derive(Debug, Clone, Copy)]
struct SentToken {
    generation: u64,
    /// Whether the token was cached before the call (rather than fetched for it).
    cached: bool,
}

impl CallRecord {
    /// The final answer's request id, as text.
    fn request_id(&self) -> Option<String> {
        let value = self.request_id.as_ref()?;
        value.to_str().ok().map(str::to_owned)
    }
}

fn with_record<R>(read: impl FnOnce(&mut CallRecord) -> R) -> Option<R> {
    // Outside a call (a generated operation run directly) there is nothing to record.
    CALL.try_with(|record| read(&mut record.borrow_mut())).ok()
}

/// Records the operation about to be sent.
pub(super) fn begin_attempt(operation: &'static str, method: &Method) {
    with_record(|record| {
        record.operation = Some(operation);
        if record.method.is_none() {
            record.method = Some(method.clone());
        }
    });
}

/// Records which OAuth token the run sends.
pub(super) fn record_token(generation: u64, cached: bool) {
    with_record(|record| record.token = Some(SentToken { generation, cached }));
}

/// Records why the run has no OAuth token to send.
pub(super) fn record_token_error(error: Box<OAuthError>) {
    with_record(|record| record.token_error = Some(error));
}

/// The deadline of the call running on this task.
pub(super) fn deadline() -> Option<Instant> {
    with_record(|record| record.deadline).flatten()
}

/// Records what the retry engine reported, with the final answer, if any.
pub(super) fn record_attempts(attempts: Attempts, answer: Option<&reqwest::Response>) {
    with_record(|record| {
        let sent = record.attempts.attempts.saturating_add(attempts.attempts);
        record.attempts = attempts;
        record.attempts.attempts = sent;
        record.status = answer.map(reqwest::Response::status);
        record.request_id = answer.and_then(|answer| ratelimit::request_id_value(answer.headers()));
    });
}

/// How a generated operation ended, with an error status's body read.
enum Finished<T> {
    /// A decoded success.
    Value(ResponseValue<T>),
    /// An error status, with the start of its body.
    Answered {
        status: StatusCode,
        headers: HeaderMap,
        body: Vec<u8>,
    },
    /// Any other failure.
    Failed(GenError<()>),
}

impl Transport {
    /// Runs one generated operation within the call's deadline and maps its outcome.
    ///
    /// `operation` makes the operation's future. It is run again when the body of a success
    /// broke off while it was read and the request may be repeated (an idempotent method, within
    /// the policy's retries and deadline), and once when a 401 refused an OAuth token the call
    /// found cached (the server may end a token's life before the client expects); every other
    /// retry happens within one run, in the `exec` hook.
    pub(crate) async fn call<T, Fut>(&self, operation: impl Fn() -> Fut) -> Result<Response<T>>
    where
        Fut: Future<Output = std::result::Result<ResponseValue<T>, GenError<()>>>,
    {
        let started = Instant::now();
        let deadline = self
            .retry
            .deadline
            .and_then(|limit| started.checked_add(limit));
        let record = RefCell::new(CallRecord {
            deadline,
            ..CallRecord::default()
        });
        let mut scoped = std::pin::pin!(CALL.scope(record, self.finish(operation)));
        let finished = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, scoped.as_mut())
                .await
                .ok(),
            None => Some(scoped.as_mut().await),
        };
        let mut record = scoped
            .as_mut()
            .take_value()
            .map(RefCell::into_inner)
            .unwrap_or_default();
        let operation = record.operation.unwrap_or("unknown");
        let attempts = record.attempts.attempts;
        match finished {
            // The engine read the request id and the rate limit from the final answer already.
            Some(Finished::Value(value)) => Ok(Response::new(
                value.status(),
                record.request_id,
                record.attempts.rate_limit,
                attempts.max(1),
                value.into_inner(),
            )),
            Some(Finished::Answered {
                status,
                headers,
                body,
            }) => Err(crate::error_body::decode(
                self.service,
                operation,
                status,
                &headers,
                &body,
                attempts.max(1),
            )
            .into()),
            Some(Finished::Failed(error)) => Err(self.failure(operation, error, &mut record)),
            None => Err(Error::Deadline {
                service: self.service,
                operation,
                deadline: self.retry.deadline.unwrap_or_default(),
                attempts,
            }),
        }
    }

    /// Runs the operation until it ends in a way another run cannot change.
    async fn finish<T, Fut>(&self, operation: impl Fn() -> Fut) -> Finished<T>
    where
        Fut: Future<Output = std::result::Result<ResponseValue<T>, GenError<()>>>,
    {
        let mut token_refused = false;
        loop {
            let error = match operation().await {
                Ok(value) => return Finished::Value(value),
                Err(GenError::UnexpectedResponse(response))
                    if response.status() == StatusCode::UNAUTHORIZED
                        && !token_refused
                        && self.discard_refused_token() =>
                {
                    token_refused = true;
                    continue;
                }
                Err(GenError::UnexpectedResponse(response)) => {
                    return Finished::Answered {
                        status: response.status(),
                        headers: response.headers().clone(),
                        body: read_error_body(response).await,
                    };
                }
                Err(error) => error,
            };
            let delay = match &error {
                GenError::ResponseBodyError(source) if too_large(source).is_none() => {
                    with_record(|record| {
                        let method = record.method.as_ref()?;
                        let delay = rerun_delay(
                            &self.retry,
                            method,
                            record.attempts.attempts,
                            record.deadline,
                        )?;
                        tracing::debug!(
                            target: "cloud_plugin_sdk::retry",
                            service = self.service.as_str(),
                            operation = record.operation,
                            method = method.as_str(),
                            error_kind = "body",
                            attempt = record.attempts.attempts,
                            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                            "retrying request",
                        );
                        Some(delay)
                    })
                    .flatten()
                }
                _ => None,
            };
            match delay {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Finished::Failed(error),
            }
        }
    }

    /// After a 401: discards the OAuth token the run sent if the call found it cached, and says
    /// whether it did (so that the operation is run again with a new token).
    fn discard_refused_token(&self) -> bool {
        let Some(tokens) = self.tokens() else {
            return false;
        };
        let Some(Some(sent)) = with_record(|record| record.token) else {
            return false;
        };
        if !sent.cached {
            return false;
        }
        tracing::debug!(
            target: "cloud_plugin_sdk::oauth",
            service = self.service.as_str(),
            operation = with_record(|record| record.operation).flatten(),
            generation = sent.generation,
            "the server refused a cached access token; asking for a new one",
        );
        tokens.discard(sent.generation);
        true
    }

    /// The error for a failure without an error status.
    fn failure(
        &self,
        operation: &'static str,
        error: GenError<()>,
        record: &mut CallRecord,
    ) -> Error {
        if let Some(mut token_error) = record.token_error.take() {
            token_error.operation = Some(operation);
            return Error::OAuth(token_error);
        }
        let attempts = record.attempts.attempts.max(1);
        match error {
            GenError::InvalidRequest(reason) | GenError::Custom(reason) => {
                Error::invalid("request", reason)
            }
            GenError::CommunicationError(source) if source.is_builder() => {
                Error::invalid("request", source.without_url().to_string())
            }
            GenError::ResponseBodyError(source) if too_large(&source).is_some() => {
                Error::ResponseTooLarge {
                    service: self.service,
                    operation,
                    limit: too_large(&source).map_or(self.max_response_bytes, |e| e.limit),
                    status: record.status,
                    request_id: record.request_id(),
                }
            }
            GenError::CommunicationError(source)
            | GenError::InvalidUpgrade(source)
            | GenError::ResponseBodyError(source) => {
                super::transport_error(self.service, operation, attempts, source, self.limits)
            }
            GenError::InvalidResponsePayload(body, source) => Error::Decode {
                service: self.service,
                operation,
                status: record.status,
                request_id: record.request_id(),
                body: one_line(&String::from_utf8_lossy(&body), 200),
                source,
            },
            // Operations declare no error bodies (build.rs keeps success responses only), and
            // error statuses come back as `UnexpectedResponse`.
            GenError::ErrorResponse(value) => crate::error_body::decode(
                self.service,
                operation,
                value.status(),
                value.headers(),
                b"",
                attempts,
            )
            .into(),
            GenError::UnexpectedResponse(response) => crate::error_body::decode(
                self.service,
                operation,
                response.status(),
                response.headers(),
                b"",
                attempts,
            )
            .into(),
        }
    }
}
