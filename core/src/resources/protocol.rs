//! The resource protocol a node speaks, chosen by `auto_failback`: `on`/`off`
//! ([`NiceFailback`], 3.0.6's "nice_failback") or `legacy` ([`Legacy`]). The
//! node ([`crate::node::Node`]) drives either through the same calls.

use super::legacy::Legacy;
use super::moves::MoveReason;
use super::nice::{Action, Hold, NiceFailback};
use crate::time::{Instant, Now};
use crate::wire::Message;

/// One of the two resource protocols.
#[derive(Debug)]
pub enum Protocol {
    /// `auto_failback on` or `off`.
    Nice(NiceFailback),
    /// `auto_failback legacy`.
    Legacy(Legacy),
}

impl From<NiceFailback> for Protocol {
    fn from(n: NiceFailback) -> Protocol {
        Protocol::Nice(n)
    }
}

impl From<Legacy> for Protocol {
    fn from(l: Legacy) -> Protocol {
        Protocol::Legacy(l)
    }
}

macro_rules! both {
    ($self:expr, $p:ident => $e:expr) => {
        match $self {
            Protocol::Nice($p) => $e,
            Protocol::Legacy($p) => $e,
        }
    };
}

impl Protocol {
    /// The nice_failback machine, unless the node runs legacy.
    pub fn nice(&self) -> Option<&NiceFailback> {
        match self {
            Protocol::Nice(n) => Some(n),
            Protocol::Legacy(_) => None,
        }
    }

    /// The legacy machine, if the node runs legacy.
    pub fn legacy(&self) -> Option<&Legacy> {
        match self {
            Protocol::Legacy(l) => Some(l),
            Protocol::Nice(_) => None,
        }
    }

    /// True in legacy mode (no standby, no takeover).
    pub fn is_legacy(&self) -> bool {
        matches!(self, Protocol::Legacy(_))
    }

    /// What we hold (or are acquiring).
    pub fn holding(&self) -> Hold {
        both!(self, p => p.holding())
    }

    /// What the peer holds, as far as we know.
    pub fn peer_holds(&self) -> Hold {
        both!(self, p => p.peer_holds())
    }

    /// `cl_status rscstatus`.
    pub fn rscstatus(&self) -> &'static str {
        both!(self, p => p.rscstatus())
    }

    /// Why the groups moved last (for the status table).
    pub fn move_reason(&self) -> MoveReason {
        both!(self, p => p.move_reason())
    }

    /// Names the reason of a move the caller decides (nice only).
    pub fn set_move_reason(&mut self, reason: MoveReason) {
        if let Protocol::Nice(n) = self {
            n.set_move_reason(reason);
        }
    }

    /// `heartbeat standby` (nice only; the node refuses it in legacy mode).
    pub fn standby(&mut self, now: Now, set: Hold) {
        if let Protocol::Nice(n) = self {
            n.standby(now, set);
        }
    }

    /// `heartbeat takeover` sent the peer a `hb_takeover` (nice only).
    pub fn asked_takeover(&mut self, now: Now) {
        if let Protocol::Nice(n) = self {
            n.asked_takeover(now);
        }
    }

    /// The next action, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        both!(self, p => p.poll_action())
    }

    /// When [`Protocol::handle_timeout`] must next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        both!(self, p => p.poll_timeout())
    }

    /// Time passed.
    pub fn handle_timeout(&mut self, now: Now) {
        both!(self, p => p.handle_timeout(now))
    }

    /// The oldest acquisition or release finished.
    pub fn done(&mut self, now: Now, ok: bool) {
        both!(self, p => p.done(now, ok))
    }

    /// Graceful stop; false while it must wait.
    pub fn shutdown(&mut self, now: Now) -> bool {
        both!(self, p => p.shutdown(now))
    }

    /// Communication came up.
    pub fn comm_up(&mut self, now: Now) {
        both!(self, p => p.comm_up(now))
    }

    /// Communication came up in a cluster of one node.
    pub fn alone(&mut self) {
        both!(self, p => p.alone())
    }

    /// The peer died.
    pub fn peer_dead(&mut self, now: Now, peer: &str, heard: bool) {
        both!(self, p => p.peer_dead(now, peer, heard))
    }

    /// The peer's shutdown notice.
    pub fn peer_shutdown(&mut self, now: Now, peer: &str) {
        both!(self, p => p.peer_shutdown(now, peer))
    }

    /// The peer is back after a partition.
    pub fn peer_returned(&mut self, now: Now, peer: &str) {
        both!(self, p => p.peer_returned(now, peer))
    }

    /// The peer restarted.
    pub fn peer_restarted(&mut self, peer: &str) {
        both!(self, p => p.peer_restarted(peer))
    }

    /// The peer's status changed (legacy asks an active peer for its groups).
    pub fn peer_status(&mut self, status: &str) {
        if let Protocol::Legacy(l) = self {
            l.peer_status(status);
        }
    }

    /// A message arrived (or we sent one: `from_us`).
    pub fn handle(&mut self, now: Now, from_us: bool, msg: &Message) {
        both!(self, p => p.handle(now, from_us, msg))
    }
}
