//! Running on a host (issue 5, process management): `heartbeat start`,
//! `stop`, `status` and `reload` with the pid file, the LSB init script, the
//! systemd unit and the logrotate file of `conf/`.
//!
//! The daemons run inside harness nodes, where `/var/run` (the pid file's
//! directory) and `/var/log` are private. A daemonized heartbeat is
//! re-parented to the node's PID 1 (`tini`), and the pid file holds its PID
//! inside the node. The tests that need no daemon use a temporary pid file
//! held by the test itself.

use std::fs::File;
use std::os::fd::AsFd as _;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::harness::{run_with_timeout, wait_until, Cluster, Node, Spawned, Topology};

const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");
const LOG: &str = "/var/log/ha-log";
const PIDFILE: &str = "/var/run/heartbeat.pid";
const RSC_LOG: &str = "/var/log/rsc.log";
/// Generous for anything that takes a few keepalives.
const SOON: Duration = Duration::from_secs(30);

/// A resource script that records its calls and keeps its state in /run.
/// `stop` runs `$STOP` first when the node's /run/stop-hangs exists.
const SCRIPT: &str = r#"#!/bin/sh
name=$(basename "$0")
for a; do op=$a; done
echo "$name $op" >> /var/log/rsc.log
state="/run/rsc-$name"
case "$op" in
  start) touch "$state" ;;
  stop) if [ -e /run/stop-hangs ]; then exec sleep 600; fi; rm -f "$state" ;;
  status) if [ -e "$state" ]; then echo running; else echo stopped; fi ;;
esac
exit 0
"#;

/// `ha.cf` for `nodes`, fast timings, plus `extra` lines.
fn ha_cf(nodes: &str, extra: &str) -> String {
    format!(
        "logfile /var/log/ha-log\nkeepalive 200ms\nwarntime 500ms\ndeadtime 1\ninitdead 10\nbcast eth1\nauto_failback on\nnode {nodes}\n{extra}"
    )
}

fn install(node: &Node, ha_cf: &str, haresources: &str) {
    node.write_file("/etc/ha.d/ha.cf", ha_cf, 0o644);
    node.write_file("/etc/ha.d/haresources", haresources, 0o644);
    node.write_file(
        "/etc/ha.d/authkeys",
        "auth 1\n1 sha1 process-test-key\n",
        0o600,
    );
    node.write_file("/etc/ha.d/resource.d/svc", SCRIPT, 0o755);
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `heartbeat ARGS` inside `node`.
fn hb(node: &Node, args: &[&str]) -> Output {
    let mut all = vec![BIN];
    all.extend_from_slice(args);
    node.exec(&all)
}

/// Asserts the exit code of `out`, showing its output if it differs.
fn assert_code(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// `status` of a running daemon: 3.0.6's line first (what init scripts and
/// monitors read), then the daemon's table (see `integration/status.rs`).
fn assert_status_line(out: &Output, line: &str) {
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().next(), Some(line), "{stdout}");
    assert!(
        stdout.contains("\nNODE ") && stdout.contains("\nLINK "),
        "the table follows the line: {stdout}\nstderr: {}",
        text(&out.stderr)
    );
}

/// The PID (inside the node) that the node's pid file names.
fn pid_in_file(node: &Node) -> Option<i32> {
    node.read_file(PIDFILE).trim().parse().ok()
}

/// Alive and not a zombie (host PID).
fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

/// The fields of `/proc/PID/stat` after the command name: state is [0],
/// ppid [1], pgrp [2], session [3], tty_nr [4].
fn stat_fields(pid: i32) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let (_, rest) = stat.rsplit_once(')').expect("stat format");
    rest.split_whitespace().map(str::to_owned).collect()
}

/// `heartbeat start` in `node`: exits 0 once the daemon is up. Returns the
/// daemon's PID inside the node and its host PID.
fn start(node: &Node) -> (i32, i32) {
    let out = hb(node, &["start"]);
    assert_code(&out, 0, "heartbeat start");
    let node_pid = pid_in_file(node).expect("the pid file names the daemon");
    assert_eq!(
        text(&out.stdout),
        format!("heartbeat started [pid {node_pid}]\n")
    );
    let host_pid = node.host_pid(node_pid).expect("the daemon runs");
    (node_pid, host_pid)
}

/// Our daemon in the foreground (`heartbeat run`) as the peer, up.
fn run_peer(node: &Node) -> Spawned {
    let from = node.log_len(LOG);
    let d = node.spawn(&[BIN, "run"]);
    node.wait_for_log_from(LOG, from, &["Local status now set to: 'up'"], SOON);
    d
}

/// Waits until `node`'s resource log has a line `line`.
fn wait_rsc(node: &Node, line: &str) {
    wait_until(&format!("`{line}` on {}", node.name()), SOON, || {
        node.read_file(RSC_LOG)
            .lines()
            .any(|l| l == line)
            .then_some(())
    });
}

/// Two nodes sharing the group `n1 svc` (ha.cf with `extra`), and our
/// daemon running on n2 (`heartbeat run`).
fn two_nodes(extra: &str) -> (Cluster, Spawned) {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private());
    for name in ["n1", "n2"] {
        install(cluster.node(name), &ha_cf("n1 n2", extra), "n1 svc\n");
    }
    let peer = run_peer(cluster.node("n2"));
    (cluster, peer)
}

/// Each needle's first line in `log`, in this order.
fn assert_in_order(log: &str, needles: &[&str]) {
    let mut at = 0;
    for n in needles {
        let found = log[at..]
            .find(n)
            .unwrap_or_else(|| panic!("{n:?} missing after byte {at} of the log:\n{log}"));
        at += found + n.len();
    }
}

/// Issue 5: `heartbeat start` returns once the daemon is up, detached (its
/// parent is the node's PID 1, a session of its own, no terminal, /dev/null,
/// umask 022, `/`), its pid file names it and its log shows the seed's start
/// lines; a second `start` (or `run`) is refused; `status` says it runs with
/// 3.0.6's words; `stop` releases the group, the peer hears the shutdown
/// notice, the pid file goes away, and `status` then exits 3.
#[test]
fn start_status_and_stop_manage_a_detached_daemon() {
    let (cluster, _peer) = two_nodes("");
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));

    let (node_pid, pid) = start(n1);
    let exe = std::fs::canonicalize(BIN).unwrap();
    assert_eq!(std::fs::read_link(format!("/proc/{pid}/exe")).unwrap(), exe);
    assert_eq!(n1.read_file(PIDFILE), format!("{node_pid:>10}\n"));
    let meta = std::fs::symlink_metadata(n1.path(PIDFILE)).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777,
        0o644
    );
    // Detached: re-parented to the node's init, in a session it does not
    // lead, without a terminal, on /dev/null, in /, umask 022.
    let stat = stat_fields(pid);
    assert_eq!(stat[1], n1.init_pid().to_string(), "parent: {stat:?}");
    assert_ne!(stat[3], node_pid.to_string(), "not a session leader");
    assert_eq!(stat[4], "0", "no controlling terminal");
    for fd in 0..3 {
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap(),
            Path::new("/dev/null"),
            "fd {fd}"
        );
    }
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        Path::new("/")
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status.contains("Umask:\t0022"), "{status}");

    // The start lines an operator looks for (the seed's "Starting and
    // testing heartbeat"), by the daemon's PID.
    n1.wait_for_log(LOG, "Link n2:eth1 up.", SOON);
    let log = n1.read_file(LOG);
    assert_in_order(
        &log,
        &[
            &format!("heartbeat: [{node_pid}]: info: **************************"),
            "info: Configuration validated. Starting heartbeat",
            "info: Heartbeat generation: ",
            "info: UDP Broadcast heartbeat started on port 694 (694) interface eth1",
            "info: Local status now set to: 'up'",
            "info: Link n2:eth1 up.",
        ],
    );

    // One daemon per pid file.
    for again in [&["start"][..], &["run"][..]] {
        let out = hb(n1, again);
        assert_code(&out, 1, &format!("a second heartbeat {again:?}"));
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!(
                "Heartbeat already running [pid {node_pid}] (pid file {PIDFILE})"
            )),
            "{err}"
        );
    }
    assert!(alive(pid));
    assert_eq!(pid_in_file(n1), Some(node_pid), "the pid file is untouched");

    let out = hb(n1, &["status"]);
    assert_code(&out, 0, "status of a running daemon");
    assert_status_line(
        &out,
        &format!("heartbeat OK [pid {node_pid} et al] is running on n1 [n1]..."),
    );

    // The group is held here and the resource protocol has settled with the peer.
    wait_rsc(n1, "svc start");
    n1.wait_for_log(LOG, "remote resource transition completed.", SOON);

    let from = n2.log_len(LOG);
    let out = hb(n1, &["stop"]);
    assert_code(&out, 0, "stop");
    assert_eq!(
        text(&out.stdout),
        format!("heartbeat [pid {node_pid}] stopped.\n")
    );
    assert!(
        n1.read_file(RSC_LOG).lines().any(|l| l == "svc stop"),
        "the group was released before the stop returned"
    );
    assert!(n1.read_file(LOG).contains("Heartbeat shutdown complete."));
    assert!(!n1.path(PIDFILE).exists(), "the pid file is removed");
    n2.wait_for_log_from(LOG, from, &["Received shutdown notice from 'n1'."], SOON);
    wait_rsc(n2, "svc start");
    wait_until("the daemon to be gone", SOON, || {
        (!alive(pid)).then_some(())
    });

    let out = hb(n1, &["status"]);
    assert_code(&out, 3, "status when stopped");
    assert_eq!(text(&out.stdout), "heartbeat is stopped. No process\n");
    let out = hb(n1, &["stop"]);
    assert_code(&out, 0, "stop when stopped");
    assert!(text(&out.stdout).contains("heartbeat is not running"));
    let out = hb(n1, &["reload"]);
    assert_code(&out, 7, "reload when stopped");
    assert!(text(&out.stderr).contains("heartbeat is not running"));
}

/// Issue 5: a pid file left by a killed daemon is reported by `status`
/// (exit 1) and replaced by the next `start`, with a warning; a symbolic link
/// at the pid file's path is refused; a configuration error stops `start`
/// before anything is created; an error of the detached daemon reaches the
/// caller (exit 1) and leaves no pid file.
#[test]
fn a_stale_pid_file_is_replaced_and_start_reports_the_daemons_errors() {
    let cluster = Cluster::new(&["n1"], Topology::private());
    let n1 = cluster.node("n1");
    install(n1, &ha_cf("n1", ""), "");

    let (old, pid) = start(n1);
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    wait_until("the killed daemon to be gone", SOON, || {
        (!alive(pid)).then_some(())
    });
    assert_eq!(pid_in_file(n1), Some(old), "kill -9 leaves the pid file");
    let out = hb(n1, &["status"]);
    assert_code(&out, 1, "status with a stale pid file");
    assert_eq!(
        text(&out.stdout),
        format!("heartbeat is stopped. No process (stale pid file {PIDFILE}: pid {old} is gone)\n")
    );

    let out = hb(n1, &["start"]);
    assert_code(&out, 0, "start over a stale pid file");
    assert!(
        text(&out.stderr).contains(&format!(
            "heartbeat: WARN: removing the stale pid file {PIDFILE} (pid {old} is not running)"
        )),
        "{}",
        text(&out.stderr)
    );
    let new = pid_in_file(n1).unwrap();
    assert_ne!(new, old);
    assert_code(&hb(n1, &["status"]), 0, "status after the restart");

    // A symbolic link where a pid file should be: refused, never followed.
    std::os::unix::fs::symlink("/run/target", n1.path("/run/link.pid")).unwrap();
    let out = hb(n1, &["start", "--pid-file", "/run/link.pid"]);
    assert_code(&out, 1, "start with a symlinked pid file");
    assert!(
        text(&out.stderr).contains("refusing the pid file /run/link.pid: it is a symbolic link"),
        "{}",
        text(&out.stderr)
    );
    assert!(!n1.path("/run/target").exists());
    assert_code(
        &hb(n1, &["status", "--pid-file", "/run/link.pid"]),
        4,
        "status of a symlinked pid file",
    );

    let out = hb(n1, &["stop"]);
    assert_code(&out, 0, "stop");
    assert!(!n1.path(PIDFILE).exists());

    // Refused before detaching: the errors on stderr, no pid file made.
    n1.write_file("/etc/ha.d/ha.cf", &ha_cf("n1", "deadtime 2s\n"), 0o644);
    let out = hb(n1, &["start"]);
    assert_code(&out, 1, "start with a bad ha.cf");
    let err = text(&out.stderr);
    assert!(err.contains("/etc/ha.d/ha.cf:"), "{err}");
    assert!(
        err.ends_with("Configuration error, heartbeat not started.\n"),
        "{err}"
    );
    assert!(!n1.path(PIDFILE).exists());

    // Refused by the daemon after detaching: its error reaches the caller
    // (its metrics port is taken: a fact of the machine, not of the files).
    let addr = n1.addr(crate::harness::Net::Private);
    let _busy = n1.spawn(&[
        "socat",
        &format!("TCP-LISTEN:9464,bind={addr},reuseaddr,fork"),
        "SYSTEM:true",
    ]);
    wait_until("the metrics port to be taken", SOON, || {
        n1.exec_ok(&["ss", "-ltnH"])
            .contains(&format!("{addr}:9464"))
            .then_some(())
    });
    n1.write_file(
        "/etc/ha.d/ha.cf",
        &ha_cf("n1", &format!("metrics_listen {addr}:9464\n")),
        0o644,
    );
    let out = hb(n1, &["start"]);
    assert_code(&out, 1, "start with the metrics port taken");
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("heartbeat: binding metrics_listen {addr}:9464")),
        "{err}"
    );
    assert!(err.ends_with("heartbeat not started.\n"), "{err}");
    assert!(
        !n1.path(PIDFILE).exists(),
        "the daemon removed its pid file"
    );
    let exe = std::fs::canonicalize(BIN).unwrap();
    assert!(
        n1.processes().iter().all(|p| p.exe != exe),
        "no daemon left: {:?}",
        n1.processes()
    );
}

/// Issue 5: a graceful stop whose resource release fails keeps the daemon
/// running with its group (CRIT in its log): `stop` says so after its
/// timeout (exit 1), the peer takes nothing, and `stop` succeeds once the
/// resource can be stopped.
#[test]
fn stop_reports_a_daemon_that_cannot_release_its_group() {
    let (cluster, _peer) = two_nodes("script_timeout 1\n");
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    let (node_pid, pid) = start(n1);
    wait_rsc(n1, "svc start");
    n1.wait_for_log(LOG, "remote resource transition completed.", SOON);

    n1.write_file("/run/stop-hangs", "", 0o644);
    let out = hb(n1, &["stop", "--timeout", "8"]);
    assert_code(&out, 1, "stop while the group cannot be released");
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "heartbeat [pid {node_pid}] still runs 8 s after SIGTERM"
        )),
        "{err}"
    );
    assert!(err.contains("Resource STOP failure"), "{err}");
    assert!(err.contains("/var/log/ha-log"), "{err}");
    n1.wait_for_log(LOG, "CRIT: Resource STOP failure. svc still runs", SOON);
    assert!(alive(pid), "heartbeat keeps running with the group");
    assert_code(&hb(n1, &["status"]), 0, "status");
    assert!(
        !n2.read_file(RSC_LOG).lines().any(|l| l == "svc start"),
        "the peer took a group that still runs on n1"
    );

    // Fixed by hand: the next stop goes through.
    std::fs::remove_file(n1.path("/run/stop-hangs")).unwrap();
    let from = n2.log_len(LOG);
    let out = hb(n1, &["stop"]);
    assert_code(&out, 0, "stop once the resource stops");
    n2.wait_for_log_from(LOG, from, &["Received shutdown notice from 'n1'."], SOON);
    wait_rsc(n2, "svc start");
    assert!(!n1.path(PIDFILE).exists());
}

/// The LSB init script with its binary path pointed at the test binary, in
/// the node's /run.
fn install_init_script(node: &Node) -> String {
    let script = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/init.d/heartbeat"),
    )
    .unwrap();
    let line = "HEARTBEAT=/usr/sbin/heartbeat\n";
    assert_eq!(script.matches(line).count(), 1, "the binary's path line");
    node.write_file(
        "/run/heartbeat.init",
        &script.replace(line, &format!("HEARTBEAT={BIN}\n")),
        0o755,
    );
    "/run/heartbeat.init".to_owned()
}

/// Issue 5: `conf/init.d/heartbeat` has an LSB header and answers
/// start|status|stop|restart|reload with LSB exit codes: start twice is 0
/// (already running), stop twice is 0, status 0 then 3, reload without a
/// daemon 7, an unknown action 2.
#[test]
fn the_lsb_init_script_starts_reports_and_stops_heartbeat() {
    let script = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/init.d/heartbeat"),
    )
    .unwrap();
    let header = script
        .split("### BEGIN INIT INFO\n")
        .nth(1)
        .and_then(|s| s.split("### END INIT INFO").next())
        .expect("an LSB header");
    for want in [
        "# Provides:          heartbeat\n",
        "# Required-Start:    $network $remote_fs $syslog",
        "# Required-Stop:     $network $remote_fs $syslog",
        "# Default-Start:     2 3 4 5\n",
        "# Default-Stop:      0 1 6\n",
        "# Short-Description: ",
    ] {
        assert!(header.contains(want), "{want:?} in:\n{header}");
    }

    let (cluster, _peer) = two_nodes("");
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    let init = install_init_script(n1);
    let sh = |action: &str| n1.exec(&[&init, action]);

    let out = sh("start");
    assert_code(&out, 0, "init start");
    let node_pid = pid_in_file(n1).expect("pid file");
    let pid = n1.host_pid(node_pid).expect("the daemon runs");
    let out = sh("status");
    assert_code(&out, 0, "init status");
    assert_status_line(
        &out,
        &format!("heartbeat OK [pid {node_pid} et al] is running on n1 [n1]..."),
    );
    let out = sh("start");
    assert_code(&out, 0, "init start when running");
    assert_eq!(text(&out.stdout), "heartbeat is already running.\n");
    assert_eq!(pid_in_file(n1), Some(node_pid));

    wait_rsc(n1, "svc start");
    n1.wait_for_log(LOG, "remote resource transition completed.", SOON);
    let from = n2.log_len(LOG);
    assert_code(&sh("stop"), 0, "init stop");
    n2.wait_for_log_from(LOG, from, &["Received shutdown notice from 'n1'."], SOON);
    wait_until("the daemon to be gone", SOON, || {
        (!alive(pid)).then_some(())
    });
    assert!(!n1.path(PIDFILE).exists());
    assert_code(&sh("status"), 3, "init status when stopped");
    assert_code(&sh("stop"), 0, "init stop when stopped");
    assert_code(&sh("reload"), 7, "init reload when stopped");
    assert_code(&sh("force-reload"), 7, "init force-reload when stopped");

    // restart from stopped: stop (nothing to do), then start.
    let out = sh("restart");
    assert_code(&out, 0, "init restart");
    let again = pid_in_file(n1).expect("restarted");
    assert_ne!(again, node_pid);
    n1.wait_for_log(LOG, "remote resource transition completed.", SOON);
    assert_code(&sh("stop"), 0, "init stop after restart");

    let out = sh("frobnicate");
    assert_code(&out, 2, "an unknown action");
    assert!(text(&out.stderr).starts_with("Usage: "));
}

/// An open file description lock on `path`, as a running daemon holds it.
fn hold_lock(path: &Path) -> File {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let lock = nix::libc::flock {
        l_type: nix::libc::F_WRLCK as nix::libc::c_short,
        l_whence: nix::libc::SEEK_SET as nix::libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    nix::fcntl::fcntl(file.as_fd(), nix::fcntl::FcntlArg::F_OFD_SETLK(&lock)).unwrap();
    file
}

fn heartbeat(args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    run_with_timeout(cmd, Duration::from_secs(60))
}

/// Issue 5: `reload` sends SIGHUP to the process a held pid file names;
/// `stop` gives up after its timeout when the process ignores SIGTERM (exit
/// 1); once nobody holds the file, `status` exits 1 (dead, pid file left),
/// `reload` 7 and `stop` 0; without the file `status` exits 3. No daemon
/// runs: a shell that records signals stands in for it.
#[test]
fn reload_status_and_stop_follow_the_pid_file() {
    let tmp = tempfile::tempdir().unwrap();
    let pid_file = tmp.path().join("heartbeat.pid");
    let rec = tmp.path().join("signals");
    // `env --default-signal`: a shell cannot trap a signal that was ignored
    // when it started, and the test may run under `nohup` (SIGHUP ignored).
    let mut cmd = Command::new("env");
    cmd.args(["--default-signal=HUP,TERM", "sh", "-c"]).arg(format!(
        "trap 'echo HUP >> {0}' HUP; trap 'echo TERM >> {0}' TERM; echo up >> {0}; while :; do sleep 1 & wait $!; done",
        rec.display()
    ));
    // Killed (its whole process group) when dropped, also if an assertion fails.
    let mut stand_in = Spawned::start(cmd, &tmp.path().join("stand-in.out"));
    wait_until("the stand-in to run", SOON, || {
        std::fs::read_to_string(&rec)
            .unwrap_or_default()
            .contains("up")
            .then_some(())
    });
    let pid = stand_in.pid();
    std::fs::write(&pid_file, format!("{pid:>10}\n")).unwrap();
    let held = hold_lock(&pid_file);
    let pf = pid_file.to_str().unwrap();

    let out = heartbeat(&["status", "--pid-file", pf, "-c", "/nonexistent"]);
    assert_code(&out, 0, "status");
    assert!(
        text(&out.stdout).starts_with(&format!("heartbeat OK [pid {pid} et al] is running on ")),
        "{}",
        text(&out.stdout)
    );
    let out = heartbeat(&["reload", "--pid-file", pf]);
    assert_code(&out, 0, "reload");
    wait_until("SIGHUP", SOON, || {
        std::fs::read_to_string(&rec)
            .unwrap_or_default()
            .contains("HUP")
            .then_some(())
    });
    let out = heartbeat(&["stop", "--pid-file", pf, "--timeout", "1"]);
    assert_code(&out, 1, "stop of a process that ignores SIGTERM");
    assert!(
        text(&out.stderr).contains(&format!(
            "heartbeat [pid {pid}] still runs 1 s after SIGTERM"
        )),
        "{}",
        text(&out.stderr)
    );
    assert!(std::fs::read_to_string(&rec).unwrap().contains("TERM"));

    // Nobody holds the file any more, and the process it names is no heartbeat.
    drop(held);
    let out = heartbeat(&["status", "--pid-file", pf]);
    assert_code(&out, 1, "status with a stale pid file");
    assert_code(
        &heartbeat(&["reload", "--pid-file", pf]),
        7,
        "reload with a stale pid file",
    );
    let out = heartbeat(&["stop", "--pid-file", pf]);
    assert_code(&out, 0, "stop with a stale pid file");
    assert!(text(&out.stdout).contains("heartbeat is not running (stale pid file"));
    stand_in.kill();

    std::fs::remove_file(&pid_file).unwrap();
    let out = heartbeat(&["status", "--pid-file", pf]);
    assert_code(&out, 3, "status without a pid file");
    assert_eq!(text(&out.stdout), "heartbeat is stopped. No process\n");
}

/// Issue 5: under systemd (`Type=notify`), `heartbeat run` sends `READY=1`
/// to `$NOTIFY_SOCKET` once it is up, and holds the pid file meanwhile, so
/// `heartbeat stop` works beside systemctl. Then `conf/logrotate.d/heartbeat`
/// rotates the log (its postrotate `heartbeat reload` finds no daemon, which
/// is fine).
#[test]
fn run_tells_systemd_when_it_is_up_and_logrotate_rotates_its_log() {
    let cluster = Cluster::new(&["n1"], Topology::private());
    let n1 = cluster.node("n1");
    install(n1, &ha_cf("n1", ""), "");
    let socket = std::os::unix::net::UnixDatagram::bind(n1.path("/run/notify.sock")).unwrap();
    socket.set_read_timeout(Some(SOON)).unwrap();
    let mut daemon = n1.spawn(&["env", "NOTIFY_SOCKET=/run/notify.sock", BIN, "run"]);
    let mut buf = [0u8; 256];
    let n = socket
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("no notification: {e}; {}", daemon.output()));
    assert_eq!(&buf[..n], b"READY=1");
    let node_pid = pid_in_file(n1).expect("run writes the pid file");
    let out = hb(n1, &["status"]);
    assert_code(&out, 0, "status of `run`");
    assert!(text(&out.stdout).contains(&format!("[pid {node_pid} et al]")));
    n1.wait_for_log(LOG, "Local status now set to: 'up'", SOON);
    assert_code(&hb(n1, &["stop"]), 0, "stop of `run`");
    let status = daemon.wait_exit(SOON);
    assert!(status.success(), "{status}: {}", daemon.output());
    assert!(!n1.path(PIDFILE).exists());

    let conf = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/logrotate.d/heartbeat"),
    )
    .unwrap();
    assert!(conf.contains("/usr/sbin/heartbeat reload"));
    n1.write_file(
        "/run/logrotate.conf",
        &conf.replace("/usr/sbin/heartbeat", BIN),
        0o644,
    );
    let before = n1.read_file(LOG);
    assert!(before.contains("Heartbeat shutdown complete."));
    let out = n1.exec(&[
        "logrotate",
        "-v",
        "-f",
        "-s",
        "/run/logrotate.state",
        "/run/logrotate.conf",
    ]);
    assert_code(&out, 0, "logrotate");
    assert_eq!(n1.read_file("/var/log/ha-log.1"), before, "rotated");
    assert!(!n1.path(LOG).exists());
}

/// Issue 5: `systemd-analyze verify` accepts `conf/systemd/heartbeat.service`
/// (with ExecStart pointed at the test binary, which must exist for it).
#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let analyze = Path::new("/usr/bin/systemd-analyze");
    if !analyze.exists() {
        eprintln!(
            "SKIPPED: {} is missing (Debian package systemd; `bash .ci/setup` installs it)",
            analyze.display()
        );
        return;
    }
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/systemd/heartbeat.service"),
    )
    .unwrap();
    let exec = "ExecStart=/usr/sbin/heartbeat run\n";
    assert_eq!(unit.matches(exec).count(), 1, "{unit}");
    for want in [
        "Type=notify\n",
        "KillMode=process\n",
        "SendSIGKILL=no\n",
        "LimitMEMLOCK=infinity\n",
        "Restart=on-failure\n",
        "After=network-online.target\n",
        "Wants=network-online.target\n",
    ] {
        assert!(unit.contains(want), "{want:?}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("heartbeat.service");
    std::fs::write(&path, unit.replace(exec, &format!("ExecStart={BIN} run\n"))).unwrap();
    let mut cmd = Command::new(analyze);
    cmd.arg("verify").arg(&path);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{}: {err}", out.status);
    // It exits 0 after some mistakes too ("Unknown key ..., ignoring"): no
    // line may be about our unit.
    let ours: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("heartbeat.service") || l.contains(&*path.to_string_lossy()))
        .collect();
    assert!(ours.is_empty(), "{ours:?}");
}
