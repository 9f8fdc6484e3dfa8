//! Seeds of the random simulator tests, shared by `cluster_sim` and
//! `membership_sim`.
//!
//! Every run explores new ground: each random test draws a fresh base seed and
//! runs its usual count of seeds from there, printing the base first (the
//! seeds that once found a bug are replayed by fixed tests besides). Seeds
//! that fail are printed, each with the command that replays it, every seed
//! runs even after one fails, and the test fails at the end.
//!
//! - `SIM_SEED=n` replays one seed;
//! - `SIM_BASE=n` pins the base seed (the run is then the same every time);
//! - `SIM_RUNS=n` runs `n` seeds instead of the test's usual count.
//!
//! Each failing seed also gives one line `SIM-FAIL target test seed=n: first
//! line of the failure`, which `scripts/sim-search.sh` collects.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// Fresh base seeds are drawn below this, so that they stay short to type.
const FRESH_BASES: u64 = 1_000_000_000_000;

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|s| {
        s.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {s:?}"))
    })
}

/// The base seed: `SIM_BASE`, or a fresh one (from the process's random hash
/// keys); true if fresh.
fn base() -> (u64, bool) {
    match env_number("SIM_BASE") {
        Some(base) => (base, false),
        None => (RandomState::new().hash_one(0u8) % FRESH_BASES, true),
    }
}

/// The first line of a panic's message (the broken invariant).
pub fn first_line(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    text.lines().next().unwrap_or_default().to_owned()
}

/// Runs `run` for `SIM_SEED` alone, or for `SIM_RUNS` (default `runs`) seeds
/// from the base seed on; `test` is the test's name for the replay command
/// (`SIM_SEED=n cargo test -p hb-core --test TARGET TEST`).
pub fn run_seeds(target: &str, test: &str, runs: u64, run: impl Fn(u64)) {
    let started = Instant::now();
    let seeds: Vec<u64> = match env_number("SIM_SEED") {
        Some(seed) => vec![seed],
        None => {
            let runs = env_number("SIM_RUNS").unwrap_or(runs);
            let (base, fresh) = base();
            eprintln!(
                "{target}::{test}: {runs} seeds from base seed {base}{}",
                if fresh {
                    " (drawn for this run; SIM_BASE=n pins it)"
                } else {
                    " (SIM_BASE)"
                }
            );
            (base..base.saturating_add(runs)).collect()
        }
    };
    let mut failed = Vec::new();
    for &seed in &seeds {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| run(seed))) {
            eprintln!(
                "SIM-FAIL {target} {test} seed={seed}: {}",
                first_line(payload.as_ref())
            );
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
        "{target}::{test}: seeds {failed:?} failed; replay one with\n  SIM_SEED={} cargo test -p hb-core --test {target} {test}",
        failed[0]
    );
}
