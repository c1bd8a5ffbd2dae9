//! The two Confluent workflows built on the operations: deleting a plugin with its versions, and
//! publishing a version idempotently. Against the embedded fake and wiremock.
#![cfg(feature = "mock")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloud_plugin_sdk::confluent::{
    Archive, Cloud, ConfluentClient, ConnectorType, Environment, NewPlugin, Phase, PluginId,
    UploadEvent, UploadVersion,
};
use cloud_plugin_sdk::mock::ConfluentFake;
use cloud_plugin_sdk::retry::RetryPolicy;
use cloud_plugin_sdk::{ErrorKind, UploadStage};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const ENV: &str = "env-wf1";
const PLUGIN: &str = "ccp-wf1";

fn client(base_url: String, key: &str, secret: &str) -> ConfluentClient {
    ConfluentClient::builder()
        .base_url(base_url)
        .api_key(key, secret)
        .retry_policy(
            RetryPolicy::standard()
                .initial_backoff(Duration::from_millis(5))
                .max_backoff(Duration::from_millis(20)),
        )
        .build()
        .unwrap()
}

fn fake_env(fake: &ConfluentFake) -> Environment {
    client(fake.url(), fake.api_key(), fake.api_secret()).environment(fake.environment())
}

fn archive() -> Archive {
    Archive::from_bytes("sink.zip", b"PK\x03\x04 a small connector".to_vec()).unwrap()
}

fn publish(env: &Environment, plugin: &PluginId, version: &str) -> UploadVersion {
    env.plugin_versions(plugin)
        .upload(version, archive())
        .connector_class("com.example.Sink", ConnectorType::Sink)
        .poll_interval(Duration::from_millis(5))
        .wait_until_ready(Duration::from_secs(10))
}

async fn plugin(env: &Environment, name: &str) -> PluginId {
    env.plugins()
        .create(&NewPlugin::new(name, Cloud::Aws))
        .await
        .unwrap()
        .into_inner()
        .id
}

/// How many of `server_requests` are `verb` requests for paths containing `part`.
fn count(server_requests: &[Request], verb: &str, part: &str) -> usize {
    server_requests
        .iter()
        .filter(|r| r.method.as_str() == verb && r.url.path().contains(part))
        .count()
}

// ---- delete with versions ----

#[tokio::test]
async fn a_plugin_is_deleted_with_every_version() {
    let fake = ConfluentFake::start().await;
    let env = fake_env(&fake);
    let id = plugin(&env, "with-versions").await;
    for version in ["1.0.0", "1.1.0", "2.0.0"] {
        publish(&env, &id, version).no_wait().await.unwrap();
    }
    // The plain delete is refused while versions exist.
    let err = env.plugins().delete(&id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);

    let report = env.plugins().delete_with_versions(&id).await.unwrap();
    assert_eq!(report.plugin_id, id);
    assert_eq!(report.deleted_versions.len(), 3);
    assert!(report.vanished_versions.is_empty());
    assert!(report.plugin_deleted);
    assert!(env.plugins().get_opt(&id).await.unwrap().is_none());

    // Again: the plugin is gone, nothing to do.
    let again = env.plugins().delete_with_versions(&id).await.unwrap();
    assert!(!again.plugin_deleted);
    assert!(again.deleted_versions.is_empty());
}

/// Answers each request with the next reply; the last one repeats.
struct Replies {
    replies: Vec<ResponseTemplate>,
    served: AtomicUsize,
}

impl Replies {
    fn new(replies: Vec<ResponseTemplate>) -> Self {
        Replies {
            replies,
            served: AtomicUsize::new(0),
        }
    }
}

impl Respond for Replies {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.served.fetch_add(1, Ordering::SeqCst);
        self.replies[n.min(self.replies.len() - 1)].clone()
    }
}

fn version_json(id: &str, version: &str, phase: &str) -> Value {
    json!({"api_version": "ccpm/v1", "kind": "CustomConnectPluginVersion", "id": id,
           "spec": {"version": version,
                    "connector_classes": [{"class_name": "com.example.Sink", "type": "SINK"}],
                    "environment": {"id": ENV}},
           "status": {"phase": phase}})
}

fn version_list(items: &[Value]) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "api_version": "ccpm/v1", "kind": "CustomConnectPluginVersionList",
        "metadata": {}, "data": items
    }))
}

fn failure(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "errors": [{"status": status.to_string(), "code": code, "detail": code}]
    }))
}

async fn mount(server: &MockServer, verb: &str, at: String, replies: Vec<ResponseTemplate>) {
    Mock::given(method(verb))
        .and(path(at))
        .respond_with(Replies::new(replies))
        .mount(server)
        .await;
}

/// Deletes the plugin with its versions on `server`; returns the outcome and what was sent.
async fn delete_with_versions(
    server: &MockServer,
) -> (
    cloud_plugin_sdk::Result<cloud_plugin_sdk::confluent::PluginDeletion>,
    Vec<Request>,
) {
    let env = client(server.uri(), "K", "S").environment(ENV);
    let outcome = env.plugins().delete_with_versions(PLUGIN).await;
    (outcome, server.received_requests().await.unwrap())
}

#[tokio::test]
async fn versions_that_vanish_or_appear_meanwhile_are_handled() {
    let server = MockServer::start().await;
    let versions = format!("/ccpm/v1/plugins/{PLUGIN}/versions");
    // First listing: two versions; after the plugin's deletion is refused, a third appeared.
    mount(
        &server,
        "GET",
        versions.clone(),
        vec![
            version_list(&[
                version_json("ccv-1", "1.0.0", "READY"),
                version_json("ccv-2", "1.1.0", "READY"),
            ]),
            version_list(&[version_json("ccv-3", "2.0.0", "PROCESSING")]),
        ],
    )
    .await;
    mount(
        &server,
        "DELETE",
        format!("{versions}/ccv-1"),
        vec![ResponseTemplate::new(204)],
    )
    .await;
    // Deleted by someone else between the listing and this call.
    mount(
        &server,
        "DELETE",
        format!("{versions}/ccv-2"),
        vec![failure(404, "not_found")],
    )
    .await;
    mount(
        &server,
        "DELETE",
        format!("{versions}/ccv-3"),
        vec![ResponseTemplate::new(204)],
    )
    .await;
    mount(
        &server,
        "DELETE",
        format!("/ccpm/v1/plugins/{PLUGIN}"),
        vec![failure(409, "resource_in_use"), ResponseTemplate::new(204)],
    )
    .await;

    let (report, requests) = delete_with_versions(&server).await;
    let report = report.unwrap();
    let ids = |list: &[cloud_plugin_sdk::confluent::PluginVersionId]| {
        list.iter().map(|id| id.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&report.deleted_versions), ["ccv-1", "ccv-3"]);
    assert_eq!(ids(&report.vanished_versions), ["ccv-2"]);
    assert!(report.plugin_deleted);
    assert_eq!(count(&requests, "GET", "/versions"), 2);
}

#[tokio::test]
async fn a_plugin_that_keeps_getting_versions_is_given_up_after_a_few_rounds() {
    let server = MockServer::start().await;
    let versions = format!("/ccpm/v1/plugins/{PLUGIN}/versions");
    mount(&server, "GET", versions.clone(), vec![version_list(&[])]).await;
    mount(
        &server,
        "DELETE",
        format!("/ccpm/v1/plugins/{PLUGIN}"),
        vec![failure(409, "resource_in_use")],
    )
    .await;
    let (outcome, requests) = delete_with_versions(&server).await;
    assert_eq!(outcome.unwrap_err().kind(), ErrorKind::Conflict);
    assert_eq!(count(&requests, "GET", "/versions"), 5);
    assert_eq!(count(&requests, "DELETE", PLUGIN), 5);
}

#[tokio::test]
async fn a_version_delete_that_fails_otherwise_stops_the_call() {
    let server = MockServer::start().await;
    let versions = format!("/ccpm/v1/plugins/{PLUGIN}/versions");
    mount(
        &server,
        "GET",
        versions.clone(),
        vec![version_list(&[version_json("ccv-1", "1.0.0", "READY")])],
    )
    .await;
    mount(
        &server,
        "DELETE",
        format!("{versions}/ccv-1"),
        vec![failure(403, "user_unauthorized")],
    )
    .await;
    let (outcome, requests) = delete_with_versions(&server).await;
    assert_eq!(outcome.unwrap_err().kind(), ErrorKind::Forbidden);
    assert_eq!(
        count(&requests, "DELETE", ""),
        1,
        "the plugin was left alone"
    );
    // Arguments are checked before anything is sent.
    let env = client(server.uri(), "K", "S").environment(ENV);
    let err = env.plugins().delete_with_versions("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

// ---- publish idempotently ----

#[tokio::test]
async fn publishing_twice_uploads_once() {
    let fake = ConfluentFake::start().await;
    let env = fake_env(&fake);
    let id = plugin(&env, "twice").await;
    let first = publish(&env, &id, "1.0.0").ensure().await.unwrap();
    assert!(first.uploaded);
    assert!(first.replaced.is_none());
    assert_eq!(first.version.status.phase, Phase::Ready);

    let before = fake.received_requests().await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let second = publish(&env, &id, "1.0.0")
        .on_progress(move |event| seen.lock().unwrap().push(event))
        .ensure()
        .await
        .unwrap();
    assert!(!second.uploaded);
    assert_eq!(second.version.id, first.version.id);
    // One listing, nothing else: no presigned URL, no storage upload, no new version.
    assert_eq!(fake.received_requests().await - before, 1);
    let seen = events.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        matches!(
            &seen[0],
            UploadEvent::ExistingVersion { id, phase: Phase::Ready, .. } if *id == first.version.id
        ),
        "{seen:?}"
    );
    // Another version string is published.
    let other = publish(&env, &id, "1.0.1").ensure().await.unwrap();
    assert!(other.uploaded);
    assert_ne!(other.version.id, first.version.id);
}

#[tokio::test]
async fn a_failed_version_is_deleted_and_published_again() {
    let fake = ConfluentFake::start().await;
    let env = fake_env(&fake);
    let id = plugin(&env, "failed-first").await;
    fake.reject_next_archive("The connector class was not found in the archive.");
    let err = publish(&env, &id, "1.0.0")
        .cleanup_on_failure(false)
        .await
        .unwrap_err();
    assert_eq!(err.upload_stage(), Some(UploadStage::WaitingForReady));
    let failed = env.plugin_versions(&id).list().await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].status.phase, Phase::Failed);

    let published = publish(&env, &id, "1.0.0").ensure().await.unwrap();
    assert!(published.uploaded);
    assert_eq!(published.replaced.as_ref(), Some(&failed[0].id));
    assert_eq!(published.version.status.phase, Phase::Ready);
    let now = env.plugin_versions(&id).list().await.unwrap();
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].id, published.version.id);
}

#[tokio::test]
async fn a_version_still_processing_is_waited_for() {
    let fake = ConfluentFake::start().await;
    let env = fake_env(&fake);
    let id = plugin(&env, "processing").await;
    // Another publisher's version, still PROCESSING for three more reads.
    fake.set_processing_polls(3);
    let created = publish(&env, &id, "1.0.0").no_wait().await.unwrap();
    assert_eq!(created.status.phase, Phase::Processing);

    let before = fake.received_requests().await;
    let published = publish(&env, &id, "1.0.0").ensure().await.unwrap();
    assert!(!published.uploaded);
    assert_eq!(published.version.id, created.id);
    assert_eq!(published.version.status.phase, Phase::Ready);
    // The listing and four reads of the version.
    assert_eq!(fake.received_requests().await - before, 5);

    // One that ends FAILED is deleted and published again.
    fake.reject_next_archive("bad archive");
    let doomed = publish(&env, &id, "2.0.0").no_wait().await.unwrap();
    let published = publish(&env, &id, "2.0.0").ensure().await.unwrap();
    assert!(published.uploaded);
    assert_eq!(published.replaced, Some(doomed.id.clone()));
    assert_eq!(published.version.status.phase, Phase::Ready);
}

#[tokio::test]
async fn a_version_created_by_another_publisher_meanwhile_is_found_on_a_second_look() {
    let api = MockServer::start().await;
    let storage = MockServer::start().await;
    let versions = format!("/ccpm/v1/plugins/{PLUGIN}/versions");
    // Not there at the first look; READY at the second.
    mount(
        &api,
        "GET",
        versions.clone(),
        vec![
            version_list(&[]),
            version_list(&[version_json("ccv-other", "1.0.0", "READY")]),
        ],
    )
    .await;
    mount(
        &api,
        "POST",
        "/ccpm/v1/presigned-upload-url".into(),
        vec![ResponseTemplate::new(201).set_body_json(json!({
            "api_version": "ccpm/v1", "kind": "PresignedUrl", "cloud": "GCP",
            "content_format": "ZIP", "upload_id": "upl-1",
            "upload_url": format!("{}/bucket/upl-1", storage.uri()),
            "environment": {"id": ENV}
        }))],
    )
    .await;
    mount(
        &storage,
        "PUT",
        "/bucket/upl-1".into(),
        vec![ResponseTemplate::new(200)],
    )
    .await;
    mount(
        &api,
        "POST",
        versions.clone(),
        vec![failure(409, "resource_already_exists")],
    )
    .await;

    let env = client(api.uri(), "K", "S").environment(ENV);
    let published = env
        .plugin_versions(PLUGIN)
        .upload("1.0.0", archive())
        .connector_class("com.example.Sink", ConnectorType::Sink)
        .cloud(Cloud::Gcp)
        .ensure()
        .await
        .unwrap();
    assert!(!published.uploaded);
    assert_eq!(published.version.id.to_string(), "ccv-other");
    let requests = api.received_requests().await.unwrap();
    assert_eq!(count(&requests, "GET", "/versions"), 2);
    assert_eq!(count(&requests, "POST", "/versions"), 1);
}

#[tokio::test]
async fn a_failed_look_is_an_upload_error_naming_the_stage() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GET",
        format!("/ccpm/v1/plugins/{PLUGIN}/versions"),
        vec![failure(403, "user_unauthorized")],
    )
    .await;
    let env = client(server.uri(), "K", "S").environment(ENV);
    let err = env
        .plugin_versions(PLUGIN)
        .upload("1.0.0", archive())
        .connector_class("com.example.Sink", ConnectorType::Sink)
        .ensure()
        .await
        .unwrap_err();
    assert_eq!(err.upload_stage(), Some(UploadStage::FindingVersion));
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert!(
        err.to_string().starts_with(
            "uploading plugin version 1.0.0 failed while looking for an existing version"
        ),
        "{err}"
    );
    // Bad settings fail before any request.
    let before = server.received_requests().await.unwrap().len();
    let err = env
        .plugin_versions(PLUGIN)
        .upload("1.0.0", archive())
        .ensure()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(server.received_requests().await.unwrap().len(), before);
}
