//! The Azure Key Vault backend's connection check, against the mock transport of
//! `tests/support`: it reads a random name that cannot exist, and says in words whether the
//! connection works and, if not, what to fix.
#![cfg(feature = "azure")]

mod support;

use secretscope::prelude::*;
use secretscope::{Connection, Error, MissingGrant, SecretName};
use support::bodies::{AADSTS7000215, FORBIDDEN_BY_RBAC, NOT_FOUND};
use support::mock::{Mock, Seen, challenge, http};
use support::{assert_no_canary, fake_backend, secret_backend};

/// The probe name a check read, after checking it is a latest-version read of a valid name
/// made of a fixed prefix and a random (v4) UUID.
fn probe(seen: &Seen) -> String {
    let path = seen.url.path();
    let probe = path
        .strip_prefix("/secrets/")
        .and_then(|p| p.strip_suffix('/'))
        .unwrap_or_else(|| panic!("not a latest-version read: {path}"));
    assert!(
        SecretName::new(probe).is_ok(),
        "the probe name is a valid name: {probe}"
    );
    let id = probe
        .strip_prefix("secretscope-connection-check-")
        .unwrap_or_else(|| panic!("{probe}"));
    let uuid = uuid::Uuid::try_parse(id).unwrap_or_else(|e| panic!("{probe}: {e}"));
    assert_eq!(uuid.get_version(), Some(uuid::Version::Random), "{probe}");
    assert_eq!(uuid.hyphenated().to_string(), id, "{probe}");
    probe.to_owned()
}

#[tokio::test]
async fn check_reads_a_random_name_and_treats_not_found_as_success() {
    let mock = Mock::new(
        [challenge(), http(404, NOT_FOUND), http(404, NOT_FOUND)],
        [],
    );
    let backend = fake_backend(&mock);
    backend
        .check()
        .await
        .expect("404 SecretNotFound proves access");
    backend.check().await.expect("again");

    let seen = mock.vault_requests();
    assert_eq!(seen.len(), 3);
    let first = probe(&seen[1]);
    let second = probe(&seen[2]);
    assert_eq!(first, probe(&seen[0]), "the challenge resend");
    assert_ne!(first, second, "each check reads a fresh name");
    mock.assert_vault_requests_well_formed();
}

#[tokio::test]
async fn check_reports_a_missing_role() {
    let mock = Mock::new([challenge(), http(403, FORBIDDEN_BY_RBAC)], []);
    let error = fake_backend(&mock).check().await.unwrap_err();
    assert!(
        matches!(
            &error,
            Error::PermissionDenied {
                missing: MissingGrant::KeyVaultSecretsUserRole,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn connection_check_reports_success_and_failure_in_words() {
    let mock = Mock::new([challenge(), http(404, NOT_FOUND)], []);
    let report = Connection::new("corp-vault", fake_backend(&mock))
        .check()
        .await;
    assert!(report.is_success(), "{report}");
    assert_eq!(report.connection(), "corp-vault");
    assert_eq!(
        report.location().to_string(),
        "https://corp-vault.vault.azure.net"
    );
    let text = report.to_string();
    assert!(
        text.starts_with(
            "Connection successful: `corp-vault` (https://corp-vault.vault.azure.net) answered in "
        ),
        "{text}"
    );

    let mock = Mock::new([challenge(), http(403, FORBIDDEN_BY_RBAC)], []);
    let report = Connection::new("corp-vault", fake_backend(&mock))
        .check()
        .await;
    assert!(!report.is_success());
    let text = report.to_string();
    assert!(
        text.starts_with(
            "Connection failed: `corp-vault` (https://corp-vault.vault.azure.net) after "
        ),
        "{text}"
    );
    assert!(text.contains("Key Vault Secrets User"), "{text}");

    // A wrong client secret through the real credential.
    let mock = Mock::new([challenge()], [http(401, AADSTS7000215)]);
    let report = Connection::new("corp-vault", secret_backend(&mock))
        .check()
        .await;
    assert!(!report.is_success());
    let text = report.to_string();
    assert!(text.starts_with("Connection failed: "), "{text}");
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(text.contains("Secret ID"), "{text}");
    assert_no_canary(&text);
    assert_no_canary(&format!("{report:?}"));
}
