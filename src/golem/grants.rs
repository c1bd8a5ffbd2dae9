//! Plugin grants: what makes a registered plugin usable in an environment (list, grant, get,
//! revoke), and the workflows built on them.

use super::generated::types::NewPluginGrant;
use super::{
    AccountPlugins, EnvironmentId, GolemClient, NewPlugin, Plugin, PluginGrant, PluginGrantDetails,
    PluginGrantId, PluginId,
};
use crate::error::{Result, not_found_as_none};
use crate::response::Response;

/// Operations scoped to one Golem environment.
#[derive(Debug, Clone)]
pub struct Environment {
    client: GolemClient,
    environment_id: EnvironmentId,
}

impl Environment {
    pub(super) fn new(client: GolemClient, environment_id: EnvironmentId) -> Self {
        Environment {
            client,
            environment_id,
        }
    }

    /// The environment's id.
    pub fn id(&self) -> EnvironmentId {
        self.environment_id
    }

    /// The environment's plugin grants.
    pub fn plugin_grants(&self) -> PluginGrants {
        PluginGrants {
            client: self.client.clone(),
            environment_id: self.environment_id,
        }
    }
}

/// The plugin grants of one environment: list, grant, get, revoke, and
/// [`ensure_grant`](PluginGrants::ensure_grant).
///
/// A grant makes a registered plugin usable in the environment: agent types install plugins by
/// grant id. An environment holds at most one grant per plugin. Grant ids are global: [`get`]
/// and [`revoke`] address a grant by its id alone, as the API does, whichever environment it
/// belongs to.
///
/// [`get`]: PluginGrants::get
/// [`revoke`]: PluginGrants::revoke
#[derive(Debug, Clone)]
pub struct PluginGrants {
    client: GolemClient,
    environment_id: EnvironmentId,
}

impl PluginGrants {
    /// The environment's id.
    pub fn environment_id(&self) -> EnvironmentId {
        self.environment_id
    }

    /// Lists the environment's grants, each with its plugin and the account that owns the plugin
    /// (the API has no paging). Grants of deleted plugins are not listed.
    pub async fn list(&self) -> Result<Response<Vec<PluginGrantDetails>>> {
        let page = self
            .client
            .transport()
            .call(|| {
                self.client
                    .api
                    .list_environment_environment_plugin_grants(&self.environment_id)
            })
            .await?;
        Ok(page.map(|page| page.values))
    }

    /// Grants a plugin to the environment. Fails with
    /// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) (code
    /// `ENVIRONMENT_PLUGIN_GRANT_ALREADY_EXISTS`) when the environment already has a grant for
    /// it, and with [`ErrorKind::BadRequest`](crate::ErrorKind::BadRequest) (code
    /// `REFERENCED_PLUGIN_NOT_FOUND`) when the plugin does not exist, is deleted, or the caller
    /// may not grant it.
    pub async fn grant(&self, plugin_id: PluginId) -> Result<Response<PluginGrant>> {
        let body = NewPluginGrant::new(plugin_id);
        self.client
            .transport()
            .call(|| {
                self.client
                    .api
                    .create_environment_plugin_grant(&self.environment_id, &body)
            })
            .await
    }

    /// Gets a grant. A revoked grant, a grant of a deleted plugin and a grant the caller may not
    /// view are reported as not found.
    pub async fn get(&self, grant_id: PluginGrantId) -> Result<Response<PluginGrantDetails>> {
        self.client
            .transport()
            .call(|| self.client.api.get_environment_plugin_grant(&grant_id))
            .await
    }

    /// Gets a grant, with `None` for a 404.
    pub async fn get_opt(
        &self,
        grant_id: PluginGrantId,
    ) -> Result<Option<Response<PluginGrantDetails>>> {
        not_found_as_none(self.get(grant_id).await)
    }

    /// Revokes a grant (the server answers 204 with no body). The grants every environment
    /// receives for built-in plugins cannot be revoked: that fails with
    /// [`ErrorKind::Forbidden`](crate::ErrorKind::Forbidden).
    pub async fn revoke(&self, grant_id: PluginGrantId) -> Result<Response<()>> {
        self.client
            .transport()
            .call(|| self.client.api.delete_environment_plugin_grant(&grant_id))
            .await
    }

    /// Revokes a grant, treating one that is already gone (404) as done. Returns `true` when
    /// this call revoked it, `false` when it did not exist.
    pub async fn revoke_if_exists(&self, grant_id: PluginGrantId) -> Result<bool> {
        Ok(not_found_as_none(self.revoke(grant_id).await)?.is_some())
    }

    /// Finds the environment's grant for this plugin, if it has one.
    pub async fn find(&self, plugin_id: PluginId) -> Result<Option<PluginGrantDetails>> {
        let grants = self.list().await?.into_inner();
        Ok(grants.into_iter().find(|g| g.plugin.id == plugin_id))
    }

    /// Returns the environment's grant for this plugin, granting it first if the environment has
    /// none. The boolean is `true` when this call made the grant.
    ///
    /// When another writer grants the plugin between the look-up and the grant (the server
    /// answers 409), the grant it made is looked up and returned.
    pub async fn ensure_grant(&self, plugin_id: PluginId) -> Result<(PluginGrant, bool)> {
        if let Some(existing) = self.find(plugin_id).await? {
            return Ok((existing.into(), false));
        }
        match self.grant(plugin_id).await {
            Ok(granted) => Ok((granted.into_inner(), true)),
            Err(err) if err.is_conflict() => self
                .find(plugin_id)
                .await?
                .map(|g| (g.into(), false))
                .ok_or(err),
            Err(err) => Err(err),
        }
    }
}

/// What [`AccountPlugins::ensure_granted`] found or made: the plugin, its grant, and which of
/// the two this call created.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GrantedPlugin {
    /// The plugin registration.
    pub plugin: Plugin,
    /// `true` when this call registered the plugin.
    pub registered: bool,
    /// The plugin's grant to the environment.
    pub grant: PluginGrant,
    /// `true` when this call made the grant.
    pub granted: bool,
}

impl AccountPlugins {
    /// Makes a plugin usable in an environment, idempotently: registers it in this account unless
    /// the account has a plugin with the same name and version
    /// ([`ensure`](AccountPlugins::ensure)), then grants it to the environment unless the
    /// environment has a grant for it ([`PluginGrants::ensure_grant`]).
    ///
    /// Running it again with the same arguments changes nothing and returns the same plugin and
    /// grant. An existing plugin is used as it is, even where its other fields differ from
    /// `plugin`'s. If the grant fails, the plugin stays registered (a later run finds it).
    pub async fn ensure_granted(
        &self,
        plugin: &NewPlugin,
        environment_id: impl Into<EnvironmentId>,
    ) -> Result<GrantedPlugin> {
        let (plugin, registered) = self.ensure(plugin).await?;
        let (grant, granted) = self
            .client()
            .environment(environment_id)
            .plugin_grants()
            .ensure_grant(plugin.id)
            .await?;
        Ok(GrantedPlugin {
            plugin,
            registered,
            grant,
            granted,
        })
    }
}
