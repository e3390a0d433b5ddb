//! The interleaved program's rounds, shared by `benches/interleaved.rs` and
//! `benches/interleaved_mimalloc.rs`, which differ only in their global allocator.

use std::time::Instant;

use super::{CONTENDERS, Contenders, KEY_COUNTS, RUNTIME};

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Runs the rounds and prints the table (see `benches/interleaved.rs`).
pub fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let rounds = if measuring { 41 } else { 3 };
    let _runtime = RUNTIME.enter();
    println!("| hit path | keys | ns per read (median) | x floor (median) | interquartile |");
    println!("|---|---:|---:|---:|---|");
    for n in KEY_COUNTS {
        let contenders = Contenders::new(n);
        // About 25 ms of floor reads a round.
        let reads = if !measuring {
            1_000
        } else if n <= 1_000 {
            1_000_000
        } else {
            80_000
        };
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); CONTENDERS.len()];
        let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); CONTENDERS.len()];
        for round in 0..rounds {
            let mut floor = 0.0;
            for (i, (_, who)) in CONTENDERS.iter().enumerate() {
                let began = Instant::now();
                contenders.run(*who, round * 7919, reads);
                let per_read = began.elapsed().as_secs_f64() * 1e9 / reads as f64;
                if i == 0 {
                    floor = per_read;
                }
                times[i].push(per_read);
                ratios[i].push(per_read / floor);
            }
        }
        for (i, (name, _)) in CONTENDERS.iter().enumerate() {
            times[i].sort_by(f64::total_cmp);
            ratios[i].sort_by(f64::total_cmp);
            println!(
                "| {name} | {n} | {:.1} | {:.2} | {:.2}-{:.2} |",
                quantile(&times[i], 0.5),
                quantile(&ratios[i], 0.5),
                quantile(&ratios[i], 0.25),
                quantile(&ratios[i], 0.75),
            );
        }
    }
}
