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
//!
//! The caller reports each step as an [`Outcome`], which tells a script that
//! failed from one that hung until the caller's timeout killed it (3.0.6 has no
//! timeout; it waits for a script forever):
//!
//! * a **timed-out stop** is not retried (ten retries would take ten timeouts):
//!   `status` is asked at once. Not running: the resource is stopped, and the
//!   release goes on. Running: the group is not released.
//! * a **timed-out `status`** while verifying a stop (or anywhere a release
//!   depends on it) counts as *running*: what we cannot see may still run, so
//!   we never claim the group is free. While acquiring, it counts as *not known
//!   to run*, so the resource is started rather than assumed up (a start of a
//!   running resource is harmless, a group claimed without its service is not).
//! * a **timed-out start** is a failed start (the group is rolled back), and a
//!   timed-out stop during that rollback leaves it unclean, as a failed one does.

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

/// How a step ended, as the caller reports it to [`GroupRun::report`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `start`/`stop` succeeded; for `status`: the resource runs.
    Ok,
    /// `start`/`stop` failed; for `status`: the resource does not run.
    Failed,
    /// The step did not end within the script timeout and was killed: what it
    /// did, or what `status` would have said, is unknown.
    TimedOut,
}

impl Outcome {
    /// `Ok` for true, `Failed` for false (a step that ended by itself).
    pub fn ended(ok: bool) -> Outcome {
        if ok {
            Outcome::Ok
        } else {
            Outcome::Failed
        }
    }
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
    /// Release: the stop attempts failed or one timed out; is it still running?
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

    /// The result of the last [`Next::Run`] (see [`Outcome`] for what each
    /// means for each operation). A report that was not asked for is ignored.
    pub fn report(&mut self, outcome: Outcome) {
        if !std::mem::take(&mut self.awaiting) {
            return;
        }
        let ok = outcome == Outcome::Ok;
        self.phase = match self.phase {
            // Acquiring: only a clear "running" skips the start.
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
            // A hung stop is not retried: another attempt would hang as long.
            Phase::Stopping { i, .. } if outcome == Outcome::TimedOut => Phase::Verify(i),
            Phase::Stopping { i, attempt } if attempt < STOP_ATTEMPTS => Phase::Pause {
                i,
                attempt: attempt + 1,
            },
            Phase::Stopping { i, .. } => Phase::Verify(i),
            // Releasing: only a clear "not running" lets the release go on.
            Phase::Verify(i) if outcome == Outcome::Failed => Self::after_stopped(i),
            Phase::Verify(i) => Phase::Finished(Err(GroupFailure::StopFailed { resource: i })),
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

    /// A scripted world: `running[i]` is whether resource i runs; the lists
    /// name resources whose operation fails or hangs (a hung operation times
    /// out and changes nothing).
    #[derive(Default)]
    struct World<'a> {
        start_fails: &'a [usize],
        stop_fails: &'a [usize],
        start_hangs: &'a [usize],
        stop_hangs: &'a [usize],
        status_hangs: &'a [usize],
    }

    impl World<'_> {
        fn step(&self, running: &mut [bool], resource: usize, op: Op) -> Outcome {
            let (fails, hangs) = match op {
                Op::Status => (&[][..], self.status_hangs),
                Op::Start => (self.start_fails, self.start_hangs),
                Op::Stop => (self.stop_fails, self.stop_hangs),
            };
            if hangs.contains(&resource) {
                return Outcome::TimedOut;
            }
            let ok = !fails.contains(&resource);
            match op {
                Op::Status => return Outcome::ended(running[resource]),
                Op::Start if ok => running[resource] = true,
                Op::Stop if ok => running[resource] = false,
                _ => {}
            }
            Outcome::ended(ok)
        }
    }

    /// Drives a run to its end in `world`. Returns the steps taken, the number
    /// of pauses, and the result.
    fn drive_in(
        mut run: GroupRun,
        running: &mut [bool],
        world: &World<'_>,
    ) -> (Vec<(usize, Op)>, usize, Result<(), GroupFailure>) {
        let mut steps = Vec::new();
        let mut waits = 0;
        loop {
            match run.next_step() {
                Next::Run { resource, op } => {
                    steps.push((resource, op));
                    run.report(world.step(running, resource, op));
                }
                Next::Wait(d) => {
                    assert_eq!(d, STOP_RETRY_DELAY);
                    waits += 1;
                }
                Next::Done(r) => return (steps, waits, r),
            }
        }
    }

    /// [`drive_in`] a world where nothing hangs.
    fn drive(
        run: GroupRun,
        running: &mut [bool],
        start_fails: &[usize],
        stop_fails: &[usize],
    ) -> (Vec<(usize, Op)>, usize, Result<(), GroupFailure>) {
        let world = World {
            start_fails,
            stop_fails,
            ..World::default()
        };
        drive_in(run, running, &world)
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
    fn a_timed_out_stop_is_not_retried_and_a_resource_still_running_keeps_the_group() {
        let mut running = [true; 3];
        let world = World {
            stop_hangs: &[1],
            ..World::default()
        };
        let (steps, waits, r) = drive_in(GroupRun::release(3), &mut running, &world);
        assert_eq!(r, Err(GroupFailure::StopFailed { resource: 1 }));
        assert_eq!(waits, 0, "no pause: nothing is retried");
        assert_eq!(
            steps,
            vec![(2, Op::Stop), (1, Op::Stop), (1, Op::Status)],
            "one stop, then status at once; what is left of it keeps running"
        );
        assert_eq!(running, [true, true, false]);
    }

    #[test]
    fn a_timed_out_stop_of_a_resource_that_is_gone_lets_the_release_go_on() {
        // The stop hung, but whatever it was stopping is gone (the kill at the
        // timeout may have finished the job): status says not running.
        let mut running = [true, false, true];
        let world = World {
            stop_hangs: &[1],
            ..World::default()
        };
        let (steps, waits, r) = drive_in(GroupRun::release(3), &mut running, &world);
        assert_eq!(r, Ok(()));
        assert_eq!(waits, 0);
        assert_eq!(
            steps,
            vec![(2, Op::Stop), (1, Op::Stop), (1, Op::Status), (0, Op::Stop)]
        );
        assert_eq!(running, [false; 3]);
    }

    #[test]
    fn a_timed_out_status_after_a_stop_counts_as_running() {
        // The stop hangs and so does status: nothing is known, so the group is
        // not released.
        let mut running = [true, true];
        let world = World {
            stop_hangs: &[1],
            status_hangs: &[1],
            ..World::default()
        };
        let (steps, _, r) = drive_in(GroupRun::release(2), &mut running, &world);
        assert_eq!(r, Err(GroupFailure::StopFailed { resource: 1 }));
        assert_eq!(steps, vec![(1, Op::Stop), (1, Op::Status)]);

        // A plain failing stop, retried as 3.0.6 does, then a status that hangs
        // although the resource is in fact gone: still not released.
        let mut running = [true, false];
        let world = World {
            stop_fails: &[1],
            status_hangs: &[1],
            ..World::default()
        };
        let (steps, waits, r) = drive_in(GroupRun::release(2), &mut running, &world);
        assert_eq!(r, Err(GroupFailure::StopFailed { resource: 1 }));
        assert_eq!(waits, STOP_ATTEMPTS as usize - 1);
        assert_eq!(steps.last(), Some(&(1, Op::Status)));
        assert!(!steps.contains(&(0, Op::Stop)));
    }

    #[test]
    fn a_timed_out_status_while_acquiring_starts_the_resource() {
        // Resource 0 runs, but its status hangs: it is started rather than
        // assumed up.
        let mut running = [true, false];
        let world = World {
            status_hangs: &[0],
            ..World::default()
        };
        let (steps, _, r) = drive_in(GroupRun::acquire(2), &mut running, &world);
        assert_eq!(r, Ok(()));
        assert_eq!(
            steps,
            vec![
                (0, Op::Status),
                (0, Op::Start),
                (1, Op::Status),
                (1, Op::Start)
            ]
        );
    }

    #[test]
    fn a_timed_out_start_rolls_the_group_back() {
        let mut running = [false; 3];
        let world = World {
            start_hangs: &[1],
            ..World::default()
        };
        let (steps, _, r) = drive_in(GroupRun::acquire(3), &mut running, &world);
        assert_eq!(
            r,
            Err(GroupFailure::StartFailed {
                resource: 1,
                rollback_clean: true
            })
        );
        assert_eq!(steps.last(), Some(&(0, Op::Stop)));
        assert!(!steps.contains(&(2, Op::Start)));
        assert_eq!(running, [false; 3]);
    }

    #[test]
    fn a_timed_out_stop_during_a_rollback_leaves_it_unclean() {
        let mut running = [false; 3];
        let world = World {
            start_fails: &[2],
            stop_hangs: &[0],
            ..World::default()
        };
        let (steps, waits, r) = drive_in(GroupRun::acquire(3), &mut running, &world);
        assert_eq!(
            r,
            Err(GroupFailure::StartFailed {
                resource: 2,
                rollback_clean: false
            })
        );
        assert_eq!(waits, 0);
        assert_eq!(steps.last(), Some(&(0, Op::Stop)));
    }

    #[test]
    fn empty_groups_and_unasked_reports() {
        assert_eq!(GroupRun::acquire(0).next_step(), Next::Done(Ok(())));
        assert_eq!(GroupRun::release(0).next_step(), Next::Done(Ok(())));
        let mut run = GroupRun::acquire(1);
        run.report(Outcome::Ok);
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
