//! The OAuth client secret and both tokens never show: not in `Debug` or `Display` of settings,
//! builders, clients and errors, and not in anything logged through `tracing` (the HTTP stack's
//! own events included) while tokens are fetched, renewed, refused, retried and echoed back.
//!
//! One test in its own binary, so that the subscriber it installs sees every event and no other
//! test's events.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloud_plugin_sdk::confluent::{ConfluentClient, OAuthConfig};
use cloud_plugin_sdk::retry::RetryPolicy;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CLIENT_SECRET: &str = "cl1ent-S3CRET-do-not-print-8e1f";
const IDP_TOKEN: &str = "eyJidp.S3CRET-idp-token-do-not-print.sig";
const STS_TOKEN: &str = "eyJsts.S3CRET-sts-token-do-not-print.sig";

#[path = "support/log_writer.rs"]
mod log_writer;
use log_writer::SharedWriter;

fn assert_hidden(what: &str, shown: &str) {
    for secret in [CLIENT_SECRET, IDP_TOKEN, STS_TOKEN] {
        assert!(!shown.contains(secret), "{what} shows a secret: {shown}");
    }
    assert!(
        !shown.contains("S3CRET"),
        "{what} shows part of a secret: {shown}"
    );
}

/// The identity provider: refuses the first request with an echo of the client secret, then
/// issues tokens.
struct IdentityProvider {
    seen: AtomicUsize,
}

impl Respond for IdentityProvider {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        if self.seen.fetch_add(1, Ordering::SeqCst) == 0 {
            return ResponseTemplate::new(401).set_body_json(json!({
                "error": "invalid_client",
                "error_description": format!("client_secret {CLIENT_SECRET} was not accepted"),
            }));
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": IDP_TOKEN, "token_type": "Bearer", "expires_in": 3600
        }))
    }
}

/// The STS: one 503, then tokens living three seconds.
struct Sts {
    seen: AtomicUsize,
}

impl Respond for Sts {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        if self.seen.fetch_add(1, Ordering::SeqCst) == 0 {
            return ResponseTemplate::new(503).set_body_json(json!({
                "errors": [{"status": "503", "detail": format!("cannot exchange {IDP_TOKEN}")}]
            }));
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": STS_TOKEN,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "token_type": "Bearer",
            "expires_in": 3
        }))
    }
}

#[tokio::test]
async fn oauth_secrets_never_show() {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let writer = SharedWriter(buffer.clone());
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the only subscriber of this test binary");

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/idp/token"))
        .respond_with(IdentityProvider {
            seen: AtomicUsize::new(0),
        })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/sts/v1/oauth2/token"))
        .respond_with(Sts {
            seen: AtomicUsize::new(0),
        })
        .mount(&server)
        .await;
    // The API: a 401 for its second request (a token the service ended early), else a list.
    let api_calls = Arc::new(AtomicUsize::new(0));
    let counter = api_calls.clone();
    Mock::given(path("/ccpm/v1/plugins"))
        .respond_with(move |_: &Request| {
            if counter.fetch_add(1, Ordering::SeqCst) == 1 {
                return ResponseTemplate::new(401).set_body_json(json!({
                    "errors": [{"status": "401", "code": "user_unauthenticated", "detail": "expired"}]
                }));
            }
            ResponseTemplate::new(200).set_body_json(json!({
                "api_version": "ccpm/v1", "kind": "CustomConnectPluginList",
                "metadata": {}, "data": []
            }))
        })
        .mount(&server)
        .await;

    let config = OAuthConfig::new(
        format!("{}/idp/token", server.uri()),
        "client-id-1",
        CLIENT_SECRET,
        "pool-1",
    );
    assert_hidden("OAuthConfig Debug", &format!("{config:?} {config:#?}"));
    let builder = ConfluentClient::builder()
        .base_url(server.uri())
        .oauth(config)
        .retry_policy(
            RetryPolicy::standard()
                .initial_backoff(Duration::from_millis(5))
                .max_backoff(Duration::from_millis(20)),
        );
    assert_hidden("builder Debug", &format!("{builder:?} {builder:#?}"));
    let client = builder.build().unwrap();
    let env = client.environment("env-1");

    // 1. The identity provider refuses, echoing the secret: the error masks it.
    let err = env.plugins().list().send().await.unwrap_err();
    assert_eq!(err.code(), Some("invalid_client"));
    assert_eq!(
        err.messages(),
        ["client_secret <redacted> was not accepted"]
    );
    let mut shown = format!("{err} {err:?} {err:#?}");
    let mut cause = std::error::Error::source(&err);
    while let Some(inner) = cause {
        shown.push_str(&format!(" {inner} {inner:?}"));
        cause = inner.source();
    }
    assert_hidden("IdP error", &shown);

    // 2. Tokens: the STS fails once (retried), then issues one.
    env.plugins().list().send().await.unwrap();
    assert_hidden("client Debug", &format!("{client:?} {client:#?}"));
    assert_hidden("environment Debug", &format!("{env:?}"));
    // 3. Refused by the API: discarded, fetched anew, sent again.
    let third = env.plugins().list().send().await.unwrap();
    assert_eq!(third.attempts(), 2);
    // 4. Expired: renewed.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    env.plugins().list().send().await.unwrap();

    // The requests did carry the secrets, so the checks below mean something.
    let requests = server.received_requests().await.unwrap();
    assert!(
        requests
            .iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains(CLIENT_SECRET))
    );
    assert!(requests.iter().any(|r| {
        r.headers
            .get("authorization")
            .is_some_and(|v| v.as_bytes().ends_with(STS_TOKEN.as_bytes()))
    }));

    let log = String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned();
    // The HTTP stack's events and the crate's token events were captured.
    assert!(
        log.contains("reqwest::") && log.contains("hyper_util::"),
        "no HTTP-level events were captured: {log}"
    );
    assert!(log.contains("obtained an access token"), "{log}");
    assert!(log.contains("getting an access token failed"), "{log}");
    assert!(log.contains("refused a cached access token"), "{log}");
    assert!(
        log.contains("operation=\"sts_token_exchange\"") && log.contains("status=503"),
        "the STS retry was logged: {log}"
    );
    assert_hidden("tracing output", &log);
}
