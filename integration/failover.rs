//! Resource failover between two of our nodes (issue 4): the seed's group with a
//! service address, a service and `maid::vacuum`, a client on the public net that
//! asks "who answers on the service address?", power loss, return with
//! auto_failback on, and a graceful stop.

use std::time::{Duration, Instant};

use crate::harness::{Cluster, Node, Spawned, Topology};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");
pub(crate) const LOG: &str = "/var/log/ha-log";
pub(crate) const RSC_LOG: &str = "/var/log/rsc.log";
pub(crate) const VIP: &str = "192.0.2.50";
pub(crate) const PORT: &str = "7000";
pub(crate) const LONG: Duration = Duration::from_secs(60);

/// A resource script that records its arguments and keeps its state in /run.
pub(crate) const SCRIPT: &str = r#"#!/bin/sh
name=$(basename "$0")
echo "$name $*" >> /var/log/rsc.log
state="/run/rsc-$name"
for a; do op=$a; done
case "$op" in
  start) touch "$state" ;;
  stop) rm -f "$state" ;;
  status) if [ -e "$state" ]; then echo running; else echo stopped; fi ;;
esac
exit 0
"#;

/// The ha.cf of two of our nodes.
const HA_CF: &str = "logfile /var/log/ha-log\nkeepalive 200ms\nwarntime 500ms\ndeadtime 1\ninitdead 10\nbcast eth1\nauto_failback on\nnode n1 n2\n";

fn setup(node: &Node) {
    node.write_file("/etc/ha.d/ha.cf", HA_CF, 0o644);
    node.write_file(
        "/etc/ha.d/haresources",
        &format!("n1 {VIP}/24/eth0 svc maid::vacuum\n"),
        0o644,
    );
    node.write_file(
        "/etc/ha.d/authkeys",
        "auth 1\n1 sha1 failover-test-key\n",
        0o600,
    );
    node.write_file("/etc/ha.d/resource.d/svc", SCRIPT, 0o755);
    node.write_file("/etc/ha.d/resource.d/maid", SCRIPT, 0o755);
    use_builtin_ip(node);
}

/// A responder on a node: whoever holds the address answers with its name.
pub(crate) fn responder(node: &Node) -> Spawned {
    node.spawn(&[
        "socat",
        &format!("TCP-LISTEN:{PORT},fork,reuseaddr"),
        "SYSTEM:hostname",
    ])
}

/// Takes the package's IPaddr scripts out of resource.d. The built-in address
/// runs anyway (`ipaddr_scripts` is off by default, see `debian_host.rs`);
/// this keeps these tests independent of that default.
pub(crate) fn use_builtin_ip(node: &Node) {
    for s in ["IPaddr", "IPaddr2"] {
        let _ = std::fs::remove_file(node.path(format!("/etc/ha.d/resource.d/{s}")));
    }
}

/// A mixed cluster: ours on n1 (built-in address), Debian's 3.0.6 on n2 (its
/// IPaddr script), one group `svc` preferred on `owner`. Returns the responders.
fn mixed_setup(n1: &Node, n2: &Node, owner: &str) -> Vec<Spawned> {
    let ha_cf = crate::harness::real::basic_ha_cf(&["n1", "n2"]);
    let mut responders = Vec::new();
    for node in [n1, n2] {
        node.write_file("/etc/ha.d/ha.cf", &ha_cf, 0o644);
        node.write_file(
            "/etc/ha.d/haresources",
            &format!("{owner} {VIP}/24/eth0 svc\n"),
            0o644,
        );
        node.write_file(
            "/etc/ha.d/authkeys",
            "auth 1\n1 sha1 mixed-failover-key\n",
            0o600,
        );
        node.write_file("/etc/ha.d/resource.d/svc", SCRIPT, 0o755);
        responders.push(responder(node));
    }
    use_builtin_ip(n1);
    responders
}

pub(crate) fn start(node: &Node) -> Spawned {
    let from = node.log_len(LOG);
    let d = node.spawn(&[BIN, "run"]);
    node.wait_for_log_from(LOG, from, &["Local status now set to: 'up'"], LONG);
    d
}

/// Who answers on the service address, as the client sees it.
pub(crate) fn who_answers(client: &Node) -> Option<String> {
    let out = client.exec(&[
        "socat",
        "-u",
        "-T",
        "2",
        &format!("TCP:{VIP}:{PORT},connect-timeout=1"),
        "-",
    ]);
    let name = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !name.is_empty()).then_some(name)
}

pub(crate) fn wait_answer(client: &Node, want: &str, nodes: [&Node; 2]) -> Duration {
    let t = Instant::now();
    while who_answers(client).as_deref() != Some(want) {
        if t.elapsed() > LONG {
            let logs: Vec<String> = nodes
                .iter()
                .map(|n| {
                    format!(
                        "--- {} ---\n{}\n{}",
                        n.name(),
                        n.read_file(LOG),
                        n.read_file(RSC_LOG)
                    )
                })
                .collect();
            panic!(
                "{want} never answered on {VIP}; last answer {:?}\n{}",
                who_answers(client),
                logs.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    t.elapsed()
}

/// A node's eth0 MAC address.
fn mac(node: &Node) -> String {
    let out = node.exec_ok(&["ip", "-o", "link", "show", "eth0"]);
    out.split("link/ether ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_default()
        .to_owned()
}

/// The MAC the client's neighbour table has for the service address.
fn neighbour_mac(client: &Node) -> String {
    let out = client.exec_ok(&["ip", "neigh", "show", VIP]);
    out.split("lladdr ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_default()
        .to_owned()
}

/// The lines a node's scripts wrote, from line `from` on.
pub(crate) fn calls(node: &Node, from: usize) -> Vec<String> {
    std::fs::read_to_string(node.path(RSC_LOG))
        .unwrap_or_default()
        .lines()
        .skip(from)
        .filter(|l| !l.ends_with(" status"))
        .map(str::to_owned)
        .collect()
}

/// Waits until the scripts wrote as many lines as expected, then compares.
pub(crate) fn expect_calls(node: &Node, from: usize, expected: &[&str], why: &str) {
    let got = crate::harness::wait_until(
        &format!("{} script calls on {}", expected.len(), node.name()),
        LONG,
        || {
            let c = calls(node, from);
            (c.len() >= expected.len()).then_some(c)
        },
    );
    assert_eq!(got, expected, "{why}");
}

/// [`expect_calls`] for calls of independent groups, which start and stop
/// side by side (a slow one delays only itself): their order between groups
/// is not fixed, each group's own order is (one call per group here).
pub(crate) fn expect_calls_unordered(node: &Node, from: usize, expected: &[&str], why: &str) {
    let mut got = crate::harness::wait_until(
        &format!("{} script calls on {}", expected.len(), node.name()),
        LONG,
        || {
            let c = calls(node, from);
            (c.len() >= expected.len()).then_some(c)
        },
    );
    let mut expected = expected.to_vec();
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "{why}");
}

pub(crate) fn count(node: &Node) -> usize {
    std::fs::read_to_string(node.path(RSC_LOG))
        .unwrap_or_default()
        .lines()
        .count()
}

/// The seed's group on both nodes, a responder on each, both daemons
/// started, and n1 serving after the start-up exchange. Returns the
/// responders and the two daemons.
pub(crate) fn serving_pair(
    n1: &Node,
    n2: &Node,
    client: &Node,
) -> (Vec<Spawned>, Spawned, Spawned) {
    let mut responders = Vec::new();
    for node in [n1, n2] {
        setup(node);
        // A responder on every node: whoever holds the address answers with its name.
        responders.push(responder(node));
    }
    let d1 = start(n1);
    let d2 = start(n2);
    wait_answer(client, "n1", [n1, n2]);
    (responders, d1, d2)
}

#[test]
fn the_seed_group_fails_over_fails_back_and_follows_a_graceful_stop() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public().with_client());
    let (n1, n2, client) = (cluster.node("n1"), cluster.node("n2"), cluster.client());
    // n1 takes its group after the start-up exchange.
    let (mut responders, _d1, d2) = serving_pair(n1, n2, client);
    expect_calls(
        n1,
        0,
        &["svc start", "maid vacuum start"],
        "left to right, argv as written",
    );
    assert!(calls(n2, 0).is_empty(), "n2 runs nothing");

    // Power loss on n1: every process killed, cables pulled.
    let before2 = count(n2);
    n1.kill_all();
    n1.link_down("eth1");
    n1.link_down("eth0");
    let outage = wait_answer(client, "n2", [n1, n2]);
    eprintln!("power loss of n1: the client reached n2 after {outage:?} (deadtime 1 s)");
    expect_calls(
        n2,
        before2,
        &["svc start", "maid vacuum start"],
        "n2 took the group over",
    );
    // n1 returns: with auto_failback on, n2 stops the group (right to left)
    // before n1 starts it.
    for iface in ["eth0", "eth1"] {
        n1.link_up(iface);
    }
    // n1's processes died, but its service address and its scripts' state are
    // still there: the daemon must release them before it joins.
    // The power loss took n1's responder too.
    responders.push(responder(n1));
    let (before1, before2) = (count(n1), count(n2));
    let _d1 = start(n1);
    wait_answer(client, "n1", [n1, n2]);
    expect_calls(
        n2,
        before2,
        &["maid vacuum stop", "svc stop"],
        "right to left",
    );
    expect_calls(
        n1,
        before1,
        &[
            "maid vacuum stop",
            "svc stop",
            "svc start",
            "maid vacuum start",
        ],
        "n1 released what was left from before it died, then took its group back",
    );
    n1.wait_for_log(
        LOG,
        "runs here from before (a crash?): releasing it before joining",
        LONG,
    );
    n2.wait_for_log(
        LOG,
        "Other node completed standby takeover of foreign resources.",
        LONG,
    );

    // `heartbeat standby` on n1 moves the group to n2; `heartbeat takeover` on n1
    // brings it back. After each move the client's ARP cache names the new owner.
    let denied = n1.exec(&[
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        BIN,
        "standby",
    ]);
    assert!(
        !denied.status.success(),
        "a non-root caller must be refused"
    );
    let from = n1.log_len(LOG);
    let out = n1.exec(&[BIN, "standby"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_answer(client, "n2", [n1, n2]);
    n1.wait_for_log_from(
        LOG,
        from,
        &["Other node completed standby takeover of all resources."],
        LONG,
    );
    assert_eq!(
        neighbour_mac(client),
        mac(n2),
        "the client's ARP cache points to n2"
    );
    let from = n1.log_len(LOG);
    let out = n1.exec(&[BIN, "takeover"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_answer(client, "n1", [n1, n2]);
    n1.wait_for_log_from(
        LOG,
        from,
        &["Standby resource acquisition done [all]."],
        LONG,
    );
    assert_eq!(
        neighbour_mac(client),
        mac(n1),
        "the client's ARP cache points to n1"
    );

    // Graceful stop of n1: n2 takes over without waiting for deadtime.
    let before2 = count(n2);
    let stopping = Instant::now();
    n1.signal(nix::sys::signal::Signal::SIGTERM, |p| {
        p.exe.ends_with("heartbeat") && p.cmdline.contains(" run")
    });
    wait_answer(client, "n2", [n1, n2]);
    eprintln!(
        "graceful stop of n1: the client reached n2 after {:?}",
        stopping.elapsed()
    );
    expect_calls(
        n2,
        before2,
        &["svc start", "maid vacuum start"],
        "n2 took over at the graceful stop",
    );
    n2.wait_for_log(LOG, "Received shutdown notice from 'n1'.", LONG);
    drop(d2);
}

/// Issue 4, done-when 4: our node (n1, preferred owner, built-in address) and
/// Debian's heartbeat 3.0.6 (n2, its own IPaddr script) share the group: power
/// loss of ours, return with auto_failback on, and our graceful stop.
#[test]
fn a_mixed_cluster_with_heartbeat_306_fails_over_and_back() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public().with_client());
    let (n1, n2, client) = (cluster.node("n1"), cluster.node("n2"), cluster.client());
    // Ours uses its built-in address resource; 3.0.6 keeps Debian's IPaddr script.
    let mut responders = mixed_setup(n1, n2, "n1");
    crate::harness::real::start(n2);
    let _d1 = start(n1);
    wait_answer(client, "n1", [n1, n2]);
    expect_calls(n1, 0, &["svc start"], "n1 runs its group");

    // Power loss of ours: 3.0.6 takes the group with its IPaddr script.
    let before2 = count(n2);
    n1.kill_all();
    n1.link_down("eth1");
    n1.link_down("eth0");
    let outage = wait_answer(client, "n2", [n1, n2]);
    eprintln!("power loss of our n1: 3.0.6's n2 answered after {outage:?} (deadtime 5 s)");
    expect_calls(n2, before2, &["svc start"], "3.0.6 took the group over");

    // Ours returns: 3.0.6 gives the group back (auto_failback on).
    for iface in ["eth0", "eth1"] {
        n1.link_up(iface);
    }
    responders.push(responder(n1));
    let before2 = count(n2);
    let _d1 = start(n1);
    wait_answer(client, "n1", [n1, n2]);
    expect_calls(n2, before2, &["svc stop"], "3.0.6 released the group");
    n2.wait_for_log(
        crate::harness::real::LOG,
        "Other node completed standby takeover",
        LONG,
    );

    // Our graceful stop: 3.0.6 takes over at once.
    let stopping = Instant::now();
    n1.signal(nix::sys::signal::Signal::SIGTERM, |p| {
        p.exe.ends_with("heartbeat") && p.cmdline.contains(" run")
    });
    wait_answer(client, "n2", [n1, n2]);
    eprintln!(
        "graceful stop of our n1: 3.0.6's n2 answered after {:?}",
        stopping.elapsed()
    );
    n2.wait_for_log(
        crate::harness::real::LOG,
        "Received shutdown notice from 'n1'.",
        LONG,
    );
}

/// Issue 4, done-when 5 (failing start): n1's service does not start. n1 stops
/// what it had started (the address), says why, and after a pause offers the
/// group to n2, which runs it. n1 does not retry in a loop.
#[test]
fn a_group_that_fails_to_start_is_rolled_back_and_handed_to_the_peer() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public().with_client());
    let (n1, n2, client) = (cluster.node("n1"), cluster.node("n2"), cluster.client());
    let mut responders = Vec::new();
    for node in [n1, n2] {
        setup(node);
        responders.push(responder(node));
    }
    // On n1, svc records its call, then fails to start.
    let failing = SCRIPT.replace("  start) touch \"$state\" ;;", "  start) exit 1 ;;");
    assert_ne!(failing, SCRIPT);
    n1.write_file("/etc/ha.d/resource.d/svc", &failing, 0o755);
    let _d1 = start(n1);
    let _d2 = start(n2);
    n1.wait_for_log(LOG, "Giving up resources due to failure of svc", LONG);
    expect_calls(n1, 0, &["svc start"], "one attempt");
    // The address it had added is gone again.
    let addrs = n1.exec_ok(&["ip", "-o", "addr", "show", "dev", "eth0"]);
    assert!(!addrs.contains(VIP), "n1 still has {VIP}: {addrs}");
    // After the pause, n2 runs the group.
    n1.wait_for_log(
        LOG,
        "offering the local groups that failed here to the other node",
        LONG,
    );
    wait_answer(client, "n2", [n1, n2]);
    expect_calls(
        n2,
        0,
        &["svc start", "maid vacuum start"],
        "n2 runs the group",
    );
    n2.wait_for_log(LOG, "Standby resource acquisition done [local].", LONG);
    let starts = calls(n1, 0).iter().filter(|c| *c == "svc start").count();
    assert_eq!(starts, 1, "n1 did not retry: {:?}", calls(n1, 0));
}

/// Issue 4, done-when 4, the other direction: Debian's 3.0.6 (n2) is the
/// preferred owner and our node (n1) the backup.
#[test]
fn a_mixed_cluster_where_heartbeat_306_is_the_owner() {
    use crate::harness::real;
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public().with_client());
    let (n1, n2, client) = (cluster.node("n1"), cluster.node("n2"), cluster.client());
    let mut responders = mixed_setup(n1, n2, "n2");
    let _d1 = start(n1);
    real::start(n2);
    wait_answer(client, "n2", [n1, n2]);

    // Power loss of 3.0.6: we take the group with the built-in address.
    n2.kill_all();
    n2.link_down("eth1");
    n2.link_down("eth0");
    let outage = wait_answer(client, "n1", [n1, n2]);
    eprintln!("power loss of 3.0.6's n2: our n1 answered after {outage:?} (deadtime 5 s)");
    expect_calls(n1, 0, &["svc start"], "we took the group over");

    // 3.0.6 returns (its alias and service state gone, as after a reboot): we
    // give the group back, releasing before it acquires.
    n2.exec(&[
        "ip",
        "addr",
        "flush",
        "dev",
        "eth0",
        "to",
        &format!("{VIP}/32"),
    ]);
    let _ = std::fs::remove_file(n2.path("/run/rsc-svc"));
    for iface in ["eth0", "eth1"] {
        n2.link_up(iface);
    }
    responders.push(responder(n2));
    let before1 = count(n1);
    real::start(n2);
    wait_answer(client, "n2", [n1, n2]);
    expect_calls(n1, before1, &["svc stop"], "we released the group");
    n1.wait_for_log(
        LOG,
        "Other node completed standby takeover of foreign resources.",
        LONG,
    );

    // 3.0.6's graceful stop (`heartbeat -k`): we take over without waiting for deadtime.
    let stopping = Instant::now();
    let stopper = std::thread::spawn({
        let out = n2.command(&[real::DAEMON, "-k"]);
        move || {
            let mut out = out;
            out.output()
        }
    });
    wait_answer(client, "n1", [n1, n2]);
    eprintln!(
        "graceful stop of 3.0.6's n2: our n1 answered after {:?}",
        stopping.elapsed()
    );
    n1.wait_for_log(LOG, "Received shutdown notice from 'n2'.", LONG);
    let _ = stopper.join();
}

/// `hang`: runs until it is stopped, but its `stop` hangs (a child and a
/// grandchild `sleep 3600`, as a stuck unmount would), so `status` keeps
/// saying running.
const HANG: &str = r#"#!/bin/sh
echo "hang $*" >> /var/log/rsc.log
case "$1" in
  start) touch /run/rsc-hang ;;
  stop) sleep 3600 & sleep 3600 ;;
  status) if [ -e /run/rsc-hang ]; then echo running; else echo stopped; fi ;;
esac
exit 0
"#;

/// The hung stop's processes still alive on `node`.
fn hung_sleeps(node: &Node) -> Vec<String> {
    node.processes()
        .into_iter()
        .filter(|p| p.cmdline == "sleep 3600")
        .map(|p| format!("{} (pid {})", p.cmdline, p.pid))
        .collect()
}

/// Issue 4, done-when 5 (hanging stop): with `script_timeout 2`, `heartbeat
/// standby` on n1 runs `hang stop`, which hangs. At the timeout its whole
/// process group is killed, the stop is not retried, `status` still says
/// running, and n1 keeps the group (CRIT). n2 must not take a group that n1
/// still holds: the service address keeps answering from n1 alone.
#[test]
fn a_hanging_stop_script_is_killed_at_the_timeout_and_the_group_stays_where_it_runs() {
    const TIMEOUT: Duration = Duration::from_secs(2);
    // Ten retries would take more than ten timeouts; one stop and one status
    // take one timeout plus the kill.
    const BOUND: Duration = Duration::from_secs(5 * 2);
    // n2 took a released group within about a second in the other tests;
    // watch it for several times that.
    const WATCH: Duration = Duration::from_secs(10);
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public().with_client());
    let (n1, n2, client) = (cluster.node("n1"), cluster.node("n2"), cluster.client());
    let mut responders = Vec::new();
    for node in [n1, n2] {
        node.write_file(
            "/etc/ha.d/ha.cf",
            &format!("{HA_CF}script_timeout {}\n", TIMEOUT.as_secs()),
            0o644,
        );
        node.write_file(
            "/etc/ha.d/haresources",
            &format!("n1 {VIP}/24 hang\n"),
            0o644,
        );
        node.write_file(
            "/etc/ha.d/authkeys",
            "auth 1\n1 sha1 failover-test-key\n",
            0o600,
        );
        node.write_file("/etc/ha.d/resource.d/hang", HANG, 0o755);
        use_builtin_ip(node);
        responders.push(responder(node));
    }
    let _d1 = start(n1);
    let _d2 = start(n2);
    wait_answer(client, "n1", [n1, n2]);
    expect_calls(n1, 0, &["hang start"], "n1 runs its group");

    let (from1, from2, before1) = (n1.log_len(LOG), n2.log_len(LOG), count(n1));
    // Standby is refused while the start-up exchange is still running.
    let asked = crate::harness::wait_until("n1 to accept `heartbeat standby`", LONG, || {
        let out = n1.exec(&[BIN, "standby"]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() {
            return Some(Instant::now());
        }
        assert!(
            err.contains("a resource transition is in progress"),
            "{err}"
        );
        None
    });
    // The stop hangs: its processes are there until the timeout.
    crate::harness::wait_until("the hung stop's processes on n1", LONG, || {
        (!hung_sleeps(n1).is_empty()).then_some(())
    });
    let timed_out = n1.wait_for_log_from(
        LOG,
        from1,
        &["ERROR: /etc/ha.d/resource.d/hang stop timed out after 2s; its process group was killed"],
        BOUND,
    );
    let crit = n1.wait_for_log_from(
        LOG,
        from1,
        &[&format!(
            "CRIT: Resource STOP failure. hang still runs: group {VIP}/24 is NOT released"
        )],
        BOUND.saturating_sub(asked.elapsed()),
    );
    eprintln!(
        "standby with a hung stop: {timed_out:?}, then {crit:?}, {:?} after the request",
        asked.elapsed()
    );
    assert!(
        asked.elapsed() < BOUND,
        "the group's failure took {:?}",
        asked.elapsed()
    );
    assert_eq!(
        hung_sleeps(n1),
        Vec::<String>::new(),
        "the hung script's process group is gone"
    );
    assert_eq!(
        calls(n1, before1),
        vec!["hang stop"],
        "one stop, not retried, and nothing left of it stopped"
    );
    let log1 = n1.read_file(LOG);
    let timeouts = log1[from1..]
        .lines()
        .filter(|l| l.contains("hang stop timed out after"))
        .count();
    assert_eq!(timeouts, 1, "the stop ran once");

    // n2 never takes the group: the address keeps answering from n1, and n2
    // never starts the group.
    let watching = Instant::now();
    while watching.elapsed() < WATCH {
        assert_eq!(
            who_answers(client).as_deref(),
            Some("n1"),
            "the service address must answer from n1 alone\n--- n1 ---\n{}\n--- n2 ---\n{}",
            n1.read_file(LOG),
            n2.read_file(LOG)
        );
        let log2 = n2.read_file(LOG);
        assert!(
            !log2[from2..].contains("Acquiring resource group:"),
            "n2 took a group that n1 still holds:\n{}",
            &log2[from2..]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(calls(n2, 0).is_empty(), "n2 ran {:?}", calls(n2, 0));
}

/// Both media cut (split brain), then healed: during the cut both nodes hold the
/// group (no STONITH, as with 3.0.6); after the heal the group's preferred node
/// keeps it, the other releases it (right to left), and the keeper's new
/// gratuitous ARP brings the client's ARP cache back to it. With
/// `auto_failback off`, so nothing but the heal moves the group.
#[test]
fn a_healed_partition_leaves_the_group_on_one_node() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public().with_client());
    let (n1, n2, client) = (cluster.node("n1"), cluster.node("n2"), cluster.client());
    let mut responders = Vec::new();
    for node in [n1, n2] {
        setup(node);
        let off = HA_CF.replace("auto_failback on", "auto_failback off");
        node.write_file("/etc/ha.d/ha.cf", &off, 0o644);
        responders.push(responder(node));
    }
    let _d1 = start(n1);
    let _d2 = start(n2);
    wait_answer(client, "n1", [n1, n2]);

    // The heartbeat medium is cut: each declares the other dead, n2 takes the
    // group too (n1 keeps it).
    let from2 = n2.log_len(LOG);
    n2.link_down("eth1");
    n2.wait_for_log_from(LOG, from2, &["mach_down takeover complete."], LONG);
    let (before1, before2) = (count(n1), count(n2));
    assert!(
        n1.exec_ok(&["ip", "-4", "addr"]).contains(VIP),
        "n1 still holds the address during the partition"
    );

    // Healed: n2 gives the group back, n1 announces it again.
    let (from1, from2) = (n1.log_len(LOG), n2.log_len(LOG));
    let healed = Instant::now();
    n2.link_up("eth1");
    n2.wait_for_log_from(
        LOG,
        from2,
        &["Releasing the foreign resource groups to the other node."],
        LONG,
    );
    n1.wait_for_log_from(
        LOG,
        from1,
        &["Announcing the local resource groups again"],
        LONG,
    );
    n2.wait_for_log_from(
        LOG,
        from2,
        &["foreign HA resources released to the other node."],
        LONG,
    );
    expect_calls(
        n2,
        before2,
        &["maid vacuum stop", "svc stop"],
        "n2 released, right to left",
    );
    assert!(
        !n2.exec_ok(&["ip", "-4", "addr"]).contains(VIP),
        "n2 no longer has the address"
    );
    wait_answer(client, "n1", [n1, n2]);
    // n1 announces again once n2 has let go: the client's cache names n1.
    wait_until_mac(client, &mac(n1));
    eprintln!(
        "healed partition: n2 released and the client's ARP entry named n1 {:?} after the heal",
        healed.elapsed()
    );
    let stops: Vec<String> = calls(n1, before1)
        .into_iter()
        .filter(|c| c.ends_with("stop"))
        .collect();
    assert!(
        stops.is_empty(),
        "n1, the preferred node, stopped nothing: {stops:?}"
    );
}

fn wait_until_mac(client: &Node, want: &str) {
    let t = Instant::now();
    while neighbour_mac(client) != want {
        assert!(
            t.elapsed() < LONG,
            "the client's ARP entry for {VIP} stays {}, not {want}",
            neighbour_mac(client)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
