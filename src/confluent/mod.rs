//! Client for the Confluent Cloud Custom Connect Plugin Management API (`ccpm/v1`).
//!
//! Every call is scoped to an environment: `client.environment("env-…")` gives a handle whose
//! operations fill in the environment (as the `environment` query parameter on reads and deletes,
//! in the body on creates and updates), so it cannot be forgotten.
//!
//! ```no_run
//! use cloud_plugin_sdk::confluent::{Cloud, ConfluentClient, NewPlugin, PluginUpdate};
//! use futures::TryStreamExt as _;
//!
//! # async fn run() -> cloud_plugin_sdk::Result<()> {
//! // An API key, OAuth settings or an access token, from the CONFLUENT_CLOUD_* variables
//! let confluent = ConfluentClient::from_env()?;
//! let env = confluent.environment("env-7q2m9p");
//!
//! let plugin = env
//!     .plugins()
//!     .create(&NewPlugin::new("Orders JDBC sink", Cloud::Aws).description("Billing database"))
//!     .await?;
//! println!("created {} ({})", plugin.spec.display_name, plugin.id);
//!
//! env.plugins()
//!     .update(&plugin.id, &PluginUpdate::new().description("Writes orders to billing"))
//!     .await?;
//!
//! let mut all = env.plugins().list().cloud(Cloud::Aws).page_size(50).stream();
//! while let Some(p) = all.try_next().await? {
//!     println!("{} {}", p.id, p.spec.display_name);
//! }
//!
//! if let Some(existing) = env.plugins().find_by_name("Orders JDBC sink").await? {
//!     for version in env.plugin_versions(&existing.id).list().await?.iter() {
//!         println!("  {} {}", version.spec.version, version.status.phase);
//!     }
//! }
//! env.plugins().delete_if_exists(&plugin.id).await?;
//! # Ok(())
//! # }
//! ```

mod cascade;
mod list;
mod model;
mod open_enum;
mod page;
mod plugins;
mod publish;
mod storage;
mod upload;
mod validate;
mod versions;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use crate::oauth::{ClientAuthentication, OAuthConfig};
pub use cascade::PluginDeletion;
pub use generated::types::{
    ConnectorClass, EnvironmentId, EnvironmentRef, ListMeta, NewPlugin, NewPluginVersion,
    NewPresignedUpload, ObjectMeta, Plugin, PluginId, PluginPage, PluginSpec, PluginSpecUpdate,
    PluginUpdate, PluginVersion, PluginVersionId, PluginVersionList, PluginVersionSpec,
    PresignedUpload, UploadSource, VersionStatus,
};
pub use list::ListPlugins;
pub use open_enum::{Cloud, ConnectorType, ContentFormat, Phase, UploadLocation};
pub use page::next_page_token;
pub use plugins::Plugins;
pub use publish::PublishedVersion;
pub use storage::{Archive, MAX_ARCHIVE_BYTES};
pub use upload::{
    DEFAULT_POLL_INTERVAL, DEFAULT_READY_TIMEOUT, DEFAULT_UPLOAD_TIMEOUT, UploadEvent,
    UploadVersion,
};
pub use versions::PluginVersions;

use crate::auth::{
    self, CONFLUENT_ACCESS_TOKEN_ENV, CONFLUENT_API_KEY_ENV, CONFLUENT_API_SECRET_ENV,
    CONFLUENT_BASE_URL_ENV, CONFLUENT_OAUTH_CLIENT_ID_ENV, CONFLUENT_OAUTH_CLIENT_SECRET_ENV,
    CONFLUENT_OAUTH_IDENTITY_POOL_ID_ENV, CONFLUENT_OAUTH_SCOPE_ENV, CONFLUENT_OAUTH_TOKEN_URL_ENV,
    Credentials,
};
use crate::error::{Error, Result, Service};
use crate::response::Response;
use crate::transport::{AuthConfig, Transport, TransportConfig, common_builder_methods};

crate::transport::generated_client!("confluent_ccpm_v1.rs");

/// The public Confluent Cloud API.
pub const DEFAULT_BASE_URL: &str = "https://api.confluent.cloud";

/// A client of the Confluent Cloud ccpm/v1 API. Cheap to clone; clones share connections,
/// credentials and rate-limit state.
#[derive(Clone)]
pub struct ConfluentClient {
    /// One allocation for everything clones share, so a clone is one reference count.
    shared: Arc<Shared>,
}

/// What the clones of one [`ConfluentClient`] share.
struct Shared {
    api: generated::Client,
    /// Each plugin's cloud, learned once: it is fixed when the plugin is created.
    clouds: Mutex<HashMap<(EnvironmentId, PluginId), Cloud>>,
}

/// Entries kept in the cloud cache before it starts over.
const MAX_CACHED_CLOUDS: usize = 1024;

impl std::fmt::Debug for ConfluentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfluentClient")
            .field("transport", self.transport())
            .finish()
    }
}

/// Builds a [`ConfluentClient`].
#[derive(Debug, Default, Clone)]
#[must_use]
pub struct ConfluentClientBuilder {
    config: TransportConfig,
}

impl ConfluentClientBuilder {
    common_builder_methods!();

    /// Authenticates with a Cloud API key: `Authorization: Basic base64(key:secret)`.
    pub fn api_key(mut self, key: impl Into<String>, secret: impl Into<auth::Secret>) -> Self {
        self.config.auth = AuthConfig::Credentials(Credentials::api_key(key, secret));
        self
    }

    /// Authenticates with an STS access token: `Authorization: Bearer <token>`.
    ///
    /// The token is used as it is and not renewed; [`oauth`](Self::oauth) gets and renews tokens
    /// itself. The API documents bearer tokens for the plugin operations only; versions and
    /// presigned URLs document API keys, though the service's own CLI sends bearer tokens to
    /// them too.
    pub fn access_token(mut self, token: impl Into<auth::Secret>) -> Self {
        self.config.auth = AuthConfig::Credentials(Credentials::bearer(token));
        self
    }

    /// Sets the credentials (an API key or a bearer access token).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.config.auth = AuthConfig::Credentials(credentials);
        self
    }

    /// Authenticates through OAuth with an identity pool: the client asks the identity provider
    /// for a token (client-credentials grant), exchanges it at Confluent's STS
    /// (`{base_url}/sts/v1/oauth2/token`) and sends the result as `Authorization: Bearer`.
    ///
    /// Tokens are fetched when the first call needs one, shared by all clones of the client and
    /// renewed before they expire, by one request however many calls wait; a call answered 401
    /// with a cached token is sent once more with a new one. Token requests follow the client's
    /// retry policy and timeouts. Uploads to cloud storage never carry a token. A call that
    /// cannot get a token fails with [`Error::OAuth`], naming the endpoint that failed.
    ///
    /// Token events are traced at debug level with target `cloud_plugin_sdk::oauth` (a token
    /// obtained, a fetch failed, a cached token refused); retries of token requests appear as
    /// retry events of service `oauth`. Neither the secret nor a token is ever logged.
    pub fn oauth(mut self, config: OAuthConfig) -> Self {
        self.config.auth = AuthConfig::OAuth(config);
        self
    }

    /// Builds a client that sends no credentials, for a server that needs none (a proxy that
    /// adds them). Without this or credentials, `build` fails.
    pub fn unauthenticated(mut self) -> Self {
        self.config.auth = AuthConfig::Unauthenticated;
        self
    }

    /// Validates the settings and builds the client. It never panics.
    ///
    /// It fails with [`ErrorKind::Config`](crate::ErrorKind::Config) when no credentials were
    /// given ([`api_key`](Self::api_key), [`oauth`](Self::oauth),
    /// [`access_token`](Self::access_token), [`credentials`](Self::credentials)) and
    /// [`unauthenticated`](Self::unauthenticated) was not called.
    pub fn build(self) -> Result<ConfluentClient> {
        if matches!(self.config.auth, AuthConfig::Missing) {
            return Err(Error::config(format!(
                "the Confluent client has no credentials: call `api_key(..)` or `oauth(..)` on the \
                 builder, or set {CONFLUENT_API_KEY_ENV} and {CONFLUENT_API_SECRET_ENV} (or the \
                 CONFLUENT_CLOUD_OAUTH_* variables) and use `ConfluentClient::from_env()`; call \
                 `unauthenticated()` for a client that sends none"
            )));
        }
        let api = connect(self.config, Service::Confluent, DEFAULT_BASE_URL)?;
        Ok(ConfluentClient {
            shared: Arc::new(Shared {
                api,
                clouds: Mutex::default(),
            }),
        })
    }
}

impl ConfluentClient {
    /// A builder with the defaults: [`DEFAULT_BASE_URL`], 30 s request timeout, 10 s connect
    /// timeout and the standard retry policy. Give it credentials (or call
    /// [`unauthenticated`](ConfluentClientBuilder::unauthenticated)) before building.
    pub fn builder() -> ConfluentClientBuilder {
        ConfluentClientBuilder::default()
    }

    /// A client configured from the environment, with the first of these that is set:
    ///
    /// 1. `CONFLUENT_CLOUD_API_KEY` and `CONFLUENT_CLOUD_API_SECRET` (HTTP Basic);
    /// 2. OAuth ([`oauth`](ConfluentClientBuilder::oauth)):
    ///    `CONFLUENT_CLOUD_OAUTH_EXTERNAL_TOKEN_URL`, `CONFLUENT_CLOUD_OAUTH_EXTERNAL_CLIENT_ID`,
    ///    `CONFLUENT_CLOUD_OAUTH_EXTERNAL_CLIENT_SECRET`, `CONFLUENT_CLOUD_OAUTH_IDENTITY_POOL_ID`
    ///    and optionally `CONFLUENT_CLOUD_OAUTH_EXTERNAL_TOKEN_SCOPE`;
    /// 3. `CONFLUENT_CLOUD_ACCESS_TOKEN` (a bearer token used as it is).
    ///
    /// `CONFLUENT_BASE_URL` optionally overrides [`DEFAULT_BASE_URL`].
    pub fn from_env() -> Result<ConfluentClient> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`ConfluentClient::from_env`], reading variables through `lookup` (for tests).
    ///
    /// A half-set group (an API key without its secret, OAuth settings with a variable missing)
    /// is an error naming the missing variables, rather than a silent fallback to the next one.
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Result<ConfluentClient> {
        let key = auth::env_value(&lookup, CONFLUENT_API_KEY_ENV);
        let secret = auth::env_value(&lookup, CONFLUENT_API_SECRET_ENV);
        let mut builder = Self::builder();
        builder = match (key, secret) {
            (Some(key), Some(secret)) => builder.api_key(key, secret),
            (Some(_), None) => {
                return Err(Error::config(format!(
                    "{CONFLUENT_API_KEY_ENV} is set but {CONFLUENT_API_SECRET_ENV} is not"
                )));
            }
            (None, Some(_)) => {
                return Err(Error::config(format!(
                    "{CONFLUENT_API_SECRET_ENV} is set but {CONFLUENT_API_KEY_ENV} is not"
                )));
            }
            (None, None) => match oauth_from_env(&lookup)? {
                Some(oauth) => builder.oauth(oauth),
                None => match auth::env_value(&lookup, CONFLUENT_ACCESS_TOKEN_ENV) {
                    Some(token) => builder.access_token(token),
                    None => {
                        return Err(Error::config(format!(
                            "set {CONFLUENT_API_KEY_ENV} and {CONFLUENT_API_SECRET_ENV}, the \
                             OAuth variables ({CONFLUENT_OAUTH_TOKEN_URL_ENV}, \
                             {CONFLUENT_OAUTH_CLIENT_ID_ENV}, {CONFLUENT_OAUTH_CLIENT_SECRET_ENV}, \
                             {CONFLUENT_OAUTH_IDENTITY_POOL_ID_ENV}), or \
                             {CONFLUENT_ACCESS_TOKEN_ENV}"
                        )));
                    }
                },
            },
        };
        if let Some(url) = auth::env_value(&lookup, CONFLUENT_BASE_URL_ENV) {
            builder = builder.base_url(url);
        }
        builder.build()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.transport().base_url
    }

    /// Operations scoped to one environment. The id is checked (non-empty, at most 255
    /// characters) by every operation before anything is sent.
    pub fn environment(&self, environment_id: impl Into<EnvironmentId>) -> Environment {
        Environment {
            client: self.clone(),
            environment_id: environment_id.into(),
        }
    }

    pub(crate) fn transport(&self) -> &Transport {
        progenitor_client::ClientInfo::inner(&self.shared.api)
    }

    pub(crate) fn api(&self) -> &generated::Client {
        &self.shared.api
    }

    pub(crate) fn cached_cloud(&self, env: &EnvironmentId, plugin: &PluginId) -> Option<Cloud> {
        let cache = self.shared.clouds.lock().ok()?;
        cache.get(&(env.clone(), plugin.clone())).cloned()
    }

    pub(crate) fn cache_cloud(&self, env: &EnvironmentId, plugin: &PluginId, cloud: Cloud) {
        if !cloud.is_known() {
            return;
        }
        if let Ok(mut cache) = self.shared.clouds.lock() {
            if cache.len() >= MAX_CACHED_CLOUDS {
                cache.clear();
            }
            cache.insert((env.clone(), plugin.clone()), cloud);
        }
    }
}

/// The OAuth settings from the environment: `None` when none of the required variables is set,
/// an error naming the missing ones when only some are.
fn oauth_from_env(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<OAuthConfig>> {
    let required = [
        CONFLUENT_OAUTH_TOKEN_URL_ENV,
        CONFLUENT_OAUTH_CLIENT_ID_ENV,
        CONFLUENT_OAUTH_CLIENT_SECRET_ENV,
        CONFLUENT_OAUTH_IDENTITY_POOL_ID_ENV,
    ]
    .map(|name| (name, auth::env_value(lookup, name)));
    let missing: Vec<&str> = required
        .iter()
        .filter(|(_, value)| value.is_none())
        .map(|(name, _)| *name)
        .collect();
    if missing.len() == required.len() {
        return Ok(None);
    }
    if !missing.is_empty() {
        return Err(Error::config(format!(
            "OAuth is partly configured: {} not set",
            match missing.as_slice() {
                [one] => format!("{one} is"),
                more => format!("{} are", more.join(", ")),
            }
        )));
    }
    let [url, client_id, client_secret, pool] =
        required.map(|(_, value)| value.unwrap_or_default());
    let mut config = OAuthConfig::new(url, client_id, client_secret, pool);
    if let Some(scope) = auth::env_value(lookup, CONFLUENT_OAUTH_SCOPE_ENV) {
        config = config.scope(scope);
    }
    Ok(Some(config))
}

/// Operations scoped to one Confluent Cloud environment.
#[derive(Debug, Clone)]
pub struct Environment {
    client: ConfluentClient,
    environment_id: EnvironmentId,
}

impl Environment {
    /// The environment's id.
    pub fn id(&self) -> &EnvironmentId {
        &self.environment_id
    }

    /// The client this handle uses.
    pub fn client(&self) -> &ConfluentClient {
        &self.client
    }

    /// The environment's plugins: list, create, get, update, delete (also with their versions),
    /// find by name.
    pub fn plugins(&self) -> Plugins {
        Plugins::new(self.clone())
    }

    /// The versions of one plugin: list, create, get, delete, upload, publish idempotently.
    pub fn plugin_versions(&self, plugin_id: impl Into<PluginId>) -> PluginVersions {
        PluginVersions::new(self.clone(), plugin_id.into())
    }

    /// Asks for a presigned URL to upload a plugin archive to (valid for about one hour).
    ///
    /// Upload the archive there, then create a version with the returned
    /// [`upload_id`](PresignedUpload::upload_id).
    pub async fn presigned_upload_url(
        &self,
        cloud: Cloud,
        content_format: ContentFormat,
    ) -> Result<Response<PresignedUpload>> {
        self.validate()?;
        cloud.validate("cloud")?;
        content_format.validate("content_format")?;
        let body = NewPresignedUpload {
            cloud,
            content_format,
            environment: EnvironmentRef::to(&self.environment_id),
        };
        let client = &self.client;
        client
            .transport()
            .call(|| client.api().create_ccpm_v1_presigned_url(&body))
            .await
    }

    pub(crate) fn validate(&self) -> Result<()> {
        self.environment_id.validate()
    }
}
