//! The test support services get with the `testing` feature: `Fixture` and `StandIn::manager`.

use secretscope::prelude::*;
use secretscope::testing::{Fixture, PRIMARY_HOST, Seed, StandIn};
use secretscope::{Error, ScopeMode};

#[tokio::test]
async fn a_fixture_serves_both_scopes_and_switches() {
    let fixture = Fixture::new()
        .with_workspace_secret("db-password", "workspace-secret")
        .with_project_secret("billing", "db-password", "billing-secret")
        .with_project_secret("search", "api-key", "search-key")
        .with_known_reference("project:billing/db-password");
    let project = fixture.manager(ScopeMode::Project);
    assert_eq!(
        project
            .resolve("project:search/api-key")
            .await
            .unwrap()
            .expose_secret(),
        "search-key"
    );
    assert!(matches!(
        project.resolve("db-password").await,
        Err(Error::ScopeInvalidated { .. })
    ));
    let plan = project.plan_switch(ScopeMode::Workspace).await;
    let breaking: Vec<String> = plan
        .breaking()
        .iter()
        .map(|i| i.reference.to_string())
        .collect();
    assert_eq!(
        breaking,
        ["project:billing/db-password", "project:search/api-key"]
    );

    let workspace = fixture.manager(ScopeMode::Workspace);
    assert_eq!(
        workspace
            .resolve("db-password")
            .await
            .unwrap()
            .expose_secret(),
        "workspace-secret"
    );
    // A rotation in the fixture reaches a manager once its cache lets go.
    fixture.workspace().set("db-password", "rotated").unwrap();
    workspace.invalidate("db-password").unwrap();
    assert_eq!(
        workspace
            .resolve("db-password")
            .await
            .unwrap()
            .expose_secret(),
        "rotated"
    );
    assert!(fixture.project("billing").is_some() && fixture.project("nope").is_none());
    let names: Vec<String> = workspace
        .policy()
        .connections()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    assert_eq!(names, ["workspace", "project-billing", "project-search"]);
}

#[test]
#[should_panic(expected = "fixture: ")]
fn a_fixture_with_an_invalid_name_stops_the_test() {
    let _ = Fixture::new().with_workspace_secret("not/a name", "x");
}

#[tokio::test]
async fn the_stand_in_gives_a_ready_manager_that_trusts_it() {
    let stand_in = StandIn::start().await.unwrap();
    stand_in.seed(PRIMARY_HOST, "db-password", Seed::value("hunter2"));
    let manager = stand_in.manager(PRIMARY_HOST).unwrap();
    let reports = manager.check_connections().await;
    assert!(reports[0].is_success(), "{}", reports[0]);
    assert_eq!(reports[0].connection().as_str(), PRIMARY_HOST);
    let resolved = manager.resolve_with_metadata("db-password").await.unwrap();
    assert_eq!(resolved.value().expose_secret(), "hunter2");
    // A Key Vault identifier of the stand-in's host routes to it.
    let identifier = format!("{}/secrets/db-password", stand_in.vault_url(PRIMARY_HOST));
    assert_eq!(
        manager.resolve(&identifier).await.unwrap().expose_secret(),
        "hunter2"
    );
}
