//! Packet loss (issue 9): 30% of every heartbeat packet dropped on each node's
//! way out, on both media, with deadtime 10 × keepalive. Nobody is declared
//! dead and the group does not move. One minute here (`HB_LOSS_SECS`); the
//! five-minute run is `scripts/loss-5min.sh`.
//!
//! This kernel has no netem, so the loss is an nftables rule inside each node:
//! `udp dport 694 numgen random mod 10 < 3 drop` on output. With two media a
//! beat is lost on both with probability 0.09; ten in a row (a dead time) with
//! 0.09^10 ≈ 3.5e-11, so a death here is a bug, not bad luck. (With one medium,
//! 0.3^10 ≈ 6e-6 per dead time would make a five-minute run fail about one time
//! in fifty.)

use std::time::{Duration, Instant};

use crate::harness::{wait_until, Cluster, Node, Topology};

const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");
const LOG: &str = "/var/log/ha-log";
const LONG: Duration = Duration::from_secs(60);

use crate::faults::SCRIPT;

fn install(node: &Node) {
    node.write_file(
        "/etc/ha.d/ha.cf",
        &format!("logfile {LOG}\nkeepalive 200ms\nwarntime 1\ndeadtime 2\ninitdead 10\nbcast eth0\nbcast eth1\nauto_failback off\nnode n1 n2\n"),
        0o644,
    );
    node.write_file("/etc/ha.d/haresources", "n1 svc\n", 0o644);
    node.write_file(
        "/etc/ha.d/authkeys",
        "auth 1\n1 sha1 loss-test-key\n",
        0o600,
    );
    node.write_file("/etc/ha.d/resource.d/svc", SCRIPT, 0o755);
}

/// Drops 30% of the node's outgoing heartbeat packets, on every interface.
fn lossy(node: &Node) {
    node.exec_ok(&["nft", "add", "table", "inet", "loss"]);
    node.exec_ok(&[
        "nft",
        "add",
        "chain",
        "inet",
        "loss",
        "out",
        "{ type filter hook output priority 0; }",
    ]);
    node.exec_ok(&[
        "nft", "add", "rule", "inet", "loss", "out", "udp", "dport", "694", "numgen", "random",
        "mod", "10", "<", "3", "counter", "drop",
    ]);
}

/// Packets the node's loss rule dropped so far.
fn dropped(node: &Node) -> u64 {
    let out = node.exec_ok(&["nft", "list", "chain", "inet", "loss", "out"]);
    out.split("packets ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn thirty_percent_loss_on_every_medium_causes_no_false_death() {
    let secs: u64 = std::env::var("HB_LOSS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public());
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    for node in [n1, n2] {
        install(node);
        lossy(node);
    }
    let _d1 = n1.spawn(&[BIN, "run"]);
    let _d2 = n2.spawn(&[BIN, "run"]);
    wait_until("n1 to hold its group", LONG, || {
        n1.path("/run/rsc-svc").exists().then_some(())
    });
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        for node in [n1, n2] {
            let log = node.read_file(LOG);
            assert!(
                !log.contains("is dead"),
                "{} declared a death under 30% loss:\n{log}",
                node.name()
            );
        }
        std::thread::sleep(
            Duration::from_secs(1).min(until.saturating_duration_since(Instant::now())),
        );
    }
    let (d1, d2) = (dropped(n1), dropped(n2));
    let lost_lines = n1.read_file(LOG).matches("lost packet").count()
        + n2.read_file(LOG).matches("lost packet").count();
    eprintln!(
        "{secs} s at 30% loss: {d1} + {d2} packets dropped, {lost_lines} gap reports, no death"
    );
    assert!(
        d1 > 0 && d2 > 0,
        "the loss rule dropped packets on both nodes"
    );
    assert!(
        !n2.path("/run/rsc-svc").exists(),
        "the group never moved to n2"
    );
    assert!(n1.path("/run/rsc-svc").exists(), "n1 still holds it");
    assert!(
        !n2.read_file("/run/rsc.log").contains("start"),
        "n2 never started the group"
    );
}
