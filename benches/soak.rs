//! A soak run: resolves with churn for a given time, against the local HTTPS stand-in of Key
//! Vault and Entra ID. A measuring program, not a test.
//!
//! ```text
//! cargo bench --bench soak -- --seconds 600
//! ```
//!
//! Eight tasks resolve references (workspace-level or project-level, whichever the active
//! scope admits, some pinned to a version, some that do not exist) as fast as the cache
//! allows, while a churn task, every 100 ms, does one of: rotate a secret (a new version in
//! the vault), invalidate a reference, clear a connection's cache, queue a fault at the vault
//! (429 with and without `Retry-After`, 503, a slow answer), and every 15 s plans and applies a
//! scope switch. It prints, once a minute and at the end: resolves, errors by kind, requests
//! the vaults received, waits for the request budget, and resident memory, with the resident
//! memory once warm (after the first 10% of the run) beside the one at the end: a leak shows
//! as growth between the two. Under `cargo test` it runs for two seconds, to keep it working.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use secretscope::cache::CacheOptions;
use secretscope::prelude::*;
use secretscope::testing::{Fault, PRIMARY_HOST, SECONDARY_HOST, Seed, StandIn};
use secretscope::{Connection, ScopeMode, ScopePolicy, WorkspaceManager};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

/// Secrets in each vault.
const SECRETS: usize = 200;
const PROJECT: &str = "billing";

/// Counts the request budget's waits, from its tracing events.
struct BudgetWaits(Arc<AtomicU64>);

struct Message(bool);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 |= format!("{value:?}") == "waiting for the request budget";
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for BudgetWaits {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut message = Message(false);
        event.record(&mut message);
        if message.0 {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[derive(Default)]
struct Tally {
    resolves: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn seconds_arg() -> u64 {
    let args: Vec<String> = std::env::args().collect();
    let measuring = args.iter().any(|a| a == "--bench");
    args.windows(2)
        .find(|w| w[0] == "--seconds")
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(if measuring { 60 } else { 2 })
}

fn main() {
    let seconds = seconds_arg();
    let waits = Arc::new(AtomicU64::new(0));
    let subscriber = tracing_subscriber::registry()
        .with(BudgetWaits(Arc::clone(&waits)))
        .with(tracing_subscriber::filter::LevelFilter::DEBUG);
    tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(soak(Duration::from_secs(seconds), waits));
}

async fn soak(length: Duration, waits: Arc<AtomicU64>) {
    let stand_in = Arc::new(StandIn::start().await.expect("the stand-in starts"));
    for i in 0..SECRETS {
        for host in [PRIMARY_HOST, SECONDARY_HOST] {
            stand_in.seed(host, &format!("secret-{i}"), Seed::value(format!("v{i}-0")));
        }
    }
    let connection = |name: &str, host: &str| {
        let backend = stand_in
            .builder(host)
            .with_deadline(Duration::from_secs(3))
            .with_retry_delays(Duration::from_millis(50), Duration::from_millis(400))
            .build()
            .expect("valid settings");
        Connection::new(name, backend)
    };
    let policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(connection("corp-vault", PRIMARY_HOST))
        .with_project_connection(PROJECT, connection("billing-vault", SECONDARY_HOST))
        .build()
        .expect("a valid policy");
    let cache = CacheOptions::new()
        .with_ttl(Duration::from_secs(30))
        .with_refresh_ahead(Duration::from_secs(5))
        .with_stale_if_error(Duration::from_secs(30));
    let manager = Arc::new(WorkspaceManager::builder(policy).with_cache(cache).build());
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));

    let mut tasks = Vec::new();
    for worker in 0..8u64 {
        let (manager, tally, stop) = (manager.clone(), tally.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = worker;
            while !stop.load(Ordering::Relaxed) {
                n = n
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let i = (n >> 33) as usize % SECRETS;
                let project = manager.policy().mode() == ScopeMode::Project;
                let name = if (n >> 20).is_multiple_of(50) {
                    format!("missing-{i}")
                } else {
                    format!("secret-{i}")
                };
                let reference = if project {
                    format!("project:{PROJECT}/{name}")
                } else {
                    name
                };
                match manager.resolve(&reference).await {
                    Ok(_) => {}
                    Err(error) => {
                        *tally
                            .errors
                            .lock()
                            .entry(error.kind().to_string())
                            .or_default() += 1;
                    }
                }
                tally.resolves.fetch_add(1, Ordering::Relaxed);
                if n.is_multiple_of(16) {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }

    {
        let (manager, stand_in, stop) = (manager.clone(), stand_in.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = 0u64;
            let mut requests = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(100)).await;
                tick += 1;
                let i = (tick * 7) as usize % SECRETS;
                let host = if tick.is_multiple_of(2) {
                    PRIMARY_HOST
                } else {
                    SECONDARY_HOST
                };
                // One change every 100 ms; a fault now and then, as a vault has them.
                match tick % 10 {
                    0 => {
                        let value = Seed::value(format!("v{i}-{tick}"));
                        stand_in.seed(host, &format!("secret-{i}"), value);
                    }
                    5 => {
                        let _ = manager.invalidate(&format!("secret-{i}"));
                    }
                    _ => {}
                }
                if tick.is_multiple_of(50) {
                    manager.invalidate_connection("corp-vault");
                }
                let fault = match tick % 300 {
                    30 => Some(Fault::service_unavailable(host, None)),
                    70 => Some(Fault::slow(host, Duration::from_millis(200))),
                    110 => Some(Fault::connection_reset(host)),
                    150 => Some(Fault::throttled(host, Some(1))),
                    190 => Some(Fault::internal_error(host)),
                    230 => Some(Fault::truncated_body(host)),
                    270 => Some(Fault::throttled(host, None)),
                    _ => None,
                };
                if let Some(fault) = fault {
                    stand_in.inject(fault);
                }
                if tick.is_multiple_of(150) {
                    let target = match manager.policy().mode() {
                        ScopeMode::Workspace => ScopeMode::Project,
                        _ => ScopeMode::Workspace,
                    };
                    let plan = manager.plan_switch(target).await;
                    let _ = manager.apply_switch(&plan, Some(&plan.acknowledge("soak")));
                }
                // The stand-in logs every request: count and forget them, so its log does not
                // grow with the run.
                requests += stand_in.requests().len() as u64;
                stand_in.clear_requests();
                REQUESTS.store(requests, Ordering::Relaxed);
            }
        }));
    }

    let started = Instant::now();
    let warm_at = length / 10;
    let mut warm = None;
    let start_rss = resident_kib();
    println!("| elapsed | resolves | vault requests | budget waits | resident memory |");
    println!("|---:|---:|---:|---:|---:|");
    let mut next_report = Duration::from_secs(60);
    while started.elapsed() < length {
        tokio::time::sleep(Duration::from_millis(200).min(length)).await;
        let elapsed = started.elapsed();
        if warm.is_none() && elapsed >= warm_at {
            warm = Some(resident_kib());
        }
        if elapsed >= next_report {
            report(elapsed, &tally, &waits);
            next_report += Duration::from_secs(60);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("no task panicked");
    }
    let end = resident_kib();
    report(started.elapsed(), &tally, &waits);
    println!();
    println!("errors by kind: {:?}", tally.errors.lock());
    println!(
        "resident memory: {start_rss} KiB at the start, {} KiB once warm, {end} KiB at the end",
        warm.unwrap_or(end)
    );
}

static REQUESTS: AtomicU64 = AtomicU64::new(0);

fn report(elapsed: Duration, tally: &Tally, waits: &AtomicU64) {
    println!(
        "| {} s | {} | {} | {} | {} KiB |",
        elapsed.as_secs(),
        tally.resolves.load(Ordering::Relaxed),
        REQUESTS.load(Ordering::Relaxed),
        waits.load(Ordering::Relaxed),
        resident_kib()
    );
}
