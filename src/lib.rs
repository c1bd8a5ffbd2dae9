#![doc = include_str!("../README.md")]
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
