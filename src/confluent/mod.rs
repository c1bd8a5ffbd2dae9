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
//! // CONFLUENT_CLOUD_API_KEY + CONFLUENT_CLOUD_API_SECRET, or CONFLUENT_CLOUD_ACCESS_TOKEN
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

mod list;
mod model;
mod open_enum;
mod page;
mod plugins;
mod storage;
mod upload;
mod validate;
mod versions;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
pub use storage::{Archive, MAX_ARCHIVE_BYTES};
pub use upload::{
    DEFAULT_POLL_INTERVAL, DEFAULT_READY_TIMEOUT, DEFAULT_UPLOAD_TIMEOUT, UploadEvent,
    UploadVersion,
};
pub use versions::PluginVersions;

use crate::auth::{
    self, CONFLUENT_ACCESS_TOKEN_ENV, CONFLUENT_API_KEY_ENV, CONFLUENT_API_SECRET_ENV,
    CONFLUENT_BASE_URL_ENV, Credentials,
};
use crate::error::{Error, Result, Service};
use crate::response::Response;
use crate::transport::{Transport, TransportConfig, common_builder_methods};

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
        self.config.credentials = Some(Credentials::api_key(key, secret));
        self
    }

    /// Authenticates with an STS access token: `Authorization: Bearer <token>`.
    ///
    /// The API documents bearer tokens for the plugin operations only; versions and presigned
    /// URLs document API keys, so prefer [`api_key`](Self::api_key) for those.
    pub fn access_token(mut self, token: impl Into<auth::Secret>) -> Self {
        self.config.credentials = Some(Credentials::bearer(token));
        self
    }

    /// Sets the credentials (an API key or a bearer access token).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.config.credentials = Some(credentials);
        self
    }

    /// Validates the settings and builds the client. It never panics.
    pub fn build(self) -> Result<ConfluentClient> {
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
    /// timeout, the standard retry policy and no credentials.
    pub fn builder() -> ConfluentClientBuilder {
        ConfluentClientBuilder::default()
    }

    /// A client configured from the environment: `CONFLUENT_CLOUD_API_KEY` and
    /// `CONFLUENT_CLOUD_API_SECRET` (HTTP Basic), or else `CONFLUENT_CLOUD_ACCESS_TOKEN` (bearer);
    /// `CONFLUENT_BASE_URL` optionally overrides [`DEFAULT_BASE_URL`].
    pub fn from_env() -> Result<ConfluentClient> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`ConfluentClient::from_env`], reading variables through `lookup` (for tests).
    ///
    /// Setting only one of the API key and its secret is an error rather than a silent fallback
    /// to the access token.
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
            (None, None) => match auth::env_value(&lookup, CONFLUENT_ACCESS_TOKEN_ENV) {
                Some(token) => builder.access_token(token),
                None => {
                    return Err(Error::config(format!(
                        "set {CONFLUENT_API_KEY_ENV} and {CONFLUENT_API_SECRET_ENV}, \
                         or {CONFLUENT_ACCESS_TOKEN_ENV}"
                    )));
                }
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

    /// The environment's plugins: list, create, get, update, delete, find by name.
    pub fn plugins(&self) -> Plugins {
        Plugins::new(self.clone())
    }

    /// The versions of one plugin: list, create, get, delete.
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
