//! Two nodes, A and B, each with one group of its own, on virtual time. The
//! "world" runs every acquisition and release at once and checks the invariant
//! after each: no group is ever held by two nodes.

use super::*;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct World {
    /// Owner of A's group and of B's group: 0 = nobody, 1 = A, 2 = B.
    owner: [u8; 2],
}

impl World {
    /// Node `me` (1 or 2) acquires or releases `set` as it sees it.
    fn apply(&mut self, me: u8, set: Hold, acquire: bool) {
        for (group, home) in [(0usize, 1u8), (1, 2)] {
            let wanted = if home == me {
                Hold::LOCAL
            } else {
                Hold::FOREIGN
            };
            if !set.has(wanted) {
                continue;
            }
            if acquire {
                assert!(
                    self.owner[group] == 0 || self.owner[group] == me,
                    "node {me} acquires group {group} held by node {}",
                    self.owner[group]
                );
                self.owner[group] = me;
            } else if self.owner[group] == me {
                self.owner[group] = 0;
            }
        }
    }
}

struct Sim {
    a: NiceFailback,
    b: NiceFailback,
    world: World,
    now: u64,
    /// Every action with its node and time, for order checks.
    trace: Vec<(u64, u8, Action)>,
    a_up: bool,
    b_up: bool,
    /// The next acquisition of this set by this node fails (nothing starts).
    fail_once: Option<(u8, Hold)>,
    /// More such failures, each once, after `fail_once`.
    fail_more: Vec<(u8, Hold)>,
    /// The next release of this set by this node fails (it keeps running).
    stuck_once: Option<(u8, Hold)>,
}

impl Sim {
    fn new(auto_failback: bool) -> Sim {
        Sim {
            a: NiceFailback::new(auto_failback),
            b: NiceFailback::new(auto_failback),
            world: World::default(),
            now: 0,
            trace: Vec::new(),
            a_up: true,
            b_up: true,
            fail_once: None,
            fail_more: Vec::new(),
            stuck_once: None,
        }
    }

    fn at(&self) -> Now {
        Now::at_millis(self.now)
    }

    fn node(&mut self, n: u8) -> &mut NiceFailback {
        if n == 1 {
            &mut self.a
        } else {
            &mut self.b
        }
    }

    /// Delivers everything until both are quiet.
    fn settle(&mut self) {
        for _ in 0..1000 {
            let mut progress = false;
            for me in [1u8, 2] {
                let up = if me == 1 { self.a_up } else { self.b_up };
                while let Some(action) = self.node(me).poll_action() {
                    progress = true;
                    self.trace.push((self.now, me, action.clone()));
                    if !up {
                        continue;
                    }
                    let now = self.at();
                    match action {
                        Action::Send(m) => {
                            let peer_up = if me == 1 { self.b_up } else { self.a_up };
                            if peer_up {
                                self.node(3 - me).handle(now, false, &m);
                            }
                        }
                        Action::Acquire(h) => {
                            if self.fail_once == Some((me, h)) {
                                self.fail_once = None;
                                self.node(me).done(now, false);
                            } else if let Some(i) =
                                self.fail_more.iter().position(|f| *f == (me, h))
                            {
                                self.fail_more.remove(i);
                                self.node(me).done(now, false);
                            } else {
                                self.world.apply(me, h, true);
                                self.node(me).done(now, true);
                            }
                        }
                        Action::Release(h) => {
                            if self.stuck_once == Some((me, h)) {
                                self.stuck_once = None;
                                self.node(me).done(now, false);
                            } else {
                                self.world.apply(me, h, false);
                                self.node(me).done(now, true);
                            }
                        }
                        Action::Log(..)
                        | Action::ShutdownReady
                        | Action::ShutdownFailed
                        | Action::Reannounce(_) => {}
                    }
                }
            }
            if !progress {
                return;
            }
        }
        panic!("the two nodes never settle");
    }

    /// Advances virtual time, firing timers.
    fn run_until(&mut self, ms: u64) {
        while self.now < ms {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .map(Instant::as_millis)
                .filter(|t| *t <= ms)
                .min();
            self.now = next.map_or(ms, |t| t.max(self.now));
            let now = self.at();
            if self.a_up {
                self.a.handle_timeout(now);
            }
            if self.b_up {
                self.b.handle_timeout(now);
            }
            self.settle();
            if next.is_none() {
                self.now = ms;
            }
        }
    }

    fn logs(&self, me: u8) -> Vec<String> {
        self.trace
            .iter()
            .filter_map(|(_, n, a)| match a {
                Action::Log(_, s) if *n == me => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    fn sent(&self, me: u8) -> Vec<String> {
        self.trace
            .iter()
            .filter_map(|(_, n, a)| match a {
                Action::Send(m) if *n == me => Some(
                    m.fields()
                        .iter()
                        .map(|f| format!("{}={}", f.name, m.get_str(&f.name).unwrap_or("?")))
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                _ => None,
            })
            .collect()
    }
}

impl Sim {
    /// B never came: A declared it dead at initdead and holds everything, settled.
    fn a_alone(auto_failback: bool) -> Sim {
        let mut s = Sim::new(auto_failback);
        s.b_up = false;
        let now = s.at();
        s.a.peer_dead(now, "b", false);
        s.a.comm_up(now);
        s.settle();
        s.run_until(11_000);
        s
    }
}

fn both_up(auto_failback: bool) -> Sim {
    let mut s = Sim::new(auto_failback);
    let now = s.at();
    s.a.comm_up(now);
    s.b.comm_up(now);
    s.settle();
    s.run_until(11_000);
    s
}

#[test]
fn hold_words_and_mirror() {
    assert_eq!(Hold::parse("foreign").mirror(), Hold::LOCAL);
    assert_eq!(Hold::ALL.mirror(), Hold::ALL);
    assert_eq!(Hold::NONE.mirror(), Hold::NONE);
    assert_eq!(Hold::parse("bogus"), Hold::NONE);
    assert!(
        Hold::ALL.has(Hold::LOCAL) && !Hold::LOCAL.has(Hold::FOREIGN) && !Hold::ALL.has(Hold::NONE)
    );
}

/// Both start together: each sees that the other holds none of its groups and
/// takes its own at once (3.0.6 waits 10 s here), and both are settled.
#[test]
fn both_starting_each_takes_its_own_at_once() {
    let mut s = Sim::new(true);
    let now = s.at();
    s.a.comm_up(now);
    s.b.comm_up(now);
    s.settle();
    assert_eq!(s.world.owner, [1, 2], "no request delay");
    assert!(s
        .logs(1)
        .iter()
        .any(|l| l == "The other node holds none of our resource groups: acquiring them now."));
    assert_eq!((s.a.state(), s.b.state()), (State::Stable, State::Stable));
    assert_eq!((s.a.holding(), s.b.holding()), (Hold::LOCAL, Hold::LOCAL));
    assert_eq!(s.a.rscstatus(), "local");
    assert_eq!(s.sent(1)[0], "t=starting");
    assert!(s
        .logs(1)
        .iter()
        .any(|l| l.starts_with("Initial resource acquisition complete")));
}

/// The peer never came (initdead): we take everything, and say why.
#[test]
fn a_dead_peer_at_start_means_we_take_everything() {
    let s = Sim::a_alone(true);
    assert_eq!(s.world.owner, [1, 1]);
    assert_eq!(s.a.holding(), Hold::ALL);
    let sent = s.sent(1);
    assert_eq!(sent[0], "t=stonith node=b result=n_stnth");
    assert!(sent
        .iter()
        .any(|m| m == "t=resource rsc_hold=foreign info=mach_down"));
    let logs = s.logs(1);
    for line in [
        "No STONITH device configured.",
        "Resources being acquired from b.",
        "mach_down takeover complete.",
    ] {
        assert!(
            logs.iter().any(|l| l == line),
            "{line} missing from {logs:?}"
        );
    }
}

/// `auto_failback on`: the returning owner gets its group back; the holder
/// releases it before the owner acquires it.
#[test]
fn auto_failback_on_returns_the_group_release_before_acquire() {
    let mut s = Sim::a_alone(true);
    assert_eq!(s.world.owner, [1, 1]);
    // B comes back.
    s.b_up = true;
    s.b = NiceFailback::new(true);
    let now = s.at();
    s.b.comm_up(now);
    s.settle();
    s.run_until(30_000);
    assert_eq!(s.world.owner, [1, 2], "B's group went home");
    let release = s
        .trace
        .iter()
        .position(|(_, n, a)| *n == 1 && *a == Action::Release(Hold::FOREIGN));
    let acquire = s
        .trace
        .iter()
        .position(|(_, n, a)| *n == 2 && *a == Action::Acquire(Hold::LOCAL));
    assert!(
        release.is_some() && acquire.is_some() && release < acquire,
        "{:?}",
        s.trace
    );
    assert!(s
        .sent(1)
        .iter()
        .any(|m| m == "t=ask_resources rsc_hold=foreign info=me"));
    assert!(s
        .sent(2)
        .iter()
        .any(|m| m == "t=ask_resources rsc_hold=foreign info=other"));
    assert_eq!((s.a.state(), s.b.state()), (State::Stable, State::Stable));
    assert_eq!((s.a.rscstatus(), s.b.rscstatus()), ("local", "local"));
}

/// `auto_failback off`: a healthy holder keeps the group.
#[test]
fn auto_failback_off_leaves_the_group_where_it_is() {
    let mut s = Sim::a_alone(false);
    s.b_up = true;
    s.b = NiceFailback::new(false);
    let now = s.at();
    s.b.comm_up(now);
    s.settle();
    s.run_until(60_000);
    assert_eq!(s.world.owner, [1, 1]);
    assert_eq!(s.b.holding(), Hold::NONE);
    assert_eq!(s.b.state(), State::Stable);
    assert_eq!(s.b.peer_holds(), Hold::ALL);
}

/// A graceful stop releases everything, then the peer takes over at once.
#[test]
fn graceful_shutdown_hands_everything_to_the_peer() {
    let mut s = both_up(true);
    assert_eq!(s.world.owner, [1, 2]);
    let now = s.at();
    assert!(s.a.shutdown(now));
    s.settle();
    assert_eq!(s.world.owner, [0, 2], "A released its group");
    assert!(s
        .trace
        .iter()
        .any(|(_, n, a)| *n == 1 && *a == Action::ShutdownReady));
    assert!(s
        .sent(1)
        .iter()
        .any(|m| m
            == "t=resource rsc_hold=none rtype=full isstable=0 info=shutdown partition_rule=1"));
    // A's shutdone reaches B (the membership layer reports it).
    s.a_up = false;
    let now = s.at();
    s.b.peer_shutdown(now, "a");
    s.settle();
    assert_eq!(s.world.owner, [2, 2]);
    assert_eq!(s.b.holding(), Hold::ALL);
}

/// A shutdown waits while groups are still being acquired.
#[test]
fn shutdown_waits_for_resource_activity() {
    let mut s = Sim::new(true);
    let now = s.at();
    s.a.peer_dead(now, "b", false);
    // The takeover is running: do not complete it yet.
    assert!(!s.a.shutdown(now));
    assert!(s.a.poll_action().is_some());
}

/// `heartbeat standby all` moves everything to the peer; the peer's
/// `hb_takeover local` brings A's own group back.
#[test]
fn standby_moves_groups_to_the_peer() {
    let mut s = both_up(false);
    let now = s.at();
    s.a.standby(now, Hold::ALL);
    s.settle();
    assert_eq!(s.world.owner, [2, 2]);
    assert_eq!((s.a.holding(), s.b.holding()), (Hold::NONE, Hold::ALL));
    assert!(s
        .logs(2)
        .iter()
        .any(|l| l.ends_with("wants to go standby [all]")));
    assert!(s
        .logs(1)
        .iter()
        .any(|l| l == "Other node completed standby takeover of all resources."));
    // hb_takeover from A: B goes standby for what A asks.
    let mut t = Message::with_type("hb_takeover");
    t.push_str("rsc_hold", "local");
    let now = s.at();
    s.b.handle(now, false, &t);
    s.settle();
    assert_eq!(s.world.owner, [1, 2], "A took its own group back");
}

#[test]
fn standby_is_refused_while_the_peer_is_in_flux() {
    let mut s = Sim::new(true);
    let now = s.at();
    s.a.comm_up(now);
    s.settle();
    // A is still starting when B asks to go standby.
    let now = s.at();
    s.a.handle(now, false, &standby_msg(Hold::ALL, "me"));
    s.settle();
    let logs = s.logs(1);
    assert!(
        logs.iter()
            .any(|l| l.contains("ignored.  Other side is in flux.")
                || l.contains("ignored.  local resources in flux.")),
        "{logs:?}"
    );
    assert_eq!(s.world.owner, [0, 0]);
}

/// A standby request nobody answers is cancelled after 10 s.
#[test]
fn an_unanswered_standby_is_cancelled() {
    let mut s = both_up(true);
    s.b_up = false;
    let now = s.at();
    s.a.standby(now, Hold::LOCAL);
    s.settle();
    let start = s.now;
    s.run_until(start + 10_000);
    assert!(s
        .logs(1)
        .iter()
        .any(|l| l == "No reply to standby request.  Standby request cancelled."));
    assert_eq!(s.world.owner[0], 1, "nothing was given up");
}

/// A crashed peer's group is taken over, with the STONITH notice 3.0.6 sends.
#[test]
fn a_crashed_peer_is_taken_over() {
    let mut s = both_up(true);
    // Power loss: B and everything it ran are gone.
    s.b_up = false;
    s.world.owner[1] = 0;
    let now = s.at();
    s.a.peer_dead(now, "b", true);
    s.settle();
    assert_eq!(s.world.owner, [1, 1]);
    assert!(s
        .sent(1)
        .iter()
        .any(|m| m == "t=stonith node=b result=n_stnth"));
}

/// After a graceful stop, the later death is "gave up resources", with no second takeover.
#[test]
fn death_after_a_shutdown_notice_needs_no_stonith() {
    let mut s = both_up(true);
    let now = s.at();
    s.a.shutdown(now);
    s.settle();
    s.a_up = false;
    let now = s.at();
    s.b.peer_shutdown(now, "a");
    s.settle();
    let acquisitions = s
        .trace
        .iter()
        .filter(|(_, n, a)| *n == 2 && matches!(a, Action::Acquire(_)))
        .count();
    let now = s.at();
    s.b.peer_dead(now, "a", true);
    s.settle();
    assert!(s
        .sent(2)
        .iter()
        .any(|m| m == "t=stonith node=a result=unneeded"));
    assert!(s
        .logs(2)
        .iter()
        .any(|l| l == "Dead node a gave up resources."));
    let after = s
        .trace
        .iter()
        .filter(|(_, n, a)| *n == 2 && matches!(a, Action::Acquire(_)))
        .count();
    assert_eq!(acquisitions, after);
}

/// A peer that leaves in the middle of an auto-failback does not block our stop.
#[test]
fn a_peer_leaving_during_a_failback_cancels_it() {
    let mut s = Sim::a_alone(true);
    // B returns and reports itself stable holding nothing: A starts the
    // failback (ask_resources info=me), and B leaves before answering.
    let now = s.at();
    s.a.handle(now, false, &Message::with_type("starting"));
    s.a.handle(now, false, &resource_msg(Hold::NONE, true, None));
    s.settle();
    assert!(s
        .sent(1)
        .iter()
        .any(|m| m == "t=ask_resources rsc_hold=foreign info=me"));
    assert_eq!(s.a.rscstatus(), "transition");
    let now = s.at();
    assert!(!s.a.shutdown(now), "a stop waits for the failback");
    s.a.peer_shutdown(now, "b");
    s.settle();
    let now = s.at();
    assert!(
        s.a.shutdown(now),
        "the stop is not held up by the abandoned failback"
    );
}

/// Both up at t=0 with `auto_failback on`; A's own group fails to start; 1 s later.
fn a_failed_its_own_group_at_start() -> Sim {
    let mut s = Sim::new(true);
    s.fail_once = Some((1, Hold::LOCAL));
    let now = s.at();
    s.a.comm_up(now);
    s.b.comm_up(now);
    s.settle();
    s.run_until(1_000);
    s
}

/// A group that fails to start here goes to the peer after a pause, not in a
/// tight loop.
#[test]
fn groups_that_fail_to_start_are_handed_to_the_peer_after_a_pause() {
    let mut s = a_failed_its_own_group_at_start();
    assert_eq!(s.world.owner, [0, 2], "A's group failed on A");
    s.run_until(HANDOVER_DELAY.as_millis() as u64 - 1);
    assert_eq!(s.world.owner, [0, 2], "nothing moves before the pause");
    s.run_until(HANDOVER_DELAY.as_millis() as u64 + 1);
    assert_eq!(s.world.owner, [2, 2], "B runs A's group");
    assert!(s
        .logs(1)
        .iter()
        .any(|l| l == "offering the local groups that failed here to the other node"));
}

/// Two start failures of different sets before the first hand-over: both sets
/// wait to be offered (the second does not replace the first).
#[test]
fn a_second_start_failure_adds_to_the_waiting_hand_over() {
    let mut s = a_failed_its_own_group_at_start();
    let first = s.a.handover.expect("A's group waits to be offered");
    assert_eq!(first.1, Hold::LOCAL);
    // B dies; A takes B's group and retries its own: both fail.
    s.b_up = false;
    s.fail_more = vec![(1, Hold::FOREIGN), (1, Hold::LOCAL)];
    let now = s.at();
    s.a.peer_dead(now, "b", true);
    s.settle();
    assert_eq!(
        s.a.handover,
        Some((first.0, Hold::ALL)),
        "both sets wait, at the first one's time"
    );
}

/// A set waiting to be offered that then starts here after all is no longer
/// offered: A's own group failed at start; B dies, A's retry of its group
/// works and its takeover of B's group fails: only B's group waits.
#[test]
fn a_waiting_set_that_starts_after_all_is_not_offered() {
    let mut s = a_failed_its_own_group_at_start();
    let first = s.a.handover.expect("A's group waits to be offered");
    s.b_up = false;
    s.fail_more = vec![(1, Hold::FOREIGN)];
    let now = s.at();
    s.a.peer_dead(now, "b", true);
    s.settle();
    assert_eq!(s.world.owner[0], 1, "A's own group runs on A now");
    assert_eq!(s.a.handover, Some((first.0, Hold::FOREIGN)));
}

/// A standby whose release fails: the group stays on A (it still runs there),
/// B does not take it, B's side of the standby is cancelled, and a later
/// standby works.
#[test]
fn a_standby_whose_release_fails_keeps_the_group_and_cancels_the_peer() {
    let mut s = both_up(true);
    assert_eq!(s.world.owner, [1, 2]);
    s.stuck_once = Some((1, Hold::LOCAL));
    let now = s.at();
    s.a.standby(now, Hold::LOCAL);
    s.settle();
    s.run_until(12_000);
    assert_eq!(
        s.world.owner,
        [1, 2],
        "B never acquires what A could not release"
    );
    assert_eq!(
        s.a.holding(),
        Hold::LOCAL,
        "A still says it holds its group"
    );
    assert_eq!(s.b.holding(), Hold::LOCAL);
    assert!(s.logs(1).iter().any(|l| l.starts_with("Standby failed")));
    assert!(s
        .logs(2)
        .iter()
        .any(|l| l == "The other node could not release its resources: standby cancelled."));
    assert!(s.sent(1).iter().all(|m| !m.contains("info=done")));
    assert_eq!((s.a.rscstatus(), s.b.rscstatus()), ("local", "local"));
    // The operator fixed it: the next standby goes through.
    let now = s.at();
    s.a.standby(now, Hold::LOCAL);
    s.settle();
    s.run_until(13_000);
    assert_eq!(s.world.owner, [2, 2]);
}

/// A graceful stop whose release fails: the node stays, keeps (and says it
/// keeps) its group, the peer takes nothing; a second stop then works.
#[test]
fn a_stop_whose_release_fails_keeps_the_node_in() {
    let mut s = both_up(false);
    s.stuck_once = Some((1, Hold::ALL));
    let now = s.at();
    assert!(s.a.shutdown(now));
    s.settle();
    assert!(s
        .trace
        .iter()
        .any(|(_, n, a)| *n == 1 && *a == Action::ShutdownFailed));
    assert!(!s
        .trace
        .iter()
        .any(|(_, n, a)| *n == 1 && *a == Action::ShutdownReady));
    assert_eq!(s.world.owner, [1, 2]);
    assert_eq!(s.a.holding(), Hold::LOCAL);
    assert_eq!(s.a.state(), State::Stable);
    assert!(s.sent(1).iter().any(|m| {
        m == "t=resource rsc_hold=local rtype=full isstable=1 info=shutdown_failed partition_rule=1"
    }));
    let now = s.at();
    assert!(s.a.shutdown(now));
    s.settle();
    assert!(s
        .trace
        .iter()
        .any(|(_, n, a)| *n == 1 && *a == Action::ShutdownReady));
    assert_eq!(s.world.owner, [0, 2]);
}

/// A cluster of one node takes its groups at comm-up and can stop gracefully.
#[test]
fn a_lone_node_takes_its_groups_and_stops() {
    let mut n = NiceFailback::new(false);
    let now = Now::at_millis(0);
    n.alone();
    let acts: Vec<Action> = std::iter::from_fn(|| n.poll_action()).collect();
    assert!(acts.contains(&Action::Acquire(Hold::LOCAL)), "{acts:?}");
    n.done(now, true);
    assert_eq!(n.rscstatus(), "local");
    assert!(n.shutdown(now));
    let acts: Vec<Action> = std::iter::from_fn(|| n.poll_action()).collect();
    assert!(acts.contains(&Action::Release(Hold::ALL)), "{acts:?}");
    n.done(now, true);
    let acts: Vec<Action> = std::iter::from_fn(|| n.poll_action()).collect();
    assert_eq!(acts.last(), Some(&Action::ShutdownReady));
}

// ---- healed partitions: what the peer reports must be what runs there ----------

fn drain(n: &mut NiceFailback) -> Vec<Action> {
    std::iter::from_fn(|| n.poll_action()).collect()
}

fn sends(acts: &[Action]) -> Vec<Message> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Send(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn releases(acts: &[Action]) -> Vec<Hold> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Release(h) => Some(*h),
            _ => None,
        })
        .collect()
}

/// A node that declared its peer dead without ever hearing it (initdead) and
/// now runs both groups, settled; `auto_failback off`.
fn holding_all(me: &str, now: Now) -> NiceFailback {
    holding_all_with(me, now, false)
}

fn holding_all_with(me: &str, now: Now, auto_failback: bool) -> NiceFailback {
    let mut n = NiceFailback::new(auto_failback).named(me);
    n.peer_dead(now, "peer", false);
    n.done(now, true);
    n.done(now, true);
    drain(&mut n);
    assert_eq!(n.rscstatus(), "all");
    n
}

/// Delivers `msgs` to `n` together (a burst, as after a retransmission), then
/// lets the same instant's timers run; what `n` did.
fn deliver(n: &mut NiceFailback, now: Now, msgs: &[Message]) -> Vec<Action> {
    for m in msgs {
        n.handle(now, false, m);
    }
    n.handle_timeout(now);
    drain(n)
}

/// Simulator seed 5106 without the simulator. B runs both groups. A restarts
/// on the other side of a one-way partition, declares B dead and starts both
/// groups; the start of B's group ends first, and A reports holding both while
/// the start of its own still runs. B, hearing A, must not give A's group up
/// yet: that start may fail (here it does), and the group would run nowhere.
/// When A's start succeeds, B gives it up as the partition rule says.
#[test]
fn a_healed_partition_gives_no_group_to_a_peer_still_starting_it() {
    for a_starts in [false, true] {
        let t = Now::at_millis;
        let mut b = holding_all("B", t(0));
        let mut a = NiceFailback::new(false).named("A");
        a.peer_dead(t(1_000), "B", false);
        let acts = drain(&mut a);
        assert!(acts.contains(&Action::Acquire(Hold::FOREIGN)), "{acts:?}");
        assert!(acts.contains(&Action::Acquire(Hold::LOCAL)), "{acts:?}");
        a.done(t(1_300), true);
        let reports = sends(&drain(&mut a));
        assert!(
            reports
                .iter()
                .any(|m| m.get_str("rsc_hold") == Some("all")
                    && m.get_str("acquiring") == Some("local")),
            "A reports both groups, its own still starting: {reports:?}"
        );
        let acts = deliver(&mut b, t(1_310), &reports);
        assert_eq!(releases(&acts), [], "a_starts {a_starts}: {acts:?}");

        a.done(t(1_600), a_starts);
        let reports = sends(&drain(&mut a));
        let acts = deliver(&mut b, t(1_610), &reports);
        b.handle_timeout(t(5_000));
        let mut acts = [acts, drain(&mut b)].concat();
        if a_starts {
            assert_eq!(releases(&acts), [Hold::FOREIGN], "{acts:?}");
            b.done(t(5_100), true);
            acts = drain(&mut b);
            assert_eq!(b.holding(), Hold::LOCAL, "{acts:?}");
        } else {
            assert_eq!(releases(&acts), [], "{acts:?}");
            assert_eq!(b.holding(), Hold::ALL);
        }
    }
}

/// Simulator seeds 14278 and 15085 without the simulator. B runs both groups;
/// A restarted on the other side of a one-way partition and runs its own group.
/// Its reports reach B only after a gap, in one burst: the report that it runs
/// its group, then its graceful stop. B reads the burst to its end before it
/// releases anything: A no longer runs the group, so B keeps it. (The report
/// alone, without the stop, makes B give A's group back.)
#[test]
fn a_burst_of_reports_is_read_to_its_end_before_a_group_is_released() {
    for stopped in [true, false] {
        let t = Now::at_millis;
        let mut b = holding_all("B", t(0));
        let mut a = NiceFailback::new(false).named("A");
        a.peer_dead(t(1_000), "B", false);
        drain(&mut a);
        a.done(t(1_200), false);
        a.done(t(1_400), true);
        let mut reports = sends(&drain(&mut a));
        assert_eq!(a.holding(), Hold::LOCAL);
        if stopped {
            assert!(a.shutdown(t(1_500)));
            a.done(t(1_600), true);
            let acts = drain(&mut a);
            assert_eq!(acts.last(), Some(&Action::ShutdownReady));
            reports.extend(sends(&acts));
        }
        let acts = deliver(&mut b, t(2_000), &reports);
        if stopped {
            b.peer_shutdown(t(2_000), "A");
            let acts = [acts, drain(&mut b)].concat();
            assert_eq!(releases(&acts), [], "{acts:?}");
            assert_eq!(b.holding(), Hold::ALL);
        } else {
            assert_eq!(releases(&acts), [Hold::FOREIGN], "{acts:?}");
        }
    }
}

/// Simulator seeds 5735, 6618, 14735 and 15166 without the simulator. A
/// started on its side of a partition, declared B dead without ever hearing
/// it, and runs both groups. B comes back (one way: it does not hear A) and
/// sends no partition report. A knows nothing of what B holds (B's starts
/// failed, say): it keeps both groups rather than leave B's on no node. A node
/// that had heard B's reports before applies the 3.0.6 rule (B restarts and
/// takes its own groups): it releases them.
#[test]
fn a_silent_peer_never_heard_from_gets_nothing_released() {
    let t = Now::at_millis;
    let mut a = holding_all("A", t(0));
    a.peer_returned(t(5_000), "B");
    drain(&mut a);
    a.handle_timeout(t(5_000 + PARTITION_REPLY_TIMEOUT.as_millis() as u64));
    let acts = drain(&mut a);
    assert_eq!(releases(&acts), [], "{acts:?}");
    assert_eq!(a.holding(), Hold::ALL);

    // The same after a report from B (a 3.0.6 one: no partition rule).
    let mut a = NiceFailback::new(false).named("A");
    a.comm_up(t(0));
    let mut report = Message::with_type("resource");
    report.push_str("rsc_hold", "local");
    report.push_str("rtype", "full");
    report.push_str("isstable", "1");
    a.handle(t(100), false, &report);
    a.done(t(200), true);
    a.peer_dead(t(3_000), "B", true);
    a.done(t(3_200), true);
    drain(&mut a);
    assert_eq!(a.holding(), Hold::ALL);
    a.peer_returned(t(5_000), "B");
    drain(&mut a);
    a.handle_timeout(t(5_000 + PARTITION_REPLY_TIMEOUT.as_millis() as u64));
    let acts = drain(&mut a);
    assert_eq!(releases(&acts), [Hold::FOREIGN], "{acts:?}");
}

/// Simulator seed 9803 (ipfail, `auto_failback on`), found with the release of
/// a healed partition carried out after the burst: until it is carried out it
/// counts as running work. B runs both groups after A's death and hears A's
/// partition report (A runs its own group). B's answer says it is not settled
/// (else A cancels a standby of B's that B just asked for, taking it for one
/// that spanned the partition, and B waits an hour in it), B is in transition,
/// and B's auto-failback of A's group waits: the heal gives it back.
#[test]
fn a_release_decided_at_a_heal_counts_as_running_work() {
    let t = Now::at_millis;
    let mut b = holding_all_with("B", t(0), true);
    let mut report = resource_msg(Hold::LOCAL, true, Some("partition"));
    report.push_str("src", "A");
    b.handle(t(1_000), false, &report);
    let acts = drain(&mut b);
    assert_eq!(releases(&acts), [], "carried out after the burst: {acts:?}");
    let ack = sends(&acts)
        .into_iter()
        .find(|m| m.get_str("info") == Some("partition-ack"))
        .expect("B answers the partition report");
    assert_eq!(ack.get_str("isstable"), Some("0"), "{ack:?}");
    assert_eq!(b.rscstatus(), "transition");
    b.perform_auto_failback(t(1_000));
    b.handle_timeout(t(1_000));
    let acts = drain(&mut b);
    assert_eq!(releases(&acts), [Hold::FOREIGN], "{acts:?}");
    assert!(
        !sends(&acts)
            .iter()
            .any(|m| m.get_str("t") == Some("ask_resources")),
        "no failback standby besides the heal's release: {acts:?}"
    );
    b.done(t(1_200), true);
    drain(&mut b);
    assert_eq!(b.holding(), Hold::LOCAL);
    assert_eq!(b.rscstatus(), "local");
}
