//! Instructions and memory reads of one cache hit, for each contender of `contenders`, counted
//! exactly under valgrind: a measuring program, not a test.
//!
//! Wall-clock timings on a shared machine move from run to run; instruction and cache-miss
//! counts of the same binary do not. `scripts/hit-cost` runs this program under
//! `valgrind --tool=cachegrind` twice for each contender and key count, once without the
//! measured reads and once with them, and divides the difference by their number.
//!
//! `hit_cost --who=<contender> --keys=<n> --reads=<r>` fills the contenders with `n` keys,
//! reads every key once, then makes `r` more reads in random order. Under `cargo test` it runs
//! every contender once with a few keys, to keep it working.

mod contenders;

use contenders::{CONTENDERS, Contenders, KEY_COUNTS, RUNTIME};

fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .find_map(|a| a.strip_prefix(name)?.strip_prefix('='))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let _runtime = RUNTIME.enter();
    let Some(who) = arg(&args, "--who") else {
        // Under `cargo test`: each contender, a few reads.
        let contenders = Contenders::new(KEY_COUNTS[0]);
        for (_, who) in CONTENDERS {
            contenders.run(who, 0, 1_000);
        }
        return;
    };
    let who = CONTENDERS
        .iter()
        .find(|(name, _)| *name == who)
        .unwrap_or_else(|| panic!("--who: one of {:?}", CONTENDERS.map(|(n, _)| n)))
        .1;
    let keys: usize =
        arg(&args, "--keys").map_or(KEY_COUNTS[0], |n| n.parse().expect("--keys=<n>"));
    let reads: u64 = arg(&args, "--reads").map_or(0, |n| n.parse().expect("--reads=<n>"));
    let contenders = Contenders::new(keys);
    contenders.run(who, 0, keys as u64);
    contenders.run(who, 0, reads);
}
