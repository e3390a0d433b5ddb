//! The cost of a cache hit, against a plain map and the caches a user might pick instead, all
//! measured in the same run (`scripts/bench-ratios` prints the ratios; BENCHMARKS.md has them).
//!
//! - `hit_<keys>`: one read of a present key, keys in random order, by each contender of
//!   `contenders` (the floor, papaya, quick_cache, moka, `resolve(&str)`, `resolve_ref`).
//! - `parse`: the reference parser.
//!
//! Throughput on two threads against one is `benches/scaling.rs`.

mod contenders;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use secretscope::SecretRef;

const REFERENCES: [&str; 4] = [
    "db-password",
    "{{ project:billing/db-password }}",
    "db-password/0123456789abcdef0123456789abcdef",
    "https://corp.vault.azure.net/secrets/db-password",
];

fn hits(c: &mut Criterion) {
    contenders::bench_hits(c, "hit");
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for (i, reference) in REFERENCES.iter().enumerate() {
        group.bench_function(format!("reference_{i}"), |b| {
            b.iter(|| SecretRef::parse(black_box(reference)).expect("valid"))
        });
    }
    group.finish();
}

criterion_group!(resolve, hits, parse);
criterion_main!(resolve);
