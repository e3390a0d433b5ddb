//! The scope-semantics contract: routing, invalidation, planned and acknowledged switches.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use secretscope::memory::{MemoryBackend, SecretAttributes};
use secretscope::prelude::*;
use secretscope::scope::Presence;
use secretscope::{
    CacheOptions, Connection, Error, Fetched, Location, PolicyState, RefScope, ScopeMode,
    ScopePolicy, SecretName, SecretVersion, Source, ValidityOptions, WorkspaceManager,
};
use time::{Duration as TimeDelta, OffsetDateTime};

/// A workspace vault holding `db-password` and `shared-key`; project `billing` holding
/// `db-password` and `billing-only`; project `search` holding `db-password`.
fn vaults() -> (Arc<MemoryBackend>, Arc<MemoryBackend>, Arc<MemoryBackend>) {
    let workspace = Arc::new(MemoryBackend::new());
    workspace.set("db-password", "workspace-db").unwrap();
    workspace.set("shared-key", "workspace-shared").unwrap();
    let billing = Arc::new(MemoryBackend::new());
    billing.set("db-password", "billing-db").unwrap();
    billing.set("billing-only", "billing-value").unwrap();
    let search = Arc::new(MemoryBackend::new());
    search.set("db-password", "search-db").unwrap();
    (workspace, billing, search)
}

fn policy(mode: ScopeMode) -> ScopePolicy {
    let (workspace, billing, search) = vaults();
    ScopePolicy::builder(mode)
        .with_workspace_connection(Connection::from_arc("corp-vault", workspace))
        .with_project_connection("billing", Connection::from_arc("billing-vault", billing))
        .with_project_connection("search", Connection::from_arc("search-vault", search))
        .build()
        .unwrap()
}

async fn value(manager: &WorkspaceManager, reference: &str) -> Result<String, Error> {
    manager
        .resolve(reference)
        .await
        .map(|v| v.expose_secret().to_owned())
}

#[tokio::test]
async fn workspace_mode_resolves_workspace_references_and_invalidates_project_ones() {
    let manager = WorkspaceManager::new(policy(ScopeMode::Workspace));
    assert_eq!(
        value(&manager, "db-password").await.unwrap(),
        "workspace-db"
    );
    assert_eq!(
        value(&manager, "{{ DB-Password }}").await.unwrap(),
        "workspace-db"
    );
    match value(&manager, "project:billing/db-password").await {
        Err(e @ Error::ScopeInvalidated { .. }) => {
            let message = e.to_string();
            assert!(message.contains("project:billing/db-password"), "{message}");
            assert!(message.contains("workspace scope"), "{message}");
        }
        other => panic!("expected ScopeInvalidated, got {other:?}"),
    }
}

#[tokio::test]
async fn project_mode_resolves_each_project_through_its_connection() {
    let manager = WorkspaceManager::new(policy(ScopeMode::Project));
    assert_eq!(
        value(&manager, "project:billing/db-password")
            .await
            .unwrap(),
        "billing-db"
    );
    assert_eq!(
        value(&manager, "project:search/db-password").await.unwrap(),
        "search-db"
    );
    assert!(matches!(
        value(&manager, "db-password").await,
        Err(Error::ScopeInvalidated {
            active: ScopeMode::Project,
            ..
        })
    ));
    match value(&manager, "project:unknown/db-password").await {
        Err(e @ Error::NotConfigured { .. }) => {
            assert!(e.to_string().contains("project `unknown`"))
        }
        other => panic!("expected NotConfigured, got {other:?}"),
    }
    // A project's connection never serves another project's secrets.
    assert!(matches!(
        value(&manager, "project:search/billing-only").await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn workspace_mode_without_a_workspace_connection_is_not_configured() {
    let policy = ScopePolicy::builder(ScopeMode::Workspace).build().unwrap();
    let manager = WorkspaceManager::new(policy);
    assert!(matches!(
        value(&manager, "db-password").await,
        Err(Error::NotConfigured {
            scope: RefScope::Workspace
        })
    ));
}

#[tokio::test]
async fn metadata_describes_the_resolved_secret() {
    let vault = MemoryBackend::new();
    let expires = OffsetDateTime::now_utc() + TimeDelta::days(30);
    let version = vault
        .set_with(
            "tls-key",
            "pem",
            SecretAttributes::new()
                .with_content_type("application/x-pem-file")
                .with_expires(expires),
        )
        .unwrap();
    let policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(Connection::new("corp-vault", vault))
        .build()
        .unwrap();
    let manager = WorkspaceManager::new(policy);

    let first = manager.resolve_with_metadata("tls-key").await.unwrap();
    let meta = first.metadata();
    assert_eq!(first.age(), Duration::ZERO);
    assert_eq!(meta.reference.to_string(), "tls-key");
    assert_eq!(meta.connection, "corp-vault");
    assert_eq!(meta.properties.name.as_str(), "tls-key");
    assert_eq!(meta.properties.version.as_ref(), Some(&version));
    assert_eq!(
        meta.properties.content_type.as_deref(),
        Some("application/x-pem-file")
    );
    assert!(meta.properties.enabled);
    assert_eq!(meta.properties.expires, Some(expires));
    assert!(meta.properties.created.is_some() && meta.properties.updated.is_some());
    assert_eq!(meta.source, Source::Backend);
    assert_eq!(meta.policy_generation, 0);

    let second = manager.resolve_with_metadata("tls-key").await.unwrap();
    assert_eq!(second.metadata().source, Source::Cache);
    assert_eq!(second.connection(), &meta.connection);
    assert_eq!(second.properties(), &meta.properties);
    let pinned = format!("tls-key/{version}");
    assert_eq!(
        manager.resolve(&pinned).await.unwrap().expose_secret(),
        "pem"
    );

    let json = serde_json::to_value(second.metadata()).unwrap();
    assert_eq!(json["scope"], "workspace");
    assert_eq!(json["source"], "cache");
    assert_eq!(json["content_type"], "application/x-pem-file");
}

#[tokio::test]
async fn dates_are_enforced_unless_allowed() {
    let vault = Arc::new(MemoryBackend::new());
    let past = OffsetDateTime::now_utc() - TimeDelta::hours(1);
    let future = OffsetDateTime::now_utc() + TimeDelta::hours(1);
    vault
        .set_with("old", "v", SecretAttributes::new().with_expires(past))
        .unwrap();
    vault
        .set_with(
            "early",
            "v",
            SecretAttributes::new().with_not_before(future),
        )
        .unwrap();
    let build = |validity| {
        let policy = ScopePolicy::builder(ScopeMode::Workspace)
            .with_workspace_connection(Connection::from_arc("corp-vault", vault.clone()))
            .build()
            .unwrap();
        WorkspaceManager::builder(policy)
            .with_validity(validity)
            .build()
    };

    let strict = build(ValidityOptions::new());
    match strict.resolve("old").await {
        Err(Error::Expired { expired_at, .. }) => assert_eq!(expired_at, past),
        other => panic!("expected Expired, got {other:?}"),
    }
    match strict.resolve("early").await {
        Err(e @ Error::NotYetValid { .. }) => {
            let year = future.year().to_string();
            assert!(
                e.to_string().contains(&year),
                "the message gives the date: {e}"
            );
        }
        other => panic!("expected NotYetValid, got {other:?}"),
    }

    let lenient = build(
        ValidityOptions::new()
            .with_allow_expired(true)
            .with_allow_not_yet_valid(true),
    );
    assert!(lenient.resolve("old").await.is_ok());
    assert!(lenient.resolve("early").await.is_ok());
}

#[tokio::test]
async fn identifiers_are_accepted_only_for_the_host_of_the_serving_connection() {
    let manager = WorkspaceManager::new(policy(ScopeMode::Workspace));
    // Memory backends have no vault host, so no identifier can be routed to them.
    match value(&manager, "https://evil.example.com/secrets/db-password").await {
        Err(e @ Error::UnconfiguredVaultHost { .. }) => {
            let message = e.to_string();
            assert!(message.contains("`evil.example.com`"), "{message}");
            assert!(message.contains("points to memory"), "{message}");
        }
        other => panic!("expected UnconfiguredVaultHost, got {other:?}"),
    }

    let vault =
        MemoryBackend::new().with_location(Location::url("https://corp.vault.azure.net").unwrap());
    vault.set("db-password", "corp-db").unwrap();
    let policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(Connection::new("corp-vault", vault))
        .build()
        .unwrap();
    let manager = WorkspaceManager::new(policy);
    for identifier in [
        "https://corp.vault.azure.net/secrets/db-password",
        "https://CORP.vault.azure.net:443/secrets/DB-PASSWORD",
        "{{ https://corp.vault.azure.net/secrets/db-password }}",
        "@Microsoft.KeyVault(SecretUri=https://corp.vault.azure.net/secrets/db-password/)",
        "@Microsoft.KeyVault(VaultName=corp;SecretName=db-password)",
    ] {
        assert_eq!(
            value(&manager, identifier).await.unwrap(),
            "corp-db",
            "{identifier}"
        );
    }
    for other_host in [
        "https://corp.vault.azure.net:8443/secrets/db-password",
        "https://corp.vault.azure.net.evil.com/secrets/db-password",
        "https://other.vault.azure.net/secrets/db-password",
        "@Microsoft.KeyVault(VaultName=other;SecretName=db-password)",
    ] {
        match value(&manager, other_host).await {
            Err(Error::UnconfiguredVaultHost { served_by, .. }) => {
                assert_eq!(served_by.to_string(), "https://corp.vault.azure.net")
            }
            other => panic!("{other_host}: expected UnconfiguredVaultHost, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_switch_needs_a_plan_and_its_acknowledgement() {
    let manager = WorkspaceManager::new(policy(ScopeMode::Project));
    manager
        .policy()
        .register("project:billing/billing-only")
        .unwrap();
    value(&manager, "project:billing/db-password")
        .await
        .unwrap();
    value(&manager, "project:search/db-password").await.unwrap();

    let plan = manager.plan_switch(ScopeMode::Workspace).await;
    assert_eq!(
        (plan.from(), plan.to()),
        (ScopeMode::Project, ScopeMode::Workspace)
    );
    let broken: Vec<String> = plan
        .breaking()
        .iter()
        .map(|i| i.reference.to_string())
        .collect();
    assert_eq!(
        broken,
        [
            "project:billing/billing-only",
            "project:billing/db-password",
            "project:search/db-password"
        ]
    );
    let presence: Vec<&Presence> = plan
        .breaking()
        .iter()
        .map(|i| &i.replacements[0].presence)
        .collect();
    assert_eq!(
        presence,
        [&Presence::Missing, &Presence::Found, &Presence::Found]
    );
    assert_eq!(
        plan.breaking()[0].replacements[0].reference.to_string(),
        "billing-only"
    );
    let report = plan.to_string();
    assert!(
        report.contains("3 known references will stop resolving"),
        "{report}"
    );
    assert!(
        report.contains("missing; create it before switching"),
        "{report}"
    );

    // Refused without an acknowledgement, and with one made from another plan: nothing changes.
    let other_plan = manager.plan_switch(ScopeMode::Workspace).await;
    for ack in [None, Some(other_plan.acknowledge("mallory"))] {
        match manager.apply_switch(&plan, ack.as_ref()) {
            Err(Error::AcknowledgementRequired { breaking: 3, .. }) => {}
            other => panic!("expected AcknowledgementRequired, got {other:?}"),
        }
        assert_eq!(manager.policy().mode(), ScopeMode::Project);
        assert_eq!(manager.policy().generation(), 0);
    }
    assert_eq!(
        value(&manager, "project:billing/db-password")
            .await
            .unwrap(),
        "billing-db"
    );

    let state = manager
        .apply_switch(&plan, Some(&plan.acknowledge("alice")))
        .unwrap();
    assert_eq!(state.mode, ScopeMode::Workspace);
    assert_eq!(state.generation, 1);
    assert_eq!(state.switched_by.as_deref(), Some("alice"));
    assert!(state.switched_at.is_some());

    // Cached or not, project references are now invalid.
    assert!(matches!(
        value(&manager, "project:billing/db-password").await,
        Err(Error::ScopeInvalidated { .. })
    ));
    assert_eq!(
        value(&manager, "db-password").await.unwrap(),
        "workspace-db"
    );

    // The old plan and the other plan are stale now.
    for stale in [&plan, &other_plan] {
        match manager.apply_switch(stale, Some(&stale.acknowledge("alice"))) {
            Err(Error::StalePlan {
                plan_generation: 0,
                current_generation: 1,
                ..
            }) => {}
            other => panic!("expected StalePlan, got {other:?}"),
        }
    }
    assert_eq!(manager.policy().mode(), ScopeMode::Workspace);
}

#[tokio::test]
async fn a_reference_first_seen_after_the_plan_makes_it_stale() {
    let manager = WorkspaceManager::new(policy(ScopeMode::Project));
    value(&manager, "project:billing/db-password")
        .await
        .unwrap();
    let plan = manager.plan_switch(ScopeMode::Workspace).await;
    assert_eq!(plan.breaking().len(), 1);
    // Another service starts using a project reference: the plan did not show it.
    value(&manager, "project:search/db-password").await.unwrap();
    match manager.apply_switch(&plan, Some(&plan.acknowledge("alice"))) {
        Err(
            e @ Error::StalePlan {
                unreviewed_references: 1,
                ..
            },
        ) => assert!(
            e.to_string().contains("1 reference first seen after"),
            "{e}"
        ),
        other => panic!("expected StalePlan, got {other:?}"),
    }
    assert_eq!(manager.policy().mode(), ScopeMode::Project);
    // Planned again, it lists both and applies.
    let plan = manager.plan_switch(ScopeMode::Workspace).await;
    assert_eq!(plan.breaking().len(), 2);
    manager
        .apply_switch(&plan, Some(&plan.acknowledge("alice")))
        .unwrap();
}

/// References resolved already parsed are known too, cache hits and answers a backend had at
/// once included, so a plan cannot miss them.
#[tokio::test]
async fn parsed_references_are_known_however_they_are_answered() {
    for cache in [CacheOptions::new(), CacheOptions::disabled()] {
        // Two projects on one connection: the second project's read is a cache hit.
        let vault = Arc::new(MemoryBackend::new());
        vault.set("db", "v").unwrap();
        let policy = ScopePolicy::builder(ScopeMode::Project)
            .with_project_connection("billing", Connection::from_arc("shared", vault.clone()))
            .with_project_connection("search", Connection::from_arc("shared", vault))
            .build()
            .unwrap();
        let manager = WorkspaceManager::builder(policy).with_cache(cache).build();
        for text in [
            "project:billing/db",
            "project:search/db",
            "project:search/db",
        ] {
            let reference = secretscope::SecretRef::parse(text).unwrap();
            manager.resolve_ref(&reference).await.unwrap();
        }
        let plan = manager.plan_switch(ScopeMode::Workspace).await;
        let breaking: Vec<String> = plan
            .breaking()
            .iter()
            .map(|impact| impact.reference.to_string())
            .collect();
        assert_eq!(breaking, ["project:billing/db", "project:search/db"]);
    }
}

/// A connection that serves the workspace and a project keeps its cache across a switch
/// between them: a project reference answered from it is known all the same.
#[tokio::test]
async fn a_hit_on_a_connection_serving_both_scopes_is_known() {
    let vault = Arc::new(MemoryBackend::new());
    vault.set("db", "v").unwrap();
    let corp = || Connection::from_arc("corp-vault", vault.clone());
    let policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(corp())
        .with_project_connection("billing", corp())
        .build()
        .unwrap();
    let manager = WorkspaceManager::new(policy);
    value(&manager, "db").await.unwrap();
    let plan = manager.plan_switch(ScopeMode::Project).await;
    manager
        .apply_switch(&plan, Some(&plan.acknowledge("t")))
        .unwrap();
    let reference = secretscope::SecretRef::parse("project:billing/db").unwrap();
    let resolved = manager.resolve_ref(&reference).await.unwrap();
    assert_eq!(resolved.source(), Source::Cache);
    let plan = manager.plan_switch(ScopeMode::Workspace).await;
    assert_eq!(plan.breaking().len(), 1);
    assert_eq!(plan.breaking()[0].reference, reference);
}

/// A plan says when the target scope's secret exists but is outside its validity dates:
/// after the switch it would not resolve either.
#[tokio::test]
async fn a_plan_reports_secrets_outside_their_dates() {
    let past = (OffsetDateTime::now_utc() - TimeDelta::hours(1))
        .replace_nanosecond(0)
        .unwrap();
    let future = (OffsetDateTime::now_utc() + TimeDelta::hours(1))
        .replace_nanosecond(0)
        .unwrap();
    let workspace = MemoryBackend::new();
    workspace
        .set_with("old", "v", SecretAttributes::new().with_expires(past))
        .unwrap();
    workspace
        .set_with(
            "early",
            "v",
            SecretAttributes::new().with_not_before(future),
        )
        .unwrap();
    workspace.set("fine", "v").unwrap();
    let policy = ScopePolicy::builder(ScopeMode::Project)
        .with_workspace_connection(Connection::new("corp-vault", workspace))
        .with_project_connection(
            "billing",
            Connection::new("billing-vault", MemoryBackend::new()),
        )
        .with_known_reference("project:billing/old")
        .with_known_reference("project:billing/early")
        .with_known_reference("project:billing/fine")
        .build()
        .unwrap();
    let plan = policy.plan_switch(ScopeMode::Workspace).await;
    let presence: Vec<(String, Presence)> = plan
        .breaking()
        .iter()
        .map(|i| (i.reference.to_string(), i.replacements[0].presence.clone()))
        .collect();
    assert_eq!(
        presence,
        [
            (
                "project:billing/early".to_owned(),
                Presence::NotYetValid(future)
            ),
            ("project:billing/fine".to_owned(), Presence::Found),
            ("project:billing/old".to_owned(), Presence::Expired(past)),
        ]
    );
    let json = serde_json::to_string(&Presence::Expired(past)).unwrap();
    assert!(json.contains(r#""state":"expired""#), "{json}");
    assert_eq!(
        serde_json::from_str::<Presence>(&json).unwrap(),
        Presence::Expired(past)
    );
    let report = plan.to_string();
    assert!(report.contains("expired on"), "{report}");
    assert!(report.contains("not valid before"), "{report}");
}

#[tokio::test]
async fn an_acknowledgement_names_who_made_it() {
    let manager = WorkspaceManager::new(policy(ScopeMode::Project));
    let plan = manager.plan_switch(ScopeMode::Workspace).await;
    for nobody in ["", "  "] {
        assert!(matches!(
            manager.apply_switch(&plan, Some(&plan.acknowledge(nobody))),
            Err(Error::AcknowledgementRequired { .. })
        ));
    }
    assert_eq!(manager.policy().mode(), ScopeMode::Project);
}

#[tokio::test]
async fn damaged_generations_are_refused() {
    let mut state = PolicyState::new(ScopeMode::Project);
    state.generation = u64::MAX;
    assert!(matches!(
        ScopePolicy::builder_from_state(state.clone()).build(),
        Err(Error::InvalidConfig { .. })
    ));
    assert!(matches!(
        policy(ScopeMode::Project).adopt(state),
        Err(Error::InvalidConfig { .. })
    ));
    let mut highest = PolicyState::new(ScopeMode::Workspace);
    highest.generation = secretscope::scope::MAX_GENERATION;
    let policy = ScopePolicy::builder_from_state(highest).build().unwrap();
    assert_eq!(policy.generation(), secretscope::scope::MAX_GENERATION);
    assert_eq!(policy.mode(), ScopeMode::Workspace);
}

#[tokio::test]
async fn switching_to_project_scope_reports_every_project_candidate() {
    let manager = WorkspaceManager::new(policy(ScopeMode::Workspace));
    value(&manager, "shared-key").await.unwrap();
    value(&manager, "db-password").await.unwrap();
    let plan = manager.plan_switch(ScopeMode::Project).await;
    let impact = &plan.breaking()[0];
    assert_eq!(impact.reference.to_string(), "db-password");
    let candidates: Vec<(String, Presence)> = impact
        .replacements
        .iter()
        .map(|r| (r.reference.to_string(), r.presence.clone()))
        .collect();
    assert_eq!(
        candidates,
        [
            ("project:billing/db-password".to_owned(), Presence::Found),
            ("project:search/db-password".to_owned(), Presence::Found)
        ]
    );
    assert!(
        plan.breaking()[1]
            .replacements
            .iter()
            .all(|r| r.presence == Presence::Missing)
    );
}

#[tokio::test]
async fn plans_and_acknowledgements_survive_serialisation() {
    let manager = WorkspaceManager::new(policy(ScopeMode::Project));
    value(&manager, "project:billing/db-password")
        .await
        .unwrap();
    let plan = manager.plan_switch(ScopeMode::Workspace).await;
    let ack = plan.acknowledge("alice");
    let plan_back = serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
    let ack_back = serde_json::from_str(&serde_json::to_string(&ack).unwrap()).unwrap();
    assert_eq!(plan, plan_back);
    assert_eq!(ack, ack_back);
    manager.apply_switch(&plan_back, Some(&ack_back)).unwrap();
    assert_eq!(manager.policy().mode(), ScopeMode::Workspace);
}

#[tokio::test]
async fn the_policy_state_round_trips_and_replicas_adopt_newer_states() {
    let first = WorkspaceManager::new(policy(ScopeMode::Project));
    let plan = first.plan_switch(ScopeMode::Workspace).await;
    let saved = first
        .apply_switch(&plan, Some(&plan.acknowledge("alice")))
        .unwrap();
    let json = serde_json::to_string(&saved).unwrap();
    let loaded: PolicyState = serde_json::from_str(&json).unwrap();
    assert_eq!(loaded, saved);
    let toml_text = toml::to_string(&saved).unwrap();
    assert_eq!(toml::from_str::<PolicyState>(&toml_text).unwrap(), saved);

    // A replica built from the saved state behaves the same.
    let (workspace, ..) = vaults();
    let replica = ScopePolicy::builder_from_state(loaded.clone())
        .with_workspace_connection(Connection::from_arc("corp-vault", workspace))
        .build()
        .unwrap();
    assert_eq!(replica.state(), saved);

    // A replica still on the old state adopts the newer one, and not an older one.
    let behind = policy(ScopeMode::Project);
    assert!(behind.adopt(loaded.clone()).unwrap());
    assert_eq!(behind.mode(), ScopeMode::Workspace);
    assert!(!behind.adopt(PolicyState::new(ScopeMode::Project)).unwrap());
    assert_eq!(behind.mode(), ScopeMode::Workspace);

    // Two replicas that switched independently to different modes at one generation conflict.
    let mut conflicting = loaded;
    conflicting.mode = ScopeMode::Project;
    assert!(matches!(
        behind.adopt(conflicting),
        Err(Error::InvalidConfig { .. })
    ));
}

#[tokio::test]
async fn builder_refuses_bad_settings() {
    let bad_project = ScopePolicy::builder(ScopeMode::Project)
        .with_project_connection("ok", Connection::new("x", MemoryBackend::new()))
        .with_project_connection("no spaces", Connection::new("y", MemoryBackend::new()))
        .build();
    match bad_project {
        Err(e @ Error::InvalidConfig { .. }) => {
            let message = e.to_string();
            assert!(message.contains("project connection #2"), "{message}");
            assert!(
                !message.contains("no spaces"),
                "an invalid id is not quoted: {message}"
            );
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    let twice = ScopePolicy::builder(ScopeMode::Project)
        .with_project_connection("p", Connection::new("a", MemoryBackend::new()))
        .with_project_connection("p", Connection::new("b", MemoryBackend::new()))
        .build();
    assert!(matches!(twice, Err(Error::InvalidConfig { .. })));
    // One name for two different backends is refused; one connection shared by two projects
    // is fine.
    let same_name = ScopePolicy::builder(ScopeMode::Project)
        .with_project_connection("p", Connection::new("vault", MemoryBackend::new()))
        .with_project_connection("q", Connection::new("vault", MemoryBackend::new()))
        .build();
    match same_name {
        Err(e @ Error::InvalidConfig { .. }) => {
            assert!(e.to_string().contains("already named `vault`"), "{e}")
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
    let shared = Connection::new("vault", MemoryBackend::new());
    let policy = ScopePolicy::builder(ScopeMode::Project)
        .with_project_connection("p", shared.clone())
        .with_project_connection("q", shared)
        .build()
        .unwrap();
    assert_eq!(policy.connections().len(), 1);
    let unnamed = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(Connection::new(" ", MemoryBackend::new()))
        .build();
    assert!(matches!(unnamed, Err(Error::InvalidConfig { .. })));
    let bad_known = ScopePolicy::builder(ScopeMode::Workspace)
        .with_known_reference("{{ oops")
        .build();
    assert!(matches!(bad_known, Err(Error::InvalidConfig { .. })));
}

/// A backend that takes a while, so resolves are in flight while the switch is applied.
#[derive(Debug)]
struct Slow(MemoryBackend);

#[async_trait::async_trait]
impl secretscope::SecretBackend for Slow {
    async fn fetch(
        &self,
        name: &SecretName,
        version: Option<&SecretVersion>,
    ) -> secretscope::Result<Fetched> {
        tokio::time::sleep(Duration::from_micros(200)).await;
        self.0.fetch(name, version).await
    }
    async fn check(&self) -> secretscope::Result<()> {
        Ok(())
    }
    fn location(&self) -> &Location {
        self.0.location()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_invalidated_reference_resolves_once_a_switch_is_applied() {
    let (workspace, ..) = vaults();
    let billing = MemoryBackend::new();
    billing.set("db-password", "billing-db").unwrap();
    let policy = ScopePolicy::builder(ScopeMode::Project)
        .with_workspace_connection(Connection::from_arc("corp-vault", workspace))
        .with_project_connection("billing", Connection::new("billing-vault", Slow(billing)))
        .build()
        .unwrap();
    // A short time to live exercises both cached and fetched resolves.
    let manager = Arc::new(
        WorkspaceManager::builder(policy)
            .with_cache(CacheOptions::new().with_ttl(Duration::from_millis(1)))
            .build(),
    );
    let applied = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let before = Arc::new(AtomicUsize::new(0));

    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (manager, applied, stop, before) = (
                manager.clone(),
                applied.clone(),
                stop.clone(),
                before.clone(),
            );
            tokio::spawn(async move {
                let mut violations = Vec::new();
                let mut after = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    let started_after_apply = applied.load(Ordering::SeqCst);
                    let result = manager
                        .resolve_with_metadata("project:billing/db-password")
                        .await;
                    match (started_after_apply, result) {
                        (false, Ok(r)) => {
                            assert_eq!(r.metadata().policy_generation, 0, "task {i}");
                            before.fetch_add(1, Ordering::Relaxed);
                        }
                        (true, Ok(r)) => violations.push(r.metadata().policy_generation),
                        (true, Err(Error::ScopeInvalidated { .. })) => after += 1,
                        (false, Err(Error::ScopeInvalidated { .. })) => {}
                        (_, Err(e)) => panic!("task {i}: unexpected error {e}"),
                    }
                    // Workspace references resolve only under the new generation.
                    if let Ok(r) = manager.resolve_with_metadata("db-password").await {
                        assert_eq!(r.metadata().policy_generation, 1, "task {i}");
                    }
                }
                (violations, after)
            })
        })
        .collect();

    // Let every task resolve successfully a few times before switching.
    while before.load(Ordering::Relaxed) < 64 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let plan = manager.plan_switch(ScopeMode::Workspace).await;
    manager
        .apply_switch(&plan, Some(&plan.acknowledge("test")))
        .unwrap();
    applied.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::SeqCst);

    let mut refused_after = 0;
    for task in tasks {
        let (violations, after) = task.await.unwrap();
        assert!(
            violations.is_empty(),
            "invalidated reference resolved after apply returned (generations {violations:?})"
        );
        refused_after += after;
    }
    assert!(refused_after > 0, "no resolve ran after the switch");
}

/// A backend that holds every fetch until released, to put a resolve in flight across a switch.
#[derive(Debug)]
struct Gate {
    inner: MemoryBackend,
    entered: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl secretscope::SecretBackend for Gate {
    async fn fetch(
        &self,
        name: &SecretName,
        version: Option<&SecretVersion>,
    ) -> secretscope::Result<Fetched> {
        self.entered.notify_one();
        self.release.notified().await;
        self.inner.fetch(name, version).await
    }
    async fn check(&self) -> secretscope::Result<()> {
        Ok(())
    }
    fn location(&self) -> &Location {
        self.inner.location()
    }
}

#[tokio::test]
async fn a_resolve_in_flight_during_a_switch_does_not_return_the_invalidated_secret() {
    let gate = Arc::new(Gate {
        inner: MemoryBackend::new(),
        entered: tokio::sync::Notify::new(),
        release: tokio::sync::Notify::new(),
    });
    gate.inner.set("db-password", "billing-db").unwrap();
    let policy = ScopePolicy::builder(ScopeMode::Project)
        .with_project_connection(
            "billing",
            Connection::from_arc("billing-vault", gate.clone()),
        )
        .build()
        .unwrap();
    let manager = Arc::new(WorkspaceManager::new(policy));
    let in_flight = tokio::spawn({
        let manager = manager.clone();
        async move { manager.resolve("project:billing/db-password").await }
    });
    gate.entered.notified().await;
    let plan = manager.plan_switch(ScopeMode::Workspace).await;
    manager
        .apply_switch(&plan, Some(&plan.acknowledge("test")))
        .unwrap();
    gate.release.notify_one();
    match in_flight.await.unwrap() {
        Err(Error::ScopeInvalidated { .. }) => {}
        other => {
            panic!("expected ScopeInvalidated for a resolve that spanned the switch, got {other:?}")
        }
    }
}

/// A backend that is down, counting how often it is asked.
#[derive(Debug)]
struct Down {
    calls: AtomicUsize,
    location: Location,
}

impl Default for Down {
    fn default() -> Self {
        Self {
            calls: AtomicUsize::new(0),
            location: Location::other("down"),
        }
    }
}

#[async_trait::async_trait]
impl secretscope::SecretBackend for Down {
    async fn fetch(
        &self,
        _: &SecretName,
        _: Option<&SecretVersion>,
    ) -> secretscope::Result<Fetched> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(Error::Unavailable {
            location: self.location.clone(),
            reason: "unreachable for the test".into(),
            source: None,
        })
    }
    async fn check(&self) -> secretscope::Result<()> {
        Ok(())
    }
    fn location(&self) -> &Location {
        &self.location
    }
}

#[tokio::test]
async fn a_plan_asks_an_unreachable_connection_once() {
    let down = Arc::new(Down::default());
    let mut builder = ScopePolicy::builder(ScopeMode::Project)
        .with_workspace_connection(Connection::from_arc("down-vault", down.clone()));
    for name in ["a", "b", "c", "d", "e"] {
        builder = builder.with_known_reference(format!("project:billing/{name}"));
    }
    let policy = builder.build().unwrap();
    let plan = policy.plan_switch(ScopeMode::Workspace).await;
    assert_eq!(plan.breaking().len(), 5);
    for impact in plan.breaking() {
        assert!(
            matches!(&impact.replacements[0].presence, Presence::Unknown(why) if why.contains("unreachable for the test")),
            "{impact:?}"
        );
    }
    assert_eq!(down.calls.load(Ordering::SeqCst), 1);
}
