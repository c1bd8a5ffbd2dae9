//! The identity provider and the Security Token Service of the Confluent fake.
//!
//! The identity provider answers the client-credentials grant under `/_idp/oauth2/token`; the STS
//! exchanges its tokens at `/sts/v1/oauth2/token`, as Confluent's does; the API accepts the STS
//! tokens as bearer tokens until they expire.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use wiremock::Request;

use super::faults::{Faults, Injected};
use super::reply::{
    CONFLUENT_JSON, Pairs, Reply, header, media_type, random_alnum, random_lower_alnum,
    reason_phrase,
};

/// Path of the identity provider's token endpoint on the Confluent fake.
pub(crate) const IDP_TOKEN_PATH: &str = "/_idp/oauth2/token";
/// Path of the STS token exchange, as on Confluent Cloud.
pub(crate) const STS_TOKEN_PATH: &str = "/sts/v1/oauth2/token";
const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The lifetime of issued tokens unless set otherwise (the STS's default).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(900);
/// Issued tokens kept before the expired ones are dropped.
const PRUNE_ABOVE: usize = 1024;

/// What the API makes of a bearer token.
pub(crate) enum BearerCheck {
    /// Issued by the STS and not expired.
    Valid,
    /// Issued by the STS, but expired or revoked.
    Expired,
    /// Never issued here.
    Unknown,
}

/// The fake's identity provider and STS.
pub(crate) struct TokenIssuer {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) identity_pool_id: String,
    pub(crate) idp_faults: Faults,
    pub(crate) sts_faults: Faults,
    state: Mutex<IssuerState>,
}

struct IssuerState {
    lifetime: Duration,
    /// Identity provider tokens and when they expire.
    subjects: HashMap<String, Instant>,
    /// STS tokens and when they expire.
    bearers: HashMap<String, Instant>,
    idp_requests: usize,
    sts_requests: usize,
}

impl TokenIssuer {
    pub(crate) fn new() -> Self {
        TokenIssuer {
            client_id: format!("fake-client-{}", random_lower_alnum(12)),
            client_secret: random_alnum(40),
            identity_pool_id: format!("pool-{}", random_alnum(4)),
            idp_faults: Faults::new(),
            sts_faults: Faults::new(),
            state: Mutex::new(IssuerState {
                lifetime: DEFAULT_LIFETIME,
                subjects: HashMap::new(),
                bearers: HashMap::new(),
                idp_requests: 0,
                sts_requests: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, IssuerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_lifetime(&self, lifetime: Duration) {
        self.lock().lifetime = lifetime;
    }

    pub(crate) fn revoke_all(&self) {
        let mut state = self.lock();
        state.subjects.clear();
        state.bearers.clear();
    }

    /// Requests received by the identity provider and by the STS.
    pub(crate) fn requests(&self) -> (usize, usize) {
        let state = self.lock();
        (state.idp_requests, state.sts_requests)
    }

    pub(crate) fn check_bearer(&self, token: &str) -> BearerCheck {
        match self.lock().bearers.get(token) {
            Some(expires) if Instant::now() < *expires => BearerCheck::Valid,
            Some(_) => BearerCheck::Expired,
            None => BearerCheck::Unknown,
        }
    }

    /// The client-credentials grant (RFC 6749 §4.4), with RFC 6749 §5.2 errors.
    pub(crate) fn grant(&self, request: &Request) -> Reply {
        self.lock().idp_requests += 1;
        if let Some(injected) = self.idp_faults.take() {
            return injected_oauth_error(injected);
        }
        if request.method.as_str() != "POST" {
            return oauth_error(405, "invalid_request", "Use POST.");
        }
        let form = match form_body(request) {
            Ok(form) => form,
            Err(reply) => return reply,
        };
        if form.get("grant_type") != Some("client_credentials") {
            return oauth_error(
                400,
                "unsupported_grant_type",
                "Only the client_credentials grant is supported.",
            );
        }
        let (id, secret) = match basic_credentials(request) {
            Some(pair) => pair,
            None => (
                form.get("client_id").unwrap_or_default().to_owned(),
                form.get("client_secret").unwrap_or_default().to_owned(),
            ),
        };
        if id != self.client_id || secret != self.client_secret {
            return oauth_error(401, "invalid_client", "Client authentication failed.")
                .header("www-authenticate", "Basic realm=\"fake-idp\"");
        }
        let token = format!("fake-idp-{}", random_alnum(40));
        let lifetime = self.issue_subject(token.clone());
        Reply::json(
            200,
            &json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": lifetime.as_secs(),
            }),
            CONFLUENT_JSON,
        )
        .header("cache-control", "no-store")
    }

    /// The token exchange (RFC 8693), with Confluent's `Failure` errors.
    pub(crate) fn exchange(&self, request: &Request) -> Reply {
        self.lock().sts_requests += 1;
        if let Some(injected) = self.sts_faults.take() {
            return injected_failure(injected);
        }
        if request.method.as_str() != "POST" {
            return failure(405, "method_not_allowed", "Use POST.");
        }
        let form = match form_body(request) {
            Ok(form) => form,
            Err(reply) => return reply,
        };
        for (field, expected) in [
            ("grant_type", TOKEN_EXCHANGE_GRANT),
            ("subject_token_type", JWT_TOKEN_TYPE),
            ("requested_token_type", ACCESS_TOKEN_TYPE),
        ] {
            if form.get(field) != Some(expected) {
                return failure(
                    400,
                    "invalid_request",
                    &format!("{field} must be {expected}."),
                );
            }
        }
        if form.get("identity_pool_id") != Some(self.identity_pool_id.as_str()) {
            return failure(
                400,
                "invalid_identity_pool",
                "The identity pool does not exist or does not match the token.",
            );
        }
        let requested = match form.get("expires_in") {
            None => None,
            Some(raw) => match raw.parse::<u64>() {
                Ok(secs) if secs > 0 => Some(Duration::from_secs(secs)),
                _ => {
                    return failure(
                        400,
                        "invalid_request",
                        "expires_in must be a positive integer.",
                    );
                }
            },
        };
        let subject = form.get("subject_token").unwrap_or_default();
        let valid =
            matches!(self.lock().subjects.get(subject), Some(expires) if Instant::now() < *expires);
        if !valid {
            return failure(
                401,
                "invalid_token",
                "The subject token is not valid or has expired.",
            );
        }
        let token = format!("fake-sts-{}", random_alnum(48));
        let lifetime = self.issue_bearer(token.clone(), requested);
        Reply::json(
            200,
            &json!({
                "access_token": token,
                "issued_token_type": ACCESS_TOKEN_TYPE,
                "token_type": "Bearer",
                "expires_in": lifetime.as_secs(),
            }),
            CONFLUENT_JSON,
        )
    }

    /// Stores an identity provider token; returns its lifetime.
    fn issue_subject(&self, token: String) -> Duration {
        let mut state = self.lock();
        let lifetime = state.lifetime;
        prune(&mut state.subjects);
        state.subjects.insert(token, Instant::now() + lifetime);
        lifetime
    }

    /// Stores an STS token; returns its lifetime (the shorter of the asked and the fake's).
    fn issue_bearer(&self, token: String, requested: Option<Duration>) -> Duration {
        let mut state = self.lock();
        let lifetime = requested.map_or(state.lifetime, |r| r.min(state.lifetime));
        prune(&mut state.bearers);
        state.bearers.insert(token, Instant::now() + lifetime);
        lifetime
    }
}

/// Drops expired tokens once there are many, so the maps stay small.
fn prune(tokens: &mut HashMap<String, Instant>) {
    if tokens.len() >= PRUNE_ABOVE {
        let now = Instant::now();
        tokens.retain(|_, expires| now < *expires);
    }
}

/// The fields of a form body; any other body is refused.
fn form_body(request: &Request) -> Result<Pairs, Reply> {
    let form_type = header(request, "content-type")
        .map(media_type)
        .is_some_and(|media| media == "application/x-www-form-urlencoded");
    if !form_type {
        return Err(oauth_error(
            400,
            "invalid_request",
            "The body must be application/x-www-form-urlencoded.",
        ));
    }
    Ok(Pairs::parse(&request.body))
}

/// The client id and secret of an `Authorization: Basic` header (form-decoded, RFC 6749 §2.3.1).
fn basic_credentials(request: &Request) -> Option<(String, String)> {
    let (scheme, encoded) = header(request, "authorization")?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = raw.split_once(':')?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}

/// An RFC 6749 §5.2 error.
fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    Reply::json(
        status,
        &json!({ "error": error, "error_description": description }),
        CONFLUENT_JSON,
    )
}

/// A Confluent `Failure` body with one error.
fn failure(status: u16, code: &str, detail: &str) -> Reply {
    Reply::json(
        status,
        &json!({ "errors": [{
            "status": status.to_string(),
            "code": code,
            "title": reason_phrase(status),
            "detail": detail,
        }]}),
        CONFLUENT_JSON,
    )
}

fn injected_oauth_error(injected: Injected) -> Reply {
    match injected {
        Injected::RateLimited { retry_after_secs } => {
            Reply::empty(429).header("retry-after", retry_after_secs.to_string())
        }
        Injected::Failure { status } if status >= 500 => oauth_error(
            status,
            "temporarily_unavailable",
            "The service is unavailable.",
        ),
        Injected::Failure { status } => {
            oauth_error(status, "invalid_request", "The request was rejected.")
        }
    }
}

fn injected_failure(injected: Injected) -> Reply {
    match injected {
        Injected::RateLimited { retry_after_secs } => Reply::empty(429)
            .header("retry-after", retry_after_secs.to_string())
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", retry_after_secs.to_string()),
        Injected::Failure { status } if status >= 500 => failure(
            status,
            "internal_server_error",
            "Something went wrong on the server.",
        ),
        Injected::Failure { status } => failure(status, "bad_request", "The request was rejected."),
    }
}
