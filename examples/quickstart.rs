//! The whole lifecycle of both APIs in one run.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! With no credentials in the environment it starts the embedded fake servers and talks to them,
//! so it works on any machine, offline. With credentials it talks to the real services instead:
//!
//! - Golem: `GOLEM_TOKEN`, `GOLEM_ACCOUNT_ID` and `GOLEM_COMPONENT_ID` (a deployed
//!   oplog-processor component), optional `GOLEM_COMPONENT_REVISION` and `GOLEM_BASE_URL`.
//!   The grant step runs when `GOLEM_ENVIRONMENT_ID` names an environment to grant the plugin to.
//! - Confluent: `CONFLUENT_CLOUD_API_KEY`, `CONFLUENT_CLOUD_API_SECRET` and
//!   `CONFLUENT_ENVIRONMENT`, optional `CONFLUENT_BASE_URL`. Against the real service the upload
//!   step runs only when `CONFLUENT_PLUGIN_ARCHIVE` names a real connector archive.
//!
//! Everything the quickstart creates, it deletes again.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use cloud_plugin_sdk::confluent::{
    Cloud, ConfluentClient, ConnectorType, Environment, NewPlugin as NewConfluentPlugin,
    UploadEvent,
};
use cloud_plugin_sdk::golem::{AccountId, EnvironmentId, GolemClient, NewPlugin};
use cloud_plugin_sdk::mock::{ConfluentFake, GolemFake};
use cloud_plugin_sdk::{Error, confluent::Archive};
use futures::TryStreamExt;
use indicatif::{ProgressBar, ProgressStyle};

type BoxError = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    // The Golem fake stays up until the end, so that each fake has a port of its own.
    let mut golem_fake = None;
    let golem = golem_lifecycle(&mut golem_fake).await;
    println!();
    let confluent = confluent_lifecycle().await;
    let mut failed = false;
    for (api, outcome) in [("Golem", golem), ("Confluent", confluent)] {
        if let Err(err) = outcome {
            failed = true;
            eprintln!("{api} failed: {err}");
            let mut cause = err.source();
            while let Some(inner) = cause {
                eprintln!("  caused by: {inner}");
                cause = inner.source();
            }
        }
    }
    println!("\ndone in {:.2?}", started.elapsed());
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn ms(since: Instant) -> String {
    format!("{:.0?}", since.elapsed())
}

// ---------------------------------------------------------------------------------------------
// Golem

async fn golem_lifecycle(fake_slot: &mut Option<GolemFake>) -> Result<(), BoxError> {
    let (golem, account, component, revision, environment) =
        match (var("GOLEM_TOKEN"), var("GOLEM_ACCOUNT_ID")) {
            (Some(_), Some(account)) => {
                let golem = GolemClient::from_env()?;
                let component = var("GOLEM_COMPONENT_ID")
                    .ok_or("GOLEM_COMPONENT_ID must name a deployed oplog-processor component")?;
                let revision = var("GOLEM_COMPONENT_REVISION")
                    .map(|r| r.parse())
                    .transpose()?
                    .unwrap_or(0);
                let environment = var("GOLEM_ENVIRONMENT_ID")
                    .map(|id| id.parse::<EnvironmentId>())
                    .transpose()?;
                println!("Golem: talking to {}", golem.base_url());
                (
                    golem,
                    account.parse::<AccountId>()?,
                    uuid::Uuid::parse_str(&component)?,
                    revision,
                    environment,
                )
            }
            _ => {
                let fake = GolemFake::start().await;
                println!(
                    "Golem: talking to the EMBEDDED FAKE at {} (to use Golem Cloud, set \
                     GOLEM_TOKEN, GOLEM_ACCOUNT_ID and GOLEM_COMPONENT_ID; optionally \
                     GOLEM_COMPONENT_REVISION, GOLEM_ENVIRONMENT_ID and GOLEM_BASE_URL)",
                    fake.url()
                );
                let golem = GolemClient::builder()
                    .base_url(fake.url())
                    .token(fake.token())
                    .build()?;
                let account = AccountId::from(fake.account_id());
                let environment = EnvironmentId::from(fake.environment_id());
                *fake_slot = Some(fake);
                (golem, account, uuid::Uuid::new_v4(), 1, Some(environment))
            }
        };
    let plugins = golem.account(account).plugins();

    let name = format!(
        "quickstart-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let t = Instant::now();
    let created = plugins
        .create(
            &NewPlugin::oplog_processor(&name, "1.0.0", component, revision)
                .description("registered by the cloud-plugin-sdk quickstart")
                .homepage("https://example.com/quickstart")
                .icon(b"\x89PNG\r\n\x1a\n"),
        )
        .await?;
    println!(
        "  register  {} {} -> {} ({})",
        created.name,
        created.version,
        created.id,
        ms(t)
    );

    let outcome = async {
        let t = Instant::now();
        let listed = plugins.list().await?;
        println!(
            "  list      {} plugin(s) in the account ({})",
            listed.len(),
            ms(t)
        );
        let t = Instant::now();
        let fetched = golem.plugins().get(created.id).await?;
        println!(
            "  get       {} is an {} plugin ({})",
            fetched.id,
            fetched.spec.type_name(),
            ms(t)
        );
        let t = Instant::now();
        let found = plugins.find(&name, "1.0.0").await?.map(|p| p.id);
        println!(
            "  find      {name} 1.0.0 -> {} ({})",
            found.map(|id| id.to_string()).unwrap_or("-".into()),
            ms(t)
        );
        let Some(environment) = environment else {
            println!("  grant     skipped (set GOLEM_ENVIRONMENT_ID to grant the plugin)");
            return Ok(());
        };
        // A grant makes the plugin usable in the environment; agent types install it by grant id.
        let grants = golem.environment(environment).plugin_grants();
        let t = Instant::now();
        let (grant, created) = grants.ensure_grant(created.id).await?;
        println!(
            "  grant     {} to environment {} -> grant {} ({}, {})",
            name,
            grant.environment_id,
            grant.id,
            if created {
                "granted"
            } else {
                "already granted"
            },
            ms(t)
        );
        let outcome = async {
            let t = Instant::now();
            let listed = grants.list().await?;
            println!(
                "  grants    {} grant(s) in the environment ({})",
                listed.len(),
                ms(t)
            );
            Ok::<_, Error>(())
        }
        .await;
        let t = Instant::now();
        let revoked = grants.revoke_if_exists(grant.id).await?;
        println!(
            "  revoke    {} ({})",
            if revoked { "revoked" } else { "already gone" },
            ms(t)
        );
        outcome
    }
    .await;
    let t = Instant::now();
    let deleted = golem.plugins().delete_if_exists(created.id).await?;
    println!(
        "  delete    {} ({})",
        if deleted { "deleted" } else { "already gone" },
        ms(t)
    );
    Ok(outcome?)
}

// ---------------------------------------------------------------------------------------------
// Confluent

async fn confluent_lifecycle() -> Result<(), BoxError> {
    let mut fake = None;
    let (client, env_id) = match (
        var("CONFLUENT_CLOUD_API_KEY"),
        var("CONFLUENT_CLOUD_API_SECRET"),
        var("CONFLUENT_ENVIRONMENT"),
    ) {
        (Some(_), Some(_), Some(env)) => {
            let client = ConfluentClient::from_env()?;
            println!(
                "Confluent: talking to {}, environment {env}",
                client.base_url()
            );
            (client, env)
        }
        _ => {
            let started = ConfluentFake::start().await;
            println!(
                "Confluent: talking to the EMBEDDED FAKE at {} (to use Confluent Cloud, set \
                 CONFLUENT_CLOUD_API_KEY, CONFLUENT_CLOUD_API_SECRET and CONFLUENT_ENVIRONMENT; \
                 optionally CONFLUENT_PLUGIN_ARCHIVE, a connector archive to publish, and \
                 CONFLUENT_BASE_URL)",
                started.url()
            );
            let client = ConfluentClient::builder()
                .base_url(started.url())
                .api_key(started.api_key(), started.api_secret())
                .build()?;
            let env = started.environment().to_string();
            fake = Some(started);
            (client, env)
        }
    };
    let env = client.environment(env_id);
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();

    let t = Instant::now();
    let plugin = env
        .plugins()
        .create(
            &NewConfluentPlugin::new(format!("quickstart-{suffix}"), Cloud::Aws)
                .description("created by the cloud-plugin-sdk quickstart"),
        )
        .await?;
    println!(
        "  create    {} in {} -> {} (request id {}, {})",
        plugin.spec.display_name,
        plugin.spec.cloud,
        plugin.id,
        plugin.request_id().unwrap_or("-"),
        ms(t)
    );
    let mut created = vec![plugin.id.clone()];

    let outcome = async {
        let archive = match (&fake, var("CONFLUENT_PLUGIN_ARCHIVE")) {
            (_, Some(path)) => Some(Archive::from_path(path).await?),
            (Some(_), None) => Some(Archive::from_bytes("quickstart-connector.zip", demo_zip(256 * 1024))?),
            (None, None) => {
                println!("  upload    skipped (set CONFLUENT_PLUGIN_ARCHIVE to publish a real connector archive)");
                None
            }
        };
        if let Some(archive) = archive {
            publish(&env, &plugin.id, archive).await?;
        }

        // Paging: the fake gets a few more plugins so the listing spans several pages.
        if fake.is_some() {
            for i in 0..11 {
                let extra = env
                    .plugins()
                    .create(&NewConfluentPlugin::new(format!("quickstart-{suffix}-{i:02}"), Cloud::Gcp))
                    .await?;
                created.push(extra.id.clone());
            }
        }
        let t = Instant::now();
        let mut pages = env.plugins().list().page_size(5).pages();
        let (mut page_count, mut item_count) = (0, 0);
        while let Some(page) = pages.try_next().await? {
            page_count += 1;
            item_count += page.data.len();
        }
        println!("  list      {item_count} plugin(s) in {page_count} page(s) of at most 5 ({})", ms(t));
        let found = env.plugins().find_by_name(&plugin.spec.display_name).await?;
        println!("  find      {} -> {}", plugin.spec.display_name, found.map(|p| p.id.to_string()).unwrap_or("-".into()));
        Ok::<_, BoxError>(())
    }
    .await;

    // Clean up: versions first, then the plugins.
    let t = Instant::now();
    let mut versions_deleted = 0;
    let versions = env.plugin_versions(plugin.id.clone());
    for version in versions.list().await?.iter() {
        versions_deleted += usize::from(versions.delete_if_exists(version.id.clone()).await?);
    }
    for id in &created {
        env.plugins().delete_if_exists(id).await?;
    }
    println!(
        "  clean up  {versions_deleted} version(s) and {} plugin(s) deleted ({})",
        created.len(),
        ms(t)
    );
    outcome
}

async fn publish(
    env: &Environment,
    plugin: &cloud_plugin_sdk::confluent::PluginId,
    archive: Archive,
) -> Result<(), BoxError> {
    let bytes = archive.len();
    let bar = ProgressBar::new(bytes);
    bar.set_style(
        ProgressStyle::with_template("  upload    [{bar:30}] {bytes}/{total_bytes} {msg}")?
            .progress_chars("=> "),
    );
    let progress = bar.clone();
    let t = Instant::now();
    let version = env
        .plugin_versions(plugin.clone())
        .upload("1.0.0", archive)
        .connector_class("com.example.QuickstartSinkConnector", ConnectorType::Sink)
        .poll_interval(Duration::from_millis(200))
        .wait_until_ready(Duration::from_secs(300))
        .on_progress(move |event| match event {
            UploadEvent::Uploading { sent, .. } => progress.set_position(sent),
            UploadEvent::Uploaded { .. } => progress.set_message("uploaded"),
            UploadEvent::VersionCreated { phase, .. } => progress.set_message(format!("{phase}")),
            UploadEvent::PhaseChanged { phase, .. } => progress.set_message(format!("{phase}")),
            _ => {}
        })
        .await;
    bar.finish();
    let version = version?;
    println!(
        "  upload    {} bytes sent to the plugin's cloud storage, version {} {} is {} ({})",
        bytes,
        version.spec.version,
        version.id,
        version.status.phase,
        ms(t)
    );
    Ok(())
}

/// A valid ZIP archive with one stored file of about `size` bytes.
fn demo_zip(size: usize) -> Vec<u8> {
    let name = b"quickstart/README.txt";
    let data: Vec<u8> = b"cloud-plugin-sdk quickstart connector archive\n"
        .iter()
        .copied()
        .cycle()
        .take(size)
        .collect();
    let crc = crc32(&data);
    let len = data.len() as u32;
    let mut zip = Vec::with_capacity(size + 128);
    // Local file header, stored (no compression).
    zip.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    zip.extend_from_slice(&crc.to_le_bytes());
    zip.extend_from_slice(&len.to_le_bytes());
    zip.extend_from_slice(&len.to_le_bytes());
    zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip.extend_from_slice(name);
    zip.extend_from_slice(&data);
    let central = zip.len() as u32;
    // Central directory entry.
    zip.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    zip.extend_from_slice(&crc.to_le_bytes());
    zip.extend_from_slice(&len.to_le_bytes());
    zip.extend_from_slice(&len.to_le_bytes());
    zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
    zip.extend_from_slice(&[0; 12]);
    zip.extend_from_slice(&0u32.to_le_bytes());
    zip.extend_from_slice(name);
    let central_len = zip.len() as u32 - central;
    // End of central directory.
    zip.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    zip.extend_from_slice(&central_len.to_le_bytes());
    zip.extend_from_slice(&central.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
