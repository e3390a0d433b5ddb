//! A vault that goes away and comes back on the same port while resolves are running: cached
//! references keep resolving (stale-if-error), no call outlives its deadline, fresh references
//! resolve again once the vault is back, and nothing is left running afterwards.
#![cfg(feature = "testing")]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use secretscope::budget::BudgetOptions;
use secretscope::prelude::*;
use secretscope::testing::{Fault, PRIMARY_HOST, Seed, StandIn};
use secretscope::{
    CacheOptions, Connection, ErrorKind, ScopeMode, ScopePolicy, Source, WorkspaceManager,
};
use tokio::runtime::Handle;
use tokio::task::JoinSet;

/// The overall deadline of one fetch.
const DEADLINE: Duration = Duration::from_secs(1);
/// Room above the deadline for scheduling on a busy machine.
const MARGIN: Duration = Duration::from_secs(3);
/// Short, so that cached values go stale while the vault is down.
const TTL: Duration = Duration::from_millis(300);
/// How long each phase lasts: vault up, down, up again.
const PHASE: Duration = Duration::from_millis(1200);
/// Resolving tasks.
const TASKS: usize = 4;
/// References resolved before the tasks start, and then again and again.
const CACHED: [&str; 4] = ["cached-0", "cached-1", "cached-2", "cached-3"];
/// References each resolved once, never before: more than the tasks can use up.
const FRESH: usize = 1000;

const UP: u8 = 0;
const DOWN: u8 = 1;
const BACK: u8 = 2;

fn value_of(name: &str) -> String {
    format!("value of {name}")
}

/// One resolve: which phase it started and ended in, whether its reference was cached, and what
/// it gave.
#[derive(Debug)]
struct Call {
    started: u8,
    ended: u8,
    cached: bool,
    outcome: Result<Source, ErrorKind>,
}

fn manager(stand_in: &StandIn) -> WorkspaceManager {
    let vault = stand_in
        .builder(PRIMARY_HOST)
        .with_max_retries(2)
        .with_retry_delays(Duration::from_millis(10), Duration::from_millis(40))
        .with_connect_timeout(Duration::from_millis(300))
        .with_try_timeout(Duration::from_millis(300))
        .with_deadline(DEADLINE)
        .build()
        .expect("valid settings");
    let policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(Connection::new("corp-vault", vault))
        .build()
        .expect("a valid policy");
    WorkspaceManager::builder(policy)
        .with_cache(
            CacheOptions::new()
                .with_ttl(TTL)
                .with_stale_if_error(Duration::from_secs(60)),
        )
        // The request budget is not under test: room for every request the tasks make.
        .with_budget(BudgetOptions::new().with_rate(NonZeroU32::new(1000).expect("not zero")))
        .build()
}

/// Resolves a cached reference and a fresh one, over and over, until `done`; every call ends
/// within its deadline or the task panics.
async fn resolve_until_done(
    manager: Arc<WorkspaceManager>,
    task: usize,
    phase: Arc<AtomicU8>,
    next_fresh: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
    calls: Arc<Mutex<Vec<Call>>>,
) {
    let mut round = 0;
    while !done.load(Ordering::Acquire) {
        let fresh = format!("fresh-{}", next_fresh.fetch_add(1, Ordering::Relaxed));
        let cached = CACHED[(task + round) % CACHED.len()].to_owned();
        round += 1;
        for (name, is_cached) in [(cached, true), (fresh, false)] {
            let started = phase.load(Ordering::Acquire);
            let began = Instant::now();
            let Ok(outcome) =
                tokio::time::timeout(DEADLINE + MARGIN, manager.resolve_with_metadata(&name)).await
            else {
                panic!("resolving {name} did not end within its deadline");
            };
            assert!(began.elapsed() <= DEADLINE + MARGIN, "{name}");
            let outcome = match outcome {
                Ok(resolved) => {
                    assert_eq!(resolved.value().expose_secret(), value_of(&name));
                    Ok(resolved.metadata().source)
                }
                Err(error) => Err(error.kind()),
            };
            calls.lock().push(Call {
                started,
                ended: phase.load(Ordering::Acquire),
                cached: is_cached,
                outcome,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (a bounded while) for the runtime's live tasks to fall to `expected`; returns how many
/// are alive then.
async fn settle_to(expected: usize) -> usize {
    let metrics = Handle::current().metrics();
    let until = Instant::now() + Duration::from_secs(10);
    while metrics.num_alive_tasks() > expected && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    metrics.num_alive_tasks()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolves_ride_out_a_vault_restart() {
    let before_all = Handle::current().metrics().num_alive_tasks();
    let stand_in = StandIn::start().await.expect("the stand-in starts");
    for name in CACHED {
        stand_in.seed(PRIMARY_HOST, name, Seed::value(value_of(name)));
    }
    for i in 0..FRESH {
        let name = format!("fresh-{i}");
        stand_in.seed(PRIMARY_HOST, &name, Seed::value(value_of(&name)));
    }
    let with_stand_in = Handle::current().metrics().num_alive_tasks();

    let manager = Arc::new(manager(&stand_in));
    for name in CACHED {
        manager.resolve(name).await.expect("the vault is up");
    }

    let phase = Arc::new(AtomicU8::new(UP));
    let next_fresh = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = JoinSet::new();
    for task in 0..TASKS {
        tasks.spawn(resolve_until_done(
            Arc::clone(&manager),
            task,
            Arc::clone(&phase),
            Arc::clone(&next_fresh),
            Arc::clone(&done),
            Arc::clone(&calls),
        ));
    }

    tokio::time::sleep(PHASE).await;
    // Down in the middle of a request: the next one is held unanswered, and once it is, the
    // listener and every connection close.
    stand_in.inject(Fault::hang(PRIMARY_HOST));
    let held = async {
        while !stand_in.requests().iter().any(|r| r.status == 0) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(DEADLINE, held)
        .await
        .expect("a request reaches the vault");
    phase.store(DOWN, Ordering::Release);
    stand_in.stop().await;
    tokio::time::sleep(PHASE).await;
    // Back on the same port, with the same certificate and secrets.
    stand_in.restart().await.expect("the port is free again");
    phase.store(BACK, Ordering::Release);
    tokio::time::sleep(PHASE).await;

    done.store(true, Ordering::Release);
    let joined = tokio::time::timeout(DEADLINE + MARGIN, async {
        while let Some(task) = tasks.join_next().await {
            task.expect("a resolving task failed");
        }
    })
    .await;
    assert!(joined.is_ok(), "a resolving task did not finish");
    assert!(next_fresh.load(Ordering::Relaxed) < FRESH, "seed more");

    let calls = std::mem::take(&mut *calls.lock());
    let in_phase = |started: u8, ended: u8, cached: bool| {
        calls
            .iter()
            .filter(move |c| c.started == started && c.ended == ended && c.cached == cached)
    };
    // Cached references resolve whatever the vault does; while it is down, from stale values.
    for call in calls.iter().filter(|c| c.cached) {
        assert!(call.outcome.is_ok(), "a cached reference failed: {call:?}");
    }
    assert!(
        in_phase(DOWN, DOWN, true).any(|c| c.outcome == Ok(Source::StaleCache)),
        "no stale value served while the vault was down: {calls:?}"
    );
    // Fresh references fail while it is down (nothing to fall back on), as unavailable...
    let down: Vec<_> = in_phase(DOWN, DOWN, false).collect();
    assert!(!down.is_empty(), "no fresh reference tried while down");
    for call in &down {
        assert_eq!(call.outcome, Err(ErrorKind::Unavailable), "{call:?}");
    }
    // ...and are fetched again once it is back.
    let back: Vec<_> = in_phase(BACK, BACK, false).collect();
    assert!(!back.is_empty(), "no fresh reference tried once back");
    for call in &back {
        assert_eq!(call.outcome, Ok(Source::Backend), "{call:?}");
    }
    // Fetched before it went down too, of course.
    for call in in_phase(UP, UP, false) {
        assert_eq!(call.outcome, Ok(Source::Backend), "{call:?}");
    }
    // The request held when the vault stopped belonged to a call that ended after: it did not
    // wait for an answer that would never come.
    assert!(
        calls.iter().any(|c| c.started == UP && c.ended == DOWN),
        "no call spanned the stop: {calls:?}"
    );

    // Nothing is left running: not the manager's tasks (its clock, refreshes, the HTTP client's
    // connections), nor the stand-in's connection tasks; then not the stand-in itself.
    drop(manager);
    assert_eq!(settle_to(with_stand_in).await, with_stand_in);
    drop(stand_in);
    assert_eq!(settle_to(before_all).await, before_all);
}
