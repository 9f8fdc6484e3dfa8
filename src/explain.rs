//! `heartbeat explain`: the event journal (see `logging::journal`) told as a
//! failover timeline that says why each step happened.
//!
//! # Layout
//!
//! * this file: the command (read the journal, filter, print).
//! * `timeline`: the pure function from entries to sentences, which is what
//!   the tests check (a scripted failover gives the expected text).
//! * `since`: the `--since` argument (a wall time, a date-time, or a duration ago).
//!
//! Only this node's journal is read: the peer's is not fetched (run
//! `heartbeat explain` there too).

mod since;
mod timeline;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::process::ExitCode;

pub use since::parse_since;
pub use timeline::timeline;

use crate::logging::journal;

/// Reads the journal in `state_dir` and prints the timeline of what happened
/// since `since` (everything without it).
pub fn run(state_dir: &Path, since: Option<&str>) -> anyhow::Result<ExitCode> {
    let now = chrono::Local::now();
    let since_ms = since
        .map(|s| parse_since(s, now).map_err(|e| anyhow::anyhow!("--since {s}: {e}")))
        .transpose()?;
    let files = journal::files(state_dir);
    if files.is_empty() {
        eprintln!(
            "heartbeat explain: no journal in {} (the daemon writes {}/{} once it runs; see --state-dir)",
            state_dir.display(),
            state_dir.display(),
            journal::FILE_NAME
        );
        return Ok(ExitCode::from(crate::EXIT_INVALID));
    }
    let (entries, bad) = journal::read(state_dir)?;
    let lines = timeline(&entries, since_ms, &chrono::Local);
    let first = entries.first().map(|e| e.wall_ms);
    let shown_from = match (since_ms, first) {
        (Some(s), _) => format!(" since {}", timeline::date_time(s, &chrono::Local)),
        (None, Some(f)) => format!(" from {}", timeline::date_time(f, &chrono::Local)),
        (None, None) => String::new(),
    };
    println!(
        "Timeline of {} ({} journal entries{shown_from}):",
        state_dir.join(journal::FILE_NAME).display(),
        entries.len()
    );
    if lines.is_empty() {
        println!("  nothing happened.");
    }
    for l in &lines {
        println!("{l}");
    }
    if bad > 0 {
        println!("({bad} lines of the journal were not entries: cut by a crash, or damaged)");
    }
    Ok(ExitCode::SUCCESS)
}
