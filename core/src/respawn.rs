//! The restart policy of `respawn` programs (spec §11), sans-IO: the caller
//! says when a run started and how it ended, and gets back whether and when to
//! start it again, and what to log.
//!
//! heartbeat 3.0.6's rules, which this module keeps:
//!
//! * exit code **100** means "do not respawn me";
//! * any other exit, or a signal, is followed by a restart, after a 1 s pause
//!   if the run was *short* (under 30 s);
//! * **more than 10 consecutive short runs** and the program is given up:
//!   `Client CMD "respawning too fast"`, never restarted again;
//! * nothing is restarted once the daemon is stopping.
//!
//! Where we differ: 3.0.6 forks first and a failed `exec` exits 100 in the
//! child, so it is never retried. Here a program that cannot be started (the
//! user vanished, the file is gone) is a short run that ended at once
//! ([`Ending::SpawnFailed`]): it is retried under the same throttle, and given
//! up after the same 11 attempts with the same log line.
//!
//! ```text
//!   started(now) ──> running ──ended(now, how)──> Decision
//!                                                 ├─ Restart { after: 0 | pause } ─> started(..)
//!                                                 ├─ Declined  (exit 100)
//!                                                 ├─ TooFast   (> 10 short runs in a row)
//!                                                 └─ Stopped   (stop() was called)
//! ```

use std::path::Path;
use std::time::Duration;

use crate::membership::Level;
use crate::time::Instant;

/// The exit code with which a client asks not to be respawned.
pub const DO_NOT_RESPAWN: i32 = 100;

/// The numbers of the policy. [`Policy::HEARTBEAT`] holds 3.0.6's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A run shorter than this is "short".
    pub short_run: Duration,
    /// The pause before restarting after a short run.
    pub pause: Duration,
    /// Short runs in a row that are still restarted; one more gives up.
    pub max_short_runs: u32,
}

impl Policy {
    /// heartbeat 3.0.6: short under 30 s, 1 s pause, give up after more than 10.
    pub const HEARTBEAT: Policy = Policy {
        short_run: Duration::from_secs(30),
        pause: Duration::from_secs(1),
        max_short_runs: 10,
    };
}

impl Default for Policy {
    fn default() -> Policy {
        Policy::HEARTBEAT
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The program exited with this code.
    Exited(i32),
    /// The program was killed by this signal.
    Killed(i32),
    /// The program could not be started at all (counts as a run of length 0).
    SpawnFailed,
}

/// What to do after a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start it again after this pause (zero: at once).
    Restart {
        /// How long to wait first.
        after: Duration,
    },
    /// It exited with [`DO_NOT_RESPAWN`]: it stays stopped.
    Declined,
    /// Too many short runs in a row: it stays stopped.
    TooFast,
    /// The daemon is stopping: it stays stopped.
    Stopped,
}

/// The restart state of one `respawn` line.
#[derive(Debug, Clone)]
pub struct Respawner {
    policy: Policy,
    /// When the current run started; `None` between runs.
    started: Option<Instant>,
    /// Consecutive short runs, the last one included.
    short_runs: u32,
    /// Set by [`Respawner::stop`], and by a final decision: nothing starts again.
    finished: bool,
    /// Set by [`Respawner::stop`] only.
    stopping: bool,
}

impl Respawner {
    /// A client that has not run yet.
    pub fn new(policy: Policy) -> Respawner {
        Respawner {
            policy,
            started: None,
            short_runs: 0,
            finished: false,
            stopping: false,
        }
    }

    /// A run started at `now`.
    pub fn started(&mut self, now: Instant) {
        self.started = Some(now);
    }

    /// The daemon is stopping: whatever ends from now on is not restarted.
    pub fn stop(&mut self) {
        self.stopping = true;
        self.finished = true;
    }

    /// Whether the daemon is stopping (see [`Respawner::stop`]).
    pub fn is_stopping(&self) -> bool {
        self.stopping
    }

    /// Whether nothing will be started again (stopping, declined or too fast).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Consecutive short runs so far.
    pub fn short_runs(&self) -> u32 {
        self.short_runs
    }

    /// The run that started last ended at `now`, as `how` says.
    pub fn ended(&mut self, now: Instant, how: Ending) -> Decision {
        let ran = match (how, self.started.take()) {
            (Ending::SpawnFailed, _) | (_, None) => Duration::ZERO,
            (_, Some(t)) => now.since(t),
        };
        if self.stopping {
            return Decision::Stopped;
        }
        if self.finished {
            // A final decision was made already: an extra report changes nothing.
            return Decision::Stopped;
        }
        if how == Ending::Exited(DO_NOT_RESPAWN) {
            self.finished = true;
            return Decision::Declined;
        }
        let short = ran < self.policy.short_run;
        if short {
            self.short_runs += 1;
        } else {
            self.short_runs = 0;
        }
        if self.short_runs > self.policy.max_short_runs {
            self.finished = true;
            return Decision::TooFast;
        }
        Decision::Restart {
            after: if short {
                self.policy.pause
            } else {
                Duration::ZERO
            },
        }
    }
}

/// The command as logged: the argv words joined by blanks, as configured.
pub fn command_line(argv: &[String]) -> String {
    argv.join(" ")
}

/// Whether `program` is heartbeat's ipfail, which is built in (it is not run
/// as a separate program): decided by the file name, whatever the directory.
pub fn is_ipfail(program: &str) -> bool {
    Path::new(program)
        .file_name()
        .is_some_and(|name| name == "ipfail")
}

/// The line logged when a run ends, in 3.0.6's words, before the decision's
/// lines. `None` for a clean exit (code 0) and for a failed start (the caller
/// logs the cause).
pub fn ending_line(cmd: &str, how: Ending) -> Option<(Level, String)> {
    match how {
        Ending::Exited(0) | Ending::SpawnFailed => None,
        Ending::Exited(code) => Some((
            Level::Info,
            format!("Client {cmd} exited with return code {code}."),
        )),
        Ending::Killed(sig) => Some((Level::Info, format!("Client {cmd} killed by signal {sig}."))),
    }
}

/// The line logged for a decision, in 3.0.6's words where it has them.
pub fn decision_line(cmd: &str, d: Decision) -> Option<(Level, String)> {
    match d {
        Decision::Restart { .. } => Some((Level::Error, format!("Respawning client \"{cmd}\":"))),
        Decision::Declined => Some((
            Level::Info,
            format!(
                "Client {cmd} exited with return code {DO_NOT_RESPAWN}: it asked not to be respawned; not restarted."
            ),
        )),
        Decision::TooFast => Some((
            Level::Error,
            format!("Client {cmd} \"respawning too fast\""),
        )),
        Decision::Stopped => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    const SECOND: u64 = 1000;

    /// Runs once from `at` for `ms`, ending as `how`.
    fn run(r: &mut Respawner, at: u64, ms: u64, how: Ending) -> Decision {
        r.started(t(at));
        r.ended(t(at + ms), how)
    }

    /// §11: "If it exits with 100, it is not respawned."
    #[test]
    fn exit_100_is_not_respawned() {
        let mut r = Respawner::new(Policy::HEARTBEAT);
        assert_eq!(
            run(&mut r, 0, 60 * SECOND, Ending::Exited(100)),
            Decision::Declined
        );
        assert!(r.is_finished());
        assert!(!r.is_stopping());
    }

    /// §11: any other exit or a signal is restarted; after a long run, at once.
    #[test]
    fn other_exits_and_signals_after_a_long_run_restart_at_once() {
        let mut r = Respawner::new(Policy::HEARTBEAT);
        for (i, how) in [Ending::Exited(0), Ending::Exited(1), Ending::Killed(9)]
            .into_iter()
            .enumerate()
        {
            let at = i as u64 * 100 * SECOND;
            assert_eq!(
                run(&mut r, at, 30 * SECOND, how),
                Decision::Restart {
                    after: Duration::ZERO
                },
                "{how:?}"
            );
        }
        assert_eq!(r.short_runs(), 0);
    }

    /// §11: "with a 1 s sleep first if the last run was short" (< 30 s).
    #[test]
    fn a_short_run_is_restarted_after_one_second() {
        let mut r = Respawner::new(Policy::HEARTBEAT);
        assert_eq!(
            run(&mut r, 0, 30 * SECOND - 1, Ending::Killed(9)),
            Decision::Restart {
                after: Duration::from_secs(1)
            }
        );
        assert_eq!(r.short_runs(), 1);
    }

    /// §11: "After more than 10 consecutive short runs ... not restarted again."
    #[test]
    fn the_eleventh_short_run_in_a_row_gives_up_for_good() {
        let mut r = Respawner::new(Policy::HEARTBEAT);
        let mut at = 0;
        for n in 1..=10 {
            assert_eq!(
                run(&mut r, at, 10, Ending::Exited(1)),
                Decision::Restart {
                    after: Duration::from_secs(1)
                },
                "short run {n}"
            );
            at += 2 * SECOND;
        }
        assert_eq!(run(&mut r, at, 10, Ending::Exited(1)), Decision::TooFast);
        assert!(r.is_finished());
        // A stray later report (it cannot happen: nothing runs) changes nothing.
        assert_eq!(
            r.ended(t(at + 5 * SECOND), Ending::Exited(1)),
            Decision::Stopped
        );
    }

    /// Only consecutive short runs count: a long run in between starts over.
    #[test]
    fn a_long_run_resets_the_count_of_short_runs() {
        let mut r = Respawner::new(Policy::HEARTBEAT);
        let mut at = 0;
        for _ in 0..10 {
            run(&mut r, at, 10, Ending::Exited(2));
            at += 2 * SECOND;
        }
        assert_eq!(r.short_runs(), 10);
        assert_eq!(
            run(&mut r, at, 31 * SECOND, Ending::Exited(2)),
            Decision::Restart {
                after: Duration::ZERO
            }
        );
        assert_eq!(r.short_runs(), 0);
        at += 40 * SECOND;
        for _ in 0..10 {
            assert!(matches!(
                run(&mut r, at, 10, Ending::Exited(2)),
                Decision::Restart { .. }
            ));
            at += 2 * SECOND;
        }
    }

    /// Our addition: a start that fails is a short run that ended at once,
    /// under the same throttle (3.0.6 would never retry it).
    #[test]
    fn a_failed_start_is_retried_under_the_same_throttle() {
        let mut r = Respawner::new(Policy::HEARTBEAT);
        let mut at = 0;
        for _ in 0..10 {
            r.started(t(at));
            assert_eq!(
                r.ended(t(at + 60 * SECOND), Ending::SpawnFailed),
                Decision::Restart {
                    after: Duration::from_secs(1)
                },
                "a failed start counts as a run of length 0, however long it took"
            );
            at += 61 * SECOND;
        }
        assert_eq!(r.ended(t(at), Ending::SpawnFailed), Decision::TooFast);
    }

    /// §11: at shutdown nothing is restarted, whatever the ending.
    #[test]
    fn nothing_is_restarted_once_stopping() {
        let mut r = Respawner::new(Policy::HEARTBEAT);
        r.started(t(0));
        r.stop();
        assert!(r.is_stopping() && r.is_finished());
        assert_eq!(r.ended(t(10), Ending::Killed(15)), Decision::Stopped);
        assert_eq!(r.ended(t(20), Ending::Exited(100)), Decision::Stopped);
    }

    #[test]
    fn a_custom_policy_is_followed() {
        let p = Policy {
            short_run: Duration::from_millis(100),
            pause: Duration::from_millis(10),
            max_short_runs: 2,
        };
        let mut r = Respawner::new(p);
        let pause = Decision::Restart {
            after: Duration::from_millis(10),
        };
        assert_eq!(run(&mut r, 0, 50, Ending::Exited(1)), pause);
        assert_eq!(run(&mut r, 100, 50, Ending::Exited(1)), pause);
        assert_eq!(run(&mut r, 200, 50, Ending::Exited(1)), Decision::TooFast);
    }

    #[test]
    fn ipfail_is_recognised_by_its_file_name() {
        assert!(is_ipfail("/usr/lib/heartbeat/ipfail"));
        assert!(is_ipfail("/usr/libexec/heartbeat/ipfail"));
        assert!(is_ipfail("ipfail"));
        assert!(!is_ipfail("/usr/lib/heartbeat/ipfail.sh"));
        assert!(!is_ipfail("/usr/lib/ipfail/other"));
    }

    /// §11 and §12.3: the words of 3.0.6's log lines.
    #[test]
    fn log_lines_use_heartbeats_words() {
        let cmd = command_line(&["/usr/bin/prog".to_owned(), "-x".to_owned()]);
        assert_eq!(cmd, "/usr/bin/prog -x");
        assert_eq!(ending_line(&cmd, Ending::Exited(0)), None);
        assert_eq!(
            ending_line(&cmd, Ending::Exited(3)),
            Some((
                Level::Info,
                "Client /usr/bin/prog -x exited with return code 3.".to_owned()
            ))
        );
        assert_eq!(
            decision_line(
                &cmd,
                Decision::Restart {
                    after: Duration::ZERO
                }
            ),
            Some((
                Level::Error,
                "Respawning client \"/usr/bin/prog -x\":".to_owned()
            ))
        );
        assert_eq!(
            decision_line(&cmd, Decision::TooFast),
            Some((
                Level::Error,
                "Client /usr/bin/prog -x \"respawning too fast\"".to_owned()
            ))
        );
        let declined = decision_line(&cmd, Decision::Declined).unwrap();
        assert!(declined.1.contains("not restarted"), "{declined:?}");
        assert_eq!(decision_line(&cmd, Decision::Stopped), None);
    }
}
