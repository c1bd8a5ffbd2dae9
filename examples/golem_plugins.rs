//! The whole plugin lifecycle against a Golem server: list, register, get, grant to an
//! environment, list its grants, read the grant, revoke it, delete the plugin.
//!
//! ```text
//! GOLEM_TOKEN=... GOLEM_ACCOUNT_ID=... [GOLEM_BASE_URL=...] \
//! GOLEM_COMPONENT_ID=... [GOLEM_COMPONENT_REVISION=0] [GOLEM_ENVIRONMENT_ID=...] \
//! cargo run --example golem_plugins
//! ```
//!
//! `GOLEM_COMPONENT_ID` names a deployed oplog-processor component; without it the example uses
//! the nil UUID, which a real server rejects with 400 and the embedded fake accepts only if told to.
//! The grant steps run when `GOLEM_ENVIRONMENT_ID` names an environment the token may edit.

use std::process::ExitCode;
use std::time::Instant;

use cloud_plugin_sdk::golem::{AccountId, EnvironmentId, GolemClient, NewPlugin, Plugin};

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
    let environment: Option<EnvironmentId> = std::env::var("GOLEM_ENVIRONMENT_ID")
        .ok()
        .map(|id| id.parse())
        .transpose()?;
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

    // Whatever fails below, the plugin is deleted again.
    let outcome = use_plugin(&golem, &created, environment).await;
    let deleted = golem.plugins().delete(created.id).await?;
    println!("delete: {} deleted", deleted.id);
    outcome
}

async fn use_plugin(
    golem: &GolemClient,
    plugin: &Plugin,
    environment: Option<EnvironmentId>,
) -> Result<(), Box<dyn std::error::Error>> {
    let fetched = golem.plugins().get(plugin.id).await?;
    println!("get: {} has spec {}", fetched.id, fetched.spec.type_name());

    let Some(environment) = environment else {
        println!("grant: skipped (set GOLEM_ENVIRONMENT_ID to grant the plugin to an environment)");
        return Ok(());
    };
    let grants = golem.environment(environment).plugin_grants();
    let started = Instant::now();
    let grant = grants.grant(plugin.id).await?;
    println!(
        "grant: {} granted to environment {} -> grant {} ({:?})",
        plugin.name,
        grant.environment_id,
        grant.id,
        started.elapsed()
    );
    // The grant is revoked before the plugin is deleted, whatever the steps between do.
    let outcome = async {
        let listed = grants.list().await?;
        println!(
            "list grants: {} grant(s) in the environment: {}",
            listed.len(),
            listed
                .iter()
                .map(|g| format!("{} {}", g.plugin.name, g.plugin.version))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !listed.iter().any(|g| g.id == grant.id) {
            return Err(
                format!("grant {} is missing from the environment's list", grant.id).into(),
            );
        }
        let read = grants.get(grant.id).await?;
        println!(
            "get grant: {} grants {} of account {}",
            read.id, read.plugin.name, read.plugin_account.name
        );
        if read.plugin.id != plugin.id {
            return Err(format!("grant {} names another plugin", grant.id).into());
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    }
    .await;
    let revoked = grants.revoke(grant.id).await?;
    println!("revoke: grant {} revoked ({})", grant.id, revoked.status());
    outcome
}
