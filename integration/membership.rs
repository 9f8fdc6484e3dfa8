//! Membership over real media, in network namespaces: our daemon beside itself
//! (bcast + serial) and beside Debian's heartbeat 3.0.6 (bcast, ucast, mcast;
//! sha1, md5, crc). Every wait is for a log line, with a generous deadline.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::harness::{real, wait_until, Cluster, Node, SerialPair, Spawned, Topology};

const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");
const LOG: &str = "/var/log/ha-log";
/// Generous for anything that takes a few keepalives.
const SOON: Duration = Duration::from_secs(30);
/// 3.0.6 reports its peer active after initdead and settles ~10 s later.
const SLOW: Duration = Duration::from_secs(90);

fn keys(method: &str) -> String {
    match method {
        "crc" => "auth 1\n1 crc\n".into(),
        m => format!("auth 1\n1 {m} membership-test-key-{m}\n"),
    }
}

fn install(node: &Node, ha_cf: &str, authkeys: &str) {
    node.write_file("/etc/ha.d/ha.cf", ha_cf, 0o644);
    node.write_file("/etc/ha.d/haresources", "", 0o644);
    node.write_file("/etc/ha.d/authkeys", authkeys, 0o600);
}

/// Our daemon in `node`, with the node's own /etc/ha.d and hostname. Returns
/// once it has started its links; panics with its output if it exits instead.
fn start_ours(node: &Node) -> Spawned {
    let from = node.log_len(LOG);
    let mut d = node.spawn(&[BIN, "run"]);
    let deadline = Instant::now() + SOON;
    loop {
        let log = std::fs::read(node.path(LOG)).unwrap_or_default();
        if String::from_utf8_lossy(log.get(from..).unwrap_or_default())
            .contains("Local status now set to: 'up'")
        {
            return d;
        }
        if let Some(status) = d.try_wait() {
            panic!(
                "our daemon on {} exited ({status}) at start:\n{}",
                node.name(),
                d.output()
            );
        }
        assert!(
            Instant::now() < deadline,
            "our daemon on {} did not start:\n{}",
            node.name(),
            d.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill_ours(node: &Node) {
    let killed = node.kill_exe(BIN);
    assert!(
        !killed.is_empty(),
        "our daemon was not running on {}",
        node.name()
    );
}

/// Lines of a node's log that mention any of `words`.
fn lines_with(node: &Node, path: &str, words: &[&str]) -> Vec<String> {
    std::fs::read_to_string(node.path(path))
        .unwrap_or_default()
        .lines()
        .filter(|l| words.iter().any(|w| l.contains(w)))
        .map(str::to_owned)
        .collect()
}

fn fast_ha_cf(media: &str) -> String {
    format!(
        "logfile /var/log/ha-log\nkeepalive 200ms\nwarntime 500ms\ndeadtime 1\ninitdead 10\n{media}\nauto_failback on\nnode n1 n2\n"
    )
}

/// Issue 3, done-when 1 and 3: bcast + serial with sha1. Both nodes see each
/// other and both links; a cut medium kills the link, never the node (the seed's
/// test); `kill -9` is noticed after deadtime and the restart is accepted; both
/// media cut kills the node.
#[test]
fn ours_over_bcast_and_serial() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private());
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    let serial = SerialPair::new();
    let (sa, sb) = (
        serial.a().display().to_string(),
        serial.b().display().to_string(),
    );
    install(
        n1,
        &fast_ha_cf(&format!("bcast eth1\nserial {sa}")),
        &keys("sha1"),
    );
    install(
        n2,
        &fast_ha_cf(&format!("bcast eth1\nserial {sb}")),
        &keys("sha1"),
    );

    let _d1 = start_ours(n1);
    let second_start = Instant::now();
    let mut d2 = start_ours(n2);
    for (node, peer, tty) in [(n1, "n2", &sa), (n2, "n1", &sb)] {
        node.wait_for_log(LOG, &format!("Link {peer}:eth1 up."), SOON);
        node.wait_for_log(LOG, &format!("Link {peer}:{tty} up."), SOON);
        node.wait_for_log(
            LOG,
            &format!("Status update for node {peer}: status active"),
            SOON,
        );
    }
    eprintln!(
        "both nodes saw each other on both links {:?} after the second start",
        second_start.elapsed()
    );

    // The seed's test: unplug the Ethernet heartbeat; the serial one keeps n2 alive.
    let from = n1.log_len(LOG);
    n2.link_down("eth1");
    n1.wait_for_log_from(LOG, from, &["Link n2:eth1 dead."], SOON);
    // Links and nodes die on the same dead time: had serial not carried n2's
    // status, n2 would have been declared dead no later than its link.
    let cut = lines_with(n1, LOG, &["node n2: is dead"]);
    assert!(
        cut.is_empty(),
        "n2 declared dead with its serial link alive: {cut:?}"
    );
    n2.link_up("eth1");
    n1.wait_for_log_from(LOG, from, &["Link n2:eth1 up."], SOON);

    // kill -9: dead after deadtime, then back with a new generation.
    let from = n1.log_len(LOG);
    let killed_at = Instant::now();
    kill_ours(n2);
    drop(d2);
    n1.wait_for_log_from(LOG, from, &["node n2: is dead"], SOON);
    let noticed = killed_at.elapsed();
    eprintln!("kill -9 of n2 noticed after {noticed:?} (deadtime 1 s; 3 s in a node's first 5 s)");
    // Not before deadtime: the last beat left at most a keepalive before the kill.
    assert!(
        noticed >= Duration::from_millis(800),
        "n2 declared dead {noticed:?} after the kill"
    );
    d2 = start_ours(n2);
    n1.wait_for_log_from(LOG, from, &["Heartbeat restart on node n2"], SOON);
    n1.wait_for_log_from(
        LOG,
        from,
        &["Status update for node n2: status active"],
        SOON,
    );
    n1.wait_for_log_from(LOG, from, &[&format!("Link n2:{sa} up.")], SOON);

    // Both media cut: n2 is dead, and each cut link is reported.
    let from = n1.log_len(LOG);
    n2.link_down("eth1");
    drop(serial);
    n1.wait_for_log_from(LOG, from, &["node n2: is dead"], SOON);
    n1.wait_for_log_from(LOG, from, &["Link n2:eth1 dead."], SOON);
    n1.wait_for_log_from(LOG, from, &[&format!("Link n2:{sa} dead.")], SOON);
    drop(d2);
}

/// Issue 3, done-when 4: a peer with another key is never heard, and the log
/// says so at a bounded rate (one line per 10 s per link, with a count).
#[test]
fn a_wrong_key_is_refused_and_logged_at_a_bounded_rate() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private());
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    install(n1, &fast_ha_cf("bcast eth1"), &keys("sha1"));
    install(
        n2,
        &fast_ha_cf("bcast eth1"),
        "auth 1\n1 sha1 some-other-key-entirely\n",
    );
    let started = Instant::now();
    let _d1 = start_ours(n1);
    let _d2 = start_ours(n2);
    n1.wait_for_log(LOG, "bad packet from 203.0.113.12", SOON);
    // The second report comes a limiter interval later and counts the packets
    // it did not report: n2 sends 5 per second.
    let second = n1.wait_for_log(LOG, "more since the last report", SOON);
    let elapsed = started.elapsed();
    let reports = lines_with(n1, LOG, &["bad packet from"]);
    let allowed = (elapsed.as_secs() / 10 + 2) as usize;
    assert!(
        reports.len() <= allowed,
        "{} reports in {elapsed:?}: {reports:#?}",
        reports.len()
    );
    assert!(
        second.contains("authentication failed: digest mismatch"),
        "{second}"
    );
    let count: u64 = second
        .split('(')
        .next_back()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(count >= 10, "the suppressed packets are counted: {second}");
    assert!(lines_with(n1, LOG, &["Link n2:eth1 up.", "Status update for node n2"]).is_empty());
}

/// The words in a 3.0.6 log that would mean our packets troubled it.
const TROUBLE: [&str; 8] = [
    "failed authentication",
    "authentication failed",
    "authtoken does not match",
    "Invalid authentication",
    "replay",
    "paused",
    "lost a lot of packets",
    "Late heartbeat",
];

/// n1 runs our daemon, n2 Debian's 3.0.6, with the *same* ha.cf and authkeys.
/// Each side sees the other come up, die and come back.
fn mixed_cluster(media: &str, method: &str) {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private());
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    let ha_cf = real::basic_ha_cf(&["n1", "n2"]).replace("bcast eth1\n", &format!("{media}\n"));
    for node in [n1, n2] {
        install(node, &ha_cf, &keys(method));
    }
    real::start(n2);
    let mut ours = start_ours(n1);
    n1.wait_for_log(LOG, "Link n2:eth1 up.", SLOW);
    n1.wait_for_log(LOG, "Status update for node n2: status active", SLOW);
    n2.wait_for_log(real::LOG, "Link n1:eth1 up.", SLOW);
    n2.wait_for_log(real::LOG, "Status update for node n1: status active", SLOW);
    n2.wait_for_log(real::LOG, "Comm_now_up(): updating status to active", SLOW);
    real::wait_settled(n2, SLOW);

    // Ours dies and returns: 3.0.6 accepts the new generation.
    let from = n2.log_len(real::LOG);
    kill_ours(n1);
    drop(ours);
    n2.wait_for_log_from(real::LOG, from, &["node n1: is dead"], SOON);
    ours = start_ours(n1);
    n2.wait_for_log_from(real::LOG, from, &["Heartbeat restart on node n1"], SOON);
    n2.wait_for_log_from(
        real::LOG,
        from,
        &["Status update for node n1: status active"],
        SOON,
    );

    // 3.0.6 dies and returns: we accept its new generation.
    let from = n1.log_len(LOG);
    real::kill_hard(n2);
    n1.wait_for_log_from(LOG, from, &["node n2: is dead"], SOON);
    real::start(n2);
    n1.wait_for_log_from(LOG, from, &["Heartbeat restart on node n2"], SLOW);
    n1.wait_for_log_from(
        LOG,
        from,
        &["Status update for node n2: status active"],
        SLOW,
    );

    // Our graceful stop: 3.0.6 takes the shutdown notice at once.
    let from = n2.log_len(real::LOG);
    n1.signal(Signal::SIGTERM, |p| {
        p.exe.ends_with("heartbeat") && p.cmdline.contains(" run")
    });
    let deadline = Instant::now() + SOON;
    while !String::from_utf8_lossy(&std::fs::read(n2.path(real::LOG)).unwrap_or_default()[from..])
        .contains("Received shutdown notice from 'n1'.")
    {
        assert!(
            Instant::now() < deadline,
            "3.0.6 never got our shutdown notice; our log:\n{}",
            n1.read_file(LOG)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    n2.wait_for_log_from(
        real::LOG,
        from,
        &["Received shutdown notice from 'n1'."],
        SOON,
    );
    let _ = ours.wait_exit(SOON);

    let trouble = lines_with(n2, real::LOG, &TROUBLE);
    assert!(
        trouble.is_empty(),
        "3.0.6 complained ({media}, {method}):\n{}",
        trouble.join("\n")
    );
}

#[test]
fn mixed_cluster_bcast_sha1() {
    mixed_cluster("bcast eth1", "sha1");
}

#[test]
fn mixed_cluster_ucast_md5() {
    mixed_cluster("ucast eth1 203.0.113.11\nucast eth1 203.0.113.12", "md5");
}

#[test]
fn mixed_cluster_mcast_crc() {
    mixed_cluster("mcast eth1 239.0.0.94 694 1 0", "crc");
}

/// The long case: a mixed cluster left alone for five minutes (`HB_LONG_SECS`
/// shortens it for local runs). 3.0.6 must log no authentication error, no
/// replay, no lost packets and no paused clients; we must log nothing late or dead.
#[test]
fn mixed_cluster_runs_clean_for_five_minutes() {
    let secs: u64 = std::env::var("HB_LONG_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let cluster = Cluster::new(&["n1", "n2"], Topology::private());
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    for node in [n1, n2] {
        install(node, &real::basic_ha_cf(&["n1", "n2"]), &keys("sha1"));
    }
    real::start(n2);
    let _ours = start_ours(n1);
    n2.wait_for_log(real::LOG, "Comm_now_up(): updating status to active", SLOW);
    n1.wait_for_log(LOG, "Status update for node n2: status active", SLOW);
    let until = Instant::now() + Duration::from_secs(secs);
    // Check as we go, so a failure shows early; the loop ends at the deadline.
    while Instant::now() < until {
        let trouble = lines_with(n2, real::LOG, &TROUBLE);
        assert!(
            trouble.is_empty(),
            "3.0.6 complained:\n{}",
            trouble.join("\n")
        );
        let ours = lines_with(
            n1,
            LOG,
            &["Late heartbeat", "is dead", "dead.", "ERROR", "CRIT"],
        );
        assert!(ours.is_empty(), "we complained:\n{}", ours.join("\n"));
        assert!(!real::processes(n2).is_empty(), "3.0.6 stopped running");
        std::thread::sleep(
            Duration::from_secs(1).min(until.saturating_duration_since(Instant::now())),
        );
    }
    let acks = lines_with(n2, real::LOG, &["all clients are now paused"]);
    assert!(acks.is_empty(), "{acks:?}");
    eprintln!("mixed cluster ran {secs} s without a complaint on either side");
}

/// What our log must not say about a peer that left gracefully (issue 14, item 12).
const DEATH: [&str; 6] = [
    "is dead",
    "dead.",
    "Late heartbeat",
    "gave up resources",
    "CRIT",
    "status active",
];

/// `cl_status nodestatus n2` through our binary: its output and exit code.
fn nodestatus(node: &Node, peer: &str) -> (String, Option<i32>) {
    let out = node.exec(&[BIN, "cl-status", "nodestatus", peer]);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

/// Lines of our log after byte `from` that mention any of `words`.
fn lines_from(node: &Node, from: usize, words: &[&str]) -> Vec<String> {
    let log = std::fs::read(node.path(LOG)).unwrap_or_default();
    String::from_utf8_lossy(log.get(from..).unwrap_or_default())
        .lines()
        .filter(|l| words.iter().any(|w| l.contains(w)))
        .map(str::to_owned)
        .collect()
}

/// Issue 14, item 12: a 3.0.6 peer leaves with `heartbeat -k`. We log its
/// shutdown notice once, and it is dead in `cl_status` at once; whatever of
/// it was still in flight neither brings it back as active nor, a dead time
/// later, kills it again (no link death, no node death, no late heartbeat).
/// Then it starts again, and is back.
#[test]
fn a_306_peer_leaving_with_heartbeat_k_is_gone_at_once_and_for_good() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private());
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    for node in [n1, n2] {
        install(node, &real::basic_ha_cf(&["n1", "n2"]), &keys("sha1"));
    }
    real::start(n2);
    let _ours = start_ours(n1);
    n1.wait_for_log(LOG, "Status update for node n2: status active", SLOW);
    real::wait_settled(n2, SLOW);

    let from = n1.log_len(LOG);
    real::stop(n2);
    n1.wait_for_log_from(LOG, from, &["Received shutdown notice from 'n2'."], SOON);
    assert_eq!(nodestatus(n1, "n2"), ("dead\n".to_owned(), Some(1)));

    // Watch for three dead times (deadtime 5 s) after the notice: 3.0.6
    // stopped sending about a second after it; the old failure came at one
    // dead time. The check fails at the first wrong line.
    let until = Instant::now() + Duration::from_secs(15);
    while Instant::now() < until {
        let wrong = lines_from(n1, from, &DEATH);
        assert!(
            wrong.is_empty(),
            "after n2's notice we said:\n{}",
            wrong.join("\n")
        );
        assert_eq!(nodestatus(n1, "n2"), ("dead\n".to_owned(), Some(1)));
        std::thread::sleep(Duration::from_millis(200));
    }
    let notices = lines_from(n1, from, &["Received shutdown notice"]);
    assert_eq!(notices.len(), 1, "{notices:#?}");

    // A real restart (a new generation) brings it back.
    real::start(n2);
    n1.wait_for_log_from(LOG, from, &["Heartbeat restart on node n2"], SLOW);
    n1.wait_for_log_from(
        LOG,
        from,
        &["Status update for node n2: status active"],
        SLOW,
    );
    wait_until("n2 active in cl_status", SOON, || {
        (nodestatus(n1, "n2") == ("active\n".to_owned(), Some(0))).then_some(())
    });
    let wrong = lines_from(n1, from, &["is dead", "dead.", "Late heartbeat", "CRIT"]);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    real::stop(n2);
}

/// A membership-only ha.cf for three of our nodes.
fn three_ha_cf() -> String {
    "logfile /var/log/ha-log\nkeepalive 200ms\nwarntime 500ms\ndeadtime 1\ninitdead 10\n\
     bcast eth1\nauto_failback on\nnode n1 n2 n3\n"
        .to_owned()
}

/// Waits until `node`'s resource protocol has settled (`cl_status rscstatus`
/// is no longer `transition`).
fn settled(node: &Node) {
    wait_until(
        &format!("{}'s resource protocol to settle", node.name()),
        SLOW,
        || {
            let out = node.exec(&[BIN, "cl-status", "rscstatus"]);
            let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            (out.status.success() && !said.is_empty() && said != "transition").then_some(())
        },
    );
}

/// Issue 14, item 13: three of our nodes, membership only (an empty
/// haresources). They start, one crashes and returns, one stops gracefully
/// and returns; after each step every node's resource protocol settles. No
/// node logs a word about resource groups (there are none): no CRIT, no
/// ERROR, no standby, no partition.
#[test]
fn three_nodes_membership_only_say_nothing_about_resource_groups() {
    let names = ["n1", "n2", "n3"];
    let cluster = Cluster::new(&names, Topology::private());
    let nodes: Vec<&Node> = names.iter().map(|n| cluster.node(n)).collect();
    for node in &nodes {
        install(node, &three_ha_cf(), &keys("sha1"));
    }
    let mut daemons: Vec<Spawned> = nodes.iter().map(|n| start_ours(n)).collect();
    for (node, me) in nodes.iter().zip(names) {
        for peer in names.iter().filter(|p| **p != me) {
            node.wait_for_log(
                LOG,
                &format!("Status update for node {peer}: status active"),
                SLOW,
            );
        }
    }
    nodes.iter().for_each(|n| settled(n));

    // n3 crashes and comes back.
    let from = nodes[0].log_len(LOG);
    kill_ours(nodes[2]);
    nodes[0].wait_for_log_from(LOG, from, &["node n3: is dead"], SOON);
    daemons[2] = start_ours(nodes[2]);
    for node in &nodes[..2] {
        node.wait_for_log_from(LOG, 0, &["Heartbeat restart on node n3"], SOON);
    }
    nodes[0].wait_for_log_from(
        LOG,
        from,
        &["Status update for node n3: status active"],
        SOON,
    );
    nodes.iter().for_each(|n| settled(n));

    // n2 stops gracefully and comes back.
    let from = nodes[0].log_len(LOG);
    nodes[1].signal(Signal::SIGTERM, |p| {
        p.exe.ends_with("heartbeat") && p.cmdline.contains(" run")
    });
    nodes[0].wait_for_log_from(LOG, from, &["Received shutdown notice from 'n2'."], SOON);
    let _ = daemons[1].wait_exit(SOON);
    daemons[1] = start_ours(nodes[1]);
    nodes[0].wait_for_log_from(
        LOG,
        from,
        &["Status update for node n2: status active"],
        SOON,
    );
    nodes[2].wait_for_log_from(LOG, 0, &["Heartbeat restart on node n2"], SOON);
    nodes.iter().for_each(|n| settled(n));

    for node in &nodes {
        let wrong = lines_with(
            node,
            LOG,
            &["resource groups", "standby", "partition", "CRIT", "ERROR"],
        );
        assert!(
            wrong.is_empty(),
            "{} spoke of resource groups:\n{}",
            node.name(),
            wrong.join("\n")
        );
    }
}
