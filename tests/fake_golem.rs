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
    assert!(
        golem
            .plugins()
            .delete_if_exists(created.id)
            .await
            .unwrap()
            .is_none()
    );
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
    let anonymous = GolemClient::builder()
        .base_url(fake.url())
        .token("short")
        .build()
        .unwrap();
    let err = anonymous
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
