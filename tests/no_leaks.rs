//! A canary secret goes through every public type and every error path; it must never show up
//! in a `Debug` string, an error message, an error's source chain, a report or a log line.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use secretscope::file::{FileBackend, FileOptions};

use secretscope::memory::{MemoryBackend, SecretAttributes};
use secretscope::prelude::*;
use secretscope::{
    CacheOptions, Connection, Error, Fetched, Location, ScopeMode, ScopePolicy, SecretName,
    SecretValue, SecretVersion, WorkspaceManager,
};
use time::{Duration as TimeDelta, OffsetDateTime};

/// Valid nowhere in the reference grammar (not in a name, a project id or a vault host), so it
/// can only ever be a value.
const CANARY: &str = "CANARY^7f3a9c|secret";

#[path = "support/captured.rs"]
mod captured;
use captured::Captured;

/// Everything the crate can print about `error`: message, debug form, and every cause.
fn error_texts(error: &Error) -> Vec<String> {
    let mut texts = vec![error.to_string(), format!("{error:?}")];
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        texts.push(cause.to_string());
        texts.push(format!("{cause:?}"));
        source = cause.source();
    }
    texts
}

fn assert_clean(what: &str, text: &str) {
    assert!(
        !text.contains(CANARY),
        "the canary leaked through {what}: {text}"
    );
}

fn assert_error_clean(what: &str, error: &Error) {
    for text in error_texts(error) {
        assert_clean(what, &text);
    }
}

/// A backend holding the canary that fails temporarily while `down` is set.
#[derive(Debug)]
struct Flaky {
    inner: MemoryBackend,
    down: AtomicBool,
    location: Location,
}

impl Flaky {
    fn failure(&self) -> Option<Error> {
        self.down
            .load(Ordering::SeqCst)
            .then(|| Error::Unavailable {
                location: self.location.clone(),
                reason: "down for the test".into(),
                source: Some(secretscope::ErrorSource::new(std::io::Error::other(
                    "reset",
                ))),
            })
    }
}

#[async_trait::async_trait]
impl secretscope::SecretBackend for Flaky {
    async fn fetch(
        &self,
        name: &SecretName,
        version: Option<&SecretVersion>,
    ) -> secretscope::Result<Fetched> {
        match self.failure() {
            Some(error) => Err(error),
            None => self.inner.fetch(name, version).await,
        }
    }
    async fn check(&self) -> secretscope::Result<()> {
        self.failure().map_or(Ok(()), Err)
    }
    fn location(&self) -> &Location {
        &self.location
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_canary_never_leaks() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let workspace = Arc::new(MemoryBackend::new());
    workspace.set("db-password", CANARY).unwrap();
    workspace
        .set_with(
            "disabled",
            CANARY,
            SecretAttributes::new().with_enabled(false),
        )
        .unwrap();
    let past = OffsetDateTime::now_utc() - TimeDelta::days(1);
    let future = OffsetDateTime::now_utc() + TimeDelta::days(1);
    workspace
        .set_with(
            "expired",
            CANARY,
            SecretAttributes::new().with_expires(past),
        )
        .unwrap();
    workspace
        .set_with(
            "early",
            CANARY,
            SecretAttributes::new().with_not_before(future),
        )
        .unwrap();
    let project = Arc::new(MemoryBackend::new());
    project.set("db-password", CANARY).unwrap();

    let policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(Connection::from_arc("corp-vault", workspace.clone()))
        .with_project_connection(
            "billing",
            Connection::from_arc("billing-vault", project.clone()),
        )
        .build()
        .unwrap();
    let manager = WorkspaceManager::builder(policy)
        .with_cache(CacheOptions::new().with_stale_if_error(Duration::from_secs(60)))
        .build();

    // Every public type holding the value, or a backend holding it.
    let resolved = manager.resolve_with_metadata("db-password").await.unwrap();
    assert_eq!(resolved.value().expose_secret(), CANARY);
    let cached = manager.resolve_with_metadata("db-password").await.unwrap();
    let value = SecretValue::new(CANARY.to_owned());
    let fetched = secretscope::SecretBackend::fetch(
        &*workspace,
        &secretscope::SecretName::new("db-password").unwrap(),
        None,
    )
    .await
    .unwrap();
    let secret = fetched.secret.clone();
    let connection = Connection::from_arc("corp-vault", workspace.clone());
    let report = connection.check().await;
    let debug_strings = [
        format!("{value:?}"),
        format!("{:?}", value.clone()),
        format!("{resolved:?}"),
        format!("{cached:?}"),
        format!("{:?}", resolved.metadata()),
        serde_json::to_string(&resolved.metadata()).unwrap(),
        format!("{secret:?}"),
        format!("{fetched:?}"),
        format!("{:?}", secret.properties()),
        format!("{workspace:?}"),
        format!("{connection:?}"),
        format!("{report:?}"),
        report.to_string(),
        format!("{:?}", manager.policy()),
        format!("{manager:?}"),
    ];
    for text in &debug_strings {
        assert_clean("a Debug or Display string", text);
    }

    // Every error the resolve path produces while the canary is stored.
    let mut errors = Vec::new();
    for reference in [
        "missing",
        "disabled",
        "expired",
        "early",
        "project:billing/db-password",
        "db-password/0badc0de0badc0de0badc0de0badc0de",
        "https://elsewhere.vault.azure.net/secrets/db-password",
        // The canary where a reference belongs: a misplaced secret is never echoed.
        CANARY,
        &format!("{{{{ {CANARY}"),
        &format!("project:{CANARY}/x"),
        &format!("project:p/{CANARY}"),
        &format!("db-password/{CANARY}"),
        &format!("https://{CANARY}.vault.azure.net/secrets/x"),
        &format!("https://v.vault.azure.net/secrets/x?{CANARY}"),
        &format!("https://{CANARY}@v.vault.azure.net/secrets/x"),
        &format!("{CANARY}:{CANARY}"),
        &CANARY.repeat(100),
    ] {
        errors.push(manager.resolve(reference).await.unwrap_err());
    }

    // Scope switching: plans (which read the target secrets), refusals, staleness.
    let plan = manager.plan_switch(ScopeMode::Project).await;
    assert_clean("a switch plan", &plan.to_string());
    assert_clean("a switch plan", &format!("{plan:?}"));
    assert_clean("a switch plan", &serde_json::to_string(&plan).unwrap());
    errors.push(manager.apply_switch(&plan, None).unwrap_err());
    manager
        .apply_switch(&plan, Some(&plan.acknowledge("alice")))
        .unwrap();
    errors.push(
        manager
            .apply_switch(&plan, Some(&plan.acknowledge("alice")))
            .unwrap_err(),
    );
    errors.push(manager.resolve("db-password").await.unwrap_err());
    errors.push(
        manager
            .resolve("project:nowhere/db-password")
            .await
            .unwrap_err(),
    );

    for error in &errors {
        assert_error_clean("an error", error);
    }
    let kinds: Vec<String> = errors
        .iter()
        .map(|e| {
            format!("{e:?}")
                .split([' ', '(', '{'])
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    for expected in [
        "NotFound",
        "UnconfiguredVaultHost",
        "Disabled",
        "Expired",
        "NotYetValid",
        "ScopeInvalidated",
        "InvalidReference",
        "AcknowledgementRequired",
        "StalePlan",
        "NotConfigured",
    ] {
        assert!(
            kinds.iter().any(|k| k == expected),
            "{expected} not exercised: {kinds:?}"
        );
    }

    // A local secrets file holding the canary, through a manager.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dev.toml");
    std::fs::write(
        &path,
        format!(
            "[secrets]\ndb = \"{CANARY}\"\n[secrets.off]\nvalue = \"{CANARY}\"\nenabled = false\n"
        ),
    )
    .unwrap();
    let shared = FileOptions::new().with_allow_readable_by_others(true);
    let file = FileBackend::open_with(&path, shared).unwrap();
    assert_clean("a FileBackend's Debug", &format!("{file:?}"));
    let policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(Connection::new("dev-file", file))
        .build()
        .unwrap();
    let file_manager = WorkspaceManager::new(policy);
    assert_eq!(
        file_manager.resolve("db").await.unwrap().expose_secret(),
        CANARY
    );
    assert_clean("a manager's Debug", &format!("{file_manager:?}"));
    for reference in ["off", "nothing"] {
        assert_error_clean(
            "a file error",
            &file_manager.resolve(reference).await.unwrap_err(),
        );
    }

    // A backend failing temporarily: a stale value served (and logged), a failed connection
    // test, a plan that cannot check presence.
    let flaky = Arc::new(Flaky {
        inner: MemoryBackend::new(),
        down: AtomicBool::new(false),
        location: Location::other("flaky"),
    });
    flaky.inner.set("db-password", CANARY).unwrap();
    let policy = ScopePolicy::builder(ScopeMode::Project)
        .with_workspace_connection(Connection::from_arc("flaky-vault", flaky.clone()))
        .with_project_connection(
            "billing",
            Connection::from_arc("billing-vault", project.clone()),
        )
        .with_known_reference("project:billing/db-password")
        .build()
        .unwrap();
    let flaky_manager = WorkspaceManager::builder(policy)
        .with_cache(
            CacheOptions::new()
                .with_ttl(Duration::from_nanos(1))
                .with_stale_if_error(Duration::from_secs(60)),
        )
        .build();
    flaky_manager
        .resolve("project:billing/db-password")
        .await
        .unwrap();
    flaky.down.store(true, Ordering::SeqCst);
    let plan = flaky_manager.plan_switch(ScopeMode::Workspace).await;
    assert!(matches!(
        plan.breaking()[0].replacements[0].presence,
        secretscope::Presence::Unknown(_)
    ));
    assert_clean("a plan with a failed check", &plan.to_string());
    let report = Connection::from_arc("flaky-vault", flaky.clone())
        .check()
        .await;
    assert!(!report.is_success());
    assert_clean("a failed connection report", &report.to_string());
    assert_clean("a failed connection report", &format!("{report:?}"));
    flaky.down.store(false, Ordering::SeqCst);
    let workspace_policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(Connection::from_arc("flaky-vault", flaky.clone()))
        .build()
        .unwrap();
    let stale_manager = WorkspaceManager::builder(workspace_policy)
        .with_cache(
            CacheOptions::new()
                .with_ttl(Duration::from_nanos(1))
                .with_stale_if_error(Duration::from_secs(60)),
        )
        .build();
    stale_manager.resolve("db-password").await.unwrap();
    flaky.down.store(true, Ordering::SeqCst);
    // Times to live are kept to within the cache clock's resolution (1 ms at the least).
    tokio::time::sleep(Duration::from_millis(20)).await;
    let stale = stale_manager
        .resolve_with_metadata("db-password")
        .await
        .unwrap();
    assert_eq!(stale.metadata().source, secretscope::Source::StaleCache);
    assert_clean("a stale secret's Debug", &format!("{stale:?}"));

    // Configuration errors: a value pasted where a project id or a reference belongs.
    let pasted = ScopePolicy::builder(ScopeMode::Project)
        .with_project_connection(CANARY, Connection::new("x", MemoryBackend::new()))
        .with_known_reference(CANARY);
    assert_clean("a policy builder's Debug", &format!("{pasted:?}"));
    assert_error_clean("a policy builder error", &pasted.build().unwrap_err());
    let pasted = ScopePolicy::builder(ScopeMode::Project).with_known_reference(CANARY);
    assert_error_clean("a policy builder error", &pasted.build().unwrap_err());

    drop(_guard);
    let logs = logs.text();
    assert!(
        logs.contains("serving a stale cached secret"),
        "the stale path was not logged: {logs}"
    );
    assert!(
        logs.contains("secret fetched"),
        "logging was not captured: {logs}"
    );
    assert_clean("the logs", &logs);
}
