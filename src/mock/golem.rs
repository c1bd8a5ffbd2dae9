//! The fake Golem plugin registry.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::faults::{Faults, Injected};
use super::reply::{self, GOLEM_JSON, Reply, header, media_type, random_alnum};

/// The name the fake gives its account in grant details.
const ACCOUNT_NAME: &str = "Fake Account";
/// The email the fake gives its account in grant details.
const ACCOUNT_EMAIL: &str = "fake-account@example.com";

/// An in-process fake of the Golem Cloud plugin registry API.
///
/// It serves the plugin, plugin-grant and agent plugin-activation operations on a loopback
/// port:
///
/// | Method | Path |
/// |---|---|
/// | `GET`, `POST` | `/v1/accounts/{account_id}/plugins` |
/// | `GET`, `DELETE` | `/v1/plugins/{plugin_id}` |
/// | `GET`, `POST` | `/v1/envs/{environment_id}/plugins` |
/// | `GET`, `DELETE` | `/v1/environment-plugins/{environment_plugin_grant_id}` |
/// | `POST` | `/v1/components/{component_id}/workers/{agent_name}/activate-plugin` |
/// | `POST` | `/v1/components/{component_id}/workers/{agent_name}/deactivate-plugin` |
///
/// Requests must carry `Authorization: Bearer <token>` (or the `GOLEM_SESSION` cookie) with
/// [`GolemFake::token`]. The fake behaves like the real service, including its non-JSON
/// errors: a missing or malformed token gets a plain-text 401 `authorization error`, a path
/// id that is not a UUID a plain-text 400, a body that cannot be parsed a plain-text 400
/// `parse request payload error: ...`, and a body that is not JSON a plain-text 415. A
/// well-formed but unknown token gets a JSON 401 with code `AUTH_UNAUTHORIZED`.
///
/// Registering a plugin whose `spec.componentId` is the nil UUID answers the documented
/// 400 `ErrorsBody` with code `OPLOG_PROCESSOR_COMPONENT_NOT_FOUND`; any other component id
/// is accepted. Plugins are listed in registration order.
///
/// Grants follow the real service's rules, with its error bodies:
/// - the fake knows one environment, [`GolemFake::environment_id`], and those added with
///   [`GolemFake::add_environment`]; any other environment answers 404 `ENVIRONMENT_NOT_FOUND`;
/// - granting a plugin that does not exist or is deleted answers 400 `ErrorsBody` with code
///   `REFERENCED_PLUGIN_NOT_FOUND` (the real service's answer; it does not use 404 for this);
/// - a second grant of the same plugin to the same environment answers 409
///   `ENVIRONMENT_PLUGIN_GRANT_ALREADY_EXISTS`;
/// - an unknown or revoked grant answers 404 `RESOURCE_NOT_FOUND`; revoking answers 204;
/// - deleting a plugin that has grants succeeds, as on the real service, where deleting is a
///   soft delete: the grants stop being listed and read (404), like the plugin itself.
///
/// Grants are listed in the order they were made. Activating or deactivating a plugin accepts
/// any component id and agent name, needs the `plugin-priority` query parameter (an `int32`,
/// else a plain-text 400), answers `{}`, and is recorded for
/// [`GolemFake::plugin_activation`].
///
/// ```
/// use cloud_plugin_sdk::golem::{GolemClient, NewPlugin};
/// use cloud_plugin_sdk::mock::GolemFake;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let fake = GolemFake::start().await;
/// let client = GolemClient::builder()
///     .base_url(fake.url())
///     .token(fake.token())
///     .build()?;
/// let component = uuid::Uuid::new_v4();
/// let plugins = client.account(fake.account_id()).plugins();
/// let plugin = plugins
///     .create(&NewPlugin::oplog_processor("audit", "1.0.0", component, 1))
///     .await?;
/// assert_eq!(plugins.list().await?.len(), 1);
/// let grants = client.environment(fake.environment_id()).plugin_grants();
/// let grant = grants.grant(plugin.id).await?;
/// assert_eq!(grants.list().await?[0].id, grant.id);
/// assert_eq!(fake.received_requests().await, 4);
/// # Ok::<(), cloud_plugin_sdk::Error>(())
/// # }).unwrap();
/// ```
pub struct GolemFake {
    server: MockServer,
    token: String,
    account_id: Uuid,
    environment_id: Uuid,
    faults: Faults,
    state: Arc<Mutex<Registry>>,
}

impl fmt::Debug for GolemFake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GolemFake")
            .field("url", &self.server.uri())
            .field("account_id", &self.account_id)
            .field("environment_id", &self.environment_id)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl GolemFake {
    /// Starts a fake on a random loopback port with an empty registry and one environment.
    pub async fn start() -> GolemFake {
        let token = format!("golem-fake-{}", random_alnum(32));
        let account_id = Uuid::new_v4();
        let environment_id = Uuid::new_v4();
        let faults = Faults::new();
        let state = Arc::new(Mutex::new(Registry {
            environments: vec![environment_id],
            ..Registry::default()
        }));
        let responder = GolemResponder {
            token: token.clone(),
            account_id,
            faults: faults.clone(),
            state: state.clone(),
        };
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(responder)
            .mount(&server)
            .await;
        GolemFake {
            server,
            token,
            account_id,
            environment_id,
            faults,
            state,
        }
    }

    /// The base URL to point a client at, e.g. `http://127.0.0.1:40123` (no trailing slash).
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// A bearer token the fake accepts (at least 16 characters of `[A-Za-z0-9_-]`).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The id of the account that [`GolemFake::token`] belongs to. Any other account id in a
    /// path gets 404 `ACCOUNT_NOT_FOUND`.
    pub fn account_id(&self) -> Uuid {
        self.account_id
    }

    /// The id of an environment of the account, to grant plugins to. Any environment id in a
    /// path that the fake does not know gets 404 `ENVIRONMENT_NOT_FOUND`.
    pub fn environment_id(&self) -> Uuid {
        self.environment_id
    }

    /// Adds another environment to the account and returns its id.
    pub fn add_environment(&self) -> Uuid {
        let id = Uuid::new_v4();
        lock(&self.state).environments.push(id);
        id
    }

    /// Whether the last activation request for this agent and plugin priority activated
    /// (`Some(true)`) or deactivated (`Some(false)`) the plugin; `None` when there was none.
    pub fn plugin_activation(
        &self,
        component_id: Uuid,
        agent_name: &str,
        plugin_priority: i32,
    ) -> Option<bool> {
        lock(&self.state)
            .activations
            .get(&(component_id, agent_name.to_owned(), plugin_priority))
            .copied()
    }

    /// The fault switches of this fake.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// How many HTTP requests the fake has received so far, whatever their outcome.
    pub async fn received_requests(&self) -> usize {
        self.server
            .received_requests()
            .await
            .map(|requests| requests.len())
            .unwrap_or(0)
    }
}

/// One registered plugin.
#[derive(Debug, Clone)]
struct Registration {
    id: Uuid,
    name: String,
    version: String,
    description: String,
    icon: Vec<u8>,
    homepage: String,
    component_id: Uuid,
    component_revision: u64,
}

/// One grant of a plugin to an environment.
#[derive(Debug, Clone)]
struct Grant {
    id: Uuid,
    environment_id: Uuid,
    plugin_id: Uuid,
}

/// Everything the fake stores.
#[derive(Debug, Default)]
struct Registry {
    /// Registered plugins that are not deleted.
    registrations: Vec<Registration>,
    /// The account's environments.
    environments: Vec<Uuid>,
    /// Grants not revoked; those of deleted plugins stay, unseen, as on the real service.
    grants: Vec<Grant>,
    /// The last activation switch per (component, agent name, plugin priority).
    activations: HashMap<(Uuid, String, i32), bool>,
}

impl Registry {
    fn check_environment(&self, id: Uuid) -> Result<(), Reply> {
        if self.environments.contains(&id) {
            return Ok(());
        }
        Err(error_body(
            404,
            "ENVIRONMENT_NOT_FOUND",
            &format!("Parent environment {id} not found"),
        ))
    }

    fn registration(&self, id: Uuid) -> Option<&Registration> {
        self.registrations.iter().find(|r| r.id == id)
    }

    /// A grant that can be seen: not revoked, and its plugin not deleted.
    fn visible_grant(&self, id: Uuid) -> Option<(&Grant, &Registration)> {
        let grant = self.grants.iter().find(|g| g.id == id)?;
        Some((grant, self.registration(grant.plugin_id)?))
    }
}

fn lock(state: &Mutex<Registry>) -> MutexGuard<'_, Registry> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// The create request body (`PluginRegistrationCreation`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreationBody {
    name: String,
    version: String,
    description: String,
    icon: String,
    homepage: String,
    spec: SpecBody,
}

/// The plugin spec union; `OplogProcessor` is its only variant.
#[derive(Deserialize)]
#[serde(tag = "type")]
enum SpecBody {
    #[serde(rename_all = "camelCase")]
    OplogProcessor {
        component_id: Uuid,
        component_revision: u64,
    },
}

/// The grant request body (`EnvironmentPluginGrantCreation`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrantBody {
    plugin_registration_id: Uuid,
}

struct GolemResponder {
    token: String,
    account_id: Uuid,
    faults: Faults,
    state: Arc<Mutex<Registry>>,
}

impl Respond for GolemResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let reply = self.handle(request);
        reply.into_template(self.faults.current_latency())
    }
}

impl GolemResponder {
    fn registry(&self) -> MutexGuard<'_, Registry> {
        lock(&self.state)
    }

    fn handle(&self, request: &Request) -> Reply {
        if let Some(injected) = self.faults.take() {
            return injected_reply(injected);
        }
        let segments: Vec<&str> = request
            .url
            .path_segments()
            .map(|s| s.collect())
            .unwrap_or_default();
        let method = request.method.as_str();
        let result = match segments.as_slice() {
            ["v1", "accounts", account, "plugins"] => match method {
                "GET" => self.list(request, account),
                "POST" => self.create(request, account),
                _ => Err(Reply::text(405, "method not allowed")),
            },
            ["v1", "plugins", plugin] => match method {
                "GET" => self.get(request, plugin),
                "DELETE" => self.delete(request, plugin),
                _ => Err(Reply::text(405, "method not allowed")),
            },
            ["v1", "envs", environment, "plugins"] => match method {
                "GET" => self.list_grants(request, environment),
                "POST" => self.create_grant(request, environment),
                _ => Err(Reply::text(405, "method not allowed")),
            },
            ["v1", "environment-plugins", grant] => match method {
                "GET" => self.get_grant(request, grant),
                "DELETE" => self.delete_grant(request, grant),
                _ => Err(Reply::text(405, "method not allowed")),
            },
            [
                "v1",
                "components",
                component,
                "workers",
                agent,
                switch @ ("activate-plugin" | "deactivate-plugin"),
            ] => match method {
                "POST" => {
                    self.switch_plugin(request, component, agent, *switch == "activate-plugin")
                }
                _ => Err(Reply::text(405, "method not allowed")),
            },
            _ => Err(Reply::text(404, "not found")),
        };
        result.unwrap_or_else(|e| e)
    }

    /// Checks the bearer token (or session cookie) the way the real server does.
    fn authenticate(&self, request: &Request) -> Result<(), Reply> {
        let from_header = header(request, "authorization").and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
        let from_cookie = || {
            header(request, "cookie").and_then(|cookies| {
                cookies.split(';').find_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    (name == "GOLEM_SESSION").then(|| value.to_owned())
                })
            })
        };
        let Some(token) = from_header.or_else(from_cookie) else {
            return Err(Reply::text(401, "authorization error"));
        };
        let well_formed = token.len() >= 16
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !well_formed {
            return Err(Reply::text(401, "authorization error"));
        }
        if token != self.token {
            return Err(error_body(
                401,
                "AUTH_UNAUTHORIZED",
                "The token does not authenticate any account",
            ));
        }
        Ok(())
    }

    fn check_account(&self, id: Uuid) -> Result<(), Reply> {
        if id == self.account_id {
            Ok(())
        } else {
            Err(error_body(
                404,
                "ACCOUNT_NOT_FOUND",
                &format!("Parent account {id} not found"),
            ))
        }
    }

    fn list(&self, request: &Request, account: &str) -> Result<Reply, Reply> {
        let account = parse_path_uuid("account_id", account)?;
        self.authenticate(request)?;
        self.check_account(account)?;
        let values: Vec<Value> = self
            .registry()
            .registrations
            .iter()
            .map(|r| dto(r, self.account_id))
            .collect();
        Ok(Reply::json(200, &json!({ "values": values }), GOLEM_JSON))
    }

    fn create(&self, request: &Request, account: &str) -> Result<Reply, Reply> {
        let account = parse_path_uuid("account_id", account)?;
        self.authenticate(request)?;
        let body: CreationBody = json_body(request)?;
        let icon = STANDARD.decode(body.icon.as_bytes()).map_err(|e| {
            Reply::text(
                400,
                format!("parse request payload error: field `icon` is not valid base64: {e}"),
            )
        })?;
        let SpecBody::OplogProcessor {
            component_id,
            component_revision,
        } = body.spec;
        if component_revision > i64::MAX as u64 {
            return Err(Reply::text(
                400,
                "parse request payload error: field `componentRevision` is out of range",
            ));
        }
        self.check_account(account)?;
        if component_id.is_nil() {
            let body = json!({
                "code": "OPLOG_PROCESSOR_COMPONENT_NOT_FOUND",
                "errors": ["Target component for oplog processor does not exist"],
            });
            return Err(Reply::json(400, &body, GOLEM_JSON));
        }
        let mut registry = self.registry();
        let registrations = &mut registry.registrations;
        if registrations
            .iter()
            .any(|r| r.name == body.name && r.version == body.version)
        {
            return Err(error_body(
                409,
                "PLUGIN_REGISTRATION_ALREADY_EXISTS",
                "Plugin with this name and version already exists",
            ));
        }
        let registration = Registration {
            id: Uuid::new_v4(),
            name: body.name,
            version: body.version,
            description: body.description,
            icon,
            homepage: body.homepage,
            component_id,
            component_revision,
        };
        let reply = Reply::json(200, &dto(&registration, self.account_id), GOLEM_JSON);
        registrations.push(registration);
        Ok(reply)
    }

    fn get(&self, request: &Request, plugin: &str) -> Result<Reply, Reply> {
        let id = parse_path_uuid("plugin_id", plugin)?;
        self.authenticate(request)?;
        let registry = self.registry();
        let found = registry
            .registration(id)
            .ok_or_else(|| plugin_not_found(id))?;
        Ok(Reply::json(200, &dto(found, self.account_id), GOLEM_JSON))
    }

    fn delete(&self, request: &Request, plugin: &str) -> Result<Reply, Reply> {
        let id = parse_path_uuid("plugin_id", plugin)?;
        self.authenticate(request)?;
        let mut registry = self.registry();
        let registrations = &mut registry.registrations;
        let index = registrations
            .iter()
            .position(|r| r.id == id)
            .ok_or_else(|| plugin_not_found(id))?;
        // Its grants stay, unseen: listing and reading a grant skip those of deleted plugins.
        let removed = registrations.remove(index);
        Ok(Reply::json(
            200,
            &dto(&removed, self.account_id),
            GOLEM_JSON,
        ))
    }

    fn list_grants(&self, request: &Request, environment: &str) -> Result<Reply, Reply> {
        let environment = parse_path_uuid("environment_id", environment)?;
        self.authenticate(request)?;
        let registry = self.registry();
        registry.check_environment(environment)?;
        let values: Vec<Value> = registry
            .grants
            .iter()
            .filter(|g| g.environment_id == environment)
            .filter_map(|g| Some(self.grant_details(g, registry.registration(g.plugin_id)?)))
            .collect();
        Ok(Reply::json(200, &json!({ "values": values }), GOLEM_JSON))
    }

    fn create_grant(&self, request: &Request, environment: &str) -> Result<Reply, Reply> {
        let environment = parse_path_uuid("environment_id", environment)?;
        self.authenticate(request)?;
        let body: GrantBody = json_body(request)?;
        let mut registry = self.registry();
        registry.check_environment(environment)?;
        let plugin_id = body.plugin_registration_id;
        if registry.registration(plugin_id).is_none() {
            let body = json!({
                "code": "REFERENCED_PLUGIN_NOT_FOUND",
                "errors": [format!("Referenced plugin {plugin_id} not found")],
            });
            return Err(Reply::json(400, &body, GOLEM_JSON));
        }
        if registry
            .grants
            .iter()
            .any(|g| g.environment_id == environment && g.plugin_id == plugin_id)
        {
            return Err(error_body(
                409,
                "ENVIRONMENT_PLUGIN_GRANT_ALREADY_EXISTS",
                "Grant for this plugin already exists in this environment",
            ));
        }
        let grant = Grant {
            id: Uuid::new_v4(),
            environment_id: environment,
            plugin_id,
        };
        let reply = json!({
            "id": grant.id,
            "environmentId": grant.environment_id,
            "pluginId": grant.plugin_id,
        });
        registry.grants.push(grant);
        Ok(Reply::json(200, &reply, GOLEM_JSON))
    }

    fn get_grant(&self, request: &Request, grant: &str) -> Result<Reply, Reply> {
        let id = parse_path_uuid("environment_plugin_grant_id", grant)?;
        self.authenticate(request)?;
        let registry = self.registry();
        let (grant, plugin) = registry
            .visible_grant(id)
            .ok_or_else(|| grant_not_found(id))?;
        Ok(Reply::json(
            200,
            &self.grant_details(grant, plugin),
            GOLEM_JSON,
        ))
    }

    fn delete_grant(&self, request: &Request, grant: &str) -> Result<Reply, Reply> {
        let id = parse_path_uuid("environment_plugin_grant_id", grant)?;
        self.authenticate(request)?;
        let mut registry = self.registry();
        if registry.visible_grant(id).is_none() {
            return Err(grant_not_found(id));
        }
        registry.grants.retain(|g| g.id != id);
        Ok(Reply::empty(204))
    }

    fn switch_plugin(
        &self,
        request: &Request,
        component: &str,
        agent: &str,
        active: bool,
    ) -> Result<Reply, Reply> {
        let component = parse_path_uuid("component_id", component)?;
        let agent = percent_encoding::percent_decode_str(agent)
            .decode_utf8()
            .map_err(|e| Reply::text(400, format!("failed to parse path `agent_name`: {e}")))?
            .into_owned();
        let priority = request
            .url
            .query_pairs()
            .find(|(name, _)| name == "plugin-priority")
            .ok_or_else(|| {
                Reply::text(
                    400,
                    "failed to parse query `plugin-priority`: the value is missing",
                )
            })?
            .1
            .parse::<i32>()
            .map_err(|e| {
                Reply::text(400, format!("failed to parse query `plugin-priority`: {e}"))
            })?;
        self.authenticate(request)?;
        self.registry()
            .activations
            .insert((component, agent, priority), active);
        Ok(Reply::json(200, &json!({}), GOLEM_JSON))
    }

    /// An `EnvironmentPluginGrantWithDetails`.
    fn grant_details(&self, grant: &Grant, plugin: &Registration) -> Value {
        json!({
            "id": grant.id,
            "environmentId": grant.environment_id,
            "plugin": dto(plugin, self.account_id),
            "pluginAccount": {
                "id": self.account_id,
                "name": ACCOUNT_NAME,
                "email": ACCOUNT_EMAIL,
            },
        })
    }
}

fn parse_path_uuid(name: &str, raw: &str) -> Result<Uuid, Reply> {
    Uuid::parse_str(raw)
        .map_err(|e| Reply::text(400, format!("failed to parse path `{name}`: {e}")))
}

/// Reads a JSON request body the way the real service does: 415 without a JSON media type,
/// a plain-text 400 when it does not parse.
fn json_body<T: serde::de::DeserializeOwned>(request: &Request) -> Result<T, Reply> {
    match header(request, "content-type").map(media_type) {
        None => {
            return Err(Reply::text(
                415,
                "the request does not specify a content type",
            ));
        }
        Some(media) if media != "application/json" => {
            return Err(Reply::text(
                415,
                format!("the content type `{media}` is not supported"),
            ));
        }
        Some(_) => {}
    }
    serde_json::from_slice(&request.body)
        .map_err(|e| Reply::text(400, format!("parse request payload error: {e}")))
}

fn grant_not_found(id: Uuid) -> Reply {
    error_body(
        404,
        "RESOURCE_NOT_FOUND",
        &format!("Environment plugin grant {id} not found"),
    )
}

fn plugin_not_found(id: Uuid) -> Reply {
    error_body(
        404,
        "PLUGIN_REGISTRATION_NOT_FOUND",
        &format!("Registered plugin not found for id {id}"),
    )
}

/// Golem's single-message error body.
fn error_body(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({ "code": code, "error": message }),
        GOLEM_JSON,
    )
}

/// The response for an injected fault.
fn injected_reply(injected: Injected) -> Reply {
    match injected {
        Injected::RateLimited { retry_after_secs } => Reply::text(429, "Too Many Requests")
            .header("retry-after", retry_after_secs.to_string())
            .header("x-ratelimit-limit", super::RATE_LIMIT.to_string())
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", retry_after_secs.to_string()),
        Injected::Failure { status } => match status {
            400 => Reply::json(
                400,
                &json!({ "code": "INVALID_REQUEST", "errors": ["Invalid request"] }),
                GOLEM_JSON,
            ),
            401 => error_body(401, "AUTH_UNAUTHORIZED", "Unauthorized"),
            403 => error_body(403, "AUTH_FORBIDDEN", "Forbidden"),
            404 => error_body(404, "NOT_FOUND", "Entity not found"),
            409 => error_body(409, "CONFLICT", "Conflict"),
            422 => error_body(422, "LIMIT_EXCEEDED", "Limits of the plan exceeded"),
            s if s >= 500 => error_body(s, "INTERNAL_UNKNOWN", "Internal error"),
            s => error_body(s, "ERROR", reply::reason_phrase(s)),
        },
    }
}

/// A `PluginRegistrationDto`.
fn dto(r: &Registration, account_id: Uuid) -> Value {
    json!({
        "id": r.id,
        "accountId": account_id,
        "name": r.name,
        "version": r.version,
        "description": r.description,
        "icon": STANDARD.encode(&r.icon),
        "homepage": r.homepage,
        "spec": {
            "type": "OplogProcessor",
            "componentId": r.component_id,
            "componentRevision": r.component_revision,
        },
    })
}
