//! Reading response bodies within a size limit.

use crate::error::MAX_ERROR_BODY_BYTES;
use bytes::Bytes;
use futures::StreamExt as _;

/// Default limit on a success body: far more than any answer of either API.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 32 * 1024 * 1024;

/// The error a response body reports when it is longer than the client accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the response body is longer than the limit of {limit} bytes")]
pub(crate) struct BodyTooLarge {
    /// The limit, in bytes.
    pub(crate) limit: u64,
}

/// `response` with its body held to `limit` bytes. A response that announces a length within
/// the limit is returned as it came (its body cannot run longer); one that announces more fails
/// as soon as its body is read, without reading it; one that announces nothing fails once its
/// body passes the limit.
pub(crate) fn limit_body(mut response: reqwest::Response, limit: u64) -> reqwest::Response {
    let announced = response.content_length().or_else(|| {
        let header = response.headers().get(reqwest::header::CONTENT_LENGTH)?;
        header.to_str().ok()?.parse().ok()
    });
    if announced.is_some_and(|length| length <= limit) {
        return response;
    }
    let head = take_head(&mut response);
    let body = if announced.is_some() {
        reqwest::Body::wrap_stream(futures::stream::once(async move {
            Err::<Bytes, BoxError>(Box::new(BodyTooLarge { limit }))
        }))
    } else {
        let mut length = 0u64;
        reqwest::Body::wrap_stream(response.bytes_stream().map(move |chunk| {
            let chunk = chunk?;
            length = length.saturating_add(chunk.len() as u64);
            if length > limit {
                return Err::<Bytes, BoxError>(Box::new(BodyTooLarge { limit }));
            }
            Ok(chunk)
        }))
    };
    reqwest::Response::from(http::Response::from_parts(head, body))
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The head of `response`, its headers and extensions moved out, for a response rebuilt around
/// another body.
fn take_head(response: &mut reqwest::Response) -> http::response::Parts {
    use reqwest::ResponseBuilderExt as _;
    // reqwest keeps the URL of a response rebuilt from parts in an extension; without it, it
    // would make one up.
    let (mut head, ()) = http::Response::builder()
        .url(response.url().clone())
        .body(())
        .unwrap_or_default()
        .into_parts();
    head.status = response.status();
    head.version = response.version();
    head.headers = std::mem::take(response.headers_mut());
    head.extensions
        .extend(std::mem::take(response.extensions_mut()));
    head
}

/// Reads at most [`MAX_ERROR_BODY_BYTES`] of an error body; a broken body yields what arrived.
pub(crate) async fn read_error_body(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_ERROR_BODY_BYTES - body.len();
        if chunk.len() >= room {
            body.extend_from_slice(&chunk[..room]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    body
}

/// `true` when `error` or one of its causes is a [`BodyTooLarge`].
pub(crate) fn too_large(error: &(dyn std::error::Error + 'static)) -> Option<BodyTooLarge> {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(too_large) = error.downcast_ref::<BodyTooLarge>() {
            return Some(*too_large);
        }
        cause = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(length: Option<u64>, chunks: Vec<&'static [u8]>) -> reqwest::Response {
        let stream = futures::stream::iter(
            chunks
                .into_iter()
                .map(|chunk| Ok::<_, std::io::Error>(Bytes::from_static(chunk))),
        );
        let mut response = http::Response::new(reqwest::Body::wrap_stream(stream));
        if let Some(length) = length {
            response
                .headers_mut()
                .insert(reqwest::header::CONTENT_LENGTH, length.into());
        }
        reqwest::Response::from(response)
    }

    #[tokio::test]
    async fn a_body_within_the_limit_reads_whole() {
        let body = limit_body(response(None, vec![b"12345", b"67890"]), 10);
        assert_eq!(&body.bytes().await.unwrap()[..], b"1234567890");
        let sent = reqwest::Response::from(http::Response::new(Bytes::from_static(b"{}")));
        let kept = limit_body(sent, 2);
        assert_eq!(kept.content_length(), Some(2));
        assert_eq!(&kept.bytes().await.unwrap()[..], b"{}");
    }

    #[tokio::test]
    async fn a_longer_body_fails_naming_the_limit() {
        let long = limit_body(response(None, vec![b"12345", b"67890", b"x"]), 10);
        let error = long.bytes().await.unwrap_err();
        assert_eq!(too_large(&error), Some(BodyTooLarge { limit: 10 }));
        // Announced longer: fails without waiting for the body.
        let announced = limit_body(response(Some(1 << 40), vec![]), 10);
        let error = announced.bytes().await.unwrap_err();
        assert_eq!(too_large(&error), Some(BodyTooLarge { limit: 10 }));
    }

    #[tokio::test]
    async fn the_head_is_kept() {
        let stream = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"{}"))]);
        let mut head = http::Response::new(reqwest::Body::wrap_stream(stream));
        *head.status_mut() = reqwest::StatusCode::ACCEPTED;
        head.headers_mut().insert(
            "x-request-id",
            reqwest::header::HeaderValue::from_static("r-1"),
        );
        let sent = reqwest::Response::from(head);
        let url = sent.url().clone();
        let limited = limit_body(sent, 10);
        assert_eq!(limited.status(), reqwest::StatusCode::ACCEPTED);
        assert_eq!(limited.headers()["x-request-id"], "r-1");
        assert_eq!(limited.url(), &url);
    }

    #[test]
    fn too_large_is_not_found_in_other_errors() {
        assert_eq!(too_large(&std::io::Error::other("x")), None);
    }
}
