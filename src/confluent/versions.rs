//! The versions of one plugin.

use super::{Cloud, Environment, NewPluginVersion, PluginId, PluginVersion, PluginVersionId};
use crate::error::{Result, not_found_as_none};
use crate::response::Response;

/// The versions of one plugin. Versions cannot be changed once created: to change an archive or
/// its settings, create a new version.
#[derive(Debug, Clone)]
pub struct PluginVersions {
    env: Environment,
    plugin_id: PluginId,
}

impl PluginVersions {
    pub(crate) fn new(env: Environment, plugin_id: PluginId) -> Self {
        PluginVersions { env, plugin_id }
    }

    /// The plugin the versions belong to.
    pub fn plugin_id(&self) -> &PluginId {
        &self.plugin_id
    }

    pub(crate) fn env(&self) -> &Environment {
        &self.env
    }

    /// The plugin's cloud, read once per client (a plugin's cloud never changes).
    pub(crate) async fn plugin_cloud(&self) -> Result<Cloud> {
        let client = self.env.client();
        if let Some(cloud) = client.cached_cloud(self.env.id(), &self.plugin_id) {
            return Ok(cloud);
        }
        let plugin = self.env.plugins().get(&self.plugin_id).await?;
        let cloud = plugin.into_inner().spec.cloud;
        client.cache_cloud(self.env.id(), &self.plugin_id, cloud.clone());
        Ok(cloud)
    }

    pub(crate) fn validate(&self) -> Result<()> {
        self.env.validate()?;
        self.plugin_id.validate()
    }

    /// Lists every version of the plugin (the API returns them in one response).
    pub async fn list(&self) -> Result<Response<Vec<PluginVersion>>> {
        self.validate()?;
        let client = self.env.client();
        let page = client
            .transport()
            .call(|| {
                client
                    .api()
                    .list_ccpm_v1_custom_connect_plugin_versions(&self.plugin_id, self.env.id())
            })
            .await?;
        Ok(page.map(|page| page.data))
    }

    /// Creates a version from an archive already uploaded through a presigned URL. The server
    /// answers 202 Accepted and processes the archive asynchronously: the returned version is
    /// usually in [`Phase::Processing`](super::Phase::Processing); [`get`](Self::get) it until the
    /// phase is terminal.
    pub async fn create(&self, version: &NewPluginVersion) -> Result<Response<PluginVersion>> {
        self.validate()?;
        version.validate()?;
        let body = version.in_environment(self.env.id());
        let client = self.env.client();
        client
            .transport()
            .call(|| {
                client
                    .api()
                    .create_ccpm_v1_custom_connect_plugin_version(&self.plugin_id, &body)
            })
            .await
    }

    /// Gets a version.
    pub async fn get(&self, id: impl Into<PluginVersionId>) -> Result<Response<PluginVersion>> {
        let id = id.into();
        self.validate()?;
        id.validate()?;
        let client = self.env.client();
        client
            .transport()
            .call(|| {
                client.api().get_ccpm_v1_custom_connect_plugin_version(
                    &self.plugin_id,
                    &id,
                    self.env.id(),
                )
            })
            .await
    }

    /// Gets a version, with `None` for a 404.
    pub async fn get_opt(
        &self,
        id: impl Into<PluginVersionId>,
    ) -> Result<Option<Response<PluginVersion>>> {
        not_found_as_none(self.get(id).await)
    }

    /// Deletes a version.
    pub async fn delete(&self, id: impl Into<PluginVersionId>) -> Result<Response<()>> {
        let id = id.into();
        self.validate()?;
        id.validate()?;
        let client = self.env.client();
        client
            .transport()
            .call(|| {
                client.api().delete_ccpm_v1_custom_connect_plugin_version(
                    &self.plugin_id,
                    &id,
                    self.env.id(),
                )
            })
            .await
    }

    /// Deletes a version, treating one that is already gone (404) as done. Returns `true` when
    /// this call deleted it, `false` when it did not exist.
    pub async fn delete_if_exists(&self, id: impl Into<PluginVersionId>) -> Result<bool> {
        Ok(not_found_as_none(self.delete(id).await)?.is_some())
    }
}
