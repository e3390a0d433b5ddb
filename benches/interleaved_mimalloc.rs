//! `benches/interleaved.rs` with mimalloc as the global allocator: a measuring program, not a
//! test.
//!
//! At 100,000 keys a hit waits on memory, and how far apart its lines lie depends on the
//! allocator as much as on the cache. The system allocator (glibc) places each key's cache entry
//! and value handles among every other allocation of the fetch that made them; mimalloc keeps
//! blocks of one size together, so the cache's 64-byte entries and handles sit densely. Every
//! contender, the floor included, runs under the same allocator here, as they would in a
//! service that links mimalloc. `cargo bench --bench interleaved_mimalloc`.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod contenders;

fn main() {
    contenders::interleaved::main();
}
