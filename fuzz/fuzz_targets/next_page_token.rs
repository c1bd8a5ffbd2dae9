//! Any text through the Confluent paging-token extractor: no panic, a stable answer, never an
//! empty token, and a token only from a link that names `page_token` (after the URL standard's
//! removal of ASCII tabs and newlines, which URL parsers apply to any input).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    let token = cloud_plugin_sdk::confluent::next_page_token(data);
    assert_eq!(token, cloud_plugin_sdk::confluent::next_page_token(data));
    if let Some(token) = &token {
        assert!(!token.is_empty());
        let cleaned: String = data.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
        assert!(cleaned.contains("page_token"));
        // A link built from the token yields the token again.
        let rebuilt = format!(
            "https://api.example/ccpm/v1/plugins?page_token={}",
            url_encode(token)
        );
        assert_eq!(
            cloud_plugin_sdk::confluent::next_page_token(&rebuilt).as_deref(),
            Some(token.as_str())
        );
    }
});

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
