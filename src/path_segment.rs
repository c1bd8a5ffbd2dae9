//! Text that goes into a request path as one parameter must stay one segment of it.
//!
//! The generated operations percent-encode what URLs reserve (`/`, `?`, `#`, `%`, spaces,
//! controls), but three values survive the encoding and change the path the `url` crate builds:
//! `.` and `..` (read as "this" and "the parent" segment, and resolved away) and anything with a
//! `\` (read as `/`). An empty value would drop the segment. These are refused before sending.

use crate::error::{Error, Result};

/// Checks that `value` stays one path segment once encoded; `field` names the parameter.
pub(crate) fn check(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value == "." || value == ".." {
        return Err(Error::invalid(
            field,
            "must not be `.` or `..`, which would address another path",
        ));
    }
    if value.contains('\\') {
        return Err(Error::invalid(
            field,
            "must not contain `\\`, which URLs read as a path separator",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_would_leave_their_segment_are_refused() {
        for bad in ["", ".", "..", "a\\b", "\\"] {
            let err = check("agent_name", bad).unwrap_err();
            assert!(err.to_string().contains("`agent_name`"), "{bad:?}: {err}");
        }
        for good in [
            "a",
            "...",
            ".a",
            "a/b",
            "a?b#c",
            "%2e%2e",
            "counter(\"x\")",
            " ",
        ] {
            assert!(check("agent_name", good).is_ok(), "{good:?}");
        }
    }
}
