//! One cold resolve through the manager, against a raw SDK `get_secret` of the same secret on
//! the same transport: a measuring program, not a test.
//!
//! `cargo bench --bench cold_resolve` starts the HTTPS stand-in of Key Vault and Entra ID
//! (`secretscope::testing`), builds the Azure backend on it, and then alternates, round after
//! round, one resolve through a `WorkspaceManager` whose cache is off (so every resolve goes
//! down the whole stack to the vault; its request budget is on, with room for every resolve) and one `SecretClient::get_secret` on the backend's own
//! client (same credential, same connection pool). It prints the medians and their ratio.
//! Under `cargo test` it runs a few rounds, to keep it working.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use secretscope::budget::BudgetOptions;
use secretscope::cache::CacheOptions;
use secretscope::prelude::*;
use secretscope::testing::{PRIMARY_HOST, Seed, StandIn};
use secretscope::{Connection, ScopeMode, ScopePolicy, WorkspaceManager};

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let rounds = if measuring { 2_000 } else { 20 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let stand_in = StandIn::start().await.expect("the stand-in starts");
        stand_in.seed(PRIMARY_HOST, "db-password", Seed::value("x".repeat(40)));
        let backend = stand_in
            .builder(PRIMARY_HOST)
            .build()
            .expect("valid settings");
        let client = backend.client().clone();
        let policy = ScopePolicy::builder(ScopeMode::Workspace)
            .with_workspace_connection(Connection::new("local-vault", backend))
            .build()
            .expect("valid policy");
        // Every resolve goes down the whole stack, the request budget included, but with room
        // for all of them: at its default rate the budget would set the pace, not the path.
        let room = NonZeroU32::new(1_000_000).expect("not zero");
        let manager = WorkspaceManager::builder(policy)
            .with_cache(CacheOptions::disabled())
            .with_budget(BudgetOptions::new().with_rate(room).with_burst(room))
            .build();

        let through_manager = || async {
            let started = Instant::now();
            let value = manager.resolve("db-password").await.expect("resolved");
            assert_eq!(value.len(), 40);
            started.elapsed()
        };
        let raw_sdk = || async {
            let started = Instant::now();
            let secret = client
                .get_secret("db-password", None)
                .await
                .expect("fetched")
                .into_model()
                .expect("a secret bundle");
            assert_eq!(secret.value.as_deref().map(str::len), Some(40));
            started.elapsed()
        };
        // The token, the challenge and the TLS connections, before anything is timed.
        for _ in 0..20 {
            through_manager().await;
            raw_sdk().await;
        }
        let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            // Alternate which goes first, so neither always follows the other.
            let (a, b) = if round % 2 == 0 {
                let a = through_manager().await;
                (a, raw_sdk().await)
            } else {
                let b = raw_sdk().await;
                (through_manager().await, b)
            };
            ours.push(a);
            theirs.push(b);
            ratios.push(a.as_secs_f64() / b.as_secs_f64());
        }
        ratios.sort_by(f64::total_cmp);
        let (ours, theirs) = (median(&mut ours), median(&mut theirs));
        println!("cold resolve, {rounds} alternating rounds against the local HTTPS stand-in:");
        println!("  through the manager (cache off):  {ours:?} (median)");
        println!("  raw SDK get_secret, same client:  {theirs:?} (median)");
        println!(
            "  ratio of medians: {:.3}x; median of per-round ratios: {:.3}x",
            ours.as_secs_f64() / theirs.as_secs_f64(),
            ratios[ratios.len() / 2]
        );
    });
}
