//! Connect an Azure Key Vault, check the connection, and resolve references through it.
//!
//! Against a real vault, from the environment (`AZURE_KEYVAULT_URL`, `AZURE_TENANT_ID`,
//! `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`):
//!
//! ```sh
//! cargo run --example azure -- db-password other-secret
//! ```
//!
//! Against the local HTTPS stand-in of Key Vault and Entra ID that the tests use,
//! `secretscope::testing` (no account, no network; cargo feature `testing`, which the crate's
//! own examples have):
//!
//! ```sh
//! cargo run --example azure -- --local
//! ```

use std::process::ExitCode;

use secretscope::azure::AzureKeyVaultBuilder;
use secretscope::prelude::*;
use secretscope::testing::{PRIMARY_HOST, Seed, StandIn};
use secretscope::{Connection, ScopeMode, ScopePolicy, WorkspaceManager};

#[tokio::main]
async fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let local = args.iter().any(|a| a == "--local");
    args.retain(|a| a != "--local");
    if args.is_empty() {
        args.push("db-password".to_owned());
    }

    // Kept alive until the end: dropping it stops the stand-in.
    let mut stand_in = None;
    let (name, builder) = if local {
        let started = match StandIn::start().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("could not start the local stand-in: {e}");
                return ExitCode::FAILURE;
            }
        };
        let demo = Seed::value("local-demo-password").with_content_type("text/plain");
        started.seed(PRIMARY_HOST, "db-password", demo);
        println!(
            "Local stand-in of Key Vault and Entra ID on {}",
            started.addr()
        );
        // The vault URL, tenant ID, client ID and client secret, as an administrator enters
        // them, plus the stand-in's CA, address and Entra ID.
        let builder = started.builder(PRIMARY_HOST);
        stand_in = Some(started);
        ("local-vault", builder)
    } else {
        ("azure-vault", AzureKeyVaultBuilder::from_env())
    };

    // 1. Every field is checked before anything is sent.
    let vault = match builder.build() {
        Ok(vault) => vault,
        Err(e) => {
            eprintln!("The connection settings are not valid: {e}");
            if !local {
                eprintln!(
                    "(or run `cargo run --example azure -- --local` to try the local stand-in)"
                );
            }
            return ExitCode::FAILURE;
        }
    };

    // 2. Check the connection: authentication and the Get permission, without reading a secret.
    let connection = Connection::new(name, vault);
    let report = connection.check().await;
    println!("{report}");
    if !report.is_success() {
        return ExitCode::FAILURE;
    }

    // 3. Use it as the workspace connection and resolve references.
    let policy = match ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(connection)
        .build()
    {
        Ok(policy) => policy,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let manager = WorkspaceManager::new(policy);
    let mut failed = false;
    for reference in &args {
        match manager.resolve_with_metadata(reference).await {
            Ok(secret) => {
                let meta = secret.metadata();
                let version = meta
                    .properties
                    .version
                    .as_ref()
                    .map(|v| v.as_str())
                    .unwrap_or("-");
                println!(
                    "ok     {reference}: {} characters, version {version}, content type {}",
                    secret.value().len(),
                    meta.properties.content_type.as_deref().unwrap_or("-"),
                );
            }
            Err(e) => {
                failed = true;
                println!("error  {reference}: {e}");
            }
        }
    }
    drop(stand_in);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
