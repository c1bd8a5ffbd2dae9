//! One call to ship a connector archive: presigned URL, upload to the cloud's storage, new
//! version, and (optionally) a wait until the version is READY.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::storage::{self, Archive, UploadTarget};
use super::versions::PluginVersions;
use super::{
    Cloud, ConnectorClass, ConnectorType, NewPluginVersion, Phase, PluginVersion, PluginVersionId,
};
use crate::error::{Cleanup, Error, Result, UploadStage};
use crate::response::Response;

/// Default time allowed for the archive upload itself (large archives on slow links).
pub const DEFAULT_UPLOAD_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// Default time allowed for a version to leave PROCESSING.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Default first interval between two polls of the version's phase.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Polling slows down by half per poll up to this interval.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(15);
/// A placeholder that passes validation of the version request before the real id exists.
const PENDING_UPLOAD_ID: &str = "pending";

/// Progress of an upload, in the order it happens.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum UploadEvent {
    /// The cloud the plugin stores its archives in is known.
    CloudResolved {
        /// The plugin's cloud.
        cloud: Cloud,
    },
    /// A presigned URL was issued (again, after an expired one).
    UrlIssued {
        /// The id the version will reference.
        upload_id: String,
    },
    /// Archive bytes sent so far.
    Uploading {
        /// Bytes sent.
        sent: u64,
        /// Bytes in the archive.
        total: u64,
    },
    /// The storage rejected the URL as expired; a new one is requested once.
    UrlExpired,
    /// The storage accepted the whole archive.
    Uploaded {
        /// Bytes in the archive.
        bytes: u64,
    },
    /// The version exists.
    VersionCreated {
        /// Its id.
        id: PluginVersionId,
        /// Its first phase (usually PROCESSING).
        phase: Phase,
    },
    /// The version's phase changed while waiting.
    PhaseChanged {
        /// The new phase.
        phase: Phase,
    },
}

type ProgressFn = Arc<dyn Fn(UploadEvent) + Send + Sync>;

/// The one-call upload of a new plugin version; see [`PluginVersions::upload`].
///
/// Configure it with the setters, then `.await` it (or call [`send`](Self::send)). Every check
/// that can be made locally (archive, version string, connector classes, links, property names)
/// is made before the first request. Dropping the future stops the upload.
#[must_use = "an upload does nothing until awaited"]
pub struct UploadVersion {
    versions: PluginVersions,
    archive: Archive,
    request: NewPluginVersion,
    cloud: Option<Cloud>,
    wait: Option<Duration>,
    poll_interval: Duration,
    upload_timeout: Duration,
    cleanup_on_failure: bool,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for UploadVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadVersion")
            .field("plugin_id", self.versions.plugin_id())
            .field("archive", &self.archive)
            .field("request", &self.request)
            .field("cloud", &self.cloud)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

impl UploadVersion {
    pub(crate) fn new(versions: PluginVersions, version: String, archive: Archive) -> Self {
        UploadVersion {
            versions,
            archive,
            request: NewPluginVersion::new(version, PENDING_UPLOAD_ID),
            cloud: None,
            wait: Some(DEFAULT_READY_TIMEOUT),
            poll_interval: DEFAULT_POLL_INTERVAL,
            upload_timeout: DEFAULT_UPLOAD_TIMEOUT,
            cleanup_on_failure: true,
            progress: None,
        }
    }

    /// Adds a connector class the archive provides (1 to 10 in all).
    pub fn connector_class(
        mut self,
        class_name: impl Into<String>,
        connector_type: ConnectorType,
    ) -> Self {
        self.request = self.request.connector_class(class_name, connector_type);
        self
    }

    /// Adds connector classes.
    pub fn connector_classes(mut self, classes: impl IntoIterator<Item = ConnectorClass>) -> Self {
        self.request = self.request.connector_classes(classes);
        self
    }

    /// Adds a configuration property whose value is a secret.
    pub fn sensitive_config_property(mut self, name: impl Into<String>) -> Self {
        self.request = self.request.sensitive_config_property(name);
        self
    }

    /// Sets the documentation link.
    pub fn documentation_link(mut self, link: impl Into<String>) -> Self {
        self.request = self.request.documentation_link(link);
        self
    }

    /// Names the plugin's cloud, saving the request that would read it from the plugin.
    pub fn cloud(mut self, cloud: Cloud) -> Self {
        self.cloud = Some(cloud);
        self
    }

    /// Waits at most `timeout` for the version to become READY (the default, 10 minutes).
    pub fn wait_until_ready(mut self, timeout: Duration) -> Self {
        self.wait = Some(timeout);
        self
    }

    /// Returns as soon as the version is created, without waiting for READY.
    pub fn no_wait(mut self) -> Self {
        self.wait = None;
        self
    }

    /// Sets the first interval between polls of the phase (default 2 s; it grows to 15 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets the time allowed for sending the archive (default 20 minutes).
    pub fn upload_timeout(mut self, timeout: Duration) -> Self {
        self.upload_timeout = timeout;
        self
    }

    /// Whether a version that reached FAILED is deleted again (default `true`), so a failed
    /// upload leaves nothing behind. A version still processing when the wait times out is
    /// always kept: it may yet become READY.
    pub fn cleanup_on_failure(mut self, cleanup: bool) -> Self {
        self.cleanup_on_failure = cleanup;
        self
    }

    /// Calls `progress` with each [`UploadEvent`], in order. It runs on the uploading task, so
    /// keep it quick (update a progress bar, send into a channel).
    pub fn on_progress(mut self, progress: impl Fn(UploadEvent) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// Runs the upload. Returns the version: READY when waiting (the default), else as created.
    pub async fn send(self) -> Result<Response<PluginVersion>> {
        self.versions.env().validate()?;
        self.versions.plugin_id().validate()?;
        self.request.validate()?;
        if self.wait.is_some_and(|w| w.is_zero()) {
            return Err(Error::invalid(
                "wait_until_ready",
                "the timeout must not be zero",
            ));
        }
        if self.upload_timeout.is_zero() {
            return Err(Error::invalid(
                "upload_timeout",
                "the timeout must not be zero",
            ));
        }
        if self.poll_interval.is_zero() {
            return Err(Error::invalid(
                "poll_interval",
                "the interval must not be zero",
            ));
        }
        let version = self.request.spec.version.clone();
        let fail = |stage, source| Error::Upload {
            version: version.clone(),
            stage,
            created_version_id: None,
            cleanup: None,
            source: Box::new(source),
        };

        let cloud = match self.cloud.clone() {
            Some(cloud) => cloud,
            None => self
                .versions
                .plugin_cloud()
                .await
                .map_err(|e| fail(UploadStage::ReadingPlugin, e))?,
        };
        self.emit(UploadEvent::CloudResolved {
            cloud: cloud.clone(),
        });

        let upload_id = self
            .upload_archive(&cloud)
            .await
            .map_err(|(stage, e)| fail(stage, e))?;

        let request = self.request.clone().upload_id(upload_id);
        let created = self
            .versions
            .create(&request)
            .await
            .map_err(|e| fail(UploadStage::CreatingVersion, e))?;
        self.emit(UploadEvent::VersionCreated {
            id: created.id.clone(),
            phase: created.status.phase.clone(),
        });

        let Some(timeout) = self.wait else {
            return Ok(created);
        };
        let id = created.id.clone();
        match self
            .versions
            .poll_until_ready(&created, timeout, self.poll_interval, &|phase| {
                self.emit(UploadEvent::PhaseChanged { phase })
            })
            .await
        {
            Ok(ready) => Ok(ready),
            Err(err) => {
                let failed = matches!(
                    &err,
                    Error::Wait {
                        timed_out: false,
                        ..
                    }
                );
                let cleanup = if failed && self.cleanup_on_failure {
                    match self.versions.delete_if_exists(id.clone()).await {
                        Ok(_) => Cleanup::Deleted,
                        Err(e) => Cleanup::DeleteFailed(Box::new(e)),
                    }
                } else {
                    Cleanup::Kept
                };
                Err(Error::Upload {
                    version,
                    stage: UploadStage::WaitingForReady,
                    created_version_id: Some(id.to_string()),
                    cleanup: Some(cleanup),
                    source: Box::new(err),
                })
            }
        }
    }

    /// Gets a presigned URL and uploads the archive there; a URL found expired is replaced once.
    async fn upload_archive(
        &self,
        cloud: &Cloud,
    ) -> std::result::Result<String, (UploadStage, Error)> {
        let env = self.versions.env();
        let http = &env.client().transport().http;
        let mut renewed = false;
        loop {
            let presigned = env
                .presigned_upload_url(cloud.clone(), self.archive.format().clone())
                .await
                .map_err(|e| (UploadStage::RequestingUrl, e))?
                .into_inner();
            let (Some(upload_id), Some(upload_url)) = (
                presigned.upload_id.as_deref().filter(|id| !id.is_empty()),
                presigned
                    .upload_url
                    .as_deref()
                    .filter(|url| !url.is_empty()),
            ) else {
                return Err((
                    UploadStage::RequestingUrl,
                    Error::protocol(
                        crate::error::Service::Confluent,
                        "create_ccpm_v1_presigned_url",
                        "the presigned URL response has no upload_id or upload_url",
                    ),
                ));
            };
            self.emit(UploadEvent::UrlIssued {
                upload_id: upload_id.to_string(),
            });
            let progress = self.progress.clone().map(|p| {
                Arc::new(move |sent, total| p(UploadEvent::Uploading { sent, total }))
                    as storage::ByteProgress
            });
            let cloud_name = presigned.cloud.as_str().to_string();
            let target = UploadTarget {
                cloud: if cloud_name.is_empty() {
                    cloud.as_str()
                } else {
                    &cloud_name
                },
                url: upload_url,
                form_data: &presigned.form_fields(),
            };
            match storage::upload(http, &target, &self.archive, self.upload_timeout, progress).await
            {
                Ok(_) => {
                    self.emit(UploadEvent::Uploaded {
                        bytes: self.archive.len(),
                    });
                    return Ok(upload_id.to_string());
                }
                Err(err) if !renewed && storage::is_expired_url_error(&err) => {
                    renewed = true;
                    self.emit(UploadEvent::UrlExpired);
                }
                Err(err) => return Err((UploadStage::Uploading, err)),
            }
        }
    }

    fn emit(&self, event: UploadEvent) {
        if let Some(progress) = &self.progress {
            progress(event);
        }
    }
}

impl IntoFuture for UploadVersion {
    type Output = Result<Response<PluginVersion>>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

impl PluginVersions {
    /// Ships `archive` as version `version` of this plugin in one call: asks for a presigned
    /// URL for the plugin's cloud, uploads the archive there the way that cloud needs it
    /// (streamed, with its own timeout, no Confluent credentials), creates the version and waits
    /// until it is READY (see [`UploadVersion`] for the options).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use cloud_plugin_sdk::confluent::Archive;
    /// use cloud_plugin_sdk::confluent::{ConfluentClient, ConnectorType};
    ///
    /// # async fn run() -> cloud_plugin_sdk::Result<()> {
    /// let confluent = ConfluentClient::from_env()?;
    /// let archive = Archive::from_path("target/my-connector.zip").await?;
    /// let version = confluent
    ///     .environment("env-123")
    ///     .plugin_versions("ccp-4567")
    ///     .upload("1.0.0", archive)
    ///     .connector_class("com.example.MySinkConnector", ConnectorType::Sink)
    ///     .wait_until_ready(Duration::from_secs(300))
    ///     .on_progress(|event| println!("{event:?}"))
    ///     .await?;
    /// println!("{} is {}", version.id, version.status.phase);
    /// # Ok(())
    /// # }
    /// ```
    pub fn upload(&self, version: impl Into<String>, archive: Archive) -> UploadVersion {
        UploadVersion::new(self.clone(), version.into(), archive)
    }

    /// Polls a version until it is READY. A FAILED phase is an [`Error::Wait`] carrying the
    /// server's `error_message`; so is a version still processing after `timeout`.
    pub async fn wait_until_ready(
        &self,
        id: impl Into<PluginVersionId>,
        timeout: Duration,
    ) -> Result<Response<PluginVersion>> {
        if timeout.is_zero() {
            return Err(Error::invalid("timeout", "must not be zero"));
        }
        let current = self.get(id).await?;
        self.poll_until_ready(&current, timeout, DEFAULT_POLL_INTERVAL, &|_| {})
            .await
    }

    /// Polls from an already fetched state, reporting each phase change.
    async fn poll_until_ready(
        &self,
        current: &Response<PluginVersion>,
        timeout: Duration,
        first_interval: Duration,
        on_phase: &(dyn Fn(Phase) + Send + Sync),
    ) -> Result<Response<PluginVersion>> {
        let deadline = Instant::now() + timeout;
        let mut interval = first_interval;
        let mut phase = current.status.phase.clone();
        let mut latest = current.clone();
        loop {
            match &latest.status.phase {
                Phase::Ready => return Ok(latest),
                Phase::Failed => {
                    return Err(Error::Wait {
                        version_id: latest.id.to_string(),
                        phase: Phase::Failed.to_string(),
                        error_message: latest.status.error_message.clone(),
                        timed_out: false,
                    });
                }
                _ => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Wait {
                    version_id: latest.id.to_string(),
                    phase: phase.to_string(),
                    error_message: None,
                    timed_out: true,
                });
            }
            tokio::time::sleep(interval.min(deadline - now)).await;
            interval = (interval + interval / 2).min(MAX_POLL_INTERVAL.max(first_interval));
            latest = self.get(latest.id.clone()).await?;
            if latest.status.phase != phase {
                phase = latest.status.phase.clone();
                on_phase(phase.clone());
            }
        }
    }
}
