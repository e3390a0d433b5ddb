//! Hit throughput on two threads against one thread, for each contender of `contenders`: a
//! measuring program, not a test.
//!
//! `cargo bench --bench scaling` runs, round after round, the same reads (keys in random order,
//! each thread starting at its own place) on one thread and then on two at once, alternating
//! which goes first, and prints for each contender the median over the rounds of
//! `2 * time(one thread) / time(two threads)` (the throughput ratio; 2.0 is perfect scaling)
//! with its interquartile range. papaya's lookup alone, cloning no value, is measured beside
//! them: a read that writes nothing shared, so its figure is what the machine itself allows.
//! Alternating rounds, and medians, keep a machine's drift and a descheduled thread out of the
//! figure. Under `cargo test` it runs a few short rounds, to keep it working.

mod contenders;

use std::sync::Barrier;
use std::time::{Duration, Instant};

use contenders::{CONTENDERS, Contenders, KEY_COUNTS, RUNTIME, Who};

/// Wall time, from a common start, until the slowest of `threads` threads has done `iters`
/// reads of its own.
fn timed(contenders: &Contenders, who: Who, threads: usize, iters: u64) -> Duration {
    let start = Barrier::new(threads);
    let n = contenders.order.len();
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..threads)
            .map(|t| {
                let start = &start;
                scope.spawn(move || {
                    let _runtime = RUNTIME.enter();
                    start.wait();
                    let began = Instant::now();
                    contenders.run(who, t * n / 2 + 7 * t, iters);
                    began.elapsed()
                })
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("no panic"))
            .max()
            .unwrap_or_default()
    })
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let (rounds, window) = if measuring {
        (41, Duration::from_millis(25))
    } else {
        (3, Duration::from_millis(1))
    };
    let _runtime = RUNTIME.enter();
    println!(
        "| hit path | keys | 1 thread, ns per read | 2 threads / 1 (median) | interquartile |"
    );
    println!("|---|---:|---:|---:|---|");
    for n in KEY_COUNTS {
        let contenders = Contenders::new(n);
        let uncloned = ("papaya, no clone", Who::PapayaUncloned);
        for (name, who) in CONTENDERS.into_iter().chain([uncloned]) {
            // Enough reads per run to fill the window on one thread.
            let probe = timed(&contenders, who, 1, 10_000);
            let per_read = probe.as_secs_f64() / 10_000.0;
            let iters = ((window.as_secs_f64() / per_read) as u64).max(1_000);
            let (mut ratios, mut singles) = (Vec::new(), Vec::new());
            for round in 0..rounds {
                let (one, two) = if round % 2 == 0 {
                    let one = timed(&contenders, who, 1, iters);
                    (one, timed(&contenders, who, 2, iters))
                } else {
                    let two = timed(&contenders, who, 2, iters);
                    (timed(&contenders, who, 1, iters), two)
                };
                ratios.push(2.0 * one.as_secs_f64() / two.as_secs_f64());
                singles.push(one.as_secs_f64() * 1e9 / iters as f64);
            }
            ratios.sort_by(f64::total_cmp);
            singles.sort_by(f64::total_cmp);
            println!(
                "| {name} | {n} | {:.1} | {:.2} | {:.2}-{:.2} |",
                quantile(&singles, 0.5),
                quantile(&ratios, 0.5),
                quantile(&ratios, 0.25),
                quantile(&ratios, 0.75),
            );
        }
    }
}
