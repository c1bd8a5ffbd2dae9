//! Response bodies the loopback servers send, built once before measuring.

use bytes::Bytes;

/// The account every Golem plugin belongs to.
pub const GOLEM_ACCOUNT: &str = "3d07c219-0a88-45be-9cfc-91e9d095a1e9";
/// The plugin the per-request benchmarks fetch.
pub const GOLEM_PLUGIN: &str = "497f6eca-6276-4993-bfeb-53cbbbba6f08";
/// Golem's JSON media type.
pub const GOLEM_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// One Golem plugin record, shaped like the API's `PluginRegistrationDto` (about 450 bytes).
pub fn golem_plugin() -> Bytes {
    Bytes::from(
        serde_json::json!({
            "id": GOLEM_PLUGIN,
            "accountId": GOLEM_ACCOUNT,
            "name": "audit-log",
            "version": "1.4.2",
            "description": "Copies every oplog entry of the component to the audit store",
            "icon": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
            "homepage": "https://example.com/plugins/audit-log",
            "spec": {
                "type": "OplogProcessor",
                "componentId": "616ccd92-d666-4180-8349-8d125b269fac",
                "componentRevision": 3
            }
        })
        .to_string(),
    )
}
