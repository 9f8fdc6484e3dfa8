//! Membership: who is alive, decided from heartbeats and dead times (spec §3-§7).
//!
//! ```text
//!   handle_message(now, link, msg) ──┐
//!   handle_timeout(now) ─────────────┼──> Membership ──> poll_command(): Send(msg) | Notify(event)
//!   start(now) / shutdown(now) ──────┘         └──────> poll_timeout(): when to call handle_timeout
//! ```
//!
//! The caller authenticates packets before handing them in, sends every `Send` on
//! every medium (3.0.6 has no per-link sequence: duplicates are removed here by
//! sequence number), and logs every `Notify`. Nothing here reads a clock.

pub mod beats;
mod event;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::Duration;

use beats::IntervalWindow;
pub use event::{DropReason, Event, Level};

use crate::time::{Instant, Now, Rng};
use crate::wire::{Message, Value};

/// Index of a medium in the configuration's media list.
pub type LinkId = usize;

/// Sent messages kept for retransmission (MAXMSGHIST).
pub const MAX_HISTORY: usize = 500;
/// A gap larger than this resets sequence tracking (FLOWCONTROL_LIMIT).
pub const MAX_GAP: u64 = 250;
/// Most retransmissions sent for one request.
pub const MAX_REXMIT_PER_REQUEST: u64 = 50;
/// Extra dead time a node advertises during its first seconds, so peers that see it
/// start do not declare it dead while it settles (spec §6).
pub const STARTUP_EXTRA_DEADTIME: Duration = Duration::from_millis(2000);
/// How long the extra dead time is advertised.
pub const STARTUP_WINDOW: Duration = Duration::from_secs(5);

/// A node's status as the cluster sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeStatus {
    /// Configured, never heard from.
    Init,
    /// Running, communication not yet up.
    Up,
    /// Communication up: every node heard from or declared dead.
    Active,
    /// Silent for its dead time, or shut down.
    Dead,
}

impl NodeStatus {
    /// The word on the wire and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Init => "init",
            NodeStatus::Up => "up",
            NodeStatus::Active => "active",
            NodeStatus::Dead => "dead",
        }
    }

    fn parse(s: &str) -> Option<NodeStatus> {
        Some(match s {
            "init" => NodeStatus::Init,
            "up" => NodeStatus::Up,
            "active" => NodeStatus::Active,
            "dead" => NodeStatus::Dead,
            _ => return None,
        })
    }
}

impl fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long a node has been silent ([`Membership::silence`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence {
    /// Since its last status message (`None`: never heard).
    pub status_ms: Option<u64>,
    /// The dead time that applies to it now (its advertised `dt`, or
    /// `initdead` before communication is up).
    pub limit_ms: u64,
    /// Each of our media, in configuration order.
    pub links: Vec<LinkSilence>,
}

/// One medium's part of a [`Silence`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSilence {
    /// The medium's name (`eth1`, `/dev/ttyS0`).
    pub link: String,
    /// Since the node's last packet on it (`None`: never heard on it).
    pub silent_ms: Option<u64>,
    /// Whether the link still counts as up.
    pub up: bool,
}

/// What the state machine needs to know; built by the caller from the configuration.
#[derive(Debug, Clone)]
pub struct MembershipConfig {
    /// Our node name (lower-cased).
    pub me: String,
    /// Every cluster node, ourselves included, lower-cased.
    pub nodes: Vec<String>,
    /// Ping pseudo-nodes (`ping`, `ping6`, `ping_group`): their status is kept
    /// here from the replies the ping media report (spec §5.1).
    pub ping: Vec<PingConfig>,
    /// `deadping`: silence after which a ping node is dead.
    pub deadping: Duration,
    /// Medium names, indexed by [`LinkId`]: `eth1`, `/dev/ttyS0`.
    pub links: Vec<String>,
    /// `keepalive`.
    pub keepalive: Duration,
    /// `deadtime`.
    pub deadtime: Duration,
    /// `warntime`.
    pub warntime: Duration,
    /// `initdead`.
    pub initdead: Duration,
    /// `max_rexmit_delay`.
    pub max_rexmit_delay: Duration,
    /// `hopfudge`.
    pub hopfudge: u8,
    /// Our node UUID (16 raw bytes in `srcuuid`).
    pub uuid: [u8; 16],
    /// Our heartbeat generation (`hg`), already incremented for this start.
    pub generation: u64,
    /// Seed of the random choices (ACK triggers, retransmission jitter).
    pub seed: u64,
}

/// A ping pseudo-node: a single host (`ping HOST`), or a group that is up while
/// any member answers (`ping_group NAME HOST...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingConfig {
    /// Its name in the status table: the host as written, or the group name.
    pub name: String,
    /// The hosts pinged, as written (one for `ping`).
    pub members: Vec<String>,
}

/// A ping node's status: `ping` while it answers, `dead` after `deadping` of silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingStatus {
    /// Configured, never answered.
    Init,
    /// Answering (`ping` on the wire and in `cl_status`).
    Ping,
    /// Silent for `deadping` (or never answered by `initdead`).
    Dead,
}

impl PingStatus {
    /// The word 3.0.6 prints.
    pub fn as_str(self) -> &'static str {
        match self {
            PingStatus::Init => "init",
            PingStatus::Ping => "ping",
            PingStatus::Dead => "dead",
        }
    }
}

/// One ping pseudo-node's state.
#[derive(Debug, Clone)]
struct Ping {
    name: String,
    status: PingStatus,
    /// Per member: the last authenticated reply, and whether it counts as answering.
    members: Vec<(String, Option<Instant>, bool)>,
}

impl Ping {
    /// The newest reply of any member: the group lives while any member answers.
    fn last_reply(&self) -> Option<Instant> {
        self.members.iter().filter_map(|m| m.1).max()
    }
}

/// What the state machine asks the caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Sign and send this message on every medium.
    Send(Message),
    /// Log (and act on) this fact.
    Notify(Event),
}

/// Per-node sequence tracking (spec §4.3).
#[derive(Debug, Default, Clone)]
struct SeqTrack {
    last: Option<u64>,
    /// Missing sequence numbers and when to ask for each next.
    missing: BTreeMap<u64, Instant>,
    /// Sequence number of the last `t=status` (healed-partition check).
    last_status_seq: Option<u64>,
    /// Messages for the higher layers that arrived after a gap, with their
    /// arrival: delivered in sequence order once the gap is filled (or given up
    /// after a dead time), so that a late or retransmitted message never
    /// overtakes a newer one.
    held: BTreeMap<u64, (Instant, Message)>,
}

#[derive(Debug, Clone)]
struct Node {
    name: String,
    status: NodeStatus,
    /// Status text as the node sent it (3.0.6 copies it verbatim).
    status_text: String,
    /// Last `t=status` arrival: drives death.
    last_status: Option<Instant>,
    /// Any packet ever heard (comm-up condition).
    heard: bool,
    /// When the first packet arrived: a node heard before its first status
    /// (an ACK, a resource message) is alive then, and gets its dead time
    /// from there rather than from our start.
    first_heard: Option<Instant>,
    /// The dead time the node advertises (`dt`), once known.
    dead_limit: Option<Duration>,
    /// Per link: last packet arrival and whether the link counts as up.
    links: Vec<(Option<Instant>, bool)>,
    /// Per link: the recent worst interval between status messages (status table only).
    beats: Vec<IntervalWindow>,
    gen: u64,
    /// Dead (or never heard) when this generation was first heard: its first
    /// status says whether it was running all along (a partition) or starting.
    new_gen_while_dead: bool,
    /// The generation that sent a shutdown notice, and when the notice came:
    /// the node is gone, and whatever of that generation is still in flight (a
    /// status sent just before the notice, the statuses 3.0.6 sends until it
    /// exits, the notice's copy on another medium) is dropped. A newer
    /// generation (a restart) brings it back, and so does a status of the same
    /// generation more than its dead time after the notice: a node that beats
    /// that long is running (restarted within the same second with
    /// `hbgenmethod time`).
    departed: Option<(u64, Instant)>,
    seq: SeqTrack,
    /// The sequence number of the newest message of this generation handed to
    /// the layer above: it survives the restarts of sequence tracking.
    delivered: Option<u64>,
    uuid: Option<Vec<u8>>,
    /// Highest sequence number of ours this node acknowledged.
    acked: u64,
    ack_trigger: u64,
}

impl Node {
    /// A configured node, never heard from.
    fn new(name: &str, links: usize, ack_trigger: u64) -> Node {
        Node {
            name: name.to_owned(),
            status: NodeStatus::Init,
            status_text: "init".into(),
            last_status: None,
            heard: false,
            first_heard: None,
            dead_limit: None,
            links: vec![(None, false); links],
            beats: vec![IntervalWindow::default(); links],
            gen: 0,
            new_gen_while_dead: false,
            departed: None,
            seq: SeqTrack::default(),
            delivered: None,
            uuid: None,
            acked: 0,
            ack_trigger,
        }
    }
}

/// One sent message kept for retransmission.
#[derive(Debug, Clone)]
struct Sent {
    seq: u64,
    msg: Message,
    last_resent: Option<Instant>,
}

/// The membership state machine of one node.
#[derive(Debug)]
pub struct Membership {
    cfg: MembershipConfig,
    nodes: Vec<Node>,
    /// Ping pseudo-nodes: never sent to, no sequence numbers, not in live counts.
    pings: Vec<Ping>,
    me: usize,
    local: NodeStatus,
    started: Instant,
    comm_up: bool,
    shutting_down: bool,
    next_seq: u64,
    next_keepalive: Option<Instant>,
    history: VecDeque<Sent>,
    load: String,
    rng: Rng,
    out: VecDeque<Command>,
}

impl Membership {
    /// A state machine for `cfg`, created at `now`. Call [`Membership::start`] next.
    pub fn new(cfg: MembershipConfig, now: Now) -> Membership {
        let mut rng = Rng::new(cfg.seed);
        let mut nodes: Vec<Node> = Vec::new();
        for name in &cfg.nodes {
            if nodes.iter().any(|n| &n.name == name) {
                continue;
            }
            nodes.push(Node::new(name, cfg.links.len(), rng.range(0, 9)));
        }
        let me = match nodes.iter().position(|n| n.name == cfg.me) {
            Some(i) => i,
            None => {
                // The configuration check refuses this; keep the machine total anyway.
                nodes.push(Node::new(&cfg.me, cfg.links.len(), 0));
                nodes.len() - 1
            }
        };
        nodes[me].uuid = Some(cfg.uuid.to_vec());
        let pings = cfg
            .ping
            .iter()
            .map(|p| Ping {
                name: p.name.clone(),
                status: PingStatus::Init,
                members: p.members.iter().map(|h| (h.clone(), None, false)).collect(),
            })
            .collect();
        Membership {
            cfg,
            nodes,
            pings,
            me,
            local: NodeStatus::Init,
            started: now.mono,
            comm_up: false,
            shutting_down: false,
            next_seq: 1,
            next_keepalive: None,
            history: VecDeque::new(),
            load: "n/a".into(),
            rng,
            out: VecDeque::new(),
        }
    }

    // ---- queries -------------------------------------------------------------------

    /// Our own status.
    pub fn local_status(&self) -> NodeStatus {
        self.local
    }

    /// A node's status (`None` for an unknown name).
    pub fn node_status(&self, node: &str) -> Option<NodeStatus> {
        self.node(node).map(|n| {
            if n.name == self.cfg.me {
                self.local
            } else {
                n.status
            }
        })
    }

    /// Whether a node's link is up (`None` for an unknown node or link).
    pub fn link_up(&self, node: &str, link: LinkId) -> Option<bool> {
        self.node(node)?.links.get(link).map(|l| l.1)
    }

    /// Our `deadtime` (as configured, or as last reloaded).
    pub fn deadtime(&self) -> Duration {
        self.cfg.deadtime
    }

    /// Our `warntime` (as configured, or as last reloaded).
    pub fn warntime(&self) -> Duration {
        self.cfg.warntime
    }

    /// How long `node` has been silent at `now`: what a death or a dead link
    /// was decided on, for the log and the journal. `None` for an unknown node.
    pub fn silence(&self, node: &str, now: Instant) -> Option<Silence> {
        let n = self.node(node)?;
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Some(Silence {
            status_ms: n.last_status.map(|t| ms(now.since(t))),
            limit_ms: ms(self.limit_for(n)),
            links: self
                .cfg
                .links
                .iter()
                .zip(&n.links)
                .map(|(name, (last, up))| LinkSilence {
                    link: name.clone(),
                    silent_ms: last.map(|t| ms(now.since(t))),
                    up: *up,
                })
                .collect(),
        })
    }

    /// A ping node's status (`None` for an unknown name).
    pub fn ping_status(&self, name: &str) -> Option<PingStatus> {
        self.pings.iter().find(|p| p.name == name).map(|p| p.status)
    }

    /// The ping nodes' names, in configuration order.
    pub fn ping_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.pings.iter().map(|p| p.name.as_str())
    }

    /// `deadping`.
    pub fn deadping(&self) -> Duration {
        self.cfg.deadping
    }

    /// The other cluster nodes' names.
    pub fn peer_names(&self) -> impl Iterator<Item = &str> + '_ {
        let me = self.me;
        self.nodes
            .iter()
            .enumerate()
            .filter(move |(i, _)| *i != me)
            .map(|(_, n)| n.name.as_str())
    }

    /// How many other cluster nodes are configured.
    pub fn peers(&self) -> usize {
        self.nodes.len() - 1
    }

    /// True once every node has been heard from or declared dead.
    pub fn comm_up(&self) -> bool {
        self.comm_up
    }

    fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    // ---- status table (read-only; nothing here is used for a decision) ------------

    /// The configuration in force (timing as last reloaded).
    pub fn config(&self) -> &MembershipConfig {
        &self.cfg
    }

    /// Every cluster node's name, ourselves included, in table order.
    pub fn node_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.nodes.iter().map(|n| n.name.as_str())
    }

    /// A node's generation (`hg`): ours, or the one last heard (`None` before
    /// anything was heard from it, or for an unknown name).
    pub fn generation_of(&self, node: &str) -> Option<u64> {
        if node == self.cfg.me {
            return Some(self.cfg.generation);
        }
        self.node(node).map(|n| n.gen).filter(|g| *g != 0)
    }

    /// When the last packet of the current generation arrived from a node, on
    /// any link (our own looped-back packets for ourselves).
    pub fn last_heard(&self, node: &str) -> Option<Instant> {
        self.node(node)?.links.iter().filter_map(|l| l.0).max()
    }

    /// When the last packet arrived from a node on one link.
    pub fn link_last_heard(&self, node: &str, link: LinkId) -> Option<Instant> {
        self.node(node)?.links.get(link)?.0
    }

    /// The worst interval between status messages from a node on one link, in
    /// the last minute (see [`beats::IntervalWindow`]).
    pub fn worst_interval(&self, node: &str, link: LinkId, now: Instant) -> Option<Duration> {
        self.node(node)?.beats.get(link)?.worst(now)
    }

    /// When the newest reply of any member of a ping node arrived.
    pub fn ping_last_reply(&self, name: &str) -> Option<Instant> {
        self.pings.iter().find(|p| p.name == name)?.last_reply()
    }

    /// When [`Membership::start`] ran.
    pub fn started(&self) -> Instant {
        self.started
    }

    // ---- outputs -------------------------------------------------------------------

    /// The next thing to do, if any.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.out.pop_front()
    }

    /// When [`Membership::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next = self.next_keepalive;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        for (i, n) in self.nodes.iter().enumerate() {
            if i == self.me {
                continue;
            }
            if n.status != NodeStatus::Dead {
                consider(self.death_deadline(n));
            }
            let limit = self.limit_for(n);
            for (last, up) in &n.links {
                if let (Some(last), true) = (last, up) {
                    consider(*last + limit);
                }
            }
            if matches!(n.status, NodeStatus::Up | NodeStatus::Active) {
                if let Some(t) = n.seq.missing.values().min() {
                    consider(*t);
                }
            }
            if let Some(t) = n.seq.held.values().map(|(t, _)| *t).min() {
                consider(t + self.cfg.deadtime);
            }
        }
        let limit = self.ping_limit();
        for p in &self.pings {
            if p.status != PingStatus::Dead {
                consider(p.last_reply().unwrap_or(self.started) + limit);
            }
            if p.members.len() > 1 {
                for (_, last, up) in &p.members {
                    if let (Some(last), true) = (last, up) {
                        consider(*last + limit);
                    }
                }
            }
        }
        next
    }

    /// Our load string for the `ld` field (the first line of /proc/loadavg).
    pub fn set_load(&mut self, load: String) {
        self.load = load;
    }

    // ---- inputs --------------------------------------------------------------------

    /// Starts: status `init` is sent at once, then `up` (spec §7).
    pub fn start(&mut self, now: Now) {
        self.started = now.mono;
        self.send_status(now);
        self.set_local(now, NodeStatus::Up);
        self.next_keepalive = Some(now.mono + self.cfg.keepalive);
        self.check_comm_up(now);
    }

    /// Leaves the cluster gracefully: sends `shutdone st=dead` (spec §3). The caller
    /// releases resources first and stops sending after this.
    pub fn shutdown(&mut self, now: Now) {
        let mut m = Message::with_type("shutdone");
        m.push_str("st", "dead");
        self.send(now, m);
        self.shutting_down = true;
        self.next_keepalive = None;
    }

    /// Time passed: send keepalives, declare deaths, ask for retransmissions.
    pub fn handle_timeout(&mut self, now: Now) {
        if let Some(t) = self.next_keepalive {
            if now.mono >= t {
                self.send_status(now);
                // Catch up without a burst after a stall: the next beat is one period away.
                let next = t + self.cfg.keepalive;
                self.next_keepalive = Some(if next <= now.mono {
                    now.mono + self.cfg.keepalive
                } else {
                    next
                });
            }
        }
        for i in 0..self.nodes.len() {
            if i == self.me {
                continue;
            }
            self.expire(now, i);
            self.request_rexmits(now, i);
            self.give_up_gaps(now, i);
        }
        self.ping_timeouts(now);
        self.check_comm_up(now);
    }

    /// Node `i`'s links silent for its dead time die, and so does the node.
    fn expire(&mut self, now: Now, i: usize) {
        let limit = self.limit_for(&self.nodes[i]);
        for l in 0..self.nodes[i].links.len() {
            if let (Some(last), true) = self.nodes[i].links[l] {
                if now.mono >= last + limit {
                    self.link_dead(i, l);
                }
            }
        }
        if self.nodes[i].status != NodeStatus::Dead
            && now.mono >= self.death_deadline(&self.nodes[i])
        {
            self.declare_dead(i);
        }
    }

    /// An authenticated echo reply arrived from member `member` of ping node
    /// `ping` (indices into [`MembershipConfig::ping`]). The ping medium checked
    /// it answers a request of ours; here it only refreshes the pseudo-node.
    pub fn handle_ping_reply(&mut self, now: Now, ping: usize, member: usize) {
        let Some(p) = self.pings.get_mut(ping) else {
            return;
        };
        let group = p.members.len() > 1;
        let Some(m) = p.members.get_mut(member) else {
            return;
        };
        m.1 = Some(now.mono);
        let member_back = !std::mem::replace(&mut m.2, true);
        let member_name = m.0.clone();
        let name = p.name.clone();
        let came_up = p.status != PingStatus::Ping;
        p.status = PingStatus::Ping;
        if came_up {
            // 3.0.6 feeds the reply to its status handler: the link comes up,
            // then the status changes.
            self.notify(Event::LinkUp {
                node: name.clone(),
                link: name.clone(),
            });
            self.notify(Event::PingUp { node: name.clone() });
        }
        if group && member_back {
            self.notify(Event::PingMember {
                group: name,
                member: member_name,
                up: true,
            });
        }
        self.check_comm_up(now);
    }

    /// The dead time of ping nodes: `deadping`, or `initdead` before comm-up (as
    /// for every node, spec §6).
    fn ping_limit(&self) -> Duration {
        if self.comm_up {
            self.cfg.deadping
        } else {
            self.cfg.initdead.max(self.cfg.deadping)
        }
    }

    /// Ping members and nodes silent for their dead time die.
    fn ping_timeouts(&mut self, now: Now) {
        let limit = self.ping_limit();
        let started = self.started;
        let mut events = Vec::new();
        for p in &mut self.pings {
            let group = p.members.len() > 1;
            for (member, last, up) in &mut p.members {
                if let (Some(t), true) = (*last, *up) {
                    if now.mono >= t + limit {
                        *up = false;
                        if group {
                            events.push(Event::PingMember {
                                group: p.name.clone(),
                                member: member.clone(),
                                up: false,
                            });
                        }
                    }
                }
            }
            if p.status != PingStatus::Dead && now.mono >= p.last_reply().unwrap_or(started) + limit
            {
                if p.status == PingStatus::Ping {
                    events.push(Event::LinkDead {
                        node: p.name.clone(),
                        link: p.name.clone(),
                    });
                }
                p.status = PingStatus::Dead;
                events.push(Event::PingDead {
                    node: p.name.clone(),
                });
            }
        }
        for e in events {
            self.notify(e);
        }
    }

    /// An authenticated message arrived on `link`.
    pub fn handle_message(&mut self, now: Now, link: LinkId, msg: Message) {
        let (Some(src), Some(t)) = (msg.get_str("src"), msg.get_str("t")) else {
            return self.notify(Event::Dropped(DropReason::Malformed));
        };
        if msg.get_hex("ts").unwrap_or(0) == 0 {
            return self.notify(Event::Dropped(DropReason::Malformed));
        }
        let src = src.to_ascii_lowercase();
        let t = t.to_owned();
        let Some(i) = self.nodes.iter().position(|n| n.name == src) else {
            return self.notify(Event::BadNode { name: src });
        };
        if let Some((left, at)) = self.nodes[i].departed.filter(|_| i != self.me) {
            if msg.get_hex("hg").unwrap_or(0) <= left {
                let window = at + self.limit_for(&self.nodes[i]);
                if now.mono < window || t != "status" {
                    // Sent before (or with) its shutdown notice: it is gone.
                    return self.notify(Event::Dropped(DropReason::Departed));
                }
                // Still beating a dead time after its notice: it runs.
                self.nodes[i].departed = None;
            }
        }
        // Any packet of the current generation proves the link, even a duplicate
        // (spec §4.3); a replay of an older generation proves nothing.
        let replay = i != self.me && msg.get_hex("hg").unwrap_or(0) < self.nodes[i].gen;
        if link < self.cfg.links.len() && !replay {
            self.link_heard(now, i, link);
            if t == "status" {
                let interval = self.nodes[i].beats[link].heard(now.mono);
                if let Some(interval) = interval.filter(|_| i != self.me) {
                    self.notify(Event::StatusInterval {
                        node: self.nodes[i].name.clone(),
                        link: self.cfg.links[link].clone(),
                        interval,
                    });
                }
            }
        }
        if i == self.me {
            // Our own packet, looped back: it only proves our link works.
            return;
        }
        self.nodes[i].heard = true;
        if self.nodes[i].first_heard.is_none() {
            self.nodes[i].first_heard = Some(now.mono);
        }
        if let Some(uuid) = msg.get_bin("srcuuid") {
            self.nodes[i].uuid = Some(uuid.to_vec());
        }
        if !self.track(now, i, &t, &msg) {
            return;
        }
        // A legacy node that takes its own groups without asking (it saw no
        // other active node) answers itself: `ip-request-resp dest=ITSELF`.
        // That is news for whoever holds them too (3.0.6 drops it).
        if !self.for_us(&msg) && t != "ip-request-resp" {
            return;
        }
        match t.as_str() {
            "status" => self.on_status(now, i, &msg),
            "NS_ackmsg" => {
                if let Some(ack) = msg.get_hex("ackseq") {
                    let n = &mut self.nodes[i];
                    n.acked = n.acked.max(ack);
                }
            }
            "NS_rexmit" => self.on_rexmit_request(now, i, &msg),
            "reqnodes" => {
                // A joining 3.0.6 node asks one live node for the node list, and
                // retries every second until someone answers (spec §7). It takes
                // the list as the truth, so it is the full list of normal nodes.
                let mut rep = Message::new();
                rep.push_str("dest", &src);
                rep.push_str("t", "repnodes");
                let list: String = self.nodes.iter().map(|n| format!("{} ", n.name)).collect();
                rep.push_str("nodelist", list);
                rep.push_str("delnodelist", " ");
                self.send(now, rep);
            }
            "NS_nak_rexmit" => {
                if let Some(seq) = msg.get_hex("firstseq") {
                    self.nodes[i].seq.missing.remove(&seq);
                    let node = src.clone();
                    self.notify(Event::IrretrievablyLost { node, seq });
                }
            }
            "shutdone" => {
                self.flush_held(i);
                self.notify(Event::ShutdownNotice { node: src.clone() });
                let n = &mut self.nodes[i];
                n.departed = Some((n.gen, now.mono));
                n.status = NodeStatus::Dead;
                n.status_text = "dead".into();
                n.seq = SeqTrack::default();
                // Gone, not failed: its links go down without a word (3.0.6
                // logs only the notice), and no silence is measured from its
                // last status (no late heartbeat when it returns).
                n.last_status = None;
                for l in &mut n.links {
                    l.1 = false;
                }
                self.notify(Event::StatusUpdate {
                    node: src,
                    status: "dead".into(),
                });
            }
            _ => {
                let seq = msg.get_hex("seq").unwrap_or(0);
                self.release_held(i, seq);
                let n = &mut self.nodes[i];
                if n.seq.missing.range(..seq).next().is_some() {
                    n.seq.held.insert(seq, (now.mono, msg));
                } else {
                    self.deliver(i, seq, msg);
                }
            }
        }
        self.release_held(i, u64::MAX);
        self.check_comm_up(now);
    }

    /// Delivers the held messages of node `i` below sequence number `below` that
    /// no gap precedes any more.
    fn release_held(&mut self, i: usize, below: u64) {
        loop {
            let seq = &mut self.nodes[i].seq;
            let Some((&first, _)) = seq.held.first_key_value() else {
                return;
            };
            if first >= below || seq.missing.range(..first).next().is_some() {
                return;
            }
            if let Some((_, msg)) = seq.held.remove(&first) {
                self.deliver(i, first, msg);
            }
        }
    }

    /// Delivers every held message of node `i`, in order (before its sequence
    /// tracking restarts).
    fn flush_held(&mut self, i: usize) {
        let held = std::mem::take(&mut self.nodes[i].seq.held);
        for (seq, (_, msg)) in held {
            self.deliver(i, seq, msg);
        }
    }

    /// Hands a message of node `i` to the layer above, unless one at least as
    /// new (by sequence number) of its generation already went up. Sequence
    /// tracking restarts at a death and at a healed partition, and then an
    /// old message (a retransmission another node asked for, a late copy) is
    /// accepted again: it must not reach the layer above after newer ones, nor
    /// twice.
    fn deliver(&mut self, i: usize, seq: u64, msg: Message) {
        let n = &mut self.nodes[i];
        if n.delivered.is_some_and(|d| seq <= d) {
            return self.notify(Event::Dropped(DropReason::Duplicate));
        }
        n.delivered = Some(seq);
        let from = n.name.clone();
        self.notify(Event::Delivered { from, msg });
    }

    /// A message held for a dead time: the packets missing before it are not
    /// coming. Give them up and deliver.
    fn give_up_gaps(&mut self, now: Now, i: usize) {
        let deadtime = self.cfg.deadtime;
        let seq = &mut self.nodes[i].seq;
        let Some(newest_due) = seq
            .held
            .iter()
            .filter(|(_, (t, _))| now.mono >= *t + deadtime)
            .map(|(s, _)| *s)
            .max()
        else {
            return;
        };
        let lost: Vec<u64> = seq.missing.range(..newest_due).map(|(s, _)| *s).collect();
        for s in lost {
            self.nodes[i].seq.missing.remove(&s);
            let node = self.nodes[i].name.clone();
            self.notify(Event::IrretrievablyLost { node, seq: s });
        }
        self.release_held(i, u64::MAX);
    }

    /// New timing from a configuration reload. A status goes out at once, so the
    /// peers learn the new dead time (`dt`) before the first longer pause, and
    /// the next keepalive follows one new period later.
    pub fn set_timing(
        &mut self,
        now: Now,
        keepalive: Duration,
        deadtime: Duration,
        warntime: Duration,
    ) {
        self.cfg.keepalive = keepalive;
        self.cfg.deadtime = deadtime;
        self.cfg.warntime = warntime;
        if self.next_keepalive.is_some() {
            self.send_status(now);
            self.next_keepalive = Some(now.mono + keepalive);
        }
    }

    /// Sends a message of a higher layer (the resource protocol): the standard
    /// fields are added, and it goes into the retransmission history.
    pub fn send_message(&mut self, now: Now, msg: Message) {
        self.send(now, msg);
    }

    /// True once [`Membership::shutdown`] has run: the notice is out, we are leaving.
    pub fn is_leaving(&self) -> bool {
        self.shutting_down
    }

    /// Whether we ever heard from `node` (a node never heard from may hold anything).
    pub fn heard_from(&self, node: &str) -> bool {
        self.node(node).is_some_and(|n| n.heard)
    }

    // ---- internals -----------------------------------------------------------------

    fn notify(&mut self, e: Event) {
        self.out.push_back(Command::Notify(e));
    }

    /// The dead time that applies to a node now (spec §6).
    fn limit_for(&self, n: &Node) -> Duration {
        if !self.comm_up {
            self.cfg.initdead.max(self.cfg.deadtime)
        } else {
            n.dead_limit.unwrap_or(self.cfg.deadtime)
        }
    }

    /// When a node that sends nothing more is dead: its dead time after its
    /// last status, or, before any status, after its first packet (or our
    /// start). Not from our start alone: comm-up shortens the limit from
    /// `initdead` to the dead time, and a node whose first packet (not a
    /// status) completed comm-up more than a dead time after our start
    /// would otherwise be declared dead the instant it was first heard.
    fn death_deadline(&self, n: &Node) -> Instant {
        n.last_status.or(n.first_heard).unwrap_or(self.started) + self.limit_for(n)
    }

    fn link_heard(&mut self, now: Now, i: usize, link: LinkId) {
        let was_up = self.nodes[i].links[link].1;
        self.nodes[i].links[link] = (Some(now.mono), true);
        if !was_up {
            let ev = Event::LinkUp {
                node: self.nodes[i].name.clone(),
                link: self.cfg.links[link].clone(),
            };
            self.notify(ev);
        }
    }

    fn link_dead(&mut self, i: usize, l: LinkId) {
        self.nodes[i].links[l].1 = false;
        let ev = Event::LinkDead {
            node: self.nodes[i].name.clone(),
            link: self.cfg.links[l].clone(),
        };
        self.notify(ev);
    }

    /// A node silent for its dead time is dead, and so is every link of it
    /// still up: a packet that is not a status (an ACK to a third node, a
    /// retransmission request) may have refreshed a link after the node's last
    /// status, and a link that outlived its node would neither be reported
    /// dead nor, when the node returns within that margin, up again.
    fn declare_dead(&mut self, i: usize) {
        for l in 0..self.nodes[i].links.len() {
            if self.nodes[i].links[l].1 {
                self.link_dead(i, l);
            }
        }
        self.flush_held(i);
        let n = &mut self.nodes[i];
        n.status = NodeStatus::Dead;
        n.status_text = "dead".into();
        // Sequence tracking restarts, but the last status seen is kept: a status
        // with the same generation and a higher sequence means a healed partition.
        n.seq = SeqTrack {
            last_status_seq: n.seq.last_status_seq,
            ..SeqTrack::default()
        };
        let node = n.name.clone();
        self.notify(Event::NodeDead { node });
    }

    fn set_local(&mut self, now: Now, status: NodeStatus) {
        if self.local == status {
            return;
        }
        self.local = status;
        self.notify(Event::LocalStatus(status));
        if !self.shutting_down {
            self.send_status(now);
        }
    }

    fn check_comm_up(&mut self, now: Now) {
        if self.comm_up || self.local == NodeStatus::Init {
            return;
        }
        let all = self
            .nodes
            .iter()
            .enumerate()
            .all(|(i, n)| i == self.me || n.heard || n.status == NodeStatus::Dead)
            && self.pings.iter().all(|p| p.status != PingStatus::Init);
        if all {
            self.comm_up = true;
            self.notify(Event::CommUp);
            self.set_local(now, NodeStatus::Active);
            // Comm-up shortens the limit from initdead to each node's dead
            // time: a node silent for longer than that is dead now, not at
            // the next call (whose deadline would lie in the past).
            for i in 0..self.nodes.len() {
                if i != self.me {
                    self.expire(now, i);
                }
            }
        }
    }

    /// "For us": addressed to our UUID, or to our name, or to nobody in particular.
    fn for_us(&self, msg: &Message) -> bool {
        if let Some(uuid) = msg.get_bin("destuuid") {
            return uuid == self.cfg.uuid;
        }
        msg.get_str("dest")
            .is_none_or(|d| d.eq_ignore_ascii_case(&self.cfg.me))
    }

    /// Generation and sequence checks (spec §4.3). True if the message is new.
    fn track(&mut self, now: Now, i: usize, t: &str, msg: &Message) -> bool {
        let gen = msg.get_hex("hg").unwrap_or(0);
        let n = &self.nodes[i];
        if gen < n.gen {
            let (node, curgen) = (n.name.clone(), n.gen);
            self.notify(Event::Replay { node, gen, curgen });
            self.notify(Event::Dropped(DropReason::Replay));
            return false;
        }
        if gen > n.gen {
            let known = n.gen;
            let node = n.name.clone();
            let n = &mut self.nodes[i];
            n.gen = gen;
            n.seq = SeqTrack::default();
            n.delivered = None;
            n.new_gen_while_dead = n.status == NodeStatus::Dead;
            n.departed = None;
            if known != 0 {
                self.notify(Event::Restart { node });
            }
        }
        let n = &mut self.nodes[i];
        if t == "status"
            && std::mem::take(&mut n.new_gen_while_dead)
            && msg.get_str("st") == Some("active")
        {
            // A node we declared dead (or never heard) is heard in a new
            // generation, and its first status says it is already active: it
            // came up on the other side of a partition and may hold resources.
            // A node that just started says `init` or `up` first.
            let node = n.name.clone();
            self.notify(Event::PartitionHealed { node });
        }
        if t.starts_with("NS_") {
            return true;
        }
        let Some(seq) = msg.get_hex("seq") else {
            self.notify(Event::Dropped(DropReason::Malformed));
            return false;
        };
        let is_status = t == "status";
        let n = &mut self.nodes[i];
        if is_status
            && n.status == NodeStatus::Dead
            && n.gen == gen
            && n.seq.last_status_seq.is_some()
        {
            if n.seq.last_status_seq.is_some_and(|s| seq <= s) {
                self.notify(Event::Dropped(DropReason::Duplicate));
                return false;
            }
            let node = n.name.clone();
            self.flush_held(i);
            self.nodes[i].seq = SeqTrack::default();
            self.notify(Event::PartitionHealed { node });
        }
        let n = &mut self.nodes[i];
        let accepted = match n.seq.last {
            None => {
                n.seq.last = Some(seq);
                true
            }
            Some(last) if seq == last + 1 => {
                n.seq.last = Some(seq);
                true
            }
            Some(last) if seq == last => false,
            Some(last) if seq > last => {
                let count = seq - last - 1;
                let node = n.name.clone();
                if count > MAX_GAP {
                    n.seq.missing.clear();
                    n.seq.last = Some(seq);
                    self.notify(Event::TooManyLost { node });
                } else {
                    for s in last + 1..seq {
                        let delay = self.rexmit_first_delay();
                        self.nodes[i].seq.missing.insert(s, now.mono + delay);
                    }
                    self.nodes[i].seq.last = Some(seq);
                    self.notify(Event::LostPackets {
                        node,
                        count,
                        last,
                        seq,
                    });
                }
                true
            }
            // Below the newest number: a packet we asked for, or, before any
            // status of the node, a status that a later packet overtook
            // (tracking starts at the first packet heard, whatever its
            // type). Each status has its own number, so that one was never
            // seen: it is news of a live node, not a duplicate.
            Some(_) => {
                n.seq.missing.remove(&seq).is_some()
                    || (is_status && n.seq.last_status_seq.is_none())
            }
        };
        if !accepted {
            self.notify(Event::Dropped(DropReason::Duplicate));
            return false;
        }
        let n = &mut self.nodes[i];
        if is_status {
            n.seq.last_status_seq = Some(n.seq.last_status_seq.map_or(seq, |s| s.max(seq)));
        }
        let no_gap_below = n.seq.missing.range(..seq).next().is_none();
        if seq % 10 == n.ack_trigger && no_gap_below {
            let dest = n.name.clone();
            let mut ack = Message::with_type("NS_ackmsg");
            ack.push_str("dest", &dest);
            ack.push_str("ackseq", format!("{seq:x}"));
            self.send(now, ack);
        }
        true
    }

    /// First request for a missing packet: after a random delay in
    /// [50, max_rexmit_delay] ms ([0, max] when max < 100), spec §4.5.
    fn rexmit_first_delay(&mut self) -> Duration {
        let max = u64::try_from(self.cfg.max_rexmit_delay.as_millis()).unwrap_or(u64::MAX);
        let lo = if max < 100 { 0 } else { 50 };
        Duration::from_millis(self.rng.range(lo, max))
    }

    fn request_rexmits(&mut self, now: Now, i: usize) {
        if !matches!(self.nodes[i].status, NodeStatus::Up | NodeStatus::Active) {
            return;
        }
        let due: Vec<u64> = self.nodes[i]
            .seq
            .missing
            .iter()
            .filter(|(_, t)| now.mono >= **t)
            .map(|(s, _)| *s)
            .collect();
        for seq in due {
            let next = now.mono + self.cfg.max_rexmit_delay;
            self.nodes[i].seq.missing.insert(seq, next);
            let mut m = Message::with_type("NS_rexmit");
            m.push_str("dest", self.nodes[i].name.clone());
            m.push_str("firstseq", seq.to_string());
            m.push_str("lastseq", seq.to_string());
            self.send(now, m);
        }
    }

    fn on_rexmit_request(&mut self, now: Now, i: usize, msg: &Message) {
        let parse = |f: &str| msg.get_str(f).and_then(|v| v.parse::<u64>().ok());
        let (Some(first), Some(last)) = (parse("firstseq"), parse("lastseq")) else {
            return self.notify(Event::Dropped(DropReason::Malformed));
        };
        let requester = self.nodes[i].name.clone();
        let acked = self.nodes[i].acked;
        let highest = self.next_seq - 1;
        let lowest = self.history.front().map_or(self.next_seq, |s| s.seq);
        let min_gap = self
            .cfg
            .max_rexmit_delay
            .saturating_sub(Duration::from_millis(10));
        for seq in first..=last.min(first.saturating_add(MAX_REXMIT_PER_REQUEST - 1)) {
            if seq <= acked {
                continue;
            }
            if seq > highest {
                self.notify(Event::RexmitTooHigh { seq, max: highest });
                continue;
            }
            if seq < lowest {
                self.nak(now, &requester, seq, "seqno too low");
                continue;
            }
            match self.history.iter_mut().find(|s| s.seq == seq) {
                Some(sent) => {
                    if sent.last_resent.is_some_and(|t| now.mono < t + min_gap) {
                        continue;
                    }
                    sent.last_resent = Some(now.mono);
                    let again = sent.msg.clone();
                    self.out.push_back(Command::Send(again));
                }
                None => self.nak(now, &requester, seq, "seqno not found"),
            }
        }
    }

    fn nak(&mut self, now: Now, dest: &str, seq: u64, why: &str) {
        let mut m = Message::with_type("NS_nak_rexmit");
        m.push_str("firstseq", format!("{seq:x}"));
        m.push_str("dest", dest);
        m.push_str("info", why);
        self.send(now, m);
    }

    fn on_status(&mut self, now: Now, i: usize, msg: &Message) {
        let text = msg.get_str("st").unwrap_or_default().to_owned();
        let name = self.nodes[i].name.clone();
        if let Some(prev) = self.nodes[i].last_status {
            let interval = now.mono.since(prev);
            let was_dead = self.nodes[i].status == NodeStatus::Dead;
            if interval > self.cfg.warntime && !was_dead {
                let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
                self.notify(Event::LateHeartbeat {
                    node: name.clone(),
                    interval_ms,
                    beyond_deadtime: interval > self.cfg.deadtime,
                });
            }
        }
        let n = &mut self.nodes[i];
        n.last_status = Some(now.mono);
        if let Some(dt) = msg.get_hex("dt").filter(|d| *d > 0) {
            n.dead_limit = Some(Duration::from_millis(dt));
        }
        if text.len() < 2 || text.len() > 31 {
            return;
        }
        let status = NodeStatus::parse(&text).unwrap_or(NodeStatus::Up);
        if n.status_text != text || n.status == NodeStatus::Dead {
            n.status_text = text.clone();
            n.status = status;
            self.notify(Event::StatusUpdate {
                node: name,
                status: text,
            });
        }
    }

    /// Our status heartbeat (spec §3): `st`, `dt` (hex ms, plus the start-up
    /// margin in the first seconds), `protocol=1`.
    fn send_status(&mut self, now: Now) {
        let mut dt = self.cfg.deadtime;
        if now.mono < self.started + STARTUP_WINDOW {
            dt += STARTUP_EXTRA_DEADTIME;
        }
        let mut m = Message::with_type("status");
        m.push_str("st", self.local.as_str());
        m.push_str("dt", format!("{:x}", dt.as_millis()));
        m.push_str("protocol", "1");
        self.send(now, m);
    }

    /// Adds the standard fields (spec §1.4) and queues the message.
    fn send(&mut self, now: Now, mut m: Message) {
        let t = m.get_str("t").unwrap_or_default().to_owned();
        let sequenced = !t.starts_with("NS_");
        if let Some(dest) = m.get_str("dest").map(str::to_owned) {
            if let Some(uuid) = self.node(&dest).and_then(|n| n.uuid.clone()) {
                if m.get("destuuid").is_none() {
                    m.push("destuuid", Value::Bin(uuid));
                }
            }
        }
        m.set_str("src", &self.cfg.me);
        m.set("srcuuid", Value::Bin(self.cfg.uuid.to_vec()));
        let seq = self.next_seq;
        if sequenced {
            m.set_str("seq", format!("{seq:x}"));
            self.next_seq += 1;
        }
        m.set_str("hg", format!("{:x}", self.cfg.generation));
        m.set_str("ts", format!("{:x}", now.wall_secs));
        if sequenced {
            m.set_str("ld", &self.load);
        }
        let ttl = usize::from(self.cfg.hopfudge) + self.nodes.len() + self.pings.len();
        m.set_str("ttl", ttl.to_string());
        if sequenced {
            if self.history.len() >= MAX_HISTORY {
                self.history.pop_front();
            }
            self.history.push_back(Sent {
                seq,
                msg: m.clone(),
                last_resent: None,
            });
        }
        self.out.push_back(Command::Send(m));
    }
}
