//! Input decoding and invariant checks shared by the fuzz targets.
//!
//! Inputs use simple layouts so that seeds can be written by hand (see `seeds/`).

use cloud_plugin_sdk::{ApiError, Service};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// Splits an input into a status (its first two bytes, big-endian; values outside 100..=999 are
/// folded into that range) and the rest, the body.
pub fn status_and_body(data: &[u8]) -> Option<(StatusCode, &[u8])> {
    let (head, body) = data.split_first_chunk::<2>()?;
    let raw = u16::from_be_bytes(*head);
    let status = StatusCode::from_u16(raw)
        .or_else(|_| StatusCode::from_u16(100 + raw % 900))
        .ok()?;
    Some((status, body))
}

/// `true` when the text has no line break, tab or other control character (only plain spaces
/// separate words) and no invisible Unicode format character (bidi controls, zero-width
/// characters, byte-order marks, tags).
pub fn is_one_line(text: &str) -> bool {
    !text.chars().any(|c| {
        c.is_control()
            || (c.is_whitespace() && c != ' ')
            || matches!(
                c,
                '\u{ad}'
                    | '\u{600}'..='\u{605}'
                    | '\u{61c}'
                    | '\u{6dd}'
                    | '\u{70f}'
                    | '\u{180e}'
                    | '\u{200b}'..='\u{200f}'
                    | '\u{202a}'..='\u{202e}'
                    | '\u{2060}'..='\u{2064}'
                    | '\u{2066}'..='\u{206f}'
                    | '\u{feff}'
                    | '\u{fff9}'..='\u{fffb}'
                    | '\u{e0001}'
                    | '\u{e0020}'..='\u{e007f}'
            )
    })
}

/// Decodes an error response of `service` and checks what must hold for any input.
pub fn check_error_response(service: Service, data: &[u8]) -> Option<ApiError> {
    let (status, body) = status_and_body(data)?;
    let err = ApiError::from_parts(service, status, &HeaderMap::new(), body);
    assert_eq!(err.status(), status, "the status must be kept");
    assert_eq!(err.service(), service);
    let shown = err.to_string();
    assert!(is_one_line(&shown), "Display must be one line: {shown:?}");
    assert!(
        shown.starts_with(&format!("{service} ")),
        "Display starts with the service: {shown:?}"
    );
    assert!(
        shown.contains(status.as_str()),
        "Display shows the status: {shown:?}"
    );
    if let Some(raw) = err.raw_body() {
        assert!(!body.is_empty(), "an empty body has no raw text");
        assert!(raw.len() <= 4 * body.len(), "raw text comes from the body");
    }
    // Converting to the crate error keeps everything the accessors report.
    let as_error: cloud_plugin_sdk::Error = err.clone().into();
    assert_eq!(as_error.status(), Some(status));
    assert_eq!(as_error.to_string(), shown);
    Some(err)
}
