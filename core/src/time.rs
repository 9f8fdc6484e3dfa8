//! Injected time. The core never reads a clock: callers pass [`Now`], made of a
//! monotonic [`Instant`] (for every deadline) and the wall-clock seconds that go
//! into the `ts` field of outgoing messages (never used for a decision).

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// A point on the monotonic clock, in milliseconds from an arbitrary origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The instant `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Instant {
        Instant(ms)
    }

    /// Milliseconds since the origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self` (zero if `earlier` is later).
    pub fn since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(
            self.0
                .saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        )
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.since(earlier)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

/// The time handed to the core with every input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time: all deadlines.
    pub mono: Instant,
    /// Wall-clock seconds since the epoch: only written into `ts` fields.
    pub wall_secs: u64,
}

impl Now {
    /// A `Now` for tests: monotonic `ms`, wall clock an arbitrary fixed epoch plus the same.
    pub fn at_millis(ms: u64) -> Now {
        Now {
            mono: Instant::from_millis(ms),
            wall_secs: 1_795_644_000 + ms / 1000,
        }
    }

    /// This time plus `d` on both clocks.
    pub fn after(self, d: Duration) -> Now {
        let mono = self.mono + d;
        Now {
            mono,
            wall_secs: self.wall_secs + (mono.as_millis() / 1000 - self.mono.as_millis() / 1000),
        }
    }
}

/// A small deterministic random generator (xorshift64*), seeded by the caller, so
/// that retransmission jitter and ACK triggers are reproducible in tests.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value; 0 is remapped).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `lo..=hi` (or `lo` if `hi < lo`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.next_u64() % (hi - lo + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_do_arithmetic_without_panicking() {
        let t = Instant::from_millis(1000);
        assert_eq!((t + Duration::from_millis(500)).as_millis(), 1500);
        assert_eq!(t - Instant::from_millis(1500), Duration::ZERO);
        assert_eq!(
            Instant::from_millis(u64::MAX) + Duration::from_secs(1),
            Instant::from_millis(u64::MAX)
        );
    }

    #[test]
    fn rng_is_deterministic_and_in_range() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..100 {
            let v = a.range(50, 250);
            assert_eq!(v, b.range(50, 250));
            assert!((50..=250).contains(&v));
        }
    }
}
