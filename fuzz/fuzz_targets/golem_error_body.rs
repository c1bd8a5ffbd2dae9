//! Any status and body through the Golem error decoder: no panic, the status kept, a one-line
//! `Display`.
#![no_main]

use cloud_plugin_sdk::Service;
use cloud_plugin_sdk_fuzz::check_error_response;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(err) = check_error_response(Service::Golem, data) {
        // Golem bodies have no per-entry details; those belong to Confluent's `Failure`.
        assert!(err.details().is_empty());
    }
});
