//! heartbeat's `realtime on` (the default): the daemon locks its memory, so a
//! host that swaps never pages out the heartbeat path, and its main thread (the
//! actors: links, node table, resource manager) runs in the `SCHED_FIFO` class,
//! so CPU-bound programs at normal priority cannot delay a heartbeat. Threads
//! and processes created afterwards (serial readers, scripts, respawned
//! programs) start in the normal class (`SCHED_RESET_ON_FORK`), and so does the
//! logging thread, started before. What could be done is logged; what could
//! not is a warning, never a reason not to run.

use nix::sys::mman::{mlockall, MlockAllFlags};
use slog::{info, warn, Logger};

/// The default `rtprio`: low among the real-time priorities, above every
/// normal program, below the kernel's own real-time threads (priority 50 and
/// up for interrupt threads on PREEMPT_RT).
pub const DEFAULT_PRIORITY: u8 = 10;

/// The stack of each thread the daemon starts (logging, journal, serial
/// reader and writer). With memory locked every page of a thread's stack is
/// resident, so the default 2 MiB would cost 2 MiB of memory per thread; these
/// threads loop over a queue or a file descriptor and need a few KiB.
pub const THREAD_STACK: usize = 256 * 1024;

/// What was achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Achieved {
    /// Memory is locked.
    pub locked: bool,
    /// The main thread runs `SCHED_FIFO`.
    pub fifo: bool,
}

/// Locks memory and raises the calling thread to `SCHED_FIFO` at `priority`.
pub fn make_realtime(priority: u8, log: &Logger) -> Achieved {
    let pid = std::process::id();
    let locked = match mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE) {
        Ok(()) => {
            info!(log, "pid {pid} locked in memory.");
            true
        }
        Err(e) => {
            warn!(
                log,
                "pid {pid}: cannot lock memory ({e}); it may be paged out (needs CAP_IPC_LOCK)"
            );
            false
        }
    };
    let fifo = match crate::sys::set_fifo(i32::from(priority)) {
        Ok(()) => {
            info!(log, "pid {pid} set to SCHED_FIFO priority {priority}.");
            true
        }
        Err(e) => {
            warn!(log, "pid {pid}: cannot use SCHED_FIFO priority {priority} ({e}); heartbeats run at normal priority (needs CAP_SYS_NICE)");
            false
        }
    };
    Achieved { locked, fifo }
}
