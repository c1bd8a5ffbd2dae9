//! Which outcomes are retried, for which methods, and how often.

use crate::common::{client, fast_policy, request, request_count, run};
use cloud_plugin_sdk::retry::{GiveUp, RetryPolicy};
use reqwest::{Method, StatusCode};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A body `reqwest` cannot replay (`try_clone` gives `None`).
fn streaming_body() -> reqwest::Body {
    reqwest::Body::wrap(String::from("chunk"))
}

/// Mounts `first` once, then 200, for every method on /r.
async fn fails_once(first: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/r"))
        .respond_with(ResponseTemplate::new(first))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/r"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

async fn call(
    server: &MockServer,
    verb: Method,
    policy: &RetryPolicy,
) -> (StatusCode, cloud_plugin_sdk::retry::Attempts) {
    let http = client();
    let (result, attempts) = run(
        &http,
        policy,
        request(&http, verb, &format!("{}/r", server.uri())),
    )
    .await;
    (result.expect("response").status(), attempts)
}

#[tokio::test]
async fn get_is_retried_on_transient_statuses() {
    for status in [500, 502, 503, 504, 408] {
        let server = fails_once(status).await;
        let (final_status, attempts) = call(&server, Method::GET, &fast_policy()).await;
        assert_eq!(final_status, StatusCode::OK, "after {status}");
        assert_eq!(attempts.attempts, 2, "after {status}");
        assert_eq!(attempts.give_up, None);
        assert_eq!(request_count(&server).await, 2, "after {status}");
    }
}

#[tokio::test]
async fn get_retries_several_transient_statuses_in_a_row() {
    let server = MockServer::start().await;
    for status in [502, 503, 504] {
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(status))
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let (status, attempts) = call(&server, Method::GET, &fast_policy()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(attempts.attempts, 4);
    assert_eq!(request_count(&server).await, 4);
}

#[tokio::test]
async fn other_idempotent_methods_are_retried() {
    for verb in [Method::HEAD, Method::PUT, Method::DELETE, Method::OPTIONS] {
        let server = fails_once(502).await;
        let (status, attempts) = call(&server, verb.clone(), &fast_policy()).await;
        assert_eq!(status, StatusCode::OK, "{verb}");
        assert_eq!(attempts.attempts, 2, "{verb}");
    }
}

#[tokio::test]
async fn post_is_not_retried_on_server_errors() {
    for status in [500, 502, 503, 504, 408] {
        let server = fails_once(status).await;
        let (final_status, attempts) = call(&server, Method::POST, &fast_policy()).await;
        assert_eq!(final_status.as_u16(), status);
        assert_eq!(attempts.attempts, 1);
        assert_eq!(attempts.give_up, Some(GiveUp::NotRetryable));
        assert_eq!(request_count(&server).await, 1, "POST after {status}");
    }
}

#[tokio::test]
async fn post_with_retry_after_on_503_is_still_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "0"))
        .mount(&server)
        .await;
    let (status, attempts) = call(&server, Method::POST, &fast_policy()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(attempts.give_up, Some(GiveUp::NotRetryable));
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn patch_is_not_retried_on_500() {
    let server = fails_once(500).await;
    let (status, attempts) = call(&server, Method::PATCH, &fast_policy()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(attempts.attempts, 1);
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn post_and_patch_are_retried_on_429() {
    for verb in [Method::POST, Method::PATCH] {
        let server = fails_once(429).await;
        let http = client();
        let req = http
            .request(verb.clone(), format!("{}/r", server.uri()))
            .body(r#"{"name":"p"}"#)
            .build()
            .expect("request");
        let (result, attempts) = run(&http, &fast_policy(), req).await;
        assert_eq!(result.expect("response").status(), StatusCode::OK, "{verb}");
        assert_eq!(attempts.attempts, 2);
        let received = server.received_requests().await.expect("recording on");
        assert_eq!(received.len(), 2);
        // The replayed request carries the same body.
        assert_eq!(received[1].body, br#"{"name":"p"}"#);
    }
}

#[tokio::test]
async fn client_errors_and_501_are_not_retried() {
    for status in [400, 401, 403, 404, 409, 422, 501] {
        let server = fails_once(status).await;
        let (final_status, attempts) = call(&server, Method::GET, &fast_policy()).await;
        assert_eq!(final_status.as_u16(), status);
        assert_eq!(attempts.attempts, 1);
        assert_eq!(attempts.give_up, Some(GiveUp::NotRetryable));
    }
}

#[tokio::test]
async fn success_reports_no_give_up() {
    let server = fails_once(204).await;
    let (status, attempts) = call(&server, Method::DELETE, &fast_policy()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(attempts.attempts, 1);
    assert_eq!(attempts.give_up, None);
}

#[tokio::test]
async fn exhausted_retries_send_one_plus_max_retries() {
    for max_retries in [0, 1, 3] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&server)
            .await;
        let policy = fast_policy().max_retries(max_retries);
        let (status, attempts) = call(&server, Method::GET, &policy).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(attempts.attempts, 1 + max_retries);
        assert_eq!(attempts.give_up, Some(GiveUp::RetriesExhausted));
        assert_eq!(request_count(&server).await, 1 + max_retries as usize);
    }
}

#[tokio::test]
async fn policy_none_sends_exactly_once() {
    for status in [429, 503] {
        let server = fails_once(status).await;
        let (final_status, attempts) = call(&server, Method::GET, &RetryPolicy::none()).await;
        assert_eq!(final_status.as_u16(), status);
        assert_eq!(attempts.attempts, 1);
        assert_eq!(attempts.give_up, Some(GiveUp::RetriesExhausted));
        assert_eq!(request_count(&server).await, 1);
    }
}

#[tokio::test]
async fn streaming_body_is_sent_once() {
    let server = fails_once(429).await;
    let http = client();
    let req = http
        .post(format!("{}/r", server.uri()))
        .body(streaming_body())
        .build()
        .expect("request");
    assert!(req.try_clone().is_none());
    let (result, attempts) = run(&http, &fast_policy(), req).await;
    assert_eq!(
        result.expect("response").status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(attempts.attempts, 1);
    assert_eq!(attempts.give_up, Some(GiveUp::BodyNotCloneable));
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn streaming_body_that_succeeds_reports_nothing() {
    let server = fails_once(201).await;
    let http = client();
    let req = http
        .post(format!("{}/r", server.uri()))
        .body(streaming_body())
        .build()
        .expect("request");
    let (result, attempts) = run(&http, &fast_policy(), req).await;
    assert_eq!(result.expect("response").status(), StatusCode::CREATED);
    assert_eq!(attempts.give_up, None);
}
