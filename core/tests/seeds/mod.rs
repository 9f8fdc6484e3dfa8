//! Seeds of the random simulator tests, shared by `cluster_sim` and
//! `membership_sim`.
//!
//! `SIM_SEED=n` replays one seed; `SIM_RUNS=n` runs `n` seeds instead of the
//! default count. Every seed runs even after one fails; the failing ones are
//! printed, each with the command that replays it, and the test fails at the
//! end.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// The seeds to run: `SIM_SEED` alone, or `SIM_RUNS` (default `runs`) from `first` on.
pub fn seeds(first: u64, runs: u64) -> Vec<u64> {
    let runs: u64 =
        std::env::var("SIM_RUNS").map_or(runs, |s| s.parse().expect("SIM_RUNS is a number"));
    match std::env::var("SIM_SEED") {
        Ok(s) => vec![s.parse().expect("SIM_SEED is a number")],
        Err(_) => (first..first + runs).collect(),
    }
}

/// Runs `run` for every seed of `seeds(first, runs)`; `test` is the test's name for the replay command
/// (`SIM_SEED=n cargo test -p hb-core --test TARGET TEST`).
pub fn run_seeds(target: &str, test: &str, first: u64, runs: u64, run: impl Fn(u64)) {
    let started = Instant::now();
    let seeds = seeds(first, runs);
    let mut failed = Vec::new();
    for &seed in &seeds {
        if catch_unwind(AssertUnwindSafe(|| run(seed))).is_err() {
            eprintln!(
                "{target}::{test}: seed {seed} FAILED; replay with\n  SIM_SEED={seed} cargo test -p hb-core --test {target} {test}"
            );
            failed.push(seed);
        }
    }
    eprintln!(
        "{target}::{test}: {} seeds in {:.1} s, {} failed",
        seeds.len(),
        started.elapsed().as_secs_f64(),
        failed.len(),
    );
    assert!(
        failed.is_empty(),
        "{target}::{test}: seeds {failed:?} failed; replay one with\n  SIM_SEED=n cargo test -p hb-core --test {target} {test}"
    );
}
