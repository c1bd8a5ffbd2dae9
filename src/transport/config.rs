//! The settings both clients' builders share, checked and turned into a [`Transport`].

use std::time::Duration;

use super::{Authorization, Limits, Transport};
use crate::auth::Credentials;
use crate::body::DEFAULT_MAX_RESPONSE_BYTES;
use crate::error::{Error, Result, Service};
use crate::oauth::{OAuthConfig, TokenSource};
use crate::retry::{RateLimitGate, RetryPolicy};

/// The user agent sent unless the caller sets another.
pub(crate) const DEFAULT_USER_AGENT: &str =
    concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));
/// Default time allowed for one request, connection included.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time allowed to establish a connection.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How a client authenticates, as its builder was told.
#[derive(Clone, Debug, Default)]
pub(crate) enum AuthConfig {
    /// Nothing was said: building fails, so that a forgotten credential is not a 401 later.
    #[default]
    Missing,
    /// No credentials, on purpose.
    Unauthenticated,
    /// Fixed credentials.
    Credentials(Credentials),
    /// Tokens obtained through OAuth.
    OAuth(OAuthConfig),
}

/// Settings common to both clients' builders.
#[derive(Clone)]
pub(crate) struct TransportConfig {
    pub(crate) base_url: Option<String>,
    pub(crate) auth: AuthConfig,
    pub(crate) timeout: Option<Duration>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) user_agent: Option<String>,
    pub(crate) http_client: Option<reqwest::Client>,
    pub(crate) retry: RetryPolicy,
    pub(crate) allow_http: bool,
    pub(crate) max_response_bytes: u64,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            base_url: None,
            auth: AuthConfig::Missing,
            timeout: Some(DEFAULT_TIMEOUT),
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            user_agent: None,
            http_client: None,
            retry: RetryPolicy::standard(),
            allow_http: false,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

impl std::fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("user_agent", &self.user_agent)
            .field("custom_http_client", &self.http_client.is_some())
            .field("retry", &self.retry)
            .field("allow_http", &self.allow_http)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

impl TransportConfig {
    /// Validates the settings and builds the shared transport.
    pub(crate) fn build(self, service: Service, default_base_url: &str) -> Result<Transport> {
        let base = validate_base_url(
            self.base_url.as_deref().unwrap_or(default_base_url),
            self.allow_http,
        )?;
        let base_url = base.as_str().trim_end_matches('/').to_string();
        if self.max_response_bytes == 0 {
            return Err(Error::invalid(
                "max_response_bytes",
                "the limit must not be zero",
            ));
        }
        let mut limits = Limits::default();
        let http = match self.http_client {
            Some(client) => client,
            None => {
                limits = Limits {
                    request: self.timeout.map(|limit| ("request", limit)),
                    connect: self.connect_timeout,
                };
                let mut builder = reqwest::Client::builder()
                    .user_agent(
                        self.user_agent
                            .clone()
                            .unwrap_or_else(|| DEFAULT_USER_AGENT.to_string()),
                    )
                    // Neither API redirects, and a redirect would carry a request (its body, or
                    // a presigned upload) somewhere else: a 3xx is reported, never followed.
                    .redirect(reqwest::redirect::Policy::none());
                if let Some(timeout) = self.timeout {
                    builder = builder.timeout(timeout);
                }
                if let Some(timeout) = self.connect_timeout {
                    builder = builder.connect_timeout(timeout);
                }
                builder
                    .build()
                    .map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")))?
            }
        };
        let authorization = match self.auth {
            AuthConfig::Missing => {
                return Err(Error::config(
                    "the client has no credentials; call `unauthenticated()` to build one without",
                ));
            }
            AuthConfig::Unauthenticated => Authorization::None,
            AuthConfig::Credentials(credentials) => {
                Authorization::Static(credentials.header_value()?)
            }
            AuthConfig::OAuth(config) => {
                config.validate()?;
                let token_url = validate_url("token_url", &config.token_url, self.allow_http)?;
                if token_url.fragment().is_some() {
                    return Err(Error::invalid(
                        "token_url",
                        "the URL must not have a fragment",
                    ));
                }
                Authorization::OAuth(TokenSource::new(
                    config,
                    token_url,
                    &base_url,
                    http.clone(),
                    self.retry.clone(),
                )?)
            }
        };
        Ok(Transport {
            service,
            http,
            authorization,
            retry: self.retry,
            gate: RateLimitGate::new(),
            base_url,
            max_response_bytes: self.max_response_bytes,
            limits,
        })
    }
}

/// Checks a base URL: absolute http(s) with a host, no query, fragment or credentials; plain
/// http only for loopback hosts unless explicitly allowed. Returns it parsed.
pub(crate) fn validate_base_url(raw: &str, allow_http: bool) -> Result<url::Url> {
    let url = validate_url("base_url", raw, allow_http)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid(
            "base_url",
            "the URL must not have a query or fragment",
        ));
    }
    Ok(url)
}

/// Checks a URL credentials are sent to (named `field`): absolute http(s) with a host and no
/// credentials of its own; plain http only for loopback hosts unless explicitly allowed.
pub(crate) fn validate_url(field: &str, raw: &str, allow_http: bool) -> Result<url::Url> {
    let url = url::Url::parse(raw.trim())
        .map_err(|e| Error::invalid(field, format!("not an absolute URL: {e}")))?;
    let host = url
        .host()
        .ok_or_else(|| Error::invalid(field, "the URL has no host"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid(
            field,
            "the URL must not carry credentials; use the builder's credential setters",
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = match host {
                url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
                url::Host::Ipv4(ip) => ip.is_loopback(),
                url::Host::Ipv6(ip) => ip.is_loopback(),
            };
            if !loopback && !allow_http {
                return Err(Error::invalid(
                    field,
                    "plain http is only allowed for loopback hosts; call allow_http(true) to opt in",
                ));
            }
        }
        other => {
            return Err(Error::invalid(
                field,
                format!("unsupported scheme `{other}`; use https"),
            ));
        }
    }
    Ok(url)
}

/// Generates the builder setters both clients share. The builder type must have a
/// `config: TransportConfig` field.
macro_rules! common_builder_methods {
    () => {
        /// Sets the base URL (scheme, host, optional port and path prefix).
        pub fn base_url(mut self, url: impl Into<String>) -> Self {
            self.config.base_url = Some(url.into());
            self
        }

        /// Sets the time allowed for one request, from connecting to reading the whole body
        /// (default 30 s). `None` removes the limit (not recommended).
        pub fn timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
            self.config.timeout = timeout;
            self
        }

        /// Sets the time allowed to establish a connection (default 10 s).
        pub fn connect_timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
            self.config.connect_timeout = timeout;
            self
        }

        /// Sets the `User-Agent` header (default `cloud-plugin-sdk/<version>`).
        pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
            self.config.user_agent = Some(user_agent.into());
            self
        }

        /// Uses a caller-built [`reqwest::Client`] (proxies, TLS roots, pools); reqwest is part of
        /// this crate's public API for this reason. The client's own timeouts, user agent and
        /// redirect policy apply; the builder's `timeout`, `connect_timeout` and `user_agent` do
        /// not. Build it with `.redirect(reqwest::redirect::Policy::none())`: neither API
        /// redirects, and a followed redirect sends the request elsewhere.
        pub fn http_client(mut self, client: reqwest::Client) -> Self {
            self.config.http_client = Some(client);
            self
        }

        /// Sets how failed calls are retried (default [`RetryPolicy::standard`](crate::retry::RetryPolicy::standard)).
        pub fn retry_policy(mut self, policy: $crate::retry::RetryPolicy) -> Self {
            self.config.retry = policy;
            self
        }

        /// Allows a plain-http base URL on a host that is not loopback. Credentials then travel
        /// unencrypted; use it only on a trusted network.
        pub fn allow_http(mut self, allow: bool) -> Self {
            self.config.allow_http = allow;
            self
        }

        /// Sets the largest success body the client reads, in bytes (default 32 MiB). A longer
        /// answer fails with [`ErrorKind::ResponseTooLarge`](crate::ErrorKind::ResponseTooLarge);
        /// one that announces its length in `Content-Length` fails before its body is read.
        pub fn max_response_bytes(mut self, limit: u64) -> Self {
            self.config.max_response_bytes = limit;
            self
        }
    };
}
pub(crate) use common_builder_methods;

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(base_url: &str) -> Transport {
        TransportConfig {
            base_url: Some(base_url.to_string()),
            auth: AuthConfig::Unauthenticated,
            ..TransportConfig::default()
        }
        .build(Service::Golem, "https://unused.example.com")
        .unwrap()
    }

    #[test]
    fn base_url_rules() {
        assert_eq!(
            transport("https://api.example.com/").base_url,
            "https://api.example.com"
        );
        assert_eq!(
            transport("http://127.0.0.1:8080").base_url,
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            transport("https://api.example.com/prefix/").base_url,
            "https://api.example.com/prefix"
        );
        assert!(validate_base_url("http://localhost:1", false).is_ok());
        assert!(validate_base_url("http://[::1]:1", false).is_ok());
        let err = validate_base_url("http://example.com", false).unwrap_err();
        assert!(err.to_string().contains("base_url"), "{err}");
        assert!(validate_base_url("http://example.com", true).is_ok());
        assert!(validate_base_url("ftp://example.com", true).is_err());
        assert!(validate_base_url("not a url", true).is_err());
        assert!(validate_base_url("https://u:p@example.com", true).is_err());
        assert!(validate_base_url("https://example.com/?a=b", true).is_err());
    }

    #[test]
    fn a_zero_body_limit_is_refused() {
        let config = TransportConfig {
            max_response_bytes: 0,
            auth: AuthConfig::Unauthenticated,
            ..TransportConfig::default()
        };
        let err = config
            .build(Service::Golem, "http://127.0.0.1:9")
            .unwrap_err();
        assert!(err.to_string().contains("max_response_bytes"), "{err}");
    }
}
