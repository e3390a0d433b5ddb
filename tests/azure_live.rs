//! Against a real Azure Key Vault, when `AZURE_KEYVAULT_URL`, `AZURE_TENANT_ID`,
//! `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET` are set; skipped with a printed reason otherwise.
//!
//! The application needs only read access: the *Key Vault Secrets User* role on the vault, or
//! the secret *Get* permission on a vault using access policies. Set `SECRETSCOPE_LIVE_SECRET`
//! to the name of a secret in the vault to also resolve a value.
#![cfg(feature = "azure")]

use secretscope::azure::{
    AzureKeyVaultBuilder, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_TENANT_ID, ENV_VAULT_URL,
};
use secretscope::prelude::*;
use secretscope::{
    Connection, Error, ScopeMode, ScopePolicy, SecretName, Source, WorkspaceManager,
};

/// The builder from the environment, or `None` after printing why the tests are skipped.
fn live_builder() -> Option<AzureKeyVaultBuilder> {
    let missing: Vec<&str> = [
        ENV_VAULT_URL,
        ENV_TENANT_ID,
        ENV_CLIENT_ID,
        ENV_CLIENT_SECRET,
    ]
    .into_iter()
    .filter(|name| std::env::var(name).map_or(true, |v| v.is_empty()))
    .collect();
    if missing.is_empty() {
        Some(AzureKeyVaultBuilder::from_env())
    } else {
        println!(
            "skipping the live Azure Key Vault tests: {} not set (see README, \"Live tests\")",
            missing.join(", ")
        );
        None
    }
}

#[tokio::test]
async fn live_connection_check_succeeds() {
    let Some(builder) = live_builder() else {
        return;
    };
    let connection = Connection::new("live-vault", builder.build().expect("valid settings"));
    let report = connection.check().await;
    println!("{report}");
    assert!(report.is_success(), "{report}");
}

#[tokio::test]
async fn live_missing_secret_is_not_found() {
    let Some(builder) = live_builder() else {
        return;
    };
    let backend = builder.build().expect("valid settings");
    let name = SecretName::new("secretscope-live-test-never-created").unwrap();
    match backend.fetch(&name, None).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn live_wrong_client_secret_is_named() {
    let Some(builder) = live_builder() else {
        return;
    };
    let backend = builder
        .with_client_secret("not-the-client-secret")
        .build()
        .expect("valid settings");
    let report = Connection::new("live-vault", backend).check().await;
    println!("{report}");
    match report.error() {
        Some(Error::Unauthenticated { code, .. }) => {
            assert_eq!(code.as_deref(), Some("AADSTS7000215"), "{report}")
        }
        other => panic!("expected Unauthenticated, got {other:?}"),
    }
}

#[tokio::test]
async fn live_secret_resolves_through_the_manager() {
    let Some(builder) = live_builder() else {
        return;
    };
    let Ok(name) = std::env::var("SECRETSCOPE_LIVE_SECRET") else {
        println!("skipping the live resolve test: SECRETSCOPE_LIVE_SECRET not set");
        return;
    };
    let policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(Connection::new("live-vault", builder.build().unwrap()))
        .build()
        .unwrap();
    let manager = WorkspaceManager::new(policy);
    let first = manager
        .resolve_with_metadata(&name)
        .await
        .expect("resolved");
    assert_eq!(first.metadata().source, Source::Backend);
    assert!(first.metadata().properties.version.is_some());
    let second = manager
        .resolve_with_metadata(&name)
        .await
        .expect("resolved");
    assert_eq!(second.metadata().source, Source::Cache);
}
