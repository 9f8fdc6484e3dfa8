//! Membership behaviours, each a plain test on virtual time (spec §3-§7).

use std::time::Duration;

use super::*;

const MS: fn(u64) -> Duration = Duration::from_millis;

fn config(me: &str, nodes: &[&str]) -> MembershipConfig {
    MembershipConfig {
        me: me.into(),
        nodes: nodes.iter().map(|s| (*s).to_owned()).collect(),
        ping: Vec::new(),
        deadping: MS(6000),
        links: vec!["eth1".into(), "/dev/ttyS0".into()],
        keepalive: MS(1000),
        deadtime: MS(6000),
        warntime: MS(3000),
        initdead: MS(12_000),
        max_rexmit_delay: MS(250),
        hopfudge: 1,
        uuid: [if me == "n1" { 1 } else { 2 }; 16],
        generation: 100,
        seed: 42,
    }
}

fn drain(m: &mut Membership) -> Vec<Command> {
    std::iter::from_fn(|| m.poll_command()).collect()
}

fn events(cmds: &[Command]) -> Vec<Event> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Notify(Event::Dropped(_) | Event::StatusInterval { .. }) => None,
            Command::Notify(e) => Some(e.clone()),
            Command::Send(_) => None,
        })
        .collect()
}

fn sent(cmds: &[Command]) -> Vec<Message> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Send(m) => Some(m.clone()),
            Command::Notify(_) => None,
        })
        .collect()
}

/// A peer's status message as n2 would send it.
fn status_from(node: &str, gen: u64, seq: u64, st: &str) -> Message {
    let mut m = Message::with_type("status");
    m.push_str("st", st);
    m.push_str("dt", "1770");
    m.push_str("protocol", "1");
    m.push_str("src", node);
    m.push_bin("srcuuid", [2u8; 16]);
    m.push_str("seq", format!("{seq:x}"));
    m.push_str("hg", format!("{gen:x}"));
    m.push_str("ts", "6b075b63");
    m.push_str("ld", "0.00 0.00 0.00 1/1 1");
    m.push_str("ttl", "3");
    m
}

/// n1 started at t=0, n2 heard at t=0 (comm up), with commands drained.
fn started_pair() -> Membership {
    let mut m = Membership::new(config("n1", &["n1", "n2"]), Now::at_millis(0));
    m.start(Now::at_millis(0));
    m.handle_message(Now::at_millis(0), 0, status_from("n2", 7, 1, "up"));
    drain(&mut m);
    m
}

fn names(msgs: &[Message]) -> Vec<Vec<String>> {
    msgs.iter()
        .map(|m| m.fields().iter().map(|f| f.name.clone()).collect())
        .collect()
}

#[test]
fn start_sends_init_then_up_with_3_0_6_fields_and_startup_deadtime() {
    let mut m = Membership::new(config("n1", &["n1", "n2"]), Now::at_millis(0));
    m.start(Now::at_millis(0));
    let cmds = drain(&mut m);
    let msgs = sent(&cmds);
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].get_str("st"), Some("init"));
    assert_eq!(msgs[1].get_str("st"), Some("up"));
    assert_eq!(events(&cmds), vec![Event::LocalStatus(NodeStatus::Up)]);
    let order = [
        "t", "st", "dt", "protocol", "src", "srcuuid", "seq", "hg", "ts", "ld", "ttl",
    ];
    assert_eq!(
        names(&msgs)[0],
        order.map(String::from).to_vec(),
        "field order of a real status"
    );
    // deadtime 6 s plus the 2 s start-up margin: dt=1f40, as the capture shows.
    assert_eq!(msgs[0].get_str("dt"), Some("1f40"));
    assert_eq!(msgs[0].get_str("seq"), Some("1"));
    assert_eq!(msgs[1].get_str("seq"), Some("2"));
    assert_eq!(msgs[0].get_str("hg"), Some("64"));
    assert_eq!(msgs[0].get_str("ttl"), Some("3"), "hopfudge 1 + 2 nodes");
    assert_eq!(msgs[0].get_bin("srcuuid"), Some(&[1u8; 16][..]));
}

#[test]
fn a_single_node_cluster_is_active_at_once() {
    let mut m = Membership::new(config("n1", &["n1"]), Now::at_millis(0));
    m.start(Now::at_millis(0));
    let ev = events(&drain(&mut m));
    assert_eq!(
        ev,
        vec![
            Event::LocalStatus(NodeStatus::Up),
            Event::CommUp,
            Event::LocalStatus(NodeStatus::Active)
        ]
    );
}

#[test]
fn keepalive_sends_status_every_period_and_dt_drops_the_margin_after_5s() {
    let mut m = Membership::new(config("n1", &["n1"]), Now::at_millis(0));
    m.start(Now::at_millis(0));
    drain(&mut m);
    let mut times = Vec::new();
    let mut last_dt = String::new();
    while let Some(t) = m.poll_timeout() {
        if t.as_millis() > 7000 {
            break;
        }
        m.handle_timeout(Now::at_millis(t.as_millis()));
        for msg in sent(&drain(&mut m)) {
            times.push(t.as_millis());
            last_dt = msg.get_str("dt").unwrap_or_default().to_owned();
        }
    }
    assert_eq!(times, vec![1000, 2000, 3000, 4000, 5000, 6000, 7000]);
    assert_eq!(last_dt, "1770", "6000 ms once the start-up window is over");
}

#[test]
fn peer_heard_brings_link_up_status_and_comm_up() {
    let mut m = Membership::new(config("n1", &["n1", "n2"]), Now::at_millis(0));
    m.start(Now::at_millis(0));
    drain(&mut m);
    m.handle_message(Now::at_millis(300), 0, status_from("n2", 7, 1, "up"));
    let ev = events(&drain(&mut m));
    assert_eq!(
        ev,
        vec![
            Event::LinkUp {
                node: "n2".into(),
                link: "eth1".into()
            },
            Event::StatusUpdate {
                node: "n2".into(),
                status: "up".into()
            },
            Event::CommUp,
            Event::LocalStatus(NodeStatus::Active),
        ]
    );
    assert_eq!(ev[0].to_string(), "Link n2:eth1 up.");
    assert_eq!(ev[1].to_string(), "Status update for node n2: status up");
    assert_eq!(m.node_status("n2"), Some(NodeStatus::Up));
    assert_eq!(m.local_status(), NodeStatus::Active);
}

/// `deadtime`: a node silent for deadtime (its own `dt`) is dead, not a millisecond before.
#[test]
fn silence_for_deadtime_declares_the_node_dead() {
    let mut m = started_pair();
    m.handle_message(Now::at_millis(1000), 0, status_from("n2", 7, 2, "active"));
    drain(&mut m);
    // dt=1770 (6000 ms) from n2's status.
    m.handle_timeout(Now::at_millis(6999));
    assert!(!events(&drain(&mut m))
        .iter()
        .any(|e| matches!(e, Event::NodeDead { .. })));
    assert_eq!(m.poll_timeout().map(Instant::as_millis), Some(7000));
    m.handle_timeout(Now::at_millis(7000));
    let ev = events(&drain(&mut m));
    assert!(
        ev.contains(&Event::NodeDead { node: "n2".into() }),
        "{ev:?}"
    );
    assert!(ev.contains(&Event::LinkDead {
        node: "n2".into(),
        link: "eth1".into()
    }));
    assert_eq!(
        Event::NodeDead { node: "n2".into() }.to_string(),
        "node n2: is dead"
    );
    assert_eq!(m.node_status("n2"), Some(NodeStatus::Dead));
}

/// The journal says what a death was decided on: the silence since the last
/// status, the dead time that applied, and each medium's own silence.
#[test]
fn silence_reports_what_a_death_was_decided_on() {
    let mut m = started_pair();
    // n2 heard on the serial line only until t=500, on eth1 until t=1000.
    m.handle_message(Now::at_millis(500), 1, status_from("n2", 7, 2, "active"));
    m.handle_message(Now::at_millis(1000), 0, status_from("n2", 7, 3, "active"));
    drain(&mut m);
    m.handle_timeout(Now::at_millis(6500));
    let ev = events(&drain(&mut m));
    assert!(ev.contains(&Event::LinkDead {
        node: "n2".into(),
        link: "/dev/ttyS0".into()
    }));
    m.handle_timeout(Now::at_millis(7003));
    assert!(events(&drain(&mut m)).contains(&Event::NodeDead { node: "n2".into() }));
    let s = m
        .silence("n2", Instant::from_millis(7003))
        .expect("known node");
    assert_eq!(s.status_ms, Some(6003));
    assert_eq!(s.limit_ms, 6000, "n2's advertised dt");
    assert_eq!(
        s.links,
        vec![
            LinkSilence {
                link: "eth1".into(),
                silent_ms: Some(6003),
                up: false
            },
            LinkSilence {
                link: "/dev/ttyS0".into(),
                silent_ms: Some(6503),
                up: false
            },
        ]
    );
    assert_eq!(m.silence("nobody", Instant::from_millis(0)), None);
}

/// A peer's advertised `dt` is its dead time, even if ours differs (spec §6).
#[test]
fn the_peers_own_deadtime_applies() {
    let mut m = started_pair();
    let mut s = status_from("n2", 7, 2, "active");
    s.set_str("dt", "2710"); // 10000 ms
    m.handle_message(Now::at_millis(1000), 0, s);
    drain(&mut m);
    m.handle_timeout(Now::at_millis(7000));
    assert!(!events(&drain(&mut m)).contains(&Event::NodeDead { node: "n2".into() }));
    m.handle_timeout(Now::at_millis(11_000));
    assert!(events(&drain(&mut m)).contains(&Event::NodeDead { node: "n2".into() }));
}

/// `initdead`: before every node was heard from, silence is judged against initdead.
#[test]
fn initdead_applies_before_comm_up() {
    let mut m = Membership::new(config("n1", &["n1", "n2"]), Now::at_millis(0));
    m.start(Now::at_millis(0));
    drain(&mut m);
    m.handle_timeout(Now::at_millis(6000));
    assert!(
        events(&drain(&mut m)).is_empty(),
        "deadtime alone does not kill a node never heard"
    );
    m.handle_timeout(Now::at_millis(12_000));
    let ev = events(&drain(&mut m));
    assert_eq!(
        ev,
        vec![
            Event::NodeDead { node: "n2".into() },
            Event::CommUp,
            Event::LocalStatus(NodeStatus::Active)
        ]
    );
}

/// `warntime`: a late beat warns and nothing else happens.
#[test]
fn late_heartbeat_after_warntime_emits_warning_only() {
    let mut m = started_pair();
    m.handle_message(Now::at_millis(3500), 0, status_from("n2", 7, 2, "active"));
    let ev = events(&drain(&mut m));
    assert_eq!(
        ev,
        vec![
            Event::LateHeartbeat {
                node: "n2".into(),
                interval_ms: 3500,
                beyond_deadtime: false
            },
            Event::StatusUpdate {
                node: "n2".into(),
                status: "active".into()
            },
        ]
    );
    assert_eq!(
        ev[0].to_string(),
        "Late heartbeat: Node n2: interval 3500 ms"
    );
    assert_eq!(ev[0].level(), Level::Warn);
}

#[test]
fn restarted_peer_with_higher_generation_is_accepted_lower_is_a_replay() {
    let mut m = started_pair();
    m.handle_message(Now::at_millis(500), 0, status_from("n2", 8, 1, "init"));
    let ev = events(&drain(&mut m));
    assert_eq!(ev[0], Event::Restart { node: "n2".into() });
    assert!(ev.contains(&Event::StatusUpdate {
        node: "n2".into(),
        status: "init".into()
    }));
    m.handle_message(Now::at_millis(600), 0, status_from("n2", 7, 50, "active"));
    let cmds = drain(&mut m);
    assert_eq!(
        events(&cmds),
        vec![Event::Replay {
            node: "n2".into(),
            gen: 7,
            curgen: 8
        }]
    );
    assert!(cmds.contains(&Command::Notify(Event::Dropped(DropReason::Replay))));
    assert_eq!(
        events(&cmds)[0].to_string(),
        "should_drop_message: attempted replay attack [n2]? [gen = 7, curgen = 8]"
    );
    assert_eq!(
        m.node_status("n2"),
        Some(NodeStatus::Init),
        "a replay changes nothing"
    );
}

#[test]
fn the_same_packet_on_two_media_is_processed_once_and_brings_both_links_up() {
    let mut m = started_pair();
    let s = status_from("n2", 7, 2, "active");
    m.handle_message(Now::at_millis(1000), 0, s.clone());
    m.handle_message(Now::at_millis(1001), 1, s);
    let cmds = drain(&mut m);
    let updates = events(&cmds)
        .iter()
        .filter(|e| matches!(e, Event::StatusUpdate { .. }))
        .count();
    assert_eq!(updates, 1);
    assert!(events(&cmds).contains(&Event::LinkUp {
        node: "n2".into(),
        link: "/dev/ttyS0".into()
    }));
    assert!(cmds.contains(&Command::Notify(Event::Dropped(DropReason::Duplicate))));
}

/// Every status from a peer reports its interval on the link it came by (the
/// metrics' histogram), duplicates on another medium included; our own looped-back
/// status reports nothing.
#[test]
fn each_status_reports_its_interval_per_link() {
    let mut m = started_pair();
    let intervals = |cmds: &[Command]| -> Vec<(String, String, u64)> {
        cmds.iter()
            .filter_map(|c| match c {
                Command::Notify(Event::StatusInterval {
                    node,
                    link,
                    interval,
                }) => Some((node.clone(), link.clone(), interval.as_millis() as u64)),
                _ => None,
            })
            .collect()
    };
    let s = status_from("n2", 7, 2, "active");
    m.handle_message(Now::at_millis(1000), 0, s.clone());
    m.handle_message(Now::at_millis(1001), 1, s);
    assert_eq!(
        intervals(&drain(&mut m)),
        vec![("n2".into(), "eth1".into(), 1000)],
        "the first status on ttyS0 has no interval yet"
    );
    let s = status_from("n2", 7, 3, "active");
    m.handle_message(Now::at_millis(2500), 0, s.clone());
    m.handle_message(Now::at_millis(2600), 1, s);
    assert_eq!(
        intervals(&drain(&mut m)),
        vec![
            ("n2".into(), "eth1".into(), 1500),
            ("n2".into(), "/dev/ttyS0".into(), 1599)
        ]
    );
    let own = status_from("n1", 100, 9, "active");
    m.handle_message(Now::at_millis(3000), 0, own.clone());
    m.handle_message(Now::at_millis(4000), 0, own);
    assert!(intervals(&drain(&mut m)).is_empty());
}

/// The seed's test: cut one medium, the node stays alive; the link is dead.
#[test]
fn one_medium_cut_kills_the_link_not_the_node() {
    let mut m = started_pair();
    m.handle_message(Now::at_millis(0), 1, status_from("n2", 7, 1, "up"));
    drain(&mut m);
    for k in 1..=8u64 {
        // From t=1s on, only eth1 (link 0) carries n2's beats.
        m.handle_message(
            Now::at_millis(k * 1000),
            0,
            status_from("n2", 7, 1 + k, "active"),
        );
        m.handle_timeout(Now::at_millis(k * 1000));
    }
    let ev = events(&drain(&mut m));
    assert!(ev.contains(&Event::LinkDead {
        node: "n2".into(),
        link: "/dev/ttyS0".into()
    }));
    assert!(!ev.contains(&Event::NodeDead { node: "n2".into() }));
    assert_eq!(m.link_up("n2", 0), Some(true));
    assert_eq!(m.link_up("n2", 1), Some(false));
}

#[test]
fn a_gap_is_asked_for_again_and_filled() {
    let mut m = started_pair();
    m.handle_message(Now::at_millis(100), 0, status_from("n2", 7, 4, "up"));
    let ev = events(&drain(&mut m));
    assert_eq!(
        ev[0],
        Event::LostPackets {
            node: "n2".into(),
            count: 2,
            last: 1,
            seq: 4
        }
    );
    assert_eq!(ev[0].to_string(), "2 lost packet(s) for [n2] [1:4]");
    // Requests go out after a delay in [50, 250] ms, then every 250 ms.
    let first = m.poll_timeout().expect("a request is due");
    assert!((150..=350).contains(&first.as_millis()), "{first}");
    m.handle_timeout(Now::at_millis(350));
    let reqs: Vec<(String, String)> = sent(&drain(&mut m))
        .iter()
        .filter(|m| m.get_str("t") == Some("NS_rexmit"))
        .map(|m| {
            (
                m.get_str("firstseq").unwrap_or_default().into(),
                m.get_str("dest").unwrap_or_default().into(),
            )
        })
        .collect();
    assert_eq!(
        reqs,
        vec![("2".into(), "n2".into()), ("3".into(), "n2".into())]
    );
    // Seq 2 arrives (a retransmission); only 3 is asked for again.
    m.handle_message(Now::at_millis(400), 0, status_from("n2", 7, 2, "up"));
    drain(&mut m);
    m.handle_timeout(Now::at_millis(700));
    let again: Vec<String> = sent(&drain(&mut m))
        .iter()
        .filter(|m| m.get_str("t") == Some("NS_rexmit"))
        .map(|m| m.get_str("firstseq").unwrap_or_default().into())
        .collect();
    assert_eq!(again, vec!["3"]);
    // A NAK ends the asking.
    let mut nak = Message::with_type("NS_nak_rexmit");
    nak.push_str("firstseq", "3");
    nak.push_str("dest", "n1");
    nak.push_str("info", "seqno not found");
    nak.push_str("src", "n2");
    nak.push_str("hg", "7");
    nak.push_str("ts", "6b075b63");
    m.handle_message(Now::at_millis(710), 0, nak);
    let ev = events(&drain(&mut m));
    assert_eq!(
        ev,
        vec![Event::IrretrievablyLost {
            node: "n2".into(),
            seq: 3
        }]
    );
    m.handle_timeout(Now::at_millis(2000));
    assert!(!sent(&drain(&mut m))
        .iter()
        .any(|m| m.get_str("t") == Some("NS_rexmit")));
}

fn rexmit_request(first: u64, last: u64) -> Message {
    let mut r = Message::with_type("NS_rexmit");
    r.push_str("dest", "n1");
    r.push_str("firstseq", first.to_string());
    r.push_str("lastseq", last.to_string());
    r.push_str("src", "n2");
    r.push_str("hg", "7");
    r.push_str("ts", "6b075b63");
    r
}

#[test]
fn retransmissions_are_identical_rate_limited_and_nakked_when_unknown() {
    let mut m = Membership::new(config("n1", &["n1", "n2"]), Now::at_millis(0));
    m.start(Now::at_millis(0));
    let originals = sent(&drain(&mut m));
    m.handle_message(Now::at_millis(10), 0, status_from("n2", 7, 1, "up"));
    drain(&mut m);
    m.handle_message(Now::at_millis(20), 0, rexmit_request(2, 2));
    let again = sent(&drain(&mut m));
    assert_eq!(
        again,
        vec![originals[1].clone()],
        "byte-identical: same seq, same ts"
    );
    m.handle_message(Now::at_millis(30), 0, rexmit_request(2, 2));
    assert!(
        sent(&drain(&mut m)).is_empty(),
        "not again within max_rexmit_delay - 10 ms"
    );
    m.handle_message(Now::at_millis(40), 0, rexmit_request(99, 99));
    assert_eq!(
        events(&drain(&mut m)),
        vec![Event::RexmitTooHigh { seq: 99, max: 3 }],
        "seq 3 is the status that announced `active`"
    );
}

#[test]
fn history_is_bounded_and_old_requests_get_a_nak() {
    let mut m = Membership::new(config("n1", &["n1", "n2"]), Now::at_millis(0));
    m.start(Now::at_millis(0));
    m.handle_message(Now::at_millis(1), 0, status_from("n2", 7, 1, "up"));
    for k in 1..=(MAX_HISTORY as u64 + 20) {
        m.handle_timeout(Now::at_millis(k * 1000));
        m.handle_message(
            Now::at_millis(k * 1000),
            0,
            status_from("n2", 7, 1 + k, "active"),
        );
    }
    drain(&mut m);
    assert!(m.history.len() <= MAX_HISTORY);
    m.handle_message(Now::at_millis(999_999), 0, rexmit_request(1, 1));
    let naks: Vec<Message> = sent(&drain(&mut m))
        .into_iter()
        .filter(|m| m.get_str("t") == Some("NS_nak_rexmit"))
        .collect();
    assert_eq!(naks.len(), 1);
    assert_eq!(naks[0].get_str("info"), Some("seqno too low"));
    assert_eq!(naks[0].get_str("dest"), Some("n2"));
}

#[test]
fn acks_follow_the_trigger_with_hex_ackseq_and_dest() {
    let mut m = Membership::new(config("n1", &["n1", "n2"]), Now::at_millis(0));
    m.start(Now::at_millis(0));
    drain(&mut m);
    let trigger = m.nodes[1].ack_trigger;
    let mut acks = Vec::new();
    for seq in 1..=30u64 {
        m.handle_message(
            Now::at_millis(seq * 100),
            0,
            status_from("n2", 7, seq, "up"),
        );
        for msg in sent(&drain(&mut m)) {
            if msg.get_str("t") == Some("NS_ackmsg") {
                assert_eq!(msg.get_str("dest"), Some("n2"));
                assert_eq!(msg.get_bin("destuuid"), Some(&[2u8; 16][..]));
                assert_eq!(msg.get("seq"), None, "NS_ messages carry no seq");
                assert_eq!(msg.get("ld"), None, "NS_ messages carry no ld");
                acks.push(msg.get_hex("ackseq").unwrap_or(0));
            }
        }
    }
    let expected: Vec<u64> = (1..=30).filter(|s| s % 10 == trigger).collect();
    assert_eq!(acks, expected);
    let order = [
        "t", "dest", "ackseq", "destuuid", "src", "srcuuid", "hg", "ts", "ttl",
    ];
    let mut m2 = Membership::new(config("n1", &["n1", "n2"]), Now::at_millis(0));
    m2.start(Now::at_millis(0));
    drain(&mut m2);
    let seq = if m2.nodes[1].ack_trigger == 0 {
        10
    } else {
        m2.nodes[1].ack_trigger
    };
    m2.handle_message(Now::at_millis(1), 0, status_from("n2", 7, seq, "up"));
    let ack = sent(&drain(&mut m2))
        .into_iter()
        .find(|m| m.get_str("t") == Some("NS_ackmsg"))
        .expect("an ack");
    assert_eq!(
        names(&[ack])[0],
        order.map(String::from).to_vec(),
        "field order of a real NS_ackmsg"
    );
}

#[test]
fn shutdown_notice_makes_the_node_dead_at_once() {
    let mut m = started_pair();
    let mut bye = Message::with_type("shutdone");
    bye.push_str("st", "dead");
    bye.push_str("src", "n2");
    bye.push_str("seq", "2");
    bye.push_str("hg", "7");
    bye.push_str("ts", "6b075b63");
    m.handle_message(Now::at_millis(500), 0, bye);
    let ev = events(&drain(&mut m));
    assert_eq!(
        ev,
        vec![
            Event::ShutdownNotice { node: "n2".into() },
            Event::StatusUpdate {
                node: "n2".into(),
                status: "dead".into()
            }
        ]
    );
    assert_eq!(ev[0].to_string(), "Received shutdown notice from 'n2'.");
    assert_eq!(m.node_status("n2"), Some(NodeStatus::Dead));
}

/// `shutdone` from n2, generation `gen`, sequence number `seq`.
fn shutdone_from(gen: u64, seq: u64) -> Message {
    let mut bye = Message::with_type("shutdone");
    bye.push_str("st", "dead");
    bye.push_str("src", "n2");
    bye.push_str("seq", format!("{seq:x}"));
    bye.push_str("hg", format!("{gen:x}"));
    bye.push_str("ts", "6b075b63");
    bye
}

/// Issue 14, item 12: a 3.0.6 peer leaving with `heartbeat -k`. After its
/// notice, what of it is still in flight (the notice's copy on the other
/// medium, a status sent before it that arrives late, the statuses it sends
/// until it exits, a resource message) changes nothing: it stays dead, its
/// links are down at once, and no link death, node death or late heartbeat is
/// reported, however long we wait.
#[test]
fn after_a_shutdown_notice_packets_in_flight_neither_revive_nor_kill_the_node() {
    let mut m = started_pair();
    for seq in 2..=4 {
        m.handle_message(
            Now::at_millis(seq * 1000),
            0,
            status_from("n2", 7, seq, "active"),
        );
        m.handle_message(
            Now::at_millis(seq * 1000),
            1,
            status_from("n2", 7, seq, "active"),
        );
    }
    drain(&mut m);
    m.handle_message(Now::at_millis(4500), 0, shutdone_from(7, 6));
    let ev = events(&drain(&mut m));
    // Status 5 is late: a gap before the notice.
    assert!(
        ev.contains(&Event::ShutdownNotice { node: "n2".into() }),
        "{ev:?}"
    );
    assert_eq!(m.node_status("n2"), Some(NodeStatus::Dead));
    assert_eq!(
        (m.link_up("n2", 0), m.link_up("n2", 1)),
        (Some(false), Some(false))
    );

    // In flight: the notice on the serial link, status 5 (sent before the
    // notice, delayed), statuses 7 and 8 and a resource message sent after it.
    let mut resource = Message::with_type("resource");
    resource.push_str("rsc_hold", "none");
    resource.push_str("src", "n2");
    resource.push_str("seq", "9");
    resource.push_str("hg", "7");
    resource.push_str("ts", "6b075b63");
    let late: Vec<(u64, LinkId, Message)> = vec![
        (4510, 1, shutdone_from(7, 6)),
        (4520, 0, status_from("n2", 7, 5, "active")),
        (5000, 0, status_from("n2", 7, 7, "active")),
        (5000, 1, status_from("n2", 7, 7, "active")),
        (5200, 0, resource),
        (6000, 1, status_from("n2", 7, 8, "active")),
    ];
    let mut cmds = Vec::new();
    for (t, link, msg) in late {
        m.handle_message(Now::at_millis(t), link, msg);
        cmds.extend(drain(&mut m));
    }
    // Far beyond deadtime (6 s) from every packet of it.
    for t in (7000..=30_000).step_by(500) {
        m.handle_timeout(Now::at_millis(t));
        cmds.extend(drain(&mut m));
    }
    assert_eq!(events(&cmds), vec![], "the departed node made news");
    let departed = cmds
        .iter()
        .filter(|c| matches!(c, Command::Notify(Event::Dropped(DropReason::Departed))))
        .count();
    assert_eq!(departed, 6, "each packet in flight counted as dropped");
    assert_eq!(m.node_status("n2"), Some(NodeStatus::Dead));
    assert_eq!(
        (m.link_up("n2", 0), m.link_up("n2", 1)),
        (Some(false), Some(false))
    );
    assert!(m
        .poll_timeout()
        .is_some_and(|t| t >= Now::at_millis(30_000).mono));
}

/// Issue 14, item 12: the departed node restarts (a new generation): it is
/// back, link up and status as it sends them, with no late heartbeat measured
/// from before it left. (Had it come up active on the other side of a
/// partition, that would be a healed partition, as for any dead node.)
#[test]
fn a_departed_node_returns_with_a_new_generation() {
    let mut m = started_pair();
    m.handle_message(Now::at_millis(1000), 0, status_from("n2", 7, 2, "active"));
    m.handle_message(Now::at_millis(1500), 0, shutdone_from(7, 3));
    drain(&mut m);
    m.handle_message(Now::at_millis(20_000), 0, status_from("n2", 8, 1, "up"));
    let ev = events(&drain(&mut m));
    assert_eq!(
        ev,
        vec![
            Event::LinkUp {
                node: "n2".into(),
                link: "eth1".into()
            },
            Event::Restart { node: "n2".into() },
            Event::StatusUpdate {
                node: "n2".into(),
                status: "up".into()
            },
        ]
    );
    assert_eq!(m.node_status("n2"), Some(NodeStatus::Up));
    // And it is watched again: silent for its dead time, it dies.
    m.handle_timeout(Now::at_millis(40_000));
    let ev = events(&drain(&mut m));
    assert!(
        ev.contains(&Event::NodeDead { node: "n2".into() }),
        "{ev:?}"
    );
}

/// Issue 14, item 12: a node that keeps beating in the same generation for
/// more than its dead time after its notice is running (with `hbgenmethod
/// time`, a restart within the same second keeps the generation): its first
/// status after that window brings it back, with no late heartbeat. Other
/// messages of that generation do not.
#[test]
fn a_node_beating_a_dead_time_after_its_notice_in_the_same_generation_is_back() {
    let mut m = started_pair();
    m.handle_message(Now::at_millis(1000), 0, status_from("n2", 7, 2, "active"));
    m.handle_message(Now::at_millis(1500), 0, shutdone_from(7, 3));
    drain(&mut m);
    // Within the dead time (6 s, n2's dt is 6 s too): in flight.
    m.handle_message(Now::at_millis(7000), 0, status_from("n2", 7, 1, "init"));
    // After it, a message that is not a status: still nothing.
    let mut other = Message::with_type("resource");
    other.push_str("src", "n2");
    other.push_str("seq", "2");
    other.push_str("hg", "7");
    other.push_str("ts", "6b075b63");
    m.handle_message(Now::at_millis(7600), 0, other);
    assert_eq!(events(&drain(&mut m)), vec![]);
    assert_eq!(m.node_status("n2"), Some(NodeStatus::Dead));
    m.handle_message(Now::at_millis(7700), 0, status_from("n2", 7, 3, "up"));
    let ev = events(&drain(&mut m));
    assert_eq!(
        ev,
        vec![
            Event::LinkUp {
                node: "n2".into(),
                link: "eth1".into()
            },
            Event::StatusUpdate {
                node: "n2".into(),
                status: "up".into()
            },
        ]
    );
    assert_eq!(m.node_status("n2"), Some(NodeStatus::Up));
}

#[test]
fn our_shutdown_sends_shutdone_and_stops_beating() {
    let mut m = started_pair();
    m.shutdown(Now::at_millis(100));
    let msgs = sent(&drain(&mut m));
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        (msgs[0].get_str("t"), msgs[0].get_str("st")),
        (Some("shutdone"), Some("dead"))
    );
    m.handle_timeout(Now::at_millis(5000));
    assert!(sent(&drain(&mut m)).is_empty());
}

#[test]
fn messages_for_another_node_update_nothing_but_the_sequence() {
    let mut m = started_pair();
    let mut other = status_from("n2", 7, 2, "active");
    other.set_str("dest", "n3");
    m.handle_message(Now::at_millis(100), 0, other);
    assert!(!events(&drain(&mut m))
        .iter()
        .any(|e| matches!(e, Event::StatusUpdate { .. })));
    m.handle_message(Now::at_millis(200), 0, status_from("n2", 7, 3, "active"));
    let ev = events(&drain(&mut m));
    assert!(
        !ev.iter().any(|e| matches!(e, Event::LostPackets { .. })),
        "seq 2 was tracked: {ev:?}"
    );
}

#[test]
fn unknown_nodes_malformed_messages_and_our_own_echo() {
    let mut m = started_pair();
    m.handle_message(Now::at_millis(100), 0, status_from("mallory", 1, 1, "up"));
    assert_eq!(
        events(&drain(&mut m)),
        vec![Event::BadNode {
            name: "mallory".into()
        }]
    );
    let mut no_ts = status_from("n2", 7, 2, "up");
    no_ts.remove("ts");
    m.handle_message(Now::at_millis(100), 0, no_ts);
    assert_eq!(
        drain(&mut m),
        vec![Command::Notify(Event::Dropped(DropReason::Malformed))]
    );
    let mut no_seq = status_from("n2", 7, 2, "up");
    no_seq.remove("seq");
    m.handle_message(Now::at_millis(100), 0, no_seq);
    // It still proved the link (and its interval is measured), as before seq is read.
    let cmds: Vec<Command> = drain(&mut m)
        .into_iter()
        .filter(|c| !matches!(c, Command::Notify(Event::StatusInterval { .. })))
        .collect();
    assert_eq!(
        cmds,
        vec![Command::Notify(Event::Dropped(DropReason::Malformed))]
    );
    let echo = status_from("n1", 100, 5, "active");
    m.handle_message(Now::at_millis(100), 0, echo.clone());
    assert_eq!(
        events(&drain(&mut m)),
        vec![Event::LinkUp {
            node: "n1".into(),
            link: "eth1".into()
        }]
    );
    m.handle_message(Now::at_millis(200), 0, echo);
    assert!(
        drain(&mut m).is_empty(),
        "our own packets change nothing else"
    );
}

#[test]
fn a_dead_node_speaking_with_the_same_generation_is_a_healed_partition() {
    let mut m = started_pair();
    m.handle_timeout(Now::at_millis(6000));
    assert!(events(&drain(&mut m)).contains(&Event::NodeDead { node: "n2".into() }));
    m.handle_message(Now::at_millis(9000), 0, status_from("n2", 7, 1, "active"));
    assert_eq!(
        events(&drain(&mut m)),
        vec![Event::LinkUp {
            node: "n2".into(),
            link: "eth1".into()
        }],
        "an old status from before the cut proves the link, nothing more"
    );
    assert_eq!(m.node_status("n2"), Some(NodeStatus::Dead));
    m.handle_message(Now::at_millis(9000), 0, status_from("n2", 7, 9, "active"));
    let ev = events(&drain(&mut m));
    assert_eq!(ev[0], Event::PartitionHealed { node: "n2".into() });
    assert_eq!(ev[0].level(), Level::Crit);
    assert!(ev.contains(&Event::StatusUpdate {
        node: "n2".into(),
        status: "active".into()
    }));
}

#[test]
fn a_replay_does_not_keep_a_link_alive() {
    let mut m = started_pair();
    m.handle_message(Now::at_millis(100), 0, status_from("n2", 8, 1, "up"));
    drain(&mut m);
    m.handle_timeout(Now::at_millis(6100));
    drain(&mut m);
    assert_eq!(m.link_up("n2", 0), Some(false));
    m.handle_message(Now::at_millis(6200), 0, status_from("n2", 7, 40, "up"));
    drain(&mut m);
    assert_eq!(m.link_up("n2", 0), Some(false));
}

/// Two state machines on a virtual network: they find each other, one is cut off,
/// the other declares it dead after deadtime, and it comes back.
#[test]
fn two_nodes_on_a_virtual_network() {
    let mut a = Membership::new(config("n1", &["n1", "n2"]), Now::at_millis(0));
    let mut b = Membership::new(config("n2", &["n1", "n2"]), Now::at_millis(0));
    a.start(Now::at_millis(0));
    b.start(Now::at_millis(0));
    let mut log: Vec<(u64, &str, Event)> = Vec::new();
    let mut connected = true;
    let mut t = 0;
    while t <= 30_000 {
        if t == 10_000 {
            connected = false;
        }
        if t == 20_000 {
            connected = true;
        }
        let now = Now::at_millis(t);
        a.handle_timeout(now);
        b.handle_timeout(now);
        for _ in 0..2 {
            let from_a = drain(&mut a);
            let from_b = drain(&mut b);
            for c in &from_a {
                match c {
                    Command::Send(msg) if connected => b.handle_message(now, 0, msg.clone()),
                    Command::Notify(e) if !matches!(e, Event::Dropped(_)) => {
                        log.push((t, "n1", e.clone()))
                    }
                    _ => {}
                }
            }
            for c in &from_b {
                match c {
                    Command::Send(msg) if connected => a.handle_message(now, 0, msg.clone()),
                    Command::Notify(e) if !matches!(e, Event::Dropped(_)) => {
                        log.push((t, "n2", e.clone()))
                    }
                    _ => {}
                }
            }
        }
        t += 100;
    }
    let when = |who: &str, e: &Event| {
        log.iter()
            .find(|(_, w, x)| *w == who && x == e)
            .map(|(t, _, _)| *t)
    };
    assert_eq!(when("n1", &Event::CommUp), Some(0));
    assert_eq!(when("n2", &Event::LocalStatus(NodeStatus::Active)), Some(0));
    // The last beat crossed before 10 s; n2 advertised dt 6000 ms.
    let dead = when("n1", &Event::NodeDead { node: "n2".into() }).expect("n2 declared dead");
    assert!((15_000..=16_000).contains(&dead), "dead at {dead} ms");
    let back = when("n1", &Event::PartitionHealed { node: "n2".into() }).expect("n2 back");
    assert_eq!(back, 20_000);
    assert_eq!(a.node_status("n2"), Some(NodeStatus::Active));
    assert_eq!(b.node_status("n1"), Some(NodeStatus::Active));
}

#[test]
fn a_joining_3_0_6_node_asking_for_the_node_list_gets_it() {
    let mut m = started_pair();
    let mut req = Message::new();
    req.push_str("dest", "n1");
    req.push_str("t", "reqnodes");
    req.push_str("src", "n2");
    req.push_str("seq", "2");
    req.push_str("hg", "7");
    req.push_str("ts", "6b075b63");
    m.handle_message(Now::at_millis(100), 0, req);
    let rep = sent(&drain(&mut m))
        .into_iter()
        .find(|m| m.get_str("t") == Some("repnodes"))
        .expect("a reply");
    assert_eq!(rep.get_str("dest"), Some("n2"));
    assert_eq!(rep.get_str("nodelist"), Some("n1 n2 "));
    assert_eq!(rep.get_str("delnodelist"), Some(" "));
    assert_eq!(rep.fields()[0].name, "dest", "3.0.6 builds it dest first");
    assert!(rep.get("seq").is_some(), "a sequenced message");
}

#[test]
fn other_messages_are_delivered_to_the_layer_above() {
    let mut m = started_pair();
    let mut st = Message::with_type("starting");
    st.push_str("src", "n2");
    st.push_str("seq", "2");
    st.push_str("hg", "7");
    st.push_str("ts", "6b075b63");
    m.handle_message(Now::at_millis(100), 0, st.clone());
    assert_eq!(
        events(&drain(&mut m)),
        vec![Event::Delivered {
            from: "n2".into(),
            msg: st
        }]
    );
}

#[test]
fn new_timing_is_announced_at_once_and_paces_the_next_keepalives() {
    let mut m = Membership::new(config("n1", &["n1"]), Now::at_millis(0));
    m.start(Now::at_millis(0));
    drain(&mut m);
    m.handle_timeout(Now::at_millis(6000));
    drain(&mut m);
    m.set_timing(Now::at_millis(6100), MS(2000), MS(9000), MS(4000));
    let now = sent(&drain(&mut m));
    assert_eq!(now.len(), 1, "a status at once");
    assert_eq!(
        now[0].get_str("dt"),
        Some("2328"),
        "the new dead time, 9000 ms"
    );
    let mut times = Vec::new();
    while let Some(t) = m.poll_timeout() {
        if t.as_millis() > 12_100 {
            break;
        }
        m.handle_timeout(Now::at_millis(t.as_millis()));
        times.extend(sent(&drain(&mut m)).iter().map(|_| t.as_millis()));
    }
    assert_eq!(times, vec![8100, 10_100, 12_100]);
}

// ---- ping nodes (spec §5.1) ----------------------------------------------------------

/// n1 and n2, with a ping node 192.0.2.254 and a ping group `uplinks` of two
/// hosts; deadping 3 s. n2 heard at t=0.
fn with_pings() -> Membership {
    let mut cfg = config("n1", &["n1", "n2"]);
    cfg.ping = vec![
        PingConfig {
            name: "192.0.2.254".into(),
            members: vec!["192.0.2.254".into()],
        },
        PingConfig {
            name: "uplinks".into(),
            members: vec!["192.0.2.1".into(), "192.0.2.2".into()],
        },
    ];
    cfg.deadping = MS(3000);
    let mut m = Membership::new(cfg, Now::at_millis(0));
    m.start(Now::at_millis(0));
    m.handle_message(Now::at_millis(0), 0, status_from("n2", 7, 1, "up"));
    drain(&mut m);
    m
}

/// A reply brings the ping link up and sets status `ping`, with 3.0.6's words;
/// comm-up waits for the ping nodes too (spec §7).
#[test]
fn a_ping_reply_sets_status_ping_and_comm_up_waits_for_ping_nodes() {
    let mut m = with_pings();
    assert!(!m.comm_up(), "ping nodes not heard yet");
    m.handle_ping_reply(Now::at_millis(10), 0, 0);
    let ev = events(&drain(&mut m));
    assert_eq!(
        ev,
        vec![
            Event::LinkUp {
                node: "192.0.2.254".into(),
                link: "192.0.2.254".into()
            },
            Event::PingUp {
                node: "192.0.2.254".into()
            },
        ]
    );
    assert_eq!(
        ev[1].to_string(),
        "Status update for node 192.0.2.254: status ping"
    );
    assert_eq!(ev[0].to_string(), "Link 192.0.2.254:192.0.2.254 up.");
    m.handle_ping_reply(Now::at_millis(20), 1, 1);
    let ev = events(&drain(&mut m));
    assert!(ev.contains(&Event::CommUp), "{ev:?}");
    assert_eq!(m.ping_status("uplinks"), Some(PingStatus::Ping));
    assert_eq!(m.peers(), 1, "ping nodes are not cluster peers");
    // Ping nodes are not sent to, and not in the node list, but count in ttl.
    let s = sent(&drain(&mut m));
    assert!(s.iter().all(|m| m.get_str("dest").is_none()));
}

/// `deadping`: a ping node silent for deadping is dead (`node X: is dead`, WARN).
#[test]
fn a_silent_ping_node_dies_after_deadping() {
    let mut m = with_pings();
    m.handle_ping_reply(Now::at_millis(0), 0, 0);
    m.handle_ping_reply(Now::at_millis(0), 1, 0);
    drain(&mut m);
    assert!(m.comm_up());
    m.handle_ping_reply(Now::at_millis(1000), 0, 0);
    m.handle_ping_reply(Now::at_millis(1000), 1, 0);
    drain(&mut m);
    m.handle_timeout(Now::at_millis(3999));
    assert!(!events(&drain(&mut m))
        .iter()
        .any(|e| matches!(e, Event::PingDead { .. })));
    assert!(m.poll_timeout().is_some_and(|t| t.as_millis() <= 4000));
    m.handle_timeout(Now::at_millis(4000));
    let ev = events(&drain(&mut m));
    let dead = Event::PingDead {
        node: "192.0.2.254".into(),
    };
    assert!(ev.contains(&dead), "{ev:?}");
    assert_eq!(dead.to_string(), "node 192.0.2.254: is dead");
    assert_eq!(dead.level(), Level::Warn);
    assert!(ev.contains(&Event::LinkDead {
        node: "192.0.2.254".into(),
        link: "192.0.2.254".into()
    }));
    assert_eq!(m.ping_status("192.0.2.254"), Some(PingStatus::Dead));
    // The peer is not affected.
    assert_eq!(m.node_status("n2"), Some(NodeStatus::Up));
    // It comes back with the next reply.
    m.handle_ping_reply(Now::at_millis(5000), 0, 0);
    assert!(events(&drain(&mut m)).contains(&Event::PingUp {
        node: "192.0.2.254".into()
    }));
}

/// `ping_group`: the group lives while any member answers; a silent member is
/// only logged.
#[test]
fn a_ping_group_is_up_while_any_member_answers() {
    let mut m = with_pings();
    m.handle_ping_reply(Now::at_millis(0), 0, 0);
    m.handle_ping_reply(Now::at_millis(0), 1, 0);
    m.handle_ping_reply(Now::at_millis(0), 1, 1);
    drain(&mut m);
    // Member 192.0.2.2 goes silent; 192.0.2.1 keeps answering.
    for t in (1000..=9000).step_by(1000) {
        m.handle_ping_reply(Now::at_millis(t), 0, 0);
        m.handle_ping_reply(Now::at_millis(t), 1, 0);
        m.handle_timeout(Now::at_millis(t));
    }
    let ev = events(&drain(&mut m));
    assert!(
        !ev.iter().any(|e| matches!(e, Event::PingDead { .. })),
        "{ev:?}"
    );
    let silent = Event::PingMember {
        group: "uplinks".into(),
        member: "192.0.2.2".into(),
        up: false,
    };
    assert_eq!(ev.iter().filter(|e| **e == silent).count(), 1, "{ev:?}");
    assert_eq!(m.ping_status("uplinks"), Some(PingStatus::Ping));
    // Then the other member goes silent too: the group dies after deadping.
    m.handle_ping_reply(Now::at_millis(10_000), 0, 0);
    m.handle_timeout(Now::at_millis(12_000));
    m.handle_ping_reply(Now::at_millis(12_000), 0, 0);
    m.handle_timeout(Now::at_millis(12_001));
    let ev = events(&drain(&mut m));
    assert!(
        ev.contains(&Event::PingDead {
            node: "uplinks".into()
        }),
        "{ev:?}"
    );
    assert_eq!(m.ping_status("192.0.2.254"), Some(PingStatus::Ping));
}

/// Before comm-up, a ping node that never answers is declared dead at
/// initdead, like any node, and then lets communication come up.
#[test]
fn a_ping_node_never_heard_is_dead_at_initdead() {
    let mut m = with_pings();
    m.handle_ping_reply(Now::at_millis(0), 1, 0);
    drain(&mut m);
    assert!(!m.comm_up());
    m.handle_timeout(Now::at_millis(11_999));
    assert!(!m.comm_up());
    m.handle_timeout(Now::at_millis(12_000));
    let ev = events(&drain(&mut m));
    assert!(ev.contains(&Event::PingDead {
        node: "192.0.2.254".into()
    }));
    assert!(ev.contains(&Event::CommUp));
}

/// A heartbeat claiming to come from a ping node is refused: only the ping
/// medium's authenticated replies keep it alive.
#[test]
fn a_packet_from_a_ping_node_name_does_not_refresh_it() {
    let mut m = with_pings();
    m.handle_message(
        Now::at_millis(10),
        0,
        status_from("192.0.2.254", 1, 1, "ping"),
    );
    let ev = events(&drain(&mut m));
    assert_eq!(
        ev,
        vec![Event::BadNode {
            name: "192.0.2.254".into()
        }]
    );
    assert_eq!(m.ping_status("192.0.2.254"), Some(PingStatus::Init));
}

/// Status table: each link keeps the worst interval between the statuses it
/// carried in the last minute; a link that carries none has no interval, and
/// our own looped-back statuses measure our own pace.
#[test]
fn each_link_reports_the_worst_recent_status_interval() {
    let mut m = started_pair();
    assert_eq!(m.generation_of("n2"), Some(7));
    assert_eq!(m.generation_of("n1"), Some(100));
    assert_eq!(m.generation_of("nobody"), None);
    let mut seq = 2;
    let mut feed = |m: &mut Membership, at: u64, links: &[LinkId]| {
        for &l in links {
            m.handle_message(Now::at_millis(at), l, status_from("n2", 7, seq, "active"));
        }
        seq += 1;
        drain(m);
    };
    // Both links every second, then eth1 misses two beats (a 3 s gap there),
    // while the serial link keeps its pace.
    for s in 1..=5 {
        feed(&mut m, s * 1000, &[0, 1]);
    }
    feed(&mut m, 6000, &[1]);
    feed(&mut m, 7000, &[1]);
    feed(&mut m, 8000, &[0, 1]);
    let now = Instant::from_millis(8500);
    assert_eq!(m.worst_interval("n2", 0, now), Some(MS(3000)));
    assert_eq!(m.worst_interval("n2", 1, now), Some(MS(1000)));
    assert_eq!(m.last_heard("n2"), Some(Instant::from_millis(8000)));
    assert_eq!(m.link_last_heard("n2", 0), Some(Instant::from_millis(8000)));
    // Our own statuses, looped back on eth1 every second.
    for s in 1..=3 {
        let mut own = status_from("n1", 100, s, "active");
        own.set_str("src", "n1");
        m.handle_message(Now::at_millis(s * 1000), 0, own);
    }
    assert_eq!(m.worst_interval("n1", 0, now), Some(MS(1000)));
    assert_eq!(
        m.worst_interval("n1", 1, now),
        None,
        "nothing looped back on serial"
    );
    // A minute later without statuses, nothing recent is left to report.
    assert_eq!(
        m.worst_interval("n2", 0, Instant::from_millis(70_000)),
        None
    );
}

/// Benchmark finding (3 nodes on one bridge): a node's links outlived it. A
/// packet that is not a status (an ACK to a third node) refreshed the link a
/// little after the node's last status, so the node died first; when it came
/// back before the link's own deadline, its link had never been reported dead
/// and was never reported up. A dead node's links are dead with it, and the
/// first packet of its return brings each one up again.
#[test]
fn a_dead_nodes_links_die_with_it_and_come_up_on_its_return() {
    let mut m = Membership::new(config("n1", &["n1", "n2", "n3"]), Now::at_millis(0));
    m.start(Now::at_millis(0));
    for node in ["n2", "n3"] {
        m.handle_message(Now::at_millis(0), 0, status_from(node, 7, 1, "up"));
    }
    drain(&mut m);
    for k in 1..=7u64 {
        m.handle_message(
            Now::at_millis(k * 1000),
            0,
            status_from("n2", 7, 1 + k, "active"),
        );
    }
    // n3's last status at 1 s, then an ACK to n2 at 1.9 s, then power loss.
    m.handle_message(Now::at_millis(1000), 0, status_from("n3", 7, 2, "active"));
    let mut ack = Message::with_type("NS_ackmsg");
    ack.push_str("dest", "n2");
    ack.push_str("ackseq", "5");
    ack.push_str("src", "n3");
    ack.push_str("hg", "7");
    ack.push_str("ts", "6b075b63");
    m.handle_message(Now::at_millis(1900), 0, ack);
    drain(&mut m);
    // dt=1770: n3 dies at 7 s, and its link with it.
    m.handle_timeout(Now::at_millis(7000));
    let ev = events(&drain(&mut m));
    let dead = ev
        .iter()
        .position(|e| *e == Event::NodeDead { node: "n3".into() });
    let link_dead = ev.iter().position(|e| {
        *e == Event::LinkDead {
            node: "n3".into(),
            link: "eth1".into(),
        }
    });
    assert!(dead.is_some(), "{ev:?}");
    assert!(link_dead.is_some(), "the link dies with the node: {ev:?}");
    assert_eq!(m.link_up("n3", 0), Some(false));
    assert_eq!(m.link_up("n2", 0), Some(true), "n2 is alive");
    // n3 comes back (a new generation) before 1.9 s + dt.
    m.handle_message(Now::at_millis(7500), 0, status_from("n3", 8, 1, "init"));
    let ev = events(&drain(&mut m));
    assert!(
        ev.contains(&Event::LinkUp {
            node: "n3".into(),
            link: "eth1".into()
        }),
        "{ev:?}"
    );
    assert_eq!(m.link_up("n3", 0), Some(true));
}

/// Simulator seed 461: a node's first packet after our start is not a status
/// (an ACK of our status), more than a dead time after our start. It brings
/// comm-up, which shortens the limit from initdead to the dead time; counted
/// from our start, that limit had passed, and the node was declared dead the
/// instant it was first heard. Its dead time runs from its first packet.
#[test]
fn a_node_first_heard_by_a_packet_that_is_not_a_status_is_not_dead_at_once() {
    let mut m = Membership::new(config("n1", &["n1", "n2"]), Now::at_millis(0));
    m.start(Now::at_millis(0));
    m.handle_timeout(Now::at_millis(7000));
    drain(&mut m);
    let mut ack = Message::with_type("NS_ackmsg");
    ack.push_str("dest", "n1");
    ack.push_str("ackseq", "5");
    ack.push_str("src", "n2");
    ack.push_str("hg", "7");
    ack.push_str("ts", "6b075b63");
    m.handle_message(Now::at_millis(7000), 0, ack);
    assert!(m.comm_up());
    assert!(
        m.poll_timeout().is_some_and(|t| t.as_millis() > 7000),
        "no deadline in the past"
    );
    m.handle_timeout(Now::at_millis(7000));
    let ev = events(&drain(&mut m));
    assert!(
        !ev.contains(&Event::NodeDead { node: "n2".into() }),
        "{ev:?}"
    );
    assert_eq!(m.node_status("n2"), Some(NodeStatus::Init));
    // Silent from then on: dead a dead time after that packet.
    m.handle_timeout(Now::at_millis(12_999));
    assert!(!events(&drain(&mut m)).contains(&Event::NodeDead { node: "n2".into() }));
    m.handle_timeout(Now::at_millis(13_000));
    assert!(events(&drain(&mut m)).contains(&Event::NodeDead { node: "n2".into() }));
}

/// A message for the layer above, as a peer sends it.
fn app_from(node: &str, gen: u64, seq: u64) -> Message {
    let mut m = Message::with_type("app");
    m.push_str("src", node);
    m.push_str("seq", format!("{seq:x}"));
    m.push_str("hg", format!("{gen:x}"));
    m.push_str("ts", "6b075b63");
    m
}

fn delivered_seqs(cmds: &[Command]) -> Vec<u64> {
    events(cmds)
        .iter()
        .filter_map(|e| match e {
            Event::Delivered { msg, .. } => msg.get_hex("seq"),
            _ => None,
        })
        .collect()
}

/// Membership simulator seed 3: sequence tracking restarts at a death and
/// again at the healed partition; a retransmission another node asked for
/// then came through after a newer message had been delivered. What goes up
/// to the layer above is in order and once, across those restarts.
#[test]
fn nothing_older_than_a_delivered_message_is_delivered_after_a_healed_partition() {
    let mut m = started_pair();
    m.handle_message(Now::at_millis(100), 0, app_from("n2", 7, 2));
    assert_eq!(delivered_seqs(&drain(&mut m)), vec![2]);
    m.handle_timeout(Now::at_millis(6000));
    assert!(events(&drain(&mut m)).contains(&Event::NodeDead { node: "n2".into() }));
    // After the death: a newer message, then an older status (the partition
    // heals), then the message between them.
    m.handle_message(Now::at_millis(7000), 0, app_from("n2", 7, 5));
    assert_eq!(delivered_seqs(&drain(&mut m)), vec![5]);
    m.handle_message(Now::at_millis(7001), 0, status_from("n2", 7, 3, "active"));
    assert!(events(&drain(&mut m)).contains(&Event::PartitionHealed { node: "n2".into() }));
    m.handle_message(Now::at_millis(7002), 0, app_from("n2", 7, 4));
    m.handle_message(Now::at_millis(7003), 0, app_from("n2", 7, 5));
    assert_eq!(delivered_seqs(&drain(&mut m)), Vec::<u64>::new());
    m.handle_message(Now::at_millis(7004), 0, app_from("n2", 7, 6));
    assert_eq!(delivered_seqs(&drain(&mut m)), vec![6]);
    // A new generation starts over.
    m.handle_message(Now::at_millis(7100), 0, status_from("n2", 8, 1, "up"));
    m.handle_message(Now::at_millis(7101), 0, app_from("n2", 8, 2));
    assert_eq!(delivered_seqs(&drain(&mut m)), vec![2]);
}

/// Membership simulator seed 57: comm-up came with a death at initdead, and
/// shortened the limit of another node, silent for longer than its dead
/// time: it is dead in the same call, not at the next one.
#[test]
fn a_node_past_its_dead_time_at_comm_up_dies_at_once() {
    let mut m = Membership::new(config("n1", &["n1", "n2", "n3"]), Now::at_millis(0));
    m.start(Now::at_millis(0));
    m.handle_message(Now::at_millis(100), 0, status_from("n2", 7, 1, "up"));
    drain(&mut m);
    m.handle_timeout(Now::at_millis(12_000));
    let ev = events(&drain(&mut m));
    let at = |e: Event| ev.iter().position(|x| *x == e);
    let n3 = at(Event::NodeDead { node: "n3".into() }).expect("n3 never heard: dead");
    let up = at(Event::CommUp).expect("comm up");
    let n2 = at(Event::NodeDead { node: "n2".into() }).expect("n2 dead too");
    assert!(n3 < up && up < n2, "{ev:?}");
}

/// The same when comm-up comes with a packet: the last node heard for the
/// first time, long after another one went silent. No deadline is left in the
/// past (the node's stall detection would take it for a late timer).
#[test]
fn a_node_past_its_dead_time_when_a_packet_brings_comm_up_dies_at_once() {
    let mut m = Membership::new(config("n1", &["n1", "n2", "n3"]), Now::at_millis(0));
    m.start(Now::at_millis(0));
    m.handle_message(Now::at_millis(100), 0, status_from("n2", 7, 1, "up"));
    m.handle_timeout(Now::at_millis(11_000));
    drain(&mut m);
    m.handle_message(Now::at_millis(11_000), 0, status_from("n3", 7, 1, "up"));
    let ev = events(&drain(&mut m));
    let at = |e: Event| ev.iter().position(|x| *x == e);
    let up = at(Event::CommUp).expect("comm up");
    let n2 = at(Event::NodeDead { node: "n2".into() }).expect("n2 dead at once");
    assert!(up < n2, "{ev:?}");
    assert!(
        m.poll_timeout().is_some_and(|t| t.as_millis() > 11_000),
        "no deadline in the past"
    );
}

/// Simulator seed 77452: a node that had heard nothing of n2 but a packet
/// that is not a status (an ack) got n2's next message before the status
/// n2 had sent just ahead of it (jitter reorders). Sequence tracking starts
/// at the first numbered packet, so the status, numbered one lower, was
/// dropped as a duplicate although it was never seen, and n2 was declared
/// dead a dead time after its ack while it was beating.
#[test]
fn a_first_status_overtaken_by_the_next_message_still_counts() {
    let mut m = Membership::new(config("n1", &["n1", "n2"]), Now::at_millis(0));
    m.start(Now::at_millis(0));
    m.handle_timeout(Now::at_millis(1000));
    let mut ack = Message::with_type("NS_ackmsg");
    ack.push_str("dest", "n1");
    ack.push_str("ackseq", "5");
    ack.push_str("src", "n2");
    ack.push_str("hg", "7");
    ack.push_str("ts", "6b075b63");
    m.handle_message(Now::at_millis(1000), 0, ack);
    assert!(m.comm_up());
    drain(&mut m);
    // n2 sends status 0x58, then app 0x59; the app arrives first.
    m.handle_message(Now::at_millis(5000), 0, app_from("n2", 7, 0x59));
    let cmds = drain(&mut m);
    assert_eq!(delivered_seqs(&cmds), vec![0x59]);
    m.handle_message(
        Now::at_millis(5001),
        0,
        status_from("n2", 7, 0x58, "active"),
    );
    let cmds = drain(&mut m);
    assert!(
        !cmds
            .iter()
            .any(|c| matches!(c, Command::Notify(Event::Dropped(_)))),
        "{cmds:?}"
    );
    assert!(events(&cmds).contains(&Event::StatusUpdate {
        node: "n2".into(),
        status: "active".into()
    }));
    // Alive a dead time after its ack (7 s), dead a dead time after the status.
    m.handle_timeout(Now::at_millis(7500));
    assert!(!events(&drain(&mut m)).contains(&Event::NodeDead { node: "n2".into() }));
    assert_eq!(m.node_status("n2"), Some(NodeStatus::Active));
    // A second copy of that status, or an older one, is a duplicate.
    m.handle_message(
        Now::at_millis(7600),
        1,
        status_from("n2", 7, 0x58, "active"),
    );
    m.handle_message(Now::at_millis(7600), 0, status_from("n2", 7, 0x57, "up"));
    let cmds = drain(&mut m);
    let dups = cmds
        .iter()
        .filter(|c| matches!(c, Command::Notify(Event::Dropped(DropReason::Duplicate))))
        .count();
    assert_eq!(dups, 2, "{cmds:?}");
    assert_eq!(m.node_status("n2"), Some(NodeStatus::Active));
    m.handle_timeout(Now::at_millis(11_001));
    assert!(events(&drain(&mut m)).contains(&Event::NodeDead { node: "n2".into() }));
}
