//! Running one resource group (spec §8.2, ResourceManager `takegroup`/`givegroup`):
//! which resource to start, stop or query next, and what a failure means. The
//! caller executes each step (a script, the built-in IP resource) and reports back.
//!
//! * acquire: left to right; a resource that `status` reports running is skipped,
//!   otherwise started. The first failure stops what is running of the group, right
//!   to left, and the acquisition fails (the group is then offered to the peer).
//! * release: right to left; a failing stop is retried (10 times, 1 s apart, as
//!   3.0.6's HA_STOPRETRYMAX); if it still fails and `status` still says running,
//!   the release fails: the group is *not* released and the operator must act.

use std::time::Duration;

/// Stop attempts before a resource counts as stuck.
pub const STOP_ATTEMPTS: u32 = 10;
/// Pause between stop attempts.
pub const STOP_RETRY_DELAY: Duration = Duration::from_secs(1);

/// An operation on one resource of the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `start`.
    Start,
    /// `stop`.
    Stop,
    /// `status`: is it running?
    Status,
}

/// What the caller should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Run `op` on resource number `resource` (index in the group), then call
    /// [`GroupRun::report`] with its result.
    Run {
        /// Index of the resource in the group.
        resource: usize,
        /// The operation.
        op: Op,
    },
    /// Wait this long, then call [`GroupRun::next_step`] again.
    Wait(Duration),
    /// Finished.
    Done(Result<(), GroupFailure>),
}

/// Why a group operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupFailure {
    /// Resource `resource` did not start; what had started was stopped again
    /// (`rollback_clean`) or some of it could not be stopped.
    StartFailed {
        /// The resource that failed.
        resource: usize,
        /// Every started resource was stopped again.
        rollback_clean: bool,
    },
    /// Resource `resource` could not be stopped and still runs: the group is
    /// not released.
    StopFailed {
        /// The stuck resource.
        resource: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Acquire: asking whether resource i runs.
    Probe(usize),
    /// Acquire: starting resource i.
    Starting(usize),
    /// Rolling back after resource `failed` did not start: stopping resource i.
    RollBack {
        failed: usize,
        i: usize,
        clean: bool,
    },
    /// Release: stopping resource i, attempt n.
    Stopping {
        i: usize,
        attempt: u32,
    },
    /// Release: waiting before another stop attempt.
    Pause {
        i: usize,
        attempt: u32,
    },
    /// Release: the stop attempts failed; is it still running?
    Verify(usize),
    Finished(Result<(), GroupFailure>),
}

/// One acquisition or release of a group of `len` resources.
#[derive(Debug, Clone)]
pub struct GroupRun {
    len: usize,
    phase: Phase,
    /// The caller must report before asking again.
    awaiting: bool,
}

impl GroupRun {
    /// Acquire a group of `len` resources.
    pub fn acquire(len: usize) -> GroupRun {
        let phase = if len == 0 {
            Phase::Finished(Ok(()))
        } else {
            Phase::Probe(0)
        };
        GroupRun {
            len,
            phase,
            awaiting: false,
        }
    }

    /// Release a group of `len` resources.
    pub fn release(len: usize) -> GroupRun {
        let phase = match len.checked_sub(1) {
            Some(last) => Phase::Stopping {
                i: last,
                attempt: 1,
            },
            None => Phase::Finished(Ok(())),
        };
        GroupRun {
            len,
            phase,
            awaiting: false,
        }
    }

    /// The next step.
    pub fn next_step(&mut self) -> Next {
        let run = |resource, op| Next::Run { resource, op };
        let next = match self.phase {
            Phase::Probe(i) => run(i, Op::Status),
            Phase::Starting(i) => run(i, Op::Start),
            Phase::RollBack { i, .. } => run(i, Op::Stop),
            Phase::Stopping { i, .. } => run(i, Op::Stop),
            Phase::Verify(i) => run(i, Op::Status),
            Phase::Pause { i, attempt } => {
                self.phase = Phase::Stopping { i, attempt };
                return Next::Wait(STOP_RETRY_DELAY);
            }
            Phase::Finished(r) => return Next::Done(r),
        };
        self.awaiting = true;
        next
    }

    /// The result of the last [`Next::Run`]: for `status`, `true` means running;
    /// for `start`/`stop`, `true` means it succeeded. A report that was not asked
    /// for is ignored.
    pub fn report(&mut self, ok: bool) {
        if !std::mem::take(&mut self.awaiting) {
            return;
        }
        self.phase = match self.phase {
            Phase::Probe(i) if ok => self.after_started(i),
            Phase::Probe(i) => Phase::Starting(i),
            Phase::Starting(i) if ok => self.after_started(i),
            Phase::Starting(i) => match i.checked_sub(1) {
                Some(prev) => Phase::RollBack {
                    failed: i,
                    i: prev,
                    clean: true,
                },
                None => Phase::Finished(Err(GroupFailure::StartFailed {
                    resource: i,
                    rollback_clean: true,
                })),
            },
            Phase::RollBack { failed, i, clean } => {
                let clean = clean && ok;
                match i.checked_sub(1) {
                    Some(prev) => Phase::RollBack {
                        failed,
                        i: prev,
                        clean,
                    },
                    None => Phase::Finished(Err(GroupFailure::StartFailed {
                        resource: failed,
                        rollback_clean: clean,
                    })),
                }
            }
            Phase::Stopping { i, .. } if ok => Self::after_stopped(i),
            Phase::Stopping { i, attempt } if attempt < STOP_ATTEMPTS => Phase::Pause {
                i,
                attempt: attempt + 1,
            },
            Phase::Stopping { i, .. } => Phase::Verify(i),
            Phase::Verify(i) if ok => {
                Phase::Finished(Err(GroupFailure::StopFailed { resource: i }))
            }
            Phase::Verify(i) => Self::after_stopped(i),
            p @ (Phase::Pause { .. } | Phase::Finished(_)) => p,
        };
    }

    fn after_started(&self, i: usize) -> Phase {
        if i + 1 < self.len {
            Phase::Probe(i + 1)
        } else {
            Phase::Finished(Ok(()))
        }
    }

    fn after_stopped(i: usize) -> Phase {
        match i.checked_sub(1) {
            Some(prev) => Phase::Stopping {
                i: prev,
                attempt: 1,
            },
            None => Phase::Finished(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a run with a scripted world: `running[i]` is whether resource i runs;
    /// `start_fails`/`stop_fails` name resources whose start/stop fails. Returns the
    /// steps taken and the result.
    fn drive(
        mut run: GroupRun,
        running: &mut [bool],
        start_fails: &[usize],
        stop_fails: &[usize],
    ) -> (Vec<(usize, Op)>, usize, Result<(), GroupFailure>) {
        let mut steps = Vec::new();
        let mut waits = 0;
        loop {
            match run.next_step() {
                Next::Run { resource, op } => {
                    steps.push((resource, op));
                    let ok = match op {
                        Op::Status => running[resource],
                        Op::Start => {
                            let ok = !start_fails.contains(&resource);
                            running[resource] |= ok;
                            ok
                        }
                        Op::Stop => {
                            let ok = !stop_fails.contains(&resource);
                            if ok {
                                running[resource] = false;
                            }
                            ok
                        }
                    };
                    run.report(ok);
                }
                Next::Wait(d) => {
                    assert_eq!(d, STOP_RETRY_DELAY);
                    waits += 1;
                }
                Next::Done(r) => return (steps, waits, r),
            }
        }
    }

    #[test]
    fn acquire_starts_left_to_right_skipping_what_runs() {
        let mut running = [false, true, false];
        let (steps, _, r) = drive(GroupRun::acquire(3), &mut running, &[], &[]);
        assert_eq!(r, Ok(()));
        assert_eq!(
            steps,
            vec![
                (0, Op::Status),
                (0, Op::Start),
                (1, Op::Status),
                (2, Op::Status),
                (2, Op::Start)
            ]
        );
        assert_eq!(running, [true, true, true]);
    }

    #[test]
    fn a_failed_start_stops_the_group_right_to_left() {
        let mut running = [false; 4];
        let (steps, _, r) = drive(GroupRun::acquire(4), &mut running, &[2], &[]);
        assert_eq!(
            r,
            Err(GroupFailure::StartFailed {
                resource: 2,
                rollback_clean: true
            })
        );
        let ops: Vec<(usize, Op)> = steps
            .into_iter()
            .filter(|(_, op)| *op != Op::Status)
            .collect();
        assert_eq!(
            ops,
            vec![
                (0, Op::Start),
                (1, Op::Start),
                (2, Op::Start),
                (1, Op::Stop),
                (0, Op::Stop)
            ]
        );
        assert_eq!(running, [false; 4], "nothing is left half-owned");
    }

    #[test]
    fn release_stops_right_to_left() {
        let mut running = [true; 3];
        let (steps, waits, r) = drive(GroupRun::release(3), &mut running, &[], &[]);
        assert_eq!(r, Ok(()));
        assert_eq!(waits, 0);
        assert_eq!(steps, vec![(2, Op::Stop), (1, Op::Stop), (0, Op::Stop)]);
    }

    #[test]
    fn a_stuck_stop_is_retried_then_reported_and_the_group_is_not_released() {
        let mut running = [true; 3];
        let (steps, waits, r) = drive(GroupRun::release(3), &mut running, &[], &[1]);
        assert_eq!(r, Err(GroupFailure::StopFailed { resource: 1 }));
        assert_eq!(waits, STOP_ATTEMPTS as usize - 1);
        let stops_of_1 = steps.iter().filter(|s| **s == (1, Op::Stop)).count();
        assert_eq!(stops_of_1, STOP_ATTEMPTS as usize);
        assert_eq!(steps.last(), Some(&(1, Op::Status)));
        assert!(
            !steps.contains(&(0, Op::Stop)),
            "what comes left of a stuck resource keeps running"
        );
    }

    #[test]
    fn a_failing_stop_of_something_already_gone_counts_as_stopped() {
        let mut running = [true, false];
        // Resource 1's stop "fails" but status says it is not running.
        let (_, _, r) = drive(GroupRun::release(2), &mut running, &[], &[1]);
        assert_eq!(r, Ok(()));
        assert_eq!(running, [false, false]);
    }

    #[test]
    fn empty_groups_and_unasked_reports() {
        assert_eq!(GroupRun::acquire(0).next_step(), Next::Done(Ok(())));
        assert_eq!(GroupRun::release(0).next_step(), Next::Done(Ok(())));
        let mut run = GroupRun::acquire(1);
        run.report(true);
        assert_eq!(
            run.next_step(),
            Next::Run {
                resource: 0,
                op: Op::Status
            },
            "a stray report changes nothing"
        );
    }
}
