//! The fake object storage behind Confluent's presigned upload URLs.
//!
//! It lives on the Confluent fake's server under `/_storage/{aws|gcp|azure}/{upload_id}` and
//! accepts only the request shape each cloud's presigned URL accepts, answering anything else
//! with that cloud's XML error body.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use wiremock::Request;

use super::reply::{
    Reply, encode_query, escape_xml, header, media_type, random_alnum, random_hex,
    random_upper_alnum,
};

/// Path prefix of the storage endpoint on the Confluent fake.
pub(crate) const STORAGE_PREFIX: &str = "_storage";

/// A cloud an archive can be uploaded to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cloud {
    Aws,
    Gcp,
    Azure,
}

impl Cloud {
    /// Parses `AWS`, `GCP` or `AZURE` in any case.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_uppercase().as_str() {
            "AWS" => Some(Self::Aws),
            "GCP" => Some(Self::Gcp),
            "AZURE" => Some(Self::Azure),
            _ => None,
        }
    }

    /// The API spelling.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Aws => "AWS",
            Self::Gcp => "GCP",
            Self::Azure => "AZURE",
        }
    }

    fn path_segment(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::Gcp => "gcp",
            Self::Azure => "azure",
        }
    }
}

/// The archive format of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentFormat {
    Zip,
    Jar,
}

impl ContentFormat {
    /// Parses `ZIP` or `JAR` in any case.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_uppercase().as_str() {
            "ZIP" => Some(Self::Zip),
            "JAR" => Some(Self::Jar),
            _ => None,
        }
    }

    /// The API spelling.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Zip => "ZIP",
            Self::Jar => "JAR",
        }
    }

    fn mime(self) -> &'static str {
        match self {
            Self::Zip => "application/zip",
            Self::Jar => "application/java-archive",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Zip => "zip",
            Self::Jar => "jar",
        }
    }
}

/// What was stored for an upload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Archive {
    /// Size of the stored archive in bytes.
    pub(crate) size: usize,
    /// Whether the archive starts with the ZIP local-file-header magic (JARs are ZIPs too).
    pub(crate) is_zip: bool,
}

/// One presigned upload.
#[derive(Debug)]
pub(crate) struct Upload {
    pub(crate) id: String,
    pub(crate) environment: String,
    pub(crate) cloud: Cloud,
    pub(crate) format: ContentFormat,
    /// The URL the archive goes to.
    pub(crate) url: String,
    /// The AWS form fields (empty for the other clouds).
    pub(crate) form_data: Vec<(String, String)>,
    /// The signature embedded in a GCS or Azure URL.
    signature: String,
    /// Set once the URL has been reported expired; it stays expired.
    expired: bool,
    /// The stored archive, once an upload succeeded.
    pub(crate) archive: Option<Archive>,
}

/// All presigned uploads of one Confluent fake.
#[derive(Debug, Default)]
pub(crate) struct Storage {
    uploads: HashMap<String, Upload>,
    /// How many of the next upload attempts must fail as expired.
    pub(crate) expire_next: u32,
}

impl Storage {
    /// Issues a presigned upload and returns it.
    pub(crate) fn issue(
        &mut self,
        base_url: &str,
        organization: &str,
        environment: &str,
        cloud: Cloud,
        format: ContentFormat,
    ) -> &Upload {
        let id = uuid::Uuid::new_v4().to_string();
        let now = chrono::Utc::now();
        let date = now.format("%Y%m%d").to_string();
        let timestamp = now.format("%Y%m%dT%H%M%SZ").to_string();
        let signature = random_hex(64);
        let path = format!("{base_url}/{STORAGE_PREFIX}/{}/{id}", cloud.path_segment());
        let mut form_data = Vec::new();
        let url = match cloud {
            Cloud::Aws => {
                let bucket = "confluent-custom-connectors-fake".to_owned();
                let key = format!(
                    "fake/custom-plugin/{organization}/connect-{id}/plugin.{}",
                    format.extension()
                );
                let expiration = (now + chrono::Duration::hours(1))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                let policy = json!({
                    "expiration": expiration,
                    "conditions": [{ "bucket": bucket }, { "key": key }],
                });
                form_data = vec![
                    ("bucket".to_owned(), bucket),
                    ("key".to_owned(), key),
                    ("policy".to_owned(), STANDARD.encode(policy.to_string())),
                    ("x-amz-algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
                    (
                        "x-amz-credential".to_owned(),
                        format!(
                            "ASIA{}/{date}/us-west-2/s3/aws4_request",
                            random_upper_alnum(16)
                        ),
                    ),
                    ("x-amz-date".to_owned(), timestamp),
                    ("x-amz-security-token".to_owned(), random_alnum(96)),
                    ("x-amz-signature".to_owned(), signature.clone()),
                ];
                path
            }
            Cloud::Gcp => {
                let credential = format!(
                    "fake-uploader@fake-project.iam.gserviceaccount.com/{date}/auto/storage/goog4_request"
                );
                format!(
                    "{path}?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential={}\
                     &X-Goog-Date={timestamp}&X-Goog-Expires=3600\
                     &X-Goog-SignedHeaders=content-type%3Bhost&X-Goog-Signature={signature}",
                    encode_query(&credential)
                )
            }
            Cloud::Azure => {
                let expiry = (now + chrono::Duration::hours(1))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                format!(
                    "{path}?sv=2023-11-03&se={}&sr=b&sp=cw&sig={signature}",
                    encode_query(&expiry)
                )
            }
        };
        let upload = Upload {
            id: id.clone(),
            environment: environment.to_owned(),
            cloud,
            format,
            url,
            form_data,
            signature,
            expired: false,
            archive: None,
        };
        self.uploads.entry(id).or_insert(upload)
    }

    /// Looks an upload up by id.
    pub(crate) fn get(&self, id: &str) -> Option<&Upload> {
        self.uploads.get(id)
    }

    /// Answers a request to `/_storage/{cloud}/{upload_id}`.
    pub(crate) fn handle(&mut self, request: &Request, cloud: &str, upload_id: &str) -> Reply {
        let Some(upload) = self
            .uploads
            .get_mut(upload_id)
            .filter(|u| u.cloud.path_segment() == cloud)
        else {
            return match Cloud::parse(cloud) {
                Some(Cloud::Azure) => azure_error(
                    404,
                    "BlobNotFound",
                    "The specified upload does not exist.",
                    None,
                ),
                Some(Cloud::Gcp) => {
                    gcs_error(404, "NoSuchKey", "The specified upload does not exist.")
                }
                _ => s3_error(404, "NoSuchUpload", "The specified upload does not exist."),
            };
        };
        if request.headers.contains_key("authorization") {
            return match upload.cloud {
                Cloud::Aws => s3_error(
                    400,
                    "InvalidArgument",
                    "A presigned POST must not carry an Authorization header; \
                     the form fields already authenticate it.",
                ),
                Cloud::Gcp => gcs_error(
                    400,
                    "InvalidArgument",
                    "A signed URL must not be combined with an Authorization header.",
                ),
                Cloud::Azure => azure_error(
                    403,
                    "AuthenticationFailed",
                    "A SAS URL must not be combined with an Authorization header.",
                    None,
                ),
            };
        }
        if !upload.expired && self.expire_next > 0 {
            self.expire_next -= 1;
            upload.expired = true;
        }
        if upload.expired {
            return match upload.cloud {
                Cloud::Aws => s3_error(403, "AccessDenied", "Request has expired"),
                Cloud::Gcp => gcs_error(
                    403,
                    "ExpiredToken",
                    "The signed URL has expired; request a new one.",
                ),
                Cloud::Azure => azure_error(
                    403,
                    "AuthenticationFailed",
                    "The SAS token of this URL has expired; request a new upload URL.",
                    None,
                ),
            };
        }
        let stored = match upload.cloud {
            Cloud::Aws => aws_upload(upload, request),
            Cloud::Gcp => gcs_upload(upload, request),
            Cloud::Azure => azure_upload(upload, request),
        };
        match stored {
            Ok((data, reply)) => {
                upload.archive = Some(Archive {
                    size: data.len(),
                    is_zip: data.starts_with(b"PK\x03\x04"),
                });
                reply
            }
            Err(reply) => reply,
        }
    }
}

/// Checks an S3 presigned POST and returns the file bytes.
fn aws_upload<'r>(upload: &Upload, request: &'r Request) -> Result<(&'r [u8], Reply), Reply> {
    if request.method.as_str() != "POST" {
        return Err(s3_error(
            405,
            "MethodNotAllowed",
            &format!(
                "This upload URL does not accept {}; a presigned POST upload needs POST with multipart/form-data.",
                request.method.as_str()
            ),
        ));
    }
    let content_type = header(request, "content-type").unwrap_or_default();
    if media_type(content_type) != "multipart/form-data" {
        return Err(s3_error(
            412,
            "PreconditionFailed",
            "A presigned POST upload must be sent as multipart/form-data.",
        ));
    }
    let parts = parse_multipart(content_type, &request.body).map_err(|why| {
        s3_error(
            400,
            "MalformedPOSTRequest",
            &format!("The body of the POST request is not well-formed multipart/form-data: {why}"),
        )
    })?;
    let file_positions: Vec<usize> = parts
        .iter()
        .enumerate()
        .filter(|(_, p)| p.name.eq_ignore_ascii_case("file"))
        .map(|(i, _)| i)
        .collect();
    let [file_index] = file_positions.as_slice() else {
        return Err(s3_error(
            400,
            "InvalidArgument",
            "POST requires exactly one file upload per request (a part named `file`).",
        ));
    };
    if *file_index + 1 != parts.len() {
        return Err(s3_error(
            400,
            "InvalidArgument",
            "The `file` part must be the last part of the form; fields after it are not accepted.",
        ));
    }
    let fields = &parts[..*file_index];
    for (name, value) in &upload.form_data {
        let matches = fields
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case(name) && p.data == value.as_bytes());
        if !matches {
            return Err(s3_error(
                403,
                "AccessDenied",
                &format!(
                    "Invalid according to Policy: form field `{name}` is missing, altered or placed after the file"
                ),
            ));
        }
    }
    let reply = Reply::empty(204)
        .header("etag", format!("\"{}\"", random_hex(32)))
        .header("x-amz-request-id", random_upper_alnum(16));
    Ok((parts[*file_index].data, reply))
}

/// Checks a GCS signed-URL PUT and returns the body.
fn gcs_upload<'r>(upload: &Upload, request: &'r Request) -> Result<(&'r [u8], Reply), Reply> {
    let signature_ok = request
        .url
        .query_pairs()
        .any(|(k, v)| k == "X-Goog-Signature" && v == upload.signature.as_str());
    if !signature_ok {
        return Err(gcs_error(
            403,
            "SignatureDoesNotMatch",
            "The request carries no valid X-Goog-Signature; use the upload URL unchanged.",
        ));
    }
    // The method and Content-Type are part of what a GCS URL signs.
    let expected = upload.format.mime();
    let method = request.method.as_str();
    let content_type = header(request, "content-type").map(media_type);
    if method != "PUT" || content_type.as_deref() != Some(expected) {
        return Err(gcs_error(
            403,
            "SignatureDoesNotMatch",
            &format!(
                "The request does not match the signed URL: expected PUT with Content-Type {expected}, got {method} with Content-Type {}",
                content_type.as_deref().unwrap_or("(none)")
            ),
        ));
    }
    let reply = Reply::empty(200)
        .header("etag", format!("\"{}\"", random_hex(32)))
        .header("x-guploader-uploadid", random_alnum(40));
    Ok((&request.body, reply))
}

/// Checks an Azure SAS PUT (Put Blob) and returns the body.
fn azure_upload<'r>(upload: &Upload, request: &'r Request) -> Result<(&'r [u8], Reply), Reply> {
    let signature_ok = request
        .url
        .query_pairs()
        .any(|(k, v)| k == "sig" && v == upload.signature.as_str());
    if !signature_ok {
        return Err(azure_error(
            403,
            "AuthenticationFailed",
            "The SAS signature of this URL is missing or altered; use the upload URL unchanged.",
            None,
        ));
    }
    if request.method.as_str() != "PUT" {
        return Err(azure_error(
            405,
            "UnsupportedHttpVerb",
            "This upload URL accepts PUT only.",
            None,
        ));
    }
    match header(request, "x-ms-blob-type") {
        None => {
            return Err(azure_error(
                400,
                "MissingRequiredHeader",
                "A header required for this request is missing: x-ms-blob-type.",
                Some(("HeaderName", "x-ms-blob-type")),
            ));
        }
        Some(value) if value != "BlockBlob" => {
            return Err(azure_error(
                400,
                "InvalidHeaderValue",
                "x-ms-blob-type must be BlockBlob.",
                Some(("HeaderName", "x-ms-blob-type")),
            ));
        }
        Some(_) => {}
    }
    let expected = upload.format.mime();
    if header(request, "content-type").map(media_type).as_deref() != Some(expected) {
        return Err(azure_error(
            400,
            "InvalidHeaderValue",
            &format!("Content-Type must be {expected} for this upload."),
            Some(("HeaderName", "Content-Type")),
        ));
    }
    let reply = Reply::empty(201)
        .header(
            "etag",
            format!("\"0x{}\"", random_hex(15).to_ascii_uppercase()),
        )
        .header("x-ms-request-id", uuid::Uuid::new_v4().to_string())
        .header("x-ms-request-server-encrypted", "true");
    Ok((&request.body, reply))
}

/// An S3 error body.
fn s3_error(status: u16, code: &str, message: &str) -> Reply {
    let request_id = random_upper_alnum(16);
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{request_id}</RequestId><HostId>{}</HostId></Error>",
        escape_xml(code),
        escape_xml(message),
        random_alnum(56),
    );
    Reply::xml(status, xml).header("x-amz-request-id", request_id)
}

/// A GCS XML API error body.
fn gcs_error(status: u16, code: &str, message: &str) -> Reply {
    let xml = format!(
        "<?xml version='1.0' encoding='UTF-8'?><Error><Code>{}</Code><Message>{}</Message></Error>",
        escape_xml(code),
        escape_xml(message),
    );
    Reply::xml(status, xml).header("x-guploader-uploadid", random_alnum(40))
}

/// An Azure Blob Storage error body; `extra` adds one element such as `HeaderName`.
fn azure_error(status: u16, code: &str, message: &str, extra: Option<(&str, &str)>) -> Reply {
    let request_id = uuid::Uuid::new_v4().to_string();
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let extra = extra
        .map(|(name, value)| format!("<{name}>{}</{name}>", escape_xml(value)))
        .unwrap_or_default();
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{}</Code><Message>{}\nRequestId:{request_id}\nTime:{time}</Message>{extra}</Error>",
        escape_xml(code),
        escape_xml(message),
    );
    Reply::xml(status, xml)
        .header("x-ms-request-id", request_id)
        .header("x-ms-error-code", code.to_owned())
}

/// One part of a `multipart/form-data` body.
#[derive(Debug)]
struct Part<'a> {
    name: String,
    data: &'a [u8],
}

/// Splits a `multipart/form-data` body into its parts, in order.
fn parse_multipart<'a>(content_type: &str, body: &'a [u8]) -> Result<Vec<Part<'a>>, String> {
    let boundary = content_type
        .split(';')
        .skip(1)
        .find_map(|param| {
            let (key, value) = param.trim().split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("boundary")
                .then(|| value.trim().trim_matches('"').to_owned())
        })
        .filter(|b| !b.is_empty())
        .ok_or("the Content-Type has no boundary")?;
    let delimiter = format!("--{boundary}").into_bytes();
    let separator = format!("\r\n--{boundary}").into_bytes();

    let first = find(body, &delimiter, 0).ok_or("the opening boundary is missing")?;
    let mut cursor = first + delimiter.len();
    let mut parts = Vec::new();
    loop {
        let rest = body.get(cursor..).unwrap_or_default();
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        if !rest.starts_with(b"\r\n") {
            return Err("a boundary is not followed by a line break".to_owned());
        }
        let start = cursor + 2;
        let end = find(body, &separator, start).ok_or("the closing boundary is missing")?;
        let part = body.get(start..end).unwrap_or_default();
        let header_end = find(part, b"\r\n\r\n", 0).ok_or("a part has no header block")?;
        let headers = String::from_utf8_lossy(&part[..header_end]);
        let data = &part[header_end + 4..];
        let name = headers
            .split("\r\n")
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                if !key.trim().eq_ignore_ascii_case("content-disposition") {
                    return None;
                }
                value.split(';').find_map(|param| {
                    let (k, v) = param.trim().split_once('=')?;
                    (k.trim() == "name").then(|| v.trim().trim_matches('"').to_owned())
                })
            })
            .ok_or("a part has no Content-Disposition name")?;
        parts.push(Part { name, data });
        cursor = end + separator.len();
    }
}

/// The first position of `needle` in `haystack` at or after `from`.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let first = needle[0];
    let mut i = from;
    while i + needle.len() <= haystack.len() {
        if haystack[i] == first && haystack[i..].starts_with(needle) {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_parts_come_back_in_order() {
        let body = b"--xyz\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nabc\r\n\
--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.zip\"\r\nContent-Type: application/zip\r\n\r\nPK\x03\x04\r\n--x\r\n--xyz--\r\n";
        let parts = parse_multipart("multipart/form-data; boundary=\"xyz\"", body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "key");
        assert_eq!(parts[0].data, b"abc");
        assert_eq!(parts[1].name, "file");
        assert_eq!(parts[1].data, b"PK\x03\x04\r\n--x");
    }

    #[test]
    fn malformed_multipart_is_an_error_not_a_panic() {
        for body in [
            &b""[..],
            b"--xyz",
            b"--xyz\r\n",
            b"--xyz\r\nno header end\r\n--xyz--",
            b"--xyzjunk",
            b"--xyz\r\nContent-Disposition: form-data\r\n\r\nx\r\n--xyz--",
        ] {
            assert!(parse_multipart("multipart/form-data; boundary=xyz", body).is_err());
        }
        assert!(parse_multipart("multipart/form-data", b"--xyz--").is_err());
        assert!(
            parse_multipart("multipart/form-data; boundary=xyz", b"--xyz--")
                .unwrap()
                .is_empty()
        );
    }
}
