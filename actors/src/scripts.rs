//! Running haresources resource scripts (`SCRIPT args... start|stop|status`),
//! asynchronously, so that an actor on the System thread never blocks on one.
//!
//! What heartbeat 3.0.6's `ResourceManager` does, and what we do
//! (protocol notes §8.1-§8.2):
//!
//! * **Lookup** ([`find_script`]): `<confdir>/resource.d/NAME`, then
//!   `/etc/init.d/NAME`; the first regular executable file wins.
//! * **Call** ([`run`]): `SCRIPT arg1 arg2 ... start|stop|status`. Every
//!   argument is its own argv entry, and no shell is involved, so spaces,
//!   quotes and `;` reach the script unchanged.
//! * **Owned?** ([`is_running`], [`status_says_running`]): the stdout of
//!   `status` matched against heartbeat's three globs; the exit code does not count.
//!
//! Where we add to 3.0.6, which waits for a script forever and lets it inherit
//! heartbeat's whole environment:
//!
//! * A script runs in its own process group, with a timeout. At the timeout the
//!   whole group gets SIGTERM, and SIGKILL if anything in it is still alive
//!   after a grace period ([`Limits`]), so a hung script cannot leave children behind.
//! * Its environment is `PATH` ([`DEFAULT_PATH`]) plus what the caller passes
//!   (the `HA_*` variables), its stdin is `/dev/null` and its working directory `/`.
//! * Its stdout and stderr are logged line by line as they come, prefixed with
//!   the script's name, within bounds ([`MAX_LOG_LINES`], [`MAX_LINE`]), and
//!   the last [`TAIL_MAX`] bytes of each are kept in the [`Outcome`]. These
//!   lines are `debug`, because 3.0.6 sends script output to the debugfile
//!   only (`2>>$HA_DEBUGLOG`); a caller that wants a failing script's words in
//!   the main log takes them from [`Outcome::stderr_tail`].
//!
//! Timeouts use tokio time (`actix::clock`): under `tokio::time::pause()` a
//! real script's timeout would elapse in virtual time, so tests that run real
//! scripts keep the clock running.
//!
//! ```text
//!  run() ──spawn──> SCRIPT (own process group, stdin /dev/null)
//!    │                 │ stdout ──> pump task ──> log "NAME: line", tail
//!    │                 │ stderr ──> pump task ──> log "NAME: line", tail
//!    ├─ exits in time ─┴─> pumps drain the pipes ─> Outcome { status, duration, stdout_tail, stderr_tail }
//!    └─ timeout ──> SIGTERM group ─ grace ─> SIGKILL group ──> ScriptError::TimedOut
//! ```
//!
//! Once the script has exited, everything it wrote is in the pipes: each pump
//! reads what is there without waiting for more ([`DRAIN_MAX`]), and `run`
//! returns. A process the script left running (Debian's IPaddr leaves
//! `send_arp`, an init script its daemon) may still hold the pipes: the pumps
//! go on reading in the background and log what it writes, within the same
//! bounds, until it closes them. Nobody waits for it.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::Either;
use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use slog::{debug, error, info, warn, Logger};
use std::os::fd::AsFd;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// `PATH` for scripts: systemd's default for services. A caller's `PATH` in
/// the `env` of [`run`] replaces it.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How long a timed-out script's process group has between SIGTERM and SIGKILL.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(5);

/// Bytes kept of the end of each stream for the [`Outcome`].
pub const TAIL_MAX: usize = 64 * 1024;

/// Output lines logged per run, both streams together; one note says when
/// the rest is not logged.
pub const MAX_LOG_LINES: usize = 200;

/// Bytes of one output line that are logged; the rest of the line is cut.
pub const MAX_LINE: usize = 2048;

/// Most bytes one stream's pump reads, once the script has exited, before
/// `run` returns: what the script wrote is at most a pipe's capacity
/// (`/proc/sys/fs/pipe-max-size`, 1 MiB by default), and a process it left
/// running that writes without pause cannot hold `run` up.
pub const DRAIN_MAX: usize = 1024 * 1024 + 64 * 1024;

/// How often the kill sequence looks at the process group.
const KILL_POLL: Duration = Duration::from_millis(20);

/// `ETXTBSY` at exec is transient (another process still has the file open
/// for writing, for instance a fork that has not yet exec'd); we retry so often.
const TXTBSY_RETRIES: u32 = 10;

/// The operation passed as the last argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `start`: acquire the resource.
    Start,
    /// `stop`: release it.
    Stop,
    /// `status`: is it held here? Judged by [`is_running`].
    Status,
}

impl Op {
    /// The word passed to the script.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Start => "start",
            Op::Stop => "stop",
            Op::Status => "status",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a script ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal number.
    Signal(i32),
}

impl Exit {
    /// Exit code 0.
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }

    fn from_std(s: std::process::ExitStatus) -> Exit {
        match (s.code(), s.signal()) {
            (Some(c), _) => Exit::Code(c),
            (None, Some(sig)) => Exit::Signal(sig),
            // Stopped or continued: not reported by wait() without WUNTRACED.
            (None, None) => Exit::Signal(0),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit code {c}"),
            Exit::Signal(s) => match Signal::try_from(*s) {
                Ok(sig) => write!(f, "killed by {sig}"),
                Err(_) => write!(f, "killed by signal {s}"),
            },
        }
    }
}

/// A script that ran to its end (whatever its exit code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The operation that was run.
    pub op: Op,
    /// Its exit code or the signal that killed it.
    pub status: Exit,
    /// From spawn to exit.
    pub duration: Duration,
    /// The last [`TAIL_MAX`] bytes of stdout (lossy UTF-8). For `status`
    /// this is what [`is_running`] reads.
    pub stdout_tail: String,
    /// The last [`TAIL_MAX`] bytes of stderr (lossy UTF-8).
    pub stderr_tail: String,
    /// Stdout was longer than [`TAIL_MAX`]: its beginning is not in the tail.
    pub stdout_truncated: bool,
    /// Stderr was longer than [`TAIL_MAX`].
    pub stderr_truncated: bool,
}

/// Why a script did not run to its end. `command` is the command line as
/// logged (`/etc/ha.d/resource.d/IPaddr 10.0.0.5/24 start`).
#[derive(Debug, Error)]
pub enum ScriptError {
    /// There is no such file. The resource cannot be managed here.
    #[error("resource script {name} not found (looked for {})", paths(.looked_for))]
    NotFound {
        /// The script's name (or path, when `run` was given a missing path).
        name: String,
        /// Every place looked at, in order.
        looked_for: Vec<PathBuf>,
    },
    /// The file exists but is not a regular executable file.
    #[error("resource script {} is not a regular executable file, refusing to run {command}", path.display())]
    NotExecutable {
        /// The file found.
        path: PathBuf,
        /// What would have run.
        command: String,
    },
    /// fork/exec or waiting for the script failed.
    #[error("cannot run {command}: {source}")]
    Spawn {
        /// What was to run.
        command: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The script outlived its timeout; its whole process group was killed.
    #[error("{command} timed out after {after:?}; its process group was killed")]
    TimedOut {
        /// What ran.
        command: String,
        /// The timeout.
        after: Duration,
    },
}

fn paths(p: &[PathBuf]) -> String {
    p.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Finds resource script `name` as heartbeat does: `<confdir>/resource.d/NAME`,
/// then `<init_dir>/NAME` (`/etc/init.d` in production); the first that is a
/// regular executable file. This is two `stat` calls on local directories.
///
/// A file that exists but is not executable (and nothing executable found)
/// is [`ScriptError::NotExecutable`] rather than `NotFound`, to point at `chmod`.
pub fn find_script(
    confdir: Option<&Path>,
    init_dir: &Path,
    name: &str,
) -> Result<PathBuf, ScriptError> {
    if let Some(p) = hb_conf::host::script_path(confdir, init_dir, name) {
        return Ok(p);
    }
    let looked_for: Vec<PathBuf> = hb_conf::host::script_places(confdir, init_dir, name).collect();
    if let Some(p) = looked_for.iter().find(|p| p.exists()) {
        return Err(ScriptError::NotExecutable {
            command: p.display().to_string(),
            path: p.clone(),
        });
    }
    Err(ScriptError::NotFound {
        name: name.to_owned(),
        looked_for,
    })
}

/// The timeout and kill policy of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From spawn until the process group is sent SIGTERM.
    pub timeout: Duration,
    /// From SIGTERM until SIGKILL, if anything in the group is still alive.
    pub kill_grace: Duration,
}

/// Runs `script args... op` with a timeout, the environment `PATH` plus
/// `env`, and [`DEFAULT_KILL_GRACE`]. See [`run_with`].
pub async fn run(
    script: &Path,
    args: &[String],
    op: Op,
    env: &[(String, String)],
    timeout: Duration,
    log: &Logger,
) -> Result<Outcome, ScriptError> {
    let limits = Limits {
        timeout,
        kill_grace: DEFAULT_KILL_GRACE,
    };
    run_with(script, args, op, env, limits, log).await
}

/// Runs `script args... op`: no shell, every argument its own argv entry,
/// stdin `/dev/null`, working directory `/`, environment exactly `PATH`
/// ([`DEFAULT_PATH`]) and `env` (later pairs win; a `PATH` there replaces ours).
///
/// The script is the leader of a new process group. If it has not exited
/// after `limits.timeout`, the group gets SIGTERM, then SIGKILL once
/// `limits.kill_grace` has passed with any member still alive, and the result
/// is [`ScriptError::TimedOut`]. If this future is dropped before the script
/// exits, the group gets SIGKILL. A script that exits in time is never
/// signalled, and neither is anything it left running (a start script may
/// leave its daemon behind).
///
/// Any exit code, and death by a signal, is an [`Outcome`]; the caller
/// decides what a failure means.
pub async fn run_with(
    script: &Path,
    args: &[String],
    op: Op,
    env: &[(String, String)],
    limits: Limits,
    log: &Logger,
) -> Result<Outcome, ScriptError> {
    let command = command_line(script, args, op);
    let name = script.file_name().map_or_else(
        || script.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let log = log.new(slog::o!("script" => name.clone(), "op" => op.as_str()));

    match tokio::fs::metadata(script).await {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => {}
        Ok(_) => {
            return Err(ScriptError::NotExecutable {
                path: script.to_owned(),
                command,
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ScriptError::NotFound {
                name: script.display().to_string(),
                looked_for: vec![script.to_owned()],
            })
        }
        Err(source) => return Err(ScriptError::Spawn { command, source }),
    }

    let mut cmd = Command::new(script);
    cmd.args(args)
        .arg(op.as_str())
        .env_clear()
        .env("PATH", DEFAULT_PATH)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);

    // 3.0.6 logs this line for start and stop; a status check is quieter.
    if op == Op::Status {
        debug!(log, "Running {command}");
    } else {
        info!(log, "Running {command}");
    }
    let mut child = spawn(&mut cmd, &command).await?;
    let started = Instant::now();
    // Declared after `child`, so it is dropped first: the group is killed
    // while the leader is still unreaped and its id cannot have been reused.
    let mut guard = GroupGuard(child.id().map(|id| Pid::from_raw(id as i32)));

    let shared = Arc::new(Shared {
        name: name.clone(),
        log: log.clone(),
        lines: AtomicUsize::new(0),
        out: Mutex::new(Tail::default()),
        err: Mutex::new(Tail::default()),
    });
    // Tells the pumps the script has exited (or was killed): from then on each
    // drains what its pipe holds and reports back on its `drained` channel.
    let (exited, exited_rx) = watch::channel(false);
    let mut drained: Vec<oneshot::Receiver<Drained>> = Vec::with_capacity(2);
    if let Some(out) = child.stdout.take() {
        let (tx, rx) = oneshot::channel();
        drained.push(rx);
        tokio::spawn(pump(
            out,
            Stream::Stdout,
            shared.clone(),
            exited_rx.clone(),
            tx,
        ));
    }
    if let Some(err) = child.stderr.take() {
        let (tx, rx) = oneshot::channel();
        drained.push(rx);
        tokio::spawn(pump(err, Stream::Stderr, shared.clone(), exited_rx, tx));
    }

    let waited = tokio::time::timeout(limits.timeout, child.wait()).await;
    let status = match waited {
        Ok(Ok(status)) => {
            guard.0 = None;
            status
        }
        Ok(Err(source)) => {
            if let Some(pgid) = guard.0 {
                kill_group(&mut child, pgid, limits.kill_grace, &log).await;
            }
            guard.0 = None;
            return Err(ScriptError::Spawn { command, source });
        }
        Err(_elapsed) => {
            warn!(log, "{command} timed out, killing its process group";
                "timeout_ms" => limits.timeout.as_millis() as u64,
                "duration_ms" => limits.timeout.as_millis() as u64,
                "timed_out" => true, "kind" => "script");
            if let Some(pgid) = guard.0 {
                kill_group(&mut child, pgid, limits.kill_grace, &log).await;
            }
            guard.0 = None;
            drain(&exited, drained, &name, &log).await;
            return Err(ScriptError::TimedOut {
                command,
                after: limits.timeout,
            });
        }
    };
    let duration = started.elapsed();
    drain(&exited, drained, &name, &log).await;

    let (stdout_tail, stdout_truncated) = shared.out.lock().expect("tail lock").snapshot();
    let (stderr_tail, stderr_truncated) = shared.err.lock().expect("tail lock").snapshot();
    let outcome = Outcome {
        op,
        status: Exit::from_std(status),
        duration,
        stdout_tail,
        stderr_tail,
        stdout_truncated,
        stderr_truncated,
    };
    let ms = duration.as_millis() as u64;
    // Every run is a journal entry: the script and op (the logger's), its exit
    // code (or the signal that killed it) and how long it took.
    let (exit, signal) = match outcome.status {
        Exit::Code(c) => (i64::from(c), None),
        Exit::Signal(s) => (-1, Some(s)),
    };
    match (op, outcome.status) {
        (Op::Status, _) | (_, Exit::Code(0)) => {
            debug!(log, "{command} done: {}", outcome.status;
                "ms" => ms, "duration_ms" => ms, "exit" => exit, "kind" => "script")
        }
        (_, Exit::Code(rc)) => {
            error!(log, "Return code {rc} from {}", script.display();
                "ms" => ms, "duration_ms" => ms, "exit" => exit, "kind" => "script")
        }
        (_, st) => error!(log, "{command}: {st}";
            "ms" => ms, "duration_ms" => ms, "exit" => exit, "signal" => signal, "kind" => "script"),
    }
    Ok(outcome)
}

/// Whether a `status` run says the resource is held here: heartbeat 3.0.6's
/// `we_own_resource`, applied to the run's stdout. See [`status_says_running`].
pub fn is_running(outcome: &Outcome) -> bool {
    status_says_running(&outcome.stdout_tail)
}

/// heartbeat 3.0.6's rule (`we_own_resource` in `/usr/share/heartbeat/ResourceManager`,
/// protocol notes §8.1), which runs `` case `$spath $arg status` in ``:
///
/// ```text
///   *[Nn][Oo][Tt]\ *[Rr]unning*)  not owned
///   *[Rr]unning*|*OK*)            owned
///   *)                            not owned
/// ```
///
/// So, on stdout only (stderr is not captured by the backquotes):
/// * `not ` (any case, with the space) followed anywhere later by `running`
///   or `Running` means **not** owned, even if `OK` appears too;
/// * otherwise `running`, `Running` or `OK` anywhere means owned;
/// * anything else, including empty output, means not owned.
///
/// Only the letters in brackets are case-insensitive: `RUNNING` and `ok` do
/// not count. The exit code does not count either: exit 0 with no output is
/// *not owned*, and exit 3 with `foo is running` is owned, as in 3.0.6.
/// (If stdout was longer than [`TAIL_MAX`], only its tail is matched.)
pub fn status_says_running(stdout: &str) -> bool {
    let s = stdout.as_bytes();
    let not_at = s.windows(4).position(|w| {
        w[0].eq_ignore_ascii_case(&b'n')
            && w[1].eq_ignore_ascii_case(&b'o')
            && w[2].eq_ignore_ascii_case(&b't')
            && w[3] == b' '
    });
    if let Some(i) = not_at {
        if has_running(&s[i + 4..]) {
            return false;
        }
    }
    has_running(s) || s.windows(2).any(|w| w == b"OK")
}

/// `*[Rr]unning*`.
fn has_running(s: &[u8]) -> bool {
    s.windows(7)
        .any(|w| (w[0] == b'R' || w[0] == b'r') && &w[1..] == b"unning")
}

/// The command line for logs and errors, each argument quoted for a reader
/// when it needs it (the script itself gets them unquoted).
fn command_line(script: &Path, args: &[String], op: Op) -> String {
    let mut s = script.display().to_string();
    for a in args {
        s.push(' ');
        let plain = !a.is_empty()
            && a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,+@%".contains(&b));
        if plain {
            s.push_str(a);
        } else {
            s.push('\'');
            s.push_str(&a.replace('\'', r"'\''"));
            s.push('\'');
        }
    }
    s.push(' ');
    s.push_str(op.as_str());
    s
}

async fn spawn(cmd: &mut Command, command: &str) -> Result<Child, ScriptError> {
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Ok(child) => return Ok(child),
            Err(e) if e.raw_os_error() == Some(Errno::ETXTBSY as i32) && tries < TXTBSY_RETRIES => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(10 * u64::from(tries))).await;
            }
            Err(source) => {
                return Err(ScriptError::Spawn {
                    command: command.to_owned(),
                    source,
                })
            }
        }
    }
}

/// SIGKILLs the script's process group when dropped while armed (`Some`),
/// that is when the `run` future is dropped before the script was reaped.
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0.take() {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

/// SIGTERM to the group, then SIGKILL after `grace` if any member is left.
/// Returns once the leader is reaped (or, if even SIGKILL does not end it,
/// for instance in uninterruptible sleep, after another `grace`).
async fn kill_group(child: &mut Child, pgid: Pid, grace: Duration, log: &Logger) {
    signal_group(pgid, Signal::SIGTERM, log);
    let end = Instant::now() + grace;
    loop {
        // Reap the leader first: an unreaped zombie still counts as a member.
        let leader_gone = matches!(child.try_wait(), Ok(Some(_)));
        if leader_gone && killpg(pgid, None) == Err(Errno::ESRCH) {
            return;
        }
        if Instant::now() >= end {
            warn!(log, "process group still alive {grace:?} after SIGTERM, sending SIGKILL";
                "pgid" => pgid.as_raw());
            signal_group(pgid, Signal::SIGKILL, log);
            break;
        }
        tokio::time::sleep(KILL_POLL).await;
    }
    let wait_for = grace.max(Duration::from_secs(1));
    if tokio::time::timeout(wait_for, child.wait()).await.is_err() {
        error!(log, "script survives SIGKILL; leaving it to kill_on_drop"; "pgid" => pgid.as_raw());
    }
}

fn signal_group(pgid: Pid, sig: Signal, log: &Logger) {
    match killpg(pgid, sig) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => error!(log, "cannot signal the script's process group";
            "pgid" => pgid.as_raw(), "signal" => %sig, "error" => %e),
    }
}

/// How far a pump got when told that the script has exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drained {
    /// The stream is closed: nothing more will come.
    Closed,
    /// Everything in the pipe was read, and something the script left running
    /// still holds it open: the pump goes on reading in the background.
    Open,
}

/// Tells the pumps that the script is gone, and waits until each has read what
/// its pipe holds (never for a process the script left behind to close it).
async fn drain(
    exited: &watch::Sender<bool>,
    drained: Vec<oneshot::Receiver<Drained>>,
    name: &str,
    log: &Logger,
) {
    let _ = exited.send(true);
    let mut open = false;
    for rx in drained {
        // A pump that ended without a word reached the end of its stream.
        open |= rx.await == Ok(Drained::Open);
    }
    if open {
        info!(log, "{name}: a process it left running keeps its output open; that output is logged as it comes");
    }
}

#[derive(Debug, Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// The last [`TAIL_MAX`] bytes of a stream.
#[derive(Default)]
struct Tail {
    bytes: VecDeque<u8>,
    total: u64,
}

impl Tail {
    fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        self.bytes.extend(chunk);
        let excess = self.bytes.len().saturating_sub(TAIL_MAX);
        self.bytes.drain(..excess);
    }

    fn snapshot(&self) -> (String, bool) {
        let (a, b) = self.bytes.as_slices();
        let v = [a, b].concat();
        (
            String::from_utf8_lossy(&v).into_owned(),
            self.total > TAIL_MAX as u64,
        )
    }
}

/// What the two pump tasks of one run share.
struct Shared {
    name: String,
    log: Logger,
    /// Output lines seen so far, both streams: bounds what is logged.
    lines: AtomicUsize,
    out: Mutex<Tail>,
    err: Mutex<Tail>,
}

impl Shared {
    fn tail(&self, s: Stream) -> &Mutex<Tail> {
        match s {
            Stream::Stdout => &self.out,
            Stream::Stderr => &self.err,
        }
    }

    fn log_line(&self, s: Stream, line: &[u8], cut: bool) {
        let n = self.lines.fetch_add(1, Ordering::Relaxed);
        if n < MAX_LOG_LINES {
            let text = String::from_utf8_lossy(line);
            let text = text.trim_end_matches('\r');
            let more = if cut { " [line cut]" } else { "" };
            debug!(self.log, "{}: {text}{more}", self.name; "stream" => s.as_str());
        } else if n == MAX_LOG_LINES {
            debug!(
                self.log,
                "{}: further output not logged (limit {MAX_LOG_LINES} lines per run)", self.name
            );
        }
    }
}

/// Cuts a stream into lines for the log.
#[derive(Default)]
struct Lines {
    line: Vec<u8>,
    cut: bool,
}

impl Lines {
    /// Takes one chunk: to the tail, and every complete line to the log.
    fn take(&mut self, chunk: &[u8], s: Stream, shared: &Shared) {
        shared.tail(s).lock().expect("tail lock").push(chunk);
        for piece in chunk.split_inclusive(|&b| b == b'\n') {
            let (content, ends) = match piece.strip_suffix(b"\n") {
                Some(c) => (c, true),
                None => (piece, false),
            };
            let room = MAX_LINE - self.line.len();
            if content.len() > room {
                self.line.extend_from_slice(&content[..room]);
                self.cut = true;
            } else {
                self.line.extend_from_slice(content);
            }
            if ends {
                shared.log_line(s, &self.line, self.cut);
                self.line.clear();
                self.cut = false;
            }
        }
    }

    /// The stream ended: an unfinished last line is logged too.
    fn finish(&mut self, s: Stream, shared: &Shared) {
        if !self.line.is_empty() || self.cut {
            shared.log_line(s, &self.line, self.cut);
        }
    }
}

/// Reads one stream to its end: every chunk goes to the tail, every line to
/// the log. Once `exited` says the script is gone, it reads what the pipe
/// holds without waiting ([`drain_now`]) and says how far it got on
/// `drained`; then, if the pipe is still open, it goes on as before.
async fn pump<R: AsyncRead + AsFd + Unpin>(
    mut r: R,
    s: Stream,
    shared: Arc<Shared>,
    mut exited: watch::Receiver<bool>,
    drained: oneshot::Sender<Drained>,
) {
    let mut buf = vec![0u8; 8192];
    let mut lines = Lines::default();
    let mut drained = Some(drained);
    loop {
        let read = match drained.as_ref() {
            Some(_) => {
                // The exit first: a pipe that never pauses must not hide it.
                let exit = std::pin::pin!(exited.wait_for(|e| *e));
                let more = std::pin::pin!(r.read(&mut buf));
                match futures_util::future::select(exit, more).await {
                    Either::Left(_) => None,
                    Either::Right((n, _)) => Some(n),
                }
            }
            None => Some(r.read(&mut buf).await),
        };
        let n = match read {
            None => {
                let closed = drain_now(&r, &mut buf, &mut lines, s, &shared);
                if closed {
                    // The last line is logged before `run` returns.
                    lines.finish(s, &shared);
                }
                let state = if closed {
                    Drained::Closed
                } else {
                    Drained::Open
                };
                if let Some(tx) = drained.take() {
                    let _ = tx.send(state);
                }
                if closed {
                    return;
                }
                continue;
            }
            Some(Ok(0)) => break,
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                warn!(shared.log, "{}: reading its output failed", shared.name;
                    "stream" => s.as_str(), "error" => %e);
                break;
            }
        };
        lines.take(&buf[..n], s, &shared);
    }
    lines.finish(s, &shared);
}

/// Reads what the pipe holds now, without waiting (the pipe is non-blocking),
/// at most [`DRAIN_MAX`] bytes. True if the stream reached its end.
fn drain_now<R: AsFd>(
    r: &R,
    buf: &mut [u8],
    lines: &mut Lines,
    s: Stream,
    shared: &Shared,
) -> bool {
    let mut total = 0;
    while total < DRAIN_MAX {
        match nix::unistd::read(r.as_fd(), buf) {
            Ok(0) => return true,
            Ok(n) => {
                total += n;
                lines.take(&buf[..n], s, shared);
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return false,
            Err(e) => {
                warn!(shared.log, "{}: reading its output failed", shared.name;
                    "stream" => s.as_str(), "error" => %e);
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_quotes_only_for_the_reader() {
        let args = vec![
            "10.0.0.5/24".to_owned(),
            "a b".to_owned(),
            "it's".to_owned(),
            String::new(),
        ];
        assert_eq!(
            command_line(Path::new("/r/IPaddr"), &args, Op::Start),
            r"/r/IPaddr 10.0.0.5/24 'a b' 'it'\''s' '' start"
        );
    }

    #[test]
    fn tail_keeps_the_last_bytes() {
        let mut t = Tail::default();
        t.push(&vec![b'a'; TAIL_MAX]);
        t.push(b"xyz");
        let (s, truncated) = t.snapshot();
        assert!(truncated);
        assert_eq!(s.len(), TAIL_MAX);
        assert!(s.ends_with("axyz"));
    }
}
