//! Reading response bodies within a size limit.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;

use crate::error::MAX_ERROR_BODY_BYTES;

/// Default limit on a success body: far more than any answer of either API.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 32 * 1024 * 1024;


/// The error a response body reports when it is longer than the client accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the response body is longer than the limit of {limit} bytes")]
pub(crate) struct BodyTooLarge {
    /// The limit, in bytes.
    pub(crate) limit: u64,
}

/// Reads a whole body of at most `limit` bytes. `Ok(None)` when it is longer: reading stops at
/// the limit.
pub(crate) async fn read_body(mut body: reqwest::Body, limit: u64) -> reqwest::Result<Option<Bytes>> {
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    let mut length = 0u64;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        length = length.saturating_add(data.len() as u64);
        if length > limit {
            return Ok(None);
        }
        // A body that arrives in one piece (most JSON answers) is kept as it came.
        match (&mut joined, first.take()) {
            (Some(joined), _) => joined.extend_from_slice(&data),
            (None, Some(earlier)) => {
                let mut buffer = BytesMut::with_capacity(earlier.len() + data.len());
                buffer.extend_from_slice(&earlier);
                buffer.extend_from_slice(&data);
                joined = Some(buffer);
            }
            (None, None) => first = Some(data),
        }
    }
    Ok(Some(match (joined, first) {
        (Some(joined), _) => joined.freeze(),
        (None, Some(first)) => first,
        (None, None) => Bytes::new(),
    }))
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

    fn streamed(chunks: Vec<std::io::Result<&'static [u8]>>) -> reqwest::Body {
        let chunks = chunks
            .into_iter()
            .map(|chunk| chunk.map(Bytes::from_static));
        reqwest::Body::wrap_stream(futures::stream::iter(chunks))
    }

    #[tokio::test]
    async fn a_body_in_one_frame_is_returned_as_it_came() {
        let sent = Bytes::from_static(b"{\"id\":\"p-1\"}");
        let read = read_body(reqwest::Body::from(sent.clone()), 100)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read, sent);
        assert_eq!(read.as_ptr(), sent.as_ptr());
    }

    #[tokio::test]
    async fn a_body_in_many_frames_is_joined_in_order() {
        let body = streamed(vec![Ok(b"{\"id\""), Ok(b""), Ok(b":\"p-1"), Ok(b"\"}")]);
        let read = read_body(body, 100).await.unwrap().unwrap();
        assert_eq!(&read[..], b"{\"id\":\"p-1\"}");
        assert!(read_body(streamed(vec![]), 0).await.unwrap().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_body_over_the_limit_stops_at_the_limit() {
        let body = streamed(vec![Ok(b"12345"), Ok(b"67890"), Ok(b"x")]);
        assert_eq!(read_body(body, 10).await.unwrap(), None);
        let body = streamed(vec![Ok(b"12345"), Ok(b"67890")]);
        assert_eq!(read_body(body, 10).await.unwrap().unwrap().len(), 10);
    }

    #[tokio::test]
    async fn a_body_cut_off_is_an_error() {
        let body = streamed(vec![
            Ok(b"{\"id\""),
            Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset")),
        ]);
        assert!(read_body(body, 100).await.is_err());
    }

    #[tokio::test]
    async fn too_large_is_found_among_the_causes_of_a_read_error() {
        let stream = futures::stream::once(async { Err::<Bytes, _>(BodyTooLarge { limit: 7 }) });
        let error = read_body(reqwest::Body::wrap_stream(stream), 100)
            .await
            .unwrap_err();
        assert_eq!(too_large(&error), Some(BodyTooLarge { limit: 7 }));
        assert_eq!(too_large(&std::io::Error::other("x")), None);
    }
}
