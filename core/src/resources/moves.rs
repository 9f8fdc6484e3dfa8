//! Where the resource groups are, as this node sees it, since when, and why
//! they last moved: for the status table (`heartbeat status`). Nothing here
//! decides anything.
//!
//! The owner of each set (local, foreign) is derived from the resource
//! protocol's holdings ([`super::nice::NiceFailback::holding`] and
//! [`super::nice::NiceFailback::peer_holds`]) and the peer's status. The
//! reason is the one [`super::nice::NiceFailback`] recorded where it decided
//! the move ([`super::nice::NiceFailback::move_reason`]).

use std::fmt;

use super::nice::Hold;
use crate::time::Instant;

/// Who holds a set of groups, as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// This node holds (or is acquiring) them.
    Us,
    /// The other node says it holds them, and it is alive.
    Peer,
    /// Nobody, as far as this node knows.
    Nobody,
}

impl Owner {
    /// `us`, `peer` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Us => "us",
            Owner::Peer => "peer",
            Owner::Nobody => "none",
        }
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why groups moved last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveReason {
    /// The cluster started: each node takes its own groups.
    Start,
    /// The other node died: its groups were taken over.
    PeerDead,
    /// The other node stopped gracefully (its shutdown notice).
    PeerStopped,
    /// The other node restarted while holding groups.
    PeerRestarted,
    /// `heartbeat standby` on this node.
    Standby,
    /// The other node went standby (its operator, or its own decision).
    PeerStandby,
    /// `heartbeat takeover` on this node (the other node's standby answered it).
    Takeover,
    /// The other node's `hb_takeover`: this node went standby.
    PeerTakeover,
    /// `auto_failback on`: groups went back to their preferred node.
    Failback,
    /// A healed partition: each group stays with its preferred node.
    PartitionHeal,
    /// ipfail: the groups went to the node that sees more ping nodes.
    Ipfail,
    /// Groups failed to start here (and are offered to the other node).
    StartFailed,
    /// Groups could not be released and stay here.
    ReleaseFailed,
    /// This node's graceful stop.
    Shutdown,
}

impl MoveReason {
    /// The word in the status table and its JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            MoveReason::Start => "start",
            MoveReason::PeerDead => "takeover_after_death",
            MoveReason::PeerStopped => "peer_stopped",
            MoveReason::PeerRestarted => "peer_restarted",
            MoveReason::Standby => "standby",
            MoveReason::PeerStandby => "peer_standby",
            MoveReason::Takeover => "takeover",
            MoveReason::PeerTakeover => "peer_takeover",
            MoveReason::Failback => "failback",
            MoveReason::PartitionHeal => "partition_heal",
            MoveReason::Ipfail => "ipfail",
            MoveReason::StartFailed => "start_failed",
            MoveReason::ReleaseFailed => "release_failed",
            MoveReason::Shutdown => "shutdown",
        }
    }
}

impl fmt::Display for MoveReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The last move of one set of groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    /// Who holds the set now.
    pub owner: Owner,
    /// Since when (the node's start, before any move).
    pub since: Instant,
    /// Why it moved (`None` before the first move).
    pub reason: Option<MoveReason>,
}

/// The last move of the local and of the foreign set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moves {
    local: Move,
    foreign: Move,
}

impl Moves {
    /// Nothing held by anyone, since `start`.
    pub fn new(start: Instant) -> Moves {
        let m = Move {
            owner: Owner::Nobody,
            since: start,
            reason: None,
        };
        Moves {
            local: m,
            foreign: m,
        }
    }

    /// The owners as seen at `now`; a set whose owner changed moved for `reason`.
    pub fn observe(&mut self, now: Instant, local: Owner, foreign: Owner, reason: MoveReason) {
        for (m, owner) in [(&mut self.local, local), (&mut self.foreign, foreign)] {
            if m.owner != owner {
                *m = Move {
                    owner,
                    since: now,
                    reason: Some(reason),
                };
            }
        }
    }

    /// The last move of `set` ([`Hold::LOCAL`] or [`Hold::FOREIGN`]; anything
    /// else is read as foreign).
    pub fn of(&self, set: Hold) -> Move {
        if set == Hold::LOCAL {
            self.local
        } else {
            self.foreign
        }
    }
}

/// Who holds `set` (one of [`Hold::LOCAL`], [`Hold::FOREIGN`]), given what we
/// hold, what the peer last said it holds (in its own terms) and whether it is
/// alive.
pub fn owner_of(set: Hold, ours: Hold, peers: Hold, peer_alive: bool) -> Owner {
    if ours.has(set) {
        Owner::Us
    } else if peer_alive && peers.mirror().has(set) {
        Owner::Peer
    } else {
        Owner::Nobody
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_change_of_owner_is_a_move() {
        let t = Instant::from_millis;
        let mut m = Moves::new(t(0));
        assert_eq!(m.of(Hold::LOCAL).reason, None);
        m.observe(t(10), Owner::Us, Owner::Nobody, MoveReason::Start);
        m.observe(t(20), Owner::Us, Owner::Peer, MoveReason::Start);
        m.observe(t(30), Owner::Us, Owner::Peer, MoveReason::Standby);
        assert_eq!(
            m.of(Hold::LOCAL),
            Move {
                owner: Owner::Us,
                since: t(10),
                reason: Some(MoveReason::Start)
            }
        );
        assert_eq!(m.of(Hold::FOREIGN).since, t(20));
        m.observe(t(40), Owner::Us, Owner::Us, MoveReason::PeerDead);
        assert_eq!(
            m.of(Hold::FOREIGN).reason,
            Some(MoveReason::PeerDead),
            "the peer's group came to us"
        );
    }

    #[test]
    fn the_owner_follows_the_holdings_and_a_dead_peer_holds_nothing() {
        // The peer's "foreign" is our local set.
        assert_eq!(
            owner_of(Hold::LOCAL, Hold::NONE, Hold::FOREIGN, true),
            Owner::Peer
        );
        assert_eq!(
            owner_of(Hold::LOCAL, Hold::NONE, Hold::FOREIGN, false),
            Owner::Nobody
        );
        assert_eq!(owner_of(Hold::LOCAL, Hold::ALL, Hold::ALL, true), Owner::Us);
        assert_eq!(
            owner_of(Hold::FOREIGN, Hold::LOCAL, Hold::LOCAL, true),
            Owner::Peer
        );
    }
}
