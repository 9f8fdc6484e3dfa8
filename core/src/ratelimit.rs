//! Bounded logging of repeated problems (a peer with the wrong key sends one bad
//! packet per keepalive per medium: the log must not get one line for each).

use std::time::Duration;

use crate::time::Instant;

/// Lets one report through per interval and counts the rest.
#[derive(Debug, Clone)]
pub struct LogLimiter {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl LogLimiter {
    /// At most one report per `interval`.
    pub fn new(interval: Duration) -> LogLimiter {
        LogLimiter {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// A problem happened at `now`. `Some(n)`: report it, saying that `n` similar
    /// ones were not reported since the last report. `None`: stay quiet.
    pub fn hit(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now < last + self.interval => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_report_per_interval_with_the_count_of_the_rest() {
        let mut l = LogLimiter::new(Duration::from_secs(10));
        let t = Instant::from_millis;
        assert_eq!(l.hit(t(0)), Some(0));
        for ms in (100..10_000).step_by(100) {
            assert_eq!(l.hit(t(ms)), None);
        }
        assert_eq!(l.hit(t(10_000)), Some(99));
        assert_eq!(l.hit(t(10_001)), None);
        assert_eq!(l.hit(t(30_000)), Some(1));
    }
}
