//! The plugin lifecycle against Confluent Cloud (or a compatible server): create, get, update,
//! list, publish a version idempotently, list versions, and delete the plugin with its versions.
//!
//! ```text
//! CONFLUENT_CLOUD_API_KEY=... CONFLUENT_CLOUD_API_SECRET=... CONFLUENT_ENVIRONMENT=env-... \
//! [CONFLUENT_BASE_URL=...] [CONFLUENT_CLOUD=AWS] cargo run --example confluent_plugins
//! ```
//!
//! OAuth through an identity pool may replace the API key (`CONFLUENT_CLOUD_OAUTH_EXTERNAL_TOKEN_URL`,
//! `..._CLIENT_ID`, `..._CLIENT_SECRET`, optional `..._TOKEN_SCOPE`, and
//! `CONFLUENT_CLOUD_OAUTH_IDENTITY_POOL_ID`), and so may `CONFLUENT_CLOUD_ACCESS_TOKEN`. The
//! example creates a plugin with a unique name and deletes it with its versions at the end (also
//! when a step in between fails).
//!
//! When `CONFLUENT_PLUGIN_ARCHIVE` names a `.zip` or `.jar` file, the example also publishes it as
//! version 1.0.0, showing a progress bar and the final phase, then publishes it again: the second
//! call finds the version READY and uploads nothing. `CONFLUENT_CONNECTOR_CLASS` (default
//! `com.example.ExampleSinkConnector`) and `CONFLUENT_CONNECTOR_TYPE` (`SINK` or `SOURCE`, default
//! `SINK`) describe its connector.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use cloud_plugin_sdk::confluent::{
    Cloud, ConnectorType, Environment, NewPlugin, PluginId, PluginUpdate, UploadEvent,
};
use cloud_plugin_sdk::{confluent::Archive, confluent::ConfluentClient};
use indicatif::{ProgressBar, ProgressStyle};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            let mut cause = err.source();
            while let Some(inner) = cause {
                eprintln!("  caused by: {inner}");
                cause = inner.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn var(name: &str) -> Result<String, Box<dyn std::error::Error>> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let confluent = ConfluentClient::from_env()?;
    let env = confluent.environment(var("CONFLUENT_ENVIRONMENT")?);
    let cloud: Cloud = match std::env::var("CONFLUENT_CLOUD") {
        Ok(cloud) => cloud.parse()?,
        Err(_) => Cloud::Aws,
    };
    println!(
        "Confluent at {}, environment {}",
        confluent.base_url(),
        env.id()
    );

    let name = format!("sdk-example-{}", uuid::Uuid::new_v4().simple());
    let started = Instant::now();
    let created = env
        .plugins()
        .create(
            &NewPlugin::new(&name, cloud).description("created by the cloud-plugin-sdk example"),
        )
        .await?;
    println!(
        "create: {} in {} -> {} (status {}, {:?})",
        created.spec.display_name,
        created.spec.cloud,
        created.id,
        created.status(),
        started.elapsed()
    );
    let id = created.id.clone();

    let outcome = exercise(&env, &id, &name).await;
    // Versions must go before their plugin: this deletes them all, then the plugin.
    let started = Instant::now();
    let deleted = env.plugins().delete_with_versions(&id).await;
    match &deleted {
        Ok(report) => println!(
            "delete: {} version(s) deleted, {} already gone; plugin {id} {} ({:?})",
            report.deleted_versions.len(),
            report.vanished_versions.len(),
            if report.plugin_deleted {
                "deleted"
            } else {
                "was already gone"
            },
            started.elapsed()
        ),
        Err(err) => eprintln!("delete: {id} failed: {err}"),
    }
    outcome?;
    deleted?;
    Ok(())
}

/// Publishes an archive as version 1.0.0 with a progress bar, then publishes it again.
async fn publish(
    env: &Environment,
    id: &PluginId,
    path: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let archive = Archive::from_path(path).await?;
    let class = std::env::var("CONFLUENT_CONNECTOR_CLASS")
        .unwrap_or_else(|_| "com.example.ExampleSinkConnector".into());
    let connector_type: ConnectorType = std::env::var("CONFLUENT_CONNECTOR_TYPE")
        .unwrap_or_else(|_| "SINK".into())
        .parse()?;
    let bar = ProgressBar::new(archive.len());
    bar.set_style(
        ProgressStyle::with_template("upload: [{bar:30}] {bytes}/{total_bytes} {msg}")?
            .progress_chars("=> "),
    );
    let progress = bar.clone();
    let started = Instant::now();
    let published = env
        .plugin_versions(id)
        .upload("1.0.0", archive.clone())
        .connector_class(class.clone(), connector_type.clone())
        .wait_until_ready(Duration::from_secs(600))
        .on_progress(move |event| match event {
            UploadEvent::Uploading { sent, .. } => progress.set_position(sent),
            UploadEvent::Uploaded { .. } => progress.set_message("uploaded"),
            UploadEvent::VersionCreated { id, phase, .. } => {
                progress.set_message(format!("version {id}: {phase}"))
            }
            UploadEvent::PhaseChanged { phase, .. } => progress.set_message(format!("{phase}")),
            UploadEvent::UrlExpired => progress.set_message("URL expired, asking for a new one"),
            UploadEvent::ExistingVersion { id, phase, .. } => {
                progress.set_message(format!("found version {id}: {phase}"))
            }
            UploadEvent::FailedVersionDeleted { id, .. } => {
                progress.set_message(format!("deleted FAILED version {id}"))
            }
            _ => {}
        })
        .ensure()
        .await;
    bar.finish();
    let published = published?;
    let version = &published.version;
    println!(
        "publish: version {} ({}) is {} after {:?} (uploaded: {})",
        version.spec.version,
        version.id,
        version.status.phase,
        started.elapsed(),
        published.uploaded
    );

    // Publishing is the call a pipeline repeats: the second time the version is READY already.
    let started = Instant::now();
    let again = env
        .plugin_versions(id)
        .upload("1.0.0", archive)
        .connector_class(class, connector_type)
        .ensure()
        .await?;
    if again.uploaded {
        return Err("publish again: the archive was uploaded a second time".into());
    }
    println!(
        "publish again: version {} ({}) was already {}; nothing uploaded ({:?})",
        again.version.spec.version,
        again.version.id,
        again.version.status.phase,
        started.elapsed()
    );
    Ok(())
}

async fn exercise(
    env: &Environment,
    id: &PluginId,
    name: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let fetched = env.plugins().get(id).await?;
    println!(
        "get: {} is {:?} (runtime {}, request id {})",
        fetched.id,
        fetched.spec.display_name,
        fetched.spec.runtime_language.as_deref().unwrap_or("?"),
        fetched.request_id().unwrap_or("-")
    );

    let updated = env
        .plugins()
        .update(
            id,
            &PluginUpdate::new().description("updated by the cloud-plugin-sdk example"),
        )
        .await?;
    println!(
        "update: description is now {:?}",
        updated.spec.description.as_deref().unwrap_or("")
    );

    let started = Instant::now();
    let all = env.plugins().list().page_size(100).all().await?;
    println!(
        "list: {} plugin(s) in the environment ({:?})",
        all.len(),
        started.elapsed()
    );
    match env.plugins().find_by_name(name).await? {
        Some(found) => println!("find_by_name: {name} -> {}", found.id),
        None => return Err(format!("find_by_name: {name} is not listed").into()),
    }

    if let Ok(path) = std::env::var("CONFLUENT_PLUGIN_ARCHIVE") {
        publish(env, id, &path).await?;
    }

    let versions = env.plugin_versions(id).list().await?;
    println!("versions: {} version(s)", versions.len());
    for version in versions.iter() {
        println!(
            "  {} {} {}",
            version.id, version.spec.version, version.status.phase
        );
    }
    Ok(())
}
