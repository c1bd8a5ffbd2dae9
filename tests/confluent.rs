//! The Confluent ccpm/v1 client against wiremock: request shapes, decoding, paging, error mapping
//! and argument checks.

use std::time::Duration;

use base64::Engine as _;
use cloud_plugin_sdk::confluent::{
    Cloud, ConfluentClient, ConnectorClass, ConnectorType, ContentFormat, DEFAULT_BASE_URL,
    EnvironmentId, NewPlugin, NewPluginVersion, Phase, Plugin, PluginId, PluginPage, PluginUpdate,
    PluginVersion, UploadSource, next_page_token,
};
use cloud_plugin_sdk::{Credentials, Error, ErrorKind, Service, retry::RetryPolicy};
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::{Value, json};
use wiremock::matchers::{
    basic_auth, bearer_token, body_json, header, method, path, path_regex, query_param,
    query_param_is_missing,
};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "KEY1234567890ABC";
const SECRET: &str = "secret-confluent-value-0123456789";
const TOKEN: &str = "eyJhbGciOi.sts-access-token.sig";
const ENV: &str = "env-abc123";
const PLUGIN: &str = "ccp-12345";
const VERSION: &str = "ccp-ver-12345";

// Complete objects from the user's "Read a Custom Connect Plugin" page, verbatim.
const SEED_ENVIRONMENT: &str = r#"{"id":"env-00000","related":"https://api.confluent.cloud/v2/environments/env-00000","resource_name":"https://api.confluent.cloud/organization=9bb441c4-edef-46ac-8a41-c49e44a3fd9a/environment=env-00000"}"#;
const SEED_400: &str = r#"{"errors":[{"id":"ed42afdc-f0d5-4c0d-b428-9fc6ed6e279d","status":"400","code":"invalid_filter","title":"Invalid Filter","detail":"The 'delorean' resource can't be filtered by 'num_doors'","source":{"parameter":"num_doors"}}]}"#;
const SEED_401: &str = r#"{"errors":[{"id":"ed42afdc-f0d5-4c0d-b428-9fc6ed6e279d","status":"401","code":"user_unauthenticated","title":"Authentication Required","detail":"Valid authentication credentials must be provided"}]}"#;
const SEED_403: &str = r#"{"errors":[{"id":"ed42afdc-f0d5-4c0d-b428-9fc6ed6e279d","status":"403","code":"user_unauthorized","title":"User Access Unauthorized","detail":"The user 'mcfly' is not allowed to access the 'delorean' resource without the 'plutonium' role."}]}"#;
const SEED_404: &str = r#"{"errors":[{"id":"ed42afdc-f0d5-4c0d-b428-9fc6ed6e279d","status":"404","title":"Not Found"}]}"#;
const SEED_500: &str = r#"{"errors":[{"id":"ed42afdc-f0d5-4c0d-b428-9fc6ed6e279d","status":"500","code":"out_of_gas","title":"DeLorean Out Of Gas","detail":"The DeLorean has run out of gas, but Doc Brown will fill 'er up for you asap"}]}"#;
const SEED_WWW_AUTHENTICATE: &str =
    r#"Basic error="invalid_key", error_description="The API Key is invalid""#;

/// A plugin as the page describes it: the example values of every field put together.
fn seed_plugin() -> Value {
    json!({
        "api_version": "ccpm/v1",
        "kind": "CustomConnectPlugin",
        "id": PLUGIN,
        "metadata": {
            "self": "https://api.confluent.cloud/ccpm/v1/plugins/ccp-12345?environment=env-abc123",
            "resource_name": "crn://confluent.cloud/organization=9bb441c4-edef-46ac-8a41-c49e44a3fd9a/environment=env-abc123/custom-connect-plugin=ccp-12345",
            "created_at": "2006-01-02T15:04:05-07:00",
            "updated_at": "2006-01-02T15:04:05-07:00"
        },
        "spec": {
            "cloud": "AWS",
            "display_name": "Orders JDBC sink",
            "description": "Writes order events into the billing database.",
            "runtime_language": "JAVA",
            "environment": serde_json::from_str::<Value>(SEED_ENVIRONMENT).unwrap()
        }
    })
}

fn plugin_named(id: &str, name: &str) -> Value {
    let mut p = seed_plugin();
    p["id"] = json!(id);
    p["spec"]["display_name"] = json!(name);
    p
}

fn seed_version() -> Value {
    json!({
        "api_version": "ccpm/v1",
        "kind": "CustomConnectPluginVersion",
        "id": VERSION,
        "metadata": {
            "self": "https://api.confluent.cloud/ccpm/v1/custom-connect-plugin-versions/ccp-ver-12345",
            "resource_name": "crn://confluent.cloud/organization=9bb441c4-edef-46ac-8a41-c49e44a3fd9a/custom-connect-plugin-version=ccp-ver-12345",
            "created_at": "2006-01-02T15:04:05-07:00"
        },
        "spec": {
            "version": "1.0.0",
            "sensitive_config_properties": ["connection.password"],
            "documentation_link": "https://docs.example.com/orders-sink",
            "content_format": "ZIP",
            "connector_classes": [{"class_name": "com.example.orders.OrdersSinkConnector", "type": "SINK"}],
            "environment": serde_json::from_str::<Value>(SEED_ENVIRONMENT).unwrap()
        },
        "status": {"phase": "PROCESSING"}
    })
}

fn json_response(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_raw(body.to_string().into_bytes(), "application/json")
        .insert_header("x-request-id", "req-ok-1")
        .insert_header("x-ratelimit-limit", "80")
        .insert_header("x-ratelimit-remaining", "79")
        .insert_header("x-ratelimit-reset", "42")
}

fn list_body(items: Vec<Value>, next: Option<&str>, total: u64) -> Value {
    json!({
        "api_version": "ccpm/v1",
        "kind": "CustomConnectPluginList",
        "metadata": {
            "first": "https://api.confluent.cloud/ccpm/v1/plugins?environment=env-abc123",
            "next": next,
            "total_size": total
        },
        "data": items
    })
}

fn next_link(token: &str) -> String {
    format!("https://api.confluent.cloud/ccpm/v1/plugins?environment={ENV}&page_token={token}")
}

/// A server and a client with the standard retries, backing off 1 ms.
async fn setup_retrying() -> (MockServer, ConfluentClient) {
    let server = MockServer::start().await;
    let client = ConfluentClient::builder()
        .base_url(server.uri())
        .api_key(KEY, SECRET)
        .retry_policy(RetryPolicy::standard().initial_backoff(Duration::from_millis(1)))
        .build()
        .unwrap();
    (server, client)
}

async fn setup() -> (MockServer, ConfluentClient) {
    let server = MockServer::start().await;
    let client = ConfluentClient::builder()
        .base_url(server.uri())
        .api_key(KEY, SECRET)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    (server, client)
}

fn basic_header() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:{SECRET}"))
    )
}

/// The query of a received request as sorted (name, value) pairs.
fn query_of(request: &Request) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    pairs
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<_> = list
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    out.sort();
    out
}

async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

// ---------------------------------------------------------------------------------------------
// Operations: request shapes and decoding

#[tokio::test]
async fn list_plugins_one_page_sends_every_query_parameter_and_basic_auth() {
    let (server, client) = setup().await;
    let body = list_body(vec![seed_plugin()], Some(&next_link("UvmDWOB1")), 11);
    Mock::given(method("GET"))
        .and(path("/ccpm/v1/plugins"))
        .and(query_param("environment", ENV))
        .and(query_param("spec.cloud", "AWS"))
        .and(query_param("page_size", "25"))
        .and(query_param("page_token", "tok-1"))
        .and(header("authorization", basic_header().as_str()))
        .and(basic_auth(KEY, SECRET))
        .respond_with(json_response(200, &body))
        .expect(1)
        .mount(&server)
        .await;
    let page = client
        .environment(ENV)
        .plugins()
        .list()
        .cloud(Cloud::Aws)
        .page_size(25)
        .page_token("tok-1")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.request_id(), Some("req-ok-1"));
    let rate = page.rate_limit().unwrap();
    assert_eq!(rate.limit, Some(80));
    assert_eq!(rate.remaining, Some(79));
    assert_eq!(rate.reset, Some(Duration::from_secs(42)));
    assert_eq!(page.data.len(), 1);
    assert_eq!(page.metadata.total_size, Some(11));
    assert_eq!(page.next_page_token().as_deref(), Some("UvmDWOB1"));
    assert!(!page.is_last());
    let plugin = &page.data[0];
    assert_eq!(plugin.id, PLUGIN);
    assert_eq!(plugin.spec.cloud, Cloud::Aws);
    let requests = received(&server).await;
    assert_eq!(
        query_of(&requests[0]),
        pairs(&[
            ("environment", ENV),
            ("page_size", "25"),
            ("page_token", "tok-1"),
            ("spec.cloud", "AWS")
        ])
    );
    assert!(requests[0].headers.get("api-version").is_none());
}

#[tokio::test]
async fn bearer_access_token_is_sent() {
    let server = MockServer::start().await;
    let client = ConfluentClient::builder()
        .base_url(server.uri())
        .access_token(TOKEN)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    Mock::given(method("GET"))
        .and(path(format!("/ccpm/v1/plugins/{PLUGIN}")))
        .and(query_param("environment", ENV))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(bearer_token(TOKEN))
        .respond_with(json_response(200, &seed_plugin()))
        .expect(1)
        .mount(&server)
        .await;
    let plugin = client.environment(ENV).plugins().get(PLUGIN).await.unwrap();
    assert_eq!(plugin.spec.display_name, "Orders JDBC sink");
    let shown = format!("{client:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
}

#[tokio::test]
async fn get_plugin_decodes_the_seed_example() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("/ccpm/v1/plugins/{PLUGIN}")))
        .and(query_param("environment", ENV))
        .and(basic_auth(KEY, SECRET))
        .respond_with(json_response(200, &seed_plugin()))
        .expect(1)
        .mount(&server)
        .await;
    let plugin = client.environment(ENV).plugins().get(PLUGIN).await.unwrap();
    assert_eq!(plugin.api_version.as_deref(), Some("ccpm/v1"));
    assert_eq!(plugin.kind.as_deref(), Some("CustomConnectPlugin"));
    assert_eq!(plugin.id.as_str(), PLUGIN);
    assert_eq!(plugin.spec.cloud, Cloud::Aws);
    assert_eq!(plugin.spec.runtime_language.as_deref(), Some("JAVA"));
    assert_eq!(
        plugin.spec.description.as_deref(),
        Some("Writes order events into the billing database.")
    );
    let env = &plugin.spec.environment;
    assert_eq!(env.id, "env-00000");
    assert_eq!(
        env.related.as_deref(),
        Some("https://api.confluent.cloud/v2/environments/env-00000")
    );
    assert!(env.resource_name.as_deref().unwrap().ends_with("env-00000"));
    let meta = plugin.metadata.as_ref().unwrap();
    assert_eq!(
        meta.self_.as_deref(),
        Some("https://api.confluent.cloud/ccpm/v1/plugins/ccp-12345?environment=env-abc123")
    );
    assert!(
        meta.resource_name
            .as_deref()
            .unwrap()
            .ends_with("custom-connect-plugin=ccp-12345")
    );
    // 2006-01-02T15:04:05-07:00 is 22:04:05 UTC.
    assert_eq!(
        meta.created_at.unwrap().to_rfc3339(),
        "2006-01-02T22:04:05+00:00"
    );
    // The seed environment round-trips through the model unchanged.
    let env_json = serde_json::to_value(env).unwrap();
    assert_eq!(
        env_json,
        serde_json::from_str::<Value>(SEED_ENVIRONMENT).unwrap()
    );
}

#[tokio::test]
async fn create_plugin_puts_the_environment_in_the_body() {
    let (server, client) = setup().await;
    let expected = json!({
        "spec": {
            "cloud": "AWS",
            "display_name": "Orders JDBC sink",
            "description": "Writes order events into the billing database.",
            "environment": {"id": ENV}
        }
    });
    Mock::given(method("POST"))
        .and(path("/ccpm/v1/plugins"))
        .and(basic_auth(KEY, SECRET))
        .and(body_json(&expected))
        .respond_with(json_response(202, &seed_plugin()).insert_header(
            "location",
            "https://api.confluent.cloud/ccpm/v1/plugins/ccp-12345",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let created = client
        .environment(ENV)
        .plugins()
        .create(
            &NewPlugin::new("Orders JDBC sink", Cloud::Aws)
                .description("Writes order events into the billing database."),
        )
        .await
        .unwrap();
    assert_eq!(created.status(), 202);
    assert_eq!(created.id, PLUGIN);
    let requests = received(&server).await;
    assert_eq!(
        requests[0].url.query(),
        None,
        "no environment query on POST"
    );
    let content_type = requests[0].headers.get("content-type").unwrap();
    assert!(
        content_type
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );

    // Without a description, the field is left out.
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path("/ccpm/v1/plugins"))
        .and(body_json(json!({
            "spec": {"cloud": "GCP", "display_name": "n", "environment": {"id": ENV}}
        })))
        .respond_with(json_response(202, &seed_plugin()))
        .expect(1)
        .mount(&server)
        .await;
    client
        .environment(ENV)
        .plugins()
        .create(&NewPlugin::new("n", Cloud::Gcp))
        .await
        .unwrap();
}

#[tokio::test]
async fn update_plugin_patches_without_environment_query() {
    let (server, client) = setup().await;
    let mut updated = seed_plugin();
    updated["spec"]["display_name"] = json!("Orders JDBC sink (v2 schema)");
    Mock::given(method("PATCH"))
        .and(path(format!("/ccpm/v1/plugins/{PLUGIN}")))
        .and(basic_auth(KEY, SECRET))
        .and(body_json(json!({
            "spec": {"display_name": "Orders JDBC sink (v2 schema)", "environment": {"id": ENV}}
        })))
        .respond_with(json_response(200, &updated))
        .expect(1)
        .mount(&server)
        .await;
    let plugin = client
        .environment(ENV)
        .plugins()
        .update(
            PLUGIN,
            &PluginUpdate::new().display_name("Orders JDBC sink (v2 schema)"),
        )
        .await
        .unwrap();
    assert_eq!(plugin.spec.display_name, "Orders JDBC sink (v2 schema)");
    let requests = received(&server).await;
    assert_eq!(requests[0].url.query(), None);

    // Both fields, and an empty description to clear it.
    let (server, client) = setup().await;
    Mock::given(method("PATCH"))
        .and(body_json(json!({
            "spec": {"display_name": "x", "description": "", "environment": {"id": ENV}}
        })))
        .respond_with(json_response(200, &seed_plugin()))
        .expect(1)
        .mount(&server)
        .await;
    client
        .environment(ENV)
        .plugins()
        .update(
            &PluginId::from(PLUGIN),
            &PluginUpdate::new().display_name("x").description(""),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn delete_plugin_and_the_idempotent_variants() {
    let (server, client) = setup().await;
    Mock::given(method("DELETE"))
        .and(path(format!("/ccpm/v1/plugins/{PLUGIN}")))
        .and(query_param("environment", ENV))
        .and(basic_auth(KEY, SECRET))
        .respond_with(ResponseTemplate::new(204).insert_header("x-request-id", "req-del"))
        .expect(2)
        .mount(&server)
        .await;
    let plugins = client.environment(ENV).plugins();
    let deleted = plugins.delete(PLUGIN).await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(deleted.request_id(), Some("req-del"));
    assert!(plugins.delete_if_exists(PLUGIN).await.unwrap());

    let (server, client) = setup().await;
    Mock::given(path(format!("/ccpm/v1/plugins/{PLUGIN}")))
        .and(query_param("environment", ENV))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw(SEED_404, "application/json")
                .insert_header("x-request-id", "req-404"),
        )
        .expect(3)
        .mount(&server)
        .await;
    let plugins = client.environment(ENV).plugins();
    assert!(!plugins.delete_if_exists(PLUGIN).await.unwrap());
    assert!(plugins.get_opt(PLUGIN).await.unwrap().is_none());
    let err = plugins.delete(PLUGIN).await.unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(err.request_id(), Some("req-404"));
}

#[tokio::test]
async fn a_retried_write_is_sent_again_unchanged() {
    // Each attempt runs the operation again, building the request anew: the retry must be the
    // same request, body included, not a similar one.
    let (server, client) = setup_retrying().await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .respond_with(json_response(200, &seed_plugin()))
        .mount(&server)
        .await;
    let update = PluginUpdate::new()
        .display_name("Orders JDBC sink (v2 schema)")
        .description("Writes orders to Postgres");
    let updated = client
        .environment(ENV)
        .plugins()
        .update(PLUGIN, &update)
        .await
        .unwrap();
    assert_eq!(updated.attempts(), 3);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    let first = &requests[0];
    assert_eq!(first.method.as_str(), "PATCH");
    assert!(!first.body.is_empty());
    for again in &requests[1..] {
        assert_eq!(again.method, first.method);
        assert_eq!(again.url, first.url);
        assert_eq!(again.body, first.body);
        for name in ["authorization", "content-type", "accept", "user-agent"] {
            assert_eq!(again.headers.get(name), first.headers.get(name), "{name}");
        }
        assert_eq!(again.headers.len(), first.headers.len());
    }
}

#[tokio::test]
async fn a_retried_call_reports_the_final_response() {
    let (server, client) = setup_retrying().await;
    Mock::given(method("GET"))
        .and(path(format!("/ccpm/v1/plugins/{PLUGIN}")))
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("x-request-id", "req-first")
                .insert_header("x-ratelimit-remaining", "12")
                .insert_header("x-ratelimit-reset", "50"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/ccpm/v1/plugins/{PLUGIN}")))
        .respond_with(json_response(200, &seed_plugin()))
        .mount(&server)
        .await;
    let plugin = client.environment(ENV).plugins().get(PLUGIN).await.unwrap();
    assert_eq!(plugin.attempts(), 2);
    assert_eq!(plugin.status(), 200);
    assert_eq!(plugin.request_id(), Some("req-ok-1"));
    let rate = plugin.rate_limit().unwrap();
    assert_eq!(rate.remaining, Some(79));
    assert_eq!(rate.reset, Some(Duration::from_secs(42)));
    assert_eq!(plugin.id.as_str(), PLUGIN);
    assert_eq!(received(&server).await.len(), 2);
}

#[tokio::test]
async fn get_opt_returns_the_plugin_when_present() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("/ccpm/v1/plugins/{PLUGIN}")))
        .respond_with(json_response(200, &seed_plugin()))
        .mount(&server)
        .await;
    let found = client
        .environment(ENV)
        .plugins()
        .get_opt(PLUGIN)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, PLUGIN);
    assert_eq!(found.request_id(), Some("req-ok-1"));
}

#[tokio::test]
async fn presigned_upload_url_request_and_response() {
    let (server, client) = setup().await;
    let response = json!({
        "api_version": "ccpm/v1",
        "kind": "PresignedUrl",
        "content_format": "ZIP",
        "cloud": "AWS",
        "upload_id": "6f1c2a9e-3b7d-4e55-9a10-2c8d4b7e1f03",
        "upload_url": "https://example-plugin-uploads.s3.us-west-2.amazonaws.com/",
        "upload_form_data": {
            "bucket": "example-plugin-uploads",
            "key": "custom-plugin/6f1c2a9e/plugin.zip",
            "policy": "eyJleHBpcmF0aW9uIjoiMjAyNS0wNi0wMlQxMDo0MDoxMloifQ==",
            "x-amz-algorithm": "AWS4-HMAC-SHA256",
            "x-amz-credential": "AKIA/20250602/us-west-2/s3/aws4_request",
            "x-amz-date": "20250602T094012Z",
            "x-amz-security-token": "FwoGZXIvYXdzE",
            "x-amz-signature": "abcdef0123456789",
            "content-length-range": 1048576,
            "success_action_status": true,
            "nothing": null
        },
        "environment": {"id": ENV, "related": "https://api.confluent.cloud/v2/environments/env-abc123"},
        "some_future_field": {"a": 1}
    });
    Mock::given(method("POST"))
        .and(path("/ccpm/v1/presigned-upload-url"))
        .and(basic_auth(KEY, SECRET))
        .and(body_json(json!({
            "content_format": "ZIP",
            "cloud": "AWS",
            "environment": {"id": ENV}
        })))
        .respond_with(json_response(201, &response))
        .expect(1)
        .mount(&server)
        .await;
    let upload = client
        .environment(ENV)
        .presigned_upload_url(Cloud::Aws, ContentFormat::Zip)
        .await
        .unwrap();
    assert_eq!(upload.status(), 201);
    assert_eq!(
        upload.upload_id.as_deref(),
        Some("6f1c2a9e-3b7d-4e55-9a10-2c8d4b7e1f03")
    );
    assert_eq!(
        upload.upload_url.as_deref(),
        Some("https://example-plugin-uploads.s3.us-west-2.amazonaws.com/")
    );
    assert_eq!(upload.cloud, Cloud::Aws);
    assert_eq!(upload.content_format, ContentFormat::Zip);
    let form = upload.form_fields();
    assert_eq!(form["x-amz-algorithm"], "AWS4-HMAC-SHA256");
    assert_eq!(form["content-length-range"], "1048576");
    assert_eq!(form["success_action_status"], "true");
    assert!(!form.contains_key("nothing"));
    assert_eq!(form.len(), 10);
    // BTreeMap: the fields come out in a stable order.
    assert_eq!(form.keys().next().map(String::as_str), Some("bucket"));
    let requests = received(&server).await;
    assert_eq!(requests[0].url.query(), None);
}

#[tokio::test]
async fn a_presigned_upload_without_its_required_fields_is_a_decode_error() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path("/ccpm/v1/presigned-upload-url"))
        .and(body_json(json!({
            "content_format": "JAR",
            "cloud": "AZURE",
            "environment": {"id": ENV}
        })))
        .respond_with(json_response(
            201,
            &json!({"upload_id": "u-1", "upload_url": "https://acct.blob.core.windows.net/c/p.jar?sig=x", "upload_form_data": null}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let err = client
        .environment(ENV)
        .presigned_upload_url(Cloud::Azure, ContentFormat::Jar)
        .await
        .unwrap_err();
    // `cloud`, `content_format` and `environment` are required in the answer.
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert_eq!(err.status(), Some(reqwest::StatusCode::CREATED), "{err}");
}

#[tokio::test]
async fn list_versions_decodes_every_phase_and_upload_source_shape() {
    let (server, client) = setup().await;
    let ready = {
        let mut v = seed_version();
        v["id"] = json!("ver-ready");
        v["status"] = json!({"phase": "READY"});
        v["spec"]["upload_source"] = json!({"location": "PRESIGNED_URL_LOCATION", "upload_id": ""});
        v
    };
    let failed = {
        let mut v = seed_version();
        v["id"] = json!("ver-failed");
        v["status"] = json!({"phase": "FAILED", "error_message": "Version creation failed due to invalid plugin archive."});
        v["spec"].as_object_mut().unwrap().remove("upload_source");
        v
    };
    let future = {
        let mut v = seed_version();
        v["id"] = json!("ver-future");
        v["status"] = json!({"phase": "QUARANTINED", "since": "2026-01-01"});
        v["spec"]["upload_source"] = Value::Null;
        v["spec"]["content_format"] = json!("TAR");
        v["spec"]["connector_classes"] = json!([{"class_name": "a.B", "type": "TRANSFORM"}]);
        v["metadata"] = Value::Null;
        v
    };
    let no_metadata = {
        let mut v = seed_version();
        v["id"] = json!("ver-nometadata");
        v.as_object_mut().unwrap().remove("metadata");
        v
    };
    let body = json!({
        "api_version": "ccpm/v1",
        "kind": "CustomConnectPluginVersionList",
        "metadata": {"total_size": 5},
        "data": [seed_version(), ready, failed, future, no_metadata]
    });
    Mock::given(method("GET"))
        .and(path(format!("/ccpm/v1/plugins/{PLUGIN}/versions")))
        .and(query_param("environment", ENV))
        .and(basic_auth(KEY, SECRET))
        .respond_with(json_response(200, &body))
        .expect(1)
        .mount(&server)
        .await;
    let versions = client
        .environment(ENV)
        .plugin_versions(PLUGIN)
        .list()
        .await
        .unwrap();
    assert_eq!(versions.request_id(), Some("req-ok-1"));
    assert_eq!(versions.len(), 5);
    let v = &versions[0];
    assert_eq!(v.id, VERSION);
    assert_eq!(v.spec.version, "1.0.0");
    assert_eq!(v.spec.content_format, Some(ContentFormat::Zip));
    assert_eq!(
        v.spec.connector_classes,
        vec![ConnectorClass::sink(
            "com.example.orders.OrdersSinkConnector"
        )]
    );
    assert_eq!(
        v.spec.sensitive_config_properties,
        vec!["connection.password"]
    );
    assert_eq!(
        v.spec.documentation_link.as_deref(),
        Some("https://docs.example.com/orders-sink")
    );
    assert_eq!(*v.phase(), Phase::Processing);
    assert!(!v.phase().is_terminal());
    assert!(v.spec.upload_source.is_none());

    assert!(versions[1].is_ready());
    assert_eq!(
        versions[1].spec.upload_source,
        Some(UploadSource::presigned_url(""))
    );
    assert!(versions[2].is_failed());
    assert_eq!(
        versions[2].status.error_message.as_deref(),
        Some("Version creation failed due to invalid plugin archive.")
    );
    assert!(versions[2].spec.upload_source.is_none());
    let f = &versions[3];
    assert_eq!(f.status.phase, Phase::Other("QUARANTINED".into()));
    assert_eq!(f.status.phase.to_string(), "QUARANTINED");
    assert_eq!(
        f.spec.content_format,
        Some(ContentFormat::Other("TAR".into()))
    );
    assert_eq!(
        f.spec.connector_classes[0].type_,
        ConnectorType::Other("TRANSFORM".into())
    );
    assert!(f.metadata.is_none());
    assert_eq!(versions[4].status.phase, Phase::Processing);
    assert!(versions[4].metadata.is_none());
}

#[tokio::test]
async fn create_version_sends_the_documented_body() {
    let (server, client) = setup().await;
    let expected = json!({
        "spec": {
            "version": "1.0.0",
            "sensitive_config_properties": ["connection.password"],
            "documentation_link": "https://docs.example.com/orders-sink",
            "connector_classes": [
                {"class_name": "com.example.orders.OrdersSinkConnector", "type": "SINK"},
                {"class_name": "com.example.orders.OrdersSourceConnector", "type": "SOURCE"}
            ],
            "upload_source": {
                "location": "PRESIGNED_URL_LOCATION",
                "upload_id": "6f1c2a9e-3b7d-4e55-9a10-2c8d4b7e1f03"
            },
            "environment": {"id": ENV}
        }
    });
    let accepted = seed_version();
    Mock::given(method("POST"))
        .and(path(format!("/ccpm/v1/plugins/{PLUGIN}/versions")))
        .and(basic_auth(KEY, SECRET))
        .and(body_json(&expected))
        .respond_with(json_response(202, &accepted))
        .expect(1)
        .mount(&server)
        .await;
    let new = NewPluginVersion::new("1.0.0", "6f1c2a9e-3b7d-4e55-9a10-2c8d4b7e1f03")
        .connector_class(
            "com.example.orders.OrdersSinkConnector",
            ConnectorType::Sink,
        )
        .connector_classes([ConnectorClass::source(
            "com.example.orders.OrdersSourceConnector",
        )])
        .sensitive_config_property("connection.password")
        .documentation_link("https://docs.example.com/orders-sink");
    let created = client
        .environment(ENV)
        .plugin_versions(PLUGIN)
        .create(&new)
        .await
        .unwrap();
    assert_eq!(created.status(), 202);
    assert_eq!(created.status.phase, Phase::Processing);
    assert_eq!(created.id, VERSION);
    let requests = received(&server).await;
    assert_eq!(requests[0].url.query(), None);

    // Optional fields left out entirely.
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(body_json(json!({
            "spec": {
                "version": "v2.0.0-rc.1+build.7",
                "connector_classes": [{"class_name": "Sink", "type": "SINK"}],
                "upload_source": {"location": "PRESIGNED_URL_LOCATION", "upload_id": "u"},
                "environment": {"id": ENV}
            }
        })))
        .respond_with(json_response(202, &seed_version()))
        .expect(1)
        .mount(&server)
        .await;
    client
        .environment(ENV)
        .plugin_versions(PLUGIN)
        .create(
            &NewPluginVersion::new("v2.0.0-rc.1+build.7", "u")
                .connector_class("Sink", ConnectorType::Sink),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn get_and_delete_version() {
    let (server, client) = setup().await;
    let mut ready = seed_version();
    ready["status"] = json!({"phase": "READY"});
    Mock::given(method("GET"))
        .and(path(format!(
            "/ccpm/v1/plugins/{PLUGIN}/versions/{VERSION}"
        )))
        .and(query_param("environment", ENV))
        .and(basic_auth(KEY, SECRET))
        .respond_with(json_response(200, &ready))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!(
            "/ccpm/v1/plugins/{PLUGIN}/versions/{VERSION}"
        )))
        .and(query_param("environment", ENV))
        .and(basic_auth(KEY, SECRET))
        .respond_with(ResponseTemplate::new(204))
        .expect(2)
        .mount(&server)
        .await;
    let versions = client.environment(ENV).plugin_versions(PLUGIN);
    assert_eq!(versions.plugin_id(), &PluginId::from(PLUGIN));
    let v = versions.get(VERSION).await.unwrap();
    assert!(v.is_ready());
    assert!(versions.get_opt(VERSION).await.unwrap().is_some());
    assert_eq!(versions.delete(VERSION).await.unwrap().status(), 204);
    assert!(versions.delete_if_exists(VERSION).await.unwrap());

    let (server, client) = setup().await;
    Mock::given(path(format!(
        "/ccpm/v1/plugins/{PLUGIN}/versions/{VERSION}"
    )))
    .respond_with(ResponseTemplate::new(404).set_body_raw(SEED_404, "application/json"))
    .expect(2)
    .mount(&server)
    .await;
    let versions = client.environment(ENV).plugin_versions(PLUGIN);
    assert!(versions.get_opt(VERSION).await.unwrap().is_none());
    assert!(!versions.delete_if_exists(VERSION).await.unwrap());
}

#[tokio::test]
async fn ids_are_percent_encoded_in_paths() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .respond_with(json_response(200, &seed_plugin()))
        .mount(&server)
        .await;
    client
        .environment("env 1&x=y")
        .plugins()
        .get("ccp/../x")
        .await
        .unwrap();
    let requests = received(&server).await;
    assert_eq!(requests[0].url.path(), "/ccpm/v1/plugins/ccp%2F..%2Fx");
    assert_eq!(
        query_of(&requests[0]),
        pairs(&[("environment", "env 1&x=y")])
    );
}

// ---------------------------------------------------------------------------------------------
// Paging

/// Mounts three pages: a (2 items) -> b (2 items) -> c (1 item, last).
async fn mount_three_pages(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/ccpm/v1/plugins"))
        .and(query_param("environment", ENV))
        .and(query_param_is_missing("page_token"))
        .respond_with(json_response(
            200,
            &list_body(
                vec![plugin_named("ccp-1", "one"), plugin_named("ccp-2", "two")],
                Some(&next_link("tok-b")),
                5,
            ),
        ))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ccpm/v1/plugins"))
        .and(query_param("environment", ENV))
        .and(query_param("page_token", "tok-b"))
        .respond_with(json_response(
            200,
            &list_body(
                vec![
                    plugin_named("ccp-3", "three"),
                    plugin_named("ccp-4", "four"),
                ],
                // A relative link with an encoded token works too.
                Some("/ccpm/v1/plugins?environment=env-abc123&page_token=tok%2Fc%3D%3D"),
                5,
            ),
        ))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ccpm/v1/plugins"))
        .and(query_param("environment", ENV))
        .and(query_param("page_token", "tok/c=="))
        .respond_with(json_response(
            200,
            &list_body(vec![plugin_named("ccp-5", "five")], None, 5),
        ))
        .mount(server)
        .await;
}

#[tokio::test]
async fn stream_follows_next_links_with_page_size_and_cloud_on_every_page() {
    let (server, client) = setup().await;
    mount_three_pages(&server).await;
    let plugins: Vec<Plugin> = client
        .environment(ENV)
        .plugins()
        .list()
        .cloud(Cloud::Gcp)
        .page_size(2)
        .stream()
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<_> = plugins.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["ccp-1", "ccp-2", "ccp-3", "ccp-4", "ccp-5"]);
    let requests = received(&server).await;
    assert_eq!(requests.len(), 3);
    assert_eq!(
        query_of(&requests[0]),
        pairs(&[
            ("environment", ENV),
            ("page_size", "2"),
            ("spec.cloud", "GCP")
        ])
    );
    assert_eq!(
        query_of(&requests[1]),
        pairs(&[
            ("environment", ENV),
            ("page_size", "2"),
            ("page_token", "tok-b"),
            ("spec.cloud", "GCP")
        ])
    );
    assert_eq!(
        query_of(&requests[2]),
        pairs(&[
            ("environment", ENV),
            ("page_size", "2"),
            ("page_token", "tok/c=="),
            ("spec.cloud", "GCP")
        ])
    );
    for r in &requests {
        assert_eq!(
            r.headers.get("authorization").unwrap().to_str().unwrap(),
            basic_header()
        );
    }
}

#[tokio::test]
async fn pages_and_all() {
    let (server, client) = setup().await;
    mount_three_pages(&server).await;
    let plugins = client.environment(ENV).plugins();
    let pages: Vec<_> = plugins.list().pages().try_collect().await.unwrap();
    assert_eq!(
        pages.iter().map(|p| p.data.len()).collect::<Vec<_>>(),
        [2, 2, 1]
    );
    assert!(pages.iter().all(|p| p.metadata.total_size == Some(5)));
    assert!(pages.iter().all(|p| p.request_id() == Some("req-ok-1")));
    assert!(pages[2].is_last());
    let all = plugins.list().all().await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(received(&server).await.len(), 6);
}

#[tokio::test]
async fn find_by_name_stops_at_the_first_match() {
    let (server, client) = setup().await;
    mount_three_pages(&server).await;
    let plugins = client.environment(ENV).plugins();
    let found = plugins.find_by_name("three").await.unwrap().unwrap();
    assert_eq!(found.id, "ccp-3");
    let requests = received(&server).await;
    assert_eq!(requests.len(), 2, "the third page is never read");
    assert_eq!(
        query_of(&requests[0])
            .iter()
            .find(|(k, _)| k == "page_size")
            .map(|(_, v)| v.as_str()),
        Some("100")
    );
    // Exact match only: neither a prefix nor another case.
    assert!(plugins.find_by_name("fiv").await.unwrap().is_none());
    assert!(plugins.find_by_name("FIVE").await.unwrap().is_none());
    assert_eq!(
        plugins.find_by_name("five").await.unwrap().unwrap().id,
        "ccp-5"
    );
    let err = plugins.find_by_name("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[tokio::test]
async fn empty_list_ends_after_one_request() {
    for next in [Some(Value::Null), Some(json!("")), Some(json!("   ")), None] {
        let (server, client) = setup().await;
        let mut body = list_body(vec![], None, 0);
        match &next {
            Some(value) => body["metadata"]["next"] = value.clone(),
            None => {
                body["metadata"].as_object_mut().unwrap().remove("next");
            }
        }
        Mock::given(method("GET"))
            .and(path("/ccpm/v1/plugins"))
            .respond_with(json_response(200, &body))
            .expect(1)
            .mount(&server)
            .await;
        let all = client
            .environment(ENV)
            .plugins()
            .list()
            .all()
            .await
            .unwrap();
        assert!(all.is_empty(), "{next:?}");
    }
}

#[tokio::test]
async fn a_list_without_its_required_fields_is_a_decode_error_not_an_empty_page() {
    let without = |field: &str| {
        let mut body = list_body(vec![seed_plugin()], None, 1);
        body.as_object_mut().unwrap().remove(field);
        body
    };
    for body in [
        without("data"),
        without("metadata"),
        json!({"api_version": "ccpm/v1", "kind": "CustomConnectPluginList", "metadata": {}, "data": null}),
        json!({"api_version": "ccpm/v1", "kind": "CustomConnectPluginList", "metadata": "?", "data": []}),
    ] {
        let (server, client) = setup().await;
        Mock::given(method("GET"))
            .respond_with(json_response(200, &body))
            .expect(1)
            .mount(&server)
            .await;
        let mut pages = client.environment(ENV).plugins().list().pages();
        let err = pages.try_next().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{body}: {err}");
        assert_eq!(err.status(), Some(reqwest::StatusCode::OK), "{err}");
        assert_eq!(err.request_id(), Some("req-ok-1"), "{err}");
        assert!(pages.next().await.is_none());
    }
}

#[tokio::test]
async fn a_repeated_next_link_is_an_error_not_a_loop() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(query_param_is_missing("page_token"))
        .respond_with(json_response(
            200,
            &list_body(
                vec![plugin_named("ccp-1", "one")],
                Some(&next_link("same")),
                9,
            ),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("page_token", "same"))
        .respond_with(json_response(
            200,
            &list_body(
                vec![plugin_named("ccp-2", "two")],
                Some(&next_link("same")),
                9,
            ),
        ))
        .mount(&server)
        .await;
    let mut stream = client.environment(ENV).plugins().list().stream();
    let mut ids = Vec::new();
    let err = loop {
        match stream.next().await {
            Some(Ok(p)) => {
                ids.push(p.id.to_string());
                assert!(ids.len() < 10, "the stream loops");
            }
            Some(Err(err)) => break err,
            None => panic!("the stream ended without reporting the loop"),
        }
    };
    assert_eq!(
        ids,
        ["ccp-1", "ccp-2"],
        "items before the loop are delivered"
    );
    assert!(
        stream.next().await.is_none(),
        "the stream ends after the error"
    );
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(matches!(
        err,
        Error::Protocol {
            service: Service::Confluent,
            ..
        }
    ));
    let line = err.to_string();
    assert!(
        line.contains("list_ccpm_v1_custom_connect_plugins"),
        "{line}"
    );
    assert!(line.contains("already used"), "{line}");
    assert!(!line.contains('\n'));
    assert_eq!(received(&server).await.len(), 2);

    // all() reports the same error.
    let err = client
        .environment(ENV)
        .plugins()
        .list()
        .all()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);

    // A next link back to the caller's starting token is a loop too.
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(query_param("page_token", "start"))
        .respond_with(json_response(
            200,
            &list_body(vec![], Some(&next_link("start")), 0),
        ))
        .mount(&server)
        .await;
    let err = client
        .environment(ENV)
        .plugins()
        .list()
        .page_token("start")
        .all()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn a_next_link_without_token_is_an_error() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .respond_with(json_response(
            200,
            &list_body(
                vec![plugin_named("ccp-1", "one")],
                Some("https://api.confluent.cloud/ccpm/v1/plugins?environment=env-abc123"),
                2,
            ),
        ))
        .mount(&server)
        .await;
    let mut pages = client.environment(ENV).plugins().list().pages();
    assert_eq!(pages.try_next().await.unwrap().unwrap().data.len(), 1);
    let err = pages.try_next().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(err.to_string().contains("without a page_token"), "{err}");
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn page_size_is_checked_before_sending() {
    let (server, client) = setup().await;
    let plugins = client.environment(ENV).plugins();
    for size in [0, 101, u32::MAX] {
        let err = plugins.list().page_size(size).send().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().contains("`page_size`"), "{err}");
        let mut stream = plugins.list().page_size(size).stream();
        let err = stream.try_next().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(stream.next().await.is_none());
        assert!(plugins.list().page_size(size).all().await.is_err());
    }
    let err = plugins.list().page_token("").send().await.unwrap_err();
    assert!(err.to_string().contains("`page_token`"), "{err}");
    let err = plugins
        .list()
        .page_token("t".repeat(256))
        .send()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`page_token`"), "{err}");
    assert!(received(&server).await.is_empty());

    // The bounds themselves are accepted.
    for size in [1, 100] {
        Mock::given(method("GET"))
            .and(query_param("page_size", size.to_string()))
            .respond_with(json_response(200, &list_body(vec![], None, 0)))
            .expect(1)
            .mount(&server)
            .await;
        plugins.list().page_size(size).send().await.unwrap();
    }
}

#[tokio::test]
async fn streams_are_send_and_static() {
    let (server, client) = setup().await;
    mount_three_pages(&server).await;
    let stream = client.environment(ENV).plugins().list().stream();
    drop(client);
    let handle = tokio::spawn(async move { stream.try_collect::<Vec<_>>().await });
    assert_eq!(handle.await.unwrap().unwrap().len(), 5);
    fn assert_send_static<T: Send + 'static>(_: &T) {}
    let (_s, client) = setup().await;
    let env = client.environment(ENV);
    assert_send_static(&env.plugins().list().pages());
    fn assert_send<T: Send>(_: &T) {}
    assert_send(&env.plugins().find_by_name("x"));
    assert_send(&env.plugin_versions("p").list());
    assert_send(&env.presigned_upload_url(Cloud::Aws, ContentFormat::Zip));
}

// ---------------------------------------------------------------------------------------------
// Errors

struct ErrorCase {
    status: u16,
    body: &'static str,
    headers: &'static [(&'static str, &'static str)],
    kind: ErrorKind,
    code: Option<&'static str>,
    messages: &'static [&'static str],
}

const CONFLICT_409: &str = r#"{"errors":[{"id":"8f1f7b7e-3c44-4b43-a0c4-1c4a4c9d2f10","status":"409","code":"resource_already_exists","title":"Conflict","detail":"A plugin named 'Orders JDBC sink' already exists in environment env-abc123"}]}"#;
const INVALID_422: &str = r#"{"errors":[{"id":"0b6f3e52-8d2c-4a71-b9e4-5f0c1d7a2e93","status":"422","code":"invalid_field","title":"Invalid Field","detail":"display_name must be at most 60 characters long","source":{"pointer":"/spec/display_name"}},{"status":"422","code":"invalid_field","title":"Invalid Field","detail":"cloud must be one of AWS, GCP, AZURE","source":{"pointer":"/spec/cloud"}}]}"#;

#[tokio::test]
async fn every_documented_error_status() {
    let cases = [
        ErrorCase {
            status: 400,
            body: SEED_400,
            headers: &[],
            kind: ErrorKind::BadRequest,
            code: Some("invalid_filter"),
            messages: &["The 'delorean' resource can't be filtered by 'num_doors'"],
        },
        ErrorCase {
            status: 401,
            body: SEED_401,
            headers: &[("www-authenticate", SEED_WWW_AUTHENTICATE)],
            kind: ErrorKind::Unauthorized,
            code: Some("user_unauthenticated"),
            messages: &["Valid authentication credentials must be provided"],
        },
        ErrorCase {
            status: 403,
            body: SEED_403,
            headers: &[],
            kind: ErrorKind::Forbidden,
            code: Some("user_unauthorized"),
            messages: &[
                "The user 'mcfly' is not allowed to access the 'delorean' resource without the 'plutonium' role.",
            ],
        },
        ErrorCase {
            status: 404,
            body: SEED_404,
            headers: &[],
            kind: ErrorKind::NotFound,
            code: None,
            messages: &["Not Found"],
        },
        ErrorCase {
            status: 409,
            body: CONFLICT_409,
            headers: &[(
                "location",
                "https://api.confluent.cloud/ccpm/v1/plugins/ccp-existing",
            )],
            kind: ErrorKind::Conflict,
            code: Some("resource_already_exists"),
            messages: &[
                "A plugin named 'Orders JDBC sink' already exists in environment env-abc123",
            ],
        },
        ErrorCase {
            status: 422,
            body: INVALID_422,
            headers: &[],
            kind: ErrorKind::BadRequest,
            code: Some("invalid_field"),
            messages: &[
                "display_name must be at most 60 characters long",
                "cloud must be one of AWS, GCP, AZURE",
            ],
        },
        ErrorCase {
            status: 429,
            body: "",
            headers: &[
                ("retry-after", "17"),
                ("x-ratelimit-limit", "80"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "17"),
            ],
            kind: ErrorKind::RateLimited,
            code: None,
            messages: &[],
        },
        ErrorCase {
            status: 500,
            body: SEED_500,
            headers: &[],
            kind: ErrorKind::ServerError,
            code: Some("out_of_gas"),
            messages: &[
                "The DeLorean has run out of gas, but Doc Brown will fill 'er up for you asap",
            ],
        },
    ];
    for case in cases {
        let (server, client) = setup().await;
        let mut template =
            ResponseTemplate::new(case.status).insert_header("x-request-id", "req-err-7");
        if !case.body.is_empty() {
            template = template.set_body_raw(case.body.as_bytes().to_vec(), "application/json");
        }
        for (name, value) in case.headers {
            template = template.insert_header(*name, *value);
        }
        Mock::given(method("POST"))
            .and(path("/ccpm/v1/plugins"))
            .respond_with(template)
            .expect(1)
            .mount(&server)
            .await;
        let err = client
            .environment(ENV)
            .plugins()
            .create(&NewPlugin::new("Orders JDBC sink", Cloud::Aws))
            .await
            .unwrap_err();
        let label = format!("{} {}", case.status, case.body);
        assert_eq!(err.kind(), case.kind, "{label}");
        assert_eq!(
            err.status().map(|s| s.as_u16()),
            Some(case.status),
            "{label}"
        );
        assert_eq!(err.request_id(), Some("req-err-7"), "{label}");
        assert_eq!(err.code(), case.code, "{label}");
        assert_eq!(err.messages(), case.messages, "{label}");
        assert_eq!(err.raw_body(), None, "{label}");
        let api = err.api_error().unwrap();
        assert_eq!(api.service(), Service::Confluent);
        assert_eq!(api.operation(), "create_ccpm_v1_custom_connect_plugin");
        if case.body.is_empty() {
            assert!(api.details().is_empty());
        } else {
            let expected: Value = serde_json::from_str(case.body).unwrap();
            assert_eq!(
                api.details().len(),
                expected["errors"].as_array().unwrap().len(),
                "{label}"
            );
        }
        let line = err.to_string();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains(&case.status.to_string()), "{line}");
        assert!(line.contains("req-err-7"), "{line}");
        assert!(!line.contains(SECRET) && !format!("{err:?}").contains(SECRET));
        match case.status {
            401 => {
                assert_eq!(api.www_authenticate(), Some(SEED_WWW_AUTHENTICATE));
                assert!(err.is_unauthorized());
            }
            409 => {
                assert_eq!(
                    api.location(),
                    Some("https://api.confluent.cloud/ccpm/v1/plugins/ccp-existing")
                );
                assert!(err.is_conflict());
            }
            422 => {
                let pointers: Vec<_> = api
                    .details()
                    .iter()
                    .filter_map(|d| d.source.as_ref()?.pointer.as_deref())
                    .collect();
                assert_eq!(pointers, ["/spec/display_name", "/spec/cloud"]);
            }
            429 => {
                assert!(err.is_rate_limited());
                assert!(err.is_retryable());
                assert_eq!(err.retry_after(), Some(Duration::from_secs(17)));
                let rate = err.rate_limit().unwrap();
                assert_eq!(rate.limit, Some(80));
                assert_eq!(rate.remaining, Some(0));
                assert_eq!(rate.reset, Some(Duration::from_secs(17)));
            }
            400 => {
                let detail = &api.details()[0];
                assert_eq!(detail.title.as_deref(), Some("Invalid Filter"));
                assert_eq!(
                    detail.source.as_ref().unwrap().parameter.as_deref(),
                    Some("num_doors")
                );
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn rate_limit_without_retry_after_uses_the_reset_header() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-request-id", "req-429")
                .insert_header("x-ratelimit-limit", "10")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "3"),
        )
        .mount(&server)
        .await;
    let err = client
        .environment(ENV)
        .plugin_versions(PLUGIN)
        .list()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
    assert_eq!(err.request_id(), Some("req-429"));
    assert!(err.to_string().contains("retry after 3s"), "{err}");
    assert_eq!(
        err.api_error().unwrap().operation(),
        "list_ccpm_v1_custom_connect_plugin_versions"
    );
}

#[tokio::test]
async fn errors_of_every_operation_name_it() {
    let (server, client) = setup().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_raw(SEED_500, "application/json")
                .insert_header("x-request-id", "r"),
        )
        .mount(&server)
        .await;
    let env = client.environment(ENV);
    let plugins = env.plugins();
    let versions = env.plugin_versions(PLUGIN);
    let version = NewPluginVersion::new("1.0.0", "u").connector_class("a.B", ConnectorType::Source);
    let results: Vec<(&str, Error)> = vec![
        (
            "list_ccpm_v1_custom_connect_plugins",
            plugins.list().send().await.unwrap_err(),
        ),
        (
            "create_ccpm_v1_custom_connect_plugin",
            plugins
                .create(&NewPlugin::new("n", Cloud::Aws))
                .await
                .unwrap_err(),
        ),
        (
            "get_ccpm_v1_custom_connect_plugin",
            plugins.get(PLUGIN).await.unwrap_err(),
        ),
        (
            "update_ccpm_v1_custom_connect_plugin",
            plugins
                .update(PLUGIN, &PluginUpdate::new().description("d"))
                .await
                .unwrap_err(),
        ),
        (
            "delete_ccpm_v1_custom_connect_plugin",
            plugins.delete(PLUGIN).await.unwrap_err(),
        ),
        (
            "create_ccpm_v1_presigned_url",
            env.presigned_upload_url(Cloud::Aws, ContentFormat::Zip)
                .await
                .unwrap_err(),
        ),
        (
            "list_ccpm_v1_custom_connect_plugin_versions",
            versions.list().await.unwrap_err(),
        ),
        (
            "create_ccpm_v1_custom_connect_plugin_version",
            versions.create(&version).await.unwrap_err(),
        ),
        (
            "get_ccpm_v1_custom_connect_plugin_version",
            versions.get(VERSION).await.unwrap_err(),
        ),
        (
            "delete_ccpm_v1_custom_connect_plugin_version",
            versions.delete(VERSION).await.unwrap_err(),
        ),
    ];
    for (operation, err) in results {
        assert_eq!(err.kind(), ErrorKind::ServerError, "{operation}");
        assert_eq!(err.api_error().unwrap().operation(), operation);
        assert!(err.to_string().contains(operation), "{err}");
        assert_eq!(err.request_id(), Some("r"));
    }
    // get_opt and delete_if_exists only swallow 404s.
    assert_eq!(
        plugins.get_opt(PLUGIN).await.unwrap_err().kind(),
        ErrorKind::ServerError
    );
    assert_eq!(
        versions.delete_if_exists(VERSION).await.unwrap_err().kind(),
        ErrorKind::ServerError
    );
}

#[tokio::test]
async fn non_json_error_bodies_keep_the_status() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(502)
                .set_body_raw("<html><body>Bad gateway</body></html>", "text/html")
                .insert_header("x-request-id", "req-502"),
        )
        .mount(&server)
        .await;
    let err = client
        .environment(ENV)
        .plugins()
        .get(PLUGIN)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(502));
    assert_eq!(err.request_id(), Some("req-502"));
    assert!(err.raw_body().unwrap().contains("Bad gateway"));
}

#[tokio::test]
async fn malformed_success_bodies_are_decode_errors() {
    for body in [
        "",
        "{\"id\":",
        "<html>oops</html>",
        "{\"id\":\"ccp-1\"}",
        "[]",
    ] {
        let (server, client) = setup().await;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(body, "application/json")
                    .insert_header("x-request-id", "r-9"),
            )
            .mount(&server)
            .await;
        let err = client
            .environment(ENV)
            .plugins()
            .get(PLUGIN)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{body}");
        assert_eq!(err.status().map(|s| s.as_u16()), Some(200));
        assert_eq!(err.request_id(), Some("r-9"));
    }
}

// ---------------------------------------------------------------------------------------------
// Arguments checked before sending

async fn assert_rejected<T: std::fmt::Debug>(result: cloud_plugin_sdk::Result<T>, field: &str) {
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    match &err {
        Error::InvalidArgument { field: f, .. } => assert_eq!(f, field, "{err}"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains(&format!("`{field}`")), "{err}");
    assert_eq!(err.attempts(), 0);
}

fn good_version() -> NewPluginVersion {
    NewPluginVersion::new("1.0.0", "upload-1").connector_class("com.example.A", ConnectorType::Sink)
}

#[tokio::test]
async fn invalid_arguments_never_reach_the_server() {
    let (server, client) = setup().await;
    let env = client.environment(ENV);
    let plugins = env.plugins();
    let versions = env.plugin_versions(PLUGIN);

    // Environment and ids.
    for bad in ["", "   "] {
        assert_rejected(
            client.environment(bad).plugins().get(PLUGIN).await,
            "environment",
        )
        .await;
        assert_rejected(
            client.environment(bad).plugins().list().send().await,
            "environment",
        )
        .await;
        assert_rejected(
            client
                .environment(bad)
                .presigned_upload_url(Cloud::Aws, ContentFormat::Zip)
                .await,
            "environment",
        )
        .await;
        assert_rejected(plugins.get(bad).await, "plugin_id").await;
        assert_rejected(plugins.delete_if_exists(bad).await, "plugin_id").await;
        assert_rejected(plugins.update(bad, &PluginUpdate::new()).await, "plugin_id").await;
        assert_rejected(env.plugin_versions(bad).list().await, "plugin_id").await;
        assert_rejected(versions.get(bad).await, "version_id").await;
        assert_rejected(versions.delete(bad).await, "version_id").await;
    }
    let long = "x".repeat(256);
    assert_rejected(
        client
            .environment(long.as_str())
            .plugins()
            .get(PLUGIN)
            .await,
        "environment",
    )
    .await;
    assert_rejected(plugins.get_opt(long.as_str()).await, "plugin_id").await;
    assert_rejected(versions.get_opt(long.as_str()).await, "version_id").await;
    assert!(EnvironmentId::from("").validate().is_err());
    assert!(EnvironmentId::from("..").validate().is_err());
    assert_eq!(EnvironmentId::from("env-1"), "env-1");

    // Plugins.
    assert_rejected(
        plugins.create(&NewPlugin::new("", Cloud::Aws)).await,
        "spec.display_name",
    )
    .await;
    assert_rejected(
        plugins.create(&NewPlugin::new(" ", Cloud::Aws)).await,
        "spec.display_name",
    )
    .await;
    assert_rejected(
        plugins
            .create(&NewPlugin::new("n".repeat(61), Cloud::Aws))
            .await,
        "spec.display_name",
    )
    .await;
    assert_rejected(
        plugins
            .create(&NewPlugin::new("n", Cloud::Aws).description("d".repeat(257)))
            .await,
        "spec.description",
    )
    .await;
    assert_rejected(
        plugins
            .create(&NewPlugin::new("n", Cloud::Other(String::new())))
            .await,
        "spec.cloud",
    )
    .await;
    assert_rejected(
        plugins
            .update(PLUGIN, &PluginUpdate::new().display_name(""))
            .await,
        "spec.display_name",
    )
    .await;
    assert_rejected(
        plugins
            .update(PLUGIN, &PluginUpdate::new().description("d".repeat(257)))
            .await,
        "spec.description",
    )
    .await;
    assert_rejected(
        plugins.list().cloud(Cloud::Other(" ".into())).send().await,
        "spec.cloud",
    )
    .await;

    // Versions.
    for bad in [
        "", "1", "1.2", "1.2.3.4", "01.2.3", "V1.2.3", "1.2.3-", "1.2.3+", "latest",
    ] {
        let mut v = good_version();
        v.spec.version = bad.into();
        assert_rejected(versions.create(&v).await, "spec.version").await;
    }
    let mut v = good_version();
    v.spec.version = format!("1.2.3-{}", "a".repeat(60));
    assert_rejected(versions.create(&v).await, "spec.version").await;
    let mut v = good_version();
    v.spec.connector_classes.clear();
    assert_rejected(versions.create(&v).await, "spec.connector_classes").await;
    let v = good_version()
        .connector_classes((0..10).map(|i| ConnectorClass::source(format!("a.B{i}"))));
    assert_rejected(versions.create(&v).await, "spec.connector_classes").await;
    for bad in [
        "",
        "com..A",
        "1com.A",
        "com.example.",
        "com.exa mple.A",
        "com-x.A",
        "a.ß",
    ] {
        let v = NewPluginVersion::new("1.0.0", "u").connector_class(bad, ConnectorType::Sink);
        assert_rejected(
            versions.create(&v).await,
            "spec.connector_classes[0].class_name",
        )
        .await;
    }
    let v = good_version().connector_class(format!("a.{}", "B".repeat(149)), ConnectorType::Sink);
    assert_rejected(
        versions.create(&v).await,
        "spec.connector_classes[1].class_name",
    )
    .await;
    let v = good_version().connector_class("a.B", ConnectorType::Other("TRANSFORM".into()));
    assert_rejected(versions.create(&v).await, "spec.connector_classes[1].type").await;
    for bad in ["", "has space", "a/b", "ключ", &"p".repeat(151)] {
        let v = good_version()
            .sensitive_config_property("ok.name")
            .sensitive_config_property(bad);
        assert_rejected(
            versions.create(&v).await,
            "spec.sensitive_config_properties[1]",
        )
        .await;
    }
    for bad in [
        "docs.example.com",
        "ftp://x",
        "https://",
        "HTTP://x",
        " https://x",
    ] {
        let v = good_version().documentation_link(bad);
        assert_rejected(versions.create(&v).await, "spec.documentation_link").await;
    }
    let v = good_version().documentation_link(format!("https://{}", "d".repeat(505)));
    assert_rejected(versions.create(&v).await, "spec.documentation_link").await;
    let mut v = good_version();
    v.spec.upload_source = Some(UploadSource::presigned_url(""));
    assert_rejected(versions.create(&v).await, "spec.upload_source.upload_id").await;

    // Presigned URLs.
    assert_rejected(
        env.presigned_upload_url(Cloud::Other(String::new()), ContentFormat::Zip)
            .await,
        "cloud",
    )
    .await;
    assert_rejected(
        env.presigned_upload_url(Cloud::Aws, ContentFormat::Other(" zip".into()))
            .await,
        "content_format",
    )
    .await;

    assert!(received(&server).await.is_empty(), "nothing was sent");
}

#[tokio::test]
async fn the_limits_themselves_are_accepted() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path_regex("/versions$"))
        .respond_with(json_response(202, &seed_version()))
        .mount(&server)
        .await;
    let env = client.environment("e".repeat(255));
    let versions = env.plugin_versions("p".repeat(255));
    let v = NewPluginVersion::new(format!("1.2.3-{}", "a".repeat(54)), "u")
        .connector_classes(
            (0..10).map(|i| ConnectorClass::sink(format!("a.{}{i}", "B".repeat(147)))),
        )
        .sensitive_config_property("p".repeat(150))
        .sensitive_config_property("a_b+c.d-e")
        .documentation_link(format!("https://{}", "d".repeat(504)));
    assert_eq!(v.spec.version.chars().count(), 60);
    assert_eq!(v.spec.connector_classes[0].class_name.chars().count(), 150);
    versions.create(&v).await.unwrap();
    for version in ["v1.2.3", "1.2.3-rc.123+build.456", "0.0.1-beta", "10.20.30"] {
        let mut v = good_version();
        v.spec.version = version.into();
        versions.create(&v).await.unwrap();
    }
    let v = good_version().documentation_link("");
    versions.create(&v).await.unwrap();
    Mock::given(method("POST"))
        .and(path("/ccpm/v1/plugins"))
        .respond_with(json_response(202, &seed_plugin()))
        .mount(&server)
        .await;
    env.plugins()
        .create(&NewPlugin::new("n".repeat(60), Cloud::Azure).description("d".repeat(256)))
        .await
        .unwrap();
    env.plugins()
        .create(&NewPlugin::new(
            "é".repeat(60),
            Cloud::Other("ALIBABA".into()),
        ))
        .await
        .unwrap();
    let requests = received(&server).await;
    let last: Value = serde_json::from_slice(&requests.last().unwrap().body).unwrap();
    assert_eq!(last["spec"]["cloud"], "ALIBABA");
}

// ---------------------------------------------------------------------------------------------
// Models

#[test]
fn open_enums_parse_case_insensitively_and_keep_unknown_values() {
    assert_eq!("aws".parse::<Cloud>().unwrap(), Cloud::Aws);
    assert_eq!(" Azure ".parse::<Cloud>().unwrap(), Cloud::Azure);
    assert_eq!("gcp".parse::<Cloud>().unwrap().to_string(), "GCP");
    assert_eq!("oci".parse::<Cloud>().unwrap(), Cloud::Other("oci".into()));
    assert!(!Cloud::Other("oci".into()).is_known());
    assert!(Cloud::Aws.is_known());
    let err = "".parse::<Cloud>().unwrap_err();
    assert!(err.to_string().contains("`cloud`"));
    assert_eq!("ready".parse::<Phase>().unwrap(), Phase::Ready);
    assert!(Phase::Failed.is_terminal());
    assert_eq!("jar".parse::<ContentFormat>().unwrap(), ContentFormat::Jar);
    assert_eq!(
        "Source".parse::<ConnectorType>().unwrap(),
        ConnectorType::Source
    );
    assert_eq!(
        ContentFormat::from_file_name("plugin.ZIP"),
        Some(ContentFormat::Zip)
    );
    assert_eq!(
        ContentFormat::from_file_name("a/b/c.jar"),
        Some(ContentFormat::Jar)
    );
    assert_eq!(ContentFormat::from_file_name("plugin.tar.gz"), None);
    assert_eq!(ContentFormat::from_file_name("zip"), None);

    assert_eq!(serde_json::to_value(Cloud::Azure).unwrap(), json!("AZURE"));
    assert_eq!(
        serde_json::to_value(ConnectorType::Sink).unwrap(),
        json!("SINK")
    );
    assert_eq!(
        serde_json::to_value(ContentFormat::Zip).unwrap(),
        json!("ZIP")
    );
    assert_eq!(
        serde_json::to_value(Phase::Processing).unwrap(),
        json!("PROCESSING")
    );
    assert_eq!(
        serde_json::from_value::<ContentFormat>(json!("zip")).unwrap(),
        ContentFormat::Zip
    );
    assert_eq!(
        serde_json::from_value::<Phase>(json!("DELETING")).unwrap(),
        Phase::Other("DELETING".into())
    );
    // `null` is not a phase: an answer that sends one has broken the API's rules.
    assert!(serde_json::from_value::<Phase>(Value::Null).is_err());
}

#[test]
fn plugins_tolerate_unknown_fields_values_and_nulls_but_not_broken_fields() {
    let mut p = seed_plugin();
    p["brand_new"] = json!({"x": [1, 2]});
    p["spec"]["cloud"] = json!("ORACLE");
    p["spec"]["future"] = json!(true);
    p["metadata"] = json!({"self": null, "created_at": null, "extra": 1});
    p["spec"]["description"] = Value::Null;
    let plugin: Plugin = serde_json::from_value(p).unwrap();
    assert_eq!(plugin.spec.cloud, Cloud::Other("ORACLE".into()));
    let meta = plugin.metadata.unwrap();
    assert_eq!(meta.self_, None);
    assert_eq!(meta.created_at, None);
    assert!(plugin.spec.description.is_none());

    for metadata in [Value::Null, json!({})] {
        let mut p = seed_plugin();
        p["metadata"] = metadata.clone();
        let plugin: Plugin = serde_json::from_value(p).unwrap();
        assert!(
            plugin.metadata.unwrap_or_default().self_.is_none(),
            "{metadata}"
        );
    }
    // A field of the wrong shape, or a required one missing, is an error rather than a
    // default that would pass for data.
    let broken: [fn(&mut Value); 6] = [
        |p| p["metadata"] = json!("oops"),
        |p| p["metadata"]["created_at"] = json!("yesterday"),
        |p| p["spec"]["environment"] = json!("env-as-a-string"),
        |p| p["id"] = Value::Null,
        |p| {
            p.as_object_mut().unwrap().remove("id");
        },
        |p| {
            p["spec"].as_object_mut().unwrap().remove("cloud");
        },
    ];
    for (i, breaks) in broken.iter().enumerate() {
        let mut p = seed_plugin();
        breaks(&mut p);
        assert!(serde_json::from_value::<Plugin>(p).is_err(), "case {i}");
    }
}

#[test]
fn models_serialize_back_to_the_wire_shape() {
    let plugin: Plugin = serde_json::from_value(seed_plugin()).unwrap();
    let mut back = serde_json::to_value(&plugin).unwrap();
    // Timestamps come back in UTC.
    back["metadata"]["created_at"] = json!("2006-01-02T15:04:05-07:00");
    back["metadata"]["updated_at"] = json!("2006-01-02T15:04:05-07:00");
    assert_eq!(back, seed_plugin());
    let version: PluginVersion = serde_json::from_value(seed_version()).unwrap();
    let mut back = serde_json::to_value(&version).unwrap();
    back["metadata"]["created_at"] = json!("2006-01-02T15:04:05-07:00");
    assert_eq!(back, seed_version());
    let page: PluginPage =
        serde_json::from_value(list_body(vec![seed_plugin()], Some(&next_link("n")), 1)).unwrap();
    assert_eq!(page.next_page_token().as_deref(), Some("n"));
}

#[test]
fn next_page_token_is_public_and_total() {
    assert_eq!(
        next_page_token("https://api.confluent.cloud/ccpm/v1/plugins?environment=env-1&page_size=10&page_token=UvmDWOB1iwfAIBPj6EYb").as_deref(),
        Some("UvmDWOB1iwfAIBPj6EYb")
    );
    assert_eq!(
        next_page_token("/ccpm/v1/plugins?page_token=a+b").as_deref(),
        Some("a b")
    );
    for none in [
        "",
        " ",
        "https://h/p",
        "https://h/p?page_token=",
        "http://[",
        "::::",
        "%",
    ] {
        assert_eq!(next_page_token(none), None, "{none:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Construction

#[test]
fn from_env_reads_api_key_then_access_token() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    };
    let client = ConfluentClient::from_env_with(env(&[
        ("CONFLUENT_CLOUD_API_KEY", KEY),
        ("CONFLUENT_CLOUD_API_SECRET", SECRET),
        ("CONFLUENT_CLOUD_ACCESS_TOKEN", TOKEN),
    ]))
    .unwrap();
    assert_eq!(client.base_url(), DEFAULT_BASE_URL);
    assert_eq!(client.base_url(), "https://api.confluent.cloud");
    let shown = format!("{client:?}");
    assert!(!shown.contains(SECRET) && !shown.contains(TOKEN), "{shown}");

    let client = ConfluentClient::from_env_with(env(&[
        ("CONFLUENT_CLOUD_ACCESS_TOKEN", TOKEN),
        ("CONFLUENT_BASE_URL", "http://127.0.0.1:9882/"),
    ]))
    .unwrap();
    assert_eq!(client.base_url(), "http://127.0.0.1:9882");

    let err = ConfluentClient::from_env_with(env(&[])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    for name in [
        "CONFLUENT_CLOUD_API_KEY",
        "CONFLUENT_CLOUD_API_SECRET",
        "CONFLUENT_CLOUD_ACCESS_TOKEN",
    ] {
        assert!(err.to_string().contains(name), "{err}");
    }
    let err = ConfluentClient::from_env_with(env(&[
        ("CONFLUENT_CLOUD_API_KEY", KEY),
        ("CONFLUENT_CLOUD_ACCESS_TOKEN", TOKEN),
    ]))
    .unwrap_err();
    assert!(
        err.to_string().contains("CONFLUENT_CLOUD_API_SECRET"),
        "{err}"
    );
    let err =
        ConfluentClient::from_env_with(env(&[("CONFLUENT_CLOUD_API_SECRET", SECRET)])).unwrap_err();
    assert!(!err.to_string().contains(SECRET));
    // Blank values count as unset.
    let err =
        ConfluentClient::from_env_with(env(&[("CONFLUENT_CLOUD_ACCESS_TOKEN", "  ")])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let err = ConfluentClient::from_env_with(env(&[
        ("CONFLUENT_CLOUD_ACCESS_TOKEN", TOKEN),
        ("CONFLUENT_BASE_URL", "http://example.com"),
    ]))
    .unwrap_err();
    assert!(err.to_string().contains("base_url"), "{err}");
}

#[tokio::test]
async fn from_env_credentials_reach_the_server() {
    let server = MockServer::start().await;
    let uri = server.uri();
    let client = ConfluentClient::from_env_with(move |name| match name {
        "CONFLUENT_CLOUD_API_KEY" => Some(KEY.into()),
        "CONFLUENT_CLOUD_API_SECRET" => Some(SECRET.into()),
        "CONFLUENT_BASE_URL" => Some(uri.clone()),
        _ => None,
    })
    .unwrap();
    Mock::given(method("GET"))
        .and(basic_auth(KEY, SECRET))
        .respond_with(json_response(200, &list_body(vec![], None, 0)))
        .expect(1)
        .mount(&server)
        .await;
    client
        .environment(ENV)
        .plugins()
        .list()
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn builder_credentials_setter_and_no_credentials() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json_response(200, &list_body(vec![], None, 0)))
        .mount(&server)
        .await;
    let client = ConfluentClient::builder()
        .base_url(server.uri())
        .credentials(Credentials::bearer(TOKEN))
        .build()
        .unwrap();
    client
        .environment(ENV)
        .plugins()
        .list()
        .send()
        .await
        .unwrap();
    // Without credentials a client builds only when asked for explicitly.
    let err = ConfluentClient::builder()
        .base_url(server.uri())
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let text = err.to_string();
    for named in [
        "api_key(..)",
        "oauth(..)",
        "CONFLUENT_CLOUD_API_KEY",
        "unauthenticated()",
    ] {
        assert!(text.contains(named), "{text}");
    }
    let anonymous = ConfluentClient::builder()
        .base_url(server.uri())
        .unauthenticated()
        .build()
        .unwrap();
    anonymous
        .environment(ENV)
        .plugins()
        .list()
        .send()
        .await
        .unwrap();
    let requests = received(&server).await;
    assert_eq!(
        requests[0]
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap(),
        format!("Bearer {TOKEN}")
    );
    assert!(requests[1].headers.get("authorization").is_none());

    let err = ConfluentClient::builder()
        .api_key("", SECRET)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = ConfluentClient::builder()
        .api_key(KEY, "")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let default = ConfluentClient::builder()
        .api_key(KEY, SECRET)
        .build()
        .unwrap();
    assert_eq!(default.base_url(), DEFAULT_BASE_URL);
}

#[test]
fn client_and_handles_are_send_sync_clone_static() {
    fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<ConfluentClient>();
    assert_traits::<cloud_plugin_sdk::confluent::Environment>();
    assert_traits::<cloud_plugin_sdk::confluent::Plugins>();
    assert_traits::<cloud_plugin_sdk::confluent::PluginVersions>();
    assert_traits::<cloud_plugin_sdk::confluent::ListPlugins>();
    // The client is reachable through its module.
    let _: Option<cloud_plugin_sdk::confluent::ConfluentClient> = None;
}

#[test]
fn a_blank_next_link_is_the_last_page() {
    // A whitespace-only next link is the last page, not a protocol error.
    let page: PluginPage = serde_json::from_value(list_body(vec![], Some("  "), 0)).unwrap();
    assert!(page.is_last());
    assert_eq!(page.next_page_token(), None);
}

// ---------------------------------------------------------------------------------------------
// Properties

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn encode(token: &str) -> String {
        url::form_urlencoded::byte_serialize(token.as_bytes()).collect()
    }

    proptest! {
        #[test]
        fn next_page_token_never_panics(link in any::<String>()) {
            let _ = next_page_token(&link);
        }

        #[test]
        fn next_page_token_returns_the_encoded_token(
            token in "[^\u{0}]{1,64}",
            relative in any::<bool>(),
        ) {
            let query = format!("environment=env-1&page_token={}&page_size=5", encode(&token));
            let link = if relative {
                format!("/ccpm/v1/plugins?{query}")
            } else {
                format!("https://api.confluent.cloud/ccpm/v1/plugins?{query}")
            };
            prop_assert_eq!(next_page_token(&link), Some(token));
        }

        #[test]
        fn validation_never_panics(
            version in any::<String>(),
            class in any::<String>(),
            property in any::<String>(),
            link in any::<String>(),
            name in any::<String>(),
        ) {
            let v = NewPluginVersion::new(version, "u")
                .connector_class(class, ConnectorType::Sink)
                .sensitive_config_property(property)
                .documentation_link(link);
            let _ = v.validate();
            let _ = NewPlugin::new(name.clone(), Cloud::Aws).description(name.clone()).validate();
            let _ = PluginUpdate::new().display_name(name).validate();
        }

        #[test]
        fn semver_cores_are_accepted(
            major in 0u64..100_000,
            minor in 0u64..100_000,
            patch in 0u64..100_000,
            v in any::<bool>(),
            pre in proptest::option::of("[a-z][a-z0-9-]{0,8}(\\.[1-9][0-9]{0,3})?"),
            build in proptest::option::of("[a-zA-Z0-9-]{1,8}(\\.[a-zA-Z0-9-]{1,8})?"),
        ) {
            let mut version = format!("{}{major}.{minor}.{patch}", if v { "v" } else { "" });
            if let Some(pre) = pre {
                version.push('-');
                version.push_str(&pre);
            }
            if let Some(build) = build {
                version.push('+');
                version.push_str(&build);
            }
            let result = NewPluginVersion::new(version.clone(), "u")
                .connector_class("a.B", ConnectorType::Source)
                .validate();
            prop_assert!(result.is_ok(), "{} -> {:?}", version, result);
        }
    }
}
