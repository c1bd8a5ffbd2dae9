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

/// The Confluent environment every plugin belongs to.
pub const CONFLUENT_ENV: &str = "env-7q2m9p";
/// The plugin the per-request benchmarks fetch.
pub const CONFLUENT_PLUGIN: &str = "ccp-4rw8yq";
/// Confluent's JSON media type.
pub const CONFLUENT_CONTENT_TYPE: &str = "application/json";
/// A Cloud API key and secret; the loopback servers do not check them.
pub const CONFLUENT_KEY: &str = "BENCHKEY0123456";
/// See [`CONFLUENT_KEY`].
pub const CONFLUENT_SECRET: &str = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz";

/// Where the loopback server answers as an OAuth identity provider.
pub const OAUTH_IDP_PATH: &str = "/idp/token";
/// Where the loopback server answers as Confluent's STS.
pub const OAUTH_STS_PATH: &str = "/sts/v1/oauth2/token";
/// The token the identity provider issues.
pub const OAUTH_IDP_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.idp-signature-0123456789";
/// The token the STS issues, valid for an hour: the benchmark runs on the cached token.
pub const OAUTH_STS_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwb29sLWJlbmNoIn0.sts-signature-0123456789";

/// A token answer (RFC 6749 §5.1) for `token`, valid for an hour.
pub fn token_answer(token: &str) -> Bytes {
    Bytes::from(
        serde_json::json!({
            "access_token": token,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "token_type": "Bearer",
            "expires_in": 3600
        })
        .to_string(),
    )
}

/// One Confluent custom connector plugin, shaped like the API's `CustomConnectPlugin`
/// (about 700 bytes).
pub fn confluent_plugin_value(id: &str) -> serde_json::Value {
    serde_json::json!({
        "api_version": "ccpm/v1",
        "kind": "CustomConnectPlugin",
        "id": id,
        "metadata": {
            "self": format!("https://api.confluent.cloud/ccpm/v1/plugins/{id}"),
            "resource_name": format!(
                "crn://confluent.cloud/organization=b0b21724-4586-4a07-b787-d0bb5aacbf87/environment={CONFLUENT_ENV}/custom-connect-plugin={id}"
            ),
            "created_at": "2026-05-01T12:00:00.000000Z",
            "updated_at": "2026-05-02T08:30:00.000000Z"
        },
        "spec": {
            "cloud": "AWS",
            "display_name": format!("Orders JDBC sink {id}"),
            "description": "Writes order events to the billing database",
            "runtime_language": "JAVA",
            "environment": {
                "id": CONFLUENT_ENV,
                "related": format!("https://api.confluent.cloud/v2/environments/{CONFLUENT_ENV}"),
                "resource_name": format!(
                    "crn://confluent.cloud/organization=b0b21724-4586-4a07-b787-d0bb5aacbf87/environment={CONFLUENT_ENV}"
                )
            }
        }
    })
}

/// [`confluent_plugin_value`] for [`CONFLUENT_PLUGIN`], serialized.
pub fn confluent_plugin() -> Bytes {
    Bytes::from(confluent_plugin_value(CONFLUENT_PLUGIN).to_string())
}

/// The headers Confluent sends with every success: a request id and the rate-limit state.
pub fn confluent_headers() -> Vec<(&'static str, String)> {
    vec![
        ("content-type", CONFLUENT_CONTENT_TYPE.to_string()),
        ("x-request-id", "2c1d9f0e8b7a4c3d".to_string()),
        ("x-ratelimit-limit", "5000".to_string()),
        ("x-ratelimit-remaining", "4999".to_string()),
        ("x-ratelimit-reset", "60".to_string()),
    ]
}

/// The pages of a plugin list: `items` plugins, `per_page` on each page, each page linking the
/// next one through `metadata.next` with an opaque `page_token`. Page `n` is served for token
/// `pt-n` (the first page for no token).
pub fn confluent_pages(base_url: &str, items: usize, per_page: usize) -> Vec<Bytes> {
    let pages = items.div_ceil(per_page).max(1);
    (0..pages)
        .map(|page| {
            let first = page * per_page;
            let data: Vec<_> = (first..items.min(first + per_page))
                .map(|i| confluent_plugin_value(&format!("ccp-{i:06}")))
                .collect();
            let list =
                format!("{base_url}/ccpm/v1/plugins?environment={CONFLUENT_ENV}&page_size=100");
            let mut metadata = serde_json::json!({
                "first": list,
                "total_size": items,
            });
            if page + 1 < pages {
                metadata["next"] = serde_json::json!(format!("{list}&page_token=pt-{}", page + 1));
            }
            if page > 0 {
                let prev = if page == 1 {
                    list.clone()
                } else {
                    format!("{list}&page_token=pt-{}", page - 1)
                };
                metadata["prev"] = serde_json::json!(prev);
            }
            Bytes::from(
                serde_json::json!({
                    "api_version": "ccpm/v1",
                    "kind": "CustomConnectPluginList",
                    "metadata": metadata,
                    "data": data,
                })
                .to_string(),
            )
        })
        .collect()
}
