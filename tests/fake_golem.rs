//! The Golem client end to end against the embedded fake (feature `mock`).
#![cfg(feature = "mock")]

use std::time::{Duration, Instant};

use cloud_plugin_sdk::golem::{GolemClient, NewPlugin};
use cloud_plugin_sdk::mock::GolemFake;
use cloud_plugin_sdk::{ErrorKind, retry::RetryPolicy};

fn client(fake: &GolemFake) -> GolemClient {
    GolemClient::builder()
        .base_url(fake.url())
        .token(fake.token())
        .build()
        .unwrap()
}

/// A client whose token is too short to be well formed.
fn malformed_token(fake: &GolemFake) -> GolemClient {
    GolemClient::builder()
        .base_url(fake.url())
        .token("short")
        .build()
        .unwrap()
}

#[tokio::test]
async fn full_lifecycle() {
    let fake = GolemFake::start().await;
    let golem = client(&fake);
    let plugins = golem.account(fake.account_id()).plugins();
    assert!(plugins.list().await.unwrap().is_empty());

    let component = uuid::Uuid::new_v4();
    let new = NewPlugin::oplog_processor("audit", "1.0.0", component, 2)
        .description("audit trail")
        .icon([1u8, 2, 3]);
    let created = plugins.create(&new).await.unwrap();
    assert_eq!(created.name, "audit");
    assert_eq!(created.icon.to_bytes().unwrap(), vec![1, 2, 3]);

    // (name, version) is unique: the second registration is a conflict.
    let err = plugins.create(&new).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.code(), Some("PLUGIN_REGISTRATION_ALREADY_EXISTS"));
    // ensure() finds the existing one instead.
    let (ensured, registered) = plugins.ensure(&new).await.unwrap();
    assert_eq!((ensured.id, registered), (created.id, false));

    let listed = plugins.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    let found = plugins.find("audit", "1.0.0").await.unwrap().unwrap();
    assert_eq!(found.id, created.id);

    let fetched = golem.plugins().get(created.id).await.unwrap();
    assert_eq!(fetched.into_inner(), created.clone().into_inner());

    let deleted = golem.plugins().delete(created.id).await.unwrap();
    assert_eq!(deleted.id, created.id);
    let err = golem.plugins().get(created.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.code(), Some("PLUGIN_REGISTRATION_NOT_FOUND"));
    assert!(golem.plugins().get_opt(created.id).await.unwrap().is_none());
    assert!(!golem.plugins().delete_if_exists(created.id).await.unwrap());

    // A plugin that exists is deleted, and the call says so.
    let second = plugins
        .create(&NewPlugin::oplog_processor("audit", "2.0.0", component, 2))
        .await
        .unwrap();
    assert!(golem.plugins().delete_if_exists(second.id).await.unwrap());
    assert!(golem.plugins().get_opt(second.id).await.unwrap().is_none());
}

#[tokio::test]
async fn documented_errors_from_the_fake() {
    let fake = GolemFake::start().await;
    let golem = client(&fake);
    // The nil component answers the documented 400 ErrorsBody.
    let err = golem
        .account(fake.account_id())
        .plugins()
        .create(&NewPlugin::oplog_processor("p", "1", uuid::Uuid::nil(), 0))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadRequest);
    assert_eq!(err.code(), Some("OPLOG_PROCESSOR_COMPONENT_NOT_FOUND"));
    assert_eq!(err.messages().len(), 1);
    // Another account is not found.
    let err = golem
        .account(uuid::Uuid::new_v4())
        .plugins()
        .list()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ACCOUNT_NOT_FOUND"));
    // A malformed token gets the plain-text 401.
    let err = malformed_token(&fake)
        .account(fake.account_id())
        .plugins()
        .list()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.raw_body(), Some("authorization error"));
}

#[tokio::test]
async fn injected_faults_are_retried_or_reported() {
    let fake = GolemFake::start().await;
    let golem = GolemClient::builder()
        .base_url(fake.url())
        .token(fake.token())
        .retry_policy(
            RetryPolicy::standard()
                .initial_backoff(Duration::from_millis(5))
                .max_backoff(Duration::from_millis(10)),
        )
        .build()
        .unwrap();
    let plugins = golem.account(fake.account_id()).plugins();

    // The 429 says `Retry-After: 1` with the fake's limit: the whole second is an upper bound,
    // and the gate sends the list again alone, at the pace the limit implies.
    fake.faults().rate_limit(1, Duration::from_millis(500));
    plugins.list().await.unwrap();
    assert_eq!(fake.received_requests().await, 2);

    fake.faults().fail_next(2, 503);
    let listed = plugins.list().await.unwrap();
    assert_eq!(listed.attempts(), 3);

    fake.faults().fail_next(1, 503);
    let err = plugins
        .create(&NewPlugin::oplog_processor(
            "p",
            "1",
            uuid::Uuid::new_v4(),
            0,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert_eq!(err.attempts(), 1, "a create is not resent after a 503");
    assert!(plugins.list().await.unwrap().is_empty());

    fake.faults().latency(Duration::from_millis(100));
    let started = Instant::now();
    plugins.list().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(100));
    fake.faults().clear();
}

mod grants {
    use super::*;
    use cloud_plugin_sdk::golem::{Plugin, PluginGrantId};

    async fn register(golem: &GolemClient, fake: &GolemFake, name: &str) -> Plugin {
        golem
            .account(fake.account_id())
            .plugins()
            .create(&NewPlugin::oplog_processor(
                name,
                "1.0.0",
                uuid::Uuid::new_v4(),
                1,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    #[tokio::test]
    async fn grant_lifecycle() {
        let fake = GolemFake::start().await;
        let golem = client(&fake);
        let plugin = register(&golem, &fake, "audit").await;
        let grants = golem.environment(fake.environment_id()).plugin_grants();
        assert_eq!(grants.environment_id(), fake.environment_id().into());
        assert!(grants.list().await.unwrap().is_empty());

        let grant = grants.grant(plugin.id).await.unwrap();
        assert_eq!(grant.plugin_id, plugin.id);
        assert_eq!(grant.environment_id, fake.environment_id().into());

        let listed = grants.list().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, grant.id);
        assert_eq!(listed[0].plugin, plugin);
        assert_eq!(listed[0].plugin_account.id, fake.account_id().into());

        let read = grants.get(grant.id).await.unwrap();
        assert_eq!(read.into_inner(), listed[0]);

        // One grant per plugin per environment.
        let err = grants.grant(plugin.id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert_eq!(err.code(), Some("ENVIRONMENT_PLUGIN_GRANT_ALREADY_EXISTS"));
        let (ensured, created) = grants.ensure_grant(plugin.id).await.unwrap();
        assert_eq!((ensured, created), (grant.clone().into_inner(), false));

        let revoked = grants.revoke(grant.id).await.unwrap();
        assert_eq!(revoked.status(), 204);
        let err = grants.get(grant.id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(err.code(), Some("RESOURCE_NOT_FOUND"));
        assert!(grants.get_opt(grant.id).await.unwrap().is_none());
        assert!(!grants.revoke_if_exists(grant.id).await.unwrap());
        assert!(grants.list().await.unwrap().is_empty());

        // Revoked, the plugin can be granted again.
        let (again, created) = grants.ensure_grant(plugin.id).await.unwrap();
        assert!(created);
        assert_ne!(again.id, grant.id);
        assert!(grants.revoke_if_exists(again.id).await.unwrap());
    }

    #[tokio::test]
    async fn the_real_rules_and_their_error_bodies() {
        let fake = GolemFake::start().await;
        let golem = client(&fake);
        let plugin = register(&golem, &fake, "audit").await;
        let grants = golem.environment(fake.environment_id()).plugin_grants();

        // A plugin that does not exist: the real service answers 400, not 404.
        let err = grants.grant(uuid::Uuid::new_v4().into()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert_eq!(err.code(), Some("REFERENCED_PLUGIN_NOT_FOUND"));
        assert_eq!(err.messages().len(), 1);

        // An environment the account does not have.
        let unknown = golem.environment(uuid::Uuid::new_v4()).plugin_grants();
        for err in [
            unknown.list().await.unwrap_err(),
            unknown.grant(plugin.id).await.unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::NotFound);
            assert_eq!(err.code(), Some("ENVIRONMENT_NOT_FOUND"));
        }

        // A grant id nobody made.
        let nobody: PluginGrantId = uuid::Uuid::new_v4().into();
        let err = grants.revoke(nobody).await.unwrap_err();
        assert_eq!(err.code(), Some("RESOURCE_NOT_FOUND"));

        // The same plugin may be granted to each environment once.
        let other = golem.environment(fake.add_environment()).plugin_grants();
        let here = grants.grant(plugin.id).await.unwrap();
        let there = other.grant(plugin.id).await.unwrap();
        assert_ne!(here.id, there.id);
        assert_eq!(other.list().await.unwrap().len(), 1);

        // Deleting a plugin with grants succeeds (a soft delete); its grants are no longer seen,
        // and a deleted plugin cannot be granted.
        golem.plugins().delete(plugin.id).await.unwrap();
        assert!(grants.list().await.unwrap().is_empty());
        assert!(grants.get_opt(here.id).await.unwrap().is_none());
        assert!(!other.revoke_if_exists(there.id).await.unwrap());
        let err = grants.grant(plugin.id).await.unwrap_err();
        assert_eq!(err.code(), Some("REFERENCED_PLUGIN_NOT_FOUND"));

        // A malformed token gets the plain-text 401 here too.
        let err = malformed_token(&fake)
            .environment(fake.environment_id())
            .plugin_grants()
            .list()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthorized);
        assert_eq!(err.raw_body(), Some("authorization error"));
    }

    #[tokio::test]
    async fn ensure_granted_is_idempotent_end_to_end() {
        let fake = GolemFake::start().await;
        let golem = client(&fake);
        let plugins = golem.account(fake.account_id()).plugins();
        let new = NewPlugin::oplog_processor("audit", "2.0.0", uuid::Uuid::new_v4(), 4);

        let first = plugins
            .ensure_granted(&new, fake.environment_id())
            .await
            .unwrap();
        assert!(first.registered && first.granted);
        assert_eq!(first.grant.plugin_id, first.plugin.id);

        let second = plugins
            .ensure_granted(&new, fake.environment_id())
            .await
            .unwrap();
        assert!(!second.registered && !second.granted);
        assert_eq!(second.plugin, first.plugin);
        assert_eq!(second.grant, first.grant);

        assert_eq!(plugins.list().await.unwrap().len(), 1);
        let grants = golem.environment(fake.environment_id()).plugin_grants();
        assert_eq!(grants.list().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn concurrent_ensure_grants_agree_on_one_grant() {
        let fake = GolemFake::start().await;
        let golem = client(&fake);
        let plugin = register(&golem, &fake, "audit").await;
        let grants = golem.environment(fake.environment_id()).plugin_grants();
        // However the two calls interleave (one may see the other's grant, or lose the race
        // with a 409), both end with the same grant and exactly one made it.
        let (a, b) = tokio::join!(
            grants.ensure_grant(plugin.id),
            grants.ensure_grant(plugin.id)
        );
        let ((a, a_created), (b, b_created)) = (a.unwrap(), b.unwrap());
        assert_eq!(a, b);
        assert!(a_created ^ b_created);
        assert_eq!(grants.list().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn agent_plugin_activation_reaches_the_fake_as_sent() {
        let fake = GolemFake::start().await;
        let golem = client(&fake);
        let component = uuid::Uuid::new_v4();
        let name = "counter(\"a/b ?#%\")";
        let agent = golem.agent(component, name);
        assert_eq!(fake.plugin_activation(component, name, 5), None);
        agent.activate_plugin(5).await.unwrap();
        assert_eq!(fake.plugin_activation(component, name, 5), Some(true));
        agent.deactivate_plugin(5).await.unwrap();
        assert_eq!(fake.plugin_activation(component, name, 5), Some(false));
        assert_eq!(fake.plugin_activation(component, name, 6), None);
        let err = golem
            .agent(component, "..")
            .activate_plugin(5)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert_eq!(fake.received_requests().await, 2);
    }
}

#[tokio::test]
async fn the_fake_refuses_malformed_grant_and_activation_requests_like_the_real_service() {
    let fake = GolemFake::start().await;
    let http = reqwest::Client::new();
    let bearer = format!("Bearer {}", fake.token());
    let env = fake.environment_id();
    let send = |method: reqwest::Method, path: String| {
        http.request(method, format!("{}{path}", fake.url()))
            .header("authorization", &bearer)
    };
    let cases = [
        (
            send(reqwest::Method::POST, format!("/v1/envs/{env}/plugins"))
                .header("content-type", "text/plain")
                .body("{}"),
            415,
        ),
        (
            send(reqwest::Method::POST, format!("/v1/envs/{env}/plugins"))
                .header("content-type", "application/json")
                .body(r#"{"pluginId":"x"}"#),
            400,
        ),
        (
            send(reqwest::Method::GET, "/v1/envs/not-a-uuid/plugins".into()),
            400,
        ),
        (
            send(reqwest::Method::GET, "/v1/environment-plugins/nope".into()),
            400,
        ),
        (
            send(
                reqwest::Method::POST,
                format!("/v1/components/{env}/workers/a/activate-plugin"),
            ),
            400,
        ),
        (
            send(
                reqwest::Method::POST,
                format!("/v1/components/{env}/workers/a/activate-plugin?plugin-priority=x"),
            ),
            400,
        ),
        (
            send(
                reqwest::Method::POST,
                format!(
                    "/v1/components/{env}/workers/a/deactivate-plugin?plugin-priority=9999999999"
                ),
            ),
            400,
        ),
    ];
    for (request, status) in cases {
        let response = request.send().await.unwrap();
        let url = response.url().clone();
        assert_eq!(response.status().as_u16(), status, "{url}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("text/plain"),
            "{url}: {content_type}"
        );
    }
}
