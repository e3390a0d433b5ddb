//! The cache layer, through the manager and on its own: time to live, keys, single flight,
//! stale-if-error, refresh ahead, negative caching, eviction, and cache control. Deterministic:
//! a counting backend and Tokio's paused clock.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use secretscope::cache::{CacheOptions, CachedBackend};
use secretscope::conformance;
use secretscope::memory::MemoryBackend;
use secretscope::prelude::*;
use secretscope::{
    Connection, Error, Fetched, Location, PolicyState, ScopeMode, ScopePolicy, SecretName,
    SecretVersion, Source, WorkspaceManager,
};
use tokio::time::sleep;

/// A memory backend that counts fetches, can be slowed down, and can be taken down.
#[derive(Debug)]
struct Counting {
    inner: MemoryBackend,
    fetches: AtomicUsize,
    delay: parking_lot::Mutex<Duration>,
    down: AtomicBool,
    location: Location,
}

impl Counting {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: MemoryBackend::new(),
            fetches: AtomicUsize::new(0),
            delay: parking_lot::Mutex::new(Duration::ZERO),
            down: AtomicBool::new(false),
            location: Location::other("counting memory"),
        })
    }

    fn with(secrets: &[(&str, &str)]) -> Arc<Self> {
        let backend = Self::new();
        for (name, value) in secrets {
            backend.inner.set(name, *value).unwrap();
        }
        backend
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn set_delay(&self, delay: Duration) {
        *self.delay.lock() = delay;
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl secretscope::SecretBackend for Counting {
    async fn fetch(
        &self,
        name: &SecretName,
        version: Option<&SecretVersion>,
    ) -> secretscope::Result<Fetched> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        // The vault reads the secret, and its answer takes `delay` to arrive.
        let answer = self.inner.fetch(name, version).await;
        let delay = *self.delay.lock();
        if !delay.is_zero() {
            sleep(delay).await;
        }
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::Unavailable {
                location: self.location.clone(),
                reason: "down for the test".into(),
                source: None,
            });
        }
        answer
    }
    async fn check(&self) -> secretscope::Result<()> {
        Ok(())
    }
    fn location(&self) -> &Location {
        &self.location
    }
}

fn manager_over(backend: &Arc<Counting>, cache: CacheOptions) -> WorkspaceManager {
    let policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(Connection::from_arc("corp-vault", backend.clone()))
        .build()
        .unwrap();
    WorkspaceManager::builder(policy).with_cache(cache).build()
}

async fn value(manager: &WorkspaceManager, reference: &str) -> Result<String, Error> {
    manager
        .resolve(reference)
        .await
        .map(|v| v.expose_secret().to_owned())
}

async fn source(manager: &WorkspaceManager, reference: &str) -> (Source, Duration) {
    let resolved = manager.resolve_with_metadata(reference).await.unwrap();
    (resolved.source(), resolved.age())
}

/// Hits tell time to within a hundredth of the cache's shortest duration: 50 ms with the
/// default 5-second negative time to live.
const RESOLUTION: Duration = Duration::from_millis(50);

fn assert_age(age: Duration, expected: Duration) {
    assert!(
        age <= expected && age + RESOLUTION >= expected,
        "age {age:?}, expected {expected:?} to within {RESOLUTION:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn values_are_served_for_their_time_to_live() {
    let backend = Counting::with(&[("db", "v1")]);
    let manager = manager_over(
        &backend,
        CacheOptions::new()
            .with_ttl(Duration::from_secs(300))
            .with_refresh_ahead(Duration::ZERO),
    );
    assert_eq!(
        source(&manager, "db").await,
        (Source::Backend, Duration::ZERO)
    );
    sleep(Duration::from_secs(299)).await;
    let (from, age) = source(&manager, "db").await;
    assert_eq!(from, Source::Cache);
    assert_age(age, Duration::from_secs(299));
    assert_eq!(backend.fetches(), 1);
    sleep(Duration::from_secs(2)).await;
    assert_eq!(source(&manager, "db").await.0, Source::Backend);
    assert_eq!(backend.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_default_time_to_live_is_five_minutes() {
    assert_eq!(CacheOptions::new().ttl(), Duration::from_secs(300));
    let backend = Counting::with(&[("db", "v1")]);
    let manager = manager_over(
        &backend,
        CacheOptions::new().with_refresh_ahead(Duration::ZERO),
    );
    value(&manager, "db").await.unwrap();
    sleep(Duration::from_secs(300) - RESOLUTION).await;
    value(&manager, "db").await.unwrap();
    assert_eq!(backend.fetches(), 1);
    sleep(2 * RESOLUTION).await;
    value(&manager, "db").await.unwrap();
    assert_eq!(backend.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn keys_are_connection_name_and_version() {
    let workspace = Counting::with(&[("db", "workspace")]);
    let billing = Counting::with(&[("db", "billing")]);
    let version = billing.inner.set("db", "billing-2").unwrap();
    let policy = ScopePolicy::builder(ScopeMode::Project)
        .with_project_connection(
            "billing",
            Connection::from_arc("billing-vault", billing.clone()),
        )
        .with_project_connection(
            "search",
            Connection::from_arc("search-vault", workspace.clone()),
        )
        .build()
        .unwrap();
    let manager = WorkspaceManager::new(policy);
    assert_eq!(
        value(&manager, "project:billing/db").await.unwrap(),
        "billing-2"
    );
    assert_eq!(
        value(&manager, "project:search/db").await.unwrap(),
        "workspace"
    );
    // Names compare case-insensitively: one entry.
    assert_eq!(
        value(&manager, "project:billing/DB").await.unwrap(),
        "billing-2"
    );
    // A pinned version is an entry of its own, even for the latest version.
    let pinned = format!("project:billing/db/{version}");
    assert_eq!(value(&manager, &pinned).await.unwrap(), "billing-2");
    let upper = format!("project:billing/db/{}", version.as_str().to_uppercase());
    assert_eq!(value(&manager, &upper).await.unwrap(), "billing-2");
    assert_eq!((billing.fetches(), workspace.fetches()), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn concurrent_misses_make_one_request_and_share_its_outcome() {
    let backend = Counting::with(&[("db", "v1")]);
    backend.set_delay(Duration::from_millis(50));
    let manager = Arc::new(manager_over(&backend, CacheOptions::new()));
    let resolve_all = |reference: &'static str| {
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let manager = manager.clone();
                tokio::spawn(async move { value(&manager, reference).await })
            })
            .collect();
        async move {
            let mut outcomes = Vec::new();
            for task in tasks {
                outcomes.push(task.await.unwrap());
            }
            outcomes
        }
    };
    let values = resolve_all("db").await;
    assert!(
        values.iter().all(|v| v.as_deref().ok() == Some("v1")),
        "{values:?}"
    );
    assert_eq!(backend.fetches(), 1);

    // A failure is shared the same way: one request, every waiter gets the error.
    let errors = resolve_all("missing").await;
    assert!(
        errors
            .iter()
            .all(|e| matches!(e, Err(Error::NotFound { .. }))),
        "{errors:?}"
    );
    assert_eq!(backend.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_leader_hands_the_fetch_over() {
    let backend = Counting::with(&[("db", "v1")]);
    backend.set_delay(Duration::from_secs(60));
    let manager = Arc::new(manager_over(&backend, CacheOptions::new()));
    let leader = tokio::spawn({
        let manager = manager.clone();
        async move { value(&manager, "db").await }
    });
    sleep(Duration::from_millis(10)).await;
    let waiter = tokio::spawn({
        let manager = manager.clone();
        async move { value(&manager, "db").await }
    });
    sleep(Duration::from_millis(10)).await;
    leader.abort();
    backend.set_delay(Duration::ZERO);
    let outcome = tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .expect("the waiter took the fetch over")
        .unwrap();
    assert_eq!(outcome.unwrap(), "v1");
    assert_eq!(backend.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn stale_values_are_served_on_temporary_failures_within_the_window() {
    let backend = Counting::with(&[("db", "v1")]);
    let manager = manager_over(
        &backend,
        CacheOptions::new()
            .with_ttl(Duration::from_secs(10))
            .with_refresh_ahead(Duration::ZERO)
            .with_stale_if_error(Duration::from_secs(60)),
    );
    value(&manager, "db").await.unwrap();
    backend.set_down(true);
    sleep(Duration::from_secs(30)).await;
    let stale = manager.resolve_with_metadata("db").await.unwrap();
    assert_eq!(stale.value().expose_secret(), "v1");
    assert_eq!(stale.source(), Source::StaleCache);
    assert_age(stale.age(), Duration::from_secs(30));
    assert_eq!(stale.metadata().source, Source::StaleCache);
    // Past the window the failure shows.
    sleep(Duration::from_secs(41)).await;
    let err = manager.resolve("db").await.unwrap_err();
    assert!(err.is_temporary(), "{err}");
    // Back up, fresh again.
    backend.set_down(false);
    assert_eq!(source(&manager, "db").await.0, Source::Backend);
}

#[tokio::test(start_paused = true)]
async fn stale_values_are_off_by_default_and_never_hide_permanent_failures() {
    let backend = Counting::with(&[("db", "v1")]);
    let manager = manager_over(
        &backend,
        CacheOptions::new().with_ttl(Duration::from_secs(1)),
    );
    value(&manager, "db").await.unwrap();
    backend.set_down(true);
    sleep(Duration::from_secs(2)).await;
    assert!(manager.resolve("db").await.unwrap_err().is_temporary());

    let backend = Counting::with(&[("db", "v1")]);
    let manager = manager_over(
        &backend,
        CacheOptions::new()
            .with_ttl(Duration::from_secs(1))
            .with_negative_ttl(Duration::ZERO)
            .with_stale_if_error(Duration::from_secs(60)),
    );
    value(&manager, "db").await.unwrap();
    backend.inner.remove("db");
    sleep(Duration::from_secs(2)).await;
    assert!(matches!(
        manager.resolve("db").await,
        Err(Error::NotFound { .. })
    ));
    // The copy was dropped: a later outage cannot bring the deleted secret back.
    backend.set_down(true);
    assert!(manager.resolve("db").await.unwrap_err().is_temporary());
}

#[tokio::test(start_paused = true)]
async fn a_read_near_expiry_refreshes_once_in_the_background() {
    let backend = Counting::with(&[("db", "v1")]);
    let manager = manager_over(
        &backend,
        CacheOptions::new()
            .with_ttl(Duration::from_secs(100))
            .with_refresh_ahead(Duration::from_secs(20)),
    );
    value(&manager, "db").await.unwrap();
    backend.inner.set("db", "v2").unwrap();
    // Before the last 20 s: no refresh.
    sleep(Duration::from_secs(79)).await;
    assert_eq!(value(&manager, "db").await.unwrap(), "v1");
    tokio::task::yield_now().await;
    assert_eq!(backend.fetches(), 1);
    // In the last 20 s: many reads, still served at once from the cache, one refresh.
    sleep(Duration::from_secs(2)).await;
    backend.set_delay(Duration::from_secs(1));
    for _ in 0..50 {
        assert_eq!(source(&manager, "db").await.0, Source::Cache);
    }
    sleep(Duration::from_secs(2)).await;
    assert_eq!(backend.fetches(), 2);
    // The refreshed value replaced the old one before it expired: nobody waited.
    let (from, age) = source(&manager, "db").await;
    assert_eq!(from, Source::Cache);
    assert!(age < Duration::from_secs(2), "{age:?}");
    assert_eq!(value(&manager, "db").await.unwrap(), "v2");
    sleep(Duration::from_secs(30)).await;
    assert_eq!(source(&manager, "db").await.0, Source::Cache);
    assert_eq!(backend.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn not_found_is_kept_for_a_short_configurable_time() {
    let backend = Counting::new();
    let manager = manager_over(
        &backend,
        CacheOptions::new().with_negative_ttl(Duration::from_secs(5)),
    );
    for _ in 0..10 {
        assert!(matches!(
            manager.resolve("db").await,
            Err(Error::NotFound { .. })
        ));
    }
    assert_eq!(backend.fetches(), 1);
    backend.inner.set("db", "created").unwrap();
    sleep(Duration::from_secs(4)).await;
    assert!(matches!(
        manager.resolve("db").await,
        Err(Error::NotFound { .. })
    ));
    sleep(Duration::from_secs(2)).await;
    assert_eq!(value(&manager, "db").await.unwrap(), "created");
    assert_eq!(backend.fetches(), 2);

    // Zero turns it off.
    let backend = Counting::new();
    let manager = manager_over(
        &backend,
        CacheOptions::new().with_negative_ttl(Duration::ZERO),
    );
    for _ in 0..3 {
        assert!(manager.resolve("db").await.is_err());
    }
    assert_eq!(backend.fetches(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_number_of_entries_is_bounded_and_recently_read_entries_stay() {
    let names: Vec<String> = (0..6).map(|i| format!("s{i}")).collect();
    let backend = Counting::new();
    for name in &names {
        backend.inner.set(name, "v").unwrap();
    }
    let manager = manager_over(&backend, CacheOptions::new().with_max_entries(4));
    for name in &names[..4] {
        value(&manager, name).await.unwrap();
    }
    assert_eq!(backend.fetches(), 4);
    // s0 is read again: it gets a second chance when s4 needs room, and s1 goes.
    value(&manager, "s0").await.unwrap();
    value(&manager, "s4").await.unwrap();
    assert_eq!(backend.fetches(), 5);
    value(&manager, "s0").await.unwrap();
    assert_eq!(backend.fetches(), 5, "s0 stayed");
    value(&manager, "s1").await.unwrap();
    assert_eq!(backend.fetches(), 6, "s1 was evicted");

    // Many more insertions than the bound: the cache stays within it.
    let cached = CachedBackend::new(
        MemoryBackend::new(),
        CacheOptions::new().with_max_entries(8),
    );
    for i in 0..1000 {
        let name = SecretName::new(&format!("n{i}")).unwrap();
        let _ = cached.fetch(&name, None).await;
        assert!(cached.len() <= 8, "{} entries", cached.len());
    }
}

#[tokio::test(start_paused = true)]
async fn cache_control_drops_what_it_names() {
    let workspace = Counting::with(&[("db", "v1"), ("api", "a1")]);
    let policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(Connection::from_arc("corp-vault", workspace.clone()))
        .build()
        .unwrap();
    let manager = WorkspaceManager::new(policy);
    value(&manager, "db").await.unwrap();
    value(&manager, "api").await.unwrap();
    workspace.inner.set("db", "v2").unwrap();

    assert!(
        !manager
            .invalidate("https://elsewhere.vault.azure.net/secrets/db")
            .unwrap(),
        "another vault's secret of the same name"
    );
    assert!(manager.invalidate("{{ db }}").unwrap());
    assert!(!manager.invalidate("db").unwrap(), "already dropped");
    assert_eq!(value(&manager, "db").await.unwrap(), "v2");
    assert_eq!(value(&manager, "api").await.unwrap(), "a1");
    assert_eq!(workspace.fetches(), 3);
    assert!(matches!(
        manager.invalidate("bad name!"),
        Err(Error::InvalidReference(_))
    ));

    assert!(manager.invalidate_connection("corp-vault"));
    assert!(!manager.invalidate_connection("no-such-vault"));
    value(&manager, "db").await.unwrap();
    value(&manager, "api").await.unwrap();
    assert_eq!(workspace.fetches(), 5);

    manager.clear();
    value(&manager, "db").await.unwrap();
    assert_eq!(workspace.fetches(), 6);
}

/// A fetch that was under way when its answer was invalidated hands that answer to its own
/// callers only: it does not put it in the cache, and later reads do not join it.
#[tokio::test(start_paused = true)]
async fn an_answer_fetched_before_an_invalidation_is_not_kept() {
    for how in ["invalidate", "invalidate_connection", "clear"] {
        let backend = Counting::with(&[("db", "v1")]);
        backend.set_delay(Duration::from_secs(10));
        let manager = Arc::new(manager_over(&backend, CacheOptions::new()));
        let early = tokio::spawn({
            let manager = manager.clone();
            async move { value(&manager, "db").await }
        });
        sleep(Duration::from_secs(1)).await; // v1 is on its way
        backend.inner.set("db", "v2").unwrap();
        match how {
            "invalidate" => {
                manager.invalidate("db").unwrap();
            }
            "invalidate_connection" => assert!(manager.invalidate_connection("corp-vault")),
            _ => manager.clear(),
        }
        // The late fetch lands first, and the early one after it.
        backend.set_delay(Duration::from_secs(1));
        let late = tokio::spawn({
            let manager = manager.clone();
            async move { value(&manager, "db").await }
        });
        assert_eq!(early.await.unwrap().unwrap(), "v1", "{how}");
        assert_eq!(
            late.await.unwrap().unwrap(),
            "v2",
            "{how}: joined the old fetch"
        );
        assert_eq!(backend.fetches(), 2, "{how}");
        assert_eq!(
            value(&manager, "db").await.unwrap(),
            "v2",
            "{how}: v1 was cached"
        );
        assert_eq!(backend.fetches(), 2, "{how}: v2 was not cached");
    }
}

/// The same for a switch: a fetch of the scope being left, under way while the switch is
/// applied, does not leave its answer to be served once the scope comes back.
#[tokio::test(start_paused = true)]
async fn an_answer_fetched_across_a_switch_is_not_kept() {
    let billing = Counting::with(&[("db", "old")]);
    billing.set_delay(Duration::from_secs(10));
    let policy = ScopePolicy::builder(ScopeMode::Project)
        .with_workspace_connection(Connection::new("corp-vault", MemoryBackend::new()))
        .with_project_connection(
            "billing",
            Connection::from_arc("billing-vault", billing.clone()),
        )
        .with_known_reference("project:billing/db")
        .build()
        .unwrap();
    let manager = Arc::new(WorkspaceManager::new(policy));
    let in_flight = tokio::spawn({
        let manager = manager.clone();
        async move { value(&manager, "project:billing/db").await }
    });
    sleep(Duration::from_secs(1)).await;
    for to in [ScopeMode::Workspace, ScopeMode::Project] {
        let plan = manager.plan_switch(to).await;
        manager
            .apply_switch(&plan, Some(&plan.acknowledge("t")))
            .unwrap();
        if to == ScopeMode::Workspace {
            billing.inner.set("db", "rotated").unwrap();
        }
    }
    // Its own caller gets what it fetched: the scope it asked in is active again.
    assert_eq!(in_flight.await.unwrap().unwrap(), "old");
    billing.set_delay(Duration::ZERO);
    let resolved = manager
        .resolve_with_metadata("project:billing/db")
        .await
        .unwrap();
    assert_eq!(resolved.value().expose_secret(), "rotated");
    assert_eq!(resolved.source(), Source::Backend);
}

/// A switch drops the cached values of the connections that stop serving, whether it was
/// applied through the manager, through the policy, or by adopting a saved state.
#[tokio::test(start_paused = true)]
async fn every_kind_of_switch_evicts_what_it_invalidated() {
    for way in ["manager", "policy", "adopt"] {
        let workspace = Counting::with(&[("db", "w")]);
        let billing = Counting::with(&[("db", "b")]);
        let policy = ScopePolicy::builder(ScopeMode::Project)
            .with_workspace_connection(Connection::from_arc("corp-vault", workspace.clone()))
            .with_project_connection(
                "billing",
                Connection::from_arc("billing-vault", billing.clone()),
            )
            .build()
            .unwrap();
        let manager = WorkspaceManager::new(policy);
        assert_eq!(value(&manager, "project:billing/db").await.unwrap(), "b");
        assert_eq!(value(&manager, "project:billing/db").await.unwrap(), "b");
        assert_eq!(billing.fetches(), 1);

        let switch = |to: ScopeMode, generation: u64| {
            let manager = &manager;
            async move {
                match way {
                    "manager" => {
                        let plan = manager.plan_switch(to).await;
                        manager
                            .apply_switch(&plan, Some(&plan.acknowledge("t")))
                            .unwrap();
                    }
                    "policy" => {
                        let plan = manager.policy().plan_switch(to).await;
                        manager
                            .policy()
                            .apply(&plan, Some(&plan.acknowledge("t")))
                            .unwrap();
                    }
                    _ => {
                        let mut state = PolicyState::new(to);
                        state.generation = generation;
                        assert!(manager.policy().adopt(state).unwrap());
                    }
                }
            }
        };
        switch(ScopeMode::Workspace, 1).await;
        assert!(matches!(
            manager.resolve("project:billing/db").await,
            Err(Error::ScopeInvalidated { .. })
        ));
        switch(ScopeMode::Project, 2).await;
        assert_eq!(value(&manager, "project:billing/db").await.unwrap(), "b");
        assert_eq!(
            billing.fetches(),
            2,
            "{way}: the billing cache was not emptied"
        );
    }
}

#[test]
fn a_hit_is_ready_on_the_first_poll() {
    // No runtime at all: a hit needs none.
    let backend = MemoryBackend::new();
    backend.set("db", "v").unwrap();
    let policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(Connection::new("corp-vault", backend))
        .build()
        .unwrap();
    let manager = WorkspaceManager::new(policy);
    let mut cx = Context::from_waker(Waker::noop());
    // The first resolve fills the cache (the memory backend answers at once too).
    let mut first = manager.resolve("db");
    assert!(matches!(
        Pin::new(&mut first).poll(&mut cx),
        Poll::Ready(Ok(_))
    ));
    for reference in ["db", "{{ db }}"] {
        let mut hit = manager.resolve(reference);
        assert!(hit.is_ready());
        match Pin::new(&mut hit).poll(&mut cx) {
            Poll::Ready(Ok(value)) => assert_eq!(value.expose_secret(), "v"),
            other => panic!("a hit was not ready on its first poll: {other:?}"),
        }
        let parsed = secretscope::SecretRef::parse(reference).unwrap();
        let mut hit = manager.resolve_ref(&parsed);
        match Pin::new(&mut hit).poll(&mut cx) {
            Poll::Ready(Ok(resolved)) => assert_eq!(resolved.source(), Source::Cache),
            other => panic!("a hit was not ready on its first poll: {other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_disabled_cache_always_fetches() {
    let backend = Counting::with(&[("db", "v1")]);
    let manager = manager_over(&backend, CacheOptions::disabled());
    for _ in 0..3 {
        assert_eq!(source(&manager, "db").await.0, Source::Backend);
    }
    assert_eq!(backend.fetches(), 3);
}

#[tokio::test]
async fn the_cache_layer_passes_the_conformance_suite() {
    let (backend, seeded) = conformance::seeded_memory();
    let cached = CachedBackend::new(backend, CacheOptions::new());
    // Twice: the second run is served from the cache.
    conformance::run_all(&cached, &seeded).await;
    conformance::run_all(&cached, &seeded).await;
    let shared: Arc<dyn secretscope::SecretBackend> = Arc::new(cached);
    conformance::run_all(&shared, &seeded).await;
}
