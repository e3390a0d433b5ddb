//! A soak run: resolves with churn for a given time, against the local HTTPS stand-in of Key
//! Vault and Entra ID. A measuring program, not a test.
//!
//! ```text
//! cargo bench --bench soak -- --seconds 600
//! ```
//!
//! The stand-in runs in a process of its own (this program, started again with `--vault`), so
//! that the resident memory measured is the library's alone and not the vault's, which keeps
//! every version of every secret. The vault process rotates a secret (a new version) every
//! second and queues a fault at one of its vaults every 4 s (in turn: 503, a slow answer, a
//! connection reset mid-answer, 429 with `Retry-After`, 500, a truncated body, 429 without
//! `Retry-After`), and reports the requests it received. Here, eight tasks resolve references
//! (workspace-level or project-level, whichever the active scope admits; one name in fifty does
//! not exist) as fast as the cache allows, while a churn task invalidates a reference every
//! second, clears a connection's cache every 5 s, and plans and applies a scope switch every
//! 15 s. It prints, once a minute and at the end: resolves, errors by kind, requests the vaults
//! received, waits for the request budget, and resident memory, with the resident memory once
//! warm (after the first 10% of the run) beside the one at the end: a leak shows as growth
//! between the two. Under `cargo test` it runs for two seconds, to keep it working.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use secretscope::cache::CacheOptions;
use secretscope::prelude::*;
use secretscope::testing::{Fault, PRIMARY_HOST, SECONDARY_HOST, Seed, StandIn, builder_at};
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if std::env::args().any(|a| a == "--vault") {
        runtime.block_on(vault());
        return;
    }
    let seconds = seconds_arg();
    let waits = Arc::new(AtomicU64::new(0));
    let subscriber = tracing_subscriber::registry()
        .with(BudgetWaits(Arc::clone(&waits)))
        .with(tracing_subscriber::filter::LevelFilter::DEBUG);
    tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
    runtime.block_on(soak(Duration::from_secs(seconds), waits));
}

/// The vault process: the stand-in, seeded; its address and CA on the first line of stdout,
/// then the requests it received so far, every second, until stdin closes.
async fn vault() {
    let stand_in = Arc::new(StandIn::start().await.expect("the stand-in starts"));
    for i in 0..SECRETS {
        for host in [PRIMARY_HOST, SECONDARY_HOST] {
            stand_in.seed(host, &format!("secret-{i}"), Seed::value(format!("v{i}-0")));
        }
    }
    let hello = serde_json::json!({ "addr": stand_in.addr(), "ca": stand_in.ca_pem() });
    println!("{hello}");
    let closed = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {}
    });
    let mut requests = 0u64;
    let mut tick = 0u64;
    while !closed.is_finished() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        tick += 1;
        let host = if tick.is_multiple_of(2) {
            PRIMARY_HOST
        } else {
            SECONDARY_HOST
        };
        if tick.is_multiple_of(10) {
            let i = (tick * 7) as usize % SECRETS;
            let value = Seed::value(format!("v{i}-{tick}"));
            stand_in.seed(host, &format!("secret-{i}"), value);
        }
        let fault = match tick % 280 {
            0 => Some(Fault::service_unavailable(host, None)),
            40 => Some(Fault::slow(host, Duration::from_millis(200))),
            80 => Some(Fault::connection_reset(host)),
            120 => Some(Fault::throttled(host, Some(1))),
            160 => Some(Fault::internal_error(host)),
            200 => Some(Fault::truncated_body(host)),
            240 => Some(Fault::throttled(host, None)),
            _ => None,
        };
        if let Some(fault) = fault {
            stand_in.inject(fault);
        }
        // The stand-in logs every request: count and forget them.
        requests += stand_in.requests().len() as u64;
        stand_in.clear_requests();
        if tick.is_multiple_of(10) {
            println!("{requests}");
        }
    }
}

/// Starts the vault process; returns it, its address and its CA.
fn start_vault() -> (std::process::Child, std::net::SocketAddr, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().expect("this program"))
        .arg("--vault")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the vault process starts");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let hello: serde_json::Value =
        serde_json::from_str(&lines.next().expect("a first line").expect("text")).expect("JSON");
    let addr = hello["addr"]
        .as_str()
        .expect("addr")
        .parse()
        .expect("an address");
    let ca = hello["ca"].as_str().expect("ca").to_owned();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Ok(n) = line.trim().parse() {
                REQUESTS.store(n, Ordering::Relaxed);
            }
        }
    });
    (child, addr, ca)
}

async fn soak(length: Duration, waits: Arc<AtomicU64>) {
    let (mut vault, addr, ca) = start_vault();
    let connection = |name: &str, host: &str| {
        let backend = builder_at(addr, &ca, host)
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
        let (manager, stop) = (manager.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(100)).await;
                tick += 1;
                if tick.is_multiple_of(10) {
                    let i = (tick * 13) as usize % SECRETS;
                    let _ = manager.invalidate(&format!("secret-{i}"));
                }
                if tick.is_multiple_of(50) {
                    manager.invalidate_connection("corp-vault");
                }
                if tick.is_multiple_of(150) {
                    let target = match manager.policy().mode() {
                        ScopeMode::Workspace => ScopeMode::Project,
                        _ => ScopeMode::Workspace,
                    };
                    let plan = manager.plan_switch(target).await;
                    let _ = manager.apply_switch(&plan, Some(&plan.acknowledge("soak")));
                }
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
    drop(vault.stdin.take()); // the vault process ends when its stdin closes
    let _ = vault.wait();
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
