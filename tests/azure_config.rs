//! Building an Azure backend from the environment and from what an administrator types, with
//! no I/O: every check happens in `build()`.
//!
//! This file holds one test that changes the process environment; it is its own test binary so
//! nothing else reads the environment meanwhile.
#![cfg(feature = "azure")]

use secretscope::Error;
use secretscope::azure::{
    AzureKeyVaultBuilder, ENV_AUTHORITY_HOST, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_TENANT_ID,
    ENV_VAULT_URL,
};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "1b730954-1685-4b74-9bfd-dac224a7b894";

fn set(name: &str, value: &str) {
    // SAFETY: this binary's only test runs on one thread and nothing else in the process reads
    // or writes the environment while it does.
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

    set(ENV_CLIENT_ID, CLIENT);
    set(ENV_CLIENT_SECRET, "");
    let (field, _) = config_error(AzureKeyVaultBuilder::from_env());
    assert_eq!(field, "client secret (AZURE_CLIENT_SECRET)");

    set(ENV_CLIENT_SECRET, "  env-client-secret\n");
    let backend = AzureKeyVaultBuilder::from_env()
        .build()
        .expect("valid settings");
    assert_eq!(backend.vault_url(), "https://corp-vault.vault.azure.net");
    assert_eq!(backend.connection_name(), "corp-vault.vault.azure.net");
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
