//! The queue between the threads that log and the writer thread, and its
//! overflow policy. A caller holds the lock only to append one line; the
//! writer holds it only to take everything queued at once. Nobody waits for
//! the disk with the lock held, so a stalled writer never stalls a caller.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Local};

use super::format::{Class, Line};

/// How much may wait while the writer is stalled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Queued lines from which on debug and info lines are dropped.
    pub lines: usize,
    /// Queued bytes from which on WARN and ERROR lines are dropped too.
    pub bytes: usize,
}

impl Limits {
    /// 20 000 lines is minutes of a busy daemon; 64 MiB of warnings is days
    /// of one warning a second. CRIT and important lines are never dropped:
    /// there is one per takeover, release or failed script, which cannot
    /// come faster than the cluster changes state.
    pub const DAEMON: Limits = Limits {
        lines: 20_000,
        bytes: 64 << 20,
    };
}

/// What the writer thread gets, in order.
#[derive(Debug)]
pub(crate) enum Item {
    Line(Line),
    /// Lines were dropped here: the writer writes one notice in their place.
    Dropped {
        since: DateTime<Local>,
        lines: u64,
        /// Of `lines`, how many were WARN or ERROR.
        warnings: u64,
    },
    /// Reopen the log files (SIGHUP) and reconnect to syslog.
    Reopen,
    /// Everything before it has been handed to the files and syslog.
    Flush(Arc<Ticket>),
}

/// Signalled by the writer once it reaches a [`Item::Flush`].
#[derive(Debug, Default)]
pub(crate) struct Ticket {
    done: Mutex<bool>,
    cv: Condvar,
}

impl Ticket {
    pub fn done(&self) {
        *lock(&self.done) = true;
        self.cv.notify_all();
    }

    /// Waits at most `timeout`; returns whether the writer got there.
    pub fn wait(&self, timeout: Duration) -> bool {
        let guard = lock(&self.done);
        let (guard, _) = self
            .cv
            .wait_timeout_while(guard, timeout, |done| !*done)
            .unwrap_or_else(PoisonError::into_inner);
        *guard
    }
}

#[derive(Debug, Default)]
struct State {
    items: VecDeque<Item>,
    /// Lines in `items` (markers not counted).
    lines: usize,
    /// Bytes in `items`, roughly.
    bytes: usize,
    /// The drain is gone: the writer ends once `items` is empty.
    closing: bool,
    /// Lines dropped since the start.
    dropped: u64,
}

/// The queue itself, shared by the drain, the writer and every `LogHandle`.
#[derive(Debug)]
pub(crate) struct Queue {
    state: Mutex<State>,
    /// Wakes the writer.
    wake: Condvar,
    limits: Limits,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics with the lock held; if something did, the data is still fine.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Queue {
    pub fn new(limits: Limits) -> Queue {
        Queue {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            limits,
        }
    }

    /// Queues `line`, or drops and counts it if the policy says so. Never
    /// waits for the writer. Returns whether it was queued.
    pub fn push(&self, line: Line) -> bool {
        let mut st = lock(&self.state);
        let keep = match line.class {
            Class::Normal => st.lines < self.limits.lines,
            Class::Warning => st.bytes < self.limits.bytes,
            Class::Vital => true,
        };
        if keep {
            st.lines += 1;
            st.bytes += line.size();
            st.items.push_back(Item::Line(line));
            drop(st);
            self.wake.notify_one();
            return true;
        }
        st.dropped += 1;
        let warning = u64::from(line.class == Class::Warning);
        // One marker per run of dropped lines: markers never outnumber the
        // lines kept between them.
        if let Some(Item::Dropped {
            lines, warnings, ..
        }) = st.items.back_mut()
        {
            *lines += 1;
            *warnings += warning;
        } else {
            st.items.push_back(Item::Dropped {
                since: line.time,
                lines: 1,
                warnings: warning,
            });
        }
        false
    }

    /// Queues a control item (never dropped).
    pub fn control(&self, item: Item) {
        lock(&self.state).items.push_back(item);
        self.wake.notify_one();
    }

    /// Waits for work and takes all of it; `None` once closed and empty.
    pub fn take(&self) -> Option<VecDeque<Item>> {
        let mut st = lock(&self.state);
        while st.items.is_empty() {
            if st.closing {
                return None;
            }
            st = self.wake.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        st.lines = 0;
        st.bytes = 0;
        Some(std::mem::take(&mut st.items))
    }

    /// No more lines will come: the writer ends when it has written the rest.
    pub fn close(&self) {
        lock(&self.state).closing = true;
        self.wake.notify_all();
    }

    /// Lines dropped since the start.
    #[cfg(test)]
    pub fn dropped(&self) -> u64 {
        lock(&self.state).dropped
    }
}
