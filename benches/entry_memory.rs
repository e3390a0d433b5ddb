//! Memory per cached entry, not counting the value's bytes: a measuring program, not a test.
//!
//! `cargo bench --bench entry_memory` fills caches with N secrets of 21-byte names and 40-byte
//! values, as a Key Vault answers them (a version id and two dates each, fetched fresh), and
//! counts the heap bytes every allocation asked for (dhat), before and after, less the values'
//! own bytes. Beside it, the same count for the floor of the hit benchmark (a
//! `HashMap<String, Arc<str>>`), measured in the same run. Under `cargo test` it runs once with
//! a small N, to keep it working.

use std::collections::HashMap;
use std::sync::Arc;

use secretscope::cache::{CacheOptions, CachedBackend};
use secretscope::prelude::*;
use secretscope::{
    Connection, Fetched, Location, ScopeMode, ScopePolicy, Secret, SecretName, SecretProperties,
    SecretVersion, WorkspaceManager,
};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

const VALUE_LEN: usize = 40;

/// Answers every name with a fresh 40-byte value, a version and two dates, as a vault would.
#[derive(Debug)]
struct Vault(Location);

#[async_trait::async_trait]
impl secretscope::SecretBackend for Vault {
    async fn fetch(
        &self,
        name: &SecretName,
        _: Option<&SecretVersion>,
    ) -> secretscope::Result<Fetched> {
        let mut properties = SecretProperties::new(name.clone());
        properties.version = Some(SecretVersion::new("0123456789abcdef0123456789abcdef").unwrap());
        properties.created = Some(time::OffsetDateTime::UNIX_EPOCH);
        properties.updated = Some(time::OffsetDateTime::UNIX_EPOCH);
        Ok(Secret::new("v".repeat(VALUE_LEN), properties).into())
    }
    async fn check(&self) -> secretscope::Result<()> {
        Ok(())
    }
    fn location(&self) -> &Location {
        &self.0
    }
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("secret-name-{i:09}")).collect()
}

fn heap() -> u64 {
    dhat::HeapStats::get().curr_bytes as u64
}

/// Bytes per entry a fill of `n` entries added, less the values' bytes.
fn per_entry(n: usize, before: u64, after: u64) -> f64 {
    (after - before) as f64 / n as f64 - VALUE_LEN as f64
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let measuring = std::env::args().any(|a| a == "--bench");
    let counts: &[usize] = if measuring { &[1_000, 100_000] } else { &[100] };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    println!(
        "| entries | cache layer alone | through the manager (cache + reference registry) | floor: `HashMap<String, Arc<str>>` |"
    );
    println!("|---:|---:|---:|---:|");
    for &n in counts {
        let names = names(n);
        let options = CacheOptions::new().with_max_entries(2 * n);

        // The cache layer on its own, read by parsed name.
        let parsed: Vec<SecretName> = names.iter().map(|k| SecretName::new(k).unwrap()).collect();
        let cache = CachedBackend::new(Vault(Location::memory()), options.clone());
        let before = heap();
        for name in &parsed {
            runtime.block_on(cache.fetch(name, None)).expect("fetched");
        }
        let cache_only = per_entry(n, before, heap());
        drop(cache);
        drop(parsed);

        // Through the manager, by reference text: the cache entry and the text's parsed form.
        let policy = ScopePolicy::builder(ScopeMode::Workspace)
            .with_workspace_connection(Connection::new("corp-vault", Vault(Location::memory())))
            .with_known_reference_limit(2 * n)
            .build()
            .unwrap();
        let manager = WorkspaceManager::builder(policy)
            .with_cache(options)
            .build();
        let before = heap();
        for name in &names {
            runtime.block_on(manager.resolve(name)).expect("resolved");
        }
        let through_manager = per_entry(n, before, heap());
        drop(manager);

        // The floor, with values of the same length.
        let before = heap();
        let floor: HashMap<String, Arc<str>> = names
            .iter()
            .map(|k| (k.clone(), Arc::from("v".repeat(VALUE_LEN))))
            .collect();
        let floor_bytes = per_entry(n, before, heap());
        drop(floor);

        println!("| {n} | {cache_only:.0} B | {through_manager:.0} B | {floor_bytes:.0} B |");
        assert!(cache_only > 0.0 && through_manager > cache_only);
    }
}
