//! Faults (issue 9): a daemon frozen for longer than deadtime, and full disks
//! under the log and state directories. In each, the cluster must end with the
//! group on exactly one node, and heartbeats must go on.

use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::harness::{wait_until, Cluster, Node, Spawned, Topology};

const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");
const LOG: &str = "/var/log/ha-log";
/// The resource script keeps its record under /run: never on a full disk.
const RSC_LOG: &str = "/run/rsc.log";
const STATE: &str = "/run/rsc-svc";
const LONG: Duration = Duration::from_secs(60);

/// The resource script of the fault tests: records its calls and keeps its state
/// under /run (never on a full disk).
pub(crate) const SCRIPT: &str = r#"#!/bin/sh
echo "$(basename "$0") $*" >> /run/rsc.log
for a; do op=$a; done
case "$op" in
  start) touch /run/rsc-svc ;;
  stop) rm -f /run/rsc-svc ;;
  status) if [ -e /run/rsc-svc ]; then echo running; else echo stopped; fi ;;
esac
exit 0
"#;

fn install(node: &Node) {
    node.write_file(
        "/etc/ha.d/ha.cf",
        &format!("logfile {LOG}\nkeepalive 200ms\nwarntime 500ms\ndeadtime 1\ninitdead 10\nbcast eth1\nauto_failback off\nnode n1 n2\n"),
        0o644,
    );
    node.write_file("/etc/ha.d/haresources", "n1 svc\n", 0o644);
    node.write_file(
        "/etc/ha.d/authkeys",
        "auth 1\n1 sha1 faults-test-key\n",
        0o600,
    );
    node.write_file("/etc/ha.d/resource.d/svc", SCRIPT, 0o755);
}

fn holds(node: &Node) -> bool {
    node.path(STATE).exists()
}

fn calls(node: &Node) -> String {
    node.read_file(RSC_LOG)
}

/// Exactly one node holds the group, and it stays so for a few heartbeats.
fn converges_to_one_owner(n1: &Node, n2: &Node) -> &'static str {
    wait_until("exactly one owner", LONG, || match (holds(n1), holds(n2)) {
        (true, false) => Some("n1"),
        (false, true) => Some("n2"),
        _ => None,
    })
}

/// SIGSTOP to our daemon in `node` (and to its nsenter, which stops with it);
/// returns both PIDs for the SIGCONT.
fn freeze(node: &Node, daemon: &Spawned) -> (Pid, Pid) {
    let pid = Pid::from_raw(crate::daemon::daemon_process(node).pid);
    kill(pid, Signal::SIGSTOP).unwrap();
    let nsenter = Pid::from_raw(i32::try_from(daemon.pid()).unwrap());
    (pid, nsenter)
}

#[test]
fn a_frozen_owner_that_comes_back_converges_to_one_owner() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private());
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    install(n1);
    install(n2);
    let d1 = n1.spawn(&[BIN, "run"]);
    let _d2 = n2.spawn(&[BIN, "run"]);
    wait_until("n1 to hold its group", LONG, || holds(n1).then_some(()));

    // Frozen well past deadtime: n2 declares n1 dead and takes the group.
    let from2 = n2.log_len(LOG);
    let (pid, nsenter) = freeze(n1, &d1);
    n2.wait_for_log_from(LOG, from2, &["node n1: is dead"], LONG);
    wait_until("n2 to take the group", LONG, || holds(n2).then_some(()));
    let from1 = n1.log_len(LOG);
    kill(pid, Signal::SIGCONT).unwrap();
    let _ = kill(nsenter, Signal::SIGCONT);

    // n1 wakes up holding the group: the partition rules leave it on n1 (its
    // preferred node), and n2 releases it.
    let owner = converges_to_one_owner(n1, n2);
    assert_eq!(
        owner,
        "n1",
        "n1 calls:\n{}\nn2 calls:\n{}",
        calls(n1),
        calls(n2)
    );
    assert!(calls(n2).contains("svc stop"), "n2 released: {}", calls(n2));
    // It noticed its own stall, and said so.
    n1.wait_for_log_from(LOG, from1, &["our own heartbeat was delayed"], LONG);
}

/// Mounts a small tmpfs over `dir` inside the node and fills it.
fn small_disk(node: &Node, dir: &str) {
    node.exec_ok(&["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", dir]);
}

fn fill_up(node: &Node, dir: &str) {
    // dd stops with "No space left on device": that is the point.
    let out = node.exec(&["dd", "if=/dev/zero", &format!("of={dir}/filler"), "bs=4k"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("No space left"), "{dir} full: {err}");
}

#[test]
fn full_log_and_state_disks_stop_neither_heartbeats_nor_failover() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private());
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    install(n1);
    install(n2);
    // n2's log and state directories are small disks of their own, filled
    // once the daemon runs. Its log is then read from inside the node.
    for dir in ["/var/log", "/var/lib/heartbeat"] {
        small_disk(n2, dir);
    }
    let _d1 = n1.spawn(&[BIN, "run"]);
    let _d2 = n2.spawn(&[BIN, "run"]);
    wait_until("n1 to hold its group", LONG, || holds(n1).then_some(()));
    n1.wait_for_log(LOG, "Status update for node n2: status active", LONG);
    for dir in ["/var/log", "/var/lib/heartbeat"] {
        fill_up(n2, dir);
    }

    // Standby and takeover need messages both ways and acquisitions on n2:
    // n2 keeps heartbeating, and runs its groups, with both disks full.
    let from1 = n1.log_len(LOG);
    n1.exec_ok(&[BIN, "standby"]);
    wait_until("n2 to take the group (standby)", LONG, || {
        holds(n2).then_some(())
    });
    n1.wait_for_log_from(
        LOG,
        from1,
        &["Other node completed standby takeover of all resources."],
        LONG,
    );
    n1.exec_ok(&[BIN, "takeover"]);
    wait_until("n1 to take it back", LONG, || holds(n1).then_some(()));
    // Power loss of n1: n2 takes the group over with its disks full.
    n1.kill_all();
    n1.link_down("eth1");
    wait_until("n2 to take the group", LONG, || holds(n2).then_some(()));
    assert!(
        !n1.read_file(LOG).contains("node n2: is dead"),
        "n1 never lost n2 while its disks were full"
    );
    let n2_log = String::from_utf8_lossy(&n2.exec(&["cat", LOG]).stdout).into_owned();
    eprintln!(
        "n2's log on its full disk ends with:\n{}",
        n2_log.lines().rev().take(3).collect::<Vec<_>>().join("\n")
    );
}
