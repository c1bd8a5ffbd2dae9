//! Deleting a plugin together with its versions: the service refuses to delete a plugin that
//! still has any.

use std::time::Duration;

use super::plugins::Plugins;
use super::{PluginId, PluginVersionId};
use crate::error::Result;

/// How many times the versions are listed and deleted before the plugin's deletion is given up.
const MAX_ROUNDS: u32 = 5;
/// The pause before listing again after the plugin's deletion was refused; it grows by itself
/// each round.
const ROUND_PAUSE: Duration = Duration::from_millis(250);

/// What [`Plugins::delete_with_versions`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PluginDeletion {
    /// The plugin.
    pub plugin_id: PluginId,
    /// The versions this call deleted.
    pub deleted_versions: Vec<PluginVersionId>,
    /// Versions that were listed but gone when this call deleted them (deleted by someone else).
    pub vanished_versions: Vec<PluginVersionId>,
    /// Whether this call deleted the plugin; `false` when it was gone already.
    pub plugin_deleted: bool,
}

impl Plugins {
    /// Deletes every version of a plugin, then the plugin.
    ///
    /// Versions already gone (404) are counted as vanished, not as errors; a plugin already gone
    /// ends the call with [`plugin_deleted`](PluginDeletion::plugin_deleted) `false`. When the
    /// service still refuses the plugin's deletion (409: versions were added meanwhile), the
    /// versions are listed and deleted again, a few times at most. Any other failure stops the
    /// call; calling it again carries on where it stopped.
    ///
    /// ```no_run
    /// use cloud_plugin_sdk::confluent::ConfluentClient;
    ///
    /// # async fn run() -> cloud_plugin_sdk::Result<()> {
    /// let confluent = ConfluentClient::from_env()?;
    /// let report = confluent
    ///     .environment("env-123")
    ///     .plugins()
    ///     .delete_with_versions("ccp-4567")
    ///     .await?;
    /// println!(
    ///     "deleted {} version(s); plugin deleted: {}",
    ///     report.deleted_versions.len(),
    ///     report.plugin_deleted
    /// );
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete_with_versions(&self, id: impl Into<PluginId>) -> Result<PluginDeletion> {
        let id = id.into();
        self.env().validate()?;
        id.validate()?;
        let versions = self.env().plugin_versions(id.clone());
        let mut report = PluginDeletion {
            plugin_id: id.clone(),
            deleted_versions: Vec::new(),
            vanished_versions: Vec::new(),
            plugin_deleted: false,
        };
        let mut round = 1;
        loop {
            let listed = match versions.list().await {
                Ok(listed) => listed.into_inner(),
                Err(e) if e.is_not_found() => return Ok(report),
                Err(e) => return Err(e),
            };
            for version in listed {
                if versions.delete_if_exists(version.id.clone()).await? {
                    report.deleted_versions.push(version.id);
                } else {
                    report.vanished_versions.push(version.id);
                }
            }
            match self.delete(&id).await {
                Ok(_) => {
                    report.plugin_deleted = true;
                    return Ok(report);
                }
                Err(e) if e.is_not_found() => return Ok(report),
                Err(e) if e.is_conflict() && round < MAX_ROUNDS => {
                    tokio::time::sleep(ROUND_PAUSE * round).await;
                    round += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}
