//! The audit trail: every plan, refused and applied switch, adopted state, cache clear and
//! configured connection reaches the sink, with who, when and the plan's fingerprint.

use std::sync::{Arc, Mutex};

use secretscope::audit::{AuditEvent, AuditRecord, AuditSink, JsonLinesAudit};
use secretscope::memory::MemoryBackend;
use secretscope::prelude::*;
use secretscope::{Connection, Error, ScopeMode, ScopePolicy, WorkspaceManager};

#[derive(Debug, Default)]
struct Recorded(Mutex<Vec<AuditRecord>>);

impl AuditSink for Recorded {
    fn record(&self, record: &AuditRecord) {
        self.0.lock().unwrap().push(record.clone());
    }
}

impl Recorded {
    fn take(&self) -> Vec<AuditEvent> {
        self.0.lock().unwrap().drain(..).map(|r| r.event).collect()
    }
}

fn policy() -> secretscope::ScopePolicyBuilder {
    let workspace = MemoryBackend::new();
    workspace.set("db-password", "value-corp-31f").unwrap();
    let billing = MemoryBackend::new();
    billing.set("db-password", "value-billing-32f").unwrap();
    ScopePolicy::builder(ScopeMode::Project)
        .with_workspace_connection(Connection::new("corp-vault", workspace))
        .with_project_connection("billing", Connection::new("billing-vault", billing))
        .with_known_reference("project:billing/db-password")
}

#[tokio::test]
async fn every_audited_event_reaches_the_sink() {
    let sink = Arc::new(Recorded::default());
    let manager = WorkspaceManager::builder(policy().build().unwrap())
        .with_audit(sink.clone())
        .build();
    assert_eq!(
        sink.take(),
        [
            AuditEvent::ConnectionConfigured {
                connection: "corp-vault".into(),
                location: "memory".into(),
                serves: "workspace".into(),
            },
            AuditEvent::ConnectionConfigured {
                connection: "billing-vault".into(),
                location: "memory".into(),
                serves: "project:billing".into(),
            },
        ]
    );

    let plan = manager.plan_switch(ScopeMode::Workspace).await;
    let fingerprint = plan.fingerprint();
    assert_eq!(fingerprint.len(), 16);
    assert_eq!(
        sink.take(),
        [AuditEvent::SwitchPlanned {
            from: ScopeMode::Project,
            to: ScopeMode::Workspace,
            base_generation: 0,
            fingerprint: fingerprint.clone(),
            breaking: vec!["project:billing/db-password".into()],
        }]
    );
    // The same situation planned again has the same fingerprint.
    assert_eq!(
        manager
            .plan_switch(ScopeMode::Workspace)
            .await
            .fingerprint(),
        fingerprint
    );
    sink.take();

    manager.apply_switch(&plan, None).unwrap_err();
    assert_eq!(
        sink.take(),
        [AuditEvent::SwitchRefused {
            from: ScopeMode::Project,
            to: ScopeMode::Workspace,
            fingerprint: fingerprint.clone(),
            by: None,
            reason: "acknowledgement_required",
        }]
    );

    // Through the policy, too: one place audits a switch however it is applied.
    let state = manager
        .policy()
        .apply(&plan, Some(&plan.acknowledge("alice")))
        .unwrap();
    assert_eq!(
        sink.take(),
        [AuditEvent::SwitchApplied {
            from: ScopeMode::Project,
            to: ScopeMode::Workspace,
            generation: 1,
            fingerprint: fingerprint.clone(),
            by: "alice".into(),
            invalidated: vec!["project:billing/db-password".into()],
        }]
    );

    // The old plan is stale now: refused, and audited with who tried.
    let error = manager
        .apply_switch(&plan, Some(&plan.acknowledge("bob")))
        .unwrap_err();
    assert!(matches!(error, Error::StalePlan { .. }), "{error:?}");
    assert!(matches!(
        &sink.take()[..],
        [AuditEvent::SwitchRefused { by: Some(by), reason: "stale_plan", .. }] if by == "bob"
    ));

    // Another replica adopts the saved state.
    let replica_sink = Arc::new(Recorded::default());
    let replica = policy().with_audit(replica_sink.clone()).build().unwrap();
    assert!(replica.adopt(state.clone()).unwrap());
    assert_eq!(
        replica_sink.take(),
        [AuditEvent::StateAdopted {
            mode: ScopeMode::Workspace,
            generation: 1,
            switched_by: Some("alice".into()),
        }]
    );

    manager.resolve("db-password").await.unwrap();
    manager.invalidate("db-password").unwrap();
    manager.invalidate_connection("corp-vault");
    manager.clear();
    assert_eq!(
        sink.take(),
        [
            AuditEvent::CacheCleared {
                connection: None,
                reference: Some("db-password".into()),
            },
            AuditEvent::CacheCleared {
                connection: Some("corp-vault".into()),
                reference: None,
            },
            AuditEvent::CacheCleared {
                connection: None,
                reference: None,
            },
        ]
    );
}

#[tokio::test]
async fn the_json_lines_sink_appends_one_object_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = Arc::new(JsonLinesAudit::open(&path).unwrap());
    let manager = WorkspaceManager::builder(policy().build().unwrap())
        .with_audit(sink)
        .build();
    let plan = manager.plan_switch(ScopeMode::Workspace).await;
    manager
        .apply_switch(&plan, Some(&plan.acknowledge("alice")))
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let events: Vec<&str> = records
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "connection_configured",
            "connection_configured",
            "switch_planned",
            "switch_applied"
        ]
    );
    let applied = &records[3];
    assert_eq!(applied["by"], "alice");
    assert_eq!(applied["fingerprint"], plan.fingerprint());
    assert_eq!(applied["invalidated"][0], "project:billing/db-password");
    assert!(applied["at"].as_str().unwrap().ends_with('Z'));
    assert!(!text.contains("value-"), "no value: {text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}
