#![doc = include_str!("../README.md")]
//!
//! ## Public dependencies
//!
//! Types of these crates appear in this crate's API, so that a new major version of one of them
//! is a new major version of this crate. Depend on the same major versions to name them.
//!
//! - `reqwest` 0.13: the builders' `http_client` takes a caller-built `reqwest::Client`
//!   (proxies, TLS roots, connection pools); errors and responses report a `reqwest::StatusCode`;
//!   [`ApiError::from_parts`] takes a `reqwest::header::HeaderMap`; [`retry::execute`] sends a
//!   `reqwest::Request` and returns a `reqwest::Response`.
//! - `uuid` 1: the Golem ids wrap a `uuid::Uuid` and convert from one (they also parse from text,
//!   without `uuid`).
//! - `chrono` 0.4: the timestamps of Confluent models are `chrono::DateTime<chrono::Utc>`.
//! - `serde` 1 and `serde_json` 1: every model serializes and deserializes; values the crate does
//!   not model (a presigned upload's form fields, an unknown Golem plugin spec) are JSON.
//! - `futures` 0.3: [`ListPlugins::stream`](confluent::ListPlugins::stream) returns a
//!   `futures::Stream` (use `futures::TryStreamExt` to walk it).
//! - `bytes` 1: [`Archive::from_bytes`](confluent::Archive::from_bytes) takes anything that
//!   converts into `bytes::Bytes`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
mod body;
pub mod confluent;
mod error;
mod error_body;
pub mod golem;
#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub mod mock;
mod oauth;
mod path_segment;
pub mod ratelimit;
mod response;
pub mod retry;
mod text;
mod transport;

pub use auth::{
    CONFLUENT_ACCESS_TOKEN_ENV, CONFLUENT_API_KEY_ENV, CONFLUENT_API_SECRET_ENV,
    CONFLUENT_BASE_URL_ENV, CONFLUENT_OAUTH_CLIENT_ID_ENV, CONFLUENT_OAUTH_CLIENT_SECRET_ENV,
    CONFLUENT_OAUTH_IDENTITY_POOL_ID_ENV, CONFLUENT_OAUTH_SCOPE_ENV, CONFLUENT_OAUTH_TOKEN_URL_ENV,
    Credentials, GOLEM_BASE_URL_ENV, GOLEM_TOKEN_ENV, Secret,
};
pub use body::DEFAULT_MAX_RESPONSE_BYTES;
pub use error::{
    ApiError, Cleanup, Error, ErrorDetail, ErrorKind, ErrorSource, MAX_ERROR_BODY_BYTES,
    OAuthError, Result, Service, TokenEndpoint, UploadStage,
};
pub use response::Response;
