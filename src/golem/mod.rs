//! Client for the Golem Cloud plugin API: plugin registrations, plugin grants to environments
//! and per-agent plugin activation.
//!
//! ```no_run
//! use cloud_plugin_sdk::golem::{AccountId, ComponentId, EnvironmentId, GolemClient, NewPlugin};
//!
//! # async fn run() -> cloud_plugin_sdk::Result<()> {
//! let golem = GolemClient::from_env()?; // GOLEM_TOKEN, optional GOLEM_BASE_URL
//! let account: AccountId = "3d07c219-0a88-45be-9cfc-91e9d095a1e9".parse()?;
//! let component: ComponentId = "616ccd92-d666-4180-8349-8d125b269fac".parse()?;
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
//!
//! // A grant makes the plugin usable in an environment; agent types install it by grant id.
//! let environment: EnvironmentId = "8f14e45f-ceea-467f-a0e6-7a1c2b3d4e5f".parse()?;
//! let grants = golem.environment(environment).plugin_grants();
//! let (grant, granted_now) = grants.ensure_grant(plugin.id).await?;
//! println!("grant {} (made by this call: {granted_now})", grant.id);
//! grants.revoke_if_exists(grant.id).await?;
//!
//! if let Some(p) = golem.plugins().get_opt(plugin.id).await? {
//!     golem.plugins().delete(p.id).await?;
//! }
//! # Ok(())
//! # }
//! ```

mod agents;
mod grants;
mod model;
mod plugins;
mod spec;

use std::sync::Arc;

pub use agents::Agent;
pub use generated::types::{
    AccountId, AccountSummary, ComponentId, EnvironmentId, Icon, NewPlugin, OplogProcessor, Plugin,
    PluginGrant, PluginGrantDetails, PluginGrantId, PluginId, PluginPage,
};
pub use grants::{Environment, GrantedPlugin, PluginGrants};
pub use model::{MAX_COMPONENT_REVISION, MAX_NAME_CHARS, MAX_TEXT_CHARS};
pub use plugins::{Account, AccountPlugins, Plugins};
pub use spec::PluginSpec;

use crate::auth::{self, Credentials, GOLEM_BASE_URL_ENV, GOLEM_TOKEN_ENV};
use crate::error::{Error, Result, Service};
use crate::transport::{AuthConfig, Transport, TransportConfig, common_builder_methods};

crate::transport::generated_client!("golem_plugins.rs");

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
        self.config.auth = AuthConfig::Credentials(Credentials::bearer(token));
        self
    }

    /// Sets the credentials (Golem accepts bearer tokens only).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.config.auth = AuthConfig::Credentials(credentials);
        self
    }

    /// Builds a client that sends no credentials, for a server that needs none (a local
    /// Golem, or a proxy that adds them). Without this or credentials, `build` fails.
    pub fn unauthenticated(mut self) -> Self {
        self.config.auth = AuthConfig::Unauthenticated;
        self
    }

    /// Validates the settings and builds the client. It never panics.
    ///
    /// It fails with [`ErrorKind::Config`](crate::ErrorKind::Config) when no credentials were
    /// given ([`token`](Self::token), [`credentials`](Self::credentials)) and
    /// [`unauthenticated`](Self::unauthenticated) was not called.
    pub fn build(self) -> Result<GolemClient> {
        match &self.config.auth {
            AuthConfig::Credentials(Credentials::ApiKey { .. }) => {
                return Err(Error::invalid(
                    "credentials",
                    "Golem accepts bearer tokens only",
                ));
            }
            AuthConfig::Missing => {
                return Err(Error::config(format!(
                    "the Golem client has no credentials: call `token(..)` on the builder, \
                     or set {GOLEM_TOKEN_ENV} and use `GolemClient::from_env()`; \
                     call `unauthenticated()` for a client that sends none"
                )));
            }
            _ => {}
        }
        let api = connect(self.config, Service::Golem, DEFAULT_BASE_URL)?;
        Ok(GolemClient { api: Arc::new(api) })
    }
}

impl GolemClient {
    /// A builder with the defaults: [`DEFAULT_BASE_URL`], 30 s request timeout, 10 s connect
    /// timeout and the standard retry policy. Give it credentials (or call
    /// [`unauthenticated`](GolemClientBuilder::unauthenticated)) before building.
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
        Account::new(self.clone(), account_id.into())
    }

    /// Operations on plugins by id.
    pub fn plugins(&self) -> Plugins {
        Plugins::new(self.clone())
    }

    /// Operations scoped to one environment: its plugin grants.
    pub fn environment(&self, environment_id: impl Into<EnvironmentId>) -> Environment {
        Environment::new(self.clone(), environment_id.into())
    }

    /// One agent of a component, addressed by its name: switching its installed plugins on and
    /// off. The name is checked when a call is made.
    pub fn agent(
        &self,
        component_id: impl Into<ComponentId>,
        agent_name: impl Into<String>,
    ) -> Agent {
        Agent::new(self.clone(), component_id.into(), agent_name.into())
    }

    fn transport(&self) -> &Transport {
        progenitor_client::ClientInfo::inner(&*self.api)
    }
}
