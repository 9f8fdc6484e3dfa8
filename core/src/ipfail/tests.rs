//! ipfail decisions (spec §10), on virtual time. n1 is us, n2 the peer;
//! keepalive 200 ms (give-up delay 1 s), hold (deadping) 2 s.

use std::time::Duration;

use super::*;

const HOLD: u64 = 2000;

fn now(ms: u64) -> Now {
    Now::at_millis(ms)
}

fn ipfail(pings: &[&str], auto_failback: bool) -> Ipfail {
    Ipfail::new(IpfailConfig {
        peer: "n2".into(),
        auto_failback,
        keepalive: Duration::from_millis(200),
        hold: Duration::from_millis(HOLD),
        ping_nodes: pings.iter().map(|s| (*s).to_owned()).collect(),
    })
}

const HOLDING_LOCAL: View = View {
    holding: Hold::LOCAL,
    settled: true,
    peer_up: true,
};

fn drain(f: &mut Ipfail) -> Vec<Action> {
    std::iter::from_fn(|| f.poll_action()).collect()
}

/// The messages sent, as `t` or `t=num_ping`.
fn sent(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(m) => {
                let t = m.get_str("t").unwrap_or("?").to_owned();
                Some(match m.get_str("num_ping") {
                    Some(n) => format!("{t}={n}"),
                    None => t,
                })
            }
            _ => None,
        })
        .collect()
}

fn gave_up(actions: &[Action]) -> Vec<Hold> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::GiveUp(h) => Some(*h),
            _ => None,
        })
        .collect()
}

fn logs(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Log(_, t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

fn from_peer(t: &str, num: Option<usize>) -> Message {
    let mut m = Message::with_type(t);
    m.push_str("src", "n2");
    m.push_str("dest", "n1");
    if let Some(n) = num {
        m.push_str("num_ping", n.to_string());
    }
    m.push_str("from_id", "ipfail");
    m
}

/// Comm up at 0 and every ping node answering since 0: counted and ready at
/// HOLD, our count sent; the peer reported the same count.
fn ready(pings: &[&str], auto_failback: bool, view: View) -> Ipfail {
    let mut f = ipfail(pings, auto_failback);
    f.comm_up(now(0), view);
    for p in pings {
        f.ping_up(now(0), p, view);
    }
    assert!(
        sent(&drain(&mut f)).is_empty(),
        "nothing before the hold time"
    );
    f.handle_timeout(now(HOLD), view);
    let a = drain(&mut f);
    assert_eq!(
        sent(&a),
        vec![
            "hbapi-clstat".to_owned(),
            format!("num_ping_nodes={}", pings.len())
        ]
    );
    f.handle(
        now(HOLD),
        &from_peer("num_ping_nodes", Some(pings.len())),
        view,
    );
    let a = drain(&mut f);
    assert_eq!(sent(&a), vec!["abort_giveup"], "{a:?}");
    f
}

/// Our count is sent with 3.0.6 ipfail's fields, to the peer.
#[test]
fn the_count_goes_to_the_peer_as_3_0_6_ipfail_sends_it() {
    let mut f = ipfail(&["192.0.2.254"], false);
    f.comm_up(now(0), HOLDING_LOCAL);
    f.ping_up(now(0), "192.0.2.254", HOLDING_LOCAL);
    f.handle_timeout(now(HOLD), HOLDING_LOCAL);
    let a = drain(&mut f);
    let msgs: Vec<&Message> = a
        .iter()
        .filter_map(|a| match a {
            Action::Send(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(msgs[0].get_str("t"), Some("hbapi-clstat"));
    assert_eq!(msgs[0].get_str("st"), Some("join"));
    assert_eq!(msgs[0].get_str("from_id"), Some("ipfail"));
    assert_eq!(msgs[0].get_str("to_id"), Some("ipfail"));
    assert_eq!(msgs[0].get_str("info"), Some("signon"));
    assert_eq!(msgs[0].get_str("dest"), None, "a join goes to the cluster");
    assert_eq!(msgs[1].get_str("t"), Some("num_ping_nodes"));
    assert_eq!(msgs[1].get_str("dest"), Some("n2"));
    assert_eq!(msgs[1].get_str("num_ping"), Some("1"));
    assert_eq!(msgs[1].get_str("from_id"), Some("ipfail"));
    assert_eq!(msgs[1].get_str("to_id"), Some("ipfail"));
}

/// Fewer ping nodes than the peer: after the delay, what we hold goes to it.
#[test]
fn fewer_ping_nodes_than_the_peer_gives_our_groups_up_after_the_delay() {
    let mut f = ready(&["a", "b"], false, HOLDING_LOCAL);
    f.ping_dead(now(5000), "a", HOLDING_LOCAL);
    let a = drain(&mut f);
    assert_eq!(sent(&a), vec!["num_ping_nodes=1"]);
    assert!(logs(&a).contains(&"Giving up because we have less visible ping nodes.".to_owned()));
    assert_eq!(f.poll_timeout().map(Instant::as_millis), Some(6000));
    f.handle_timeout(now(5999), HOLDING_LOCAL);
    assert!(gave_up(&drain(&mut f)).is_empty());
    f.handle_timeout(now(6000), HOLDING_LOCAL);
    assert_eq!(gave_up(&drain(&mut f)), vec![Hold::LOCAL]);
    assert!(!f.giveup_pending());
}

/// A reload's keepalive: the next give-up waits 2 × the new keepalive.
#[test]
fn a_new_keepalive_sets_the_next_giveup_delay() {
    let mut f = ready(&["a", "b"], false, HOLDING_LOCAL);
    f.set_keepalive(Duration::from_secs(2));
    f.ping_dead(now(5000), "a", HOLDING_LOCAL);
    drain(&mut f);
    assert_eq!(f.poll_timeout().map(Instant::as_millis), Some(9000));
}

/// More ping nodes than the peer: we tell it `you_are_dead`, and never give up.
#[test]
fn more_ping_nodes_than_the_peer_answers_you_are_dead() {
    let mut f = ready(&["a", "b"], false, HOLDING_LOCAL);
    f.handle(
        now(5000),
        &from_peer("num_ping_nodes", Some(1)),
        HOLDING_LOCAL,
    );
    let a = drain(&mut f);
    assert_eq!(sent(&a), vec!["you_are_dead"]);
    assert!(!f.giveup_pending());
    f.handle_timeout(now(60_000), HOLDING_LOCAL);
    assert!(gave_up(&drain(&mut f)).is_empty());
}

/// The peer says we are worse (`you_are_dead`, as 3.0.6 ipfail answers).
#[test]
fn you_are_dead_gives_up_after_the_delay_and_abort_giveup_cancels() {
    let mut f = ready(&["a"], false, HOLDING_LOCAL);
    f.ping_dead(now(5000), "a", HOLDING_LOCAL);
    f.handle(now(5010), &from_peer("you_are_dead", None), HOLDING_LOCAL);
    let a = drain(&mut f);
    assert!(logs(&a)
        .contains(&"Giving up because we were told that we have less ping nodes.".to_owned()));
    assert_eq!(
        f.poll_timeout().map(Instant::as_millis),
        Some(6000),
        "not postponed"
    );
    f.handle(now(5500), &from_peer("abort_giveup", None), HOLDING_LOCAL);
    assert!(logs(&drain(&mut f)).contains(&"Aborted delayed giveup (all)".to_owned()));
    f.handle_timeout(now(6000), HOLDING_LOCAL);
    assert!(gave_up(&drain(&mut f)).is_empty());
}

/// A tie: `abort_giveup`, and nothing moves.
#[test]
fn equal_counts_abort_and_move_nothing() {
    let mut f = ready(&["a", "b"], true, HOLDING_LOCAL);
    f.handle(
        now(5000),
        &from_peer("num_ping_nodes", Some(2)),
        HOLDING_LOCAL,
    );
    assert_eq!(sent(&drain(&mut f)), vec!["abort_giveup"]);
    f.handle_timeout(now(60_000), HOLDING_LOCAL);
    assert!(gave_up(&drain(&mut f)).is_empty());
    assert!(
        !f.giveup_pending(),
        "we hold no foreign groups to give back"
    );
}

/// Both nodes lose the ping node, one ping interval apart: the first to notice
/// schedules a give-up, the other's report balances the counts and cancels it.
#[test]
fn both_nodes_losing_the_ping_node_moves_nothing() {
    let mut f = ready(&["a"], false, HOLDING_LOCAL);
    f.ping_dead(now(5000), "a", HOLDING_LOCAL);
    // The peer still sees it for one more ping interval and says so.
    f.handle(now(5010), &from_peer("you_are_dead", None), HOLDING_LOCAL);
    f.handle(
        now(5200),
        &from_peer("num_ping_nodes", Some(0)),
        HOLDING_LOCAL,
    );
    let a = drain(&mut f);
    assert!(sent(&a).contains(&"abort_giveup".to_owned()));
    assert!(!f.giveup_pending());
    f.handle_timeout(now(7000), HOLDING_LOCAL);
    assert!(gave_up(&drain(&mut f)).is_empty());
}

/// The peer dies while a give-up is pending: nothing is given up (and the
/// resource protocol takes the peer's groups over as after any death).
#[test]
fn the_peer_dying_cancels_a_pending_giveup() {
    let mut f = ready(&["a"], false, HOLDING_LOCAL);
    f.ping_dead(now(5000), "a", HOLDING_LOCAL);
    assert!(f.giveup_pending());
    f.peer_gone();
    let a = drain(&mut f);
    assert!(
        logs(&a).contains(&"NS: We are dead. :<".to_owned()),
        "{a:?}"
    );
    assert!(!f.giveup_pending());
    f.handle_timeout(now(6000), HOLDING_LOCAL);
    assert!(gave_up(&drain(&mut f)).is_empty());
    assert_eq!(f.peer_count(), None);
}

/// A give-up that comes due while the peer is already down (its death not yet
/// declared) is dropped.
#[test]
fn a_due_giveup_is_dropped_when_the_peer_is_not_up() {
    let mut f = ready(&["a"], false, HOLDING_LOCAL);
    f.ping_dead(now(5000), "a", HOLDING_LOCAL);
    let down = View {
        peer_up: false,
        ..HOLDING_LOCAL
    };
    f.handle_timeout(now(6000), down);
    assert!(gave_up(&drain(&mut f)).is_empty());
    assert!(!f.giveup_pending());
}

/// Resources in transition: the give-up waits, re-checked every second.
#[test]
fn a_giveup_waits_for_resources_to_settle() {
    let mut f = ready(&["a"], false, HOLDING_LOCAL);
    f.ping_dead(now(5000), "a", HOLDING_LOCAL);
    let busy = View {
        settled: false,
        ..HOLDING_LOCAL
    };
    f.handle_timeout(now(6000), busy);
    assert!(gave_up(&drain(&mut f)).is_empty());
    assert_eq!(f.poll_timeout().map(Instant::as_millis), Some(7000));
    f.handle_timeout(now(7000), HOLDING_LOCAL);
    assert_eq!(gave_up(&drain(&mut f)), vec![Hold::LOCAL]);
}

/// Holding nothing, there is nothing to give up.
#[test]
fn nothing_held_nothing_given_up() {
    let none = View {
        holding: Hold::NONE,
        ..HOLDING_LOCAL
    };
    let mut f = ready(&["a"], false, none);
    f.ping_dead(now(5000), "a", none);
    f.handle_timeout(now(6000), none);
    assert!(gave_up(&drain(&mut f)).is_empty());
}

/// Hysteresis: a ping node that comes back counts only after answering for the
/// hold time; one that dies again before does not change the count at all.
#[test]
fn a_flapping_ping_node_never_counts_again() {
    let mut f = ready(&["a"], true, HOLDING_LOCAL);
    f.ping_dead(now(5000), "a", HOLDING_LOCAL);
    drain(&mut f);
    let mut t = 5000;
    for _ in 0..10 {
        // Up for less than the hold time, then dead again.
        f.ping_up(now(t + 100), "a", HOLDING_LOCAL);
        f.handle_timeout(now(t + 100 + HOLD - 1), HOLDING_LOCAL);
        f.ping_dead(now(t + 100 + HOLD - 1), "a", HOLDING_LOCAL);
        t += 3000;
    }
    let a = drain(&mut f);
    assert!(sent(&a).is_empty(), "the count never changed: {a:?}");
    assert_eq!(f.count(), 0);
    // Answering for the hold time, it counts again.
    f.ping_up(now(t), "a", HOLDING_LOCAL);
    f.handle_timeout(now(t + HOLD), HOLDING_LOCAL);
    assert_eq!(sent(&drain(&mut f)), vec!["num_ping_nodes=1"]);
}

/// auto_failback on: once the counts balance, the node holding the other's
/// groups gives them back; with off, nothing moves.
#[test]
fn balanced_counts_give_foreign_groups_back_only_with_auto_failback_on() {
    let holding_all = View {
        holding: Hold::ALL,
        ..HOLDING_LOCAL
    };
    for af in [true, false] {
        let mut f = ready(&["a"], af, HOLDING_LOCAL);
        // We took the peer's groups when it lost its ping node; it sees it again.
        f.handle(
            now(5000),
            &from_peer("num_ping_nodes", Some(0)),
            HOLDING_LOCAL,
        );
        drain(&mut f);
        f.handle(
            now(20_000),
            &from_peer("num_ping_nodes", Some(1)),
            holding_all,
        );
        let a = drain(&mut f);
        assert_eq!(sent(&a), vec!["abort_giveup"]);
        f.handle_timeout(now(21_000), holding_all);
        let given = gave_up(&drain(&mut f));
        if af {
            assert_eq!(given, vec![Hold::FOREIGN], "auto_failback on");
        } else {
            assert!(given.is_empty(), "auto_failback off");
        }
    }
}

/// A ping group is one ping node: the count is of groups, whatever the
/// members do (membership keeps the group up while any member answers).
#[test]
fn a_ping_group_counts_once() {
    let mut f = ready(&["uplinks", "192.0.2.254"], false, HOLDING_LOCAL);
    assert_eq!(f.count(), 2);
    f.ping_dead(now(5000), "192.0.2.254", HOLDING_LOCAL);
    assert_eq!(sent(&drain(&mut f)), vec!["num_ping_nodes=1"]);
}

/// Before our ping nodes are known, counts from the peer are kept but not
/// acted on: a starting node never gives its groups away at once.
#[test]
fn nothing_is_decided_before_the_ping_nodes_are_known() {
    let mut f = ipfail(&["a"], false);
    f.comm_up(now(0), HOLDING_LOCAL);
    f.ping_up(now(0), "a", HOLDING_LOCAL);
    f.handle(
        now(100),
        &from_peer("num_ping_nodes", Some(1)),
        HOLDING_LOCAL,
    );
    f.handle(now(100), &from_peer("you_are_dead", None), HOLDING_LOCAL);
    assert!(sent(&drain(&mut f)).is_empty());
    assert!(!f.giveup_pending());
    f.handle_timeout(now(HOLD), HOLDING_LOCAL);
    let a = drain(&mut f);
    assert_eq!(sent(&a), vec!["hbapi-clstat", "num_ping_nodes=1"]);
    assert!(!f.giveup_pending(), "counts balance");
}

/// Another node's ipfail joining (3.0.6 sends `hbapi-clstat st=join`) gets our count.
#[test]
fn a_joining_peer_ipfail_gets_our_count() {
    let mut f = ready(&["a"], false, HOLDING_LOCAL);
    let mut join = Message::with_type("hbapi-clstat");
    join.push_str("src", "n2");
    join.push_str("st", "join");
    join.push_str("from_id", "ipfail");
    f.handle(now(9000), &join, HOLDING_LOCAL);
    assert_eq!(sent(&drain(&mut f)), vec!["num_ping_nodes=1"]);
}

/// Messages from anyone but the peer are ignored.
#[test]
fn only_the_peers_messages_count() {
    let mut f = ready(&["a"], false, HOLDING_LOCAL);
    let mut m = from_peer("you_are_dead", None);
    m.set_str("src", "n1");
    f.handle(now(5000), &m, HOLDING_LOCAL);
    assert!(!f.giveup_pending());
}
