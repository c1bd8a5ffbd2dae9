//! Typed, reliable clients for two cloud plugin registries:
//!
//! - the **Golem Cloud** plugin API ([`GolemClient`]): list, register, get and delete plugins;
//! - the **Confluent Cloud** Custom Connect Plugin Management API, `ccpm/v1` ([`ConfluentClient`]):
//!   plugins, their versions and presigned upload URLs, scoped to an environment.
//!
//! Both clients share one [`Error`] type, credentials from the environment, retries that honour
//! the server's rate limits, and typed models that tolerate new fields and values.
//!
//! ```no_run
//! use cloud_plugin_sdk::GolemClient;
//!
//! # async fn run() -> cloud_plugin_sdk::Result<()> {
//! let golem = GolemClient::from_env()?;
//! let account: cloud_plugin_sdk::golem::AccountId = "3d07c219-0a88-45be-9cfc-91e9d095a1e9".parse()?;
//! for plugin in golem.account(account).plugins().list().await?.iter() {
//!     println!("{} {} ({})", plugin.name, plugin.version, plugin.id);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! ```no_run
//! use cloud_plugin_sdk::ConfluentClient;
//! use cloud_plugin_sdk::confluent::{Cloud, NewPlugin};
//!
//! # async fn run() -> cloud_plugin_sdk::Result<()> {
//! let confluent = ConfluentClient::from_env()?;
//! let plugins = confluent.environment("env-7q2m9p").plugins();
//! let created = plugins.create(&NewPlugin::new("Orders JDBC sink", Cloud::Aws)).await?;
//! for plugin in plugins.list().all().await? {
//!     println!("{} {}", plugin.id, plugin.spec.display_name);
//! }
//! plugins.delete_if_exists(&created.id).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Errors carry their category, status, machine code, messages and request id:
//!
//! ```no_run
//! use cloud_plugin_sdk::{ErrorKind, GolemClient};
//!
//! # async fn run(golem: GolemClient, id: cloud_plugin_sdk::golem::PluginId) {
//! match golem.plugins().get(id).await {
//!     Ok(plugin) => println!("found {}", plugin.name),
//!     Err(err) if err.kind() == ErrorKind::NotFound => println!("no such plugin"),
//!     Err(err) => eprintln!("failed: {err} (code {:?})", err.code()),
//! }
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub mod auth;
pub mod confluent;
pub mod error;
mod error_body;
pub mod golem;
#[cfg(feature = "mock")]
pub mod mock;
pub mod ratelimit;
mod response;
pub mod retry;
mod storage;
mod transport;

pub use auth::{Credentials, Secret};
pub use confluent::ConfluentClient;
pub use error::{ApiError, Cleanup, Error, ErrorDetail, ErrorKind, Result, Service, UploadStage};
pub use golem::GolemClient;
pub use ratelimit::RateLimit;
pub use response::Response;
pub use retry::RetryPolicy;
pub use storage::{Archive, MAX_ARCHIVE_BYTES};
