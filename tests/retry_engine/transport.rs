//! Transport failures: a refused connection is safe to retry for any method; a timeout or a
//! dropped connection is retried only for idempotent methods.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::common::{
    RawBehavior, assert_count_reaches, client, client_with_timeout, fast_policy, raw_server,
    refused_address, request, run,
};
use cloud_plugin_sdk::retry::GiveUp;
use reqwest::Method;

#[tokio::test]
async fn refused_connection_is_retried_even_for_post() {
    let address = refused_address().await;
    let http = client();
    for verb in [Method::POST, Method::PATCH, Method::GET] {
        let req = http
            .request(verb.clone(), format!("http://{address}/plugins"))
            .body("{}")
            .build()
            .expect("request");
        let (result, attempts) = run(&http, &fast_policy().max_retries(2), req).await;
        let error = result.expect_err("nothing listens");
        assert!(error.is_connect(), "{verb}: {error:?}");
        assert_eq!(attempts.attempts, 3, "{verb}");
        assert_eq!(attempts.give_up, Some(GiveUp::RetriesExhausted));
    }
}

#[tokio::test]
async fn timeout_is_retried_for_get_only() {
    let (address, seen) = raw_server(RawBehavior::SlowResponse(Duration::from_millis(400))).await;
    let http = client_with_timeout(Duration::from_millis(100));
    let url = format!("http://{address}/slow");

    let started = Instant::now();
    let (result, attempts) = run(
        &http,
        &fast_policy().max_retries(2),
        request(&http, Method::GET, &url),
    )
    .await;
    assert!(result.expect_err("times out").is_timeout());
    assert_eq!(attempts.attempts, 3);
    assert_eq!(attempts.give_up, Some(GiveUp::RetriesExhausted));
    // Three attempts cut off at 100 ms, not answers of 400 ms waited for (with room for a
    // loaded machine).
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_count_reaches(&seen, 3).await;

    seen.store(0, Ordering::SeqCst);
    let post = http.post(&url).body("{}").build().expect("request");
    let (result, attempts) = run(&http, &fast_policy().max_retries(2), post).await;
    assert!(result.expect_err("times out").is_timeout());
    assert_eq!(attempts.attempts, 1);
    assert_eq!(attempts.give_up, Some(GiveUp::NotRetryable));
    assert_count_reaches(&seen, 1).await;
}

#[tokio::test]
async fn dropped_connection_is_retried_for_get_only() {
    let (address, seen) = raw_server(RawBehavior::CloseWithoutResponse).await;
    let http = client();
    let url = format!("http://{address}/drop");

    let (result, attempts) = run(
        &http,
        &fast_policy().max_retries(2),
        request(&http, Method::GET, &url),
    )
    .await;
    let error = result.expect_err("no response");
    assert!(!error.is_connect(), "{error:?}");
    assert_eq!(attempts.attempts, 3);
    assert_eq!(seen.load(Ordering::SeqCst), 3);

    seen.store(0, Ordering::SeqCst);
    let post = http.post(&url).body("{}").build().expect("request");
    let (result, attempts) = run(&http, &fast_policy().max_retries(2), post).await;
    assert!(result.is_err());
    assert_eq!(attempts.attempts, 1);
    assert_eq!(attempts.give_up, Some(GiveUp::NotRetryable));
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}
