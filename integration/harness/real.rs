//! Debian's heartbeat 3.0.6 (package `heartbeat`) run as a peer inside a
//! [`Node`]: its paths, a configuration writer, start, graceful stop and
//! hard kill. See the module documentation of the harness for what it needs
//! in the node's private directories.

use std::path::Path;
use std::time::Duration;

use super::{wait_until, Node, NodeProcess};

/// The daemon. It always daemonizes: there is no foreground option.
pub const DAEMON: &str = "/usr/libexec/heartbeat/heartbeat";

/// Where [`basic_ha_cf`] makes it log (`logfile`), inside the node.
pub const LOG: &str = "/var/log/ha-log";

/// Its pid file inside the node; it holds the node-local PID of the master
/// control process.
pub const PIDFILE: &str = "/run/heartbeat.pid";

/// How long starting or stopping may take before the test fails.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The reference two-node timing and media used by the real-peer tests:
/// keepalive 1 s, deadtime 5 s, warntime 3 s, initdead 10 s, bcast on eth1
/// (port 694), `auto_failback on`, `crm off`, logging to [`LOG`] without logd.
pub fn basic_ha_cf(nodes: &[&str]) -> String {
    let mut cf = String::from(
        "logfile /var/log/ha-log\n\
         use_logd no\n\
         keepalive 1\n\
         deadtime 5\n\
         warntime 3\n\
         initdead 10\n\
         udpport 694\n\
         bcast eth1\n\
         auto_failback on\n",
    );
    for n in nodes {
        cf.push_str(&format!("node {n}\n"));
    }
    cf.push_str("crm off\n");
    cf
}

/// Writes the node's `/etc/ha.d/ha.cf` and `haresources` (mode 644) and an
/// `authkeys` with `auth 1` / `1 sha1 KEY` (mode 600, or heartbeat refuses it).
pub fn install_config(node: &Node, ha_cf: &str, haresources: &str, sha1_key: &str) {
    node.write_file("/etc/ha.d/ha.cf", ha_cf, 0o644);
    node.write_file("/etc/ha.d/haresources", haresources, 0o644);
    node.write_file(
        "/etc/ha.d/authkeys",
        &format!("auth 1\n1 sha1 {sha1_key}\n"),
        0o600,
    );
}

/// Starts the daemon in `node` and returns the host PID of its master
/// control process, once its pid file names a live heartbeat process.
///
/// The command forks: the parent exits 0 at once (non-zero on a
/// configuration error, which panics here with its message), the child
/// calls `setsid()`, writes [`PIDFILE`] and forks its workers.
pub fn start(node: &Node) -> i32 {
    assert!(
        Path::new(DAEMON).exists(),
        "{DAEMON} is missing: install Debian's heartbeat package (`bash .ci/setup` does)"
    );
    node.exec_ok(&[DAEMON]);
    let daemon = std::fs::canonicalize(DAEMON).expect("heartbeat executable");
    wait_until(
        &format!("heartbeat's pid file on {}", node.name()),
        TIMEOUT,
        || {
            let node_pid: i32 = node.read_file(PIDFILE).trim().parse().ok()?;
            node.processes()
                .into_iter()
                .find(|p| p.node_pid == node_pid && p.exe == daemon)
                .map(|p| p.pid)
        },
    )
}

/// Waits until heartbeat on `node` has finished its start-up resource
/// exchange with its peer: the log shows "Initial resource acquisition
/// complete" (its own resource child reported back) and "remote resource
/// transition completed." (the peer reported stable), in either order.
///
/// 3.0.6 runs that exchange about 10 s after the nodes see each other,
/// whatever `initdead` is. If the peer dies inside that window, the
/// survivor's resource child can wait for an answer that never comes, and a
/// later `heartbeat -k` logs "Shutdown delayed until current resource
/// activity finishes" and never returns. Tests that crash a node and then
/// stop the survivor therefore wait for this first.
pub fn wait_settled(node: &Node, timeout: Duration) {
    node.wait_for_log(LOG, "Initial resource acquisition complete", timeout);
    node.wait_for_log(LOG, "remote resource transition completed.", timeout);
}

/// Its live processes in `node` (the master control process and its workers).
pub fn processes(node: &Node) -> Vec<NodeProcess> {
    let daemon = std::fs::canonicalize(DAEMON).expect("heartbeat executable");
    node.processes()
        .into_iter()
        .filter(|p| p.exe == daemon)
        .collect()
}

/// A graceful stop: `heartbeat -k` (SIGTERM to the master control process,
/// then it waits until that process is gone), then waits until none of its
/// processes is left in the node.
pub fn stop(node: &Node) {
    let mut kill = node.spawn(&[DAEMON, "-k"]);
    let start = std::time::Instant::now();
    loop {
        let done = kill.try_wait().is_some() && processes(node).is_empty();
        if done {
            return;
        }
        if start.elapsed() > TIMEOUT {
            let log = node.read_file(LOG);
            let lines: Vec<&str> = log.lines().collect();
            panic!(
                "heartbeat on {} did not stop within {TIMEOUT:?} (`heartbeat -k` {}); \
                 still running: {:#?}\nlast lines of {LOG}:\n{}",
                node.name(),
                if kill.try_wait().is_some() {
                    "returned"
                } else {
                    "still waiting"
                },
                processes(node),
                lines[lines.len().saturating_sub(40)..].join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A crash: SIGKILL to every heartbeat process of `node` until none is
/// left. Returns the processes killed.
pub fn kill_hard(node: &Node) -> Vec<NodeProcess> {
    node.kill_exe(DAEMON)
}
