//! The whole plugin lifecycle against a Golem server: list, register, get, delete.
//!
//! ```text
//! GOLEM_TOKEN=... GOLEM_ACCOUNT_ID=... [GOLEM_BASE_URL=...] \
//! GOLEM_COMPONENT_ID=... [GOLEM_COMPONENT_REVISION=0] cargo run --example golem_plugins
//! ```
//!
//! `GOLEM_COMPONENT_ID` names a deployed oplog-processor component; without it the example uses
//! the nil UUID, which a real server rejects with 400 and the embedded fake accepts only if told to.

use std::process::ExitCode;
use std::time::Instant;

use cloud_plugin_sdk::golem::GolemClient;
use cloud_plugin_sdk::golem::{AccountId, NewPlugin};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn var(name: &str) -> Result<String, Box<dyn std::error::Error>> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let golem = GolemClient::from_env()?;
    let account: AccountId = var("GOLEM_ACCOUNT_ID")?.parse()?;
    let component = match std::env::var("GOLEM_COMPONENT_ID") {
        Ok(id) => uuid::Uuid::parse_str(&id)?,
        Err(_) => uuid::Uuid::nil(),
    };
    let revision = std::env::var("GOLEM_COMPONENT_REVISION")
        .ok()
        .map(|r| r.parse())
        .transpose()?
        .unwrap_or(0);
    println!("Golem at {}", golem.base_url());
    let plugins = golem.account(account).plugins();

    let started = Instant::now();
    let existing = plugins.list().await?;
    println!(
        "list: {} plugin(s) ({:?})",
        existing.len(),
        started.elapsed()
    );

    let name = format!("sdk-example-{}", uuid::Uuid::new_v4().simple());
    let new = NewPlugin::oplog_processor(&name, "1.0.0", component, revision)
        .description("registered by the cloud-plugin-sdk example")
        .homepage("https://example.com")
        .icon(b"\x89PNG\r\n\x1a\n");
    let started = Instant::now();
    let created = plugins.create(&new).await?;
    println!(
        "register: {} {} -> {} ({:?})",
        created.name,
        created.version,
        created.id,
        started.elapsed()
    );

    let fetched = golem.plugins().get(created.id).await?;
    println!("get: {} has spec {}", fetched.id, fetched.spec.type_name());

    let deleted = golem.plugins().delete(created.id).await?;
    println!("delete: {} deleted", deleted.id);
    Ok(())
}
