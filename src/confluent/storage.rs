//! Uploads of connector archives to the cloud storage behind a presigned URL.
//!
//! Each cloud wants its own request shape: AWS S3 a multipart `POST` carrying every presigned form
//! field before the `file` part; GCS a raw `PUT` with the archive's content type; Azure Blob the
//! same `PUT` plus `x-ms-blob-type: BlockBlob`. The archive is streamed with a known length and
//! never held in memory whole. No Confluent credentials are sent to the storage URL.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt, stream};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};

use super::ContentFormat;
use crate::error::{Error, Result, Service};
use crate::transport::{Limits, Transport, transport_error};

/// The largest archive accepted (1 GiB, the limit Confluent's own CLI enforces).
pub const MAX_ARCHIVE_BYTES: u64 = 1 << 30;

const ZIP_MAGIC: &[u8; 4] = b"PK\x03\x04";
/// The archive is read and sent in pieces of this size: large enough that the per-piece costs
/// (a wake-up of the reader, a write call) do not dominate the upload, small enough to keep the
/// memory an upload holds flat.
const CHUNK: usize = 1024 * 1024;

/// The MIME type the storage expects for an archive format.
fn mime_type(format: &ContentFormat) -> &'static str {
    match format {
        ContentFormat::Jar => "application/java-archive",
        _ => "application/zip",
    }
}

fn format_from_name(name: &str) -> Result<ContentFormat> {
    ContentFormat::from_file_name(name).ok_or_else(|| {
        Error::invalid(
            "archive",
            format!(
                "`{}` must end in .zip or .jar",
                crate::error::one_line(name, 200)
            ),
        )
    })
}

#[derive(Debug, Clone)]
enum ArchiveSource {
    Path(PathBuf),
    Bytes(Bytes),
}

/// A checked connector archive: right extension, zip magic bytes, not empty, at most
/// [`MAX_ARCHIVE_BYTES`]. Files are read in chunks when uploaded, never whole.
#[derive(Debug, Clone)]
pub struct Archive {
    source: ArchiveSource,
    file_name: String,
    len: u64,
    format: ContentFormat,
}

fn check_header(name: &str, len: u64, head: &[u8]) -> Result<()> {
    if len == 0 {
        return Err(Error::invalid("archive", format!("`{name}` is empty")));
    }
    if len > MAX_ARCHIVE_BYTES {
        return Err(Error::invalid(
            "archive",
            format!("`{name}` is {len} bytes; the limit is {MAX_ARCHIVE_BYTES}"),
        ));
    }
    if head.len() < ZIP_MAGIC.len() || &head[..ZIP_MAGIC.len()] != ZIP_MAGIC {
        return Err(Error::invalid(
            "archive",
            format!("`{name}` is not a zip or jar archive (its first bytes are not PK\\x03\\x04)"),
        ));
    }
    Ok(())
}

impl Archive {
    /// Checks a file on disk. Only its first bytes and its size are read now.
    pub async fn from_path(path: impl AsRef<Path>) -> Result<Archive> {
        let path = path.as_ref();
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let format = format_from_name(&file_name)?;
        let io = |e: std::io::Error| {
            Error::invalid("archive", format!("cannot read `{}`: {e}", path.display()))
        };
        let mut file = tokio::fs::File::open(path).await.map_err(io)?;
        let meta = file.metadata().await.map_err(io)?;
        if !meta.is_file() {
            return Err(Error::invalid(
                "archive",
                format!("`{}` is not a regular file", path.display()),
            ));
        }
        let mut head = [0u8; 4];
        let mut read = 0;
        while read < head.len() {
            use tokio::io::AsyncReadExt;
            match file.read(&mut head[read..]).await.map_err(io)? {
                0 => break,
                n => read += n,
            }
        }
        check_header(&file_name, meta.len(), &head[..read])?;
        Ok(Archive {
            source: ArchiveSource::Path(path.to_path_buf()),
            file_name,
            len: meta.len(),
            format,
        })
    }

    /// Checks an archive held in memory; `file_name` gives its format (`.zip` or `.jar`).
    pub fn from_bytes(file_name: impl Into<String>, bytes: impl Into<Bytes>) -> Result<Archive> {
        let file_name = file_name.into();
        let bytes = bytes.into();
        let format = format_from_name(&file_name)?;
        check_header(&file_name, bytes.len() as u64, &bytes)?;
        Ok(Archive {
            len: bytes.len() as u64,
            source: ArchiveSource::Bytes(bytes),
            file_name,
            format,
        })
    }

    /// The archive's size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Always `false`: an empty archive is rejected when checked.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The archive's format ([`ContentFormat::Zip`] or [`ContentFormat::Jar`]).
    pub fn format(&self) -> &ContentFormat {
        &self.format
    }

    /// The file name used in the upload.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The archive's bytes as a stream of chunks, read lazily.
    async fn chunks(&self) -> Result<Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>> {
        match &self.source {
            ArchiveSource::Bytes(bytes) => {
                let bytes = bytes.clone();
                let total = bytes.len();
                let parts = (0..total)
                    .step_by(CHUNK)
                    .map(move |start| Ok(bytes.slice(start..(start + CHUNK).min(total))));
                Ok(Box::pin(stream::iter(parts.collect::<Vec<_>>())))
            }
            ArchiveSource::Path(path) => {
                let file = std::fs::File::open(path).map_err(|e| {
                    Error::invalid("archive", format!("cannot read `{}`: {e}", path.display()))
                })?;
                Ok(Box::pin(read_ahead(file, self.len)))
            }
        }
    }
}

/// Pieces read ahead of the upload, waiting to be sent.
const READ_AHEAD: usize = 2;

/// Streams `file`, `expected` bytes long, in pieces read by one blocking thread a few pieces
/// ahead of the sending. Each piece is read straight into the buffer that is sent (no second
/// copy) and reading overlaps sending; dropping the stream stops the reader.
fn read_ahead(
    mut file: std::fs::File,
    expected: u64,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    use std::io::Read as _;
    let (pieces, received) = tokio::sync::mpsc::channel(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut read = 0u64;
        loop {
            let mut piece = Vec::with_capacity(CHUNK);
            // `take` + `read_to_end` fill the spare capacity without zeroing it first.
            let piece = match (&mut file).take(CHUNK as u64).read_to_end(&mut piece) {
                Ok(0) => return,
                Ok(n) => {
                    read += n as u64;
                    // A file that grows while uploading would send a body that disagrees with
                    // the Content-Length; fail the stream instead.
                    if read > expected {
                        Err(std::io::Error::other("the archive grew while uploading"))
                    } else {
                        Ok(Bytes::from(piece))
                    }
                }
                Err(e) => Err(e),
            };
            let last = piece.is_err();
            if pieces.blocking_send(piece).is_err() || last {
                // The upload stopped, or failed here.
                return;
            }
        }
    });
    stream::unfold(received, |mut received| async move {
        received.recv().await.map(|piece| (piece, received))
    })
}

/// Receives the number of archive bytes sent so far and the total.
pub(crate) type ByteProgress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Counts the bytes a body stream yields and reports them.
struct Counted<S> {
    inner: S,
    sent: u64,
    total: u64,
    progress: Option<ByteProgress>,
}

impl<S> Stream for Counted<S>
where
    S: Stream<Item = std::io::Result<Bytes>> + Unpin,
{
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            let len = chunk.len() as u64;
            self.sent += len;
            if let Some(progress) = &self.progress {
                progress(self.sent, self.total);
            }
        }
        polled
    }
}

/// Where and how to upload: the parts of a presigned URL response.
#[derive(Debug, Clone)]
pub(crate) struct UploadTarget<'a> {
    /// `AWS`, `GCP` or `AZURE` (anything else is refused).
    pub(crate) cloud: &'a str,
    pub(crate) url: &'a str,
    pub(crate) form_data: &'a BTreeMap<String, String>,
}

/// Uploads `archive` through `transport`'s HTTP client (without its credentials) to the storage.
/// Returns the storage's status on success.
pub(crate) async fn upload(
    transport: &Transport,
    target: &UploadTarget<'_>,
    archive: &Archive,
    timeout: Duration,
    progress: Option<ByteProgress>,
) -> Result<StatusCode> {
    let url = reqwest::Url::parse(target.url).map_err(|e| {
        Error::invalid("upload_url", format!("the presigned URL is not valid: {e}"))
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(Error::invalid(
            "upload_url",
            "the presigned URL must be http(s)",
        ));
    }
    let http = &transport.http;
    let cloud = target.cloud.to_ascii_uppercase();
    let file = archive.chunks().await?;
    let counted = Counted {
        inner: file,
        sent: 0,
        total: archive.len,
        progress,
    };
    let request = match cloud.as_str() {
        "AWS" => {
            let boundary = format!("----cloud-plugin-sdk-{}", uuid::Uuid::new_v4().simple());
            let (head, tail) = multipart_frame(&boundary, target.form_data, archive)?;
            let length = head.len() as u64 + archive.len + tail.len() as u64;
            let body = stream::once(async move { Ok::<_, std::io::Error>(head) })
                .chain(counted)
                .chain(stream::once(async move { Ok(tail) }));
            http.post(url)
                .header(
                    CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .header(CONTENT_LENGTH, length)
                .body(reqwest::Body::wrap_stream(body))
        }
        "GCP" | "AZURE" => {
            let mut builder = http
                .put(url)
                .header(CONTENT_TYPE, mime_type(&archive.format))
                .header(CONTENT_LENGTH, archive.len)
                .body(reqwest::Body::wrap_stream(counted));
            if cloud == "AZURE" {
                builder = builder.header("x-ms-blob-type", "BlockBlob");
            }
            builder
        }
        other => {
            return Err(Error::invalid(
                "cloud",
                format!("cannot upload to unknown cloud `{other}`"),
            ));
        }
    };
    let response = request.timeout(timeout).send().await.map_err(|source| {
        // The error keeps only the storage's host and port: the URL carries the signature.
        let limits = Limits {
            request: Some(("upload", timeout)),
            connect: transport.limits.connect,
        };
        transport_error(Service::Storage, "upload", 1, source, limits)
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(status);
    }
    let headers = response.headers().clone();
    let body = crate::body::read_error_body(response).await;
    Err(storage_error(&cloud, status, &headers, &body))
}

/// The multipart text before and after the file's bytes. Field names and values come from the
/// server; ones that would break the framing are refused.
fn multipart_frame(
    boundary: &str,
    fields: &BTreeMap<String, String>,
    archive: &Archive,
) -> Result<(Bytes, Bytes)> {
    let mut head = String::new();
    for (name, value) in fields {
        if name.contains(['"', '\r', '\n']) || value.contains(boundary) {
            return Err(Error::invalid(
                "upload_form_data",
                format!(
                    "form field `{}` cannot be encoded",
                    crate::error::one_line(name, 60)
                ),
            ));
        }
        head.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    let file_name: String = archive
        .file_name
        .chars()
        .filter(|c| !matches!(c, '"' | '\r' | '\n'))
        .collect();
    head.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: {}\r\n\r\n",
        mime_type(&archive.format)
    ));
    let tail = format!("\r\n--{boundary}--\r\n");
    Ok((Bytes::from(head), Bytes::from(tail)))
}

/// Reads the text of the first `<tag>...</tag>` in an XML error body, as sent (the error's
/// `Display` makes it printable).
fn xml_text(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&close)? + start;
    let text = body[start..end].trim();
    (!text.is_empty()).then(|| unescape_xml(text))
}

fn unescape_xml(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Turns a storage error response (S3, Azure Blob or GCS XML, or anything else) into an error.
pub(crate) fn storage_error(
    cloud: &str,
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> Error {
    let text = String::from_utf8_lossy(body);
    let code = xml_text(&text, "Code");
    let message = xml_text(&text, "Message")
        .or_else(|| xml_text(&text, "Details"))
        .or_else(|| {
            let t = text.trim();
            (!t.is_empty() && !t.starts_with('<')).then(|| crate::error::one_line(t, 300))
        });
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|s| crate::error::one_line(s, 200))
    };
    let request_id = xml_text(&text, "RequestId")
        .or_else(|| header("x-amz-request-id"))
        .or_else(|| header("x-ms-request-id"))
        .or_else(|| header("x-guploader-uploadid"));
    Error::Storage {
        cloud: cloud.to_string(),
        status,
        code,
        message,
        request_id,
    }
}

/// `true` when a storage error says the presigned URL has expired (they live one hour).
pub(crate) fn is_expired_url_error(err: &Error) -> bool {
    let Error::Storage {
        status,
        code,
        message,
        ..
    } = err
    else {
        return false;
    };
    let code = code.as_deref().unwrap_or_default();
    let message = message.as_deref().unwrap_or_default().to_ascii_lowercase();
    matches!(status.as_u16(), 400 | 401 | 403)
        && (code == "ExpiredToken"
            || code == "AuthenticationFailed" && message.contains("expir")
            || code == "AccessDenied" && message.contains("expired")
            || message.contains("request has expired")
            || message.contains("policy expired"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_is_read_ahead_in_pieces_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.zip");
        let bytes: Vec<u8> = (0..CHUNK * 3 + 17).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let pieces: Vec<Bytes> = read_ahead(file, bytes.len() as u64)
            .map(|piece| piece.unwrap())
            .collect()
            .await;
        assert_eq!(pieces.len(), 4);
        assert!(pieces.iter().all(|piece| piece.len() <= CHUNK));
        assert_eq!(pieces.concat(), bytes);
    }

    #[tokio::test]
    async fn a_file_longer_than_announced_fails_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.zip");
        std::fs::write(&path, vec![7u8; CHUNK + 10]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let results: Vec<_> = read_ahead(file, 10).collect().await;
        assert!(results.first().is_some_and(|first| first.is_err()));
        assert_eq!(results.len(), 1, "nothing after the error");
    }

    fn zip_bytes(len: usize) -> Vec<u8> {
        let mut v = ZIP_MAGIC.to_vec();
        v.resize(len.max(4), 7);
        v
    }

    #[test]
    fn archive_checks() {
        assert!(Archive::from_bytes("a.zip", zip_bytes(10)).is_ok());
        assert_eq!(
            Archive::from_bytes("A.JAR", zip_bytes(10))
                .unwrap()
                .format(),
            &ContentFormat::Jar
        );
        let err = Archive::from_bytes("a.tar.gz", zip_bytes(10)).unwrap_err();
        assert!(err.to_string().contains("`archive`"), "{err}");
        let err = Archive::from_bytes("a.zip", Vec::new()).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
        let err = Archive::from_bytes("a.zip", b"GIF89a".to_vec()).unwrap_err();
        assert!(err.to_string().contains("PK"), "{err}");
        assert!(Archive::from_bytes("a.zip", b"PK".to_vec()).is_err());
    }

    #[test]
    fn s3_azure_gcs_xml_errors() {
        let h = reqwest::header::HeaderMap::new();
        let s3 = br#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>EntityTooLarge</Code><Message>Your proposed upload exceeds the maximum allowed size</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>"#;
        let err = storage_error("AWS", StatusCode::BAD_REQUEST, &h, s3);
        assert_eq!(err.code(), Some("EntityTooLarge"));
        assert_eq!(err.request_id(), Some("4442587FB7D0A2F9"));
        assert!(err.to_string().contains("maximum allowed size"), "{err}");
        let azure = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>UnsupportedHttpVerb</Code><Message>The resource doesn't support specified Http Verb.\nRequestId:abc</Message></Error>";
        let mut h2 = reqwest::header::HeaderMap::new();
        h2.insert("x-ms-request-id", "azure-req-1".parse().unwrap());
        let err = storage_error(
            "AZURE",
            StatusCode::METHOD_NOT_ALLOWED,
            &h2,
            azure.as_bytes(),
        );
        assert_eq!(err.code(), Some("UnsupportedHttpVerb"));
        assert_eq!(err.request_id(), Some("azure-req-1"));
        assert!(!err.to_string().contains('\n'));
        let gcs = b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message><Details>Request signature expired at: 2026-01-01T00:00:00+00:00</Details></Error>";
        let err = storage_error("GCP", StatusCode::BAD_REQUEST, &h, gcs);
        assert!(is_expired_url_error(&err));
        let s3_expired = b"<Error><Code>AccessDenied</Code><Message>Invalid according to Policy: Policy expired.</Message></Error>";
        assert!(is_expired_url_error(&storage_error(
            "AWS",
            StatusCode::FORBIDDEN,
            &h,
            s3_expired
        )));
        let denied = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
        assert!(!is_expired_url_error(&storage_error(
            "AWS",
            StatusCode::FORBIDDEN,
            &h,
            denied
        )));
        let html = storage_error("AWS", StatusCode::BAD_GATEWAY, &h, b"<html>x</html>");
        assert_eq!(html.code(), None);
    }

    #[test]
    fn multipart_frame_puts_fields_first_and_file_last() {
        let archive = Archive::from_bytes("c.zip", zip_bytes(8)).unwrap();
        let mut fields = BTreeMap::new();
        fields.insert("key".to_string(), "k1".to_string());
        fields.insert("policy".to_string(), "p".to_string());
        let (head, tail) = multipart_frame("BND", &fields, &archive).unwrap();
        let head = String::from_utf8(head.to_vec()).unwrap();
        let key_at = head.find("name=\"key\"").unwrap();
        let file_at = head.find("name=\"file\"").unwrap();
        assert!(key_at < file_at);
        assert!(head.ends_with("Content-Type: application/zip\r\n\r\n"));
        assert_eq!(&tail[..], b"\r\n--BND--\r\n");
        fields.insert("bad\"name".into(), "v".into());
        assert!(multipart_frame("BND", &fields, &archive).is_err());
    }
}
