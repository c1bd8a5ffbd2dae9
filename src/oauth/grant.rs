//! The two token requests: the client-credentials grant at the identity provider and the token
//! exchange at Confluent's STS, each sent through the retry engine, and their answers decoded.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use tokio::time::Instant;

use super::{ClientAuthentication, OAuthConfig};
use crate::auth::Secret;
use crate::error::{ErrorDetail, OAuthError, TokenEndpoint, TokenProblem, one_line};
use crate::retry::{Engine, RateLimitGate, RetryPolicy};

/// The path of Confluent's token exchange, under the client's base URL.
pub(super) const STS_PATH: &str = "/sts/v1/oauth2/token";
const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The lifetime the STS gives a token when not asked for another.
const STS_DEFAULT_LIFETIME: Duration = Duration::from_secs(900);
/// Lifetimes above this are counted as this; the token is renewed long before anyway.
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest token accepted: JWTs are a few kilobytes.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Shown instead of a secret an endpoint echoed back.
const MASK: &str = "<redacted>";

/// A token an endpoint issued.
pub(super) struct Issued {
    pub(super) token: Secret,
    /// How long it is valid, counted from `requested_at`; `None` when the answer did not say.
    pub(super) lifetime: Option<Duration>,
    /// When the request that got it was first sent (its lifetime is counted from there).
    pub(super) requested_at: Instant,
}

/// Everything needed to ask for tokens.
pub(super) struct Grant {
    http: reqwest::Client,
    retry: RetryPolicy,
    config: OAuthConfig,
    token_url: url::Url,
    sts_url: url::Url,
    idp_gate: RateLimitGate,
    sts_gate: RateLimitGate,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field("token_host", &self.token_url.host_str())
            .field("client_id", &self.config.client_id)
            .field("identity_pool_id", &self.config.identity_pool_id)
            .finish_non_exhaustive()
    }
}

impl Grant {
    pub(super) fn new(
        config: OAuthConfig,
        token_url: url::Url,
        sts_url: url::Url,
        http: reqwest::Client,
        retry: RetryPolicy,
    ) -> Self {
        Grant {
            http,
            retry,
            config,
            token_url,
            sts_url,
            idp_gate: RateLimitGate::new(),
            sts_gate: RateLimitGate::new(),
        }
    }

    pub(super) fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The host of an endpoint, for messages.
    pub(super) fn host(&self, endpoint: TokenEndpoint) -> String {
        let url = match endpoint {
            TokenEndpoint::SecurityTokenService => &self.sts_url,
            _ => &self.token_url,
        };
        match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            _ => String::new(),
        }
    }

    /// An error about `endpoint` without an answer.
    pub(super) fn failure(
        &self,
        endpoint: TokenEndpoint,
        problem: TokenProblem,
    ) -> Box<OAuthError> {
        Box::new(OAuthError {
            endpoint,
            host: self.host(endpoint),
            operation: None,
            problem,
            request_id: None,
            attempts: 0,
        })
    }

    /// The client-credentials grant at the identity provider.
    pub(super) async fn client_credentials(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Issued, Box<OAuthError>> {
        let config = &self.config;
        let secret = config.client_secret.expose_secret();
        let mut fields = vec![("grant_type", "client_credentials")];
        let mut basic = None;
        match config.client_authentication {
            ClientAuthentication::BasicHeader => {
                // RFC 6749 §2.3.1: both parts are form-encoded before they are joined.
                let encode = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let pair = format!("{}:{}", encode(&config.client_id), encode(secret));
                let value = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                );
                basic = Some(value);
            }
            _ => {
                fields.push(("client_id", &config.client_id));
                fields.push(("client_secret", secret));
            }
        }
        if let Some(scope) = &config.scope {
            fields.push(("scope", scope));
        }
        let request = Send {
            endpoint: TokenEndpoint::IdentityProvider,
            url: &self.token_url,
            gate: &self.idp_gate,
            form: form(&fields),
            authorization: basic,
            secrets: &[secret],
        };
        let (issued, _) = self.send(request, deadline).await?;
        Ok(issued)
    }

    /// The token exchange at Confluent's STS.
    pub(super) async fn exchange(
        &self,
        subject: &Secret,
        deadline: Option<Instant>,
    ) -> Result<Issued, Box<OAuthError>> {
        let config = &self.config;
        let lifetime = config.token_lifetime.map(|l| l.as_secs().to_string());
        let mut fields = vec![
            ("grant_type", TOKEN_EXCHANGE_GRANT),
            ("subject_token", subject.expose_secret()),
            ("identity_pool_id", &config.identity_pool_id),
            ("subject_token_type", JWT_TOKEN_TYPE),
            ("requested_token_type", ACCESS_TOKEN_TYPE),
        ];
        if let Some(lifetime) = &lifetime {
            fields.push(("expires_in", lifetime));
        }
        let request = Send {
            endpoint: TokenEndpoint::SecurityTokenService,
            url: &self.sts_url,
            gate: &self.sts_gate,
            form: form(&fields),
            authorization: None,
            secrets: &[
                subject.expose_secret(),
                config.client_secret.expose_secret(),
            ],
        };
        let (mut issued, token_type) = self.send(request, deadline).await?;
        if let Some(token_type) = token_type
            && !token_type.eq_ignore_ascii_case("bearer")
        {
            return Err(self.failure(
                TokenEndpoint::SecurityTokenService,
                TokenProblem::Unusable {
                    status: StatusCode::OK,
                    reason: format!(
                        "the token_type is `{}`, not Bearer",
                        one_line(&token_type, 40)
                    ),
                },
            ));
        }
        issued.lifetime = Some(
            issued
                .lifetime
                .or(config.token_lifetime)
                .unwrap_or(STS_DEFAULT_LIFETIME),
        );
        Ok(issued)
    }

    /// Sends one token request through the retry engine and decodes the answer: the token and
    /// the `token_type` the endpoint named.
    async fn send(
        &self,
        send: Send<'_>,
        deadline: Option<Instant>,
    ) -> Result<(Issued, Option<String>), Box<OAuthError>> {
        let mut request = reqwest::Request::new(Method::POST, send.url.clone());
        let headers = request.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(value) = &send.authorization {
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                self.failure(
                    send.endpoint,
                    TokenProblem::Unusable {
                        status: StatusCode::OK,
                        reason: "the client credentials cannot be sent in a header".into(),
                    },
                )
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        *request.body_mut() = Some(reqwest::Body::from(send.form));
        let requested_at = Instant::now();
        let engine = Engine {
            http: &self.http,
            policy: &self.retry,
            gate: send.gate,
            service: "oauth",
            operation: match send.endpoint {
                TokenEndpoint::SecurityTokenService => "sts_token_exchange",
                _ => "identity_provider_token",
            },
            deadline,
            // Asking for a token changes nothing on the server, so any transient failure may be
            // retried, although the method is POST.
            repeatable: true,
        };
        let (outcome, attempts) = engine.run(request).await;
        let error = |problem, request_id| {
            Box::new(OAuthError {
                endpoint: send.endpoint,
                host: self.host(send.endpoint),
                operation: None,
                problem,
                request_id,
                attempts: attempts.attempts,
            })
        };
        let response = match outcome {
            Ok(response) => response,
            Err(source) => {
                let problem = TokenProblem::Transport {
                    timeout: source.is_timeout(),
                    reason: crate::transport::describe_failure(&source),
                    source: Arc::new(source.without_url()),
                };
                return Err(error(problem, None));
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        let request_id = crate::ratelimit::request_id(&headers);
        let body = crate::body::read_error_body(response).await;
        if !status.is_success() {
            let problem = refusal(status, &headers, &body, send.secrets);
            return Err(error(problem, request_id));
        }
        match decode_token(&body) {
            Ok((token, lifetime, token_type)) => Ok((
                Issued {
                    token,
                    lifetime,
                    requested_at,
                },
                token_type,
            )),
            Err(reason) => {
                let reason = mask(&reason, send.secrets);
                Err(error(TokenProblem::Unusable { status, reason }, request_id))
            }
        }
    }
}

/// A form body (`application/x-www-form-urlencoded`).
fn form(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// One token request.
struct Send<'a> {
    endpoint: TokenEndpoint,
    url: &'a url::Url,
    gate: &'a RateLimitGate,
    form: String,
    authorization: Option<String>,
    /// Values that must not appear in an error, should the endpoint echo them.
    secrets: &'a [&'a str],
}

/// A token answer (RFC 6749 §5.1, RFC 8693 §2.2.1); unknown fields are ignored.
#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
    /// A number, though some servers send it as a string.
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// The token, its lifetime and its `token_type`, or why the answer is not usable (a reason that
/// quotes nothing of the answer).
fn decode_token(body: &[u8]) -> Result<(Secret, Option<Duration>, Option<String>), String> {
    let answer: TokenAnswer = serde_json::from_slice(body)
        .map_err(|_| "the answer is not a JSON token response".to_string())?;
    let token = answer
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| "the answer has no access_token".to_string())?;
    if token.len() > MAX_TOKEN_BYTES || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the access_token is not a token that can be sent in a header".into());
    }
    let lifetime = match answer.expires_in {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .map(|secs| Duration::from_secs(secs).min(MAX_LIFETIME)),
        Some(serde_json::Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .ok()
            .map(|secs| Duration::from_secs(secs).min(MAX_LIFETIME)),
        Some(_) => None,
    };
    Ok((Secret::new(token), lifetime, answer.token_type))
}

/// An error answer: OAuth's `{error, error_description}` (RFC 6749 §5.2), Confluent's
/// `{errors: [...]}` or its newer `{error: {code, message}}`.
#[derive(Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    errors: Option<Vec<ErrorDetail>>,
}

/// What an error answer says, secrets masked.
fn refusal(status: StatusCode, headers: &HeaderMap, body: &[u8], secrets: &[&str]) -> TokenProblem {
    let (code, message) = match serde_json::from_slice::<ErrorAnswer>(body) {
        Ok(answer) => {
            let mut code = None;
            let mut message = answer.error_description;
            match answer.error {
                Some(serde_json::Value::String(error)) => code = Some(error),
                Some(serde_json::Value::Object(error)) => {
                    let text =
                        |key: &str| error.get(key).and_then(|v| v.as_str()).map(str::to_owned);
                    code = text("code");
                    message = message.or_else(|| text("message"));
                }
                _ => {}
            }
            if let Some(first) = answer.errors.as_ref().and_then(|errors| errors.first()) {
                code = code.or_else(|| first.code.clone());
                message = message.or_else(|| first.text().map(str::to_owned));
            }
            (code, message)
        }
        Err(_) => {
            let text = one_line(&String::from_utf8_lossy(body), 200);
            (None, (!text.is_empty()).then_some(text))
        }
    };
    let retry_after = (status == StatusCode::TOO_MANY_REQUESTS)
        .then(|| crate::ratelimit::requested_wait(status, headers, SystemTime::now()))
        .flatten();
    TokenProblem::Refused {
        status,
        code: code.map(|c| mask(&one_line(&c, 100), secrets)),
        message: message.map(|m| mask(&one_line(&m, 300), secrets)),
        retry_after,
    }
}

/// `text` with every occurrence of the secrets replaced.
fn mask(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if text.contains(secret) {
            text = text.replace(secret, MASK);
        }
        // A text cut short may end part-way into a secret: mask a tail that starts one.
        let Some(tail) = text.strip_suffix('…') else {
            continue;
        };
        if let Some(start) = (1..tail.len())
            .filter(|&i| tail.is_char_boundary(i))
            .find(|&i| tail.len() - i >= 4 && secret.starts_with(&tail[i..]))
        {
            text = format!("{}{MASK}…", &tail[..start]);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers() {
        let (token, lifetime, kind) = decode_token(
            br#"{"access_token":"eyJ.a.b","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":900}"#,
        )
        .unwrap();
        assert_eq!(token.expose_secret(), "eyJ.a.b");
        assert_eq!(lifetime, Some(Duration::from_secs(900)));
        assert_eq!(kind.as_deref(), Some("Bearer"));
        let (_, lifetime, _) = decode_token(br#"{"access_token":"t","expires_in":"60"}"#).unwrap();
        assert_eq!(lifetime, Some(Duration::from_secs(60)));
        let (_, lifetime, _) = decode_token(br#"{"access_token":"t"}"#).unwrap();
        assert_eq!(lifetime, None);
        let (_, lifetime, _) = decode_token(br#"{"access_token":"t","expires_in":1e30}"#).unwrap();
        assert_eq!(lifetime, Some(MAX_LIFETIME));
        for bad in [
            &b"not json"[..],
            br#"{"token_type":"Bearer"}"#,
            br#"{"access_token":""}"#,
            br#"{"access_token":"a b"}"#,
            br#"{"access_token":42}"#,
            br#"[]"#,
        ] {
            let reason = decode_token(bad).unwrap_err();
            assert!(
                !reason.contains("42") && !reason.contains("a b"),
                "{reason}"
            );
        }
    }

    #[test]
    fn error_answers_in_either_shape() {
        let headers = HeaderMap::new();
        let oauth = refusal(
            StatusCode::UNAUTHORIZED,
            &headers,
            br#"{"error":"invalid_client","error_description":"Client authentication failed."}"#,
            &[],
        );
        let TokenProblem::Refused { code, message, .. } = oauth else {
            panic!()
        };
        assert_eq!(code.as_deref(), Some("invalid_client"));
        assert_eq!(message.as_deref(), Some("Client authentication failed."));
        let confluent = refusal(
            StatusCode::BAD_REQUEST,
            &headers,
            br#"{"errors":[{"status":"400","code":"invalid_identity_pool","detail":"Unknown pool."}]}"#,
            &[],
        );
        let TokenProblem::Refused { code, message, .. } = confluent else {
            panic!()
        };
        assert_eq!(code.as_deref(), Some("invalid_identity_pool"));
        assert_eq!(message.as_deref(), Some("Unknown pool."));
        let newer = refusal(
            StatusCode::BAD_REQUEST,
            &headers,
            br#"{"error":{"code":"bad","message":"m"}}"#,
            &[],
        );
        let TokenProblem::Refused { code, message, .. } = newer else {
            panic!()
        };
        assert_eq!(
            (code.as_deref(), message.as_deref()),
            (Some("bad"), Some("m"))
        );
        let text = refusal(
            StatusCode::BAD_GATEWAY,
            &headers,
            b"<html>\n bad\n</html>",
            &[],
        );
        let TokenProblem::Refused { message, .. } = text else {
            panic!()
        };
        assert_eq!(message.as_deref(), Some("<html> bad </html>"));
    }

    #[test]
    fn echoed_secrets_are_masked() {
        let problem = refusal(
            StatusCode::UNAUTHORIZED,
            &HeaderMap::new(),
            br#"{"error":"invalid_client s3cret-value","error_description":"client_secret=s3cret-value is wrong"}"#,
            &["s3cret-value"],
        );
        let TokenProblem::Refused { code, message, .. } = problem else {
            panic!()
        };
        assert_eq!(code.as_deref(), Some("invalid_client <redacted>"));
        assert_eq!(
            message.as_deref(),
            Some("client_secret=<redacted> is wrong")
        );
        // A secret cut off at the end of a shortened line is masked too.
        let secret = "x".repeat(20) + "-tail-of-a-long-secret";
        let long = format!("{} {secret}", "y".repeat(290));
        let shortened = one_line(&long, 300);
        let masked = mask(&shortened, &[&secret]);
        assert!(!masked.contains("xxxx"), "{masked}");
        assert!(masked.ends_with("<redacted>…"), "{masked}");
    }
}
