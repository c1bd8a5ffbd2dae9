//! The Golem client against wiremock: request shapes, decoding and error mapping, for plugins,
//! plugin grants and agent plugin activation.

use cloud_plugin_sdk::golem::{AccountId, GolemClient, Icon, NewPlugin, PluginId, PluginSpec};
use cloud_plugin_sdk::{ErrorKind, retry::RetryPolicy};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "test-token-0123456789abcdef";
const ACCOUNT: &str = "3d07c219-0a88-45be-9cfc-91e9d095a1e9";
const PLUGIN: &str = "497f6eca-6276-4993-bfeb-53cbbbba6f08";

// The example responses of the user's Plugin API page, verbatim.
const SEED_LIST: &str = r#"{ "values": [ { "id": "497f6eca-6276-4993-bfeb-53cbbbba6f08", "accountId": "3d07c219-0a88-45be-9cfc-91e9d095a1e9", "name": "string", "version": "string", "description": "string", "icon": "string", "homepage": "string", "spec": { "type": "OplogProcessor", "componentId": "616ccd92-d666-4180-8349-8d125b269fac", "componentRevision": 0 } } ] }"#;
const SEED_ONE: &str = r#"{ "id": "497f6eca-6276-4993-bfeb-53cbbbba6f08", "accountId": "3d07c219-0a88-45be-9cfc-91e9d095a1e9", "name": "string", "version": "string", "description": "string", "icon": "string", "homepage": "string", "spec": { "type": "OplogProcessor", "componentId": "616ccd92-d666-4180-8349-8d125b269fac", "componentRevision": 0 } }"#;
const SEED_REQUEST: &str = r#"{ "name": "string", "version": "string", "description": "string", "icon": "string", "homepage": "string", "spec": { "type": "OplogProcessor", "componentId": "616ccd92-d666-4180-8349-8d125b269fac", "componentRevision": 0 } }"#;

fn json_response(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_raw(body.as_bytes().to_vec(), "application/json; charset=utf-8")
}

async fn setup() -> (MockServer, GolemClient) {
    let server = MockServer::start().await;
    let client = GolemClient::builder()
        .base_url(server.uri())
        .token(TOKEN)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    (server, client)
}

fn account() -> AccountId {
    ACCOUNT.parse().unwrap()
}

fn plugin_id() -> PluginId {
    PLUGIN.parse().unwrap()
}

#[tokio::test]
async fn list_decodes_the_seed_example_and_sends_auth() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/accounts/{ACCOUNT}/plugins")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(json_response(200, SEED_LIST))
        .expect(1)
        .mount(&server)
        .await;
    let plugins = client.account(account()).plugins().list().await.unwrap();
    assert_eq!(plugins.status(), 200);
    assert_eq!(plugins.len(), 1);
    let p = &plugins[0];
    assert_eq!(p.id, plugin_id());
    assert_eq!(p.account_id, account());
    assert_eq!(p.name, "string");
    // "string" is not valid base64: the response still decodes, the accessor reports it.
    assert_eq!(p.icon.as_base64(), "string");
    assert!(p.icon.to_bytes().is_err());
    match &p.spec {
        PluginSpec::OplogProcessor(spec) => {
            assert_eq!(
                spec.component_id.to_string(),
                "616ccd92-d666-4180-8349-8d125b269fac"
            );
            assert_eq!(spec.component_revision, 0);
        }
        other => panic!("unexpected spec {other:?}"),
    }
    // progenitor's api-version header must not leak to the server.
    let requests = server.received_requests().await.unwrap();
    assert!(requests[0].headers.get("api-version").is_none());
}

#[tokio::test]
async fn create_sends_the_documented_body() {
    let (server, client) = setup().await;
    let component = uuid::Uuid::parse_str("616ccd92-d666-4180-8349-8d125b269fac").unwrap();
    let icon = b"\x89PNG\r\n".to_vec();
    let expected = json!({
        "name": "audit", "version": "1.0.0", "description": "d",
        "icon": "iVBORw0K", "homepage": "https://example.com",
        "spec": {"type": "OplogProcessor", "componentId": component, "componentRevision": 7}
    });
    Mock::given(method("POST"))
        .and(path(format!("/v1/accounts/{ACCOUNT}/plugins")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(&expected))
        .respond_with(json_response(200, SEED_ONE))
        .expect(1)
        .mount(&server)
        .await;
    let new = NewPlugin::oplog_processor("audit", "1.0.0", component, 7)
        .description("d")
        .homepage("https://example.com")
        .icon(&icon);
    let created = client
        .account(account())
        .plugins()
        .create(&new)
        .await
        .unwrap();
    assert_eq!(created.id, plugin_id());
    let requests = server.received_requests().await.unwrap();
    let content_type = requests[0]
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
}

#[test]
fn seed_request_example_round_trips() {
    let parsed: Value = serde_json::from_str(SEED_REQUEST).unwrap();
    let spec: PluginSpec = serde_json::from_value(parsed["spec"].clone()).unwrap();
    let new = NewPlugin::new("string", "string", spec)
        .description("string")
        .homepage("string");
    let mut sent = serde_json::to_value(&new).unwrap();
    // The icon of the example is the literal "string"; the SDK encodes bytes, so compare the rest.
    sent["icon"] = json!("string");
    assert_eq!(sent, parsed);
}

#[tokio::test]
async fn get_and_delete_by_id() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/plugins/{PLUGIN}")))
        .respond_with(json_response(200, SEED_ONE))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("/v1/plugins/{PLUGIN}")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(json_response(200, SEED_ONE))
        .expect(1)
        .mount(&server)
        .await;
    let got = client.plugins().get(plugin_id()).await.unwrap();
    assert_eq!(got.version, "string");
    let deleted = client.plugins().delete(plugin_id()).await.unwrap();
    assert_eq!(
        deleted.id,
        plugin_id(),
        "delete answers 200 with the deleted record"
    );
}

#[tokio::test]
async fn get_opt_and_delete_if_exists_treat_404_as_absent() {
    let (server, client) = setup().await;
    let body = r#"{"code":"PLUGIN_REGISTRATION_NOT_FOUND","error":"Registered plugin not found for id x"}"#;
    Mock::given(path(format!("/v1/plugins/{PLUGIN}")))
        .respond_with(json_response(404, body))
        .expect(2)
        .mount(&server)
        .await;
    assert!(
        client
            .plugins()
            .get_opt(plugin_id())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !client
            .plugins()
            .delete_if_exists(plugin_id())
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn find_by_name_and_version() {
    let (server, client) = setup().await;
    let mut second: Value = serde_json::from_str(SEED_ONE).unwrap();
    second["id"] = json!("00000000-0000-4000-8000-000000000001");
    second["name"] = json!("wanted");
    second["version"] = json!("2.0.0");
    let list = json!({"values": [serde_json::from_str::<Value>(SEED_ONE).unwrap(), second]});
    Mock::given(method("GET"))
        .and(path(format!("/v1/accounts/{ACCOUNT}/plugins")))
        .respond_with(json_response(200, &list.to_string()))
        .mount(&server)
        .await;
    let plugins = client.account(account()).plugins();
    let found = plugins.find("wanted", "2.0.0").await.unwrap().unwrap();
    assert_eq!(found.id.to_string(), "00000000-0000-4000-8000-000000000001");
    assert!(plugins.find("wanted", "9.9.9").await.unwrap().is_none());
}

struct ErrorCase {
    status: u16,
    body: &'static str,
    content_type: &'static str,
    kind: ErrorKind,
    code: Option<&'static str>,
    messages: &'static [&'static str],
    raw: bool,
}

impl ErrorCase {
    /// Asserts that `err` is what the crate reports for this answer to `operation`, sent with
    /// the given request id.
    fn check(&self, err: &cloud_plugin_sdk::Error, operation: &str, request_id: &str) {
        let label = format!("{operation} {} {}", self.status, self.body);
        assert_eq!(err.kind(), self.kind, "{label}");
        assert_eq!(
            err.status().map(|s| s.as_u16()),
            Some(self.status),
            "{label}"
        );
        assert_eq!(err.code(), self.code, "{label}");
        assert_eq!(err.messages(), self.messages, "{label}");
        assert_eq!(err.request_id(), Some(request_id), "{label}");
        assert_eq!(err.raw_body().is_some(), self.raw, "{label}");
        if self.raw {
            assert_eq!(err.raw_body(), Some(self.body), "{label}");
        }
        let line = err.to_string();
        assert!(!line.contains('\n'), "one line: {line}");
        assert!(line.contains(&self.status.to_string()), "{line}");
        assert!(line.contains(operation), "{line}");
        assert!(!line.contains(TOKEN));
    }
}

#[tokio::test]
async fn every_documented_error_and_the_undocumented_ones() {
    let cases = [
        ErrorCase {
            status: 400,
            body: r#"{"code":"OPLOG_PROCESSOR_COMPONENT_NOT_FOUND","errors":["Target component for oplog processor does not exist"]}"#,
            content_type: "application/json; charset=utf-8",
            kind: ErrorKind::BadRequest,
            code: Some("OPLOG_PROCESSOR_COMPONENT_NOT_FOUND"),
            messages: &["Target component for oplog processor does not exist"],
            raw: false,
        },
        ErrorCase {
            status: 401,
            body: r#"{"code":"AUTH_UNAUTHORIZED","error":"Unauthorized"}"#,
            content_type: "application/json; charset=utf-8",
            kind: ErrorKind::Unauthorized,
            code: Some("AUTH_UNAUTHORIZED"),
            messages: &["Unauthorized"],
            raw: false,
        },
        ErrorCase {
            status: 403,
            body: r#"{"code":"AUTH_FORBIDDEN","error":"Forbidden"}"#,
            content_type: "application/json; charset=utf-8",
            kind: ErrorKind::Forbidden,
            code: Some("AUTH_FORBIDDEN"),
            messages: &["Forbidden"],
            raw: false,
        },
        ErrorCase {
            status: 404,
            body: r#"{"code":"ACCOUNT_NOT_FOUND","error":"Parent account x not found"}"#,
            content_type: "application/json; charset=utf-8",
            kind: ErrorKind::NotFound,
            code: Some("ACCOUNT_NOT_FOUND"),
            messages: &["Parent account x not found"],
            raw: false,
        },
        ErrorCase {
            status: 409,
            body: r#"{"code":"PLUGIN_REGISTRATION_ALREADY_EXISTS","error":"Plugin with this name and version already exists"}"#,
            content_type: "application/json; charset=utf-8",
            kind: ErrorKind::Conflict,
            code: Some("PLUGIN_REGISTRATION_ALREADY_EXISTS"),
            messages: &["Plugin with this name and version already exists"],
            raw: false,
        },
        ErrorCase {
            status: 422,
            body: r#"{"code":"LIMIT_EXCEEDED","error":"Limits of the plan exceeded"}"#,
            content_type: "application/json; charset=utf-8",
            kind: ErrorKind::LimitExceeded,
            code: Some("LIMIT_EXCEEDED"),
            messages: &["Limits of the plan exceeded"],
            raw: false,
        },
        ErrorCase {
            status: 500,
            body: r#"{"code":"INTERNAL_UNKNOWN","error":"Internal error"}"#,
            content_type: "application/json; charset=utf-8",
            kind: ErrorKind::ServerError,
            code: Some("INTERNAL_UNKNOWN"),
            messages: &["Internal error"],
            raw: false,
        },
        // Older servers: no `code`.
        ErrorCase {
            status: 409,
            body: r#"{"error":"Plugin with this name and version already exists"}"#,
            content_type: "application/json",
            kind: ErrorKind::Conflict,
            code: None,
            messages: &["Plugin with this name and version already exists"],
            raw: false,
        },
        ErrorCase {
            status: 400,
            body: r#"{"errors":["a","b"]}"#,
            content_type: "application/json",
            kind: ErrorKind::BadRequest,
            code: None,
            messages: &["a", "b"],
            raw: false,
        },
        // poem's plain-text answers.
        ErrorCase {
            status: 401,
            body: "authorization error",
            content_type: "text/plain; charset=utf-8",
            kind: ErrorKind::Unauthorized,
            code: None,
            messages: &["authorization error"],
            raw: true,
        },
        ErrorCase {
            status: 400,
            body: "parse request payload error: missing field `name`",
            content_type: "text/plain",
            kind: ErrorKind::BadRequest,
            code: None,
            messages: &["parse request payload error: missing field `name`"],
            raw: true,
        },
        ErrorCase {
            status: 415,
            body: "unsupported content type",
            content_type: "text/plain",
            kind: ErrorKind::BadRequest,
            code: None,
            messages: &["unsupported content type"],
            raw: true,
        },
        // A proxy's HTML page.
        ErrorCase {
            status: 502,
            body: "<html><head><title>502 Bad Gateway</title></head></html>",
            content_type: "text/html",
            kind: ErrorKind::ServerError,
            code: None,
            messages: &[],
            raw: true,
        },
    ];
    for case in cases {
        let (server, client) = setup().await;
        Mock::given(method("GET"))
            .and(path(format!("/v1/plugins/{PLUGIN}")))
            .respond_with(
                ResponseTemplate::new(case.status)
                    .set_body_raw(case.body.as_bytes().to_vec(), case.content_type)
                    .insert_header("x-request-id", "req-42"),
            )
            .mount(&server)
            .await;
        let err = client.plugins().get(plugin_id()).await.unwrap_err();
        case.check(&err, "get_plugin_by_id", "req-42");
    }
}

#[tokio::test]
async fn invalid_arguments_never_reach_the_wire() {
    let (server, client) = setup().await;
    let component = uuid::Uuid::nil();
    let plugins = client.account(account()).plugins();
    let err = plugins
        .create(&NewPlugin::oplog_processor("", "1", component, 0))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("`name`"), "{err}");
    let err = plugins
        .create(&NewPlugin::oplog_processor("n", "1", component, u64::MAX))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("componentRevision"), "{err}");
    let err: cloud_plugin_sdk::Error = "not-a-uuid".parse::<PluginId>().unwrap_err().into();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("`id`"), "{err}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn unknown_plugin_type_and_extra_fields_decode() {
    let (server, client) = setup().await;
    let body = r#"{"id":"497f6eca-6276-4993-bfeb-53cbbbba6f08","accountId":"3d07c219-0a88-45be-9cfc-91e9d095a1e9","name":"n","version":"v","description":"","icon":"","homepage":"","createdAt":"2026-01-01T00:00:00Z","spec":{"type":"ComponentTransformer","validateUrl":"https://v","transformUrl":"https://t"}}"#;
    Mock::given(method("GET"))
        .respond_with(json_response(200, body))
        .mount(&server)
        .await;
    let p = client.plugins().get(plugin_id()).await.unwrap();
    assert_eq!(p.spec.type_name(), "ComponentTransformer");
    match &p.spec {
        PluginSpec::Unknown { fields, .. } => assert_eq!(fields["validateUrl"], "https://v"),
        other => panic!("{other:?}"),
    }
    assert!(p.icon.is_empty());
    assert_eq!(p.icon.to_bytes().unwrap(), Vec::<u8>::new());
}

#[tokio::test]
async fn malformed_success_bodies_are_decode_errors() {
    for body in ["", "{\"id\":", "<html>oops</html>", "{\"values\":7}"] {
        let (server, client) = setup().await;
        Mock::given(method("GET"))
            .respond_with(json_response(200, body).insert_header("x-request-id", "r-9"))
            .mount(&server)
            .await;
        let err = client.plugins().get(plugin_id()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{body}");
        assert_eq!(err.status().map(|s| s.as_u16()), Some(200));
        assert_eq!(err.request_id(), Some("r-9"));
    }
}

#[test]
fn icon_bytes_round_trip() {
    let icon = Icon::from_bytes([0u8, 1, 2, 255]);
    assert_eq!(icon.as_base64(), "AAEC/w==");
    assert_eq!(icon.to_bytes().unwrap(), vec![0, 1, 2, 255]);
}

#[test]
fn builder_and_env() {
    let err = GolemClient::from_env_with(|_| None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("GOLEM_TOKEN"));
    let client = GolemClient::from_env_with(|k| match k {
        "GOLEM_TOKEN" => Some("secret-token-value-123".into()),
        "GOLEM_BASE_URL" => Some("http://127.0.0.1:9881/".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(client.base_url(), "http://127.0.0.1:9881");
    let shown = format!("{client:?}");
    assert!(!shown.contains("secret-token-value-123"), "{shown}");
    let default = GolemClient::builder().token("t").build().unwrap();
    assert_eq!(default.base_url(), "https://release.api.golem.cloud");
    let err = GolemClient::builder()
        .base_url("http://example.com")
        .token("t")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = GolemClient::builder()
        .base_url("::")
        .token("t")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("base_url"));
}

#[tokio::test]
async fn a_client_without_credentials_builds_only_when_asked_for() {
    let err = GolemClient::builder().build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let text = err.to_string();
    for named in ["token(..)", "GOLEM_TOKEN", "unauthenticated()"] {
        assert!(text.contains(named), "{text}");
    }
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let anonymous = GolemClient::builder()
        .base_url(server.uri())
        .unauthenticated()
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let _ = anonymous
        .plugins()
        .get_opt(PluginId::from(uuid::Uuid::nil()))
        .await;
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].headers.get("authorization").is_none());
    // The last credential setter wins.
    let client = GolemClient::builder()
        .unauthenticated()
        .token("t0ken")
        .build()
        .unwrap();
    assert!(format!("{client:?}").contains("<redacted>"));
}

#[test]
fn client_is_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<GolemClient>();
}

#[tokio::test]
async fn futures_are_send() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .respond_with(json_response(200, SEED_LIST))
        .mount(&server)
        .await;
    let handle = tokio::spawn(async move { client.account(account()).plugins().list().await });
    assert_eq!(handle.await.unwrap().unwrap().len(), 1);
}

mod retries_through_the_client {
    use super::*;
    use std::time::{Duration, Instant};

    fn client_with(server: &MockServer, policy: RetryPolicy) -> GolemClient {
        GolemClient::builder()
            .base_url(server.uri())
            .token(TOKEN)
            .retry_policy(policy)
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn get_waits_out_a_429_and_succeeds() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(json_response(200, SEED_ONE))
            .mount(&server)
            .await;
        let client = client_with(&server, RetryPolicy::standard());
        let started = Instant::now();
        let plugin = client.plugins().get(plugin_id()).await.unwrap();
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(950), "{elapsed:?}");
        // The one second asked for, not the cap of a minute (with room for a loaded machine).
        assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
        assert_eq!(plugin.attempts(), 2);
        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.len(), 2);
        // The retried request carries the credentials too.
        assert!(
            requests
                .iter()
                .all(|r| r.headers.get("authorization").is_some())
        );
    }

    #[tokio::test]
    async fn a_wait_over_the_cap_returns_a_rate_limited_error_at_once() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("retry-after", "3600")
                    .insert_header("x-ratelimit-limit", "100")
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("x-ratelimit-reset", "3600")
                    .insert_header("x-request-id", "rl-1"),
            )
            .mount(&server)
            .await;
        let client = client_with(
            &server,
            RetryPolicy::standard().max_wait(Duration::from_secs(5)),
        );
        let started = Instant::now();
        let err = client
            .account(account())
            .plugins()
            .create(&NewPlugin::oplog_processor("n", "1", uuid::Uuid::nil(), 0))
            .await
            .unwrap_err();
        // Refused at once: the hour asked for is beyond the cap.
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert!(err.is_rate_limited() && err.is_retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
        let rl = err.rate_limit().unwrap();
        assert_eq!(
            (rl.limit, rl.remaining, rl.reset),
            (Some(100), Some(0), Some(Duration::from_secs(3600)))
        );
        assert_eq!(err.request_id(), Some("rl-1"));
        assert_eq!(err.attempts(), 1);
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
        assert!(err.to_string().contains("retry after 3600s"), "{err}");
    }

    #[tokio::test]
    async fn create_is_never_resent_after_a_503_but_get_is() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&server)
            .await;
        let policy = RetryPolicy::standard()
            .initial_backoff(Duration::from_millis(5))
            .max_backoff(Duration::from_millis(20));
        let client = client_with(&server, policy);
        let err = client
            .account(account())
            .plugins()
            .create(&NewPlugin::oplog_processor("n", "1", uuid::Uuid::nil(), 0))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ServerError);
        assert_eq!(err.attempts(), 1);
        let posts = server.received_requests().await.unwrap().len();
        assert_eq!(posts, 1, "a create must reach the server once");
        let err = client.plugins().get(plugin_id()).await.unwrap_err();
        assert_eq!(err.attempts(), 4);
        assert!(err.to_string().ends_with(" (4 attempts)"), "{err}");
        assert_eq!(server.received_requests().await.unwrap().len(), 1 + 4);
    }

    #[tokio::test]
    async fn connection_refused_is_a_transport_error_with_attempts() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let policy = RetryPolicy::standard()
            .initial_backoff(Duration::from_millis(5))
            .max_backoff(Duration::from_millis(10));
        let client = GolemClient::builder()
            .base_url(url)
            .token(TOKEN)
            .retry_policy(policy)
            .build()
            .unwrap();
        let err = client
            .account(account())
            .plugins()
            .create(&NewPlugin::oplog_processor("n", "1", uuid::Uuid::nil(), 0))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport);
        // Nothing was sent, so even a create may be tried again.
        assert_eq!(err.attempts(), 4);
        assert!(!format!("{err:?}").contains(TOKEN));
    }
}

/// Plugin grants and agent plugin activation: request shapes, decoding, error bodies, the
/// workflows and argument checks.
mod grants {
    use super::*;
    use cloud_plugin_sdk::golem::{EnvironmentId, PluginGrantId, PluginGrants};
    use wiremock::matchers::query_param;

    const ENVIRONMENT: &str = "8f14e45f-ceea-467f-a0e6-7a1c2b3d4e5f";
    const GRANT: &str = "0b6f3c1e-5d2a-4f7b-9c8e-1a2b3c4d5e6f";
    const COMPONENT: &str = "616ccd92-d666-4180-8349-8d125b269fac";

    fn json_value(status: u16, body: &Value) -> ResponseTemplate {
        json_response(status, &body.to_string())
    }

    fn plugin_json() -> Value {
        json!({
            "id": PLUGIN, "accountId": ACCOUNT, "name": "audit", "version": "1.0.0",
            "description": "d", "icon": "", "homepage": "https://example.com",
            "spec": {"type": "OplogProcessor", "componentId": COMPONENT, "componentRevision": 3}
        })
    }

    fn grant_json() -> Value {
        json!({"id": GRANT, "environmentId": ENVIRONMENT, "pluginId": PLUGIN})
    }

    fn details_json() -> Value {
        json!({
            "id": GRANT,
            "environmentId": ENVIRONMENT,
            "plugin": plugin_json(),
            "pluginAccount": {"id": ACCOUNT, "name": "Acme", "email": "ops@acme.example"},
        })
    }

    fn environment() -> EnvironmentId {
        ENVIRONMENT.parse().unwrap()
    }

    fn grant_id() -> PluginGrantId {
        GRANT.parse().unwrap()
    }

    fn grants_path() -> String {
        format!("/v1/envs/{ENVIRONMENT}/plugins")
    }

    fn grant_path() -> String {
        format!("/v1/environment-plugins/{GRANT}")
    }

    /// The grants of the test environment.
    fn grants(client: &GolemClient) -> PluginGrants {
        client.environment(environment()).plugin_grants()
    }

    #[tokio::test]
    async fn list_sends_auth_and_decodes_the_details() {
        let (server, client) = setup().await;
        let mut details = details_json();
        // Fields a newer server may add are ignored.
        details["createdAt"] = json!("2026-08-01T00:00:00Z");
        Mock::given(method("GET"))
            .and(path(grants_path()))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .respond_with(json_value(200, &json!({ "values": [details] })))
            .expect(1)
            .mount(&server)
            .await;
        let grants = grants(&client).list().await.unwrap();
        assert_eq!(grants.status(), 200);
        assert_eq!(grants.len(), 1);
        let grant = &grants[0];
        assert_eq!(grant.id, grant_id());
        assert_eq!(grant.environment_id, environment());
        assert_eq!(grant.plugin.id, plugin_id());
        assert_eq!(grant.plugin.name, "audit");
        assert!(matches!(grant.plugin.spec, PluginSpec::OplogProcessor(_)));
        assert_eq!(grant.plugin_account.id.to_string(), ACCOUNT);
        assert_eq!(grant.plugin_account.name, "Acme");
        assert_eq!(grant.plugin_account.email, "ops@acme.example");
        let requests = server.received_requests().await.unwrap();
        assert!(requests[0].headers.get("api-version").is_none());
    }

    #[tokio::test]
    async fn grant_sends_the_documented_body() {
        let (server, client) = setup().await;
        Mock::given(method("POST"))
            .and(path(grants_path()))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(body_json(json!({ "pluginRegistrationId": PLUGIN })))
            .respond_with(json_value(200, &grant_json()))
            .expect(1)
            .mount(&server)
            .await;
        let grant = grants(&client).grant(plugin_id()).await.unwrap();
        assert_eq!(
            (grant.id, grant.environment_id, grant.plugin_id),
            (grant_id(), environment(), plugin_id())
        );
        let requests = server.received_requests().await.unwrap();
        let content_type = requests[0].headers.get("content-type").unwrap();
        assert!(
            content_type
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
    }

    #[tokio::test]
    async fn get_reads_one_grant_and_get_opt_maps_404_to_none() {
        let (server, client) = setup().await;
        Mock::given(method("GET"))
            .and(path(grant_path()))
            .respond_with(json_value(200, &details_json()))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        let grants = grants(&client);
        let grant = grants.get(grant_id()).await.unwrap();
        assert_eq!(grant.plugin.version, "1.0.0");

        let body = json!({"code": "RESOURCE_NOT_FOUND", "error": format!("Environment plugin grant {GRANT} not found")});
        Mock::given(method("GET"))
            .and(path(grant_path()))
            .respond_with(json_value(404, &body))
            .expect(1)
            .mount(&server)
            .await;
        assert!(grants.get_opt(grant_id()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn revoke_accepts_204_with_no_body() {
        let (server, client) = setup().await;
        Mock::given(method("DELETE"))
            .and(path(grant_path()))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .respond_with(ResponseTemplate::new(204).insert_header("x-request-id", "del-1"))
            .up_to_n_times(2)
            .expect(2)
            .mount(&server)
            .await;
        let grants = grants(&client);
        let revoked = grants.revoke(grant_id()).await.unwrap();
        assert_eq!(revoked.status(), 204);
        assert_eq!(revoked.request_id(), Some("del-1"));
        assert!(grants.revoke_if_exists(grant_id()).await.unwrap());

        let body =
            json!({"code": "RESOURCE_NOT_FOUND", "error": "Environment plugin grant x not found"});
        Mock::given(method("DELETE"))
            .and(path(grant_path()))
            .respond_with(json_value(404, &body))
            .expect(1)
            .mount(&server)
            .await;
        assert!(!grants.revoke_if_exists(grant_id()).await.unwrap());
    }

    #[tokio::test]
    async fn revoke_if_exists_reports_other_errors() {
        let (server, client) = setup().await;
        let body = json!({"code": "BUILTIN_PLUGIN_GRANT_CANNOT_BE_DELETED", "error": "Built-in plugin grants cannot be deleted"});
        Mock::given(method("DELETE"))
            .respond_with(json_value(403, &body))
            .mount(&server)
            .await;
        let err = grants(&client)
            .revoke_if_exists(grant_id())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden);
        assert_eq!(err.code(), Some("BUILTIN_PLUGIN_GRANT_CANNOT_BE_DELETED"));
        assert!(
            err.to_string().contains("delete_environment_plugin_grant"),
            "{err}"
        );
    }

    /// One operation of the grant handle, run against `server`.
    #[derive(Clone, Copy, Debug)]
    enum Op {
        List,
        Grant,
        Get,
        Revoke,
    }

    impl Op {
        const ALL: [Op; 4] = [Op::List, Op::Grant, Op::Get, Op::Revoke];

        fn http(self) -> (&'static str, String, &'static str) {
            match self {
                Op::List => (
                    "GET",
                    grants_path(),
                    "list_environment_environment_plugin_grants",
                ),
                Op::Grant => ("POST", grants_path(), "create_environment_plugin_grant"),
                Op::Get => ("GET", grant_path(), "get_environment_plugin_grant"),
                Op::Revoke => ("DELETE", grant_path(), "delete_environment_plugin_grant"),
            }
        }

        async fn run(self, client: &GolemClient) -> cloud_plugin_sdk::Error {
            let grants = grants(client);
            match self {
                Op::List => grants.list().await.map(|_| ()),
                Op::Grant => grants.grant(plugin_id()).await.map(|_| ()),
                Op::Get => grants.get(grant_id()).await.map(|_| ()),
                Op::Revoke => grants.revoke(grant_id()).await.map(|_| ()),
            }
            .unwrap_err()
        }
    }

    const JSON: &str = "application/json; charset=utf-8";

    /// The answers the grant operations give (the decoding of the other documented errors is
    /// the same for every operation and checked on `get_plugin_by_id`).
    const ERROR_CASES: &[ErrorCase] = &[
        ErrorCase {
            status: 400,
            body: r#"{"code":"REFERENCED_PLUGIN_NOT_FOUND","errors":["Referenced plugin 497f6eca-6276-4993-bfeb-53cbbbba6f08 not found"]}"#,
            content_type: JSON,
            kind: ErrorKind::BadRequest,
            code: Some("REFERENCED_PLUGIN_NOT_FOUND"),
            messages: &["Referenced plugin 497f6eca-6276-4993-bfeb-53cbbbba6f08 not found"],
            raw: false,
        },
        ErrorCase {
            status: 403,
            body: r#"{"code":"BUILTIN_PLUGIN_GRANT_CANNOT_BE_DELETED","error":"Built-in plugin grants cannot be deleted"}"#,
            content_type: JSON,
            kind: ErrorKind::Forbidden,
            code: Some("BUILTIN_PLUGIN_GRANT_CANNOT_BE_DELETED"),
            messages: &["Built-in plugin grants cannot be deleted"],
            raw: false,
        },
        ErrorCase {
            status: 404,
            body: r#"{"code":"ENVIRONMENT_NOT_FOUND","error":"Parent environment 8f14e45f-ceea-467f-a0e6-7a1c2b3d4e5f not found"}"#,
            content_type: JSON,
            kind: ErrorKind::NotFound,
            code: Some("ENVIRONMENT_NOT_FOUND"),
            messages: &["Parent environment 8f14e45f-ceea-467f-a0e6-7a1c2b3d4e5f not found"],
            raw: false,
        },
        ErrorCase {
            status: 404,
            body: r#"{"code":"RESOURCE_NOT_FOUND","error":"Environment plugin grant 0b6f3c1e-5d2a-4f7b-9c8e-1a2b3c4d5e6f not found"}"#,
            content_type: JSON,
            kind: ErrorKind::NotFound,
            code: Some("RESOURCE_NOT_FOUND"),
            messages: &["Environment plugin grant 0b6f3c1e-5d2a-4f7b-9c8e-1a2b3c4d5e6f not found"],
            raw: false,
        },
        ErrorCase {
            status: 409,
            body: r#"{"code":"ENVIRONMENT_PLUGIN_GRANT_ALREADY_EXISTS","error":"Grant for this plugin already exists in this environment"}"#,
            content_type: JSON,
            kind: ErrorKind::Conflict,
            code: Some("ENVIRONMENT_PLUGIN_GRANT_ALREADY_EXISTS"),
            messages: &["Grant for this plugin already exists in this environment"],
            raw: false,
        },
        // Servers older than the `code` field.
        ErrorCase {
            status: 409,
            body: r#"{"error":"Grant for this plugin already exists in this environment"}"#,
            content_type: "application/json",
            kind: ErrorKind::Conflict,
            code: None,
            messages: &["Grant for this plugin already exists in this environment"],
            raw: false,
        },
        // poem's plain-text answer to a path it cannot parse.
        ErrorCase {
            status: 400,
            body: "failed to parse path `environment_id`: invalid UUID",
            content_type: "text/plain; charset=utf-8",
            kind: ErrorKind::BadRequest,
            code: None,
            messages: &["failed to parse path `environment_id`: invalid UUID"],
            raw: true,
        },
    ];

    #[tokio::test]
    async fn every_operation_maps_every_error_body() {
        for op in Op::ALL {
            let (http_method, http_path, operation) = op.http();
            for case in ERROR_CASES {
                let (server, client) = setup().await;
                Mock::given(method(http_method))
                    .and(path(http_path.as_str()))
                    .respond_with(
                        ResponseTemplate::new(case.status)
                            .set_body_raw(case.body.as_bytes().to_vec(), case.content_type)
                            .insert_header("x-request-id", "req-7"),
                    )
                    .expect(1)
                    .mount(&server)
                    .await;
                let err = op.run(&client).await;
                case.check(&err, operation, "req-7");
            }
        }
    }

    #[tokio::test]
    async fn malformed_grant_bodies_are_decode_errors() {
        for body in [
            json!({"id": GRANT, "environmentId": ENVIRONMENT}),
            json!({"id": "not-a-uuid", "environmentId": ENVIRONMENT, "pluginId": PLUGIN}),
            json!([]),
        ] {
            let (server, client) = setup().await;
            Mock::given(method("POST"))
                .respond_with(json_value(200, &body))
                .mount(&server)
                .await;
            let err = grants(&client).grant(plugin_id()).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode, "{body}");
        }
    }

    mod workflows {
        use super::*;

        fn other_details() -> Value {
            let mut other = details_json();
            other["id"] = json!("00000000-0000-4000-8000-0000000000aa");
            other["plugin"]["id"] = json!("00000000-0000-4000-8000-0000000000bb");
            other
        }

        #[tokio::test]
        async fn ensure_grant_finds_an_existing_grant_without_granting() {
            let (server, client) = setup().await;
            Mock::given(method("GET"))
                .and(path(grants_path()))
                .respond_with(json_value(
                    200,
                    &json!({ "values": [other_details(), details_json()] }),
                ))
                .expect(1)
                .mount(&server)
                .await;
            Mock::given(method("POST"))
                .respond_with(json_value(200, &grant_json()))
                .expect(0)
                .mount(&server)
                .await;
            let (grant, created) = grants(&client).ensure_grant(plugin_id()).await.unwrap();
            assert!(!created);
            assert_eq!(
                (grant.id, grant.environment_id, grant.plugin_id),
                (grant_id(), environment(), plugin_id())
            );
        }

        #[tokio::test]
        async fn ensure_grant_grants_when_the_environment_has_none() {
            let (server, client) = setup().await;
            Mock::given(method("GET"))
                .and(path(grants_path()))
                .respond_with(json_value(200, &json!({ "values": [other_details()] })))
                .expect(1)
                .mount(&server)
                .await;
            Mock::given(method("POST"))
                .and(path(grants_path()))
                .and(body_json(json!({ "pluginRegistrationId": PLUGIN })))
                .respond_with(json_value(200, &grant_json()))
                .expect(1)
                .mount(&server)
                .await;
            let (grant, created) = grants(&client).ensure_grant(plugin_id()).await.unwrap();
            assert!(created);
            assert_eq!(grant.id, grant_id());
        }

        #[tokio::test]
        async fn ensure_grant_after_losing_a_race_returns_the_winners_grant() {
            let (server, client) = setup().await;
            // The first look-up sees no grant; another writer grants before this call does.
            Mock::given(method("GET"))
                .and(path(grants_path()))
                .respond_with(json_value(200, &json!({ "values": [] })))
                .up_to_n_times(1)
                .expect(1)
                .mount(&server)
                .await;
            let conflict = json!({"code": "ENVIRONMENT_PLUGIN_GRANT_ALREADY_EXISTS", "error": "Grant for this plugin already exists in this environment"});
            Mock::given(method("POST"))
                .respond_with(json_value(409, &conflict))
                .expect(1)
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .and(path(grants_path()))
                .respond_with(json_value(200, &json!({ "values": [details_json()] })))
                .expect(1)
                .mount(&server)
                .await;
            let (grant, created) = grants(&client).ensure_grant(plugin_id()).await.unwrap();
            assert!(!created);
            assert_eq!(grant.id, grant_id());
        }

        #[tokio::test]
        async fn ensure_grant_reports_a_conflict_it_cannot_resolve() {
            let (server, client) = setup().await;
            Mock::given(method("GET"))
                .respond_with(json_value(200, &json!({ "values": [] })))
                .expect(2)
                .mount(&server)
                .await;
            let conflict =
                json!({"code": "ENVIRONMENT_PLUGIN_GRANT_ALREADY_EXISTS", "error": "exists"});
            Mock::given(method("POST"))
                .respond_with(json_value(409, &conflict))
                .expect(1)
                .mount(&server)
                .await;
            let err = grants(&client).ensure_grant(plugin_id()).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Conflict);
            assert_eq!(err.code(), Some("ENVIRONMENT_PLUGIN_GRANT_ALREADY_EXISTS"));
        }

        #[tokio::test]
        async fn ensure_granted_uses_the_registered_plugin_and_grants_it() {
            let (server, client) = setup().await;
            Mock::given(method("GET"))
                .and(path(format!("/v1/accounts/{ACCOUNT}/plugins")))
                .respond_with(json_value(200, &json!({ "values": [plugin_json()] })))
                .expect(1)
                .mount(&server)
                .await;
            Mock::given(method("POST"))
                .and(path(format!("/v1/accounts/{ACCOUNT}/plugins")))
                .respond_with(json_value(200, &plugin_json()))
                .expect(0)
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .and(path(grants_path()))
                .respond_with(json_value(200, &json!({ "values": [] })))
                .expect(1)
                .mount(&server)
                .await;
            Mock::given(method("POST"))
                .and(path(grants_path()))
                .and(body_json(json!({ "pluginRegistrationId": PLUGIN })))
                .respond_with(json_value(200, &grant_json()))
                .expect(1)
                .mount(&server)
                .await;
            let component: uuid::Uuid = COMPONENT.parse().unwrap();
            let account: AccountId = ACCOUNT.parse().unwrap();
            let done = client
                .account(account)
                .plugins()
                .ensure_granted(
                    &NewPlugin::oplog_processor("audit", "1.0.0", component, 3),
                    environment(),
                )
                .await
                .unwrap();
            assert_eq!(done.plugin.id, plugin_id());
            assert!(!done.registered);
            assert_eq!(done.grant.id, grant_id());
            assert!(done.granted);
        }

        #[tokio::test]
        async fn ensure_granted_checks_the_plugin_before_sending() {
            let (server, client) = setup().await;
            let account: AccountId = ACCOUNT.parse().unwrap();
            let err = client
                .account(account)
                .plugins()
                .ensure_granted(
                    &NewPlugin::oplog_processor("", "1.0.0", uuid::Uuid::new_v4(), 3),
                    environment(),
                )
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert!(err.to_string().contains("`name`"), "{err}");
            assert!(server.received_requests().await.unwrap().is_empty());
        }
    }

    mod activation {
        use super::*;

        fn component() -> cloud_plugin_sdk::golem::ComponentId {
            COMPONENT.parse().unwrap()
        }

        #[tokio::test]
        async fn activate_and_deactivate_send_the_priority_as_a_query_parameter() {
            let (server, client) = setup().await;
            for switch in ["activate-plugin", "deactivate-plugin"] {
                Mock::given(method("POST"))
                    .and(path(format!(
                        "/v1/components/{COMPONENT}/workers/counter-1/{switch}"
                    )))
                    .and(query_param("plugin-priority", "-3"))
                    .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
                    .respond_with(json_value(200, &json!({})))
                    .expect(1)
                    .mount(&server)
                    .await;
            }
            let agent = client.agent(component(), "counter-1");
            assert_eq!(agent.name(), "counter-1");
            assert_eq!(agent.component_id(), component());
            assert_eq!(agent.activate_plugin(-3).await.unwrap().status(), 200);
            assert_eq!(agent.deactivate_plugin(-3).await.unwrap().status(), 200);
        }

        #[tokio::test]
        async fn agent_names_stay_one_path_segment() {
            let (server, client) = setup().await;
            Mock::given(method("POST"))
                .respond_with(json_value(200, &json!({})))
                .mount(&server)
                .await;
            let names = [
                "a/b",
                "a?b#c",
                "50%",
                "counter(\"x y\")",
                "...",
                ".hidden",
                "ünïcode",
            ];
            for name in names {
                client
                    .agent(component(), name)
                    .activate_plugin(1)
                    .await
                    .unwrap();
            }
            let requests = server.received_requests().await.unwrap();
            assert_eq!(requests.len(), names.len());
            for (request, name) in requests.iter().zip(names) {
                let segments: Vec<&str> = request.url.path_segments().unwrap().collect();
                assert_eq!(segments.len(), 6, "{name}: {}", request.url);
                assert_eq!(segments[5], "activate-plugin", "{name}");
                let sent = percent_encoding::percent_decode_str(segments[4])
                    .decode_utf8()
                    .unwrap();
                assert_eq!(sent, name);
                assert_eq!(request.url.query(), Some("plugin-priority=1"), "{name}");
            }
        }

        #[tokio::test]
        async fn names_that_would_leave_their_segment_never_reach_the_wire() {
            let (server, client) = setup().await;
            for name in ["", ".", "..", "a\\b", "..\\..\\escaped"] {
                let agent = client.agent(component(), name);
                for err in [
                    agent.activate_plugin(1).await.unwrap_err(),
                    agent.deactivate_plugin(1).await.unwrap_err(),
                ] {
                    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{name:?}");
                    assert!(err.to_string().contains("`agent_name`"), "{name:?}: {err}");
                }
            }
            assert!(server.received_requests().await.unwrap().is_empty());
        }

        #[tokio::test]
        async fn worker_errors_are_decoded() {
            let (server, client) = setup().await;
            let body = json!({
                "code": "WORKER_FAILED", "error": "the agent failed",
                "workerError": {"cause": "trap", "stderr": "boom"}
            });
            Mock::given(method("POST"))
                .respond_with(json_value(500, &body))
                .mount(&server)
                .await;
            let err = client
                .agent(component(), "a")
                .activate_plugin(0)
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ServerError);
            assert_eq!(err.code(), Some("WORKER_FAILED"));
            assert_eq!(err.messages(), ["the agent failed"]);
            assert!(err.to_string().contains("activate_plugin"), "{err}");
            // A POST is not resent after a 500 (the client here never retries anyway).
            assert_eq!(err.attempts(), 1);
        }
    }

    #[tokio::test]
    async fn grant_futures_are_send() {
        let (server, client) = setup().await;
        Mock::given(method("GET"))
            .respond_with(json_value(200, &json!({ "values": [details_json()] })))
            .mount(&server)
            .await;
        let handle = tokio::spawn(async move { grants(&client).ensure_grant(plugin_id()).await });
        assert!(!handle.await.unwrap().unwrap().1);
    }
}
