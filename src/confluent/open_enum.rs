//! The API's open enumerations (`x-extensible-enum`), which build.rs puts in place of the
//! generated types: a server may add values, and a value this crate does not know must decode.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

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
        #[non_exhaustive]
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

            /// Checks that the value can be sent: not empty, no surrounding whitespace or
            /// control characters.
            #[allow(dead_code, reason = "only the enums requests carry are checked")]
            pub(crate) fn validate(&self, field: &str) -> Result<()> {
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
                let value = String::deserialize(deserializer)?;
                Ok($name::from_wire(&value))
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
        /// Processing failed; see [`VersionStatus::error_message`](super::VersionStatus::error_message).
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

open_enum!(
    /// Where a version's archive was uploaded.
    UploadLocation, "location",
    {
        /// Through a presigned upload URL.
        PresignedUrl => "PRESIGNED_URL_LOCATION",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_are_kept_and_known_ones_match_in_any_case() {
        let cloud: Cloud = serde_json::from_str("\"aws\"").unwrap();
        assert_eq!(cloud, Cloud::Aws);
        assert_eq!(serde_json::to_string(&cloud).unwrap(), "\"AWS\"");
        let other: Cloud = serde_json::from_str("\"ORACLE\"").unwrap();
        assert_eq!(other, Cloud::Other("ORACLE".into()));
        assert!(!other.is_known());
        assert_eq!(serde_json::to_string(&other).unwrap(), "\"ORACLE\"");
        assert_eq!("ready".parse::<Phase>().unwrap(), Phase::Ready);
        assert!("  ".parse::<Phase>().is_err());
        assert!(Phase::Failed.is_terminal() && !Phase::Processing.is_terminal());
    }

    #[test]
    fn values_that_cannot_be_sent_are_refused() {
        assert!(Cloud::Other(String::new()).validate("cloud").is_err());
        assert!(Cloud::Other(" AWS".into()).validate("cloud").is_err());
        assert!(Cloud::Other("A\nB".into()).validate("cloud").is_err());
        assert!(Cloud::Other("ORACLE".into()).validate("cloud").is_ok());
    }

    #[test]
    fn formats_from_file_names() {
        assert_eq!(
            ContentFormat::from_file_name("a.ZIP"),
            Some(ContentFormat::Zip)
        );
        assert_eq!(
            ContentFormat::from_file_name("a.jar"),
            Some(ContentFormat::Jar)
        );
        assert_eq!(ContentFormat::from_file_name("a.tar.gz"), None);
        assert_eq!(ContentFormat::from_file_name("zip"), None);
    }
}
