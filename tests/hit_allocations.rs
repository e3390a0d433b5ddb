//! A cache hit allocates nothing: counted by a global allocator that records every heap block.
//!
//! One test in its own binary, so nothing else allocates while it counts; no runtime, because
//! a hit needs none.

use std::task::{Context, Poll, Waker};

use secretscope::memory::MemoryBackend;
use secretscope::prelude::*;
use secretscope::{Connection, Location, ScopeMode, ScopePolicy, SecretRef, WorkspaceManager};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

fn ready<T>(mut future: impl std::future::Future<Output = T> + Unpin) -> T {
    match std::pin::Pin::new(&mut future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("a hit must be ready on its first poll"),
    }
}

#[test]
fn a_hit_allocates_nothing() {
    let _profiler = dhat::Profiler::builder().testing().build();

    // A memory backend that says it is the vault `https://corp.vault.azure.net`, so that Key
    // Vault identifiers resolve through it.
    let vault =
        MemoryBackend::new().with_location(Location::url("https://corp.vault.azure.net").unwrap());
    let version = vault.set("db-password", "hunter2").unwrap();
    let policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(Connection::new("corp-vault", vault))
        .build()
        .unwrap();
    let manager = WorkspaceManager::new(policy);
    let pinned = format!("db-password/{version}");
    let texts = [
        "db-password",
        "{{ db-password }}",
        "DB-Password",
        pinned.as_str(),
        "https://corp.vault.azure.net/secrets/db-password",
    ];
    let parsed = SecretRef::parse("db-password").unwrap();
    // Misses: parse, fetch, fill the cache.
    for text in texts {
        assert_eq!(
            ready(manager.resolve(text)).unwrap().expose_secret(),
            "hunter2"
        );
    }

    let before = dhat::HeapStats::get();
    for _ in 0..1000 {
        for text in texts {
            let value = ready(manager.resolve(text)).unwrap();
            assert_eq!(value.len(), 7);
        }
        let resolved = ready(manager.resolve_ref(&parsed)).unwrap();
        assert_eq!(resolved.properties().name.as_str(), "db-password");
        let owned = ready(manager.resolve_with_metadata("db-password")).unwrap();
        assert_eq!(owned.connection().as_str(), "corp-vault");
    }
    let after = dhat::HeapStats::get();
    dhat::assert_eq!(
        after.total_blocks - before.total_blocks,
        0,
        "7,000 cache hits allocated {} blocks ({} bytes)",
        after.total_blocks - before.total_blocks,
        after.total_bytes - before.total_bytes
    );
}
