//! A request that got no answer, said in words: which server, what broke and, for a timeout,
//! which one.
//!
//! reqwest's own text ("error sending request") keeps the reason in its chain of causes; the
//! crate's one line names it. Only the server's host and port are named: the path and query of a
//! presigned upload URL carry its signature.

use std::error::Error as StdError;
use std::time::Duration;

use crate::error::{Error, Service};

/// The time limits a failed request ran under, where the crate knows them (not for a
/// caller-built HTTP client).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    /// The limit on the whole request, with the name of its setting (`request`, `upload`).
    pub(crate) request: Option<(&'static str, Duration)>,
    /// The limit on establishing the connection.
    pub(crate) connect: Option<Duration>,
}

/// The error for a request that failed without an answer. The URL is removed from `source`.
pub(crate) fn transport_error(
    service: Service,
    operation: &'static str,
    attempts: u32,
    source: reqwest::Error,
    limits: Limits,
) -> Error {
    let server = source.url().map(server_of);
    let reason = describe(&source, server.as_deref(), limits);
    Error::Transport {
        service,
        operation,
        timeout: source.is_timeout(),
        server,
        reason,
        attempts,
        source: source.without_url(),
    }
}

/// What went wrong with a request that got no answer, naming its server, under the HTTP
/// client's own time limits.
pub(crate) fn describe_failure(source: &reqwest::Error) -> String {
    let server = source.url().map(server_of);
    describe(source, server.as_deref(), Limits::default())
}

/// `host:port` of a URL (the scheme's port when none is written).
fn server_of(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// What went wrong, e.g. `cannot connect to 127.0.0.1:9: connection refused`.
fn describe(source: &reqwest::Error, server: Option<&str>, limits: Limits) -> String {
    let server = server.unwrap_or("the server");
    if source.is_timeout() {
        return if source.is_connect() {
            format!(
                "cannot connect to {server}: no connection within the {}",
                limit_text("connect", limits.connect)
            )
        } else {
            let (name, limit) = limits.request.unwrap_or(("request", Duration::ZERO));
            let limit = (!limit.is_zero()).then_some(limit);
            format!(
                "request to {server} exceeded the {}",
                limit_text(name, limit)
            )
        };
    }
    let cause = cause(source);
    if source.is_connect() {
        if source.is_dns() {
            return format!("cannot connect to {server}: DNS lookup failed: {cause}");
        }
        let https = source.url().is_some_and(|url| url.scheme() == "https");
        if https && !has_os_error(source) {
            return format!("cannot connect to {server}: TLS handshake failed: {cause}");
        }
        return format!("cannot connect to {server}: {cause}");
    }
    if source.is_body() || source.is_decode() {
        return format!("the answer from {server} broke off: {cause}");
    }
    format!("request to {server} failed: {cause}")
}

/// `request timeout of 30s`, or the HTTP client's own when the crate does not know it.
fn limit_text(name: &str, limit: Option<Duration>) -> String {
    match limit {
        Some(limit) if limit.subsec_nanos() == 0 => {
            format!("{name} timeout of {}s", limit.as_secs())
        }
        Some(limit) => format!("{name} timeout of {}ms", limit.as_millis()),
        None => format!("HTTP client's {name} timeout"),
    }
}

/// The innermost cause's text; an operating-system error without its number
/// (`connection refused`, not `Connection refused (os error 111)`).
fn cause(source: &reqwest::Error) -> String {
    let mut innermost: &(dyn StdError + 'static) = source;
    while let Some(next) = innermost.source() {
        if let Some(io) = next.downcast_ref::<std::io::Error>()
            && let Some(code) = io.raw_os_error()
        {
            let text = io.to_string();
            let text = text
                .strip_suffix(&format!(" (os error {code})"))
                .unwrap_or(&text);
            let mut chars = text.chars();
            return match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => io.kind().to_string(),
            };
        }
        innermost = next;
    }
    innermost.to_string()
}

/// `true` when an operating-system error is among the causes: the failure was in the socket,
/// not in the TLS handshake on top of it.
fn has_os_error(source: &reqwest::Error) -> bool {
    let mut next = source.source();
    while let Some(error) = next {
        if error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.raw_os_error().is_some())
        {
            return true;
        }
        next = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_name_their_setting_and_duration() {
        assert_eq!(
            limit_text("connect", Some(Duration::from_secs(10))),
            "connect timeout of 10s"
        );
        assert_eq!(
            limit_text("upload", Some(Duration::from_millis(1500))),
            "upload timeout of 1500ms"
        );
        assert_eq!(limit_text("request", None), "HTTP client's request timeout");
    }

    #[test]
    fn servers_are_host_and_port_only() {
        let url =
            reqwest::Url::parse("https://bucket.example.com/key?X-Amz-Signature=s3cr3t").unwrap();
        assert_eq!(server_of(&url), "bucket.example.com:443");
        let url = reqwest::Url::parse("http://[::1]:8080/p").unwrap();
        assert_eq!(server_of(&url), "[::1]:8080");
    }
}
