//! The request budget and the shared pause, through the manager: a burst of misses stays
//! within the budget, one 429 pauses every caller, nothing retries faster than the backoff
//! allows, the pause ends on time, cached values are served meanwhile, and background work
//! yields to resolves. Deterministic: a recording vault and Tokio's paused clock.
//!
//! Each test names a vault host of its own: a host's budget is shared by every stack in the
//! process that talks to it.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use secretscope::budget::{BudgetOptions, BudgetedBackend};
use secretscope::cache::CacheOptions;
use secretscope::conformance;
use secretscope::prelude::*;
use secretscope::{
    Connection, Error, ErrorKind, Fetched, Location, Presence, ScopeMode, ScopePolicy, Secret,
    SecretBackend, SecretName, SecretProperties, SecretVersion, Source, ThrottledBy,
    WorkspaceManager,
};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep};

/// What the vault answers the `n`-th request (from 0).
type Script = Box<dyn Fn(usize) -> Answer + Send + Sync>;

#[derive(Clone, Copy)]
enum Answer {
    Value,
    Throttled(Option<Duration>),
}

/// A vault at an HTTPS host that records when each request arrived and answers by script.
struct Vault {
    location: Location,
    calls: Mutex<Vec<Instant>>,
    script: Script,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("location", &self.location)
            .finish()
    }
}

impl Vault {
    fn new(host: &str, script: impl Fn(usize) -> Answer + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            location: Location::url(&format!("https://{host}")).unwrap(),
            calls: Mutex::new(Vec::new()),
            script: Box::new(script),
        })
    }

    /// When each request arrived, from `start`.
    fn calls_since(&self, start: Instant) -> Vec<Duration> {
        self.calls.lock().iter().map(|&at| at - start).collect()
    }
}

#[async_trait::async_trait]
impl SecretBackend for Vault {
    async fn fetch(
        &self,
        name: &SecretName,
        _: Option<&SecretVersion>,
    ) -> secretscope::Result<Fetched> {
        let n = {
            let mut calls = self.calls.lock();
            calls.push(Instant::now());
            calls.len() - 1
        };
        match (self.script)(n) {
            Answer::Value => {
                Ok(Secret::new("v".to_owned(), SecretProperties::new(name.clone())).into())
            }
            Answer::Throttled(retry_after) => Err(Error::Throttled {
                location: self.location.clone(),
                retry_after,
                by: ThrottledBy::Service,
            }),
        }
    }

    async fn check(&self) -> secretscope::Result<()> {
        Ok(())
    }

    fn location(&self) -> &Location {
        &self.location
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn manager(vault: &Arc<Vault>, budget: BudgetOptions, cache: CacheOptions) -> WorkspaceManager {
    let policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(Connection::from_arc("corp-vault", vault.clone()))
        .build()
        .unwrap();
    WorkspaceManager::builder(policy)
        .with_budget(budget)
        .with_cache(cache)
        .build()
}

fn throttled_by(error: &Error) -> (ThrottledBy, Duration) {
    match error {
        Error::Throttled {
            by,
            retry_after: Some(after),
            ..
        } => (*by, *after),
        other => panic!("expected throttling, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_distinct_misses_stays_within_the_budget() {
    let vault = Vault::new("burst.vault.azure.net", |_| Answer::Value);
    let budget = BudgetOptions::new()
        .with_rate(nonzero(100))
        .with_burst(nonzero(200))
        .with_max_wait(Duration::from_secs(2));
    let manager = Arc::new(manager(&vault, budget, CacheOptions::new()));
    let start = Instant::now();
    let mut burst = JoinSet::new();
    for i in 0..10_000 {
        let manager = Arc::clone(&manager);
        burst.spawn(async move {
            let outcome = manager.resolve(&format!("secret-{i}")).await.map(|_| ());
            (outcome, start.elapsed())
        });
    }
    let (mut served, mut refused) = (0, 0);
    while let Some(joined) = burst.join_next().await {
        let (outcome, took) = joined.unwrap();
        assert!(took <= Duration::from_secs(2), "a resolve waited {took:?}");
        match outcome {
            Ok(()) => served += 1,
            Err(error) => {
                let (by, _) = throttled_by(&error);
                assert_eq!(by, ThrottledBy::Budget);
                assert!(error.to_string().contains("nothing was sent"), "{error}");
                refused += 1;
            }
        }
    }
    let calls = vault.calls_since(start);
    assert_eq!(calls.len(), served);
    assert_eq!(served + refused, 10_000);
    // The burst, then the rate, for as long as a caller may wait: no more.
    assert_eq!(served, 200 + 200);
    for (k, at) in calls.iter().enumerate() {
        let allowed = 200.0 + 100.0 * at.as_secs_f64();
        assert!(
            (k + 1) as f64 <= allowed + 1e-6,
            "request {k} at {at:?} is over budget"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn one_429_pauses_every_caller_until_retry_after_and_the_pause_ends_on_time() {
    let vault = Vault::new("pause.vault.azure.net", |n| match n {
        0 => Answer::Throttled(Some(Duration::from_secs(5))),
        _ => Answer::Value,
    });
    let budget = BudgetOptions::new()
        .with_rate(nonzero(10))
        .with_max_wait(Duration::from_secs(10));
    let manager = Arc::new(manager(&vault, budget, CacheOptions::new()));
    let start = Instant::now();
    let error = manager.resolve("first").await.unwrap_err();
    assert_eq!(
        throttled_by(&error),
        (ThrottledBy::Service, Duration::from_secs(5))
    );

    let mut callers = JoinSet::new();
    for i in 0..20 {
        let manager = Arc::clone(&manager);
        callers.spawn(async move { manager.resolve(&format!("secret-{i}")).await.is_ok() });
    }
    while let Some(ok) = callers.join_next().await {
        assert!(ok.unwrap(), "a paused caller failed within its wait");
    }
    let calls = vault.calls_since(start);
    assert_eq!(calls.len(), 21);
    // Nothing went during the pause; one request exactly at its end, then the others at the
    // budget's rate, not all at once.
    assert_eq!(calls[1], Duration::from_secs(5));
    for (k, at) in calls.iter().enumerate().skip(1) {
        assert_eq!(
            *at,
            Duration::from_secs(5) + Duration::from_millis(100) * (k as u32 - 1)
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_caller_that_cannot_wait_out_the_pause_fails_at_once_without_a_request() {
    let vault = Vault::new("impatient.vault.azure.net", |n| match n {
        0 => Answer::Throttled(Some(Duration::from_secs(30))),
        _ => Answer::Value,
    });
    let budget = BudgetOptions::new().with_max_wait(Duration::from_secs(1));
    let manager = manager(&vault, budget, CacheOptions::new());
    manager.resolve("first").await.unwrap_err();
    sleep(Duration::from_secs(10)).await;
    let start = Instant::now();
    let error = manager.resolve("second").await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(
        throttled_by(&error),
        (ThrottledBy::Service, Duration::from_secs(20))
    );
    assert_eq!(error.kind(), ErrorKind::Throttled);
    assert_eq!(vault.calls.lock().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn without_retry_after_the_shared_backoff_doubles_to_its_cap() {
    // A vault that throttles everything, hammered by five callers that try again every 10 ms.
    let vault = Vault::new("backoff.vault.azure.net", |_| Answer::Throttled(None));
    let budget = BudgetOptions::new()
        .with_max_wait(Duration::ZERO)
        .with_backoff(Duration::from_secs(1), Duration::from_secs(16));
    let manager = Arc::new(manager(&vault, budget, CacheOptions::new()));
    let start = Instant::now();
    let mut callers = JoinSet::new();
    for c in 0..5 {
        let manager = Arc::clone(&manager);
        callers.spawn(async move {
            let mut i = 0;
            while start.elapsed() < Duration::from_secs(90) {
                let error = manager.resolve(&format!("s-{c}-{i}")).await.unwrap_err();
                assert_eq!(error.kind(), ErrorKind::Throttled);
                i += 1;
                sleep(Duration::from_millis(10)).await;
            }
        });
    }
    while callers.join_next().await.is_some() {}
    let calls = vault.calls_since(start);
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.len() >= 6, "{calls:?}");
    for (k, gap) in gaps.iter().enumerate() {
        // The k-th pause in a row: 1, 2, 4, 8, 16, 16 ... s, less up to a fifth of jitter, and
        // the next request comes as soon as it ends (within a caller's 10 ms).
        let pause = Duration::from_secs(1 << k.min(4));
        assert!(
            *gap >= pause - pause / 5 && *gap <= pause + Duration::from_millis(10),
            "gap {k} was {gap:?}, the backoff {pause:?}: {gaps:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn cached_values_are_served_while_paused() {
    let vault = Vault::new("stale.vault.azure.net", |n| match n {
        0 => Answer::Value,
        _ => Answer::Throttled(Some(Duration::from_secs(30))),
    });
    let cache = CacheOptions::new()
        .with_ttl(Duration::from_secs(1))
        .with_stale_if_error(Duration::from_secs(300));
    let manager = manager(&vault, BudgetOptions::new(), cache);
    manager.resolve("cached").await.unwrap();
    sleep(Duration::from_secs(2)).await;
    // The entry expired; the vault throttles the refetch and pauses everyone.
    let stale = manager.resolve_with_metadata("cached").await.unwrap();
    assert_eq!(stale.source(), Source::StaleCache);
    assert_eq!(vault.calls.lock().len(), 2);
    // During the pause: stale values still, and a new miss fails at once without a request.
    sleep(Duration::from_secs(5)).await;
    let stale = manager.resolve_with_metadata("cached").await.unwrap();
    assert_eq!(stale.source(), Source::StaleCache);
    let error = manager.resolve("new").await.unwrap_err();
    assert_eq!(throttled_by(&error).0, ThrottledBy::Service);
    assert_eq!(vault.calls.lock().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn background_work_never_takes_the_reserve_from_resolves() {
    let vault = Vault::new("reserve.vault.azure.net", |_| Answer::Value);
    let budget = BudgetOptions::new()
        .with_rate(nonzero(1))
        .with_burst(nonzero(4))
        .with_reserve(2)
        .with_max_wait(Duration::ZERO);
    let policy = ScopePolicy::builder(ScopeMode::Project)
        .with_workspace_connection(Connection::from_arc("corp-vault", vault.clone()))
        .with_known_reference("project:a/one")
        .with_known_reference("project:a/two")
        .with_known_reference("project:a/three")
        .build()
        .unwrap();
    let manager = WorkspaceManager::builder(policy)
        .with_budget(budget)
        .build();
    // The plan checks three names in the workspace vault: two fit above the reserve, the third
    // would take from it, so it is reported unknown rather than checked.
    let plan = manager.plan_switch(ScopeMode::Workspace).await;
    let presences: Vec<&Presence> = plan
        .breaking()
        .iter()
        .map(|impact| &impact.replacements[0].presence)
        .collect();
    let checked = presences
        .iter()
        .filter(|p| matches!(p, Presence::Found))
        .count();
    assert_eq!(checked, 2, "{presences:?}");
    assert!(
        presences
            .iter()
            .any(|p| matches!(p, Presence::Unknown(why) if why.contains("request budget"))),
        "{presences:?}"
    );
    assert_eq!(vault.calls.lock().len(), 2);
}

#[tokio::test]
async fn the_budget_layer_passes_the_behaviour_suite() {
    let (memory, seeded) = conformance::seeded_memory();
    // At an HTTPS host, so that the budget in front of it is kept.
    let location = Location::url("https://conformance.vault.azure.net").unwrap();
    let budgeted = BudgetedBackend::new(memory.with_location(location), BudgetOptions::new());
    conformance::run_all(&budgeted, &seeded).await;
    let shared: Arc<dyn SecretBackend> = Arc::new(budgeted);
    conformance::run_all(&shared, &seeded).await;
}
