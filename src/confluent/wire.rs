//! Request bodies as they go on the wire. The generated client takes these (see build.rs); each
//! joins what the caller chose with the environment of the handle that sends it, so a caller can
//! never leave the environment out.

use serde::Serialize;

use super::model::{
    Cloud, ConnectorClass, ContentFormat, EnvironmentId, NewPlugin, NewPluginVersion, Plugin,
    PluginUpdate, PluginVersion, UploadSource,
};
use super::page::Page;

/// The list-plugins response.
pub(crate) type PluginPage = Page<Plugin>;
/// The list-versions response.
pub(crate) type PluginVersionPage = Page<PluginVersion>;

/// `{"id": "env-…"}`: requests name the environment by id only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct EnvironmentIdRef {
    id: EnvironmentId,
}

impl EnvironmentIdRef {
    fn new(environment: &EnvironmentId) -> Self {
        EnvironmentIdRef {
            id: environment.clone(),
        }
    }
}

/// Body of `createCcpmV1CustomConnectPlugin`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct CreatePluginBody {
    spec: CreatePluginSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct CreatePluginSpec {
    cloud: Cloud,
    display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    environment: EnvironmentIdRef,
}

impl CreatePluginBody {
    pub(crate) fn new(environment: &EnvironmentId, plugin: &NewPlugin) -> Self {
        CreatePluginBody {
            spec: CreatePluginSpec {
                cloud: plugin.cloud.clone(),
                display_name: plugin.display_name.clone(),
                description: plugin.description.clone(),
                environment: EnvironmentIdRef::new(environment),
            },
        }
    }
}

/// Body of `updateCcpmV1CustomConnectPlugin`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct UpdatePluginBody {
    spec: UpdatePluginSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct UpdatePluginSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    environment: EnvironmentIdRef,
}

impl UpdatePluginBody {
    pub(crate) fn new(environment: &EnvironmentId, update: &PluginUpdate) -> Self {
        UpdatePluginBody {
            spec: UpdatePluginSpec {
                display_name: update.display_name.clone(),
                description: update.description.clone(),
                environment: EnvironmentIdRef::new(environment),
            },
        }
    }
}

/// Body of `createCcpmV1CustomConnectPluginVersion`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct CreatePluginVersionBody {
    spec: CreatePluginVersionSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct CreatePluginVersionSpec {
    version: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sensitive_config_properties: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    documentation_link: Option<String>,
    connector_classes: Vec<ConnectorClass>,
    upload_source: UploadSource,
    environment: EnvironmentIdRef,
}

impl CreatePluginVersionBody {
    pub(crate) fn new(environment: &EnvironmentId, version: &NewPluginVersion) -> Self {
        CreatePluginVersionBody {
            spec: CreatePluginVersionSpec {
                version: version.version.clone(),
                sensitive_config_properties: version.sensitive_config_properties.clone(),
                documentation_link: version.documentation_link.clone(),
                connector_classes: version.connector_classes.clone(),
                upload_source: version.upload_source.clone(),
                environment: EnvironmentIdRef::new(environment),
            },
        }
    }
}

/// Body of `createCcpmV1PresignedUrl` (the environment is top-level here).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct PresignedUploadBody {
    content_format: ContentFormat,
    cloud: Cloud,
    environment: EnvironmentIdRef,
}

impl PresignedUploadBody {
    pub(crate) fn new(
        environment: &EnvironmentId,
        cloud: &Cloud,
        content_format: &ContentFormat,
    ) -> Self {
        PresignedUploadBody {
            content_format: content_format.clone(),
            cloud: cloud.clone(),
            environment: EnvironmentIdRef::new(environment),
        }
    }
}
