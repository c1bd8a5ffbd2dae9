//! What kind of plugin a registration is: the `type`-tagged `spec` union.
//!
//! Hand-written rather than generated because it must stay open: a server may know plugin
//! `type`s this crate does not, and a plugin of such a type must still decode.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{ComponentId, OplogProcessor};

/// What kind of plugin a registration is (the `type`-tagged `spec` union; the tag sits next to the
/// variant's fields in one object).
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

/// The tag of an oplog-processor spec.
const OPLOG_PROCESSOR: &str = "OplogProcessor";

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
            PluginSpec::OplogProcessor(_) => OPLOG_PROCESSOR,
            PluginSpec::Unknown { type_name, .. } => type_name,
        }
    }
}

impl Serialize for PluginSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut object = match self {
            PluginSpec::OplogProcessor(spec) => match serde_json::to_value(spec) {
                Ok(serde_json::Value::Object(map)) => map,
                Ok(_) => serde_json::Map::new(),
                Err(e) => return Err(serde::ser::Error::custom(e)),
            },
            PluginSpec::Unknown { fields, .. } => fields.clone(),
        };
        object.insert("type".into(), self.type_name().into());
        object.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PluginSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut object = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let type_name = match object.remove("type") {
            Some(serde_json::Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        if type_name == OPLOG_PROCESSOR {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_tag_sits_next_to_the_fields() {
        let component: ComponentId = "616ccd92-d666-4180-8349-8d125b269fac".parse().unwrap();
        let spec = PluginSpec::oplog_processor(component, 3);
        let wire = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            wire,
            json!({"type": "OplogProcessor", "componentId": "616ccd92-d666-4180-8349-8d125b269fac", "componentRevision": 3})
        );
        assert_eq!(serde_json::from_value::<PluginSpec>(wire).unwrap(), spec);
    }

    #[test]
    fn unknown_types_are_kept_as_received() {
        let wire = json!({"type": "ComponentTransformer", "transformUrl": "https://t"});
        let spec: PluginSpec = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(spec.type_name(), "ComponentTransformer");
        assert_eq!(serde_json::to_value(&spec).unwrap(), wire);
    }

    #[test]
    fn a_known_type_with_bad_fields_is_an_error() {
        let wire = json!({"type": "OplogProcessor", "componentId": "nope"});
        assert!(serde_json::from_value::<PluginSpec>(wire).is_err());
    }
}
