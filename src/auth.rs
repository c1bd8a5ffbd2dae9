//! Credentials and the environment variables the clients read.
//!
//! Secrets are held in [`Secret`], whose `Debug` and `Display` never show the value, and the
//! `Authorization` header built from them is marked sensitive so that HTTP-level logging skips it.
//!
//! ```
//! use cloud_plugin_sdk::{Credentials, golem::GolemClient};
//!
//! let credentials = Credentials::api_key("ABCDEFGH12345678", "the-secret");
//! assert_eq!(
//!     format!("{credentials:?}"),
//!     r#"Credentials::ApiKey { key: "ABCDEFGH12345678", secret: "<redacted>" }"#
//! );
//!
//! // Tests can hand from_env_with their own variables instead of the process environment.
//! let golem = GolemClient::from_env_with(|name| match name {
//!     "GOLEM_TOKEN" => Some("token-from-a-test-1234".into()),
//!     _ => None,
//! })?;
//! assert!(!format!("{golem:?}").contains("token-from-a-test"));
//! # Ok::<(), cloud_plugin_sdk::Error>(())
//! ```

use std::fmt;

use base64::Engine as _;
use reqwest::header::HeaderValue;

use crate::error::{Error, Result};

/// Environment variable holding the Golem token secret.
pub const GOLEM_TOKEN_ENV: &str = "GOLEM_TOKEN";
/// Environment variable overriding the Golem base URL.
pub const GOLEM_BASE_URL_ENV: &str = "GOLEM_BASE_URL";
/// Environment variable holding the Confluent Cloud API key id.
pub const CONFLUENT_API_KEY_ENV: &str = "CONFLUENT_CLOUD_API_KEY";
/// Environment variable holding the Confluent Cloud API key secret.
pub const CONFLUENT_API_SECRET_ENV: &str = "CONFLUENT_CLOUD_API_SECRET";
/// Environment variable holding a Confluent STS access token (used when no API key is set).
pub const CONFLUENT_ACCESS_TOKEN_ENV: &str = "CONFLUENT_CLOUD_ACCESS_TOKEN";
/// Environment variable overriding the Confluent base URL.
pub const CONFLUENT_BASE_URL_ENV: &str = "CONFLUENT_BASE_URL";
/// Environment variable holding the token URL of the external identity provider (OAuth).
pub const CONFLUENT_OAUTH_TOKEN_URL_ENV: &str = "CONFLUENT_CLOUD_OAUTH_EXTERNAL_TOKEN_URL";
/// Environment variable holding the OAuth client id registered at the identity provider.
pub const CONFLUENT_OAUTH_CLIENT_ID_ENV: &str = "CONFLUENT_CLOUD_OAUTH_EXTERNAL_CLIENT_ID";
/// Environment variable holding the OAuth client secret registered at the identity provider.
pub const CONFLUENT_OAUTH_CLIENT_SECRET_ENV: &str = "CONFLUENT_CLOUD_OAUTH_EXTERNAL_CLIENT_SECRET";
/// Environment variable holding the OAuth scope to ask the identity provider for (optional).
pub const CONFLUENT_OAUTH_SCOPE_ENV: &str = "CONFLUENT_CLOUD_OAUTH_EXTERNAL_TOKEN_SCOPE";
/// Environment variable holding the Confluent identity pool id (`pool-…`) the OAuth identity
/// maps to.
pub const CONFLUENT_OAUTH_IDENTITY_POOL_ID_ENV: &str = "CONFLUENT_CLOUD_OAUTH_IDENTITY_POOL_ID";

/// A secret string: `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value. Avoid logging it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

/// How a client authenticates.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// `Authorization: Bearer <token>`: a Golem token secret or a Confluent STS access token.
    Bearer(Secret),
    /// `Authorization: Basic base64(key:secret)`: a Confluent Cloud API key.
    ApiKey {
        /// The API key id (not secret, shown in `Debug`).
        key: String,
        /// The API key secret.
        secret: Secret,
    },
}

impl Credentials {
    /// Bearer-token credentials.
    pub fn bearer(token: impl Into<Secret>) -> Self {
        Credentials::Bearer(token.into())
    }

    /// API-key (HTTP Basic) credentials.
    pub fn api_key(key: impl Into<String>, secret: impl Into<Secret>) -> Self {
        Credentials::ApiKey {
            key: key.into(),
            secret: secret.into(),
        }
    }

    /// The `Authorization` header value, marked sensitive.
    pub(crate) fn header_value(&self) -> Result<HeaderValue> {
        let text = match self {
            Credentials::Bearer(token) => {
                if token.0.trim().is_empty() {
                    return Err(Error::invalid("token", "the token is empty"));
                }
                format!("Bearer {}", token.0.trim())
            }
            Credentials::ApiKey { key, secret } => {
                if key.trim().is_empty() {
                    return Err(Error::invalid("api_key", "the API key is empty"));
                }
                if secret.0.is_empty() {
                    return Err(Error::invalid("api_secret", "the API secret is empty"));
                }
                let raw = format!("{}:{}", key.trim(), secret.0);
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                )
            }
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            Error::invalid(
                "credentials",
                "the credentials contain characters not allowed in an HTTP header",
            )
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Bearer(_) => f.write_str("Credentials::Bearer(<redacted>)"),
            Credentials::ApiKey { key, .. } => f
                .debug_struct("Credentials::ApiKey")
                .field("key", key)
                .field("secret", &"<redacted>")
                .finish(),
        }
    }
}

/// Reads a variable, treating empty and whitespace-only values as unset.
pub(crate) fn env_value(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let c = Credentials::api_key("KEY1", "s3cr3t-value");
        let shown = format!("{c:?}");
        assert!(shown.contains("KEY1"));
        assert!(!shown.contains("s3cr3t"));
        let b = Credentials::bearer("tok-very-secret");
        assert!(!format!("{b:?}").contains("very-secret"));
        assert!(!format!("{}", Secret::new("abc")).contains("abc"));
    }

    #[test]
    fn header_values() {
        let v = Credentials::api_key("k", "s").header_value().unwrap();
        assert_eq!(v.to_str().unwrap(), "Basic azpz");
        assert!(v.is_sensitive());
        let v = Credentials::bearer("t0ken").header_value().unwrap();
        assert_eq!(v.to_str().unwrap(), "Bearer t0ken");
        assert!(v.is_sensitive());
        let err = Credentials::bearer("a\nb").header_value().unwrap_err();
        assert!(!err.to_string().contains("a\nb"));
        assert!(Credentials::bearer("  ").header_value().is_err());
    }

    #[test]
    fn header_values_are_sensitive_and_debug_hides_them() {
        for credentials in [
            Credentials::bearer("b3arer-secret"),
            Credentials::api_key("KEY1", "ap1-secret"),
        ] {
            let value = credentials.header_value().unwrap();
            assert!(value.is_sensitive(), "{credentials:?}");
            // http prints a sensitive value as `Sensitive`, whatever it holds.
            let shown = format!("{value:?}");
            assert!(
                !shown.contains("secret") && !shown.contains("Basic"),
                "{shown}"
            );
            // Clones, as inserted into every request, keep the flag.
            assert!(value.clone().is_sensitive());
        }
    }
}
