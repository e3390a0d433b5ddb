//! The cost of a cache hit as a ratio to the floor, each round measuring the floor and every
//! contender of `contenders` one after the other: a measuring program, not a test.
//!
//! `cargo bench --bench interleaved` runs 41 rounds at each key count; in each round every
//! contender reads the same number of keys in random order right after the floor did, and
//! the figure is the median over the rounds of `time(contender) / time(floor)`, with its
//! interquartile range. A machine that drifts between runs moves the floor and the
//! contenders alike, so these ratios move less than those of separate criterion runs. Under
//! `cargo test` it runs a few short rounds, to keep it working.

mod contenders;

fn main() {
    contenders::interleaved::main();
}
