//! ipfail (spec §10): in a two-node cluster whose nodes still hear each other,
//! the resource groups go to the node that sees more ping nodes.
//!
//! ```text
//!   ping node counted / dead ──┐                         ┌─> Send(num_ping_nodes | you_are_dead | abort_giveup | hbapi-clstat)
//!   peer's ipfail messages ────┼─> Ipfail (count, peer ──┼─> GiveUp(set): the standby path of NiceFailback
//!   peer dead / back, timeout ─┘     count, pending)     └─> Log
//! ```
//!
//! The messages are 3.0.6 ipfail's, so a peer running heartbeat 3.0.6 with its
//! own ipfail takes part: each node tells the other its count
//! (`num_ping_nodes num_ping=N`, when its count changes, when it starts, and
//! when the other's ipfail joins). The receiver compares with its own count M:
//!
//! * M > N: it answers `you_are_dead`, and the sender gives up its groups;
//! * M < N: it gives up its own groups;
//! * M = N: it answers `abort_giveup` (a pending give-up is cancelled). With
//!   `auto_failback on`, a node that holds the other's groups gives them back.
//!
//! Hysteresis, so that a flapping ping node cannot bounce the service:
//!
//! * a ping node is *counted* only after its status was `ping` for
//!   [`IpfailConfig::hold`] ([`hold_time`]: 2 × `deadping`) without a death in
//!   between, and stops counting as soon as it is declared dead. Its status
//!   lasts until `deadping` after its last answer, so it must answer for at
//!   least `deadping` to count again: a ping node that answers for shorter
//!   stretches never moves anything back;
//! * a give-up waits [`giveup_delay`] (twice the keepalive, at least 1 s: longer
//!   than the time by which the two nodes' views of one lost ping node can
//!   differ, which is one ping interval), and is cancelled when the counts
//!   balance meanwhile (both nodes lost the ping node) or the peer dies;
//! * when it is due, the give-up is checked again: we still see fewer ping
//!   nodes, the peer is up, our groups are settled, and we hold something. A
//!   give-up waits (re-checked every [`RETRY`]) while resources are in
//!   transition, and is dropped when the reason went away.
//!
//! Nothing is counted or sent before communication is up and every ping node
//! has been counted or declared dead, so a node that starts does not give its
//! groups away before it has seen its ping nodes.

use std::collections::VecDeque;
use std::time::Duration;

use crate::membership::Level;
use crate::resources::nice::Hold;
use crate::time::{Instant, Now};
use crate::wire::Message;

/// How often a due give-up is looked at again while it must wait (resources in
/// transition).
pub const RETRY: Duration = Duration::from_secs(1);

/// How long a ping node must have status `ping` before it counts: 2 × `deadping`.
pub fn hold_time(deadping: Duration) -> Duration {
    deadping * 2
}

/// The delay of a give-up: 2 × keepalive (3.0.6's), at least 1 s.
pub fn giveup_delay(keepalive: Duration) -> Duration {
    (keepalive * 2).max(Duration::from_secs(1))
}

/// What ipfail needs to know; built from the configuration.
#[derive(Debug, Clone)]
pub struct IpfailConfig {
    /// The other node of the two-node cluster.
    pub peer: String,
    /// `auto_failback on`: the other's groups go back once the counts balance.
    pub auto_failback: bool,
    /// `keepalive`: the give-up delay is derived from it.
    pub keepalive: Duration,
    /// How long a ping node must have status `ping` before it counts ([`hold_time`]).
    pub hold: Duration,
    /// The ping nodes' names (hosts as written, group names).
    pub ping_nodes: Vec<String>,
}

/// The rest of the node, as far as a give-up goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// The groups we hold.
    pub holding: Hold,
    /// No resource transition is running (on either node, as far as we know).
    pub settled: bool,
    /// The peer is up.
    pub peer_up: bool,
}

/// What ipfail asks of the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this message (to the peer, or to the cluster).
    Send(Message),
    /// Give these groups to the peer (the standby protocol).
    GiveUp(Hold),
    /// Log this.
    Log(Level, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PingState {
    /// Not heard yet.
    Unknown,
    /// Answering; counts from this instant on if it does not die before.
    Holding(Instant),
    /// Counted.
    Counted,
    /// Declared dead.
    Dead,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// We see fewer ping nodes: give up what we hold.
    All,
    /// The counts balance and we hold the other's groups (auto_failback on).
    Foreign,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    kind: Kind,
    at: Instant,
    /// Our count when the give-up was decided: if it grew since, the reason is gone.
    count: usize,
    /// "waiting for resources to settle" was logged.
    waited: bool,
}

/// The ipfail state machine of one node.
#[derive(Debug)]
pub struct Ipfail {
    cfg: IpfailConfig,
    pings: Vec<(String, PingState)>,
    comm_up: bool,
    /// Counting and talking started (see the module doc).
    ready: bool,
    /// The peer's last reported count.
    peer_count: Option<usize>,
    pending: Option<Pending>,
    out: VecDeque<Action>,
}

impl Ipfail {
    /// The machine for `cfg`.
    pub fn new(cfg: IpfailConfig) -> Ipfail {
        let pings = cfg
            .ping_nodes
            .iter()
            .map(|n| (n.clone(), PingState::Unknown))
            .collect();
        Ipfail {
            cfg,
            pings,
            comm_up: false,
            ready: false,
            peer_count: None,
            pending: None,
            out: VecDeque::new(),
        }
    }

    /// A reload changed the keepalive: later give-ups wait
    /// [`giveup_delay`] of the new one (a pending one keeps its deadline).
    pub fn set_keepalive(&mut self, keepalive: Duration) {
        self.cfg.keepalive = keepalive;
    }

    /// How many ping nodes we count now.
    pub fn count(&self) -> usize {
        self.pings
            .iter()
            .filter(|(_, s)| *s == PingState::Counted)
            .count()
    }

    /// The peer's last reported count.
    pub fn peer_count(&self) -> Option<usize> {
        self.peer_count
    }

    /// True while a give-up is scheduled.
    pub fn giveup_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// The next action, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.pop_front()
    }

    /// When [`Ipfail::handle_timeout`] must next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let holds = self.pings.iter().filter_map(|(_, s)| match s {
            PingState::Holding(t) => Some(*t),
            _ => None,
        });
        holds.chain(self.pending.map(|p| p.at)).min()
    }

    fn log(&mut self, level: Level, text: impl Into<String>) {
        self.out.push_back(Action::Log(level, text.into()));
    }

    fn msg_to_peer(&self, t: &str) -> Message {
        let mut m = Message::with_type(t);
        m.push_str("dest", &self.cfg.peer);
        m
    }

    /// Sends as 3.0.6's API sends a client's message: from ipfail, to the
    /// ipfail client on the other node (captured from Debian's ipfail).
    fn send(&mut self, mut m: Message) {
        m.push_str("from_id", "ipfail");
        m.push_str("to_id", "ipfail");
        m.push_str("client_gen", "0");
        self.out.push_back(Action::Send(m));
    }

    /// Communication is up: ipfail may start once the ping nodes are known.
    pub fn comm_up(&mut self, now: Now, view: View) {
        self.comm_up = true;
        self.check_ready(now, view);
    }

    /// A ping node answers (again): it counts after the hold time.
    pub fn ping_up(&mut self, now: Now, node: &str, view: View) {
        let hold = self.cfg.hold;
        if let Some((_, s)) = self.pings.iter_mut().find(|(n, _)| n == node) {
            if *s != PingState::Counted {
                *s = PingState::Holding(now.mono + hold);
            }
        }
        self.check_ready(now, view);
    }

    /// A ping node was declared dead.
    pub fn ping_dead(&mut self, now: Now, node: &str, view: View) {
        let Some(i) = self.pings.iter().position(|(n, _)| n == node) else {
            return;
        };
        let was = std::mem::replace(&mut self.pings[i].1, PingState::Dead);
        if was == PingState::Counted && self.ready {
            self.count_changed(now, view);
        }
        self.check_ready(now, view);
    }

    /// The peer died or left: nothing to give up to, nothing to compare with.
    pub fn peer_gone(&mut self) {
        self.peer_count = None;
        if self.pending.take().is_some() {
            self.log(
                Level::Info,
                "The other node is gone: delayed giveup cancelled.",
            );
        }
        if self.ready {
            let text = if self.count() > 0 {
                "NS: We are still alive!"
            } else {
                "NS: We are dead. :<"
            };
            self.log(Level::Info, text);
        }
    }

    /// The peer is back (a healed partition): tell it our count.
    pub fn peer_back(&mut self) {
        if self.ready {
            self.send_count();
        }
    }

    /// A message delivered to us; only ipfail's types from the peer matter.
    pub fn handle(&mut self, now: Now, msg: &Message, view: View) {
        if msg.get_str("src") != Some(self.cfg.peer.as_str()) {
            return;
        }
        match msg.get_str("t") {
            Some("num_ping_nodes") => {
                let Some(n) = msg
                    .get_str("num_ping")
                    .and_then(|v| v.trim().parse::<usize>().ok())
                else {
                    self.log(
                        Level::Error,
                        "num_ping_nodes message without a valid num_ping.",
                    );
                    return;
                };
                self.peer_count = Some(n);
                if self.ready {
                    self.compare(now, view, true);
                }
            }
            Some("you_are_dead") if self.ready => {
                self.log(
                    Level::Info,
                    "Giving up because we were told that we have less ping nodes.",
                );
                self.schedule(now, Kind::All);
            }
            Some("abort_giveup") => match self.pending.take() {
                Some(p) => self.log(
                    Level::Info,
                    format!("Aborted delayed giveup ({})", kind_str(p.kind)),
                ),
                None => self.log(Level::Debug, "No giveup timer to abort."),
            },
            Some("hbapi-clstat")
                if msg.get_str("from_id") == Some("ipfail")
                    && msg.get_str("st") == Some("join") =>
            {
                self.log(
                    Level::Info,
                    format!(
                        "Got join message from another ipfail client. ({})",
                        self.cfg.peer
                    ),
                );
                if self.ready {
                    self.send_count();
                }
            }
            _ => {}
        }
    }

    /// Time passed: hold times end, a delayed give-up comes due.
    pub fn handle_timeout(&mut self, now: Now, view: View) {
        let mut counted = false;
        for (_, s) in &mut self.pings {
            if let PingState::Holding(t) = *s {
                if now.mono >= t {
                    *s = PingState::Counted;
                    counted = true;
                }
            }
        }
        if counted && self.ready {
            self.count_changed(now, view);
        }
        self.check_ready(now, view);
        if self.pending.is_some_and(|p| now.mono >= p.at) {
            self.fire(now, view);
        }
    }

    fn check_ready(&mut self, now: Now, view: View) {
        let resolved = self
            .pings
            .iter()
            .all(|(_, s)| matches!(s, PingState::Counted | PingState::Dead));
        if self.ready || !self.comm_up || !resolved {
            return;
        }
        self.ready = true;
        let (count, total) = (self.count(), self.pings.len());
        self.log(
            Level::Info,
            format!(
                "ipfail: watching {total} ping node(s), {count} visible; the other node is {}",
                self.cfg.peer
            ),
        );
        // What 3.0.6 broadcasts when a client signs on: the peer's ipfail
        // answers a join from ipfail with its count.
        let mut join = Message::with_type("hbapi-clstat");
        join.push_str("st", "join");
        join.push_str("from_id", "ipfail");
        join.push_str("to_id", "ipfail");
        join.push_str("info", "signon");
        join.push_str("client_gen", "0");
        self.out.push_back(Action::Send(join));
        self.send_count();
        if self.peer_count.is_some() {
            self.compare(now, view, false);
        }
    }

    fn count_changed(&mut self, now: Now, view: View) {
        let count = self.count();
        self.log(
            Level::Info,
            format!(
                "ipfail: {count} of {} ping node(s) visible",
                self.pings.len()
            ),
        );
        self.send_count();
        if self.peer_count.is_some() {
            self.compare(now, view, false);
        }
    }

    fn send_count(&mut self) {
        self.log(Level::Info, "Asking other side for ping node count.");
        let mut m = self.msg_to_peer("num_ping_nodes");
        m.push_str("num_ping", self.count().to_string());
        self.send(m);
    }

    /// Our count against the peer's. `reply`: the peer just told us its count
    /// and waits for our verdict.
    fn compare(&mut self, now: Now, view: View, reply: bool) {
        let Some(theirs) = self.peer_count else {
            return;
        };
        let mine = self.count();
        if mine > theirs {
            if reply {
                self.log(
                    Level::Info,
                    "Telling other node that we have more visible ping nodes.",
                );
                let m = self.msg_to_peer("you_are_dead");
                self.send(m);
            }
            if let Some(p) = self.pending.take() {
                self.log(
                    Level::Info,
                    format!(
                        "Aborted delayed giveup ({}): we see more ping nodes",
                        kind_str(p.kind)
                    ),
                );
            }
        } else if mine < theirs {
            self.log(
                Level::Info,
                "Giving up because we have less visible ping nodes.",
            );
            self.schedule(now, Kind::All);
        } else {
            self.log(Level::Info, "Ping node count is balanced.");
            if reply {
                let m = self.msg_to_peer("abort_giveup");
                self.send(m);
            }
            match self.pending {
                Some(p) if p.kind == Kind::All => {
                    self.pending = None;
                    self.log(Level::Info, "Aborted delayed giveup (all)");
                }
                Some(_) => {}
                None if view.holding.has(Hold::FOREIGN) => {
                    if self.cfg.auto_failback {
                        self.log(Level::Info, "Giving up foreign resources (auto_failback).");
                        self.schedule(now, Kind::Foreign);
                    } else {
                        self.log(
                            Level::Info,
                            "auto_failback off: the other node's resources stay here.",
                        );
                    }
                }
                None => {}
            }
        }
    }

    fn schedule(&mut self, now: Now, kind: Kind) {
        let delay = giveup_delay(self.cfg.keepalive);
        let count = self.count();
        match &mut self.pending {
            // The earlier deadline stays: a repeated reason does not postpone it.
            Some(p) if p.kind == kind => p.count = p.count.min(count),
            Some(p) if p.kind == Kind::All => {}
            slot => {
                *slot = Some(Pending {
                    kind,
                    at: now.mono + delay,
                    count,
                    waited: false,
                });
                self.log(
                    Level::Info,
                    format!("Delayed giveup in {} seconds.", delay.as_secs_f32()),
                );
            }
        }
    }

    /// A delayed give-up is due: check that its reason still holds.
    fn fire(&mut self, now: Now, view: View) {
        let Some(mut p) = self.pending.take() else {
            return;
        };
        let mine = self.count();
        let still = match p.kind {
            Kind::All => mine <= p.count && self.peer_count.is_none_or(|n| mine < n),
            Kind::Foreign => self.cfg.auto_failback && self.peer_count == Some(mine),
        };
        let set = match p.kind {
            Kind::All => view.holding,
            Kind::Foreign => view.holding.and(Hold::FOREIGN),
        };
        let why = if !view.peer_up {
            Some("the other node is not up")
        } else if !still {
            Some("the ping node counts changed")
        } else if set.is_none() {
            Some("we hold nothing to give up")
        } else {
            None
        };
        if let Some(why) = why {
            self.log(
                Level::Info,
                format!("Delayed giveup ({}) dropped: {why}.", kind_str(p.kind)),
            );
            return;
        }
        if !view.settled {
            if !p.waited {
                p.waited = true;
                self.log(
                    Level::Info,
                    "Delayed giveup waits: resources are in transition.",
                );
            }
            p.at = now.mono + RETRY;
            self.pending = Some(p);
            return;
        }
        self.log(
            Level::Info,
            format!("giveup() called (timeout worked): giving up {set} resources"),
        );
        self.out.push_back(Action::GiveUp(set));
    }
}

fn kind_str(k: Kind) -> &'static str {
    match k {
        Kind::All => "all",
        Kind::Foreign => "foreign",
    }
}

#[cfg(test)]
mod tests;
