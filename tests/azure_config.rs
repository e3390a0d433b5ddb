//! Building an Azure backend from the environment and from what an administrator types, with
//! no I/O: every check happens in `build()`, and nothing typed is printed unless it validates.
//!
//! One test here changes the process environment. Every test that builds a backend holds
//! [`ENVIRONMENT`], so none reads the environment (the SDK and the HTTP client do) while it
//! changes.
#![cfg(feature = "azure")]

mod support;

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use secretscope::azure::{
    AzureKeyVaultBuilder, ENV_AUTHORITY_HOST, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_TENANT_ID,
    ENV_VAULT_URL,
};
use secretscope::prelude::*;
use secretscope::{Error, SecretName, SecretVersion};
use support::mock::Mock;
use support::{VAULT, assert_clean, assert_no_canary, client_secret_builder, fast};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "1b730954-1685-4b74-9bfd-dac224a7b894";

/// Held by every test that builds a backend or changes the environment.
static ENVIRONMENT: Mutex<()> = Mutex::new(());

fn environment() -> MutexGuard<'static, ()> {
    ENVIRONMENT.lock().unwrap_or_else(PoisonError::into_inner)
}

fn set(name: &str, value: &str) {
    // SAFETY: the caller holds `ENVIRONMENT`: no other test of this binary runs code that reads
    // or writes the environment meanwhile.
    unsafe { std::env::set_var(name, value) }
}

fn unset(name: &str) {
    // SAFETY: as in `set`.
    unsafe { std::env::remove_var(name) }
}

fn config_error(builder: AzureKeyVaultBuilder) -> (String, String) {
    match builder.build() {
        Err(Error::InvalidConfig { field, reason, .. }) => (field, reason),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn settings_from_the_environment_and_from_an_administrator() {
    let _environment = environment();
    // Missing variables are named, one at a time, in the order a person fixes them.
    for name in [
        ENV_VAULT_URL,
        ENV_TENANT_ID,
        ENV_CLIENT_ID,
        ENV_CLIENT_SECRET,
        ENV_AUTHORITY_HOST,
    ] {
        unset(name);
    }
    let (field, reason) = config_error(AzureKeyVaultBuilder::from_env());
    assert_eq!(field, "vault URL (AZURE_KEYVAULT_URL)");
    assert!(reason.contains("it is empty"), "{reason}");

    set(ENV_VAULT_URL, "https://corp-vault.vault.azure.net");
    let (field, _) = config_error(AzureKeyVaultBuilder::from_env());
    assert_eq!(field, "tenant ID (AZURE_TENANT_ID)");

    set(ENV_TENANT_ID, TENANT);
    set(ENV_CLIENT_ID, "not-a-guid");
    let (field, reason) = config_error(AzureKeyVaultBuilder::from_env());
    assert_eq!(field, "client ID (AZURE_CLIENT_ID)");
    assert!(reason.contains("Application (client) ID"), "{reason}");

    // A GUID without its hyphens is not how the portal shows one.
    set(ENV_CLIENT_ID, &CLIENT.replace('-', ""));
    let (field, _) = config_error(AzureKeyVaultBuilder::from_env());
    assert_eq!(field, "client ID (AZURE_CLIENT_ID)");

    set(ENV_CLIENT_ID, CLIENT);
    set(ENV_CLIENT_SECRET, "");
    let (field, _) = config_error(AzureKeyVaultBuilder::from_env());
    assert_eq!(field, "client secret (AZURE_CLIENT_SECRET)");

    set(ENV_CLIENT_SECRET, "  env-client-secret\n");
    let backend = AzureKeyVaultBuilder::from_env()
        .build()
        .expect("valid settings");
    assert_eq!(backend.vault_url(), "https://corp-vault.vault.azure.net");
    assert_eq!(
        backend.location().host(),
        Some("corp-vault.vault.azure.net")
    );
    let debug = format!("{backend:?} {:?}", AzureKeyVaultBuilder::from_env());
    assert!(!debug.contains("env-client-secret"), "{debug}");

    // The client secret goes to the authority host: only the vault's cloud's own, unless
    // custom hosts are allowed explicitly.
    set(
        ENV_AUTHORITY_HOST,
        "https://login.microsoftonline.com.evil.example",
    );
    let (field, reason) = config_error(AzureKeyVaultBuilder::from_env());
    assert_eq!(field, "authority host (AZURE_AUTHORITY_HOST)");
    assert!(
        reason.contains("the client secret would be sent there"),
        "{reason}"
    );
    AzureKeyVaultBuilder::from_env()
        .with_allow_custom_host(true)
        .build()
        .expect("allowed explicitly");
    set(ENV_AUTHORITY_HOST, "https://login.microsoftonline.com/");
    AzureKeyVaultBuilder::from_env()
        .build()
        .expect("the public cloud's own host");
    unset(ENV_AUTHORITY_HOST);

    // A China vault with the public authority host is refused; with its own, accepted.
    let china = || {
        AzureKeyVaultBuilder::new()
            .with_vault_url("https://corp-vault.vault.azure.cn")
            .with_tenant_id(TENANT)
            .with_client_id(CLIENT)
            .with_client_secret("s")
    };
    config_error(china().with_authority_host("https://login.microsoftonline.com"));
    china()
        .with_authority_host("https://login.chinacloudapi.cn")
        .build()
        .expect("the China cloud's own host");

    // A secret pasted into an ID field is never printed.
    let pasted = AzureKeyVaultBuilder::new()
        .with_vault_url("https://corp-vault.vault.azure.net")
        .with_tenant_id("Sts8Q~pasted.secret")
        .with_client_id("Sts8Q~pasted.secret");
    assert!(!format!("{pasted:?}").contains("pasted"), "{pasted:?}");
    let (_, reason) = config_error(pasted);
    assert!(!reason.contains("pasted"), "{reason}");

    // A password in a mistyped vault URL is never printed.
    let typed = AzureKeyVaultBuilder::new()
        .with_vault_url("https://admin:hunter2@corp-vault.vault.azure.net");
    assert!(!format!("{typed:?}").contains("hunter2"), "{typed:?}");
    let (_, reason) = config_error(typed);
    assert!(!reason.contains("hunter2"), "{reason}");
}

#[test]
fn bad_settings_are_refused_before_any_request() {
    let _environment = environment();
    let mock = Mock::new([], []);
    let base = || client_secret_builder(&mock);
    let cases: Vec<(AzureKeyVaultBuilder, &str, &str)> = vec![
        (base().with_vault_url(""), "vault URL", "it is empty"),
        (
            base().with_vault_url("http://corp-vault.vault.azure.net"),
            "vault URL",
            "must start with https://",
        ),
        (
            base().with_vault_url("https://admin:pw@corp-vault.vault.azure.net"),
            "vault URL",
            "user information",
        ),
        (
            base().with_vault_url("https://corp-vault.vault.azure.net/?api-version=7.4"),
            "vault URL",
            "query or fragment",
        ),
        (
            base().with_vault_url("https://corp-vault.vault.azure.net/secrets/db-password"),
            "vault URL",
            "not a secret identifier",
        ),
        (
            base().with_vault_url("https://vault.corp.example.com"),
            "vault URL",
            "allow a custom host explicitly",
        ),
        (
            base().with_tenant_id("not a tenant!"),
            "tenant ID",
            "Directory (tenant) ID",
        ),
        (base().with_tenant_id(""), "tenant ID", "it is empty"),
        (
            base().with_client_id("payments-app"),
            "client ID",
            "Application (client) ID",
        ),
        (
            base().with_client_id("{1b730954-1685-4b74-9bfd-dac224a7b894}"),
            "client ID",
            "Application (client) ID",
        ),
        (
            base().with_client_secret(""),
            "client secret",
            "Certificates & secrets",
        ),
        (
            base().with_client_secret("   "),
            "client secret",
            "Certificates & secrets",
        ),
        (
            fast(
                AzureKeyVaultBuilder::new()
                    .with_vault_url(VAULT)
                    .with_http_client(mock.clone()),
            ),
            "tenant ID",
            "choose another credential",
        ),
        (
            base().with_deadline(Duration::ZERO),
            "timeouts",
            "longer than zero",
        ),
    ];
    for (builder, expected_field, fix) in cases {
        let debug = format!("{builder:?}");
        assert_no_canary(&debug);
        let error = builder.build().expect_err(expected_field);
        let Error::InvalidConfig { field, reason, .. } = &error else {
            panic!("expected InvalidConfig, got {error:?}");
        };
        assert_eq!(field, expected_field, "{error}");
        assert!(reason.contains(fix), "{error}");
        assert!(
            error
                .to_string()
                .starts_with(&format!("invalid configuration for {expected_field}: ")),
            "{error}"
        );
        assert_clean(&error);
    }

    // A custom host is accepted when allowed, still without any request.
    let backend = base()
        .with_vault_url("https://vault.corp.example.com")
        .with_allow_custom_host(true)
        .build()
        .expect("allowed custom host");
    assert_eq!(backend.vault_url(), "https://vault.corp.example.com");
    assert_eq!(backend.location().host(), Some("vault.corp.example.com"));
    assert!(mock.seen().is_empty(), "{:?}", mock.seen());
}

#[test]
fn names_that_could_change_the_path_cannot_be_built() {
    // The SDK neither validates nor escapes names: only names of the grammar reach it.
    for bad in ["../keys/x", "a/b", "db password", "a?b", "", "x%2Fy"] {
        assert!(SecretName::new(bad).is_err(), "{bad:?}");
    }
    for bad in [
        "../x",
        "4387e9f3d6e14c459867679a90fd0f7",
        "zz87e9f3d6e14c459867679a90fd0f79",
    ] {
        assert!(SecretVersion::new(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn one_vault_from_the_environment_is_one_call() {
    let _environment = environment();
    unset(ENV_VAULT_URL);
    match secretscope::WorkspaceManager::from_env() {
        Err(Error::InvalidConfig { field, .. }) => {
            assert_eq!(field, "vault URL (AZURE_KEYVAULT_URL)")
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    set(ENV_VAULT_URL, "https://corp-vault.vault.azure.net");
    set(ENV_TENANT_ID, TENANT);
    set(ENV_CLIENT_ID, CLIENT);
    set(ENV_CLIENT_SECRET, "s3cr3t");
    unset(ENV_AUTHORITY_HOST);
    let manager = secretscope::WorkspaceManager::from_env().unwrap();
    assert_eq!(manager.policy().mode(), secretscope::ScopeMode::Workspace);
    let connection = manager.policy().workspace_connection().unwrap();
    assert_eq!(connection.name().as_str(), "corp-vault.vault.azure.net");
    for name in [
        ENV_VAULT_URL,
        ENV_TENANT_ID,
        ENV_CLIENT_ID,
        ENV_CLIENT_SECRET,
    ] {
        unset(name);
    }
}
