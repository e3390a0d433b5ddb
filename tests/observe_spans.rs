//! The spans a service's tracing subscriber receives: names, fields, and never a value.
//!
//! Alone in its test binary: a subscriber set for one test while other tests run on other
//! threads can find a span's callsite already judged uninteresting (tracing caches it per
//! callsite), so this test installs the subscriber for the whole process first.

use std::time::Duration;

use secretscope::budget::BudgetOptions;
use secretscope::memory::MemoryBackend;
use secretscope::prelude::*;
use secretscope::{CacheOptions, Connection, Location, ScopeMode, ScopePolicy, WorkspaceManager};

const VALUE: &str = "observed-value-5b7c";

fn manager(host: &str) -> WorkspaceManager {
    let vault =
        MemoryBackend::new().with_location(Location::url(&format!("https://{host}")).unwrap());
    vault.set("db-password", VALUE).unwrap();
    WorkspaceManager::builder(
        ScopePolicy::builder(ScopeMode::Workspace)
            .with_workspace_connection(Connection::new("corp-vault", vault))
            .build()
            .unwrap(),
    )
    .with_cache(CacheOptions::new().with_ttl(Duration::from_secs(60)))
    .with_budget(BudgetOptions::new())
    .build()
}

#[path = "support/captured.rs"]
mod captured;
use captured::Captured;

#[test]
fn spans_carry_reference_scope_connection_outcome_and_latency_never_a_value() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let manager = manager("observe-spans.vault.azure.net");
                manager.resolve("{{ db-password }}").await.unwrap();
                manager.resolve("db-password").await.unwrap();
                manager.resolve("api-key").await.unwrap_err();
                let reports = manager.check_connections().await;
                assert!(reports[0].is_success());
            })
    }
    let text = captured.text();
    assert!(!text.contains(VALUE), "{text}");
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("close")).collect();
    let has = |parts: &[&str]| {
        lines
            .iter()
            .any(|line| parts.iter().all(|p| line.contains(p)))
    };
    for parts in [
        &[
            "secretscope.resolve",
            "reference=db-password",
            "scope=\"workspace\"",
            "connection=corp-vault",
            "outcome=\"miss\"",
            "latency_us=",
        ][..],
        &["secretscope.resolve", "outcome=\"hit\""],
        &[
            "secretscope.resolve",
            "reference=api-key",
            "outcome=\"not_found\"",
        ],
        &[
            "secretscope.cache",
            "secret=db-password",
            "outcome=\"fetched\"",
        ],
        &[
            "secretscope.backend.fetch",
            "connection=corp-vault",
            "secret=db-password",
            "outcome=\"ok\"",
        ],
        &[
            "secretscope.backend.fetch",
            "secret=api-key",
            "outcome=\"not_found\"",
        ],
        &[
            "secretscope.check",
            "connection=corp-vault",
            "outcome=\"ok\"",
        ],
    ] {
        assert!(has(parts), "no span closed with {parts:?} in\n{text}");
    }
}
