//! Constructors and helpers on the generated Golem models.

use base64::Engine as _;

use super::generated::types::NewPluginGrant;
use super::{ComponentId, Icon, NewPlugin, PluginGrant, PluginGrantDetails, PluginId, PluginSpec};
use crate::error::{Error, Result};

/// The largest component revision the server accepts.
pub const MAX_COMPONENT_REVISION: u64 = i64::MAX as u64;

/// Longest plugin name or version the client sends, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Longest plugin description or homepage the client sends, in characters.
pub const MAX_TEXT_CHARS: usize = 4096;

impl Icon {
    /// An icon from its bytes (encoded with the standard, padded base64 alphabet).
    pub fn from_bytes(bytes: impl AsRef<[u8]>) -> Self {
        Icon(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    /// No icon (the empty string on the wire).
    pub fn empty() -> Self {
        Icon(String::new())
    }

    /// The value as sent on the wire.
    pub fn as_base64(&self) -> &str {
        &self.0
    }

    /// Decodes the icon's bytes. A server may send a value that is not base64; decoding it fails
    /// with [`ErrorKind::Decode`](crate::ErrorKind::Decode) rather than failing the response.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        base64::engine::general_purpose::STANDARD
            .decode(self.0.trim())
            .map_err(|e| Error::invalid("icon", format!("not valid base64: {e}")))
    }
}

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
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the homepage URL.
    #[must_use]
    pub fn homepage(mut self, homepage: impl Into<String>) -> Self {
        self.homepage = homepage.into();
        self
    }

    /// Sets the icon from its bytes.
    #[must_use]
    pub fn icon(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.icon = Icon::from_bytes(bytes);
        self
    }

    /// Checks what the server would reject, naming the field: an empty name or version, text
    /// longer than the client sends ([`MAX_NAME_CHARS`], [`MAX_TEXT_CHARS`]), a component revision
    /// above [`MAX_COMPONENT_REVISION`], or a plugin type this crate cannot register.
    pub fn validate(&self) -> Result<()> {
        for (field, value, max) in [
            ("name", &self.name, MAX_NAME_CHARS),
            ("version", &self.version, MAX_NAME_CHARS),
        ] {
            if value.trim().is_empty() {
                return Err(Error::invalid(field, "must not be empty"));
            }
            max_chars(field, value, max)?;
        }
        max_chars("description", &self.description, MAX_TEXT_CHARS)?;
        max_chars("homepage", &self.homepage, MAX_TEXT_CHARS)?;
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
                    format!(
                        "`{}` is not a plugin type this crate can register",
                        crate::error::one_line(type_name, 60)
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl NewPluginGrant {
    /// A grant of the given plugin.
    pub fn new(plugin_id: impl Into<PluginId>) -> Self {
        NewPluginGrant {
            plugin_registration_id: plugin_id.into(),
        }
    }
}

impl From<PluginGrantDetails> for PluginGrant {
    /// The grant without its details: its id, its environment and its plugin's id.
    fn from(details: PluginGrantDetails) -> Self {
        PluginGrant {
            id: details.id,
            environment_id: details.environment_id,
            plugin_id: details.plugin.id,
        }
    }
}

fn max_chars(field: &str, value: &str, max: usize) -> Result<()> {
    // A string has at most as many characters as bytes: short ones need no counting.
    if value.len() > max && value.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters long"),
        ));
    }
    Ok(())
}

impl From<uuid::Error> for Error {
    /// A Golem id that did not parse (`"…".parse::<PluginId>()`).
    fn from(error: uuid::Error) -> Self {
        Error::invalid("id", format!("not a UUID: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component() -> ComponentId {
        "616ccd92-d666-4180-8349-8d125b269fac".parse().unwrap()
    }

    #[test]
    fn icons_are_base64_on_the_wire() {
        let icon = Icon::from_bytes(b"\x89PNG");
        assert_eq!(icon.as_base64(), "iVBORw==");
        assert_eq!(icon.to_bytes().unwrap(), b"\x89PNG");
        assert!(Icon("not base64!".into()).to_bytes().is_err());
        assert!(Icon::empty().to_bytes().unwrap().is_empty());
    }

    #[test]
    fn validation_names_the_field() {
        let ok = NewPlugin::oplog_processor("audit", "1.0.0", component(), 1);
        assert!(ok.validate().is_ok());
        let cases = [
            (NewPlugin::oplog_processor(" ", "1", component(), 1), "name"),
            (
                NewPlugin::oplog_processor("a", "", component(), 1),
                "version",
            ),
            (
                NewPlugin::oplog_processor("x".repeat(MAX_NAME_CHARS + 1), "1", component(), 1),
                "name",
            ),
            (
                ok.clone().description("d".repeat(MAX_TEXT_CHARS + 1)),
                "description",
            ),
            (
                ok.clone().homepage("h".repeat(MAX_TEXT_CHARS + 1)),
                "homepage",
            ),
            (
                NewPlugin::oplog_processor("a", "1", component(), MAX_COMPONENT_REVISION + 1),
                "spec.componentRevision",
            ),
        ];
        for (plugin, field) in cases {
            let err = plugin.validate().unwrap_err();
            assert!(err.to_string().contains(&format!("`{field}`")), "{err}");
        }
        // Characters, not bytes.
        let wide = NewPlugin::oplog_processor("é".repeat(MAX_NAME_CHARS), "1", component(), 1);
        assert!(wide.validate().is_ok());
    }

    #[test]
    fn ids_parse_into_the_crate_error() {
        let err: Error = "nope".parse::<ComponentId>().unwrap_err().into();
        assert!(err.to_string().contains("`id`"), "{err}");
    }
}
