//! Client for the Golem Cloud plugin registry API.
//!
//! ```no_run
//! use cloud_plugin_sdk::golem::{AccountId, GolemClient, NewPlugin};
//!
//! # async fn run() -> cloud_plugin_sdk::Result<()> {
//! let golem = GolemClient::from_env()?; // GOLEM_TOKEN, optional GOLEM_BASE_URL
//! let account: AccountId = "3d07c219-0a88-45be-9cfc-91e9d095a1e9".parse()?;
//! let component = uuid::Uuid::parse_str("616ccd92-d666-4180-8349-8d125b269fac").unwrap();
//!
//! let plugin = golem
//!     .account(account)
//!     .plugins()
//!     .create(&NewPlugin::oplog_processor("audit-log", "1.0.0", component, 3).icon(b"\x89PNG"))
//!     .await?;
//! println!("registered {} ({})", plugin.name, plugin.id);
//!
//! for p in golem.account(account).plugins().list().await?.iter() {
//!     println!("{} {}", p.name, p.version);
//! }
//! if let Some(p) = golem.plugins().get_opt(plugin.id).await? {
//!     golem.plugins().delete(p.id).await?;
//! }
//! # Ok(())
//! # }
//! ```

mod model;

use std::sync::Arc;

pub use model::{
    AccountId, ComponentId, Icon, MAX_COMPONENT_REVISION, NewPlugin, OplogProcessor, Plugin,
    PluginId, PluginPage, PluginSpec,
};

use crate::auth::{self, Credentials, GOLEM_BASE_URL_ENV, GOLEM_TOKEN_ENV};
use crate::error::{Error, Result, Service, not_found_as_none};
use crate::response::Response;
use crate::transport::{Transport, TransportConfig, common_builder_methods};

crate::transport::generated_client!("golem_plugins.rs");
use generated::operations;

/// The public Golem Cloud API.
pub const DEFAULT_BASE_URL: &str = "https://release.api.golem.cloud";

/// A client of the Golem Cloud plugin registry. Cheap to clone; clones share connections,
/// credentials and rate-limit state.
#[derive(Clone)]
pub struct GolemClient {
    api: Arc<generated::Client>,
}

impl std::fmt::Debug for GolemClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GolemClient")
            .field("transport", self.transport())
            .finish()
    }
}

/// Builds a [`GolemClient`].
#[derive(Debug, Default, Clone)]
#[must_use]
pub struct GolemClientBuilder {
    config: TransportConfig,
}

impl GolemClientBuilder {
    common_builder_methods!();

    /// Sets the token secret, sent as `Authorization: Bearer <token>`.
    pub fn token(mut self, token: impl Into<auth::Secret>) -> Self {
        self.config.credentials = Some(Credentials::bearer(token));
        self
    }

    /// Sets the credentials (Golem accepts bearer tokens only).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.config.credentials = Some(credentials);
        self
    }

    /// Validates the settings and builds the client. It never panics.
    pub fn build(self) -> Result<GolemClient> {
        if matches!(self.config.credentials, Some(Credentials::ApiKey { .. })) {
            return Err(Error::invalid(
                "credentials",
                "Golem accepts bearer tokens only",
            ));
        }
        let api = connect(self.config, Service::Golem, DEFAULT_BASE_URL)?;
        Ok(GolemClient { api: Arc::new(api) })
    }
}

impl GolemClient {
    /// A builder with the defaults: [`DEFAULT_BASE_URL`], 30 s request timeout, 10 s connect
    /// timeout, the standard retry policy and no credentials.
    pub fn builder() -> GolemClientBuilder {
        GolemClientBuilder::default()
    }

    /// A client configured from `GOLEM_TOKEN` (required) and `GOLEM_BASE_URL` (optional).
    pub fn from_env() -> Result<GolemClient> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`GolemClient::from_env`], reading variables through `lookup` (for tests).
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Result<GolemClient> {
        let token = auth::env_value(&lookup, GOLEM_TOKEN_ENV)
            .ok_or_else(|| Error::config(format!("{GOLEM_TOKEN_ENV} is not set")))?;
        let mut builder = Self::builder().token(token);
        if let Some(url) = auth::env_value(&lookup, GOLEM_BASE_URL_ENV) {
            builder = builder.base_url(url);
        }
        builder.build()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.transport().base_url
    }

    /// Operations scoped to one account.
    pub fn account(&self, account_id: impl Into<AccountId>) -> Account {
        Account {
            client: self.clone(),
            account_id: account_id.into(),
        }
    }

    /// Operations on plugins by id.
    pub fn plugins(&self) -> Plugins {
        Plugins {
            client: self.clone(),
        }
    }

    fn transport(&self) -> &Transport {
        progenitor_client::ClientInfo::inner(&*self.api)
    }
}

/// Operations scoped to one Golem account.
#[derive(Debug, Clone)]
pub struct Account {
    client: GolemClient,
    account_id: AccountId,
}

impl Account {
    /// The account's id.
    pub fn id(&self) -> AccountId {
        self.account_id
    }

    /// The account's plugins.
    pub fn plugins(&self) -> AccountPlugins {
        AccountPlugins {
            client: self.client.clone(),
            account_id: self.account_id,
        }
    }
}

/// The plugins of one account: list, register, find by name and version.
#[derive(Debug, Clone)]
pub struct AccountPlugins {
    client: GolemClient,
    account_id: AccountId,
}

impl AccountPlugins {
    /// Lists every plugin of the account the caller may view (the API has no paging).
    pub async fn list(&self) -> Result<Response<Vec<Plugin>>> {
        let api = &self.client.api;
        let page = self
            .client
            .transport()
            .call(&operations::LIST_ACCOUNT_PLUGINS, || {
                api.list_account_plugins(&self.account_id.0)
            })
            .await?;
        Ok(page.map(|p| p.values))
    }

    /// Registers a plugin. Fails with [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) when
    /// the account already has a plugin with the same name and version.
    pub async fn create(&self, plugin: &NewPlugin) -> Result<Response<Plugin>> {
        plugin.validate()?;
        let api = &self.client.api;
        self.client
            .transport()
            .call(&operations::CREATE_PLUGIN, || {
                api.create_plugin(&self.account_id.0, plugin)
            })
            .await
    }

    /// Finds the plugin with this name and version, if the account has one.
    pub async fn find(&self, name: &str, version: &str) -> Result<Option<Plugin>> {
        let plugins = self.list().await?.into_inner();
        Ok(plugins
            .into_iter()
            .find(|p| p.name == name && p.version == version))
    }

    /// Returns the plugin with the same name and version, registering it first if the account
    /// has none. The boolean is `true` when this call registered it.
    pub async fn ensure(&self, plugin: &NewPlugin) -> Result<(Plugin, bool)> {
        plugin.validate()?;
        if let Some(existing) = self.find(&plugin.name, &plugin.version).await? {
            return Ok((existing, false));
        }
        match self.create(plugin).await {
            Ok(created) => Ok((created.into_inner(), true)),
            // Another writer registered it between the list and the create.
            Err(err) if err.is_conflict() => self
                .find(&plugin.name, &plugin.version)
                .await?
                .map(|p| (p, false))
                .ok_or(err),
            Err(err) => Err(err),
        }
    }
}

/// Plugins addressed by id: get, delete.
#[derive(Debug, Clone)]
pub struct Plugins {
    client: GolemClient,
}

impl Plugins {
    /// Gets a plugin. A plugin the caller may not view is reported as not found.
    pub async fn get(&self, id: PluginId) -> Result<Response<Plugin>> {
        let api = &self.client.api;
        self.client
            .transport()
            .call(&operations::GET_PLUGIN_BY_ID, || {
                api.get_plugin_by_id(&id.0)
            })
            .await
    }

    /// Gets a plugin, with `None` for a 404.
    pub async fn get_opt(&self, id: PluginId) -> Result<Option<Response<Plugin>>> {
        not_found_as_none(self.get(id).await)
    }

    /// Deletes a plugin and returns the deleted record.
    pub async fn delete(&self, id: PluginId) -> Result<Response<Plugin>> {
        let api = &self.client.api;
        self.client
            .transport()
            .call(&operations::DELETE_PLUGIN, || api.delete_plugin(&id.0))
            .await
    }

    /// Deletes a plugin, treating one that is already gone (404) as done: `None`.
    pub async fn delete_if_exists(&self, id: PluginId) -> Result<Option<Response<Plugin>>> {
        not_found_as_none(self.delete(id).await)
    }
}
