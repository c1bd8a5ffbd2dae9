//! The fake Confluent Cloud Custom Connect Plugin Management API (ccpm/v1).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use uuid::Uuid;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::faults::{Faults, Injected};
use super::oauth::{BearerCheck, IDP_TOKEN_PATH, STS_TOKEN_PATH, TokenIssuer};
use super::reply::{
    CONFLUENT_JSON, Pairs, Reply, ceil_secs, encode_query, header, media_type, now_rfc3339,
    random_alnum, random_lower_alnum, random_upper_alnum, reason_phrase,
};
use super::storage::{Archive, Cloud, ContentFormat, STORAGE_PREFIX, Storage};

const API_VERSION: &str = "ccpm/v1";
const PLUGINS_PATH: &str = "/ccpm/v1/plugins";
const WWW_AUTHENTICATE: &str =
    "Basic error=\"invalid_key\", error_description=\"The API Key is invalid\"";
const WWW_AUTHENTICATE_EXPIRED: &str =
    "Bearer error=\"invalid_token\", error_description=\"The access token expired\"";
/// Length of the fake's rate-limit window.
const RATE_WINDOW: Duration = Duration::from_secs(60);
/// `error_message` is limited to 256 characters by the API.
const MAX_ERROR_MESSAGE: usize = 256;
const BAD_ARCHIVE_MESSAGE: &str = "The uploaded archive is not a valid ZIP or JAR file.";

/// An in-process fake of the Confluent Cloud ccpm/v1 API, including the cloud storage that
/// its presigned upload URLs point at.
///
/// All ten operations are served under `/ccpm/v1`: plugins (list with paging, create, get,
/// update, delete), versions (list, create, get, delete) and presigned upload URLs. Requests
/// authenticate with HTTP Basic ([`ConfluentFake::api_key`] and
/// [`ConfluentFake::api_secret`]), a bearer token ([`ConfluentFake::bearer_token`]), or a token
/// from the fake's STS.
///
/// The fake is also the OAuth identity provider and STS a client configured with
/// [`ConfluentFake::oauth_config`] talks to: the identity provider's client-credentials grant
/// at [`oauth_token_url`](ConfluentFake::oauth_token_url), and the token exchange at
/// `/sts/v1/oauth2/token`, which accepts the identity provider's live tokens for
/// [`identity_pool_id`](ConfluentFake::identity_pool_id). Tokens live for 15 minutes, or what
/// [`set_token_lifetime`](ConfluentFake::set_token_lifetime) says; the API refuses an expired
/// one with 401. [`token_requests`](ConfluentFake::token_requests) counts the requests each
/// endpoint received; [`idp_faults`](ConfluentFake::idp_faults) and
/// [`sts_faults`](ConfluentFake::sts_faults) make them misbehave.
///
/// Data is scoped per environment: any id matching `^env-[a-z0-9]+$` is a valid, initially
/// empty environment ([`ConfluentFake::environment`] is a ready-made one); ids that do not
/// match get 403. Plugins and versions are listed in creation order.
///
/// Presigned URLs point back at this server under `/_storage/{aws|gcp|azure}/{upload_id}`.
/// The storage accepts only what the real cloud accepts for that URL:
///
/// * AWS: `POST` `multipart/form-data` with every `upload_form_data` entry as a field, then
///   the archive as the last part, named `file`; answers 204.
/// * GCP: `PUT` of the raw archive with `Content-Type: application/zip` (ZIP) or
///   `application/java-archive` (JAR), the URL's query string unchanged; answers 200.
/// * AZURE: the same `PUT` plus `x-ms-blob-type: BlockBlob`; answers 201.
///
/// Any other request, or one with an `Authorization` header, gets the cloud's XML error.
///
/// A new version starts in phase `PROCESSING` and stays there for the first
/// [`set_processing_polls`](ConfluentFake::set_processing_polls) GETs of that version (default
/// 1); the next GET shows `READY`, or `FAILED` with `status.error_message` when
/// [`reject_next_archive`](ConfluentFake::reject_next_archive) was armed or the uploaded bytes
/// do not start with the ZIP magic `PK\x03\x04`. Listing versions shows the current phase
/// without advancing it.
///
/// Every API response carries a unique `X-Request-Id` and `X-RateLimit-Limit` (1000),
/// `X-RateLimit-Remaining` and `X-RateLimit-Reset` (relative seconds) for a 60-second window.
/// The fake never throttles on its own: `Remaining` stops at 0, and 429s come only from
/// [`Faults::rate_limit`].
///
/// ```
/// use std::time::Duration;
/// use cloud_plugin_sdk::confluent::Archive;
/// use cloud_plugin_sdk::confluent::{Cloud, ConfluentClient, ConnectorType, NewPlugin};
/// use cloud_plugin_sdk::mock::ConfluentFake;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let fake = ConfluentFake::start().await;
/// let client = ConfluentClient::builder()
///     .base_url(fake.url())
///     .api_key(fake.api_key(), fake.api_secret())
///     .build()?;
/// let env = client.environment(fake.environment());
/// let plugin = env.plugins().create(&NewPlugin::new("my-connector", Cloud::Aws)).await?;
/// fake.set_processing_polls(2);
/// let archive = Archive::from_bytes("connector.zip", b"PK\x03\x04 a tiny zip".to_vec())?;
/// let version = env
///     .plugin_versions(plugin.id.clone())
///     .upload("1.0.0", archive)
///     .connector_class("com.example.MySink", ConnectorType::Sink)
///     .poll_interval(Duration::from_millis(10))
///     .await?;
/// assert!(version.is_ready());
/// # Ok::<(), cloud_plugin_sdk::Error>(())
/// # }).unwrap();
/// ```
pub struct ConfluentFake {
    server: MockServer,
    shared: Arc<Shared>,
}

impl fmt::Debug for ConfluentFake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfluentFake")
            .field("url", &self.shared.base_url)
            .field("api_key", &self.shared.api_key)
            .field("api_secret", &"<redacted>")
            .field("bearer_token", &"<redacted>")
            .finish()
    }
}

impl ConfluentFake {
    /// Starts a fake on a random loopback port with no plugins.
    pub async fn start() -> ConfluentFake {
        let server = MockServer::start().await;
        let shared = Arc::new(Shared {
            base_url: server.uri(),
            api_key: random_upper_alnum(16),
            api_secret: random_alnum(64),
            bearer_token: format!("fake-sts-{}", random_alnum(48)),
            faults: Faults::new(),
            tokens: TokenIssuer::new(),
            state: Mutex::new(State {
                organization: Uuid::new_v4().to_string(),
                plugins: Vec::new(),
                versions: Vec::new(),
                storage: Storage::default(),
                reject_next: None,
                processing_polls: 1,
                window_start: Instant::now(),
                window_used: 0,
            }),
        });
        Mock::given(any())
            .respond_with(ConfluentResponder {
                shared: shared.clone(),
            })
            .mount(&server)
            .await;
        ConfluentFake { server, shared }
    }

    /// The base URL to point a client at, e.g. `http://127.0.0.1:40123` (no trailing slash).
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// An API key id accepted as the HTTP Basic user name.
    pub fn api_key(&self) -> &str {
        &self.shared.api_key
    }

    /// The secret that goes with [`ConfluentFake::api_key`] as the HTTP Basic password.
    pub fn api_secret(&self) -> &str {
        &self.shared.api_secret
    }

    /// A token accepted as `Authorization: Bearer <token>` instead of Basic credentials.
    pub fn bearer_token(&self) -> &str {
        &self.shared.bearer_token
    }

    /// The URL of the fake identity provider's token endpoint.
    pub fn oauth_token_url(&self) -> String {
        format!("{}{IDP_TOKEN_PATH}", self.shared.base_url)
    }

    /// The OAuth client id the fake identity provider accepts.
    pub fn oauth_client_id(&self) -> &str {
        &self.shared.tokens.client_id
    }

    /// The OAuth client secret that goes with [`oauth_client_id`](Self::oauth_client_id).
    pub fn oauth_client_secret(&self) -> &str {
        &self.shared.tokens.client_secret
    }

    /// The identity pool the fake STS exchanges tokens for.
    pub fn identity_pool_id(&self) -> &str {
        &self.shared.tokens.identity_pool_id
    }

    /// OAuth settings for a client of this fake: its identity provider, client and pool.
    pub fn oauth_config(&self) -> crate::confluent::OAuthConfig {
        crate::confluent::OAuthConfig::new(
            self.oauth_token_url(),
            self.oauth_client_id(),
            self.oauth_client_secret(),
            self.identity_pool_id(),
        )
    }

    /// Sets the lifetime of the tokens the identity provider and the STS issue from now on
    /// (default 15 minutes; `expires_in` is in whole seconds, so use at least one). The STS
    /// gives a shorter lifetime when the client asks for one.
    pub fn set_token_lifetime(&self, lifetime: std::time::Duration) {
        self.shared.tokens.set_lifetime(lifetime);
    }

    /// Makes every token issued so far invalid, as if its lifetime had ended: the STS refuses
    /// the identity provider's tokens, and the API answers calls bearing an STS token with 401.
    pub fn revoke_tokens(&self) {
        self.shared.tokens.revoke_all();
    }

    /// How many requests the identity provider and the STS received so far, in that order.
    pub fn token_requests(&self) -> (usize, usize) {
        self.shared.tokens.requests()
    }

    /// The fault switches of the identity provider's token endpoint.
    pub fn idp_faults(&self) -> &Faults {
        &self.shared.tokens.idp_faults
    }

    /// The fault switches of the STS token exchange.
    pub fn sts_faults(&self) -> &Faults {
        &self.shared.tokens.sts_faults
    }

    /// A suggested environment id, `env-fake01`. Any id matching `^env-[a-z0-9]+$` works as
    /// well; each environment has its own plugins and uploads.
    pub fn environment(&self) -> &str {
        "env-fake01"
    }

    /// The fault switches of this fake (they do not affect the storage endpoint).
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Makes the next created version end in phase `FAILED` with this `status.error_message`
    /// (cut to the API's 256 characters), whatever archive it refers to.
    pub fn reject_next_archive(&self, error_message: &str) {
        let message: String = error_message.chars().take(MAX_ERROR_MESSAGE).collect();
        self.shared.lock().reject_next = Some(message);
    }

    /// Sets how many GETs of a version created from now on report `PROCESSING` before the
    /// final phase shows (default 1; 0 means the first GET already shows it).
    pub fn set_processing_polls(&self, n: u32) {
        self.shared.lock().processing_polls = n;
    }

    /// Makes the next `n` storage uploads fail as an expired presigned URL does: 403 with
    /// S3's `AccessDenied` / "Request has expired", Azure's `AuthenticationFailed` or GCS's
    /// `ExpiredToken` XML body. A URL that failed this way stays expired, so the client has to
    /// ask for a new presigned URL, as it would against the real service.
    pub fn expire_next_upload_urls(&self, n: u32) {
        self.shared.lock().storage.expire_next = n;
    }

    /// How many HTTP requests the fake has received so far, API and storage together.
    pub async fn received_requests(&self) -> usize {
        self.server
            .received_requests()
            .await
            .map(|requests| requests.len())
            .unwrap_or(0)
    }

    /// The size in bytes of the archive stored for `upload_id`, or `None` while nothing has
    /// been uploaded successfully (or the id is unknown).
    pub fn uploaded_bytes(&self, upload_id: &str) -> Option<usize> {
        self.shared
            .lock()
            .storage
            .get(upload_id)
            .and_then(|u| u.archive)
            .map(|a| a.size)
    }
}

struct Shared {
    base_url: String,
    api_key: String,
    api_secret: String,
    bearer_token: String,
    faults: Faults,
    tokens: TokenIssuer,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct State {
    organization: String,
    plugins: Vec<Plugin>,
    versions: Vec<PluginVersion>,
    storage: Storage,
    reject_next: Option<String>,
    processing_polls: u32,
    window_start: Instant,
    window_used: u32,
}

impl State {
    /// Counts one API request against the rate-limit window; returns (remaining, reset secs).
    fn count_request(&mut self) -> (u32, u64) {
        let now = Instant::now();
        if now.duration_since(self.window_start) >= RATE_WINDOW {
            self.window_start = now;
            self.window_used = 0;
        }
        self.window_used = self.window_used.saturating_add(1);
        let remaining = super::RATE_LIMIT.saturating_sub(self.window_used);
        let elapsed = now.duration_since(self.window_start);
        (remaining, ceil_secs(RATE_WINDOW.saturating_sub(elapsed)))
    }

    fn plugin(&self, id: &str, env: &str) -> Result<&Plugin, Reply> {
        self.plugins
            .iter()
            .find(|p| p.id == id && p.environment == env)
            .ok_or_else(|| {
                not_found(&format!(
                    "Custom connect plugin {id} was not found in environment {env}."
                ))
            })
    }
}

#[derive(Debug, Clone)]
struct Plugin {
    id: String,
    environment: String,
    cloud: Cloud,
    display_name: String,
    description: String,
    created_at: String,
    updated_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Processing,
    Ready,
    Failed,
}

#[derive(Debug, Clone)]
struct PluginVersion {
    id: String,
    plugin_id: String,
    environment: String,
    version: String,
    content_format: ContentFormat,
    connector_classes: Vec<(String, String)>,
    sensitive_config_properties: Vec<String>,
    documentation_link: Option<String>,
    created_at: String,
    phase: Phase,
    polls_left: u32,
    /// The phase shown once processing is over: `None` for READY, the message for FAILED.
    outcome: Option<String>,
}

struct ConfluentResponder {
    shared: Arc<Shared>,
}

impl Respond for ConfluentResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let segments: Vec<&str> = request
            .url
            .path_segments()
            .map(|s| s.collect())
            .unwrap_or_default();
        if let [prefix, rest @ ..] = segments.as_slice()
            && *prefix == STORAGE_PREFIX
        {
            let mut state = self.shared.lock();
            let reply = match rest {
                [cloud, upload_id] => state.storage.handle(request, cloud, upload_id),
                _ => Reply::text(404, "no such storage object"),
            };
            return reply.into_template(None);
        }
        match request.url.path() {
            IDP_TOKEN_PATH => {
                let latency = self.shared.tokens.idp_faults.current_latency();
                return self.shared.tokens.grant(request).into_template(latency);
            }
            STS_TOKEN_PATH => {
                let latency = self.shared.tokens.sts_faults.current_latency();
                return self
                    .shared
                    .tokens
                    .exchange(request)
                    .header("x-request-id", random_lower_alnum(32))
                    .into_template(latency);
            }
            _ => {}
        }

        let (remaining, reset) = self.shared.lock().count_request();
        let reply = match self.shared.faults.take() {
            Some(Injected::RateLimited { retry_after_secs }) => Reply::empty(429)
                .header("retry-after", retry_after_secs.to_string())
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", retry_after_secs.to_string()),
            Some(Injected::Failure { status }) => injected_failure(status),
            None => self.api(request, &segments),
        };
        let reply = if reply.status() == 429 {
            reply
        } else {
            reply
                .header("x-ratelimit-remaining", remaining.to_string())
                .header("x-ratelimit-reset", reset.to_string())
        };
        reply
            .header("x-request-id", random_lower_alnum(32))
            .header("x-ratelimit-limit", super::RATE_LIMIT.to_string())
            .into_template(self.shared.faults.current_latency())
    }
}

impl ConfluentResponder {
    fn api(&self, request: &Request, segments: &[&str]) -> Reply {
        if let Err(reply) = self.authenticate(request) {
            return reply;
        }
        let method = request.method.as_str();
        let result = match segments {
            ["ccpm", "v1", "plugins"] => match method {
                "GET" => self.list_plugins(request),
                "POST" => self.create_plugin(request),
                _ => Err(method_not_allowed(method)),
            },
            ["ccpm", "v1", "plugins", id] => match method {
                "GET" => self.get_plugin(request, id),
                "PATCH" => self.update_plugin(request, id),
                "DELETE" => self.delete_plugin(request, id),
                _ => Err(method_not_allowed(method)),
            },
            ["ccpm", "v1", "plugins", plugin_id, "versions"] => match method {
                "GET" => self.list_versions(request, plugin_id),
                "POST" => self.create_version(request, plugin_id),
                _ => Err(method_not_allowed(method)),
            },
            ["ccpm", "v1", "plugins", plugin_id, "versions", id] => match method {
                "GET" => self.get_version(request, plugin_id, id),
                "DELETE" => self.delete_version(request, plugin_id, id),
                _ => Err(method_not_allowed(method)),
            },
            ["ccpm", "v1", "presigned-upload-url"] => match method {
                "POST" => self.create_presigned_url(request),
                _ => Err(method_not_allowed(method)),
            },
            _ => Err(not_found("The requested resource does not exist.")),
        };
        result.unwrap_or_else(|e| e)
    }

    fn authenticate(&self, request: &Request) -> Result<(), Reply> {
        let shared = &self.shared;
        let mut expired = false;
        let accepted = header(request, "authorization")
            .and_then(|value| value.trim().split_once(' '))
            .is_some_and(|(scheme, credentials)| {
                let credentials = credentials.trim();
                if scheme.eq_ignore_ascii_case("basic") {
                    STANDARD
                        .decode(credentials)
                        .ok()
                        .and_then(|raw| String::from_utf8(raw).ok())
                        .is_some_and(|pair| {
                            pair.split_once(':').is_some_and(|(key, secret)| {
                                key == shared.api_key && secret == shared.api_secret
                            })
                        })
                } else if scheme.eq_ignore_ascii_case("bearer") {
                    credentials == shared.bearer_token
                        || match shared.tokens.check_bearer(credentials) {
                            BearerCheck::Valid => true,
                            BearerCheck::Expired => {
                                expired = true;
                                false
                            }
                            BearerCheck::Unknown => false,
                        }
                } else {
                    false
                }
            });
        if accepted {
            Ok(())
        } else if expired {
            Err(failure(
                401,
                "user_unauthenticated",
                "Unauthenticated",
                "The access token has expired.",
                Source::None,
            )
            .header("www-authenticate", WWW_AUTHENTICATE_EXPIRED))
        } else {
            Err(failure(
                401,
                "user_unauthenticated",
                "Unauthenticated",
                "Valid API key credentials or an access token must be provided.",
                Source::None,
            )
            .header("www-authenticate", WWW_AUTHENTICATE))
        }
    }

    // ---- plugins ----

    fn list_plugins(&self, request: &Request) -> Result<Reply, Reply> {
        let query = Query::of(request);
        let env = query.environment()?;
        let page_size = match query.get("page_size") {
            None => 10,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| {
                    failure(
                        400,
                        "invalid_parameter",
                        "Invalid Parameter",
                        "page_size must be an integer from 1 to 100.",
                        Source::Parameter("page_size"),
                    )
                })?,
        };
        let offset = match query.get("page_token") {
            None => 0,
            Some(token) => decode_page_token(token).ok_or_else(|| {
                failure(
                    400,
                    "invalid_parameter",
                    "Invalid Parameter",
                    "page_token is not a token returned by this API.",
                    Source::Parameter("page_token"),
                )
            })?,
        };
        let cloud_filter = query.get("spec.cloud");

        let base = &self.shared.base_url;
        let state = self.shared.lock();
        let matching: Vec<&Plugin> = state
            .plugins
            .iter()
            .filter(|p| p.environment == env)
            .filter(|p| cloud_filter.is_none_or(|c| c == p.cloud.as_str()))
            .collect();
        let page: Vec<Value> = matching
            .iter()
            .skip(offset)
            .take(page_size)
            .map(|p| plugin_json(base, &state.organization, p))
            .collect();
        let mut first = format!(
            "{base}{PLUGINS_PATH}?environment={}&page_size={page_size}",
            encode_query(env)
        );
        if let Some(cloud) = cloud_filter {
            first.push_str(&format!("&spec.cloud={}", encode_query(cloud)));
        }
        let mut metadata = Map::new();
        metadata.insert("first".into(), json!(first));
        let next_offset = offset.saturating_add(page_size);
        if next_offset < matching.len() {
            let next = format!("{first}&page_token={}", encode_page_token(next_offset));
            metadata.insert("next".into(), json!(next));
        }
        metadata.insert("total_size".into(), json!(matching.len()));
        let body = json!({
            "api_version": API_VERSION,
            "kind": "CustomConnectPluginList",
            "metadata": metadata,
            "data": page,
        });
        Ok(Reply::json(200, &body, CONFLUENT_JSON))
    }

    fn create_plugin(&self, request: &Request) -> Result<Reply, Reply> {
        let body = json_body(request)?;
        require_object(&body, "/spec")?;
        let env = body_environment(&body, "/spec/environment/id")?;
        let display_name = required_str(&body, "/spec/display_name")?;
        check_display_name(display_name)?;
        let description = optional_str(&body, "/spec/description")?.unwrap_or_default();
        check_description(description)?;
        let cloud_raw = required_str(&body, "/spec/cloud")?;
        let cloud = Cloud::parse(cloud_raw).ok_or_else(|| {
            invalid_value("/spec/cloud", "cloud must be one of AWS, GCP or AZURE.")
        })?;

        let base = &self.shared.base_url;
        let mut state = self.shared.lock();
        if let Some(existing) = state
            .plugins
            .iter()
            .find(|p| p.environment == env && p.display_name == display_name)
        {
            return Err(conflict(
                &format!(
                    "A custom connect plugin named {display_name:?} already exists in environment {env}."
                ),
                plugin_url(base, existing),
            ));
        }
        let id = loop {
            let candidate = format!("ccp-{}", random_lower_alnum(6));
            if !state.plugins.iter().any(|p| p.id == candidate) {
                break candidate;
            }
        };
        let now = now_rfc3339();
        let plugin = Plugin {
            id,
            environment: env.to_owned(),
            cloud,
            display_name: display_name.to_owned(),
            description: description.to_owned(),
            created_at: now.clone(),
            updated_at: now,
        };
        let reply = Reply::json(
            202,
            &plugin_json(base, &state.organization, &plugin),
            CONFLUENT_JSON,
        )
        .header("location", plugin_url(base, &plugin));
        state.plugins.push(plugin);
        Ok(reply)
    }

    fn get_plugin(&self, request: &Request, id: &str) -> Result<Reply, Reply> {
        let query = Query::of(request);
        let env = query.environment()?;
        let state = self.shared.lock();
        let plugin = state.plugin(id, env)?;
        let body = plugin_json(&self.shared.base_url, &state.organization, plugin);
        Ok(Reply::json(200, &body, CONFLUENT_JSON))
    }

    fn update_plugin(&self, request: &Request, id: &str) -> Result<Reply, Reply> {
        let body = json_body(request)?;
        require_object(&body, "/spec")?;
        let env = body_environment(&body, "/spec/environment/id")?;
        let display_name = optional_str(&body, "/spec/display_name")?;
        if let Some(name) = display_name {
            check_display_name(name)?;
        }
        let description = optional_str(&body, "/spec/description")?;
        if let Some(description) = description {
            check_description(description)?;
        }
        let cloud = optional_str(&body, "/spec/cloud")?;

        let base = &self.shared.base_url;
        let mut state = self.shared.lock();
        let current = state.plugin(id, env)?.clone();
        if let Some(cloud) = cloud
            && Cloud::parse(cloud) != Some(current.cloud)
        {
            return Err(invalid_value(
                "/spec/cloud",
                "cloud cannot be changed after the plugin is created.",
            ));
        }
        if let Some(name) = display_name
            && let Some(other) = state
                .plugins
                .iter()
                .find(|p| p.environment == env && p.display_name == name && p.id != id)
        {
            return Err(conflict(
                &format!(
                    "A custom connect plugin named {name:?} already exists in environment {env}."
                ),
                plugin_url(base, other),
            ));
        }
        let organization = state.organization.clone();
        let plugin = state
            .plugins
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(|| not_found("The custom connect plugin was deleted meanwhile."))?;
        if let Some(name) = display_name {
            plugin.display_name = name.to_owned();
        }
        if let Some(description) = description {
            plugin.description = description.to_owned();
        }
        plugin.updated_at = now_rfc3339();
        let body = plugin_json(base, &organization, plugin);
        Ok(Reply::json(200, &body, CONFLUENT_JSON))
    }

    fn delete_plugin(&self, request: &Request, id: &str) -> Result<Reply, Reply> {
        let query = Query::of(request);
        let env = query.environment()?;
        let mut state = self.shared.lock();
        state.plugin(id, env)?;
        let versions = state.versions.iter().filter(|v| v.plugin_id == id).count();
        if versions > 0 {
            return Err(failure(
                409,
                "resource_in_use",
                "Conflict",
                &format!(
                    "Custom connect plugin {id} still has {versions} version(s); delete its versions before deleting the plugin."
                ),
                Source::None,
            ));
        }
        state.plugins.retain(|p| p.id != id);
        Ok(Reply::empty(204))
    }

    // ---- presigned upload URLs ----

    fn create_presigned_url(&self, request: &Request) -> Result<Reply, Reply> {
        let body = json_body(request)?;
        let env = body_environment(&body, "/environment/id")?;
        let format_raw = required_str(&body, "/content_format")?;
        let format = ContentFormat::parse(format_raw).ok_or_else(|| {
            invalid_value("/content_format", "content_format must be ZIP or JAR.")
        })?;
        let cloud_raw = required_str(&body, "/cloud")?;
        let cloud = Cloud::parse(cloud_raw)
            .ok_or_else(|| invalid_value("/cloud", "cloud must be one of AWS, GCP or AZURE."))?;

        let base = &self.shared.base_url;
        let mut state = self.shared.lock();
        let organization = state.organization.clone();
        let upload = state.storage.issue(base, &organization, env, cloud, format);
        let mut body = json!({
            "api_version": API_VERSION,
            "kind": "PresignedUrl",
            "content_format": format.as_str(),
            "cloud": cloud.as_str(),
            "upload_id": upload.id,
            "upload_url": upload.url,
            "environment": environment_json(base, &organization, env),
        });
        if cloud == Cloud::Aws {
            let form: Map<String, Value> = upload
                .form_data
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            body["upload_form_data"] = Value::Object(form);
        }
        let location = format!("{base}/ccpm/v1/presigned-upload-url/{}", upload.id);
        Ok(Reply::json(201, &body, CONFLUENT_JSON).header("location", location))
    }

    // ---- versions ----

    fn list_versions(&self, request: &Request, plugin_id: &str) -> Result<Reply, Reply> {
        let query = Query::of(request);
        let env = query.environment()?;
        let base = &self.shared.base_url;
        let state = self.shared.lock();
        state.plugin(plugin_id, env)?;
        let data: Vec<Value> = state
            .versions
            .iter()
            .filter(|v| v.plugin_id == plugin_id)
            .map(|v| version_json(base, &state.organization, v))
            .collect();
        let body = json!({
            "api_version": API_VERSION,
            "kind": "CustomConnectPluginVersionList",
            "metadata": {
                "first": format!(
                    "{base}{PLUGINS_PATH}/{plugin_id}/versions?environment={}",
                    encode_query(env)
                ),
                "total_size": data.len(),
            },
            "data": data,
        });
        Ok(Reply::json(200, &body, CONFLUENT_JSON))
    }

    fn create_version(&self, request: &Request, plugin_id: &str) -> Result<Reply, Reply> {
        let body = json_body(request)?;
        require_object(&body, "/spec")?;
        let env = body_environment(&body, "/spec/environment/id")?;

        let version = required_str(&body, "/spec/version")?;
        if version.chars().count() > 60 || !is_semver(version) {
            return Err(invalid_value(
                "/spec/version",
                "version must be a semantic version such as 1.2.3 or v1.2.3-rc.1 (at most 60 characters).",
            ));
        }

        let classes = body
            .pointer("/spec/connector_classes")
            .filter(|v| !v.is_null())
            .ok_or_else(|| missing("/spec/connector_classes"))?
            .as_array()
            .ok_or_else(|| wrong_type("/spec/connector_classes", "an array"))?;
        if classes.is_empty() || classes.len() > 10 {
            return Err(invalid_value(
                "/spec/connector_classes",
                "connector_classes must list from 1 to 10 classes.",
            ));
        }
        let mut connector_classes = Vec::with_capacity(classes.len());
        for index in 0..classes.len() {
            let class_pointer = format!("/spec/connector_classes/{index}/class_name");
            let type_pointer = format!("/spec/connector_classes/{index}/type");
            let class_name = required_str(&body, &class_pointer)?;
            if class_name.len() > 150 || !is_java_class_name(class_name) {
                return Err(invalid_value(
                    &class_pointer,
                    "class_name must be a Java class name of at most 150 characters.",
                ));
            }
            let kind = required_str(&body, &type_pointer)?;
            if kind != "SOURCE" && kind != "SINK" {
                return Err(invalid_value(&type_pointer, "type must be SOURCE or SINK."));
            }
            connector_classes.push((class_name.to_owned(), kind.to_owned()));
        }

        let mut sensitive_config_properties = Vec::new();
        if let Some(list) = body
            .pointer("/spec/sensitive_config_properties")
            .filter(|v| !v.is_null())
        {
            let list = list
                .as_array()
                .ok_or_else(|| wrong_type("/spec/sensitive_config_properties", "an array"))?;
            for index in 0..list.len() {
                let pointer = format!("/spec/sensitive_config_properties/{index}");
                let property = required_str(&body, &pointer)?;
                let valid = !property.is_empty()
                    && property.len() <= 150
                    && property.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'.' | b'-')
                    });
                if !valid {
                    return Err(invalid_value(
                        &pointer,
                        "sensitive config property names use letters, digits, _ + . - (at most 150 characters).",
                    ));
                }
                sensitive_config_properties.push(property.to_owned());
            }
        }

        let documentation_link = optional_str(&body, "/spec/documentation_link")?;
        if let Some(link) = documentation_link {
            let valid = link.is_empty()
                || ((link.starts_with("http://") && link.len() > 7)
                    || (link.starts_with("https://") && link.len() > 8));
            if !valid || link.chars().count() > 512 {
                return Err(invalid_value(
                    "/spec/documentation_link",
                    "documentation_link must be empty or an http(s) URL of at most 512 characters.",
                ));
            }
        }

        require_object(&body, "/spec/upload_source")?;
        let location = required_str(&body, "/spec/upload_source/location")?;
        if location != "PRESIGNED_URL_LOCATION" {
            return Err(failure(
                400,
                "invalid_value",
                "Invalid Value",
                "upload_source.location must be PRESIGNED_URL_LOCATION.",
                Source::Pointer("/spec/upload_source/location".to_owned()),
            ));
        }
        let upload_id = required_str(&body, "/spec/upload_source/upload_id")?;

        let base = &self.shared.base_url;
        let mut state = self.shared.lock();
        state.plugin(plugin_id, env)?;
        let (content_format, archive) = {
            let bad_upload = |detail: &str| {
                failure(
                    400,
                    "invalid_upload_source",
                    "Invalid Upload Source",
                    detail,
                    Source::Pointer("/spec/upload_source/upload_id".to_owned()),
                )
            };
            let upload = state
                .storage
                .get(upload_id)
                .filter(|u| u.environment == env)
                .ok_or_else(|| {
                    bad_upload(&format!(
                        "No presigned upload {upload_id:?} exists in environment {env}."
                    ))
                })?;
            let archive: Archive = upload.archive.ok_or_else(|| {
                bad_upload(&format!(
                    "The archive for upload {upload_id:?} has not been uploaded yet."
                ))
            })?;
            (upload.format, archive)
        };
        if let Some(existing) = state
            .versions
            .iter()
            .find(|v| v.plugin_id == plugin_id && v.version == version)
        {
            return Err(conflict(
                &format!("Version {version} of custom connect plugin {plugin_id} already exists."),
                version_url(base, existing),
            ));
        }
        let id = loop {
            let candidate = format!("ccp-ver-{}", random_lower_alnum(6));
            if !state.versions.iter().any(|v| v.id == candidate) {
                break candidate;
            }
        };
        let outcome = match state.reject_next.take() {
            Some(message) => Some(message),
            None if !archive.is_zip => Some(BAD_ARCHIVE_MESSAGE.to_owned()),
            None => None,
        };
        let created = PluginVersion {
            id,
            plugin_id: plugin_id.to_owned(),
            environment: env.to_owned(),
            version: version.to_owned(),
            content_format,
            connector_classes,
            sensitive_config_properties,
            documentation_link: documentation_link.map(str::to_owned),
            created_at: now_rfc3339(),
            phase: Phase::Processing,
            polls_left: state.processing_polls,
            outcome,
        };
        let reply = Reply::json(
            202,
            &version_json(base, &state.organization, &created),
            CONFLUENT_JSON,
        )
        .header("location", version_url(base, &created));
        state.versions.push(created);
        Ok(reply)
    }

    fn get_version(&self, request: &Request, plugin_id: &str, id: &str) -> Result<Reply, Reply> {
        let query = Query::of(request);
        let env = query.environment()?;
        let base = &self.shared.base_url;
        let mut state = self.shared.lock();
        state.plugin(plugin_id, env)?;
        let organization = state.organization.clone();
        let version = state
            .versions
            .iter_mut()
            .find(|v| v.id == id && v.plugin_id == plugin_id)
            .ok_or_else(|| version_not_found(plugin_id, id))?;
        if version.phase == Phase::Processing {
            if version.polls_left > 0 {
                version.polls_left -= 1;
            } else {
                version.phase = match version.outcome {
                    Some(_) => Phase::Failed,
                    None => Phase::Ready,
                };
            }
        }
        let body = version_json(base, &organization, version);
        Ok(Reply::json(200, &body, CONFLUENT_JSON))
    }

    fn delete_version(&self, request: &Request, plugin_id: &str, id: &str) -> Result<Reply, Reply> {
        let query = Query::of(request);
        let env = query.environment()?;
        let mut state = self.shared.lock();
        state.plugin(plugin_id, env)?;
        let index = state
            .versions
            .iter()
            .position(|v| v.id == id && v.plugin_id == plugin_id)
            .ok_or_else(|| version_not_found(plugin_id, id))?;
        state.versions.remove(index);
        Ok(Reply::empty(204))
    }
}

// ---- reading requests ----

/// The decoded query string of a request.
struct Query(Pairs);

impl Query {
    fn of(request: &Request) -> Self {
        Query(Pairs::parse(
            request.url.query().unwrap_or_default().as_bytes(),
        ))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }

    /// The required `environment` query parameter.
    fn environment(&self) -> Result<&str, Reply> {
        let env = self
            .get("environment")
            .filter(|e| !e.is_empty())
            .ok_or_else(|| {
                failure(
                    400,
                    "missing_parameter",
                    "Missing Parameter",
                    "The environment query parameter is required.",
                    Source::Parameter("environment"),
                )
            })?;
        check_environment(env)?;
        Ok(env)
    }
}

fn check_environment(env: &str) -> Result<(), Reply> {
    let valid = env.strip_prefix("env-").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    if valid {
        Ok(())
    } else {
        Err(failure(
            403,
            "user_unauthorized",
            "Forbidden",
            &format!(
                "Environment {env:?} does not exist or is not accessible with these credentials."
            ),
            Source::None,
        ))
    }
}

/// Parses the JSON body; a declared non-JSON media type is rejected.
fn json_body(request: &Request) -> Result<Value, Reply> {
    if let Some(content_type) = header(request, "content-type") {
        let media = media_type(content_type);
        if media != "application/json" {
            return Err(failure(
                415,
                "unsupported_media_type",
                "Unsupported Media Type",
                &format!("Request bodies must be application/json, not {media}."),
                Source::None,
            ));
        }
    }
    let body: Value = serde_json::from_slice(&request.body).map_err(|e| {
        failure(
            400,
            "malformed_request",
            "Malformed Request",
            &format!("The request body is not valid JSON: {e}"),
            Source::None,
        )
    })?;
    if body.is_object() {
        Ok(body)
    } else {
        Err(wrong_type("", "an object"))
    }
}

fn body_environment<'a>(body: &'a Value, pointer: &str) -> Result<&'a str, Reply> {
    let env = required_str(body, pointer)?;
    check_environment(env)?;
    Ok(env)
}

fn require_object(body: &Value, pointer: &str) -> Result<(), Reply> {
    match body.pointer(pointer) {
        None | Some(Value::Null) => Err(missing(pointer)),
        Some(Value::Object(_)) => Ok(()),
        Some(_) => Err(wrong_type(pointer, "an object")),
    }
}

fn required_str<'a>(body: &'a Value, pointer: &str) -> Result<&'a str, Reply> {
    optional_str(body, pointer)?.ok_or_else(|| missing(pointer))
}

fn optional_str<'a>(body: &'a Value, pointer: &str) -> Result<Option<&'a str>, Reply> {
    match body.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type(pointer, "a string")),
    }
}

fn check_display_name(name: &str) -> Result<(), Reply> {
    if name.trim().is_empty() || name.chars().count() > 60 {
        Err(invalid_value(
            "/spec/display_name",
            "display_name must be 1 to 60 characters long.",
        ))
    } else {
        Ok(())
    }
}

fn check_description(description: &str) -> Result<(), Reply> {
    if description.chars().count() > 256 {
        Err(invalid_value(
            "/spec/description",
            "description must be at most 256 characters long.",
        ))
    } else {
        Ok(())
    }
}

/// SemVer 2.0 with an optional leading `v`.
fn is_semver(version: &str) -> bool {
    let version = version.strip_prefix('v').unwrap_or(version);
    let (rest, build) = match version.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (version, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let numeric = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    };
    let ident =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let core: Vec<&str> = core.split('.').collect();
    core.len() == 3
        && core.iter().all(|part| numeric(part))
        && pre.is_none_or(|pre| {
            pre.split('.')
                .all(|id| ident(id) && (!id.bytes().all(|b| b.is_ascii_digit()) || numeric(id)))
        })
        && build.is_none_or(|build| build.split('.').all(ident))
}

/// Dot-separated identifiers, each a letter followed by letters, digits, `_` or `$`.
fn is_java_class_name(name: &str) -> bool {
    name.split('.').all(|segment| {
        let mut bytes = segment.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
    })
}

fn encode_page_token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn decode_page_token(token: &str) -> Option<usize> {
    if token.len() > 255 {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    let text = String::from_utf8(raw).ok()?;
    text.strip_prefix("offset:")?.parse().ok()
}

// ---- building responses ----

/// Where in the request an error points.
enum Source {
    None,
    Pointer(String),
    Parameter(&'static str),
}

/// A `Failure` body with one error.
fn failure(status: u16, code: &str, title: &str, detail: &str, source: Source) -> Reply {
    let mut error = json!({
        "id": Uuid::new_v4().to_string(),
        "status": status.to_string(),
        "code": code,
        "title": title,
        "detail": detail,
    });
    match source {
        Source::None => {}
        Source::Pointer(pointer) => error["source"] = json!({ "pointer": pointer }),
        Source::Parameter(parameter) => error["source"] = json!({ "parameter": parameter }),
    }
    Reply::json(status, &json!({ "errors": [error] }), CONFLUENT_JSON)
}

fn missing(pointer: &str) -> Reply {
    let field = pointer.rsplit('/').next().unwrap_or(pointer);
    failure(
        400,
        "missing_field",
        "Missing Field",
        &format!("{field} is required."),
        Source::Pointer(pointer.to_owned()),
    )
}

fn wrong_type(pointer: &str, expected: &str) -> Reply {
    let field = if pointer.is_empty() {
        "the request body"
    } else {
        pointer.rsplit('/').next().unwrap_or(pointer)
    };
    failure(
        400,
        "invalid_type",
        "Invalid Type",
        &format!("{field} must be {expected}."),
        Source::Pointer(pointer.to_owned()),
    )
}

fn invalid_value(pointer: &str, detail: &str) -> Reply {
    failure(
        422,
        "invalid_value",
        "Invalid Value",
        detail,
        Source::Pointer(pointer.to_owned()),
    )
}

fn not_found(detail: &str) -> Reply {
    failure(404, "not_found", "Not Found", detail, Source::None)
}

fn version_not_found(plugin_id: &str, id: &str) -> Reply {
    not_found(&format!(
        "Version {id} of custom connect plugin {plugin_id} was not found."
    ))
}

fn method_not_allowed(method: &str) -> Reply {
    failure(
        405,
        "method_not_allowed",
        "Method Not Allowed",
        &format!("{method} is not supported on this resource."),
        Source::None,
    )
}

fn conflict(detail: &str, location: String) -> Reply {
    failure(
        409,
        "resource_already_exists",
        "Conflict",
        detail,
        Source::None,
    )
    .header("location", location)
}

/// The response to an injected failure.
fn injected_failure(status: u16) -> Reply {
    let (code, detail) = match status {
        400 => ("bad_request", "The request was rejected."),
        401 => (
            "user_unauthenticated",
            "Valid API key credentials or an access token must be provided.",
        ),
        403 => ("user_unauthorized", "The credentials do not grant access."),
        404 => ("not_found", "The requested resource does not exist."),
        409 => ("conflict", "The request conflicts with the current state."),
        s if s >= 500 => (
            "internal_server_error",
            "Something went wrong on the server.",
        ),
        _ => ("error", "The request failed."),
    };
    let reply = failure(status, code, reason_phrase(status), detail, Source::None);
    if status == 401 {
        reply.header("www-authenticate", WWW_AUTHENTICATE)
    } else {
        reply
    }
}

fn plugin_url(base: &str, plugin: &Plugin) -> String {
    format!(
        "{base}{PLUGINS_PATH}/{}?environment={}",
        plugin.id,
        encode_query(&plugin.environment)
    )
}

fn version_url(base: &str, version: &PluginVersion) -> String {
    format!(
        "{base}{PLUGINS_PATH}/{}/versions/{}?environment={}",
        version.plugin_id,
        version.id,
        encode_query(&version.environment)
    )
}

/// An `EnvScopedObjectReference` to an environment.
fn environment_json(base: &str, organization: &str, env: &str) -> Value {
    json!({
        "id": env,
        "related": format!("{base}/org/v2/environments/{env}"),
        "resource_name": format!("crn://confluent.cloud/organization={organization}/environment={env}"),
    })
}

fn plugin_json(base: &str, organization: &str, plugin: &Plugin) -> Value {
    let env = &plugin.environment;
    json!({
        "api_version": API_VERSION,
        "kind": "CustomConnectPlugin",
        "id": plugin.id,
        "metadata": {
            "self": plugin_url(base, plugin),
            "resource_name": format!(
                "crn://confluent.cloud/organization={organization}/environment={env}/custom-connect-plugin={}",
                plugin.id
            ),
            "created_at": plugin.created_at,
            "updated_at": plugin.updated_at,
        },
        "spec": {
            "cloud": plugin.cloud.as_str(),
            "display_name": plugin.display_name,
            "description": plugin.description,
            "runtime_language": "JAVA",
            "environment": environment_json(base, organization, env),
        },
    })
}

fn version_json(base: &str, organization: &str, version: &PluginVersion) -> Value {
    let env = &version.environment;
    let classes: Vec<Value> = version
        .connector_classes
        .iter()
        .map(|(class_name, kind)| json!({ "class_name": class_name, "type": kind }))
        .collect();
    let mut spec = json!({
        "version": version.version,
        "sensitive_config_properties": version.sensitive_config_properties,
        "content_format": version.content_format.as_str(),
        "connector_classes": classes,
        // The API never echoes the upload id back.
        "upload_source": { "location": "PRESIGNED_URL_LOCATION", "upload_id": "" },
        "environment": environment_json(base, organization, env),
    });
    if let Some(link) = &version.documentation_link {
        spec["documentation_link"] = json!(link);
    }
    let status = match version.phase {
        Phase::Processing => json!({ "phase": "PROCESSING" }),
        Phase::Ready => json!({ "phase": "READY" }),
        Phase::Failed => json!({
            "phase": "FAILED",
            "error_message": version.outcome.as_deref().unwrap_or(BAD_ARCHIVE_MESSAGE),
        }),
    };
    json!({
        "api_version": API_VERSION,
        "kind": "CustomConnectPluginVersion",
        "id": version.id,
        "metadata": {
            "self": version_url(base, version),
            "resource_name": format!(
                "crn://confluent.cloud/organization={organization}/environment={env}/custom-connect-plugin={}/custom-connect-plugin-version={}",
                version.plugin_id, version.id
            ),
            "created_at": version.created_at,
            "updated_at": version.created_at,
        },
        "spec": spec,
        "status": status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_rules() {
        for ok in [
            "1.2.3",
            "v1.2.3",
            "0.0.0",
            "1.2.3-beta",
            "1.2.3-rc.123+build.456",
            "10.20.30-0.a-b",
        ] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in [
            "",
            "v",
            "1.2",
            "1.2.3.4",
            "01.2.3",
            "1.2.3-",
            "1.2.3-01",
            "1.2.3+",
            "x.y.z",
            "1.2.3-a..b",
            "vv1.2.3",
        ] {
            assert!(!is_semver(bad), "{bad}");
        }
    }

    #[test]
    fn java_class_names() {
        assert!(is_java_class_name("io.example.MySink"));
        assert!(is_java_class_name("Sink$Inner_2"));
        assert!(!is_java_class_name(""));
        assert!(!is_java_class_name("io..Sink"));
        assert!(!is_java_class_name("io.1Sink"));
        assert!(!is_java_class_name(".Sink"));
    }

    #[test]
    fn page_tokens_round_trip_and_reject_junk() {
        assert_eq!(decode_page_token(&encode_page_token(30)), Some(30));
        assert_eq!(decode_page_token("not a token"), None);
        assert_eq!(
            decode_page_token(&URL_SAFE_NO_PAD.encode("offset:-1")),
            None
        );
        assert_eq!(decode_page_token(&"A".repeat(300)), None);
    }

    #[test]
    fn environment_ids() {
        assert!(check_environment("env-abc123").is_ok());
        for bad in ["env-", "env-ABC", "abc", "env-a_b", "env-a b"] {
            let reply = check_environment(bad).err();
            assert_eq!(reply.map(|r| r.status()), Some(403), "{bad}");
        }
    }

    #[test]
    fn failure_body_shape() {
        let reply = failure(
            400,
            "x",
            "X",
            "detail",
            Source::Pointer("/spec/display_name".into()),
        );
        let body: Value = serde_json::from_slice(reply.body()).unwrap_or_default();
        assert_eq!(body["errors"][0]["status"], "400");
        assert_eq!(body["errors"][0]["source"]["pointer"], "/spec/display_name");
    }
}
