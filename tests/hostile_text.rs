//! Text a server sends (error codes, messages, request ids, storage errors, phases) is printed
//! by an error's `Display` on one line with nothing invisible in it: line breaks, escapes and
//! other control characters collapse into spaces, and Unicode format characters (bidi overrides
//! and isolates, zero-width spaces and joiners, byte-order marks) are shown escaped, so a
//! hostile server can neither forge log lines nor make a message read differently from what it
//! says. The accessors still return the text as sent.

use std::time::Duration;

use cloud_plugin_sdk::confluent::{Archive, Cloud, ConfluentClient, ConnectorType};
use cloud_plugin_sdk::golem::{GolemClient, PluginId};
use cloud_plugin_sdk::retry::RetryPolicy;
use cloud_plugin_sdk::{Error, ErrorKind};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PLUGIN: &str = "497f6eca-6276-4993-bfeb-53cbbbba6f08";
const ENV: &str = "env-hostile";

/// Characters that must never reach a printed line as they are.
const INVISIBLE: &[char] = &[
    '\u{0}',
    '\u{7}',
    '\u{1b}',
    '\u{7f}',
    '\r',
    '\n',
    '\t',
    '\u{85}',
    '\u{ad}',
    '\u{61c}',
    '\u{200b}',
    '\u{200c}',
    '\u{200d}',
    '\u{200e}',
    '\u{200f}',
    '\u{2028}',
    '\u{2029}',
    '\u{202a}',
    '\u{202b}',
    '\u{202c}',
    '\u{202d}',
    '\u{202e}',
    '\u{2060}',
    '\u{2066}',
    '\u{2067}',
    '\u{2068}',
    '\u{2069}',
    '\u{feff}',
    '\u{e0001}',
    '\u{e0041}',
];

/// A server's text with one of everything above in it.
const HOSTILE: &str = "ok\u{202e}txt.exe\u{202c} zero\u{200b}width\u{2066}iso\u{2069} \
                       bom\u{feff} tag\u{e0041} \u{1b}[31mred\u{1b}[0m\r\nFORGED: line\u{0}end";

/// How [`HOSTILE`] reads once printed.
const SHOWN: &str = "ok\\u{202e}txt.exe\\u{202c} zero\\u{200b}width\\u{2066}iso\\u{2069} \
                     bom\\u{feff} tag\\u{e0041} [31mred [0m FORGED: line end";

fn assert_one_visible_line(line: &str) {
    for c in INVISIBLE {
        assert!(
            !line.contains(*c),
            "{} is printed as it came: {line:?}",
            c.escape_unicode()
        );
    }
}

fn golem(server: &MockServer) -> GolemClient {
    GolemClient::builder()
        .base_url(server.uri())
        .token("hostile-text-token")
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

fn confluent(server: &MockServer) -> ConfluentClient {
    ConfluentClient::builder()
        .base_url(server.uri())
        .api_key("key", "secret")
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

fn plugin_id() -> PluginId {
    PLUGIN.parse().unwrap()
}

#[tokio::test]
async fn golem_error_codes_and_messages() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "code": "NOT\u{202e}FOUND\u{200b}",
            "error": HOSTILE,
        })))
        .mount(&server)
        .await;
    let err = golem(&server).plugins().get(plugin_id()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let line = err.to_string();
    assert_one_visible_line(&line);
    assert_eq!(
        line,
        format!("golem get_plugin_by_id: 404 Not Found [NOT\\u{{202e}}FOUND\\u{{200b}}]: {SHOWN}")
    );
    // The accessors keep the text as the server sent it.
    assert_eq!(err.code(), Some("NOT\u{202e}FOUND\u{200b}"));
    assert_eq!(err.messages(), [HOSTILE]);
}

#[tokio::test]
async fn golem_plain_text_bodies() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(401).set_body_string(HOSTILE))
        .mount(&server)
        .await;
    let err = golem(&server)
        .plugins()
        .delete(plugin_id())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    let line = err.to_string();
    assert_one_visible_line(&line);
    assert_eq!(
        line,
        format!("golem delete_plugin: 401 Unauthorized: {SHOWN}")
    );
}

#[tokio::test]
async fn confluent_codes_messages_and_request_ids_in_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": 400,
            "error": {"code": "bad\u{2067}code", "message": HOSTILE},
            "requestId": "req\u{202e}1\r\nX-Forged: yes",
        })))
        .mount(&server)
        .await;
    let err = confluent(&server)
        .environment(ENV)
        .plugins()
        .get("ccp-1")
        .await
        .unwrap_err();
    let line = err.to_string();
    assert_one_visible_line(&line);
    assert_eq!(
        line,
        format!(
            "confluent get_ccpm_v1_custom_connect_plugin: 400 Bad Request [bad\\u{{2067}}code]: \
             {SHOWN} (request id req\\u{{202e}}1 X-Forged: yes)"
        )
    );
    assert_eq!(err.request_id(), Some("req\u{202e}1\r\nX-Forged: yes"));
}

#[tokio::test]
async fn confluent_failure_entries_and_raw_bodies() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "errors": [
                {"status": "409", "code": "in\u{200d}use", "detail": HOSTILE},
                {"code": "second", "title": "also\u{feff}here"},
            ]
        })))
        .mount(&server)
        .await;
    // A JSON body of another shape is shown raw.
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(502)
                .set_body_raw(format!("{{\"x\":\"{HOSTILE}\"}}"), "text/plain"),
        )
        .mount(&server)
        .await;
    let plugins = confluent(&server).environment(ENV).plugins();

    let err = plugins.delete("ccp-1").await.unwrap_err();
    let line = err.to_string();
    assert_one_visible_line(&line);
    assert_eq!(
        line,
        format!(
            "confluent delete_ccpm_v1_custom_connect_plugin: 409 Conflict [in\\u{{200d}}use]: \
             {SHOWN}; also\\u{{feff}}here"
        )
    );

    let err = plugins.get("ccp-1").await.unwrap_err();
    assert!(err.raw_body().is_some_and(|body| body.contains('\u{202e}')));
    let line = err.to_string();
    assert_one_visible_line(&line);
    assert!(line.contains("ok\\u{202e}txt.exe"), "{line}");
}

#[tokio::test]
async fn storage_errors_in_an_upload() {
    let api = MockServer::start().await;
    let storage = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ccpm/v1/presigned-upload-url"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "api_version": "ccpm/v1", "kind": "PresignedUrl", "cloud": "GCP",
            "content_format": "ZIP", "upload_id": "upl-1",
            "upload_url": format!("{}/bucket/upl-1", storage.uri()),
            "environment": {"id": ENV}})))
        .mount(&api)
        .await;
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>Access\u{202e}Denied</Code>\
         <Message>{HOSTILE}</Message><RequestId>rid\u{200b}9</RequestId></Error>"
    );
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(xml, "application/xml"))
        .mount(&storage)
        .await;
    let err = confluent(&api)
        .environment(ENV)
        .plugin_versions("ccp-1")
        .upload(
            "1.0.0",
            Archive::from_bytes("c.zip", b"PK\x03\x04 archive".to_vec()).unwrap(),
        )
        .cloud(Cloud::Gcp)
        .connector_class("com.example.Sink", ConnectorType::Sink)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    let line = err.to_string();
    assert_one_visible_line(&line);
    assert_eq!(
        line,
        format!(
            "uploading plugin version 1.0.0 failed while uploading the archive: upload to GCP \
             storage failed: 403 Forbidden [Access\\u{{202e}}Denied]: {SHOWN} \
             (request id rid\\u{{200b}}9)"
        )
    );
    assert_eq!(err.code(), Some("Access\u{202e}Denied"));
}

#[tokio::test]
async fn phases_and_failure_messages_of_a_version() {
    let server = MockServer::start().await;
    let version = |id: &str, phase: &str, error: Option<&str>| {
        json!({"api_version": "ccpm/v1", "kind": "CustomConnectPluginVersion", "id": id,
               "spec": {"version": "1.0.0", "environment": {"id": ENV},
                        "connector_classes": [{"class_name": "com.example.Sink", "type": "SINK"}]},
               "status": {"phase": phase, "error_message": error}})
    };
    Mock::given(method("GET"))
        .and(path("/ccpm/v1/plugins/ccp-1/versions/ccv-failed"))
        .respond_with(ResponseTemplate::new(200).set_body_json(version(
            "ccv-\u{202e}failed",
            "FAILED",
            Some(HOSTILE),
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ccpm/v1/plugins/ccp-1/versions/ccv-slow"))
        .respond_with(ResponseTemplate::new(200).set_body_json(version(
            "ccv-slow",
            "PROCESS\u{202e}ING\n",
            None,
        )))
        .mount(&server)
        .await;
    let versions = confluent(&server).environment(ENV).plugin_versions("ccp-1");

    let err = versions
        .wait_until_ready("ccv-failed", Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Wait { .. }), "{err:?}");
    let line = err.to_string();
    assert_one_visible_line(&line);
    assert_eq!(
        line,
        format!("plugin version ccv-\\u{{202e}}failed reached FAILED: {SHOWN}")
    );

    let err = versions
        .wait_until_ready("ccv-slow", Duration::from_millis(50))
        .await
        .unwrap_err();
    let line = err.to_string();
    assert_one_visible_line(&line);
    assert_eq!(
        line,
        "plugin version ccv-slow was still PROCESS\\u{202e}ING when the wait timed out"
    );
}
