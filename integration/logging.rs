//! Logging (issue 5, protocol notes §12.3-12.5) with our daemon in a node:
//! syslog over `/dev/log` with the configured facility, reconnected when
//! syslog restarts, and the log files reopened on SIGHUP after logrotate
//! moved them.
//!
//! # Where `/dev/log` comes from
//!
//! The daemon always sends to the real path `/dev/log`; there is no test
//! switch in it. A node's `/dev` is the machine's (only `/etc/ha.d`,
//! `/var/lib/heartbeat`, `/run` and `/var/log` are private), and this
//! machine may have no `/dev/log` at all. So [`private_dev_log`] gives the
//! node a `/dev` of its own, in its own mount namespace: a tmpfs holding
//! the machine's device nodes (bind mounts) and `/dev/log` as a symbolic
//! link to `/run/systemd/journal/dev-log`, which is where systemd puts it.
//! That target lies in the node's private `/run`, so the test binds the
//! receiving socket there from outside, through [`Node::path`]. Nothing
//! changes outside the node.
//!
//! Waits are for events (a datagram, a log line, the process exiting), each
//! with a generous deadline.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::daemon::{daemon_process, terminate};
use crate::harness::{Cluster, Node, Spawned, Topology};

const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");
const LOG: &str = "/var/log/ha-log";
const DEBUG: &str = "/var/log/ha-debug";
/// Where systemd's `/dev/log` points; inside the node's private `/run`.
const JOURNAL_DEV_LOG: &str = "/run/systemd/journal/dev-log";
/// Generous for anything that takes a few keepalives.
const SOON: Duration = Duration::from_secs(30);

/// A one-node cluster's `ha.cf` with fast timings, plus `extra` lines.
fn ha_cf(extra: &str) -> String {
    format!(
        "logfile /var/log/ha-log\n{extra}keepalive 200ms\nwarntime 500ms\ndeadtime 1\ninitdead 10\nbcast eth1\nauto_failback on\nnode n1\n"
    )
}

fn install(node: &Node, ha_cf: &str) {
    node.write_file("/etc/ha.d/ha.cf", ha_cf, 0o644);
    node.write_file("/etc/ha.d/haresources", "", 0o644);
    node.write_file(
        "/etc/ha.d/authkeys",
        "auth 1\n1 sha1 logging-test-key\n",
        0o600,
    );
}

/// Our daemon in `node`, with umask 022 (as systemd gives it); returns once
/// its status is up.
fn start(node: &Node) -> Spawned {
    let d = node.spawn(&["sh", "-c", &format!("umask 022 && exec {BIN} run")]);
    node.wait_for_log(LOG, "Local status now set to: 'up'", SOON);
    d
}

/// Our daemon's process in `node`: (host PID, PID inside the node).
fn daemon_pid(node: &Node) -> (Pid, i32) {
    let p = daemon_process(node);
    (Pid::from_raw(p.pid), p.node_pid)
}

/// Gives `node` a private `/dev` whose `/dev/log` links to
/// [`JOURNAL_DEV_LOG`] (see the module doc). Returns where the test binds
/// the syslog socket.
fn private_dev_log(node: &Node) -> PathBuf {
    let script = r#"set -e
mkdir /run/hostdev
mount --rbind /dev /run/hostdev
mount -t tmpfs -o mode=755,nosuid tmpfs /dev
for f in /run/hostdev/* /run/hostdev/.[!.]*; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    n=/dev/${f#/run/hostdev/}
    if [ -L "$f" ]; then cp -P "$f" "$n"
    elif [ -d "$f" ]; then mkdir "$n"; mount --rbind "$f" "$n"
    else touch "$n"; mount --bind "$f" "$n"
    fi
done
umount -l /run/hostdev
rmdir /run/hostdev
mkdir -p /run/systemd/journal
ln -s /run/systemd/journal/dev-log /dev/log
test -c /dev/null
"#;
    node.exec_ok(&["sh", "-c", script]);
    let host = node.path(JOURNAL_DEV_LOG);
    assert!(host.parent().unwrap().is_dir());
    host
}

/// A syslog daemon for the node: a datagram socket at `path`, read by a
/// thread that keeps every datagram (as a real one does: the socket's queue
/// is short, `net.unix.max_dgram_qlen`, and a socket nobody reads makes the
/// sender wait, then skip lines).
struct Syslogd {
    path: PathBuf,
    got: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Syslogd {
    fn bind(path: &Path) -> Syslogd {
        let _ = std::fs::remove_file(path);
        let sock = UnixDatagram::bind(path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (g, st) = (Arc::clone(&got), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !st.load(Ordering::Relaxed) {
                if let Ok(n) = sock.recv(&mut buf) {
                    let d = String::from_utf8_lossy(&buf[..n]).into_owned();
                    g.lock().unwrap().push(d);
                }
            }
        });
        Syslogd {
            path: path.to_path_buf(),
            got,
            stop,
            thread: Some(thread),
        }
    }

    /// A syslog daemon restarting: a new socket replaces this one at the same
    /// path (bound aside, renamed over it), then this one closes. The path
    /// never goes missing, so the daemon's next line finds the old socket
    /// closed and must connect again.
    fn restart(self) -> Syslogd {
        let aside = self.path.with_extension("new");
        let mut new = Syslogd::bind(&aside);
        std::fs::rename(&aside, &self.path).unwrap();
        new.path = self.path.clone();
        drop(self);
        new
    }

    /// Waits until a datagram contains `needle`; returns it. Panics after
    /// `timeout`, with everything received.
    fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        wait_until_or(
            || {
                self.got
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|d| d.contains(needle))
                    .cloned()
            },
            timeout,
            || {
                format!(
                    "no datagram with {needle:?} at {} within {timeout:?}; received:\n{}",
                    self.path.display(),
                    self.got.lock().unwrap().join("\n")
                )
            },
        )
    }
}

impl Drop for Syslogd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `probe` every 20 ms until it gives a value; panics with `why()` after `timeout`.
fn wait_until_or<T>(
    mut probe: impl FnMut() -> Option<T>,
    timeout: Duration,
    why: impl Fn() -> String,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(start.elapsed() < timeout, "{}", why());
        std::thread::sleep(Duration::from_millis(20)); // a poll interval, as in wait_until
    }
}

/// Checks `d` is `<PRI>Mmm dd hh:mm:ss heartbeat: [PID]: PRIO: ...` (RFC 3164 as
/// glibc sends it for 3.0.6) and returns the message after the priority word.
fn parse(d: &str, pri: u16, pid: i32, prio: &str) -> String {
    let rest = d
        .strip_prefix(&format!("<{pri}>"))
        .unwrap_or_else(|| panic!("PRI {pri} expected: {d}"));
    let (stamp, rest) = rest.split_at(15);
    let b = stamp.as_bytes();
    assert!(
        b[0].is_ascii_uppercase()
            && b[3] == b' '
            && (b[4] == b' ' || b[4].is_ascii_digit())
            && b[5].is_ascii_digit()
            && b[6] == b' '
            && b[9] == b':'
            && b[12] == b':',
        "timestamp `Mmm dd hh:mm:ss` expected: {d}"
    );
    rest.strip_prefix(&format!(" heartbeat: [{pid}]: {prio}: "))
        .unwrap_or_else(|| panic!("` heartbeat: [{pid}]: {prio}: ` expected: {d}"))
        .to_owned()
}

/// §12.2 `logfacility local3`: the lines reach `/dev/log` with facility 19
/// (info: PRI 158, WARN: 156), tagged as 3.0.6 tags them; the file still has
/// every line. A restarted syslog daemon (a new socket at the same path)
/// gets the next lines without any SIGHUP.
#[test]
fn syslog_gets_the_lines_with_the_configured_facility_and_survives_its_restart() {
    let cluster = Cluster::new(&["n1"], Topology::private());
    let n1 = cluster.node("n1");
    let dev_log = private_dev_log(n1);
    let syslogd = Syslogd::bind(&dev_log);
    // A repeated setting: a start-up warning.
    install(n1, &ha_cf("logfacility local3\nkeepalive 200ms\n"));
    let daemon = start(n1);
    let (_, pid) = daemon_pid(n1);

    let warning = syslogd.wait_for("keepalive is set again", SOON);
    parse(&warning, 19 * 8 + 4, pid, "WARN");
    let up = syslogd.wait_for("Local status now set to: 'up'", SOON);
    assert_eq!(
        parse(&up, 19 * 8 + 6, pid, "info"),
        "Local status now set to: 'up'"
    );
    let log = n1.read_file(LOG);
    assert!(!log.contains("not implemented"), "{log}");
    assert!(
        !log.contains("cannot send to syslog"),
        "syslog was there from the start:\n{log}"
    );

    let syslogd = syslogd.restart();
    terminate(n1, daemon);
    let done = syslogd.wait_for("Heartbeat shutdown complete", SOON);
    parse(&done, 19 * 8 + 6, pid, "info");
    let log = n1.read_file(LOG);
    assert!(log.contains("Heartbeat shutdown complete"), "{log}");
    assert!(!log.contains("syslog at /dev/log"), "nothing lost:\n{log}");
}

/// Without a syslog daemon at start: one warning in the file, the daemon
/// runs; once one listens, SIGHUP reconnects at once and the next lines
/// arrive.
#[test]
fn syslog_missing_at_start_is_one_warning_and_sighup_reconnects() {
    let cluster = Cluster::new(&["n1"], Topology::private());
    let n1 = cluster.node("n1");
    let dev_log = private_dev_log(n1);
    install(n1, &ha_cf("logfacility daemon\n"));
    let daemon = start(n1);
    let warning = n1.wait_for_log(LOG, "cannot send to syslog at /dev/log", SOON);
    assert!(warning.contains("WARN: logfacility daemon: "), "{warning}");

    let syslogd = Syslogd::bind(&dev_log);
    let (host_pid, pid) = daemon_pid(n1);
    kill(host_pid, Signal::SIGHUP).unwrap();
    let hup = syslogd.wait_for("Signal SIGHUP received", SOON);
    // daemon = 3: info is PRI 30.
    assert_eq!(
        parse(&hup, 3 * 8 + 6, pid, "info"),
        "Signal SIGHUP received: log files reopened"
    );
    syslogd.wait_for("takes lines again", SOON);
    terminate(n1, daemon);
    let log = n1.read_file(LOG);
    assert_eq!(
        log.matches("cannot send to syslog").count(),
        1,
        "one warning:\n{log}"
    );
}

/// §12.5 and logrotate: `mv ha-log ha-log.1; kill -HUP PID` makes the daemon
/// write a new `ha-log` (and `ha-debug`) at the configured path, created mode
/// 0640 and owned by root; the moved files stop growing. The daemon lives on.
#[test]
fn sighup_after_logrotate_moved_the_files_writes_new_ones() {
    let cluster = Cluster::new(&["n1"], Topology::private());
    let n1 = cluster.node("n1");
    install(n1, &ha_cf("debugfile /var/log/ha-debug\n"));
    let daemon = start(n1);
    n1.exec_ok(&["mv", LOG, "/var/log/ha-log.1"]);
    n1.exec_ok(&["mv", DEBUG, "/var/log/ha-debug.1"]);
    let (host_pid, _) = daemon_pid(n1);
    kill(host_pid, Signal::SIGHUP).unwrap();

    let line = n1.wait_for_log(LOG, "Signal SIGHUP received", SOON);
    assert!(
        line.ends_with("info: Signal SIGHUP received: log files reopened"),
        "{line}"
    );
    n1.wait_for_log(DEBUG, "Signal SIGHUP received", SOON);
    // Everything before the reopen is in the moved files.
    let old_len = n1.log_len("/var/log/ha-log.1");
    let old_debug_len = n1.log_len("/var/log/ha-debug.1");
    assert!(n1
        .read_file("/var/log/ha-log.1")
        .contains("Local status now set to: 'up'"));
    assert!(!n1
        .read_file("/var/log/ha-log.1")
        .contains("Signal SIGHUP received"));
    for path in [LOG, DEBUG] {
        let meta = std::fs::metadata(n1.path(path)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o640, "{path}");
        assert_eq!(meta.uid(), 0, "{path}");
    }

    terminate(n1, daemon);
    let new = n1.read_file(LOG);
    assert!(new.contains("Heartbeat shutdown complete"), "{new}");
    assert!(!new.contains("Local status now set to"), "{new}");
    assert_eq!(n1.log_len("/var/log/ha-log.1"), old_len);
    assert_eq!(n1.log_len("/var/log/ha-debug.1"), old_debug_len);
    assert!(n1.read_file(DEBUG).contains("Heartbeat shutdown complete"));
}
