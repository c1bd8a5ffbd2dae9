//! Golem plugin grants and agent plugin activation against wiremock: request shapes, decoding,
//! error bodies, the workflows and argument checks.

use cloud_plugin_sdk::golem::{
    EnvironmentId, GolemClient, NewPlugin, PluginGrantId, PluginId, PluginSpec,
};
use cloud_plugin_sdk::{ErrorKind, retry::RetryPolicy};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "test-token-0123456789abcdef";
const ACCOUNT: &str = "3d07c219-0a88-45be-9cfc-91e9d095a1e9";
const ENVIRONMENT: &str = "8f14e45f-ceea-467f-a0e6-7a1c2b3d4e5f";
const GRANT: &str = "0b6f3c1e-5d2a-4f7b-9c8e-1a2b3c4d5e6f";
const PLUGIN: &str = "497f6eca-6276-4993-bfeb-53cbbbba6f08";
const COMPONENT: &str = "616ccd92-d666-4180-8349-8d125b269fac";

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

fn json_response(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        body.to_string().into_bytes(),
        "application/json; charset=utf-8",
    )
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

fn environment() -> EnvironmentId {
    ENVIRONMENT.parse().unwrap()
}

fn grant_id() -> PluginGrantId {
    GRANT.parse().unwrap()
}

fn plugin_id() -> PluginId {
    PLUGIN.parse().unwrap()
}

fn grants_path() -> String {
    format!("/v1/envs/{ENVIRONMENT}/plugins")
}

fn grant_path() -> String {
    format!("/v1/environment-plugins/{GRANT}")
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
        .respond_with(json_response(200, &json!({ "values": [details] })))
        .expect(1)
        .mount(&server)
        .await;
    let grants = client
        .environment(environment())
        .plugin_grants()
        .list()
        .await
        .unwrap();
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
        .respond_with(json_response(200, &grant_json()))
        .expect(1)
        .mount(&server)
        .await;
    let grant = client
        .environment(environment())
        .plugin_grants()
        .grant(plugin_id())
        .await
        .unwrap();
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
        .respond_with(json_response(200, &details_json()))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    let grants = client.environment(environment()).plugin_grants();
    let grant = grants.get(grant_id()).await.unwrap();
    assert_eq!(grant.plugin.version, "1.0.0");

    let body = json!({"code": "RESOURCE_NOT_FOUND", "error": format!("Environment plugin grant {GRANT} not found")});
    Mock::given(method("GET"))
        .and(path(grant_path()))
        .respond_with(json_response(404, &body))
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
    let grants = client.environment(environment()).plugin_grants();
    let revoked = grants.revoke(grant_id()).await.unwrap();
    assert_eq!(revoked.status(), 204);
    assert_eq!(revoked.request_id(), Some("del-1"));
    assert!(grants.revoke_if_exists(grant_id()).await.unwrap());

    let body =
        json!({"code": "RESOURCE_NOT_FOUND", "error": "Environment plugin grant x not found"});
    Mock::given(method("DELETE"))
        .and(path(grant_path()))
        .respond_with(json_response(404, &body))
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
        .respond_with(json_response(403, &body))
        .mount(&server)
        .await;
    let err = client
        .environment(environment())
        .plugin_grants()
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
        let grants = client.environment(environment()).plugin_grants();
        match self {
            Op::List => grants.list().await.map(|_| ()),
            Op::Grant => grants.grant(plugin_id()).await.map(|_| ()),
            Op::Get => grants.get(grant_id()).await.map(|_| ()),
            Op::Revoke => grants.revoke(grant_id()).await.map(|_| ()),
        }
        .unwrap_err()
    }
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

const JSON: &str = "application/json; charset=utf-8";

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
        status: 401,
        body: r#"{"code":"AUTH_UNAUTHORIZED","error":"Unauthorized"}"#,
        content_type: JSON,
        kind: ErrorKind::Unauthorized,
        code: Some("AUTH_UNAUTHORIZED"),
        messages: &["Unauthorized"],
        raw: false,
    },
    ErrorCase {
        status: 403,
        body: r#"{"code":"AUTH_FORBIDDEN","error":"Forbidden"}"#,
        content_type: JSON,
        kind: ErrorKind::Forbidden,
        code: Some("AUTH_FORBIDDEN"),
        messages: &["Forbidden"],
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
        status: 409,
        body: r#"{"code":"ENVIRONMENT_PLUGIN_GRANT_ALREADY_EXISTS","error":"Grant for this plugin already exists in this environment"}"#,
        content_type: JSON,
        kind: ErrorKind::Conflict,
        code: Some("ENVIRONMENT_PLUGIN_GRANT_ALREADY_EXISTS"),
        messages: &["Grant for this plugin already exists in this environment"],
        raw: false,
    },
    ErrorCase {
        status: 422,
        body: r#"{"code":"LIMIT_EXCEEDED","error":"Limits of the plan exceeded"}"#,
        content_type: JSON,
        kind: ErrorKind::LimitExceeded,
        code: Some("LIMIT_EXCEEDED"),
        messages: &["Limits of the plan exceeded"],
        raw: false,
    },
    ErrorCase {
        status: 500,
        body: r#"{"code":"INTERNAL_UNKNOWN","error":"Internal error"}"#,
        content_type: JSON,
        kind: ErrorKind::ServerError,
        code: Some("INTERNAL_UNKNOWN"),
        messages: &["Internal error"],
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
            let label = format!("{op:?} {} {}", case.status, case.body);
            assert_eq!(err.kind(), case.kind, "{label}");
            assert_eq!(
                err.status().map(|s| s.as_u16()),
                Some(case.status),
                "{label}"
            );
            assert_eq!(err.code(), case.code, "{label}");
            assert_eq!(err.messages(), case.messages, "{label}");
            assert_eq!(err.request_id(), Some("req-7"), "{label}");
            assert_eq!(err.raw_body().is_some(), case.raw, "{label}");
            let line = err.to_string();
            assert!(!line.contains('\n'), "{label}: {line}");
            assert!(line.contains(operation), "{label}: {line}");
            assert!(!line.contains(TOKEN), "{label}");
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
            .respond_with(json_response(200, &body))
            .mount(&server)
            .await;
        let err = client
            .environment(environment())
            .plugin_grants()
            .grant(plugin_id())
            .await
            .unwrap_err();
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
            .respond_with(json_response(
                200,
                &json!({ "values": [other_details(), details_json()] }),
            ))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(json_response(200, &grant_json()))
            .expect(0)
            .mount(&server)
            .await;
        let (grant, created) = client
            .environment(environment())
            .plugin_grants()
            .ensure_grant(plugin_id())
            .await
            .unwrap();
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
            .respond_with(json_response(200, &json!({ "values": [other_details()] })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(grants_path()))
            .and(body_json(json!({ "pluginRegistrationId": PLUGIN })))
            .respond_with(json_response(200, &grant_json()))
            .expect(1)
            .mount(&server)
            .await;
        let (grant, created) = client
            .environment(environment())
            .plugin_grants()
            .ensure_grant(plugin_id())
            .await
            .unwrap();
        assert!(created);
        assert_eq!(grant.id, grant_id());
    }

    #[tokio::test]
    async fn ensure_grant_after_losing_a_race_returns_the_winners_grant() {
        let (server, client) = setup().await;
        // The first look-up sees no grant; another writer grants before this call does.
        Mock::given(method("GET"))
            .and(path(grants_path()))
            .respond_with(json_response(200, &json!({ "values": [] })))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        let conflict = json!({"code": "ENVIRONMENT_PLUGIN_GRANT_ALREADY_EXISTS", "error": "Grant for this plugin already exists in this environment"});
        Mock::given(method("POST"))
            .respond_with(json_response(409, &conflict))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(grants_path()))
            .respond_with(json_response(200, &json!({ "values": [details_json()] })))
            .expect(1)
            .mount(&server)
            .await;
        let (grant, created) = client
            .environment(environment())
            .plugin_grants()
            .ensure_grant(plugin_id())
            .await
            .unwrap();
        assert!(!created);
        assert_eq!(grant.id, grant_id());
    }

    #[tokio::test]
    async fn ensure_grant_reports_a_conflict_it_cannot_resolve() {
        let (server, client) = setup().await;
        Mock::given(method("GET"))
            .respond_with(json_response(200, &json!({ "values": [] })))
            .expect(2)
            .mount(&server)
            .await;
        let conflict =
            json!({"code": "ENVIRONMENT_PLUGIN_GRANT_ALREADY_EXISTS", "error": "exists"});
        Mock::given(method("POST"))
            .respond_with(json_response(409, &conflict))
            .expect(1)
            .mount(&server)
            .await;
        let err = client
            .environment(environment())
            .plugin_grants()
            .ensure_grant(plugin_id())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert_eq!(err.code(), Some("ENVIRONMENT_PLUGIN_GRANT_ALREADY_EXISTS"));
    }

    #[tokio::test]
    async fn ensure_granted_uses_the_registered_plugin_and_grants_it() {
        let (server, client) = setup().await;
        Mock::given(method("GET"))
            .and(path(format!("/v1/accounts/{ACCOUNT}/plugins")))
            .respond_with(json_response(200, &json!({ "values": [plugin_json()] })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(format!("/v1/accounts/{ACCOUNT}/plugins")))
            .respond_with(json_response(200, &plugin_json()))
            .expect(0)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(grants_path()))
            .respond_with(json_response(200, &json!({ "values": [] })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(grants_path()))
            .and(body_json(json!({ "pluginRegistrationId": PLUGIN })))
            .respond_with(json_response(200, &grant_json()))
            .expect(1)
            .mount(&server)
            .await;
        let component: uuid::Uuid = COMPONENT.parse().unwrap();
        let account: cloud_plugin_sdk::golem::AccountId = ACCOUNT.parse().unwrap();
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
        let account: cloud_plugin_sdk::golem::AccountId = ACCOUNT.parse().unwrap();
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
                .respond_with(json_response(200, &json!({})))
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
            .respond_with(json_response(200, &json!({})))
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
            .respond_with(json_response(500, &body))
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
        .respond_with(json_response(200, &json!({ "values": [details_json()] })))
        .mount(&server)
        .await;
    let handle = tokio::spawn(async move {
        client
            .environment(environment())
            .plugin_grants()
            .ensure_grant(plugin_id())
            .await
    });
    assert!(!handle.await.unwrap().unwrap().1);
}
