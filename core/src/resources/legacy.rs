//! Who holds which resource groups in a two-node cluster with `auto_failback
//! legacy` (3.0.6's default when ha.cf has no `auto_failback` line; spec §8.3,
//! §8.4), spoken on the wire as 3.0.6 speaks it: `ip-request ipaddr=KEY`, and
//! `ip-request-resp dest=REQUESTER ipaddr=KEY weown=yes|no ok=OK`.
//!
//! - At comm-up, with the other node active, we ask it for each of our own
//!   groups (`ip-request`). It gives up those it holds and answers each
//!   request; once every request is answered we acquire our groups. With no
//!   other active node we take them at once (3.0.6's `HA_DONTASK`, which also
//!   answers itself on the wire).
//! - When the other node asks for its groups, we release those we hold (the
//!   whole set, right to left within each group, in haresources order) and
//!   then answer every request. A node that returns thus takes its groups
//!   back: legacy behaves like `auto_failback on`.
//! - When the other node dies or stops, we take over its groups (and ours, if
//!   a request was still unanswered).
//! - There is no standby or takeover in legacy mode, and no `starting` or
//!   `resource` reports: 3.0.6 logs `Standby mode only implemented when
//!   nice_failback on`, and `cl_status rscstatus` says `transition` while
//!   resource work runs, else `none` (3.0.6 never records holdings in legacy
//!   mode). [`Legacy::holding`] is the truth, for the status table.
//!
//! Groups are seen as two sets, as in [`super::nice`]: *local* (haresources lines
//! naming us) and *foreign*; the caller runs them and reports back with
//! [`Legacy::done`]. The machine names groups on the wire by their keys (the
//! first resource of the line, as written).

use std::collections::{BTreeSet, VecDeque};

use super::moves::MoveReason;
use super::nice::{Action, Hold};
use crate::membership::Level;
use crate::time::{Instant, Now};
use crate::wire::Message;

/// What a finished acquisition or release was for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Job {
    /// Acquiring this set (`takegroup`).
    Take(Hold),
    /// Releasing the other node's groups; then answering these requests
    /// (requester, key).
    Release(Vec<(String, String)>),
    /// Graceful stop: releasing everything; what we held before; then these
    /// requests are answered.
    Shutdown(Hold, Vec<(String, String)>),
}

/// The legacy resource protocol of one node.
#[derive(Debug)]
pub struct Legacy {
    me: String,
    /// Keys of our groups (haresources lines naming us), in file order.
    local_keys: Vec<String>,
    /// Keys of the other groups.
    foreign_keys: Vec<String>,
    /// Communication is up.
    up: bool,
    shutting_down: bool,
    /// The graceful stop has released everything.
    left: bool,
    /// What we hold (or are acquiring).
    i_hold: Hold,
    /// What the other node holds, as far as we can tell (it does not report).
    other_holds: Hold,
    /// The other node's last status was `active`.
    peer_active: bool,
    /// We know the other node's status (a status message, or its death).
    peer_known: bool,
    /// Communication came up on a packet of the other node that was not its
    /// status: whether to ask it waits for its status.
    waiting_for_status: bool,
    /// The other node may hold groups (3.0.6's `has_resources`): false after its
    /// shutdown notice, until it restarts.
    peer_has_resources: bool,
    /// Our requests the other node has not answered yet (keys).
    asked: BTreeSet<String>,
    /// One of them was refused.
    refused: bool,
    /// What our answered requests are for: the start, or a healed partition.
    asked_for: MoveReason,
    jobs: VecDeque<Job>,
    announced: bool,
    delay_logged: bool,
    /// A 3.0.6-style `auto_failback on|off` peer was noticed (logged once).
    mode_mismatch_logged: bool,
    cause: MoveReason,
    out: VecDeque<Action>,
}

fn request_msg(key: &str) -> Message {
    let mut m = Message::with_type("ip-request");
    m.push_str("ipaddr", key);
    m
}

fn answer_msg(dest: &str, key: &str, weown: bool, ok: bool) -> Message {
    let mut m = Message::with_type("ip-request-resp");
    m.push_str("dest", dest);
    m.push_str("ipaddr", key);
    m.push_str("weown", if weown { "yes" } else { "no" });
    m.push_str("ok", if ok { "OK" } else { "DENY" });
    m
}

impl Legacy {
    /// The machine of node `me`, with the keys of its own groups and of the
    /// other node's, each in haresources order.
    pub fn new(me: &str, local_keys: Vec<String>, foreign_keys: Vec<String>) -> Legacy {
        Legacy {
            me: me.to_owned(),
            local_keys,
            foreign_keys,
            up: false,
            shutting_down: false,
            left: false,
            i_hold: Hold::NONE,
            other_holds: Hold::NONE,
            peer_active: false,
            peer_known: false,
            waiting_for_status: false,
            peer_has_resources: true,
            asked: BTreeSet::new(),
            refused: false,
            asked_for: MoveReason::Start,
            jobs: VecDeque::new(),
            announced: false,
            delay_logged: false,
            mode_mismatch_logged: false,
            cause: MoveReason::Start,
            out: VecDeque::new(),
        }
    }

    /// What we hold (or are acquiring).
    pub fn holding(&self) -> Hold {
        self.i_hold
    }

    /// What the other node holds, as far as we can tell.
    pub fn peer_holds(&self) -> Hold {
        self.other_holds
    }

    /// Why the groups moved last, or move now (for the status table).
    pub fn move_reason(&self) -> MoveReason {
        self.cause
    }

    /// Keys of our requests still unanswered.
    pub fn unanswered(&self) -> impl Iterator<Item = &str> {
        self.asked.iter().map(String::as_str)
    }

    /// Resource work runs (or a request of ours is unanswered).
    pub fn in_transition(&self) -> bool {
        !self.jobs.is_empty() || !self.asked.is_empty() || self.waiting_for_status
    }

    /// `cl_status rscstatus` as 3.0.6 answers it in legacy mode: `transition`
    /// while resource work runs, else `none` (it never records holdings).
    pub fn rscstatus(&self) -> &'static str {
        if self.in_transition() {
            "transition"
        } else {
            "none"
        }
    }

    /// The next action, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.pop_front()
    }

    /// Legacy mode keeps no timers.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Time passed (nothing waits on time in legacy mode).
    pub fn handle_timeout(&mut self, _now: Now) {}

    fn log(&mut self, level: Level, text: impl Into<String>) {
        self.out.push_back(Action::Log(level, text.into()));
    }

    fn send(&mut self, m: Message) {
        self.out.push_back(Action::Send(m));
    }

    fn start_job(&mut self, job: Job) {
        let action = match &job {
            Job::Take(set) => Action::Acquire(*set),
            Job::Release(_) => Action::Release(Hold::FOREIGN),
            Job::Shutdown(..) => Action::Release(Hold::ALL),
        };
        self.jobs.push_back(job);
        self.out.push_back(action);
    }

    fn announce(&mut self, why: &str) {
        if !self.announced {
            self.announced = true;
            self.log(
                Level::Info,
                format!("Initial resource acquisition complete ({why})"),
            );
        }
    }

    /// The other node's status changed (its status message).
    pub fn peer_status(&mut self, status: &str) {
        self.peer_active = status == "active";
        self.peer_known = true;
        if std::mem::take(&mut self.waiting_for_status) {
            self.req_our_resources();
        }
    }

    /// Communication came up in a cluster of one node: every group is ours.
    pub fn alone(&mut self) {
        if self.up {
            return;
        }
        self.up = true;
        self.cause = MoveReason::Start;
        self.take_local_unasked();
    }

    /// Communication came up: ask the active other node for our groups, or
    /// take them if it is not active (`req_our_resources`).
    pub fn comm_up(&mut self, _now: Now) {
        if self.up {
            return;
        }
        self.up = true;
        if self.i_hold.has(Hold::LOCAL) || self.local_keys.is_empty() {
            if self.local_keys.is_empty() {
                self.log(Level::Info, "No local resources to acquire.");
            }
            return;
        }
        self.cause = MoveReason::Start;
        if self.peer_known {
            self.req_our_resources();
        } else {
            // Heard, but not its status yet (the first packet was another
            // message): whether it is active decides whether to ask.
            self.waiting_for_status = true;
        }
    }

    /// Ask the active other node for our groups, or take them.
    fn req_our_resources(&mut self) {
        if self.shutting_down || self.i_hold.has(Hold::LOCAL) {
            return;
        }
        if self.peer_active {
            self.other_holds = Hold::FOREIGN;
            self.ask_for_ours(MoveReason::Start);
        } else {
            self.take_local_unasked();
        }
    }

    /// `req_resource` with `HA_DONTASK=yes`: we answer our own requests (on
    /// the wire, as 3.0.6 does) and take our groups.
    fn take_local_unasked(&mut self) {
        if self.shutting_down || self.i_hold.has(Hold::LOCAL) || self.local_keys.is_empty() {
            return;
        }
        for key in self.local_keys.clone() {
            let m = answer_msg(&self.me, &key, true, true);
            self.send(m);
        }
        self.asked.clear();
        self.i_hold = self.i_hold.with(Hold::LOCAL);
        self.start_job(Job::Take(Hold::LOCAL));
    }

    /// Sends `ip-request` for each of our groups.
    fn ask_for_ours(&mut self, why: MoveReason) {
        self.asked_for = why;
        self.refused = false;
        self.asked = self.local_keys.iter().cloned().collect();
        for key in self.local_keys.clone() {
            self.send(request_msg(&key));
        }
        self.log(
            Level::Info,
            format!(
                "Asked the other node for our {} resource group(s).",
                self.local_keys.len()
            ),
        );
    }

    /// A message arrived (or we sent one: `from_us`, ignored).
    pub fn handle(&mut self, _now: Now, from_us: bool, msg: &Message) {
        if from_us || self.left {
            return;
        }
        let who = msg.get_str("src").unwrap_or("the other node").to_owned();
        match msg.get_str("t") {
            Some("ip-request") => {
                let Some(key) = msg.get_str("ipaddr") else {
                    self.log(
                        Level::Error,
                        format!("ip-request from {who} without ipaddr."),
                    );
                    return;
                };
                self.on_request(&who, key);
            }
            Some("ip-request-resp") if msg.get_str("dest") == Some(who.as_str()) => {
                // The other node answers itself: it saw no other active node
                // and takes its group without asking (3.0.6's HA_DONTASK).
                if let Some(key) = msg.get_str("ipaddr") {
                    self.on_unasked_take(&who, key);
                }
            }
            Some("ip-request-resp") if msg.get_str("dest") == Some(self.me.as_str()) => {
                let (Some(key), ok, weown) = (
                    msg.get_str("ipaddr"),
                    msg.get_str("ok").unwrap_or(""),
                    msg.get_str("weown").unwrap_or(""),
                ) else {
                    return;
                };
                self.on_answer(&who, key, ok, weown);
            }
            Some("ask_resources" | "hb_takeover") => {
                self.log(
                    Level::Info,
                    "Standby mode only implemented when nice_failback on",
                );
            }
            Some(t @ ("starting" | "resource")) if !self.mode_mismatch_logged => {
                self.mode_mismatch_logged = true;
                self.log(
                    Level::Error,
                    format!("{who} runs auto_failback on or off (it sent '{t}'), this node legacy: the two modes do not work together. Set the same auto_failback on both nodes."),
                );
            }
            _ => {}
        }
    }

    /// The other node asks for group `key` (the `ip-request` rc script).
    fn on_request(&mut self, who: &str, key: &str) {
        if self.local_keys.iter().any(|k| k == key) {
            // 3.0.6 would give it up; with differing haresources files that
            // would leave one group on both nodes or on neither.
            self.log(
                Level::Error,
                format!("{who} asks for resource group {key}, which haresources here gives to {}: the haresources files differ. Not giving it up.", self.me),
            );
            let m = answer_msg(who, key, self.i_hold.has(Hold::LOCAL), false);
            self.send(m);
            return;
        }
        if !self.foreign_keys.iter().any(|k| k == key) {
            self.log(
                Level::Warn,
                format!("{who} asks for resource group {key}, which is not in haresources here: we do not hold it."),
            );
            let m = answer_msg(who, key, false, true);
            self.send(m);
            return;
        }
        let answer = (who.to_owned(), key.to_owned());
        // A release of the other node's groups already under way answers it too.
        if let Some(Job::Release(answers) | Job::Shutdown(_, answers)) = self
            .jobs
            .iter_mut()
            .rev()
            .find(|j| matches!(j, Job::Release(_) | Job::Shutdown(..)))
        {
            answers.push(answer);
            return;
        }
        if self.i_hold.has(Hold::FOREIGN) {
            self.log(
                Level::Info,
                format!("{who} asks for its resource groups: giving them up."),
            );
            self.cause = MoveReason::Failback;
            self.i_hold = self.i_hold.without(Hold::FOREIGN);
            self.start_job(Job::Release(vec![answer]));
        } else {
            self.other_holds = self.other_holds.with(Hold::FOREIGN);
            let m = answer_msg(who, key, false, true);
            self.send(m);
        }
    }

    /// The other node takes its group `key` without asking us, as if alone
    /// (its start-up did not see us active). We hold it too: the group goes
    /// home, as legacy has it; we release it at once instead of running it on
    /// both nodes.
    fn on_unasked_take(&mut self, who: &str, key: &str) {
        if !self.foreign_keys.iter().any(|k| k == key) {
            return;
        }
        self.other_holds = self.other_holds.with(Hold::FOREIGN);
        if !self.i_hold.has(Hold::FOREIGN) {
            return;
        }
        self.log(
            Level::Warn,
            format!("{who} takes its resource group {key} without asking us (it saw no other active node): releasing its groups here."),
        );
        self.cause = MoveReason::Failback;
        self.i_hold = self.i_hold.without(Hold::FOREIGN);
        self.start_job(Job::Release(Vec::new()));
    }

    /// The other node answered our request for `key`.
    fn on_answer(&mut self, who: &str, key: &str, ok: &str, weown: &str) {
        self.log(
            Level::Info,
            format!("received ip-request-resp {key} {ok} {weown}"),
        );
        if !self.asked.remove(key) {
            return;
        }
        if ok != "OK" {
            self.refused = true;
            self.log(
                Level::Error,
                format!("{who} did not give up resource group {key} ({ok})."),
            );
        }
        if !self.asked.is_empty() {
            return;
        }
        if self.refused {
            self.log(
                Level::Error,
                format!("Not acquiring our resource groups: {who} keeps some of them. Restart heartbeat here once it can give them up."),
            );
            return;
        }
        self.other_holds = self.other_holds.without(Hold::LOCAL);
        if self.i_hold.has(Hold::LOCAL) {
            // A healed partition: the other node let go of ours; clients may
            // still point at it.
            self.log(
                Level::Info,
                "Announcing the local resource groups again: the other node released them.",
            );
            self.out.push_back(Action::Reannounce(Hold::LOCAL));
        } else if !self.shutting_down {
            self.cause = self.asked_for;
            self.i_hold = self.i_hold.with(Hold::LOCAL);
            self.start_job(Job::Take(Hold::LOCAL));
        }
    }

    /// The other node died. `heard`: we ever heard a packet from it.
    pub fn peer_dead(&mut self, _now: Now, peer: &str, heard: bool) {
        self.peer_active = false;
        self.peer_known = true;
        self.waiting_for_status = false;
        if self.shutting_down {
            return;
        }
        self.cause = MoveReason::PeerDead;
        let mut st = Message::with_type("stonith");
        st.push_str("node", peer);
        if heard && !self.peer_has_resources {
            self.log(Level::Info, format!("Dead node {peer} gave up resources."));
            st.push_str("result", "unneeded");
            self.send(st);
        } else {
            st.push_str("result", "n_stnth");
            self.send(st);
            self.log(Level::Warn, "No STONITH device configured.");
            self.log(Level::Warn, "Shared disks are not protected.");
        }
        self.takeover_from(peer);
    }

    /// The other node announced a graceful shutdown (`shutdone`): take over at once.
    pub fn peer_shutdown(&mut self, _now: Now, peer: &str) {
        self.peer_active = false;
        self.peer_known = true;
        self.waiting_for_status = false;
        self.peer_has_resources = false;
        self.cause = MoveReason::PeerStopped;
        self.takeover_from(peer);
    }

    /// `takeover_from_node`: its groups (mach_down), and ours if we have not
    /// got them yet (`req_our_resources(TRUE)`, nobody to ask now).
    fn takeover_from(&mut self, peer: &str) {
        if self.shutting_down {
            self.log(
                Level::Info,
                "Resource takeover cancelled - shutdown in progress.",
            );
            return;
        }
        self.other_holds = Hold::NONE;
        if self.i_hold == Hold::ALL {
            return;
        }
        self.log(
            Level::Info,
            format!("Resources being acquired from {peer}."),
        );
        self.asked.clear();
        if !self.i_hold.has(Hold::FOREIGN) && !self.foreign_keys.is_empty() {
            self.i_hold = self.i_hold.with(Hold::FOREIGN);
            self.start_job(Job::Take(Hold::FOREIGN));
        }
        if self.up {
            self.take_local_unasked();
        } else if !self.i_hold.has(Hold::LOCAL) && !self.local_keys.is_empty() {
            // Declared dead before comm-up: nobody to ask.
            self.i_hold = self.i_hold.with(Hold::LOCAL);
            self.start_job(Job::Take(Hold::LOCAL));
        }
    }

    /// The other node restarted (a higher generation): what it was asked died
    /// with its old process. Ask again.
    pub fn peer_restarted(&mut self, _peer: &str) {
        self.peer_has_resources = true;
        if !self.asked.is_empty() && !self.shutting_down {
            self.log(
                Level::Info,
                "The other node restarted before answering: asking it again for our resource groups.",
            );
            self.ask_for_ours(self.asked_for);
        }
    }

    /// The other node is back after a partition: both may hold every group.
    /// Each group stays with its preferred node: we release the other node's
    /// groups and ask it for ours (it releases them and answers; then we
    /// announce our addresses again). A 3.0.6 peer restarts instead, and asks
    /// for its groups when it is back.
    pub fn peer_returned(&mut self, _now: Now, peer: &str) {
        if self.shutting_down || !self.up {
            return;
        }
        self.log(
            Level::Info,
            format!(
                "{peer} is back after a partition: each resource group goes to its preferred node."
            ),
        );
        self.peer_has_resources = true;
        self.cause = MoveReason::PartitionHeal;
        if self.i_hold.has(Hold::FOREIGN) {
            self.i_hold = self.i_hold.without(Hold::FOREIGN);
            self.start_job(Job::Release(Vec::new()));
        }
        self.other_holds = Hold::FOREIGN;
        if !self.local_keys.is_empty() {
            self.ask_for_ours(MoveReason::PartitionHeal);
        }
    }

    /// The caller finished the oldest outstanding acquisition or release.
    pub fn done(&mut self, _now: Now, ok: bool) {
        let Some(job) = self.jobs.pop_front() else {
            return;
        };
        match job {
            Job::Take(set) => {
                if !ok {
                    self.cause = MoveReason::StartFailed;
                    self.i_hold = self.i_hold.without(set);
                    self.log(
                        Level::Crit,
                        format!("The {set} resource groups failed to start here, and legacy mode cannot hand them to the other node: they stay stopped. Fix them, then restart heartbeat (or use auto_failback on|off)."),
                    );
                }
                if set == Hold::FOREIGN {
                    self.log(Level::Info, "mach_down takeover complete.");
                    self.announce("mach_down");
                } else {
                    self.log(Level::Info, "Local Resource acquisition completed.");
                    self.announce("req_our_resources");
                }
            }
            Job::Release(answers) => {
                if ok {
                    self.log(
                        Level::Info,
                        "foreign HA resource release completed (ip-request).",
                    );
                    self.other_holds = self.other_holds.with(Hold::FOREIGN);
                } else {
                    self.cause = MoveReason::ReleaseFailed;
                    self.i_hold = self.i_hold.with(Hold::FOREIGN);
                    self.log(
                        Level::Crit,
                        "The foreign resource groups could not be released and stay here: the other node does not get them. Stop what still runs by hand, then restart heartbeat on the other node.",
                    );
                }
                for (who, key) in answers {
                    let m = answer_msg(&who, &key, true, ok);
                    self.send(m);
                }
            }
            Job::Shutdown(held, answers) => {
                if ok {
                    for (who, key) in answers {
                        let m = answer_msg(&who, &key, true, true);
                        self.send(m);
                    }
                    self.left = true;
                    self.log(Level::Info, "All HA resources relinquished.");
                    self.out.push_back(Action::ShutdownReady);
                } else {
                    self.cause = MoveReason::ReleaseFailed;
                    self.shutting_down = false;
                    self.delay_logged = false;
                    self.i_hold = held;
                    for (who, key) in answers {
                        let m = answer_msg(&who, &key, true, false);
                        self.send(m);
                    }
                    self.log(
                        Level::Crit,
                        "Shutdown cancelled: some resources could not be released and still run here. Stop them by hand, then stop heartbeat again.",
                    );
                    self.out.push_back(Action::ShutdownFailed);
                }
            }
        }
    }

    /// Graceful stop: once no resource work runs, release everything and
    /// report [`Action::ShutdownReady`]. Returns false while it must wait.
    pub fn shutdown(&mut self, _now: Now) -> bool {
        if self.shutting_down {
            return true;
        }
        if !self.jobs.is_empty() {
            if !std::mem::replace(&mut self.delay_logged, true) {
                self.log(
                    Level::Warn,
                    "Shutdown delayed until current resource activity finishes.",
                );
            }
            return false;
        }
        self.shutting_down = true;
        self.asked.clear();
        self.waiting_for_status = false;
        self.cause = MoveReason::Shutdown;
        let held = std::mem::replace(&mut self.i_hold, Hold::NONE);
        self.log(Level::Info, "Giving up all HA resources.");
        self.start_job(Job::Shutdown(held, Vec::new()));
        true
    }
}

#[cfg(test)]
mod tests;
