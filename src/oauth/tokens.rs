//! The access tokens of one client: cached, shared by its clones, renewed by one request at a
//! time.
//!
//! * A token is fetched when a call first needs one.
//! * It is used until a fifth of its lifetime is left (counted from when it was asked for). The
//!   first call after that starts a renewal in the background and goes on with the old token,
//!   which is still valid; the calls after it do the same without starting another renewal.
//! * A call that finds no valid token waits for the renewal under way, or starts one. However
//!   many calls wait, one renewal (one request to each endpoint) serves them all.
//! * The identity provider's token is kept as well, under the same rule, so renewing a
//!   Confluent token usually takes one exchange. Should the STS refuse a kept one, it is dropped
//!   and a new one asked for, once.
//! * A call answered 401 with a token it found cached discards that token (see
//!   [`TokenSource::discard`]), so the next call gets a new one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use tokio::time::Instant;

use super::OAuthConfig;
use super::grant::{Grant, Issued, STS_PATH};
use crate::auth::Secret;
use crate::error::{OAuthError, Result, TokenEndpoint, TokenProblem};
use crate::retry::RetryPolicy;

/// A token is renewed once `1 / RENEWAL_DIVISOR` of its lifetime is left.
const RENEWAL_DIVISOR: u32 = 5;

/// The Confluent tokens of one client.
#[derive(Clone)]
pub(crate) struct TokenSource {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.grant.fmt(f)
    }
}

/// A token for one request.
pub(crate) struct TokenUse {
    /// `Bearer <token>`, marked sensitive.
    pub(crate) header: HeaderValue,
    /// Which token it is: each new token gets the next number.
    pub(crate) generation: u64,
    /// Whether it was in the cache before the call asked (rather than fetched for the call).
    pub(crate) cached: bool,
}

struct Inner {
    grant: Grant,
    state: Mutex<State>,
}

/// A renewal under way, awaited by every call that needs its token.
type Renewal = Shared<BoxFuture<'static, std::result::Result<Arc<Bearer>, Box<OAuthError>>>>;

#[derive(Default)]
struct State {
    current: Option<Arc<Bearer>>,
    /// The identity provider's token, kept for the next exchange.
    subject: Option<Subject>,
    /// The renewal under way, with its number.
    renewal: Option<(u64, Renewal)>,
    renewals: u64,
    generation: u64,
}

/// A Confluent token.
struct Bearer {
    header: HeaderValue,
    renew_at: Instant,
    expires_at: Instant,
    generation: u64,
}

impl Bearer {
    fn use_it(&self, cached: bool) -> TokenUse {
        TokenUse {
            header: self.header.clone(),
            generation: self.generation,
            cached,
        }
    }
}

/// An identity provider token.
struct Subject {
    token: Secret,
    renew_at: Instant,
}

/// When a token asked for at `at` with `lifetime` is renewed, and when it expires.
fn schedule(at: Instant, lifetime: Duration) -> (Instant, Instant) {
    let renew_at = at + (lifetime - lifetime / RENEWAL_DIVISOR);
    (renew_at, at + lifetime)
}

impl TokenSource {
    /// Tokens for `config`, exchanged at the STS under `base_url`, asked for through `http`
    /// under `retry`.
    pub(crate) fn new(
        config: OAuthConfig,
        token_url: url::Url,
        base_url: &str,
        http: reqwest::Client,
        retry: RetryPolicy,
    ) -> Result<Self> {
        let sts_url = url::Url::parse(&format!("{base_url}{STS_PATH}"))
            .map_err(|e| crate::error::Error::invalid("base_url", e.to_string()))?;
        Ok(TokenSource {
            inner: Arc::new(Inner {
                grant: Grant::new(config, token_url, sts_url, http, retry),
                state: Mutex::default(),
            }),
        })
    }

    /// The cached token, if it needs no renewal yet: the path of nearly every call.
    pub(crate) fn cached(&self, now: Instant) -> Option<TokenUse> {
        let state = self.inner.lock();
        let bearer = state.current.as_ref()?;
        (now < bearer.renew_at).then(|| bearer.use_it(true))
    }

    /// A valid token: the cached one while it is valid (starting its renewal when due), else the
    /// one a renewal brings.
    pub(crate) async fn obtain(&self) -> std::result::Result<TokenUse, Box<OAuthError>> {
        let renewal = {
            let mut state = self.inner.lock();
            let now = Instant::now();
            if let Some(bearer) = &state.current
                && now < bearer.renew_at
            {
                return Ok(bearer.use_it(true));
            }
            let renewal = match &state.renewal {
                Some((_, renewal)) => renewal.clone(),
                None => self.start(&mut state),
            };
            if let Some(bearer) = &state.current
                && now < bearer.expires_at
            {
                return Ok(bearer.use_it(true));
            }
            renewal
        };
        renewal.await.map(|bearer| bearer.use_it(false))
    }

    /// Discards token `generation` after the server refused it, unless it was replaced already.
    /// The identity provider's token goes too: it may be what made the exchange stale.
    pub(crate) fn discard(&self, generation: u64) {
        let mut state = self.inner.lock();
        if state
            .current
            .as_ref()
            .is_some_and(|bearer| bearer.generation == generation)
        {
            state.current = None;
            state.subject = None;
        }
    }

    /// Starts a renewal on its own task, so that it finishes (and serves the calls after) even
    /// when the call that started it is dropped.
    fn start(&self, state: &mut State) -> Renewal {
        state.renewals += 1;
        let number = state.renewals;
        let inner = self.inner.clone();
        let renew = async move { inner.renew(number).await };
        let renewal = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let task = runtime.spawn(renew);
                // Weak: the renewal is kept in the state, which must not keep itself alive.
                let inner = Arc::downgrade(&self.inner);
                async move {
                    match task.await {
                        Ok(result) => result,
                        Err(_) => Err(match inner.upgrade() {
                            Some(inner) => inner.interrupted(number),
                            None => Box::new(OAuthError {
                                endpoint: TokenEndpoint::SecurityTokenService,
                                host: String::new(),
                                operation: None,
                                problem: TokenProblem::Interrupted,
                                request_id: None,
                                attempts: 0,
                            }),
                        }),
                    }
                }
                .boxed()
            }
            // Outside a runtime (no HTTP is possible then anyway) the waiters drive it.
            Err(_) => renew.boxed(),
        }
        .shared();
        state.renewal = Some((number, renewal.clone()));
        renewal
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent after every statement; a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gets a new token within the retry policy's deadline and stores it.
    async fn renew(&self, number: u64) -> std::result::Result<Arc<Bearer>, Box<OAuthError>> {
        let deadline = self
            .grant
            .retry()
            .deadline
            .and_then(|limit| Instant::now().checked_add(limit));
        let exchanging = AtomicBool::new(false);
        let issue = self.issue(deadline, &exchanging);
        let result = match deadline {
            Some(at) => match tokio::time::timeout_at(at, issue).await {
                Ok(result) => result,
                Err(_) => {
                    let endpoint = if exchanging.load(Ordering::Relaxed) {
                        TokenEndpoint::SecurityTokenService
                    } else {
                        TokenEndpoint::IdentityProvider
                    };
                    let limit = self.grant.retry().deadline.unwrap_or_default();
                    Err(self.grant.failure(endpoint, TokenProblem::Deadline(limit)))
                }
            },
            None => issue.await,
        };
        let mut state = self.lock();
        if state.renewal.as_ref().is_some_and(|(n, _)| *n == number) {
            state.renewal = None;
        }
        match result {
            Ok(issued) => {
                state.generation += 1;
                let bearer = Arc::new(self.bearer(issued, state.generation)?);
                state.current = Some(bearer.clone());
                tracing::debug!(
                    target: "cloud_plugin_sdk::oauth",
                    generation = bearer.generation,
                    lifetime_s = bearer.expires_at.saturating_duration_since(Instant::now()).as_secs(),
                    "obtained an access token",
                );
                Ok(bearer)
            }
            Err(error) => {
                tracing::debug!(
                    target: "cloud_plugin_sdk::oauth",
                    error = %error,
                    "getting an access token failed",
                );
                Err(error)
            }
        }
    }

    /// The Confluent token: exchanged from the kept identity provider token when it is fresh,
    /// else from a new one.
    async fn issue(
        &self,
        deadline: Option<Instant>,
        exchanging: &AtomicBool,
    ) -> std::result::Result<Issued, Box<OAuthError>> {
        let kept = {
            let state = self.lock();
            state
                .subject
                .as_ref()
                .filter(|subject| Instant::now() < subject.renew_at)
                .map(|subject| subject.token.clone())
        };
        if let Some(subject) = kept {
            exchanging.store(true, Ordering::Relaxed);
            match self.grant.exchange(&subject, deadline).await {
                Err(error) if refuses_subject(&error) => self.lock().subject = None,
                result => return result,
            }
        }
        exchanging.store(false, Ordering::Relaxed);
        let subject = self.grant.client_credentials(deadline).await?;
        if let Some(lifetime) = subject.lifetime {
            let (renew_at, _) = schedule(subject.requested_at, lifetime);
            self.lock().subject = Some(Subject {
                token: subject.token.clone(),
                renew_at,
            });
        }
        exchanging.store(true, Ordering::Relaxed);
        self.grant.exchange(&subject.token, deadline).await
    }

    fn bearer(
        &self,
        issued: Issued,
        generation: u64,
    ) -> std::result::Result<Bearer, Box<OAuthError>> {
        let lifetime = issued.lifetime.unwrap_or_default();
        let (renew_at, expires_at) = schedule(issued.requested_at, lifetime);
        let mut header = HeaderValue::try_from(format!("Bearer {}", issued.token.expose_secret()))
            .map_err(|_| {
                self.grant.failure(
                    TokenEndpoint::SecurityTokenService,
                    TokenProblem::Unusable {
                        status: StatusCode::OK,
                        reason: "the access_token cannot be sent in a header".into(),
                    },
                )
            })?;
        header.set_sensitive(true);
        Ok(Bearer {
            header,
            renew_at,
            expires_at,
            generation,
        })
    }

    /// The error for a renewal whose task ended without an answer; the renewal is forgotten so
    /// that the next call starts another.
    fn interrupted(&self, number: u64) -> Box<OAuthError> {
        let mut state = self.lock();
        if state.renewal.as_ref().is_some_and(|(n, _)| *n == number) {
            state.renewal = None;
        }
        self.grant.failure(
            TokenEndpoint::SecurityTokenService,
            TokenProblem::Interrupted,
        )
    }
}

/// Whether the STS refused the identity provider's token (rather than failing otherwise).
fn refuses_subject(error: &OAuthError) -> bool {
    matches!(
        error.status(),
        Some(StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_due_with_a_fifth_of_the_lifetime_left() {
        let at = Instant::now();
        let (renew_at, expires_at) = schedule(at, Duration::from_secs(900));
        assert_eq!(renew_at - at, Duration::from_secs(720));
        assert_eq!(expires_at - at, Duration::from_secs(900));
        let (renew_at, expires_at) = schedule(at, Duration::ZERO);
        assert_eq!((renew_at, expires_at), (at, at));
    }
}
