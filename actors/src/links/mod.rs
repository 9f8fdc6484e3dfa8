//! Link actors: one per heartbeat medium, and one per ping node (`ping`). They only move bytes: a packet in is
//! authenticated and handed to the node table; a packet out is written as given.
//! A link that fails stops; its supervisor restarts it after a growing delay, and
//! the node keeps running on its other media meanwhile.

pub mod ping;
pub mod serial;
pub mod udp;

use std::time::Duration;

/// Milliseconds since `origin` on the core's clock: what the links hand to
/// the core's rate limiters and echo tracking.
pub(crate) fn mono_since(origin: actix::clock::Instant) -> hb_core::time::Instant {
    hb_core::time::Instant::from_millis(
        u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX),
    )
}

/// Restart delay of a failing link: 100 ms doubling to 30 s, reset after a
/// successful open.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    /// Failures in a row.
    pub failures: u32,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            next: Backoff::FIRST,
            failures: 0,
        }
    }
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(30);

    /// The delay before the next attempt; doubles each time.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.failures += 1;
        self.next = (self.next * 2).min(Backoff::MAX);
        d
    }

    /// The link works again.
    pub fn reset(&mut self) {
        *self = Backoff::default();
    }
}

/// The dropped-packet reason (metrics, status) of a received packet that
/// does not decode, on any medium.
pub(crate) fn drop_reason(e: &hb_core::wire::PacketError) -> &'static str {
    match e {
        hb_core::wire::PacketError::Auth(_) => "bad_auth",
        hb_core::wire::PacketError::Decode(_) => "malformed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_ceiling_and_resets() {
        let mut b = Backoff::default();
        let delays: Vec<u64> = (0..12).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(&delays[..5], &[100, 200, 400, 800, 1600]);
        assert_eq!(delays[11], 30_000);
        assert_eq!(b.failures, 12);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }
}
