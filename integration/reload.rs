//! SIGHUP (issue 5): timing and keys change while the daemon runs, without a
//! restart and without losing its resource group; a broken configuration is
//! refused and the running one stays.

use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::harness::{Cluster, Node, Spawned, Topology};

const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");
const LOG: &str = "/var/log/ha-log";
const RSC_LOG: &str = "/var/log/rsc.log";
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

fn ha_cf(keepalive: &str, deadtime: &str) -> String {
    format!(
        "logfile {LOG}\nkeepalive {keepalive}\nwarntime 500ms\ndeadtime {deadtime}\ninitdead 10\nbcast eth1\nauto_failback on\nnode n1 n2\n"
    )
}

fn install(node: &Node, authkeys: &str) {
    node.write_file("/etc/ha.d/ha.cf", &ha_cf("200ms", "2"), 0o644);
    node.write_file("/etc/ha.d/haresources", "n1 svc\n", 0o644);
    node.write_file("/etc/ha.d/authkeys", authkeys, 0o600);
    node.write_file("/etc/ha.d/resource.d/svc", SCRIPT, 0o755);
}

fn start(node: &Node) -> Spawned {
    let d = node.spawn(&[BIN, "run"]);
    node.wait_for_log(LOG, "Local status now set to: 'up'", LONG);
    d
}

fn hup(node: &Node) {
    let exe = std::fs::canonicalize(BIN).unwrap_or_else(|_| PathBuf::from(BIN));
    let hit = node.signal(Signal::SIGHUP, |p| p.exe == exe);
    assert_eq!(hit.len(), 1, "one daemon on {}", node.name());
}

/// Waits for `count` lines containing `needle` written after byte `from`.
fn wait_lines(node: &Node, from: usize, needle: &str, count: usize) {
    crate::harness::wait_until(
        &format!("{count} lines '{needle}' on {}", node.name()),
        LONG,
        || {
            let text = node.read_file(LOG);
            let n = text
                .get(from..)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains(needle))
                .count();
            (n >= count).then_some(())
        },
    );
}

#[test]
fn sighup_applies_timing_and_keys_live_and_refuses_a_broken_configuration() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private());
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    let keys = "auth 1\n1 sha1 the-old-key\n";
    install(n1, keys);
    install(n2, keys);
    let _d1 = start(n1);
    let _d2 = start(n2);
    n1.wait_for_log(RSC_LOG, "svc start", LONG);

    // keepalive 200 ms -> 1 s on n1: n2 (warntime 500 ms) sees late heartbeats,
    // never a death (n1 announced deadtime 3 s first).
    let from2 = n2.log_len(LOG);
    n1.write_file("/etc/ha.d/ha.cf", &ha_cf("1", "3"), 0o644);
    hup(n1);
    n1.wait_for_log(
        LOG,
        "reload: applied keepalive 1s, deadtime 3s, warntime 500ms",
        LONG,
    );
    wait_lines(n2, from2, "Late heartbeat: Node n1: interval", 3);

    // A broken ha.cf: refused with file and line; the daemon runs on.
    let from1 = n1.log_len(LOG);
    n1.write_file("/etc/ha.d/ha.cf", "keepalive banana\nnode n1 n2\n", 0o644);
    hup(n1);
    let line = n1.wait_for_log_from(LOG, from1, &["reload: configuration refused"], LONG);
    assert!(line.contains("ERROR"), "{line}");
    n1.wait_for_log_from(LOG, from1, &["reload: /etc/ha.d/ha.cf:1:"], LONG);
    n1.write_file("/etc/ha.d/ha.cf", &ha_cf("1", "3"), 0o644);

    // Key rotation: add key 2 everywhere, switch to it everywhere, then n2
    // forgets key 1. Had n1 kept signing with key 1, n2 would drop its packets
    // and declare it dead within 3 s.
    for step in [
        "auth 1\n1 sha1 the-old-key\n2 sha1 the-new-key\n",
        "auth 2\n1 sha1 the-old-key\n2 sha1 the-new-key\n",
    ] {
        for node in [n1, n2] {
            let from = node.log_len(LOG);
            node.write_file("/etc/ha.d/authkeys", step, 0o600);
            hup(node);
            node.wait_for_log_from(LOG, from, &["reload: applied the new authkeys"], LONG);
        }
    }
    let from2 = n2.log_len(LOG);
    n2.write_file("/etc/ha.d/authkeys", "auth 2\n2 sha1 the-new-key\n", 0o600);
    hup(n2);
    n2.wait_for_log_from(LOG, from2, &["reload: applied the new authkeys"], LONG);
    // More than a dead time of heartbeats from n1, each seen late (1 s > 500 ms).
    wait_lines(n2, from2, "Late heartbeat: Node n1: interval", 5);

    let all2 = n2.read_file(LOG);
    assert!(
        !all2.contains("node n1: is dead"),
        "n2 never lost n1:\n{all2}"
    );
    assert!(
        !all2.contains("bad packet from"),
        "every packet of n1 verified:\n{all2}"
    );
    let calls = n1.read_file(RSC_LOG);
    assert_eq!(
        calls.matches("svc start").count(),
        1,
        "n1 started its group once: {calls}"
    );
    assert!(
        !calls.contains("svc stop"),
        "n1 never released its group: {calls}"
    );
}
