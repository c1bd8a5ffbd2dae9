//! Any text through the Confluent paging-token extractor: no panic, the same answer twice.
//! Listed (commented out) in `fuzz/Cargo.toml` until the function exists.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    let token = cloud_plugin_sdk::confluent::next_page_token(data);
    assert_eq!(token, cloud_plugin_sdk::confluent::next_page_token(data));
});
