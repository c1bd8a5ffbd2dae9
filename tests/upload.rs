//! The one-call version upload against wiremock: Confluent's API and each cloud's storage.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloud_plugin_sdk::confluent::{
    Cloud, ConfluentClient, ConnectorType, Phase, PluginVersions, UploadEvent,
};
use cloud_plugin_sdk::{
    Cleanup, Error, ErrorKind, UploadStage, confluent::Archive, retry::RetryPolicy,
};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const KEY: &str = "UPLOADKEY";
const SECRET: &str = "upload-secret-value";
const ENV: &str = "env-up1";
const PLUGIN: &str = "ccp-up1";

fn zip(len: usize) -> Vec<u8> {
    let mut bytes = b"PK\x03\x04".to_vec();
    bytes.extend((0..len.saturating_sub(4)).map(|i| (i % 251) as u8));
    bytes
}

fn client(server: &MockServer) -> ConfluentClient {
    ConfluentClient::builder()
        .base_url(server.uri())
        .api_key(KEY, SECRET)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

fn versions(server: &MockServer) -> PluginVersions {
    client(server).environment(ENV).plugin_versions(PLUGIN)
}

fn plugin_json(cloud: &str) -> Value {
    json!({"api_version": "ccpm/v1", "kind": "CustomConnectPlugin", "id": PLUGIN,
           "spec": {"cloud": cloud, "display_name": "p", "environment": {"id": ENV}}})
}

fn version_json(id: &str, phase: &str, error: Option<&str>) -> Value {
    let mut status = json!({"phase": phase});
    if let Some(e) = error {
        status["error_message"] = json!(e);
    }
    json!({"api_version": "ccpm/v1", "kind": "CustomConnectPluginVersion", "id": id,
           "spec": {"version": "1.0.0", "connector_classes": [{"class_name": "com.example.Sink", "type": "SINK"}],
                    "environment": {"id": ENV}},
           "status": status})
}

/// Answers the presigned-URL request with a fresh upload id each time, pointing at `storage`.
struct Presigner {
    storage: String,
    cloud: &'static str,
    issued: AtomicUsize,
}

impl Respond for Presigner {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let upload_id = format!("upl-{n}");
        let mut body = json!({"api_version": "ccpm/v1", "kind": "PresignedUrl", "cloud": self.cloud,
            "content_format": "ZIP", "upload_id": upload_id,
            "upload_url": format!("{}/bucket/{upload_id}?X-Sig=secret-signature", self.storage),
            "environment": {"id": ENV}});
        if self.cloud == "AWS" {
            body["upload_form_data"] = json!({"key": format!("uploads/{upload_id}"), "policy": "cG9saWN5",
                "x-amz-algorithm": "AWS4-HMAC-SHA256", "x-amz-signature": "abc123"});
        }
        ResponseTemplate::new(201).set_body_json(body)
    }
}

/// Returns `phases` in turn for each GET of the version (the last one repeats).
struct Phases {
    phases: Vec<(&'static str, Option<&'static str>)>,
    served: AtomicUsize,
}

impl Respond for Phases {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let i = self
            .served
            .fetch_add(1, Ordering::SeqCst)
            .min(self.phases.len() - 1);
        let (phase, error) = self.phases[i];
        ResponseTemplate::new(200).set_body_json(version_json("ccv-1", phase, error))
    }
}

struct Api {
    api: MockServer,
    storage: MockServer,
}

/// Mounts the API: plugin GET, presigned URL, version create (PROCESSING) and version GETs.
async fn api(cloud: &'static str, phases: Vec<(&'static str, Option<&'static str>)>) -> Api {
    let api = MockServer::start().await;
    let storage = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/ccpm/v1/plugins/{PLUGIN}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(plugin_json(cloud)))
        .mount(&api)
        .await;
    Mock::given(method("POST"))
        .and(path("/ccpm/v1/presigned-upload-url"))
        .respond_with(Presigner {
            storage: storage.uri(),
            cloud,
            issued: AtomicUsize::new(0),
        })
        .mount(&api)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/ccpm/v1/plugins/{PLUGIN}/versions")))
        .respond_with(ResponseTemplate::new(202).set_body_json(version_json(
            "ccv-1",
            "PROCESSING",
            None,
        )))
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/ccpm/v1/plugins/{PLUGIN}/versions/ccv-1")))
        .respond_with(Phases {
            phases,
            served: AtomicUsize::new(0),
        })
        .mount(&api)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("/ccpm/v1/plugins/{PLUGIN}/versions/ccv-1")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&api)
        .await;
    Api { api, storage }
}

async fn requests(server: &MockServer, verb: &str, path_part: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.method.as_str() == verb && r.url.path().contains(path_part))
        .collect()
}

fn upload(
    versions: &PluginVersions,
    archive: Archive,
) -> cloud_plugin_sdk::confluent::UploadVersion {
    versions
        .upload("1.0.0", archive)
        .connector_class("com.example.Sink", ConnectorType::Sink)
        .poll_interval(Duration::from_millis(10))
        .wait_until_ready(Duration::from_secs(5))
}

/// Uploads an archive of `len` bytes with the defaults of [`upload`]; the upload must fail.
async fn failed_upload(setup: &Api, len: usize) -> Error {
    upload(
        &versions(&setup.api),
        Archive::from_bytes("c.zip", zip(len)).unwrap(),
    )
    .await
    .unwrap_err()
}

#[tokio::test]
async fn aws_multipart_post_with_every_field_then_the_file() {
    let setup = api("AWS", vec![("READY", None)]).await;
    Mock::given(method("POST"))
        .and(path_regex("^/bucket/"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&setup.storage)
        .await;
    let bytes = zip(3000);
    let archive = Archive::from_bytes("connector.zip", bytes.clone()).unwrap();
    let version = upload(&versions(&setup.api), archive).await.unwrap();
    assert!(version.is_ready());

    let uploads = requests(&setup.storage, "POST", "/bucket/").await;
    assert_eq!(uploads.len(), 1);
    let req = &uploads[0];
    assert!(
        req.headers.get("authorization").is_none(),
        "no Confluent credentials at the storage"
    );
    let content_type = req
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap();
    let length: usize = req
        .headers
        .get("content-length")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(length, req.body.len());
    let body = &req.body;
    let text = String::from_utf8_lossy(body);
    // Every presigned field, in the order of the parts, and `file` last.
    let order: Vec<usize> = [
        "key",
        "policy",
        "x-amz-algorithm",
        "x-amz-signature",
        "file",
    ]
    .iter()
    .map(|name| {
        text.find(&format!("name=\"{name}\""))
            .unwrap_or_else(|| panic!("{name} missing"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(text.contains("uploads/upl-1"));
    // The file part carries the archive's bytes exactly.
    let file_start = text.find("Content-Type: application/zip\r\n\r\n").unwrap()
        + "Content-Type: application/zip\r\n\r\n".len();
    assert_eq!(&body[file_start..file_start + bytes.len()], &bytes[..]);
    assert_eq!(
        &body[file_start + bytes.len()..],
        format!("\r\n--{boundary}--\r\n").as_bytes()
    );

    // The version references the upload.
    let creates = requests(&setup.api, "POST", "/versions").await;
    let sent: Value = serde_json::from_slice(&creates[0].body).unwrap();
    assert_eq!(
        sent["spec"]["upload_source"],
        json!({"location": "PRESIGNED_URL_LOCATION", "upload_id": "upl-1"})
    );
    assert_eq!(sent["spec"]["environment"]["id"], ENV);
    let presigned = requests(&setup.api, "POST", "/presigned-upload-url").await;
    let asked: Value = serde_json::from_slice(&presigned[0].body).unwrap();
    assert_eq!(asked["cloud"], "AWS", "the cloud comes from the plugin");
    assert_eq!(asked["content_format"], "ZIP");
}

#[tokio::test]
async fn gcp_and_azure_put_the_raw_archive() {
    for cloud in ["GCP", "AZURE"] {
        let setup = api(cloud, vec![("READY", None)]).await;
        Mock::given(method("PUT"))
            .and(path_regex("^/bucket/"))
            .respond_with(ResponseTemplate::new(if cloud == "GCP" {
                200
            } else {
                201
            }))
            .mount(&setup.storage)
            .await;
        let bytes = zip(5000);
        let archive = Archive::from_bytes("connector.jar", bytes.clone()).unwrap();
        upload(&versions(&setup.api), archive).await.unwrap();
        let puts = requests(&setup.storage, "PUT", "/bucket/").await;
        assert_eq!(puts.len(), 1, "{cloud}");
        let req = &puts[0];
        assert_eq!(
            req.body, bytes,
            "{cloud}: the raw file, not a multipart body"
        );
        assert_eq!(
            req.headers.get("content-type").unwrap(),
            "application/java-archive",
            "{cloud}"
        );
        assert_eq!(
            req.headers.get("content-length").unwrap().to_str().unwrap(),
            bytes.len().to_string()
        );
        assert!(req.headers.get("authorization").is_none(), "{cloud}");
        assert_eq!(
            req.url.query(),
            Some("X-Sig=secret-signature"),
            "the presigned query is kept"
        );
        let blob_type = req
            .headers
            .get("x-ms-blob-type")
            .map(|v| v.to_str().unwrap().to_string());
        if cloud == "AZURE" {
            assert_eq!(blob_type.as_deref(), Some("BlockBlob"));
        } else {
            assert_eq!(blob_type, None);
        }
        let presigned = requests(&setup.api, "POST", "/presigned-upload-url").await;
        let asked: Value = serde_json::from_slice(&presigned[0].body).unwrap();
        assert_eq!(asked["content_format"], "JAR");
    }
}

#[tokio::test]
async fn a_large_file_is_streamed_in_chunks_with_a_known_length() {
    let setup = api("GCP", vec![("READY", None)]).await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&setup.storage)
        .await;
    let size = 8 * 1024 * 1024 + 123;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big-connector.zip");
    std::fs::write(&file, zip(size)).unwrap();
    let archive = Archive::from_path(&file).await.unwrap();
    assert_eq!(archive.len(), size as u64);

    let progress = Arc::new(Mutex::new(Vec::new()));
    let seen = progress.clone();
    upload(&versions(&setup.api), archive)
        .on_progress(move |e| {
            if let UploadEvent::Uploading { sent, total, .. } = e {
                seen.lock().unwrap().push((sent, total));
            }
        })
        .await
        .unwrap();
    let progress = progress.lock().unwrap().clone();
    // Read in pieces of at most 1 MiB: several events, increasing, ending at the total.
    assert!(
        progress.len() >= size / (1024 * 1024),
        "{} events",
        progress.len()
    );
    assert!(
        progress
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[1].0 - w[0].0 <= 1024 * 1024)
    );
    assert_eq!(*progress.last().unwrap(), (size as u64, size as u64));
    let puts = requests(&setup.storage, "PUT", "/bucket/").await;
    assert_eq!(puts[0].body.len(), size);
    assert_eq!(
        puts[0]
            .headers
            .get("content-length")
            .unwrap()
            .to_str()
            .unwrap(),
        size.to_string()
    );
}

#[tokio::test]
async fn storage_xml_errors_become_typed_errors() {
    let cases = [
        (
            "AWS",
            "POST",
            400,
            r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>EntityTooLarge</Code><Message>Your proposed upload exceeds the maximum allowed size</Message><RequestId>S3REQ1</RequestId></Error>"#,
            "EntityTooLarge",
            Some("S3REQ1"),
        ),
        (
            "AZURE",
            "PUT",
            405,
            r#"<?xml version="1.0" encoding="utf-8"?><Error><Code>UnsupportedHttpVerb</Code><Message>The resource doesn't support specified Http Verb.</Message></Error>"#,
            "UnsupportedHttpVerb",
            None,
        ),
        (
            "GCP",
            "PUT",
            403,
            "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code><Message>Access denied.</Message></Error>",
            "AccessDenied",
            None,
        ),
    ];
    for (cloud, verb, status, body, code, request_id) in cases {
        let setup = api(cloud, vec![("READY", None)]).await;
        Mock::given(method(verb))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_raw(body.as_bytes().to_vec(), "application/xml"),
            )
            .mount(&setup.storage)
            .await;
        let err = failed_upload(&setup, 100).await;
        assert_eq!(err.upload_stage(), Some(UploadStage::Uploading), "{cloud}");
        assert_eq!(err.kind(), ErrorKind::Storage, "{cloud}");
        assert_eq!(err.code(), Some(code), "{cloud}");
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        assert_eq!(err.request_id(), request_id, "{cloud}");
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert!(cause.contains(code), "{cause}");
        assert!(
            !format!("{err:?}").contains("secret-signature"),
            "no presigned signature in errors"
        );
        // Nothing was created.
        assert!(
            requests(&setup.api, "POST", "/versions").await.is_empty(),
            "{cloud}"
        );
    }
}

#[tokio::test]
async fn an_expired_url_is_fetched_anew_once() {
    let setup = api("AWS", vec![("READY", None)]).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_string(
            "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
        ))
        .up_to_n_times(1)
        .mount(&setup.storage)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&setup.storage)
        .await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    upload(
        &versions(&setup.api),
        Archive::from_bytes("c.zip", zip(100)).unwrap(),
    )
    .on_progress(move |e| seen.lock().unwrap().push(e))
    .await
    .unwrap();
    assert_eq!(
        requests(&setup.api, "POST", "/presigned-upload-url")
            .await
            .len(),
        2
    );
    let creates = requests(&setup.api, "POST", "/versions").await;
    let sent: Value = serde_json::from_slice(&creates[0].body).unwrap();
    assert_eq!(
        sent["spec"]["upload_source"]["upload_id"], "upl-2",
        "the new URL's upload id"
    );
    assert!(events.lock().unwrap().contains(&UploadEvent::UrlExpired));

    // A URL that is expired again is not fetched a third time.
    let setup = api("GCP", vec![("READY", None)]).await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(400).set_body_string(
            "<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>",
        ))
        .mount(&setup.storage)
        .await;
    let err = failed_upload(&setup, 100).await;
    assert_eq!(err.code(), Some("ExpiredToken"));
    assert_eq!(
        requests(&setup.api, "POST", "/presigned-upload-url")
            .await
            .len(),
        2
    );
    assert_eq!(requests(&setup.storage, "PUT", "/bucket/").await.len(), 2);
}

#[tokio::test]
async fn polls_to_ready_reporting_events_in_order() {
    let setup = api(
        "GCP",
        vec![("PROCESSING", None), ("PROCESSING", None), ("READY", None)],
    )
    .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&setup.storage)
        .await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let version = upload(
        &versions(&setup.api),
        Archive::from_bytes("c.zip", zip(200)).unwrap(),
    )
    .on_progress(move |e| seen.lock().unwrap().push(e))
    .await
    .unwrap();
    assert_eq!(version.status.phase, Phase::Ready);
    assert_eq!(
        requests(&setup.api, "GET", "/versions/ccv-1").await.len(),
        3
    );
    let events = events.lock().unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            UploadEvent::CloudResolved { .. } => "cloud",
            UploadEvent::UrlIssued { .. } => "url",
            UploadEvent::Uploading { .. } => "bytes",
            UploadEvent::Uploaded { .. } => "uploaded",
            UploadEvent::VersionCreated { .. } => "created",
            UploadEvent::PhaseChanged { .. } => "phase",
            _ => "other",
        })
        .collect();
    let mut deduped = kinds.clone();
    deduped.dedup();
    assert_eq!(
        deduped,
        ["cloud", "url", "bytes", "uploaded", "created", "phase"],
        "{kinds:?}"
    );
    assert!(
        matches!(
            events.last(),
            Some(UploadEvent::PhaseChanged {
                phase: Phase::Ready,
                ..
            })
        ),
        "{events:?}"
    );
    assert!(
        matches!(
            &events[0],
            UploadEvent::CloudResolved {
                cloud: Cloud::Gcp,
                ..
            }
        ),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_failed_version_is_an_error_with_its_message_and_is_cleaned_up() {
    let setup = api(
        "GCP",
        vec![
            ("PROCESSING", None),
            (
                "FAILED",
                Some("no connector class com.example.Sink in the archive"),
            ),
        ],
    )
    .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&setup.storage)
        .await;
    let err = failed_upload(&setup, 200).await;
    assert_eq!(err.kind(), ErrorKind::Wait);
    assert_eq!(err.upload_stage(), Some(UploadStage::WaitingForReady));
    match &err {
        Error::Upload {
            created_version_id,
            cleanup,
            source,
            ..
        } => {
            assert_eq!(created_version_id.as_deref(), Some("ccv-1"));
            assert!(matches!(cleanup, Some(Cleanup::Deleted)), "{cleanup:?}");
            match source.as_ref() {
                Error::Wait {
                    error_message,
                    timed_out,
                    phase,
                    ..
                } => {
                    assert_eq!(
                        error_message.as_deref(),
                        Some("no connector class com.example.Sink in the archive")
                    );
                    assert!(!timed_out);
                    assert_eq!(phase, "FAILED");
                }
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("ccv-1 was created, then deleted"),
        "{err}"
    );
    assert_eq!(
        requests(&setup.api, "DELETE", "/versions/ccv-1")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn the_wait_is_bounded_and_keeps_a_version_still_processing() {
    let setup = api("GCP", vec![("PROCESSING", None)]).await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&setup.storage)
        .await;
    let started = Instant::now();
    let err = versions(&setup.api)
        .upload("1.0.0", Archive::from_bytes("c.zip", zip(200)).unwrap())
        .connector_class("com.example.Sink", ConnectorType::Sink)
        .poll_interval(Duration::from_millis(20))
        .wait_until_ready(Duration::from_millis(300))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(10),
        "{elapsed:?}"
    );
    match &err {
        Error::Upload {
            cleanup, source, ..
        } => {
            assert!(matches!(cleanup, Some(Cleanup::Kept)));
            assert!(matches!(
                source.as_ref(),
                Error::Wait {
                    timed_out: true,
                    ..
                }
            ));
        }
        other => panic!("{other:?}"),
    }
    assert!(requests(&setup.api, "DELETE", "/versions").await.is_empty());
    // The caller can resume waiting on the kept version.
    let err = versions(&setup.api)
        .wait_until_ready("ccv-1", Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Wait {
            timed_out: true,
            ..
        }
    ));
}

#[tokio::test]
async fn no_wait_returns_the_created_version_and_the_cloud_is_read_once() {
    let setup = api("AZURE", vec![("READY", None)]).await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&setup.storage)
        .await;
    let versions = versions(&setup.api);
    for _ in 0..2 {
        let created = versions
            .upload("1.0.0", Archive::from_bytes("c.zip", zip(10)).unwrap())
            .connector_class("com.example.Sink", ConnectorType::Sink)
            .no_wait()
            .await
            .unwrap();
        assert_eq!(created.status.phase, Phase::Processing);
    }
    assert_eq!(
        requests(&setup.api, "GET", &format!("/plugins/{PLUGIN}"))
            .await
            .iter()
            .filter(|r| !r.url.path().contains("versions"))
            .count(),
        1
    );
    assert!(requests(&setup.api, "GET", "/versions/").await.is_empty());
    // Naming the cloud skips the plugin read entirely.
    let setup = api("AZURE", vec![("READY", None)]).await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&setup.storage)
        .await;
    upload(
        &self::versions(&setup.api),
        Archive::from_bytes("c.zip", zip(10)).unwrap(),
    )
    .cloud(Cloud::Azure)
    .await
    .unwrap();
    assert!(
        requests(&setup.api, "GET", &format!("/ccpm/v1/plugins/{PLUGIN}"))
            .await
            .iter()
            .all(|r| r.url.path().contains("versions"))
    );
}

#[tokio::test]
async fn bad_archives_and_arguments_fail_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 4] = [
        ("plugin.tar.gz", b"PK\x03\x04rest", ".zip or .jar"),
        ("plugin.zip", b"", "empty"),
        ("plugin.zip", b"\x7fELF not a zip", "PK"),
        ("plugin.jar", b"PK", "PK"),
    ];
    for (name, bytes, expect) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let err = Archive::from_path(&file).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{name}");
        assert!(err.to_string().contains(expect), "{name}: {err}");
        assert!(err.to_string().contains("`archive`"), "{err}");
        let err = Archive::from_bytes(name, bytes.to_vec()).unwrap_err();
        assert!(err.to_string().contains(expect), "{name}: {err}");
    }
    let err = Archive::from_path(dir.path().join("missing.zip"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);

    let setup = api("AWS", vec![("READY", None)]).await;
    let archive = Archive::from_bytes("c.zip", zip(10)).unwrap();
    let bad = [
        versions(&setup.api)
            .upload("not-semver", archive.clone())
            .connector_class("com.example.Sink", ConnectorType::Sink),
        versions(&setup.api).upload("1.0.0", archive.clone()),
        versions(&setup.api)
            .upload("1.0.0", archive.clone())
            .connector_class("9bad.Class", ConnectorType::Sink),
        versions(&setup.api)
            .upload("1.0.0", archive.clone())
            .connector_class("com.example.Sink", ConnectorType::Sink)
            .documentation_link("ftp://x"),
        versions(&setup.api)
            .upload("1.0.0", archive.clone())
            .connector_class("com.example.Sink", ConnectorType::Sink)
            .sensitive_config_property("bad name"),
    ];
    for upload in bad {
        let err = upload.await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    }
    assert!(setup.api.received_requests().await.unwrap().is_empty());
    assert!(setup.storage.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn dropping_the_call_stops_the_upload() {
    // A storage endpoint that reads slowly and records how much arrived.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let storage = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(AtomicU64::new(0));
    let closed = Arc::new(AtomicUsize::new(0));
    let (r, c) = (received.clone(), closed.clone());
    tokio::spawn(async move {
        if let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        r.fetch_add(n as u64, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
            c.fetch_add(1, Ordering::SeqCst);
        }
    });
    let api_server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ccpm/v1/presigned-upload-url"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "cloud": "GCP", "content_format": "ZIP", "upload_id": "upl-slow",
            "upload_url": format!("{storage}/bucket/upl-slow"), "environment": {"id": ENV}})))
        .mount(&api_server)
        .await;
    let size = 32 * 1024 * 1024;
    let archive = Archive::from_bytes("big.zip", zip(size)).unwrap();
    let task = tokio::spawn(
        upload(&versions(&api_server), archive)
            .cloud(Cloud::Gcp)
            .into_future(),
    );
    // Once the archive is flowing, the call is dropped.
    let started = Instant::now();
    while received.load(Ordering::SeqCst) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the upload never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
    let _ = task.await;
    // The connection closes (once the storage has read what the sockets still hold) and far
    // from everything was sent.
    let deadline = Instant::now() + Duration::from_secs(30);
    while closed.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        closed.load(Ordering::SeqCst),
        1,
        "the storage connection was closed"
    );
    let got = received.load(Ordering::SeqCst);
    assert!(got > 0 && got < size as u64 / 2, "{got} bytes arrived");
    assert!(
        requests(&api_server, "POST", "/versions").await.is_empty(),
        "no version was created"
    );
}

use std::future::IntoFuture as _;

#[tokio::test]
async fn a_version_the_api_refuses_says_why_in_one_line() {
    let setup = api("GCP", vec![("READY", None)]).await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&setup.storage)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/ccpm/v1/plugins/{PLUGIN}/versions")))
        .respond_with(
            ResponseTemplate::new(409)
                .insert_header("x-request-id", "req-409")
                .set_body_json(json!({"errors": [{"status": "409", "code": "conflict",
                    "detail": "Plugin version 1.0.0 already exists"}]})),
        )
        .with_priority(1)
        .mount(&setup.api)
        .await;
    let err = failed_upload(&setup, 200).await;
    assert_eq!(err.upload_stage(), Some(UploadStage::CreatingVersion));
    assert_eq!(err.kind(), ErrorKind::Conflict);
    let cause = "confluent create_ccpm_v1_custom_connect_plugin_version: 409 Conflict [conflict]: \
                 Plugin version 1.0.0 already exists (request id req-409)";
    assert_eq!(
        err.to_string(),
        format!("uploading plugin version 1.0.0 failed while creating the version: {cause}")
    );
    // The cause is still the error's source, for callers that walk the chain.
    let source = std::error::Error::source(&err).expect("the cause");
    assert_eq!(source.to_string(), cause);
    assert_eq!(err.request_id(), Some("req-409"));
}

#[tokio::test]
async fn a_storage_that_cannot_be_reached_is_named_by_host_and_port_only() {
    let setup = api("GCP", vec![("READY", None)]).await;
    // The presigned URL points at a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    Mock::given(method("POST"))
        .and(path("/ccpm/v1/presigned-upload-url"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "api_version": "ccpm/v1", "kind": "PresignedUrl", "cloud": "GCP",
            "content_format": "ZIP", "upload_id": "upl-1",
            "upload_url": format!("http://{address}/bucket/upl-1?X-Goog-Signature=secret-signature"),
            "environment": {"id": ENV}})))
        .with_priority(1)
        .mount(&setup.api)
        .await;
    let err = failed_upload(&setup, 200).await;
    assert_eq!(err.upload_stage(), Some(UploadStage::Uploading));
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_eq!(
        err.to_string(),
        format!(
            "uploading plugin version 1.0.0 failed while uploading the archive: \
             storage upload: cannot connect to {address}: connection refused"
        )
    );
    match err.cause() {
        Error::Transport { server, .. } => {
            assert_eq!(server.as_deref(), Some(&*address.to_string()))
        }
        other => panic!("{other:?}"),
    }
    let mut shown = format!("{err} {err:?}");
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        shown.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    assert!(!shown.contains("secret-signature"), "{shown}");
    assert!(!shown.contains("/bucket/"), "{shown}");
}
