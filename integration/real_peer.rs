//! Debian's heartbeat 3.0.6 in the namespace harness: two real nodes find
//! each other over bcast, then one crashes and the other declares it dead.
//! This proves the harness against the reference implementation, and is the
//! template for the tests that put our daemon beside a real peer.

use std::time::{Duration, Instant};

use crate::harness::{real, Cluster, Topology};

/// Generous: a node sees its peer about a second after both start, reports
/// it active after initdead (10 s) at the latest, and settles about 10 s later.
const START: Duration = Duration::from_secs(60);

#[test]
fn two_real_heartbeat_306_nodes_see_each_other() {
    let began = Instant::now();
    let cluster = Cluster::new(&["n1", "n2"], Topology::private());
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    for node in cluster.nodes() {
        real::install_config(node, &real::basic_ha_cf(&["n1", "n2"]), "", "some-key");
    }
    let built = began.elapsed();

    let pid1 = real::start(n1);
    let pid2 = real::start(n2);
    assert_ne!(pid1, pid2);
    for (node, peer) in [(n1, "n2"), (n2, "n1")] {
        node.wait_for_log(real::LOG, &format!("Link {peer}:eth1 up."), START);
        node.wait_for_log_from(
            real::LOG,
            0,
            &[
                &format!("Status update for node {peer}: status active"),
                &format!("Status update for node {peer}: status up"),
            ],
            START,
        );
    }
    let both_up = began.elapsed();
    // Let the start-up resource exchange finish (about 10 s), as a real
    // cluster would have before a failure; see `real::wait_settled`.
    for node in [n1, n2] {
        real::wait_settled(node, START);
    }
    let settled = began.elapsed();
    // Each node made its own identity in its private /var/lib/heartbeat.
    let uuid1 = std::fs::read(n1.path("/var/lib/heartbeat/hb_uuid")).expect("n1 hb_uuid");
    let uuid2 = std::fs::read(n2.path("/var/lib/heartbeat/hb_uuid")).expect("n2 hb_uuid");
    assert_ne!(uuid1, uuid2, "each node has its own UUID");

    // n2 crashes: every heartbeat process at once, and its cable is pulled.
    // (The clock starts before the kill, so it can only overstate the delay.)
    let crashed = Instant::now();
    let killed = real::kill_hard(n2);
    assert!(
        killed.len() >= 2,
        "heartbeat runs several processes: {killed:?}"
    );
    assert!(killed.iter().any(|p| p.pid == pid2), "{killed:?}");
    n2.link_down("eth1");
    // deadtime is 5 s, counted from the last packet heard (at most a
    // keepalive before the kill); allow plenty for a loaded machine.
    n1.wait_for_log(real::LOG, "node n2: is dead", Duration::from_secs(30));
    let detected = crashed.elapsed();
    assert!(
        detected >= Duration::from_secs(3),
        "n2 declared dead after {detected:?}, before deadtime could pass"
    );

    // The graceful path, for the template: `heartbeat -k` on n1.
    let stopping = Instant::now();
    real::stop(n1);
    let stopped = stopping.elapsed();
    n1.wait_for_log(real::LOG, "n1 Heartbeat shutdown complete.", START);
    assert!(real::processes(n1).is_empty());
    eprintln!(
        "real peer timings: cluster built in {built:?}, peers seen at {both_up:?}, \
         settled at {settled:?}, {} heartbeat processes killed on n2, death detected after \
         {detected:?}, n1 stopped in {stopped:?}, total {:?}",
        killed.len(),
        began.elapsed()
    );
}
