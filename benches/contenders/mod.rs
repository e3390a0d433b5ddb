//! The contenders every hit benchmark measures, filled with the same keys: the floor (an
//! `RwLock<HashMap<String, Arc<str>>>` get and clone), `papaya`, `quick_cache`, `moka`, and
//! secretscope's `resolve(&str)` of the plain name, `resolve_ref` (an already parsed
//! reference) and `resolve(&str)` of the name wrapped as `{{ name }}`.
//!
//! Keys are 21-byte names; every key has a 40-byte value of its own. A hit's future is ready on
//! its first poll, so it is taken with `into_ready()`: no runtime runs, and none of its cost
//! hides ours.

#[allow(dead_code, reason = "run by the interleaved programs only")]
pub mod interleaved;

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use secretscope::memory::MemoryBackend;
use secretscope::prelude::*;
use secretscope::scope::ScopePolicy;
use secretscope::{CacheOptions, Connection, ScopeMode, SecretRef, WorkspaceManager};

/// Runs `body` with `who` as a constant, so each contender gets a loop of its own.
macro_rules! each {
    ($who:expr, |$w:ident| $body:expr) => {
        match $who {
            Who::Floor => {
                let $w = Who::Floor;
                $body
            }
            Who::Papaya => {
                let $w = Who::Papaya;
                $body
            }
            Who::PapayaUncloned => {
                let $w = Who::PapayaUncloned;
                $body
            }
            Who::QuickCache => {
                let $w = Who::QuickCache;
                $body
            }
            Who::Moka => {
                let $w = Who::Moka;
                $body
            }
            Who::Resolve => {
                let $w = Who::Resolve;
                $body
            }
            Who::ResolveRef => {
                let $w = Who::ResolveRef;
                $body
            }
            Who::ResolveWrapped => {
                let $w = Who::ResolveWrapped;
                $body
            }
        }
    };
}

/// The runtime a service would run on: it drives the cache's coarse clock from its worker
/// thread, as it would in a service (the reads themselves never await).
pub static RUNTIME: std::sync::LazyLock<tokio::runtime::Runtime> = std::sync::LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
});

pub const KEY_COUNTS: [usize; 2] = [100, 100_000];
/// `n` names of 21 bytes.
fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("secret-name-{i:09}")).collect()
}

/// The 40-byte value of key `i`: every secret has a value of its own, in an allocation of its
/// own, so that a read clones the count of that key's value as it would in a real cache (one
/// value shared by every key would keep its count in the reader's L1 and hide the cost).
fn value(i: usize) -> Arc<str> {
    Arc::from(format!("{i:040}"))
}

/// Every index once, in a fixed pseudo-random order.
fn shuffled(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for i in (1..n).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    order
}

/// The contenders, each filled with the same keys.
pub struct Contenders {
    keys: Vec<String>,
    /// The keys as `{{ name }}`: a form parsed once and then found among the texts parsed
    /// before (a plain name is parsed in place instead).
    wrapped: Vec<String>,
    parsed: Vec<SecretRef>,
    pub order: Vec<usize>,
    floor: RwLock<HashMap<String, Arc<str>>>,
    papaya: papaya::HashMap<String, Arc<str>>,
    quick_cache: quick_cache::sync::Cache<String, Arc<str>>,
    moka: moka::sync::Cache<String, Arc<str>>,
    manager: WorkspaceManager,
}

impl Contenders {
    pub fn new(n: usize) -> Self {
        let keys = keys(n);
        let backend = MemoryBackend::new();
        for (i, key) in keys.iter().enumerate() {
            backend.set(key, value(i).to_string()).expect("stored");
        }
        let policy = ScopePolicy::builder(ScopeMode::Workspace)
            .with_workspace_connection(Connection::new("corp-vault", backend))
            .with_known_reference_limit(2 * n)
            .build()
            .expect("valid policy");
        let manager = WorkspaceManager::builder(policy)
            .with_cache(
                CacheOptions::new()
                    .with_ttl(Duration::from_secs(24 * 3600))
                    .with_max_entries(2 * n),
            )
            .build();
        let wrapped: Vec<String> = keys.iter().map(|k| format!("{{{{ {k} }}}}")).collect();
        for (key, wrapped) in keys.iter().zip(&wrapped) {
            RUNTIME.block_on(manager.resolve(key)).expect("found");
            RUNTIME.block_on(manager.resolve(wrapped)).expect("found");
        }
        let papaya = papaya::HashMap::new();
        let quick_cache = quick_cache::sync::Cache::new(2 * n);
        let moka = moka::sync::Cache::new(2 * n as u64);
        for (i, key) in keys.iter().enumerate() {
            papaya.pin().insert(key.clone(), value(i));
            quick_cache.insert(key.clone(), value(i));
            moka.insert(key.clone(), value(i));
        }
        moka.run_pending_tasks();
        Self {
            parsed: keys
                .iter()
                .map(|k| SecretRef::parse(k).expect("valid"))
                .collect(),
            floor: RwLock::new(
                keys.iter()
                    .enumerate()
                    .map(|(i, k)| (k.clone(), value(i)))
                    .collect(),
            ),
            order: shuffled(n),
            keys,
            wrapped,
            papaya,
            quick_cache,
            moka,
            manager,
        }
    }

    /// One read of key `i` by contender `who`; inlined into each contender's own loop, so the
    /// dispatch costs nothing.
    #[inline(always)]
    pub fn read(&self, who: Who, i: usize) {
        let key = self.keys[i].as_str();
        match who {
            Who::Floor => {
                black_box(self.floor.read().expect("not poisoned").get(key).cloned());
            }
            Who::Papaya => {
                black_box(self.papaya.pin().get(key).cloned());
            }
            Who::PapayaUncloned => {
                black_box(self.papaya.pin().get(key).map(|value| value.len()));
            }
            Who::QuickCache => {
                black_box(self.quick_cache.get(key));
            }
            Who::Moka => {
                black_box(self.moka.get(key));
            }
            Who::Resolve => match self.manager.resolve(key).into_ready() {
                Ok(Ok(value)) => {
                    black_box(value);
                }
                _ => panic!("a hit"),
            },
            Who::ResolveWrapped => match self.manager.resolve(&self.wrapped[i]).into_ready() {
                Ok(Ok(value)) => {
                    black_box(value);
                }
                _ => panic!("a hit"),
            },
            Who::ResolveRef => match self.manager.resolve_ref(&self.parsed[i]).into_ready() {
                Ok(Ok(resolved)) => {
                    black_box(resolved.into_value());
                }
                _ => panic!("a hit"),
            },
        }
    }

    /// `iters` reads, starting at position `from` of the shuffled order, in a loop of the
    /// contender's own.
    #[allow(
        dead_code,
        reason = "used by some of the benchmark programs sharing this module"
    )]
    pub fn run(&self, who: Who, from: usize, iters: u64) {
        let n = self.order.len();
        let mut at = from % n;
        each!(who, |w| for _ in 0..iters {
            self.read(w, self.order[at]);
            at += 1;
            if at == n {
                at = 0;
            }
        })
    }
}

/// One criterion benchmark per contender and key count, in groups named `<group>_<keys>`:
/// a hit of a present key, keys in random order.
#[allow(
    dead_code,
    reason = "used by the criterion programs sharing this module"
)]
pub fn bench_hits(c: &mut criterion::Criterion, group: &str) {
    let _runtime = RUNTIME.enter();
    for n in KEY_COUNTS {
        let contenders = Contenders::new(n);
        let mut group = c.benchmark_group(format!("{group}_{n}"));
        for (name, who) in CONTENDERS {
            let mut at = 0usize;
            group.bench_function(name, |b| {
                each!(who, |w| b.iter(|| {
                    contenders.read(w, contenders.order[at]);
                    at += 1;
                    if at == n {
                        at = 0;
                    }
                }))
            });
        }
        group.finish();
    }
}

#[derive(Clone, Copy)]
pub enum Who {
    Floor,
    Papaya,
    /// papaya's lookup alone, handing out no value: a read that writes nothing shared.
    #[allow(dead_code, reason = "measured by benches/scaling.rs only")]
    PapayaUncloned,
    QuickCache,
    Moka,
    Resolve,
    ResolveRef,
    ResolveWrapped,
}

pub const CONTENDERS: [(&str, Who); 7] = [
    ("floor", Who::Floor),
    ("papaya", Who::Papaya),
    ("quick_cache", Who::QuickCache),
    ("moka", Who::Moka),
    ("resolve", Who::Resolve),
    ("resolve_ref", Who::ResolveRef),
    ("resolve_wrapped", Who::ResolveWrapped),
];
