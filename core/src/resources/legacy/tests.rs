use super::*;

fn now() -> Now {
    Now::at_millis(1000)
}

/// n1's machine: its group `192.0.2.50/24/eth0` and n2's `svc2` and `198.51.100.7`.
fn n1() -> Legacy {
    Legacy::new(
        "n1",
        vec!["192.0.2.50/24/eth0".into()],
        vec!["198.51.100.7/24/eth0".into(), "svc2".into()],
    )
}

fn actions(l: &mut Legacy) -> Vec<Action> {
    std::iter::from_fn(|| l.poll_action()).collect()
}

/// The messages among the actions, as `t field=value ...`.
fn sent(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(m) => Some(describe(m)),
            _ => None,
        })
        .collect()
}

fn describe(m: &Message) -> String {
    let mut words = vec![m.get_str("t").unwrap_or("?").to_owned()];
    for f in ["dest", "ipaddr", "weown", "ok", "node", "result"] {
        if let Some(v) = m.get_str(f) {
            words.push(format!("{f}={v}"));
        }
    }
    words.join(" ")
}

fn runs(actions: &[Action]) -> Vec<Action> {
    actions
        .iter()
        .filter(|a| {
            matches!(
                a,
                Action::Acquire(_) | Action::Release(_) | Action::Reannounce(_)
            )
        })
        .cloned()
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

fn from_n2(t: &str, fields: &[(&str, &str)]) -> Message {
    let mut m = Message::with_type(t);
    for (k, v) in fields {
        m.push_str(k, v);
    }
    m.push_str("src", "n2");
    m
}

fn answer(key: &str, weown: &str, ok: &str) -> Message {
    from_n2(
        "ip-request-resp",
        &[
            ("dest", "n1"),
            ("ipaddr", key),
            ("weown", weown),
            ("ok", ok),
        ],
    )
}

fn request(key: &str) -> Message {
    from_n2("ip-request", &[("ipaddr", key)])
}

/// n1 comes up with n2 active: n1 asks n2 for its group, n2 answers, n1 takes it.
#[test]
fn with_the_other_node_active_we_ask_for_our_groups_and_take_them_once_answered() {
    let mut l = n1();
    l.peer_status("active");
    l.comm_up(now());
    let a = actions(&mut l);
    assert_eq!(sent(&a), ["ip-request ipaddr=192.0.2.50/24/eth0"]);
    assert!(
        runs(&a).is_empty(),
        "nothing taken before the answer: {a:?}"
    );
    assert_eq!(l.rscstatus(), "transition");
    assert_eq!(l.holding(), Hold::NONE);

    l.handle(now(), false, &answer("192.0.2.50/24/eth0", "yes", "OK"));
    let a = actions(&mut l);
    assert_eq!(runs(&a), [Action::Acquire(Hold::LOCAL)]);
    assert!(logs(&a).contains(&"received ip-request-resp 192.0.2.50/24/eth0 OK yes".to_owned()));
    assert_eq!(l.holding(), Hold::LOCAL);
    assert_eq!(l.peer_holds(), Hold::FOREIGN);
    l.done(now(), true);
    let a = actions(&mut l);
    assert!(
        logs(&a).contains(&"Initial resource acquisition complete (req_our_resources)".to_owned())
    );
    // 3.0.6 never records holdings in legacy mode.
    assert_eq!(l.rscstatus(), "none");
}

/// Each of our groups is asked for; we take them only when every one is answered.
#[test]
fn several_groups_are_taken_after_the_last_answer() {
    let mut l = Legacy::new("n1", vec!["a".into(), "b".into()], vec!["c".into()]);
    l.peer_status("active");
    l.comm_up(now());
    assert_eq!(
        sent(&actions(&mut l)),
        ["ip-request ipaddr=a", "ip-request ipaddr=b"]
    );
    l.handle(now(), false, &answer("b", "yes", "OK"));
    assert!(runs(&actions(&mut l)).is_empty(), "a is still on n2");
    assert_eq!(l.unanswered().collect::<Vec<_>>(), ["a"]);
    // An answer meant for n2 itself (its own HA_DONTASK reply) is not ours.
    let to_n2 = from_n2(
        "ip-request-resp",
        &[
            ("dest", "n2"),
            ("ipaddr", "a"),
            ("weown", "yes"),
            ("ok", "OK"),
        ],
    );
    l.handle(now(), false, &to_n2);
    assert!(runs(&actions(&mut l)).is_empty());
    l.handle(now(), false, &answer("a", "no", "OK"));
    assert_eq!(runs(&actions(&mut l)), [Action::Acquire(Hold::LOCAL)]);
    // A repeated answer changes nothing.
    l.handle(now(), false, &answer("a", "no", "OK"));
    assert!(runs(&actions(&mut l)).is_empty());
}

/// Communication came up on a packet of the other node that was not its
/// status (seen with 3.0.6 busy taking over): the decision to ask waits for its
/// status, so an active holder is asked, not doubled.
#[test]
fn comm_up_before_the_peer_status_waits_for_it() {
    let mut l = n1();
    l.comm_up(now());
    let a = actions(&mut l);
    assert!(runs(&a).is_empty() && sent(&a).is_empty(), "{a:?}");
    assert_eq!(l.rscstatus(), "transition");
    l.peer_status("active");
    assert_eq!(
        sent(&actions(&mut l)),
        ["ip-request ipaddr=192.0.2.50/24/eth0"]
    );
    // A starting peer holds nothing: we take ours.
    let mut l = n1();
    l.comm_up(now());
    l.peer_status("up");
    assert_eq!(runs(&actions(&mut l)), [Action::Acquire(Hold::LOCAL)]);
    // One that dies meanwhile: everything is ours.
    let mut l = n1();
    l.comm_up(now());
    l.peer_dead(now(), "n2", true);
    assert_eq!(
        runs(&actions(&mut l)),
        [Action::Acquire(Hold::FOREIGN), Action::Acquire(Hold::LOCAL)]
    );
    l.peer_status("active");
    assert!(runs(&actions(&mut l)).is_empty());
}

/// No other active node: take our groups at once, answering ourselves on the
/// wire as 3.0.6's req_resource does with HA_DONTASK.
#[test]
fn alone_at_comm_up_we_take_our_groups_without_asking() {
    let mut l = n1();
    l.peer_status("up");
    l.comm_up(now());
    let a = actions(&mut l);
    assert_eq!(
        sent(&a),
        ["ip-request-resp dest=n1 ipaddr=192.0.2.50/24/eth0 weown=yes ok=OK"]
    );
    assert_eq!(runs(&a), [Action::Acquire(Hold::LOCAL)]);
    assert_eq!(l.rscstatus(), "transition");
    l.done(now(), true);
    assert_eq!(l.rscstatus(), "none");
}

/// The other node asks for its groups: we release them, then answer each request.
#[test]
fn when_the_other_node_asks_for_its_groups_we_release_them_then_answer() {
    let mut l = n1();
    l.peer_status("up");
    l.comm_up(now());
    l.done(now(), true);
    actions(&mut l);
    l.peer_dead(now(), "n2", true);
    let a = actions(&mut l);
    assert_eq!(runs(&a), [Action::Acquire(Hold::FOREIGN)]);
    assert_eq!(sent(&a), ["stonith node=n2 result=n_stnth"]);
    l.done(now(), true);
    assert_eq!(l.holding(), Hold::ALL);
    actions(&mut l);

    // n2 returns and asks for both its groups, one after the other.
    l.peer_restarted("n2");
    l.peer_status("active");
    l.handle(now(), false, &request("198.51.100.7/24/eth0"));
    l.handle(now(), false, &request("svc2"));
    let a = actions(&mut l);
    assert_eq!(runs(&a), [Action::Release(Hold::FOREIGN)], "one release");
    assert!(sent(&a).is_empty(), "no answer before the release: {a:?}");
    assert_eq!(l.holding(), Hold::LOCAL);
    assert_eq!(l.move_reason(), MoveReason::Failback);
    l.done(now(), true);
    assert_eq!(
        sent(&actions(&mut l)),
        [
            "ip-request-resp dest=n2 ipaddr=198.51.100.7/24/eth0 weown=yes ok=OK",
            "ip-request-resp dest=n2 ipaddr=svc2 weown=yes ok=OK"
        ]
    );
    assert_eq!(l.peer_holds(), Hold::FOREIGN);
    // Asked again for what we no longer hold: answered at once.
    l.handle(now(), false, &request("svc2"));
    let a = actions(&mut l);
    assert!(runs(&a).is_empty());
    assert_eq!(
        sent(&a),
        ["ip-request-resp dest=n2 ipaddr=svc2 weown=no ok=OK"]
    );
}

/// The other node takes its group without asking (its start saw no other
/// active node; it says so by answering itself): we release our copy at once.
#[test]
fn a_peer_that_takes_its_group_unasked_makes_us_release_it() {
    let mut l = n1();
    l.peer_status("up");
    l.comm_up(now());
    l.peer_dead(now(), "n2", true);
    l.done(now(), true);
    l.done(now(), true);
    actions(&mut l);
    let self_answer = |key| {
        from_n2(
            "ip-request-resp",
            &[
                ("dest", "n2"),
                ("ipaddr", key),
                ("weown", "yes"),
                ("ok", "OK"),
            ],
        )
    };
    l.handle(now(), false, &self_answer("svc2"));
    let a = actions(&mut l);
    assert_eq!(runs(&a), [Action::Release(Hold::FOREIGN)]);
    assert!(sent(&a).is_empty());
    assert!(logs(&a)[0].contains("without asking"), "{a:?}");
    // Its second group's self-answer: already released.
    l.handle(now(), false, &self_answer("198.51.100.7/24/eth0"));
    assert!(runs(&actions(&mut l)).is_empty());
    l.done(now(), true);
    assert_eq!(l.holding(), Hold::LOCAL);
    assert_eq!(l.peer_holds(), Hold::FOREIGN);
    // One for our own group (differing files) moves nothing.
    l.handle(now(), false, &self_answer("192.0.2.50/24/eth0"));
    assert!(runs(&actions(&mut l)).is_empty());
}

/// A release that fails keeps the groups here and tells the requester no.
#[test]
fn a_failed_release_answers_deny_and_keeps_the_groups() {
    let mut l = n1();
    l.peer_status("up");
    l.comm_up(now());
    l.peer_dead(now(), "n2", true);
    l.done(now(), true);
    l.done(now(), true);
    actions(&mut l);
    l.handle(now(), false, &request("svc2"));
    actions(&mut l);
    l.done(now(), false);
    let a = actions(&mut l);
    assert_eq!(
        sent(&a),
        ["ip-request-resp dest=n2 ipaddr=svc2 weown=yes ok=DENY"]
    );
    assert_eq!(l.holding(), Hold::ALL);
    assert_eq!(l.move_reason(), MoveReason::ReleaseFailed);
}

/// A refused request (a 3.0.6 owner never refuses, ours does when its release
/// fails) leaves our groups where they run.
#[test]
fn a_refused_request_takes_nothing() {
    let mut l = n1();
    l.peer_status("active");
    l.comm_up(now());
    actions(&mut l);
    l.handle(now(), false, &answer("192.0.2.50/24/eth0", "yes", "DENY"));
    let a = actions(&mut l);
    assert!(runs(&a).is_empty());
    assert_eq!(l.holding(), Hold::NONE);
    assert!(logs(&a).iter().any(|t| t.contains("did not give up")));
}

/// The other node dies while our request is unanswered: we take everything.
#[test]
fn the_other_node_dying_before_it_answers_leaves_us_everything() {
    let mut l = n1();
    l.peer_status("active");
    l.comm_up(now());
    actions(&mut l);
    l.peer_dead(now(), "n2", true);
    let a = actions(&mut l);
    assert_eq!(
        runs(&a),
        [Action::Acquire(Hold::FOREIGN), Action::Acquire(Hold::LOCAL)]
    );
    assert!(logs(&a).contains(&"No STONITH device configured.".to_owned()));
    assert!(logs(&a).contains(&"Resources being acquired from n2.".to_owned()));
    assert_eq!(l.unanswered().count(), 0);
    // A late answer changes nothing.
    l.handle(now(), false, &answer("192.0.2.50/24/eth0", "yes", "OK"));
    assert!(runs(&actions(&mut l)).is_empty());
}

/// Declared dead before comm-up (initdead passed): everything is ours, once.
#[test]
fn a_peer_dead_before_comm_up_gives_us_everything_and_comm_up_adds_nothing() {
    let mut l = n1();
    l.peer_dead(now(), "n2", false);
    let a = actions(&mut l);
    assert_eq!(
        runs(&a),
        [Action::Acquire(Hold::FOREIGN), Action::Acquire(Hold::LOCAL)]
    );
    assert_eq!(sent(&a), ["stonith node=n2 result=n_stnth"]);
    l.comm_up(now());
    assert!(runs(&actions(&mut l)).is_empty());
}

/// A shutdown notice: take over at once; its later death needs no STONITH.
#[test]
fn a_shutdown_notice_hands_everything_over_and_the_death_after_it_is_harmless() {
    let mut l = n1();
    l.peer_status("active");
    l.comm_up(now());
    l.handle(now(), false, &answer("192.0.2.50/24/eth0", "no", "OK"));
    l.done(now(), true);
    actions(&mut l);
    l.peer_shutdown(now(), "n2");
    let a = actions(&mut l);
    assert_eq!(runs(&a), [Action::Acquire(Hold::FOREIGN)]);
    assert_eq!(l.move_reason(), MoveReason::PeerStopped);
    l.done(now(), true);
    actions(&mut l);
    l.peer_dead(now(), "n2", true);
    let a = actions(&mut l);
    assert_eq!(sent(&a), ["stonith node=n2 result=unneeded"]);
    assert!(logs(&a).contains(&"Dead node n2 gave up resources.".to_owned()));
    assert!(runs(&a).is_empty());
}

/// Graceful stop: everything is released, requests that arrive meanwhile are
/// answered after it, then the notice may go out. No `resource` message (3.0.6
/// sends none in legacy mode).
#[test]
fn a_graceful_stop_releases_everything_and_answers_requests_made_meanwhile() {
    let mut l = n1();
    l.peer_status("up");
    l.comm_up(now());
    l.peer_dead(now(), "n2", true);
    assert!(!l.shutdown(now()), "waits for the running acquisitions");
    assert!(logs(&actions(&mut l))
        .contains(&"Shutdown delayed until current resource activity finishes.".to_owned()));
    l.done(now(), true);
    l.done(now(), true);
    actions(&mut l);
    assert!(l.shutdown(now()));
    l.handle(now(), false, &request("svc2"));
    let a = actions(&mut l);
    assert_eq!(runs(&a), [Action::Release(Hold::ALL)]);
    assert!(sent(&a).is_empty(), "{a:?}");
    l.done(now(), true);
    let a = actions(&mut l);
    assert_eq!(
        sent(&a),
        ["ip-request-resp dest=n2 ipaddr=svc2 weown=yes ok=OK"]
    );
    assert_eq!(a.last(), Some(&Action::ShutdownReady));
    assert_eq!(l.holding(), Hold::NONE);
}

/// A stop whose release fails keeps the groups and the node.
#[test]
fn a_failed_stop_keeps_the_groups() {
    let mut l = n1();
    l.alone();
    l.done(now(), true);
    actions(&mut l);
    assert!(l.shutdown(now()));
    l.done(now(), false);
    let a = actions(&mut l);
    assert_eq!(a.last(), Some(&Action::ShutdownFailed));
    assert_eq!(l.holding(), Hold::LOCAL);
    // It may be tried again.
    assert!(l.shutdown(now()));
    assert_eq!(runs(&actions(&mut l)), [Action::Release(Hold::ALL)]);
}

/// A request for one of our own groups means the haresources files differ:
/// refused, named, nothing released.
#[test]
fn a_request_for_our_own_group_is_refused_as_a_configuration_mismatch() {
    let mut l = n1();
    l.alone();
    l.done(now(), true);
    actions(&mut l);
    l.handle(now(), false, &request("192.0.2.50/24/eth0"));
    let a = actions(&mut l);
    assert!(runs(&a).is_empty());
    assert_eq!(
        sent(&a),
        ["ip-request-resp dest=n2 ipaddr=192.0.2.50/24/eth0 weown=yes ok=DENY"]
    );
    assert!(
        logs(&a)[0].contains("the haresources files differ"),
        "{a:?}"
    );
    // An unknown group: we do not hold it, as 3.0.6 answers.
    l.handle(now(), false, &request("nosuch"));
    assert_eq!(
        sent(&actions(&mut l)),
        ["ip-request-resp dest=n2 ipaddr=nosuch weown=no ok=OK"]
    );
}

/// A peer restart loses our pending request: we ask again.
#[test]
fn a_restart_of_the_other_node_before_it_answers_makes_us_ask_again() {
    let mut l = n1();
    l.peer_status("active");
    l.comm_up(now());
    actions(&mut l);
    l.peer_restarted("n2");
    assert_eq!(
        sent(&actions(&mut l)),
        ["ip-request ipaddr=192.0.2.50/24/eth0"]
    );
    l.handle(now(), false, &answer("192.0.2.50/24/eth0", "no", "OK"));
    assert_eq!(runs(&actions(&mut l)), [Action::Acquire(Hold::LOCAL)]);
}

/// After a partition both hold everything: we release the other node's groups
/// and ask it for ours; its answer means it let go, and we announce ours again.
#[test]
fn a_healed_partition_leaves_each_group_on_its_preferred_node() {
    let mut l = n1();
    l.alone();
    l.done(now(), true);
    l.peer_dead(now(), "n2", true);
    l.done(now(), true);
    actions(&mut l);
    l.peer_returned(now(), "n2");
    let a = actions(&mut l);
    assert_eq!(runs(&a), [Action::Release(Hold::FOREIGN)]);
    assert_eq!(sent(&a), ["ip-request ipaddr=192.0.2.50/24/eth0"]);
    assert_eq!(l.move_reason(), MoveReason::PartitionHeal);
    l.done(now(), true);
    l.handle(now(), false, &answer("192.0.2.50/24/eth0", "yes", "OK"));
    assert_eq!(runs(&actions(&mut l)), [Action::Reannounce(Hold::LOCAL)]);
    assert_eq!(l.holding(), Hold::LOCAL);
    assert_eq!(l.rscstatus(), "none");
}

/// Standby and takeover belong to nice_failback: 3.0.6's words, nothing else.
#[test]
fn standby_messages_are_answered_with_3_0_6_words_only() {
    let mut l = n1();
    l.alone();
    l.done(now(), true);
    actions(&mut l);
    for t in ["ask_resources", "hb_takeover"] {
        l.handle(
            now(),
            false,
            &from_n2(t, &[("rsc_hold", "all"), ("info", "me")]),
        );
        let a = actions(&mut l);
        assert_eq!(
            logs(&a),
            ["Standby mode only implemented when nice_failback on"]
        );
        assert!(runs(&a).is_empty() && sent(&a).is_empty());
    }
    // A nice_failback peer is named once.
    l.handle(now(), false, &from_n2("starting", &[]));
    l.handle(now(), false, &from_n2("starting", &[]));
    let a = actions(&mut l);
    assert_eq!(logs(&a).len(), 1);
    assert!(logs(&a)[0].contains("do not work together"));
}

mod wired {
    //! Legacy inside a whole [`Node`], as the daemon runs it.
    use std::time::Duration;

    use crate::membership::{Membership, MembershipConfig};
    use crate::node::{Node, Output, Refused};
    use crate::resources::legacy::Legacy;
    use crate::resources::nice::Hold;
    use crate::time::Now;
    use crate::wire::Message;

    fn node() -> Node {
        let ms = Duration::from_millis;
        let cfg = MembershipConfig {
            me: "n1".into(),
            nodes: vec!["n1".into(), "n2".into()],
            ping: Vec::new(),
            deadping: ms(6000),
            links: vec!["eth1".into()],
            keepalive: ms(1000),
            deadtime: ms(6000),
            warntime: ms(3000),
            initdead: ms(12_000),
            max_rexmit_delay: ms(250),
            hopfudge: 1,
            uuid: [1; 16],
            generation: 100,
            seed: 42,
        };
        let mut n = Node::new(Membership::new(cfg, Now::at_millis(0))).with_resources(Legacy::new(
            "n1",
            vec!["192.0.2.50".into()],
            vec!["svc2".into()],
        ));
        n.start(Now::at_millis(0));
        n
    }

    fn status_from_n2(st: &str, seq: u64) -> Message {
        let mut m = Message::with_type("status");
        m.push_str("st", st);
        m.push_str("dt", "1770");
        m.push_str("src", "n2");
        m.push_str("seq", format!("{seq:x}"));
        m.push_str("hg", "7");
        m.push_str("ts", "6b075b63");
        m
    }

    fn outputs(n: &mut Node) -> Vec<Output> {
        std::iter::from_fn(|| n.poll_output()).collect()
    }

    fn sent_types(out: &[Output]) -> Vec<String> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send(m) if m.get_str("t") != Some("status") => Some(format!(
                    "{} {}",
                    m.get_str("t").unwrap_or("?"),
                    m.get_str("ipaddr").unwrap_or("")
                )),
                _ => None,
            })
            .collect()
    }

    /// The peer's first status says `active`: at comm-up the node asks it for
    /// its group instead of taking it.
    #[test]
    fn an_active_peer_at_comm_up_is_asked_for_our_groups() {
        let mut n = node();
        outputs(&mut n);
        n.handle_message(Now::at_millis(500), 0, status_from_n2("active", 1));
        let out = outputs(&mut n);
        assert_eq!(sent_types(&out), ["ip-request 192.0.2.50"], "{out:?}");
        assert!(!out.iter().any(|o| matches!(o, Output::Run { .. })));
        assert_eq!(n.resources().map(|r| r.rscstatus()), Some("transition"));
    }

    /// A peer that is only `up` (starting too) is not asked: we take ours.
    #[test]
    fn a_starting_peer_at_comm_up_is_not_asked() {
        let mut n = node();
        outputs(&mut n);
        n.handle_message(Now::at_millis(500), 0, status_from_n2("up", 1));
        let out = outputs(&mut n);
        assert!(
            out.contains(&Output::Run {
                acquire: true,
                set: Hold::LOCAL
            }),
            "{out:?}"
        );
        assert_eq!(sent_types(&out), ["ip-request-resp 192.0.2.50"]);
    }

    /// The peer, back after we took its group, takes it without asking (it
    /// came up before it saw us active): its answer to itself reaches the
    /// resource protocol, which releases our copy.
    #[test]
    fn a_peer_answering_itself_makes_us_release_its_group() {
        let mut n = node();
        n.handle_message(Now::at_millis(500), 0, status_from_n2("up", 1));
        n.groups_done(Now::at_millis(600), true);
        // n2 dies; we take its group.
        n.handle_timeout(Now::at_millis(8_000));
        let out = outputs(&mut n);
        let take = Output::Run {
            acquire: true,
            set: Hold::FOREIGN,
        };
        assert!(out.contains(&take), "{out:?}");
        n.groups_done(Now::at_millis(8_100), true);
        outputs(&mut n);
        // n2 restarts (generation 8) and answers itself for its group.
        let restarted = |t: &str, seq: u64| {
            let mut m = status_from_n2("active", seq);
            m.set_str("hg", "8");
            m.set_str("t", t);
            m
        };
        let mut first = restarted("status", 1);
        first.set_str("st", "init");
        n.handle_message(Now::at_millis(9_000), 0, first);
        n.handle_message(Now::at_millis(9_050), 0, restarted("status", 2));
        let mut m = restarted("ip-request-resp", 3);
        for (k, v) in [
            ("dest", "n2"),
            ("ipaddr", "svc2"),
            ("weown", "yes"),
            ("ok", "OK"),
        ] {
            m.push_str(k, v);
        }
        n.handle_message(Now::at_millis(9_100), 0, m);
        let out = outputs(&mut n);
        let release = Output::Run {
            acquire: false,
            set: Hold::FOREIGN,
        };
        assert_eq!(
            out.iter()
                .filter(|o| matches!(o, Output::Run { .. }))
                .collect::<Vec<_>>(),
            [&release],
            "{out:#?}"
        );
        assert!(
            out.iter()
                .any(|o| matches!(o, Output::Log(_, t) if t.contains("without asking"))),
            "{out:#?}"
        );
    }

    /// `heartbeat standby` and `takeover` are refused in legacy mode, with
    /// 3.0.6's words.
    #[test]
    fn standby_and_takeover_are_refused() {
        let mut n = node();
        n.handle_message(Now::at_millis(500), 0, status_from_n2("up", 1));
        n.groups_done(Now::at_millis(600), true);
        outputs(&mut n);
        assert_eq!(
            n.standby(Now::at_millis(700), Hold::ALL),
            Err(Refused::Legacy)
        );
        assert_eq!(
            n.takeover(Now::at_millis(700), Hold::ALL),
            Err(Refused::Legacy)
        );
        assert!(Refused::Legacy
            .to_string()
            .contains("auto_failback is set to legacy.  Cannot enter standby."));
        assert!(outputs(&mut n)
            .iter()
            .all(|o| !matches!(o, Output::Send(m) if m.get_str("t") == Some("hb_takeover"))));
    }
}
