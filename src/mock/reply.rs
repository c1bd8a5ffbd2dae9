//! Small building blocks shared by the fakes: a response description that converts into a
//! wiremock template without any chance of panicking, random identifiers and URL encoding.

use std::time::Duration;

use wiremock::ResponseTemplate;

/// Media type of Golem's JSON responses.
pub(crate) const GOLEM_JSON: &str = "application/json; charset=utf-8";
/// Media type of Confluent's JSON responses.
pub(crate) const CONFLUENT_JSON: &str = "application/json";
/// Media type of plain-text error bodies (poem's default error rendering).
pub(crate) const TEXT: &str = "text/plain; charset=utf-8";
/// Media type of cloud storage error bodies.
pub(crate) const XML: &str = "application/xml";

/// Everything needed to answer one request.
///
/// wiremock's `ResponseTemplate` panics on an invalid status code or header value; building
/// responses through this type keeps every value checked in one place.
#[derive(Debug)]
pub(crate) struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Option<(Vec<u8>, &'static str)>,
}

impl Reply {
    /// A response with no body.
    pub(crate) fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: None,
        }
    }

    /// A JSON response with the given media type.
    pub(crate) fn json(status: u16, value: &serde_json::Value, content_type: &'static str) -> Self {
        // Serialising a `Value` cannot fail: every map key is already a string.
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        Self {
            status,
            headers: Vec::new(),
            body: Some((bytes, content_type)),
        }
    }

    /// A plain-text response.
    pub(crate) fn text(status: u16, text: impl Into<String>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Some((text.into().into_bytes(), TEXT)),
        }
    }

    /// An XML response.
    pub(crate) fn xml(status: u16, xml: String) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Some((xml.into_bytes(), XML)),
        }
    }

    /// Adds a header (replacing nothing: callers never add the same header twice).
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The status code.
    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    /// The body bytes, if any.
    #[cfg(test)]
    pub(crate) fn body(&self) -> &[u8] {
        self.body.as_ref().map(|(b, _)| b.as_slice()).unwrap_or(&[])
    }

    /// Converts into a wiremock template, delayed by `delay` when given.
    pub(crate) fn into_template(self, delay: Option<Duration>) -> ResponseTemplate {
        // `http::StatusCode` accepts 100..=999 only.
        let status = if (100..=999).contains(&self.status) {
            self.status
        } else {
            500
        };
        let mut template = ResponseTemplate::new(status);
        for (name, value) in self.headers {
            template = template.insert_header(name, header_safe(&value));
        }
        if let Some((bytes, content_type)) = self.body {
            template = template.set_body_raw(bytes, content_type);
        }
        if let Some(delay) = delay {
            template = template.set_delay(delay);
        }
        template
    }
}

/// Drops the characters a header value may not carry, so that building the response cannot fail.
fn header_safe(value: &str) -> String {
    value
        .chars()
        .filter(|c| *c == '\t' || (' '..='~').contains(c))
        .collect()
}

/// Random bytes from the operating system's generator (through uuid's v4 generator).
fn random_bytes(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        let bytes = uuid::Uuid::new_v4().into_bytes();
        // Bytes 6 and 8 carry the fixed version and variant bits.
        out.extend(
            bytes
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != 6 && *i != 8)
                .map(|(_, b)| *b),
        );
    }
    out.truncate(len);
    out
}

fn random_from(alphabet: &[u8], len: usize) -> String {
    random_bytes(len)
        .into_iter()
        .map(|b| char::from(alphabet[usize::from(b) % alphabet.len()]))
        .collect()
}

/// `len` random characters from `[a-z0-9]`.
pub(crate) fn random_lower_alnum(len: usize) -> String {
    random_from(b"abcdefghijklmnopqrstuvwxyz0123456789", len)
}

/// `len` random characters from `[A-Z0-9]`.
pub(crate) fn random_upper_alnum(len: usize) -> String {
    random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", len)
}

/// `len` random characters from `[A-Za-z0-9]`.
pub(crate) fn random_alnum(len: usize) -> String {
    random_from(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        len,
    )
}

/// `len` random lowercase hexadecimal digits.
pub(crate) fn random_hex(len: usize) -> String {
    random_from(b"0123456789abcdef", len)
}

/// Everything but the RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const QUERY_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a query-string component (everything except RFC 3986 unreserved characters).
pub(crate) fn encode_query(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, QUERY_COMPONENT).to_string()
}

/// Escapes text for inclusion in an XML element.
pub(crate) fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Whole seconds in `d`, rounded up.
pub(crate) fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The current time as RFC 3339 in UTC with whole seconds, e.g. `2026-01-02T03:04:05Z`.
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The standard reason phrase of a status code, for error titles and plain-text bodies.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("Error")
}

/// Decoded name–value pairs of a query string or a form body; the first of a name counts.
pub(crate) struct Pairs(Vec<(String, String)>);

impl Pairs {
    /// Decodes `application/x-www-form-urlencoded` text.
    pub(crate) fn parse(encoded: &[u8]) -> Self {
        Pairs(
            url::form_urlencoded::parse(encoded)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The value of the first pair named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The value of a request header as text, if present and valid UTF-8.
pub(crate) fn header<'a>(request: &'a wiremock::Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The media type of a `Content-Type` header without parameters, lowercased.
pub(crate) fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_status_and_header_values_do_not_panic() {
        let _ = Reply::empty(42)
            .header("x-test", "line\r\nbreak\u{7f}é")
            .into_template(None);
    }

    #[test]
    fn random_strings_use_their_alphabet() {
        let s = random_lower_alnum(40);
        assert_eq!(s.len(), 40);
        assert!(
            s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert_ne!(random_hex(32), random_hex(32));
    }

    #[test]
    fn query_encoding_and_ceil() {
        assert_eq!(encode_query("a b/c+d"), "a%20b%2Fc%2Bd");
        assert_eq!(encode_query("Az09-._~é"), "Az09-._~%C3%A9");
        assert_eq!(reason_phrase(413), "Payload Too Large");
        assert_eq!(reason_phrase(599), "Error");
        assert_eq!(ceil_secs(Duration::from_millis(1500)), 2);
        assert_eq!(ceil_secs(Duration::ZERO), 0);
        assert_eq!(ceil_secs(Duration::from_secs(3)), 3);
    }
}
