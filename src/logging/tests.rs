//! The logger's behaviours: line formats (§12.3), syslog numbers, which file
//! gets what, reopening, and the overflow policy under a stalled writer.
//! Waits are for events (a flush ticket, a channel), each with a generous
//! deadline; nothing asserts on elapsed time.

use std::io::Write;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use chrono::{Local, TimeZone as _};
use slog::{crit, debug, error, info, o, warn, Level, Logger};

use super::format::{facility_code, priority, severity, Class, Format, Line};
use super::queue::{Limits, Queue};
use super::sinks::Stream;
use super::{build, Root, Setup, SyslogSetup, IMPORTANT};

/// Far more than any step here takes; reaching it means a hang.
const PATIENCE: Duration = Duration::from_secs(20);

/// Every slog level, most severe first.
const LEVELS: [Level; 6] = [
    Level::Critical,
    Level::Error,
    Level::Warning,
    Level::Info,
    Level::Debug,
    Level::Trace,
];

fn fmt(syslogmsgfmt: bool) -> Format {
    Format {
        host: "n1".into(),
        pid: 8395,
        syslogmsgfmt,
    }
}

fn at(day: u32, level: Level, msg: &str, fields: &str) -> Line {
    Line {
        time: Local.with_ymd_and_hms(2026, 11, day, 22, 4, 19).unwrap(),
        level,
        msg: msg.into(),
        fields: fields.into(),
        class: Class::Normal,
    }
}

fn text(f: &Format, line: &Line, fields: bool) -> String {
    let mut out = Vec::new();
    f.file_line(&mut out, line, fields);
    String::from_utf8(out).unwrap()
}

fn setup(files: Vec<(PathBuf, bool)>, streams: Vec<Stream>) -> Setup {
    Setup {
        fmt: fmt(true),
        files,
        streams,
        syslog: None,
        limits: Limits::DAEMON,
        rotation_check: Duration::from_secs(3600),
        journal: None,
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The one start-up problem, which must contain `needle`.
fn one_problem(root: &Root, needle: &str) {
    assert_eq!(root.problems.len(), 1, "{:?}", root.problems);
    assert!(root.problems[0].contains(needle), "{:?}", root.problems);
}

fn flushed(root: &Root) {
    assert!(
        root.handle.flush(PATIENCE),
        "the writer did not get through"
    );
}

/// A writer the test reads back.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// §12.3, `syslogmsgfmt true` (default): `Nov 25 22:04:19 vm heartbeat: [8395]: info: ...`
/// (day zero-padded), and `false`: `heartbeat[8395]: 2026/11/25_22:04:19 info: ...`.
#[test]
fn file_lines_have_heartbeats_two_formats() {
    let line = at(5, Level::Info, "Local status now set to: 'up'", " k=v");
    assert_eq!(
        text(&fmt(true), &line, false),
        "Nov 05 22:04:19 n1 heartbeat: [8395]: info: Local status now set to: 'up'\n"
    );
    assert_eq!(
        text(&fmt(false), &line, false),
        "heartbeat[8395]: 2026/11/05_22:04:19 info: Local status now set to: 'up'\n"
    );
    assert_eq!(
        text(&fmt(true), &line, true),
        "Nov 05 22:04:19 n1 heartbeat: [8395]: info: Local status now set to: 'up' k=v\n"
    );
    let words: Vec<_> = LEVELS.into_iter().map(priority).collect();
    assert_eq!(words, ["CRIT", "ERROR", "WARN", "info", "debug", "debug"]);
}

/// What glibc's `syslog()` sends for 3.0.6 (`openlog("heartbeat", LOG_CONS,
/// fac)`, `syslog(pri, "[%d]: %s: %s", ...)`): `<PRI>Mmm dd hh:mm:ss
/// heartbeat: [PID]: prio: msg`, the day padded with a space (RFC 3164).
#[test]
fn syslog_datagram_is_what_3_0_6_sends() {
    let f = fmt(true);
    let local0 = facility_code("local0").unwrap();
    let line = at(5, Level::Info, "Local status now set to: 'up'", " k=v");
    assert_eq!(
        String::from_utf8(f.syslog_datagram(local0, &line)).unwrap(),
        "<134>Nov  5 22:04:19 heartbeat: [8395]: info: Local status now set to: 'up'"
    );
    let line = at(25, Level::Critical, "Resource group not released", "");
    assert_eq!(
        String::from_utf8(f.syslog_datagram(3, &line)).unwrap(),
        "<26>Nov 25 22:04:19 heartbeat: [8395]: CRIT: Resource group not released"
    );
}

/// `logfacility` names (all that hb-conf accepts) map as glibc's
/// `facilitynames`; levels map to
/// LOG_CRIT 2, LOG_ERR 3, LOG_WARNING 4, LOG_INFO 6, LOG_DEBUG 7.
#[test]
fn facility_and_severity_numbers() {
    let table = [
        ("kern", 0),
        ("user", 1),
        ("mail", 2),
        ("daemon", 3),
        ("auth", 4),
        ("security", 4),
        ("syslog", 5),
        ("lpr", 6),
        ("news", 7),
        ("uucp", 8),
        ("cron", 9),
        ("authpriv", 10),
        ("ftp", 11),
        ("local0", 16),
        ("local1", 17),
        ("local2", 18),
        ("local3", 19),
        ("local4", 20),
        ("local5", 21),
        ("local6", 22),
        ("local7", 23),
        ("mark", 24),
    ];
    for (name, code) in table {
        assert_eq!(facility_code(name), Some(code), "{name}");
    }
    assert_eq!(facility_code("LOCAL0"), None);
    assert_eq!(facility_code("none"), None);
    let sev: Vec<u8> = LEVELS.into_iter().map(severity).collect();
    assert_eq!(sev, [2, 3, 4, 6, 7, 7]);
}

/// §12.3: the debug file gets every line with its structured fields; the
/// log file everything but debug, without fields. `important` is never printed.
#[test]
fn debugfile_gets_debug_lines_with_fields_logfile_the_rest_without() {
    let dir = tempfile::tempdir().unwrap();
    let (logf, debugf) = (dir.path().join("ha-log"), dir.path().join("ha-debug"));
    let root = build(setup(
        vec![(logf.clone(), false), (debugf.clone(), true)],
        vec![],
    ))
    .unwrap();
    assert!(root.problems.is_empty(), "{:?}", root.problems);
    let log = root.log.new(o!("actor" => "node_table", IMPORTANT => true));
    debug!(log, "a detail"; "bytes" => 42);
    info!(log, "Link n2:eth1 up."; "node" => "n2");
    flushed(&root);
    let (l, d) = (read(&logf), read(&debugf));
    assert!(!l.contains("a detail"), "{l}");
    assert!(l.contains("heartbeat: ["), "{l}");
    assert!(l.ends_with("info: Link n2:eth1 up.\n"), "{l}");
    assert!(
        d.contains("debug: a detail bytes=42 actor=node_table\n"),
        "{d}"
    );
    assert!(
        d.contains("info: Link n2:eth1 up. node=n2 actor=node_table\n"),
        "{d}"
    );
    assert!(!d.contains("important"), "{d}");
}

/// logrotate: after the file was moved, a reopen makes the next lines land in
/// a new file at the configured path (mode 0640, ours); the moved file stops growing.
#[test]
fn reopen_after_a_move_writes_a_new_file_at_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ha-log");
    let root = build(setup(vec![(path.clone(), false)], vec![])).unwrap();
    info!(root.log, "before the move");
    flushed(&root);
    let moved = dir.path().join("ha-log.1");
    std::fs::rename(&path, &moved).unwrap();
    info!(root.log, "still to the moved file");
    root.handle.reopen();
    info!(root.log, "after the reopen");
    flushed(&root);
    let old = read(&moved);
    assert!(
        old.contains("before the move") && old.contains("still to the moved file"),
        "{old}"
    );
    assert!(!old.contains("after the reopen"), "{old}");
    assert_eq!(read(&path).lines().count(), 1, "{}", read(&path));
    assert!(read(&path).contains("info: after the reopen"));
    let meta = std::fs::metadata(&path).unwrap();
    // 0640, or less with a stricter umask.
    let mode = meta.permissions().mode() & 0o777;
    assert_eq!((mode & !0o640, mode & 0o600), (0, 0o600), "{mode:o}");
    assert_eq!(meta.uid(), nix::unistd::geteuid().as_raw());
}

/// Without SIGHUP, a path that names another file is noticed at the next
/// rotation check (a minute in the daemon, at once here), as cluster-glue does.
#[test]
fn a_rotation_without_sighup_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ha-log");
    let mut s = setup(vec![(path.clone(), false)], vec![]);
    s.rotation_check = Duration::ZERO;
    let root = build(s).unwrap();
    info!(root.log, "one");
    flushed(&root);
    std::fs::rename(&path, dir.path().join("ha-log.1")).unwrap();
    info!(root.log, "two");
    flushed(&root);
    info!(root.log, "three");
    flushed(&root);
    let new = read(&path);
    assert!(
        new.contains(&format!(
            "log-rotate detected on logfile {}",
            path.display()
        )),
        "{new}"
    );
    assert!(new.contains("info: three"), "{new}");
    assert!(!new.contains("info: one"), "{new}");
}

/// A symbolic link at the log path (planted in a writable directory) is never
/// followed: the file is refused at start and at reopen, its target untouched.
#[test]
fn a_symbolic_link_is_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("passwd");
    std::fs::write(&target, "root:x:0:0\n").unwrap();
    let path = dir.path().join("ha-log");
    std::os::unix::fs::symlink(&target, &path).unwrap();
    let capture = Capture::default();
    let root = build(setup(
        vec![(path.clone(), false)],
        vec![Stream::new(Box::new(capture.clone()), false)],
    ))
    .unwrap();
    one_problem(&root, "symbolic link");
    info!(root.log, "a line");
    root.handle.reopen();
    info!(root.log, "another");
    flushed(&root);
    assert_eq!(read(&target), "root:x:0:0\n");
    let err = capture.text();
    assert!(err.contains("ERROR: cannot reopen log file"), "{err}");
    assert!(err.contains("symbolic link"), "{err}");
}

/// ENOSPC (`/dev/full`): the lines are lost, the loss is said once (through
/// the other sinks, here standard error) and nothing waits.
#[test]
fn a_full_disk_is_reported_once_and_stalls_nothing() {
    let capture = Capture::default();
    let root = build(setup(
        vec![(PathBuf::from("/dev/full"), false)],
        vec![Stream::new(Box::new(capture.clone()), false)],
    ))
    .unwrap();
    assert!(root.problems.is_empty(), "{:?}", root.problems);
    for i in 0..20 {
        info!(root.log, "line {i}");
        flushed(&root);
    }
    let err = capture.text();
    let reports: Vec<_> = err
        .lines()
        .filter(|l| l.contains("cannot write to log file /dev/full"))
        .collect();
    assert_eq!(reports.len(), 1, "{err}");
    assert!(reports[0].contains("ERROR: "), "{err}");
    assert!(reports[0].contains("No space left on device"), "{err}");
    assert!(err.contains("info: line 19"), "{err}");
}

/// A writer whose `write` tells the test it was entered, then blocks until
/// the test opens the gate: a hung NFS mount.
struct Gate {
    entered: mpsc::Sender<()>,
    open: Arc<(Mutex<bool>, Condvar)>,
    out: Capture,
}

impl Write for Gate {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.entered.send(());
        let (lock, cv) = &*self.open;
        let mut open = lock.lock().unwrap();
        while !*open {
            open = cv.wait(open).unwrap();
        }
        self.out.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The writer hangs in `write`: logging calls still return (an event, not a
/// timer, shows it); info lines past the limit are dropped and counted, and a
/// notice takes their place; CRIT, WARN and important lines are all written
/// once the writer moves again.
#[test]
fn a_stalled_writer_drops_and_counts_info_lines_but_keeps_crit_and_important() {
    let (entered_tx, entered) = mpsc::channel();
    let open = Arc::new((Mutex::new(false), Condvar::new()));
    let out = Capture::default();
    let gate = Gate {
        entered: entered_tx,
        open: Arc::clone(&open),
        out: out.clone(),
    };
    let mut s = setup(vec![], vec![Stream::new(Box::new(gate), false)]);
    s.limits = Limits {
        lines: 50,
        bytes: 1 << 20,
    };
    let root = build(s).unwrap();
    info!(root.log, "first");
    entered
        .recv_timeout(PATIENCE)
        .expect("the writer is in write()");

    let (done_tx, done) = mpsc::channel();
    let log: Logger = root.log.clone();
    let caller = std::thread::spawn(move || {
        for i in 0..200 {
            info!(log, "info {i}");
        }
        crit!(log, "Resource group not released");
        info!(log, "Taking over resource group 198.51.100.7"; IMPORTANT => true);
        warn!(log, "Late heartbeat");
        error!(log, "an error");
        for i in 0..10 {
            info!(log, "later {i}");
        }
        let _ = done_tx.send(());
    });
    done.recv_timeout(PATIENCE)
        .expect("logging calls returned while the writer hung");
    caller.join().unwrap();
    assert_eq!(root.handle.dropped(), 160);

    *open.0.lock().unwrap() = true;
    open.1.notify_all();
    flushed(&root);
    let text = out.text();
    let pos = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing in:\n{text}"))
    };
    assert!(pos("info: first") < pos("info: info 49"));
    assert!(!text.contains("info 50\n"), "{text}");
    assert!(pos("info: info 49") < pos("WARN: 150 log lines dropped: the log writer fell behind"));
    assert!(pos("150 log lines dropped") < pos("CRIT: Resource group not released"));
    assert!(pos("CRIT: Resource") < pos("info: Taking over resource group 198.51.100.7"));
    assert!(pos("Taking over") < pos("WARN: Late heartbeat"));
    assert!(pos("Late heartbeat") < pos("ERROR: an error"));
    assert!(pos("ERROR: an error") < pos("WARN: 10 log lines dropped"));
    assert!(!text.contains("later"), "{text}");
}

/// The queue alone: info goes at the line limit, WARN/ERROR at the byte
/// limit, CRIT and important never; consecutive drops share one marker.
#[test]
fn queue_policy_by_class() {
    let line = |class| Line {
        class,
        ..at(5, Level::Info, "x", "")
    };
    let size = line(Class::Normal).size();
    let q = Queue::new(Limits {
        lines: 2,
        bytes: 3 * size,
    });
    assert!(q.push(line(Class::Normal)));
    assert!(q.push(line(Class::Normal)));
    assert!(!q.push(line(Class::Normal)));
    assert!(!q.push(line(Class::Normal)));
    assert!(q.push(line(Class::Warning)));
    assert!(!q.push(line(Class::Warning)));
    for _ in 0..100 {
        assert!(q.push(line(Class::Vital)));
    }
    assert_eq!(q.dropped(), 3);
    let items = q.take().unwrap();
    let markers: Vec<_> = items
        .iter()
        .filter_map(|i| match i {
            super::queue::Item::Dropped {
                lines, warnings, ..
            } => Some((*lines, *warnings)),
            _ => None,
        })
        .collect();
    assert_eq!(markers, [(2, 0), (1, 1)]);
    assert_eq!(items.len(), 2 + 2 + 1 + 100);
    // Taken: room again.
    assert!(q.push(line(Class::Normal)));
}

/// A receiving "syslog daemon" on a socket in a temporary directory.
fn receiver(path: &Path) -> UnixDatagram {
    let sock = UnixDatagram::bind(path).unwrap();
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    sock
}

fn recv(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("a datagram");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn with_syslog(path: &Path, debug: bool, files: Vec<(PathBuf, bool)>) -> Setup {
    let mut s = setup(files, vec![]);
    s.syslog = Some(SyslogSetup {
        path: path.to_path_buf(),
        name: "local0".into(),
        facility: 16,
        debug,
        retry_every: Duration::ZERO,
    });
    s
}

/// Every line at info and up reaches syslog with the facility and the
/// level's severity; debug lines only with `debug` 1 or more.
#[test]
fn syslog_gets_info_and_up_with_facility_and_severity() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("log");
    let rx = receiver(&sock_path);
    let root = build(with_syslog(&sock_path, false, vec![])).unwrap();
    assert!(root.problems.is_empty(), "{:?}", root.problems);
    debug!(root.log, "not sent");
    info!(root.log, "an info"; "k" => 1);
    warn!(root.log, "a warning");
    error!(root.log, "an error");
    crit!(root.log, "a crit");
    flushed(&root);
    let got: Vec<String> = (0..4).map(|_| recv(&rx)).collect();
    let pid = 8395;
    for (g, (pri, tail)) in got.iter().zip([
        (134, "info: an info"),
        (132, "WARN: a warning"),
        (131, "ERROR: an error"),
        (130, "CRIT: a crit"),
    ]) {
        assert!(g.starts_with(&format!("<{pri}>")), "{g}");
        assert!(g.ends_with(&format!(" heartbeat: [{pid}]: {tail}")), "{g}");
    }
    drop(root);

    let debug_path = dir.path().join("log2");
    let rx = receiver(&debug_path);
    let root = build(with_syslog(&debug_path, true, vec![])).unwrap();
    debug!(root.log, "a detail");
    flushed(&root);
    let g = recv(&rx);
    assert!(
        g.starts_with("<135>") && g.ends_with("debug: a detail"),
        "{g}"
    );
}

/// No syslog at start: one warning (a start-up problem), the files keep
/// every line; once a daemon listens, lines arrive and the files are told how
/// many were not sent. A restarted daemon (a new socket at the same path) is
/// reconnected at the next line.
#[test]
fn syslog_absent_then_present_then_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("log");
    let logf = dir.path().join("ha-log");
    let root = build(with_syslog(&sock_path, false, vec![(logf.clone(), false)])).unwrap();
    one_problem(&root, "cannot send to syslog at");
    info!(root.log, "while syslog is away");
    info!(root.log, "again while away");
    flushed(&root);
    assert!(read(&logf).contains("again while away"));

    let rx = receiver(&sock_path);
    info!(root.log, "syslog is here");
    flushed(&root);
    assert!(recv(&rx).ends_with("info: syslog is here"));
    let report = recv(&rx);
    assert!(
        report.contains("takes lines again; 2 lines were not sent to it"),
        "{report}"
    );
    assert!(read(&logf).contains("takes lines again; 2 lines were not sent"));

    // syslogd restarts: its socket is replaced.
    drop(rx);
    std::fs::remove_file(&sock_path).unwrap();
    let rx = receiver(&sock_path);
    info!(root.log, "after the restart");
    flushed(&root);
    assert!(recv(&rx).ends_with("info: after the restart"));
    // No warning about it: nothing was lost.
    assert!(!read(&logf).contains("WARN"), "{}", read(&logf));
}

/// A log file that cannot be opened at start (its directory is missing) is
/// a start-up problem; the lines meanwhile are counted, and once SIGHUP
/// opens it, the file says how many it missed.
#[test]
fn a_file_that_opens_only_at_a_reopen_says_what_it_missed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later").join("ha-log");
    let root = build(setup(vec![(path.clone(), false)], vec![])).unwrap();
    one_problem(&root, &format!("cannot open log file {}: ", path.display()));
    info!(root.log, "one");
    info!(root.log, "two");
    flushed(&root);
    std::fs::create_dir(dir.path().join("later")).unwrap();
    root.handle.reopen();
    info!(root.log, "three");
    flushed(&root);
    let text = read(&path);
    assert!(text.contains("info: three\n"), "{text}");
    assert!(
        text.contains(&format!(
            "info: writing to {} works again; 2 log lines were lost",
            path.display()
        )),
        "{text}"
    );
}
