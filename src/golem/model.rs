//! Typed models of the Golem plugin registry.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::error::{Error, Result};

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The id as a UUID.
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                $name(id)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Uuid::parse_str(s.trim())
                    .map($name)
                    .map_err(|e| Error::invalid($field, format!("not a UUID: {e}")))
            }
        }
    };
}

uuid_id!(
    /// The id of a Golem account.
    AccountId,
    "account_id"
);
uuid_id!(
    /// The id of a plugin registration, chosen by the server.
    PluginId,
    "plugin_id"
);
uuid_id!(
    /// The id of a Golem component.
    ComponentId,
    "component_id"
);

/// A plugin icon: base64 on the wire, bytes in Rust.
///
/// A value received from the server that is not valid base64 does not fail the response: the
/// raw string is kept and [`Icon::to_bytes`] reports the problem.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Icon {
    base64: String,
}

impl Icon {
    /// An icon from its bytes (encoded with the standard, padded base64 alphabet).
    pub fn from_bytes(bytes: impl AsRef<[u8]>) -> Self {
        Icon {
            base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// No icon (the empty string on the wire).
    pub fn empty() -> Self {
        Icon::default()
    }

    /// The value as sent on the wire.
    pub fn as_base64(&self) -> &str {
        &self.base64
    }

    /// `true` when there is no icon.
    pub fn is_empty(&self) -> bool {
        self.base64.is_empty()
    }

    /// Decodes the icon's bytes; fails with [`ErrorKind::Decode`](crate::ErrorKind::Decode)
    /// context when the server sent something that is not base64.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        base64::engine::general_purpose::STANDARD
            .decode(self.base64.trim())
            .map_err(|e| Error::invalid("icon", format!("not valid base64: {e}")))
    }
}

impl fmt::Debug for Icon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Icon({} base64 chars)", self.base64.len())
    }
}

impl Serialize for Icon {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.base64)
    }
}

impl<'de> Deserialize<'de> for Icon {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        // null is tolerated as "no icon".
        let value = Option::<String>::deserialize(deserializer)?;
        Ok(Icon {
            base64: value.unwrap_or_default(),
        })
    }
}

/// The spec of an oplog-processor plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OplogProcessor {
    /// The component that implements the oplog processor.
    pub component_id: ComponentId,
    /// The component revision (the server rejects values above `i64::MAX`).
    pub component_revision: u64,
}

/// What kind of plugin a registration is (the `type`-tagged `spec` union).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PluginSpec {
    /// `type: OplogProcessor`.
    OplogProcessor(OplogProcessor),
    /// A `type` this version of the crate does not know, kept as received.
    Unknown {
        /// The `type` tag.
        type_name: String,
        /// The other fields of the spec object.
        fields: serde_json::Map<String, serde_json::Value>,
    },
}

impl PluginSpec {
    /// An oplog-processor spec.
    pub fn oplog_processor(component_id: impl Into<ComponentId>, component_revision: u64) -> Self {
        PluginSpec::OplogProcessor(OplogProcessor {
            component_id: component_id.into(),
            component_revision,
        })
    }

    /// The `type` tag.
    pub fn type_name(&self) -> &str {
        match self {
            PluginSpec::OplogProcessor(_) => "OplogProcessor",
            PluginSpec::Unknown { type_name, .. } => type_name,
        }
    }
}

impl Serialize for PluginSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut object = match self {
            PluginSpec::OplogProcessor(spec) => match serde_json::to_value(spec) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => serde_json::Map::new(),
            },
            PluginSpec::Unknown { fields, .. } => fields.clone(),
        };
        object.insert("type".into(), self.type_name().into());
        object.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PluginSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let mut object = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let type_name = match object.remove("type") {
            Some(serde_json::Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        if type_name == "OplogProcessor" {
            let spec = serde_json::from_value(serde_json::Value::Object(object))
                .map_err(serde::de::Error::custom)?;
            return Ok(PluginSpec::OplogProcessor(spec));
        }
        Ok(PluginSpec::Unknown {
            type_name,
            fields: object,
        })
    }
}

/// A registered plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Plugin {
    /// The plugin's id.
    pub id: PluginId,
    /// The account that owns it.
    pub account_id: AccountId,
    /// Its name; (name, version) is unique in an account.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Free-text description.
    #[serde(default)]
    pub description: String,
    /// Its icon.
    #[serde(default)]
    pub icon: Icon,
    /// Its homepage URL.
    #[serde(default)]
    pub homepage: String,
    /// What kind of plugin it is.
    pub spec: PluginSpec,
}

/// The plugins of an account (the list response).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PluginPage {
    /// Every plugin in the response.
    #[serde(default)]
    pub values: Vec<Plugin>,
}

/// A plugin to register.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct NewPlugin {
    /// Its name; (name, version) must be unique in the account.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Free-text description (may be empty).
    pub description: String,
    /// Its icon (may be empty).
    pub icon: Icon,
    /// Its homepage URL (may be empty).
    pub homepage: String,
    /// What kind of plugin it is.
    pub spec: PluginSpec,
}

/// The largest component revision the server accepts.
pub const MAX_COMPONENT_REVISION: u64 = i64::MAX as u64;

impl NewPlugin {
    /// A plugin with the given name, version and spec, and empty description, icon and homepage.
    pub fn new(name: impl Into<String>, version: impl Into<String>, spec: PluginSpec) -> Self {
        NewPlugin {
            name: name.into(),
            version: version.into(),
            description: String::new(),
            icon: Icon::empty(),
            homepage: String::new(),
            spec,
        }
    }

    /// An oplog-processor plugin implemented by the given component revision.
    pub fn oplog_processor(
        name: impl Into<String>,
        version: impl Into<String>,
        component_id: impl Into<ComponentId>,
        component_revision: u64,
    ) -> Self {
        Self::new(
            name,
            version,
            PluginSpec::oplog_processor(component_id, component_revision),
        )
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the homepage URL.
    pub fn homepage(mut self, homepage: impl Into<String>) -> Self {
        self.homepage = homepage.into();
        self
    }

    /// Sets the icon from its bytes.
    pub fn icon(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.icon = Icon::from_bytes(bytes);
        self
    }

    /// Checks what the server would reject, naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::invalid("name", "must not be empty"));
        }
        if self.version.trim().is_empty() {
            return Err(Error::invalid("version", "must not be empty"));
        }
        match &self.spec {
            PluginSpec::OplogProcessor(spec) => {
                if spec.component_revision > MAX_COMPONENT_REVISION {
                    return Err(Error::invalid(
                        "spec.componentRevision",
                        format!("must be at most {MAX_COMPONENT_REVISION}"),
                    ));
                }
            }
            PluginSpec::Unknown { type_name, .. } => {
                return Err(Error::invalid(
                    "spec.type",
                    format!("`{type_name}` is not a plugin type this crate can register"),
                ));
            }
        }
        Ok(())
    }
}
