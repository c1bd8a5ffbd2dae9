//! Typed models of the Confluent Cloud ccpm/v1 API.
//!
//! Response types decode tolerantly: unknown fields are ignored, open enumerations keep values
//! this crate does not know, and optional metadata that is missing, `null` or malformed never fails
//! a response. Request types ([`NewPlugin`], [`PluginUpdate`], [`NewPluginVersion`]) hold only
//! what a caller chooses; the environment is added by the handle that sends them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::validate;
use crate::error::{Error, Result};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        ///
        /// Any string converts into it; every operation checks it (non-empty, at most 255
        /// characters) before sending. `str::parse` checks it at once.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id without checking it.
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            /// The id as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Takes the string out.
            pub fn into_string(self) -> String {
                self.0
            }

            /// Checks what the server would reject, naming the field.
            pub fn validate(&self) -> Result<()> {
                validate::id($field, &self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
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

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                let id = $name(s.to_string());
                id.validate()?;
                Ok(id)
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

string_id!(
    /// The id of a Confluent Cloud environment, e.g. `env-7q2m9p`.
    EnvironmentId,
    "environment"
);
string_id!(
    /// The id of a custom connect plugin, e.g. `ccp-4a7b2c`.
    PluginId,
    "plugin_id"
);
string_id!(
    /// The id of a plugin version, e.g. `ver-9k3d1x`.
    PluginVersionId,
    "version_id"
);

macro_rules! open_enum {
    (
        $(#[$doc:meta])* $name:ident, $field:literal,
        { $($(#[$vdoc:meta])* $variant:ident => $wire:literal),+ $(,)? }
    ) => {
        $(#[$doc])*
        ///
        /// The set is open: a value this version of the crate does not know decodes as `Other`
        /// with the text as received. Known values match case-insensitively and are sent in upper
        /// case; `Display` prints the wire value.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A value this version of the crate does not know, as received.
            Other(String),
        }

        impl $name {
            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Other(value) => value,
                }
            }

            /// `true` for a value this version of the crate knows.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Other(_))
            }

            /// Maps wire text to a value; never fails.
            fn from_wire(value: &str) -> Self {
                $(
                    if value.eq_ignore_ascii_case($wire) {
                        return $name::$variant;
                    }
                )+
                $name::Other(value.to_string())
            }

            /// The placeholder for a value the server left out.
            #[allow(dead_code)]
            pub(crate) fn missing() -> Self {
                $name::Other(String::new())
            }

            /// `true` for the placeholder of a value the server left out.
            #[allow(dead_code)]
            pub(crate) fn is_missing(&self) -> bool {
                matches!(self, $name::Other(value) if value.is_empty())
            }

            /// Checks that the value can be sent: not empty, no surrounding whitespace.
            #[allow(dead_code)]
            pub(crate) fn validate_open(&self, field: &str) -> Result<()> {
                let value = self.as_str();
                if value.trim().is_empty() {
                    return Err(Error::invalid(field, "must not be empty"));
                }
                if value.trim() != value || value.chars().any(char::is_control) {
                    return Err(Error::invalid(
                        field,
                        "must not contain surrounding whitespace or control characters",
                    ));
                }
                Ok(())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            /// Parses case-insensitively; unknown text becomes `Other`. Only empty text fails.
            fn from_str(s: &str) -> Result<Self> {
                let trimmed = s.trim();
                if trimmed.is_empty() {
                    return Err(Error::invalid($field, "must not be empty"));
                }
                Ok($name::from_wire(trimmed))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
                // `null` is kept as an empty `Other` rather than failing the whole response.
                let value = Option::<String>::deserialize(deserializer)?;
                Ok(value.map(|v| $name::from_wire(&v)).unwrap_or_else(|| $name::Other(String::new())))
            }
        }
    };
}

open_enum!(
    /// The cloud provider that stores a plugin's archives.
    Cloud, "cloud",
    {
        /// Amazon Web Services.
        Aws => "AWS",
        /// Google Cloud.
        Gcp => "GCP",
        /// Microsoft Azure.
        Azure => "AZURE",
    }
);

open_enum!(
    /// The processing state of a plugin version.
    Phase, "phase",
    {
        /// The archive is being checked.
        Processing => "PROCESSING",
        /// The version can be used by connectors.
        Ready => "READY",
        /// Processing failed; see [`VersionStatus::error_message`].
        Failed => "FAILED",
    }
);

open_enum!(
    /// The format of a plugin archive.
    ContentFormat, "content_format",
    {
        /// A ZIP archive.
        Zip => "ZIP",
        /// A JAR file.
        Jar => "JAR",
    }
);

open_enum!(
    /// Whether a connector reads into Kafka or writes out of it.
    ConnectorType, "type",
    {
        /// The connector reads from an external system into Kafka.
        Source => "SOURCE",
        /// The connector writes from Kafka to an external system.
        Sink => "SINK",
    }
);

impl Phase {
    /// `true` once processing has ended, in [`Phase::Ready`] or [`Phase::Failed`].
    pub fn is_terminal(&self) -> bool {
        matches!(self, Phase::Ready | Phase::Failed)
    }
}

impl ContentFormat {
    /// The format for a file name's extension (`.zip` or `.jar`, any case).
    pub fn from_file_name(name: &str) -> Option<ContentFormat> {
        let (_, extension) = name.rsplit_once('.')?;
        if extension.eq_ignore_ascii_case("zip") {
            Some(ContentFormat::Zip)
        } else if extension.eq_ignore_ascii_case("jar") {
            Some(ContentFormat::Jar)
        } else {
            None
        }
    }
}

/// `null` decodes as the default value instead of failing.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A value of the wrong shape decodes as the default value instead of failing.
pub(crate) fn lenient<'de, D, T>(deserializer: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).unwrap_or_default())
}

/// An RFC 3339 timestamp; anything else decodes as `None`.
fn lenient_time<'de, D>(deserializer: D) -> std::result::Result<Option<DateTime<Utc>>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
        .map(|t| t.with_timezone(&Utc)))
}

/// Text, or `None` for anything else.
fn lenient_text<'de, D>(deserializer: D) -> std::result::Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(match value {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    })
}

/// The environment a resource belongs to, as the server reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EnvironmentRef {
    /// The environment's id.
    #[serde(default, deserialize_with = "nullable")]
    pub id: EnvironmentId,
    /// The environment of the referenced resource, when it is itself environment-scoped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// API URL of the environment.
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub related: Option<String>,
    /// Confluent Resource Name (CRN) of the environment.
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_name: Option<String>,
}

/// Server-maintained metadata of a stored resource. Every field is optional: a field that is
/// missing or malformed (e.g. a timestamp that is not RFC 3339) reads as `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ObjectMeta {
    /// API URL of the resource (`self` on the wire).
    #[serde(
        rename = "self",
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub self_url: Option<String>,
    /// Confluent Resource Name (CRN) of the resource.
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_name: Option<String>,
    /// When the resource was created.
    #[serde(
        default,
        deserialize_with = "lenient_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<DateTime<Utc>>,
    /// When the resource last changed.
    #[serde(
        default,
        deserialize_with = "lenient_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<DateTime<Utc>>,
    /// When the resource was or will be deleted.
    #[serde(
        default,
        deserialize_with = "lenient_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A custom connect plugin: a named container for the versions of one connector archive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Plugin {
    /// Schema version of the representation (`ccpm/v1`).
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub api_version: Option<String>,
    /// Resource type (`CustomConnectPlugin`).
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<String>,
    /// The plugin's id (empty only if the server left it out).
    #[serde(default, deserialize_with = "nullable")]
    pub id: PluginId,
    /// Server metadata; `None` when missing, `null` or malformed.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata: Option<ObjectMeta>,
    /// The plugin's settings.
    pub spec: PluginSpec,
}

/// The settings of a [`Plugin`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PluginSpec {
    /// The cloud that stores the plugin's archives; fixed at creation.
    pub cloud: Cloud,
    /// Human-readable name (at most 60 characters).
    #[serde(default, deserialize_with = "nullable")]
    pub display_name: String,
    /// Free-text description (at most 256 characters).
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    /// The language the plugin runs in, e.g. `JAVA`.
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub runtime_language: Option<String>,
    /// The environment the plugin belongs to.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub environment: Option<EnvironmentRef>,
}

/// A connector class shipped in a plugin archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConnectorClass {
    /// Fully qualified Java class name, e.g. `com.example.OrdersSinkConnector`.
    #[serde(default, deserialize_with = "nullable")]
    pub class_name: String,
    /// Whether the connector is a source or a sink (`type` on the wire).
    #[serde(rename = "type")]
    pub connector_type: ConnectorType,
}

impl ConnectorClass {
    /// A connector class of the given type.
    pub fn new(class_name: impl Into<String>, connector_type: ConnectorType) -> Self {
        ConnectorClass {
            class_name: class_name.into(),
            connector_type,
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

/// Where a version's archive was uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UploadSource {
    /// The kind of upload source; [`UploadSource::PRESIGNED_URL_LOCATION`] for presigned URLs.
    pub location: String,
    /// The `upload_id` of the presigned URL. Servers send it back empty.
    #[serde(default, deserialize_with = "nullable")]
    pub upload_id: String,
}

impl UploadSource {
    /// The `location` of an archive uploaded through a presigned URL.
    pub const PRESIGNED_URL_LOCATION: &'static str = "PRESIGNED_URL_LOCATION";

    /// An archive uploaded through the presigned URL with this `upload_id`.
    pub fn presigned_url(upload_id: impl Into<String>) -> Self {
        UploadSource {
            location: Self::PRESIGNED_URL_LOCATION.to_string(),
            upload_id: upload_id.into(),
        }
    }
}

/// An upload source of a response: `None` when absent, `null`, `{}` or otherwise unusable.
fn lenient_upload_source<'de, D>(
    deserializer: D,
) -> std::result::Result<Option<UploadSource>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value::<UploadSource>(value)
        .ok()
        .filter(|source| !source.location.is_empty()))
}

/// The processing state of a [`PluginVersion`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VersionStatus {
    /// The phase: [`Phase::Processing`], then [`Phase::Ready`] or [`Phase::Failed`]. An empty
    /// [`Phase::Other`] when the server sent no status.
    #[serde(default = "Phase::missing")]
    pub phase: Phase,
    /// Why processing failed, when it did.
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_message: Option<String>,
}

impl Default for VersionStatus {
    fn default() -> Self {
        VersionStatus {
            phase: Phase::missing(),
            error_message: None,
        }
    }
}

/// One immutable version of a plugin, backed by one uploaded archive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PluginVersion {
    /// Schema version of the representation (`ccpm/v1`).
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub api_version: Option<String>,
    /// Resource type (`CustomConnectPluginVersion`).
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<String>,
    /// The version's id (empty only if the server left it out).
    #[serde(default, deserialize_with = "nullable")]
    pub id: PluginVersionId,
    /// Server metadata; `None` when missing, `null` or malformed.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata: Option<ObjectMeta>,
    /// The version's settings.
    pub spec: PluginVersionSpec,
    /// The processing state.
    #[serde(default, deserialize_with = "lenient")]
    pub status: VersionStatus,
}

impl PluginVersion {
    /// The processing phase.
    pub fn phase(&self) -> &Phase {
        &self.status.phase
    }

    /// `true` once the version can be used by connectors.
    pub fn is_ready(&self) -> bool {
        self.status.phase == Phase::Ready
    }

    /// `true` when processing failed.
    pub fn is_failed(&self) -> bool {
        self.status.phase == Phase::Failed
    }
}

/// The settings of a [`PluginVersion`]; all fixed once the version exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PluginVersionSpec {
    /// The version, a SemVer string with or without a leading `v`.
    #[serde(default, deserialize_with = "nullable")]
    pub version: String,
    /// Connector configuration properties whose values are secrets.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sensitive_config_properties: Vec<String>,
    /// Link to the plugin's documentation (may be empty).
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub documentation_link: Option<String>,
    /// The archive format the server detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_format: Option<ContentFormat>,
    /// The connector classes the archive provides.
    #[serde(default, deserialize_with = "nullable")]
    pub connector_classes: Vec<ConnectorClass>,
    /// Where the archive was uploaded; servers normally leave it out of responses.
    #[serde(
        default,
        deserialize_with = "lenient_upload_source",
        skip_serializing_if = "Option::is_none"
    )]
    pub upload_source: Option<UploadSource>,
    /// The environment the version belongs to.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub environment: Option<EnvironmentRef>,
}

/// A presigned upload target for a plugin archive, valid for about one hour.
///
/// Upload the archive to [`upload_url`](Self::upload_url) without Confluent credentials, then pass
/// [`upload_id`](Self::upload_id) to [`NewPluginVersion::new`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PresignedUpload {
    /// Schema version of the representation (`ccpm/v1`).
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub api_version: Option<String>,
    /// Resource type (`PresignedUrl`).
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<String>,
    /// Identifies the upload; pass it when creating the version.
    #[serde(default, deserialize_with = "nullable")]
    pub upload_id: String,
    /// Where to upload the archive.
    #[serde(default, deserialize_with = "nullable")]
    pub upload_url: String,
    /// Form fields to send before the file (AWS). Values that are not strings are kept as their
    /// JSON text.
    #[serde(
        default,
        deserialize_with = "string_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub upload_form_data: BTreeMap<String, String>,
    /// The cloud of the storage (as requested when the server leaves it out).
    #[serde(default = "Cloud::missing")]
    pub cloud: Cloud,
    /// The archive format (as requested when the server leaves it out).
    #[serde(default = "ContentFormat::missing")]
    pub content_format: ContentFormat,
    /// The environment the upload belongs to.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub environment: Option<EnvironmentRef>,
}

/// A JSON object of form fields; non-string values become their JSON text, `null` values and a
/// value that is not an object are dropped.
fn string_map<'de, D>(deserializer: D) -> std::result::Result<BTreeMap<String, String>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    let serde_json::Value::Object(map) = value else {
        return Ok(BTreeMap::new());
    };
    Ok(map
        .into_iter()
        .filter_map(|(key, value)| match value {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some((key, s)),
            other => Some((key, other.to_string())),
        })
        .collect())
}

/// A plugin to create.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewPlugin {
    /// Human-readable name, 1 to 60 characters.
    pub display_name: String,
    /// The cloud that will store the plugin's archives; fixed once created.
    pub cloud: Cloud,
    /// Free-text description, at most 256 characters.
    pub description: Option<String>,
}

impl NewPlugin {
    /// A plugin with a display name and a cloud, without description.
    pub fn new(display_name: impl Into<String>, cloud: Cloud) -> Self {
        NewPlugin {
            display_name: display_name.into(),
            cloud,
            description: None,
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Checks what the server would reject, naming the field.
    pub fn validate(&self) -> Result<()> {
        validate::display_name("spec.display_name", &self.display_name)?;
        self.cloud.validate_open("spec.cloud")?;
        if let Some(description) = &self.description {
            validate::max_chars("spec.description", description, validate::MAX_DESCRIPTION)?;
        }
        Ok(())
    }
}

/// Changes to a plugin. Fields left `None` stay as they are; the cloud cannot change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PluginUpdate {
    /// A new display name, 1 to 60 characters.
    pub display_name: Option<String>,
    /// A new description, at most 256 characters (empty clears it).
    pub description: Option<String>,
}

impl PluginUpdate {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a new display name.
    pub fn display_name(mut self, display_name: impl Into<String>) -> Self {
        self.display_name = Some(display_name.into());
        self
    }

    /// Sets a new description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Checks what the server would reject, naming the field.
    pub fn validate(&self) -> Result<()> {
        if let Some(name) = &self.display_name {
            validate::display_name("spec.display_name", name)?;
        }
        if let Some(description) = &self.description {
            validate::max_chars("spec.description", description, validate::MAX_DESCRIPTION)?;
        }
        Ok(())
    }
}

/// A plugin version to create from an archive already uploaded through a presigned URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewPluginVersion {
    /// SemVer version, with or without a leading `v` (`1.2.3`, `v1.2.3`, `1.2.3-rc.1+build.7`).
    pub version: String,
    /// The connector classes the archive provides, 1 to 10.
    pub connector_classes: Vec<ConnectorClass>,
    /// Where the archive was uploaded.
    pub upload_source: UploadSource,
    /// Connector configuration properties whose values are secrets.
    pub sensitive_config_properties: Vec<String>,
    /// Link to the plugin's documentation: empty, or an `http://` or `https://` URL.
    pub documentation_link: Option<String>,
}

impl NewPluginVersion {
    /// A version of the archive uploaded with `upload_id` (from
    /// [`PresignedUpload::upload_id`]). Add at least one connector class.
    pub fn new(version: impl Into<String>, upload_id: impl Into<String>) -> Self {
        NewPluginVersion {
            version: version.into(),
            connector_classes: Vec::new(),
            upload_source: UploadSource::presigned_url(upload_id),
            sensitive_config_properties: Vec::new(),
            documentation_link: None,
        }
    }

    /// Adds a connector class.
    pub fn connector_class(
        mut self,
        class_name: impl Into<String>,
        connector_type: ConnectorType,
    ) -> Self {
        self.connector_classes
            .push(ConnectorClass::new(class_name, connector_type));
        self
    }

    /// Adds connector classes.
    pub fn connector_classes(mut self, classes: impl IntoIterator<Item = ConnectorClass>) -> Self {
        self.connector_classes.extend(classes);
        self
    }

    /// Adds a configuration property whose value is a secret.
    pub fn sensitive_config_property(mut self, name: impl Into<String>) -> Self {
        self.sensitive_config_properties.push(name.into());
        self
    }

    /// Sets the documentation link.
    pub fn documentation_link(mut self, link: impl Into<String>) -> Self {
        self.documentation_link = Some(link.into());
        self
    }

    /// Checks what the server would reject, naming the field.
    pub fn validate(&self) -> Result<()> {
        validate::version("spec.version", &self.version)?;
        let count = self.connector_classes.len();
        if !(1..=validate::MAX_CONNECTOR_CLASSES).contains(&count) {
            return Err(Error::invalid(
                "spec.connector_classes",
                format!(
                    "must list 1 to {} connector classes, not {count}",
                    validate::MAX_CONNECTOR_CLASSES
                ),
            ));
        }
        for (i, class) in self.connector_classes.iter().enumerate() {
            validate::class_name(
                &format!("spec.connector_classes[{i}].class_name"),
                &class.class_name,
            )?;
            if !class.connector_type.is_known() {
                return Err(Error::invalid(
                    format!("spec.connector_classes[{i}].type"),
                    format!(
                        "must be SOURCE or SINK, not `{}`",
                        crate::error::one_line(class.connector_type.as_str(), 40)
                    ),
                ));
            }
        }
        for (i, name) in self.sensitive_config_properties.iter().enumerate() {
            validate::property_name(&format!("spec.sensitive_config_properties[{i}]"), name)?;
        }
        if let Some(link) = &self.documentation_link {
            validate::documentation_link("spec.documentation_link", link)?;
        }
        if self.upload_source.location.trim().is_empty() {
            return Err(Error::invalid(
                "spec.upload_source.location",
                "must not be empty",
            ));
        }
        if self.upload_source.upload_id.trim().is_empty() {
            return Err(Error::invalid(
                "spec.upload_source.upload_id",
                "must not be empty; use the upload_id of a presigned upload URL",
            ));
        }
        Ok(())
    }
}
