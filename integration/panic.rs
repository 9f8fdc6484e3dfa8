//! The panic policy (issue 5): a panic anywhere aborts the daemon, which then
//! behaves as after `kill -9`: the peer takes the group after deadtime, and the
//! restarted daemon releases what it left running before it joins again.

use std::os::unix::process::ExitStatusExt as _;
use std::time::Duration;

use crate::harness::{Cluster, Node, Topology};

const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");
const LOG: &str = "/var/log/ha-log";
const RSC_LOG: &str = "/var/log/rsc.log";
const TRIGGER: &str = "/run/hb-panic";
const LONG: Duration = Duration::from_secs(60);

const SCRIPT: &str = r#"#!/bin/sh
echo "$(basename "$0") $*" >> /var/log/rsc.log
state=/run/rsc-svc
for a; do op=$a; done
case "$op" in
  start) touch "$state" ;;
  stop) rm -f "$state" ;;
  status) if [ -e "$state" ]; then echo running; else echo stopped; fi ;;
esac
exit 0
"#;

fn install(node: &Node) {
    node.write_file(
        "/etc/ha.d/ha.cf",
        &format!("logfile {LOG}\nkeepalive 200ms\nwarntime 500ms\ndeadtime 1\ninitdead 10\nbcast eth1\nauto_failback on\nnode n1 n2\n"),
        0o644,
    );
    node.write_file("/etc/ha.d/haresources", "n1 svc\n", 0o644);
    node.write_file(
        "/etc/ha.d/authkeys",
        "auth 1\n1 sha1 panic-test-key\n",
        0o600,
    );
    node.write_file("/etc/ha.d/resource.d/svc", SCRIPT, 0o755);
}

fn calls(node: &Node) -> Vec<String> {
    node.read_file(RSC_LOG).lines().map(str::to_owned).collect()
}

#[test]
fn a_panic_aborts_the_daemon_and_the_cluster_recovers_as_after_a_crash() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private());
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    install(n1);
    install(n2);
    let trigger = format!("HB_DEBUG_PANIC_FILE={TRIGGER}");
    let mut d1 = n1.spawn(&["env", &trigger, BIN, "run"]);
    let _d2 = n2.spawn(&[BIN, "run"]);
    n1.wait_for_log(RSC_LOG, "svc start", LONG);

    let from2 = n2.log_len(LOG);
    n1.write_file(TRIGGER, "", 0o644);
    let status = d1.wait_exit(LONG);
    assert_eq!(
        status.signal(),
        Some(libc_sigabrt()),
        "the daemon aborted: {status:?}\n{}",
        d1.output()
    );
    let line = n1.wait_for_log(LOG, "heartbeat panicked", LONG);
    assert!(
        line.contains("CRIT") && line.contains("injected panic"),
        "{line}"
    );
    assert!(
        d1.output().contains("heartbeat panicked"),
        "{}",
        d1.output()
    );

    // As after a crash: n2 declares n1 dead and takes the group.
    n2.wait_for_log_from(LOG, from2, &["node n1: is dead"], LONG);
    n2.wait_for_log(RSC_LOG, "svc start", LONG);

    // n1 comes back: it releases the group it left running, then (auto_failback
    // on) gets it back from n2.
    std::fs::remove_file(n1.path(TRIGGER)).expect("remove the trigger");
    let before = calls(n1).len();
    let _d1 = n1.spawn(&[BIN, "run"]);
    n1.wait_for_log(
        LOG,
        "runs here from before (a crash?): releasing it before joining",
        LONG,
    );
    crate::harness::wait_until("n1 to run its group again", LONG, || {
        let after: Vec<String> = calls(n1).split_off(before);
        (after.iter().any(|c| c == "svc start")).then_some(after)
    });
    let after = calls(n1).split_off(before);
    let stop = after.iter().position(|c| c == "svc stop");
    let start = after.iter().position(|c| c == "svc start");
    assert!(
        stop.is_some() && stop < start,
        "released before it started again: {after:?}"
    );
}

fn libc_sigabrt() -> i32 {
    nix::sys::signal::Signal::SIGABRT as i32
}
