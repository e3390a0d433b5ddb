//! A canary secret goes through every public type and every error path; it must never show up
//! in a `Debug` string, an error message, an error's source chain, a report or a log line.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secretscope::memory::{MemoryBackend, SecretAttributes};
use secretscope::{
    CacheOptions, Connection, Error, ScopeMode, ScopePolicy, SecretValue, SecretsManager,
    WorkspaceManager,
};
use time::{Duration as TimeDelta, OffsetDateTime};

/// Valid nowhere in the reference grammar (not in a name, a project id or a vault host), so it
/// can only ever be a value.
const CANARY: &str = "CANARY^7f3a9c|secret";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

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
        .workspace_connection(Connection::from_arc("corp-vault", workspace.clone()))
        .project_connection(
            "billing",
            Connection::from_arc("billing-vault", project.clone()),
        )
        .build()
        .unwrap();
    let manager = WorkspaceManager::builder(Arc::new(policy))
        .cache(CacheOptions::new().with_stale_if_error(Duration::from_secs(60)))
        .build();

    // Every public type holding the value, or a backend holding it.
    let resolved = manager.resolve_with_metadata("db-password").await.unwrap();
    assert_eq!(resolved.value().expose_secret(), CANARY);
    let cached = manager.resolve_with_metadata("db-password").await.unwrap();
    let value = SecretValue::new(CANARY.to_owned());
    let secret = secretscope::SecretBackend::fetch(
        &*workspace,
        &secretscope::SecretName::new("db-password").unwrap(),
        None,
    )
    .await
    .unwrap();
    let connection = Connection::from_arc("corp-vault", workspace.clone());
    let report = connection.test().await;
    let debug_strings = [
        format!("{value:?}"),
        format!("{:?}", value.clone()),
        format!("{resolved:?}"),
        format!("{cached:?}"),
        format!("{:?}", resolved.metadata()),
        serde_json::to_string(resolved.metadata()).unwrap(),
        format!("{secret:?}"),
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

    drop(_guard);
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("secret resolved"),
        "logging was not captured: {logs}"
    );
    assert_clean("the logs", &logs);
}
