//! Ping nodes and ipfail (issue 6; spec §5.1, §10) between two of our nodes:
//! n1 and n2 heartbeat on the private net, the group (a service address and
//! `svc`) prefers n1, and the client on the public net is the ping node
//! (192.0.2.100, and 192.0.2.101 for a ping group). Cutting a node's public
//! cable takes its ping node away while both nodes still hear each other.
//!
//! Decisions that move nothing are observed through ipfail's decision lines
//! (written in the same step as the event that caused them), then through
//! later events, never through sleeps.

use std::time::{Duration, Instant};

use crate::failover::{
    calls, count, expect_calls, responder, start, use_builtin_ip, wait_answer, who_answers, LOG,
    LONG, SCRIPT, VIP,
};
use crate::harness::{Cluster, Node, Topology};

const PING: &str = "192.0.2.100";
const PING2: &str = "192.0.2.101";
const DEADPING: Duration = Duration::from_secs(2);
/// The debug log of the 3.0.6 peer in the mixed test.
const DEBUG_LOG: &str = "/var/log/ha-debug";

fn ha_cf(auto_failback: &str, extra: &str) -> String {
    format!(
        "logfile /var/log/ha-log\nkeepalive 200ms\nwarntime 500ms\ndeadtime 1\ninitdead 10\ndeadping 2\nbcast eth1\nauto_failback {auto_failback}\nnode n1 n2\n{extra}"
    )
}

pub(crate) fn setup(node: &Node, ha_cf: &str) {
    node.write_file("/etc/ha.d/ha.cf", ha_cf, 0o644);
    node.write_file(
        "/etc/ha.d/haresources",
        &format!("n1 {VIP}/24/eth0 svc\n"),
        0o644,
    );
    node.write_file(
        "/etc/ha.d/authkeys",
        "auth 1\n1 sha1 ipfail-test-key\n",
        0o600,
    );
    node.write_file("/etc/ha.d/resource.d/svc", SCRIPT, 0o755);
    use_builtin_ip(node);
}

/// Both nodes running with `ha_cf`, n1 holding the group, and both ipfails
/// past their first exchange of counts.
fn running(cluster: &Cluster, ha_cf: &str) -> Vec<crate::harness::Spawned> {
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    let mut procs = Vec::new();
    for node in [n1, n2] {
        setup(node, ha_cf);
        procs.push(responder(node));
    }
    procs.push(start(n1));
    procs.push(start(n2));
    wait_answer(cluster.client(), "n1", [n1, n2]);
    expect_calls(n1, 0, &["svc start"], "n1 takes its group at start");
    for node in [n1, n2] {
        node.wait_for_log(LOG, "Ping node count is balanced.", LONG);
    }
    procs
}

/// The node's log from byte `from` on.
fn log_since(node: &Node, from: usize) -> String {
    let bytes = std::fs::read(node.path(LOG)).unwrap_or_default();
    String::from_utf8_lossy(bytes.get(from..).unwrap_or_default()).into_owned()
}

/// Done-when 1: n1 loses its ping node (its public cable is cut; the private
/// net still carries the heartbeats): the group moves to n2 within deadping +
/// 2 s. When n1 sees the ping node again, auto_failback on brings it back,
/// off leaves it on n2.
fn lose_and_restore(auto_failback: bool, enable: &str) {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public().with_client());
    let (n1, n2, client) = (cluster.node("n1"), cluster.node("n2"), cluster.client());
    let af = if auto_failback { "on" } else { "off" };
    let _procs = running(&cluster, &ha_cf(af, &format!("ping {PING}\n{enable}\n")));
    n1.wait_for_log(LOG, "Status update for node 192.0.2.100: status ping", LONG);

    let before2 = count(n2);
    let cut = Instant::now();
    n1.link_down("eth0");
    wait_answer(client, "n2", [n1, n2]);
    let took = cut.elapsed();
    eprintln!("n1 lost its ping node: n2 answered after {took:?} (deadping {DEADPING:?})");
    assert!(
        took <= DEADPING + Duration::from_secs(2),
        "the group took {took:?} to move, more than deadping + 2 s\n--- n1 ---\n{}\n--- n2 ---\n{}",
        n1.read_file(LOG),
        n2.read_file(LOG)
    );
    n1.wait_for_log(LOG, "WARN: node 192.0.2.100: is dead", LONG);
    n1.wait_for_log(LOG, "n1 wants to go standby [local]", LONG);
    expect_calls(n2, before2, &["svc start"], "n2 took the group");
    assert!(
        !n2.read_file(LOG).contains("node 192.0.2.100: is dead"),
        "n2 still sees the ping node"
    );

    // n1 sees the ping node again.
    let (from1, from2) = (n1.log_len(LOG), n2.log_len(LOG));
    let before1 = count(n1);
    n1.link_up("eth0");
    n1.wait_for_log_from(
        LOG,
        from1,
        &["Status update for node 192.0.2.100: status ping"],
        LONG,
    );
    n1.wait_for_log_from(LOG, from1, &["ipfail: 1 of 1 ping node(s) visible"], LONG);
    n2.wait_for_log_from(LOG, from2, &["Ping node count is balanced."], LONG);
    if auto_failback {
        wait_answer(client, "n1", [n1, n2]);
        n2.wait_for_log_from(
            LOG,
            from2,
            &["Giving up foreign resources (auto_failback)."],
            LONG,
        );
        expect_calls(n1, before1, &["svc start"], "n1 took its group back");
    } else {
        n2.wait_for_log_from(
            LOG,
            from2,
            &["auto_failback off: the other node's resources stay here."],
            LONG,
        );
        assert!(!log_since(n2, from2).contains("Giving up foreign"));
        assert_eq!(who_answers(client).as_deref(), Some("n2"));
        assert!(calls(n1, before1).is_empty(), "n1 started nothing");
    }
}

/// ipfail started as heartbeat 3.0.6 starts it (`respawn hacluster
/// /usr/lib/heartbeat/ipfail`), auto_failback on.
#[test]
fn ipfail_moves_the_group_away_from_a_node_that_loses_its_ping_node_and_back() {
    lose_and_restore(true, "respawn hacluster /usr/lib/heartbeat/ipfail");
}

/// ipfail by our own directive (`ipfail on`), auto_failback off.
#[test]
fn ipfail_with_auto_failback_off_leaves_the_group_where_it_went() {
    lose_and_restore(false, "ipfail on");
}

/// Done-when 2: both nodes lose the ping node (the ping node's own cable is
/// cut): nothing moves. The ping node comes back only after both declared it
/// dead, and counts again only 2 × deadping later, so a give-up (due 1 s after
/// the first death) would have run before the counts balance again.
#[test]
fn ipfail_both_nodes_losing_the_ping_node_moves_nothing() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public().with_client());
    let (n1, n2, client) = (cluster.node("n1"), cluster.node("n2"), cluster.client());
    let _procs = running(&cluster, &ha_cf("on", &format!("ping {PING}\nipfail on\n")));
    let (from1, from2) = (n1.log_len(LOG), n2.log_len(LOG));
    let (before1, before2) = (count(n1), count(n2));

    client.link_down("eth0");
    for (node, from) in [(n1, from1), (n2, from2)] {
        node.wait_for_log_from(LOG, from, &["node 192.0.2.100: is dead"], LONG);
    }
    client.link_up("eth0");
    // Each node counts the ping node again, then finds the counts balanced
    // (with the other's report, or with its own when it counted last).
    for (node, from) in [(n1, from1), (n2, from2)] {
        node.wait_for_log_from(LOG, from, &["ipfail: 1 of 1 ping node(s) visible"], LONG);
        let log = log_since(node, from);
        let counted = from + log.find("ipfail: 1 of 1 ping node(s) visible").unwrap_or(0);
        node.wait_for_log_from(LOG, counted, &["Ping node count is balanced."], LONG);
    }
    for (node, from) in [(n1, from1), (n2, from2)] {
        let log = log_since(node, from);
        assert!(
            !log.contains("wants to go standby") && !log.contains("giveup() called"),
            "{} moved something:\n{log}",
            node.name()
        );
    }
    assert!(calls(n1, before1).is_empty() && calls(n2, before2).is_empty());
    assert_eq!(who_answers(client).as_deref(), Some("n1"));
}

/// Echo requests the client (the ping node) has answered so far: `InEchos`
/// of its network namespace's `/proc/net/snmp`.
fn echoes_answered(client: &Node) -> u64 {
    let snmp = client.exec_ok(&["cat", "/proc/net/snmp"]);
    let mut icmp = snmp.lines().filter(|l| l.starts_with("Icmp: "));
    let (names, values) = (icmp.next().unwrap_or(""), icmp.next().unwrap_or(""));
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "InEchos")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("no Icmp InEchos in /proc/net/snmp:\n{snmp}"))
}

/// How long the client takes to answer `n` more echo requests.
fn time_for_echoes(client: &Node, n: u64) -> Duration {
    let (t0, c0) = (Instant::now(), echoes_answered(client));
    crate::harness::wait_until("echo requests at the ping node", LONG, || {
        (echoes_answered(client) >= c0 + n).then_some(())
    });
    t0.elapsed()
}

/// A reload that changes keepalive retimes the ping media: n1 goes from
/// 200 ms to 50 ms, so the ping node answers 25 requests a second instead of
/// 10 (n2 stays at 200 ms).
#[test]
fn a_reload_retimes_the_ping_nodes() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public().with_client());
    let (n1, client) = (cluster.node("n1"), cluster.client());
    let _procs = running(&cluster, &ha_cf("on", &format!("ping {PING}\nipfail on\n")));
    let before = time_for_echoes(client, 50);
    let from = n1.log_len(LOG);
    n1.write_file(
        "/etc/ha.d/ha.cf",
        &ha_cf("on", &format!("ping {PING}\nipfail on\n"))
            .replace("keepalive 200ms", "keepalive 50ms"),
        0o644,
    );
    let pid = crate::daemon::daemon_process(n1).pid;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    n1.wait_for_log_from(LOG, from, &[&format!("{PING}: pinged every 50ms")], LONG);
    let after = time_for_echoes(client, 50);
    eprintln!("50 echo requests answered in {before:?} before the reload, {after:?} after");
    // At 10 a second, 50 take about 5 s; at 25 a second, about 2 s.
    assert!(
        after < Duration::from_secs(4),
        "50 echoes took {after:?} after the reload ({before:?} before): not retimed"
    );
}

/// Done-when 3: a ping group of two hosts, one of which goes away: the group
/// stays up and nothing moves. Then n1 loses the whole group: the group moves.
#[test]
fn ipfail_a_ping_group_with_one_member_gone_stays_up() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public().with_client());
    let (n1, n2, client) = (cluster.node("n1"), cluster.node("n2"), cluster.client());
    client.exec_ok(&["ip", "addr", "add", &format!("{PING2}/24"), "dev", "eth0"]);
    let _procs = running(
        &cluster,
        &ha_cf(
            "on",
            &format!("ping_group uplinks {PING} {PING2}\nipfail on\n"),
        ),
    );
    let (from1, from2) = (n1.log_len(LOG), n2.log_len(LOG));
    let (before1, before2) = (count(n1), count(n2));

    client.exec_ok(&["ip", "addr", "del", &format!("{PING2}/24"), "dev", "eth0"]);
    for (node, from) in [(n1, from1), (n2, from2)] {
        node.wait_for_log_from(
            LOG,
            from,
            &["ping group uplinks: member 192.0.2.101 does not answer"],
            LONG,
        );
    }
    // The member's death and any consequence are decided in one step: a
    // group declared dead would be logged with it.
    for (node, from) in [(n1, from1), (n2, from2)] {
        let log = log_since(node, from);
        assert!(
            !log.contains("node uplinks: is dead") && !log.contains("Delayed giveup"),
            "{}:\n{log}",
            node.name()
        );
    }
    assert!(calls(n1, before1).is_empty() && calls(n2, before2).is_empty());

    // Without any member, the group is dead on n1 and the group moves.
    n1.link_down("eth0");
    wait_answer(client, "n2", [n1, n2]);
    n1.wait_for_log_from(LOG, from1, &["WARN: node uplinks: is dead"], LONG);
    assert!(!log_since(n2, from2).contains("node uplinks: is dead"));
}

/// A mixed cluster: ours on n1 (the built-in ipfail), Debian's heartbeat
/// 3.0.6 on n2 running Debian's own ipfail (`/usr/libexec/heartbeat/ipfail`,
/// started by the same `respawn` line that ours reads as "run the built-in
/// one"). The two ipfails talk over the wire: n1 loses its ping node, tells
/// n2 its count, 3.0.6's ipfail answers `you_are_dead`, and n1 gives its group
/// up to 3.0.6; when n1 sees the ping node again, 3.0.6's ipfail finds the
/// counts balanced and gives the group back (auto_failback on).
#[test]
fn ipfail_talks_to_debians_ipfail_in_a_mixed_cluster() {
    use crate::harness::real;
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public().with_client());
    let (n1, n2, client) = (cluster.node("n1"), cluster.node("n2"), cluster.client());
    let ha_cf = format!(
        "{}deadping 3\nping {PING}\nrespawn hacluster /usr/libexec/heartbeat/ipfail\n",
        real::basic_ha_cf(&["n1", "n2"])
    );
    let mut procs = Vec::new();
    for node in [n1, n2] {
        setup(node, &ha_cf);
        procs.push(responder(node));
    }
    // 3.0.6's ipfail logs the join of ours at debug level.
    n2.write_file(
        "/etc/ha.d/ha.cf",
        &format!("{ha_cf}debug 1\ndebugfile {DEBUG_LOG}\n"),
        0o644,
    );
    // 3.0.6 runs its package's IPaddr script.
    for s in ["IPaddr", "IPaddr2"] {
        let from = std::path::Path::new("/etc/ha.d/resource.d").join(s);
        let _ = std::fs::copy(&from, n2.path(format!("/etc/ha.d/resource.d/{s}")));
    }
    real::start(n2);
    procs.push(start(n1));
    wait_answer(client, "n1", [n1, n2]);
    expect_calls(n1, 0, &["svc start"], "n1 takes its group at start");
    real::wait_settled(n2, LONG);
    // 3.0.6's ipfail signs on and says so; ours answers with its count.
    n1.wait_for_log(
        LOG,
        "Got join message from another ipfail client. (n2)",
        LONG,
    );
    n1.wait_for_log(LOG, "Ping node count is balanced.", LONG);
    n2.wait_for_log(real::LOG, "Ping node count is balanced.", LONG);
    // And 3.0.6's ipfail understands our join.
    n2.wait_for_log(
        DEBUG_LOG,
        "Got join message from another ipfail client. (n1)",
        LONG,
    );

    let before2 = count(n2);
    n1.link_down("eth0");
    wait_answer(client, "n2", [n1, n2]);
    n2.wait_for_log(
        real::LOG,
        "Telling other node that we have more visible ping nodes.",
        LONG,
    );
    n1.wait_for_log(
        LOG,
        "Giving up because we were told that we have less ping nodes.",
        LONG,
    );
    expect_calls(n2, before2, &["svc start"], "3.0.6 took the group");

    let from2 = n2.log_len(real::LOG);
    let before1 = count(n1);
    n1.link_up("eth0");
    wait_answer(client, "n1", [n1, n2]);
    n2.wait_for_log_from(
        real::LOG,
        from2,
        &["Giving up foreign resources (auto_failback)."],
        LONG,
    );
    expect_calls(n1, before1, &["svc start"], "n1 got its group back");
    real::stop(n2);
}
