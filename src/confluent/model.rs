//! Constructors and helpers on the generated ccpm/v1 models.
//!
//! Request types hold what a caller chooses; the environment is filled in by the handle that
//! sends them, so a request can never name another environment than its handle's.

use super::validate;
use super::{
    Cloud, ConnectorClass, ConnectorType, EnvironmentId, EnvironmentRef, NewPlugin,
    NewPluginVersion, PluginId, PluginSpec, PluginSpecUpdate, PluginUpdate, PluginVersion,
    PluginVersionId, PluginVersionSpec, PresignedUpload, UploadLocation, UploadSource,
};
use crate::error::{Error, Result};

macro_rules! string_id {
    ($name:ident, $field:literal) => {
        impl $name {
            /// The id as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Checks what the server would reject (and what would not stay one segment of a
            /// request path), naming the field.
            pub fn validate(&self) -> Result<()> {
                validate::id($field, &self.0)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_string())
            }
        }

        impl From<&String> for $name {
            fn from(id: &String) -> Self {
                $name(id.clone())
            }
        }

        impl From<&$name> for $name {
            fn from(id: &$name) -> Self {
                id.clone()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

string_id!(EnvironmentId, "environment");
string_id!(PluginId, "plugin_id");
string_id!(PluginVersionId, "version_id");

impl EnvironmentRef {
    /// A reference to the environment `id`, as requests carry it (`{"id": "env-…"}`).
    pub(crate) fn to(id: &EnvironmentId) -> Self {
        EnvironmentRef {
            id: id.clone(),
            environment: None,
            related: None,
            resource_name: None,
        }
    }

    /// The placeholder of a request built before its handle fills in the environment.
    fn unset() -> Self {
        EnvironmentRef::to(&EnvironmentId(String::new()))
    }
}

impl NewPlugin {
    /// A plugin with a display name and a cloud, without description.
    pub fn new(display_name: impl Into<String>, cloud: Cloud) -> Self {
        NewPlugin {
            spec: PluginSpec {
                cloud,
                display_name: display_name.into(),
                description: None,
                runtime_language: None,
                environment: EnvironmentRef::unset(),
            },
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.spec.description = Some(description.into());
        self
    }

    /// Checks what the server would reject, naming the field.
    pub fn validate(&self) -> Result<()> {
        validate::display_name("spec.display_name", &self.spec.display_name)?;
        self.spec.cloud.validate("spec.cloud")?;
        if let Some(description) = &self.spec.description {
            validate::max_chars("spec.description", description, validate::MAX_DESCRIPTION)?;
        }
        Ok(())
    }

    /// The request as sent from the environment `environment`.
    pub(crate) fn in_environment(&self, environment: &EnvironmentId) -> Self {
        let mut request = self.clone();
        request.spec.runtime_language = None;
        request.spec.environment = EnvironmentRef::to(environment);
        request
    }
}

impl PluginUpdate {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        PluginUpdate {
            spec: PluginSpecUpdate {
                display_name: None,
                description: None,
                environment: EnvironmentRef::unset(),
            },
        }
    }

    /// Sets a new display name.
    #[must_use]
    pub fn display_name(mut self, display_name: impl Into<String>) -> Self {
        self.spec.display_name = Some(display_name.into());
        self
    }

    /// Sets a new description (empty clears it).
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.spec.description = Some(description.into());
        self
    }

    /// Checks what the server would reject, naming the field.
    pub fn validate(&self) -> Result<()> {
        if let Some(name) = &self.spec.display_name {
            validate::display_name("spec.display_name", name)?;
        }
        if let Some(description) = &self.spec.description {
            validate::max_chars("spec.description", description, validate::MAX_DESCRIPTION)?;
        }
        Ok(())
    }

    /// The request as sent from the environment `environment`.
    pub(crate) fn in_environment(&self, environment: &EnvironmentId) -> Self {
        let mut request = self.clone();
        request.spec.environment = EnvironmentRef::to(environment);
        request
    }
}

impl Default for PluginUpdate {
    fn default() -> Self {
        Self::new()
    }
}

impl ConnectorClass {
    /// A connector class of the given type.
    pub fn new(class_name: impl Into<String>, connector_type: ConnectorType) -> Self {
        ConnectorClass {
            class_name: class_name.into(),
            type_: connector_type,
        }
    }

    /// A source connector class.
    pub fn source(class_name: impl Into<String>) -> Self {
        Self::new(class_name, ConnectorType::Source)
    }

    /// A sink connector class.
    pub fn sink(class_name: impl Into<String>) -> Self {
        Self::new(class_name, ConnectorType::Sink)
    }
}

impl UploadSource {
    /// An archive uploaded through the presigned URL with this `upload_id`.
    pub fn presigned_url(upload_id: impl Into<String>) -> Self {
        UploadSource {
            location: UploadLocation::PresignedUrl,
            upload_id: upload_id.into(),
        }
    }
}

impl NewPluginVersion {
    /// A version of the archive uploaded with `upload_id` (from
    /// [`PresignedUpload::upload_id`](super::PresignedUpload::upload_id)). Add at least one
    /// connector class.
    pub fn new(version: impl Into<String>, upload_id: impl Into<String>) -> Self {
        NewPluginVersion {
            spec: PluginVersionSpec {
                version: version.into(),
                connector_classes: Vec::new(),
                upload_source: Some(UploadSource::presigned_url(upload_id)),
                sensitive_config_properties: Vec::new(),
                documentation_link: None,
                content_format: None,
                environment: EnvironmentRef::unset(),
            },
        }
    }

    /// Adds a connector class.
    #[must_use]
    pub fn connector_class(
        mut self,
        class_name: impl Into<String>,
        connector_type: ConnectorType,
    ) -> Self {
        self.spec
            .connector_classes
            .push(ConnectorClass::new(class_name, connector_type));
        self
    }

    /// Adds connector classes.
    #[must_use]
    pub fn connector_classes(mut self, classes: impl IntoIterator<Item = ConnectorClass>) -> Self {
        self.spec.connector_classes.extend(classes);
        self
    }

    /// Adds a configuration property whose value is a secret.
    #[must_use]
    pub fn sensitive_config_property(mut self, name: impl Into<String>) -> Self {
        self.spec.sensitive_config_properties.push(name.into());
        self
    }

    /// Sets the documentation link.
    #[must_use]
    pub fn documentation_link(mut self, link: impl Into<String>) -> Self {
        self.spec.documentation_link = Some(link.into());
        self
    }

    /// Sets the `upload_id` of the presigned upload holding the archive.
    #[must_use]
    pub fn upload_id(mut self, upload_id: impl Into<String>) -> Self {
        self.spec.upload_source = Some(UploadSource::presigned_url(upload_id));
        self
    }

    /// Checks what the server would reject, naming the field.
    pub fn validate(&self) -> Result<()> {
        let spec = &self.spec;
        validate::version("spec.version", &spec.version)?;
        let count = spec.connector_classes.len();
        if !(1..=validate::MAX_CONNECTOR_CLASSES).contains(&count) {
            return Err(Error::invalid(
                "spec.connector_classes",
                format!(
                    "must list 1 to {} connector classes, not {count}",
                    validate::MAX_CONNECTOR_CLASSES
                ),
            ));
        }
        for (i, class) in spec.connector_classes.iter().enumerate() {
            validate::class_name(
                &format!("spec.connector_classes[{i}].class_name"),
                &class.class_name,
            )?;
            if !class.type_.is_known() {
                return Err(Error::invalid(
                    format!("spec.connector_classes[{i}].type"),
                    format!(
                        "must be SOURCE or SINK, not `{}`",
                        crate::error::one_line(class.type_.as_str(), 40)
                    ),
                ));
            }
        }
        for (i, name) in spec.sensitive_config_properties.iter().enumerate() {
            validate::property_name(&format!("spec.sensitive_config_properties[{i}]"), name)?;
        }
        if let Some(link) = &spec.documentation_link {
            validate::documentation_link("spec.documentation_link", link)?;
        }
        let Some(source) = &spec.upload_source else {
            return Err(Error::invalid(
                "spec.upload_source",
                "must be set; use the upload_id of a presigned upload URL",
            ));
        };
        source.location.validate("spec.upload_source.location")?;
        if source.upload_id.trim().is_empty() {
            return Err(Error::invalid(
                "spec.upload_source.upload_id",
                "must not be empty; use the upload_id of a presigned upload URL",
            ));
        }
        Ok(())
    }

    /// The request as sent from the environment `environment`.
    pub(crate) fn in_environment(&self, environment: &EnvironmentId) -> Self {
        let mut request = self.clone();
        request.spec.content_format = None;
        request.spec.environment = EnvironmentRef::to(environment);
        request
    }
}

impl PluginVersion {
    /// The processing phase.
    pub fn phase(&self) -> &super::Phase {
        &self.status.phase
    }

    /// `true` once the version can be used by connectors.
    pub fn is_ready(&self) -> bool {
        self.status.phase == super::Phase::Ready
    }

    /// `true` when processing failed.
    pub fn is_failed(&self) -> bool {
        self.status.phase == super::Phase::Failed
    }
}

impl PresignedUpload {
    /// The form fields to send with an AWS upload, by name: string values as they are, other
    /// values as their JSON text; `null` values are left out.
    pub fn form_fields(&self) -> std::collections::BTreeMap<String, String> {
        self.upload_form_data
            .iter()
            .filter_map(|(name, value)| match value {
                serde_json::Value::Null => None,
                serde_json::Value::String(text) => Some((name.clone(), text.clone())),
                other => Some((name.clone(), other.to_string())),
            })
            .collect()
    }
}
