//! How to test your own code against the embedded fakes instead of the cloud.
//!
//! ```text
//! cargo run --example testing_with_fakes --features mock
//! ```
//!
//! The function under test, `register_once`, is ordinary application code that takes a
//! `GolemClient`. In a test you start a `GolemFake`, point a client at it, and assert on what your
//! code did, including how it behaves when the service rate-limits it. The same pattern works with
//! `ConfluentFake` and `ConfluentClient`. In a real project these would be `#[tokio::test]`s.

use std::time::{Duration, Instant};

use cloud_plugin_sdk::golem::{AccountId, GolemClient, NewPlugin, Plugin};
use cloud_plugin_sdk::mock::GolemFake;

/// Application code: registers the plugin unless the account already has that name and version.
async fn register_once(
    golem: &GolemClient,
    account: AccountId,
    component: uuid::Uuid,
) -> cloud_plugin_sdk::Result<(Plugin, bool)> {
    let plugin = NewPlugin::oplog_processor("audit-log", "1.0.0", component, 1)
        .description("keeps an audit trail of every agent");
    golem.account(account).plugins().ensure(&plugin).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // One line starts a fake on a random loopback port.
    let fake = GolemFake::start().await;
    let golem = GolemClient::builder()
        .base_url(fake.url())
        .token(fake.token())
        .build()?;
    let account = AccountId::from(fake.account_id());
    let component = uuid::Uuid::new_v4();

    // 1. The first run registers, the second finds the existing plugin.
    let (first, registered) = register_once(&golem, account, component).await?;
    assert!(registered);
    let (second, registered_again) = register_once(&golem, account, component).await?;
    assert!(!registered_again);
    assert_eq!(first.id, second.id);
    println!("register_once is idempotent: {}", first.id);

    // 2. Under a rate limit the client retries within the wait the server names (Retry-After: 1
    //    is an upper bound; the gate probes once at the pace the limit implies) and succeeds.
    fake.faults().rate_limit(1, Duration::from_secs(1));
    let started = Instant::now();
    let (third, _) = register_once(&golem, account, component).await?;
    assert_eq!(third.id, first.id);
    println!(
        "after a 429 with Retry-After: 1 the call still succeeded in {:.1?}",
        started.elapsed()
    );

    // 3. A failure the SDK must not hide reaches the caller: a create is never resent after a
    //    503, because the server may have processed it.
    golem.plugins().delete(first.id).await?;
    fake.faults().fail_next(1, 503);
    let plugin = NewPlugin::oplog_processor("audit-log", "1.0.0", component, 1);
    let err = golem
        .account(account)
        .plugins()
        .create(&plugin)
        .await
        .expect_err("the injected 503 is reported");
    assert_eq!(err.attempts(), 1);
    assert!(err.status().is_some_and(|s| s.as_u16() == 503));
    println!("a 503 on create is reported after one attempt: {err}");
    // ...while a read is retried through the same kind of failure.
    fake.faults().fail_next(2, 503);
    let listed = golem.account(account).plugins().list().await?;
    println!(
        "a list succeeded through two 503s in {} attempts",
        listed.attempts()
    );
    println!(
        "{} requests reached the fake",
        fake.received_requests().await
    );
    Ok(())
}
