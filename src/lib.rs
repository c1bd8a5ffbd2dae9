#![doc = include_str!("../README.md")]
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
pub mod ratelimit;
mod response;
pub mod retry;
mod text;
mod transport;

pub use auth::{
    CONFLUENT_ACCESS_TOKEN_ENV, CONFLUENT_API_KEY_ENV, CONFLUENT_API_SECRET_ENV,
    CONFLUENT_BASE_URL_ENV, Credentials, GOLEM_BASE_URL_ENV, GOLEM_TOKEN_ENV, Secret,
};
pub use body::DEFAULT_MAX_RESPONSE_BYTES;
pub use error::{
    ApiError, Cleanup, Error, ErrorDetail, ErrorKind, ErrorSource, MAX_ERROR_BODY_BYTES, Result,
    Service, UploadStage,
};
pub use response::Response;
