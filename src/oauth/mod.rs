//! OAuth through a Confluent identity pool: the settings, and the access tokens they yield.
//!
//! A client configured with an [`OAuthConfig`] gets a token from the external identity provider
//! with the client-credentials grant (RFC 6749 §4.4), exchanges it at Confluent's Security Token
//! Service for a Confluent token (RFC 8693), and sends that as `Authorization: Bearer` on every
//! API call. Tokens are fetched when first needed, shared by all clones of the client and renewed
//! before they expire; see [`TokenSource`] for the rules.

mod grant;
mod tokens;

use std::time::Duration;

pub(crate) use tokens::TokenSource;

use crate::auth::Secret;
use crate::error::{Error, Result};

/// The longest token lifetime that may be asked of the STS.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest identity pool id the API accepts.
const MAX_POOL_ID_CHARS: usize = 255;

/// How the client authenticates to the identity provider's token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ClientAuthentication {
    /// `client_id` and `client_secret` as fields of the form body (`client_secret_post`).
    #[default]
    RequestBody,
    /// HTTP Basic with the client id and secret (`client_secret_basic`), for identity providers
    /// that require it.
    BasicHeader,
}

/// OAuth settings for a Confluent client: an application registered at an external identity
/// provider, and the Confluent identity pool its tokens map to.
///
/// Build one with [`OAuthConfig::new`] and the setters; the fields are public to read. The
/// client secret is a [`Secret`], so `Debug` does not show it.
///
/// ```
/// use std::time::Duration;
/// use cloud_plugin_sdk::confluent::{ConfluentClient, OAuthConfig};
///
/// let oauth = OAuthConfig::new(
///     "https://login.example.com/oauth2/v2.0/token",
///     "a1b2c3d4-client",
///     "the-client-secret",
///     "pool-Ab12",
/// )
/// .scope("api://confluent/.default")
/// .token_lifetime(Duration::from_secs(900));
/// assert!(!format!("{oauth:?}").contains("the-client-secret"));
///
/// let confluent = ConfluentClient::builder().oauth(oauth).build()?;
/// # let _ = confluent;
/// # Ok::<(), cloud_plugin_sdk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthConfig {
    /// The identity provider's token endpoint (https; plain http only on loopback or with the
    /// builder's `allow_http`).
    pub token_url: String,
    /// The client (application) id registered at the identity provider.
    pub client_id: String,
    /// The client secret registered at the identity provider.
    pub client_secret: Secret,
    /// The scope to ask the identity provider for (Entra ID needs one, e.g. `api://…/.default`).
    pub scope: Option<String>,
    /// The Confluent identity pool the provider's tokens map to (`pool-…`).
    pub identity_pool_id: String,
    /// How the client id and secret are sent to the identity provider (default: in the body).
    pub client_authentication: ClientAuthentication,
    /// The lifetime to ask of Confluent's tokens (`expires_in`); by default the STS chooses
    /// (15 minutes).
    pub token_lifetime: Option<Duration>,
}

impl OAuthConfig {
    /// OAuth settings with no scope, the client credentials in the request body and the STS's
    /// default token lifetime.
    pub fn new(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
        identity_pool_id: impl Into<String>,
    ) -> Self {
        OAuthConfig {
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scope: None,
            identity_pool_id: identity_pool_id.into(),
            client_authentication: ClientAuthentication::default(),
            token_lifetime: None,
        }
    }

    /// Sets the scope to ask the identity provider for.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Sets how the client id and secret are sent to the identity provider.
    pub fn client_authentication(mut self, authentication: ClientAuthentication) -> Self {
        self.client_authentication = authentication;
        self
    }

    /// Asks the STS for tokens of this lifetime (at least a second, at most a day).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = Some(lifetime);
        self
    }

    /// Checks every setting but the token URL, which the transport checks with its base URL.
    pub(crate) fn validate(&self) -> Result<()> {
        check_text("client_id", &self.client_id, 1024)?;
        if self.client_secret.expose_secret().is_empty() {
            return Err(Error::invalid("client_secret", "must not be empty"));
        }
        check_text(
            "identity_pool_id",
            &self.identity_pool_id,
            MAX_POOL_ID_CHARS,
        )?;
        if let Some(scope) = &self.scope {
            check_text("scope", scope, 4096)?;
        }
        if let Some(lifetime) = self.token_lifetime
            && (lifetime < Duration::from_secs(1) || lifetime > MAX_TOKEN_LIFETIME)
        {
            return Err(Error::invalid(
                "token_lifetime",
                "must be from one second to one day",
            ));
        }
        Ok(())
    }
}

/// A non-empty value of visible ASCII characters, at most `max` long.
fn check_text(field: &str, value: &str, max: usize) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(Error::invalid(
            field,
            "must hold visible ASCII characters only",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OAuthConfig {
        OAuthConfig::new(
            "https://idp.example.com/token",
            "client",
            "s3cret-value",
            "pool-1",
        )
    }

    #[test]
    fn settings_are_checked() {
        assert!(config().validate().is_ok());
        let field = |c: OAuthConfig| match c.validate() {
            Err(Error::InvalidArgument { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let mut c = config();
        c.client_id = " ".into();
        assert_eq!(field(c), "client_id");
        let mut c = config();
        c.client_secret = Secret::new("");
        assert_eq!(field(c), "client_secret");
        let mut c = config();
        c.identity_pool_id = "pool\n1".into();
        assert_eq!(field(c), "identity_pool_id");
        assert_eq!(field(config().scope("")), "scope");
        assert_eq!(
            field(config().token_lifetime(Duration::from_millis(10))),
            "token_lifetime"
        );
        assert!(
            config()
                .token_lifetime(Duration::from_secs(60))
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let shown = format!("{:?}", config());
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("pool-1"), "{shown}");
    }
}
