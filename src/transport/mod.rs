//! What both clients share: the HTTP client, credentials, retry policy and rate-limit gate, and
//! the progenitor hooks every generated operation passes through.
//!
//! A generated operation builds its request, then runs the `pre` hook ([`Transport::prepare`]:
//! credentials), the `exec` hook ([`Transport::execute`]: the retry engine and the rate-limit
//! gate around the sending) and decodes the answer. [`Transport::call`] runs an operation within
//! the call's deadline and maps its outcome into the crate's [`Response`](crate::Response) or
//! [`Error`](crate::Error); it runs the operation once more when a 401 refused an OAuth token the
//! call found cached, so that the second run carries a new one.

mod call;
mod config;
mod failure;

use reqwest::header::{AUTHORIZATION, HeaderValue};

pub(crate) use config::{AuthConfig, TransportConfig, common_builder_methods};
pub(crate) use failure::{Limits, describe_failure, transport_error};

use crate::error::Service;
use crate::oauth::TokenSource;
use crate::retry::{Engine, RateLimitGate, RetryPolicy};

/// The header progenitor adds to every request; neither API uses it.
const API_VERSION: reqwest::header::HeaderName =
    reqwest::header::HeaderName::from_static("api-version");

/// What goes into the `Authorization` header of every request.
#[derive(Clone)]
pub(crate) enum Authorization {
    /// Nothing (an unauthenticated client).
    None,
    /// The same value every time, marked sensitive.
    Static(HeaderValue),
    /// A token obtained through OAuth and renewed before it expires.
    OAuth(TokenSource),
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Authorization::None => f.write_str("None"),
            Authorization::Static(_) => f.write_str("<redacted>"),
            Authorization::OAuth(tokens) => tokens.fmt(f),
        }
    }
}

/// State shared by every request of one client (the generated clients' inner value).
#[derive(Clone)]
pub(crate) struct Transport {
    pub(crate) service: Service,
    pub(crate) http: reqwest::Client,
    authorization: Authorization,
    pub(crate) retry: RetryPolicy,
    pub(crate) gate: RateLimitGate,
    pub(crate) base_url: String,
    /// The largest success body read.
    pub(crate) max_response_bytes: u64,
    /// The time limits of `http`, for error messages (unknown for a caller-built client).
    pub(crate) limits: Limits,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("service", &self.service)
            .field("base_url", &self.base_url)
            .field("authorization", &self.authorization)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// The `pre` hook: names the call's operation, adds the credentials and drops progenitor's
    /// `api-version` header.
    pub(crate) async fn prepare(
        &self,
        request: &mut reqwest::Request,
        info: &progenitor_client::OperationInfo,
    ) -> Result<(), String> {
        call::begin_attempt(info.operation_id, request.method());
        let headers = request.headers_mut();
        headers.remove(&API_VERSION);
        match &self.authorization {
            Authorization::Static(value) => {
                headers.insert(AUTHORIZATION, value.clone());
            }
            Authorization::None => {}
            Authorization::OAuth(tokens) => {
                let token = match tokens.cached(tokio::time::Instant::now()) {
                    Some(token) => token,
                    // Boxed, so that the wait for a token is not part of every operation's future.
                    None => Box::pin(tokens.obtain()).await.map_err(|error| {
                        let text = error.to_string();
                        call::record_token_error(error);
                        text
                    })?,
                };
                call::record_token(token.generation, token.cached);
                headers.insert(AUTHORIZATION, token.header);
            }
        }
        Ok(())
    }

    /// The OAuth tokens of this client, when it uses OAuth.
    pub(crate) fn tokens(&self) -> Option<&TokenSource> {
        match &self.authorization {
            Authorization::OAuth(tokens) => Some(tokens),
            _ => None,
        }
    }

    /// The `exec` hook: sends the request through the retry engine and the rate-limit gate,
    /// holds a success's body to the size limit, and records what happened for the mapping of
    /// the outcome.
    pub(crate) async fn execute(
        &self,
        request: reqwest::Request,
        info: &progenitor_client::OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let engine = Engine {
            http: &self.http,
            policy: &self.retry,
            gate: &self.gate,
            service: self.service.as_str(),
            operation: info.operation_id,
            deadline: call::deadline(),
            repeatable: false,
        };
        let (outcome, attempts) = engine.run(request).await;
        call::record_attempts(attempts, outcome.as_ref().ok());
        let response = outcome?;
        Ok(if response.status().is_success() {
            crate::body::limit_body(response, self.max_response_bytes)
        } else {
            response
        })
    }
}

/// Includes a client that build.rs generated (as module `generated`) and routes its hooks
/// through the shared [`Transport`].
macro_rules! generated_client {
    ($file:literal) => {
        #[allow(
            missing_docs,
            unused_imports,
            clippy::all,
            clippy::pedantic,
            unreachable_pub,
            dead_code
        )]
        mod generated {
            include!(concat!(env!("OUT_DIR"), "/", $file));
        }

        impl progenitor_client::ClientHooks<$crate::transport::Transport> for generated::Client {
            async fn pre<E>(
                &self,
                request: &mut reqwest::Request,
                info: &progenitor_client::OperationInfo,
            ) -> std::result::Result<(), progenitor_client::Error<E>> {
                progenitor_client::ClientInfo::inner(self)
                    .prepare(request, info)
                    .await
                    .map_err(progenitor_client::Error::Custom)
            }

            async fn exec(
                &self,
                request: reqwest::Request,
                info: &progenitor_client::OperationInfo,
            ) -> reqwest::Result<reqwest::Response> {
                // Boxed, so that the retry engine's state is not part of (and moved with) every
                // generated operation's future.
                Box::pin(progenitor_client::ClientInfo::inner(self).execute(request, info)).await
            }
        }

        /// Builds the generated client over a validated transport.
        fn connect(
            config: $crate::transport::TransportConfig,
            service: $crate::error::Service,
            default_base_url: &str,
        ) -> $crate::error::Result<generated::Client> {
            let transport = config.build(service, default_base_url)?;
            Ok(generated::Client::new_with_client(
                &transport.base_url.clone(),
                transport.http.clone(),
                transport,
            ))
        }
    };
}
pub(crate) use generated_client;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Credentials;

    #[tokio::test]
    async fn outgoing_authorization_is_sensitive_and_api_version_is_dropped() {
        let config = TransportConfig {
            auth: AuthConfig::Credentials(Credentials::bearer("tr4nsport-secret")),
            ..TransportConfig::default()
        };
        let transport = config.build(Service::Golem, "http://127.0.0.1:9").unwrap();
        assert!(!format!("{transport:?}").contains("tr4nsport-secret"));
        let url = url::Url::parse("http://127.0.0.1:9/v1/plugins").unwrap();
        let mut request = reqwest::Request::new(reqwest::Method::GET, url);
        request
            .headers_mut()
            .insert(API_VERSION, HeaderValue::from_static("1.0"));
        let info = progenitor_client::OperationInfo {
            operation_id: "get_plugin_by_id",
        };
        transport.prepare(&mut request, &info).await.unwrap();
        let auth = request.headers().get(AUTHORIZATION).unwrap();
        assert!(auth.is_sensitive());
        assert!(request.headers().get(API_VERSION).is_none());
        assert!(!format!("{:?}", request.headers()).contains("tr4nsport-secret"));
    }
}
