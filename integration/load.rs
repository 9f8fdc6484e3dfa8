//! Heartbeats under CPU load (issue 5): both cores busy with programs at
//! normal priority for two minutes (`HB_LOAD_SECS` shortens it for local runs);
//! with keepalive 200 ms and deadtime 1 s nobody is declared dead, and no
//! heartbeat arrives later than deadtime/2. warntime is 300 ms, so every
//! interval above that is logged: the worst one is printed.

use std::time::{Duration, Instant};

use crate::harness::{Cluster, Node, Spawned, Topology};

const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");
const LOG: &str = "/var/log/ha-log";
const LONG: Duration = Duration::from_secs(60);

fn install(node: &Node) {
    node.write_file(
        "/etc/ha.d/ha.cf",
        &format!("logfile {LOG}\nkeepalive 200ms\nwarntime 300ms\ndeadtime 1\ninitdead 10\nbcast eth1\nnode n1 n2\n"),
        0o644,
    );
    node.write_file("/etc/ha.d/haresources", "", 0o644);
    node.write_file(
        "/etc/ha.d/authkeys",
        "auth 1\n1 sha1 load-test-key\n",
        0o600,
    );
}

/// Every "Late heartbeat" interval in the node's log, in ms.
fn late_intervals(node: &Node) -> Vec<u64> {
    node.read_file(LOG)
        .lines()
        .filter_map(|l| {
            let rest = l.split("Late heartbeat: Node ").nth(1)?;
            let ms = rest.split("interval ").nth(1)?.split(' ').next()?;
            ms.parse().ok()
        })
        .collect()
}

#[test]
fn heartbeats_keep_their_pace_with_both_cores_busy() {
    let secs: u64 = std::env::var("HB_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let cluster = Cluster::new(&["n1", "n2"], Topology::private());
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    install(n1);
    install(n2);
    let _d1 = n1.spawn(&[BIN, "run"]);
    let _d2 = n2.spawn(&[BIN, "run"]);
    for (node, peer) in [(n1, "n2"), (n2, "n1")] {
        node.wait_for_log(
            LOG,
            &format!("Status update for node {peer}: status active"),
            LONG,
        );
        let rt = node.wait_for_log(LOG, "SCHED_FIFO", LONG);
        eprintln!("{}: {}", node.name(), rt.split(": ").last().unwrap_or(&rt));
    }
    let before = (late_intervals(n1).len(), late_intervals(n2).len());

    // Two busy loops per core, at normal priority, on both nodes' behalf.
    let hogs: Vec<Spawned> = (0..4)
        .map(|i| {
            let node = if i % 2 == 0 { n1 } else { n2 };
            node.spawn(&["sh", "-c", "while :; do :; done"])
        })
        .collect();
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        for node in [n1, n2] {
            let log = node.read_file(LOG);
            assert!(
                !log.contains("is dead"),
                "{} declared a death under load:\n{log}",
                node.name()
            );
        }
        std::thread::sleep(
            Duration::from_secs(1).min(until.saturating_duration_since(Instant::now())),
        );
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    drop(hogs);

    let mut late: Vec<u64> = late_intervals(n1).split_off(before.0);
    late.extend(late_intervals(n2).split_off(before.1));
    let worst = late.iter().max().copied();
    eprintln!(
        "{secs} s with 4 busy loops (load {}): {} heartbeat(s) later than warntime 300 ms, worst {}",
        load.split(' ').next().unwrap_or("?"),
        late.len(),
        worst.map_or("none".to_owned(), |w| format!("{w} ms"))
    );
    assert!(
        worst.is_none_or(|w| w <= 500),
        "a heartbeat came later than deadtime/2: {late:?}"
    );
}
