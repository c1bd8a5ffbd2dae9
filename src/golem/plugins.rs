//! Plugin registrations: per account (list, register, find) and by id (get, delete).

use super::{AccountId, GolemClient, NewPlugin, Plugin, PluginId};
use crate::error::{Result, not_found_as_none};
use crate::response::Response;

/// Operations scoped to one Golem account.
#[derive(Debug, Clone)]
pub struct Account {
    client: GolemClient,
    account_id: AccountId,
}

impl Account {
    pub(super) fn new(client: GolemClient, account_id: AccountId) -> Self {
        Account { client, account_id }
    }

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
    pub(super) fn client(&self) -> &GolemClient {
        &self.client
    }

    /// Lists every plugin of the account the caller may view (the API has no paging).
    pub async fn list(&self) -> Result<Response<Vec<Plugin>>> {
        let page = self
            .client
            .transport()
            .call(|| self.client.api.list_account_plugins(&self.account_id))
            .await?;
        Ok(page.map(|page| page.values))
    }

    /// Registers a plugin. Fails with [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) when
    /// the account already has a plugin with the same name and version.
    pub async fn create(&self, plugin: &NewPlugin) -> Result<Response<Plugin>> {
        plugin.validate()?;
        self.client
            .transport()
            .call(|| self.client.api.create_plugin(&self.account_id, plugin))
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
    pub(super) fn new(client: GolemClient) -> Self {
        Plugins { client }
    }

    /// Gets a plugin. A plugin the caller may not view is reported as not found.
    pub async fn get(&self, id: PluginId) -> Result<Response<Plugin>> {
        self.client
            .transport()
            .call(|| self.client.api.get_plugin_by_id(&id))
            .await
    }

    /// Gets a plugin, with `None` for a 404.
    pub async fn get_opt(&self, id: PluginId) -> Result<Option<Response<Plugin>>> {
        not_found_as_none(self.get(id).await)
    }

    /// Deletes a plugin and returns the deleted record.
    pub async fn delete(&self, id: PluginId) -> Result<Response<Plugin>> {
        self.client
            .transport()
            .call(|| self.client.api.delete_plugin(&id))
            .await
    }

    /// Deletes a plugin, treating one that is already gone (404) as done. Returns `true` when
    /// this call deleted it, `false` when it did not exist.
    pub async fn delete_if_exists(&self, id: PluginId) -> Result<bool> {
        Ok(not_found_as_none(self.delete(id).await)?.is_some())
    }
}
