//! The Azure backend through the real SDK, over real HTTPS, against the local stand-in of
//! Entra ID and Key Vault, `secretscope::testing` (two vaults: `primary.localhost`, an RBAC
//! vault, and `secondary.localhost`, an access-policy vault).
#![cfg(feature = "testing")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use secretscope::azure::sdk::azure_security_keyvault_secrets::ResourceExt;
use secretscope::azure::sdk::azure_security_keyvault_secrets::models::{
    SecretAttributes as SdkAttributes, SetSecretParameters, UpdateSecretPropertiesParameters,
};
use secretscope::azure::{AzureKeyVaultBackend, AzureKeyVaultBuilder};
use secretscope::conformance::{self, Seeded};
use secretscope::prelude::*;
use secretscope::testing::{
    CLIENT_ID, CLIENT_SECRET, EXPIRED_SECRET_CLIENT_ID, Fault, LOGIN_HOST, NO_ACCESS_CLIENT_ID,
    PRIMARY_HOST, SECONDARY_HOST, Seed, StandIn, TENANT_ID,
};
use secretscope::{
    Connection, ConnectionReport, Error, MissingGrant, ScopeMode, ScopePolicy, SecretName,
    SecretVersion, Source, WorkspaceManager,
};
use time::{Duration as TimeDelta, OffsetDateTime};

/// A connection to `host` on the stand-in, as an administrator would enter it, plus the
/// transport settings a local stand-in needs, without retries and with a 5 s deadline.
fn builder(stand_in: &StandIn, host: &str) -> AzureKeyVaultBuilder {
    stand_in
        .builder(host)
        .with_max_retries(0)
        .with_deadline(Duration::from_secs(5))
}

fn backend(stand_in: &StandIn, host: &str) -> AzureKeyVaultBackend {
    builder(stand_in, host).build().expect("valid settings")
}

/// Stores a version through the SDK, as an administrator's tooling would, and returns its version.
async fn set(
    backend: &AzureKeyVaultBackend,
    name: &str,
    value: &str,
    attributes: SdkAttributes,
    content_type: Option<&str>,
) -> SecretVersion {
    let params = SetSecretParameters {
        value: Some(value.to_owned()),
        content_type: content_type.map(str::to_owned),
        secret_attributes: Some(attributes),
        tags: None,
    };
    let secret = backend
        .client()
        .set_secret(name, params.try_into().expect("serialisable"), None)
        .await
        .expect("stored")
        .into_model()
        .expect("a secret bundle");
    let version = secret
        .resource_id()
        .expect("an id")
        .version
        .expect("a version");
    SecretVersion::new(&version).expect("32 hex digits")
}

#[tokio::test]
async fn passes_the_conformance_suite() {
    let stand_in = StandIn::start().await.unwrap();
    let backend = backend(&stand_in, PRIMARY_HOST);
    let mut seeded = Seeded::new();
    for fixture in conformance::fixtures() {
        for version in &fixture.versions {
            let attributes = &version.attributes;
            let sdk = SdkAttributes {
                enabled: Some(attributes.enabled),
                not_before: attributes.not_before,
                expires: attributes.expires,
                ..Default::default()
            };
            let assigned = set(
                &backend,
                fixture.name,
                version.value,
                sdk,
                attributes.content_type.as_deref(),
            )
            .await;
            seeded.record(fixture.name, Some(assigned));
        }
    }
    conformance::run_all(&backend, &seeded).await;
    let shared: Arc<dyn SecretBackend> = Arc::new(backend);
    conformance::run_all(&shared, &seeded).await;
}

#[tokio::test]
async fn latest_and_pinned_versions_resolve_by_name_and_by_identifier() {
    let stand_in = StandIn::start().await.unwrap();
    let vault = backend(&stand_in, PRIMARY_HOST);
    let first = set(
        &vault,
        "db-password",
        "first",
        SdkAttributes::default(),
        None,
    )
    .await;
    let second = set(
        &vault,
        "db-password",
        "second",
        SdkAttributes::default(),
        None,
    )
    .await;
    let policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(Connection::new("corp-vault", vault))
        .build()
        .unwrap();
    let manager = WorkspaceManager::new(policy);

    let latest = manager.resolve_with_metadata("db-password").await.unwrap();
    assert_eq!(latest.value().expose_secret(), "second");
    assert_eq!(latest.metadata().properties.version.as_ref(), Some(&second));
    assert_eq!(latest.metadata().source, Source::Backend);
    let pinned = manager
        .resolve(&format!("db-password/{first}"))
        .await
        .unwrap();
    assert_eq!(pinned.expose_secret(), "first");

    // A Key Vault identifier of the configured vault resolves; one of another vault does not,
    // and never reaches the wire.
    let id = format!(
        "{}/secrets/db-password/{first}",
        stand_in.vault_url(PRIMARY_HOST)
    );
    assert_eq!(manager.resolve(&id).await.unwrap().expose_secret(), "first");
    let upper = id.replace("primary.localhost", "PRIMARY.LOCALHOST");
    assert_eq!(
        manager.resolve(&upper).await.unwrap().expose_secret(),
        "first"
    );
    let other = format!("{}/secrets/db-password", stand_in.vault_url(SECONDARY_HOST));
    match manager.resolve(&other).await {
        Err(Error::UnconfiguredVaultHost { host, served_by }) => {
            assert_eq!(host, format!("{SECONDARY_HOST}:{}", stand_in.addr().port()));
            assert_eq!(served_by.to_string(), stand_in.vault_url(PRIMARY_HOST));
        }
        other => panic!("expected UnconfiguredVaultHost, got {other:?}"),
    }
    assert!(
        stand_in.requests().iter().all(|r| r.host != SECONDARY_HOST),
        "a request went to a vault that is not configured"
    );
}

#[tokio::test]
async fn missing_secrets_and_versions_are_not_found() {
    let stand_in = StandIn::start().await.unwrap();
    let vault = backend(&stand_in, PRIMARY_HOST);
    set(&vault, "present", "v", SdkAttributes::default(), None).await;
    let name = SecretName::new("absent").unwrap();
    match vault.fetch(&name, None).await {
        Err(e @ Error::NotFound { .. }) => {
            assert!(
                e.to_string()
                    .contains("secret `absent` was not found in https://primary.localhost:"),
                "{e}"
            )
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    let version = SecretVersion::new("0123456789abcdef0123456789abcdef").unwrap();
    let present = SecretName::new("present").unwrap();
    assert!(matches!(
        vault.fetch(&present, Some(&version)).await,
        Err(Error::NotFound {
            version: Some(_),
            ..
        })
    ));
}

#[tokio::test]
async fn names_outside_the_grammar_never_reach_the_wire() {
    let stand_in = StandIn::start().await.unwrap();
    let policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(Connection::new(
            "corp-vault",
            backend(&stand_in, PRIMARY_HOST),
        ))
        .build()
        .unwrap();
    let manager = WorkspaceManager::new(policy);
    for reference in [
        "../keys/x",
        "a/b",
        "%2e%2e/keys/x",
        "x?api-version=1",
        "x#y",
    ] {
        assert!(
            matches!(
                manager.resolve(reference).await,
                Err(Error::InvalidReference(_))
            ),
            "{reference}"
        );
    }
    assert!(stand_in.requests().is_empty(), "{:?}", stand_in.requests());
}

#[tokio::test]
async fn expiry_and_not_before_dates_are_enforced() {
    let stand_in = StandIn::start().await.unwrap();
    let past = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - TimeDelta::days(1);
    let future = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() + TimeDelta::days(1);
    let vault = backend(&stand_in, PRIMARY_HOST);
    let expired = SdkAttributes {
        expires: Some(past),
        ..Default::default()
    };
    let early = SdkAttributes {
        not_before: Some(future),
        ..Default::default()
    };
    set(&vault, "expired", "v", expired, None).await;
    set(&vault, "early", "v", early, None).await;
    let policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(Connection::new("corp-vault", vault))
        .build()
        .unwrap();
    let manager = WorkspaceManager::new(policy);
    match manager.resolve("expired").await {
        Err(Error::Expired { expired_at, .. }) => assert_eq!(expired_at, past),
        other => panic!("expected Expired, got {other:?}"),
    }
    match manager.resolve("early").await {
        Err(Error::NotYetValid { not_before, .. }) => assert_eq!(not_before, future),
        other => panic!("expected NotYetValid, got {other:?}"),
    }
}

#[tokio::test]
async fn a_scope_switch_invalidates_project_references_across_vaults() {
    let stand_in = StandIn::start().await.unwrap();
    stand_in.seed(PRIMARY_HOST, "db-password", Seed::value("workspace-db"));
    stand_in.seed(SECONDARY_HOST, "db-password", Seed::value("billing-db"));
    stand_in.seed(SECONDARY_HOST, "billing-only", Seed::value("billing-value"));
    let policy = ScopePolicy::builder(ScopeMode::Project)
        .with_workspace_connection(Connection::new(
            "workspace-vault",
            backend(&stand_in, PRIMARY_HOST),
        ))
        .with_project_connection(
            "billing",
            Connection::new("billing-vault", backend(&stand_in, SECONDARY_HOST)),
        )
        .build()
        .unwrap();
    let manager = WorkspaceManager::new(policy);

    let billing = manager
        .resolve("project:billing/db-password")
        .await
        .unwrap();
    assert_eq!(billing.expose_secret(), "billing-db");
    manager
        .resolve("project:billing/billing-only")
        .await
        .unwrap();
    assert!(matches!(
        manager.resolve("db-password").await,
        Err(Error::ScopeInvalidated { .. })
    ));

    let plan = manager.plan_switch(ScopeMode::Workspace).await;
    let report = plan.to_string();
    assert!(
        report.contains("2 known references will stop resolving"),
        "{report}"
    );
    assert!(
        report.contains("`db-password` via `workspace-vault`: exists"),
        "{report}"
    );
    assert!(
        report.contains("`billing-only` via `workspace-vault`: missing"),
        "{report}"
    );
    assert!(matches!(
        manager.apply_switch(&plan, None),
        Err(Error::AcknowledgementRequired { breaking: 2, .. })
    ));
    manager
        .apply_switch(&plan, Some(&plan.acknowledge("alice")))
        .unwrap();

    // The project reference was cached; it fails all the same.
    assert!(matches!(
        manager.resolve("project:billing/db-password").await,
        Err(Error::ScopeInvalidated { .. })
    ));
    assert_eq!(
        manager
            .resolve("db-password")
            .await
            .unwrap()
            .expose_secret(),
        "workspace-db"
    );
}

/// The report of checking a connection built from `builder`.
async fn check_connection(builder: AzureKeyVaultBuilder) -> ConnectionReport {
    let backend = builder.build().expect("valid settings");
    Connection::new("corp-vault", backend).check().await
}

#[tokio::test]
async fn the_connection_check_succeeds_and_says_so() {
    let stand_in = StandIn::start().await.unwrap();
    let report = check_connection(builder(&stand_in, PRIMARY_HOST)).await;
    assert!(report.is_success(), "{report}");
    let text = report.to_string();
    assert!(
        text.starts_with("Connection successful: `corp-vault` (https://primary.localhost:"),
        "{text}"
    );
    assert!(text.contains(" ms"), "{text}");
    // It probed with a name that cannot exist, authenticated, and knew no secret.
    let probes: Vec<_> = stand_in
        .requests()
        .into_iter()
        .filter(|r| r.host == PRIMARY_HOST && r.authorized)
        .collect();
    assert_eq!(probes.len(), 1, "{probes:?}");
    assert!(
        probes[0]
            .path_and_query
            .starts_with("/secrets/secretscope-connection-check-")
    );
    assert_eq!(probes[0].status, 404);
}

#[tokio::test]
async fn the_connection_check_names_each_credential_failure() {
    let stand_in = StandIn::start().await.unwrap();
    let unknown_tenant = "00000000-0000-4000-8000-000000000000";
    let unknown_client = "11111111-1111-4111-8111-111111111111";
    let cases = [
        (
            builder(&stand_in, PRIMARY_HOST).with_client_secret("wrong-secret"),
            "AADSTS7000215",
            "the client secret is wrong",
        ),
        (
            builder(&stand_in, PRIMARY_HOST).with_client_id(EXPIRED_SECRET_CLIENT_ID),
            "AADSTS7000222",
            "the client secret has expired",
        ),
        (
            builder(&stand_in, PRIMARY_HOST).with_client_id(unknown_client),
            "AADSTS700016",
            "no application with this client ID",
        ),
        (
            builder(&stand_in, PRIMARY_HOST).with_tenant_id(unknown_tenant),
            "AADSTS90002",
            "the tenant does not exist",
        ),
    ];
    for (builder, code, fix) in cases {
        let report = check_connection(builder).await;
        let text = report.to_string();
        assert!(
            text.starts_with("Connection failed: `corp-vault`"),
            "{text}"
        );
        match report.error() {
            Some(Error::Unauthenticated { code: got, .. }) => {
                assert_eq!(got.as_deref(), Some(code), "{text}")
            }
            other => panic!("{code}: expected Unauthenticated, got {other:?}"),
        }
        assert!(text.contains(fix), "{code}: {text}");
        assert!(
            !text.contains(CLIENT_SECRET) && !text.contains("wrong-secret"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn the_connection_check_names_the_missing_grant() {
    let stand_in = StandIn::start().await.unwrap();
    for (host, missing, words) in [
        (
            PRIMARY_HOST,
            MissingGrant::KeyVaultSecretsUserRole,
            "Key Vault Secrets User",
        ),
        (
            SECONDARY_HOST,
            MissingGrant::GetSecretPermission,
            "`Get` permission",
        ),
    ] {
        let report =
            check_connection(builder(&stand_in, host).with_client_id(NO_ACCESS_CLIENT_ID)).await;
        match report.error() {
            Some(Error::PermissionDenied { missing: got, .. }) => assert_eq!(got, &missing),
            other => panic!("{host}: expected PermissionDenied, got {other:?}"),
        }
        assert!(report.to_string().contains(words), "{report}");
    }
}

#[tokio::test]
async fn the_connection_check_names_transport_failures() {
    let stand_in = StandIn::start().await.unwrap();

    // The stand-in's CA is not trusted: TLS fails, and says what to add.
    let mut untrusted = AzureKeyVaultBuilder::new()
        .with_vault_url(stand_in.vault_url(PRIMARY_HOST))
        .with_allow_custom_host(true)
        .with_tenant_id(TENANT_ID)
        .with_client_id(CLIENT_ID)
        .with_client_secret(CLIENT_SECRET)
        .with_authority_host(stand_in.authority_host())
        .with_max_retries(0);
    for name in StandIn::hosts() {
        untrusted = untrusted.with_resolve(name, stand_in.addr());
    }
    let report = check_connection(untrusted).await;
    match report.error() {
        Some(e @ Error::Unavailable { .. }) => {
            assert!(e.to_string().contains("certificate is not trusted"), "{e}");
            assert!(std::error::Error::source(e).is_some(), "the cause is kept");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }

    // Nothing listens on the port: refused, and said so, after the retries.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let refused = builder(&stand_in, PRIMARY_HOST)
        .with_vault_url(format!("https://primary.localhost:{port}"))
        .with_max_retries(2)
        .with_retry_delays(Duration::from_millis(20), Duration::from_millis(50));
    let report = check_connection(refused).await;
    match report.error() {
        Some(e @ Error::Unavailable { .. }) => {
            assert!(e.is_temporary(), "{e}");
            assert!(e.to_string().contains("the connection was refused"), "{e}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }

    // A try that does not answer in time ends at the try timeout, with its cause kept, and
    // well before the deadline.
    stand_in.inject(Fault::new(PRIMARY_HOST, 200, "{}").with_delay(Duration::from_secs(20)));
    let slow_try = builder(&stand_in, PRIMARY_HOST)
        .with_try_timeout(Duration::from_millis(300))
        .with_deadline(Duration::from_secs(20));
    let started = Instant::now();
    let report = check_connection(slow_try).await;
    // Far below the 20 s the vault would take: the try timeout, not the deadline, ended it.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    match report.error() {
        Some(e @ Error::Unavailable { .. }) => {
            assert!(e.to_string().contains("did not answer in time"), "{e}");
            assert!(std::error::Error::source(e).is_some(), "the cause is kept");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }

    // A vault that does not answer in time fails at the deadline, not after the SDK's retries.
    stand_in.inject(Fault::new(PRIMARY_HOST, 200, "{}").with_delay(Duration::from_secs(20)));
    let slow = builder(&stand_in, PRIMARY_HOST).with_deadline(Duration::from_millis(500));
    let started = Instant::now();
    let report = check_connection(slow).await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    match report.error() {
        Some(e @ Error::Unavailable { .. }) => assert!(e.to_string().contains("deadline"), "{e}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let stand_in = StandIn::start().await.unwrap();
    let vault = backend(&stand_in, PRIMARY_HOST);
    set(&vault, "db-password", "v", SdkAttributes::default(), None).await;
    let elsewhere = format!(
        "{}/secrets/db-password/",
        stand_in.vault_url(SECONDARY_HOST)
    );
    stand_in.inject(Fault::new(PRIMARY_HOST, 302, "").with_header("location", &elsewhere));
    let error = vault
        .fetch(&SecretName::new("db-password").unwrap(), None)
        .await
        .unwrap_err();
    match &error {
        Error::InvalidConfig { field, reason, .. } => {
            assert_eq!(field, "vault URL");
            assert!(reason.contains("a redirect is not followed"), "{reason}");
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    assert!(
        stand_in.requests().iter().all(|r| r.host != SECONDARY_HOST),
        "the redirect was followed: {:?}",
        stand_in.requests()
    );
}

#[tokio::test]
async fn a_long_retry_after_on_503_is_capped() {
    let stand_in = StandIn::start().await.unwrap();
    let vault = builder(&stand_in, PRIMARY_HOST)
        .with_max_retries(1)
        .with_retry_delays(Duration::from_millis(20), Duration::from_millis(100))
        .with_deadline(Duration::from_secs(20))
        .build()
        .unwrap();
    set(&vault, "db-password", "v", SdkAttributes::default(), None).await;
    stand_in.inject(
        Fault::new(
            PRIMARY_HOST,
            503,
            r#"{"error":{"code":"ServiceUnavailable","message":"busy"}}"#,
        )
        .with_header("retry-after", "3600"),
    );
    let started = Instant::now();
    let secret = vault
        .fetch(&SecretName::new("db-password").unwrap(), None)
        .await
        .expect("the retry succeeds");
    assert_eq!(secret.secret.expose_secret(), "v");
    // Not an hour, nor the 20 s deadline: the wait was capped at the longest back-off.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn throttling_reports_the_retry_after() {
    let stand_in = StandIn::start().await.unwrap();
    let vault = backend(&stand_in, PRIMARY_HOST);
    set(&vault, "db-password", "v", SdkAttributes::default(), None).await;
    stand_in.inject(Fault::throttled(PRIMARY_HOST, Some(7)));
    match vault
        .fetch(&SecretName::new("db-password").unwrap(), None)
        .await
    {
        Err(e @ Error::Throttled { .. }) => {
            assert!(
                matches!(e, Error::Throttled { retry_after: Some(d), .. } if d == Duration::from_secs(7))
            );
            assert!(e.is_temporary());
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
}

#[tokio::test]
async fn a_challenge_for_another_resource_gets_no_token() {
    let stand_in = StandIn::start().await.unwrap();
    stand_in.set_challenge_resource("https://vault.azure.net");
    let report = check_connection(builder(&stand_in, PRIMARY_HOST)).await;
    match report.error() {
        Some(e @ Error::InvalidConfig { .. }) => {
            assert!(e.to_string().contains("challenge"), "{e}");
            // The challenge is not quoted back, in the message or its causes.
            let mut texts = vec![e.to_string(), format!("{e:?}")];
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                texts.extend([cause.to_string(), format!("{cause:?}")]);
                source = cause.source();
            }
            assert!(
                texts.iter().all(|t| !t.contains("https://vault.azure.net")),
                "{texts:?}"
            );
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    assert!(
        stand_in
            .requests()
            .iter()
            .all(|r| !r.authorized && r.host != LOGIN_HOST),
        "a token was requested or sent: {:?}",
        stand_in.requests()
    );
}

#[tokio::test]
async fn an_expired_token_is_named_as_such() {
    let stand_in = StandIn::start().await.unwrap();
    stand_in.seed(PRIMARY_HOST, "db-password", Seed::value("v"));
    let vault = backend(&stand_in, PRIMARY_HOST);
    let name = SecretName::new("db-password").unwrap();
    vault.fetch(&name, None).await.expect("a fresh token");
    // The credential still holds the token it was given for an hour; the vault says it has
    // expired (as after a clock jump).
    stand_in.expire_tokens();
    match vault.fetch(&name, None).await {
        Err(e @ Error::Unauthenticated { .. }) => {
            let Error::Unauthenticated { code, .. } = &e else {
                unreachable!()
            };
            assert_eq!(code.as_deref(), Some("TokenExpired"), "{e}");
            assert!(e.to_string().contains("check this host's clock"), "{e}");
        }
        other => panic!("expected Unauthenticated, got {other:?}"),
    }
}

#[tokio::test]
async fn secrets_changed_by_their_owner_read_as_they_are_now() {
    let stand_in = StandIn::start().await.unwrap();
    let vault = backend(&stand_in, PRIMARY_HOST);
    let first = set(&vault, "db-password", "v1", SdkAttributes::default(), None).await;
    set(&vault, "db-password", "v2", SdkAttributes::default(), None).await;
    let name = SecretName::new("db-password").unwrap();

    // The latest version disabled by its owner: refused; the older one still reads.
    let disable = UpdateSecretPropertiesParameters {
        secret_attributes: Some(SdkAttributes {
            enabled: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    vault
        .client()
        .update_secret_properties("db-password", disable.try_into().unwrap(), None)
        .await
        .expect("updated");
    assert!(
        matches!(
            vault.fetch(&name, None).await,
            Err(Error::Disabled { version: None, .. })
        ),
        "the latest version is disabled"
    );
    let older = vault.fetch(&name, Some(&first)).await.expect("enabled");
    assert_eq!(older.secret.expose_secret(), "v1");

    // Deleted: not found, and the check still succeeds.
    vault
        .client()
        .delete_secret("db-password", None)
        .await
        .expect("deleted");
    assert!(
        matches!(vault.fetch(&name, None).await, Err(Error::NotFound { .. })),
        "a deleted secret is not found"
    );
    vault
        .check()
        .await
        .expect("the check reads a name that never existed");
}

#[tokio::test]
async fn an_earlier_api_version_is_served() {
    let stand_in = StandIn::start().await.unwrap();
    stand_in.seed(PRIMARY_HOST, "db-password", Seed::value("v"));
    let vault = builder(&stand_in, PRIMARY_HOST)
        .with_api_version("7.4")
        .build()
        .unwrap();
    let fetched = vault
        .fetch(&SecretName::new("db-password").unwrap(), None)
        .await
        .unwrap();
    assert_eq!(fetched.secret.expose_secret(), "v");
    assert!(
        stand_in
            .requests()
            .iter()
            .filter(|r| r.host == PRIMARY_HOST)
            .all(|r| r.path_and_query.ends_with("?api-version=7.4")),
        "{:?}",
        stand_in.requests()
    );

    // A version Key Vault does not know is a 400 the backend reports as Rejected.
    let vault = builder(&stand_in, PRIMARY_HOST)
        .with_api_version("2099-01-01")
        .build()
        .unwrap();
    match vault
        .fetch(&SecretName::new("db-password").unwrap(), None)
        .await
    {
        Err(Error::Rejected {
            status: 400,
            code,
            detail,
            ..
        }) => {
            assert_eq!(code.as_deref(), Some("BadParameter"));
            assert!(
                detail.contains("(2099-01-01) is not recognized"),
                "{detail}"
            );
            assert!(detail.contains("check the API version"), "{detail}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
}
