//! Publishing a version idempotently: the upload, unless the version is there already.

use super::upload::{DEFAULT_READY_TIMEOUT, UploadEvent, UploadVersion};
use super::{Phase, PluginVersion, PluginVersionId};
use crate::error::{Error, Result, UploadStage};

/// How often [`UploadVersion::ensure`] looks again after another publisher created the same
/// version between its look and its upload.
const MAX_ROUNDS: u32 = 3;

/// What [`UploadVersion::ensure`] did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PublishedVersion {
    /// The version with the requested version string: READY, or as created when the upload
    /// was told not to wait.
    pub version: PluginVersion,
    /// Whether the archive was uploaded; `false` when the version was already READY.
    pub uploaded: bool,
    /// A FAILED version with the same version string that was deleted before the upload.
    pub replaced: Option<PluginVersionId>,
}

/// What was found under the requested version string.
enum Found {
    /// Nothing: upload.
    Nothing,
    /// A READY version: done.
    Ready(Box<PluginVersion>),
    /// A FAILED version: delete it, then upload.
    Failed(PluginVersionId),
}

impl UploadVersion {
    /// Publishes the version unless it exists already: the call a pipeline can repeat.
    ///
    /// The plugin's versions are listed first. A READY version with the same version string is
    /// returned without uploading anything. A FAILED one is deleted, then the archive uploaded
    /// as [`send`](Self::send) does. One still PROCESSING is waited for (up to the
    /// [`wait_until_ready`](Self::wait_until_ready) timeout), then treated by the same rules.
    /// When another publisher creates the version between the look and the upload (a 409), the
    /// look is repeated, a few times at most.
    ///
    /// ```no_run
    /// use cloud_plugin_sdk::confluent::{Archive, ConfluentClient, ConnectorType};
    ///
    /// # async fn run() -> cloud_plugin_sdk::Result<()> {
    /// let confluent = ConfluentClient::from_env()?;
    /// let published = confluent
    ///     .environment("env-123")
    ///     .plugin_versions("ccp-4567")
    ///     .upload("1.0.0", Archive::from_path("target/my-connector.zip").await?)
    ///     .connector_class("com.example.MySinkConnector", ConnectorType::Sink)
    ///     .ensure()
    ///     .await?;
    /// if published.uploaded {
    ///     println!("published {}", published.version.id);
    /// } else {
    ///     println!("{} was already READY", published.version.id);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn ensure(self) -> Result<PublishedVersion> {
        self.check()?;
        let mut replaced = None;
        let mut round = 1;
        loop {
            match self.find().await? {
                Found::Ready(version) => {
                    return Ok(PublishedVersion {
                        version: *version,
                        uploaded: false,
                        replaced,
                    });
                }
                Found::Failed(id) => {
                    self.versions
                        .delete_if_exists(id.clone())
                        .await
                        .map_err(|e| self.failure(UploadStage::DeletingFailedVersion, e))?;
                    self.emit(UploadEvent::FailedVersionDeleted { id: id.clone() });
                    replaced = Some(id);
                }
                Found::Nothing => {}
            }
            match self.run().await {
                Ok(version) => {
                    return Ok(PublishedVersion {
                        version: version.into_inner(),
                        uploaded: true,
                        replaced,
                    });
                }
                Err(err)
                    if round < MAX_ROUNDS
                        && err.upload_stage() == Some(UploadStage::CreatingVersion)
                        && err.is_conflict() =>
                {
                    round += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Looks for a version with the requested version string, waiting for one still processing.
    async fn find(&self) -> Result<Found> {
        let wanted = &self.request.spec.version;
        let listed = self
            .versions
            .list()
            .await
            .map_err(|e| self.failure(UploadStage::FindingVersion, e))?
            .into_inner();
        let mut same: Vec<PluginVersion> = listed
            .into_iter()
            .filter(|v| &v.spec.version == wanted)
            .collect();
        // Should there be several, a READY one wins.
        same.sort_by_key(|v| v.status.phase != Phase::Ready);
        let Some(existing) = same.into_iter().next() else {
            return Ok(Found::Nothing);
        };
        self.emit(UploadEvent::ExistingVersion {
            id: existing.id.clone(),
            phase: existing.status.phase.clone(),
        });
        match existing.status.phase {
            Phase::Ready => return Ok(Found::Ready(Box::new(existing))),
            Phase::Failed => return Ok(Found::Failed(existing.id)),
            _ => {}
        }
        let current = match self.versions.get_opt(existing.id.clone()).await {
            Ok(Some(current)) => current,
            // Deleted meanwhile: publish it.
            Ok(None) => return Ok(Found::Nothing),
            Err(e) => return Err(self.failure(UploadStage::WaitingForReady, e)),
        };
        let timeout = self.wait.unwrap_or(DEFAULT_READY_TIMEOUT);
        match self
            .versions
            .poll_until_ready(&current, timeout, self.poll_interval, &|phase| {
                self.emit(UploadEvent::PhaseChanged { phase })
            })
            .await
        {
            Ok(ready) => Ok(Found::Ready(Box::new(ready.into_inner()))),
            Err(Error::Wait {
                timed_out: false, ..
            }) => Ok(Found::Failed(existing.id)),
            Err(e) if e.is_not_found() => Ok(Found::Nothing),
            Err(e) => Err(self.failure(UploadStage::WaitingForReady, e)),
        }
    }

    fn failure(&self, stage: UploadStage, source: Error) -> Error {
        Error::Upload {
            version: self.request.spec.version.clone(),
            stage,
            created_version_id: None,
            cleanup: None,
            source: Box::new(source),
        }
    }
}
