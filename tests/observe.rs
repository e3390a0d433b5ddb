//! What a service's metrics recorder receives: the names and labels of `secretscope::observe`'s
//! table (the spans are in `observe_spans.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use secretscope::budget::BudgetOptions;
use secretscope::memory::MemoryBackend;
use secretscope::observe;
use secretscope::prelude::*;
use secretscope::{
    CacheOptions, Connection, Error, Fetched, Location, ScopeMode, ScopePolicy, SecretName,
    SecretVersion, ThrottledBy, WorkspaceManager,
};

const VALUE: &str = "observed-value-5b7c";

/// A vault at `host` holding `db-password`, that answers 429 while `throttling`.
#[derive(Debug)]
struct Vault {
    inner: MemoryBackend,
    throttling: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl secretscope::SecretBackend for Vault {
    async fn fetch(
        &self,
        name: &SecretName,
        version: Option<&SecretVersion>,
    ) -> secretscope::Result<Fetched> {
        if self.throttling.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::Throttled {
                location: self.location().clone(),
                retry_after: Some(Duration::from_secs(1)),
                by: ThrottledBy::Service,
            });
        }
        self.inner.fetch(name, version).await
    }
    async fn check(&self) -> secretscope::Result<()> {
        Ok(())
    }
    fn location(&self) -> &Location {
        self.inner.location()
    }
}

fn vault(host: &str) -> Arc<Vault> {
    let inner =
        MemoryBackend::new().with_location(Location::url(&format!("https://{host}")).unwrap());
    inner.set("db-password", VALUE).unwrap();
    Arc::new(Vault {
        inner,
        throttling: false.into(),
    })
}

fn manager(vault: &Arc<Vault>, budget: BudgetOptions) -> WorkspaceManager {
    WorkspaceManager::builder(
        ScopePolicy::builder(ScopeMode::Workspace)
            .with_workspace_connection(Connection::from_arc("corp-vault", vault.clone()))
            .build()
            .unwrap(),
    )
    .with_cache(CacheOptions::new().with_ttl(Duration::from_secs(60)))
    .with_budget(budget)
    .build()
}

/// Every metric recorded, as `name{label=value,...}` -> value.
fn metrics(snapshotter: &Snapshotter) -> BTreeMap<String, DebugValue> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let (_, key) = key.into_parts();
            let labels: Vec<String> = key
                .labels()
                .map(|label| format!("{}={}", label.key(), label.value()))
                .collect();
            (format!("{}{{{}}}", key.name(), labels.join(",")), value)
        })
        .collect()
}

fn counter(metrics: &BTreeMap<String, DebugValue>, key: &str) -> u64 {
    match metrics.get(key) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!(
            "{key}: {other:?} in {:#?}",
            metrics.keys().collect::<Vec<_>>()
        ),
    }
}

/// Runs `test` on a current-thread runtime (paused clock) with a recorder of its own.
fn with_recorder(test: impl AsyncFnOnce()) -> BTreeMap<String, DebugValue> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(test())
    });
    metrics(&snapshotter)
}

#[test]
fn resolves_backend_requests_and_cache_entries_are_counted() {
    let vault = vault("observe-resolves.vault.azure.net");
    let metrics = with_recorder(async || {
        let manager = manager(&vault, BudgetOptions::new());
        manager.resolve("db-password").await.unwrap(); // miss
        manager.resolve("db-password").await.unwrap(); // hit
        manager.resolve("db-password").await.unwrap(); // hit
        manager.resolve("api-key").await.unwrap_err(); // not found, from the vault
        manager.resolve("api-key").await.unwrap_err(); // not found, kept by the cache
        manager.resolve("project:billing/x").await.unwrap_err(); // no connection chosen
    });
    let c = |key: &str| counter(&metrics, key);
    assert_eq!(
        c("secretscope_resolves_total{connection=corp-vault,outcome=miss}"),
        1
    );
    assert_eq!(
        c("secretscope_resolves_total{connection=corp-vault,outcome=hit}"),
        2
    );
    assert_eq!(
        c("secretscope_resolves_total{connection=corp-vault,outcome=not_found}"),
        1
    );
    assert_eq!(
        c("secretscope_resolves_total{connection=corp-vault,outcome=negative}"),
        1
    );
    assert_eq!(
        c("secretscope_resolves_total{connection=corp-vault,outcome=stale}"),
        0
    );
    assert_eq!(
        c("secretscope_resolves_total{connection=,outcome=scope_invalidated}"),
        1
    );
    assert_eq!(
        c("secretscope_backend_requests_total{connection=corp-vault,status=ok}"),
        1
    );
    assert_eq!(
        c("secretscope_backend_requests_total{connection=corp-vault,status=not_found}"),
        1
    );
    match &metrics["secretscope_backend_request_duration_seconds{connection=corp-vault}"] {
        DebugValue::Histogram(samples) => assert_eq!(samples.len(), 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        metrics["secretscope_cache_entries{connection=corp-vault}"],
        DebugValue::Gauge(2.0.into())
    );
}

#[test]
fn throttling_and_budget_waits_are_counted() {
    let host = "observe-throttling.vault.azure.net";
    let vault = vault(host);
    let metrics = with_recorder(async || {
        // One request a second, one at once: the second fetch waits a second.
        let budget = BudgetOptions::new()
            .with_rate(1.try_into().unwrap())
            .with_burst(1.try_into().unwrap())
            .with_reserve(0)
            .with_max_wait(Duration::from_secs(5));
        let manager = manager(&vault, budget);
        manager.resolve("db-password").await.unwrap();
        let _ = manager
            .resolve("db-password/00000000000000000000000000000001")
            .await;
        vault
            .throttling
            .store(true, std::sync::atomic::Ordering::SeqCst);
        manager.clear();
        let error = manager.resolve("db-password").await.unwrap_err();
        assert!(matches!(
            error,
            Error::Throttled {
                by: ThrottledBy::Service,
                ..
            }
        ));
    });
    let c = |key: &str| counter(&metrics, key);
    assert_eq!(
        c(&format!(
            "secretscope_throttled_total{{host={host},by=service}}"
        )),
        1
    );
    assert!(c(&format!("secretscope_budget_waits_total{{host={host}}}")) >= 1);
    match &metrics[&format!("secretscope_budget_wait_seconds{{host={host}}}")] {
        DebugValue::Histogram(samples) => assert!(samples.iter().all(|s| s.0 > 0.0)),
        other => panic!("{other:?}"),
    }
    let outcome = "secretscope_resolves_total{connection=corp-vault,outcome=throttled}";
    assert_eq!(c(outcome), 1);
}

#[test]
fn the_names_are_those_of_the_table() {
    assert_eq!(observe::RESOLVES, "secretscope_resolves_total");
    assert_eq!(
        observe::BACKEND_REQUESTS,
        "secretscope_backend_requests_total"
    );
    assert_eq!(
        observe::BACKEND_DURATION,
        "secretscope_backend_request_duration_seconds"
    );
    assert_eq!(observe::THROTTLED, "secretscope_throttled_total");
    assert_eq!(observe::BUDGET_WAITS, "secretscope_budget_waits_total");
    assert_eq!(observe::BUDGET_WAIT, "secretscope_budget_wait_seconds");
    assert_eq!(observe::CACHE_ENTRIES, "secretscope_cache_entries");
}
