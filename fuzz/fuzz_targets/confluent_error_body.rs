//! Any status and body through the Confluent error decoder: no panic, the status kept, a
//! one-line `Display`, no more messages than `Failure` entries.
#![no_main]

use cloud_plugin_sdk::Service;
use cloud_plugin_sdk_fuzz::check_error_response;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(err) = check_error_response(Service::Confluent, data) {
        if err.details().is_empty() {
            // The newer `{error: {...}}` shape and plain text give at most one message.
            assert!(err.messages().len() <= 1, "{:?}", err.messages());
        } else {
            // Every message of a `Failure` body comes from one of its entries.
            assert!(err.messages().len() <= err.details().len());
            assert!(err.raw_body().is_none());
        }
    }
});
