//! The cache-hit benchmarks of `benches/resolve.rs` with mimalloc as the global allocator, every
//! contender alike, in groups `mimalloc_hit_<keys>` (`python3 scripts/bench-ratios mimalloc_hit`
//! prints the ratios).
//!
//! At 100,000 keys a hit waits on memory, and how far apart a key's cache entry and value
//! handles lie depends on the allocator: see `benches/interleaved_mimalloc.rs`.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod contenders;

use criterion::{Criterion, criterion_group, criterion_main};

fn hits(c: &mut Criterion) {
    contenders::bench_hits(c, "mimalloc_hit");
}

criterion_group!(resolve_mimalloc, hits);
criterion_main!(resolve_mimalloc);
