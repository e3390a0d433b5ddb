//! What the Azure tests against a mock transport share: the mock `HttpClient` and the real
//! answers it replays, backends built over it, and the checks that no client secret, access
//! token or secret value shows up anywhere.
//!
//! Each test binary uses part of it: the unused rest would otherwise warn as dead code there.
#![allow(dead_code)]

pub mod bodies;
pub mod mock;

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use secretscope::azure::sdk::azure_core as sdk;
use secretscope::azure::{AzureKeyVaultBackend, AzureKeyVaultBuilder};
use secretscope::prelude::*;
use secretscope::{Error, SecretName, SecretVersion};
use time::OffsetDateTime;

use bodies::SECRET_BUNDLE;
use mock::{Mock, Reply, StaticToken, challenge};

pub const VAULT: &str = "https://corp-vault.vault.azure.net";
pub const VAULT_HOST: &str = "corp-vault.vault.azure.net";
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const CLIENT_ID: &str = "1b730954-1685-4b74-9bfd-dac224a7b894";
pub const API_VERSION: &str = "api-version=2025-07-01";

/// Canaries: none of these may appear in any error text or `Debug` output. Each contains a
/// marker that survives URL encoding (`~` does not).
pub const CLIENT_SECRET: &str = "Xq8Q~CanaryClientSecret.4e1b9f_Zk2";
pub const SECRET_VALUE: &str = "CanarySecretValue|9d2e7a^s3cr3t";
pub const ACCESS_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.CanaryAccessToken.sig";
pub const MARKERS: [&str; 3] = [
    "CanaryClientSecret",
    "CanarySecretValue",
    "CanaryAccessToken",
];

pub const VERSION: &str = "4387e9f3d6e14c459867679a90fd0f79";
pub const OLD_VERSION: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// A secret bundle for `db-password` with this value, version and content type.
pub fn bundle(value: &str, version: &str, content_type: &str) -> String {
    SECRET_BUNDLE
        .replace("{VALUE}", value)
        .replace("{VERSION}", version)
        .replace("{CT}", content_type)
}

pub fn secret_name(s: &str) -> SecretName {
    SecretName::new(s).expect("valid name")
}

pub fn secret_version(s: &str) -> SecretVersion {
    SecretVersion::new(s).expect("valid version")
}

pub fn unix(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Backends over the mock
// ---------------------------------------------------------------------------------------------

/// No retries, short back-off, a 3 s deadline: nothing in these tests waits.
pub fn fast(builder: AzureKeyVaultBuilder) -> AzureKeyVaultBuilder {
    builder
        .with_max_retries(0)
        .with_retry_delays(Duration::from_millis(10), Duration::from_millis(20))
        .with_deadline(Duration::from_secs(3))
}

/// The vault through `mock`, with a credential handing out a static token.
pub fn fake_credential_builder(mock: &Arc<Mock>) -> AzureKeyVaultBuilder {
    fast(
        AzureKeyVaultBuilder::new()
            .with_vault_url(VAULT)
            .with_credential(Arc::new(StaticToken))
            .with_http_client(mock.clone()),
    )
}

/// The vault through `mock`, with the client secret credential, whose token requests go
/// through `mock` too.
pub fn client_secret_builder(mock: &Arc<Mock>) -> AzureKeyVaultBuilder {
    fast(
        AzureKeyVaultBuilder::new()
            .with_vault_url(VAULT)
            .with_tenant_id(TENANT)
            .with_client_id(CLIENT_ID)
            .with_client_secret(CLIENT_SECRET)
            .with_http_client(mock.clone()),
    )
}

pub fn fake_backend(mock: &Arc<Mock>) -> AzureKeyVaultBackend {
    fake_credential_builder(mock)
        .build()
        .expect("valid settings")
}

pub fn secret_backend(mock: &Arc<Mock>) -> AzureKeyVaultBackend {
    client_secret_builder(mock).build().expect("valid settings")
}

/// Fetches the latest `db-password` through a new client with the fake credential, the vault
/// answering `reply` after the challenge.
pub async fn fetch_after_challenge(reply: Reply) -> (Error, Arc<Mock>) {
    let mock = Mock::new([challenge(), reply], []);
    let backend = fake_backend(&mock);
    let error = backend
        .fetch(&secret_name("db-password"), None)
        .await
        .expect_err("the vault refused");
    mock.assert_vault_requests_well_formed();
    assert_eq!(mock.vault_requests().len(), 2, "{:?}", mock.seen());
    assert!(mock.scripts_used_up());
    assert_clean(&error);
    (error, mock)
}

// ---------------------------------------------------------------------------------------------
// Error texts
// ---------------------------------------------------------------------------------------------

/// Everything that can be printed about `error`: message, debug form, and every cause's.
pub fn error_texts(error: &(dyn StdError + 'static)) -> Vec<String> {
    let mut texts = vec![error.to_string(), format!("{error:?}")];
    let mut source = error.source();
    while let Some(cause) = source {
        texts.push(cause.to_string());
        texts.push(format!("{cause:?}"));
        source = cause.source();
    }
    texts
}

pub fn assert_no_canary(text: &str) {
    for marker in MARKERS {
        assert!(!text.contains(marker), "`{marker}` leaked into: {text}");
    }
}

/// No client secret, access token or secret value in the error, its debug form or its causes.
pub fn assert_clean(error: &Error) {
    for text in error_texts(error) {
        assert_no_canary(&text);
    }
}

/// The text of every cause in the chain below `error`, joined.
pub fn chain(error: &Error) -> String {
    error_texts(error)
        .into_iter()
        .step_by(2)
        .skip(1)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The SDK error kept as the direct cause.
pub fn sdk_cause(error: &Error) -> &sdk::Error {
    error
        .source()
        .and_then(|s| s.downcast_ref::<sdk::Error>())
        .unwrap_or_else(|| panic!("no azure_core::Error kept as the cause of {error:?}"))
}
