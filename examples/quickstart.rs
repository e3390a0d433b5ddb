//! A tour of secretscope on local secrets files: no cloud account, no network.
//!
//! Run it with `cargo run --example quickstart`. It writes two demo files under a temporary
//! folder: the workspace's secrets and the `billing` project's secrets.

use std::error::Error as _;
use std::path::Path;

use secretscope::file::FileBackend;
use secretscope::prelude::*;
use secretscope::{Connection, Error, ScopeMode, ScopePolicy, WorkspaceManager};

const WORKSPACE_SECRETS: &str = r#"
[secrets]
db-password = "workspace-db-password"

[secrets.api-token]
value = "workspace-api-token"
content-type = "text/plain"
"#;

const BILLING_SECRETS: &str = r#"
[secrets]
db-password = "billing-db-password"

[secrets.tls-key]
value = """
-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIDemoDemoDemoDemoDemoDemoDemoDemoDemoDemo
-----END PRIVATE KEY-----
"""
content-type = "application/x-pem-file"
expires = 2099-12-31T00:00:00Z
"#;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let folder = tempfile::tempdir()?;
    let workspace_file = write(folder.path(), "workspace.toml", WORKSPACE_SECRETS)?;
    let billing_file = write(folder.path(), "billing.toml", BILLING_SECRETS)?;
    println!(
        "Demo secrets files written under {}",
        folder.path().display()
    );

    // An administrator set secrets management up per project; the workspace connection exists too.
    let policy = ScopePolicy::builder(ScopeMode::Project)
        .with_workspace_connection(Connection::new(
            "workspace-vault",
            FileBackend::open(&workspace_file)?,
        ))
        .with_project_connection(
            "billing",
            Connection::new("billing-vault", FileBackend::open(&billing_file)?),
        )
        .build()?;
    let manager = WorkspaceManager::new(policy);

    section("1. Project scope is active");
    for report in manager.check_connections().await {
        println!("   {report}");
    }
    resolve(&manager, "project:billing/db-password").await;
    resolve(&manager, "{{ project:billing/tls-key }}").await;
    resolve(&manager, "db-password").await;

    section("2. Plan a switch to the workspace scope (a dry run: nothing changes)");
    let plan = manager.plan_switch(ScopeMode::Workspace).await;
    for line in plan.to_string().lines() {
        println!("   {line}");
    }

    section("3. Apply it without an acknowledgement");
    match manager.apply_switch(&plan, None) {
        Err(e @ Error::AcknowledgementRequired { .. }) => {
            println!("   refused, as it should be: {e}")
        }
        other => return Err(format!("expected a refusal, got {other:?}").into()),
    }
    println!("   the active scope is still: {}", manager.policy().mode());

    section("4. Apply it with an acknowledgement made from the plan");
    let acknowledgement = plan.acknowledge("alice@example.com");
    let state = manager.apply_switch(&plan, Some(&acknowledgement))?;
    println!(
        "   switched to the {} scope by {} (policy generation {}); save this state to share it:",
        state.mode,
        acknowledgement.acknowledged_by(),
        state.generation
    );
    println!("   {}", serde_json::to_string(&state)?);

    section("5. Workspace scope is active");
    resolve(&manager, "db-password").await;
    resolve(&manager, "project:billing/db-password").await;
    Ok(())
}

/// Resolves `reference` and says what happened, printing metadata but never the value.
async fn resolve(manager: &WorkspaceManager, reference: &str) {
    match manager.resolve_with_metadata(reference).await {
        Ok(secret) => {
            println!(
                "   ok     {reference:<34} {} characters from `{}` (via {}{})",
                secret.value().len(),
                secret.connection(),
                secret.source(),
                secret
                    .properties()
                    .content_type
                    .as_deref()
                    .map(|t| format!(", {t}"))
                    .unwrap_or_default(),
            );
        }
        Err(error) => {
            println!("   error  {reference:<34} {}", kind(&error));
            println!("          {error}");
            if let Some(cause) = error.source() {
                println!("          caused by: {cause}");
            }
        }
    }
}

fn kind(error: &Error) -> &'static str {
    error.kind().as_str()
}

fn section(title: &str) {
    println!("\n{title}");
}

/// Writes a secrets file only its owner can read: the file backend refuses any other.
fn write(folder: &Path, name: &str, contents: &str) -> std::io::Result<std::path::PathBuf> {
    use std::io::Write;
    let path = folder.join(name);
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    file.open(&path)?.write_all(contents.as_bytes())?;
    Ok(path)
}
