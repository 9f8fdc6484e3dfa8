//! Living on a real host (issue 5): `respawn` programs and the `watchdog`
//! device, with our daemon in network namespaces (protocol notes §11).
//!
//! The watchdog is always a FIFO in the node's private `/run`, read by a
//! thread of the test that keeps every byte: never a real watchdog device,
//! which would reboot the machine. The reader opens the FIFO before the
//! daemon starts, because the daemon opens it non-blocking, and a FIFO
//! without a reader refuses that (`ENXIO`).
//!
//! Windows of time are measured by events: NUL bytes arriving on the FIFO
//! (one per keepalive), or a peer declaring the node dead. Nothing sleeps for
//! a fixed time.

use std::fs::OpenOptions;
use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::harness::{wait_until, Cluster, Node, NodeProcess, Spawned, Topology};

const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");
const LOG: &str = "/var/log/ha-log";
/// Where the respawned programs record their starts (mode 1777: they run as `nobody`).
const REC: &str = "/var/log/rec";
const WD: &str = "/run/wd";
const KEEPALIVE: Duration = Duration::from_millis(200);
/// Generous for anything that takes a few keepalives.
const SOON: Duration = Duration::from_secs(30);
/// The give-up after 11 short runs takes ~10 s (1 s pause before each restart).
const SLOW: Duration = Duration::from_secs(90);

/// A program that records `PID UID GID GROUPS...` in `REC/NAME`, then runs `tail`.
fn program(name: &str, tail: &str) -> String {
    format!("#!/bin/sh\necho \"$$ $(id -u) $(id -g) $(id -G)\" >> {REC}/{name}\n{tail}\n")
}

/// `ha.cf` for `nodes`, fast timings, plus `extra` lines.
fn ha_cf(nodes: &str, extra: &str) -> String {
    format!(
        "logfile /var/log/ha-log\nkeepalive 200ms\nwarntime 500ms\ndeadtime 1\ninitdead 10\nbcast eth1\nauto_failback on\nnode {nodes}\n{extra}"
    )
}

fn install(node: &Node, ha_cf: &str, programs: &[(&str, &str)]) {
    node.write_file("/etc/ha.d/ha.cf", ha_cf, 0o644);
    node.write_file("/etc/ha.d/haresources", "", 0o644);
    node.write_file(
        "/etc/ha.d/authkeys",
        "auth 1\n1 sha1 daemon-test-key\n",
        0o600,
    );
    for (name, tail) in programs {
        node.write_file(&format!("/etc/ha.d/{name}"), &program(name, tail), 0o755);
    }
    let rec = node.path(REC);
    std::fs::create_dir_all(&rec).unwrap();
    std::fs::set_permissions(&rec, std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
}

/// Our daemon in `node`; returns once its status is up.
fn start(node: &Node) -> Spawned {
    start_with(node, &[BIN, "run"])
}

/// The same, with the command line `args`.
fn start_with(node: &Node, args: &[&str]) -> Spawned {
    let from = node.log_len(LOG);
    let d = node.spawn(args);
    node.wait_for_log_from(LOG, from, &["Local status now set to: 'up'"], SOON);
    d
}

/// Our daemon on n2 with a plain configuration: a peer for n1, whose resource
/// protocol then settles, so that a graceful stop of n1 can go ahead (it waits
/// for the peer's report; a node alone never gets one).
fn peer(cluster: &Cluster) -> Spawned {
    let n2 = cluster.node("n2");
    install(n2, &ha_cf("n1 n2", ""), &[]);
    start(n2)
}

/// Our daemon's process in `node` (there must be exactly one).
pub(crate) fn daemon_process(node: &Node) -> NodeProcess {
    let exe = std::fs::canonicalize(BIN).unwrap();
    let mut found: Vec<_> = node
        .processes()
        .into_iter()
        .filter(|p| p.exe == exe)
        .collect();
    assert_eq!(found.len(), 1, "one daemon on {}: {found:?}", node.name());
    found.remove(0)
}

/// The host PID of our daemon in `node`.
fn daemon_pid(node: &Node) -> Pid {
    Pid::from_raw(daemon_process(node).pid)
}

/// SIGTERM to the daemon once its resource protocol has settled with the
/// peer (a graceful stop waits for that), then waits for it to exit.
fn stop(node: &Node, daemon: Spawned) {
    node.wait_for_log(LOG, "remote resource transition completed.", SLOW);
    terminate(node, daemon);
}

/// SIGTERM to our daemon in `node`, then waits for it to exit successfully.
pub(crate) fn terminate(node: &Node, mut daemon: Spawned) {
    kill(daemon_pid(node), Signal::SIGTERM).unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = daemon.try_wait() {
            break s;
        }
        assert!(
            t.elapsed() < SOON,
            "our daemon on {} did not exit; its log:\n{}",
            node.name(),
            node.read_file(LOG)
        );
        std::thread::sleep(Duration::from_millis(20)); // a poll interval, as in wait_until
    };
    assert!(status.success(), "{status}:\n{}", daemon.output());
}

/// The starts `name` recorded: one `[PID, UID, GID, GROUPS...]` per start.
fn starts(node: &Node, name: &str) -> Vec<Vec<String>> {
    node.read_file(&format!("{REC}/{name}"))
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

fn count(node: &Node, needle: &str) -> usize {
    node.read_file(LOG)
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

/// Alive and not a zombie.
fn alive(pid: Pid) -> bool {
    kill(pid, None).is_ok()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

/// In state `T` (stopped by a signal).
fn stopped(pid: Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
        })
        == Some('T')
}

/// The reading end of a FIFO: a thread keeps every byte that arrives.
struct FifoReader {
    bytes: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FifoReader {
    /// Makes the FIFO `path` and opens it for reading (non-blocking: with no
    /// writer, a read returns 0 at once, and the thread tries again shortly).
    fn new(path: &Path) -> FifoReader {
        nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .unwrap_or_else(|e| panic!("mkfifo {}: {e}", path.display()));
        let mut fifo = OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(path)
            .unwrap();
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s) = (bytes.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while !s.load(Ordering::Relaxed) {
                match fifo.read(&mut buf) {
                    Ok(n) if n > 0 => b.lock().unwrap().extend_from_slice(&buf[..n]),
                    Ok(_) => std::thread::sleep(Duration::from_millis(5)),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(e) => panic!("reading the watchdog FIFO: {e}"),
                }
            }
        });
        FifoReader {
            bytes,
            stop,
            thread: Some(thread),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        self.bytes.lock().unwrap().clone()
    }

    fn len(&self) -> usize {
        self.bytes.lock().unwrap().len()
    }

    /// Waits until `n` bytes have arrived in all.
    fn wait_len(&self, n: usize, timeout: Duration) {
        wait_until(&format!("{n} bytes on the watchdog FIFO"), timeout, || {
            (self.len() >= n).then_some(())
        });
    }
}

impl Drop for FifoReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The reader of `node`'s watchdog FIFO ([`WD`]).
fn fifo(node: &Node) -> FifoReader {
    FifoReader::new(&node.path(WD))
}

/// §11: a `respawn` program runs as its user (uid, gid and exactly the
/// user's groups: the daemon runs with supplementary groups 4 and 27, and
/// none of them leaks through), is restarted with a new PID after `kill -9`,
/// and is stopped, not restarted, at a graceful stop.
#[test]
fn a_respawned_program_runs_as_its_user_and_comes_back_after_kill_9() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private());
    let n1 = cluster.node("n1");
    let _peer = peer(&cluster);
    install(
        n1,
        &ha_cf("n1 n2", "respawn nobody /etc/ha.d/prog\n"),
        &[("prog", "exec sleep 1000")],
    );
    let daemon = start_with(n1, &["setpriv", "--groups", "4,27", "--", BIN, "run"]);
    let first = wait_until("the first start", SOON, || {
        starts(n1, "prog").first().cloned()
    });
    let id = |flag: &str| {
        n1.exec_ok(&["id", flag, "nobody"])
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let mut want = id("-u");
    want.extend(id("-g"));
    want.extend(id("-G"));
    assert_eq!(first[1..], want[..], "uid gid groups of the program");
    assert_eq!(
        count(n1, "Starting \"/etc/ha.d/prog\" as uid 65534"),
        1,
        "{}",
        n1.read_file(LOG)
    );

    let pid = |rec: &[String]| -> Pid {
        let node_pid: i32 = rec[0].parse().unwrap();
        Pid::from_raw(n1.host_pid(node_pid).expect("the program runs"))
    };
    let old = pid(&first);
    kill(old, Signal::SIGKILL).unwrap();
    let second = wait_until("the restart", SOON, || starts(n1, "prog").get(1).cloned());
    assert_ne!(second[0], first[0], "a new process");
    assert_eq!(second[1..], want[..]);
    n1.wait_for_log(LOG, "Respawning client \"/etc/ha.d/prog\":", SOON);
    n1.wait_for_log(LOG, "Client /etc/ha.d/prog killed by signal 9.", SOON);
    let new = pid(&second);

    stop(n1, daemon);
    assert!(!alive(new), "the program outlived the daemon");
    assert_eq!(starts(n1, "prog").len(), 2, "restarted at the stop");
    assert_eq!(count(n1, "Respawning client"), 1, "{}", n1.read_file(LOG));
    assert_eq!(count(n1, "Stopping client \"/etc/ha.d/prog\""), 1);
}

/// §11: exit 100 is never respawned; a program that exits at once is
/// restarted 10 times, 1 s apart, then `respawning too fast` and never again;
/// an `ipfail` line is not run (it is built in), with one warning.
/// The watchdog FIFO is the clock: after the give-up, 15 more keepalives
/// pass without any start.
#[test]
fn exit_100_stays_down_and_a_crashing_program_is_given_up() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private());
    let n1 = cluster.node("n1");
    let _peer = peer(&cluster);
    let wd = fifo(n1);
    install(
        n1,
        &ha_cf(
            "n1 n2",
            &format!(
                "watchdog {WD}\nrespawn nobody /etc/ha.d/once\nrespawn hacluster /usr/libexec/heartbeat/ipfail\nrespawn nobody /etc/ha.d/crash\n"
            ),
        ),
        &[("once", "exit 100"), ("crash", "exit 1")],
    );
    let daemon = start(n1);
    n1.wait_for_log(
        LOG,
        "Client /etc/ha.d/once exited with return code 100: it asked not to be respawned",
        SOON,
    );
    n1.wait_for_log(LOG, "Client /etc/ha.d/crash \"respawning too fast\"", SLOW);
    let fed = wd.len();
    wd.wait_len(fed + 15, SOON);

    assert_eq!(starts(n1, "once").len(), 1, "exit 100 was restarted");
    assert_eq!(
        starts(n1, "crash").len(),
        11,
        "1 start + 10 restarts:\n{}",
        n1.read_file(LOG)
    );
    assert_eq!(count(n1, "Respawning client \"/etc/ha.d/crash\":"), 10);
    assert_eq!(
        count(n1, "Client /etc/ha.d/crash exited with return code 1."),
        11
    );
    assert_eq!(count(n1, "Respawning client \"/etc/ha.d/once\""), 0);
    assert_eq!(
        count(
            n1,
            "ipfail is built into this heartbeat; the program is not started"
        ),
        1
    );
    let ipfail = std::fs::canonicalize("/usr/libexec/heartbeat/ipfail").unwrap();
    assert!(n1.processes().iter().all(|p| p.exe != ipfail));
    stop(n1, daemon);
}

/// §11: the watchdog FIFO gets a NUL about every keepalive; nothing while the
/// daemon is stopped (SIGSTOP: the peer declares it dead meanwhile); feeding
/// resumes after SIGCONT; `V` (magic close) ends a graceful stop.
#[test]
fn the_watchdog_is_fed_while_the_daemon_runs_and_closed_with_v() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private());
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    let wd = fifo(n1);
    install(n1, &ha_cf("n1 n2", &format!("watchdog {WD}\n")), &[]);
    install(n2, &ha_cf("n1 n2", ""), &[]);
    let d1 = start(n1);
    let d2 = start(n2);
    n1.wait_for_log(LOG, &format!("Using watchdog device: {WD}"), SOON);
    // A FIFO is no watchdog: the timeout cannot be set, which is a warning.
    let line = n1.wait_for_log(LOG, "WDIOC_SETTIMEOUT", SOON);
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains(&format!("{WD} to 2 s")), "{line}");
    n2.wait_for_log(LOG, "Link n1:eth1 up.", SOON);

    // About one NUL per keepalive: never a burst faster than that.
    let (t0, c0) = (Instant::now(), wd.len());
    wd.wait_len(c0 + 15, SOON);
    let (elapsed, fed) = (t0.elapsed(), wd.len() - c0);
    let most = (elapsed.as_millis() / KEEPALIVE.as_millis()) as usize + 3;
    assert!(
        fed <= most,
        "{fed} feeds in {elapsed:?} (keepalive {KEEPALIVE:?})"
    );
    eprintln!("{fed} feeds in {elapsed:?} (keepalive {KEEPALIVE:?})");

    // SIGSTOP: no feed until the peer has declared us dead (after deadtime).
    let pid = daemon_pid(n1);
    let from = n2.log_len(LOG);
    kill(pid, Signal::SIGSTOP).unwrap();
    // nsenter, the daemon's parent, sees its child stop and stops itself too
    // (it mimics a shell's job control); it is continued below with the daemon.
    let nsenter = Pid::from_raw(i32::try_from(d1.pid()).unwrap());
    wait_until("the daemon and its nsenter to be stopped", SOON, || {
        (stopped(pid) && stopped(nsenter)).then_some(())
    });
    let at_stop = wd.len();
    n2.wait_for_log_from(LOG, from, &["node n1: is dead"], SOON);
    // The reader may not yet have seen a byte written just before the stop.
    assert!(
        wd.len() <= at_stop + 1,
        "fed while stopped: {} -> {}",
        at_stop,
        wd.len()
    );
    let stopped = wd.len();
    kill(pid, Signal::SIGCONT).unwrap();
    kill(nsenter, Signal::SIGCONT).unwrap();
    wd.wait_len(stopped + 5, SOON);

    // A reload to keepalive 100 ms and deadtime 2 s: the timeout is set
    // again from the new deadtime, and the feeds follow the new keepalive.
    let from = n1.log_len(LOG);
    n1.write_file(
        "/etc/ha.d/ha.cf",
        &ha_cf("n1 n2", &format!("watchdog {WD}\n"))
            .replace("keepalive 200ms", "keepalive 100ms")
            .replace("deadtime 1\n", "deadtime 2\n"),
        0o644,
    );
    kill(pid, Signal::SIGHUP).unwrap();
    let line = n1.wait_for_log_from(LOG, from, &["WDIOC_SETTIMEOUT"], SOON);
    assert!(line.contains(&format!("{WD} to 3 s")), "{line}");
    n1.wait_for_log_from(LOG, from, &["Watchdog fed every 100ms"], SOON);
    let (t0, c0) = (Instant::now(), wd.len());
    wd.wait_len(c0 + 30, SOON);
    let (elapsed, fed) = (t0.elapsed(), wd.len() - c0);
    eprintln!("after the reload: {fed} feeds in {elapsed:?} (keepalive 100ms)");
    // 30 feeds at the old 200 ms would take 6 s; at 100 ms, 3 s.
    assert!(
        elapsed < 30 * KEEPALIVE,
        "{fed} feeds took {elapsed:?}: still fed at the old keepalive"
    );
    assert!(
        fed <= (elapsed.as_millis() / 100) as usize + 3,
        "{fed} feeds in {elapsed:?} (keepalive 100ms)"
    );

    stop(n1, d1);
    wait_until("the magic close", SOON, || {
        (wd.bytes().last() == Some(&b'V')).then_some(())
    });
    let all = wd.bytes();
    assert!(
        all[..all.len() - 1].iter().all(|b| *b == 0),
        "only NULs before the V"
    );
    drop(d2);
}
