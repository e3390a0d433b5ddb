//! References inside a service's own configuration: `render` for a string, `resolve_tree` for
//! JSON and TOML trees. Values in place, each distinct reference fetched once and all at once,
//! failures naming the place and the reference, nothing left empty, and every reference found
//! known to switch plans.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use secretscope::memory::MemoryBackend;
use secretscope::prelude::*;
use secretscope::{
    Connection, Error, ErrorKind, Fetched, Location, ScopeMode, ScopePolicy, SecretName,
    SecretVersion, WorkspaceManager,
};

/// A memory backend whose answers take a second, counting its fetches.
#[derive(Debug)]
struct Slow {
    inner: MemoryBackend,
    fetches: AtomicUsize,
    location: Location,
}

#[async_trait::async_trait]
impl secretscope::SecretBackend for Slow {
    async fn fetch(
        &self,
        name: &SecretName,
        version: Option<&SecretVersion>,
    ) -> secretscope::Result<Fetched> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(1)).await;
        self.inner.fetch(name, version).await
    }
    async fn check(&self) -> secretscope::Result<()> {
        Ok(())
    }
    fn location(&self) -> &Location {
        &self.location
    }
}

fn slow(secrets: &[(&str, &str)]) -> Arc<Slow> {
    let inner = MemoryBackend::new();
    for (name, value) in secrets {
        inner.set(name, *value).unwrap();
    }
    Arc::new(Slow {
        inner,
        fetches: AtomicUsize::new(0),
        location: Location::other("slow memory"),
    })
}

fn workspace(backend: &Arc<Slow>) -> WorkspaceManager {
    WorkspaceManager::new(
        ScopePolicy::builder(ScopeMode::Workspace)
            .with_workspace_connection(Connection::from_arc("corp-vault", backend.clone()))
            .build()
            .unwrap(),
    )
}

fn unresolved(error: &Error) -> (&str, &str, &Error) {
    match error {
        Error::Unresolved {
            place,
            reference,
            error,
        } => (place, reference, error),
        other => panic!("expected Unresolved, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn render_fetches_each_distinct_reference_once_and_all_at_once() {
    let backend = slow(&[("db-user", "app"), ("db-password", "hunter2")]);
    let manager = workspace(&backend);
    let started = tokio::time::Instant::now();
    let rendered = manager
        .render("postgres://{{db-user}}:{{ db-password }}@db/app?again={{ db-password }}")
        .await
        .unwrap();
    assert_eq!(
        rendered.expose_secret(),
        "postgres://app:hunter2@db/app?again=hunter2"
    );
    assert_eq!(backend.fetches.load(Ordering::SeqCst), 2);
    // Two fetches of a second each, concurrently: one second in all.
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    // Text without references is returned as it is, without a fetch.
    let plain = manager.render("db-password and } or {").await.unwrap();
    assert_eq!(plain.expose_secret(), "db-password and } or {");
    assert_eq!(backend.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failing_reference_is_named_and_nothing_is_left_empty() {
    let backend = slow(&[("db-password", "hunter2")]);
    let manager = workspace(&backend);
    let error = manager
        .render("user={{ db-password }} key={{ api-key }}")
        .await
        .unwrap_err();
    let (place, reference, cause) = unresolved(&error);
    assert_eq!(place, "template");
    assert_eq!(reference, "`api-key`");
    assert_eq!(cause.kind(), ErrorKind::NotFound);
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(
        error.to_string(),
        "template: the reference `api-key` was not resolved (not_found)"
    );
    assert!(std::error::Error::source(&error).is_some());
    assert!(!format!("{error:?}").contains("hunter2"));
}

#[tokio::test]
async fn a_reference_that_does_not_parse_is_named_by_its_position_not_quoted() {
    let backend = slow(&[]);
    let manager = workspace(&backend);
    for (template, at) in [
        ("x={{ CANARY/4d5e6f }}", 3),
        ("héllo {{ CANARY-4d5e6f", 7),
        ("{{ }}", 1),
    ] {
        let error = manager.render(template).await.unwrap_err();
        let (_, reference, cause) = unresolved(&error);
        assert_eq!(reference, format!("at character {at}"), "{template}");
        assert_eq!(cause.kind(), ErrorKind::InvalidReference);
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(!text.contains("4d5e6f"), "{text}");
        }
    }
    assert_eq!(backend.fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_json_tree_is_resolved_in_place_with_key_paths_in_errors() {
    let backend = slow(&[("db-password", "hunter2"), ("api-key", "k-123")]);
    let manager = workspace(&backend);
    let mut tree = serde_json::json!({
        "database": {"url": "postgres://app:{{ db-password }}@db/app", "pool": 5},
        "servers": [{"password": "{{ db-password }}"}, {"token": "{{api-key}}"}],
        "name": "db-password",
    });
    manager.resolve_tree(&mut tree).await.unwrap();
    assert_eq!(
        tree,
        serde_json::json!({
            "database": {"url": "postgres://app:hunter2@db/app", "pool": 5},
            "servers": [{"password": "hunter2"}, {"token": "k-123"}],
            "name": "db-password",
        })
    );
    assert_eq!(backend.fetches.load(Ordering::SeqCst), 2);

    let mut tree = serde_json::json!({
        "database": {"url": "{{ db-password }}"},
        "servers": [{"password": "{{ db-password }}"}, {"token": "{{ missing }}"}],
    });
    let before = tree.clone();
    let error = manager.resolve_tree(&mut tree).await.unwrap_err();
    let (place, reference, _) = unresolved(&error);
    assert_eq!((place, reference), ("servers[1].token", "`missing`"));
    assert_eq!(
        tree, before,
        "a tree is left unchanged when a reference fails"
    );
}

#[tokio::test(start_paused = true)]
async fn a_toml_table_is_resolved_in_place() {
    let backend = slow(&[("db-password", "hunter2")]);
    let manager = workspace(&backend);
    let mut table: toml::Table = toml::from_str(
        "[database]\nurl = \"postgres://app:{{ db-password }}@db/app\"\nports = [5432]\n",
    )
    .unwrap();
    manager.resolve_tree(&mut table).await.unwrap();
    assert_eq!(
        table["database"]["url"].as_str(),
        Some("postgres://app:hunter2@db/app")
    );
}

#[tokio::test]
async fn references_found_in_configuration_are_known_to_switch_plans() {
    let billing = MemoryBackend::new();
    billing.set("db-password", "billing-secret").unwrap();
    let manager = WorkspaceManager::new(
        ScopePolicy::builder(ScopeMode::Project)
            .with_workspace_connection(Connection::new("corp-vault", MemoryBackend::new()))
            .with_project_connection("billing", Connection::new("billing-vault", billing))
            .build()
            .unwrap(),
    );
    let mut tree = serde_json::json!({"db": "{{ project:billing/db-password }}"});
    manager.resolve_tree(&mut tree).await.unwrap();
    // A reference that fails is known too: it is in the configuration all the same.
    let _ = manager
        .render("{{ project:billing/api-key }}")
        .await
        .unwrap_err();
    let plan = manager.plan_switch(ScopeMode::Workspace).await;
    let breaking: Vec<String> = plan
        .breaking()
        .iter()
        .map(|impact| impact.reference.to_string())
        .collect();
    assert_eq!(
        breaking,
        ["project:billing/api-key", "project:billing/db-password"]
    );
}

#[tokio::test]
async fn app_service_references_in_configuration_work_unchanged() {
    let vault =
        MemoryBackend::new().with_location(Location::url("https://corp.vault.azure.net").unwrap());
    vault.set("db-password", "corp-db").unwrap();
    let manager = WorkspaceManager::new(
        ScopePolicy::builder(ScopeMode::Workspace)
            .with_workspace_connection(Connection::new("corp-vault", vault))
            .build()
            .unwrap(),
    );
    let mut tree = serde_json::json!({
        "a": "@Microsoft.KeyVault(SecretUri=https://corp.vault.azure.net/secrets/db-password/)",
        "b": " @Microsoft.KeyVault(VaultName=corp;SecretName=db-password) ",
        "c": "not @Microsoft.KeyVault(VaultName=corp;SecretName=db-password)",
    });
    manager.resolve_tree(&mut tree).await.unwrap();
    assert_eq!(tree["a"], "corp-db");
    assert_eq!(tree["b"], " corp-db ");
    assert_eq!(
        tree["c"],
        "not @Microsoft.KeyVault(VaultName=corp;SecretName=db-password)"
    );

    // The host rule holds: a vault no connection serves is refused, without I/O.
    let mut tree =
        serde_json::json!({"a": "@Microsoft.KeyVault(VaultName=other;SecretName=db-password)"});
    let error = manager.resolve_tree(&mut tree).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnconfiguredVaultHost);
    let (place, _, _) = unresolved(&error);
    assert_eq!(place, "a");
}
