//! The checks the server applies to ccpm/v1 requests, written out by hand so that a bad argument
//! fails before anything is sent, with the field named. Lengths count characters, as JSON Schema's
//! `maxLength` does.

use crate::error::{Error, Result};

/// Longest id the API accepts (environments, plugins, versions).
pub(crate) const MAX_ID: usize = 255;
/// Longest plugin display name.
pub(crate) const MAX_DISPLAY_NAME: usize = 60;
/// Longest plugin description.
pub(crate) const MAX_DESCRIPTION: usize = 256;
/// Longest version string.
pub(crate) const MAX_VERSION: usize = 60;
/// Most connector classes per version.
pub(crate) const MAX_CONNECTOR_CLASSES: usize = 10;
/// Longest connector class name.
pub(crate) const MAX_CLASS_NAME: usize = 150;
/// Longest sensitive property name.
pub(crate) const MAX_PROPERTY_NAME: usize = 150;
/// Longest documentation link.
pub(crate) const MAX_DOCUMENTATION_LINK: usize = 512;
/// Largest page size of the list-plugins operation.
pub(crate) const MAX_PAGE_SIZE: u32 = 100;
/// Longest page token the list-plugins operation accepts.
pub(crate) const MAX_PAGE_TOKEN: usize = 255;

pub(crate) fn max_chars(field: &str, value: &str, max: usize) -> Result<()> {
    // A string has at most as many characters as bytes: short ones need no counting.
    if value.len() <= max {
        return Ok(());
    }
    let count = value.chars().count();
    if count > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters, not {count}"),
        ));
    }
    Ok(())
}

fn not_blank(field: &str, value: &str) -> Result<()> {
    // Ids rarely start with whitespace: look at the whole value only when the first byte is.
    let starts_visible = value.as_bytes().first().is_some_and(u8::is_ascii_graphic);
    if !starts_visible && value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    Ok(())
}

/// An id, which is one segment of a request's path: not blank, kept to one segment
/// ([`crate::path_segment::check`]), at most [`MAX_ID`] characters. Everything else is
/// percent-encoded in the path.
pub(crate) fn id(field: &str, value: &str) -> Result<()> {
    not_blank(field, value)?;
    crate::path_segment::check(field, value)?;
    max_chars(field, value, MAX_ID)
}

/// A display name: not blank, at most [`MAX_DISPLAY_NAME`] characters.
pub(crate) fn display_name(field: &str, value: &str) -> Result<()> {
    not_blank(field, value)?;
    max_chars(field, value, MAX_DISPLAY_NAME)
}

/// A SemVer 2.0 version, optionally prefixed with `v`, at most [`MAX_VERSION`] characters.
pub(crate) fn version(field: &str, value: &str) -> Result<()> {
    not_blank(field, value)?;
    max_chars(field, value, MAX_VERSION)?;
    if !is_semver(value) {
        return Err(Error::invalid(
            field,
            "must be a semantic version such as 1.2.3, v1.2.3 or 1.2.3-rc.1+build.7",
        ));
    }
    Ok(())
}

/// A fully qualified Java class name, at most [`MAX_CLASS_NAME`] characters.
pub(crate) fn class_name(field: &str, value: &str) -> Result<()> {
    not_blank(field, value)?;
    max_chars(field, value, MAX_CLASS_NAME)?;
    if !is_java_class_name(value) {
        return Err(Error::invalid(
            field,
            "must be a Java class name such as com.example.MySinkConnector (dot-separated parts \
             that start with a letter and hold only letters, digits, `_` and `$`)",
        ));
    }
    Ok(())
}

/// A configuration property name: letters, digits, `_`, `+`, `.` and `-`, at most
/// [`MAX_PROPERTY_NAME`] characters.
pub(crate) fn property_name(field: &str, value: &str) -> Result<()> {
    not_blank(field, value)?;
    max_chars(field, value, MAX_PROPERTY_NAME)?;
    if !is_property_name(value) {
        return Err(Error::invalid(
            field,
            "may hold only ASCII letters, digits, `_`, `+`, `.` and `-`",
        ));
    }
    Ok(())
}

/// A documentation link: empty, or `http://` or `https://` followed by something, at most
/// [`MAX_DOCUMENTATION_LINK`] characters.
pub(crate) fn documentation_link(field: &str, value: &str) -> Result<()> {
    max_chars(field, value, MAX_DOCUMENTATION_LINK)?;
    if !is_documentation_link(value) {
        return Err(Error::invalid(
            field,
            "must be empty or start with http:// or https://",
        ));
    }
    Ok(())
}

/// A page size of the list-plugins operation.
pub(crate) fn page_size(value: u32) -> Result<()> {
    if !(1..=MAX_PAGE_SIZE).contains(&value) {
        return Err(Error::invalid(
            "page_size",
            format!("must be between 1 and {MAX_PAGE_SIZE}, not {value}"),
        ));
    }
    Ok(())
}

/// A page token given by the caller.
pub(crate) fn page_token(value: &str) -> Result<()> {
    not_blank("page_token", value)?;
    max_chars("page_token", value, MAX_PAGE_TOKEN)
}

/// SemVer 2.0.0 (`MAJOR.MINOR.PATCH[-PRE][+BUILD]`), with an optional leading `v`.
pub(crate) fn is_semver(value: &str) -> bool {
    let value = value.strip_prefix('v').unwrap_or(value);
    let (rest, build) = match value.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (value, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 || !parts.iter().all(|p| is_numeric_identifier(p)) {
        return false;
    }
    if let Some(pre) = pre {
        let valid = pre.split('.').all(|id| {
            is_alphanumeric_identifier(id)
                && (!id.bytes().all(|b| b.is_ascii_digit()) || is_numeric_identifier(id))
        });
        if !valid {
            return false;
        }
    }
    build.is_none_or(|build| build.split('.').all(is_alphanumeric_identifier))
}

/// Digits without a leading zero (or a single `0`).
fn is_numeric_identifier(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && (id == "0" || !id.starts_with('0'))
}

/// ASCII letters, digits and `-`, at least one.
fn is_alphanumeric_identifier(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Dot-separated parts, each an ASCII letter followed by letters, digits, `_` or `$`.
pub(crate) fn is_java_class_name(value: &str) -> bool {
    !value.is_empty()
        && value.split('.').all(|part| {
            let mut chars = part.chars();
            matches!(chars.next(), Some(first) if first.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        })
}

/// One or more of ASCII letters, digits, `_`, `+`, `.` and `-`.
pub(crate) fn is_property_name(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'.' | b'-'))
}

/// Empty, or `http://` / `https://` followed by at least one character that is not a newline
/// (the server's rule `^$|^(http://|https://).+`).
pub(crate) fn is_documentation_link(value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    matches!(rest.and_then(|r| r.chars().next()), Some(c) if c != '\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver() {
        for ok in [
            "1.2.3",
            "v1.2.3",
            "0.0.0",
            "1.2.3-beta",
            "1.2.3-rc.123+build.456",
            "v10.20.30-alpha.1.x-y-z+001.sha-5114f85",
            "1.0.0+20130313144700",
            "1.0.0-0.3.7",
        ] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in [
            "",
            "v",
            "1",
            "1.2",
            "1.2.3.4",
            "01.2.3",
            "1.02.3",
            "1.2.03",
            "1.2.3-",
            "1.2.3+",
            "1.2.3-01",
            "1.2.3-a..b",
            "1.2.3+a+b",
            "V1.2.3",
            "vv1.2.3",
            " 1.2.3",
            "1.2.3 ",
            "1.2.3\n",
            "a.b.c",
            "1.2.3-é",
            "-1.2.3",
            "1.2.-3",
        ] {
            assert!(!is_semver(bad), "{bad:?}");
        }
    }

    #[test]
    fn java_class_names() {
        for ok in [
            "A",
            "Connector",
            "com.example.OrdersSinkConnector",
            "io.x$y.My_Class$Inner",
            "a.b1.C2",
        ] {
            assert!(is_java_class_name(ok), "{ok}");
        }
        for bad in [
            "", ".A", "A.", "a..B", "1abc", "com.1x.A", "_A", "$A", "a-b.C", "a b", "ä.B", "A\n",
        ] {
            assert!(!is_java_class_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn property_names() {
        for ok in ["connection.password", "a", "x+y-z_0.9", "A_B"] {
            assert!(is_property_name(ok), "{ok}");
        }
        for bad in ["", "a b", "a/b", "ü", "a\n", "a:b"] {
            assert!(!is_property_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn documentation_links() {
        for ok in ["", "http://a", "https://docs.example.com/x", "https://x y"] {
            assert!(is_documentation_link(ok), "{ok}");
        }
        for bad in [
            "https://",
            "http://",
            "ftp://x",
            "HTTPS://x",
            "docs.example.com",
            " https://x",
            "https://\nx",
        ] {
            assert!(!is_documentation_link(bad), "{bad:?}");
        }
    }

    #[test]
    fn lengths_count_characters() {
        assert!(display_name("f", &"é".repeat(60)).is_ok());
        let err = display_name("f", &"é".repeat(61)).unwrap_err();
        assert!(err.to_string().contains("at most 60"), "{err}");
        assert!(display_name("f", "  ").is_err());
        assert!(id("environment", &"e".repeat(255)).is_ok());
        assert!(id("environment", &"e".repeat(256)).is_err());
    }

    #[test]
    fn ids_stay_one_path_segment() {
        for bad in ["", " ", ".", "..", "a\\b", "..\\..\\x"] {
            let err = id("plugin_id", bad).unwrap_err();
            assert!(err.to_string().contains("`plugin_id`"), "{bad:?}: {err}");
        }
        for ok in ["ccp-1", "a/b", "...", ".x", "a?b#c%d", "tab\tin"] {
            assert!(id("plugin_id", ok).is_ok(), "{ok:?}");
        }
    }
}
