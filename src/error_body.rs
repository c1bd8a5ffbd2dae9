//! Turns an error response of either API into an [`ApiError`].
//!
//! The decoders are pure functions over status, headers and (bounded) body bytes, so they can be
//! tested and fuzzed without a server. Whatever the body holds (JSON of the documented shape, JSON
//! of another shape, plain text, HTML, nothing) the result is an `ApiError` with the status kept.

use std::time::SystemTime;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, WWW_AUTHENTICATE};
use serde::Deserialize;

use crate::error::{ApiError, ErrorDetail, ErrorKind, MAX_ERROR_BODY_BYTES, Service};
use crate::ratelimit::{self, RateLimit};

impl ApiError {
    /// Builds the error the crate reports for an error response with these parts: the body is
    /// decoded as `service`'s error format (at most [`MAX_ERROR_BODY_BYTES`] of it are looked at),
    /// falling back to the raw text. Useful to test code that handles errors.
    pub fn from_parts(
        service: Service,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> ApiError {
        let body = &body[..body.len().min(MAX_ERROR_BODY_BYTES)];
        decode(service, "unknown", status, headers, body, 1)
    }
}

/// The category of an error status, per service.
pub(crate) fn kind_for(service: Service, status: StatusCode) -> ErrorKind {
    match status.as_u16() {
        401 => ErrorKind::Unauthorized,
        402 => ErrorKind::LimitExceeded,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        408 => ErrorKind::Timeout,
        409 => ErrorKind::Conflict,
        // Golem documents 422 as "Limits of the plan exceeded"; elsewhere it is a validation error.
        422 if service == Service::Golem => ErrorKind::LimitExceeded,
        429 => ErrorKind::RateLimited,
        400..=499 => ErrorKind::BadRequest,
        500..=599 => ErrorKind::ServerError,
        _ => ErrorKind::UnexpectedStatus,
    }
}

/// Decodes an error response of `service` from its parts.
pub(crate) fn decode(
    service: Service,
    operation: &'static str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    attempts: u32,
) -> ApiError {
    let decoded = match service {
        Service::Golem => decode_golem(body),
        Service::Confluent | Service::Storage => decode_confluent(body),
    };
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|s| crate::error::one_line(s, 1024))
    };
    let rate_limit = RateLimit::from_headers(headers);
    ApiError {
        service,
        operation,
        status,
        kind: kind_for(service, status),
        code: decoded.code,
        messages: decoded.messages,
        details: decoded.details,
        request_id: ratelimit::request_id(headers).or(decoded.request_id),
        raw_body: decoded.raw_body,
        www_authenticate: header(WWW_AUTHENTICATE),
        location: header(LOCATION),
        retry_after: ratelimit::requested_wait(status, headers, SystemTime::now()),
        rate_limit,
        attempts: attempts.max(1),
    }
}

/// What an error body said, independent of the service.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DecodedErrorBody {
    /// Machine code.
    pub code: Option<String>,
    /// Human-readable messages.
    pub messages: Vec<String>,
    /// Confluent `Failure` entries.
    pub details: Vec<ErrorDetail>,
    /// A request id carried in the body (Confluent's newer error shape).
    pub request_id: Option<String>,
    /// The body as text, when it was not a documented JSON error.
    pub raw_body: Option<String>,
}

fn raw_text(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    Some(String::from_utf8_lossy(body).into_owned())
}

/// A non-JSON body's text becomes the message when it is short plain text (Golem answers
/// `authorization error`, `parse request payload error: ...`); HTML pages stay raw only.
fn plain_text_message(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.starts_with('<') || trimmed.len() > 1024 {
        return Vec::new();
    }
    vec![crate::error::one_line(trimmed, 300)]
}

/// Decodes a Golem error body: `{code, error}`, `{code, errors[]}` (code optional for older
/// servers), or anything else kept raw.
pub fn decode_golem(body: &[u8]) -> DecodedErrorBody {
    #[derive(Deserialize)]
    struct GolemBody {
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        errors: Option<Vec<serde_json::Value>>,
    }
    match serde_json::from_slice::<GolemBody>(body) {
        Ok(parsed) if parsed.error.is_some() || parsed.errors.is_some() => {
            let mut messages = Vec::new();
            if let Some(error) = parsed.error {
                messages.push(error);
            }
            for item in parsed.errors.unwrap_or_default() {
                match item {
                    serde_json::Value::String(s) => messages.push(s),
                    other => messages.push(other.to_string()),
                }
            }
            DecodedErrorBody {
                code: parsed.code.filter(|c| !c.is_empty()),
                messages,
                ..Default::default()
            }
        }
        Ok(parsed) => DecodedErrorBody {
            code: parsed.code,
            raw_body: raw_text(body),
            ..Default::default()
        },
        Err(_) => DecodedErrorBody {
            messages: plain_text_message(body),
            raw_body: raw_text(body),
            ..Default::default()
        },
    }
}

/// Decodes a Confluent error body: `Failure {errors: [...]}` with every entry kept, the newer
/// `{status, error: {code, message}, requestId}` shape, or anything else kept raw.
pub fn decode_confluent(body: &[u8]) -> DecodedErrorBody {
    #[derive(Deserialize)]
    struct Failure {
        errors: Vec<serde_json::Value>,
    }
    #[derive(Deserialize)]
    struct Nested {
        #[serde(default)]
        code: Option<serde_json::Value>,
        #[serde(default)]
        message: Option<String>,
    }
    #[derive(Deserialize)]
    struct Newer {
        error: Nested,
        #[serde(default, rename = "requestId")]
        request_id: Option<String>,
    }
    if let Ok(failure) = serde_json::from_slice::<Failure>(body) {
        // Entries are decoded one by one so that one odd entry does not lose the others.
        let details: Vec<ErrorDetail> = failure
            .errors
            .into_iter()
            .map(|e| serde_json::from_value(e).unwrap_or_default())
            .collect();
        let code = details.iter().find_map(|d| d.code.clone());
        let messages = details
            .iter()
            .filter_map(|d| d.text().map(str::to_string))
            .collect();
        return DecodedErrorBody {
            code,
            messages,
            details,
            ..Default::default()
        };
    }
    if let Ok(newer) = serde_json::from_slice::<Newer>(body) {
        let code = newer.error.code.map(|c| match c {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        });
        return DecodedErrorBody {
            code,
            messages: newer.error.message.into_iter().collect(),
            request_id: newer.request_id,
            ..Default::default()
        };
    }
    let is_json = serde_json::from_slice::<serde_json::Value>(body).is_ok();
    DecodedErrorBody {
        messages: if is_json {
            Vec::new()
        } else {
            plain_text_message(body)
        },
        raw_body: raw_text(body),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golem_both_shapes_and_legacy() {
        let one = decode_golem(br#"{"code":"PLUGIN_REGISTRATION_NOT_FOUND","error":"gone"}"#);
        assert_eq!(one.code.as_deref(), Some("PLUGIN_REGISTRATION_NOT_FOUND"));
        assert_eq!(one.messages, vec!["gone"]);
        assert!(one.raw_body.is_none());
        let many = decode_golem(br#"{"code":"X","errors":["a","b"]}"#);
        assert_eq!(many.messages, vec!["a", "b"]);
        let legacy = decode_golem(br#"{"error":"old"}"#);
        assert_eq!(legacy.code, None);
        assert_eq!(legacy.messages, vec!["old"]);
        let text = decode_golem(b"authorization error");
        assert_eq!(text.messages, vec!["authorization error"]);
        assert_eq!(text.raw_body.as_deref(), Some("authorization error"));
        let html = decode_golem(b"<html><body>Bad gateway</body></html>");
        assert!(html.messages.is_empty());
        assert!(html.raw_body.unwrap().contains("Bad gateway"));
        let other_json = decode_golem(br#"{"unexpected":true}"#);
        assert!(other_json.messages.is_empty());
        assert!(other_json.raw_body.is_some());
        assert_eq!(decode_golem(b""), DecodedErrorBody::default());
    }

    #[test]
    fn confluent_failure_keeps_every_entry() {
        let body = br#"{"errors":[{"id":"1","status":"400","code":"invalid_filter","title":"T","detail":"D","source":{"parameter":"num_doors"}},{"code":"other","title":"Only title","error_code":7,"message":null}]}"#;
        let d = decode_confluent(body);
        assert_eq!(d.details.len(), 2);
        assert_eq!(d.code.as_deref(), Some("invalid_filter"));
        assert_eq!(d.messages, vec!["D", "Only title"]);
        assert_eq!(
            d.details[0].source.as_ref().unwrap().parameter.as_deref(),
            Some("num_doors")
        );
        assert_eq!(d.details[1].error_code, Some(7));
    }

    #[test]
    fn confluent_newer_shape_and_fallbacks() {
        let d = decode_confluent(
            br#"{"status":404,"error":{"code":"not_found","message":"nope"},"requestId":"r-1"}"#,
        );
        assert_eq!(d.code.as_deref(), Some("not_found"));
        assert_eq!(d.messages, vec!["nope"]);
        assert_eq!(d.request_id.as_deref(), Some("r-1"));
        let truncated = decode_confluent(br#"{"errors":[{"code":"x""#);
        assert!(truncated.details.is_empty());
        assert!(truncated.raw_body.is_some());
        assert_eq!(decode_confluent(b""), DecodedErrorBody::default());
    }

    #[test]
    fn kinds_per_service() {
        let s = |c| StatusCode::from_u16(c).unwrap();
        assert_eq!(kind_for(Service::Golem, s(422)), ErrorKind::LimitExceeded);
        assert_eq!(kind_for(Service::Confluent, s(422)), ErrorKind::BadRequest);
        assert_eq!(
            kind_for(Service::Confluent, s(402)),
            ErrorKind::LimitExceeded
        );
        assert_eq!(kind_for(Service::Golem, s(415)), ErrorKind::BadRequest);
        assert_eq!(kind_for(Service::Golem, s(503)), ErrorKind::ServerError);
        assert_eq!(
            kind_for(Service::Golem, s(302)),
            ErrorKind::UnexpectedStatus
        );
    }
}
