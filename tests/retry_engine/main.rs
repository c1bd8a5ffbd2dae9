//! The retry and rate-limit engine, driven directly with wiremock and small raw servers.

mod classification;
mod common;
mod gate;
mod properties;
mod server_waits;
mod transport;
