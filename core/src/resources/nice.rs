//! Who holds which resource groups in a two-node cluster with `auto_failback on`
//! or `off` (heartbeat's "nice_failback", spec §8.3-§8.5), spoken on the wire as
//! 3.0.6 speaks it: `starting`, `resource rsc_hold=… rtype=full isstable=…`,
//! `ask_resources rsc_hold=… info=me|other|done`, `hb_takeover`, `stonith`.
//!
//! Groups are seen as two sets: *local* (haresources lines naming us) and
//! *foreign* (the others). The machine says which set to acquire or release; the
//! caller runs the groups and reports back with [`NiceFailback::done`].
//!
//! Like 3.0.6, every message we send is also handled by ourselves at once
//! ("loopback"): several transitions happen on our own messages.
//!
//! ```text
//! comm up ─> starting ─> STARTING ─(peer resource)─> RSCRCVD ─(peer stable | 10 s)─> STABLE
//!               └─(peer starting)─> BOTHSTARTING ─(peer resource)─┘
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use super::moves::MoveReason;
use crate::membership::Level;
use crate::time::{Instant, Now};
use crate::wire::Message;

/// How long a node waits in RSCRCVD for the peer's stable report (RQSTDELAY).
pub const REQUEST_DELAY: Duration = Duration::from_secs(10);
/// How long a standby request waits for the peer's answer.
pub const STANDBY_REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a node that agreed to take groups in a standby waits for the
/// requester to start releasing them (the requester waits
/// [`STANDBY_REPLY_TIMEOUT`] for the agreement, then gives up).
pub const STANDBY_START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a running standby may take before it is abandoned.
pub const STANDBY_LIMIT: Duration = Duration::from_secs(3600);
/// After groups failed to start here, how long before they are offered to the
/// peer (3.0.6's ResourceManager runs `hb_standby` 30 s after a failed takegroup):
/// long enough that a group failing on both nodes moves at most twice a minute.
pub const HANDOVER_DELAY: Duration = Duration::from_secs(30);
/// Retry interval of a delayed auto-failback.
pub const FAILBACK_RETRY: Duration = Duration::from_secs(1);

/// A set of groups: `none`, `local`, `foreign`, `all` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hold(u8);

impl Hold {
    /// Nothing.
    pub const NONE: Hold = Hold(0);
    /// The groups whose preferred node is us.
    pub const LOCAL: Hold = Hold(1);
    /// The other groups.
    pub const FOREIGN: Hold = Hold(2);
    /// Everything.
    pub const ALL: Hold = Hold(3);

    /// The wire word.
    pub fn as_str(self) -> &'static str {
        ["none", "local", "foreign", "all"][usize::from(self.0 & 3)]
    }

    /// Parses a wire word; anything else is `none`, as 3.0.6 decodes it.
    pub fn parse(s: &str) -> Hold {
        match s {
            "local" => Hold::LOCAL,
            "foreign" => Hold::FOREIGN,
            "all" => Hold::ALL,
            _ => Hold::NONE,
        }
    }

    /// Whether every group of `other` is in this set.
    pub fn has(self, other: Hold) -> bool {
        other.0 != 0 && self.0 & other.0 == other.0
    }

    /// Union.
    pub fn with(self, other: Hold) -> Hold {
        Hold(self.0 | other.0)
    }

    /// Difference.
    pub fn without(self, other: Hold) -> Hold {
        Hold(self.0 & !other.0)
    }

    /// Intersection.
    pub fn and(self, other: Hold) -> Hold {
        Hold(self.0 & other.0)
    }

    /// Local and foreign swapped: what the peer calls this set.
    pub fn mirror(self) -> Hold {
        Hold(((self.0 & 1) << 1) | ((self.0 & 2) >> 1))
    }

    /// True for the empty set.
    pub fn is_none(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The local resource state (3.0.6's `resourcestate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Before communication is up.
    Init,
    /// We announced `starting` and wait for the peer's report.
    Starting,
    /// Both nodes announced `starting`.
    BothStarting,
    /// The peer reported; we wait for it to be stable (or 10 s).
    RscRcvd,
    /// Settled.
    Stable,
    /// Leaving.
    Shutdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standby {
    Not,
    /// We asked to give up `rsctype`.
    Me,
    /// The peer asked; we will take the mirror of `rsctype`.
    Other,
    Done,
}

/// What the machine asks of the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this message to the cluster (standard fields are added by the sender).
    Send(Message),
    /// Acquire these groups, then call [`NiceFailback::done`].
    Acquire(Hold),
    /// Release these groups (right to left within each group), then call [`NiceFailback::done`].
    Release(Hold),
    /// Log this, with heartbeat's words.
    Log(Level, String),
    /// Every group is released: send the shutdown notice and leave.
    ShutdownReady,
    /// The graceful stop could not release every group: we stay and keep them.
    ShutdownFailed,
    /// Announce the service addresses of these held groups again (gratuitous
    /// ARP): the other node held them too and clients may point at it.
    Reannounce(Hold),
}

/// What a finished acquisition or release was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    /// Taking our own groups at start-up or after a death.
    TakeLocal,
    /// Taking over a dead or leaving peer's groups.
    MachDown,
    /// Standby: giving up `Hold` (we asked).
    GiveUp(Hold),
    /// Standby: taking `Hold` (the peer asked).
    TakeOver(Hold),
    /// Graceful shutdown: releasing everything; what we held before.
    ShutdownRelease(Hold),
    /// After a partition: releasing the peer's groups, which it holds too.
    Yield(Hold),
}

/// A standby our side ended before the peer's `done` came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LateDone {
    /// We were to take this set (peer's terms) and cancelled: the peer's `done`
    /// says it released the set, so we take it after all.
    Take(Hold),
    /// We gave the set away and saw the peer hold it: its `done` is old news.
    Ignore,
}

/// How long a node that saw the peer return after a partition waits for the
/// peer's own `info=partition` report before it assumes a 3.0.6 peer (which
/// answers nothing: it gives up everything and restarts 2 s after the heal).
pub const PARTITION_REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// Resolving a healed partition (both nodes may hold the same groups).
#[derive(Debug, Clone, Copy, Default)]
struct Heal {
    /// Waiting for the peer's partition report until then.
    reply_by: Option<Instant>,
    /// The double holding already acted on.
    seen: Hold,
    /// Groups both held that we keep: announced again once the peer lets go.
    kept: Hold,
    /// Release the peer's groups we hold too, if they still are, at this time.
    give_at: Option<Instant>,
}

/// The two-node resource ownership protocol of one node.
#[derive(Debug)]
pub struct NiceFailback {
    auto_failback: bool,
    state: State,
    i_hold: Hold,
    other_holds: Hold,
    other_is_stable: bool,
    rsc_needs_failback: bool,
    standby: Standby,
    standby_rsctype: Hold,
    standby_deadline: Option<Instant>,
    local_takeover_at: Option<Instant>,
    failback_retry_at: Option<Instant>,
    /// Groups that failed to start here, and when to offer them to the peer.
    handover: Option<(Instant, Hold)>,
    shutting_down: bool,
    /// A healed partition is being resolved.
    heal: Option<Heal>,
    /// The standby acquisition we ran failed: the groups are not ours.
    take_failed: bool,
    /// Generation and sequence number of the peer's newest `resource` report: a
    /// report that arrives after a newer one (a late copy on a slower medium, a
    /// retransmission) describes the past and is ignored.
    last_report: Option<(u64, u64)>,
    /// We gave this set away in the running standby and wait for the peer's
    /// `done`.
    gave: Option<Hold>,
    /// What a peer's `done` means after our side of a standby ended early.
    late_done: Option<LateDone>,
    /// The peer's reports say it follows the partition rule (it is one of ours,
    /// not a 3.0.6 that restarts after a heal).
    peer_resolves: bool,
    /// We had a resource report from the peer since we started: we know what
    /// it held then, and whether it follows the partition rule.
    peer_reported: bool,
    /// Of what the peer reports to hold, the groups it is still starting (its
    /// `acquiring` field, peer's terms): they may yet fail to start there.
    peer_acquiring: Hold,
    /// While starting without the peer's report: when to announce `starting`
    /// again (the answer can be lost for good when it was sent just before the
    /// first packet we ever got from the peer, which no retransmission covers).
    starting_retry_at: Option<Instant>,
    /// Jobs the caller is running, in order.
    jobs: VecDeque<Job>,
    announced: bool,
    /// "Shutdown delayed" was logged for the pending stop.
    delay_logged: bool,
    /// Our node name, for log lines about our own requests.
    me: String,
    /// No haresources groups here ([`NiceFailback::without_groups`]): the
    /// machine answers what peers ask, and logs nothing but the two info
    /// lines 3.0.6 logs without groups too ([`NiceFailback::log_always`]).
    no_groups: bool,
    /// Why the groups move now: set where a move is decided, read by the
    /// status table ([`NiceFailback::move_reason`]); it decides nothing.
    cause: MoveReason,
    /// When `heartbeat takeover` asked the peer for groups: its standby
    /// request that follows is a takeover, not its own idea.
    takeover_asked: Option<Instant>,
    out: VecDeque<Action>,
}

fn resource_msg(hold: Hold, stable: bool, info: Option<&str>) -> Message {
    let mut m = Message::with_type("resource");
    m.push_str("rsc_hold", hold.as_str());
    m.push_str("rtype", "full");
    m.push_str("isstable", if stable { "1" } else { "0" });
    if let Some(info) = info {
        m.push_str("info", info);
    }
    // Ours, not 3.0.6's (which ignores it): this node answers a healed partition
    // with its own report instead of restarting.
    m.push_str("partition_rule", "1");
    m
}

fn standby_msg(hold: Hold, info: &str) -> Message {
    let mut m = Message::with_type("ask_resources");
    m.push_str("rsc_hold", hold.as_str());
    m.push_str("info", info);
    m
}

impl NiceFailback {
    /// A machine for a node; `auto_failback` is `on` (true) or `off` (false).
    pub fn new(auto_failback: bool) -> NiceFailback {
        NiceFailback {
            auto_failback,
            state: State::Init,
            i_hold: Hold::NONE,
            other_holds: Hold::NONE,
            other_is_stable: false,
            rsc_needs_failback: false,
            standby: Standby::Not,
            standby_rsctype: Hold::ALL,
            standby_deadline: None,
            local_takeover_at: None,
            failback_retry_at: None,
            handover: None,
            shutting_down: false,
            heal: None,
            take_failed: false,
            last_report: None,
            gave: None,
            late_done: None,
            peer_resolves: false,
            peer_reported: false,
            peer_acquiring: Hold::NONE,
            starting_retry_at: None,
            jobs: VecDeque::new(),
            announced: false,
            delay_logged: false,
            me: "we".to_owned(),
            no_groups: false,
            cause: MoveReason::Start,
            takeover_asked: None,
            out: VecDeque::new(),
        }
    }

    /// Names our node in log lines (3.0.6 logs `n1 wants to go standby [all]`).
    pub fn named(mut self, me: &str) -> NiceFailback {
        self.me = me.to_owned();
        self
    }

    /// The same machine for a node without haresources groups (a membership-only
    /// cluster, often of three or more nodes, where the two-node protocol hears
    /// several peers at once). It still answers what peers ask (a 3.0.6 peer
    /// waits for our `resource` report), but logs nothing: every line it would
    /// log is about resource groups that do not exist.
    pub fn without_groups(mut self) -> NiceFailback {
        self.no_groups = true;
        self
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// What we hold (or are acquiring).
    pub fn holding(&self) -> Hold {
        self.i_hold
    }

    /// What the peer last said it holds.
    pub fn peer_holds(&self) -> Hold {
        self.other_holds
    }

    /// Why the groups moved last, or move now (for the status table).
    pub fn move_reason(&self) -> MoveReason {
        self.cause
    }

    /// Names the reason of a move the caller decides (`heartbeat standby`, ipfail).
    pub fn set_move_reason(&mut self, reason: MoveReason) {
        self.cause = reason;
    }

    /// `heartbeat takeover` sent the peer a `hb_takeover` at `now`.
    pub fn asked_takeover(&mut self, now: Now) {
        self.takeover_asked = Some(now.mono);
    }

    /// `cl_status rscstatus`: `transition` while unsettled, else what we hold.
    pub fn rscstatus(&self) -> &'static str {
        if self.is_stable() {
            self.i_hold.as_str()
        } else {
            "transition"
        }
    }

    /// The next action, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.pop_front()
    }

    /// When [`NiceFailback::handle_timeout`] must next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let rsc = (self.state == State::RscRcvd)
            .then_some(self.local_takeover_at)
            .flatten();
        let handover = self.handover.map(|(t, _)| t);
        let heal = self
            .heal
            .and_then(|h| [h.reply_by, h.give_at].into_iter().flatten().min());
        let starting = matches!(self.state, State::Starting | State::BothStarting)
            .then_some(self.starting_retry_at)
            .flatten();
        [
            rsc,
            self.standby_deadline,
            self.failback_retry_at,
            handover,
            heal,
            starting,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// An info line 3.0.6 logs whether or not there are groups (operators and
    /// scripts wait for it), so it is logged even by a node without groups.
    fn log_always(&mut self, text: impl Into<String>) {
        self.out.push_back(Action::Log(Level::Info, text.into()));
    }

    fn log(&mut self, level: Level, text: impl Into<String>) {
        if self.no_groups {
            return;
        }
        self.out.push_back(Action::Log(level, text.into()));
    }

    /// Sends a message: it goes out, and we handle it ourselves at once.
    fn send(&mut self, now: Now, m: Message) {
        self.out.push_back(Action::Send(m.clone()));
        self.handle(now, true, &m);
    }

    fn send_resources(&mut self, now: Now, stable: bool, info: Option<&str>) {
        let m = self.report(stable, info);
        self.send(now, m);
    }

    /// Our resource report: what we hold, and (ours, not 3.0.6's, which
    /// ignores it) which of it we are still starting. `rsc_hold` counts a group
    /// from the moment we decide to acquire it, so that the peer does not take
    /// it too; a healed partition must not give a group up to a node whose
    /// start of it may still fail.
    fn report(&self, stable: bool, info: Option<&str>) -> Message {
        let mut m = resource_msg(self.i_hold, stable, info);
        let acquiring = self.jobs.iter().fold(Hold::NONE, |set, job| match job {
            Job::TakeLocal => set.with(Hold::LOCAL),
            Job::MachDown => set.with(Hold::FOREIGN),
            Job::TakeOver(h) => set.with(*h),
            _ => set,
        });
        if !acquiring.is_none() {
            m.push_str("acquiring", acquiring.as_str());
        }
        m
    }

    fn announce(&mut self, why: &str) {
        if !self.announced {
            self.announced = true;
            self.log_always(format!("Initial resource acquisition complete ({why})"));
        }
    }

    fn start_job(&mut self, job: Job) {
        let action = match job {
            Job::TakeLocal => Action::Acquire(Hold::LOCAL),
            Job::MachDown => Action::Acquire(Hold::FOREIGN),
            Job::TakeOver(h) => Action::Acquire(h),
            Job::GiveUp(h) | Job::Yield(h) => Action::Release(h),
            Job::ShutdownRelease(_) => Action::Release(Hold::ALL),
        };
        self.jobs.push_back(job);
        self.out.push_back(action);
    }

    /// Communication came up (spec §7): announce `starting`. If the peer was
    /// declared dead first, [`NiceFailback::peer_dead`] already started the
    /// takeover and there is nobody to announce to.
    pub fn comm_up(&mut self, now: Now) {
        if self.state != State::Init {
            return;
        }
        self.cause = MoveReason::Start;
        self.send(now, Message::with_type("starting"));
        self.state = State::Starting;
        self.starting_retry_at = Some(now.mono + REQUEST_DELAY);
    }

    /// Communication came up in a cluster of one node: there is nobody to ask,
    /// every group is ours; take them and be settled.
    pub fn alone(&mut self) {
        if self.state != State::Init {
            return;
        }
        self.state = State::Stable;
        self.other_is_stable = true;
        self.cause = MoveReason::Start;
        self.announce("no other node");
        self.req_our_resources(true);
    }

    /// Our own groups, unless the peer holds them or we already do (`req_our_resources`).
    fn req_our_resources(&mut self, force: bool) {
        if self.shutting_down {
            return;
        }
        if !force
            && (self.other_holds.has(Hold::FOREIGN) || self.i_hold.has(Hold::LOCAL))
            && self.standby == Standby::Not
        {
            self.log(Level::Info, "Local Resource acquisition completed. (none)");
            return;
        }
        if self.i_hold.has(Hold::LOCAL) {
            return;
        }
        self.i_hold = self.i_hold.with(Hold::LOCAL);
        self.start_job(Job::TakeLocal);
    }

    /// A resource-protocol message arrived (or we sent one: `from_us`). Other
    /// message types are ignored.
    pub fn handle(&mut self, now: Now, from_us: bool, msg: &Message) {
        // Like 3.0.6, the resource protocol listens only from comm-up on.
        if self.state == State::Init {
            return;
        }
        match msg.get_str("t") {
            Some("starting") if !from_us => self.on_starting(now),
            Some("resource") => self.on_resource(now, from_us, msg),
            Some("ask_resources") => self.on_ask_resources(now, from_us, msg),
            Some("hb_takeover") if !from_us => {
                // The peer wants our groups: we go standby for the mirror of its set.
                let set = Hold::parse(msg.get_str("rsc_hold").unwrap_or("all"));
                let set = if set.is_none() { Hold::ALL } else { set };
                self.log(
                    Level::Info,
                    format!(
                        "The other node asks for our {} resource groups (hb_takeover).",
                        set.mirror()
                    ),
                );
                self.cause = MoveReason::PeerTakeover;
                self.standby(now, set.mirror());
            }
            _ => {}
        }
        let _ = self.standby_expiry(now);
        // Only a report tells what the peer holds now.
        if !from_us && msg.get_str("t") == Some("resource") && msg.get_str("isstable") == Some("1")
        {
            self.take_orphans();
        }
    }

    fn on_starting(&mut self, now: Now) {
        if self.heal.take().is_some() {
            // The peer restarted after the partition (as 3.0.6 does): it let go
            // of everything, and clients may still point at it.
            self.reannounce(self.i_hold, "the other node restarted after the partition");
        }
        let old = self.state;
        match old {
            State::Starting => {
                self.state = State::BothStarting;
                self.announce("HB_R_BOTHSTARTING");
            }
            State::RscRcvd | State::Stable | State::Shutdown => {}
            State::Init | State::BothStarting => {
                let s = old as u8;
                self.log(
                    Level::Error,
                    format!("Received 'starting' message in state {s}"),
                );
                return;
            }
        }
        self.other_is_stable = false;
        let m = self.report(old == State::Stable, None);
        self.out.push_back(Action::Send(m));
        if old == State::Starting {
            // 3.0.6's own reply, looped back, arms the request delay.
            self.local_takeover_at
                .get_or_insert(now.mono + REQUEST_DELAY);
        }
    }

    fn on_resource(&mut self, now: Now, from_us: bool, msg: &Message) {
        let Some(hold) = msg.get_str("rsc_hold").map(Hold::parse) else {
            self.log(Level::Error, "resource message without rsc_hold field.");
            return;
        };
        let full = msg.get_str("rtype") == Some("full");
        if !from_us {
            if msg.get_str("partition_rule").is_some() {
                self.peer_resolves = true;
            }
            let stamp = (
                msg.get_hex("hg").unwrap_or(0),
                msg.get_hex("seq").unwrap_or(0),
            );
            if stamp.1 != 0 {
                if self.last_report.is_some_and(|last| stamp <= last) {
                    self.log(
                        Level::Debug,
                        format!("ignoring an out-of-date resource report (seq {})", stamp.1),
                    );
                    return;
                }
                self.last_report = Some(stamp);
            }
            self.peer_reported = true;
        }
        let mut newstate = self.state;
        let both_starting = self.state == State::BothStarting;
        match self.state {
            State::Starting | State::BothStarting => {
                newstate = State::RscRcvd;
                if !self.auto_failback && !from_us {
                    self.announce("T_RESOURCES");
                }
            }
            State::Init => {
                self.log(Level::Error, "resource message received in state 0");
                return;
            }
            _ => {}
        }
        if from_us {
            self.i_hold = if full {
                hold
            } else if hold.is_none() {
                Hold::NONE
            } else {
                self.i_hold.with(hold)
            };
            if self.i_hold.has(Hold::LOCAL) {
                self.announce("T_RESOURCES(us)");
            }
            match msg.get_str("info") {
                Some("mach_down") => {
                    self.log(Level::Info, "mach_down takeover complete.");
                    self.i_hold = self.i_hold.with(Hold::FOREIGN);
                    self.rsc_needs_failback = true;
                    self.other_is_stable = true;
                    self.announce("mach_down");
                }
                Some("shutdown") => newstate = State::Shutdown,
                _ => {}
            }
        } else {
            self.other_holds = if full {
                hold
            } else if hold.is_none() {
                Hold::NONE
            } else {
                self.other_holds.with(hold)
            };
            // A full report lists what the peer still starts; a partial one
            // (`mach_down`) reports a finished acquisition.
            self.peer_acquiring = if full {
                Hold::parse(msg.get_str("acquiring").unwrap_or_default())
            } else {
                self.peer_acquiring.without(hold)
            };
            if msg.get_str("info") == Some("standby") && self.standby == Standby::Other {
                // The requester releases: the standby may take its time now.
                self.standby_deadline = Some(now.mono + STANDBY_LIMIT);
            }
            if msg.get_str("info") == Some("standby_failed") && self.standby == Standby::Other {
                self.log(
                    Level::Warn,
                    "The other node could not release its resources: standby cancelled.",
                );
                self.standby = Standby::Not;
                self.standby_deadline = None;
            }
            if let Some(set) = self.gave.filter(|_| self.standby == Standby::Done) {
                if msg.get_str("isstable") == Some("1") && self.other_holds.has(set.mirror()) {
                    // The peer holds what we gave and is settled: its `done` was
                    // lost with a partition or a restart; the standby is over.
                    self.log(
                        Level::Info,
                        format!("Other node holds our {set} resources: standby completed."),
                    );
                    self.standby = Standby::Not;
                    self.standby_deadline = None;
                    self.gave = None;
                    self.late_done = Some(LateDone::Ignore);
                }
            }
            match msg.get_str("isstable") {
                Some("1") if !self.other_is_stable => {
                    self.log_always("remote resource transition completed.");
                    self.other_is_stable = true;
                    let stable = self.state == State::Stable;
                    let m = self.report(stable, None);
                    self.out.push_back(Action::Send(m));
                    self.perform_auto_failback(now);
                }
                Some("1") | None => {}
                Some(_) => self.other_is_stable = false,
            }
            if !matches!(newstate, State::Stable | State::Shutdown) && self.other_is_stable {
                self.req_our_resources(false);
                newstate = State::Stable;
                self.state = State::Stable;
                let m = self.report(true, None);
                self.out.push_back(Action::Send(m));
                self.perform_auto_failback(now);
                self.announce("T_RESOURCES(them)");
            }
            if both_starting
                && newstate == State::RscRcvd
                && !self.other_is_stable
                && !self.other_holds.has(Hold::FOREIGN)
                && !self.i_hold.has(Hold::LOCAL)
            {
                // Both nodes announced `starting`, and the peer's answer says it
                // holds none of our groups. It can only get them by our death or our
                // standby, so nobody else will take them: take them now, not after the
                // 10 s request delay 3.0.6 waits here. The peer takes its own at the
                // same time; the sets do not overlap. (A peer that is leaving or in a
                // standby has not announced `starting`: it is not asked.)
                self.log(
                    Level::Info,
                    "The other node holds none of our resource groups: acquiring them now.",
                );
                self.req_our_resources(false);
            }
            self.state = newstate;
            let peer_settled = msg.get_str("isstable") == Some("1");
            self.partition_report(now, msg.get_str("info"), peer_settled);
        }
        self.state = newstate;
        if self.state == State::RscRcvd && self.local_takeover_at.is_none() {
            self.local_takeover_at = Some(now.mono + REQUEST_DELAY);
        }
    }

    /// Time passed: the 10 s request delay, standby expiry, failback retries.
    pub fn handle_timeout(&mut self, now: Now) {
        if matches!(self.state, State::Starting | State::BothStarting)
            && self.starting_retry_at.is_some_and(|t| now.mono >= t)
        {
            self.starting_retry_at = Some(now.mono + REQUEST_DELAY);
            self.log(
                Level::Info,
                "No resource report from the other node yet: announcing 'starting' again.",
            );
            self.out
                .push_back(Action::Send(Message::with_type("starting")));
        }
        if self.state == State::RscRcvd && self.local_takeover_at.is_some_and(|t| now.mono >= t) {
            self.state = State::Stable;
            self.req_our_resources(false);
            self.log(Level::Info, "local resource transition completed.");
            self.send_resources(now, true, None);
        }
        if let Some((t, set)) = self.handover {
            let busy = self.standby != Standby::Not
                || self.standby_deadline.is_some()
                || self.state != State::Stable
                || !self.jobs.is_empty()
                || self.giving();
            if now.mono >= t && self.shutting_down {
                // Leaving: nobody to offer them to from here.
                self.handover = None;
            } else if now.mono >= t && busy {
                // A standby would be ignored now: offer them once things settle.
                self.handover = Some((now.mono + FAILBACK_RETRY, set));
            } else if now.mono >= t {
                self.handover = None;
                self.log(
                    Level::Warn,
                    format!("offering the {set} groups that failed here to the other node"),
                );
                self.cause = MoveReason::StartFailed;
                self.standby(now, set);
            }
        }
        if self.failback_retry_at.is_some_and(|t| now.mono >= t) {
            self.failback_retry_at = None;
            self.perform_auto_failback(now);
        }
        if let Some(h) = self.heal.as_mut() {
            if h.reply_by.is_some_and(|t| now.mono >= t) && self.peer_resolves {
                // One of ours that cannot hear us yet (a one-sided heal): it
                // reports when it does; assume nothing meanwhile.
                h.reply_by = None;
                self.log(
                    Level::Info,
                    "No partition report from the other node yet: it reports once it hears us.",
                );
            } else if h.reply_by.is_some_and(|t| now.mono >= t) && !self.peer_reported {
                // Not a word from the peer since we started (we came up on our
                // side of the partition): it may be one of ours that cannot
                // hear us yet, and may hold nothing (its starts failed).
                // Releasing its groups could leave them on no node; keep
                // everything until it speaks (a 3.0.6 peer restarts and
                // announces `starting`).
                h.reply_by = None;
                self.log(
                    Level::Warn,
                    "No partition report from the other node, and no word of what it holds: keeping every group here until it reports.",
                );
            } else if h.reply_by.is_some_and(|t| now.mono >= t) {
                h.reply_by = None;
                h.kept = h.kept.with(self.i_hold.and(Hold::LOCAL));
                let kept = h.kept;
                self.log(
                    Level::Warn,
                    "No partition report from the other node (heartbeat 3.0.6 gives up everything and restarts): releasing its groups, keeping ours.",
                );
                // What a peer that ran our rule would hold: its own groups.
                self.other_holds = Hold::LOCAL;
                self.peer_acquiring = Hold::NONE;
                self.reannounce(kept, "the other node held them during the partition");
                self.resolve_double_holding(now);
            }
        }
        if self
            .heal
            .is_some_and(|h| h.give_at.is_some_and(|t| now.mono >= t))
        {
            self.give_doubly_held();
        }
        if self.standby_expiry(now) {
            self.take_orphans();
        }
    }

    /// The peer was declared dead but speaks again with the same generation: a
    /// partition healed, and both nodes may hold the same groups. Both sides tell
    /// each other what they hold (`resource … info=partition`); each then releases
    /// the doubly held groups whose preferred node is the other one, so every
    /// group stays with exactly one node, its preferred one. A 3.0.6 peer does not
    /// answer (it gives up everything and restarts): after
    /// [`PARTITION_REPLY_TIMEOUT`] we act as if it held its own groups.
    pub fn peer_returned(&mut self, now: Now, peer: &str) {
        if self.shutting_down || self.state == State::Init {
            return;
        }
        self.log(
            Level::Info,
            format!("{peer} is back after a partition: comparing resource holdings."),
        );
        self.cause = MoveReason::PartitionHeal;
        let h = self.heal.get_or_insert_with(Heal::default);
        h.reply_by = Some(now.mono + PARTITION_REPLY_TIMEOUT);
        self.send_partition_report("partition");
    }

    /// A peer's resource report, as far as partitions go.
    fn partition_report(&mut self, now: Now, info: Option<&str>, peer_settled: bool) {
        let partition = matches!(info, Some("partition" | "partition-ack" | "mach_down"));
        if partition && peer_settled && matches!(self.standby, Standby::Other | Standby::Done) {
            // A standby that spans a partition never completes: the peer
            // cancelled its side when it declared us dead (or its request
            // expired there), and it has settled since. Waiting for its request
            // to be carried out, or for its `done` after our release, would
            // hold a graceful stop and refuse the peer's later offers for an
            // hour. (A standby we asked for and are still releasing for goes
            // on: the peer waits for our `done`.)
            self.cancel_standby();
        }
        match info {
            Some(info @ ("partition" | "partition-ack")) => {
                let h = self.heal.get_or_insert_with(Heal::default);
                h.reply_by = None;
                self.resolve_double_holding(now);
                if info == "partition" {
                    self.send_partition_report("partition-ack");
                }
            }
            // The peer took over our groups while we were alive: it declared us
            // dead (a one-sided partition). Tell it what we hold.
            Some("mach_down") if !self.shutting_down => {
                self.heal.get_or_insert(Heal {
                    reply_by: Some(now.mono + PARTITION_REPLY_TIMEOUT),
                    ..Heal::default()
                });
                self.resolve_double_holding(now);
                self.send_partition_report("partition");
            }
            _ => {
                let both = self.i_hold.and(self.other_holds.mirror());
                let settled = self.jobs.is_empty()
                    && self.standby == Standby::Not
                    && self.standby_deadline.is_none()
                    && self.state == State::Stable;
                if self.heal.is_none() && peer_settled && settled && !both.is_none() {
                    // Outside a partition, two settled nodes never hold the same
                    // group (every move releases before it acquires), but a
                    // standby cancelled on one side while the other carried it
                    // out can leave them so. Settle it as after a partition.
                    self.log(
                        Level::Crit,
                        format!(
                            "Both nodes hold the {both} resource groups while both are settled."
                        ),
                    );
                    self.heal = Some(Heal::default());
                }
                self.resolve_double_holding(now);
            }
        }
    }

    fn send_partition_report(&mut self, info: &str) {
        let stable = self.jobs.is_empty() && !self.giving() && self.state == State::Stable;
        let m = self.report(stable, Some(info));
        self.out.push_back(Action::Send(m));
    }

    fn reannounce(&mut self, set: Hold, why: &str) {
        if !set.is_none() {
            self.log(
                Level::Info,
                format!("Announcing the {set} resource groups again: {why}."),
            );
            self.out.push_back(Action::Reannounce(set));
        }
    }

    /// While a partition heals: release the groups both nodes hold whose
    /// preferred node is the peer; keep (and announce again) those whose
    /// preferred node is us. Once the peer's reports no longer overlap ours, the
    /// partition is resolved.
    ///
    /// A release is decided here but carried out by
    /// [`NiceFailback::handle_timeout`] at once (the same instant), after the
    /// messages that arrived together with this report: reports held up by a
    /// gap arrive in a burst, and the newest one may say that the peer has
    /// released the group since (a graceful stop, a failed start).
    fn resolve_double_holding(&mut self, now: Now) {
        let Some(mut h) = self.heal else {
            return;
        };
        let both = self.i_hold.and(self.other_holds.mirror());
        if both.is_none() {
            if h.reply_by.is_none() {
                self.heal = None;
                let kept = h.kept.and(self.i_hold);
                self.reannounce(kept, "the other node no longer holds them");
            }
            return;
        }
        if !self.doubly_held_to_give().without(h.seen).is_none() {
            h.give_at.get_or_insert(now.mono);
        }
        let keep = both.and(Hold::LOCAL).without(h.seen);
        if keep.is_none() {
            self.heal = Some(h);
            return;
        }
        h.seen = h.seen.with(keep);
        h.kept = h.kept.with(keep);
        self.heal = Some(h);
        self.log(
            Level::Crit,
            format!("Both nodes hold the {keep} resource groups after a partition: each keeps the groups it is the preferred node of."),
        );
        self.reannounce(keep, "they are ours, and the other node releases them");
    }

    /// The groups both nodes hold whose preferred node is the peer, and which
    /// run there: not those the peer is still starting (its start may fail;
    /// its next report says).
    fn doubly_held_to_give(&self) -> Hold {
        self.i_hold
            .and(self.other_holds.mirror())
            .and(Hold::FOREIGN)
            .without(self.peer_acquiring.mirror())
    }

    /// A release decided by [`NiceFailback::resolve_double_holding`] waits
    /// to be carried out. It counts as a running job (as it was when it
    /// started at once): we are not settled, and no standby or failback may
    /// move the groups meanwhile.
    fn giving(&self) -> bool {
        self.heal.is_some_and(|h| h.give_at.is_some())
    }

    /// Carries out the release [`NiceFailback::resolve_double_holding`]
    /// decided, if the groups are still held on both nodes.
    fn give_doubly_held(&mut self) {
        let Some(mut h) = self.heal else {
            return;
        };
        h.give_at = None;
        let give = self.doubly_held_to_give().without(h.seen);
        h.seen = h.seen.with(give);
        self.heal = Some(h);
        if give.is_none() {
            return;
        }
        self.log(
            Level::Crit,
            format!("Both nodes hold the {give} resource groups after a partition: each keeps the groups it is the preferred node of."),
        );
        self.log(
            Level::Info,
            format!("Releasing the {give} resource groups to the other node."),
        );
        self.i_hold = self.i_hold.without(give);
        self.rsc_needs_failback = false;
        self.cause = MoveReason::PartitionHeal;
        self.start_job(Job::Yield(give));
    }

    /// Ends a standby whose time is up; true if it did.
    fn standby_expiry(&mut self, now: Now) -> bool {
        if self.standby_deadline.is_some_and(|t| now.mono >= t) {
            self.standby_deadline = None;
            self.other_is_stable = true;
            let waited_for_peer = self.standby == Standby::Other;
            self.standby = Standby::Not;
            self.gave = None;
            self.log(
                Level::Warn,
                if waited_for_peer {
                    "The other node's standby request did not go ahead.  Standby request cancelled."
                } else {
                    "No reply to standby request.  Standby request cancelled."
                },
            );
            return true;
        }
        false
    }

    fn perform_auto_failback(&mut self, now: Now) {
        if self.shutting_down
            || !self.i_hold.has(Hold::FOREIGN)
            || !self.rsc_needs_failback
            || !self.auto_failback
        {
            self.rsc_needs_failback = false;
            return;
        }
        if self.standby != Standby::Not
            || !self.other_is_stable
            || self.state != State::Stable
            || !self.jobs.is_empty()
            || self.giving()
        {
            self.log(Level::Debug, "Auto failback delayed.");
            self.failback_retry_at = Some(now.mono + FAILBACK_RETRY);
            return;
        }
        self.rsc_needs_failback = false;
        self.standby_rsctype = Hold::FOREIGN;
        self.log(
            Level::Info,
            "auto_failback on: giving the foreign resource groups back to their home node.",
        );
        self.cause = MoveReason::Failback;
        self.send(now, standby_msg(Hold::FOREIGN, "me"));
    }

    /// Our own groups held by nobody while both sides are settled (a handover
    /// that found no taker, a standby cut short by a restart): take them again
    /// here. The peer does the same for its own.
    fn take_orphans(&mut self) {
        let settled = self.state == State::Stable
            && self.other_is_stable
            && self.standby == Standby::Not
            && self.standby_deadline.is_none()
            && self.jobs.is_empty()
            && self.heal.is_none()
            && self.handover.is_none()
            && !self.shutting_down;
        if settled && !self.i_hold.has(Hold::LOCAL) && !self.other_holds.has(Hold::FOREIGN) {
            self.log(
                Level::Warn,
                "Nobody holds our resource groups: acquiring them.",
            );
            self.req_our_resources(true);
        }
    }

    /// `heartbeat standby [all|local|foreign]`: give up `set` to the peer.
    pub fn standby(&mut self, now: Now, set: Hold) {
        // What the peer already holds needs no handing over (and "taking" it
        // again would only disturb it there).
        let give = set.without(self.other_holds.mirror());
        if give.is_none() {
            self.log(
                Level::Info,
                format!("standby [{set}]: the other node already holds those resource groups."),
            );
            return;
        }
        self.standby_rsctype = set;
        self.send(now, standby_msg(set, "me"));
    }

    fn on_ask_resources(&mut self, now: Now, from_us: bool, msg: &Message) {
        if self.state == State::Shutdown {
            return;
        }
        let info = msg.get_str("info").unwrap_or_default();
        let set = msg.get_str("rsc_hold").map_or(Hold::ALL, Hold::parse);
        let who = match msg.get_str("src") {
            Some(src) => src.to_owned(),
            None if from_us => self.me.clone(),
            None => "peer".to_owned(),
        };
        if info == "me" && self.standby_deadline.is_some() {
            self.log(
                Level::Warn,
                format!("Standby in progress- new request from {who} ignored"),
            );
            return;
        }
        match (self.standby, info, from_us) {
            (Standby::Not, "me", _) => {
                self.late_done = None;
                if !self.other_is_stable && !from_us {
                    self.log(
                        Level::Warn,
                        format!("standby message [me] from {who} ignored.  Other side is in flux."),
                    );
                    return;
                }
                if self.state != State::Stable || self.giving() {
                    self.log(
                        Level::Warn,
                        format!(
                            "standby message [me] from {who} ignored.  local resources in flux."
                        ),
                    );
                    return;
                }
                self.other_is_stable = false;
                self.log(Level::Info, format!("{who} wants to go standby [{set}]"));
                if from_us {
                    self.standby = Standby::Me;
                    self.standby_rsctype = set;
                    self.standby_deadline = Some(now.mono + STANDBY_REPLY_TIMEOUT);
                } else {
                    self.cause = self.peer_standby_reason(now, set);
                    self.standby = Standby::Other;
                    self.standby_rsctype = set;
                    // Until the requester starts releasing (its `info=standby`
                    // report): our answer may never reach it.
                    self.standby_deadline = Some(now.mono + STANDBY_START_TIMEOUT);
                    self.out.push_back(Action::Send(standby_msg(set, "other")));
                }
            }
            (Standby::Me, "other", false) => {
                self.standby_deadline = Some(now.mono + STANDBY_LIMIT);
                self.log(
                    Level::Info,
                    format!("standby: {who} can take our {set} resources"),
                );
                // go_standby(ME): give up the set.
                self.i_hold = self.i_hold.without(set);
                let m = self.report(false, Some("standby"));
                self.out.push_back(Action::Send(m));
                self.log(
                    Level::Info,
                    format!("give up {set} HA resources (standby)."),
                );
                self.start_job(Job::GiveUp(set));
            }
            (Standby::Me, "done", true) => {
                self.log(
                    Level::Info,
                    format!("Local standby process completed [{set}]."),
                );
                self.standby = Standby::Done;
                self.gave = Some(set);
                self.i_hold = self.i_hold.without(set);
            }
            (Standby::Other, "done", false) => {
                self.log(
                    Level::Info,
                    format!("standby: acquire [{set}] resources from {who}"),
                );
                self.standby = Standby::Done;
                self.log(
                    Level::Info,
                    format!("acquire {} HA resources (standby).", set.mirror()),
                );
                self.start_job(Job::TakeOver(set.mirror()));
            }
            (Standby::Not, "done", false) if self.late_done.is_some() => {
                if let Some(LateDone::Take(set)) = self.late_done.take() {
                    if !self.shutting_down {
                        // Our side was cancelled (a partition report, a restart),
                        // but the peer went ahead and released the set: nobody
                        // holds it, so we take it and complete the exchange.
                        self.log(
                            Level::Warn,
                            format!("{who} released its {set} resources after our side of the standby ended: acquiring them."),
                        );
                        self.standby = Standby::Done;
                        self.standby_rsctype = set;
                        self.standby_deadline = Some(now.mono + STANDBY_LIMIT);
                        self.start_job(Job::TakeOver(set.mirror()));
                    }
                }
            }
            (Standby::Other, "other", true) => {}
            (Standby::Done, "done", _) => {
                self.standby_deadline = None;
                self.standby = Standby::Not;
                self.gave = None;
                if from_us {
                    self.log(
                        Level::Info,
                        format!("Standby resource acquisition done [{set}]."),
                    );
                    if self.auto_failback {
                        self.announce("auto_failback");
                    }
                    if !self.take_failed {
                        self.i_hold = self.i_hold.with(set.mirror());
                    }
                } else {
                    self.log(
                        Level::Info,
                        format!("Other node completed standby takeover of {set} resources."),
                    );
                }
                self.other_is_stable = true;
                self.send_resources(now, true, None);
            }
            (state, info, _) => {
                let n = state as u8;
                self.log(
                    Level::Error,
                    format!("Ignored standby message '{info}' from {who} in state {n}"),
                );
            }
        }
    }

    /// The peer died (or its deadtime expired after a shutdown notice). `heard`:
    /// we ever heard a packet from it.
    pub fn peer_dead(&mut self, now: Now, peer: &str, heard: bool) {
        self.cause = MoveReason::PeerDead;
        self.cancel_standby();
        self.heal = None;
        self.peer_acquiring = Hold::NONE;
        if self.shutting_down {
            return;
        }
        self.rsc_needs_failback = true;
        let need_stonith = !(heard && self.other_holds.is_none());
        let mut st = Message::with_type("stonith");
        st.push_str("node", peer);
        if need_stonith {
            st.push_str("result", "n_stnth");
            self.out.push_back(Action::Send(st));
            self.log(Level::Warn, "No STONITH device configured.");
            self.log(Level::Warn, "Shared disks are not protected.");
            self.takeover_from(now, peer);
        } else {
            self.log(Level::Info, format!("Dead node {peer} gave up resources."));
            st.push_str("result", "unneeded");
            self.out.push_back(Action::Send(st));
            // A dead node is in no transition: nothing of ours (a graceful
            // stop above all) may wait for it to settle.
            self.other_is_stable = true;
            if self.i_hold == Hold::ALL {
                return;
            }
            if !self.i_hold.has(Hold::FOREIGN) {
                self.takeover_from(now, peer);
            } else {
                self.req_our_resources(true);
            }
        }
    }

    fn cancel_standby(&mut self) {
        if self.standby != Standby::Not {
            self.log(Level::Info, "Cancelling pending standby operation");
            if self.standby == Standby::Other {
                self.late_done = Some(LateDone::Take(self.standby_rsctype));
            }
            self.standby = Standby::Not;
            self.standby_deadline = None;
            self.gave = None;
            if self.i_hold == Hold::ALL {
                self.other_is_stable = true;
            }
        }
    }

    /// The peer restarted (a higher generation) before we declared it dead:
    /// whatever resource exchange it was part of died with its old process, and
    /// what it held is gone (a restarted node releases everything it finds
    /// running before it joins). We take that over, as after a death.
    pub fn peer_restarted(&mut self, peer: &str) {
        self.cancel_standby();
        // What an earlier partition left to sort out is over: the peer starts
        // afresh, and a later double holding must be acted on anew.
        self.heal = None;
        let held = std::mem::replace(&mut self.other_holds, Hold::NONE);
        self.peer_acquiring = Hold::NONE;
        if held.is_none() || self.shutting_down || self.state == State::Init {
            return;
        }
        self.cause = MoveReason::PeerRestarted;
        self.log(
            Level::Warn,
            format!("{peer} restarted while holding the {held} resource groups: acquiring them."),
        );
        self.rsc_needs_failback = true;
        let take = held.mirror().without(self.i_hold);
        if take.has(Hold::FOREIGN) {
            self.i_hold = self.i_hold.with(Hold::FOREIGN);
            self.start_job(Job::MachDown);
        }
        if take.has(Hold::LOCAL) {
            self.req_our_resources(true);
        }
    }

    /// The peer announced a graceful shutdown (`shutdone`): take over at once.
    pub fn peer_shutdown(&mut self, now: Now, peer: &str) {
        // A standby with a peer that leaves cannot complete.
        self.cancel_standby();
        self.cause = MoveReason::PeerStopped;
        self.heal = None;
        self.other_is_stable = true;
        self.other_holds = Hold::NONE;
        self.peer_acquiring = Hold::NONE;
        if self.i_hold != Hold::ALL && !self.shutting_down {
            self.takeover_from(now, peer);
        }
    }

    fn takeover_from(&mut self, now: Now, peer: &str) {
        if self.shutting_down {
            self.log(
                Level::Info,
                "Resource takeover cancelled - shutdown in progress.",
            );
            return;
        }
        self.log(
            Level::Info,
            format!("Resources being acquired from {peer}."),
        );
        self.other_holds = Hold::NONE;
        self.other_is_stable = true;
        if !self.i_hold.has(Hold::FOREIGN) {
            self.i_hold = self.i_hold.with(Hold::FOREIGN);
            self.start_job(Job::MachDown);
        }
        if !self.i_hold.has(Hold::LOCAL) {
            self.req_our_resources(true);
        }
        if self.state == State::Init
            || self.state == State::Starting
            || self.state == State::BothStarting
        {
            self.state = State::RscRcvd;
            self.local_takeover_at
                .get_or_insert(now.mono + REQUEST_DELAY);
        }
    }

    /// Offers `set`, which failed to start here, to the other node after
    /// [`HANDOVER_DELAY`]. A set already waiting is kept: both are offered
    /// together, at the first one's time.
    fn hand_over_later(&mut self, now: Now, set: Hold) {
        self.handover = Some(match self.handover {
            Some((t, waiting)) => (t, waiting.with(set)),
            None => (now.mono + HANDOVER_DELAY, set),
        });
    }

    /// The caller finished the oldest outstanding acquisition or release.
    pub fn done(&mut self, now: Now, ok: bool) {
        let Some(job) = self.jobs.pop_front() else {
            return;
        };
        // A set that failed here earlier and now started: no need to offer it.
        let acquired = match job {
            Job::TakeLocal => Hold::LOCAL,
            Job::MachDown => Hold::FOREIGN,
            Job::TakeOver(set) => set,
            _ => Hold::NONE,
        };
        if ok {
            // What started now need not be offered any more.
            self.handover = self
                .handover
                .map(|(t, set)| (t, set.without(acquired)))
                .filter(|(_, set)| !set.is_none());
        }
        match job {
            Job::TakeLocal => {
                if !ok {
                    self.cause = MoveReason::StartFailed;
                    self.i_hold = self.i_hold.without(Hold::LOCAL);
                    self.hand_over_later(now, Hold::LOCAL);
                }
                self.log(Level::Info, "Local Resource acquisition completed.");
                if self.state == State::RscRcvd {
                    // Taken early: we are settled now, and say so.
                    self.state = State::Stable;
                    self.log(Level::Info, "local resource transition completed.");
                }
                let m = self.report(true, Some("req_our_resources()"));
                self.send(now, m);
            }
            Job::MachDown => {
                if !ok {
                    self.cause = MoveReason::StartFailed;
                    self.i_hold = self.i_hold.without(Hold::FOREIGN);
                    self.hand_over_later(now, Hold::FOREIGN);
                }
                if self.i_hold.has(Hold::FOREIGN) {
                    let mut m = Message::with_type("resource");
                    m.push_str("rsc_hold", "foreign");
                    m.push_str("info", "mach_down");
                    self.send(now, m);
                } else {
                    // It failed, or a healed partition gave the groups back meanwhile.
                    self.log(
                        Level::Info,
                        "mach_down takeover ended without the other node's groups.",
                    );
                }
                if self.state == State::Stable || self.state == State::RscRcvd {
                    self.send_resources(now, true, None);
                }
            }
            Job::GiveUp(set) if !ok => {
                // Something of the set still runs here: the peer must not take it.
                self.cause = MoveReason::ReleaseFailed;
                self.i_hold = self.i_hold.with(set);
                self.log(
                    Level::Crit,
                    format!("Standby failed: the {set} resource groups could not be released and stay here. Stop what still runs by hand, then run `heartbeat standby` again."),
                );
                self.standby = Standby::Not;
                self.standby_deadline = None;
                self.other_is_stable = true;
                let stable = self.state == State::Stable;
                let m = self.report(stable, Some("standby_failed"));
                self.send(now, m);
            }
            Job::GiveUp(set) => {
                self.log(
                    Level::Info,
                    format!("{set} HA resource release completed (standby)."),
                );
                if self.standby == Standby::Not {
                    // Cancelled meanwhile (the peer died or restarted): there is
                    // nobody to hand over to; a takeover of ours follows if needed.
                    self.send_resources(now, self.state == State::Stable, None);
                } else {
                    self.send(now, standby_msg(self.standby_rsctype, "done"));
                }
            }
            Job::TakeOver(set) => {
                if ok {
                    self.log(
                        Level::Info,
                        format!("{set} HA resource acquisition completed (standby)."),
                    );
                } else {
                    self.cause = MoveReason::StartFailed;
                    self.take_failed = true;
                    self.hand_over_later(now, set);
                    self.log(
                        Level::Error,
                        format!("{set} HA resource acquisition failed (standby)."),
                    );
                }
                if self.standby == Standby::Not {
                    // Cancelled meanwhile (the peer restarted or died): no `done`
                    // to exchange, but what we acquired is ours, and we say so.
                    if ok {
                        self.i_hold = self.i_hold.with(set);
                    }
                    self.send_resources(now, self.state == State::Stable, None);
                } else {
                    self.send(now, standby_msg(self.standby_rsctype, "done"));
                }
                self.take_failed = false;
            }
            Job::ShutdownRelease(held) => {
                if ok {
                    self.log(Level::Info, "All HA resources relinquished.");
                    self.out.push_back(Action::ShutdownReady);
                } else {
                    self.cause = MoveReason::ReleaseFailed;
                    self.shutting_down = false;
                    self.state = State::Stable;
                    self.delay_logged = false;
                    self.i_hold = held;
                    self.log(
                        Level::Crit,
                        "Shutdown cancelled: some resources could not be released and still run here. Stop them by hand, then stop heartbeat again.",
                    );
                    let m = self.report(true, Some("shutdown_failed"));
                    self.send(now, m);
                    self.out.push_back(Action::ShutdownFailed);
                }
            }
            Job::Yield(set) => {
                if ok {
                    self.log(
                        Level::Info,
                        format!("{set} HA resources released to the other node."),
                    );
                } else {
                    self.cause = MoveReason::ReleaseFailed;
                    self.i_hold = self.i_hold.with(set);
                    self.log(
                        Level::Crit,
                        format!("The {set} resource groups could not be released and the other node holds them too: both run them. Stop them here by hand."),
                    );
                }
                let stable = self.jobs.is_empty() && !self.giving() && self.state == State::Stable;
                self.send_resources(now, stable, None);
            }
        }
    }

    /// Why the peer asks to go standby for `set` (its terms): our own
    /// `heartbeat takeover` shortly before; with auto_failback on, giving back
    /// our own groups is its failback; otherwise its own standby.
    fn peer_standby_reason(&mut self, now: Now, set: Hold) -> MoveReason {
        let asked = self.takeover_asked.take();
        if asked.is_some_and(|t| now.mono < t + STANDBY_REPLY_TIMEOUT) {
            MoveReason::Takeover
        } else if self.auto_failback && set == Hold::FOREIGN {
            MoveReason::Failback
        } else {
            MoveReason::PeerStandby
        }
    }

    fn is_stable(&self) -> bool {
        self.jobs.is_empty()
            && !self.giving()
            && self.standby == Standby::Not
            && self.standby_deadline.is_none()
            && (self.other_is_stable || self.state == State::Init)
            && matches!(self.state, State::Stable | State::Shutdown | State::Init)
    }

    /// Graceful stop: once settled, release everything and report
    /// [`Action::ShutdownReady`]. Returns false while it must wait (the caller
    /// asks again after the next resource event, as 3.0.6 delays shutdown until
    /// resource activity finishes).
    pub fn shutdown(&mut self, now: Now) -> bool {
        if self.state == State::Shutdown {
            return true;
        }
        if !self.is_stable() && self.state != State::Init {
            if !std::mem::replace(&mut self.delay_logged, true) {
                self.log(
                    Level::Warn,
                    "Shutdown delayed until current resource activity finishes.",
                );
            }
            return false;
        }
        self.shutting_down = true;
        self.cause = MoveReason::Shutdown;
        let held = self.i_hold;
        self.i_hold = Hold::NONE;
        self.state = State::Shutdown;
        let m = resource_msg(Hold::NONE, false, Some("shutdown"));
        self.send(now, m);
        self.log(Level::Info, "Giving up all HA resources.");
        self.start_job(Job::ShutdownRelease(held));
        true
    }
}

#[cfg(test)]
mod tests;
