//! Runs both embedded fakes as a standalone process, so any tool (the other examples, a CLI,
//! a script) can be pointed at them.
//!
//! ```text
//! cargo run --example fake_servers                     # prints the variables to export
//! cargo run --example fake_servers -- --env-file f.env # also writes them to f.env
//! ```
//!
//! It serves until interrupted (Ctrl-C).

use std::process::ExitCode;

use cloud_plugin_sdk::mock::{ConfluentFake, GolemFake};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env_file = match args.as_slice() {
        [] => None,
        [flag, path] if flag == "--env-file" => Some(path.clone()),
        _ => {
            eprintln!("usage: fake_servers [--env-file PATH]");
            return ExitCode::FAILURE;
        }
    };
    let golem = GolemFake::start().await;
    let confluent = ConfluentFake::start().await;
    let exports = [
        ("GOLEM_BASE_URL", golem.url()),
        ("GOLEM_TOKEN", golem.token().to_string()),
        ("GOLEM_ACCOUNT_ID", golem.account_id().to_string()),
        ("GOLEM_ENVIRONMENT_ID", golem.environment_id().to_string()),
        ("GOLEM_COMPONENT_ID", uuid::Uuid::new_v4().to_string()),
        ("CONFLUENT_BASE_URL", confluent.url()),
        ("CONFLUENT_CLOUD_API_KEY", confluent.api_key().to_string()),
        (
            "CONFLUENT_CLOUD_API_SECRET",
            confluent.api_secret().to_string(),
        ),
        ("CONFLUENT_ENVIRONMENT", confluent.environment().to_string()),
        // OAuth through the fake's identity provider and STS; the API key above takes
        // precedence, so unset it to use these.
        (
            "CONFLUENT_CLOUD_OAUTH_EXTERNAL_TOKEN_URL",
            confluent.oauth_token_url(),
        ),
        (
            "CONFLUENT_CLOUD_OAUTH_EXTERNAL_CLIENT_ID",
            confluent.oauth_client_id().to_string(),
        ),
        (
            "CONFLUENT_CLOUD_OAUTH_EXTERNAL_CLIENT_SECRET",
            confluent.oauth_client_secret().to_string(),
        ),
        (
            "CONFLUENT_CLOUD_OAUTH_IDENTITY_POOL_ID",
            confluent.identity_pool_id().to_string(),
        ),
    ];
    let text: String = exports
        .iter()
        .map(|(name, value)| format!("export {name}={value}\n"))
        .collect();
    print!("{text}");
    if let Some(path) = env_file {
        // Written last and whole, so a reader that sees the file can use it at once.
        let partial = format!("{path}.partial");
        if let Err(err) =
            std::fs::write(&partial, &text).and_then(|()| std::fs::rename(&partial, &path))
        {
            eprintln!("cannot write {path}: {err}");
            return ExitCode::FAILURE;
        }
    }
    eprintln!("fakes running; press Ctrl-C to stop");
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
