//! Heartbeat intervals per node and link, for the status table: how long the
//! longest gap between two status messages on one link was, recently. It
//! decides nothing; late heartbeats are judged per node in [`super::Membership`].

use std::time::Duration;

use crate::time::Instant;

/// Width of one bucket of [`IntervalWindow`].
pub const BUCKET: Duration = Duration::from_secs(10);
/// Buckets kept: the window covers the last minute (between 50 and 60 s).
pub const BUCKETS: usize = 6;

/// The worst interval between status messages on one link of one node.
///
/// Intervals are kept as the maximum per [`BUCKET`] of arrival time, in a ring
/// of [`BUCKETS`]: constant memory, and a gap older than a minute is forgotten.
#[derive(Debug, Clone, Default)]
pub struct IntervalWindow {
    /// Arrival of the last status on this link.
    last: Option<Instant>,
    /// Per bucket: its number (arrival time / [`BUCKET`]) and the worst interval.
    ring: [(u64, Duration); BUCKETS],
}

fn bucket_of(t: Instant) -> u64 {
    t.as_millis() / u64::try_from(BUCKET.as_millis()).unwrap_or(u64::MAX)
}

impl IntervalWindow {
    /// A status arrived on this link at `now`: returns the interval since the
    /// previous one on this link, if there was one.
    pub fn heard(&mut self, now: Instant) -> Option<Duration> {
        let last = self.last.replace(now)?;
        let interval = now.since(last);
        let b = bucket_of(now);
        let slot = &mut self.ring[usize::try_from(b % BUCKETS as u64).unwrap_or(0)];
        if slot.0 != b {
            *slot = (b, Duration::ZERO);
        }
        slot.1 = slot.1.max(interval);
        Some(interval)
    }

    /// The worst interval measured in the last minute (`None` before two status
    /// messages arrived, or when none arrived in the last minute).
    pub fn worst(&self, now: Instant) -> Option<Duration> {
        let current = bucket_of(now);
        let oldest = current.saturating_sub(BUCKETS as u64 - 1);
        self.ring
            .iter()
            .filter(|(b, d)| *b >= oldest && *b <= current && !d.is_zero())
            .map(|(_, d)| *d)
            .max()
    }

    /// When the last status arrived on this link.
    pub fn last(&self) -> Option<Instant> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn the_worst_gap_of_the_last_minute_is_kept_and_older_ones_are_forgotten() {
        let mut w = IntervalWindow::default();
        assert_eq!(w.worst(at(0)), None);
        w.heard(at(100_000));
        assert_eq!(w.worst(at(100_000)), None, "one status is no interval");
        w.heard(at(101_000));
        w.heard(at(104_500)); // a 3.5 s gap
        w.heard(at(105_500));
        assert_eq!(w.worst(at(106_000)), Some(Duration::from_millis(3500)));
        // Regular beats for a while: the gap is still the worst of the minute.
        for s in 106..150 {
            w.heard(at(s * 1000));
        }
        assert_eq!(w.worst(at(150_000)), Some(Duration::from_millis(3500)));
        // Past a minute, only the regular 1 s beats remain.
        for s in 150..170 {
            w.heard(at(s * 1000));
        }
        assert_eq!(w.worst(at(169_000)), Some(Duration::from_millis(1000)));
        // Silence: nothing measured in the last minute.
        assert_eq!(w.worst(at(240_000)), None);
        assert_eq!(w.last(), Some(at(169_000)));
    }
}
