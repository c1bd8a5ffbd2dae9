//! OAuth through an identity pool: tokens fetched lazily, shared, renewed before they expire by
//! one request, fetched anew once after a 401, and typed errors when the identity provider or
//! the STS fails. Against the embedded fake (its identity provider and STS) and wiremock.
#![cfg(feature = "mock")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloud_plugin_sdk::confluent::{
    Archive, ClientAuthentication, Cloud, ConfluentClient, ConnectorType, NewPlugin, OAuthConfig,
};
use cloud_plugin_sdk::mock::ConfluentFake;
use cloud_plugin_sdk::retry::RetryPolicy;
use cloud_plugin_sdk::{ErrorKind, TokenEndpoint};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn quick_retries() -> RetryPolicy {
    RetryPolicy::standard()
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(20))
}

fn oauth_client(fake: &ConfluentFake) -> ConfluentClient {
    client_with(fake.url(), fake.oauth_config(), quick_retries())
}

/// Lists the plugins of `env`: the call most tests make.
async fn list(client: &ConfluentClient, env: &str) -> cloud_plugin_sdk::Result<()> {
    client
        .environment(env)
        .plugins()
        .list()
        .send()
        .await
        .map(drop)
}

/// A client of `base_url` authenticating with `config`.
fn client_with(base_url: String, config: OAuthConfig, policy: RetryPolicy) -> ConfluentClient {
    ConfluentClient::builder()
        .base_url(base_url)
        .oauth(config)
        .retry_policy(policy)
        .build()
        .unwrap()
}

fn archive() -> Archive {
    Archive::from_bytes("sink.zip", b"PK\x03\x04 a small connector".to_vec()).unwrap()
}

#[tokio::test]
async fn calls_carry_an_exchanged_token_fetched_once_for_all_clones() {
    let fake = ConfluentFake::start().await;
    let client = oauth_client(&fake);
    // Building fetches nothing.
    assert_eq!(fake.token_requests(), (0, 0));

    let env = client.environment(fake.environment());
    let plugin = env
        .plugins()
        .create(&NewPlugin::new("orders", Cloud::Aws))
        .await
        .unwrap();
    assert_eq!(fake.token_requests(), (1, 1));

    let clone = client.clone();
    let env2 = clone.environment(fake.environment());
    env2.plugins().get(&plugin.id).await.unwrap();
    env2.plugins().list().send().await.unwrap();
    // The version operations and presigned URLs take the same token; the upload to storage
    // takes none (the fake's storage refuses any Authorization header).
    let version = env2
        .plugin_versions(&plugin.id)
        .upload("1.0.0", archive())
        .connector_class("com.example.Sink", ConnectorType::Sink)
        .poll_interval(Duration::from_millis(5))
        .await
        .unwrap();
    assert!(version.is_ready());
    assert_eq!(fake.token_requests(), (1, 1), "one token served every call");
}

#[tokio::test]
async fn a_token_that_expires_mid_workflow_is_renewed_without_a_failed_call() {
    let fake = ConfluentFake::start().await;
    fake.set_token_lifetime(Duration::from_secs(1));
    // The version stays PROCESSING for 6 polls, from 150 ms apart growing by half each time:
    // the upload workflow outlives two token lifetimes.
    fake.set_processing_polls(6);
    let client = oauth_client(&fake);
    let env = client.environment(fake.environment());
    let plugin = env
        .plugins()
        .create(&NewPlugin::new("long-upload", Cloud::Gcp))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let version = env
        .plugin_versions(&plugin.id)
        .upload("2.0.0", archive())
        .connector_class("com.example.Sink", ConnectorType::Sink)
        .poll_interval(Duration::from_millis(150))
        .await
        .unwrap();
    assert!(version.is_ready());
    assert!(
        started.elapsed() > Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let (idp, sts) = fake.token_requests();
    assert!(
        sts >= 3,
        "tokens were renewed: {idp} IdP and {sts} STS requests"
    );
    assert!(idp <= sts, "{idp} IdP and {sts} STS requests");
}

#[tokio::test]
async fn concurrent_calls_share_one_fetch_and_one_renewal() {
    let fake = ConfluentFake::start().await;
    fake.set_token_lifetime(Duration::from_secs(1));
    // A slow identity provider, so that every call arrives while the fetch is under way.
    fake.idp_faults().latency(Duration::from_millis(200));
    let client = oauth_client(&fake);
    let calls = |client: ConfluentClient, env: String| async move {
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let env = client.environment(env.clone());
                tokio::spawn(async move { env.plugins().list().send().await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
    };
    calls(client.clone(), fake.environment().to_string()).await;
    assert_eq!(fake.token_requests(), (1, 1));

    // Once both tokens expired, 32 calls again wait for one renewal.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    calls(client.clone(), fake.environment().to_string()).await;
    assert_eq!(fake.token_requests(), (2, 2));
}

#[tokio::test]
async fn a_renewal_due_is_started_once_while_calls_go_on_with_the_valid_token() {
    let fake = ConfluentFake::start().await;
    // Renewal due after 3.2 s, expiry after 4 s.
    fake.set_token_lifetime(Duration::from_secs(4));
    let client = oauth_client(&fake);
    list(&client, fake.environment()).await.unwrap();
    assert_eq!(fake.token_requests(), (1, 1));
    // From now on the identity provider answers slowly.
    fake.idp_faults().latency(Duration::from_millis(1500));
    tokio::time::sleep(Duration::from_millis(3300)).await;
    let started = std::time::Instant::now();
    for _ in 0..5 {
        list(&client, fake.environment()).await.unwrap();
    }
    // No call waited for the slow identity provider: the renewal runs in the background.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        fake.token_requests(),
        (2, 2),
        "one renewal for all five calls"
    );
    list(&client, fake.environment()).await.unwrap();
    assert_eq!(fake.token_requests(), (2, 2), "the renewed token is used");
}

#[tokio::test]
async fn a_401_with_a_cached_token_fetches_a_new_one_once() {
    let fake = ConfluentFake::start().await;
    let client = oauth_client(&fake);
    let env = client.environment(fake.environment());
    env.plugins().list().send().await.unwrap();
    assert_eq!(fake.token_requests(), (1, 1));

    // The service ends the tokens' life before the client expects it.
    fake.revoke_tokens();
    let plugin = env
        .plugins()
        .create(&NewPlugin::new("after-revoke", Cloud::Aws))
        .await
        .unwrap();
    assert_eq!(
        plugin.attempts(),
        2,
        "refused once, then sent with a new token"
    );
    assert_eq!(fake.token_requests(), (2, 2));
    env.plugins().get(&plugin.id).await.unwrap();
    assert_eq!(fake.token_requests(), (2, 2));
}

/// Counts requests and answers each with the next template, the last one for good.
struct Sequence {
    replies: Vec<ResponseTemplate>,
    seen: Arc<AtomicUsize>,
}

impl Respond for Sequence {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        self.replies[n.min(self.replies.len() - 1)].clone()
    }
}

/// A wiremock identity provider and STS issuing tokens; returns the request counters.
async fn token_endpoints(server: &MockServer) -> (Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let idp = Arc::new(AtomicUsize::new(0));
    let sts = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/idp/token"))
        .respond_with(Sequence {
            replies: vec![ResponseTemplate::new(200).set_body_json(json!({
                "access_token": "idp-token", "token_type": "Bearer", "expires_in": 3600
            }))],
            seen: idp.clone(),
        })
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/sts/v1/oauth2/token"))
        .respond_with(Sequence {
            replies: vec![ResponseTemplate::new(200).set_body_json(json!({
                "access_token": "sts-token",
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer",
                "expires_in": 900
            }))],
            seen: sts.clone(),
        })
        .mount(server)
        .await;
    (idp, sts)
}

fn wiremock_client(server: &MockServer, policy: RetryPolicy) -> ConfluentClient {
    let config = OAuthConfig::new(
        format!("{}/idp/token", server.uri()),
        "client-1",
        "client-secret-1",
        "pool-1",
    );
    client_with(server.uri(), config, policy)
}

#[tokio::test]
async fn a_refused_token_is_fetched_anew_once_not_in_a_loop() {
    let server = MockServer::start().await;
    let (idp, sts) = token_endpoints(&server).await;
    let api = Arc::new(AtomicUsize::new(0));
    Mock::given(path("/ccpm/v1/plugins"))
        .respond_with(Sequence {
            replies: vec![ResponseTemplate::new(401).set_body_json(json!({
                "errors": [{"status": "401", "code": "user_unauthenticated", "detail": "no"}]
            }))],
            seen: api.clone(),
        })
        .mount(&server)
        .await;
    let client = wiremock_client(&server, quick_retries());
    let env = client.environment("env-1");

    // A token fetched for the call itself is not fetched again: the 401 is the answer.
    let err = env.plugins().list().send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(
        (
            idp.load(Ordering::SeqCst),
            sts.load(Ordering::SeqCst),
            api.load(Ordering::SeqCst)
        ),
        (1, 1, 1)
    );

    // A cached token refused: discarded, fetched anew, sent once more, and that is all.
    let err = env.plugins().list().send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.attempts(), 2, "{err}");
    assert_eq!(
        (
            idp.load(Ordering::SeqCst),
            sts.load(Ordering::SeqCst),
            api.load(Ordering::SeqCst)
        ),
        (2, 2, 3)
    );
}

#[tokio::test]
async fn the_token_requests_carry_the_documented_forms() {
    let server = MockServer::start().await;
    let (_, _) = token_endpoints(&server).await;
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let recorder = seen.clone();
    Mock::given(path("/ccpm/v1/plugins"))
        .respond_with(move |request: &Request| {
            let auth = request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            recorder.lock().unwrap().push(auth);
            ResponseTemplate::new(200).set_body_json(json!({
                "api_version": "ccpm/v1", "kind": "CustomConnectPluginList",
                "metadata": {}, "data": []
            }))
        })
        .mount(&server)
        .await;
    let client = ConfluentClient::builder()
        .base_url(server.uri())
        .oauth(
            OAuthConfig::new(
                format!("{}/idp/token", server.uri()),
                "client 1",
                "secret&1",
                "pool-1",
            )
            .scope("api://confluent/.default")
            .token_lifetime(Duration::from_secs(600)),
        )
        .build()
        .unwrap();
    list(&client, "env-1").await.unwrap();
    assert_eq!(seen.lock().unwrap().as_slice(), ["Bearer sts-token"]);

    let requests = server.received_requests().await.unwrap();
    let form = |p: &str| {
        let request = requests.iter().find(|r| r.url.path() == p).unwrap();
        assert_eq!(
            request.headers["content-type"],
            "application/x-www-form-urlencoded"
        );
        url::form_urlencoded::parse(&request.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect::<Vec<_>>()
    };
    let pairs = |items: &[(&str, &str)]| {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        form("/idp/token"),
        pairs(&[
            ("grant_type", "client_credentials"),
            ("client_id", "client 1"),
            ("client_secret", "secret&1"),
            ("scope", "api://confluent/.default"),
        ])
    );
    assert_eq!(
        form("/sts/v1/oauth2/token"),
        pairs(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange"
            ),
            ("subject_token", "idp-token"),
            ("identity_pool_id", "pool-1"),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
            (
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:access_token"
            ),
            ("expires_in", "600"),
        ])
    );
}

#[tokio::test]
async fn basic_client_authentication_is_accepted_by_the_fake() {
    let fake = ConfluentFake::start().await;
    let config = fake
        .oauth_config()
        .client_authentication(ClientAuthentication::BasicHeader);
    let client = client_with(fake.url(), config, RetryPolicy::standard());
    list(&client, fake.environment()).await.unwrap();
    assert_eq!(fake.token_requests(), (1, 1));
}

#[tokio::test]
async fn an_identity_provider_that_is_down_is_a_typed_error_after_bounded_retries() {
    let fake = ConfluentFake::start().await;
    fake.idp_faults().fail_next(100, 503);
    let client = client_with(
        fake.url(),
        fake.oauth_config(),
        quick_retries().max_retries(2),
    );
    let env = client.environment(fake.environment());
    let err = env.plugins().list().send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError, "{err}");
    assert!(err.is_retryable());
    let oauth = err.oauth_error().expect("an OAuth error");
    assert_eq!(oauth.endpoint(), TokenEndpoint::IdentityProvider);
    assert_eq!(oauth.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(oauth.code(), Some("temporarily_unavailable"));
    assert_eq!(err.attempts(), 3);
    assert_eq!(
        oauth.operation(),
        Some("list_ccpm_v1_custom_connect_plugins")
    );
    let text = err.to_string();
    assert!(
        text.starts_with("confluent list_ccpm_v1_custom_connect_plugins: cannot get an access token: the identity provider token endpoint at 127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains("answered 503 Service Unavailable [temporarily_unavailable]"),
        "{text}"
    );
    assert!(text.ends_with("(3 attempts)"), "{text}");
    assert_eq!(fake.token_requests(), (3, 0));
    // No API request went out.
    assert_eq!(fake.received_requests().await, 3);

    // The next call tries again (a failure is not cached) and succeeds once the IdP is back.
    fake.idp_faults().clear();
    env.plugins().list().send().await.unwrap();
    assert_eq!(fake.token_requests(), (4, 1));
}

#[tokio::test]
async fn an_unreachable_identity_provider_is_a_transport_error() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let fake = ConfluentFake::start().await;
    let mut config = fake.oauth_config();
    config.token_url = format!("http://127.0.0.1:{port}/token");
    let client = client_with(fake.url(), config, quick_retries().max_retries(1));
    let err = list(&client, fake.environment()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert_eq!(err.attempts(), 2);
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(
        err.oauth_error().map(|e| e.endpoint()),
        Some(TokenEndpoint::IdentityProvider)
    );
}

#[tokio::test]
async fn refusals_name_the_endpoint_its_code_and_message() {
    let fake = ConfluentFake::start().await;
    // The identity provider refuses the client: not retried.
    let mut config = fake.oauth_config();
    config.client_secret = "wrong".into();
    let client = client_with(fake.url(), config, RetryPolicy::standard());
    let err = list(&client, fake.environment()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.code(), Some("invalid_client"));
    assert_eq!(err.messages(), ["Client authentication failed."]);
    assert_eq!(err.attempts(), 1);

    // The STS refuses the identity pool.
    let mut config = fake.oauth_config();
    config.identity_pool_id = "pool-other".into();
    let client = client_with(fake.url(), config, RetryPolicy::standard());
    let err = list(&client, fake.environment()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    let oauth = err.oauth_error().unwrap();
    assert_eq!(oauth.endpoint(), TokenEndpoint::SecurityTokenService);
    assert_eq!(oauth.code(), Some("invalid_identity_pool"));
    assert!(oauth.request_id().is_some());
    assert!(
        err.to_string()
            .contains("the Confluent STS token exchange at 127.0.0.1:"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("400 Bad Request [invalid_identity_pool]: The identity pool does not exist"),
        "{err}"
    );
}

#[tokio::test]
async fn an_sts_that_is_rate_limited_is_waited_out() {
    let fake = ConfluentFake::start().await;
    fake.sts_faults().rate_limit(1, Duration::from_millis(200));
    let client = oauth_client(&fake);
    list(&client, fake.environment()).await.unwrap();
    assert_eq!(fake.token_requests(), (1, 2));
}

#[tokio::test]
async fn a_slow_identity_provider_is_bounded_by_the_client_timeout() {
    let fake = ConfluentFake::start().await;
    fake.idp_faults().latency(Duration::from_secs(5));
    let client = ConfluentClient::builder()
        .base_url(fake.url())
        .oauth(fake.oauth_config())
        .timeout(Some(Duration::from_millis(200)))
        .retry_policy(quick_retries().max_retries(1))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = list(&client, fake.environment()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(err.attempts(), 2);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

// ---- from_env ----

/// A lookup over fixed variables.
fn vars(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> + use<> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

fn oauth_vars(fake: &ConfluentFake) -> Vec<(&'static str, String)> {
    vec![
        (cloud_plugin_sdk::CONFLUENT_BASE_URL_ENV, fake.url()),
        (
            cloud_plugin_sdk::CONFLUENT_OAUTH_TOKEN_URL_ENV,
            fake.oauth_token_url(),
        ),
        (
            cloud_plugin_sdk::CONFLUENT_OAUTH_CLIENT_ID_ENV,
            fake.oauth_client_id().to_string(),
        ),
        (
            cloud_plugin_sdk::CONFLUENT_OAUTH_CLIENT_SECRET_ENV,
            fake.oauth_client_secret().to_string(),
        ),
        (
            cloud_plugin_sdk::CONFLUENT_OAUTH_IDENTITY_POOL_ID_ENV,
            fake.identity_pool_id().to_string(),
        ),
    ]
}

#[tokio::test]
async fn from_env_uses_oauth_when_no_api_key_is_set() {
    let fake = ConfluentFake::start().await;
    let mut env = oauth_vars(&fake);
    // The variable names are the ones documented, and a static token comes after OAuth.
    assert_eq!(env[1].0, "CONFLUENT_CLOUD_OAUTH_EXTERNAL_TOKEN_URL");
    assert_eq!(env[2].0, "CONFLUENT_CLOUD_OAUTH_EXTERNAL_CLIENT_ID");
    assert_eq!(env[3].0, "CONFLUENT_CLOUD_OAUTH_EXTERNAL_CLIENT_SECRET");
    assert_eq!(env[4].0, "CONFLUENT_CLOUD_OAUTH_IDENTITY_POOL_ID");
    assert_eq!(
        cloud_plugin_sdk::CONFLUENT_OAUTH_SCOPE_ENV,
        "CONFLUENT_CLOUD_OAUTH_EXTERNAL_TOKEN_SCOPE"
    );
    env.push((
        cloud_plugin_sdk::CONFLUENT_ACCESS_TOKEN_ENV,
        "not-a-valid-token".into(),
    ));
    env.push((cloud_plugin_sdk::CONFLUENT_OAUTH_SCOPE_ENV, "  ".into()));
    let client = ConfluentClient::from_env_with(vars(&env)).unwrap();
    list(&client, fake.environment()).await.unwrap();
    assert_eq!(fake.token_requests(), (1, 1));

    // An API key wins over OAuth.
    env.push((
        cloud_plugin_sdk::CONFLUENT_API_KEY_ENV,
        fake.api_key().into(),
    ));
    env.push((
        cloud_plugin_sdk::CONFLUENT_API_SECRET_ENV,
        fake.api_secret().into(),
    ));
    let client = ConfluentClient::from_env_with(vars(&env)).unwrap();
    list(&client, fake.environment()).await.unwrap();
    assert_eq!(fake.token_requests(), (1, 1));
}

#[tokio::test]
async fn from_env_passes_the_scope() {
    let server = MockServer::start().await;
    token_endpoints(&server).await;
    Mock::given(path("/ccpm/v1/plugins"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "api_version": "ccpm/v1", "kind": "CustomConnectPluginList",
            "metadata": {}, "data": []
        })))
        .mount(&server)
        .await;
    let env = vec![
        (cloud_plugin_sdk::CONFLUENT_BASE_URL_ENV, server.uri()),
        (
            cloud_plugin_sdk::CONFLUENT_OAUTH_TOKEN_URL_ENV,
            format!("{}/idp/token", server.uri()),
        ),
        (cloud_plugin_sdk::CONFLUENT_OAUTH_CLIENT_ID_ENV, "c".into()),
        (
            cloud_plugin_sdk::CONFLUENT_OAUTH_CLIENT_SECRET_ENV,
            "s".into(),
        ),
        (
            cloud_plugin_sdk::CONFLUENT_OAUTH_IDENTITY_POOL_ID_ENV,
            "pool-9".into(),
        ),
        (
            cloud_plugin_sdk::CONFLUENT_OAUTH_SCOPE_ENV,
            "api://x/.default".into(),
        ),
    ];
    let client = ConfluentClient::from_env_with(vars(&env)).unwrap();
    list(&client, "env-1").await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let idp = requests
        .iter()
        .find(|r| r.url.path() == "/idp/token")
        .unwrap();
    let body = String::from_utf8_lossy(&idp.body);
    assert!(body.ends_with("&scope=api%3A%2F%2Fx%2F.default"), "{body}");
    let sts = requests
        .iter()
        .find(|r| r.url.path() == "/sts/v1/oauth2/token")
        .unwrap();
    assert!(
        String::from_utf8_lossy(&sts.body).contains("identity_pool_id=pool-9"),
        "the pool variable reached the exchange"
    );
}

#[test]
fn from_env_names_missing_oauth_variables_without_showing_values() {
    let secret = "very-secret-client-value";
    let err = ConfluentClient::from_env_with(vars(&[
        (
            cloud_plugin_sdk::CONFLUENT_OAUTH_TOKEN_URL_ENV,
            "https://idp.example.com/token".into(),
        ),
        (
            cloud_plugin_sdk::CONFLUENT_OAUTH_CLIENT_SECRET_ENV,
            secret.into(),
        ),
    ]))
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let text = err.to_string();
    assert!(
        text.contains(
            "CONFLUENT_CLOUD_OAUTH_EXTERNAL_CLIENT_ID, CONFLUENT_CLOUD_OAUTH_IDENTITY_POOL_ID are not set"
        ),
        "{text}"
    );
    assert!(!text.contains(secret) && !format!("{err:?}").contains(secret));

    // One missing.
    let err = ConfluentClient::from_env_with(vars(&[
        (
            cloud_plugin_sdk::CONFLUENT_OAUTH_TOKEN_URL_ENV,
            "https://idp.example.com/token".into(),
        ),
        (cloud_plugin_sdk::CONFLUENT_OAUTH_CLIENT_ID_ENV, "c".into()),
        (
            cloud_plugin_sdk::CONFLUENT_OAUTH_CLIENT_SECRET_ENV,
            secret.into(),
        ),
    ]))
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("CONFLUENT_CLOUD_OAUTH_IDENTITY_POOL_ID is not set"),
        "{err}"
    );

    // Nothing at all: every way to authenticate is named.
    let err = ConfluentClient::from_env_with(|_| None).unwrap_err();
    let text = err.to_string();
    for name in [
        "CONFLUENT_CLOUD_API_KEY",
        "CONFLUENT_CLOUD_OAUTH_EXTERNAL_TOKEN_URL",
        "CONFLUENT_CLOUD_ACCESS_TOKEN",
    ] {
        assert!(text.contains(name), "{text}");
    }

    // An OAuth setting that is not valid is refused when building, naming the field.
    let err = ConfluentClient::from_env_with(vars(&[
        (
            cloud_plugin_sdk::CONFLUENT_OAUTH_TOKEN_URL_ENV,
            "http://idp.example.com/token".into(),
        ),
        (cloud_plugin_sdk::CONFLUENT_OAUTH_CLIENT_ID_ENV, "c".into()),
        (
            cloud_plugin_sdk::CONFLUENT_OAUTH_CLIENT_SECRET_ENV,
            secret.into(),
        ),
        (
            cloud_plugin_sdk::CONFLUENT_OAUTH_IDENTITY_POOL_ID_ENV,
            "pool-1".into(),
        ),
    ]))
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("token_url"), "{err}");
}
