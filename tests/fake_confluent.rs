//! The Confluent client end to end against the embedded fake (feature `mock`): plugins, paging,
//! the upload workflow for every cloud, version phases, cleanup and injected faults.
#![cfg(feature = "mock")]

use std::time::Duration;

use cloud_plugin_sdk::confluent::{
    Cloud, ConfluentClient, ConnectorType, Environment, NewPlugin, Phase, PluginUpdate,
    UploadVersion,
};
use cloud_plugin_sdk::mock::ConfluentFake;
use cloud_plugin_sdk::{
    Cleanup, Error, ErrorKind, UploadStage, confluent::Archive, retry::RetryPolicy,
};
use futures::TryStreamExt;

fn client(fake: &ConfluentFake) -> ConfluentClient {
    ConfluentClient::builder()
        .base_url(fake.url())
        .api_key(fake.api_key(), fake.api_secret())
        .retry_policy(
            RetryPolicy::standard()
                .initial_backoff(Duration::from_millis(5))
                .max_backoff(Duration::from_millis(20)),
        )
        .build()
        .unwrap()
}

fn archive(name: &str) -> Archive {
    let mut bytes = b"PK\x03\x04".to_vec();
    bytes.extend(std::iter::repeat_n(0x42u8, 70_000));
    Archive::from_bytes(name, bytes).unwrap()
}

fn upload(env: &Environment, plugin: &str, version: &str, name: &str) -> UploadVersion {
    env.plugin_versions(plugin)
        .upload(version, archive(name))
        .connector_class("com.example.OrdersSink", ConnectorType::Sink)
        .poll_interval(Duration::from_millis(5))
        .wait_until_ready(Duration::from_secs(5))
}

#[tokio::test]
async fn plugin_lifecycle_with_paging() {
    let fake = ConfluentFake::start().await;
    let env = client(&fake).environment(fake.environment());
    let plugins = env.plugins();

    let created = plugins
        .create(&NewPlugin::new("orders-sink", Cloud::Aws).description("writes orders"))
        .await
        .unwrap();
    assert_eq!(created.status(), 202);
    assert!(created.request_id().is_some());
    let limit = created.rate_limit().unwrap();
    assert!(limit.limit.is_some() && limit.reset.is_some());
    assert_eq!(created.spec.cloud, Cloud::Aws);

    // A second plugin with the same name is a conflict that points at the first.
    let err = plugins
        .create(&NewPlugin::new("orders-sink", Cloud::Aws))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    let location = err.api_error().unwrap().location().unwrap().to_string();
    assert!(location.contains(created.id.as_str()), "{location}");

    let updated = plugins
        .update(
            &created.id,
            &PluginUpdate::new().description("writes all orders"),
        )
        .await
        .unwrap();
    assert_eq!(
        updated.spec.description.as_deref(),
        Some("writes all orders")
    );
    assert_eq!(
        plugins.get(&created.id).await.unwrap().spec.display_name,
        "orders-sink"
    );

    for i in 0..24 {
        let cloud = if i % 2 == 0 { Cloud::Gcp } else { Cloud::Azure };
        plugins
            .create(&NewPlugin::new(format!("p-{i:02}"), cloud))
            .await
            .unwrap();
    }
    let first = plugins.list().page_size(10).send().await.unwrap();
    assert_eq!(first.data.len(), 10);
    assert_eq!(first.metadata.total_size, Some(25));
    assert!(first.next_page_token().is_some());
    let pages: Vec<_> = plugins
        .list()
        .page_size(10)
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        pages.iter().map(|p| p.data.len()).collect::<Vec<_>>(),
        [10, 10, 5]
    );
    let all: Vec<_> = plugins
        .list()
        .page_size(7)
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 25);
    let gcp = plugins.list().cloud(Cloud::Gcp).all().await.unwrap();
    assert_eq!(gcp.len(), 12);
    assert!(gcp.iter().all(|p| p.spec.cloud == Cloud::Gcp));
    let found = plugins.find_by_name("p-17").await.unwrap().unwrap();
    assert_eq!(found.spec.cloud, Cloud::Azure);
    assert!(plugins.find_by_name("nope").await.unwrap().is_none());

    // Another environment sees none of it.
    let other = client(&fake).environment("env-other2");
    assert!(other.plugins().list().all().await.unwrap().is_empty());

    assert!(plugins.delete_if_exists(&created.id).await.unwrap());
    assert!(!plugins.delete_if_exists(&created.id).await.unwrap());
    assert!(plugins.get_opt(&created.id).await.unwrap().is_none());
}

#[tokio::test]
async fn uploads_to_every_cloud_reach_ready() {
    let fake = ConfluentFake::start().await;
    let env = client(&fake).environment(fake.environment());
    fake.set_processing_polls(2);
    for (cloud, file) in [
        (Cloud::Aws, "a.zip"),
        (Cloud::Gcp, "g.jar"),
        (Cloud::Azure, "z.zip"),
    ] {
        let plugin = env
            .plugins()
            .create(&NewPlugin::new(format!("plugin-{cloud}"), cloud.clone()))
            .await
            .unwrap();
        let phases = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = phases.clone();
        let version = upload(&env, plugin.id.as_str(), "v1.0.0", file)
            .on_progress(move |e| {
                if let cloud_plugin_sdk::confluent::UploadEvent::PhaseChanged { phase, .. } = e {
                    seen.lock().unwrap().push(phase);
                }
            })
            .await
            .unwrap_or_else(|e| panic!("{cloud}: {e}"));
        assert_eq!(version.status.phase, Phase::Ready, "{cloud}");
        assert_eq!(*phases.lock().unwrap(), [Phase::Ready], "{cloud}");
        let listed = env.plugin_versions(plugin.id.clone()).list().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].spec.version, "v1.0.0");

        // Versions must go before their plugin.
        let err = env.plugins().delete(&plugin.id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{cloud}");
        env.plugin_versions(plugin.id.clone())
            .delete(version.id.clone())
            .await
            .unwrap();
        env.plugins().delete(&plugin.id).await.unwrap();
    }
}

#[tokio::test]
async fn a_rejected_archive_fails_and_leaves_nothing_behind() {
    let fake = ConfluentFake::start().await;
    let env = client(&fake).environment(fake.environment());
    let plugin = env
        .plugins()
        .create(&NewPlugin::new("bad", Cloud::Gcp))
        .await
        .unwrap();
    fake.reject_next_archive("Class com.example.OrdersSink not found in archive");
    let err = upload(&env, plugin.id.as_str(), "1.0.0", "bad.zip")
        .await
        .unwrap_err();
    assert_eq!(err.upload_stage(), Some(UploadStage::WaitingForReady));
    assert_eq!(err.kind(), ErrorKind::Wait);
    match &err {
        Error::Upload {
            cleanup, source, ..
        } => {
            assert!(matches!(cleanup, Some(Cleanup::Deleted)));
            let text = source.to_string();
            assert!(text.contains("not found in archive"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        env.plugin_versions(plugin.id.clone())
            .list()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn an_expired_upload_url_is_replaced() {
    let fake = ConfluentFake::start().await;
    let env = client(&fake).environment(fake.environment());
    let plugin = env
        .plugins()
        .create(&NewPlugin::new("slow", Cloud::Azure))
        .await
        .unwrap();
    fake.expire_next_upload_urls(1);
    let version = upload(&env, plugin.id.as_str(), "2.0.0", "s.zip")
        .await
        .unwrap();
    assert!(version.is_ready());
    fake.expire_next_upload_urls(2);
    let err = upload(&env, plugin.id.as_str(), "2.0.1", "s.zip")
        .await
        .unwrap_err();
    assert_eq!(err.upload_stage(), Some(UploadStage::Uploading));
    assert_eq!(err.kind(), ErrorKind::Storage);
}

#[tokio::test]
async fn faults_are_retried_where_safe() {
    let fake = ConfluentFake::start().await;
    let env = client(&fake).environment(fake.environment());
    // The 429 says `Retry-After: 1` with the fake's limit: the whole second is an upper bound,
    // and the gate sends the create again alone, at the pace the limit implies.
    fake.faults().rate_limit(1, Duration::from_millis(800));
    let plugin = env
        .plugins()
        .create(&NewPlugin::new("limited", Cloud::Aws))
        .await
        .unwrap();
    assert_eq!(plugin.attempts(), 2, "a 429'd create is sent again");

    fake.faults().fail_next(2, 503);
    assert_eq!(env.plugins().get(&plugin.id).await.unwrap().attempts(), 3);

    fake.faults().fail_next(1, 500);
    let err = env
        .plugins()
        .create(&NewPlugin::new("once", Cloud::Aws))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert_eq!(err.attempts(), 1);
    assert!(err.request_id().is_some());
    assert!(env.plugins().find_by_name("once").await.unwrap().is_none());

    let anonymous = ConfluentClient::builder()
        .base_url(fake.url())
        .api_key(fake.api_key(), "wrong-secret")
        .build()
        .unwrap();
    let err = anonymous
        .environment(fake.environment())
        .plugins()
        .list()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(
        err.api_error()
            .unwrap()
            .www_authenticate()
            .unwrap()
            .starts_with("Basic")
    );
}

/// Posts a form and returns the status and the JSON body.
async fn post_form(url: &str, fields: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let body = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn the_fake_issues_exchanges_and_expires_tokens() {
    let fake = ConfluentFake::start().await;
    fake.set_token_lifetime(Duration::from_secs(1));
    let idp = fake.oauth_token_url();
    let sts = format!("{}/sts/v1/oauth2/token", fake.url());

    // The identity provider checks the client.
    let (status, body) = post_form(
        &idp,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", fake.oauth_client_id()),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = post_form(
        &idp,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", fake.oauth_client_id()),
            ("client_secret", fake.oauth_client_secret()),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["expires_in"], 1);
    let subject = body["access_token"].as_str().unwrap().to_string();

    // The STS checks the pool and the subject token.
    let exchange = |pool: &str, subject: &str| {
        vec![
            (
                "grant_type".to_string(),
                "urn:ietf:params:oauth:grant-type:token-exchange".to_string(),
            ),
            ("subject_token".into(), subject.to_string()),
            ("identity_pool_id".into(), pool.to_string()),
            (
                "subject_token_type".into(),
                "urn:ietf:params:oauth:token-type:jwt".into(),
            ),
            (
                "requested_token_type".into(),
                "urn:ietf:params:oauth:token-type:access_token".into(),
            ),
        ]
    };
    let fields = exchange("pool-other", &subject);
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, body) = post_form(&sts, &borrowed).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["code"], "invalid_identity_pool");
    let fields = exchange(fake.identity_pool_id(), &subject);
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, body) = post_form(&sts, &borrowed).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    let token = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(fake.token_requests(), (2, 2));

    // The API accepts the exchanged token until it expires.
    let client = ConfluentClient::builder()
        .base_url(fake.url())
        .access_token(token)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let env = client.environment(fake.environment());
    env.plugins().list().send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let err = env.plugins().list().send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.messages(), ["The access token has expired."]);
    // So does the STS refuse the expired subject token.
    let (status, _) = post_form(&sts, &borrowed).await;
    assert_eq!(status, 401);
}
