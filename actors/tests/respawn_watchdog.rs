//! The `respawn` client actor against real `#!/bin/sh` programs, and the
//! watchdog feeder against a regular file and a FIFO (never a real watchdog
//! device: that would reboot the machine). Reference: protocol notes §11.
//!
//! The respawn tests use a fast policy (a short run is under 10 s, 20 ms
//! pause) so that a give-up takes a fraction of a second; the rules
//! themselves are unit-tested in `hb_core::respawn`. Every wait polls until
//! a deadline; nothing sleeps for a fixed time.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use hb_actors::respawn::{ClientSpec, RespawnClient, StopClient};
use hb_actors::watchdog::{self, LivenessProbe, MagicClose, WatchdogFeeder};
use hb_core::respawn::Policy;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use slog::{o, Drain, Logger};

const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `cond` every 10 ms until it returns `Some`; panics after [`DEADLINE`].
async fn until<T>(what: &str, mut cond: impl FnMut() -> Option<T>) -> T {
    let end = actix::clock::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(
            actix::clock::Instant::now() < end,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        actix::clock::sleep(Duration::from_millis(10)).await;
    }
}

/// Every log line as `LEVEL message`.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Drain for Lines {
    type Ok = ();
    type Err = slog::Never;
    fn log(&self, r: &slog::Record<'_>, _: &slog::OwnedKVList) -> Result<(), slog::Never> {
        let line = format!("{} {}", r.level().as_short_str(), r.msg());
        self.0.lock().unwrap().push(line);
        Ok(())
    }
}

impl Lines {
    fn logger(&self) -> Logger {
        Logger::root(self.clone().fuse(), o!())
    }

    fn count(&self, needle: &str) -> usize {
        let all = self.0.lock().unwrap();
        all.iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits for `Client CMD "respawning too fast"`.
    async fn wait_for_give_up(&self) {
        until("the give-up", || {
            (self.count("\"respawning too fast\"") == 1).then_some(())
        })
        .await;
    }

    fn dump(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

/// A fast policy: runs under 10 s are short, 20 ms pause, `max` short runs.
fn fast(max: u32) -> Policy {
    Policy {
        short_run: Duration::from_secs(10),
        pause: Duration::from_millis(20),
        max_short_runs: max,
    }
}

/// A temporary directory with one program, `prog`, that appends a line to
/// `starts` each time it starts and then runs `body`.
struct Prog {
    dir: tempfile::TempDir,
}

impl Prog {
    fn new(body: &str) -> Prog {
        let dir = tempfile::tempdir().expect("temporary directory");
        let starts = dir.path().join("starts");
        let script = format!(
            "#!/bin/sh\necho \"$$ $HA_WHO $(pwd) $*\" >> '{}'\n{body}\n",
            starts.display()
        );
        let prog = dir.path().join("prog");
        fs::write(&prog, script).unwrap();
        fs::set_permissions(&prog, fs::Permissions::from_mode(0o755)).unwrap();
        Prog { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("prog")
    }

    fn spec(&self, user: &str) -> ClientSpec {
        ClientSpec {
            user: user.into(),
            argv: vec![self.path().display().to_string(), "a b".into(), "c".into()],
            env: vec![("HA_WHO".into(), "tester".into())],
        }
    }

    /// One line per start: `PID HA_WHO CWD ARGS`.
    fn starts(&self) -> Vec<String> {
        fs::read_to_string(self.dir.path().join("starts"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn pid_of(line: &str) -> Pid {
        Pid::from_raw(line.split_whitespace().next().unwrap().parse().unwrap())
    }
}

fn me() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .unwrap()
        .expect("the test's own user")
        .name
}

fn alive(pid: Pid) -> bool {
    kill(pid, None).is_ok()
        && !fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

/// §11: "Any other exit or signal: `Respawning client "CMD":`, then restart."
/// The program gets its argv as configured, `HA_*` from `env`, and `/` as its
/// working directory. A stop ends it for good.
#[actix_rt::test]
async fn a_killed_program_is_restarted_and_a_stop_ends_it_for_good() {
    let prog = Prog::new("exec sleep 1000");
    let lines = Lines::default();
    let client = RespawnClient::new(prog.spec(&me()), fast(10), &lines.logger()).start();
    let first = until("the first start", || prog.starts().first().cloned()).await;
    assert!(first.ends_with(" tester / a b c"), "{first}");
    let pid = Prog::pid_of(&first);
    kill(pid, Signal::SIGKILL).unwrap();
    let second = until("the restart", || prog.starts().get(1).cloned()).await;
    assert_ne!(Prog::pid_of(&second), pid, "a new process");
    assert_eq!(lines.count("Respawning client \""), 1, "{}", lines.dump());
    assert_eq!(lines.count("killed by signal 9."), 1, "{}", lines.dump());

    client.send(StopClient).await.unwrap();
    assert!(!alive(Prog::pid_of(&second)), "stopped with the stop");
    assert_eq!(prog.starts().len(), 2, "not restarted after the stop");
    assert_eq!(lines.count("Respawning client"), 1, "{}", lines.dump());
}

/// §11: "If it exits with 100, it is not respawned."
#[actix_rt::test]
async fn exit_100_is_not_respawned() {
    let prog = Prog::new("exit 100");
    let lines = Lines::default();
    let client = RespawnClient::new(prog.spec(&me()), fast(10), &lines.logger()).start();
    until("the decision", || {
        (lines.count("asked not to be respawned") == 1).then_some(())
    })
    .await;
    // The decision is final and logged before anything could be restarted;
    // a stop of a client with no program answers at once.
    client.send(StopClient).await.unwrap();
    assert_eq!(prog.starts().len(), 1);
    assert_eq!(lines.count("Respawning"), 0, "{}", lines.dump());
    assert_eq!(
        lines.count("exited with return code 100."),
        1,
        "{}",
        lines.dump()
    );
}

/// §11: more than N consecutive short runs: `Client CMD "respawning too fast"`.
#[actix_rt::test]
async fn a_program_that_exits_at_once_is_given_up() {
    let prog = Prog::new("exit 3");
    let lines = Lines::default();
    let _client = RespawnClient::new(prog.spec(&me()), fast(3), &lines.logger()).start();
    lines.wait_for_give_up().await;
    assert_eq!(prog.starts().len(), 4, "3 restarts, then none");
    assert_eq!(lines.count("Respawning client"), 3, "{}", lines.dump());
    assert_eq!(
        lines.count("exited with return code 3."),
        4,
        "{}",
        lines.dump()
    );
}

/// Our addition: a program that cannot be started (no such user) is said
/// clearly and retried under the same throttle; the actor does not die.
#[actix_rt::test]
async fn a_start_that_fails_is_logged_and_throttled() {
    let prog = Prog::new("exit 0");
    let lines = Lines::default();
    let client =
        RespawnClient::new(prog.spec("hbt-no-such-user"), fast(2), &lines.logger()).start();
    lines.wait_for_give_up().await;
    assert_eq!(
        lines.count("Cannot start client \"") + lines.count("user hbt-no-such-user does not exist"),
        6,
        "3 attempts, each with its cause:\n{}",
        lines.dump()
    );
    assert!(prog.starts().is_empty());
    assert!(client.connected(), "the actor is still there");
    client.send(StopClient).await.unwrap();
}

/// §11 and our bound: SIGTERM first; a program that ignores it gets SIGKILL
/// after the grace, and the stop still answers.
#[actix_rt::test]
async fn a_program_that_ignores_sigterm_is_killed_after_the_grace() {
    let prog = Prog::new("trap '' TERM\nwhile :; do sleep 1; done");
    let lines = Lines::default();
    let client = RespawnClient::new(prog.spec(&me()), fast(10), &lines.logger())
        .with_stop_grace(Duration::from_millis(300))
        .start();
    let first = until("the start", || prog.starts().first().cloned()).await;
    client.send(StopClient).await.unwrap();
    assert!(!alive(Prog::pid_of(&first)));
    assert_eq!(lines.count("SIGKILL"), 1, "{}", lines.dump());
    assert_eq!(lines.count("Respawning"), 0, "{}", lines.dump());
}

// ---- watchdog -------------------------------------------------------------------

/// A node table stand-in: counts probes, and answers them unless muted.
struct Table {
    mute: Arc<AtomicBool>,
    probes: Arc<AtomicUsize>,
}

impl Actor for Table {
    type Context = Context<Self>;
}

impl Handler<LivenessProbe> for Table {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: LivenessProbe, _: &mut Context<Self>) -> ResponseFuture<()> {
        self.probes.fetch_add(1, Ordering::SeqCst);
        if self.mute.load(Ordering::SeqCst) {
            Box::pin(std::future::pending())
        } else {
            Box::pin(async {})
        }
    }
}

fn bytes(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_default()
}

/// §11: a single NUL per keepalive while the node table answers; none while
/// it does not (a wedged decision loop must let the device fire); `V` on a
/// graceful stop.
#[actix_rt::test]
async fn feeds_only_while_the_table_answers_and_closes_with_v() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wd");
    fs::write(&path, b"").unwrap();
    let lines = Lines::default();
    let dev = watchdog::open(&path, Duration::from_secs(1), &lines.logger()).expect("opens");
    assert_eq!(
        lines.count("WARN Cannot set the timeout"),
        1,
        "a file is no watchdog: {}",
        lines.dump()
    );
    assert_eq!(
        lines.count(&format!("Using watchdog device: {}", path.display())),
        1
    );
    let mute = Arc::new(AtomicBool::new(false));
    let probes = Arc::new(AtomicUsize::new(0));
    let table = Table {
        mute: mute.clone(),
        probes: probes.clone(),
    }
    .start();
    let keepalive = Duration::from_millis(20);
    let feeder =
        WatchdogFeeder::new(dev, &path, table.recipient(), keepalive, &lines.logger()).start();
    until("5 feeds", || (bytes(&path).len() >= 5).then_some(())).await;

    mute.store(true, Ordering::SeqCst);
    // Once a probe reaches the muted table, every earlier answer has been acted on.
    let at = probes.load(Ordering::SeqCst);
    until("a probe to the muted table", || {
        (probes.load(Ordering::SeqCst) > at).then_some(())
    })
    .await;
    let fed = bytes(&path).len();
    let at = probes.load(Ordering::SeqCst);
    until("5 more unanswered probes", || {
        (probes.load(Ordering::SeqCst) >= at + 5).then_some(())
    })
    .await;
    assert_eq!(
        bytes(&path).len(),
        fed,
        "fed while the table did not answer"
    );
    assert_eq!(
        lines.count("did not answer"),
        1,
        "rate-limited: {}",
        lines.dump()
    );

    mute.store(false, Ordering::SeqCst);
    until("feeding again", || {
        (bytes(&path).len() >= fed + 3).then_some(())
    })
    .await;
    feeder.send(MagicClose).await.unwrap();
    let all = bytes(&path);
    let (last, before) = all.split_last().unwrap();
    assert_eq!(*last, b'V');
    assert!(before.iter().all(|b| *b == 0), "{all:?}");
    // Closed: nothing more is written.
    until("the feeder to stop", || (!feeder.connected()).then_some(())).await;
    assert_eq!(bytes(&path), all);
}

/// A FIFO without a reader is refused at once (ENXIO), never waited for.
#[actix_rt::test]
async fn a_fifo_without_reader_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fifo");
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let lines = Lines::default();
    assert!(watchdog::open(&path, Duration::from_secs(1), &lines.logger()).is_none());
    assert_eq!(
        lines.count("ERRO Cannot open watchdog device"),
        1,
        "{}",
        lines.dump()
    );
    assert_eq!(lines.count("Using watchdog device"), 0);
}
