//! The plugins of an environment.

use futures::TryStreamExt as _;

use super::list::ListPlugins;
use super::{Environment, NewPlugin, Plugin, PluginId, PluginUpdate, validate};
use crate::error::{Error, Result, not_found_as_none};
use crate::response::Response;

/// The page size [`Plugins::find_by_name`] asks for (the API's largest).
const FIND_PAGE_SIZE: u32 = validate::MAX_PAGE_SIZE;

/// The plugins of one environment.
#[derive(Debug, Clone)]
pub struct Plugins {
    env: Environment,
}

impl Plugins {
    pub(crate) fn new(env: Environment) -> Self {
        Plugins { env }
    }

    pub(crate) fn env(&self) -> &Environment {
        &self.env
    }

    /// Lists plugins: call [`ListPlugins::send`] for one page, or [`ListPlugins::stream`],
    /// [`ListPlugins::pages`] or [`ListPlugins::all`] to follow every page.
    pub fn list(&self) -> ListPlugins {
        ListPlugins::new(self.env.clone())
    }

    /// Creates a plugin (the server answers 202 Accepted). It holds no archive yet: upload one
    /// and create a version.
    pub async fn create(&self, plugin: &NewPlugin) -> Result<Response<Plugin>> {
        self.env.validate()?;
        plugin.validate()?;
        let body = plugin.in_environment(self.env.id());
        let client = self.env.client();
        client
            .transport()
            .call(|| client.api().create_ccpm_v1_custom_connect_plugin(&body))
            .await
    }

    /// Gets a plugin.
    pub async fn get(&self, id: impl Into<PluginId>) -> Result<Response<Plugin>> {
        let id = id.into();
        self.env.validate()?;
        id.validate()?;
        let client = self.env.client();
        client
            .transport()
            .call(|| {
                client
                    .api()
                    .get_ccpm_v1_custom_connect_plugin(&id, self.env.id())
            })
            .await
    }

    /// Gets a plugin, with `None` for a 404.
    pub async fn get_opt(&self, id: impl Into<PluginId>) -> Result<Option<Response<Plugin>>> {
        not_found_as_none(self.get(id).await)
    }

    /// Changes a plugin's display name or description and returns the updated plugin.
    pub async fn update(
        &self,
        id: impl Into<PluginId>,
        update: &PluginUpdate,
    ) -> Result<Response<Plugin>> {
        let id = id.into();
        self.env.validate()?;
        id.validate()?;
        update.validate()?;
        let body = update.in_environment(self.env.id());
        let client = self.env.client();
        client
            .transport()
            .call(|| {
                client
                    .api()
                    .update_ccpm_v1_custom_connect_plugin(&id, &body)
            })
            .await
    }

    /// Deletes a plugin (the server refuses while the plugin still has versions).
    pub async fn delete(&self, id: impl Into<PluginId>) -> Result<Response<()>> {
        let id = id.into();
        self.env.validate()?;
        id.validate()?;
        let client = self.env.client();
        client
            .transport()
            .call(|| {
                client
                    .api()
                    .delete_ccpm_v1_custom_connect_plugin(&id, self.env.id())
            })
            .await
    }

    /// Deletes a plugin, treating one that is already gone (404) as done. Returns `true` when
    /// this call deleted it, `false` when it did not exist.
    pub async fn delete_if_exists(&self, id: impl Into<PluginId>) -> Result<bool> {
        Ok(not_found_as_none(self.delete(id).await)?.is_some())
    }

    /// Finds the first plugin whose display name is exactly `display_name`, reading pages until
    /// it is found or the list ends.
    pub async fn find_by_name(&self, display_name: &str) -> Result<Option<Plugin>> {
        if display_name.is_empty() {
            return Err(Error::invalid("display_name", "must not be empty"));
        }
        let mut plugins = self.list().page_size(FIND_PAGE_SIZE).stream();
        while let Some(plugin) = plugins.try_next().await? {
            if plugin.spec.display_name == display_name {
                return Ok(Some(plugin));
            }
        }
        Ok(None)
    }
}
