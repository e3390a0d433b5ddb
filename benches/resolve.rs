//! What secretscope adds on top of a backend read.
//!
//! The baseline is a direct `MemoryBackend::fetch` (a map lookup and a value handle clone):
//! every other figure is meant to be read as a ratio to it, measured in the same run
//! (`scripts/bench-ratios` prints them).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use secretscope::memory::MemoryBackend;
use secretscope::{
    CacheOptions, Connection, ScopeMode, ScopePolicy, SecretBackend, SecretName, SecretRef,
    SecretsManager, WorkspaceManager,
};

const REFERENCES: [&str; 4] = [
    "db-password",
    "{{ project:billing/db-password }}",
    "db-password/0123456789abcdef0123456789abcdef",
    "https://corp.vault.azure.net/secrets/db-password",
];

fn manager(backend: Arc<MemoryBackend>, cache: CacheOptions) -> WorkspaceManager {
    let policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(Connection::from_arc("corp-vault", backend))
        .build()
        .expect("valid policy");
    WorkspaceManager::builder(Arc::new(policy))
        .with_cache(cache)
        .build()
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let backend = Arc::new(MemoryBackend::new());
    backend.set("db-password", "x".repeat(64)).expect("stored");
    for i in 0..1000 {
        backend.set(&format!("other-{i}"), "v").expect("stored");
    }
    let name = SecretName::new("db-password").expect("valid");
    let cached = manager(backend.clone(), CacheOptions::new());
    let uncached = manager(backend.clone(), CacheOptions::disabled());

    let mut group = c.benchmark_group("resolve");
    group.bench_function("baseline_backend_fetch", |b| {
        b.iter(|| {
            runtime
                .block_on(backend.fetch(black_box(&name), None))
                .expect("found")
        })
    });
    group.bench_function("manager_cache_hit", |b| {
        b.iter(|| {
            runtime
                .block_on(cached.resolve(black_box("db-password")))
                .expect("found")
        })
    });
    group.bench_function("manager_no_cache", |b| {
        b.iter(|| {
            runtime
                .block_on(uncached.resolve(black_box("db-password")))
                .expect("found")
        })
    });
    group.finish();

    let mut group = c.benchmark_group("parse");
    for (i, reference) in REFERENCES.iter().enumerate() {
        group.bench_function(format!("reference_{i}"), |b| {
            b.iter(|| SecretRef::parse(black_box(reference)).expect("valid"))
        });
    }
    group.finish();
}

criterion_group!(resolve, benches);
criterion_main!(resolve);
